// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "daemon.h"
#include "fileio.h"
#include "log.h"

int tw_conf_load(struct tw_daemon *d)
{
	char err[512] = "", *buf = NULL;
	size_t len = 0;
	int rc = tw_read_file(d->cfg_path, &buf, &len);

	if (rc) {
		fprintf(stderr, "tunwardend: %s: %s\n", d->cfg_path, strerror(-rc));
		return rc;
	}
	rc = tw_config_parse(buf, len, d->cfg_path, &d->cfg, err, sizeof(err));
	free(buf);
	if (rc)
		fprintf(stderr, "tunwardend: %s\n", err);
	return rc;
}

/* A user or group name, or a number; -ENOENT when neither. */
static int resolve_id(const char *name, bool group, unsigned int *id)
{
	struct passwd *pw = group ? NULL : getpwnam(name);
	struct group *gr = group ? getgrnam(name) : NULL;
	char *end;
	unsigned long n = strtoul(name, &end, 10);

	if (pw)
		*id = pw->pw_uid;
	else if (gr)
		*id = gr->gr_gid;
	else if (!*end)
		*id = (unsigned int)n;
	else
		return -ENOENT;
	return 0;
}

int tw_conf_resolve_hook_ids(struct tw_daemon *d)
{
	unsigned int id;

	d->hook_uid = (uid_t)-1;
	d->hook_gid = (gid_t)-1;
	if (d->cfg.hook_user[0]) {
		if (resolve_id(d->cfg.hook_user, false, &id)) {
			tw_err("%s: [openvpn] hook_user '%s': no such user", d->cfg_path,
			       d->cfg.hook_user);
			return -ENOENT;
		}
		d->hook_uid = (uid_t)id;
	}
	if (d->cfg.hook_group[0]) {
		if (resolve_id(d->cfg.hook_group, true, &id)) {
			tw_err("%s: [openvpn] hook_group '%s': no such group", d->cfg_path,
			       d->cfg.hook_group);
			return -ENOENT;
		}
		d->hook_gid = (gid_t)id;
	}
	return 0;
}
