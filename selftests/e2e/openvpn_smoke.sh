#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# openvpn_smoke.sh - proves the e2e scaffold: a real OpenVPN 2.6 server and three real clients in
# their own namespaces, routing to a service namespace behind the server, the client-connect /
# client-disconnect hooks and the management interface, all as tunwarden will rely on them.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

tw_e2e_init openvpn_smoke
tw_need_cmd openvpn openssl nc ping timeout

CNS=(alice bob carol)
declare -A OU=([alice]=tenantA [bob]=tenantB [carol]=)

# The hook under test is a stand-in for tunwarden-hook: it records the environment OpenVPN gives
# it (one file per event and CN) and argv[1], and admits everyone.
HOOK=$TW_DIR/hook.sh
mkdir -p "$TW_DIR/hook"
cat >"$HOOK" <<EOF
#!/bin/sh
cn=\$(printf '%s' "\$common_name" | tr -c 'A-Za-z0-9._@-' _)
out=$TW_DIR/hook/\$script_type.\$cn
{ env; printf 'ARGV1=%s\n' "\$1"; } >"\$out.tmp" && mv "\$out.tmp" "\$out"
EOF
chmod 755 "$HOOK"

# env_of EVENT CN KEY: a variable from what the hook recorded.
env_of() {
	sed -n "s/^$3=//p" "$TW_DIR/hook/$1.$2" 2>/dev/null | head -n 1
}

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

tw_topo_create ${#CNS[@]}
tw_pki "alice:${OU[alice]}" "bob:${OU[bob]}" carol
tw_ovpn_server_start "$HOOK"
tw_ok "server up in $TW_SRV_NS ($TW_SRV_DEV, management $TW_SRV_MGMT)"
tw_ovpn_clients_start "${CNS[@]}"
tw_ok "${#CNS[@]} clients completed initialization"

declare -A seen_addr=()
for i in "${!CNS[@]}"; do
	n=$((i + 1))
	cn=${CNS[i]}
	ns=$(tw_client_ns "$n")

	addr=$(tw_tun_addr "$ns")
	if [[ $addr =~ ^10\.8\.0\.([0-9]+)$ ]] && [ "${BASH_REMATCH[1]}" -ge 2 ] &&
		[ "${BASH_REMATCH[1]}" -le 253 ] && [ -z "${seen_addr[$addr]:-}" ]; then
		tw_ok "$cn: pool address $addr on tun0"
	else
		tw_fail "$cn: pool address on tun0" "got '$addr' (seen: ${!seen_addr[*]})"
	fi
	seen_addr[$addr]=$cn

	f=$TW_DIR/hook/client-connect.$cn
	if [ -s "$f" ]; then
		tw_ok "$cn: client-connect hook ran"
	else
		tw_fail "$cn: client-connect hook ran" "no $f"
	fi
	got=$(env_of client-connect "$cn" common_name)
	[ "$got" = "$cn" ] && tw_ok "$cn: hook sees common_name" ||
		tw_fail "$cn: hook sees common_name" "common_name='$got'"
	got=$(env_of client-connect "$cn" ifconfig_pool_remote_ip)
	[ -n "$addr" ] && [ "$got" = "$addr" ] && tw_ok "$cn: hook sees ifconfig_pool_remote_ip" ||
		tw_fail "$cn: hook sees ifconfig_pool_remote_ip" "hook '$got', tun0 '$addr'"
	got=$(env_of client-connect "$cn" trusted_ip)
	want=$(tw_client_addr "$n")
	[ "$got" = "$want" ] && tw_ok "$cn: hook sees trusted_ip $want" ||
		tw_fail "$cn: hook sees trusted_ip" "trusted_ip='$got', want '$want'"
	got=$(env_of client-connect "$cn" trusted_port)
	is_uint "$got" && [ "$got" -ge 1 ] && [ "$got" -le 65535 ] &&
		tw_ok "$cn: hook sees trusted_port $got" ||
		tw_fail "$cn: hook sees trusted_port" "trusted_port='$got'"
	got=$(env_of client-connect "$cn" X509_0_OU)
	[ "$got" = "${OU[$cn]}" ] && tw_ok "$cn: hook sees X509_0_OU '${OU[$cn]}'" ||
		tw_fail "$cn: hook sees X509_0_OU" "X509_0_OU='$got', want '${OU[$cn]}'"
	got=$(env_of client-connect "$cn" ARGV1)
	[ -n "$got" ] && tw_ok "$cn: client-connect gets a config file argument" ||
		tw_fail "$cn: client-connect gets a config file argument" "argv[1] empty"

	tw_check "$cn: pings server tunnel address $TW_SRV_TUN_ADDR" \
		tw_nsexec "$ns" ping -n -c 1 -W 2 "$TW_SRV_TUN_ADDR"
	tw_check "$cn: pings service host $TW_SVC_ADDR through the server" \
		tw_nsexec "$ns" ping -n -c 1 -W 2 "$TW_SVC_ADDR"
done

status=$(tw_mgmt "status 3")
rc=$?
if [ $rc -eq 0 ] && [[ $status == *$'\n'END* ]]; then
	tw_ok "management socket answers 'status 3'"
else
	tw_fail "management socket answers 'status 3'" "rc=$rc: $status"
fi
for cn in "${CNS[@]}"; do
	grep -qP "^CLIENT_LIST\t$cn\t" <<<"$status" &&
		tw_ok "status 3 lists $cn" || tw_fail "status 3 lists $cn" "$status"
done

# Stop the first client: explicit-exit-notify makes the server run client-disconnect now.
cn=${CNS[0]}
tw_ovpn_client_stop 1
if tw_wait_for "[ -s '$TW_DIR/hook/client-disconnect.$cn' ]" 10; then
	tw_ok "$cn: client-disconnect hook ran after the client stopped"
else
	tw_fail "$cn: client-disconnect hook ran after the client stopped" "not within 10 s"
fi
for key in bytes_received bytes_sent; do
	got=$(env_of client-disconnect "$cn" $key)
	# Both directions carried at least the two pings.
	is_uint "$got" && [ "$got" -gt 0 ] && tw_ok "$cn: client-disconnect sees $key=$got" ||
		tw_fail "$cn: client-disconnect sees $key" "$key='$got'"
done
got=$(env_of client-disconnect "$cn" time_duration)
is_uint "$got" && tw_ok "$cn: client-disconnect sees time_duration=$got" ||
	tw_fail "$cn: client-disconnect sees time_duration" "time_duration='$got'"
status=$(tw_mgmt "status 3")
! grep -qP "^CLIENT_LIST\t$cn\t" <<<"$status" && grep -qP "^CLIENT_LIST\t${CNS[1]}\t" <<<"$status" &&
	tw_ok "status 3 no longer lists $cn, still lists ${CNS[1]}" ||
	tw_fail "status 3 no longer lists $cn, still lists ${CNS[1]}" "$status"

tw_done
