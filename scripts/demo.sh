#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# make demo: tunwarden's main job end to end, on this machine, in network namespaces it creates
# and removes again. An OpenVPN 2.6 server with tunwardend in front of a small service network,
# four clients:
#   alice  tenant acme,   enabled             -> permit: reaches the service's allowed ports only
#   bob    tenant acme,   needs-confirmation  -> sandbox, then confirmed half-way through
#   carol  tenant globex, enabled             -> permit, but never reaches acme's clients;
#                                                revoked later in the run: cut off, session ended
#   dave   tenant acme,   disabled            -> refused at connect
# The node takes its policy from the reference portal (tunwarden-portal, in a namespace of its
# own, over TLS with a client certificate) and streams its records to it; the confirmation and
# the revocation are made at the portal with its admin command line.
# Every client drives traffic (allowed and denied); the screen shows the live sessions, their byte
# counters and the drop reasons every two seconds, and at the end the journal beside the
# portal's view of the same sessions and bytes.
#
# DEMO_SECONDS (default 30) sets the length of the live part.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
O=${1:-$top/build}
export TW_BUILD_DIR=$O

[ "$(id -u)" -eq 0 ] || { echo "make demo needs root (network namespaces, BPF)" >&2; exit 1; }
"$top/scripts/install-deps.sh" --quiet || exit 1
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

. "$top/selftests/e2e/lib.sh"
. "$top/selftests/e2e/daemon.inc"
. "$top/selftests/e2e/portal.inc"

# lib.sh's scenario plumbing, without the TAP: a work dir, traps that always clean up.
TW_NAME=demo
TW_DIR=$(mktemp -d /tmp/tunwarden-demo.XXXXXX)
chmod 755 "$TW_DIR"
TW_PKI=$O/e2e-pki
demo_cleanup() {
	local ns pids
	trap - EXIT INT TERM
	echo
	echo "== cleaning up: processes, namespaces, pins"
	tw_daemon_cleanup
	tw_portal_stop
	[ ${#TW_PIDS[@]} -eq 0 ] || tw_kill "${TW_PIDS[@]}"
	for ns in "${TW_NETNS[@]}"; do
		pids=$(ip netns pids "$ns" 2>/dev/null)
		[ -z "$pids" ] || kill -KILL $pids 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
	rm -rf "$TW_DIR"
}
trap demo_cleanup EXIT
trap 'exit 130' INT TERM
tw_bail() {
	echo "demo: $1" >&2
	[ -f "$TW_DIR/daemon.log" ] && tail -n 20 "$TW_DIR/daemon.log" >&2
	exit 1
}

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "building the topology: server, service network, portal and 4 client namespaces"
tw_topo_create 4
tw_portal_setup bob=needs-confirmation
tw_daemon_setup bob=needs-confirmation
tw_pki alice bob carol dave
tw_portal_start
tw_daemon_start
tw_wait_for "[ \"\$(tw_cli --json status | tw_jq \"j['policy']['source']\")\" = portal ]" 10 ||
	tw_bail "the node did not get its policy from the portal"
say "the node's link to the portal"
tw_cli status | grep -E '^(policy\.source|portal\.)'
tw_ovpn_server_with_daemon
tw_tcp_listen 8080
tw_tcp_listen 8081
tw_udp_sink 9000 "$TW_DIR/sink9000"
tw_udp_sink 5353 "$TW_DIR/sink5353"

say "connecting alice, bob and carol (dave is disabled in the policy)"
tw_ovpn_clients_start alice bob carol
tw_client_try 4 dave
A=$(tw_client_ns 1) B=$(tw_client_ns 2) C=$(tw_client_ns 3)
a_ip=$(tw_tun_addr "$A")

# Traffic: each client sends UDP to the allowed port, pings the service, tries a denied TCP port;
# carol also tries to reach alice (other tenant).
traffic() { # NS EXTRA_TARGET
	ip netns exec "$1" python3 -c '
import socket, sys, time, subprocess
svc, other = sys.argv[1], sys.argv[2]
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
while True:
    for _ in range(20):
        u.sendto(b"d" * 472, (svc, 9000)); u.sendto(b"s" * 72, (svc, 5353))
    for port in (8080, 8081):
        try: socket.create_connection((svc, port), timeout=0.3).close()
        except OSError: pass
    subprocess.run(["ping", "-c1", "-W1", "-q", other], stdout=subprocess.DEVNULL)
    time.sleep(0.5)
' "$TW_SVC_ADDR" "$2" >/dev/null 2>&1 &
	TW_PIDS+=("$!")
}
traffic "$A" "$TW_SVC_ADDR"
traffic "$B" "$TW_SVC_ADDR"
traffic "$C" "$a_ip"

show() {
	printf '\n\033[1m-- t=%2ds  sessions\033[0m\n' "$1"
	tw_cli clients
	printf '\033[1m-- node counters\033[0m\n'
	tw_cli counters
}

secs=${DEMO_SECONDS:-30}
for ((t = 0; t <= secs; t += 2)); do
	if [ "$t" -eq $((secs / 3 / 2 * 2)) ]; then
		say "t=${t}s: bob confirms at the portal: tunwarden-portal subject confirm cn:bob"
		tw_padmin subject confirm cn:bob
	fi
	if [ "$t" -eq $((2 * secs / 3 / 2 * 2)) ]; then
		say "t=${t}s: the operator revokes carol at the portal: tunwarden-portal subject revoke cn:carol"
		tw_padmin subject revoke cn:carol
	fi
	show "$t"
	sleep 2
done

say "dave's connect attempt, as the daemon decided it"
grep -h "connect dave" "$TW_DIR/daemon.log" | tail -n 1
say "the node's link: every record acked by the portal and trimmed from the journal"
tw_cli status | grep -E '^(policy\.source|portal\.)'
say "the records as the portal stored them (NDJSON, byte for byte what the node sent): last 8"
sqlite3 "$TW_DIR/portal/records.db" "SELECT body FROM records ORDER BY seq DESC LIMIT 8" | tac |
	python3 -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    keep = {k: r[k] for k in ("seq", "kind", "subject", "from_bytes", "to_bytes", "terminate_cause", "detail") if k in r}
    print(json.dumps(keep))'
say "the portal's view: live sessions and accounting, from the records it received"
tw_padmin sessions
tw_padmin accounting
say "what the service saw"
read -r n b <"$TW_DIR/sink9000"
echo "udp/9000: $n datagrams, $b payload bytes (from permitted clients only)"
read -r n b <"$TW_DIR/sink5353"
echo "udp/5353: $n datagrams (the sandbox allowlist: reachable for bob before his confirmation)"
exit 0
