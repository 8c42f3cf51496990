"""FUSE over io_uring: when the fuse module offers it (enable_uring=Y,
Linux >= 6.14), requests come through per-CPU rings served by pinned
threads, and everything works as it does through /dev/fuse.  -o nouring
keeps /dev/fuse.  The tests switch the module parameter on for their own
mounts and put back what they found."""
import os
import signal
import threading

import pytest

from fsutil import read, write
from util import URING_PARAM, eventually, uring_enabled

pytestmark = [pytest.mark.fuse, pytest.mark.root]

MiB = 1 << 20


@pytest.fixture
def uring():
    """enable_uring=Y for the test; the old value comes back at teardown,
    after the test's mounts are gone (fixtures end in reverse order)."""
    if not os.path.exists(URING_PARAM):
        pytest.skip("the fuse module has no io_uring support (Linux >= 6.14)")
    with uring_enabled():
        yield


@pytest.fixture(params=["cow", "cow,nopassthrough"], ids=["passthrough", "nopassthrough"])
def ur_union(request, uring, mount_union, ctl):
    u = mount_union("rw-ro", opts=request.param)
    # The rings start after the kernel has the INIT reply, so just after
    # the mount they may not all be up yet (unionfs(8), uring).
    assert eventually(lambda: ctl(u)["uring"] is True), read(u.log)
    return u


def test_requests_come_through_the_rings(ur_union, ctl):
    u = ur_union
    before = ctl(u)["uring_requests"]
    os.mkdir(u.m("d"))
    write(u.m("d/f"), "data\n")
    assert read(u.m("d/f")) == "data\n"
    os.rename(u.m("d/f"), u.m("d/g"))
    os.symlink("g", u.m("d/link"))
    assert os.readlink(u.m("d/link")) == "g"
    os.setxattr(u.m("d/g"), "user.k", b"v" * 300)
    assert os.getxattr(u.m("d/g"), "user.k") == b"v" * 300
    assert sorted(os.listdir(u.m("d"))) == ["g", "link"]
    write(u.m("ro1_file"), "changed\n", "a")          # copy-up
    os.unlink(u.m("common_file"))                      # whiteout
    assert read(u.b["rw1"].p("d/g")) == "data\n"
    assert os.getxattr(u.b["rw1"].p("d/g"), "user.k") == b"v" * 300
    assert read(u.b["rw1"].p("ro1_file")) == "ro1\nchanged\n"
    assert read(u.b["ro1"].p("ro1_file")) == "ro1\n"
    assert not os.path.exists(u.m("common_file"))
    assert ctl(u)["uring_requests"] - before >= 10


def test_megabyte_reads_and_writes(ur_union):
    """Requests as large as max_write pass through an entry's payload."""
    u = ur_union
    data = os.urandom(4 * MiB + 123)
    fd = os.open(u.m("big"), os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        for off in range(0, len(data), MiB):
            assert os.pwrite(fd, data[off:off + MiB], off) == len(data[off:off + MiB])
    finally:
        os.close(fd)
    with open(u.m("big"), "rb", buffering=0) as f:
        got = bytearray()
        while chunk := f.read(MiB):
            got += chunk
    assert bytes(got) == data
    assert read(u.b["rw1"].p("big"), "rb") == data


def test_callers_on_every_cpu(ur_union):
    u = ur_union
    errors = []

    def create(cpu, n):
        try:
            if cpu is not None:
                os.sched_setaffinity(0, {cpu})
            for i in range(n):
                write(u.m("t%s_%03d" % (cpu, i)), str(i))
        except Exception as e:        # noqa: BLE001 - reported below
            errors.append(e)

    cpus = sorted(os.sched_getaffinity(0))
    threads = [threading.Thread(target=create, args=(c, 100)) for c in cpus]
    threads += [threading.Thread(target=create, args=(None, 100))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    names = os.listdir(u.b["rw1"].p())
    assert sum(n.startswith("t") for n in names) == 100 * (len(cpus) + 1)


def test_sigterm_stops_the_daemon(ur_union):
    u = ur_union
    write(u.m("f"), "x")
    os.kill(u.proc.pid, signal.SIGTERM)
    assert u.proc.wait(30) == 0
    assert read(u.b["rw1"].p("f")) == "x"


def test_requests_wait_while_enable_uring_is_off_then_go_on(ur_union):
    """Set back to N, enable_uring makes the kernel refuse every ring
    command, so a reply cannot be handed back and its caller waits.  Once
    the parameter is Y again the daemon's replies go through and the mount
    goes on; before, the thread whose reply was refused gave up and the
    mount hung for good."""
    u = ur_union
    cpus = sorted(os.sched_getaffinity(0))
    done, errors = [], []

    def create(cpu):
        try:
            os.sched_setaffinity(0, {cpu})
            write(u.m("late%d" % cpu), "x")
            done.append(cpu)
        except Exception as e:        # noqa: BLE001 - reported below
            errors.append(e)

    for cpu in cpus:                  # every queue has taken a request
        os.sched_setaffinity(0, {cpu})
        write(u.m("early%d" % cpu), "x")
    os.sched_setaffinity(0, cpus)
    threads = [threading.Thread(target=create, args=(c,)) for c in cpus]
    with open(URING_PARAM, "w") as f:
        f.write("N")
    try:
        for t in threads:
            t.start()
        threads[0].join(1)
        assert not done, "a request finished while the kernel refused the rings"
    finally:
        with open(URING_PARAM, "w") as f:
            f.write("Y")
    for t in threads:
        t.join(30)
    assert not errors and sorted(done) == cpus
    assert sorted(n for n in os.listdir(u.b["rw1"].p()) if n.startswith("late")) == \
        ["late%d" % c for c in cpus]


def test_nouring_keeps_dev_fuse(uring, mount_union, ctl):
    u = mount_union("rw-ro", opts="cow,nouring")
    write(u.m("f"), "x")
    s = ctl(u)
    assert s["uring"] is False and s["uring_requests"] == 0
