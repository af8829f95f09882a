/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The record journal: every record the node produces, kept in SQLite (WAL)
 * until the portal acknowledges it. Design §4; docs/records.md.
 *
 * - Sequence numbers are assigned by tw_journal_append(), strictly
 *   increasing for the life of the journal (its log id) and never reused for
 *   a record that was committed, even after every row has been acked and
 *   trimmed.
 * - Group commit: non-durable appends are queued in memory and written in
 *   one transaction by tw_journal_flush(), by a durable append, or when
 *   opts.batch_max records are queued. A durable append returns only after
 *   its record and everything queued before it are on stable storage.
 * - Only records known to be on stable storage are handed to
 *   tw_journal_read_since(), so a seq the portal has seen is never lost
 *   to a power cut and then handed out again.
 * - Disk cap: over the cap, superseded interim records are dropped oldest
 *   first and a gap record names them; nothing else is ever dropped.
 *
 * One thread at a time per journal (the daemon's event loop); other
 * processes may read the file concurrently (WAL).
 * Functions return 0 or -errno; tw_journal_errstr() says what went wrong.
 */
#ifndef TW_JOURNAL_H
#define TW_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "record.h"

struct tw_journal;

struct tw_journal_opts {
	const char *node_id; /* stamped on every record; required */
	/*
	 * Cap on the database's used pages, in bytes; 0: no cap. On top of
	 * it come the WAL (checkpointed at reserve_bytes / 2) and the reserve.
	 */
	uint64_t cap_bytes;
	/*
	 * Ballast file (<path>-reserve) released only so that acks, which
	 * free space, still commit on a full disk; appends never use it.
	 * 0: 4 MiB.
	 */
	uint64_t reserve_bytes;
	uint32_t batch_max; /* queued appends that force a flush; 0: 1000 */
};

/*
 * Open or create the journal at @path. A new journal gets a fresh random
 * log id, committed durably before this returns. NULL with errno set.
 */
struct tw_journal *tw_journal_open(const char *path, const struct tw_journal_opts *opts);
/* Flush what is queued, then close. Returns the flush's error (queued records lost). */
int tw_journal_close(struct tw_journal *j);
/* Delete a closed journal's files: the database, its WAL, shm and reserve. */
void tw_journal_remove(const char *path);

/*
 * Append @rec: node, log_id and seq are filled in (also in @rec), and
 * time_ns if it is 0. @durable: commit now with a full sync (connect,
 * disconnect, ban, decision records the hook is waiting for). On error the
 * record was not stored and rec->seq is 0; records accepted earlier are
 * untouched (committed or still queued).
 * -EINVAL: the record fails tw_record_validate(); -ENOSPC: disk full or the
 * cap cannot be met by dropping superseded interims.
 */
int tw_journal_append(struct tw_journal *j, struct tw_record *rec, bool durable);

/* Commit the queued records in one transaction (synchronous=NORMAL). */
int tw_journal_flush(struct tw_journal *j);

/* Make every committed record durable (fsync of the WAL; needs no free space). */
int tw_journal_sync(struct tw_journal *j);

/*
 * Call @cb for each committed record with seq > @after, in seq order, at
 * most @max (0: no limit). Records committed but not yet synced are synced
 * first. @json is the stored NDJSON line without newline. @cb returns 0 to
 * go on, > 0 to stop, < 0 to abort with that error; it must not call into
 * the journal. Returns the number of records delivered or -errno. Queued
 * (unflushed) records are not seen.
 */
typedef int (*tw_journal_cb)(const struct tw_record *rec, const char *json, size_t len, void *ctx);
int tw_journal_read_since(struct tw_journal *j, uint64_t after, size_t max, tw_journal_cb cb,
			  void *ctx);

/*
 * The portal holds everything up to @seq durably: delete those rows. Acks
 * are cumulative and may repeat; an ack beyond the last committed seq is
 * -ERANGE (the portal cannot hold what was never sent).
 */
int tw_journal_ack(struct tw_journal *j, uint64_t seq);

uint64_t tw_journal_last_seq(const struct tw_journal *j); /* highest committed seq, 0: none */
const char *tw_journal_log_id(const struct tw_journal *j);
/* NULL @j: why the last tw_journal_open() of this thread failed. */
const char *tw_journal_errstr(const struct tw_journal *j);

struct tw_journal_stats {
	uint64_t rows; /* committed rows not yet trimmed */
	uint64_t used_bytes; /* database pages in use (what the cap measures) */
	uint64_t last_seq; /* highest committed */
	uint64_t synced_seq; /* highest known on stable storage */
	uint64_t acked_seq;
	uint64_t dropped; /* superseded interims dropped under the cap, ever */
	uint32_t queued; /* appended, not yet committed */
	bool reserve_held; /* false: the disk is (or was) full and the reserve is spent */
};
int tw_journal_stats(struct tw_journal *j, struct tw_journal_stats *st);

#endif /* TW_JOURNAL_H */
