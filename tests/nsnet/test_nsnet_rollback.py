"""All-or-nothing: failing or interrupted commands leave no namespace,
link or mount behind; non-root runs are refused with exit 4."""
import os
import signal
import subprocess
import time

from nsnet_util import RUN_DIR


def test_bad_second_address_rolls_back(nsnet, names):
    a, b = names.ns("a"), names.ns("b")
    before = names.state()
    r = nsnet("connect", a + ":t1=10.85.0.1/24", b + ":t2=ff02::1/64")
    assert r.returncode == 1
    assert names.state() == before


def test_bad_second_address_keeps_existing_namespace_clean(nsnet, names):
    a, b = names.ns("a"), names.ns("b")
    assert nsnet("add", b).returncode == 0
    before = names.state()
    r = nsnet("connect", a + ":t1=10.85.0.1/24", b + ":t2=ff02::1/64")
    assert r.returncode == 1
    # The veth end inside the surviving namespace is gone right away.
    assert names.state() == before


def test_existing_interface_name_rolls_back(nsnet, lab, names):
    _, b = lab
    c = names.ns("c")
    before = names.state()
    r = nsnet("connect", c + ":t9=10.86.0.1/24", b + ":t2=10.86.0.2/24")
    assert r.returncode == 6
    assert "already exists" in r.stderr
    assert names.state() == before


def test_sixteen_byte_name_touches_nothing(nsnet, names):
    a, b = names.ns("a"), names.ns("b")
    before = names.state()
    r = nsnet("connect", a + ":t1=10.87.0.1/24", b + ":abcdefghijklmnop=10.87.0.2/24")
    assert r.returncode == 2
    assert "too long" in r.stderr
    assert names.state() == before


def test_add_several_is_all_or_nothing(nsnet, names):
    a, b = names.ns("a"), names.ns("b")
    assert nsnet("add", b).returncode == 0
    before = names.state()
    assert nsnet("add", a, b).returncode == 6
    assert names.state() == before


def test_bridge_failure_rolls_back(nsnet, names):
    hub = names.ns("hub")
    before = names.state()
    r = nsnet("bridge", hub, names.ns("m1") + ":e0=10.88.0.1/24",
              names.ns("m2") + ":e0=ff02::1/64")
    assert r.returncode == 1
    assert names.state() == before


def _interrupt(nsnet_bin, names, sig):
    a, b = names.ns("a"), names.ns("b")
    env = dict(os.environ, NSNET_TEST_STEP_DELAY_MS="300")
    p = subprocess.Popen([nsnet_bin, "connect", a + ":t1=10.89.0.1/24", b + ":t2=10.89.0.2/24"],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Wait until the command is midway: its first namespace exists.
    for _ in range(500):
        if os.path.exists(os.path.join(RUN_DIR, a)) or p.poll() is not None:
            break
        time.sleep(0.01)
    p.send_signal(sig)
    out, err = p.communicate(timeout=30)
    return p.returncode, err


def test_sigterm_midway_rolls_back(nsnet_bin, names):
    before = names.state()
    rc, err = _interrupt(nsnet_bin, names, signal.SIGTERM)
    assert rc == 128 + signal.SIGTERM
    assert "interrupted by SIGTERM, rolled back" in err
    assert names.state() == before


def test_sigint_midway_rolls_back(nsnet_bin, names):
    before = names.state()
    rc, _ = _interrupt(nsnet_bin, names, signal.SIGINT)
    assert rc == 128 + signal.SIGINT
    assert names.state() == before


def _as_nobody(nsnet_bin, *args):
    return subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                           nsnet_bin] + list(args), capture_output=True, text=True, timeout=30)


def test_non_root_add_exits_4(nsnet_bin, names):
    before = names.state()
    r = _as_nobody(nsnet_bin, "add", names.ns("a"))
    assert r.returncode == 4
    assert r.stderr.startswith("nsnet: add %s: need root" % names.ns("a"))
    assert names.state() == before


def test_non_root_connect_exits_4(nsnet_bin, names):
    before = names.state()
    r = _as_nobody(nsnet_bin, "connect", names.ns("a") + ":t1=10.0.0.1/24",
                   names.ns("b") + ":t2=10.0.0.2/24")
    assert r.returncode == 4
    assert "need root" in r.stderr
    assert names.state() == before


def test_non_root_ping_exits_4(nsnet_bin, lab):
    a, _ = lab
    r = _as_nobody(nsnet_bin, "ping", a, "10.77.0.2", "-c", "1")
    assert r.returncode == 4


def test_non_root_list_works(nsnet_bin, lab):
    a, _ = lab
    r = _as_nobody(nsnet_bin, "list")
    assert r.returncode == 0
    assert a in r.stdout
