/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * Counter updates. All counter maps are per-CPU and a TC/XDP program runs
 * to completion on one CPU without preemption by another instance of
 * itself on that CPU, so plain increments are exact and need no atomics.
 */
#ifndef TW_BPF_COUNTERS_H
#define TW_BPF_COUNTERS_H

#include "maps.h"

static __always_inline void tw_gcount(__u32 idx, __u64 bytes, __u64 pkts)
{
	struct tw_gctr *c = bpf_map_lookup_elem(&tw1_gcnt, &idx);

	if (c) {
		c->pkts += pkts;
		c->bytes += bytes;
	}
}

static __always_inline void tw_ucount(__u32 idx, __u64 bytes)
{
	struct tw_gctr *c = bpf_map_lookup_elem(&tw1_ucnt, &idx);

	if (c) {
		c->pkts++;
		c->bytes += bytes;
	}
}

static __always_inline void tw_client_pass(__u32 slot, int dir, __u64 bytes, __u64 pkts)
{
	struct tw_client_ctr *c = bpf_map_lookup_elem(&tw1_ccnt, &slot);

	if (!c)
		return;
	if (dir == TW_DIR_FROM_CLIENT) {
		c->from_bytes += bytes;
		c->from_pkts += pkts;
	} else {
		c->to_bytes += bytes;
		c->to_pkts += pkts;
	}
}

static __always_inline void tw_client_drop(__u32 slot, __u32 reason, __u64 bytes, __u64 pkts)
{
	struct tw_client_ctr *c = bpf_map_lookup_elem(&tw1_ccnt, &slot);

	/* clang drops the bound check below when it can prove the callers'
	 * reasons are small; kernels before 6.18 then reject the index as
	 * unbounded. The barrier keeps the check. */
	barrier_var(reason);
	if (!c || reason >= TW_DROP__MAX)
		return;
	c->drops[reason] += pkts;
	c->drop_bytes += bytes;
}

#endif /* TW_BPF_COUNTERS_H */
