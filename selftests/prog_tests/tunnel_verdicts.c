// SPDX-License-Identifier: GPL-2.0-only
/*
 * tw_tun_in (from client, TC ingress) and tw_tun_out (to client, TC egress)
 * through BPF_PROG_TEST_RUN, one table row per subtest: a packet, the
 * direction, the expected verdict and the exact change of every counter
 * (every per-client counter of every installed slot, and every global
 * counter). A counter that moves without being expected fails the row as
 * surely as one that does not move.
 *
 * One set of maps serves the whole table. Rows that depend on an open flow
 * bring their own preparation packets (verdicts checked, counters not), so
 * each row can run alone (-t tunnel_verdicts/NAME) and rows never share a
 * flow tuple by accident: every flow uses its own client port.
 *
 * PROG_TEST_RUN hands a TC program the frame with its Ethernet header,
 * hence l3_off 14; a second table runs the programs loaded for an L3 tunnel
 * (l3_off 0), and a few subtests follow flows through time and slot reuse.
 * The kernel resolves ctx ifindex: 1 (lo) exists in every network
 * namespace, and the clients are installed on it.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include "test.h"
#include "packet.h"
#include "tw_dp.h"
#include <tunwarden/flow_cache.h>
#include "tunwarden.skel.h"

#define PASS	   (-1) /* TC_ACT_UNSPEC */
#define DROP	   2 /* TC_ACT_SHOT */
#define IN	   TW_DIR_FROM_CLIENT
#define OUT	   TW_DIR_TO_CLIENT
#define LO_IFINDEX 1
#define NONE	   (-1)

/* ---- clients ---- */

enum {
	SL_A, /* PERMIT, tenant 1 */
	SL_B, /* PERMIT, tenant 1: A's neighbour */
	SL_C, /* PERMIT, tenant 2 */
	SL_S, /* SANDBOX, tenant 1 */
	SL_X, /* BANNED, tenant 1 */
	SL_F, /* tenant 2, installed, then freed: its addresses are still in the map */
	SL_Z, /* PERMIT, tenant 0: isolated from everyone */
	SL_N, /* PERMIT, profile without an allowlist */
	SL_R, /* PERMIT, tenant 1, on another interface */
	SL_G, /* PERMIT, tenant 1: removed and installed again by a subtest */
	SL_Y, /* PERMIT, tenant 0 too: even two tenant-0 clients are isolated */
	SL_Q, /* PERMIT, tenant 2, on another interface */
	NSLOTS,
};

#define A4 "10.8.0.2"
#define A6 "fd00:8::2"
#define B4 "10.8.0.3"
#define B6 "fd00:8::3"
#define C4 "10.8.0.4"
#define C6 "fd00:8::4"
#define S4 "10.8.0.5"
#define S6 "fd00:8::5"
#define X4 "10.8.0.6"
#define X6 "fd00:8::6"
#define F4 "10.8.0.7"
#define F6 "fd00:8::7"
#define Z4 "10.8.0.8"
#define Z6 "fd00:8::8"
#define N4 "10.8.0.9"
#define N6 "fd00:8::9"
#define R4 "10.8.1.2"
#define Q4 "10.8.1.3"
#define G4 "10.8.0.20"
#define Y4 "10.8.0.21"
#define Y6 "fd00:8::21"
#define U4 "10.8.0.99" /* nobody */
#define U6 "fd00:8::99"

/* Remote ends. */
#define WEB4	"198.51.100.7" /* from-client list: TCP 1000-2000, UDP 53, ICMP */
#define DNS4	"198.51.100.53" /* ... and the sandbox list: UDP 53 */
#define PORTAL4 "198.51.100.80" /* sandbox list: TCP 443 */
#define SUB25	"198.51.100.200" /* a /25 inside WEB4's /24 with its own TCP 22 */
#define ANYR4	"203.0.113.10" /* any protocol, ports 5000-5001 */
#define ANYF4	"203.0.113.20" /* any protocol, any port */
#define GRE4	"203.0.113.30" /* GRE only */
#define NOPE4	"100.64.0.1" /* in no list */
#define ADM4	"192.0.2.9" /* to-client list: TCP 22, UDP 5060-5061 */
#define WEB6	"2001:db8:100::7"
#define DNS6	"2001:db8:100::53"
#define ADM6	"2001:db8:200::9"
#define NOPE6	"2001:db8:300::1"

#define PROFILE	      1
#define PROFILE_EMPTY 2

struct tv_client {
	uint32_t slot, state, tenant, profile;
	int ifindex;
	const char *a4, *a6;
};

static const struct tv_client clients[NSLOTS] = {
	[SL_A] = { SL_A, TW_STATE_PERMIT, 1, PROFILE, LO_IFINDEX, A4, A6 },
	[SL_B] = { SL_B, TW_STATE_PERMIT, 1, PROFILE, LO_IFINDEX, B4, B6 },
	[SL_C] = { SL_C, TW_STATE_PERMIT, 2, PROFILE, LO_IFINDEX, C4, C6 },
	[SL_S] = { SL_S, TW_STATE_SANDBOX, 1, PROFILE, LO_IFINDEX, S4, S6 },
	[SL_X] = { SL_X, TW_STATE_BANNED, 1, PROFILE, LO_IFINDEX, X4, X6 },
	[SL_F] = { SL_F, TW_STATE_PERMIT, 2, PROFILE, LO_IFINDEX, F4, F6 },
	[SL_Z] = { SL_Z, TW_STATE_PERMIT, 0, PROFILE, LO_IFINDEX, Z4, Z6 },
	[SL_N] = { SL_N, TW_STATE_PERMIT, 1, PROFILE_EMPTY, LO_IFINDEX, N4, N6 },
	/* the interface need not exist: only the key carries it */
	[SL_R] = { SL_R, TW_STATE_PERMIT, 1, PROFILE, 1000, R4, NULL },
	[SL_G] = { SL_G, TW_STATE_PERMIT, 1, PROFILE, LO_IFINDEX, G4, NULL },
	[SL_Y] = { SL_Y, TW_STATE_PERMIT, 0, PROFILE, LO_IFINDEX, Y4, Y6 },
	[SL_Q] = { SL_Q, TW_STATE_PERMIT, 2, PROFILE, 1000, Q4, NULL },
};

/* ---- the profile ---- */

struct tv_rule {
	const char *prefix;
	uint8_t list;
	uint8_t proto;
	uint16_t lo, hi;
};

static const struct tv_rule rules[] = {
	{ "198.51.100.0/24", TW_LIST_FROM_CLIENT, IPPROTO_TCP, 1000, 2000 },
	{ "198.51.100.0/24", TW_LIST_FROM_CLIENT, IPPROTO_UDP, 53, 53 },
	{ "198.51.100.0/24", TW_LIST_FROM_CLIENT, IPPROTO_ICMP, 0, 65535 },
	{ "198.51.100.128/25", TW_LIST_FROM_CLIENT, IPPROTO_TCP, 22, 22 },
	{ "203.0.113.10/32", TW_LIST_FROM_CLIENT, TW_PROTO_ANY, 5000, 5001 },
	{ "203.0.113.20/32", TW_LIST_FROM_CLIENT, TW_PROTO_ANY, 0, 65535 },
	{ "203.0.113.30/32", TW_LIST_FROM_CLIENT, IPPROTO_GRE, 0, 65535 },
	{ "10.8.0.0/16", TW_LIST_FROM_CLIENT, TW_PROTO_ANY, 0, 65535 },
	{ "2001:db8:100::/48", TW_LIST_FROM_CLIENT, IPPROTO_TCP, 1000, 2000 },
	{ "2001:db8:100::/48", TW_LIST_FROM_CLIENT, IPPROTO_UDP, 53, 53 },
	{ "2001:db8:100::/48", TW_LIST_FROM_CLIENT, IPPROTO_ICMPV6, 0, 65535 },
	{ "fd00:8::/64", TW_LIST_FROM_CLIENT, TW_PROTO_ANY, 0, 65535 },
	{ "192.0.2.0/24", TW_LIST_TO_CLIENT, IPPROTO_TCP, 22, 22 },
	{ "192.0.2.0/24", TW_LIST_TO_CLIENT, IPPROTO_UDP, 5060, 5061 },
	{ "2001:db8:200::/48", TW_LIST_TO_CLIENT, IPPROTO_TCP, 22, 22 },
	{ "10.8.0.0/16", TW_LIST_TO_CLIENT, TW_PROTO_ANY, 0, 65535 },
	{ "fd00:8::/64", TW_LIST_TO_CLIENT, TW_PROTO_ANY, 0, 65535 },
	{ "198.51.100.53/32", TW_LIST_SANDBOX, IPPROTO_UDP, 53, 53 },
	{ "198.51.100.80/32", TW_LIST_SANDBOX, IPPROTO_TCP, 443, 443 },
	{ "2001:db8:100::53/128", TW_LIST_SANDBOX, IPPROTO_UDP, 53, 53 },
};

/* ---- the table ---- */

enum {
	X_FLOW = 1, /* TW_G_FLOW_NEW: one reply flow created */
	X_REPLY = 2, /* TW_G_REPLY: passed as the reply of an open flow */
	X_NONIP = 4, /* TW_G_NON_IP_PASS */
};

struct tv_expect {
	int verdict;
	uint8_t reason; /* enum tw_drop_reason when dropped */
	int8_t slot; /* client whose counters move, NONE: no client's */
	uint8_t flags;
	/* 0: the datagram length the IP header declares (the whole frame for
	 * malformed and non-IP frames, which have no trustworthy length) */
	uint32_t bytes;
	uint32_t pkts; /* 0: 1 */
};

struct tv_step {
	uint8_t dir;
	struct pkt_spec pkt;
	int verdict;
};

struct tv_case {
	const char *name;
	uint8_t dir;
	uint8_t nprep;
	/* PROG_TEST_RUN on newer kernels refuses an IP ethertype frame shorter
	 * than the IP header (-EINVAL) before the program runs: then nothing
	 * may move. The l3_* rows reach the parser with such packets. */
	bool may_refuse;
	uint32_t gso_size, gso_segs;
	struct pkt_spec pkt;
	struct tv_expect x;
	const struct tv_step *prep;
};

/* Tables: one row per case reads better than clang-format's layout. */
/* clang-format off */
#define V4(s, d) .family = 4, .src = (s), .dst = (d)
#define V6(s, d) .family = 6, .src = (s), .dst = (d)
#define TCP(sp, dp) .proto = IPPROTO_TCP, .sport = (sp), .dport = (dp)
#define UDP(sp, dp) .proto = IPPROTO_UDP, .sport = (sp), .dport = (dp)
#define ICMP(id) .proto = IPPROTO_ICMP, .sport = (id)
#define ICMP6(id) .proto = IPPROTO_ICMPV6, .sport = (id)

#define PASS_NEW(s) { .verdict = PASS, .slot = (s), .flags = X_FLOW }
#define PASS_OLD(s) { .verdict = PASS, .slot = (s) }
#define PASS_REPLY(s) { .verdict = PASS, .slot = (s), .flags = X_REPLY }
#define DROP_AT(r, s) { .verdict = DROP, .reason = TW_DROP_##r, .slot = (s) }
#define DROP_G(r) { .verdict = DROP, .reason = TW_DROP_##r, .slot = NONE }

#define STEPS(...) \
	.prep = (const struct tv_step[]){ __VA_ARGS__ }, \
	.nprep = sizeof((const struct tv_step[]){ __VA_ARGS__ }) / sizeof(struct tv_step)

/* The intact packet the malformed rows damage: it passes when whole. */
#define BASE4 V4(A4, WEB4), TCP(46000, 1500)
#define BASE6 V6(A6, WEB6), TCP(46000, 1500)

static const struct tv_case cases[] = {
	/* ---- PERMIT, from the client, IPv4: protocols and port range edges ---- */
	{ "in4_tcp_port_lo", IN, .pkt = { V4(A4, WEB4), TCP(40001, 1000) }, .x = PASS_NEW(SL_A) },
	{ "in4_tcp_port_hi", IN, .pkt = { V4(A4, WEB4), TCP(40002, 2000), .payload = 100 },
	  .x = PASS_NEW(SL_A) },
	{ "in4_tcp_port_lo_minus_1", IN, .pkt = { V4(A4, WEB4), TCP(40003, 999) },
	  .x = DROP_AT(NOT_ALLOWED, SL_A) },
	{ "in4_tcp_port_hi_plus_1", IN, .pkt = { V4(A4, WEB4), TCP(40004, 2001) },
	  .x = DROP_AT(NOT_ALLOWED, SL_A) },
	{ "in4_udp_port_lo_hi", IN, .pkt = { V4(A4, WEB4), UDP(40005, 53), .payload = 30 },
	  .x = PASS_NEW(SL_A) },
	{ "in4_udp_port_lo_minus_1", IN, .pkt = { V4(A4, WEB4), UDP(40006, 52), .payload = 30 },
	  .x = DROP_AT(NOT_ALLOWED, SL_A) },
	{ "in4_udp_port_hi_plus_1", IN, .pkt = { V4(A4, WEB4), UDP(40007, 54), .payload = 30 },
	  .x = DROP_AT(NOT_ALLOWED, SL_A) },
	{ "in4_udp_in_tcp_range", IN, .pkt = { V4(A4, WEB4), UDP(40008, 1500), .payload = 30 },
	  .x = DROP_AT(NOT_ALLOWED, SL_A) },
	/* a UDP datagram shorter than 8 bytes of payload ends the frame early */
	{ "in4_udp_empty_payload", IN, .pkt = { V4(A4, WEB4), UDP(40009, 53) }, .x = PASS_NEW(SL_A) },
	{ "in4_icmp_echo", IN, .pkt = { V4(A4, WEB4), ICMP(40010), .payload = 56 },
	  .x = PASS_NEW(SL_A) },
	{ "in4_icmp_vs_any_proto_port_rule", IN, .pkt = { V4(A4, ANYR4), ICMP(40011) },
	  .x = DROP_AT(NOT_ALLOWED, SL_A) },
	{ "in4_any_proto_port_hi", IN, .pkt = { V4(A4, ANYR4), UDP(40012, 5001) },
	  .x = PASS_NEW(SL_A) },
	{ "in4_any_proto_port_hi_plus_1", IN, .pkt = { V4(A4, ANYR4), TCP(40013, 5002) },
	  .x = DROP_AT(NOT_ALLOWED, SL_A) },
	{ "in4_any_proto_any_port_icmp", IN, .pkt = { V4(A4, ANYF4), ICMP(40014) },
	  .x = PASS_NEW(SL_A) },
	{ "in4_gre_listed", IN, .pkt = { V4(A4, GRE4), .proto = IPPROTO_GRE, .payload = 24 },
	  .x = PASS_NEW(SL_A) },
	{ "in4_gre_not_listed", IN, .pkt = { V4(A4, WEB4), .proto = IPPROTO_GRE, .payload = 24 },
	  .x = DROP_AT(NOT_ALLOWED, SL_A) },
	{ "in4_no_prefix", IN, .pkt = { V4(A4, NOPE4), TCP(40015, 1500) },
	  .x = DROP_AT(NOT_ALLOWED, SL_A) },
	{ "in4_nested_prefix_own_rule", IN, .pkt = { V4(A4, SUB25), TCP(40016, 22) },
	  .x = PASS_NEW(SL_A) },
	{ "in4_nested_prefix_inherited_rule", IN, .pkt = { V4(A4, SUB25), TCP(40017, 1500) },
	  .x = PASS_NEW(SL_A) },
	{ "in4_nested_rule_not_outside_it", IN, .pkt = { V4(A4, WEB4), TCP(40018, 22) },
	  .x = DROP_AT(NOT_ALLOWED, SL_A) },
	{ "in4_second_packet_rides_the_connection", IN, .pkt = { V4(A4, WEB4), TCP(40019, 1500) },
	  .x = PASS_REPLY(SL_A),
	  STEPS({ IN, { V4(A4, WEB4), TCP(40019, 1500) }, PASS }) },
	{ "in4_dont_fragment_is_no_fragment", IN,
	  .pkt = { V4(A4, WEB4), TCP(40020, 1500), .ip4_frag = PKT_DF }, .x = PASS_NEW(SL_A) },

	/* ---- PERMIT, from the client, IPv6 ---- */
	{ "in6_tcp_port_lo", IN, .pkt = { V6(A6, WEB6), TCP(40101, 1000) }, .x = PASS_NEW(SL_A) },
	{ "in6_tcp_port_hi", IN, .pkt = { V6(A6, WEB6), TCP(40102, 2000) }, .x = PASS_NEW(SL_A) },
	{ "in6_tcp_port_lo_minus_1", IN, .pkt = { V6(A6, WEB6), TCP(40103, 999) },
	  .x = DROP_AT(NOT_ALLOWED, SL_A) },
	{ "in6_tcp_port_hi_plus_1", IN, .pkt = { V6(A6, WEB6), TCP(40104, 2001) },
	  .x = DROP_AT(NOT_ALLOWED, SL_A) },
	{ "in6_udp_dns", IN, .pkt = { V6(A6, WEB6), UDP(40105, 53), .payload = 40 },
	  .x = PASS_NEW(SL_A) },
	{ "in6_udp_empty_payload", IN, .pkt = { V6(A6, WEB6), UDP(40106, 53) }, .x = PASS_NEW(SL_A) },
	{ "in6_icmp6_echo", IN, .pkt = { V6(A6, WEB6), ICMP6(40107), .payload = 56 },
	  .x = PASS_NEW(SL_A) },
	{ "in6_no_prefix", IN, .pkt = { V6(A6, NOPE6), TCP(40108, 1500) },
	  .x = DROP_AT(NOT_ALLOWED, SL_A) },

	/* ---- replies to flows the client opened ---- */
	{ "out4_reply_before_open", OUT, .pkt = { V4(WEB4, A4), TCP(1500, 41001) },
	  .x = DROP_AT(NOT_ALLOWED, SL_A) },
	{ "out4_reply_after_open", OUT, .pkt = { V4(WEB4, A4), TCP(1500, 41001), .payload = 100 },
	  .x = PASS_REPLY(SL_A), STEPS({ IN, { V4(A4, WEB4), TCP(41001, 1500) }, PASS }) },
	{ "out4_reply_wrong_remote_port", OUT, .pkt = { V4(WEB4, A4), TCP(1501, 41001) },
	  .x = DROP_AT(NOT_ALLOWED, SL_A),
	  STEPS({ IN, { V4(A4, WEB4), TCP(41001, 1500) }, PASS }) },
	{ "out4_reply_wrong_protocol", OUT, .pkt = { V4(WEB4, A4), UDP(1500, 41001) },
	  .x = DROP_AT(NOT_ALLOWED, SL_A),
	  STEPS({ IN, { V4(A4, WEB4), TCP(41001, 1500) }, PASS }) },
	{ "out4_reply_to_another_client", OUT, .pkt = { V4(WEB4, B4), TCP(1500, 41001) },
	  .x = DROP_AT(NOT_ALLOWED, SL_B),
	  STEPS({ IN, { V4(A4, WEB4), TCP(41001, 1500) }, PASS }) },
	{ "out4_echo_reply", OUT, .pkt = { V4(WEB4, A4), ICMP(41002), .icmp = PKT_ECHO_REPLY },
	  .x = PASS_REPLY(SL_A), STEPS({ IN, { V4(A4, WEB4), ICMP(41002) }, PASS }) },
	{ "out4_echo_reply_other_id", OUT, .pkt = { V4(WEB4, A4), ICMP(41003), .icmp = PKT_ECHO_REPLY },
	  .x = DROP_AT(NOT_ALLOWED, SL_A), STEPS({ IN, { V4(A4, WEB4), ICMP(41002) }, PASS }) },
	{ "out6_reply_before_open", OUT, .pkt = { V6(WEB6, A6), TCP(1500, 41101) },
	  .x = DROP_AT(NOT_ALLOWED, SL_A) },
	{ "out6_reply_after_open", OUT, .pkt = { V6(WEB6, A6), TCP(1500, 41101), .payload = 200 },
	  .x = PASS_REPLY(SL_A), STEPS({ IN, { V6(A6, WEB6), TCP(41101, 1500) }, PASS }) },
	{ "out6_echo_reply", OUT, .pkt = { V6(WEB6, A6), ICMP6(41102), .icmp = PKT_ECHO_REPLY },
	  .x = PASS_REPLY(SL_A), STEPS({ IN, { V6(A6, WEB6), ICMP6(41102) }, PASS }) },

	/* ---- unsolicited towards the client ---- */
	{ "out4_unsolicited_listed", OUT, .pkt = { V4(ADM4, A4), TCP(41201, 22) },
	  .x = PASS_NEW(SL_A) },
	{ "out4_unsolicited_port_lo_minus_1", OUT, .pkt = { V4(ADM4, A4), TCP(41202, 21) },
	  .x = DROP_AT(NOT_ALLOWED, SL_A) },
	{ "out4_unsolicited_port_hi_plus_1", OUT, .pkt = { V4(ADM4, A4), TCP(41203, 23) },
	  .x = DROP_AT(NOT_ALLOWED, SL_A) },
	{ "out4_unsolicited_udp_port_lo", OUT, .pkt = { V4(ADM4, A4), UDP(41204, 5060) },
	  .x = PASS_NEW(SL_A) },
	{ "out4_unsolicited_udp_port_hi", OUT, .pkt = { V4(ADM4, A4), UDP(41205, 5061) },
	  .x = PASS_NEW(SL_A) },
	{ "out4_unsolicited_udp_port_hi_plus_1", OUT, .pkt = { V4(ADM4, A4), UDP(41206, 5062) },
	  .x = DROP_AT(NOT_ALLOWED, SL_A) },
	/* WEB4 may be reached by the client, not reach it */
	{ "out4_unsolicited_not_listed", OUT, .pkt = { V4(WEB4, A4), TCP(1500, 22) },
	  .x = DROP_AT(NOT_ALLOWED, SL_A) },
	{ "in4_reply_to_unsolicited", IN, .pkt = { V4(A4, ADM4), TCP(22, 41207), .payload = 64 },
	  .x = PASS_REPLY(SL_A), STEPS({ OUT, { V4(ADM4, A4), TCP(41207, 22) }, PASS }) },
	{ "in4_reply_to_unsolicited_never_sent", IN, .pkt = { V4(A4, ADM4), TCP(22, 41208) },
	  .x = DROP_AT(NOT_ALLOWED, SL_A) },
	{ "out6_unsolicited_listed", OUT, .pkt = { V6(ADM6, A6), TCP(41301, 22) },
	  .x = PASS_NEW(SL_A) },
	{ "out6_unsolicited_not_listed", OUT, .pkt = { V6(NOPE6, A6), TCP(41302, 22) },
	  .x = DROP_AT(NOT_ALLOWED, SL_A) },
	{ "in6_reply_to_unsolicited", IN, .pkt = { V6(A6, ADM6), TCP(22, 41303) },
	  .x = PASS_REPLY(SL_A), STEPS({ OUT, { V6(ADM6, A6), TCP(41303, 22) }, PASS }) },

	/* ---- SANDBOX ---- */
	{ "in4_sandbox_dns", IN, .pkt = { V4(S4, DNS4), UDP(42001, 53), .payload = 30 },
	  .x = PASS_NEW(SL_S) },
	{ "in4_sandbox_portal", IN, .pkt = { V4(S4, PORTAL4), TCP(42002, 443) }, .x = PASS_NEW(SL_S) },
	{ "in4_sandbox_portal_port_hi_plus_1", IN, .pkt = { V4(S4, PORTAL4), TCP(42003, 444) },
	  .x = DROP_AT(SANDBOXED, SL_S) },
	{ "in4_sandbox_permit_list_not_used", IN, .pkt = { V4(S4, WEB4), TCP(42004, 1500) },
	  .x = DROP_AT(SANDBOXED, SL_S) },
	{ "in6_sandbox_dns", IN, .pkt = { V6(S6, DNS6), UDP(42005, 53) }, .x = PASS_NEW(SL_S) },
	{ "in6_sandbox_permit_list_not_used", IN, .pkt = { V6(S6, WEB6), TCP(42006, 1500) },
	  .x = DROP_AT(SANDBOXED, SL_S) },
	{ "out4_sandbox_unsolicited_listed", OUT, .pkt = { V4(ADM4, S4), TCP(42007, 22) },
	  .x = DROP_AT(SANDBOXED, SL_S) },
	{ "out4_sandbox_reply", OUT, .pkt = { V4(DNS4, S4), UDP(53, 42008), .payload = 90 },
	  .x = PASS_REPLY(SL_S), STEPS({ IN, { V4(S4, DNS4), UDP(42008, 53) }, PASS }) },
	{ "out6_sandbox_unsolicited", OUT, .pkt = { V6(ADM6, S6), TCP(42009, 22) },
	  .x = DROP_AT(SANDBOXED, SL_S) },

	/* ---- BANNED ---- */
	{ "in4_banned", IN, .pkt = { V4(X4, WEB4), TCP(43001, 1500) }, .x = DROP_AT(BANNED, SL_X) },
	{ "in6_banned", IN, .pkt = { V6(X6, WEB6), TCP(43002, 1500) }, .x = DROP_AT(BANNED, SL_X) },
	{ "out4_banned_listed_source", OUT, .pkt = { V4(ADM4, X4), TCP(43003, 22) },
	  .x = DROP_AT(BANNED, SL_X) },
	{ "out6_banned_listed_source", OUT, .pkt = { V6(ADM6, X6), TCP(43004, 22) },
	  .x = DROP_AT(BANNED, SL_X) },

	/* ---- FREE slot, unknown address ---- */
	{ "in4_free_slot", IN, .pkt = { V4(F4, WEB4), TCP(43101, 1500) }, .x = DROP_G(UNKNOWN_CLIENT) },
	{ "in6_free_slot", IN, .pkt = { V6(F6, WEB6), TCP(43102, 1500) }, .x = DROP_G(UNKNOWN_CLIENT) },
	{ "out4_free_slot", OUT, .pkt = { V4(ADM4, F4), TCP(43103, 22) }, .x = DROP_G(UNKNOWN_CLIENT) },
	{ "in4_unknown", IN, .pkt = { V4(U4, WEB4), TCP(43104, 1500) }, .x = DROP_G(UNKNOWN_CLIENT) },
	{ "in6_unknown", IN, .pkt = { V6(U6, WEB6), TCP(43105, 1500) }, .x = DROP_G(UNKNOWN_CLIENT) },
	{ "out4_unknown", OUT, .pkt = { V4(WEB4, U4), TCP(1500, 43106) }, .x = DROP_G(UNKNOWN_CLIENT) },
	{ "out6_unknown", OUT, .pkt = { V6(WEB6, U6), TCP(1500, 43107) }, .x = DROP_G(UNKNOWN_CLIENT) },
	{ "in4_known_on_another_interface", IN, .pkt = { V4(R4, WEB4), TCP(43108, 1500) },
	  .x = DROP_G(UNKNOWN_CLIENT) },

	/*
	 * ---- spoofed sources (docs/security.md) ----
	 * The tun device does not say which client wrote a packet: the source
	 * address is the client's identity. A source that is no live slot's is
	 * dropped and billed to no one; a neighbour's source passes under the
	 * neighbour's allowlist and is billed to the neighbour. Only the VPN
	 * daemon's source check (OpenVPN iroute/learn-address, WireGuard allowed
	 * IPs) keeps client A from writing B's address: e2e/openvpn_spoof.sh.
	 */
	{ "spoof_in4_unassigned_pool_src", IN, .pkt = { V4("10.8.0.250", WEB4), TCP(43201, 1500) },
	  .x = DROP_G(UNKNOWN_CLIENT) },
	{ "spoof_in4_src_outside_pool", IN, .pkt = { V4("192.0.2.77", WEB4), UDP(43202, 53) },
	  .x = DROP_G(UNKNOWN_CLIENT) },
	{ "spoof_in6_unassigned_src", IN, .pkt = { V6("fd00:8::250", WEB6), UDP(43203, 53) },
	  .x = DROP_G(UNKNOWN_CLIENT) },
	{ "spoof_in4_neighbour_src_billed_to_neighbour", IN,
	  .pkt = { V4(B4, WEB4), TCP(43204, 1500) }, .x = PASS_NEW(SL_B) },

	/* ---- tenant isolation ---- */
	{ "in4_same_tenant", IN, .pkt = { V4(A4, B4), TCP(44001, 80) }, .x = PASS_NEW(SL_A) },
	{ "out4_same_tenant", OUT, .pkt = { V4(A4, B4), TCP(44001, 80) }, .x = PASS_NEW(SL_B) },
	{ "in6_same_tenant", IN, .pkt = { V6(A6, B6), UDP(44002, 5353) }, .x = PASS_NEW(SL_A) },
	{ "in4_same_tenant_other_interface", IN, .pkt = { V4(A4, R4), TCP(44003, 80) },
	  .x = PASS_NEW(SL_A) },
	/* peers are found on any interface */
	{ "in4_other_tenant_other_interface", IN, .pkt = { V4(A4, Q4), TCP(44015, 80) },
	  .x = DROP_AT(TENANT, SL_A) },
	{ "in4_other_tenant", IN, .pkt = { V4(A4, C4), TCP(44004, 80) }, .x = DROP_AT(TENANT, SL_A) },
	{ "out4_other_tenant", OUT, .pkt = { V4(C4, A4), TCP(44005, 80) }, .x = DROP_AT(TENANT, SL_A) },
	{ "in6_other_tenant", IN, .pkt = { V6(A6, C6), ICMP6(44006) }, .x = DROP_AT(TENANT, SL_A) },
	{ "out6_other_tenant", OUT, .pkt = { V6(C6, A6), TCP(44007, 80) }, .x = DROP_AT(TENANT, SL_A) },
	{ "in4_tenant0_to_a_client", IN, .pkt = { V4(Z4, A4), TCP(44008, 80) },
	  .x = DROP_AT(TENANT, SL_Z) },
	{ "in4_client_to_tenant0", IN, .pkt = { V4(A4, Z4), TCP(44009, 80) },
	  .x = DROP_AT(TENANT, SL_A) },
	{ "out6_tenant0_from_a_client", OUT, .pkt = { V6(A6, Z6), TCP(44010, 80) },
	  .x = DROP_AT(TENANT, SL_Z) },
	{ "in4_tenant0_to_tenant0", IN, .pkt = { V4(Z4, Y4), TCP(44013, 80) },
	  .x = DROP_AT(TENANT, SL_Z) },
	{ "out6_tenant0_from_tenant0", OUT, .pkt = { V6(Z6, Y6), TCP(44014, 80) },
	  .x = DROP_AT(TENANT, SL_Y) },
	/* hairpin to its own address: no peer, whatever the tenant */
	{ "in4_tenant0_to_itself", IN, .pkt = { V4(Z4, Z4), TCP(44016, 80) }, .x = PASS_NEW(SL_Z) },
	{ "in4_tenant0_to_remote", IN, .pkt = { V4(Z4, WEB4), TCP(44011, 1500) }, .x = PASS_NEW(SL_Z) },
	{ "in4_free_slot_peer_is_no_client", IN, .pkt = { V4(A4, F4), TCP(44012, 80) },
	  .x = PASS_NEW(SL_A) },

	/* ---- no allowlist ---- */
	{ "in4_no_profile", IN, .pkt = { V4(N4, WEB4), TCP(45001, 1500) },
	  .x = DROP_AT(NO_PROFILE, SL_N) },
	{ "out6_no_profile", OUT, .pkt = { V6(ADM6, N6), TCP(45002, 22) },
	  .x = DROP_AT(NO_PROFILE, SL_N) },

	/* ---- IPv4: truncation at each boundary, lengths, ihl, options ---- */
	{ "mal_zero_length_l3", IN, .pkt = { BASE4, .keep = PKT_KEEP(0) }, .x = DROP_G(MALFORMED),
	  .may_refuse = true },
	{ "mal4_cut_in_ip_header", IN, .pkt = { BASE4, .keep = PKT_KEEP(19) }, .x = DROP_G(MALFORMED),
	  .may_refuse = true },
	{ "mal4_cut_after_ip_header", IN, .pkt = { BASE4, .keep = PKT_KEEP(20) },
	  .x = DROP_G(MALFORMED) },
	{ "mal4_datagram_ends_after_ip_header", IN,
	  .pkt = { BASE4, .keep = PKT_KEEP(20), .keep_fix_len = true }, .x = DROP_G(MALFORMED) },
	{ "mal4_datagram_ends_in_tcp", IN, .pkt = { BASE4, .keep = PKT_KEEP(39), .keep_fix_len = true },
	  .x = DROP_G(MALFORMED) },
	{ "mal4_datagram_ends_in_tcp_options", IN,
	  .pkt = { BASE4, .tcp_doff = 8, .keep = PKT_KEEP(48), .keep_fix_len = true },
	  .x = DROP_G(MALFORMED) },
	{ "mal4_datagram_ends_in_udp", IN,
	  .pkt = { V4(A4, WEB4), UDP(46001, 53), .keep = PKT_KEEP(27), .keep_fix_len = true },
	  .x = DROP_G(MALFORMED) },
	{ "mal4_datagram_ends_in_icmp", IN,
	  .pkt = { V4(A4, WEB4), ICMP(46002), .keep = PKT_KEEP(27), .keep_fix_len = true },
	  .x = DROP_G(MALFORMED) },
	{ "mal4_cut_in_options", IN,
	  .pkt = { BASE4, .ip4_optlen = 12, .keep = PKT_KEEP(28), .keep_fix_len = true },
	  .x = DROP_G(MALFORMED) },
	{ "mal4_ihl_4", IN, .pkt = { BASE4, .ihl = 4 }, .x = DROP_G(MALFORMED) },
	{ "mal4_ihl_1", IN, .pkt = { BASE4, .ihl = 1 }, .x = DROP_G(MALFORMED) },
	{ "mal4_ihl_beyond_tot_len", IN, .pkt = { BASE4, .ihl = 15 }, .x = DROP_G(MALFORMED) },
	{ "mal4_tot_len_beyond_frame", IN, .pkt = { BASE4, .len_delta = 1 }, .x = DROP_G(MALFORMED) },
	{ "mal4_tot_len_below_header", IN, .pkt = { BASE4, .len_delta = -21 },
	  .x = DROP_G(MALFORMED) },
	{ "mal4_version_6_in_ipv4_frame", IN, .pkt = { BASE4, .version = 6 }, .x = DROP_G(MALFORMED) },
	/* link-layer padding after the datagram: tot_len is what counts */
	{ "in4_tot_len_short_of_frame", IN,
	  .pkt = { V4(A4, WEB4), TCP(46003, 1500), .payload = 10, .len_delta = -10 },
	  .x = PASS_NEW(SL_A) },
	/* NOP options read as ports would give 257: the rows pass only when
	 * the ports are taken after the options */
	{ "in4_options_ports_after", IN, .pkt = { V4(A4, WEB4), TCP(46004, 1500), .ip4_optlen = 8 },
	  .x = PASS_NEW(SL_A) },
	{ "in4_options_max_ports_after", IN,
	  .pkt = { V4(A4, WEB4), UDP(46005, 53), .ip4_optlen = 40, .payload = 12 },
	  .x = PASS_NEW(SL_A) },
	{ "in4_options_port_hi_plus_1", IN, .pkt = { V4(A4, WEB4), TCP(46006, 2001), .ip4_optlen = 4 },
	  .x = DROP_AT(NOT_ALLOWED, SL_A) },

	/* ---- IPv6: truncation, lengths, extension header chains ---- */
	{ "mal6_zero_length_l3", IN, .pkt = { BASE6, .keep = PKT_KEEP(0) }, .x = DROP_G(MALFORMED),
	  .may_refuse = true },
	{ "mal6_cut_in_ip6_header", IN, .pkt = { BASE6, .keep = PKT_KEEP(39) },
	  .x = DROP_G(MALFORMED), .may_refuse = true },
	{ "mal6_cut_after_ip6_header", IN, .pkt = { BASE6, .keep = PKT_KEEP(40) },
	  .x = DROP_G(MALFORMED) },
	{ "mal6_datagram_ends_after_ip6_header", IN,
	  .pkt = { BASE6, .keep = PKT_KEEP(40), .keep_fix_len = true }, .x = DROP_G(MALFORMED) },
	{ "mal6_datagram_ends_in_tcp", IN, .pkt = { BASE6, .keep = PKT_KEEP(59), .keep_fix_len = true },
	  .x = DROP_G(MALFORMED) },
	{ "mal6_datagram_ends_in_udp", IN,
	  .pkt = { V6(A6, WEB6), UDP(46101, 53), .keep = PKT_KEEP(47), .keep_fix_len = true },
	  .x = DROP_G(MALFORMED) },
	{ "mal6_datagram_ends_in_ext_header", IN,
	  .pkt = { BASE6, .n_ext = 1, .ext = { PKT_EH_HOP }, .keep = PKT_KEEP(47),
	    .keep_fix_len = true },
	  .x = DROP_G(MALFORMED) },
	{ "mal6_datagram_ends_after_ext_header", IN,
	  .pkt = { BASE6, .n_ext = 1, .ext = { PKT_EH_HOP }, .keep = PKT_KEEP(48),
	    .keep_fix_len = true },
	  .x = DROP_G(MALFORMED) },
	{ "mal6_ext_header_longer_than_datagram", IN,
	  .pkt = { BASE6, .n_ext = 1, .ext = { PKT_EH_DEST }, .ext_len = 64, .keep = PKT_KEEP(80),
	    .keep_fix_len = true },
	  .x = DROP_G(MALFORMED) },
	/* the same with nothing after it that has a header of its own */
	{ "mal6_ext_header_longer_than_datagram_no_l4", IN,
	  .pkt = { V6(A6, WEB6), .proto = IPPROTO_GRE, .n_ext = 1, .ext = { PKT_EH_DEST }, .ext_len = 64,
	    .keep = PKT_KEEP(56), .keep_fix_len = true },
	  .x = DROP_G(MALFORMED) },
	{ "mal6_datagram_ends_in_frag_header", IN,
	  .pkt = { V6(A6, WEB6), UDP(46102, 53), .n_ext = 1, .ext = { PKT_EH_FRAG },
	    .frag6_more = true, .keep = PKT_KEEP(44), .keep_fix_len = true },
	  .x = DROP_G(MALFORMED) },
	{ "mal6_payload_len_beyond_frame", IN, .pkt = { BASE6, .len_delta = 1 },
	  .x = DROP_G(MALFORMED) },
	{ "mal6_version_4_in_ipv6_frame", IN, .pkt = { BASE6, .version = 4 }, .x = DROP_G(MALFORMED) },
	{ "in6_ext_hop_routing_dest", IN,
	  .pkt = { V6(A6, WEB6), TCP(46103, 1500), .n_ext = 3,
	    .ext = { PKT_EH_HOP, PKT_EH_ROUTING, PKT_EH_DEST } },
	  .x = PASS_NEW(SL_A) },
	{ "in6_ext_chain_port_hi_plus_1", IN,
	  .pkt = { V6(A6, WEB6), TCP(46104, 2001), .n_ext = 3,
	    .ext = { PKT_EH_HOP, PKT_EH_ROUTING, PKT_EH_DEST } },
	  .x = DROP_AT(NOT_ALLOWED, SL_A) },
	{ "in6_ext_auth_header", IN,
	  .pkt = { V6(A6, WEB6), TCP(46105, 1500), .n_ext = 2, .ext = { PKT_EH_HOP, PKT_EH_AUTH },
	    .ext_len = 24 },
	  .x = PASS_NEW(SL_A) },
	{ "in6_ext_long_options", IN,
	  .pkt = { V6(A6, WEB6), UDP(46106, 53), .n_ext = 1, .ext = { PKT_EH_DEST }, .ext_len = 256 },
	  .x = PASS_NEW(SL_A) },
	{ "in6_ext_chain_at_bound", IN,
	  .pkt = { V6(A6, WEB6), TCP(46107, 1500), .n_ext = 8,
	    .ext = { PKT_EH_HOP, PKT_EH_DEST, PKT_EH_ROUTING, PKT_EH_DEST, PKT_EH_DEST,
		     PKT_EH_DEST, PKT_EH_DEST, PKT_EH_DEST } },
	  .x = PASS_NEW(SL_A) },
	{ "mal6_ext_chain_over_bound", IN,
	  .pkt = { V6(A6, WEB6), TCP(46108, 1500), .n_ext = 9,
	    .ext = { PKT_EH_HOP, PKT_EH_DEST, PKT_EH_ROUTING, PKT_EH_DEST, PKT_EH_DEST,
		     PKT_EH_DEST, PKT_EH_DEST, PKT_EH_DEST, PKT_EH_DEST } },
	  .x = DROP_G(MALFORMED) },
	{ "in6_no_next_header", IN, .pkt = { V6(A6, "fd00:8::3"), .proto = PKT_EH_NONE },
	  .x = PASS_NEW(SL_A) },

	/* ---- fragments ---- */
	{ "in4_frag_first", IN,
	  .pkt = { V4(A4, WEB4), UDP(47001, 53), .ip4_frag = PKT_MF, .ip_id = 1, .payload = 1472 },
	  .x = PASS_NEW(SL_A) },
	{ "in4_frag_later_after_first", IN,
	  .pkt = { V4(A4, WEB4), .proto = IPPROTO_UDP, .ip4_frag = 185, .ip_id = 1, .payload = 300 },
	  .x = PASS_OLD(SL_A),
	  STEPS({ IN,
		  { V4(A4, WEB4), UDP(47001, 53), .ip4_frag = PKT_MF, .ip_id = 1,
		    .payload = 1472 },
		  PASS }) },
	{ "in4_frag_later_without_first", IN,
	  .pkt = { V4(A4, "198.51.100.8"), .proto = IPPROTO_UDP, .ip4_frag = 185, .payload = 300 },
	  .x = DROP_AT(FRAGMENT, SL_A) },
	{ "in4_frag_later_after_refused_first", IN,
	  .pkt = { V4(A4, "198.51.100.9"), .proto = IPPROTO_UDP, .ip4_frag = 185, .ip_id = 2,
	    .payload = 300 },
	  .x = DROP_AT(FRAGMENT, SL_A),
	  STEPS({ IN,
		  { V4(A4, "198.51.100.9"), UDP(47002, 54), .ip4_frag = PKT_MF, .ip_id = 2,
		    .payload = 1472 },
		  DROP }) },
	{ "in4_frag_later_other_protocol", IN,
	  .pkt = { V4(A4, "198.51.100.10"), .proto = IPPROTO_TCP, .ip4_frag = 185, .ip_id = 3,
	    .payload = 300 },
	  .x = DROP_AT(FRAGMENT, SL_A),
	  STEPS({ IN,
		  { V4(A4, "198.51.100.10"), UDP(47003, 53), .ip4_frag = PKT_MF, .ip_id = 3,
		    .payload = 1472 },
		  PASS }) },
	{ "mal4_frag_first_without_ports", IN,
	  .pkt = { V4(A4, WEB4), UDP(47004, 53), .ip4_frag = PKT_MF, .keep = PKT_KEEP(24),
	    .keep_fix_len = true },
	  .x = DROP_G(MALFORMED) },
	{ "out4_frag_reply_first", OUT,
	  .pkt = { V4(WEB4, A4), UDP(53, 47005), .ip4_frag = PKT_MF, .ip_id = 4, .payload = 1472 },
	  .x = PASS_REPLY(SL_A), STEPS({ IN, { V4(A4, WEB4), UDP(47005, 53) }, PASS }) },
	/* a DNS answer too big for one packet: the later fragments of an
	 * admitted reply must pass too */
	{ "out4_frag_reply_later", OUT,
	  .pkt = { V4(WEB4, A4), .proto = IPPROTO_UDP, .ip4_frag = 185, .ip_id = 5, .payload = 500 },
	  .x = PASS_OLD(SL_A),
	  STEPS({ IN, { V4(A4, WEB4), UDP(47006, 53) }, PASS },
		{ OUT,
		  { V4(WEB4, A4), UDP(53, 47006), .ip4_frag = PKT_MF, .ip_id = 5,
		    .payload = 1472 },
		  PASS }) },
	{ "in6_frag_first", IN,
	  .pkt = { V6(A6, WEB6), UDP(47101, 53), .n_ext = 1, .ext = { PKT_EH_FRAG }, .frag6_more = true,
	    .ip_id = 11, .payload = 1232 },
	  .x = PASS_NEW(SL_A) },
	{ "in6_frag_later_after_first", IN,
	  .pkt = { V6(A6, WEB6), .proto = IPPROTO_UDP, .n_ext = 1, .ext = { PKT_EH_FRAG },
	    .frag6_off = 1240, .ip_id = 11, .payload = 100 },
	  .x = PASS_OLD(SL_A),
	  STEPS({ IN,
		  { V6(A6, WEB6), UDP(47101, 53), .n_ext = 1, .ext = { PKT_EH_FRAG },
		    .frag6_more = true, .ip_id = 11, .payload = 1232 },
		  PASS }) },
	{ "in6_frag_later_without_first", IN,
	  .pkt = { V6(A6, "2001:db8:100::8"), .proto = IPPROTO_UDP, .n_ext = 1,
	    .ext = { PKT_EH_FRAG }, .frag6_off = 1240, .ip_id = 12, .payload = 100 },
	  .x = DROP_AT(FRAGMENT, SL_A) },
	{ "in6_frag_in_chain_first", IN,
	  .pkt = { V6(A6, "2001:db8:100::9"), TCP(47102, 1500), .n_ext = 3,
	    .ext = { PKT_EH_HOP, PKT_EH_FRAG, PKT_EH_DEST }, .frag6_more = true, .ip_id = 13,
	    .payload = 996 },
	  .x = PASS_NEW(SL_A) },
	/* the destination options header after the fragment header belongs to
	 * the fragmentable part: later fragments name it, not TCP (RFC 8200 4.5) */
	{ "in6_frag_in_chain_later_after_first", IN,
	  .pkt = { V6(A6, "2001:db8:100::9"), .proto = PKT_EH_DEST, .n_ext = 2,
	    .ext = { PKT_EH_HOP, PKT_EH_FRAG }, .frag6_off = 1024, .ip_id = 13,
	    .payload = 100 },
	  .x = PASS_OLD(SL_A),
	  STEPS({ IN,
		  { V6(A6, "2001:db8:100::9"), TCP(47102, 1500), .n_ext = 3,
		    .ext = { PKT_EH_HOP, PKT_EH_FRAG, PKT_EH_DEST }, .frag6_more = true,
		    .ip_id = 13, .payload = 996 },
		  PASS }) },
	{ "in6_frag_first_port_not_allowed", IN,
	  .pkt = { V6(A6, WEB6), TCP(47103, 2001), .n_ext = 1, .ext = { PKT_EH_FRAG },
	    .frag6_more = true, .ip_id = 14, .payload = 1000 },
	  .x = DROP_AT(NOT_ALLOWED, SL_A) },
	{ "out6_frag_reply_later", OUT,
	  .pkt = { V6(WEB6, A6), .proto = IPPROTO_UDP, .n_ext = 1, .ext = { PKT_EH_FRAG },
	    .frag6_off = 1240, .ip_id = 15, .payload = 300 },
	  .x = PASS_OLD(SL_A),
	  STEPS({ IN, { V6(A6, WEB6), UDP(47104, 53) }, PASS },
		{ OUT,
		  { V6(WEB6, A6), UDP(53, 47104), .n_ext = 1, .ext = { PKT_EH_FRAG },
		    .frag6_more = true, .ip_id = 15, .payload = 1232 },
		  PASS }) },

	/* ---- not IP ---- */
	{ "arp_passes_uncounted_in", IN, .pkt = { .ethertype = PKT_ETH_ARP },
	  .x = { .verdict = PASS, .slot = NONE, .flags = X_NONIP } },
	{ "arp_passes_uncounted_out", OUT, .pkt = { .ethertype = PKT_ETH_ARP },
	  .x = { .verdict = PASS, .slot = NONE, .flags = X_NONIP } },
	{ "non_ip_lldp", IN, .pkt = { .ethertype = 0x88cc, .payload = 46, .seed = 1 },
	  .x = DROP_G(MALFORMED) },
	{ "non_ip_vlan_tag", OUT, .pkt = { .ethertype = 0x8100, .payload = 64, .seed = 2 },
	  .x = DROP_G(MALFORMED) },
	{ "non_ip_frame_header_only", IN, .pkt = { .ethertype = 0x88b5 }, .x = DROP_G(MALFORMED) },
	{ "garbage_ipv4_ethertype", IN, .pkt = { .ethertype = PKT_ETH_IP, .payload = 200, .seed = 3 },
	  .x = DROP_G(MALFORMED) },
	{ "garbage_ipv6_ethertype", OUT, .pkt = { .ethertype = PKT_ETH_IPV6, .payload = 200, .seed = 4 },
	  .x = DROP_G(MALFORMED) },

	/* ---- GSO: real segments from gso_size, bytes with every segment's headers ---- */
	/* 2500 / 1000 -> 3 segments; 2540 + 2 * 40 */
	{ "gso4_tcp_from_client", IN, .pkt = { V4(A4, WEB4), TCP(48001, 1500), .payload = 2500 },
	  .gso_size = 1000, .gso_segs = 3,
	  .x = { .verdict = PASS, .slot = SL_A, .flags = X_FLOW, .bytes = 2620, .pkts = 3 } },
	/* gso_segs is not kept up to date on every path: only gso_size counts */
	{ "gso4_tcp_stale_gso_segs", IN, .pkt = { V4(A4, WEB4), TCP(48002, 1500), .payload = 2500 },
	  .gso_size = 1000, .gso_segs = 1,
	  .x = { .verdict = PASS, .slot = SL_A, .flags = X_FLOW, .bytes = 2620, .pkts = 3 } },
	{ "gso4_tcp_exact_multiple", IN, .pkt = { V4(A4, WEB4), TCP(48003, 1500), .payload = 3000 },
	  .gso_size = 1000, .gso_segs = 3,
	  .x = { .verdict = PASS, .slot = SL_A, .flags = X_FLOW, .bytes = 3120, .pkts = 3 } },
	/* TCP options are part of every segment's header: 20 + 32 */
	{ "gso4_tcp_options", IN,
	  .pkt = { V4(A4, WEB4), TCP(48004, 1500), .tcp_doff = 8, .payload = 2400 },
	  .gso_size = 1200, .gso_segs = 2,
	  .x = { .verdict = PASS, .slot = SL_A, .flags = X_FLOW, .bytes = 2504, .pkts = 2 } },
	{ "gso4_single_segment", IN, .pkt = { V4(A4, WEB4), TCP(48005, 1500), .payload = 800 },
	  .gso_size = 1000, .gso_segs = 1,
	  .x = { .verdict = PASS, .slot = SL_A, .flags = X_FLOW, .bytes = 840, .pkts = 1 } },
	/* UDP GSO: 3000 / 1472 -> 3 segments of 28 header bytes */
	{ "gso4_udp", IN, .pkt = { V4(A4, WEB4), UDP(48006, 53), .payload = 3000 },
	  .gso_size = 1472, .gso_segs = 3,
	  .x = { .verdict = PASS, .slot = SL_A, .flags = X_FLOW, .bytes = 3084, .pkts = 3 } },
	{ "gso4_drop_counts_segments", IN, .pkt = { V4(A4, WEB4), TCP(48007, 2001), .payload = 2500 },
	  .gso_size = 1000, .gso_segs = 3,
	  .x = { .verdict = DROP, .reason = TW_DROP_NOT_ALLOWED, .slot = SL_A, .bytes = 2620,
		 .pkts = 3 } },
	/* 3000 / 1400 -> 3 segments of 60 header bytes, as a reply on egress */
	{ "gso6_tcp_reply_to_client", OUT, .pkt = { V6(WEB6, A6), TCP(1500, 48008), .payload = 3000 },
	  .gso_size = 1400, .gso_segs = 3,
	  .x = { .verdict = PASS, .slot = SL_A, .flags = X_REPLY, .bytes = 3180, .pkts = 3 },
	  STEPS({ IN, { V6(A6, WEB6), TCP(48008, 1500) }, PASS }) },
	{ "gso6_tcp_ext_headers", IN,
	  .pkt = { V6(A6, WEB6), TCP(48009, 1500), .n_ext = 1, .ext = { PKT_EH_DEST }, .payload = 2000 },
	  .gso_size = 1000, .gso_segs = 2,
	  .x = { .verdict = PASS, .slot = SL_A, .flags = X_FLOW, .bytes = 2068 + 68,
		 .pkts = 2 } },
	/* BIG TCP: a super-packet over 64 KiB carries length 0; the skb is the truth */
	{ "gso4_big_tcp_tot_len_zero", IN,
	  .pkt = { V4(A4, WEB4), TCP(48010, 1500), .payload = 2500, .len_delta = -2540 },
	  .gso_size = 1000, .gso_segs = 3,
	  .x = { .verdict = PASS, .slot = SL_A, .flags = X_FLOW, .bytes = 2620, .pkts = 3 } },
	{ "mal4_tot_len_zero_without_gso", IN, .pkt = { BASE4, .len_delta = -40 },
	  .x = DROP_G(MALFORMED) },
	{ "gso6_big_tcp_payload_len_zero", IN,
	  .pkt = { V6(A6, WEB6), TCP(48011, 1500), .payload = 3000, .len_delta = -3020 },
	  .gso_size = 1400, .gso_segs = 3,
	  .x = { .verdict = PASS, .slot = SL_A, .flags = X_FLOW, .bytes = 3180, .pkts = 3 } },
	{ "mal6_payload_len_zero_without_gso", IN, .pkt = { BASE6, .len_delta = -20 },
	  .x = DROP_G(MALFORMED) },
};

/*
 * The same programs loaded for an L3 tunnel (tun, wg): l3_off 0, the IP
 * header first, the version nibble the only protocol indication. The
 * kernel takes a frame of 14 bytes at least and, reading an Ethernet
 * header where there is none, finds no IP ethertype (bytes 12-13 are
 * address bytes here), so packets cut inside the IP header do reach the
 * parser. Shorter than 14 bytes cannot be run at all.
 */
#define L3 .no_eth = true

static const struct tv_case l3_cases[] = {
	{ "l3_in4_pass", IN, .pkt = { L3, V4(A4, WEB4), TCP(40001, 1500) }, .x = PASS_NEW(SL_A) },
	{ "l3_in6_pass", IN, .pkt = { L3, V6(A6, WEB6), TCP(40002, 1500) }, .x = PASS_NEW(SL_A) },
	{ "l3_out4_reply", OUT, .pkt = { L3, V4(WEB4, A4), TCP(1500, 40001), .payload = 50 },
	  .x = PASS_REPLY(SL_A), STEPS({ IN, { L3, V4(A4, WEB4), TCP(40001, 1500) }, PASS }) },
	{ "l3_out6_unsolicited_listed", OUT, .pkt = { L3, V6(ADM6, A6), TCP(40003, 22) },
	  .x = PASS_NEW(SL_A) },
	{ "l3_in4_udp_empty_payload", IN, .pkt = { L3, V4(A4, WEB4), UDP(40004, 53) },
	  .x = PASS_NEW(SL_A) },
	{ "l3_in4_not_allowed", IN, .pkt = { L3, V4(A4, WEB4), TCP(40005, 2001) },
	  .x = DROP_AT(NOT_ALLOWED, SL_A) },
	{ "l3_in4_other_tenant", IN, .pkt = { L3, V4(A4, C4), TCP(40006, 80) },
	  .x = DROP_AT(TENANT, SL_A) },
	{ "l3_in4_unknown", IN, .pkt = { L3, V4(U4, WEB4), TCP(40007, 1500) },
	  .x = DROP_G(UNKNOWN_CLIENT) },
	{ "l3_mal4_cut_at_14", IN, .pkt = { L3, BASE4, .keep = PKT_KEEP(14) }, .x = DROP_G(MALFORMED) },
	{ "l3_mal4_cut_in_ip_header", IN, .pkt = { L3, BASE4, .keep = PKT_KEEP(19) },
	  .x = DROP_G(MALFORMED) },
	{ "l3_mal4_cut_after_ip_header", IN, .pkt = { L3, BASE4, .keep = PKT_KEEP(20) },
	  .x = DROP_G(MALFORMED) },
	{ "l3_mal4_cut_in_options", IN, .pkt = { L3, BASE4, .ip4_optlen = 8, .keep = PKT_KEEP(24) },
	  .x = DROP_G(MALFORMED) },
	{ "l3_mal4_datagram_ends_in_tcp", IN,
	  .pkt = { L3, BASE4, .keep = PKT_KEEP(39), .keep_fix_len = true }, .x = DROP_G(MALFORMED) },
	{ "l3_mal6_cut_at_14", IN, .pkt = { L3, BASE6, .keep = PKT_KEEP(14) }, .x = DROP_G(MALFORMED) },
	{ "l3_mal6_cut_in_ip6_header", IN, .pkt = { L3, BASE6, .keep = PKT_KEEP(39) },
	  .x = DROP_G(MALFORMED) },
	{ "l3_mal6_cut_after_ip6_header", IN, .pkt = { L3, BASE6, .keep = PKT_KEEP(40) },
	  .x = DROP_G(MALFORMED) },
	{ "l3_mal6_cut_in_ext_header", IN,
	  .pkt = { L3, BASE6, .n_ext = 1, .ext = { PKT_EH_HOP }, .keep = PKT_KEEP(44),
	    .keep_fix_len = true },
	  .x = DROP_G(MALFORMED) },
	{ "l3_mal_version_5", IN, .pkt = { L3, BASE4, .version = 5 }, .x = DROP_G(MALFORMED) },
	{ "l3_mal_version_15", OUT, .pkt = { L3, BASE6, .version = 15 }, .x = DROP_G(MALFORMED) },
	/* an IPv6 packet claiming version 4: ihl reads 0 */
	{ "l3_mal_v6_packet_version_4", IN, .pkt = { L3, BASE6, .version = 4 },
	  .x = DROP_G(MALFORMED) },
	{ "l3_in4_frag_later_without_first", IN,
	  .pkt = { L3, V4(A4, WEB4), .proto = IPPROTO_UDP, .ip4_frag = 100, .payload = 64 },
	  .x = DROP_AT(FRAGMENT, SL_A) },
	{ "l3_in6_ext_chain", IN,
	  .pkt = { L3, V6(A6, WEB6), TCP(40008, 1500), .n_ext = 3,
	    .ext = { PKT_EH_HOP, PKT_EH_ROUTING, PKT_EH_DEST } },
	  .x = PASS_NEW(SL_A) },
	{ "l3_gso4_tcp", OUT, .pkt = { L3, V4(WEB4, A4), TCP(1500, 40009), .payload = 2500 },
	  .gso_size = 1000, .gso_segs = 3,
	  .x = { .verdict = PASS, .slot = SL_A, .flags = X_REPLY, .bytes = 2620, .pkts = 3 },
	  STEPS({ IN, { L3, V4(A4, WEB4), TCP(40009, 1500) }, PASS }) },
	{ "l3_garbage", IN, .pkt = { L3, .family = 0, .payload = 28, .seed = 5 },
	  .x = DROP_G(MALFORMED) },
};

/* clang-format on */

/* ---- counters ---- */

#define CTR_WORDS (sizeof(struct tw_client_ctr) / sizeof(uint64_t))

struct snap {
	struct tw_client_ctr c[NSLOTS];
	struct tw_gctr g[TW_G__MAX];
};

static const char *const reason_names[TW_DROP__MAX] = {
	"NONE",	  "UNKNOWN_CLIENT", "NOT_ALLOWED", "BANNED",	 "SANDBOXED",
	"TENANT", "MALFORMED",	    "FRAGMENT",	   "NO_PROFILE",
};

static const char *gname(int i)
{
	static const char *const extra[] = { "PASS_IN", "PASS_OUT", "REPLY", "FLOW_NEW",
					     "NON_IP_PASS" };

	return i < TW_DROP__MAX ? reason_names[i] : extra[i - TW_DROP__MAX];
}

static void cname(unsigned int w, char *buf, size_t len)
{
	static const char *const head[] = { "from_bytes", "from_pkts", "to_bytes", "to_pkts" };

	if (w < 4)
		snprintf(buf, len, "%s", head[w]);
	else if (w < 4 + TW_DROP__MAX)
		snprintf(buf, len, "drops[%s]", reason_names[w - 4]);
	else
		snprintf(buf, len, "drop_bytes");
}

static int snap_read(struct tw_dp *dp, struct snap *s)
{
	int err = tw_dp_counters_read(dp, 0, NSLOTS, s->c);

	return err ? err : tw_dp_gcounters_read(dp, s->g);
}

/* What the row says every counter must have moved by. */
static void expect_deltas(const struct tv_case *tc, const struct pkt *p, struct snap *want)
{
	const struct tv_expect *x = &tc->x;
	uint64_t pkts = x->pkts ? x->pkts : 1;
	uint64_t bytes = x->bytes;

	if (!bytes)
		bytes = (x->flags & X_NONIP) || x->reason == TW_DROP_MALFORMED ? p->len :
										 pkt_ip_len(p);
	memset(want, 0, sizeof(*want));
	if (x->flags & X_NONIP) {
		want->g[TW_G_NON_IP_PASS].pkts = 1;
		want->g[TW_G_NON_IP_PASS].bytes = p->len;
		return;
	}
	if (x->verdict == DROP) {
		want->g[x->reason].pkts = pkts;
		want->g[x->reason].bytes = bytes;
		if (x->slot != NONE) {
			want->c[x->slot].drops[x->reason] = pkts;
			want->c[x->slot].drop_bytes = bytes;
		}
		return;
	}
	want->g[tc->dir == IN ? TW_G_PASS_IN : TW_G_PASS_OUT].pkts = pkts;
	want->g[tc->dir == IN ? TW_G_PASS_IN : TW_G_PASS_OUT].bytes = bytes;
	if (x->flags & X_REPLY) {
		want->g[TW_G_REPLY].pkts = pkts;
		want->g[TW_G_REPLY].bytes = bytes;
	}
	if (x->flags & X_FLOW)
		want->g[TW_G_FLOW_NEW].pkts = 1;
	if (x->slot != NONE) {
		if (tc->dir == IN) {
			want->c[x->slot].from_pkts = pkts;
			want->c[x->slot].from_bytes = bytes;
		} else {
			want->c[x->slot].to_pkts = pkts;
			want->c[x->slot].to_bytes = bytes;
		}
	}
}

static bool check_deltas(const struct snap *before, const struct snap *after,
			 const struct snap *want)
{
	bool ok = true;
	char f[32];
	int i;

	for (i = 0; i < NSLOTS; i++) {
		const uint64_t *b = (const uint64_t *)&before->c[i];
		const uint64_t *a = (const uint64_t *)&after->c[i];
		const uint64_t *w = (const uint64_t *)&want->c[i];

		for (unsigned int k = 0; k < CTR_WORDS; k++) {
			if (a[k] - b[k] == w[k])
				continue;
			cname(k, f, sizeof(f));
			test__fail(__FILE__, __LINE__, "slot %d %s: moved by %llu, expected %llu",
				   i, f, (unsigned long long)(a[k] - b[k]),
				   (unsigned long long)w[k]);
			ok = false;
		}
	}
	for (i = 0; i < TW_G__MAX; i++) {
		uint64_t dp = after->g[i].pkts - before->g[i].pkts;
		uint64_t db = after->g[i].bytes - before->g[i].bytes;

		if (dp == want->g[i].pkts && db == want->g[i].bytes)
			continue;
		test__fail(
			__FILE__, __LINE__,
			"global %s: moved by %llu pkts %llu bytes, expected %llu pkts %llu bytes",
			gname(i), (unsigned long long)dp, (unsigned long long)db,
			(unsigned long long)want->g[i].pkts, (unsigned long long)want->g[i].bytes);
		ok = false;
	}
	return ok;
}

/* ---- running ---- */

static int run_prog(int prog_fd, const struct pkt *p, uint32_t gso_size, uint32_t gso_segs,
		    int *verdict)
{
	struct __sk_buff ctx = {
		.ifindex = LO_IFINDEX,
		.gso_size = gso_size,
		.gso_segs = gso_segs,
	};
	struct bpf_test_run_opts o = {
		.sz = sizeof(o),
		.data_in = p->data,
		.data_size_in = p->len,
		.ctx_in = &ctx,
		.ctx_size_in = sizeof(ctx),
		.repeat = 1,
	};

	int err = bpf_prog_test_run_opts(prog_fd, &o);

	if (err)
		return err;
	*verdict = (int)o.retval;
	return 0;
}

static int run_pkt(struct tw_dp *dp, int dir, const struct pkt *p, uint32_t gso_size,
		   uint32_t gso_segs, int *verdict)
{
	int fd = dir == IN ? tw_dp_prog_fd_in(dp) : tw_dp_prog_fd_out(dp);

	return run_prog(fd, p, gso_size, gso_segs, verdict);
}

/* Build and run a packet that must get @want; counters are not checked. */
static bool send_spec(struct tw_dp *dp, int dir, const struct pkt_spec *s, int want)
{
	struct pkt p;
	int verdict;

	if (!ASSERT_OK(pkt_build(&p, s), "build packet"))
		return false;
	if (!ASSERT_OK(run_pkt(dp, dir, &p, 0, 0, &verdict), "run packet"))
		return false;
	return ASSERT_EQ(verdict, want, "verdict");
}

static void run_case(struct tw_dp *dp, const struct tv_case *tc)
{
	struct snap before, after, want;
	struct pkt p;
	int i, err, verdict;

	for (i = 0; i < tc->nprep; i++) {
		if (!send_spec(dp, tc->prep[i].dir, &tc->prep[i].pkt, tc->prep[i].verdict)) {
			test__diag("preparation packet %d failed", i);
			return;
		}
	}

	if (!ASSERT_OK(pkt_build(&p, &tc->pkt), "build packet"))
		return;
	if (!ASSERT_OK(snap_read(dp, &before), "read counters before"))
		return;
	err = run_pkt(dp, tc->dir, &p, tc->gso_size, tc->gso_segs, &verdict);
	if (err == -EINVAL && tc->may_refuse) {
		if (test__verbose())
			test__diag("the kernel refuses this %u-byte frame; nothing may move",
				   p.len);
		memset(&want, 0, sizeof(want));
		if (ASSERT_OK(snap_read(dp, &after), "read counters after"))
			check_deltas(&before, &after, &want);
		return;
	}
	if (!ASSERT_OK(err, "run"))
		return;
	if (!ASSERT_OK(snap_read(dp, &after), "read counters after"))
		return;
	ASSERT_EQ(verdict, tc->x.verdict, "verdict");
	expect_deltas(tc, &p, &want);
	check_deltas(&before, &after, &want);
}

static void run_table(struct tw_dp *dp, const struct tv_case *tab, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (test__start_subtest(tab[i].name))
			run_case(dp, &tab[i]);
	}
}

/* ---- setup ---- */

static int client_of(const struct tv_client *tc, struct tw_client *c)
{
	int err;

	memset(c, 0, sizeof(*c));
	c->slot = tc->slot;
	c->ifindex = tc->ifindex;
	c->tenant = tc->tenant;
	c->profile = tc->profile;
	c->state = tc->state;
	err = tw_addr_parse(tc->a4, &c->addrs[c->naddrs++]);
	if (!err && tc->a6)
		err = tw_addr_parse(tc->a6, &c->addrs[c->naddrs++]);
	return err;
}

static int setup(struct tw_dp *dp)
{
	struct tw_rule r[sizeof(rules) / sizeof(rules[0])];
	struct tw_client c;
	size_t i;
	int err;

	for (i = 0; i < NSLOTS; i++) {
		err = client_of(&clients[i], &c);
		if (!err)
			err = tw_dp_client_add(dp, &c);
		if (err) {
			test__diag("client slot %zu: %s", i, tw_dp_errstr(dp));
			return err;
		}
	}
	/* freed by state only: its addresses still resolve to the slot, as
	 * they do between the state flip and the address removal. Of another
	 * tenant, so A reaches it only if a FREE peer counts as no client. */
	err = tw_dp_client_set_state(dp, SL_F, TW_STATE_FREE);
	if (err)
		return err;

	memset(r, 0, sizeof(r));
	for (i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		err = tw_prefix_parse(rules[i].prefix, &r[i].prefix, &r[i].plen);
		if (err) {
			test__diag("rule %zu: bad prefix %s", i, rules[i].prefix);
			return err;
		}
		r[i].list = rules[i].list;
		r[i].proto = rules[i].proto;
		r[i].port_lo = rules[i].lo;
		r[i].port_hi = rules[i].hi;
	}
	err = tw_dp_profile_set(dp, PROFILE, r, sizeof(r) / sizeof(r[0]));
	if (err)
		test__diag("profile: %s", tw_dp_errstr(dp));
	return err;
}

/* @hz: the flow clock, as tw_dp_opts.hz (0: jiffies where HZ is known) */
static struct tw_dp *open_dp_clock(uint32_t l3_off, uint64_t flow_timeout_ns, int hz)
{
	struct tw_dp_opts o = {
		.pin_root = "", /* private maps: nothing pinned, nothing shared */
		.l3_off = l3_off,
		.flow_timeout_ns = flow_timeout_ns,
		.hz = hz,
		.max_clients = 16,
		.max_flows = 1024,
	};
	struct tw_dp *dp = tw_dp_open(&o);

	if (!ASSERT_OK_PTR(dp, "tw_dp_open"))
		return NULL;
	if (!ASSERT_OK(setup(dp), "setup")) {
		tw_dp_close(dp);
		return NULL;
	}
	return dp;
}

static struct tw_dp *open_dp(uint32_t l3_off, uint64_t flow_timeout_ns)
{
	return open_dp_clock(l3_off, flow_timeout_ns, 0);
}

/* ---- flow lifecycle ---- */

/*
 * A slot reused for a new session (remove, install again: the generation
 * moves on) must not inherit the old session's flows, and starts its
 * counters from zero.
 */
static void test_slot_reuse(struct tw_dp *dp)
{
	const struct pkt_spec open = { V4(G4, WEB4), TCP(49001, 1500) };
	const struct pkt_spec reply = { V4(WEB4, G4), TCP(1500, 49001), .payload = 10 };
	struct tw_client_ctr ctr;
	struct tw_slot s0, s1;
	struct tw_client c;

	if (!send_spec(dp, IN, &open, PASS) || !send_spec(dp, OUT, &reply, PASS))
		return;
	if (!ASSERT_OK(client_of(&clients[SL_G], &c), "client") ||
	    !ASSERT_OK(tw_dp_slot_read(dp, SL_G, &s0), "slot before") ||
	    !ASSERT_OK(tw_dp_client_remove(dp, &c), "remove") ||
	    !ASSERT_OK(tw_dp_client_add(dp, &c), "add again") ||
	    !ASSERT_OK(tw_dp_slot_read(dp, SL_G, &s1), "slot after"))
		return;
	ASSERT_NEQ(s1.gen, s0.gen, "generation moved on");
	if (!ASSERT_OK(tw_dp_counters_read(dp, SL_G, 1, &ctr), "counters"))
		return;
	ASSERT_EQ(ctr.from_pkts + ctr.to_pkts, 0, "counters start from zero");

	if (!send_spec(dp, OUT, &reply, DROP))
		return;
	if (!ASSERT_OK(tw_dp_counters_read(dp, SL_G, 1, &ctr), "counters"))
		return;
	ASSERT_EQ(ctr.drops[TW_DROP_NOT_ALLOWED], 1, "old flow's reply counted as not allowed");
	/* the new session opens its own flow */
	if (send_spec(dp, IN, &open, PASS))
		send_spec(dp, OUT, &reply, PASS);
}

/* The cache entry the TCP connection of client @caddr port @cport to
 * @raddr port @rport takes (IPv4 or IPv6, from the address), and the key
 * it holds there (@key, @klen: may be NULL). */
static uint32_t fcache_key_of(const char *caddr, uint16_t cport, const char *raddr, uint16_t rport,
			      void *key, size_t *klen)
{
	if (strchr(caddr, ':')) {
		struct tw_flow6_key k = { .ifindex = LO_IFINDEX,
					  .family = TW_FAM_V6,
					  .proto = IPPROTO_TCP,
					  .kind = TW_FLOW_CONN,
					  .cport = htons(cport),
					  .rport = htons(rport) };

		inet_pton(AF_INET6, caddr, k.caddr);
		inet_pton(AF_INET6, raddr, k.raddr);
		if (key) {
			memcpy(key, &k, sizeof(k));
			*klen = sizeof(k);
		}
		return TW_FCACHE6_IDX(&k);
	} else {
		struct tw_flow4_key k = { .ifindex = LO_IFINDEX,
					  .cport = htons(cport),
					  .rport = htons(rport),
					  .proto = IPPROTO_TCP,
					  .kind = TW_FLOW_CONN };

		inet_pton(AF_INET, caddr, &k.caddr);
		inet_pton(AF_INET, raddr, &k.raddr);
		if (key) {
			memcpy(key, &k, sizeof(k));
			*klen = sizeof(k);
		}
		return TW_FCACHE4_IDX(&k);
	}
}

/* The loaded program's connection cache of family @fam (it is not pinned:
 * found through the program's maps), or -1. */
static int fcache_map_fd(struct tw_dp *dp, int fam)
{
	const char *name = fam == 4 ? "tw_fcache4" : "tw_fcache6";
	struct bpf_prog_info info = {};
	__u32 ids[64], len = sizeof(info), i;
	int fd = -1;

	info.nr_map_ids = 64;
	info.map_ids = (__u64)(unsigned long)ids;
	if (bpf_obj_get_info_by_fd(tw_dp_prog_fd_out(dp), &info, &len))
		return -1;
	for (i = 0; i < info.nr_map_ids && i < 64 && fd < 0; i++) {
		struct bpf_map_info mi = {};
		__u32 mlen = sizeof(mi);
		int m = bpf_map_get_fd_by_id(ids[i]);

		if (m < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(m, &mi, &mlen) && !strcmp(mi.name, name))
			fd = m;
		else
			close(m);
	}
	return fd;
}

/* Does some CPU's entry @idx of cache @fd hold connection key @key? */
static bool fcache_holds(int fd, uint32_t idx, const void *key, size_t klen, size_t entsz)
{
	int ncpu = libbpf_num_possible_cpus(), i;
	bool found = false;
	uint8_t *vals;

	if (ncpu <= 0 || !(vals = calloc((size_t)ncpu, entsz)))
		return false;
	if (!bpf_map_lookup_elem(fd, &idx, vals))
		for (i = 0; i < ncpu && !found; i++)
			found = !memcmp(vals + (size_t)i * entsz, key, klen);
	free(vals);
	return found;
}

/*
 * The per-CPU connection caches in front of tw1_flows4 and tw1_flows6 are
 * direct-mapped: connections whose keys hash to one entry take turns in
 * it. Pairs of connections of two clients that share an entry, answered
 * alternately: every reply passes and is counted to its own client (a hit
 * on the other connection's entry would count it to the other client).
 */
static void test_fcache_shared_entries(struct tw_dp *dp, int fam)
{
	enum { PAIRS = 8, ROUNDS = 3 };
	const char *a = fam == 4 ? A4 : A6, *b = fam == 4 ? B4 : B6, *web = fam == 4 ? WEB4 : WEB6;
	size_t entsz = fam == 4 ? sizeof(struct tw_fcache4_ent) : sizeof(struct tw_fcache6_ent);
	uint8_t ka[PAIRS][sizeof(struct tw_flow6_key)], kb[PAIRS][sizeof(struct tw_flow6_key)];
	uint16_t pa[PAIRS], pb[PAIRS];
	struct tw_client_ctr a0, b0, a1, b1;
	uint32_t want[PAIRS];
	int n = 0, i, r, cfd;
	size_t klen = 0;

	/* A's port 30000 + i and the first port of B's that takes the same entry */
	for (i = 0; n < PAIRS && i < 1000; i++) {
		uint32_t idx = fcache_key_of(a, (uint16_t)(30000 + i), web, 1500, ka[n], &klen);

		for (uint32_t p = 40000; p < 65536; p++) {
			if (fcache_key_of(b, (uint16_t)p, web, 1500, kb[n], &klen) == idx) {
				want[n] = idx;
				pa[n] = (uint16_t)(30000 + i);
				pb[n++] = (uint16_t)p;
				break;
			}
		}
	}
	if (!ASSERT_EQ(n, PAIRS, "connection pairs sharing a cache entry"))
		return;
	cfd = fcache_map_fd(dp, fam);
	if (!ASSERT_GE(cfd, 0, "the program's connection cache map"))
		return;
	if (!ASSERT_OK(tw_dp_counters_read(dp, SL_A, 1, &a0), "counters A") ||
	    !ASSERT_OK(tw_dp_counters_read(dp, SL_B, 1, &b0), "counters B"))
		goto out;
	for (i = 0; i < PAIRS; i++) {
		const struct pkt_spec oa = { .family = fam, .src = a, .dst = web, TCP(pa[i], 1500) };
		const struct pkt_spec ob = { .family = fam, .src = b, .dst = web, TCP(pb[i], 1500) };

		if (!send_spec(dp, IN, &oa, PASS) || !send_spec(dp, IN, &ob, PASS))
			goto out;
		for (r = 0; r < ROUNDS; r++) {
			const struct pkt_spec ra = {
				.family = fam, .src = web, .dst = a, TCP(1500, pa[i])
			};
			const struct pkt_spec rb = {
				.family = fam, .src = web, .dst = b, TCP(1500, pb[i]), .payload = 7
			};

			/* twice each: the second meets the entry the first filled */
			if (!send_spec(dp, OUT, &ra, PASS) || !send_spec(dp, OUT, &ra, PASS))
				goto out;
			/* the program's index is the one abi.h computes */
			if (r == 0 && !ASSERT_TRUE(fcache_holds(cfd, want[i], ka[i], klen, entsz),
						   "A's connection in the entry abi.h names"))
				goto out;
			if (!send_spec(dp, OUT, &rb, PASS) || !send_spec(dp, OUT, &rb, PASS))
				goto out;
			if (r == 0 && !ASSERT_TRUE(fcache_holds(cfd, want[i], kb[i], klen, entsz),
						   "B's connection took over the entry"))
				goto out;
		}
	}
	if (!ASSERT_OK(tw_dp_counters_read(dp, SL_A, 1, &a1), "counters A") ||
	    !ASSERT_OK(tw_dp_counters_read(dp, SL_B, 1, &b1), "counters B"))
		goto out;
	ASSERT_EQ(a1.from_pkts - a0.from_pkts, PAIRS, "A's opening packets");
	ASSERT_EQ(b1.from_pkts - b0.from_pkts, PAIRS, "B's opening packets");
	ASSERT_EQ(a1.to_pkts - a0.to_pkts, PAIRS * ROUNDS * 2, "replies counted to A");
	ASSERT_EQ(b1.to_pkts - b0.to_pkts, PAIRS * ROUNDS * 2, "replies counted to B");
	/* B's replies carry 7 payload bytes more */
	ASSERT_EQ((b1.to_bytes - b0.to_bytes) - (a1.to_bytes - a0.to_bytes), PAIRS * ROUNDS * 2 * 7,
		  "bytes counted to their own client");
out:
	close(cfd);
}

/*
 * A ban stops a client's admitted connections at once, in both directions,
 * also those the connection cache holds; lifting it lets them go on.
 */
static void test_ban_stops_cached_connection(struct tw_dp *dp)
{
	const struct pkt_spec out = { V4(B4, WEB4), TCP(49401, 1500) };
	const struct pkt_spec back = { V4(WEB4, B4), TCP(1500, 49401) };
	struct tw_client_ctr c0, c1;

	if (!send_spec(dp, IN, &out, PASS) || !send_spec(dp, OUT, &back, PASS) ||
	    !send_spec(dp, OUT, &back, PASS) || !send_spec(dp, IN, &out, PASS))
		return;
	if (!ASSERT_OK(tw_dp_counters_read(dp, SL_B, 1, &c0), "counters") ||
	    !ASSERT_OK(tw_dp_client_set_state(dp, SL_B, TW_STATE_BANNED), "ban"))
		return;
	send_spec(dp, OUT, &back, DROP);
	send_spec(dp, IN, &out, DROP);
	if (ASSERT_OK(tw_dp_counters_read(dp, SL_B, 1, &c1), "counters"))
		ASSERT_EQ(c1.drops[TW_DROP_BANNED] - c0.drops[TW_DROP_BANNED], 2,
			  "both directions dropped as banned");
	if (!ASSERT_OK(tw_dp_client_set_state(dp, SL_B, TW_STATE_PERMIT), "lift the ban"))
		return;
	send_spec(dp, OUT, &back, PASS);
	send_spec(dp, IN, &out, PASS);
}

/*
 * Timing subtests, on each flow clock: jiffies (where the kernel's HZ is
 * known) and the coarse monotonic clock. Each packet is bracketed by
 * CLOCK_MONOTONIC readings; both flow clocks advance once a tick (hence the
 * slack), so the age the program saw is known within the bracket. A run
 * whose packets left the window its check needs (a loaded machine) is
 * repeated, never judged: a verdict is asserted only when it must hold.
 */
#define MSEC	     (1000ULL * 1000)
#define TIMING_SLACK (20 * MSEC)
#define TIMING_TRIES 5

struct stamp {
	uint64_t a, b; /* before, after the packet */
};

static uint64_t mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 * MSEC + (uint64_t)t.tv_nsec;
}

static void sleep_ns(uint64_t ns)
{
	struct timespec t = { .tv_sec = (time_t)(ns / (1000 * MSEC)),
			      .tv_nsec = (long)(ns % (1000 * MSEC)) };

	nanosleep(&t, NULL);
}

/* Bounds of the time between packet @x and packet @y as the kernel saw it. */
static uint64_t age_min(const struct stamp *x, const struct stamp *y)
{
	return y->a > x->b ? y->a - x->b : 0;
}

static uint64_t age_max(const struct stamp *x, const struct stamp *y)
{
	return y->b - x->a;
}

static int timed_send(struct tw_dp *dp, int dir, const struct pkt_spec *s, struct stamp *st,
		      int *verdict)
{
	struct pkt p;
	int err = pkt_build(&p, s);

	if (err)
		return err;
	st->a = mono_ns();
	err = run_pkt(dp, dir, &p, 0, 0, verdict);
	st->b = mono_ns();
	return err;
}

/*
 * A flow expires after the configured timeout (replies are then judged as
 * unsolicited: dropped); the client's next packet opens it again.
 */
#define SHORT_TIMEOUT (200 * MSEC)

static struct tw_dp *open_timing_dp(uint64_t timeout, int hz)
{
	int khz = tw_kernel_hz();
	struct tw_dp *dp;

	if (hz == 0 && khz < 0) {
		test__skip("the kernel's CONFIG_HZ is unknown (no /boot/config-$(uname -r), no "
			   "/proc/config.gz): the jiffies clock is not used");
		return NULL;
	}
	dp = open_dp_clock(PKT_ETH_LEN, timeout, hz);
	if (dp && !ASSERT_EQ(tw_dp_hz(dp), hz < 0 ? 0 : khz, "flow clock")) {
		tw_dp_close(dp);
		return NULL;
	}
	return dp;
}

static void test_flow_timeout(int hz)
{
	struct tw_dp *dp = open_timing_dp(SHORT_TIMEOUT, hz);
	const uint64_t t = SHORT_TIMEOUT;
	int try;

	if (!dp)
		return;
	for (try = 0; try < TIMING_TRIES; try++) {
		uint16_t port = 49101 + try;
		const struct pkt_spec open = { V4(A4, WEB4), TCP(port, 1500) };
		const struct pkt_spec reply = { V4(WEB4, A4), TCP(1500, port) };
		struct stamp s[5];
		int v[5];

		if (!ASSERT_OK(timed_send(dp, IN, &open, &s[0], &v[0]), "open") ||
		    !ASSERT_OK(timed_send(dp, OUT, &reply, &s[1], &v[1]), "reply"))
			goto out;
		sleep_ns(2 * t);
		if (!ASSERT_OK(timed_send(dp, OUT, &reply, &s[2], &v[2]), "late reply") ||
		    !ASSERT_OK(timed_send(dp, IN, &open, &s[3], &v[3]), "open again") ||
		    !ASSERT_OK(timed_send(dp, OUT, &reply, &s[4], &v[4]), "reply again"))
			goto out;
		if (age_max(&s[0], &s[1]) >= t - TIMING_SLACK ||
		    age_min(&s[1], &s[2]) <= t + TIMING_SLACK ||
		    age_max(&s[3], &s[4]) >= t - TIMING_SLACK)
			continue;
		ASSERT_EQ(v[0], PASS, "open");
		ASSERT_EQ(v[1], PASS, "reply in time");
		ASSERT_EQ(v[2], DROP, "reply after the timeout");
		ASSERT_EQ(v[3], PASS, "open again");
		ASSERT_EQ(v[4], PASS, "reply to the reopened flow");
		goto out;
	}
	test__skip("no run kept its timing in %d tries: machine too loaded", TIMING_TRIES);
out:
	tw_dp_close(dp);
}

/*
 * Replies alone keep a flow open: each refreshes it once it is half a
 * timeout old. The second reply comes more than a timeout after the open
 * but less than one after the first reply: it passes only if the first
 * reply refreshed the flow.
 */
#define KEEP_TIMEOUT (1000 * MSEC)

static void test_flow_kept_by_replies(int hz)
{
	struct tw_dp *dp = open_timing_dp(KEEP_TIMEOUT, hz);
	const uint64_t t = KEEP_TIMEOUT;
	int try;

	if (!dp)
		return;
	for (try = 0; try < TIMING_TRIES; try++) {
		uint16_t port = 49201 + try;
		const struct pkt_spec open = { V4(A4, WEB4), TCP(port, 1500) };
		const struct pkt_spec reply = { V4(WEB4, A4), TCP(1500, port) };
		struct stamp s[3];
		int v[3];

		if (!ASSERT_OK(timed_send(dp, IN, &open, &s[0], &v[0]), "open"))
			goto out;
		sleep_ns(t * 7 / 10);
		if (!ASSERT_OK(timed_send(dp, OUT, &reply, &s[1], &v[1]), "reply"))
			goto out;
		sleep_ns(t * 7 / 10);
		if (!ASSERT_OK(timed_send(dp, OUT, &reply, &s[2], &v[2]), "second reply"))
			goto out;
		if (age_min(&s[0], &s[1]) <= t / 2 + TIMING_SLACK ||
		    age_max(&s[0], &s[1]) >= t - TIMING_SLACK ||
		    age_max(&s[1], &s[2]) >= t - TIMING_SLACK ||
		    age_min(&s[0], &s[2]) <= t + TIMING_SLACK)
			continue;
		ASSERT_EQ(v[0], PASS, "open");
		ASSERT_EQ(v[1], PASS, "reply within the timeout");
		ASSERT_EQ(v[2], PASS, "reply kept alive by the first");
		goto out;
	}
	test__skip("no run kept its timing in %d tries: machine too loaded", TIMING_TRIES);
out:
	tw_dp_close(dp);
}

/*
 * A client sent back to the sandbox (confirmation withdrawn, offline mode)
 * keeps no more than the sandbox allows: connections it opened as PERMIT
 * stop at once, in both directions, like every other state change.
 */
static void test_sandbox_demotion(void)
{
	const struct pkt_spec out = { V4(A4, WEB4), TCP(49301, 1500) };
	const struct pkt_spec back = { V4(WEB4, A4), TCP(1500, 49301) };
	const struct pkt_spec dns = { V4(A4, DNS4), UDP(49302, 53) };
	const struct pkt_spec answer = { V4(DNS4, A4), UDP(53, 49302) };
	struct tw_dp *dp = open_dp(PKT_ETH_LEN, 0);

	if (!dp)
		return;
	if (!send_spec(dp, IN, &out, PASS) || !send_spec(dp, OUT, &back, PASS) ||
	    !send_spec(dp, IN, &dns, PASS) || !send_spec(dp, OUT, &answer, PASS))
		goto out;
	if (!ASSERT_OK(tw_dp_client_set_state(dp, SL_A, TW_STATE_SANDBOX), "to sandbox"))
		goto out;
	send_spec(dp, IN, &out, DROP);
	send_spec(dp, OUT, &back, DROP);
	/* what the sandbox allows goes on once the client speaks again */
	if (send_spec(dp, IN, &dns, PASS))
		send_spec(dp, OUT, &answer, PASS);
out:
	tw_dp_close(dp);
}

/*
 * An address A talks to becomes a client's while the connection is open
 * (pool addresses are reused): of another tenant, the connection stops;
 * of A's own tenant, it goes on.
 */
static void test_tenant_recheck(void)
{
	const struct pkt_spec to_x = { V4(A4, "10.8.0.50"), TCP(49401, 80) };
	const struct pkt_spec from_x = { V4("10.8.0.50", A4), TCP(80, 49401) };
	const struct pkt_spec to_y = { V4(A4, "10.8.0.51"), TCP(49402, 80) };
	const struct pkt_spec from_y = { V4("10.8.0.51", A4), TCP(80, 49402) };
	struct tw_client x = { .slot = NSLOTS,
			       .ifindex = LO_IFINDEX,
			       .tenant = 2,
			       .profile = PROFILE,
			       .state = TW_STATE_PERMIT,
			       .naddrs = 1 };
	struct tw_client y = { .slot = NSLOTS + 1,
			       .ifindex = 1000,
			       .tenant = 1,
			       .profile = PROFILE,
			       .state = TW_STATE_PERMIT,
			       .naddrs = 1 };
	struct tw_dp *dp = open_dp(PKT_ETH_LEN, 0);

	if (!dp)
		return;
	if (!send_spec(dp, IN, &to_x, PASS) || !send_spec(dp, OUT, &from_x, PASS) ||
	    !send_spec(dp, IN, &to_y, PASS) || !send_spec(dp, OUT, &from_y, PASS))
		goto out;
	if (!ASSERT_OK(tw_addr_parse("10.8.0.50", &x.addrs[0]), "addr") ||
	    !ASSERT_OK(tw_addr_parse("10.8.0.51", &y.addrs[0]), "addr") ||
	    !ASSERT_OK(tw_dp_client_add(dp, &x), "other tenant takes the address") ||
	    !ASSERT_OK(tw_dp_client_add(dp, &y), "same tenant takes the address"))
		goto out;
	send_spec(dp, IN, &to_x, DROP);
	send_spec(dp, OUT, &from_x, DROP);
	send_spec(dp, IN, &to_y, PASS);
	send_spec(dp, OUT, &from_y, PASS);
out:
	tw_dp_close(dp);
}

/*
 * With tw_pass_arp off (libtw does not expose the knob: the skeleton
 * directly), ARP is just another non-IP frame: dropped as malformed.
 */
static void test_arp_not_passed(void)
{
	const struct pkt_spec arp = { .ethertype = PKT_ETH_ARP };
	struct tw_gctr *pc = NULL;
	struct tw_bpf *skel;
	struct bpf_map *m;
	uint64_t pkts = 0, bytes = 0;
	uint32_t idx = TW_DROP_MALFORMED;
	int ncpus, verdict, err;
	struct pkt p;

	skel = tw_bpf__open();
	if (!ASSERT_OK_PTR(skel, "open skeleton"))
		return;
	skel->rodata->tw_l3_off = PKT_ETH_LEN;
	skel->rodata->tw_pass_arp = 0;
	/* private maps, and small: the defaults are sized for production */
	bpf_object__for_each_map(m, skel->obj) {
		bpf_map__set_pin_path(m, NULL);
		if (bpf_map__type(m) != BPF_MAP_TYPE_ARRAY_OF_MAPS &&
		    bpf_map__max_entries(m) > 1024)
			bpf_map__set_max_entries(m, 1024);
	}
	err = tw_bpf__load(skel);
	if (!ASSERT_OK(err, "load"))
		goto out;
	if (!ASSERT_OK(pkt_build(&p, &arp), "build"))
		goto out;
	err = run_prog(bpf_program__fd(skel->progs.tw_tun_in), &p, 0, 0, &verdict);
	if (!ASSERT_OK(err, "run") || !ASSERT_EQ(verdict, DROP, "verdict"))
		goto out;
	ncpus = libbpf_num_possible_cpus();
	if (!ASSERT_GT(ncpus, 0, "cpus"))
		goto out;
	pc = calloc(ncpus, sizeof(*pc));
	if (!ASSERT_OK_PTR(pc, "alloc") ||
	    !ASSERT_OK(bpf_map__lookup_elem(skel->maps.tw1_gcnt, &idx, sizeof(idx), pc,
					    sizeof(*pc) * ncpus, 0),
		       "read MALFORMED"))
		goto out;
	for (int c = 0; c < ncpus; c++) {
		pkts += pc[c].pkts;
		bytes += pc[c].bytes;
	}
	ASSERT_EQ(pkts, 1, "MALFORMED pkts");
	ASSERT_EQ(bytes, p.len, "MALFORMED bytes");
	idx = TW_G_NON_IP_PASS;
	if (ASSERT_OK(bpf_map__lookup_elem(skel->maps.tw1_gcnt, &idx, sizeof(idx), pc,
					   sizeof(*pc) * ncpus, 0),
		      "read NON_IP_PASS")) {
		for (int c = 0; c < ncpus; c++)
			ASSERT_EQ(pc[c].pkts, 0, "NON_IP_PASS pkts");
	}
out:
	free(pc);
	tw_bpf__destroy(skel);
}

/* The table keeps its promises: 60 rows at least, every drop reason. */
static void check_coverage(void)
{
	bool seen[TW_DROP__MAX] = {};
	size_t i;

	ASSERT_GE(sizeof(cases) / sizeof(cases[0]), 60, "table rows");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (cases[i].x.verdict == DROP)
			seen[cases[i].x.reason] = true;
	for (i = 1; i < TW_DROP__MAX; i++)
		if (!seen[i])
			test__fail(__FILE__, __LINE__, "no row drops for %s", reason_names[i]);
}

void test_tunnel_verdicts(void)
{
	struct tw_dp *dp;

	if (!test__need_root())
		return;
	check_coverage();

	dp = open_dp(PKT_ETH_LEN, 0);
	if (!dp)
		return;
	run_table(dp, cases, sizeof(cases) / sizeof(cases[0]));
	if (test__start_subtest("flow_not_inherited_by_reused_slot"))
		test_slot_reuse(dp);
	if (test__start_subtest("connection_cache_shared_entries_v4"))
		test_fcache_shared_entries(dp, 4);
	if (test__start_subtest("connection_cache_shared_entries_v6"))
		test_fcache_shared_entries(dp, 6);
	if (test__start_subtest("ban_stops_cached_connection"))
		test_ban_stops_cached_connection(dp);
	tw_dp_close(dp);

	if (test__start_subtest("flow_timeout_and_revival"))
		test_flow_timeout(0);
	if (test__start_subtest("flow_timeout_and_revival_coarse_clock"))
		test_flow_timeout(-1);
	if (test__start_subtest("flow_kept_open_by_replies"))
		test_flow_kept_by_replies(0);
	if (test__start_subtest("flow_kept_open_by_replies_coarse_clock"))
		test_flow_kept_by_replies(-1);
	if (test__start_subtest("sandbox_demotion_stops_open_connections"))
		test_sandbox_demotion();
	if (test__start_subtest("tenant_rechecked_when_an_address_moves"))
		test_tenant_recheck();
	if (test__start_subtest("arp_dropped_when_not_passed"))
		test_arp_not_passed();

	dp = open_dp(0, 0);
	if (!dp)
		return;
	run_table(dp, l3_cases, sizeof(l3_cases) / sizeof(l3_cases[0]));
	tw_dp_close(dp);
}
