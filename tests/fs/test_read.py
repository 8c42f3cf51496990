"""Read side: lookup, branch priority, merged directories, readdir, symlinks,
xattrs, access, statfs and the meta directory."""
import errno
import os
import stat
import subprocess

import pytest

from fsutil import Branch, read, write

pytestmark = pytest.mark.fuse


def test_seed_lab(mount_union, workdir):
    d1 = Branch(os.path.join(workdir, "dir1"), "dir1", "RW")
    d2 = Branch(os.path.join(workdir, "dir2"), "dir2", "RO")
    os.mkdir(d1)
    os.mkdir(d2)
    for br, names in ((d1, ("f1", "f2")), (d2, ("f3", "f4"))):
        for n in names:
            write(br.p(n), n + "\n")
    u = mount_union([d1, d2], mnt="union", start=False)
    u.argv = lambda: [u.bin, "-f", "-o", "cache=never", "%s:%s" % (d1, d2), u.mnt]
    u.start()
    assert sorted(os.listdir(u.m())) == ["f1", "f2", "f3", "f4"]
    assert [read(u.m(n)) for n in ("f1", "f2", "f3", "f4")] == ["f1\n", "f2\n", "f3\n", "f4\n"]


@pytest.mark.parametrize("union,top", [("rw-ro", "rw1"), ("ro-rw", "ro1"), ("rw-rw", "rw1")],
                         indirect=["union"])
def test_name_in_two_branches_resolves_to_leftmost(union, top):
    assert read(union.m("common_file")) == top + "\n"


@pytest.mark.parametrize("union,top", [("rw-ro", "rw1"), ("ro-rw", "ro1")], indirect=["union"])
def test_nested_name_in_two_branches_resolves_to_leftmost(union, top):
    assert read(union.m("common_dir/common_file")) == top + "\n"


def test_attributes_come_from_winning_branch(mount_union):
    u = mount_union("rw-ro", start=False)
    os.chmod(u.b["ro1"].p("common_file"), 0o600)
    os.chmod(u.b["rw1"].p("common_file"), 0o640)
    write(u.b["ro1"].p("common_file"), "much longer content in ro1\n")
    u.start()
    st = os.stat(u.m("common_file"))
    assert stat.S_IMODE(st.st_mode) == 0o640
    assert st.st_size == len("rw1\n")


def test_name_only_in_lower_branch_is_visible(union):
    assert read(union.m("ro1_file")) == "ro1\n"
    assert read(union.m("ro1_dir/ro1_file")) == "ro1\n"


def test_missing_name_is_enoent(union):
    with pytest.raises(FileNotFoundError):
        os.stat(union.m("no_such_file"))


def test_root_listing_merges_branches(union):
    assert sorted(os.listdir(union.m())) == [
        "common_dir", "common_file", "ro1_dir", "ro1_file", "rw1_dir", "rw1_file"]


def test_merged_directory_three_branches_deep(mount_union):
    u = mount_union("rw-ro-ro", start=False)
    for br in u.branches:
        os.makedirs(br.p("a/b/c"))
        write(br.p("a/b/c/" + br.name), br.name)
        write(br.p("a/b/c/shared"), br.name)
        write(br.p("a/" + br.name + "_top"), br.name)
    u.start()
    assert sorted(os.listdir(u.m("a/b/c"))) == ["ro1", "ro2", "rw1", "shared"]
    assert read(u.m("a/b/c/shared")) == "rw1"
    assert read(u.m("a/b/c/ro2")) == "ro2"
    assert sorted(os.listdir(u.m("a"))) == ["b", "ro1_top", "ro2_top", "rw1_top"]


def test_merged_directory_dedupes_names(mount_union):
    u = mount_union("rw-ro-ro")
    names = os.listdir(u.m("common_dir"))
    assert sorted(names) == ["common_file", "ro1_file", "ro2_file", "rw1_file"]


def test_merged_directory_only_in_lowest_branches(mount_union):
    u = mount_union("rw-ro-ro", start=False)
    for br in u.branches[1:]:
        os.makedirs(br.p("deep/er"))
        write(br.p("deep/er/" + br.name), br.name)
    u.start()
    assert sorted(os.listdir(u.m("deep/er"))) == ["ro1", "ro2"]
    assert not os.path.exists(u.b["rw1"].p("deep"))


def test_file_above_directory_hides_directory(mount_union):
    u = mount_union("rw-ro", start=False)
    write(u.b["rw1"].p("thing"), "file")
    os.mkdir(u.b["ro1"].p("thing"))
    write(u.b["ro1"].p("thing/inner"), "x")
    u.start()
    assert os.path.isfile(u.m("thing"))
    assert read(u.m("thing")) == "file"


def test_directory_above_file_is_not_merged(mount_union):
    u = mount_union("rw-ro", start=False)
    os.mkdir(u.b["rw1"].p("thing"))
    write(u.b["rw1"].p("thing/inner"), "x")
    write(u.b["ro1"].p("thing"), "file")
    u.start()
    assert os.path.isdir(u.m("thing"))
    assert os.listdir(u.m("thing")) == ["inner"]


def test_large_directory_lists_every_name_once(mount_union):
    u = mount_union("rw-ro", start=False)
    for i in range(3000):
        br = u.b["rw1"] if i % 2 else u.b["ro1"]
        write(br.p("common_dir/n%05d" % i), "")
        if i % 3 == 0:
            write(u.b["ro1"].p("common_dir/n%05d" % i), "")
    u.start()
    names = os.listdir(u.m("common_dir"))
    assert len(names) == len(set(names))
    assert sorted(names) == sorted(["n%05d" % i for i in range(3000)] +
                                   ["common_file", "ro1_file", "rw1_file"])


def test_readdir_d_ino_matches_stat(union):
    for d in ("", "common_dir"):
        with os.scandir(union.m(d)) as it:
            for e in it:
                assert e.inode() == os.lstat(e.path).st_ino, e.path


def test_st_ino_stable_across_lookups(union):
    first = os.stat(union.m("common_dir/ro1_file")).st_ino
    os.listdir(union.m("common_dir"))
    assert os.stat(union.m("common_dir/ro1_file")).st_ino == first


def test_distinct_files_have_distinct_inodes(union):
    inos = {os.stat(union.m(p)).st_ino for p in
            ("common_file", "ro1_file", "rw1_file", "common_dir/ro1_file",
             "common_dir/rw1_file", "common_dir/common_file")}
    assert len(inos) == 6


def test_readlink_of_lower_symlink(mount_union):
    u = mount_union("rw-ro", start=False)
    os.symlink("ro1_file", u.b["ro1"].p("link"))
    os.symlink("/nonexistent/target", u.b["ro1"].p("dangling"))
    u.start()
    assert os.readlink(u.m("link")) == "ro1_file"
    assert read(u.m("link")) == "ro1\n"
    assert os.readlink(u.m("dangling")) == "/nonexistent/target"


def test_getxattr_of_lower_file(mount_union):
    u = mount_union("rw-ro", start=False)
    os.setxattr(u.b["ro1"].p("ro1_file"), "user.colour", b"blue")
    u.start()
    assert os.getxattr(u.m("ro1_file"), "user.colour") == b"blue"
    assert "user.colour" in os.listxattr(u.m("ro1_file"))


def test_getxattr_missing_is_enodata(union):
    with pytest.raises(OSError) as e:
        os.getxattr(union.m("ro1_file"), "user.none")
    assert e.value.errno == errno.ENODATA


def test_access_of_lower_file(union):
    assert os.access(union.m("ro1_file"), os.R_OK)
    assert not os.access(union.m("ro1_file"), os.X_OK)


def test_read_large_lower_file(mount_union):
    u = mount_union("rw-ro", start=False)
    data = os.urandom(3 << 20)
    write(u.b["ro1"].p("big"), data, "wb")
    u.start()
    assert read(u.m("big"), "rb") == data


def test_pread_at_offsets(mount_union):
    u = mount_union("rw-ro", start=False)
    data = bytes(range(256)) * 4096
    write(u.b["ro1"].p("big"), data, "wb")
    u.start()
    fd = os.open(u.m("big"), os.O_RDONLY)
    try:
        for off in (0, 1, 4095, 65536, len(data) - 10):
            assert os.pread(fd, 100, off) == data[off:off + 100]
    finally:
        os.close(fd)


def test_special_files_visible_from_lower_branch(mount_union):
    u = mount_union("rw-ro", start=False)
    os.mkfifo(u.b["ro1"].p("fifo"))
    os.mknod(u.b["ro1"].p("chr"), 0o600 | stat.S_IFCHR, os.makedev(1, 3))
    u.start()
    assert stat.S_ISFIFO(os.lstat(u.m("fifo")).st_mode)
    st = os.lstat(u.m("chr"))
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 3)


# --------------------------------------------------------------------------
# statfs

def fs_bytes(path):
    st = os.statvfs(path)
    return st.f_blocks * st.f_frsize


def test_statfs_same_device_counted_once(union):
    assert fs_bytes(union.m()) == pytest.approx(fs_bytes(union.b["rw1"]), rel=0.001)


@pytest.fixture
def tmpfs_branch(workdir):
    """A RO branch on its own small tmpfs (another device).  Request it before
    mount_union so the union is unmounted before the tmpfs."""
    path = os.path.join(workdir, "tmpfs_ro")
    os.mkdir(path)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "ufs-test", path], check=True)
    try:
        write(os.path.join(path, "tmpfs_file"), "tmpfs\n")
        yield Branch(path, "tmpfs_ro", "RO")
    finally:
        subprocess.run(["umount", "-l", path])


@pytest.mark.root
def test_statfs_sums_distinct_devices(tmpfs_branch, mount_union, make_branches):
    rw, = make_branches([("rw1", "RW")])
    u = mount_union([rw, tmpfs_branch])
    want = fs_bytes(rw) + fs_bytes(tmpfs_branch)
    assert fs_bytes(u.m()) == pytest.approx(want, rel=0.001)


@pytest.mark.root
def test_statfs_omit_ro_counts_only_rw(tmpfs_branch, mount_union, make_branches):
    rw, = make_branches([("rw1", "RW")])
    u = mount_union([rw, tmpfs_branch], opts="cow,statfs_omit_ro")
    assert fs_bytes(u.m()) == pytest.approx(fs_bytes(rw), rel=0.001)


@pytest.mark.root
def test_statfs_omit_ro_counts_ro_branch_above(tmpfs_branch, mount_union, make_branches):
    rw, = make_branches([("rw1", "RW")])
    u = mount_union([Branch(tmpfs_branch, "tmpfs_rw", "RW"), Branch(rw, "rw1", "RO")],
                    opts="cow,statfs_omit_ro")
    assert fs_bytes(u.m()) == pytest.approx(fs_bytes(tmpfs_branch), rel=0.001)


# --------------------------------------------------------------------------
# The meta directory

def test_meta_dir_listed_without_hide_meta_files(mount_union):
    u = mount_union("rw-ro", start=False)
    os.mkdir(u.b["rw1"].p(".unionfs"))
    u.start()
    assert ".unionfs" in os.listdir(u.m())


@pytest.mark.parametrize("opt", ["hide_meta_files", "hide_meta_dir"])
def test_hide_meta_files_hides_meta_dir_in_root(mount_union, opt):
    u = mount_union("rw-ro", opts="cow," + opt, start=False)
    os.mkdir(u.b["rw1"].p(".unionfs"))
    os.mkdir(u.b["ro1"].p(".unionfs-fuse"))
    u.start()
    names = os.listdir(u.m())
    assert ".unionfs" not in names and ".unionfs-fuse" not in names
    assert "ro1_file" in names


def test_hide_meta_files_keeps_same_name_in_subdirectory(mount_union):
    u = mount_union("rw-ro", opts="cow,hide_meta_files", start=False)
    write(u.b["ro1"].p("common_dir/.unionfs"), "not meta\n")
    u.start()
    assert ".unionfs" in os.listdir(u.m("common_dir"))


# --------------------------------------------------------------------------
# Node lifetime: lookups are forgotten exactly, so a big walk leaves no fds.

def daemon_fds(u):
    return len(os.listdir("/proc/%d/fd" % u.proc.pid))


@pytest.mark.slow
@pytest.mark.root
def test_walk_of_many_entries_leaves_no_fds(mount_union):
    u = mount_union("rw-ro", start=False)
    for top in range(20):
        d = u.b["ro1"].p("many/d%02d" % top)
        os.makedirs(d)
        for i in range(1000):
            open(os.path.join(d, "f%04d" % i), "w").close()
    u.start()
    base = daemon_fds(u)
    count = sum(len(files) + len(dirs) for _, dirs, files in os.walk(u.m("many")))
    assert count == 20 * 1000 + 20
    for _ in range(3):
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("2")
    assert daemon_fds(u) <= base + 32
