// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * XDP on the public uplink (tw_uplink): keep banned real source addresses
 * away from the VPN daemons and rate-limit new handshakes per source, before
 * OpenVPN, WireGuard or charon spend a single cycle on them.
 *
 *   parse Ethernet/IP/UDP|TCP -> VPN port? (tw1_vports) -> banned source?
 *   (tw1_bans) -> new handshake? -> token bucket (tw1_hsrate) -> pass
 *
 * Only packets aimed at a configured VPN port (protocol + port) are ever
 * dropped. Everything else - the host's own traffic, non-IP, fragments we
 * cannot see ports in, protocols we do not parse - passes untouched. A
 * truncated or inconsistent header also passes (the stack or the VPN daemon
 * drops it): an uplink filter that breaks the host's other traffic on a
 * parsing corner case is worse than one that misses a malformed packet.
 *
 * Every packet is counted in exactly one of TW_U_PASS, TW_U_BANNED,
 * TW_U_RATELIMIT and TW_U_MALFORMED; TW_U_HANDSHAKE additionally counts the
 * admitted new handshakes (a subset of TW_U_PASS).
 *
 * Not handled (pass, counted as TW_U_PASS): VLAN-tagged frames (attach to
 * the VLAN device instead), IPv4 and IPv6 non-first fragments (no ports; a
 * banned source's first fragment is dropped, so its datagram never
 * reassembles; a first fragment too short to classify is charged as a
 * handshake), IPv6 chains of more than TW_UP_MAX_EXTHDRS extension
 * headers or with AH/ESP before the transport header. See docs/uplink.md.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <tunwarden/abi.h>
#include "lib/uapi.h"
#include "lib/cursor.h"
#include "lib/maps.h"
#include "lib/counters.h"

/* IPv6 extension headers walked before giving up on finding the ports. */
#define TW_UP_MAX_EXTHDRS 4

/* OpenVPN opcodes (high 5 bits of the first byte; low 3 bits: key id). */
#define OVPN_P_CONTROL_HARD_RESET_CLIENT_V2 7
#define OVPN_P_CONTROL_HARD_RESET_CLIENT_V3 10

/* IKE header (RFC 7296 3.1, RFC 2408 3.1): 28 bytes. */
#define IKE_HDR_LEN		  28
#define IKE_EXCH_IKEV1_MAIN	  2
#define IKE_EXCH_IKEV1_AGGRESSIVE 4
#define IKE_EXCH_IKE_SA_INIT	  34
#define IKE_FLAG_RESPONSE	  0x20
#define IKE_NATT_PORT		  4500

enum tw_up_parse {
	TW_UP_INSPECT = 0, /* IP + UDP/TCP header present: check the port */
	TW_UP_SKIP = 1, /* nothing to inspect (non-IP, other protocol, fragment) */
	TW_UP_BAD = 2, /* truncated or inconsistent header */
};

struct tw_up {
	struct tw_cursor c; /* after parsing: at the transport header; end: the IP datagram's */
	__u32 len; /* frame length */
	__u8 family;
	__u8 proto;
	__u8 tcp_flags;
	__u8 first_frag; /* offset 0, more fragments follow */
	__u8 l4_cut; /* first fragment ends inside the transport header */
	__u8 pad;
	__u16 dport; /* network order */
	__u8 saddr[16];
};

static __always_inline int tw_up_parse_v4(struct tw_up *u)
{
	struct iphdr *ip = tw_cursor_ptr(&u->c, ETH_HLEN_, sizeof(*ip));
	__u32 ihl, tot;

	if (!ip)
		return TW_UP_BAD;
	if (ip->version != 4 || ip->ihl < 5)
		return TW_UP_BAD;
	ihl = ip->ihl * 4;
	tot = bpf_ntohs(ip->tot_len);
	/* The options must be inside the datagram and the datagram inside the
	 * frame; the frame may be longer (Ethernet padding). */
	if (tot < ihl || ETH_HLEN_ + tot > u->len)
		return TW_UP_BAD;

	u->family = TW_FAM_V4;
	u->proto = ip->protocol;
	__builtin_memcpy(u->saddr, &ip->saddr, 4);
	u->c.off = ETH_HLEN_ + ihl;
	u->c.end = ETH_HLEN_ + tot;
	/* A non-first fragment carries no transport header. */
	if (bpf_ntohs(ip->frag_off) & IP_OFFSET_)
		return TW_UP_SKIP;
	u->first_frag = !!(bpf_ntohs(ip->frag_off) & IP_MF_);
	return TW_UP_INSPECT;
}

static __always_inline int tw_up_parse_v6(struct tw_up *u)
{
	struct ipv6hdr *ip6 = tw_cursor_ptr(&u->c, ETH_HLEN_, sizeof(*ip6));
	struct tw_ip6_chain ch = {};
	int r;

	if (!ip6)
		return TW_UP_BAD;
	if (ip6->version != 6)
		return TW_UP_BAD;
	u->c.off = ETH_HLEN_ + sizeof(*ip6);
	u->c.end = u->c.off + bpf_ntohs(ip6->payload_len);
	if (u->c.end > u->len)
		return TW_UP_BAD;
	u->family = TW_FAM_V6;
	__builtin_memcpy(u->saddr, &ip6->saddr, 16);

	/* Walk hop-by-hop, routing, destination options and fragment headers
	 * (not AH): otherwise one destination-options header would carry a
	 * banned source's packets past the ban. A longer chain ends on an
	 * extension header, which is not UDP or TCP: passed. */
	ch.nh = ip6->nexthdr;
	r = tw_ip6_walk(&u->c, &ch, TW_UP_MAX_EXTHDRS, false);
	if (r < 0)
		return TW_UP_BAD;
	if (r > 0)
		return TW_UP_SKIP; /* a later fragment, no ports in it */
	u->first_frag = ch.frag == TW_FRAG_FIRST;
	u->proto = ch.nh;
	return TW_UP_INSPECT;
}

static __always_inline int tw_up_parse(struct tw_up *u)
{
	__u16 *proto = tw_cursor_ptr(&u->c, 12, 2);
	__u8 *l4;
	int r;

	if (!proto)
		return TW_UP_BAD;
	if (*proto == bpf_htons(ETH_P_IP_))
		r = tw_up_parse_v4(u);
	else if (*proto == bpf_htons(ETH_P_IPV6_))
		r = tw_up_parse_v6(u);
	else
		return TW_UP_SKIP; /* ARP, VLAN tags, LLDP, ... */
	if (r != TW_UP_INSPECT)
		return r;

	if (u->proto != IPPROTO_UDP_ && u->proto != IPPROTO_TCP_)
		return TW_UP_SKIP;
	/* A first fragment may end inside the transport header on purpose
	 * (RFC 1858 tiny fragments): the datagram reassembles behind us, so
	 * passing it as malformed would carry it past bans and the rate
	 * limit. As long as the ports are there it is judged, as a fragment
	 * whose handshake we cannot see. */
	if (u->c.off + (u->proto == IPPROTO_UDP_ ? 8 : 20) > u->c.end) {
		if (!u->first_frag || u->c.off + 4 > u->c.end)
			return TW_UP_BAD;
		u->l4_cut = 1;
	}
	l4 = tw_cursor_ptr(&u->c, u->c.off, 4);
	if (!l4)
		return TW_UP_BAD;
	__builtin_memcpy(&u->dport, &l4[2], 2);
	if (u->proto == IPPROTO_TCP_ && !u->l4_cut) {
		l4 = tw_cursor_ptr(&u->c, u->c.off, 20);
		if (!l4)
			return TW_UP_BAD;
		if ((l4[12] >> 4) < 5 || u->c.off + (l4[12] >> 4) * 4 > u->c.end)
			return TW_UP_BAD;
		u->tcp_flags = l4[13];
	}
	return TW_UP_INSPECT;
}

/* Is the source in tw1_bans with a ban that has not expired? A longer,
 * expired entry shadows a shorter live one until userspace removes it:
 * the LPM trie returns only the longest match. */
static __always_inline bool tw_up_banned(const struct tw_up *u)
{
	struct tw_ban_key k = {};
	struct tw_ban_val *v;

	k.prefixlen = TW_BAN_KEY_FIXED_BITS + (u->family == TW_FAM_V4 ? 32 : 128);
	k.family = u->family;
	__builtin_memcpy(k.addr, u->saddr, 16);
	v = bpf_map_lookup_elem(&tw1_bans, &k);
	if (!v)
		return false;
	if (v->expires_ns && v->expires_ns <= bpf_ktime_get_ns())
		return false;
	return true;
}

/*
 * Is this packet the start of a new session for the VPN behind the port?
 * 1 yes, 0 no (session traffic), -1 too short to tell.
 * UDP payload is [c.off + 8, c.end).
 */
static __always_inline int tw_up_handshake(const struct tw_up *u, __u32 kind)
{
	__u32 off = u->c.off + 8;
	__u32 len;
	__u8 *p;

	if (u->l4_cut)
		return -1;
	len = u->c.end - off;
	/* A TCP VPN port (OpenVPN over TCP, IKE over TCP): a new session is a
	 * SYN; the handshake inside the stream is the daemon's business. */
	if (u->proto == IPPROTO_TCP_)
		return (u->tcp_flags & (TCP_FLAG_SYN_ | TCP_FLAG_ACK_)) == TCP_FLAG_SYN_;

	switch (kind) {
	case TW_VPN_OPENVPN:
		p = tw_cursor_ptr(&u->c, off, 1);
		if (len < 1 || !p)
			return -1;
		return (p[0] >> 3) == OVPN_P_CONTROL_HARD_RESET_CLIENT_V2 ||
		       (p[0] >> 3) == OVPN_P_CONTROL_HARD_RESET_CLIENT_V3;
	case TW_VPN_WIREGUARD:
		/* message type 1 (handshake initiation), three reserved zeros */
		p = tw_cursor_ptr(&u->c, off, 4);
		if (len < 4 || !p)
			return -1;
		return p[0] == 1 && p[1] == 0 && p[2] == 0 && p[3] == 0;
	case TW_VPN_IKE:
		if (u->dport == bpf_htons(IKE_NATT_PORT)) {
			/* RFC 3948: a lone 0xff is a NAT-keepalive, a non-zero
			 * first word an ESP SPI, four zeros the non-ESP marker
			 * in front of an IKE header. */
			p = tw_cursor_ptr(&u->c, off, 1);
			if (len == 1 && p && p[0] == 0xff)
				return 0;
			p = tw_cursor_ptr(&u->c, off, 4);
			if (len < 4 || !p)
				return -1;
			if (p[0] | p[1] | p[2] | p[3])
				return 0;
			off += 4;
			len -= 4;
		}
		p = tw_cursor_ptr(&u->c, off, IKE_HDR_LEN);
		if (len < IKE_HDR_LEN || !p)
			return -1;
		/* byte 17: major/minor version, 18: exchange type, 19: flags */
		if ((p[17] >> 4) == 2)
			return p[18] == IKE_EXCH_IKE_SA_INIT && !(p[19] & IKE_FLAG_RESPONSE);
		if ((p[17] >> 4) == 1) {
			/* IKEv1 has no response flag: a first message is one
			 * whose responder cookie is still zero. */
			__u64 rspi;

			__builtin_memcpy(&rspi, &p[8], 8);
			return rspi == 0 &&
			       (p[18] == IKE_EXCH_IKEV1_MAIN || p[18] == IKE_EXCH_IKEV1_AGGRESSIVE);
		}
		return 0;
	}
	return 0;
}

/* The first @plen bits of @src, the rest zero. */
static __always_inline void tw_up_mask(__u8 *dst, const __u8 *src, __u32 plen)
{
	int i;

#pragma unroll
	for (i = 0; i < 16; i++) {
		int bits = (int)plen - i * 8;

		if (bits >= 8)
			dst[i] = src[i];
		else if (bits > 0)
			dst[i] = src[i] & (__u8)(0xff << (8 - bits));
		else
			dst[i] = 0;
	}
}

/*
 * Token bucket per source prefix: hs_burst deep, refilled at hs_rate per
 * second, in thousandths of a token so the refill is integer arithmetic.
 * The read-modify-write of a bucket is not atomic: two CPUs taking the same
 * source's handshakes at the same instant may both admit one. That bounds
 * the error at one handshake per CPU per race, which a rate limit meant to
 * blunt floods can live with; a spin lock would cost every handshake more.
 */
static __always_inline bool tw_up_admit(const struct tw_up *u)
{
	struct tw_uplink_cfg *cfg;
	struct tw_hs_key k = {};
	struct tw_hs_val *v;
	__u64 now, burst, tokens, elapsed, full_ns;
	__u32 zero = 0, plen, max;

	cfg = bpf_map_lookup_elem(&tw1_ucfg, &zero);
	if (!cfg || !cfg->hs_rate)
		return true;
	burst = (__u64)(cfg->hs_burst ? cfg->hs_burst : 1) * 1000;
	max = u->family == TW_FAM_V4 ? 32 : 128;
	plen = u->family == TW_FAM_V4 ? cfg->v4_prefix : cfg->v6_prefix;
	/* 0 (unset) means per address: one bucket for the whole Internet
	 * would let a single flooder lock everybody out. */
	if (!plen || plen > max)
		plen = max;
	k.family = u->family;
	tw_up_mask(k.addr, u->saddr, plen);

	now = bpf_ktime_get_ns();
	v = bpf_map_lookup_elem(&tw1_hsrate, &k);
	if (!v) {
		struct tw_hs_val nv = { .last_ns = now, .tokens_milli = burst - 1000 };

		/* Losing a race to another CPU's insert just admits this one. */
		bpf_map_update_elem(&tw1_hsrate, &k, &nv, BPF_NOEXIST);
		return true;
	}

	tokens = v->tokens_milli;
	if (tokens > burst) /* hs_burst was lowered */
		tokens = burst;
	/* Another CPU may have stamped a later time than our now. */
	elapsed = now > v->last_ns ? now - v->last_ns : 0;
	/* burst <= 2^32 * 1000, so burst * 10^6 fits in 64 bits; below
	 * full_ns, elapsed * rate < burst * 10^6 does too. */
	full_ns = burst * 1000000 / cfg->hs_rate;
	if (elapsed >= full_ns) {
		tokens = burst;
		v->last_ns = now;
	} else {
		__u64 refill = elapsed * cfg->hs_rate / 1000000;

		/* Leave last_ns alone until at least a thousandth of a token
		 * has accrued, or a source sending faster than that would
		 * never see its bucket refill. */
		if (refill) {
			tokens += refill;
			if (tokens > burst)
				tokens = burst;
			v->last_ns = now;
		}
	}
	if (tokens < 1000) {
		v->tokens_milli = tokens;
		return false;
	}
	v->tokens_milli = tokens - 1000;
	return true;
}

SEC("xdp")
int tw_uplink(struct xdp_md *ctx)
{
	struct tw_up u = {};
	struct tw_vport_key vk = {};
	struct tw_vport_val *vp;
	int r;

	tw_cursor_xdp(&u.c, ctx, 0);
	u.len = u.c.data_end - u.c.data;
	r = tw_up_parse(&u);
	if (r == TW_UP_BAD) {
		tw_ucount(TW_U_MALFORMED, u.len);
		return XDP_PASS;
	}
	if (r == TW_UP_SKIP)
		goto pass;

	vk.proto = u.proto;
	vk.port = u.dport;
	vp = bpf_map_lookup_elem(&tw1_vports, &vk);
	if (!vp)
		goto pass;
	/* Bans cover every packet to the VPN port, not only handshakes: a
	 * banned source's established session ends here too. */
	if (tw_up_banned(&u)) {
		tw_ucount(TW_U_BANNED, u.len);
		return XDP_DROP;
	}
	r = tw_up_handshake(&u, vp->kind);
	/* A first fragment too short to show its VPN header takes a path MTU
	 * near the IPv4 minimum of 68: no real client sends one, and the
	 * daemon will see the reassembled datagram, so it pays like a
	 * handshake. */
	if (r < 0 && u.first_frag)
		r = 1;
	if (r < 0) {
		tw_ucount(TW_U_MALFORMED, u.len);
		return XDP_PASS;
	}
	if (r == 0)
		goto pass;
	if (!tw_up_admit(&u)) {
		tw_ucount(TW_U_RATELIMIT, u.len);
		return XDP_DROP;
	}
	tw_ucount(TW_U_HANDSHAKE, u.len);
pass:
	tw_ucount(TW_U_PASS, u.len);
	return XDP_PASS;
}
