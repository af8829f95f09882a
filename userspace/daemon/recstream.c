// SPDX-License-Identifier: GPL-2.0-only
/*
 * The record stream (docs/protocol.md section 4): see recstream.h. The
 * journal is read in chunks into a fixed send buffer as HTTP/2 flow control
 * and the in-flight window allow; a ring remembers what is in flight so an
 * ack frees window. Nothing is trimmed but on an ack line read in full.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nghttp2/nghttp2.h>

#include "daemon.h"
#include "h2conn.h"
#include "journal.h"
#include "linkproto.h"
#include "log.h"
#include "portal.h"
#include "recstream.h"

#define OBUF_MAX    (256 << 10) /* > the longest record line (16 KiB) */
#define READ_BATCH  512 /* records per journal read */
#define ERRBODY_MAX 4096

/* One request on the wire: outlives a stop until its on_close. */
struct token {
	struct tw_recstream *rs; /* NULL: stopped, report nothing */
};

struct inflight {
	uint64_t seq;
	uint32_t len;
};

struct tw_recstream {
	struct tw_daemon *d;
	struct tw_h2conn *c;
	struct token *tok;
	int32_t id;
	bool got_headers, deferred, decided, gzip_refused, err_set;
	int status;
	uint64_t acked, sent, r;
	/* in flight: a ring of window entries */
	struct inflight *ring;
	uint32_t ring_cap, ring_head, ring_n;
	uint64_t inflight_bytes;
	/* to send */
	uint8_t *obuf;
	size_t ooff, olen;
	bool keepalive_due;
	/* from the portal: the current line, or a non-200 body */
	char line[TW_ACKLINE_MAX + 1];
	size_t llen;
	/* deadlines (CLOCK_MONOTONIC ms) */
	uint64_t t_request, t_progress, t_sent;
	/* how it ended, once decided */
	enum tw_link_retry retry;
	unsigned int retry_after;
	char why[512];
	char last_error[256];
};

static uint64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* The first reason to end the stream wins; it is reported at on_close. */
static void decide(struct tw_recstream *rs, enum tw_link_retry r, unsigned int retry_after,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void decide(struct tw_recstream *rs, enum tw_link_retry r, unsigned int retry_after,
		   const char *fmt, ...)
{
	va_list ap;

	if (rs->decided)
		return;
	rs->decided = true;
	rs->retry = r;
	rs->retry_after = retry_after;
	va_start(ap, fmt);
	vsnprintf(rs->why, sizeof(rs->why), fmt, ap);
	va_end(ap);
}

static void end_stream(struct tw_recstream *rs, uint32_t code)
{
	if (rs->c && rs->id > 0)
		tw_h2_reset(rs->c, rs->id, code);
}

/* ---- sending ---- */

static int take_record(const struct tw_record *rec, const char *json, size_t len, void *ctx)
{
	struct tw_recstream *rs = ctx;
	const struct tw_portal_cfg *p = &rs->d->cfg.portal;
	struct inflight *f;

	if (rs->olen + len + 1 > OBUF_MAX || rs->ring_n >= rs->ring_cap ||
	    (rs->ring_n && rs->inflight_bytes + len + 1 > p->window_bytes))
		return 1;
	if (!rs->ring_n) /* the ack deadline runs from the first record outstanding */
		rs->t_progress = now_ms();
	memcpy(rs->obuf + rs->olen, json, len);
	rs->obuf[rs->olen + len] = '\n';
	rs->olen += len + 1;
	f = &rs->ring[(rs->ring_head + rs->ring_n++) % rs->ring_cap];
	f->seq = rec->seq;
	f->len = (uint32_t)(len + 1);
	rs->inflight_bytes += len + 1;
	rs->sent = rec->seq;
	return 0;
}

static ssize_t read_body(void *ctx, uint8_t *buf, size_t len, bool *eof)
{
	struct token *tok = ctx;
	struct tw_recstream *rs = tok->rs;
	size_t n;
	int got;

	*eof = false;
	if (!rs)
		return TW_H2_DEFER; /* stopped: the reset is on its way */
	if (!rs->got_headers || rs->decided) {
		rs->deferred = true;
		return TW_H2_DEFER;
	}
	if (rs->ooff == rs->olen) {
		rs->ooff = rs->olen = 0;
		got = tw_journal_read_since(rs->d->jr, rs->sent, READ_BATCH, take_record, rs);
		if (got < 0) {
			tw_err("portal: reading the journal: %s", strerror(-got));
			rs->deferred = true;
			return TW_H2_DEFER; /* the next kick or tick tries again */
		}
		if (!rs->olen && rs->keepalive_due)
			rs->obuf[rs->olen++] = '\n';
		rs->keepalive_due = false;
		if (!rs->olen) {
			rs->deferred = true;
			return TW_H2_DEFER;
		}
		rs->t_sent = now_ms();
	}
	n = rs->olen - rs->ooff < len ? rs->olen - rs->ooff : len;
	memcpy(buf, rs->obuf + rs->ooff, n);
	rs->ooff += n;
	return (ssize_t)n;
}

void tw_recstream_kick(struct tw_recstream *rs)
{
	if (rs->tok && rs->got_headers && rs->deferred && !rs->decided) {
		rs->deferred = false;
		tw_h2_resume(rs->c, rs->id);
	}
}

/* ---- the response ---- */

/* 4.7: the portal lost R+1..A it had acked: a durable gap record says so. */
static void portal_lost(struct tw_recstream *rs, uint64_t r, uint64_t a)
{
	struct tw_record g = { .kind = TW_REC_GAP, .ngaps = 1, .gap_count = a - r };
	const char *log = tw_journal_log_id(rs->d->jr);

	tw_warn("portal lost records %llu..%llu of log %s that it had acknowledged",
		(unsigned long long)r + 1, (unsigned long long)a, log);
	g.gaps[0].first = r + 1;
	g.gaps[0].last = a;
	snprintf(g.detail, sizeof(g.detail),
		 "portal lost records %llu..%llu that it had acknowledged",
		 (unsigned long long)r + 1, (unsigned long long)a);
	if (tw_journal_append(rs->d->jr, &g, true))
		tw_err("portal: gap record for the lost records: %s", tw_journal_errstr(rs->d->jr));
}

static int resume_at(struct tw_recstream *rs, const char *hv)
{
	struct tw_journal_stats st;
	uint64_t r, last;

	if (tw_parse_u63(hv, &r)) {
		decide(rs, TW_RETRY_NORMAL, 0, "bad tunwarden-resume-after header");
		return -1;
	}
	if (tw_journal_stats(rs->d->jr, &st))
		memset(&st, 0, sizeof(st));
	last = tw_journal_last_seq(rs->d->jr);
	rs->r = r;
	switch (tw_resume_decide(r, st.acked_seq, last)) {
	case TW_RESUME_AHEAD:
		tw_err("portal holds seq %llu of log %s but the journal ends at %llu: journal "
		       "restored or copied",
		       (unsigned long long)r, tw_journal_log_id(rs->d->jr),
		       (unsigned long long)last);
		rs->err_set = true;
		snprintf(rs->last_error, sizeof(rs->last_error),
			 "portal holds seq %llu but the journal ends at %llu",
			 (unsigned long long)r, (unsigned long long)last);
		decide(rs, TW_RETRY_SLOW, 0, "%s", rs->last_error);
		return -1;
	case TW_RESUME_LOST:
		portal_lost(rs, r, st.acked_seq);
		rs->acked = rs->sent = st.acked_seq;
		break;
	case TW_RESUME_OK:
		if (r > st.acked_seq && tw_journal_ack(rs->d->jr, r))
			tw_err("portal: trimming the journal to %llu: %s", (unsigned long long)r,
			       tw_journal_errstr(rs->d->jr));
		rs->acked = rs->sent = r > st.acked_seq ? r : st.acked_seq;
		if (r > st.acked_seq)
			tw_portal_stream_progress(rs->d, TW_STREAM_RECORDS);
		break;
	}
	return 0;
}

static int on_headers(void *ctx, const struct tw_h2resp *resp)
{
	struct token *tok = ctx;
	struct tw_recstream *rs = tok->rs;
	const char *ct = tw_h2resp_header(resp, "content-type");
	unsigned int ra;

	if (!rs)
		return -1;
	rs->status = resp->status;
	if (resp->status != 200) {
		ra = tw_retry_after_parse(tw_h2resp_header(resp, "retry-after"), time(NULL));
		if (resp->status == 415 && rs->d->cfg.portal.gzip && !rs->gzip_refused) {
			rs->gzip_refused = true;
			tw_warn("portal does not accept gzip: the record stream goes uncompressed");
			decide(rs, TW_RETRY_NOW, 0, "415, retrying without gzip");
		} else {
			decide(rs, tw_link_status_retry(resp->status), ra, "HTTP %d", resp->status);
		}
		return 0; /* read the error body for its message */
	}
	if (!ct || strncmp(ct, "application/x-ndjson", 20) || (ct[20] && ct[20] != ';')) {
		decide(rs, TW_RETRY_SLOW, 0,
		       "200 without content-type application/x-ndjson (wrong URL?)");
		return -1;
	}
	if (resume_at(rs, tw_h2resp_header(resp, "tunwarden-resume-after")))
		return -1;
	tw_info("portal: record stream open: the portal holds up to seq %llu, sending after %llu",
		(unsigned long long)rs->r, (unsigned long long)rs->sent);
	rs->got_headers = true;
	rs->t_progress = rs->t_sent = now_ms();
	rs->deferred = true;
	tw_recstream_kick(rs);
	return 0;
}

static void in_flight_ack(struct tw_recstream *rs, uint64_t ack)
{
	while (rs->ring_n && rs->ring[rs->ring_head].seq <= ack) {
		rs->inflight_bytes -= rs->ring[rs->ring_head].len;
		rs->ring_head = (rs->ring_head + 1) % rs->ring_cap;
		rs->ring_n--;
	}
}

/* One whole line of the response body: 0 or an HTTP/2 error code. */
static uint32_t ack_line(struct tw_recstream *rs, const char *s, size_t n)
{
	struct tw_ackline al;
	char why[160];
	int err;

	if (tw_ackline_parse(s, n, &al, why, sizeof(why))) {
		decide(rs, TW_RETRY_NORMAL, 0, "bad line from the portal: %s", why);
		return NGHTTP2_PROTOCOL_ERROR;
	}
	switch (al.kind) {
	case TW_ACKLINE_ACK:
		if (al.ack > rs->sent) {
			decide(rs, TW_RETRY_NORMAL, 0, "ack %llu beyond the last seq sent (%llu)",
			       (unsigned long long)al.ack, (unsigned long long)rs->sent);
			return NGHTTP2_PROTOCOL_ERROR;
		}
		if (al.ack <= rs->acked)
			return 0;
		err = tw_journal_ack(rs->d->jr, al.ack);
		if (err) {
			tw_err("portal: trimming the journal to %llu: %s",
			       (unsigned long long)al.ack, tw_journal_errstr(rs->d->jr));
			return 0;
		}
		rs->acked = al.ack;
		rs->t_progress = now_ms();
		in_flight_ack(rs, al.ack);
		tw_portal_stream_progress(rs->d, TW_STREAM_RECORDS);
		tw_recstream_kick(rs);
		return 0;
	case TW_ACKLINE_ERROR:
		tw_err("portal refused the record stream: %s at seq %llu: %s", al.error,
		       (unsigned long long)al.seq, al.message);
		rs->err_set = true;
		snprintf(rs->last_error, sizeof(rs->last_error), "%s at seq %llu: %.180s", al.error,
			 (unsigned long long)al.seq, al.message);
		decide(rs, tw_link_error_retry(al.error), 0, "portal error %s", al.error);
		return 0; /* the portal ends the stream */
	default:
		return 0;
	}
}

static uint32_t on_data(void *ctx, const uint8_t *buf, size_t len)
{
	struct token *tok = ctx;
	struct tw_recstream *rs = tok->rs;
	const uint8_t *nl;
	uint32_t code;
	size_t n;

	if (!rs)
		return 0;
	if (rs->status != 200) { /* an error body: keep its start for the log */
		n = sizeof(rs->line) - 1 - rs->llen;
		n = n < len ? n : len;
		memcpy(rs->line + rs->llen, buf, n);
		rs->llen += n;
		return 0;
	}
	while (len) {
		nl = memchr(buf, '\n', len);
		n = nl ? (size_t)(nl - buf) : len;
		if (rs->llen + n > TW_ACKLINE_MAX) {
			decide(rs, TW_RETRY_NORMAL, 0, "a line over %d bytes", TW_ACKLINE_MAX);
			return NGHTTP2_PROTOCOL_ERROR;
		}
		memcpy(rs->line + rs->llen, buf, n);
		rs->llen += n;
		if (!nl)
			break;
		code = ack_line(rs, rs->line, rs->llen);
		rs->llen = 0;
		if (code)
			return code;
		buf += n + 1;
		len -= n + 1;
	}
	return 0;
}

/* A non-200 answer's body: {"error":..., "message":...}; its message, escaped. */
static void error_body(struct tw_recstream *rs)
{
	struct tw_ackline al;
	char why[64];

	if (!tw_ackline_parse(rs->line, rs->llen, &al, why, sizeof(why)) &&
	    al.kind == TW_ACKLINE_ERROR) {
		tw_err("portal answered the record stream with %d: %s: %s", rs->status, al.error,
		       al.message);
		rs->err_set = true;
		snprintf(rs->last_error, sizeof(rs->last_error), "HTTP %d %s: %.180s", rs->status,
			 al.error, al.message);
	} else {
		tw_err("portal answered the record stream with %d", rs->status);
		rs->err_set = true;
		snprintf(rs->last_error, sizeof(rs->last_error), "HTTP %d", rs->status);
	}
}

static void on_close(void *ctx, uint32_t code, bool by_peer)
{
	struct token *tok = ctx;
	struct tw_recstream *rs = tok->rs;
	enum tw_link_retry r;

	free(tok);
	if (!rs)
		return;
	rs->tok = NULL;
	rs->c = NULL;
	rs->id = 0;
	if (rs->status && rs->status != 200)
		error_body(rs);
	if (!rs->decided) {
		if (by_peer)
			r = code == NGHTTP2_REFUSED_STREAM    ? TW_RETRY_NOW :
			    code == NGHTTP2_ENHANCE_YOUR_CALM ? TW_RETRY_SLOW :
								TW_RETRY_NORMAL;
		else
			r = TW_RETRY_NORMAL;
		decide(rs, r, 0, "%s%s",
		       by_peer ? "reset by the portal: " :
		       code    ? "" :
				 "ended by the portal",
		       by_peer ? nghttp2_http2_strerror(code) :
		       code    ? "connection lost" :
				 "");
	}
	if (rs->retry != TW_RETRY_NOW && !rs->err_set)
		snprintf(rs->last_error, sizeof(rs->last_error), "%.255s", rs->why);
	tw_portal_stream_ended(rs->d, TW_STREAM_RECORDS, rs->retry, rs->retry_after, rs->why);
}

static const struct tw_h2stream_ops ops = {
	.on_headers = on_headers,
	.on_data = on_data,
	.read_body = read_body,
	.on_close = on_close,
};

/* ---- the module ---- */

struct tw_recstream *tw_recstream_new(struct tw_daemon *d)
{
	struct tw_recstream *rs = calloc(1, sizeof(*rs));

	if (!rs)
		return NULL;
	rs->d = d;
	rs->obuf = malloc(OBUF_MAX);
	rs->ring_cap = d->cfg.portal.window ? d->cfg.portal.window : 1;
	rs->ring = calloc(rs->ring_cap, sizeof(*rs->ring));
	if (!rs->obuf || !rs->ring) {
		tw_recstream_free(rs);
		return NULL;
	}
	return rs;
}

void tw_recstream_free(struct tw_recstream *rs)
{
	if (!rs)
		return;
	tw_recstream_stop(rs);
	free(rs->obuf);
	free(rs->ring);
	free(rs);
}

int tw_recstream_start(struct tw_recstream *rs, struct tw_h2conn *c)
{
	char acked[24];
	struct tw_journal_stats st;
	struct tw_h2hdr h[] = {
		{ "content-type", "application/x-ndjson" },
		{ "tunwarden-log-id", tw_journal_log_id(rs->d->jr) },
		{ "tunwarden-acked-seq", acked },
		{ "user-agent", "tunwardend/" TW_VERSION },
	};
	struct token *tok;
	char path[TW_CFG_PATH_MAX + 96];
	int32_t id;

	if (rs->tok)
		return -EBUSY;
	if (tw_journal_stats(rs->d->jr, &st))
		return -EIO;
	snprintf(acked, sizeof(acked), "%llu", (unsigned long long)st.acked_seq);
	snprintf(path, sizeof(path), "%sv1/nodes/%s/records", tw_portal_base_path(rs->d),
		 rs->d->node);
	tok = calloc(1, sizeof(*tok));
	if (!tok)
		return -ENOMEM;
	tok->rs = rs;
	rs->tok = tok;
	rs->c = c;
	rs->got_headers = rs->decided = false;
	rs->deferred = rs->keepalive_due = false;
	rs->status = 0;
	rs->llen = rs->ooff = rs->olen = 0;
	rs->ring_head = rs->ring_n = 0;
	rs->inflight_bytes = 0;
	rs->acked = rs->sent = st.acked_seq;
	rs->why[0] = '\0';
	rs->err_set = false;
	rs->t_request = now_ms();
	id = tw_h2_request(c, "POST", path, h, sizeof(h) / sizeof(h[0]),
			   rs->d->cfg.portal.gzip && !rs->gzip_refused, &ops, tok);
	tw_dbg("portal: record stream requested (stream %d, acked %s)", id, acked);
	if (id < 0) {
		rs->tok = NULL;
		rs->c = NULL;
		free(tok);
		return id;
	}
	/* on_close may have run already (a connection that died in the call) */
	if (rs->tok == tok)
		rs->id = id;
	return 0;
}

void tw_recstream_stop(struct tw_recstream *rs)
{
	if (!rs->tok)
		return;
	rs->tok->rs = NULL; /* its on_close frees it and reports nothing */
	end_stream(rs, NGHTTP2_CANCEL);
	rs->tok = NULL;
	rs->c = NULL;
	rs->id = 0;
}

bool tw_recstream_open(const struct tw_recstream *rs)
{
	return rs->tok != NULL;
}

void tw_recstream_tick(struct tw_recstream *rs)
{
	const struct tw_portal_cfg *p = &rs->d->cfg.portal;
	uint64_t now = now_ms();

	if (!rs->tok || rs->decided)
		return;
	if (!rs->got_headers) {
		if (now - rs->t_request >= p->connect_timeout_ms) {
			decide(rs, TW_RETRY_NORMAL, 0,
			       "no response headers within connect_timeout");
			end_stream(rs, NGHTTP2_CANCEL);
		}
		return;
	}
	if (rs->ring_n && now - rs->t_progress >= p->ack_timeout_ms) {
		decide(rs, TW_RETRY_NORMAL, 0, "no ack progress for %llu s",
		       (unsigned long long)(p->ack_timeout_ms / 1000));
		end_stream(rs, NGHTTP2_CANCEL);
		return;
	}
	if (now - rs->t_sent >= p->keepalive_ms) {
		rs->keepalive_due = true;
		rs->t_sent = now;
	}
	/* records committed since the last kick, or the keepalive line */
	tw_recstream_kick(rs);
}

void tw_recstream_status(const struct tw_recstream *rs, struct tw_recstream_status *st)
{
	struct tw_journal_stats js;

	memset(st, 0, sizeof(*st));
	if (!tw_journal_stats(rs->d->jr, &js)) {
		st->acked_seq = js.acked_seq;
		st->backlog = js.rows;
	}
	st->sent_seq = rs->tok ? rs->sent : 0;
	snprintf(st->last_error, sizeof(st->last_error), "%s", rs->last_error);
}
