// SPDX-License-Identifier: GPL-2.0-only
/*
 * The record journal (design §4, docs/records.md): SQLite in WAL mode.
 *
 * Durability model. The connection runs with synchronous=NORMAL: a commit
 * reaches the WAL (the OS page cache) at once, so it survives the process
 * being killed, but it is fsynced only at checkpoints. That is what the
 * interim batches need: losing the last second of cumulative counters to a
 * power cut costs nothing, the next interim carries the totals again.
 * Connect and disconnect records are different: the hook is told "done"
 * only when they are on stable storage. A durable append therefore commits
 * with synchronous=FULL, which fsyncs the WAL after the commit. One fsync of
 * the WAL file covers every frame written to it, and a checkpoint under
 * NORMAL syncs the database before the WAL is reused, so that fsync also
 * makes every earlier NORMAL commit durable.
 *
 * The portal must never see a record that a power cut could take back:
 * its seq would be handed out again and the portal, storing idempotently by
 * seq, would keep the wrong one. So read_since() only delivers records known
 * to be synced, and syncs first if needed by fsyncing the WAL file itself.
 * That needs no free space, unlike a FULL commit, so the stream keeps
 * draining (and acks keep trimming) when the disk is full.
 *
 * Seq numbers come from meta.next_seq, written in the same transaction as
 * the rows, so they survive trimming every row and are never reused for a
 * committed record. A seq assigned to a queued record that died with the
 * process may be assigned again: nothing outside ever saw it.
 */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>
#include <sqlite3.h>
#include "journal.h"
#include "safefile.h"

#define JOURNAL_APP_ID	0x54574a31 /* "TWJ1" in PRAGMA application_id */
#define JOURNAL_SCHEMA	1 /* PRAGMA user_version */
#define DEFAULT_BATCH	1000
#define DEFAULT_RESERVE (4u << 20)
#define TRIM_CHUNK	64

struct pending {
	uint64_t seq;
	uint64_t time_ns;
	uint32_t kind;
	char session[TW_REC_SESSION_MAX];
	char *json;
	size_t len;
};

/* Why the last tw_journal_open() failed: there is no journal to ask. */
static __thread char open_err[512];

struct tw_journal {
	sqlite3 *db;
	char *path;
	char *wal_path;
	char *reserve_path;
	uint64_t reserve;
	bool reserve_held;
	bool over_cap; /* the last commit failed the cap, not the disk */
	char node[TW_REC_NODE_MAX];
	char log_id[TW_REC_LOG_ID_LEN + 1];
	uint64_t cap;
	uint32_t batch_max;

	uint64_t next_seq; /* next seq to assign */
	uint64_t committed_seq; /* highest committed */
	uint64_t synced_seq; /* highest known on stable storage */
	uint64_t acked_seq;
	uint64_t dropped;
	uint64_t page_size;
	/* Rows in the table, kept as they are inserted and deleted: a count(*)
	 * scans them all (300 ms at a 600k backlog), and status, metrics and
	 * health records ask often. tx_rows: the open transaction's change. */
	uint64_t rows;
	int64_t tx_rows;
	bool dir_synced;

	struct pending *q;
	uint32_t nq;

	sqlite3_stmt *ins, *meta_set, *meta_get, *since, *superseded, *del_one, *del_upto;
	sqlite3_stmt *page_count, *freelist, *chunk_end;
	uint32_t ack_chunk; /* rows trimmed per transaction */

	char err[512];
};

static void jerr(struct tw_journal *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void jerr(struct tw_journal *j, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(j->err, sizeof(j->err), fmt, ap);
	va_end(ap);
}

/* SQLite result -> -errno. A full disk must read as -ENOSPC to the daemon. */
static int sqlerr(struct tw_journal *j, int rc, const char *what)
{
	int sys = sqlite3_system_errno(j->db);
	int e;

	switch (rc & 0xff) {
	case SQLITE_FULL:
		e = ENOSPC;
		break;
	case SQLITE_NOMEM:
		e = ENOMEM;
		break;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		e = EBUSY;
		break;
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_AUTH:
		e = EACCES;
		break;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		e = EBADMSG;
		break;
	case SQLITE_CANTOPEN:
	case SQLITE_IOERR:
		e = sys == ENOSPC || sys == EDQUOT ? ENOSPC : sys ? sys : EIO;
		break;
	default:
		e = EIO;
	}
	jerr(j, "journal %s: %s: %s%s", j->path, what, sqlite3_errmsg(j->db),
	     e == ENOSPC ? " (disk full: records already committed are kept)" : "");
	return -e;
}

static int exec(struct tw_journal *j, const char *sql)
{
	int rc = sqlite3_exec(j->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : sqlerr(j, rc, sql);
}

static int prep(struct tw_journal *j, sqlite3_stmt **st, const char *sql)
{
	int rc = sqlite3_prepare_v3(j->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);

	return rc == SQLITE_OK ? 0 : sqlerr(j, rc, sql);
}

/* One-row integer query through a prepared statement; reset afterwards. */
static int step_u64(struct tw_journal *j, sqlite3_stmt *st, uint64_t *out, bool *found)
{
	int rc = sqlite3_step(st);
	int err = 0;

	if (found)
		*found = rc == SQLITE_ROW;
	if (rc == SQLITE_ROW)
		*out = (uint64_t)sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_DONE)
		err = sqlerr(j, rc, sqlite3_sql(st));
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return err;
}

static int query_u64(struct tw_journal *j, const char *sql, uint64_t *out)
{
	sqlite3_stmt *st;
	int err = prep(j, &st, sql);

	if (err)
		return err;
	*out = 0;
	err = step_u64(j, st, out, NULL);
	sqlite3_finalize(st);
	return err;
}

static int meta_get(struct tw_journal *j, const char *key, uint64_t *out, bool *found)
{
	sqlite3_bind_text(j->meta_get, 1, key, -1, SQLITE_STATIC);
	return step_u64(j, j->meta_get, out, found);
}

static int meta_set(struct tw_journal *j, const char *key, uint64_t v)
{
	int rc;

	sqlite3_bind_text(j->meta_set, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(j->meta_set, 2, (sqlite3_int64)v);
	rc = sqlite3_step(j->meta_set);
	sqlite3_reset(j->meta_set);
	sqlite3_clear_bindings(j->meta_set);
	return rc == SQLITE_DONE ? 0 : sqlerr(j, rc, "meta update");
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Pages in use inside the current transaction: what the cap limits. */
static int used_bytes(struct tw_journal *j, uint64_t *out)
{
	uint64_t pages = 0, free_pages = 0;
	int err;

	err = step_u64(j, j->page_count, &pages, NULL);
	if (!err)
		err = step_u64(j, j->freelist, &free_pages, NULL);
	*out = (pages - free_pages) * j->page_size;
	return err;
}

static void rollback(struct tw_journal *j)
{
	/* SQLite may already have rolled back by itself (SQLITE_FULL, IOERR). */
	if (!sqlite3_get_autocommit(j->db))
		sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
	j->tx_rows = 0;
}

/* COMMIT, and count the rows it inserted and deleted: 0 or -errno. */
static int commit_tx(struct tw_journal *j, const char *what)
{
	int rc = sqlite3_exec(j->db, "COMMIT", NULL, NULL, NULL);

	if (rc != SQLITE_OK)
		return sqlerr(j, rc, what);
	j->rows = (uint64_t)((int64_t)j->rows + j->tx_rows);
	j->tx_rows = 0;
	return 0;
}

static int insert_row(struct tw_journal *j, uint64_t seq, uint32_t kind, const char *session,
		      uint64_t time_ns, const char *json, size_t len)
{
	int rc;

	sqlite3_bind_int64(j->ins, 1, (sqlite3_int64)seq);
	sqlite3_bind_int(j->ins, 2, (int)kind);
	if (session && session[0])
		sqlite3_bind_text(j->ins, 3, session, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(j->ins, 3);
	sqlite3_bind_int64(j->ins, 4, (sqlite3_int64)time_ns);
	sqlite3_bind_text(j->ins, 5, json, (int)len, SQLITE_STATIC);
	rc = sqlite3_step(j->ins);
	sqlite3_reset(j->ins);
	sqlite3_clear_bindings(j->ins);
	if (rc != SQLITE_DONE)
		return sqlerr(j, rc, "insert record");
	j->tx_rows++;
	return 0;
}

/* Write one gap record naming @gap's ranges; seq is the next free one. */
static int insert_gap(struct tw_journal *j, struct tw_record *gap)
{
	char msg[256];
	size_t len;
	char *json;
	int err;

	gap->kind = TW_REC_GAP;
	memcpy(gap->node, j->node, sizeof(gap->node));
	memcpy(gap->log_id, j->log_id, sizeof(gap->log_id));
	gap->seq = j->next_seq;
	gap->time_ns = now_ns();
	snprintf(gap->detail, sizeof(gap->detail),
		 "superseded interim records dropped: journal over its cap of %llu bytes",
		 (unsigned long long)j->cap);
	json = tw_record_to_json(gap, &len, msg, sizeof(msg));
	if (!json) {
		err = -errno;
		jerr(j, "journal %s: gap record: %s", j->path, msg);
		return err;
	}
	err = insert_row(j, gap->seq, TW_REC_GAP, NULL, gap->time_ns, json, len);
	free(json);
	if (err)
		return err;
	j->next_seq++;
	j->dropped += gap->gap_count;
	memset(gap, 0, sizeof(*gap));
	return 0;
}

/*
 * Inside the commit transaction: if over the cap, drop superseded interims
 * (an interim whose session has a later interim or a disconnect in the
 * journal: the later record's cumulative counters contain it) oldest first
 * down to a low-water mark, so the next batches do not trim again at once.
 * If even that cannot get under the cap, the caller rolls everything back.
 */
static int enforce_cap(struct tw_journal *j)
{
	uint64_t used, low, after = 0, seqs[TRIM_CHUNK];
	struct tw_record *gap = NULL;
	int n, i, rc, err;

	if (!j->cap)
		return 0;
	err = used_bytes(j, &used);
	if (err || used <= j->cap)
		return err;
	low = j->cap - j->cap / 8;
	gap = calloc(1, sizeof(*gap));
	if (!gap)
		return -ENOMEM;
	while (used > low) {
		n = 0;
		sqlite3_bind_int64(j->superseded, 1, (sqlite3_int64)after);
		sqlite3_bind_int(j->superseded, 2, TRIM_CHUNK);
		while ((rc = sqlite3_step(j->superseded)) == SQLITE_ROW)
			seqs[n++] = (uint64_t)sqlite3_column_int64(j->superseded, 0);
		sqlite3_reset(j->superseded);
		if (rc != SQLITE_DONE) {
			err = sqlerr(j, rc, "find superseded interims");
			goto out;
		}
		if (!n)
			break;
		for (i = 0; i < n; i++) {
			struct tw_seq_range *last = gap->ngaps ? &gap->gaps[gap->ngaps - 1] : NULL;

			if (!last || seqs[i] != last->last + 1) {
				/* A gap record holds TW_REC_GAP_RANGES ranges; then start another. */
				if (gap->ngaps == TW_REC_GAP_RANGES) {
					err = insert_gap(j, gap);
					if (err)
						goto out;
				}
				gap->gaps[gap->ngaps].first = seqs[i];
				gap->gaps[gap->ngaps].last = seqs[i];
				gap->ngaps++;
			} else {
				last->last = seqs[i];
			}
			gap->gap_count++;
			sqlite3_bind_int64(j->del_one, 1, (sqlite3_int64)seqs[i]);
			rc = sqlite3_step(j->del_one);
			sqlite3_reset(j->del_one);
			if (rc != SQLITE_DONE) {
				err = sqlerr(j, rc, "drop superseded interim");
				goto out;
			}
			j->tx_rows -= sqlite3_changes(j->db);
		}
		after = seqs[n - 1];
		err = used_bytes(j, &used);
		if (err)
			goto out;
	}
	if (gap->ngaps) {
		err = insert_gap(j, gap);
		if (err)
			goto out;
	}
	err = used_bytes(j, &used);
	if (err)
		goto out;
	if (used > j->cap) {
		jerr(j,
		     "journal %s: over its cap (%llu bytes used, cap %llu) with no superseded "
		     "interim record left to drop; records wait for the portal's ack (acked up to "
		     "seq %llu); nothing stored was dropped",
		     j->path, (unsigned long long)used, (unsigned long long)j->cap,
		     (unsigned long long)j->acked_seq);
		j->over_cap = true;
		err = -ENOSPC;
	}
out:
	free(gap);
	return err;
}

static void free_queue(struct tw_journal *j)
{
	uint32_t i;

	for (i = 0; i < j->nq; i++)
		free(j->q[i].json);
	j->nq = 0;
}

/*
 * The reserve: a preallocated ballast file that only an ack may give back.
 * On a full disk the ack (and the checkpoint it may need to reset the WAL)
 * is what makes room again, so it must never be the write that cannot
 * happen. The WAL is checkpointed at half the reserve, so releasing the
 * reserve always covers a checkpoint's growth of the database file.
 */
static void reserve_take(struct tw_journal *j)
{
	int fd;

	if (j->reserve_held)
		return;
	fd = open(j->reserve_path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	if (posix_fallocate(fd, 0, (off_t)j->reserve) == 0)
		j->reserve_held = true;
	else if (ftruncate(fd, 0)) /* a partial ballast would only take space from records */
		j->reserve_held = false;
	close(fd);
}

static bool reserve_release(struct tw_journal *j)
{
	if (!j->reserve_held)
		return false;
	j->reserve_held = false;
	return truncate(j->reserve_path, 0) == 0;
}

/* Copy the WAL into the database and start it over: later writes reuse its blocks. */
static void checkpoint_restart(struct tw_journal *j)
{
	sqlite3_wal_checkpoint_v2(j->db, NULL, SQLITE_CHECKPOINT_RESTART, NULL, NULL);
}

/* Commit the queue in one transaction; all or nothing. */
static int commit_once(struct tw_journal *j, bool durable)
{
	uint64_t saved_next = j->next_seq, saved_dropped = j->dropped;
	uint32_t i;
	int err;

	if (!j->nq)
		return 0;
	if (durable) {
		err = exec(j, "PRAGMA synchronous=FULL");
		if (err)
			return err;
	}
	err = exec(j, "BEGIN IMMEDIATE");
	if (err)
		goto out_sync;
	for (i = 0; i < j->nq; i++) {
		struct pending *p = &j->q[i];

		err = insert_row(j, p->seq, p->kind, p->session, p->time_ns, p->json, p->len);
		if (err)
			goto out_rollback;
	}
	err = enforce_cap(j);
	if (!err)
		err = meta_set(j, "next_seq", j->next_seq);
	if (!err && j->dropped != saved_dropped)
		err = meta_set(j, "dropped", j->dropped);
	if (err)
		goto out_rollback;
	err = commit_tx(j, "commit");
	if (err)
		goto out_rollback;
	j->committed_seq = j->next_seq - 1;
	if (durable)
		j->synced_seq = j->committed_seq;
	free_queue(j);
	goto out_sync;

out_rollback:
	rollback(j);
	j->next_seq = saved_next;
	j->dropped = saved_dropped;
out_sync:
	if (durable)
		sqlite3_exec(j->db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
	return err;
}

static int commit(struct tw_journal *j, bool durable)
{
	int err;

	if (!j->nq)
		return 0;
	/* Take the reserve back as soon as the disk has room: before records take it. */
	reserve_take(j);
	j->over_cap = false;
	err = commit_once(j, durable);
	if (err == -ENOSPC && !j->over_cap) {
		/*
		 * The disk is full, but the database may have free pages (acks):
		 * a WAL restarted from its first frame needs no new blocks.
		 */
		checkpoint_restart(j);
		err = commit_once(j, durable);
	}
	return err;
}

int tw_journal_flush(struct tw_journal *j)
{
	return commit(j, false);
}

int tw_journal_append(struct tw_journal *j, struct tw_record *rec, bool durable)
{
	struct pending *p;
	char msg[256];
	int err;

	memcpy(rec->node, j->node, sizeof(rec->node));
	memcpy(rec->log_id, j->log_id, sizeof(rec->log_id));
	if (!rec->time_ns)
		rec->time_ns = now_ns();
	rec->seq = j->next_seq;
	p = &j->q[j->nq];
	p->json = tw_record_to_json(rec, &p->len, msg, sizeof(msg));
	if (!p->json) {
		err = -errno;
		jerr(j, "journal %s: record rejected: %s", j->path,
		     err == -EINVAL ? msg : strerror(-err));
		rec->seq = 0;
		return err;
	}
	p->seq = rec->seq;
	p->kind = rec->kind;
	p->time_ns = rec->time_ns;
	memcpy(p->session, rec->session, sizeof(p->session));
	j->nq++;
	j->next_seq++;
	if (!durable && j->nq < j->batch_max)
		return 0;
	err = commit(j, durable);
	if (err) {
		/* Only this record is refused; earlier ones stay queued for the next flush. */
		j->nq--;
		free(j->q[j->nq].json);
		j->next_seq = rec->seq;
		rec->seq = 0;
	}
	return err;
}

static int fsync_path(struct tw_journal *j, const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC), err = 0;

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fsync(fd))
		err = -errno;
	close(fd);
	return err;
}

int tw_journal_sync(struct tw_journal *j)
{
	uint64_t committed = j->committed_seq;
	char *dir, *slash;
	int err;

	if (j->synced_seq >= committed)
		return 0;
	/*
	 * The WAL holds every commit since the last checkpoint, and a
	 * checkpoint under synchronous=NORMAL syncs the database file before
	 * the WAL is reused: so fsync of the WAL covers all committed rows.
	 */
	err = fsync_path(j, j->wal_path, O_RDONLY);
	if (!err)
		err = fsync_path(j, j->path, O_RDONLY);
	if (!err && !j->dir_synced) {
		/* The WAL file's directory entry, once: a new file needs it to survive. */
		dir = strdup(j->path);
		if (!dir)
			return -ENOMEM;
		slash = strrchr(dir, '/');
		if (slash)
			*(slash == dir ? slash + 1 : slash) = '\0';
		err = fsync_path(j, slash ? dir : ".", O_RDONLY | O_DIRECTORY);
		free(dir);
		j->dir_synced = !err;
	}
	if (err) {
		jerr(j, "journal %s: fsync: %s", j->path, strerror(-err));
		return err;
	}
	j->synced_seq = committed;
	return 0;
}

int tw_journal_read_since(struct tw_journal *j, uint64_t after, size_t max, tw_journal_cb cb,
			  void *ctx)
{
	struct tw_record *rec;
	char msg[256];
	int rc, err, n = 0;

	err = tw_journal_sync(j);
	if (err)
		return err;
	rec = malloc(sizeof(*rec));
	if (!rec)
		return -ENOMEM;
	sqlite3_bind_int64(j->since, 1, (sqlite3_int64)after);
	sqlite3_bind_int64(j->since, 2, (sqlite3_int64)j->synced_seq);
	sqlite3_bind_int64(j->since, 3, max ? (sqlite3_int64)max : -1);
	while ((rc = sqlite3_step(j->since)) == SQLITE_ROW) {
		const char *json = (const char *)sqlite3_column_text(j->since, 1);
		size_t len = (size_t)sqlite3_column_bytes(j->since, 1);
		uint64_t seq = (uint64_t)sqlite3_column_int64(j->since, 0);

		if (!json || tw_record_from_json(json, len, rec, msg, sizeof(msg)) ||
		    rec->seq != seq) {
			jerr(j, "journal %s: row seq %llu does not hold a valid record: %s",
			     j->path, (unsigned long long)seq, json ? msg : "empty");
			err = -EBADMSG;
			break;
		}
		err = cb(rec, json, len, ctx);
		if (err)
			break;
		n++;
	}
	if (!err && rc != SQLITE_ROW && rc != SQLITE_DONE)
		err = sqlerr(j, rc, "read records");
	sqlite3_reset(j->since);
	sqlite3_clear_bindings(j->since);
	free(rec);
	if (err > 0)
		err = 0;
	return err ? err : n;
}

/*
 * Trim rows <= @seq, at most ack_chunk rows per transaction: a transaction's
 * WAL frames must fit in the reserve, and the WAL is checkpointed (and so
 * reused from its start) between chunks.
 */
static int ack_once(struct tw_journal *j, uint64_t seq)
{
	uint64_t bound = seq;
	bool found;
	int rc, err;

	/* NORMAL sync is enough: a lost ack only means a harmless resend. */
	err = exec(j, "BEGIN IMMEDIATE");
	if (err)
		return err;
	sqlite3_bind_int64(j->chunk_end, 1, (sqlite3_int64)seq);
	sqlite3_bind_int64(j->chunk_end, 2, (sqlite3_int64)j->ack_chunk - 1);
	err = step_u64(j, j->chunk_end, &bound, &found);
	if (err)
		goto out_rollback;
	if (!found)
		bound = seq;
	sqlite3_bind_int64(j->del_upto, 1, (sqlite3_int64)bound);
	rc = sqlite3_step(j->del_upto);
	sqlite3_reset(j->del_upto);
	if (rc != SQLITE_DONE) {
		err = sqlerr(j, rc, "trim acked records");
		goto out_rollback;
	}
	j->tx_rows -= sqlite3_changes(j->db);
	err = meta_set(j, "acked_seq", bound);
	if (err)
		goto out_rollback;
	err = commit_tx(j, "commit ack");
	if (err)
		goto out_rollback;
	j->acked_seq = bound;
	return 0;
out_rollback:
	rollback(j);
	return err;
}

int tw_journal_ack(struct tw_journal *j, uint64_t seq)
{
	bool released = false;
	int err = 0;

	if (seq > j->committed_seq) {
		jerr(j, "journal %s: ack of seq %llu beyond the last committed seq %llu", j->path,
		     (unsigned long long)seq, (unsigned long long)j->committed_seq);
		return -ERANGE;
	}
	while (!err && j->acked_seq < seq) {
		err = ack_once(j, seq);
		/* Full disk: first try a restarted WAL, then spend the reserve kept for this. */
		if (err == -ENOSPC) {
			checkpoint_restart(j);
			err = ack_once(j, seq);
		}
		if (err == -ENOSPC && reserve_release(j)) {
			released = true;
			checkpoint_restart(j);
			err = ack_once(j, seq);
		}
	}
	if (released)
		checkpoint_restart(j);
	return err;
}

uint64_t tw_journal_last_seq(const struct tw_journal *j)
{
	return j->committed_seq;
}

const char *tw_journal_log_id(const struct tw_journal *j)
{
	return j->log_id;
}

const char *tw_journal_errstr(const struct tw_journal *j)
{
	if (!j)
		return open_err[0] ? open_err : "no error";
	return j->err[0] ? j->err : "no error";
}

int tw_journal_stats(struct tw_journal *j, struct tw_journal_stats *st)
{
	int err;

	memset(st, 0, sizeof(*st));
	st->rows = j->rows;
	err = used_bytes(j, &st->used_bytes);
	st->last_seq = j->committed_seq;
	st->synced_seq = j->synced_seq;
	st->acked_seq = j->acked_seq;
	st->dropped = j->dropped;
	st->queued = j->nq;
	st->reserve_held = j->reserve_held;
	return err;
}

static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
	/* seq is the rowid: rows are stored in seq order, trims and reads are range scans. */
	"CREATE TABLE IF NOT EXISTS records(seq INTEGER PRIMARY KEY, kind INTEGER NOT NULL,"
	" session TEXT, time_ns INTEGER NOT NULL, body TEXT NOT NULL);"
	/* Only the records that can supersede an interim: keeps the cap's lookup cheap. */
	"CREATE INDEX IF NOT EXISTS records_supersede ON records(session, seq)"
	" WHERE kind IN (2, 3);";

static int prepare_all(struct tw_journal *j)
{
	const struct {
		sqlite3_stmt **st;
		const char *sql;
	} stmts[] = {
		{ &j->ins, "INSERT INTO records(seq, kind, session, time_ns, body)"
			   " VALUES (?, ?, ?, ?, ?)" },
		{ &j->meta_set, "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)" },
		{ &j->meta_get, "SELECT value FROM meta WHERE key = ?" },
		{ &j->since, "SELECT seq, body FROM records WHERE seq > ? AND seq <= ?"
			     " ORDER BY seq LIMIT ?" },
		{ &j->superseded,
		  "SELECT r.seq FROM records r WHERE r.seq > ? AND r.kind = 3 AND EXISTS"
		  " (SELECT 1 FROM records l WHERE l.session = r.session AND l.kind IN (2, 3)"
		  " AND l.seq > r.seq) ORDER BY r.seq LIMIT ?" },
		{ &j->del_one, "DELETE FROM records WHERE seq = ?" },
		{ &j->del_upto, "DELETE FROM records WHERE seq <= ?" },
		{ &j->chunk_end, "SELECT seq FROM records WHERE seq <= ? ORDER BY seq"
				 " LIMIT 1 OFFSET ?" },
		{ &j->page_count, "PRAGMA page_count" },
		{ &j->freelist, "PRAGMA freelist_count" },
	};
	size_t i;
	int err;

	for (i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++) {
		err = prep(j, stmts[i].st, stmts[i].sql);
		if (err)
			return err;
	}
	return 0;
}

static int new_log_id(struct tw_journal *j)
{
	uint8_t raw[TW_REC_LOG_ID_LEN / 2];
	size_t i;

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
		jerr(j, "journal %s: getrandom: %s", j->path, strerror(errno));
		return -errno;
	}
	for (i = 0; i < sizeof(raw); i++)
		snprintf(j->log_id + 2 * i, 3, "%02x", raw[i]);
	return 0;
}

/* Create the schema and log id, or load the meta of an existing journal. */
static int load_or_create(struct tw_journal *j)
{
	uint64_t objects, app_id, version, v, max_seq;
	sqlite3_stmt *st;
	bool found;
	int rc, err;

	/* journal_mode=WAL already wrote page 1 of a new file: count schema objects instead. */
	err = query_u64(j, "SELECT count(*) FROM sqlite_schema", &objects);
	if (!err)
		err = query_u64(j, "PRAGMA application_id", &app_id);
	if (!err)
		err = query_u64(j, "PRAGMA user_version", &version);
	if (err)
		return err;
	if (objects && app_id != JOURNAL_APP_ID) {
		jerr(j, "journal %s: an SQLite database but not a tunwarden journal", j->path);
		return -EINVAL;
	}
	if (objects && version != JOURNAL_SCHEMA) {
		jerr(j, "journal %s: schema version %llu, this build knows %d", j->path,
		     (unsigned long long)version, JOURNAL_SCHEMA);
		return -EPROTO;
	}
	/* The log id must be on disk before any record names it. */
	err = exec(j, "PRAGMA synchronous=FULL");
	if (!err)
		err = exec(j, "BEGIN IMMEDIATE");
	if (err)
		return err;
	err = exec(j, schema_sql);
	if (err)
		goto out_rollback;
	err = prepare_all(j);
	if (err)
		goto out_rollback;
	rc = sqlite3_prepare_v2(j->db, "SELECT value FROM meta WHERE key = 'log_id'", -1, &st,
				NULL);
	if (rc != SQLITE_OK) {
		err = sqlerr(j, rc, "read log id");
		goto out_rollback;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(st, 0);

		if (!id || strlen(id) != TW_REC_LOG_ID_LEN) {
			jerr(j, "journal %s: stored log id is damaged", j->path);
			err = -EBADMSG;
		} else {
			memcpy(j->log_id, id, TW_REC_LOG_ID_LEN + 1);
		}
	} else if (rc != SQLITE_DONE) {
		err = sqlerr(j, rc, "read log id");
	} else {
		err = new_log_id(j);
		if (!err) {
			char sql[256];

			snprintf(sql, sizeof(sql),
				 "INSERT INTO meta(key, value) VALUES ('log_id', '%s');"
				 "PRAGMA application_id=%d; PRAGMA user_version=%d;",
				 j->log_id, JOURNAL_APP_ID, JOURNAL_SCHEMA);
			err = exec(j, sql);
		}
		if (!err)
			err = meta_set(j, "created_ns", now_ns());
		if (!err)
			err = meta_set(j, "next_seq", 1);
	}
	sqlite3_finalize(st);
	if (err)
		goto out_rollback;

	err = meta_get(j, "next_seq", &j->next_seq, &found);
	if (!err && !found)
		j->next_seq = 1;
	/* Belt and braces: never below what the rows themselves say. */
	if (!err)
		err = query_u64(j, "SELECT coalesce(max(seq), 0) FROM records", &max_seq);
	if (!err && max_seq >= j->next_seq)
		j->next_seq = max_seq + 1;
	if (!err)
		err = meta_get(j, "acked_seq", &j->acked_seq, NULL);
	/* once here; from then on counted as rows come and go */
	if (!err)
		err = query_u64(j, "SELECT count(*) FROM records", &j->rows);
	if (!err)
		err = meta_get(j, "dropped", &j->dropped, NULL);
	if (!err)
		err = query_u64(j, "PRAGMA page_size", &v);
	if (err)
		goto out_rollback;
	j->page_size = v ? v : 4096; /* SQLite never reports 0; keeps the divisions safe */
	j->committed_seq = j->next_seq - 1;
	rc = sqlite3_exec(j->db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		err = sqlerr(j, rc, "create journal");
		goto out_rollback;
	}
	return exec(j, "PRAGMA synchronous=NORMAL");
out_rollback:
	rollback(j);
	return err;
}

static char *with_suffix(const char *path, const char *suffix)
{
	size_t n = strlen(path) + strlen(suffix) + 1;
	char *s = malloc(n);

	if (s)
		snprintf(s, n, "%s%s", path, suffix);
	return s;
}

struct tw_journal *tw_journal_open(const char *path, const struct tw_journal_opts *opts)
{
	struct tw_journal *j;
	char sql[96];
	uint64_t wal_pages;
	const char *mode;
	sqlite3_stmt *st;
	int rc, err;

	if (!opts || !opts->node_id || !opts->node_id[0] ||
	    strlen(opts->node_id) >= TW_REC_NODE_MAX) {
		errno = EINVAL;
		return NULL;
	}
	j = calloc(1, sizeof(*j));
	if (!j)
		return NULL;
	j->batch_max = opts->batch_max ? opts->batch_max : DEFAULT_BATCH;
	j->cap = opts->cap_bytes;
	snprintf(j->node, sizeof(j->node), "%s", opts->node_id);
	j->q = calloc(j->batch_max, sizeof(*j->q));
	j->path = strdup(path);
	j->reserve = opts->reserve_bytes ? opts->reserve_bytes : DEFAULT_RESERVE;
	j->wal_path = with_suffix(path, "-wal");
	j->reserve_path = with_suffix(path, "-reserve");
	if (!j->q || !j->path || !j->wal_path || !j->reserve_path) {
		err = -ENOMEM;
		goto err_free;
	}
	/* created 0600 without following a symlink, or one of ours; the -wal
	 * and -shm files sqlite makes take its mode */
	err = tw_file_prepare(path, 0600, j->err, sizeof(j->err));
	if (err)
		goto err_close;
	rc = sqlite3_open_v2(path, &j->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX |
				     SQLITE_OPEN_NOFOLLOW,
			     NULL);
	if (rc != SQLITE_OK) {
		err = j->db ? sqlerr(j, rc, "open") : -ENOMEM;
		goto err_close;
	}
	/* Readers (`tunwarden log`) may hold the lock briefly; wait instead of failing. */
	sqlite3_busy_timeout(j->db, 5000);
	rc = sqlite3_prepare_v2(j->db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
	if (rc != SQLITE_OK) {
		err = sqlerr(j, rc, "open");
		goto err_close;
	}
	rc = sqlite3_step(st);
	mode = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
	if (!mode || strcmp(mode, "wal") != 0) {
		err = rc == SQLITE_ROW ? -EINVAL : sqlerr(j, rc, "journal_mode=WAL");
		if (rc == SQLITE_ROW)
			jerr(j, "journal %s: cannot switch to WAL mode (got %s)", path,
			     mode ? mode : "?");
		sqlite3_finalize(st);
		goto err_close;
	}
	sqlite3_finalize(st);
	err = load_or_create(j);
	if (err)
		goto err_close;
	/*
	 * Checkpoint at half the reserve, so the reserve always covers the
	 * database growth of one checkpoint; keep that much WAL allocated
	 * after a reset (reused blocks need no free space).
	 */
	wal_pages = j->reserve / 2 / j->page_size;
	if (wal_pages < 8)
		wal_pages = 8;
	sqlite3_wal_autocheckpoint(j->db, (int)wal_pages);
	/* A trimmed row touches about one page (its leaf, or a rebalanced sibling). */
	j->ack_chunk = (uint32_t)(wal_pages / 2 < 16 ? 16 : wal_pages / 2);
	snprintf(sql, sizeof(sql), "PRAGMA journal_size_limit=%llu;",
		 (unsigned long long)wal_pages * j->page_size);
	err = exec(j, sql);
	if (err)
		goto err_close;
	reserve_take(j);
	return j;

err_close:
	snprintf(open_err, sizeof(open_err), "%s", j->err[0] ? j->err : strerror(-err));
	tw_journal_close(j);
	errno = -err;
	return NULL;
err_free:
	snprintf(open_err, sizeof(open_err), "journal %s: %s", path, strerror(-err));
	free(j->wal_path);
	free(j->reserve_path);
	free(j->q);
	free(j->path);
	free(j);
	errno = -err;
	return NULL;
}

void tw_journal_remove(const char *path)
{
	static const char *const suffix[] = { "", "-wal", "-shm", "-reserve" };
	char p[PATH_MAX];

	for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", path, suffix[i]);
		unlink(p);
	}
}

int tw_journal_close(struct tw_journal *j)
{
	sqlite3_stmt *sts[] = { j ? j->ins : NULL,	  j ? j->meta_set : NULL,
				j ? j->meta_get : NULL,	  j ? j->since : NULL,
				j ? j->superseded : NULL, j ? j->del_one : NULL,
				j ? j->del_upto : NULL,	  j ? j->page_count : NULL,
				j ? j->freelist : NULL,	  j ? j->chunk_end : NULL };
	size_t i;
	int err = 0;

	if (!j)
		return 0;
	if (j->db && j->nq)
		err = commit(j, false);
	free_queue(j);
	for (i = 0; i < sizeof(sts) / sizeof(sts[0]); i++)
		sqlite3_finalize(sts[i]);
	if (j->db)
		sqlite3_close(j->db);
	free(j->q);
	free(j->path);
	free(j->wal_path);
	free(j->reserve_path);
	free(j);
	return err;
}
