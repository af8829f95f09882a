/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Tunnel interfaces: the dataplane programs are attached to every interface
 * matching an [interface] pattern, those present at start and those that come
 * up later (rtnetlink link events).
 */
#ifndef TW_LINKS_H
#define TW_LINKS_H

struct tw_daemon;

/* Subscribe to link events and register with the loop. -errno (logged by the caller). */
int tw_links_watch(struct tw_daemon *d);
/* Attach to the matching interfaces that exist now. */
void tw_links_attach_existing(struct tw_daemon *d);
/* Detach from @ifname (NULL or "all": every interface); returns how many. */
int tw_links_detach(struct tw_daemon *d, const char *ifname);
void tw_links_close(struct tw_daemon *d);

#endif /* TW_LINKS_H */
