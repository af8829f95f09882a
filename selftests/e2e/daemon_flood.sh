#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# An unprivileged local user against tunwardend's sockets (docs/ctl-protocol.md, "Limits"): a
# client that floods requests and reads no reply, as many idle control connections as one uid can
# open, and idle TCP connections to the metrics port. Meanwhile root's `tunwarden status` and a
# hook connect must answer within a generous bound, the 1 s tick must keep running, and the
# daemon must drop the offenders after its deadlines.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon.inc"

tw_e2e_init daemon_flood
tw_need_cmd openvpn python3 setpriv
[ -x "$TW_BIN/tunwardend" ] || tw_skip_all "build the daemon first (make)"
tw_on_cleanup 'tw_daemon_cleanup'

tw_topo_create 0
tw_daemon_setup
tw_daemon_start
tw_ovpn_server_with_daemon
tw_wait_log "$TW_DIR/daemon.log" "enforcing on tun0" 10 || tw_bail "tun0 not attached"

BOUND_MS=$((1000 * TW_E2E_SLACK))
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
# the attacker's interpreter: a per-user one (pyenv shims) is not readable by nobody
PY=/usr/bin/python3
[ -x "$PY" ] || tw_skip_all "no $PY for the unprivileged clients"
# where the unprivileged clients write what they saw
OUT=$TW_DIR/nobody
mkdir -p "$OUT" && chmod 777 "$OUT"

# timed CMD...: CMD succeeds within BOUND_MS; says how long it took either way.
timed() {
	local t0=$EPOCHREALTIME rc ms
	"$@" >"$TW_DIR/timed.out" 2>&1
	rc=$?
	ms=$(((${EPOCHREALTIME/./} - ${t0/./}) / 1000))
	echo "exit $rc after $ms ms (bound $BOUND_MS ms): $(head -c 300 "$TW_DIR/timed.out")"
	[ "$rc" -eq 0 ] && [ "$ms" -le "$BOUND_MS" ]
}

# hook TYPE CN LAST_OCTET: the OpenVPN hook as OpenVPN (root here) runs it.
hook() {
	env -i TUNWARDEN_SOCKET="$TUNWARDEN_SOCKET" script_type="$1" dev=tun0 common_name="$2" \
		trusted_ip=198.18.0.$3 trusted_port=5000 ifconfig_pool_remote_ip=10.8.0.$3 \
		bytes_received=0 bytes_sent=0 time_duration=1 \
		timeout 10 "$TW_BIN/tunwarden-hook" "$TW_DIR/cc-$2.out"
}

# still_served WHAT CN OCTET: status as root, a hook connect (admitted) and its disconnect, each
# within the bound.
still_served() {
	tw_check "$1: root's tunwarden status answers" timed timeout 10 "$TW_BIN/tunwarden" status
	tw_check "$1: a hook connect is admitted" timed hook client-connect "$2" "$3"
	tw_check "$1: its disconnect answers" timed hook client-disconnect "$2" "$3"
}

# tick_watch SECS OUT: the longest time (ms) status.json, rewritten by the 1 s tick, went
# unchanged over the next SECS seconds, into OUT.
tick_watch() {
	python3 - "$TW_DIR/state/status.json" "$1" "$2" <<-'PY' &
	import os, sys, time
	path, secs, out = sys.argv[1], float(sys.argv[2]), sys.argv[3]
	def ident():
	    try:
	        st = os.stat(path)
	        return (st.st_ino, st.st_mtime_ns)
	    except OSError:
	        return None
	t0 = last = time.monotonic()
	cur, gap = ident(), 0.0
	while time.monotonic() - t0 < secs:
	    time.sleep(0.05)
	    now, new = time.monotonic(), ident()
	    if new != cur:
	        cur, last = new, now
	    gap = max(gap, now - last)
	open(out, "w").write("%d\n" % (gap * 1000))
	PY
	TICK_PID=$!
	TW_PIDS+=("$TICK_PID")
}

tw_check "before: root's tunwarden status answers" timed timeout 10 "$TW_BIN/tunwarden" status

# ---- (a) thousands of requests, no reply read
cat >"$TW_DIR/flood.py" <<'PY'
import errno, os, socket, sys, time
path, secs, out = sys.argv[1], float(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_UNIX)
s.connect(path)
s.setblocking(False)
chunk, sent, state = b'{"op":"status"}\n' * 1000, 0, "open"
end = time.monotonic() + secs
while time.monotonic() < end:
    try:
        sent += s.send(chunk)
    except BlockingIOError:
        time.sleep(0.05)
    except OSError as e:
        state = "closed:" + errno.errorcode.get(e.errno, str(e.errno))
        break
with open(out, "w") as f:
    f.write("%s %d %d\n" % (state, sent // 16, os.getpid()))
PY
"${NOBODY[@]}" "$PY" "$TW_DIR/flood.py" "$TUNWARDEN_SOCKET" 12 "$OUT/flood.out" \
	>"$TW_DIR/flood.log" 2>&1 &
FLOOD_PID=$!
TW_PIDS+=("$FLOOD_PID")
sleep 0.5
tick_watch 4 "$TW_DIR/tick.out"
still_served "flood" alice 50
sleep 1
still_served "flood, later" alice 50
wait "$TICK_PID"
gap=$(cat "$TW_DIR/tick.out")
tw_expect "flood: the 1 s tick keeps running" "status.json unchanged for $gap ms of 4 s" \
	eval "[ '$gap' -le $((2500 * TW_E2E_SLACK)) ]"
wait "$FLOOD_PID"
read -r fstate fsent fpid <"$OUT/flood.out"
tw_diag "flooder: $fsent requests sent, connection $fstate"
tw_expect "flood: thousands of requests went out" "$fsent sent" eval "[ '$fsent' -ge 2000 ]"
tw_expect "flood: the client that read nothing was dropped" "connection $fstate" \
	eval "[ '${fstate%%:*}' = closed ]"
tw_expect "flood: the drop is logged once, with uid and pid" \
	"$(grep -c "uid 65534 pid $fpid" "$TW_DIR/daemon.log") lines" \
	eval "[ \"\$(grep -c 'control client uid 65534 pid $fpid: replies not taken.*dropped' '$TW_DIR/daemon.log')\" -eq 1 ]"

# ---- (b) as many idle connections as one unprivileged uid can open
cat >"$TW_DIR/hold.py" <<'PY'
import socket, sys, time
fam, addr, n, secs, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
conns = []
for _ in range(n):
    try:
        if fam == "unix":
            s = socket.socket(socket.AF_UNIX); s.settimeout(1); s.connect(addr)
        else:
            host, port = addr.rsplit(":", 1)
            s = socket.create_connection((host, int(port)), timeout=1)
        conns.append(s)
    except OSError:
        break
with open(out + ".tmp", "w") as f:
    f.write("%d\n" % len(conns))
import os; os.replace(out + ".tmp", out)
# then: how many the daemon closed (EOF or a refusal line), and when
t0 = time.monotonic()
closed = {}
while time.monotonic() - t0 < secs:
    for i, s in enumerate(conns):
        if i in closed:
            continue
        s.setblocking(False)
        try:
            d = s.recv(4096)
        except BlockingIOError:
            continue
        except OSError:
            d = b""
        if not d or b"busy" in d:
            closed[i] = time.monotonic() - t0
    time.sleep(0.05)
with open(out + ".closed", "w") as f:
    f.write("%d %d %.1f\n" % (len(conns), len(closed), max(closed.values(), default=0)))
PY
rm -f "$OUT/hold.out"
"${NOBODY[@]}" "$PY" "$TW_DIR/hold.py" unix "$TUNWARDEN_SOCKET" 300 4 "$OUT/hold.out" \
	>"$TW_DIR/hold.log" 2>&1 &
HOLD_PID=$!
TW_PIDS+=("$HOLD_PID")
tw_wait_for "[ -s '$OUT/hold.out' ]" 10 || tw_bail "the idle clients did not connect"
tw_diag "unprivileged user opened $(cat "$OUT/hold.out") connections"
sleep 0.5
still_served "idle connections" bob 51
wait "$HOLD_PID"
read -r nopen nclosed _ <"$OUT/hold.out.closed"
tw_expect "idle connections: all but 8 of the user's $nopen were refused" \
	"$nclosed of $nopen closed within 4 s" eval "[ $((nopen - nclosed)) -le 8 ]"
tw_check "idle connections: the refusals are logged" \
	grep -q 'refused uid 65534 pid [0-9]*: ' "$TW_DIR/daemon.log"

# ---- (c) idle TCP connections to the metrics port
rm -f "$OUT/mhold.out"
ip netns exec "$TW_SRV_NS" "${NOBODY[@]}" "$PY" "$TW_DIR/hold.py" tcp 127.0.0.1:9310 6 10 \
	"$OUT/mhold.out" >"$TW_DIR/mhold.log" 2>&1 &
MHOLD_PID=$!
TW_PIDS+=("$MHOLD_PID")
tw_wait_for "[ -s '$OUT/mhold.out' ]" 10 || tw_bail "the idle metrics clients did not connect"
tw_expect "metrics: 6 idle connections open" "$(cat "$OUT/mhold.out")" \
	eval "[ \"\$(cat '$OUT/mhold.out')\" -eq 6 ]"
sleep 0.5
still_served "idle metrics connections" carol 52
tw_check "metrics: a scrape is still answered" eval 'tw_metrics | grep -q "^tunwarden_sessions "'
wait "$MHOLD_PID"
read -r nopen nclosed last <"$OUT/mhold.out.closed"
tw_expect "metrics: the idle connections were closed after the deadline" \
	"$nclosed of $nopen closed within 10 s, the last after $last s" eval "[ $nclosed -eq $nopen ]"

tw_check "the daemon is still up" timed timeout 10 "$TW_BIN/tunwarden" status
tw_done
