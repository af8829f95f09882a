#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The node and the real reference portal, with real OpenVPN clients: the node takes its policy
# from the portal's policy stream and streams its records to it over TLS with a client
# certificate. A confirmation and a revocation made with the portal's admin command line reach
# the dataplane (the delay is reported); the portal killed mid-stream and the link cut for a
# while lose nothing: in the end the portal holds exactly the records the journal wrote, once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon.inc"
. "$(dirname "$0")/portal.inc"

tw_e2e_init portal_openvpn
tw_need_cmd openvpn python3
[ -x "$TW_BIN/tunwardend" ] || tw_skip_all "build the daemon first (make)"
tw_on_cleanup tw_daemon_cleanup

TW_INTERIM=10s
tw_topo_create 2
tw_portal_setup
tw_daemon_setup
tw_pki alice erin
tw_portal_start
tw_daemon_start
# a node with the record stream but not yet the policy stream (portal.c says so at start)
! grep -qF "this build has no policy stream" "$TW_DIR/daemon.log" ||
	tw_skip_all "this tunwardend has no policy stream yet (polstream.c)"

pstatus() { tw_cli --json status | tw_jq "$1"; }
tw_check "the node takes the portal's policy" \
	tw_wait_for "[ \"\$(pstatus \"j['policy']['source']\")\" = portal ]" 10
tw_check "the portal link is up" \
	tw_wait_for "[ \"\$(pstatus \"j['portal']['connected']\")\" = True ]" 10

tw_ovpn_server_with_daemon
tw_tcp_listen 8080
tw_ovpn_clients_start alice erin
A=$(tw_client_ns 1)
E=$(tw_client_ns 2)
tw_check "alice (enabled at the portal) reaches tcp/8080" tw_tcp_ok "$A" 8080
tw_check "erin (needs-confirmation at the portal) is sandboxed" \
	eval '[ "$(tw_client_field erin state)" = sandbox ]'

# log_delay_ms T0 PATTERN: milliseconds from the wall-clock time T0 (date +%s.%N) to the first
# daemon log line matching PATTERN (its ISO timestamp), waiting up to 10 s for it; -1 if none.
log_delay_ms() {
	tw_wait_for "grep -q '$2' '$TW_DIR/daemon.log'" 10 || { echo -1; return 1; }
	python3 -c '
import datetime, sys
ts = open(sys.argv[2]).read().split(sys.argv[3])[0].rsplit("\n", 1)[-1].split()[0]
t = datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
print(round((t.timestamp() - float(sys.argv[1])) * 1000))' "$1" "$TW_DIR/daemon.log" "$2"
}

t0=$(date +%s.%N)
tw_padmin subject confirm cn:erin >/dev/null
ms=$(log_delay_ms "$t0" "subject erin: confirmed")
tw_check "a confirmation at the portal moves erin to PERMIT" \
	eval '[ "$(tw_client_field erin state)" = permit ]'
tw_diag "portal admin command started -> erin permit on the node: $ms ms"
tw_check "erin reaches tcp/8080 after the confirmation" tw_tcp_ok "$E" 8080

t0=$(date +%s.%N)
tw_padmin subject revoke cn:alice >/dev/null
ms=$(log_delay_ms "$t0" "subject alice: no longer allowed")
# (acked records leave the journal: the portal's copy is where the disconnect record is)
alice_disc() {
	sqlite3 "$TW_DIR/portal/records.db" "SELECT json_extract(body, '\$.terminate_cause')
		FROM records WHERE node='e2e-node' AND kind='disconnect' AND subject='alice'"
}
tw_check "a revocation at the portal ends alice's session (Admin-Reset at the portal)" \
	tw_wait_for '[ "$(alice_disc)" = Admin-Reset ]' 5
tw_diag "portal admin command started -> alice's session ended on the node: $ms ms"
tw_check "alice no longer reaches tcp/8080" eval '! tw_tcp_ok "$A" 8080'

# records: the journal's last seq is the number of records written (no holes here)
backlog0() { [ "$(pstatus "j['portal']['backlog']")" = 0 ]; }
same_rows() {
	local last
	last=$(pstatus "j['journal_last_seq']")
	[ "$(sqlite3 "$TW_DIR/portal/records.db" "SELECT count(*) || ' ' || count(DISTINCT seq) || ' ' || max(seq) FROM records WHERE node='e2e-node'")" = "$last $last $last" ]
}
tw_check "every record reaches the portal, acked and trimmed" tw_wait_for backlog0 15
tw_check "portal rows == journal records, no duplicates" tw_wait_for same_rows 10

# the portal killed mid-stream: interim records every 10 s keep coming
tw_portal_kill9
sleep $((11 * TW_E2E_SLACK))
tw_check "records wait in the journal while the portal is down" eval '! backlog0'
tw_portal_start
tw_check "after the portal's restart the backlog drains" tw_wait_for backlog0 30
tw_check "portal rows == journal records after the restart" tw_wait_for same_rows 10

# the link cut for a while: a client disconnects and reconnects meanwhile
tw_portal_link down
tw_ovpn_client_stop 2
# the server notices the client gone at its ping-restart (10 s), then the hook reports it
erin_gone() {
	tw_cli --json log --since 0 |
		tw_jq "any(r['kind']=='disconnect' and r['subject']=='erin' for r in j['records'])" |
		grep -qx True
}
tw_check "erin's disconnect is journaled while the link is down" tw_wait_for erin_gone 30
tw_check "records pile up while the link is down" eval '! backlog0'
tw_portal_link up
tw_check "after the link returns the backlog drains" tw_wait_for backlog0 60
tw_check "portal rows == journal records after the cut" tw_wait_for same_rows 10
tw_check "the portal saw erin's disconnect" eval "[ \"\$(sqlite3 '$TW_DIR/portal/records.db' \"SELECT count(*) FROM records WHERE node='e2e-node' AND kind='disconnect' AND subject='erin'\")\" -ge 1 ]"

tw_done
