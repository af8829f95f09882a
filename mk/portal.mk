# SPDX-License-Identifier: GPL-2.0-only
# tunwarden-portal, the reference portal (docs/portal.md). userspace/portal/*.c
# except main.c form libtwportal.a, which test_unit links too so the portal's
# modules are unit-tested like the library's. Included by the top-level Makefile.
TW_PORTAL_PKGS := libnghttp2 openssl sqlite3 jansson zlib
TW_PORTAL_LIBS := $(shell pkg-config --libs $(TW_PORTAL_PKGS) 2>/dev/null)

TW_PORTAL_SRCS := $(filter-out userspace/portal/main.c,$(wildcard userspace/portal/*.c))
TW_PORTAL_OBJS := $(patsubst %.c,$(O)/%.o,$(TW_PORTAL_SRCS))
LIBTWPORTAL := $(O)/libtwportal.a

$(TW_PORTAL_OBJS) $(O)/userspace/portal/main.o: CFLAGS += -Iuserspace/portal

$(LIBTWPORTAL): $(TW_PORTAL_OBJS)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

ifneq ($(wildcard userspace/portal/main.c),)
all: $(O)/tunwarden-portal
$(O)/tunwarden-portal: $(O)/userspace/portal/main.o $(LIBTWPORTAL) $(LIBTW)
	$(CC) $(LDFLAGS) $< $(LIBTWPORTAL) $(LIBTW) $(PKG_LIBS) $(TW_PORTAL_LIBS) -o $@
endif

# Unit tests of the portal's modules (selftests/unit/portal_*.c) link it.
$(TEST_UNIT): $(LIBTWPORTAL)
$(TEST_UNIT): LDLIBS += $(LIBTWPORTAL) $(LIBTW) $(TW_PORTAL_LIBS)
$(UNIT_OBJS): CFLAGS += -Iuserspace/portal
