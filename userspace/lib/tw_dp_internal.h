/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * libtw's insides, shared by its modules (tw_dp.c loading and pinning,
 * tw_dp_attach.c, tw_dp_clients.c, tw_dp_acl.c, tw_dp_flows.c,
 * tw_dp_counters.c, tw_dp_uplink.c). Not for users of the library: they
 * see tw_dp.h.
 */
#ifndef TW_DP_INTERNAL_H
#define TW_DP_INTERNAL_H

#include <stdbool.h>
#include "tw_dp.h"

#define TW_MAX_MEM_LINKS 64

struct tw_mem_link {
	int ifindex;
	int fd[2]; /* in, out */
};

struct tw_bpf;

struct tw_dp {
	struct tw_bpf *skel; /* every program and map: one linked object */
	char pin_root[256]; /* "" = no pinning */
	int map_fd[TW_MAP__MAX];
	uint32_t max_clients;
	int ncpus;
	int hz; /* of the flow clock; 0: the coarse clock */
	/* tcx links of an unpinned dp (tests) live only as fds */
	struct tw_mem_link mem_links[TW_MAX_MEM_LINKS];
	/* the allowlists this dp installed, for re-checking connections */
	int acl_fd[TW_MAX_PROFILES];
	char err[512];
};

/* Set the dp's error message; returns @err. */
int dp_err(struct tw_dp *dp, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* -ENOSPC with a message when @err says the map is full, else the error named. */
int map_full_err(struct tw_dp *dp, int err, const char *map);
/* Bump tw1_ctl's address generation (tw_dp_clients.c). */
int addr_gen_bump(struct tw_dp *dp);
/* Around libbpf calls whose failure is an answer, not an error. */
extern bool tw_quiet;

#endif /* TW_DP_INTERNAL_H */
