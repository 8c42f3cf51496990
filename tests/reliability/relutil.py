"""Helpers of the reliability suite: the Union mount handle (foreground
daemon, mount wait, watchdog, kill -9, remount, teardown checks), branch
inspection ("fsck") and small file utilities.  Imported by conftest.py and
the test_rel_* modules only."""
import errno
import hashlib
import os
import re
import signal
import stat

import pytest

from util import (abort_connection, fuse_unmount, lazy_unmount, mounted, sanitizer_report,
                  sha256_file, spawn_daemon, start_watchdog, wait_exit, wait_mounted)

STRESS = int(os.environ.get("UFS_STRESS") or 0)
VALGRIND = os.environ.get("UFS_VALGRIND", "") not in ("", "0")
VALGRIND_ERROR = 99
MOUNT_TIMEOUT = 60.0 if VALGRIND else 10.0
EXIT_TIMEOUT = 60.0 if VALGRIND else 10.0
# A hung daemon must not hang the suite: after this long the FUSE connection
# is aborted, so every blocked system call returns ENOTCONN and the test fails.
WATCHDOG_TIMEOUT = 600.0 if (STRESS or VALGRIND) else 150.0
META = ".unionfs"
WORK = ".ufs-work"


def scaled(check, stress_value):
    """check in `make check`, stress_value * UFS_STRESS in `make stress`."""
    return stress_value * STRESS if STRESS else check


# --------------------------------------------------------------------------
# Environment probes.

def sanitized_build(binary):
    try:
        with open(binary, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


# --------------------------------------------------------------------------
# Files.

def read(path, mode="rb"):
    with open(path, mode) as f:
        return f.read()


def write(path, data, mode="wb"):
    with open(path, mode) as f:
        f.write(data)


def pattern(seed, size):
    """Deterministic position-dependent bytes: misplaced blocks never match."""
    block = hashlib.sha256(b"%d" % seed).digest() * 128  # 4 KiB
    out = bytearray()
    i = 0
    while len(out) < size:
        out += b"%08d" % i + block[8:]
        i += 1
    return bytes(out[:size])


def tree_snapshot(root, skip_meta=False):
    """Everything observable about a tree except atimes: {relpath: entry}."""
    snap = {}
    for dirpath, dirnames, filenames in os.walk(root):
        if skip_meta and dirpath == root and META in dirnames:
            dirnames.remove(META)
        dirnames.sort()
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            entry = [stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode)]
            if not stat.S_ISDIR(st.st_mode):
                entry.append(st.st_size)
            if stat.S_ISREG(st.st_mode):
                entry.append(sha256_file(p))
            elif stat.S_ISLNK(st.st_mode):
                entry.append(os.readlink(p))
            snap[os.path.relpath(p, root)] = entry
    return snap


def ro_snapshot(root):
    """Stricter snapshot for read-only branches: also owners, mtimes, inodes,
    link counts and xattrs.  Walks with directory fds (os.fwalk), so paths
    longer than PATH_MAX work too."""
    snap = {}
    st = os.lstat(root)
    snap["."] = [st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns, st.st_ino]
    for dirpath, dirnames, filenames, dirfd in os.fwalk(root):
        rel_dir = os.path.relpath(dirpath, root)
        for name in dirnames + filenames:
            st = os.lstat(name, dir_fd=dirfd)
            entry = [st.st_mode, st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns,
                     st.st_nlink, st.st_ino]
            via = "/proc/self/fd/%d/%s" % (dirfd, name)
            try:
                entry.append(sorted((x, os.getxattr(via, x, follow_symlinks=False))
                                    for x in os.listxattr(via, follow_symlinks=False)))
            except OSError:
                pass
            snap[os.path.normpath(os.path.join(rel_dir, name))] = entry
    return snap


def debris(mnt):
    """Names visible in the union that only a half-finished operation could
    leave: temp files, markers, the work area."""
    bad = []
    for dirpath, dirnames, filenames in os.walk(mnt):
        if dirpath == mnt and META in dirnames:
            dirnames.remove(META)
        for name in dirnames + filenames:
            if (name.startswith(".ufs-tmp") or name.endswith("_HIDDEN~")
                    or name == WORK or name.startswith(".wh.")):
                bad.append(os.path.relpath(os.path.join(dirpath, name), mnt))
    return bad


def branch_fsck(branch):
    """Problems in an RW branch after a mount has cleaned it: a non-empty
    work area, or `.ufs-tmp.*` names anywhere."""
    problems = []
    work = os.path.join(branch, META, WORK)
    if os.path.isdir(work) and os.listdir(work):
        problems.append("work area not empty: %s" % sorted(os.listdir(work))[:10])
    for dirpath, dirnames, filenames in os.walk(branch):
        for name in dirnames + filenames:
            if name.startswith(".ufs-tmp"):
                problems.append("temporary left: %s"
                                % os.path.relpath(os.path.join(dirpath, name), branch))
    return problems


def daemon_fds(pid):
    """The daemon's open fds, without pipes: libfuse keeps a splice pipe
    pair per worker thread, created lazily, so their number follows the
    thread count, not the workload."""
    n = 0
    fddir = "/proc/%d/fd" % pid
    for fd in os.listdir(fddir):
        try:
            if not os.readlink(os.path.join(fddir, fd)).startswith("pipe:"):
                n += 1
        except OSError:
            pass
    return n


def daemon_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def drop_caches():
    """Make the kernel forget cached dentries/inodes (so FORGETs reach the
    daemon); a no-op without root."""
    try:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("2")
    except OSError:
        pass


def errname(e):
    return errno.errorcode.get(e, str(e))


# --------------------------------------------------------------------------
# The union.

class Union:
    """One union: mnt, branches (name -> path), the daemon and its log.
    spec is a list of (name, mode); u.b[name] is that branch's path,
    u.m(rel) a path in the mount."""

    def __init__(self, request, unionfs_bin, workdir, spec, opts, mnt_name):
        self.request = request
        self.bin = unionfs_bin
        self.workdir = workdir
        self.spec = list(spec)
        self.b = {}
        for name, _mode in self.spec:
            path = os.path.join(workdir, name)
            os.makedirs(path, exist_ok=True)
            os.chmod(path, 0o755)
            self.b[name] = path
        self.opts = opts
        self.mnt = os.path.join(workdir, mnt_name)
        os.makedirs(self.mnt, exist_ok=True)
        os.chmod(self.mnt, 0o755)
        self.proc = None
        self.log = None
        self.nstarts = 0
        self.allowed_exit = {0}
        self.ro_snap = {}
        self.watchdog = None

    def m(self, rel=""):
        return os.path.join(self.mnt, rel) if rel else self.mnt

    def rw_branches(self):
        return [self.b[n] for n, mode in self.spec if mode == "RW"]

    def argv(self):
        opts = ",".join(o for o in ("cache=never", self.opts) if o)
        spec = ":".join("%s=%s" % (self.b[n], mode) for n, mode in self.spec)
        argv = [self.bin, "-f", "-o", opts, spec, self.mnt]
        if VALGRIND:
            argv = ["valgrind", "--tool=memcheck", "--error-exitcode=%d" % VALGRIND_ERROR,
                    "--leak-check=full", "--errors-for-leak-kinds=definite",
                    "--show-leak-kinds=definite", "--track-fds=no", "-q"] + argv
        return argv

    def start(self):
        assert not mounted(self.mnt), "%s is already mounted" % self.mnt
        if not os.access(self.bin, os.X_OK):
            pytest.fail("%s is not built (make fs/unionfs)" % self.bin)
        self.log = os.path.join(self.workdir, "daemon-%s-%d.log"
                                % (os.path.basename(self.mnt), self.nstarts))
        self.nstarts += 1
        node = self.request.node
        node._rel_logs = getattr(node, "_rel_logs", []) + [self.log]
        self.ro_snap = {n: ro_snapshot(self.b[n]) for n, mode in self.spec if mode == "RO"}
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
                        % (self.proc.returncode, read(self.log, "r")))
        self.kill()
        pytest.fail("unionfs did not mount %s within %.0f s" % (self.mnt, MOUNT_TIMEOUT))

    def kill(self, sig=signal.SIGKILL):
        """kill the daemon and detach its mount (the crash of the tests)."""
        if self.watchdog:
            self.watchdog.cancel()
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            self.proc.wait(EXIT_TIMEOUT)
        lazy_unmount(self.mnt)

    def crash(self):
        """kill -9 the daemon, detach the mount; the next start is allowed."""
        self.kill()
        assert not mounted(self.mnt), "mount still present after kill and lazy unmount"

    def unmount(self):
        """Clean unmount; returns the daemon's exit status."""
        if self.watchdog:
            self.watchdog.cancel()
        fuse_unmount(self.mnt)
        return wait_exit(self.proc, self.mnt, self.log, EXIT_TIMEOUT)

    def remount(self):
        """Clean unmount (exit status 0 required) and mount again."""
        rc = self.unmount()
        assert rc == 0, "unionfs exited %s on unmount:\n%s" % (rc, read(self.log, "r"))
        self.check_log()
        return self.start()

    def check_log(self):
        text = read(self.log, "r")
        bad = sanitizer_report(text)
        assert not bad, "sanitizer report in daemon log:\n%s" % text[-20000:]
        if VALGRIND:
            found = [l for l in text.splitlines() if re.match(r"==\d+== \S", l)]
            assert not found, "valgrind report in daemon log:\n%s" % text[-20000:]

    def check_ro_unchanged(self):
        for name, snap in self.ro_snap.items():
            now = ro_snapshot(self.b[name])
            changed = sorted(set(snap) ^ set(now)) + sorted(
                k for k in set(snap) & set(now) if snap[k] != now[k])
            assert not changed, "read-only branch %s was modified: %s" % (name, changed)

    def finish(self, passed):
        """Teardown: always unmount and reap; check exit status, the log and
        the read-only branches when the test itself passed."""
        if self.proc is None:
            return
        if self.proc.poll() is not None and not mounted(self.mnt):
            rc = self.proc.returncode
        else:
            rc = self.unmount()
        lazy_unmount(self.mnt)
        if self.watchdog:
            self.watchdog.cancel()
        self.check_log()
        if passed:
            assert rc in self.allowed_exit, "unionfs exited with status %s%s:\n%s" % (
                rc, " (valgrind found errors)" if VALGRIND and rc == VALGRIND_ERROR else "",
                read(self.log, "r")[-20000:])
            self.check_ro_unchanged()
