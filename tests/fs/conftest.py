"""Fixtures for the union filesystem tests.

Branch trees are seeded the way unionfs-fuse's own tests do it: every branch
NAME holds `common_file`, `NAME_file`, `common_dir/common_file`,
`common_dir/NAME_file` and `NAME_dir/NAME_file`, each file containing
"NAME\\n", so a test can tell which branch a name resolves to.

`union` mounts one union per test (layout and options parametrisable with
indirect parametrisation), `mount_union` is the factory behind it for tests
that need several mounts or a remount.  Teardown always unmounts and reaps
the daemon; it fails the test when the daemon exits non-zero after a passing
test, when the daemon log holds a sanitizer report, or when a read-only branch
was modified.  The daemon log is attached to every failing test's report.
"""
import json
import os
import shutil
import subprocess
import tempfile

import pytest

from fsutil import LAYOUTS, Branch, Union, seed_branch  # noqa: F401
from util import (attach_logs, call_passed, finish_all, fuse_missing_reason, lazy_unmount,
                  mounts_under, record_report)

_FUSE_REASON = fuse_missing_reason()


@pytest.fixture(autouse=True)
def _need_fuse():
    if _FUSE_REASON:
        pytest.skip("FUSE unavailable: " + _FUSE_REASON)


# --------------------------------------------------------------------------
# Report hook: fixtures learn whether the test passed and attach daemon logs.

@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    record_report(item, rep)
    if rep.failed:
        attach_logs(rep, getattr(item, "_ufs_logs", []))


# --------------------------------------------------------------------------
# Work directory: world-traversable (tests run commands as uid 1000), removed
# afterwards, and never removed while something is still mounted inside.

@pytest.fixture
def workdir(request):
    base = tempfile.mkdtemp(prefix="ufs-%s-" % request.node.name[:40].replace("/", "_"),
                            dir="/tmp")
    os.chmod(base, 0o755)
    yield base
    for mnt in mounts_under(base):
        lazy_unmount(mnt)
    if mounts_under(base):
        pytest.fail("mount left behind under %s" % base)
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def make_branches(workdir):
    """make_branches([("rw1", "RW"), ("ro1", "RO")], seed=True) -> [Branch]"""
    def _make(spec, seed=True):
        out = []
        for name, mode in spec:
            path = os.path.join(workdir, name)
            if not os.path.isdir(path):
                os.mkdir(path)
                os.chmod(path, 0o755)
                if seed:
                    seed_branch(path, name)
            out.append(Branch(path, name, mode))
        return out
    return _make


@pytest.fixture
def mount_union(request, unionfs_bin, workdir, make_branches):
    """mount_union(layout_or_branches, opts=None, mnt="mnt", spec_style="args")

    layout_or_branches: a LAYOUTS key or a list of Branch objects.  opts: the
    -o options besides cache=never (None: the layout's default)."""
    unions = []

    def _mount(layout="rw-ro", opts=None, mnt="mnt", spec_style="args", start=True):
        if isinstance(layout, str):
            spec, default_opts = LAYOUTS[layout]
            branches = make_branches(spec)
        else:
            branches, default_opts = layout, "cow"
        u = Union(request, unionfs_bin, workdir, branches,
                  default_opts if opts is None else opts, mnt, spec_style)
        unions.append(u)
        return u.start() if start else u

    yield _mount
    finish_all(unions, call_passed(request.node))


@pytest.fixture
def union(request, mount_union):
    """A mounted union.  Parametrise indirectly with a LAYOUTS key, or with a
    (layout, extra-options) tuple; the default is "rw-ro" (RW over RO, cow)."""
    param = getattr(request, "param", "rw-ro")
    if isinstance(param, tuple):
        layout, extra = param
        opts = ",".join(o for o in (LAYOUTS[layout][1], extra) if o)
        return mount_union(layout, opts=opts)
    return mount_union(param)


@pytest.fixture
def ctl(builddir):
    """ctl(u): the mount's `unionfsctl stats --json`."""
    def _stats(u):
        r = subprocess.run([os.path.join(builddir, "fs", "unionfsctl"), "stats", "--json", u.m()],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)
    return _stats
