// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ifaddrs.h>
#include <arpa/inet.h>
#include <net/if.h>

#include "adapter.h"
#include "admission.h"
#include "ctl.h"
#include "daemon.h"
#include "hookenv.h"
#include "journal.h"
#include "log.h"
#include "sessions.h"
#include "tw_utf8.h"

#define MAX_ATTEMPTS 4096 /* subjects remembered for bans and local confirmations */

/* The node's own memory of unconfirmed attempts and bans, per subject. */
struct attempt {
	char subject[TW_REC_SUBJECT_MAX];
	time_t times[16];
	uint32_t n;
	time_t banned_until;
	bool confirmed; /* confirmed on this node (tunwarden confirm) */
	uint8_t real_family, real_addr[16];
};

struct tw_admission {
	struct attempt att[MAX_ATTEMPTS];
	uint32_t natt;
	uint64_t nconnect, ndeny;
	uint64_t nrefused, nexpired; /* tw_adm_check() */
};

#define IFADDRS_MAX 32
#define ESC_MAX	    64 /* request bytes quoted in a log line */
#define ESC_BUF	    (ESC_MAX * 4 + 4)

struct tw_admission *tw_adm_new(void)
{
	return calloc(1, sizeof(struct tw_admission));
}

void tw_adm_free(struct tw_admission *a)
{
	free(a);
}

void tw_adm_counts(const struct tw_daemon *d, uint64_t *connects, uint64_t *denied)
{
	*connects = d->adm->nconnect;
	*denied = d->adm->ndeny;
}

void tw_adm_hook_counts(const struct tw_daemon *d, uint64_t *refused, uint64_t *expired)
{
	*refused = d->adm->nrefused;
	*expired = d->adm->nexpired;
}

/* @s for a log line: one line, bounded, whatever the request held. */
static const char *esc(char *buf, const char *s)
{
	return tw_utf8_escape(buf, ESC_BUF, s, strlen(s), ESC_MAX);
}

static const char *addr_str(char *buf, size_t len, uint8_t family, const uint8_t *addr)
{
	if (!inet_ntop(family == TW_FAM_V4 ? AF_INET : AF_INET6, addr, buf, len))
		snprintf(buf, len, "?");
	return buf;
}

/* The addresses of @ifname and their prefix lengths (at most @max); -errno. */
static int if_addrs(const char *ifname, struct tw_hook_ifaddr *out, int max)
{
	struct ifaddrs *ifa, *i;
	int n = 0;

	if (getifaddrs(&ifa))
		return -errno;
	for (i = ifa; i && n < max; i = i->ifa_next) {
		const uint8_t *a, *m;
		size_t len;
		int plen = 0;

		if (!i->ifa_addr || !i->ifa_netmask || strcmp(i->ifa_name, ifname))
			continue;
		if (i->ifa_addr->sa_family == AF_INET) {
			a = (const uint8_t *)&((struct sockaddr_in *)i->ifa_addr)->sin_addr;
			m = (const uint8_t *)&((struct sockaddr_in *)i->ifa_netmask)->sin_addr;
			len = 4;
			out[n].addr.family = TW_FAM_V4;
		} else if (i->ifa_addr->sa_family == AF_INET6) {
			a = (const uint8_t *)&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
			m = (const uint8_t *)&((struct sockaddr_in6 *)i->ifa_netmask)->sin6_addr;
			len = 16;
			out[n].addr.family = TW_FAM_V6;
		} else {
			continue;
		}
		memset(out[n].addr.addr, 0, 16);
		memcpy(out[n].addr.addr, a, len);
		for (size_t k = 0; k < len; k++)
			plen += __builtin_popcount(m[k]);
		out[n++].plen = (uint8_t)plen;
	}
	freeifaddrs(ifa);
	return n;
}

/* The live session whose dataplane client holds @a; NULL if none. */
static struct tw_session *session_at(struct tw_daemon *d, const struct tw_addr *a)
{
	for (uint32_t slot = 0; slot < tw_sessions_nslots(d->ss); slot++) {
		struct tw_session *s = tw_sessions_by_slot(d->ss, slot);

		if (!s)
			continue;
		for (int i = 0; i < s->client.naddrs; i++)
			if (s->client.addrs[i].family == a->family &&
			    !memcmp(s->client.addrs[i].addr, a->addr, 16))
				return s;
	}
	return NULL;
}

bool tw_adm_holder_gone(struct tw_daemon *d, const struct tw_session *holder)
{
	const struct tw_adapter *ad = tw_adapter_by_kind(holder->kind);

	/*
	 * A session admitted while this daemon ran has its disconnect reported by
	 * the hook: another client at its address is a forgery. One re-adopted at
	 * start may have ended while the daemon was down (a ghost): a stack that
	 * never gives a live client's address away has reclaimed it
	 * (tw_sess_reclaim_stale() ends it in tw_adm_connect()).
	 */
	return ad && ad->reclaims_addresses && holder->started < d->started;
}

/* What the kernel's dev_valid_name() accepts, as hookenv's parse_dev(). */
static bool ifname_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || n >= IFNAMSIZ || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f || s[i] == '/' ||
		    s[i] == ':')
			return false;
	return true;
}

static int check_addrs(struct tw_daemon *d, const struct tw_conn_req *r, const char *names,
		       char *err, size_t errlen)
{
	struct tw_hook_ifaddr ifa[IFADDRS_MAX];
	char a[INET6_ADDRSTRLEN];
	int n;

	if (!if_nametoindex(r->ifname))
		return 0; /* tw_adm_connect() answers "unknown interface" */
	n = if_addrs(r->ifname, ifa, IFADDRS_MAX);
	if (n < 0) {
		snprintf(err, errlen, "%s: cannot read its addresses: %s", r->ifname, strerror(-n));
		return -EINVAL;
	}
	for (int i = 0; i < r->ntun; i++) {
		const struct tw_addr *t = &r->tun[i];
		const struct tw_session *holder;

		if (tw_hook_check_pool(t->family == TW_FAM_V4 ? "pool_ip" : "pool_ip6", t, ifa,
				       (size_t)n, err, errlen))
			return -EINVAL;
		/* The same subject's old session is preempted by tw_adm_connect(). */
		holder = session_at(d, t);
		if (holder && strcmp(holder->subject, r->subject) &&
		    !tw_adm_holder_gone(d, holder)) {
			snprintf(err, errlen,
				 "%s: %s belongs to the live session of another client "
				 "(slot %u)",
				 names, addr_str(a, sizeof(a), t->family, t->addr), holder->slot);
			return -EINVAL;
		}
	}
	return 0;
}

static int check_request(struct tw_daemon *d, const struct tw_conn_req *r, bool connect, char *err,
			 size_t errlen)
{
	const struct tw_adapter *ad = tw_adapter_by_kind(r->kind);
	const char *names = ad ? ad->tun_addr_names : "tunnel address";
	char q[ESC_BUF];
	int ret;

	ret = tw_hook_check_name("common_name", r->subject, strlen(r->subject), err, errlen);
	if (ret)
		return ret;
	if (!ifname_ok(r->ifname)) {
		snprintf(err, errlen, "dev: not an interface name: '%s'", esc(q, r->ifname));
		return -EINVAL;
	}
	if (!r->real_family) {
		snprintf(err, errlen,
			 "trusted_ip: missing (neither trusted_ip nor trusted_ip6 is set)");
		return -EINVAL;
	}
	if (!r->real_port) {
		snprintf(err, errlen, "trusted_port: missing");
		return -EINVAL;
	}
	if (!r->ntun) {
		snprintf(err, errlen, "%s: missing (no tunnel address)", names);
		return -EINVAL;
	}
	return connect ? check_addrs(d, r, names, err, errlen) : 0;
}

int tw_adm_refuse(struct tw_daemon *d, const struct tw_conn_req *r, bool connect, const char *why,
		  char *err, size_t errlen)
{
	const char *op = connect ? "connect" : "disconnect";
	char q[ESC_BUF], msg[512];

	snprintf(msg, sizeof(msg), "%s", why); /* @why may be @err */
	d->adm->nrefused++;
	snprintf(err, errlen, "%s refused: %s", op, msg);
	tw_warn("hook request refused: %s %s on %s: %s", op, esc(q, r->subject ? r->subject : ""),
		r->ifname && ifname_ok(r->ifname) ? r->ifname : "(bad dev)", msg);
	return -EINVAL;
}

int tw_adm_check(struct tw_daemon *d, const struct tw_conn_req *r, bool connect, char *err,
		 size_t errlen)
{
	char q[ESC_BUF], msg[512];
	int64_t late;

	/* Past its deadline the hook has already refused the client (fail-closed): admitting it
	 * now would show a session OpenVPN never started. A disconnect reports a fact that
	 * stays true, so it is applied however late. */
	if (connect && r->deadline_ms && (late = tw_ctl_now_ms() - r->deadline_ms) > 0) {
		d->adm->nexpired++;
		snprintf(msg, sizeof(msg),
			 "the hook's deadline passed %lld ms ago: dropped, not applied",
			 (long long)late);
		snprintf(err, errlen, "connect: %s", msg);
		tw_warn("connect %s: %s", esc(q, r->subject), msg);
		return -ETIME;
	}
	if (!check_request(d, r, connect, msg, sizeof(msg)))
		return 0;
	return tw_adm_refuse(d, r, connect, msg, err, errlen);
}

/* The end of a subject ban of @secs from @now; 0 s means until unbanned (ban_duration 0). */
static time_t ban_end(time_t now, uint64_t secs)
{
	return secs ? now + (time_t)secs : TW_BANNED_FOREVER;
}

static struct attempt *attempt_get(struct tw_admission *adm, const char *subject, bool create)
{
	for (uint32_t i = 0; i < adm->natt; i++)
		if (!strcmp(adm->att[i].subject, subject))
			return &adm->att[i];
	if (!create || adm->natt >= MAX_ATTEMPTS)
		return NULL;
	memset(&adm->att[adm->natt], 0, sizeof(adm->att[0]));
	snprintf(adm->att[adm->natt].subject, sizeof(adm->att[0].subject), "%s", subject);
	return &adm->att[adm->natt++];
}

/* An unconfirmed sandbox session ended: N of them in the window ban the
 * subject and its real source address (uplink XDP). */
static void note_unconfirmed(struct tw_daemon *d, const struct tw_session *s)
{
	struct attempt *a = attempt_get(d->adm, s->subject, true);
	time_t now = time(NULL);
	uint32_t recent = 0;
	struct tw_record r;

	if (!a || !d->cfg.ban_threshold)
		return;
	a->times[a->n++ % 16] = now;
	a->real_family = s->real_family;
	memcpy(a->real_addr, s->real_addr, 16);
	for (uint32_t i = 0; i < 16 && i < a->n; i++)
		if (now - a->times[i] <= (time_t)d->cfg.ban_window_s)
			recent++;
	if (recent < d->cfg.ban_threshold)
		return;
	a->banned_until = ban_end(now, d->cfg.ban_duration_s);
	a->n = 0;
	if (a->real_family) {
		struct tw_addr ra = { .family = a->real_family };

		memcpy(ra.addr, a->real_addr, 16);
		if (tw_dp_ban_add(d->dp, &ra, a->real_family == TW_FAM_V4 ? 32 : 128,
				  d->cfg.ban_duration_s * 1000000000ull))
			tw_err("ban of %s's source: %s", s->subject, tw_dp_errstr(d->dp));
	}
	tw_sess_record(s, TW_REC_BAN, false, &r);
	snprintf(r.detail, sizeof(r.detail), "%u unconfirmed attempts in %llu s: banned for %llu s",
		 recent, (unsigned long long)d->cfg.ban_window_s,
		 (unsigned long long)d->cfg.ban_duration_s);
	tw_sess_journal(d, &r, true);
	tw_warn("subject %s banned for %llu s after %u unconfirmed attempts", s->subject,
		(unsigned long long)d->cfg.ban_duration_s, recent);
}

static void decide(struct tw_daemon *d, const struct tw_conn_req *r, struct tw_decision *dec)
{
	struct attempt *a = attempt_get(d->adm, r->subject, false);
	time_t now = time(NULL);

	tw_decide(d->pol, &d->cfg, r->kind, r->subject, r->ifname, (uint64_t)(now - d->pol_loaded),
		  now, a ? a->banned_until : 0, dec);
	/* OpenVPN ends a sandboxed session at its session-timeout even after a
	 * local confirmation; the reconnect must then be admitted as confirmed */
	if (dec->verdict == TW_VERDICT_SANDBOX && a && a->confirmed && !dec->offline) {
		dec->verdict = TW_VERDICT_PERMIT;
		snprintf(dec->reason, sizeof(dec->reason), "confirmed locally");
	}
}

/* A new session for @r admitted by @dec, not yet in the dataplane. */
static void session_fill(struct tw_daemon *d, struct tw_session *s, const struct tw_conn_req *r,
			 int ifindex, const struct tw_decision *dec)
{
	const struct tw_tenant *t = tw_policy_tenant_by_num(d->pol, dec->tenant);
	const struct tw_profile *p = tw_policy_profile_by_num(d->pol, dec->profile);
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	/* node-unique: time of connect and slot; the node is in every record */
	snprintf(s->id, sizeof(s->id), "%lx%05lx-%u", (long)ts.tv_sec, ts.tv_nsec / 10000, s->slot);
	s->kind = r->kind;
	snprintf(s->ifname, sizeof(s->ifname), "%s", r->ifname);
	s->ifindex = ifindex;
	s->started = time(NULL);
	s->last_interim = s->started;
	s->policy_version = dec->policy_version;
	s->state = dec->verdict == TW_VERDICT_SANDBOX ? TW_STATE_SANDBOX : TW_STATE_PERMIT;
	if (dec->verdict == TW_VERDICT_SANDBOX)
		s->confirm_deadline = s->started + (time_t)dec->confirm_timeout_s;
	snprintf(s->tenant, sizeof(s->tenant), "%s", t ? t->node.id : "");
	snprintf(s->profile, sizeof(s->profile), "%s", p ? p->node.id : "");
	s->real_family = r->real_family;
	memcpy(s->real_addr, r->real_addr, 16);
	s->real_port = r->real_port;
	s->client = (struct tw_client){ .slot = s->slot,
					.ifindex = ifindex,
					.tenant = dec->tenant,
					.profile = dec->profile,
					.state = s->state };
	for (int i = 0; i < r->ntun && i < 2; i++)
		s->client.addrs[s->client.naddrs++] = r->tun[i];
}

/* Admitted by the policy but not installable: "@why: @detail". */
static void refuse(struct tw_decision *dec, const char *why, const char *detail)
{
	dec->verdict = TW_VERDICT_DENY;
	snprintf(dec->reason, sizeof(dec->reason), "%s: %s", why, detail);
}

/*
 * docs/protocol.md 8: a connect decided in offline mode (the policy not
 * confirmed within offline_grace) leaves a decision record naming the
 * version it used and why, so the portal sees what was let in while it
 * was away.
 */
static void offline_decision(struct tw_daemon *d, const struct tw_conn_req *r,
			     const struct tw_decision *dec)
{
	struct tw_record rec = { .kind = TW_REC_DECISION };
	char age[48];

	if (!dec->offline)
		return;
	snprintf(rec.subject, sizeof(rec.subject), "%s", r->subject);
	rec.real_family = r->real_family;
	memcpy(rec.real_addr, r->real_addr, 16);
	rec.real_port = r->real_family ? r->real_port : 0;
	rec.policy_version = dec->policy_version;
	if (d->pol_loaded)
		snprintf(age, sizeof(age), "age %lld s", (long long)(time(NULL) - d->pol_loaded));
	else
		snprintf(age, sizeof(age), "never confirmed");
	snprintf(rec.detail, sizeof(rec.detail),
		 "%s: policy stale (%s, version %llu): offline mode %s",
		 dec->verdict == TW_VERDICT_DENY ? "refused" : "admitted", age,
		 (unsigned long long)dec->policy_version,
		 d->cfg.offline_mode == TW_OFFLINE_SANDBOX ? "sandbox" : "known-only");
	tw_sess_journal(d, &rec, false);
}

int tw_adm_connect(struct tw_daemon *d, const struct tw_conn_req *r, struct tw_decision *dec,
		   const struct tw_session **out)
{
	const struct tw_adapter *ad = tw_adapter_by_kind(r->kind);
	struct tw_session *s, *old;
	struct tw_record rec;
	int ifindex = (int)if_nametoindex(r->ifname);

	*out = NULL;
	if (!ifindex)
		return -ENODEV;
	decide(d, r, dec);
	d->adm->nconnect++;
	if (dec->verdict == TW_VERDICT_DENY) {
		d->adm->ndeny++;
		offline_decision(d, r, dec);
		tw_info("connect %s on %s: deny (%s, policy %llu)", r->subject, r->ifname,
			dec->reason, (unsigned long long)dec->policy_version);
		return 0;
	}
	old = tw_sessions_find(d->ss, r->subject);
	if (old)
		tw_sess_preempt(d, old, r);
	tw_sess_reclaim_stale(d, r);
	s = tw_sessions_add(d->ss, r->subject);
	if (!s) {
		refuse(dec, "no free session slot", strerror(errno));
		return 0;
	}
	session_fill(d, s, r, ifindex, dec);
	if (!s->client.naddrs) {
		tw_sessions_del(d->ss, s);
		return -EDESTADDRREQ;
	}
	if (tw_dp_client_add(d->dp, &s->client)) {
		tw_err("connect %s: %s", r->subject, tw_dp_errstr(d->dp));
		tw_sessions_del(d->ss, s);
		refuse(dec, "dataplane", tw_dp_errstr(d->dp));
		return 0;
	}
	if (ad && ad->program_peer && ad->program_peer(d, s)) {
		tw_dp_client_remove(d->dp, &s->client);
		tw_sessions_del(d->ss, s);
		refuse(dec, ad->name, "cannot program the peer");
		return 0;
	}
	/* durable before the VPN stack hears the answer */
	tw_sess_record(s, TW_REC_CONNECT, false, &rec);
	snprintf(rec.detail, sizeof(rec.detail), "%s: %s", tw_verdict_name(dec->verdict),
		 dec->reason);
	if (tw_sess_journal(d, &rec, true)) {
		tw_dp_client_remove(d->dp, &s->client);
		tw_sessions_del(d->ss, s);
		return -EIO;
	}
	tw_sess_save(d, s);
	offline_decision(d, r, dec);
	tw_info("connect %s on %s slot %u: %s (%s, policy %llu)", r->subject, r->ifname, s->slot,
		tw_verdict_name(dec->verdict), dec->reason,
		(unsigned long long)dec->policy_version);
	if (ad && ad->session_started)
		ad->session_started(d, s);
	*out = s;
	return 0;
}

/* Whether @r names @s: same real address and port, same tunnel addresses. */
static bool session_named(const struct tw_session *s, const struct tw_conn_req *r, char *why,
			  size_t len)
{
	int found = 0;

	/* sessions restored from before real addresses were kept carry none */
	if (s->real_family &&
	    (r->real_family != s->real_family || memcmp(r->real_addr, s->real_addr, 16) ||
	     r->real_port != s->real_port)) {
		snprintf(why, len, "trusted address or port differ");
		return false;
	}
	for (int i = 0; i < r->ntun; i++)
		for (int k = 0; k < s->client.naddrs; k++)
			found += r->tun[i].family == s->client.addrs[k].family &&
				 !memcmp(r->tun[i].addr, s->client.addrs[k].addr, 16);
	if (found != r->ntun || r->ntun != s->client.naddrs) {
		snprintf(why, len, "tunnel addresses differ");
		return false;
	}
	return true;
}

enum tw_disconnect_result tw_adm_disconnect(struct tw_daemon *d, const struct tw_conn_req *r)
{
	struct tw_session *s = tw_sessions_find(d->ss, r->subject);
	uint32_t cause = TW_TERM_USER_REQUEST;
	char why[128];

	if (!s)
		return TW_DISC_NO_SESSION;
	/*
	 * A stack may report the end of a connection it never admitted (OpenVPN
	 * runs client-disconnect after a refused client-connect), a replaced
	 * session's disconnect may come late, and anyone sharing the hook's uid may
	 * forge one: only the disconnect naming the live session's own peer and
	 * tunnel addresses ends it.
	 */
	if (!session_named(s, r, why, sizeof(why))) {
		char q[ESC_BUF], a[INET6_ADDRSTRLEN];

		tw_warn("disconnect %s from %s port %u: not the live session (%s), ignored",
			esc(q, r->subject), addr_str(a, sizeof(a), r->real_family, r->real_addr),
			r->real_port, why);
		return TW_DISC_NOT_PEER;
	}
	/* the stack's own session-timeout (written by the hook) may beat our tick */
	if (s->state == TW_STATE_SANDBOX && s->confirm_deadline &&
	    time(NULL) + 2 >= s->confirm_deadline) {
		cause = TW_TERM_SESSION_TIMEOUT;
		/* Only an attempt that ran out its confirmation time counts toward a ban: a
		 * connect/disconnect pair, forged or not, cannot get a source banned at once. */
		note_unconfirmed(d, s);
	}
	tw_sess_end(d, s, cause, false);
	return TW_DISC_ENDED;
}

void tw_adm_policy_changed(struct tw_daemon *d)
{
	for (uint32_t slot = 0; slot < tw_sessions_nslots(d->ss); slot++) {
		struct tw_session *s = tw_sessions_by_slot(d->ss, slot);
		const struct tw_subject *sub;

		if (!s)
			continue;
		sub = tw_policy_subject(d->pol, s->kind, s->subject);
		if (!sub || sub->state == TW_SUBJ_DISABLED || sub->state == TW_SUBJ_REVOKED ||
		    !tw_subject_has_profile(sub, s->client.profile)) {
			tw_info("subject %s: no longer allowed by policy %llu, ending its session",
				s->subject, (unsigned long long)tw_policy_version(d->pol));
			tw_sess_end(d, s, TW_TERM_ADMIN_RESET, true);
			continue;
		}
		if (sub->state == TW_SUBJ_ENABLED && s->state == TW_STATE_SANDBOX) {
			if (!tw_dp_client_set_state(d->dp, s->slot, TW_STATE_PERMIT)) {
				s->state = TW_STATE_PERMIT;
				s->confirm_deadline = 0;
				tw_sess_save(d, s);
				tw_info("subject %s: confirmed, sandbox -> permit", s->subject);
			}
		}
	}
}

void tw_adm_portal_spoke(struct tw_daemon *d)
{
	/* docs/protocol.md 8: the portal's word wins over `tunwarden confirm`: a subject
	 * confirmed here is decided by the portal's state at its next connect (live
	 * sessions keep what they have) */
	for (uint32_t i = 0; i < d->adm->natt; i++)
		d->adm->att[i].confirmed = false;
}

void tw_adm_tick(struct tw_daemon *d)
{
	time_t now = time(NULL);

	for (uint32_t slot = 0; slot < tw_sessions_nslots(d->ss); slot++) {
		struct tw_session *s = tw_sessions_by_slot(d->ss, slot);
		struct tw_record r;

		if (!s)
			continue;
		if (s->confirm_deadline && now >= s->confirm_deadline) {
			tw_info("subject %s: not confirmed in time, disconnecting", s->subject);
			note_unconfirmed(d, s);
			tw_sess_end(d, s, TW_TERM_SESSION_TIMEOUT, true);
			continue;
		}
		if (d->cfg.interim_interval_s &&
		    now - s->last_interim >= (time_t)d->cfg.interim_interval_s) {
			tw_sess_counters(d, s);
			tw_sess_record(s, TW_REC_INTERIM, true, &r);
			tw_sess_journal(d, &r, false);
			s->last_interim = now;
		}
	}
}

int tw_adm_kill(struct tw_daemon *d, const char *subject)
{
	struct tw_session *s = tw_sessions_find(d->ss, subject);

	if (!s)
		return -ENOENT;
	tw_sess_end(d, s, TW_TERM_ADMIN_RESET, true);
	return 0;
}

int tw_adm_confirm(struct tw_daemon *d, const char *subject)
{
	struct tw_session *s = tw_sessions_find(d->ss, subject);
	struct attempt *a;

	if (!s)
		return -ENOENT;
	if (s->state != TW_STATE_SANDBOX)
		return -EALREADY;
	if (tw_dp_client_set_state(d->dp, s->slot, TW_STATE_PERMIT))
		return -EIO;
	s->state = TW_STATE_PERMIT;
	s->confirm_deadline = 0;
	tw_sess_save(d, s);
	a = attempt_get(d->adm, subject, true);
	if (a)
		a->confirmed = true;
	tw_info("subject %s confirmed locally", subject);
	return 0;
}

int tw_adm_ban(struct tw_daemon *d, const char *subject, uint64_t secs, time_t *until)
{
	struct attempt *a = attempt_get(d->adm, subject, true);
	struct tw_session *s = tw_sessions_find(d->ss, subject);

	if (!a)
		return -ENOSPC;
	a->banned_until = ban_end(time(NULL), secs);
	*until = a->banned_until == TW_BANNED_FOREVER ? 0 : a->banned_until;
	if (s) {
		a->real_family = s->real_family;
		memcpy(a->real_addr, s->real_addr, 16);
		tw_sess_end(d, s, TW_TERM_ADMIN_RESET, true);
	}
	return 0;
}

int tw_adm_unban(struct tw_daemon *d, const char *subject)
{
	struct attempt *a = attempt_get(d->adm, subject, false);

	if (!a)
		return -ENOENT;
	a->banned_until = 0;
	if (a->real_family) {
		struct tw_addr ra = { .family = a->real_family };

		memcpy(ra.addr, a->real_addr, 16);
		tw_dp_ban_remove(d->dp, &ra, a->real_family == TW_FAM_V4 ? 32 : 128);
	}
	return 0;
}
