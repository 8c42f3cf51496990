"""Set-id bits on writes: the daemon negotiates FUSE_HANDLE_KILLPRIV_V2, so
it drops the set-user-ID bit (and the set-group-ID bit of a group-executable
file) when a caller without CAP_FSETID writes or truncates, as Linux does.
In exchange the kernel asks for security.capability once per file instead
of before every write."""
import errno
import os
import stat
import struct

import pytest

from fsutil import read, run_as, write

pytestmark = [pytest.mark.fuse, pytest.mark.root]

PY = "/usr/bin/python3"
SETID = stat.S_ISUID | stat.S_ISGID


@pytest.fixture(params=["cow,allow_other", "cow,allow_other,nopassthrough"],
                ids=["passthrough", "nopassthrough"])
def shared(request, mount_union):
    """A union usable by uid 1000, with setid files in the upper and the lower
    branch of a world-writable directory."""
    u = mount_union("rw-ro", opts=request.param, start=False)
    for br in u.branches:
        os.chmod(br.p("common_dir"), 0o777)
    for name, mode in (("suid", 0o6777), ("sgid_noexec", 0o2766)):
        write(u.b["rw1"].p("common_dir/" + name), "old\n")
        os.chmod(u.b["rw1"].p("common_dir/" + name), mode)
    # setuid and a file capability (cap_net_bind_service, VFS_CAP_REVISION_2)
    write(u.b["rw1"].p("common_dir/suid_cap"), "old\n")
    os.chmod(u.b["rw1"].p("common_dir/suid_cap"), 0o4755)
    os.setxattr(u.b["rw1"].p("common_dir/suid_cap"), "security.capability",
                struct.pack("<5I", 0x02000000, 1 << 10, 0, 0, 0))
    write(u.b["ro1"].p("common_dir/lower_suid"), "old\n")
    os.chmod(u.b["ro1"].p("common_dir/lower_suid"), 0o6777)
    u.start()
    return u


def as_user(code, *args):
    r = run_as(1000, 1000, [PY, "-c", code] + list(args))
    assert r.returncode == 0, r.stderr


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


APPEND = "import sys; open(sys.argv[1], 'a').write('new\\n')"


def test_unprivileged_write_drops_setid_bits(shared):
    as_user(APPEND, shared.m("common_dir/suid"))
    assert mode_of(shared.b["rw1"].p("common_dir/suid")) == 0o0777
    assert mode_of(shared.m("common_dir/suid")) == 0o0777
    assert read(shared.b["rw1"].p("common_dir/suid")) == "old\nnew\n"


def test_unprivileged_truncate_drops_setid_bits(shared):
    as_user("import os, sys; os.truncate(sys.argv[1], 1)", shared.m("common_dir/suid"))
    assert mode_of(shared.b["rw1"].p("common_dir/suid")) == 0o0777
    assert read(shared.b["rw1"].p("common_dir/suid")) == "o"


def test_setgid_without_group_exec_is_kept(shared):
    as_user(APPEND, shared.m("common_dir/sgid_noexec"))
    assert mode_of(shared.b["rw1"].p("common_dir/sgid_noexec")) == 0o2766
    assert read(shared.b["rw1"].p("common_dir/sgid_noexec")) == "old\nnew\n"


def test_root_write_keeps_setid_bits(shared):
    write(shared.m("common_dir/suid"), "root\n", "a")
    assert mode_of(shared.b["rw1"].p("common_dir/suid")) == 0o6777
    assert read(shared.b["rw1"].p("common_dir/suid")) == "old\nroot\n"


def test_root_write_drops_capability_but_keeps_setuid(shared):
    """The kernel removes security.capability on any write; the set-user-ID
    bit stays for a caller with CAP_FSETID."""
    write(shared.m("common_dir/suid_cap"), "root\n", "a")
    p = shared.b["rw1"].p("common_dir/suid_cap")
    assert mode_of(p) == 0o4755
    with pytest.raises(OSError) as e:
        os.getxattr(p, "security.capability")
    assert e.value.errno == errno.ENODATA


def test_unprivileged_write_to_lower_file_drops_bits_of_the_copy(shared):
    as_user(APPEND, shared.m("common_dir/lower_suid"))
    assert mode_of(shared.b["rw1"].p("common_dir/lower_suid")) == 0o0777
    assert read(shared.b["rw1"].p("common_dir/lower_suid")) == "old\nnew\n"
    assert mode_of(shared.b["ro1"].p("common_dir/lower_suid")) == 0o6777
    assert read(shared.b["ro1"].p("common_dir/lower_suid")) == "old\n"


def test_setid_bits_set_again_are_dropped_again(shared):
    """After a write found nothing to drop, a chmod u+s through the mount makes
    the next unprivileged write check again."""
    p = shared.m("common_dir/plain")
    as_user("import sys; open(sys.argv[1], 'w').write('a')", p)
    os.chmod(p, 0o4777)
    as_user(APPEND, p)
    assert mode_of(shared.b["rw1"].p("common_dir/plain")) == 0o0777


def test_small_writes_do_not_ask_for_capabilities_each_time(shared, ctl):
    """Without KILLPRIV_V2 the kernel sends GETXATTR security.capability before
    every write(2); now once per file."""
    before = ctl(shared)["ops"]["getxattr"]
    fd = os.open(shared.m("many_writes"), os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        for _ in range(200):
            os.write(fd, b"x" * 16)
    finally:
        os.close(fd)
    assert ctl(shared)["ops"]["getxattr"] - before <= 2
    assert os.path.getsize(shared.b["rw1"].p("many_writes")) == 200 * 16
