"""Copy-up fidelity: what a file looks like after it is copied to the RW
branch.  Copy-ups are triggered by setting an unrelated xattr (which changes
nothing else) unless the test is about another trigger."""
import os
import stat
import struct
import subprocess

import pytest

from fsutil import Branch, read, write

pytestmark = pytest.mark.fuse


def trigger(path):
    os.setxattr(path, "user.trigger", b"1", follow_symlinks=False)


def no_temp_leftovers(branch):
    """After a finished copy-up the branch holds no temporary files: only
    whiteout markers (and directories) may live in its meta directory."""
    meta = os.path.join(branch, ".unionfs")
    left = []
    for dirpath, dirnames, filenames in os.walk(meta):
        left += [os.path.join(dirpath, f) for f in filenames if not f.endswith("_HIDDEN~")]
    return left


@pytest.fixture
def lower(mount_union):
    """A rw-ro union, not yet started: tests prepare ro1 and call u.start()."""
    return mount_union("rw-ro", start=False)


def test_data_copied(lower):
    data = os.urandom(3 << 20)
    write(lower.b["ro1"].p("data"), data, "wb")
    lower.start()
    trigger(lower.m("data"))
    assert read(lower.b["rw1"].p("data"), "rb") == data
    assert read(lower.m("data"), "rb") == data


def test_empty_file_copied(lower):
    write(lower.b["ro1"].p("empty"), "")
    lower.start()
    trigger(lower.m("empty"))
    assert os.path.getsize(lower.b["rw1"].p("empty")) == 0


def test_no_temp_files_after_copy_up(lower):
    write(lower.b["ro1"].p("data"), os.urandom(1 << 20), "wb")
    lower.start()
    trigger(lower.m("data"))
    assert no_temp_leftovers(lower.b["rw1"]) == []
    assert sorted(os.listdir(lower.b["rw1"])) in (
        sorted(["common_dir", "common_file", "rw1_dir", "rw1_file", "data"]),
        sorted(["common_dir", "common_file", "rw1_dir", "rw1_file", "data", ".unionfs"]))


@pytest.mark.parametrize("mode", [0o4755, 0o2755, 0o1777, 0o6711, 0o600, 0o000])
def test_mode_bits_preserved(lower, mode):
    write(lower.b["ro1"].p("f"), "x")
    os.chmod(lower.b["ro1"].p("f"), mode)
    lower.start()
    trigger(lower.m("f"))
    assert stat.S_IMODE(os.stat(lower.b["rw1"].p("f")).st_mode) == mode
    assert stat.S_IMODE(os.stat(lower.m("f")).st_mode) == mode


@pytest.mark.root
def test_owner_preserved(lower):
    write(lower.b["ro1"].p("f"), "x")
    os.chown(lower.b["ro1"].p("f"), 1234, 5678)
    lower.start()
    trigger(lower.m("f"))
    st = os.stat(lower.b["rw1"].p("f"))
    assert (st.st_uid, st.st_gid) == (1234, 5678)


def test_ns_times_preserved(lower):
    write(lower.b["ro1"].p("f"), "x")
    os.utime(lower.b["ro1"].p("f"), ns=(1_111_111_111_123_456_789, 1_222_222_222_987_654_321))
    lower.start()
    trigger(lower.m("f"))
    st = os.stat(lower.b["rw1"].p("f"))
    assert st.st_mtime_ns == 1_222_222_222_987_654_321
    assert st.st_atime_ns == 1_111_111_111_123_456_789
    assert os.stat(lower.m("f")).st_mtime_ns == 1_222_222_222_987_654_321


def test_user_xattrs_preserved(lower):
    p = lower.b["ro1"].p("f")
    write(p, "x")
    os.setxattr(p, "user.a", b"alpha")
    os.setxattr(p, "user.bin", b"\0\1\2\xff" * 100)
    lower.start()
    os.chmod(lower.m("f"), 0o600)
    up = lower.b["rw1"].p("f")
    assert os.getxattr(up, "user.a") == b"alpha"
    assert os.getxattr(up, "user.bin") == b"\0\1\2\xff" * 100


@pytest.mark.root
def test_trusted_xattr_preserved(lower):
    p = lower.b["ro1"].p("f")
    write(p, "x")
    os.setxattr(p, "trusted.t", b"tv")
    lower.start()
    trigger(lower.m("f"))
    assert os.getxattr(lower.b["rw1"].p("f"), "trusted.t") == b"tv"


def test_posix_acl_preserved(lower):
    p = lower.b["ro1"].p("f")
    write(p, "x")
    subprocess.run(["setfacl", "-m", "u:1000:rw,g:100:r", p], check=True)
    want = os.getxattr(p, "system.posix_acl_access")
    lower.start()
    trigger(lower.m("f"))
    assert os.getxattr(lower.b["rw1"].p("f"), "system.posix_acl_access") == want
    out = subprocess.run(["getfacl", "-c", "-n", lower.m("f")], stdout=subprocess.PIPE, text=True).stdout
    assert "user:1000:rw-" in out


def test_default_acl_of_directory_preserved(lower):
    d = lower.b["ro1"].p("ro1_dir")
    subprocess.run(["setfacl", "-d", "-m", "u:1000:rwx", d], check=True)
    want = os.getxattr(d, "system.posix_acl_default")
    lower.start()
    write(lower.m("ro1_dir/new"), "x")
    assert os.getxattr(lower.b["rw1"].p("ro1_dir"), "system.posix_acl_default") == want


@pytest.mark.root
def test_security_capability_preserved(lower):
    p = lower.b["ro1"].p("f")
    write(p, b"\x7fELF" + b"\0" * 100, "wb")
    os.chmod(p, 0o755)
    # vfs_cap_data revision 2, effective, CAP_NET_BIND_SERVICE permitted.
    cap = struct.pack("<IIIII", 0x02000001, 1 << 10, 0, 0, 0)
    os.setxattr(p, "security.capability", cap)
    lower.start()
    trigger(lower.m("f"))
    assert os.getxattr(lower.b["rw1"].p("f"), "security.capability") == cap


def test_sparse_holes_preserved(lower):
    p = lower.b["ro1"].p("sparse")
    size = 32 << 20
    with open(p, "wb") as f:
        f.write(b"head")
        f.seek(size - 4)
        f.write(b"tail")
    lower.start()
    trigger(lower.m("sparse"))
    up = lower.b["rw1"].p("sparse")
    st = os.stat(up)
    assert st.st_size == size
    assert st.st_blocks * 512 < (1 << 20), "copy is not sparse: %d bytes allocated" % (st.st_blocks * 512)
    with open(lower.m("sparse"), "rb") as f:
        assert f.read(4) == b"head"
        f.seek(size - 4)
        assert f.read() == b"tail"


def test_sparse_file_du_size_in_union(lower):
    p = lower.b["ro1"].p("sparse")
    write(p, "")
    os.truncate(p, 16 << 20)
    lower.start()
    trigger(lower.m("sparse"))
    du = subprocess.run(["du", "-k", lower.m("sparse")], stdout=subprocess.PIPE, text=True).stdout
    assert int(du.split()[0]) < 1024


def test_fifo_copied_up(lower):
    os.mkfifo(lower.b["ro1"].p("fifo"), 0o644)
    lower.start()
    os.chmod(lower.m("fifo"), 0o600)
    st = os.lstat(lower.b["rw1"].p("fifo"))
    assert stat.S_ISFIFO(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600


def test_socket_node_copied_up(lower):
    os.mknod(lower.b["ro1"].p("sock"), 0o644 | stat.S_IFSOCK)
    lower.start()
    os.chmod(lower.m("sock"), 0o600)
    assert stat.S_ISSOCK(os.lstat(lower.b["rw1"].p("sock")).st_mode)


@pytest.mark.root
def test_device_node_copied_up(lower):
    os.mknod(lower.b["ro1"].p("chr"), 0o644 | stat.S_IFCHR, os.makedev(1, 5))
    lower.start()
    os.chmod(lower.m("chr"), 0o600)
    st = os.lstat(lower.b["rw1"].p("chr"))
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 5)


@pytest.mark.root
def test_symlink_copied_up_by_lchown(lower):
    os.symlink("ro1_file", lower.b["ro1"].p("link"))
    lower.start()
    os.chown(lower.m("link"), 4321, 4321, follow_symlinks=False)
    up = lower.b["rw1"].p("link")
    assert os.readlink(up) == "ro1_file"
    assert os.lstat(up).st_uid == 4321
    assert not os.path.lexists(lower.b["rw1"].p("ro1_file"))


def test_directory_copied_up_by_chmod(lower):
    lower.start()
    os.chmod(lower.m("ro1_dir"), 0o700)
    assert stat.S_IMODE(os.stat(lower.b["rw1"].p("ro1_dir")).st_mode) == 0o700
    assert os.listdir(lower.m("ro1_dir")) == ["ro1_file"]
    assert not os.path.lexists(lower.b["rw1"].p("ro1_dir/ro1_file"))


def test_st_ino_stable_across_copy_up(lower):
    lower.start()
    before = os.stat(lower.m("ro1_file")).st_ino
    write(lower.m("ro1_file"), "new")
    assert os.stat(lower.m("ro1_file")).st_ino == before
    with os.scandir(lower.m()) as it:
        assert {e.name: e.inode() for e in it}["ro1_file"] == before


# --------------------------------------------------------------------------
# Hard links

@pytest.fixture
def linked(lower):
    """ro1 holds one file under three names (two directories)."""
    ro = lower.b["ro1"]
    write(ro.p("ro1_dir/one"), "linked\n")
    os.link(ro.p("ro1_dir/one"), ro.p("ro1_dir/two"))
    os.link(ro.p("ro1_dir/one"), ro.p("common_dir/three"))
    lower.start()
    return lower


def test_hard_links_share_inode_in_union(linked):
    inos = {os.stat(linked.m(p)).st_ino for p in ("ro1_dir/one", "ro1_dir/two", "common_dir/three")}
    assert len(inos) == 1
    assert os.stat(linked.m("ro1_dir/one")).st_nlink == 3


def test_hard_links_see_write_after_copy_up(linked):
    write(linked.m("ro1_dir/one"), "changed\n")
    assert read(linked.m("ro1_dir/two")) == "changed\n"
    assert read(linked.m("common_dir/three")) == "changed\n"
    assert read(linked.b["ro1"].p("ro1_dir/two")) == "linked\n"


def test_hard_links_keep_inode_and_nlink_after_copy_up(linked):
    before = os.stat(linked.m("ro1_dir/two")).st_ino
    write(linked.m("ro1_dir/one"), "changed\n")
    sts = [os.stat(linked.m(p)) for p in ("ro1_dir/one", "ro1_dir/two", "common_dir/three")]
    assert {s.st_ino for s in sts} == {before}
    assert [s.st_nlink for s in sts] == [3, 3, 3]


def test_hard_links_linked_in_upper_branch(linked):
    write(linked.m("ro1_dir/one"), "changed\n")
    rw = linked.b["rw1"]
    sts = [os.stat(rw.p(p)) for p in ("ro1_dir/one", "ro1_dir/two", "common_dir/three")]
    assert len({s.st_ino for s in sts}) == 1
    assert sts[0].st_nlink == 3


def test_hard_links_survive_remount(linked):
    write(linked.m("ro1_dir/one"), "changed\n")
    linked.remount()
    assert read(linked.m("common_dir/three")) == "changed\n"
    inos = {os.stat(linked.m(p)).st_ino for p in ("ro1_dir/one", "ro1_dir/two", "common_dir/three")}
    assert len(inos) == 1
    write(linked.m("ro1_dir/two"), "again\n")
    assert read(linked.m("ro1_dir/one")) == "again\n"


def test_link_to_lower_file_copies_up(lower):
    lower.start()
    os.link(lower.m("ro1_file"), lower.m("alias"))
    assert read(lower.m("alias")) == "ro1\n"
    rw = lower.b["rw1"]
    assert os.stat(rw.p("alias")).st_ino == os.stat(rw.p("ro1_file")).st_ino
    assert os.stat(lower.m("alias")).st_ino == os.stat(lower.m("ro1_file")).st_ino


def test_copy_up_chooses_nearest_rw_branch(mount_union):
    u = mount_union("rw-rw-ro")
    write(u.m("ro1_file"), "x")
    assert read(u.b["rw2"].p("ro1_file")) == "x"
    assert not os.path.lexists(u.b["rw1"].p("ro1_file"))


def test_volatile_option_copies_up(mount_union):
    u = mount_union("rw-ro", opts="cow,volatile")
    write(u.m("ro1_file"), "v", "a")
    assert read(u.b["rw1"].p("ro1_file")) == "ro1\nv"


def test_copy_up_into_a_branch_without_o_tmpfile(mount_union, make_branches):
    # The RW branch is itself a FUSE mount (libfuse 3.14 has no tmpfile
    # operation): the copy is built in the work area and renamed into place.
    inner = mount_union("rw-ro", opts="cow", mnt="inner")
    outer_lower = make_branches([("outer_ro", "RO")], seed=False)[0]
    write(outer_lower.p("f"), b"lower data" * 1000, "wb")
    outer = mount_union([Branch(inner.m(), "inner", "RW"), outer_lower], opts="cow",
                        mnt="outer")
    try:
        with open(outer.m("f"), "ab") as f:
            f.write(b"+")
        assert read(outer.m("f"), "rb") == b"lower data" * 1000 + b"+"
        assert read(inner.b["rw1"].p("f"), "rb") == b"lower data" * 1000 + b"+"
        assert read(outer_lower.p("f"), "rb") == b"lower data" * 1000
        assert os.listdir(inner.m()).count("f") == 1
    finally:
        rc = outer.unmount()    # before the inner union, which it uses
    assert rc == 0
    # The outer union's work area held only the temporary: gone at unmount.
    assert not os.path.exists(os.path.join(inner.m(), ".unionfs", ".ufs-work"))
