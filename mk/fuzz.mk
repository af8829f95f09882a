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
# parsers) unless FUZZ_SRCS_fuzz_X names its sources; a harness whose rule lives in
# another mk file is listed in FUZZ_EXTERNAL and only run here. FUZZ_SEEDS_fuzz_X files
# are copied into the corpus before each run. Crashes land in $(O)/fuzz/artifacts/ and
# fail the target; the corpus in $(O)/fuzz/corpus/ grows from run to run.

FUZZ_SECONDS ?= 30
FUZZ_MAX_LEN ?= 16384
FUZZ_CC ?= $(CLANG)
FUZZ_CFLAGS := -g -O1 -std=gnu11 -D_GNU_SOURCE -Iinclude -Iuserspace/lib -Iuserspace/portal \
	       -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	       -fno-omit-frame-pointer -Wall -Wextra -Werror -Wno-unused-parameter \
	       -Iuserspace/daemon
FUZZ_LIBS := -ljansson -lcrypto
FUZZ_EXTERNAL := fuzz_record # mk/journal.mk

FUZZ_NAMES := $(patsubst selftests/fuzz/%.c,%,$(wildcard selftests/fuzz/fuzz_*.c))
FUZZ_BINS := $(addprefix $(O)/fuzz/,$(FUZZ_NAMES))

FUZZ_SRCS_fuzz_policy := $(wildcard userspace/lib/policy*.c) userspace/lib/hashtab.c \
			 userspace/lib/config.c userspace/lib/tw_addr.c userspace/lib/tw_utf8.c
FUZZ_SRCS_fuzz_config := userspace/lib/config.c
FUZZ_SRCS_fuzz_ctl := userspace/lib/ctl.c
FUZZ_SRCS_fuzz_pconf := userspace/portal/pconf.c userspace/lib/config.c userspace/lib/tw_utf8.c
FUZZ_SEEDS_fuzz_pconf := examples/portal.conf
FUZZ_SRCS_fuzz_polstream := userspace/daemon/polstream.c $(FUZZ_SRCS_fuzz_policy) \
			    userspace/lib/tw_sig.c userspace/lib/log.c
FUZZ_SEEDS_fuzz_policy := examples/policy.json
FUZZ_SEEDS_fuzz_config := examples/tunwarden.conf
# Checked-in seeds, small and valid, so every harness starts past its parser's front door
# (selftests/fuzz/seeds/README says what each holds).
$(foreach n,$(FUZZ_NAMES),$(eval FUZZ_SEEDS_$(n) += $(wildcard selftests/fuzz/seeds/$(n)/*)))

fuzz_srcs = $(or $(FUZZ_SRCS_$(1)),$(sort $(wildcard userspace/lib/$(1:fuzz_%=%).c) \
	    userspace/lib/config.c userspace/lib/tw_utf8.c))

define FUZZ_RULE
$(O)/fuzz/$(1): selftests/fuzz/$(1).c $(call fuzz_srcs,$(1)) \
		$(wildcard userspace/lib/*.h include/tunwarden/*.h)
	@mkdir -p $$(@D)
	$$(FUZZ_CC) $$(FUZZ_CFLAGS) $$< $(call fuzz_srcs,$(1)) $$(FUZZ_LIBS) -o $$@
endef
$(foreach n,$(filter-out $(FUZZ_EXTERNAL),$(FUZZ_NAMES)),$(eval $(call FUZZ_RULE,$(n))))

.PHONY: fuzz-build
fuzz-build: $(FUZZ_BINS)

# A delta seed, so the fuzzer starts inside tw_policy_apply_delta() (the harness's
# base policy is at version 1 and has profiles emp, lab and subjects alice, bob).
FUZZ_DELTA_SEED := {"type": "delta", "base": 1, "version": 2, "tenants": {"upsert": \
	[{"id": "initech"}], "remove": ["globex"]}, "profiles": {"upsert": [{"id": "new", \
	"to_client": [{"prefix": "192.0.2.0/24", "proto": "udp", "ports": "53"}]}], \
	"remove": ["lab"]}, "subjects": {"upsert": [{"kind": "wg_key", "id": \
	"xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=", "tenant": "initech", "profiles": \
	["new"], "state": "enabled"}], "remove": [{"kind": "cn", "id": "bob"}]}}

fuzz: $(FUZZ_BINS)
	@mkdir -p $(O)/fuzz/artifacts $(addprefix $(O)/fuzz/corpus/,$(FUZZ_NAMES))
	@$(foreach n,$(FUZZ_NAMES),$(if $(FUZZ_SEEDS_$(n)),cp -f $(FUZZ_SEEDS_$(n)) \
		$(O)/fuzz/corpus/$(n)/;)) true
	@printf '%s' '$(FUZZ_DELTA_SEED)' > $(O)/fuzz/corpus/fuzz_policy/seed-delta.json
	@set -e; for n in $(FUZZ_NAMES); do \
		echo "fuzz: $$n for $(FUZZ_SECONDS) s"; \
		$(O)/fuzz/$$n -max_total_time=$(FUZZ_SECONDS) -max_len=$(FUZZ_MAX_LEN) \
			-print_final_stats=1 -artifact_prefix=$(O)/fuzz/artifacts/$$n- \
			$(O)/fuzz/corpus/$$n 2>$(O)/fuzz/$$n.log || { \
			tail -40 $(O)/fuzz/$$n.log; \
			echo "fuzz: $$n FAILED, reproducer in $(O)/fuzz/artifacts/"; exit 1; }; \
		grep -E '^stat::(number_of_executed_units|peak_rss_mb)|^#[0-9]+[[:space:]]+DONE' \
			$(O)/fuzz/$$n.log | sed "s/^/fuzz: $$n: /"; \
	done
