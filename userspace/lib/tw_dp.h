/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * libtw: the typed API over tunwarden's BPF object and maps. Used by the
 * daemon, the CLI, the tests and the benchmarks. Functions return 0 or
 * -errno; constructors return NULL with errno set. The library does not
 * log: a failed call leaves a message for tw_dp_errstr(), and the caller
 * decides. Exceptions: tw_dp_open() prints why it failed to stderr, and
 * libbpf's own warnings (a failed load's verifier log) reach stderr;
 * TW_DEBUG=1 in the environment adds libbpf's info and debug output.
 */
#ifndef TW_DP_H
#define TW_DP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <tunwarden/abi.h>
#include "tw_addr.h"

struct tw_dp;

enum tw_attach_mode {
	TW_ATTACH_AUTO = 0, /* tcx where the kernel has it (6.6+), else cls_bpf */
	TW_ATTACH_TCX = 1,
	TW_ATTACH_TC = 2, /* netlink cls_bpf, direct action */
};

struct tw_dp_opts {
	/* Pin root. NULL: TW_PIN_ROOT. "" : no pinning at all (tests). */
	const char *pin_root;
	/* IP header offset: 0 for L3 tunnels, 14 for veth/tap and PROG_TEST_RUN. */
	uint32_t l3_off;
	uint64_t flow_timeout_ns; /* 0: default (300 s) */
	/* The flow clock. 0: jiffies when the kernel's CONFIG_HZ is known
	 * (tw_kernel_hz()), else the coarse clock; < 0: always the coarse
	 * clock; > 0: jiffies at this HZ (tests). */
	int hz;
	/* Map sizes; 0: the ABI maximum. Smaller keeps tests fast. */
	uint32_t max_clients;
	uint32_t max_flows;
};

/*
 * Load the tunnel and uplink programs, or adopt the maps already pinned
 * under pin_root (a restarted daemon): counters, clients and allowlists
 * survive. Mounts bpffs at /sys/fs/bpf if nothing is mounted there.
 */
struct tw_dp *tw_dp_open(const struct tw_dp_opts *opts);
void tw_dp_close(struct tw_dp *dp); /* leaves pinned maps and links in place */

/*
 * The running kernel's CONFIG_HZ, from /boot/config-$(uname -r) or
 * /proc/config.gz; -ENOENT when neither is there, -EINVAL when the value
 * is not one a kernel can have. The programs of a tw_dp stamp flows with
 * the inlined jiffies counter when this is known.
 */
int tw_kernel_hz(void);
/* CONFIG_HZ in the kernel config at @path (plain text or gzip), same errors. */
int tw_config_hz(const char *path);
/* The HZ a dp's flow clock runs on; 0: the coarse clock (HZ unknown). */
int tw_dp_hz(const struct tw_dp *dp);

/* Program fds, for PROG_TEST_RUN and for attaching by hand. */
int tw_dp_prog_fd_in(const struct tw_dp *dp);
int tw_dp_prog_fd_out(const struct tw_dp *dp);
int tw_dp_prog_fd_xdp(const struct tw_dp *dp);

/*
 * Attach tw_tun_in/tw_tun_out to TC ingress/egress of @ifindex. tcx links
 * are pinned as <pin_root>/links/<ifname>_{in,out}; cls_bpf filters use a
 * fixed handle and priority of our own so other filters are never touched.
 * Attaching an interface that already carries our programs is a no-op
 * returning 0 (re-adoption). @mode_used, if not NULL, tells which was used.
 */
int tw_dp_attach(struct tw_dp *dp, int ifindex, enum tw_attach_mode mode,
		 enum tw_attach_mode *mode_used);
int tw_dp_detach(struct tw_dp *dp, int ifindex);
/* Is our program attached to @ifindex (either mode)? */
bool tw_dp_attached(struct tw_dp *dp, int ifindex);

/* XDP on the public uplink. Generic XDP only if native fails. */
int tw_dp_attach_uplink(struct tw_dp *dp, int ifindex);

/* ---- clients ---- */

/* struct tw_addr, tw_addr_parse(), tw_prefix_parse(): tw_addr.h */

struct tw_client {
	uint32_t slot;
	int ifindex;
	uint32_t tenant;
	uint32_t profile;
	uint32_t state; /* enum tw_state */
	struct tw_addr addrs[4];
	int naddrs;
};

/*
 * Install a client: zero the slot's counters, bump its generation, write the
 * slot, then the address entries (per interface and peer entries). A slot
 * is only reused after tw_dp_client_remove(). -ENOSPC when a map is full,
 * -EEXIST when an address already belongs to another slot.
 */
int tw_dp_client_add(struct tw_dp *dp, const struct tw_client *c);
int tw_dp_client_set_state(struct tw_dp *dp, uint32_t slot, uint32_t state);
int tw_dp_client_remove(struct tw_dp *dp, const struct tw_client *c);
int tw_dp_slot_read(struct tw_dp *dp, uint32_t slot, struct tw_slot *out);

/* ---- allowlists ---- */

struct tw_rule {
	uint8_t list; /* enum tw_list */
	struct tw_addr prefix;
	uint8_t plen;
	uint8_t proto; /* 0 = any */
	uint16_t port_lo, port_hi; /* 0,65535 = any */
};

/*
 * Replace the whole allowlist (all three lists) of @profile atomically:
 * a new inner map is built and filled, then swapped into tw1_acl. Rules
 * are flattened (a prefix inherits the rules of the prefixes covering it).
 * -E2BIG if a prefix would carry more than TW_ACL_RULES_PER_PREFIX rules.
 */
int tw_dp_profile_set(struct tw_dp *dp, uint32_t profile, const struct tw_rule *rules,
		      size_t nrules);

/*
 * After allowlists changed: end the admitted connections whose opening
 * packet the current allowlists (of profiles this dp installed) would no
 * longer admit, and those of ended sessions. Returns how many, or -errno.
 * One walk over tw1_flows4 and tw1_flows6: a policy reload, not a per-packet
 * matter.
 */
int tw_dp_flows_revalidate(struct tw_dp *dp);

/* ---- counters ---- */

/* Sum the per-CPU counters of slots [first, first+n) into out[0..n). */
int tw_dp_counters_read(struct tw_dp *dp, uint32_t first, uint32_t n, struct tw_client_ctr *out);
int tw_dp_gcounters_read(struct tw_dp *dp, struct tw_gctr out[TW_G__MAX]);
int tw_dp_ucounters_read(struct tw_dp *dp, struct tw_gctr out[TW_U__MAX]);

/* ---- uplink ---- */
int tw_dp_ban_add(struct tw_dp *dp, const struct tw_addr *a, uint8_t plen, uint64_t ttl_ns);
int tw_dp_ban_remove(struct tw_dp *dp, const struct tw_addr *a, uint8_t plen);
int tw_dp_ban_sweep(struct tw_dp *dp); /* expired bans removed, count */
int tw_dp_vport_add(struct tw_dp *dp, uint8_t proto, uint16_t port, uint32_t kind);
int tw_dp_uplink_config(struct tw_dp *dp, const struct tw_uplink_cfg *cfg);

/* Raw map fds for tests and tools. */
enum tw_map_id {
	TW_MAP_CLIENTS,
	TW_MAP_SLOTS,
	TW_MAP_CCNT,
	TW_MAP_GCNT,
	TW_MAP_ACL,
	TW_MAP_FLOWS6, /* IPv6 connections (struct tw_flow6_key) */
	TW_MAP_FLOWS4, /* IPv4 connections (struct tw_flow4_key) */
	TW_MAP_BANS,
	TW_MAP_VPORTS,
	TW_MAP_UCFG,
	TW_MAP_HSRATE,
	TW_MAP_UCNT,
	TW_MAP_CTL,
	TW_MAP__MAX,
};
int tw_dp_map_fd(const struct tw_dp *dp, enum tw_map_id id);

/* A message for the last error of @dp (verifier log excerpt, map full, ...). */
const char *tw_dp_errstr(const struct tw_dp *dp);

#endif /* TW_DP_H */
