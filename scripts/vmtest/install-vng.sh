#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Install virtme-ng (vng), the VM runner of `make vmtest`, on Debian 12, which does not package it.
# Debian 13 (trixie) packages it as an architecture-independent Python package whose dependencies
# are all in Debian 12 (scripts/install-deps.sh installs those first: its vmtest group). This
# fetches the pinned .deb from trixie through a private apt configuration (its own sources list,
# package lists and cache, so the system's apt sources are untouched), checks the pinned SHA-256,
# keeps the .deb in the vmtest cache and installs it with dpkg. Idempotent: no network when the
# pinned version is installed.
#
#   scripts/vmtest/install-vng.sh [--check]   --check: exit 0 if the pinned version is installed
set -euo pipefail

# The pin: trixie's virtme-ng. A new trixie revision replaces the file in the archive; then the
# download fails with the message below and the pin is moved here (version and checksum together).
VNG_VERSION=1.35-1
VNG_SHA256=e7b9d2f28e34766446db5c40b7fdd9a09ed561af21e4aa580a660ff9a0a86f5a
VNG_SUITE=trixie
VNG_MIRROR=${VNG_MIRROR:-http://deb.debian.org/debian}

say() { echo "install-vng: $*" >&2; }

installed_version() {
	dpkg-query -W -f='${db:Status-Status} ${Version}\n' virtme-ng 2>/dev/null |
		awk '$1 == "installed" { print $2 }'
}

if [ "$(installed_version)" = "$VNG_VERSION" ] && command -v vng >/dev/null 2>&1; then
	exit 0
fi
[ "${1:-}" = --check ] && exit 1

if [ -z "${VMTEST_CACHE:-}" ]; then
	if [ "$(id -u)" -eq 0 ]; then
		VMTEST_CACHE=/var/cache/tunwarden-vmtest
	else
		VMTEST_CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/tunwarden-vmtest
	fi
fi
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo

dir=$VMTEST_CACHE/vng
deb=$dir/virtme-ng_${VNG_VERSION}_all.deb
mkdir -p "$dir"

sha_ok() { echo "$VNG_SHA256  $1" | sha256sum --quiet -c - 2>/dev/null; }

if ! [ -f "$deb" ] || ! sha_ok "$deb"; then
	rm -f "$deb"
	apt_dir=$dir/apt
	mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
	echo "deb $VNG_MIRROR $VNG_SUITE main" >"$apt_dir/sources.list"
	apt_opts=(-o "Dir::Etc::sourcelist=$apt_dir/sources.list" -o "Dir::Etc::sourceparts=-"
		-o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache"
		-o "APT::Get::List-Cleanup=0")
	# As root apt would drop to _apt, which cannot write the root-owned cache.
	[ "$(id -u)" -eq 0 ] && apt_opts+=(-o APT::Sandbox::User=root)
	say "fetching virtme-ng $VNG_VERSION from Debian $VNG_SUITE (private apt lists in $apt_dir)"
	apt-get "${apt_opts[@]}" -qq update >&2 ||
		{ say "cannot read Debian $VNG_SUITE's package lists from $VNG_MIRROR"; exit 1; }
	(cd "$dir" && apt-get "${apt_opts[@]}" -q download "virtme-ng=$VNG_VERSION") >&2 || {
		say "Debian $VNG_SUITE no longer has virtme-ng $VNG_VERSION" \
			"($(apt-cache "${apt_opts[@]}" policy virtme-ng 2>/dev/null |
				awk '$1 == "Candidate:" { print "it has " $2 }')):" \
			"move the pin in $0; VMTEST_RUNNER=qemu runs the VM suites without vng"
		exit 1
	}
	sha_ok "$deb" || {
		say "checksum mismatch for $deb (expected $VNG_SHA256, got" \
			"$(sha256sum "$deb" | cut -d' ' -f1)): refusing to install it"
		rm -f "$deb"
		exit 1
	}
fi

say "installing $deb"
$SUDO dpkg -i "$deb" >/dev/null || {
	say "dpkg -i failed: its dependencies come from scripts/install-deps.sh vmtest"
	exit 1
}
[ "$(installed_version)" = "$VNG_VERSION" ] || { say "virtme-ng $VNG_VERSION is not installed after dpkg"; exit 1; }
