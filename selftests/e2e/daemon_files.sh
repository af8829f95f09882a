#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# An unprivileged local user (setpriv, uid 65534) against the files tunwardend keeps
# (docs/operations.md, "Ownership and modes"; issue 13, items 5-7):
#  - a pin root they created first (bpffs is 1777): the daemon refuses to start, naming path,
#    owner and mode, and pins nothing there; a pin root of the daemon's cannot be emptied by them;
#  - symlinks they plant at <status_file>.tmp and <policy_cache>.tmp in a world-writable directory,
#    and one at the journal path: no file outside is written;
#  - started with umask 000, every file and directory the daemon makes is 0600/0700 (the
#    control socket 0666);
#  - a ban with duration 2^63-1 gets a clear error (the SAN build must not abort), no ban answers
#    a negative `until`; log lines outside journald carry a UTC timestamp.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon.inc"

tw_e2e_init daemon_files
tw_need_cmd python3 setpriv nsenter
[ -x "$TW_BIN/tunwardend" ] || tw_skip_all "build the daemon first (make)"
[ "$(stat -fc %T /sys/fs/bpf 2>/dev/null)" = bpf_fs ] || tw_skip_all "no bpffs on /sys/fs/bpf"
tw_on_cleanup 'tw_daemon_cleanup'

tw_topo_create 0
tw_daemon_setup
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
PUB=$TW_DIR/pub # world-writable and sticky, as /tmp
mkdir -p "$PUB" && chmod 1777 "$PUB"
sed -i "/^\[node\]\$/a status_file = $PUB/status.json\npolicy_cache = $PUB/policy.json" \
	"$TW_DIR/tunwarden.conf"

# start_fg: the daemon in the foreground for at most 15 s (times TW_E2E_SLACK: loading the BPF
# object alone takes ~20 s in a TCG guest), its output in fg.log; the exit status
# is the daemon's (124: still running, which is a failure to refuse).
start_fg() {
	timeout $((15 * TW_E2E_SLACK)) nsenter --net="/run/netns/$TW_SRV_NS" "$TW_BIN/tunwardend" \
		-c "$TW_DIR/tunwarden.conf" </dev/null >"$TW_DIR/fg.log" 2>&1
}
refused() { [ "$1" -ne 0 ] && [ "$1" -ne 124 ]; }

# ---- (1) the attacker creates the pin root first
# On a bpffs mounted 1777 (the kernel's default, as on this host) any user can; on one mounted
# mode=0700 (the unit, the test VMs) nobody can, and root hands the directory over instead: what
# the daemon then finds is the same.
if ! "${NOBODY[@]}" sh -c "umask 022 && mkdir '$TW_D_PINROOT'" 2>/dev/null; then
	tw_diag "bpffs is $(stat -c %a /sys/fs/bpf) here: the attacker's pin root is made by root"
	mkdir -m 0755 "$TW_D_PINROOT" && chown 65534:65534 "$TW_D_PINROOT"
fi
tw_check "attacker's pin root exists" test -d "$TW_D_PINROOT"
start_fg
rc=$?
tw_expect "daemon refuses an attacker-owned pin root" "exit $rc: $(tail -n 3 "$TW_DIR/fg.log")" \
	refused "$rc"
tw_check "the error names path, owner and mode" grep -F \
	"refusing pin root $TW_D_PINROOT: owned by uid 65534 with mode 0755" "$TW_DIR/fg.log"
left=$(ls "$TW_D_PINROOT")
tw_expect "no map was pinned in it" "found: $left" [ -z "$left" ]
rm -rf "$TW_D_PINROOT"

# a root-owned but world-writable one (an admin's `mkdir -m 1777`) is refused as well
mkdir -m 1777 "$TW_D_PINROOT"
start_fg
rc=$?
tw_expect "daemon refuses a 1777 pin root" "exit $rc: $(tail -n 3 "$TW_DIR/fg.log")" \
	refused "$rc"
tw_check "its error names the mode" grep -F \
	"refusing pin root $TW_D_PINROOT: owned by uid 0 with mode 1777" "$TW_DIR/fg.log"
rm -rf "$TW_D_PINROOT"

# ---- (2) a symlink at the journal path: refused, its target never written
echo precious >"$TW_DIR/victim-journal"
ln -s "$TW_DIR/victim-journal" "$TW_DIR/state/journal.db"
start_fg
rc=$?
tw_expect "daemon refuses a symlinked journal" "exit $rc: $(tail -n 3 "$TW_DIR/fg.log")" \
	refused "$rc"
tw_check "the error says it is a symlink" grep -F "journal.db: is a symbolic link" "$TW_DIR/fg.log"
tw_check "the journal's symlink target is untouched" \
	eval "[ \"\$(cat '$TW_DIR/victim-journal')\" = precious ]"
rm -rf "$TW_D_PINROOT" "$TW_DIR/state"

# ---- (3) umask 000, symlinks planted by the attacker at the old temp names of atomic writes
for f in status policy; do
	echo precious >"$TW_DIR/victim-$f"
	"${NOBODY[@]}" ln -s "$TW_DIR/victim-$f" "$PUB/$f.json.tmp"
done
umask 000
tw_daemon_start # makes state/ itself
umask 022
tw_wait_for "[ -f '$PUB/status.json' ] && [ -f '$PUB/policy.json' ]" 10
sleep 2 # a few 1 s ticks, each rewriting status.json
for f in status policy; do
	tw_check "$f: the target of the symlink at $f.json.tmp is untouched" \
		eval "[ \"\$(cat '$TW_DIR/victim-$f')\" = precious ]"
done
mode_is() { # PATH MODE
	local m
	m=$(stat -c %a "$1" 2>&1)
	tw_expect "${1#"$TW_DIR"/} is $2 (daemon started with umask 000)" "it is $m" [ "$m" = "$2" ]
}
mode_is "$TW_DIR/state" 700
for f in state/journal.db state/journal.db-wal state/sessions.db pub/status.json pub/policy.json; do
	mode_is "$TW_DIR/$f" 600
done
mode_is "$TW_DIR/run/ctl.sock" 666
mode_is "$TW_D_PINROOT" 700
mode_is "$TW_D_PINROOT/links" 700

# ---- (4) the attacker cannot empty the daemon's pin root
tw_check "tw1_clients is pinned" test -e "$TW_D_PINROOT/tw1_clients"
"${NOBODY[@]}" rm -f "$TW_D_PINROOT/tw1_clients" 2>/dev/null
tw_check "the attacker could not delete tw1_clients" test -e "$TW_D_PINROOT/tw1_clients"

# ---- (5) ban durations
# ctl REQUEST: one request line as root on the control socket, the reply line on stdout
ctl() {
	python3 - "$TUNWARDEN_SOCKET" "$1" <<-'PY'
	import socket, sys
	s = socket.socket(socket.AF_UNIX)
	s.settimeout(5)
	s.connect(sys.argv[1])
	s.sendall(sys.argv[2].encode() + b"\n")
	buf = b""
	while not buf.endswith(b"\n"):
	    d = s.recv(4096)
	    if not d:
	        break
	    buf += d
	print(buf.decode().strip())
	PY
}
# reply_is REPLY EXPR: the python expression over the reply j is true
reply_is() { [ "$(printf '%s' "$1" | tw_jq "$2" 2>&1)" = True ]; }
huge=9223372036854775807
for who in '"addr":"198.51.100.7"' '"cn":"mallory"'; do
	r=$(ctl "{\"op\":\"ban\",$who,\"duration\":$huge}")
	tw_expect "ban {$who} for 2^63-1 s: a clear error" "$r" \
		reply_is "$r" 'j["ok"] is False and "out of range" in j["error"]'
	r=$(ctl "{\"op\":\"ban\",$who,\"duration\":-5}")
	tw_expect "ban {$who} for -5 s: refused" "$r" reply_is "$r" 'j["ok"] is False'
done
now=$(date +%s)
r=$(ctl '{"op":"ban","addr":"198.51.100.8","duration":315360000}')
tw_expect "a 10-year address ban answers until = now + 10 years" "$r" \
	reply_is "$r" "j['ok'] and abs(j['until'] - $now - 315360000) < 30"
r=$(ctl '{"op":"ban","addr":"198.51.100.9"}')
tw_expect "a default ban answers a positive until" "$r" reply_is "$r" "j['ok'] and j['until'] > $now"
# a subject ban lasts as long as asked; with ban_duration 0 a ban without a duration has no end
r=$(ctl '{"op":"ban","cn":"mallory","duration":600}')
tw_expect "a 600 s subject ban answers until = now + 600" "$r" \
	reply_is "$r" "j['ok'] and abs(j['until'] - $now - 600) < 30"
sed -i 's/^ban_duration = .*/ban_duration = 0/' "$TW_DIR/tunwarden.conf"
tw_check "the config now says ban_duration = 0" grep -qx 'ban_duration = 0' "$TW_DIR/tunwarden.conf"
tw_check "reload with ban_duration = 0" tw_cli reload
r=$(ctl '{"op":"ban","cn":"eve"}')
tw_expect "with ban_duration = 0 a subject ban has no end (until 0), not one already past" \
	"$r" reply_is "$r" "j['ok'] and j['until'] == 0"
tw_check "the daemon still answers status" tw_cli status
tw_check "no sanitizer report in the daemon log" \
	eval "! grep -E 'runtime error|AddressSanitizer|LeakSanitizer' '$TW_DIR/daemon.log'"

# ---- (6) timestamps outside journald
tw_check "daemon log lines start with an ISO 8601 UTC time" eval "grep -Eq \
	'^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z tunwardend: info: ready' \
	'$TW_DIR/daemon.log'"

tw_done
