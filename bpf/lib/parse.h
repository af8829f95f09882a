/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * Packet parsing for the tunnel programs. Headers are copied to the stack
 * with bpf_skb_load_bytes(): it works on non-linear skbs (GSO egress) and
 * keeps variable offsets (IPv4 options, IPv6 extension chains) simple for
 * the verifier. Every helper returns 0 or a negative enum tw_drop_reason.
 */
#ifndef TW_BPF_PARSE_H
#define TW_BPF_PARSE_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <tunwarden/abi.h>
#include "uapi.h"

/* Bound on the IPv6 extension header chain. Longer chains are malformed. */
#define TW_MAX_EXTHDRS 8

enum tw_frag {
	TW_FRAG_NONE = 0,
	TW_FRAG_FIRST = 1, /* offset 0, more fragments follow: ports are here */
	TW_FRAG_LATER = 2, /* offset > 0: no transport header */
};

/*
 * What the programs know about a packet. Only the head, up to bytes, is
 * zeroed before parsing (tw_pkt_init): the rest is written before it is
 * read, and the addresses only as far as the family has them (an IPv4
 * packet fills 4 of their 16 bytes). Zeroing all of it on every packet
 * was 5% of the fast path.
 */
struct tw_pkt {
	__u8 family;
	__u8 proto;
	__u8 frag; /* enum tw_frag */
	__u8 has_ports;
	union {
		struct {
			__u16 sport; /* network order; ICMP echo: identifier */
			__u16 dport;
		};
		/* both, as the transport header holds them: written with one
		 * store, so the connection key reads them back as one word */
		__u32 ports;
	};
	/* ICMP errors (unreachable, fragmentation needed / packet too big,
	 * time exceeded, parameter problem): the header of the packet they are
	 * about, so they can pass with the connection it belongs to. */
	__u8 related; /* an ICMP error whose quoted header parsed */
	/* Fragments: the protocol every fragment of the datagram names (IPv6:
	 * the fragment header's next header, which is not the transport
	 * protocol when extension headers follow the fragment header). */
	__u8 frag_proto;
	__u8 in_proto;
	__u8 pad;
	__u32 in_ports; /* source and destination port, as the quoted header holds them */
	/* not zeroed from here on */
	__u32 bytes; /* inner IP bytes this skb stands for (GSO: all segments) */
	__u32 pkts; /* 1, or the number of GSO segments */
	__u8 saddr[16];
	__u8 daddr[16];
	__u8 in_saddr[16];
	__u8 in_daddr[16];
};
_Static_assert(__builtin_offsetof(struct tw_pkt, bytes) == 16, "tw_pkt head");

static __always_inline void tw_pkt_init(struct tw_pkt *p)
{
	__builtin_memset(p, 0, __builtin_offsetof(struct tw_pkt, bytes));
}

/* Headers never start beyond this offset (L2 + IPv4 options or a bounded
 * IPv6 extension chain); the bound lets the verifier check direct access. */
#define TW_MAX_HDR_OFF 1024

/*
 * Copy @len bytes at @off to @to: straight from the packet when they are in
 * its linear part (the common case, and no helper call), else through
 * bpf_skb_load_bytes(), which also reaches paged data (GSO egress).
 */
static __always_inline int tw_load(struct __sk_buff *skb, __u32 off, void *to, const __u32 len)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;

	if (off <= TW_MAX_HDR_OFF && data + off + len <= end) {
		/* Word loads, not byte loads: clang assumes a void * source is
		 * byte-aligned and copies byte by byte (three instructions a
		 * byte). The kernel accepts unaligned packet loads wherever it
		 * has efficient unaligned access (x86, arm64; only
		 * BPF_F_STRICT_ALIGNMENT, which tunwarden never sets, refuses). */
		__builtin_memcpy(to, __builtin_assume_aligned(data + off, 8), len);
		return 0;
	}
	return bpf_skb_load_bytes(skb, off, to, len);
}

static __always_inline bool tw_proto_has_ports(__u8 proto)
{
	return proto == IPPROTO_TCP_ || proto == IPPROTO_UDP_ || proto == IPPROTO_SCTP_ ||
	       proto == IPPROTO_UDPLITE_;
}

/*
 * The packet an ICMP error quotes: its IP header and the first 8 bytes
 * after it (the ports). A quote that does not parse leaves the error
 * unrelated (the allowlist decides); it is never a drop reason of its own.
 * IPv6 quotes with extension headers are not followed.
 */
static __always_inline void tw_parse_quoted(struct __sk_buff *skb, struct tw_pkt *p, __u32 off,
					    __u32 end)
{
	__u8 ports[4];
	__u32 l4;

	if (p->family == TW_FAM_V4) {
		struct iphdr ip;

		if (off + sizeof(ip) > end || tw_load(skb, off, &ip, sizeof(ip)) ||
		    ip.version != 4 || ip.ihl < 5 || (bpf_ntohs(ip.frag_off) & 0x1fff))
			return;
		p->in_proto = ip.protocol;
		__builtin_memcpy(p->in_saddr, &ip.saddr, 4);
		__builtin_memcpy(p->in_daddr, &ip.daddr, 4);
		l4 = off + ip.ihl * 4;
	} else {
		struct ipv6hdr ip6;

		if (off + sizeof(ip6) > end || tw_load(skb, off, &ip6, sizeof(ip6)) ||
		    ip6.version != 6)
			return;
		p->in_proto = ip6.nexthdr;
		__builtin_memcpy(p->in_saddr, &ip6.saddr, 16);
		__builtin_memcpy(p->in_daddr, &ip6.daddr, 16);
		l4 = off + sizeof(ip6);
	}
	if (tw_proto_has_ports(p->in_proto)) {
		if (l4 + 4 > end || tw_load(skb, l4, ports, 4))
			return;
		__builtin_memcpy(&p->in_ports, ports, 4);
	} else if (p->in_proto == IPPROTO_ICMP_ || p->in_proto == IPPROTO_ICMPV6_) {
		__u8 icmp[8];

		/* a quoted echo request: its identifier is the connection's port */
		if (l4 + 8 > end || tw_load(skb, l4, icmp, 8))
			return;
		__u16 id;

		__builtin_memcpy(&id, &icmp[4], 2);
		p->in_ports = (__u32)id << 16 | id;
	}
	p->related = 1;
}

/*
 * Transport header at @off, which must end within @end (the IP datagram's
 * end). Fills ports and the transport header length.
 */
static __always_inline int tw_parse_l4(struct __sk_buff *skb, struct tw_pkt *p, __u32 off,
				       __u32 end, __u32 *l4len)
{
	__u8 b[16];

	*l4len = 0;
	if (tw_proto_has_ports(p->proto)) {
		__u32 min = p->proto == IPPROTO_TCP_ ? 20 : (p->proto == IPPROTO_SCTP_ ? 12 : 8);

		if (off + min > end)
			return -TW_DROP_MALFORMED;
		/* Only the bytes every ported header has: a 16-byte load
		 * fails on a UDP datagram with under 8 bytes of payload. */
		if (tw_load(skb, off, b, 8))
			return -TW_DROP_MALFORMED;
		if (p->proto == IPPROTO_TCP_ && tw_load(skb, off + 12, &b[12], 1))
			return -TW_DROP_MALFORMED;
		__builtin_memcpy(&p->ports, b, 4);
		p->has_ports = 1;
		if (p->proto == IPPROTO_TCP_) {
			__u32 doff = (b[12] >> 4) * 4;

			if (doff < 20 || off + doff > end)
				return -TW_DROP_MALFORMED;
			*l4len = doff;
		} else {
			*l4len = min;
		}
		return 0;
	}
	if (p->proto == IPPROTO_ICMP_ || p->proto == IPPROTO_ICMPV6_) {
		if (off + 8 > end)
			return -TW_DROP_MALFORMED;
		if (tw_load(skb, off, b, 8))
			return -TW_DROP_MALFORMED;
		/* Echo request/reply: the identifier pairs request and reply. */
		if ((p->proto == IPPROTO_ICMP_ && (b[0] == 8 || b[0] == 0)) ||
		    (p->proto == IPPROTO_ICMPV6_ && (b[0] == 128 || b[0] == 129))) {
			__u16 id;

			__builtin_memcpy(&id, &b[4], 2);
			p->ports = (__u32)id << 16 | id;
		}
		*l4len = 8;
		if ((p->proto == IPPROTO_ICMP_ && (b[0] == 3 || b[0] == 11 || b[0] == 12)) ||
		    (p->proto == IPPROTO_ICMPV6_ && b[0] >= 1 && b[0] <= 4))
			tw_parse_quoted(skb, p, off + 8, end);
	}
	return 0;
}

/* GSO super-packets count their real segments, from gso_size (gso_segs is
 * not kept up to date on every path). */
static __always_inline void tw_account_gso(struct __sk_buff *skb, struct tw_pkt *p, __u32 l3_off,
					   __u32 l3_hdr, __u32 l4len)
{
	__u32 gso = skb->gso_size;
	__u32 total = skb->len - l3_off;
	__u32 hdr = l3_hdr + l4len;
	__u32 segs;

	if (!gso || total <= hdr)
		return;
	segs = (total - hdr + gso - 1) / gso;
	if (segs <= 1)
		return;
	p->pkts = segs;
	p->bytes = total + (segs - 1) * hdr;
}

static __always_inline int tw_parse_v4(struct __sk_buff *skb, struct tw_pkt *p, __u32 off)
{
	struct iphdr ip;
	__u32 ihl, tot, l4len;
	__u16 frag;
	int err;

	if (tw_load(skb, off, &ip, sizeof(ip)))
		return -TW_DROP_MALFORMED;
	if (ip.version != 4 || ip.ihl < 5)
		return -TW_DROP_MALFORMED;
	ihl = ip.ihl * 4;
	tot = bpf_ntohs(ip.tot_len);
	/* BIG TCP IPv4 GSO packets carry tot_len 0: the skb length is the truth. */
	if (tot == 0 && skb->gso_size)
		tot = skb->len - off;
	if (tot < ihl || off + tot > skb->len)
		return -TW_DROP_MALFORMED;

	p->family = TW_FAM_V4;
	p->proto = ip.protocol;
	__builtin_memcpy(p->saddr, &ip.saddr, 4);
	__builtin_memcpy(p->daddr, &ip.daddr, 4);
	p->bytes = tot;
	p->pkts = 1;
	p->frag_proto = ip.protocol;

	frag = bpf_ntohs(ip.frag_off);
	if (frag & 0x1fff) {
		p->frag = TW_FRAG_LATER;
		return 0;
	}
	if (frag & 0x2000)
		p->frag = TW_FRAG_FIRST;

	err = tw_parse_l4(skb, p, off + ihl, off + tot, &l4len);
	if (err)
		return err;
	tw_account_gso(skb, p, off, ihl, l4len);
	return 0;
}

static __always_inline bool tw_is_exthdr(__u8 nh)
{
	return nh == NEXTHDR_HOP || nh == NEXTHDR_ROUTING || nh == NEXTHDR_DEST ||
	       nh == NEXTHDR_FRAGMENT || nh == NEXTHDR_AUTH;
}

static __always_inline int tw_parse_v6(struct __sk_buff *skb, struct tw_pkt *p, __u32 off)
{
	struct ipv6hdr ip6;
	__u32 cur, end, l4len;
	__u8 nh;
	int i, err;

	if (tw_load(skb, off, &ip6, sizeof(ip6)))
		return -TW_DROP_MALFORMED;
	if (ip6.version != 6)
		return -TW_DROP_MALFORMED;
	end = bpf_ntohs(ip6.payload_len);
	if (end == 0 && skb->gso_size) /* BIG TCP: jumbo payload */
		end = skb->len - off - sizeof(ip6);
	end += off + sizeof(ip6);
	if (end > skb->len)
		return -TW_DROP_MALFORMED;

	p->family = TW_FAM_V6;
	__builtin_memcpy(p->saddr, &ip6.saddr, 16);
	__builtin_memcpy(p->daddr, &ip6.daddr, 16);
	p->bytes = end - off;
	p->pkts = 1;

	nh = ip6.nexthdr;
	cur = off + sizeof(ip6);
	for (i = 0; i < TW_MAX_EXTHDRS; i++) {
		__u8 eh[8];

		if (!tw_is_exthdr(nh))
			break;
		if (cur + 8 > end || tw_load(skb, cur, eh, 8))
			return -TW_DROP_MALFORMED;
		if (nh == NEXTHDR_FRAGMENT) {
			__u16 fo = ((__u16)eh[2] << 8) | eh[3];

			nh = eh[0];
			p->frag_proto = nh;
			cur += 8;
			if (fo & 0xfff8) {
				p->proto = nh;
				p->frag = TW_FRAG_LATER;
				return 0;
			}
			if (fo & 1)
				p->frag = TW_FRAG_FIRST;
			continue;
		}
		if (nh == NEXTHDR_AUTH)
			cur += ((__u32)eh[1] + 2) * 4;
		else
			cur += ((__u32)eh[1] + 1) * 8;
		nh = eh[0];
	}
	if (tw_is_exthdr(nh) || cur > end)
		return -TW_DROP_MALFORMED;
	p->proto = nh;

	err = tw_parse_l4(skb, p, cur, end, &l4len);
	if (err)
		return err;
	tw_account_gso(skb, p, off, cur - off, l4len);
	return 0;
}

#endif /* TW_BPF_PARSE_H */
