/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * The ABI shared by the BPF programs and userspace: map keys and values,
 * verdicts, drop reasons, record kinds. Types only. Every struct has
 * fixed-width members, explicit padding and a size assertion, because the
 * same bytes are read by two compilers (clang --target=bpf and gcc).
 *
 * Bump TW_ABI_VERSION whenever a layout here changes: pinned map names carry
 * it ("tw1_clients"), so an upgraded daemon never adopts a map whose layout
 * it does not understand; it creates new ones beside the old. Renaming a
 * pinned map without a layout change needs no bump: the new name is simply
 * not adopted from the old pin, which libtw removes (TW_PIN_RETIRED).
 *
 * Not here: the tunnel programs' private connection caches
 * (tunwarden/flow_cache.h, not ABI) and the kernel's own constants
 * (bpf/lib/uapi.h).
 */
#ifndef TUNWARDEN_ABI_H
#define TUNWARDEN_ABI_H

#ifdef __bpf__
/* vmlinux.h already provides __u8 .. __u64 */
#else
#include <linux/types.h>
#endif

#define TW_ABI_VERSION 1
#define TW_PIN_ROOT    "/sys/fs/bpf/tunwarden"
/* Sizes. Userspace may create maps smaller than these, never larger. */
#define TW_MAX_CLIENTS		131072 /* slots, dense, 0 .. TW_MAX_CLIENTS-1 */
#define TW_MAX_PROFILES		1024
#define TW_ACL_RULES_PER_PREFIX 14
#define TW_MAX_FLOWS		262144
#define TW_MAX_BANS		65536
#define TW_MAX_VPN_PORTS	64
#define TW_MAX_HS_SOURCES	65536

/* Address families as stored in keys (not AF_* so the BPF side needs no libc). */
enum tw_family {
	TW_FAM_V4 = 4,
	TW_FAM_V6 = 6,
};

/* Per-client dataplane state. */
enum tw_state {
	TW_STATE_FREE = 0, /* slot unused: treated like an unknown client */
	TW_STATE_PERMIT = 1,
	TW_STATE_SANDBOX = 2,
	TW_STATE_BANNED = 3,
};

/*
 * Drop reasons. Index into tw_client_ctr.drops and into the global counter
 * array. BPF helpers return a negative reason; the entry point counts it.
 */
enum tw_drop_reason {
	TW_DROP_NONE = 0,
	TW_DROP_UNKNOWN_CLIENT = 1, /* tunnel address not in tw1_clients */
	TW_DROP_NOT_ALLOWED = 2, /* PERMIT client, no allowlist entry matched */
	TW_DROP_BANNED = 3, /* client state BANNED */
	TW_DROP_SANDBOXED = 4, /* SANDBOX client, sandbox allowlist did not match */
	TW_DROP_TENANT = 5, /* peer is a client of another tenant */
	TW_DROP_MALFORMED = 6, /* truncated or inconsistent headers, non-IP */
	TW_DROP_FRAGMENT = 7, /* non-first fragment with no admitted first fragment */
	TW_DROP_NO_PROFILE = 8, /* client's profile has no allowlist loaded */
	TW_DROP__MAX = 9,
};

/* Global counter indexes (tw1_gcnt, per-CPU array of tw_gctr). */
enum tw_gcounter {
	TW_G_PASS_IN = TW_DROP__MAX, /* after the drop reasons */
	TW_G_PASS_OUT,
	TW_G_REPLY, /* passed because a flow was open */
	TW_G_FLOW_NEW, /* flow entries created */
	TW_G_NON_IP_PASS, /* ARP on an L2 offset, passed */
	TW_G__MAX,
};

/* Uplink (XDP) counter indexes, tw1_ucnt. */
enum tw_uplink_counter {
	TW_U_PASS = 0,
	TW_U_BANNED = 1, /* source in tw1_bans, to a VPN port */
	TW_U_RATELIMIT = 2, /* handshake over the per-source token bucket */
	TW_U_HANDSHAKE = 3, /* handshakes admitted */
	TW_U_MALFORMED = 4, /* truncated headers: passed on, counted (the VPN daemon drops it) */
	TW_U__MAX = 5,
};

/* Direction as seen from the client. */
enum tw_dir {
	TW_DIR_FROM_CLIENT = 0, /* TC ingress on the tunnel interface */
	TW_DIR_TO_CLIENT = 1, /* TC egress on the tunnel interface */
};

/* Allowlist kinds inside one profile's LPM trie. */
enum tw_list {
	TW_LIST_FROM_CLIENT = 0, /* destination prefix, proto, destination port range */
	TW_LIST_TO_CLIENT = 1, /* unsolicited: source prefix, proto, destination port range */
	TW_LIST_SANDBOX = 2, /* from a SANDBOX client: destination prefix, proto, port range */
	TW_LIST__MAX = 3,
};

/*
 * tw1_clients: HASH, tunnel address -> slot. Each client is present with its
 * interface's ifindex (source lookups) and with ifindex 0 (peer lookups for
 * tenant isolation, where the peer may sit on another tunnel interface).
 */
struct tw_client_key {
	__u32 ifindex;
	__u8 family; /* enum tw_family */
	__u8 pad[3];
	__u8 addr[16]; /* IPv4 in the first 4 bytes, rest zero */
};
_Static_assert(sizeof(struct tw_client_key) == 24, "tw_client_key size");

/* tw1_slots: ARRAY indexed by slot. */
struct tw_slot {
	__u32 state; /* enum tw_state */
	__u32 tenant; /* 0 = no tenant: isolated from every other client */
	__u32 profile; /* index into tw1_acl */
	__u32 gen; /* bumped by userspace on every reuse: flows of an old session never match */
};
_Static_assert(sizeof(struct tw_slot) == 16, "tw_slot size");

/* tw1_ccnt: PERCPU_ARRAY indexed by slot. */
struct tw_client_ctr {
	__u64 from_bytes; /* inner IP bytes the client sent that passed */
	__u64 from_pkts;
	__u64 to_bytes; /* inner IP bytes delivered towards the client */
	__u64 to_pkts;
	__u64 drops[TW_DROP__MAX]; /* packets, by reason (either direction) */
	__u64 drop_bytes;
};
_Static_assert(sizeof(struct tw_client_ctr) == 8 * (4 + TW_DROP__MAX + 1), "tw_client_ctr size");

/* tw1_gcnt: PERCPU_ARRAY of TW_G__MAX entries. */
struct tw_gctr {
	__u64 pkts;
	__u64 bytes;
};
_Static_assert(sizeof(struct tw_gctr) == 16, "tw_gctr size");

/*
 * Profile allowlists: tw1_acl is an ARRAY_OF_MAPS indexed by profile; each
 * inner map is an LPM_TRIE. Replacing a profile's allowlist is one update of
 * the outer slot, so the datapath sees the old list or the new one, never a
 * mix. Userspace flattens the list: an entry carries the rules of every
 * shorter prefix that covers it, because an LPM lookup returns only the
 * longest match.
 *
 * prefixlen counts the bits of list, family and pad (32) plus the address
 * prefix length.
 */
struct tw_acl_key {
	__u32 prefixlen;
	__u8 list; /* enum tw_list */
	__u8 family; /* enum tw_family */
	__u8 pad[2];
	__u8 addr[16];
};
_Static_assert(sizeof(struct tw_acl_key) == 24, "tw_acl_key size");
#define TW_ACL_KEY_FIXED_BITS 32

#define TW_PROTO_ANY 0
struct tw_port_rule {
	__u8 proto; /* IPPROTO_*, 0 = any */
	__u8 pad;
	__u16 port_lo; /* host order, inclusive; 0..65535 = any */
	__u16 port_hi;
};
_Static_assert(sizeof(struct tw_port_rule) == 6, "tw_port_rule size");

struct tw_acl_val {
	__u16 nrules;
	__u16 pad;
	struct tw_port_rule rules[TW_ACL_RULES_PER_PREFIX];
};
_Static_assert(sizeof(struct tw_acl_val) == 4 + 6 * TW_ACL_RULES_PER_PREFIX, "tw_acl_val size");

/*
 * tw1_flows4 (IPv4) and tw1_flows6 (IPv6): LRU_HASHes of admitted
 * connections, one entry per connection for both directions, keyed by what a packet carries: the interface, the
 * client's address and port, the remote address and port. A packet of an
 * admitted connection, either way, costs this one hash lookup: the value
 * names the client's slot, so the client table and the allowlist are only
 * consulted when a connection starts. The value's slot generation must
 * match the slot's (a reused slot never inherits flows), and its addr_gen
 * must match tw1_ctl's, else the tenant check runs again (a pool address
 * may have moved to another tenant's client). ICMP echo uses the identifier
 * as both ports. An admitted first fragment also records kind FRAG with
 * zero ports, so the later fragments of its datagram (no ports) pass.
 */
enum tw_flow_kind {
	TW_FLOW_CONN = 0,
	TW_FLOW_FRAG = 1,
};
struct tw_flow6_key {
	__u32 ifindex;
	__u8 family;
	__u8 proto;
	__u8 kind; /* enum tw_flow_kind */
	__u8 pad;
	__u16 cport; /* the client's port, network order */
	__u16 rport; /* the remote port */
	__u8 caddr[16]; /* the client's tunnel address */
	__u8 raddr[16]; /* the remote address */
};
_Static_assert(sizeof(struct tw_flow6_key) == 44, "tw_flow6_key size");

/*
 * tw1_flows4's key: the map hashes the whole key on every lookup, and an
 * IPv4 connection has no use for 24 of the 44 bytes of tw_flow6_key: the
 * short key halves the hashing and the key compare on the fast path. Same
 * value, same rules.
 */
struct tw_flow4_key {
	__u32 ifindex;
	__u32 caddr; /* the client's tunnel address, network order */
	__u32 raddr; /* the remote address */
	__u16 cport; /* network order */
	__u16 rport;
	__u8 proto;
	__u8 kind; /* enum tw_flow_kind */
	__u16 pad;
};
_Static_assert(sizeof(struct tw_flow4_key) == 20, "tw_flow4_key size");

struct tw_flow_val {
	__u64 last_seen_ns; /* the flow clock: jiffies * ns per jiffy, or the
			     * coarse clock when HZ is unknown (tw_jiffy_ns) */
	__u32 slot;
	__u32 gen; /* tw_slot.gen when admitted */
	__u64 addr_gen; /* tw_ctl.addr_gen when the tenant check last ran */
	__u8 opened; /* enum tw_dir of the packet that opened it: userspace
			 * re-checks admitted connections when an allowlist changes */
	__u8 pad[7];
};
_Static_assert(sizeof(struct tw_flow_val) == 32, "tw_flow_val size");

/* tw1_ctl: ARRAY[1]. addr_gen is bumped by userspace after every client
 * address it installs and after it deletes connections: the datapath then
 * re-runs the tenant check of each connection once, and forgets what its
 * per-CPU connection cache holds. */
struct tw_ctl {
	__u64 addr_gen;
};
_Static_assert(sizeof(struct tw_ctl) == 8, "tw_ctl size");

/* ---- uplink XDP ---- */

/* tw1_bans: LPM_TRIE of real source prefixes. prefixlen = 32 + address bits. */
struct tw_ban_key {
	__u32 prefixlen;
	__u8 family;
	__u8 pad[3];
	__u8 addr[16];
};
_Static_assert(sizeof(struct tw_ban_key) == 24, "tw_ban_key size");
#define TW_BAN_KEY_FIXED_BITS 32

struct tw_ban_val {
	__u64 expires_ns; /* CLOCK_MONOTONIC (bpf_ktime_get_ns); 0 = until removed */
};
_Static_assert(sizeof(struct tw_ban_val) == 8, "tw_ban_val size");

/* tw1_vports: HASH of the VPN service ports the uplink program guards. */
enum tw_vpn_kind {
	TW_VPN_OPENVPN = 1,
	TW_VPN_WIREGUARD = 2,
	TW_VPN_IKE = 3,
};
struct tw_vport_key {
	__u8 proto; /* IPPROTO_UDP or IPPROTO_TCP */
	__u8 pad;
	__u16 port; /* network order */
};
_Static_assert(sizeof(struct tw_vport_key) == 4, "tw_vport_key size");
struct tw_vport_val {
	__u32 kind; /* enum tw_vpn_kind: how to recognise a new handshake */
};
_Static_assert(sizeof(struct tw_vport_val) == 4, "tw_vport_val size");

/* tw1_ucfg: ARRAY[1], runtime-tunable uplink settings. */
struct tw_uplink_cfg {
	__u32 hs_rate; /* new handshakes per second per source address; 0 = no limit */
	__u32 hs_burst; /* bucket depth */
	__u32 v4_prefix; /* rate-limit key granularity (bits), e.g. 32 */
	__u32 v6_prefix; /* e.g. 64 */
};
_Static_assert(sizeof(struct tw_uplink_cfg) == 16, "tw_uplink_cfg size");

/* tw1_hsrate: LRU_HASH per source (masked to the configured prefix). */
struct tw_hs_key {
	__u8 family;
	__u8 pad[3];
	__u8 addr[16];
};
_Static_assert(sizeof(struct tw_hs_key) == 20, "tw_hs_key size");
struct tw_hs_val {
	__u64 last_ns;
	__u64 tokens_milli; /* tokens x 1000, so refill needs no floating point */
};
_Static_assert(sizeof(struct tw_hs_val) == 16, "tw_hs_val size");

/* ---- records (journal and portal stream) ---- */
enum tw_record_kind {
	TW_REC_CONNECT = 1,
	TW_REC_DISCONNECT = 2,
	TW_REC_INTERIM = 3,
	TW_REC_DECISION = 4,
	TW_REC_BAN = 5,
	TW_REC_HEALTH = 6,
	TW_REC_GAP = 7,
};

#endif /* TUNWARDEN_ABI_H */
