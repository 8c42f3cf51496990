"""Directory listings: offsets that keep their place while the directory
changes and its listing is rebuilt, readers at once, and (cache=auto with
the branch watch, cache=always) listings without OPENDIR, kept by the
kernel until something changes."""
import ctypes
import os
import struct
import threading

import pytest

from fsutil import write
from util import eventually

pytestmark = pytest.mark.fuse

SYS_getdents64 = 217            # x86_64
_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def getdents(fd, size=1024):
    """One getdents64 call: [(name, d_off)], [] at the end."""
    buf = ctypes.create_string_buffer(size)
    n = _libc.syscall(SYS_getdents64, fd, buf, size)
    if n < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    out, pos, raw = [], 0, buf.raw[:n]
    while pos < n:
        _ino, off, reclen, _type = struct.unpack_from("<QqHB", raw, pos)
        name = raw[pos + 19:pos + reclen].split(b"\0", 1)[0].decode()
        out.append((name, off))
        pos += reclen
    return out


def read_all(fd, size=1024):
    ents = []
    while True:
        chunk = getdents(fd, size)
        if not chunk:
            return ents
        ents += chunk


def names(ents):
    return [n for n, _ in ents if n not in (".", "..")]


MODES = ["cache=never", "cache=auto"]


def op(stats, *ops):
    """The count of these operations in `unionfsctl stats` (absent: 0)."""
    return sum(stats["ops"][o] for o in ops)


def big_union(mount_union, cache, count=400):
    """common_dir holds count names, half in each branch, some in both."""
    u = mount_union("rw-ro", opts="cow," + cache, start=False)
    for i in range(count):
        write((u.b["rw1"] if i % 2 else u.b["ro1"]).p("common_dir/n%04d" % i), "")
        if i % 5 == 0:
            write(u.b["ro1"].p("common_dir/n%04d" % i), "")
    return u.start()


@pytest.mark.parametrize("cache", MODES)
def test_offset_keeps_its_place_after_rebuild(mount_union, cache):
    """A saved offset (telldir) resumes after the same entry even when the
    listing was built again meanwhile with names added and removed."""
    u = big_union(mount_union, cache)
    d = u.m("common_dir")
    fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    try:
        first = read_all(fd)
        listed = names(first)
        assert len(listed) == len(set(listed)) == 403
        k = len(first) // 2
        resume_at, rest = first[k][1], names(first[k + 1:])
        gone = rest[::7]
        for n in gone:
            os.unlink(os.path.join(d, n))
        for i in range(60):
            write(os.path.join(d, "new%03d" % i), "")
        assert len(os.listdir(d)) == 403 - len(gone) + 60     # a rebuild from offset 0
        os.lseek(fd, resume_at, os.SEEK_SET)
        again = names(read_all(fd))
    finally:
        os.close(fd)
    kept = [n for n in rest if n not in gone]
    assert [n for n in again if not n.startswith("new")] == kept
    assert len(again) == len(set(again))
    # The lower copies of the removed names stay, hidden by whiteouts.
    for n in gone:
        assert not os.path.exists(os.path.join(d, n))
        assert int(n[1:]) % 2 == 1 or os.path.exists(u.b["ro1"].p("common_dir/" + n))


@pytest.mark.parametrize("cache", MODES)
def test_every_unchanged_name_once_while_directory_changes(mount_union, cache):
    """Readers listing with small reads while another thread creates and
    removes names: every name that never changed shows exactly once."""
    u = big_union(mount_union, cache, count=300)
    d = u.m("common_dir")
    stable = set(os.listdir(d))
    stop, errors = threading.Event(), []

    def churn():
        i = 0
        while not stop.is_set():
            p = os.path.join(d, "churn%d" % (i % 40))
            if i % 80 < 40:
                write(p, "")
            else:
                os.unlink(p)
            i += 1

    def reader():
        try:
            for _ in range(15):
                fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
                try:
                    got = names(read_all(fd, 512))
                finally:
                    os.close(fd)
                seen = [n for n in got if n in stable]
                if len(seen) != len(set(seen)) or set(seen) != stable:
                    errors.append((len(seen), len(set(seen)), len(stable)))
        except Exception as e:          # reported below, not lost in the thread
            errors.append(repr(e))

    threads = [threading.Thread(target=churn)] + [threading.Thread(target=reader)
                                                   for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads[1:]:
        t.join()
    stop.set()
    threads[0].join()
    assert errors == []


def test_no_opendir_with_watch(mount_union, ctl):
    """With the watch, directories are read without OPENDIR (the kernel is
    told once) and a listing is read from the daemon only once while the
    directory stays the same."""
    u = mount_union("rw-ro", opts="cow,cache=auto")
    dirs = ["", "common_dir", "ro1_dir", "rw1_dir"]
    before = ctl(u)
    first = [sorted(os.listdir(u.m(d))) for d in dirs]
    mid = ctl(u)
    for _ in range(3):
        assert [sorted(os.listdir(u.m(d))) for d in dirs] == first
    after = ctl(u)
    assert op(after, "opendir") - op(before, "opendir") <= 1
    assert op(after, "releasedir") == op(before, "releasedir")
    assert op(mid, "readdir", "readdirplus") > op(before, "readdir", "readdirplus")
    assert op(after, "readdir", "readdirplus") == op(mid, "readdir", "readdirplus")
    # A change through the mount: the next listing is read afresh.
    write(u.m("common_dir/added"), "")
    assert "added" in os.listdir(u.m("common_dir"))
    assert op(ctl(u), "readdir", "readdirplus") > op(after, "readdir", "readdirplus")


def test_cache_never_opens_every_time(mount_union, ctl):
    u = mount_union("rw-ro", opts="cow,cache=never")
    before = ctl(u)
    for _ in range(3):
        os.listdir(u.m("common_dir"))
    after = ctl(u)
    # (unionfsctl itself opens the mount's root once per call)
    assert op(after, "opendir") - op(before, "opendir") >= 3
    assert eventually(lambda: op(ctl(u), "releasedir") - op(before, "releasedir") >= 3)


def test_watch_shows_lower_change_in_cached_listing(mount_union):
    """A listing the kernel keeps (no OPENDIR) still changes when a branch
    changes behind the mount."""
    u = mount_union("rw-ro", opts="cow,cache=auto")
    u.check_ro = False
    d = u.m("ro1_dir")
    assert "late" not in os.listdir(d)
    os.listdir(d)
    write(u.b["ro1"].p("ro1_dir/late"), "")
    assert eventually(lambda: "late" in os.listdir(d))
    os.unlink(u.b["ro1"].p("ro1_dir/late"))
    assert eventually(lambda: "late" not in os.listdir(d))


def test_fsync_of_directory_without_handle(mount_union):
    u = mount_union("rw-ro", opts="cow,cache=auto")
    fd = os.open(u.m("rw1_dir"), os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
