/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * A connection's key as 32-bit words in registers: the layouts of struct
 * tw_flow4_key (5 words) and struct tw_flow6_key (11 words). The fast path
 * builds the key once as words, hashes and compares the words (the
 * connection cache) and stores the map key a word at a time. A key built
 * field by field and read back as words made each read wait for the
 * narrower stores it spans to retire (a load is forwarded from one store,
 * not from several): a third of the fast path's time.
 */
#ifndef TW_BPF_CONNKEY_H
#define TW_BPF_CONNKEY_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <tunwarden/abi.h>
#include <tunwarden/flow_cache.h>

/* Four bytes as one word, in memory order (the first byte at the lowest address). */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define TW_BYTES_WORD(b0, b1, b2, b3) \
	((__u32)(b0) | (__u32)(b1) << 8 | (__u32)(b2) << 16 | (__u32)(b3) << 24)
#else
#define TW_BYTES_WORD(b0, b1, b2, b3) \
	((__u32)(b0) << 24 | (__u32)(b1) << 16 | (__u32)(b2) << 8 | (__u32)(b3))
#endif
#define TW_CONNKEY4_WORDS (sizeof(struct tw_flow4_key) / 4)
#define TW_CONNKEY6_WORDS (sizeof(struct tw_flow6_key) / 4)

/* The word at @a, which is 4-byte aligned */
static __always_inline __u32 tw_word_at(const __u8 *a)
{
	__u32 w;

	__builtin_memcpy(&w, __builtin_assume_aligned(a, 4), 4);
	return w;
}

/* Each of a key's words, unrolled by hand: clang kept some of these loops
 * as loops despite #pragma unroll. */
_Static_assert(TW_CONNKEY4_WORDS == 5 && TW_CONNKEY6_WORDS == 11, "connection key words");
#define TW_CONNKEY_EACH_WORD(n, X)              \
	do {                                    \
		X(0);                           \
		X(1);                           \
		X(2);                           \
		X(3);                           \
		X(4);                           \
		if ((n) == TW_CONNKEY6_WORDS) { \
			X(5);                   \
			X(6);                   \
			X(7);                   \
			X(8);                   \
			X(9);                   \
			X(10);                  \
		}                               \
	} while (0)

/* Store @n words to @dst (4-byte aligned) */
static __always_inline void tw_connkey_store(void *dst, const __u32 *w, const unsigned int n)
{
	__u32 *d = __builtin_assume_aligned(dst, 4);

#define TW_CONNKEY_ST(i) (d[i] = w[i])
	TW_CONNKEY_EACH_WORD(n, TW_CONNKEY_ST);
#undef TW_CONNKEY_ST
}

static __always_inline bool tw_connkey_eq(const void *key, const __u32 *w, const unsigned int n)
{
	const __u32 *k = __builtin_assume_aligned(key, 4);
	__u32 x = 0;

#define TW_CONNKEY_XOR(i) (x |= k[i] ^ w[i])
	TW_CONNKEY_EACH_WORD(n, TW_CONNKEY_XOR);
#undef TW_CONNKEY_XOR
	return x == 0;
}

/* The connection cache entry of the key the words make: tw_fcache_idx()
 * (tunwarden/flow_cache.h) computed from registers. */
static __always_inline __u32 tw_connkey_hash(const __u32 *w, const unsigned int n)
{
	__u32 h = 0;

#define TW_CONNKEY_MIX(i) (h ^= w[i] * TW_FCACHE_MUL(i))
	TW_CONNKEY_EACH_WORD(n, TW_CONNKEY_MIX);
#undef TW_CONNKEY_MIX
	return tw_fcache_fold(h);
}

/* Two ports as a packet holds them (source first), the client's first:
 * swapping the halves swaps the two ports in either byte order. */
static __always_inline __u32 tw_ports_of(__u32 ports, int dir)
{
	return dir == TW_DIR_FROM_CLIENT ? ports : ports >> 16 | ports << 16;
}

/* The words of a connection's key: struct tw_flow4_key or tw_flow6_key.
 * @ports: the client's port first; @ca, @ra: the client's and the remote
 * address, 4-byte aligned. */
static __always_inline void tw_connkey_build(__u32 *w, __u32 ifindex, __u8 family, __u8 proto,
					     __u8 kind, __u32 ports, const __u8 *ca, const __u8 *ra)
{
	int i;

	w[0] = ifindex;
	if (family == TW_FAM_V4) {
		w[1] = tw_word_at(ca);
		w[2] = tw_word_at(ra);
		w[3] = ports;
		w[4] = TW_BYTES_WORD(proto, kind, 0, 0);
		return;
	}
	w[1] = TW_BYTES_WORD(family, proto, kind, 0);
	w[2] = ports;
#pragma unroll
	for (i = 0; i < 4; i++) {
		w[3 + i] = tw_word_at(ca + 4 * i);
		w[7 + i] = tw_word_at(ra + 4 * i);
	}
}

#endif /* TW_BPF_CONNKEY_H */
