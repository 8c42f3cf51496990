"""fstab forms through mount(8): `type unionfs` (mount.unionfs helper),
`fuse.unionfs` and `unionfs#SPEC ... fuse` (through mount.fuse3).

Each mount runs in a private mount namespace.  For `type unionfs`, mount(8)
only looks for /sbin/mount.unionfs, and this machine may already have one
(e.g. from Debian's unionfs-fuse package): inside the namespace our helper is
bind-mounted over that path, so the system file is never touched.
"""
import os
import signal
import subprocess
import time

import pytest

from fsutil import read, seed_branch

pytestmark = [pytest.mark.fuse, pytest.mark.root]

FORMS = {
    "unionfs-cow-first": "none {mnt} unionfs cow,dirs={a}=RW:{b}=RO 0 0",
    "unionfs-dirs-first": "none {mnt} unionfs dirs={a}=RW:{b}=RO,cow 0 0",
    "unionfs-dirs-middle": "none {mnt} unionfs hide_meta_files,dirs={a}=RW:{b}=RO,cow 0 0",
    "fuse.unionfs": "{a}=RW:{b}=RO {mnt} fuse.unionfs cow 0 0",
    "unionfs#-fuse": "unionfs#{a}=RW:{b}=RO {mnt} fuse cow 0 0",
}

SCRIPT = r"""
set -u
out=$1 fstab=$2 mnt=$3 helper=$4
trap 'fusermount3 -u -z "$mnt" 2>/dev/null' EXIT
if [ -n "$helper" ]; then mount --bind "$helper" /sbin/mount.unionfs || exit 90; fi
mount -T "$fstab" "$mnt" >"$out/mount.out" 2>&1
echo $? >"$out/mount.rc"
grep -F " $mnt " /proc/self/mountinfo >"$out/mountinfo"
ls -a "$mnt" >"$out/ls" 2>&1
cat "$mnt/ro1_file" >"$out/read" 2>&1
echo changed >"$mnt/ro1_file" 2>"$out/write.err"
fusermount3 -u "$mnt"; echo $? >"$out/umount.rc"
"""


def daemons_on(mnt):
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            args = read("/proc/%s/cmdline" % pid, "rb").split(b"\0")
        except OSError:
            continue
        if mnt.encode() in args and int(pid) != os.getpid():
            pids.append(int(pid))
    return pids


@pytest.fixture
def fstab_mount(workdir, builddir):
    """Run one fstab line through mount(8) in a private mount namespace; return
    the directory of captured outputs.  Kills any daemon left behind."""
    a = os.path.join(workdir, "rw1")
    b = os.path.join(workdir, "ro1")
    mnt = os.path.join(workdir, "mnt")
    out = os.path.join(workdir, "out")
    for d, name in ((a, "rw1"), (b, "ro1")):
        os.mkdir(d)
        seed_branch(d, name)
    os.mkdir(os.path.join(a, ".unionfs"))
    os.mkdir(mnt)
    os.mkdir(out)
    # The bind mount needs a file to cover; make one only when there is none.
    target = "/sbin/mount.unionfs"
    created = not os.path.lexists(target)
    if created:
        open(target, "w").close()
    # Generated from fs/mount.unionfs.in by make.
    helper = os.path.join(builddir, "fs", "mount.unionfs")
    env = dict(os.environ)
    env["PATH"] = os.path.join(builddir, "fs") + ":" + env.get("PATH", "/usr/bin:/bin")
    env["UNIONFS"] = os.path.join(builddir, "fs", "unionfs")
    state = {}

    def _run(line):
        fstab = os.path.join(workdir, "fstab")
        need_helper = line.split()[2] == "unionfs"
        if need_helper:
            assert os.path.exists(helper), "%s is not built (make fs/mount.unionfs)" % helper
        with open(fstab, "w") as f:
            f.write(line.format(a=a, b=b, mnt=mnt) + "\n")
        r = subprocess.run(["unshare", "--mount", "--propagation", "private",
                            "bash", "-c", SCRIPT, "fstab", out, fstab, mnt,
                            helper if need_helper else ""],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=60)
        assert r.returncode != 90, "cannot bind-mount the helper: " + r.stdout
        state["mnt"] = mnt
        deadline = time.monotonic() + 10
        while daemons_on(mnt) and time.monotonic() < deadline:
            time.sleep(0.05)
        state["left"] = daemons_on(mnt)
        return {"out": out, "a": a, "b": b, "mnt": mnt}

    yield _run
    for pid in daemons_on(mnt):
        os.kill(pid, signal.SIGKILL)
    if created:
        os.unlink(target)


def captured(res, name):
    return read(os.path.join(res["out"], name))


@pytest.mark.parametrize("form", list(FORMS))
def test_fstab_form_mounts(fstab_mount, form):
    res = fstab_mount(FORMS[form])
    assert captured(res, "mount.rc").strip() == "0", captured(res, "mount.out")
    assert "fuse" in captured(res, "mountinfo")


@pytest.mark.parametrize("form", list(FORMS))
def test_fstab_form_shows_both_branches(fstab_mount, form):
    res = fstab_mount(FORMS[form])
    names = captured(res, "ls").split()
    assert {"rw1_file", "ro1_file", "common_file", "common_dir"} <= set(names), names
    assert captured(res, "read") == "ro1\n"


@pytest.mark.parametrize("form", list(FORMS))
def test_fstab_form_honours_cow(fstab_mount, form):
    res = fstab_mount(FORMS[form])
    assert captured(res, "write.err") == ""
    assert read(os.path.join(res["a"], "ro1_file")) == "changed\n"
    assert read(os.path.join(res["b"], "ro1_file")) == "ro1\n"


def test_fstab_hide_meta_files_option_reaches_daemon(fstab_mount):
    res = fstab_mount(FORMS["unionfs-dirs-middle"])
    assert ".unionfs" not in captured(res, "ls").split()


@pytest.mark.parametrize("form", list(FORMS))
def test_fstab_form_unmounts_and_daemon_exits(fstab_mount, form):
    res = fstab_mount(FORMS[form])
    assert captured(res, "umount.rc").strip() == "0"
    assert daemons_on(res["mnt"]) == []
