"""The unionfs-fuse compatible form: unionfsctl [-d on|off] [-p DEBUGFILE]
PATH switches debug output at run time and sends it to a file."""
import os

OPTS = "cow,cache=never"


def size(path):
    return os.path.getsize(path) if os.path.exists(path) else -1


LOWER = {"ro1/%s" % n: "x" for n in "abcdef"}


def activity(m, name):
    """Lookups, a listing and a copy-up (of lower file NAME)."""
    os.path.exists(m.p(name))
    os.listdir(m.p())
    with open(m.p(name), "a") as f:
        f.write("y")


def test_debug_traces_requests(mount):
    m = mount(opts=OPTS, files=LOWER)
    log = m.b("debug.log")
    m.ok("-p", log, m.p())
    start = size(log)
    for _ in range(3):
        os.path.exists(m.p("a"))
        os.listdir(m.p())
    assert size(log) > start


def test_debugfile_receives_debug_output(mount):
    m = mount(opts=OPTS, files=LOWER)
    log = m.b("debug.log")
    assert m.ok("-p", log, m.p()) == "debug output to %s\n" % log
    start = size(log)
    assert start >= 0
    activity(m, "b")
    assert size(log) > start


def test_debug_off_stops_output(mount):
    m = mount(opts=OPTS, files=LOWER)
    log = m.b("debug.log")
    m.ok("-p", log, m.p())
    assert m.ok("-d", "off", m.p()) == "debug output off\n"
    start = size(log)
    activity(m, "a")
    assert size(log) == start


def test_debug_on_resumes_output(mount):
    m = mount(opts=OPTS, files=LOWER)
    log = m.b("debug.log")
    m.ok("-p", log, m.p())
    m.ok("-d", "off", m.p())
    assert m.ok("-d", "on", m.p()) == "debug output on\n"
    start = size(log)
    activity(m, "b")
    assert size(log) > start


def test_options_apply_in_the_order_given(mount):
    m = mount(opts=OPTS, files=LOWER)
    log = m.b("debug.log")
    out = m.ok("-p", log, "-d", "off", m.p())
    assert out == "debug output to %s\ndebug output off\n" % log
    start = size(log)
    activity(m, "b")
    assert size(log) == start


def test_switching_to_a_second_file(mount):
    m = mount(opts=OPTS, files=LOWER)
    first, second = m.b("one.log"), m.b("two.log")
    m.ok("-p", first, m.p())
    m.ok("-p", second, m.p())
    start = size(first), size(second)
    activity(m, "b")
    assert size(first) == start[0]
    assert size(second) > start[1]


def test_relative_debugfile_is_made_absolute(mount):
    m = mount(opts=OPTS)
    cwd = os.getcwd()
    os.chdir(m.base)
    try:
        out = m.ok("-p", "rel.log", m.p())
    finally:
        os.chdir(cwd)
    assert out == "debug output to %s\n" % m.b("rel.log")
    assert os.path.exists(m.b("rel.log"))


def test_debugfile_in_a_missing_directory(mount):
    m = mount(opts=OPTS)
    path = m.b("nodir/debug.log")
    r = m.ctl("-p", path, m.p())
    assert r.returncode == 3
    assert r.stderr == ("unionfsctl: debugfile %s: cannot open %s: No such file or directory\n"
                        % (path, path))


def test_bad_debug_value_sends_nothing(mount):
    m = mount(opts=OPTS)
    log = m.b("debug.log")
    r = m.ctl("-p", log, "-d", "maybe", m.p())
    assert r.returncode == 2
    assert r.stderr.startswith("unionfsctl: invalid -d value 'maybe'")
    assert not os.path.exists(log)


def test_no_option_is_a_usage_error(mount):
    m = mount(opts=OPTS)
    r = m.ctl(m.p())
    assert r.returncode == 2
    assert r.stderr.startswith("unionfsctl: nothing to do")
