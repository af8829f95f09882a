// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * twbench's reference programs (scripts/bench/twbench.c), beside which the
 * tunnel programs are measured. Not part of tunwarden's object: built by
 * mk/bench.mk into their own skeleton (twb_bpf).
 *
 * twb_empty: the least a tc program can be (return TC_ACT_UNSPEC).
 * twb_count_tun, twb_count_eth: the least any per-client accounting does
 * on this hook, on an L3 tunnel (IP header at 0) and under PROG_TEST_RUN
 * (at 14). The bench's client i has tunnel address 10.128.0.0 + i and
 * slot i, so the slot is the low 17 bits of the source address: no lookup,
 * no state, no allowlist, one per-CPU array element updated (per-CPU, so
 * no atomics). twbench points tw1_ccnt at the tunnel object's map.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <tunwarden/abi.h>
#include "../lib/uapi.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TW_MAX_CLIENTS);
	__type(key, __u32);
	__type(value, struct tw_client_ctr);
} tw1_ccnt SEC(".maps");

SEC("tc")
int twb_empty(struct __sk_buff *skb)
{
	return TC_ACT_UNSPEC_;
}

/* @l3 is a constant in each program, as an immediate of the bounds check
 * and of the load, the way a load-time knob of the tunnel programs is not:
 * the floor stays a floor. */
static __always_inline int twb_count(struct __sk_buff *skb, const __u32 l3)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct tw_client_ctr *c;
	__u32 slot;

	if (data + l3 + 20 > end)
		return TC_ACT_UNSPEC_;
	/* the source address, host order, its low bits the slot (the barrier
	 * keeps clang from masking before the swap with a 64-bit constant: one
	 * instruction more than the program this replaced) */
	slot = bpf_ntohl(*(__u32 *)(data + l3 + 12));
	barrier_var(slot);
	slot &= TW_MAX_CLIENTS - 1;
	c = bpf_map_lookup_elem(&tw1_ccnt, &slot);
	if (c) {
		c->from_bytes += skb->len;
		c->from_pkts++;
	}
	return TC_ACT_UNSPEC_;
}

SEC("tc")
int twb_count_tun(struct __sk_buff *skb)
{
	return twb_count(skb, 0);
}

SEC("tc")
int twb_count_eth(struct __sk_buff *skb)
{
	return twb_count(skb, ETH_HLEN_);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
