// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer harness for the policy bundle parser (policy.c). `make fuzz`
 * builds and runs it (mk/fuzz.mk); by hand:
 *
 *	clang -g -O1 -fsanitize=fuzzer,address,undefined -std=gnu11 -D_GNU_SOURCE \
 *		-Iinclude -Iuserspace/lib selftests/fuzz/fuzz_policy.c userspace/lib/policy.c \
 *		userspace/lib/config.c -ljansson -o build/fuzz/fuzz_policy
 *	build/fuzz/fuzz_policy -max_total_time=60 build/fuzz/corpus/fuzz_policy
 *
 * Every input is tried twice: as a snapshot, and as a delta against a small
 * fixed policy at version 1 (so the fuzzer can reach the delta paths by
 * writing "base": 1). Beyond "no crash": errors are printable; a parsed or
 * updated policy is internally consistent (every subject found by its own
 * key, every number resolves, rules well-formed); a refused delta leaves
 * the base policy exactly as it was.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                       \
	do {                              \
		if (!(cond))              \
			__builtin_trap(); \
	} while (0)

static const char base_json[] =
	"{\"version\": 1, \"tenants\": [{\"id\": \"acme\"}, {\"id\": \"globex\"}],"
	" \"profiles\": [{\"id\": \"emp\", \"interfaces\": [\"tun*\"], \"from_client\":"
	"  [{\"prefix\": \"10.0.0.0/8\", \"proto\": \"tcp\", \"ports\": \"22-80\"}]},"
	"  {\"id\": \"lab\", \"sandbox\": [{\"prefix\": \"fd00::/8\"}]}],"
	" \"subjects\": ["
	"  {\"kind\": \"cn\", \"id\": \"alice\", \"tenant\": \"acme\", \"profiles\": [\"emp\"],"
	"   \"state\": \"enabled\"},"
	"  {\"kind\": \"cn\", \"id\": \"bob\", \"tenant\": \"globex\", \"profiles\": [\"emp\", \"lab\"],"
	"   \"state\": \"needs-confirmation\"},"
	"  {\"kind\": \"ipsec_id\", \"id\": \"gw\", \"state\": \"revoked\"}]}";

static void check_printable(const char *s)
{
	CHECK(*s);
	for (; *s; s++)
		CHECK(*s >= 0x20 && *s < 0x7f);
}

static void check_rule(const struct tw_rule *r)
{
	int bits, i;

	CHECK(r->list < TW_LIST__MAX);
	CHECK(r->prefix.family == TW_FAM_V4 || r->prefix.family == TW_FAM_V6);
	bits = r->prefix.family == TW_FAM_V4 ? 32 : 128;
	CHECK(r->plen <= bits);
	CHECK(r->port_lo <= r->port_hi);
	/* no host bits */
	for (i = r->plen; i < bits; i++)
		CHECK(!(r->prefix.addr[i / 8] & (0x80 >> (i % 8))));
}

static void check_policy(const struct tw_policy *p)
{
	const struct tw_subject *s;
	size_t it = 0, n = 0, found;
	uint32_t num, i;

	while ((s = tw_policy_subject_next(p, &it))) {
		n++;
		CHECK(tw_policy_subject(p, s->node.kind, s->node.id) == s);
		CHECK(s->state <= TW_SUBJ_REVOKED);
		CHECK(s->nprofiles <= TW_POLICY_MAX_SUBJ_PROFILES);
		for (i = 0; i < s->nprofiles; i++)
			CHECK(tw_policy_profile_by_num(p, s->profiles[i]));
		CHECK(!s->tenant || tw_policy_tenant_by_num(p, s->tenant));
	}
	CHECK(n == tw_policy_nsubjects(p));

	for (found = 0, num = 0; num < TW_MAX_PROFILES; num++) {
		const struct tw_profile *pr = tw_policy_profile_by_num(p, num);

		if (!pr)
			continue;
		CHECK(num != 0 && pr->num == num);
		CHECK(tw_policy_profile(p, pr->node.id) == pr);
		CHECK(pr->nrules <= TW_POLICY_MAX_RULES);
		for (i = 0; i < pr->nrules; i++)
			check_rule(&pr->rules[i]);
		found++;
	}
	CHECK(found == tw_policy_nprofiles(p));

	for (found = 0, num = 0; num <= TW_POLICY_MAX_TENANTS && found < tw_policy_ntenants(p);
	     num++) {
		const struct tw_tenant *t = tw_policy_tenant_by_num(p, num);

		if (!t)
			continue;
		CHECK(num != 0 && t->num == num);
		CHECK(tw_policy_tenant(p, t->node.id) == t);
		found++;
	}
	CHECK(found == tw_policy_ntenants(p));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct tw_subject *alice, *bob;
	struct tw_policy *p, *base;
	char err[512];
	int ret;

	errno = 0;
	p = tw_policy_parse((const char *)data, size, err, sizeof(err));
	if (p) {
		check_policy(p);
		tw_policy_free(p);
	} else {
		CHECK(errno == EINVAL || errno == E2BIG || errno == ENOMEM);
		check_printable(err);
	}

	base = tw_policy_parse(base_json, sizeof(base_json) - 1, err, sizeof(err));
	CHECK(base);
	alice = tw_policy_subject(base, TW_SUBJ_CN, "alice");
	bob = tw_policy_subject(base, TW_SUBJ_CN, "bob");
	ret = tw_policy_apply_delta(base, (const char *)data, size, err, sizeof(err));
	if (ret) {
		CHECK(ret == -EINVAL || ret == -ESTALE || ret == -E2BIG || ret == -ENOMEM);
		check_printable(err);
		/* all or nothing: the very same objects are still there */
		CHECK(tw_policy_version(base) == 1);
		CHECK(tw_policy_nsubjects(base) == 3 && tw_policy_nprofiles(base) == 2 &&
		      tw_policy_ntenants(base) == 2);
		CHECK(tw_policy_subject(base, TW_SUBJ_CN, "alice") == alice);
		CHECK(tw_policy_subject(base, TW_SUBJ_CN, "bob") == bob);
		CHECK(alice->state == TW_SUBJ_ENABLED && bob->nprofiles == 2);
	} else {
		CHECK(tw_policy_version(base) > 1);
	}
	check_policy(base);
	tw_policy_free(base);
	return 0;
}
