/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * OpenVPN's management interface ([openvpn] management sockets), spoken
 * without ever blocking the loop. OpenVPN serves one management client at a
 * time, so another tool may hold the socket for minutes: commands are queued
 * per server and delivered in rounds (connect, `>INFO:` banner, `status 3`,
 * `client-kill` for each client found, `quit`); a round that is refused, cut
 * or unanswered before its deadline is retried with backoff (0.5 s doubling
 * to 30 s) until the queue is empty. Kills are idempotent: a client no
 * longer listed counts as ended.
 */
#ifndef TW_MGMT_H
#define TW_MGMT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <jansson.h>

#include "config.h"
#include "record.h"
#include "tw_addr.h"

struct tw_loop;
struct tw_mgmt;

/* One CLIENT_LIST line of `status 3`. */
struct tw_mgmt_client {
	char cn[TW_REC_SUBJECT_MAX];
	struct tw_addr real, virt4, virt6; /* family 0: column empty or unparsable */
	uint16_t real_port;
	long cid; /* -1: the server does not say */
};

/* A server's client list, line by line, then @done once it ended with END. */
struct tw_mgmt_list_ops {
	void (*client)(void *ctx, unsigned int server, const struct tw_mgmt_client *c);
	void (*done)(void *ctx, unsigned int server);
	void *ctx;
};

/* Clients of the sockets @paths (@n of them). NULL with errno. */
struct tw_mgmt *tw_mgmt_new(struct tw_loop *loop, const char (*paths)[TW_CFG_SUN_PATH_MAX],
			    unsigned int n);
void tw_mgmt_free(struct tw_mgmt *m);
/*
 * @m for the sockets @paths (a reload changed them): the same @m when they
 * did not change, else a new one that carries over the queues of the
 * sockets that stay (@m is freed). On failure @m stays as it was.
 */
struct tw_mgmt *tw_mgmt_update(struct tw_mgmt *m, struct tw_loop *loop,
			       const char (*paths)[TW_CFG_SUN_PATH_MAX], unsigned int n);
unsigned int tw_mgmt_nservers(const struct tw_mgmt *m);

/*
 * End the client @cn whose real address is @real:@port (family 0: any
 * address) on every server that lists it: `client-kill CID HALT` (@halt) or
 * `RESTART`. Returns at once; delivered as soon as each server lets us in.
 */
void tw_mgmt_kill(struct tw_mgmt *m, const char *cn, const struct tw_addr *real, uint16_t port,
		  bool halt);

/* Ask every server for its client list; @ops is called as each answers. */
void tw_mgmt_list(struct tw_mgmt *m, const struct tw_mgmt_list_ops *ops);

/* Per server: state, pending commands, oldest age, last error. */
json_t *tw_mgmt_status_json(const struct tw_mgmt *m);
/* The same as Prometheus gauges and counters. */
void tw_mgmt_metrics(const struct tw_mgmt *m, FILE *f);

#endif /* TW_MGMT_H */
