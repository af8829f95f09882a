/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * The layout and entry hash of the tunnel programs' per-CPU connection
 * caches (tw_fcache4, tw_fcache6; bpf/lib/flow_cache.h has the code that
 * uses them). NOT ABI: the caches are private to each loaded object, never
 * pinned, and nothing outside the programs reads them in production. The
 * header is shared only so that the tests can compute which entry a
 * connection takes and read it back; a change here needs no ABI version bump.
 */
#ifndef TUNWARDEN_FLOW_CACHE_H
#define TUNWARDEN_FLOW_CACHE_H

#include <tunwarden/abi.h>

#define TW_FCACHE_SIZE 4096

struct tw_fcache_val {
	__u32 slot;
	__u32 gen; /* the connection's tw_flow_val.gen */
	__u64 addr_gen; /* tw_ctl.addr_gen read before the connection was looked up */
	__u64 checked_ns; /* when the connection was last found live in its map */
};
struct tw_fcache4_ent {
	struct tw_flow4_key key;
	__u32 pad;
	struct tw_fcache_val v;
};
struct tw_fcache6_ent {
	struct tw_flow6_key key;
	__u32 pad;
	struct tw_fcache_val v;
};
_Static_assert(sizeof(struct tw_fcache4_ent) == 48, "tw_fcache4_ent size");
_Static_assert(sizeof(struct tw_fcache6_ent) == 72, "tw_fcache6_ent size");

/* The entry a connection takes: a multiplicative hash of the key's 32-bit
 * words. Works on BPF and in userspace alike; the BPF fast path computes the
 * same sum from the key's words in registers (tw_connkey_hash()). */
#define TW_FCACHE_MUL(i) (0x9E3779B1u + (__u32)(i)*0x3C6EF372u)
static inline __u32 tw_fcache_fold(__u32 h)
{
	return (h ^ h >> 16) & (TW_FCACHE_SIZE - 1);
}

static inline __u32 tw_fcache_idx(const void *key, const unsigned int words)
{
	__u32 h = 0, w;
	unsigned int i;

	for (i = 0; i < words; i++) {
		__builtin_memcpy(&w, (const __u8 *)key + 4 * i, 4);
		h ^= w * TW_FCACHE_MUL(i);
	}
	return tw_fcache_fold(h);
}
#define TW_FCACHE4_IDX(k) tw_fcache_idx((k), sizeof(struct tw_flow4_key) / 4)
#define TW_FCACHE6_IDX(k) tw_fcache_idx((k), sizeof(struct tw_flow6_key) / 4)

#endif /* TUNWARDEN_FLOW_CACHE_H */
