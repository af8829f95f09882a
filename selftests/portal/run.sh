#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# run.sh BUILD_DIR - the reference portal (tunwarden-portal) against independent HTTP/2
# clients: curl (h2 over TLS with client certificates, h2c with prior knowledge), h2load, raw
# sockets; rows checked with the sqlite3 CLI. Loopback only. TAP, closing with
# "N passed, N failed, N skipped".
set -uo pipefail

[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
P=$(cd "$1" && pwd)/tunwarden-portal
n=0 passed=0 failed=0 skipped=0

ok() { n=$((n + 1)); passed=$((passed + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; shift; for l in "$@"; do echo "#   $l"; done; }
skip() { n=$((n + 1)); skipped=$((skipped + 1)); echo "ok $n - $1 # SKIP $2"; }
check() { # NAME COND-COMMAND... : pass when the command succeeds
	local name=$1; shift
	if "$@"; then ok "$name"; else nok "$name" "failed: $*"; fi
}
finish() {
	echo "1..$n"
	echo "$passed passed, $failed failed, $skipped skipped"
	[ "$failed" -eq 0 ]
	exit
}

for tool in curl sqlite3 openssl; do
	command -v $tool >/dev/null || { skip "portal suite" "$tool not installed"; finish; }
done
[ -x "$P" ] || { nok "portal binary" "$P missing"; finish; }

dir=$(mktemp -d /tmp/tw-portal-test.XXXXXX)
pid=
cleanup() {
	[ -z "$pid" ] || kill -KILL "$pid" 2>/dev/null
	for p in "${bg[@]:-}"; do [ -z "$p" ] || kill -KILL "$p" 2>/dev/null; done
	rm -rf "$dir"
}
bg=()
trap cleanup EXIT
port=$((20000 + $$ % 20000))
tport=$((port + 1))

"$here/pki.sh" "$dir/pki" node-a node-b node-c >/dev/null 2>&1 || { nok "test PKI" "pki.sh failed"; finish; }
cat >"$dir/portal.conf" <<CONF
# test portal
[server]
listen = 127.0.0.1:$tport
listen_h2c = 127.0.0.1:$port
cert = $dir/pki/server.pem
key = $dir/pki/server.key
client_ca = $dir/pki/ca.pem
idle_timeout = 5s
handshake_timeout = 2s
[store]
database = $dir/records.db
policy_database = $dir/policy.db
CONF
portal() { "$P" -c "$dir/portal.conf" "$@"; }
quiet() { "$@" >/dev/null; }
start() {
	"$P" -c "$dir/portal.conf" serve >>"$dir/serve.log" 2>&1 &
	pid=$!
	for _ in $(seq 50); do
		curl -s --http2-prior-knowledge -o /dev/null "http://127.0.0.1:$port/" && return 0
		sleep 0.1
	done
	return 1
}
rows() { sqlite3 "$dir/records.db" "SELECT count(*) FROM records WHERE node='$1'"; }

L=0123456789abcdef0123456789abcdef
rec() { # NODE SEQ [KIND]
	printf '{"v":1,"kind":"%s","seq":%s,"time_ns":1763783400000000000,"node":"%s","log_id":"%s","session":"s-%s","subject":"alice@example.org","tenant":"acme","profile":"employees","tunnel_ipv4":"10.8.0.2","real_addr":"192.0.2.10","real_port":40001,"policy_version":42}\n' \
		"${3:-connect}" "$2" "$1" "$L" "$2"
}
H2C=(curl -sS --http2-prior-knowledge --max-time 10 -H 'content-type: application/x-ndjson'
	-H "tunwarden-log-id: $L")
TOKB=(-H "authorization: Bearer tok-b-123")
TLS=(curl -sS --http2 --max-time 10 --cacert "$dir/pki/ca.pem" -H 'content-type: application/x-ndjson'
	-H "tunwarden-log-id: $L")
url() { echo "http://127.0.0.1:$port/v1/nodes/$1/records"; }
turl() { echo "https://127.0.0.1:$tport/v1/nodes/$1/records"; } # an IP: a bare root may have no /etc/hosts

# --- configuration errors name file:line
printf '[server]\nlisten_h2c = 127.0.0.1:1\nbogus = 1\n' >"$dir/bad.conf"
out=$("$P" -c "$dir/bad.conf" node list 2>&1)
check "config error names file:line and key" grep -q "bad.conf:3: unknown key \"bogus\"" <<<"$out"
printf '[server]\nlisten_h2c = 192.0.2.1:8080\n[store]\ndatabase = %s/x.db\npolicy_database = %s/y.db\n' "$dir" "$dir" >"$dir/bad2.conf"
out=$("$P" -c "$dir/bad2.conf" serve 2>&1)
rc=$?
check "h2c refused on a non-loopback address" grep -q "h2c only on a loopback" <<<"$out"
check "a server that cannot start exits 1 (rc $rc)" test "$rc" = 1

# --- enrolment
printf 'tok-b-123\n' >"$dir/tokb"
check "node add (certificate)" quiet portal node add node-a
check "node add (token)" quiet portal node add node-b --token-file "$dir/tokb"
out=$(portal node add node-a 2>&1)
check "node add twice is refused" grep -q "enrolled already" <<<"$out"
start || { nok "portal starts" "$(cat "$dir/serve.log")"; finish; }
ok "portal starts"

# --- finite POST over h2c with a token
for i in 1 2 3; do rec node-b $i; done >"$dir/b1"
out=$("${H2C[@]}" "${TOKB[@]}" -D "$dir/h" --data-binary @"$dir/b1" "$(url node-b)")
check "h2c POST: resume-after 0" grep -qi '^tunwarden-resume-after: 0' "$dir/h"
check "h2c POST: final ack 3" test "$out" = '{"ack":3}'
check "h2c POST: 3 rows in SQLite" test "$(rows node-b)" = 3

# --- duplicates acked, not stored
for i in 1 2 3 4 5; do rec node-b $i; done >"$dir/b2"
out=$("${H2C[@]}" "${TOKB[@]}" -D "$dir/h" --data-binary @"$dir/b2" "$(url node-b)")
check "resume-after is the durable max (3)" grep -qi '^tunwarden-resume-after: 3' "$dir/h"
check "duplicates acked: ack 5" test "$out" = '{"ack":5}'
check "duplicates not stored: 5 rows" test "$(rows node-b)" = 5

out=$(rec node-b 2 | sed 's/alice@/mallory@/' | "${H2C[@]}" "${TOKB[@]}" --data-binary @- "$(url node-b)")
check "a duplicate with other bytes: acked, the stored row kept" \
	eval '[ "$out" = "{\"ack\":5}" ] && [ "$(sqlite3 "$dir/records.db" "SELECT subject FROM records WHERE node='"'"'node-b'"'"' AND seq=2")" = alice@example.org ]'
check "... and logged" grep -q 'seq 2 sent again with other bytes than stored' "$dir/serve.log"

# --- error lines (4.6): nothing stored from the offending line on
{ rec node-b 6; rec node-b 7 helth; rec node-b 8; } >"$dir/b3"
out=$("${H2C[@]}" "${TOKB[@]}" --data-binary @"$dir/b3" "$(url node-b)")
check "bad record: ack 6 then error bad_record seq 7" \
	grep -qzE '^\{"ack":6\}.\{"error":"bad_record","seq":7,"message":".*unknown kind' <<<"$out"
check "bad record: rows up to 6 only" test "$(rows node-b)" = 6
out=$({ rec node-a 9; } | "${H2C[@]}" "${TOKB[@]}" --data-binary @- "$(url node-b)")
check "record of another node: wrong_node" grep -q '"error":"wrong_node","seq":9' <<<"$out"
out=$({ rec node-b 20; rec node-b 19; } | "${H2C[@]}" "${TOKB[@]}" --data-binary @- "$(url node-b)")
check "decreasing seq: ack 20, out_of_order 19" grep -qzE '"ack":20\}.*"out_of_order","seq":19' <<<"$out"
out=$({ printf '{"v":1,"kind":"connect","seq":30,"x":"%s"}\n' "$(head -c 20000 /dev/zero | tr '\0' a)"; } |
	"${H2C[@]}" "${TOKB[@]}" --data-binary @- "$(url node-b)")
check "line over 16384 bytes: too_long" grep -q '"error":"too_long"' <<<"$out"
out=$({ rec node-b 21; } | sed "s/$L/ffffffffffffffffffffffffffffffff/" |
	"${H2C[@]}" "${TOKB[@]}" --data-binary @- "$(url node-b)")
check "record of another log: wrong_log" grep -q '"error":"wrong_log"' <<<"$out"
code=$("${H2C[@]}" "${TOKB[@]}" -o /dev/null -w '%{http_code}' -H 'tunwarden-log-id: XYZ' --data-binary @"$dir/b1" "$(url node-b)")
check "bad log id header: 400" test "$code" = 400

# --- gzip request body
{ rec node-b 22; rec node-b 23; } | gzip -c >"$dir/b4.gz"
out=$("${H2C[@]}" "${TOKB[@]}" -H 'content-encoding: gzip' --data-binary @"$dir/b4.gz" "$(url node-b)")
check "gzip body: ack 23" test "$out" = '{"ack":23}'
code=$("${H2C[@]}" "${TOKB[@]}" -o /dev/null -w '%{http_code}' -H 'content-encoding: br' --data-binary @"$dir/b1" "$(url node-b)")
check "unknown content-encoding: 415" test "$code" = 415

# --- a large gzip body and a throughput figure (not pass/fail)
L4=bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb
awk -v L=$L4 'BEGIN { for (i = 1; i <= 50000; i++) printf "{\"v\":1,\"kind\":\"interim\",\"seq\":%d,\"time_ns\":1763783400000000000,\"node\":\"node-b\",\"log_id\":\"%s\",\"session\":\"s-%d\",\"subject\":\"u%d@example.org\",\"from_bytes\":%d,\"from_packets\":1,\"to_bytes\":2,\"to_packets\":1,\"drop_packets\":0,\"drop_bytes\":0}\n", i, L, i % 100, i % 100, i }' >"$dir/big"
gzip -c "$dir/big" >"$dir/big.gz"
t0=$(date +%s%N)
out=$("${H2C[@]}" "${TOKB[@]}" -H "tunwarden-log-id: $L4" -H 'content-encoding: gzip' --data-binary @"$dir/big.gz" "$(url node-b)" | tail -n1)
ms=$((($(date +%s%N) - t0) / 1000000))
check "50000 records, gzip ($(($(stat -c %s "$dir/big") / 1024)) KiB -> $(($(stat -c %s "$dir/big.gz") / 1024)) KiB): final ack 50000" \
	test "$out" = '{"ack":50000}'
check "... 50000 rows" test "$(sqlite3 "$dir/records.db" "SELECT count(*) FROM records WHERE log_id='$L4'")" = 50000
echo "# 50000 records (gzip) stored and acked in $ms ms: $((50000 * 1000 / (ms + 1))) records/s"

# --- identity (3.3)
for i in 1 2; do rec node-a $i; done >"$dir/a1"
out=$("${TLS[@]}" --cert "$dir/pki/node-a.pem" --key "$dir/pki/node-a.key" -D "$dir/h" \
	--data-binary @"$dir/a1" "$(turl node-a)")
check "TLS + client cert: ack 2" test "$out" = '{"ack":2}'
check "TLS + client cert: HTTP/2" grep -q '^HTTP/2 200' "$dir/h"
check "TLS + client cert: 2 rows" test "$(rows node-a)" = 2
code=$("${TLS[@]}" --cert "$dir/pki/node-a.pem" --key "$dir/pki/node-a.key" -o /dev/null \
	-w '%{http_code}' --data-binary @"$dir/b1" "$(turl node-b)")
check "cert of node-a on node-b's path: 403" test "$code" = 403
code=$("${TLS[@]}" -D "$dir/h" -o /dev/null -w '%{http_code}' --data-binary @"$dir/a1" "$(turl node-a)")
check "no certificate, no token: 401" test "$code" = 401
check "401 carries www-authenticate: Bearer" grep -qi '^www-authenticate: Bearer' "$dir/h"
code=$("${H2C[@]}" -H 'authorization: Bearer nope' -o /dev/null -w '%{http_code}' --data-binary @"$dir/b1" "$(url node-b)")
check "unknown token: 401" test "$code" = 401
code=$("${TLS[@]}" --cert "$dir/pki/node-a.pem" --key "$dir/pki/node-a.key" "${TOKB[@]}" -o /dev/null \
	-w '%{http_code}' --data-binary @"$dir/a1" "$(turl node-a)")
check "certificate and token of different nodes: 403" test "$code" = 403
code=$("${TLS[@]}" --cert "$dir/pki/node-c.pem" --key "$dir/pki/node-c.key" -o /dev/null \
	-w '%{http_code}' --data-binary @"$dir/a1" "$(turl node-c)")
check "valid certificate of a node not enrolled: 404" test "$code" = 404
"${TLS[@]}" --cert "$dir/pki/wrong.pem" --key "$dir/pki/wrong.key" -o /dev/null \
	--data-binary @"$dir/a1" "$(turl node-a)" 2>/dev/null
rc=$?
check "client certificate of another CA: handshake refused (curl rc $rc)" test "$rc" -ne 0 -a "$rc" -ne 22
code=$("${TLS[@]}" --http1.1 --cert "$dir/pki/node-a.pem" --key "$dir/pki/node-a.key" -o /dev/null \
	-w '%{http_code}' --data-binary @"$dir/a1" "$(turl node-a)" 2>/dev/null)
check "HTTP/1.1 over TLS refused (ALPN h2 only)" test "$code" != 200
code=$("${H2C[@]}" "${TOKB[@]}" -o /dev/null -w '%{http_code}' "$(url node-b)")
check "GET on records: 405" test "$code" = 405

# --- the policy stream (section 5)
purl="http://127.0.0.1:$port/v1/nodes/node-b/policy"
code=$(curl -sS --http2-prior-knowledge --max-time 5 "${TOKB[@]}" -o /dev/null -w '%{http_code}' "$purl?since=abc")
check "policy: bad since: 400" test "$code" = 400
code=$(curl -sS --http2-prior-knowledge --max-time 5 "${TOKB[@]}" -o /dev/null -w '%{http_code}' "$purl?since=999999999999999")
check "policy: since ahead of the portal: 409" test "$code" = 409
curl -sS -N --http2-prior-knowledge --max-time 1 "${TOKB[@]}" -D "$dir/h" -o "$dir/pol" "$purl?since=0" 2>/dev/null
first=$(head -n1 "$dir/pol")
check "policy: 200 and a first line within 1 s: $first" \
	grep -qE '^\{"type":"(heartbeat|snapshot)"' "$dir/pol"
check "policy: content-type application/x-ndjson" grep -qi '^content-type: application/x-ndjson' "$dir/h"

# --- policy changes at the portal reach an open policy stream
quiet portal profile add employees --allow 10.0.0.0/8
quiet portal subject add cn:alice --profile employees
v=$(portal policy show | grep -o '"version":[0-9]*' | head -n1 | tr -dc 0-9)
curl -sS -N --http2-prior-knowledge --max-time 1 "${TOKB[@]}" -o "$dir/pol" "$purl?since=0" 2>/dev/null
check "policy: since=0 gets the snapshot at version $v" grep -q "^{\"type\":\"snapshot\",\"version\":$v," "$dir/pol"
curl -sS -N --http2-prior-knowledge --max-time 1 "${TOKB[@]}" -o "$dir/pol" "$purl?since=$v" 2>/dev/null
check "policy: since=current gets a heartbeat" grep -qx "{\"type\":\"heartbeat\",\"version\":$v}" "$dir/pol"
curl -sS -N --http2-prior-knowledge --max-time 10 "${TOKB[@]}" -o "$dir/pol" "$purl?since=$v" 2>/dev/null &
bg+=($!)
sleep 0.5
t0=$(date +%s%N)
quiet portal subject revoke cn:alice
for _ in $(seq 300); do grep -q '"type":"delta"' "$dir/pol" && break; sleep 0.005; done
ms=$((($(date +%s%N) - t0) / 1000000))
check "policy: a revocation reaches the open stream as a delta from $v ($ms ms)" \
	grep -q "^{\"type\":\"delta\",\"base\":$v,.*\"id\":\"alice\".*\"state\":\"revoked\"" "$dir/pol"
echo "# revoke at the portal -> delta on the stream: $ms ms"
check "policy: ... within 1 s" test "$ms" -lt 1000

# gzip responses (2.5): each line flushed, so a stream cut anywhere decodes up to its last line
curl -sS -N --http2-prior-knowledge --max-time 10 "${TOKB[@]}" -H 'accept-encoding: gzip' \
	-D "$dir/hz" -o "$dir/polz" "$purl?since=0" 2>/dev/null &
bg+=($!)
sleep 0.5
quiet portal subject add cn:carol --profile employees
for _ in $(seq 300); do gzip -dc <"$dir/polz" 2>/dev/null | grep -q carol && break; sleep 0.005; done
check "policy gzip: content-encoding gzip" grep -qi '^content-encoding: gzip' "$dir/hz"
gz_lines() { gzip -dc <"$dir/polz" 2>/dev/null | cut -c1-18 | head -n2 | tr '\n' ' '; }
check "policy gzip: the snapshot, then the change as a delta, while the stream is open ($(gz_lines))" \
	test "$(gz_lines)" = '{"type":"snapshot" {"type":"delta","b '

# --- signed bundles (5.5), checked with openssl, not with our own code
openssl genpkey -algorithm ed25519 -out "$dir/policy.key" 2>/dev/null
openssl pkey -in "$dir/policy.key" -pubout -out "$dir/policy.pub"
sed -e "s/^listen = .*/listen = 127.0.0.1:$((port + 3))/" -e "s/^listen_h2c = .*/listen_h2c = 127.0.0.1:$((port + 2))/" \
	"$dir/portal.conf" >"$dir/signed.conf"
printf '[policy]\nsigning_key = %s\n' "$dir/policy.key" >>"$dir/signed.conf"
"$P" -c "$dir/signed.conf" serve >>"$dir/signed.log" 2>&1 &
spid=$!
bg+=($spid)
sleep 0.5
curl -sS -N --http2-prior-knowledge --max-time 1 "${TOKB[@]}" -o "$dir/pol" \
	"http://127.0.0.1:$((port + 2))/v1/nodes/node-b/policy?since=0" 2>/dev/null
check "signed: a signature line, then the snapshot" \
	grep -qzE '^\{"type":"signature","alg":"ed25519","sig":"[A-Za-z0-9+/=]{88}"\}.\{"type":"snapshot"' "$dir/pol"
sed -n 1p "$dir/pol" | sed 's/.*"sig":"\([^"]*\)".*/\1/' | base64 -d >"$dir/sig"
{ printf 'tunwarden-policy-v1\nnode-b\n'; sed -n 2p "$dir/pol" | tr -d '\n'; } >"$dir/msg"
check "signed: openssl verifies the signature over tunwarden-policy-v1, node, line" \
	openssl pkeyutl -verify -pubin -inkey "$dir/policy.pub" -rawin -in "$dir/msg" -sigfile "$dir/sig"
{ printf 'tunwarden-policy-v1\nnode-a\n'; sed -n 2p "$dir/pol" | tr -d '\n'; } >"$dir/msg"
check "signed: ... and not for another node" \
	bash -c "! openssl pkeyutl -verify -pubin -inkey '$dir/policy.pub' -rawin -in '$dir/msg' -sigfile '$dir/sig' >/dev/null 2>&1"
kill -TERM $spid
sed "s|^signing_key = .*|signing_key = $dir/pki/server.key|" "$dir/signed.conf" >"$dir/badkey.conf"
out=$("$P" -c "$dir/badkey.conf" serve 2>&1)
rc=$?
check "a signing key that is not Ed25519: refused at start (rc $rc)" \
	eval '[ "$rc" = 1 ] && grep -q "signing_key" <<<"$out"'

# --- h2load: many concurrent streams on few connections
if command -v h2load >/dev/null; then
	out=$(h2load -n 400 -c 4 -m 16 -d "$dir/b2" -H "authorization: Bearer tok-b-123" \
		-H "tunwarden-log-id: $L" -H 'content-type: application/x-ndjson' "$(url node-b)" 2>&1)
	check "h2load: 400 POSTs on 4 connections x 16 streams, all 2xx" \
		grep -qE 'requests: 400 total, 400 started, 400 done, 400 succeeded, 0 failed, 0 errored' <<<"$out"
	check "h2load: status codes all 2xx" grep -qE 'status codes: 400 2xx, 0 3xx, 0 4xx, 0 5xx' <<<"$out"
	echo "$out" | grep -E '^finished in|^requests:' | sed 's/^/# h2load: /'
	out=$(h2load -n 200 -c 2 -m 16 -d "$dir/b2" -H "authorization: Bearer tok-b-123" \
		-H "tunwarden-log-id: $L" -H 'content-type: application/x-ndjson' "$(turl node-b)" 2>&1)
	check "h2load over TLS (token): 200 POSTs on 2 connections x 16 streams, all 2xx" \
		grep -qE 'status codes: 200 2xx, 0 3xx, 0 4xx, 0 5xx' <<<"$out"
	check "... negotiated h2 with TLS 1.2 or 1.3" grep -qE 'Application protocol: h2' <<<"$out"
else
	skip "h2load" "h2load not installed"
fi

# --- garbage on one connection does not stall the others
exec 7<>/dev/tcp/127.0.0.1/$port
printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n\x00\xff\xfe garbage' >&7
exec 8<>/dev/tcp/127.0.0.1/$port
printf 'PRI * HTTP/2.0\r\n\r\nSM' >&8 # a preface cut short, then silence
exec 9<>/dev/tcp/127.0.0.1/$tport
printf '\x16\x03\x01\x00' >&9 # a TLS record cut short
t0=$(date +%s%N)
out=$("${H2C[@]}" "${TOKB[@]}" --data-binary @"$dir/b1" "$(url node-b)")
t1=$(date +%s%N)
check "garbage and stalled peers: another client served in $(((t1 - t0) / 1000000)) ms" \
	test "$out" = '{"ack":23}' -a $(((t1 - t0) / 1000000)) -lt 2000
sleep 3 # past handshake_timeout (2 s)
check "stalled TLS handshake closed by its deadline (2 s)" \
	grep -qE 'nothing received for 2[0-9]{3} ms; closing' "$dir/serve.log"
exec 7>&- 8>&- 9>&-

# --- a long-lived stream: acks come while the body is still open (4.5)
L3=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
stream() { # LOG_ID: a streaming POST (no content-length) of stdin, acks to stdout
	curl -sS -N --http2-prior-knowledge --max-time 20 -X POST -T - -H "tunwarden-log-id: $1" \
		-H 'content-type: application/x-ndjson' "${TOKB[@]}" "$(url node-b)"
}
# curl blocks reading its stdin: empty lines (keepalives, 2.4) keep it reading responses
idle() { for _ in $(seq "$1"); do echo; sleep 0.1; done; }
t0=$(date +%s%N)
( rec node-b 1 | sed "s/$L/$L3/"; rec node-b 2 | sed "s/$L/$L3/"; idle 25 ) | stream $L3 |
	while read -r l; do echo "$((($(date +%s%N) - t0) / 1000000)) $l"; done >"$dir/live"
read -r ms first <"$dir/live"
check "live stream: first ack ($first) after $ms ms, before the body ended (2500 ms)" \
	test "$first" = '{"ack":2}' -a "$ms" -lt 1500
idle 60 | stream $L3 >/dev/null 2>&1 &
old=$!
bg+=($old)
sleep 0.5
: | stream $L3 >/dev/null
t0=$(date +%s%N)
wait $old
rc=$?
check "a newer stream for the log resets the older (curl rc $rc, CANCEL)" test "$rc" -ne 0 -a $((($(date +%s%N) - t0) / 1000000)) -lt 2000

# --- oversized headers, the connection limit
code=$("${H2C[@]}" -H "authorization: Bearer $(head -c 5000 /dev/zero | tr '\0' a)" -o /dev/null \
	-w '%{http_code}' --data-binary @"$dir/b1" "$(url node-b)" 2>/dev/null)
check "a 5000-byte authorization header: 431" test "$code" = 431
"${H2C[@]}" -H "x-big: $(head -c 100000 /dev/zero | tr '\0' a)" -o /dev/null --data-binary @"$dir/b1" \
	"$(url node-b)" >/dev/null 2>&1
out=$("${H2C[@]}" "${TOKB[@]}" --data-binary @"$dir/b1" "$(url node-b)")
check "after a 100 KB header the portal still serves" test "$out" = '{"ack":23}'
sed -e "s/^listen = .*/listen = 127.0.0.1:$((port + 5))/" -e "s/^listen_h2c = .*/listen_h2c = 127.0.0.1:$((port + 4))/" \
	-e 's/^idle_timeout = .*/idle_timeout = 2s\nmax_connections = 3/' "$dir/portal.conf" >"$dir/limit.conf"
"$P" -c "$dir/limit.conf" serve >>"$dir/limit.log" 2>&1 &
lpid=$!
bg+=($lpid)
sleep 0.5
exec 5<>/dev/tcp/127.0.0.1/$((port + 4)) 6<>/dev/tcp/127.0.0.1/$((port + 4)) 7<>/dev/tcp/127.0.0.1/$((port + 4))
sleep 0.2
code=$(curl -sS --http2-prior-knowledge --max-time 2 -o /dev/null -w '%{http_code}' \
	"http://127.0.0.1:$((port + 4))/" 2>/dev/null)
check "max_connections 3: a 4th connection is closed at once" test "$code" = 000
check "... and the refusal is logged" grep -q 'connection limit (3) reached' "$dir/limit.log"
sleep 2.5 # the three idle ones pass idle_timeout (2 s)
code=$(curl -sS --http2-prior-knowledge --max-time 2 -o /dev/null -w '%{http_code}' \
	"http://127.0.0.1:$((port + 4))/" 2>/dev/null)
check "idle connections closed by their deadline make room (got $code)" test "$code" = 404
exec 5>&- 6>&- 7>&-
kill -TERM $lpid

# --- kill -9 mid-stream, restart: R equals the rows committed
L2=fedcba9876543210fedcba9876543210
( for i in $(seq 1 400); do rec node-b "$i" | sed "s/$L/$L2/"; sleep 0.005; done ) |
	curl -sS --http2-prior-knowledge --max-time 20 -X POST -T - -H "tunwarden-log-id: $L2" \
		-H 'content-type: application/x-ndjson' "${TOKB[@]}" "$(url node-b)" >"$dir/acks" 2>/dev/null &
bg+=($!)
for _ in $(seq 100); do # until some rows are committed, and the stream still runs
	[ "$(sqlite3 "$dir/records.db" "SELECT count(*) FROM records WHERE log_id='$L2'")" -gt 20 ] && break
	sleep 0.1
done
kill -KILL "$pid"
wait "$pid" 2>/dev/null
pid=
committed=$(sqlite3 "$dir/records.db" "SELECT count(*) FROM records WHERE log_id='$L2'")
maxseq=$(sqlite3 "$dir/records.db" "SELECT coalesce(max(seq),0) FROM records WHERE log_id='$L2'")
lastack=$(grep -o '[0-9]*' "$dir/acks" | tail -n1)
start || { nok "portal restarts after kill -9" "$(tail -n5 "$dir/serve.log")"; finish; }
: | "${H2C[@]}" "${TOKB[@]}" -H "tunwarden-log-id: $L2" -D "$dir/h" -o /dev/null --data-binary @- "$(url node-b)"
R=$(grep -i '^tunwarden-resume-after:' "$dir/h" | tr -dc 0-9)
check "kill -9 mid-stream: R ($R) = rows committed ($committed) = max seq ($maxseq), > 0" \
	test "$R" = "$committed" -a "$R" = "$maxseq" -a "$R" -gt 0
check "kill -9 mid-stream: every ack sent (last ${lastack:-none}) is within R" \
	test "${lastack:-0}" -le "$R"

# --- holes: seqs stored around a hole that no gap record names (4.4)
L5=cccccccccccccccccccccccccccccccc
for i in 1 2 5 6; do rec node-b $i | sed "s/$L/$L5/"; done |
	"${H2C[@]}" "${TOKB[@]}" -H "tunwarden-log-id: $L5" --data-binary @- "$(url node-b)" >/dev/null
out=$(portal holes --node node-b)
rc=$?
check "holes: 3..4 of a log reported (exit $rc)" eval '[ $rc = 1 ] && grep -q "^node-b  $L5  3  4  2$" <<<"$out"'
printf '{"v":1,"kind":"gap","seq":7,"time_ns":1763783400000000000,"node":"node-b","log_id":"%s","dropped":[[3,4]],"dropped_count":2}\n' "$L5" |
	"${H2C[@]}" "${TOKB[@]}" -H "tunwarden-log-id: $L5" --data-binary @- "$(url node-b)" >/dev/null
out=$(portal holes --node node-b)
check "holes: ... and no more once a gap record names them" eval '! grep -q "$L5" <<<"$out"'

# --- admin queries
{ rec node-b 100 connect; printf '{"v":1,"kind":"interim","seq":101,"time_ns":1763783500000000000,"node":"node-b","log_id":"%s","session":"s-100","subject":"bob@example.org","from_bytes":1000,"from_packets":10,"to_bytes":2000,"to_packets":20,"drop_packets":0,"drop_bytes":0}\n' "$L"; } |
	sed 's/alice@/bob@/' | "${H2C[@]}" "${TOKB[@]}" --data-binary @- "$(url node-b)" >/dev/null
out=$(portal sessions --node node-b)
check "sessions lists a live session" grep -q 's-100  bob@example.org' <<<"$out"
out=$(portal accounting --user bob@example.org)
check "accounting per session: last cumulative counters" grep -qE 's-100 +bob@example.org +live +1000 +2000' <<<"$out"
printf '{"v":1,"kind":"health","seq":102,"time_ns":1763783600000000000,"node":"node-b","log_id":"%s","event":"periodic","software_version":"0.5.0","backlog_records":12,"sessions":3,"policy_version":42}\n' "$L" |
	"${H2C[@]}" "${TOKB[@]}" --data-binary @- "$(url node-b)" >/dev/null
out=$(portal node list)
check "node list: node-b's health from its latest health record (backlog 12, policy 42, 3 sessions)" \
	grep -qE '^node-b  yes  no  [0-9: -]+  [0-9: -]+  [0-9]+  12  42  3  0.5.0  2025-11-22 ' <<<"$out"
check "node list: node-a, never healthy" grep -qE '^node-a  yes  no .*  -  -  -  -  -$' <<<"$out"

if command -v nghttp >/dev/null; then
	timeout 10 nghttp -v "${TOKB[@]}" "$purl?since=0" >"$dir/ng" 2>&1 &
	bg+=($!)
	sleep 0.7
fi
kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
check "SIGTERM: clean exit" test "$rc" = 0
if command -v nghttp >/dev/null; then
	sleep 0.3
	check "SIGTERM: open connections get GOAWAY NO_ERROR" grep -q 'error_code=NO_ERROR' "$dir/ng"
else
	skip "GOAWAY at SIGTERM" "nghttp not installed"
fi
[ "$failed" -eq 0 ] || sed "s/^/# serve: /" "$dir/serve.log" | tail -n 12
finish
