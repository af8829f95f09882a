#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Bad input and hard conditions around tunwardend, each a clear error with nothing already
# accepted lost: malformed hook environments, an unknown interface, garbage on the control
# socket, a journal on a full disk, and a cold start from the policy cache when the policy file
# is gone.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon.inc"

tw_e2e_init openvpn_badinput
tw_need_cmd openvpn python3 setpriv
[ -x "$TW_BIN/tunwardend" ] || tw_skip_all "build the daemon first (make)"
tw_on_cleanup 'umount -l "$TW_DIR/state" 2>/dev/null; tw_daemon_cleanup'

tw_topo_create 2
tw_daemon_setup
# the journal on a small file system of its own, to fill it later
mount -t tmpfs -o size=12m,mode=0700 tw-state "$TW_DIR/state" || tw_bail "tmpfs for the state dir"
tw_pki alice bob
tw_daemon_start
tw_ovpn_server_with_daemon
tw_tcp_listen 8080
tw_ovpn_clients_start alice
A=$(tw_client_ns 1)
tw_check "alice connected" tw_tcp_ok "$A" 8080

hook() { # ENV... : run the hook as OpenVPN would, in the server namespace
	env -i TUNWARDEN_SOCKET="$TUNWARDEN_SOCKET" "$@" \
		ip netns exec "$TW_SRV_NS" "$TW_BIN/tunwarden-hook" "$TW_DIR/cc.out" 2>&1
}
hook script_type=client-connect dev=tun0 trusted_ip=198.18.0.50 trusted_port=1 \
	ifconfig_pool_remote_ip=10.8.0.50 >"$TW_DIR/h1.out"
rc=$?
tw_check "hook without common_name exits 1" eval '[ $rc -eq 1 ]'
tw_check "... naming the variable" grep -qi "common_name" "$TW_DIR/h1.out"
hook script_type=client-connect dev=tun0 common_name=bob trusted_ip=198.18.0.50 \
	trusted_port=12a ifconfig_pool_remote_ip=10.8.0.50 >"$TW_DIR/h2.out"
rc=$?
tw_check "hook with a bad trusted_port exits 1" eval '[ $rc -eq 1 ]'
tw_check "... and quotes the value" grep -q "trusted_port.*12a" "$TW_DIR/h2.out"
hook script_type=client-connect dev=nope0 common_name=bob trusted_ip=198.18.0.50 \
	trusted_port=5000 ifconfig_pool_remote_ip=10.8.0.50 >"$TW_DIR/h3.out"
rc=$?
tw_check "connect on an unknown interface is refused" eval '[ $rc -eq 1 ]'
tw_check "... naming the interface" grep -q "unknown interface 'nope0'" "$TW_DIR/h3.out"

# Any local user can reach the socket; only root and the configured hook user may connect.
env -i TUNWARDEN_SOCKET="$TUNWARDEN_SOCKET" script_type=client-connect dev=tun0 \
	common_name=bob trusted_ip=198.18.0.50 trusted_port=5000 ifconfig_pool_remote_ip=10.8.0.50 \
	ip netns exec "$TW_SRV_NS" setpriv --reuid=65534 --regid=65534 --clear-groups \
	"$TW_BIN/tunwarden-hook" "$TW_DIR/cc4.out" >"$TW_DIR/h4.out" 2>&1
rc=$?
tw_check "an unprivileged user's connect is refused" eval '[ $rc -eq 1 ]'
tw_check "... as a permission matter" grep -q "permission denied" "$TW_DIR/h4.out"

# Operator bans of a real source address go to the uplink map.
tw_check "tunwarden ban ADDR --for 1h" eval 'tw_cli ban 203.0.113.7 --for 1h >/dev/null'
tw_check "the address is in the uplink ban map" \
	eval "bpftool map dump pinned '$TW_D_PINROOT/tw1_bans' | grep -q '\"prefixlen\": 64'"
tw_check "a prefix with host bits is refused, naming it" \
	eval 'tw_cli ban 203.0.113.7/24 2>&1 | grep -q "203.0.113.7/24"'
tw_check "tunwarden unban ADDR" eval 'tw_cli unban 203.0.113.7 >/dev/null'
tw_check "the ban map is empty again" \
	eval "! bpftool map dump pinned '$TW_D_PINROOT/tw1_bans' | grep -q prefixlen"

# Garbage on the control socket: an error line back, and the daemon keeps serving.
reply=$(python3 - "$TUNWARDEN_SOCKET" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(3)
s.sendall(b'{"op": "status", \n' + b'x' * 70000 + b'\n{"op":"nope"}\n')
buf = b""
while buf.count(b"\n") < 3:
    d = s.recv(65536)
    if not d: break
    buf += d
print(buf.decode(errors="replace"))
PY
)
tw_check "invalid JSON answered with an error" eval 'echo "$reply" | grep -q "invalid JSON"'
tw_check "an over-long line answered with an error" eval 'echo "$reply" | grep -q "longer than"'
tw_check "an unknown op named" eval "echo \"\$reply\" | grep -q \"unknown op 'nope'\""
tw_check "daemon still serves" eval 'tw_cli status >/dev/null'

# A full disk under the journal: connects are refused with a clear error, nothing stored is lost.
before=$(tw_cli --json log --since 0 | tw_jq "len(j['records'])")
dd if=/dev/zero of="$TW_DIR/state/fill" bs=64k 2>/dev/null
tw_check "the state file system is full" eval '[ "$(df --output=avail "$TW_DIR/state" | tail -1)" -lt 64 ]'
tw_client_try 2 bob
tw_check "bob's connect refused while the journal cannot write" \
	tw_wait_for "grep -q 'journal: connect record for bob' '$TW_DIR/daemon.log'" 15
tw_check "the refusal says why" \
	tw_wait_for "grep -q 'bob: refusing.*journal unavailable' '$TW_SRV_LOG'" 5
tw_check "earlier records are all still there" \
	eval '[ "$(tw_cli --json log --since 0 | tw_jq "len(j[\"records\"])")" -ge "$before" ]'
tw_check "alice's session is untouched" tw_tcp_ok "$A" 8080
rm -f "$TW_DIR/state/fill"
# OpenVPN's client gives up after AUTH_FAILED; start it again
tw_kill "${TW_CLIENT_PIDS[2]}"
tw_client_try 2 bob
tw_check "with space again, bob gets in" \
	tw_wait_for "grep -q 'connect bob on tun0 slot .*: permit' '$TW_DIR/daemon.log'" 20

# Cold start: the policy file is gone; the cached copy in the state dir is used, and since its
# age is unknown, the offline mode decides (known subjects only, as configured).
tw_daemon_kill9
mv "$TW_DIR/policy.json" "$TW_DIR/policy.json.away"
tw_daemon_start
tw_check "the daemon says it runs on the cached policy" \
	grep -q "using cached policy version" "$TW_DIR/daemon.log"
tw_check "the missing policy file is reported" \
	grep -q "policy $TW_DIR/policy.json: No such file" "$TW_DIR/daemon.log"
tw_ovpn_client_stop 1
tw_client_try 1 alice
tw_check "alice is admitted from the cache, flagged as stale" \
	tw_wait_for "grep -q 'connect alice on tun0 slot .*: permit (enabled (policy stale' '$TW_DIR/daemon.log'" 25
# docs/protocol.md 8: a connect decided in offline mode leaves a decision record with the version.
tw_check "the stale admission leaves a decision record naming the policy version" \
	tw_wait_for "tw_cli --json log --since 0 | tw_jq \"sum(1 for r in j['records'] if r['kind']=='decision' and r.get('subject')=='alice' and r.get('policy_version',0) > 0 and r.get('detail','').startswith('admitted: policy stale (never confirmed, version '))\" | grep -qv '^0$'" 10

tw_done
