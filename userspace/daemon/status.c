// SPDX-License-Identifier: GPL-2.0-only
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adapter.h"
#include "admission.h"
#include "daemon.h"
#include "fileio.h"
#include "journal.h"
#include "links.h"
#include "log.h"
#include "policy.h"
#include "policysrc.h"
#include "portal.h"
#include "status.h"

/*
 * The flat members are what the first clients read; the nested "policy",
 * "portal" and "journal" objects are the shapes of docs/ctl-protocol.md.
 * There is no portal link yet: "portal" says so rather than being absent.
 */
/* The age counts from the last confirmation by the portal (or the file's read): protocol.md 8. */
static void status_policy(struct tw_daemon *d, json_t *pol)
{
	if (!json_is_object(pol))
		return;
	json_object_set_new(pol, "confirmed", json_boolean(d->pol_loaded != 0));
	if (d->pol_refused[0])
		json_object_set_new(pol, "refused", json_string(d->pol_refused));
}

static json_t *status_node(struct tw_daemon *d)
{
	struct tw_journal_stats st = {};
	uint64_t connects, denied;
	json_int_t version = (json_int_t)(d->pol ? tw_policy_version(d->pol) : 0);
	json_int_t age = (json_int_t)(time(NULL) - d->pol_loaded);
	bool stale = !d->pol_loaded || (uint64_t)age > d->cfg.offline_grace_s;

	tw_journal_stats(d->jr, &st);
	tw_adm_counts(d, &connects, &denied);
	return json_pack("{s:b,s:s,s:I,s:I,s:i,s:I,s:I,s:I,s:s,s:I,"
			 "s:{s:I,s:I,s:s,s:b,s:s},s:{s:s,s:b},s:{s:s,s:I,s:I,s:I,s:I}}",
			 "ok", 1, "node", d->node, "policy_version", version, "policy_age", age,
			 "sessions", (int)tw_sessions_count(d->ss), "journal_last_seq",
			 (json_int_t)st.last_seq, "connects", (json_int_t)connects, "denied",
			 (json_int_t)denied, "log_id", tw_journal_log_id(d->jr), "uptime",
			 (json_int_t)(time(NULL) - d->started), "policy", "version", version, "age",
			 age, "source", tw_polsrc_name(d), "stale", stale, "offline_mode",
			 d->cfg.offline_mode == TW_OFFLINE_SANDBOX ? "sandbox" : "known-only",
			 "portal", "state", "not configured", "connected", 0, "journal", "log_id",
			 tw_journal_log_id(d->jr), "last_seq", (json_int_t)st.last_seq, "acked_seq",
			 (json_int_t)st.acked_seq, "bytes", (json_int_t)st.used_bytes, "dropped",
			 (json_int_t)st.dropped);
}

/* With each tunnel's attach state (an operator's detach must not go unnoticed) and each VPN
 * stack's own state, e.g. OpenVPN's undelivered management commands. */
json_t *tw_status_json(struct tw_daemon *d)
{
	json_t *o = status_node(d), *vpn, *portal;

	if (!o)
		return NULL;
	status_policy(d, json_object_get(o, "policy"));
	if ((portal = tw_portal_status_json(d)))
		json_object_set_new(o, "portal", portal);
	json_object_set_new(o, "tunnels", tw_links_json(d));
	if ((vpn = tw_adapters_status(d)))
		json_object_set_new(o, "vpn", vpn);
	return o;
}

void tw_status_write(struct tw_daemon *d)
{
	json_t *st;
	char *txt;

	if (!d->cfg.status_path[0])
		return;
	st = tw_status_json(d);
	if (!st)
		return;
	json_object_set_new(st, "updated", json_integer((json_int_t)time(NULL)));
	txt = json_dumps(st, JSON_INDENT(2));
	json_decref(st);
	if (!txt || tw_write_atomic(d->cfg.status_path, txt, strlen(txt)))
		tw_dbg("status file %s: cannot write", d->cfg.status_path);
	free(txt);
}
