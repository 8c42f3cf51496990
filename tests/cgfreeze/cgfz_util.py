"""Helpers shared by the cgfreeze tests (imported by conftest and tests)."""
import time


def read_counter(path):
    try:
        with open(path, "rb") as f:
            data = f.read(20)
        return int(data) if len(data) == 20 else 0
    except (OSError, ValueError):
        return 0


def wait_for(pred, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")
