// SPDX-License-Identifier: GPL-2.0-only
/*
 * The policy stream (docs/protocol.md section 5): the first line at once (a
 * snapshot, a delta from `since`, or a heartbeat when the node is current),
 * then the next bundle on every committed change (the store's notification
 * socket, and a 1 s re-check), heartbeats when idle. Each stream holds at
 * most one bundle: a change made while a bundle is still being sent is
 * picked up when it is done, as one delta from that bundle's version.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "log.h"
#include "polstore.h"
#include "server.h"
#include "tw_sig.h"

struct tw_pstream {
	struct tw_stream *st;
	struct tw_pstream *next, **pprev;
	uint64_t version; /* of the last bundle or heartbeat queued */
	char head[160]; /* a signature line before the bundle, or a heartbeat */
	size_t headlen, headoff;
	char *body; /* the bundle line with its LF */
	size_t bodylen, bodyoff;
	uint64_t last_out_ms;
	bool gzip; /* content-encoding: gzip, flushed after every line (2.5) */
	z_stream z;
};

/*
 * gzip: replace what is queued by its compressed form, flushed (Z_SYNC_FLUSH)
 * so the node can read the line at once. 0 or -errno.
 */
static int squeeze(struct tw_pstream *p)
{
	size_t hl = p->headlen - p->headoff, cap;
	uint8_t *out;

	if (!p->gzip)
		return 0;
	cap = deflateBound(&p->z, hl + p->bodylen) + 64;
	out = malloc(cap);
	if (!out)
		return -ENOMEM;
	p->z.next_out = out;
	p->z.avail_out = (uInt)cap;
	p->z.next_in = (Bytef *)p->head + p->headoff;
	p->z.avail_in = (uInt)hl;
	if (deflate(&p->z, p->bodylen ? Z_NO_FLUSH : Z_SYNC_FLUSH) == Z_STREAM_ERROR)
		goto fail;
	if (p->bodylen) {
		p->z.next_in = (Bytef *)p->body;
		p->z.avail_in = (uInt)p->bodylen;
		if (deflate(&p->z, Z_SYNC_FLUSH) == Z_STREAM_ERROR)
			goto fail;
	}
	if (p->z.avail_in || !p->z.avail_out)
		goto fail;
	free(p->body);
	p->body = (char *)out;
	p->bodylen = cap - p->z.avail_out;
	p->bodyoff = 0;
	p->headlen = p->headoff = 0;
	return 0;
fail:
	free(out);
	return -ENOBUFS;
}

static bool pending(const struct tw_pstream *p)
{
	return p->headoff < p->headlen || p->bodyoff < p->bodylen;
}

static void heartbeat(struct tw_pstream *p)
{
	p->headlen = (size_t)snprintf(p->head, sizeof(p->head),
				      "{\"type\":\"heartbeat\",\"version\":%llu}\n",
				      (unsigned long long)p->version);
	p->headoff = 0;
	if (squeeze(p))
		p->headlen = 0; /* nothing rather than a broken gzip stream */
}

/* Queue the bundle from p->version to the store's version. 0, or -errno. */
static int refill(struct tw_pstream *p, bool first)
{
	struct tw_server *s = p->st->srv;
	char *line = NULL;
	size_t len = 0;
	uint64_t v = 0;
	int kind = tw_polstore_bundle(s->ps, p->st->node, p->version, &line, &len, &v);
	char *nl;

	if (kind < 0)
		return kind;
	if (kind == TW_BUNDLE_NONE) {
		free(line);
		if (first)
			heartbeat(p);
		return 0;
	}
	nl = realloc(line, len + 1);
	if (!nl) {
		free(line);
		return -ENOMEM;
	}
	nl[len] = '\n';
	free(p->body);
	p->body = nl;
	p->bodylen = len + 1;
	p->bodyoff = 0;
	p->headlen = p->headoff = 0;
	if (s->sign_key) {
		char sig[TW_SIG_B64_LEN + 1];

		/* unsigned is refused by a node with keys: better no bundle than a bad one */
		if (tw_sig_sign(s->sign_key, p->st->node, nl, len, sig)) {
			tw_log(TW_LOG_ERR, "policy version %llu for node %s: signing failed",
			       (unsigned long long)v, p->st->node);
			free(p->body);
			p->body = NULL;
			p->bodylen = 0;
			return -EIO;
		}
		p->headlen = (size_t)snprintf(p->head, sizeof(p->head),
					      "{\"type\":\"signature\",\"alg\":\"ed25519\","
					      "\"sig\":\"%s\"}\n",
					      sig);
	}
	if (squeeze(p)) {
		free(p->body);
		p->body = NULL;
		p->bodylen = p->headlen = 0;
		return -ENOMEM;
	}
	p->version = v;
	return 0;
}

ssize_t tw_policy_read(struct tw_stream *st, uint8_t *buf, size_t len, uint32_t *flags)
{
	struct tw_pstream *p = st->pol;
	size_t n = 0, k;

	(void)flags;
	if (!p)
		return NGHTTP2_ERR_DEFERRED;
	if (!pending(p) && tw_polstore_version(st->srv->ps) > p->version)
		refill(p, false);
	k = p->headlen - p->headoff;
	if (k) {
		k = k < len ? k : len;
		memcpy(buf, p->head + p->headoff, k);
		p->headoff += k;
		n += k;
	}
	k = p->bodylen - p->bodyoff;
	if (k && n < len) {
		k = k < len - n ? k : len - n;
		memcpy(buf + n, p->body + p->bodyoff, k);
		p->bodyoff += k;
		n += k;
		if (p->bodyoff == p->bodylen) {
			free(p->body);
			p->body = NULL;
			p->bodylen = p->bodyoff = 0;
		}
	}
	if (!n)
		return NGHTTP2_ERR_DEFERRED;
	p->last_out_ms = tw_now_ms();
	return (ssize_t)n;
}

static int parse_since(const char *q, uint64_t *since)
{
	*since = 0;
	while (*q) {
		const char *amp = strchr(q, '&');
		size_t n = amp ? (size_t)(amp - q) : strlen(q);

		if (n > 6 && !strncmp(q, "since=", 6)) {
			uint64_t v = 0;

			if (n - 6 > 19)
				return -EINVAL;
			for (size_t i = 6; i < n; i++) {
				if (q[i] < '0' || q[i] > '9')
					return -EINVAL;
				v = v * 10 + (uint64_t)(q[i] - '0');
			}
			if (v > INT64_MAX)
				return -EINVAL;
			*since = v;
		} else if (n == 6 && !strncmp(q, "since=", 6)) {
			return -EINVAL;
		}
		q += n + (amp ? 1 : 0);
	}
	return 0;
}

void tw_policy_start(struct tw_stream *st, const char *query)
{
	struct tw_server *s = st->srv;
	nghttp2_nv nv[] = {
		{ (uint8_t *)":status", (uint8_t *)"200", 7, 3, 0 },
		{ (uint8_t *)"content-type", (uint8_t *)"application/x-ndjson", 12, 20, 0 },
		{ (uint8_t *)"cache-control", (uint8_t *)"no-store", 13, 8, 0 },
		{ (uint8_t *)"content-encoding", (uint8_t *)"gzip", 16, 4, 0 },
	};
	struct tw_pstream *p;
	uint64_t since;
	char msg[160];
	int err;

	if (parse_since(query, &since)) {
		tw_stream_error(st, 400, "bad_request", "since: want a decimal 0..2^63-1");
		return;
	}
	if (!s->ps) {
		tw_stream_error(st, 503, "unavailable", "no policy store");
		return;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		tw_stream_error(st, 503, "unavailable", "out of memory");
		return;
	}
	p->st = st;
	p->version = since;
	p->gzip = strstr(st->accept_encoding, "gzip") && !strstr(st->accept_encoding, "gzip;q=0");
	if (p->gzip && deflateInit2(&p->z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		free(p);
		tw_stream_error(st, 503, "unavailable", "out of memory");
		return;
	}
	err = refill(p, true);
	if (err) {
		if (p->gzip)
			deflateEnd(&p->z);
		free(p);
		if (err == -ESTALE) {
			snprintf(msg, sizeof(msg),
				 "since %llu is ahead of the portal's version %llu",
				 (unsigned long long)since,
				 (unsigned long long)tw_polstore_version(s->ps));
			tw_stream_error(st, 409, "conflict", msg);
		} else {
			tw_stream_error(st, 503, "unavailable", "the policy store failed");
		}
		return;
	}
	p->last_out_ms = tw_now_ms();
	st->pol = p;
	st->ep = TW_EP_POLICY;
	p->next = s->pstreams;
	if (p->next)
		p->next->pprev = &p->next;
	p->pprev = &s->pstreams;
	s->pstreams = p;
	tw_stream_respond(st, nv, sizeof(nv) / sizeof(nv[0]) - (p->gzip ? 0 : 1));
}

void tw_policy_changed(struct tw_server *s)
{
	if (!s->ps)
		return;
	s->policy_version = tw_polstore_version(s->ps);
	for (struct tw_pstream *p = s->pstreams, *nx; p && (nx = p->next, 1); p = nx)
		if (!pending(p) && s->policy_version > p->version) {
			refill(p, false);
			tw_stream_resume(p->st);
		}
}

void tw_policy_tick(struct tw_server *s, uint64_t now)
{
	if (!s->ps)
		return;
	if (tw_polstore_version(s->ps) != s->policy_version)
		tw_policy_changed(s);
	for (struct tw_pstream *p = s->pstreams, *nx; p && (nx = p->next, 1); p = nx)
		if (!pending(p) && now - p->last_out_ms >= TW_KEEPALIVE_MS) {
			heartbeat(p);
			p->last_out_ms = now;
			tw_stream_resume(p->st);
		}
}

void tw_policy_close(struct tw_stream *st)
{
	struct tw_pstream *p = st->pol;

	*p->pprev = p->next;
	if (p->next)
		p->next->pprev = p->pprev;
	if (p->gzip)
		deflateEnd(&p->z);
	free(p->body);
	free(p);
	st->pol = NULL;
}
