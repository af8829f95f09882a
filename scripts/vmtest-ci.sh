#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# CI step after `make check`: the BPF and end-to-end suites in throwaway VMs on Debian 12's 6.1
# (netlink cls_bpf attach) and 6.12 (tcx) kernels. Expects a finished build in $O (default
# build). The only reason to skip is a machine where QEMU cannot be installed; then it prints
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
[ $rc -eq 0 ] && echo "vmtest-ci: PASS on 6.1 and 6.12" || echo "vmtest-ci: FAIL (exit $rc)"
exit $rc
