// SPDX-License-Identifier: GPL-2.0-only
/*
 * tw_uplink (bpf/uplink.bpf.c) through BPF_PROG_TEST_RUN: bans, handshake
 * recognition per VPN kind, the per-source handshake token bucket, and
 * truncation at every header. Each case asserts the XDP verdict and the
 * exact tw1_ucnt deltas (packets and bytes of all five counters). Frames
 * come from the tests' one packet builder (selftests/lib/packet.c).
 *
 * The program is loaded from its skeleton with pinning switched off, so the
 * test never touches /sys/fs/bpf. Maps the uplink does not use (maps.h
 * defines every map in every object) are created with one entry.
 *
 * Addresses are documentation/benchmark ranges; packets exist only in
 * PROG_TEST_RUN buffers, and in the "veth" subtest on a veth pair inside a
 * network namespace of the test's own.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <tunwarden/abi.h>
#include "packet.h"
#include "test.h"
#include "tunwarden.skel.h"

#define XDP_DROP_ 1
#define XDP_PASS_ 2
#define NSEC	  1000000000ULL

/* VPN ports of the fixture. */
#define P_OVPN	   1194
#define P_OVPN_TCP 443
#define P_WG	   51820
#define P_IKE	   500
#define P_NATT	   4500

/* The uplink's addresses and the clients' source port. */
#define DST4  "198.18.0.1"
#define DST6  "2001:db8:ffff::1"
#define SPORT 40000

/* ---- payloads ---- */

static const uint8_t ovpn_reset_v2[] = { 7 << 3, 1, 2, 3, 4, 5, 6, 7, 8 };
static const uint8_t ovpn_reset_v2_k1[] = { (7 << 3) | 1, 1, 2, 3, 4, 5, 6, 7, 8 };
static const uint8_t ovpn_reset_v3[] = { 10 << 3, 1, 2, 3, 4, 5, 6, 7, 8 };
static const uint8_t ovpn_reset_v1[] = { 1 << 3, 1, 2, 3, 4, 5, 6, 7, 8 };
static const uint8_t ovpn_control[] = { 4 << 3, 1, 2, 3, 4, 5, 6, 7, 8 };
static const uint8_t ovpn_ack[] = { 5 << 3, 1, 2, 3, 4, 5, 6, 7, 8 };
static const uint8_t ovpn_data_v2[] = { 9 << 3, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef };

static const uint8_t wg_init[148] = { 1, 0, 0, 0, 0x11, 0x22 };
static const uint8_t wg_resp[92] = { 2, 0, 0, 0, 0x11, 0x22 };
static const uint8_t wg_cookie[64] = { 3, 0, 0, 0 };
static const uint8_t wg_data[48] = { 4, 0, 0, 0, 0x33 };
static const uint8_t wg_init_resv[148] = { 1, 0, 0, 1 }; /* reserved bytes not zero */
static const uint8_t one_byte_01[] = { 1 };
static const uint8_t natt_ff_00[] = { 0xff, 0 }; /* not a keepalive: those are one byte */

#define IKE_HDR(spir, ver, exch, flags)                                                            \
	1, 2, 3, 4, 5, 6, 7, 8, spir, 0, 0, 0, 0, 0, 0, 0, 33, ver, exch, flags, 0, 0, 0, 0, 0, 0, \
		0, 28
static const uint8_t ike_sa_init[] = { IKE_HDR(0, 0x20, 34, 0x08) };
static const uint8_t ike_sa_init_resp[] = { IKE_HDR(9, 0x20, 34, 0x20) };
static const uint8_t ike_auth[] = { IKE_HDR(9, 0x20, 35, 0x08) };
static const uint8_t ikev1_main[] = { IKE_HDR(0, 0x10, 2, 0) };
static const uint8_t ikev1_aggr[] = { IKE_HDR(0, 0x10, 4, 0) };
static const uint8_t ikev1_main_2nd[] = { IKE_HDR(9, 0x10, 2, 0) };
static const uint8_t natt_sa_init[] = { 0, 0, 0, 0, IKE_HDR(0, 0x20, 34, 0x08) };
static const uint8_t natt_ike_auth[] = { 0, 0, 0, 0, IKE_HDR(9, 0x20, 35, 0x08) };
static const uint8_t natt_esp[] = { 0, 0, 0x10, 1, 0, 0, 0, 7, 0xaa, 0xbb, 0xcc, 0xdd };
static const uint8_t natt_keepalive[] = { 0xff };
static const uint8_t natt_short[] = { 0, 0, 0 };

/* The data of a later fragment: the rest of a datagram to a VPN port, UDP
 * header included, where a parser that looked for ports in it would find
 * them. */
#define UDP_HDR(dport, len) \
	SPORT >> 8, (uint8_t)SPORT, (dport) >> 8, (uint8_t)(dport), 0, (len), 0, 0
static const uint8_t frag_ovpn_data[] = {
	UDP_HDR(P_OVPN, 16), 9 << 3, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef
};
static const uint8_t frag_wg_data[8 + 48] = { UDP_HDR(P_WG, 8 + 48), 4, 0, 0, 0, 0x33 };

/* ---- fixture ---- */

struct ucase {
	const char *name;
	struct pkt_spec s;
	int verdict;
	unsigned int counted; /* U_* */
};

/* Counters a case must move by exactly one packet; all others stay put. */
#define U_PASS	 (1u << TW_U_PASS)
#define U_BANNED (1u << TW_U_BANNED)
#define U_RL	 (1u << TW_U_RATELIMIT)
#define U_HS	 (1u << TW_U_HANDSHAKE)
#define U_MAL	 (1u << TW_U_MALFORMED)

struct fixture {
	struct tw_bpf *skel;
	int prog_fd, bans_fd, vports_fd, ucfg_fd, hsrate_fd, ucnt_fd;
	int ncpus;
	struct tw_gctr *percpu;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC + ts.tv_nsec;
}

static int read_ucnt(struct fixture *f, struct tw_gctr out[TW_U__MAX])
{
	uint32_t i;
	int c;

	for (i = 0; i < TW_U__MAX; i++) {
		if (bpf_map_lookup_elem(f->ucnt_fd, &i, f->percpu))
			return errno ? -errno : -EIO;
		out[i].pkts = out[i].bytes = 0;
		for (c = 0; c < f->ncpus; c++) {
			out[i].pkts += f->percpu[c].pkts;
			out[i].bytes += f->percpu[c].bytes;
		}
	}
	return 0;
}

static int ban(struct fixture *f, uint8_t fam, const char *addr, uint8_t plen, uint64_t expires)
{
	struct tw_ban_key k = { .family = fam };
	struct tw_ban_val v = { .expires_ns = expires };

	k.prefixlen = TW_BAN_KEY_FIXED_BITS + plen;
	if (inet_pton(fam == TW_FAM_V4 ? AF_INET : AF_INET6, addr, k.addr) != 1)
		return -EINVAL;
	return bpf_map_update_elem(f->bans_fd, &k, &v, BPF_ANY) ? -errno : 0;
}

static int vport(struct fixture *f, uint8_t proto, uint16_t port, uint32_t kind)
{
	struct tw_vport_key k = { .proto = proto, .port = htons(port) };
	struct tw_vport_val v = { .kind = kind };

	return bpf_map_update_elem(f->vports_fd, &k, &v, BPF_ANY) ? -errno : 0;
}

/* Set the uplink config and forget every bucket. */
static int uplink_cfg(struct fixture *f, uint32_t rate, uint32_t burst, uint32_t v4p, uint32_t v6p)
{
	struct tw_uplink_cfg cfg = { rate, burst, v4p, v6p };
	struct tw_hs_key k, next;
	uint32_t zero = 0;

	if (bpf_map_update_elem(f->ucfg_fd, &zero, &cfg, BPF_ANY))
		return -errno;
	while (bpf_map_get_next_key(f->hsrate_fd, NULL, &next) == 0) {
		k = next;
		if (bpf_map_delete_elem(f->hsrate_fd, &k))
			return -errno;
	}
	return 0;
}

static void fixture_close(struct fixture *f)
{
	tw_bpf__destroy(f->skel);
	free(f->percpu);
}

static bool uplink_map(const struct bpf_map *m)
{
	static const char *const used[] = { "tw1_bans", "tw1_vports", "tw1_ucfg", "tw1_hsrate",
					    "tw1_ucnt" };
	size_t i;

	for (i = 0; i < sizeof(used) / sizeof(used[0]); i++)
		if (!strcmp(bpf_map__name(m), used[i]))
			return true;
	return false;
}

static int fixture_open(struct fixture *f)
{
	uint64_t now = mono_ns();
	struct bpf_map *m;
	int err;

	memset(f, 0, sizeof(*f));
	f->ncpus = libbpf_num_possible_cpus();
	if (!ASSERT_GT(f->ncpus, 0, "num_possible_cpus"))
		return -EINVAL;
	f->percpu = calloc(f->ncpus, sizeof(*f->percpu));
	if (!ASSERT_OK_PTR(f->percpu, "calloc"))
		return -ENOMEM;
	f->skel = tw_bpf__open();
	if (!ASSERT_OK_PTR(f->skel, "tw_bpf__open"))
		return -errno;
	bpf_object__for_each_map(m, f->skel->obj) {
		err = bpf_map__set_pin_path(m, NULL);
		if (!err && !uplink_map(m))
			err = bpf_map__set_max_entries(m, 1);
		if (!ASSERT_OK(err, bpf_map__name(m)))
			return err;
	}
	err = bpf_map__set_max_entries(f->skel->maps.tw1_hsrate, 1024);
	if (!ASSERT_OK(err, "hsrate size"))
		return err;
	err = tw_bpf__load(f->skel);
	if (!ASSERT_OK(err, "tw_bpf__load"))
		return err;
	f->prog_fd = bpf_program__fd(f->skel->progs.tw_uplink);
	f->bans_fd = bpf_map__fd(f->skel->maps.tw1_bans);
	f->vports_fd = bpf_map__fd(f->skel->maps.tw1_vports);
	f->ucfg_fd = bpf_map__fd(f->skel->maps.tw1_ucfg);
	f->hsrate_fd = bpf_map__fd(f->skel->maps.tw1_hsrate);
	f->ucnt_fd = bpf_map__fd(f->skel->maps.tw1_ucnt);

	err = vport(f, IPPROTO_UDP, P_OVPN, TW_VPN_OPENVPN);
	err = err ?: vport(f, IPPROTO_TCP, P_OVPN_TCP, TW_VPN_OPENVPN);
	err = err ?: vport(f, IPPROTO_UDP, P_WG, TW_VPN_WIREGUARD);
	err = err ?: vport(f, IPPROTO_UDP, P_IKE, TW_VPN_IKE);
	err = err ?: vport(f, IPPROTO_UDP, P_NATT, TW_VPN_IKE);
	err = err ?: ban(f, TW_FAM_V4, "192.0.2.66", 32, 0);
	err = err ?: ban(f, TW_FAM_V4, "198.51.100.0", 24, 0);
	err = err ?: ban(f, TW_FAM_V4, "203.0.113.7", 32, now - 1); /* expired */
	err = err ?: ban(f, TW_FAM_V4, "203.0.113.8", 32, now + 3600 * NSEC); /* live */
	err = err ?: ban(f, TW_FAM_V6, "2001:db8::66", 128, 0);
	err = err ?: ban(f, TW_FAM_V6, "2001:db8:bad:1::", 64, 0);
	err = err ?: uplink_cfg(f, 0, 0, 0, 0);
	ASSERT_OK(err, "fixture maps");
	return err;
}

/* Run one frame; the verdict, or -errno. */
static int run(struct fixture *f, const uint8_t *frame, int len)
{
	struct bpf_test_run_opts topts = {
		.sz = sizeof(topts),
		.data_in = frame,
		.data_size_in = len,
		.repeat = 1,
	};
	int err;

	err = bpf_prog_test_run_opts(f->prog_fd, &topts);
	if (err)
		return -errno;
	return topts.retval;
}

static const char *const ucnt_names[TW_U__MAX] = {
	[TW_U_PASS] = "pass",		[TW_U_BANNED] = "banned",
	[TW_U_RATELIMIT] = "ratelimit", [TW_U_HANDSHAKE] = "handshake",
	[TW_U_MALFORMED] = "malformed",
};

/* Build, run and check one case: verdict and exact counter deltas. */
static bool run_case(struct fixture *f, const struct ucase *c)
{
	struct tw_gctr before[TW_U__MAX] = {}, after[TW_U__MAX] = {};
	struct pkt p;
	char what[160];
	bool ok = true;
	int err, len, v, i;

	err = pkt_build(&p, &c->s); /* not inside ASSERT_OK(): cppcheck then sees p filled */
	if (!ASSERT_OK(err, c->name))
		return false;
	len = p.len;
	if (!ASSERT_OK(read_ucnt(f, before), "read tw1_ucnt"))
		return false;
	v = run(f, p.data, len);
	if (!ASSERT_OK(read_ucnt(f, after), "read tw1_ucnt"))
		return false;
	snprintf(what, sizeof(what), "%s: verdict", c->name);
	ok &= ASSERT_EQ(v, c->verdict, what);
	for (i = 0; i < TW_U__MAX; i++) {
		snprintf(what, sizeof(what), "%s: %s pkts", c->name, ucnt_names[i]);
		ok &= ASSERT_EQ(after[i].pkts - before[i].pkts, (c->counted >> i) & 1, what);
		snprintf(what, sizeof(what), "%s: %s bytes", c->name, ucnt_names[i]);
		ok &= ASSERT_EQ(after[i].bytes - before[i].bytes, ((c->counted >> i) & 1) * len,
				what);
	}
	return ok;
}

static void run_table(struct fixture *f, const struct ucase *t, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		run_case(f, &t[i]);
}

/* pkt_spec initialisers: { UDP4("192.0.2.1", P_WG), PL(wg_init), ... } */
#define UDP4(ip, port) \
	.family = 4, .src = (ip), .dst = DST4, .proto = IPPROTO_UDP, .sport = SPORT, .dport = (port)
#define UDP6(ip, port) \
	.family = 6, .src = (ip), .dst = DST6, .proto = IPPROTO_UDP, .sport = SPORT, .dport = (port)
#define TCP4(ip, port, fl)                                                           \
	.family = 4, .src = (ip), .dst = DST4, .proto = IPPROTO_TCP, .sport = SPORT, \
	.dport = (port), .tcp_flags = (fl)
#define SYN 0x02
#define ACK 0x10

#define PL(a) .payload_data = (a), .payload = sizeof(a)
/* An IP length that ends @n bytes before the payload @a (inside the
 * transport or an extension header) in a frame of full length. */
#define ENDS_BEFORE(a, n) .len_delta = (-(int)sizeof(a) - (n))
/* IPv6 extension headers, in order */
#define EXT(...)    .n_ext = sizeof((uint8_t[]){ __VA_ARGS__ }), .ext = { __VA_ARGS__ }
#define FRAG6_FIRST .frag6_more = true /* with PKT_EH_FRAG in EXT() */
#define FRAG6_LATER .frag6_off = 64

/* ---- subtests ---- */

static const struct ucase ban_cases[] = {
	{ "v4 /32 ban, data to OpenVPN",
	  { UDP4("192.0.2.66", P_OVPN), PL(ovpn_data_v2) },
	  XDP_DROP_,
	  U_BANNED },
	{ "v4 /32 ban, handshake to OpenVPN",
	  { UDP4("192.0.2.66", P_OVPN), PL(ovpn_reset_v2) },
	  XDP_DROP_,
	  U_BANNED },
	{ "v4 /32 ban, SYN to OpenVPN TCP",
	  { TCP4("192.0.2.66", P_OVPN_TCP, SYN) },
	  XDP_DROP_,
	  U_BANNED },
	{ "v4 /32 ban, WireGuard", { UDP4("192.0.2.66", P_WG), PL(wg_data) }, XDP_DROP_, U_BANNED },
	{ "v4 /32 ban, IKE", { UDP4("192.0.2.66", P_IKE), PL(ike_sa_init) }, XDP_DROP_, U_BANNED },
	{ "v4 /32 ban, truncated VPN payload",
	  { UDP4("192.0.2.66", P_WG), PL(one_byte_01) },
	  XDP_DROP_,
	  U_BANNED },
	{ "v4 banned, non-VPN UDP port",
	  { UDP4("192.0.2.66", 53), PL(ovpn_reset_v2) },
	  XDP_PASS_,
	  U_PASS },
	{ "v4 banned, UDP to a TCP-only VPN port",
	  { UDP4("192.0.2.66", P_OVPN_TCP), PL(ovpn_reset_v2) },
	  XDP_PASS_,
	  U_PASS },
	{ "v4 banned, TCP to a UDP-only VPN port",
	  { TCP4("192.0.2.66", P_OVPN, SYN) },
	  XDP_PASS_,
	  U_PASS },
	{ "v4 neighbour of /32 ban",
	  { UDP4("192.0.2.67", P_OVPN), PL(ovpn_data_v2) },
	  XDP_PASS_,
	  U_PASS },
	{ "v4 inside /24 ban (.0)",
	  { UDP4("198.51.100.0", P_OVPN), PL(ovpn_data_v2) },
	  XDP_DROP_,
	  U_BANNED },
	{ "v4 inside /24 ban (.255)",
	  { UDP4("198.51.100.255", P_WG), PL(wg_init) },
	  XDP_DROP_,
	  U_BANNED },
	{ "v4 just outside /24 ban",
	  { UDP4("198.51.101.0", P_OVPN), PL(ovpn_data_v2) },
	  XDP_PASS_,
	  U_PASS },
	{ "v4 just below /24 ban",
	  { UDP4("198.51.99.255", P_OVPN), PL(ovpn_data_v2) },
	  XDP_PASS_,
	  U_PASS },
	{ "v4 expired ban",
	  { UDP4("203.0.113.7", P_OVPN), PL(ovpn_reset_v2) },
	  XDP_PASS_,
	  U_PASS | U_HS },
	{ "v4 ban with future expiry",
	  { UDP4("203.0.113.8", P_OVPN), PL(ovpn_reset_v2) },
	  XDP_DROP_,
	  U_BANNED },
	{ "v4 ban, IPv4 options",
	  { UDP4("192.0.2.66", P_OVPN), PL(ovpn_data_v2), .ip4_optlen = 40 },
	  XDP_DROP_,
	  U_BANNED },
	{ "v4 unbanned, IPv4 options, handshake",
	  { UDP4("192.0.2.1", P_OVPN), PL(ovpn_reset_v2), .ip4_optlen = 8 },
	  XDP_PASS_,
	  U_PASS | U_HS },
	{ "v4 ban, first fragment",
	  { UDP4("192.0.2.66", P_OVPN), PL(ovpn_data_v2), .ip4_frag = PKT_MF },
	  XDP_DROP_,
	  U_BANNED },
	{ "v4 ban, later fragment (no ports)",
	  { UDP4("192.0.2.66", P_OVPN), PL(frag_ovpn_data), .ip4_frag = PKT_MF | 3 },
	  XDP_PASS_,
	  U_PASS },
	/* RFC 1858 tiny first fragments: the datagram reassembles behind XDP */
	{ "v4 ban, first fragment cut in the UDP header",
	  { UDP4("192.0.2.66", P_WG), PL(wg_init), .ip4_frag = PKT_MF, ENDS_BEFORE(wg_init, 1) },
	  XDP_DROP_,
	  U_BANNED },
	{ "v4 ban, first fragment cut in the TCP header",
	  { TCP4("192.0.2.66", P_OVPN_TCP, SYN), .ip4_frag = PKT_MF, .len_delta = -1 },
	  XDP_DROP_,
	  U_BANNED },
	{ "v4 ban, first fragment of just the ports",
	  { UDP4("192.0.2.66", P_WG), PL(wg_init), .ip4_frag = PKT_MF, ENDS_BEFORE(wg_init, 4) },
	  XDP_DROP_,
	  U_BANNED },
	/* not a fragment: nothing reassembles behind it, so it is only malformed */
	{ "v4 ban, datagram ends after the ports: malformed",
	  { UDP4("192.0.2.66", P_WG), PL(wg_init), ENDS_BEFORE(wg_init, 4) },
	  XDP_PASS_,
	  U_MAL },
	{ "v6 ban, first fragment cut in the UDP header",
	  { UDP6("2001:db8::66", P_WG), PL(wg_init), EXT(PKT_EH_FRAG), FRAG6_FIRST,
	    ENDS_BEFORE(wg_init, 1) },
	  XDP_DROP_,
	  U_BANNED },
	{ "first fragment cut in the UDP header: a handshake",
	  { UDP4("192.0.2.1", P_WG), PL(wg_init), .ip4_frag = PKT_MF, ENDS_BEFORE(wg_init, 1) },
	  XDP_PASS_,
	  U_PASS | U_HS },
	{ "first fragment cut in the TCP header: a handshake",
	  { TCP4("192.0.2.1", P_OVPN_TCP, ACK), .ip4_frag = PKT_MF, .len_delta = -1 },
	  XDP_PASS_,
	  U_PASS | U_HS },
	{ "first fragment, WireGuard header cut: a handshake",
	  { UDP4("192.0.2.1", P_WG), PL(one_byte_01), .ip4_frag = PKT_MF },
	  XDP_PASS_,
	  U_PASS | U_HS },
	{ "v6 first fragment, OpenVPN header cut: a handshake",
	  { UDP6("2001:db8::1", P_OVPN), EXT(PKT_EH_FRAG), FRAG6_FIRST },
	  XDP_PASS_,
	  U_PASS | U_HS },
	{ "first fragment of a data packet: not a handshake",
	  { UDP4("192.0.2.1", P_WG), PL(wg_data), .ip4_frag = PKT_MF },
	  XDP_PASS_,
	  U_PASS },
	{ "first fragment without ports: malformed",
	  { UDP4("192.0.2.66", P_WG), PL(wg_init), .ip4_frag = PKT_MF,
	    ENDS_BEFORE(wg_init, 8 - 3) },
	  XDP_PASS_,
	  U_MAL },
	{ "v6 /128 ban", { UDP6("2001:db8::66", P_OVPN), PL(ovpn_data_v2) }, XDP_DROP_, U_BANNED },
	{ "v6 neighbour of /128 ban",
	  { UDP6("2001:db8::67", P_OVPN), PL(ovpn_data_v2) },
	  XDP_PASS_,
	  U_PASS },
	{ "v6 inside /64 ban",
	  { UDP6("2001:db8:bad:1:ffff:ffff:ffff:ffff", P_WG), PL(wg_init) },
	  XDP_DROP_,
	  U_BANNED },
	{ "v6 inside /64 ban, low end",
	  { UDP6("2001:db8:bad:1::", P_IKE), PL(ike_sa_init) },
	  XDP_DROP_,
	  U_BANNED },
	{ "v6 outside /64 ban",
	  { UDP6("2001:db8:bad:2::1", P_WG), PL(wg_init) },
	  XDP_PASS_,
	  U_PASS | U_HS },
	{ "v6 banned, non-VPN port", { UDP6("2001:db8::66", 443), PL(wg_init) }, XDP_PASS_, U_PASS },
	{ "v6 ban behind destination options",
	  { UDP6("2001:db8::66", P_WG), PL(wg_data), EXT(PKT_EH_DEST, PKT_EH_DEST) },
	  XDP_DROP_,
	  U_BANNED },
	{ "v6 ban behind fragment header (first)",
	  { UDP6("2001:db8::66", P_WG), PL(wg_data), EXT(PKT_EH_FRAG), FRAG6_FIRST },
	  XDP_DROP_,
	  U_BANNED },
	{ "v6 ban, later fragment (no ports)",
	  { UDP6("2001:db8::66", P_WG), PL(frag_wg_data), EXT(PKT_EH_FRAG), FRAG6_LATER },
	  XDP_PASS_,
	  U_PASS },
	{ "v6 ban behind 3 dstopts + frag (4 headers)",
	  { UDP6("2001:db8::66", P_WG), PL(wg_data),
	    EXT(PKT_EH_DEST, PKT_EH_DEST, PKT_EH_DEST, PKT_EH_FRAG), FRAG6_FIRST },
	  XDP_DROP_,
	  U_BANNED },
	{ "v6 ban behind 5 headers: not inspected",
	  { UDP6("2001:db8::66", P_WG), PL(wg_data),
	    EXT(PKT_EH_DEST, PKT_EH_DEST, PKT_EH_DEST, PKT_EH_DEST, PKT_EH_DEST) },
	  XDP_PASS_,
	  U_PASS },
};

static const struct ucase hs_cases[] = {
	{ "OpenVPN HARD_RESET_CLIENT_V2",
	  { UDP4("10.1.0.1", P_OVPN), PL(ovpn_reset_v2) },
	  XDP_PASS_,
	  U_PASS | U_HS },
	{ "OpenVPN HARD_RESET_CLIENT_V2 key id 1",
	  { UDP4("10.1.0.1", P_OVPN), PL(ovpn_reset_v2_k1) },
	  XDP_PASS_,
	  U_PASS | U_HS },
	{ "OpenVPN HARD_RESET_CLIENT_V3",
	  { UDP4("10.1.0.1", P_OVPN), PL(ovpn_reset_v3) },
	  XDP_PASS_,
	  U_PASS | U_HS },
	{ "OpenVPN V3 over IPv6",
	  { UDP6("2001:db8:1::1", P_OVPN), PL(ovpn_reset_v3) },
	  XDP_PASS_,
	  U_PASS | U_HS },
	{ "OpenVPN HARD_RESET_CLIENT_V1 (obsolete)",
	  { UDP4("10.1.0.1", P_OVPN), PL(ovpn_reset_v1) },
	  XDP_PASS_,
	  U_PASS },
	{ "OpenVPN CONTROL_V1", { UDP4("10.1.0.1", P_OVPN), PL(ovpn_control) }, XDP_PASS_, U_PASS },
	{ "OpenVPN ACK_V1", { UDP4("10.1.0.1", P_OVPN), PL(ovpn_ack) }, XDP_PASS_, U_PASS },
	{ "OpenVPN DATA_V2", { UDP4("10.1.0.1", P_OVPN), PL(ovpn_data_v2) }, XDP_PASS_, U_PASS },
	{ "OpenVPN TCP SYN", { TCP4("10.1.0.1", P_OVPN_TCP, SYN) }, XDP_PASS_, U_PASS | U_HS },
	{ "OpenVPN TCP SYN+ACK", { TCP4("10.1.0.1", P_OVPN_TCP, SYN | ACK) }, XDP_PASS_, U_PASS },
	{ "OpenVPN TCP ACK",
	  { TCP4("10.1.0.1", P_OVPN_TCP, ACK), PL(ovpn_reset_v2) },
	  XDP_PASS_,
	  U_PASS },
	{ "OpenVPN TCP SYN with options",
	  { TCP4("10.1.0.1", P_OVPN_TCP, SYN), .ip4_optlen = 4 },
	  XDP_PASS_,
	  U_PASS | U_HS },
	{ "WireGuard initiation",
	  { UDP4("10.1.0.1", P_WG), PL(wg_init) },
	  XDP_PASS_,
	  U_PASS | U_HS },
	{ "WireGuard initiation over IPv6",
	  { UDP6("2001:db8:1::1", P_WG), PL(wg_init) },
	  XDP_PASS_,
	  U_PASS | U_HS },
	{ "WireGuard response", { UDP4("10.1.0.1", P_WG), PL(wg_resp) }, XDP_PASS_, U_PASS },
	{ "WireGuard cookie reply", { UDP4("10.1.0.1", P_WG), PL(wg_cookie) }, XDP_PASS_, U_PASS },
	{ "WireGuard transport data", { UDP4("10.1.0.1", P_WG), PL(wg_data) }, XDP_PASS_, U_PASS },
	{ "WireGuard type 1, reserved not zero",
	  { UDP4("10.1.0.1", P_WG), PL(wg_init_resv) },
	  XDP_PASS_,
	  U_PASS },
	{ "IKEv2 IKE_SA_INIT request",
	  { UDP4("10.1.0.1", P_IKE), PL(ike_sa_init) },
	  XDP_PASS_,
	  U_PASS | U_HS },
	{ "IKEv2 IKE_SA_INIT request over IPv6",
	  { UDP6("2001:db8:1::1", P_IKE), PL(ike_sa_init) },
	  XDP_PASS_,
	  U_PASS | U_HS },
	{ "IKEv2 IKE_SA_INIT response",
	  { UDP4("10.1.0.1", P_IKE), PL(ike_sa_init_resp) },
	  XDP_PASS_,
	  U_PASS },
	{ "IKEv2 IKE_AUTH", { UDP4("10.1.0.1", P_IKE), PL(ike_auth) }, XDP_PASS_, U_PASS },
	{ "IKEv1 main mode, first message",
	  { UDP4("10.1.0.1", P_IKE), PL(ikev1_main) },
	  XDP_PASS_,
	  U_PASS | U_HS },
	{ "IKEv1 aggressive mode, first message",
	  { UDP4("10.1.0.1", P_IKE), PL(ikev1_aggr) },
	  XDP_PASS_,
	  U_PASS | U_HS },
	{ "IKEv1 main mode, responder cookie set",
	  { UDP4("10.1.0.1", P_IKE), PL(ikev1_main_2nd) },
	  XDP_PASS_,
	  U_PASS },
	{ "NAT-T 4500: marker + IKE_SA_INIT",
	  { UDP4("10.1.0.1", P_NATT), PL(natt_sa_init) },
	  XDP_PASS_,
	  U_PASS | U_HS },
	{ "NAT-T 4500: marker + IKE_AUTH",
	  { UDP4("10.1.0.1", P_NATT), PL(natt_ike_auth) },
	  XDP_PASS_,
	  U_PASS },
	{ "NAT-T 4500: ESP", { UDP4("10.1.0.1", P_NATT), PL(natt_esp) }, XDP_PASS_, U_PASS },
	{ "NAT-T 4500: keepalive",
	  { UDP4("10.1.0.1", P_NATT), PL(natt_keepalive) },
	  XDP_PASS_,
	  U_PASS },
	{ "NAT-T 4500: IKE header without marker is ESP",
	  { UDP4("10.1.0.1", P_NATT), PL(ike_sa_init) },
	  XDP_PASS_,
	  U_PASS },
	{ "handshake bytes to a non-VPN port",
	  { UDP4("10.1.0.1", 1195), PL(ovpn_reset_v2) },
	  XDP_PASS_,
	  U_PASS },
	{ "ICMP",
	  { .family = 4,
	    .src = "10.1.0.1",
	    .dst = DST4,
	    .proto = IPPROTO_ICMP,
	    .sport = SPORT,
	    PL(ovpn_reset_v2) },
	  XDP_PASS_,
	  U_PASS },
	{ "ARP", { .ethertype = PKT_ETH_ARP }, XDP_PASS_, U_PASS },
	{ "VLAN-tagged frame (not inspected)",
	  { .ethertype = 0x8100, .payload = 28 },
	  XDP_PASS_,
	  U_PASS },
};

/* Truncations keep L3 bytes: IPv4 20 (+opts), IPv6 40, then UDP 8, TCP 20. */
static const struct ucase mal_cases[] = {
	{ "Ethernet only, IPv4 type", { .ethertype = PKT_ETH_IP }, XDP_PASS_, U_MAL },
	{ "Ethernet only, IPv6 type", { .ethertype = PKT_ETH_IPV6 }, XDP_PASS_, U_MAL },
	{ "IPv4 header cut at 19",
	  { UDP4("10.2.0.1", P_OVPN), PL(ovpn_reset_v2), .keep = PKT_KEEP(19) },
	  XDP_PASS_,
	  U_MAL },
	{ "IPv4 options cut",
	  { UDP4("10.2.0.1", P_OVPN), PL(ovpn_reset_v2), .ip4_optlen = 8, .keep = PKT_KEEP(24) },
	  XDP_PASS_,
	  U_MAL },
	{ "IPv4 ihl 4",
	  { UDP4("10.2.0.1", P_OVPN), PL(ovpn_reset_v2), .ihl = 4 },
	  XDP_PASS_,
	  U_MAL },
	{ "IPv4 version 6 in an IPv4 frame",
	  { UDP4("10.2.0.1", P_OVPN), PL(ovpn_reset_v2), .version = 6 },
	  XDP_PASS_,
	  U_MAL },
	{ "IPv4 tot_len beyond the frame",
	  { UDP4("10.2.0.1", P_OVPN), PL(ovpn_reset_v2), .len_delta = 1 },
	  XDP_PASS_,
	  U_MAL },
	{ "IPv4 tot_len below the header",
	  { UDP4("10.2.0.1", P_OVPN), PL(ovpn_reset_v2), ENDS_BEFORE(ovpn_reset_v2, 8 + 1) },
	  XDP_PASS_,
	  U_MAL },
	{ "IPv4 frame cut in the UDP header",
	  { UDP4("10.2.0.1", P_OVPN), PL(ovpn_reset_v2), .keep = PKT_KEEP(20 + 7) },
	  XDP_PASS_,
	  U_MAL },
	{ "IPv4 frame cut in the TCP header",
	  { TCP4("10.2.0.1", P_OVPN_TCP, SYN), .keep = PKT_KEEP(20 + 19) },
	  XDP_PASS_,
	  U_MAL },
	{ "IPv4 tot_len ends in the UDP header (frame longer)",
	  { UDP4("10.2.0.1", P_OVPN), PL(ovpn_reset_v2), ENDS_BEFORE(ovpn_reset_v2, 1) },
	  XDP_PASS_,
	  U_MAL },
	{ "IPv4 tot_len ends in the TCP header (frame longer)",
	  { TCP4("10.2.0.1", P_OVPN_TCP, SYN), PL(ovpn_reset_v2), ENDS_BEFORE(ovpn_reset_v2, 1) },
	  XDP_PASS_,
	  U_MAL },
	{ "TCP data offset 4",
	  { TCP4("10.2.0.1", P_OVPN_TCP, SYN), .tcp_doff_field = 4 },
	  XDP_PASS_,
	  U_MAL },
	{ "TCP data offset beyond the datagram",
	  { TCP4("10.2.0.1", P_OVPN_TCP, SYN), .tcp_doff_field = 15 },
	  XDP_PASS_,
	  U_MAL },
	{ "IPv6 header cut at 39",
	  { UDP6("2001:db8:2::1", P_WG), PL(wg_init), .keep = PKT_KEEP(39) },
	  XDP_PASS_,
	  U_MAL },
	{ "IPv6 version 4 in an IPv6 frame",
	  { UDP6("2001:db8:2::1", P_WG), PL(wg_init), .version = 4 },
	  XDP_PASS_,
	  U_MAL },
	{ "IPv6 payload_len beyond the frame",
	  { UDP6("2001:db8:2::1", P_WG), PL(wg_init), .len_delta = 1 },
	  XDP_PASS_,
	  U_MAL },
	{ "IPv6 extension header cut",
	  { UDP6("2001:db8:2::1", P_WG), PL(wg_init), EXT(PKT_EH_DEST), .keep = PKT_KEEP(40 + 7) },
	  XDP_PASS_,
	  U_MAL },
	{ "IPv6 payload_len ends in the extension header",
	  { UDP6("2001:db8:2::1", P_WG), PL(wg_init), EXT(PKT_EH_DEST),
	    ENDS_BEFORE(wg_init, 8 + 1) },
	  XDP_PASS_,
	  U_MAL },
	{ "IPv6 payload_len ends in the UDP header",
	  { UDP6("2001:db8:2::1", P_WG), PL(wg_init), ENDS_BEFORE(wg_init, 1) },
	  XDP_PASS_,
	  U_MAL },
	{ "IPv6 frame cut in the UDP header",
	  { UDP6("2001:db8:2::1", P_WG), PL(wg_init), .keep = PKT_KEEP(40 + 7) },
	  XDP_PASS_,
	  U_MAL },
	{ "OpenVPN: empty UDP payload", { UDP4("10.2.0.1", P_OVPN) }, XDP_PASS_, U_MAL },
	{ "WireGuard: 1-byte payload",
	  { UDP4("10.2.0.1", P_WG), PL(one_byte_01) },
	  XDP_PASS_,
	  U_MAL },
	{ "WireGuard: 1-byte payload, Ethernet padding to 60",
	  { UDP4("10.2.0.1", P_WG), PL(one_byte_01), .pad_to = 60 },
	  XDP_PASS_,
	  U_MAL },
	{ "WireGuard: initiation cut in the frame",
	  { UDP4("10.2.0.1", P_WG), PL(wg_init), .keep = PKT_KEEP(20 + 8 + 3) },
	  XDP_PASS_,
	  U_MAL },
	{ "IKE: 27-byte header",
	  { UDP4("10.2.0.1", P_IKE), .payload_data = ike_sa_init, .payload = 27 },
	  XDP_PASS_,
	  U_MAL },
	{ "NAT-T 4500: 3-byte payload",
	  { UDP4("10.2.0.1", P_NATT), PL(natt_short) },
	  XDP_PASS_,
	  U_MAL },
	{ "NAT-T 4500: 0xff and a zero",
	  { UDP4("10.2.0.1", P_NATT), PL(natt_ff_00) },
	  XDP_PASS_,
	  U_MAL },
	/* lengths come from the IP header: zero padding after the datagram is
	 * not payload, however well it would complete a header */
	{ "WireGuard: 3-byte initiation, Ethernet padding to 60",
	  { UDP4("10.2.0.1", P_WG), .payload_data = wg_init, .payload = 3, .pad_to = 60 },
	  XDP_PASS_,
	  U_MAL },
	{ "IKE: 27-byte header, zero padding after it",
	  { UDP4("10.2.0.1", P_IKE), .payload_data = ike_sa_init, .payload = 27, .pad_to = 100 },
	  XDP_PASS_,
	  U_MAL },
	{ "NAT-T 4500: keepalive, Ethernet padding to 60",
	  { UDP4("10.2.0.1", P_NATT), PL(natt_keepalive), .pad_to = 60 },
	  XDP_PASS_,
	  U_PASS },
	/* an IPv4 header and nothing after it is a datagram, of a protocol not parsed */
	{ "IPv4 header only, GRE",
	  { .family = 4, .src = "10.2.0.1", .dst = DST4, .proto = 47 },
	  XDP_PASS_,
	  U_PASS },
	{ "NAT-T 4500: marker + 27-byte IKE header",
	  { UDP4("10.2.0.1", P_NATT), .payload_data = natt_sa_init, .payload = 31 },
	  XDP_PASS_,
	  U_MAL },
	/* not malformed: the padding must not be read as payload either way */
	{ "OpenVPN reset padded to 60",
	  { UDP4("10.2.0.1", P_OVPN), PL(ovpn_reset_v2), .pad_to = 60 },
	  XDP_PASS_,
	  U_PASS | U_HS },
	{ "cut non-VPN IPv4 header: still malformed",
	  { UDP4("10.2.0.1", 53), PL(ovpn_reset_v2), .keep = PKT_KEEP(10) },
	  XDP_PASS_,
	  U_MAL },
};

/* Rate 1/s, burst 3, buckets per /24 and per /64. Order matters. */
static const struct ucase rl_cases[] = {
	{ "v4 handshake 1/3",
	  { UDP4("10.9.9.1", P_OVPN), PL(ovpn_reset_v2) },
	  XDP_PASS_,
	  U_PASS | U_HS },
	{ "v4 handshake 2/3",
	  { UDP4("10.9.9.1", P_OVPN), PL(ovpn_reset_v3) },
	  XDP_PASS_,
	  U_PASS | U_HS },
	{ "v4 data between handshakes",
	  { UDP4("10.9.9.1", P_OVPN), PL(ovpn_data_v2) },
	  XDP_PASS_,
	  U_PASS },
	{ "v4 handshake 3/3",
	  { UDP4("10.9.9.1", P_OVPN), PL(ovpn_reset_v2) },
	  XDP_PASS_,
	  U_PASS | U_HS },
	{ "v4 handshake 4: over the burst",
	  { UDP4("10.9.9.1", P_OVPN), PL(ovpn_reset_v2) },
	  XDP_DROP_,
	  U_RL },
	{ "v4 same /24, other address",
	  { UDP4("10.9.9.200", P_OVPN), PL(ovpn_reset_v2) },
	  XDP_DROP_,
	  U_RL },
	{ "v4 same /24, WireGuard shares the bucket",
	  { UDP4("10.9.9.1", P_WG), PL(wg_init) },
	  XDP_DROP_,
	  U_RL },
	{ "v4 data still passes",
	  { UDP4("10.9.9.1", P_OVPN), PL(ovpn_data_v2) },
	  XDP_PASS_,
	  U_PASS },
	{ "v4 WireGuard data still passes",
	  { UDP4("10.9.9.1", P_WG), PL(wg_data) },
	  XDP_PASS_,
	  U_PASS },
	{ "v4 TCP ACK still passes", { TCP4("10.9.9.1", P_OVPN_TCP, ACK) }, XDP_PASS_, U_PASS },
	{ "v4 TCP SYN is limited too", { TCP4("10.9.9.1", P_OVPN_TCP, SYN) }, XDP_DROP_, U_RL },
	{ "v4 tiny first fragment is limited too",
	  { UDP4("10.9.9.1", P_WG), PL(wg_init), .ip4_frag = PKT_MF, ENDS_BEFORE(wg_init, 1) },
	  XDP_DROP_,
	  U_RL },
	{ "v4 other /24: own bucket",
	  { UDP4("10.9.10.1", P_OVPN), PL(ovpn_reset_v2) },
	  XDP_PASS_,
	  U_PASS | U_HS },
	{ "v4 banned source: ban first, no token",
	  { UDP4("192.0.2.66", P_OVPN), PL(ovpn_reset_v2) },
	  XDP_DROP_,
	  U_BANNED },
	{ "v4 malformed handshake: no token",
	  { UDP4("10.9.11.1", P_WG), PL(one_byte_01) },
	  XDP_PASS_,
	  U_MAL },
	{ "v6 TCP-less: WireGuard 1/3",
	  { UDP6("2001:db8:1:2::1", P_WG), PL(wg_init) },
	  XDP_PASS_,
	  U_PASS | U_HS },
	{ "v6 2/3 (other address, same /64)",
	  { UDP6("2001:db8:1:2::2", P_WG), PL(wg_init) },
	  XDP_PASS_,
	  U_PASS | U_HS },
	{ "v6 3/3 (IKE, same /64)",
	  { UDP6("2001:db8:1:2:ffff::", P_IKE), PL(ike_sa_init) },
	  XDP_PASS_,
	  U_PASS | U_HS },
	{ "v6 4: over the burst",
	  { UDP6("2001:db8:1:2::1", P_OVPN), PL(ovpn_reset_v3) },
	  XDP_DROP_,
	  U_RL },
	{ "v6 data passes", { UDP6("2001:db8:1:2::1", P_WG), PL(wg_data) }, XDP_PASS_, U_PASS },
	{ "v6 next /64: own bucket",
	  { UDP6("2001:db8:1:3::1", P_WG), PL(wg_init) },
	  XDP_PASS_,
	  U_PASS | U_HS },
};

static bool bucket(struct fixture *f, uint8_t fam, const char *masked, struct tw_hs_val *out)
{
	struct tw_hs_key k = { .family = fam };

	inet_pton(fam == TW_FAM_V4 ? AF_INET : AF_INET6, masked, k.addr);
	return bpf_map_lookup_elem(f->hsrate_fd, &k, out) == 0;
}

static void test_ratelimit(struct fixture *f)
{
	struct tw_hs_val v = {};

	if (!ASSERT_OK(uplink_cfg(f, 1, 3, 24, 64), "cfg"))
		return;
	run_table(f, rl_cases, sizeof(rl_cases) / sizeof(rl_cases[0]));

	/* Buckets are keyed by the masked prefix, never by the address. */
	if (ASSERT_TRUE(bucket(f, TW_FAM_V4, "10.9.9.0", &v), "bucket 10.9.9.0/24"))
		ASSERT_LT(v.tokens_milli, 1000, "10.9.9.0/24 empty");
	ASSERT_FALSE(bucket(f, TW_FAM_V4, "10.9.9.1", &v), "no bucket per address");
	ASSERT_TRUE(bucket(f, TW_FAM_V4, "10.9.10.0", &v), "bucket 10.9.10.0/24");
	if (ASSERT_TRUE(bucket(f, TW_FAM_V6, "2001:db8:1:2::", &v), "bucket 2001:db8:1:2::/64"))
		ASSERT_LT(v.tokens_milli, 1000, "2001:db8:1:2::/64 empty");
	ASSERT_FALSE(bucket(f, TW_FAM_V4, "192.0.2.0", &v), "no bucket for a banned source");
	ASSERT_FALSE(bucket(f, TW_FAM_V4, "10.9.11.0", &v), "no bucket for a malformed packet");
}

/* Per-address buckets when the prefixes are left at 0. */
static void test_per_address(struct fixture *f)
{
	static const struct ucase t[] = {
		{ "a 1/1", { UDP4("10.7.0.1", P_WG), PL(wg_init) }, XDP_PASS_, U_PASS | U_HS },
		{ "a 2", { UDP4("10.7.0.1", P_WG), PL(wg_init) }, XDP_DROP_, U_RL },
		{ "neighbour: own bucket",
		  { UDP4("10.7.0.2", P_WG), PL(wg_init) },
		  XDP_PASS_,
		  U_PASS | U_HS },
		{ "v6 a 1/1",
		  { UDP6("2001:db8:7::1", P_WG), PL(wg_init) },
		  XDP_PASS_,
		  U_PASS | U_HS },
		{ "v6 a 2", { UDP6("2001:db8:7::1", P_WG), PL(wg_init) }, XDP_DROP_, U_RL },
		{ "v6 neighbour: own bucket",
		  { UDP6("2001:db8:7::2", P_WG), PL(wg_init) },
		  XDP_PASS_,
		  U_PASS | U_HS },
	};
	struct tw_hs_val v = {};

	/* burst 0 behaves as 1 */
	if (!ASSERT_OK(uplink_cfg(f, 1, 0, 0, 0), "cfg"))
		return;
	run_table(f, t, sizeof(t) / sizeof(t[0]));
	ASSERT_TRUE(bucket(f, TW_FAM_V6, "2001:db8:7::1", &v), "per-address v6 bucket");
}

static void test_no_limit(struct fixture *f)
{
	struct ucase c = {
		"hs_rate 0", { UDP4("10.8.0.1", P_WG), PL(wg_init) }, XDP_PASS_, U_PASS | U_HS
	};
	int i;

	if (!ASSERT_OK(uplink_cfg(f, 0, 1, 32, 64), "cfg"))
		return;
	for (i = 0; i < 50; i++)
		if (!run_case(f, &c))
			break;
	ASSERT_EQ(bpf_map_get_next_key(f->hsrate_fd, NULL, &(struct tw_hs_key){}), -ENOENT,
		  "no buckets without a limit");
}

/*
 * Refill against the real clock (bpf_ktime_get_ns cannot be mocked): 10 per
 * second, burst 3, so a token is 100 ms and a full bucket 300 ms. The burst
 * is spent and one handshake dropped within 90 ms (a machine that stalls
 * longer gets another try from a fresh source rather than a false failure);
 * after a 150 ms sleep one token and a half have accrued, so one handshake
 * passes, and the bucket holds what the clock says it should.
 */
static void test_refill(struct fixture *f)
{
	struct pkt_spec s = { UDP4("10.6.0.1", P_WG), PL(wg_init) };
	uint64_t t0 = 0, t1 = 0, t2, t3, lo, hi;
	int v[4] = { 0 }, post, i, try;
	struct tw_hs_val b = {};
	struct pkt p;
	char src[32];

	if (!ASSERT_OK(uplink_cfg(f, 10, 3, 32, 64), "cfg"))
		return;
	for (try = 0; try < 3; try++) {
		snprintf(src, sizeof(src), "10.6.0.%d", try + 1);
		s.src = src;
		if (!ASSERT_OK(pkt_build(&p, &s), "build"))
			return;
		t0 = mono_ns();
		for (i = 0; i < 4; i++)
			v[i] = run(f, p.data, p.len);
		t1 = mono_ns();
		if (t1 - t0 < 90 * 1000000ULL)
			break;
	}
	if (!ASSERT_LT(try, 3, "burst within 90 ms in three tries"))
		return;
	for (i = 0; i < 3; i++)
		ASSERT_EQ(v[i], XDP_PASS_, "burst handshake");
	ASSERT_EQ(v[3], XDP_DROP_, "over the burst");

	usleep(150 * 1000);
	t2 = mono_ns();
	post = run(f, p.data, p.len);
	t3 = mono_ns();
	ASSERT_EQ(post, XDP_PASS_, "after 150 ms: refilled");
	if (!ASSERT_TRUE(bucket(f, TW_FAM_V4, src, &b), "bucket"))
		return;
	/* The bucket was last stamped between t0 and t1 holding under one
	 * token; the refill ran between t2 and t3 at 10 per second (0.01
	 * milli-token per microsecond), and the handshake took 1000 of it; a
	 * full bucket is 3000. */
	lo = (t2 - t1) / 100000;
	lo = lo > 3000 ? 3000 : lo; /* a stalled machine: the bucket filled up */
	lo = lo > 1000 ? lo - 1000 : 0;
	hi = (t3 - t0) / 100000;
	hi = (hi > 2000 ? 2000 : hi) + 1;
	if (test__verbose())
		test__diag("refill: tokens_milli %llu, expected [%llu, %llu)",
			   (unsigned long long)b.tokens_milli, (unsigned long long)lo,
			   (unsigned long long)hi);
	ASSERT_GE(b.tokens_milli, lo, "tokens after refill, lower bound");
	ASSERT_LT(b.tokens_milli, hi, "tokens after refill, upper bound");
	ASSERT_GE(b.last_ns, t2, "bucket stamped at the refill");
	ASSERT_LE(b.last_ns, t3, "bucket stamped at the refill");
}

/*
 * The bucket arithmetic, deterministically: bpf_ktime_get_ns() is
 * CLOCK_MONOTONIC, so a bucket seeded with a last_ns in the past stands for
 * that much elapsed time. Each row seeds 10.5.0.1's bucket, runs one
 * handshake and checks the verdict and the tokens written back, within the
 * bounds the timestamps taken around the run allow.
 */
enum stamp {
	STAMP_NOW = 0, /* the time of the run */
	STAMP_KEPT, /* the seeded value */
	STAMP_EITHER, /* kept, or now if the run came 100 us late enough to refill */
};

struct seed_case {
	const char *name;
	uint32_t rate, burst;
	int64_t ago_ns; /* last_ns = now - ago_ns (negative: in the future) */
	uint64_t tokens; /* seeded tokens_milli */
	int verdict;
	bool full; /* expect exactly burst*1000 - 1000 */
	int stamp; /* enum stamp: what last_ns must be afterwards */
};

static void test_bucket_math(struct fixture *f)
{
	static const struct seed_case t[] = {
		{ "10 s idle: full bucket", 10, 3, 10 * NSEC, 0, XDP_PASS_, true, STAMP_NOW },
		/* 1 per second: stalls of a second are needed to change the outcome */
		{ "1.5 s idle: 1.5 tokens", 1, 3, 1500000000, 0, XDP_PASS_, false, STAMP_NOW },
		{ "300 ms idle, 0.4 held: 0.7, dropped", 1, 3, 300000000, 400, XDP_DROP_, false,
		  STAMP_NOW },
		{ "stamp in the future: no refill", 10, 3, -(int64_t)NSEC, 0, XDP_DROP_, false,
		  STAMP_KEPT },
		{ "tokens above a lowered burst: clamped", 10, 3, 0, 10000, XDP_PASS_, true,
		  STAMP_EITHER },
		/* 200 ms refill 2 tokens onto 2.5 held: 4.5, clamped to the burst 3 */
		{ "200 ms idle, 2.5 held: refill clamped to the burst", 10, 3, 200000000, 2500,
		  XDP_PASS_, true, STAMP_NOW },
		{ "rate and burst 4e9, 1000 s idle: full, no overflow", 4000000000u, 4000000000u,
		  1000 * NSEC, 0, XDP_PASS_, true, STAMP_NOW },
		/* (2^32 + 2) * (2^32 - 1) wraps 64 bits to a few thousand */
		{ "rate 2^32-1, 2^32+2 ns idle: full, no wrap", 4294967295u, 4000000000u,
		  4294967298LL, 0, XDP_PASS_, true, STAMP_NOW },
		{ "rate and burst 4e9, 1 ms idle: no overflow", 4000000000u, 4000000000u, 1000000,
		  0, XDP_PASS_, false, STAMP_NOW },
	};
	struct tw_hs_key k = { .family = TW_FAM_V4 };
	struct pkt_spec s = { UDP4("10.5.0.1", P_WG), PL(wg_init) };
	char what[160];
	struct pkt p;
	size_t i;

	if (!ASSERT_OK(pkt_build(&p, &s), "build"))
		return;
	inet_pton(AF_INET, "10.5.0.1", k.addr);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		const struct seed_case *c = &t[i];
		struct tw_hs_val seed, got = {};
		uint64_t tb, ta, burst = (uint64_t)c->burst * 1000, lo, hi;
		int v;

		if (!ASSERT_OK(uplink_cfg(f, c->rate, c->burst, 32, 64), "cfg"))
			return;
		/* a freshly booted VM: the clock has not run that long yet, and a
		 * stamp before boot would wrap into the future */
		if (c->ago_ns > 0 && (uint64_t)c->ago_ns >= mono_ns()) {
			test__diag("'%s' left out: CLOCK_MONOTONIC is only %llu s", c->name,
				   (unsigned long long)(mono_ns() / NSEC));
			continue;
		}
		seed.last_ns = mono_ns() - c->ago_ns;
		seed.tokens_milli = c->tokens;
		if (!ASSERT_OK(bpf_map_update_elem(f->hsrate_fd, &k, &seed, BPF_ANY), "seed"))
			return;
		tb = mono_ns();
		v = run(f, p.data, p.len);
		ta = mono_ns();
		snprintf(what, sizeof(what), "%s: verdict", c->name);
		ASSERT_EQ(v, c->verdict, what);
		snprintf(what, sizeof(what), "%s: bucket", c->name);
		if (!ASSERT_OK(bpf_map_lookup_elem(f->hsrate_fd, &k, &got), what))
			continue;
		if (c->full) {
			lo = hi = burst - 1000;
		} else if (c->ago_ns <= 0) {
			lo = hi = c->tokens;
		} else {
			/* tokens + elapsed * rate / 1e6, at most a full bucket,
			 * less the handshake */
			lo = c->tokens + (tb - seed.last_ns) * c->rate / 1000000;
			hi = c->tokens + (ta - seed.last_ns) * c->rate / 1000000;
			lo = lo > burst ? burst : lo;
			hi = hi > burst ? burst : hi;
			if (c->verdict == XDP_PASS_) {
				lo -= 1000;
				hi -= 1000;
			}
		}
		snprintf(what, sizeof(what), "%s: tokens_milli >= %llu", c->name,
			 (unsigned long long)lo);
		ASSERT_GE(got.tokens_milli, lo, what);
		snprintf(what, sizeof(what), "%s: tokens_milli <= %llu", c->name,
			 (unsigned long long)hi);
		ASSERT_LE(got.tokens_milli, hi, what);
		snprintf(what, sizeof(what), "%s: last_ns", c->name);
		if (c->stamp == STAMP_KEPT ||
		    (c->stamp == STAMP_EITHER && got.last_ns == seed.last_ns)) {
			ASSERT_EQ(got.last_ns, seed.last_ns, what);
		} else {
			ASSERT_GE(got.last_ns, tb, what);
			ASSERT_LE(got.last_ns, ta, what);
		}
	}
}

/*
 * The same program attached for real: native XDP on one end of a veth pair
 * in a private network namespace, frames injected on the other end through
 * a packet socket, and a UDP socket behind the XDP hook counting what the
 * stack delivers. Checks that drops never reach the socket and passes do.
 */
/* twup1 takes the destination MAC of selftests/lib/packet.c's frames */
#define VETH_CMD                                                                                  \
	"ip link add twup0 type veth peer name twup1 && "                                         \
	"ip link set twup1 address 02:00:00:00:00:02 && "                                         \
	"sysctl -qw net.ipv6.conf.default.disable_ipv6=1 net.ipv4.conf.all.rp_filter=0 "          \
	"net.ipv4.conf.default.rp_filter=0 >/dev/null 2>&1; "                                     \
	"ip link set twup0 up && ip link set twup1 up && ip addr add 198.18.0.1/32 dev twup1 && " \
	"ip route add default dev twup1"

static int veth_send(int pfd, int ifindex, const struct pkt_spec *s)
{
	struct sockaddr_ll ll = { .sll_family = AF_PACKET, .sll_ifindex = ifindex, .sll_halen = 6 };
	struct pkt p;
	int err = pkt_build(&p, s);

	if (err)
		return err;
	memcpy(ll.sll_addr, p.data, 6);
	if (sendto(pfd, p.data, p.len, 0, (struct sockaddr *)&ll, sizeof(ll)) != (ssize_t)p.len)
		return -errno;
	return 0;
}

/* Datagrams that reach @ufd within about @ms of quiet. */
static int veth_count(int ufd, int ms)
{
	struct pollfd p = { .fd = ufd, .events = POLLIN };
	uint8_t buf[2048];
	int n = 0;

	while (poll(&p, 1, ms) == 1)
		if (recv(ufd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
			n++;
	return n;
}

static void veth_case(struct fixture *f)
{
	static const struct pkt_spec banned = { UDP4("192.0.2.66", P_WG), PL(wg_init) };
	static const struct pkt_spec hs = { UDP4("192.0.2.10", P_WG), PL(wg_init) };
	static const struct pkt_spec data = { UDP4("192.0.2.10", P_WG), PL(wg_data) };
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(P_WG) };
	struct tw_gctr before[TW_U__MAX] = {}, after[TW_U__MAX] = {};
	int in_if, out_if, pfd = -1, ufd = -1, i, err, got;
	__u32 mode = XDP_FLAGS_DRV_MODE;

	if (system(VETH_CMD)) {
		test__skip("cannot set up a veth pair in a private netns");
		return;
	}
	out_if = (int)if_nametoindex("twup0");
	in_if = (int)if_nametoindex("twup1");
	if (!ASSERT_GT(out_if, 0, "twup0") || !ASSERT_GT(in_if, 0, "twup1"))
		return;
	pfd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	ufd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (!ASSERT_GE(pfd, 0, "packet socket") || !ASSERT_GE(ufd, 0, "udp socket"))
		goto out;
	inet_pton(AF_INET, "198.18.0.1", &sin.sin_addr);
	if (!ASSERT_OK(bind(ufd, (struct sockaddr *)&sin, sizeof(sin)), "bind 198.18.0.1"))
		goto out;

	err = bpf_xdp_attach(in_if, f->prog_fd, mode, NULL);
	if (err) {
		test__diag("native XDP on veth refused (%d), using generic XDP", err);
		mode = XDP_FLAGS_SKB_MODE;
		err = bpf_xdp_attach(in_if, f->prog_fd, mode, NULL);
	}
	if (!ASSERT_OK(err, "attach XDP"))
		goto out;
	if (!ASSERT_OK(uplink_cfg(f, 1, 2, 32, 64), "cfg") ||
	    !ASSERT_OK(read_ucnt(f, before), "read tw1_ucnt"))
		goto detach;

	for (i = 0, err = 0; i < 3 && !err; i++)
		err = veth_send(pfd, out_if, &banned);
	for (i = 0; i < 5 && !err; i++)
		err = veth_send(pfd, out_if, &hs);
	for (i = 0; i < 4 && !err; i++)
		err = veth_send(pfd, out_if, &data);
	if (!ASSERT_OK(err, "inject frames"))
		goto detach;
	got = veth_count(ufd, 300);
	if (!ASSERT_OK(read_ucnt(f, after), "read tw1_ucnt"))
		goto detach;

	ASSERT_EQ(got, 2 + 4, "delivered: 2 admitted handshakes + 4 data");
	ASSERT_EQ(after[TW_U_BANNED].pkts - before[TW_U_BANNED].pkts, 3, "banned");
	ASSERT_EQ(after[TW_U_RATELIMIT].pkts - before[TW_U_RATELIMIT].pkts, 3, "ratelimit");
	ASSERT_EQ(after[TW_U_HANDSHAKE].pkts - before[TW_U_HANDSHAKE].pkts, 2, "handshake");
	ASSERT_EQ(after[TW_U_MALFORMED].pkts - before[TW_U_MALFORMED].pkts, 0, "malformed");
	/* the veth may carry the odd frame of its own (IPv6 is off, but not ARP) */
	ASSERT_GE(after[TW_U_PASS].pkts - before[TW_U_PASS].pkts, 6, "pass");
detach:
	ASSERT_OK(bpf_xdp_detach(in_if, mode, NULL), "detach XDP");
out:
	if (pfd >= 0)
		close(pfd);
	if (ufd >= 0)
		close(ufd);
}

/* Run veth_case in a network namespace of its own, which vanishes (with
 * the veth pair) when the test switches back. */
static void test_veth(struct fixture *f)
{
	int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);

	if (!ASSERT_GE(self, 0, "open own netns"))
		return;
	if (unshare(CLONE_NEWNET)) {
		test__skip("unshare(CLONE_NEWNET): %s", strerror(errno));
		close(self);
		return;
	}
	veth_case(f);
	ASSERT_OK(setns(self, CLONE_NEWNET), "back to own netns");
	close(self);
}

void test_uplink_xdp(void)
{
	struct fixture f;

	if (!test__need_root())
		return;
	if (fixture_open(&f))
		goto out;

	if (test__start_subtest("ban"))
		run_table(&f, ban_cases, sizeof(ban_cases) / sizeof(ban_cases[0]));
	if (test__start_subtest("handshake")) {
		if (ASSERT_OK(uplink_cfg(&f, 0, 0, 0, 0), "cfg"))
			run_table(&f, hs_cases, sizeof(hs_cases) / sizeof(hs_cases[0]));
	}
	if (test__start_subtest("malformed"))
		run_table(&f, mal_cases, sizeof(mal_cases) / sizeof(mal_cases[0]));
	if (test__start_subtest("ratelimit"))
		test_ratelimit(&f);
	if (test__start_subtest("per_address"))
		test_per_address(&f);
	if (test__start_subtest("no_limit"))
		test_no_limit(&f);
	if (test__start_subtest("bucket_math"))
		test_bucket_math(&f);
	if (test__start_subtest("refill"))
		test_refill(&f);
	if (test__start_subtest("veth"))
		test_veth(&f);
out:
	fixture_close(&f);
}
