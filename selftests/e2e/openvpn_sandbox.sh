#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The confirmation flow with real OpenVPN: a needs-confirmation subject lands in SANDBOX (only the
# sandbox allowlist), `tunwarden confirm` moves it to PERMIT at once; an unconfirmed subject is
# disconnected at its deadline, and after N unconfirmed attempts it is banned (subject refused,
# real source address banned in the uplink map).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon.inc"

tw_e2e_init openvpn_sandbox
tw_need_cmd openvpn python3
[ -x "$TW_BIN/tunwardend" ] || tw_skip_all "build the daemon first (make)"
tw_on_cleanup tw_daemon_cleanup

# The confirmation deadline (which the hook also hands OpenVPN as session-timeout) must outlast
# the checks made before `confirm`; on a slow machine (TW_E2E_SLACK) it grows with them.
CONFIRM_S=$((TW_E2E_SLACK > 2 ? 15 * TW_E2E_SLACK / 2 : 15))
TW_CONFIRM_TIMEOUT=${CONFIRM_S}s TW_BAN_N=2
tw_topo_create 2
tw_daemon_setup
tw_pki erin frank
tw_daemon_start
tw_ovpn_server_with_daemon
tw_tcp_listen 8080
tw_udp_sink 5353 "$TW_DIR/sink5353"
tw_ovpn_clients_start erin
E=$(tw_client_ns 1)

tw_check "erin is sandboxed" eval '[ "$(tw_client_field erin state)" = sandbox ]'
tw_check "erin's hook wrote session-timeout for OpenVPN" \
	tw_wait_for "grep -q 'erin/.*Timers:.*session-timeout $CONFIRM_S' '$TW_SRV_LOG'" 5
tw_udp_send "$E" "$TW_SVC_ADDR" 5353 3 100
tw_check "sandboxed erin reaches the sandbox allowlist (udp/5353)" \
	tw_wait_for "grep -q '^3 ' '$TW_DIR/sink5353'" 3
tw_check "sandboxed erin does not reach tcp/8080" eval '! tw_tcp_ok "$E" 8080'
t0=$EPOCHREALTIME
tw_cli confirm erin >/dev/null
tw_check "after confirm erin reaches tcp/8080" tw_tcp_ok "$E" 8080
tw_diag "confirm -> first allowed connection: $(python3 -c "print(round(($EPOCHREALTIME-$t0)*1000))") ms"
tw_check "erin is permit" eval '[ "$(tw_client_field erin state)" = permit ]'
# OpenVPN ends the session at the session-timeout the hook wrote, confirmed or not; the
# client reconnects and the node remembers the confirmation.
tw_check "erin reconnects as permit after OpenVPN's session-timeout" \
	tw_wait_for "grep -q 'connect erin on tun0 slot .*: permit (confirmed locally' '$TW_DIR/daemon.log'" 30
tw_check "and reaches tcp/8080 again" tw_wait_for "tw_tcp_ok '$E' 8080" 10

# frank never gets confirmed: disconnected at the deadline, twice, then banned.
tw_client_try 2 frank
F=$(tw_client_ns 2)
tw_check "frank connects into the sandbox" \
	tw_wait_for "grep -q 'connect frank on tun0 slot .*: sandbox' '$TW_DIR/daemon.log'" 15
# Whichever ends it first (OpenVPN's session-timeout or the daemon's deadline), the session ends
# as a Session-Timeout.
tw_check "frank's disconnect journaled with Session-Timeout" \
	tw_wait_for "tw_cli --json log --since 0 | tw_jq \"[r.get('terminate_cause') for r in j['records'] if r['kind']=='disconnect' and r['subject']=='frank']\" | grep -q Session-Timeout" 25
# OpenVPN's client retries by itself (connect-retry 1): the second unconfirmed attempt bans.
tw_check "frank is banned after 2 unconfirmed attempts" \
	tw_wait_for "grep -q 'subject frank banned' '$TW_DIR/daemon.log'" 40
tw_check "a ban record is journaled" \
	eval "tw_cli --json log --since 0 | tw_jq \"sum(1 for r in j['records'] if r['kind']=='ban')\" | grep -qx 1"
tw_check "frank's next attempt is refused by the ban" \
	tw_wait_for "grep -q 'connect frank on tun0: deny (subject banned' '$TW_DIR/daemon.log'" 20
tw_check "frank's real address is in the uplink ban map" \
	eval "bpftool map dump pinned '$TW_D_PINROOT/tw1_bans' | grep -q '\"prefixlen\": 64'"
tw_cli unban frank >/dev/null
tw_check "after unban the ban map is empty" \
	eval "! bpftool map dump pinned '$TW_D_PINROOT/tw1_bans' | grep -q prefixlen"

tw_done
