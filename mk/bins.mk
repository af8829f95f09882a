# SPDX-License-Identifier: GPL-2.0-only
# The control-socket clients: tunwarden-hook (OpenVPN client-connect/-disconnect)
# and the tunwarden CLI. Included by the top-level Makefile.
#
# --as-needed keeps libraries the static libtw.a objects never call (libbpf,
# libelf, sqlite) out of the hook's DT_NEEDED: OpenVPN waits on it for every
# connect, and each shared library is a few hundred microseconds of ld.so work.

TW_BIN_LIBS := $(PKG_LIBS) -ljansson -lsqlite3

all: $(O)/tunwarden $(O)/tunwarden-hook

$(O)/tunwarden-hook: $(O)/userspace/tunwarden-hook.o $(LIBTW)
	$(CC) $(LDFLAGS) -Wl,--as-needed $< $(LIBTW) $(TW_BIN_LIBS) -o $@

$(O)/tunwarden: $(O)/userspace/tunwarden.o $(LIBTW)
	$(CC) $(LDFLAGS) -Wl,--as-needed $< $(LIBTW) $(TW_BIN_LIBS) -o $@

# test_unit's ctl test execs the hook binary it finds next to its own build dir.
check-unit: $(O)/tunwarden-hook

.PHONY: install-bins
install: install-bins
install-bins: $(O)/tunwarden $(O)/tunwarden-hook
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 0755 $(O)/tunwarden $(O)/tunwarden-hook $(DESTDIR)$(PREFIX)/sbin/
	install -m 0644 man/tunwarden.8 man/tunwarden-hook.8 $(DESTDIR)$(PREFIX)/share/man/man8/
