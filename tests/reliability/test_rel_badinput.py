"""Bad input, table-driven, for every program: each class of bad argument
(malformed branch specs, missing and duplicate branches, names with `..`,
over-long names and paths, non-numeric or dead PIDs, 16-byte interface
names, non-root runs, ...) with its expected one-line message and exit
code; afterwards nothing was created, mounted or frozen.

unionfsctl and unionfs-convert are covered when they are built, and skipped
cleanly otherwise."""
import os
import re
import subprocess

import pytest

from relutil import ro_snapshot, write
from util import mounts_under

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
LONG_NAME = "n" * 300            # one component over NAME_MAX
V1 = "/sys/fs/cgroup/freezer"
V2_CANDIDATES = ("/sys/fs/cgroup/unified", "/sys/fs/cgroup")


def dead_pid():
    p = subprocess.Popen(["true"])
    p.wait()
    return str(p.pid)


def run(argv, timeout=20):
    return subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=timeout)


def check_one_line(r, prog, pattern, code):
    lines = r.stderr.splitlines()
    assert r.returncode == code, "exit %d, expected %d; stderr: %s" % (r.returncode, code,
                                                                        r.stderr)
    assert len(lines) == 1, "expected one line on stderr, got: %r" % r.stderr
    assert lines[0].startswith(prog + ": "), lines[0]
    assert re.search(pattern, lines[0]), "%r does not match %r" % (lines[0], pattern)


def need_binary(path):
    if not os.access(path, os.X_OK):
        pytest.skip("%s is not built" % os.path.basename(path))


# --------------------------------------------------------------------------
# unionfs

def unionfs_cases(w):
    """name -> (args, message pattern); all exit 1 per the contract."""
    a, b, mnt, f = w + "/a", w + "/b", w + "/mnt", w + "/file"
    deep = a + "/x" * 2100  # over PATH_MAX in total
    return {
        "missing-branch": ([a + ":" + w + "/nope", mnt], r"nope.*No such file"),
        "branch-is-a-file": ([a + ":" + f, mnt], r"file"),
        "missing-mountpoint": ([a + ":" + b, w + "/nomnt"], r"nomnt"),
        "no-branches": ([mnt], r"mountpoint|branch"),
        "bad-mode-word": ([a + "=XX:" + b, mnt], r"XX"),
        "empty-mode-word": ([a + "=:" + b, mnt], r"mode"),
        "duplicate-branch": ([a + ":" + a, mnt], r"twice"),
        "duplicate-via-dotdot": ([a + ":" + b + "/../a", mnt], r"twice"),
        "duplicate-via-slash": ([a + ":" + a + "/", mnt], r"twice"),
        "dotdot-to-missing": ([a + ":" + b + "/../nope", mnt], r"No such file"),
        "over-long-branch-name": ([a + "/" + LONG_NAME + ":" + b, mnt], r"too long"),
        "over-long-branch-path": ([deep + ":" + b, mnt], r"too long"),
        "over-long-mountpoint": ([a + ":" + b, w + "/" + LONG_NAME], r"too long"),
        "mountpoint-inside-branch": ([a + ":" + b, a + "/inner"], r"inside|within"),
        "branch-inside-mountpoint": ([mnt + "/sub:" + b, mnt], r"inside|within"),
        "unknown-option": (["-o", "no_such_option", a + ":" + b, mnt], r"no_such_option"),
        "bad-cache-value": (["-o", "cache=bogus", a + ":" + b, mnt], r"cache"),
        "bad-whiteout-value": (["-o", "whiteout=bogus", a + ":" + b, mnt], r"whiteout"),
        "non-numeric-max-files": (["-o", "max_files=abc", a + ":" + b, mnt], r"max_files"),
        "non-numeric-threads": (["-o", "threads=abc", a + ":" + b, mnt], r"threads"),
        "extra-argument": ([a + ":" + b, mnt, "extra"], r"extra"),
        "relaxed-permissions-as-root": (["-o", "relaxed_permissions", a + ":" + b, mnt],
                                        r"relaxed_permissions"),
    }


UNIONFS_CASES = sorted(unionfs_cases("/w"))
@pytest.fixture
def ufs_tree(workdir):
    for d in ("a", "a/inner", "b", "mnt", "mnt/sub"):
        os.mkdir(os.path.join(workdir, d))
    os.chmod(os.path.join(workdir, "a"), 0o700)
    write(os.path.join(workdir, "file"), b"x")
    write(os.path.join(workdir, "a/data"), b"data")
    return workdir


def daemons_in(workdir):
    out = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    if workdir.encode() in f.read():
                        out.append(int(pid))
            except OSError:
                pass
    return out


def run_unionfs(unionfs_bin, args, workdir, prefix=()):
    """Run a unionfs command line that must fail; kill anything it leaves."""
    argv = list(prefix) + [unionfs_bin, "-f"] + args
    try:
        r = run(argv, timeout=10)
    except subprocess.TimeoutExpired:
        r = None
    left, running = mounts_under(workdir), daemons_in(workdir)
    for pid in running:
        os.kill(pid, 9)
    for m in left:
        subprocess.run(["fusermount3", "-u", "-z", m], stderr=subprocess.DEVNULL)
    assert r is not None, "unionfs kept running (it mounted %s)" % left
    assert not left and not running, "mounted anyway: %s" % left
    return r


@pytest.mark.parametrize("case", UNIONFS_CASES)
def test_unionfs_bad_input(unionfs_bin, ufs_tree, need_root, case):
    args, pattern = unionfs_cases(ufs_tree)[case]
    before = ro_snapshot(ufs_tree)
    r = run_unionfs(unionfs_bin, args, ufs_tree)
    check_one_line(r, "unionfs", pattern, 1)
    assert ro_snapshot(ufs_tree) == before, "the branches were changed"


def test_unionfs_non_root_unreadable_branch(unionfs_bin, ufs_tree, need_root):
    w = ufs_tree
    before = ro_snapshot(w)
    r = run_unionfs(unionfs_bin, [w + "/a:" + w + "/b", w + "/mnt"], w, prefix=NOBODY)
    check_one_line(r, "unionfs", r"Permission denied", 1)
    assert ro_snapshot(w) == before


# --------------------------------------------------------------------------
# nsnet

def netns_state():
    try:
        names = sorted(os.listdir("/run/netns"))
    except FileNotFoundError:
        names = []
    links = run(["ip", "-o", "link", "show"]).stdout
    return names, sorted(line.split(":")[1].strip().split("@")[0] for line in links.splitlines())


def nsnet_cases(tag):
    ns = "rel%s" % tag
    return {
        "name-with-slash": (["add", "a/b"], r"invalid netns name", 2),
        "name-dotdot": (["add", ".."], r"invalid netns name", 2),
        "name-dotdot-path": (["add", "../" + ns], r"invalid netns name", 2),
        "name-empty": (["add", ""], r"invalid netns name", 2),
        "name-too-long": (["add", "n" * 256], r"too long", 2),
        "ifname-16-bytes": (["connect", ns + "a:" + "i" * 16 + "=10.9.0.1/24",
                             ns + "b:t2=10.9.0.2/24"], r"too long", 2),
        "ifname-16-bytes-link": (["link", "add", ns + "a:" + "i" * 16, ns + "b:t2"],
                                 r"too long", 2),
        "pid-not-numeric": (["attach", ns, "12ab"], r"invalid PID", 2),
        "pid-zero": (["ns", "0"], r"invalid PID", 2),
        "pid-dead-attach": (["attach", ns, "{dead}"], r"no such process", 3),
        "pid-dead-ns": (["ns", "{dead}"], r"no such process", 3),
        "bad-cidr": (["connect", ns + "a:t1=10.9.0.300/24", ns + "b:t2=10.9.0.2/24"],
                     r"invalid address", 2),
        "missing-netns": (["del", ns + "missing"], r"no such network namespace", 3),
        "bad-mtu": (["connect", ns + "a:t1", ns + "b:t2", "--mtu", "abc"], r"MTU", 2),
    }


NSNET_CASES = sorted(nsnet_cases("x"))


@pytest.mark.parametrize("case", NSNET_CASES)
def test_nsnet_bad_input(nsnet_bin, need_root, case):
    need_binary(nsnet_bin)
    args, pattern, code = nsnet_cases("%d" % os.getpid())[case]
    dead = dead_pid()
    args = [a.replace("{dead}", dead) for a in args]
    before = netns_state()
    r = run([nsnet_bin] + args)
    check_one_line(r, "nsnet", pattern, code)
    assert netns_state() == before, "namespaces or links changed"


def test_nsnet_non_root_creates_nothing(nsnet_bin, need_root):
    need_binary(nsnet_bin)
    before = netns_state()
    r = run(NOBODY + [nsnet_bin, "add", "rel%dnobody" % os.getpid()])
    check_one_line(r, "nsnet", r"need root", 4)
    assert netns_state() == before


# --------------------------------------------------------------------------
# cgfreeze

def cgroup_roots():
    roots = [V1] if os.path.isdir(V1) else []
    for cand in V2_CANDIDATES:
        if os.path.exists(os.path.join(cand, "cgroup.controllers")):
            roots.append(cand)
            break
    return roots


def cgroup_state():
    """Every group directory and every frozen group, in both hierarchies."""
    groups, frozen = [], []
    for root in cgroup_roots():
        for dirpath, dirnames, _files in os.walk(root):
            groups.append(dirpath)
            for name, value in (("freezer.state", "FROZEN"), ("cgroup.freeze", "1")):
                try:
                    with open(os.path.join(dirpath, name)) as f:
                        if f.read().strip() == value:
                            frozen.append(dirpath)
                except OSError:
                    pass
    return sorted(groups), sorted(frozen)


def cgfreeze_cases(tag):
    g = "rel%s" % tag
    return {
        "name-dotdot": (["create", ".."], r"invalid group name", 2),
        "name-dotdot-inside": (["create", g + "/../x"], r"invalid group name", 2),
        "name-too-long": (["create", LONG_NAME], r"invalid group name|too long", 2),
        "pid-not-numeric": (["create", g, "12ab"], r"invalid PID", 2),
        "pid-dead": (["create", g, "{dead}"], r"no such process", 3),
        "add-pid-dead": (["add", g + "missing", "{dead}"], r"no such (group|process)", 3),
        "freeze-missing-group": (["freeze", g + "missing"], r"no such group", 3),
        "thaw-missing-group": (["thaw", g + "missing"], r"no such group", 3),
        "bad-timeout": (["-t", "soon", "freeze", g], r"timeout", 2),
        "bad-mode": (["--mode", "v3", "freeze", g], r"mode", 2),
        "non-root-create": (["create", g + "nobody"], r"need root", 4),
        "non-root-freeze": (["freeze", g + "nobody"], r"need root", 4),
    }


CGFREEZE_CASES = sorted(cgfreeze_cases("x"))


@pytest.mark.parametrize("case", CGFREEZE_CASES)
def test_cgfreeze_bad_input(cgfreeze_bin, need_root, case):
    need_binary(cgfreeze_bin)
    if not cgroup_roots():
        pytest.skip("no cgroup hierarchy")
    args, pattern, code = cgfreeze_cases("%d" % os.getpid())[case]
    dead = dead_pid()
    args = [a.replace("{dead}", dead) for a in args]
    prefix = NOBODY if case.startswith("non-root") else []
    before = cgroup_state()
    r = run(prefix + [cgfreeze_bin] + args)
    check_one_line(r, "cgfreeze", pattern, code)
    assert cgroup_state() == before, "a cgroup was created, removed or frozen"


# --------------------------------------------------------------------------
# unionfsctl (needs a mounted union for most cases)

@pytest.fixture
def ctl(builddir, mount_union):
    path = os.path.join(builddir, "fs", "unionfsctl")
    need_binary(path)
    u = mount_union([("rw1", "RW"), ("ro1", "RO")])
    return path, u


def ctl_cases(u, w):
    m = u.m()
    return {
        "missing-path": (["branches", w + "/nope"], r"No such file", 3),
        "not-a-unionfs": (["branches", w], r"not a unionfs|unionfs", 5),
        "bad-debug-word": (["-d", "maybe", m], r"maybe", 2),
        "no-command": ([m], r"nothing to do", 2),
        "add-missing-branch": (["add", m, w + "/nope"], r"nope|No such file", 3),
        "add-bad-mode": (["add", m, u.b["ro1"] + "=XX"], r"XX|mode", 2),
        "add-duplicate-branch": (["add", m, u.b["ro1"]], r"exists|already|twice", 6),
        "add-bad-index": (["add", m, w + "/extra", "--at", "abc"], r"abc|index", 2),
        "remove-out-of-range": (["remove", m, "17"], r"17|no such branch", 3),
        "mode-bad-word": (["mode", m, "0", "sideways"], r"sideways|ro or rw", 2),
    }


CTL_CASES = sorted(["missing-path", "not-a-unionfs", "bad-debug-word", "no-command",
                    "add-missing-branch", "add-bad-mode", "add-duplicate-branch",
                    "add-bad-index", "remove-out-of-range", "mode-bad-word"])


def ctl_state(ctl_bin, u):
    r = run([ctl_bin, "branches", "--json", u.m()])
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.mark.parametrize("case", CTL_CASES)
def test_unionfsctl_bad_input(ctl, workdir, need_root, case):
    ctl_bin, u = ctl
    os.mkdir(workdir + "/extra")
    args, pattern, code = ctl_cases(u, workdir)[case]
    before = ctl_state(ctl_bin, u)
    r = run([ctl_bin] + args)
    check_one_line(r, "unionfsctl", pattern, code)
    assert ctl_state(ctl_bin, u) == before, "the branch list changed"


def test_unionfsctl_non_root_change_refused(ctl, need_root):
    ctl_bin, u = ctl
    before = ctl_state(ctl_bin, u)
    r = run(NOBODY + [ctl_bin, "mode", u.m(), "1", "rw"])
    check_one_line(r, "unionfsctl", r"denied|root", 4)
    assert ctl_state(ctl_bin, u) == before


# --------------------------------------------------------------------------
# unionfs-convert

@pytest.fixture
def convert(builddir, workdir):
    path = os.path.join(builddir, "fs", "unionfs-convert")
    need_binary(path)
    br = os.path.join(workdir, "branch")
    os.makedirs(br + "/.unionfs/dir")
    write(br + "/.unionfs/dir/gone_HIDDEN~", b"")
    os.makedirs(br + "/dir")
    write(br + "/dir/kept", b"kept")
    write(workdir + "/file", b"x")
    return path, br


def convert_cases(w, br):
    return {
        "missing-to": ([br], r"--to", 2),
        "bad-to": (["--to", "bogus", br], r"bogus", 2),
        "missing-branch": (["--to", "overlay", w + "/nope"], r"No such file", 3),
        "branch-is-a-file": (["--to", "overlay", w + "/file"], r"Not a directory", 2),
        "two-branches": (["--to", "overlay", br, br], r"", 2),
        "missing-lower": (["--to", "overlay", "--lower", w + "/nope", br], r"nope", 3),
        "over-long-path": (["--to", "overlay", w + "/" + LONG_NAME], r"too long", 1),
    }


CONVERT_CASES = sorted(convert_cases("/w", "/w/b"))


@pytest.mark.parametrize("case", CONVERT_CASES)
def test_unionfs_convert_bad_input(convert, workdir, case):
    conv, br = convert
    args, pattern, code = convert_cases(workdir, br)[case]
    before = ro_snapshot(br)
    r = run([conv] + args)
    check_one_line(r, "unionfs-convert", pattern, code)
    assert ro_snapshot(br) == before, "the branch was changed"


def test_unionfs_convert_non_root_changes_nothing(convert, need_root):
    conv, br = convert
    before = ro_snapshot(br)
    r = run(NOBODY + [conv, "--to", "overlay", br])
    check_one_line(r, "unionfs-convert", r"denied|permission", 4)
    assert ro_snapshot(br) == before
