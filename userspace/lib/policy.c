// SPDX-License-Identifier: GPL-2.0-only
/*
 * Policy bundle parser: JSON snapshots and deltas (docs/policy.md) into the
 * in-memory policy the daemon decides connects from. Pure functions over
 * buffers, no global state. Every error names the JSON path and the
 * offending token, and leaves the previous policy as it was.
 *
 * Deltas are applied in two phases: everything that can fail (parsing,
 * validation, allocation, hash table growth) happens first against a staged
 * view; the commit phase only moves pointers and cannot fail, which is what
 * makes a delta all-or-nothing without copying 100k subjects.
 */
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <jansson.h>
#include "config.h"
#include "policy.h"

#define QMAX	      (64 * 4 + 4) /* a quoted token: tw_quote_token() of 64 bytes */
#define PATH_LEN      128
#define MIN_CONFIRM_S 10
#define MAX_CONFIRM_S (7ULL * 86400)

/* ---- hash table: open addressing, linear probing, backward-shift delete ---- */

struct htab {
	struct tw_pnode **slots;
	uint32_t cap; /* power of two, or 0 */
	uint32_t n;
};

/*
 * FNV-1a with a murmur3 finaliser. Keys come from the authenticated portal;
 * lookups of client-supplied names never insert, so a keyed hash against
 * flooding buys nothing here.
 */
static uint32_t key_hash(uint32_t kind, const char *id)
{
	uint32_t h = 2166136261u ^ kind;

	h *= 16777619u;
	for (; *id; id++) {
		h ^= (unsigned char)*id;
		h *= 16777619u;
	}
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

static void node_init(struct tw_pnode *n, uint32_t kind, const char *id)
{
	n->kind = kind;
	n->id = id;
	n->hash = key_hash(kind, id);
}

/* Index of the slot holding (kind, id), or of the empty slot where it would go. */
static uint32_t ht_slot(const struct htab *t, uint32_t kind, const char *id, uint32_t h)
{
	uint32_t mask = t->cap - 1, i = h & mask;

	for (;;) {
		const struct tw_pnode *n = t->slots[i];

		if (!n || (n->hash == h && n->kind == kind && !strcmp(n->id, id)))
			return i;
		i = (i + 1) & mask;
	}
}

static struct tw_pnode *ht_find(const struct htab *t, uint32_t kind, const char *id)
{
	uint32_t h;

	if (!t || !t->cap)
		return NULL;
	h = key_hash(kind, id);
	return t->slots[ht_slot(t, kind, id, h)];
}

/* Make room for @n entries in total at a load factor of at most 1/2. */
static int ht_reserve(struct htab *t, uint32_t n)
{
	struct tw_pnode **old = t->slots;
	uint32_t cap = 16, oldcap = t->cap, i;

	while (cap / 2 < n)
		cap <<= 1;
	if (cap <= t->cap)
		return 0;
	t->slots = calloc(cap, sizeof(struct tw_pnode *));
	if (!t->slots) {
		t->slots = old;
		return -ENOMEM;
	}
	t->cap = cap;
	for (i = 0; i < oldcap; i++)
		if (old[i])
			t->slots[ht_slot(t, old[i]->kind, old[i]->id, old[i]->hash)] = old[i];
	free(old);
	return 0;
}

/* Insert or replace; the caller has reserved room. Returns the replaced node. */
static struct tw_pnode *ht_put(struct htab *t, struct tw_pnode *n)
{
	uint32_t i = ht_slot(t, n->kind, n->id, n->hash);
	struct tw_pnode *old = t->slots[i];

	t->slots[i] = n;
	if (!old)
		t->n++;
	return old;
}

static struct tw_pnode *ht_del(struct htab *t, uint32_t kind, const char *id)
{
	uint32_t mask, i, j, k;
	struct tw_pnode *old;

	if (!t->cap)
		return NULL;
	mask = t->cap - 1;
	i = ht_slot(t, kind, id, key_hash(kind, id));
	old = t->slots[i];
	if (!old)
		return NULL;
	t->slots[i] = NULL;
	t->n--;
	/* Pull later members of the probe run back so that no lookup stops
	 * early at the hole: no tombstones to accumulate under churn. */
	for (j = i;;) {
		j = (j + 1) & mask;
		if (!t->slots[j])
			break;
		k = t->slots[j]->hash & mask;
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		t->slots[i] = t->slots[j];
		t->slots[j] = NULL;
		i = j;
	}
	return old;
}

static void ht_release(struct htab *t)
{
	free(t->slots);
	t->slots = NULL;
	t->cap = t->n = 0;
}

/* ---- the policy ---- */

struct tw_policy {
	uint64_t version;
	time_t generated_at;
	struct htab subjects;
	struct htab profiles; /* by id */
	struct htab tenants; /* by id */
	struct tw_profile *prof_by_num[TW_MAX_PROFILES];
	uint32_t prof_refs[TW_MAX_PROFILES]; /* subjects naming each profile */
	struct tw_tenant **ten_by_num; /* [0 .. ten_cap) */
	uint32_t *ten_refs;
	uint32_t ten_cap;
};

static void free_profile(struct tw_profile *pr)
{
	uint32_t i;

	if (!pr)
		return;
	for (i = 0; i < pr->nifaces; i++)
		free((char *)pr->ifaces[i]);
	free((void *)pr->ifaces);
	free((void *)pr->rules);
	free((char *)pr->name);
	free((char *)pr->node.id);
	free(pr);
}

/* Subjects and tenants are single allocations with their strings behind them. */
static void free_subject(struct tw_subject *s)
{
	free(s);
}

static void free_tenant(struct tw_tenant *t)
{
	free(t);
}

void tw_policy_free(struct tw_policy *p)
{
	uint32_t i;

	if (!p)
		return;
	/* The hash tables own every object; the by-num arrays only index
	 * them (and miss objects a failed parse had not numbered yet). */
	for (i = 0; i < p->subjects.cap; i++)
		free_subject((struct tw_subject *)p->subjects.slots[i]);
	for (i = 0; i < p->profiles.cap; i++)
		free_profile((struct tw_profile *)p->profiles.slots[i]);
	for (i = 0; i < p->tenants.cap; i++)
		free_tenant((struct tw_tenant *)p->tenants.slots[i]);
	ht_release(&p->subjects);
	ht_release(&p->profiles);
	ht_release(&p->tenants);
	free(p->ten_by_num);
	free(p->ten_refs);
	free(p);
}

/* Grow the by-num tenant arrays to hold num @max. */
static int ten_reserve(struct tw_policy *p, uint32_t max)
{
	uint32_t cap = p->ten_cap ? p->ten_cap : 16;
	struct tw_tenant **t;
	uint32_t *r;

	while (cap <= max)
		cap *= 2;
	if (cap <= p->ten_cap)
		return 0;
	t = realloc(p->ten_by_num, cap * sizeof(struct tw_tenant *));
	if (!t)
		return -ENOMEM;
	p->ten_by_num = t;
	r = realloc(p->ten_refs, cap * sizeof(*r));
	if (!r)
		return -ENOMEM;
	p->ten_refs = r;
	memset(t + p->ten_cap, 0, (cap - p->ten_cap) * sizeof(struct tw_tenant *));
	memset(r + p->ten_cap, 0, (cap - p->ten_cap) * sizeof(*r));
	p->ten_cap = cap;
	return 0;
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
	return p->profiles.n;
}

size_t tw_policy_ntenants(const struct tw_policy *p)
{
	return p->tenants.n;
}

const struct tw_subject *tw_policy_subject(const struct tw_policy *p, enum tw_subject_kind kind,
					   const char *id)
{
	return (const struct tw_subject *)ht_find(&p->subjects, kind, id);
}

const struct tw_profile *tw_policy_profile(const struct tw_policy *p, const char *id)
{
	return (const struct tw_profile *)ht_find(&p->profiles, 0, id);
}

const struct tw_profile *tw_policy_profile_by_num(const struct tw_policy *p, uint32_t num)
{
	return num < TW_MAX_PROFILES ? p->prof_by_num[num] : NULL;
}

const struct tw_tenant *tw_policy_tenant(const struct tw_policy *p, const char *id)
{
	return (const struct tw_tenant *)ht_find(&p->tenants, 0, id);
}

const struct tw_tenant *tw_policy_tenant_by_num(const struct tw_policy *p, uint32_t num)
{
	return num < p->ten_cap ? p->ten_by_num[num] : NULL;
}

const struct tw_subject *tw_policy_subject_next(const struct tw_policy *p, size_t *iter)
{
	while (*iter < p->subjects.cap) {
		const struct tw_pnode *n = p->subjects.slots[(*iter)++];

		if (n)
			return (const struct tw_subject *)n;
	}
	return NULL;
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

int tw_subject_kind_parse(const char *s, enum tw_subject_kind *k)
{
	int i;

	for (i = TW_SUBJ_CN; i <= TW_SUBJ_IPSEC_ID; i++) {
		if (!strcmp(s, kind_names[i])) {
			*k = i;
			return 0;
		}
	}
	return -EINVAL;
}

/* ---- parsing helpers ---- */

struct pctx {
	char *err;
	size_t errlen;
};

/*
 * Write "path: message" into the caller's buffer. perr() always yields
 * -EINVAL; it is a macro so that this is visible to static analysers, which
 * do not follow variadic calls.
 */
static void perr_(struct pctx *x, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void perr_(struct pctx *x, const char *path, const char *fmt, ...)
{
	va_list ap;
	int n = 0;

	if (!x->errlen)
		return;
	if (path && *path)
		n = snprintf(x->err, x->errlen, "%s: ", path);
	if (n < 0 || (size_t)n >= x->errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(x->err + n, x->errlen - n, fmt, ap);
	va_end(ap);
}
#define perr(...) (perr_(__VA_ARGS__), -EINVAL)

static void quote(char q[QMAX], const char *s)
{
	tw_quote_token(q, QMAX, s, strlen(s));
}

static const char *jtype(const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "?";
}

static int want(struct pctx *x, const char *path, const json_t *j, json_type t, const char *what)
{
	if (json_typeof(j) == t)
		return 0;
	return perr(x, path, "expected %s, got %s", what, jtype(j));
}

/* Reject members outside @allowed: a misspelt key must not be ignored silently. */
static int check_keys(struct pctx *x, const char *path, json_t *obj, const char *const *allowed)
{
	const char *key;
	json_t *v;
	int i;

	json_object_foreach(obj, key, v) {
		for (i = 0; allowed[i]; i++)
			if (!strcmp(key, allowed[i]))
				break;
		if (!allowed[i]) {
			char q[QMAX];

			quote(q, key);
			return perr(x, path, "unknown key '%s'", q);
		}
	}
	return 0;
}

/*
 * JSON paths for messages, built on every level of every subject of a
 * 100k-subject bundle: plain copies, no printf. A path cut at PATH_LEN is
 * only ever cosmetic.
 */
static size_t path_put(char *dst, size_t o, const char *s, size_t n)
{
	if (o + n >= PATH_LEN)
		n = PATH_LEN - 1 - o;
	memcpy(dst + o, s, n);
	dst[o + n] = '\0';
	return o + n;
}

static void subpath(char *dst, const char *path, const char *member)
{
	size_t o = path_put(dst, 0, path, strlen(path));

	if (o)
		o = path_put(dst, o, ".", 1);
	path_put(dst, o, member, strlen(member));
}

static void idxpath(char *dst, const char *path, size_t i)
{
	char num[24];
	size_t o, n = sizeof(num);

	num[--n] = ']';
	do {
		num[--n] = '0' + i % 10;
		i /= 10;
	} while (i);
	num[--n] = '[';
	o = path_put(dst, 0, path, strlen(path));
	path_put(dst, o, num + n, sizeof(num) - n);
}

/*
 * A string member: NULL-safe, type-checked, bounded, printable. @required
 * false lets it be absent (*out = NULL).
 */
static int get_str(struct pctx *x, const char *path, json_t *obj, const char *key, bool required,
		   const char **out)
{
	char p[PATH_LEN], q[QMAX];
	json_t *j = json_object_get(obj, key);
	const char *s;
	size_t n, i;

	*out = NULL;
	subpath(p, path, key);
	if (!j) {
		if (required)
			return perr(x, path, "missing '%s'", key);
		return 0;
	}
	if (want(x, p, j, JSON_STRING, "a string"))
		return -EINVAL;
	s = json_string_value(j);
	n = json_string_length(j);
	if (!n)
		return perr(x, p, "must not be empty");
	if (n > TW_POLICY_ID_MAX) {
		tw_quote_token(q, sizeof(q), s, n);
		return perr(x, p, "'%s' is longer than %d bytes", q, TW_POLICY_ID_MAX);
	}
	for (i = 0; i < n; i++) {
		/* Also catches an embedded NUL (JSON "\u0000"): ids end up in
		 * C strings, logs and management commands. */
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
			tw_quote_token(q, sizeof(q), s, n);
			return perr(x, p, "'%s' contains a control character", q);
		}
	}
	*out = s;
	return 0;
}

static char *xstrdup(const char *s)
{
	return strdup(s ? s : "");
}

static int get_duration(struct pctx *x, const char *path, json_t *j, uint64_t lo, uint64_t hi,
			uint64_t *out)
{
	char q[QMAX];
	uint64_t v;

	if (json_is_integer(j)) {
		json_int_t i = json_integer_value(j);

		if (i < (json_int_t)lo || (uint64_t)i > hi)
			return perr(x, path, "%lld seconds is out of range [%llu, %llu]",
				    (long long)i, (unsigned long long)lo, (unsigned long long)hi);
		*out = (uint64_t)i;
		return 0;
	}
	if (want(x, path, j, JSON_STRING, "a duration (\"5m\" or seconds)"))
		return -EINVAL;
	quote(q, json_string_value(j));
	if (strlen(json_string_value(j)) != json_string_length(j) ||
	    tw_parse_duration(json_string_value(j), &v) == -EINVAL)
		return perr(x, path, "bad duration '%s'", q);
	if (tw_parse_duration(json_string_value(j), &v) || v < lo || v > hi)
		return perr(x, path, "duration '%s' is out of range [%llus, %llus]", q,
			    (unsigned long long)lo, (unsigned long long)hi);
	*out = v;
	return 0;
}

/* RFC 3339: 2026-11-22T04:00:00Z, optional fraction, Z or +hh:mm. */
static int parse_rfc3339(const char *s, time_t *out)
{
	int Y, M, D, h, m, sec, n = 0, oh = 0, om = 0, sign = 0;
	struct tm tm = {};
	time_t t;

	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &Y, &M, &D, &h, &m, &sec, &n) != 6 || n != 19)
		return -EINVAL;
	s += n;
	if (*s == '.') {
		s++;
		if (*s < '0' || *s > '9')
			return -EINVAL;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	if (*s == 'Z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		sign = *s == '+' ? 1 : -1;
		if (sscanf(s + 1, "%2d:%2d%n", &oh, &om, &n) != 2 || n != 5)
			return -EINVAL;
		s += 6;
	} else {
		return -EINVAL;
	}
	if (*s || Y < 1970 || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60 ||
	    oh > 23 || om > 59 || h < 0 || m < 0 || sec < 0 || oh < 0 || om < 0)
		return -EINVAL;
	tm.tm_year = Y - 1900;
	tm.tm_mon = M - 1;
	tm.tm_mday = D;
	tm.tm_hour = h;
	tm.tm_min = m;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -EINVAL;
	*out = t - (time_t)sign * (oh * 3600 + om * 60);
	return 0;
}

static int get_u64(struct pctx *x, const char *path, json_t *obj, const char *key, bool required,
		   uint64_t lo, uint64_t hi, uint64_t *out, bool *present)
{
	char p[PATH_LEN];
	json_t *j = json_object_get(obj, key);
	json_int_t v;

	if (present)
		*present = !!j;
	subpath(p, path, key);
	if (!j) {
		if (required)
			return perr(x, path, "missing '%s'", key);
		return 0;
	}
	if (!json_is_integer(j))
		return perr(x, p, "expected an integer, got %s", jtype(j));
	v = json_integer_value(j);
	if (v < 0 || (uint64_t)v < lo || (uint64_t)v > hi)
		return perr(x, p, "%lld is out of range [%llu, %llu]", (long long)v,
			    (unsigned long long)lo, (unsigned long long)hi);
	*out = (uint64_t)v;
	return 0;
}

static int get_array(struct pctx *x, const char *path, json_t *obj, const char *key, size_t max,
		     json_t **out)
{
	char p[PATH_LEN];
	json_t *j = json_object_get(obj, key);

	*out = NULL;
	if (!j)
		return 0;
	subpath(p, path, key);
	if (want(x, p, j, JSON_ARRAY, "an array"))
		return -EINVAL;
	if (json_array_size(j) > max)
		return perr(x, p, "%zu entries, more than the limit of %zu", json_array_size(j),
			    max);
	*out = j;
	return 0;
}

static bool valid_ifpattern(const char *s)
{
	size_t n = strlen(s);

	if (!n || n >= IFNAMSIZ || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f || *s == '/' ||
		    *s == ':')
			return false;
	return true;
}

/* A WireGuard public key: 32 bytes as 44 characters of base64, '=' last. */
static bool valid_wg_key(const char *s)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *c;
	int i;

	if (strlen(s) != 44 || s[43] != '=')
		return false;
	for (i = 0; i < 43; i++)
		if (!strchr(b64, s[i]) || !s[i])
			return false;
	/* The last character before '=' carries 2 padding bits that must be 0. */
	c = strchr(b64, s[42]);
	return ((c - b64) & 3) == 0;
}

/* ---- rules ---- */

static int parse_proto(struct pctx *x, const char *path, json_t *j, uint8_t *proto)
{
	static const struct {
		const char *name;
		uint8_t num;
	} names[] = { { "any", 0 },	{ "icmp", 1 },	 { "tcp", 6 },	    { "udp", 17 },
		      { "icmpv6", 58 }, { "sctp", 132 }, { "udplite", 136 } };
	char q[QMAX];
	size_t i;

	if (!j) {
		*proto = TW_PROTO_ANY;
		return 0;
	}
	if (json_is_integer(j)) {
		json_int_t v = json_integer_value(j);

		if (v < 0 || v > 255)
			return perr(x, path, "protocol number %lld is out of range [0, 255]",
				    (long long)v);
		*proto = (uint8_t)v;
		return 0;
	}
	if (want(x, path, j, JSON_STRING, "a protocol name or number"))
		return -EINVAL;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(json_string_value(j), names[i].name)) {
			*proto = names[i].num;
			return 0;
		}
	}
	quote(q, json_string_value(j));
	return perr(x, path,
		    "unknown protocol '%s' (tcp, udp, icmp, icmpv6, sctp, udplite, any or "
		    "a number)",
		    q);
}

static int parse_port_num(const char *s, const char **end, uint32_t *out)
{
	uint32_t v = 0;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	while (*s >= '0' && *s <= '9') {
		v = v * 10 + (*s++ - '0');
		if (v > 65535)
			return -ERANGE;
	}
	*end = s;
	*out = v;
	return 0;
}

static int parse_ports(struct pctx *x, const char *path, json_t *j, uint16_t *lo, uint16_t *hi)
{
	const char *s, *e;
	uint32_t a, b;
	char q[QMAX];
	int err;

	*lo = 0;
	*hi = 65535;
	if (!j)
		return 0;
	if (json_is_integer(j)) {
		json_int_t v = json_integer_value(j);

		if (v < 0 || v > 65535)
			return perr(x, path, "port %lld is out of range [0, 65535]", (long long)v);
		*lo = *hi = (uint16_t)v;
		return 0;
	}
	if (want(x, path, j, JSON_STRING, "a port (\"22\") or range (\"1000-2000\")"))
		return -EINVAL;
	s = json_string_value(j);
	quote(q, s);
	err = parse_port_num(s, &e, &a);
	if (!err) {
		b = a;
		if (*e == '-')
			err = parse_port_num(e + 1, &e, &b);
	}
	if (err == -ERANGE)
		return perr(x, path, "port in '%s' is out of range [0, 65535]", q);
	if (err || *e || strlen(s) != json_string_length(j))
		return perr(x, path, "bad port range '%s' (expected \"22\" or \"1000-2000\")", q);
	if (a > b)
		return perr(x, path, "port range '%s' has lo > hi", q);
	*lo = a;
	*hi = b;
	return 0;
}

/* "10.0.0.0/8", "fd00::/8", or a bare address meaning one host. */
static int parse_prefix(struct pctx *x, const char *path, const char *s, struct tw_addr *a,
			uint8_t *plen)
{
	char net[INET6_ADDRSTRLEN], q[QMAX];
	uint8_t masked[16];

	quote(q, s);
	switch (tw_prefix_scan(s, a, plen)) {
	case 0:
		return 0;
	case -TW_PREFIX_ELEN:
		return perr(x, path, "bad prefix length in '%s'", q);
	case -TW_PREFIX_ERANGE:
		return perr(x, path, "bad prefix length in '%s' (0-%u)", q,
			    tw_addr_bits(a->family));
	case -TW_PREFIX_EHOST:
		/* Almost always a typo for a host or for the network; say which
		 * network we would have used instead of guessing. */
		memcpy(masked, a->addr, 16);
		tw_addr_mask(masked, *plen);
		return perr(x, path, "'%s' has host bits set (the network is %s/%u)", q,
			    tw_addr_str(a->family, masked, net, sizeof(net)), *plen);
	default:
		return perr(x, path, "bad prefix '%s'", q);
	}
}

static const char *const rule_keys[] = { "prefix", "proto", "ports", NULL };

static int parse_rule(struct pctx *x, const char *path, json_t *j, uint8_t list, struct tw_rule *r)
{
	char p[PATH_LEN], q[QMAX];
	const char *prefix;
	json_t *ports;
	int err;

	if (want(x, path, j, JSON_OBJECT, "a rule object"))
		return -EINVAL;
	err = check_keys(x, path, j, rule_keys);
	err = err ?: get_str(x, path, j, "prefix", true, &prefix);
	if (err)
		return err;
	memset(r, 0, sizeof(*r));
	r->list = list;
	subpath(p, path, "prefix");
	err = parse_prefix(x, p, prefix, &r->prefix, &r->plen);
	if (err)
		return err;
	subpath(p, path, "proto");
	err = parse_proto(x, p, json_object_get(j, "proto"), &r->proto);
	if (err)
		return err;
	if ((r->proto == 1 && r->prefix.family == TW_FAM_V6) ||
	    (r->proto == 58 && r->prefix.family == TW_FAM_V4)) {
		quote(q, prefix);
		return perr(x, p, "'%s' never matches %s prefix '%s'",
			    r->proto == 1 ? "icmp" : "icmpv6",
			    r->prefix.family == TW_FAM_V4 ? "IPv4" : "IPv6", q);
	}
	ports = json_object_get(j, "ports");
	subpath(p, path, "ports");
	err = parse_ports(x, p, ports, &r->port_lo, &r->port_hi);
	if (err)
		return err;
	/* The datapath only sees ports of these protocols (tw_proto_has_ports);
	 * a port range on ICMP would silently match nothing. */
	if (ports && r->proto != TW_PROTO_ANY && r->proto != 6 && r->proto != 17 &&
	    r->proto != 132 && r->proto != 136)
		return perr(x, p, "protocol %u has no ports; drop 'ports' or use tcp/udp/sctp",
			    r->proto);
	return 0;
}

/* ---- tenants, profiles, subjects ---- */

static const char *const tenant_keys[] = { "id", "name", NULL };

static int parse_tenant(struct pctx *x, const char *path, json_t *j, struct tw_tenant **out)
{
	const char *id, *name;
	struct tw_tenant *t;
	size_t idl, nl;
	char *mem;
	int err;

	*out = NULL;
	if (want(x, path, j, JSON_OBJECT, "a tenant object"))
		return -EINVAL;
	err = check_keys(x, path, j, tenant_keys);
	err = err ?: get_str(x, path, j, "id", true, &id);
	err = err ?: get_str(x, path, j, "name", false, &name);
	if (err)
		return err;
	idl = strlen(id) + 1;
	nl = name ? strlen(name) + 1 : 1;
	t = calloc(1, sizeof(*t) + idl + nl);
	if (!t)
		return -ENOMEM;
	mem = (char *)(t + 1);
	memcpy(mem, id, idl);
	memcpy(mem + idl, name ? name : "", nl);
	node_init(&t->node, 0, mem);
	t->name = mem + idl;
	*out = t;
	return 0;
}

static const char *const profile_keys[] = { "id",	   "name",
					    "interfaces",  "confirmation_timeout",
					    "from_client", "to_client",
					    "sandbox",	   NULL };
static const char *const list_keys[TW_LIST__MAX] = {
	[TW_LIST_FROM_CLIENT] = "from_client",
	[TW_LIST_TO_CLIENT] = "to_client",
	[TW_LIST_SANDBOX] = "sandbox",
};

static int parse_profile(struct pctx *x, const char *path, json_t *j, struct tw_profile **out)
{
	json_t *lists[TW_LIST__MAX], *ifs, *ct, *e;
	const char *id, *name;
	struct tw_profile *pr;
	struct tw_rule *rules = NULL;
	char **ifaces = NULL;
	char p[PATH_LEN], p2[PATH_LEN], q[QMAX];
	size_t i, k, nrules = 0, nif = 0, total = 0;
	int err, l;

	*out = NULL;
	if (want(x, path, j, JSON_OBJECT, "a profile object"))
		return -EINVAL;
	err = check_keys(x, path, j, profile_keys);
	err = err ?: get_str(x, path, j, "id", true, &id);
	err = err ?: get_str(x, path, j, "name", false, &name);
	err = err ?: get_array(x, path, j, "interfaces", TW_POLICY_MAX_IFACES, &ifs);
	for (l = 0; !err && l < TW_LIST__MAX; l++) {
		err = get_array(x, path, j, list_keys[l], TW_POLICY_MAX_RULES, &lists[l]);
		total += lists[l] ? json_array_size(lists[l]) : 0;
	}
	if (err)
		return err;
	if (total > TW_POLICY_MAX_RULES)
		return perr(x, path, "%zu rules, more than the limit of %d", total,
			    TW_POLICY_MAX_RULES);

	pr = calloc(1, sizeof(*pr));
	if (!pr)
		return -ENOMEM;
	if (total) {
		rules = calloc(total, sizeof(*rules));
		if (!rules)
			goto enomem;
	}
	pr->rules = rules;
	if (ifs && json_array_size(ifs)) {
		ifaces = calloc(json_array_size(ifs), sizeof(*ifaces));
		if (!ifaces)
			goto enomem;
	}
	pr->ifaces = (const char *const *)ifaces;
	pr->node.id = xstrdup(id);
	pr->name = xstrdup(name);
	if (!pr->node.id || !pr->name)
		goto enomem;
	node_init(&pr->node, 0, pr->node.id);

	subpath(p, path, "interfaces");
	for (i = 0; ifs && i < json_array_size(ifs); i++) {
		e = json_array_get(ifs, i);
		idxpath(p2, p, i);
		if (want(x, p2, e, JSON_STRING, "an interface name")) {
			err = -EINVAL;
			goto fail;
		}
		quote(q, json_string_value(e));
		if (!valid_ifpattern(json_string_value(e)) ||
		    strlen(json_string_value(e)) != json_string_length(e)) {
			err = perr(x, p2, "bad interface name or pattern '%s'", q);
			goto fail;
		}
		for (k = 0; k < nif; k++) {
			if (!strcmp(ifaces[k], json_string_value(e))) {
				err = perr(x, p2, "interface '%s' listed twice", q);
				goto fail;
			}
		}
		ifaces[nif] = strdup(json_string_value(e));
		if (!ifaces[nif])
			goto enomem;
		pr->nifaces = ++nif;
	}

	ct = json_object_get(j, "confirmation_timeout");
	if (ct) {
		subpath(p, path, "confirmation_timeout");
		err = get_duration(x, p, ct, MIN_CONFIRM_S, MAX_CONFIRM_S, &pr->confirm_timeout_s);
		if (err)
			goto fail;
	}

	for (l = 0; l < TW_LIST__MAX; l++) {
		subpath(p, path, list_keys[l]);
		for (i = 0; lists[l] && i < json_array_size(lists[l]); i++) {
			idxpath(p2, p, i);
			err = parse_rule(x, p2, json_array_get(lists[l], i), l, &rules[nrules]);
			if (err)
				goto fail;
			pr->nrules = ++nrules;
		}
	}
	*out = pr;
	return 0;

enomem:
	err = -ENOMEM;
	perr_(x, path, "out of memory");
fail:
	free_profile(pr);
	return err;
}

/*
 * Name resolution while a bundle is parsed. For a snapshot, @base is the
 * policy being built. For a delta, @base is the live policy, @up holds the
 * delta's upserts and @rm the names it removes: the view is the policy as it
 * will be after the delta.
 */
struct view {
	const struct tw_policy *base;
	const struct htab *prof_up, *prof_rm;
	const struct htab *ten_up, *ten_rm;
};

static const struct tw_profile *view_profile(const struct view *v, const char *id)
{
	const struct tw_pnode *n = ht_find(v->prof_up, 0, id);

	if (n)
		return (const struct tw_profile *)n;
	if (ht_find(v->prof_rm, 0, id))
		return NULL;
	return (const struct tw_profile *)ht_find(&v->base->profiles, 0, id);
}

static const struct tw_tenant *view_tenant(const struct view *v, const char *id)
{
	const struct tw_pnode *n = ht_find(v->ten_up, 0, id);

	if (n)
		return (const struct tw_tenant *)n;
	if (ht_find(v->ten_rm, 0, id))
		return NULL;
	return (const struct tw_tenant *)ht_find(&v->base->tenants, 0, id);
}

static const char *const subject_keys[] = { "kind",	"id",	 "user", "tenant",
					    "profiles", "state", NULL };

static int parse_kind(struct pctx *x, const char *path, json_t *obj, enum tw_subject_kind *k)
{
	char p[PATH_LEN], q[QMAX];
	const char *s;
	int err;

	err = get_str(x, path, obj, "kind", true, &s);
	if (err)
		return err;
	if (tw_subject_kind_parse(s, k)) {
		subpath(p, path, "kind");
		quote(q, s);
		return perr(x, p, "unknown kind '%s' (cn, wg_key or ipsec_id)", q);
	}
	return 0;
}

static int check_subject_id(struct pctx *x, const char *path, enum tw_subject_kind kind,
			    const char *id)
{
	char p[PATH_LEN], q[QMAX];

	if (kind == TW_SUBJ_WG_KEY && !valid_wg_key(id)) {
		subpath(p, path, "id");
		quote(q, id);
		return perr(x, p, "'%s' is not a WireGuard public key (44 characters of base64)",
			    q);
	}
	return 0;
}

static int parse_subject(struct pctx *x, const char *path, json_t *j, const struct view *v,
			 struct tw_subject **out)
{
	const char *id, *user, *tenant, *state, *pid;
	char p[PATH_LEN], p2[PATH_LEN], q[QMAX];
	struct tw_subject tmp = {}, *s;
	enum tw_subject_kind kind;
	json_t *profs;
	size_t i, idl, ul;
	uint32_t k;
	char *mem;
	int err;

	*out = NULL;
	if (want(x, path, j, JSON_OBJECT, "a subject object"))
		return -EINVAL;
	err = check_keys(x, path, j, subject_keys);
	err = err ?: parse_kind(x, path, j, &kind);
	err = err ?: get_str(x, path, j, "id", true, &id);
	err = err ?: check_subject_id(x, path, kind, id);
	err = err ?: get_str(x, path, j, "user", false, &user);
	err = err ?: get_str(x, path, j, "tenant", false, &tenant);
	err = err ?: get_str(x, path, j, "state", true, &state);
	err = err ?: get_array(x, path, j, "profiles", TW_POLICY_MAX_SUBJ_PROFILES, &profs);
	if (err)
		return err;

	for (k = 0; k <= TW_SUBJ_REVOKED; k++)
		if (!strcmp(state, state_names[k]))
			break;
	if (k > TW_SUBJ_REVOKED) {
		subpath(p, path, "state");
		quote(q, state);
		return perr(x, p, "unknown state '%s'", q);
	}
	tmp.state = k;

	if (tenant) {
		const struct tw_tenant *t = view_tenant(v, tenant);

		if (!t) {
			subpath(p, path, "tenant");
			quote(q, tenant);
			return perr(x, p, "unknown tenant '%s'", q);
		}
		tmp.tenant = t->num;
	}

	subpath(p, path, "profiles");
	for (i = 0; profs && i < json_array_size(profs); i++) {
		const struct tw_profile *pr;
		json_t *e = json_array_get(profs, i);

		idxpath(p2, p, i);
		if (want(x, p2, e, JSON_STRING, "a profile id"))
			return -EINVAL;
		pid = json_string_value(e);
		quote(q, pid);
		pr = strlen(pid) == json_string_length(e) ? view_profile(v, pid) : NULL;
		if (!pr)
			return perr(x, p2, "unknown profile '%s'", q);
		if (tw_subject_has_profile(&tmp, pr->num))
			return perr(x, p2, "profile '%s' listed twice", q);
		tmp.profiles[tmp.nprofiles++] = pr->num;
	}

	idl = strlen(id) + 1;
	ul = user ? strlen(user) + 1 : 1;
	s = malloc(sizeof(*s) + idl + ul);
	if (!s)
		return perr_(x, path, "out of memory"), -ENOMEM;
	*s = tmp;
	mem = (char *)(s + 1);
	memcpy(mem, id, idl);
	memcpy(mem + idl, user ? user : "", ul);
	node_init(&s->node, kind, mem);
	s->user = mem + idl;
	*out = s;
	return 0;
}

static void subj_refs(struct tw_policy *p, const struct tw_subject *s, int delta)
{
	uint32_t i;

	for (i = 0; i < s->nprofiles; i++)
		p->prof_refs[s->profiles[i]] += delta;
	if (s->tenant)
		p->ten_refs[s->tenant] += delta;
}

/* ---- bundle header ---- */

static int parse_header(struct pctx *x, json_t *root, const char *type, uint64_t *version,
			time_t *gen)
{
	const char *t, *ga;
	char q[QMAX];
	int err;

	err = get_str(x, "", root, "type", false, &t);
	if (err)
		return err;
	if (t && strcmp(t, "snapshot") != 0 && strcmp(t, "delta") != 0) {
		quote(q, t);
		return perr(x, "type", "unknown bundle type '%s' (snapshot or delta)", q);
	}
	if (strcmp(t ? t : "snapshot", type) != 0)
		return perr(x, "type", "expected a %s, got a %s", type, t ? t : "snapshot");
	err = get_u64(x, "", root, "version", true, 1, INT64_MAX, version, NULL);
	err = err ?: get_str(x, "", root, "generated_at", false, &ga);
	if (err)
		return err;
	*gen = 0;
	if (ga && parse_rfc3339(ga, gen)) {
		quote(q, ga);
		return perr(x, "generated_at",
			    "bad timestamp '%s' (RFC 3339, e.g. "
			    "2026-11-22T04:00:00Z)",
			    q);
	}
	return 0;
}

static json_t *load_json(struct pctx *x, const char *buf, size_t len)
{
	json_error_t je;
	json_t *root;

	if (len > TW_POLICY_MAX_BYTES) {
		perr_(x, NULL, "bundle is %zu bytes, more than the limit of %u", len,
		      TW_POLICY_MAX_BYTES);
		errno = E2BIG;
		return NULL;
	}
	/* Duplicate members would let two readers of one bundle disagree. */
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		/* jansson's "near '...'" holds raw input bytes: escape them. */
		char text[sizeof(je.text) * 4];
		size_t i, o = 0;

		for (i = 0; je.text[i] && o + 5 < sizeof(text); i++) {
			unsigned char ch = je.text[i];

			if (ch >= 0x20 && ch < 0x7f)
				text[o++] = ch;
			else
				o += snprintf(text + o, sizeof(text) - o, "\\x%02x", ch);
		}
		text[o] = '\0';
		perr_(x, NULL, "invalid JSON at line %d column %d: %s", je.line, je.column, text);
		errno = EINVAL;
		return NULL;
	}
	if (!json_is_object(root)) {
		perr_(x, NULL, "expected a JSON object at the top, got %s", jtype(root));
		json_decref(root);
		errno = EINVAL;
		return NULL;
	}
	return root;
}

/* Lowest number in [1, max] used neither in @used_a nor @used_b. */
static uint32_t free_num(const uint8_t *used, uint32_t max)
{
	uint32_t n;

	for (n = 1; n <= max; n++)
		if (!(used[n / 8] & (1u << (n % 8))))
			return n;
	return 0;
}

static void mark_num(uint8_t *used, uint32_t n)
{
	used[n / 8] |= 1u << (n % 8);
}

/* ---- snapshots ---- */

static const char *const snapshot_keys[] = { "type",	"version",  "generated_at",
					     "tenants", "profiles", "subjects",
					     NULL };

static struct tw_policy *parse_snapshot(const struct tw_policy *prev, const char *buf, size_t len,
					char *errbuf, size_t errlen)
{
	struct pctx x = { .err = errbuf, .errlen = errlen };
	uint8_t *used = NULL;
	struct tw_policy *p = NULL;
	json_t *root, *arr;
	char path[PATH_LEN], q[QMAX];
	struct view v = {};
	size_t i, n;
	int err;

	if (errlen)
		errbuf[0] = '\0';
	root = load_json(&x, buf, len);
	if (!root)
		return NULL;
	err = check_keys(&x, "", root, snapshot_keys);
	if (err)
		goto out;
	p = calloc(1, sizeof(*p));
	used = calloc(1, TW_POLICY_MAX_TENANTS / 8 + 1);
	if (!p || !used)
		goto enomem;
	err = parse_header(&x, root, "snapshot", &p->version, &p->generated_at);
	if (err)
		goto out;
	if (prev && p->version <= prev->version) {
		perr_(&x, "version", "%llu is not newer than the current %llu",
		      (unsigned long long)p->version, (unsigned long long)prev->version);
		err = -ESTALE;
		goto out;
	}

	/* Tenants. A tenant keeps its number from @prev; new ones take
	 * numbers @prev did not use, so a live slot of a removed tenant never
	 * aliases a new one. */
	err = get_array(&x, "", root, "tenants", TW_POLICY_MAX_TENANTS, &arr);
	if (err)
		goto out;
	n = arr ? json_array_size(arr) : 0;
	if (ht_reserve(&p->tenants, n) || ten_reserve(p, prev ? prev->ten_cap + n : n + 1))
		goto enomem;
	for (i = 0; prev && i < prev->ten_cap; i++)
		if (prev->ten_by_num[i])
			mark_num(used, i);
	for (i = 0; i < n; i++) {
		struct tw_tenant *t;
		const struct tw_tenant *old;

		idxpath(path, "tenants", i);
		err = parse_tenant(&x, path, json_array_get(arr, i), &t);
		if (err)
			goto out;
		if (ht_find(&p->tenants, 0, t->node.id)) {
			quote(q, t->node.id);
			free_tenant(t);
			err = perr(&x, path, "duplicate tenant '%s'", q);
			goto out;
		}
		old = prev ? tw_policy_tenant(prev, t->node.id) : NULL;
		t->num = old ? old->num : 0;
		ht_put(&p->tenants, &t->node);
		if (t->num) {
			p->ten_by_num[t->num] = t;
		}
	}
	/* Bundle order, as for profiles below. */
	for (i = 0; i < n; i++) {
		const char *id = json_string_value(json_object_get(json_array_get(arr, i), "id"));
		struct tw_tenant *t = (struct tw_tenant *)ht_find(&p->tenants, 0, id);

		if (t->num)
			continue;
		t->num = free_num(used, TW_POLICY_MAX_TENANTS);
		if (!t->num) {
			err = perr(&x, "tenants", "no tenant number left");
			goto out;
		}
		mark_num(used, t->num);
		if (ten_reserve(p, t->num))
			goto enomem;
		p->ten_by_num[t->num] = t;
	}

	/* Profiles, numbered the same way. */
	memset(used, 0, TW_POLICY_MAX_TENANTS / 8 + 1);
	err = get_array(&x, "", root, "profiles", TW_POLICY_MAX_PROFILES, &arr);
	if (err)
		goto out;
	n = arr ? json_array_size(arr) : 0;
	if (ht_reserve(&p->profiles, n))
		goto enomem;
	for (i = 0; prev && i < TW_MAX_PROFILES; i++)
		if (prev->prof_by_num[i])
			mark_num(used, i);
	for (i = 0; i < n; i++) {
		struct tw_profile *pr;
		const struct tw_profile *old;

		idxpath(path, "profiles", i);
		err = parse_profile(&x, path, json_array_get(arr, i), &pr);
		if (err)
			goto out;
		if (ht_find(&p->profiles, 0, pr->node.id)) {
			quote(q, pr->node.id);
			free_profile(pr);
			err = perr(&x, path, "duplicate profile '%s'", q);
			goto out;
		}
		old = prev ? tw_policy_profile(prev, pr->node.id) : NULL;
		pr->num = old ? old->num : 0;
		ht_put(&p->profiles, &pr->node);
		if (pr->num)
			p->prof_by_num[pr->num] = pr;
	}
	/* Walk in bundle order so that a fresh policy numbers profiles 1, 2,
	 * 3... as they appear: predictable for operators and tests. */
	for (i = 0; i < n; i++) {
		const char *id = json_string_value(json_object_get(json_array_get(arr, i), "id"));
		struct tw_profile *pr = (struct tw_profile *)ht_find(&p->profiles, 0, id);

		if (pr->num)
			continue;
		pr->num = free_num(used, TW_POLICY_MAX_PROFILES);
		if (!pr->num) {
			idxpath(path, "profiles", i);
			err = perr(&x, path, "no profile number left (at most %d profiles)",
				   TW_POLICY_MAX_PROFILES);
			goto out;
		}
		mark_num(used, pr->num);
		p->prof_by_num[pr->num] = pr;
	}

	/* Subjects. */
	err = get_array(&x, "", root, "subjects", TW_POLICY_MAX_SUBJECTS, &arr);
	if (err)
		goto out;
	n = arr ? json_array_size(arr) : 0;
	if (ht_reserve(&p->subjects, n))
		goto enomem;
	v.base = p;
	for (i = 0; i < n; i++) {
		struct tw_subject *s;

		idxpath(path, "subjects", i);
		err = parse_subject(&x, path, json_array_get(arr, i), &v, &s);
		if (err)
			goto out;
		if (ht_find(&p->subjects, s->node.kind, s->node.id)) {
			quote(q, s->node.id);
			err = perr(&x, path, "duplicate subject %s '%s'",
				   tw_subject_kind_name(s->node.kind), q);
			free_subject(s);
			goto out;
		}
		ht_put(&p->subjects, &s->node);
		subj_refs(p, s, 1);
	}
	goto out;

enomem:
	err = -ENOMEM;
	perr_(&x, NULL, "out of memory");
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

/* ---- deltas ---- */

static const char *const delta_keys[] = { "type",    "base",	 "version",  "generated_at",
					  "tenants", "profiles", "subjects", NULL };
static const char *const change_keys[] = { "upsert", "remove", NULL };
static const char *const subj_ref_keys[] = { "kind", "id", NULL };

/* Staged changes of one kind of object. */
struct stage {
	struct htab up; /* new objects, owned until commit */
	struct htab rm; /* live objects to remove (not owned) */
	struct tw_pnode **up_order; /* upserts in bundle order, for numbering */
	size_t nup;
};

static void stage_release(struct stage *st, void (*free_obj)(void *))
{
	size_t i;

	for (i = 0; free_obj && i < st->up.cap; i++)
		if (st->up.slots[i])
			free_obj(st->up.slots[i]);
	ht_release(&st->up);
	ht_release(&st->rm);
	free(st->up_order);
}

static void free_profile_v(void *o)
{
	free_profile(o);
}

static void free_tenant_v(void *o)
{
	free_tenant(o);
}

static void free_subject_v(void *o)
{
	free_subject(o);
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
	if (want(x, key, c, JSON_OBJECT, "an object with \"upsert\" and/or \"remove\""))
		return -EINVAL;
	err = check_keys(x, key, c, change_keys);
	err = err ?: get_array(x, key, c, "upsert", max, up);
	err = err ?: get_array(x, key, c, "remove", max, rm);
	return err;
}

/* Removal list of tenant or profile ids. */
static int stage_removals(struct pctx *x, const char *what, json_t *rm, const struct htab *live,
			  struct stage *st)
{
	char path[PATH_LEN], q[QMAX];
	struct tw_pnode *n;
	size_t i;

	if (!rm)
		return 0;
	if (ht_reserve(&st->rm, json_array_size(rm)))
		return perr_(x, NULL, "out of memory"), -ENOMEM;
	for (i = 0; i < json_array_size(rm); i++) {
		json_t *e = json_array_get(rm, i);

		snprintf(path, sizeof(path), "%s.remove[%zu]", what, i);
		if (want(x, path, e, JSON_STRING, "an id"))
			return -EINVAL;
		quote(q, json_string_value(e));
		n = strlen(json_string_value(e)) == json_string_length(e) ?
			    ht_find(live, 0, json_string_value(e)) :
			    NULL;
		if (!n)
			return perr(x, path, "no %s '%s' to remove",
				    what[0] == 't' ? "tenant" : "profile", q);
		if (ht_find(&st->rm, 0, n->id))
			return perr(x, path, "'%s' removed twice", q);
		if (ht_find(&st->up, 0, n->id))
			return perr(x, path, "'%s' is both upserted and removed", q);
		ht_put(&st->rm, n);
	}
	return 0;
}

/*
 * Subjects that will still name tenant/profile @num after the delta: the
 * live count less the live subjects the delta removes or replaces.
 * Upserted subjects were resolved against the post-delta view already.
 */
static uint32_t refs_after(const struct tw_policy *p, const struct stage *subj, bool tenant,
			   uint32_t num)
{
	uint32_t refs = tenant ? p->ten_refs[num] : p->prof_refs[num];
	const struct tw_subject *old;
	uint32_t i;

	for (i = 0; i < subj->rm.cap; i++) {
		old = (const struct tw_subject *)subj->rm.slots[i];
		if (old && (tenant ? old->tenant == num : tw_subject_has_profile(old, num)))
			refs--;
	}
	for (i = 0; i < subj->up.cap; i++) {
		const struct tw_pnode *n = subj->up.slots[i];

		if (!n)
			continue;
		old = (const struct tw_subject *)ht_find(&p->subjects, n->kind, n->id);
		if (old && (tenant ? old->tenant == num : tw_subject_has_profile(old, num)))
			refs--;
	}
	return refs;
}

static int delta_check_refs(struct pctx *x, const struct tw_policy *p, const struct stage *ten,
			    const struct stage *prof, const struct stage *subj)
{
	char q[QMAX];
	uint32_t i;

	for (i = 0; i < ten->rm.cap; i++) {
		const struct tw_tenant *t = (const struct tw_tenant *)ten->rm.slots[i];

		if (t && refs_after(p, subj, true, t->num)) {
			quote(q, t->node.id);
			return perr(x, "tenants.remove",
				    "tenant '%s' is still used by %u subject(s)", q,
				    refs_after(p, subj, true, t->num));
		}
	}
	for (i = 0; i < prof->rm.cap; i++) {
		const struct tw_profile *pr = (const struct tw_profile *)prof->rm.slots[i];

		if (pr && refs_after(p, subj, false, pr->num)) {
			quote(q, pr->node.id);
			return perr(x, "profiles.remove",
				    "profile '%s' is still used by %u subject(s)", q,
				    refs_after(p, subj, false, pr->num));
		}
	}
	return 0;
}

int tw_policy_apply_delta(struct tw_policy *p, const char *buf, size_t len, char *errbuf,
			  size_t errlen)
{
	struct pctx x = { .err = errbuf, .errlen = errlen };
	struct stage ten = {}, prof = {}, subj = {};
	json_t *root, *up, *rm;
	uint8_t *used = NULL;
	uint64_t base = 0, version = 0;
	char path[PATH_LEN], q[QMAX];
	uint32_t max_ten = 0;
	time_t gen;
	size_t i;
	int err;

	if (errlen)
		errbuf[0] = '\0';
	root = load_json(&x, buf, len);
	if (!root)
		return -errno;
	err = check_keys(&x, "", root, delta_keys);
	err = err ?: parse_header(&x, root, "delta", &version, &gen);
	err = err ?: get_u64(&x, "", root, "base", true, 1, INT64_MAX, &base, NULL);
	if (err)
		goto out;
	if (base != p->version) {
		err = -ESTALE;
		perr_(&x, "base", "delta is for version %llu, policy is at version %llu",
		      (unsigned long long)base, (unsigned long long)p->version);
		goto out;
	}
	if (version <= base) {
		err = -ESTALE;
		perr_(&x, "version", "%llu is not newer than base %llu",
		      (unsigned long long)version, (unsigned long long)base);
		goto out;
	}
	used = calloc(1, TW_POLICY_MAX_TENANTS / 8 + 1);
	if (!used)
		goto enomem;

	/* Tenants: upserts keep their number, new ones take a number no
	 * live tenant has. */
	err = get_change(&x, root, "tenants", TW_POLICY_MAX_TENANTS, &up, &rm);
	if (err)
		goto out;
	if (up && (ht_reserve(&ten.up, json_array_size(up)) ||
		   !(ten.up_order = calloc(json_array_size(up), sizeof(struct tw_pnode *)))))
		goto enomem;
	for (i = 0; i < p->ten_cap; i++)
		if (p->ten_by_num[i])
			mark_num(used, i);
	for (i = 0; up && i < json_array_size(up); i++) {
		const struct tw_tenant *old;
		struct tw_tenant *t;

		snprintf(path, sizeof(path), "tenants.upsert[%zu]", i);
		err = parse_tenant(&x, path, json_array_get(up, i), &t);
		if (err)
			goto out;
		if (ht_find(&ten.up, 0, t->node.id)) {
			quote(q, t->node.id);
			free_tenant(t);
			err = perr(&x, path, "tenant '%s' upserted twice", q);
			goto out;
		}
		ht_put(&ten.up, &t->node);
		ten.up_order[ten.nup++] = &t->node;
		old = tw_policy_tenant(p, t->node.id);
		if (old) {
			t->num = old->num;
		} else {
			t->num = free_num(used, TW_POLICY_MAX_TENANTS);
			if (!t->num) {
				err = perr(&x, path, "no tenant number left");
				goto out;
			}
			mark_num(used, t->num);
		}
		if (t->num > max_ten)
			max_ten = t->num;
	}
	err = stage_removals(&x, "tenants", rm, &p->tenants, &ten);
	if (err)
		goto out;

	/* Profiles, the same. */
	memset(used, 0, TW_POLICY_MAX_TENANTS / 8 + 1);
	err = get_change(&x, root, "profiles", TW_POLICY_MAX_PROFILES, &up, &rm);
	if (err)
		goto out;
	if (up && (ht_reserve(&prof.up, json_array_size(up)) ||
		   !(prof.up_order = calloc(json_array_size(up), sizeof(struct tw_pnode *)))))
		goto enomem;
	for (i = 0; i < TW_MAX_PROFILES; i++)
		if (p->prof_by_num[i])
			mark_num(used, i);
	for (i = 0; up && i < json_array_size(up); i++) {
		const struct tw_profile *old;
		struct tw_profile *pr;

		snprintf(path, sizeof(path), "profiles.upsert[%zu]", i);
		err = parse_profile(&x, path, json_array_get(up, i), &pr);
		if (err)
			goto out;
		if (ht_find(&prof.up, 0, pr->node.id)) {
			quote(q, pr->node.id);
			free_profile(pr);
			err = perr(&x, path, "profile '%s' upserted twice", q);
			goto out;
		}
		ht_put(&prof.up, &pr->node);
		prof.up_order[prof.nup++] = &pr->node;
		old = tw_policy_profile(p, pr->node.id);
		if (old) {
			pr->num = old->num;
		} else {
			pr->num = free_num(used, TW_POLICY_MAX_PROFILES);
			if (!pr->num) {
				err = perr(&x, path, "no profile number left (at most %d profiles)",
					   TW_POLICY_MAX_PROFILES);
				goto out;
			}
			mark_num(used, pr->num);
		}
	}
	err = stage_removals(&x, "profiles", rm, &p->profiles, &prof);
	if (err)
		goto out;

	/* Subjects, resolved against the policy as it will be. */
	err = get_change(&x, root, "subjects", TW_POLICY_MAX_SUBJECTS, &up, &rm);
	if (err)
		goto out;
	if ((up && ht_reserve(&subj.up, json_array_size(up))) ||
	    (rm && ht_reserve(&subj.rm, json_array_size(rm))))
		goto enomem;
	for (i = 0; rm && i < json_array_size(rm); i++) {
		json_t *e = json_array_get(rm, i);
		enum tw_subject_kind kind;
		const char *id;
		struct tw_pnode *n;

		snprintf(path, sizeof(path), "subjects.remove[%zu]", i);
		if (want(&x, path, e, JSON_OBJECT, "a {\"kind\", \"id\"} object")) {
			err = -EINVAL;
			goto out;
		}
		err = check_keys(&x, path, e, subj_ref_keys);
		err = err ?: parse_kind(&x, path, e, &kind);
		err = err ?: get_str(&x, path, e, "id", true, &id);
		if (err)
			goto out;
		quote(q, id);
		n = ht_find(&p->subjects, kind, id);
		if (!n) {
			err = perr(&x, path, "no subject %s '%s' to remove",
				   tw_subject_kind_name(kind), q);
			goto out;
		}
		if (ht_find(&subj.rm, kind, id)) {
			err = perr(&x, path, "subject %s '%s' removed twice",
				   tw_subject_kind_name(kind), q);
			goto out;
		}
		ht_put(&subj.rm, n);
	}
	{
		struct view v = { .base = p,
				  .prof_up = &prof.up,
				  .prof_rm = &prof.rm,
				  .ten_up = &ten.up,
				  .ten_rm = &ten.rm };

		for (i = 0; up && i < json_array_size(up); i++) {
			struct tw_subject *s;

			snprintf(path, sizeof(path), "subjects.upsert[%zu]", i);
			err = parse_subject(&x, path, json_array_get(up, i), &v, &s);
			if (err)
				goto out;
			quote(q, s->node.id);
			if (ht_find(&subj.up, s->node.kind, s->node.id) ||
			    ht_find(&subj.rm, s->node.kind, s->node.id)) {
				err = perr(&x, path, "subject %s '%s' %s",
					   tw_subject_kind_name(s->node.kind), q,
					   ht_find(&subj.rm, s->node.kind, s->node.id) ?
						   "is both upserted and removed" :
						   "upserted twice");
				free_subject(s);
				goto out;
			}
			ht_put(&subj.up, &s->node);
		}
	}
	err = delta_check_refs(&x, p, &ten, &prof, &subj);
	if (err)
		goto out;

	/* Everything that can fail from here: room in the live tables. */
	if (p->subjects.n + subj.up.n > TW_POLICY_MAX_SUBJECTS + subj.rm.n) {
		err = perr(&x, "subjects", "more than %u subjects", TW_POLICY_MAX_SUBJECTS);
		goto out;
	}
	if (ht_reserve(&p->subjects, p->subjects.n + subj.up.n) ||
	    ht_reserve(&p->profiles, p->profiles.n + prof.up.n) ||
	    ht_reserve(&p->tenants, p->tenants.n + ten.up.n) || ten_reserve(p, max_ten))
		goto enomem;

	/* Commit: nothing below can fail. Subjects first, so reference
	 * counts are right before profiles and tenants go. */
	for (i = 0; i < subj.rm.cap; i++) {
		struct tw_pnode *n = subj.rm.slots[i];

		if (!n)
			continue;
		ht_del(&p->subjects, n->kind, n->id);
		subj_refs(p, (struct tw_subject *)n, -1);
		free_subject((struct tw_subject *)n);
	}
	for (i = 0; i < subj.up.cap; i++) {
		struct tw_pnode *n = subj.up.slots[i], *old;

		if (!n)
			continue;
		old = ht_put(&p->subjects, n);
		if (old) {
			subj_refs(p, (struct tw_subject *)old, -1);
			free_subject((struct tw_subject *)old);
		}
		subj_refs(p, (struct tw_subject *)n, 1);
		subj.up.slots[i] = NULL;
	}
	for (i = 0; i < prof.rm.cap; i++) {
		struct tw_profile *pr = (struct tw_profile *)prof.rm.slots[i];

		if (!pr)
			continue;
		ht_del(&p->profiles, 0, pr->node.id);
		p->prof_by_num[pr->num] = NULL;
		free_profile(pr);
	}
	for (i = 0; i < prof.nup; i++) {
		struct tw_profile *pr = (struct tw_profile *)prof.up_order[i];

		ht_put(&p->profiles, &pr->node);
		free_profile(p->prof_by_num[pr->num]);
		p->prof_by_num[pr->num] = pr;
	}
	ht_release(&prof.up); /* now owned by @p */
	for (i = 0; i < ten.rm.cap; i++) {
		struct tw_tenant *t = (struct tw_tenant *)ten.rm.slots[i];

		if (!t)
			continue;
		ht_del(&p->tenants, 0, t->node.id);
		p->ten_by_num[t->num] = NULL;
		free_tenant(t);
	}
	for (i = 0; i < ten.nup; i++) {
		struct tw_tenant *t = (struct tw_tenant *)ten.up_order[i];

		ht_put(&p->tenants, &t->node);
		free_tenant(p->ten_by_num[t->num]);
		p->ten_by_num[t->num] = t;
	}
	ht_release(&ten.up);
	p->version = version;
	if (gen)
		p->generated_at = gen;
	goto out;

enomem:
	err = -ENOMEM;
	perr_(&x, NULL, "out of memory");
out:
	stage_release(&ten, free_tenant_v);
	stage_release(&prof, free_profile_v);
	stage_release(&subj, free_subject_v);
	free(used);
	json_decref(root);
	return err;
}
