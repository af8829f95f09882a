# SPDX-License-Identifier: GPL-2.0-only
# tunwardend, the controller daemon, and its systemd unit. Included by the
# top-level Makefile.
TW_DAEMON_PKGS := libnl-route-3.0 libsystemd libnghttp2 openssl zlib
TW_DAEMON_CFLAGS := $(shell pkg-config --cflags $(TW_DAEMON_PKGS) 2>/dev/null)
TW_DAEMON_LIBS := $(shell pkg-config --libs $(TW_DAEMON_PKGS) 2>/dev/null)

# userspace/daemon/: one module a file (daemon.h lists them), main.c puts them together.
TW_DAEMON_SRCS := $(wildcard userspace/daemon/*.c)
TW_DAEMON_OBJS := $(patsubst %.c,$(O)/%.o,$(TW_DAEMON_SRCS))

all: $(O)/tunwardend

$(TW_DAEMON_OBJS): CFLAGS += -Iuserspace/daemon $(TW_DAEMON_CFLAGS)

$(O)/tunwardend: $(TW_DAEMON_OBJS) $(LIBTW)
	$(CC) $(LDFLAGS) $(TW_DAEMON_OBJS) $(LIBTW) $(PKG_LIBS) $(TW_DAEMON_LIBS) -ljansson -lsqlite3 -o $@

demo: all
	@scripts/demo.sh $(O)

.PHONY: install-daemon
install: install-daemon
install-daemon: $(O)/tunwardend
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/share/man/man8 \
		$(DESTDIR)/lib/systemd/system $(DESTDIR)/etc/tunwarden
	install -m 0755 $(O)/tunwardend $(DESTDIR)$(PREFIX)/sbin/
	install -D -m 0755 systemd/portal-allow $(DESTDIR)$(PREFIX)/libexec/tunwarden/portal-allow
	install -m 0644 man/tunwardend.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	sed 's#/usr/local/#$(PREFIX)/#g' systemd/tunwardend.service \
		> $(DESTDIR)/lib/systemd/system/tunwardend.service
	test -e $(DESTDIR)/etc/tunwarden/tunwarden.conf || \
		install -m 0640 examples/tunwarden.conf $(DESTDIR)/etc/tunwarden/tunwarden.conf
	install -D -m 0644 systemd/tunwarden.sysusers $(DESTDIR)/usr/lib/sysusers.d/tunwarden.conf
	test -n "$(DESTDIR)" || ! command -v systemd-sysusers >/dev/null || systemd-sysusers tunwarden.conf
