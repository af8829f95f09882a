// SPDX-License-Identifier: GPL-2.0-only
/*
 * Allowlist flattening (userspace/lib/tw_dp_acl.c) where prefixes part in
 * the last byte of an IPv6 address, and the inner map fds of replaced
 * allowlists: the fd of each swapped-out inner map must be closed, or a
 * daemon reloading policy runs out of fds. Found by make mutate: no suite
 * noticed the close removed.
 */
#include <dirent.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "test.h"
#include "tw_dp.h"

static int nrules_at(struct tw_dp *dp, uint32_t profile, uint8_t list, const char *addr)
{
	struct tw_acl_key k = { .list = list };
	struct tw_acl_val v;
	struct tw_addr a;
	uint32_t inner_id;
	int inner, err;

	if (tw_addr_parse(addr, &a))
		return -EINVAL;
	k.family = a.family;
	memcpy(k.addr, a.addr, 16);
	k.prefixlen = TW_ACL_KEY_FIXED_BITS + (a.family == TW_FAM_V4 ? 32 : 128);
	if (bpf_map_lookup_elem(tw_dp_map_fd(dp, TW_MAP_ACL), &profile, &inner_id))
		return -errno;
	inner = bpf_map_get_fd_by_id(inner_id);
	if (inner < 0)
		return -errno;
	err = bpf_map_lookup_elem(inner, &k, &v) ? -errno : (int)v.nrules;
	close(inner);
	return err;
}

static int nfds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -errno;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void rule(struct tw_rule *r, const char *prefix, uint16_t port)
{
	memset(r, 0, sizeof(*r));
	r->list = TW_LIST_FROM_CLIENT;
	if (tw_prefix_parse(prefix, &r->prefix, &r->plen))
		test__fail(__FILE__, __LINE__, "bad test prefix %s", prefix);
	r->proto = 6;
	r->port_lo = r->port_hi = port;
}

static void subtest_last_byte(struct tw_dp *dp)
{
	struct tw_rule r[3];

	/* prefixes that part in the last byte: fd00::80/121 does not cover fd00::1 */
	rule(&r[0], "fd00::80/121", 80);
	rule(&r[1], "fd00::1/128", 22);
	rule(&r[2], "fd00::81/128", 443);
	if (!ASSERT_OK(tw_dp_profile_set(dp, 5, r, 3), "profile set"))
		return;
	ASSERT_EQ(nrules_at(dp, 5, TW_LIST_FROM_CLIENT, "fd00::1"), 1, "::1: its own rule only");
	ASSERT_EQ(nrules_at(dp, 5, TW_LIST_FROM_CLIENT, "fd00::81"), 2,
		  "::81: its rule and the /121");
	ASSERT_EQ(nrules_at(dp, 5, TW_LIST_FROM_CLIENT, "fd00::82"), 1, "::82: the /121 only");
	ASSERT_EQ(nrules_at(dp, 5, TW_LIST_FROM_CLIENT, "fd00::2"), -ENOENT, "outside both");
}

static void subtest_swap_closes(struct tw_dp *dp)
{
	struct tw_rule r;
	int before, i;

	rule(&r, "10.0.0.0/8", 22);
	if (!ASSERT_OK(tw_dp_profile_set(dp, 6, &r, 1), "first set"))
		return;
	before = nfds();
	for (i = 0; i < 20; i++)
		if (!ASSERT_OK(tw_dp_profile_set(dp, 6, &r, 1), "replace"))
			return;
	ASSERT_EQ(nfds(), before, "no fd left behind by 20 swaps");
}

void test_acl_edges(void)
{
	struct tw_dp_opts o = { .pin_root = "", .l3_off = 14, .max_clients = 4, .max_flows = 64 };
	struct tw_dp *dp = NULL;

	if (test__start_subtest("last_byte")) {
		dp = dp ? dp : tw_dp_open(&o);
		if (ASSERT_OK_PTR(dp, "tw_dp_open"))
			subtest_last_byte(dp);
	}
	if (test__start_subtest("swap_closes")) {
		dp = dp ? dp : tw_dp_open(&o);
		if (ASSERT_OK_PTR(dp, "tw_dp_open"))
			subtest_swap_closes(dp);
	}
	if (dp)
		tw_dp_close(dp);
}
