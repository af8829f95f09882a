#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The same CN on two OpenVPN servers of the node at once (issue 13, item 10): tunwarden keeps the
# newer session and ends the older one, in its records (Port-Preempted) and at its own OpenVPN
# server through that server's management interface, matched by the client's real address, so
# the newer session on the other server is not touched.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon.inc"

tw_e2e_init openvpn_preempt
tw_need_cmd openvpn python3
[ -x "$TW_BIN/tunwardend" ] || tw_skip_all "build the daemon first (make)"
tw_on_cleanup tw_daemon_cleanup

tw_topo_create 2
tw_daemon_setup
tw_pki alice bob
# A second server on tun1 with its own port, pool and management socket, both known to the daemon.
MGMT2=$TW_DIR/mgmt2.sock
sed -i -e "s#^management = .*#&\nmanagement = $MGMT2#" -e "s#^\[interface tun0\]#&\n[interface tun1]#" \
	"$TW_DIR/tunwarden.conf"
sed -i 's#"interfaces": \["tun0"\]#"interfaces": ["tun0", "tun1"]#' "$TW_DIR/policy.json"
tw_daemon_start
tw_ovpn_server_with_daemon
sed -e "s#^port .*#port $((TW_SRV_PORT + 1))#" -e "s#^dev tun0#dev tun1#" \
	-e "s#^server .*#server 10.9.0.0 255.255.255.0#" -e "/^server-ipv6/d" \
	-e "s#^management .*#management $MGMT2 unix#" -e "s#^log .*#log $TW_DIR/server2.log#" \
	-e "s#^status .*#status $TW_DIR/server2.status 1#" -e "s#^writepid .*#writepid $TW_DIR/server2.pid#" \
	"$TW_DIR/server.conf" >"$TW_DIR/server2.conf"
tw_spawn "$TW_SRV_NS" "$TW_DIR/server2.stderr.log" openvpn --config "$TW_DIR/server2.conf"
tw_wait_log "$TW_DIR/server2.log" "Initialization Sequence Completed" 10 ||
	tw_bail "the second OpenVPN server did not come up"

# alice on server 1 (tun0) from client namespace 1, bob alongside her
tw_ovpn_clients_start alice bob
tw_check "alice is admitted on tun0" eval '[ "$(tw_cli --json client alice | tw_jq "j[\"clients\"][0][\"ifname\"]")" = tun0 ]'
first=$(tw_client_field alice session)

# then alice again, on server 2 (tun1), from client namespace 2 (bob's namespace: another host)
sed -e "s#^remote .*#remote $TW_SRV_UNDERLAY $((TW_SRV_PORT + 1))#" -e "s#^dev tun0#dev tun1#" \
	-e "s#^log .*#log $TW_DIR/client-alice2.log#" "$TW_DIR/client-alice.conf" >"$TW_DIR/client-alice2.conf"
tw_spawn "$(tw_client_ns 2)" "$TW_DIR/client-alice2.stderr.log" openvpn --config "$TW_DIR/client-alice2.conf"
alice2=$TW_LAST_PID
tw_check "alice's second client connects to server 2" \
	tw_wait_log "$TW_DIR/client-alice2.log" "Initialization Sequence Completed" 15
tw_check "tunwarden keeps the newer session, on tun1" \
	tw_wait_for '[ "$(tw_cli --json client alice | tw_jq "j[\"clients\"][0][\"ifname\"]")" = tun1 ]' 5
tw_check "the older session's disconnect record says Port-Preempted" \
	eval "tw_cli --json log --since 0 | tw_jq \"[r['terminate_cause'] for r in j['records'] if r['kind'] == 'disconnect' and r['session'] == '$first']\" | grep -qx '\[\"Port-Preempted\"\]'"
tw_check "server 1 ended the older session: its client is told to stop" \
	tw_wait_log "$TW_DIR/client-alice.log" "Halt command was pushed by server" 10
tw_check "server 1 no longer lists alice" \
	tw_wait_for "! tw_mgmt 'status 3' | grep -q '^CLIENT_LIST	alice	'" 10
tw_check "server 1 still carries bob" eval "tw_mgmt 'status 3' | grep -q '^CLIENT_LIST	bob	'"
tw_check "server 2 still carries alice's newer session" \
	eval "TW_SRV_MGMT=$MGMT2 tw_mgmt 'status 3' | grep -q '^CLIENT_LIST	alice	'"
tw_check "and tunwarden still has it" eval '[ "$(tw_client_field alice state)" = permit ]'
tw_check "the newer client was not told to stop" eval "! grep -q 'Halt command' '$TW_DIR/client-alice2.log'"
tw_kill "$alice2"

tw_done
