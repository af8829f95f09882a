#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Quick proof that a vmtest guest can run the dataplane: load every BPF object of the build
# (the kernel's verifier has its say), make veth, tun and wireguard links (on-demand module
# loading), attach a program with tc on a veth in a fresh network namespace.
# Usage (inside the guest): scripts/vmtest/smoke.sh [BUILD_DIR]
set -u
O=${1:-build}
# Maps are pinned by name under /sys/fs/bpf (LIBBPF_PIN_BY_NAME): only the guest's own bpffs
# may receive them, never a host's.
if [ "$(hostname)" != vmtest ]; then
	echo "smoke.sh: run me inside a vmtest guest: scripts/vmtest.sh -- $0" >&2
	exit 2
fi
fails=0
ns=vmtest-smoke-$$
pin=/sys/fs/bpf/vmtest-smoke-$$

check() {
	local what=$1 out
	shift
	if out=$("$@" 2>&1); then
		echo "ok - $what"
	else
		echo "not ok - $what"
		printf '%s\n' "$out" | tail -n 60 | sed 's/^/#   /'
		fails=$((fails + 1))
	fi
}

cleanup() {
	ip netns del "$ns" 2>/dev/null
	rm -rf "$pin"
}
trap cleanup EXIT

echo "# kernel $(uname -r)"
for o in "$O"/bpf/*.bpf.o; do
	[ -e "$o" ] || continue
	n=$(basename "$o" .bpf.o)
	mkdir -p "$pin/$n"
	# libbpf prints the verifier log when a program is rejected. (Not -d: that asks for the
	# log of every accepted program too, which takes minutes under TCG.)
	check "bpftool prog loadall $n" bpftool prog loadall "$o" "$pin/$n"
done
check "netns" ip netns add "$ns"
check "veth" ip -n "$ns" link add v0 type veth peer name v1
check "tun" ip -n "$ns" tuntap add mode tun name tun0
check "wireguard" ip -n "$ns" link add wg0 type wireguard
check "tc clsact" tc -n "$ns" qdisc add dev v0 clsact
if [ -e "$O/bpf/tunwarden.bpf.o" ]; then
	check "tc bpf attach (cls_bpf)" tc -n "$ns" filter add dev v0 ingress bpf direct-action \
		object-file "$O/bpf/tunwarden.bpf.o" section tc
	check "xdp attach (native on veth)" ip -n "$ns" link set dev v1 xdpdrv \
		object "$O/bpf/tunwarden.bpf.o" section xdp
fi
echo "# $fails failed"
[ $fails -eq 0 ]
