#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The portal named by a host name (docs/protocol.md 2.1): the lookup must never stall the daemon.
# The daemon runs in its own mount namespace with an /etc/resolv.conf that points at a name
# server on the server namespace's loopback, played by a few lines of Python:
#  - a name server that reads queries and never answers (30 s resolver timeout): the daemon
#    answers `status` at once all the while, the connect timeout covers the lookup and says
#    so, and the link keeps retrying;
#  - a name server that answers 127.0.0.1: the name resolves and the daemon connects there
#    (nothing listens: "Connection refused" proves the lookup's address was used); a reload
#    re-reads the token file and reconnects only when the token changed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon.inc"

tw_e2e_init portal_dns
tw_need_cmd python3 nsenter unshare mount
[ -x "$TW_BIN/tunwardend" ] || tw_skip_all "build the daemon first (make)"
[ "$(stat -fc %T /sys/fs/bpf 2>/dev/null)" = bpf_fs ] || tw_skip_all "no bpffs on /sys/fs/bpf"
[ -f /etc/resolv.conf ] || tw_skip_all "no /etc/resolv.conf to bind the test's resolver over"
tw_on_cleanup 'tw_daemon_cleanup'

tw_ns_add "$TW_SRV_NS"
NAME=portal.tunwarden-e2e.test
PORT=18449
export TW_PORTAL_URL=https://$NAME:$PORT/
export TW_PORTAL_LINES="token_file = $TW_DIR/token
connect_timeout = 2s
backoff_initial = 1s
backoff_max = 2s"
tw_daemon_setup
echo e2e-token >"$TW_DIR/token"
chmod 600 "$TW_DIR/token"
printf 'nameserver 127.0.0.1\noptions timeout:30 attempts:1\n' >"$TW_DIR/resolv.conf"

# dns MODE: a name server on 127.0.0.1:53 in the server namespace; "silent" never answers,
# "answer" gives 127.0.0.1 for A and no address for other types. Counts queries in dns.count.
dns() {
	tw_spawn "$TW_SRV_NS" "$TW_DIR/dns-$1.log" python3 -c '
import socket, struct, sys
mode, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 53))
print("listening", flush=True)
n = 0
while True:
    q, peer = s.recvfrom(512)
    n += 1
    with open(out, "w") as f: f.write("%d\n" % n)
    if mode == "silent" or len(q) < 17:
        continue
    end = q.index(b"\0", 12) + 5            # the question: name, type, class
    qtype = struct.unpack("!H", q[end - 4:end - 2])[0]
    an = struct.pack("!HHHIH4s", 0xC00C, 1, 1, 60, 4, socket.inet_aton("127.0.0.1"))
    r = q[:2] + struct.pack("!HHHHH", 0x8180, 1, 1 if qtype == 1 else 0, 0, 0) + q[12:end]
    s.sendto(r + (an if qtype == 1 else b""), peer)
' "$1" "$TW_DIR/dns.count"
	DNS_PID=$TW_LAST_PID
	tw_wait_log "$TW_DIR/dns-$1.log" listening 10 || tw_bail "name server did not start"
}

# The daemon as tw_daemon_start runs it, but in a mount namespace of its own whose
# /etc/resolv.conf is the test's (the host's file is untouched).
start() {
	rm -f "$TW_DIR/run/ctl.sock"
	nsenter --net="/run/netns/$TW_SRV_NS" unshare -m --propagation private sh -c \
		'mount --bind "$1" /etc/resolv.conf && exec "$2" -c "$3"' sh \
		"$TW_DIR/resolv.conf" "$TW_BIN/tunwardend" "$TW_DIR/tunwarden.conf" \
		</dev/null >>"$TW_DIR/daemon.log" 2>&1 &
	TW_D_PID=$!
	TW_PIDS+=("$TW_D_PID")
	# before the lookup was asynchronous, the daemon sat in getaddrinfo() for the resolver's 30 s
	tw_wait_for "[ -S '$TW_DIR/run/ctl.sock' ] && '$TW_BIN/tunwarden' status" 10 ||
		tw_bail "tunwardend did not come up: $(tail -n 5 "$TW_DIR/daemon.log")"
}
stop() {
	tw_daemon_cleanup
	wait "$TW_D_PID" 2>/dev/null
}

# ---- a name server that never answers
dns silent
start
tw_ok "the daemon serves its socket while the portal's name is being looked up"
tw_expect "the resolver asked our name server" "$(cat "$TW_DIR/dns.count" 2>/dev/null)" \
	tw_wait_for "[ -s '$TW_DIR/dns.count' ]" 5
tw_expect "the connect timeout covers the lookup" "$(grep portal "$TW_DIR/daemon.log" | tail -n 2)" \
	tw_wait_log "$TW_DIR/daemon.log" "connect timeout (resolving the portal's name)" 10
# the first lookup is still running (30 s) and a retry has started another
tw_wait_log "$TW_DIR/daemon.log" "reconnecting in" 10
for i in 1 2 3; do
	tw_check "status answers within 2 s during a hung lookup ($i)" \
		timeout 2 "$TW_BIN/tunwarden" status
	sleep 0.5
done
tw_check "status: not connected, the lookup's timeout is the last error" sh -c \
	"'$TW_BIN/tunwarden' --json status | grep -q 'resolving the portal'"
tw_check "still alive" kill -0 "$TW_D_PID"
stop
tw_kill "$DNS_PID"

# ---- a name server that answers
dns answer
start
tw_expect "the name resolves and the daemon connects to its address" \
	"$(grep portal "$TW_DIR/daemon.log" | tail -n 2)" \
	tw_wait_log "$TW_DIR/daemon.log" "connection failed: connect: Connection refused" 10
# a rotated token is picked up by a reload of the unchanged configuration
tw_check "reload, same token: no reconnect" sh -c "kill -HUP $TW_D_PID && sleep 0.5 &&
	! grep -q 'reconnecting with the new' '$TW_DIR/daemon.log'"
echo e2e-token-2 >"$TW_DIR/token"
kill -HUP "$TW_D_PID"
tw_expect "reload, rotated token: the link reconnects with it" "$(tail -n 3 "$TW_DIR/daemon.log")" \
	tw_wait_log "$TW_DIR/daemon.log" "reconnecting with the new [portal] settings" 5
tw_check "the token change was named" grep -q "token_file .* changed" "$TW_DIR/daemon.log"
stop
tw_done
