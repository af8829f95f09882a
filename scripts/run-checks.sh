#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# `make check`: every suite in turn (BPF program tests, unit tests, end-to-end
# scenarios), each printing TAP and its own summary; then one closing line
# over all of them. Exit non-zero if anything failed.
set -u
O=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

pass=0 fail=0 skip=0 suites_failed=()

run_suite() {
	local name=$1; shift
	local log
	log=$(mktemp)
	echo "=== $name: $*"
	"$@" 2>&1 | tee "$log"
	local rc=${PIPESTATUS[0]}
	local line
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$log" | tail -n1)
	if [ -n "$line" ]; then
		read -r p _ f _ s _ <<<"$line"
		pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
	fi
	if [ "$rc" -ne 0 ] || [ -z "$line" ]; then
		suites_failed+=("$name(rc=$rc)")
		[ -n "$line" ] || fail=$((fail + 1))
	fi
	rm -f "$log"
}

run_suite test_progs "$O/selftests/test_progs"
run_suite test_unit "$O/selftests/test_unit"
if [ -x selftests/portal/run.sh ]; then
	run_suite portal selftests/portal/run.sh "$O"
fi
if [ -x selftests/e2e/run.sh ]; then
	run_suite e2e selftests/e2e/run.sh "$O"
fi

echo "=== summary"
if [ ${#suites_failed[@]} -gt 0 ]; then
	echo "failed suites: ${suites_failed[*]}"
fi
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ] && [ ${#suites_failed[@]} -eq 0 ]
