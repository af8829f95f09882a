#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Install what tunwarden's build, tests, demo and benchmarks need, from the distribution's archive
# (Debian 12 and newer, Ubuntu 24.04). `make demo`, `make check`, `make bench` and `make vmtest`
# run it before they build; it is quiet when everything is present and costs no network then.
#
#   scripts/install-deps.sh [--quiet] [--list] [GROUP...]
#     GROUP: build, test, bench, vmtest, quality (default: build test)
#     --quiet  print nothing when nothing is missing
#     --list   print the package names of the groups, one a line, and exit (fresh-check hashes it)
#
# On a system without apt-get it installs nothing: it names the missing commands, headers and
# pkg-config modules, and exits 1.
set -euo pipefail

# One line a package: "GROUP PACKAGE PROBE". PACKAGE may name alternatives (a|b: the first one
# the archive knows is taken; Ubuntu ships bpftool inside linux-tools). PROBE is what must exist
# when the package is there: cmd:NAME, pc:MODULE (pkg-config) or file:PATH. It is what a system
# without apt is checked for.
DEPS='
build make            cmd:make
build gcc             cmd:gcc
build clang           cmd:clang
build llvm            cmd:llvm-strip
build pkg-config      cmd:pkg-config
build libbpf-dev      pc:libbpf
build bpftool|linux-tools-generic cmd:bpftool
build libelf-dev      pc:libelf
build zlib1g-dev      pc:zlib
build linux-libc-dev  file:/usr/include/linux/bpf.h
build libnl-3-dev     pc:libnl-3.0
build libnl-route-3-dev pc:libnl-route-3.0
build libnl-genl-3-dev pc:libnl-genl-3.0
build libsqlite3-dev  pc:sqlite3
build libssl-dev      pc:openssl
build libnghttp2-dev  pc:libnghttp2
build libjansson-dev  pc:jansson
build libsystemd-dev  pc:libsystemd
test  iproute2        cmd:ip
test  procps          cmd:sysctl
test  util-linux      cmd:mount
test  util-linux      cmd:setpriv
test  kmod            cmd:modprobe
test  nftables        cmd:nft
test  openvpn         cmd:openvpn
test  openssl         cmd:openssl
test  iputils-ping    cmd:ping
test  netcat-openbsd  cmd:nc
test  wireguard-go    cmd:wireguard-go
test  wireguard-tools cmd:wg
test  sqlite3         cmd:sqlite3
test  python3         cmd:python3
test  curl            cmd:curl
test  nghttp2-client  cmd:h2load
test  nghttp2-server  cmd:nghttpd
test  python3-h2      file:/usr/lib/python3/dist-packages/h2
bench linux-perf|linux-tools-generic cmd:perf
vmtest qemu-system-x86 cmd:qemu-system-x86_64
vmtest cpio           cmd:cpio
vmtest xz-utils       cmd:xz
vmtest zstd           cmd:zstd
vmtest binutils       cmd:readelf
vmtest busybox-static file:/bin/busybox
vmtest udev           cmd:udevadm
vmtest file           cmd:file
vmtest python3-requests file:/usr/lib/python3/dist-packages/requests
vmtest python3-argcomplete file:/usr/lib/python3/dist-packages/argcomplete
vmtest python3-pkg-resources file:/usr/lib/python3/dist-packages/pkg_resources
quality lcov          cmd:genhtml
'
# The vmtest group's runner, virtme-ng, is not in Debian 12: scripts/vmtest/install-vng.sh takes
# the pinned .deb from Debian 13 once the packages above are in.

quiet=0
list=0
groups=()
for a in "$@"; do
	case $a in
	--quiet) quiet=1 ;;
	--list) list=1 ;;
	build | test | bench | vmtest | quality) groups+=("$a") ;;
	-h | --help) sed -n '3,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "install-deps: unknown argument '$a' (groups: build test bench vmtest quality)" >&2; exit 2 ;;
	esac
done
[ ${#groups[@]} -gt 0 ] || groups=(build test)

say() { echo "install-deps: $*" >&2; }

# The selected lines of DEPS.
selected() {
	local g pkg probe want
	while read -r g pkg probe; do
		[ -n "$g" ] || continue
		for want in "${groups[@]}"; do
			[ "$g" = "$want" ] && echo "$pkg $probe"
		done
	done <<<"$DEPS"
}

if [ $list -eq 1 ]; then
	selected | awk '{ print $1 }'
	exit 0
fi

probe_ok() {
	case $1 in
	cmd:*) PATH=$PATH:/usr/sbin:/sbin command -v "${1#cmd:}" >/dev/null 2>&1 ;;
	pc:*) pkg-config --exists "${1#pc:}" 2>/dev/null ;;
	file:*) [ -e "${1#file:}" ] ;;
	esac
}

if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-query >/dev/null 2>&1; then
	missing=()
	while read -r pkg probe; do
		kind=${probe%%:*}
		kind=${kind/cmd/command}
		kind=${kind/pc/pkg-config module}
		probe_ok "$probe" || missing+=("$kind ${probe#*:} (Debian package ${pkg%%|*})")
	done < <(selected)
	[ ${#missing[@]} -eq 0 ] && exit 0
	say "no apt-get here: install these yourself, then run make again:"
	printf '  %s\n' "${missing[@]}" >&2
	exit 1
fi

# Installed packages, in one dpkg-query call (one exec, no network).
mapfile -t wanted < <(selected | awk '{ print $1 }' | tr '|' '\n')
declare -A installed=()
while read -r name status; do
	[ "$status" = installed ] && installed[$name]=1
done < <(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${wanted[@]}" 2>/dev/null || true)

# Missing: no alternative installed, or installed without what it should provide (a package
# split in a later release must not hide a missing command).
missing=()
while read -r pkg probe; do
	have=0
	IFS='|' read -ra alts <<<"$pkg"
	for p in "${alts[@]}"; do
		[ -n "${installed[$p]:-}" ] && have=1
	done
	[ $have -eq 1 ] && ! probe_ok "$probe" && have=0
	[ $have -eq 1 ] || missing+=("$pkg")
done < <(selected)

# After the archive's packages: what comes from elsewhere (vmtest: vng from Debian 13, pinned).
install_extras() {
	case " ${groups[*]} " in
	*" vmtest "*) "$(dirname "$0")/vmtest/install-vng.sh" ;;
	esac
}

if [ ${#missing[@]} -eq 0 ]; then
	install_extras
	[ $quiet -eq 1 ] || say "all dependencies present"
	exit 0
fi

SUDO=
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null 2>&1 || { say "missing ${missing[*]}; run this script as root"; exit 1; }
	SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
say "apt-get update"
$SUDO apt-get update -qq >&2

# Alternatives: the first name the archive knows.
pkgs=()
for pkg in "${missing[@]}"; do
	IFS='|' read -ra alts <<<"$pkg"
	pick=
	for p in "${alts[@]}"; do
		if apt-cache show "$p" >/dev/null 2>&1; then
			pick=$p
			break
		fi
	done
	[ -n "$pick" ] || { say "no package in the archive for ${pkg//|/ or }"; exit 1; }
	pkgs+=("$pick")
done

# No recommends anywhere: wireguard-tools would pull a kernel and initramfs-tools, clang a
# second toolchain.
say "installing ${pkgs[*]}"
$SUDO apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >&2
install_extras
