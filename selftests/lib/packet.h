/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The packet builder of the tests and benchmarks (prog_tests, the e2e
 * dataplane driver, twbench), for BPF_PROG_TEST_RUN tables and for injecting
 * frames into tun/veth devices: Ethernet, IPv4 (with options), IPv6 (with
 * extension header chains, fragment header included), TCP/UDP/ICMP/ICMPv6
 * (ICMP errors quoting a packet built the same way) or any other protocol,
 * fragments, Ethernet padding, and deliberate damage
 * (truncation at any byte, bad lengths, bad ihl, wrong version, bad TCP data
 * offset, garbage, non-IP frames).
 *
 * Two layers:
 *  - append calls (pkt_eth, pkt_ip4, pkt_ip6_ext, pkt_tcp, ...) followed by
 *    pkt_finish(), which fills lengths and checksums;
 *  - pkt_build() from a declarative struct pkt_spec, for test tables.
 *
 * Errors are sticky: the first failing call stores -errno in p->err and
 * every later call returns it, so a sequence of appends needs one check.
 */
#ifndef TW_SELFTEST_PACKET_H
#define TW_SELFTEST_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* BPF_PROG_TEST_RUN accepts at most about a page of linear data. */
#define PKT_MAX	    3584
#define PKT_ETH_LEN 14

#define PKT_ETH_IP   0x0800
#define PKT_ETH_IPV6 0x86DD
#define PKT_ETH_ARP  0x0806

/* IPv4 frag_off field, host order: flags | offset in 8-byte units. */
#define PKT_DF 0x4000
#define PKT_MF 0x2000

/* IPv6 extension header numbers (the kernel's NEXTHDR_*). */
#define PKT_EH_HOP     0
#define PKT_EH_ROUTING 43
#define PKT_EH_FRAG    44
#define PKT_EH_AUTH    51
#define PKT_EH_DEST    60
#define PKT_EH_NONE    59

struct pkt {
	uint8_t data[PKT_MAX];
	uint32_t len; /* frame bytes */
	uint32_t l3_off; /* IP header offset: 14 after pkt_eth(), else 0 */
	uint8_t family; /* 4, 6, or 0 before an IP header */
	uint32_t nh_off; /* byte to receive the next header's protocol number, 0: none */
	uint32_t l4_off; /* transport header offset, 0: none */
	uint8_t l4_proto; /* protocol of the transport header at l4_off */
	uint32_t hdr_len; /* IP + extension + transport header bytes */
	bool frag; /* a fragment: the transport checksum cannot be computed */
	bool finished;
	int err;
};

/* ---- append layer ---- */

void pkt_init(struct pkt *p);
int pkt_eth(struct pkt *p, uint16_t ethertype);

struct pkt_ip4_hdr {
	const char *src, *dst; /* dotted quads */
	uint8_t proto; /* 0: set by the next append */
	uint8_t ttl; /* 0: 64 */
	uint16_t id;
	uint16_t frag_off; /* PKT_MF | PKT_DF | offset/8 */
	uint8_t optlen; /* option bytes, multiple of 4, at most 40; filled with NOP/EOL */
};
int pkt_ip4(struct pkt *p, const struct pkt_ip4_hdr *h);
int pkt_ip6(struct pkt *p, const char *src, const char *dst);
/* Hop-by-hop, routing, destination options (len: multiple of 8, >= 8) or
 * AH (len: multiple of 4, >= 12). Options are padded with PadN. */
int pkt_ip6_ext(struct pkt *p, uint8_t type, uint16_t len);
int pkt_ip6_frag(struct pkt *p, uint16_t offset, bool more, uint32_t id);

int pkt_tcp(struct pkt *p, uint16_t sport, uint16_t dport, uint8_t flags, uint8_t doff_words);
/* Sequence and acknowledgment numbers of the TCP header just appended
 * (pkt_tcp() sets 0x1000 and 0). */
int pkt_tcp_seq(struct pkt *p, uint32_t seq, uint32_t ack);
int pkt_udp(struct pkt *p, uint16_t sport, uint16_t dport);
/* ICMP on IPv4, ICMPv6 on IPv6. */
int pkt_icmp(struct pkt *p, uint8_t type, uint8_t code, uint16_t id, uint16_t seq);
/* Protocol number for what follows when no transport header is appended
 * (GRE, a later fragment's data, ...). */
int pkt_proto(struct pkt *p, uint8_t proto);
int pkt_payload(struct pkt *p, size_t n); /* deterministic pattern */
int pkt_bytes(struct pkt *p, const void *b, size_t n);
int pkt_garbage(struct pkt *p, size_t n, uint32_t seed); /* xorshift bytes */
int pkt_arp_request(struct pkt *p, const char *sender, const char *target);

/* Fill IPv4 tot_len and header checksum, IPv6 payload_len, UDP length and
 * the transport checksum (not for fragments). */
int pkt_finish(struct pkt *p);

/* ---- damage, after pkt_finish() ---- */

/* Keep @l3_bytes bytes after the link header; with @fix_len the IP length
 * fields are rewritten to match, so the datagram itself is short rather
 * than the frame. */
int pkt_truncate(struct pkt *p, uint32_t l3_bytes, bool fix_len);
int pkt_set_ihl(struct pkt *p, uint8_t ihl);
int pkt_set_version(struct pkt *p, uint8_t version);
/* Add @delta to IPv4 tot_len or IPv6 payload_len. */
int pkt_adjust_ip_len(struct pkt *p, int delta);
/* Rewrite the TCP data offset field (words, 0..15) without resizing the
 * header; the checksum is recomputed, so call it before truncating. */
int pkt_set_tcp_doff(struct pkt *p, uint8_t words);
/* Zero bytes after the datagram up to a frame of @frame_len bytes, as
 * Ethernet pads short frames to 60; the IP lengths stay as they are. */
int pkt_pad(struct pkt *p, uint32_t frame_len);

/* The IP datagram length the headers declare (tot_len, or 40 + payload_len). */
uint32_t pkt_ip_len(const struct pkt *p);

/* ---- declarative layer ---- */

enum pkt_icmp_kind {
	PKT_ECHO_REQUEST = 0,
	PKT_ECHO_REPLY,
	PKT_UNREACH,
};

/* Wrap a truncation length so that 0 bytes can be asked for. */
#define PKT_KEEP(n) ((n) + 1)

struct pkt_spec {
	uint8_t family; /* 4, 6; 0: a non-IP frame of @payload garbage bytes */
	uint16_t ethertype; /* 0: from the family */
	bool no_eth; /* bare L3 packet (L3 tunnel), no Ethernet header */
	const char *src, *dst;
	uint8_t proto; /* IPPROTO_*; ICMP is ICMPv6 on IPv6 */
	uint16_t sport; /* ICMP echo: the identifier */
	uint16_t dport;
	uint8_t icmp; /* enum pkt_icmp_kind */
	/* An ICMP (ICMPv6) error instead: with @quote set, type @icmp_type and
	 * code @icmp_code quoting the packet @quote describes (built without
	 * an Ethernet header): its first @quote_len bytes, 0 meaning the IP
	 * header and 8 bytes on IPv4 (RFC 792), all of it on IPv6 (RFC 4443).
	 * Fragmentation needed and packet too big carry an MTU. */
	const struct pkt_spec *quote;
	uint8_t icmp_type, icmp_code;
	uint16_t quote_len;
	uint8_t ttl; /* IPv4 TTL or IPv6 hop limit, 0: 64 */
	uint8_t tcp_flags; /* 0: SYN, or PSH|ACK when there is a payload */
	uint8_t tcp_doff; /* words, 0: 5 */
	uint32_t tcp_seq; /* 0: 0x1000 */
	uint32_t tcp_ack;
	uint8_t ip4_optlen; /* bytes of IPv4 options */
	uint16_t ip4_frag; /* IPv4 frag_off field; a nonzero offset means no transport header */
	uint16_t ip_id;
	uint8_t n_ext; /* IPv6 extension headers, in order */
	uint8_t ext[12];
	uint16_t ext_len; /* bytes of each non-fragment extension header, 0: 8 (AH: 12) */
	uint16_t frag6_off; /* bytes, multiple of 8, for an ext entry PKT_EH_FRAG */
	bool frag6_more;
	uint16_t payload; /* bytes after the transport header, or a later fragment's data */
	const void *payload_data; /* those bytes; NULL: a deterministic pattern */
	uint32_t seed; /* garbage frames */
	uint16_t pad_to; /* zero-pad the frame to this many bytes (Ethernet: 60), 0: no padding */
	/* damage */
	uint16_t keep; /* PKT_KEEP(n): cut to n L3 bytes; 0: no cut */
	bool keep_fix_len; /* rewrite IP lengths after the cut */
	uint8_t ihl; /* override IPv4 ihl, 0: computed */
	uint8_t version; /* override the IP version nibble, 0: right one */
	int16_t len_delta; /* added to tot_len / payload_len */
	uint8_t tcp_doff_field; /* override the TCP data offset (words), header unchanged, 0: computed */
};

int pkt_build(struct pkt *p, const struct pkt_spec *s);

#endif /* TW_SELFTEST_PACKET_H */
