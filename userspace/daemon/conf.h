/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The configuration file: read at start, re-read on reload (SIGHUP or the
 * "reload" op). What can change under a running daemon is applied at once;
 * what was fixed at start (paths, node id, listeners, the uplink) keeps its
 * old value until a restart, with a warning naming the key.
 */
#ifndef TW_CONF_H
#define TW_CONF_H

#include <stdbool.h>
#include <stddef.h>

struct tw_daemon;

/* Read and parse d->cfg_path into d->cfg. Errors go to stderr (logging is not set up yet). */
int tw_conf_load(struct tw_daemon *d);
void tw_conf_free(struct tw_daemon *d);
/* Resolve [openvpn] hook_user / hook_group into d->hook_uid / d->hook_gid (logged). */
int tw_conf_resolve_hook_ids(struct tw_daemon *d);

/*
 * Re-read the configuration and apply what changed. 0 with *@changed set,
 * or -errno with nothing applied and @err holding the parser's message
 * (file and line).
 */
int tw_conf_reload(struct tw_daemon *d, bool *changed, char *err, size_t errlen);

#endif /* TW_CONF_H */
