// SPDX-License-Identifier: GPL-2.0-only
/* The live-session table on disk; see sessdb.h for the schema versions. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sqlite3.h>
#include "log.h"
#include "safefile.h"
#include "sessdb.h"

#define STR_(x) #x
#define STR(x)	STR_(x)

struct tw_sessdb {
	char *path; /* for messages */
	sqlite3 *db;
	sqlite3_stmt *put, *del, *all;
};

/* Columns of schema version 2, in the order of enum col. */
#define SESSIONS_V2                                                                   \
	"CREATE TABLE sessions("                                                      \
	" slot INTEGER PRIMARY KEY,"                                                  \
	" session_id TEXT NOT NULL,"                                                  \
	" subject TEXT NOT NULL,"                                                     \
	" kind INTEGER NOT NULL," /* enum tw_subject_kind */                          \
	" ifname TEXT NOT NULL,"                                                      \
	" ifindex INTEGER NOT NULL,"                                                  \
	" state INTEGER NOT NULL," /* enum tw_state */                                \
	" dp_tenant INTEGER NOT NULL," /* the client as installed in the dataplane */ \
	" dp_profile INTEGER NOT NULL,"                                               \
	" dp_state INTEGER NOT NULL,"                                                 \
	" tun_addrs TEXT NOT NULL," /* space-separated addresses */                   \
	" tenant TEXT NOT NULL,"                                                      \
	" profile TEXT NOT NULL,"                                                     \
	" real_addr TEXT," /* NULL: unknown */                                        \
	" real_port INTEGER NOT NULL,"                                                \
	" started INTEGER NOT NULL,"                                                  \
	" confirm_deadline INTEGER NOT NULL,"                                         \
	" policy_version INTEGER NOT NULL,"                                           \
	" last_from_bytes INTEGER NOT NULL," /* last counters read */                 \
	" last_from_pkts INTEGER NOT NULL,"                                           \
	" last_to_bytes INTEGER NOT NULL,"                                            \
	" last_to_pkts INTEGER NOT NULL,"                                             \
	" last_drop_bytes INTEGER NOT NULL,"                                          \
	" last_drops TEXT NOT NULL," /* packets by drop reason, comma-separated */    \
	" last_interim INTEGER NOT NULL);"

enum col {
	C_SLOT,
	C_SESSION_ID,
	C_SUBJECT,
	C_KIND,
	C_IFNAME,
	C_IFINDEX,
	C_STATE,
	C_DP_TENANT,
	C_DP_PROFILE,
	C_DP_STATE,
	C_TUN_ADDRS,
	C_TENANT,
	C_PROFILE,
	C_REAL_ADDR,
	C_REAL_PORT,
	C_STARTED,
	C_CONFIRM_DEADLINE,
	C_POLICY_VERSION,
	C_FROM_BYTES,
	C_FROM_PKTS,
	C_TO_BYTES,
	C_TO_PKTS,
	C_DROP_BYTES,
	C_DROPS,
	C_LAST_INTERIM,
	C__MAX,
};

static int sql_err(int rc)
{
	return rc == SQLITE_FULL ? -ENOSPC : rc == SQLITE_NOMEM ? -ENOMEM : -EIO;
}

static int exec(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/* ---- one session <-> one row ---- */

static const char *addr_str(uint8_t family, const uint8_t *addr, char *buf, size_t len)
{
	return inet_ntop(family == TW_FAM_V4 ? AF_INET : AF_INET6, addr, buf, (socklen_t)len);
}

static int addr_parse(const char *s, uint8_t *family, uint8_t addr[16])
{
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, s, addr) == 1)
		*family = TW_FAM_V4;
	else if (inet_pton(AF_INET6, s, addr) == 1)
		*family = TW_FAM_V6;
	else
		return -EINVAL;
	return 0;
}

static int bind_row(sqlite3_stmt *st, const struct tw_session *se)
{
	char addrs[4 * (INET6_ADDRSTRLEN + 1)] = "", real[INET6_ADDRSTRLEN], a[INET6_ADDRSTRLEN];
	char drops[TW_DROP__MAX * 21] = "";
	const struct tw_client_ctr *c = &se->last;
	size_t o = 0;
	int i;

	for (i = 0; i < se->client.naddrs && i < 4; i++)
		if (addr_str(se->client.addrs[i].family, se->client.addrs[i].addr, a, sizeof(a)))
			o += snprintf(addrs + o, sizeof(addrs) - o, "%s%s", o ? " " : "", a);
	for (i = 0, o = 0; i < TW_DROP__MAX; i++)
		o += snprintf(drops + o, sizeof(drops) - o, "%s%llu", i ? "," : "",
			      (unsigned long long)c->drops[i]);

#define I64(col, v) sqlite3_bind_int64(st, (col) + 1, (sqlite3_int64)(v))
#define TXT(col, v) sqlite3_bind_text(st, (col) + 1, (v), -1, SQLITE_TRANSIENT)
	I64(C_SLOT, se->slot);
	TXT(C_SESSION_ID, se->id);
	TXT(C_SUBJECT, se->subject);
	I64(C_KIND, se->kind);
	TXT(C_IFNAME, se->ifname);
	I64(C_IFINDEX, se->ifindex);
	I64(C_STATE, se->state);
	I64(C_DP_TENANT, se->client.tenant);
	I64(C_DP_PROFILE, se->client.profile);
	I64(C_DP_STATE, se->client.state);
	TXT(C_TUN_ADDRS, addrs);
	TXT(C_TENANT, se->tenant);
	TXT(C_PROFILE, se->profile);
	if (se->real_family && addr_str(se->real_family, se->real_addr, real, sizeof(real)))
		TXT(C_REAL_ADDR, real);
	else
		sqlite3_bind_null(st, C_REAL_ADDR + 1);
	I64(C_REAL_PORT, se->real_port);
	I64(C_STARTED, se->started);
	I64(C_CONFIRM_DEADLINE, se->confirm_deadline);
	I64(C_POLICY_VERSION, se->policy_version);
	I64(C_FROM_BYTES, c->from_bytes);
	I64(C_FROM_PKTS, c->from_pkts);
	I64(C_TO_BYTES, c->to_bytes);
	I64(C_TO_PKTS, c->to_pkts);
	I64(C_DROP_BYTES, c->drop_bytes);
	TXT(C_DROPS, drops);
	I64(C_LAST_INTERIM, se->last_interim);
#undef I64
#undef TXT
	return 0;
}

/* Copy text column @col into @dst of @len bytes; -ENAMETOOLONG when it does not fit. */
static int col_text(sqlite3_stmt *st, int col, char *dst, size_t len)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	size_t n = t ? strlen((const char *)t) : 0;

	if (n >= len)
		return -ENAMETOOLONG;
	memcpy(dst, t ? (const char *)t : "", n + 1);
	return 0;
}

/* A row back into a session: 0, or -errno with @why naming the column. */
static int read_row(sqlite3_stmt *st, struct tw_session *se, const char **why)
{
	char addrs[4 * (INET6_ADDRSTRLEN + 1) + 1], drops[TW_DROP__MAX * 21 + 1], *tok, *save;
	struct tw_client_ctr *c = &se->last;
	const unsigned char *real;
	int i;

	memset(se, 0, sizeof(*se));
#define I64(col) sqlite3_column_int64(st, (col))
#define TXT(col, dst, what)                                    \
	do {                                                   \
		if (col_text(st, (col), (dst), sizeof(dst))) { \
			*why = what " is too long";            \
			return -ENAMETOOLONG;                  \
		}                                              \
	} while (0)
	se->used = true;
	se->slot = (uint32_t)I64(C_SLOT);
	TXT(C_SESSION_ID, se->id, "session_id");
	TXT(C_SUBJECT, se->subject, "subject");
	se->kind = (enum tw_subject_kind)I64(C_KIND);
	TXT(C_IFNAME, se->ifname, "ifname");
	se->ifindex = (int)I64(C_IFINDEX);
	se->state = (uint32_t)I64(C_STATE);
	se->client.slot = se->slot;
	se->client.ifindex = se->ifindex;
	se->client.tenant = (uint32_t)I64(C_DP_TENANT);
	se->client.profile = (uint32_t)I64(C_DP_PROFILE);
	se->client.state = (uint32_t)I64(C_DP_STATE);
	TXT(C_TUN_ADDRS, addrs, "tun_addrs");
	for (tok = strtok_r(addrs, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		struct tw_addr *a = &se->client.addrs[se->client.naddrs];

		if (se->client.naddrs == 4 || addr_parse(tok, &a->family, a->addr)) {
			*why = "tun_addrs is not a list of at most 4 addresses";
			return -EINVAL;
		}
		se->client.naddrs++;
	}
	TXT(C_TENANT, se->tenant, "tenant");
	TXT(C_PROFILE, se->profile, "profile");
	real = sqlite3_column_text(st, C_REAL_ADDR);
	if (real && addr_parse((const char *)real, &se->real_family, se->real_addr)) {
		*why = "real_addr is not an address";
		return -EINVAL;
	}
	se->real_port = (uint16_t)I64(C_REAL_PORT);
	se->started = (time_t)I64(C_STARTED);
	se->confirm_deadline = (time_t)I64(C_CONFIRM_DEADLINE);
	se->policy_version = (uint64_t)I64(C_POLICY_VERSION);
	c->from_bytes = (uint64_t)I64(C_FROM_BYTES);
	c->from_pkts = (uint64_t)I64(C_FROM_PKTS);
	c->to_bytes = (uint64_t)I64(C_TO_BYTES);
	c->to_pkts = (uint64_t)I64(C_TO_PKTS);
	c->drop_bytes = (uint64_t)I64(C_DROP_BYTES);
	TXT(C_DROPS, drops, "last_drops");
	/* fewer reasons than this build knows: an older ABI; the rest stay 0 */
	for (i = 0, tok = strtok_r(drops, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *end;

		if (i == TW_DROP__MAX) {
			*why = "last_drops has more reasons than this build knows";
			return -EINVAL;
		}
		errno = 0;
		c->drops[i++] = strtoull(tok, &end, 10);
		if (*end || errno) {
			*why = "last_drops is not a list of numbers";
			return -EINVAL;
		}
	}
	se->last_interim = (time_t)I64(C_LAST_INTERIM);
#undef I64
#undef TXT
	return 0;
}

/* ---- schema versions ---- */

static const char put_sql[] =
	"INSERT OR REPLACE INTO sessions VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
_Static_assert(C__MAX == 25, "one ? a column in put_sql");

static int user_version(sqlite3 *db, int *v)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);

	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*v = sqlite3_column_int(st, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return rc;
}

static bool has_sessions_table(sqlite3 *db)
{
	sqlite3_stmt *st;
	bool yes = false;

	if (sqlite3_prepare_v2(db,
			       "SELECT 1 FROM sqlite_master WHERE type='table' AND "
			       "name='sessions'",
			       -1, &st, NULL) != SQLITE_OK)
		return false;
	yes = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return yes;
}

/*
 * Version 1: (slot, size, body) with body the raw struct tw_session of the
 * daemon that wrote it. A body of this build's size is this build's layout
 * (the struct has not changed since); any other cannot be read safely.
 */
static int migrate_v1(sqlite3 *db, const char *path)
{
	sqlite3_stmt *old = NULL, *put = NULL;
	int rc, kept = 0, dropped = 0;

	rc = exec(db, "ALTER TABLE sessions RENAME TO sessions_v1;" SESSIONS_V2);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db,
					"SELECT slot, size, body FROM sessions_v1 ORDER BY slot",
					-1, &old, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, put_sql, -1, &put, NULL);
	while (rc == SQLITE_OK && (rc = sqlite3_step(old)) == SQLITE_ROW) {
		sqlite3_int64 slot = sqlite3_column_int64(old, 0),
			      size = sqlite3_column_int64(old, 1);
		struct tw_session se;

		if (size != (sqlite3_int64)sizeof(se) ||
		    sqlite3_column_bytes(old, 2) != (int)sizeof(se)) {
			tw_warn("session table %s: slot %lld: a version 1 row of %lld bytes, not this "
				"build's %zu; dropped (the session is not restored)",
				path, (long long)slot, (long long)size, sizeof(se));
			dropped++;
			rc = SQLITE_OK;
			continue;
		}
		memcpy(&se, sqlite3_column_blob(old, 2), sizeof(se));
		bind_row(put, &se);
		rc = sqlite3_step(put);
		sqlite3_reset(put);
		rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
		kept++;
	}
	if (rc == SQLITE_DONE)
		rc = exec(db, "DROP TABLE sessions_v1");
	sqlite3_finalize(old);
	sqlite3_finalize(put);
	if (rc == SQLITE_OK)
		tw_info("session table %s: migrated from schema version 1 to %d: %d session(s) "
			"kept, %d dropped",
			path, TW_SESSDB_VERSION, kept, dropped);
	return rc;
}

/* Bring the schema to TW_SESSDB_VERSION, in one transaction. */
static int upgrade(sqlite3 *db, const char *path)
{
	int rc, v = 0;

	rc = exec(db, "BEGIN IMMEDIATE");
	if (rc != SQLITE_OK)
		return rc;
	rc = user_version(db, &v);
	if (rc == SQLITE_OK && v > TW_SESSDB_VERSION) {
		tw_err("session table %s: schema version %d is newer than this build's %d; "
		       "refusing to read it (move the file away to start without the live "
		       "sessions)",
		       path, v, TW_SESSDB_VERSION);
		exec(db, "ROLLBACK");
		return SQLITE_MISMATCH;
	}
	if (rc == SQLITE_OK && v == 0 && has_sessions_table(db)) {
		rc = migrate_v1(db, path);
		if (rc != SQLITE_OK)
			tw_err("session table %s: cannot migrate from schema version 1: %s", path,
			       sqlite3_errmsg(db));
	} else if (rc == SQLITE_OK && v == 0) {
		rc = exec(db, SESSIONS_V2);
	}
	if (rc == SQLITE_OK && v < TW_SESSDB_VERSION)
		rc = exec(db, "PRAGMA user_version = " STR(TW_SESSDB_VERSION));
	rc = exec(db, rc == SQLITE_OK ? "COMMIT" : "ROLLBACK") == SQLITE_OK ? rc : SQLITE_ERROR;
	return rc;
}

struct tw_sessdb *tw_sessdb_open(const char *path)
{
	struct tw_sessdb *s = calloc(1, sizeof(*s));
	char why[512];
	int rc;

	if (!s)
		return NULL;
	s->path = strdup(path);
	if (!s->path) {
		free(s);
		return NULL;
	}
	/* created 0600 without following a symlink, or one of ours (see safefile.h) */
	if (tw_file_prepare(path, 0600, why, sizeof(why))) {
		tw_err("session table: %s", why);
		tw_sessdb_close(s);
		errno = EPERM;
		return NULL;
	}
	rc = sqlite3_open_v2(path, &s->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOFOLLOW,
			     NULL);
	if (rc == SQLITE_OK)
		/* NORMAL: a crash may lose the last change, never corrupt; the
		 * journal's durable connect record is the authoritative one */
		rc = exec(s->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;");
	if (rc == SQLITE_OK)
		rc = upgrade(s->db, path);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(s->db, put_sql, -1, &s->put, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(s->db, "DELETE FROM sessions WHERE slot=?", -1, &s->del,
					NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(s->db, "SELECT * FROM sessions ORDER BY slot", -1, &s->all,
					NULL);
	if (rc != SQLITE_OK) {
		tw_sessdb_close(s);
		errno = rc == SQLITE_MISMATCH ? EPROTONOSUPPORT : -sql_err(rc);
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
	free(s->path);
	free(s);
}

const char *tw_sessdb_errstr(struct tw_sessdb *s)
{
	return s && s->db ? sqlite3_errmsg(s->db) : "not open";
}

int tw_sessdb_put(struct tw_sessdb *db, const struct tw_session *se)
{
	int rc;

	bind_row(db->put, se);
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
		const char *why = "";

		if (read_row(s->all, &se, &why)) {
			tw_warn("session table %s: slot %lld: %s; not restored", s->path,
				(long long)sqlite3_column_int64(s->all, C_SLOT), why);
			continue;
		}
		if (cb(&se, ctx) == 0)
			n++;
	}
	sqlite3_reset(s->all);
	return rc == SQLITE_DONE ? n : sql_err(rc);
}
