"""Crash matrix: kill -9 the daemon at random points of an operation, detach
the mount lazily, mount again and check that

  * every file shows either its old or its new content (never a mixture, a
    truncated copy or a lost acknowledged write),
  * no temporary or marker debris is visible in the union,
  * the branches are clean after the next mount ("fsck"): the work area
    BRANCH/.unionfs/.ufs-work is empty and no `.ufs-tmp.*` name remains,
  * the union keeps working.

Each scenario is first run once to completion on an identical tree, which
gives the "new" state and the time the operation takes; the kill points are
then drawn (seeded) across that time.  `make check` tries a few points per
scenario, `make stress` many more.
"""
import os
import random
import stat
import subprocess
import threading
import time

import pytest

from relutil import (branch_fsck, debris, pattern, read, scaled, tree_snapshot, write)

pytestmark = [pytest.mark.fuse, pytest.mark.slow]

KILLS = scaled(6, 30)
BIG = 48 << 20
SPARSE = 160 << 20
SLOT = 4096


# --------------------------------------------------------------------------
# Scenarios.  setup(u) fills the branches before the mount, op(u, acked)
# runs in a thread against the mount (and stops at the first error, which
# the kill causes), check(u, old, new, acked) is the scenario's own extra
# invariant on top of the old-or-new rule.

class CopyUpLarge:
    """A write into a large lower file: copies it up first."""
    spec = [("rw", "RW"), ("ro", "RO")]
    opts = "cow"

    def setup(self, u):
        write(u.b["ro"] + "/big", pattern(1, BIG))

    def op(self, u, acked):
        with open(u.m("big"), "r+b") as f:
            f.seek(BIG // 2)
            f.write(b"changed in the middle")


class CopyUpSparse:
    """A truncate of a sparse lower file (holes must stay holes, data must
    stay in place)."""
    spec = [("rw", "RW"), ("ro", "RO")]
    opts = "cow"

    def setup(self, u):
        with open(u.b["ro"] + "/sparse", "wb") as f:
            for off in (0, 37 << 20, 101 << 20, SPARSE - (1 << 20)):
                f.seek(off)
                f.write(pattern(off, 1 << 20))

    def op(self, u, acked):
        os.truncate(u.m("sparse"), SPARSE + 12345)

    def check(self, u, old, new, acked):
        up = u.b["rw"] + "/sparse"
        if os.path.exists(up):
            st = os.stat(up)
            assert st.st_blocks * 512 < SPARSE // 2, "copy-up filled the holes"


class DirRenameAcrossBranches:
    """rename(2) of a directory whose contents live in the RO branch (plus
    one file above): the whole tree moves, all or nothing."""
    spec = [("rw", "RW"), ("ro", "RO")]
    opts = "cow"

    def setup(self, u):
        for d in range(4):
            base = u.b["ro"] + "/tree/sub%d" % d
            os.makedirs(base)
            for i in range(40):
                write(base + "/f%02d" % i, pattern(d * 100 + i, 3000 + i))
        os.makedirs(u.b["rw"] + "/tree")
        write(u.b["rw"] + "/tree/upper", b"upper file\n")

    def op(self, u, acked):
        os.rename(u.m("tree"), u.m("moved"))

    def check(self, u, old, new, acked):
        view = tree_snapshot(u.m(), skip_meta=True)
        assert view in (old, new), "directory rename half done: %s" % sorted(
            set(view) ^ set(old) & set(view) ^ set(new))[:20]


class RemoveWithWhiteouts:
    """rm -r of a lower tree: unlink makes whiteouts, rmdir directory ones."""
    spec = [("rw", "RW"), ("ro", "RO")]
    opts = "cow"

    def setup(self, u):
        for d in ("victims", "victims/sub", "victims/sub/deeper"):
            os.makedirs(u.b["ro"] + "/" + d, exist_ok=True)
            for i in range(50):
                write(u.b["ro"] + "/%s/v%02d" % (d, i), b"%s %d\n" % (d.encode(), i))
        write(u.b["ro"] + "/keep", b"kept\n")

    def op(self, u, acked):
        for dirpath, dirnames, filenames in os.walk(u.m("victims"), topdown=False):
            for name in filenames:
                os.unlink(os.path.join(dirpath, name))
            os.rmdir(dirpath)

    def check(self, u, old, new, acked):
        view = tree_snapshot(u.m(), skip_meta=True)
        for path in view:
            parent = os.path.dirname(path)
            assert not parent or parent in view, "%s visible without its parent" % path


class RemoveWithOverlayWhiteouts(RemoveWithWhiteouts):
    opts = "cow,whiteout=overlay"


class ConcurrentWrites:
    """Eight threads copy up and write their own lower file, and a shared
    one, in 4 KiB records.  Every acknowledged record must survive."""
    spec = [("rw", "RW"), ("ro", "RO")]
    opts = "cow,threads=8"
    threads = 8
    records = 64

    def setup(self, u):
        for t in range(self.threads):
            write(u.b["ro"] + "/w%d" % t, pattern(t, self.records * SLOT))
        write(u.b["ro"] + "/shared", pattern(99, self.threads * self.records * SLOT))

    def record(self, t, i):
        return (b"thread %d record %d " % (t, i)).ljust(SLOT, b"#")

    def op(self, u, acked):
        def work(t):
            try:
                fd = os.open(u.m("w%d" % t), os.O_WRONLY)
                sfd = os.open(u.m("shared"), os.O_WRONLY)
                try:
                    for i in range(self.records):
                        os.pwrite(fd, self.record(t, i), i * SLOT)
                        acked.add(("w%d" % t, i))
                        os.pwrite(sfd, self.record(t, i), (i * self.threads + t) * SLOT)
                        acked.add(("shared", i * self.threads + t))
                finally:
                    os.close(fd)
                    os.close(sfd)
            except OSError:
                pass  # the daemon died under us
        workers = [threading.Thread(target=work, args=(t,)) for t in range(self.threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(60)

    def slot_values(self, name, slot):
        """(old, new) content of one record slot of a file."""
        if name == "shared":
            t, i = slot % self.threads, slot // self.threads
            old = pattern(99, self.threads * self.records * SLOT)[slot * SLOT:(slot + 1) * SLOT]
        else:
            t, i = int(name[1:]), slot
            old = pattern(t, self.records * SLOT)[slot * SLOT:(slot + 1) * SLOT]
        return old, self.record(t, i)

    def check(self, u, old, new, acked):
        for name in ["w%d" % t for t in range(self.threads)] + ["shared"]:
            data = read(u.m(name))
            nslots = len(data) // SLOT
            assert len(data) % SLOT == 0 and nslots in (self.records,
                                                        self.records * self.threads), name
            for slot in range(nslots):
                was, now = self.slot_values(name, slot)
                got = data[slot * SLOT:(slot + 1) * SLOT]
                assert got in (was, now), "%s record %d is neither old nor new: %r" % (
                    name, slot, got[:40])
                if (name, slot) in acked:
                    assert got == now, "%s: acknowledged record %d lost" % (name, slot)

    def per_file_ok(self):
        return False  # files are a mix of old and new records by design


SCENARIOS = {
    "copy-up-large": CopyUpLarge,
    "copy-up-sparse": CopyUpSparse,
    "dir-rename-across-branches": DirRenameAcrossBranches,
    "rm-r-unionfs-whiteouts": RemoveWithWhiteouts,
    "rm-r-overlay-whiteouts": RemoveWithOverlayWhiteouts,
    "concurrent-writes": ConcurrentWrites,
}


# --------------------------------------------------------------------------

def run_op(sc, u):
    acked = set()
    errors = []

    def target():
        try:
            sc.op(u, acked)
        except OSError as e:
            errors.append(e)  # expected when killed
    t = threading.Thread(target=target, daemon=True)
    t.start()
    return t, acked, errors


def calibrate(sc, mount_union):
    """Run the operation to completion: (old view, new view, duration)."""
    u = mount_union([("cal-" + n, mode) for n, mode in sc.spec], opts=sc.opts,
                    start=False, mnt="mnt-cal")
    u.b.update({n: u.b["cal-" + n] for n, _ in sc.spec})
    sc.setup(u)
    u.start()
    old = tree_snapshot(u.m(), skip_meta=True)
    t0 = time.monotonic()
    t, _acked, errors = run_op(sc, u)
    t.join(120)
    took = time.monotonic() - t0
    assert not t.is_alive() and not errors, "operation failed without a crash: %s" % errors
    new = tree_snapshot(u.m(), skip_meta=True)
    assert new != old, "the operation changed nothing"
    u.remount()
    assert tree_snapshot(u.m(), skip_meta=True) == new, "remount changed the view"
    return old, new, took


def check_old_or_new(view, old, new):
    bad = []
    for path in sorted(set(old) | set(new)):
        got = view.get(path)
        if got != old.get(path) and got != new.get(path):
            bad.append((path, got, old.get(path), new.get(path)))
    extra = sorted(set(view) - set(old) - set(new))
    assert not bad and not extra, "entries neither old nor new: %s; unexpected: %s" % (
        bad[:5], extra[:10])


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_kill_9_at_random_points(mount_union, seed, scenario):
    sc = SCENARIOS[scenario]()
    rng = random.Random(seed)
    old, new, took = calibrate(sc, mount_union)
    for k in range(KILLS):
        u = mount_union([("%s-%d" % (n, k), mode) for n, mode in sc.spec], opts=sc.opts,
                        start=False, mnt="mnt-%d" % k)
        u.b.update({n: u.b["%s-%d" % (n, k)] for n, _ in sc.spec})
        sc.setup(u)
        u.start()
        delay = rng.uniform(0, took * 1.1)
        t, acked, _errors = run_op(sc, u)
        time.sleep(delay)
        u.crash()
        t.join(60)
        assert not t.is_alive(), "workload still blocked after the kill"
        u.start()
        point = "kill point %d after %.3f s of %.3f s (seed %d)" % (k, delay, took, seed)
        view = tree_snapshot(u.m(), skip_meta=True)
        if getattr(sc, "per_file_ok", lambda: True)():
            try:
                check_old_or_new(view, old, new)
            except AssertionError as e:
                raise AssertionError("%s: %s" % (point, e)) from None
        if hasattr(sc, "check"):
            try:
                sc.check(u, old, new, acked)
            except AssertionError as e:
                raise AssertionError("%s: %s" % (point, e)) from None
        assert debris(u.m()) == [], "%s: debris visible in the union" % point
        for br in u.rw_branches():
            assert branch_fsck(br) == [], "%s: %s" % (point, branch_fsck(br))
        # The union keeps working after the crash.
        write(u.m("after-crash"), b"ok\n")
        assert read(u.m("after-crash")) == b"ok\n"
        u.unmount()


def test_lazy_unmount_while_writing_keeps_every_byte(mount_union):
    """fusermount -u -z while a file is open: the daemon serves the detached
    mount until the file is closed, then exits 0; the data is complete."""
    u = mount_union([("rw", "RW"), ("ro", "RO")], start=False)
    write(u.b["ro"] + "/log", pattern(5, 1 << 20))
    u.start()
    fd = os.open(u.m("log"), os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, b"A" * 100000)
        subprocess.run(["fusermount3", "-u", "-z", u.mnt], check=True)
        for _ in range(50):
            os.write(fd, b"B" * 10000)
    finally:
        os.close(fd)
    assert u.proc.wait(30) == 0
    assert read(u.b["rw"] + "/log") == pattern(5, 1 << 20) + b"A" * 100000 + b"B" * 500000
    u.start()
    assert os.path.getsize(u.m("log")) == (1 << 20) + 600000


def test_remount_cleans_work_area_debris(mount_union):
    """What a killed daemon leaves in the work area is removed by the next
    mount and never visible in the union."""
    u = mount_union([("rw", "RW"), ("ro", "RO")], start=False)
    work = u.b["rw"] + "/.unionfs/.ufs-work"
    os.makedirs(work + "/tdir")
    write(work + "/t123.4", b"half a copy")
    write(work + "/tdir/x", b"more")
    u.start()
    assert branch_fsck(u.b["rw"]) == []
    assert debris(u.m()) == []
    assert stat.S_ISDIR(os.stat(u.b["rw"] + "/.unionfs").st_mode)
