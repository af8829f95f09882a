#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Default vmtest command: the BPF program tests, then the end-to-end suite when it exists.
# Both always run; the exit code is the first failing suite's, so one suite's failure does not
# hide the other's results.
# Usage: scripts/vmtest/suites.sh [BUILD_DIR]
set -u
O=${1:-build}
rc=0
# Under TCG everything runs 5-7x slower than on the host (and the 6.1 verifier is slower
# still): give each e2e scenario more than run.sh's host default of 120 s.
export TW_E2E_TIMEOUT=${TW_E2E_TIMEOUT:-900}

run() { # run LABEL COMMAND...
	local label=$1 r=0
	shift
	echo "vmtest-suites: === $label: $* ==="
	"$@" || r=$?
	echo "vmtest-suites: === $label: exit $r ==="
	[ $rc -ne 0 ] || rc=$r
}

if [ -x "$O/selftests/test_progs" ]; then
	run test_progs "$O/selftests/test_progs"
else
	echo "vmtest-suites: $O/selftests/test_progs missing: run make first"
	rc=1
fi

# The scenarios in the VMs: TW_VM_E2E (names; empty or "all": every scenario, so a scenario added
# to selftests/e2e joins the VM suites by default). The controller scenarios race OpenVPN's own
# wall-clock timers; TW_E2E_SLACK (8 here: a TCG guest runs 5-7x slower than the host) stretches
# every wait bound of selftests/e2e/lib.sh and the sandbox scenario's confirmation deadline.
export TW_E2E_SLACK=${TW_E2E_SLACK:-8}
if [ -f selftests/e2e/run.sh ]; then
	e2e=${TW_VM_E2E:-all}
	[ "$e2e" = all ] && e2e=
	# shellcheck disable=SC2086 # a list of names
	run e2e bash selftests/e2e/run.sh "$O" $e2e
else
	echo "vmtest-suites: selftests/e2e/run.sh not present, e2e suite not run"
fi

exit $rc
