#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# kill -9 tunwardend under traffic and start it again: enforcement continues while it is gone
# (pinned maps and links), the restarted daemon re-adopts the live sessions, no journal record is
# lost or duplicated, and the client's counters stay monotonic and equal to what the receiver saw.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon.inc"

tw_e2e_init openvpn_restart
tw_need_cmd openvpn python3
[ -x "$TW_BIN/tunwardend" ] || tw_skip_all "build the daemon first (make)"
tw_on_cleanup tw_daemon_cleanup

tw_topo_create 2
tw_daemon_setup
tw_pki alice bob
tw_daemon_start
tw_ovpn_server_with_daemon
tw_tcp_listen 8080
tw_tcp_listen 8081
tw_udp_sink 9000 "$TW_DIR/sink9000"
tw_ovpn_clients_start alice bob
A=$(tw_client_ns 1) B=$(tw_client_ns 2)
tw_check "alice reaches tcp/8080" tw_tcp_ok "$A" 8080

# Stream and counting start from a quiet moment.
sleep 0.5
# A steady stream from alice: 1500 datagrams of 972 bytes over ~6 s, across the kill and restart.
b0=$(tw_client_field alice from_bytes)
p0=$(tw_client_field alice from_pkts)
d0=$(tw_client_field alice drops)
ip netns exec "$A" python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(1500):
    s.sendto(b"x" * 972, (sys.argv[1], 9000)); time.sleep(0.004)
' "$TW_SVC_ADDR" &
sender=$!
sleep 1
tw_daemon_kill9
tw_check "daemon is gone" eval '! kill -0 "$TW_D_PID" 2>/dev/null'
# (bob probes, so alice's counters hold the stream alone)
tw_check "while it is gone bob still reaches tcp/8080" tw_tcp_ok "$B" 8080
tw_check "while it is gone tcp/8081 stays blocked" eval '! tw_tcp_ok "$B" 8081'
tw_daemon_start
tw_check "restarted daemon re-adopted alice's session" \
	eval '[ "$(tw_client_field alice state)" = permit ]'
b1=$(tw_client_field alice from_bytes)
tw_check "counters monotonic across the restart" eval '[ "$b1" -ge "$b0" ]'
wait "$sender"
tw_wait_for "[ \"\$(cut -d' ' -f1 '$TW_DIR/sink9000' 2>/dev/null)\" = 1500 ]" 5
read -r got_n got_b <"$TW_DIR/sink9000"
b2=$(tw_client_field alice from_bytes)
p2=$(tw_client_field alice from_pkts)
d2=$(tw_client_field alice drops)
tw_diag "receiver: $got_n datagrams; alice from_bytes +$((b2 - b0)), from_pkts +$((p2 - p0)), drops +$((d2 - d0)) over the kill and restart"
tw_check_delivered "the stream across the kill and restart" 1500 "$got_n" $((p2 - p0)) $((d2 - d0))
tw_check "counters equal the bytes delivered, daemon down or not" \
	eval '[ $((b2 - b0)) -eq $((got_b + 28 * got_n)) ]'

# The journal: strictly increasing seqs, exactly one connect for alice, nothing duplicated.
tw_cli --json log --since 0 >"$TW_DIR/log.json"
tw_check "journal seqs strictly increasing without holes" \
	eval "tw_jq \"(lambda s: s == list(range(s[0], s[0] + len(s))))([r['seq'] for r in j['records']])\" <'$TW_DIR/log.json' | grep -qx True"
tw_check "exactly one connect record for alice" \
	eval "tw_jq \"sum(1 for r in j['records'] if r['kind']=='connect' and r['subject']=='alice')\" <'$TW_DIR/log.json' | grep -qx 1"
tw_check "one log id across the restart" \
	eval "tw_jq \"len(set(r['log_id'] for r in j['records']))\" <'$TW_DIR/log.json' | grep -qx 1"

# The re-adopted session still ends properly.
tw_ovpn_client_stop 1
tw_check "alice's disconnect after the restart is journaled with her final counters" \
	tw_wait_for "tw_cli --json log --since 0 | tw_jq \"[r['from_bytes'] >= $b2 for r in j['records'] if r['kind']=='disconnect' and r['subject']=='alice']\" | grep -q true" 12

tw_done
