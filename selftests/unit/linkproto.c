// SPDX-License-Identifier: GPL-2.0-only
/*
 * The portal link's pure rules (lib/linkproto.h, docs/protocol.md): the
 * backoff schedules with their jitter bounds, caps, retry-after and reset
 * (6.4); what status codes and error lines mean for the retry (6.1, 4.6);
 * the ack line parser (4.5); the resume decision (4.2, 4.7).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "test.h"
#include "linkproto.h"

static void backoff(void)
{
	struct tw_backoff b = {};
	uint64_t steps[] = { 1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000 };
	char name[64];

	/* rnd 0: the lower bound d/2; rnd ~0 with the modulus: somewhere in [d/2, d] */
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		struct tw_backoff lo = b, hi = b;
		uint64_t dl = tw_backoff_delay(&lo, 1000, 60000, 0, 0);
		uint64_t dh = tw_backoff_delay(&hi, 1000, 60000, 0, steps[i] - steps[i] / 2);

		snprintf(name, sizeof(name), "normal step %zu", i);
		ASSERT_EQ(dl, steps[i] / 2, name);
		ASSERT_EQ(dh, steps[i], name);
		tw_backoff_delay(&b, 1000, 60000, 0, 12345);
	}
	for (uint64_t r = 0; r < 5000; r += 7) {
		struct tw_backoff x = { .next_ms = 8000 };
		uint64_t d = tw_backoff_delay(&x, 1000, 60000, 0, r * 2654435761u);

		if (!ASSERT_TRUE(d >= 4000 && d <= 8000, "jitter within [d/2, d]"))
			break;
	}
	/* slow: 60 s doubling to 15 min */
	b.next_ms = 0;
	ASSERT_EQ(tw_backoff_delay(&b, TW_SLOW_FIRST_MS, TW_SLOW_CAP_MS, 0, 0), 30000, "slow 1");
	for (int i = 0; i < 10; i++)
		tw_backoff_delay(&b, TW_SLOW_FIRST_MS, TW_SLOW_CAP_MS, 0, 0);
	ASSERT_EQ(b.next_ms, TW_SLOW_CAP_MS, "slow capped at 15 min");
	/* retry-after: the larger of it and the step, at most 1 h */
	b.next_ms = 0;
	ASSERT_EQ(tw_backoff_delay(&b, 1000, 60000, 30, 0), 30000, "retry-after 30 s wins");
	ASSERT_EQ(tw_backoff_delay(&b, 1000, 60000, 999999, 0), 3600000, "capped at 1 h");
	ASSERT_EQ(tw_backoff_delay(&b, 1000, 60000, 0, 0), 2000, "the step moved on regardless");
	tw_backoff_reset(&b);
	ASSERT_EQ(tw_backoff_delay(&b, 1000, 60000, 0, 0), 500, "reset: the first step again");
}

static void retries(void)
{
	static const struct {
		int status;
		enum tw_link_retry r;
	} st[] = {
		{ 400, TW_RETRY_SLOW },	  { 401, TW_RETRY_SLOW },   { 403, TW_RETRY_SLOW },
		{ 404, TW_RETRY_SLOW },	  { 405, TW_RETRY_SLOW },   { 409, TW_RETRY_SLOW },
		{ 501, TW_RETRY_SLOW },	  { 408, TW_RETRY_NORMAL }, { 429, TW_RETRY_NORMAL },
		{ 500, TW_RETRY_NORMAL }, { 502, TW_RETRY_NORMAL }, { 503, TW_RETRY_NORMAL },
		{ 504, TW_RETRY_NORMAL }, { 418, TW_RETRY_NORMAL }, { 421, TW_RETRY_NORMAL },
	};
	static const struct {
		const char *code;
		enum tw_link_retry r;
	} el[] = {
		{ "bad_record", TW_RETRY_SLOW },      { "wrong_node", TW_RETRY_SLOW },
		{ "wrong_log", TW_RETRY_SLOW },	      { "out_of_order", TW_RETRY_SLOW },
		{ "too_long", TW_RETRY_SLOW },	      { "unavailable", TW_RETRY_NORMAL },
		{ "something_new", TW_RETRY_NORMAL },
	};
	char name[64];

	for (size_t i = 0; i < sizeof(st) / sizeof(st[0]); i++) {
		snprintf(name, sizeof(name), "status %d", st[i].status);
		ASSERT_EQ(tw_link_status_retry(st[i].status), st[i].r, name);
	}
	for (size_t i = 0; i < sizeof(el) / sizeof(el[0]); i++)
		ASSERT_EQ(tw_link_error_retry(el[i].code), el[i].r, el[i].code);

	ASSERT_EQ(tw_retry_after_parse("120", 0), 120, "seconds");
	ASSERT_EQ(tw_retry_after_parse("86400", 0), 3600, "capped at 1 h");
	ASSERT_EQ(tw_retry_after_parse(NULL, 0), 0, "absent");
	ASSERT_EQ(tw_retry_after_parse("-5", 0), 0, "negative: unreadable");
	ASSERT_EQ(tw_retry_after_parse("soon", 0), 0, "garbage");
	/* Sun, 06 Nov 1994 08:49:37 GMT is 784111777 */
	ASSERT_EQ(tw_retry_after_parse("Sun, 06 Nov 1994 08:49:37 GMT", 784111777 - 90), 90,
		  "HTTP date");
	ASSERT_EQ(tw_retry_after_parse("Sun, 06 Nov 1994 08:49:37 GMT", 784111777 + 5), 0,
		  "a date in the past");
}

static void acklines(void)
{
	struct tw_ackline al;
	char why[128], big[64];

#define P(s) tw_ackline_parse(s, strlen(s), &al, why, sizeof(why))
	ASSERT_EQ(P("{\"ack\":1180}"), 0, "ack");
	ASSERT_EQ(al.kind, TW_ACKLINE_ACK, "kind");
	ASSERT_EQ(al.ack, 1180, "value");
	ASSERT_EQ(P("{\"ack\":9223372036854775807}"), 0, "2^63-1");
	ASSERT_EQ(al.ack, 9223372036854775807ULL, "value");
	ASSERT_EQ(P("{\"ack\":5}\r"), 0, "a CR before the LF is tolerated");
	ASSERT_EQ(P(""), 0, "empty line");
	ASSERT_EQ(al.kind, TW_ACKLINE_EMPTY, "keepalive");
	ASSERT_EQ(P("{\"hello\":1}"), 0, "unknown members");
	ASSERT_EQ(al.kind, TW_ACKLINE_OTHER, "ignored");
	ASSERT_EQ(P("{\"ack\":\"twelve\"}"), -EINVAL, "string ack");
	ASSERT_EQ(P("{\"ack\":-1}"), -EINVAL, "negative ack");
	ASSERT_EQ(P("{\"ack\":1.5}"), -EINVAL, "fraction");
	ASSERT_EQ(P("{\"ack\":1}{"), -EINVAL, "trailing garbage");
	ASSERT_EQ(P("[1]"), -EINVAL, "not an object");
	ASSERT_EQ(P("{\"ack\":1,\"ack\":2}"), -EINVAL, "duplicate member");
	ASSERT_EQ(
		P("{\"error\":\"bad_record\",\"seq\":1205,\"message\":\"\\\"kind\\\": x\\u0001\"}"),
		0, "error line");
	ASSERT_EQ(al.kind, TW_ACKLINE_ERROR, "kind");
	ASSERT_STREQ(al.error, "bad_record", "code");
	ASSERT_EQ(al.seq, 1205, "seq");
	ASSERT_STREQ(al.message, "\"kind\": x\\x01", "control bytes escaped");
	snprintf(big, sizeof(big), "{\"error\":%d}", 7);
	ASSERT_EQ(P(big), 0, "a non-string code");
	ASSERT_STREQ(al.error, "?", "shown as ?");
#undef P
}

static void resume(void)
{
	ASSERT_EQ(tw_resume_decide(0, 0, 0), TW_RESUME_OK, "new log, empty journal");
	ASSERT_EQ(tw_resume_decide(0, 0, 50), TW_RESUME_OK, "unknown log: from seq 1");
	ASSERT_EQ(tw_resume_decide(30, 20, 50), TW_RESUME_OK, "portal ahead of our acks");
	ASSERT_EQ(tw_resume_decide(50, 20, 50), TW_RESUME_OK, "portal holds everything");
	ASSERT_EQ(tw_resume_decide(51, 20, 50), TW_RESUME_AHEAD, "restored journal");
	ASSERT_EQ(tw_resume_decide(10, 20, 50), TW_RESUME_LOST, "portal lost 11..20");
	ASSERT_EQ(tw_resume_decide(0, 20, 20), TW_RESUME_LOST, "empty portal after acks");
}

static void u63(void)
{
	uint64_t v;

	ASSERT_EQ(tw_parse_u63("0", &v), 0, "0");
	ASSERT_EQ(tw_parse_u63("9223372036854775807", &v), 0, "2^63-1");
	ASSERT_EQ(tw_parse_u63("9223372036854775808", &v), -EINVAL, "2^63");
	ASSERT_EQ(tw_parse_u63("99999999999999999999", &v), -EINVAL, "20 digits");
	ASSERT_EQ(tw_parse_u63("", &v), -EINVAL, "empty");
	ASSERT_EQ(tw_parse_u63(" 1", &v), -EINVAL, "space");
	ASSERT_EQ(tw_parse_u63("1x", &v), -EINVAL, "suffix");
	ASSERT_EQ(tw_parse_u63(NULL, &v), -EINVAL, "absent");
}

void test_linkproto(void)
{
	backoff();
	retries();
	acklines();
	resume();
	u63();
}
