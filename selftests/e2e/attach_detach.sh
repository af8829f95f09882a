#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Detach and attach are lasting operator decisions: after `tunwarden detach tun0` a link event
# (txqueuelen change) does not re-attach, `status`, `clients`, `counters` and the metrics say the
# tunnel is detached, and a daemon restart keeps it so; `tunwarden attach tun0` enforces again
# (alice's traffic outside her allowlist is dropped again), and that too survives a restart.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon.inc"

tw_e2e_init attach_detach
tw_need_cmd openvpn python3
[ -x "$TW_BIN/tunwardend" ] || tw_skip_all "build the daemon first (make)"
tw_on_cleanup tw_daemon_cleanup

tw_topo_create 1
tw_daemon_setup
tw_pki alice
tw_daemon_start
tw_ovpn_server_with_daemon
tw_tcp_listen 8080
tw_tcp_listen 8081
tw_ovpn_clients_start alice
A=$(tw_client_ns 1)
tw_wait_for "tw_nsexec '$A' ping -c1 -W1 '$TW_SVC_ADDR'" 10 || tw_diag "alice's tunnel: no ping reply in 10 s"

# tun_state: tun0's "state" in `tunwarden --json status`.
tun_state() {
	tw_cli --json status | tw_jq "[t['state'] for t in j.get('tunnels', []) if t['ifname']=='tun0']"
}
# enforced: alice's traffic outside her allowlist is dropped. (Judged by traffic, not by
# bpftool: Debian 12's bpftool 7.1 does not list tcx links, so it would see nothing either way.)
enforced() {
	! tw_tcp_ok "$A" 8081 >/dev/null
}
restart() {
	kill -TERM "$TW_D_PID" 2>/dev/null
	wait "$TW_D_PID" 2>/dev/null
	tw_daemon_start
}

tw_check "enforced: alice does not reach tcp/8081" eval '! tw_tcp_ok "$A" 8081'
tw_check "status lists tun0 as attached" eval '[ "$(tun_state)" = "[\"attached\"]" ]'

tw_check "tunwarden detach tun0" eval 'tw_cli detach tun0 >"$TW_DIR/detach.out"'
tw_check "detached: alice reaches tcp/8081" tw_tcp_ok "$A" 8081

# A link event: it used to re-attach silently.
ip -n "$TW_SRV_NS" link set tun0 txqueuelen 600
ip -n "$TW_SRV_NS" link set tun0 txqueuelen 500
sleep 1
tw_check "a link event does not re-attach: alice still reaches tcp/8081" tw_tcp_ok "$A" 8081
tw_check "status --json: tun0 detached" eval '[ "$(tun_state)" = "[\"detached\"]" ]'
tw_check "status says 'detached by operator since'" \
	eval 'tw_cli status | grep -Eq "^  tun0 +detached by operator since [0-9]{4}-.*NOT enforced"'
tw_check "clients warns in its header" \
	eval 'tw_cli clients | head -n1 | grep -q "^WARNING: tun0 detached by operator"'
tw_check "counters warns in its header" \
	eval 'tw_cli counters | head -n1 | grep -q "^WARNING: tun0 detached by operator"'
tw_check "metrics: tunwarden_tunnel_attached 0 for tun0" \
	eval 'tw_metrics | grep -q "^tunwarden_tunnel_attached{interface=\"tun0\",state=\"detached\"} 0$"'
tw_check "metrics: tunwarden_tunnel_detached_by_operator 1 for tun0" \
	eval 'tw_metrics | grep -q "^tunwarden_tunnel_detached_by_operator{interface=\"tun0\"} 1$"'
tw_check "the detach is kept in the state dir" grep -q '^tun0 [0-9]' "$TW_DIR/state/detached"

restart
tw_check "after a restart status says detached" eval '[ "$(tun_state)" = "[\"detached\"]" ]'
tw_check "after a restart alice still reaches tcp/8081" tw_tcp_ok "$A" 8081

tw_check "tunwarden attach tun0" eval 'tw_cli attach tun0 | grep -q "attached: tun0"'
tw_check "enforced again: alice does not reach tcp/8081" eval '! tw_tcp_ok "$A" 8081'
tw_check "enforced again: alice reaches tcp/8080" tw_tcp_ok "$A" 8080
tw_check "status says attached" eval '[ "$(tun_state)" = "[\"attached\"]" ]'
tw_check "clients has no warning" eval '! tw_cli clients | grep -q WARNING'
tw_check "metrics: tunwarden_tunnel_attached 1 for tun0" \
	eval 'tw_metrics | grep -Eq "^tunwarden_tunnel_attached\\{interface=\"tun0\",state=\"attached\"\\} 1$"'

restart
tw_check "after a restart tun0 is still enforced" eval '! tw_tcp_ok "$A" 8081'
tw_check "after a restart status says attached" eval '[ "$(tun_state)" = "[\"attached\"]" ]'

# Bad input is refused by name.
tw_check "detach of a non-tunnel interface is refused" \
	eval 'tw_cli detach eth0 2>&1 | grep -q "eth0.* is not a tunnel interface"'
tw_check "attach needs a name or --all" \
	eval 'tw_cli attach 2>&1 | grep -q "attach needs an interface name or --all"'
tw_check "detach --all, then attach --all" \
	eval 'tw_cli detach --all >/dev/null && ! enforced && tw_cli attach --all >/dev/null && enforced'

tw_done
