// SPDX-License-Identifier: GPL-2.0-only
/*
 * twbench: dataplane figures for `make bench` (not pass/fail).
 *
 *  1. ns per packet of tw_tun_in/out under BPF_PROG_TEST_RUN for the main
 *     paths, beside an empty `return TC_ACT_UNSPEC` program, with 100k
 *     clients and 10k allowlist rules (100 profiles) loaded; hot (repeat
 *     10^6) and with a cold TLB (one run per call);
 *  2. packets/s through the tun write path (one writer pinned to a CPU
 *     writing into a tun fd; the kernel forwards every packet out of a
 *     veth sink whose tc egress drops them), in six namespaces measured
 *     interleaved over rounds: no filter, an empty tc program, a count-only
 *     program (the floor of per-client accounting), tunwarden (tcx), an
 *     nftables ruleset with the same policy
 *     (verdict maps keyed by client address with per-element counters,
 *     concatenated interval sets per profile, conntrack for replies), and
 *     the same ruleset without conntrack. Medians are reported.
 *
 * The empty and count-only programs are bpf/bench/twbench.bpf.c.
 *
 * Targets (design): <= 50 ns over empty; tun path >= 0.97 of no filter;
 * >= 1.4x the nftables equivalent.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>
#include <linux/if_ether.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "tw_dp.h"
#include "e2e_util.h"
#include "twbench.skel.h"

#define MAX_ROUNDS 64
#define NFLOWS	   1024

static struct {
	uint32_t clients, profiles, rules_per_profile;
	int rounds, repeat, reps, nflows;
	int pkt_size; /* IP bytes of the tun writer's packets */
	unsigned int dur_ms;
	bool no_tun, no_nft, no_test_run;
	int profile_s;
	const char *nft_file;
} cfg = {
	.clients = 100000,
	.profiles = 100,
	.rules_per_profile = 100,
	.rounds = 5,
	.repeat = 1000000,
	.reps = 5,
	.dur_ms = 1000,
	.nflows = NFLOWS,
	.pkt_size = 92,
};

static char pfx[32];

/* ------------------------------------------------------------- policy */

static void client_v4(uint32_t i, char *buf, size_t len)
{
	uint32_t a = (10u << 24 | 128u << 16) + i;

	snprintf(buf, len, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
}

static void client_v6(uint32_t i, char *buf, size_t len)
{
	snprintf(buf, len, "fd00:c::%x:%x", i >> 16, i & 0xffff);
}

/* The /24 of rule @j (< 80) of profile @p. */
static uint32_t rule_net4(uint32_t p, uint32_t j)
{
	return (100u << 24 | 64u << 16) + ((p * 80 + j) << 8);
}

static void ip4str(uint32_t a, char *buf, size_t len)
{
	snprintf(buf, len, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
}

/*
 * Profile p's 100 rules: 80 from-client v4 /24s (UDP or TCP, 10 ports
 * each), one covering 100.64.0.0/10 ICMP rule (so every /24 inherits a
 * second rule), 14 from-client v6 /48s (UDP 443), 5 to-client v4 /24s
 * (TCP 22). Beyond 100 per profile, more v4 /24s.
 */
static int profile_rules(uint32_t p, struct tw_rule *r)
{
	char buf[64];
	int n = 0;

	for (uint32_t j = 0; j < cfg.rules_per_profile; j++) {
		struct tw_rule *x = &r[n++];

		memset(x, 0, sizeof(*x));
		x->list = TW_LIST_FROM_CLIENT;
		if (j < 80 || j >= 100) {
			ip4str(rule_net4(p, j % 80) + (j >= 100 ? (j / 80) << 22 : 0), buf,
			       sizeof(buf));
			tw_addr_parse(buf, &x->prefix);
			x->plen = 24;
			x->proto = j % 2 ? IPPROTO_TCP : IPPROTO_UDP;
			x->port_lo = (uint16_t)(1000 + (j % 80) * 10);
			x->port_hi = (uint16_t)(x->port_lo + 9);
		} else if (j == 80) {
			tw_addr_parse("100.64.0.0", &x->prefix);
			x->plen = 10;
			x->proto = IPPROTO_ICMP;
			x->port_hi = 65535;
		} else if (j < 95) {
			snprintf(buf, sizeof(buf), "fd10:%x:%x::", p, j);
			tw_addr_parse(buf, &x->prefix);
			x->plen = 48;
			x->proto = IPPROTO_UDP;
			x->port_lo = x->port_hi = 443;
		} else {
			x->list = TW_LIST_TO_CLIENT;
			snprintf(buf, sizeof(buf), "198.18.%u.0", p % 256);
			tw_addr_parse(buf, &x->prefix);
			x->plen = 24;
			x->proto = IPPROTO_TCP;
			x->port_lo = x->port_hi = (uint16_t)(22 + j - 95);
		}
	}
	return n;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int load_policy(struct tw_dp *dp, int ifindex, double *secs)
{
	struct tw_rule *r = calloc(cfg.rules_per_profile, sizeof(*r));
	double t0 = now_s();
	int err = 0;

	if (!r)
		return -ENOMEM;
	for (uint32_t p = 0; p < cfg.profiles && !err; p++) {
		int n = profile_rules(p, r);

		err = tw_dp_profile_set(dp, p, r, (size_t)n);
		if (err)
			fprintf(stderr, "twbench: profile %u: %s\n", p, tw_dp_errstr(dp));
	}
	free(r);
	if (!cfg.profiles) /* checked at option parsing; for the analyzer */
		return -EINVAL;
	for (uint32_t i = 0; i < cfg.clients && !err; i++) {
		struct tw_client c = { .slot = i,
				       .ifindex = ifindex,
				       .tenant = i % 1000 + 1,
				       .profile = i % cfg.profiles,
				       .state = TW_STATE_PERMIT,
				       .naddrs = 2 };
		char a[64];

		client_v4(i, a, sizeof(a));
		tw_addr_parse(a, &c.addrs[0]);
		client_v6(i, a, sizeof(a));
		tw_addr_parse(a, &c.addrs[1]);
		err = tw_dp_client_add(dp, &c);
		if (err)
			fprintf(stderr, "twbench: client %u: %s\n", i, tw_dp_errstr(dp));
	}
	*secs = now_s() - t0;
	return err;
}

/* ------------------------------------------------------- prog test run */

struct tr_case {
	const char *name;
	bool out; /* tw_tun_out */
	uint32_t want_rv; /* TC_ACT_UNSPEC (pass) or TC_ACT_SHOT */
	uint8_t pkt[256];
	int len;
};

/* The frame of @s (with an Ethernet header unless s->no_eth) into @buf: its length or -errno. */
static int build_pkt(uint8_t *buf, size_t cap, const struct pkt_spec *s)
{
	struct pkt p;

	if (pkt_build(&p, s))
		return p.err;
	if (p.len > cap)
		return -E2BIG;
	memcpy(buf, p.data, p.len);
	return (int)p.len;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static int test_run(int fd, const uint8_t *pkt, int len, int repeat, uint32_t *rv, uint32_t *ns)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = (uint32_t)len,
		    .repeat = repeat);

	if (bpf_prog_test_run_opts(fd, &o))
		return -errno;
	*rv = o.retval;
	*ns = o.duration;
	return 0;
}

/* ------------------------------------------------ building blocks */

/*
 * The costs the tunnel programs are made of, each measured alone: a raw
 * program that does one helper call on the bench's own (fully loaded)
 * maps, minus the empty program. Raw instructions keep this independent of
 * the tunnel object's code.
 */
#define RAW(c, d, s_, o, i) \
	((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s_), .off = (o), .imm = (i) })
struct rawprog {
	struct bpf_insn in[64];
	int n;
};

static void raw_stack(struct rawprog *b, int off, const void *data, size_t len)
{
	for (size_t i = 0; i + 4 <= len; i += 4) {
		int32_t w;

		memcpy(&w, (const uint8_t *)data + i, 4);
		b->in[b->n++] =
			RAW(BPF_ST | BPF_MEM | BPF_W, BPF_REG_10, 0, (int16_t)(off + (int)i), w);
	}
}

static void raw_ldmap(struct rawprog *b, int reg, int fd)
{
	b->in[b->n++] = RAW(BPF_LD | BPF_DW | BPF_IMM, reg, BPF_PSEUDO_MAP_FD, 0, fd);
	b->in[b->n++] = RAW(0, 0, 0, 0, 0);
}

/* kind 0: the clock helper @map_fd names (a BPF_FUNC_*); 1: lookup(map, key);
 * 2: update(map, key, val) */
static int raw_op(int kind, int map_fd, const void *key, size_t klen, const void *val, size_t vlen)
{
	struct rawprog b = { .n = 0 };
	int koff = -(int)((klen + 7) & ~7UL), voff = koff - (int)((vlen + 7) & ~7UL);
	int fd;

	if (kind == 0) {
		b.in[b.n++] = RAW(BPF_JMP | BPF_CALL, 0, 0, 0, map_fd);
	} else {
		raw_stack(&b, koff, key, klen);
		if (kind == 2)
			raw_stack(&b, voff, val, vlen);
		raw_ldmap(&b, BPF_REG_1, map_fd);
		b.in[b.n++] = RAW(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_2, BPF_REG_10, 0, 0);
		b.in[b.n++] = RAW(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_2, 0, 0, koff);
		if (kind == 2) {
			b.in[b.n++] = RAW(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_3, BPF_REG_10, 0, 0);
			b.in[b.n++] = RAW(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_3, 0, 0, voff);
			b.in[b.n++] = RAW(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_4, 0, 0, BPF_ANY);
		}
		b.in[b.n++] = RAW(BPF_JMP | BPF_CALL, 0, 0, 0,
				  kind == 1 ? BPF_FUNC_map_lookup_elem : BPF_FUNC_map_update_elem);
	}
	b.in[b.n++] = RAW(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, -1);
	b.in[b.n++] = RAW(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	fd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "twb_op", "GPL", b.in, (size_t)b.n, NULL);
	return fd < 0 ? -errno : fd;
}

/*
 * The reference programs (bpf/bench/twbench.bpf.c): the empty program and
 * the count-only program, CFG_COUNT's and the cold table's floor of
 * per-client accounting, which counts into the dp's own tw1_ccnt. Returns
 * an fd of the program's own (the skeleton is gone by then), or -errno.
 */
enum twb_ref { TWB_EMPTY, TWB_COUNT_TUN, TWB_COUNT_ETH };
static int ref_prog(struct tw_dp *dp, enum twb_ref which)
{
	struct twb_bpf *s = twb_bpf__open();
	struct bpf_program *prog;
	int fd, err;

	if (!s)
		return -errno;
	err = bpf_map__reuse_fd(s->maps.tw1_ccnt, tw_dp_map_fd(dp, TW_MAP_CCNT));
	if (!err)
		err = twb_bpf__load(s);
	if (err) {
		twb_bpf__destroy(s);
		return err;
	}
	prog = which == TWB_EMPTY     ? s->progs.twb_empty :
	       which == TWB_COUNT_TUN ? s->progs.twb_count_tun :
					s->progs.twb_count_eth;
	fd = fcntl(bpf_program__fd(prog), F_DUPFD_CLOEXEC, 0);
	err = -errno;
	twb_bpf__destroy(s);
	return fd < 0 ? err : fd;
}

/*
 * The same paths with a cold TLB: one program run per BPF_PROG_TEST_RUN
 * call. On a host with page-table isolation and no PCID (this kind of VM)
 * every system call flushes the TLB, so each run starts as a packet written
 * to a tun device does, and every map page the program touches costs a
 * page walk; repeat=1,000,000 above amortises those away. Calls rotate over
 * the programs; the figure is the median, over the calls, of a program's
 * run minus the empty program's run of the same rotation. The count-only
 * program (the tun bench's floor) is in the table: what counting a packet
 * to its client's per-CPU slot alone costs here.
 */
#define COLD_CALLS 20000
static void bench_cold(struct tw_dp *dp, int empty, const struct tr_case *cases)
{
	static int64_t d[6][COLD_CALLS];
	int fds[7], count = ref_prog(dp, TWB_COUNT_ETH);
	const char *names[6] = { "count-only (the floor)" };
	uint64_t e[COLD_CALLS];
	int i, k;

	if (count < 0) {
		printf("  (cold TLB: count-only program failed to load: %s)\n", strerror(-count));
		return;
	}
	fds[0] = empty;
	fds[1] = count;
	for (i = 0; i < 5; i++) {
		fds[i + 2] = cases[i].out ? tw_dp_prog_fd_out(dp) : tw_dp_prog_fd_in(dp);
		names[i + 1] = cases[i].name;
	}
	for (k = 0; k < COLD_CALLS; k++) {
		uint32_t rv, ns[7] = { 0 };

		for (i = 0; i < 7; i++) {
			/* the count-only program reads the v4 client's source */
			const struct tr_case *tc = &cases[i < 2 ? 0 : i - 2];

			if (test_run(fds[i], tc->pkt, tc->len, 1, &rv, &ns[i]))
				goto out;
		}
		e[k] = ns[0];
		for (i = 0; i < 6; i++)
			d[i][k] = (int64_t)ns[i + 1] - (int64_t)ns[0];
	}
	qsort(e, COLD_CALLS, sizeof(e[0]), cmp_u64);
	printf("\ncold TLB: BPF_PROG_TEST_RUN with repeat=1, %d calls each (the TLB is flushed by "
	       "every system call\non this host: page-table isolation without PCID); ns over the "
	       "empty program (%llu ns a run),\nmedian [quartiles] of the per-call differences\n",
	       COLD_CALLS, (unsigned long long)e[COLD_CALLS / 2]);
	for (i = 0; i < 6; i++) {
		qsort(d[i], COLD_CALLS, sizeof(d[i][0]), cmp_i64);
		printf("  %-28s %6lld   [%lld %lld]\n", names[i], (long long)d[i][COLD_CALLS / 2],
		       (long long)d[i][COLD_CALLS / 4], (long long)d[i][(3 * COLD_CALLS) / 4]);
	}
out:
	close(count);
}

#define NBLOCKS 9

static void bench_blocks(struct tw_dp *dp, int empty, const struct tr_case *pkt, uint32_t client,
			 uint32_t profile)
{
	struct tw_client_key ck = { .ifindex = 1, .family = TW_FAM_V4 };
	struct tw_client_key miss = { .family = TW_FAM_V4 };
	struct tw_flow6_key fk = { .ifindex = 1, .family = TW_FAM_V6, .proto = 17 };
	struct tw_flow4_key fk4 = { .ifindex = 1, .proto = 17 };
	struct tw_flow_val fv = { .last_seen_ns = 1 };
	struct tw_acl_key ak = { .prefixlen = TW_ACL_KEY_FIXED_BITS + 32,
				 .list = TW_LIST_FROM_CLIENT,
				 .family = TW_FAM_V4 };
	uint32_t a, inner_id = 0;
	int inner = -1;
	struct {
		const char *name, *per_pkt;
		int fd;
	} ops[NBLOCKS] = {
		{ "bpf_ktime_get_ns()", "0 (a coarser clock instead)", -1 },
		{ "bpf_ktime_get_coarse_ns()", "0 (1 where the kernel's HZ is unknown)", -1 },
		{ "bpf_jiffies64()", "1 (the flow clock; inlined to a load)", -1 },
		{ "tw1_clients lookup, hit", "first packet of a connection", -1 },
		{ "tw1_clients lookup, miss", "first packet (tenant check: peer)", -1 },
		{ "tw1_flows4 lookup (20 B key)", "1 per IPv4 packet", -1 },
		{ "tw1_flows6 lookup (44 B key)", "1 per IPv6 packet", -1 },
		{ "tw1_flows4 update (LRU)", "once per connection", -1 },
		{ "allowlist LPM lookup", "once per connection, denied 1", -1 },
	};
	uint64_t base[MAX_ROUNDS] = { 0 }, v[MAX_ROUNDS] = { 0 };
	uint32_t rv, ns = 0;

	a = htonl((10u << 24 | 128u << 16) + client);
	memcpy(ck.addr, &a, 4);
	a = htonl(rule_net4(profile, 0) + 1);
	memcpy(miss.addr, &a, 4);
	memcpy(ak.addr, &a, 4);
	memcpy(fk.raddr, &a, 4);
	fk4.raddr = a;
	if (bpf_map_lookup_elem(tw_dp_map_fd(dp, TW_MAP_ACL), &profile, &inner_id) == 0)
		inner = bpf_map_get_fd_by_id(inner_id);

	ops[0].fd = raw_op(0, BPF_FUNC_ktime_get_ns, NULL, 0, NULL, 0);
	ops[1].fd = raw_op(0, BPF_FUNC_ktime_get_coarse_ns, NULL, 0, NULL, 0);
	ops[2].fd = raw_op(0, BPF_FUNC_jiffies64, NULL, 0, NULL, 0);
	ops[3].fd = raw_op(1, tw_dp_map_fd(dp, TW_MAP_CLIENTS), &ck, sizeof(ck), NULL, 0);
	ops[4].fd = raw_op(1, tw_dp_map_fd(dp, TW_MAP_CLIENTS), &miss, sizeof(miss), NULL, 0);
	/* lookups of keys that are not there: a hit costs the same hash and
	 * one key compare more */
	ops[5].fd = raw_op(1, tw_dp_map_fd(dp, TW_MAP_FLOWS4), &fk4, sizeof(fk4), NULL, 0);
	ops[6].fd = raw_op(1, tw_dp_map_fd(dp, TW_MAP_FLOWS6), &fk, sizeof(fk), NULL, 0);
	fk4.kind = TW_FLOW_FRAG; /* a different key from the lookup's, so that one stays a miss */
	ops[7].fd = raw_op(2, tw_dp_map_fd(dp, TW_MAP_FLOWS4), &fk4, sizeof(fk4), &fv, sizeof(fv));
	ops[8].fd = inner >= 0 ? raw_op(1, inner, &ak, sizeof(ak), NULL, 0) : -EINVAL;

	printf("\nbuilding blocks (PROG_TEST_RUN of one helper call on the loaded maps, ns over "
	       "the empty program, median of %d)\n",
	       cfg.reps);
	printf("  %-28s %6s   %s\n", "operation", "ns", "per packet in tw_tun_in/out");
	for (int k = 0; k < cfg.reps; k++) {
		test_run(empty, pkt->pkt, pkt->len, cfg.repeat, &rv, &ns);
		base[k] = ns;
	}
	qsort(base, (size_t)cfg.reps, sizeof(base[0]), cmp_u64);
	for (int i = 0; i < NBLOCKS; i++) {
		if (ops[i].fd < 0) {
			printf("  %-28s %6s   (load failed: %s)\n", ops[i].name, "-",
			       strerror(-ops[i].fd));
			continue;
		}
		for (int k = 0; k < cfg.reps; k++) {
			test_run(ops[i].fd, pkt->pkt, pkt->len, cfg.repeat, &rv, &ns);
			v[k] = ns;
		}
		qsort(v, (size_t)cfg.reps, sizeof(v[0]), cmp_u64);
		printf("  %-28s %6lld   %s\n", ops[i].name,
		       (long long)v[cfg.reps / 2] - (long long)base[cfg.reps / 2], ops[i].per_pkt);
		close(ops[i].fd);
	}
	printf("  (plus, per packet: headers read straight from the packet and\n"
	       "   inlined array lookups for the slot, tw1_ctl and the per-CPU counters)\n");
	if (inner >= 0)
		close(inner);
}

/*
 * Where the time goes: perf samples this process (cpu-clock: VMs usually
 * have no hardware counters) while one case runs under PROG_TEST_RUN.
 */
static void profile_case(int fd, const struct tr_case *tc)
{
	char out[128];
	double t0;
	pid_t pid;
	int st;

	snprintf(out, sizeof(out), "%s/twbench-%d.perf", getenv("TMPDIR") ?: "/tmp", getpid());
	pid = fork();
	if (pid == 0) {
		char p[16], secs[16];

		snprintf(p, sizeof(p), "%d", getppid());
		snprintf(secs, sizeof(secs), "%d", cfg.profile_s);
		execlp("perf", "perf", "record", "-q", "-e", "cpu-clock", "-p", p, "-o", out, "--",
		       "sleep", secs, (char *)NULL);
		_exit(127);
	}
	if (pid < 0)
		return;
	t0 = now_s();
	while (now_s() - t0 < cfg.profile_s + 1.0) {
		uint32_t rv, ns;

		if (test_run(fd, tc->pkt, tc->len, 100000, &rv, &ns))
			break;
	}
	waitpid(pid, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		printf("\n(profile: perf record failed or is not installed)\n");
		unlink(out);
		return;
	}
	printf("\nprofile of '%s' under PROG_TEST_RUN (perf, cpu-clock, kernel symbols):\n",
	       tc->name);
	e2e_ns_system(NULL,
		      "perf report -q -i %s --percentage relative --sort sym --stdio 2>/dev/null | "
		      "grep -v '^$' | head -n 14",
		      out);
	unlink(out);
}

static int bench_test_run(void)
{
	struct tw_dp_opts o = { .pin_root = "", .l3_off = 14 };
	uint32_t c = 12345 % cfg.clients, p = c % cfg.profiles;
	char ca4[32], ca6[64], dst4[32], dst6[64];
	struct tr_case cases[5];
	uint64_t med[6], v[MAX_ROUNDS];
	long long dmed[5], dmin[5];
	double secs;
	struct tw_dp *dp;
	int empty, err, i, k;

	dp = tw_dp_open(&o);
	if (!dp) {
		fprintf(stderr, "twbench: open dp: %s\n", strerror(errno));
		return -errno;
	}
	/* PROG_TEST_RUN hands the program an skb on the loopback device */
	err = load_policy(dp, 1, &secs);
	if (err)
		goto out;
	printf("policy: %u clients (v4+v6), %u profiles x %u rules = %u rules, loaded in %.2f s\n",
	       cfg.clients, cfg.profiles, cfg.rules_per_profile,
	       cfg.profiles * cfg.rules_per_profile, secs);
	if (tw_dp_hz(dp))
		printf("flow clock: jiffies (CONFIG_HZ=%d)\n", tw_dp_hz(dp));
	else
		printf("flow clock: bpf_ktime_get_coarse_ns() (the kernel's CONFIG_HZ is unknown)\n");

	client_v4(c, ca4, sizeof(ca4));
	client_v6(c, ca6, sizeof(ca6));
	ip4str(rule_net4(p, 0) + 1, dst4, sizeof(dst4));
	snprintf(dst6, sizeof(dst6), "fd10:%x:51::1", p);
	{
		struct pkt_spec s4 = { .family = 4,
				       .src = ca4,
				       .dst = dst4,
				       .proto = IPPROTO_UDP,
				       .sport = 40000,
				       .dport = 1000,
				       .ip4_frag = PKT_DF,
				       .payload = 64,
				       .payload_data = cases };
		struct pkt_spec s6 = s4, rp = s4, dn = s4, un = s4;

		s6.family = 6;
		s6.src = ca6;
		s6.dst = dst6;
		s6.dport = 443;
		rp.src = dst4;
		rp.dst = ca4;
		rp.sport = 1000;
		rp.dport = 40000;
		dn.dport = 9;
		un.src = "10.200.0.1";
		cases[0] = (struct tr_case){ .name = "v4 allowed, from client", .want_rv = -1U };
		cases[0].len = build_pkt(cases[0].pkt, sizeof(cases[0].pkt), &s4);
		cases[1] = (struct tr_case){ .name = "v6 allowed, from client", .want_rv = -1U };
		cases[1].len = build_pkt(cases[1].pkt, sizeof(cases[1].pkt), &s6);
		cases[2] = (struct tr_case){ .name = "v4 reply, to client",
					     .out = true,
					     .want_rv = -1U };
		cases[2].len = build_pkt(cases[2].pkt, sizeof(cases[2].pkt), &rp);
		cases[3] = (struct tr_case){ .name = "v4 denied (port)", .want_rv = 2 };
		cases[3].len = build_pkt(cases[3].pkt, sizeof(cases[3].pkt), &dn);
		cases[4] = (struct tr_case){ .name = "unknown client", .want_rv = 2 };
		cases[4].len = build_pkt(cases[4].pkt, sizeof(cases[4].pkt), &un);
	}
	empty = ref_prog(dp, TWB_EMPTY);
	if (empty < 0) {
		err = empty;
		fprintf(stderr, "twbench: empty prog: %s\n", strerror(-err));
		goto out;
	}
	/* the allowed packet opens the flow the reply case hits */
	for (i = 0; i < 5; i++) {
		uint32_t rv = 0, ns = 0;
		int fd = cases[i].out ? tw_dp_prog_fd_out(dp) : tw_dp_prog_fd_in(dp);

		err = test_run(fd, cases[i].pkt, cases[i].len, 1, &rv, &ns);
		if (err || rv != cases[i].want_rv) {
			fprintf(stderr, "twbench: case '%s': err %d verdict %d (want %d)\n",
				cases[i].name, err, (int)rv, (int)cases[i].want_rv);
			err = err ?: -EPROTO;
			goto out_empty;
		}
	}
	/* interleave: each rep measures the empty program and every case */
	{
		uint64_t all[6][MAX_ROUNDS];

		for (k = 0; k < cfg.reps; k++) {
			uint32_t rv, ns;

			err = test_run(empty, cases[0].pkt, cases[0].len, cfg.repeat, &rv, &ns);
			if (err)
				goto out_empty;
			all[0][k] = ns;
			for (i = 0; i < 5; i++) {
				int fd = cases[i].out ? tw_dp_prog_fd_out(dp) :
							tw_dp_prog_fd_in(dp);

				err = test_run(fd, cases[i].pkt, cases[i].len, cfg.repeat, &rv,
					       &ns);
				if (err)
					goto out_empty;
				all[i + 1][k] = ns;
			}
		}
		for (i = 0; i < 6; i++) {
			memcpy(v, all[i], sizeof(uint64_t) * (size_t)cfg.reps);
			qsort(v, (size_t)cfg.reps, sizeof(v[0]), cmp_u64);
			med[i] = v[cfg.reps / 2];
		}
		/* over empty per rep: the machine's speed drifts between reps
		 * (a shared host), both programs of one rep see the same speed */
		for (i = 0; i < 5; i++) {
			for (k = 0; k < cfg.reps; k++)
				v[k] = all[i + 1][k] - all[0][k] + 1000; /* keep it unsigned */
			qsort(v, (size_t)cfg.reps, sizeof(v[0]), cmp_u64);
			dmed[i] = (long long)v[cfg.reps / 2] - 1000;
			dmin[i] = (long long)v[0] - 1000;
		}
	}
	printf("\nBPF_PROG_TEST_RUN, repeat=%d, %d reps (ns per packet; over empty: per rep, "
	       "median and best rep)\n",
	       cfg.repeat, cfg.reps);
	printf("  %-28s %8s %12s %10s %8s\n", "path", "ns/pkt", "over empty", "best rep", "target");
	printf("  %-28s %8llu %12s\n", "empty tc program", (unsigned long long)med[0], "-");
	/* The <= 50 ns target is for the main paths: packets of admitted
	 * connections (allowed, reply) and the cheapest drop. A denied packet
	 * is always a connection's first packet (client lookup, tenant check,
	 * allowlist LPM lookup): shown, not held to the target. */
	for (i = 0; i < 5; i++)
		printf("  %-28s %8llu %12lld %10lld %8s\n", cases[i].name,
		       (unsigned long long)med[i + 1], dmed[i], dmin[i],
		       i == 3	     ? "1st pkt" :
		       dmed[i] <= 50 ? "ok" :
				       "MISSED");
	bench_cold(dp, empty, cases);
	bench_blocks(dp, empty, &cases[0], c, p);
	if (cfg.profile_s)
		profile_case(tw_dp_prog_fd_in(dp), &cases[0]);
out_empty:
	close(empty);
out:
	tw_dp_close(dp);
	return err;
}

/* ------------------------------------------------------------ tun path */

/* CFG_EMPTY: an empty program on the same tcx hook. It is what the hook
 * alone costs, the floor for any tc design, measured in the same rounds.
 * CFG_COUNT: a program that does nothing but count each packet to its
 * client's slot in tunwarden's loaded tw1_ccnt (the slot taken from the
 * source address by arithmetic: no lookup, no check). It is the floor for
 * any design that accounts per client in a per-CPU map, as the issue asks. */
enum { CFG_NONE, CFG_EMPTY, CFG_COUNT, CFG_TW, CFG_NFT_CT, CFG_NFT, CFG__MAX };
static const char *const cfg_name[CFG__MAX] = {
	[CFG_NONE] = "no filter",
	[CFG_EMPTY] = "empty tc program (tcx)",
	[CFG_COUNT] = "count-only program (tcx)",
	[CFG_TW] = "tunwarden (tcx)",
	[CFG_NFT_CT] = "nftables + conntrack",
	[CFG_NFT] = "nftables, no conntrack",
};

struct tunns {
	char ns[48];
	int fd;
	int sink_map, sink_prog, sink_link;
	int ref_fd, ref_link; /* CFG_EMPTY and CFG_COUNT: the reference program on bt0 */
};

static struct tunns tns[CFG__MAX];
#define MAX_PKT 1500 /* the tun device's MTU */
static uint8_t flows[NFLOWS][MAX_PKT];
static const uint8_t flow_payload[MAX_PKT];
static int flow_len[NFLOWS];

#define TCX_INGRESS 46 /* BPF_TCX_INGRESS: not in Debian 12's uapi headers */
#define TCX_EGRESS  47 /* BPF_TCX_EGRESS */

/*
 * A namespace with the tun device and a packet sink: packets to
 * 100.64.0.0/10 are forwarded out of a veth (static neighbour, no ARP) whose
 * tc egress program counts and drops them, after the whole forwarding path
 * (routing, netfilter forward hook, neighbour output) ran. The kernel has
 * no dummy device here; this sink costs about what dummy's xmit costs.
 */
static int tun_ns_setup(struct tunns *t, const char *name)
{
	int err, ifindex;

	snprintf(t->ns, sizeof(t->ns), "%s%s", pfx, name);
	t->fd = t->sink_map = t->sink_prog = t->sink_link = -1;
	t->ref_fd = t->ref_link = -1;
	err = e2e_ns_create(t->ns)					 ?:
		      e2e_ns_enter(t->ns)				 ?:
		      e2e_sysctl("net.ipv4.ip_forward", "1")		 ?:
		      e2e_sysctl("net.ipv4.conf.all.rp_filter", "0")	 ?:
		      e2e_sysctl("net.ipv4.conf.default.rp_filter", "0") ?:
		      e2e_sysctl("net.ipv6.conf.default.disable_ipv6", "1");
	if (err)
		goto out;
	t->fd = e2e_tun_open("bt0");
	if (t->fd < 0) {
		err = t->fd;
		goto out;
	}
	err = e2e_ip_batch(t->ns, "link add sink0 type veth peer name sinkp\n"
				  "addr add 100.127.255.254/24 dev sink0\n"
				  "link set sink0 up\n"
				  "link set sinkp up\n"
				  "neigh add 100.127.255.1 lladdr 02:00:00:00:00:01 dev sink0 "
				  "nud permanent\n"
				  "route add 100.64.0.0/10 via 100.127.255.1 dev sink0\n"
				  "addr add 10.127.255.254/32 dev bt0\n"
				  "link set bt0 up\n"
				  "route add 10.128.0.0/9 dev bt0\n");
	if (err)
		goto out;
	t->sink_map = bpf_map_create(BPF_MAP_TYPE_ARRAY, "sink_cnt", 4, 8, 1, NULL);
	t->sink_prog = t->sink_map >= 0 ? e2e_counting_prog(t->sink_map, 2 /* SHOT */) : -errno;
	ifindex = (int)if_nametoindex("sink0");
	if (t->sink_prog < 0 || !ifindex) {
		err = t->sink_prog < 0 ? t->sink_prog : -ENODEV;
		goto out;
	}
	t->sink_link = bpf_link_create(t->sink_prog, ifindex, TCX_EGRESS, NULL);
	if (t->sink_link < 0)
		err = -errno;
out:
	e2e_ns_enter(NULL);
	return err;
}

static uint64_t sink_count(const struct tunns *t)
{
	uint32_t zero = 0;
	uint64_t v = 0;

	bpf_map_lookup_elem(t->sink_map, &zero, &v);
	return v;
}

static double cpu_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Write for cfg.dur_ms. Every write() runs the whole receive and forward
 * path synchronously in this thread (tun_get_user -> netif_receive_skb
 * under local_bh_disable -> ... -> the sink's tc egress), so packets per
 * second of this thread's CPU time is the per-packet cost of the path, and
 * does not depend on how much of the wall clock other processes took.
 * Returns delivered packets per CPU second; @wall_pps gets them per wall
 * second.
 */
static double measure(struct tunns *t, double *wall_pps)
{
	double t0, t1, c0, c1;
	unsigned int k = 0;
	uint64_t tx0, tx1;

	tx0 = sink_count(t);
	t0 = now_s();
	c0 = cpu_now_s();
	for (;;) {
		for (int i = 0; i < 256; i++) {
			if (write(t->fd, flows[k], (size_t)flow_len[k]) < 0)
				break;
			k = (k + 1) % (unsigned int)cfg.nflows;
		}
		t1 = now_s();
		if (t1 - t0 >= cfg.dur_ms / 1000.0)
			break;
	}
	c1 = cpu_now_s();
	tx1 = sink_count(t);
	*wall_pps = (double)(tx1 - tx0) / (t1 - t0);
	return (double)(tx1 - tx0) / (c1 - c0);
}

static int write_nft(const char *path, bool ct)
{
	FILE *f;
	char a[64];

	if (!cfg.profiles) /* checked at option parsing; for the analyzer */
		return -EINVAL;
	f = fopen(path, "w");
	if (!f)
		return -errno;
	fprintf(f, "flush ruleset\ntable inet tw {\n");
	/* per-profile allowlists: address . protocol . port intervals */
	for (uint32_t p = 0; p < cfg.profiles; p++) {
		struct tw_rule r[256];
		int n = profile_rules(p, r), first4 = 1, first6 = 1, firstt = 1;
		char pb[INET6_ADDRSTRLEN];

		fprintf(f,
			" set a4_%u { type ipv4_addr . inet_proto . inet_service; flags interval; "
			"elements = {",
			p);
		for (int i = 0; i < n; i++) {
			if (r[i].list != TW_LIST_FROM_CLIENT || r[i].prefix.family != TW_FAM_V4)
				continue;
			inet_ntop(AF_INET, r[i].prefix.addr, pb, sizeof(pb));
			if (r[i].proto == IPPROTO_ICMP)
				continue; /* ICMP: its own rule below (no ports) */
			fprintf(f, "%s %s/%u . %s . %u-%u", first4 ? "" : ",", pb, r[i].plen,
				r[i].proto == IPPROTO_TCP ? "tcp" : "udp", r[i].port_lo,
				r[i].port_hi);
			first4 = 0;
		}
		fprintf(f, " } }\n");
		fprintf(f,
			" set a6_%u { type ipv6_addr . inet_proto . inet_service; flags interval; "
			"elements = {",
			p);
		for (int i = 0; i < n; i++) {
			if (r[i].list != TW_LIST_FROM_CLIENT || r[i].prefix.family != TW_FAM_V6)
				continue;
			inet_ntop(AF_INET6, r[i].prefix.addr, pb, sizeof(pb));
			fprintf(f, "%s %s/%u . udp . %u", first6 ? "" : ",", pb, r[i].plen,
				r[i].port_lo);
			first6 = 0;
		}
		fprintf(f, " } }\n");
		fprintf(f,
			" set t4_%u { type ipv4_addr . inet_proto . inet_service; flags interval; "
			"elements = {",
			p);
		for (int i = 0; i < n; i++) {
			if (r[i].list != TW_LIST_TO_CLIENT)
				continue;
			inet_ntop(AF_INET, r[i].prefix.addr, pb, sizeof(pb));
			fprintf(f, "%s %s/%u . tcp . %u", firstt ? "" : ",", pb, r[i].plen,
				r[i].port_lo);
			firstt = 0;
		}
		fprintf(f, " } }\n");
		/* from client: peer isolation, open flows, allowlist, else drop */
		fprintf(f,
			" chain p%u {\n"
			"  ip daddr @peers4 drop\n%s"
			"  ip daddr . meta l4proto . th dport @a4_%u accept\n"
			"  ip6 daddr . meta l4proto . th dport @a6_%u accept\n"
			"  ip daddr 100.64.0.0/10 meta l4proto icmp accept\n"
			"  drop\n }\n",
			p, ct ? "  ct state established,related accept\n" : "", p, p);
		fprintf(f,
			" chain t%u {\n%s"
			"  ip saddr . meta l4proto . th dport @t4_%u accept\n"
			"  drop\n }\n",
			p, ct ? "  ct state established,related accept\n" : "", p);
	}
	/* clients: verdict maps with a counter on every element */
	for (int dir = 0; dir < 2; dir++) {
		for (int fam = 4; fam <= 6; fam += 2) {
			fprintf(f, " map %s%d { type %s : verdict; counter; elements = {\n",
				dir ? "to" : "from", fam, fam == 4 ? "ipv4_addr" : "ipv6_addr");
			for (uint32_t i = 0; i < cfg.clients; i++) {
				if (fam == 4)
					client_v4(i, a, sizeof(a));
				else
					client_v6(i, a, sizeof(a));
				fprintf(f, "%s  %s : jump %c%u", i ? ",\n" : "", a, dir ? 't' : 'p',
					i % cfg.profiles);
			}
			fprintf(f, "\n } }\n");
		}
	}
	fprintf(f, " set peers4 { type ipv4_addr; elements = {\n");
	for (uint32_t i = 0; i < cfg.clients; i++) {
		client_v4(i, a, sizeof(a));
		fprintf(f, "%s  %s", i ? ",\n" : "", a);
	}
	fprintf(f, "\n } }\n");
	fprintf(f, " chain forward {\n"
		   "  type filter hook forward priority filter; policy accept;\n"
		   "  iif \"bt0\" ip saddr vmap @from4\n"
		   "  iif \"bt0\" ip6 saddr vmap @from6\n"
		   "  iif \"bt0\" counter drop\n"
		   "  oif \"bt0\" ip daddr vmap @to4\n"
		   "  oif \"bt0\" ip6 daddr vmap @to6\n"
		   "  oif \"bt0\" counter drop\n"
		   " }\n}\n");
	if (fclose(f))
		return -errno;
	return 0;
}

static void build_flows(void)
{
	for (int k = 0; k < NFLOWS; k++) {
		uint32_t c = (uint32_t)(k * 97) % cfg.clients, p = c % cfg.profiles;
		char src[32], dst[32];
		struct pkt_spec s = { .family = 4,
				      .src = src,
				      .dst = dst,
				      .proto = IPPROTO_UDP,
				      .sport = (uint16_t)(10000 + k),
				      .dport = 1000,
				      .ip4_frag = PKT_DF,
				      .no_eth = true,
				      .payload_data = flow_payload,
				      .payload = (uint16_t)(cfg.pkt_size - 28) };

		client_v4(c, src, sizeof(src));
		ip4str(rule_net4(p, 0) + 1 + (uint32_t)(k % 200), dst, sizeof(dst));
		flow_len[k] = build_pkt(flows[k], sizeof(flows[k]), &s);
	}
}

static double median(double *v, int n)
{
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
			double t = v[j];

			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/*
 * The median (and quartiles) of the per-round ratios a[r] / b[r]. Each
 * round measures every configuration back to back, so a ratio within a
 * round cancels the machine's drift between rounds, which the ratio of two
 * medians does not. Writes the text to @o; returns the median.
 */
static double paired(const double *a, const double *b, char *o, size_t olen)
{
	double q[MAX_ROUNDS], med;
	int n = cfg.rounds, r;

	for (r = 0; r < n; r++)
		q[r] = b[r] > 0 ? a[r] / b[r] : 0;
	med = median(q, n); /* sorts q */
	snprintf(o, olen, "%.3f [%.3f %.3f]", med, q[n / 4], q[(3 * n) / 4]);
	return med;
}

/* The kernel's run-time statistics of program @fd: runs and ns in them. */
static int prog_stats(int fd, uint64_t *runs, uint64_t *ns)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	*runs = info.run_cnt;
	*ns = info.run_time_ns;
	return 0;
}

/*
 * The programs' own time on the tun path, from the kernel's BPF run-time
 * statistics (BPF_ENABLE_STATS: the time around each run, taken with
 * sched_clock() by the hook): what tunwarden adds in place, with the cold
 * caches of a real path, where PROG_TEST_RUN runs it hot. The statistics
 * slow every program down a little, so they are on only in this pass, not
 * in the rounds above. Rounds of the empty program, tw_tun_in and no
 * filter back to back (order rotated); the medians of the per-round ns per
 * packet, of their per-round difference, and of what that difference alone
 * would make of the round's no-filter path.
 */
static void tun_in_situ(int tw_fd)
{
	/* programs timed: the empty program, the count-only floor, tw_tun_in */
	enum { P_EMPTY, P_COUNT, P_TW, P__MAX };
	static const int cfgs[P__MAX] = { CFG_EMPTY, CFG_COUNT, CFG_TW };
	double t[P__MAX][MAX_ROUNDS], d[P__MAX][MAX_ROUNDS], q[P__MAX][MAX_ROUNDS], w;
	int sfd, fds[P__MAX] = { tns[CFG_EMPTY].ref_fd, tns[CFG_COUNT].ref_fd, tw_fd };
	int n = cfg.rounds;

	sfd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (sfd < 0) {
		printf("  (in place: BPF_ENABLE_STATS failed: %s)\n", strerror(errno));
		return;
	}
	for (int r = 0; r < n; r++) {
		double ns[P__MAX] = { 0 }, none = 0;

		for (int j = 0; j <= P__MAX; j++) {
			int i = (j + r) % (P__MAX + 1); /* P__MAX: no filter */
			uint64_t r0 = 0, n0 = 0, r1 = 0, n1 = 0;

			if (i == P__MAX) {
				none = 1e9 / measure(&tns[CFG_NONE], &w);
				continue;
			}
			if (prog_stats(fds[i], &r0, &n0))
				goto out;
			measure(&tns[cfgs[i]], &w);
			if (prog_stats(fds[i], &r1, &n1) || r1 == r0)
				goto out;
			ns[i] = (double)(n1 - n0) / (double)(r1 - r0);
		}
		for (int i = 0; i < P__MAX; i++) {
			t[i][r] = ns[i];
			d[i][r] = ns[i] - ns[P_EMPTY];
			q[i][r] = none / (none + d[i][r]);
		}
	}
	printf("  in place (kernel BPF run-time statistics, %d more rounds, medians per round):\n"
	       "    empty program %.0f ns a packet; count-only %.0f ns, %.0f over empty; "
	       "tw_tun_in %.0f ns, %.0f over empty\n"
	       "    what the difference alone makes of no filter: count-only %.3f, "
	       "tunwarden %.3f\n",
	       n, median(t[P_EMPTY], n), median(t[P_COUNT], n), median(d[P_COUNT], n),
	       median(t[P_TW], n), median(d[P_TW], n), median(q[P_COUNT], n), median(q[P_TW], n));
out:
	close(sfd);
}

static int bench_tun(void)
{
	static const char *const ns_suffix[CFG__MAX] = { "none", "empty", "count",
							 "tw",	 "nftct", "nft" };
	double pps[CFG__MAX][MAX_ROUNDS], wps[CFG__MAX][MAX_ROUNDS], med[CFG__MAX];
	struct tw_dp_opts o = { .pin_root = "", .l3_off = 0 };
	char nftpath[128];
	struct tw_dp *dp = NULL;
	cpu_set_t cpus;
	double secs;
	int err = 0, c, r, ncfg = cfg.no_nft ? CFG_NFT_CT : CFG__MAX;

	build_flows();
	for (c = 0; c < ncfg; c++) {
		err = tun_ns_setup(&tns[c], ns_suffix[c]);
		if (err) {
			fprintf(stderr, "twbench: namespace %s: %s\n", ns_suffix[c],
				strerror(-err));
			goto out;
		}
	}
	/* tunwarden: the same 100k clients and 10k rules, on bt0 of its namespace */
	e2e_ns_enter(tns[CFG_TW].ns);
	dp = tw_dp_open(&o);
	if (!dp) {
		err = -errno;
		goto out_ns;
	}
	err = load_policy(dp, e2e_ifindex(tns[CFG_TW].ns, "bt0"), &secs);
	if (!err)
		err = tw_dp_attach(dp, e2e_ifindex(tns[CFG_TW].ns, "bt0"), TW_ATTACH_AUTO, NULL);
	if (err) {
		fprintf(stderr, "twbench: tunwarden setup: %s\n", tw_dp_errstr(dp));
		goto out_ns;
	}
	/* the hook alone: an empty program where tunwarden's tw_tun_in sits;
	 * and the floor of per-client accounting: a count-only program */
	tns[CFG_EMPTY].ref_fd = ref_prog(dp, TWB_EMPTY);
	tns[CFG_COUNT].ref_fd = ref_prog(dp, TWB_COUNT_TUN);
	for (c = CFG_EMPTY; c <= CFG_COUNT; c++) {
		e2e_ns_enter(tns[c].ns);
		if (tns[c].ref_fd >= 0)
			tns[c].ref_link = bpf_link_create(
				tns[c].ref_fd, e2e_ifindex(tns[c].ns, "bt0"), TCX_INGRESS, NULL);
		if (tns[c].ref_link < 0) {
			err = tns[c].ref_fd < 0 ? tns[c].ref_fd : -errno;
			fprintf(stderr, "twbench: %s on bt0: %s\n", cfg_name[c], strerror(-err));
			goto out_ns;
		}
	}
	e2e_ns_enter(NULL);
	for (c = CFG_NFT_CT; c < ncfg; c++) {
		double t0 = now_s();

		snprintf(nftpath, sizeof(nftpath), "%s/twbench-%d-%d.nft",
			 getenv("TMPDIR") ?: "/tmp", getpid(), c);
		err = write_nft(nftpath, c == CFG_NFT_CT);
		if (!err)
			err = e2e_ns_system(tns[c].ns, "nft -f %s", nftpath);
		if (err) {
			fprintf(stderr, "twbench: nft ruleset (%s) failed to load: %d\n", nftpath,
				err);
			goto out_ns;
		}
		printf("nftables ruleset (%s) loaded in %.2f s\n", cfg_name[c], now_s() - t0);
		if (cfg.nft_file && c == CFG_NFT_CT)
			e2e_ns_system(NULL, "cp %s %s", nftpath, cfg.nft_file);
		unlink(nftpath);
	}

	/* one writer on one CPU: the whole receive path runs in its context */
	CPU_ZERO(&cpus);
	CPU_SET(sysconf(_SC_NPROCESSORS_ONLN) - 1, &cpus);
	sched_setaffinity(0, sizeof(cpus), &cpus);
	for (c = 0; c < ncfg; c++) { /* warm-up: conntrack entries, flows, caches */
		double w;

		measure(&tns[c], &w);
	}
	for (r = 0; r < cfg.rounds; r++) {
		for (int i = 0; i < ncfg; i++) {
			c = (i + r) % ncfg; /* rotate the order: no config always goes first */
			pps[c][r] = measure(&tns[c], &wps[c][r]);
		}
	}
	printf("\ntun write path: 1 writer pinned to CPU %ld, %d flows of %d clients, %d-byte "
	       "UDP packets forwarded to a veth sink;\n%d rounds x %.2f s, interleaved, median; "
	       "ratios use packets per CPU-second of the writer\n",
	       sysconf(_SC_NPROCESSORS_ONLN) - 1, cfg.nflows, cfg.nflows, cfg.pkt_size, cfg.rounds,
	       cfg.dur_ms / 1000.0);
	printf("  %-26s %14s %10s %14s   %s\n", "config", "pkts/CPU-s", "vs none", "pkts/wall-s",
	       "rounds (k pkts/CPU-s)");
	for (c = 0; c < ncfg; c++) {
		double copy[MAX_ROUNDS], wmed;

		memcpy(copy, pps[c], sizeof(double) * (size_t)cfg.rounds);
		med[c] = median(copy, cfg.rounds);
		memcpy(copy, wps[c], sizeof(double) * (size_t)cfg.rounds);
		wmed = median(copy, cfg.rounds);
		printf("  %-26s %14.0f %10.3f %14.0f  ", cfg_name[c], med[c],
		       med[c] / med[CFG_NONE], wmed);
		for (r = 0; r < cfg.rounds; r++)
			printf(" %.0f", pps[c][r] / 1000);
		printf("\n");
	}
	{
		char p_tw[64], p_empty[64], p_count[64], p_own[64], p_ct[64] = "", p_nft[64] = "";
		double r_tw = paired(pps[CFG_TW], pps[CFG_NONE], p_tw, sizeof(p_tw)), r_ct = 0;

		paired(pps[CFG_EMPTY], pps[CFG_NONE], p_empty, sizeof(p_empty));
		paired(pps[CFG_COUNT], pps[CFG_NONE], p_count, sizeof(p_count));
		paired(pps[CFG_TW], pps[CFG_EMPTY], p_own, sizeof(p_own));
		if (ncfg > CFG_NFT_CT) {
			r_ct = paired(pps[CFG_TW], pps[CFG_NFT_CT], p_ct, sizeof(p_ct));
			paired(pps[CFG_TW], pps[CFG_NFT], p_nft, sizeof(p_nft));
		}
		printf("\n  ratios: of the medians above | paired: median of the per-round ratios "
		       "[quartiles]\n");
		printf("  tunwarden / no filter        %.3f | %s   (target >= 0.97: %s)\n",
		       med[CFG_TW] / med[CFG_NONE], p_tw, r_tw >= 0.97 ? "ok" : "MISSED");
		printf("  empty tc program / no filter %.3f | %s   (the tcx hook alone: the "
		       "ceiling for any tc program)\n",
		       med[CFG_EMPTY] / med[CFG_NONE], p_empty);
		printf("  count-only / no filter       %.3f | %s   (count each packet to its "
		       "client's slot, nothing else:\n%34s the floor for per-client accounting)\n",
		       med[CFG_COUNT] / med[CFG_NONE], p_count, "");
		printf("  tunwarden / empty tc program %.3f | %s   (the program's own cost)\n",
		       med[CFG_TW] / med[CFG_EMPTY], p_own);
		if (ncfg > CFG_NFT_CT) {
			printf("  tunwarden / nft+conntrack    %.3f | %s   (target >= 1.4: %s)\n",
			       med[CFG_TW] / med[CFG_NFT_CT], p_ct, r_ct >= 1.4 ? "ok" : "MISSED");
			printf("  tunwarden / nft stateless    %.3f | %s   (no conntrack: cannot "
			       "admit replies only for opened flows)\n",
			       med[CFG_TW] / med[CFG_NFT], p_nft);
		}
	}
	tun_in_situ(tw_dp_prog_fd_in(dp));
	if (ncfg > CFG_NFT_CT) {
		printf("  per-packet cost over no filter (ns): empty tc program %.0f, tunwarden %.0f, "
		       "nft+ct %.0f, nft %.0f\n",
		       1e9 / med[CFG_EMPTY] - 1e9 / med[CFG_NONE],
		       1e9 / med[CFG_TW] - 1e9 / med[CFG_NONE],
		       1e9 / med[CFG_NFT_CT] - 1e9 / med[CFG_NONE],
		       1e9 / med[CFG_NFT] - 1e9 / med[CFG_NONE]);
	}
out_ns:
	e2e_ns_enter(NULL);
	tw_dp_close(dp);
out:
	for (c = 0; c < CFG__MAX; c++) {
		if (!tns[c].ns[0])
			continue;
		if (tns[c].fd >= 0)
			close(tns[c].fd);
		if (tns[c].sink_link >= 0)
			close(tns[c].sink_link);
		if (tns[c].sink_prog >= 0)
			close(tns[c].sink_prog);
		if (tns[c].sink_map >= 0)
			close(tns[c].sink_map);
		if (tns[c].ref_link >= 0)
			close(tns[c].ref_link);
		if (tns[c].ref_fd >= 0)
			close(tns[c].ref_fd);
	}
	e2e_cleanup();
	return err;
}

static void usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s [-c CLIENTS] [-p PROFILES] [-R RULES_PER_PROFILE] [-r ROUNDS]\n"
		"          [-d MS_PER_MEASUREMENT] [-n TEST_RUN_REPEAT] [-f FLOWS] [-P SECS] [-X]\n"
		"          [-s BYTES] [-T] [-N]\n"
		"          [-o NFT_FILE]\n"
		"  -f  flows (= clients) the tun writer cycles through, 1..1024 (default 1024)\n"
		"  -s  IP bytes of the tun writer's UDP packets, 29..1500 (default 92)\n"
		"  -P  after the PROG_TEST_RUN table, profile the v4 allowed case for P s (perf)\n"
		"  -X  skip PROG_TEST_RUN\n"
		"  -T  skip the tun path   -N  skip the nftables configs\n"
		"  -o  keep a copy of the generated nftables ruleset\n",
		argv0);
}

int main(int argc, char **argv)
{
	int opt, err;

	while ((opt = getopt(argc, argv, "c:p:R:r:d:n:f:s:P:XTNo:h")) != -1) {
		switch (opt) {
		case 'c':
			cfg.clients = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'p':
			cfg.profiles = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'R':
			cfg.rules_per_profile = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'r':
			cfg.rounds = atoi(optarg);
			break;
		case 'd':
			cfg.dur_ms = (unsigned int)atoi(optarg);
			break;
		case 'n':
			cfg.repeat = atoi(optarg);
			break;
		case 'f':
			cfg.nflows = atoi(optarg);
			break;
		case 's':
			cfg.pkt_size = atoi(optarg);
			break;
		case 'P':
			cfg.profile_s = atoi(optarg);
			break;
		case 'X':
			cfg.no_test_run = true;
			break;
		case 'T':
			cfg.no_tun = true;
			break;
		case 'N':
			cfg.no_nft = true;
			break;
		case 'o':
			cfg.nft_file = optarg;
			break;
		default:
			usage(argv[0]);
			return opt == 'h' ? EXIT_SUCCESS : EXIT_FAILURE;
		}
	}
	if (!cfg.clients || cfg.clients > TW_MAX_CLIENTS || !cfg.profiles ||
	    cfg.profiles > TW_MAX_PROFILES || cfg.rules_per_profile < 100 ||
	    cfg.rules_per_profile > 256 || cfg.rounds < 1 || cfg.rounds > MAX_ROUNDS ||
	    cfg.repeat < 1 || cfg.nflows < 1 || cfg.nflows > NFLOWS || cfg.pkt_size < 29 ||
	    cfg.pkt_size > MAX_PKT) {
		usage(argv[0]);
		return EXIT_FAILURE;
	}
	if (geteuid()) {
		fprintf(stderr, "twbench: needs root (BPF, network namespaces)\n");
		return EXIT_FAILURE;
	}
	cfg.reps = cfg.rounds < 5 ? 5 : cfg.rounds;
	snprintf(pfx, sizeof(pfx), "twb-%d-", getpid());
	e2e_cleanup_init(0);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("twbench: kernel ");
	fflush(stdout);
	e2e_ns_system(NULL, "uname -r");
	err = cfg.no_test_run ? 0 : bench_test_run();
	if (!err && !cfg.no_tun)
		err = bench_tun();
	return err ? EXIT_FAILURE : EXIT_SUCCESS;
}
