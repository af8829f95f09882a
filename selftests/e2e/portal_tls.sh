#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The portal link over TLS (docs/protocol.md 2.1, 3.1), with a test PKI made here, against the
# portal double (portal_double.py in TLS mode: ALPN h2, client certificate required):
#  - the right CA and name: the link comes up over TLS 1.3 with the node's certificate, records
#    go gzip'd and the journal drains;
#  - the wrong CA (retried on the slow schedule), and a server_name the certificate does not name: no connection, "certificate
#    verify failed" in the log and in status, nothing trimmed (records wait);
#  - the CA put right and the configuration reloaded (SIGHUP): the link reconnects at once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon.inc"

tw_e2e_init portal_tls
tw_need_cmd python3 nsenter openssl
PY=
for p in python3 /usr/bin/python3; do "$p" -c 'import h2' 2>/dev/null && PY=$p && break; done
[ -n "$PY" ] || tw_skip_all "python3-h2 not installed (apt-get install python3-h2)"
[ -x "$TW_BIN/tunwardend" ] || tw_skip_all "build the daemon first (make)"
[ "$(stat -fc %T /sys/fs/bpf 2>/dev/null)" = bpf_fs ] || tw_skip_all "no bpffs on /sys/fs/bpf"
tw_on_cleanup 'tw_daemon_cleanup'

tw_topo_create 0
ip -n "$TW_SRV_NS" tuntap add dev tun0 mode tun && ip -n "$TW_SRV_NS" link set tun0 up &&
	ip -n "$TW_SRV_NS" addr add 10.8.0.1/24 dev tun0 || tw_bail "tun0"
tw_daemon_setup
# the double serves the scenario's policy on the policy stream (its faults are the records')
export TW_DOUBLE_POLICY=$TW_DIR/policy.json
PORT=18444

# ---- the PKI: a CA, the portal (IP 127.0.0.1, name portal.test), the node (CN e2e-node); a
# second CA nobody trusts
P=$TW_DIR/pki
mkdir -p "$P"
ca() { # NAME
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj "/CN=$1" -keyout "$P/$1.key" -out "$P/$1.pem" 2>/dev/null
}
leaf() { # NAME CA SAN
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1" \
		-keyout "$P/$1.key" -out "$P/$1.csr" 2>/dev/null &&
		openssl x509 -req -in "$P/$1.csr" -CA "$P/$2.pem" -CAkey "$P/$2.key" \
			-CAcreateserial -days 2 -extfile <(printf 'subjectAltName=%s\n' "$3") \
			-out "$P/$1.pem" 2>/dev/null
}
{ ca ca && ca otherca && leaf portal ca "IP:127.0.0.1,DNS:portal.test" &&
	leaf e2e-node ca "DNS:e2e-node"; } || tw_bail "test PKI"
chmod 600 "$P"/*.key

conf_portal() { # CA [SERVER_NAME]
	sed -i '/^\[portal\]/,$d' "$TW_DIR/tunwarden.conf"
	cat >>"$TW_DIR/tunwarden.conf" <<-EOC
	[portal]
	url = https://127.0.0.1:$PORT/
	ca = $P/$1.pem
	cert = $P/e2e-node.pem
	key = $P/e2e-node.key
	gzip = yes
	${2:+server_name = $2}
	EOC
}
hook() { # TYPE CN
	env -i TUNWARDEN_SOCKET="$TUNWARDEN_SOCKET" script_type="$1" dev=tun0 common_name="$2" \
		trusted_ip=198.18.0.9 trusted_port=5000 ifconfig_pool_remote_ip=10.8.0.9 \
		bytes_received=0 bytes_sent=0 time_duration=1 \
		timeout 10 "$TW_BIN/tunwarden-hook" "$TW_DIR/cc.out" >>"$TW_DIR/hook.log" 2>&1
}
records() { local i; for ((i = 0; i < $1; i += 2)); do hook client-connect alice; hook client-disconnect alice; done; }
status() { tw_cli --json status | tw_jq "$1"; }
rows() { tw_cli --json log | tw_jq "len(j['records'])"; }

TW_DOUBLE_CERT=$P/portal.pem TW_DOUBLE_KEY=$P/portal.key TW_DOUBLE_CA=$P/ca.pem \
	tw_spawn "$TW_SRV_NS" "$TW_DIR/double.log" "$PY" "$(dirname "$0")/portal_double.py" \
	"$PORT" "$TW_DIR/portal.ndjson" normal
DPID=$TW_LAST_PID
tw_wait_log "$TW_DIR/double.log" listening 10 || tw_bail "double did not start"

# ---- the right CA: TLS, mTLS, gzip
conf_portal ca
tw_daemon_start
# alice's sessions need the policy the double serves
tw_wait_for "[ \"\$(status \"j['policy']['source']\")\" = portal ]" 10 ||
	tw_bail "no policy from the double: $(grep portal "$TW_DIR/daemon.log" | tail -n 3)"
records 10
tw_expect "records reach the portal over TLS, gzip'd" "$(tail -n 3 "$TW_DIR/double.log")" \
	tw_wait_for "[ -s '$TW_DIR/portal.ndjson' ] && [ \$(wc -l <'$TW_DIR/portal.ndjson') -ge 10 ]" 10
tw_expect "the journal drains" "rows $(rows)" tw_wait_for "[ \$(rows) = 0 ]" 10
tw_check "status: TLS 1.3" sh -c "'$TW_BIN/tunwarden' --json status | grep -q '\"transport\": *\"h2 TLSv1.3'"
tw_check "the body was gzip'd" grep -q "request body: gzip" "$TW_DIR/double.log"
tw_check "the portal saw the node's certificate" grep -q "e2e-node" "$TW_DIR/double.log"
tw_daemon_cleanup
wait "$TW_D_PID" 2>/dev/null

# ---- wrong CA: refused, records wait
conf_portal otherca
tw_daemon_start
records 4
tw_expect "wrong CA: certificate verify failed" "$(grep portal "$TW_DIR/daemon.log" | tail -n 2)" \
	tw_wait_log "$TW_DIR/daemon.log" "connection failed: TLS: certificate verify failed" 10
# a certificate failure goes on the slow schedule (60 s doubling, jitter [d/2, d])
tw_check "wrong CA: retried on the slow schedule (>= 30 s)" grep -qE \
	"certificate verify failed.*reconnecting in ([3-5][0-9]|60)\." "$TW_DIR/daemon.log"
tw_check "wrong CA: status says so" sh -c "'$TW_BIN/tunwarden' --json status | grep -q 'certificate verify failed'"
tw_check "wrong CA: nothing trimmed" [ "$(rows)" -ge 4 ]
# ---- the right CA by reload: the link reconnects at once, without a restart or the slow wait
conf_portal ca
kill -HUP "$TW_D_PID"
tw_expect "reload with the right CA: the journal drains" "rows $(rows)" \
	tw_wait_for "[ \$(rows) = 0 ]" 10
tw_check "reload: reconnected with the new settings" grep -q \
	"reconnecting with the new \[portal\] settings" "$TW_DIR/daemon.log"
tw_check "reload: the same daemon process" kill -0 "$TW_D_PID"
tw_daemon_cleanup
wait "$TW_D_PID" 2>/dev/null

# ---- a name the certificate does not carry
conf_portal ca other.test
tw_daemon_start
records 4 # the reload above sent the others
tw_expect "wrong name: refused" "$(grep portal "$TW_DIR/daemon.log" | tail -n 2)" \
	tw_wait_log "$TW_DIR/daemon.log" "certificate verify failed: hostname mismatch" 10
tw_check "wrong name: nothing trimmed" [ "$(rows)" -ge 4 ]
tw_daemon_cleanup
wait "$TW_D_PID" 2>/dev/null

# ---- an independent HTTP/2 server (nghttpd) where the portal should be: TLS and h2 come up
# with it; nghttpd answers a POST only after the whole body, which the record stream never ends:
# the node gives up on the response headers after connect_timeout and retries
if command -v nghttpd >/dev/null; then
	tw_kill "$DPID"
	mkdir -p "$TW_DIR/htdocs"
	tw_spawn "$TW_SRV_NS" "$TW_DIR/nghttpd.log" nghttpd -d "$TW_DIR/htdocs" "$PORT" \
		"$P/portal.key" "$P/portal.pem"
	tw_wait_for "ip netns exec '$TW_SRV_NS' ss -Hltn 'sport = :$PORT' | grep -q LISTEN" 5
	conf_portal ca
	tw_daemon_start
	tw_expect "nghttpd: connected over TLS" "$(grep portal "$TW_DIR/daemon.log" | tail -n 2)" \
		tw_wait_log "$TW_DIR/daemon.log" "portal: connected (h2 TLSv1.3" 10
	tw_expect "nghttpd: no response headers: the stream is reset and retried" \
		"$(grep portal "$TW_DIR/daemon.log" | tail -n 2)" tw_wait_log "$TW_DIR/daemon.log" \
		"record stream: no response headers within connect_timeout; retrying in" 20
	tw_check "nghttpd: nothing trimmed" [ "$(rows)" -ge 4 ]
else
	tw_skip "nghttpd: not installed"
fi

tw_done
