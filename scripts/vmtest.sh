#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Run a command (default: the BPF and end-to-end suites) inside throwaway VMs booting Debian 12's
# stock kernels, in the manner of virtme-ng: the host's root is shared read-only over 9p, a tmpfs
# overlay takes the guest's writes, a small init runs the command and hands its exit code back.
# Nothing is installed into the host's /boot or /lib/modules; kernels live in a cache directory.
#
#   scripts/vmtest.sh [--kernel 6.1|6.12|all] [--timeout SEC] [-j N] [-- COMMAND...]
#   scripts/vmtest.sh --setup [--kernel ...]     install QEMU, fetch kernels, build initramfs
#
# The exit code is COMMAND's (the first failing kernel's with --kernel all); 124 when a guest
# hit the timeout, 125 when a guest ended without reporting an exit code (panic, init failure).
set -euo pipefail

usage() {
	cat <<EOF
usage: $0 [options] [-- COMMAND [ARG...]]
  -k, --kernel K     6.1, 6.12 or all (default: all)
  -t, --timeout SEC  per-kernel bound on boot + COMMAND + poweroff (default: 900)
  -j, --jobs N       boot up to N kernels at once (default: 1)
  -m, --memory SIZE  guest memory (default: 2G)
      --setup        only install QEMU and prepare the kernels, then exit
      --runner R     vng (virtme-ng, the default) or qemu (the built-in runner)
      --no-vng       the same as --runner qemu
      --systemd      boot systemd as PID 1 and run COMMAND as its service vmtest.service
                     (built-in QEMU runner only: under vng, vng's init is PID 1)
  -h, --help         this text
COMMAND runs as root in the repository directory inside the guest, with the host's TW_*
environment variables; default:
  scripts/vmtest/suites.sh \$O   (build/selftests/test_progs, then selftests/e2e/run.sh)
Environment: O (build dir, default build), VMTEST_CACHE (kernel cache), VMTEST_CPUS (1),
  VMTEST_QEMU (QEMU binary), VMTEST_QEMU_OPTS (extra QEMU arguments),
  VMTEST_APPEND (extra kernel arguments), VMTEST_RUNNER (vng or qemu, as --runner).
Exit: COMMAND's exit code; 124 guest timed out; 125 guest gave no exit code (panic, crash).
EOF
}

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
O=${O:-build}
case $O in
/*) OUT=$O ;;
*) OUT=$REPO/$O ;;
esac

kernels=all
timeout_s=900
jobs=1
mem=${VMTEST_MEM:-2G}
cpus=${VMTEST_CPUS:-1}
setup_only=0
runner=${VMTEST_RUNNER:-vng}
[ "${VMTEST_VNG:-}" != 0 ] || runner=qemu
systemd=0
cmd=()

while [ $# -gt 0 ]; do
	case $1 in
	-k | --kernel) kernels=$2; shift 2 ;;
	--kernel=*) kernels=${1#*=}; shift ;;
	-t | --timeout) timeout_s=$2; shift 2 ;;
	--timeout=*) timeout_s=${1#*=}; shift ;;
	-j | --jobs) jobs=$2; shift 2 ;;
	-j[0-9]*) jobs=${1#-j}; shift ;;
	--jobs=*) jobs=${1#*=}; shift ;;
	-m | --memory) mem=$2; shift 2 ;;
	--memory=*) mem=${1#*=}; shift ;;
	--setup) setup_only=1; shift ;;
	--runner) runner=$2; shift 2 ;;
	--runner=*) runner=${1#*=}; shift ;;
	--no-vng) runner=qemu; shift ;;
	--systemd) systemd=1; shift ;;
	-h | --help) usage; exit 0 ;;
	--) shift; cmd=("$@"); break ;;
	*) echo "vmtest: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
	esac
done

case $kernels in
all) series_list=(6.1 6.12) ;;
6.1 | 6.12) series_list=("$kernels") ;;
*) echo "vmtest: --kernel must be 6.1, 6.12 or all, not '$kernels'" >&2; exit 2 ;;
esac
[[ $timeout_s =~ ^[0-9]+$ ]] && [ "$timeout_s" -gt 0 ] ||
	{ echo "vmtest: bad --timeout '$timeout_s'" >&2; exit 2; }
[[ $jobs =~ ^[0-9]+$ ]] && [ "$jobs" -gt 0 ] || { echo "vmtest: bad --jobs '$jobs'" >&2; exit 2; }
case $runner in
vng | qemu) ;;
*) echo "vmtest: --runner must be vng or qemu, not '$runner'" >&2; exit 2 ;;
esac
# systemd must be PID 1, and under vng vng's own init is.
[ $systemd -eq 0 ] || runner=qemu

log() { echo "vmtest: $*" >&2; }
die() { log "error: $*"; exit 1; }

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
declare -A HOST_TOOLS
if [ -z "${VMTEST_CACHE:-}" ]; then
	if [ "$(id -u)" -eq 0 ]; then
		VMTEST_CACHE=/var/cache/tunwarden-vmtest
	else
		VMTEST_CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/tunwarden-vmtest
	fi
fi
CACHE=$VMTEST_CACHE

# The archive package that tracks each kernel series; the versioned package it depends on is
# resolved on every run because the archive keeps only the newest ABI.
meta_pkg() {
	case $1 in
	6.1) echo linux-image-amd64 ;;
	6.12) echo linux-image-6.12-amd64 ;;
	esac
}

# ---- host tools -----------------------------------------------------------------------------

apt_updated=0
apt_update() {
	[ $apt_updated -eq 1 ] && return 0
	apt_updated=1
	$SUDO apt-get update -qq
}

# Idempotent: tools already present cost a PATH lookup each and no network.
QEMU=${VMTEST_QEMU:-qemu-system-x86_64}
HOST_TOOLS=([$QEMU]=qemu-system-x86 [depmod]=kmod [modprobe]=kmod [cpio]=cpio
	[xz]=xz-utils [zstd]=zstd [dpkg-deb]=dpkg [readelf]=binutils)
missing_host_tools() {
	local bin
	for bin in "${!HOST_TOOLS[@]}"; do
		PATH=$PATH:/usr/sbin:/sbin command -v "$bin" >/dev/null 2>&1 || echo "${HOST_TOOLS[$bin]}"
	done | sort -u
}

ensure_host_tools() {
	local missing
	mapfile -t missing < <(missing_host_tools)
	[ ${#missing[@]} -eq 0 ] && return 0
	log "installing ${missing[*]} (--no-install-recommends)"
	export DEBIAN_FRONTEND=noninteractive
	if ! $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2; then
		apt_update >&2 || true
		$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 || return 1
	fi
	mapfile -t missing < <(missing_host_tools)
	[ ${#missing[@]} -eq 0 ] || { log "still missing after install: ${missing[*]}"; return 1; }
}

# apt-get download into DIR. As root apt would drop to _apt, which cannot write a root-owned
# directory: keep the download as root instead of warning about it.
apt_download() {
	local dir=$1; shift
	local opts=()
	[ "$(id -u)" -eq 0 ] && opts=(-o APT::Sandbox::User=root)
	(cd "$dir" && apt-get "${opts[@]}" -q download "$@") >&2
}

# Newest installable version of PKG's first linux-image dependency, as "PKG VERSION".
resolve_kernel_pkg() {
	local meta=$1 pkg ver try
	for try in 1 2; do
		pkg=$(apt-cache depends "$meta" 2>/dev/null |
			awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }')
		if [ -n "$pkg" ]; then
			ver=$(apt-cache policy "$pkg" 2>/dev/null | awk '$1 == "Candidate:" { print $2 }')
			if [ -n "$ver" ] && [ "$ver" != "(none)" ]; then
				echo "$pkg $ver"
				return 0
			fi
		fi
		[ $try -eq 1 ] && { apt_update >&2 || true; }
	done
	return 1
}

ensure_busybox() {
	BUSYBOX=$CACHE/busybox/root/bin/busybox
	[ -x "$BUSYBOX" ] && return 0
	local d=$CACHE/busybox
	rm -rf "$d" && mkdir -p "$d/dl"
	# busybox-static conflicts with busybox, which the host may need: unpack, never install.
	apt_download "$d/dl" busybox-static || { apt_update && apt_download "$d/dl" busybox-static; }
	dpkg-deb -x "$d"/dl/busybox-static_*.deb "$d/root"
	rm -rf "$d/dl"
	[ -x "$BUSYBOX" ] || die "busybox-static did not provide bin/busybox"
}

# ---- kernels --------------------------------------------------------------------------------

# fetch_kernel SERIES PKG VER: download, unpack and depmod into $KDIR; never installs.
fetch_kernel() {
	local series=$1 pkg=$2 ver=$3 kver
	log "fetching $pkg $ver"
	rm -rf "$KDIR" && mkdir -p "$KDIR/dl"
	apt_download "$KDIR/dl" "$pkg=$ver" || return 1
	dpkg-deb -x "$KDIR"/dl/*.deb "$KDIR/root"
	rm -rf "$KDIR/dl"
	kver=$(ls -1 "$KDIR/root/lib/modules" | head -n1)
	[ -n "$kver" ] && [ -f "$KDIR/root/boot/vmlinuz-$kver" ] ||
		die "$pkg has no /boot/vmlinuz or /lib/modules"
	depmod -b "$KDIR/root" "$kver"
	echo "$series" >"$KDIR/series"
	echo "$pkg $ver" >"$KDIR/package"
	touch "$KDIR/ready"
}

# Sets KDIR (cache entry), KROOT (unpacked package), KVER, KIMG for series $1.
prepare_kernel() {
	local series=$1 meta pv='' pkg='' ver=''
	meta=$(meta_pkg "$series")
	# apt-cache takes seconds on a busy machine; its answer changes only with the package lists.
	local memo=$CACHE/resolved-$meta
	if [ -s "$memo" ] && [ -z "$(find /var/lib/apt/lists -maxdepth 1 -newer "$memo" \
		-name '*Packages*' 2>/dev/null | head -n1)" ]; then
		pv=$(cat "$memo")
	elif pv=$(resolve_kernel_pkg "$meta"); then
		echo "$pv" >"$memo"
	fi
	if [ -n "${pv:-}" ]; then
		read -r pkg ver <<<"$pv"
		KDIR=$CACHE/kernels/${pkg}_${ver//[:~]/_}
		if ! [ -f "$KDIR/ready" ] && ! fetch_kernel "$series" "$pkg" "$ver"; then
			# Old package lists name a version the archive has dropped: refresh, resolve again.
			apt_update >&2 || true
			pv=$(resolve_kernel_pkg "$meta") || die "cannot resolve $meta"
			echo "$pv" >"$memo"
			read -r pkg ver <<<"$pv"
			KDIR=$CACHE/kernels/${pkg}_${ver//[:~]/_}
			[ -f "$KDIR/ready" ] || fetch_kernel "$series" "$pkg" "$ver" ||
				die "cannot fetch $pkg $ver"
		fi
	else
		# Offline: fall back to the newest kernel of this series already in the cache.
		KDIR=$(ls -1d "$CACHE"/kernels/*/ 2>/dev/null | while read -r d; do
			[ "$(cat "$d/series" 2>/dev/null)" = "$series" ] && [ -f "$d/ready" ] &&
				echo "${d%/}"
		done | sort -V | tail -n1)
		[ -n "$KDIR" ] || die "cannot resolve $meta with apt-cache and nothing is cached"
		log "$meta not resolvable, using cached $(basename "$KDIR")"
	fi
	KROOT=$KDIR/root
	KVER=$(ls -1 "$KROOT/lib/modules" | head -n1)
	KIMG=$KROOT/boot/vmlinuz-$KVER
	[ -f "$KDIR/vmlinux" ] || extract_vmlinux "$KIMG" "$KDIR/vmlinux" || true
	# Booting the uncompressed ELF through its PVH entry skips the decompressor, which under
	# TCG takes seconds (6.1's bzImage is xz).
	[ -s "$KDIR/vmlinux" ] && KIMG=$KDIR/vmlinux
	build_initramfs
}

# extract_vmlinux BZIMAGE OUT: the ELF kernel inside a bzImage, kept only when it carries the
# PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY, type 18) that lets QEMU boot it directly.
extract_vmlinux() {
	local img=$1 out=$2 magic off
	for magic in '\xfd\x37\x7a\x58\x5a\x00' '\x28\xb5\x2f\xfd'; do
		for off in $(LC_ALL=C grep -obUaP "$magic" "$img" | cut -d: -f1); do
			case $magic in
			*x7a*) tail -c +$((off + 1)) "$img" | xz -dc --single-stream >"$out.tmp" 2>/dev/null ;;
			*) tail -c +$((off + 1)) "$img" | zstd -qdc >"$out.tmp" 2>/dev/null ;;
			esac
			if readelf -n "$out.tmp" 2>/dev/null | grep -q 'Xen.*(0x00000012)'; then
				mv "$out.tmp" "$out"
				return 0
			fi
		done
	done
	rm -f "$out.tmp"
	: >"$out" # remember the failure: boot the bzImage
	return 1
}

# Modules the guest needs before it can see the root: virtio PCI transport, 9p over virtio,
# overlayfs. modprobe --show-depends gives them in load order; built-ins (6.12) are skipped.
INITRD_MODULES=(virtio_pci 9pnet_virtio 9p overlay)

build_initramfs() {
	INITRD=$KDIR/initrd.cpio.gz
	if [ -f "$INITRD" ] && ! [ "$REPO/scripts/vmtest/init" -nt "$INITRD" ] &&
		! [ "$BUSYBOX" -nt "$INITRD" ]; then
		return 0
	fi
	local t m f base
	t=$(mktemp -d "$KDIR/initrd.XXXXXX")
	mkdir -p "$t"/{bin,dev,proc,sys,modules}
	cp "$BUSYBOX" "$t/bin/busybox"
	install -m 0755 "$REPO/scripts/vmtest/init" "$t/init"
	# The kernel opens /dev/console for init's stdio before anything is mounted.
	[ "$(id -u)" -eq 0 ] && mknod -m 0600 "$t/dev/console" c 5 1
	: >"$t/modules.order"
	for m in "${INITRD_MODULES[@]}"; do
		modprobe -d "$KROOT" -S "$KVER" --show-depends "$m" |
			awk '$1 == "insmod" { print $2 }'
	done | awk '!seen[$0]++' | while read -r f; do
		base=$(basename "$f")
		# busybox insmod takes plain ELF: decompress 6.12's .ko.xz here.
		case $f in
		*.xz) xz -dc "$f" >"$t/modules/${base%.xz}"; base=${base%.xz} ;;
		*.zst) zstd -qdc "$f" >"$t/modules/${base%.zst}"; base=${base%.zst} ;;
		*) cp "$f" "$t/modules/$base" ;;
		esac
		echo "$base" >>"$t/modules.order"
	done
	(cd "$t" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1) \
		>"$INITRD.tmp"
	mv "$INITRD.tmp" "$INITRD"
	rm -rf "$t"
}

# ---- running --------------------------------------------------------------------------------

kvm_usable() {
	# Only real hardware virtualisation: a /dev/kvm without vmx/svm (e.g. a PVM host) cannot
	# boot a stock kernel.
	grep -qwE 'vmx|svm' /proc/cpuinfo && [ -r /dev/kvm ] && [ -w /dev/kvm ]
}

have_vng() {
	[ "$runner" = vng ]
}

# vng comes from Debian 13 (scripts/vmtest/install-vng.sh, pinned), its helpers from Debian 12.
ensure_vng() {
	"$REPO/scripts/vmtest/install-vng.sh" --check && return 0
	"$REPO/scripts/install-deps.sh" --quiet vmtest
}

now() { date +%s.%N; }

# wait_guest PID: streams the console log ($stream) while PID (timeout + QEMU or vng) runs, one prefix per
# kernel so that parallel runs stay readable (the serial line ends in \r\n). Sets qrc.
wait_guest() {
	local gpid=$1 tpid
	tail -s 0.2 -n +1 -F --pid="$gpid" "$stream" 2>/dev/null | sed -u "s/\r\$//; s/^/[$series] /" &
	tpid=$!
	qrc=0
	wait "$gpid" || qrc=$?
	# tail notices the exit within its 0.2 s poll and prints what is left first.
	wait "$tpid" 2>/dev/null || true
}

# run_one SERIES: boots one VM, prints a result line "SERIES KVER RC SECONDS LOG" to $RESULTS.
run_one() {
	local series=$1 kdir=$2 kver=$3 kimg=$4 initrd=$5
	local run log rc=0 t0 t1 secs qrc=0 accel cpu
	run=$(mktemp -d "$OUT/vmtest/run-$series.XXXXXX")
	echo "$run" >>"$RESULTS.runs"
	log=$run/console.log
	: >"$log"
	# What is streamed while the guest runs: the console, or under --systemd the command's own
	# output (vmtest.service writes it to job.out; systemd owns the console).
	local stream=$log
	[ $systemd -eq 0 ] || stream=$run/job.out

	{
		echo "VMTEST_REPO=$(printf %q "$REPO")"
		echo "VMTEST_OUT=$(printf %q "$OUT")"
		echo "VMTEST_KVER=$(printf %q "$kver")"
		echo "VMTEST_MODDIR=$(printf %q "$kdir/root/lib/modules/$kver")"
		echo "VMTEST_BOOTDIR=$(printf %q "$kdir/root/boot")"
		echo "VMTEST_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
		echo "VMTEST_SYSTEMD=$systemd"
	} >"$run/env"
	# The suites' own knobs (TW_E2E_TIMEOUT, ...) follow the command into the guest.
	local v
	for v in $(compgen -e | grep -E '^TW_' || true); do
		echo "export $v=$(printf %q "${!v}")"
	done >"$run/env.user"
	cp "$REPO/scripts/vmtest/guest-init.sh" "$run/guest-init.sh"
	{
		echo '#!/bin/bash'
		printf '%q ' "${cmd[@]}"
		echo
	} >"$run/cmd"
	echo "${cmd[*]}" >"$run/cmd.txt"

	if kvm_usable; then
		accel=kvm cpu=host
	else
		accel=tcg cpu=${VMTEST_CPU:-max}
	fi

	t0=$(now)
	if have_vng; then
		# vng boots the packaged bzImage (it finds the unpacked modules beside it, in
		# ../lib/modules) and builds its own initramfs. 9p, not virtiofs: no virtiofsd here.
		# vng's init hides /var/cache and /var/tmp behind empty tmpfs mounts (the kernel cache and
		# CI's clone live there), so the cache, the repository and the build directory come in
		# as read-only shares of their own; guest-init.sh overlays the repository and build
		# directory so that the guest may write, as under the built-in runner.
		local vng_args=(--run "$kdir/root/boot/vmlinuz-$kver" --force-9p --disable-microvm
			--cpus "$cpus" --memory "$mem" --cwd "$REPO" --rodir "$CACHE=$CACHE" --rodir "$REPO=$REPO"
			--append "panic=-1 oops=panic mitigations=off ${VMTEST_APPEND:-}")
		case $OUT/ in "$REPO"/*) ;; *) vng_args+=(--rodir "$OUT=$OUT") ;; esac
		[ $accel = kvm ] || vng_args+=(--disable-kvm)
		[ -n "${VMTEST_QEMU_OPTS:-}" ] && vng_args+=(--qemu-opts "$VMTEST_QEMU_OPTS")
		printf '%q ' vng "${vng_args[@]}" >"$run/vng.cmd"
		timeout --kill-after=10 "$timeout_s" vng "${vng_args[@]}" \
			--exec "VMTEST_RUNDIR=$run bash $run/guest-init.sh --no-poweroff" \
			</dev/null >"$log" 2>&1 &
		wait_guest $!
		# vng hands back the command's exit code; 255 with a panic in the log is the guest's end.
		if [ $qrc -ne 124 ] && [ $qrc -ne 137 ] &&
			! { [ $qrc -eq 255 ] && grep -q 'Kernel panic' "$log"; }; then
			echo "$qrc" >"$run/rc"
		fi
	else
		# -nodefaults -smp 1 and the default pc machine boot fastest under TCG; microvm hangs
		# with Debian's kernels. panic=-1 plus -no-reboot turns a panic into a QEMU exit.
		local append="console=ttyS0,115200 panic=-1 oops=panic mitigations=off quiet loglevel=4"
		append+=" i8042.noaux=1 i8042.nokbd=1 ${VMTEST_APPEND:-}"
		# shellcheck disable=SC2054 # the commas belong to QEMU's option syntax
		local qemu=("$QEMU" -nodefaults -no-user-config -display none -no-reboot
			-machine "pc,accel=$accel" -cpu "$cpu" -smp "$cpus" -m "$mem"
			-kernel "$kimg" -initrd "$initrd" -append "$append"
			-chardev "file,id=con,path=$log" -serial chardev:con
			-fsdev "local,id=vmroot,path=/,security_model=none,readonly=on,multidevs=remap"
			-device virtio-9p-pci,fsdev=vmroot,mount_tag=vmroot
			-fsdev "local,id=vmout,path=$run,security_model=none,multidevs=remap"
			-device virtio-9p-pci,fsdev=vmout,mount_tag=vmout)
		# shellcheck disable=SC2206
		[ -n "${VMTEST_QEMU_OPTS:-}" ] && qemu+=(${VMTEST_QEMU_OPTS})
		printf '%q ' "${qemu[@]}" >"$run/qemu.cmd"
		timeout --kill-after=10 "$timeout_s" "${qemu[@]}" </dev/null >>"$run/qemu.err" 2>&1 &
		wait_guest $!
	fi
	t1=$(now)
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')

	if [ $qrc -eq 124 ] || [ $qrc -eq 137 ]; then
		log "$series ($kver): TIMEOUT: guest did not finish within ${timeout_s}s" \
			"(hung guest or slow suite; raise --timeout)"
		rc=124
	elif [ -s "$run/rc" ]; then
		rc=$(cat "$run/rc")
	else
		rc=125
		# The init's own message first: its exit panics the kernel too.
		if grep -q 'vmtest-init: FAILED' "$log"; then
			log "$series ($kver): guest init failed: $(grep -m1 'vmtest-init: FAILED' "$log" |
				tr -d '\r')"
		elif grep -q 'Kernel panic' "$log"; then
			log "$series ($kver): guest kernel PANICKED: $(grep -m1 'Kernel panic' "$log" |
				tr -d '\r')"
		else
			log "$series ($kver): guest ended without an exit code (qemu exit $qrc)"
		fi
		[ -s "$run/qemu.err" ] && sed "s/^/[$series] qemu: /" "$run/qemu.err" >&2
	fi

	# Keep the newest run of each kernel for reading; older ones go.
	local keep=$OUT/vmtest/last-$series
	rm -rf "$keep" && mv "$run" "$keep" 2>/dev/null || keep=$run
	echo "$series $kver $rc $secs $keep/console.log" >>"$RESULTS"
	return 0
}

# ---- main -----------------------------------------------------------------------------------

if ! ensure_host_tools; then
	log "cannot install QEMU and its helpers"
	exit 3
fi
if have_vng && ! ensure_vng; then
	die "cannot install virtme-ng (see above); VMTEST_RUNNER=qemu runs the built-in runner"
fi
export PATH=$PATH:/usr/sbin:/sbin

if [ ${#cmd[@]} -eq 0 ]; then
	cmd=(scripts/vmtest/suites.sh "$O")
	if [ $setup_only -eq 0 ] && ! [ -x "$OUT/selftests/test_progs" ]; then
		die "$OUT/selftests/test_progs is missing: run make (or make vmtest) first"
	fi
fi

mkdir -p "$CACHE" "$OUT/vmtest"
declare -A K_DIR K_VER K_IMG K_INITRD
(
	# One preparer at a time: parallel vmtest runs share the cache.
	flock 9
	ensure_busybox
	for s in "${series_list[@]}"; do
		prepare_kernel "$s"
		echo "$s $KDIR $KVER $KIMG $INITRD"
	done >"$OUT/vmtest/kernels.list"
) 9>"$CACHE/.lock"
while read -r s d v i r; do
	K_DIR[$s]=$d K_VER[$s]=$v K_IMG[$s]=$i K_INITRD[$s]=$r
done <"$OUT/vmtest/kernels.list"

if [ $setup_only -eq 1 ]; then
	for s in "${series_list[@]}"; do
		log "ready: $s = ${K_VER[$s]} ($(cat "${K_DIR[$s]}/package"))"
	done
	exit 0
fi

kvm_usable && accel_desc=KVM || accel_desc="TCG (no vmx/svm: software emulation)"
log "runner $runner, $accel_desc, timeout ${timeout_s}s per kernel, command: ${cmd[*]}"

RESULTS=$(mktemp "$OUT/vmtest/results.XXXXXX")
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do
		pkill -TERM -P "$p" 2>/dev/null || true
		kill "$p" 2>/dev/null || true
	done
	# Run directories of interrupted guests (finished ones were renamed to last-*).
	if [ -f "$RESULTS.runs" ]; then
		while read -r p; do
			rm -rf "$p"
		done <"$RESULTS.runs"
	fi
	rm -f "$RESULTS" "$RESULTS.runs"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for s in "${series_list[@]}"; do
	run_one "$s" "${K_DIR[$s]}" "${K_VER[$s]}" "${K_IMG[$s]}" "${K_INITRD[$s]}" &
	pids+=($!)
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
		wait -n || true
	done
done
wait

final=0
echo "vmtest: summary" >&2
for s in "${series_list[@]}"; do
	read -r _ kver rc secs logf < <(awk -v s="$s" '$1 == s' "$RESULTS") || true
	if [ -z "${rc:-}" ]; then
		log "  $s: no result"
		[ $final -ne 0 ] || final=125
		continue
	fi
	if [ "$rc" -eq 0 ]; then st=PASS; else st="FAIL (exit $rc)"; fi
	printf 'vmtest:   %-5s %-24s %-16s %6ss  console: %s\n' "$s" "$kver" "$st" "$secs" "$logf" >&2
	[ $final -ne 0 ] || final=$rc
	unset rc
done
exit "$final"
