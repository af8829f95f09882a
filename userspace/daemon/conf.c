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
#include "portal.h"

/* Read and parse @path; on success *@text is the file as read (the caller frees it). */
static int conf_read(const char *path, struct tw_config *out, char **text, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	int rc = tw_read_file(path, &buf, &len);

	if (rc) {
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	rc = tw_config_parse(buf, len, path, out, err, errlen);
	if (rc) {
		free(buf);
		return rc;
	}
	*text = buf;
	return 0;
}

int tw_conf_load(struct tw_daemon *d)
{
	char err[512] = "";
	int rc = conf_read(d->cfg_path, &d->cfg, &d->cfg_text, err, sizeof(err));

	if (rc)
		fprintf(stderr, "tunwardend: %s\n", err);
	return rc;
}

void tw_conf_free(struct tw_daemon *d)
{
	free(d->cfg_text);
	d->cfg_text = NULL;
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

/*
 * Keys fixed at start: the objects they shaped (journal, session table,
 * pinned maps, listening sockets, the uplink program, the tunnel programs'
 * header offset) are not rebuilt under live sessions.
 */
#define FIXED(field, key)                                                                      \
	do {                                                                                   \
		if (memcmp(&nc->field, &oc->field, sizeof(oc->field))) {                       \
			tw_warn("%s: %s changed: takes effect at the next start", d->cfg_path, \
				key);                                                          \
			memcpy(&nc->field, &oc->field, sizeof(oc->field));                     \
		}                                                                              \
	} while (0)

static void keep_fixed(struct tw_daemon *d, struct tw_config *nc)
{
	const struct tw_config *oc = &d->cfg;
	uint32_t old_off = oc->nifaces ? oc->ifaces[0].l3_off : 0;
	uint32_t new_off = nc->nifaces ? nc->ifaces[0].l3_off : 0;

	FIXED(node_id, "[node] id");
	FIXED(state_dir, "[node] state_dir");
	FIXED(run_dir, "[node] run_dir");
	FIXED(pin_root, "[node] pin_root");
	FIXED(journal_path, "[node] journal");
	FIXED(socket_path, "[node] socket");
	FIXED(journal_max_bytes, "[accounting] journal_max_size");
	FIXED(uplink, "[uplink] interface");
	if (nc->nvports != oc->nvports ||
	    memcmp(nc->vports, oc->vports, nc->nvports * sizeof(nc->vports[0])))
		tw_warn("%s: [uplink] vpn_port changed: takes effect at the next start",
			d->cfg_path);
	memcpy(nc->vports, oc->vports, sizeof(nc->vports));
	nc->nvports = oc->nvports;
	FIXED(ucfg, "[uplink] handshake_rate/handshake_burst");
	/* portal or policy file: the policy source is chosen at start */
	if (!nc->portal.url[0] != !oc->portal.url[0]) {
		tw_warn("%s: [portal] url %s: takes effect at the next start", d->cfg_path,
			nc->portal.url[0] ? "set" : "removed");
		memcpy(&nc->portal, &oc->portal, sizeof(oc->portal));
	}
	/* by the socket address, not its spelling: localhost:9310 is
	 * 127.0.0.1:9310 */
	if (nc->metrics_enabled != oc->metrics_enabled ||
	    (nc->metrics_enabled &&
	     (nc->metrics_family != oc->metrics_family || nc->metrics_port != oc->metrics_port ||
	      memcmp(nc->metrics_addr, oc->metrics_addr, sizeof(nc->metrics_addr)))))
		tw_warn("%s: [metrics] listen changed: takes effect at the next start",
			d->cfg_path);
	nc->metrics_enabled = oc->metrics_enabled;
	memcpy(nc->metrics_listen, oc->metrics_listen, sizeof(nc->metrics_listen));
	nc->metrics_family = oc->metrics_family;
	memcpy(nc->metrics_addr, oc->metrics_addr, sizeof(nc->metrics_addr));
	nc->metrics_port = oc->metrics_port;
	if (old_off != new_off)
		tw_warn("%s: the first [interface]'s header offset changed: takes effect at the "
			"next start",
			d->cfg_path);
}

int tw_conf_reload(struct tw_daemon *d, bool *changed, char *err, size_t errlen)
{
	struct tw_config *nc = malloc(sizeof(*nc));
	uid_t uid = d->hook_uid;
	gid_t gid = d->hook_gid;
	char *text = NULL;
	bool portal_changed;
	int rc;

	*changed = false;
	if (!nc)
		return -ENOMEM;
	rc = conf_read(d->cfg_path, nc, &text, err, errlen);
	if (rc) {
		tw_err("reload: %s (configuration unchanged)", err);
		free(nc);
		return rc;
	}
	if (d->cfg_text && !strcmp(text, d->cfg_text)) {
		free(text);
		free(nc);
		/* the token file may have been rotated under the same configuration */
		tw_portal_reconfigure(d, false);
		return 0;
	}
	*changed = true;
	keep_fixed(d, nc);
	portal_changed = memcmp(&nc->portal, &d->cfg.portal, sizeof(nc->portal)) != 0;
	d->cfg = *nc;
	free(nc);
	free(d->cfg_text);
	d->cfg_text = text;
	if (tw_conf_resolve_hook_ids(d)) {
		/* the old identities stay rather than locking the hook out */
		d->hook_uid = uid;
		d->hook_gid = gid;
	}
	tw_log_set_level(d->cfg.log_level);
	tw_info("configuration %s reloaded", d->cfg_path);
	tw_portal_reconfigure(d, portal_changed);
	return 0;
}
