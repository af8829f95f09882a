# SPDX-License-Identifier: GPL-2.0-only
# libFuzzer harnesses: selftests/fuzz/fuzz_X.c -> $(O)/fuzz/fuzz_X, built with clang
# -fsanitize=fuzzer,address,undefined straight from the parser sources (no libtw.a:
# the parsers are pure and need neither libbpf nor a skeleton). Included by the Makefile.
#
#   make fuzz                      build every harness, run each for FUZZ_SECONDS
#   make fuzz FUZZ_SECONDS=300     longer
#   make fuzz-build                build only
#   make $(O)/fuzz/fuzz_policy     one harness; run it by hand on $(O)/fuzz/corpus/fuzz_policy
#
# A harness links userspace/lib/X.c and config.c (tw_quote_token, duration and size
# parsers) unless FUZZ_SRCS_fuzz_X names its sources. Seeds: FUZZ_SEEDS_fuzz_X files
# are copied into the corpus before each run. Crashes land in $(O)/fuzz/artifacts/ and
# fail the target.

FUZZ_SECONDS ?= 30
FUZZ_MAX_LEN ?= 16384
FUZZ_CC ?= $(CLANG)
FUZZ_CFLAGS := -g -O1 -std=gnu11 -D_GNU_SOURCE -Iinclude -Iuserspace/lib \
	       -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	       -fno-omit-frame-pointer -Wall -Wextra -Werror -Wno-unused-parameter
FUZZ_LIBS := -ljansson

FUZZ_HARNESSES := $(wildcard selftests/fuzz/fuzz_*.c)
FUZZ_NAMES := $(patsubst selftests/fuzz/%.c,%,$(FUZZ_HARNESSES))
FUZZ_BINS := $(addprefix $(O)/fuzz/,$(FUZZ_NAMES))

FUZZ_SRCS_fuzz_policy := userspace/lib/policy.c userspace/lib/config.c
FUZZ_SRCS_fuzz_config := userspace/lib/config.c
FUZZ_SEEDS_fuzz_policy := examples/policy.json
FUZZ_SEEDS_fuzz_config := examples/tunwarden.conf

fuzz_srcs = $(or $(FUZZ_SRCS_$(1)),$(sort $(wildcard userspace/lib/$(patsubst fuzz_%,%,$(1)).c) \
	    userspace/lib/config.c))

.PHONY: fuzz-build
fuzz-build: $(FUZZ_BINS)

.SECONDEXPANSION:
$(O)/fuzz/%: selftests/fuzz/%.c $$(call fuzz_srcs,$$*) $(wildcard userspace/lib/*.h include/tunwarden/*.h)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $< $(call fuzz_srcs,$*) $(FUZZ_LIBS) -o $@

fuzz: $(FUZZ_BINS)
	@mkdir -p $(O)/fuzz/artifacts
	@set -e; for n in $(FUZZ_NAMES); do \
		c=$(O)/fuzz/corpus/$$n; mkdir -p $$c; \
		for s in $(foreach n,$(FUZZ_NAMES),$(FUZZ_SEEDS_$(n))); do :; done; \
		case $$n in \
		$(foreach n,$(FUZZ_NAMES),$(n)) ) ;; \
		esac; \
		echo "fuzz: $$n for $(FUZZ_SECONDS) s"; \
		$(O)/fuzz/$$n -max_total_time=$(FUZZ_SECONDS) -max_len=$(FUZZ_MAX_LEN) \
			-print_final_stats=1 -artifact_prefix=$(O)/fuzz/artifacts/$$n- \
			$$c 2>$(O)/fuzz/$$n.log || { tail -40 $(O)/fuzz/$$n.log; \
			echo "fuzz: $$n FAILED, reproducer in $(O)/fuzz/artifacts/"; exit 1; }; \
		grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' $(O)/fuzz/$$n.log \
			| sed "s/^/fuzz: $$n: /"; \
	done
