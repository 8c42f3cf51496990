"""Fixtures for the cgfreeze tests.

Every test that touches real cgroups uses a group name unique to this test
run (cgfz-PID-N-...) and a finalizer that, even when the test fails, thaws
the group, kills the processes inside it, reaps the children the test
started and removes the group (children first).  Nothing outside the test's
own groups is ever frozen.
"""
import itertools
import os
import signal
import subprocess
import sys
import time

import pytest

from cgfz_util import read_counter, wait_for

V1_ROOT = "/sys/fs/cgroup/freezer"
_counter = itertools.count()

COUNTER_SCRIPT = r"""
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o644)
i = 0
while True:
    i += 1
    os.pwrite(fd, b"%020d" % i, 0)
    time.sleep(0.005)
"""

THREADS_SCRIPT = r"""
import threading, time, sys
def idle():
    while True:
        time.sleep(0.05)
for _ in range(int(sys.argv[1]) - 1):
    threading.Thread(target=idle, daemon=True).start()
print("ready", flush=True)
while True:
    time.sleep(0.05)
"""


def _fstype(path):
    """Filesystem type of the mount holding path (from mountinfo)."""
    best, fstype = "", None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, right = line.split(" - ", 1)
            mnt = left.split()[4]
            if (path == mnt or path.startswith(mnt.rstrip("/") + "/")) and len(mnt) >= len(best):
                best, fstype = mnt, right.split()[0]
    return fstype


def v2_root_path():
    for cand in ("/sys/fs/cgroup/unified", "/sys/fs/cgroup"):
        if os.path.isdir(cand) and _fstype(cand) == "cgroup2":
            return cand
    return None


def is_root():
    return os.geteuid() == 0


class Cg:
    """Runs the cgfreeze binary built in the tree."""

    def __init__(self, binary):
        self.binary = binary

    def run(self, *args, timeout=30, user=None):
        cmd = [self.binary, *map(str, args)]
        if user is not None:
            cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)

    def ok(self, *args, **kw):
        r = self.run(*args, **kw)
        assert r.returncode == 0, f"cgfreeze {args} -> {r.returncode}: {r.stderr}"
        return r


@pytest.fixture
def cg(cgfreeze_bin):
    if not os.access(cgfreeze_bin, os.X_OK):
        pytest.fail(f"{cgfreeze_bin} is not built (make tools/cgfreeze/cgfreeze)")
    return Cg(cgfreeze_bin)


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _thaw(hroot, ver, name):
    d = os.path.join(hroot, name)
    target, value = ("freezer.state", "THAWED") if ver == "v1" else ("cgroup.freeze", "0")
    try:
        with open(os.path.join(d, target), "w") as f:
            f.write(value)
    except OSError:
        pass


def _kill_group(hroot, ver, name):
    for pid in _read(os.path.join(hroot, name, "cgroup.procs")).split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except OSError:
            pass
    _thaw(hroot, ver, name)  # v1 defers SIGKILL until thawed


def _remove_tree(path):
    """rmdir a cgroup and its child groups, deepest first, retrying while
    killed processes are still leaving."""
    if not os.path.isdir(path):
        return
    for entry in os.scandir(path):
        if entry.is_dir(follow_symlinks=False):
            _remove_tree(entry.path)
    for _ in range(200):
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.02)


class CgEnv:
    """Groups and processes of one test, all torn down by cleanup()."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.groups = []  # (hierarchy root, "v1"/"v2", name)
        self.procs = []

    def name(self, tag="g"):
        return f"cgfz-{os.getpid()}-{next(_counter)}-{tag}"

    def group(self, ver, tag="g"):
        """A unique group name registered for cleanup (not created)."""
        hroot = V1_ROOT if ver == "v1" else v2_root_path()
        name = self.name(tag)
        self.groups.append((hroot, ver, name))
        return name

    def track(self, hroot, ver, name):
        self.groups.append((hroot, ver, name))

    def spawn(self, args, **kw):
        p = subprocess.Popen(args, stdin=subprocess.DEVNULL, **kw)
        self.procs.append(p)
        return p

    def counter(self):
        """A child process writing an increasing counter to a file."""
        path = self.tmp_path / f"counter-{next(_counter)}"
        p = self.spawn([sys.executable, "-c", COUNTER_SCRIPT, str(path)])
        wait_for(lambda: read_counter(path) > 0, what="counter start")
        return p, path

    def threads(self, n=4):
        p = self.spawn([sys.executable, "-c", THREADS_SCRIPT, str(n)],
                       stdout=subprocess.PIPE, text=True)
        assert p.stdout.readline().strip() == "ready"
        return p

    def cleanup(self):
        for hroot, ver, name in reversed(self.groups):
            if hroot and os.path.isdir(os.path.join(hroot, name)):
                for dirpath, _dirs, _files in os.walk(os.path.join(hroot, name), topdown=False):
                    _kill_group(hroot, ver, os.path.relpath(dirpath, hroot))
        for p in self.procs:
            if p.poll() is None:
                p.kill()
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            if p.stdout:
                p.stdout.close()
        for hroot, _ver, name in reversed(self.groups):
            if hroot:
                _remove_tree(os.path.join(hroot, name))


@pytest.fixture
def env(tmp_path):
    e = CgEnv(tmp_path)
    yield e
    e.cleanup()


@pytest.fixture
def need_root():
    if not is_root():
        pytest.skip("needs root")


@pytest.fixture
def v1(need_root):
    if not os.path.isdir(V1_ROOT) or _fstype(V1_ROOT) != "cgroup":
        pytest.skip("no cgroup v1 freezer mounted at " + V1_ROOT)
    return V1_ROOT


@pytest.fixture
def v2(need_root):
    root = v2_root_path()
    if root is None:
        pytest.skip("no cgroup2 mount")
    return root


@pytest.fixture(params=["v1", "v2"])
def ver(request):
    """Run a test on both hierarchies; yields (mode, hierarchy root)."""
    root = request.getfixturevalue(request.param)
    return request.param, root
