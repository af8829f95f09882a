/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Tunnel interfaces: the dataplane programs are attached to every interface
 * matching an [interface] pattern, those present at start and those that come
 * up later (rtnetlink link events), except the ones an operator detached.
 *
 * A detach is an operator's decision and lasts: the names are kept in
 * <state_dir>/detached (replaced atomically), survive a daemon restart, and
 * no link event re-attaches them; only an attach lifts it.
 */
#ifndef TW_LINKS_H
#define TW_LINKS_H

#include <stddef.h>
#include <stdio.h>
#include <jansson.h>

struct tw_daemon;

/* Subscribe to link events and register with the loop. -errno (logged by the caller). */
int tw_links_watch(struct tw_daemon *d);
/* Attach to the matching interfaces that exist now, save those detached by an operator. */
void tw_links_attach_existing(struct tw_daemon *d);

/*
 * Detach from @ifname (NULL: every tunnel interface present) and remember it.
 * Returns a JSON array of the names detached, or NULL with @err set (not a
 * tunnel interface, the state file cannot be written, out of memory).
 */
json_t *tw_links_detach(struct tw_daemon *d, const char *ifname, char *err, size_t errlen);
/*
 * Lift the operator's detach of @ifname (NULL: of every interface) and attach
 * the present ones. Returns the names attached, or NULL with @err set (an
 * attach failed: its reason; the state file cannot be written).
 */
json_t *tw_links_attach(struct tw_daemon *d, const char *ifname, char *err, size_t errlen);

/* Every known tunnel and its attach state, for `status` (docs/ctl-protocol.md). */
json_t *tw_links_json(struct tw_daemon *d);
/* Names of the tunnels detached by an operator, or NULL when there are none. */
json_t *tw_links_detached(struct tw_daemon *d);
/* Prometheus lines: tunwarden_tunnel_attached and the tun queue's tx_dropped. */
void tw_links_metrics(struct tw_daemon *d, FILE *f);

void tw_links_close(struct tw_daemon *d);

#endif /* TW_LINKS_H */
