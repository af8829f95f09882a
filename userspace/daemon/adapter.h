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
	/* End @s at the stack; @halt: the client must not come back. */
	void (*kill)(struct tw_daemon *d, const struct tw_session *s, bool halt);
};

extern const struct tw_adapter tw_openvpn_adapter;

/* The adapter of hook requests naming @name (NULL: OpenVPN, the first); NULL if none. */
const struct tw_adapter *tw_adapter_by_name(const char *name);
/* The adapter whose sessions carry subjects of @kind; NULL if none. */
const struct tw_adapter *tw_adapter_by_kind(enum tw_subject_kind kind);

#endif /* TW_ADAPTER_H */
