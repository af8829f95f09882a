/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Host name resolution that never blocks the caller. getaddrinfo(3) waits
 * for the resolver's timeouts (5 s a try by default, more with a hostile or
 * dead name server); in the daemon's event loop that would stall every
 * client. glibc's getaddrinfo_a(3) runs the lookup in its own helper thread
 * and the caller polls from a timer.
 */
#ifndef TW_RESOLVE_H
#define TW_RESOLVE_H

#include <netdb.h>

struct tw_resolve;

/*
 * Start resolving @host:@port for a TCP connection. NULL with *@gai_err an
 * EAI_* code when the request cannot even be queued.
 */
struct tw_resolve *tw_resolve_start(const char *host, const char *port, int *gai_err);

/*
 * EAI_INPROGRESS while the lookup runs; 0 with *@ai set (the caller owns it:
 * freeaddrinfo) and @r freed; another EAI_* code (gai_strerror) with @r freed.
 */
int tw_resolve_poll(struct tw_resolve *r, struct addrinfo **ai);

/*
 * Give up on @r. A lookup glibc has already started cannot be cancelled: it is
 * kept aside and freed by a later call of this module once it is done.
 */
void tw_resolve_drop(struct tw_resolve *r);

/* Requests given up but still running (for tests). */
unsigned int tw_resolve_parked(void);

#endif /* TW_RESOLVE_H */
