"""nsnet command line: help, version, man page, and bad input rejected
before anything is touched, each with its documented exit code."""
import os
import re

import pytest


def test_help_starts_with_usage(nsnet):
    r = nsnet("--help")
    assert r.returncode == 0
    assert r.stdout.startswith("Usage:")


def test_version(nsnet):
    r = nsnet("--version")
    assert r.returncode == 0
    assert re.match(r"nsnet \(\w+\) \d+\.\d+", r.stdout)


def test_man_page_documents_every_command(nsnet, srcdir):
    with open(os.path.join(srcdir, "man", "nsnet.8")) as f:
        man = f.read().replace("\\-", "-").replace("\\fB", "").replace("\\fR", "")
    usages = [l.split("nsnet ", 1)[1] for l in nsnet("--help").stdout.splitlines()
              if l.startswith("  nsnet ")]
    assert len(usages) >= 15
    for usage in usages:
        words = usage.split()
        cmd = " ".join(words[:2]) if words[0] in ("link", "addr", "route") or \
            words[:2] == ["bridge", "del"] else words[0]
        assert cmd in man, cmd
        for opt in re.findall(r"--[a-z-]+", usage):
            assert opt in man, opt


def test_command_help_prints_its_usage(nsnet):
    r = nsnet("connect", "--help")
    assert r.returncode == 0
    assert r.stdout.startswith("Usage: nsnet connect")


@pytest.mark.parametrize("args", [
    [],
    ["frobnicate"],
    ["link"],
    ["link", "up", "x:y"],
    ["list", "--bogus"],
    ["add"],
    ["ping", "x"],
    ["connect", "a:b=10.0.0.1/24"],
    ["del", "--all", "x"],
    ["list", "extra"],
])
def test_usage_errors_exit_2(nsnet, args):
    r = nsnet(*args)
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith("nsnet")


def _bad(names):
    long_ns = "n" * 256
    a = names.ns("a")
    return [
        ["add", "bad/name"],
        ["add", ".."],
        ["add", "."],
        ["add", ""],
        ["add", long_ns],
        ["add", "-dash"],
        ["add", "has space"],
        ["connect", a + ":sixteen-bytes-xx=10.0.0.1/24", names.ns("b") + ":t2=10.0.0.2/24"],
        ["connect", a + ":eth%d=10.0.0.1/24", names.ns("b") + ":t2=10.0.0.2/24"],
        ["connect", a + ":e/1=10.0.0.1/24", names.ns("b") + ":t2=10.0.0.2/24"],
        ["connect", a + ":t1=10.0.0.1", names.ns("b") + ":t2=10.0.0.2/24"],
        ["connect", a + ":t1=10.0.0.1/33", names.ns("b") + ":t2=10.0.0.2/24"],
        ["connect", a + ":t1=300.0.0.1/24", names.ns("b") + ":t2=10.0.0.2/24"],
        ["connect", a + ":t1=fd00::1/129", names.ns("b") + ":t2=fd00::2/64"],
        ["connect", a + "-t1=10.0.0.1/24", names.ns("b") + ":t2=10.0.0.2/24"],
        ["connect", a + ":t1", a + ":t1"],
        ["connect", a + ":t1", names.ns("b") + ":t2", "--mtu", "20"],
        ["bridge", names.ns("hub"), a + ":e0=10.0.0.1/24", a + ":e0=10.0.0.2/24"],
        ["bridge", "bad/hub", a + ":e0=10.0.0.1/24"],
        ["attach", a, "abc"],
        ["attach", a, "0"],
        ["ns", "-5"],
        ["ns", "12x"],
        ["identify", "pid"],
        ["ping", a, "not-an-ip", "-c", "1"],
        ["ping", a, "10.0.0.1", "-c", "0"],
        ["ping", a, "10.0.0.1", "-W", "soon"],
        ["route", "add", a, "10.0.0.0/8"],
        ["route", "add", a, "10.0.0.0/8", "via", "fd00::1"],
        ["route", "add", a, "default", "via", "1.2.3"],
        ["route", "add", a, "10.0.0.0/8", "dev", "x" * 16],
        ["addr", "add", a + ":t1", "10.0.0.1"],
        ["link", "add", a + ":t1=10.0.0.1/24", names.ns("b") + ":t2"],
    ]


BAD_COUNT = 33


@pytest.mark.parametrize("case", range(BAD_COUNT))
def test_bad_input_exits_2_and_touches_nothing(nsnet, names, case):
    cases = _bad(names)
    assert len(cases) == BAD_COUNT
    before = names.state()
    r = nsnet(*cases[case])
    assert r.returncode == 2, (cases[case], r.stderr)
    lines = r.stderr.splitlines()
    assert lines and lines[0].startswith("nsnet: "), r.stderr
    assert names.state() == before


@pytest.mark.parametrize("args", [
    ["del", "{missing}"],
    ["pids", "{missing}"],
    ["exec", "{missing}", "--", "true"],
    ["link", "del", "{missing}:t1"],
    ["addr", "add", "{missing}:t1", "10.0.0.1/24"],
    ["route", "add", "{missing}", "default", "dev", "t1"],
    ["link", "add", "{missing}:t1", "{missing}2:t2"],
    ["disconnect", "{missing}:t1"],
    ["bridge", "del", "{missing}"],
    ["attach", "{missing}", "2147483647"],
    ["ns", "2147483647"],
    ["identify", "2147483647"],
])
def test_missing_objects_exit_3(nsnet, names, args):
    missing = names.ns("missing")
    r = nsnet(*[a.format(missing=missing) for a in args])
    assert r.returncode == 3, r.stderr
    assert len(r.stderr.splitlines()) == 1
    assert r.stderr.startswith("nsnet: ")
    assert names.state()["netns"] == []


def test_del_missing_ok(nsnet, names):
    r = nsnet("del", "--missing-ok", names.ns("missing"))
    assert r.returncode == 0, r.stderr
