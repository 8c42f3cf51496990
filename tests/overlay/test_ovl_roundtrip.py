"""Round trips between unionfs and the kernel's overlayfs over the same
layers: what one of them shows after changes, the other shows too, byte for
byte (full recursive listing: modes, owners, sizes, symlink targets,
content hashes and xattrs)."""
import os
import stat

import pytest

from ovlutil import assert_same, assert_scenario, make_changes, make_lower, read, view, write


def union_spec(layers):
    return "%s=RW:%s=RO" % (layers.upper, layers.lower)


def overlay(mount_overlay, layers, mnt=None):
    return mount_overlay(layers.lower, layers.upper, layers.work, mnt or layers.mnt2)


def test_union_overlay_format_mounts_identically_under_overlayfs(layers, mount_union,
                                                                 mount_overlay):
    make_lower(layers.lower)
    u = mount_union(union_spec(layers), layers.mnt, "cow,whiteout=overlay")
    make_changes(layers.mnt)
    seen = view(layers.mnt)
    assert_scenario(seen)
    assert u.stop() == 0
    overlay(mount_overlay, layers)
    assert_same(seen, view(layers.mnt2), "unionfs (whiteout=overlay) vs overlayfs")


def test_union_overlay_format_writes_no_meta_directory(layers, mount_union):
    make_lower(layers.lower)
    u = mount_union(union_spec(layers), layers.mnt, "cow,whiteout=overlay")
    make_changes(layers.mnt)
    assert u.stop() == 0
    assert not os.path.lexists(os.path.join(layers.upper, ".unionfs"))
    st = os.lstat(os.path.join(layers.upper, "del.txt"))
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def test_overlayfs_changes_mount_identically_under_unionfs(layers, mount_union,
                                                           mount_overlay):
    make_lower(layers.lower)
    o = overlay(mount_overlay, layers, layers.mnt)
    make_changes(layers.mnt)
    seen = view(layers.mnt)
    assert_scenario(seen)
    o.stop()
    mount_union(union_spec(layers), layers.mnt2)
    assert_same(seen, view(layers.mnt2), "overlayfs vs unionfs")


def test_converted_unionfs_layer_mounts_identically_under_overlayfs(layers, mount_union,
                                                                    mount_overlay, convert):
    make_lower(layers.lower)
    u = mount_union(union_spec(layers), layers.mnt)
    make_changes(layers.mnt)
    seen = view(layers.mnt)
    assert_scenario(seen)
    assert u.stop() == 0
    assert os.path.isdir(os.path.join(layers.upper, ".unionfs"))
    r = convert("--to", "overlay", "--lower", layers.lower, layers.upper)
    assert r.returncode == 0, r.stderr
    overlay(mount_overlay, layers)
    assert_same(seen, view(layers.mnt2), "unionfs (default format) vs converted, overlayfs")


def test_converted_back_layer_mounts_identically_under_unionfs(layers, mount_union,
                                                               mount_overlay, convert):
    make_lower(layers.lower)
    u = mount_union(union_spec(layers), layers.mnt)
    make_changes(layers.mnt)
    seen = view(layers.mnt)
    assert_scenario(seen)
    assert u.stop() == 0
    assert convert("--to", "overlay", "--lower", layers.lower, layers.upper).returncode == 0
    r = convert("--to", "unionfs", layers.upper)
    assert r.returncode == 0, r.stderr
    assert not any(os.path.lexists(os.path.join(layers.upper, p))
                   for p in ("del.txt", "dir_del", "link_del", "deep/a/b/c/file"))
    mount_union(union_spec(layers), layers.mnt2)
    assert_same(seen, view(layers.mnt2), "unionfs before vs after a round trip of formats")


def test_overlayfs_layer_converted_to_unionfs_format_mounts_identically(
        layers, mount_union, mount_overlay, convert):
    make_lower(layers.lower)
    o = overlay(mount_overlay, layers, layers.mnt)
    make_changes(layers.mnt)
    seen = view(layers.mnt)
    assert_scenario(seen)
    o.stop()
    r = convert("--to", "unionfs", layers.upper)
    assert r.returncode == 0, r.stderr
    mount_union(union_spec(layers), layers.mnt2)
    assert_same(seen, view(layers.mnt2), "overlayfs vs unionfs after --to unionfs")


# --------------------------------------------------------------------------
# OCI image layers: .wh.NAME and .wh..wh..opq, as image tools unpack them.

def make_oci_layers(layers):
    """lower: a base image layer; upper: a layer deleting and replacing."""
    make_lower(layers.lower)
    up = lambda rel: os.path.join(layers.upper, rel)  # noqa: E731
    for d in ("dir_recreate", "deep/a/b/c", "added"):
        os.makedirs(up(d), exist_ok=True)
    write(up(".wh.del.txt"), "")
    write(up(".wh.dir_del"), "")
    write(up(".wh.link_del"), "")
    write(up("dir_recreate/.wh..wh..opq"), "")
    write(up("dir_recreate/new"), "new\n")
    write(up("deep/a/b/c/.wh.file"), "")
    write(up("added/f"), "added\n")
    write(up("mod.txt"), "replaced\n")


OCI_EXPECTED = {
    ".": None, "added": None, "added/f": "added\n", "deep": None, "deep/a": None,
    "deep/a/b": None, "deep/a/b/c": None, "deep/a/b/c/other": "deep other\n",
    "dir_recreate": None, "dir_recreate/new": "new\n", "keep.txt": "keep\n",
    "keep_dir": None, "keep_dir/f": "kept\n", "link": "->keep.txt", "mod.txt": "replaced\n",
    "mode.txt": "mode\n", "ren_dir": None, "ren_dir/x": "x\n", "ren_dir/y": None,
    "ren_dir/y/z": "z\n", "ren_src.txt": "rename me\n", "keep_dir/g": "rewrite me\n",
    "deep/a/sub": None, "deep/a/sub/s": "s\n", "swap_dir": None, "swap_dir/a": "a\n",
    "swap_file": "file\n",
}


def contents(mnt):
    """{path: file content, "->target" for a symlink, None for a directory}"""
    got = {}
    for rel, attrs in view(mnt).items():
        got[rel] = ("->" + attrs["target"] if "target" in attrs
                    else read(os.path.join(mnt, rel)) if "sha256" in attrs else None)
    return got


def test_oci_whiteouts_are_honoured_by_unionfs(layers, mount_union):
    make_oci_layers(layers)
    mount_union("%s=RO:%s=RO" % (layers.upper, layers.lower), layers.mnt, "")
    assert contents(layers.mnt) == OCI_EXPECTED


def test_oci_whiteout_beside_same_layer_directory_makes_it_opaque(layers, mount_union):
    make_oci_layers(layers)
    write(os.path.join(layers.upper, ".wh.swap_dir"), "")
    os.mkdir(os.path.join(layers.upper, "swap_dir"))
    write(os.path.join(layers.upper, "swap_dir/new"), "new\n")
    mount_union("%s=RO:%s=RO" % (layers.upper, layers.lower), layers.mnt, "")
    got = contents(layers.mnt)
    assert {k: v for k, v in got.items() if k.startswith("swap_dir")} == \
        {"swap_dir": None, "swap_dir/new": "new\n"}


def test_oci_layer_converted_to_overlay_matches_unionfs_view(layers, mount_union,
                                                            mount_overlay, convert):
    make_oci_layers(layers)
    mount_union("%s=RO:%s=RO" % (layers.upper, layers.lower), layers.mnt, "")
    seen = view(layers.mnt)
    r = convert("--to", "overlay", layers.upper)
    assert r.returncode == 0, r.stderr
    mount_overlay("%s:%s" % (layers.upper, layers.lower), None, None, layers.mnt2)
    assert_same(seen, view(layers.mnt2), "unionfs over OCI layers vs overlayfs after --to overlay")


def test_layer_written_with_whiteout_overlay_needs_no_conversion(layers, mount_union, convert):
    make_lower(layers.lower)
    u = mount_union(union_spec(layers), layers.mnt, "cow,whiteout=overlay")
    make_changes(layers.mnt)
    assert u.stop() == 0
    r = convert("--to", "overlay", "--dry-run", layers.upper)
    assert (r.returncode, r.stdout) == (0, "%s: nothing to convert, already in overlay format\n"
                                        % layers.upper)


def test_layer_written_by_overlayfs_needs_no_conversion(layers, mount_overlay, convert):
    make_lower(layers.lower)
    o = overlay(mount_overlay, layers, layers.mnt)
    make_changes(layers.mnt)
    o.stop()
    r = convert("--to", "overlay", "--dry-run", layers.upper)
    assert (r.returncode, r.stdout) == (0, "%s: nothing to convert, already in overlay format\n"
                                        % layers.upper)
