"""Only root (or the user who mounted) may change a union; anybody who can
reach it may read its branch list and statistics.  The union is mounted by
root with allow_other and used as nobody (uid/gid 65534, no groups)."""
import json
import os

import pytest

OPTS = "cow,allow_other"


@pytest.fixture
def union(mount):
    m = mount(opts=OPTS, files={"ro1/f": "lower\n"})
    os.mkdir(m.b("extra"))
    os.chmod(m.b("extra"), 0o755)
    return m


def test_nobody_reads_branches(union):
    m = union
    r = m.ctl("branches", "--json", m.p(), nobody=True)
    assert r.returncode == 0, r.stderr
    listed = [(b["path"], b["mode"]) for b in json.loads(r.stdout)]
    assert listed == [(m.b("rw1"), "rw"), (m.b("ro1"), "ro")]


def test_nobody_reads_stats(union):
    m = union
    r = m.ctl("stats", m.p(), nobody=True)
    assert r.returncode == 0, r.stderr
    assert "nodes " in r.stdout


def test_nobody_runs_which(union):
    m = union
    r = m.ctl("which", m.p("f"), nobody=True)
    assert (r.returncode, r.stdout) == (0, "branch %s\n" % m.b("ro1"))


CHANGES = {
    "add": lambda m: ["add", m.p(), m.b("extra")],
    "remove": lambda m: ["remove", m.p(), "1"],
    "remove-force": lambda m: ["remove", m.p(), "1", "--force"],
    "mode": lambda m: ["mode", m.p(), "1", "rw"],
    "debug": lambda m: ["-d", "on", m.p()],
    "debugfile": lambda m: ["-p", m.b("extra", "debug.log"), m.p()],
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_nobody_is_refused_changes(union, change):
    m = union
    before = m.branches()
    r = m.ctl(*CHANGES[change](m), nobody=True)
    assert r.returncode == 4
    assert r.stderr.startswith("unionfsctl: ")
    assert r.stderr.endswith(": only root or the user who mounted may do that\n")
    assert r.stderr.count("\n") == 1
    assert r.stdout == ""
    assert m.branches() == before
    assert not os.path.exists(m.b("extra", "debug.log"))


def test_root_may_change_the_same_union(union):
    m = union
    m.ok("mode", m.p(), "1", "rw")
    assert m.branch("ro1")["mode"] == "rw"


def test_the_mounting_user_may_change_the_union(mount):
    if os.stat("/dev/fuse").st_mode & 0o006 != 0o006:
        pytest.skip("/dev/fuse is not open to other users here, so nobody cannot mount")
    m = mount(opts="cow", files={"ro1/f": "lower\n"}, nobody=True)
    r = m.ctl("mode", m.p(), "1", "rw", nobody=True)
    assert (r.returncode, r.stdout, r.stderr) == (0, "branch 1 is now rw\n", "")
    with open(m.b("ro1", "f")) as f:
        assert f.read() == "lower\n"
    r = m.ctl("branches", "--json", m.p(), nobody=True)
    assert [b["mode"] for b in json.loads(r.stdout)] == ["rw", "rw"]
