"""Concurrency: N threads in each of M processes hammer one union at once:
copy-ups of the same and of different lower files, renames inside one
directory, readdir while other workers create and delete.  Every worker
process has a hard time limit and the union a watchdog, so a deadlock fails
the test instead of hanging it; afterwards no byte is corrupted and no
entry is lost or duplicated."""
import json
import os
import subprocess
import sys

import pytest

from relutil import WATCHDOG_TIMEOUT, pattern, read, scaled, write

pytestmark = [pytest.mark.fuse, pytest.mark.slow]

PROCS = 3
THREADS = 4
ROUNDS = scaled(80, 600)
SLOT = 4096

# One worker process: THREADS threads running the named job; prints a JSON
# list of problems (empty when all went well).
WORKER = r"""
import json, os, sys, threading
job, mnt, proc, threads, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
SLOT = 4096
problems = []
barrier = threading.Barrier(threads)

def rec(w, i):
    return (b"w%d r%d " % (w, i)).ljust(SLOT, b".")

def same_file(w):
    # every worker writes its own slots of the same lower files
    for i in range(rounds):
        fd = os.open(os.path.join(mnt, "same%d" % (i % 4)), os.O_WRONLY)
        try:
            os.pwrite(fd, rec(w, i), (w * rounds + i) * SLOT)
        finally:
            os.close(fd)

def own_file(w):
    for i in range(rounds):
        with open(os.path.join(mnt, "own%d" % w), "r+b") as f:
            f.seek(i * SLOT)
            f.write(rec(w, i))

def renames(w):
    # a chain of renames inside one directory: name w.i -> w.i+1
    d = os.path.join(mnt, "ren")
    for i in range(rounds):
        os.rename(os.path.join(d, "n%d.%d" % (w, i)), os.path.join(d, "n%d.%d" % (w, i + 1)))

def churn(w):
    # create and delete our own names; read the directory in between
    d = os.path.join(mnt, "busy")
    for i in range(rounds):
        p = os.path.join(d, "t%d.%d" % (w, i))
        with open(p, "wb") as f:
            f.write(b"%d" % i)
        names = os.listdir(d)
        check_listing(names)
        if i % 3:
            os.unlink(p)

def check_listing(names):
    if len(names) != len(set(names)):
        problems.append("duplicate names in a listing: %d vs %d" % (len(names), len(set(names))))
    missing = [n for n in ("stable%d" % k for k in range(20)) if n not in names]
    if missing:
        problems.append("stable entries missing from a listing: %s" % missing[:5])

def reader(w):
    for i in range(rounds * 2):
        check_listing(os.listdir(os.path.join(mnt, "busy")))

JOBS = {"same": same_file, "own": own_file, "rename": renames, "churn": churn, "reader": reader}

def run(t):
    w = proc * threads + t
    try:
        barrier.wait()
        JOBS[job](w)
    except Exception as e:
        problems.append("worker %d: %r" % (w, e))

ts = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
for t in ts: t.start()
for t in ts: t.join()
print(json.dumps(problems))
"""


def workers(u, jobs):
    """Start PROCS processes per job (THREADS threads each) and wait for all;
    returns the problems they report."""
    procs = []
    for job in jobs:
        for p in range(PROCS):
            procs.append((job, subprocess.Popen(
                [sys.executable, "-c", WORKER, job, u.mnt, str(p), str(THREADS), str(ROUNDS)],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)))
    problems = []
    for job, proc in procs:
        try:
            out, _ = proc.communicate(timeout=WATCHDOG_TIMEOUT)
        except subprocess.TimeoutExpired:
            for _job, other in procs:
                other.kill()
                other.communicate()
            pytest.fail("workers did not finish within %.0f s: deadlock?" % WATCHDOG_TIMEOUT)
        try:
            problems += ["%s: %s" % (job, p) for p in json.loads(out.strip().splitlines()[-1])]
        except (ValueError, IndexError):
            problems.append("%s: worker crashed: %s" % (job, out[-2000:]))
    return problems


NW = PROCS * THREADS


def rec(w, i):
    return (b"w%d r%d " % (w, i)).ljust(SLOT, b".")


@pytest.fixture
def loaded(mount_union):
    u = mount_union([("rw1", "RW"), ("ro1", "RO"), ("ro2", "RO")], opts="cow,threads=8",
                    start=False)
    ro1, ro2 = u.b["ro1"], u.b["ro2"]
    for k in range(4):
        write(ro2 + "/same%d" % k, pattern(k, NW * ROUNDS * SLOT))
    for w in range(NW):
        write((ro1 if w % 2 else ro2) + "/own%d" % w, pattern(100 + w, ROUNDS * SLOT))
    os.makedirs(ro1 + "/ren")
    os.makedirs(ro2 + "/ren")
    for w in range(NW):
        write((ro1 if w % 2 else ro2) + "/ren/n%d.0" % w, b"chain %d\n" % w)
    for br in (ro1, ro2):
        os.makedirs(br + "/busy")
    for k in range(20):
        write((ro1 if k % 2 else ro2) + "/busy/stable%d" % k, b"stable\n")
    return u.start()


def test_copy_ups_renames_and_readdir_all_at_once(loaded):
    u = loaded
    problems = workers(u, ["same", "own", "rename", "churn", "reader"])
    assert not problems, problems[:20]
    # Same-file copy-ups: every slot holds its writer's record.
    for k in range(4):
        data = read(u.m("same%d" % k))
        old = pattern(k, NW * ROUNDS * SLOT)
        for w in range(NW):
            for i in range(ROUNDS):
                off = (w * ROUNDS + i) * SLOT
                want = rec(w, i) if i % 4 == k else old[off:off + SLOT]
                assert data[off:off + SLOT] == want, "same%d: worker %d round %d" % (k, w, i)
        assert read(u.b["rw1"] + "/same%d" % k) == data
    # Different-file copy-ups.
    for w in range(NW):
        assert read(u.m("own%d" % w)) == b"".join(rec(w, i) for i in range(ROUNDS)), w
    # Renames: exactly the last name of every chain, nothing lost or extra.
    assert sorted(os.listdir(u.m("ren"))) == sorted("n%d.%d" % (w, ROUNDS) for w in range(NW))
    for w in range(NW):
        assert read(u.m("ren/n%d.%d" % (w, ROUNDS))) == b"chain %d\n" % w
    # Churn: the stable names and the kept creations, nothing else.
    want = {"stable%d" % k for k in range(20)}
    want |= {"t%d.%d" % (w, i) for w in range(NW) for i in range(ROUNDS) if i % 3 == 0}
    assert sorted(os.listdir(u.m("busy"))) == sorted(want)
    for w in range(NW):
        assert read(u.m("busy/t%d.0" % w)) == b"0"


def test_readdir_during_churn_never_loses_stable_entries(loaded):
    problems = workers(loaded, ["churn", "reader", "reader"])
    assert not problems, problems[:20]
