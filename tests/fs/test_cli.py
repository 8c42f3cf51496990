"""Command line: help, version, branch specs, options, bad input, cycles."""
import os
import signal
import subprocess
import time

import pytest

from fsutil import Branch, read, write
from util import lazy_unmount, mounted

pytestmark = pytest.mark.fuse


def run(argv, **kw):
    return subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=20, **kw)


def daemons_on(mnt):
    """pids of processes whose command line names mnt (left-behind daemons)."""
    pids = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            args = read("/proc/%s/cmdline" % pid, "rb").split(b"\0")
        except OSError:
            continue
        if mnt.encode() in args:
            pids.append(int(pid))
    return pids


def test_help_starts_with_usage(unionfs_bin):
    r = run([unionfs_bin, "--help"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("Usage:")


def test_short_help_starts_with_usage(unionfs_bin):
    r = run([unionfs_bin, "-h"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("Usage:")


@pytest.mark.parametrize("flag", ["-V", "--version"])
def test_version_exits_zero(unionfs_bin, flag):
    r = run([unionfs_bin, flag])
    assert r.returncode == 0, r.stderr
    assert (r.stdout + r.stderr).strip()


# --------------------------------------------------------------------------
# Bad input: one line on stderr starting with "unionfs: ", status 1, nothing
# mounted, no daemon left behind.

def bad_cases(workdir):
    a = os.path.join(workdir, "a")
    b = os.path.join(workdir, "b")
    f = os.path.join(workdir, "file")
    mnt = os.path.join(workdir, "mnt")
    for d in (a, b, mnt):
        os.mkdir(d)
    write(f, "x")
    os.mkdir(os.path.join(a, "inner"))
    return {
        "missing-branch": ["%s:%s" % (a, os.path.join(workdir, "nope")), mnt],
        "branch-is-file": ["%s:%s" % (a, f), mnt],
        "missing-mountpoint": ["%s:%s" % (a, b), os.path.join(workdir, "nomnt")],
        "no-branches": [mnt],
        "empty-branch-list": ["", mnt],
        "bad-mode-word": ["%s=XX:%s" % (a, b), mnt],
        "mountpoint-inside-branch": ["%s:%s" % (a, b), os.path.join(a, "inner")],
        "branch-inside-mountpoint": ["%s:%s" % (os.path.join(mnt), b), mnt],
        "same-branch-twice": ["%s:%s" % (a, a), mnt],
        "same-branch-twice-spelled-differently": ["%s:%s/" % (a, a), mnt],
        "unknown-option": ["-o", "no_such_option", "%s:%s" % (a, b), mnt],
        "relaxed-permissions-as-root": ["-o", "relaxed_permissions", "%s:%s" % (a, b), mnt],
    }


BAD = ["missing-branch", "branch-is-file", "missing-mountpoint", "no-branches",
       "empty-branch-list", "bad-mode-word", "mountpoint-inside-branch",
       "branch-inside-mountpoint", "same-branch-twice",
       "same-branch-twice-spelled-differently", "unknown-option",
       "relaxed-permissions-as-root"]


def run_bad(unionfs_bin, args, workdir, foreground):
    """Run a command that must fail before mounting.  A daemon that mounts
    anyway, or keeps running, is killed and unmounted at once."""
    argv = [unionfs_bin] + (["-f"] if foreground else []) + args
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    mnts = [os.path.join(workdir, d) for d in ("mnt", "a/inner", "nomnt")]
    deadline = time.monotonic() + 10
    while proc.poll() is None and time.monotonic() < deadline:
        if any(mounted(m) for m in mnts):
            break
        time.sleep(0.02)
    left = [m for m in mnts if mounted(m)]
    running = proc.poll() is None
    if running:
        proc.kill()
    out, err = proc.communicate()
    for m in left:
        lazy_unmount(m)
    pids = daemons_on(args[-1])
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    return proc.returncode, err, left, running or bool(pids)


@pytest.mark.parametrize("case", BAD)
def test_bad_input_is_one_line_error(unionfs_bin, workdir, case):
    if case == "relaxed-permissions-as-root" and os.geteuid() != 0:
        pytest.skip("only refused when running as root")
    rc, err, left, running = run_bad(unionfs_bin, bad_cases(workdir)[case], workdir, True)
    assert not left and not running, "mounted anyway: %s" % left
    lines = err.splitlines()
    assert rc == 1, (rc, err)
    assert len(lines) == 1 and lines[0].startswith("unionfs: "), err


@pytest.mark.parametrize("case", BAD)
def test_bad_input_mounts_nothing_in_background_mode(unionfs_bin, workdir, case):
    # Without -f the error must still come before the daemon detaches.
    rc, err, left, running = run_bad(unionfs_bin, bad_cases(workdir)[case], workdir, False)
    assert not left and not running, "mounted anyway: %s" % left
    assert rc == 1, (rc, err)


def test_relative_branch_paths(mount_union, make_branches, workdir):
    rw, ro = make_branches([("rw1", "RW"), ("ro1", "RO")])
    u = mount_union([Branch("rw1", "rw1", "RW"), Branch("ro1", "ro1", "RO")],
                    start=False)
    u.check_ro = False  # relative paths: the snapshot would depend on the cwd
    old = os.getcwd()
    os.chdir(workdir)
    try:
        u.start()
    finally:
        os.chdir(old)
    assert read(u.m("ro1_file")) == "ro1\n"
    assert read(u.m("rw1_file")) == "rw1\n"


@pytest.mark.parametrize("word", ["rw", "Rw", "RW"])
def test_mode_word_case_insensitive_rw(mount_union, make_branches, word):
    rw, ro = make_branches([("rw1", "RW"), ("ro1", "RO")])
    u = mount_union([Branch(rw, "rw1", word), Branch(ro, "ro1", "ro")])
    write(u.m("new"), "x")
    assert read(rw.p("new")) == "x"


@pytest.mark.parametrize("word", ["ro", "Ro", "rO"])
def test_mode_word_case_insensitive_ro(mount_union, make_branches, word):
    rw, ro = make_branches([("rw1", "RW"), ("ro1", "RO")])
    u = mount_union([Branch(rw, "rw1", "RW"), Branch(ro, "ro1", word)])
    write(u.m("ro1_file"), "changed\n")
    assert read(ro.p("ro1_file")) == "ro1\n"
    assert read(rw.p("ro1_file")) == "changed\n"


def test_default_modes_first_rw_others_ro(mount_union, make_branches, unionfs_bin, workdir):
    top, low = make_branches([("top", "RW"), ("low", "RO")])
    u = mount_union([top, low], start=False)
    u.argv = lambda: [unionfs_bin, "-f", "-o", "cow,cache=never", "%s:%s" % (top, low), u.mnt]
    u.start()
    write(u.m("low_file"), "changed\n")
    assert read(low.p("low_file")) == "low\n"
    assert read(top.p("low_file")) == "changed\n"


def test_dirs_option_form(mount_union):
    u = mount_union("rw-ro", spec_style="dirs")
    assert sorted(os.listdir(u.m())) == [
        "common_dir", "common_file", "ro1_dir", "ro1_file", "rw1_dir", "rw1_file"]
    assert read(u.m("common_file")) == "rw1\n"


# Every option must be accepted and mount (each is exercised for its effect in
# the thematic test files).
OPTIONS = ["cow", "hide_meta_files", "hide_meta_dir", "statfs_omit_ro",
           "max_files=4096", "preserve_branch", "direct_io", "noinitgroups",
           "volatile", "cache=never", "cache=auto", "cache=always", "threads=4",
           "allow_other", "entry_timeout=0", "attr_timeout=0", "negative_timeout=0",
           "default_permissions"]


@pytest.mark.parametrize("opt", OPTIONS)
def test_option_is_accepted(mount_union, opt):
    u = mount_union("rw-ro", opts="cow," + opt if opt != "cow" else "cow")
    assert read(u.m("ro1_file")) == "ro1\n"


def test_debug_file_receives_debug_output(mount_union, workdir):
    dbg = os.path.join(workdir, "debug.log")
    u = mount_union("rw-ro", opts="cow,debug,debug_file=" + dbg)
    os.listdir(u.m())
    read(u.m("ro1_file"))
    u.remount()
    assert os.path.getsize(dbg) > 0


def test_chroot_option_resolves_branches_inside(mount_union, make_branches, workdir):
    root = os.path.join(workdir, "root")
    os.mkdir(root)
    rw = Branch(os.path.join(root, "rw1"), "rw1", "RW")
    ro = Branch(os.path.join(root, "ro1"), "ro1", "RO")
    for br in (rw, ro):
        os.mkdir(br)
        write(br.p(br.name + "_file"), br.name + "\n")
    u = mount_union([Branch("/rw1", "rw1", "RW"), Branch("/ro1", "ro1", "RO")],
                    opts="cow,chroot=" + root, start=False)
    u.check_ro = False  # branch paths are only meaningful inside the chroot
    u.start()
    assert read(u.m("ro1_file")) == "ro1\n"
    write(u.m("new"), "n")
    assert read(rw.p("new")) == "n"


def test_daemon_exits_zero_on_unmount(union):
    assert union.unmount() == 0


def test_mount_unmount_cycles_leave_nothing(mount_union, make_branches):
    branches = make_branches([("rw1", "RW"), ("ro1", "RO")])
    u = mount_union(branches)
    for _ in range(50):
        assert read(u.m("ro1_file")) == "ro1\n"
        rc = u.unmount()
        assert rc == 0, read(u.log)
        assert not mounted(u.mnt)
        assert daemons_on(u.mnt) == []
        u.start()
    assert sorted(os.listdir(u.m("common_dir"))) == [
        "common_file", "ro1_file", "rw1_file"]


@pytest.mark.parametrize("optlist", [["-o", "hide_meta_files,cow"], ["-o", "cow,hide_meta_files"],
                                     ["-o", "hide_meta_files", "-o", "cow"]],
                         ids=["first", "last", "separate"])
def test_option_position_does_not_matter(mount_union, optlist):
    u = mount_union("rw-ro", start=False)
    os.mkdir(u.b["rw1"].p(".unionfs"))
    u.argv = lambda: [u.bin, "-f"] + optlist + [u.branch_spec(), u.mnt]
    u.start()
    assert ".unionfs" not in os.listdir(u.m())
    write(u.m("ro1_file"), "cow\n")
    assert read(u.b["rw1"].p("ro1_file")) == "cow\n"


def test_max_files_raises_open_file_limit(mount_union):
    u = mount_union("rw-ro", opts="cow,max_files=12345")
    limits = read("/proc/%d/limits" % u.proc.pid)
    line = [l for l in limits.splitlines() if l.startswith("Max open files")][0]
    assert int(line.split()[3]) >= 12345


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP],
                         ids=["SIGTERM", "SIGINT", "SIGHUP"])
def test_signal_unmounts_and_exits_zero(union, sig):
    write(union.m("f"), "x")
    os.kill(union.proc.pid, sig)
    assert union.proc.wait(30) == 0, read(union.log)
    assert not mounted(union.m())
    assert read(union.b["rw1"].p("f")) == "x"


def test_signal_ignored_at_start_stays_ignored(mount_union):
    """Started with SIGHUP ignored (as under nohup), the daemon keeps
    serving through a SIGHUP; SIGTERM still stops it cleanly."""
    u = mount_union("rw-ro", start=False)
    argv = u.argv
    u.argv = lambda: ["/bin/sh", "-c", "trap '' HUP; exec \"$@\"", "sh"] + argv()
    u.start()
    os.kill(u.proc.pid, signal.SIGHUP)
    with pytest.raises(subprocess.TimeoutExpired):
        u.proc.wait(2)  # a daemon that took the signal is gone in milliseconds
    write(u.m("f"), "after SIGHUP")
    assert mounted(u.m())
    assert read(u.b["rw1"].p("f")) == "after SIGHUP"
    os.kill(u.proc.pid, signal.SIGTERM)
    assert u.proc.wait(30) == 0, read(u.log)
    assert not mounted(u.m())
