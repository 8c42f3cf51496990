"""Shared pytest configuration: where the binaries under test live.

Tests always run the programs built in this tree (never the ones on PATH):
$abs_top_builddir/fs/unionfs, tools/nsnet/nsnet, tools/cgfreeze/cgfreeze.
"""
import os
import signal

import pytest

from util import URING_PARAM, uring_enabled

SRCDIR = os.environ.get("abs_top_srcdir") or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILDDIR = os.environ.get("abs_top_builddir") or SRCDIR

# Programs under test inherit ignored signals, and a daemon started with
# SIGINT or SIGHUP ignored keeps them ignored (as under nohup).  A suite run
# from a background job or under nohup would then see daemons that do not
# stop on those signals, so the runner starts from the usual dispositions.
for _sig, _handler in ((signal.SIGINT, signal.default_int_handler),
                       (signal.SIGHUP, signal.SIG_DFL), (signal.SIGTERM, signal.SIG_DFL)):
    if signal.getsignal(_sig) == signal.SIG_IGN:
        signal.signal(_sig, _handler)


def built(relpath):
    """Absolute path of a program built in the tree."""
    return os.path.join(BUILDDIR, relpath)


@pytest.fixture(scope="session")
def unionfs_bin():
    return built("fs/unionfs")


@pytest.fixture(scope="session")
def nsnet_bin():
    return built("tools/nsnet/nsnet")


@pytest.fixture(scope="session")
def cgfreeze_bin():
    return built("tools/cgfreeze/cgfreeze")


@pytest.fixture(scope="session")
def helper_bin():
    """Path of a C test helper built by `make check` (tests/helpers/NAME)."""
    def _path(name):
        return built(os.path.join("tests", "helpers", name))
    return _path


@pytest.fixture(scope="session")
def srcdir():
    return SRCDIR


@pytest.fixture(scope="session")
def builddir():
    return BUILDDIR


@pytest.fixture(scope="session", autouse=True)
def _uring_pass():
    """UFS_TEST_URING=1 runs the session with the fuse module's io_uring
    transport on, so every mount takes its requests through its rings; the
    parameter's old value comes back at the end."""
    if os.environ.get("UFS_TEST_URING") != "1":
        yield
        return
    if not os.path.exists(URING_PARAM):
        pytest.exit("UFS_TEST_URING=1, but the fuse module has no enable_uring parameter",
                    returncode=1)
    with uring_enabled():
        yield
