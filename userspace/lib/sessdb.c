// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include "sessdb.h"

struct tw_sessdb {
	sqlite3 *db;
	sqlite3_stmt *put, *del, *all;
};

static int sql_err(int rc)
{
	return rc == SQLITE_FULL ? -ENOSPC : rc == SQLITE_NOMEM ? -ENOMEM : -EIO;
}

struct tw_sessdb *tw_sessdb_open(const char *path)
{
	struct tw_sessdb *s = calloc(1, sizeof(*s));
	int rc;

	if (!s)
		return NULL;
	rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc == SQLITE_OK)
		/* NORMAL: a crash may lose the last change, never corrupt; the
		 * journal's durable connect record is the authoritative one */
		rc = sqlite3_exec(s->db,
				  "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
				  "CREATE TABLE IF NOT EXISTS sessions(slot INTEGER PRIMARY KEY,"
				  " size INTEGER NOT NULL, body BLOB NOT NULL);",
				  NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(s->db,
					"INSERT OR REPLACE INTO sessions(slot,size,body) "
					"VALUES(?,?,?)",
					-1, &s->put, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(s->db, "DELETE FROM sessions WHERE slot=?", -1, &s->del,
					NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(s->db, "SELECT size, body FROM sessions ORDER BY slot", -1,
					&s->all, NULL);
	if (rc != SQLITE_OK) {
		tw_sessdb_close(s);
		errno = -sql_err(rc);
		return NULL;
	}
	return s;
}

void tw_sessdb_close(struct tw_sessdb *s)
{
	if (!s)
		return;
	sqlite3_finalize(s->put);
	sqlite3_finalize(s->del);
	sqlite3_finalize(s->all);
	sqlite3_close(s->db);
	free(s);
}

const char *tw_sessdb_errstr(struct tw_sessdb *s)
{
	return s && s->db ? sqlite3_errmsg(s->db) : "not open";
}

int tw_sessdb_put(struct tw_sessdb *db, const struct tw_session *se)
{
	int rc;

	sqlite3_bind_int64(db->put, 1, se->slot);
	sqlite3_bind_int64(db->put, 2, (sqlite3_int64)sizeof(*se));
	sqlite3_bind_blob(db->put, 3, se, (int)sizeof(*se), SQLITE_STATIC);
	rc = sqlite3_step(db->put);
	sqlite3_reset(db->put);
	return rc == SQLITE_DONE ? 0 : sql_err(rc);
}

int tw_sessdb_del(struct tw_sessdb *s, uint32_t slot)
{
	int rc;

	sqlite3_bind_int64(s->del, 1, slot);
	rc = sqlite3_step(s->del);
	sqlite3_reset(s->del);
	return rc == SQLITE_DONE ? 0 : sql_err(rc);
}

int tw_sessdb_load(struct tw_sessdb *s, int (*cb)(const struct tw_session *se, void *ctx),
		   void *ctx)
{
	int rc, n = 0;

	while ((rc = sqlite3_step(s->all)) == SQLITE_ROW) {
		struct tw_session se;

		if (sqlite3_column_int64(s->all, 0) != (sqlite3_int64)sizeof(se) ||
		    sqlite3_column_bytes(s->all, 1) != (int)sizeof(se))
			continue; /* another layout: not ours to read */
		memcpy(&se, sqlite3_column_blob(s->all, 1), sizeof(se));
		if (cb(&se, ctx) == 0)
			n++;
	}
	sqlite3_reset(s->all);
	return rc == SQLITE_DONE ? n : sql_err(rc);
}
