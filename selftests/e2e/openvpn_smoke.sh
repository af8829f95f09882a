#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# openvpn_smoke.sh - proves the e2e scaffold: a real OpenVPN 2.6 server and real clients in their
# own namespaces, routing to a service namespace behind the server, the client-connect /
# client-disconnect hooks (environment, argv[1], setenv, session-timeout) and the management
# interface, all as tunwarden relies on them (docs/openvpn.md).
set -uo pipefail
# shellcheck source=selftests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

tw_e2e_init openvpn_smoke
tw_need_cmd openvpn openssl nc ping timeout

CNS=(alice bob carol)
declare -A OU=([alice]=tenantA [bob]=tenantB [carol]="")
# A fourth client whose session the hook limits with session-timeout, as tunwarden-hook does for
# sandboxed clients.
SANDBOXED=dave
SANDBOX_TIMEOUT=2

# The hook under test is a stand-in for tunwarden-hook: it records the environment OpenVPN gives
# it (one file per event and CN) and argv[1], and admits everyone.
HOOK=$TW_DIR/hook.sh
mkdir -p "$TW_DIR/hook"
cat >"$HOOK" <<EOF
#!/bin/sh
cn=\$(printf '%s' "\$common_name" | tr -c 'A-Za-z0-9._@-' _)
out=$TW_DIR/hook/\$script_type.\$cn
{ env; printf 'ARGV1=%s\n' "\$1"; } >"\$out.tmp" && mv "\$out.tmp" "\$out"
if [ "\$script_type" = client-connect ] && [ "\$common_name" = $SANDBOXED ]; then
	echo "session-timeout $SANDBOX_TIMEOUT" >"\$1"
fi
EOF
chmod 755 "$HOOK"

# env_of EVENT CN KEY: a variable from what the hook recorded.
env_of() {
	sed -n "s/^$3=//p" "$TW_DIR/hook/$1.$2" 2>/dev/null | head -n 1
}
is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }
in_range() { is_uint "$1" && [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]; }
listed() { grep -qP "^CLIENT_LIST\t$1\t" <<<"$2"; }

tw_topo_create $((${#CNS[@]} + 1))
tw_pki "alice:${OU[alice]}" "bob:${OU[bob]}" carol $SANDBOXED
# OpenVPN gives scripts its own variables and those named with setenv, not its environment:
# tunwarden-hook finds the daemon's socket through setenv.
export TW_SMOKE_INHERITED=1
tw_ovpn_server_start "$HOOK" tun0 "setenv TUNWARDEN_SOCKET $TW_DIR/ctl.sock"
unset TW_SMOKE_INHERITED
tw_ok "server up in $TW_SRV_NS ($TW_SRV_DEV, management $TW_SRV_MGMT)"
tw_ovpn_clients_start "${CNS[@]}" $SANDBOXED
tw_ok "$((${#CNS[@]} + 1)) clients completed initialization"

declare -A seen_addr=()
for i in "${!CNS[@]}"; do
	n=$((i + 1))
	cn=${CNS[i]}
	ns=$(tw_client_ns "$n")

	addr=$(tw_tun_addr "$ns")
	host=${addr#10.8.0.}
	tw_expect "$cn: own pool address $addr on tun0" \
		"got '$addr' (already seen: ${!seen_addr[*]})" \
		eval '[ "10.8.0.$host" = "$addr" ] && in_range "$host" 2 253 &&
			[ -z "${seen_addr[$addr]:-}" ]'
	seen_addr[$addr]=$cn

	tw_expect "$cn: client-connect hook ran" "no hook/client-connect.$cn" \
		test -s "$TW_DIR/hook/client-connect.$cn"
	got=$(env_of client-connect "$cn" common_name)
	tw_expect "$cn: hook sees common_name" "common_name='$got'" test "$got" = "$cn"
	got=$(env_of client-connect "$cn" ifconfig_pool_remote_ip)
	tw_expect "$cn: hook sees ifconfig_pool_remote_ip" "hook '$got', tun0 '$addr'" \
		eval '[ -n "$addr" ] && [ "$got" = "$addr" ]'
	want=$(tw_client_addr "$n")
	got=$(env_of client-connect "$cn" trusted_ip)
	tw_expect "$cn: hook sees trusted_ip $want" "trusted_ip='$got'" test "$got" = "$want"
	got=$(env_of client-connect "$cn" trusted_port)
	tw_expect "$cn: hook sees trusted_port $got" "trusted_port='$got'" in_range "$got" 1 65535
	got=$(env_of client-connect "$cn" X509_0_OU)
	tw_expect "$cn: hook sees X509_0_OU '${OU[$cn]}'" "X509_0_OU='$got'" \
		test "$got" = "${OU[$cn]}"
	got=$(env_of client-connect "$cn" ARGV1)
	tw_expect "$cn: client-connect gets a config file as argv[1]" "argv[1]='$got'" \
		eval '[[ $got == /* ]]'

	if [ "$n" -eq 1 ]; then
		got=$(env_of client-connect "$cn" TUNWARDEN_SOCKET)
		tw_expect "hook sees variables set with setenv" "TUNWARDEN_SOCKET='$got'" \
			test "$got" = "$TW_DIR/ctl.sock"
		got=$(env_of client-connect "$cn" TW_SMOKE_INHERITED)
		tw_expect "hook does not inherit OpenVPN's own environment" "got '$got'" \
			test -z "$got"
	fi

	tw_check "$cn: pings server tunnel address $TW_SRV_TUN_ADDR" \
		tw_nsexec "$ns" ping -n -c 1 -W 2 "$TW_SRV_TUN_ADDR"
	tw_check "$cn: pings service host $TW_SVC_ADDR through the server" \
		tw_nsexec "$ns" ping -n -c 1 -W 2 "$TW_SVC_ADDR"
done

status=$(tw_mgmt "status 3")
rc=$?
tw_expect "management socket answers 'status 3'" "rc=$rc: $status" \
	eval '[ "$rc" -eq 0 ] && [ "$(tail -n 1 <<<"$status")" = END ]'
for cn in "${CNS[@]}"; do
	tw_expect "status 3 lists $cn" "$status" listed "$cn" "$status"
done

# Stop the first client: explicit-exit-notify makes the server run client-disconnect (about
# 5 s later, see tw_ovpn_client_stop).
cn=${CNS[0]}
tw_ovpn_client_stop 1
tw_expect "$cn: client-disconnect hook ran after the client stopped" "not within 10 s" \
	tw_wait_for "[ -s '$TW_DIR/hook/client-disconnect.$cn' ]" 10
for key in bytes_received bytes_sent; do
	got=$(env_of client-disconnect "$cn" $key)
	# Both directions carried at least the two pings.
	tw_expect "$cn: client-disconnect sees $key=$got" "$key='$got'" \
		in_range "$got" 1 9223372036854775807
done
got=$(env_of client-disconnect "$cn" time_duration)
tw_expect "$cn: client-disconnect sees time_duration=$got" "time_duration='$got'" is_uint "$got"

# The sandboxed client's session ends on the server's clock, whatever the client does.
sb=$SANDBOXED
if tw_wait_for "[ -s '$TW_DIR/hook/client-disconnect.$sb' ]" $((SANDBOX_TIMEOUT + 8)); then
	got=$(env_of client-disconnect "$sb" time_duration)
	tw_expect "$sb: hook's session-timeout $SANDBOX_TIMEOUT ended the session after ${got}s" \
		"time_duration='$got'" in_range "$got" $SANDBOX_TIMEOUT $((SANDBOX_TIMEOUT + 2 * TW_E2E_SLACK))
else
	tw_fail "$sb: hook's session-timeout ended the session" "no client-disconnect"
fi

status=$(tw_mgmt "status 3")
tw_expect "status 3 no longer lists $cn, still lists ${CNS[1]}" "$status" \
	eval '! listed "$cn" "$status" && listed "${CNS[1]}" "$status"'

tw_done
