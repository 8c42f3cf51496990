"""Helpers for the overlayfs interoperability tests: mounting unionfs and the
kernel's overlayfs over the same layers, a full recursive view of a tree for
comparing the two, and the layer contents and changes the tests share."""
import hashlib
import os
import shutil
import stat
import subprocess

import pytest

from util import (FUSERMOUNT, abort_connection, fuse_missing_reason, mounted, sanitizer_report,
                  spawn_daemon, start_watchdog, wait_mounted)

MOUNT_TIMEOUT = 10.0
EXIT_TIMEOUT = 10.0
# A hung daemon must not hang the suite: after this long its FUSE connection
# is aborted, so every blocked system call on the mount fails.
WATCHDOG_TIMEOUT = 60.0
# Portable overlay options: no redirect/metacopy/index xattrs, which only
# the kernel understands, so a layer it writes holds whiteouts and opaque
# directories only (a merged directory rename then copies, as mv does).
OVERLAY_OPTS = "redirect_dir=off,metacopy=off,index=off"


def read(path, mode="r"):
    with open(path, mode) as f:
        return f.read()


def write(path, data):
    with open(path, "w") as f:
        f.write(data)


def force_unmount(mnt):
    """Detach mnt whatever state it is in: FUSE first, then umount, lazy."""
    for argv in ([FUSERMOUNT, "-u", mnt], ["umount", mnt],
                 [FUSERMOUNT, "-u", "-z", mnt], ["umount", "-l", mnt]):
        if not mounted(mnt):
            return
        if argv[0]:
            subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def overlay_unavailable():
    if os.geteuid() != 0:
        return "mount -t overlay needs root"
    with open("/proc/filesystems") as f:
        if not any(line.split()[-1] == "overlay" for line in f if line.strip()):
            return "the kernel has no overlay filesystem"
    fuse = fuse_missing_reason()
    if fuse:
        return "FUSE is unavailable: " + fuse
    return None


# --------------------------------------------------------------------------
# Mounts.

class UnionMount:
    """unionfs in the foreground over the given branch spec.  The meta
    directory is hidden (hide_meta_files), as overlayfs has none to show."""

    def __init__(self, binary, spec, mnt, opts, log):
        opts = ",".join(o for o in ("cache=never,hide_meta_files", opts) if o)
        self.argv = [binary, "-f", "-o", opts, spec, mnt]
        self.mnt, self.log, self.proc, self.watchdog = mnt, log, None, None

    def start(self):
        self.proc = spawn_daemon(self.argv, self.log, "a")
        if not wait_mounted(self.proc, self.mnt, MOUNT_TIMEOUT):
            self.stop()
            pytest.fail("unionfs did not mount %s:\n%s" % (self.mnt, read(self.log)))
        self.watchdog = start_watchdog(WATCHDOG_TIMEOUT, self.hung)
        return self

    def hung(self):
        """Watchdog: end the FUSE connection (abort it through fusectl, or
        kill the daemon, which closes /dev/fuse)."""
        abort_connection(self.mnt)
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()

    def stop(self):
        """Unmount and reap; returns the daemon's exit status."""
        if self.proc is None:
            return None
        if self.watchdog:
            self.watchdog.cancel()
        force_unmount(self.mnt)
        try:
            rc = self.proc.wait(EXIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.proc = None
        text = read(self.log)
        assert not sanitizer_report(text), text
        return rc


class OverlayMount:
    """The kernel's overlayfs: lowerdir (colon list), upperdir, workdir."""

    def __init__(self, lower, upper, work, mnt, extra=OVERLAY_OPTS):
        opts = "lowerdir=%s" % lower
        if upper:
            opts += ",upperdir=%s,workdir=%s" % (upper, work)
        self.argv = ["mount", "-t", "overlay", "overlay", "-o",
                     ",".join(o for o in (opts, extra) if o), mnt]
        self.mnt, self.work = mnt, work

    def start(self):
        r = subprocess.run(self.argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True)
        assert r.returncode == 0, "%s: %s" % (" ".join(self.argv), r.stdout)
        return self

    def stop(self):
        force_unmount(self.mnt)
        # The kernel leaves its work/ and index/ dirs (mode 000) behind.
        if self.work and os.path.isdir(self.work):
            shutil.rmtree(self.work)
            os.mkdir(self.work)
        return 0


# --------------------------------------------------------------------------
# What a tree looks like: everything a user of the mount can observe except
# times, inode numbers and directory sizes (which differ by filesystem).

def _xattrs(path):
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return ()
    out = []
    for name in sorted(names):
        try:
            out.append((name, os.getxattr(path, name, follow_symlinks=False)))
        except OSError as e:
            out.append((name, "error %d" % e.errno))
    return tuple(out)


def _entry(path):
    st = os.lstat(path)
    entry = {"mode": oct(st.st_mode), "uid": st.st_uid, "gid": st.st_gid,
             "xattrs": _xattrs(path)}
    if stat.S_ISREG(st.st_mode):
        entry["size"] = st.st_size
        entry["sha256"] = hashlib.sha256(read(path, "rb")).hexdigest()
    elif stat.S_ISLNK(st.st_mode):
        entry["size"] = st.st_size
        entry["target"] = os.readlink(path)
    elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        entry["rdev"] = (os.major(st.st_rdev), os.minor(st.st_rdev))
    return entry


def view(root):
    """{relative path: attributes} of the whole tree below root."""
    out = {".": _entry(root)}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in dirnames + sorted(filenames):
            p = os.path.join(dirpath, name)
            out[os.path.relpath(p, root)] = _entry(p)
    return out


def diff(a, b):
    """Readable differences between two views (empty when equal)."""
    lines = []
    for k in sorted(set(a) | set(b)):
        if k not in b:
            lines.append("only in the first: %s %s" % (k, a[k]))
        elif k not in a:
            lines.append("only in the second: %s %s" % (k, b[k]))
        elif a[k] != b[k]:
            lines.append("differs: %s\n    %s\n    %s" % (k, a[k], b[k]))
    return "\n".join(lines)


def assert_same(a, b, what):
    d = diff(a, b)
    assert not d, "%s:\n%s" % (what, d)


# --------------------------------------------------------------------------
# The shared scenario: a lower layer and the changes made on top of it.

def make_lower(lower):
    for d in ("dir_del/sub", "dir_recreate/sub", "ren_dir/y", "deep/a/b/c", "keep_dir",
              "deep/a/sub", "swap_dir"):
        os.makedirs(os.path.join(lower, d))
    files = {
        "keep.txt": "keep\n", "del.txt": "delete me\n", "mod.txt": "original\n",
        "mode.txt": "mode\n", "ren_src.txt": "rename me\n",
        "dir_del/a": "a\n", "dir_del/sub/b": "b\n",
        "dir_recreate/old1": "old1\n", "dir_recreate/sub/old2": "old2\n",
        "ren_dir/x": "x\n", "ren_dir/y/z": "z\n",
        "deep/a/b/c/file": "deep file\n", "deep/a/b/c/other": "deep other\n",
        "keep_dir/f": "kept\n", "keep_dir/g": "rewrite me\n", "deep/a/sub/s": "s\n",
        "swap_dir/a": "a\n", "swap_file": "file\n",
    }
    for rel, data in files.items():
        write(os.path.join(lower, rel), data)
    os.chmod(os.path.join(lower, "mode.txt"), 0o644)
    os.chmod(os.path.join(lower, "deep/a"), 0o750)
    os.chown(os.path.join(lower, "deep/a/b"), 1000, 1000)
    os.symlink("keep.txt", os.path.join(lower, "link"))
    os.symlink("keep.txt", os.path.join(lower, "link_del"))


def rename(src, dst):
    """rename(2), or copy + delete where the filesystem answers EXDEV (as mv
    does: overlayfs without redirect_dir cannot rename merged directories)."""
    try:
        os.rename(src, dst)
    except OSError as e:
        if e.errno != 18:  # EXDEV
            raise
        shutil.copytree(src, dst, symlinks=True, copy_function=shutil.copy2)
        shutil.rmtree(src)


def make_changes(mnt):
    """Deletes of files and directories, a directory deleted and re-created,
    renames of a file and a directory, writes, chmod, new names."""
    m = lambda rel: os.path.join(mnt, rel)  # noqa: E731
    os.unlink(m("del.txt"))
    shutil.rmtree(m("dir_del"))
    shutil.rmtree(m("dir_recreate"))
    os.mkdir(m("dir_recreate"))
    write(m("dir_recreate/new"), "new\n")
    rename(m("ren_src.txt"), m("ren_dst.txt"))
    rename(m("ren_dir"), m("ren_dir2"))
    with open(m("mod.txt"), "a") as f:
        f.write("appended\n")
    os.chmod(m("mode.txt"), 0o600)
    os.unlink(m("deep/a/b/c/file"))
    os.unlink(m("link_del"))
    os.symlink("mod.txt", m("newlink"))
    os.makedirs(m("newdir/inner"))
    write(m("newdir/inner/f"), "fresh\n")
    shutil.rmtree(m("deep/a/sub"))
    shutil.rmtree(m("swap_dir"))
    write(m("swap_dir"), "now a file\n")
    os.unlink(m("swap_file"))
    os.mkdir(m("swap_file"))
    write(m("swap_file/inner"), "now a dir\n")
    os.unlink(m("keep_dir/g"))
    write(m("keep_dir/g"), "rewritten\n")


# What every round trip must show after make_changes (so that two equal
# views are also the right view).
SCENARIO_ABSENT = ("del.txt", "dir_del", "ren_src.txt", "ren_dir", "link_del",
                   "deep/a/b/c/file", "dir_recreate/old1", "dir_recreate/sub", "deep/a/sub",
                   "swap_dir/a")
SCENARIO_PRESENT = ("keep.txt", "ren_dst.txt", "ren_dir2/x", "ren_dir2/y/z",
                    "deep/a/b/c/other", "dir_recreate/new", "newdir/inner/f", "newlink",
                    "keep_dir/f", "link", "swap_file/inner")


def assert_scenario(v):
    assert [p for p in SCENARIO_ABSENT if p in v] == []
    assert [p for p in SCENARIO_PRESENT if p not in v] == []
    assert sorted(p for p in v if p.startswith("dir_recreate/")) == ["dir_recreate/new"]
    assert v["mode.txt"]["mode"] == oct(0o100600)
    assert v["newlink"]["target"] == "mod.txt"
    assert v["deep/a"]["mode"] == oct(0o40750) and v["deep/a/b"]["uid"] == 1000
    assert v["swap_dir"]["mode"] == oct(0o100644) and v["swap_dir"]["size"] == 11
    assert v["keep_dir/g"]["size"] == len("rewritten\n")
