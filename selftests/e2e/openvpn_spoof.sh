#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# A client that writes another client's source address into its OpenVPN tunnel: the packet must
# never reach the service and be billed to no one. tunwarden's dataplane takes the source address
# as the client's identity (prog_tests/tunnel_verdicts.c, spoof_* rows); this scenario shows the
# check it relies on, OpenVPN's own ("bad source address ... packet dropped"), holding with the
# real server, two real clients and tunwardend. docs/security.md lists the dependency.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon.inc"

tw_e2e_init openvpn_spoof
tw_need_cmd openvpn python3
[ -x "$TW_BIN/tunwardend" ] || tw_skip_all "build the daemon first (make)"
tw_on_cleanup tw_daemon_cleanup

# verb 4: OpenVPN logs its source-address drops (D_MULTI_DROPPED) from level 4 on.
TW_OVPN_EXTRA+=("verb 4")
tw_topo_create 2
tw_daemon_setup
tw_pki alice bob
tw_daemon_start
tw_ovpn_server_with_daemon
# What OpenVPN writes into the server's tun0, seen before tc ingress (an AF_PACKET tap): one
# "SRC DST" line per IPv4 packet to the service, in $TW_DIR/srv-tun0.pkts.
tw_spawn "$TW_SRV_NS" "$TW_DIR/srv-tun0.log" python3 -c '
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
s.bind(("tun0", 0))
with open(sys.argv[1], "a") as f:
    while True:
        d, a = s.recvfrom(65535)
        if a[2] == socket.PACKET_OUTGOING or len(d) < 20 or d[0] >> 4 != 4:
            continue
        print(socket.inet_ntoa(d[12:16]), socket.inet_ntoa(d[16:20]), file=f, flush=True)
' "$TW_DIR/srv-tun0.pkts"
tw_udp_sink 9000 "$TW_DIR/sink9000"
tw_wait_for "[ -s '$TW_DIR/sink9000' ]" 5 || tw_bail "the UDP sink did not start"
tw_ovpn_clients_start alice bob
A=$(tw_client_ns 1) B=$(tw_client_ns 2)
a_ip=$(tw_tun_addr "$A") b_ip=$(tw_tun_addr "$B")
tw_diag "alice $a_ip, bob $b_ip"
tw_wait_for "tw_nsexec '$A' ping -c1 -W1 '$TW_SVC_ADDR'" 10 || tw_diag "alice's tunnel: no ping reply in 10 s"

# send_from NS SRC N: N datagrams of 100 bytes from SRC to the service's udp/9000.
send_from() {
	ip netns exec "$1" python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_IP, 15, 1)  # IP_FREEBIND: the source need not be configured yet
s.bind((sys.argv[1], 0))
for i in range(int(sys.argv[2])):
    s.sendto(b"s" * 100, (sys.argv[3], 9000)); time.sleep(0.01)
' "$2" "$3" "$TW_SVC_ADDR"
}
sink() { cut -d' ' -f1 "$TW_DIR/sink9000" 2>/dev/null || echo 0; }
tun_tx() { ip -n "$A" -s -j link show dev tun0 | tw_jq "j[0]['stats64']['tx']['packets']"; }
# drops: "ALICE BOB" drop counts (packets).
drops() {
	echo "$(tw_client_field alice drops) $(tw_client_field bob drops)"
}
seen() { grep -c "^$1 $TW_SVC_ADDR\$" "$TW_DIR/srv-tun0.pkts"; }

# Control: alice's own source reaches the service, so a silent sink below means something.
n0=$(sink)
send_from "$A" "$a_ip" 20
tw_check "control: 20 datagrams from alice's own address reach the service" \
	tw_wait_for "[ \$(( \$(cut -d' ' -f1 '$TW_DIR/sink9000') - $n0 )) -eq 20 ]" 5
tw_check "control: the tap on the server's tun0 saw them" \
	tw_wait_for "[ \$(seen $a_ip) -ge 20 ]" 3

# The spoof: bob's address on alice's tun0, 50 datagrams from it into alice's tunnel.
ip -n "$A" addr add "$b_ip/32" dev tun0
n1=$(sink) t1=$(tun_tx)
a1=$(tw_client_field alice from_pkts) b1=$(tw_client_field bob from_pkts)
d1=$(drops)
send_from "$A" "$b_ip" 50
sleep 1
t2=$(tun_tx)
tw_diag "alice's tun0 sent $((t2 - t1)) packets into her tunnel"
tw_check "the spoofed datagrams entered alice's tunnel" eval "[ $((t2 - t1)) -ge 50 ]"
tw_check "none of them reached the service" eval "[ \$(sink) -eq $n1 ]"
tw_check "none of them came out of OpenVPN into the server's tun0" eval "[ \$(seen $b_ip) -eq 0 ]"
nbad=$(grep -c "alice/.*MULTI: bad source address from client \[$b_ip\], packet dropped" "$TW_SRV_LOG")
tw_check "OpenVPN dropped all 50 on alice's connection: bad source address $b_ip" \
	eval "[ '$nbad' -ge 50 ]"
tw_check "billed to no one: bob's from_pkts unchanged" \
	eval "[ \$(tw_client_field bob from_pkts) -eq $b1 ]"
tw_check "billed to no one: alice's from_pkts unchanged" \
	eval "[ \$(tw_client_field alice from_pkts) -eq $a1 ]"
d2=$(drops)
tw_diag "drops of alice and bob: before $d1, after $d2"
tw_check "no drop counted to alice or bob" eval "[ '$d1' = '$d2' ]"

# An address that is nobody's in the pool is dropped by OpenVPN just the same.
ip -n "$A" addr add 10.8.0.250/32 dev tun0
n2=$(sink)
send_from "$A" 10.8.0.250 20
sleep 1
tw_check "an unassigned pool address never reaches the service" eval "[ \$(sink) -eq $n2 ]"
tw_check "... nor the server's tun0" eval "[ \$(seen 10.8.0.250) -eq 0 ]"

# Bob's own traffic is unaffected and billed to him.
send_from "$B" "$b_ip" 10
tw_check "bob's own datagrams still reach the service" \
	tw_wait_for "[ \$(( \$(cut -d' ' -f1 '$TW_DIR/sink9000') - $n2 )) -eq 10 ]" 5
tw_check "... and are billed to bob" eval "[ \$(( \$(tw_client_field bob from_pkts) - $b1 )) -eq 10 ]"
tw_check "control: the tap saw bob's 10" eval "[ \$(seen $b_ip) -eq 10 ]"

tw_done
