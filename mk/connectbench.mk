# SPDX-License-Identifier: GPL-2.0-only
# Connect-path latency benchmark (make bench runs it).
all: $(O)/bench/connect_bench

$(O)/bench/connect_bench: scripts/bench/connect_bench.c $(LIBTW)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< $(LIBTW) $(LDFLAGS) $(PKG_LIBS) -ljansson -lsqlite3 -o $@
