/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Inside the policy module; nothing outside userspace/lib/policy*.c includes
 * this. The module's files, by concern:
 *
 *   policy_json.c      reading JSON: typed members, error paths, the bundle header
 *   policy.c           the bundle's objects: rules, tenants, profiles, subjects
 *   policy_store.c     the in-memory policy: tables, numbering, lookups, free
 *   policy_snapshot.c  a snapshot bundle into a new policy
 *   policy_delta.c     a delta bundle staged, checked, then committed
 *
 * Tenants and profiles are handled alike: both are keyed by a string id and
 * carry a dense number that subjects refer to. Each is a "set" (struct
 * tw_pset) described by a class (struct tw_pclass), and the snapshot and delta
 * code walks the class table instead of repeating itself per kind.
 */
#ifndef TW_POLICY_INT_H
#define TW_POLICY_INT_H

#include <errno.h>
#include <string.h>
#include <jansson.h>
#include "config.h"
#include "hashtab.h"
#include "policy.h"

#define QMAX	 (64 * 4 + 4) /* a quoted token: tw_quote_token() of 64 bytes */
#define PATH_LEN 128

/* ---- the in-memory policy (policy_store.c) ---- */

enum tw_pset_kind {
	TW_PSET_TENANT,
	TW_PSET_PROFILE,
	TW_PSET__MAX,
};

/* Tenants or profiles: by id (owns the objects) and by number (indexes them). */
struct tw_pset {
	struct tw_htab by_id;
	struct tw_pnode **by_num; /* [0 .. cap) */
	uint32_t *refs; /* subjects naming each number */
	uint32_t cap;
};

struct tw_policy {
	uint64_t version;
	time_t generated_at;
	struct tw_htab subjects; /* owns the subjects */
	struct tw_pset sets[TW_PSET__MAX];
};

/* Hash table keyed by (kind, id); the items are struct tw_pnode. */
struct tw_pnode *tw_pnode_find(const struct tw_htab *t, uint32_t kind, const char *id);
/* Insert or replace; the caller has reserved room. Returns the replaced node. */
struct tw_pnode *tw_pnode_put(struct tw_htab *t, struct tw_pnode *n);
struct tw_pnode *tw_pnode_del(struct tw_htab *t, const struct tw_pnode *key);

/* Grow @s's by-number arrays to hold number @max. 0 or -ENOMEM. */
int tw_pset_reserve(struct tw_pset *s, uint32_t max);
static inline struct tw_pnode *tw_pset_by_num(const struct tw_pset *s, uint32_t num)
{
	return num < s->cap ? s->by_num[num] : NULL;
}

void tw_subject_free(struct tw_subject *s);
int tw_subject_state_parse(const char *s, enum tw_subject_state *st);
/* Add @delta to the reference counts of the tenant and profiles @s names. */
void tw_subject_refs(struct tw_policy *p, const struct tw_subject *s, int delta);
/* Does @s name number @num of set @k? */
bool tw_subject_uses(const struct tw_subject *s, enum tw_pset_kind k, uint32_t num);

/* Numbers in use while numbering new tenants or profiles: a bitmap. */
struct tw_pnums {
	uint8_t bits[TW_POLICY_MAX_TENANTS / 8 + 1];
};
_Static_assert(TW_POLICY_MAX_PROFILES <= TW_POLICY_MAX_TENANTS, "tw_pnums covers profiles");
/* Mark the numbers @s uses. */
void tw_pnums_mark_set(struct tw_pnums *u, const struct tw_pset *s);
void tw_pnums_mark(struct tw_pnums *u, uint32_t n);
/* The lowest number in [1, max] not marked (and marks it); 0: none left. */
uint32_t tw_pnums_take(struct tw_pnums *u, uint32_t max);

/* ---- reading JSON (policy_json.c) ---- */

struct pctx {
	char *err;
	size_t errlen;
};

/*
 * Write "path: message" into the caller's buffer. perr() always yields
 * -EINVAL; it is a macro so that this is visible to static analysers, which
 * do not follow variadic calls.
 */
void perr_(struct pctx *x, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#define perr(...) (perr_(__VA_ARGS__), -EINVAL)
/* "out of memory" as the message; -ENOMEM. */
int pj_nomem(struct pctx *x);

static inline void quote(char q[QMAX], const char *s)
{
	tw_quote_token(q, QMAX, s, strlen(s));
}

/* JSON paths for messages: "path.member", "path[i]", cut at PATH_LEN. */
void pj_subpath(char *dst, const char *path, const char *member);
void pj_idxpath(char *dst, const char *path, size_t i);

int pj_want(struct pctx *x, const char *path, const json_t *j, json_type t, const char *what);
/* Reject members outside @allowed: a misspelt key must not be ignored silently. */
int pj_check_keys(struct pctx *x, const char *path, json_t *obj, const char *const *allowed);
/* A string member: type-checked, bounded, printable. @required false lets
 * it be absent (*out = NULL). */
int pj_get_str(struct pctx *x, const char *path, json_t *obj, const char *key, bool required,
	       const char **out);
int pj_get_u64(struct pctx *x, const char *path, json_t *obj, const char *key, bool required,
	       uint64_t lo, uint64_t hi, uint64_t *out);
/* An optional array member of at most @max entries; *out NULL when absent. */
int pj_get_array(struct pctx *x, const char *path, json_t *obj, const char *key, size_t max,
		 json_t **out);
/* "5m" or a number of seconds, within [lo, hi]. */
int pj_get_duration(struct pctx *x, const char *path, json_t *j, uint64_t lo, uint64_t hi,
		    uint64_t *out);
/* Is the JSON string @j free of embedded NULs? */
static inline bool pj_plain_string(const json_t *j)
{
	return strlen(json_string_value(j)) == json_string_length(j);
}

/* The top-level object of a bundle; NULL with errno set and the error written. */
json_t *pj_load_bundle(struct pctx *x, const char *buf, size_t len);
/* "type" (must be @type), "version", "generated_at" (0 when absent). */
int pj_parse_header(struct pctx *x, json_t *root, const char *type, uint64_t *version, time_t *gen);

/* ---- the bundle's objects (policy.c) ---- */

/*
 * Name resolution while a bundle is parsed. For a snapshot, @base is the
 * policy being built. For a delta, @base is the live policy, @up holds the
 * delta's upserts and @rm the names it removes: the view is the policy as it
 * will be after the delta.
 */
struct tw_pview {
	const struct tw_policy *base;
	const struct tw_htab *up[TW_PSET__MAX], *rm[TW_PSET__MAX];
};

/* What differs between tenants and profiles. */
struct tw_pclass {
	const char *name; /* "tenant" */
	const char *section; /* "tenants": the bundle member */
	uint32_t max; /* highest number */
	int (*parse)(struct pctx *x, const char *path, json_t *j, struct tw_pnode **out);
	void (*free)(struct tw_pnode *n);
	uint32_t *(*num)(struct tw_pnode *n);
};
extern const struct tw_pclass tw_pclasses[TW_PSET__MAX];

int tw_parse_subject(struct pctx *x, const char *path, json_t *j, const struct tw_pview *v,
		     struct tw_subject **out);
/* {"kind": ..., "id": ...}: a subject named for removal. */
int tw_parse_subject_ref(struct pctx *x, const char *path, json_t *j, enum tw_subject_kind *kind,
			 const char **id);

#endif /* TW_POLICY_INT_H */
