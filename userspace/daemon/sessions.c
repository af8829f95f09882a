// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "adapter.h"
#include "daemon.h"
#include "journal.h"
#include "log.h"
#include "portal.h"
#include "sessdb.h"
#include "sessions.h"
#include "tw_dp.h"

void tw_sess_save(struct tw_daemon *d, const struct tw_session *s)
{
	int err = tw_sessdb_put(d->sdb, s);

	if (err)
		tw_err("session table: cannot store %s: %s (a restart would forget it)", s->subject,
		       tw_sessdb_errstr(d->sdb));
}

static int restore_one(const struct tw_session *s, void *ctx)
{
	struct tw_daemon *d = ctx;
	struct tw_slot sl;
	int err;

	/* only what the pinned dataplane still holds is live */
	if (tw_dp_slot_read(d->dp, s->slot, &sl) || sl.state == TW_STATE_FREE) {
		tw_sessdb_del(d->sdb, s->slot);
		return -ENOENT;
	}
	err = tw_sessions_restore(d->ss, s);
	if (err) {
		tw_warn("session table: slot %u (%s) not restored: %s", s->slot, s->subject,
			strerror(-err));
		return err;
	}
	return 0;
}

void tw_sess_restore(struct tw_daemon *d)
{
	int n = tw_sessdb_load(d->sdb, restore_one, d);

	if (n < 0)
		tw_err("session table: %s", tw_sessdb_errstr(d->sdb));
	else if (n)
		tw_info("restored %d live sessions from the session table", n);
}

void tw_sess_counters(struct tw_daemon *d, struct tw_session *s)
{
	struct tw_client_ctr c;

	if (tw_dp_counters_read(d->dp, s->slot, 1, &c))
		return;
	if (c.from_bytes >= s->last.from_bytes && c.to_bytes >= s->last.to_bytes)
		s->last = c;
}

void tw_sess_record(const struct tw_session *s, uint32_t kind, bool counters, struct tw_record *r)
{
	const struct tw_client_ctr *c = &s->last;
	struct timespec ts;

	memset(r, 0, sizeof(*r));
	clock_gettime(CLOCK_REALTIME, &ts);
	r->time_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	r->kind = kind;
	snprintf(r->session, sizeof(r->session), "%s", s->id);
	snprintf(r->subject, sizeof(r->subject), "%s", s->subject);
	snprintf(r->tenant, sizeof(r->tenant), "%s", s->tenant);
	snprintf(r->profile, sizeof(r->profile), "%s", s->profile);
	for (int i = 0; i < s->client.naddrs; i++) {
		if (s->client.addrs[i].family == TW_FAM_V4) {
			r->has_tun4 = true;
			memcpy(r->tun4, s->client.addrs[i].addr, 4);
		} else {
			r->has_tun6 = true;
			memcpy(r->tun6, s->client.addrs[i].addr, 16);
		}
	}
	r->real_family = s->real_family;
	memcpy(r->real_addr, s->real_addr, 16);
	r->real_port = s->real_port;
	r->policy_version = s->policy_version;
	if (!counters)
		return;
	r->has_counters = true;
	r->ctr.from_bytes = c->from_bytes;
	r->ctr.from_pkts = c->from_pkts;
	r->ctr.to_bytes = c->to_bytes;
	r->ctr.to_pkts = c->to_pkts;
	r->ctr.drop_bytes = c->drop_bytes;
	for (int i = 0; i < TW_DROP__MAX; i++) {
		r->ctr.drops[i] = c->drops[i];
		r->ctr.drop_pkts += c->drops[i];
	}
}

int tw_sess_journal(struct tw_daemon *d, struct tw_record *r, bool durable)
{
	int err = tw_journal_append(d->jr, r, durable);

	if (err)
		tw_err("journal: %s record for %s: %s", tw_record_kind_name(r->kind), r->subject,
		       tw_journal_errstr(d->jr));
	else if (durable)
		tw_portal_records_ready(d);
	return err;
}

void tw_sess_end(struct tw_daemon *d, struct tw_session *s, uint32_t cause, bool kill)
{
	const struct tw_adapter *ad = tw_adapter_by_kind(s->kind);
	struct tw_record r;

	/* stop traffic first, then account, then tell the VPN stack */
	tw_dp_client_set_state(d->dp, s->slot, TW_STATE_BANNED);
	tw_sess_counters(d, s);
	tw_sess_record(s, TW_REC_DISCONNECT, true, &r);
	r.term_cause = cause;
	tw_sess_journal(d, &r, true);
	tw_dp_client_remove(d->dp, &s->client);
	if (ad && ad->session_ended)
		ad->session_ended(d, s, cause);
	if (kill && ad && ad->kill)
		/* unconfirmed: may come back (and count towards a ban); else stop */
		ad->kill(d, s, cause != TW_TERM_SESSION_TIMEOUT);
	tw_sessdb_del(d->sdb, s->slot);
	tw_sessions_del(d->ss, s);
}

void tw_sess_preempt(struct tw_daemon *d, struct tw_session *old, const struct tw_conn_req *r)
{
	bool same_peer = !strcmp(old->ifname, r->ifname) && old->real_family == r->real_family &&
			 !memcmp(old->real_addr, r->real_addr, 16) &&
			 old->real_port == r->real_port;

	if (!same_peer)
		tw_info("subject %s: new session on %s, ending the one on %s (preempted)",
			old->subject, r->ifname, old->ifname);
	tw_sess_end(d, old, TW_TERM_PORT_PREEMPTED, !same_peer);
}

static bool holds_addr(const struct tw_session *s, const struct tw_addr *a)
{
	for (int i = 0; i < s->client.naddrs; i++)
		if (s->client.addrs[i].family == a->family &&
		    !memcmp(s->client.addrs[i].addr, a->addr, 16))
			return true;
	return false;
}

int tw_sess_reclaim_stale(struct tw_daemon *d, const struct tw_conn_req *r)
{
	const struct tw_adapter *ad = tw_adapter_by_kind(r->kind);
	uint32_t nslots = tw_sessions_nslots(d->ss);
	int n = 0;

	if (!ad || !ad->reclaims_addresses || !r->ntun)
		return 0;
	for (uint32_t slot = 0; slot < nslots; slot++) {
		struct tw_session *s = tw_sessions_by_slot(d->ss, slot);
		char a[INET6_ADDRSTRLEN] = "";
		int i;

		if (!s || s->kind != r->kind || strcmp(s->ifname, r->ifname))
			continue;
		for (i = 0; i < r->ntun && !holds_addr(s, &r->tun[i]); i++)
			;
		if (i == r->ntun)
			continue;
		inet_ntop(r->tun[i].family == TW_FAM_V4 ? AF_INET : AF_INET6, r->tun[i].addr, a,
			  sizeof(a));
		tw_warn("connect %s on %s: %s was %s's (slot %u), which %s no longer has: "
			"ending that session",
			r->subject, r->ifname, a, s->subject, s->slot, ad->name);
		/* no kill: the stack gave its address away, so the client is gone */
		tw_sess_end(d, s, TW_TERM_VPN_GONE, false);
		n++;
	}
	return n;
}
