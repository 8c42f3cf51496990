"""cgfreeze --root against plain-directory fake trees.

The tool writes state files with O_APPEND and reads their first line, so a
fake freezer.state whose first line says FREEZING stays FREEZING forever,
and every value written lands after it as a log line.  These tests need no
privileges and touch no real cgroup.
"""
import json
import os
import pathlib
import signal
import subprocess
import time
import shutil
import tempfile

import pytest


def make_v1(tmp_path, state="FREEZING", self_freezing="0"):
    g = tmp_path / "g"
    g.mkdir(parents=True)
    (g / "freezer.state").write_text(state + "\n")
    (g / "freezer.self_freezing").write_text(self_freezing + "\n")
    (g / "freezer.parent_freezing").write_text("0\n")
    (g / "cgroup.procs").write_text("")
    (g / "tasks").write_text("")
    return g


def make_v2(tmp_path, freeze="0", frozen="0"):
    root = tmp_path
    (root / "cgroup.controllers").write_text("")
    g = root / "g"
    g.mkdir()
    (g / "cgroup.freeze").write_text(freeze + "\n")
    (g / "cgroup.events").write_text(f"populated 0\nfrozen {frozen}\n")
    (g / "cgroup.procs").write_text("")
    (g / "cgroup.threads").write_text("")
    return g


def writes(path):
    """Values written by cgfreeze: every line after the first."""
    return path.read_text().splitlines()[1:]


def test_v1_freezing_forever_times_out_and_thaws_back(cg, tmp_path):
    g = make_v1(tmp_path)
    r = cg.run("--root", tmp_path, "--mode", "v1", "freeze", "g", "--timeout", "0.5")
    assert r.returncode == 7
    assert "thawed back" in r.stderr
    log = writes(g / "freezer.state")
    assert log[0] == "FROZEN" and log[-1] == "THAWED"
    assert log.count("FROZEN") > 1  # the retry loop re-wrote FROZEN


def test_v2_never_frozen_times_out_and_thaws_back(cg, tmp_path):
    g = make_v2(tmp_path)
    r = cg.run("--root", tmp_path, "--mode", "v2", "freeze", "g", "--timeout", "0.5")
    assert r.returncode == 7
    assert "thawed back" in r.stderr
    assert writes(g / "cgroup.freeze") == ["1", "0"]


def test_v2_fake_tree_detected_without_mode(cg, tmp_path):
    g = make_v2(tmp_path)
    r = cg.run("--root", tmp_path, "freeze", "g", "--timeout", "0.2")
    assert r.returncode == 7
    assert writes(g / "cgroup.freeze") == ["1", "0"]


def test_v2_already_frozen_is_a_noop(cg, tmp_path):
    g = make_v2(tmp_path, freeze="1", frozen="1")
    r = cg.ok("--root", tmp_path, "--mode", "v2", "freeze", "g")
    assert "already FROZEN" in r.stdout
    assert writes(g / "cgroup.freeze") == []


def test_v1_already_frozen_is_a_noop(cg, tmp_path):
    g = make_v1(tmp_path, state="FROZEN", self_freezing="1")
    cg.ok("--root", tmp_path, "--mode", "v1", "freeze", "g")
    assert writes(g / "freezer.state") == []


def test_v1_frozen_at_once_succeeds(cg, tmp_path):
    g = make_v1(tmp_path, state="FROZEN", self_freezing="0")
    r = cg.ok("--root", tmp_path, "--mode", "v1", "freeze", "g", "--timeout", "0.5")
    assert writes(g / "freezer.state") == ["FROZEN"]
    assert "g: FROZEN" in r.stdout


def test_v2_no_wait_writes_once(cg, tmp_path):
    g = make_v2(tmp_path)
    cg.ok("--root", tmp_path, "--mode", "v2", "freeze", "g", "--no-wait")
    assert writes(g / "cgroup.freeze") == ["1"]


def test_fake_state_table(cg, tmp_path):
    make_v1(tmp_path)
    out = cg.ok("--root", tmp_path, "--mode", "v1", "state", "g").stdout.splitlines()
    assert out[0].split() == ["NAME", "HIERARCHY", "STATE", "SELF", "PARENT", "PROCS", "TASKS"]
    assert out[1].split() == ["g", "v1", "FREEZING", "0", "0", "0", "0"]


def test_fake_ls_lists_tree(cg, tmp_path):
    make_v1(tmp_path)
    (tmp_path / "g" / "sub").mkdir()
    lines = cg.ok("--root", tmp_path, "--mode", "v1", "ls").stdout.splitlines()
    assert lines == ["freezer:/", "freezer:/g", "freezer:/g/sub"]


@pytest.fixture
def public_dir():
    """A temp dir nobody can reach (pytest's tmp_path sits under a 0700 dir)."""
    d = tempfile.mkdtemp(prefix="cgfz-fake-", dir="/tmp")
    os.chmod(d, 0o777)
    yield pathlib.Path(d)
    shutil.rmtree(d, ignore_errors=True)


def test_fake_tree_timeout_as_nobody(cg, public_dir):
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to nobody")
    g = make_v1(public_dir)
    for p in public_dir.rglob("*"):
        p.chmod(0o777 if p.is_dir() else 0o666)
    r = cg.run("--root", public_dir, "--mode", "v1", "freeze", "g", "--timeout", "0.2",
               user=65534)
    assert r.returncode == 7
    assert writes(g / "freezer.state")[-1] == "THAWED"


def test_fake_missing_group_exits_3(cg, tmp_path):
    make_v1(tmp_path)
    r = cg.run("--root", tmp_path, "--mode", "v1", "freeze", "nope")
    assert r.returncode == 3 and "no such group" in r.stderr


def test_symlinked_group_is_not_followed(cg, tmp_path):
    make_v1(tmp_path)
    (tmp_path / "link").symlink_to(tmp_path / "g")
    r = cg.run("--root", tmp_path, "--mode", "v1", "freeze", "link", "--timeout", "0.1")
    assert r.returncode == 3


def test_sigterm_during_freeze_thaws_back(cg, tmp_path):
    g = make_v1(tmp_path)
    p = subprocess.Popen([cg.binary, "--root", str(tmp_path), "--mode", "v1", "freeze", "g",
                          "--timeout", "60"], stderr=subprocess.PIPE, text=True)
    try:
        # wait until the retry loop is running, then interrupt it
        deadline = time.monotonic() + 10
        while len(writes(g / "freezer.state")) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 1
    assert "interrupted" in err and "thawed back" in err
    assert writes(g / "freezer.state")[-1] == "THAWED"


def test_quiet_freeze_prints_nothing(cg, tmp_path):
    make_v2(tmp_path, frozen="1")
    r = cg.ok("--root", tmp_path, "--mode", "v2", "-q", "freeze", "g")
    assert r.stdout == "" and r.stderr == ""


def test_json_freeze_result(cg, tmp_path):
    make_v2(tmp_path, frozen="1")
    r = cg.ok("--root", tmp_path, "--mode", "v2", "--json", "freeze", "g")
    assert json.loads(r.stdout) == {"name": "g", "hierarchy": "v2", "state": "FROZEN",
                                    "self_freezing": False, "parent_freezing": False,
                                    "procs": 0, "tasks": 0, "changed": True}
