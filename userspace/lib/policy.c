// SPDX-License-Identifier: GPL-2.0-only
/*
 * The objects of a policy bundle (docs/policy.md): rules, tenants, profiles
 * and subjects, each parsed from its JSON object into its in-memory form.
 * Pure functions over JSON values, no global state; every error names the
 * JSON path and the offending token. The bundle as a whole is read by
 * policy_snapshot.c and policy_delta.c; policy_int.h maps the module.
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
#include "policy_int.h"

#define MIN_CONFIRM_S 10
#define MAX_CONFIRM_S (7ULL * 86400)

static char *xstrdup(const char *s)
{
	return strdup(s ? s : "");
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
	if (pj_want(x, path, j, JSON_STRING, "a protocol name or number"))
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
	if (pj_want(x, path, j, JSON_STRING, "a port (\"22\") or range (\"1000-2000\")"))
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

	if (pj_want(x, path, j, JSON_OBJECT, "a rule object"))
		return -EINVAL;
	err = pj_check_keys(x, path, j, rule_keys);
	err = err ?: pj_get_str(x, path, j, "prefix", true, &prefix);
	if (err)
		return err;
	memset(r, 0, sizeof(*r));
	r->list = list;
	pj_subpath(p, path, "prefix");
	err = parse_prefix(x, p, prefix, &r->prefix, &r->plen);
	if (err)
		return err;
	pj_subpath(p, path, "proto");
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
	pj_subpath(p, path, "ports");
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

static const char *const tenant_keys[] = { "id", "name", NULL };

static int parse_tenant(struct pctx *x, const char *path, json_t *j, struct tw_tenant **out)
{
	const char *id, *name;
	struct tw_tenant *t;
	size_t idl, nl;
	char *mem;
	int err;

	*out = NULL;
	if (pj_want(x, path, j, JSON_OBJECT, "a tenant object"))
		return -EINVAL;
	err = pj_check_keys(x, path, j, tenant_keys);
	err = err ?: pj_get_str(x, path, j, "id", true, &id);
	err = err ?: pj_get_str(x, path, j, "name", false, &name);
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
	t->node.id = mem;
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

/* "interfaces": names or fnmatch(3) globs into pr->ifaces, sized for all of @ifs. */
static int parse_ifaces(struct pctx *x, const char *path, json_t *ifs, struct tw_profile *pr)
{
	char **ifaces = (char **)pr->ifaces, p[PATH_LEN], p2[PATH_LEN], q[QMAX];
	const char *name;
	size_t i, k;
	json_t *e;

	pj_subpath(p, path, "interfaces");
	for (i = 0; ifs && i < json_array_size(ifs); i++) {
		e = json_array_get(ifs, i);
		pj_idxpath(p2, p, i);
		if (pj_want(x, p2, e, JSON_STRING, "an interface name"))
			return -EINVAL;
		name = json_string_value(e);
		quote(q, name);
		if (!valid_ifpattern(name) || !pj_plain_string(e))
			return perr(x, p2, "bad interface name or pattern '%s'", q);
		for (k = 0; k < pr->nifaces; k++)
			if (!strcmp(ifaces[k], name))
				return perr(x, p2, "interface '%s' listed twice", q);
		ifaces[pr->nifaces] = strdup(name);
		if (!ifaces[pr->nifaces])
			return perr_(x, path, "out of memory"), -ENOMEM;
		pr->nifaces++;
	}
	return 0;
}

/* The three rule lists into pr->rules, sized for all of them: list by list, in bundle order. */
static int parse_rule_lists(struct pctx *x, const char *path, json_t *const lists[TW_LIST__MAX],
			    struct tw_profile *pr)
{
	struct tw_rule *rules = (struct tw_rule *)pr->rules;
	char p[PATH_LEN], p2[PATH_LEN];
	size_t i;
	int err, l;

	for (l = 0; l < TW_LIST__MAX; l++) {
		pj_subpath(p, path, list_keys[l]);
		for (i = 0; lists[l] && i < json_array_size(lists[l]); i++) {
			pj_idxpath(p2, p, i);
			err = parse_rule(x, p2, json_array_get(lists[l], i), l, &rules[pr->nrules]);
			if (err)
				return err;
			pr->nrules++;
		}
	}
	return 0;
}

static int parse_profile(struct pctx *x, const char *path, json_t *j, struct tw_profile **out)
{
	json_t *lists[TW_LIST__MAX], *ifs, *ct;
	const char *id, *name;
	struct tw_profile *pr;
	char p[PATH_LEN];
	size_t total = 0;
	int err, l;

	*out = NULL;
	if (pj_want(x, path, j, JSON_OBJECT, "a profile object"))
		return -EINVAL;
	err = pj_check_keys(x, path, j, profile_keys);
	err = err ?: pj_get_str(x, path, j, "id", true, &id);
	err = err ?: pj_get_str(x, path, j, "name", false, &name);
	err = err ?: pj_get_array(x, path, j, "interfaces", TW_POLICY_MAX_IFACES, &ifs);
	for (l = 0; !err && l < TW_LIST__MAX; l++) {
		err = pj_get_array(x, path, j, list_keys[l], TW_POLICY_MAX_RULES, &lists[l]);
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
	if (total && !(pr->rules = calloc(total, sizeof(*pr->rules))))
		goto enomem;
	if (ifs && json_array_size(ifs) &&
	    !(pr->ifaces = calloc(json_array_size(ifs), sizeof(*pr->ifaces))))
		goto enomem;
	pr->node.id = xstrdup(id);
	pr->name = xstrdup(name);
	if (!pr->node.id || !pr->name)
		goto enomem;

	err = parse_ifaces(x, path, ifs, pr);
	if (err)
		goto fail;
	ct = json_object_get(j, "confirmation_timeout");
	if (ct) {
		pj_subpath(p, path, "confirmation_timeout");
		err = pj_get_duration(x, p, ct, MIN_CONFIRM_S, MAX_CONFIRM_S,
				      &pr->confirm_timeout_s);
		if (err)
			goto fail;
	}
	err = parse_rule_lists(x, path, lists, pr);
	if (err)
		goto fail;
	*out = pr;
	return 0;

enomem:
	err = -ENOMEM;
	perr_(x, path, "out of memory");
fail:
	free_profile(pr);
	return err;
}

/* Tenant or profile @id as the bundle being parsed will leave it. */
static const struct tw_pnode *view_find(const struct tw_pview *v, enum tw_pset_kind k,
					const char *id)
{
	const struct tw_pnode *n = tw_pnode_find(v->up[k], 0, id);

	if (n)
		return n;
	if (tw_pnode_find(v->rm[k], 0, id))
		return NULL;
	return tw_pnode_find(&v->base->sets[k].by_id, 0, id);
}

static const char *const subject_keys[] = { "kind",	"id",	 "user", "tenant",
					    "profiles", "state", NULL };

static int parse_kind(struct pctx *x, const char *path, json_t *obj, enum tw_subject_kind *k)
{
	char p[PATH_LEN], q[QMAX];
	const char *s;
	int err;

	err = pj_get_str(x, path, obj, "kind", true, &s);
	if (err)
		return err;
	if (tw_subject_kind_parse(s, k)) {
		pj_subpath(p, path, "kind");
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
		pj_subpath(p, path, "id");
		quote(q, id);
		return perr(x, p, "'%s' is not a WireGuard public key (44 characters of base64)",
			    q);
	}
	return 0;
}

int tw_parse_subject(struct pctx *x, const char *path, json_t *j, const struct tw_pview *v,
		     struct tw_subject **out)
{
	const char *id, *user, *tenant, *state, *pid;
	char p[PATH_LEN], p2[PATH_LEN], q[QMAX];
	struct tw_subject tmp = {}, *s;
	enum tw_subject_kind kind;
	json_t *profs;
	size_t i, idl, ul;
	char *mem;
	int err;

	*out = NULL;
	if (pj_want(x, path, j, JSON_OBJECT, "a subject object"))
		return -EINVAL;
	err = pj_check_keys(x, path, j, subject_keys);
	err = err ?: parse_kind(x, path, j, &kind);
	err = err ?: pj_get_str(x, path, j, "id", true, &id);
	err = err ?: check_subject_id(x, path, kind, id);
	err = err ?: pj_get_str(x, path, j, "user", false, &user);
	err = err ?: pj_get_str(x, path, j, "tenant", false, &tenant);
	err = err ?: pj_get_str(x, path, j, "state", true, &state);
	err = err ?: pj_get_array(x, path, j, "profiles", TW_POLICY_MAX_SUBJ_PROFILES, &profs);
	if (err)
		return err;

	if (tw_subject_state_parse(state, &tmp.state)) {
		pj_subpath(p, path, "state");
		quote(q, state);
		return perr(x, p, "unknown state '%s'", q);
	}

	if (tenant) {
		const struct tw_tenant *t =
			(const struct tw_tenant *)view_find(v, TW_PSET_TENANT, tenant);

		if (!t) {
			pj_subpath(p, path, "tenant");
			quote(q, tenant);
			return perr(x, p, "unknown tenant '%s'", q);
		}
		tmp.tenant = t->num;
	}

	pj_subpath(p, path, "profiles");
	for (i = 0; profs && i < json_array_size(profs); i++) {
		const struct tw_profile *pr;
		json_t *e = json_array_get(profs, i);

		pj_idxpath(p2, p, i);
		if (pj_want(x, p2, e, JSON_STRING, "a profile id"))
			return -EINVAL;
		pid = json_string_value(e);
		quote(q, pid);
		pr = pj_plain_string(e) ?
			     (const struct tw_profile *)view_find(v, TW_PSET_PROFILE, pid) :
			     NULL;
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
	s->node.kind = kind;
	s->node.id = mem;
	s->user = mem + idl;
	*out = s;
	return 0;
}

static const char *const subj_ref_keys[] = { "kind", "id", NULL };

int tw_parse_subject_ref(struct pctx *x, const char *path, json_t *j, enum tw_subject_kind *kind,
			 const char **id)
{
	int err;

	if (pj_want(x, path, j, JSON_OBJECT, "a {\"kind\", \"id\"} object"))
		return -EINVAL;
	err = pj_check_keys(x, path, j, subj_ref_keys);
	err = err ?: parse_kind(x, path, j, kind);
	err = err ?: pj_get_str(x, path, j, "id", true, id);
	return err;
}

/* ---- the class table: what the snapshot and delta code needs per set ---- */

static int parse_tenant_node(struct pctx *x, const char *path, json_t *j, struct tw_pnode **out)
{
	return parse_tenant(x, path, j, (struct tw_tenant **)out);
}

static int parse_profile_node(struct pctx *x, const char *path, json_t *j, struct tw_pnode **out)
{
	return parse_profile(x, path, j, (struct tw_profile **)out);
}

/* A tenant is one allocation with its strings behind it. */
static void free_tenant_node(struct tw_pnode *n)
{
	free(n);
}

static void free_profile_node(struct tw_pnode *n)
{
	free_profile((struct tw_profile *)n);
}

static uint32_t *tenant_num(struct tw_pnode *n)
{
	return &((struct tw_tenant *)n)->num;
}

static uint32_t *profile_num(struct tw_pnode *n)
{
	return &((struct tw_profile *)n)->num;
}

const struct tw_pclass tw_pclasses[TW_PSET__MAX] = {
	[TW_PSET_TENANT] = {
		.name = "tenant",
		.section = "tenants",
		.max = TW_POLICY_MAX_TENANTS,
		.parse = parse_tenant_node,
		.free = free_tenant_node,
		.num = tenant_num,
	},
	[TW_PSET_PROFILE] = {
		.name = "profile",
		.section = "profiles",
		.max = TW_POLICY_MAX_PROFILES,
		.parse = parse_profile_node,
		.free = free_profile_node,
		.num = profile_num,
	},
};
