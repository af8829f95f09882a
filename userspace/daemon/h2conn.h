/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The portal link's transport: one HTTP/2 client connection (nghttp2 1.52,
 * ssize_t API) over TLS (OpenSSL 3: TLS 1.3/1.2, ALPN h2, SNI, peer
 * verification, mTLS client certificate) or h2c with prior knowledge to a
 * loopback host. Non-blocking, served by the daemon's loop; it never blocks
 * and bounds what it buffers. It knows nothing of records or policy: the
 * streams (recstream.c, polstream.c) are callbacks on top of it.
 *
 * Lifetime: tw_h2_connect() starts a connection; on_up is called once it is
 * usable (TCP + TLS + the peer's SETTINGS, within connect_timeout), on_down
 * once when it fails or closes (after every open stream's on_close). The
 * owner frees it with tw_h2_free() from anywhere but its own callbacks
 * (defer it: the loop may still hold its events).
 */
#ifndef TW_H2CONN_H
#define TW_H2CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct tw_loop;
struct tw_h2conn;
struct tw_portal_cfg;

/* A request or response header. */
struct tw_h2hdr {
	const char *name; /* lowercase */
	const char *value;
};

/* What a response's HEADERS said. @hdrs valid only during the callback. */
struct tw_h2resp {
	int status; /* :status */
	const struct tw_h2hdr *hdrs;
	size_t nhdrs;
};
/* The value of @name in @r, or NULL. */
const char *tw_h2resp_header(const struct tw_h2resp *r, const char *name);

/* Returned by read_body when it has nothing now: call tw_h2_resume() later. */
#define TW_H2_DEFER (-2)

/* One request stream's callbacks; @ctx is the stream owner's. */
struct tw_h2stream_ops {
	/* The response's HEADERS (final, not 1xx). Return < 0 to reset the stream. */
	int (*on_headers)(void *ctx, const struct tw_h2resp *r);
	/* Response body bytes, already decoded if content-encoding was gzip.
	 * Return 0, or an HTTP/2 error code (> 0) to reset the stream with. */
	uint32_t (*on_data)(void *ctx, const uint8_t *buf, size_t len);
	/* Request body (NULL: a request without body, END_STREAM on HEADERS).
	 * Fill up to @len bytes; return their number (0 and *@eof = true to end
	 * the body), TW_H2_DEFER when there is nothing to send now, or -1 to
	 * reset the stream with INTERNAL_ERROR. */
	ssize_t (*read_body)(void *ctx, uint8_t *buf, size_t len, bool *eof);
	/* The stream is gone (after its last on_data): @h2_error is the
	 * RST_STREAM code (0: closed normally); @by_peer: the portal reset it.
	 * The stream id is invalid afterwards. */
	void (*on_close)(void *ctx, uint32_t h2_error, bool by_peer);
};

struct tw_h2conn_ops {
	void (*on_up)(void *ctx);
	/* @why: a line for logs and `tunwarden status` ("connect: Connection
	 * refused", "TLS: certificate verify failed", "GOAWAY NO_ERROR", "PING
	 * timeout"...). @graceful: a GOAWAY with NO_ERROR (reconnect at once);
	 * @tls_auth: a certificate failure (the slow schedule). */
	void (*on_down)(void *ctx, const char *why, bool graceful, bool tls_auth);
	/* A GOAWAY NO_ERROR arrived while streams are open: the owner opens a
	 * new connection and moves the streams (protocol.md 6.3). May be NULL. */
	void (*on_goaway)(void *ctx);
};

/*
 * Connect to @cfg->url (copied; @cfg is read now and not kept) for node
 * @node_id. @authz: "Bearer ..." or NULL, sent on every request. NULL with
 * errno and @err set on a configuration error (bad URL, unreadable
 * certificate or key): nothing to retry until the configuration changes.
 */
struct tw_h2conn *tw_h2_connect(struct tw_loop *l, const struct tw_portal_cfg *cfg,
				const char *authz, const struct tw_h2conn_ops *ops, void *ctx,
				char *err, size_t errlen);
void tw_h2_free(struct tw_h2conn *c);

/* Send GOAWAY NO_ERROR, flush what can be flushed, close. on_down follows. */
void tw_h2_shutdown(struct tw_h2conn *c);

/*
 * Open a stream: @method, @path (absolute, with query), extra headers
 * (:scheme and :authority and authorization are added). Returns the stream
 * id (> 0) or -errno. Request body gzip (@gzip_body): the transport adds
 * content-encoding: gzip and compresses what read_body returns with a
 * Z_SYNC_FLUSH after each chunk.
 */
int32_t tw_h2_request(struct tw_h2conn *c, const char *method, const char *path,
		      const struct tw_h2hdr *hdrs, size_t nhdrs, bool gzip_body,
		      const struct tw_h2stream_ops *ops, void *ctx);
/* read_body has data again. */
int tw_h2_resume(struct tw_h2conn *c, int32_t stream_id);
/* RST_STREAM with @h2_error (NGHTTP2_CANCEL, NGHTTP2_PROTOCOL_ERROR...). */
int tw_h2_reset(struct tw_h2conn *c, int32_t stream_id, uint32_t h2_error);

/* For `tunwarden status`: "h2" or "h2c", TLS version and cipher, peer. */
const char *tw_h2_describe(const struct tw_h2conn *c);

#endif /* TW_H2CONN_H */
