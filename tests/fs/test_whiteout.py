"""Whiteouts in unionfs-fuse's format: how existing markers are honoured on
read, and what deletes and creates write to disk."""
import errno
import os

import pytest

from fsutil import hidden, read, write

pytestmark = pytest.mark.fuse


def mark_file(branch, rel, meta=".unionfs"):
    path = hidden(branch, rel, meta)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write(path, "")


def mark_dir(branch, rel, meta=".unionfs"):
    os.makedirs(hidden(branch, rel, meta))


# --------------------------------------------------------------------------
# Reading markers prepared on disk (as unionfs-fuse leaves them).

def test_file_marker_hides_lower_file(mount_union):
    u = mount_union("rw-ro", start=False)
    mark_file(u.b["rw1"], "ro1_file")
    u.start()
    assert "ro1_file" not in os.listdir(u.m())
    assert not os.path.lexists(u.m("ro1_file"))


def test_nested_file_marker_hides_only_that_name(mount_union):
    u = mount_union("rw-ro", start=False)
    mark_file(u.b["rw1"], "common_dir/ro1_file")
    u.start()
    assert sorted(os.listdir(u.m("common_dir"))) == ["common_file", "rw1_file"]
    assert read(u.m("common_dir/common_file")) == "rw1\n"


def test_legacy_meta_dir_marker_hides_lower_file(mount_union):
    u = mount_union("rw-ro", start=False)
    mark_file(u.b["rw1"], "ro1_file", meta=".unionfs-fuse")
    u.start()
    assert not os.path.lexists(u.m("ro1_file"))
    assert "ro1_file" not in os.listdir(u.m())


def test_dir_marker_hides_lower_directory(mount_union):
    u = mount_union("rw-ro", start=False)
    mark_dir(u.b["rw1"], "ro1_dir")
    u.start()
    assert "ro1_dir" not in os.listdir(u.m())
    assert not os.path.lexists(u.m("ro1_dir/ro1_file"))


def test_file_marker_hides_lower_directory(mount_union):
    u = mount_union("rw-ro", start=False)
    mark_file(u.b["rw1"], "ro1_dir")
    u.start()
    assert "ro1_dir" not in os.listdir(u.m())
    assert not os.path.lexists(u.m("ro1_dir"))


def test_dir_marker_makes_recreated_directory_opaque(mount_union):
    u = mount_union("rw-ro", start=False)
    mark_dir(u.b["rw1"], "common_dir")
    u.start()
    assert sorted(os.listdir(u.m("common_dir"))) == ["common_file", "rw1_file"]
    assert not os.path.lexists(u.m("common_dir/ro1_file"))


def test_dir_marker_hides_whole_lower_subtree(mount_union):
    u = mount_union("rw-ro", start=False)
    os.makedirs(u.b["ro1"].p("common_dir/sub/deeper"))
    write(u.b["ro1"].p("common_dir/sub/deeper/f"), "x")
    mark_dir(u.b["rw1"], "common_dir")
    u.start()
    assert not os.path.lexists(u.m("common_dir/sub"))
    assert not os.path.lexists(u.m("common_dir/sub/deeper/f"))


def test_legacy_dir_marker_makes_directory_opaque(mount_union):
    u = mount_union("rw-ro", start=False)
    mark_dir(u.b["rw1"], "common_dir", meta=".unionfs-fuse")
    u.start()
    assert sorted(os.listdir(u.m("common_dir"))) == ["common_file", "rw1_file"]


def test_marker_does_not_hide_name_in_own_branch(mount_union):
    u = mount_union("rw-ro", start=False)
    mark_file(u.b["rw1"], "rw1_file")
    mark_file(u.b["rw1"], "common_file")
    u.start()
    assert read(u.m("rw1_file")) == "rw1\n"
    assert read(u.m("common_file")) == "rw1\n"


def test_marker_in_middle_branch_hides_only_below(mount_union):
    u = mount_union("rw-ro-ro", start=False)
    for rel in ("rw1_file", "ro2_file", "common_file"):
        mark_file(u.b["ro1"], rel)
    u.start()
    names = os.listdir(u.m())
    assert "rw1_file" in names and "ro2_file" not in names
    assert read(u.m("common_file")) == "rw1\n"


def test_marker_in_middle_branch_exposes_nothing_of_itself_hidden(mount_union):
    u = mount_union("rw-ro-ro", start=False)
    os.remove(u.b["rw1"].p("common_file"))
    mark_file(u.b["ro1"], "common_file")
    u.start()
    assert read(u.m("common_file")) == "ro1\n"


def test_marker_dir_not_listed_as_union_content(mount_union):
    u = mount_union("rw-ro", opts="cow,hide_meta_files", start=False)
    mark_file(u.b["rw1"], "common_dir/ro1_file")
    u.start()
    names = os.listdir(u.m("common_dir"))
    assert not any(n.endswith("_HIDDEN~") for n in names)
    assert ".unionfs" not in os.listdir(u.m())


# --------------------------------------------------------------------------
# Deletes write markers.

def test_unlink_lower_file_writes_file_marker(union):
    os.unlink(union.m("ro1_file"))
    assert not os.path.lexists(union.m("ro1_file"))
    assert "ro1_file" not in os.listdir(union.m())
    assert read(union.b["ro1"].p("ro1_file")) == "ro1\n"
    assert os.path.isfile(union.b["rw1"].hidden("ro1_file"))


@pytest.mark.parametrize("union", ["rw-ro-nocow"], indirect=True)
def test_unlink_lower_file_without_cow_is_erofs(union):
    with pytest.raises(OSError) as e:
        os.unlink(union.m("ro1_file"))
    assert e.value.errno == errno.EROFS
    assert read(union.m("ro1_file")) == "ro1\n"
    assert not os.path.lexists(union.b["rw1"].hidden("ro1_file"))


def test_unlink_file_in_both_branches_writes_marker(union):
    os.unlink(union.m("common_file"))
    assert not os.path.lexists(union.m("common_file"))
    assert not os.path.lexists(union.b["rw1"].p("common_file"))
    assert read(union.b["ro1"].p("common_file")) == "ro1\n"
    assert os.path.isfile(union.b["rw1"].hidden("common_file"))


def test_unlink_upper_only_file_writes_no_marker(union):
    os.unlink(union.m("rw1_file"))
    assert not os.path.lexists(union.m("rw1_file"))
    assert not os.path.lexists(union.b["rw1"].p("rw1_file"))
    assert not os.path.lexists(union.b["rw1"].hidden("rw1_file"))


def test_unlink_nested_lower_file_creates_marker_parents(union):
    os.unlink(union.m("ro1_dir/ro1_file"))
    assert os.listdir(union.m("ro1_dir")) == []
    assert read(union.b["ro1"].p("ro1_dir/ro1_file")) == "ro1\n"
    assert os.path.isfile(union.b["rw1"].hidden("ro1_dir/ro1_file"))


def test_rmdir_lower_directory_writes_dir_marker(mount_union):
    u = mount_union("rw-ro", start=False)
    os.mkdir(u.b["ro1"].p("empty_dir"))
    u.start()
    os.rmdir(u.m("empty_dir"))
    assert not os.path.lexists(u.m("empty_dir"))
    assert os.path.isdir(u.b["ro1"].p("empty_dir"))
    assert os.path.isdir(u.b["rw1"].hidden("empty_dir"))


def test_rmdir_non_empty_lower_directory_fails(union):
    with pytest.raises(OSError) as e:
        os.rmdir(union.m("ro1_dir"))
    assert e.value.errno == errno.ENOTEMPTY
    assert os.path.isdir(union.m("ro1_dir"))
    assert not os.path.lexists(union.b["rw1"].hidden("ro1_dir"))


def test_rmdir_merged_directory_empty_in_union(union):
    for n in os.listdir(union.m("common_dir")):
        os.unlink(union.m("common_dir/" + n))
    os.rmdir(union.m("common_dir"))
    assert not os.path.lexists(union.m("common_dir"))
    assert not os.path.lexists(union.b["rw1"].p("common_dir"))
    assert sorted(os.listdir(union.b["ro1"].p("common_dir"))) == ["common_file", "ro1_file"]
    assert os.path.isdir(union.b["rw1"].hidden("common_dir"))


def test_mkdir_over_whited_out_directory_is_opaque(union):
    for n in os.listdir(union.m("common_dir")):
        os.unlink(union.m("common_dir/" + n))
    os.rmdir(union.m("common_dir"))
    os.mkdir(union.m("common_dir"))
    assert os.listdir(union.m("common_dir")) == []
    assert os.path.isdir(union.b["rw1"].p("common_dir"))
    assert os.path.isdir(union.b["rw1"].hidden("common_dir"))


def test_mkdir_over_whited_out_directory_then_file_lookup(union):
    os.unlink(union.m("ro1_dir/ro1_file"))
    os.rmdir(union.m("ro1_dir"))
    os.mkdir(union.m("ro1_dir"))
    assert not os.path.lexists(union.m("ro1_dir/ro1_file"))
    assert read(union.b["ro1"].p("ro1_dir/ro1_file")) == "ro1\n"


def test_create_clears_file_marker(union):
    os.unlink(union.m("ro1_file"))
    write(union.m("ro1_file"), "again\n")
    assert read(union.m("ro1_file")) == "again\n"
    assert read(union.b["rw1"].p("ro1_file")) == "again\n"
    assert not os.path.lexists(union.b["rw1"].hidden("ro1_file"))
    assert read(union.b["ro1"].p("ro1_file")) == "ro1\n"


def test_symlink_clears_file_marker(union):
    os.unlink(union.m("ro1_file"))
    os.symlink("target", union.m("ro1_file"))
    assert os.readlink(union.m("ro1_file")) == "target"
    assert not os.path.lexists(union.b["rw1"].hidden("ro1_file"))


def test_recreated_file_is_not_merged_with_lower(union):
    os.unlink(union.m("ro1_file"))
    write(union.m("ro1_file"), "")
    assert read(union.m("ro1_file")) == ""


def test_unlink_recreated_file_restores_marker(union):
    os.unlink(union.m("ro1_file"))
    write(union.m("ro1_file"), "again\n")
    os.unlink(union.m("ro1_file"))
    assert not os.path.lexists(union.m("ro1_file"))
    assert not os.path.lexists(union.b["rw1"].p("ro1_file"))
    assert os.path.isfile(union.b["rw1"].hidden("ro1_file"))


def test_marker_survives_remount(union):
    os.unlink(union.m("ro1_file"))
    union.remount()
    assert not os.path.lexists(union.m("ro1_file"))
    assert read(union.b["ro1"].p("ro1_file")) == "ro1\n"


def test_delete_in_ro_over_rw_fails_without_marker(union_ro_rw):
    u = union_ro_rw
    with pytest.raises(OSError) as e:
        os.unlink(u.m("ro1_file"))
    assert e.value.errno in (errno.EROFS, errno.EACCES, errno.EPERM)
    assert read(u.b["ro1"].p("ro1_file")) == "ro1\n"
    assert not os.path.lexists(u.b["rw1"].hidden("ro1_file"))


@pytest.fixture
def union_ro_rw(mount_union):
    return mount_union("ro-rw")


def test_unlink_in_rw_rw_lower_branch_removes_file(mount_union):
    u = mount_union("rw-rw")
    os.unlink(u.m("rw2_file"))
    assert not os.path.lexists(u.m("rw2_file"))
    assert not os.path.lexists(u.b["rw2"].p("rw2_file"))


def test_unlink_common_in_rw_rw_hides_lower_copy(mount_union):
    u = mount_union("rw-rw")
    os.unlink(u.m("common_file"))
    assert not os.path.lexists(u.m("common_file"))
    assert not os.path.lexists(u.b["rw1"].p("common_file"))
    # The rw2 copy may be deleted or hidden, but must not show through.
    assert (not os.path.lexists(u.b["rw2"].p("common_file"))
            or os.path.lexists(u.b["rw1"].hidden("common_file")))


# --------------------------------------------------------------------------
# A whiteout that cannot be written makes the delete fail, and nothing of the
# lower branch shows through.  A regular file named .unionfs in the RW branch
# makes every marker impossible to create.

@pytest.fixture
def blocked_meta(mount_union):
    u = mount_union("rw-ro", start=False)
    write(u.b["rw1"].p(".unionfs"), "not a directory\n")
    u.start()
    return u


def test_unlink_fails_when_marker_cannot_be_written(blocked_meta):
    u = blocked_meta
    with pytest.raises(OSError):
        os.unlink(u.m("ro1_file"))
    assert read(u.m("ro1_file")) == "ro1\n"


def test_failed_marker_keeps_upper_file(blocked_meta):
    u = blocked_meta
    with pytest.raises(OSError):
        os.unlink(u.m("common_file"))
    assert read(u.m("common_file")) == "rw1\n"
    assert read(u.b["rw1"].p("common_file")) == "rw1\n"


def test_failed_marker_keeps_upper_directory(blocked_meta):
    u = blocked_meta
    for n in os.listdir(u.m("common_dir")):
        try:
            os.unlink(u.m("common_dir/" + n))
        except OSError:
            pass
    with pytest.raises(OSError):
        os.rmdir(u.m("common_dir"))
    assert os.path.isdir(u.m("common_dir"))
    assert os.path.isdir(u.b["rw1"].p("common_dir"))
