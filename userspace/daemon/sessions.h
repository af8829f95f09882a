/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The life of an admitted session past its decision: persisted in the
 * session table (so a restarted daemon finds it), accounted from the
 * dataplane counters, journaled, and ended.
 */
#ifndef TW_SESSIONS_H
#define TW_SESSIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "record.h"
#include "session.h"

struct tw_conn_req;
struct tw_daemon;

/* Bring back the sessions the pinned dataplane still holds. */
void tw_sess_restore(struct tw_daemon *d);
/* Persist @s (logged when it fails: a restart would forget it). */
void tw_sess_save(struct tw_daemon *d, const struct tw_session *s);
/* Refresh @s->last from the dataplane, keeping it monotonic. */
void tw_sess_counters(struct tw_daemon *d, struct tw_session *s);

/* A record of @kind about @s, its counters included when @counters. */
void tw_sess_record(const struct tw_session *s, uint32_t kind, bool counters, struct tw_record *r);
/* Append @r to the journal; 0 or the journal's error (logged). */
int tw_sess_journal(struct tw_daemon *d, struct tw_record *r, bool durable);

/*
 * Stop @s's traffic, journal its disconnect with @cause, remove it from the
 * dataplane and the session table; with @kill also end it at the VPN stack.
 */
void tw_sess_end(struct tw_daemon *d, struct tw_session *s, uint32_t cause, bool kill);

/*
 * @old is replaced by a new session of its subject (@r): end it as
 * Port-Preempted, and at its VPN server too unless it is the same peer
 * (same interface and real address:port: the server replaced it itself).
 */
void tw_sess_preempt(struct tw_daemon *d, struct tw_session *old, const struct tw_conn_req *r);

/*
 * Before admitting @r: a session on @r's interface that holds one of @r's
 * tunnel addresses is gone when @r's stack hands out addresses from a pool
 * (adapter.h, reclaims_addresses): end it as VPN-Gone, so the address is
 * reclaimed, never refused (docs/openvpn.md, "Crash recovery"). Returns how
 * many were ended.
 */
int tw_sess_reclaim_stale(struct tw_daemon *d, const struct tw_conn_req *r);

#endif /* TW_SESSIONS_H */
