/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The policy store's inside, shared by its files (polstore.c: schema,
 * versions, writes and the change log; polstore_bundle.c: snapshots and
 * deltas; polstore_notify.c: the poke socket) and by the admin commands
 * (padmin_policy.c), which write through the functions below.
 *
 * Writes: tw_polstore_begin() takes the write lock (BEGIN IMMEDIATE) and
 * picks the version the transaction will commit as; every put/del logs the
 * object in the change log with whether it existed before; commit moves the
 * store's version on only when something changed, trims the log, commits and
 * pokes the server. Objects are stored as their compact JSON exactly as a
 * bundle carries them, so a snapshot is a concatenation.
 */
#ifndef TW_POLSTORE_INT_H
#define TW_POLSTORE_INT_H

#include <sqlite3.h>
#include "polstore.h"

/* Change log rows kept by default; older versions get snapshots. */
#define TW_POLSTORE_LOG_KEEP 10000

/* Bundle bodies kept at the current version (polstore_bundle.c). */
#define TW_POLSTORE_CACHE 8

struct tw_bcache {
	int kind; /* TW_BUNDLE_SNAPSHOT or _DELTA */
	uint64_t since, version; /* since 0: the snapshot */
	char *body; /* the bundle after its header; NULL: empty slot */
	size_t len;
};

enum tw_pclass {
	TW_PC_TENANT = 1,
	TW_PC_PROFILE = 2,
	TW_PC_SUBJECT = 3,
};

enum tw_pst {
	ST_VERSION,
	ST_LOG_BASE,
	ST_SET_VERSION,
	ST_LOG,
	ST_GET_TENANT,
	ST_GET_PROFILE,
	ST_GET_SUBJECT,
	ST_PUT_TENANT,
	ST_PUT_PROFILE,
	ST_PUT_SUBJECT,
	ST_DEL_TENANT,
	ST_DEL_PROFILE,
	ST_DEL_SUBJECT,
	ST_DEL_SUBJ_PROFILES,
	ST_ADD_SUBJ_PROFILE,
	ST_TENANT_USERS,
	ST_PROFILE_USERS,
	ST_HAS_VERSION,
	ST__N,
};

struct tw_polstore {
	sqlite3 *db;
	char *notify_path; /* PATH.notify */
	int notify_fd; /* server side, -1 until tw_polstore_notify_fd() */
	unsigned int log_keep;
	size_t max_bundle; /* TW_POLICY_MAX_BYTES; smaller in tests */
	bool in_tx;
	bool dirty; /* the open transaction changed something */
	bool cleared; /* ... and began with tw_polstore_clear() */
	uint64_t next_version; /* what the open transaction commits as */
	sqlite3_stmt *st[ST__N];
	struct tw_bcache cache[TW_POLSTORE_CACHE];
	struct tw_bcache uncached; /* a body built inside a write transaction */
	unsigned int cache_next;
};

/* Error text helper: the message into @err, returns @ret. */
int tw_ps_err(char *err, size_t errlen, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* A prepared statement, reset and with bindings cleared. */
sqlite3_stmt *tw_ps_stmt(struct tw_polstore *ps, enum tw_pst which);

int tw_polstore_begin(struct tw_polstore *ps, char *err, size_t errlen);
/* Commit; *@version (may be NULL) is the store's version after it. */
int tw_polstore_commit(struct tw_polstore *ps, uint64_t *version, char *err, size_t errlen);
void tw_polstore_rollback(struct tw_polstore *ps);

/* Current JSON of an object (@kind "" for tenants and profiles): 0 with *@json malloc'd, -ENOENT. */
int tw_polstore_get(struct tw_polstore *ps, enum tw_pclass c, const char *kind, const char *id,
		    char **json);
int tw_polstore_put_tenant(struct tw_polstore *ps, const char *id, const char *json);
int tw_polstore_put_profile(struct tw_polstore *ps, const char *id, const char *json);
int tw_polstore_put_subject(struct tw_polstore *ps, const char *kind, const char *id,
			    const char *user, const char *tenant, const char *const *profiles,
			    size_t nprofiles, const char *state, const char *json);
int tw_polstore_del(struct tw_polstore *ps, enum tw_pclass c, const char *kind, const char *id);
/* Subjects naming tenant/profile @id (0: none), for refusals. */
long long tw_polstore_users(struct tw_polstore *ps, enum tw_pclass c, const char *id);
/* Remove everything (inside a transaction) and restart the change log: nodes get a snapshot. */
int tw_polstore_clear(struct tw_polstore *ps);
/* The oldest version a delta can start from (versions in the log, or this one). */
uint64_t tw_polstore_log_base(struct tw_polstore *ps);
/* For tests: keep only @n change log rows from the next commit on. */
void tw_polstore_set_log_keep(struct tw_polstore *ps, unsigned int n);

/* After a commit: poke the server, if one listens (polstore_notify.c). */
void tw_polstore_poke(struct tw_polstore *ps);

#endif /* TW_POLSTORE_INT_H */
