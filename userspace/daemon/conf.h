/* SPDX-License-Identifier: GPL-2.0-only */
/* The configuration file, read at start, and the identities it names. */
#ifndef TW_CONF_H
#define TW_CONF_H

struct tw_daemon;

/* Read and parse d->cfg_path into d->cfg. Errors go to stderr (logging is not set up yet). */
int tw_conf_load(struct tw_daemon *d);
/* Resolve [openvpn] hook_user / hook_group into d->hook_uid / d->hook_gid (logged). */
int tw_conf_resolve_hook_ids(struct tw_daemon *d);

#endif /* TW_CONF_H */
