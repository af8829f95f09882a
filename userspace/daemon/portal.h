/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The portal link (docs/protocol.md): with [portal] url set, tunwardend
 * keeps one HTTP/2 connection to the portal (h2conn.h) carrying the record
 * stream (recstream.h) and the policy stream (polstream.h). This module
 * owns the connection's life: connect, reconnect with backoff and jitter
 * (protocol.md 6.4, one schedule for the connection and one per stream),
 * moving streams on a graceful GOAWAY, health records (protocol.md 7), and
 * what `tunwarden status` and the metrics say about the link.
 * Admission and sessions know nothing of it.
 */
#ifndef TW_PORTAL_H
#define TW_PORTAL_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "linkproto.h"

struct tw_daemon;
struct json_t;

/* enum tw_link_retry (which retry schedule a failure puts its stream on) is
 * in linkproto.h with the rest of the pure rules. */

enum tw_link_stream {
	TW_STREAM_RECORDS,
	TW_STREAM_POLICY,
};

/*
 * How a stream ended, from recstream.c / polstream.c: portal.c logs @why
 * (once, escaped), keeps it for status and reopens the stream on the
 * connection (a new one if it is gone) after the schedule's delay, at
 * least @retry_after_s (a retry-after header; 0: none).
 */
void tw_portal_stream_ended(struct tw_daemon *d, enum tw_link_stream s, enum tw_link_retry r,
			    unsigned int retry_after_s, const char *why);
/* A stream made progress (an ack moved forward, a line was accepted):
 * its schedule starts again from the first step. */
void tw_portal_stream_progress(struct tw_daemon *d, enum tw_link_stream s);

/* Start the link if [portal] url is set. 0 or -errno (configuration error, logged). */
int tw_portal_open(struct tw_daemon *d);
/* GOAWAY NO_ERROR and close (daemon stop). */
void tw_portal_close(struct tw_daemon *d);
/* After a reload: reconnect when [portal] changed (@changed) or the token
 * file holds a new token; nothing otherwise. */
void tw_portal_reconfigure(struct tw_daemon *d, bool changed);
/* Records were committed to the journal (called after tw_journal_flush and
 * durable appends): the record stream sends them. */
void tw_portal_records_ready(struct tw_daemon *d);

/* The [portal] url's path, "/" or "/base/": requests go to BASE "v1/nodes/...". */
const char *tw_portal_base_path(const struct tw_daemon *d);

/* The "portal" object of `tunwarden status` (a new reference), or NULL without a link. */
struct json_t *tw_portal_status_json(const struct tw_daemon *d);

#endif /* TW_PORTAL_H */
