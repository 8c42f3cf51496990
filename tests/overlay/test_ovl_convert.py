"""unionfs-convert on branches built by hand: each marker kind both ways,
dry runs, idempotence, refusals and bad input with their exit codes."""
import os
import stat
import subprocess

import pytest

from ovlutil import read, write

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mknod and trusted.* need root")


def mk(base, rel, data=None):
    """Create base/rel: a directory when data is None, else a file."""
    p = os.path.join(base, rel)
    if data is None:
        os.makedirs(p, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(p), exist_ok=True)
        write(p, data)
    return p


def whiteout_dev(path):
    st = os.lstat(path)
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def xattr(path, name):
    try:
        return os.getxattr(path, name, follow_symlinks=False)
    except OSError:
        return None


def snapshot(root):
    """Everything in a tree a conversion could change, times included."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [""] + dirnames + filenames:
            p = os.path.join(dirpath, name) if name else dirpath
            if not name and dirpath != root:
                continue
            st = os.lstat(p)
            out[os.path.relpath(p, root)] = (
                st.st_mode, st.st_uid, st.st_gid, st.st_size, st.st_rdev, st.st_mtime_ns,
                read(p, "rb") if stat.S_ISREG(st.st_mode) else None,
                sorted((x, os.getxattr(p, x, follow_symlinks=False))
                       for x in os.listxattr(p, follow_symlinks=False)))
    return out


def check_ok(r):
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    return r.stdout.splitlines()


@pytest.fixture
def branch(workdir):
    p = os.path.join(workdir, "branch")
    os.mkdir(p)
    return p


# --------------------------------------------------------------------------
# Command line.

def test_help_starts_with_usage(convert):
    r = convert("--help")
    assert r.returncode == 0 and r.stdout.startswith("Usage:")


def test_version(convert):
    r = convert("-V")
    assert r.returncode == 0 and r.stdout.startswith("unionfs-convert ")


@pytest.mark.parametrize("args", [("--to", "ext4"), ("BRANCH",), ("--to", "overlay"),
                                  ("--to", "overlay", "a", "b"), ("--bogus",)],
                         ids=["bad-to", "no-to", "no-branch", "two-branches", "bad-option"])
def test_usage_errors_exit_2(convert, args, branch):
    r = convert(*[branch if a == "BRANCH" else a for a in args])
    assert r.returncode == 2
    assert r.stderr.startswith("unionfs-convert: ")
    assert r.stdout == ""


def test_missing_branch_exits_3(convert, workdir):
    r = convert("--to", "overlay", os.path.join(workdir, "nope"))
    assert r.returncode == 3
    assert r.stderr == "unionfs-convert: open %s: No such file or directory\n" % os.path.join(
        workdir, "nope")


def test_branch_not_a_directory_exits_2(convert, workdir):
    f = mk(workdir, "file", "x")
    r = convert("--to", "unionfs", f)
    assert r.returncode == 2
    assert r.stderr == "unionfs-convert: open %s: Not a directory\n" % f


def test_missing_lower_exits_3(convert, workdir, branch):
    r = convert("--to", "overlay", "--lower", os.path.join(workdir, "nope"), branch)
    assert r.returncode == 3 and r.stderr.count("\n") == 1


# --------------------------------------------------------------------------
# --to overlay.

@needs_root
def test_file_marker_becomes_whiteout_device(convert, branch):
    mk(branch, ".unionfs/gone_HIDDEN~", "")
    lines = check_ok(convert("--to", "overlay", branch))
    assert whiteout_dev(os.path.join(branch, "gone"))
    assert not os.path.lexists(os.path.join(branch, ".unionfs"))
    assert lines[0] == "/gone: .unionfs/gone_HIDDEN~ -> character device 0/0"


@needs_root
def test_directory_marker_of_deleted_dir_becomes_whiteout_device(convert, branch):
    mk(branch, ".unionfs/olddir_HIDDEN~")
    check_ok(convert("--to", "overlay", branch))
    assert whiteout_dev(os.path.join(branch, "olddir"))


@needs_root
def test_marker_of_existing_dir_becomes_opaque_xattr(convert, branch):
    mk(branch, ".unionfs/d_HIDDEN~")
    mk(branch, "d/new", "n")
    check_ok(convert("--to", "overlay", branch))
    assert xattr(os.path.join(branch, "d"), "trusted.overlay.opaque") == b"y"
    assert read(os.path.join(branch, "d/new")) == "n"


@needs_root
def test_userxattr_writes_user_opaque(convert, branch):
    mk(branch, ".unionfs/d_HIDDEN~", "")
    mk(branch, "d")
    check_ok(convert("--to", "overlay", "--userxattr", branch))
    assert xattr(os.path.join(branch, "d"), "user.overlay.opaque") == b"y"
    assert xattr(os.path.join(branch, "d"), "trusted.overlay.opaque") is None


@needs_root
def test_legacy_meta_directory_is_read_and_removed(convert, branch):
    mk(branch, ".unionfs-fuse/old_HIDDEN~", "")
    check_ok(convert("--to", "overlay", branch))
    assert whiteout_dev(os.path.join(branch, "old"))
    assert not os.path.lexists(os.path.join(branch, ".unionfs-fuse"))


@needs_root
def test_missing_parents_copy_the_lower_directories(convert, workdir, branch):
    lower = os.path.join(workdir, "lower")
    mk(lower, "a/b/f", "f")
    os.chmod(os.path.join(lower, "a"), 0o750)
    os.chown(os.path.join(lower, "a"), 1000, 1001)
    os.utime(os.path.join(lower, "a"), ns=(10**18, 2 * 10**18))
    mk(branch, ".unionfs/a/b/f_HIDDEN~", "")
    lines = check_ok(convert("--to", "overlay", "--lower", lower, branch))
    st = os.lstat(os.path.join(branch, "a"))
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_mtime_ns) == \
        (0o750, 1000, 1001, 2 * 10**18)
    assert whiteout_dev(os.path.join(branch, "a/b/f"))
    assert lines[0].endswith("(with 2 parent directories)")


@needs_root
def test_missing_parents_without_lower_are_0755_root(convert, branch):
    mk(branch, ".unionfs/x/f_HIDDEN~", "")
    check_ok(convert("--to", "overlay", branch))
    st = os.lstat(os.path.join(branch, "x"))
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o755, 0, 0)


@needs_root
def test_marker_below_deleted_directory_is_dropped(convert, branch):
    mk(branch, ".unionfs/d_HIDDEN~")
    mk(branch, ".unionfs/d/f_HIDDEN~", "")
    lines = check_ok(convert("--to", "overlay", branch))
    assert whiteout_dev(os.path.join(branch, "d"))
    assert "/d/f: .unionfs/d/f_HIDDEN~ removed (redundant: deleted above, at /d)" in lines


@needs_root
def test_marker_shadowed_by_branch_file_is_dropped(convert, branch):
    mk(branch, ".unionfs/f_HIDDEN~", "")
    mk(branch, "f", "mine")
    check_ok(convert("--to", "overlay", branch))
    assert read(os.path.join(branch, "f")) == "mine"
    assert os.listdir(branch) == ["f"]


@needs_root
def test_marker_never_follows_a_symlink_in_the_branch(convert, workdir, branch):
    outside = mk(workdir, "outside")
    os.symlink(outside, os.path.join(branch, "a"))
    mk(branch, ".unionfs/a/f_HIDDEN~", "")
    check_ok(convert("--to", "overlay", branch))
    assert os.listdir(outside) == []
    assert os.path.islink(os.path.join(branch, "a"))


@needs_root
def test_oci_markers_become_overlay_markers(convert, branch):
    mk(branch, ".wh.gone", "")
    mk(branch, "d/.wh..wh..opq", "")
    check_ok(convert("--to", "overlay", branch))
    assert whiteout_dev(os.path.join(branch, "gone"))
    assert xattr(os.path.join(branch, "d"), "trusted.overlay.opaque") == b"y"
    assert sorted(os.listdir(branch)) == ["d", "gone"] and os.listdir(os.path.join(branch, "d")) == []


@needs_root
def test_work_area_is_removed(convert, branch):
    mk(branch, ".unionfs/.ufs-work/leftover", "tmp")
    check_ok(convert("--to", "overlay", branch))
    assert os.listdir(branch) == []


@needs_root
def test_unknown_file_in_meta_directory_refuses_and_changes_nothing(convert, branch):
    mk(branch, ".unionfs/gone_HIDDEN~", "")
    mk(branch, ".unionfs/notes.txt", "mine")
    before = snapshot(branch)
    r = convert("--to", "overlay", branch)
    assert r.returncode == 1
    assert r.stderr == ("unionfs-convert: convert .unionfs/notes.txt: not a marker; "
                        "move it out of the meta directory first\n")
    assert snapshot(branch) == before


@needs_root
def test_directory_times_are_kept(convert, branch):
    d = mk(branch, "d")
    mk(branch, ".unionfs/d/f_HIDDEN~", "")
    os.utime(d, ns=(10**18, 10**18))
    check_ok(convert("--to", "overlay", branch))
    assert whiteout_dev(os.path.join(d, "f"))
    assert os.lstat(d).st_mtime_ns == 10**18


# --------------------------------------------------------------------------
# --to unionfs.

@needs_root
def test_whiteout_device_becomes_file_marker(convert, branch):
    os.mknod(os.path.join(branch, "gone"), stat.S_IFCHR, 0)
    lines = check_ok(convert("--to", "unionfs", branch))
    assert os.path.isfile(os.path.join(branch, ".unionfs/gone_HIDDEN~"))
    assert not os.path.lexists(os.path.join(branch, "gone"))
    assert lines[0] == "/gone: character device 0/0 -> .unionfs/gone_HIDDEN~"


@needs_root
@pytest.mark.parametrize("name", ["trusted.overlay.opaque", "user.overlay.opaque"])
def test_opaque_xattr_becomes_directory_marker(convert, branch, name):
    d = mk(branch, "a/d")
    os.setxattr(d, name, b"y")
    check_ok(convert("--to", "unionfs", branch))
    assert os.path.isdir(os.path.join(branch, ".unionfs/a/d_HIDDEN~"))
    assert xattr(d, name) is None


@needs_root
def test_oci_whiteout_becomes_file_marker(convert, branch):
    mk(branch, "d/.wh.f", "")
    check_ok(convert("--to", "unionfs", branch))
    assert os.path.isfile(os.path.join(branch, ".unionfs/d/f_HIDDEN~"))
    assert os.listdir(os.path.join(branch, "d")) == []


@needs_root
def test_oci_opaque_becomes_directory_marker(convert, branch):
    mk(branch, "d/.wh..wh..opq", "")
    check_ok(convert("--to", "unionfs", branch))
    assert os.path.isdir(os.path.join(branch, ".unionfs/d_HIDDEN~"))
    assert os.listdir(os.path.join(branch, "d")) == []


@needs_root
def test_xattr_whiteout_becomes_file_marker(convert, branch):
    d = mk(branch, "d")
    f = mk(branch, "d/f", "")
    os.setxattr(f, "trusted.overlay.whiteout", b"")
    os.setxattr(d, "trusted.overlay.opaque", b"x")
    lines = check_ok(convert("--to", "unionfs", branch))
    assert os.path.isfile(os.path.join(branch, ".unionfs/d/f_HIDDEN~"))
    assert os.listdir(d) == [] and xattr(d, "trusted.overlay.opaque") is None
    assert "/d/f: trusted.overlay.whiteout file -> .unionfs/d/f_HIDDEN~" in lines


@needs_root
def test_opaque_root_is_refused(convert, branch):
    os.mknod(os.path.join(branch, "gone"), stat.S_IFCHR, 0)
    os.setxattr(branch, "trusted.overlay.opaque", b"y")
    before = snapshot(branch)
    r = convert("--to", "unionfs", branch)
    assert r.returncode == 5 and r.stderr.count("\n") == 1
    assert snapshot(branch) == before


# --------------------------------------------------------------------------
# Dry runs, idempotence, crash leftovers.

def unionfs_branch(branch):
    mk(branch, ".unionfs/a_HIDDEN~", "")
    mk(branch, ".unionfs/sub/b_HIDDEN~")
    mk(branch, ".unionfs/d_HIDDEN~")
    mk(branch, "d/x", "x")
    mk(branch, "sub/keep", "k")


@needs_root
def test_dry_run_lists_one_line_per_marker_and_changes_nothing(convert, branch):
    unionfs_branch(branch)
    before = snapshot(branch)
    lines = check_ok(convert("--to", "overlay", "--dry-run", branch))
    assert snapshot(branch) == before
    assert lines == ["/a: .unionfs/a_HIDDEN~ -> character device 0/0",
                     "/d: .unionfs/d_HIDDEN~/ -> trusted.overlay.opaque=y",
                     "/sub/b: .unionfs/sub/b_HIDDEN~/ -> character device 0/0",
                     "/.unionfs: removed (meta directory of the unionfs format)",
                     "%s: 4 changes would be made (dry run)" % branch]


@needs_root
@pytest.mark.parametrize("to", ["overlay", "unionfs"])
def test_second_run_changes_nothing_and_says_so(convert, branch, to):
    unionfs_branch(branch)
    os.mknod(os.path.join(branch, "sub/c"), stat.S_IFCHR, 0)
    check_ok(convert("--to", to, branch))
    after = snapshot(branch)
    lines = check_ok(convert("--to", to, branch))
    assert lines == ["%s: nothing to convert, already in %s format" % (branch, to)]
    assert snapshot(branch) == after


@needs_root
def test_there_and_back_restores_the_markers(convert, branch):
    unionfs_branch(branch)
    check_ok(convert("--to", "overlay", branch))
    check_ok(convert("--to", "unionfs", branch))
    meta = os.path.join(branch, ".unionfs")
    assert os.path.isfile(os.path.join(meta, "a_HIDDEN~"))
    assert os.path.isfile(os.path.join(meta, "sub/b_HIDDEN~"))
    assert os.path.isdir(os.path.join(meta, "d_HIDDEN~"))
    assert sorted(os.listdir(branch)) == [".unionfs", "d", "sub"]


@needs_root
def test_stale_temporary_whiteout_is_removed(convert, branch):
    os.mknod(os.path.join(branch, ".ufs-convert.99999.0"), stat.S_IFCHR, 0)
    lines = check_ok(convert("--to", "unionfs", branch))
    assert lines[0] == "/.ufs-convert.99999.0: stale temporary removed"
    assert os.listdir(branch) == []


@needs_root
def test_half_converted_marker_is_completed(convert, branch):
    """A crash between placing the new marker and removing the old one
    leaves both; a rerun keeps the new one and removes the old."""
    mk(branch, ".unionfs/a_HIDDEN~", "")
    os.mknod(os.path.join(branch, "a"), stat.S_IFCHR, 0)
    ino = os.lstat(os.path.join(branch, "a")).st_ino
    lines = check_ok(convert("--to", "overlay", branch))
    assert lines[0] == "/a: .unionfs/a_HIDDEN~ -> character device 0/0"
    assert os.lstat(os.path.join(branch, "a")).st_ino == ino
    assert os.listdir(branch) == ["a"]


@needs_root
def test_other_namespace_opaque_is_moved(convert, branch):
    d = mk(branch, "d")
    os.setxattr(d, "user.overlay.opaque", b"y")
    check_ok(convert("--to", "overlay", branch))
    assert xattr(d, "trusted.overlay.opaque") == b"y"
    assert xattr(d, "user.overlay.opaque") is None


@needs_root
def test_marker_for_dot_dot_is_not_a_marker(convert, workdir, branch):
    mk(branch, ".unionfs/.._HIDDEN~")
    before = snapshot(workdir)
    r = convert("--to", "overlay", branch)
    assert r.returncode == 1 and "not a marker" in r.stderr
    assert snapshot(workdir) == before
    assert xattr(workdir, "trusted.overlay.opaque") is None


@needs_root
def test_stale_temporary_marker_in_meta_directory_is_removed(convert, branch):
    mk(branch, ".unionfs/d/.ufs-convert.99999.3", "")
    mk(branch, ".unionfs/d/f_HIDDEN~", "")
    lines = check_ok(convert("--to", "unionfs", branch))
    assert lines[0] == "/.unionfs/d/.ufs-convert.99999.3: stale temporary removed"
    assert os.listdir(os.path.join(branch, ".unionfs/d")) == ["f_HIDDEN~"]


@needs_root
def test_several_whiteouts_share_created_parents(convert, branch):
    for name in ("d/e/g1", "d/e/g2", "d/f1", "d-x"):
        mk(branch, ".unionfs/%s_HIDDEN~" % name, "")
    lines = check_ok(convert("--to", "overlay", branch))
    assert [line for line in lines if "parent" in line] == [
        "/d/e/g1: .unionfs/d/e/g1_HIDDEN~ -> character device 0/0 (with 2 parent directories)"]
    for name in ("d/e/g1", "d/e/g2", "d/f1", "d-x"):
        assert whiteout_dev(os.path.join(branch, name))


def as_user(convert_bin, *args):
    return subprocess.run([convert_bin] + list(args), user=1000, group=1000, extra_groups=[],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)


@needs_root
def test_unprivileged_trusted_opaque_is_refused_with_exit_4(convert_bin, branch):
    mk(branch, ".unionfs/d_HIDDEN~", "")
    mk(branch, "d")
    subprocess.run(["chown", "-R", "1000:1000", branch], check=True)
    before = snapshot(branch)
    r = as_user(convert_bin, "--to", "overlay", branch)
    assert r.returncode == 4 and r.stderr.count("\n") == 1 and "--userxattr" in r.stderr
    assert snapshot(branch) == before


@needs_root
def test_unprivileged_userxattr_conversion_works(convert_bin, branch):
    mk(branch, ".unionfs/d_HIDDEN~", "")
    mk(branch, "d")
    subprocess.run(["chown", "-R", "1000:1000", branch], check=True)
    r = as_user(convert_bin, "--to", "overlay", "--userxattr", branch)
    assert r.returncode == 0, r.stderr
    assert xattr(os.path.join(branch, "d"), "user.overlay.opaque") == b"y"
    assert os.listdir(branch) == ["d"]
