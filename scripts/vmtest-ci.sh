#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# CI's VM step: the BPF and end-to-end suites, then the systemd unit under systemd as PID 1, in
# throwaway VMs on Debian 12's 6.1 (netlink cls_bpf attach) and 6.12 (tcx) kernels. Expects a
# finished build in $O (default build). The only reason to skip is a machine where QEMU cannot be installed; then it prints
# SKIP with the reason and exits 0. Anything else that goes wrong (kernel download, a guest
# that hangs or panics, a failing test) fails the step.
#   VMTEST_JOBS     kernels booted at once (default 2: TCG keeps one host core busy per guest)
#   VMTEST_TIMEOUT  per-kernel bound in seconds (default 3600; every scenario took 10 min (6.12)
#                   and 13 min (6.1) on an idle machine, 23 and 37 min under load)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
O=${O:-build}
export O

scripts/vmtest.sh --setup
rc=$?
if [ $rc -eq 3 ]; then
	echo "SKIP: vmtest: QEMU (qemu-system-x86) cannot be installed on this machine"
	exit 0
elif [ $rc -ne 0 ]; then
	echo "vmtest-ci: preparing the guest kernels failed (exit $rc)" >&2
	exit $rc
fi

scripts/vmtest.sh --kernel all -j "${VMTEST_JOBS:-2}" --timeout "${VMTEST_TIMEOUT:-3600}"
rc=$?
[ $rc -eq 0 ] && echo "vmtest-ci: suites PASS on 6.1 and 6.12" || echo "vmtest-ci: suites FAIL (exit $rc)"

# The README's install path under a real systemd (PID 1 in the guest): make install, systemctl
# enable --now, reload, watchdog, Restart=, stop (scripts/vmtest/systemd-unit.sh). 5-9 min.
scripts/vmtest.sh --systemd --kernel all -j "${VMTEST_JOBS:-2}" --timeout 1800 \
	-- scripts/vmtest/systemd-unit.sh "$O"
src=$?
[ $src -eq 0 ] && echo "vmtest-ci: systemd unit PASS on 6.1 and 6.12" ||
	echo "vmtest-ci: systemd unit FAIL (exit $src)"
[ $rc -ne 0 ] || rc=$src
exit $rc
