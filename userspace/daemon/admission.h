/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Admission: the connect decision (local, from the cached policy), the
 * node's memory of unconfirmed attempts and bans per subject, confirmation
 * deadlines and the per-second tick. It speaks in generic requests: which
 * VPN stack a request came from is the adapters' business (adapter.h).
 */
#ifndef TW_ADMISSION_H
#define TW_ADMISSION_H

#include <stdbool.h>
#include <stdint.h>
#include <net/if.h>

#include "policy.h"
#include "record.h"
#include "session.h"
#include "tw_dp.h"

struct tw_daemon;

/*
 * A connect or disconnect, as any VPN stack's adapter hands it over. The
 * strings belong to the adapter's request and live as long as the call.
 */
struct tw_conn_req {
	enum tw_subject_kind kind;
	const char *subject;
	const char *ifname;
	/* The client's real (outer) address; family 0 when unknown. */
	uint8_t real_family, real_addr[16];
	uint16_t real_port;
	/* Tunnel addresses assigned to the client. */
	struct tw_addr tun[2];
	int ntun;
	/* The hook's deadline, CLOCK_MONOTONIC ms (docs/ctl-protocol.md); 0: none given. */
	int64_t deadline_ms;
};

/*
 * Re-check a request as strictly as tunwarden-hook checks OpenVPN's
 * environment, for whoever sent it (root, the hook, or a process sharing the
 * hook's uid/gid): subject name rules (hookenv.h, tw_utf8.h), a sane ifname,
 * the real address and port, at least one tunnel address; on connect the
 * tunnel addresses must lie in the interface's subnets and belong to no other
 * subject's live session, and an expired deadline drops the connect.
 * 0; -ETIME (deadline passed) or -EINVAL with @err, which is safe to log
 * (values escaped). Refusals are logged and counted here.
 */
int tw_adm_check(struct tw_daemon *d, const struct tw_conn_req *r, bool connect, char *err,
		 size_t errlen);

/* Refuse a request that fails before tw_adm_check() (the adapter cannot read it): log @why
 * escaped, count it, "connect refused: @why" into @err. -EINVAL. */
int tw_adm_refuse(struct tw_daemon *d, const struct tw_conn_req *r, bool connect, const char *why,
		  char *err, size_t errlen);

/*
 * Whether @holder, a live session holding an address a connect asks for, is
 * known to be gone from its VPN server (then the address may be reclaimed).
 * The hook point for crash recovery; false until a stack can tell.
 */
bool tw_adm_holder_gone(struct tw_daemon *d, const struct tw_session *holder);

struct tw_admission *tw_adm_new(void);
void tw_adm_free(struct tw_admission *a);

/*
 * Decide @r and, when admitted, install it: dataplane client, session, a
 * durable connect record. 0 with @dec filled (a refusal is a decision, not an
 * error) and *@s set when admitted; -ENODEV (no such interface), -EDESTADDRREQ
 * (no tunnel address), -EIO (journal unavailable: refused).
 */
int tw_adm_connect(struct tw_daemon *d, const struct tw_conn_req *r, struct tw_decision *dec,
		   const struct tw_session **s);

enum tw_disconnect_result {
	TW_DISC_ENDED,
	TW_DISC_NO_SESSION,
	TW_DISC_NOT_PEER, /* not the live session's peer (a late or refused connection's): ignored */
};
enum tw_disconnect_result tw_adm_disconnect(struct tw_daemon *d, const struct tw_conn_req *r);

/* The policy changed: flip every live session it now disagrees with. */
void tw_adm_policy_changed(struct tw_daemon *d);
/* A bundle from the portal was applied: local confirmations give way to its state. */
void tw_adm_portal_spoke(struct tw_daemon *d);

/* Once a second: confirmation deadlines and interim records. */
void tw_adm_tick(struct tw_daemon *d);

/* Operator actions on a subject. -ENOENT: no live session (kill, confirm) or
 * nothing known (unban); -EALREADY: not sandboxed (confirm); -EIO: dataplane
 * (confirm); -ENOSPC: no room to remember the ban. */
int tw_adm_kill(struct tw_daemon *d, const char *subject);
int tw_adm_confirm(struct tw_daemon *d, const char *subject);
int tw_adm_ban(struct tw_daemon *d, const char *subject, uint64_t secs, time_t *until);
int tw_adm_unban(struct tw_daemon *d, const char *subject);

void tw_adm_counts(const struct tw_daemon *d, uint64_t *connects, uint64_t *denied);
/* Hook requests refused by tw_adm_check(), and connects dropped past their deadline. */
void tw_adm_hook_counts(const struct tw_daemon *d, uint64_t *refused, uint64_t *expired);

#endif /* TW_ADMISSION_H */
