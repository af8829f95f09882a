// SPDX-License-Identifier: GPL-2.0-only
/*
 * The admin command line's policy commands: a table of (noun, verb) with
 * the options each takes. A writing command runs in one transaction of the
 * policy store: any refusal rolls it back, so the store is as before.
 *
 * Objects are checked with the node's own parser (userspace/lib/policy.c)
 * before they are stored, wrapped in a one-object snapshot: what the portal
 * accepts, every node accepts, and the errors read the same on both sides.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "padmin_policy.h"
#include "policy.h"
#include "polstore_int.h"

enum opt {
	O_USER,
	O_TENANT,
	O_PROFILE,
	O_STATE,
	O_NAME,
	O_IFACE,
	O_ALLOW,
	O_INBOUND,
	O_SANDBOX,
	O_TIMEOUT,
	O_SINCE,
	O__N,
};

#define OPT(o)	 (1u << (o))
#define MAX_VALS TW_POLICY_MAX_RULES

static const char *const opt_names[O__N] = {
	[O_USER] = "user",	 [O_TENANT] = "tenant",	  [O_PROFILE] = "profile",
	[O_STATE] = "state",	 [O_NAME] = "name",	  [O_IFACE] = "iface",
	[O_ALLOW] = "allow",	 [O_INBOUND] = "inbound", [O_SANDBOX] = "sandbox",
	[O_TIMEOUT] = "timeout", [O_SINCE] = "since",
};
/* Options that may be given more than once; the others are refused if repeated. */
#define OPT_LISTS (OPT(O_IFACE) | OPT(O_ALLOW) | OPT(O_INBOUND) | OPT(O_SANDBOX) | OPT(O_PROFILE))

struct args {
	const char *pos[2];
	int npos;
	const char *vals[O__N][MAX_VALS];
	int nvals[O__N];
};

struct ctx {
	struct tw_polstore *ps;
	FILE *out, *err;
	struct args *a;
};

static int fail(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(c->err, fmt, ap);
	va_end(ap);
	fputc('\n', c->err);
	return 1;
}

static const char *opt1(struct ctx *c, enum opt o)
{
	return c->a->nvals[o] ? c->a->vals[o][0] : NULL;
}

/* "a,b" and repeated options alike: all values of @o, split at commas, into @arr. */
static json_t *opt_list(struct ctx *c, enum opt o)
{
	json_t *arr = json_array();
	int i;

	for (i = 0; arr && i < c->a->nvals[o]; i++) {
		char *dup = strdup(c->a->vals[o][i]), *tok, *save = NULL;

		for (tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
			if (strcmp(tok, "none"))
				json_array_append_new(arr, json_string(tok));
		free(dup);
	}
	return arr;
}

/* The node's parser on a one-object snapshot; its error with the wrapper's path cut off. */
static int node_check(struct ctx *c, const char *what, json_t *wrap, const char *section)
{
	char err[512], *buf = json_dumps(wrap, JSON_COMPACT);
	size_t sl = strlen(section);
	struct tw_policy *p;
	const char *e = err;

	if (!buf)
		return fail(c, "out of memory");
	p = tw_policy_parse(buf, strlen(buf), err, sizeof(err));
	free(buf);
	if (p) {
		tw_policy_free(p);
		return 0;
	}
	if (!strncmp(e, section, sl) && !strncmp(e + sl, "[0].", 4))
		e += sl + 4;
	return fail(c, "%s: %s", what, e);
}

static int parse_subject_ref(struct ctx *c, const char *ref, char *kind, size_t klen,
			     const char **id)
{
	const char *colon = strchr(ref, ':');
	enum tw_subject_kind k;

	if (!colon || (size_t)(colon - ref) >= klen)
		return fail(c,
			    "subject '%s': expected KIND:ID (cn:alice, wg_key:..., ipsec_id:...)",
			    ref);
	memcpy(kind, ref, (size_t)(colon - ref));
	kind[colon - ref] = 0;
	if (tw_subject_kind_parse(kind, &k))
		return fail(c, "subject '%s': unknown kind '%s' (cn, wg_key or ipsec_id)", ref,
			    kind);
	*id = colon + 1;
	return 0;
}

static json_t *load(struct ctx *c, enum tw_pclass cl, const char *kind, const char *id)
{
	char *s = NULL;
	json_t *o;

	if (tw_polstore_get(c->ps, cl, kind, id, &s))
		return NULL;
	o = json_loads(s, 0, NULL);
	free(s);
	return o;
}

static const char *jstr(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static bool has_id(json_t *arr, const char *id)
{
	json_t *w;
	size_t j;

	json_array_foreach(arr, j, w)
		if (!strcmp(jstr(w, "id"), id))
			return true;
	return false;
}

/* Check a subject object against the store and the node's parser, then store it. */
static int store_subject(struct ctx *c, json_t *o)
{
	const char *kind = jstr(o, "kind"), *id = jstr(o, "id"), *tenant = jstr(o, "tenant");
	json_t *profs = json_object_get(o, "profiles"), *v, *wrap, *ts, *ps;
	const char *names[TW_POLICY_MAX_SUBJ_PROFILES + 1];
	char what[300], *buf;
	size_t i, n = 0;
	int ret;

	snprintf(what, sizeof(what), "subject %s:%s", kind, id);
	if (tenant && tw_polstore_get(c->ps, TW_PC_TENANT, "", tenant, NULL))
		return fail(c, "%s: unknown tenant '%s'", what, tenant);
	wrap = json_pack("{s:i, s:[], s:[], s:[O]}", "version", 1, "tenants", "profiles",
			 "subjects", o);
	ts = json_object_get(wrap, "tenants");
	ps = json_object_get(wrap, "profiles");
	if (tenant)
		json_array_append_new(ts, json_pack("{s:s}", "id", tenant));
	json_array_foreach(profs, i, v) {
		const char *p = json_string_value(v);

		if (p && tw_polstore_get(c->ps, TW_PC_PROFILE, "", p, NULL)) {
			json_decref(wrap);
			return fail(c, "%s: unknown profile '%s'", what, p);
		}
		if (p && n < TW_POLICY_MAX_SUBJ_PROFILES)
			names[n++] = p;
		/* Each profile once in the wrapper; a subject naming one twice is the parser's to refuse. */
		if (p && !has_id(ps, p))
			json_array_append_new(ps, json_pack("{s:s}", "id", p));
	}
	ret = node_check(c, what, wrap, "subjects");
	json_decref(wrap);
	if (ret)
		return ret;
	buf = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!buf)
		return fail(c, "out of memory");
	ret = tw_polstore_put_subject(c->ps, kind, id, jstr(o, "user"), tenant, names, n,
				      jstr(o, "state"), buf);
	free(buf);
	return ret ? fail(c, "%s: cannot store it (%s)", what, strerror(-ret)) : 0;
}

static int store_keyed(struct ctx *c, enum tw_pclass cl, json_t *o)
{
	const char *section = cl == TW_PC_TENANT ? "tenants" : "profiles";
	const char *id = jstr(o, "id");
	json_t *wrap = json_pack("{s:i, s:[O]}", "version", 1, section, o);
	char what[300], *buf;
	int ret;

	snprintf(what, sizeof(what), "%s '%s'", cl == TW_PC_TENANT ? "tenant" : "profile", id);
	ret = node_check(c, what, wrap, section);
	json_decref(wrap);
	if (ret)
		return ret;
	buf = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!buf)
		return fail(c, "out of memory");
	ret = cl == TW_PC_TENANT ? tw_polstore_put_tenant(c->ps, id, buf) :
				   tw_polstore_put_profile(c->ps, id, buf);
	free(buf);
	return ret ? fail(c, "%s: cannot store it (%s)", what, strerror(-ret)) : 0;
}

static long long count(struct ctx *c, const char *table)
{
	char sql[64];
	sqlite3_stmt *s;
	long long n = -1;

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
	if (sqlite3_prepare_v2(c->ps->db, sql, -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return n;
}

/* --- subjects --- */

static void subject_opts(struct ctx *c, json_t *o)
{
	const char *user = opt1(c, O_USER), *tenant = opt1(c, O_TENANT), *state = opt1(c, O_STATE);

	/* Members in the documented order whatever is given: rebuilt below. */
	if (user && *user)
		json_object_set_new(o, "user", json_string(user));
	else if (user)
		json_object_del(o, "user");
	if (tenant && *tenant)
		json_object_set_new(o, "tenant", json_string(tenant));
	else if (tenant)
		json_object_del(o, "tenant");
	if (c->a->nvals[O_PROFILE])
		json_object_set_new(o, "profiles", opt_list(c, O_PROFILE));
	if (state)
		json_object_set_new(o, "state", json_string(state));
}

static json_t *subject_ordered(json_t *o)
{
	static const char *const keys[] = { "kind", "id", "user", "tenant", "profiles", "state" };
	json_t *n = json_object(), *v;
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if ((v = json_object_get(o, keys[i])) && !(json_is_array(v) && !json_array_size(v)))
			json_object_set(n, keys[i], v);
	json_decref(o);
	return n;
}

static int cmd_subject_add(struct ctx *c)
{
	const char *id;
	char kind[16];
	json_t *o;
	int ret;

	if (parse_subject_ref(c, c->a->pos[0], kind, sizeof(kind), &id))
		return 1;
	if (!tw_polstore_get(c->ps, TW_PC_SUBJECT, kind, id, NULL))
		return fail(c, "subject %s: exists already (subject set changes it)", c->a->pos[0]);
	if (count(c, "subjects") >= TW_POLICY_MAX_SUBJECTS)
		return fail(c, "subject %s: the policy holds %u subjects, the most a node takes",
			    c->a->pos[0], TW_POLICY_MAX_SUBJECTS);
	o = json_pack("{s:s, s:s, s:s}", "kind", kind, "id", id, "state", "enabled");
	subject_opts(c, o);
	o = subject_ordered(o);
	ret = store_subject(c, o);
	json_decref(o);
	return ret;
}

static int cmd_subject_set(struct ctx *c)
{
	const char *id;
	char kind[16];
	json_t *o;
	int ret;

	if (parse_subject_ref(c, c->a->pos[0], kind, sizeof(kind), &id))
		return 1;
	o = load(c, TW_PC_SUBJECT, kind, id);
	if (!o)
		return fail(c, "subject %s: no such subject", c->a->pos[0]);
	subject_opts(c, o);
	o = subject_ordered(o);
	ret = store_subject(c, o);
	json_decref(o);
	return ret;
}

/* State changes: which states each verb leaves from, and where it goes. */
static const struct {
	const char *verb, *to;
	const char *from[4]; /* NULL-terminated; empty: any */
} transitions[] = {
	{ "enable", "enabled", { "disabled", "needs-confirmation", NULL } },
	{ "confirm", "enabled", { "needs-confirmation", NULL } },
	{ "disable", "disabled", { "enabled", "needs-confirmation", NULL } },
	{ "revoke", "revoked", { NULL } },
};

static int cmd_subject_state(struct ctx *c, const char *verb)
{
	const char *id, *cur;
	char kind[16];
	size_t t, i;
	json_t *o;
	bool ok;
	int ret;

	for (t = 0; strcmp(transitions[t].verb, verb); t++)
		;
	if (parse_subject_ref(c, c->a->pos[0], kind, sizeof(kind), &id))
		return 1;
	o = load(c, TW_PC_SUBJECT, kind, id);
	if (!o)
		return fail(c, "subject %s: no such subject", c->a->pos[0]);
	cur = jstr(o, "state");
	if (!strcmp(cur, transitions[t].to)) {
		fprintf(c->out, "subject %s is %s already\n", c->a->pos[0], cur);
		json_decref(o);
		return 0;
	}
	ok = !transitions[t].from[0];
	for (i = 0; transitions[t].from[i]; i++)
		ok |= !strcmp(cur, transitions[t].from[i]);
	if (!ok) {
		ret = fail(c, "subject %s: cannot %s it: it is %s%s", c->a->pos[0], verb, cur,
			   !strcmp(cur, "revoked") ?
				   " (subject set --state enabled, if you mean it)" :
				   "");
		json_decref(o);
		return ret;
	}
	json_object_set_new(o, "state", json_string(transitions[t].to));
	ret = store_subject(c, o);
	json_decref(o);
	return ret;
}

static int cmd_subject_enable(struct ctx *c)
{
	return cmd_subject_state(c, "enable");
}
static int cmd_subject_confirm(struct ctx *c)
{
	return cmd_subject_state(c, "confirm");
}
static int cmd_subject_disable(struct ctx *c)
{
	return cmd_subject_state(c, "disable");
}
static int cmd_subject_revoke(struct ctx *c)
{
	return cmd_subject_state(c, "revoke");
}

static int cmd_subject_del(struct ctx *c)
{
	const char *id;
	char kind[16];

	if (parse_subject_ref(c, c->a->pos[0], kind, sizeof(kind), &id))
		return 1;
	if (tw_polstore_del(c->ps, TW_PC_SUBJECT, kind, id))
		return fail(c, "subject %s: no such subject", c->a->pos[0]);
	return 0;
}

static int list_json(struct ctx *c, const char *sql)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(c->ps->db, sql, -1, &s, NULL) != SQLITE_OK)
		return fail(c, "policy store: %s", sqlite3_errmsg(c->ps->db));
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		fprintf(c->out, "%s\n", (const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : fail(c, "policy store: %s", sqlite3_errmsg(c->ps->db));
}

/* subject list [--state S] [--tenant T] [--user U]: e.g. who waits for a confirmation. */
static int cmd_subject_list(struct ctx *c)
{
	static const char *const states[] = { "enabled", "needs-confirmation", "disabled",
					      "revoked" };
	static const enum opt filters[] = { O_STATE, O_TENANT, O_USER };
	const char *state = opt1(c, O_STATE);
	sqlite3_stmt *s;
	size_t i;
	int rc;

	for (i = 0; state && i < sizeof(states) / sizeof(states[0]); i++)
		if (!strcmp(state, states[i]))
			break;
	if (state && i == sizeof(states) / sizeof(states[0]))
		return fail(c,
			    "--state '%s': unknown state (enabled, needs-confirmation, disabled"
			    " or revoked)",
			    state);
	if (sqlite3_prepare_v2(c->ps->db,
			       "SELECT json FROM subjects WHERE (?1 IS NULL OR state = ?1)"
			       " AND (?2 IS NULL OR tenant = ?2) AND (?3 IS NULL OR user = ?3)"
			       " ORDER BY rowid",
			       -1, &s, NULL) != SQLITE_OK)
		return fail(c, "policy store: %s", sqlite3_errmsg(c->ps->db));
	for (i = 0; i < sizeof(filters) / sizeof(filters[0]); i++)
		if (opt1(c, filters[i]))
			sqlite3_bind_text(s, (int)i + 1, opt1(c, filters[i]), -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		fprintf(c->out, "%s\n", (const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : fail(c, "policy store: %s", sqlite3_errmsg(c->ps->db));
}

/* --- profiles --- */

static json_t *rule_json(struct ctx *c, const char *spec, const char *opt)
{
	char *dup = strdup(spec), *f[3] = { 0 }, *p = dup;
	json_t *r;
	int n = 0;

	while (p && n < 3) {
		f[n++] = p;
		p = strchr(p, ',');
		if (p)
			*p++ = 0;
	}
	if (p || !f[0] || !*f[0]) {
		fail(c, "--%s '%s': expected PREFIX[,PROTO[,PORTS]]", opt, spec);
		free(dup);
		return NULL;
	}
	r = json_pack("{s:s}", "prefix", f[0]);
	if (f[1] && *f[1])
		json_object_set_new(r, "proto", json_string(f[1]));
	if (f[2] && *f[2])
		json_object_set_new(r, "ports", json_string(f[2]));
	free(dup);
	return r;
}

static const struct {
	enum opt opt;
	const char *key;
} rule_lists[] = {
	{ O_ALLOW, "from_client" },
	{ O_INBOUND, "to_client" },
	{ O_SANDBOX, "sandbox" },
};

static int profile_opts(struct ctx *c, json_t *o)
{
	const char *name = opt1(c, O_NAME), *to = opt1(c, O_TIMEOUT);
	size_t l;
	int i;

	if (name && *name)
		json_object_set_new(o, "name", json_string(name));
	else if (name)
		json_object_del(o, "name");
	if (c->a->nvals[O_IFACE])
		json_object_set_new(o, "interfaces", opt_list(c, O_IFACE));
	if (to && !*to)
		json_object_del(o, "confirmation_timeout");
	else if (to && strspn(to, "0123456789") == strlen(to))
		json_object_set_new(o, "confirmation_timeout", json_integer(atoll(to)));
	else if (to)
		json_object_set_new(o, "confirmation_timeout", json_string(to));
	for (l = 0; l < sizeof(rule_lists) / sizeof(rule_lists[0]); l++) {
		enum opt op = rule_lists[l].opt;
		json_t *arr;

		if (!c->a->nvals[op])
			continue;
		arr = json_array();
		for (i = 0; i < c->a->nvals[op]; i++) {
			json_t *r;

			if (!strcmp(c->a->vals[op][i], "none"))
				continue;
			r = rule_json(c, c->a->vals[op][i], opt_names[op]);
			if (!r) {
				json_decref(arr);
				return 1;
			}
			json_array_append_new(arr, r);
		}
		json_object_set_new(o, rule_lists[l].key, arr);
	}
	return 0;
}

static json_t *profile_ordered(json_t *o)
{
	static const char *const keys[] = { "id",	   "name",
					    "interfaces",  "confirmation_timeout",
					    "from_client", "to_client",
					    "sandbox" };
	json_t *n = json_object(), *v;
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if ((v = json_object_get(o, keys[i])) && !(json_is_array(v) && !json_array_size(v)))
			json_object_set(n, keys[i], v);
	json_decref(o);
	return n;
}

static int profile_write(struct ctx *c, bool add)
{
	const char *id = c->a->pos[0];
	json_t *o;
	int ret;

	o = load(c, TW_PC_PROFILE, "", id);
	if (add && o) {
		json_decref(o);
		return fail(c, "profile '%s': exists already (profile set changes it)", id);
	}
	if (!add && !o)
		return fail(c, "profile '%s': no such profile", id);
	if (add && count(c, "profiles") >= TW_POLICY_MAX_PROFILES)
		return fail(c, "profile '%s': the policy holds %u profiles, the most a node takes",
			    id, TW_POLICY_MAX_PROFILES);
	if (!o)
		o = json_pack("{s:s}", "id", id);
	ret = profile_opts(c, o);
	o = profile_ordered(o);
	ret = ret ?: store_keyed(c, TW_PC_PROFILE, o);
	json_decref(o);
	return ret;
}

static int cmd_profile_add(struct ctx *c)
{
	return profile_write(c, true);
}

static int cmd_profile_set(struct ctx *c)
{
	return profile_write(c, false);
}

static int keyed_del(struct ctx *c, enum tw_pclass cl, const char *what)
{
	const char *id = c->a->pos[0];
	long long n;

	if (tw_polstore_get(c->ps, cl, "", id, NULL))
		return fail(c, "%s '%s': no such %s", what, id, what);
	n = tw_polstore_users(c->ps, cl, id);
	if (n)
		return fail(c, "%s '%s': still named by %lld subject%s", what, id, n,
			    n == 1 ? "" : "s");
	return tw_polstore_del(c->ps, cl, "", id) ? fail(c, "%s '%s': cannot remove", what, id) : 0;
}

static int cmd_profile_del(struct ctx *c)
{
	return keyed_del(c, TW_PC_PROFILE, "profile");
}

static int cmd_profile_list(struct ctx *c)
{
	return list_json(c, "SELECT json FROM profiles ORDER BY rowid");
}

/* --- tenants --- */

static int cmd_tenant_add(struct ctx *c)
{
	const char *id = c->a->pos[0], *name = opt1(c, O_NAME);
	json_t *o;
	int ret;

	if (!tw_polstore_get(c->ps, TW_PC_TENANT, "", id, NULL))
		return fail(c, "tenant '%s': exists already", id);
	if (count(c, "tenants") >= TW_POLICY_MAX_TENANTS)
		return fail(c, "tenant '%s': the policy holds %u tenants, the most a node takes",
			    id, TW_POLICY_MAX_TENANTS);
	o = json_pack("{s:s}", "id", id);
	if (name && *name)
		json_object_set_new(o, "name", json_string(name));
	ret = store_keyed(c, TW_PC_TENANT, o);
	json_decref(o);
	return ret;
}

static int cmd_tenant_del(struct ctx *c)
{
	return keyed_del(c, TW_PC_TENANT, "tenant");
}

static int cmd_tenant_list(struct ctx *c)
{
	return list_json(c, "SELECT json FROM tenants ORDER BY rowid");
}

/* --- the policy as a whole --- */

static int cmd_policy_show(struct ctx *c)
{
	const char *since_s = opt1(c, O_SINCE);
	unsigned long long since = 0;
	uint64_t v;
	char *line, *end;
	size_t len;
	int kind;

	if (since_s) {
		errno = 0;
		since = strtoull(since_s, &end, 10);
		if (errno || end == since_s || *end || *since_s == '-' || since > INT64_MAX)
			return fail(c, "--since '%s': expected a version, 0 to 2^63-1", since_s);
	}
	kind = tw_polstore_bundle(c->ps, "", since, &line, &len, &v);
	if (kind == -ESTALE)
		return fail(c, "--since %llu: the store is at version %llu", since,
			    (unsigned long long)v);
	if (kind == -E2BIG)
		return fail(c, "the bundle would be over %u bytes, more than a node takes",
			    TW_POLICY_MAX_BYTES);
	if (kind < 0)
		return fail(c, "policy store: %s", strerror(-kind));
	if (kind == TW_BUNDLE_NONE) {
		fprintf(c->err, "version %llu is current%s\n", (unsigned long long)v,
			v ? "" : " (the store is empty)");
		return 0;
	}
	fwrite(line, 1, len, c->out);
	fputc('\n', c->out);
	free(line);
	return 0;
}

static int import_section(struct ctx *c, json_t *root, const char *key, enum tw_pclass cl)
{
	json_t *arr = json_object_get(root, key), *o;
	size_t i;
	int ret = 0;

	json_array_foreach(arr, i, o) {
		const char *names[TW_POLICY_MAX_SUBJ_PROFILES];
		char *buf = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
		json_t *profs, *p;
		size_t j, n = 0;

		if (!buf)
			return fail(c, "out of memory");
		if (cl == TW_PC_TENANT) {
			ret = tw_polstore_put_tenant(c->ps, jstr(o, "id"), buf);
		} else if (cl == TW_PC_PROFILE) {
			ret = tw_polstore_put_profile(c->ps, jstr(o, "id"), buf);
		} else {
			profs = json_object_get(o, "profiles");
			json_array_foreach(profs, j, p)
				if (n < TW_POLICY_MAX_SUBJ_PROFILES)
					names[n++] = json_string_value(p);
			ret = tw_polstore_put_subject(c->ps, jstr(o, "kind"), jstr(o, "id"),
						      jstr(o, "user"), jstr(o, "tenant"), names, n,
						      jstr(o, "state"), buf);
		}
		free(buf);
		if (ret)
			return fail(c, "%s[%zu]: cannot store it (%s)", key, i, strerror(-ret));
	}
	return 0;
}

static int cmd_policy_import(struct ctx *c)
{
	const char *file = c->a->pos[0];
	struct tw_policy *p;
	json_error_t je;
	char err[512];
	json_t *root;
	FILE *f;
	char *buf;
	long sz;
	int ret;

	f = fopen(file, "r");
	if (!f)
		return fail(c, "%s: %s", file, strerror(errno));
	if (fseek(f, 0, SEEK_END) || (sz = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
		fclose(f);
		return fail(c, "%s: cannot read it", file);
	}
	if (sz > (long)TW_POLICY_MAX_BYTES) {
		fclose(f);
		return fail(c, "%s: %ld bytes, a bundle is at most %u", file, sz,
			    TW_POLICY_MAX_BYTES);
	}
	buf = malloc((size_t)sz + 1);
	if (!buf || fread(buf, 1, (size_t)sz, f) != (size_t)sz) {
		fclose(f);
		free(buf);
		return fail(c, "%s: cannot read it", file);
	}
	fclose(f);
	buf[sz] = 0;
	p = tw_policy_parse(buf, (size_t)sz, err, sizeof(err));
	if (!p) {
		free(buf);
		return fail(c, "%s: %s", file, err);
	}
	tw_policy_free(p);
	root = json_loadb(buf, (size_t)sz, 0, &je);
	free(buf);
	if (!root)
		return fail(c, "%s: %s", file, je.text);
	if (jstr(root, "type") && strcmp(jstr(root, "type"), "snapshot")) {
		json_decref(root);
		return fail(c, "%s: a delta; import takes a snapshot", file);
	}
	ret = tw_polstore_clear(c->ps) ? fail(c, "policy store: cannot clear it") : 0;
	ret = ret ?: import_section(c, root, "tenants", TW_PC_TENANT);
	ret = ret ?: import_section(c, root, "profiles", TW_PC_PROFILE);
	ret = ret ?: import_section(c, root, "subjects", TW_PC_SUBJECT);
	if (!ret)
		fprintf(c->out, "%s: %zu tenants, %zu profiles, %zu subjects\n", file,
			json_array_size(json_object_get(root, "tenants")),
			json_array_size(json_object_get(root, "profiles")),
			json_array_size(json_object_get(root, "subjects")));
	json_decref(root);
	return ret;
}

/* --- the table --- */

static const struct cmd {
	const char *noun, *verb;
	int (*fn)(struct ctx *c);
	int npos; /* positional arguments after the verb */
	unsigned int opts; /* OPT() bits accepted */
	bool writes;
	const char *usage;
} cmds[] = {
	{ "subject", "add", cmd_subject_add, 1,
	  OPT(O_USER) | OPT(O_TENANT) | OPT(O_PROFILE) | OPT(O_STATE), true,
	  "KIND:ID [--user U] [--tenant T] [--profile P[,P]] [--state S]" },
	{ "subject", "set", cmd_subject_set, 1,
	  OPT(O_USER) | OPT(O_TENANT) | OPT(O_PROFILE) | OPT(O_STATE), true,
	  "KIND:ID [--user U] [--tenant T] [--profile P[,P]] [--state S]  ('' clears)" },
	{ "subject", "enable", cmd_subject_enable, 1, 0, true, "KIND:ID" },
	{ "subject", "confirm", cmd_subject_confirm, 1, 0, true,
	  "KIND:ID  (needs-confirmation -> enabled: leaves the sandbox)" },
	{ "subject", "disable", cmd_subject_disable, 1, 0, true, "KIND:ID" },
	{ "subject", "revoke", cmd_subject_revoke, 1, 0, true, "KIND:ID" },
	{ "subject", "del", cmd_subject_del, 1, 0, true, "KIND:ID" },
	{ "subject", "list", cmd_subject_list, 0, OPT(O_STATE) | OPT(O_TENANT) | OPT(O_USER), false,
	  "[--state S] [--tenant T] [--user U]" },
	{ "profile", "add", cmd_profile_add, 1,
	  OPT(O_NAME) | OPT(O_IFACE) | OPT(O_ALLOW) | OPT(O_INBOUND) | OPT(O_SANDBOX) |
		  OPT(O_TIMEOUT),
	  true,
	  "ID [--name N] [--iface GLOB]... [--allow|--inbound|--sandbox PREFIX[,PROTO[,PORTS]]]..."
	  " [--timeout 10m]" },
	{ "profile", "set", cmd_profile_set, 1,
	  OPT(O_NAME) | OPT(O_IFACE) | OPT(O_ALLOW) | OPT(O_INBOUND) | OPT(O_SANDBOX) |
		  OPT(O_TIMEOUT),
	  true, "ID [options of add]  (a list given replaces that list; 'none' empties it)" },
	{ "profile", "del", cmd_profile_del, 1, 0, true, "ID" },
	{ "profile", "list", cmd_profile_list, 0, 0, false, "" },
	{ "tenant", "add", cmd_tenant_add, 1, OPT(O_NAME), true, "ID [--name N]" },
	{ "tenant", "del", cmd_tenant_del, 1, 0, true, "ID" },
	{ "tenant", "list", cmd_tenant_list, 0, 0, false, "" },
	{ "policy", "show", cmd_policy_show, 0, OPT(O_SINCE), false,
	  "[--since V]  (the bundle a node at V gets)" },
	{ "policy", "import", cmd_policy_import, 1, 0, true,
	  "FILE  (a snapshot, docs/policy.md; replaces the whole policy)" },
};
#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

bool tw_padmin_policy_has(const char *cmd)
{
	size_t i;

	for (i = 0; cmd && i < NCMDS; i++)
		if (!strcmp(cmds[i].noun, cmd))
			return true;
	return false;
}

void tw_padmin_policy_usage(FILE *out)
{
	size_t i;

	for (i = 0; i < NCMDS; i++)
		fprintf(out, "  %s %s%s%s\n", cmds[i].noun, cmds[i].verb, *cmds[i].usage ? " " : "",
			cmds[i].usage);
}

static int parse_args(const struct cmd *cmd, int argc, char **argv, struct args *a, FILE *err)
{
	int i, o;

	for (i = 0; i < argc; i++) {
		const char *s = argv[i];

		if (strncmp(s, "--", 2)) {
			if (a->npos >= cmd->npos) {
				fprintf(err, "%s %s: unexpected argument '%s'\n", cmd->noun,
					cmd->verb, s);
				return 2;
			}
			a->pos[a->npos++] = s;
			continue;
		}
		for (o = 0; o < O__N && strcmp(s + 2, opt_names[o]); o++)
			;
		if (o == O__N || !(cmd->opts & OPT(o))) {
			fprintf(err, "%s %s: unknown option '%s'\n", cmd->noun, cmd->verb, s);
			return 2;
		}
		if (i + 1 >= argc) {
			fprintf(err, "%s %s: %s needs a value\n", cmd->noun, cmd->verb, s);
			return 2;
		}
		if (a->nvals[o] && !(OPT_LISTS & OPT(o))) {
			fprintf(err, "%s %s: %s given twice\n", cmd->noun, cmd->verb, s);
			return 2;
		}
		if (a->nvals[o] >= MAX_VALS) {
			fprintf(err, "%s %s: %s given more than %d times\n", cmd->noun, cmd->verb,
				s, MAX_VALS);
			return 2;
		}
		a->vals[o][a->nvals[o]++] = argv[++i];
	}
	if (a->npos < cmd->npos) {
		fprintf(err, "usage: %s %s %s\n", cmd->noun, cmd->verb, cmd->usage);
		return 2;
	}
	return 0;
}

int tw_padmin_policy_run(struct tw_polstore *ps, int argc, char **argv, FILE *out, FILE *err)
{
	const struct cmd *cmd = NULL;
	struct ctx c = { .ps = ps, .out = out, .err = err };
	char msg[256];
	uint64_t v;
	size_t i;
	int ret;

	for (i = 0; argc >= 2 && i < NCMDS; i++)
		if (!strcmp(cmds[i].noun, argv[0]) && !strcmp(cmds[i].verb, argv[1]))
			cmd = &cmds[i];
	if (!cmd) {
		fprintf(err, "unknown command '%s%s%s'; the policy commands are:\n",
			argc ? argv[0] : "", argc >= 2 ? " " : "", argc >= 2 ? argv[1] : "");
		tw_padmin_policy_usage(err);
		return 2;
	}
	c.a = calloc(1, sizeof(*c.a));
	if (!c.a)
		return fail(&c, "out of memory");
	ret = parse_args(cmd, argc - 2, argv + 2, c.a, err);
	if (ret)
		goto out;
	if (!cmd->writes) {
		ret = cmd->fn(&c);
		goto out;
	}
	if (tw_polstore_begin(ps, msg, sizeof(msg))) {
		ret = fail(&c, "%s", msg);
		goto out;
	}
	ret = cmd->fn(&c);
	if (ret) {
		tw_polstore_rollback(ps);
		goto out;
	}
	if (tw_polstore_commit(ps, &v, msg, sizeof(msg)))
		ret = fail(&c, "%s", msg);
	else
		fprintf(out, "policy version %llu\n", (unsigned long long)v);
out:
	free(c.a);
	return ret;
}
