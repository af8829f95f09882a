// SPDX-License-Identifier: GPL-2.0-only
/* Non-blocking host name resolution: see resolve.h. */
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "resolve.h"

struct tw_resolve {
	struct tw_resolve *next; /* on the parked list */
	struct gaicb cb; /* glibc reads cb's strings and hints until it is done */
	struct addrinfo hints;
	char host[256], port[8];
};

/* Given up but still owned by glibc's helper thread. Only the thread that
 * runs the event loop calls this module, so no lock is needed. */
static struct tw_resolve *parked;

static void finish(struct tw_resolve *r)
{
	if (r->cb.ar_result)
		freeaddrinfo(r->cb.ar_result);
	free(r);
}

/* Free the parked requests glibc has finished with. */
static void sweep(void)
{
	struct tw_resolve **pp = &parked, *r;

	while ((r = *pp)) {
		if (gai_error(&r->cb) == EAI_INPROGRESS) {
			pp = &r->next;
			continue;
		}
		*pp = r->next;
		finish(r);
	}
}

struct tw_resolve *tw_resolve_start(const char *host, const char *port, int *gai_err)
{
	struct tw_resolve *r;
	struct gaicb *list[1];
	int e;

	sweep();
	if (strlen(host) >= sizeof(r->host) || strlen(port) >= sizeof(r->port)) {
		*gai_err = EAI_NONAME;
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		*gai_err = EAI_MEMORY;
		return NULL;
	}
	strcpy(r->host, host);
	strcpy(r->port, port);
	r->hints.ai_family = AF_UNSPEC;
	r->hints.ai_socktype = SOCK_STREAM;
	r->cb.ar_name = r->host;
	r->cb.ar_service = r->port;
	r->cb.ar_request = &r->hints;
	list[0] = &r->cb;
	e = getaddrinfo_a(GAI_NOWAIT, list, 1, NULL);
	if (e) {
		*gai_err = e;
		free(r);
		return NULL;
	}
	return r;
}

int tw_resolve_poll(struct tw_resolve *r, struct addrinfo **ai)
{
	int e = gai_error(&r->cb);

	if (e == EAI_INPROGRESS)
		return e;
	*ai = e ? NULL : r->cb.ar_result;
	r->cb.ar_result = NULL;
	finish(r);
	return e;
}

void tw_resolve_drop(struct tw_resolve *r)
{
	if (!r)
		return;
	/* EAI_CANCELED: never started; EAI_ALLDONE: finished; else running */
	if (gai_cancel(&r->cb) != EAI_NOTCANCELED && gai_error(&r->cb) != EAI_INPROGRESS) {
		finish(r);
		return;
	}
	r->next = parked;
	parked = r;
	sweep();
}

unsigned int tw_resolve_parked(void)
{
	unsigned int n = 0;

	sweep();
	for (struct tw_resolve *r = parked; r; r = r->next)
		n++;
	return n;
}
