/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The portal's policy store: tenants, profiles and subjects (docs/policy.md)
 * in SQLite, a version that only grows, and a change log from which a node
 * that holds version V gets a delta to the current version, or a snapshot
 * when V is too old (docs/protocol.md section 5.3). The admin command line
 * (padmin_policy.h) edits it; the policy endpoint of the server reads it and
 * pushes each change to the open policy streams within milliseconds.
 *
 * Several processes share the file (the server and any number of admin
 * commands): each change is one transaction; the writer then pokes the
 * server through a notification socket beside the database, so the server
 * learns of it at once, and the server also re-checks every second.
 *
 * One store a backend: SQLite now; PostgreSQL (issue 16) provides the same
 * functions behind struct tw_polstore_ops.
 */
#ifndef TW_POLSTORE_H
#define TW_POLSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tw_polstore;

/* Open (creating and migrating the schema) the store at @path. NULL and @err on failure. */
struct tw_polstore *tw_polstore_open(const char *path, char *err, size_t errlen);
void tw_polstore_close(struct tw_polstore *ps);

/* The current version (0: no policy yet), as committed by any process. */
uint64_t tw_polstore_version(struct tw_polstore *ps);

enum tw_bundle_kind {
	TW_BUNDLE_NONE, /* nothing to send: @since is the current version */
	TW_BUNDLE_SNAPSHOT,
	TW_BUNDLE_DELTA,
};

/*
 * The line that brings a node from @since to the current version: a delta
 * ("type":"delta","base":since) when the change log still covers @since, a
 * snapshot ("type":"snapshot") when @since is 0 or older than the log,
 * TW_BUNDLE_NONE when @since is current. Compact JSON, one line, no LF,
 * malloc'd into *@line (caller frees); *@version is the bundle's version.
 * Bundles are the same for every node today (@node is for per-node scoping
 * later). Returns the kind, or -ESTALE when @since is ahead of the store
 * (the protocol's 409), -E2BIG when the line would be over the 64 MiB a
 * node takes (docs/policy.md), -errno on storage errors.
 */
int tw_polstore_bundle(struct tw_polstore *ps, const char *node, uint64_t since, char **line,
		       size_t *len, uint64_t *version);

/*
 * Change notification, server side: a descriptor (non-blocking) that turns
 * readable when a writer committed a change; tw_polstore_notify_drain()
 * reads it empty. -errno if the socket cannot be bound (the server then
 * relies on its 1 s re-check).
 */
int tw_polstore_notify_fd(struct tw_polstore *ps);
void tw_polstore_notify_drain(struct tw_polstore *ps);

#endif /* TW_POLSTORE_H */
