#!/bin/sh
# The lab, end to end, with the programs built in this tree: a union mount
# (the seed lab), then two network namespaces joined by a veth pair, then
# a process frozen and thawed with the cgroup freezer.  Everything it
# creates is removed again, also when a step fails.
set -u
top=${1:-$(cd "$(dirname "$0")/.." && pwd)}
b=${BUILDDIR:-$top}
unionfs=$b/fs/unionfs
nsnet=$b/tools/nsnet/nsnet
cgfreeze=$b/tools/cgfreeze/cgfreeze

work=$(mktemp -d /tmp/unionfs-demo.XXXXXX)
ticker=
cleanup() {
	[ -n "$ticker" ] && kill "$ticker" 2>/dev/null
	mountpoint -q "$work/union" 2>/dev/null && { fusermount3 -u "$work/union" 2>/dev/null || umount -l "$work/union"; }
	[ -x "$cgfreeze" ] && "$cgfreeze" delete ufsdemo --kill >/dev/null 2>&1
	[ -x "$nsnet" ] && "$nsnet" del --missing-ok ufsdemo1 ufsdemo2 >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { printf '\n\033[1m--- %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

step "1. union filesystem: dir1 (f1 f2) over dir2 (f3 f4)"
cd "$work" || exit 1
mkdir dir1 dir2 union
echo "file one" > dir1/f1; echo "file two" > dir1/f2
echo "file three" > dir2/f3; echo "file four" > dir2/f4
run "$unionfs" -o cow dir1=RW:dir2=RO union || exit 1
run ls -l union
step "writing to a lower file copies it up; deleting one leaves a whiteout"
run sh -c 'echo "changed through the union" >> union/f3'
run cat union/f3
run rm union/f4
run ls union
echo "on disk, dir1 (RW):"; (cd dir1 && find . | sort)
echo "on disk, dir2 (RO, untouched):"; (cd dir2 && find . | sort)
run fusermount3 -u union

if [ -x "$nsnet" ]; then
	step "2. network namespaces ufsdemo1 and ufsdemo2 joined by a veth pair"
	run "$nsnet" connect ufsdemo1:tap1=192.168.1.1/24 ufsdemo2:tap2=192.168.1.2/24 || exit 1
	run "$nsnet" list
	run "$nsnet" ping ufsdemo1 192.168.1.2 -c 3 || exit 1
	run "$nsnet" ns $$
	run "$nsnet" del ufsdemo1 ufsdemo2 || exit 1
fi

if [ -x "$cgfreeze" ]; then
	step "3. freezing a process with the cgroup freezer"
	sh -c 'while :; do echo tick; sleep 0.2; done' > "$work/ticks" &
	ticker=$!
	run "$cgfreeze" create ufsdemo "$ticker" || exit 1
	run "$cgfreeze" freeze ufsdemo || exit 1
	run "$cgfreeze" state ufsdemo
	a=$(wc -l < "$work/ticks"); sleep 1; c=$(wc -l < "$work/ticks")
	echo "ticks while frozen: $a -> $c (no change expected)"
	run "$cgfreeze" thaw ufsdemo || exit 1
	sleep 1; d=$(wc -l < "$work/ticks")
	echo "ticks after thaw: $c -> $d"
	run "$cgfreeze" cgroups "$ticker"
	run "$cgfreeze" delete ufsdemo --kill || exit 1
	ticker=
fi
step "done: everything created by the demo has been removed"
