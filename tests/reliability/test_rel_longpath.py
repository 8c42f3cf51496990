"""Long paths: files 30 directories deep with a total path over 4 KiB work
through the union, copy-up of the whole parent chain included.  Such paths
cannot be passed to a single system call (PATH_MAX is 4096), so the test
walks them with directory fds (openat and friends), like find and tar do."""
import os
import stat
import subprocess

import pytest

from relutil import pattern

pytestmark = pytest.mark.fuse

DEPTH = 30
COMPONENTS = ["d%02d_" % i + "x" * 150 for i in range(DEPTH)]  # 154 bytes each
REL = "/".join(COMPONENTS)
assert len(REL) > 4096


def make_chain(root, mode=0o755):
    """mkdir -p of the deep chain under root; returns an fd of its end."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    for i, name in enumerate(COMPONENTS):
        try:
            os.mkdir(name, mode - (i % 2) * 0o020, dir_fd=fd)
        except FileExistsError:
            pass
        nfd = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = nfd
    return fd


def open_chain(root):
    """fd of the deep directory under root, or raise OSError."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for name in COMPONENTS:
            nfd = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nfd
    except OSError:
        os.close(fd)
        raise
    return fd


def put(dfd, name, data):
    fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644, dir_fd=dfd)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def get(dfd, name):
    fd = os.open(name, os.O_RDONLY, dir_fd=dfd)
    try:
        out = b""
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return out
            out += chunk
    finally:
        os.close(fd)


@pytest.fixture
def deep(mount_union):
    u = mount_union([("rw1", "RW"), ("ro1", "RO")], start=False)
    fd = make_chain(u.b["ro1"])
    put(fd, "leaf", pattern(1, 100000))
    put(fd, "gone", b"to be deleted\n")
    os.close(fd)
    return u.start()


@pytest.mark.valgrind
def test_deep_lower_file_reads_through_union(deep):
    fd = open_chain(deep.m())
    try:
        assert get(fd, "leaf") == pattern(1, 100000)
        assert sorted(os.listdir(fd)) == ["gone", "leaf"]
    finally:
        os.close(fd)


def test_deep_write_copies_up_whole_chain(deep):
    u = deep
    fd = open_chain(u.m())
    try:
        wfd = os.open("leaf", os.O_WRONLY, dir_fd=fd)
        os.pwrite(wfd, b"CHANGED", 5000)
        os.close(wfd)
    finally:
        os.close(fd)
    want = bytearray(pattern(1, 100000))
    want[5000:5007] = b"CHANGED"
    up = open_chain(u.b["rw1"])
    lo = open_chain(u.b["ro1"])
    try:
        assert get(up, "leaf") == bytes(want)
        assert get(lo, "leaf") == pattern(1, 100000)
    finally:
        os.close(up)
        os.close(lo)
    # The copied parents keep the lower directories' modes.
    ufd, lfd = os.open(u.b["rw1"], os.O_RDONLY), os.open(u.b["ro1"], os.O_RDONLY)
    try:
        for name in COMPONENTS:
            ust, lst = os.stat(name, dir_fd=ufd), os.stat(name, dir_fd=lfd)
            assert stat.S_IMODE(ust.st_mode) == stat.S_IMODE(lst.st_mode), name[:3]
            n1, n2 = (os.open(name, os.O_RDONLY, dir_fd=ufd), os.open(name, os.O_RDONLY,
                                                                         dir_fd=lfd))
            os.close(ufd)
            os.close(lfd)
            ufd, lfd = n1, n2
    finally:
        os.close(ufd)
        os.close(lfd)


def test_deep_create_and_rename(deep):
    fd = open_chain(deep.m())
    try:
        put(fd, "new", b"created deep\n")
        os.rename("new", "renamed", src_dir_fd=fd, dst_dir_fd=fd)
        assert sorted(os.listdir(fd)) == ["gone", "leaf", "renamed"]
        assert get(fd, "renamed") == b"created deep\n"
    finally:
        os.close(fd)
    up = open_chain(deep.b["rw1"])
    try:
        assert get(up, "renamed") == b"created deep\n"
    finally:
        os.close(up)


@pytest.mark.parametrize("fmt", ["unionfs", "overlay"])
def test_deep_unlink_and_rename_of_lower_files(mount_union, fmt):
    u = mount_union([("rw1", "RW"), ("ro1", "RO")], opts="cow,whiteout=" + fmt, start=False)
    fd = make_chain(u.b["ro1"])
    put(fd, "gone", b"to be deleted\n")
    put(fd, "moving", b"moved\n")
    os.close(fd)
    u.start()
    fd = open_chain(u.m())
    try:
        os.unlink("gone", dir_fd=fd)
        os.rename("moving", "moved", src_dir_fd=fd, dst_dir_fd=fd)
        assert os.listdir(fd) == ["moved"]
    finally:
        os.close(fd)
    u.remount()
    fd = open_chain(u.m())
    try:
        assert os.listdir(fd) == ["moved"]
        assert get(fd, "moved") == b"moved\n"
    finally:
        os.close(fd)


def test_find_walks_deep_tree(deep):
    # GNU find descends with directory fds, so it handles > PATH_MAX.
    r = subprocess.run(["find", ".", "-type", "f", "-name", "leaf"], cwd=deep.m(),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 1 and len(lines[0]) > 4096


def test_deep_mkdir_chain_in_union(mount_union):
    u = mount_union([("rw1", "RW"), ("ro1", "RO")])
    os.close(make_chain(u.m()))
    fd = open_chain(u.m())
    try:
        put(fd, "f", b"x")
    finally:
        os.close(fd)
    up = open_chain(u.b["rw1"])
    try:
        assert get(up, "f") == b"x"
    finally:
        os.close(up)
