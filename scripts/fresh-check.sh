#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# make fresh-check: the README's two commands on a freshly installed Debian 12.
#
# Debootstraps a minimal Debian 12 root (--variant=minbase, plus git and make and nothing else),
# clones this repository's HEAD into it and runs exactly `make demo` and `make check` there, as a
# new user would, on the host's kernel. Everything the two commands need they must install
# themselves. All mounts live in a private mount namespace, so they vanish with it; the root is
# removed afterwards.
#
#   scripts/fresh-check.sh [--keep] [--shell] [-- COMMAND...]
#     --keep    leave the root in place (its path is printed)
#     --shell   an interactive shell in the root after the commands (for debugging)
#     COMMAND   run this inside the root instead of the two commands
#
# Caches (FRESH_CACHE, default /var/cache/tunwarden-fresh): the debootstrapped base as a tarball,
# and apt's downloaded packages under a hash of scripts/install-deps.sh's package list, so a
# second run downloads nothing but apt's indexes, while still installing every package afresh.
# FRESH_MIRROR (default http://deb.debian.org/debian), FRESH_SUITE (default bookworm).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${FRESH_CACHE:-/var/cache/tunwarden-fresh}
MIRROR=${FRESH_MIRROR:-http://deb.debian.org/debian}
SUITE=${FRESH_SUITE:-bookworm}
keep=0
shell=0
cmd=()
while [ $# -gt 0 ]; do
	case $1 in
	--keep) keep=1; shift ;;
	--shell) shell=1; keep=1; shift ;;
	--) shift; cmd=("$@"); break ;;
	-h | --help) sed -n '3,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "fresh-check: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
[ ${#cmd[@]} -gt 0 ] || cmd=(sh -c 'make demo && make check')

log() { echo "fresh-check: $*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, chroot, namespaces)"
for tool in debootstrap unshare; do
	if ! PATH=$PATH:/usr/sbin:/sbin command -v $tool >/dev/null; then
		log "installing debootstrap"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			debootstrap >&2 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends debootstrap >&2; }
	fi
done
git -C "$REPO" rev-parse HEAD >/dev/null 2>&1 || die "$REPO is not a git checkout"
mkdir -p "$CACHE"

# ---- the base root, cached ----------------------------------------------------------------
base_key=$(printf '%s\n' "$SUITE" "$MIRROR" minbase git,make | sha256sum | cut -c1-16)
base_tar=$CACHE/base-$SUITE-$base_key.tar
if ! [ -s "$base_tar" ]; then
	log "debootstrap --variant=minbase --include=git,make $SUITE (cached as ${base_tar##*/})"
	tmp=$(mktemp -d /var/tmp/tw-fresh-base.XXXXXX)
	chmod 0755 "$tmp" # the root directory of the system to be: mktemp made it 0700
	t0=$SECONDS
	if ! debootstrap --variant=minbase --include=git,make "$SUITE" "$tmp" "$MIRROR" \
		>"$tmp.log" 2>&1; then
		tail -20 "$tmp.log" >&2
		rm -rf "$tmp" "$tmp.log"
		die "debootstrap failed"
	fi
	tar -C "$tmp" -cf "$base_tar.tmp" . && mv "$base_tar.tmp" "$base_tar"
	rm -rf "$tmp" "$tmp.log"
	log "base root made in $((SECONDS - t0)) s"
fi

# ---- a fresh root for this run --------------------------------------------------------------
ROOT=$(mktemp -d /var/tmp/tw-fresh.XXXXXX)
cleanup() {
	local pid
	# Whatever still runs with its root in ours (a daemon a test left behind) goes first.
	for pid in $(ls /proc | grep -E '^[0-9]+$'); do
		[ "$(readlink "/proc/$pid/root" 2>/dev/null)" = "$ROOT" ] && kill -KILL "$pid" 2>/dev/null
	done
	if grep -q " $ROOT" /proc/self/mountinfo; then
		log "mounts are left under $ROOT: not removing it"
	elif [ $keep -eq 1 ]; then
		log "root kept at $ROOT"
	else
		rm -rf "$ROOT"
	fi
}
trap cleanup EXIT
tar -C "$ROOT" -xf "$base_tar"
# A / of 0700 (mktemp's mode, or a base made with it) locks every other user out of the system.
chmod 0755 "$ROOT"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true

# apt's downloads, shared between runs with the same package list. The packages are installed
# afresh in every run; only the download is saved.
deps_key=$( (printf '%s\n' "$SUITE"; bash "$REPO/scripts/install-deps.sh" --list build test bench) |
	sha256sum | cut -c1-16)
APT_CACHE=$CACHE/apt-$SUITE-$deps_key
mkdir -p "$APT_CACHE/archives/partial"

git clone -q --no-hardlinks "$REPO" "$ROOT/root/tunwarden"
log "root $ROOT, repository at $(git -C "$ROOT/root/tunwarden" log -1 --format='%h %s' | cut -c1-60)"

# Inside a private mount namespace: every mount below disappears with it.
# The root bind-mounted on itself lets `ip netns` run `mount --make-rslave /` inside the chroot.
inner=$(cat <<'EOF'
set -e
R=$1; shift
mount --bind "$R" "$R"
mount -t proc proc "$R/proc"
mount --rbind /sys "$R/sys"
mount --rbind /dev "$R/dev"
mount -t tmpfs -o mode=0755 tmpfs "$R/run"
mount -t tmpfs -o mode=1777 tmpfs "$R/tmp"
mount --bind "$APT_CACHE/archives" "$R/var/cache/apt/archives"
mountpoint -q "$R/sys/fs/bpf" || mount -t bpf bpf "$R/sys/fs/bpf"
set +e
chroot "$R" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	HOME=/root TERM="${TERM:-dumb}" LANG=C.UTF-8 \
	/bin/sh -c 'cd /root/tunwarden && exec "$@"' sh "$@"
rc=$?
if [ "$SHELL_AFTER" = 1 ]; then
	chroot "$R" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		HOME=/root TERM="${TERM:-dumb}" /bin/bash -i
fi
exit $rc
EOF
)
t0=$SECONDS
log "running in the fresh root: ${cmd[*]}"
set +e
APT_CACHE=$APT_CACHE SHELL_AFTER=$shell unshare --mount --propagation private \
	bash -c "$inner" fresh-check "$ROOT" "${cmd[@]}"
rc=$?
set -e
if [ $rc -eq 0 ]; then
	log "PASS: '${cmd[*]}' on a fresh $SUITE root in $((SECONDS - t0)) s"
else
	log "FAIL: '${cmd[*]}' exited $rc on a fresh $SUITE root (after $((SECONDS - t0)) s)"
fi
exit $rc
