/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Sessions and the connect decision. The decision is a pure function of the
 * cached policy, the node's config and the clock: the portal is never on the
 * connect path. The session table maps a subject to its live session and its
 * dense dataplane slot; lookups are O(1) (hashtab.h on the subject).
 */
#ifndef TW_SESSION_H
#define TW_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include "config.h"
#include "policy.h"
#include "record.h"
#include "tw_dp.h"

enum tw_verdict {
	TW_VERDICT_DENY = 0,
	TW_VERDICT_PERMIT = 1,
	TW_VERDICT_SANDBOX = 2,
};

struct tw_decision {
	enum tw_verdict verdict;
	char reason[160];
	uint32_t profile; /* num, 0 when denied */
	uint32_t tenant;
	uint64_t confirm_timeout_s; /* SANDBOX only */
	uint64_t policy_version;
	bool offline; /* cached policy older than the grace period */
};

/* A subject ban without an end (ban_duration 0, or an operator's ban with none): tw_decide's
 * banned_until for "until unbanned". */
#define TW_BANNED_FOREVER ((time_t)INT64_MAX)

/*
 * Decide for subject (@kind, @id) arriving on @ifname. @policy_age_s is the
 * age of the cached policy; @banned_until (unix seconds, 0 = not banned) is
 * the node's own ban of the subject.
 */
void tw_decide(const struct tw_policy *pol, const struct tw_config *cfg, enum tw_subject_kind kind,
	       const char *id, const char *ifname, uint64_t policy_age_s, time_t now,
	       time_t banned_until, struct tw_decision *d);

const char *tw_verdict_name(enum tw_verdict v);

struct tw_session {
	bool used;
	uint32_t slot;
	char id[TW_REC_SESSION_MAX];
	char subject[TW_REC_SUBJECT_MAX];
	enum tw_subject_kind kind;
	char ifname[IF_NAMESIZE];
	int ifindex;
	struct tw_client client; /* as installed in the dataplane */
	uint32_t state; /* enum tw_state */
	char tenant[TW_REC_NAME_MAX];
	char profile[TW_REC_NAME_MAX];
	uint8_t real_family, real_addr[16];
	uint16_t real_port;
	time_t started;
	time_t confirm_deadline; /* SANDBOX: 0 = none */
	uint64_t policy_version;
	struct tw_client_ctr last; /* last counters read: monotonic per session */
	time_t last_interim;
};

struct tw_sessions;

struct tw_sessions *tw_sessions_new(uint32_t nslots);
void tw_sessions_free(struct tw_sessions *t);
/* A free slot's session, marked used and indexed under @subject; NULL (ENOSPC/EEXIST). */
struct tw_session *tw_sessions_add(struct tw_sessions *t, const char *subject);
/* Put a session read back from disk into its own slot (daemon restart). */
int tw_sessions_restore(struct tw_sessions *t, const struct tw_session *from);
void tw_sessions_del(struct tw_sessions *t, struct tw_session *s);
struct tw_session *tw_sessions_find(struct tw_sessions *t, const char *subject);
struct tw_session *tw_sessions_by_slot(struct tw_sessions *t, uint32_t slot);
uint32_t tw_sessions_count(const struct tw_sessions *t);
uint32_t tw_sessions_nslots(const struct tw_sessions *t);

#endif
