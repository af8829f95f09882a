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

/*
 * Every ICMP error type, both families and directions, about connections
 * the client opened (41000-41002, below) and about ones it did not; quotes
 * cut at each boundary of what the parser needs, and quotes of packets
 * that cannot belong to a connection. The allowlist has no ICMP: PASS means
 * related, DROP not.
 */
#define A4    "10.8.0.2"
#define B4    "10.8.0.3"
#define WEB4  "192.0.2.10"
#define RTR4  "198.51.100.1"
#define A6    "fd00:8::2"
#define WEB6  "2001:db8:1::10"
#define RTR6  "2001:db8:ff::1"
#define PING4 "203.0.113.5"
#define PING6 "2001:db8:2::5"

#define ERR4(t, c, from, to) \
	.family = 4, .src = from, .dst = to, .proto = IPPROTO_ICMP, .icmp_type = t, .icmp_code = c
#define ERR6(t, c, from, to) \
	.family = 6, .src = from, .dst = to, .proto = IPPROTO_ICMPV6, .icmp_type = t, .icmp_code = c
/* the quoted packet: @fam, @pr (TCP, UDP), @s:@sp -> @d:@dp, then any pkt_spec fields */
#define Q(fam, pr, s, d, sp, dp, ...)                                                  \
	.quote = &(const struct pkt_spec)                                              \
	{                                                                              \
		.family = fam, .src = s, .dst = d, .proto = IPPROTO_##pr, .sport = sp, \
		.dport = dp, __VA_ARGS__                                               \
	}
/* a's connections, seen from the error's sender */
#define QA4  Q(4, TCP, A4, WEB4, 41000, 443)
#define QA4U Q(4, UDP, A4, WEB4, 41001, 53)
#define QA6  Q(6, TCP, A6, WEB6, 41002, 443)
/* a's echo requests, identifier 41003 */
#define QP4 Q(4, ICMP, A4, PING4, 41003, 0)
#define QP6 Q(6, ICMPV6, A6, PING6, 41003, 0)

struct rcase {
	const char *name;
	bool in; /* sent by the client */
	struct pkt_spec err;
	int want;
};

static void related_table(struct tw_dp *dp)
{
	const struct rcase t[] = {
		/* to the client: each IPv4 error type about an open connection */
		{ "v4_unreach_host", false, { ERR4(3, 1, RTR4, A4), QA4 }, PASS },
		{ "v4_unreach_frag_needed", false, { ERR4(3, 4, RTR4, A4), QA4 }, PASS },
		{ "v4_time_exceeded_ttl", false, { ERR4(11, 0, RTR4, A4), QA4 }, PASS },
		{ "v4_time_exceeded_reassembly", false, { ERR4(11, 1, WEB4, A4), QA4 }, PASS },
		{ "v4_param_problem", false, { ERR4(12, 0, RTR4, A4), QA4 }, PASS },
		{ "v4_param_problem_missing_option", false, { ERR4(12, 1, RTR4, A4), QA4 }, PASS },
		{ "v4_time_exceeded_udp", false, { ERR4(11, 0, RTR4, A4), QA4U }, PASS },
		/* types next to the errors, quoting the same connection, are not errors */
		{ "v4_type_2", false, { ERR4(2, 0, RTR4, A4), QA4 }, DROP },
		{ "v4_source_quench", false, { ERR4(4, 0, RTR4, A4), QA4 }, DROP },
		{ "v4_redirect", false, { ERR4(5, 0, RTR4, A4), QA4 }, DROP },
		{ "v4_router_solicitation", false, { ERR4(10, 0, RTR4, A4), QA4 }, DROP },
		{ "v4_timestamp", false, { ERR4(13, 0, RTR4, A4), QA4 }, DROP },
		/* errors about connections a never opened */
		{ "v4_time_exceeded_other_port",
		  false,
		  { ERR4(11, 0, RTR4, A4), Q(4, TCP, A4, WEB4, 41099, 443) },
		  DROP },
		{ "v4_param_problem_other_host",
		  false,
		  { ERR4(12, 0, RTR4, A4), Q(4, TCP, A4, "192.0.2.11", 41000, 443) },
		  DROP },
		{ "v4_time_exceeded_other_proto",
		  false,
		  { ERR4(11, 0, RTR4, A4), Q(4, UDP, A4, WEB4, 41000, 443) },
		  DROP },
		{ "v4_time_exceeded_to_b", false, { ERR4(11, 0, RTR4, B4), QA4 }, DROP },
		{ "v4_param_problem_to_b", false, { ERR4(12, 0, RTR4, B4), QA4 }, DROP },
		/* the quote: the ports are all the parser needs, and it needs them */
		{ "v4_quote_header_and_ports",
		  false,
		  { ERR4(11, 0, RTR4, A4), QA4, .quote_len = 24 },
		  PASS },
		{ "v4_quote_ports_cut",
		  false,
		  { ERR4(11, 0, RTR4, A4), QA4, .quote_len = 23 },
		  DROP },
		{ "v4_quote_header_only",
		  false,
		  { ERR4(11, 0, RTR4, A4), QA4, .quote_len = 20 },
		  DROP },
		{ "v4_quote_header_cut",
		  false,
		  { ERR4(3, 4, RTR4, A4), QA4, .quote_len = 19 },
		  DROP },
		{ "v4_quote_whole_packet",
		  false,
		  { ERR4(3, 4, RTR4, A4), QA4, .quote_len = 0xffff },
		  PASS }, /* 0xffff: all of it, more than RFC 792 asks */
		{ "v4_quote_ip_options",
		  false,
		  { ERR4(11, 0, RTR4, A4), Q(4, TCP, A4, WEB4, 41000, 443, .ip4_optlen = 8) },
		  PASS },
		{ "v4_quote_options_ports_cut",
		  false,
		  { ERR4(11, 0, RTR4, A4), Q(4, TCP, A4, WEB4, 41000, 443, .ip4_optlen = 8),
		    .quote_len = 31 },
		  DROP },
		{ "v4_quote_first_fragment",
		  false,
		  { ERR4(11, 1, WEB4, A4), Q(4, TCP, A4, WEB4, 41000, 443, .ip4_frag = PKT_MF) },
		  PASS },
		/* a later fragment has no ports: what looks like them is data */
		{ "v4_quote_later_fragment",
		  false,
		  { ERR4(11, 1, WEB4, A4),
		    Q(4, TCP, A4, WEB4, 41000, 443, .ip4_frag = 8, .payload = 16,
		      .payload_data = (const uint8_t[]){ 0xa0, 0x28, 0x01, 0xbb, 0, 0, 0, 0, 0, 0,
							 0, 0, 0, 0, 0, 0 }) },
		  DROP },
		{ "v4_quote_not_v4",
		  false,
		  { ERR4(11, 0, RTR4, A4), Q(4, TCP, A4, WEB4, 41000, 443, .version = 6) },
		  DROP },
		{ "v4_quote_short_ihl",
		  false,
		  { ERR4(11, 0, RTR4, A4), Q(4, TCP, A4, WEB4, 41000, 443, .ihl = 4) },
		  DROP },

		/* to the client over IPv6: types 1-4 are the errors */
		{ "v6_unreach_port", false, { ERR6(1, 4, RTR6, A6), QA6 }, PASS },
		{ "v6_packet_too_big", false, { ERR6(2, 0, RTR6, A6), QA6 }, PASS },
		{ "v6_time_exceeded_hops", false, { ERR6(3, 0, RTR6, A6), QA6 }, PASS },
		{ "v6_time_exceeded_reassembly", false, { ERR6(3, 1, WEB6, A6), QA6 }, PASS },
		{ "v6_param_problem", false, { ERR6(4, 0, RTR6, A6), QA6 }, PASS },
		{ "v6_param_problem_next_header", false, { ERR6(4, 1, RTR6, A6), QA6 }, PASS },
		{ "v6_type_0", false, { ERR6(0, 0, RTR6, A6), QA6 }, DROP },
		{ "v6_type_5", false, { ERR6(5, 0, RTR6, A6), QA6 }, DROP },
		{ "v6_type_127", false, { ERR6(127, 0, RTR6, A6), QA6 }, DROP },
		{ "v6_time_exceeded_other_port",
		  false,
		  { ERR6(3, 0, RTR6, A6), Q(6, TCP, A6, WEB6, 41099, 443) },
		  DROP },
		{ "v6_param_problem_other_host",
		  false,
		  { ERR6(4, 0, RTR6, A6), Q(6, TCP, A6, "2001:db8:1::11", 41002, 443) },
		  DROP },
		{ "v6_quote_header_and_ports",
		  false,
		  { ERR6(3, 0, RTR6, A6), QA6, .quote_len = 44 },
		  PASS },
		{ "v6_quote_ports_cut",
		  false,
		  { ERR6(3, 0, RTR6, A6), QA6, .quote_len = 43 },
		  DROP },
		{ "v6_quote_header_cut",
		  false,
		  { ERR6(2, 0, RTR6, A6), QA6, .quote_len = 39 },
		  DROP },
		/* extension headers in a quote are not followed */
		{ "v6_quote_ext_header",
		  false,
		  { ERR6(3, 0, RTR6, A6),
		    Q(6, TCP, A6, WEB6, 41002, 443, .n_ext = 1, .ext = { PKT_EH_DEST }) },
		  DROP },

		/* about a's pings: the echo identifier stands for the ports */
		{ "v4_time_exceeded_echo", false, { ERR4(11, 0, RTR4, A4), QP4 }, PASS },
		{ "v4_unreach_echo", false, { ERR4(3, 1, RTR4, A4), QP4 }, PASS },
		{ "v4_time_exceeded_other_echo",
		  false,
		  { ERR4(11, 0, RTR4, A4), Q(4, ICMP, A4, PING4, 41098, 0) },
		  DROP },
		{ "v4_quote_echo_cut",
		  false,
		  { ERR4(11, 0, RTR4, A4), QP4, .quote_len = 27 },
		  DROP },
		{ "v6_time_exceeded_echo", false, { ERR6(3, 0, RTR6, A6), QP6 }, PASS },
		{ "v6_time_exceeded_other_echo",
		  false,
		  { ERR6(3, 0, RTR6, A6), Q(6, ICMPV6, A6, PING6, 41098, 0) },
		  DROP },
		{ "v6_quote_echo_cut", false, { ERR6(3, 0, RTR6, A6), QP6, .quote_len = 47 }, DROP },

		/* from the client, about the replies of its connections */
		{ "v4_from_client_time_exceeded",
		  true,
		  { ERR4(11, 0, A4, WEB4), Q(4, TCP, WEB4, A4, 443, 41000) },
		  PASS },
		{ "v4_from_client_param_problem",
		  true,
		  { ERR4(12, 0, A4, WEB4), Q(4, TCP, WEB4, A4, 443, 41000) },
		  PASS },
		{ "v4_from_client_time_exceeded_other",
		  true,
		  { ERR4(11, 0, A4, WEB4), Q(4, TCP, WEB4, A4, 443, 41099) },
		  DROP },
		{ "v4_from_client_redirect",
		  true,
		  { ERR4(5, 0, A4, WEB4), Q(4, TCP, WEB4, A4, 443, 41000) },
		  DROP },
		{ "v6_from_client_time_exceeded",
		  true,
		  { ERR6(3, 0, A6, WEB6), Q(6, TCP, WEB6, A6, 443, 41002) },
		  PASS },
		{ "v6_from_client_param_problem",
		  true,
		  { ERR6(4, 0, A6, WEB6), Q(6, TCP, WEB6, A6, 443, 41002) },
		  PASS },
		{ "v6_from_client_param_problem_other",
		  true,
		  { ERR6(4, 0, A6, WEB6), Q(6, TCP, WEB6, A6, 443, 41099) },
		  DROP },
	};
	struct pkt p;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (!test__start_subtest(t[i].name))
			continue;
		if (!ASSERT_OK(pkt_build(&p, &t[i].err), "build"))
			continue;
		ASSERT_EQ(run(dp, t[i].in, &p), t[i].want, t[i].name);
	}
}

/*
 * An IPv4 ICMP error may be fragmented like any datagram: its first fragment
 * carries the quote and is judged by it; the later ones follow it, as for
 * any admitted first fragment, and have nothing to follow otherwise.
 */
static void fragmented_error(struct tw_dp *dp)
{
	const struct pkt_spec first = { ERR4(11, 0, RTR4, A4),
					Q(4, TCP, A4, WEB4, 41000, 443, .payload = 600),
					.quote_len = 0xffff, .ip4_frag = PKT_MF, .ip_id = 77 };
	const struct pkt_spec later = { .family = 4,
					.src = RTR4,
					.dst = A4,
					.proto = IPPROTO_ICMP,
					.ip4_frag = 640 / 8,
					.ip_id = 77,
					.payload = 200 };
	/* from another router, about a connection a never opened */
	const struct pkt_spec ufirst = { ERR4(11, 0, "198.51.100.2", A4),
					 Q(4, TCP, A4, WEB4, 41099, 443, .payload = 600),
					 .quote_len = 0xffff, .ip4_frag = PKT_MF, .ip_id = 78 };
	const struct pkt_spec ulater = { .family = 4,
					 .src = "198.51.100.2",
					 .dst = A4,
					 .proto = IPPROTO_ICMP,
					 .ip4_frag = 640 / 8,
					 .ip_id = 78,
					 .payload = 200 };
	struct pkt p;

	if (ASSERT_OK(pkt_build(&p, &ulater), "build"))
		ASSERT_EQ(run(dp, false, &p), DROP, "a later fragment alone: dropped");
	if (ASSERT_OK(pkt_build(&p, &first), "build"))
		ASSERT_EQ(run(dp, false, &p), PASS, "first fragment, quoting a's connection");
	if (ASSERT_OK(pkt_build(&p, &later), "build"))
		ASSERT_EQ(run(dp, false, &p), PASS, "its later fragment follows");
	if (ASSERT_OK(pkt_build(&p, &ufirst), "build"))
		ASSERT_EQ(run(dp, false, &p), DROP, "first fragment, about another connection");
	if (ASSERT_OK(pkt_build(&p, &ulater), "build"))
		ASSERT_EQ(run(dp, false, &p), DROP, "its later fragment: dropped");
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
	struct tw_rule r[5] = {
		{ .list = TW_LIST_FROM_CLIENT,
		  .proto = IPPROTO_TCP,
		  .port_lo = 443,
		  .port_hi = 443 },
		{ .list = TW_LIST_FROM_CLIENT,
		  .proto = IPPROTO_TCP,
		  .port_lo = 443,
		  .port_hi = 443 },
		{ .list = TW_LIST_FROM_CLIENT, .proto = IPPROTO_UDP, .port_lo = 53, .port_hi = 53 },
		/* pings, elsewhere: errors about them must not pass by the allowlist */
		{ .list = TW_LIST_FROM_CLIENT, .proto = IPPROTO_ICMP, .port_hi = 65535 },
		{ .list = TW_LIST_FROM_CLIENT, .proto = IPPROTO_ICMPV6, .port_hi = 65535 },
	};
	struct tw_dp *dp;

	if (!test__need_bpffs())
		return;
	dp = tw_dp_open(&o);
	if (!ASSERT_OK_PTR(dp, "open"))
		return;
	tw_prefix_parse("192.0.2.0/24", &r[0].prefix, &r[0].plen);
	tw_prefix_parse("2001:db8:1::/48", &r[1].prefix, &r[1].plen);
	tw_prefix_parse("192.0.2.0/24", &r[2].prefix, &r[2].plen);
	tw_prefix_parse("203.0.113.0/24", &r[3].prefix, &r[3].plen);
	tw_prefix_parse("2001:db8:2::/48", &r[4].prefix, &r[4].plen);
	tw_addr_parse("10.8.0.2", &a.addrs[0]);
	tw_addr_parse("fd00:8::2", &a.addrs[1]);
	tw_addr_parse("10.8.0.3", &b.addrs[0]);
	if (!ASSERT_OK(tw_dp_profile_set(dp, 1, r, 5), "profile") ||
	    !ASSERT_OK(tw_dp_client_add(dp, &a), "client a") ||
	    !ASSERT_OK(tw_dp_client_add(dp, &b), "client b"))
		goto out;

	/* the connections related_table()'s errors are about */
	if (!ASSERT_EQ(conn(dp, false, A4, WEB4, IPPROTO_TCP, 41000, 443), PASS, "a: tcp/443") ||
	    !ASSERT_EQ(conn(dp, false, A4, WEB4, IPPROTO_UDP, 41001, 53), PASS, "a: udp/53") ||
	    !ASSERT_EQ(conn(dp, true, A6, WEB6, IPPROTO_TCP, 41002, 443), PASS, "a: tcp/443 v6") ||
	    !ASSERT_EQ(conn(dp, false, A4, PING4, IPPROTO_ICMP, 41003, 0), PASS, "a: ping") ||
	    !ASSERT_EQ(conn(dp, true, A6, PING6, IPPROTO_ICMPV6, 41003, 0), PASS, "a: ping v6"))
		goto out;
	related_table(dp);
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
	if (test__start_subtest("fragmented_error_v4"))
		fragmented_error(dp);
out:
	tw_dp_close(dp);
}
