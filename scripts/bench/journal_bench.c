// SPDX-License-Identifier: GPL-2.0-only
/*
 * journal_bench: how much group commit buys. Appends realistic interim
 * records in three ways to fresh journals in the same directory, in the
 * same run, and prints records/s and the ratios:
 *   group    non-durable appends committed 1000 (-b) to a transaction
 *   single   non-durable, one transaction per record (synchronous=NORMAL)
 *   durable  one durable append per record (synchronous=FULL: an fsync each)
 * The directory should be on the disk the daemon will use (default
 * /var/tmp); on tmpfs fsync is free and the durable figure means nothing.
 *
 *   build/bench/journal_bench [-d DIR] [-n GROUP_RECORDS] [-D DURABLE_RECORDS] [-b BATCH]
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include "journal.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void interim(struct tw_record *r, unsigned int i)
{
	memset(r, 0, sizeof(*r));
	r->kind = TW_REC_INTERIM;
	snprintf(r->session, sizeof(r->session), "s-%08x", i % 500);
	snprintf(r->subject, sizeof(r->subject), "CN=user%u@example.org", i % 500);
	strcpy(r->tenant, "acme");
	strcpy(r->profile, "employees");
	r->has_tun4 = true;
	inet_pton(AF_INET, "10.8.3.17", r->tun4);
	r->real_family = TW_FAM_V4;
	inet_pton(AF_INET, "192.0.2.44", r->real_addr);
	r->real_port = 40000 + i % 1000;
	r->policy_version = 1234;
	r->has_counters = true;
	r->ctr.from_bytes = 1000000ull * i;
	r->ctr.from_pkts = 1000ull * i;
	r->ctr.to_bytes = 9000000ull * i;
	r->ctr.to_pkts = 7000ull * i;
	r->ctr.drops[TW_DROP_NOT_ALLOWED] = i / 10;
	r->ctr.drop_pkts = i / 10;
}

/* Returns records/s, or a negative value on error (printed). */
static double run(const char *dir, const char *name, unsigned int n, uint32_t batch, bool durable)
{
	struct tw_journal_opts o = { .node_id = "bench", .batch_max = batch };
	char path[512];
	struct tw_journal *j;
	struct tw_record r;
	double t0, t;
	unsigned int i;
	int err = 0;

	snprintf(path, sizeof(path), "%s/journal_bench.%d.%s.db", dir, (int)getpid(), name);
	j = tw_journal_open(path, &o);
	if (!j) {
		fprintf(stderr, "journal_bench: %s\n", tw_journal_errstr(NULL));
		return -1;
	}
	t0 = now_s();
	for (i = 0; i < n && !err; i++) {
		interim(&r, i + 1);
		err = tw_journal_append(j, &r, durable);
	}
	if (!err)
		err = tw_journal_flush(j);
	t = now_s() - t0;
	if (err)
		fprintf(stderr, "journal_bench: %s: %s\n", name, tw_journal_errstr(j));
	else if (tw_journal_last_seq(j) != n) {
		fprintf(stderr, "journal_bench: %s: last seq %llu, expected %u\n", name,
			(unsigned long long)tw_journal_last_seq(j), n);
		err = -EIO;
	}
	tw_journal_close(j);
	tw_journal_remove(path);
	if (err)
		return -1;
	printf("%-8s %-44s %7u records in %7.3f s = %10.0f records/s\n", name,
	       durable	  ? "durable, one FULL-sync commit each" :
	       batch == 1 ? "interim, one NORMAL commit each" :
			    "interim, group commit",
	       n, t, n / t);
	return n / t;
}

int main(int argc, char **argv)
{
	unsigned int ngroup = 100000, ndurable = 1000;
	const char *dir = "/var/tmp";
	uint32_t batch = 1000;
	double group, single, durable;
	struct statfs st;
	int opt;

	while ((opt = getopt(argc, argv, "d:n:D:b:h")) != -1) {
		switch (opt) {
		case 'd':
			dir = optarg;
			break;
		case 'n':
			ngroup = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'D':
			ndurable = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'b':
			batch = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		default:
			fprintf(stderr,
				"usage: %s [-d DIR] [-n GROUP_RECORDS] [-D DURABLE_RECORDS] "
				"[-b BATCH]\n",
				argv[0]);
			return opt == 'h' ? EXIT_SUCCESS : EXIT_FAILURE;
		}
	}
	if (!ngroup || !ndurable || !batch) {
		fprintf(stderr, "journal_bench: counts and batch must be > 0\n");
		return EXIT_FAILURE;
	}
	printf("journal_bench: %s%s, batch %u\n", dir,
	       statfs(dir, &st) == 0 && st.f_type == TMPFS_MAGIC ?
		       " (tmpfs: fsync is free, the durable figure is not a disk's)" :
		       "",
	       batch);
	group = run(dir, "group", ngroup, batch, false);
	single = run(dir, "single", ndurable, 1, false);
	durable = run(dir, "durable", ndurable, 1, true);
	if (group < 0 || single < 0 || durable < 0)
		return EXIT_FAILURE;
	printf("ratio group/durable: %.1fx\n", group / durable);
	printf("ratio group/single:  %.1fx\n", group / single);
	return EXIT_SUCCESS;
}
