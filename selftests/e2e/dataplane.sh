#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Dataplane end-to-end test: real tun and veth devices in network namespaces
# created by the C driver, tw_tun_in/out attached through libtw (tcx and
# cls_bpf), real UDP/TCP/ICMP traffic, counters checked against what the
# receivers got. The driver prints TAP and the closing
# "N passed, N failed, N skipped" line; its exit status is ours.
#   usage: selftests/e2e/dataplane.sh [BUILD_DIR] [-v] [-t dataplane/SUBTEST]
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
O=${TW_BUILD_DIR:-build}
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
	O=$1
	shift
fi
case $O in /*) ;; *) O=$top/$O ;; esac
bin=$O/selftests/e2e/dataplane
if [ ! -x "$bin" ]; then
	echo "TAP version 13"
	echo "not ok 1 - dataplane # driver $bin not built (make $O/selftests/e2e/dataplane)"
	echo "1..1"
	echo "0 passed, 1 failed, 0 skipped"
	exit 1
fi
# bound the whole run even if the driver's own watchdog were defeated
# inside run.sh's own bound (TW_E2E_TIMEOUT, longer in a VM), with room to clean up
t=$((${TW_E2E_TIMEOUT:-155} - 5))
exec timeout -k 5 "$t" "$bin" "$@"
