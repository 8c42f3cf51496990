"""cgfreeze against the real v1 freezer and cgroup2 hierarchies (root)."""
import json
import os
import subprocess
import time

import pytest

from cgfz_util import read_counter, wait_for

pytestmark = [pytest.mark.cgroup, pytest.mark.root]


def mode_args(mode):
    return ["--mode", mode]


def proc_group(pid, mode, tid=None):
    """The task's group path in the v1 freezer or the cgroup2 hierarchy."""
    path = f"/proc/{pid}/task/{tid}/cgroup" if tid else f"/proc/{pid}/cgroup"
    with open(path) as f:
        for line in f:
            hid, ctrls, gpath = line.rstrip("\n").split(":", 2)
            if mode == "v1" and "freezer" in ctrls.split(","):
                return gpath
            if mode == "v2" and hid == "0":
                return gpath
    return None


def relative(root, gpath):
    """/proc/PID/cgroup paths are relative to the hierarchy root; on a hybrid
    host cgroup2 at /sys/fs/cgroup/unified is mounted at its root too."""
    return gpath.lstrip("/")


def test_counter_stops_while_frozen_and_resumes_after_thaw(cg, env, ver):
    mode, _root = ver
    name = env.group(mode)
    proc, counter = env.counter()
    cg.ok(*mode_args(mode), "create", name, proc.pid)
    cg.ok(*mode_args(mode), "freeze", name)
    frozen_at = read_counter(counter)
    time.sleep(0.3)
    assert read_counter(counter) == frozen_at
    cg.ok(*mode_args(mode), "thaw", name)
    wait_for(lambda: read_counter(counter) > frozen_at, what="counter to resume")


def test_freeze_reports_frozen_state(cg, env, ver):
    mode, _root = ver
    name = env.group(mode)
    proc, _ = env.counter()
    cg.ok(*mode_args(mode), "create", name, proc.pid)
    cg.ok(*mode_args(mode), "freeze", name)
    st = json.loads(cg.ok(*mode_args(mode), "--json", "state", name).stdout)
    assert st == [{"name": name, "hierarchy": mode, "state": "FROZEN", "self_freezing": True,
                   "parent_freezing": False, "procs": 1, "tasks": 1}]


def test_multithreaded_process_has_every_thread_moved(cg, env, ver):
    mode, root = ver
    name = env.group(mode)
    proc = env.threads(4)
    cg.ok(*mode_args(mode), "create", name, proc.pid)
    tids = os.listdir(f"/proc/{proc.pid}/task")
    assert len(tids) == 4
    for tid in tids:
        assert relative(root, proc_group(proc.pid, mode, tid)) == name


def test_double_freeze_and_double_thaw_exit_zero(cg, env, ver):
    mode, _root = ver
    name = env.group(mode)
    proc, _ = env.counter()
    cg.ok(*mode_args(mode), "create", name, proc.pid)
    first = cg.ok(*mode_args(mode), "freeze", name)
    second = cg.ok(*mode_args(mode), "freeze", name)
    assert "already FROZEN" not in first.stdout and "already FROZEN" in second.stdout
    cg.ok(*mode_args(mode), "thaw", name)
    again = cg.ok(*mode_args(mode), "thaw", name)
    assert "already THAWED" in again.stdout


def test_v1_state_agrees_with_cgget(cg, env, v1):
    name = env.group("v1")
    proc, _ = env.counter()
    cg.ok("--mode", "v1", "create", name, proc.pid)
    for action, want in (("freeze", "FROZEN"), ("thaw", "THAWED")):
        cg.ok("--mode", "v1", action, name)
        cgget = subprocess.run(["cgget", "-nv", "-r", "freezer.state", name],
                               capture_output=True, text=True, check=True).stdout.strip()
        ours = json.loads(cg.ok("--mode", "v1", "--json", "state", name).stdout)[0]["state"]
        assert cgget == ours == want


def test_v1_ls_matches_lscgroup(cg, env, v1):
    name = env.group("v1")
    cg.ok("--mode", "v1", "create", f"{name}/a/b")
    cg.ok("--mode", "v1", "create", f"{name}/c")
    lscg = subprocess.run(["lscgroup", f"freezer:/{name}"], capture_output=True, text=True,
                          check=True).stdout
    ours = cg.ok("ls", f"freezer:/{name}").stdout
    assert sorted(ours.splitlines()) == sorted(lscg.splitlines())
    assert f"freezer:/{name}/a/b" in ours.splitlines()


def test_ls_lists_cgroup2_tree(cg, env, v2):
    name = env.group("v2")
    cg.ok("--mode", "v2", "create", f"{name}/x")
    lines = cg.ok("ls", "cgroup2").stdout.splitlines()
    assert f"cgroup2:/{name}" in lines and f"cgroup2:/{name}/x" in lines
    items = json.loads(cg.ok("--json", "ls", f"cgroup2:/{name}").stdout)
    assert items == [{"controllers": ["cgroup2"], "path": f"/{name}"},
                     {"controllers": ["cgroup2"], "path": f"/{name}/x"}]


def test_v1_delete_kill_removes_frozen_group(cg, env, v1):
    name = env.group("v1")
    proc, _ = env.counter()
    cg.ok("--mode", "v1", "create", name, proc.pid)
    cg.ok("--mode", "v1", "freeze", name)
    r = cg.ok("--mode", "v1", "delete", name, "--kill")
    assert "killed 1 process" in r.stdout
    assert not os.path.exists(os.path.join(v1, name))
    assert proc.wait(timeout=10) == -9


def test_v2_delete_kill_removes_frozen_group(cg, env, v2):
    name = env.group("v2")
    proc, _ = env.counter()
    cg.ok("--mode", "v2", "create", name, proc.pid)
    cg.ok("--mode", "v2", "freeze", name)
    cg.ok("--mode", "v2", "delete", name, "--kill")
    assert not os.path.exists(os.path.join(v2, name))
    assert proc.wait(timeout=10) == -9


def test_delete_refuses_populated_group_without_kill(cg, env, ver):
    mode, root = ver
    name = env.group(mode)
    proc, _ = env.counter()
    cg.ok(*mode_args(mode), "create", name, proc.pid)
    r = cg.run(*mode_args(mode), "delete", name)
    assert r.returncode == 1
    assert "use --kill" in r.stderr
    assert os.path.isdir(os.path.join(root, name)) and proc.poll() is None


def test_delete_empty_group(cg, env, ver):
    mode, root = ver
    name = env.group(mode)
    cg.ok(*mode_args(mode), "create", name)
    cg.ok(*mode_args(mode), "delete", name)
    assert not os.path.exists(os.path.join(root, name))


def test_delete_refuses_group_with_children(cg, env, ver):
    mode, root = ver
    name = env.group(mode)
    cg.ok(*mode_args(mode), "create", f"{name}/child")
    r = cg.run(*mode_args(mode), "delete", name)
    assert r.returncode == 1 and "child group 'child'" in r.stderr
    assert os.path.isdir(os.path.join(root, name, "child"))


def test_add_moves_process(cg, env, ver):
    mode, root = ver
    name = env.group(mode)
    proc = env.threads(3)
    cg.ok(*mode_args(mode), "create", name)
    cg.ok(*mode_args(mode), "add", name, proc.pid)
    assert cg.ok(*mode_args(mode), "pids", name).stdout.split() == [str(proc.pid)]
    for tid in os.listdir(f"/proc/{proc.pid}/task"):
        assert relative(root, proc_group(proc.pid, mode, tid)) == name


def test_v1_add_thread_moves_only_that_thread(cg, env, v1):
    name = env.group("v1")
    proc = env.threads(3)
    tids = sorted(int(t) for t in os.listdir(f"/proc/{proc.pid}/task"))
    one = [t for t in tids if t != proc.pid][0]
    cg.ok("--mode", "v1", "create", name)
    cg.ok("--mode", "v1", "add", name, "--thread", one)
    moved = [t for t in tids if relative(v1, proc_group(proc.pid, "v1", t)) == name]
    assert moved == [one]


def test_run_executes_command_inside_group(cg, env, ver):
    mode, _root = ver
    name = env.group(mode)
    cg.ok(*mode_args(mode), "create", name)
    r = cg.ok(*mode_args(mode), "run", name, "--", "cat", "/proc/self/cgroup")
    lines = r.stdout.splitlines()
    if mode == "v1":
        assert any(line.split(":")[1].split(",").count("freezer") and
                   line.endswith(f":/{name}") for line in lines)
    else:
        assert f"0::/{name}" in lines


def test_run_passes_exit_status(cg, env, ver):
    mode, _root = ver
    name = env.group(mode)
    cg.ok(*mode_args(mode), "create", name)
    assert cg.run(*mode_args(mode), "run", name, "--", "sh", "-c", "exit 42").returncode == 42


def test_run_refuses_frozen_group(cg, env, ver):
    mode, _root = ver
    name = env.group(mode)
    cg.ok(*mode_args(mode), "create", name)
    cg.ok(*mode_args(mode), "freeze", name)
    r = cg.run(*mode_args(mode), "run", name, "--", "true")
    assert r.returncode == 1 and "thaw it first" in r.stderr


def test_freeze_refuses_group_containing_cgfreeze(cg, env, ver):
    mode, _root = ver
    name = env.group(mode)
    cg.ok(*mode_args(mode), "create", name)
    r = cg.run(*mode_args(mode), "run", name, "--", cg.binary, *mode_args(mode), "freeze", name)
    assert r.returncode == 2
    assert "contains cgfreeze itself" in r.stderr
    st = json.loads(cg.ok(*mode_args(mode), "--json", "state", name).stdout)[0]
    assert st["state"] == "THAWED"


def test_parent_freeze_shows_in_child_state(cg, env, ver):
    mode, _root = ver
    name = env.group(mode)
    proc, counter = env.counter()
    cg.ok(*mode_args(mode), "create", f"{name}/child", proc.pid)
    cg.ok(*mode_args(mode), "freeze", name)
    st = json.loads(cg.ok(*mode_args(mode), "--json", "state", f"{name}/child").stdout)[0]
    assert (st["state"], st["self_freezing"], st["parent_freezing"]) == ("FROZEN", False, True)


def test_thaw_of_child_frozen_by_parent_fails(cg, env, ver):
    mode, _root = ver
    name = env.group(mode)
    proc, _ = env.counter()
    cg.ok(*mode_args(mode), "create", f"{name}/child", proc.pid)
    cg.ok(*mode_args(mode), "freeze", f"{name}/child")
    cg.ok(*mode_args(mode), "freeze", name)
    r = cg.run(*mode_args(mode), "thaw", f"{name}/child", "--timeout", "1")
    assert r.returncode == 1 and "parent" in r.stderr


def test_cgroups_shows_group_of_pid(cg, env, ver):
    mode, _root = ver
    name = env.group(mode)
    proc, _ = env.counter()
    cg.ok(*mode_args(mode), "create", name, proc.pid)
    rows = json.loads(cg.ok("--json", "cgroups", proc.pid).stdout)
    if mode == "v1":
        assert any("freezer" in r["controllers"] and r["path"] == f"/{name}" for r in rows)
    else:
        assert {"hierarchy": 0, "controllers": [], "path": f"/{name}"} in rows
    text = cg.ok("cgroups", proc.pid).stdout
    assert text.startswith("ID") and f"/{name}" in text


def test_create_existing_group_exits_6(cg, env, ver):
    mode, _root = ver
    name = env.group(mode)
    cg.ok(*mode_args(mode), "create", name)
    r = cg.run(*mode_args(mode), "create", name)
    assert r.returncode == 6 and "already exists" in r.stderr


def test_create_with_missing_pid_creates_nothing(cg, env, ver):
    mode, root = ver
    name = env.group(mode)
    proc, _ = env.counter()
    r = cg.run(*mode_args(mode), "create", name, proc.pid, 2 ** 22 + 7)
    assert r.returncode == 3 and "no such process" in r.stderr
    assert not os.path.exists(os.path.join(root, name))
    assert proc_group(proc.pid, mode) != f"/{name}"


def test_nonroot_create_exits_4_and_creates_nothing(cg, env, ver):
    mode, root = ver
    name = env.group(mode)
    r = cg.run(*mode_args(mode), "create", name, user=65534)
    assert r.returncode == 4 and "need root" in r.stderr
    assert not os.path.exists(os.path.join(root, name))


def test_nonroot_freeze_exits_4(cg, env, ver):
    mode, _root = ver
    name = env.group(mode)
    cg.ok(*mode_args(mode), "create", name)
    r = cg.run(*mode_args(mode), "freeze", name, user=65534)
    assert r.returncode == 4
    assert json.loads(cg.ok(*mode_args(mode), "--json", "state", name).stdout)[0]["state"] == "THAWED"


def test_mode_reports_hybrid_layout(cg, v1, v2):
    info = json.loads(cg.ok("--json", "mode").stdout)
    assert info["layout"] == "hybrid"
    assert (info["freezer"], info["root"]) == ("v1", v1)
    assert info["cgroup2_mount"] == v2
    v2info = json.loads(cg.ok("--json", "--mode", "v2", "mode").stdout)
    assert (v2info["freezer"], v2info["root"]) == ("v2", v2)


def test_no_wait_freeze_then_wait_freeze(cg, env, ver):
    mode, _root = ver
    name = env.group(mode)
    proc, _ = env.counter()
    cg.ok(*mode_args(mode), "create", name, proc.pid)
    cg.ok(*mode_args(mode), "freeze", name, "--no-wait")
    cg.ok(*mode_args(mode), "freeze", name)
    st = json.loads(cg.ok(*mode_args(mode), "--json", "state", name).stdout)[0]
    assert st["state"] == "FROZEN"
