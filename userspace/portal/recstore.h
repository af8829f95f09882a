/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The portal's record and node store, behind one ops table so a second
 * backend (PostgreSQL, issue 16) slots in without touching the server: nodes
 * (enrolment, token hash, link state) and records stored idempotently by
 * (node, log_id, seq) (docs/protocol.md 4.4). The server batches puts inside
 * one transaction and acks only after commit; admin commands open the same
 * store from another process and query it.
 */
#ifndef TW_RECSTORE_H
#define TW_RECSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define TW_TOKEN_HASH_LEN 32 /* SHA-256 */

struct tw_recstore;

struct tw_node_info {
	char id[64];
	bool enabled;
	bool has_token;
};

/* One record as the server stores it; @body is the NDJSON line without its LF. */
struct tw_rec_row {
	const char *node, *log_id;
	uint64_t seq;
	const char *kind;
	uint64_t time_ns;
	const char *session, *subject; /* "" when absent */
	const char *body;
	size_t body_len;
};

/* The link state of a node, as the record stream shows it (protocol.md 7). */
struct tw_node_link {
	bool connected;
	uint64_t since, last_seen; /* unix seconds; 0: leave unchanged */
	uint64_t last_ack; /* 0: leave unchanged */
	const char *user_agent, *log_id; /* NULL: leave unchanged */
};

struct tw_recstore_ops {
	const char *name;
	void (*close)(struct tw_recstore *rs);
	/* -EEXIST when @id is enrolled already; @token_hash NULL: certificate only. */
	int (*node_add)(struct tw_recstore *rs, const char *id, const uint8_t *token_hash);
	/* -ENOENT when not enrolled. */
	int (*node_get)(struct tw_recstore *rs, const char *id, struct tw_node_info *out);
	/* The node whose token hashes to @hash (compared in constant time), or -ENOENT. */
	int (*node_by_token)(struct tw_recstore *rs, const uint8_t *hash, char *id, size_t idlen);
	int (*node_link)(struct tw_recstore *rs, const char *id, const struct tw_node_link *l);
	/* Every node marked disconnected: the server's start (a crash left them "connected"). */
	int (*nodes_reset)(struct tw_recstore *rs);
	/* The highest durable seq of (node, log_id), 0 if none (protocol.md 4.2). */
	int (*resume_after)(struct tw_recstore *rs, const char *node, const char *log_id,
			    uint64_t *seq);
	int (*begin)(struct tw_recstore *rs);
	/* *@dup: the (node, log_id, seq) was held already; nothing written. */
	int (*put)(struct tw_recstore *rs, const struct tw_rec_row *row, bool *dup);
	/* For a duplicate: 1 when the stored line equals @row's, 0 when not, -errno. */
	int (*same_body)(struct tw_recstore *rs, const struct tw_rec_row *row);
	int (*commit)(struct tw_recstore *rs);
	int (*rollback)(struct tw_recstore *rs);
	/* Admin queries, printed as aligned text tables. */
	int (*list_nodes)(struct tw_recstore *rs, FILE *out);
	int (*list_sessions)(struct tw_recstore *rs, const char *node, FILE *out);
	int (*accounting)(struct tw_recstore *rs, const char *user, const char *session, FILE *out);
	/*
	 * Holes in seq that no gap record names (protocol.md 4.4): a node bug or
	 * a gap record still on its way. Returns how many, or -errno.
	 */
	int (*list_holes)(struct tw_recstore *rs, const char *node, FILE *out);
};

struct tw_recstore {
	const struct tw_recstore_ops *ops;
};

/* SQLite (WAL) at @path, created and migrated. NULL and @err on failure. */
struct tw_recstore *tw_recstore_sqlite_open(const char *path, char *err, size_t errlen);

/* SHA-256 of a token, as stored. */
void tw_token_hash(const char *token, size_t len, uint8_t out[TW_TOKEN_HASH_LEN]);

#endif /* TW_RECSTORE_H */
