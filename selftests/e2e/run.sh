#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# run.sh BUILD_DIR [SCENARIO...] - run the end-to-end scenarios (default: every
# selftests/e2e/*.sh but lib.sh and run.sh), each under a timeout, as TAP subtests, and close with
# the aggregate "N passed, N failed, N skipped". Exit status: non-zero when anything failed.
#
# Each scenario gets its own namespace prefix (tw-RUNPID-INDEX-); whatever a scenario leaves behind
# under it (it should leave nothing) is swept, and reported as a failure if the scenario had
# exited on its own. TW_E2E_TIMEOUT (seconds, default 120) bounds each scenario.
set -uo pipefail

[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR [SCENARIO...]" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
TW_BUILD_DIR=$(cd "$1" 2>/dev/null && pwd) || { echo "run.sh: no build dir '$1'" >&2; exit 2; }
export TW_BUILD_DIR
shift
timeout_s=${TW_E2E_TIMEOUT:-120}

scenarios=()
if [ $# -gt 0 ]; then
	for s in "$@"; do
		[ -f "$s" ] || s=$here/${s%.sh}.sh
		scenarios+=("$s")
	done
else
	for s in "$here"/*.sh; do
		case ${s##*/} in lib.sh | run.sh) continue ;; esac
		scenarios+=("$s")
	done
fi

passed=0
failed=0
skipped=0
num=0
child=
prefix=
out=

# sweep PREFIX: kill what still runs in our namespaces and delete them; prints what it removed.
sweep() {
	local ns pids
	[ "$(id -u)" -eq 0 ] || return 0
	for ns in $(ip netns list 2>/dev/null | awk '{ print $1 }'); do
		[[ $ns == "$1"* ]] || continue
		pids=$(ip netns pids "$ns" 2>/dev/null)
		[ -z "$pids" ] || kill -KILL $pids 2>/dev/null
		ip netns del "$ns" 2>/dev/null
		echo "$ns"
	done
}

on_signal() {
	[ -z "$child" ] || kill -TERM "$child" 2>/dev/null
	[ -z "$child" ] || wait "$child" 2>/dev/null
	[ -z "$prefix" ] || sweep "$prefix" >/dev/null
	if [ -n "$out" ] && [ -f "$out" ]; then
		sed 's/^/    /' "$out"
		rm -f "$out"
	fi
	echo "# interrupted"
	printf '%d passed, %d failed, %d skipped\n' "$passed" "$((failed + 1))" "$skipped"
	exit 130
}
trap on_signal INT TERM HUP

echo "TAP version 13"
echo "# e2e: ${#scenarios[@]} scenario(s), build dir $TW_BUILD_DIR, timeout ${timeout_s}s each"
for s in "${scenarios[@]}"; do
	num=$((num + 1))
	name=$(basename "$s" .sh)
	prefix=tw-$$-$num-
	out=$(mktemp)
	start=$EPOCHREALTIME
	# timeout signals the scenario's whole process group; the scenario's trap cleans up.
	TW_E2E_PREFIX=$prefix timeout -k 10 "$timeout_s" bash "$s" >"$out" 2>&1 &
	child=$!
	wait "$child"
	rc=$?
	child=
	secs=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
	sed 's/^/    /' "$out"

	skipnote=$(grep -m1 -oE '# SKIP .*' "$out")
	summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$out" | tail -n 1)
	rm -f "$out"
	p=0 f=0 k=0
	[ -z "$summary" ] || read -r p _ f _ k _ <<<"${summary//,/}"
	note=
	if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
		note="timed out after ${timeout_s}s"
		[ "$f" -gt 0 ] || f=1
	elif [ -z "$summary" ]; then
		note="no summary line (exit status $rc)"
		f=$((f + 1))
	elif [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
		note="exit status $rc with no failed check"
		f=$((f + 1))
	fi
	left=$(sweep "$prefix")
	if [ -n "$left" ]; then
		echo "    # swept leftover namespaces: $(echo $left)"
		if [ -z "$note" ]; then
			note="left namespaces behind"
			f=$((f + 1))
		fi
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + k))
	if [ "$f" -gt 0 ]; then
		echo "not ok $num - $name${note:+ # $note} (${secs}s)"
	elif [ "$p" -eq 0 ] && [ "$k" -gt 0 ]; then
		echo "ok $num - $name ${skipnote:-# SKIP} (${secs}s)"
	else
		echo "ok $num - $name (${secs}s)"
	fi
done
prefix=
echo "1..$num"
printf '%d passed, %d failed, %d skipped\n' "$passed" "$failed" "$skipped"
[ "$failed" -eq 0 ]
