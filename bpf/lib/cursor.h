/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * The header cursor both program types parse with (the idiom of
 * xdp-tools' parsing_helpers.h, with offsets where it has pointers): where
 * the next header starts, where the IP datagram ends, and how to read a
 * header at it. tw_cursor_load() copies a header to the stack on either
 * program type: straight from the packet when it lies in the linear part,
 * on TC through bpf_skb_load_bytes() from paged data (GSO egress).
 * tw_cursor_ptr() reads an XDP frame in place. Offsets keep variable header
 * lengths (IPv4 options, IPv6 extension chains) simple for the verifier.
 *
 * Also here: the one IPv6 extension-header walker, for both programs.
 */
#ifndef TW_BPF_CURSOR_H
#define TW_BPF_CURSOR_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "uapi.h"

struct tw_cursor {
	void *ctx; /* struct __sk_buff * (TC) or struct xdp_md * (XDP) */
	/* XDP: ctx->data and ctx->data_end, read once: the compiler may
	 * otherwise fold the two ctx offsets into one pointer */
	void *data;
	void *data_end;
	__u32 off; /* the next header, from the start of the packet */
	__u32 end; /* the end of the IP datagram (no Ethernet padding) */
	bool skb; /* a TC program: paged data is reachable */
};

static __always_inline void tw_cursor_skb(struct tw_cursor *c, struct __sk_buff *skb, __u32 off)
{
	c->ctx = skb;
	c->skb = true;
	c->off = off;
	c->end = 0;
}

static __always_inline void tw_cursor_xdp(struct tw_cursor *c, struct xdp_md *ctx, __u32 off)
{
	c->ctx = ctx;
	c->skb = false;
	c->data = (void *)(long)ctx->data;
	c->data_end = (void *)(long)ctx->data_end;
	c->off = off;
	c->end = 0;
}

/* TC: headers never start beyond this offset in the linear part (L2 + IPv4
 * options or a bounded IPv6 extension chain); the bound lets the verifier
 * check direct access. Past it, bpf_skb_load_bytes(). */
#define TW_MAX_HDR_OFF 1024

/*
 * XDP: @len bytes at frame offset @off, in place, or NULL if the frame is
 * shorter. Inlined with a constant @len, so the verifier sees the bounds
 * check on the very pointer that is then dereferenced. A frame is linear
 * and below 64 KiB; the mask tells the verifier so. (TC cannot read in
 * place: a header may lie in paged data. It copies, with tw_cursor_load().)
 */
static __always_inline void *tw_cursor_ptr(const struct tw_cursor *c, __u32 off, const __u32 len)
{
	void *p;

	off &= 0xffff;
	p = c->data + off;
	if (p + len > c->data_end)
		return NULL;
	return p;
}

/*
 * Copy @len bytes at @off to @to: 0, or negative when the packet does not
 * have them. Inlined with a constant @len.
 */
static __always_inline int tw_cursor_load(const struct tw_cursor *c, __u32 off, void *to,
					  const __u32 len)
{
	if (c->skb) {
		struct __sk_buff *skb = c->ctx;
		void *data = (void *)(long)skb->data;
		void *end = (void *)(long)skb->data_end;

		if (off <= TW_MAX_HDR_OFF && data + off + len <= end) {
			/* Word loads, not byte loads: clang assumes a void *
			 * source is byte-aligned and copies byte by byte (three
			 * instructions a byte). The kernel accepts unaligned
			 * packet loads wherever it has efficient unaligned
			 * access (x86, arm64; only BPF_F_STRICT_ALIGNMENT, which
			 * tunwarden never sets, refuses). */
			__builtin_memcpy(to, __builtin_assume_aligned(data + off, 8), len);
			return 0;
		}
		return bpf_skb_load_bytes(skb, off, to, len);
	}
	void *p = tw_cursor_ptr(c, off, len);

	if (!p)
		return -1;
	__builtin_memcpy(to, p, len);
	return 0;
}

enum tw_frag {
	TW_FRAG_NONE = 0,
	TW_FRAG_FIRST = 1, /* offset 0, more fragments follow: ports are here */
	TW_FRAG_LATER = 2, /* offset > 0: no transport header */
};

/* Where an IPv6 extension-header walk stopped. */
struct tw_ip6_chain {
	__u8 nh; /* the upper-layer protocol, or a header the walk does not follow */
	__u8 frag; /* enum tw_frag */
	__u8 frag_proto; /* a fragment header's next header */
};

static __always_inline bool tw_ip6_is_exthdr(__u8 nh, const bool auth)
{
	return nh == NEXTHDR_HOP || nh == NEXTHDR_ROUTING || nh == NEXTHDR_DEST ||
	       nh == NEXTHDR_FRAGMENT || (auth && nh == NEXTHDR_AUTH);
}

/*
 * Walk the extension headers from c->off (just past the fixed IPv6 header,
 * ch->nh its next header) across at most @max headers: hop-by-hop,
 * routing, destination options, fragment, and AH when @auth. Returns 0
 * with c->off at the header ch->nh names, 1 at a later fragment (no
 * transport header: ch->nh is the fragment header's next header), or -1
 * when a header is truncated or runs past the datagram. A chain longer
 * than @max stops with ch->nh still an extension header: the caller
 * decides.
 */
static __always_inline int tw_ip6_walk(struct tw_cursor *c, struct tw_ip6_chain *ch, const int max,
				       const bool auth)
{
	int i;

	for (i = 0; i < max; i++) {
		__u8 eh[8];

		if (!tw_ip6_is_exthdr(ch->nh, auth))
			break;
		if (c->off + 8 > c->end || tw_cursor_load(c, c->off, eh, 8))
			return -1;
		if (ch->nh == NEXTHDR_FRAGMENT) {
			__u16 fo = ((__u16)eh[2] << 8) | eh[3];

			ch->nh = eh[0];
			ch->frag_proto = ch->nh;
			c->off += 8;
			if (fo & 0xfff8) {
				ch->frag = TW_FRAG_LATER;
				return 1;
			}
			if (fo & 1)
				ch->frag = TW_FRAG_FIRST;
			continue;
		}
		if (ch->nh == NEXTHDR_AUTH)
			c->off += ((__u32)eh[1] + 2) * 4;
		else
			c->off += ((__u32)eh[1] + 1) * 8;
		ch->nh = eh[0];
	}
	if (c->off > c->end)
		return -1;
	return 0;
}

#endif /* TW_BPF_CURSOR_H */
