// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admission.h"
#include "daemon.h"
#include "fileio.h"
#include "log.h"
#include "policy.h"
#include "policysrc.h"
#include "tw_dp.h"

static void push_profiles(struct tw_daemon *d)
{
	for (uint32_t num = 1; num < TW_MAX_PROFILES; num++) {
		const struct tw_profile *p = tw_policy_profile_by_num(d->pol, num);

		if (!p)
			continue;
		if (tw_dp_profile_set(d->dp, num, p->rules, p->nrules))
			tw_err("profile %s: %s (its previous allowlist stays)", p->node.id,
			       tw_dp_errstr(d->dp));
	}
}

/* @np replaces the policy in force: dataplane, live sessions, admitted flows. */
static void policy_install(struct tw_daemon *d, struct tw_policy *np)
{
	int n;

	tw_policy_free(d->pol);
	d->pol = np;
	d->pol_loaded = time(NULL);
	d->pol_source = TW_POLSRC_FILE;
	tw_info("policy version %llu: %zu subjects, %zu profiles",
		(unsigned long long)tw_policy_version(np), tw_policy_nsubjects(np),
		tw_policy_nprofiles(np));
	push_profiles(d);
	tw_adm_policy_changed(d);
	/* connections admitted under the old allowlists that the new ones
	 * refuse end now, not when they go idle */
	n = tw_dp_flows_revalidate(d->dp);
	if (n > 0)
		tw_info("policy %llu: %d admitted connections no longer allowed, ended",
			(unsigned long long)tw_policy_version(np), n);
	else if (n < 0)
		tw_err("%s", tw_dp_errstr(d->dp));
}

/* A file at the version already installed (a reload for a configuration edit): nothing to do.
 * Only asked after tw_policy_parse_next() said "not newer". */
static bool same_version(const char *buf, size_t len, unsigned long long cur)
{
	char err[16];
	struct tw_policy *p = tw_policy_parse(buf, len, err, sizeof(err));
	bool same = p && tw_policy_version(p) == cur;

	if (p)
		tw_policy_free(p);
	return same;
}

int tw_polsrc_reload(struct tw_daemon *d, char *errout, size_t errlen)
{
	unsigned long long cur = d->pol ? tw_policy_version(d->pol) : 0;
	char err[512] = "";
	struct tw_policy *np;
	char *buf = NULL;
	size_t len = 0;
	int rc;

	rc = tw_read_file(d->cfg.policy_file, &buf, &len);
	if (rc) {
		snprintf(err, sizeof(err), "%s", strerror(-rc));
		goto fail;
	}
	np = d->pol ? tw_policy_parse_next(d->pol, buf, len, err, sizeof(err)) :
		      tw_policy_parse(buf, len, err, sizeof(err));
	if (!np) {
		rc = -errno;
		if (rc == -ESTALE && d->pol && same_version(buf, len, cur)) {
			tw_info("policy %s: version %llu already in force", d->cfg.policy_file,
				cur);
			free(buf);
			return 0;
		}
		if (rc == -ESTALE && d->pol && !err[0])
			snprintf(err, sizeof(err), "version not newer than %llu", cur);
		if (!err[0])
			snprintf(err, sizeof(err), "%s", strerror(-rc));
		free(buf);
		goto fail;
	}
	/* kept on disk for a cold start without the source */
	if (d->cfg.policy_cache_path[0] && tw_write_atomic(d->cfg.policy_cache_path, buf, len))
		tw_warn("policy cache %s: cannot write", d->cfg.policy_cache_path);
	free(buf);
	policy_install(d, np);
	return 0;
fail:
	tw_err("policy %s: %s (keeping version %llu)", d->cfg.policy_file, err, cur);
	if (errout)
		snprintf(errout, errlen, "policy %s: %s (keeping version %llu)", d->cfg.policy_file,
			 err, cur);
	return rc;
}

void tw_polsrc_cold_start(struct tw_daemon *d)
{
	char err[512] = "", *buf = NULL;
	size_t len = 0;

	if (!tw_polsrc_reload(d, NULL, 0))
		return;
	if (!d->cfg.policy_cache_path[0] || tw_read_file(d->cfg.policy_cache_path, &buf, &len))
		return;
	d->pol = tw_policy_parse(buf, len, err, sizeof(err));
	free(buf);
	if (!d->pol) {
		tw_err("policy cache %s: %s", d->cfg.policy_cache_path, err);
		return;
	}
	/* the cache's age is unknown: treat it as old so offline mode applies */
	d->pol_loaded = 0;
	d->pol_source = TW_POLSRC_CACHE;
	tw_warn("using cached policy version %llu", (unsigned long long)tw_policy_version(d->pol));
	push_profiles(d);
}

const char *tw_polsrc_name(const struct tw_daemon *d)
{
	switch (d->pol_source) {
	case TW_POLSRC_FILE:
		return "file";
	case TW_POLSRC_CACHE:
		return "cache";
	case TW_POLSRC_PORTAL:
		return "portal";
	case TW_POLSRC_NONE:
		break;
	}
	return "none";
}
