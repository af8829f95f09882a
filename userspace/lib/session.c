// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hashtab.h"
#include "session.h"

const char *tw_verdict_name(enum tw_verdict v)
{
	switch (v) {
	case TW_VERDICT_PERMIT:
		return "permit";
	case TW_VERDICT_SANDBOX:
		return "sandbox";
	default:
		return "deny";
	}
}

/* The first of the subject's profiles bound to @ifname: by the profile's own
 * interface list, or for a profile naming none, by the node's config. */
static const struct tw_profile *pick_profile(const struct tw_policy *pol,
					     const struct tw_config *cfg,
					     const struct tw_subject *s, const char *ifname)
{
	const struct tw_cfg_iface *ci = tw_config_iface_match(cfg, ifname);

	for (uint32_t i = 0; i < s->nprofiles; i++) {
		const struct tw_profile *p = tw_policy_profile_by_num(pol, s->profiles[i]);

		if (!p)
			continue;
		if (p->nifaces) {
			if (tw_profile_bound_to(p, ifname))
				return p;
			continue;
		}
		if (!ci)
			continue;
		for (uint32_t j = 0; j < ci->nprofiles; j++)
			if (!strcmp(ci->profiles[j], p->node.id))
				return p;
	}
	return NULL;
}

void tw_decide(const struct tw_policy *pol, const struct tw_config *cfg, enum tw_subject_kind kind,
	       const char *id, const char *ifname, uint64_t policy_age_s, time_t now,
	       time_t banned_until, struct tw_decision *d)
{
	const struct tw_subject *s;
	const struct tw_profile *p;

	memset(d, 0, sizeof(*d));
	d->verdict = TW_VERDICT_DENY;
	if (!pol) {
		snprintf(d->reason, sizeof(d->reason), "no policy loaded");
		return;
	}
	d->policy_version = tw_policy_version(pol);
	d->offline = cfg->offline_grace_s && policy_age_s > cfg->offline_grace_s;
	if (banned_until == TW_BANNED_FOREVER) {
		snprintf(d->reason, sizeof(d->reason), "subject banned until unbanned");
		return;
	}
	if (banned_until > now) {
		snprintf(d->reason, sizeof(d->reason), "subject banned for %lld s more",
			 (long long)(banned_until - now));
		return;
	}
	s = tw_policy_subject(pol, kind, id);
	if (!s) {
		snprintf(d->reason, sizeof(d->reason), "unknown subject");
		return;
	}
	if (s->state == TW_SUBJ_DISABLED || s->state == TW_SUBJ_REVOKED) {
		snprintf(d->reason, sizeof(d->reason), "subject %s",
			 tw_subject_state_name(s->state));
		return;
	}
	p = pick_profile(pol, cfg, s, ifname);
	if (!p) {
		snprintf(d->reason, sizeof(d->reason), "no profile of the subject is bound to %s",
			 ifname);
		return;
	}
	d->profile = p->num;
	d->tenant = s->tenant;
	if (s->state == TW_SUBJ_NEEDS_CONFIRMATION ||
	    (d->offline && cfg->offline_mode == TW_OFFLINE_SANDBOX)) {
		d->verdict = TW_VERDICT_SANDBOX;
		d->confirm_timeout_s = p->confirm_timeout_s ? p->confirm_timeout_s :
							      cfg->confirm_timeout_s;
		snprintf(d->reason, sizeof(d->reason), "%s",
			 s->state == TW_SUBJ_NEEDS_CONFIRMATION ? "needs confirmation" :
								  "policy stale: offline sandbox");
		return;
	}
	d->verdict = TW_VERDICT_PERMIT;
	snprintf(d->reason, sizeof(d->reason), "%s",
		 d->offline ? "enabled (policy stale: known subjects only)" : "enabled");
}

struct tw_sessions {
	uint32_t nslots, count;
	struct tw_session *s; /* by slot */
	uint32_t *free; /* stack of free slots */
	uint32_t nfree;
	struct tw_htab by_subject; /* items: &s[slot] of used slots */
	bool free_dirty; /* slots restored: rebuild the free stack before use */
};

static uint32_t subject_hash(const char *subject)
{
	return tw_hash_str(0, subject);
}

static bool session_eq(const void *item, const void *key)
{
	return !strcmp(((const struct tw_session *)item)->subject, key);
}

struct tw_sessions *tw_sessions_new(uint32_t nslots)
{
	struct tw_sessions *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->nslots = nslots;
	t->s = calloc(nslots, sizeof(*t->s));
	t->free = calloc(nslots, sizeof(*t->free));
	/* sized once for every slot: adding a session never allocates */
	if (!t->s || !t->free || tw_htab_reserve(&t->by_subject, nslots)) {
		tw_sessions_free(t);
		errno = ENOMEM;
		return NULL;
	}
	/* hand out low slots first: dense counter reads */
	for (uint32_t i = 0; i < nslots; i++)
		t->free[i] = nslots - 1 - i;
	t->nfree = nslots;
	return t;
}

void tw_sessions_free(struct tw_sessions *t)
{
	if (!t)
		return;
	free(t->s);
	free(t->free);
	tw_htab_release(&t->by_subject);
	free(t);
}

struct tw_session *tw_sessions_find(struct tw_sessions *t, const char *subject)
{
	return tw_htab_find(&t->by_subject, subject_hash(subject), subject, session_eq);
}

static void index_put(struct tw_sessions *t, struct tw_session *s)
{
	tw_htab_put(&t->by_subject, subject_hash(s->subject), s, s->subject, session_eq);
}

static void rebuild_free(struct tw_sessions *t)
{
	t->nfree = 0;
	for (uint32_t i = t->nslots; i-- > 0;)
		if (!t->s[i].used)
			t->free[t->nfree++] = i;
	t->free_dirty = false;
}

int tw_sessions_restore(struct tw_sessions *t, const struct tw_session *from)
{
	if (from->slot >= t->nslots || t->s[from->slot].used || !from->subject[0] ||
	    !memchr(from->subject, '\0', sizeof(from->subject)))
		return -EINVAL;
	if (tw_sessions_find(t, from->subject))
		return -EEXIST;
	t->s[from->slot] = *from;
	t->s[from->slot].used = true;
	index_put(t, &t->s[from->slot]);
	t->count++;
	t->free_dirty = true;
	return 0;
}

struct tw_session *tw_sessions_add(struct tw_sessions *t, const char *subject)
{
	struct tw_session *s;
	uint32_t slot;

	if (t->free_dirty)
		rebuild_free(t);
	if (tw_sessions_find(t, subject)) {
		errno = EEXIST;
		return NULL;
	}
	if (!t->nfree || strlen(subject) >= sizeof(s->subject)) {
		errno = t->nfree ? ENAMETOOLONG : ENOSPC;
		return NULL;
	}
	slot = t->free[--t->nfree];
	s = &t->s[slot];
	memset(s, 0, sizeof(*s));
	s->used = true;
	s->slot = slot;
	strcpy(s->subject, subject);
	index_put(t, s);
	t->count++;
	return s;
}

void tw_sessions_del(struct tw_sessions *t, struct tw_session *s)
{
	if (!s || !s->used)
		return;
	tw_htab_del(&t->by_subject, subject_hash(s->subject), s->subject, session_eq);
	s->used = false;
	if (!t->free_dirty)
		t->free[t->nfree++] = s->slot;
	t->count--;
}

struct tw_session *tw_sessions_by_slot(struct tw_sessions *t, uint32_t slot)
{
	return slot < t->nslots && t->s[slot].used ? &t->s[slot] : NULL;
}

uint32_t tw_sessions_count(const struct tw_sessions *t)
{
	return t->count;
}

uint32_t tw_sessions_nslots(const struct tw_sessions *t)
{
	return t->nslots;
}
