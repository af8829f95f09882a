// SPDX-License-Identifier: GPL-2.0-only
/*
 * libtw: allowlist compiling. A profile's rules become one LPM trie (the
 * inner map of tw1_acl), built aside and swapped in with one update.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>

#include "tw_dp_internal.h"

struct acl_entry {
	struct tw_acl_key key;
	uint8_t plen;
	struct tw_acl_val val;
};

static bool key_same_prefix(const struct tw_acl_key *a, const struct tw_acl_key *b)
{
	return a->prefixlen == b->prefixlen && a->list == b->list && a->family == b->family &&
	       !memcmp(a->addr, b->addr, 16);
}

static int cmp_entry(const void *pa, const void *pb)
{
	const struct acl_entry *a = pa, *b = pb;

	if (a->key.list != b->key.list)
		return a->key.list - b->key.list;
	if (a->key.family != b->key.family)
		return a->key.family - b->key.family;
	if (a->plen != b->plen)
		return a->plen - b->plen;
	return memcmp(a->key.addr, b->key.addr, 16);
}

/* Does prefix @outer (shorter or equal) cover @inner? */
static bool covers(const struct acl_entry *outer, const struct acl_entry *inner)
{
	uint8_t tmp[16];

	if (outer->key.list != inner->key.list || outer->key.family != inner->key.family ||
	    outer->plen > inner->plen)
		return false;
	memcpy(tmp, inner->key.addr, 16);
	tw_addr_mask(tmp, outer->plen);
	return !memcmp(tmp, outer->key.addr, 16);
}

static int val_add_rule(struct tw_acl_val *v, const struct tw_port_rule *r)
{
	for (int i = 0; i < v->nrules; i++)
		if (!memcmp(&v->rules[i], r, sizeof(*r)))
			return 0;
	if (v->nrules >= TW_ACL_RULES_PER_PREFIX)
		return -E2BIG;
	v->rules[v->nrules++] = *r;
	return 0;
}

static int bsearch_prefix(const struct acl_entry *e, size_t n, const struct acl_entry *want)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = cmp_entry(&e[mid], want);

		if (!c)
			return (int)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/*
 * Group the rules by prefix, then give each prefix the rules of every
 * prefix that covers it: the trie answers with the longest match only.
 * Sorted by (list, family, plen, addr), the covering prefixes of an entry
 * are found by masking it to each shorter length present and searching.
 */
static int acl_compile(struct tw_dp *dp, uint32_t profile, const struct tw_rule *rules,
		       size_t nrules, struct acl_entry **out, size_t *nout)
{
	char abuf[INET6_ADDRSTRLEN];
	struct acl_entry *e;
	size_t n = 0, i;
	int err = 0;

	e = calloc(nrules ? nrules : 1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	for (i = 0; i < nrules; i++) {
		const struct tw_rule *r = &rules[i];
		unsigned int bits = tw_addr_bits(r->prefix.family);
		struct acl_entry cand = {};
		struct tw_port_rule pr = { .proto = r->proto,
					   .port_lo = r->port_lo,
					   .port_hi = r->port_hi };
		size_t j;

		if (r->list >= TW_LIST__MAX ||
		    (r->prefix.family != TW_FAM_V4 && r->prefix.family != TW_FAM_V6) ||
		    r->plen > bits || r->port_lo > r->port_hi) {
			err = dp_err(dp, -EINVAL,
				     "profile %u rule %zu: bad list, family, prefix length or port "
				     "range",
				     profile, i);
			goto out;
		}
		cand.key.list = r->list;
		cand.key.family = r->prefix.family;
		cand.plen = r->plen;
		memcpy(cand.key.addr, r->prefix.addr, bits / 8);
		tw_addr_mask(cand.key.addr, r->plen);
		cand.key.prefixlen = TW_ACL_KEY_FIXED_BITS + r->plen;
		for (j = 0; j < n; j++)
			if (key_same_prefix(&e[j].key, &cand.key))
				break;
		if (j == n)
			e[n++] = cand;
		if (val_add_rule(&e[j].val, &pr))
			goto too_many;
	}
	qsort(e, n, sizeof(*e), cmp_entry);

	/* Longer prefixes inherit from shorter ones; process short first so
	 * the inherited sets are complete when a longer prefix reads them. */
	for (i = 0; i < n; i++) {
		for (int q = (int)e[i].plen - 1; q >= 0; q--) {
			struct acl_entry want = e[i];
			int k;

			want.plen = (uint8_t)q;
			tw_addr_mask(want.key.addr, (unsigned int)q);
			k = bsearch_prefix(e, n, &want);
			if (k < 0 || !covers(&e[k], &e[i]))
				continue;
			for (int r = 0; r < e[k].val.nrules; r++)
				if (val_add_rule(&e[i].val, &e[k].val.rules[r]))
					goto too_many_at_i;
			break; /* e[k] already holds everything above it */
		}
	}
	*out = e;
	*nout = n;
	return 0;

too_many_at_i:
	err = dp_err(dp, -E2BIG,
		     "profile %u: prefix %s/%u is covered by more than %d distinct protocol/port "
		     "rules",
		     profile, tw_addr_str(e[i].key.family, e[i].key.addr, abuf, sizeof(abuf)),
		     e[i].plen, TW_ACL_RULES_PER_PREFIX);
	goto out;
too_many:
	err = dp_err(dp, -E2BIG, "profile %u: more than %d protocol/port rules on one prefix",
		     profile, TW_ACL_RULES_PER_PREFIX);
out:
	free(e);
	return err;
}

int tw_dp_profile_set(struct tw_dp *dp, uint32_t profile, const struct tw_rule *rules,
		      size_t nrules)
{
	LIBBPF_OPTS(bpf_map_create_opts, mo, .map_flags = BPF_F_NO_PREALLOC);
	struct acl_entry *e = NULL;
	size_t n = 0, i;
	char name[16];
	int fd, err;

	if (profile >= TW_MAX_PROFILES)
		return dp_err(dp, -ERANGE, "profile %u out of range (max %d)", profile,
			      TW_MAX_PROFILES - 1);
	err = acl_compile(dp, profile, rules, nrules, &e, &n);
	if (err)
		return err;
	snprintf(name, sizeof(name), "tw1_acl_%u", profile);
	fd = bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, name, sizeof(struct tw_acl_key),
			    sizeof(struct tw_acl_val), n ? (uint32_t)n : 1, &mo);
	if (fd < 0) {
		err = dp_err(dp, -errno, "create allowlist map for profile %u: %s", profile,
			     strerror(errno));
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (bpf_map_update_elem(fd, &e[i].key, &e[i].val, BPF_NOEXIST)) {
			err = dp_err(dp, -errno, "fill allowlist of profile %u: %s", profile,
				     strerror(errno));
			goto out_close;
		}
	}
	/* The swap: one update of the outer slot. */
	if (bpf_map_update_elem(dp->map_fd[TW_MAP_ACL], &profile, &fd, BPF_ANY)) {
		err = dp_err(dp, -errno, "install allowlist of profile %u: %s", profile,
			     strerror(errno));
		goto out_close;
	}
	if (dp->acl_fd[profile] >= 0)
		close(dp->acl_fd[profile]);
	dp->acl_fd[profile] = fd;
	fd = -1;
out_close:
	if (fd >= 0)
		close(fd);
out:
	free(e);
	return err;
}
