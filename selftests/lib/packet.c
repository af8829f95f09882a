// SPDX-License-Identifier: GPL-2.0-only
/* Packet builder for tests; see packet.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include "packet.h"

#define PKT_IP4_HLEN 20
#define PKT_IP6_HLEN 40

static int pkt_fail(struct pkt *p, int err)
{
	if (!p->err)
		p->err = err;
	return p->err;
}

/* Room for @n more bytes, and no earlier error? Returns a pointer to them. */
static uint8_t *pkt_put(struct pkt *p, size_t n)
{
	uint8_t *b;

	if (p->err)
		return NULL;
	if (p->finished) {
		pkt_fail(p, -EALREADY);
		return NULL;
	}
	if (n > PKT_MAX - p->len) {
		pkt_fail(p, -E2BIG);
		return NULL;
	}
	b = p->data + p->len;
	memset(b, 0, n);
	p->len += n;
	return b;
}

static void put16(uint8_t *b, uint16_t v)
{
	b[0] = v >> 8;
	b[1] = v & 0xff;
}

static void put32(uint8_t *b, uint32_t v)
{
	put16(b, v >> 16);
	put16(b + 2, v & 0xffff);
}

static uint16_t get16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

/* Hand the protocol number of what is appended now to the header before. */
static int pkt_chain(struct pkt *p, uint8_t proto)
{
	if (p->err)
		return p->err;
	if (!p->family)
		return pkt_fail(p, -EPROTO);
	if (p->nh_off)
		p->data[p->nh_off] = proto;
	p->nh_off = 0;
	return 0;
}

void pkt_init(struct pkt *p)
{
	memset(p, 0, sizeof(*p));
}

int pkt_eth(struct pkt *p, uint16_t ethertype)
{
	static const uint8_t dst[6] = { 0x02, 0, 0, 0, 0, 0x02 };
	static const uint8_t src[6] = { 0x02, 0, 0, 0, 0, 0x01 };
	uint8_t *b;

	if (p->len)
		return pkt_fail(p, -EINVAL);
	b = pkt_put(p, PKT_ETH_LEN);
	if (!b)
		return p->err;
	memcpy(b, dst, 6);
	memcpy(b + 6, src, 6);
	put16(b + 12, ethertype);
	p->l3_off = PKT_ETH_LEN;
	return 0;
}

int pkt_ip4(struct pkt *p, const struct pkt_ip4_hdr *h)
{
	uint32_t off = p->len, hl;
	uint8_t *b;

	if (p->err)
		return p->err;
	if (p->family || h->optlen % 4 || h->optlen > 40)
		return pkt_fail(p, -EINVAL);
	hl = PKT_IP4_HLEN + h->optlen;
	b = pkt_put(p, hl);
	if (!b)
		return p->err;
	b[0] = 0x40 | (hl / 4);
	put16(b + 4, h->id);
	put16(b + 6, h->frag_off);
	b[8] = h->ttl ? h->ttl : 64;
	b[9] = h->proto;
	if (inet_pton(AF_INET, h->src, b + 12) != 1 || inet_pton(AF_INET, h->dst, b + 16) != 1)
		return pkt_fail(p, -EINVAL);
	/* NOPs ending in End of Option List: valid options of any length */
	if (h->optlen) {
		memset(b + PKT_IP4_HLEN, 1, h->optlen);
		b[hl - 1] = 0;
	}
	p->family = 4;
	p->nh_off = h->proto ? 0 : off + 9;
	p->hdr_len = hl;
	p->frag = h->frag_off & (PKT_MF | 0x1fff);
	return 0;
}

int pkt_ip6(struct pkt *p, const char *src, const char *dst)
{
	uint32_t off = p->len;
	uint8_t *b;

	if (p->err)
		return p->err;
	if (p->family)
		return pkt_fail(p, -EINVAL);
	b = pkt_put(p, PKT_IP6_HLEN);
	if (!b)
		return p->err;
	b[0] = 0x60;
	b[6] = PKT_EH_NONE; /* until something follows */
	b[7] = 64;
	if (inet_pton(AF_INET6, src, b + 8) != 1 || inet_pton(AF_INET6, dst, b + 24) != 1)
		return pkt_fail(p, -EINVAL);
	p->family = 6;
	p->nh_off = off + 6;
	p->hdr_len = PKT_IP6_HLEN;
	return 0;
}

static void pad_options(uint8_t *b, uint32_t n)
{
	while (n) {
		uint32_t d;

		if (n == 1) {
			b[0] = 0; /* Pad1 */
			return;
		}
		d = n - 2 > 255 ? 255 : n - 2;
		if (n - 2 - d == 1)
			d--; /* never leave a single byte behind a full PadN */
		b[0] = 1; /* PadN */
		b[1] = d;
		b += 2 + d;
		n -= 2 + d;
	}
}

int pkt_ip6_ext(struct pkt *p, uint8_t type, uint16_t len)
{
	uint32_t off = p->len;
	uint8_t *b;

	if (p->family != 6)
		return pkt_fail(p, -EPROTO);
	if (type == PKT_EH_AUTH ? (len < 12 || len % 4) : (len < 8 || len % 8))
		return pkt_fail(p, -EINVAL);
	if (type != PKT_EH_HOP && type != PKT_EH_ROUTING && type != PKT_EH_DEST &&
	    type != PKT_EH_AUTH)
		return pkt_fail(p, -EINVAL);
	if (pkt_chain(p, type))
		return p->err;
	b = pkt_put(p, len);
	if (!b)
		return p->err;
	b[0] = PKT_EH_NONE;
	if (type == PKT_EH_AUTH) {
		b[1] = len / 4 - 2;
		put32(b + 4, 0x100); /* SPI; the ICV stays zero */
	} else {
		b[1] = len / 8 - 1;
		/* Routing: type 0 with no segments left is skipped by every
		 * receiver. Options headers: PadN options covering the rest. */
		if (type != PKT_EH_ROUTING)
			pad_options(b + 2, len - 2);
	}
	p->nh_off = off;
	p->hdr_len += len;
	return 0;
}

int pkt_ip6_frag(struct pkt *p, uint16_t offset, bool more, uint32_t id)
{
	uint32_t off = p->len;
	uint8_t *b;

	if (p->family != 6)
		return pkt_fail(p, -EPROTO);
	if (offset % 8)
		return pkt_fail(p, -EINVAL);
	if (pkt_chain(p, PKT_EH_FRAG))
		return p->err;
	b = pkt_put(p, 8);
	if (!b)
		return p->err;
	b[0] = PKT_EH_NONE;
	put16(b + 2, offset | (more ? 1 : 0));
	put32(b + 4, id);
	p->nh_off = off;
	p->hdr_len += 8;
	p->frag = p->frag || offset || more;
	return 0;
}

static uint8_t *pkt_l4(struct pkt *p, uint8_t proto, uint32_t hlen)
{
	uint32_t off = p->len;
	uint8_t *b;

	if (pkt_chain(p, proto))
		return NULL;
	b = pkt_put(p, hlen);
	if (!b)
		return NULL;
	p->l4_off = off;
	p->l4_proto = proto;
	p->hdr_len += hlen;
	return b;
}

int pkt_tcp(struct pkt *p, uint16_t sport, uint16_t dport, uint8_t flags, uint8_t doff_words)
{
	uint32_t hl;
	uint8_t *b;

	if (!doff_words)
		doff_words = 5;
	if (doff_words < 5 || doff_words > 15)
		return pkt_fail(p, -EINVAL);
	hl = doff_words * 4;
	b = pkt_l4(p, IPPROTO_TCP, hl);
	if (!b)
		return p->err;
	put16(b, sport);
	put16(b + 2, dport);
	put32(b + 4, 0x1000);
	b[12] = doff_words << 4;
	b[13] = flags;
	put16(b + 14, 0xffff);
	if (hl > 20) {
		memset(b + 20, 1, hl - 20); /* NOPs, then End of Option List */
		b[hl - 1] = 0;
	}
	return 0;
}

int pkt_tcp_seq(struct pkt *p, uint32_t seq, uint32_t ack)
{
	if (p->err)
		return p->err;
	if (!p->l4_off || p->l4_proto != IPPROTO_TCP || p->finished)
		return pkt_fail(p, -EINVAL);
	put32(p->data + p->l4_off + 4, seq);
	put32(p->data + p->l4_off + 8, ack);
	return 0;
}

int pkt_udp(struct pkt *p, uint16_t sport, uint16_t dport)
{
	uint8_t *b = pkt_l4(p, IPPROTO_UDP, 8);

	if (!b)
		return p->err;
	put16(b, sport);
	put16(b + 2, dport);
	return 0;
}

int pkt_icmp(struct pkt *p, uint8_t type, uint8_t code, uint16_t id, uint16_t seq)
{
	uint8_t *b = pkt_l4(p, p->family == 6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP, 8);

	if (!b)
		return p->err;
	b[0] = type;
	b[1] = code;
	put16(b + 4, id);
	put16(b + 6, seq);
	return 0;
}

int pkt_proto(struct pkt *p, uint8_t proto)
{
	return pkt_chain(p, proto);
}

int pkt_payload(struct pkt *p, size_t n)
{
	uint8_t *b = pkt_put(p, n);
	size_t i;

	if (!b)
		return p->err;
	for (i = 0; i < n; i++)
		b[i] = 'a' + i % 26;
	return 0;
}

int pkt_bytes(struct pkt *p, const void *src, size_t n)
{
	uint8_t *b = pkt_put(p, n);

	if (!b)
		return p->err;
	memcpy(b, src, n);
	return 0;
}

int pkt_garbage(struct pkt *p, size_t n, uint32_t seed)
{
	uint8_t *b = pkt_put(p, n);
	uint32_t x = seed ? seed : 0x9e3779b9;
	size_t i;

	if (!b)
		return p->err;
	for (i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		b[i] = x >> 24;
	}
	return 0;
}

int pkt_arp_request(struct pkt *p, const char *sender, const char *target)
{
	uint8_t *b;

	if (p->family)
		return pkt_fail(p, -EINVAL);
	b = pkt_put(p, 28);
	if (!b)
		return p->err;
	put16(b, 1); /* Ethernet */
	put16(b + 2, PKT_ETH_IP);
	b[4] = 6;
	b[5] = 4;
	put16(b + 6, 1); /* request */
	b[8] = 0x02;
	b[13] = 0x01;
	if (inet_pton(AF_INET, sender, b + 14) != 1 || inet_pton(AF_INET, target, b + 24) != 1)
		return pkt_fail(p, -EINVAL);
	return 0;
}

static uint32_t csum_add(uint32_t sum, const uint8_t *b, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		sum += get16(b + i);
	if (n & 1)
		sum += b[n - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void ip4_csum(struct pkt *p)
{
	uint8_t *ip = p->data + p->l3_off;
	uint32_t hl = (ip[0] & 0xf) * 4;

	if (hl < PKT_IP4_HLEN)
		hl = PKT_IP4_HLEN;
	if (p->l3_off + hl > p->len)
		return;
	put16(ip + 10, 0);
	put16(ip + 10, csum_fold(csum_add(0, ip, hl)));
}

static void l4_csum(struct pkt *p)
{
	uint8_t *ip = p->data + p->l3_off, *l4 = p->data + p->l4_off, pseudo[8];
	uint32_t l4len = p->len - p->l4_off, sum = 0;
	uint16_t c;
	int at;

	switch (p->l4_proto) {
	case IPPROTO_TCP:
		at = 16;
		break;
	case IPPROTO_UDP:
		at = 6;
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		at = 2;
		break;
	default:
		return;
	}
	put16(l4 + at, 0);
	if (p->l4_proto != IPPROTO_ICMP) {
		/* pseudo-header: addresses, then length and protocol */
		if (p->family == 4)
			sum = csum_add(sum, ip + 12, 8);
		else
			sum = csum_add(sum, ip + 8, 32);
		put32(pseudo, l4len);
		put32(pseudo + 4, p->l4_proto);
		sum = csum_add(sum, pseudo, 8);
	}
	c = csum_fold(csum_add(sum, l4, l4len));
	if (c == 0 && p->l4_proto == IPPROTO_UDP)
		c = 0xffff; /* zero means "no checksum" in UDP */
	put16(l4 + at, c);
}

int pkt_finish(struct pkt *p)
{
	uint8_t *ip = p->data + p->l3_off;

	if (p->err)
		return p->err;
	if (p->finished)
		return pkt_fail(p, -EALREADY);
	p->finished = true;
	if (!p->family)
		return 0;
	if (p->family == 4) {
		if (p->len - p->l3_off > 0xffff)
			return pkt_fail(p, -E2BIG);
		put16(ip + 2, p->len - p->l3_off);
		ip4_csum(p);
	} else {
		put16(ip + 4, p->len - p->l3_off - PKT_IP6_HLEN);
	}
	if (p->l4_off && p->l4_proto == IPPROTO_UDP)
		put16(p->data + p->l4_off + 4, p->len - p->l4_off);
	/* A fragment's transport checksum covers the whole datagram. */
	if (p->l4_off && !p->frag)
		l4_csum(p);
	return 0;
}

int pkt_truncate(struct pkt *p, uint32_t l3_bytes, bool fix_len)
{
	uint8_t *ip = p->data + p->l3_off;

	if (p->err)
		return p->err;
	if (!p->finished || l3_bytes > p->len - p->l3_off)
		return pkt_fail(p, -EINVAL);
	p->len = p->l3_off + l3_bytes;
	if (!fix_len)
		return 0;
	if (p->family == 4 && l3_bytes >= 4) {
		put16(ip + 2, l3_bytes);
		ip4_csum(p);
	} else if (p->family == 6 && l3_bytes >= PKT_IP6_HLEN) {
		put16(ip + 4, l3_bytes - PKT_IP6_HLEN);
	}
	return 0;
}

int pkt_set_ihl(struct pkt *p, uint8_t ihl)
{
	if (p->err)
		return p->err;
	if (p->family != 4 || ihl > 15)
		return pkt_fail(p, -EINVAL);
	p->data[p->l3_off] = 0x40 | ihl;
	ip4_csum(p);
	return 0;
}

int pkt_set_version(struct pkt *p, uint8_t version)
{
	if (p->err)
		return p->err;
	if (!p->family || version > 15)
		return pkt_fail(p, -EINVAL);
	p->data[p->l3_off] = (p->data[p->l3_off] & 0x0f) | version << 4;
	return 0;
}

int pkt_adjust_ip_len(struct pkt *p, int delta)
{
	uint8_t *ip = p->data + p->l3_off;
	uint32_t at = p->family == 4 ? 2 : 4;
	int v;

	if (p->err)
		return p->err;
	if (!p->family || p->l3_off + at + 2 > p->len)
		return pkt_fail(p, -EINVAL);
	v = get16(ip + at) + delta;
	if (v < 0 || v > 0xffff)
		return pkt_fail(p, -ERANGE);
	put16(ip + at, v);
	if (p->family == 4)
		ip4_csum(p);
	return 0;
}

int pkt_set_tcp_doff(struct pkt *p, uint8_t words)
{
	uint8_t *tcp = p->data + p->l4_off;

	if (p->err)
		return p->err;
	if (!p->finished || !p->l4_off || p->l4_proto != IPPROTO_TCP || words > 15 ||
	    p->l4_off + 20 > p->len)
		return pkt_fail(p, -EINVAL);
	tcp[12] = (tcp[12] & 0x0f) | words << 4;
	if (!p->frag)
		l4_csum(p);
	return 0;
}

int pkt_pad(struct pkt *p, uint32_t frame_len)
{
	if (p->err)
		return p->err;
	if (!p->finished)
		return pkt_fail(p, -EINVAL);
	if (frame_len > PKT_MAX)
		return pkt_fail(p, -E2BIG);
	if (frame_len > p->len) {
		memset(p->data + p->len, 0, frame_len - p->len);
		p->len = frame_len;
	}
	return 0;
}

uint32_t pkt_ip_len(const struct pkt *p)
{
	const uint8_t *ip = p->data + p->l3_off;

	if (p->family == 4 && p->l3_off + 4 <= p->len)
		return get16(ip + 2);
	if (p->family == 6 && p->l3_off + 6 <= p->len)
		return PKT_IP6_HLEN + get16(ip + 4);
	return 0;
}

/* An ICMP error quoting the packet s->quote describes. */
static int pkt_build_icmp_error(struct pkt *p, const struct pkt_spec *s)
{
	struct pkt_spec qs = *s->quote;
	uint16_t mtu = 0;
	struct pkt *q;
	uint32_t n;

	if (p->err)
		return p->err;
	q = malloc(sizeof(*q));
	if (!q)
		return pkt_fail(p, -ENOMEM);
	qs.no_eth = true;
	if (pkt_build(q, &qs)) {
		free(q);
		return pkt_fail(p, -EINVAL);
	}
	if (p->family == 4 && s->icmp_type == 3 && s->icmp_code == 4)
		mtu = 1400; /* next-hop MTU */
	else if (p->family == 6 && s->icmp_type == 2)
		mtu = 1280;
	n = s->quote_len;
	if (!n)
		n = qs.family == 4 ? (uint32_t)(q->data[0] & 0xf) * 4 + 8 : q->len;
	if (n > q->len)
		n = q->len;
	pkt_icmp(p, s->icmp_type, s->icmp_code, 0, mtu);
	pkt_bytes(p, q->data, n);
	free(q);
	return p->err;
}

static int pkt_build_l4(struct pkt *p, const struct pkt_spec *s)
{
	uint8_t type;

	switch (s->proto) {
	case IPPROTO_TCP:
		/* SYN opens, PSH|ACK carries data: what a real flow looks like */
		pkt_tcp(p, s->sport, s->dport, s->tcp_flags ?: (s->payload ? 0x18 : 0x02),
			s->tcp_doff);
		if (s->tcp_seq || s->tcp_ack)
			pkt_tcp_seq(p, s->tcp_seq ?: 0x1000, s->tcp_ack);
		break;
	case IPPROTO_UDP:
		pkt_udp(p, s->sport, s->dport);
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		if (s->quote) {
			pkt_build_icmp_error(p, s);
			break;
		}
		if (s->icmp == PKT_UNREACH)
			type = p->family == 6 ? 1 : 3;
		else if (s->icmp == PKT_ECHO_REPLY)
			type = p->family == 6 ? 129 : 0;
		else
			type = p->family == 6 ? 128 : 8;
		pkt_icmp(p, type, 0, s->sport, 1);
		break;
	default:
		pkt_proto(p, s->proto);
		break;
	}
	return s->payload_data ? pkt_bytes(p, s->payload_data, s->payload) :
				 pkt_payload(p, s->payload);
}

int pkt_build(struct pkt *p, const struct pkt_spec *s)
{
	uint16_t et = s->ethertype;
	bool later = false;
	int i;

	pkt_init(p);
	if (!et && !s->family && !s->no_eth)
		return pkt_fail(p, -EINVAL); /* a non-IP frame needs its ethertype */
	if (!et)
		et = s->family == 4 ? PKT_ETH_IP : PKT_ETH_IPV6;
	if (!s->no_eth)
		pkt_eth(p, et);

	if (s->family == 0) {
		if (et == PKT_ETH_ARP && !s->payload)
			pkt_arp_request(p, s->src ? s->src : "192.0.2.1",
					s->dst ? s->dst : "192.0.2.2");
		else
			pkt_garbage(p, s->payload, s->seed);
		if (!p->err)
			p->finished = true;
		return p->err;
	}

	if (s->family == 4) {
		struct pkt_ip4_hdr h = {
			.src = s->src,
			.dst = s->dst,
			.id = s->ip_id,
			.frag_off = s->ip4_frag,
			.optlen = s->ip4_optlen,
			.ttl = s->ttl,
		};

		later = s->ip4_frag & 0x1fff;
		pkt_ip4(p, &h);
	} else if (s->family == 6) {
		if (!pkt_ip6(p, s->src, s->dst) && s->ttl)
			p->data[p->l3_off + 7] = s->ttl;
		for (i = 0; i < s->n_ext && i < (int)sizeof(s->ext); i++) {
			uint8_t t = s->ext[i];

			if (t == PKT_EH_FRAG) {
				pkt_ip6_frag(p, s->frag6_off, s->frag6_more, s->ip_id);
				later = later || s->frag6_off;
			} else {
				pkt_ip6_ext(p, t,
					    s->ext_len ? s->ext_len : (t == PKT_EH_AUTH ? 12 : 8));
			}
		}
	} else {
		return pkt_fail(p, -EAFNOSUPPORT);
	}

	if (later) {
		/* a later fragment carries data only */
		pkt_proto(p, s->proto);
		if (s->payload_data)
			pkt_bytes(p, s->payload_data, s->payload);
		else
			pkt_payload(p, s->payload);
	} else {
		pkt_build_l4(p, s);
	}
	pkt_finish(p);

	/* before the cut: the checksum covers the whole segment */
	if (s->tcp_doff_field)
		pkt_set_tcp_doff(p, s->tcp_doff_field);
	if (s->keep)
		pkt_truncate(p, s->keep - 1, s->keep_fix_len);
	if (s->ihl)
		pkt_set_ihl(p, s->ihl);
	if (s->version)
		pkt_set_version(p, s->version);
	if (s->len_delta)
		pkt_adjust_ip_len(p, s->len_delta);
	if (s->pad_to)
		pkt_pad(p, s->pad_to);
	return p->err;
}
