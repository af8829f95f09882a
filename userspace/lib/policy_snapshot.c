// SPDX-License-Identifier: GPL-2.0-only
/*
 * A snapshot bundle into a new policy: tenants, then profiles (both through
 * the class table), then the subjects that name them. Given the policy it
 * replaces, tenants and profiles keep the numbers they had there, so the
 * dataplane is never renumbered under live clients.
 */
#include <stdlib.h>
#include "policy_int.h"

static const char *const snapshot_keys[] = { "type",	"version",  "generated_at",
					     "tenants", "profiles", "subjects",
					     NULL };

/*
 * The tenants or profiles of a snapshot. One keeps its number from @prev;
 * new ones take numbers @prev did not use, so a live slot of a removed one
 * never aliases a new one.
 */
static int parse_set(struct pctx *x, struct tw_policy *p, const struct tw_policy *prev,
		     json_t *root, enum tw_pset_kind k, struct tw_pnums *used)
{
	const struct tw_pclass *c = &tw_pclasses[k];
	struct tw_pset *set = &p->sets[k];
	char path[PATH_LEN], q[QMAX];
	struct tw_pnode *o, *old;
	uint32_t *num;
	json_t *arr;
	size_t i, n;
	int err;

	memset(used, 0, sizeof(*used));
	err = pj_get_array(x, "", root, c->section, c->max, &arr);
	if (err)
		return err;
	n = arr ? json_array_size(arr) : 0;
	if (tw_htab_reserve(&set->by_id, n) || tw_pset_reserve(set, prev ? prev->sets[k].cap : 0))
		return pj_nomem(x);
	if (prev)
		tw_pnums_mark_set(used, &prev->sets[k]);
	for (i = 0; i < n; i++) {
		pj_idxpath(path, c->section, i);
		err = c->parse(x, path, json_array_get(arr, i), &o);
		if (err)
			return err;
		if (tw_pnode_find(&set->by_id, 0, o->id)) {
			quote(q, o->id);
			c->free(o);
			return perr(x, path, "duplicate %s '%s'", c->name, q);
		}
		old = prev ? tw_pnode_find(&prev->sets[k].by_id, 0, o->id) : NULL;
		num = c->num(o);
		*num = old ? *c->num(old) : 0;
		tw_pnode_put(&set->by_id, o);
		if (*num)
			set->by_num[*num] = o;
	}
	/* New ones in bundle order, so that a fresh policy numbers them 1, 2,
	 * 3... as they appear: predictable for operators and tests. */
	for (i = 0; i < n; i++) {
		const char *id = json_string_value(json_object_get(json_array_get(arr, i), "id"));

		o = tw_pnode_find(&set->by_id, 0, id);
		num = c->num(o);
		if (*num)
			continue;
		*num = tw_pnums_take(used, c->max);
		if (!*num) {
			pj_idxpath(path, c->section, i);
			return perr(x, path, "no %s number left (at most %u %ss)", c->name, c->max,
				    c->name);
		}
		if (tw_pset_reserve(set, *num))
			return pj_nomem(x);
		set->by_num[*num] = o;
	}
	return 0;
}

static int parse_subjects(struct pctx *x, struct tw_policy *p, json_t *root)
{
	const struct tw_pview v = { .base = p };
	char path[PATH_LEN], q[QMAX];
	struct tw_subject *s;
	json_t *arr;
	size_t i, n;
	int err;

	err = pj_get_array(x, "", root, "subjects", TW_POLICY_MAX_SUBJECTS, &arr);
	if (err)
		return err;
	n = arr ? json_array_size(arr) : 0;
	if (tw_htab_reserve(&p->subjects, n))
		return pj_nomem(x);
	for (i = 0; i < n; i++) {
		pj_idxpath(path, "subjects", i);
		err = tw_parse_subject(x, path, json_array_get(arr, i), &v, &s);
		if (err)
			return err;
		if (tw_pnode_find(&p->subjects, s->node.kind, s->node.id)) {
			quote(q, s->node.id);
			err = perr(x, path, "duplicate subject %s '%s'",
				   tw_subject_kind_name(s->node.kind), q);
			tw_subject_free(s);
			return err;
		}
		tw_pnode_put(&p->subjects, &s->node);
		tw_subject_refs(p, s, 1);
	}
	return 0;
}

static struct tw_policy *parse_snapshot(const struct tw_policy *prev, const char *buf, size_t len,
					char *errbuf, size_t errlen)
{
	struct pctx x = { .err = errbuf, .errlen = errlen };
	struct tw_pnums *used = NULL;
	struct tw_policy *p = NULL;
	json_t *root;
	int err, k;

	if (errlen)
		errbuf[0] = '\0';
	root = pj_load_bundle(&x, buf, len);
	if (!root)
		return NULL;
	err = pj_check_keys(&x, "", root, snapshot_keys);
	if (err)
		goto out;
	p = calloc(1, sizeof(*p));
	used = calloc(1, sizeof(*used));
	if (!p || !used) {
		err = pj_nomem(&x);
		goto out;
	}
	err = pj_parse_header(&x, root, "snapshot", &p->version, &p->generated_at);
	if (err)
		goto out;
	if (prev && p->version <= prev->version) {
		perr_(&x, "version", "%llu is not newer than the current %llu",
		      (unsigned long long)p->version, (unsigned long long)prev->version);
		err = -ESTALE;
		goto out;
	}
	for (k = 0; !err && k < TW_PSET__MAX; k++)
		err = parse_set(&x, p, prev, root, k, used);
	err = err ?: parse_subjects(&x, p, root);
out:
	free(used);
	json_decref(root);
	if (err) {
		tw_policy_free(p);
		errno = -err;
		return NULL;
	}
	return p;
}

struct tw_policy *tw_policy_parse(const char *buf, size_t len, char *err, size_t errlen)
{
	return parse_snapshot(NULL, buf, len, err, errlen);
}

struct tw_policy *tw_policy_parse_next(const struct tw_policy *prev, const char *buf, size_t len,
				       char *err, size_t errlen)
{
	return parse_snapshot(prev, buf, len, err, errlen);
}
