# SPDX-License-Identifier: GPL-2.0-only
# Benchmark binaries for `make bench` (scripts/bench/run.sh runs them).
TWBENCH := $(O)/bench/twbench

# twbench's reference programs (empty, count-only): their own object and
# skeleton, through the same clang/bpftool pipeline as bpf/*.bpf.c.
$(O)/bench/bpf/twbench.bpf.o: bpf/bench/twbench.bpf.c $(BPF_HDRS) vmlinux.h
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@.tmp
	$(BPFTOOL) gen object $@ $@.tmp
	@rm -f $@.tmp

$(O)/skel/twbench.skel.h: $(O)/bench/bpf/twbench.bpf.o
	@mkdir -p $(@D)
	$(BPFTOOL) gen skeleton $< name twb_bpf > $@.tmp && mv $@.tmp $@

$(O)/scripts/bench/twbench.o: CFLAGS += -Iselftests/e2e
$(O)/scripts/bench/twbench.o: $(O)/skel/twbench.skel.h

$(TWBENCH): $(O)/scripts/bench/twbench.o $(O)/selftests/e2e/e2e_util.o $(LIBTW)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

bench: $(TWBENCH)
