#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# vmtest stage 2, run inside the guest from the host's root (overlaid with tmpfs).
# Without arguments it is PID 1 (after stage 1's switch_root): it sets up the guest, runs the
# command, writes the exit code to the run directory and powers the VM off. With --no-poweroff
# it is the command given to vng, which owns PID 1: the same setup, and the exit code is
# returned instead. Every mount is skipped when something is already mounted there, so both
# paths converge on one environment.
set -u

RUNDIR=${VMTEST_RUNDIR:-/run/vmtest}
pid1=1
[ "${1:-}" = --no-poweroff ] && pid1=0
# --job: started by vmtest.service when systemd is PID 1 (vmtest.sh --systemd); the setup is
# done, and it ends the VM like PID 1 would.
job=0
[ "${1:-}" = --job ] && job=1

# env carries VMTEST_REPO, VMTEST_OUT, VMTEST_KVER, VMTEST_MODDIR, VMTEST_BOOTDIR, VMTEST_PATH (written by
# vmtest.sh).
. "$RUNDIR/env"

say() { echo "vmtest-guest: $*"; }

mnt() { # mnt TYPE DIR [OPTIONS]
	mkdir -p "$2"
	mountpoint -q "$2" && return 0
	mount -t "$1" ${3:+-o "$3"} "$1" "$2" || say "warning: cannot mount $1 on $2"
}

finish() {
	local rc=$1
	if [ $pid1 -eq 0 ]; then
		exit "$rc"
	fi
	echo "$rc" >"$RUNDIR/rc.tmp" && mv "$RUNDIR/rc.tmp" "$RUNDIR/rc"
	sync
	echo "VMTEST_EXIT_CODE=$rc"
	# sysrq o is an immediate poweroff; QEMU runs with -no-reboot, so if it fails the exit of
	# PID 1 panics, panic=-1 reboots and QEMU exits anyway.
	echo o >/proc/sysrq-trigger
	# Wait for the poweroff, bounded by bash's own clock: in a 6.1 guest `sleep 10` once
	# returned within 0.1 s of the sysrq (why is not known), and PID 1's early exit printed a
	# panic after the result (harmless, but it reads like a failure).
	local end=$((SECONDS + 10))
	while [ $SECONDS -lt $end ]; do
		sleep 1 2>/dev/null
	done
	exit "$rc"
}

export PATH=$VMTEST_PATH HOME=/root TERM=dumb LANG=C.UTF-8 TMPDIR=/tmp
# env.user: the host's TW_* variables (bash quoting, so not read by stage 1).
[ -f "$RUNDIR/env.user" ] && . "$RUNDIR/env.user"
umask 022

# Stage 1 (our initramfs) has done all of this already; under vng it has not.
if [ "${VMTEST_SETUP_DONE:-0}" != 1 ]; then
	mnt proc /proc nosuid,nodev,noexec
	mnt sysfs /sys nosuid,nodev,noexec
	mnt devtmpfs /dev mode=0755,nosuid
	# devtmpfs lacks the links udev or systemd would create; bash's <(...) needs /dev/fd.
	[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
	[ -e /dev/stdin ] || ln -s /proc/self/fd/0 /dev/stdin
	[ -e /dev/stdout ] || ln -s /proc/self/fd/1 /dev/stdout
	[ -e /dev/stderr ] || ln -s /proc/self/fd/2 /dev/stderr
	mnt devpts /dev/pts mode=0620,ptmxmode=0666,gid=5
	[ -e /dev/ptmx ] || ln -s pts/ptmx /dev/ptmx
	mnt tmpfs /dev/shm mode=1777,nosuid,nodev
	mnt bpf /sys/fs/bpf mode=0700
	mnt tracefs /sys/kernel/tracing
	mnt debugfs /sys/kernel/debug
	mnt cgroup2 /sys/fs/cgroup nsdelegate
	# No udev: the tun device node has to be made by hand (misc major 10, minor 200).
	mkdir -p /dev/net
	[ -c /dev/net/tun ] || mknod -m 0666 /dev/net/tun c 10 200

	# The guest kernel's own modules, unpacked on the host, stand in for the host's
	# /lib/modules so that on-demand loading (veth, tun, cls_bpf, wireguard) works.
	kmods=/lib/modules/$VMTEST_KVER
	if ! [ -e "$kmods/modules.dep" ]; then
		mkdir -p "$kmods" && mount --bind "$VMTEST_MODDIR" "$kmods" ||
			say "warning: cannot bind $VMTEST_MODDIR on $kmods"
	fi

	# vng shares the repository and the build directory read-only: a tmpfs overlay takes the
	# guest's writes, as the built-in runner's overlay of / does.
	# (A write probe, not test -w: the share's read-only mode is QEMU's, not the mount's.)
	for d in "$VMTEST_REPO" "$VMTEST_OUT"; do
		[ -n "$d" ] && [ -d "$d" ] || continue
		probe=$d/.vmtest-write-probe
		if : 2>/dev/null >"$probe"; then
			rm -f "$probe"
			continue
		fi
		up=/run/vmtest-overlay/$(echo "$d" | tr / _)
		mkdir -p "$up/upper" "$up/work" &&
			mount -t overlay -o "lowerdir=$d,upperdir=$up/upper,workdir=$up/work" overlay "$d" ||
			say "warning: cannot overlay $d"
	done

	hostname vmtest 2>/dev/null || echo vmtest >/proc/sys/kernel/hostname
	ip link set lo up 2>/dev/null
fi
# The guest kernel's /boot (its config: libtw reads CONFIG_HZ from /boot/config-$(uname -r) for
# the flow clock) over the host's, in both paths.
if ! [ -e "/boot/config-$VMTEST_KVER" ] && [ -e "${VMTEST_BOOTDIR:-}/config-$VMTEST_KVER" ]; then
	mount --bind "$VMTEST_BOOTDIR" /boot || say "warning: cannot bind $VMTEST_BOOTDIR on /boot"
fi

# vmtest.sh --systemd: systemd becomes PID 1 and runs the command as a service of its own, so
# that the command can install and drive systemd units. Only the units that service needs start
# (vmtest.target, not the host's default target); the host's fstab is not the guest's.
if [ "${VMTEST_SYSTEMD:-0}" = 1 ] && [ $pid1 -eq 1 ] && [ $job -eq 0 ]; then
	: >/etc/fstab
	cat >/etc/systemd/system/vmtest.target <<-EOF
	[Unit]
	Description=vmtest: one command as a service
	Requires=vmtest.service
	After=vmtest.service
	AllowIsolate=yes
	EOF
	cat >/etc/systemd/system/vmtest.service <<-EOF
	[Unit]
	Description=vmtest command
	[Service]
	Type=exec
	Environment=VMTEST_RUNDIR=$RUNDIR VMTEST_SETUP_DONE=1
	ExecStart=/bin/bash $RUNDIR/guest-init.sh --job
	StandardInput=null
	StandardOutput=file:$RUNDIR/job.out
	StandardError=inherit
	EOF
	say "exec systemd as PID 1 (unit vmtest.target)"
	exec /lib/systemd/systemd --unit=vmtest.target --show-status=error --log-level=notice
fi

cd "$VMTEST_REPO" || {
	say "cannot cd to $VMTEST_REPO"
	finish 125
}
up=$(</proc/uptime)
say "kernel $(</proc/sys/kernel/osrelease), up ${up%% *}s, running: $(<"$RUNDIR/cmd.txt")"
bash "$RUNDIR/cmd" </dev/null
finish $?
