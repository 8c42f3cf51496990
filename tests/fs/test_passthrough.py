"""FUSE passthrough: as root on a kernel that offers it, reads and writes of
open files go from the kernel straight to the branch file and never reach
the daemon (its request counters prove it); -o nopassthrough serves them
in the daemon.  A descriptor opened before a copy-up keeps reading the
lower file, and opens that need the copy-up still succeed."""
import mmap
import os
import shutil
import subprocess
import threading
import time

import pytest

from fsutil import read, write
from util import eventually

DATA = bytes(range(256)) * 512        # 128 KiB, several read requests' worth


def require_passthrough(ctl, u):
    if not ctl(u)["passthrough"]:
        pytest.skip("the kernel does not offer FUSE passthrough (Linux >= 6.9)")


@pytest.fixture
def pt_union(mount_union, ctl):
    """A cow union over a lower file f, with passthrough negotiated."""
    u = mount_union("rw-ro", start=False)
    write(u.b["ro1"].p("f"), DATA, "wb")
    u.start()
    require_passthrough(ctl, u)
    return u


def test_reads_and_writes_bypass_the_daemon(pt_union, ctl):
    u = pt_union
    with open(u.m("f"), "rb") as f:
        assert f.read() == DATA
        assert ctl(u)["passthrough_files"] == 1
    with open(u.m("new"), "wb") as f:
        f.write(DATA)
        f.write(b"tail")
        os.fsync(f.fileno())
    with open(u.m("f"), "ab") as f:            # copy-up, then append
        f.write(b"more")
    s = ctl(u)
    assert s["ops"]["read"] == 0 and s["ops"]["write_buf"] == 0
    assert read(u.b["rw1"].p("new"), "rb") == DATA + b"tail"
    assert read(u.b["rw1"].p("f"), "rb") == DATA + b"more"
    assert read(u.b["ro1"].p("f"), "rb") == DATA
    assert os.stat(u.m("f")).st_size == len(DATA) + 4
    assert eventually(lambda: ctl(u)["passthrough_files"] == 0)


def test_nopassthrough_serves_file_io_in_the_daemon(mount_union, ctl):
    u = mount_union("rw-ro", opts="cow,nopassthrough", start=False)
    write(u.b["ro1"].p("f"), DATA, "wb")
    u.start()
    assert read(u.m("f"), "rb") == DATA
    write(u.m("new"), DATA, "wb")
    s = ctl(u)
    assert s["passthrough"] is False and s["passthrough_files"] == 0
    assert s["ops"]["read"] > 0 and s["ops"]["write_buf"] > 0
    assert read(u.b["rw1"].p("new"), "rb") == DATA


def test_reader_opened_before_copy_up_keeps_the_lower_data(pt_union):
    u = pt_union
    with open(u.m("f"), "rb") as r:
        assert r.read(16) == DATA[:16]
        with open(u.m("f"), "r+b") as w:        # needs the copy-up
            w.seek(100)
            w.write(b"NEW")
        assert os.fstat(r.fileno()).st_ino == os.stat(u.m("f")).st_ino
        r.seek(100)
        assert r.read(3) == DATA[100:103]
        with open(u.m("f"), "rb") as r2:
            r2.seek(100)
            assert r2.read(3) == b"NEW"
    want = DATA[:100] + b"NEW" + DATA[103:]
    assert read(u.b["rw1"].p("f"), "rb") == want
    assert read(u.b["ro1"].p("f"), "rb") == DATA
    assert read(u.m("f"), "rb") == want


def test_open_after_chmod_copy_up_with_a_reader_open(pt_union):
    u = pt_union
    with open(u.m("f"), "rb") as r:
        os.chmod(u.m("f"), 0o600)                # copies up, no open
        with open(u.m("f"), "rb") as r2:         # new backing file
            assert r2.read() == DATA
        with open(u.m("f"), "ab") as w:
            w.write(b"!")
        assert r.read() == DATA
    assert os.stat(u.b["rw1"].p("f")).st_mode & 0o777 == 0o600
    assert read(u.b["rw1"].p("f"), "rb") == DATA + b"!"
    assert read(u.m("f"), "rb") == DATA + b"!"


def test_truncating_open_with_a_reader_open(pt_union):
    u = pt_union
    with open(u.m("f"), "rb") as r:
        fd = os.open(u.m("f"), os.O_WRONLY | os.O_TRUNC)
        os.write(fd, b"short")
        os.close(fd)
        assert r.read() == DATA
    assert read(u.b["rw1"].p("f"), "rb") == b"short"
    assert read(u.b["ro1"].p("f"), "rb") == DATA


def test_mmap_of_lower_and_upper_files(pt_union):
    u = pt_union
    with open(u.m("f"), "rb") as f, mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ) as m:
        assert m[:] == DATA
    write(u.m("mapped"), b"\0" * 8192, "wb")
    with open(u.m("mapped"), "r+b") as f, mmap.mmap(f.fileno(), 8192) as m:
        m[4096:4101] = b"hello"
        m.flush()
    assert read(u.b["rw1"].p("mapped"), "rb")[4096:4101] == b"hello"


def test_program_on_a_lower_branch_runs(mount_union, ctl):
    u = mount_union("rw-ro", start=False)
    shutil.copy2("/bin/echo", u.b["ro1"].p("echo"))
    u.start()
    r = subprocess.run([u.m("echo"), "ran"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and r.stdout == "ran\n"


@pytest.fixture
def overlay_ro1(workdir):
    """Branch ro1 is a kernel overlayfs mount, a stacked filesystem."""
    parts = {p: os.path.join(workdir, "ovl-" + p) for p in ("lower", "upper", "work")}
    for p in parts.values():
        os.mkdir(p)
    write(os.path.join(parts["lower"], "f"), DATA, "wb")
    mnt = os.path.join(workdir, "ro1")
    os.mkdir(mnt)
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                    "lowerdir=%(lower)s,upperdir=%(upper)s,workdir=%(work)s" % parts, mnt],
                   check=True, timeout=30)
    yield mnt
    subprocess.run(["umount", "-l", mnt], timeout=30)


def test_files_on_a_stacked_branch_are_served_by_the_daemon(overlay_ro1, make_branches,
                                                           mount_union, ctl):
    u = mount_union(make_branches([("rw1", "RW"), ("ro1", "RO")], seed=False))
    require_passthrough(ctl, u)
    with open(u.m("f"), "rb") as f:
        assert f.read() == DATA
        assert ctl(u)["passthrough_files"] == 0
    assert ctl(u)["ops"]["read"] > 0
    with open(u.m("f"), "ab") as f:            # copy-up to rw1 (ext4): passes through
        f.write(b"x")
    assert read(u.b["rw1"].p("f"), "rb") == DATA + b"x"


def test_direct_io_implies_nopassthrough(mount_union, ctl):
    u = mount_union("rw-ro", opts="cow,direct_io")
    write(u.m("new"), DATA, "wb")
    assert read(u.m("new"), "rb") == DATA
    s = ctl(u)
    assert s["passthrough"] is False and s["ops"]["write_buf"] > 0


def test_writes_through_the_mount_keep_kernel_entries(mount_union, ctl):
    # Passthrough writes reach the branch in the writer's context; the
    # cache=auto watch must not take their close for a change from outside.
    u = mount_union("rw-ro", opts="cow,cache=auto")
    require_passthrough(ctl, u)
    for i in range(20):
        write(u.m("w%d" % i), DATA, "wb")
    time.sleep(0.5)                             # the watch batches events
    before = ctl(u)["ops"]
    for i in range(20):
        assert os.stat(u.m("w%d" % i)).st_size == len(DATA)
    after = ctl(u)["ops"]
    assert after["lookup"] == before["lookup"]
    assert after["forget"] + after["forget_multi"] == 0


def test_outside_write_to_a_passed_through_file_shows(mount_union, ctl):
    u = mount_union("rw-ro", opts="cow,cache=auto")
    write(u.m("f"), b"0123", "wb")
    assert os.stat(u.m("f")).st_size == 4
    time.sleep(2.5)                             # past the passthrough linger
    write(u.b["rw1"].p("f"), b"0123456789", "wb")
    assert eventually(lambda: os.stat(u.m("f")).st_size == 10)
    assert read(u.m("f"), "rb") == b"0123456789"


def test_o_direct_reads_and_writes(pt_union):
    u = pt_union
    buf = mmap.mmap(-1, 8192)                   # page aligned, as O_DIRECT wants
    fd = os.open(u.m("f"), os.O_RDONLY | os.O_DIRECT)
    try:
        assert os.preadv(fd, [buf], 4096) == 8192
    finally:
        os.close(fd)
    assert buf[:] == DATA[4096:4096 + 8192]
    fd = os.open(u.m("direct"), os.O_WRONLY | os.O_CREAT | os.O_DIRECT, 0o644)
    try:
        assert os.pwritev(fd, [buf], 0) == 8192
    finally:
        os.close(fd)
    assert read(u.b["rw1"].p("direct"), "rb") == DATA[4096:4096 + 8192]


def test_readers_and_an_appender_race_on_one_lower_file(pt_union):
    # Readers open and close the lower file while an appender's first open
    # copies it up: every open succeeds, and each reader sees the original
    # data followed by whole appended records only.
    u = pt_union
    stop = threading.Event()
    errors = []

    def reader():
        while not stop.is_set():
            try:
                with open(u.m("f"), "rb") as f:
                    got = f.read()
                tail = got[len(DATA):]
                if got[:len(DATA)] != DATA or len(tail) % 8 or tail != b"appended" * (len(tail) // 8):
                    errors.append("bad content of %d bytes" % len(got))
            except OSError as e:
                errors.append(repr(e))

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        for _ in range(200):
            with open(u.m("f"), "ab") as f:
                f.write(b"appended")
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert errors == []
    assert read(u.b["rw1"].p("f"), "rb") == DATA + b"appended" * 200
    assert read(u.b["ro1"].p("f"), "rb") == DATA
