#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Install every build and test dependency of tunwarden from Debian 12's archive.
# Idempotent: packages already present are skipped without touching the network.
set -euo pipefail

BUILD_PKGS=(
	make gcc clang llvm pkg-config
	libbpf-dev bpftool libelf-dev zlib1g-dev
	linux-libc-dev
	libnl-3-dev libnl-route-3-dev libnl-genl-3-dev
	libsqlite3-dev libssl-dev libnghttp2-dev libjansson-dev libsystemd-dev
)
TEST_PKGS=(
	iproute2 nftables openvpn openssl iputils-ping netcat-openbsd
	wireguard-go sqlite3 python3
)
# wireguard-tools without recommends: its recommends pull a kernel and initramfs-tools.
NORECOMMENDS_PKGS=(wireguard-tools)

missing=()
for p in "${BUILD_PKGS[@]}" "${TEST_PKGS[@]}" "${NORECOMMENDS_PKGS[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: all dependencies present"
	exit 0
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
