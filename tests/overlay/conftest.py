"""Fixtures for the overlayfs interoperability tests (issue 6).

`layers` gives a fresh work directory with lower/, upper/, work/ and two
mount points; `mount_union` and `mount_overlay` mount unionfs or the
kernel's overlayfs over them; `convert` runs the tree's unionfs-convert.
Teardown always unmounts everything below the work directory (FUSE, then
umount, then lazily), reaps the daemons and removes the directory; daemon
logs are attached to failing tests.
"""
import os
import shutil
import subprocess
import tempfile
from types import SimpleNamespace

import pytest

from ovlutil import OverlayMount, UnionMount, force_unmount, overlay_unavailable
from util import attach_logs, mounts_under

_REASON = overlay_unavailable()


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        attach_logs(rep, getattr(item, "_ovl_logs", []))


@pytest.fixture
def workdir(request):
    base = tempfile.mkdtemp(prefix="ovl-%s-" % request.node.name[:40].replace("/", "_"),
                            dir="/tmp")
    os.chmod(base, 0o755)
    yield base
    for mnt in sorted(mounts_under(base), reverse=True):
        force_unmount(mnt)
    left = mounts_under(base)
    shutil.rmtree(base, ignore_errors=True)
    assert not left, "mounts left behind: %s" % left


@pytest.fixture
def layers(workdir):
    names = ("lower", "upper", "work", "mnt", "mnt2")
    for name in names:
        os.mkdir(os.path.join(workdir, name))
        os.chmod(os.path.join(workdir, name), 0o755)
    return SimpleNamespace(base=workdir, **{n: os.path.join(workdir, n) for n in names})


@pytest.fixture
def convert_bin(builddir):
    path = os.path.join(builddir, "fs", "unionfs-convert")
    if not os.path.exists(path):
        pytest.fail("%s is not built (make fs/unionfs-convert)" % path)
    return path


@pytest.fixture
def convert(convert_bin):
    """convert(*args) -> CompletedProcess (text, stdout/stderr captured)."""
    def _run(*args):
        return subprocess.run([convert_bin] + list(args), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, timeout=60)
    return _run


@pytest.fixture
def need_mounts():
    if _REASON:
        pytest.skip(_REASON)


@pytest.fixture
def mount_union(request, unionfs_bin, workdir, need_mounts):
    """mount_union(spec, mnt, opts="cow") -> UnionMount, mounted."""
    mounts = []

    def _mount(spec, mnt, opts="cow"):
        log = os.path.join(workdir, "daemon-%d.log" % len(mounts))
        request.node._ovl_logs = getattr(request.node, "_ovl_logs", []) + [log]
        u = UnionMount(unionfs_bin, spec, mnt, opts, log)
        mounts.append(u)
        return u.start()

    yield _mount
    for u in mounts:
        u.stop()


@pytest.fixture
def mount_overlay(workdir, need_mounts):
    """mount_overlay(lower, upper, work, mnt, extra=...) -> OverlayMount."""
    mounts = []

    def _mount(*args, **kw):
        o = OverlayMount(*args, **kw)
        mounts.append(o)
        return o.start()

    yield _mount
    for o in mounts:
        o.stop()
