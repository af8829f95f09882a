// SPDX-License-Identifier: GPL-2.0-only
/*
 * Prefix scanning (userspace/lib/tw_addr.c) at its edges: each refusal
 * with the reason the policy parser reports (address, length, range, host
 * bits), the largest and smallest lengths of each family, lengths with
 * leading zeros or too many digits, and masking inside a byte. Found by
 * make mutate: the one-line changes to these checks survived every suite.
 */
#include "test.h"
#include "tw_addr.h"

static void subtest_scan(void)
{
	static const struct {
		const char *in;
		int ret;
		unsigned int plen; /* when ret is 0 or -TW_PREFIX_EHOST */
	} cases[] = {
		{ "192.0.2.0/24", 0, 24 },
		{ "192.0.2.7", 0, 32 },
		{ "0.0.0.0/0", 0, 0 },
		{ "10.0.0.0/32", 0, 32 },
		{ "10.128.0.0/9", 0, 9 },
		{ "10.128.0.0/8", -TW_PREFIX_EHOST, 8 },
		{ "10.0.0.1/31", -TW_PREFIX_EHOST, 31 },
		{ "1.0.0.0/0", -TW_PREFIX_EHOST, 0 },
		{ "::/0", 0, 0 },
		{ "::/128", 0, 128 },
		{ "2001:db8::/33", 0, 33 },
		{ "2001:db8:8000::/33", 0, 33 },
		{ "2001:db8:c000::/33", -TW_PREFIX_EHOST, 33 },
		{ "10.0.0.0/33", -TW_PREFIX_ERANGE, 0 },
		{ "::/129", -TW_PREFIX_ERANGE, 0 },
		{ "10.0.0.0/08", -TW_PREFIX_ERANGE, 0 },
		{ "10.0.0.0/00", -TW_PREFIX_ERANGE, 0 },
		{ "10.0.0.0/8x", -TW_PREFIX_ERANGE, 0 },
		{ "10.0.0.0/9999999999999", -TW_PREFIX_ERANGE, 0 },
		{ "10.0.0.0/", -TW_PREFIX_ELEN, 0 },
		{ "10.0.0.0/x", -TW_PREFIX_ELEN, 0 },
		{ "10.0.0.0/-1", -TW_PREFIX_ELEN, 0 },
		{ "10.0.0.0/:", -TW_PREFIX_ELEN, 0 },
		{ "", -TW_PREFIX_EADDR, 0 },
		{ "/8", -TW_PREFIX_EADDR, 0 },
		{ "10.0.0/8", -TW_PREFIX_EADDR, 0 },
		{ "host.example/8", -TW_PREFIX_EADDR, 0 },
		/* 53 bytes fit the scanner's buffer, 54 do not */
		{ "1111:2222:3333:4444:5555:6666:7777:8888/128//////////", -TW_PREFIX_ERANGE, 0 },
		{ "1111:2222:3333:4444:5555:6666:7777:8888/128///////////", -TW_PREFIX_EADDR, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tw_addr a;
		uint8_t plen = 0xee;
		int ret = tw_prefix_scan(cases[i].in, &a, &plen);

		if (!ASSERT_EQ(ret, cases[i].ret, cases[i].in))
			continue;
		if (ret == 0 || ret == -TW_PREFIX_EHOST)
			ASSERT_EQ(plen, cases[i].plen, "plen");
		else
			ASSERT_EQ(plen, 0xee, "plen untouched on refusal");
		ASSERT_EQ(tw_prefix_parse(cases[i].in, &a, &plen), ret ? -EINVAL : 0,
			  "parse agrees");
	}
}

static void subtest_mask(void)
{
	static const struct {
		unsigned int plen;
		uint8_t want[4]; /* the first four bytes of 0xff.. masked */
	} cases[] = {
		{ 0, { 0, 0, 0, 0 } },
		{ 1, { 0x80, 0, 0, 0 } },
		{ 7, { 0xfe, 0, 0, 0 } },
		{ 8, { 0xff, 0, 0, 0 } },
		{ 9, { 0xff, 0x80, 0, 0 } },
		{ 12, { 0xff, 0xf0, 0, 0 } },
		{ 31, { 0xff, 0xff, 0xff, 0xfe } },
	};
	uint8_t a[16];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(a, 0xff, sizeof(a));
		tw_addr_mask(a, cases[i].plen);
		if (!ASSERT_OK(memcmp(a, cases[i].want, 4), "masked bytes"))
			test__diag("plen %u: %02x %02x %02x %02x", cases[i].plen, a[0], a[1], a[2],
				   a[3]);
		ASSERT_EQ(a[15], 0, "tail cleared");
	}
	memset(a, 0xff, sizeof(a));
	tw_addr_mask(a, 128);
	ASSERT_EQ(a[15], 0xff, "/128 keeps every byte");
	tw_addr_mask(a, 120);
	ASSERT_TRUE(a[14] == 0xff && a[15] == 0, "/120");
}

static void subtest_str(void)
{
	struct tw_addr a;
	char buf[64], small[4];

	if (!ASSERT_OK(tw_addr_parse("2001:db8::1", &a), "parse"))
		return;
	ASSERT_STREQ(tw_addr_str(a.family, a.addr, buf, sizeof(buf)), "2001:db8::1", "v6");
	ASSERT_STREQ(tw_addr_str(a.family, a.addr, small, sizeof(small)), "?", "no room");
	ASSERT_OK(tw_addr_parse("198.51.100.2", &a), "parse v4");
	ASSERT_STREQ(tw_addr_str(a.family, a.addr, buf, sizeof(buf)), "198.51.100.2", "v4");
	ASSERT_EQ(tw_addr_parse("198.51.100.2/32", &a), -EINVAL, "an address has no length");
}

void test_tw_addr_edges(void)
{
	if (test__start_subtest("scan"))
		subtest_scan();
	if (test__start_subtest("mask"))
		subtest_mask();
	if (test__start_subtest("str"))
		subtest_str();
}
