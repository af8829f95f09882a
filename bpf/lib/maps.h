/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * Every map of tunwarden, in one place. The programs are linked into one
 * object (bpftool gen object): bpf/maps.bpf.c defines TW_MAPS_DEFINE and
 * instantiates the maps once; every other file sees them as extern
 * declarations of the same definitions, which the linker resolves to that
 * one instance. Shared maps are pinned by name under TW_PIN_ROOT
 * (userspace sets pin_root_path), so a restarted controller adopts the live
 * maps and enforcement never stops. Pinned names carry the ABI version and
 * stay within 15 characters.
 */
#ifndef TW_BPF_MAPS_H
#define TW_BPF_MAPS_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <tunwarden/abi.h>
#include <tunwarden/flow_cache.h>

#ifdef TW_MAPS_DEFINE
#define TW_MAP
#else
#define TW_MAP extern
#endif

TW_MAP struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * TW_MAX_CLIENTS * 2); /* v4+v6, per-iface + peer entries */
	__type(key, struct tw_client_key);
	__type(value, __u32); /* slot */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tw1_clients SEC(".maps");

TW_MAP struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TW_MAX_CLIENTS);
	__type(key, __u32);
	__type(value, struct tw_slot);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tw1_slots SEC(".maps");

/* Per-CPU: each CPU owns its copy, so plain increments need no atomics. */
TW_MAP struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TW_MAX_CLIENTS);
	__type(key, __u32);
	__type(value, struct tw_client_ctr);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tw1_ccnt SEC(".maps");

TW_MAP struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TW_G__MAX);
	__type(key, __u32);
	__type(value, struct tw_gctr);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tw1_gcnt SEC(".maps");

/* Template for each profile's allowlist; userspace creates the real ones. */
struct tw_acl_inner {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1);
	/* sizes, not __type(): clang emits only a forward declaration for a
	 * struct reached through the inner-map template, and libbpf cannot
	 * size a forward declaration */
	__uint(key_size, sizeof(struct tw_acl_key));
	__uint(value_size, sizeof(struct tw_acl_val));
	__uint(map_flags, BPF_F_NO_PREALLOC);
};

TW_MAP struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, TW_MAX_PROFILES);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct tw_acl_inner);
} tw1_acl SEC(".maps");

TW_MAP struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, TW_MAX_FLOWS);
	__type(key, struct tw_flow6_key);
	__type(value, struct tw_flow_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tw1_flows6 SEC(".maps");

TW_MAP struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, TW_MAX_FLOWS);
	__type(key, struct tw_flow4_key);
	__type(value, struct tw_flow_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tw1_flows4 SEC(".maps");

TW_MAP struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tw_ctl);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tw1_ctl SEC(".maps");

/* The per-CPU connection caches in front of tw1_flows4 and tw1_flows6
 * (bpf/lib/flow_cache.h): private to the loaded object, not pinned. */
TW_MAP struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TW_FCACHE_SIZE);
	__type(key, __u32);
	__type(value, struct tw_fcache4_ent);
} tw_fcache4 SEC(".maps");

TW_MAP struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TW_FCACHE_SIZE);
	__type(key, __u32);
	__type(value, struct tw_fcache6_ent);
} tw_fcache6 SEC(".maps");

/* ---- uplink ---- */

TW_MAP struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, TW_MAX_BANS);
	__type(key, struct tw_ban_key);
	__type(value, struct tw_ban_val);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tw1_bans SEC(".maps");

TW_MAP struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TW_MAX_VPN_PORTS);
	__type(key, struct tw_vport_key);
	__type(value, struct tw_vport_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tw1_vports SEC(".maps");

TW_MAP struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tw_uplink_cfg);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tw1_ucfg SEC(".maps");

TW_MAP struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, TW_MAX_HS_SOURCES);
	__type(key, struct tw_hs_key);
	__type(value, struct tw_hs_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tw1_hsrate SEC(".maps");

TW_MAP struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TW_U__MAX);
	__type(key, __u32);
	__type(value, struct tw_gctr);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tw1_ucnt SEC(".maps");

#undef TW_MAP

#endif /* TW_BPF_MAPS_H */
