#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Signed policy from the real portal (docs/protocol.md 5.5, 5.6, 8): the portal signs every
# bundle with its Ed25519 key, the node checks them under [portal] policy_pubkey. A change at the
# portal arrives signed and confirmed; the node restarted with the wrong key refuses the
# portal's bundles with the line of 5.6, keeps its cached policy (stale until confirmed) and
# says why in `tunwarden status`; with the right key again the portal's word wins.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon.inc"
. "$(dirname "$0")/portal.inc"

tw_e2e_init portal_signed
tw_need_cmd python3 openssl
[ -x "$TW_BIN/tunwardend" ] || tw_skip_all "build the daemon first (make)"
tw_on_cleanup tw_daemon_cleanup

tw_topo_create 1
tw_portal_setup
pd=$TW_DIR/portal
openssl genpkey -algorithm ed25519 -out "$pd/policy.key" 2>/dev/null &&
	openssl pkey -in "$pd/policy.key" -pubout -out "$pd/policy.pub" &&
	openssl genpkey -algorithm ed25519 -out "$pd/other.key" 2>/dev/null &&
	openssl pkey -in "$pd/other.key" -pubout -out "$pd/other.pub" ||
	tw_bail "openssl could not make Ed25519 keys"
printf '[policy]\nsigning_key = %s\n' "$pd/policy.key" >>"$pd/portal.conf"
TW_PORTAL_LINES="$TW_PORTAL_LINES
policy_pubkey = $pd/policy.pub"
tw_daemon_setup
tw_portal_start
tw_daemon_start

pstatus() { tw_cli --json status | tw_jq "$1"; }
portal_version() { tw_padmin policy show | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])'; }
node_version() { pstatus "j['policy']['version']"; }

tw_check "the node takes the portal's signed policy" \
	tw_wait_for "[ \"\$(pstatus \"j['policy']['source']\")\" = portal ]" 10
tw_check "... at the portal's version" eval '[ "$(node_version)" = "$(portal_version)" ]'
tw_check "... confirmed" eval '[ "$(pstatus "j['"'"'policy'"'"']['"'"'confirmed'"'"']")" = True ]'

tw_padmin subject revoke cn:alice >/dev/null
tw_check "a revocation at the portal arrives signed" \
	tw_wait_for '[ "$(node_version)" = "$(portal_version)" ]' 5
v_good=$(node_version)

# the wrong key: the portal's next bundle is refused, the policy in force stays
tw_daemon_kill9
sed -i "s#^policy_pubkey = .*#policy_pubkey = $pd/other.pub#" "$TW_DIR/tunwarden.conf"
tw_daemon_start
tw_check "after a cold start the cached policy is in force" eval '[ "$(node_version)" = "$v_good" ]'
tw_check "... and the link is up" \
	tw_wait_for "[ \"\$(pstatus \"j['portal']['connected']\")\" = True ]" 10
tw_padmin subject disable cn:bob >/dev/null
tw_check "with the wrong key the portal's bundle is refused (protocol.md 5.6)" \
	tw_wait_for "grep -q 'portal policy version [0-9]*: bad signature (policy_pubkey $pd/other.pub); keeping version $v_good' '$TW_DIR/daemon.log'" 10
tw_check "the policy in force stays" eval '[ "$(node_version)" = "$v_good" ]'
tw_check "status shows the refusal" \
	eval 'pstatus "j['"'"'policy'"'"'].get('"'"'refused'"'"', '"'"''"'"')" | grep -q "bad signature"'

# the right key again: the portal's word wins
tw_daemon_kill9
sed -i "s#^policy_pubkey = .*#policy_pubkey = $pd/policy.pub#" "$TW_DIR/tunwarden.conf"
tw_daemon_start
tw_check "with the right key the portal's newer policy is taken" \
	tw_wait_for '[ "$(node_version)" = "$(portal_version)" ] && [ "$(node_version)" != "$v_good" ]' 10
tw_check "... confirmed, and the refusal is gone from status" \
	eval '[ "$(pstatus "(j['"'"'policy'"'"']['"'"'confirmed'"'"'], j['"'"'policy'"'"'].get('"'"'refused'"'"', '"'"''"'"'))")" = "(True, '"'"''"'"')" ]'

tw_done
