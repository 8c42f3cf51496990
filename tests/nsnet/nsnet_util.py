"""Helpers shared by the nsnet tests (a module of its own, so that test
files never import conftest, whose module name is not unique across tests/)."""
import json
import os
import subprocess

RUN_DIR = "/run/netns"


def _run(argv, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 60)
    return subprocess.run(argv, **kw)


def netns_names(prefix):
    """Sorted /run/netns entries that start with prefix."""
    try:
        return sorted(n for n in os.listdir(RUN_DIR) if n.startswith(prefix))
    except FileNotFoundError:
        return []


def ns_links(ns=None):
    """{ifname: link dict} of `ip -j link` in ns (None = this netns)."""
    argv = ["ip", "-j", "link"] if ns is None else ["ip", "-n", ns, "-j", "link"]
    out = _run(argv, check=True).stdout
    return {link["ifname"]: link for link in json.loads(out or "[]")}


def ns_addrs(ns, ifname):
    """The global "addr/plen" strings of ifname in ns (no link-local)."""
    out = _run(["ip", "-n", ns, "-j", "addr", "show", "dev", ifname], check=True).stdout
    return sorted("%s/%d" % (a["local"], a["prefixlen"])
                  for link in json.loads(out) for a in link.get("addr_info", [])
                  if a.get("scope") != "link")


def netns_mounts(prefix):
    """mountinfo lines for /run/netns itself and our entries, minus mount ids."""
    lines = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            mnt = fields[4]
            if mnt == RUN_DIR or mnt.startswith(os.path.join(RUN_DIR, prefix)):
                lines.append(" ".join(fields[2:]))
    return sorted(lines)
