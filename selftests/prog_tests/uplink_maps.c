// SPDX-License-Identifier: GPL-2.0-only
/*
 * libtw's uplink map writers (userspace/lib/tw_dp_uplink.c) against the real
 * kernel maps: ban keys masked to their prefix, the prefix length bound, ban
 * expiry stamped on CLOCK_MONOTONIC and swept in batches of 256, the VPN
 * ports in network order, the uplink config. uplink_xdp tests the program
 * that reads these maps; nothing else wrote them through the library.
 */
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "test.h"
#include "tw_dp.h"
#include "tw_addr.h"

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* The value of the ban whose key is exactly @addr/@plen; -ENOENT if there is none. */
static int ban_get(struct tw_dp *dp, const char *addr, unsigned int plen, struct tw_ban_val *v)
{
	struct tw_ban_key k, *prev = NULL, want = {};
	int fd = tw_dp_map_fd(dp, TW_MAP_BANS);
	struct tw_addr a;

	if (tw_addr_parse(addr, &a))
		return -EINVAL;
	want.family = a.family;
	want.prefixlen = TW_BAN_KEY_FIXED_BITS + plen;
	memcpy(want.addr, a.addr, 16);
	while (bpf_map_get_next_key(fd, prev, &k) == 0) {
		if (!memcmp(&k, &want, sizeof(k)))
			return bpf_map_lookup_elem(fd, &k, v) ? -errno : 0;
		prev = &k;
	}
	return -ENOENT;
}

static int nbans(struct tw_dp *dp)
{
	struct tw_ban_key k, *prev = NULL;
	int n = 0, fd = tw_dp_map_fd(dp, TW_MAP_BANS);

	while (bpf_map_get_next_key(fd, prev, &k) == 0) {
		n++;
		prev = &k;
	}
	return n;
}

static int ban(struct tw_dp *dp, const char *addr, unsigned int plen, uint64_t ttl_ns)
{
	struct tw_addr a;

	if (tw_addr_parse(addr, &a))
		return -EINVAL;
	return tw_dp_ban_add(dp, &a, (uint8_t)plen, ttl_ns);
}

static int unban(struct tw_dp *dp, const char *addr, unsigned int plen)
{
	struct tw_addr a;

	if (tw_addr_parse(addr, &a))
		return -EINVAL;
	return tw_dp_ban_remove(dp, &a, (uint8_t)plen);
}

static void subtest_ban_keys(struct tw_dp *dp)
{
	/* host bits beyond the prefix are cleared; the longest prefix of each family is allowed */
	static const struct {
		const char *addr;
		unsigned int plen;
		int err;
		const char *stored; /* the key's address, NULL when refused */
	} cases[] = {
		{ "10.1.2.3", 24, 0, "10.1.2.0" },
		{ "10.1.2.3", 32, 0, "10.1.2.3" },
		{ "10.1.2.3", 33, -EINVAL, NULL },
		{ "2001:db8::1:2", 64, 0, "2001:db8::" },
		{ "2001:db8::1:2", 128, 0, "2001:db8::1:2" },
		{ "2001:db8::1:2", 129, -EINVAL, NULL },
	};
	struct tw_ban_val v;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (!ASSERT_EQ(ban(dp, cases[i].addr, cases[i].plen, 0), cases[i].err, "ban_add"))
			test__diag("ban %s/%u", cases[i].addr, cases[i].plen);
		if (!cases[i].stored)
			continue;
		ASSERT_OK(ban_get(dp, cases[i].stored, cases[i].plen, &v), "key masked to prefix");
		ASSERT_EQ(v.expires_ns, 0, "no ttl: until removed");
	}
	ASSERT_EQ(nbans(dp), 4, "refused bans not stored");

	ASSERT_OK(unban(dp, "10.1.2.77", 24), "remove by any address inside the prefix");
	ASSERT_EQ(ban_get(dp, "10.1.2.0", 24, &v), -ENOENT, "removed");
	ASSERT_OK(ban_get(dp, "10.1.2.3", 32, &v), "the /32 inside it stays");
	ASSERT_EQ(unban(dp, "10.1.2.0", 24), -ENOENT, "removing twice");
	ASSERT_EQ(tw_dp_ban_sweep(dp), 0, "nothing expires without a ttl");
	ASSERT_EQ(nbans(dp), 3, "sweep kept permanent bans");
}

static void subtest_ban_expiry(struct tw_dp *dp)
{
	const uint64_t hour = 3600ULL * 1000000000ULL;
	struct tw_ban_val v;
	uint64_t before, after;

	before = mono_ns();
	ASSERT_OK(ban(dp, "192.0.2.1", 32, hour), "ban for an hour");
	after = mono_ns();
	if (ASSERT_OK(ban_get(dp, "192.0.2.1", 32, &v), "stored")) {
		ASSERT_GE(v.expires_ns, before + hour, "expires an hour from now (low)");
		ASSERT_LE(v.expires_ns, after + hour, "expires an hour from now (high)");
	}
	ASSERT_OK(ban(dp, "192.0.2.2", 32, 1), "ban for a nanosecond");
	ASSERT_OK(ban(dp, "192.0.2.3", 32, 0), "ban until removed");
	usleep(1000);
	ASSERT_EQ(tw_dp_ban_sweep(dp), 1, "sweep removes the expired ban only");
	ASSERT_EQ(ban_get(dp, "192.0.2.2", 32, &v), -ENOENT, "expired ban gone");
	ASSERT_OK(ban_get(dp, "192.0.2.1", 32, &v), "live ban stays");
	ASSERT_OK(ban_get(dp, "192.0.2.3", 32, &v), "permanent ban stays");
}

static void subtest_sweep_batches(struct tw_dp *dp)
{
	char addr[32];
	int i, n = 300;

	for (i = 0; i < n; i++) {
		snprintf(addr, sizeof(addr), "198.18.%d.%d", i / 256, i % 256);
		if (!ASSERT_OK(ban(dp, addr, 32, 1), "expired ban"))
			return;
	}
	usleep(1000);
	/* a sweep removes at most 256 (its stack array); the next one the rest */
	ASSERT_EQ(tw_dp_ban_sweep(dp), 256, "first sweep");
	ASSERT_EQ(tw_dp_ban_sweep(dp), n - 256, "second sweep");
	ASSERT_EQ(tw_dp_ban_sweep(dp), 0, "third sweep");
}

static void subtest_vports_config(struct tw_dp *dp)
{
	struct tw_uplink_cfg cfg = { .hs_rate = 5,
				     .hs_burst = 10,
				     .v4_prefix = 24,
				     .v6_prefix = 56 },
			     got = {};
	struct tw_vport_key k = { .proto = 17, .port = htons(1194) };
	struct tw_vport_val v = {};
	uint32_t zero = 0;

	ASSERT_OK(tw_dp_vport_add(dp, 17, 1194, TW_VPN_OPENVPN), "vport udp 1194");
	ASSERT_OK(tw_dp_vport_add(dp, 6, 1194, TW_VPN_IKE), "vport tcp 1194");
	if (ASSERT_OK(bpf_map_lookup_elem(tw_dp_map_fd(dp, TW_MAP_VPORTS), &k, &v),
		      "port stored in network order"))
		ASSERT_EQ(v.kind, TW_VPN_OPENVPN, "udp kind");
	k.proto = 6;
	if (ASSERT_OK(bpf_map_lookup_elem(tw_dp_map_fd(dp, TW_MAP_VPORTS), &k, &v), "tcp"))
		ASSERT_EQ(v.kind, TW_VPN_IKE, "tcp kind: same port, other protocol");

	ASSERT_OK(tw_dp_uplink_config(dp, &cfg), "uplink config");
	ASSERT_OK(bpf_map_lookup_elem(tw_dp_map_fd(dp, TW_MAP_UCFG), &zero, &got), "read back");
	ASSERT_OK(memcmp(&got, &cfg, sizeof(cfg)), "config as written");
}

/* Every ban removed: the subtests share one dp (each load costs the verifier's time). */
static void clear_bans(struct tw_dp *dp)
{
	struct tw_ban_key k;
	int fd = tw_dp_map_fd(dp, TW_MAP_BANS);

	while (bpf_map_get_next_key(fd, NULL, &k) == 0)
		if (bpf_map_delete_elem(fd, &k))
			break;
}

void test_uplink_maps(void)
{
	static const struct {
		const char *name;
		void (*fn)(struct tw_dp *dp);
	} subtests[] = {
		{ "ban_keys", subtest_ban_keys },
		{ "ban_expiry", subtest_ban_expiry },
		{ "sweep_batches", subtest_sweep_batches },
		{ "vports_config", subtest_vports_config },
	};
	struct tw_dp_opts o = { .pin_root = "", .l3_off = 14, .max_clients = 4, .max_flows = 64 };
	struct tw_dp *dp = NULL;

	for (size_t i = 0; i < sizeof(subtests) / sizeof(subtests[0]); i++) {
		if (!test__start_subtest(subtests[i].name))
			continue;
		if (!dp)
			dp = tw_dp_open(&o);
		if (!ASSERT_OK_PTR(dp, "tw_dp_open"))
			return;
		clear_bans(dp);
		if (!ASSERT_EQ(nbans(dp), 0, "no bans left from before"))
			continue;
		subtests[i].fn(dp);
	}
	if (dp)
		tw_dp_close(dp);
}
