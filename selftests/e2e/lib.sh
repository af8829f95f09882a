# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# selftests/e2e/lib.sh - sourced by every end-to-end scenario.
#
# A scenario builds its own world out of network namespaces and tears it down on every exit path:
#
#	. "$(dirname "$0")/lib.sh"
#	tw_e2e_init openvpn_smoke          # TAP header, traps, work dir; SKIPs without root/ip
#	tw_need_cmd openvpn                # SKIPs the whole scenario with the reason
#	tw_topo_create 3                   # hub, server, service and 3 client namespaces
#	tw_ovpn_server_start "$hook"       # OpenVPN 2.6 server in the server namespace
#	tw_ovpn_clients_start alice bob carol
#	tw_check "alice pings the server" tw_nsexec "$(tw_client_ns 1)" ping -c1 -W2 10.8.0.1
#	tw_done                            # "1..N" and "N passed, N failed, N skipped"
#
# Topology (every address is private or reserved for benchmarking and lives only inside the
# namespaces created here; nothing is added to the caller's namespace):
#
#   tw-PID-cI (client i)         tw-PID-hub            tw-PID-srv (server)     tw-PID-svc (service)
#   eth0 198.18.0.(10+i)/24 --- cI  [br0]  srv --- eth0 198.18.0.1/24
#   tun0 10.8.0.x (pool)                           tun0 10.8.0.1/24
#                                                  svc0 198.19.1.1/24 ---- eth0 198.19.1.2/24
#
# The server has exactly one uplink (eth0), as a production node has, so uplink programs can be
# attached to it. Forwarding is switched on in the server namespace only. Clients get a route to
# the service network pushed by the server; the service namespace routes only the pool back.
#
# Functions: results  tw_ok, tw_fail, tw_skip, tw_check DESC CMD..., tw_expect DESC DIAG CMD...,
#                     tw_diag, tw_done, tw_skip_all REASON, tw_bail REASON
#            waiting  tw_wait_for CMD TIMEOUT (alias wait_for), tw_wait_log FILE STRING TIMEOUT
#            world    tw_topo_create N, tw_ns_add, tw_veth, tw_nsexec NS CMD..., tw_spawn NS LOG
#                     CMD..., tw_kill PID..., tw_on_cleanup CMD, tw_client_ns I, tw_client_addr I
#            OpenVPN  tw_pki CN[:OU]..., tw_ovpn_server_start HOOK [DEV] [CONFIG_LINE...],
#                     tw_ovpn_clients_start CN..., tw_ovpn_client_stop I, tw_mgmt COMMAND,
#                     tw_tun_addr NS [DEV]
#
# Environment knobs: TW_E2E_PREFIX (namespace name prefix, default tw-$$-; run.sh sets it so it
# can sweep after a scenario that was killed), TW_E2E_KEEP=1 (keep the work directory),
# TW_E2E_VERBOSE=1 (dump logs even on success), TW_PKI_DIR (where the test PKI lives; default
# $TW_BUILD_DIR/e2e-pki under run.sh, else a private one in the work directory).

TW_E2E_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TW_SRC_DIR=$(cd "$TW_E2E_LIB_DIR/../.." && pwd)

TW_PREFIX=${TW_E2E_PREFIX:-tw-$$-}
TW_NAME=
TW_DIR=
TW_NUM=0
TW_PASSED=0
TW_FAILED=0
TW_SKIPPED=0
TW_DONE=0
TW_ABORT=
TW_NETNS=()
TW_PIDS=()
TW_CLEANUP_HOOKS=()
TW_CLIENT_CNS=()
TW_PKI=

# Topology constants; scenarios read them, they should not need to change them.
TW_HUB_NS=${TW_PREFIX}hub
TW_SRV_NS=${TW_PREFIX}srv
TW_SVC_NS=${TW_PREFIX}svc
TW_SRV_UNDERLAY=198.18.0.1
TW_SRV_PORT=1194
TW_SVC_NET=198.19.1.0/24
TW_SVC_GW=198.19.1.1
TW_SVC_ADDR=198.19.1.2
TW_POOL_NET=10.8.0.0
TW_POOL_MASK=255.255.255.0
TW_SRV_TUN_ADDR=10.8.0.1
TW_POOL6_NET=fd74:7700::/64
TW_SRV_TUN_ADDR6=fd74:7700::1
TW_SRV_DEV=tun0

# --- TAP -----------------------------------------------------------------------------------------

tw_diag() {
	local line
	while IFS= read -r line; do
		printf '# %s\n' "$line"
	done <<<"$*"
}

tw_ok() {
	TW_NUM=$((TW_NUM + 1))
	TW_PASSED=$((TW_PASSED + 1))
	printf 'ok %d - %s\n' "$TW_NUM" "$1"
}

# tw_fail DESC [DIAGNOSTIC]
tw_fail() {
	TW_NUM=$((TW_NUM + 1))
	TW_FAILED=$((TW_FAILED + 1))
	printf 'not ok %d - %s\n' "$TW_NUM" "$1"
	[ $# -lt 2 ] || [ -z "$2" ] || tw_diag "$2"
}

# tw_skip DESC REASON
tw_skip() {
	TW_NUM=$((TW_NUM + 1))
	TW_SKIPPED=$((TW_SKIPPED + 1))
	printf 'ok %d - %s # SKIP %s\n' "$TW_NUM" "$1" "$2"
}

# tw_check DESC CMD...: one result line from a command's exit status; its output becomes the
# diagnostic when it fails.
tw_check() {
	local desc=$1 out
	shift
	if out=$("$@" 2>&1); then
		tw_ok "$desc"
		return 0
	fi
	tw_fail "$desc" "$* -> $out"
	return 1
}

# tw_expect DESC DIAGNOSTIC CMD...: like tw_check, with a diagnostic of the caller's choosing
# (typically the value that was wrong) instead of the command's output.
tw_expect() {
	local desc=$1 diag=$2
	shift 2
	if "$@" >/dev/null 2>&1; then
		tw_ok "$desc"
		return 0
	fi
	tw_fail "$desc" "$diag"
	return 1
}

# tw_summary: the closing lines every suite of the project prints.
tw_summary() {
	printf '1..%d\n' "$TW_NUM"
	printf '%d passed, %d failed, %d skipped\n' "$TW_PASSED" "$TW_FAILED" "$TW_SKIPPED"
}

# tw_done: end of a scenario; exit status says whether anything failed.
tw_done() {
	TW_DONE=1
	[ "$TW_FAILED" -eq 0 ] || exit 1
	exit 0
}

# tw_skip_all REASON: the scenario cannot run here; say why and stop (not a failure).
tw_skip_all() {
	tw_skip "${TW_NAME:-scenario}" "$1"
	TW_DONE=1
	exit 0
}

# tw_bail REASON: setup failed; later checks would only repeat the failure.
tw_bail() {
	tw_fail "setup: $1"
	TW_DONE=1
	exit 1
}

# --- lifetime ------------------------------------------------------------------------------------

# tw_e2e_init NAME: TAP header, work directory, cleanup traps, basic requirements.
tw_e2e_init() {
	TW_NAME=$1
	printf 'TAP version 13\n# scenario %s (netns prefix %s)\n' "$TW_NAME" "$TW_PREFIX"
	trap tw_cleanup EXIT
	# A signal ends the script through exit, so the EXIT trap does the cleaning exactly once.
	trap 'TW_ABORT="interrupted by SIGINT"; exit 130' INT
	trap 'TW_ABORT="terminated by SIGTERM"; exit 143' TERM
	trap 'TW_ABORT="hangup"; exit 129' HUP

	[ "$(id -u)" -eq 0 ] || tw_skip_all "needs root (network namespaces)"
	command -v ip >/dev/null || tw_skip_all "ip (iproute2) not installed"
	ip netns list >/dev/null 2>&1 || tw_skip_all "ip netns not usable here"
	TW_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tw-e2e-$TW_NAME.XXXXXX") || tw_bail "mktemp"
	chmod 755 "$TW_DIR"
	# Under run.sh the PKI lives in the build directory and is reused across scenarios and
	# runs (gen-pki.sh is idempotent and locks); on its own a scenario makes a private one.
	if [ -n "${TW_PKI_DIR:-}" ]; then
		TW_PKI=$TW_PKI_DIR
	elif [ -n "${TW_BUILD_DIR:-}" ] && [ -d "$TW_BUILD_DIR" ]; then
		TW_PKI=$TW_BUILD_DIR/e2e-pki
	else
		TW_PKI=$TW_DIR/pki
	fi
}

# tw_need_cmd CMD...: SKIP the scenario when a tool is missing.
tw_need_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null || tw_skip_all "$c not installed (scripts/install-deps.sh)"
	done
}

# tw_spawn NS LOG CMD...: start CMD in namespace NS in the background, remember its pid.
# `ip netns exec` execs the command in place, so $! is the command's own pid.
tw_spawn() {
	local ns=$1 log=$2
	shift 2
	ip netns exec "$ns" "$@" </dev/null >>"$log" 2>&1 &
	TW_PIDS+=("$!")
	TW_LAST_PID=$!
}

# tw_kill PID...: TERM, a bounded grace period, then KILL; reaps so bash stays quiet.
tw_kill() {
	local pid i alive
	for pid in "$@"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for i in $(seq 1 30); do
		alive=0
		for pid in "$@"; do
			kill -0 "$pid" 2>/dev/null && alive=1
		done
		[ $alive -eq 1 ] || break
		sleep 0.1
	done
	for pid in "$@"; do
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	return 0
}

tw_dump_logs() {
	local f
	[ -n "$TW_DIR" ] && [ -d "$TW_DIR" ] || return 0
	for f in "$TW_DIR"/*.log "$TW_DIR"/hook/*; do
		[ -f "$f" ] || continue
		tw_diag "---- ${f#"$TW_DIR"/} (last 30 lines)"
		tw_diag "$(tail -n 30 "$f")"
	done
}

# tw_on_cleanup CMD: run the shell command CMD first thing in the cleanup (e.g. stop a daemon
# gracefully, copy its state for the log), before the processes are killed. Later registrations
# run first. Prefer this to replacing the EXIT trap: the trap must see the script's exit status.
tw_on_cleanup() {
	TW_CLEANUP_HOOKS=("$1" "${TW_CLEANUP_HOOKS[@]}")
}

tw_cleanup() {
	local rc=$? ns pids hook
	trap - EXIT INT TERM HUP
	# Whatever the scenario set: every step below must run, failing or not.
	set +e
	for hook in "${TW_CLEANUP_HOOKS[@]}"; do
		eval "$hook"
	done
	if [ "$TW_DONE" -ne 1 ]; then
		# set -e, an unexpected exit, or a signal: never let that read as a pass.
		[ "$rc" -ne 0 ] || rc=1
		tw_fail "${TW_ABORT:-scenario aborted before tw_done (exit status $rc)}"
	fi
	if [ "$TW_FAILED" -gt 0 ] || [ "${TW_E2E_VERBOSE:-0}" = 1 ]; then
		tw_dump_logs
	fi
	[ ${#TW_PIDS[@]} -eq 0 ] || tw_kill "${TW_PIDS[@]}"
	# Anything else still inside our namespaces (hooks, pings, nc) was started by us too.
	for ns in "${TW_NETNS[@]}"; do
		pids=$(ip netns pids "$ns" 2>/dev/null)
		[ -z "$pids" ] || kill -KILL $pids 2>/dev/null
	done
	for ns in "${TW_NETNS[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	if [ -n "$TW_DIR" ] && [ -d "$TW_DIR" ]; then
		if [ "$TW_FAILED" -gt 0 ] || [ "${TW_E2E_KEEP:-0}" = 1 ]; then
			tw_diag "work directory kept: $TW_DIR"
		else
			rm -rf "$TW_DIR"
		fi
	fi
	tw_summary
	[ "$TW_FAILED" -eq 0 ] || [ "$rc" -ne 0 ] || rc=1
	exit "$rc"
}

# --- waiting -------------------------------------------------------------------------------------

# TW_E2E_SLACK (integer, default 1) stretches every wait bound below: the VM suites set 8, since
# a guest under TCG runs 5-7x slower than the host. The bounds are what a real CPU needs; a slow
# machine only waits longer for the same outcome, and no check is made weaker in any other way.
TW_E2E_SLACK=${TW_E2E_SLACK:-1}

# tw_wait_for CMD TIMEOUT: poll the shell command CMD (evaluated) every 0.1 s until it succeeds
# or TIMEOUT x TW_E2E_SLACK seconds (integer) have passed. Returns 1 on timeout.
tw_wait_for() {
	local cmd=$1 timeout=${2:-10} i
	for ((i = 0; i < timeout * TW_E2E_SLACK * 10; i++)); do
		eval "$cmd" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	eval "$cmd" >/dev/null 2>&1
}
wait_for() { tw_wait_for "$@"; }

# tw_wait_log FILE PATTERN TIMEOUT: wait for a fixed string to appear in a log.
tw_wait_log() {
	tw_wait_for "grep -qF -- $(printf '%q' "$2") $(printf '%q' "$1")" "$3"
}

# --- namespaces and links ------------------------------------------------------------------------

tw_nsexec() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

# tw_ns_add NAME: create a namespace (full name), loopback up, registered for cleanup.
tw_ns_add() {
	ip netns add "$1" || tw_bail "ip netns add $1"
	TW_NETNS+=("$1")
	ip -n "$1" link set lo up || tw_bail "lo up in $1"
}

# tw_veth NS_A IF_A NS_B IF_B: a veth pair created inside NS_A with its peer moved to NS_B, so
# no interface ever exists in the caller's namespace, even for a moment.
tw_veth() {
	ip -n "$1" link add "$2" type veth peer name "$4" netns "$3" ||
		tw_bail "veth $1/$2 <-> $3/$4"
	ip -n "$1" link set "$2" up && ip -n "$3" link set "$4" up ||
		tw_bail "veth $1/$2 <-> $3/$4 up"
}

tw_client_ns() { printf '%sc%d' "$TW_PREFIX" "$1"; }
tw_client_addr() { printf '198.18.0.%d' $((10 + $1)); }

# tw_topo_create NCLIENTS: hub (bridge), server, service and NCLIENTS client namespaces.
tw_topo_create() {
	local n=$1 i ns
	[ "$n" -ge 0 ] && [ "$n" -le 200 ] || tw_bail "tw_topo_create: bad client count '$n'"

	tw_ns_add "$TW_HUB_NS"
	ip -n "$TW_HUB_NS" link add br0 type bridge || tw_bail "bridge in hub"
	ip -n "$TW_HUB_NS" link set br0 up

	tw_ns_add "$TW_SRV_NS"
	tw_veth "$TW_HUB_NS" srv "$TW_SRV_NS" eth0
	ip -n "$TW_HUB_NS" link set srv master br0
	ip -n "$TW_SRV_NS" addr add "$TW_SRV_UNDERLAY/24" dev eth0
	ip netns exec "$TW_SRV_NS" sysctl -qw net.ipv4.ip_forward=1 ||
		tw_bail "ip_forward in server namespace"

	tw_ns_add "$TW_SVC_NS"
	tw_veth "$TW_SRV_NS" svc0 "$TW_SVC_NS" eth0
	ip -n "$TW_SRV_NS" addr add "$TW_SVC_GW/24" dev svc0
	ip -n "$TW_SVC_NS" addr add "$TW_SVC_ADDR/24" dev eth0
	# Only the tunnel pool is routed back; the service namespace has no default route.
	ip -n "$TW_SVC_NS" route add "$TW_POOL_NET/24" via "$TW_SVC_GW" ||
		tw_bail "service route to the pool"

	for ((i = 1; i <= n; i++)); do
		ns=$(tw_client_ns "$i")
		tw_ns_add "$ns"
		tw_veth "$TW_HUB_NS" "c$i" "$ns" eth0
		ip -n "$TW_HUB_NS" link set "c$i" master br0
		ip -n "$ns" addr add "$(tw_client_addr "$i")/24" dev eth0
	done
}

# --- PKI and OpenVPN -----------------------------------------------------------------------------

# tw_pki CN[:OU]...: certificates for the server and the given clients (scripts/gen-pki.sh).
tw_pki() {
	"$TW_SRC_DIR/scripts/gen-pki.sh" "$TW_PKI" "$@" >"$TW_DIR/gen-pki.log" 2>&1 ||
		tw_bail "gen-pki.sh failed: $(tail -n 3 "$TW_DIR/gen-pki.log")"
}

# tw_ovpn_server_start HOOK [DEV] [EXTRA_CONFIG_LINE...]: OpenVPN 2.6 server in the server
# namespace, client-connect/client-disconnect both pointing at the executable HOOK.
# Sets TW_SRV_LOG, TW_SRV_MGMT (unix socket), TW_SRV_STATUS, TW_SRV_PID.
tw_ovpn_server_start() {
	local hook=$1 dev=${2:-$TW_SRV_DEV} conf line
	shift
	[ $# -eq 0 ] || shift
	[ -x "$hook" ] || tw_bail "hook not executable: $hook"
	[ -c /dev/net/tun ] || tw_skip_all "no /dev/net/tun (tun module missing)"
	[ -s "$TW_PKI/server.crt" ] || tw_pki
	TW_SRV_DEV=$dev
	# An IPv6 pool too (ifconfig_pool_remote_ip6), unless the kernel has IPv6 switched off.
	TW_IPV6_POOL_LINE="# no IPv6 in this kernel: no server-ipv6"
	[ ! -d /proc/sys/net/ipv6 ] || TW_IPV6_POOL_LINE="server-ipv6 $TW_POOL6_NET"
	conf=$TW_DIR/server.conf
	TW_SRV_LOG=$TW_DIR/server.log
	TW_SRV_MGMT=$TW_DIR/mgmt.sock
	TW_SRV_STATUS=$TW_DIR/server.status
	cat >"$conf" <<-EOF
		# written by selftests/e2e/lib.sh
		port $TW_SRV_PORT
		proto udp4
		local $TW_SRV_UNDERLAY
		dev $dev
		dev-type tun
		topology subnet
		server $TW_POOL_NET $TW_POOL_MASK
		${TW_IPV6_POOL_LINE}
		push "route ${TW_SVC_NET%/*} 255.255.255.0"
		ca $TW_PKI/ca.crt
		cert $TW_PKI/server.crt
		key $TW_PKI/server.key
		dh none
		tls-crypt $TW_PKI/tc.key
		data-ciphers AES-256-GCM
		# No client-to-client: every packet between clients must cross $dev, where the
		# dataplane's allowlists are attached.
		disable-dco
		management $TW_SRV_MGMT unix
		script-security 2
		client-connect $hook
		client-disconnect $hook
		status $TW_SRV_STATUS 1
		status-version 3
		verb 3
		log $TW_SRV_LOG
		writepid $TW_DIR/server.pid
	EOF
	for line in "$@"; do
		printf '%s\n' "$line" >>"$conf"
	done
	tw_spawn "$TW_SRV_NS" "$TW_DIR/server.stderr.log" openvpn --config "$conf"
	TW_SRV_PID=$TW_LAST_PID
	if ! tw_wait_for "grep -qF 'Initialization Sequence Completed' '$TW_SRV_LOG'" 10; then
		tw_bail "OpenVPN server did not come up within 10 s"
	fi
}

# tw_ovpn_clients_start CN...: client i (1-based, in argument order) runs in namespace
# tw_client_ns i with the certificate of CN; all start at once, then each is waited for.
# Sets TW_CLIENT_CNS, TW_CLIENT_PIDS[i], logs in $TW_DIR/client-CN.log.
tw_ovpn_clients_start() {
	local i=0 cn conf missing=()
	# Only missing certificates: tw_pki may have been asked for CN:OU subjects already.
	for cn in "$@"; do
		[ -s "$TW_PKI/client-$cn.crt" ] || missing+=("$cn")
	done
	[ ${#missing[@]} -eq 0 ] || tw_pki "${missing[@]}"
	TW_CLIENT_PIDS=()
	for cn in "$@"; do
		i=$((i + 1))
		TW_CLIENT_CNS[i]=$cn
		[ -s "$TW_PKI/client-$cn.crt" ] || tw_bail "no certificate for CN '$cn' (tw_pki)"
		conf=$TW_DIR/client-$cn.conf
		cat >"$conf" <<-EOF
			client
			dev tun0
			dev-type tun
			proto udp4
			remote $TW_SRV_UNDERLAY $TW_SRV_PORT
			nobind
			ca $TW_PKI/ca.crt
			cert $TW_PKI/client-$cn.crt
			key $TW_PKI/client-$cn.key
			tls-crypt $TW_PKI/tc.key
			remote-cert-tls server
			verify-x509-name tw-server name
			data-ciphers AES-256-GCM
			disable-dco
			# Tell the server at once when stopped, so client-disconnect runs now.
			explicit-exit-notify 1
			connect-retry 1 1
			verb 3
			log $TW_DIR/client-$cn.log
		EOF
		tw_spawn "$(tw_client_ns "$i")" "$TW_DIR/client-$cn.stderr.log" \
			openvpn --config "$conf"
		TW_CLIENT_PIDS[i]=$TW_LAST_PID
	done
	for ((i = 1; i <= $#; i++)); do
		cn=${TW_CLIENT_CNS[i]}
		tw_wait_log "$TW_DIR/client-$cn.log" "Initialization Sequence Completed" 15 ||
			tw_bail "client $cn did not connect within 15 s"
	done
}

# tw_ovpn_client_stop I: stop client I (about 1 s: explicit-exit-notify tells the server). The
# server runs client-disconnect about 5 s later: OpenVPN 2.6 delays a notified exit by a fixed 5 s.
tw_ovpn_client_stop() {
	tw_kill "${TW_CLIENT_PIDS[$1]}"
}

# tw_mgmt COMMAND: one command on the server's management socket; prints the reply up to its
# terminating SUCCESS:/ERROR:/END line, without real-time (">") notifications.
tw_mgmt() {
	local cmd=$1 line rc=1 in out pid
	[ -S "$TW_SRV_MGMT" ] || { echo "no management socket at $TW_SRV_MGMT"; return 1; }
	coproc TW_MG { exec ip netns exec "$TW_SRV_NS" timeout 10 nc -U "$TW_SRV_MGMT"; }
	# Copies: bash unsets TW_MG as soon as the coprocess is reaped.
	in=${TW_MG[0]} out=${TW_MG[1]} pid=$TW_MG_PID
	{ printf '%s\n' "$cmd" >&"$out"; } 2>/dev/null
	while IFS= read -r -t 5 line <&"$in"; do
		line=${line%$'\r'}
		[[ $line == '>'* ]] && continue
		printf '%s\n' "$line"
		case $line in
		END | SUCCESS:*) rc=0; break ;;
		ERROR:*) break ;;
		esac
	done 2>/dev/null
	{ printf 'quit\n' >&"$out"; } 2>/dev/null
	{ exec {out}>&- {in}<&-; } 2>/dev/null
	wait "$pid" 2>/dev/null || true
	return $rc
}

# tw_mgmt_hold: another management client (a monitoring tool, an operator's nc) takes the
# server's one management slot and keeps it, until its pid ($TW_MGMT_HOLDER) is killed. Returns
# once OpenVPN has greeted it, so the slot is known to be taken.
tw_mgmt_hold() {
	tw_spawn "$TW_SRV_NS" "$TW_DIR/holder.log" python3 -u -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.settimeout(5)
if s.recv(4096).startswith(b">INFO:"):
    print("HELD", flush=True)
time.sleep(600)
' "$TW_SRV_MGMT"
	TW_MGMT_HOLDER=$TW_LAST_PID
	tw_wait_for "grep -q HELD '$TW_DIR/holder.log'" 5 || tw_bail "the holder did not get the slot"
}

# tw_tun_addr NS [DEV]: the IPv4 address on DEV (default tun0) in namespace NS.
tw_tun_addr() {
	ip -n "$1" -4 -o addr show dev "${2:-tun0}" 2>/dev/null | awk '{ split($4, a, "/"); print a[1] }'
}
