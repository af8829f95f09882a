// SPDX-License-Identifier: GPL-2.0-only
/*
 * The SQLite backend of recstore.h. WAL with synchronous=FULL: a commit is on
 * disk when it returns, so an ack sent after it is an honest ack. The server
 * holds one connection and batches puts in one transaction; admin commands
 * open their own connection beside it (busy_timeout covers the overlap).
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "recstore.h"

enum {
	ST_PUT,
	ST_RESUME,
	ST_NODE_GET,
	ST_TOKENS,
	ST_LINK,
	ST_BODY,
	ST__MAX,
};

static const char *const stmt_sql[ST__MAX] = {
	[ST_PUT] = "INSERT INTO records(node,log_id,seq,kind,time_ns,session,subject,body,"
		   "received_at) VALUES(?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
	[ST_RESUME] = "SELECT coalesce(max(seq),0) FROM records WHERE node=? AND log_id=?",
	[ST_NODE_GET] = "SELECT enabled, token_hash IS NOT NULL FROM nodes WHERE id=?",
	[ST_TOKENS] = "SELECT id, token_hash FROM nodes WHERE token_hash IS NOT NULL",
	[ST_LINK] = "UPDATE nodes SET connected=?2, since=coalesce(?3,since),"
		    " last_seen=coalesce(?4,last_seen), last_ack=max(last_ack,coalesce(?5,0)),"
		    " user_agent=coalesce(?6,user_agent), log_id=coalesce(?7,log_id) WHERE id=?1",
	[ST_BODY] = "SELECT body FROM records WHERE node=? AND log_id=? AND seq=?",
};

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS nodes("
	" id TEXT PRIMARY KEY, token_hash BLOB, enabled INTEGER NOT NULL DEFAULT 1,"
	" connected INTEGER NOT NULL DEFAULT 0, since INTEGER NOT NULL DEFAULT 0,"
	" last_seen INTEGER NOT NULL DEFAULT 0, last_ack INTEGER NOT NULL DEFAULT 0,"
	" user_agent TEXT NOT NULL DEFAULT '', log_id TEXT NOT NULL DEFAULT '');"
	"CREATE TABLE IF NOT EXISTS records("
	" node TEXT NOT NULL, log_id TEXT NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL,"
	" time_ns INTEGER NOT NULL, session TEXT NOT NULL, subject TEXT NOT NULL,"
	" body TEXT NOT NULL, received_at INTEGER NOT NULL,"
	" PRIMARY KEY(node, log_id, seq)) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS records_kind ON records(node, kind, time_ns);"
	"CREATE INDEX IF NOT EXISTS records_session ON records(session, node, kind);"
	"CREATE INDEX IF NOT EXISTS records_subject ON records(subject, kind);";

struct sqlite_rs {
	struct tw_recstore rs;
	sqlite3 *db;
	sqlite3_stmt *st[ST__MAX];
};

#define SQ(rs) ((struct sqlite_rs *)(rs))

void tw_token_hash(const char *token, size_t len, uint8_t out[TW_TOKEN_HASH_LEN])
{
	unsigned int n = TW_TOKEN_HASH_LEN;

	EVP_Digest(token, len, out, &n, EVP_sha256(), NULL);
}

static int sq_err(struct sqlite_rs *s, const char *what)
{
	tw_log(TW_LOG_ERR, "record store: %s: %s", what, sqlite3_errmsg(s->db));
	return sqlite3_errcode(s->db) == SQLITE_BUSY ? -EBUSY : -EIO;
}

static int exec(struct sqlite_rs *s, const char *sql)
{
	return sqlite3_exec(s->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : sq_err(s, sql);
}

static void sq_close(struct tw_recstore *rs)
{
	struct sqlite_rs *s = SQ(rs);

	if (!s)
		return;
	for (int i = 0; i < ST__MAX; i++)
		sqlite3_finalize(s->st[i]);
	sqlite3_close(s->db);
	free(s);
}

static int sq_node_add(struct tw_recstore *rs, const char *id, const uint8_t *hash)
{
	struct sqlite_rs *s = SQ(rs);
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(s->db, "INSERT INTO nodes(id, token_hash) VALUES(?,?)", -1, &st,
			       NULL) != SQLITE_OK)
		return sq_err(s, "prepare");
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if (hash)
		sqlite3_bind_blob(st, 2, hash, TW_TOKEN_HASH_LEN, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_CONSTRAINT)
		return -EEXIST;
	return rc == SQLITE_DONE ? 0 : sq_err(s, "node add");
}

static int sq_node_get(struct tw_recstore *rs, const char *id, struct tw_node_info *out)
{
	struct sqlite_rs *s = SQ(rs);
	sqlite3_stmt *st = s->st[ST_NODE_GET];
	int rc;

	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return -ENOENT;
	if (rc != SQLITE_ROW)
		return sq_err(s, "node get");
	memset(out, 0, sizeof(*out));
	snprintf(out->id, sizeof(out->id), "%s", id);
	out->enabled = sqlite3_column_int(st, 0);
	out->has_token = sqlite3_column_int(st, 1);
	sqlite3_reset(st);
	return 0;
}

/* Every stored hash is compared, each in constant time, so timing says nothing of which matched. */
static int sq_node_by_token(struct tw_recstore *rs, const uint8_t *hash, char *id, size_t idlen)
{
	struct sqlite_rs *s = SQ(rs);
	sqlite3_stmt *st = s->st[ST_TOKENS];
	bool found = false;
	int rc;

	sqlite3_reset(st);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const void *h = sqlite3_column_blob(st, 1);

		if (sqlite3_column_bytes(st, 1) != TW_TOKEN_HASH_LEN)
			continue;
		if (CRYPTO_memcmp(h, hash, TW_TOKEN_HASH_LEN) == 0 && !found) {
			snprintf(id, idlen, "%s", (const char *)sqlite3_column_text(st, 0));
			found = true;
		}
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return sq_err(s, "token lookup");
	return found ? 0 : -ENOENT;
}

static int sq_node_link(struct tw_recstore *rs, const char *id, const struct tw_node_link *l)
{
	struct sqlite_rs *s = SQ(rs);
	sqlite3_stmt *st = s->st[ST_LINK];
	int rc;

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, l->connected);
	if (l->since)
		sqlite3_bind_int64(st, 3, (sqlite3_int64)l->since);
	if (l->last_seen)
		sqlite3_bind_int64(st, 4, (sqlite3_int64)l->last_seen);
	if (l->last_ack)
		sqlite3_bind_int64(st, 5, (sqlite3_int64)l->last_ack);
	if (l->user_agent)
		sqlite3_bind_text(st, 6, l->user_agent, -1, SQLITE_STATIC);
	if (l->log_id)
		sqlite3_bind_text(st, 7, l->log_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : sq_err(s, "node link state");
}

static int sq_nodes_reset(struct tw_recstore *rs)
{
	return exec(SQ(rs), "UPDATE nodes SET connected=0");
}

static int sq_resume_after(struct tw_recstore *rs, const char *node, const char *log_id,
			   uint64_t *seq)
{
	struct sqlite_rs *s = SQ(rs);
	sqlite3_stmt *st = s->st[ST_RESUME];
	int rc;

	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, node, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, log_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		return sq_err(s, "resume point");
	}
	*seq = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return 0;
}

static int sq_begin(struct tw_recstore *rs)
{
	return exec(SQ(rs), "BEGIN IMMEDIATE");
}

static int sq_commit(struct tw_recstore *rs)
{
	return exec(SQ(rs), "COMMIT");
}

static int sq_rollback(struct tw_recstore *rs)
{
	return exec(SQ(rs), "ROLLBACK");
}

static int sq_put(struct tw_recstore *rs, const struct tw_rec_row *r, bool *dup)
{
	struct sqlite_rs *s = SQ(rs);
	sqlite3_stmt *st = s->st[ST_PUT];
	int rc;

	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, r->node, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, r->log_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)r->seq);
	sqlite3_bind_text(st, 4, r->kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)r->time_ns);
	sqlite3_bind_text(st, 6, r->session, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, r->subject, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, r->body, (int)r->body_len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 9, (sqlite3_int64)time(NULL));
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return sq_err(s, "record insert");
	*dup = sqlite3_changes(s->db) == 0;
	return 0;
}

static int sq_same_body(struct tw_recstore *rs, const struct tw_rec_row *r)
{
	struct sqlite_rs *s = SQ(rs);
	sqlite3_stmt *st = s->st[ST_BODY];
	int rc, same;

	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, r->node, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, r->log_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)r->seq);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		return rc == SQLITE_DONE ? -ENOENT : sq_err(s, "stored record");
	}
	same = (size_t)sqlite3_column_bytes(st, 0) == r->body_len &&
	       !memcmp(sqlite3_column_blob(st, 0), r->body, r->body_len);
	sqlite3_reset(st);
	return same;
}

/* Print every row of @sql, its parameters bound to @args (a NULL arg binds SQL NULL). */
static int print_query(struct sqlite_rs *s, FILE *out, const char *sql, const char *const *args,
		       int nargs)
{
	sqlite3_stmt *st;
	int rc, ncol, rows = 0;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return sq_err(s, "prepare query");
	for (int i = 0; i < nargs; i++)
		sqlite3_bind_text(st, i + 1, args[i], -1, SQLITE_STATIC);
	ncol = sqlite3_column_count(st);
	for (int c = 0; c < ncol; c++)
		fprintf(out, "%s%s", c ? "  " : "", sqlite3_column_name(st, c));
	fputc('\n', out);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		for (int c = 0; c < ncol; c++) {
			const unsigned char *v = sqlite3_column_text(st, c);

			fprintf(out, "%s%s", c ? "  " : "", v ? (const char *)v : "-");
		}
		fputc('\n', out);
		rows++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return sq_err(s, "query");
	return rows;
}

/* Health comes from the latest health record of each node (protocol.md 7). */
static int sq_list_nodes(struct tw_recstore *rs, FILE *out)
{
	static const char sql[] =
		"WITH h AS (SELECT n.id AS id, (SELECT body FROM records r WHERE r.node=n.id"
		" AND r.kind='health' ORDER BY time_ns DESC LIMIT 1) AS body FROM nodes n)"
		" SELECT n.id AS node, CASE WHEN n.enabled THEN 'yes' ELSE 'no' END AS enabled,"
		" CASE WHEN n.connected THEN 'yes' ELSE 'no' END AS connected,"
		" CASE WHEN n.since THEN datetime(n.since,'unixepoch') END AS since,"
		" CASE WHEN n.last_seen THEN datetime(n.last_seen,'unixepoch') END AS last_seen,"
		" n.last_ack AS last_ack, json_extract(h.body,'$.backlog_records') AS backlog,"
		" json_extract(h.body,'$.policy_version') AS policy_version,"
		" json_extract(h.body,'$.sessions') AS sessions,"
		" json_extract(h.body,'$.software_version') AS version,"
		" CASE WHEN h.body IS NOT NULL THEN datetime(json_extract(h.body,'$.time_ns')"
		" / 1000000000,'unixepoch') END AS last_health"
		" FROM nodes n JOIN h ON h.id=n.id ORDER BY n.id";

	return print_query(SQ(rs), out, sql, NULL, 0) < 0 ? -EIO : 0;
}

static int sq_list_sessions(struct tw_recstore *rs, const char *node, FILE *out)
{
	static const char sql[] =
		"SELECT c.node, c.session, c.subject, json_extract(c.body,'$.tunnel_ipv4') AS"
		" tunnel_ipv4, datetime(c.time_ns/1000000000,'unixepoch') AS connected_at"
		" FROM records c WHERE c.kind='connect' AND (?1 IS NULL OR c.node=?1)"
		" AND NOT EXISTS (SELECT 1 FROM records d WHERE d.session=c.session"
		" AND d.node=c.node AND d.kind='disconnect') ORDER BY c.node, c.time_ns";
	const char *args[] = { node };

	return print_query(SQ(rs), out, sql, args, 1) < 0 ? -EIO : 0;
}

/*
 * Counters are cumulative (docs/records.md): a session's totals are those of
 * its last interim or disconnect, so duplicates and lost interims cost nothing.
 */
static int sq_accounting(struct tw_recstore *rs, const char *user, const char *session, FILE *out)
{
	static const char per_session[] =
		"WITH last AS (SELECT node, session, subject, body, kind, row_number() OVER"
		" (PARTITION BY node, session ORDER BY kind='disconnect' DESC, seq DESC) AS rn"
		" FROM records WHERE kind IN ('interim','disconnect') AND (?1 IS NULL OR"
		" subject=?1) AND (?2 IS NULL OR session=?2))"
		" SELECT node, session, subject, CASE WHEN kind='disconnect' THEN 'closed'"
		" ELSE 'live' END AS state, json_extract(body,'$.from_bytes') AS from_bytes,"
		" json_extract(body,'$.to_bytes') AS to_bytes, json_extract(body,'$.from_packets')"
		" AS from_packets, json_extract(body,'$.to_packets') AS to_packets"
		" FROM last WHERE rn=1 ORDER BY subject, node, session";
	static const char per_user[] =
		"WITH last AS (SELECT subject, body, row_number() OVER (PARTITION BY node, session"
		" ORDER BY kind='disconnect' DESC, seq DESC) AS rn FROM records"
		" WHERE kind IN ('interim','disconnect'))"
		" SELECT subject, count(*) AS sessions, sum(json_extract(body,'$.from_bytes')) AS"
		" from_bytes, sum(json_extract(body,'$.to_bytes')) AS to_bytes FROM last"
		" WHERE rn=1 GROUP BY subject ORDER BY subject";
	const char *args[] = { user, session };

	if (!user && !session)
		return print_query(SQ(rs), out, per_user, NULL, 0) < 0 ? -EIO : 0;
	return print_query(SQ(rs), out, per_session, args, 2) < 0 ? -EIO : 0;
}

struct range {
	char key[112]; /* node NUL log_id, compared as one string */
	uint64_t first, last;
};

static void range_key(char *key, size_t n, sqlite3_stmt *st)
{
	snprintf(key, n, "%s/%s", (const char *)sqlite3_column_text(st, 0),
		 (const char *)sqlite3_column_text(st, 1));
}

/* Whether the ranges of @key (sorted by first) cover [first, last]: overlaps allowed. */
static bool covered(const struct range *g, size_t n, const char *key, uint64_t first, uint64_t last)
{
	uint64_t cur = first;

	for (size_t i = 0; i < n && cur <= last; i++)
		if (!strcmp(g[i].key, key) && g[i].first <= cur && g[i].last >= cur)
			cur = g[i].last + 1;
	return cur > last;
}

static int sq_list_holes(struct tw_recstore *rs, const char *node, FILE *out)
{
	static const char gaps_sql[] =
		"SELECT r.node, r.log_id, json_extract(j.value,'$[0]'), json_extract(j.value,'$[1]')"
		" FROM records r, json_each(r.body,'$.dropped') j WHERE r.kind='gap'"
		" AND (?1 IS NULL OR r.node=?1) ORDER BY 1, 2, 3";
	static const char holes_sql[] =
		"WITH s AS (SELECT node, log_id, seq, lag(seq) OVER (PARTITION BY node, log_id"
		" ORDER BY seq) AS prev FROM records WHERE ?1 IS NULL OR node=?1)"
		" SELECT node, log_id, coalesce(prev, 0) + 1, seq - 1 FROM s"
		" WHERE seq > coalesce(prev, 0) + 1 ORDER BY 1, 2, 3";
	struct sqlite_rs *s = SQ(rs);
	struct range *g = NULL, *ng;
	size_t n = 0, cap = 0;
	sqlite3_stmt *st;
	int rc, holes = 0;

	if (sqlite3_prepare_v2(s->db, gaps_sql, -1, &st, NULL) != SQLITE_OK)
		return sq_err(s, "prepare");
	sqlite3_bind_text(st, 1, node, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			ng = realloc(g, cap * sizeof(*g));
			if (!ng) {
				rc = SQLITE_NOMEM;
				break;
			}
			g = ng;
		}
		range_key(g[n].key, sizeof(g[n].key), st);
		g[n].first = (uint64_t)sqlite3_column_int64(st, 2);
		g[n].last = (uint64_t)sqlite3_column_int64(st, 3);
		n++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE || sqlite3_prepare_v2(s->db, holes_sql, -1, &st, NULL) != SQLITE_OK) {
		free(g);
		return sq_err(s, "holes");
	}
	sqlite3_bind_text(st, 1, node, -1, SQLITE_STATIC);
	fprintf(out, "node  log_id  first  last  count\n");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		uint64_t first = (uint64_t)sqlite3_column_int64(st, 2);
		uint64_t last = (uint64_t)sqlite3_column_int64(st, 3);
		char key[112];

		range_key(key, sizeof(key), st);
		if (covered(g, n, key, first, last))
			continue;
		fprintf(out, "%s  %s  %llu  %llu  %llu\n", sqlite3_column_text(st, 0),
			sqlite3_column_text(st, 1), (unsigned long long)first,
			(unsigned long long)last, (unsigned long long)(last - first + 1));
		holes++;
	}
	sqlite3_finalize(st);
	free(g);
	return rc == SQLITE_DONE ? holes : sq_err(s, "holes");
}

static const struct tw_recstore_ops sqlite_ops = {
	.name = "sqlite",
	.close = sq_close,
	.node_add = sq_node_add,
	.node_get = sq_node_get,
	.node_by_token = sq_node_by_token,
	.node_link = sq_node_link,
	.nodes_reset = sq_nodes_reset,
	.resume_after = sq_resume_after,
	.begin = sq_begin,
	.put = sq_put,
	.same_body = sq_same_body,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.list_nodes = sq_list_nodes,
	.list_sessions = sq_list_sessions,
	.accounting = sq_accounting,
	.list_holes = sq_list_holes,
};

struct tw_recstore *tw_recstore_sqlite_open(const char *path, char *err, size_t errlen)
{
	struct sqlite_rs *s = calloc(1, sizeof(*s));

	if (!s) {
		snprintf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	s->rs.ops = &sqlite_ops;
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK)
		goto fail;
	sqlite3_busy_timeout(s->db, 2000);
	if (sqlite3_exec(s->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", NULL, NULL,
			 NULL) != SQLITE_OK ||
	    sqlite3_exec(s->db, schema, NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	for (int i = 0; i < ST__MAX; i++)
		if (sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i],
				       NULL) != SQLITE_OK)
			goto fail;
	return &s->rs;
fail:
	snprintf(err, errlen, "%s: %s", path, s->db ? sqlite3_errmsg(s->db) : "cannot open");
	sq_close(&s->rs);
	return NULL;
}
