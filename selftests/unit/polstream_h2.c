// SPDX-License-Identifier: GPL-2.0-only
/*
 * The policy stream's HTTP/2 side (polstream_h2.c): the request of
 * docs/protocol.md 5.1, the status codes of 6.1 and the retry schedule
 * each one gets, a 200 that is not NDJSON, resets by the portal, the idle
 * deadline of 2.4, and a stop that reports nothing.
 *
 * TEST DOUBLES: the transport (h2conn.c), portal.c and policysrc.c are
 * replaced by the weak functions below, which record what the stream asked
 * of them. They are aliases, so the test can tell when a real module was
 * linked instead and skips then rather than drive a real connection.
 */
#include <stdlib.h>
#include <nghttp2/nghttp2.h>
#include "test.h"
#include "daemon.h"
#include "h2conn.h"
#include "policy.h"
#include "policysrc.h"
#include "polstream_int.h"
#include "portal.h"

static struct {
	char method[8], path[512];
	struct tw_h2hdr hdrs[8];
	size_t nhdrs;
	const struct tw_h2stream_ops *ops;
	void *ctx;
	int resets, ended, progress;
	uint32_t reset_code;
	enum tw_link_retry retry;
	unsigned int retry_after;
	char why[512];
} fk;

static int32_t fake_request(struct tw_h2conn *c, const char *method, const char *path,
			    const struct tw_h2hdr *hdrs, size_t nhdrs, bool gzip_body,
			    const struct tw_h2stream_ops *ops, void *ctx)
{
	snprintf(fk.method, sizeof(fk.method), "%s", method);
	snprintf(fk.path, sizeof(fk.path), "%s", path);
	fk.nhdrs = nhdrs < 8 ? nhdrs : 8;
	memcpy(fk.hdrs, hdrs, fk.nhdrs * sizeof(*hdrs));
	fk.ops = ops;
	fk.ctx = ctx;
	return 3;
}
int32_t tw_h2_request(struct tw_h2conn *c, const char *method, const char *path,
		      const struct tw_h2hdr *hdrs, size_t nhdrs, bool gzip_body,
		      const struct tw_h2stream_ops *ops, void *ctx)
	__attribute__((weak, alias("fake_request")));

static int fake_reset(struct tw_h2conn *c, int32_t stream_id, uint32_t h2_error)
{
	fk.resets++;
	fk.reset_code = h2_error;
	return 0;
}
int tw_h2_reset(struct tw_h2conn *c, int32_t stream_id, uint32_t h2_error)
	__attribute__((weak, alias("fake_reset")));

static const char *fake_header(const struct tw_h2resp *r, const char *name)
{
	for (size_t i = 0; i < r->nhdrs; i++)
		if (!strcmp(r->hdrs[i].name, name))
			return r->hdrs[i].value;
	return NULL;
}
const char *tw_h2resp_header(const struct tw_h2resp *r, const char *name)
	__attribute__((weak, alias("fake_header")));

static void fake_ended(struct tw_daemon *d, enum tw_link_stream s, enum tw_link_retry r,
		       unsigned int retry_after_s, const char *why)
{
	fk.ended++;
	fk.retry = r;
	fk.retry_after = retry_after_s;
	snprintf(fk.why, sizeof(fk.why), "%s", why);
}
void tw_portal_stream_ended(struct tw_daemon *d, enum tw_link_stream s, enum tw_link_retry r,
			    unsigned int retry_after_s, const char *why)
	__attribute__((weak, alias("fake_ended")));

static void fake_progress(struct tw_daemon *d, enum tw_link_stream s)
{
	fk.progress++;
}
void tw_portal_stream_progress(struct tw_daemon *d, enum tw_link_stream s)
	__attribute__((weak, alias("fake_progress")));

static void fake_snapshot(struct tw_daemon *d, struct tw_policy *np, const char *line, size_t len)
{
	tw_policy_free(d->pol);
	d->pol = np;
}
void tw_polsrc_portal_snapshot(struct tw_daemon *d, struct tw_policy *np, const char *line,
			       size_t len) __attribute__((weak, alias("fake_snapshot")));

static void fake_delta(struct tw_daemon *d, const char *line, size_t len, bool profiles)
{
}
void tw_polsrc_portal_delta(struct tw_daemon *d, const char *line, size_t len, bool profiles)
	__attribute__((weak, alias("fake_delta")));

static void fake_recache(struct tw_daemon *d, const char *line, size_t len)
{
}
void tw_polsrc_portal_recache(struct tw_daemon *d, const char *line, size_t len)
	__attribute__((weak, alias("fake_recache")));

static const char *hdr(const char *name)
{
	for (size_t i = 0; i < fk.nhdrs; i++)
		if (!strcmp(fk.hdrs[i].name, name))
			return fk.hdrs[i].value;
	return NULL;
}

/* Open a stream on a fake connection, answer @status with @ct. */
static struct tw_polstream *opened(struct tw_daemon *d, int status, const char *ct,
				   const char *retry_after)
{
	struct tw_h2hdr rh[2] = { { "content-type", ct }, { "retry-after", retry_after } };
	struct tw_h2resp r = { .status = status, .hdrs = rh, .nhdrs = retry_after ? 2 : 1 };
	struct tw_polstream *ps = tw_polstream_new(d);

	memset(&fk, 0, sizeof(fk));
	if (!ASSERT_OK_PTR(ps, "polstream") ||
	    !ASSERT_OK(tw_polstream_start(ps, (struct tw_h2conn *)1), "start")) {
		tw_polstream_free(ps);
		return NULL;
	}
	ASSERT_TRUE(tw_polstream_open(ps), "open");
	fk.ops->on_headers(fk.ctx, &r);
	return ps;
}

static void body(const char *s)
{
	uint32_t rc = fk.ops->on_data(fk.ctx, (const uint8_t *)s, strlen(s));

	if (rc) /* as the transport does: reset, then the close */
		fake_reset(NULL, 3, rc);
}

static void closed(uint32_t code, bool by_peer)
{
	fk.ops->on_close(fk.ctx, code, by_peer);
}

void test_polstream_h2(void)
{
	struct tw_daemon *d;
	struct tw_polstream *ps;

	if (tw_h2_request != fake_request || tw_portal_stream_ended != fake_ended ||
	    tw_polsrc_portal_snapshot != fake_snapshot) {
		test__skip(
			"the real transport, portal.c or policysrc.c is linked into this runner");
		return;
	}
	d = calloc(1, sizeof(*d));
	if (!ASSERT_OK_PTR(d, "calloc"))
		return;
	snprintf(d->node, sizeof(d->node), "node-fra-2");
	snprintf(d->cfg.portal.url, sizeof(d->cfg.portal.url), "https://portal.example.net/tw");
	d->cfg.portal.policy_idle_timeout_ms = 45000;

	if (test__start_subtest("request")) {
		ps = opened(d, 200, "application/x-ndjson; charset=utf-8", NULL);
		if (ps) {
			ASSERT_STREQ(fk.method, "GET", "method");
			ASSERT_STREQ(fk.path, "/tw/v1/nodes/node-fra-2/policy?since=0", "path");
			ASSERT_STREQ(hdr("accept"), "application/x-ndjson", "accept");
			ASSERT_STREQ(hdr("accept-encoding"), "gzip", "accept-encoding");
			ASSERT_TRUE(hdr("user-agent") &&
					    !strncmp(hdr("user-agent"), "tunwardend/", 11),
				    "user-agent");
			body("{\"type\":\"snapshot\",\"version\":7,\"subjects\":[]}\n");
			ASSERT_EQ(fk.progress, 1, "progress on the first line");
			ASSERT_EQ(fk.resets, 0, "no reset");
			tw_polstream_stop(ps);
			ASSERT_EQ(fk.reset_code, NGHTTP2_CANCEL, "stop: CANCEL");
			closed(NGHTTP2_CANCEL, false);
			ASSERT_EQ(fk.ended, 0, "a stop reports nothing");
			/* the next stream asks from the version it has */
			ASSERT_OK(tw_polstream_start(ps, (struct tw_h2conn *)1), "restart");
			ASSERT_STREQ(fk.path, "/tw/v1/nodes/node-fra-2/policy?since=7", "since=7");
			tw_polstream_stop(ps);
			closed(NGHTTP2_CANCEL, false);
		}
		tw_polstream_free(ps);
	}
	if (test__start_subtest("forbidden")) {
		ps = opened(d, 403, "application/json", NULL);
		if (ps) {
			body("{\"error\":\"forbidden\",\"message\":\"identity node-fra-2 may not act "
			     "for node node-ams-1\"}");
			closed(0, false);
			ASSERT_EQ(fk.ended, 1, "ended");
			ASSERT_EQ(fk.retry, TW_RETRY_SLOW, "slow schedule");
			ASSERT_STREQ(
				fk.why,
				"portal: GET /v1/nodes/node-fra-2/policy: 403 forbidden: identity "
				"node-fra-2 may not act for node node-ams-1",
				"the log line of protocol.md 11.5");
		}
		tw_polstream_free(ps);
	}
	if (test__start_subtest("unavailable")) {
		ps = opened(d, 503, "text/html", "120");
		if (ps) {
			body("<html>busy</html>");
			closed(0, false);
			ASSERT_EQ(fk.retry, TW_RETRY_NORMAL, "normal schedule");
			ASSERT_EQ(fk.retry_after, 120, "retry-after honoured");
		}
		tw_polstream_free(ps);
	}
	if (test__start_subtest("not_ndjson")) {
		ps = opened(d, 200, "text/html", NULL);
		if (ps) {
			closed(NGHTTP2_PROTOCOL_ERROR, false);
			ASSERT_EQ(fk.retry, TW_RETRY_SLOW, "slow schedule");
			ASSERT_TRUE(strstr(fk.why, "content-type text/html") != NULL, fk.why);
		}
		tw_polstream_free(ps);
	}
	if (test__start_subtest("refused_bundle")) {
		ps = opened(d, 200, "application/x-ndjson", NULL);
		if (ps) {
			body("{\"type\":\"delta\",\"base\":3,\"version\":4}\n");
			ASSERT_EQ(fk.reset_code, NGHTTP2_PROTOCOL_ERROR, "PROTOCOL_ERROR");
			closed(NGHTTP2_PROTOCOL_ERROR, false);
			ASSERT_EQ(fk.retry, TW_RETRY_NORMAL, "a base mismatch: normal schedule");
		}
		tw_polstream_free(ps);
	}
	if (test__start_subtest("peer_resets")) {
		static const struct {
			uint32_t code;
			enum tw_link_retry want;
		} cases[] = {
			{ NGHTTP2_REFUSED_STREAM, TW_RETRY_NOW },
			{ NGHTTP2_ENHANCE_YOUR_CALM, TW_RETRY_SLOW },
			{ NGHTTP2_INTERNAL_ERROR, TW_RETRY_NORMAL },
		};

		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			ps = opened(d, 200, "application/x-ndjson", NULL);
			if (!ps)
				break;
			closed(cases[i].code, true);
			ASSERT_EQ(fk.retry, cases[i].want, fk.why);
			ASSERT_FALSE(tw_polstream_open(ps), "closed");
			tw_polstream_free(ps);
		}
	}
	if (test__start_subtest("idle")) {
		ps = opened(d, 200, "application/x-ndjson", NULL);
		if (ps) {
			tw_polstream_tick(ps);
			ASSERT_EQ(fk.resets, 0, "not idle yet");
			ps->last_data_ms -= 46000;
			tw_polstream_tick(ps);
			ASSERT_EQ(fk.reset_code, NGHTTP2_CANCEL, "idle: CANCEL");
			closed(NGHTTP2_CANCEL, false);
			ASSERT_EQ(fk.retry, TW_RETRY_NORMAL, "normal schedule");
			ASSERT_STREQ(fk.why, "portal policy stream: nothing for 45 s", "why");
		}
		tw_polstream_free(ps);
	}
	tw_policy_free(d->pol);
	free(d);
}
