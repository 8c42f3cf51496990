"""Write operations on every branch layout: changes to existing files (copied
up, changed in place, or refused), and creation of new objects."""
import errno
import fcntl
import mmap
import os
import socket
import stat
import subprocess

import pytest

from fsutil import read, write

pytestmark = pytest.mark.fuse

# Where a change to an existing lower file must land: (layout, file, branch
# that receives the change or None when the change must fail).
TARGETS = [
    pytest.param(("rw-ro", "ro1_file", "rw1"), id="rw-ro-copyup"),
    pytest.param(("rw-ro", "common_dir/ro1_file", "rw1"), id="rw-ro-nested-copyup"),
    pytest.param(("rw-ro-ro", "ro2_file", "rw1"), id="rw-ro-ro-copyup-two-levels"),
    pytest.param(("rw-rw-ro", "ro1_file", "rw2"), id="rw-rw-ro-nearest-rw-above"),
    pytest.param(("rw-rw", "rw2_file", "rw2"), id="rw-rw-in-place"),
    pytest.param(("rw-rw-nocow", "rw2_file", "rw2"), id="rw-rw-nocow-in-place"),
    pytest.param(("rw-ro-nocow", "ro1_file", None), id="rw-ro-nocow-refused"),
    pytest.param(("ro-rw", "ro1_file", None), id="ro-rw-refused"),
]


@pytest.fixture
def target(request, mount_union):
    """(union, relpath, receiving branch or None, original content)."""
    layout, rel, dest = request.param
    u = mount_union(layout, start=False)
    src = next(br for br in u.branches if os.path.lexists(br.p(rel)))
    os.setxattr(src.p(rel), "user.pre", b"1")
    orig = read(src.p(rel))
    u.start()
    u.src = src
    return u, rel, dest, orig


def check_landing(u, rel, dest, check):
    """The change is visible in the union and in branch dest only; no other
    branch got a copy."""
    check(u.m(rel))
    check(u.b[dest].p(rel))
    for br in u.branches:
        if br.name not in (dest, u.src.name) and br.mode == "RW":
            assert not os.path.lexists(br.p(rel)), "copy in %s" % br.name


def run_op(u, rel, dest, op, check, unchanged):
    if dest is None:
        with pytest.raises(OSError) as e:
            op(u.m(rel))
        assert e.value.errno in (errno.EROFS, errno.EACCES), e.value
        unchanged(u.m(rel))
        for br in u.branches:
            if br.mode == "RW" and br != u.src:
                assert not os.path.lexists(br.p(rel))
        return
    op(u.m(rel))
    check_landing(u, rel, dest, check)


def content_is(expected):
    def _check(path):
        assert read(path) == expected
    return _check


@pytest.mark.parametrize("target", TARGETS, indirect=True)
def test_write_in_place(target):
    u, rel, dest, orig = target

    def op(p):
        with open(p, "r+") as f:
            f.write("XY")
    run_op(u, rel, dest, op, content_is("XY" + orig[2:]), content_is(orig))


@pytest.mark.parametrize("target", TARGETS, indirect=True)
def test_open_trunc(target):
    u, rel, dest, orig = target
    run_op(u, rel, dest, lambda p: write(p, "new\n"), content_is("new\n"), content_is(orig))


@pytest.mark.parametrize("target", TARGETS, indirect=True)
def test_append(target):
    u, rel, dest, orig = target
    run_op(u, rel, dest, lambda p: write(p, "more", "a"), content_is(orig + "more"),
           content_is(orig))


@pytest.mark.parametrize("target", TARGETS, indirect=True)
def test_o_append_writes_at_end_after_seek(target):
    u, rel, dest, orig = target

    def op(p):
        fd = os.open(p, os.O_WRONLY | os.O_APPEND)
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, b"tail")
        finally:
            os.close(fd)
    run_op(u, rel, dest, op, content_is(orig + "tail"), content_is(orig))


@pytest.mark.parametrize("target", TARGETS, indirect=True)
def test_truncate(target):
    u, rel, dest, orig = target
    run_op(u, rel, dest, lambda p: os.truncate(p, 1), content_is(orig[:1]), content_is(orig))


@pytest.mark.parametrize("target", TARGETS, indirect=True)
def test_ftruncate_extends_with_zeros(target):
    u, rel, dest, orig = target

    def op(p):
        fd = os.open(p, os.O_WRONLY)
        try:
            os.ftruncate(fd, 10)
        finally:
            os.close(fd)
    run_op(u, rel, dest, op, content_is(orig + "\0" * (10 - len(orig))), content_is(orig))


@pytest.mark.parametrize("target", TARGETS, indirect=True)
def test_chmod(target):
    u, rel, dest, orig = target

    def check(p):
        assert stat.S_IMODE(os.stat(p).st_mode) == 0o604
        assert read(p) == orig
    run_op(u, rel, dest, lambda p: os.chmod(p, 0o604), check,
           lambda p: stat.S_IMODE(os.stat(p).st_mode) == 0o644 or pytest.fail("mode changed"))


@pytest.mark.root
@pytest.mark.parametrize("target", TARGETS, indirect=True)
def test_chown(target):
    u, rel, dest, orig = target

    def check(p):
        st = os.stat(p)
        assert (st.st_uid, st.st_gid) == (1234, 5678)
    run_op(u, rel, dest, lambda p: os.chown(p, 1234, 5678), check,
           lambda p: os.stat(p).st_uid == 0 or pytest.fail("owner changed"))


@pytest.mark.parametrize("target", TARGETS, indirect=True)
def test_utimens_ns(target):
    u, rel, dest, orig = target

    def check(p):
        st = os.stat(p)
        assert (st.st_atime_ns, st.st_mtime_ns) == (1_000_000_001, 2_000_000_002)
    run_op(u, rel, dest, lambda p: os.utime(p, ns=(1_000_000_001, 2_000_000_002)), check,
           lambda p: os.stat(p).st_mtime_ns != 2_000_000_002 or pytest.fail("time changed"))


@pytest.mark.parametrize("target", TARGETS, indirect=True)
def test_setxattr(target):
    u, rel, dest, orig = target

    def check(p):
        assert os.getxattr(p, "user.new") == b"value"
        assert os.getxattr(p, "user.pre") == b"1"
    run_op(u, rel, dest, lambda p: os.setxattr(p, "user.new", b"value"), check,
           lambda p: "user.new" not in os.listxattr(p) or pytest.fail("xattr set"))


@pytest.mark.parametrize("target", TARGETS, indirect=True)
def test_removexattr(target):
    u, rel, dest, orig = target

    def check(p):
        assert "user.pre" not in os.listxattr(p)
        assert read(p) == orig
    run_op(u, rel, dest, lambda p: os.removexattr(p, "user.pre"), check,
           lambda p: os.getxattr(p, "user.pre") == b"1" or pytest.fail("xattr removed"))


@pytest.mark.parametrize("target", TARGETS, indirect=True)
def test_posix_fallocate_extends(target):
    u, rel, dest, orig = target

    def op(p):
        fd = os.open(p, os.O_WRONLY)
        try:
            os.posix_fallocate(fd, 0, 8192)
        finally:
            os.close(fd)

    def check(p):
        assert os.path.getsize(p) == 8192
        assert read(p, "rb")[:len(orig)] == orig.encode()
    run_op(u, rel, dest, op, check, content_is(orig))


@pytest.mark.parametrize("target", TARGETS, indirect=True)
def test_mmap_shared_write(target):
    u, rel, dest, orig = target

    def op(p):
        with open(p, "r+b") as f:
            with mmap.mmap(f.fileno(), 0, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE) as m:
                m[0:2] = b"MM"
                m.flush()
    run_op(u, rel, dest, op, content_is("MM" + orig[2:]), content_is(orig))


@pytest.mark.parametrize("target", TARGETS, indirect=True)
def test_open_rdwr_without_writing(target):
    u, rel, dest, orig = target

    def op(p):
        os.close(os.open(p, os.O_RDWR))

    def check(p):
        assert read(p) == orig
    run_op(u, rel, dest, op, check, content_is(orig))


@pytest.mark.parametrize("target", TARGETS, indirect=True)
def test_read_only_use_changes_nothing(target):
    u, rel, dest, orig = target
    assert read(u.m(rel)) == orig
    os.stat(u.m(rel))
    os.listdir(os.path.dirname(u.m(rel)))
    os.access(u.m(rel), os.W_OK)
    os.listxattr(u.m(rel))
    for br in u.branches:
        if br != u.src:
            assert not os.path.lexists(br.p(rel))


# --------------------------------------------------------------------------
# New objects go to the highest-priority RW branch (rw1 in every layout).

CREATE_LAYOUTS = ["rw-ro", "ro-rw", "rw-rw", "rw-ro-nocow"]


def created_only_in_rw1(u, rel):
    for br in u.branches:
        assert os.path.lexists(br.p(rel)) == (br.name == "rw1"), br.name


@pytest.mark.parametrize("union", CREATE_LAYOUTS, indirect=True)
def test_create_file(union):
    write(union.m("new_file"), "hello\n")
    assert read(union.m("new_file")) == "hello\n"
    assert read(union.b["rw1"].p("new_file")) == "hello\n"
    created_only_in_rw1(union, "new_file")


@pytest.mark.parametrize("union", CREATE_LAYOUTS, indirect=True)
def test_create_exclusive_on_existing_lower_name_fails(union):
    lower = union.branches[-1].name + "_file"
    with pytest.raises(FileExistsError):
        os.close(os.open(union.m(lower), os.O_CREAT | os.O_EXCL | os.O_WRONLY))


@pytest.mark.parametrize("union", CREATE_LAYOUTS, indirect=True)
def test_mkdir(union):
    os.mkdir(union.m("new_dir"), 0o750)
    assert os.path.isdir(union.m("new_dir"))
    assert stat.S_IMODE(os.stat(union.b["rw1"].p("new_dir")).st_mode) == 0o750
    created_only_in_rw1(union, "new_dir")


@pytest.mark.parametrize("union", CREATE_LAYOUTS, indirect=True)
def test_symlink(union):
    os.symlink("some/target", union.m("new_link"))
    assert os.readlink(union.m("new_link")) == "some/target"
    assert os.readlink(union.b["rw1"].p("new_link")) == "some/target"
    created_only_in_rw1(union, "new_link")


@pytest.mark.parametrize("union", CREATE_LAYOUTS, indirect=True)
def test_mkfifo(union):
    os.mkfifo(union.m("new_fifo"))
    assert stat.S_ISFIFO(os.lstat(union.m("new_fifo")).st_mode)
    assert stat.S_ISFIFO(os.lstat(union.b["rw1"].p("new_fifo")).st_mode)
    created_only_in_rw1(union, "new_fifo")


@pytest.mark.parametrize("union", CREATE_LAYOUTS, indirect=True)
def test_mknod_socket(union):
    os.mknod(union.m("new_sock"), 0o600 | stat.S_IFSOCK)
    assert stat.S_ISSOCK(os.lstat(union.m("new_sock")).st_mode)
    assert stat.S_ISSOCK(os.lstat(union.b["rw1"].p("new_sock")).st_mode)
    created_only_in_rw1(union, "new_sock")


@pytest.mark.root
@pytest.mark.parametrize("union", CREATE_LAYOUTS, indirect=True)
def test_mknod_char_device(union):
    os.mknod(union.m("new_chr"), 0o600 | stat.S_IFCHR, os.makedev(1, 3))
    st = os.lstat(union.m("new_chr"))
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 3)
    assert os.lstat(union.b["rw1"].p("new_chr")).st_rdev == os.makedev(1, 3)
    created_only_in_rw1(union, "new_chr")


@pytest.mark.root
@pytest.mark.parametrize("union", CREATE_LAYOUTS, indirect=True)
def test_mknod_block_device(union):
    os.mknod(union.m("new_blk"), 0o600 | stat.S_IFBLK, os.makedev(7, 200))
    st = os.lstat(union.m("new_blk"))
    assert stat.S_ISBLK(st.st_mode) and st.st_rdev == os.makedev(7, 200)
    created_only_in_rw1(union, "new_blk")


@pytest.mark.parametrize("union", CREATE_LAYOUTS, indirect=True)
def test_bound_unix_socket(union):
    s = socket.socket(socket.AF_UNIX)
    try:
        s.bind(union.m("bound.sock"))
        assert stat.S_ISSOCK(os.lstat(union.m("bound.sock")).st_mode)
    finally:
        s.close()
    created_only_in_rw1(union, "bound.sock")


@pytest.mark.parametrize("union", CREATE_LAYOUTS, indirect=True)
def test_link_new_file(union):
    write(union.m("orig"), "data")
    os.link(union.m("orig"), union.m("alias"))
    assert os.stat(union.m("alias")).st_nlink == 2
    assert os.stat(union.m("orig")).st_ino == os.stat(union.m("alias")).st_ino
    a, b = os.stat(union.b["rw1"].p("orig")), os.stat(union.b["rw1"].p("alias"))
    assert a.st_ino == b.st_ino
    created_only_in_rw1(union, "alias")


# The kernel keeps names only with caching: that is where a file's node
# must follow it from name to name.
LINK_CASES = [(layout, cache) for layout in CREATE_LAYOUTS for cache in ("cache=never", "cache=auto")]


@pytest.mark.parametrize("union", LINK_CASES, indirect=True, ids="-".join)
def test_unlink_newer_link_keeps_the_first_name_working(union):
    """After ln orig alias; rm alias the file is still reached through the
    name the kernel knew first (the daemon had it filed under the newer)."""
    write(union.m("orig"), "data\n")
    os.link(union.m("orig"), union.m("alias"))
    os.unlink(union.m("alias"))
    os.chmod(union.m("orig"), 0o600)
    with open(union.m("orig"), "a") as f:
        f.write("more\n")
    st = os.stat(union.m("orig"))
    assert (st.st_nlink, stat.S_IMODE(st.st_mode)) == (1, 0o600)
    assert read(union.m("orig")) == "data\nmore\n"
    assert read(union.b["rw1"].p("orig")) == "data\nmore\n"
    assert os.listdir(union.b["rw1"].p()).count("alias") == 0


@pytest.mark.parametrize("union", [c for c in LINK_CASES if c[0] != "ro-rw"], indirect=True,
                         ids="-".join)
def test_rename_over_a_link_changes_only_the_file_renamed(union):
    """ln orig alias; mv other alias: changes through orig reach orig, never
    the file now called alias."""
    write(union.m("orig"), "orig\n")
    write(union.m("other"), "other\n")
    os.link(union.m("orig"), union.m("alias"))
    os.rename(union.m("other"), union.m("alias"))
    os.chmod(union.m("orig"), 0o600)
    with open(union.m("orig"), "a") as f:
        f.write("more\n")
    assert read(union.m("orig")) == "orig\nmore\n"
    assert read(union.m("alias")) == "other\n"
    assert stat.S_IMODE(os.stat(union.m("alias")).st_mode) != 0o600
    assert read(union.b["rw1"].p("orig")) == "orig\nmore\n"
    assert read(union.b["rw1"].p("alias")) == "other\n"
    assert os.stat(union.b["rw1"].p("orig")).st_nlink == 1


def test_hidden_lower_link_keeps_the_other_name_working(mount_union):
    """Two names of one file on a read-only branch, both looked up: removing
    one (a whiteout) leaves the other usable, and its copy-up correct."""
    u = mount_union("rw-ro", opts="cow,cache=auto", start=False)
    write(u.b["ro1"].p("one"), "shared\n")
    os.link(u.b["ro1"].p("one"), u.b["ro1"].p("two"))
    u.start()
    os.stat(u.m("one"))
    os.stat(u.m("two"))
    os.unlink(u.m("two"))
    os.chmod(u.m("one"), 0o600)
    assert read(u.m("one")) == "shared\n"
    assert stat.S_IMODE(os.stat(u.b["rw1"].p("one")).st_mode) == 0o600
    assert not os.path.exists(u.m("two"))
    assert os.path.exists(u.b["rw1"].hidden("two"))


@pytest.mark.parametrize("union", CREATE_LAYOUTS, indirect=True)
def test_create_in_rw_only_subdir(union):
    write(union.m("rw1_dir/new"), "x")
    assert read(union.b["rw1"].p("rw1_dir/new")) == "x"


def test_create_in_lower_only_dir_copies_parent_chain(mount_union):
    u = mount_union("rw-ro", start=False)
    os.makedirs(u.b["ro1"].p("a/b/c"))
    os.chmod(u.b["ro1"].p("a"), 0o711)
    os.chmod(u.b["ro1"].p("a/b"), 0o750)
    os.utime(u.b["ro1"].p("a/b"), ns=(5_000_000_005, 6_000_000_006))
    u.start()
    write(u.m("a/b/c/new"), "x")
    assert read(u.b["rw1"].p("a/b/c/new")) == "x"
    assert stat.S_IMODE(os.stat(u.b["rw1"].p("a")).st_mode) == 0o711
    assert stat.S_IMODE(os.stat(u.b["rw1"].p("a/b")).st_mode) == 0o750
    assert sorted(os.listdir(u.m("a/b/c"))) == ["new"]


def test_parent_chain_copy_keeps_lower_dir_mtime(mount_union):
    u = mount_union("rw-ro", start=False)
    os.makedirs(u.b["ro1"].p("a/b"))
    os.utime(u.b["ro1"].p("a"), ns=(5_000_000_005, 6_000_000_006))
    u.start()
    write(u.m("a/b/new"), "x")
    assert os.stat(u.b["rw1"].p("a")).st_mtime_ns == 6_000_000_006


def test_mkdir_in_lower_only_dir(union):
    os.mkdir(union.m("ro1_dir/sub"))
    assert os.path.isdir(union.b["rw1"].p("ro1_dir/sub"))
    assert sorted(os.listdir(union.m("ro1_dir"))) == ["ro1_file", "sub"]


def test_create_in_lower_only_dir_nocow_does_not_touch_ro(mount_union):
    u = mount_union("rw-ro-nocow")
    try:
        write(u.m("ro1_dir/new"), "x")
    except OSError as e:
        assert e.errno in (errno.EROFS, errno.EACCES)
        assert not os.path.lexists(u.m("ro1_dir/new"))
    else:
        assert read(u.b["rw1"].p("ro1_dir/new")) == "x"
    assert not os.path.lexists(u.b["ro1"].p("ro1_dir/new"))


def test_rmdir_upper_only_directory(union):
    os.mkdir(union.m("d"))
    os.rmdir(union.m("d"))
    assert not os.path.lexists(union.m("d"))
    assert not os.path.lexists(union.b["rw1"].p("d"))
    assert not os.path.lexists(union.b["rw1"].hidden("d"))


def test_rmdir_non_empty_upper_directory_fails(union):
    with pytest.raises(OSError) as e:
        os.rmdir(union.m("rw1_dir"))
    assert e.value.errno == errno.ENOTEMPTY
    assert os.path.isfile(union.b["rw1"].p("rw1_dir/rw1_file"))


def test_unlink_directory_is_eisdir(union):
    with pytest.raises(OSError) as e:
        os.unlink(union.m("ro1_dir"))
    assert e.value.errno in (errno.EISDIR, errno.EPERM)


def test_write_large_file_and_read_back(union):
    data = os.urandom(4 << 20)
    write(union.m("big"), data, "wb")
    assert read(union.m("big"), "rb") == data
    assert read(union.b["rw1"].p("big"), "rb") == data


def test_fsync_and_fdatasync(union):
    fd = os.open(union.m("ro1_file"), os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, b"x")
        os.fsync(fd)
        os.fdatasync(fd)
    finally:
        os.close(fd)
    assert read(union.b["rw1"].p("ro1_file")) == "ro1\nx"


def test_fsync_directory(union):
    fd = os.open(union.m("common_dir"), os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def test_o_direct_write_read(union):
    buf = mmap.mmap(-1, 8192)
    buf.write(b"D" * 8192)
    fd = os.open(union.m("direct"), os.O_CREAT | os.O_RDWR | os.O_DIRECT, 0o644)
    try:
        assert os.write(fd, buf) == 8192
    finally:
        os.close(fd)
    assert read(union.b["rw1"].p("direct"), "rb") == b"D" * 8192


def test_copy_file_range_within_union(union):
    data = os.urandom(1 << 20)
    write(union.m("src"), data, "wb")
    src = os.open(union.m("src"), os.O_RDONLY)
    dst = os.open(union.m("dst"), os.O_CREAT | os.O_WRONLY, 0o644)
    try:
        done = 0
        while done < len(data):
            n = os.copy_file_range(src, dst, len(data) - done, done, done)
            assert n > 0
            done += n
    finally:
        for fd in (src, dst):
            os.close(fd)
    assert read(union.m("dst"), "rb") == data
    assert read(union.b["rw1"].p("dst"), "rb") == data


def test_copy_file_range_into_lower_file_copies_up(union):
    write(union.m("src"), "ABCD")
    src = os.open(union.m("src"), os.O_RDONLY)
    dst = os.open(union.m("ro1_file"), os.O_WRONLY)
    try:
        assert os.copy_file_range(src, dst, 2, 0, 0) == 2
    finally:
        os.close(src)
        os.close(dst)
    assert read(union.m("ro1_file")) == "AB1\n"
    assert read(union.b["rw1"].p("ro1_file")) == "AB1\n"


def test_seek_data_and_hole(union):
    fd = os.open(union.m("sparse"), os.O_CREAT | os.O_RDWR, 0o644)
    try:
        os.pwrite(fd, b"x" * 4096, 1 << 20)
        os.fsync(fd)
        assert os.lseek(fd, 0, os.SEEK_DATA) == 1 << 20
        assert os.lseek(fd, 1 << 20, os.SEEK_HOLE) == (1 << 20) + 4096
    finally:
        os.close(fd)


def test_punch_hole(union, helper_bin):
    write(union.m("holey"), b"A" * (256 << 10), "wb")
    r = subprocess.run([helper_bin("falloc"), "punch", union.m("holey"), "65536", "65536"])
    assert r.returncode == 0
    data = read(union.m("holey"), "rb")
    assert data[65536:131072] == b"\0" * 65536 and data[:65536] == b"A" * 65536
    assert os.stat(union.b["rw1"].p("holey")).st_blocks * 512 <= (192 << 10)


def test_punch_hole_in_lower_file_copies_up(mount_union, helper_bin):
    u = mount_union("rw-ro", start=False)
    write(u.b["ro1"].p("holey"), b"A" * (256 << 10), "wb")
    u.start()
    r = subprocess.run([helper_bin("falloc"), "punch", u.m("holey"), "0", "65536"])
    assert r.returncode == 0
    assert read(u.b["rw1"].p("holey"), "rb")[:65536] == b"\0" * 65536
    assert read(u.b["ro1"].p("holey"), "rb") == b"A" * (256 << 10)


def test_flock_conflicts_between_open_files(union):
    with open(union.m("ro1_file")) as a, open(union.m("ro1_file")) as b:
        fcntl.flock(a, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(BlockingIOError):
            fcntl.flock(b, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(a, fcntl.LOCK_UN)
        fcntl.flock(b, fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_posix_lock_conflicts_between_processes(union):
    path = union.m("ro1_file")
    with open(path, "r+") as f:
        fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        code = ("import fcntl,sys\nf=open(sys.argv[1],'r+')\n"
                "try:\n fcntl.lockf(f, fcntl.LOCK_EX|fcntl.LOCK_NB)\nexcept OSError:\n sys.exit(7)\n")
        r = subprocess.run(["/usr/bin/python3", "-c", code, path])
        assert r.returncode == 7
        fcntl.lockf(f, fcntl.LOCK_UN)
        r = subprocess.run(["/usr/bin/python3", "-c", code, path])
        assert r.returncode == 0


def test_o_tmpfile_linked_into_union(union, helper_bin):
    r = subprocess.run([helper_bin("tmpfile"), union.m("common_dir"), "tmpdata", union.m("common_dir/from_tmp")],
                       stderr=subprocess.PIPE, text=True)
    if r.returncode in (errno.EOPNOTSUPP, errno.EISDIR) and "open" in r.stderr:
        # FUSE without tmpfile support: refused cleanly, nothing created.
        assert sorted(os.listdir(union.m("common_dir"))) == ["common_file", "ro1_file", "rw1_file"]
        return
    assert r.returncode == 0, r.stderr
    assert read(union.m("common_dir/from_tmp")) == "tmpdata"
    assert read(union.b["rw1"].p("common_dir/from_tmp")) == "tmpdata"


def test_ioctl_getflags_reaches_backing_file(union, helper_bin):
    r = subprocess.run([helper_bin("fsioctl"), "get", union.m("rw1_file")],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    want = subprocess.run([helper_bin("fsioctl"), "get", union.b["rw1"].p("rw1_file")],
                          stdout=subprocess.PIPE, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout == want.stdout


@pytest.mark.root
def test_ioctl_setflags_reaches_backing_file(union, helper_bin):
    # FS_NOATIME_FL (0x80): settable by root on ext4.
    r = subprocess.run([helper_bin("fsioctl"), "set", union.m("rw1_file"), "0x80"],
                       stderr=subprocess.PIPE, text=True)
    assert r.returncode == 0, r.stderr
    out = subprocess.run([helper_bin("fsioctl"), "get", union.b["rw1"].p("rw1_file")],
                         stdout=subprocess.PIPE, text=True).stdout
    assert int(out, 16) & 0x80


def test_unknown_ioctl_is_enotty(union, helper_bin):
    r = subprocess.run([helper_bin("fsioctl"), "unknown", union.m("rw1_file")],
                       stderr=subprocess.PIPE, text=True)
    assert r.returncode == errno.ENOTTY, r.stderr


def test_utimens_omit_keeps_mtime(union, helper_bin):
    os.utime(union.m("rw1_file"), ns=(1_000_000_000, 2_000_000_000))
    r = subprocess.run([helper_bin("utimens"), union.m("rw1_file"), "7.000000007", "omit"])
    assert r.returncode == 0
    st = os.stat(union.b["rw1"].p("rw1_file"))
    assert (st.st_atime_ns, st.st_mtime_ns) == (7_000_000_007, 2_000_000_000)


def test_utimens_now_on_lower_file_copies_up(union, helper_bin):
    before = os.stat(union.b["ro1"].p("ro1_file")).st_mtime_ns
    r = subprocess.run([helper_bin("utimens"), union.m("ro1_file"), "omit", "now"])
    assert r.returncode == 0
    assert os.stat(union.b["rw1"].p("ro1_file")).st_mtime_ns >= before
    assert os.stat(union.m("ro1_file")).st_mtime_ns == os.stat(union.b["rw1"].p("ro1_file")).st_mtime_ns


@pytest.mark.parametrize("union", [("rw-ro", "nopassthrough")], indirect=True)
def test_handle_opened_read_only_sees_write_through_other_handle(union):
    # With passthrough it keeps the lower data (test_passthrough.py).
    with open(union.m("ro1_file")) as r:
        with open(union.m("ro1_file"), "r+") as w:
            w.write("NEW")
        r.seek(0)
        assert r.read() == "NEW\n"
    assert read(union.b["rw1"].p("ro1_file")) == "NEW\n"
