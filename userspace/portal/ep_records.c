// SPDX-License-Identifier: GPL-2.0-only
/*
 * The record stream (docs/protocol.md section 4): headers with the resume
 * point at once, then NDJSON lines (gzip or identity) checked with the
 * node's own record parser and put into the server's batch transaction; acks
 * only after commit. Per stream the memory is one line buffer and a few
 * numbers: the output is at most one ack and one error line.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "log.h"
#include "record.h"
#include "server.h"

struct tw_rstream {
	struct tw_stream *st;
	struct tw_rstream *next, **pprev;
	char node[TW_NODE_ID_MAX];
	char log_id[TW_REC_LOG_ID_LEN + 1];
	uint64_t resume; /* R */
	uint64_t last_seq; /* the last record received on this stream, 0 before any */
	uint64_t put_seq; /* the last one put in the open transaction (to ack at commit) */
	uint64_t acked; /* the last ack sent (or R) */
	bool ack_due; /* an ack line waits to be read by nghttp2 */
	bool stopped; /* an error line queued: read nothing more */
	bool eof; /* end the response after the queued lines */
	bool gzip;
	z_stream z;
	uint64_t last_out_ms;
	char err[1300]; /* a queued error line, "" if none */
	size_t linelen;
	bool overlong;
	char line[TW_LINE_MAX + 1];
};

static void stop(struct tw_rstream *r, const char *code, uint64_t seq, const char *msg)
{
	json_t *o = json_object();
	char *js;

	if (r->stopped)
		return;
	json_object_set_new(o, "error", json_string(code));
	if (seq)
		json_object_set_new(o, "seq", json_integer((json_int_t)seq));
	json_object_set_new(o, "message", json_stringn(msg, strnlen(msg, 1024)));
	js = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(o);
	snprintf(r->err, sizeof(r->err), "%s\n", js ? js : "{\"error\":\"unavailable\"}");
	free(js);
	tw_log(TW_LOG_WARN, "node %s log %s: refused seq %llu: %s: %s", r->node, r->log_id,
	       (unsigned long long)seq, code, msg);
	r->stopped = true;
	r->eof = true;
}

/* seq of a line the parser refused, when it has one, for the error line */
static uint64_t seq_of(const char *line, size_t len)
{
	json_t *o = json_loadb(line, len, 0, NULL), *s = json_object_get(o, "seq");
	uint64_t seq = json_is_integer(s) && json_integer_value(s) > 0 ?
			       (uint64_t)json_integer_value(s) :
			       0;

	json_decref(o);
	return seq;
}

static void one_line(struct tw_rstream *r, const char *line, size_t len)
{
	struct tw_server *s = r->st->srv;
	struct tw_record *rec;
	char why[512];
	bool dup;
	int err;

	if (len && line[len - 1] == '\r')
		len--;
	if (!len)
		return; /* keepalive */
	rec = malloc(sizeof(*rec));
	if (!rec) {
		stop(r, "unavailable", 0, "out of memory");
		return;
	}
	if (tw_record_from_json(line, len, rec, why, sizeof(why))) {
		stop(r, "bad_record", seq_of(line, len), why);
		goto out;
	}
	if (strcmp(rec->node, r->node)) {
		snprintf(why, sizeof(why), "record is for node \"%s\", stream for node \"%s\"",
			 rec->node, r->node);
		stop(r, "wrong_node", rec->seq, why);
		goto out;
	}
	if (strcmp(rec->log_id, r->log_id)) {
		snprintf(why, sizeof(why), "record has log_id %s, stream has %s", rec->log_id,
			 r->log_id);
		stop(r, "wrong_log", rec->seq, why);
		goto out;
	}
	if (rec->seq <= r->last_seq) {
		snprintf(why, sizeof(why), "seq %llu after %llu", (unsigned long long)rec->seq,
			 (unsigned long long)r->last_seq);
		stop(r, "out_of_order", rec->seq, why);
		goto out;
	}
	err = tw_server_txn_begin(s);
	if (!err) {
		struct tw_rec_row row = {
			.node = r->node,
			.log_id = r->log_id,
			.seq = rec->seq,
			.kind = tw_record_kind_name(rec->kind),
			.time_ns = rec->time_ns,
			.session = rec->session,
			.subject = rec->subject,
			.body = line,
			.body_len = len,
		};

		err = s->rs->ops->put(s->rs, &row, &dup);
	}
	if (err) {
		stop(r, "unavailable", rec->seq, "the portal's storage failed");
		goto out;
	}
	/* 4.4: never overwritten; differing bytes mean a restored or copied journal */
	if (dup && s->rs->ops->same_body(s->rs, &(struct tw_rec_row){ .node = r->node,
								      .log_id = r->log_id,
								      .seq = rec->seq,
								      .body = line,
								      .body_len = len }) == 0)
		tw_log(TW_LOG_WARN,
		       "node %s log %s: seq %llu sent again with other bytes than stored:"
		       " a journal restored or copied? keeping the stored one",
		       r->node, r->log_id, (unsigned long long)rec->seq);
	r->last_seq = r->put_seq = rec->seq;
	if (++s->txn_lines >= TW_COMMIT_LINES)
		tw_server_commit(s);
out:
	free(rec);
}

/* Split into lines; a line is handled as soon as its LF arrives. */
static void feed(struct tw_rstream *r, const uint8_t *p, size_t n)
{
	while (n && !r->stopped) {
		const uint8_t *nl = memchr(p, '\n', n);
		size_t take = nl ? (size_t)(nl - p) : n;

		if (!r->overlong && r->linelen + take > TW_LINE_MAX)
			r->overlong = true;
		if (!r->overlong) {
			memcpy(r->line + r->linelen, p, take);
			r->linelen += take;
		}
		if (!nl)
			return;
		if (r->overlong) {
			char why[96];

			snprintf(why, sizeof(why), "a line over %d bytes", TW_LINE_MAX);
			stop(r, "too_long", 0, why);
			return;
		}
		one_line(r, r->line, r->linelen);
		r->linelen = 0;
		p += take + 1;
		n -= take + 1;
	}
}

int tw_records_data(struct tw_stream *st, const uint8_t *data, size_t len)
{
	struct tw_rstream *r = st->rec;
	uint8_t out[16384];

	if (!r || r->stopped)
		return 0;
	if (!r->gzip) {
		feed(r, data, len);
		goto done;
	}
	r->z.next_in = (Bytef *)(uintptr_t)data;
	r->z.avail_in = (uInt)len;
	/* until the input is used up and zlib has no output left (a full out buffer may hide more) */
	do {
		int zr;

		r->z.next_out = out;
		r->z.avail_out = sizeof(out);
		zr = inflate(&r->z, Z_SYNC_FLUSH);
		feed(r, out, sizeof(out) - r->z.avail_out);
		if (zr == Z_STREAM_END) {
			inflateReset(&r->z); /* concatenated gzip members */
		} else if (zr != Z_OK && zr != Z_BUF_ERROR) {
			stop(r, "bad_encoding", 0, r->z.msg ? r->z.msg : "corrupt gzip body");
		} else if (zr == Z_BUF_ERROR && r->z.avail_out) {
			break; /* wants more input */
		}
	} while (!r->stopped && (r->z.avail_in || !r->z.avail_out));
done:
	if (r->stopped) {
		tw_server_commit(st->srv); /* ack what came before the bad line first */
		tw_stream_resume(st);
	}
	return 0;
}

/* A finite POST ended (4.8): a last line without LF counts, then a final ack. */
void tw_records_end(struct tw_stream *st)
{
	struct tw_rstream *r = st->rec;

	if (!r || r->stopped)
		return;
	if (r->linelen && !r->overlong) {
		one_line(r, r->line, r->linelen);
		r->linelen = 0;
	}
	tw_server_commit(st->srv);
	r->eof = true;
	r->ack_due = true;
	tw_stream_resume(st);
}

void tw_records_committed(struct tw_server *s, int err)
{
	uint64_t now_s = (uint64_t)time(NULL);

	for (struct tw_rstream *r = s->rstreams, *nx; r && (nx = r->next, 1); r = nx) {
		if (!r->put_seq)
			continue;
		if (err) {
			stop(r, "unavailable", 0, "the portal's storage failed");
		} else {
			struct tw_node_link l = { .connected = true,
						  .last_seen = now_s,
						  .last_ack = r->put_seq };

			if (r->put_seq > r->acked)
				r->acked = r->put_seq;
			r->ack_due = true;
			s->rs->ops->node_link(s->rs, r->node, &l);
		}
		r->put_seq = 0;
		tw_stream_resume(r->st);
	}
}

void tw_records_tick(struct tw_server *s, uint64_t now)
{
	for (struct tw_rstream *r = s->rstreams, *nx; r && (nx = r->next, 1); r = nx)
		if (!r->stopped && now - r->last_out_ms >= TW_KEEPALIVE_MS) {
			r->ack_due = true; /* repeat the last ack through idle proxies (4.5) */
			r->last_out_ms = now;
			tw_stream_resume(r->st);
		}
}

ssize_t tw_records_read(struct tw_stream *st, uint8_t *buf, size_t len, uint32_t *flags)
{
	struct tw_rstream *r = st->rec;
	size_t n = 0;

	if (!r) {
		*flags |= NGHTTP2_DATA_FLAG_EOF;
		return 0;
	}
	if (r->ack_due && len >= 32) {
		n = (size_t)snprintf((char *)buf, len, "{\"ack\":%llu}\n",
				     (unsigned long long)r->acked);
		r->ack_due = false;
	}
	if (r->err[0] && len - n > strlen(r->err)) {
		memcpy(buf + n, r->err, strlen(r->err));
		n += strlen(r->err);
		r->err[0] = '\0';
	}
	if (n)
		r->last_out_ms = tw_now_ms();
	if (r->eof && !r->ack_due && !r->err[0]) {
		*flags |= NGHTTP2_DATA_FLAG_EOF;
		return (ssize_t)n;
	}
	return n ? (ssize_t)n : NGHTTP2_ERR_DEFERRED;
}

static bool log_id_ok(const char *s)
{
	if (strlen(s) != TW_REC_LOG_ID_LEN)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

/*
 * 4.9: a newer stream for the same (node, log id) wins; the older is reset.
 * Finite POSTs (a content-length: curl, h2load, batch mode) are uploads, not
 * a reconnected node's stream: they neither replace nor are replaced.
 */
static void supersede(struct tw_server *s, struct tw_rstream *nr)
{
	if (nr->st->content_length[0])
		return;
	for (struct tw_rstream *r = s->rstreams, *nx; r && (nx = r->next, 1); r = nx) {
		if (r == nr || r->st->content_length[0] || strcmp(r->node, nr->node) ||
		    strcmp(r->log_id, nr->log_id))
			continue;
		tw_log(TW_LOG_INFO, "node %s log %s: a newer record stream replaces stream %d",
		       r->node, r->log_id, r->st->id);
		r->stopped = true;
		tw_stream_reset(r->st, NGHTTP2_CANCEL);
	}
}

void tw_records_start(struct tw_stream *st)
{
	struct tw_server *s = st->srv;
	const char *ct = st->content_type;
	char resume[24];
	nghttp2_nv nv[] = {
		{ (uint8_t *)":status", (uint8_t *)"200", 7, 3, 0 },
		{ (uint8_t *)"content-type", (uint8_t *)"application/x-ndjson", 12, 20, 0 },
		{ (uint8_t *)"tunwarden-resume-after", (uint8_t *)resume, 22, 0, 0 },
		{ (uint8_t *)"cache-control", (uint8_t *)"no-store", 13, 8, 0 },
	};
	struct tw_node_link l = { .connected = true };
	struct tw_rstream *r;

	if (!log_id_ok(st->log_id)) {
		tw_stream_error(st, 400, "bad_request",
				"tunwarden-log-id: want 32 lowercase hex digits");
		return;
	}
	/* curl sends its form type without -H; anything else that is not NDJSON is refused */
	if (ct[0] && strncmp(ct, "application/x-ndjson", 20) &&
	    strncmp(ct, "application/x-www-form-urlencoded", 33)) {
		tw_stream_error(st, 415, "unsupported", "content-type: want application/x-ndjson");
		return;
	}
	if (st->content_encoding[0] && strcmp(st->content_encoding, "gzip") &&
	    strcmp(st->content_encoding, "identity")) {
		tw_stream_error(st, 415, "unsupported", "content-encoding: gzip or identity");
		return;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		tw_stream_error(st, 503, "unavailable", "out of memory");
		return;
	}
	if (!strcmp(st->content_encoding, "gzip")) {
		r->gzip = true;
		if (inflateInit2(&r->z, 15 + 16) != Z_OK) {
			free(r);
			tw_stream_error(st, 503, "unavailable", "out of memory");
			return;
		}
	}
	r->st = st;
	snprintf(r->node, sizeof(r->node), "%s", st->node);
	snprintf(r->log_id, sizeof(r->log_id), "%s", st->log_id);
	/* R is the durable maximum: commit what is batched before reading it */
	if (tw_server_commit(s) ||
	    s->rs->ops->resume_after(s->rs, r->node, r->log_id, &r->resume)) {
		if (r->gzip)
			inflateEnd(&r->z);
		free(r);
		tw_stream_error(st, 503, "unavailable", "the portal's storage failed");
		return;
	}
	r->acked = r->resume;
	r->last_out_ms = tw_now_ms();
	st->rec = r;
	st->ep = TW_EP_RECORDS;
	r->next = s->rstreams;
	if (r->next)
		r->next->pprev = &r->next;
	r->pprev = &s->rstreams;
	s->rstreams = r;
	supersede(s, r);
	if (st->acked_seq[0] && strtoull(st->acked_seq, NULL, 10) > r->resume) {
		tw_log(TW_LOG_WARN,
		       "node %s log %s: node holds %s acked but the portal has %llu:"
		       " the portal lost records it acknowledged",
		       r->node, r->log_id, st->acked_seq, (unsigned long long)r->resume);
	}
	l.since = l.last_seen = (uint64_t)time(NULL);
	l.user_agent = st->user_agent;
	l.log_id = r->log_id;
	s->rs->ops->node_link(s->rs, r->node, &l);
	nv[2].valuelen =
		(size_t)snprintf(resume, sizeof(resume), "%llu", (unsigned long long)r->resume);
	tw_log(TW_LOG_INFO, "node %s log %s: record stream from %s, resume after %s", r->node,
	       r->log_id, st->srv ? st->user_agent : "", resume);
	tw_stream_respond(st, nv, sizeof(nv) / sizeof(nv[0]));
}

void tw_records_close(struct tw_stream *st)
{
	struct tw_rstream *r = st->rec;
	struct tw_server *s = st->srv;
	bool other = false;

	*r->pprev = r->next;
	if (r->next)
		r->next->pprev = r->pprev;
	for (struct tw_rstream *o = s->rstreams; o; o = o->next)
		other |= !strcmp(o->node, r->node);
	if (!other) {
		struct tw_node_link l = { .connected = false, .last_seen = (uint64_t)time(NULL) };

		s->rs->ops->node_link(s->rs, r->node, &l);
	}
	if (r->gzip)
		inflateEnd(&r->z);
	free(r);
	st->rec = NULL;
}
