"""`unionfsctl which` and the user.unionfs.branch / user.unionfs.hidden
virtual xattrs behind it."""
import errno
import json
import os
import subprocess

import pytest


def which(m, rel):
    out = m.ok("which", m.p(rel))
    branch = [l.split(" ", 1)[1] for l in out.splitlines() if l.startswith("branch ")]
    hidden = [l.split(" ", 1)[1] for l in out.splitlines() if l.startswith("hidden ")]
    assert len(branch) == 1, out
    return branch[0], hidden


def test_lower_only_file(mount):
    m = mount(files={"ro1/f": "lower\n"})
    assert which(m, "f") == (m.b("ro1"), [])


def test_copyup_moves_the_file_up_and_hides_the_lower_copy(mount):
    m = mount(files={"ro1/f": "lower\n"})
    assert which(m, "f") == (m.b("ro1"), [])
    with open(m.p("f"), "a") as f:
        f.write("more\n")
    assert which(m, "f") == (m.b("rw1"), [m.b("ro1")])


def test_hidden_lists_every_lower_copy_in_order(mount):
    m = mount([("rw1", "RW"), ("ro1", "RO"), ("ro2", "RO")],
              files={"rw1/f": "1", "ro1/f": "2", "ro2/f": "3"})
    assert which(m, "f") == (m.b("rw1"), [m.b("ro1"), m.b("ro2")])


def test_merged_directory(mount):
    m = mount(files={"rw1/d/a": "a", "ro1/d/b": "b"})
    assert which(m, "d") == (m.b("rw1"), [m.b("ro1")])
    assert which(m, "d/b") == (m.b("ro1"), [])


def test_json(mount):
    m = mount(files={"rw1/f": "1", "ro1/f": "2"})
    doc = json.loads(m.ok("which", "--json", m.p("f")))
    assert doc == {"file": m.p("f"), "branch": m.b("rw1"), "hidden": [m.b("ro1")]}


def test_getfattr_reads_the_branch_xattr(mount):
    m = mount(files={"ro1/f": "x"})
    r = subprocess.run(["getfattr", "--only-values", "-n", "user.unionfs.branch", m.p("f")],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout == m.b("ro1")


def test_hidden_xattr_is_newline_separated(mount):
    m = mount([("rw1", "RW"), ("ro1", "RO"), ("ro2", "RO")],
              files={"rw1/f": "1", "ro1/f": "2", "ro2/f": "3"})
    value = os.getxattr(m.p("f"), "user.unionfs.hidden").decode()
    assert value.split("\n") == [m.b("ro1"), m.b("ro2")]


def test_xattrs_are_not_listed(mount):
    m = mount(files={"ro1/f": "x"})
    assert not [n for n in os.listxattr(m.p("f")) if n.startswith("user.unionfs.")]


@pytest.mark.parametrize("name", ["user.unionfs.branch", "user.unionfs.hidden"])
def test_xattrs_cannot_be_set(mount, name):
    m = mount(files={"rw1/f": "x"})
    with pytest.raises(OSError) as e:
        os.setxattr(m.p("f"), name, b"/elsewhere")
    assert e.value.errno == errno.EPERM
    assert os.getxattr(m.p("f"), "user.unionfs.branch").decode() == m.b("rw1")


@pytest.mark.parametrize("name", ["user.unionfs.branch", "user.unionfs.hidden"])
def test_xattrs_cannot_be_removed(mount, name):
    m = mount(files={"rw1/f": "x"})
    with pytest.raises(OSError) as e:
        os.removexattr(m.p("f"), name)
    assert e.value.errno == errno.EPERM


def test_missing_file_is_not_found(mount):
    m = mount()
    r = m.ctl("which", m.p("nothing"))
    assert r.returncode == 3
    assert r.stderr == "unionfsctl: which %s: No such file or directory\n" % m.p("nothing")


def test_symlink_is_unsupported(mount):
    m = mount(files={"rw1/f": "x"})
    os.symlink("f", m.p("link"))
    r = m.ctl("which", m.p("link"))
    assert r.returncode == 5
    assert r.stderr.startswith("unionfsctl: which %s: " % m.p("link"))
    assert r.stderr.count("\n") == 1


def test_file_outside_a_union(ctl_bin, base):
    path = os.path.join(base, "plain")
    open(path, "w").close()
    r = subprocess.run([ctl_bin, "which", path], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    assert r.returncode == 5
    assert r.stderr == "unionfsctl: which %s: not on a unionfs mount\n" % path
