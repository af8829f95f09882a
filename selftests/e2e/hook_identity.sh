#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Forged hook requests (issue 13, items 1, 4 and 11). OpenVPN runs as a dedicated user, which is
# also tunwardend's hook_user/hook_group, and a process with that uid/gid (setpriv, not root)
# sends connect/disconnect requests of its own to the control socket while real OpenVPN clients
# connect. The daemon must re-check them as strictly as tunwarden-hook checks OpenVPN's
# environment: no client at a service's address or outside the tunnel's subnet, no other CN's
# session ended, no source banned by quick rounds, no 10,000-byte or multi-line CN, no connect
# applied past the hook's deadline. Meanwhile a real client is admitted within 50 ms, status
# answers, and a UTF-8 CN is admitted and journaled intact.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon.inc"

tw_e2e_init hook_identity
tw_need_cmd openvpn python3 setpriv useradd userdel bpftool
[ -x "$TW_BIN/tunwardend" ] || tw_skip_all "build the daemon first (make)"
PY=/usr/bin/python3 # the attacker's interpreter: readable by any uid
[ -x "$PY" ] || tw_skip_all "no $PY for the unprivileged attacker"

# The dedicated OpenVPN user and group, created for this run only.
HOOK_USER=tw-hook-$$
err=$(useradd --system --user-group --no-create-home --shell /usr/sbin/nologin "$HOOK_USER" 2>&1) ||
	tw_skip_all "cannot create the user $HOOK_USER: $err"
# Cleanup hooks run before lib.sh stops the processes: stop the ones running as the user first
# (the OpenVPN server, the flood), or userdel refuses.
hook_user_cleanup() {
	tw_kill ${TW_SRV_PID:+"$TW_SRV_PID"} ${FLOOD_PID:+"$FLOOD_PID"}
	userdel "$HOOK_USER" || tw_diag "userdel $HOOK_USER failed: remove it by hand"
	! getent group "$HOOK_USER" >/dev/null || groupdel "$HOOK_USER"
}
tw_on_cleanup hook_user_cleanup
tw_on_cleanup 'tw_daemon_cleanup'
HOOK_UID=$(id -u "$HOOK_USER")
HOOK_GID=$(id -g "$HOOK_USER")
AS_HOOK=(setpriv --reuid="$HOOK_UID" --regid="$HOOK_GID" --clear-groups)

TW_BAN_N=2
TW_CONFIRM_TIMEOUT=1m
UTF8_CN=$'Zo\xc3\xab M\xc3\xbcller \xe6\x9d\x8e'
tw_topo_create 2
tw_daemon_setup
sed -i "s|^management = .*|&\nhook_user = $HOOK_USER\nhook_group = $HOOK_USER|" "$TW_DIR/tunwarden.conf"
# the policy plus one subject with a UTF-8 id
python3 - "$TW_DIR/policy.json" "$UTF8_CN" <<-'PY'
import json, sys
p = json.load(open(sys.argv[1], encoding="utf-8"))
p["subjects"].append({"kind": "cn", "id": sys.argv[2], "tenant": "acme", "profiles": ["staff"],
                      "state": "enabled"})
json.dump(p, open(sys.argv[1], "w", encoding="utf-8"), ensure_ascii=False)
PY
chmod 755 "$TW_DIR" "$TW_DIR/run"
# The hook runs as $HOOK_USER, who may not reach the build directory (a checkout under /root, as
# in make fresh-check): OpenVPN and the timed connects below run a copy in the scenario's own
# directory.
HOOK_BIN=$TW_DIR/bin/tunwarden-hook
install -m 0755 -D "$TW_BIN/tunwarden-hook" "$HOOK_BIN" || tw_bail "cannot copy the hook"
tw_pki alice bob
tw_daemon_start
TW_OVPN_EXTRA+=("user $HOOK_USER" "group $HOOK_USER" "persist-tun" "persist-key")
tw_ovpn_server_start "$HOOK_BIN" tun0 "setenv TUNWARDEN_SOCKET $TW_DIR/run/ctl.sock" \
	"${TW_OVPN_EXTRA[@]}"
tw_wait_log "$TW_DIR/daemon.log" "enforcing on tun0" 10 || tw_bail "tun0 not attached"
tw_tcp_listen 8080

tw_ovpn_clients_start alice
A=$(tw_client_ns 1)
tw_check "alice, admitted through the hook running as $HOOK_USER" tw_tcp_ok "$A" 8080
A_POOL=$(tw_tun_addr "$A")
A_REAL=$(tw_client_field alice real)
A_PORT=$(tw_client_field alice real_port)
tw_diag "alice: pool $A_POOL, real $A_REAL port $A_PORT"

# forge JSON...: each JSON request on its own connection to the control socket, as the hook's
# uid/gid; one reply line per request on stdout. "@MONO-1000" in a request becomes
# CLOCK_MONOTONIC ms - 1000.
cat >"$TW_DIR/forge.py" <<'PY'
import socket, sys, time
reqs, end = sys.argv[2:], 0
if reqs[0] == "--loop": # --loop SECS REQ...: repeat REQ... for SECS seconds, 5 ms apart
    reqs, end = reqs[2:], time.monotonic() + float(reqs[1])
    reqs = reqs * 100000
for req in reqs:
    if end and time.monotonic() > end:
        break
    if end:
        time.sleep(0.005)
    now = int(time.clock_gettime(time.CLOCK_MONOTONIC) * 1000)
    req = req.replace('"@MONO-1000"', str(now - 1000))
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(sys.argv[1])
    s.sendall(req.encode("utf-8", "surrogateescape") + b"\n")
    buf = b""
    while not buf.endswith(b"\n"):
        d = s.recv(65536)
        if not d:
            break
        buf += d
    sys.stdout.write(buf.decode("utf-8", "replace").strip() + "\n")
    sys.stdout.flush()
    s.close()
PY
forge() {
	"${AS_HOOK[@]}" "$PY" "$TW_DIR/forge.py" "$TUNWARDEN_SOCKET" "$@"
}
# env JSON: an "env" member as the hook sends it; ARGS are KEY=VALUE over a default of carol.
envj() {
	python3 - "$@" <<-'PY'
	import json, sys
	e = {"dev": "tun0", "common_name": "carol", "trusted_ip": "198.18.0.99",
	     "trusted_port": "40000", "pool_ip": "10.8.0.99"}
	for kv in sys.argv[1:]:
	    k, _, v = kv.partition("=")
	    if v == "":
	        e.pop(k, None)
	    else:
	        e[k] = v.replace("\\n", "\n")
	print(json.dumps(e))
	PY
}
req() { # OP [KEY=VALUE...]
	local op=$1
	shift
	printf '{"op":"%s","vpn":"openvpn","env":%s}' "$op" "$(envj "$@")"
}
listed() { tw_cli --json clients | tw_jq "[c['cn'] for c in j['clients']]"; }

# ---- a client at a service's address, or outside the tunnel's subnet
out=$(forge "$(req connect "pool_ip=$TW_SVC_ADDR")")
tw_expect "connect at the service's address $TW_SVC_ADDR is refused" "$out" \
	eval '[[ $out == *"is outside the interface"* ]]'
tw_check "... carol is not registered" eval "! listed | grep -q carol"
tw_check "... alice (another tenant) still reaches the service" tw_tcp_ok "$A" 8080
out=$(forge "$(req connect pool_ip=10.8.1.77)" "$(req connect pool_ip=10.8.0.1)" \
	"$(req connect pool_ip=10.8.0.255)")
tw_expect "connects outside the pool subnet, at the server's or the broadcast address are refused" \
	"$out" eval '[ "$(grep -c "refused" <<<"$out")" -eq 3 ]'
out=$(forge "$(req connect "pool_ip=$A_POOL")")
tw_expect "connect at alice's live address is refused with a reason" "$out" \
	eval '[[ $out == *"belongs to the live session of another client"* ]]'
tw_check "... alice still reaches the service" tw_tcp_ok "$A" 8080
out=$(forge "$(req connect trusted_ip= trusted_port=)" "$(req connect trusted_port=)" \
	"$(req connect trusted_port=99999)")
tw_expect "connects without trusted_ip, trusted_port, or with a bad port are refused" "$out" \
	eval '[ "$(grep -c "refused" <<<"$out")" -eq 3 ]'
tw_check "... carol is still not registered" eval "! listed | grep -q carol"

# ---- another CN's session ended by a forged disconnect
out=$(forge "$(req disconnect common_name=alice trusted_ip= trusted_port= pool_ip=)" \
	"$(req disconnect common_name=alice trusted_ip="$A_REAL" trusted_port="$A_PORT" \
		pool_ip=10.8.0.98)" \
	"$(req disconnect common_name=alice trusted_ip=198.18.0.99 trusted_port="$A_PORT" \
		pool_ip="$A_POOL")")
tw_diag "forged disconnects: $(tr '\n' ' ' <<<"$out")"
tw_check "forged disconnects of alice's session are refused or ignored" \
	eval "listed | grep -q alice"
tw_check "... alice still reaches the service" tw_tcp_ok "$A" 8080
tw_check "... and the ignored ones are logged" \
	grep -q "disconnect alice from .*: not the live session" "$TW_DIR/daemon.log"

# ---- a ban of an arbitrary source provoked by connect/disconnect rounds (frank: sandboxed)
for round in 1 2 3; do
	forge "$(req connect common_name=frank trusted_ip=203.0.113.7 pool_ip=10.8.0.97)" \
		"$(req disconnect common_name=frank trusted_ip=203.0.113.7 pool_ip=10.8.0.97)" \
		>>"$TW_DIR/ban-rounds.out"
done
tw_expect "each forged round was admitted into the sandbox and ended" \
	"$(tr '\n' ' ' <"$TW_DIR/ban-rounds.out")" \
	eval '[ "$(grep -c "\"verdict\":\"sandbox\"" "$TW_DIR/ban-rounds.out")" -eq 3 ]'
tw_check "3 forged rounds ban no subject" eval "! grep -q 'banned' '$TW_DIR/daemon.log'"
tw_check "... and no source address in the uplink map" \
	eval "! bpftool map dump pinned '$TW_D_PINROOT/tw1_bans' | grep -q prefixlen"

# ---- long and multi-line CNs; everything logged from a request stays one line
long=$(printf 'x%.0s' $(seq 10000))
out=$(forge "$(req connect "common_name=$long")")
tw_expect "a 10,000-byte CN is refused" "${out:0:200}" \
	eval '[[ ${out:0:300} == *"longer than 255 bytes (10000)"* ]]'
out=$(forge "$(req connect 'common_name=mallory\nFORGED: info: connect bob on tun0 slot 9: permit')" \
	"$(req disconnect 'common_name=alice\nFORGED line')")
tw_expect "a CN with a newline is refused, on connect and disconnect" "$out" \
	eval '[ "$(grep -c "control character" <<<"$out")" -eq 2 ]'
tw_check "... and no log line starts with the injected text" \
	eval "! grep -q '^FORGED' '$TW_DIR/daemon.log'"
tw_check "... the refusal is logged escaped" \
	grep -q 'hook request refused: connect mallory\\x0aFORGED' "$TW_DIR/daemon.log"
tw_expect "no daemon log line is longer than 2,000 bytes" \
	"$(awk '{ if (length($0) > m) m = length($0) } END { print m }' "$TW_DIR/daemon.log")" \
	eval "[ \"\$(awk '{ if (length(\$0) > m) m = length(\$0) } END { print m + 0 }' '$TW_DIR/daemon.log')\" -le 2000 ]"

# ---- a connect whose deadline has passed (the hook has refused the client already)
out=$(forge "{\"op\":\"connect\",\"vpn\":\"openvpn\",\"deadline_ms\":\"@MONO-1000\",\"env\":$(envj)}")
tw_expect "a connect past its deadline is dropped" "$out" \
	eval '[[ $out == *"deadline passed"* ]]'
tw_check "... not applied: carol is not registered" eval "! listed | grep -q carol"
tw_check "... logged" grep -q "connect carol: the hook's deadline passed" "$TW_DIR/daemon.log"
tw_check "... and counted" \
	eval 'tw_metrics | grep -q "^tunwarden_hook_requests_expired_total 1$"'
tw_check "refusals are counted" \
	eval 'tw_metrics | grep -q "^tunwarden_hook_requests_refused_total [1-9]"'

# ---- meanwhile: a flood of forged requests, and a real client connecting
reqs=("$(req connect "pool_ip=$TW_SVC_ADDR")" "$(req disconnect common_name=alice)"
	"$(req connect "common_name=$long")")
forge --loop 20 "${reqs[@]}" >"$TW_DIR/flood.out" 2>&1 &
FLOOD_PID=$!
TW_PIDS+=("$FLOOD_PID")
sleep 1
tw_client_try 2 bob
B=$(tw_client_ns 2)
tw_check "bob, a real client, is admitted while forged requests arrive" \
	tw_wait_for "tw_tcp_ok '$B' 8080 >/dev/null" 20
# the hook as OpenVPN runs it (as $HOOK_USER), timed
hook_connect() { # CN OCTET
	env -i TUNWARDEN_SOCKET="$TUNWARDEN_SOCKET" script_type=client-connect dev=tun0 \
		common_name="$1" trusted_ip=198.18.0.$2 trusted_port=5000 \
		ifconfig_pool_remote_ip=10.8.0.$2 \
		"${AS_HOOK[@]}" "$HOOK_BIN" "$TW_DIR/cc-$2.out"
}
# the first connect of the UTF-8 CN, then four more (each preempts the last): the median counts
times=()
for octet in 60 60 60 60 60; do
	t0=$EPOCHREALTIME
	hook_connect "$UTF8_CN" "$octet" >"$TW_DIR/hook60.out" 2>&1
	rc=$?
	times+=($(((${EPOCHREALTIME/./} - ${t0/./}) / 1000)))
	[ $rc -eq 0 ] || break
done
tw_diag "hook connects of the UTF-8 CN: ${times[*]} ms"
median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 3p)
tw_expect "a UTF-8 CN is admitted by the hook (as $HOOK_USER) during the flood" \
	"exit $rc: $(head -c 200 "$TW_DIR/hook60.out")" eval "[ $rc -eq 0 ]"
tw_expect "... within $((50 * TW_E2E_SLACK)) ms" "${times[*]} ms, median ${median:-none}" \
	eval "[ '${median:-99999}' -le $((50 * TW_E2E_SLACK)) ]"
tw_check "status answers during the flood" timeout 5 "$TW_BIN/tunwarden" status
kill "$FLOOD_PID" 2>/dev/null
wait "$FLOOD_PID"
tw_expect "the forged flood was answered throughout" "$(wc -l <"$TW_DIR/flood.out") replies" \
	eval '[ "$(grep -c "refused" "$TW_DIR/flood.out")" -ge 20 ]'
has_subject() { # CLI-ARGS...: the CLI's JSON lists a record or client with subject UTF8_CN
	tw_cli --json "$@" | python3 -c '
import json, sys
j = json.load(sys.stdin)
sys.exit(0 if sys.argv[1] in [r.get("cn", r.get("subject")) for r in j.get("clients", j.get("records", []))] else 1)
' "$UTF8_CN"
}
tw_check "the UTF-8 CN is listed intact" has_subject clients
tw_check "... and journaled intact" has_subject log --since 0
tw_check "alice and bob are still connected" eval "listed | grep -q alice && listed | grep -q bob"
tw_check "no forged CN is registered" eval "! listed | grep -Eq 'carol|frank|mallory|xxxx'"
tw_done
