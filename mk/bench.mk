# SPDX-License-Identifier: GPL-2.0-only
# Benchmark binaries for `make bench` (scripts/bench/run.sh runs them).
TWBENCH := $(O)/bench/twbench

$(O)/scripts/bench/twbench.o: CFLAGS += -Iselftests/e2e

$(TWBENCH): $(O)/scripts/bench/twbench.o $(O)/selftests/e2e/e2e_util.o $(LIBTW)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

bench: $(TWBENCH)
