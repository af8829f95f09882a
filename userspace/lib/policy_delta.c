// SPDX-License-Identifier: GPL-2.0-only
/*
 * Applying a delta bundle to the live policy, all or nothing, in two phases.
 * Everything that can fail (parsing, validation, numbering, allocation, hash
 * table growth) happens first against staged copies: the tenants and
 * profiles (one generic stage each, driven by the class table), then the
 * subjects, resolved against the policy as it will be. The commit phase
 * only moves pointers and cannot fail, which is what makes a delta
 * all-or-nothing without copying 100k subjects.
 */
#include <stdio.h>
#include <stdlib.h>
#include "policy_int.h"

static const char *const delta_keys[] = { "type",    "base",	 "version",  "generated_at",
					  "tenants", "profiles", "subjects", NULL };
static const char *const change_keys[] = { "upsert", "remove", NULL };

/* Staged changes of one kind of object. */
struct stage {
	struct tw_htab up; /* new objects, owned until commit */
	struct tw_htab rm; /* live objects to remove (not owned) */
	struct tw_pnode **up_order; /* upserts in bundle order, for numbering */
	size_t nup;
	uint32_t max_num; /* highest number an upsert takes */
};

struct delta {
	struct pctx x;
	struct tw_policy *p;
	json_t *root;
	uint64_t version;
	time_t gen;
	struct tw_pnums *used;
	struct stage sets[TW_PSET__MAX];
	struct stage subj;
};

static void stage_release(struct stage *st, void (*free_obj)(struct tw_pnode *))
{
	struct tw_pnode *n;
	size_t it = 0;

	while ((n = tw_htab_next(&st->up, &it)))
		free_obj(n);
	tw_htab_release(&st->up);
	tw_htab_release(&st->rm);
	free(st->up_order);
}

static void free_subject_node(struct tw_pnode *n)
{
	tw_subject_free((struct tw_subject *)n);
}

/* "base" and "version": the delta must start at @p's version and move it on. */
static int parse_delta_header(struct delta *d)
{
	uint64_t base = 0;
	int err;

	err = pj_check_keys(&d->x, "", d->root, delta_keys);
	err = err ?: pj_parse_header(&d->x, d->root, "delta", &d->version, &d->gen);
	err = err ?: pj_get_u64(&d->x, "", d->root, "base", true, 1, INT64_MAX, &base);
	if (err)
		return err;
	if (base != d->p->version) {
		perr_(&d->x, "base", "delta is for version %llu, policy is at version %llu",
		      (unsigned long long)base, (unsigned long long)d->p->version);
		return -ESTALE;
	}
	if (d->version <= base) {
		perr_(&d->x, "version", "%llu is not newer than base %llu",
		      (unsigned long long)d->version, (unsigned long long)base);
		return -ESTALE;
	}
	return 0;
}

/* "upsert"/"remove" arrays of a change object: {"upsert": [...], "remove": [...]}. */
static int get_change(struct pctx *x, json_t *root, const char *key, size_t max, json_t **up,
		      json_t **rm)
{
	json_t *c = json_object_get(root, key);
	int err;

	*up = *rm = NULL;
	if (!c)
		return 0;
	if (pj_want(x, key, c, JSON_OBJECT, "an object with \"upsert\" and/or \"remove\""))
		return -EINVAL;
	err = pj_check_keys(x, key, c, change_keys);
	err = err ?: pj_get_array(x, key, c, "upsert", max, up);
	err = err ?: pj_get_array(x, key, c, "remove", max, rm);
	return err;
}

/* ---- tenants and profiles ---- */

/* Upserts keep their number; new ones take a number no live object has. */
static int stage_set_upserts(struct delta *d, enum tw_pset_kind k, json_t *up)
{
	const struct tw_pclass *c = &tw_pclasses[k];
	struct stage *st = &d->sets[k];
	char path[PATH_LEN], q[QMAX];
	struct tw_pnode *o, *old;
	uint32_t *num;
	size_t i, n = json_array_size(up);
	int err;

	if (tw_htab_reserve(&st->up, n) || !(st->up_order = calloc(n, sizeof(*st->up_order))))
		return pj_nomem(&d->x);
	memset(d->used, 0, sizeof(*d->used));
	tw_pnums_mark_set(d->used, &d->p->sets[k]);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s.upsert[%zu]", c->section, i);
		err = c->parse(&d->x, path, json_array_get(up, i), &o);
		if (err)
			return err;
		if (tw_pnode_find(&st->up, 0, o->id)) {
			quote(q, o->id);
			c->free(o);
			return perr(&d->x, path, "%s '%s' upserted twice", c->name, q);
		}
		tw_pnode_put(&st->up, o);
		st->up_order[st->nup++] = o;
		old = tw_pnode_find(&d->p->sets[k].by_id, 0, o->id);
		num = c->num(o);
		*num = old ? *c->num(old) : tw_pnums_take(d->used, c->max);
		if (!*num)
			return perr(&d->x, path, "no %s number left (at most %u %ss)", c->name,
				    c->max, c->name);
		if (*num > st->max_num)
			st->max_num = *num;
	}
	return 0;
}

/* Removal list of tenant or profile ids. */
static int stage_set_removals(struct delta *d, enum tw_pset_kind k, json_t *rm)
{
	const struct tw_pclass *c = &tw_pclasses[k];
	struct stage *st = &d->sets[k];
	char path[PATH_LEN], q[QMAX];
	struct tw_pnode *n;
	size_t i;

	if (tw_htab_reserve(&st->rm, json_array_size(rm)))
		return pj_nomem(&d->x);
	for (i = 0; i < json_array_size(rm); i++) {
		json_t *e = json_array_get(rm, i);

		snprintf(path, sizeof(path), "%s.remove[%zu]", c->section, i);
		if (pj_want(&d->x, path, e, JSON_STRING, "an id"))
			return -EINVAL;
		quote(q, json_string_value(e));
		n = pj_plain_string(e) ?
			    tw_pnode_find(&d->p->sets[k].by_id, 0, json_string_value(e)) :
			    NULL;
		if (!n)
			return perr(&d->x, path, "no %s '%s' to remove", c->name, q);
		if (tw_pnode_find(&st->rm, 0, n->id))
			return perr(&d->x, path, "'%s' removed twice", q);
		if (tw_pnode_find(&st->up, 0, n->id))
			return perr(&d->x, path, "'%s' is both upserted and removed", q);
		tw_pnode_put(&st->rm, n);
	}
	return 0;
}

static int stage_set(struct delta *d, enum tw_pset_kind k)
{
	const struct tw_pclass *c = &tw_pclasses[k];
	json_t *up, *rm;
	int err;

	err = get_change(&d->x, d->root, c->section, c->max, &up, &rm);
	if (!err && up)
		err = stage_set_upserts(d, k, up);
	if (!err && rm)
		err = stage_set_removals(d, k, rm);
	return err;
}

/* ---- subjects ---- */

static int stage_subject_removals(struct delta *d, json_t *rm)
{
	char path[PATH_LEN], q[QMAX];
	enum tw_subject_kind kind;
	struct tw_pnode *n;
	const char *id;
	size_t i;
	int err;

	for (i = 0; i < json_array_size(rm); i++) {
		snprintf(path, sizeof(path), "subjects.remove[%zu]", i);
		err = tw_parse_subject_ref(&d->x, path, json_array_get(rm, i), &kind, &id);
		if (err)
			return err;
		quote(q, id);
		n = tw_pnode_find(&d->p->subjects, kind, id);
		if (!n)
			return perr(&d->x, path, "no subject %s '%s' to remove",
				    tw_subject_kind_name(kind), q);
		if (tw_pnode_find(&d->subj.rm, kind, id))
			return perr(&d->x, path, "subject %s '%s' removed twice",
				    tw_subject_kind_name(kind), q);
		tw_pnode_put(&d->subj.rm, n);
	}
	return 0;
}

/* Resolved against the policy as it will be after the delta. */
static int stage_subject_upserts(struct delta *d, json_t *up)
{
	struct tw_pview v = { .base = d->p };
	char path[PATH_LEN], q[QMAX];
	struct tw_subject *s;
	bool removed;
	size_t i;
	int err, k;

	for (k = 0; k < TW_PSET__MAX; k++) {
		v.up[k] = &d->sets[k].up;
		v.rm[k] = &d->sets[k].rm;
	}
	for (i = 0; i < json_array_size(up); i++) {
		snprintf(path, sizeof(path), "subjects.upsert[%zu]", i);
		err = tw_parse_subject(&d->x, path, json_array_get(up, i), &v, &s);
		if (err)
			return err;
		removed = tw_pnode_find(&d->subj.rm, s->node.kind, s->node.id);
		if (removed || tw_pnode_find(&d->subj.up, s->node.kind, s->node.id)) {
			quote(q, s->node.id);
			err = perr(&d->x, path, "subject %s '%s' %s",
				   tw_subject_kind_name(s->node.kind), q,
				   removed ? "is both upserted and removed" : "upserted twice");
			tw_subject_free(s);
			return err;
		}
		tw_pnode_put(&d->subj.up, &s->node);
	}
	return 0;
}

static int stage_subjects(struct delta *d)
{
	json_t *up, *rm;
	int err;

	err = get_change(&d->x, d->root, "subjects", TW_POLICY_MAX_SUBJECTS, &up, &rm);
	if (err)
		return err;
	if ((up && tw_htab_reserve(&d->subj.up, json_array_size(up))) ||
	    (rm && tw_htab_reserve(&d->subj.rm, json_array_size(rm))))
		return pj_nomem(&d->x);
	err = rm ? stage_subject_removals(d, rm) : 0;
	err = err ?: up ? stage_subject_upserts(d, up) : 0;
	return err;
}

/* ---- checks before the commit ---- */

/*
 * Subjects that will still name number @num of set @k after the delta: the
 * live count less the live subjects the delta removes or replaces.
 * Upserted subjects were resolved against the post-delta view already.
 */
static uint32_t refs_after(const struct delta *d, enum tw_pset_kind k, uint32_t num)
{
	uint32_t refs = d->p->sets[k].refs[num];
	const struct tw_subject *old;
	const struct tw_pnode *n;
	size_t it = 0;

	while ((old = tw_htab_next(&d->subj.rm, &it)))
		if (tw_subject_uses(old, k, num))
			refs--;
	it = 0;
	while ((n = tw_htab_next(&d->subj.up, &it))) {
		old = (const struct tw_subject *)tw_pnode_find(&d->p->subjects, n->kind, n->id);
		if (old && tw_subject_uses(old, k, num))
			refs--;
	}
	return refs;
}

/* A removed tenant or profile must not be named by any subject left. */
static int check_refs(struct delta *d)
{
	char path[PATH_LEN], q[QMAX];
	struct tw_pnode *n;
	uint32_t refs;
	size_t it;
	int k;

	for (k = 0; k < TW_PSET__MAX; k++) {
		const struct tw_pclass *c = &tw_pclasses[k];

		it = 0;
		while ((n = tw_htab_next(&d->sets[k].rm, &it))) {
			refs = refs_after(d, k, *c->num(n));
			if (!refs)
				continue;
			snprintf(path, sizeof(path), "%s.remove", c->section);
			quote(q, n->id);
			return perr(&d->x, path, "%s '%s' is still used by %u subject(s)", c->name,
				    q, refs);
		}
	}
	return 0;
}

/* Everything that can fail from here: room in the live tables. */
static int reserve_live(struct delta *d)
{
	struct tw_policy *p = d->p;
	int k;

	if (p->subjects.n + d->subj.up.n > TW_POLICY_MAX_SUBJECTS + d->subj.rm.n)
		return perr(&d->x, "subjects", "more than %u subjects", TW_POLICY_MAX_SUBJECTS);
	if (tw_htab_reserve(&p->subjects, p->subjects.n + d->subj.up.n))
		return pj_nomem(&d->x);
	for (k = 0; k < TW_PSET__MAX; k++) {
		struct tw_pset *set = &p->sets[k];

		if (tw_htab_reserve(&set->by_id, set->by_id.n + d->sets[k].up.n) ||
		    tw_pset_reserve(set, d->sets[k].max_num))
			return pj_nomem(&d->x);
	}
	return 0;
}

/* ---- commit: nothing below can fail ---- */

static void commit_subjects(struct tw_policy *p, struct stage *st)
{
	struct tw_pnode *n, *old;
	size_t it = 0;

	while ((n = tw_htab_next(&st->rm, &it))) {
		tw_pnode_del(&p->subjects, n);
		tw_subject_refs(p, (struct tw_subject *)n, -1);
		tw_subject_free((struct tw_subject *)n);
	}
	it = 0;
	while ((n = tw_htab_next(&st->up, &it))) {
		old = tw_pnode_put(&p->subjects, n);
		if (old) {
			tw_subject_refs(p, (struct tw_subject *)old, -1);
			tw_subject_free((struct tw_subject *)old);
		}
		tw_subject_refs(p, (struct tw_subject *)n, 1);
	}
	tw_htab_release(&st->up); /* now owned by @p */
}

static void commit_set(struct tw_policy *p, enum tw_pset_kind k, struct stage *st)
{
	const struct tw_pclass *c = &tw_pclasses[k];
	struct tw_pset *set = &p->sets[k];
	struct tw_pnode *n;
	uint32_t num;
	size_t it = 0, i;

	while ((n = tw_htab_next(&st->rm, &it))) {
		tw_pnode_del(&set->by_id, n);
		set->by_num[*c->num(n)] = NULL;
		c->free(n);
	}
	for (i = 0; i < st->nup; i++) {
		n = st->up_order[i];
		num = *c->num(n);
		tw_pnode_put(&set->by_id, n);
		/* the object it replaces, if any: same id, so same number */
		if (set->by_num[num])
			c->free(set->by_num[num]);
		set->by_num[num] = n;
	}
	tw_htab_release(&st->up); /* now owned by @p */
}

/* Subjects first, so reference counts are right before tenants and profiles go. */
static void commit(struct delta *d)
{
	int k;

	commit_subjects(d->p, &d->subj);
	for (k = 0; k < TW_PSET__MAX; k++)
		commit_set(d->p, k, &d->sets[k]);
	d->p->version = d->version;
	if (d->gen)
		d->p->generated_at = d->gen;
}

int tw_policy_apply_delta(struct tw_policy *p, const char *buf, size_t len, char *errbuf,
			  size_t errlen)
{
	struct delta d = { .x = { .err = errbuf, .errlen = errlen }, .p = p };
	int err, k;

	if (errlen)
		errbuf[0] = '\0';
	d.root = pj_load_bundle(&d.x, buf, len);
	if (!d.root)
		return -errno;
	err = parse_delta_header(&d);
	if (!err && !(d.used = calloc(1, sizeof(*d.used))))
		err = pj_nomem(&d.x);
	for (k = 0; !err && k < TW_PSET__MAX; k++)
		err = stage_set(&d, k);
	err = err ?: stage_subjects(&d);
	err = err ?: check_refs(&d);
	err = err ?: reserve_live(&d);
	if (!err)
		commit(&d);

	for (k = 0; k < TW_PSET__MAX; k++)
		stage_release(&d.sets[k], tw_pclasses[k].free);
	stage_release(&d.subj, free_subject_node);
	free(d.used);
	json_decref(d.root);
	return err;
}
