#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Real OpenVPN 2.6 server and clients with tunwardend: allowed destinations and nothing else,
# a disabled CN refused, tenant isolation, counters equal to what the receiver saw, a CN revoked
# mid-session cut off within 1 s and its session ended, and a corrupt policy file that leaves the
# last good policy in force.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon.inc"

tw_e2e_init openvpn_admission
tw_need_cmd openvpn python3
[ -x "$TW_BIN/tunwardend" ] || tw_skip_all "build the daemon first (make)"
tw_on_cleanup tw_daemon_cleanup

tw_topo_create 4
tw_daemon_setup
tw_pki alice bob carol dave
tw_daemon_start
tw_ovpn_server_with_daemon
tw_tcp_listen 8080
tw_tcp_listen 8081
tw_udp_sink 9000 "$TW_DIR/sink9000"
tw_ovpn_clients_start alice bob carol
A=$(tw_client_ns 1) B=$(tw_client_ns 2) C=$(tw_client_ns 3)
a_ip=$(tw_tun_addr "$A") b_ip=$(tw_tun_addr "$B") c_ip=$(tw_tun_addr "$C")
tw_diag "alice $a_ip, bob $b_ip, carol $c_ip"

# The tunnel carries packets before the first assertion on what it carries (bounded).
tw_wait_for "tw_nsexec '$A' ping -c1 -W1 '$TW_SVC_ADDR'" 10 || tw_diag "alice's tunnel: no ping reply in 10 s"
tw_check "alice reaches the service on tcp/8080" tw_tcp_ok "$A" 8080 ||
	tw_diag "$(tw_cli client alice 2>&1 | tr '\n' ' ')"
tw_check "alice does not reach tcp/8081" eval '! tw_tcp_ok "$A" 8081'
tw_check "alice pings the service" tw_nsexec "$A" ping -c1 -W2 "$TW_SVC_ADDR"
tw_check "alice pings bob (same tenant)" tw_nsexec "$A" ping -c1 -W2 "$b_ip"
tw_check "alice cannot ping carol (other tenant)" eval '! tw_nsexec "$A" ping -c1 -W1 "$c_ip"'
tw_check "carol cannot ping alice (other tenant)" eval '! tw_nsexec "$C" ping -c1 -W1 "$a_ip"'
tw_check "daemon reports alice as permit" \
	eval '[ "$(tw_client_field alice state)" = permit ]'
tw_check "tenant drops counted for carol" eval '[ "$(tw_client_field carol drops)" -ge 1 ]'

tw_check "metrics count the tenant drops" \
	eval 'tw_metrics | grep -Eq "^tunwarden_drop_packets_total\\{reason=\"tenant\"\\} [1-9]"'
tw_check "metrics show 3 live sessions" eval 'tw_metrics | grep -qx "tunwarden_sessions 3"'
tw_check "status file written atomically with the session count" \
	tw_wait_for "python3 -c 'import json,sys; sys.exit(json.load(open(\"$TW_DIR/state/status.json\"))[\"sessions\"] != 3)'" 3

# dave is disabled: the hook refuses, OpenVPN never completes his connection.
tw_client_try 4 dave
tw_check "dave (disabled) is refused" \
	tw_wait_for "grep -q 'connect dave on tun0: deny (subject disabled' '$TW_DIR/daemon.log'" 10
sleep 1
tw_check "dave never gets a tunnel" \
	eval '! grep -q "Initialization Sequence Completed" "$TW_DIR/client-dave.log"'

# Counters equal what the receiver saw: 300 datagrams of 972 payload bytes = 1000 IP bytes each.
before=$(tw_client_field alice from_bytes)
p0=$(tw_client_field alice from_pkts) d0=$(tw_client_field alice drops)
tw_udp_send "$A" "$TW_SVC_ADDR" 9000 300 972
tw_wait_for "[ \"\$(cut -d' ' -f1 '$TW_DIR/sink9000' 2>/dev/null)\" = 300 ]" 5
read -r got_n got_b <"$TW_DIR/sink9000"
after=$(tw_client_field alice from_bytes)
tw_diag "receiver: $got_n datagrams, $got_b payload bytes; alice from_bytes +$((after - before))"
tw_check_delivered "300 datagrams from alice" 300 "$got_n" \
	$(($(tw_client_field alice from_pkts) - p0)) $(($(tw_client_field alice drops) - d0))
tw_check "alice's from_bytes grew by exactly the IP bytes received" \
	eval '[ $((after - before)) -eq $((got_b + 28 * got_n)) ]'
tb=$(tw_client_field alice to_bytes)
tw_nsexec "$A" ping -c 5 -i 0.2 -s 100 -W 2 -q "$TW_SVC_ADDR" >/dev/null
ta=$(tw_client_field alice to_bytes)
tw_check "5 echo replies of 128 IP bytes counted to alice" eval '[ $((ta - tb)) -eq 640 ]'

# Interim records carry cumulative counters.
tw_check "interim records journaled" \
	tw_wait_for "tw_cli --json log --since 0 | tw_jq \"sum(1 for r in j['records'] if r['kind']=='interim' and r.get('subject')=='alice')\" | grep -qv '^0$'" 12

# Revoke bob mid-session: traffic must stop within 1 s, the session must end.
tw_spawn "$B" "$TW_DIR/bob-ping.log" ping -i 0.1 -W 1 "$TW_SVC_ADDR"
sleep 1
policy_write bob=revoked
t0=$EPOCHREALTIME
kill -HUP "$TW_D_PID"
tw_wait_for "grep -q 'subject bob: no longer allowed' '$TW_DIR/daemon.log'" 3
sleep 1
tw_check "bob's traffic stopped within 1 s of the reload" \
	eval '! tw_nsexec "$B" ping -c2 -i 0.2 -W 1 "$TW_SVC_ADDR"'
tw_check "bob's OpenVPN session was killed" \
	tw_wait_for "! tw_mgmt 'status 3' | grep -q '^CLIENT_LIST.bob'" 5
tw_check "bob's disconnect journaled with Admin-Reset" \
	eval "tw_cli --json log --since 0 | tw_jq \"[r.get('terminate_cause') for r in j['records'] if r['kind']=='disconnect' and r['subject']=='bob']\" | grep -q Admin-Reset"
tw_diag "revocation handled in $(python3 -c "print(round(($EPOCHREALTIME-$t0)*1000))") ms incl. checks"

# A corrupt policy file: error logged, the last good policy stays.
ver=$(tw_cli --json policy | tw_jq "j['version']")
echo '{"type":"snapshot","version": 99, "subjects": [ {"kind":"cn"' >"$TW_DIR/policy.json"
kill -HUP "$TW_D_PID"
tw_check "corrupt policy reported" tw_wait_for "grep -q 'policy $TW_DIR/policy.json:.*keeping version $ver' '$TW_DIR/daemon.log'" 3
tw_check "policy version unchanged" eval '[ "$(tw_cli --json policy | tw_jq "j[\"version\"]")" = "$ver" ]'
tw_cli reload >"$TW_DIR/reload1.out" 2>&1
rc=$?
tw_check "tunwarden reload of the corrupt file exits 1" eval '[ $rc -eq 1 ]'
tw_check "... and says what is wrong with it" \
	grep -q "reload failed: policy $TW_DIR/policy.json: .*keeping version $ver" "$TW_DIR/reload1.out"
# The file at the version in force (a reload made for a configuration edit) is not an error.
TW_POL_VER=$((ver - 1))
policy_write bob=revoked
tw_check "tunwarden reload with the policy at the version in force succeeds" \
	eval 'tw_cli reload | grep -q "reloaded: policy version $ver"'
tw_check "alice still reaches tcp/8080" tw_tcp_ok "$A" 8080

# Taking the programs off: enforcement stops on that interface, nothing else changes.
tw_check "tunwarden detach tun0" eval 'tw_cli detach tun0 >/dev/null'
tw_check "without the programs alice reaches tcp/8081" tw_tcp_ok "$A" 8081
tw_check "no tcx link or cls_bpf filter left on tun0" \
	eval '! ip netns exec "$TW_SRV_NS" bpftool net show dev tun0 | grep -q tw_tun'

tw_done
