// SPDX-License-Identifier: GPL-2.0-only
/*
 * libtw against the real kernel: pinning and re-adoption, client install and
 * slot reuse, allowlist flattening and the atomic swap, counter reads, map
 * errors, and tcx / cls_bpf attach next to someone else's program.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <net/if.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <zlib.h>
#include "test.h"
#include "tw_dp.h"
#include "packet.h"

static char pin_root[128];

static void rm_pins(void)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", pin_root);
	if (pin_root[0] && system(cmd) != 0)
		test__diag("could not remove %s", pin_root);
}

static struct tw_dp *open_dp(const char *root)
{
	struct tw_dp_opts o = {
		.pin_root = root, .l3_off = 14, .max_clients = 1024, .max_flows = 4096
	};

	return tw_dp_open(&o);
}

static void mkaddr(struct tw_addr *a, const char *s)
{
	if (tw_addr_parse(s, a))
		test__fail(__FILE__, __LINE__, "bad test address %s", s);
}

static int acl_lookup(struct tw_dp *dp, uint32_t profile, uint8_t list, const char *addr,
		      struct tw_acl_val *val)
{
	struct tw_acl_key k = { .list = list };
	struct tw_addr a;
	uint32_t inner_id;
	int inner, err;

	mkaddr(&a, addr);
	k.family = a.family;
	memcpy(k.addr, a.addr, 16);
	k.prefixlen = TW_ACL_KEY_FIXED_BITS + (a.family == TW_FAM_V4 ? 32 : 128);
	if (bpf_map_lookup_elem(tw_dp_map_fd(dp, TW_MAP_ACL), &profile, &inner_id))
		return -errno;
	inner = bpf_map_get_fd_by_id(inner_id);
	if (inner < 0)
		return -errno;
	err = bpf_map_lookup_elem(inner, &k, val) ? -errno : 0;
	close(inner);
	return err;
}

static void subtest_pin_readopt(void)
{
	struct tw_client c = { .slot = 7,
			       .ifindex = 1,
			       .tenant = 3,
			       .profile = 2,
			       .state = TW_STATE_PERMIT,
			       .naddrs = 1 };
	struct tw_flow6_key fk = { .ifindex = 1, .family = TW_FAM_V6, .proto = 17, .cport = 1 };
	struct tw_flow_val fv = { .slot = 7, .gen = 1 };
	struct tw_dp *dp = NULL, *dp2 = NULL;
	char path[256], old[256];
	struct tw_slot s = {};
	struct stat st;

	dp = open_dp(pin_root);
	if (!ASSERT_OK_PTR(dp, "open pinned"))
		return;
	snprintf(path, sizeof(path), "%s/tw1_clients", pin_root);
	ASSERT_OK(stat(path, &st), "tw1_clients pinned");
	mkaddr(&c.addrs[0], "10.8.0.7");
	if (!ASSERT_OK(tw_dp_client_add(dp, &c), "client add"))
		goto out;
	if (!ASSERT_OK(bpf_map_update_elem(tw_dp_map_fd(dp, TW_MAP_FLOWS6), &fk, &fv, BPF_ANY),
		       "v6 connection"))
		goto out;
	tw_dp_close(dp);
	dp = NULL;

	/* the IPv6 connection map as a release before its rename pinned it */
	snprintf(path, sizeof(path), "%s/tw1_flows6", pin_root);
	snprintf(old, sizeof(old), "%s/tw1_flows", pin_root);
	if (!ASSERT_OK(rename(path, old), "pin as tw1_flows"))
		goto out;

	/* a restarted controller sees the same client and connections */
	dp2 = open_dp(pin_root);
	if (!ASSERT_OK_PTR(dp2, "reopen pinned"))
		goto out;
	if (ASSERT_OK(tw_dp_slot_read(dp2, 7, &s), "slot read")) {
		ASSERT_EQ(s.state, TW_STATE_PERMIT, "state survives");
		ASSERT_EQ(s.tenant, 3, "tenant survives");
		ASSERT_EQ(s.gen, 1, "generation survives");
	}
	ASSERT_OK(bpf_map_lookup_elem(tw_dp_map_fd(dp2, TW_MAP_FLOWS6), &fk, &fv),
		  "connection survives the map's rename");
	ASSERT_NEQ(stat(old, &st), 0, "old pin moved");
out:
	tw_dp_close(dp);
	tw_dp_close(dp2);
}

static void subtest_clients(void)
{
	struct tw_client a = { .slot = 1,
			       .ifindex = 1,
			       .tenant = 1,
			       .profile = 0,
			       .state = TW_STATE_SANDBOX,
			       .naddrs = 2 };
	struct tw_client b = { .slot = 2,
			       .ifindex = 1,
			       .tenant = 1,
			       .profile = 0,
			       .state = TW_STATE_PERMIT,
			       .naddrs = 1 };
	struct tw_client_key k = { .ifindex = 0, .family = TW_FAM_V6 };
	struct tw_dp *dp = open_dp("");
	struct tw_slot s = {};
	uint32_t slot = 0;
	int err;

	if (!ASSERT_OK_PTR(dp, "open"))
		return;
	mkaddr(&a.addrs[0], "10.8.0.2");
	mkaddr(&a.addrs[1], "fd00:8::2");
	mkaddr(&b.addrs[0], "10.8.0.2");
	if (!ASSERT_OK(tw_dp_client_add(dp, &a), "add a"))
		goto out;
	memcpy(k.addr, a.addrs[1].addr, 16);
	ASSERT_OK(bpf_map_lookup_elem(tw_dp_map_fd(dp, TW_MAP_CLIENTS), &k, &slot), "peer key");
	ASSERT_EQ(slot, 1, "peer key slot");

	err = tw_dp_client_add(dp, &b);
	ASSERT_EQ(err, -EEXIST, "address of another slot refused");
	ASSERT_TRUE(strstr(tw_dp_errstr(dp), "10.8.0.2"), "error names the address");
	ASSERT_OK(tw_dp_slot_read(dp, 2, &s), "slot b read");
	ASSERT_EQ(s.state, TW_STATE_FREE, "refused slot left free");

	ASSERT_OK(tw_dp_client_set_state(dp, 1, TW_STATE_PERMIT), "confirm");
	ASSERT_OK(tw_dp_slot_read(dp, 1, &s), "slot a read");
	ASSERT_EQ(s.state, TW_STATE_PERMIT, "state flipped");
	ASSERT_EQ(tw_dp_client_set_state(dp, 5000, TW_STATE_PERMIT), -ERANGE, "slot range");

	ASSERT_OK(tw_dp_client_remove(dp, &a), "remove a");
	ASSERT_ERR(bpf_map_lookup_elem(tw_dp_map_fd(dp, TW_MAP_CLIENTS), &k, &slot), "gone");
	ASSERT_OK(tw_dp_client_add(dp, &b), "address reusable after remove");
	ASSERT_OK(tw_dp_client_add(dp, &a) == -EEXIST ? 0 : -1, "a clashes with b now");
	a.naddrs = 1;
	mkaddr(&a.addrs[0], "10.8.0.9");
	ASSERT_OK(tw_dp_client_add(dp, &a), "slot reuse");
	ASSERT_OK(tw_dp_slot_read(dp, 1, &s), "slot a reread");
	ASSERT_GE(s.gen, 2, "generation bumped on reuse");
out:
	tw_dp_close(dp);
}

static void subtest_acl_flatten(void)
{
	struct tw_rule r[4] = {};
	struct tw_acl_val v = {};
	struct tw_dp *dp = open_dp("");
	int i;

	if (!ASSERT_OK_PTR(dp, "open"))
		return;
	/* 10/8 tcp 22, 10.1/16 tcp 443, 10.1.2/24 udp 53, v6 any */
	tw_prefix_parse("10.0.0.0/8", &r[0].prefix, &r[0].plen);
	r[0].proto = 6, r[0].port_lo = r[0].port_hi = 22;
	tw_prefix_parse("10.1.0.0/16", &r[1].prefix, &r[1].plen);
	r[1].proto = 6, r[1].port_lo = r[1].port_hi = 443;
	tw_prefix_parse("10.1.2.0/24", &r[2].prefix, &r[2].plen);
	r[2].proto = 17, r[2].port_lo = r[2].port_hi = 53;
	tw_prefix_parse("fd00::/8", &r[3].prefix, &r[3].plen);
	r[3].port_hi = 0xffff;
	if (!ASSERT_OK(tw_dp_profile_set(dp, 4, r, 4), "profile set"))
		goto out;
	if (ASSERT_OK(acl_lookup(dp, 4, TW_LIST_FROM_CLIENT, "10.1.2.3", &v), "lookup /24"))
		ASSERT_EQ(v.nrules, 3, "/24 inherits /16 and /8");
	if (ASSERT_OK(acl_lookup(dp, 4, TW_LIST_FROM_CLIENT, "10.1.9.9", &v), "lookup /16"))
		ASSERT_EQ(v.nrules, 2, "/16 inherits /8");
	if (ASSERT_OK(acl_lookup(dp, 4, TW_LIST_FROM_CLIENT, "10.9.9.9", &v), "lookup /8"))
		ASSERT_EQ(v.nrules, 1, "/8 alone");
	ASSERT_EQ(acl_lookup(dp, 4, TW_LIST_FROM_CLIENT, "11.0.0.1", &v), -ENOENT, "outside");
	ASSERT_EQ(acl_lookup(dp, 4, TW_LIST_TO_CLIENT, "10.1.2.3", &v), -ENOENT, "other list");
	ASSERT_OK(acl_lookup(dp, 4, TW_LIST_FROM_CLIENT, "fd12::1", &v), "v6 lookup");

	/* replacing swaps the whole list */
	if (!ASSERT_OK(tw_dp_profile_set(dp, 4, &r[2], 1), "replace"))
		goto out;
	ASSERT_EQ(acl_lookup(dp, 4, TW_LIST_FROM_CLIENT, "10.9.9.9", &v), -ENOENT, "old gone");
	if (ASSERT_OK(acl_lookup(dp, 4, TW_LIST_FROM_CLIENT, "10.1.2.3", &v), "new there"))
		ASSERT_EQ(v.nrules, 1, "new list only");

	/* too many rules on one prefix: refused, old list stays */
	{
		struct tw_rule many[TW_ACL_RULES_PER_PREFIX + 1];

		for (i = 0; i <= TW_ACL_RULES_PER_PREFIX; i++) {
			many[i] = r[0];
			many[i].port_lo = many[i].port_hi = (uint16_t)(1000 + i);
		}
		ASSERT_EQ(tw_dp_profile_set(dp, 4, many, TW_ACL_RULES_PER_PREFIX + 1), -E2BIG,
			  "too many rules");
		ASSERT_TRUE(strstr(tw_dp_errstr(dp), "profile 4"), "error names profile");
		ASSERT_OK(acl_lookup(dp, 4, TW_LIST_FROM_CLIENT, "10.1.2.3", &v), "old kept");
	}
	r[0].port_lo = 9, r[0].port_hi = 8;
	ASSERT_EQ(tw_dp_profile_set(dp, 4, r, 1), -EINVAL, "lo > hi refused");
	ASSERT_EQ(tw_dp_profile_set(dp, TW_MAX_PROFILES, r, 1), -ERANGE, "profile range");
out:
	tw_dp_close(dp);
}

/*
 * A /0 rule covers every address of its family: each longer prefix of the
 * same list inherits it, since the trie answers with the longest match only.
 */
static void subtest_acl_flatten_default(void)
{
	struct tw_rule r[4] = {};
	struct tw_acl_val v = {};
	struct tw_dp *dp = open_dp("");

	if (!ASSERT_OK_PTR(dp, "open"))
		return;
	/* 0/0 udp 53, 10.1/16 tcp 443, ::/0 udp 53, fd00::/8 tcp 443 */
	tw_prefix_parse("0.0.0.0/0", &r[0].prefix, &r[0].plen);
	r[0].proto = 17, r[0].port_lo = r[0].port_hi = 53;
	tw_prefix_parse("10.1.0.0/16", &r[1].prefix, &r[1].plen);
	r[1].proto = 6, r[1].port_lo = r[1].port_hi = 443;
	tw_prefix_parse("::/0", &r[2].prefix, &r[2].plen);
	r[2].proto = 17, r[2].port_lo = r[2].port_hi = 53;
	tw_prefix_parse("fd00::/8", &r[3].prefix, &r[3].plen);
	r[3].proto = 6, r[3].port_lo = r[3].port_hi = 443;
	if (!ASSERT_OK(tw_dp_profile_set(dp, 5, r, 4), "profile set"))
		goto out;
	if (ASSERT_OK(acl_lookup(dp, 5, TW_LIST_FROM_CLIENT, "10.1.2.3", &v), "lookup /16"))
		ASSERT_EQ(v.nrules, 2, "/16 inherits 0.0.0.0/0");
	if (ASSERT_OK(acl_lookup(dp, 5, TW_LIST_FROM_CLIENT, "192.0.2.1", &v), "lookup /0"))
		ASSERT_EQ(v.nrules, 1, "elsewhere: the /0 alone");
	if (ASSERT_OK(acl_lookup(dp, 5, TW_LIST_FROM_CLIENT, "fd12::1", &v), "lookup v6 /8"))
		ASSERT_EQ(v.nrules, 2, "/8 inherits ::/0");
	if (ASSERT_OK(acl_lookup(dp, 5, TW_LIST_FROM_CLIENT, "2001:db8::1", &v), "lookup v6 /0"))
		ASSERT_EQ(v.nrules, 1, "elsewhere: the v6 /0 alone");
	ASSERT_EQ(acl_lookup(dp, 5, TW_LIST_TO_CLIENT, "10.1.2.3", &v), -ENOENT,
		  "a /0 of one list is not in the other");
out:
	tw_dp_close(dp);
}

static void subtest_prefix_parse(void)
{
	struct tw_addr a;
	uint8_t plen;

	ASSERT_OK(tw_prefix_parse("192.0.2.0/24", &a, &plen), "v4 prefix");
	ASSERT_EQ(plen, 24, "v4 plen");
	ASSERT_OK(tw_prefix_parse("2001:db8::/32", &a, &plen), "v6 prefix");
	ASSERT_EQ(plen, 32, "v6 plen");
	ASSERT_OK(tw_prefix_parse("192.0.2.1", &a, &plen), "host");
	ASSERT_EQ(plen, 32, "host plen");
	ASSERT_EQ(tw_prefix_parse("192.0.2.1/24", &a, &plen), -EINVAL, "host bits");
	ASSERT_EQ(tw_prefix_parse("192.0.2.0/33", &a, &plen), -EINVAL, "too long");
	ASSERT_EQ(tw_prefix_parse("192.0.2.0/", &a, &plen), -EINVAL, "empty len");
	ASSERT_EQ(tw_prefix_parse("nonsense/8", &a, &plen), -EINVAL, "not an address");
}

static void subtest_map_full(void)
{
	struct tw_dp_opts o = { .pin_root = "", .l3_off = 14, .max_clients = 4 };
	struct tw_client c = { .ifindex = 1, .state = TW_STATE_PERMIT, .naddrs = 4 };
	struct tw_dp *dp = tw_dp_open(&o);
	int err = 0;

	if (!ASSERT_OK_PTR(dp, "open small"))
		return;
	/* 4 slots -> 16 address entries; each client takes 2 per address */
	for (uint32_t s = 0; s < 4 && !err; s++) {
		char a[32];

		c.slot = s;
		for (int i = 0; i < 4; i++) {
			snprintf(a, sizeof(a), "10.9.%u.%d", s, i);
			mkaddr(&c.addrs[i], a);
		}
		err = tw_dp_client_add(dp, &c);
	}
	ASSERT_EQ(err, -ENOSPC, "map full reported");
	ASSERT_TRUE(strstr(tw_dp_errstr(dp), "tw1_clients is full"), "message names the map");
	tw_dp_close(dp);
}

static void subtest_counters(void)
{
	struct tw_dp *dp = open_dp("");
	struct tw_client_ctr ctr[3];
	struct tw_gctr g[TW_G__MAX];

	if (!ASSERT_OK_PTR(dp, "open"))
		return;
	ASSERT_OK(tw_dp_counters_read(dp, 0, 3, ctr), "read first 3");
	ASSERT_EQ(ctr[2].from_bytes, 0, "fresh zero");
	ASSERT_OK(tw_dp_counters_read(dp, 1000, 24, (struct tw_client_ctr[24]){}), "tail read");
	ASSERT_EQ(tw_dp_counters_read(dp, 1020, 5, ctr), -ERANGE, "beyond end");
	ASSERT_OK(tw_dp_gcounters_read(dp, g), "global read");
	tw_dp_close(dp);
}

/* A veth pair in a private netns; returns ifindex of the first end. */
static int make_veth(void)
{
	if (unshare(CLONE_NEWNET))
		return -errno;
	if (system("ip link add twa type veth peer name twb && ip link set twa up && "
		   "ip link set twb up"))
		return -EIO;
	return (int)if_nametoindex("twa");
}

/* Someone else's program, attached first: must keep running. */
static int other_tc_prog(void)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = -1 },
		{ .code = BPF_JMP | BPF_EXIT },
	};

	return bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "other", "GPL", insns, 2, NULL);
}

static void attach_case(enum tw_attach_mode mode, const char *root)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, other, .handle = 0x99, .priority = 50);
	enum tw_attach_mode used = TW_ATTACH_AUTO;
	struct tw_dp *dp = NULL, *dp2 = NULL;
	int ifindex, ofd, err;

	ifindex = make_veth();
	if (ifindex <= 0) {
		test__skip("cannot create a veth pair in a private netns (%d)", ifindex);
		return;
	}
	ofd = other_tc_prog();
	if (!ASSERT_GE(ofd, 0, "load other prog"))
		return;
	hook.ifindex = ifindex;
	other.prog_fd = ofd;
	bpf_tc_hook_create(&hook);
	if (!ASSERT_OK(bpf_tc_attach(&hook, &other), "other filter"))
		goto out;

	dp = open_dp(root);
	if (!ASSERT_OK_PTR(dp, "open"))
		goto out;
	err = tw_dp_attach(dp, ifindex, mode, &used);
	if (err && mode == TW_ATTACH_TCX && (err == -EINVAL || err == -EOPNOTSUPP)) {
		test__skip("kernel has no tcx (6.6+): %s", tw_dp_errstr(dp));
		goto out;
	}
	if (!ASSERT_OK(err, "attach"))
		goto out;
	ASSERT_EQ(used, mode, "mode used");
	ASSERT_TRUE(tw_dp_attached(dp, ifindex), "attached");
	other.prog_fd = other.flags = other.prog_id = 0;
	ASSERT_OK(bpf_tc_query(&hook, &other), "other filter still there");

	/* restart: a new dp re-adopts and swaps its programs in */
	tw_dp_close(dp);
	dp = NULL;
	dp2 = open_dp(root);
	if (!ASSERT_OK_PTR(dp2, "reopen"))
		goto out;
	if (root[0] || mode == TW_ATTACH_TC)
		ASSERT_TRUE(tw_dp_attached(dp2, ifindex), "still attached after close");
	ASSERT_OK(tw_dp_attach(dp2, ifindex, TW_ATTACH_AUTO, &used), "re-attach");
	ASSERT_EQ(used, root[0] || mode == TW_ATTACH_TC ? mode : TW_ATTACH_TCX,
		  "re-adopted in the same mode");
	ASSERT_OK(tw_dp_detach(dp2, ifindex), "detach");
	ASSERT_FALSE(tw_dp_attached(dp2, ifindex), "detached");
	other.prog_id = 0;
	ASSERT_OK(bpf_tc_query(&hook, &other), "other filter survives our detach");
	ASSERT_EQ(tw_dp_detach(dp2, ifindex), -ENOENT, "second detach");
out:
	tw_dp_close(dp);
	tw_dp_close(dp2);
	close(ofd);
}

/* Each attach case runs in its own network namespace, left afterwards so
 * the namespace and its veth pair vanish with it. */
static void in_netns(enum tw_attach_mode mode, const char *root)
{
	int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);

	if (!ASSERT_GE(self, 0, "open own netns"))
		return;
	attach_case(mode, root);
	ASSERT_OK(setns(self, CLONE_NEWNET), "back to own netns");
	close(self);
}

static int run_in(struct tw_dp *dp, const char *src, const char *dst, uint16_t dport)
{
	struct pkt_spec spec = { .family = 4,
				 .src = src,
				 .dst = dst,
				 .proto = IPPROTO_TCP,
				 .sport = 40000,
				 .dport = dport };
	struct __sk_buff ctx = { .ifindex = 1 };
	struct pkt p;
	LIBBPF_OPTS(bpf_test_run_opts, o, .ctx_in = &ctx, .ctx_size_in = sizeof(ctx));

	if (pkt_build(&p, &spec))
		return -100;
	o.data_in = p.data;
	o.data_size_in = p.len;
	if (bpf_prog_test_run_opts(tw_dp_prog_fd_in(dp), &o))
		return -101;
	return (int)o.retval;
}

/* Connections in both maps (IPv4 and IPv6). */
static int count_flows(struct tw_dp *dp)
{
	static const enum tw_map_id maps[] = { TW_MAP_FLOWS4, TW_MAP_FLOWS6 };
	struct tw_flow6_key k, next; /* the larger key: room for either */
	int n = 0;

	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		bool first = true;

		while (bpf_map_get_next_key(tw_dp_map_fd(dp, maps[i]), first ? NULL : &k, &next) ==
		       0) {
			k = next;
			first = false;
			n++;
		}
	}
	return n;
}

/* A changed allowlist ends the admitted connections it no longer allows. */
static void subtest_revalidate(void)
{
	struct tw_client c = { .slot = 5,
			       .ifindex = 1,
			       .tenant = 1,
			       .profile = 3,
			       .state = TW_STATE_PERMIT,
			       .naddrs = 1 };
	struct tw_rule r = { .list = TW_LIST_FROM_CLIENT, .proto = IPPROTO_TCP };
	struct tw_dp *dp = open_dp("");

	if (!ASSERT_OK_PTR(dp, "open"))
		return;
	mkaddr(&c.addrs[0], "10.8.0.5");
	tw_prefix_parse("10.0.0.0/8", &r.prefix, &r.plen);
	r.port_lo = r.port_hi = 80;
	if (!ASSERT_OK(tw_dp_profile_set(dp, 3, &r, 1), "profile: tcp/80") ||
	    !ASSERT_OK(tw_dp_client_add(dp, &c), "client"))
		goto out;
	ASSERT_EQ(run_in(dp, "10.8.0.5", "10.1.1.1", 80), -1, "tcp/80 admitted");
	ASSERT_EQ(count_flows(dp), 1, "one connection open");
	ASSERT_EQ(tw_dp_flows_revalidate(dp), 0, "nothing to end under the same list");

	r.port_lo = r.port_hi = 443;
	if (!ASSERT_OK(tw_dp_profile_set(dp, 3, &r, 1), "profile: tcp/443 only"))
		goto out;
	/* before the re-check the open connection still rides its flow entry */
	ASSERT_EQ(run_in(dp, "10.8.0.5", "10.1.1.1", 80), -1, "admitted connection until re-check");
	ASSERT_EQ(run_in(dp, "10.8.0.5", "10.1.1.1", 443), -1, "tcp/443 admitted");
	ASSERT_EQ(tw_dp_flows_revalidate(dp), 1, "the tcp/80 connection ended");
	ASSERT_EQ(count_flows(dp), 1, "the tcp/443 connection stays");
	ASSERT_EQ(run_in(dp, "10.8.0.5", "10.1.1.1", 80), 2, "tcp/80 dropped now");

	/* an ended session's connections go too */
	ASSERT_OK(tw_dp_client_remove(dp, &c), "remove");
	ASSERT_EQ(tw_dp_flows_revalidate(dp), 1, "ended session's connection removed");
	ASSERT_EQ(count_flows(dp), 0, "no connections left");
out:
	tw_dp_close(dp);
}

/* The kernel config lines the flow clock's HZ comes from. */
static int hz_of(const char *text, bool gz)
{
	char path[] = "/tmp/tw-hz-XXXXXX";
	int fd = mkstemp(path), hz;

	if (fd < 0)
		return -errno;
	close(fd);
	if (gz) {
		gzFile f = gzopen(path, "w");

		if (!f) {
			unlink(path);
			return -EIO;
		}
		gzputs(f, text);
		gzclose(f);
	} else {
		FILE *f = fopen(path, "w");

		if (!f) {
			unlink(path);
			return -EIO;
		}
		fputs(text, f);
		fclose(f);
	}
	hz = tw_config_hz(path);
	unlink(path);
	return hz;
}

static void subtest_config_hz(void)
{
	static const char head[] = "#\n# Automatically generated file; DO NOT EDIT.\n"
				   "CONFIG_HZ_250=y\n# CONFIG_HZ_1000 is not set\n";
	static const struct {
		const char *line;
		int want;
	} cases[] = {
		{ "CONFIG_HZ=250\n", 250 },
		{ "CONFIG_HZ=1000\n", 1000 },
		{ "CONFIG_HZ=100", 100 }, /* no newline at the end */
		{ "CONFIG_HZ=300\n", 300 },
		{ "CONFIG_HZ=\n", -EINVAL },
		{ "CONFIG_HZ=25O\n", -EINVAL },
		{ "CONFIG_HZ=7\n", -EINVAL },
		{ "CONFIG_HZ=99999999999999999999\n", -EINVAL },
		{ "CONFIG_HZ_PERIODIC=y\n", -ENOENT }, /* a longer name is not CONFIG_HZ */
		{ "", -ENOENT },
	};
	char text[512];
	int khz;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int want = cases[i].want;

		snprintf(text, sizeof(text), "%s%s", head, cases[i].line);
		ASSERT_EQ(hz_of(text, false), want, cases[i].line);
		ASSERT_EQ(hz_of(text, true), want, "gzip");
	}
	ASSERT_EQ(tw_config_hz("/nonexistent/config"), -ENOENT, "missing file");
	khz = tw_kernel_hz();
	if (khz == -ENOENT)
		test__diag("this kernel's config is not readable: flows use the coarse clock");
	else
		ASSERT_GT(khz, 0, "this kernel's CONFIG_HZ");
}

void test_libtw(void)
{
	if (!test__need_bpffs())
		return;
	snprintf(pin_root, sizeof(pin_root), "/sys/fs/bpf/tw-test-%d", (int)getpid());

	if (test__start_subtest("prefix_parse"))
		subtest_prefix_parse();
	if (test__start_subtest("config_hz"))
		subtest_config_hz();
	if (test__start_subtest("pin_readopt"))
		subtest_pin_readopt();
	if (test__start_subtest("clients"))
		subtest_clients();
	if (test__start_subtest("acl_flatten"))
		subtest_acl_flatten();
	if (test__start_subtest("acl_flatten_default"))
		subtest_acl_flatten_default();
	if (test__start_subtest("map_full"))
		subtest_map_full();
	if (test__start_subtest("counters"))
		subtest_counters();
	if (test__start_subtest("revalidate"))
		subtest_revalidate();
	if (test__start_subtest("attach_tcx"))
		in_netns(TW_ATTACH_TCX, pin_root);
	if (test__start_subtest("attach_tc"))
		in_netns(TW_ATTACH_TC, pin_root);
	rm_pins();
}
