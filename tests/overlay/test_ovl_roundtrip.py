"""Round trips between unionfs and the kernel's overlayfs over the same
layers: what one of them shows after changes, the other shows too, byte for
byte (full recursive listing: modes, owners, sizes, symlink targets,
content hashes and xattrs)."""
import os
import stat

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
    "ren_dir/y/z": "z\n", "ren_src.txt": "rename me\n",
}


def test_oci_whiteouts_are_honoured_by_unionfs(layers, mount_union):
    make_oci_layers(layers)
    mount_union("%s=RO:%s=RO" % (layers.upper, layers.lower), layers.mnt, "")
    got = {}
    for rel, attrs in view(layers.mnt).items():
        p = os.path.join(layers.mnt, rel)
        got[rel] = ("->" + attrs["target"] if "target" in attrs
                    else read(p) if "sha256" in attrs else None)
    assert got == OCI_EXPECTED


def test_oci_layer_converted_to_overlay_matches_unionfs_view(layers, mount_union,
                                                            mount_overlay, convert):
    make_oci_layers(layers)
    mount_union("%s=RO:%s=RO" % (layers.upper, layers.lower), layers.mnt, "")
    seen = view(layers.mnt)
    r = convert("--to", "overlay", layers.upper)
    assert r.returncode == 0, r.stderr
    mount_overlay("%s:%s" % (layers.upper, layers.lower), None, None, layers.mnt2)
    assert_same(seen, view(layers.mnt2), "unionfs over OCI layers vs overlayfs after --to overlay")
