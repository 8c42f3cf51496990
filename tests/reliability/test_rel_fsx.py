"""Data integrity under I/O: the fsx exerciser (tests/reliability/fsx.c)
applies seeded random reads, writes, truncates, mmap reads/writes and
fallocate calls to one file through the union and verifies every byte
against an in-memory image.  100k operations in `make check`, 1M per
UFS_STRESS unit in `make stress`."""
import subprocess

import pytest

from relutil import WATCHDOG_TIMEOUT, pattern, read, scaled, write

pytestmark = pytest.mark.fuse

RW_RO = [("rw1", "RW"), ("ro1", "RO")]
MAXLEN = 256 * 1024


def run_fsx(fsx, path, seed, nops, *extra):
    argv = [fsx, "-N", str(nops), "-S", str(seed), "-l", str(MAXLEN), "-o", str(64 * 1024)]
    argv += list(extra) + [path]
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=WATCHDOG_TIMEOUT)
    assert r.returncode == 0, "fsx failed (%s):\n%s" % (" ".join(argv), r.stdout[-6000:])
    return r.stdout


def test_fsx_new_file_through_union(mount_union, rel_bin, seed):
    u = mount_union(RW_RO)
    out = run_fsx(rel_bin("fsx"), u.m("fsx-file"), seed, scaled(100000, 1000000))
    assert "fallocate mode" not in out, "fallocate is not passed through: %s" % out
    # The bytes landed in the RW branch, not just in the page cache.
    u.remount()
    assert read(u.m("fsx-file")) == read(u.b["rw1"] + "/fsx-file")


def test_fsx_file_copied_up_from_lower_branch(mount_union, rel_bin, seed):
    u = mount_union(RW_RO, start=False)
    lower = u.b["ro1"] + "/lower-file"
    write(lower, pattern(seed, 200000))
    u.start()
    run_fsx(rel_bin("fsx"), u.m("lower-file"), seed, scaled(20000, 200000), "-i", lower)
    assert read(lower) == pattern(seed, 200000)


@pytest.mark.valgrind
def test_fsx_short_run_both_formats(mount_union, rel_bin, seed):
    u = mount_union([("rw1", "RW"), ("rw2", "RW")], opts="cow,whiteout=overlay")
    run_fsx(rel_bin("fsx"), u.m("short"), seed, scaled(3000, 30000))
