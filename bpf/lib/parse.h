/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * Packet parsing for the tunnel programs, with the header cursor of
 * cursor.h (which the uplink program parses with too). Every helper
 * returns 0 or a negative enum tw_drop_reason.
 */
#ifndef TW_BPF_PARSE_H
#define TW_BPF_PARSE_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <tunwarden/abi.h>
#include "uapi.h"
#include "cursor.h"

/* Bound on the IPv6 extension header chain. Longer chains are malformed. */
#define TW_MAX_EXTHDRS 8

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
static __always_inline void tw_parse_quoted(const struct tw_cursor *c, struct tw_pkt *p, __u32 off)
{
	__u32 end = c->end;
	__u8 ports[4];
	__u32 l4;

	if (p->family == TW_FAM_V4) {
		struct iphdr ip;

		if (off + sizeof(ip) > end || tw_cursor_load(c, off, &ip, sizeof(ip)) ||
		    ip.version != 4 || ip.ihl < 5 || (bpf_ntohs(ip.frag_off) & 0x1fff))
			return;
		p->in_proto = ip.protocol;
		__builtin_memcpy(p->in_saddr, &ip.saddr, 4);
		__builtin_memcpy(p->in_daddr, &ip.daddr, 4);
		l4 = off + ip.ihl * 4;
	} else {
		struct ipv6hdr ip6;

		if (off + sizeof(ip6) > end || tw_cursor_load(c, off, &ip6, sizeof(ip6)) ||
		    ip6.version != 6)
			return;
		p->in_proto = ip6.nexthdr;
		__builtin_memcpy(p->in_saddr, &ip6.saddr, 16);
		__builtin_memcpy(p->in_daddr, &ip6.daddr, 16);
		l4 = off + sizeof(ip6);
	}
	if (tw_proto_has_ports(p->in_proto)) {
		if (l4 + 4 > end || tw_cursor_load(c, l4, ports, 4))
			return;
		__builtin_memcpy(&p->in_ports, ports, 4);
	} else if (p->in_proto == IPPROTO_ICMP_ || p->in_proto == IPPROTO_ICMPV6_) {
		__u8 icmp[8];

		/* a quoted echo request: its identifier is the connection's port */
		if (l4 + 8 > end || tw_cursor_load(c, l4, icmp, 8))
			return;
		__u16 id;

		__builtin_memcpy(&id, &icmp[4], 2);
		p->in_ports = (__u32)id << 16 | id;
	}
	p->related = 1;
}

/*
 * Transport header at the cursor, which must end within the IP datagram.
 * Fills ports and the transport header length.
 */
static __always_inline int tw_parse_l4(const struct tw_cursor *c, struct tw_pkt *p, __u32 *l4len)
{
	__u32 off = c->off, end = c->end;
	__u8 b[16];

	*l4len = 0;
	if (tw_proto_has_ports(p->proto)) {
		__u32 min = p->proto == IPPROTO_TCP_ ? 20 : (p->proto == IPPROTO_SCTP_ ? 12 : 8);

		if (off + min > end)
			return -TW_DROP_MALFORMED;
		/* Only the bytes every ported header has: a 16-byte load
		 * fails on a UDP datagram with under 8 bytes of payload. */
		if (tw_cursor_load(c, off, b, 8))
			return -TW_DROP_MALFORMED;
		if (p->proto == IPPROTO_TCP_ && tw_cursor_load(c, off + 12, &b[12], 1))
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
		if (tw_cursor_load(c, off, b, 8))
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
			tw_parse_quoted(c, p, off + 8);
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

/* IPv4 at the cursor; leaves it at the transport header. */
static __always_inline int tw_parse_v4(struct tw_cursor *c, struct tw_pkt *p)
{
	struct __sk_buff *skb = c->ctx;
	__u32 off = c->off, ihl, tot, l4len;
	struct iphdr ip;
	__u16 frag;
	int err;

	if (tw_cursor_load(c, off, &ip, sizeof(ip)))
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
	if (frag & IP_OFFSET_) {
		p->frag = TW_FRAG_LATER;
		return 0;
	}
	if (frag & IP_MF_)
		p->frag = TW_FRAG_FIRST;

	c->off = off + ihl;
	c->end = off + tot;
	err = tw_parse_l4(c, p, &l4len);
	if (err)
		return err;
	tw_account_gso(skb, p, off, ihl, l4len);
	return 0;
}

/* IPv6 at the cursor; leaves it at the transport header. */
static __always_inline int tw_parse_v6(struct tw_cursor *c, struct tw_pkt *p)
{
	struct __sk_buff *skb = c->ctx;
	struct tw_ip6_chain ch = {};
	__u32 off = c->off, end, l4len;
	struct ipv6hdr ip6;
	int err;

	if (tw_cursor_load(c, off, &ip6, sizeof(ip6)))
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

	c->off = off + sizeof(ip6);
	c->end = end;
	ch.nh = ip6.nexthdr;
	err = tw_ip6_walk(c, &ch, TW_MAX_EXTHDRS, true);
	p->frag = ch.frag;
	p->frag_proto = ch.frag_proto;
	if (err > 0) {
		p->proto = ch.nh;
		return 0; /* a later fragment */
	}
	if (err || tw_ip6_is_exthdr(ch.nh, true))
		return -TW_DROP_MALFORMED;
	p->proto = ch.nh;

	err = tw_parse_l4(c, p, &l4len);
	if (err)
		return err;
	tw_account_gso(skb, p, off, c->off - off, l4len);
	return 0;
}

#endif /* TW_BPF_PARSE_H */
