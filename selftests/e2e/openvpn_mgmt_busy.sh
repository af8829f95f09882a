#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# OpenVPN serves one management client at a time. With another process holding the management
# socket, `tunwarden kill` must return at once (the daemon never waits on the socket in its loop),
# status and the metrics must show the undelivered kill, a hook connect made meanwhile must be
# admitted within 50 ms, a revocation reload must answer at once, and once the holder leaves the
# kills must reach OpenVPN (retried with backoff) and end the OpenVPN sessions. (issue 13, item 10)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon.inc"

tw_e2e_init openvpn_mgmt_busy
tw_need_cmd openvpn python3
[ -x "$TW_BIN/tunwardend" ] || tw_skip_all "build the daemon first (make)"
tw_on_cleanup tw_daemon_cleanup

tw_topo_create 2
tw_daemon_setup
tw_pki alice bob
tw_daemon_start
tw_ovpn_server_with_daemon
tw_ovpn_clients_start alice bob
tw_check "alice is admitted" eval '[ "$(tw_client_field alice state)" = permit ]'

# ms_since T0: milliseconds since $EPOCHREALTIME was T0.
ms_since() { echo $(((${EPOCHREALTIME/./} - ${1/./}) / 1000)); }

hook() {
	env -i TUNWARDEN_SOCKET="$TUNWARDEN_SOCKET" script_type="$1" dev=tun0 common_name="$2" \
		trusted_ip=198.18.0.$3 trusted_port=5000 ifconfig_pool_remote_ip=10.8.0.$3 \
		bytes_received=0 bytes_sent=0 time_duration=1 \
		timeout 10 "$TW_BIN/tunwarden-hook" "$TW_DIR/cc-$2.out"
}
# times_hook_connects: three hook connects (and disconnects) of carol; sets best and worst (ms).
times_hook_connects() {
	local i t0 rc ms
	best=99999 worst=0
	for i in 1 2 3; do
		t0=$EPOCHREALTIME
		hook client-connect carol 77 >"$TW_DIR/hook.out" 2>&1
		rc=$? ms=$(ms_since "$t0")
		[ $rc -eq 0 ] || ms=99999
		[ "$ms" -ge "$best" ] || best=$ms
		[ "$ms" -le "$worst" ] || worst=$ms
		hook client-disconnect carol 77 >/dev/null 2>&1
	done
}
times_hook_connects
tw_diag "hook connects with the slot free: best $best, worst $worst ms"
BOUND_MS=$((50 * TW_E2E_SLACK))
[ "$TW_E2E_SLACK" -le 1 ] || [ $((2 * best)) -le $BOUND_MS ] || BOUND_MS=$((2 * best))

# The holder: another management client that takes the slot and keeps it.
tw_mgmt_hold
holder=$TW_MGMT_HOLDER

t0=$EPOCHREALTIME
tw_cli kill alice >"$TW_DIR/kill.out" 2>&1
rc=$? ms=$(ms_since "$t0")
tw_diag "tunwarden kill alice with the slot held: exit $rc after $ms ms"
tw_check "kill returns at once with the slot held (${ms} ms <= 300)" \
	eval "[ $rc -eq 0 ] && [ $ms -le $((300 * TW_E2E_SLACK)) ]"
tw_check "alice's traffic is cut" eval '! tw_cli --json client alice 2>/dev/null | grep -q permit'

# status and metrics show the undelivered kill
tw_cli --json status >"$TW_DIR/status.json"
tw_check "status shows the kill pending on the held server" eval "tw_jq \"[m for m in j['vpn']['openvpn']['management'] if m['pending'] >= 1 and any(c['command'] == 'kill' and c['subject'] == 'alice' for c in m['commands'])] != []\" <'$TW_DIR/status.json' | grep -qx True"
tw_cli status >"$TW_DIR/status.txt" 2>&1
tw_check "tunwarden status (tables) shows the pending kill" \
	eval "grep -q '^SOCKET .*PENDING' '$TW_DIR/status.txt' && grep -qE 'mgmt\.sock +[a-z]+ +1 .*\"kill\",\"subject\":\"alice\"' '$TW_DIR/status.txt'"
tw_check "the metrics show the pending command" \
	eval "tw_metrics | grep -E '^tunwarden_openvpn_mgmt_pending\\{socket=\"$TW_SRV_MGMT\"\\} [1-9]'"

# Hook connects with the slot held: answered within 50 ms (best of three, each one a durable
# journal write on a loaded CI machine), and none near the 2 s the old daemon spent on the held
# socket. In a TCG guest the hook's own execs cost more than that: there the bound is twice the
# same connects timed before the slot was taken.
times_hook_connects
tw_check "hook connects with the slot held are admitted within $BOUND_MS ms (best $best, worst $worst ms)" \
	eval "[ $best -le $BOUND_MS ] && [ $worst -le $((10 * BOUND_MS)) ]"
t0=$EPOCHREALTIME
tw_cli status >/dev/null
ms=$(ms_since "$t0")
tw_check "status answers at once ($ms ms)" eval "[ $ms -le $((300 * TW_E2E_SLACK)) ]"

# Past the per-command deadline (2 s) the attempt fails and is retried with backoff.
tw_check "status: the attempt timed out, the daemon waits to retry, the kill still pending" \
	tw_wait_for "tw_cli --json status | tw_jq \"[m for m in j['vpn']['openvpn']['management'] if m['state'] == 'waiting' and m['failed_attempts'] >= 1 and m['pending'] >= 1 and m['oldest_age'] >= 2]\" | grep -q state" 10
tw_check "the daemon logged why" tw_wait_log "$TW_DIR/daemon.log" "no greeting in time" 2
sleep 2
tw_check "status answers and the hook is served during the retries" \
	eval "tw_cli status >/dev/null && hook client-connect carol 77 >/dev/null && hook client-disconnect carol 77 >/dev/null"
# A revocation reload meanwhile: it answers at once, and an enabled subject connecting during it is
# admitted.
policy_write bob=revoked
t0=$EPOCHREALTIME
tw_cli reload >"$TW_DIR/reload.out" 2>&1 &
reload=$!
hook client-connect carol 78 >"$TW_DIR/hook-reload.out" 2>&1
hrc=$?
wait "$reload"
rc=$? ms=$(ms_since "$t0")
tw_check "the revocation reload and a connect during it answer at once ($ms ms, connect exit $hrc)" \
	eval "[ $rc -eq 0 ] && [ $hrc -eq 0 ] && [ $ms -le $((300 * TW_E2E_SLACK)) ]"
hook client-disconnect carol 78 >/dev/null 2>&1
tw_check "bob's session is ended by the daemon and his kill queued" \
	eval "! tw_cli --json client bob 2>/dev/null | grep -q permit && tw_cli --json status | tw_jq \"[c['subject'] for m in j['vpn']['openvpn']['management'] for c in m['commands']]\" | grep -q bob"
# OpenVPN still carries alice while the slot is held: nothing told it.
tw_check "alice's OpenVPN session is still up while the slot is held" \
	eval "! grep -q 'client-kill' '$TW_DIR/server.log' && ! grep -q 'Halt command' '$TW_DIR/client-alice.log'"

# The holder leaves: the kill is retried and delivered (backoff <= 30 s since the first try).
tw_kill "$holder"
tw_check "after the holder left, the kill reaches OpenVPN and alice's client is told to stop" \
	tw_wait_log "$TW_DIR/client-alice.log" "Halt command was pushed by server" 35
tw_check "alice is gone from the server's client list" \
	tw_wait_for "! tw_mgmt 'status 3' | grep -q '^CLIENT_LIST	alice	'" 10
tw_check "bob's revocation reaches OpenVPN too" \
	tw_wait_log "$TW_DIR/client-bob.log" "Halt command was pushed by server" 10
tw_check "status: nothing pending any more" \
	tw_wait_for "tw_cli --json status | tw_jq \"sum(m['pending'] for m in j['vpn']['openvpn']['management'])\" | grep -qx 0" 5
tw_check "the daemon logged the delivery" tw_wait_log "$TW_DIR/daemon.log" "ended alice's session" 5

tw_done
