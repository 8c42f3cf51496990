"""cache=auto: the kernel caches, and changes made directly in a branch
(behind the mount's back) still show through the union (fanotify watch).
cache=always keeps what the kernel cached."""
import os
import shutil
import stat
import time

from fsutil import read, write
from util import eventually


def warm(u, *rels):
    """Put names (also missing ones), attributes, contents and listings in
    the kernel's caches."""
    for rel in rels:
        p = u.m(rel)
        if not os.path.lexists(p):
            continue
        if os.path.isdir(p):
            os.listdir(p)
        elif os.path.isfile(p):
            read(p)


def auto_union(mount_union):
    u = mount_union("rw-ro", opts="cow,cache=auto")
    u.check_ro = False          # these tests change the read-only branch directly
    return u


def test_auto_sees_new_file_in_lower_branch(mount_union):
    u = auto_union(mount_union)
    warm(u, "ro1_dir", "ro1_dir/new")
    write(u.b["ro1"].p("ro1_dir/new"), "fresh\n")
    assert eventually(lambda: os.path.exists(u.m("ro1_dir/new")))
    assert eventually(lambda: "new" in os.listdir(u.m("ro1_dir")))
    assert read(u.m("ro1_dir/new")) == "fresh\n"


def test_auto_sees_changed_content_and_mode(mount_union):
    u = auto_union(mount_union)
    warm(u, "ro1_file", "ro1_dir")
    write(u.b["ro1"].p("ro1_file"), "rewritten behind the mount\n")
    os.chmod(u.b["ro1"].p("ro1_dir"), 0o700)
    assert eventually(lambda: read(u.m("ro1_file")) == "rewritten behind the mount\n")
    assert eventually(lambda: stat.S_IMODE(os.stat(u.m("ro1_dir")).st_mode) == 0o700)


def test_auto_sees_removed_file(mount_union):
    u = auto_union(mount_union)
    warm(u, "ro1_file", "")
    os.unlink(u.b["ro1"].p("ro1_file"))
    assert eventually(lambda: not os.path.exists(u.m("ro1_file")))
    assert "ro1_file" not in os.listdir(u.m())


def test_auto_sees_whiteout_written_into_branch(mount_union):
    u = auto_union(mount_union)
    warm(u, "ro1_dir", "ro1_dir/ro1_file")
    meta = u.b["rw1"].p(".unionfs/ro1_dir")
    os.makedirs(meta, exist_ok=True)
    write(os.path.join(meta, "ro1_file_HIDDEN~"), "")
    assert eventually(lambda: not os.path.exists(u.m("ro1_dir/ro1_file")))
    assert "ro1_file" not in os.listdir(u.m("ro1_dir"))


def test_auto_own_changes_visible_at_once(mount_union):
    """Changes through the mount never wait for anything."""
    u = auto_union(mount_union)
    warm(u, "ro1_file")
    write(u.m("ro1_file"), "through the union\n")
    assert read(u.m("ro1_file")) == "through the union\n"
    os.unlink(u.m("ro1_file"))
    assert not os.path.exists(u.m("ro1_file"))


def test_always_keeps_cached_attributes(mount_union):
    """cache=always: what the kernel cached stays (documented contract)."""
    u = mount_union("rw-ro", opts="cow,cache=always")
    u.check_ro = False
    warm(u, "ro1_dir")
    before = stat.S_IMODE(os.stat(u.m("ro1_dir")).st_mode)
    os.chmod(u.b["ro1"].p("ro1_dir"), 0o700)
    time.sleep(0.5)
    assert stat.S_IMODE(os.stat(u.m("ro1_dir")).st_mode) == before


def _ops(path):
    """The daemon's per-operation counters (unionfsctl's channel)."""
    import fcntl
    size = 16000
    ioc = (3 << 30) | (size << 16) | (ord("U") << 8) | 0x75
    buf = bytearray(b"stats json".ljust(size, b"\0"))
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.ioctl(fd, ioc, buf)
    finally:
        os.close(fd)
    import json
    status, text = bytes(buf).split(b"\0")[0].decode().split("\n", 1)
    assert status == "0", text
    return json.loads(text)["ops"]


def test_auto_caches_longer_than_a_second(mount_union):
    """With the watch, cached names and attributes outlive the 1 s fallback:
    a second look after 1.5 s asks the daemon nothing."""
    u = auto_union(mount_union)
    # Only stat: reading a file or a listing makes the kernel refresh atime.
    os.lstat(u.m("ro1_dir/ro1_file"))
    os.stat(u.m("ro1_dir"))
    time.sleep(1.5)
    # Asking for the counters costs requests of its own: measure that too.
    a = _ops(u.m())
    b = _ops(u.m())
    os.lstat(u.m("ro1_dir/ro1_file"))
    os.stat(u.m("ro1_dir"))
    c = _ops(u.m())
    for op in ("lookup", "getattr"):
        assert c[op] - b[op] == b[op] - a[op], op


def beside(u, name):
    """A new directory next to the branches, on their filesystem, in no branch."""
    path = os.path.join(os.path.dirname(u.b["ro1"].p()), name)
    os.mkdir(path)
    return path


def settle(u, name):
    """Wait until the watch has taken every event so far: it takes them in
    order, and a name the kernel caches as missing shows only once the
    watch has passed its creation on."""
    assert not os.path.exists(u.m(name))
    write(u.b["ro1"].p(name), "")
    assert eventually(lambda: os.path.exists(u.m(name)))


def test_auto_busy_neighbour_drops_no_cached_entry(mount_union, ctl):
    """80,000 changes next to the branches, on their filesystem, as fast as
    one process makes them: the watch keeps up (no event queue overflow,
    which would make it drop every entry the kernel caches), and still sees
    the branches."""
    u = auto_union(mount_union)
    os.lstat(u.m("ro1_dir/ro1_file"))
    s0 = ctl(u)
    flood = beside(u, "neighbour")
    for i in range(40000):
        os.mknod(os.path.join(flood, "n%05d" % i))
    shutil.rmtree(flood)
    settle(u, "after_flood")
    s1 = ctl(u)
    assert s1["watch_overflows"] == s0["watch_overflows"] == 0
    assert s1["watch_events"] - s0["watch_events"] >= 40000
    # Asking for the counters costs requests of its own: measure that too.
    a, b = ctl(u)["ops"]["lookup"], ctl(u)["ops"]["lookup"]
    os.lstat(u.m("ro1_dir/ro1_file"))
    assert ctl(u)["ops"]["lookup"] - b == b - a     # the name is still cached


def test_auto_sees_changes_in_a_directory_moved_into_a_branch(mount_union):
    """A directory whose events the watch ignored while it was outside the
    branches is watched once it is moved into one."""
    u = auto_union(mount_union)
    outside = beside(u, "elsewhere")
    write(os.path.join(outside, "a"), "a\n")
    os.chmod(os.path.join(outside, "a"), 0o644)
    settle(u, "s1")
    os.rename(outside, u.b["ro1"].p("moved"))
    assert eventually(lambda: os.path.exists(u.m("moved/a")))
    assert stat.S_IMODE(os.stat(u.m("moved/a")).st_mode) == 0o644   # now cached
    os.chmod(u.b["ro1"].p("moved/a"), 0o600)
    assert eventually(lambda: stat.S_IMODE(os.stat(u.m("moved/a")).st_mode) == 0o600)


def test_auto_sees_changes_in_a_directory_renamed_in_a_branch(mount_union):
    """A directory renamed in the branch behind the mount's back: changes
    in it show under its new name, also after the watch has already seen
    events in it under the old one."""
    u = auto_union(mount_union)
    d = u.b["ro1"].p("ro1_dir")
    os.chmod(os.path.join(d, "ro1_file"), 0o644)
    assert eventually(lambda: stat.S_IMODE(os.stat(u.m("ro1_dir/ro1_file")).st_mode) == 0o644)
    os.chmod(os.path.join(d, "ro1_file"), 0o640)    # seen under the old name
    assert eventually(lambda: stat.S_IMODE(os.stat(u.m("ro1_dir/ro1_file")).st_mode) == 0o640)
    os.rename(d, u.b["ro1"].p("renamed"))
    assert eventually(lambda: os.path.exists(u.m("renamed/ro1_file")))
    assert stat.S_IMODE(os.stat(u.m("renamed/ro1_file")).st_mode) == 0o640   # now cached
    os.chmod(u.b["ro1"].p("renamed/ro1_file"), 0o600)
    assert eventually(lambda: stat.S_IMODE(os.stat(u.m("renamed/ro1_file")).st_mode) == 0o600)
    write(u.b["ro1"].p("renamed/ro1_file"), "changed\n")
    assert eventually(lambda: read(u.m("renamed/ro1_file")) == "changed\n")
