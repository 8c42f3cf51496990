"""cgfreeze command line: bad input and its exit codes, help, man page."""
import os
import re

import pytest

LONG_NAME = "x" * 256


def test_help_starts_with_usage(cg):
    r = cg.ok("--help")
    assert r.stdout.startswith("Usage:")


def test_version(cg):
    assert re.match(r"cgfreeze \(unionfs\) \d+\.\d+", cg.ok("--version").stdout)


def test_no_command_exits_2(cg):
    r = cg.run()
    assert r.returncode == 2 and r.stderr.startswith("Usage:")


@pytest.mark.parametrize("args", [
    ["frobnicate"],
    ["freez", "g"],                 # no prefix matching
    ["freeze"],                     # missing NAME
    ["freeze", "a", "b"],           # too many
    ["pids"],
    ["freeze", "g", "--kill"],      # option not valid for the command
    ["delete", "g", "--no-wait"],
    ["--bogus", "mode"],
    ["--mode", "v3", "mode"],
    ["freeze", "g", "--timeout", "soon"],
    ["freeze", "g", "--timeout", "-1"],
    ["add", "g", "--thread", "0"],
    ["run", "g", "true"],           # missing --
    ["run", "g", "--"],             # missing command
    ["cgroups", "notapid"],
    ["cgroups", "0"],
])
def test_usage_errors_exit_2(cg, args):
    r = cg.run(*args)
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith("cgfreeze: ") and r.stderr.count("\n") == 1


@pytest.mark.parametrize("name,reason", [
    ("../escape", "'..'"),
    ("a/../b", "'..'"),
    ("./a", "'.'"),
    ("/abs", "relative"),
    ("a//b", "empty path component"),
    ("a/", "trailing"),
    (LONG_NAME, "too long"),
    ("tab\there", "control"),
])
def test_bad_group_names_exit_2(cg, need_root, name, reason):
    for cmd in (["freeze", name], ["create", name], ["state", name]):
        r = cg.run(*cmd)
        assert r.returncode == 2, (cmd, r.stderr)
        assert reason in r.stderr


def test_empty_group_name_exits_2(cg, need_root):
    r = cg.run("freeze", "")
    assert r.returncode == 2 and "empty" in r.stderr


@pytest.mark.parametrize("name", ["/", "//"])
def test_root_group_refused(cg, need_root, name):
    r = cg.run("freeze", name)
    assert r.returncode == 2 and "root cgroup" in r.stderr


@pytest.mark.parametrize("mode", ["v1", "v2"])
@pytest.mark.parametrize("cmd", ["freeze", "thaw", "state", "pids", "delete"])
def test_missing_group_exits_3(cg, env, request, mode, cmd):
    request.getfixturevalue(mode)
    name = env.group(mode)
    r = cg.run("--mode", mode, cmd, name)
    assert r.returncode == 3
    assert r.stderr == f"cgfreeze: {cmd} {name}: no such group in the {mode} hierarchy at " \
                       f"{request.getfixturevalue(mode)}\n"


def test_add_to_missing_group_exits_3(cg, env, v1):
    name = env.group("v1")
    assert cg.run("add", name, os.getpid()).returncode == 3


def test_add_missing_pid_exits_3(cg, env, v1):
    name = env.group("v1")
    cg.ok("create", name)
    r = cg.run("add", name, 2 ** 22 + 11)
    assert r.returncode == 3
    assert r.stderr == f"cgfreeze: add {name}: no such process {2 ** 22 + 11}\n"


def test_add_without_pids_exits_2(cg, env, v1):
    name = env.group("v1")
    cg.ok("create", name)
    assert cg.run("add", name).returncode == 2


def test_cgroups_missing_pid_exits_3(cg):
    r = cg.run("cgroups", 2 ** 22 + 13)
    assert r.returncode == 3 and "no such process" in r.stderr


def test_ls_unknown_controller_exits_3(cg):
    r = cg.run("ls", "nosuchcontroller")
    assert r.returncode == 3 and "no such controller" in r.stderr


def test_ls_missing_path_exits_3(cg, env, v1):
    name = env.group("v1")
    r = cg.run("ls", f"freezer:/{name}")
    assert r.returncode == 3


def test_ls_bad_path_exits_2(cg):
    assert cg.run("ls", "freezer:/../etc").returncode == 2


def test_missing_root_dir_exits_3(cg, tmp_path):
    r = cg.run("--root", tmp_path / "nope", "state", "g")
    assert r.returncode == 3


def test_root_mode_mismatch_exits_2(cg, v1):
    r = cg.run("--root", v1, "--mode", "v2", "state", "x")
    assert r.returncode == 2 and "--mode v2" in r.stderr


def test_nonroot_state_of_missing_group_exits_3(cg, need_root, v1):
    # read-only commands work unprivileged; the error is still precise
    r = cg.run("state", "cgfz-does-not-exist", user=65534)
    assert r.returncode == 3


def test_nonroot_delete_exits_4(cg, env, v1):
    name = env.group("v1")
    cg.ok("create", name)
    r = cg.run("delete", name, user=65534)
    assert r.returncode == 4 and r.stderr == f"cgfreeze: delete {name}: need root (CAP_SYS_ADMIN)\n"
    assert os.path.isdir(os.path.join(v1, name))


# ---- the man page documents what --help shows ----

def man_text(srcdir):
    with open(os.path.join(srcdir, "man", "cgfreeze.8")) as f:
        return f.read().replace("\\-", "-")


def test_man_page_documents_every_command(cg, srcdir):
    man = man_text(srcdir)
    helptext = cg.ok("--help").stdout
    commands = re.findall(r"^  ([a-z]+) ", helptext.split("Commands:")[1].split("Options:")[0],
                          re.M)
    assert {"mode", "create", "add", "run", "freeze", "thaw", "state", "pids", "delete",
            "cgroups", "ls"} <= set(commands)
    for c in commands:
        assert re.search(rf"^\.(B|BI|BR) {c}\b", man, re.M), c


def test_man_page_documents_every_option(cg, srcdir):
    man = man_text(srcdir)
    opts = re.findall(r"(--[a-z-]+)", cg.ok("--help").stdout.split("Options:")[1])
    assert len(opts) >= 10
    for o in opts:
        assert o in man, o


def test_man_page_documents_exit_codes(srcdir):
    man = man_text(srcdir)
    section = man.split(".SH EXIT STATUS")[1].split(".SH")[0]
    for code in range(8):
        assert f".B {code}\n" in section
