"""Helpers shared by the union filesystem tests (imported by conftest.py and
the test modules): branch seeding, the Union mount handle, small file
utilities, whiteout paths and running commands as another user."""
import errno
import hashlib
import os
import signal
import stat
import subprocess

import pytest

from util import (abort_connection, fuse_unmount, lazy_unmount, mounted, sanitizer_report,
                  spawn_daemon, start_watchdog, wait_exit, wait_mounted)

MOUNT_TIMEOUT = 10.0
# A hung daemon must not hang the suite: after this long, the mount's FUSE
# connection is aborted so blocked system calls return ENOTCONN.
WATCHDOG_TIMEOUT = 120.0
EXIT_TIMEOUT = 10.0

# Branch layouts: name -> (branch list, default options).  Branch names start
# with rw/ro only to describe their mode in the layout where they were made.
LAYOUTS = {
    "rw-ro": ([("rw1", "RW"), ("ro1", "RO")], "cow"),
    "ro-rw": ([("ro1", "RO"), ("rw1", "RW")], "cow"),
    "rw-rw": ([("rw1", "RW"), ("rw2", "RW")], "cow"),
    "rw-ro-nocow": ([("rw1", "RW"), ("ro1", "RO")], ""),
    "rw-rw-nocow": ([("rw1", "RW"), ("rw2", "RW")], ""),
    "rw-ro-ro": ([("rw1", "RW"), ("ro1", "RO"), ("ro2", "RO")], "cow"),
    "rw-rw-ro": ([("rw1", "RW"), ("rw2", "RW"), ("ro1", "RO")], "cow"),
}


# --------------------------------------------------------------------------
# Small utilities.

def read(path, mode="r"):
    with open(path, mode) as f:
        return f.read()


def write(path, data, mode="w"):
    with open(path, mode) as f:
        f.write(data)


def hidden(branch, relpath, meta=".unionfs"):
    """unionfs-fuse whiteout path for relpath in branch."""
    return os.path.join(str(branch), meta, relpath + "_HIDDEN~")


def hash_noatime(path):
    """sha1 of a file, read without touching its atime (tests check atimes)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOATIME)
    except PermissionError:
        fd = os.open(path, os.O_RDONLY)
    h = hashlib.sha1()
    with os.fdopen(fd, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def tree_snapshot(root):
    """Everything observable about a branch except atimes: used to prove that
    read-only branches are never written."""
    snap = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in [""] + dirnames + filenames:
            p = os.path.join(dirpath, name) if name else dirpath
            if name == "" and dirpath != root:
                continue
            st = os.lstat(p)
            rel = os.path.relpath(p, root)
            entry = [st.st_mode, st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns,
                     st.st_nlink, st.st_ino]
            if stat.S_ISREG(st.st_mode):
                entry.append(hash_noatime(p))
            elif stat.S_ISLNK(st.st_mode):
                entry.append(os.readlink(p))
            try:
                entry.append(sorted((x, os.getxattr(p, x, follow_symlinks=False))
                                    for x in os.listxattr(p, follow_symlinks=False)))
            except OSError:
                pass
            snap[rel] = entry
    return snap


# --------------------------------------------------------------------------
# Branches.

class Branch(str):
    """A branch directory (a str: its absolute path) with its name and mode."""

    def __new__(cls, path, name, mode):
        obj = str.__new__(cls, path)
        obj.name = name
        obj.mode = mode
        return obj

    def p(self, rel=""):
        return os.path.join(self, rel) if rel else str(self)

    def hidden(self, rel, meta=".unionfs"):
        return hidden(self, rel, meta)


def seed_branch(path, name):
    os.makedirs(os.path.join(path, "common_dir"))
    os.makedirs(os.path.join(path, name + "_dir"))
    for rel in ("common_file", name + "_file", "common_dir/common_file",
                "common_dir/" + name + "_file", name + "_dir/" + name + "_file"):
        write(os.path.join(path, rel), name + "\n")


# --------------------------------------------------------------------------
# The union.

class Union:
    """One mounted union: mnt, branches, proc, log.  u.m("a/b") is a path in
    the mount, u.b["rw1"] a branch."""

    def __init__(self, request, unionfs_bin, workdir, branches, opts, mnt_name,
                 spec_style):
        self.request = request
        self.bin = unionfs_bin
        self.workdir = workdir
        self.branches = branches
        self.b = {br.name: br for br in branches}
        self.opts = opts
        self.mnt = os.path.join(workdir, mnt_name)
        self.spec_style = spec_style
        self.proc = None
        self.log = None
        self.logs = []
        self.check_ro = True
        self.allowed_exit = {0}
        self.ro_snap = {}
        self.watchdog = None
        os.makedirs(self.mnt, exist_ok=True)
        os.chmod(self.mnt, 0o755)

    # paths
    def m(self, rel=""):
        return os.path.join(self.mnt, rel) if rel else self.mnt

    def branch_spec(self):
        return ":".join("%s=%s" % (br, br.mode) for br in self.branches)

    def argv(self):
        opts = ",".join(o for o in ("cache=never", self.opts) if o)
        if self.spec_style == "dirs":
            opts += ",dirs=" + self.branch_spec()
            return [self.bin, "-f", "-o", opts, self.mnt]
        return [self.bin, "-f", "-o", opts, self.branch_spec(), self.mnt]

    def start(self):
        assert not mounted(self.mnt), "%s is already mounted" % self.mnt
        if os.path.exists(self.bin) is False:
            pytest.fail("%s is not built (make fs/unionfs)" % self.bin)
        self.log = os.path.join(self.workdir, "daemon-%s-%d.log"
                                % (os.path.basename(self.mnt), len(self.logs)))
        self.logs.append(self.log)
        self.request.node._ufs_logs = getattr(self.request.node, "_ufs_logs", []) + [self.log]
        self.ro_snap = {br: tree_snapshot(br) for br in self.branches if br.mode == "RO"}
        self.proc = spawn_daemon(self.argv(), self.log)
        self._wait_mounted()
        # The kernel fails every pending request of an aborted connection.
        self.watchdog = start_watchdog(WATCHDOG_TIMEOUT, abort_connection, self.mnt)
        return self

    def _wait_mounted(self):
        if wait_mounted(self.proc, self.mnt, MOUNT_TIMEOUT):
            return
        if self.proc.poll() is not None:
            pytest.fail("unionfs exited with %d before mounting:\n%s"
                        % (self.proc.returncode, read(self.log)))
        self.kill()
        pytest.fail("unionfs did not mount %s within %.0f s:\n%s"
                    % (self.mnt, MOUNT_TIMEOUT, read(self.log)))

    def kill(self, sig=signal.SIGKILL):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            self.proc.wait(EXIT_TIMEOUT)
        lazy_unmount(self.mnt)

    def unmount(self):
        """Clean unmount; returns the daemon's exit status."""
        fuse_unmount(self.mnt)
        return wait_exit(self.proc, self.mnt, self.log, EXIT_TIMEOUT)

    def remount(self):
        rc = self.unmount()
        assert rc == 0, "unionfs exited %s on unmount:\n%s" % (rc, read(self.log))
        self.check_ro_unchanged()
        return self.start()

    def check_ro_unchanged(self):
        if not self.check_ro:
            return
        for br, snap in self.ro_snap.items():
            now = tree_snapshot(br)
            changed = sorted(set(snap) ^ set(now)) + sorted(
                k for k in set(snap) & set(now) if snap[k] != now[k])
            assert not changed, "read-only branch %s was modified: %s" % (br.name, changed)

    def finish(self, passed):
        """Teardown: always unmount and reap; check exit status, sanitizer
        output and read-only branches only when the test itself passed."""
        if self.proc is None:
            return
        if self.watchdog:
            self.watchdog.cancel()
        if self.proc.poll() is not None and not mounted(self.mnt):
            rc = self.proc.returncode
        else:
            rc = self.unmount()
        lazy_unmount(self.mnt)
        text = read(self.log)
        bad = sanitizer_report(text)
        assert not bad, "sanitizer report in daemon log:\n%s" % text
        if passed:
            assert rc in self.allowed_exit, \
                "unionfs exited with status %s:\n%s" % (rc, text)
            self.check_ro_unchanged()

# --------------------------------------------------------------------------
# Running things as another user.

def run_as(uid, gid, argv, groups=(), **kw):
    """Run argv with the given credentials (no process-wide change here)."""
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    kw.setdefault("text", True)
    return subprocess.run(argv, user=uid, group=gid, extra_groups=list(groups), **kw)


def errno_of(rc):
    """Helper programs exit with the errno of the failed call."""
    return errno.errorcode.get(rc, str(rc))
