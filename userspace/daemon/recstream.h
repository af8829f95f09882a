/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The record stream (docs/protocol.md section 4): one long-lived POST
 * /v1/nodes/{node}/records on the portal link's connection. It waits for
 * the response HEADERS (tunwarden-resume-after R), sends the journal's
 * committed records after max(R, acked) in seq order within the in-flight
 * window, reads {"ack":N} lines and trims the journal (tw_journal_ack) only
 * on them. It never drops a record. portal.c owns the connection and the
 * retries: this stream tells it how it ended.
 */
#ifndef TW_RECSTREAM_H
#define TW_RECSTREAM_H

#include <stdbool.h>
#include <stdint.h>

struct tw_daemon;
struct tw_h2conn;
struct tw_recstream;

struct tw_recstream *tw_recstream_new(struct tw_daemon *d);
void tw_recstream_free(struct tw_recstream *rs);

int tw_recstream_start(struct tw_recstream *rs, struct tw_h2conn *c);
void tw_recstream_stop(struct tw_recstream *rs);
bool tw_recstream_open(const struct tw_recstream *rs);
/* New records were committed to the journal: send them if the window allows. */
void tw_recstream_kick(struct tw_recstream *rs);
/* Every second: header and ack-progress deadlines, idle keepalive line. */
void tw_recstream_tick(struct tw_recstream *rs);

struct tw_recstream_status {
	uint64_t acked_seq; /* highest seq the portal acked (or its R) */
	uint64_t sent_seq; /* highest seq sent on the open stream */
	uint64_t backlog; /* committed records not yet acked */
	char last_error[256]; /* the portal's last error line or refusal, "" if none */
};
void tw_recstream_status(const struct tw_recstream *rs, struct tw_recstream_status *st);

#endif /* TW_RECSTREAM_H */
