/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Inside the policy stream: polstream.c reads the lines and decides (pure
 * but for the log and the sink), polstream_h2.c carries them over the
 * portal link's HTTP/2 connection. The split lets the unit tests link the
 * line handling alone and drive it with tw_polstream_feed(), with a sink
 * of their own in place of the daemon's install path (policysrc.c).
 */
#ifndef TW_POLSTREAM_INT_H
#define TW_POLSTREAM_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "polstream.h"
#include "portal.h"
#include "tw_sig.h"

#define TW_PS_LINE_MAX	   4096 /* heartbeat, signature and other non-bundle lines */
#define TW_PS_BUNDLE_MAX   (64u << 20) /* a bundle line, as TW_POLICY_MAX_BYTES */
#define TW_PS_TYPES_WARNED 8
/* Delta lines the cache may hold after its snapshot before the node asks for a new one. */
#define TW_PS_CACHE_DELTAS 256

struct tw_policy;

/* What an accepted bundle does to the daemon. */
struct tw_polstream_sink {
	/* A newer snapshot, parsed (@np is handed over): install it, cache @line. */
	void (*snapshot)(struct tw_daemon *d, struct tw_policy *np, const char *line, size_t len);
	/* d->pol was just moved forward by the delta @line: install, cache. @profiles:
	 * the delta has a "profiles" member (allowlists to push). */
	void (*delta)(struct tw_daemon *d, const char *line, size_t len, bool profiles);
	/* A snapshot at the version in force, asked for to compact the cache: write it.
	 * May be NULL (no cache). */
	void (*recache)(struct tw_daemon *d, const char *line, size_t len);
	/* A line was accepted: the stream's retry schedule starts again. May be NULL. */
	void (*progress)(struct tw_daemon *d);
};

struct tw_polstream {
	struct tw_daemon *d;
	const struct tw_polstream_sink *sink;
	struct tw_sig_key *keys[TW_CFG_MAX_PUBKEYS];
	size_t nkeys;

	/* the line being read */
	char *buf;
	size_t len, cap;

	/* a signature line waiting for its bundle */
	bool sig_pending;
	char sig[TW_SIG_B64_LEN + 1];
	char sig_alg[4 * 16 + 4]; /* escaped: it goes into log lines */

	char warned[TW_PS_TYPES_WARNED][32]; /* unknown types warned about on this stream */
	bool accepted_any; /* a line accepted on this stream (progress reported) */
	uint32_t base_mismatches; /* in a row: the second asks since=0 */
	bool want_snapshot; /* next request: since=0 */
	bool compact; /* since=0 for a snapshot to rewrite the cache with */

	/* how the stream ends when a line was refused */
	uint32_t failed; /* the HTTP/2 error code returned, 0: none */
	enum tw_link_retry retry;
	char why[512];
	char last_error[512]; /* for status, until a bundle is accepted */

	uint64_t last_data_ms; /* CLOCK_MONOTONIC: any response bytes */

	/* polstream_h2.c: the HTTP/2 side */
	struct tw_h2conn *c;
	int32_t sid; /* > 0 while open */
	int status; /* the response's :status, 0 before headers */
	unsigned int retry_after_s;
	bool stopping; /* reset by us, no result to report */
	char errbody[1024]; /* a non-200 response's body, for the log */
	size_t errlen;
};

/* The line handling with @sink; loads the keys of d->cfg.portal (NULL, logged, on a bad one). */
struct tw_polstream *tw_polstream_new_sink(struct tw_daemon *d,
					   const struct tw_polstream_sink *sink);
/* Free what tw_polstream_new_sink() made (the stream must be closed). */
void tw_polstream_release(struct tw_polstream *ps);
/* A new stream begins: forget the partial line, pending signature and warnings. */
void tw_polstream_reset_lines(struct tw_polstream *ps);
/* The version to ask for: the policy in force, or 0 after repeated base mismatches. */
uint64_t tw_polstream_since(const struct tw_polstream *ps);
uint64_t tw_polstream_now_ms(void);

#endif /* TW_POLSTREAM_INT_H */
