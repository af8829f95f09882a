#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# `make bench`: dataplane figures (not pass/fail); method and a measured table
# are in docs/performance.md.
#   usage: scripts/bench/run.sh [BUILD_DIR] [twbench options...]
# With no options: the full run (100k clients, 10k rules, PROG_TEST_RUN table
# with a perf profile of the allowed path, tun write path over 24 interleaved
# rounds of 0.25 s with 1024 flows), then the tun path again with one flow (hot
# caches) and with 1400-byte packets; the controller's connect path and
# journal; last the portal link (scripts/bench/portal.sh, which prints SKIP
# when this build has no portal link).
# Output is also saved to BUILD_DIR/bench/results-<UTC time>.txt.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
O=${1:-build}
[ $# -gt 0 ] && shift
case $O in /*) ;; *) O=$top/$O ;; esac
bin=$O/bench/twbench

if [ "$(id -u)" -ne 0 ]; then
	echo "bench: needs root (BPF programs, network namespaces)" >&2
	exit 1
fi
if [ ! -x "$bin" ]; then
	echo "bench: $bin not built (make $O/bench/twbench)" >&2
	exit 1
fi
if ! mountpoint -q /sys/fs/bpf; then
	mount -t bpf bpf /sys/fs/bpf
fi
command -v nft >/dev/null || echo "bench: nft not installed: the nftables rows will fail" >&2

mkdir -p "$O/bench"
out=$O/bench/results-$(date -u +%Y%m%dT%H%M%SZ).txt
set +e
{
	set -e
	echo "# tunwarden bench, $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "# kernel $(uname -r), $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
	echo "# load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)" \
		"(other work on the machine makes wall-clock figures noisy)"
	if [ $# -gt 0 ]; then
		"$bin" "$@"
	else
		perf_opt=()
		if command -v perf >/dev/null && perf stat -e cpu-clock true >/dev/null 2>&1; then
			perf_opt=(-P 4)
		fi
		# short rounds, many of them: the paired (per-round) ratios cancel the
		# machine's drift between rounds
		"$bin" "${perf_opt[@]}" -r 24 -d 250
		echo
		echo "# the tun path again with a single flow: caches hot, per-packet work only"
		"$bin" -X -f 1 -r 24 -d 250
		echo
		echo "# and with 1400-byte packets (bulk traffic), 1024 flows, without nftables"
		"$bin" -X -N -s 1400 -r 24 -d 250
		echo
		echo "# the controller: connect path with 100k clients loaded (decision, dataplane"
		echo "# install, durable journal record), then the journal's append rate"
		"$O/bench/connect_bench"
		echo
		"$O/bench/journal_bench"
		echo
		echo "# the portal link: journal -> portal over TLS, portal policy -> node"
		"$top/scripts/bench/portal.sh" "$O"
	fi
	echo "# load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)"
} 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
echo "bench: results saved to $out"
exit "$rc"
