/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A VPN stack seen from the daemon. An adapter turns the stack's own events
 * (OpenVPN's hook environment today; WireGuard handshakes, strongSwan updown
 * later) into generic connect/disconnect requests (struct tw_conn_req) for
 * admission.c, and offers what admission needs back: end a session, program
 * a peer. Nothing outside the adapter's file knows the stack's variable
 * names or protocols. A new stack is a new file and one line in adapter.c.
 */
#ifndef TW_ADAPTER_H
#define TW_ADAPTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <jansson.h>

#include "admission.h"

struct tw_daemon;
struct tw_session;

struct tw_adapter {
	const char *name; /* the "vpn" member of hook requests: "openvpn" */
	enum tw_subject_kind kind; /* the subjects it speaks for */
	const char *tun_addr_names; /* for messages: where the tunnel addresses come from */

	/*
	 * A hook request ({"op":"connect"|"disconnect","vpn":...,...}) into @out.
	 * 0, or -EINVAL with @err saying what is missing or wrong.
	 */
	int (*request)(const json_t *req, bool connect, struct tw_conn_req *out, char *err,
		       size_t errlen);
	/* Make the stack carry @s (e.g. add a WireGuard peer); NULL when the stack
	 * does so itself (OpenVPN, told by the hook's answer). 0 or -errno. */
	int (*program_peer)(struct tw_daemon *d, const struct tw_session *s);
	/* @s is admitted and journaled; NULL: nothing to do. */
	void (*session_started)(struct tw_daemon *d, const struct tw_session *s);
	/* @s is over (any cause); NULL: nothing to do. */
	void (*session_ended)(struct tw_daemon *d, const struct tw_session *s, uint32_t cause);
	/* End @s at the stack; @halt: the client must not come back. Must not
	 * block: queue and deliver from the loop. */
	void (*kill)(struct tw_daemon *d, const struct tw_session *s, bool halt);
	/* The stack hands out tunnel addresses from a pool and never gives a live
	 * client's address to another on the same interface: a connect with an
	 * address a session on that interface holds means that session is gone. */
	bool reclaims_addresses;

	/* Optional, once the loop runs / at stop: e.g. check re-adopted sessions. */
	int (*open)(struct tw_daemon *d);
	void (*close)(struct tw_daemon *d);
	/* For `status` (a JSON object) and the metrics endpoint. */
	json_t *(*status)(struct tw_daemon *d);
	void (*metrics)(struct tw_daemon *d, FILE *f);
};

extern const struct tw_adapter tw_openvpn_adapter;

/* Every adapter's open (logged when one fails; 0 or the first error) and close. */
int tw_adapters_open(struct tw_daemon *d);
void tw_adapters_close(struct tw_daemon *d);
/* {"openvpn": {...}, ...}: what each adapter reports; NULL when none does. */
json_t *tw_adapters_status(struct tw_daemon *d);
void tw_adapters_metrics(struct tw_daemon *d, FILE *f);

/* The adapter of hook requests naming @name (NULL: OpenVPN, the first); NULL if none. */
const struct tw_adapter *tw_adapter_by_name(const char *name);
/* The adapter whose sessions carry subjects of @kind; NULL if none. */
const struct tw_adapter *tw_adapter_by_kind(enum tw_subject_kind kind);

#endif /* TW_ADAPTER_H */
