// SPDX-License-Identifier: GPL-2.0-only
/*
 * The policy's sources and the one install path they share. The cache on
 * disk holds what a cold start needs: the policy file's bytes, or with a
 * portal its last snapshot line followed by the deltas applied since, one
 * line each (there is no serialiser of a policy; replaying a few deltas at
 * a cold start is cheap, and the next snapshot rewrites the file).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/uio.h>

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

/* d->pol changed: dataplane, live sessions, admitted flows. */
static void policy_took_effect(struct tw_daemon *d, enum tw_policy_source src, bool profiles)
{
	struct tw_policy *np = d->pol;
	int n;

	d->pol_loaded = time(NULL);
	d->pol_source = src;
	tw_info("policy version %llu from the %s: %zu subjects, %zu profiles",
		(unsigned long long)tw_policy_version(np), tw_polsrc_name(d),
		tw_policy_nsubjects(np), tw_policy_nprofiles(np));
	if (profiles)
		push_profiles(d);
	if (src == TW_POLSRC_PORTAL)
		tw_adm_portal_spoke(d);
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

/* @np replaces the policy in force. */
static void policy_install(struct tw_daemon *d, struct tw_policy *np, enum tw_policy_source src)
{
	tw_policy_free(d->pol);
	d->pol = np;
	policy_took_effect(d, src, true);
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

	if (d->cfg.portal.url[0]) {
		/* protocol.md 10: with a portal, the policy file is not read */
		tw_info("policy comes from the portal ([portal] url); %s not read",
			d->cfg.policy_file[0] ? d->cfg.policy_file : "no policy file");
		return 0;
	}
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
	policy_install(d, np, TW_POLSRC_FILE);
	return 0;
fail:
	tw_err("policy %s: %s (keeping version %llu)", d->cfg.policy_file, err, cur);
	if (errout)
		snprintf(errout, errlen, "policy %s: %s (keeping version %llu)", d->cfg.policy_file,
			 err, cur);
	return rc;
}

/*
 * A portal's cache: the snapshot line, then delta lines. A line that does not
 * apply (a write cut short by a crash) ends the replay: the portal sends the
 * rest.
 */
static struct tw_policy *parse_cache_lines(const char *path, char *buf, size_t len,
					   uint32_t *ndeltas)
{
	char err[512] = "", *nl = memchr(buf, '\n', len), *p, *end = buf + len;
	struct tw_policy *pol;
	size_t n = 0;

	if (!nl)
		return NULL;
	pol = tw_policy_parse(buf, (size_t)(nl - buf), err, sizeof(err));
	if (!pol)
		return NULL;
	for (p = nl + 1; p < end; p = nl + 1, n++) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			nl = end;
		if (nl == p)
			continue;
		if (tw_policy_apply_delta(pol, p, (size_t)(nl - p), err, sizeof(err))) {
			tw_warn("policy cache %s: delta line %zu: %s (using version %llu)", path,
				n + 1, err, (unsigned long long)tw_policy_version(pol));
			break;
		}
		++*ndeltas;
	}
	return pol;
}

void tw_polsrc_cold_start(struct tw_daemon *d)
{
	char err[512] = "", *buf = NULL;
	size_t len = 0;

	if (!d->cfg.portal.url[0] && !tw_polsrc_reload(d, NULL, 0))
		return;
	if (!d->cfg.policy_cache_path[0] || tw_read_file(d->cfg.policy_cache_path, &buf, &len))
		return;
	d->pol = tw_policy_parse(buf, len, err, sizeof(err));
	if (!d->pol)
		d->pol =
			parse_cache_lines(d->cfg.policy_cache_path, buf, len, &d->pol_cache_deltas);
	free(buf);
	if (!d->pol) {
		tw_err("policy cache %s: %s", d->cfg.policy_cache_path, err);
		return;
	}
	/* the cache's age is unknown: treat it as old so offline mode applies until the
	 * portal confirms it (protocol.md 8) */
	d->pol_loaded = 0;
	d->pol_source = TW_POLSRC_CACHE;
	tw_warn("using cached policy version %llu", (unsigned long long)tw_policy_version(d->pol));
	push_profiles(d);
}

void tw_polsrc_portal_snapshot(struct tw_daemon *d, struct tw_policy *np, const char *line,
			       size_t len)
{
	/* the cache first: if the daemon dies now, a cold start has this version */
	tw_polsrc_portal_recache(d, line, len);
	policy_install(d, np, TW_POLSRC_PORTAL);
}

void tw_polsrc_portal_recache(struct tw_daemon *d, const char *line, size_t len)
{
	const char *path = d->cfg.policy_cache_path;
	int err;

	if (!path[0])
		return;
	err = tw_write_atomic(path, line, len);
	if (err)
		tw_warn("policy cache %s: cannot write: %s", path, strerror(-err));
	else
		d->pol_cache_deltas = 0;
}

/* One more line at the end of the cache, synced; cut back on a short write. */
static int cache_append(const char *path, const char *line, size_t len)
{
	struct iovec iov[2] = { { (void *)"\n", 1 }, { (void *)line, len } };
	int fd = open(path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC), err = 0;
	off_t was;
	ssize_t n;

	if (fd < 0)
		return -errno;
	was = lseek(fd, 0, SEEK_END);
	n = writev(fd, iov, 2);
	if (n < 0)
		err = -errno;
	else if ((size_t)n != len + 1)
		err = -EIO;
	if (!err && fsync(fd))
		err = -errno;
	if (err && was >= 0 && ftruncate(fd, was))
		err = -EIO;
	close(fd);
	return err;
}

void tw_polsrc_portal_delta(struct tw_daemon *d, const char *line, size_t len, bool profiles)
{
	const char *path = d->cfg.policy_cache_path;
	int err;

	if (path[0]) {
		err = cache_append(path, line, len);
		if (!err)
			d->pol_cache_deltas++;
		else /* a cold start would then use an older version, and the portal resends */
			tw_warn("policy cache %s: cannot append the delta to %llu: %s", path,
				(unsigned long long)tw_policy_version(d->pol), strerror(-err));
	}
	/* a delta without profile changes leaves every allowlist as it is */
	policy_took_effect(d, TW_POLSRC_PORTAL, profiles);
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
