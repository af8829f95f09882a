// SPDX-License-Identifier: GPL-2.0-only
/*
 * libtw: the uplink program's maps: bans of real source prefixes, the VPN
 * ports it guards, the handshake rate limit.
 */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>

#include "tw_dp_internal.h"

static void ban_key(struct tw_ban_key *k, const struct tw_addr *a, uint8_t plen)
{
	memset(k, 0, sizeof(*k));
	k->family = a->family;
	k->prefixlen = TW_BAN_KEY_FIXED_BITS + plen;
	memcpy(k->addr, a->addr, a->family == TW_FAM_V4 ? 4 : 16);
	tw_addr_mask(k->addr, plen);
}

int tw_dp_ban_add(struct tw_dp *dp, const struct tw_addr *a, uint8_t plen, uint64_t ttl_ns)
{
	struct tw_ban_val v = {};
	struct tw_ban_key k;
	struct timespec ts;

	if (plen > tw_addr_bits(a->family))
		return dp_err(dp, -EINVAL, "ban: prefix length %u too long", plen);
	if (ttl_ns) {
		/* bpf_ktime_get_ns() is CLOCK_MONOTONIC */
		clock_gettime(CLOCK_MONOTONIC, &ts);
		v.expires_ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
		/* saturate: a wrapped sum would be a ban already expired */
		v.expires_ns = ttl_ns > UINT64_MAX - v.expires_ns ? UINT64_MAX :
								    v.expires_ns + ttl_ns;
	}
	ban_key(&k, a, plen);
	if (bpf_map_update_elem(dp->map_fd[TW_MAP_BANS], &k, &v, BPF_ANY))
		return map_full_err(dp, -errno, "tw1_bans");
	return 0;
}

int tw_dp_ban_remove(struct tw_dp *dp, const struct tw_addr *a, uint8_t plen)
{
	struct tw_ban_key k;

	ban_key(&k, a, plen);
	return bpf_map_delete_elem(dp->map_fd[TW_MAP_BANS], &k) ? -errno : 0;
}

/*
 * Delete expired bans. The trie answers with the longest matching prefix
 * only, so an expired /32 would otherwise hide a live /24 covering it.
 * Returns the number removed.
 */
int tw_dp_ban_sweep(struct tw_dp *dp)
{
	struct tw_ban_key k, next, *prev = NULL;
	struct tw_ban_key dead[256];
	struct tw_ban_val v;
	struct timespec ts;
	uint64_t now;
	int n = 0, fd = dp->map_fd[TW_MAP_BANS];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	/* collect first: deleting while walking a trie restarts the walk */
	while (n < 256 && bpf_map_get_next_key(fd, prev, &next) == 0) {
		if (bpf_map_lookup_elem(fd, &next, &v) == 0 && v.expires_ns && v.expires_ns <= now)
			dead[n++] = next;
		k = next;
		prev = &k;
	}
	for (int i = 0; i < n; i++)
		bpf_map_delete_elem(fd, &dead[i]);
	return n;
}

int tw_dp_vport_add(struct tw_dp *dp, uint8_t proto, uint16_t port, uint32_t kind)
{
	struct tw_vport_key k = { .proto = proto, .port = htons(port) };
	struct tw_vport_val v = { .kind = kind };

	if (bpf_map_update_elem(dp->map_fd[TW_MAP_VPORTS], &k, &v, BPF_ANY))
		return map_full_err(dp, -errno, "tw1_vports");
	return 0;
}

int tw_dp_uplink_config(struct tw_dp *dp, const struct tw_uplink_cfg *cfg)
{
	uint32_t zero = 0;

	if (bpf_map_update_elem(dp->map_fd[TW_MAP_UCFG], &zero, cfg, BPF_ANY))
		return dp_err(dp, -errno, "write uplink config: %s", strerror(errno));
	return 0;
}
