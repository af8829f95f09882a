#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The record stream against faults a correct portal cannot produce on demand, played by a
# HOSTILE-PEER DOUBLE (portal_double.py, python3-h2, h2c on the server namespace's loopback; the
# real portal's scenario is portal_records.sh). docs/protocol.md 4.2, 4.5, 4.7, 6.1:
#  - normal: records flow, acks trim the journal, status shows the link;
#  - garbage ack lines and acks beyond the last seq sent: the stream is reset, nothing trimmed;
#  - acks that stall: the stream is reset after ack_timeout and reopened;
#  - 503 with retry-after: retried, nothing dropped;
#  - a resume point past the journal (restored journal): nothing sent, nothing trimmed, status
#    names it;
#  - an error line (bad_record) and a 404: the slow schedule, the record kept, status says so;
#  - GOAWAY NO_ERROR: the streams move to a new connection at once, nothing lost or doubled;
#  - a portal that lost acked records: a durable gap record names them.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon.inc"

tw_e2e_init portal_faults
tw_need_cmd python3 nsenter
# python3-h2 is a Debian package: the system interpreter has it, a pyenv one on PATH may not
PY=
for p in python3 /usr/bin/python3; do "$p" -c 'import h2' 2>/dev/null && PY=$p && break; done
[ -n "$PY" ] || tw_skip_all "python3-h2 not installed (apt-get install python3-h2)"
[ -x "$TW_BIN/tunwardend" ] || tw_skip_all "build the daemon first (make)"
[ "$(stat -fc %T /sys/fs/bpf 2>/dev/null)" = bpf_fs ] || tw_skip_all "no bpffs on /sys/fs/bpf"
tw_on_cleanup 'tw_daemon_cleanup'

tw_topo_create 0
# a tunnel interface for the hook's connects to name (no VPN server needed: unknown subjects are
# refused with a durable decision record before any address is programmed)
ip -n "$TW_SRV_NS" tuntap add dev tun0 mode tun && ip -n "$TW_SRV_NS" link set tun0 up &&
	ip -n "$TW_SRV_NS" addr add 10.8.0.1/24 dev tun0 ||
	tw_bail "tun0"
tw_daemon_setup
# the double serves the scenario's policy on the policy stream (its faults are the records')
export TW_DOUBLE_POLICY=$TW_DIR/policy.json
PORT=18443
cat >>"$TW_DIR/tunwarden.conf" <<-EOC
[portal]
url = http://127.0.0.1:$PORT/
ack_timeout = 5s
backoff_initial = 1s
backoff_max = 2s
EOC

DOUBLE=
double_start() { # MODE [STORE]: the portal's rows persist across modes in one store
	[ -z "$DOUBLE" ] || { tw_kill "$DOUBLE"; DOUBLE=; }
	tw_spawn "$TW_SRV_NS" "$TW_DIR/double-$1.log" "$PY" "$(dirname "$0")/portal_double.py" \
		"$PORT" "$TW_DIR/portal-${2:-store}.ndjson" "$1"
	DOUBLE=$TW_LAST_PID
	tw_wait_log "$TW_DIR/double-$1.log" listening 10 || tw_bail "double did not start"
}
status() { tw_cli --json status | tw_jq "$1"; }
journal_rows() { tw_cli --json log | tw_jq "len(j['records'])"; }
# hook TYPE CN: the OpenVPN hook as OpenVPN runs it
hook() {
	env -i TUNWARDEN_SOCKET="$TUNWARDEN_SOCKET" script_type="$1" dev=tun0 common_name="$2" \
		trusted_ip=198.18.0.9 trusted_port=5000 ifconfig_pool_remote_ip=10.8.0.9 \
		bytes_received=0 bytes_sent=0 time_duration=1 \
		timeout 10 "$TW_BIN/tunwarden-hook" "$TW_DIR/cc.out" >>"$TW_DIR/hook.log" 2>&1
}
# records N: N/2 sessions of alice, a durable connect and disconnect record each
records() {
	local i
	for ((i = 0; i < $1; i += 2)); do
		hook client-connect alice
		hook client-disconnect alice
	done
}

last_seq() { status "j['journal']['last_seq']"; }
seqs_in() { # FILE: the seqs stored, sorted, one line
	"$PY" -c 'import json,sys; print(sorted(json.loads(l)["seq"] for l in open(sys.argv[1])))' "$1"
}
dups_in() {
	"$PY" -c 'import json,sys,collections; c=collections.Counter(json.loads(l)["seq"] for l in open(sys.argv[1])); print(sum(v>1 for v in c.values()))' "$1"
}
stored() { [ -s "$TW_DIR/portal-$1.ndjson" ] && wc -l <"$TW_DIR/portal-$1.ndjson" || echo 0; }
drained() { [ "$(journal_rows)" = 0 ]; }

# ---- normal: records flow and acks trim
double_start normal
tw_daemon_start
# alice's sessions need the policy the double serves
tw_wait_for "[ \"\$(status \"j['policy']['source']\")\" = portal ]" 10 ||
	tw_bail "no policy from the double: $(grep portal "$TW_DIR/daemon.log" | tail -n 3)"
records 20
tw_check "20 records were journaled" [ "$(last_seq)" -ge 20 ]
tw_expect "all of them reach the double" "stored $(stored store)" \
	tw_wait_for "[ \$(stored store) -ge \$(last_seq) ]" 10
tw_expect "acks trim the journal" "rows $(journal_rows)" tw_wait_for drained 10
tw_check "status: connected" [ "$(status "j['portal']['connected']")" = True ]
tw_check "status: acked_seq is the last seq" [ "$(status "j['portal']['acked_seq']")" = "$(last_seq)" ]

# fault MODE LOGLINE: records while the double misbehaves: they reach it, the daemon says
# LOGLINE, and nothing is trimmed
fault() {
	local before
	double_start "$1"
	records 4
	before=$(journal_rows)
	tw_expect "$1: the daemon says '$2'" "$(grep portal "$TW_DIR/daemon.log" | tail -n 3)" \
		tw_wait_log "$TW_DIR/daemon.log" "$2" 15
	tw_check "$1: nothing trimmed ($before rows kept)" [ "$(journal_rows)" -ge 4 ]
}
fault garbage 'bad line from the portal: "ack" is not an integer'
fault beyond 'beyond the last seq sent'
fault stall 'no ack progress for 5 s'
fault 503 'record stream: HTTP 503'
tw_check "503: the portal's message is logged" grep -qF "unavailable: down for a test" \
	"$TW_DIR/daemon.log"

# back to a good portal: everything lands there once, the journal drains
double_start normal
tw_expect "after the faults the journal drains" "rows $(journal_rows)" tw_wait_for drained 20
tw_check "portal rows == journal seqs 1..last, none twice" \
	[ "$(seqs_in "$TW_DIR/portal-store.ndjson")" = "$("$PY" -c "print(list(range(1, $(last_seq) + 1)))")" ]
tw_check "no duplicates stored" [ "$(dups_in "$TW_DIR/portal-store.ndjson")" = 0 ]

# ---- GOAWAY NO_ERROR with the record stream open: a new connection takes it, at once
double_start goaway
tw_wait_for drained 10
records 4
tw_expect "goaway: the double sent it" "$(tail -n 2 "$TW_DIR/double-goaway.log")" \
	tw_wait_log "$TW_DIR/double-goaway.log" "GOAWAY sent" 10
tw_expect "goaway: the streams move" "$(grep portal "$TW_DIR/daemon.log" | tail -n 3)" \
	tw_wait_log "$TW_DIR/daemon.log" "GOAWAY NO_ERROR: moving the streams to a new connection" 10
records 4
tw_expect "goaway: the journal drains on the new connection" "rows $(journal_rows)" \
	tw_wait_for drained 10
tw_check "goaway: no backoff was waited (no reconnect delay logged after it)" \
	eval '! sed -n "/GOAWAY NO_ERROR: moving/,\$p" "$TW_DIR/daemon.log" | grep -q "reconnecting in"'
tw_check "goaway: portal rows == journal seqs 1..last, none twice" \
	[ "$(seqs_in "$TW_DIR/portal-store.ndjson")" = "$("$PY" -c "print(list(range(1, $(last_seq) + 1)))")" ]

# ---- a resume point past the journal: a restored or copied journal
double_start ahead ahead
records 2
tw_expect "ahead: the daemon refuses it" "$(grep portal "$TW_DIR/daemon.log" | tail -n 3)" \
	tw_wait_log "$TW_DIR/daemon.log" "journal restored or copied" 15
# (the 2 records, and the health record each new connection appends)
tw_check "ahead: nothing trimmed" [ "$(journal_rows)" -ge 2 ]
tw_check "ahead: status names it" sh -c "'$TW_BIN/tunwarden' --json status | grep -q 'but the journal ends at'"

# ---- refusals on the slow schedule: an error line (4.6) and a 404 (6.1); the daemon is
# restarted after each so the next phase does not wait out the slow schedule
restart() { tw_kill "$TW_D_PID"; tw_daemon_start; }
double_start bad_record
restart
records 2
tw_expect "bad_record: logged with seq and message" "$(grep portal "$TW_DIR/daemon.log" | tail -n 3)" \
	tw_wait_for "grep -qE 'portal refused the record stream: bad_record at seq [0-9]+: .*unknown kind' '$TW_DIR/daemon.log'" 10
tw_check "bad_record: slow schedule" grep -qE \
	"record stream: portal error bad_record; retrying in ([3-5][0-9]|60)\." "$TW_DIR/daemon.log"
tw_check "bad_record: the record stays in the journal" [ "$(journal_rows)" -ge 2 ]
tw_check "bad_record: status shows it" sh -c "'$TW_BIN/tunwarden' --json status | grep -q 'bad_record at seq'"
double_start 404
restart
tw_expect "404: slow schedule, the portal's message logged" "$(grep portal "$TW_DIR/daemon.log" | tail -n 3)" \
	tw_wait_for "grep -qE 'record stream: HTTP 404; retrying in ([3-5][0-9]|60)\.' '$TW_DIR/daemon.log'" 10
tw_check "404: message" grep -qF "answered the record stream with 404: unknown_node: no node e2e-node" \
	"$TW_DIR/daemon.log"

# ---- a portal that lost what it acked: a durable gap record names the seqs
acked=$(status "j['portal']['acked_seq']")
tw_kill "$TW_D_PID"
double_start lost lost
tw_daemon_start
tw_expect "lost: the daemon warns" "$(grep portal "$TW_DIR/daemon.log" | tail -n 3)" \
	tw_wait_log "$TW_DIR/daemon.log" "portal lost records 1..$acked" 15
tw_expect "lost: a gap record for 1..$acked reaches the portal" "$(tail -c 400 "$TW_DIR/portal-lost.ndjson")" \
	tw_wait_for "grep -q '\"dropped\":\\[\\[1,$acked\\]\\]' '$TW_DIR/portal-lost.ndjson'" 10

tw_done
