// SPDX-License-Identifier: GPL-2.0-only
/*
 * The policy store in SQLite: schema and its migrations, the version that
 * only grows, writes and the change log (polstore_int.h says how a write
 * goes). Bundles are built in polstore_bundle.c.
 *
 * Versions: a commit takes max(previous + 1, the microsecond clock). So a
 * store restored from a backup (or a copy moved to another machine) never
 * reuses a version it may have served before the restore, as long as the
 * clock does not go back, and docs/protocol.md 5.3 holds without anyone
 * having to raise a counter by hand.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "policy.h"
#include "polstore_int.h"

/* Migration N takes user_version N to N + 1; applied in order at open. */
static const char *const migrations[] = {
	"CREATE TABLE state (one INTEGER PRIMARY KEY CHECK (one = 1),"
	"  version INTEGER NOT NULL, log_base INTEGER NOT NULL);"
	"INSERT INTO state VALUES (1, 0, 0);"
	/* Every object touched since log_base: what a delta needs. */
	"CREATE TABLE changes (seq INTEGER PRIMARY KEY, version INTEGER NOT NULL,"
	"  class INTEGER NOT NULL, kind TEXT NOT NULL, id TEXT NOT NULL,"
	"  existed INTEGER NOT NULL, UNIQUE (version, class, kind, id));"
	"CREATE TABLE tenants (id TEXT PRIMARY KEY, json TEXT NOT NULL);"
	"CREATE TABLE profiles (id TEXT PRIMARY KEY, json TEXT NOT NULL);"
	"CREATE TABLE subjects (kind TEXT NOT NULL, id TEXT NOT NULL, user TEXT,"
	"  tenant TEXT REFERENCES tenants (id), state TEXT NOT NULL, json TEXT NOT NULL,"
	"  PRIMARY KEY (kind, id));"
	"CREATE INDEX subjects_tenant ON subjects (tenant);"
	"CREATE TABLE subject_profiles (kind TEXT NOT NULL, id TEXT NOT NULL,"
	"  profile TEXT NOT NULL REFERENCES profiles (id),"
	"  PRIMARY KEY (kind, id, profile)) WITHOUT ROWID;"
	"CREATE INDEX subject_profiles_profile ON subject_profiles (profile);",
};

static const char *const stmt_sql[ST__N] = {
	[ST_VERSION] = "SELECT version FROM state",
	[ST_LOG_BASE] = "SELECT log_base FROM state",
	[ST_SET_VERSION] = "UPDATE state SET version = ?1",
	[ST_LOG] = "INSERT OR IGNORE INTO changes (version, class, kind, id, existed)"
		   " VALUES (?1, ?2, ?3, ?4, ?5)",
	[ST_GET_TENANT] = "SELECT json FROM tenants WHERE id = ?2",
	[ST_GET_PROFILE] = "SELECT json FROM profiles WHERE id = ?2",
	[ST_GET_SUBJECT] = "SELECT json FROM subjects WHERE kind = ?1 AND id = ?2",
	[ST_PUT_TENANT] = "INSERT INTO tenants (id, json) VALUES (?1, ?2)"
			  " ON CONFLICT (id) DO UPDATE SET json = excluded.json",
	[ST_PUT_PROFILE] = "INSERT INTO profiles (id, json) VALUES (?1, ?2)"
			   " ON CONFLICT (id) DO UPDATE SET json = excluded.json",
	[ST_PUT_SUBJECT] = "INSERT INTO subjects (kind, id, user, tenant, state, json)"
			   " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (kind, id) DO UPDATE SET"
			   " user = excluded.user, tenant = excluded.tenant,"
			   " state = excluded.state, json = excluded.json",
	[ST_DEL_TENANT] = "DELETE FROM tenants WHERE id = ?2",
	[ST_DEL_PROFILE] = "DELETE FROM profiles WHERE id = ?2",
	[ST_DEL_SUBJECT] = "DELETE FROM subjects WHERE kind = ?1 AND id = ?2",
	[ST_DEL_SUBJ_PROFILES] = "DELETE FROM subject_profiles WHERE kind = ?1 AND id = ?2",
	[ST_ADD_SUBJ_PROFILE] = "INSERT OR IGNORE INTO subject_profiles (kind, id, profile)"
				" VALUES (?1, ?2, ?3)",
	[ST_TENANT_USERS] = "SELECT count(*) FROM subjects WHERE tenant = ?1",
	[ST_PROFILE_USERS] = "SELECT count(*) FROM subject_profiles WHERE profile = ?1",
	[ST_HAS_VERSION] = "SELECT 1 FROM changes WHERE version = ?1 LIMIT 1",
};

int tw_ps_err(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return ret;
}

sqlite3_stmt *tw_ps_stmt(struct tw_polstore *ps, enum tw_pst which)
{
	sqlite3_stmt *s = ps->st[which];

	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return s;
}

static int exec(struct tw_polstore *ps, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;

	if (sqlite3_exec(ps->db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return 0;
	tw_ps_err(err, errlen, -EIO, "policy store: %.24s: %s", sql,
		  msg ? msg : sqlite3_errmsg(ps->db));
	sqlite3_free(msg);
	return -EIO;
}

static int migrate(struct tw_polstore *ps, char *err, size_t errlen)
{
	const int n = (int)(sizeof(migrations) / sizeof(migrations[0]));
	sqlite3_stmt *s;
	int uv, ret;
	char sql[64];

	if (exec(ps, "BEGIN IMMEDIATE", err, errlen))
		return -EIO;
	if (sqlite3_prepare_v2(ps->db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK)
		goto fail;
	uv = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) : -1;
	sqlite3_finalize(s);
	if (uv < 0)
		goto fail;
	if (uv > n) {
		exec(ps, "ROLLBACK", NULL, 0);
		return tw_ps_err(err, errlen, -EPROTO,
				 "policy store: schema version %d is newer than this program (%d)",
				 uv, n);
	}
	for (; uv < n; uv++) {
		ret = exec(ps, migrations[uv], err, errlen);
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", uv + 1);
		ret = ret ?: exec(ps, sql, err, errlen);
		if (ret) {
			exec(ps, "ROLLBACK", NULL, 0);
			return ret;
		}
	}
	return exec(ps, "COMMIT", err, errlen);
fail:
	tw_ps_err(err, errlen, -EIO, "policy store: %s", sqlite3_errmsg(ps->db));
	exec(ps, "ROLLBACK", NULL, 0);
	return -EIO;
}

/*
 * WAL: the server reads while admin commands write. Switching a fresh file
 * to WAL does not wait on the busy handler, so two processes opening it at
 * once retry here.
 */
static int set_wal(struct tw_polstore *ps, char *err, size_t errlen)
{
	int i, rc = SQLITE_BUSY;

	for (i = 0; i < 1000 && rc == SQLITE_BUSY; i++) {
		rc = sqlite3_exec(ps->db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL);
		if (rc == SQLITE_BUSY)
			usleep(10000);
	}
	if (rc == SQLITE_OK)
		return 0;
	return tw_ps_err(err, errlen, -EIO, "policy store: WAL mode: %s", sqlite3_errmsg(ps->db));
}

struct tw_polstore *tw_polstore_open(const char *path, char *err, size_t errlen)
{
	struct tw_polstore *ps = calloc(1, sizeof(*ps));
	int i;

	if (!ps) {
		tw_ps_err(err, errlen, 0, "policy store: out of memory");
		return NULL;
	}
	ps->notify_fd = -1;
	ps->log_keep = TW_POLSTORE_LOG_KEEP;
	ps->max_bundle = TW_POLICY_MAX_BYTES;
	if (asprintf(&ps->notify_path, "%s.notify", path) < 0) {
		ps->notify_path = NULL;
		goto fail_mem;
	}
	if (sqlite3_open_v2(path, &ps->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		tw_ps_err(err, errlen, 0, "policy store %s: %s", path,
			  ps->db ? sqlite3_errmsg(ps->db) : "cannot open");
		goto fail;
	}
	sqlite3_busy_timeout(ps->db, 10000);
	if (set_wal(ps, err, errlen) ||
	    exec(ps,
		 "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;"
		 " PRAGMA cache_size = -32768",
		 err, errlen) ||
	    migrate(ps, err, errlen))
		goto fail;
	for (i = 0; i < ST__N; i++) {
		if (sqlite3_prepare_v3(ps->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
				       &ps->st[i], NULL) != SQLITE_OK) {
			tw_ps_err(err, errlen, 0, "policy store %s: %s", path,
				  sqlite3_errmsg(ps->db));
			goto fail;
		}
	}
	return ps;
fail_mem:
	tw_ps_err(err, errlen, 0, "policy store: out of memory");
fail:
	tw_polstore_close(ps);
	return NULL;
}

void tw_polstore_close(struct tw_polstore *ps)
{
	int i;

	if (!ps)
		return;
	if (ps->in_tx)
		tw_polstore_rollback(ps);
	for (i = 0; i < ST__N; i++)
		sqlite3_finalize(ps->st[i]);
	for (i = 0; i < TW_POLSTORE_CACHE; i++)
		free(ps->cache[i].body);
	sqlite3_close(ps->db);
	if (ps->notify_fd >= 0) {
		close(ps->notify_fd);
		unlink(ps->notify_path);
	}
	free(ps->notify_path);
	free(ps);
}

static uint64_t one_u64(struct tw_polstore *ps, enum tw_pst which)
{
	sqlite3_stmt *s = tw_ps_stmt(ps, which);
	uint64_t v = sqlite3_step(s) == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(s, 0) : 0;

	sqlite3_reset(s);
	return v;
}

uint64_t tw_polstore_version(struct tw_polstore *ps)
{
	return one_u64(ps, ST_VERSION);
}

uint64_t tw_polstore_log_base(struct tw_polstore *ps)
{
	return one_u64(ps, ST_LOG_BASE);
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

int tw_polstore_begin(struct tw_polstore *ps, char *err, size_t errlen)
{
	uint64_t cur, now = now_us();
	int ret;

	ret = exec(ps, "BEGIN IMMEDIATE", err, errlen);
	if (ret)
		return ret;
	ps->in_tx = true;
	ps->dirty = false;
	ps->cleared = false;
	cur = tw_polstore_version(ps);
	ps->next_version = now > cur ? now : cur + 1;
	return 0;
}

void tw_polstore_rollback(struct tw_polstore *ps)
{
	exec(ps, "ROLLBACK", NULL, 0);
	ps->in_tx = false;
	ps->dirty = false;
}

void tw_polstore_set_log_keep(struct tw_polstore *ps, unsigned int n)
{
	ps->log_keep = n;
}

/* Drop the oldest whole versions past log_keep rows; log_base moves to the last dropped. */
static int trim_log(struct tw_polstore *ps, char *err, size_t errlen)
{
	sqlite3_stmt *s;
	int64_t cut = -1;
	char sql[160];

	/* seq only grows and the log is trimmed from below: both ends are index lookups. */
	if (sqlite3_prepare_v2(ps->db,
			       "SELECT version FROM changes WHERE seq <="
			       " (SELECT max(seq) FROM changes) - ?1 ORDER BY seq DESC LIMIT 1",
			       -1, &s, NULL) != SQLITE_OK)
		return tw_ps_err(err, errlen, -EIO, "policy store: %s", sqlite3_errmsg(ps->db));
	sqlite3_bind_int64(s, 1, ps->log_keep);
	if (sqlite3_step(s) == SQLITE_ROW)
		cut = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	if (cut < 0)
		return 0;
	snprintf(sql, sizeof(sql),
		 "DELETE FROM changes WHERE version <= %lld;"
		 " UPDATE state SET log_base = %lld WHERE log_base < %lld",
		 (long long)cut, (long long)cut, (long long)cut);
	return exec(ps, sql, err, errlen);
}

int tw_polstore_commit(struct tw_polstore *ps, uint64_t *version, char *err, size_t errlen)
{
	sqlite3_stmt *s;
	int ret = 0;

	if (ps->dirty) {
		s = tw_ps_stmt(ps, ST_SET_VERSION);
		sqlite3_bind_int64(s, 1, (int64_t)ps->next_version);
		if (sqlite3_step(s) != SQLITE_DONE)
			ret = tw_ps_err(err, errlen, -EIO, "policy store: %s",
					sqlite3_errmsg(ps->db));
		sqlite3_reset(s);
		ret = ret ?: trim_log(ps, err, errlen);
	}
	ret = ret ?: exec(ps, "COMMIT", err, errlen);
	if (ret) {
		tw_polstore_rollback(ps);
		return ret;
	}
	ps->in_tx = false;
	if (ps->dirty)
		tw_polstore_poke(ps);
	ps->dirty = false;
	if (version)
		*version = tw_polstore_version(ps);
	return 0;
}

static int step_done(struct tw_polstore *ps, sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	if (rc == SQLITE_DONE || rc == SQLITE_ROW)
		return 0;
	return rc == SQLITE_CONSTRAINT ? -EINVAL : rc == SQLITE_FULL ? -ENOSPC : -EIO;
}

static const enum tw_pst get_stmt[] = {
	[TW_PC_TENANT] = ST_GET_TENANT,
	[TW_PC_PROFILE] = ST_GET_PROFILE,
	[TW_PC_SUBJECT] = ST_GET_SUBJECT,
};
static const enum tw_pst del_stmt[] = {
	[TW_PC_TENANT] = ST_DEL_TENANT,
	[TW_PC_PROFILE] = ST_DEL_PROFILE,
	[TW_PC_SUBJECT] = ST_DEL_SUBJECT,
};

int tw_polstore_get(struct tw_polstore *ps, enum tw_pclass c, const char *kind, const char *id,
		    char **json)
{
	sqlite3_stmt *s = tw_ps_stmt(ps, get_stmt[c]);
	int ret = -ENOENT;

	if (c == TW_PC_SUBJECT)
		sqlite3_bind_text(s, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW) {
		ret = 0;
		if (json) {
			*json = strdup((const char *)sqlite3_column_text(s, 0));
			ret = *json ? 0 : -ENOMEM;
		}
	}
	sqlite3_reset(s);
	return ret;
}

/* Log the object before it changes: its first row in a version says whether it existed. */
static int log_change(struct tw_polstore *ps, enum tw_pclass c, const char *kind, const char *id)
{
	sqlite3_stmt *s;
	int existed;

	ps->dirty = true;
	if (ps->cleared)
		return 0; /* the log restarts at this version: nothing to record */
	existed = tw_polstore_get(ps, c, kind, id, NULL) == 0;
	s = tw_ps_stmt(ps, ST_LOG);

	sqlite3_bind_int64(s, 1, (int64_t)ps->next_version);
	sqlite3_bind_int(s, 2, c);
	sqlite3_bind_text(s, 3, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, id, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 5, existed);
	return step_done(ps, s);
}

static int put_keyed(struct tw_polstore *ps, enum tw_pclass c, enum tw_pst st, const char *id,
		     const char *json)
{
	sqlite3_stmt *s;
	int ret = log_change(ps, c, "", id);

	if (ret)
		return ret;
	s = tw_ps_stmt(ps, st);
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, json, -1, SQLITE_STATIC);
	return step_done(ps, s);
}

int tw_polstore_put_tenant(struct tw_polstore *ps, const char *id, const char *json)
{
	return put_keyed(ps, TW_PC_TENANT, ST_PUT_TENANT, id, json);
}

int tw_polstore_put_profile(struct tw_polstore *ps, const char *id, const char *json)
{
	return put_keyed(ps, TW_PC_PROFILE, ST_PUT_PROFILE, id, json);
}

static int del_subject_profiles(struct tw_polstore *ps, const char *kind, const char *id)
{
	sqlite3_stmt *s = tw_ps_stmt(ps, ST_DEL_SUBJ_PROFILES);

	sqlite3_bind_text(s, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
	return step_done(ps, s);
}

int tw_polstore_put_subject(struct tw_polstore *ps, const char *kind, const char *id,
			    const char *user, const char *tenant, const char *const *profiles,
			    size_t nprofiles, const char *state, const char *json)
{
	sqlite3_stmt *s;
	size_t i;
	int ret = log_change(ps, TW_PC_SUBJECT, kind, id);

	if (!ret && !ps->cleared) /* after a clear there is nothing to delete */
		ret = del_subject_profiles(ps, kind, id);
	if (ret)
		return ret;
	s = tw_ps_stmt(ps, ST_PUT_SUBJECT);
	sqlite3_bind_text(s, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
	if (user)
		sqlite3_bind_text(s, 3, user, -1, SQLITE_STATIC);
	if (tenant)
		sqlite3_bind_text(s, 4, tenant, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, state, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 6, json, -1, SQLITE_STATIC);
	ret = step_done(ps, s);
	for (i = 0; !ret && i < nprofiles; i++) {
		s = tw_ps_stmt(ps, ST_ADD_SUBJ_PROFILE);
		sqlite3_bind_text(s, 1, kind, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 3, profiles[i], -1, SQLITE_STATIC);
		ret = step_done(ps, s);
	}
	return ret;
}

int tw_polstore_del(struct tw_polstore *ps, enum tw_pclass c, const char *kind, const char *id)
{
	sqlite3_stmt *s;
	int ret;

	if (tw_polstore_get(ps, c, kind, id, NULL))
		return -ENOENT;
	ret = log_change(ps, c, kind, id);
	if (!ret && c == TW_PC_SUBJECT)
		ret = del_subject_profiles(ps, kind, id);
	if (ret)
		return ret;
	s = tw_ps_stmt(ps, del_stmt[c]);
	if (c == TW_PC_SUBJECT)
		sqlite3_bind_text(s, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
	return step_done(ps, s);
}

long long tw_polstore_users(struct tw_polstore *ps, enum tw_pclass c, const char *id)
{
	sqlite3_stmt *s = tw_ps_stmt(ps, c == TW_PC_TENANT ? ST_TENANT_USERS : ST_PROFILE_USERS);
	long long n;

	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
	sqlite3_reset(s);
	return n;
}

int tw_polstore_clear(struct tw_polstore *ps)
{
	char sql[256];

	snprintf(sql, sizeof(sql),
		 "DELETE FROM subject_profiles; DELETE FROM subjects; DELETE FROM profiles;"
		 " DELETE FROM tenants; DELETE FROM changes; UPDATE state SET log_base = %llu",
		 (unsigned long long)ps->next_version);
	ps->dirty = true;
	ps->cleared = true;
	return exec(ps, sql, NULL, 0);
}
