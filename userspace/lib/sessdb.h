/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The live-session table on disk (SQLite, WAL), so a restarted daemon — after
 * a crash or kill -9 — knows which subject holds which dataplane slot. The
 * pinned BPF maps keep enforcing and counting meanwhile; this file only
 * restores the daemon's side of the mapping. Rows are the session struct as
 * a blob tagged with its size: a daemon with another layout ignores them
 * (and logs it) instead of misreading them.
 */
#ifndef TW_SESSDB_H
#define TW_SESSDB_H

#include "session.h"

struct tw_sessdb;

struct tw_sessdb *tw_sessdb_open(const char *path); /* NULL + errno */
void tw_sessdb_close(struct tw_sessdb *db);
int tw_sessdb_put(struct tw_sessdb *db, const struct tw_session *se);
int tw_sessdb_del(struct tw_sessdb *db, uint32_t slot);
/* Calls @cb for every stored session; returns how many, or -errno. */
int tw_sessdb_load(struct tw_sessdb *db, int (*cb)(const struct tw_session *s, void *ctx),
		   void *ctx);
const char *tw_sessdb_errstr(struct tw_sessdb *db);

#endif
