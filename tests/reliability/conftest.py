"""Fixtures for the reliability suite (crash, model, fsx, concurrency,
resources, bad input, long paths).

Nothing is imported from the other suites; what every FUSE suite needs
(foreground daemon, wait for the mount, watchdog that aborts a hung
connection, lazy unmount, sanitizer-log check, the report hook's pieces)
comes from tests/util.py, the rest from relutil.py.

Environment:
  UFS_STRESS=N   scale factor for the long runs (`make stress` sets 1;
                 0 or unset = the bounded `make check` sizes)
  UFS_SEED=N     fixed seed for the randomised tests (default: a fresh one,
                 always printed on failure)
  UFS_VALGRIND=1 run the daemon under valgrind memcheck (`make check-valgrind`)
"""
import os
import random
import shutil
import tempfile

import pytest

from relutil import STRESS, VALGRIND, Union, sanitized_build
from util import (attach_logs, call_passed, finish_all, fuse_missing_reason, lazy_unmount,
                  mounts_under, record_report)

_FUSE_REASON = fuse_missing_reason()


def pytest_configure(config):
    config.addinivalue_line("markers", "valgrind: part of `make check-valgrind`")
    config.addinivalue_line("markers", "stress: scales with UFS_STRESS")


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    record_report(item, rep)
    if rep.failed:
        # The first daemon's log and the last two (a shrinking run makes many).
        logs = getattr(item, "_rel_logs", [])
        attach_logs(rep, logs[:1] + logs[max(1, len(logs) - 2):], skip_bare=True)
        seed = getattr(item, "_rel_seed", None)
        if seed is not None:
            rep.sections.append(("seed", "reproduce with UFS_SEED=%d" % seed))


@pytest.fixture
def need_fuse():
    if _FUSE_REASON:
        pytest.skip("FUSE unavailable: " + _FUSE_REASON)


@pytest.fixture
def need_root():
    if os.geteuid() != 0:
        pytest.skip("needs root")


@pytest.fixture(scope="session")
def stress():
    """Scale factor: 0 in `make check`, >= 1 in `make stress`."""
    return STRESS


@pytest.fixture
def seed(request):
    """The seed of a randomised test; recorded so a failure reports it."""
    value = int(os.environ.get("UFS_SEED") or random.SystemRandom().randrange(1, 1 << 31))
    request.node._rel_seed = value
    return value


@pytest.fixture(scope="session")
def rel_bin(builddir):
    """Path of a helper built from tests/reliability (check_PROGRAMS)."""
    def _path(name):
        path = os.path.join(builddir, "tests", "reliability", name)
        if not os.access(path, os.X_OK):
            pytest.fail("%s is not built (make check builds it; or make tests/reliability/%s)"
                        % (path, name))
        return path
    return _path


@pytest.fixture
def workdir(request):
    """A world-traversable scratch directory, removed afterwards; a mount
    left inside is detached first and fails the test."""
    base = tempfile.mkdtemp(prefix="rel-%s-" % request.node.name[:40].replace("/", "_"),
                            dir="/tmp")
    os.chmod(base, 0o755)
    yield base
    left = mounts_under(base)
    for mnt in left:
        lazy_unmount(mnt)
    shutil.rmtree(base, ignore_errors=True)
    if left:
        pytest.fail("mount left behind: %s" % left)


@pytest.fixture
def mount_union(request, need_fuse, unionfs_bin, workdir):
    """mount_union([("rw1", "RW"), ("ro1", "RO")], opts="cow", start=True)

    Creates the branch directories that do not exist yet (empty) and returns
    a Union; teardown always unmounts and reaps every daemon, then checks
    the exit status, the log for sanitizer/valgrind reports and that RO
    branches were not modified (the last two only when the test passed)."""
    if VALGRIND and sanitized_build(unionfs_bin):
        pytest.skip("valgrind cannot run a sanitizer build of unionfs")
    unions = []

    def _mount(spec, opts="cow", start=True, mnt="mnt"):
        u = Union(request, unionfs_bin, workdir, spec, opts, mnt)
        unions.append(u)
        return u.start() if start else u

    yield _mount
    finish_all(unions, call_passed(request.node))
