/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Health records (docs/protocol.md section 7): what the portal needs to
 * tell a quiet node from a dead one. portal.c appends one when the link
 * comes up ("link") and every health_interval while it is up
 * ("periodic"); alerts ("alert") carry a detail.
 */
#ifndef TW_HEALTH_H
#define TW_HEALTH_H

#include <stdbool.h>
#include <time.h>

#include "record.h"

#include "linkproto.h" /* TW_VERSION: health records, user-agent */

struct tw_daemon;

/* The health record of @event ("link", "periodic", "alert") as of now; @detail may be NULL. */
void tw_health_fill(struct tw_daemon *d, const char *event, const char *detail,
		    struct tw_record *r);
/* Fill and append to the journal (not durable: never dropped, committed by the tick).
 * 0 or -errno (logged). */
int tw_health_append(struct tw_daemon *d, const char *event, const char *detail);

/*
 * For portal.c's tick while the link is down since @down_since (time()):
 * once it has been down for [policy] offline_grace, one "alert" record per
 * outage (*@alerted is the caller's flag; it clears it when the link is
 * back). 1 when the alert was appended now, else 0.
 */
int tw_health_link_down(struct tw_daemon *d, time_t down_since, bool *alerted);

#endif /* TW_HEALTH_H */
