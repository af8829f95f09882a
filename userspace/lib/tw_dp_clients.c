// SPDX-License-Identifier: GPL-2.0-only
/*
 * libtw: clients. A client is a slot in tw1_slots (state, tenant, profile,
 * generation) and its tunnel addresses in tw1_clients; installing one
 * bumps tw1_ctl's address generation so admitted connections re-run the
 * tenant check.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>

#include "tw_dp_internal.h"

static void client_key(struct tw_client_key *k, int ifindex, const struct tw_addr *a)
{
	memset(k, 0, sizeof(*k));
	k->ifindex = (uint32_t)ifindex;
	k->family = a->family;
	memcpy(k->addr, a->addr, a->family == TW_FAM_V4 ? 4 : 16);
}

int map_full_err(struct tw_dp *dp, int err, const char *map)
{
	if (err == -E2BIG || err == -ENOMEM || err == -ENOSPC)
		return dp_err(dp, -ENOSPC, "%s is full: raise its size or remove stale entries",
			      map);
	return dp_err(dp, err, "update %s: %s", map, strerror(-err));
}

static int slot_check(struct tw_dp *dp, uint32_t slot)
{
	if (slot >= dp->max_clients)
		return dp_err(dp, -ERANGE, "slot %u out of range (max %u)", slot, dp->max_clients);
	return 0;
}

static int counters_zero(struct tw_dp *dp, uint32_t slot)
{
	size_t sz = sizeof(struct tw_client_ctr) * (size_t)dp->ncpus;
	void *zero = calloc(1, sz);
	int err;

	if (!zero)
		return -ENOMEM;
	err = bpf_map_update_elem(dp->map_fd[TW_MAP_CCNT], &slot, zero, BPF_ANY) ? -errno : 0;
	free(zero);
	return err;
}

static void client_del_addrs(struct tw_dp *dp, const struct tw_client *c, int upto)
{
	for (int i = 0; i < upto; i++) {
		struct tw_client_key k;
		uint32_t cur;

		for (int pass = 0; pass < 2; pass++) {
			client_key(&k, pass ? 0 : c->ifindex, &c->addrs[i]);
			/* only our own entries: the address may since belong to another */
			if (bpf_map_lookup_elem(dp->map_fd[TW_MAP_CLIENTS], &k, &cur) == 0 &&
			    cur == c->slot)
				bpf_map_delete_elem(dp->map_fd[TW_MAP_CLIENTS], &k);
		}
	}
}

int addr_gen_bump(struct tw_dp *dp)
{
	uint32_t zero = 0;
	struct tw_ctl ctl;

	if (bpf_map_lookup_elem(dp->map_fd[TW_MAP_CTL], &zero, &ctl))
		return dp_err(dp, -errno, "read tw1_ctl: %s", strerror(errno));
	/* single writer (the daemon); the datapath only compares */
	ctl.addr_gen++;
	if (bpf_map_update_elem(dp->map_fd[TW_MAP_CTL], &zero, &ctl, BPF_ANY))
		return dp_err(dp, -errno, "write tw1_ctl: %s", strerror(errno));
	return 0;
}

int tw_dp_client_add(struct tw_dp *dp, const struct tw_client *c)
{
	struct tw_slot s = {};
	int err, i;

	err = slot_check(dp, c->slot);
	if (err)
		return err;
	if (c->naddrs < 0 || c->naddrs > (int)(sizeof(c->addrs) / sizeof(c->addrs[0])) ||
	    c->state == TW_STATE_FREE || c->state > TW_STATE_BANNED)
		return dp_err(dp, -EINVAL, "client slot %u: bad address count or state", c->slot);
	if (bpf_map_lookup_elem(dp->map_fd[TW_MAP_SLOTS], &c->slot, &s))
		return dp_err(dp, -errno, "read slot %u: %s", c->slot, strerror(errno));

	/* A fresh session: counters from zero, and a new generation so flows
	 * left by the slot's previous occupant never match. */
	err = counters_zero(dp, c->slot);
	if (err)
		return dp_err(dp, err, "zero counters of slot %u: %s", c->slot, strerror(-err));
	s.gen++;
	s.state = c->state;
	s.tenant = c->tenant;
	s.profile = c->profile;
	if (bpf_map_update_elem(dp->map_fd[TW_MAP_SLOTS], &c->slot, &s, BPF_ANY))
		return dp_err(dp, -errno, "write slot %u: %s", c->slot, strerror(errno));

	for (i = 0; i < c->naddrs; i++) {
		struct tw_client_key k;
		uint32_t cur;

		for (int pass = 0; pass < 2; pass++) {
			client_key(&k, pass ? 0 : c->ifindex, &c->addrs[i]);
			if (bpf_map_lookup_elem(dp->map_fd[TW_MAP_CLIENTS], &k, &cur) == 0 &&
			    cur != c->slot) {
				char a[INET6_ADDRSTRLEN];

				err = dp_err(dp, -EEXIST, "address %s already belongs to slot %u",
					     tw_addr_str(c->addrs[i].family, c->addrs[i].addr, a,
							 sizeof(a)),
					     cur);
				goto err_undo;
			}
			if (bpf_map_update_elem(dp->map_fd[TW_MAP_CLIENTS], &k, &c->slot,
						BPF_ANY)) {
				err = map_full_err(dp, -errno, "tw1_clients");
				goto err_undo;
			}
		}
	}
	/* after the addresses are in: admitted connections towards them run
	 * the tenant check again (the address may have belonged to a client of
	 * another tenant, or to none) */
	return addr_gen_bump(dp);

err_undo:
	client_del_addrs(dp, c, i + 1);
	s.state = TW_STATE_FREE;
	bpf_map_update_elem(dp->map_fd[TW_MAP_SLOTS], &c->slot, &s, BPF_ANY);
	return err;
}

int tw_dp_client_set_state(struct tw_dp *dp, uint32_t slot, uint32_t state)
{
	struct tw_slot s;
	int err = slot_check(dp, slot);

	if (err)
		return err;
	if (state > TW_STATE_BANNED)
		return dp_err(dp, -EINVAL, "slot %u: unknown state %u", slot, state);
	if (bpf_map_lookup_elem(dp->map_fd[TW_MAP_SLOTS], &slot, &s))
		return dp_err(dp, -errno, "read slot %u: %s", slot, strerror(errno));
	/* Connections admitted under PERMIT would ride the fast path on into
	 * the sandbox: a new generation makes them start over (BANNED and
	 * FREE are checked on the fast path itself). */
	if (s.state == TW_STATE_PERMIT && state == TW_STATE_SANDBOX)
		s.gen++;
	s.state = state;
	if (bpf_map_update_elem(dp->map_fd[TW_MAP_SLOTS], &slot, &s, BPF_ANY))
		return dp_err(dp, -errno, "write slot %u: %s", slot, strerror(errno));
	return 0;
}

int tw_dp_client_remove(struct tw_dp *dp, const struct tw_client *c)
{
	int err = slot_check(dp, c->slot);

	if (err)
		return err;
	/* state first: the datapath stops admitting before addresses vanish */
	err = tw_dp_client_set_state(dp, c->slot, TW_STATE_FREE);
	client_del_addrs(dp, c, c->naddrs);
	return err;
}

int tw_dp_slot_read(struct tw_dp *dp, uint32_t slot, struct tw_slot *out)
{
	int err = slot_check(dp, slot);

	if (err)
		return err;
	return bpf_map_lookup_elem(dp->map_fd[TW_MAP_SLOTS], &slot, out) ? -errno : 0;
}
