/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Where the policy in force comes from: the local policy file ([policy]
 * policy_file), the portal's policy stream (polstream.c; then the file is
 * not read), or at a cold start without either the on-disk cache of the
 * last good one. All feed one path: a new bundle replaces d->pol, its profiles go to the dataplane, admission
 * reconciles the live sessions, admitted flows are revalidated.
 */
#ifndef TW_POLICYSRC_H
#define TW_POLICYSRC_H

#include <stddef.h>

struct tw_daemon;

/* Re-read the policy file. 0 (also when the file is at the version in force), or -errno with
 * the last good policy kept (logged, and said in @errout when not NULL). */
int tw_polsrc_reload(struct tw_daemon *d, char *errout, size_t errlen);
/* At start: the policy file, else the cache (treated as old: offline mode applies). */
void tw_polsrc_cold_start(struct tw_daemon *d);
const char *tw_polsrc_name(const struct tw_daemon *d);

struct tw_policy;
/* The portal's policy stream (polstream.c) accepted a newer snapshot @np (handed over):
 * install it and make @line the cache. */
void tw_polsrc_portal_snapshot(struct tw_daemon *d, struct tw_policy *np, const char *line,
			       size_t len);
/* @line, a snapshot of the version in force, replaces the cache (its deltas compacted). */
void tw_polsrc_portal_recache(struct tw_daemon *d, const char *line, size_t len);
/* A delta @line moved d->pol forward in place: install it (the allowlists only if
 * @profiles: it changed profiles) and append it to the cache. */
void tw_polsrc_portal_delta(struct tw_daemon *d, const char *line, size_t len, bool profiles);

#endif /* TW_POLICYSRC_H */
