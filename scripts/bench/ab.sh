#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The PROG_TEST_RUN figures of this tree against another revision's, measured alternately in one
# run: this machine's speed drifts by up to 2x from minute to minute, so two designs are compared
# only when they take turns. REV is built in a throwaway git worktree (its own build dir); each
# round runs twbench -T (PROG_TEST_RUN only) of REV, then of this tree, and the per-path medians
# of "over empty" are printed side by side with their ratio.
#
# Usage (root): scripts/bench/ab.sh REV [ROUNDS] [BUILD_DIR]      e.g. scripts/bench/ab.sh 788b228 4
set -euo pipefail
cd "$(dirname "$0")/../.."
rev=${1:?usage: $0 REV [ROUNDS] [BUILD_DIR]}
rounds=${2:-4}
O=${3:-build}
[ "$(id -u)" -eq 0 ] || {
	echo "ab.sh: needs root (BPF_PROG_TEST_RUN, map creation)" >&2
	exit 1
}
wt=$(mktemp -d /tmp/tw-ab.XXXXXX)
cleanup() { git worktree remove --force "$wt" >/dev/null 2>&1 || rm -rf "$wt"; }
trap cleanup EXIT
git worktree add -q --detach "$wt" "$rev"
echo "ab.sh: building $rev in $wt"
make -C "$wt" -j2 build/bench/twbench >"$wt/build.log" 2>&1 || {
	tail -20 "$wt/build.log"
	exit 1
}
make -j2 "$O/bench/twbench" >/dev/null
out=$(mktemp)
for ((r = 1; r <= rounds; r++)); do
	for side in old new; do
		bin=$O/bench/twbench
		[ $side = old ] && bin=$wt/build/bench/twbench
		# the path rows: "  NAME...  ns/pkt  over-empty ..."; NAME is everything before the numbers
		"$bin" -T 2>/dev/null | sed -n '/ns\/pkt/,/unknown client/p' | grep -v -e ns/pkt -e 'empty tc' |
			sed -E "s/^ +//; s/ {2,}/|/" | awk -F'|' -v s=$side '{split($2, f, " +"); print s "|" $1 "|" f[2]}' >>"$out"
	done
	echo "ab.sh: round $r of $rounds done"
done
echo
echo "PROG_TEST_RUN, ns over the empty program, median of $rounds alternating rounds"
printf '  %-28s %10s %10s %8s\n' path "$rev" "this tree" ratio
python3 - "$out" <<'EOF'
import statistics, sys
d = {}
order = []
for line in open(sys.argv[1]):
    side, name, v = line.rstrip("\n").split("|")
    if name not in order:
        order.append(name)
    d.setdefault((side, name), []).append(float(v))
for name in order:
    o = statistics.median(d.get(("old", name), [float("nan")]))
    n = statistics.median(d.get(("new", name), [float("nan")]))
    print(f"  {name:<28} {o:10.0f} {n:10.0f} {n / o if o else float('nan'):8.2f}")
EOF
rm -f "$out"
