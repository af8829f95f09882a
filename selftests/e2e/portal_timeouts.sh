#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The link's own deadlines (docs/protocol.md 2.4, 6.2), against peers that go quiet rather than
# fail, on the server namespace's loopback:
#  - a portal that stops answering mid-connection (the double, SIGSTOPped: the kernel still ACKs
#    its TCP segments, nothing answers HTTP/2): the keepalive PING goes unanswered, the
#    connection is closed after keepalive_timeout and opened again once the portal wakes up;
#  - a portal whose listen queue is full (SYNs dropped): the connect times out after
#    connect_timeout, says "TCP", and is retried; the daemon serves its socket all the while.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon.inc"

tw_e2e_init portal_timeouts
tw_need_cmd python3 nsenter
PY=
for p in python3 /usr/bin/python3; do "$p" -c 'import h2' 2>/dev/null && PY=$p && break; done
[ -n "$PY" ] || tw_skip_all "python3-h2 not installed (apt-get install python3-h2)"
[ -x "$TW_BIN/tunwardend" ] || tw_skip_all "build the daemon first (make)"
[ "$(stat -fc %T /sys/fs/bpf 2>/dev/null)" = bpf_fs ] || tw_skip_all "no bpffs on /sys/fs/bpf"
tw_on_cleanup 'tw_daemon_cleanup; [ -z "${DOUBLE:-}" ] || kill -CONT "$DOUBLE" 2>/dev/null'

tw_ns_add "$TW_SRV_NS"
tw_daemon_setup
export TW_DOUBLE_POLICY=$TW_DIR/policy.json
PORT=18445
FULL=18446
portal_conf() { # PORT
	sed -i '/^\[portal\]/,$d' "$TW_DIR/tunwarden.conf"
	cat >>"$TW_DIR/tunwarden.conf" <<-EOC
	[portal]
	url = http://127.0.0.1:$1/
	keepalive = 1s
	keepalive_timeout = 1s
	connect_timeout = 2s
	backoff_initial = 1s
	backoff_max = 2s
	EOC
}
connects() { grep -c "portal: connected" "$TW_DIR/daemon.log"; }
status() { tw_cli --json status | tw_jq "$1"; }

# ---- a portal that goes quiet: PING timeout
tw_spawn "$TW_SRV_NS" "$TW_DIR/double.log" "$PY" "$(dirname "$0")/portal_double.py" \
	"$PORT" "$TW_DIR/portal.ndjson" normal
DOUBLE=$TW_LAST_PID
tw_wait_log "$TW_DIR/double.log" listening 10 || tw_bail "double did not start"
portal_conf $PORT
tw_daemon_start
tw_wait_for "[ \"\$(status \"j['portal']['connected']\")\" = True ]" 10 ||
	tw_bail "the link did not come up: $(grep portal "$TW_DIR/daemon.log" | tail -n 3)"
kill -STOP "$DOUBLE"
tw_expect "a silent portal: the PING goes unanswered and the connection is closed" \
	"$(grep portal "$TW_DIR/daemon.log" | tail -n 2)" \
	tw_wait_log "$TW_DIR/daemon.log" "connection lost: PING timeout" 10
# the reconnect to the stopped portal then times out waiting for its SETTINGS
tw_check "status: not connected, the silence named" sh -c \
	"'$TW_BIN/tunwarden' --json status | grep -q -e 'PING timeout' -e \"portal's SETTINGS\""
tw_check "status: connected is false" [ "$(status "j['portal']['connected']")" = False ]
n=$(connects)
kill -CONT "$DOUBLE"
tw_expect "the portal wakes up: the link comes back on its own" \
	"$(grep portal "$TW_DIR/daemon.log" | tail -n 2)" \
	tw_wait_for "[ \$(connects) -gt $n ] && [ \"\$(status \"j['portal']['connected']\")\" = True ]" 10

# ---- a portal whose listen queue is full: the SYN is dropped, the connect times out
tw_spawn "$TW_SRV_NS" "$TW_DIR/full.log" python3 -c '
import socket, sys, time
port = int(sys.argv[1])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(0)                      # never accepted: the queue holds one, the rest are dropped
fill = []
for _ in range(2):
    c = socket.socket()
    c.setblocking(False)
    c.connect_ex(("127.0.0.1", port))
    fill.append(c)
print("full", flush=True)
time.sleep(3600)
' "$FULL"
tw_wait_log "$TW_DIR/full.log" full 10 || tw_bail "full listener did not start"
portal_conf $FULL
kill -HUP "$TW_D_PID"
tw_expect "a full listen queue: the connect times out, TCP named" \
	"$(grep portal "$TW_DIR/daemon.log" | tail -n 2)" \
	tw_wait_log "$TW_DIR/daemon.log" "connection failed: connect timeout (TCP)" 10
tw_expect "and is retried" "$(grep portal "$TW_DIR/daemon.log" | tail -n 2)" \
	tw_wait_for "[ \$(grep -c 'connect timeout (TCP)' '$TW_DIR/daemon.log') -ge 2 ]" 10
tw_check "the daemon answers all the while" timeout 2 "$TW_BIN/tunwarden" status
tw_done
