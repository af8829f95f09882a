# SPDX-License-Identifier: GPL-2.0-only
# The record journal's benchmark and the record parser's libFuzzer harness.
#   make build/bench/journal_bench     group commit vs durable appends, records/s
#   make build/fuzz/fuzz_record        clang -fsanitize=fuzzer; run it with a time limit

JOURNAL_BENCH := $(O)/bench/journal_bench
FUZZ_RECORD := $(O)/fuzz/fuzz_record

$(JOURNAL_BENCH): $(O)/scripts/bench/journal_bench.o $(LIBTW)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< $(LIBTW) $(LDFLAGS) $(LDLIBS) -lsqlite3 -ljansson -o $@

# Built from source with clang so the parser itself carries the coverage instrumentation;
# mk/fuzz.mk lists it in FUZZ_EXTERNAL and runs it with the others (`make fuzz`).
$(FUZZ_RECORD): selftests/fuzz/fuzz_record.c userspace/lib/record.c userspace/lib/record.h \
		include/tunwarden/abi.h
	@mkdir -p $(@D)
	$(CLANG) $(or $(FUZZ_CFLAGS),-g -O1 -std=gnu11 -D_GNU_SOURCE -Iinclude -Iuserspace/lib \
		-fsanitize=fuzzer,address,undefined) selftests/fuzz/fuzz_record.c \
		userspace/lib/record.c -ljansson -o $@

all: $(JOURNAL_BENCH)
bench: $(JOURNAL_BENCH)
fuzz: $(FUZZ_RECORD)
