/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The pure rules of the portal link (docs/protocol.md), apart from any
 * socket so the unit tests check them: the backoff schedules (6.4), what a
 * status code or an error line means for the retry (6.1, 4.6), the ack
 * line parser (4.5) and the resume decision (4.2, 4.7).
 */
#ifndef TW_LINKPROTO_H
#define TW_LINKPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* tunwardend's version, for user-agent and health records */
#ifndef TW_VERSION
#define TW_VERSION "0.5.0"
#endif

/* Which retry schedule a failure puts its stream on (protocol.md 6.4). */
enum tw_link_retry {
	TW_RETRY_NOW, /* at once: REFUSED_STREAM, a graceful move */
	TW_RETRY_NORMAL, /* 1 s .. backoff_max: network, timeouts, 408, 429, 5xx */
	TW_RETRY_SLOW, /* 60 s .. 15 min: identity, configuration, refused content */
};

#define TW_SLOW_FIRST_MS     (60ULL * 1000)
#define TW_SLOW_CAP_MS	     (15ULL * 60 * 1000)
#define TW_RETRY_AFTER_MAX_S 3600

/* One schedule: the next step is @next_ms (0: the first step). */
struct tw_backoff {
	uint64_t next_ms;
};
/*
 * The delay to wait now, uniform in [d/2, d] by @rnd (any 64-bit random
 * number) where d is the current step (from @first_ms, doubling up to
 * @cap_ms); then the step advances. At least @retry_after_s seconds (capped
 * at an hour) when the portal said so.
 */
uint64_t tw_backoff_delay(struct tw_backoff *b, uint64_t first_ms, uint64_t cap_ms,
			  unsigned int retry_after_s, uint64_t rnd);
static inline void tw_backoff_reset(struct tw_backoff *b)
{
	b->next_ms = 0;
}

/* What a non-200 :status means (protocol.md 6.1). 415 is the caller's. */
enum tw_link_retry tw_link_status_retry(int status);
/* What an error line's "error" code means (protocol.md 4.6). */
enum tw_link_retry tw_link_error_retry(const char *code);
/* A retry-after value: seconds or an HTTP date, relative to @now; capped at an
 * hour; 0 if absent or unreadable. */
unsigned int tw_retry_after_parse(const char *v, int64_t now);

/* One line of the record stream's response body (protocol.md 4.5, 4.6). */
enum tw_ackline_kind {
	TW_ACKLINE_EMPTY, /* keepalive */
	TW_ACKLINE_ACK,
	TW_ACKLINE_ERROR,
	TW_ACKLINE_OTHER, /* an object with neither: ignored */
};
struct tw_ackline {
	enum tw_ackline_kind kind;
	uint64_t ack;
	char error[64]; /* the "error" code */
	uint64_t seq; /* the error's offending seq, 0 if none */
	char message[2100]; /* the error's message, escaped (\\xHH), first 512 bytes */
};
#define TW_ACKLINE_MAX 4096
/* Parse @len bytes (without LF; a trailing CR is dropped). 0 or -EINVAL with
 * @why set (not JSON, not an object, ack not an integer in 0..2^63-1). */
int tw_ackline_parse(const char *line, size_t len, struct tw_ackline *out, char *why,
		     size_t whylen);

/* What the portal's tunwarden-resume-after R means (protocol.md 4.2, 4.7). */
enum tw_resume {
	TW_RESUME_OK, /* send after max(R, acked); trim to R if R > acked */
	TW_RESUME_AHEAD, /* R > last committed: journal restored or copied; send nothing */
	TW_RESUME_LOST, /* R < acked: the portal lost R+1..acked: gap record, then go on */
};
enum tw_resume tw_resume_decide(uint64_t r, uint64_t acked, uint64_t last_committed);

/* A decimal header value in 0..2^63-1 with nothing else. 0 or -EINVAL. */
int tw_parse_u63(const char *s, uint64_t *v);

#endif /* TW_LINKPROTO_H */
