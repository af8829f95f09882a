// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "health.h"
#include "journal.h"
#include "log.h"
#include "policy.h"
#include "policysrc.h"
#include "session.h"

static void set_int(struct tw_rec_health *h, enum tw_health_int i, uint64_t v)
{
	h->v[i] = v;
	h->has |= 1u << i;
}

void tw_health_fill(struct tw_daemon *d, const char *event, const char *detail, struct tw_record *r)
{
	struct tw_rec_health *h = &r->health;
	struct tw_journal_stats st;
	time_t now = time(NULL);
	double load;
	long cpus;

	memset(r, 0, sizeof(*r));
	r->kind = TW_REC_HEALTH;
	snprintf(h->event, sizeof(h->event), "%s", event);
	snprintf(h->software_version, sizeof(h->software_version), "%s", TW_VERSION);
	if (detail)
		snprintf(r->detail, sizeof(r->detail), "%s", detail);
	set_int(h, TW_HI_UPTIME_S,
		d->started && now > d->started ? (uint64_t)(now - d->started) : 0);
	if (getloadavg(&load, 1) == 1 && load >= 0)
		set_int(h, TW_HI_LOAD1_MILLI, (uint64_t)(load * 1000 + 0.5));
	cpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (cpus > 0)
		set_int(h, TW_HI_CPUS, (uint64_t)cpus);
	if (d->ss)
		set_int(h, TW_HI_SESSIONS, tw_sessions_count(d->ss));
	if (d->jr && !tw_journal_stats(d->jr, &st))
		set_int(h, TW_HI_BACKLOG_RECORDS, st.rows + st.queued);
	if (d->pol) {
		r->policy_version = tw_policy_version(d->pol);
		/* the age since the portal (or the file) last confirmed it: absent if never */
		if (d->pol_loaded)
			set_int(h, TW_HI_POLICY_AGE_S,
				now > d->pol_loaded ? (uint64_t)(now - d->pol_loaded) : 0);
	}
	snprintf(h->policy_source, sizeof(h->policy_source), "%s", tw_polsrc_name(d));
}

int tw_health_append(struct tw_daemon *d, const char *event, const char *detail)
{
	struct tw_record r;
	int err;

	tw_health_fill(d, event, detail, &r);
	err = tw_journal_append(d->jr, &r, false);
	if (err)
		tw_err("journal: health record (%s): %s", event, tw_journal_errstr(d->jr));
	return err;
}

int tw_health_link_down(struct tw_daemon *d, time_t down_since, bool *alerted)
{
	time_t now = time(NULL);
	char detail[160];

	if (*alerted || !down_since || !d->cfg.offline_grace_s ||
	    (uint64_t)(now - down_since) < d->cfg.offline_grace_s)
		return 0;
	*alerted = true;
	snprintf(detail, sizeof(detail), "portal unreachable for %lld s (offline_grace %llu s)",
		 (long long)(now - down_since), (unsigned long long)d->cfg.offline_grace_s);
	return tw_health_append(d, "alert", detail) ? 0 : 1;
}
