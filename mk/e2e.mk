# SPDX-License-Identifier: GPL-2.0-only
# End-to-end dataplane test driver: one C binary (each exec inside a VM costs
# ~60 ms), run by selftests/e2e/dataplane.sh under selftests/e2e/run.sh.
E2E_DP := $(O)/selftests/e2e/dataplane
E2E_UTIL_OBJ := $(O)/selftests/e2e/e2e_util.o

$(O)/selftests/e2e_tests.inc:
	@mkdir -p $(@D)
	@echo 'TW_TEST(dataplane)' > $@

$(E2E_DP): selftests/runner.c $(O)/selftests/e2e_tests.inc $(O)/selftests/e2e/dataplane.o \
		$(E2E_UTIL_OBJ) $(HARNESS_OBJS) $(LIBTW)
	$(CC) $(CFLAGS) -Iselftests/lib -DTW_TESTS_INC='"selftests/e2e_tests.inc"' \
		-DTW_SUITE='"e2e_dataplane"' selftests/runner.c $(O)/selftests/e2e/dataplane.o \
		$(E2E_UTIL_OBJ) $(HARNESS_OBJS) $(LIBTW) $(LDFLAGS) $(LDLIBS) -lpthread -o $@

tests: $(E2E_DP)
.PHONY: e2e-dataplane
e2e-dataplane: $(E2E_DP)
	selftests/e2e/dataplane.sh $(O)

# e2e_util.h hands its users selftests/lib/packet.h: whoever links e2e_util.o builds
# packets with packet.o (the dataplane driver has it among HARNESS_OBJS already).
$(O)/bench/twbench: $(O)/selftests/lib/packet.o
