"""Counters reported by `unionfsctl branches` and `unionfsctl stats` move
as expected for scripted workloads.  Mounted with cache=never so every
access reaches the daemon."""
import json
import os

import pytest

DATA = b"0123456789" * 1000  # 10000 bytes, not a multiple of a page


def lower_file(name="f", data=DATA):
    return {"ro1/" + name: data}


def delta(before, after, key):
    return after[key] - before[key]


def test_lookups_counted_on_the_serving_branch(mount):
    m = mount(opts="cow,cache=never", files=lower_file())
    ro0, rw0 = m.branch("ro1"), m.branch("rw1")
    for _ in range(3):
        os.stat(m.p("f"))
    ro1, rw1 = m.branch("ro1"), m.branch("rw1")
    assert delta(ro0, ro1, "lookups") >= 3
    assert delta(rw0, rw1, "lookups") == 0


def test_lookup_ops_and_cache_hits_counted(mount):
    m = mount(opts="cow,cache=never", files=lower_file())
    s0 = m.stats()
    for _ in range(3):
        os.stat(m.p("f"))
    s1 = m.stats()
    assert s1["ops"]["lookup"] - s0["ops"]["lookup"] >= 3
    # The first lookup makes the node; the later ones find it known.
    assert delta(s0, s1, "cache_hits") >= 2


# Reads and writes by FUSE passthrough bypass the daemon and its counters.
def test_bytes_read_counted(mount):
    m = mount(opts="cow,cache=never,nopassthrough", files=lower_file())
    before = m.branch("ro1")
    with open(m.p("f"), "rb") as f:
        assert f.read() == DATA
    assert delta(before, m.branch("ro1"), "bytes_read") == len(DATA)


def test_bytes_written_counted(mount):
    m = mount(opts="cow,cache=never,nopassthrough")
    before = m.branch("rw1")
    with open(m.p("new"), "wb") as f:
        f.write(DATA)
    after = m.branch("rw1")
    assert delta(before, after, "bytes_written") == len(DATA)
    assert after["bytes_written"] - before["bytes_written"] == os.path.getsize(m.b("rw1", "new"))


def test_copyup_counted_on_the_target_branch(mount):
    m = mount(opts="cow,cache=never", files=lower_file())
    rw0, ro0, s0 = m.branch("rw1"), m.branch("ro1"), m.stats()
    with open(m.p("f"), "r+b") as f:
        f.write(b"X")
    rw1, ro1, s1 = m.branch("rw1"), m.branch("ro1"), m.stats()
    assert os.path.exists(m.b("rw1", "f"))
    assert delta(rw0, rw1, "copyups") == 1
    assert delta(ro0, ro1, "copyups") == 0
    assert delta(s0, s1, "copyups") == 1
    assert delta(s0, s1, "bytes_copied") == len(DATA)


def test_whiteout_counted(mount):
    m = mount(opts="cow,cache=never", files=lower_file())
    before, s0 = m.branch("rw1"), m.stats()
    os.unlink(m.p("f"))
    assert not os.path.exists(m.p("f"))
    after, s1 = m.branch("rw1"), m.stats()
    assert delta(before, after, "whiteouts") == 1
    assert s1["ops"]["unlink"] - s0["ops"]["unlink"] == 1


def test_counters_of_other_branches_stay(mount):
    m = mount([("rw1", "RW"), ("ro1", "RO"), ("ro2", "RO")], opts="cow,cache=never",
              files={"ro2/g": DATA})
    before = m.branch("ro1")
    with open(m.p("g"), "rb") as f:
        f.read()
    after = m.branch("ro1")
    for key in ("lookups", "bytes_read", "bytes_written", "copyups", "whiteouts", "errors"):
        assert after[key] == before[key], key


def test_open_files_counted(mount):
    m = mount(opts="cow,cache=never", files=lower_file())
    before = m.stats()["open_files"]
    with open(m.p("f"), "rb"):
        assert m.stats()["open_files"] == before + 1
    assert m.stats()["open_files"] == before


def test_human_branches_table(mount):
    m = mount(opts="cow,cache=never", files=lower_file())
    lines = m.ok("branches", m.p()).splitlines()
    assert lines[0].split() == ["INDEX", "MODE", "DEVICE", "LOOKUPS", "READ", "WRITTEN",
                                "COPYUPS", "WHITEOUTS", "ERRORS", "PATH"]
    rows = [l.split() for l in lines[1:]]
    assert [(r[0], r[1], r[-1]) for r in rows] == [("0", "rw", m.b("rw1")),
                                                   ("1", "ro", m.b("ro1"))]
    st = os.stat(m.b("ro1"))
    assert rows[1][2] == "%d:%d" % (os.major(st.st_dev), os.minor(st.st_dev))


def test_human_stats_lines(mount):
    m = mount(opts="cow,cache=never", files=lower_file())
    os.stat(m.p("f"))
    values = dict(l.split(" ", 1) for l in m.ok("stats", m.p()).splitlines())
    js = m.stats()
    for key in ("copyups", "bytes_copied", "cache_hits", "nodes"):
        assert key in values
    assert int(values["op_lookup"]) == js["ops"]["lookup"]


@pytest.mark.parametrize("where", ["", "d", "d/f"])
def test_path_anywhere_inside_the_mount(mount, where):
    m = mount(opts="cow,cache=never", files={"ro1/d/f": "x"})
    listed = json.loads(m.ok("branches", "--json", m.p(where)))
    assert [b["path"] for b in listed] == [m.b("rw1"), m.b("ro1")]
