"""Named namespaces: add/del/list/exec/attach/identify/pids/ns, and
interoperation with `ip netns` in both directions."""
import json
import os
import shutil
import subprocess

from nsnet_util import RUN_DIR, ns_links, netns_mounts


def ip(*args):
    return subprocess.run(["ip"] + list(args), capture_output=True, text=True, timeout=30)


def test_add_is_visible_to_ip(nsnet, names):
    a = names.ns("a")
    assert nsnet("add", a).returncode == 0
    assert a in ip("netns", "list").stdout.split()


def test_add_brings_lo_up(nsnet, names):
    a = names.ns("a")
    assert nsnet("add", a).returncode == 0
    assert "UP" in ns_links(a)["lo"]["flags"]


def test_add_no_lo_keeps_lo_down_like_ip(nsnet, names):
    a = names.ns("a")
    assert nsnet("add", "--no-lo", a).returncode == 0
    assert "UP" not in ns_links(a)["lo"]["flags"]


def test_add_is_an_nsfs_bind_mount_like_ip(nsnet, names):
    a, b = names.ns("a"), names.ns("b")
    assert nsnet("add", a).returncode == 0
    assert ip("netns", "add", b).returncode == 0
    mounts = netns_mounts(names.prefix)
    mine = [m for m in mounts if " %s/%s " % (RUN_DIR, a) in m]
    theirs = [m for m in mounts if " %s/%s " % (RUN_DIR, b) in m]
    assert len(mine) == 1 and len(theirs) == 1
    assert mine[0].split(" - ")[1].split()[0] == "nsfs"
    assert theirs[0].split(" - ")[1].split()[0] == "nsfs"


def test_add_existing_exits_6(nsnet, names):
    a = names.ns("a")
    assert nsnet("add", a).returncode == 0
    r = nsnet("add", a)
    assert r.returncode == 6
    assert "already exists" in r.stderr


def test_add_exist_ok(nsnet, names):
    a = names.ns("a")
    assert nsnet("add", a).returncode == 0
    assert nsnet("add", "--exist-ok", a).returncode == 0


def test_ip_namespace_usable_by_nsnet(nsnet, names):
    a = names.ns("a")
    assert ip("netns", "add", a).returncode == 0
    listed = json.loads(nsnet("list", "--json").stdout)
    assert a in [e["name"] for e in listed]
    r = nsnet("exec", a, "--", "ip", "-j", "link")
    assert r.returncode == 0, r.stderr
    assert [l["ifname"] for l in json.loads(r.stdout)] == ["lo"]


def test_nsnet_namespace_usable_by_ip_exec(nsnet, names):
    a = names.ns("a")
    assert nsnet("add", a).returncode == 0
    r = ip("netns", "exec", a, "ip", "-j", "link")
    assert r.returncode == 0, r.stderr
    assert [l["ifname"] for l in json.loads(r.stdout)] == ["lo"]


def test_del_removes_ip_namespace(nsnet, names):
    a = names.ns("a")
    assert ip("netns", "add", a).returncode == 0
    assert nsnet("del", a).returncode == 0
    assert a not in ip("netns", "list").stdout.split()
    assert netns_mounts(names.prefix) == netns_mounts("\0")


def test_del_several_checks_all_first(nsnet, names):
    a, b = names.ns("a"), names.ns("b")
    assert nsnet("add", a).returncode == 0
    r = nsnet("del", a, b)
    assert r.returncode == 3
    assert os.path.exists(os.path.join(RUN_DIR, a))


def test_del_all_in_private_mount_namespace(nsnet_bin):
    # --all removes every name, so it runs on a private /run/netns.
    script = ('mount -t tmpfs nsnet-test %s && %s add x y && %s del --all && ls -A %s'
              % (RUN_DIR, nsnet_bin, nsnet_bin, RUN_DIR))
    r = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-ec", script],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""


def test_stale_file_listed_and_deleted(nsnet, names):
    a = names.ns("stale")
    open(os.path.join(RUN_DIR, a), "w").close()
    entry = [e for e in json.loads(nsnet("list", "--json").stdout) if e["name"] == a][0]
    assert entry["stale"] is True
    assert nsnet("del", a).returncode == 0
    assert not os.path.exists(os.path.join(RUN_DIR, a))


def test_list_shows_links_and_addresses(nsnet, lab):
    a, _ = lab
    entry = [e for e in json.loads(nsnet("list", "--json").stdout) if e["name"] == a][0]
    t1 = [l for l in entry["links"] if l["name"] == "t1"][0]
    assert t1["kind"] == "veth" and t1["up"] is True
    assert t1["addresses"] == ["10.77.0.1/24"]
    assert entry["inode"] == os.stat(os.path.join(RUN_DIR, a)).st_ino


def test_list_text_has_header_and_row(nsnet, lab):
    a, _ = lab
    lines = nsnet("list").stdout.splitlines()
    assert lines[0].split() == ["NAME", "ID", "INODE", "PIDS", "LINKS"]
    row = [l for l in lines if l.startswith(a + " ")][0]
    assert "t1=10.77.0.1/24" in row


def test_exec_runs_in_namespace_with_its_sys(nsnet, lab):
    a, _ = lab
    r = nsnet("exec", a, "--", "ls", "/sys/class/net")
    assert r.returncode == 0, r.stderr
    assert sorted(r.stdout.split()) == ["lo", "t1"]


def test_exec_returns_child_status(nsnet, names):
    a = names.ns("a")
    assert nsnet("add", a).returncode == 0
    assert nsnet("exec", a, "--", "sh", "-c", "exit 7").returncode == 7


def test_exec_killed_child_gives_128_plus_signal(nsnet, names):
    a = names.ns("a")
    assert nsnet("add", a).returncode == 0
    assert nsnet("exec", a, "--", "sh", "-c", "kill -TERM $$").returncode == 143


def test_exec_leaks_no_fds(nsnet, names):
    a = names.ns("a")
    assert nsnet("add", a).returncode == 0
    r = nsnet("exec", a, "--", "sh", "-c", "ls /proc/$$/fd")
    assert sorted(r.stdout.split()) == ["0", "1", "2"]


def test_exec_binds_etc_netns(nsnet, names, request):
    a = names.ns("a")
    assert nsnet("add", a).returncode == 0
    mine = os.path.join("/etc/netns", a)

    def cleanup():
        shutil.rmtree(mine, ignore_errors=True)
        if not existed:
            os.rmdir("/etc/netns")
    existed = os.path.isdir("/etc/netns")
    request.addfinalizer(cleanup)
    os.makedirs(mine)
    with open(os.path.join("/etc/netns", a, "hosts"), "w") as f:
        f.write("10.1.2.3 nsnet-test-host\n")
    r = nsnet("exec", a, "cat", "/etc/hosts")
    assert r.stdout == "10.1.2.3 nsnet-test-host\n"
    with open("/etc/hosts") as f:
        assert "nsnet-test-host" not in f.read()


def test_exec_missing_command_exits_127(nsnet, names):
    a = names.ns("a")
    assert nsnet("add", a).returncode == 0
    assert nsnet("exec", a, "--", "/nonexistent/cmd").returncode == 127


def test_pids_and_identify_agree_with_ip(nsnet, names, sleeper):
    a = names.ns("a")
    assert nsnet("add", a).returncode == 0
    pid = sleeper(a)
    assert str(pid) in nsnet("pids", a).stdout.split()
    assert nsnet("pids", a).stdout.split() == ip("netns", "pids", a).stdout.split()
    assert nsnet("identify", pid).stdout.split() == [a]
    assert ip("netns", "identify", str(pid)).stdout.split() == [a]


def test_identify_strict_without_match_exits_3(nsnet):
    r = nsnet("identify", "--strict", os.getpid())
    assert r.returncode == 3


def test_attach_names_a_process_netns(nsnet, names, sleeper):
    a, b = names.ns("a"), names.ns("b")
    assert nsnet("add", a).returncode == 0
    pid = sleeper(a)
    assert nsnet("attach", b, pid).returncode == 0
    assert os.stat(os.path.join(RUN_DIR, b)).st_ino == os.stat("/proc/%d/ns/net" % pid).st_ino
    assert b in ip("netns", "list").stdout.split()


def test_ns_matches_proc(nsnet, names, sleeper):
    a = names.ns("a")
    assert nsnet("add", a).returncode == 0
    pid = sleeper(a)
    rows = json.loads(nsnet("ns", "--json", pid).stdout)
    types = sorted(os.listdir("/proc/%d/ns" % pid))
    assert sorted(r["type"] for r in rows) == types
    for r in rows:
        path = "/proc/%d/ns/%s" % (pid, r["type"])
        assert r["inode"] == os.stat(path).st_ino
        assert r["link"] == os.readlink(path)
    net = [r for r in rows if r["type"] == "net"][0]
    assert net["name"] == a


def test_ns_same_as_init(nsnet):
    rows = json.loads(nsnet("ns", "--json", os.getpid()).stdout)
    for r in rows:
        try:
            init = os.stat("/proc/1/ns/" + r["type"]).st_ino
        except PermissionError:
            assert r["same_as_init"] is None
            continue
        assert r["same_as_init"] == (init == r["inode"])


def test_ns_text_output(nsnet, names, sleeper):
    a = names.ns("a")
    assert nsnet("add", a).returncode == 0
    pid = sleeper(a)
    lines = nsnet("ns", pid).stdout.splitlines()
    assert lines[0].split() == ["TYPE", "INODE", "SAME_AS_INIT", "NAME"]
    net = [l.split() for l in lines if l.startswith("net ")][0]
    assert net[1] == str(os.stat("/proc/%d/ns/net" % pid).st_ino)
    assert net[-1] == a


def test_parallel_adds_make_no_duplicate_mounts(nsnet_bin, names):
    procs = [subprocess.Popen([nsnet_bin, "add", names.ns("p%d" % i)]) for i in range(20)]
    assert [p.wait(timeout=60) for p in procs] == [0] * 20
    mounts = netns_mounts(names.prefix)
    for i in range(20):
        path = " %s/%s " % (RUN_DIR, names.ns("p%d" % i))
        assert len([m for m in mounts if path in m]) == 1
