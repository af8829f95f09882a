/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The portal's HTTP/2 server (docs/protocol.md sections 2-3): listeners (TLS
 * with ALPN h2 and node client certificates; h2c prior knowledge on
 * loopback), one nghttp2 server session a connection inside the event loop,
 * identity checked on every request, and the two endpoints: the record
 * stream (ep_records.c) and the policy stream (ep_policy.c).
 */
#ifndef TW_PORTAL_SERVER_H
#define TW_PORTAL_SERVER_H

#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdint.h>

#include "loop.h"
#include "pconf.h"
#include "recstore.h"

struct tw_polstore;
struct tw_conn;
struct tw_rstream;
struct tw_pstream;
struct tw_sig_key;

#define TW_NODE_ID_MAX	64
#define TW_LINE_MAX	16384 /* a record line without its LF (protocol.md 2.6) */
#define TW_COMMIT_LINES 10000 /* or TW_COMMIT_MS: each commit is an fsync */
#define TW_COMMIT_MS	50
#define TW_KEEPALIVE_MS 15000

struct tw_server {
	struct tw_loop *loop;
	const struct tw_pconf *cfg;
	struct tw_recstore *rs;
	struct tw_polstore *ps; /* NULL: the policy endpoint answers 503 */
	SSL_CTX *ssl;
	struct tw_sig_key *sign_key; /* NULL: unsigned bundles */
	struct tw_watch lis_tls, lis_h2c, notify;
	struct tw_conn *conns;
	unsigned int nconns;
	struct tw_rstream *rstreams;
	struct tw_pstream *pstreams;
	struct tw_timer commit_timer;
	bool in_txn;
	unsigned int txn_lines;
	uint64_t policy_version; /* last seen by the 1 s re-check */
};

/* A request: headers collected, then dispatched to an endpoint. */
enum tw_ep { TW_EP_NONE, TW_EP_RECORDS, TW_EP_POLICY, TW_EP_STATIC };

struct tw_stream {
	struct tw_stream *next, **pprev; /* the connection's streams */
	struct tw_conn *c;
	struct tw_server *srv;
	int32_t id;
	enum tw_ep ep;
	bool bad_header; /* a header too long for its buffer: 431 */
	bool ended; /* the client ended its side */
	char method[8];
	char path[512];
	char content_type[128];
	char content_encoding[32];
	char accept_encoding[128];
	char log_id[40];
	char content_length[24]; /* set: a finite POST (4.8) */
	char acked_seq[24];
	char user_agent[128];
	char auth[4200];
	char node[TW_NODE_ID_MAX];
	/* TW_EP_STATIC: a short response body */
	char *body;
	size_t body_len, body_off;
	struct tw_rstream *rec;
	struct tw_pstream *pol;
};

uint64_t tw_now_ms(void);

int tw_server_init(struct tw_server *s, struct tw_loop *l, const struct tw_pconf *cfg,
		   struct tw_recstore *rs, struct tw_polstore *ps, char *err, size_t errlen);
void tw_server_fini(struct tw_server *s);

/* Queue a response with a JSON error body {"error":code,"message":msg}. */
int tw_stream_error(struct tw_stream *st, int status, const char *code, const char *msg);
int tw_stream_resume(struct tw_stream *st);
void tw_stream_reset(struct tw_stream *st, uint32_t code);
/* Submit response headers; the body comes from the endpoint's read function. */
int tw_stream_respond(struct tw_stream *st, const nghttp2_nv *nv, size_t nnv);

/* The record store transaction the server batches puts into. */
int tw_server_txn_begin(struct tw_server *s);
/* Commit now and send every stream its ack; -errno (the streams got "unavailable"). */
int tw_server_commit(struct tw_server *s);

/* Endpoints (ep_records.c, ep_policy.c). */
void tw_records_start(struct tw_stream *st);
int tw_records_data(struct tw_stream *st, const uint8_t *data, size_t len);
void tw_records_end(struct tw_stream *st);
ssize_t tw_records_read(struct tw_stream *st, uint8_t *buf, size_t len, uint32_t *flags);
void tw_records_close(struct tw_stream *st);
void tw_records_committed(struct tw_server *s, int err);
void tw_records_tick(struct tw_server *s, uint64_t now);

void tw_policy_start(struct tw_stream *st, const char *query);
ssize_t tw_policy_read(struct tw_stream *st, uint8_t *buf, size_t len, uint32_t *flags);
void tw_policy_close(struct tw_stream *st);
void tw_policy_changed(struct tw_server *s);
void tw_policy_tick(struct tw_server *s, uint64_t now);

#endif /* TW_PORTAL_SERVER_H */
