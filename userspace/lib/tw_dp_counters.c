// SPDX-License-Identifier: GPL-2.0-only
/*
 * libtw: reading the per-CPU counters (per client, global, uplink), summed
 * over the CPUs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "tw_dp_internal.h"

static void ctr_sum(struct tw_client_ctr *dst, const struct tw_client_ctr *percpu, int ncpus)
{
	memset(dst, 0, sizeof(*dst));
	for (int c = 0; c < ncpus; c++) {
		const struct tw_client_ctr *v = &percpu[c];

		dst->from_bytes += v->from_bytes;
		dst->from_pkts += v->from_pkts;
		dst->to_bytes += v->to_bytes;
		dst->to_pkts += v->to_pkts;
		for (int r = 0; r < TW_DROP__MAX; r++)
			dst->drops[r] += v->drops[r];
		dst->drop_bytes += v->drop_bytes;
	}
}

#define TW_CTR_BATCH 1024

int tw_dp_counters_read(struct tw_dp *dp, uint32_t first, uint32_t n, struct tw_client_ctr *out)
{
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	struct tw_client_ctr *buf;
	uint32_t *keys, done = 0;
	int err = 0;

	if (first >= dp->max_clients || n > dp->max_clients - first)
		return dp_err(dp, -ERANGE, "counter range %u+%u beyond %u slots", first, n,
			      dp->max_clients);
	buf = calloc((size_t)TW_CTR_BATCH * (size_t)dp->ncpus, sizeof(*buf));
	keys = calloc(TW_CTR_BATCH, sizeof(*keys));
	if (!buf || !keys) {
		err = -ENOMEM;
		goto out;
	}
	while (done < n) {
		/* batch lookup continues after in_batch: pass the slot before */
		uint32_t in = first + done - 1, outb, count = n - done;

		if (count > TW_CTR_BATCH)
			count = TW_CTR_BATCH;
		if (bpf_map_lookup_batch(dp->map_fd[TW_MAP_CCNT], first + done ? &in : NULL, &outb,
					 keys, buf, &count, &bo) &&
		    errno != ENOENT) {
			err = dp_err(dp, -errno, "read counters: %s", strerror(errno));
			goto out;
		}
		if (!count)
			break;
		for (uint32_t i = 0; i < count && done < n; i++, done++)
			ctr_sum(&out[done], &buf[(size_t)i * (size_t)dp->ncpus], dp->ncpus);
	}
	if (done < n)
		err = dp_err(dp, -EIO, "read counters: short batch (%u of %u)", done, n);
out:
	free(buf);
	free(keys);
	return err;
}

static int gctr_read(struct tw_dp *dp, int fd, uint32_t nidx, struct tw_gctr *out)
{
	struct tw_gctr *pc = calloc((size_t)dp->ncpus, sizeof(*pc));

	if (!pc)
		return -ENOMEM;
	for (uint32_t i = 0; i < nidx; i++) {
		out[i].pkts = out[i].bytes = 0;
		if (bpf_map_lookup_elem(fd, &i, pc)) {
			int err = -errno;

			free(pc);
			return err;
		}
		for (int c = 0; c < dp->ncpus; c++) {
			out[i].pkts += pc[c].pkts;
			out[i].bytes += pc[c].bytes;
		}
	}
	free(pc);
	return 0;
}

int tw_dp_gcounters_read(struct tw_dp *dp, struct tw_gctr out[TW_G__MAX])
{
	return gctr_read(dp, dp->map_fd[TW_MAP_GCNT], TW_G__MAX, out);
}

int tw_dp_ucounters_read(struct tw_dp *dp, struct tw_gctr out[TW_U__MAX])
{
	return gctr_read(dp, dp->map_fd[TW_MAP_UCNT], TW_U__MAX, out);
}
