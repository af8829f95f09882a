#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Ghost sessions after a crash (issue 13, item 9). tunwardend is killed; alice and bob disconnect
# while it is down (their hooks find nobody listening). The restarted daemon re-adopts both from
# the pinned maps, then:
#  - while another tool holds OpenVPN's management socket (so the client lists cannot be had), a
#    connect with alice's old pool address on the same server is admitted at once: the ghost is
#    ended with a VPN-Gone disconnect record (OpenVPN never gives a live client's address away);
#  - once the socket is free, the start-up reconciliation ends bob's ghost (VPN-Gone, with the
#    counters of the maps) and leaves carol, still connected, alone;
#  - bob's client, started again, gets its old address and is admitted.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon.inc"

tw_e2e_init openvpn_ghost
tw_need_cmd openvpn python3
[ -x "$TW_BIN/tunwardend" ] || tw_skip_all "build the daemon first (make)"
tw_on_cleanup tw_daemon_cleanup

tw_topo_create 3
tw_daemon_setup frank=enabled
tw_pki alice bob carol
tw_daemon_start
tw_ovpn_server_with_daemon
tw_tcp_listen 8080
tw_ovpn_clients_start alice bob carol
A=$(tw_client_ns 1) B=$(tw_client_ns 2) C=$(tw_client_ns 3)
alice_ip=$(tw_tun_addr "$A") bob_ip=$(tw_tun_addr "$B")
tw_diag "alice has $alice_ip, bob $bob_ip"
tw_check "bob reaches tcp/8080 before the crash" tw_tcp_ok "$B" 8080
bob_bytes=$(tw_client_field bob from_bytes)

tw_daemon_kill9
tw_ovpn_client_stop 1
tw_ovpn_client_stop 2
# OpenVPN runs client-disconnect ~5 s after the exit notification; the hook finds no daemon.
tw_check "OpenVPN dropped alice and bob while the daemon was down" \
	tw_wait_for "tw_mgmt 'status 3' >'$TW_DIR/list.txt'; ! grep -qE '^CLIENT_LIST	(alice|bob)	' '$TW_DIR/list.txt' && grep -q '^CLIENT_LIST	carol	' '$TW_DIR/list.txt'" 15

# Another management client holds the one slot across the restart.
tw_mgmt_hold
holder=$TW_MGMT_HOLDER

tw_daemon_start
tw_check "the restarted daemon re-adopted the ghosts" \
	eval '[ "$(tw_client_field alice state)" = permit ] && [ "$(tw_client_field bob state)" = permit ]'
tw_check "status: the client list is pending on the held socket" \
	eval "tw_cli --json status | tw_jq \"[c for m in j['vpn']['openvpn']['management'] for c in m['commands'] if c['command'] == 'list']\" | grep -q list"

# OpenVPN hands alice's address to frank (the hook as OpenVPN runs it).
# two durable records (the ghost's disconnect, frank's connect): a bound that allows two fsyncs
BOUND_MS=$((250 * TW_E2E_SLACK))
t0=$EPOCHREALTIME
env -i TUNWARDEN_SOCKET="$TUNWARDEN_SOCKET" script_type=client-connect dev=tun0 common_name=frank \
	trusted_ip=198.18.0.77 trusted_port=5000 ifconfig_pool_remote_ip="$alice_ip" \
	timeout 10 "$TW_BIN/tunwarden-hook" "$TW_DIR/cc-frank.out" >"$TW_DIR/hook-frank.log" 2>&1
rc=$? ms=$(((${EPOCHREALTIME/./} - ${t0/./}) / 1000))
tw_diag "connect of frank with $alice_ip: exit $rc after $ms ms: $(head -c 300 "$TW_DIR/hook-frank.log")"
tw_check "a connect with the ghost's pool address is admitted within $BOUND_MS ms ($ms ms)" \
	eval "[ $rc -eq 0 ] && [ $ms -le $BOUND_MS ]"
tw_check "frank holds the address now" eval '[ "$(tw_client_field frank state)" = permit ]'

disc() { # CN: alice's/bob's disconnect records, as JSON
	tw_cli --json log --since 0 | tw_jq "[r for r in j['records'] if r['kind'] == 'disconnect' and r['subject'] == '$1']"
}
tw_check "alice's ghost was ended with a VPN-Gone disconnect record" \
	eval "disc alice | tw_jq \"[r['terminate_cause'] for r in j]\" | grep -qx '\[\"VPN-Gone\"\]'"
tw_check "bob's ghost is still there while the lists cannot be had" \
	eval '[ "$(tw_client_field bob state)" = permit ]'

# The holder leaves: the reconciliation runs and ends bob's ghost, and only it.
tw_kill "$holder"
tw_check "bob's ghost is ended with a VPN-Gone disconnect record" \
	tw_wait_for "disc bob | tw_jq \"[r['terminate_cause'] for r in j]\" | grep -qx '\[\"VPN-Gone\"\]'" 35
tw_check "bob's record carries his counters from the maps" \
	eval "disc bob | tw_jq \"j[0]['from_bytes'] >= $bob_bytes > 0\" | grep -qx True"
tw_check "carol, still connected, is left alone" eval '[ "$(tw_client_field carol state)" = permit ]'
tw_check "frank, admitted after the start, is left alone" \
	eval '[ "$(tw_client_field frank state)" = permit ]'
tw_check "the daemon logged the reconciliation" \
	tw_wait_log "$TW_DIR/daemon.log" "re-adopted session(s) checked against 1 server(s), 1 gone" 5

# bob comes back: OpenVPN gives him his old address again, and he is admitted.
rm -f "$TW_DIR/client-bob.log"
tw_client_try 2 bob
tw_check "bob reconnects" tw_wait_log "$TW_DIR/client-bob.log" "Initialization Sequence Completed" 15
tw_check "with his old address" eval '[ "$(tw_tun_addr "$B")" = "$bob_ip" ]'
tw_check "and is admitted" tw_wait_for '[ "$(tw_client_field bob state)" = permit ]' 5
tw_check "bob reaches tcp/8080 again" tw_tcp_ok "$B" 8080

tw_done
