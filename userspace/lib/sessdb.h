/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The live-session table on disk (SQLite, WAL), so a restarted daemon — after
 * a crash or kill -9 — knows which subject holds which dataplane slot. The
 * pinned BPF maps keep enforcing and counting meanwhile; this file only
 * restores the daemon's side of the mapping.
 *
 * One row a session, one column a field, under a schema version kept in
 * SQLite's user_version (TW_SESSDB_VERSION). Opening a table of an older
 * version migrates it in one transaction: version 1 stored struct tw_session
 * as a blob tagged with its size, and a blob of this build's size is
 * converted while any other is dropped with a warning naming its slot and
 * size. A table of a newer version is refused with an error naming both
 * versions: guessing at a newer layout could hand a slot to the wrong subject.
 */
#ifndef TW_SESSDB_H
#define TW_SESSDB_H

#include "session.h"

#define TW_SESSDB_VERSION 2

struct tw_sessdb;

struct tw_sessdb *tw_sessdb_open(const char *path); /* NULL + errno */
void tw_sessdb_close(struct tw_sessdb *db);
int tw_sessdb_put(struct tw_sessdb *db, const struct tw_session *se);
int tw_sessdb_del(struct tw_sessdb *db, uint32_t slot);
/* Calls @cb for every stored session; returns how many @cb took (returned
 * 0 for), or -errno. A row that does not read back as a session (a value out
 * of range, an unparsable address) is skipped with a warning naming its slot. */
int tw_sessdb_load(struct tw_sessdb *db, int (*cb)(const struct tw_session *s, void *ctx),
		   void *ctx);
const char *tw_sessdb_errstr(struct tw_sessdb *db);

#endif
