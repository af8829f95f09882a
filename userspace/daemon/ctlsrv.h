/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The control socket (docs/ctl-protocol.md): any local user may connect
 * (the hook runs as OpenVPN's user); each request is checked against the
 * peer's credentials and dispatched through the op table (ops.c).
 */
#ifndef TW_CTLSRV_H
#define TW_CTLSRV_H

#include <stdbool.h>
#include <sys/types.h>
#include <jansson.h>

struct tw_daemon;

/* Who sent a request: SO_PEERCRED of its connection. */
struct tw_ctl_peer {
	uid_t uid;
	gid_t gid;
	pid_t pid; /* for the logs */
};

/* Listen on [node] socket and register with the loop. -errno. */
int tw_ctlsrv_open(struct tw_daemon *d);
void tw_ctlsrv_close(struct tw_daemon *d);

/* ops.c: true when @peer is the configured hook_user or hook_group (root aside). */
bool tw_ops_hook_identity(const struct tw_daemon *d, const struct tw_ctl_peer *peer);

/* ops.c: the response to @req from @peer; NULL only when out of memory. */
json_t *tw_ops_dispatch(struct tw_daemon *d, const struct tw_ctl_peer *peer, json_t *req);

#endif /* TW_CTLSRV_H */
