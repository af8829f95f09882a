// SPDX-License-Identifier: GPL-2.0-only
/*
 * ICMP errors about a client's admitted connections pass with them: path MTU
 * discovery (fragmentation needed, packet too big) and unreachables must
 * reach the end that sent the packet, whatever the allowlists say about
 * ICMP. Errors about connections that were never admitted, or that belong
 * to another client, are judged by the allowlist like anything else.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "packet.h"
#include "test.h"
#include "tw_dp.h"

#define PASS (-1)
#define DROP 2

static int run(struct tw_dp *dp, bool in, struct pkt *p)
{
	struct __sk_buff ctx = { .ifindex = 1 };
	LIBBPF_OPTS(bpf_test_run_opts, o, .ctx_in = &ctx, .ctx_size_in = sizeof(ctx),
		    .data_in = p->data, .data_size_in = p->len);

	if (bpf_prog_test_run_opts(in ? tw_dp_prog_fd_in(dp) : tw_dp_prog_fd_out(dp), &o))
		return -errno;
	return (int)o.retval;
}

static int conn(struct tw_dp *dp, bool v6, const char *src, const char *dst, uint8_t proto,
		uint16_t sport, uint16_t dport)
{
	struct pkt_spec s = { .family = v6 ? 6 : 4,
			      .src = src,
			      .dst = dst,
			      .proto = proto,
			      .sport = sport,
			      .dport = dport };
	struct pkt p;

	if (pkt_build(&p, &s))
		return -100;
	return run(dp, true, &p);
}

/*
 * An ICMP error from @from to @to, quoting the first bytes of the packet
 * @qsrc:@qsport -> @qdst:@qdport that @from could not deliver.
 */
static int icmp_error(struct tw_dp *dp, bool in, bool v6, uint8_t type, uint8_t code,
		      const char *from, const char *to, const char *qsrc, const char *qdst,
		      uint16_t qsport, uint16_t qdport)
{
	struct pkt_spec qs = { .family = v6 ? 6 : 4,
			       .no_eth = true,
			       .src = qsrc,
			       .dst = qdst,
			       .proto = IPPROTO_TCP,
			       .sport = qsport,
			       .dport = qdport,
			       .payload = 64 };
	struct pkt quoted, p;
	struct pkt_ip4_hdr h = { .src = from, .dst = to };

	if (pkt_build(&quoted, &qs))
		return -100;
	pkt_init(&p);
	pkt_eth(&p, v6 ? 0x86dd : 0x0800);
	if (v6)
		pkt_ip6(&p, from, to);
	else
		pkt_ip4(&p, &h);
	/* ICMPv4 errors quote the header and 8 bytes; ICMPv6 as much as fits */
	pkt_icmp(&p, type, code, 0, v6 ? 1280 : 1400);
	pkt_bytes(&p, quoted.data, v6 ? quoted.len : 28);
	if (pkt_finish(&p) || p.err)
		return -101;
	return run(dp, in, &p);
}

void test_tunnel_related(void)
{
	struct tw_dp_opts o = { .pin_root = "", .l3_off = 14, .max_clients = 64, .max_flows = 1024 };
	struct tw_client a = { .slot = 1,
			       .ifindex = 1,
			       .tenant = 1,
			       .profile = 1,
			       .state = TW_STATE_PERMIT,
			       .naddrs = 2 };
	struct tw_client b = { .slot = 2,
			       .ifindex = 1,
			       .tenant = 1,
			       .profile = 1,
			       .state = TW_STATE_PERMIT,
			       .naddrs = 1 };
	struct tw_rule r[2] = {
		{ .list = TW_LIST_FROM_CLIENT,
		  .proto = IPPROTO_TCP,
		  .port_lo = 443,
		  .port_hi = 443 },
		{ .list = TW_LIST_FROM_CLIENT,
		  .proto = IPPROTO_TCP,
		  .port_lo = 443,
		  .port_hi = 443 },
	};
	struct tw_dp *dp;

	if (!test__need_bpffs())
		return;
	dp = tw_dp_open(&o);
	if (!ASSERT_OK_PTR(dp, "open"))
		return;
	tw_prefix_parse("192.0.2.0/24", &r[0].prefix, &r[0].plen);
	tw_prefix_parse("2001:db8:1::/48", &r[1].prefix, &r[1].plen);
	tw_addr_parse("10.8.0.2", &a.addrs[0]);
	tw_addr_parse("fd00:8::2", &a.addrs[1]);
	tw_addr_parse("10.8.0.3", &b.addrs[0]);
	if (!ASSERT_OK(tw_dp_profile_set(dp, 1, r, 2), "profile") ||
	    !ASSERT_OK(tw_dp_client_add(dp, &a), "client a") ||
	    !ASSERT_OK(tw_dp_client_add(dp, &b), "client b"))
		goto out;

	if (test__start_subtest("frag_needed_v4")) {
		ASSERT_EQ(icmp_error(dp, false, false, 3, 4, "198.51.100.1", "10.8.0.2", "10.8.0.2",
				     "192.0.2.10", 40000, 443),
			  DROP, "no connection yet: the allowlist says no ICMP");
		ASSERT_EQ(conn(dp, false, "10.8.0.2", "192.0.2.10", IPPROTO_TCP, 40000, 443), PASS,
			  "a opens tcp/443");
		ASSERT_EQ(icmp_error(dp, false, false, 3, 4, "198.51.100.1", "10.8.0.2", "10.8.0.2",
				     "192.0.2.10", 40000, 443),
			  PASS, "a router's fragmentation-needed reaches a");
		ASSERT_EQ(icmp_error(dp, false, false, 3, 3, "192.0.2.10", "10.8.0.2", "10.8.0.2",
				     "192.0.2.10", 40000, 443),
			  PASS, "port unreachable about it too");
		ASSERT_EQ(icmp_error(dp, false, false, 3, 4, "198.51.100.1", "10.8.0.2", "10.8.0.2",
				     "192.0.2.10", 40001, 443),
			  DROP, "about another connection: dropped");
		ASSERT_EQ(icmp_error(dp, false, false, 3, 4, "198.51.100.1", "10.8.0.3", "10.8.0.2",
				     "192.0.2.10", 40000, 443),
			  DROP, "a's connection quoted to b: dropped");
	}
	if (test__start_subtest("packet_too_big_v6")) {
		ASSERT_EQ(conn(dp, true, "fd00:8::2", "2001:db8:1::10", IPPROTO_TCP, 40002, 443),
			  PASS, "a opens tcp/443 over v6");
		ASSERT_EQ(icmp_error(dp, false, true, 2, 0, "2001:db8:ff::1", "fd00:8::2",
				     "fd00:8::2", "2001:db8:1::10", 40002, 443),
			  PASS, "packet too big reaches a");
		ASSERT_EQ(icmp_error(dp, false, true, 1, 4, "2001:db8:ff::1", "fd00:8::2",
				     "fd00:8::2", "2001:db8:1::10", 40003, 443),
			  DROP, "about an unknown connection: dropped");
	}
	if (test__start_subtest("from_client")) {
		/* the client tells the remote end it cannot take a reply */
		ASSERT_EQ(conn(dp, false, "10.8.0.2", "192.0.2.11", IPPROTO_TCP, 40004, 443), PASS,
			  "a opens tcp/443");
		ASSERT_EQ(icmp_error(dp, true, false, 3, 3, "10.8.0.2", "192.0.2.11", "192.0.2.11",
				     "10.8.0.2", 443, 40004),
			  PASS, "a's unreachable about the reply passes");
		ASSERT_EQ(icmp_error(dp, true, false, 3, 3, "10.8.0.2", "192.0.2.11", "192.0.2.11",
				     "10.8.0.2", 443, 40999),
			  DROP, "about something else: dropped");
	}
out:
	tw_dp_close(dp);
}
