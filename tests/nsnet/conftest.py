"""Fixtures for the nsnet tests.

Every test gets its own name prefix (pid + counter) and a finalizer that
removes every namespace, host link and /etc/netns directory carrying that
prefix, even when the test fails.  Traffic only flows between namespaces
the test created.
"""
import itertools
import os
import shutil
import subprocess
import time

import pytest

from nsnet_util import RUN_DIR, _run, netns_names, ns_links, netns_mounts  # noqa: F401

_counter = itertools.count(1)


def _cleanup(n):
    prefix = n.prefix
    for name in netns_names(prefix):
        path = os.path.join(RUN_DIR, name)
        _run(["umount", "-l", path])
        try:
            os.unlink(path)
        except OSError:
            pass
    for ifname in ns_links():
        if ifname.startswith(n.tag):
            _run(["ip", "link", "del", ifname])
    for d in (os.listdir("/etc/netns") if os.path.isdir("/etc/netns") else []):
        if d.startswith(prefix):
            shutil.rmtree(os.path.join("/etc/netns", d), ignore_errors=True)


class Names:
    """Unique names for one test: ns("a") -> "nst<pid>x<n>-a"."""

    def __init__(self):
        n = next(_counter)
        self.prefix = "nst%dx%d-" % (os.getpid(), n)
        # Host interface names must fit in 15 bytes: a short unique tag.
        self.tag = ("h%05dx%d" % (os.getpid() % 100000, n))[-6:]

    def ns(self, suffix):
        return self.prefix + suffix

    def state(self):
        """What a failed command must leave unchanged."""
        names = netns_names(self.prefix)
        return {
            "netns": names,
            "links": {n: sorted(ns_links(n)) for n in names},
            "host_links": sorted(ns_links()),
            "mounts": netns_mounts(self.prefix),
        }


@pytest.fixture(scope="session", autouse=True)
def netns_ready():
    """Make sure /run/netns is already the shared mount ip/nsnet keep it, so
    that state snapshots do not see it appear during the first test."""
    if os.geteuid() != 0:
        pytest.skip("nsnet tests need root")
    name = "nst%d-ready" % os.getpid()
    _run(["ip", "netns", "add", name], check=True)
    _run(["ip", "netns", "del", name], check=True)


@pytest.fixture
def names(request):
    n = Names()
    request.addfinalizer(lambda: _cleanup(n))
    return n


@pytest.fixture
def nsnet(nsnet_bin):
    """Run the nsnet under test: nsnet("list", "--json", timeout=..)."""
    def run(*args, **kw):
        return _run([nsnet_bin] + [str(a) for a in args], **kw)
    return run


@pytest.fixture
def lab(nsnet, names):
    """Two namespaces a and b joined by veth t1/t2 (10.77.0.1/2 on /24)."""
    a, b = names.ns("a"), names.ns("b")
    r = nsnet("connect", a + ":t1=10.77.0.1/24", b + ":t2=10.77.0.2/24")
    assert r.returncode == 0, r.stderr
    return a, b


@pytest.fixture
def sleeper(request):
    """Start `sleep` inside a netns (via ip netns exec); killed at teardown."""
    procs = []

    def start(ns):
        p = subprocess.Popen(["ip", "netns", "exec", ns, "sleep", "60"])
        procs.append(p)
        # ip execs sleep in place, so the pid is sleep's once it is inside.
        for _ in range(200):
            try:
                if os.readlink("/proc/%d/exe" % p.pid).endswith("sleep"):
                    break
            except OSError:
                pass
            time.sleep(0.01)
        return p.pid

    def stop():
        for p in procs:
            p.kill()
            p.wait()
    request.addfinalizer(stop)
    return start
