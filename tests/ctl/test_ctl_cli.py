"""Command line of unionfsctl: help, version, usage errors and bad input,
each with its documented exit code, one-line message and no change made;
plus the daemon's answers to malformed commands sent on the raw channel."""
import errno
import fcntl
import json
import os
import subprocess

import pytest

UFS_CTL_SIZE = 16000
# _IOWR('U', 0x75, struct ufs_ctl_msg)
UFS_IOC_CTL = (3 << 30) | (UFS_CTL_SIZE << 16) | (ord("U") << 8) | 0x75


def run(ctl_bin, *args, cwd=None):
    return subprocess.run([ctl_bin] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=20, cwd=cwd)


def one_line_error(r, code, prefix):
    assert r.returncode == code, r.stderr
    assert r.stdout == ""
    assert r.stderr.startswith("unionfsctl: " + prefix), r.stderr
    assert r.stderr.count("\n") == 1, r.stderr


# --------------------------------------------------------------------------
# no mount needed

def test_help_starts_with_usage(ctl_bin):
    r = run(ctl_bin, "--help")
    assert r.returncode == 0
    assert r.stdout.startswith("Usage:")
    for word in ("branches", "stats", "which", "add", "remove", "mode", "-d on|off",
                 "-p DEBUGFILE", "--json", "--at N", "--force"):
        assert word in r.stdout


def test_short_help(ctl_bin):
    assert run(ctl_bin, "-h").stdout == run(ctl_bin, "--help").stdout


def test_help_after_a_command(ctl_bin):
    r = run(ctl_bin, "add", "--help")
    assert r.returncode == 0 and r.stdout.startswith("Usage:")


@pytest.mark.parametrize("opt", ["-V", "--version"])
def test_version(ctl_bin, opt):
    r = run(ctl_bin, opt)
    assert r.returncode == 0
    assert r.stdout.startswith("unionfsctl ")
    assert r.stdout.count("\n") == 1


@pytest.mark.parametrize("args", [[], ["branches"], ["stats", "/a", "/b"], ["add", "/a"],
                                  ["mode", "/a", "0"], ["--bogus", "/a"],
                                  ["branches", "--at", "1", "/"], ["stats", "--force", "/"],
                                  ["add", "/", "/tmp", "--at", "x"], ["remove", "/", ""]])
def test_usage_errors(ctl_bin, args):
    r = run(ctl_bin, *args)
    assert r.returncode == 2
    assert r.stdout == ""
    assert r.stderr.startswith("unionfsctl: ")


@pytest.mark.parametrize("args", [["branches", "/tmp"], ["stats", "--json", "/tmp"],
                                  ["-d", "on", "/tmp"], ["add", "/tmp", "/usr"],
                                  ["remove", "/tmp", "1"], ["mode", "/tmp", "0", "rw"]])
def test_not_a_unionfs_path(ctl_bin, args):
    r = run(ctl_bin, *args)
    one_line_error(r, 5, "")
    assert r.stderr.endswith(": not on a unionfs mount\n")


def test_missing_path(ctl_bin, base):
    path = os.path.join(base, "nothing")
    r = run(ctl_bin, "branches", path)
    one_line_error(r, 3, "branches %s: No such file or directory" % path)


# --------------------------------------------------------------------------
# bad input against a mounted union: documented exit code, nothing changed

@pytest.fixture
def union(request, mount):
    """A union whose branch list must be unchanged after a passing test."""
    m = mount(files={"ro1/f": "x"})
    os.mkdir(m.b("extra"))
    os.chmod(m.b("extra"), 0o755)
    with open(m.b("plain-file"), "w"):
        pass
    before = [(b["path"], b["mode"]) for b in m.branches()]
    yield m
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.passed:
        assert [(b["path"], b["mode"]) for b in m.branches()] == before


def test_bad_index_for_mode(union):
    m = union
    one_line_error(m.ctl("mode", m.p(), "9", "rw"), 3, "mode 9: no branch 9")


def test_bad_index_for_remove(union):
    m = union
    one_line_error(m.ctl("remove", m.p(), "9"), 3, "remove 9: no branch 9")


def test_negative_index(union):
    m = union
    r = m.ctl("mode", m.p(), "-1", "rw")
    assert r.returncode == 2


def test_bad_mode_word(union):
    m = union
    one_line_error(m.ctl("mode", m.p(), "1", "readwrite"), 2, "mode readwrite: bad mode")


def test_bad_branch_mode_suffix(union):
    m = union
    one_line_error(m.ctl("add", m.p(), m.b("extra") + "=XX"), 2,
                   "add %s=XX: bad branch mode 'XX'" % m.b("extra"))


def test_missing_branch_dir(union):
    m = union
    path = m.b("missing")
    one_line_error(m.ctl("add", m.p(), path), 3, "add %s: No such file or directory" % path)


def test_branch_is_not_a_directory(union):
    m = union
    path = m.b("plain-file")
    one_line_error(m.ctl("add", m.p(), path), 1, "add %s: Not a directory" % path)


def test_branch_already_in_the_union(union):
    m = union
    one_line_error(m.ctl("add", m.p(), m.b("ro1")), 6, "add %s: " % m.b("ro1"))


def test_bad_position(union):
    m = union
    one_line_error(m.ctl("add", m.p(), m.b("extra"), "--at", "3"), 2,
                   "add %s: bad position 3" % m.b("extra"))


@pytest.mark.parametrize("where", ["mnt", "mnt/sub", "."])
def test_branch_overlapping_the_mount_is_refused(union, where):
    m = union
    if where == "mnt/sub":
        os.mkdir(m.p("sub"))
    path = m.base if where == "." else os.path.join(m.base, where)
    r = m.ctl("add", m.p(), path)
    one_line_error(r, 2, "add %s: " % path)


def test_remove_unknown_branch_path(union):
    m = union
    one_line_error(m.ctl("remove", m.p(), m.b("extra")), 3,
                   "remove %s: not a branch of this union" % m.b("extra"))


def test_remove_the_last_branch(mount):
    m = mount([("rw1", "RW")], opts="")
    one_line_error(m.ctl("remove", m.p(), "0", "--force"), 2,
                   "remove 0: cannot remove the last branch")
    assert [b["path"] for b in m.branches()] == [m.b("rw1")]


# --------------------------------------------------------------------------
# the raw channel: the daemon itself refuses malformed commands

def raw(m, command):
    """Send command on the control ioctl; returns (status, text)."""
    buf = bytearray(UFS_CTL_SIZE)
    data = command.encode()
    buf[:len(data)] = data
    fd = os.open(m.p(), os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.ioctl(fd, UFS_IOC_CTL, buf, True)
    finally:
        os.close(fd)
    status, _, text = bytes(buf).split(b"\0", 1)[0].decode().partition("\n")
    return int(status), text


def test_raw_branches_json(union):
    m = union
    status, text = raw(union, "branches json")
    assert status == 0
    assert [b["path"] for b in json.loads(text)] == [m.b("rw1"), m.b("ro1")]


@pytest.mark.parametrize("command", ["remove x", "remove 1x", "mode x rw", "add x ro %s",
                                     "add 0 rx %s", "frobnicate", ""])
def test_raw_malformed_commands_are_einval(union, command):
    m = union
    before = m.branches()
    status, text = raw(m, command.replace("%s", m.b("extra")))
    assert (status, m.branches() == before) == (errno.EINVAL, True), text
    assert text.strip() != ""


def test_raw_add_of_the_mount_point_is_refused(union):
    """The daemon must refuse a branch inside its own mount without
    deadlocking (a plain client does not check first)."""
    m = union
    code = ("import fcntl, os, sys\n"
            "buf = bytearray(%d); cmd = sys.argv[2].encode(); buf[:len(cmd)] = cmd\n"
            "fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)\n"
            "fcntl.ioctl(fd, %d, buf, True)\n"
            "print(bytes(buf).split(b'\\0', 1)[0].decode())\n" % (UFS_CTL_SIZE, UFS_IOC_CTL))
    p = subprocess.Popen(["/usr/bin/python3", "-c", code, m.p(), "add 0 ro " + m.p()],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = p.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        m.abort()  # fails the daemon's request to itself, and ours
        p.kill()
        p.communicate()
        pytest.fail("the daemon hangs on 'add 0 ro MOUNTPOINT'")
    assert p.returncode == 0, err
    assert int(out.split("\n", 1)[0]) == errno.EINVAL
