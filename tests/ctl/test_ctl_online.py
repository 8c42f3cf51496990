"""Online branch changes: add, remove and mode while the union is in use.

Mounted with cache=always (day-long entry and attribute timeouts, kept page
cache) unless a test says otherwise, so a name that shows the new stack
after the command proves the daemon invalidated the kernel's caches."""
import errno
import os
import threading
import time

import pytest

from util import eventually

CACHED = "cow,cache=always"


def read(path):
    with open(path) as f:
        return f.read()


def new_branch(m, name, files):
    path = m.b(name)
    os.mkdir(path)
    os.chmod(path, 0o755)
    for rel, data in files.items():
        os.makedirs(os.path.dirname(os.path.join(path, rel)), exist_ok=True)
        with open(os.path.join(path, rel), "w") as f:
            f.write(data)
    return path


# --------------------------------------------------------------------------
# add

def test_add_on_top_shows_new_content_for_shadowed_names(mount):
    m = mount(opts=CACHED, files={"ro1/f": "lower\n"})
    assert read(m.p("f")) == "lower\n"
    new_branch(m, "top", {"f": "top\n"})
    assert m.ok("add", m.p(), m.b("top")) == "added %s as branch 0 (ro)\n" % m.b("top")
    assert read(m.p("f")) == "top\n"


def test_add_on_top_shows_new_names(mount):
    m = mount(opts=CACHED, files={"ro1/f": "lower\n"})
    assert not os.path.exists(m.p("g"))  # cached as a negative entry
    assert sorted(os.listdir(m.p())) == ["f"]
    new_branch(m, "top", {"g": "g\n", "d/h": "h\n"})
    m.ok("add", m.p(), m.b("top"))
    assert read(m.p("g")) == "g\n"
    assert sorted(os.listdir(m.p())) == ["d", "f", "g"]
    assert read(m.p("d/h")) == "h\n"


def test_add_keeps_open_files_working(mount):
    m = mount(opts=CACHED, files={"ro1/f": "lower\n", "rw1/w": ""})
    reader = open(m.p("f"))
    writer = open(m.p("w"), "a")
    try:
        writer.write("before\n")
        writer.flush()
        new_branch(m, "top", {"f": "top\n"})
        m.ok("add", m.p(), "%s=RO" % m.b("top"))
        assert reader.read() == "lower\n"
        writer.write("after\n")
        writer.flush()
    finally:
        reader.close()
        writer.close()
    assert read(m.b("rw1", "w")) == "before\nafter\n"
    assert read(m.p("w")) == "before\nafter\n"


def test_add_keeps_an_open_directory_listing_working(mount):
    names = ["file-%04d-with-a-long-enough-name" % i for i in range(400)]
    m = mount(opts=CACHED, files={"ro1/d/" + n: "" for n in names})
    it = os.scandir(m.p("d"))
    try:
        seen = [next(it).name for _ in range(10)]
        new_branch(m, "top", {"d/extra": "x"})
        m.ok("add", m.p(), m.b("top"))
        seen += [e.name for e in it]
    finally:
        it.close()
    assert len(seen) == len(set(seen))
    assert set(names) <= set(seen)
    assert sorted(os.listdir(m.p("d"))) == sorted(names + ["extra"])


def test_add_then_changes_made_in_the_new_branch_show(mount):
    """cache=auto: the watch ignored the directory while it was in no branch;
    once added, changes made directly in it show in the union."""
    m = mount(opts="cow", files={"ro1/f": "lower\n"})
    top = new_branch(m, "top", {"g": "g\n"})
    with open(os.path.join(top, "before"), "w"):
        pass
    # The watch takes events in order: once a name the kernel caches as
    # missing shows up, it has passed the events in top.
    assert not os.path.exists(m.p("sentinel"))
    with open(m.b("ro1", "sentinel"), "w"):
        pass
    assert eventually(lambda: os.path.exists(m.p("sentinel")))
    m.ok("add", m.p(), top)
    assert sorted(os.listdir(m.p())) == ["before", "f", "g", "sentinel"]
    os.chmod(os.path.join(top, "g"), 0o644)
    assert os.stat(m.p("g")).st_mode & 0o777 == 0o644      # now cached
    os.chmod(os.path.join(top, "g"), 0o600)
    assert eventually(lambda: os.stat(m.p("g")).st_mode & 0o777 == 0o600)


def test_add_rw_on_top_receives_new_files(mount):
    m = mount(opts=CACHED)
    new_branch(m, "top", {})
    m.ok("add", m.p(), "%s=RW" % m.b("top"))
    with open(m.p("new"), "w") as f:
        f.write("n")
    assert os.path.exists(m.b("top", "new"))
    assert not os.path.exists(m.b("rw1", "new"))


def test_add_at_the_bottom(mount):
    m = mount(opts=CACHED, files={"ro1/f": "lower\n"})
    new_branch(m, "bottom", {"f": "bottom\n", "only": "o\n"})
    out = m.ok("add", m.p(), m.b("bottom"), "--at", "2")
    assert out == "added %s as branch 2 (ro)\n" % m.b("bottom")
    assert m.branch_paths() == [m.b("rw1"), m.b("ro1"), m.b("bottom")]
    assert read(m.p("f")) == "lower\n"
    assert read(m.p("only")) == "o\n"


def test_add_relative_branch_is_made_absolute(mount):
    m = mount(opts=CACHED)
    new_branch(m, "rel", {})
    cwd = os.getcwd()
    os.chdir(m.base)
    try:
        m.ok("add", m.p(), "rel", "--at", "1")
    finally:
        os.chdir(cwd)
    assert m.branch_paths() == [m.b("rw1"), m.b("rel"), m.b("ro1")]
    assert m.branch("rel")["mode"] == "ro"


def test_which_after_add_names_the_new_branch(mount):
    m = mount(opts=CACHED, files={"ro1/f": "lower\n"})
    new_branch(m, "top", {"f": "top\n"})
    m.ok("add", m.p(), m.b("top"))
    out = m.ok("which", m.p("f"))
    assert out == "branch %s\nhidden %s\n" % (m.b("top"), m.b("ro1"))


# --------------------------------------------------------------------------
# remove

THREE = [("rw1", "RW"), ("ro1", "RO"), ("ro2", "RO")]


def test_remove_makes_the_branch_files_disappear(mount):
    m = mount(THREE, opts=CACHED, files={"ro2/gone": "g\n", "ro2/d/x": "x", "ro1/d/y": "y"})
    assert read(m.p("gone")) == "g\n"
    assert sorted(os.listdir(m.p("d"))) == ["x", "y"]
    assert m.ok("remove", m.p(), "2") == "removed branch 2 (%s)\n" % m.b("ro2")
    assert not os.path.exists(m.p("gone"))
    assert sorted(os.listdir(m.p())) == ["d"]
    assert sorted(os.listdir(m.p("d"))) == ["y"]
    assert m.branch_paths() == [m.b("rw1"), m.b("ro1")]


def test_remove_drops_cached_entries_of_its_names(mount):
    m = mount(THREE, opts=CACHED, files={"ro2/gone": "g\n"})
    os.stat(m.p("gone"))  # the kernel now caches the entry for a day
    m.ok("remove", m.p(), "2")
    assert not os.path.exists(m.p("gone"))


def test_remove_uncovers_the_lower_copy(mount):
    m = mount(THREE, opts=CACHED, files={"ro1/f": "middle\n", "ro2/f": "bottom\n"})
    assert read(m.p("f")) == "middle\n"
    m.ok("remove", m.p(), "1")
    assert read(m.p("f")) == "bottom\n"


def test_remove_by_path(mount):
    m = mount(THREE, opts=CACHED, files={"ro2/gone": "g\n"})
    cwd = os.getcwd()
    os.chdir(m.base)
    try:
        out = m.ok("remove", m.p(), "ro2")
    finally:
        os.chdir(cwd)
    assert out == "removed branch 2 (%s)\n" % m.b("ro2")
    assert m.branch_paths() == [m.b("rw1"), m.b("ro1")]


def test_remove_under_load_keeps_a_reader_going(mount):
    """A reader keeps reading a file of an unaffected branch, through a
    handle held across the removal and through fresh opens, while the
    removed branch's names disappear."""
    steady = "steady\n" * 512
    # direct_io: every read of the reader reaches the daemon.
    m = mount(THREE, opts=CACHED + ",direct_io",
              files={"ro1/steady": steady, "ro2/gone": "g\n"})
    stop, errors, reads = threading.Event(), [], [0]

    def reader():
        held = os.open(m.p("steady"), os.O_RDONLY)
        try:
            while not stop.is_set():
                try:
                    with open(m.p("steady")) as f:
                        fresh = f.read()
                    if (fresh, os.pread(held, 1 << 16, 0).decode()) != (steady, steady):
                        errors.append("wrong content")
                    reads[0] += 1
                except OSError as e:
                    errors.append(e)
        finally:
            os.close(held)

    def wait_reads(n):
        target = reads[0] + n
        while reads[0] < target and t.is_alive():
            time.sleep(0.001)

    t = threading.Thread(target=reader)
    t.start()
    try:
        os.stat(m.p("gone"))
        wait_reads(20)
        m.ok("remove", m.p(), m.b("ro2"))
        wait_reads(20)
    finally:
        stop.set()
        t.join(30)
    assert errors == []
    assert reads[0] >= 40
    assert not os.path.exists(m.p("gone"))


def test_remove_with_open_files_fails_without_force(mount):
    m = mount(THREE, opts=CACHED, files={"ro2/open": "o\n"})
    with open(m.p("open")) as f:
        r = m.ctl("remove", m.p(), "2")
        assert r.returncode == 1
        assert r.stderr == "unionfsctl: remove 2: branch 2 has 1 open file (use --force)\n"
        assert r.stdout == ""
        assert f.read() == "o\n"
    assert m.branch_paths() == [m.b("rw1"), m.b("ro1"), m.b("ro2")]
    assert read(m.p("open")) == "o\n"


def test_remove_with_open_files_works_with_force(mount):
    m = mount(THREE, opts=CACHED, files={"ro2/open": "o\n" * 100})
    with open(m.p("open")) as f:
        assert f.read(2) == "o\n"
        out = m.ok("remove", m.p(), "2", "--force")
        assert out.startswith("removed branch 2 (%s)" % m.b("ro2"))
        assert "open" in out
        assert f.read() == "o\n" * 99
        assert not os.path.exists(m.p("open"))
    assert m.branch_paths() == [m.b("rw1"), m.b("ro1")]


def test_removed_branch_can_be_added_back(mount):
    m = mount(THREE, opts=CACHED, files={"ro2/f": "f\n"})
    m.ok("remove", m.p(), "2")
    assert not os.path.exists(m.p("f"))
    m.ok("add", m.p(), m.b("ro2"), "--at", "2")
    assert read(m.p("f")) == "f\n"


# --------------------------------------------------------------------------
# mode

@pytest.mark.parametrize("opts", ["cow", ""], ids=["cow", "nocow"])
def test_mode_rw_makes_writes_land_in_the_branch(mount, opts):
    m = mount(opts=opts, files={"ro1/f": "lower\n"})
    assert m.ok("mode", m.p(), "1", "rw") == "branch 1 is now rw\n"
    assert m.branch("ro1")["mode"] == "rw"
    with open(m.p("f"), "a") as f:
        f.write("more\n")
    assert read(m.b("ro1", "f")) == "lower\nmore\n"
    assert not os.path.exists(m.b("rw1", "f"))


def test_mode_rw_lets_deletes_happen_in_place(mount):
    m = mount(opts="cow", files={"ro1/f": "lower\n"})
    m.ok("mode", m.p(), "1", "rw")
    os.unlink(m.p("f"))
    assert not os.path.exists(m.b("ro1", "f"))
    assert not os.path.exists(m.p("f"))


def test_mode_ro_refuses_writes(mount):
    m = mount([("rw1", "RW")], opts="")
    m.ok("mode", m.p(), "0", "ro")
    with pytest.raises(OSError) as e:
        open(m.p("new"), "w").close()
    assert e.value.errno == errno.EROFS
    assert not os.path.exists(m.b("rw1", "new"))


def test_mode_by_branch_path(mount):
    m = mount(opts="cow")
    assert m.ok("mode", m.p(), m.b("ro1"), "RW") == "branch 1 is now rw\n"
    assert m.branch("ro1")["mode"] == "rw"
