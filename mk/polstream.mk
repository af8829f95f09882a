# SPDX-License-Identifier: GPL-2.0-only
# The policy stream (userspace/daemon/polstream*.c). Included after daemon.mk.

# The unit tests drive the line handling (polstream.c) without a portal, and
# the HTTP/2 side (polstream_h2.c) against test doubles of the transport
# (selftests/unit/polstream_h2.c); both link alone against libtw.
TW_UNIT_DAEMON_OBJS := $(O)/userspace/daemon/polstream.o $(O)/userspace/daemon/polstream_h2.o
$(TEST_UNIT): $(TW_UNIT_DAEMON_OBJS)
$(TEST_UNIT): LDLIBS += $(TW_UNIT_DAEMON_OBJS)
$(UNIT_OBJS): CFLAGS += -Iuserspace/daemon

# selftests/prog_tests/polstream_maps.c runs the daemon's install path
# (policysrc, admission, sessions) against real maps: it links the daemon's
# modules (all but main.o; the transport's libraries for when it is there).
TW_PROG_DAEMON_OBJS := $(filter-out %/main.o,$(TW_DAEMON_OBJS))
$(TEST_PROGS): $(TW_PROG_DAEMON_OBJS)
$(TEST_PROGS): LDLIBS += $(TW_PROG_DAEMON_OBJS) $(LIBTW) $(TW_DAEMON_LIBS) -ljansson -lsqlite3 \
	$(shell pkg-config --libs libnghttp2 openssl 2>/dev/null)
$(PROG_TEST_OBJS): CFLAGS += -Iuserspace/daemon
