# SPDX-License-Identifier: GPL-2.0-only
# tunwarden: one non-recursive Makefile, out-of-tree build in $(O).
#   make            build everything          make check    run the test suites
#   make SAN=1      ASan+UBSan build          make help     list the targets

O ?= build
CC ?= gcc
CLANG ?= clang
BPFTOOL ?= bpftool
PREFIX ?= /usr/local
DESTDIR ?=

# The README's commands set up the machine themselves: before this Makefile reads pkg-config
# (below), `make demo`, `make check`, `make bench` and `make vmtest` install what is missing
# (quietly when nothing is). TW_NO_DEPS=1 skips it.
DEPS_GROUPS := $(if $(filter demo check bench vmtest,$(MAKECMDGOALS)),build test) \
	       $(if $(filter bench,$(MAKECMDGOALS)),bench) \
	       $(if $(filter vmtest,$(MAKECMDGOALS)),vmtest)
ifneq ($(strip $(DEPS_GROUPS)),)
ifneq ($(TW_NO_DEPS),1)
DEPS_RC := $(shell scripts/install-deps.sh --quiet $(sort $(DEPS_GROUPS)) >&2; echo $$?)
ifneq ($(DEPS_RC),0)
$(error scripts/install-deps.sh failed (exit $(DEPS_RC)): see the lines above)
endif
endif
endif

# Stable when sources are: no mtime-dependent names, no generated files in-tree.
BPF_SRCS := $(wildcard bpf/*.bpf.c)
# One object set: every bpf/*.bpf.c linked into one object, one skeleton (tw_bpf).
BPF_PARTS := $(patsubst bpf/%.bpf.c,$(O)/bpf/parts/%.o,$(BPF_SRCS))
BPF_OBJS := $(O)/bpf/tunwarden.bpf.o
SKELS := $(O)/skel/tunwarden.skel.h
BPF_HDRS := $(wildcard bpf/lib/*.h) $(wildcard include/tunwarden/*.h)

PKGS := libbpf libelf zlib libcrypto
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wmissing-prototypes -Wno-unused-parameter
CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 $(WARN) -Iinclude -Iuserspace/lib -I$(O)/skel -I$(O) $(PKG_CFLAGS) \
	  -D_GNU_SOURCE
LDLIBS += $(PKG_LIBS)
# A build without the libraries fails on the first #include; say what to run instead.
ifeq ($(filter clean help lint vmlinux fresh-check,$(MAKECMDGOALS)),)
ifeq ($(shell pkg-config --exists $(PKGS) 2>/dev/null && command -v $(CLANG) $(BPFTOOL) >/dev/null \
	&& echo ok),)
$(error clang, bpftool or the libbpf/libelf/zlib headers are missing: run scripts/install-deps.sh \
	(make demo and make check run it themselves))
endif
endif
ifeq ($(SAN),1)
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif

BPF_CFLAGS := -g -O2 --target=bpf -D__TARGET_ARCH_x86 -I. -Iinclude -Wall -Werror \
	      -Wno-unused-function

# userspace/lib: the typed map/loader library every binary links.
LIB_SRCS := $(wildcard userspace/lib/*.c)
LIB_OBJS := $(patsubst %.c,$(O)/%.o,$(LIB_SRCS))
LIBTW := $(O)/libtw.a

# selftests: harness + packet builder, then one runner per suite directory.
HARNESS_SRCS := $(wildcard selftests/lib/*.c)
HARNESS_OBJS := $(patsubst %.c,$(O)/%.o,$(HARNESS_SRCS))
PROG_TEST_SRCS := $(wildcard selftests/prog_tests/*.c)
PROG_TEST_OBJS := $(patsubst %.c,$(O)/%.o,$(PROG_TEST_SRCS))
UNIT_SRCS := $(wildcard selftests/unit/*.c)
UNIT_OBJS := $(patsubst %.c,$(O)/%.o,$(UNIT_SRCS))

TEST_PROGS := $(O)/selftests/test_progs
TEST_UNIT := $(O)/selftests/test_unit

.PHONY: all bpf skel lib tests check check-progs check-unit check-e2e bench soak demo vmtest \
	lint fuzz install clean help vmlinux fresh-check

all: $(BPF_OBJS) $(SKELS) $(LIBTW) tests

help:
	@echo "Targets:"
	@echo "  all        BPF objects, skeletons, userspace library and binaries, test runners"
	@echo "  check      run every test suite (BPF prog tests, unit, end-to-end)"
	@echo "  bench      benchmarks: figures and ratios, not pass/fail"
	@echo "  vmtest     run the BPF and e2e suites in throwaway VMs (6.1 and 6.12 kernels)"
	@echo "  fresh-check  make demo and make check in a freshly debootstrapped Debian 12 root"
	@echo "  lint       clang-format --dry-run, clang-tidy, cppcheck"
	@echo "  mutate     mutation score of bpf/ and userspace/lib (slow; docs/testing.md)"
	@echo "  coverage   line and branch coverage of userspace under the suites"
	@echo "  fuzz       build and run the libFuzzer harnesses (FUZZ_SECONDS)"
	@echo "  vmlinux    regenerate vmlinux.h from /sys/kernel/btf/vmlinux"
	@echo "  install    install binaries (DESTDIR, PREFIX)"
	@echo "  clean      remove $(O)/"
	@echo "Variables: O=dir (build dir), SAN=1 (ASan+UBSan), CC=clang"

vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > vmlinux.h

$(O)/bpf/parts/%.o: bpf/%.bpf.c $(BPF_HDRS) vmlinux.h
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@.tmp
	$(BPFTOOL) gen object $@ $@.tmp
	@rm -f $@.tmp

$(BPF_OBJS): $(BPF_PARTS)
	$(BPFTOOL) gen object $@ $^

$(O)/skel/tunwarden.skel.h: $(BPF_OBJS)
	@mkdir -p $(@D)
	$(BPFTOOL) gen skeleton $< name tw_bpf > $@.tmp && mv $@.tmp $@

# Each object depends on the headers it includes (-MMD -MP: $(O)/**/*.d), not on every header.
# The skeletons must exist before the first compile; after it, the .d files name them.
$(O)/%.o: %.c | $(SKELS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -MMD -MP -Iselftests/lib -c $< -o $@
-include $(shell find $(O) -name '*.d' 2>/dev/null)

# Test entry points are found by name from the generated table, not a header.
$(PROG_TEST_OBJS) $(UNIT_OBJS): CFLAGS += -Wno-missing-prototypes

$(LIBTW): $(LIB_OBJS)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

# Each prog_tests/X.c defines test_X(); the runner's table is generated.
$(O)/selftests/prog_tests.inc: $(PROG_TEST_SRCS)
	@mkdir -p $(@D)
	@for f in $(PROG_TEST_SRCS); do n=$$(basename $$f .c); echo "TW_TEST($$n)"; done > $@.tmp
	@cmp -s $@.tmp $@ 2>/dev/null && rm -f $@.tmp || mv $@.tmp $@
$(O)/selftests/unit_tests.inc: $(UNIT_SRCS)
	@mkdir -p $(@D)
	@for f in $(UNIT_SRCS); do n=$$(basename $$f .c); echo "TW_TEST($$n)"; done > $@.tmp
	@cmp -s $@.tmp $@ 2>/dev/null && rm -f $@.tmp || mv $@.tmp $@

$(TEST_PROGS): selftests/runner.c $(O)/selftests/prog_tests.inc $(PROG_TEST_OBJS) $(HARNESS_OBJS) $(LIBTW)
	$(CC) $(CFLAGS) -Iselftests/lib -DTW_TESTS_INC='"selftests/prog_tests.inc"' \
		-DTW_SUITE='"test_progs"' selftests/runner.c $(PROG_TEST_OBJS) $(HARNESS_OBJS) \
		$(LIBTW) $(LDFLAGS) $(LDLIBS) -o $@
$(TEST_UNIT): selftests/runner.c $(O)/selftests/unit_tests.inc $(UNIT_OBJS) $(HARNESS_OBJS) $(LIBTW)
	$(CC) $(CFLAGS) -Iselftests/lib -DTW_TESTS_INC='"selftests/unit_tests.inc"' \
		-DTW_SUITE='"test_unit"' selftests/runner.c $(UNIT_OBJS) $(HARNESS_OBJS) \
		$(LIBTW) $(LDFLAGS) $(LDLIBS) -lsqlite3 -ljansson -o $@

tests: $(TEST_PROGS) $(TEST_UNIT)

check: all
	@scripts/run-checks.sh $(O)

check-progs: $(TEST_PROGS)
	$(TEST_PROGS)
check-unit: $(TEST_UNIT)
	$(TEST_UNIT)

bench: all
	@scripts/bench/run.sh $(O)

# make vmtest VMTEST_ARGS="--kernel 6.1 -- build/selftests/test_progs -t uplink_xdp"
vmtest: all
	@O=$(O) scripts/vmtest.sh $(VMTEST_ARGS)

# make fresh-check FRESH_ARGS="--shell" leaves a shell in the root afterwards.
fresh-check:
	@scripts/fresh-check.sh $(FRESH_ARGS)

lint:
	@scripts/lint.sh

clean:
	rm -rf $(O)

-include $(wildcard mk/*.mk)
