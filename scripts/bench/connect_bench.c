// SPDX-License-Identifier: GPL-2.0-only
/*
 * connect_bench: the latency of a connect decision with 100k clients loaded,
 * in the pieces the daemon runs for every OpenVPN client-connect:
 *   decide    tw_decide() against a 100k-subject policy
 *   install   + tw_dp_client_add() into maps already holding 100k clients
 *   journal   + a durable connect record (SQLite WAL, fsync)
 * Prints p50/p99/max per piece. Figures, not pass/fail.
 *
 * usage: connect_bench [-n CLIENTS] [-r ROUNDS] [-d DIR]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "config.h"
#include "journal.h"
#include "policy.h"
#include "session.h"
#include "tw_dp.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void report(const char *name, uint64_t *v, int n)
{
	size_t p50 = (size_t)n / 2, p99 = (size_t)n * 99 / 100, max = (size_t)n - 1;

	qsort(v, (size_t)n, sizeof(*v), cmp_u64);
	printf("  %-28s p50 %8.1f us   p99 %8.1f us   max %8.1f us\n", name, (double)v[p50] / 1e3,
	       (double)v[p99] / 1e3, (double)v[max] / 1e3);
}

static void client_addr(struct tw_addr *a, uint32_t i)
{
	memset(a, 0, sizeof(*a));
	a->family = TW_FAM_V4;
	a->addr[0] = 10;
	a->addr[1] = (uint8_t)(i >> 16);
	a->addr[2] = (uint8_t)(i >> 8);
	a->addr[3] = (uint8_t)i;
}

int main(int argc, char **argv)
{
	int nclients = 100000, rounds = 2000, opt, ret = EXIT_FAILURE;
	const char *dir = "/var/tmp";
	struct tw_dp_opts dpo = { .pin_root = "", .l3_off = 0 };
	uint64_t *t_dec = NULL, *t_inst = NULL, *t_jr = NULL;
	struct tw_journal_opts jo = { .node_id = "bench" };
	struct tw_policy *pol = NULL;
	struct tw_journal *jr = NULL;
	struct tw_dp *dp = NULL;
	struct tw_config cfg;
	char path[512] = "", err[256] = "", *buf = NULL;
	size_t cap, n = 0;

	while ((opt = getopt(argc, argv, "n:r:d:")) != -1) {
		if (opt == 'n')
			nclients = atoi(optarg);
		else if (opt == 'r')
			rounds = atoi(optarg);
		else if (opt == 'd')
			dir = optarg;
		else
			return EXIT_FAILURE;
	}
	if (nclients < 1 || nclients + rounds >= TW_MAX_CLIENTS || rounds < 100) {
		fprintf(stderr, "connect_bench: -n 1..%d, -r >= 100\n", TW_MAX_CLIENTS - rounds);
		return EXIT_FAILURE;
	}
	cap = 256 + (size_t)(nclients + rounds) * 100;
	buf = malloc(cap);
	t_dec = calloc((size_t)rounds, sizeof(*t_dec));
	t_inst = calloc((size_t)rounds, sizeof(*t_inst));
	t_jr = calloc((size_t)rounds, sizeof(*t_jr));
	if (!buf || !t_dec || !t_inst || !t_jr)
		goto out;
	n += (size_t)snprintf(buf + n, cap - n,
			      "{\"type\":\"snapshot\",\"version\":1,\"tenants\":[{\"id\":\"t\"}],"
			      "\"profiles\":[{\"id\":\"p\",\"interfaces\":[\"tun0\"],"
			      "\"from_client\":[{\"prefix\":\"10.0.0.0/8\"}]}],\"subjects\":[");
	for (int i = 0; i < nclients + rounds; i++)
		n += (size_t)snprintf(buf + n, cap - n,
				      "%s{\"kind\":\"cn\",\"id\":\"dev-%07d\",\"tenant\":\"t\","
				      "\"profiles\":[\"p\"],\"state\":\"enabled\"}",
				      i ? "," : "", i);
	n += (size_t)snprintf(buf + n, cap - n, "]}");
	pol = tw_policy_parse(buf, n, err, sizeof(err));
	if (!pol) {
		fprintf(stderr, "connect_bench: policy: %s\n", err);
		goto out;
	}
	tw_config_defaults(&cfg);
	dp = tw_dp_open(&dpo);
	if (!dp)
		goto out;
	snprintf(path, sizeof(path), "%s/connect_bench.%d.db", dir, (int)getpid());
	jr = tw_journal_open(path, &jo);
	if (!jr) {
		fprintf(stderr, "connect_bench: journal %s: %s\n", path, strerror(errno));
		goto out;
	}

	/* the node is already full: 100k live clients in the maps */
	for (int i = 0; i < nclients; i++) {
		struct tw_client c = { .slot = (uint32_t)i,
				       .ifindex = 1,
				       .tenant = 1,
				       .profile = 1,
				       .state = TW_STATE_PERMIT,
				       .naddrs = 1 };

		client_addr(&c.addrs[0], (uint32_t)i);
		if (tw_dp_client_add(dp, &c)) {
			fprintf(stderr, "connect_bench: preload: %s\n", tw_dp_errstr(dp));
			goto out;
		}
	}
	for (int r = 0; r < rounds; r++) {
		int i = nclients + r;
		struct tw_client c = { .slot = (uint32_t)i, .ifindex = 1, .naddrs = 1 };
		struct tw_record rec = { .kind = TW_REC_CONNECT };
		struct tw_decision d;
		char cn[32];
		uint64_t t0, t1, t2, t3;

		snprintf(cn, sizeof(cn), "dev-%07d", i);
		t0 = now_ns();
		tw_decide(pol, &cfg, TW_SUBJ_CN, cn, "tun0", 0, time(NULL), 0, &d);
		t1 = now_ns();
		c.tenant = d.tenant;
		c.profile = d.profile;
		c.state = TW_STATE_PERMIT;
		client_addr(&c.addrs[0], (uint32_t)i);
		if (d.verdict != TW_VERDICT_PERMIT || tw_dp_client_add(dp, &c)) {
			fprintf(stderr, "connect_bench: %s: %s\n", cn,
				d.verdict != TW_VERDICT_PERMIT ? d.reason : tw_dp_errstr(dp));
			goto out;
		}
		t2 = now_ns();
		rec.time_ns = (uint64_t)time(NULL) * 1000000000ull;
		snprintf(rec.subject, sizeof(rec.subject), "%s", cn);
		snprintf(rec.session, sizeof(rec.session), "s%d", i);
		if (tw_journal_append(jr, &rec, true)) {
			fprintf(stderr, "connect_bench: journal: %s\n", tw_journal_errstr(jr));
			goto out;
		}
		t3 = now_ns();
		t_dec[r] = t1 - t0;
		t_inst[r] = t2 - t0;
		t_jr[r] = t3 - t0;
	}
	printf("connect path with %d clients loaded, %d connects (journal in %s):\n", nclients,
	       rounds, dir);
	report("decide", t_dec, rounds);
	report("decide + dataplane install", t_inst, rounds);
	report("... + durable journal record", t_jr, rounds);
	ret = EXIT_SUCCESS;
out:
	if (jr)
		tw_journal_close(jr);
	if (path[0])
		tw_journal_remove(path);
	tw_dp_close(dp);
	tw_policy_free(pol);
	free(buf);
	free(t_dec);
	free(t_inst);
	free(t_jr);
	return ret;
}
