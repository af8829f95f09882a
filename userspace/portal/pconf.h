/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The portal's configuration file (examples/portal.conf, docs/portal.md):
 * ini like the node's, parsed by a pure function over a buffer so errors name
 * file:line and the offending key or value.
 */
#ifndef TW_PCONF_H
#define TW_PCONF_H

#include <stddef.h>
#include <stdint.h>

#define TW_PCONF_PATH 4096

struct tw_pconf {
	char listen[128]; /* TLS "addr:port" ("" : none) */
	char listen_h2c[128]; /* h2c prior knowledge, loopback only ("" : none) */
	char cert[TW_PCONF_PATH], key[TW_PCONF_PATH]; /* the portal's server certificate */
	char client_ca[TW_PCONF_PATH]; /* CA for node certificates ("": tokens only) */
	uint32_t max_connections;
	uint64_t handshake_timeout_ms; /* TCP accept to HTTP/2 preface done */
	uint64_t idle_timeout_ms; /* a connection with no open stream */
	char database[TW_PCONF_PATH]; /* records and nodes (SQLite) */
	char policy_database[TW_PCONF_PATH]; /* the policy store (polstore.h) */
	char signing_key[TW_PCONF_PATH]; /* Ed25519 PEM: sign policy bundles ("": unsigned) */
	char log_level[16];
};

void tw_pconf_defaults(struct tw_pconf *c);
/* 0, or -EINVAL with "FILE:LINE: what" in @err. */
int tw_pconf_parse(const char *buf, size_t len, const char *fname, struct tw_pconf *c, char *err,
		   size_t errlen);
/* Read and parse @path. */
int tw_pconf_load(const char *path, struct tw_pconf *c, char *err, size_t errlen);

#endif /* TW_PCONF_H */
