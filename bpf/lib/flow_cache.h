/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * The per-CPU connection caches in front of tw1_flows4 and tw1_flows6
 * (maps tw_fcache4, tw_fcache6; layout and entry hash in
 * tunwarden/flow_cache.h). Direct-mapped, indexed by a hash of the
 * connection key: a hit is an inlined array lookup instead of a hash-map
 * lookup (four kernel calls). An entry stands for one look at the
 * connection map for tw_fcache_ttl() at most, holds the slot generation
 * and the tw1_ctl addr_gen it was checked at, and never overrides the
 * slot's state (the caller checks the slot on every hit).
 */
#ifndef TW_BPF_FLOW_CACHE_H
#define TW_BPF_FLOW_CACHE_H

#include "maps.h"
#include "connkey.h"

/* Refresh a flow's timestamp at most this often: a write per packet would
 * bounce the cache line between CPUs on busy flows. */
#define TW_FLOW_REFRESH_NS 1000000000ULL

/* How long a cache entry stands for a look at the connection map: at most
 * the refresh interval, and a quarter of a short @timeout, so a connection
 * that only ever hits the cache still refreshes its entry there in time. */
static __always_inline __u64 tw_fcache_ttl(__u64 timeout)
{
	__u64 q = timeout / 4;

	return q < TW_FLOW_REFRESH_NS ? q : TW_FLOW_REFRESH_NS;
}

/* The entry a connection takes, and whether it holds that connection. */
struct tw_fcache_ref {
	struct tw_fcache4_ent *e4;
	struct tw_fcache6_ent *e6;
	struct tw_fcache_val *v; /* NULL: no entry */
	bool same; /* the entry holds this connection's key */
};

static __always_inline void tw_fcache4_get(struct tw_fcache_ref *r, const __u32 *w)
{
	__u32 idx = tw_connkey_hash(w, TW_CONNKEY4_WORDS);

	r->e4 = bpf_map_lookup_elem(&tw_fcache4, &idx);
	if (r->e4) {
		r->v = &r->e4->v;
		r->same = tw_connkey_eq(&r->e4->key, w, TW_CONNKEY4_WORDS);
	}
}

static __always_inline void tw_fcache6_get(struct tw_fcache_ref *r, const __u32 *w)
{
	__u32 idx = tw_connkey_hash(w, TW_CONNKEY6_WORDS);

	r->e6 = bpf_map_lookup_elem(&tw_fcache6, &idx);
	if (r->e6) {
		r->v = &r->e6->v;
		r->same = tw_connkey_eq(&r->e6->key, w, TW_CONNKEY6_WORDS);
	}
}

/* A hit: the entry holds the connection, checked at address generation
 * @gen, no longer ago than the TTL. */
static __always_inline bool tw_fcache_hit(const struct tw_fcache_ref *r, __u64 gen, __u64 now,
					  __u64 timeout)
{
	return r->same && r->v->addr_gen == gen && now - r->v->checked_ns <= tw_fcache_ttl(timeout);
}

/* The connection @w was found live in its map as @fv at @now. */
static __always_inline void tw_fcache_fill(struct tw_fcache_ref *r, const __u32 *w,
					   const struct tw_flow_val *fv, __u64 gen, __u64 now)
{
	if (r->e4)
		tw_connkey_store(&r->e4->key, w, TW_CONNKEY4_WORDS);
	else if (r->e6)
		tw_connkey_store(&r->e6->key, w, TW_CONNKEY6_WORDS);
	if (r->v) {
		r->v->slot = fv->slot;
		r->v->gen = fv->gen;
		r->v->addr_gen = gen;
		r->v->checked_ns = now;
	}
}

#endif /* TW_BPF_FLOW_CACHE_H */
