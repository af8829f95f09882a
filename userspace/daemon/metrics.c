// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "adapter.h"
#include "admission.h"
#include "ctl.h"
#include "daemon.h"
#include "journal.h"
#include "links.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "policy.h"
#include "tw_dp.h"

/*
 * Any local user can reach the port, so each connection is non-blocking in
 * the one loop: the request must arrive within a deadline, the answer is
 * written as the socket takes it, and beyond a few connections the oldest is
 * closed, so idle connections cannot keep a scraper out for long.
 */
#define METRICS_MAX_CONNS 4
#define METRICS_READ_MS	  3000 /* the request's headers must be in by then */
#define METRICS_SEND_MS	  3000 /* and the answer taken by then */
#define METRICS_REQ_MAX	  2048 /* request bytes read; the rest is ignored */

struct mconn {
	struct tw_watch w; /* w.fd < 0: free */
	struct tw_metrics *m;
	int64_t accepted_ms, deadline_ms;
	size_t req_len;
	char *out; /* the answer, out[off..len); NULL while reading the request */
	size_t out_off, out_len;
	char req[METRICS_REQ_MAX];
};

struct tw_metrics {
	struct tw_watch w;
	struct tw_daemon *d;
	struct mconn conns[METRICS_MAX_CONNS];
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
	uint64_t connects, denied, refused, expired;

	if (tw_dp_gcounters_read(d->dp, g) || tw_dp_ucounters_read(d->dp, u))
		return false;
	tw_journal_stats(d->jr, &st);
	tw_adm_counts(d, &connects, &denied);
	tw_adm_hook_counts(d, &refused, &expired);
	fprintf(f,
		"# HELP tunwarden_hook_requests_refused_total Hook requests failing the daemon's "
		"re-check.\n# TYPE tunwarden_hook_requests_refused_total counter\n"
		"tunwarden_hook_requests_refused_total %llu\n"
		"# HELP tunwarden_hook_requests_expired_total Connects dropped past the hook's "
		"deadline.\n# TYPE tunwarden_hook_requests_expired_total counter\n"
		"tunwarden_hook_requests_expired_total %llu\n",
		(unsigned long long)refused, (unsigned long long)expired);
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
	tw_links_metrics(d, f);
	tw_adapters_metrics(d, f);
	return true;
}

static void mconn_close(struct mconn *c)
{
	tw_loop_del(c->m->d->loop, &c->w);
	close(c->w.fd);
	free(c->out);
	c->out = NULL;
	c->w.fd = -1;
}

/* The whole answer into c->out: the figures now, whatever was asked. */
static int mconn_answer(struct mconn *c)
{
	char hdr[160], *body = NULL, *out;
	size_t n = 0;
	FILE *f;
	bool ok;
	int hl;

	/* grows with the body: more drop reasons never truncate the answer */
	f = open_memstream(&body, &n);
	if (!f)
		return -ENOMEM;
	ok = metrics_body(c->m->d, f);
	if (fclose(f) || !ok) {
		free(body);
		return -EIO;
	}
	hl = snprintf(hdr, sizeof(hdr),
		      "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
		      "Content-Length: %zu\r\nConnection: close\r\n\r\n",
		      n);
	out = malloc((size_t)hl + n);
	if (!out) {
		free(body);
		return -ENOMEM;
	}
	memcpy(out, hdr, (size_t)hl);
	memcpy(out + hl, body, n);
	free(body);
	c->out = out;
	c->out_off = 0;
	c->out_len = (size_t)hl + n;
	return 0;
}

/* The end of the request's headers, or of what we read of it. */
static bool mconn_request_done(const struct mconn *c)
{
	return c->req_len == sizeof(c->req) || memmem(c->req, c->req_len, "\r\n\r\n", 4) ||
	       memmem(c->req, c->req_len, "\n\n", 2);
}

static void mconn_event(void *ctx)
{
	struct mconn *c = ctx;
	ssize_t n;

	if (c->w.fd < 0)
		return;
	if (!c->out) {
		n = read(c->w.fd, c->req + c->req_len, sizeof(c->req) - c->req_len);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n < 0) {
			mconn_close(c);
			return;
		}
		c->req_len += (size_t)n;
		/* an early end of file still gets its answer, as HTTP/1.0 clients expect */
		if (n > 0 && !mconn_request_done(c))
			return;
		if (mconn_answer(c) || tw_loop_mod(c->m->d->loop, &c->w, false, true)) {
			mconn_close(c);
			return;
		}
		c->deadline_ms = tw_ctl_now_ms() + METRICS_SEND_MS;
	}
	while (c->out_off < c->out_len) {
		n = send(c->w.fd, c->out + c->out_off, c->out_len - c->out_off,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0)
			break;
		c->out_off += (size_t)n;
	}
	mconn_close(c);
}

static void metrics_accept(void *ctx)
{
	struct tw_metrics *m = ctx;
	struct mconn *c = NULL;
	int fd = accept4(m->w.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	for (int i = 0; i < METRICS_MAX_CONNS; i++) {
		struct mconn *o = &m->conns[i];

		if (o->w.fd < 0) {
			c = o;
			break;
		}
		if (!c || o->accepted_ms < c->accepted_ms)
			c = o;
	}
	if (c->w.fd >= 0) {
		/* full: the newcomer is likelier a scraper than the oldest is */
		tw_dbg("metrics: %d connections open, closing the oldest", METRICS_MAX_CONNS);
		mconn_close(c);
	}
	c->w.fd = fd;
	c->req_len = 0;
	c->accepted_ms = tw_ctl_now_ms();
	c->deadline_ms = c->accepted_ms + METRICS_READ_MS;
	if (tw_loop_add(m->d->loop, &c->w))
		mconn_close(c);
}

/* The loop's 1 s timer: close the connections past their deadline. */
static void metrics_sweep(void *ctx)
{
	struct tw_daemon *d = ctx;
	int64_t now = tw_ctl_now_ms();

	if (!d->metrics)
		return;
	for (int i = 0; i < METRICS_MAX_CONNS; i++) {
		struct mconn *c = &d->metrics->conns[i];

		if (c->w.fd < 0 || now < c->deadline_ms)
			continue;
		tw_dbg("metrics: connection %s in time, closed",
		       c->out ? "did not take its answer" : "sent no request");
		mconn_close(c);
	}
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
	for (int i = 0; i < METRICS_MAX_CONNS; i++)
		m->conns[i] = (struct mconn){
			.w = { .name = "metrics client",
			       .fd = -1,
			       .fn = mconn_event,
			       .ctx = &m->conns[i] },
			.m = m,
		};
	m->w = (struct tw_watch){ .name = "metrics", .fn = metrics_accept, .ctx = m };
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
	err = tw_loop_timer(d->loop, "metrics deadlines", 1, metrics_sweep, d);
	if (err)
		goto err_del;
	d->metrics = m;
	return 0;
err_del:
	tw_loop_del(d->loop, &m->w);
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
	for (int i = 0; i < METRICS_MAX_CONNS; i++)
		if (d->metrics->conns[i].w.fd >= 0)
			mconn_close(&d->metrics->conns[i]);
	tw_loop_del(d->loop, &d->metrics->w);
	close(d->metrics->w.fd);
	free(d->metrics);
	d->metrics = NULL;
}
