// SPDX-License-Identifier: GPL-2.0-only
/*
 * libtw: re-checking admitted connections after allowlists changed, with
 * the datapath's own matcher (tunwarden/acl_match.h) on the same tries.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include <tunwarden/acl_match.h>

#include "tw_dp_internal.h"

/*
 * Would the allowlist admit the packet that opened this connection now?
 * The same LPM lookup and rule match the datapath does, on the same map.
 * -ENOENT when this dp has no allowlist of the profile (keep the flow).
 */
static int flow_still_allowed(struct tw_dp *dp, const struct tw_flow6_key *k,
			      const struct tw_flow_val *v, const struct tw_slot *sl)
{
	struct tw_acl_key ak = { .family = k->family };
	struct tw_acl_val av;
	bool ports = k->proto == IPPROTO_TCP || k->proto == IPPROTO_UDP ||
		     k->proto == IPPROTO_SCTP || k->proto == IPPROTO_UDPLITE;
	uint16_t port;

	if (sl->profile >= TW_MAX_PROFILES || dp->acl_fd[sl->profile] < 0)
		return -ENOENT;
	if (v->opened == TW_DIR_FROM_CLIENT) {
		ak.list = sl->state == TW_STATE_SANDBOX ? TW_LIST_SANDBOX : TW_LIST_FROM_CLIENT;
		port = ntohs(k->rport);
	} else {
		if (sl->state == TW_STATE_SANDBOX)
			return 0;
		ak.list = TW_LIST_TO_CLIENT;
		port = ntohs(k->cport);
	}
	memcpy(ak.addr, k->raddr, 16);
	ak.prefixlen = TW_ACL_KEY_FIXED_BITS + (k->family == TW_FAM_V4 ? 32 : 128);
	if (bpf_map_lookup_elem(dp->acl_fd[sl->profile], &ak, &av))
		return 0;
	return tw_acl_match(&av, k->proto, ports, port);
}

/* An IPv4 connection's key in the layout the IPv6 map and the checks use. */
static void flow4_widen(struct tw_flow6_key *k, const struct tw_flow4_key *k4)
{
	memset(k, 0, sizeof(*k));
	k->ifindex = k4->ifindex;
	k->family = TW_FAM_V4;
	k->proto = k4->proto;
	k->kind = k4->kind;
	k->cport = k4->cport;
	k->rport = k4->rport;
	memcpy(k->caddr, &k4->caddr, 4);
	memcpy(k->raddr, &k4->raddr, 4);
}

/* One connection map: collect the dead keys first (deleting while walking
 * would restart the walk), then delete them. Returns how many went. */
static int flows_revalidate_map(struct tw_dp *dp, int fd, size_t key_size, bool v4)
{
	union {
		struct tw_flow6_key k6;
		struct tw_flow4_key k4;
	} k, next;
	unsigned char *dead = NULL;
	size_t ndead = 0, cap = 0;
	bool first = true;
	int n = 0, err = 0;

	while (bpf_map_get_next_key(fd, first ? NULL : &k, &next) == 0) {
		struct tw_flow6_key wide;
		struct tw_flow_val v;
		struct tw_slot sl;
		bool drop;

		k = next;
		first = false;
		if (bpf_map_lookup_elem(fd, &k, &v))
			continue; /* evicted meanwhile */
		if (v.slot >= dp->max_clients ||
		    bpf_map_lookup_elem(dp->map_fd[TW_MAP_SLOTS], &v.slot, &sl))
			continue;
		if (v4)
			flow4_widen(&wide, &k.k4);
		else
			wide = k.k6;
		/* connections of ended sessions are dead weight: the datapath
		 * already ignores them (generation), the LRU would age them out */
		drop = sl.gen != v.gen || sl.state == TW_STATE_FREE;
		if (!drop && wide.kind == TW_FLOW_CONN)
			drop = flow_still_allowed(dp, &wide, &v, &sl) == 0;
		if (!drop)
			continue;
		if (ndead == cap) {
			size_t ncap = cap ? 2 * cap : 256;
			unsigned char *nd = realloc(dead, ncap * key_size);

			if (!nd) {
				err = -ENOMEM;
				break;
			}
			dead = nd;
			cap = ncap;
		}
		memcpy(dead + ndead++ * key_size, &k, key_size);
	}
	for (size_t i = 0; i < ndead; i++)
		if (bpf_map_delete_elem(fd, dead + i * key_size) == 0)
			n++;
	free(dead);
	return err ? err : n;
}

int tw_dp_flows_revalidate(struct tw_dp *dp)
{
	int n4, n6, err = 0;

	n4 = flows_revalidate_map(dp, dp->map_fd[TW_MAP_FLOWS4], sizeof(struct tw_flow4_key), true);
	n6 = flows_revalidate_map(dp, dp->map_fd[TW_MAP_FLOWS6], sizeof(struct tw_flow6_key),
				  false);
	/* After the deletes (a failed walk may have deleted some too): the
	 * per-CPU connection caches of the datapath then forget every
	 * connection they hold, since they read the generation before they
	 * look a connection up. */
	if (n4 || n6)
		err = addr_gen_bump(dp);
	if (n4 < 0 || n6 < 0)
		return dp_err(dp, n4 < 0 ? n4 : n6, "revalidate connections: %s",
			      strerror(n4 < 0 ? -n4 : -n6));
	if (err)
		return err;
	return n4 + n6;
}
