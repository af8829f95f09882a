#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The record stream against the real reference portal (tunwarden-portal, TLS with the node's
# client certificate, portal.inc), docs/protocol.md section 4: records flow and the portal's acks
# trim the journal; the portal killed (-9) while records are being written, then restarted, and
# stopped gracefully (TERM) and restarted: in the end the portal holds exactly the journal's
# records, each once, and the journal is drained. Records come from hook connects and
# disconnects on a bare tun0 (no VPN server needed).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon.inc"
. "$(dirname "$0")/portal.inc"

tw_e2e_init portal_records
tw_need_cmd python3 nsenter sqlite3
[ -x "$TW_BIN/tunwardend" ] || tw_skip_all "build the daemon first (make)"
[ "$(stat -fc %T /sys/fs/bpf 2>/dev/null)" = bpf_fs ] || tw_skip_all "no bpffs on /sys/fs/bpf"
tw_on_cleanup tw_daemon_cleanup

tw_topo_create 0
ip -n "$TW_SRV_NS" tuntap add dev tun0 mode tun && ip -n "$TW_SRV_NS" link set tun0 up &&
	ip -n "$TW_SRV_NS" addr add 10.8.0.1/24 dev tun0 || tw_bail "tun0"
tw_portal_setup
tw_daemon_setup
# the policy file as well: a node without the policy stream still admits alice (one with it
# takes the same policy from the portal, which imported this file)
sed -i "/^\[policy\]\$/a file = $TW_DIR/policy.json" "$TW_DIR/tunwarden.conf"
cat >>"$TW_DIR/tunwarden.conf" <<-EOC
backoff_initial = 1s
backoff_max = 2s
EOC
tw_portal_start
tw_daemon_start

hook() { # TYPE CN
	env -i TUNWARDEN_SOCKET="$TUNWARDEN_SOCKET" script_type="$1" dev=tun0 common_name="$2" \
		trusted_ip=198.18.0.9 trusted_port=5000 ifconfig_pool_remote_ip=10.8.0.9 \
		bytes_received=0 bytes_sent=0 time_duration=1 \
		timeout 10 "$TW_BIN/tunwarden-hook" "$TW_DIR/cc.out" >>"$TW_DIR/hook.log" 2>&1
}
records() { local i; for ((i = 0; i < $1; i += 2)); do hook client-connect alice; hook client-disconnect alice; done; }
pstatus() { tw_cli --json status | tw_jq "$1"; }
backlog0() { [ "$(pstatus "j['portal']['backlog']")" = 0 ]; }
# portal rows == journal seqs 1..last, each once (no holes in this scenario)
same_rows() {
	local last
	last=$(pstatus "j['journal']['last_seq']")
	echo "journal last_seq $last, portal: $(sqlite3 "$TW_DIR/portal/records.db" "SELECT count(*) || ' ' || count(DISTINCT seq) || ' ' || max(seq) FROM records WHERE node='e2e-node'")"
	[ "$(sqlite3 "$TW_DIR/portal/records.db" "SELECT count(*) || ' ' || count(DISTINCT seq) || ' ' || max(seq) FROM records WHERE node='e2e-node'")" = "$last $last $last" ]
}

tw_check "the portal link is up" \
	tw_wait_for "[ \"\$(pstatus \"j['portal']['connected']\")\" = True ]" 10
records 20
tw_check "records were journaled" [ "$(pstatus "j['journal']['last_seq']")" -ge 20 ]
tw_check "every record reaches the portal, acked and trimmed" tw_wait_for backlog0 15
tw_expect "portal rows == journal records, none twice" "$(same_rows)" same_rows

# ---- the portal killed while records are being written
records 60 &
writer=$!
sleep 0.3
tw_portal_kill9
wait "$writer"
tw_check "records wait in the journal while the portal is down" eval '! backlog0'
tw_portal_start
tw_check "after the restart the backlog drains" tw_wait_for backlog0 30
tw_expect "portal rows == journal records after kill -9" "$(same_rows)" same_rows

# ---- a graceful stop (GOAWAY) and restart
records 10
tw_portal_stop
records 10
tw_portal_start
tw_check "after a graceful restart the backlog drains" tw_wait_for backlog0 30
tw_expect "portal rows == journal records after the graceful restart" "$(same_rows)" same_rows
tw_check "status: the link is up again" [ "$(pstatus "j['portal']['connected']")" = True ]

tw_done
