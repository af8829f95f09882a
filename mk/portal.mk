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

.PHONY: install-portal
install: install-portal
install-portal: $(O)/tunwarden-portal
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/share/man/man8 \
		$(DESTDIR)/lib/systemd/system $(DESTDIR)/etc/tunwarden
	install -m 0755 $(O)/tunwarden-portal $(DESTDIR)$(PREFIX)/sbin/
	install -m 0644 man/tunwarden-portal.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	sed 's#/usr/local/sbin#$(PREFIX)/sbin#' systemd/tunwarden-portal.service \
		> $(DESTDIR)/lib/systemd/system/tunwarden-portal.service
	test -e $(DESTDIR)/etc/tunwarden/portal.conf || \
		install -m 0640 examples/portal.conf $(DESTDIR)/etc/tunwarden/portal.conf
	install -D -m 0644 systemd/tunwarden-portal.sysusers \
		$(DESTDIR)/usr/lib/sysusers.d/tunwarden-portal.conf
	test -n "$(DESTDIR)" || ! command -v systemd-sysusers >/dev/null || \
		systemd-sysusers tunwarden-portal.conf
