// SPDX-License-Identifier: GPL-2.0-only
/*
 * The in-memory policy: subjects, tenants and profiles in hash tables by id,
 * tenants and profiles also by number, the lookups the connect path uses,
 * and the bookkeeping the bundle parsers share (numbering, reference
 * counts). No JSON here.
 */
#include <fnmatch.h>
#include <stdlib.h>
#include "policy_int.h"

/* ---- tables keyed by (kind, id) ---- */

static uint32_t pnode_hash(uint32_t kind, const char *id)
{
	return tw_hash_str(kind, id);
}

static bool pnode_eq(const void *item, const void *key)
{
	const struct tw_pnode *n = item, *k = key;

	return n->kind == k->kind && !strcmp(n->id, k->id);
}

struct tw_pnode *tw_pnode_find(const struct tw_htab *t, uint32_t kind, const char *id)
{
	struct tw_pnode key = { .kind = kind, .id = id };

	if (!t || !t->cap)
		return NULL;
	return tw_htab_find(t, pnode_hash(kind, id), &key, pnode_eq);
}

struct tw_pnode *tw_pnode_put(struct tw_htab *t, struct tw_pnode *n)
{
	return tw_htab_put(t, pnode_hash(n->kind, n->id), n, n, pnode_eq);
}

struct tw_pnode *tw_pnode_del(struct tw_htab *t, const struct tw_pnode *key)
{
	return tw_htab_del(t, pnode_hash(key->kind, key->id), key, pnode_eq);
}

/* ---- sets of tenants or profiles ---- */

int tw_pset_reserve(struct tw_pset *s, uint32_t max)
{
	uint32_t cap = s->cap ? s->cap : 16;
	struct tw_pnode **n;
	uint32_t *r;

	while (cap <= max)
		cap *= 2;
	if (cap <= s->cap)
		return 0;
	n = realloc(s->by_num, cap * sizeof(*n));
	if (!n)
		return -ENOMEM;
	s->by_num = n;
	r = realloc(s->refs, cap * sizeof(*r));
	if (!r)
		return -ENOMEM;
	s->refs = r;
	memset(n + s->cap, 0, (cap - s->cap) * sizeof(*n));
	memset(r + s->cap, 0, (cap - s->cap) * sizeof(*r));
	s->cap = cap;
	return 0;
}

static void pset_free(struct tw_pset *s, const struct tw_pclass *c)
{
	struct tw_pnode *n;
	size_t it = 0;

	/* The by-id table owns every object; the by-num array only indexes
	 * them (and misses objects a failed parse had not numbered yet). */
	while ((n = tw_htab_next(&s->by_id, &it)))
		c->free(n);
	tw_htab_release(&s->by_id);
	free(s->by_num);
	free(s->refs);
}

void tw_pnums_mark(struct tw_pnums *u, uint32_t n)
{
	u->bits[n / 8] |= 1u << (n % 8);
}

void tw_pnums_mark_set(struct tw_pnums *u, const struct tw_pset *s)
{
	uint32_t i;

	for (i = 0; i < s->cap; i++)
		if (s->by_num[i])
			tw_pnums_mark(u, i);
}

uint32_t tw_pnums_take(struct tw_pnums *u, uint32_t max)
{
	uint32_t n;

	for (n = 1; n <= max; n++) {
		if (!(u->bits[n / 8] & (1u << (n % 8)))) {
			tw_pnums_mark(u, n);
			return n;
		}
	}
	return 0;
}

/* ---- subjects ---- */

/* A subject is one allocation with its strings behind it. */
void tw_subject_free(struct tw_subject *s)
{
	free(s);
}

void tw_subject_refs(struct tw_policy *p, const struct tw_subject *s, int delta)
{
	uint32_t i;

	for (i = 0; i < s->nprofiles; i++)
		p->sets[TW_PSET_PROFILE].refs[s->profiles[i]] += delta;
	if (s->tenant)
		p->sets[TW_PSET_TENANT].refs[s->tenant] += delta;
}

bool tw_subject_uses(const struct tw_subject *s, enum tw_pset_kind k, uint32_t num)
{
	return k == TW_PSET_TENANT ? s->tenant == num : tw_subject_has_profile(s, num);
}

/* ---- the policy ---- */

void tw_policy_free(struct tw_policy *p)
{
	struct tw_pnode *n;
	size_t it = 0;
	int k;

	if (!p)
		return;
	while ((n = tw_htab_next(&p->subjects, &it)))
		tw_subject_free((struct tw_subject *)n);
	tw_htab_release(&p->subjects);
	for (k = 0; k < TW_PSET__MAX; k++)
		pset_free(&p->sets[k], &tw_pclasses[k]);
	free(p);
}

uint64_t tw_policy_version(const struct tw_policy *p)
{
	return p->version;
}

time_t tw_policy_generated_at(const struct tw_policy *p)
{
	return p->generated_at;
}

size_t tw_policy_nsubjects(const struct tw_policy *p)
{
	return p->subjects.n;
}

size_t tw_policy_nprofiles(const struct tw_policy *p)
{
	return p->sets[TW_PSET_PROFILE].by_id.n;
}

size_t tw_policy_ntenants(const struct tw_policy *p)
{
	return p->sets[TW_PSET_TENANT].by_id.n;
}

const struct tw_subject *tw_policy_subject(const struct tw_policy *p, enum tw_subject_kind kind,
					   const char *id)
{
	return (const struct tw_subject *)tw_pnode_find(&p->subjects, kind, id);
}

const struct tw_profile *tw_policy_profile(const struct tw_policy *p, const char *id)
{
	return (const struct tw_profile *)tw_pnode_find(&p->sets[TW_PSET_PROFILE].by_id, 0, id);
}

const struct tw_profile *tw_policy_profile_by_num(const struct tw_policy *p, uint32_t num)
{
	return (const struct tw_profile *)tw_pset_by_num(&p->sets[TW_PSET_PROFILE], num);
}

const struct tw_tenant *tw_policy_tenant(const struct tw_policy *p, const char *id)
{
	return (const struct tw_tenant *)tw_pnode_find(&p->sets[TW_PSET_TENANT].by_id, 0, id);
}

const struct tw_tenant *tw_policy_tenant_by_num(const struct tw_policy *p, uint32_t num)
{
	return (const struct tw_tenant *)tw_pset_by_num(&p->sets[TW_PSET_TENANT], num);
}

const struct tw_subject *tw_policy_subject_next(const struct tw_policy *p, size_t *iter)
{
	return tw_htab_next(&p->subjects, iter);
}

bool tw_profile_bound_to(const struct tw_profile *prof, const char *ifname)
{
	uint32_t i;

	for (i = 0; i < prof->nifaces; i++)
		if (!fnmatch(prof->ifaces[i], ifname, 0))
			return true;
	return false;
}

bool tw_subject_has_profile(const struct tw_subject *s, uint32_t num)
{
	uint32_t i;

	for (i = 0; i < s->nprofiles; i++)
		if (s->profiles[i] == num)
			return true;
	return false;
}

static const char *const kind_names[] = {
	[TW_SUBJ_CN] = "cn",
	[TW_SUBJ_WG_KEY] = "wg_key",
	[TW_SUBJ_IPSEC_ID] = "ipsec_id",
};
static const char *const state_names[] = {
	[TW_SUBJ_ENABLED] = "enabled",
	[TW_SUBJ_NEEDS_CONFIRMATION] = "needs-confirmation",
	[TW_SUBJ_DISABLED] = "disabled",
	[TW_SUBJ_REVOKED] = "revoked",
};

const char *tw_subject_kind_name(enum tw_subject_kind k)
{
	return k >= TW_SUBJ_CN && k <= TW_SUBJ_IPSEC_ID ? kind_names[k] : "?";
}

const char *tw_subject_state_name(enum tw_subject_state s)
{
	return (unsigned int)s <= TW_SUBJ_REVOKED ? state_names[s] : "?";
}

/* Index of @s among @names[lo..hi], or -EINVAL. */
static int name_index(const char *const *names, int lo, int hi, const char *s)
{
	int i;

	for (i = lo; i <= hi; i++)
		if (!strcmp(s, names[i]))
			return i;
	return -EINVAL;
}

int tw_subject_kind_parse(const char *s, enum tw_subject_kind *k)
{
	int i = name_index(kind_names, TW_SUBJ_CN, TW_SUBJ_IPSEC_ID, s);

	if (i < 0)
		return i;
	*k = i;
	return 0;
}

int tw_subject_state_parse(const char *s, enum tw_subject_state *st)
{
	int i = name_index(state_names, TW_SUBJ_ENABLED, TW_SUBJ_REVOKED, s);

	if (i < 0)
		return i;
	*st = i;
	return 0;
}
