"""Shared test utilities: what the FUSE suites (fs, reliability, ctl,
overlay) need to run a unionfs daemon under test.

The mount table, FUSE availability, spawning a foreground daemon with its
log, waiting for its mount, a watchdog that aborts a hung FUSE connection,
clean and lazy unmounts, sanitizer reports in a daemon log, and the report
hook's pieces (pass/fail of the call phase, daemon logs attached to a
failing test).

tests/ is on sys.path because pytest imports tests/conftest.py from there
(rootdir-relative "prepend" import mode; tests/ is no package), so the
suites import this module as `util`.
"""
import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import threading
import time

import pytest

FUSERMOUNT = shutil.which("fusermount3")
CONNECTIONS = "/sys/fs/fuse/connections"
SANITIZER_WORDS = ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer",
                   "ERROR: ThreadSanitizer", "ERROR: UndefinedBehaviorSanitizer")
# How much of a daemon log a failure report shows (its end).
LOG_TAIL = 20000


# --------------------------------------------------------------------------
# FUSE availability: skip (with a reason) only when FUSE is really missing.

def fuse_missing_reason():
    """Why FUSE cannot be used here, or None when it can."""
    if not os.path.exists("/dev/fuse"):
        return "/dev/fuse does not exist"
    if FUSERMOUNT is None:
        return "fusermount3 is not installed"
    try:
        os.close(os.open("/dev/fuse", os.O_RDWR))
    except OSError as e:
        return "cannot open /dev/fuse: %s" % e.strerror
    return None


# --------------------------------------------------------------------------
# The mount table.  Read from /proc/self/mountinfo only: never touches a
# mount, so it works while a daemon hangs.

def eventually(check, timeout=10.0):
    """Poll until check() is true (the branch watch and RELEASE are
    asynchronous); False after timeout seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _unescape(field):
    """mountinfo writes space, tab, newline and backslash as \\ooo."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def mountinfo():
    """[(major:minor, mount point)] of every mount this process sees."""
    with open("/proc/self/mountinfo") as f:
        return [(fields[2], _unescape(fields[4])) for fields in map(str.split, f)]


def mounted(path):
    path = os.path.abspath(path)
    return any(mnt == path for _, mnt in mountinfo())


def mounts_under(base):
    """Mount points at base or below it, in mount order."""
    base = os.path.abspath(base)
    return [mnt for _, mnt in mountinfo() if mnt == base or mnt.startswith(base + "/")]


def mount_minor(path):
    """Device minor of the mount at path (its FUSE connection), or None."""
    path = os.path.abspath(path)
    for dev, mnt in mountinfo():
        if mnt == path:
            return int(dev.split(":")[1])
    return None


# --------------------------------------------------------------------------
# Unmounting and aborting.

def fuse_unmount(mnt):
    """Clean FUSE unmount; detaches lazily when that fails (busy, hung)."""
    if not mounted(mnt):
        return
    r = subprocess.run([FUSERMOUNT, "-u", mnt], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    if r.returncode != 0:
        lazy_unmount(mnt)


def thread_report(pid):
    """Where each thread of a live process is (name, state, the system call
    it is in, kernel stack where readable), for the message of a daemon
    that does not exit."""
    lines = []
    try:
        tids = sorted(os.listdir("/proc/%d/task" % pid), key=int)
    except OSError as e:
        return "no thread report: %s" % e
    for tid in tids:
        base = "/proc/%d/task/%s/" % (pid, tid)
        got = {}
        for name in ("comm", "stat", "syscall", "stack"):
            try:
                with open(base + name) as f:
                    got[name] = f.read().strip()
            except OSError:
                got[name] = ""
        state = got["stat"].rsplit(")", 1)[-1].split()[:1]
        lines.append("thread %s %s: state %s, syscall %s" % (
            tid, got["comm"], state[0] if state else "?", got["syscall"] or "?"))
        lines += ["    " + ln for ln in got["stack"].splitlines()]
    return "\n".join(lines)


def wait_exit(proc, mnt, log, timeout):
    """The exit status of a daemon after its unmount; one that is still
    running after `timeout` seconds is reported (where its threads wait,
    whether the mount is there, the end of its log), killed, and the test
    fails."""
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        threads = thread_report(proc.pid)
        proc.kill()
        proc.wait()
        with open(log, errors="replace") as f:
            text = f.read()
        pytest.fail("unionfs did not exit within %.0f s after unmount (still mounted: %s):\n%s\n%s"
                    % (timeout, mounted(mnt), threads, text[-LOG_TAIL:]))


def lazy_unmount(mnt):
    """Detach a mount whatever state its daemon is in."""
    if not mounted(mnt):
        return
    subprocess.run([FUSERMOUNT, "-u", "-z", mnt], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    if mounted(mnt):
        subprocess.run(["umount", "-l", mnt], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)


def abort_minor(minor):
    """Fail every pending and future request of FUSE connection minor, so
    blocked system calls return ENOTCONN and a hung daemon can exit.  Mounts
    fusectl when it is missing (only ever on this path)."""
    if minor is None:
        return
    if os.path.isdir(CONNECTIONS) and not os.listdir(CONNECTIONS):
        subprocess.run(["mount", "-t", "fusectl", "fusectl", CONNECTIONS],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    path = os.path.join(CONNECTIONS, str(minor), "abort")
    if os.path.exists(path):
        with open(path, "w") as f:
            f.write("1")


def abort_connection(mnt):
    """Abort the FUSE connection of the mount at mnt (found in mountinfo)."""
    abort_minor(mount_minor(mnt))


# --------------------------------------------------------------------------
# The daemon.

def spawn_daemon(argv, log, mode="w"):
    """Start argv in its own session, stdout and stderr into the file log
    after a `$ argv` line; returns the Popen."""
    with open(log, mode) as f:
        f.write("$ %s\n" % " ".join(argv))
        f.flush()
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=f,
                                stderr=subprocess.STDOUT, start_new_session=True)


def wait_mounted(proc, mnt, timeout):
    """True once mnt is mounted; False when proc exits without mounting it
    or timeout seconds pass (proc.poll() tells which)."""
    deadline = time.monotonic() + timeout
    while True:
        if mounted(mnt):
            return True
        if proc.poll() is not None:
            return mounted(mnt)
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)


def start_watchdog(timeout, func, *args):
    """A started daemon thread timer calling func(*args) after timeout
    seconds (cancel it when done): a hung daemon must not hang the suite."""
    timer = threading.Timer(timeout, func, args)
    timer.daemon = True
    timer.start()
    return timer


def sha256_file(path):
    """sha256 hex digest of a file, read in 4 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(4 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sanitizer_report(text):
    """The sanitizer report headers found in a daemon log (empty: none)."""
    return [w for w in SANITIZER_WORDS if w in text]


# --------------------------------------------------------------------------
# Report hook pieces.

def record_report(item, rep):
    """Keep each phase's report on the item (item.rep_setup/call/teardown)
    so fixtures can tell in teardown whether the test passed."""
    setattr(item, "rep_" + rep.when, rep)


def call_passed(node):
    rep = getattr(node, "rep_call", None)
    return rep is not None and rep.passed


def finish_all(unions, passed):
    """Teardown of every union a test mounted: each is finished (unmounted,
    reaped, checked) even when an earlier one fails; the first failure is
    raised afterwards.  The last mounted goes first: it may use an earlier
    one as a branch."""
    errors = []
    for u in reversed(unions):
        try:
            u.finish(passed)
        except BaseException as e:  # keep reaping the other daemons
            errors.append(e)
    if errors:
        raise errors[0]


def attach_logs(rep, logs, skip_bare=False):
    """Append the end of each daemon log to a failing test's report.
    skip_bare: leave out logs holding nothing but the command line."""
    for log in logs:
        try:
            with open(log, errors="replace") as f:
                text = f.read()
        except OSError:
            continue
        if skip_bare and text.count("\n") <= 1:
            continue
        rep.sections.append(("daemon log %s" % log, text[-LOG_TAIL:] or "(empty)"))


# --------------------------------------------------------------------------
# FUSE over io_uring is a switch of the fuse module.

URING_PARAM = "/sys/module/fuse/parameters/enable_uring"


@contextlib.contextmanager
def uring_enabled():
    """The fuse module's enable_uring is Y inside; its old value comes back
    after, also on failure."""
    with open(URING_PARAM) as f:
        old = f.read().strip()
    with open(URING_PARAM, "w") as f:
        f.write("Y")
    try:
        yield
    finally:
        with open(URING_PARAM, "w") as f:
            f.write(old)
