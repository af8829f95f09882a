#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# `make coverage`: line and branch coverage of userspace under make check's suites.
#
#   scripts/coverage.sh [COV_DIR]     (default build/coverage; COV_SUITES="unit progs e2e")
#
# Builds everything with --coverage in COV_DIR (its own build dir: the normal build is not
# touched), runs test_unit, test_progs and the e2e scenarios against it, and writes
# COV_DIR/html/index.html and one summary line for userspace/lib. The e2e scenarios run some
# binaries as nobody (setpriv) and tunwardend sets its own umask: the .gcda files the suites
# before have written, and their directories, are made writable by everyone before each suite
# (chmod), so every process can merge its counts into them. Suite failures are reported but do
# not stop the report.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
COV=${1:-build/coverage}
SUITES=${COV_SUITES:-unit progs e2e}
[ "${TW_NO_DEPS:-}" = 1 ] || scripts/install-deps.sh --quiet build test quality || exit 1
command -v lcov >/dev/null && command -v genhtml >/dev/null ||
	{ echo "coverage: lcov is missing: scripts/install-deps.sh quality" >&2; exit 1; }

echo "coverage: building in $COV with --coverage"
CFLAGS="-O0 -g --coverage" LDFLAGS="--coverage" nice make -s -j"${JOBS:-2}" TW_NO_DEPS=1 \
	O="$COV" all >/dev/null || { echo "coverage: build failed" >&2; exit 1; }
find "$COV" -name '*.gcda' -delete

# Not umask 000: the daemon refuses state directories others may write.
open_up() { chmod -R a+rwX "$COV" 2>/dev/null; }
rc=0
for s in $SUITES; do
	open_up
	log=$COV/suite-$s.log
	case $s in
	unit) "$COV/selftests/test_unit" >"$log" 2>&1 ;;
	progs) "$COV/selftests/test_progs" >"$log" 2>&1 ;;
	e2e) selftests/e2e/run.sh "$COV" >"$log" 2>&1 ;;
	*) echo "coverage: unknown suite '$s' (unit progs e2e)" >&2; exit 2 ;;
	esac
	src=$?
	echo "coverage: $s: $(tail -n1 "$log")"
	[ "$src" -eq 0 ] || { echo "coverage: suite $s failed, see $log:"; grep '^not ok' "$log"; rc=1; }
done

info=$COV/coverage.info
lib=$COV/userspace-lib.info
lcov -q --rc lcov_branch_coverage=1 --capture --directory "$COV" --base-directory "$top" \
	--output-file "$info.all" 2>"$COV/lcov.log" || { cat "$COV/lcov.log" >&2; exit 1; }
lcov -q --rc lcov_branch_coverage=1 --extract "$info.all" "$top/userspace/*" -o "$info"
lcov -q --rc lcov_branch_coverage=1 --extract "$info" "$top/userspace/lib/*" -o "$lib"
genhtml -q --branch-coverage --legend -o "$COV/html" "$info" >/dev/null
sum() { # lines% branches% of an info file
	lcov --rc lcov_branch_coverage=1 --summary "$1" 2>&1 |
		awk '/lines\.\.\.\.\.\./ { l = $2 } /branches\.\.\./ { b = $2 } END { print l, b }'
}
read -r l b <<<"$(sum "$lib")"
read -r al ab <<<"$(sum "$info")"
echo "coverage: HTML in $COV/html/index.html; per file: lcov --list $lib"
echo "coverage: userspace/lib lines $l branches $b (all userspace: lines $al branches $ab)"
exit $rc
