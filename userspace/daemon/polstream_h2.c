// SPDX-License-Identifier: GPL-2.0-only
/*
 * The policy stream over the portal link: the request of protocol.md 5.1,
 * the status codes of 6.1, the idle deadline of 2.4, and how the stream
 * ended, told to portal.c. The lines themselves are polstream.c's.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>
#include <nghttp2/nghttp2.h>

#include "daemon.h"
#include "h2conn.h"
#include "health.h"
#include "log.h"
#include "policysrc.h"
#include "polstream_int.h"
#include "portal.h"
#include "tw_utf8.h"

static void sink_progress(struct tw_daemon *d)
{
	tw_portal_stream_progress(d, TW_STREAM_POLICY);
}

static const struct tw_polstream_sink daemon_sink = {
	.snapshot = tw_polsrc_portal_snapshot,
	.delta = tw_polsrc_portal_delta,
	.recache = tw_polsrc_portal_recache,
	.progress = sink_progress,
};

struct tw_polstream *tw_polstream_new(struct tw_daemon *d)
{
	return tw_polstream_new_sink(d, &daemon_sink);
}

void tw_polstream_free(struct tw_polstream *ps)
{
	if (!ps)
		return;
	tw_polstream_stop(ps);
	tw_polstream_release(ps);
}

/* protocol.md 6.1: the retry schedule of a non-200 status. */
static const struct {
	int status;
	enum tw_link_retry retry;
} status_retry[] = {
	{ 400, TW_RETRY_SLOW }, { 401, TW_RETRY_SLOW }, { 403, TW_RETRY_SLOW },
	{ 404, TW_RETRY_SLOW }, { 405, TW_RETRY_SLOW }, { 409, TW_RETRY_SLOW },
	{ 415, TW_RETRY_SLOW }, { 501, TW_RETRY_SLOW },
};

static enum tw_link_retry retry_for(int status)
{
	for (size_t i = 0; i < sizeof(status_retry) / sizeof(status_retry[0]); i++)
		if (status_retry[i].status == status)
			return status_retry[i].retry;
	return TW_RETRY_NORMAL;
}

/* retry-after in seconds (an HTTP date is taken as "none": the schedule's delay applies). */
static unsigned int parse_retry_after(const char *v)
{
	char *end;
	unsigned long s;

	if (!v)
		return 0;
	errno = 0;
	s = strtoul(v, &end, 10);
	if (errno || end == v || *end)
		return 0;
	return s > 3600 ? 3600 : (unsigned int)s;
}

static int on_headers(void *ctx, const struct tw_h2resp *r)
{
	struct tw_polstream *ps = ctx;
	const char *ct = tw_h2resp_header(r, "content-type");
	size_t n = strlen("application/x-ndjson");

	ps->status = r->status;
	ps->retry_after_s = parse_retry_after(tw_h2resp_header(r, "retry-after"));
	if (r->status != 200)
		return 0; /* its body says why: read it, report at the close */
	if (!ct || strncasecmp(ct, "application/x-ndjson", n) ||
	    (ct[n] && ct[n] != ';' && ct[n] != ' ')) {
		char esc[4 * 64 + 4];

		tw_utf8_escape(esc, sizeof(esc), ct ? ct : "(none)", strlen(ct ? ct : "(none)"),
			       64);
		ps->failed = NGHTTP2_PROTOCOL_ERROR;
		ps->retry = TW_RETRY_SLOW;
		snprintf(ps->why, sizeof(ps->why),
			 "portal policy stream: 200 with content-type %s, not application/x-ndjson",
			 esc);
		return -1;
	}
	return 0;
}

static uint32_t on_data(void *ctx, const uint8_t *buf, size_t len)
{
	struct tw_polstream *ps = ctx;
	size_t n;

	if (ps->status == 200)
		return tw_polstream_feed(ps, buf, len);
	n = sizeof(ps->errbody) - 1 - ps->errlen;
	if (len < n)
		n = len;
	memcpy(ps->errbody + ps->errlen, buf, n);
	ps->errlen += n;
	return 0;
}

/* "403 forbidden: identity ... may not act for ...", escaped, at most 512 bytes of message. */
static void status_why(struct tw_polstream *ps, const char *path)
{
	char esc[4 * 512 + 4] = "";
	json_t *j = json_loadb(ps->errbody, ps->errlen, 0, NULL);
	const char *code = json_string_value(json_object_get(j, "error"));
	const char *msg = json_string_value(json_object_get(j, "message"));

	if (msg)
		tw_utf8_escape(esc, sizeof(esc), msg, strlen(msg), 512);
	snprintf(ps->why, sizeof(ps->why), "portal: GET %s: %d%s%s%s%s", path, ps->status,
		 code ? " " : "", code ? code : "", msg ? ": " : "", esc);
	json_decref(j);
}

static void on_close(void *ctx, uint32_t h2_error, bool by_peer)
{
	struct tw_polstream *ps = ctx;
	struct tw_daemon *d = ps->d;
	enum tw_link_retry retry = TW_RETRY_NORMAL;
	char path[128];

	ps->sid = 0;
	ps->c = NULL;
	if (ps->stopping) {
		ps->stopping = false;
		return;
	}
	if (ps->failed) {
		retry = ps->retry;
	} else if (ps->status && ps->status != 200) {
		snprintf(path, sizeof(path), "/v1/nodes/%s/policy", d->node);
		status_why(ps, path);
		retry = retry_for(ps->status);
	} else if (by_peer) {
		retry = h2_error == NGHTTP2_REFUSED_STREAM    ? TW_RETRY_NOW :
			h2_error == NGHTTP2_ENHANCE_YOUR_CALM ? TW_RETRY_SLOW :
								TW_RETRY_NORMAL;
		snprintf(ps->why, sizeof(ps->why), "portal reset the policy stream (%s)",
			 nghttp2_http2_strerror(h2_error));
	} else if (!ps->why[0]) {
		snprintf(ps->why, sizeof(ps->why), "the policy stream ended (%s)",
			 h2_error ? nghttp2_http2_strerror(h2_error) : "the portal closed it");
	}
	tw_portal_stream_ended(d, TW_STREAM_POLICY, retry, ps->retry_after_s, ps->why);
}

static const struct tw_h2stream_ops stream_ops = {
	.on_headers = on_headers,
	.on_data = on_data,
	.read_body = NULL,
	.on_close = on_close,
};

/* The path of [portal] url ("/" or "/tunwarden/"), then v1/nodes/{node}/policy?since=V. */
static int build_path(const struct tw_polstream *ps, char *out, size_t len)
{
	const char *url = ps->d->cfg.portal.url, *p = strstr(url, "://");
	const char *base = p ? strchr(p + 3, '/') : NULL;
	size_t blen = base ? strlen(base) : 0;
	int n;

	if (!base)
		base = "/", blen = 1;
	n = snprintf(out, len, "%.*s%sv1/nodes/%s/policy?since=%" PRIu64, (int)blen, base,
		     base[blen - 1] == '/' ? "" : "/", ps->d->node, tw_polstream_since(ps));
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int tw_polstream_start(struct tw_polstream *ps, struct tw_h2conn *c)
{
	static const struct tw_h2hdr hdrs[] = {
		{ "accept", "application/x-ndjson" },
		{ "accept-encoding", "gzip" },
		{ "user-agent", "tunwardend/" TW_VERSION },
	};
	char path[TW_CFG_PATH_MAX + 128];
	int32_t sid;
	int err;

	if (ps->sid > 0)
		return -EBUSY;
	err = build_path(ps, path, sizeof(path));
	if (err)
		return err;
	tw_polstream_reset_lines(ps);
	ps->status = 0;
	ps->retry_after_s = 0;
	ps->errlen = 0;
	ps->stopping = false;
	sid = tw_h2_request(c, "GET", path, hdrs, sizeof(hdrs) / sizeof(hdrs[0]), false,
			    &stream_ops, ps);
	if (sid < 0)
		return sid;
	ps->c = c;
	ps->sid = sid;
	tw_dbg("portal: GET %s (stream %d)", path, sid);
	return 0;
}

void tw_polstream_stop(struct tw_polstream *ps)
{
	if (!ps || ps->sid <= 0 || !ps->c)
		return;
	ps->stopping = true;
	tw_h2_reset(ps->c, ps->sid, NGHTTP2_CANCEL);
}

bool tw_polstream_open(const struct tw_polstream *ps)
{
	return ps && ps->sid > 0;
}

void tw_polstream_tick(struct tw_polstream *ps)
{
	uint64_t idle = ps->d->cfg.portal.policy_idle_timeout_ms;

	if (!tw_polstream_open(ps) || !idle || tw_polstream_now_ms() - ps->last_data_ms < idle)
		return;
	/* protocol.md 2.4: CANCEL and a new stream with since = our version */
	snprintf(ps->why, sizeof(ps->why), "portal policy stream: nothing for %" PRIu64 " s",
		 idle / 1000);
	ps->failed = NGHTTP2_CANCEL;
	ps->retry = TW_RETRY_NORMAL;
	tw_h2_reset(ps->c, ps->sid, NGHTTP2_CANCEL);
}
