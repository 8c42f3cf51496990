"""kill -9 of the daemon in the middle of a copy-up: after a lazy unmount and
a remount, the file reads back whole and no temporary file is visible."""
import hashlib
import os
import threading
import time

import pytest

from fsutil import read
from util import mounted, sha256_file

pytestmark = [pytest.mark.fuse, pytest.mark.slow]

SIZE = 256 << 20
CHUNK = 1 << 20


def fill(path):
    """Write SIZE bytes of numbered 1 MiB chunks; return their sha256."""
    h = hashlib.sha256()
    base = hashlib.sha256(b"crash").digest() * (CHUNK // 32)
    with open(path, "wb") as f:
        for i in range(SIZE // CHUNK):
            chunk = b"%010d" % i + base[10:]
            f.write(chunk)
            h.update(chunk)
    return h.hexdigest()


def daemon_touches_branch(pid, branch):
    """True once the daemon holds an fd on a file in branch other than the
    branch root: the copy-up is under way."""
    fddir = "/proc/%d/fd" % pid
    try:
        fds = os.listdir(fddir)
    except OSError:
        return False
    for fd in fds:
        try:
            target = os.readlink(os.path.join(fddir, fd))
        except OSError:
            continue
        if not target.startswith(branch + "/"):
            continue
        rel = target[len(branch) + 1:]
        # An O_TMPFILE shows as "#ino (deleted)", a temp name lives in the
        # work area; a copy straight to the final name would show as "big".
        if rel.endswith(" (deleted)") or rel.startswith(".unionfs/") or rel == "big":
            return True
    return False


def visible_names(mnt):
    out = []
    for dirpath, dirnames, filenames in os.walk(mnt):
        if dirpath == mnt and ".unionfs" in dirnames:
            dirnames.remove(".unionfs")
        out += [os.path.relpath(os.path.join(dirpath, n), mnt) for n in dirnames + filenames]
    return sorted(out)


# The first two kill while the copy is being built; with the longest delay the
# copy has usually been published already, which must be just as safe.
@pytest.mark.parametrize("delay", [0.0, 0.05, 0.3], ids=["copy-start", "copy-middle", "copy-end"])
def test_kill_during_copy_up_leaves_file_whole(mount_union, delay):
    u = mount_union("rw-ro", start=False)
    want = fill(u.b["ro1"].p("big"))
    u.start()
    names_before = visible_names(u.m())
    pid = u.proc.pid

    def copy_up():
        try:
            os.close(os.open(u.m("big"), os.O_WRONLY))
        except OSError:
            pass  # the connection dies under it
    t = threading.Thread(target=copy_up, daemon=True)
    t.start()
    deadline = time.monotonic() + 10
    while not daemon_touches_branch(pid, u.b["rw1"]) and t.is_alive() \
            and time.monotonic() < deadline:
        time.sleep(0.001)
    time.sleep(delay)
    u.allowed_exit = {-9}
    u.kill()
    t.join(30)
    assert not mounted(u.mnt), "mount still present after kill and lazy unmount"

    u.allowed_exit = {0}
    u.start()
    assert os.path.getsize(u.m("big")) == SIZE
    assert sha256_file(u.m("big")) == want
    assert visible_names(u.m()) == names_before
    up = u.b["rw1"].p("big")
    if os.path.lexists(up):
        assert os.path.getsize(up) == SIZE and sha256_file(up) == want


def test_remount_after_kill_then_copy_up_works(mount_union):
    u = mount_union("rw-ro")
    u.allowed_exit = {-9}
    u.kill()
    u.allowed_exit = {0}
    u.start()
    with open(u.m("ro1_file"), "a") as f:
        f.write("more")
    assert read(u.b["rw1"].p("ro1_file")) == "ro1\nmore"
