// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "admission.h"
#include "daemon.h"
#include "journal.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "policy.h"
#include "tw_dp.h"

struct tw_metrics {
	struct tw_watch w;
	struct tw_daemon *d;
};

/* A counter by direction: from the clients and to them. */
static void by_dir(FILE *f, const char *name, uint64_t from, uint64_t to)
{
	fprintf(f, "# TYPE %s counter\n%s{dir=\"from_client\"} %llu\n%s{dir=\"to_client\"} %llu\n",
		name, name, (unsigned long long)from, name, (unsigned long long)to);
}

/* The exposition body into @f; false when a counter read failed. */
static bool metrics_body(struct tw_daemon *d, FILE *f)
{
	struct tw_journal_stats st = {};
	struct tw_gctr g[TW_G__MAX], u[TW_U__MAX];
	uint64_t connects, denied;

	if (tw_dp_gcounters_read(d->dp, g) || tw_dp_ucounters_read(d->dp, u))
		return false;
	tw_journal_stats(d->jr, &st);
	tw_adm_counts(d, &connects, &denied);
	fprintf(f,
		"# HELP tunwarden_sessions Live client sessions.\n# TYPE tunwarden_sessions gauge\n"
		"tunwarden_sessions %u\n",
		tw_sessions_count(d->ss));
	fprintf(f, "# TYPE tunwarden_policy_version gauge\ntunwarden_policy_version %llu\n",
		(unsigned long long)(d->pol ? tw_policy_version(d->pol) : 0));
	fprintf(f, "# TYPE tunwarden_policy_age_seconds gauge\ntunwarden_policy_age_seconds %lld\n",
		(long long)(time(NULL) - d->pol_loaded));
	fprintf(f,
		"# TYPE tunwarden_connects_total counter\ntunwarden_connects_total %llu\n"
		"# TYPE tunwarden_connects_denied_total counter\n"
		"tunwarden_connects_denied_total %llu\n",
		(unsigned long long)connects, (unsigned long long)denied);
	fprintf(f, "# HELP tunwarden_drop_packets_total Tunnel packets dropped, by reason.\n"
		   "# TYPE tunwarden_drop_packets_total counter\n");
	for (uint32_t i = 1; i < TW_DROP__MAX; i++)
		fprintf(f, "tunwarden_drop_packets_total{reason=\"%s\"} %llu\n",
			tw_drop_reason_name(i), (unsigned long long)g[i].pkts);
	by_dir(f, "tunwarden_pass_bytes_total", g[TW_G_PASS_IN].bytes, g[TW_G_PASS_OUT].bytes);
	by_dir(f, "tunwarden_pass_packets_total", g[TW_G_PASS_IN].pkts, g[TW_G_PASS_OUT].pkts);
	fprintf(f,
		"# TYPE tunwarden_uplink_packets_total counter\n"
		"tunwarden_uplink_packets_total{verdict=\"banned\"} %llu\n"
		"tunwarden_uplink_packets_total{verdict=\"ratelimited\"} %llu\n"
		"tunwarden_uplink_packets_total{verdict=\"handshake\"} %llu\n",
		(unsigned long long)u[TW_U_BANNED].pkts, (unsigned long long)u[TW_U_RATELIMIT].pkts,
		(unsigned long long)u[TW_U_HANDSHAKE].pkts);
	fprintf(f,
		"# TYPE tunwarden_journal_last_seq gauge\ntunwarden_journal_last_seq %llu\n"
		"# TYPE tunwarden_journal_acked_seq gauge\ntunwarden_journal_acked_seq %llu\n"
		"# TYPE tunwarden_journal_bytes gauge\ntunwarden_journal_bytes %llu\n"
		"# TYPE tunwarden_journal_dropped_total counter\n"
		"tunwarden_journal_dropped_total %llu\n",
		(unsigned long long)st.last_seq, (unsigned long long)st.acked_seq,
		(unsigned long long)st.used_bytes, (unsigned long long)st.dropped);
	return true;
}

static void metrics_serve(void *ctx)
{
	struct tw_metrics *m = ctx;
	struct timeval tv = { .tv_sec = 1 };
	char req[1024], hdr[160], *body = NULL;
	size_t n = 0;
	FILE *f;
	bool ok;
	int hl, fd = accept4(m->w.fd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (read(fd, req, sizeof(req)) < 0)
		tw_dbg("metrics: read: %s", strerror(errno));
	/* grows with the body: more drop reasons never truncate the answer */
	f = open_memstream(&body, &n);
	if (!f)
		goto out;
	ok = metrics_body(m->d, f);
	if (fclose(f) || !ok)
		goto out;
	hl = snprintf(hdr, sizeof(hdr),
		      "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
		      "Content-Length: %zu\r\nConnection: close\r\n\r\n",
		      n);
	if (write(fd, hdr, (size_t)hl) < 0 || write(fd, body, n) < 0)
		tw_dbg("metrics: write: %s", strerror(errno));
out:
	free(body);
	close(fd);
}

int tw_metrics_open(struct tw_daemon *d)
{
	union {
		struct sockaddr_in v4;
		struct sockaddr_in6 v6;
	} sa = {};
	struct tw_metrics *m;
	socklen_t len;
	int one = 1, err;

	if (!d->cfg.metrics_enabled)
		return 0;
	if (d->cfg.metrics_family == AF_INET) {
		sa.v4.sin_family = AF_INET;
		sa.v4.sin_port = htons(d->cfg.metrics_port);
		memcpy(&sa.v4.sin_addr, d->cfg.metrics_addr, 4);
		len = sizeof(sa.v4);
	} else {
		sa.v6.sin6_family = AF_INET6;
		sa.v6.sin6_port = htons(d->cfg.metrics_port);
		memcpy(&sa.v6.sin6_addr, d->cfg.metrics_addr, 16);
		len = sizeof(sa.v6);
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->d = d;
	m->w = (struct tw_watch){ .name = "metrics", .fn = metrics_serve, .ctx = m };
	m->w.fd = socket(d->cfg.metrics_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (m->w.fd < 0) {
		err = -errno;
		goto err_free;
	}
	setsockopt(m->w.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(m->w.fd, (struct sockaddr *)&sa, len) || listen(m->w.fd, 16)) {
		err = -errno;
		goto err_close;
	}
	err = tw_loop_add(d->loop, &m->w);
	if (err)
		goto err_close;
	d->metrics = m;
	return 0;
err_close:
	close(m->w.fd);
err_free:
	free(m);
	return err;
}

void tw_metrics_close(struct tw_daemon *d)
{
	if (!d->metrics)
		return;
	tw_loop_del(d->loop, &d->metrics->w);
	close(d->metrics->w.fd);
	free(d->metrics);
	d->metrics = NULL;
}
