"""Fixtures for the unionfsctl tests.

`mount` starts BUILDDIR/fs/unionfs -f over branch directories made in a
temporary directory and returns a CtlMount: paths into the union and into
each branch, and `ctl(...)` to run BUILDDIR/fs/unionfsctl (optionally as
an unprivileged user).  Teardown always unmounts and reaps the daemon, even
when it hangs (the FUSE connection is aborted), removes the directory, and
fails a passing test whose daemon exited non-zero or logged a sanitizer
report.  Daemon logs are attached to failing tests.
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile

import pytest

from util import (abort_connection, abort_minor, attach_logs, call_passed, fuse_missing_reason,
                  fuse_unmount, lazy_unmount, mount_minor, mounts_under, record_report,
                  sanitizer_report, spawn_daemon, start_watchdog, wait_mounted)

MOUNT_TIMEOUT = 10.0
CTL_TIMEOUT = 20.0
EXIT_TIMEOUT = 10.0
# A hung daemon must not hang the suite: after this long the mount's FUSE
# connection is aborted, so blocked system calls fail with ENOTCONN.
WATCHDOG_TIMEOUT = 60.0
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


_FUSE_REASON = fuse_missing_reason()


@pytest.fixture(autouse=True)
def _need_fuse():
    if _FUSE_REASON:
        pytest.skip("FUSE unavailable: " + _FUSE_REASON)


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    record_report(item, rep)
    if rep.failed:
        attach_logs(rep, getattr(item, "_ctl_logs", []))


class CtlMount:
    """One union: branches BASE/NAME, mount point BASE/mnt."""

    def __init__(self, unionfs_bin, ctl_bin, base, branches, opts, nobody=False):
        self.bin, self.ctl_bin, self.base = unionfs_bin, ctl_bin, base
        self.names = [name for name, _ in branches]
        self.modes = dict(branches)
        self.opts = opts
        self.nobody = nobody  # the daemon runs as nobody (a user mount)
        self.mnt = os.path.join(base, "mnt")
        self.log = os.path.join(base, "daemon.log")
        self.proc = None
        self.watchdog = None
        self.minor = None
        for name in self.names + ["mnt"]:
            os.makedirs(os.path.join(base, name), exist_ok=True)
            os.chmod(os.path.join(base, name), 0o755)

    def give_to_nobody(self):
        for name in self.names + ["mnt"]:
            for root, dirs, files in os.walk(os.path.join(self.base, name)):
                for entry in [root] + [os.path.join(root, e) for e in dirs + files]:
                    os.lchown(entry, 65534, 65534)

    # paths
    def p(self, rel=""):
        return os.path.join(self.mnt, rel) if rel else self.mnt

    def b(self, name, rel=""):
        return os.path.join(self.base, name, rel) if rel else os.path.join(self.base, name)

    def start(self):
        spec = ":".join("%s=%s" % (self.b(n), self.modes[n]) for n in self.names)
        argv = [self.bin, "-f"] + (["-o", self.opts] if self.opts else []) + [spec, self.mnt]
        if self.nobody:
            self.give_to_nobody()
            argv = NOBODY + argv
        self.proc = spawn_daemon(argv, self.log)
        if not wait_mounted(self.proc, self.mnt, MOUNT_TIMEOUT):
            self.kill()
            pytest.fail("unionfs did not mount %s:\n%s" % (self.mnt, self.log_text()))
        self.minor = mount_minor(self.mnt)
        self.watchdog = start_watchdog(WATCHDOG_TIMEOUT, abort_minor, self.minor)
        return self

    def log_text(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    # unionfsctl
    def ctl(self, *args, nobody=False):
        argv = (NOBODY if nobody else []) + [self.ctl_bin] + [str(a) for a in args]
        return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, timeout=CTL_TIMEOUT, stdin=subprocess.DEVNULL)

    def ok(self, *args, nobody=False):
        r = self.ctl(*args, nobody=nobody)
        assert r.returncode == 0 and r.stderr == "", \
            "unionfsctl %s: rc %d, stderr %r" % (" ".join(map(str, args)), r.returncode, r.stderr)
        return r.stdout

    def branches(self):
        return json.loads(self.ok("branches", "--json", self.mnt))

    def branch(self, name):
        """The branches --json entry of branch NAME."""
        for br in self.branches():
            if br["path"] == self.b(name):
                return br
        raise AssertionError("branch %s is not in the union" % name)

    def branch_paths(self):
        return [br["path"] for br in self.branches()]

    def stats(self):
        return json.loads(self.ok("stats", "--json", self.mnt))

    def abort(self):
        """Abort the FUSE connection (pending and future requests fail)."""
        abort_minor(self.minor)

    # teardown
    def kill(self):
        """SIGKILL the daemon; abort the connection so even a daemon blocked
        on its own mount goes away."""
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        abort_minor(self.minor if self.minor is not None else mount_minor(self.mnt))
        lazy_unmount(self.mnt)
        if self.proc:
            self.proc.wait(EXIT_TIMEOUT)

    def finish(self):
        """Unmount and reap; returns the daemon's exit status (None: killed)."""
        if self.watchdog:
            self.watchdog.cancel()
        if self.proc is None:
            return 0
        fuse_unmount(self.mnt)
        try:
            return self.proc.wait(EXIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            return None


@pytest.fixture(scope="session")
def ctl_bin(builddir):
    path = os.path.join(builddir, "fs", "unionfsctl")
    if not os.access(path, os.X_OK):
        pytest.fail("%s is not built (make fs/unionfsctl)" % path)
    return path


@pytest.fixture
def base(request):
    """A world-traversable temporary directory, removed afterwards (never
    while something is still mounted inside)."""
    path = tempfile.mkdtemp(prefix="ctl-%s-" % request.node.name[:40].replace("/", "_"),
                            dir="/tmp")
    os.chmod(path, 0o755)
    yield path
    for mnt in mounts_under(path):
        abort_connection(mnt)
        lazy_unmount(mnt)
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def mount(request, unionfs_bin, ctl_bin, base):
    """mount([("rw1", "RW"), ("ro1", "RO")], opts="cow", files={"ro1/f": "x"})

    files: branch-relative paths (first component the branch) -> contents,
    written before the daemon starts.  Directories are made as needed.
    nobody=True: branches and mount point belong to nobody, who mounts."""
    if not os.access(unionfs_bin, os.X_OK):
        pytest.fail("%s is not built (make fs/unionfs)" % unionfs_bin)
    mounts = []

    def _mount(branches=(("rw1", "RW"), ("ro1", "RO")), opts="cow", files=None, sub=None,
               nobody=False):
        where = os.path.join(base, sub) if sub else base
        m = CtlMount(unionfs_bin, ctl_bin, where, list(branches), opts, nobody)
        for rel, data in (files or {}).items():
            path = os.path.join(where, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb" if isinstance(data, bytes) else "w") as f:
                f.write(data)
        mounts.append(m)
        request.node._ctl_logs = getattr(request.node, "_ctl_logs", []) + [m.log]
        return m.start()

    yield _mount
    passed = call_passed(request.node)
    problems = []
    for m in mounts:
        rc = m.finish()
        text = m.log_text()
        if sanitizer_report(text):
            problems.append("sanitizer report in daemon log:\n" + text)
        elif passed and rc != 0:
            problems.append("unionfs exited with status %s:\n%s" % (rc, text))
    if problems:
        pytest.fail("\n".join(problems))
