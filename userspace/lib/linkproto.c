// SPDX-License-Identifier: GPL-2.0-only
/* The pure rules of the portal link: see linkproto.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <jansson.h>

#include "linkproto.h"

uint64_t tw_backoff_delay(struct tw_backoff *b, uint64_t first_ms, uint64_t cap_ms,
			  unsigned int retry_after_s, uint64_t rnd)
{
	uint64_t d = b->next_ms ? b->next_ms : first_ms, w;

	if (d > cap_ms)
		d = cap_ms;
	w = d / 2 + (d / 2 ? rnd % (d - d / 2 + 1) : 0);
	b->next_ms = d * 2 > cap_ms ? cap_ms : d * 2;
	if (retry_after_s > TW_RETRY_AFTER_MAX_S)
		retry_after_s = TW_RETRY_AFTER_MAX_S;
	if (w < (uint64_t)retry_after_s * 1000)
		w = (uint64_t)retry_after_s * 1000;
	return w;
}

enum tw_link_retry tw_link_status_retry(int status)
{
	static const struct {
		int status;
		enum tw_link_retry r;
	} slow[] = { { 400, TW_RETRY_SLOW }, { 401, TW_RETRY_SLOW }, { 403, TW_RETRY_SLOW },
		     { 404, TW_RETRY_SLOW }, { 405, TW_RETRY_SLOW }, { 409, TW_RETRY_SLOW },
		     { 413, TW_RETRY_SLOW }, { 415, TW_RETRY_SLOW }, { 501, TW_RETRY_SLOW } };
	size_t i;

	for (i = 0; i < sizeof(slow) / sizeof(slow[0]); i++)
		if (slow[i].status == status)
			return slow[i].r;
	return TW_RETRY_NORMAL;
}

enum tw_link_retry tw_link_error_retry(const char *code)
{
	static const char *const normal[] = { "unavailable" };
	static const char *const slow[] = { "bad_record", "wrong_node", "wrong_log", "out_of_order",
					    "too_long" };
	size_t i;

	for (i = 0; i < sizeof(normal) / sizeof(normal[0]); i++)
		if (!strcmp(code, normal[i]))
			return TW_RETRY_NORMAL;
	for (i = 0; i < sizeof(slow) / sizeof(slow[0]); i++)
		if (!strcmp(code, slow[i]))
			return TW_RETRY_SLOW;
	return TW_RETRY_NORMAL;
}

int tw_parse_u63(const char *s, uint64_t *v)
{
	uint64_t x = 0;

	if (!s || !*s || strlen(s) > 19)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		x = x * 10 + (uint64_t)(*s - '0');
	}
	if (x > INT64_MAX)
		return -EINVAL;
	*v = x;
	return 0;
}

unsigned int tw_retry_after_parse(const char *v, int64_t now)
{
	struct tm tm = {};
	uint64_t s;
	const char *e;
	time_t t;

	if (!v)
		return 0;
	if (!tw_parse_u63(v, &s))
		return s > TW_RETRY_AFTER_MAX_S ? TW_RETRY_AFTER_MAX_S : (unsigned int)s;
	/* IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT" */
	e = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (!e || *e)
		return 0;
	t = timegm(&tm);
	if (t <= now)
		return 0;
	return t - now > TW_RETRY_AFTER_MAX_S ? TW_RETRY_AFTER_MAX_S : (unsigned int)(t - now);
}

/* For the log: printable ASCII as is, anything else as \\xHH, at most 512 bytes of input. */
static void escape(char *dst, size_t dstlen, const char *s, size_t n)
{
	size_t o = 0, i;

	if (n > 512)
		n = 512;
	for (i = 0; i < n && o + 5 < dstlen; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch >= 0x20 && ch < 0x7f && ch != '\\')
			dst[o++] = (char)ch;
		else
			o += (size_t)snprintf(dst + o, dstlen - o, "\\x%02x", ch);
	}
	dst[o] = '\0';
}

int tw_ackline_parse(const char *line, size_t len, struct tw_ackline *out, char *why, size_t whylen)
{
	json_error_t je;
	json_t *o, *a, *e;

	memset(out, 0, sizeof(*out));
	if (len && line[len - 1] == '\r')
		len--;
	if (!len) {
		out->kind = TW_ACKLINE_EMPTY;
		return 0;
	}
	o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
	if (!o || !json_is_object(o)) {
		snprintf(why, whylen, "%s", o ? "not a JSON object" : je.text);
		json_decref(o);
		return -EINVAL;
	}
	a = json_object_get(o, "ack");
	e = json_object_get(o, "error");
	if (e) {
		json_t *sq = json_object_get(o, "seq"), *m = json_object_get(o, "message");

		out->kind = TW_ACKLINE_ERROR;
		escape(out->error, sizeof(out->error),
		       json_is_string(e) ? json_string_value(e) : "?",
		       json_is_string(e) ? json_string_length(e) : 1);
		if (json_is_integer(sq) && json_integer_value(sq) > 0)
			out->seq = (uint64_t)json_integer_value(sq);
		if (json_is_string(m))
			escape(out->message, sizeof(out->message), json_string_value(m),
			       json_string_length(m));
	} else if (a) {
		if (!json_is_integer(a) || json_integer_value(a) < 0) {
			snprintf(why, whylen, "\"ack\" is not an integer in 0..2^63-1");
			json_decref(o);
			return -EINVAL;
		}
		out->kind = TW_ACKLINE_ACK;
		out->ack = (uint64_t)json_integer_value(a);
	} else {
		out->kind = TW_ACKLINE_OTHER;
	}
	json_decref(o);
	return 0;
}

enum tw_resume tw_resume_decide(uint64_t r, uint64_t acked, uint64_t last_committed)
{
	if (r > last_committed)
		return TW_RESUME_AHEAD;
	if (r < acked)
		return TW_RESUME_LOST;
	return TW_RESUME_OK;
}
