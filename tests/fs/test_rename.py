"""Renames of files and directories across branches, with renameat2 flags."""
import errno
import os
import subprocess

import pytest

from fsutil import read, write

pytestmark = pytest.mark.fuse


@pytest.fixture
def rename2(helper_bin):
    """rename2(old, new, "-n"|"-x"|None) -> errno (0 on success)."""
    def _rename(old, new, flag=None):
        argv = [helper_bin("rename2")] + ([flag] if flag else []) + [old, new]
        return subprocess.run(argv, stderr=subprocess.DEVNULL).returncode
    return _rename


def test_rename_upper_file(union):
    os.rename(union.m("rw1_file"), union.m("moved"))
    assert read(union.m("moved")) == "rw1\n"
    assert not os.path.lexists(union.m("rw1_file"))
    assert read(union.b["rw1"].p("moved")) == "rw1\n"
    assert not os.path.lexists(union.b["rw1"].p("rw1_file"))
    assert not os.path.lexists(union.b["rw1"].hidden("rw1_file"))


def test_rename_lower_file_copies_up_and_whiteouts(union):
    os.rename(union.m("ro1_file"), union.m("moved"))
    assert read(union.m("moved")) == "ro1\n"
    assert not os.path.lexists(union.m("ro1_file"))
    assert read(union.b["rw1"].p("moved")) == "ro1\n"
    assert os.path.isfile(union.b["rw1"].hidden("ro1_file"))
    assert read(union.b["ro1"].p("ro1_file")) == "ro1\n"


def test_rename_file_present_in_both_branches(union):
    os.rename(union.m("common_file"), union.m("moved"))
    assert read(union.m("moved")) == "rw1\n"
    assert not os.path.lexists(union.m("common_file"))
    assert os.path.isfile(union.b["rw1"].hidden("common_file"))


def test_rename_lower_file_keeps_inode(union):
    ino = os.stat(union.m("ro1_file")).st_ino
    os.rename(union.m("ro1_file"), union.m("moved"))
    assert os.stat(union.m("moved")).st_ino == ino


def test_rename_lower_file_into_lower_only_directory(union):
    os.rename(union.m("ro1_file"), union.m("ro1_dir/moved"))
    assert sorted(os.listdir(union.m("ro1_dir"))) == ["moved", "ro1_file"]
    assert read(union.b["rw1"].p("ro1_dir/moved")) == "ro1\n"
    assert not os.path.lexists(union.b["ro1"].p("ro1_dir/moved"))


def test_rename_onto_lower_name_replaces_it(union):
    os.rename(union.m("rw1_file"), union.m("ro1_file"))
    assert read(union.m("ro1_file")) == "rw1\n"
    assert not os.path.lexists(union.m("rw1_file"))
    assert read(union.b["rw1"].p("ro1_file")) == "rw1\n"
    assert read(union.b["ro1"].p("ro1_file")) == "ro1\n"


def test_rename_lower_onto_lower_name(union):
    os.rename(union.m("ro1_file"), union.m("common_dir/ro1_file"))
    assert read(union.m("common_dir/ro1_file")) == "ro1\n"
    assert not os.path.lexists(union.m("ro1_file"))
    assert os.path.isfile(union.b["rw1"].hidden("ro1_file"))
    assert read(union.b["rw1"].p("common_dir/ro1_file")) == "ro1\n"


def test_rename_lower_onto_upper_name_replaces_upper(union):
    os.rename(union.m("ro1_file"), union.m("rw1_file"))
    assert read(union.m("rw1_file")) == "ro1\n"
    assert read(union.b["rw1"].p("rw1_file")) == "ro1\n"
    assert not os.path.lexists(union.m("ro1_file"))


def test_rename_back_restores_name(union):
    os.rename(union.m("ro1_file"), union.m("moved"))
    os.rename(union.m("moved"), union.m("ro1_file"))
    assert read(union.m("ro1_file")) == "ro1\n"
    assert not os.path.lexists(union.m("moved"))
    assert not os.path.lexists(union.b["rw1"].hidden("ro1_file"))


@pytest.mark.parametrize("union", ["rw-ro-nocow"], indirect=True)
def test_rename_lower_file_without_cow_is_erofs(union):
    with pytest.raises(OSError) as e:
        os.rename(union.m("ro1_file"), union.m("moved"))
    assert e.value.errno in (errno.EROFS, errno.EACCES)
    assert read(union.m("ro1_file")) == "ro1\n"
    assert not os.path.lexists(union.b["rw1"].p("moved"))


@pytest.mark.parametrize("union", ["rw-rw"], indirect=True)
def test_rename_in_lower_rw_branch_never_exdev(union):
    os.rename(union.m("rw2_file"), union.m("rw1_dir/moved"))
    assert read(union.m("rw1_dir/moved")) == "rw2\n"
    assert not os.path.lexists(union.m("rw2_file"))


def test_rename_preserve_branch_keeps_file_in_its_branch(mount_union):
    u = mount_union("rw-rw", opts="cow,preserve_branch")
    os.rename(u.m("rw2_file"), u.m("moved"))
    assert read(u.b["rw2"].p("moved")) == "rw2\n"
    assert not os.path.lexists(u.b["rw1"].p("moved"))
    assert read(u.m("moved")) == "rw2\n"


# --------------------------------------------------------------------------
# renameat2 flags

def test_noreplace_onto_existing_lower_name_is_eexist(union, rename2):
    assert rename2(union.m("rw1_file"), union.m("ro1_file"), "-n") == errno.EEXIST
    assert read(union.m("ro1_file")) == "ro1\n"
    assert read(union.m("rw1_file")) == "rw1\n"
    assert not os.path.lexists(union.b["rw1"].p("ro1_file"))


def test_noreplace_onto_free_name(union, rename2):
    assert rename2(union.m("ro1_file"), union.m("free"), "-n") == 0
    assert read(union.m("free")) == "ro1\n"
    assert not os.path.lexists(union.m("ro1_file"))


def test_noreplace_onto_whited_out_name_succeeds(union, rename2):
    os.unlink(union.m("ro1_file"))
    assert rename2(union.m("rw1_file"), union.m("ro1_file"), "-n") == 0
    assert read(union.m("ro1_file")) == "rw1\n"
    assert not os.path.lexists(union.b["rw1"].hidden("ro1_file"))


def test_exchange_two_upper_files(union, rename2):
    write(union.m("a"), "A")
    write(union.m("b"), "B")
    assert rename2(union.m("a"), union.m("b"), "-x") == 0
    assert (read(union.m("a")), read(union.m("b"))) == ("B", "A")
    assert (read(union.b["rw1"].p("a")), read(union.b["rw1"].p("b"))) == ("B", "A")


def test_exchange_upper_and_lower_file(union, rename2):
    assert rename2(union.m("rw1_file"), union.m("ro1_file"), "-x") == 0
    assert read(union.m("rw1_file")) == "ro1\n"
    assert read(union.m("ro1_file")) == "rw1\n"
    assert read(union.b["ro1"].p("ro1_file")) == "ro1\n"


def test_exchange_file_and_directory(union, rename2):
    assert rename2(union.m("rw1_file"), union.m("ro1_dir"), "-x") == 0
    assert os.path.isdir(union.m("rw1_file"))
    assert os.listdir(union.m("rw1_file")) == ["ro1_file"]
    assert read(union.m("ro1_dir")) == "rw1\n"


def test_exchange_with_missing_name_is_enoent(union, rename2):
    assert rename2(union.m("rw1_file"), union.m("missing"), "-x") == errno.ENOENT
    assert read(union.m("rw1_file")) == "rw1\n"
    assert not os.path.lexists(union.m("missing"))


def test_exchange_with_whited_out_name_is_enoent(union, rename2):
    os.unlink(union.m("ro1_file"))
    assert rename2(union.m("rw1_file"), union.m("ro1_file"), "-x") == errno.ENOENT
    assert read(union.m("rw1_file")) == "rw1\n"


# --------------------------------------------------------------------------
# Directories

def test_rename_upper_only_directory(union):
    os.rename(union.m("rw1_dir"), union.m("moved"))
    assert os.listdir(union.m("moved")) == ["rw1_file"]
    assert os.listdir(union.b["rw1"].p("moved")) == ["rw1_file"]
    assert not os.path.lexists(union.m("rw1_dir"))


def test_rename_lower_directory_copies_tree(union):
    os.rename(union.m("ro1_dir"), union.m("moved"))
    assert os.listdir(union.m("moved")) == ["ro1_file"]
    assert read(union.m("moved/ro1_file")) == "ro1\n"
    assert read(union.b["rw1"].p("moved/ro1_file")) == "ro1\n"
    assert not os.path.lexists(union.m("ro1_dir"))
    assert os.path.lexists(union.b["rw1"].hidden("ro1_dir"))
    assert read(union.b["ro1"].p("ro1_dir/ro1_file")) == "ro1\n"


def test_rename_merged_directory_keeps_all_entries(union):
    os.rename(union.m("common_dir"), union.m("moved"))
    assert sorted(os.listdir(union.m("moved"))) == ["common_file", "ro1_file", "rw1_file"]
    assert read(union.m("moved/common_file")) == "rw1\n"
    assert not os.path.lexists(union.m("common_dir"))


def test_rename_merged_directory_is_not_merged_with_old_lower(union):
    os.rename(union.m("common_dir"), union.m("moved"))
    os.mkdir(union.m("common_dir"))
    assert os.listdir(union.m("common_dir")) == []


def test_rename_directory_back_restores_listing(union):
    before = sorted(os.listdir(union.m("common_dir")))
    contents = {n: read(union.m("common_dir/" + n)) for n in before}
    os.rename(union.m("common_dir"), union.m("moved"))
    os.rename(union.m("moved"), union.m("common_dir"))
    assert sorted(os.listdir(union.m("common_dir"))) == before
    assert {n: read(union.m("common_dir/" + n)) for n in before} == contents


def test_rename_directory_keeps_whiteouts_inside(union):
    os.unlink(union.m("common_dir/ro1_file"))
    os.rename(union.m("common_dir"), union.m("moved"))
    assert sorted(os.listdir(union.m("moved"))) == ["common_file", "rw1_file"]


def test_rename_deep_lower_directory_keeps_attributes(mount_union):
    u = mount_union("rw-ro", start=False)
    ro = u.b["ro1"]
    os.makedirs(ro.p("tree/a/b"))
    write(ro.p("tree/a/b/f"), "deep")
    os.setxattr(ro.p("tree/a/b/f"), "user.k", b"v")
    os.symlink("b/f", ro.p("tree/a/l"))
    os.chmod(ro.p("tree/a"), 0o705)
    os.utime(ro.p("tree/a/b/f"), ns=(3_000_000_003, 4_000_000_004))
    u.start()
    os.rename(u.m("tree"), u.m("moved"))
    assert read(u.m("moved/a/b/f")) == "deep"
    assert os.getxattr(u.m("moved/a/b/f"), "user.k") == b"v"
    assert os.readlink(u.m("moved/a/l")) == "b/f"
    assert os.stat(u.m("moved/a")).st_mode & 0o777 == 0o705
    assert os.stat(u.m("moved/a/b/f")).st_mtime_ns == 4_000_000_004
    assert read(u.b["rw1"].p("moved/a/b/f")) == "deep"


def test_rename_directory_onto_empty_directory(union):
    os.mkdir(union.m("empty"))
    os.rename(union.m("ro1_dir"), union.m("empty"))
    assert os.listdir(union.m("empty")) == ["ro1_file"]
    assert not os.path.lexists(union.m("ro1_dir"))


def test_rename_directory_onto_non_empty_directory_fails(union):
    with pytest.raises(OSError) as e:
        os.rename(union.m("rw1_dir"), union.m("ro1_dir"))
    assert e.value.errno in (errno.ENOTEMPTY, errno.EEXIST)
    assert os.listdir(union.m("ro1_dir")) == ["ro1_file"]
    assert os.listdir(union.m("rw1_dir")) == ["rw1_file"]


def test_rename_directory_into_itself_is_einval(union):
    with pytest.raises(OSError) as e:
        os.rename(union.m("ro1_dir"), union.m("ro1_dir/sub"))
    assert e.value.errno == errno.EINVAL
    assert os.listdir(union.m("ro1_dir")) == ["ro1_file"]


def test_rename_file_onto_directory_is_eisdir(union):
    with pytest.raises(OSError) as e:
        os.rename(union.m("ro1_file"), union.m("ro1_dir"))
    assert e.value.errno == errno.EISDIR


def test_rename_over_a_link_in_a_lower_rw_branch_removes_that_link(mount_union):
    """rw-rw: the target directory also exists in the top branch, so the
    rename lands there; the replaced target, a hard link in the lower RW
    branch, is removed (not left shadowed), so its other name counts one
    link again."""
    u = mount_union("rw-rw", start=False)
    os.makedirs(u.b["rw2"].p("d"))
    os.makedirs(u.b["rw1"].p("d"))
    write(u.b["rw2"].p("d/keep"), "keep\n")
    os.link(u.b["rw2"].p("d/keep"), u.b["rw2"].p("d/target"))
    write(u.b["rw2"].p("src"), "src\n")
    u.start()
    os.stat(u.m("d/keep"))
    os.rename(u.m("src"), u.m("d/target"))
    assert read(u.m("d/target")) == "src\n"
    assert os.stat(u.m("d/keep")).st_nlink == 1
    assert read(u.m("d/keep")) == "keep\n"
    assert read(u.b["rw1"].p("d/target")) == "src\n"
    assert not os.path.lexists(u.b["rw2"].p("d/target"))
    assert os.stat(u.b["rw2"].p("d/keep")).st_nlink == 1
