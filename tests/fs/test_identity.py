"""Identity and permissions: owners of new objects, default_permissions,
setgid directories, umask, inode numbers."""
import os
import stat

import pytest

from fsutil import read, run_as, write

pytestmark = [pytest.mark.fuse, pytest.mark.root]

PY = "/usr/bin/python3"


@pytest.fixture
def shared(mount_union):
    """A rw-ro union mounted with allow_other (so uid 1000 can use it) whose
    common_dir is world-writable in both branches."""
    u = mount_union("rw-ro", opts="cow,allow_other", start=False)
    for br in u.branches:
        os.chmod(br.p("common_dir"), 0o777)
    u.start()
    return u


def py_as(uid, gid, code, *args, umask=None):
    if umask is not None:
        code = "import os; os.umask(%d)\n" % umask + code
    return run_as(uid, gid, [PY, "-c", code] + list(args))


def test_new_file_owned_by_caller(shared):
    r = py_as(1000, 1000, "open(__import__('sys').argv[1], 'w').write('x')", shared.m("common_dir/f"))
    assert r.returncode == 0, r.stderr
    st = os.stat(shared.b["rw1"].p("common_dir/f"))
    assert (st.st_uid, st.st_gid) == (1000, 1000)
    assert os.stat(shared.m("common_dir/f")).st_uid == 1000


def test_new_file_owned_by_uid_1000_gid_0(shared):
    r = py_as(1000, 0, "open(__import__('sys').argv[1], 'w').write('x')", shared.m("common_dir/f"))
    assert r.returncode == 0, r.stderr
    st = os.stat(shared.b["rw1"].p("common_dir/f"))
    assert (st.st_uid, st.st_gid) == (1000, 0)


def test_new_directory_owned_by_caller(shared):
    r = py_as(1000, 1000, "import os,sys; os.mkdir(sys.argv[1])", shared.m("common_dir/d"))
    assert r.returncode == 0, r.stderr
    st = os.stat(shared.b["rw1"].p("common_dir/d"))
    assert (st.st_uid, st.st_gid) == (1000, 1000)


def test_new_symlink_owned_by_caller(shared):
    r = py_as(1000, 1000, "import os,sys; os.symlink('t', sys.argv[1])", shared.m("common_dir/l"))
    assert r.returncode == 0, r.stderr
    st = os.lstat(shared.b["rw1"].p("common_dir/l"))
    assert (st.st_uid, st.st_gid) == (1000, 1000)


def test_new_fifo_owned_by_caller(shared):
    r = py_as(1000, 1000, "import os,sys; os.mkfifo(sys.argv[1])", shared.m("common_dir/p"))
    assert r.returncode == 0, r.stderr
    assert os.lstat(shared.b["rw1"].p("common_dir/p")).st_uid == 1000


def test_create_in_lower_only_world_writable_dir_as_user(shared):
    os_dir = shared.b["ro1"].p("common_dir")
    assert os.stat(os_dir).st_mode & 0o777 == 0o777
    r = py_as(1000, 1000, "open(__import__('sys').argv[1], 'w').write('x')", shared.m("common_dir/g"))
    assert r.returncode == 0, r.stderr
    assert os.stat(shared.b["rw1"].p("common_dir/g")).st_uid == 1000


def test_umask_applies(shared):
    r = py_as(1000, 1000, "open(__import__('sys').argv[1], 'w').write('x')",
              shared.m("common_dir/f"), umask=0o027)
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE(os.stat(shared.b["rw1"].p("common_dir/f")).st_mode) == 0o640


def test_umask_applies_to_mkdir(shared):
    r = py_as(1000, 1000, "import os,sys; os.mkdir(sys.argv[1], 0o777)",
              shared.m("common_dir/d"), umask=0o022)
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE(os.stat(shared.b["rw1"].p("common_dir/d")).st_mode) == 0o755


def test_setgid_directory_gives_group(shared):
    os.mkdir(shared.m("sg"))
    os.chown(shared.m("sg"), 0, 50)
    os.chmod(shared.m("sg"), 0o2777)
    r = py_as(1000, 1000, "import os,sys; open(sys.argv[1] + '/f', 'w'); os.mkdir(sys.argv[1] + '/d')",
              shared.m("sg"))
    assert r.returncode == 0, r.stderr
    f = os.stat(shared.b["rw1"].p("sg/f"))
    d = os.stat(shared.b["rw1"].p("sg/d"))
    assert f.st_gid == 50 and d.st_gid == 50
    assert d.st_mode & stat.S_ISGID


def test_default_permissions_refuses_other_users_file(shared):
    r = py_as(1000, 1000, "open(__import__('sys').argv[1], 'a').write('x')", shared.m("common_dir/ro1_file"))
    assert r.returncode != 0 and "Permission denied" in r.stderr
    assert read(shared.m("common_dir/ro1_file")) == "ro1\n"
    assert not os.path.lexists(shared.b["rw1"].p("common_dir/ro1_file"))


def test_default_permissions_refuses_unlink_in_root_owned_dir(shared):
    r = py_as(1000, 1000, "import os,sys; os.unlink(sys.argv[1])", shared.m("ro1_file"))
    assert r.returncode != 0 and "Permission denied" in r.stderr
    assert not os.path.lexists(shared.b["rw1"].hidden("ro1_file"))


def test_other_user_can_read(shared):
    r = py_as(1000, 1000, "print(open(__import__('sys').argv[1]).read(), end='')", shared.m("ro1_file"))
    assert r.returncode == 0 and r.stdout == "ro1\n"


def test_without_allow_other_other_users_are_refused(union):
    r = py_as(1000, 1000, "import os,sys; os.listdir(sys.argv[1])", union.m())
    assert r.returncode != 0


def test_chown_by_non_owner_is_eperm(shared):
    r = py_as(1000, 1000, "import os,sys; os.chown(sys.argv[1], 1000, 1000)", shared.m("ro1_file"))
    assert r.returncode != 0 and "Operation not permitted" in r.stderr
    assert not os.path.lexists(shared.b["rw1"].p("ro1_file"))


def test_owner_can_chmod_own_lower_file(mount_union):
    u = mount_union("rw-ro", opts="cow,allow_other", start=False)
    os.chown(u.b["ro1"].p("ro1_file"), 1000, 1000)
    u.start()
    r = py_as(1000, 1000, "import os,sys; os.chmod(sys.argv[1], 0o600)", u.m("ro1_file"))
    assert r.returncode == 0, r.stderr
    st = os.stat(u.b["rw1"].p("ro1_file"))
    assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == 1000


def test_daemon_keeps_root_credentials(shared):
    py_as(1000, 1000, "open(__import__('sys').argv[1], 'w')", shared.m("common_dir/f"))
    status = read("/proc/%d/status" % shared.proc.pid)
    uid_line = [l for l in status.splitlines() if l.startswith("Uid:")][0]
    assert uid_line.split()[1:] == ["0", "0", "0", "0"]


def test_inode_numbers_stable_across_forget(union):
    ino = os.stat(union.m("common_dir/ro1_file")).st_ino
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("2")
    assert os.stat(union.m("common_dir/ro1_file")).st_ino == ino


def test_new_file_gets_new_inode_number(union):
    inos = {os.stat(union.m(n)).st_ino for n in os.listdir(union.m())}
    write(union.m("new"), "")
    assert os.stat(union.m("new")).st_ino not in inos


def test_unlinked_open_file_still_readable(union):
    with open(union.m("rw1_file")) as f:
        os.unlink(union.m("rw1_file"))
        assert f.read() == "rw1\n"
    assert not os.path.lexists(union.m("rw1_file"))


def test_access_w_ok_as_owner_on_lower_file(union):
    assert os.access(union.m("ro1_file"), os.W_OK)
    assert not os.path.lexists(union.b["rw1"].p("ro1_file"))
