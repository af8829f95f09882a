// SPDX-License-Identifier: GPL-2.0-only
/*
 * WireGuard public keys as policy subject ids, one character either side
 * of valid: 44 characters of base64 with '=' last and the two padding bits
 * zero. Found by make mutate: dropping the length/'=' check survived every
 * suite, because the only refused keys in the tests were too short or had
 * padding bits set.
 */
#include <stdlib.h>
#include "test.h"
#include "policy.h"

#define KEY "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="

static void subtest_wg_keys(void)
{
	static const struct {
		const char *key;
		bool ok;
	} cases[] = {
		{ KEY, true },
		{ "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", true },
		{ "+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/8=", true },
		{ "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8DgA", false }, /* no '=' */
		{ KEY "=", false }, /* 45 */
		{ KEY "A", false },
		{ "TIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=", false }, /* 43 */
		{ "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Di=", false }, /* padding bits */
		{ "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dx=", false },
		{ "xTIBA5rboUvnH4ht-djb6e697QjLERt1NAB4mZqp8Dg=", false }, /* not base64 */
		{ "xTIBA5rboUvnH4ht=djb6e697QjLERt1NAB4mZqp8Dg=", false },
		{ "", false },
	};
	char buf[512], err[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tw_policy *p;

		snprintf(buf, sizeof(buf),
			 "{\"version\": 1, \"subjects\": [{\"kind\": \"wg_key\", \"id\": \"%s\", "
			 "\"state\": \"enabled\"}]}",
			 cases[i].key);
		err[0] = '\0';
		p = tw_policy_parse(buf, strlen(buf), err, sizeof(err));
		if (!ASSERT_EQ(p != NULL, cases[i].ok, cases[i].key))
			test__diag("'%s': %s", cases[i].key, err);
		else if (p)
			ASSERT_OK_PTR(tw_policy_subject(p, TW_SUBJ_WG_KEY, cases[i].key), "found");
		else if (cases[i].key[0])
			ASSERT_TRUE(strstr(err, "is not a WireGuard public key") != NULL,
				    "message");
		tw_policy_free(p);
	}
}

void test_policy_edges(void)
{
	if (test__start_subtest("wg_keys"))
		subtest_wg_keys();
}
