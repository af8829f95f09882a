#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The portal link's figures for `make bench` (issue 14, section 5): figures, not pass/fail; the
# method and a measured table are in docs/performance.md, "The portal link".
#   usage: scripts/bench/portal.sh [BUILD_DIR]
# Environment (defaults in brackets):
#   TW_BENCH_RECORDS  records in the node's journal for the drain runs [600000: a one-hour
#                     backlog of 10k clients at a 60 s interim]
#   TW_BENCH_ROUNDS   rounds of (baseline, plain, gzip), interleaved [2]
#   TW_BENCH_CHANGES  portal changes timed to the node [50]
#   TW_BENCH_SUBJECTS snapshot sizes, applied in this order [100000; add 1000000 if you have
#                     the time and disk: ~1 min of store writes]
#   TW_BENCH_SHORT_SUBJECTS  set: the shortest subjects ("u<i>", no tenant, ~63 bytes), so that
#                     1M fit in the node's 64 MiB bundle limit [unset: ~100-byte subjects]
#   TW_BENCH_DIR      scratch directory on the disk to measure [/var/tmp]
# Runs the real tunwarden-portal (TLS on 127.0.0.1, a throwaway PKI from selftests/portal/pki.sh)
# and the real tunwardend (a private pin root, state dir and socket, no interfaces) with a
# [portal] section pointed at it. Loopback only.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
O=${1:-build}
case $O in /*) ;; *) O=$top/$O ;; esac
B=$O/bench/portal_bench
NREC=${TW_BENCH_RECORDS:-600000}
ROUNDS=${TW_BENCH_ROUNDS:-2}
NCHG=${TW_BENCH_CHANGES:-50}
SIZES=${TW_BENCH_SUBJECTS:-100000}
NODE=bench-node

skip() {
	echo "portal bench: SKIP: $*"
	exit 0
}
[ "$(id -u)" -eq 0 ] || skip "needs root (tunwardend loads BPF)"
for f in "$B" "$O/tunwardend" "$O/tunwarden-portal"; do
	[ -x "$f" ] || skip "$f not built"
done
for t in openssl sqlite3 ss; do
	command -v $t >/dev/null || skip "$t not installed"
done
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

dir=$(mktemp -d "${TW_BENCH_DIR:-/var/tmp}/tw-bench-portal.XXXXXX")
pin=/sys/fs/bpf/tw-bench-portal-$$
ppid='' dpid=''
stop() { # PID: TERM, then KILL after 10 s
	[ -n "$1" ] || return 0
	kill -CONT "$1" 2>/dev/null || true
	kill -TERM "$1" 2>/dev/null || return 0
	for _ in $(seq 100); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}
cleanup() {
	stop "$dpid"
	stop "$ppid"
	pkill -P $$ 2>/dev/null || true # a portal_bench still waiting
	rm -rf "$pin" "$dir"
}
trap cleanup EXIT
trap 'exit 1' TERM INT
port=$((20000 + $$ % 20000))

"$top/selftests/portal/pki.sh" "$dir/pki" "$NODE" >"$dir/pki.log" 2>&1 ||
	skip "selftests/portal/pki.sh failed: $(tail -n 2 "$dir/pki.log")"

# portal_conf NAME: a portal config with its own record store; prints the path
portal_conf() {
	cat >"$dir/$1.conf" <<-EOF
	[server]
	listen = 127.0.0.1:$port
	cert = $dir/pki/server.pem
	key = $dir/pki/server.key
	client_ca = $dir/pki/ca.pem
	[store]
	database = $dir/$1-records.db
	policy_database = $dir/policy.db
	EOF
	"$O/tunwarden-portal" -c "$dir/$1.conf" node add "$NODE" >/dev/null
	echo "$dir/$1.conf"
}

portal_start() { # CONF
	"$O/tunwarden-portal" -c "$1" serve >>"$dir/portal.log" 2>&1 &
	ppid=$!
	for _ in $(seq 100); do
		ss -Hltn "sport = :$port" | grep -q LISTEN && return 0
		kill -0 "$ppid" 2>/dev/null || break
		sleep 0.05
	done
	echo "portal bench: the portal did not start: $(tail -n 3 "$dir/portal.log")" >&2
	return 1
}

# node_start STATE_DIR GZIP: tunwardend with a [portal] section and no interfaces
node_start() {
	mkdir -p "$1" "$dir/run"
	chmod 700 "$1"
	cat >"$dir/node.conf" <<-EOF
	[node]
	id = $NODE
	state_dir = $1
	run_dir = $dir/run
	socket = $dir/run/ctl.sock
	pin_root = $pin
	log_level = info
	[accounting]
	journal_max_size = 64G
	[portal]
	url = https://127.0.0.1:$port/
	server_name = localhost
	ca = $dir/pki/ca.pem
	cert = $dir/pki/$NODE.pem
	key = $dir/pki/$NODE.key
	gzip = $2
	connect_timeout = 120s
	EOF
	rm -f "$dir/run/ctl.sock"
	"$O/tunwardend" -c "$dir/node.conf" </dev/null >>"$dir/node.log" 2>&1 &
	dpid=$!
	for _ in $(seq 300); do
		[ -S "$dir/run/ctl.sock" ] &&
			TUNWARDEN_SOCKET=$dir/run/ctl.sock "$O/tunwarden" status >/dev/null 2>&1 &&
			return 0
		kill -0 "$dpid" 2>/dev/null || break
		sleep 0.1
	done
	echo "portal bench: tunwardend did not come up: $(tail -n 5 "$dir/node.log")" >&2
	return 1
}

node_stop() {
	stop "$dpid"
	dpid=
	rm -rf "$pin"
}
portal_stop() {
	stop "$ppid"
	ppid=
}

printf '[node]\nid = %s\n[portal]\nurl = https://127.0.0.1:1/\ncert = %s\nkey = %s\n' "$NODE" \
	"$dir/pki/$NODE.pem" "$dir/pki/$NODE.key" >"$dir/check.conf"
"$O/tunwardend" -c "$dir/check.conf" --check-config >"$dir/check.log" 2>&1 ||
	skip "this tunwardend has no portal link: $(head -n 1 "$dir/check.log")"

echo "# portal link: $NREC records ($((NREC / 10000)) interims of 10k clients), $ROUNDS rounds;" \
	"$NCHG policy changes; snapshots of $SIZES subjects; scratch $dir"
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# ---- 1 and 2: journal -> portal, against a plain SQLite insert of the same rows
read -r last bytes logid < <("$B" fill "$dir/journal.db" "$NODE" "$NREC" 10000) || true
if [ -z "${logid:-}" ]; then
	echo "portal bench: could not fill the journal" >&2
	exit 1
fi
echo "# journal: $last records, $((bytes / 1000000)) MB"
res=$dir/results
: >"$res"
drain() { # TAG GZIP ROUND
	local st=$dir/node-$1-$3 conf
	mkdir -p "$st"
	chmod 700 "$st"
	cp "$dir/journal.db" "$st/journal.db"
	conf=$(portal_conf "$1-$3")
	portal_start "$conf"
	kill -STOP "$ppid" # the node connects and waits in the TLS handshake
	node_start "$st" "$2"
	# drain: SIGCONT the portal, time until it holds everything and the node has the ack
	"$B" drain "$dir/run/ctl.sock" "$dir/$1-$3-records.db" "$NODE" "$logid" "$last" "$dpid" \
		"$ppid" 600 | sed "s/^/$1 /" >>"$res" ||
		echo "portal bench: $1 round $3 failed; node: $(tail -n 3 "$dir/node.log");" \
			"portal: $(tail -n 3 "$dir/portal.log")" >&2
	node_stop
	portal_stop
	rows=$(sqlite3 "$dir/$1-$3-records.db" "SELECT count(*) FROM records WHERE node='$NODE'")
	[ "$rows" -ge "$last" ] ||
		echo "portal bench: $1 round $3: the portal holds $rows rows, not $last" >&2
	rm -rf "$st" "$dir/$1-$3-records.db"*
}
for r in $(seq "$ROUNDS"); do
	"$B" baseline "$dir/journal.db" "$dir/baseline.db" | sed 's/^/base /' >>"$res" ||
		echo "portal bench: baseline round $r failed" >&2
	rm -f "$dir/baseline.db"*
	drain plain no "$r"
	drain gzip yes "$r"
	echo "# round $r done: $(grep -c _rate "$res") rate figures so far" >&2
done

# ---- 3 and 4: policy changes at the portal -> the node
conf=$(portal_conf policy)
"$O/tunwarden-portal" -c "$conf" tenant add acme >/dev/null
"$O/tunwarden-portal" -c "$conf" profile add staff --allow 10.0.0.0/8,tcp,443 >/dev/null
"$O/tunwarden-portal" -c "$conf" subject add cn:bench-toggle --tenant acme --profile staff \
	>/dev/null
portal_start "$conf"
node_start "$dir/node-policy" no
"$B" waitpolicy "$dir/run/ctl.sock" "$dir/policy.db" || echo "portal bench: no first policy" >&2
rss0=$(awk '/^VmRSS/ { print $2 * 1024 }' "/proc/$dpid/status")
"$B" polchange "$dir/run/ctl.sock" "$O/tunwarden-portal" "$conf" "$dir/policy.db" "$NCHG" \
	bench-toggle >>"$res" || echo "portal bench: policy changes failed" >&2
for n in $SIZES; do
	"$B" policy "$dir/run/ctl.sock" "$dir/policy.db" "$dpid" "$n" 1000 "$rss0" |
		sed "s/^/s$n /" >>"$res" ||
		echo "portal bench: $n-subject snapshot failed: $(tail -n 3 "$dir/node.log")" >&2
done
node_stop
portal_stop
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

# ---- the table
python3 - "$res" "$SIZES" "$last" "${TW_BENCH_SHORT_SUBJECTS:+ (short subjects)}" <<'EOF'
import statistics, sys
vals = {}
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) == 4:
        vals.setdefault((f[0], f[1]), []).append(float(f[2]))
    elif len(f) == 3:
        vals.setdefault(("", f[0]), []).append(float(f[1]))
def med(tag, name):
    v = vals.get((tag, name))
    return statistics.median(v) if v else None
def fmt(x, spec):
    return "n/a" if x is None else format(x, spec)
def all_(tag, name, spec):
    v = vals.get((tag, name))
    return " ".join(format(x, spec) for x in v) if v else "n/a"
print()
print("| figure (median of the rounds; each round in brackets) | measured | target |")
print("|---|---:|---|")
base = med("base", "baseline_rate")
for tag, label, target in (("plain", "", "≥ 300k/s"), ("gzip", ", gzip", "≥ 150k/s")):
    rate = med(tag, "drain_rate")
    print(f"| journal → portal, records/s{label} [{all_(tag, 'drain_rate', '.0f')}] | {fmt(rate, ',.0f')} | {target} |")
    pr = [a / b for a, b in zip(vals.get((tag, "drain_rate"), []), vals.get(("base", "baseline_rate"), []))]
    print(f"| … / plain SQLite insert of the same rows{label}, paired by round [{' '.join(format(x, '.2f') for x in pr) or 'n/a'}] | {fmt(statistics.median(pr) if pr else None, '.2f')} | – |")
    print(f"| … CPU per record{label}: node / portal, µs | {fmt(med(tag, 'drain_node_cpu_us'), '.1f')} / {fmt(med(tag, 'drain_portal_cpu_us'), '.1f')} | – |")
    print(f"| backlog of {int(sys.argv[3]):,} records drained{label}, s [{all_(tag, 'drain_s', '.2f')}] (first record stored after {fmt(med(tag, 'drain_first_s'), '.3f')} s) | {fmt(med(tag, 'drain_s'), '.2f')} | ≤ 3 s |")
print(f"| baseline: plain SQLite insert, one transaction, records/s [{all_('base', 'baseline_rate', '.0f')}] | {fmt(base, ',.0f')} | – |")
print(f"| baseline CPU per record, µs | {fmt(med('base', 'baseline_cpu_us'), '.1f')} | – |")
print(f"| one `status` request to the node with that backlog, ms | {fmt(med('plain', 'drain_status_ms'), '.0f')} | – |")
print(f"| portal change → node, median of {fmt(med('', 'change_n'), '.0f')} (p90), ms | {fmt(med('', 'change_median_ms'), '.1f')} ({fmt(med('', 'change_p90_ms'), '.1f')}) | ≤ 50 ms |")
print(f"| portal change → node, worst, ms | {fmt(med('', 'change_worst_ms'), '.1f')} | ≤ 1000 ms |")
print(f"| … the admin command itself (median), ms; changes in force before it exited | {fmt(med('', 'change_cmd_median_ms'), '.1f')}; {fmt(med('', 'change_before_exit'), '.0f')} | – |")
for n in sys.argv[2].split():
    t = "s" + n
    print(f"| {int(n):,}-subject snapshot{sys.argv[4]}: commit → node runs it, s | {fmt(med(t, 'snapshot_s'), '.2f')} | ≤ 2 s (1M) |")
    print(f"| … daemon RSS after, MB; per subject over the start, B | {fmt(med(t, 'snapshot_rss_mb'), '.0f')}; {fmt(med(t, 'snapshot_rss_per_subject'), '.0f')} | ≤ 256 B |")
    print(f"| 1000-change delta on {int(n):,} subjects (disable; enable), ms | {fmt(med(t, 'delta1_ms'), '.1f')}; {fmt(med(t, 'delta2_ms'), '.1f')} | ≤ 10 ms |")
EOF
