// SPDX-License-Identifier: GPL-2.0-only
/*
 * The portal link: see portal.h. One connection at a time (two while
 * moving streams off a connection that said GOAWAY NO_ERROR), a retry
 * schedule for it and one per stream (protocol.md 6.4), health records, and
 * the link's part of `tunwarden status`. Connections are freed from the
 * tick, never inside their own callbacks.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>
#include <jansson.h>

#include "daemon.h"
#include "fileio.h"
#include "h2conn.h"
#include "journal.h"
#include "log.h"
#include "loop.h"
#include "policy.h"
#include "health.h"
#include "polstream.h"
#include "portal.h"
#include "recstream.h"

#define CONN_STABLE_MS 60000 /* a connection up this long resets its schedule */
#define TOKEN_MAX      4096
#define NSTREAMS       2

/* One connection and what the link knows of it. */
struct pconn {
	struct tw_portal *p;
	struct tw_h2conn *c;
	bool up, down;
	struct pconn *next_dead;
};

struct sched {
	struct tw_timer t;
	struct tw_backoff normal, slow;
	bool pending; /* a retry is armed: on_up leaves the stream to it */
	enum tw_link_retry kind;
	enum tw_link_stream s;
	struct tw_portal *p;
};

struct tw_portal {
	struct tw_daemon *d;
	struct pconn *cur, *old, *dead;
	struct tw_timer t_conn, t_tick;
	struct tw_backoff conn_normal, conn_slow;
	bool conn_pending, closing;
	bool down_alerted; /* the outage's alert record is written */
	struct sched st[NSTREAMS];
	struct tw_recstream *rs;
	struct tw_polstream *ps;
	time_t since; /* connected or disconnected since (realtime) */
	struct timespec up_mono;
	uint64_t last_health_ms;
	char authz[TOKEN_MAX + 16];
	char base_path[TW_CFG_PATH_MAX];
	char last_error[512];
};

static const char *const stream_names[NSTREAMS] = {
	[TW_STREAM_RECORDS] = "record stream",
	[TW_STREAM_POLICY] = "policy stream",
};

static uint64_t mono_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

static uint64_t rnd64(void)
{
	uint64_t r = 0;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
		r = (uint64_t)mono_ms() * 6364136223846793005ULL;
	return r;
}

static uint64_t delay_ms(struct tw_portal *p, struct tw_backoff *normal, struct tw_backoff *slow,
			 enum tw_link_retry r, unsigned int retry_after)
{
	const struct tw_portal_cfg *c = &p->d->cfg.portal;

	switch (r) {
	case TW_RETRY_NOW:
		return 1;
	case TW_RETRY_SLOW:
		return tw_backoff_delay(slow, TW_SLOW_FIRST_MS, TW_SLOW_CAP_MS, retry_after,
					rnd64());
	default:
		return tw_backoff_delay(normal, c->backoff_initial_ms, c->backoff_max_ms,
					retry_after, rnd64());
	}
}

static bool link_up(const struct tw_portal *p)
{
	return p->cur && p->cur->up && !p->cur->down;
}

/* ---- streams ---- */

static bool stream_open(struct tw_portal *p, enum tw_link_stream s)
{
	if (s == TW_STREAM_RECORDS)
		return tw_recstream_open(p->rs);
	return tw_polstream_open(p->ps);
}

static void stream_stop(struct tw_portal *p, enum tw_link_stream s)
{
	if (s == TW_STREAM_RECORDS)
		tw_recstream_stop(p->rs);
	else
		tw_polstream_stop(p->ps);
}

static void stream_start(struct tw_portal *p, enum tw_link_stream s)
{
	int err;

	if (!link_up(p) || p->st[s].pending)
		return;
	if (stream_open(p, s))
		stream_stop(p, s); /* still on the connection we move from */
	err = s == TW_STREAM_RECORDS ? tw_recstream_start(p->rs, p->cur->c) :
				       tw_polstream_start(p->ps, p->cur->c);
	if (err)
		tw_portal_stream_ended(p->d, s, TW_RETRY_NORMAL, 0, strerror(-err));
}

static void on_stream_retry(void *ctx)
{
	struct sched *sc = ctx;

	sc->pending = false;
	stream_start(sc->p, sc->s);
}

void tw_portal_stream_ended(struct tw_daemon *d, enum tw_link_stream s, enum tw_link_retry r,
			    unsigned int retry_after_s, const char *why)
{
	struct tw_portal *p = d->portal;
	struct sched *sc;
	uint64_t ms;

	if (!p || p->closing)
		return;
	sc = &p->st[s];
	ms = delay_ms(p, &sc->normal, &sc->slow, r, retry_after_s);
	if (r != TW_RETRY_NOW) {
		tw_warn("portal: %s: %s; retrying in %llu.%03llu s", stream_names[s], why,
			(unsigned long long)ms / 1000, (unsigned long long)ms % 1000);
		snprintf(p->last_error, sizeof(p->last_error), "%s", why);
	}
	sc->pending = true;
	sc->kind = r;
	tw_timer_arm_ms(&sc->t, ms);
}

void tw_portal_stream_progress(struct tw_daemon *d, enum tw_link_stream s)
{
	struct tw_portal *p = d->portal;

	if (!p)
		return;
	tw_backoff_reset(&p->st[s].normal);
	tw_backoff_reset(&p->st[s].slow);
}

/* ---- the connection ---- */

static void connect_now(struct tw_portal *p);

static void conn_up(void *ctx)
{
	struct pconn *pc = ctx;
	struct tw_portal *p = pc->p;

	pc->up = true;
	if (pc != p->cur)
		return;
	p->since = time(NULL);
	clock_gettime(CLOCK_MONOTONIC, &p->up_mono);
	tw_info("portal: connected (%s)", tw_h2_describe(pc->c));
	stream_start(p, TW_STREAM_RECORDS);
	stream_start(p, TW_STREAM_POLICY);
	p->down_alerted = false;
	if (!tw_health_append(p->d, "link", NULL))
		tw_portal_records_ready(p->d);
	p->last_health_ms = mono_ms();
}

static void conn_down(void *ctx, const char *why, bool graceful, bool tls_auth)
{
	struct pconn *pc = ctx;
	struct tw_portal *p = pc->p;
	enum tw_link_retry r;
	uint64_t ms;
	int s;

	pc->down = true;
	pc->next_dead = p->dead;
	p->dead = pc; /* freed from the tick */
	if (pc == p->old) {
		p->old = NULL;
		return;
	}
	if (pc != p->cur)
		return;
	p->cur = NULL;
	if (p->closing)
		return;
	if (pc->up)
		p->since = time(NULL);
	r = graceful ? TW_RETRY_NOW : tls_auth ? TW_RETRY_SLOW : TW_RETRY_NORMAL;
	ms = delay_ms(p, &p->conn_normal, &p->conn_slow, r, 0);
	if (!graceful) {
		tw_warn("portal: connection %s: %s; reconnecting in %llu.%03llu s",
			pc->up ? "lost" : "failed", why, (unsigned long long)ms / 1000,
			(unsigned long long)ms % 1000);
		snprintf(p->last_error, sizeof(p->last_error), "%s", why);
	} else {
		tw_info("portal: connection closed (%s); reconnecting", why);
	}
	/* Streams that ended with the connection wait for the next one, not
	 * for their own schedule; refused content keeps its slow schedule. */
	for (s = 0; s < NSTREAMS; s++) {
		if (p->st[s].pending && p->st[s].kind != TW_RETRY_SLOW) {
			p->st[s].pending = false;
			tw_timer_arm_ms(&p->st[s].t, 0);
		}
	}
	p->conn_pending = true;
	tw_timer_arm_ms(&p->t_conn, ms);
}

/* 6.3: a graceful GOAWAY with streams open: a new connection takes them. */
static void conn_goaway(void *ctx)
{
	struct pconn *pc = ctx;
	struct tw_portal *p = pc->p;

	if (pc != p->cur || p->closing || p->old)
		return;
	tw_info("portal: GOAWAY NO_ERROR: moving the streams to a new connection");
	p->old = pc;
	p->cur = NULL;
	connect_now(p);
}

static const struct tw_h2conn_ops conn_ops = {
	.on_up = conn_up,
	.on_down = conn_down,
	.on_goaway = conn_goaway,
};

static void connect_now(struct tw_portal *p)
{
	struct pconn *pc;
	char err[512];
	uint64_t ms;

	p->conn_pending = false;
	if (p->cur || p->closing)
		return;
	pc = calloc(1, sizeof(*pc));
	if (!pc)
		goto retry;
	pc->p = p;
	pc->c = tw_h2_connect(p->d->loop, &p->d->cfg.portal, p->authz[0] ? p->authz : NULL,
			      &conn_ops, pc, err, sizeof(err));
	if (!pc->c) {
		free(pc);
		tw_err("portal: %s", err);
		snprintf(p->last_error, sizeof(p->last_error), "%s", err);
		ms = delay_ms(p, &p->conn_normal, &p->conn_slow, TW_RETRY_SLOW, 0);
		p->conn_pending = true;
		tw_timer_arm_ms(&p->t_conn, ms);
		return;
	}
	p->cur = pc;
	return;
retry:
	p->conn_pending = true;
	tw_timer_arm_ms(&p->t_conn, 1000);
}

static void on_conn_retry(void *ctx)
{
	connect_now(ctx);
}

static void reap(struct tw_portal *p)
{
	struct pconn *pc;

	while ((pc = p->dead)) {
		p->dead = pc->next_dead;
		tw_h2_free(pc->c);
		free(pc);
	}
}

static void on_tick(void *ctx)
{
	struct tw_portal *p = ctx;
	const struct tw_portal_cfg *c = &p->d->cfg.portal;
	struct timespec now;

	tw_timer_arm_ms(&p->t_tick, 1000);
	reap(p);
	if (!link_up(p)) {
		/* one alert record once the portal has been away for offline_grace */
		if (tw_health_link_down(p->d, p->since, &p->down_alerted) > 0)
			tw_portal_records_ready(p->d);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	if ((uint64_t)(now.tv_sec - p->up_mono.tv_sec) * 1000 >= CONN_STABLE_MS) {
		tw_backoff_reset(&p->conn_normal);
		tw_backoff_reset(&p->conn_slow);
	}
	tw_recstream_tick(p->rs);
	tw_polstream_tick(p->ps);
	if (mono_ms() - p->last_health_ms >= c->health_interval_ms) {
		p->last_health_ms = mono_ms();
		if (!tw_health_append(p->d, "periodic", NULL))
			tw_portal_records_ready(p->d);
	}
}

/* ---- configuration ---- */

/* The bearer token (protocol.md 3.2): the file less one trailing LF or CRLF,
 * 1..4096 characters of RFC 6750's b64token. */
static int read_token(struct tw_portal *p, const char *path)
{
	char buf[TOKEN_MAX + 3];
	ssize_t n;
	size_t i, len;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0) {
		tw_err("portal: token_file %s: %s", path, strerror(errno));
		return -errno;
	}
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0) {
		tw_err("portal: token_file %s: %s", path, strerror(errno));
		return -EIO;
	}
	len = (size_t)n;
	if (len && buf[len - 1] == '\n')
		len--;
	if (len && buf[len - 1] == '\r')
		len--;
	if (!len || len > TOKEN_MAX) {
		tw_err("portal: token_file %s: the token must be 1..%d characters", path,
		       TOKEN_MAX);
		return -EINVAL;
	}
	for (i = 0; i < len; i++) {
		if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/=",
			    buf[i]) ||
		    !buf[i]) {
			tw_err("portal: token_file %s: byte %zu is not a b64token character", path,
			       i + 1);
			return -EINVAL;
		}
	}
	snprintf(p->authz, sizeof(p->authz), "Bearer %.*s", (int)len, buf);
	return 0;
}

/* The URL's path: "/" or "/base/" (config.c made sure it ends in '/'). */
static void base_path(struct tw_portal *p, const char *url)
{
	const char *h = strstr(url, "://"), *slash;

	slash = h ? strchr(h + 3, '/') : NULL;
	snprintf(p->base_path, sizeof(p->base_path), "%s", slash ? slash : "/");
}

const char *tw_portal_base_path(const struct tw_daemon *d)
{
	return d->portal ? d->portal->base_path : "/";
}

int tw_portal_open(struct tw_daemon *d)
{
	const struct tw_portal_cfg *c = &d->cfg.portal;
	struct tw_portal *p;
	int err, s;

	if (!c->url[0] || d->portal)
		return 0;
	if (!tw_node_id_valid(d->node)) {
		tw_err("portal: node id '%s' cannot be used with a portal: set [node] id to "
		       "[A-Za-z0-9][A-Za-z0-9._-]{0,62}",
		       d->node);
		return -EINVAL;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->d = d;
	base_path(p, c->url);
	if (c->token_file[0] && (err = read_token(p, c->token_file))) {
		free(p);
		return err;
	}
	p->rs = tw_recstream_new(d);
	p->ps = tw_polstream_new(d);
	if (!p->rs || !p->ps ||
	    tw_timer_init(d->loop, &p->t_conn, "portal reconnect", on_conn_retry, p) ||
	    tw_timer_init(d->loop, &p->t_tick, "portal tick", on_tick, p)) {
		tw_recstream_free(p->rs);
		tw_polstream_free(p->ps);
		free(p);
		return -ENOMEM;
	}
	for (s = 0; s < NSTREAMS; s++) {
		p->st[s].p = p;
		p->st[s].s = (enum tw_link_stream)s;
		tw_timer_init(d->loop, &p->st[s].t, "portal stream retry", on_stream_retry,
			      &p->st[s]);
	}
	d->portal = p;
	p->since = time(NULL);
	tw_info("portal: %s as node %s", c->url, d->node);
	tw_timer_arm_ms(&p->t_tick, 1000);
	connect_now(p);
	return 0;
}

void tw_portal_close(struct tw_daemon *d)
{
	struct tw_portal *p = d->portal;
	int s;

	if (!p)
		return;
	p->closing = true;
	tw_recstream_stop(p->rs);
	tw_polstream_stop(p->ps);
	if (p->old)
		tw_h2_shutdown(p->old->c);
	if (p->cur)
		tw_h2_shutdown(p->cur->c);
	/* shutdown reported every connection down: all are on the dead list */
	reap(p);
	tw_recstream_free(p->rs);
	tw_polstream_free(p->ps);
	tw_timer_close(&p->t_conn);
	tw_timer_close(&p->t_tick);
	for (s = 0; s < NSTREAMS; s++)
		tw_timer_close(&p->st[s].t);
	d->portal = NULL;
	free(p);
}

void tw_portal_reconfigure(struct tw_daemon *d, bool changed)
{
	struct tw_portal *p = d->portal;
	char authz[sizeof(p->authz)];

	if (!changed && p && d->cfg.portal.token_file[0]) {
		memcpy(authz, p->authz, sizeof(authz));
		/* a bad file keeps the token in use (read_token logged why) */
		if (read_token(p, d->cfg.portal.token_file))
			return;
		changed = strcmp(authz, p->authz) != 0;
		if (changed)
			tw_info("portal: token_file %s changed", d->cfg.portal.token_file);
	}
	if (!changed || !d->cfg.portal.url[0])
		return;
	/* records stay in the journal; the new streams resume from the portal's word */
	tw_info("portal: reconnecting with the new [portal] settings");
	tw_portal_close(d);
	if (tw_portal_open(d))
		tw_err("portal: the link stays down until the configuration is fixed");
}

void tw_portal_records_ready(struct tw_daemon *d)
{
	if (d->portal && d->portal->rs)
		tw_recstream_kick(d->portal->rs);
}

json_t *tw_portal_status_json(const struct tw_daemon *d)
{
	const struct tw_portal *p = d->portal;
	struct tw_recstream_status rs;
	json_t *o;

	if (!p)
		return NULL;
	tw_recstream_status(p->rs, &rs);
	o = json_object();
	json_object_set_new(o, "url", json_string(d->cfg.portal.url));
	json_object_set_new(o, "connected", json_boolean(link_up(p)));
	json_object_set_new(o, "since", json_integer((json_int_t)p->since));
	if (link_up(p))
		json_object_set_new(o, "transport", json_string(tw_h2_describe(p->cur->c)));
	json_object_set_new(o, "record_stream",
			    json_string(tw_recstream_open(p->rs)	 ? "open" :
					p->st[TW_STREAM_RECORDS].pending ? "waiting to retry" :
									   "closed"));
	json_object_set_new(o, "acked_seq", json_integer((json_int_t)rs.acked_seq));
	json_object_set_new(o, "sent_seq", json_integer((json_int_t)rs.sent_seq));
	json_object_set_new(o, "backlog", json_integer((json_int_t)rs.backlog));
	if (d->pol) {
		json_object_set_new(o, "policy_version",
				    json_integer((json_int_t)tw_policy_version(d->pol)));
		if (d->pol_loaded)
			json_object_set_new(o, "policy_age_s",
					    json_integer((json_int_t)(time(NULL) - d->pol_loaded)));
	}
	json_object_set_new(o, "record_error", json_string(rs.last_error));
	json_object_set_new(o, "policy_error", json_string(tw_polstream_last_error(p->ps)));
	json_object_set_new(o, "last_error", json_string(p->last_error));
	return o;
}
