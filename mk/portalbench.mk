# SPDX-License-Identifier: GPL-2.0-only
# The portal link's benchmark helper (scripts/bench/portal.sh, run by `make bench`).
# Named to sort after mk/portal.mk: it links that file's libtwportal.a.
PORTAL_BENCH := $(O)/bench/portal_bench

$(O)/scripts/bench/portal_bench.o: CFLAGS += -Iuserspace/portal

$(PORTAL_BENCH): $(O)/scripts/bench/portal_bench.o $(O)/libtwportal.a $(LIBTW)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) $< $(O)/libtwportal.a $(LIBTW) $(PKG_LIBS) $(TW_PORTAL_LIBS) -o $@

all: $(PORTAL_BENCH)
bench: $(PORTAL_BENCH)
