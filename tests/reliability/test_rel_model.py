"""Random operation model test.

A seeded generator applies random operations (create, write at offsets,
truncate, rename, link, unlink, mkdir, rmdir, chmod, setxattr, symlink)
both through the union and to a model: a plain directory on the same
filesystem that starts as the merged view of the branches.  After every
step both must agree: the errno of the call, and for every entry its type,
mode, size, contents, link count (files), symlink target and user xattrs,
and every directory listing.

Layouts: one RW branch over two RO branches, and two RW branches.  On a
mismatch the test shrinks the failing sequence (replaying candidates on
fresh branches) and prints the seed and the shortest sequence it found.
`make check` runs a bounded number of operations, `make stress` many more.
"""
import hashlib
import os
import random
import shutil
import stat
import time

import pytest

from relutil import errname, scaled

pytestmark = pytest.mark.fuse

OPS = scaled(700, 20000)
SHRINK_BUDGET = 90.0  # seconds of replays spent shrinking a failure
DIRS = ["", "a", "b", "a/c"]
NAMES = ["f0", "f1", "f2", "a", "b", "c"]
MODES = [0o600, 0o644, 0o640, 0o755, 0o700]
LAYOUTS = {
    "rw-ro-ro": [("rw1", "RW"), ("ro1", "RO"), ("ro2", "RO")],
    "rw-rw": [("rw1", "RW"), ("rw2", "RW")],
}


def data(length, tag):
    block = hashlib.sha256(b"%d" % tag).digest()
    return (block * (length // len(block) + 1))[:length]


# --------------------------------------------------------------------------
# Initial branch contents (from the seed) and the model built from them.

def seed_branches(rng, branches):
    """Fill the branches (list of paths, highest first) and return the
    merged view as {rel: ("dir", mode) | ("file", mode, bytes)}."""
    view = {}
    where = {}
    for d in ["a", "b", "a/c"]:
        parent = os.path.dirname(d)
        cands = [i for i in range(len(branches)) if not parent or i in where[parent]]
        chosen = sorted(rng.sample(cands, rng.randint(1, len(cands))))
        where[d] = chosen
        mode = rng.choice([0o755, 0o750, 0o700])
        for i in chosen:
            os.mkdir(os.path.join(branches[i], d), mode)
            os.chmod(os.path.join(branches[i], d), mode)
        view[d] = ("dir", mode)
    for d in DIRS:
        for name in ("f0", "f1", "f2"):
            if rng.random() < 0.4:
                continue
            rel = os.path.join(d, name)
            cands = where.get(d, list(range(len(branches))))
            holders = sorted(rng.sample(cands, rng.randint(1, min(2, len(cands)))))
            for rank, i in enumerate(holders):
                body = data(rng.randint(0, 9000), rng.randrange(1 << 30))
                mode = rng.choice(MODES)
                path = os.path.join(branches[i], rel)
                with open(path, "wb") as f:
                    f.write(body)
                os.chmod(path, mode)
                if rank == 0:
                    view[rel] = ("file", mode, body)
    return view


def build_model(root, view):
    for rel in sorted(view):
        kind, mode = view[rel][0], view[rel][1]
        path = os.path.join(root, rel)
        if kind == "dir":
            os.mkdir(path)
        else:
            with open(path, "wb") as f:
                f.write(view[rel][2])
        os.chmod(path, mode)


# --------------------------------------------------------------------------
# Operations: plain tuples, so a sequence prints as a reproducer.

def apply(root, op):
    """Apply op under root; "ok" or the errno name."""
    kind, args = op[0], op[1:]

    def p(rel):
        return os.path.join(root, rel)
    try:
        if kind == "create":
            fd = os.open(p(args[0]), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                os.write(fd, data(args[1], args[2]))
            finally:
                os.close(fd)
        elif kind == "write":
            fd = os.open(p(args[0]), os.O_WRONLY)
            try:
                os.pwrite(fd, data(args[2], args[3]), args[1])
            finally:
                os.close(fd)
        elif kind == "truncate":
            os.truncate(p(args[0]), args[1])
        elif kind == "rename":
            os.rename(p(args[0]), p(args[1]))
        elif kind == "link":
            os.link(p(args[0]), p(args[1]), follow_symlinks=False)
        elif kind == "unlink":
            os.unlink(p(args[0]))
        elif kind == "mkdir":
            os.mkdir(p(args[0]), 0o755)
        elif kind == "rmdir":
            os.rmdir(p(args[0]))
        elif kind == "chmod":
            os.chmod(p(args[0]), args[1])
        elif kind == "setxattr":
            os.setxattr(p(args[0]), args[1], args[2], follow_symlinks=False)
        elif kind == "symlink":
            os.symlink(args[1], p(args[0]))
        else:
            raise ValueError(kind)
    except OSError as e:
        return errname(e.errno)
    return "ok"


def snapshot(root, hide_meta):
    """{rel: observable state}; includes every directory's sorted listing."""
    snap = {}
    for dirpath, dirnames, filenames in os.walk(root):
        if hide_meta and dirpath == root:
            assert ".unionfs" not in dirnames, "meta directory listed with hide_meta_files"
        rel_dir = os.path.relpath(dirpath, root)
        snap[("listing", rel_dir)] = sorted(dirnames + filenames)
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            rel = os.path.normpath(os.path.join(rel_dir, name))
            st = os.lstat(path)
            entry = {"type": stat.S_IFMT(st.st_mode), "mode": stat.S_IMODE(st.st_mode)}
            if stat.S_ISREG(st.st_mode):
                entry["size"] = st.st_size
                entry["nlink"] = st.st_nlink
                with open(path, "rb") as f:
                    entry["sha"] = hashlib.sha1(f.read()).hexdigest()
            elif stat.S_ISLNK(st.st_mode):
                entry["target"] = os.readlink(path)
            if not stat.S_ISLNK(st.st_mode):
                entry["xattrs"] = sorted(
                    (x, os.getxattr(path, x, follow_symlinks=False))
                    for x in os.listxattr(path, follow_symlinks=False)
                    if x.startswith("user."))
            snap[rel] = entry
    return snap


def diff(model, union):
    out = []
    for key in sorted(set(model) | set(union), key=str):
        if model.get(key) != union.get(key):
            out.append("%s: model %s, union %s" % (key, model.get(key), union.get(key)))
    return out


def existing(root):
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            out.append(os.path.relpath(os.path.join(dirpath, name), root))
    return out


def gen_op(rng, model_root):
    live = existing(model_root)

    def pick():
        if live and rng.random() < 0.7:
            return rng.choice(live)
        return os.path.join(rng.choice(DIRS), rng.choice(NAMES))
    kind = rng.choices(["create", "write", "truncate", "rename", "link", "unlink", "mkdir",
                        "rmdir", "chmod", "setxattr", "symlink"],
                       [14, 16, 8, 12, 6, 10, 7, 6, 6, 8, 3])[0]
    tag = rng.randrange(1 << 30)
    if kind == "create":
        return (kind, os.path.join(rng.choice(DIRS), rng.choice(NAMES)),
                rng.randint(0, 6000), tag)
    if kind == "write":
        return (kind, pick(), rng.randint(0, 14000), rng.randint(1, 5000), tag)
    if kind == "truncate":
        return (kind, pick(), rng.randint(0, 16000))
    if kind in ("rename", "link"):
        return (kind, pick(), os.path.join(rng.choice(DIRS), rng.choice(NAMES)))
    if kind == "mkdir":
        return (kind, os.path.join(rng.choice(DIRS), rng.choice(NAMES)))
    if kind == "chmod":
        return (kind, pick(), rng.choice(MODES))
    if kind == "setxattr":
        return (kind, pick(), "user.k%d" % rng.randint(0, 2), b"v%d" % rng.randint(0, 99))
    if kind == "symlink":
        return (kind, os.path.join(rng.choice(DIRS), rng.choice(NAMES)), rng.choice(NAMES))
    return (kind, pick())


# --------------------------------------------------------------------------
# One run: fresh branches, fresh model, the ops; the first mismatch.

class Runner:
    def __init__(self, mount_union, workdir, layout, seed):
        self.mount_union = mount_union
        self.workdir = workdir
        self.layout = layout
        self.seed = seed
        self.runs = 0

    def run(self, ops, check_every_step=True, generate=0):
        """Apply ops (or generate `generate` new ones); returns
        (index of the failing op or None, message, ops applied)."""
        k = self.runs
        self.runs += 1
        spec = [("r%d-%s" % (k, n), mode) for n, mode in LAYOUTS[self.layout]]
        u = self.mount_union(spec, opts="cow,hide_meta_files", start=False, mnt="mnt%d" % k)
        rng = random.Random(self.seed)
        view = seed_branches(rng, [u.b[n] for n, _ in spec])
        model = os.path.join(self.workdir, "model%d" % k)
        os.mkdir(model)
        build_model(model, view)
        u.start()
        try:
            return self._steps(u, model, rng, ops, check_every_step, generate)
        finally:
            u.unmount()
            shutil.rmtree(model, ignore_errors=True)

    def _steps(self, u, model, rng, ops, check_every_step, generate):
        ops = list(ops)
        first = diff(snapshot(model, False), snapshot(u.m(), True))
        if first:
            return -1, "initial views differ:\n  " + "\n  ".join(first[:20]), []
        n = generate or len(ops)
        for i in range(n):
            if generate:
                ops.append(gen_op(rng, model))
            op = ops[i]
            want, got = apply(model, op), apply(u.m(), op)
            if want != got:
                return i, "%r: model %s, union %s" % (op, want, got), ops[:i + 1]
            if check_every_step or i == n - 1:
                d = diff(snapshot(model, False), snapshot(u.m(), True))
                if d:
                    return i, "after %r:\n  %s" % (op, "\n  ".join(d[:20])), ops[:i + 1]
        return None, "", ops

    def shrink(self, ops):
        """Greedy chunk removal while the sequence still fails."""
        deadline = time.monotonic() + SHRINK_BUDGET
        chunk = max(1, len(ops) // 2)
        while chunk >= 1 and time.monotonic() < deadline:
            i = 0
            while i < len(ops) and time.monotonic() < deadline:
                cand = ops[:i] + ops[i + chunk:]
                idx, _msg, _ = self.run(cand, check_every_step=False)
                if idx is not None and idx >= 0:
                    ops = cand
                else:
                    i += chunk
            chunk //= 2
        idx, msg, _ = self.run(ops, check_every_step=True)
        return ops, msg


@pytest.mark.parametrize("layout", ["rw-ro-ro", "rw-rw"])
def test_random_operations_match_model(mount_union, workdir, seed, layout):
    runner = Runner(mount_union, workdir, layout, seed)
    idx, msg, ops = runner.run([], generate=OPS)
    if idx is None:
        return
    if idx < 0:
        pytest.fail("seed %d, layout %s: %s" % (seed, layout, msg))
    shrunk, shrunk_msg = runner.shrink(ops)
    pytest.fail("seed %d, layout %s: op #%d of the run differs: %s\n"
                "shortest reproducing sequence found (%d ops, same seed for the branches):\n"
                "  %s\nits mismatch: %s"
                % (seed, layout, idx, msg, len(shrunk),
                   "\n  ".join(repr(o) for o in shrunk), shrunk_msg))


@pytest.mark.valgrind
def test_short_model_run(mount_union, workdir, seed):
    """The model test in small: the valgrind subset runs this one."""
    runner = Runner(mount_union, workdir, "rw-rw", seed)
    idx, msg, ops = runner.run([], generate=scaled(120, 1000))
    assert idx is None, "seed %d: %s\n  %s" % (seed, msg, "\n  ".join(map(repr, ops)))
