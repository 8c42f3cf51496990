"""Resource hygiene of the daemon: its open fd count returns to the baseline
once workloads have closed their files (and the kernel has forgotten the
inodes), `max_files` turns exhaustion into EMFILE for the caller instead of
a crash, and memory stays bounded while `find` walks a big tree again and
again (10k entries in `make check`, 200k per UFS_STRESS unit)."""
import errno
import os
import subprocess
import time

import pytest

from relutil import (VALGRIND, daemon_fds, daemon_rss_kib, drop_caches, pattern, read,
                     sanitized_build, scaled, write)

pytestmark = pytest.mark.fuse

RW_RO = [("rw1", "RW"), ("ro1", "RO")]
FD_SLACK = 4


def settle(u, limit=None, timeout=30.0):
    """Let the kernel send its FORGETs, then count the daemon's fds.  RELEASE
    and FORGET reach the daemon asynchronously (slowly under valgrind), so
    with a limit the count is taken again until it is within the limit or
    the time is up; the last count is returned either way."""
    deadline = time.monotonic() + timeout
    while True:
        drop_caches()
        drop_caches()
        n = daemon_fds(u.proc.pid)
        if limit is None or n <= limit or time.monotonic() > deadline:
            return n
        time.sleep(0.2)


def lower_tree(root, dirs, files):
    for d in range(dirs):
        base = os.path.join(root, "t", "d%03d" % d)
        os.makedirs(base)
        for i in range(files):
            write(os.path.join(base, "f%04d" % i), b"%d/%d\n" % (d, i))


@pytest.mark.valgrind
def test_fd_count_returns_to_baseline_after_workload(mount_union, need_root):
    u = mount_union(RW_RO, start=False)
    lower_tree(u.b["ro1"], 10, 30)
    u.start()
    base = settle(u)
    held = []
    try:
        for d in range(10):
            for i in range(30):
                held.append(open(u.m("t/d%03d/f%04d" % (d, i)), "rb"))
        with open(u.m("t/d001/f0001"), "ab") as f:  # a copy-up
            f.write(b"more\n")
        for d in range(0, 10, 2):
            os.rename(u.m("t/d%03d/f0002" % d), u.m("t/d%03d/moved" % d))
            os.unlink(u.m("t/d%03d/f0003" % d))
            os.mkdir(u.m("t/d%03d/newdir" % d))
            write(u.m("t/d%03d/newdir/x" % d), b"x")
        assert sum(len(f) for _, _, f in os.walk(u.m("t"))) == 300 - 5 + 5
        assert daemon_fds(u.proc.pid) > base + 250, "open files do not hold branch fds?"
    finally:
        for f in held:
            f.close()
    after = settle(u, base + FD_SLACK)
    assert after <= base + FD_SLACK, "daemon fds: %d at start, %d after the workload" % (
        base, after)


def open_until_emfile(u, names):
    """Open every name (os.open); returns (fds, set of errnos)."""
    fds, errors = [], set()
    for name in names:
        try:
            fds.append(os.open(u.m(name), os.O_RDONLY))
        except OSError as e:
            errors.add(e.errno)
    return fds, errors


def close_all(fds):
    """Close every fd even if some close fails; returns the failures."""
    failed = []
    for fd in fds:
        try:
            os.close(fd)
        except OSError as e:
            failed.append(errno.errorcode[e.errno])
    return failed


@pytest.fixture
def limited(mount_union):
    u = mount_union(RW_RO, opts="cow,max_files=%d" % MAX_FILES, start=False)
    for i in range(200):
        write(u.b["ro1"] + "/f%03d" % i, b"%d\n" % i)
    return u.start()


MAX_FILES = 64
NAMES = ["f%03d" % i for i in range(200)]


def test_max_files_gives_emfile_not_a_crash(limited):
    u = limited
    fds, errors = open_until_emfile(u, NAMES)
    close_all(fds)
    assert errors == {errno.EMFILE}, [errno.errorcode[e] for e in errors]
    assert 0 < len(fds) < MAX_FILES
    assert u.proc.poll() is None, "daemon died"
    settle(u)
    for name in NAMES:
        assert read(u.m(name)) == b"%d\n" % int(name[1:])
    write(u.m("new"), b"after\n")
    assert read(u.b["rw1"] + "/new") == b"after\n"


def test_max_files_close_never_fails(limited):
    fds, errors = open_until_emfile(limited, NAMES)
    failed = close_all(fds)
    assert errors == {errno.EMFILE}
    assert failed == [], "close(2) failed: %s" % failed


@pytest.mark.slow
def test_memory_bounded_while_find_walks_repeatedly(mount_union, unionfs_bin, need_root):
    if sanitized_build(unionfs_bin) or VALGRIND:
        pytest.skip("ASan's quarantine and valgrind keep freed memory: RSS says nothing here")
    entries = scaled(10000, 200000)
    per_dir = 500
    u = mount_union(RW_RO, start=False)
    lower_tree(u.b["ro1"], entries // per_dir, per_dir)
    # Some merged directories and whiteouts, so the walk is not trivial.
    for d in range(0, entries // per_dir, 7):
        os.makedirs(u.b["rw1"] + "/t/d%03d" % d)
        write(u.b["rw1"] + "/t/d%03d/upper" % d, b"u")
    u.start()
    walks = scaled(3, 6)
    rss = []
    for _ in range(walks):
        r = subprocess.run(["find", u.m("t"), "-printf", "%i %s\n"], stdout=subprocess.PIPE,
                           check=True)
        assert r.stdout.count(b"\n") >= entries
        drop_caches()
        rss.append(daemon_rss_kib(u.proc.pid))
    # The first walk sizes the caches; later walks must not keep growing.
    growth = rss[-1] - rss[0]
    assert growth <= max(16 * 1024, rss[0] // 4), "daemon RSS per walk (KiB): %s" % rss


def test_fd_count_after_repeated_copy_ups(mount_union, need_root):
    u = mount_union(RW_RO, start=False)
    for i in range(100):
        write(u.b["ro1"] + "/c%03d" % i, pattern(i, 20000))
    u.start()
    base = settle(u)
    for i in range(100):
        with open(u.m("c%03d" % i), "r+b") as f:
            f.write(b"head")
        os.setxattr(u.m("c%03d" % i), "user.x", b"1")
    after = settle(u, base + FD_SLACK)
    assert after <= base + FD_SLACK, (base, after)
