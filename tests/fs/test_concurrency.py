"""Concurrency: parallel copy-ups of different files, racing copy-ups of one
file, readers during copy-up, parallel creates.  Sizes are a few MiB; every
test checks contents byte for byte."""
import hashlib
import os
import signal
import threading

import pytest

from fsutil import Branch, read, write
from util import eventually

pytestmark = pytest.mark.fuse

THREADS = 16
SIZE = 2 << 20


def pattern(seed, size=SIZE):
    """Deterministic, position-dependent content: a misplaced or truncated
    block never matches."""
    block = hashlib.sha256(b"%d" % seed).digest() * 2048  # 64 KiB
    out = bytearray()
    for i in range(size // len(block)):
        out += b"%08d" % i + block[8:]
    return bytes(out)


def run_threads(fn, n=THREADS):
    errors = []
    barrier = threading.Barrier(n)

    def wrap(i):
        try:
            barrier.wait()
            fn(i)
        except BaseException as e:  # reported below
            errors.append((i, e))
    threads = [threading.Thread(target=wrap, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not [t for t in threads if t.is_alive()], "threads hung"
    assert not errors, errors


@pytest.fixture
def lower(mount_union):
    return mount_union("rw-ro", opts="cow,threads=8", start=False)


def test_parallel_copy_up_of_different_files(lower):
    datas = [pattern(i) for i in range(THREADS)]
    for i, d in enumerate(datas):
        write(lower.b["ro1"].p("f%02d" % i), d, "wb")
    lower.start()

    def work(i):
        with open(lower.m("f%02d" % i), "r+b") as f:
            f.seek(SIZE // 2)
            f.write(b"thread %02d" % i)
    run_threads(work)
    for i, d in enumerate(datas):
        mark = b"thread %02d" % i
        want = d[:SIZE // 2] + mark + d[SIZE // 2 + len(mark):]
        assert read(lower.m("f%02d" % i), "rb") == want, i
        assert read(lower.b["rw1"].p("f%02d" % i), "rb") == want, i
        assert read(lower.b["ro1"].p("f%02d" % i), "rb") == d, i


def test_racing_copy_up_of_one_file_keeps_every_write(lower):
    data = pattern(99)
    write(lower.b["ro1"].p("shared"), data, "wb")
    lower.start()
    slot = 4096

    def work(i):
        fd = os.open(lower.m("shared"), os.O_WRONLY)
        try:
            os.pwrite(fd, bytes([65 + i]) * slot, i * 65536)
        finally:
            os.close(fd)
    run_threads(work)
    want = bytearray(data)
    for i in range(THREADS):
        want[i * 65536:i * 65536 + slot] = bytes([65 + i]) * slot
    assert read(lower.m("shared"), "rb") == bytes(want)
    assert read(lower.b["rw1"].p("shared"), "rb") == bytes(want)


def test_racing_metadata_copy_up_of_one_file(lower):
    write(lower.b["ro1"].p("shared"), pattern(7), "wb")
    lower.start()
    run_threads(lambda i: os.setxattr(lower.m("shared"), "user.t%02d" % i, b"%d" % i))
    names = os.listxattr(lower.b["rw1"].p("shared"))
    assert sorted(n for n in names if n.startswith("user.t")) == ["user.t%02d" % i for i in range(THREADS)]
    assert read(lower.b["rw1"].p("shared"), "rb") == pattern(7)


def test_readers_never_see_partial_copy(lower):
    data = pattern(5, 4 << 20)
    write(lower.b["ro1"].p("big"), data, "wb")
    lower.start()
    stop = threading.Event()
    bad = []

    def reader():
        while not stop.is_set():
            got = read(lower.m("big"), "rb")
            if got != data:
                bad.append((len(got), got[:16]))
                return
    readers = [threading.Thread(target=reader) for _ in range(4)]
    for t in readers:
        t.start()
    try:
        os.setxattr(lower.m("big"), "user.copyup", b"1")
        for _ in range(3):
            read(lower.m("big"), "rb")
    finally:
        stop.set()
        for t in readers:
            t.join(60)
    assert not bad
    assert read(lower.b["rw1"].p("big"), "rb") == data


def test_reader_open_before_copy_up_sees_new_data(mount_union):
    # nopassthrough: with passthrough it keeps the lower data (test_passthrough.py)
    lower = mount_union("rw-ro", opts="cow,threads=8,nopassthrough", start=False)
    data = pattern(3)
    write(lower.b["ro1"].p("big"), data, "wb")
    lower.start()
    with open(lower.m("big"), "rb") as r:
        assert r.read(10) == data[:10]
        with open(lower.m("big"), "r+b") as w:
            w.seek(SIZE - 8)
            w.write(b"NEWDATA!")
        r.seek(SIZE - 8)
        assert r.read() == b"NEWDATA!"


def test_parallel_creates_in_one_directory(lower):
    lower.start()

    def work(i):
        for j in range(50):
            write(lower.m("common_dir/t%02d_%02d" % (i, j)), "%d %d" % (i, j))
    run_threads(work)
    names = set(os.listdir(lower.m("common_dir")))
    want = {"t%02d_%02d" % (i, j) for i in range(THREADS) for j in range(50)}
    assert want <= names
    assert set(os.listdir(lower.b["rw1"].p("common_dir"))) >= want
    assert read(lower.m("common_dir/t07_33")) == "7 33"


def test_parallel_create_in_lower_only_tree(lower):
    os.makedirs(lower.b["ro1"].p("deep/a/b"))
    lower.start()
    run_threads(lambda i: write(lower.m("deep/a/b/n%02d" % i), "x"))
    assert len(os.listdir(lower.b["rw1"].p("deep/a/b"))) == THREADS
    assert len(os.listdir(lower.m("deep/a/b"))) == THREADS


@pytest.mark.parametrize("cache", ["cache=never", "cache=auto"])
def test_parallel_creates_copy_up_one_chain_while_looking_it_up(mount_union, cache):
    """Threads creating files in one lower-only chain copy its directories
    up while the others look them up.  Each directory must keep one node: a
    lookup between a directory's mkdir and its new key made a second one,
    its children moved between the two, and a create failed with ENOENT or
    the daemon used a freed node and crashed."""
    u = mount_union("rw-ro", opts="cow,threads=8," + cache, start=False)
    rounds, names = 300, ["n%d" % i for i in range(8)]
    for r in range(rounds):
        os.makedirs(u.b["ro1"].p("d%d/a/b/c" % r))
    u.start()
    for r in range(rounds):
        run_threads(lambda i: write(u.m("d%d/a/b/c/n%d" % (r, i)), "x"), n=len(names))
    for r in range(rounds):
        assert sorted(os.listdir(u.b["rw1"].p("d%d/a/b/c" % r))) == names
        assert sorted(os.listdir(u.m("d%d/a/b/c" % r))) == names
        assert os.listdir(u.b["ro1"].p("d%d/a/b/c" % r)) == []


@pytest.mark.parametrize("cache", ["cache=never", "cache=auto"])
def test_parallel_appends_through_both_names_of_a_lower_hard_link(mount_union, cache):
    """Two names of one lower file, appended to through both at once while
    other threads stat them: the copy-up links both names to one upper
    file, and no append is lost.  A lookup of the second name during the
    first name's copy-up made a second node for the file: the names split
    into two upper files, or an open failed with ENOENT or EEXIST."""
    u = mount_union("rw-ro", opts="cow,threads=8," + cache, start=False)
    rounds = 200
    os.makedirs(u.b["ro1"].p("d"))
    for r in range(rounds):
        write(u.b["ro1"].p("d/f%d" % r), "base\n")
        os.link(u.b["ro1"].p("d/f%d" % r), u.b["ro1"].p("d/g%d" % r))
    u.start()

    def work(r, i):
        name = u.m("d/%s%d" % ("fg"[i % 2], r))
        if i < 4:
            with open(name, "a") as f:
                f.write("line%d\n" % i)
        else:
            for _ in range(5):
                os.stat(name)
    for r in range(rounds):
        run_threads(lambda i: work(r, i), n=8)
    for r in range(rounds):
        f, g = u.b["rw1"].p("d/f%d" % r), u.b["rw1"].p("d/g%d" % r)
        assert os.stat(f).st_ino == os.stat(g).st_ino, "names split in round %d" % r
        lines = read(f).splitlines()
        assert lines[0] == "base" and sorted(lines[1:]) == ["line%d" % i for i in range(4)]
        assert os.stat(u.m("d/f%d" % r)).st_ino == os.stat(u.m("d/g%d" % r)).st_ino
        assert read(u.b["ro1"].p("d/f%d" % r)) == "base\n"


def test_parallel_unlink_of_lower_files(lower):
    for i in range(THREADS):
        write(lower.b["ro1"].p("common_dir/u%02d" % i), "x")
    lower.start()
    run_threads(lambda i: os.unlink(lower.m("common_dir/u%02d" % i)))
    assert not any(n.startswith("u") for n in os.listdir(lower.m("common_dir")))
    for i in range(THREADS):
        assert os.path.isfile(lower.b["rw1"].hidden("common_dir/u%02d" % i))


def waiting_in_fuse(pid):
    """Threads of process pid waiting for a FUSE reply."""
    n = 0
    for t in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/wchan" % (pid, t)) as f:
                n += f.read() == "request_wait_answer"
        except FileNotFoundError:
            pass
    return n


def test_held_up_request_does_not_hold_up_others(mount_union, make_branches):
    """A request stuck in the daemon must not hold up the others (unionfs(8),
    threads=).  The lower branch is another union whose daemon is stopped,
    so a lookup that reaches it hangs in the outer daemon until the inner
    one continues."""
    in1, rw1 = make_branches([("in1", "RW"), ("rw1", "RW")])
    write(in1.p("slow_file"), "slow\n")
    inner = mount_union([in1], opts="cow", mnt="inner")
    outer = mount_union([rw1, Branch(inner.m(), "inner", "RO")], opts="cow,threads=4")
    assert read(outer.m("rw1_file")) == "rw1\n"
    results = {}

    def stat_slow():
        results["slow"] = os.stat(outer.m("slow_file")).st_size

    def read_top():
        # A file of the top branch: its lookup never reaches the lower one.
        results["top"] = read(outer.m("rw1_file"))
    os.kill(inner.proc.pid, signal.SIGSTOP)
    try:
        slow = threading.Thread(target=stat_slow, daemon=True)
        slow.start()
        assert eventually(lambda: waiting_in_fuse(outer.proc.pid) == 1)
        top = threading.Thread(target=read_top, daemon=True)
        top.start()
        top.join(60)
        assert results.get("top") == "rw1\n", "a stuck request held up the others"
        assert "slow" not in results
    finally:
        os.kill(inner.proc.pid, signal.SIGCONT)
    slow.join(60)
    assert results.get("slow") == 5
