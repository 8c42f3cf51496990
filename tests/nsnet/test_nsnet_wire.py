"""Wiring: connect, ping, link/addr/route, disconnect, bridge."""
import json
import subprocess
import time

import pytest

from nsnet_util import ns_addrs, ns_links


def wait_gone(ns, ifname, timeout=5.0):
    end = time.monotonic() + timeout
    while ifname in ns_links(ns):
        if time.monotonic() > end:
            return False
        time.sleep(0.05)
    return True


def test_connect_creates_the_lab(lab):
    a, b = lab
    assert ns_links(a)["t1"]["operstate"] == "UP"
    assert ns_links(b)["t2"]["operstate"] == "UP"
    assert ns_addrs(a, "t1") == ["10.77.0.1/24"]
    assert ns_addrs(b, "t2") == ["10.77.0.2/24"]
    assert "UP" in ns_links(a)["lo"]["flags"]


def test_connect_prints_summary(nsnet, names):
    a, b = names.ns("a"), names.ns("b")
    r = nsnet("connect", a + ":t1=10.78.0.1/24", b + ":t2=10.78.0.2/24")
    assert r.returncode == 0
    assert r.stdout.startswith("connected %s:t1=10.78.0.1/24 <-> %s:t2=10.78.0.2/24" % (a, b))


def test_lab_ping_no_loss(nsnet, lab):
    a, _ = lab
    r = nsnet("ping", a, "10.77.0.2", "-c", "3", "-i", "0.2", "-W", "5")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "3 packets transmitted, 3 received, 0% packet loss" in r.stdout


def test_lab_ping_json(nsnet, lab):
    _, b = lab
    r = nsnet("ping", "--json", b, "10.77.0.1", "-c", "2", "-i", "0.2")
    assert r.returncode == 0
    doc = json.loads(r.stdout)
    assert (doc["transmitted"], doc["received"], doc["loss_pct"]) == (2, 2, 0)
    assert doc["rtt_ms"]["min"] <= doc["rtt_ms"]["avg"] <= doc["rtt_ms"]["max"]


def test_ping_unreachable_exits_1(nsnet, lab):
    a, _ = lab
    r = nsnet("ping", a, "10.77.0.99", "-c", "1", "-W", "1", timeout=15)
    assert r.returncode == 1
    assert "1 packets transmitted, 0 received, 100% packet loss" in r.stdout


def test_ping_ipv6(nsnet, names):
    a, b = names.ns("a"), names.ns("b")
    r = nsnet("connect", a + ":v1=fd00:77::1/64", b + ":v2=fd00:77::2/64")
    assert r.returncode == 0, r.stderr
    r = nsnet("ping", a, "fd00:77::2", "-c", "2", "-i", "0.2")
    assert r.returncode == 0, r.stdout + r.stderr


def test_connect_multiple_addresses(nsnet, names):
    a, b = names.ns("a"), names.ns("b")
    r = nsnet("connect", a + ":t1=10.79.0.1/24,fd00:79::1/64", b + ":t2=10.79.0.2/24")
    assert r.returncode == 0, r.stderr
    assert ns_addrs(a, "t1") == ["10.79.0.1/24", "fd00:79::1/64"]


def test_connect_mtu(nsnet, names):
    a, b = names.ns("a"), names.ns("b")
    assert nsnet("connect", "--mtu", "1400", a + ":t1", b + ":t2").returncode == 0
    assert ns_links(a)["t1"]["mtu"] == 1400
    assert ns_links(b)["t2"]["mtu"] == 1400


def test_connect_into_existing_namespace(nsnet, names):
    a, b = names.ns("a"), names.ns("b")
    assert nsnet("add", b).returncode == 0
    r = nsnet("connect", a + ":t1=10.80.0.1/24", b + ":t2=10.80.0.2/24")
    assert r.returncode == 0, r.stderr
    assert "created netns %s)" % a in r.stdout


def test_connect_host_end(nsnet, names):
    a, host_if = names.ns("a"), names.tag + "h"
    assert nsnet("connect", ".:" + host_if, a + ":t1").returncode == 0
    assert ns_links()[host_if]["link_type"] == "ether"
    assert nsnet("disconnect", ".:" + host_if).returncode == 0
    assert wait_gone(None, host_if)


def test_disconnect_removes_both_ends(nsnet, lab):
    a, b = lab
    assert nsnet("disconnect", a + ":t1").returncode == 0
    assert "t1" not in ns_links(a)
    assert wait_gone(b, "t2")


def test_disconnect_refuses_non_veth(nsnet, lab):
    a, _ = lab
    r = nsnet("disconnect", a + ":lo")
    assert r.returncode == 2
    assert "lo" in ns_links(a)


def test_link_add_addr_route(nsnet, names):
    a, b = names.ns("a"), names.ns("b")
    assert nsnet("add", a, b).returncode == 0
    assert nsnet("link", "add", a + ":x1", b + ":x2").returncode == 0
    assert nsnet("addr", "add", a + ":x1", "10.81.0.1/24").returncode == 0
    assert nsnet("addr", "add", b + ":x2", "10.81.0.2/24").returncode == 0
    assert nsnet("addr", "add", b + ":x2", "10.82.0.2/24").returncode == 0
    assert nsnet("route", "add", a, "10.82.0.0/24", "via", "10.81.0.2").returncode == 0
    r = nsnet("ping", a, "10.82.0.2", "-c", "1", "-W", "5")
    assert r.returncode == 0, r.stdout + r.stderr


def test_route_default_dev(nsnet, lab):
    a, _ = lab
    assert nsnet("route", "add", a, "default", "dev", "t1").returncode == 0
    r = json_cmd(["ip", "-n", a, "-j", "route", "show", "default"])
    assert r[0]["dev"] == "t1"


def test_route_existing_exits_6(nsnet, lab):
    a, _ = lab
    assert nsnet("route", "add", a, "10.90.0.0/16", "via", "10.77.0.2").returncode == 0
    assert nsnet("route", "add", a, "10.90.0.0/16", "via", "10.77.0.2").returncode == 6


def test_route_unknown_device_exits_3(nsnet, lab):
    a, _ = lab
    assert nsnet("route", "add", a, "10.90.0.0/16", "dev", "nope").returncode == 3


def test_addr_add_duplicate_exits_6(nsnet, lab):
    a, _ = lab
    r = nsnet("addr", "add", a + ":t1", "10.77.0.1/24")
    assert r.returncode == 6
    assert "already" in r.stderr


def test_link_del_removes_pair(nsnet, lab):
    a, b = lab
    assert nsnet("link", "del", b + ":t2").returncode == 0
    assert wait_gone(a, "t1")


def test_link_del_missing_interface_exits_3(nsnet, lab):
    a, _ = lab
    assert nsnet("link", "del", a + ":nope").returncode == 3


def test_kernel_error_text_is_shown(nsnet, names):
    a, b = names.ns("a"), names.ns("b")
    r = nsnet("connect", a + ":t1=10.83.0.1/24", b + ":t2=ff02::1/64")
    assert r.returncode == 1
    assert len(r.stderr.splitlines()) == 1
    assert r.stderr.startswith("nsnet: connect %s:t2=ff02::1/64: " % b)
    assert "(" in r.stderr  # the kernel's extended-ack message


def json_cmd(argv):
    return json.loads(subprocess.run(argv, capture_output=True, text=True, check=True).stdout)


@pytest.fixture
def segment(nsnet, names):
    hub = names.ns("hub")
    members = [names.ns("m%d" % i) for i in (1, 2, 3)]
    specs = ["%s:e0=10.84.0.%d/24" % (m, i + 1) for i, m in enumerate(members)]
    r = nsnet("bridge", hub, *specs)
    assert r.returncode == 0, r.stderr
    return hub, members


def test_bridge_all_ping_all(nsnet, segment):
    _, members = segment
    for src in members:
        for i in range(len(members)):
            r = nsnet("ping", "-q", src, "10.84.0.%d" % (i + 1), "-c", "1", "-W", "5")
            assert r.returncode == 0, (src, i, r.stdout, r.stderr)


def test_bridge_hub_holds_bridge_and_ports(segment):
    hub, _ = segment
    links = ns_links(hub)
    assert sorted(links) == ["br0", "lo", "port1", "port2", "port3"]
    assert all(links["port%d" % i]["master"] == "br0" for i in (1, 2, 3))


def test_bridge_del_leaves_nothing(nsnet, names, segment):
    hub, members = segment
    assert nsnet("bridge", "del", hub).returncode == 0
    assert hub not in names.state()["netns"]
    for m in members:
        assert sorted(ns_links(m)) == ["lo"]


def test_bridge_existing_hub_exits_6(nsnet, names, segment):
    hub, _ = segment
    r = nsnet("bridge", hub, names.ns("m9") + ":e0=10.84.0.9/24")
    assert r.returncode == 6
    assert names.ns("m9") not in names.state()["netns"]


def test_bridge_del_refuses_plain_namespace(nsnet, lab):
    a, _ = lab
    assert nsnet("bridge", "del", a).returncode == 3
    assert "t1" in ns_links(a)
