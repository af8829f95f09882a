/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The policy stream (docs/protocol.md section 5): GET
 * /v1/nodes/{node}/policy?since=V on the portal link's connection, NDJSON
 * lines read as they come: snapshots and deltas (checked against the
 * configured Ed25519 keys, lib/tw_sig.h) go to policysrc.c, which applies
 * them to the maps and the live sessions and writes the cache; heartbeats
 * and same-version snapshots confirm the policy in force (staleness,
 * protocol.md section 8). portal.c owns the connection and the retries:
 * this stream tells it how it ended.
 */
#ifndef TW_POLSTREAM_H
#define TW_POLSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tw_daemon;
struct tw_h2conn;
struct tw_polstream;
struct tw_link_result;

struct tw_polstream *tw_polstream_new(struct tw_daemon *d);
void tw_polstream_free(struct tw_polstream *ps);

/* Open the stream on @c (a connection that is up). 0 or -errno. */
int tw_polstream_start(struct tw_polstream *ps, struct tw_h2conn *c);
/* Reset the stream (CANCEL) if open; no result is reported. */
void tw_polstream_stop(struct tw_polstream *ps);
bool tw_polstream_open(const struct tw_polstream *ps);
/* Called every second by portal.c: the idle deadline (policy_idle_timeout). */
void tw_polstream_tick(struct tw_polstream *ps);

/*
 * The NDJSON bytes of a response body, as they arrive: split into lines
 * and acted on. Exposed so the unit tests feed lines without a portal.
 * Returns 0, or the HTTP/2 error code to reset the stream with (the reason
 * is logged and kept for status).
 */
uint32_t tw_polstream_feed(struct tw_polstream *ps, const uint8_t *buf, size_t len);

/* For `tunwarden status`: the last refusal or error, "" if none. */
const char *tw_polstream_last_error(const struct tw_polstream *ps);

#endif /* TW_POLSTREAM_H */
