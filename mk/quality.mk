# SPDX-License-Identifier: GPL-2.0-only
# Test-quality measurements (docs/testing.md); slow, not part of make check.
#   make mutate     one-line mutants of bpf/ and userspace/lib against test_unit and test_progs
#                   (MUTATE_JOBS, MUTATE_BUDGET, MUTATE_FILES, MUTATE_SAMPLE, MUTATE_SEED, ...)
#   make coverage   line and branch coverage of userspace under the suites of make check,
#                   HTML in $(O)/coverage/html (COV_SUITES="unit progs e2e")
.PHONY: mutate coverage

mutate: tests $(O)/tunwarden-hook
	@O=$(O) scripts/mutate/mutate.py

coverage:
	@scripts/coverage.sh $(O)/coverage
