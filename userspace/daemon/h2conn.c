// SPDX-License-Identifier: GPL-2.0-only
/*
 * The portal link's HTTP/2 client: see h2conn.h. nghttp2 does the framing
 * in memory (mem_recv/mem_send); this file moves its bytes through a
 * non-blocking socket, directly (h2c) or through OpenSSL. Every entry point
 * (the socket, the timers, the public calls) ends in settle(), which tears
 * the connection down if something failed on the way: callbacks never free
 * what the code that called them still uses.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <zlib.h>

#include "config.h"
#include "h2conn.h"
#include "log.h"
#include "loop.h"
#include "resolve.h"

#define READ_CHUNK	   16384
#define READS_PER_EVENT	   64 /* then yield to the loop: a fast peer cannot starve it */
#define MAX_RESP_HDRS	   32
#define MAX_RESP_HDR_BYTES 16384
#define CONN_WINDOW	   (16 << 20)
#define STREAM_WINDOW	   (1 << 20)
#define ZOUT_MAX	   (64 << 10)

enum cstate { C_RESOLVING, C_CONNECTING, C_TLS, C_SETTINGS, C_UP, C_DOWN };

/* How often a running name lookup is polled. */
#define DNS_POLL_MS 5

struct h2s {
	struct h2s *next;
	struct tw_h2conn *c;
	int32_t id;
	const struct tw_h2stream_ops *ops;
	void *ctx;
	bool reset_by_us, headers_done, inflating, body_eof;
	/* response headers, until the final HEADERS */
	char *hbuf;
	size_t hlen;
	struct tw_h2hdr hdrs[MAX_RESP_HDRS];
	size_t nhdrs;
	int status;
	/* gzip: request body deflater and its pending output; response inflater */
	bool gzip;
	z_stream def, inf;
	uint8_t *zout;
	size_t zoff, zlen;
};

struct tw_h2conn {
	struct tw_loop *loop;
	const struct tw_h2conn_ops *ops;
	void *ctx;
	struct tw_watch w;
	struct tw_timer t_conn, t_ping, t_pack, t_dns;
	struct tw_resolve *dns; /* while C_RESOLVING */
	enum cstate st;
	int fd;
	bool tls, watching, want_out, goaway, failed, graceful, tls_auth, pinging, wr_wants_read;
	int depth;
	SSL_CTX *sctx;
	SSL *ssl;
	nghttp2_session *h2;
	const uint8_t *pend; /* from nghttp2_session_mem_send, valid until the next call */
	size_t pendlen;
	struct h2s *streams;
	uint64_t keepalive_ms, keepalive_timeout_ms;
	struct timespec last_rx;
	char host[256], authority[300], authz[4200], why[512], desc[400];
	char server_name[256];
	uint16_t port;
};

/* ---- teardown ---- */

static void fail(struct tw_h2conn *c, bool graceful, bool tls_auth, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void fail(struct tw_h2conn *c, bool graceful, bool tls_auth, const char *fmt, ...)
{
	va_list ap;

	if (c->failed || c->st == C_DOWN)
		return;
	c->failed = true;
	c->graceful = graceful;
	c->tls_auth = tls_auth;
	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
}

static void stream_free(struct h2s *s)
{
	if (s->gzip)
		deflateEnd(&s->def);
	if (s->inflating)
		inflateEnd(&s->inf);
	free(s->zout);
	free(s->hbuf);
	free(s);
}

static void unlink_stream(struct tw_h2conn *c, struct h2s *s)
{
	struct h2s **pp;

	for (pp = &c->streams; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			return;
		}
	}
}

static void teardown(struct tw_h2conn *c)
{
	struct h2s *s;

	c->st = C_DOWN;
	tw_resolve_drop(c->dns);
	c->dns = NULL;
	tw_timer_arm_ms(&c->t_dns, 0);
	tw_timer_arm_ms(&c->t_conn, 0);
	tw_timer_arm_ms(&c->t_ping, 0);
	tw_timer_arm_ms(&c->t_pack, 0);
	while ((s = c->streams)) {
		c->streams = s->next;
		if (s->ops->on_close)
			s->ops->on_close(s->ctx, NGHTTP2_INTERNAL_ERROR, false);
		stream_free(s);
	}
	if (c->h2) {
		nghttp2_session_del(c->h2);
		c->h2 = NULL;
	}
	if (c->ssl) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->watching) {
		tw_loop_del(c->loop, &c->w);
		c->watching = false;
	}
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
	c->ops->on_down(c->ctx, c->why, c->graceful, c->tls_auth);
}

/* The end of every entry point: tear down what failed, once nothing of
 * ours is on the stack. */
static void settle(struct tw_h2conn *c)
{
	if (c->depth == 0 && c->failed && c->st != C_DOWN)
		teardown(c);
}

/* ---- socket I/O ---- */

static void watch_out(struct tw_h2conn *c, bool out)
{
	if (c->watching && out != c->want_out) {
		c->want_out = out;
		tw_loop_mod(c->loop, &c->w, true, out);
	}
}

/* Write @len bytes: the number written, 0 when the socket is full, -1 on error (failed). */
static ssize_t raw_write(struct tw_h2conn *c, const uint8_t *buf, size_t len)
{
	ssize_t n;

	if (!c->tls) {
		n = send(c->fd, buf, len, MSG_NOSIGNAL);
		if (n >= 0)
			return n;
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		fail(c, false, false, "send: %s", strerror(errno));
		return -1;
	}
	ERR_clear_error();
	n = SSL_write(c->ssl, buf, (int)len);
	if (n > 0)
		return n;
	switch (SSL_get_error(c->ssl, (int)n)) {
	case SSL_ERROR_WANT_READ:
		/* wait for the socket to be readable, not writable: EPOLLOUT
		 * would fire at once and spin */
		c->wr_wants_read = true;
		return 0;
	case SSL_ERROR_WANT_WRITE:
		return 0;
	default:
		fail(c, false, false, "TLS write: %s",
		     ERR_peek_error() ? ERR_reason_error_string(ERR_peek_error()) :
					strerror(errno));
		return -1;
	}
}

/* Hand nghttp2's output to the socket until it has none or the socket is full. */
static void flush_out(struct tw_h2conn *c)
{
	ssize_t n;

	if (c->st < C_SETTINGS || c->failed)
		return;
	for (;;) {
		if (!c->pendlen) {
			n = nghttp2_session_mem_send(c->h2, &c->pend);
			if (n < 0) {
				fail(c, false, false, "HTTP/2: %s", nghttp2_strerror((int)n));
				return;
			}
			if (!n)
				break;
			c->pendlen = (size_t)n;
		}
		c->wr_wants_read = false;
		n = raw_write(c, c->pend, c->pendlen);
		if (n < 0)
			return;
		if (!n) {
			watch_out(c, !c->wr_wants_read);
			return;
		}
		c->pend += n;
		c->pendlen -= (size_t)n;
	}
	watch_out(c, false);
	/* GOAWAY done and every stream closed: the connection ends. */
	if (!nghttp2_session_want_read(c->h2) && !nghttp2_session_want_write(c->h2))
		fail(c, c->goaway, false, "%s",
		     c->goaway ? "GOAWAY NO_ERROR" : "connection closed");
}

static void read_in(struct tw_h2conn *c)
{
	uint8_t buf[READ_CHUNK];
	ssize_t n, r;
	int i;

	for (i = 0; i < READS_PER_EVENT && !c->failed; i++) {
		if (c->tls) {
			ERR_clear_error();
			n = SSL_read(c->ssl, buf, sizeof(buf));
			if (n <= 0) {
				int e = SSL_get_error(c->ssl, (int)n);

				if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
					return;
				if (e == SSL_ERROR_ZERO_RETURN)
					fail(c, c->goaway, false, "portal closed the connection");
				else
					fail(c, c->goaway, false, "TLS read: %s",
					     ERR_peek_error() ?
						     ERR_reason_error_string(ERR_peek_error()) :
						     (n == 0 ? "connection closed" :
							       strerror(errno)));
				return;
			}
		} else {
			n = recv(c->fd, buf, sizeof(buf), 0);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return;
			if (n <= 0) {
				fail(c, c->goaway, false, "%s",
				     n ? strerror(errno) : "portal closed the connection");
				return;
			}
		}
		clock_gettime(CLOCK_MONOTONIC, &c->last_rx);
		r = nghttp2_session_mem_recv(c->h2, buf, (size_t)n);
		if (r < 0) {
			fail(c, false, false, "HTTP/2 from the portal: %s",
			     nghttp2_strerror((int)r));
			return;
		}
		if (c->tls && !SSL_pending(c->ssl) && (size_t)n < sizeof(buf))
			return;
	}
	/* More may wait: the loop calls us again (level-triggered). */
}

/* ---- nghttp2 callbacks ---- */

static struct h2s *stream_of(nghttp2_session *h2, int32_t id)
{
	return nghttp2_session_get_stream_user_data(h2, id);
}

static int on_begin_headers(nghttp2_session *h2, const nghttp2_frame *f, void *ud)
{
	(void)h2;
	(void)f;
	(void)ud;
	return 0;
}

static int on_header(nghttp2_session *h2, const nghttp2_frame *f, const uint8_t *name,
		     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags, void *ud)
{
	struct h2s *s = stream_of(h2, f->hd.stream_id);
	size_t need = namelen + valuelen + 2;

	(void)flags;
	(void)ud;
	if (!s || f->hd.type != NGHTTP2_HEADERS || s->headers_done)
		return 0; /* trailers: nothing in this protocol */
	if (namelen == 7 && !memcmp(name, ":status", 7)) {
		s->status = 0;
		for (size_t i = 0; i < valuelen && i < 3; i++)
			s->status = s->status * 10 + (value[i] - '0');
		if (s->status >= 100 && s->status < 200)
			s->nhdrs = s->hlen =
				0; /* an informational response: the final comes next */
		return 0;
	}
	if (s->nhdrs >= MAX_RESP_HDRS || s->hlen + need > MAX_RESP_HDR_BYTES)
		return 0; /* more than the protocol uses: ignored, bounded */
	if (!s->hbuf && !(s->hbuf = malloc(MAX_RESP_HDR_BYTES)))
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	memcpy(s->hbuf + s->hlen, name, namelen);
	s->hbuf[s->hlen + namelen] = '\0';
	memcpy(s->hbuf + s->hlen + namelen + 1, value, valuelen);
	s->hbuf[s->hlen + namelen + 1 + valuelen] = '\0';
	/* offsets now, pointers when the headers are complete (hbuf is fixed) */
	s->hdrs[s->nhdrs].name = s->hbuf + s->hlen;
	s->hdrs[s->nhdrs].value = s->hbuf + s->hlen + namelen + 1;
	s->nhdrs++;
	s->hlen += need;
	return 0;
}

const char *tw_h2resp_header(const struct tw_h2resp *r, const char *name)
{
	for (size_t i = 0; i < r->nhdrs; i++)
		if (!strcmp(r->hdrs[i].name, name))
			return r->hdrs[i].value;
	return NULL;
}

static void stream_reset(struct tw_h2conn *c, struct h2s *s, uint32_t code)
{
	s->reset_by_us = true;
	nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, s->id, code);
}

static void response_headers(struct tw_h2conn *c, struct h2s *s)
{
	struct tw_h2resp r = { .status = s->status, .hdrs = s->hdrs, .nhdrs = s->nhdrs };
	const char *ce;

	if (s->status < 200)
		return;
	s->headers_done = true;
	ce = tw_h2resp_header(&r, "content-encoding");
	if (ce && !strcmp(ce, "gzip")) {
		memset(&s->inf, 0, sizeof(s->inf));
		if (inflateInit2(&s->inf, 31) != Z_OK) {
			stream_reset(c, s, NGHTTP2_INTERNAL_ERROR);
			return;
		}
		s->inflating = true;
	} else if (ce && strcmp(ce, "identity")) {
		stream_reset(c, s, NGHTTP2_PROTOCOL_ERROR); /* we never offered it */
		return;
	}
	if (s->ops->on_headers(s->ctx, &r) < 0)
		stream_reset(c, s, NGHTTP2_CANCEL);
}

static int on_frame_recv(nghttp2_session *h2, const nghttp2_frame *f, void *ud)
{
	struct tw_h2conn *c = ud;
	struct h2s *s;

	switch (f->hd.type) {
	case NGHTTP2_SETTINGS:
		if (!(f->hd.flags & NGHTTP2_FLAG_ACK) && c->st == C_SETTINGS) {
			c->st = C_UP;
			tw_timer_arm_ms(&c->t_conn, 0);
			tw_timer_arm_ms(&c->t_ping, c->keepalive_ms);
			c->ops->on_up(c->ctx);
		}
		break;
	case NGHTTP2_HEADERS:
		s = stream_of(h2, f->hd.stream_id);
		if (s && !s->headers_done && (f->hd.flags & NGHTTP2_FLAG_END_HEADERS))
			response_headers(c, s);
		__attribute__((fallthrough)); /* HEADERS may end the response */
	case NGHTTP2_DATA:
		s = stream_of(h2, f->hd.stream_id);
		/* The response ended while our body is open (an error, a refusal):
		 * the stream is over, close our side too (RFC 9113 8.1). */
		if (s && (f->hd.flags & NGHTTP2_FLAG_END_STREAM) && !s->reset_by_us &&
		    nghttp2_session_get_stream_local_close(h2, s->id) == 0)
			stream_reset(c, s, NGHTTP2_NO_ERROR);
		break;
	case NGHTTP2_PING:
		if (f->hd.flags & NGHTTP2_FLAG_ACK) {
			c->pinging = false;
			tw_timer_arm_ms(&c->t_pack, 0);
		}
		break;
	case NGHTTP2_GOAWAY:
		if (f->goaway.error_code != NGHTTP2_NO_ERROR) {
			fail(c, false, false, "GOAWAY %s",
			     nghttp2_http2_strerror(f->goaway.error_code));
			break;
		}
		if (!c->goaway) {
			c->goaway = true;
			if (c->streams && c->ops->on_goaway)
				c->ops->on_goaway(c->ctx);
		}
		break;
	}
	return 0;
}

static int on_data_chunk(nghttp2_session *h2, uint8_t flags, int32_t id, const uint8_t *data,
			 size_t len, void *ud)
{
	struct tw_h2conn *c = ud;
	struct h2s *s = stream_of(h2, id);
	uint8_t out[READ_CHUNK];
	uint32_t code = 0;
	int zr;

	(void)flags;
	if (!s || s->reset_by_us || !s->headers_done)
		return 0;
	if (!s->inflating)
		code = s->ops->on_data(s->ctx, data, len);
	else {
		/* Bounded: at most sizeof(out) decoded bytes at a time, handed on
		 * at once; the stream owner bounds its lines. */
		s->inf.next_in = (uint8_t *)data;
		s->inf.avail_in = (uInt)len;
		do {
			s->inf.next_out = out;
			s->inf.avail_out = sizeof(out);
			zr = inflate(&s->inf, Z_SYNC_FLUSH);
			if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR) {
				code = NGHTTP2_PROTOCOL_ERROR;
				break;
			}
			if (sizeof(out) - s->inf.avail_out)
				code = s->ops->on_data(s->ctx, out, sizeof(out) - s->inf.avail_out);
			if (zr == Z_STREAM_END && s->inf.avail_in) {
				code = NGHTTP2_PROTOCOL_ERROR; /* bytes after the gzip member */
				break;
			}
		} while (!code && (s->inf.avail_in || !s->inf.avail_out) && zr != Z_STREAM_END &&
			 zr != Z_BUF_ERROR);
	}
	if (code)
		stream_reset(c, s, code);
	return 0;
}

static int on_stream_close(nghttp2_session *h2, int32_t id, uint32_t code, void *ud)
{
	struct tw_h2conn *c = ud;
	struct h2s *s = stream_of(h2, id);

	if (!s)
		return 0;
	nghttp2_session_set_stream_user_data(h2, id, NULL);
	unlink_stream(c, s);
	if (s->ops->on_close)
		s->ops->on_close(s->ctx, code, code && !s->reset_by_us);
	stream_free(s);
	return 0;
}

/* The request body: what read_body gives, gzip'd if asked. */
static ssize_t read_cb(nghttp2_session *h2, int32_t id, uint8_t *buf, size_t len, uint32_t *dflags,
		       nghttp2_data_source *src, void *ud)
{
	struct h2s *s = src->ptr;
	bool eof = false;
	ssize_t n;

	(void)h2;
	(void)id;
	(void)ud;
	if (!s->gzip) {
		n = s->ops->read_body(s->ctx, buf, len, &eof);
		if (n == TW_H2_DEFER)
			return NGHTTP2_ERR_DEFERRED;
		if (n < 0)
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
		if (eof)
			*dflags |= NGHTTP2_DATA_FLAG_EOF;
		return n;
	}
	if (s->zoff == s->zlen && !s->body_eof) {
		uint8_t raw[READ_CHUNK];
		int zr;

		n = s->ops->read_body(s->ctx, raw, sizeof(raw), &eof);
		if (n == TW_H2_DEFER)
			return NGHTTP2_ERR_DEFERRED;
		if (n < 0)
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
		s->def.next_in = raw;
		s->def.avail_in = (uInt)n;
		s->def.next_out = s->zout;
		s->def.avail_out = ZOUT_MAX;
		/* ZOUT_MAX exceeds deflateBound(16 KiB) + the flush marker */
		zr = deflate(&s->def, eof ? Z_FINISH : Z_SYNC_FLUSH);
		if (zr == Z_STREAM_ERROR || s->def.avail_in)
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
		s->zoff = 0;
		s->zlen = ZOUT_MAX - s->def.avail_out;
		s->body_eof = eof;
	}
	n = (ssize_t)(s->zlen - s->zoff < len ? s->zlen - s->zoff : len);
	memcpy(buf, s->zout + s->zoff, (size_t)n);
	s->zoff += (size_t)n;
	if (s->body_eof && s->zoff == s->zlen)
		*dflags |= NGHTTP2_DATA_FLAG_EOF;
	return n;
}

/* After a public call: send what it queued, unless we are inside our own
 * callbacks (nghttp2 is not re-entered; the I/O handler flushes after them). */
static void kick(struct tw_h2conn *c)
{
	if (c->depth)
		return;
	c->depth++;
	flush_out(c);
	c->depth--;
	settle(c);
}

/* ---- connection setup ---- */

static int h2_start(struct tw_h2conn *c)
{
	nghttp2_session_callbacks *cb;
	nghttp2_option *opt;
	nghttp2_settings_entry iv[] = {
		{ NGHTTP2_SETTINGS_ENABLE_PUSH, 0 },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW },
		{ NGHTTP2_SETTINGS_MAX_FRAME_SIZE, 16384 },
		{ NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, 16384 },
		{ NGHTTP2_SETTINGS_HEADER_TABLE_SIZE, 4096 },
	};
	int rv;

	if (nghttp2_session_callbacks_new(&cb))
		return -ENOMEM;
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
	if (nghttp2_option_new(&opt)) {
		nghttp2_session_callbacks_del(cb);
		return -ENOMEM;
	}
	/* A peer may not make us queue unbounded replies (PING/SETTINGS floods). */
	nghttp2_option_set_max_outbound_ack(opt, 1000);
	nghttp2_option_set_max_settings(opt, 32);
	rv = nghttp2_session_client_new2(&c->h2, cb, c, opt);
	nghttp2_option_del(opt);
	nghttp2_session_callbacks_del(cb);
	if (rv)
		return -ENOMEM;
	if (nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, sizeof(iv) / sizeof(iv[0])) ||
	    nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0, CONN_WINDOW))
		return -ENOMEM;
	c->st = C_SETTINGS;
	return 0;
}

static void tls_step(struct tw_h2conn *c)
{
	const unsigned char *alpn = NULL;
	unsigned int alen = 0;
	long vr;
	int r, e;

	ERR_clear_error();
	r = SSL_connect(c->ssl);
	if (r != 1) {
		e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_READ) {
			watch_out(c, false);
			return;
		}
		if (e == SSL_ERROR_WANT_WRITE) {
			watch_out(c, true);
			return;
		}
		vr = SSL_get_verify_result(c->ssl);
		if (vr != X509_V_OK)
			fail(c, false, true, "TLS: certificate verify failed: %s",
			     X509_verify_cert_error_string(vr));
		else
			fail(c, false,
			     ERR_GET_REASON(ERR_peek_error()) == SSL_R_TLSV1_ALERT_UNKNOWN_CA ||
				     ERR_GET_REASON(ERR_peek_error()) ==
					     SSL_R_SSLV3_ALERT_BAD_CERTIFICATE ||
				     ERR_GET_REASON(ERR_peek_error()) ==
					     SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED,
			     "TLS: %s",
			     ERR_peek_error() ? ERR_reason_error_string(ERR_peek_error()) :
						"handshake failed");
		return;
	}
	SSL_get0_alpn_selected(c->ssl, &alpn, &alen);
	if (alen != 2 || memcmp(alpn, "h2", 2)) {
		fail(c, false, false, "portal did not negotiate h2");
		return;
	}
	snprintf(c->desc, sizeof(c->desc), "h2 %s %s %s:%u", SSL_get_version(c->ssl),
		 SSL_get_cipher_name(c->ssl), c->host, c->port);
	if (h2_start(c))
		fail(c, false, false, "HTTP/2 session: out of memory");
	/* the portal's SETTINGS may already sit in OpenSSL's buffer */
	read_in(c);
	flush_out(c);
}

/* The TLS context from the configuration: its errors are the operator's. */
static int tls_ctx_setup(struct tw_h2conn *c, const struct tw_portal_cfg *cfg, char *err,
			 size_t errlen)
{
	static const unsigned char alpn[] = { 2, 'h', '2' };

	snprintf(c->server_name, sizeof(c->server_name), "%s",
		 cfg->server_name[0] ? cfg->server_name : c->host);
	c->sctx = SSL_CTX_new(TLS_client_method());
	if (!c->sctx)
		goto ssl_err;
	SSL_CTX_set_min_proto_version(c->sctx, TLS1_2_VERSION);
	/* TLS 1.2: ECDHE with an AEAD only (protocol.md 2.1) */
	if (!SSL_CTX_set_cipher_list(c->sctx, "ECDHE+AESGCM:ECDHE+CHACHA20"))
		goto ssl_err;
	SSL_CTX_set_verify(c->sctx, SSL_VERIFY_PEER, NULL);
	if (cfg->ca[0] ? !SSL_CTX_load_verify_locations(c->sctx, cfg->ca, NULL) :
			 !SSL_CTX_set_default_verify_paths(c->sctx)) {
		snprintf(err, errlen, "[portal] ca %s: %s", cfg->ca[0] ? cfg->ca : "(system)",
			 ERR_reason_error_string(ERR_get_error()));
		return -EINVAL;
	}
	if (cfg->cert[0] &&
	    (SSL_CTX_use_certificate_chain_file(c->sctx, cfg->cert) != 1 ||
	     SSL_CTX_use_PrivateKey_file(c->sctx, cfg->key, SSL_FILETYPE_PEM) != 1 ||
	     SSL_CTX_check_private_key(c->sctx) != 1)) {
		snprintf(err, errlen, "[portal] cert %s / key %s: %s", cfg->cert, cfg->key,
			 ERR_reason_error_string(ERR_get_error()));
		return -EINVAL;
	}
	if (SSL_CTX_set_alpn_protos(c->sctx, alpn, sizeof(alpn)))
		goto ssl_err;
	return 0;
ssl_err:
	snprintf(err, errlen, "TLS setup: %s", ERR_reason_error_string(ERR_get_error()));
	return -EINVAL;
}

/* The connection's TLS object on the connected socket: SNI and the name to check. */
static int tls_conn_setup(struct tw_h2conn *c)
{
	const char *name = c->server_name;
	X509_VERIFY_PARAM *vp;
	uint8_t a[16];
	bool name_is_ip;

	c->ssl = SSL_new(c->sctx);
	if (!c->ssl || !SSL_set_fd(c->ssl, c->fd))
		goto ssl_err;
	SSL_set_mode(c->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	name_is_ip = inet_pton(AF_INET, name, a) == 1 || inet_pton(AF_INET6, name, a) == 1;
	if (!name_is_ip && !SSL_set_tlsext_host_name(c->ssl, name))
		goto ssl_err;
	vp = SSL_get0_param(c->ssl);
	if (name_is_ip ? !X509_VERIFY_PARAM_set1_ip_asc(vp, name) :
			 !X509_VERIFY_PARAM_set1_host(vp, name, 0))
		goto ssl_err;
	return 0;
ssl_err:
	fail(c, false, false, "TLS setup: %s", ERR_reason_error_string(ERR_get_error()));
	return -EINVAL;
}

static void on_io(void *ctx)
{
	struct tw_h2conn *c = ctx;
	int soerr = 0;
	socklen_t sl = sizeof(soerr);

	/* an event the loop had gathered before the teardown removed us */
	if (c->st == C_DOWN)
		return;
	c->depth++;
	if (c->st == C_CONNECTING) {
		if (!(c->w.revents & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			goto out;
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
		if (soerr) {
			fail(c, false, false, "connect: %s", strerror(soerr));
			goto out;
		}
		if (c->tls) {
			c->st = C_TLS;
			tls_step(c);
		} else {
			snprintf(c->desc, sizeof(c->desc), "h2c %s:%u", c->host, c->port);
			if (h2_start(c))
				fail(c, false, false, "HTTP/2 session: out of memory");
			flush_out(c);
		}
		goto out;
	}
	if (c->st == C_TLS) {
		tls_step(c);
		goto out;
	}
	if (c->w.revents & (EPOLLIN | EPOLLHUP | EPOLLERR))
		read_in(c);
	flush_out(c);
out:
	c->depth--;
	settle(c);
}

static void on_conn_timeout(void *ctx)
{
	struct tw_h2conn *c = ctx;

	fail(c, false, false, "connect timeout (%s)",
	     c->st == C_RESOLVING  ? "resolving the portal's name" :
	     c->st == C_CONNECTING ? "TCP" :
	     c->st == C_TLS	   ? "TLS handshake" :
				     "waiting for the portal's SETTINGS");
	settle(c);
}

static uint64_t ms_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)(now.tv_sec - t->tv_sec) * 1000 +
	       (uint64_t)((now.tv_nsec - t->tv_nsec) / 1000000);
}

/* Nothing received for keepalive: a PING, answered within keepalive_timeout. */
static void on_ping_timer(void *ctx)
{
	struct tw_h2conn *c = ctx;
	uint64_t idle = ms_since(&c->last_rx);

	if (c->st != C_UP)
		return;
	if (idle < c->keepalive_ms) {
		tw_timer_arm_ms(&c->t_ping, c->keepalive_ms - idle);
		return;
	}
	c->depth++;
	if (!c->pinging) {
		c->pinging = true;
		nghttp2_submit_ping(c->h2, NGHTTP2_FLAG_NONE, NULL);
		tw_timer_arm_ms(&c->t_pack, c->keepalive_timeout_ms);
		flush_out(c);
	}
	tw_timer_arm_ms(&c->t_ping, c->keepalive_ms);
	c->depth--;
	settle(c);
}

static void on_pack_timeout(void *ctx)
{
	struct tw_h2conn *c = ctx;

	if (c->pinging)
		fail(c, false, false, "PING timeout");
	settle(c);
}

/* https://host[:port]/path or http://host[:port]/path, as config.c checked it. */
static int parse_url(struct tw_h2conn *c, const char *url, bool *tls, char *err, size_t errlen)
{
	const char *h, *end, *colon;
	size_t hn;

	*tls = !strncmp(url, "https://", 8);
	h = url + (*tls ? 8 : 7);
	end = h + strcspn(h, "/");
	colon = h[0] == '[' ? memchr(h, ']', (size_t)(end - h)) : h;
	colon = colon ? memchr(colon, ':', (size_t)(end - colon)) : NULL;
	hn = (size_t)((colon ? colon : end) - h);
	if (h[0] == '[' && hn >= 2) {
		h++;
		hn -= 2;
	}
	if (!hn || hn >= sizeof(c->host)) {
		snprintf(err, errlen, "[portal] url %s: bad host", url);
		return -EINVAL;
	}
	memcpy(c->host, h, hn);
	c->host[hn] = '\0';
	c->port = colon ? (uint16_t)atoi(colon + 1) : (*tls ? 443 : 80);
	snprintf(c->authority, sizeof(c->authority), "%.*s", (int)(end - (url + (*tls ? 8 : 7))),
		 url + (*tls ? 8 : 7));
	return 0;
}

/* A non-blocking TCP connect to @ai, watched by the loop; failures fail(). */
static void start_connect(struct tw_h2conn *c, const struct addrinfo *ai)
{
	int one = 1;

	c->st = C_CONNECTING;
	c->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		fail(c, false, false, "socket: %s", strerror(errno));
		return;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) && errno != EINPROGRESS) {
		fail(c, false, false, "connect: %s", strerror(errno));
		return;
	}
	if (c->tls && tls_conn_setup(c))
		return;
	c->w = (struct tw_watch){ .name = "portal link", .fd = c->fd, .fn = on_io, .ctx = c };
	if (tw_loop_add(c->loop, &c->w) || tw_loop_mod(c->loop, &c->w, true, true)) {
		fail(c, false, false, "event loop: %s", strerror(errno));
		return;
	}
	c->watching = true;
	c->want_out = true;
}

static void on_dns_timer(void *ctx)
{
	struct tw_h2conn *c = ctx;
	struct addrinfo *ai;
	int r;

	if (c->st != C_RESOLVING || !c->dns)
		return;
	r = tw_resolve_poll(c->dns, &ai);
	if (r == EAI_INPROGRESS) {
		tw_timer_arm_ms(&c->t_dns, DNS_POLL_MS);
		return;
	}
	c->dns = NULL;
	if (r) {
		/* not a configuration error: the resolver may come back */
		fail(c, false, false, "resolve %s: %s", c->host, gai_strerror(r));
	} else {
		start_connect(c, ai);
		freeaddrinfo(ai);
	}
	settle(c);
}

struct tw_h2conn *tw_h2_connect(struct tw_loop *l, const struct tw_portal_cfg *cfg,
				const char *authz, const struct tw_h2conn_ops *ops, void *ctx,
				char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
	struct tw_h2conn *c = calloc(1, sizeof(*c));
	char port[8];
	bool tls, ip_literal;
	uint8_t a[16];
	int r;

	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->loop = l;
	c->ops = ops;
	c->ctx = ctx;
	c->fd = -1;
	c->keepalive_ms = cfg->keepalive_ms;
	c->keepalive_timeout_ms = cfg->keepalive_timeout_ms;
	if (authz)
		snprintf(c->authz, sizeof(c->authz), "%s", authz);
	if (tw_timer_init(l, &c->t_conn, "portal connect timeout", on_conn_timeout, c) ||
	    tw_timer_init(l, &c->t_ping, "portal keepalive", on_ping_timer, c) ||
	    tw_timer_init(l, &c->t_pack, "portal PING ack", on_pack_timeout, c) ||
	    tw_timer_init(l, &c->t_dns, "portal name lookup", on_dns_timer, c)) {
		snprintf(err, errlen, "timers: %s", strerror(errno));
		goto bad;
	}
	if (parse_url(c, cfg->url, &tls, err, errlen))
		goto bad;
	c->tls = tls;
	if (tls && tls_ctx_setup(c, cfg, err, errlen))
		goto bad;
	/*
	 * IP literals (and localhost) are converted here; a host name is looked
	 * up in glibc's resolver thread and polled from t_dns, so a slow or
	 * hostile name server cannot stall the loop (the connect timeout covers
	 * the lookup too).
	 */
	ip_literal = inet_pton(AF_INET, c->host, a) == 1 || inet_pton(AF_INET6, c->host, a) == 1;
	snprintf(port, sizeof(port), "%u", c->port);
	if (ip_literal || !strcmp(c->host, "localhost")) {
		hints.ai_flags = AI_NUMERICHOST;
		r = getaddrinfo(ip_literal ? c->host : "127.0.0.1", port, &hints, &ai);
		if (r) {
			snprintf(err, errlen, "[portal] url: host %s: %s", c->host,
				 gai_strerror(r));
			goto bad;
		}
		start_connect(c, ai);
		freeaddrinfo(ai);
	} else {
		c->st = C_RESOLVING;
		c->dns = tw_resolve_start(c->host, port, &r);
		if (c->dns)
			tw_timer_arm_ms(&c->t_dns, 1);
		else /* not a configuration error: the resolver may come back */
			fail(c, false, false, "resolve %s: %s", c->host, gai_strerror(r));
	}
	clock_gettime(CLOCK_MONOTONIC, &c->last_rx);
	/* A failure before the loop serves us is reported from the loop, as
	 * every other: the caller's on_down never runs inside this call. */
	tw_timer_arm_ms(&c->t_conn, c->failed ? 1 : cfg->connect_timeout_ms);
	return c;
bad:
	errno = EINVAL;
	tw_h2_free(c);
	return NULL;
}

void tw_h2_free(struct tw_h2conn *c)
{
	struct h2s *s;

	if (!c)
		return;
	while ((s = c->streams)) {
		c->streams = s->next;
		stream_free(s);
	}
	if (c->h2)
		nghttp2_session_del(c->h2);
	if (c->ssl)
		SSL_free(c->ssl);
	SSL_CTX_free(c->sctx);
	if (c->watching)
		tw_loop_del(c->loop, &c->w);
	if (c->fd >= 0)
		close(c->fd);
	if (c->t_conn.loop)
		tw_timer_close(&c->t_conn);
	if (c->t_ping.loop)
		tw_timer_close(&c->t_ping);
	if (c->t_pack.loop)
		tw_timer_close(&c->t_pack);
	if (c->t_dns.loop)
		tw_timer_close(&c->t_dns);
	tw_resolve_drop(c->dns);
	free(c);
}

void tw_h2_shutdown(struct tw_h2conn *c)
{
	if (c->st == C_DOWN)
		return;
	if (c->st != C_UP) {
		fail(c, true, false, "closed by the node");
		settle(c);
		return;
	}
	c->depth++;
	c->goaway = true;
	nghttp2_session_terminate_session(c->h2, NGHTTP2_NO_ERROR);
	flush_out(c);
	c->depth--;
	/* what the socket did not take now is dropped: the daemon is stopping */
	fail(c, true, false, "closed by the node");
	settle(c);
}

int32_t tw_h2_request(struct tw_h2conn *c, const char *method, const char *path,
		      const struct tw_h2hdr *hdrs, size_t nhdrs, bool gzip_body,
		      const struct tw_h2stream_ops *ops, void *ctx)
{
	nghttp2_nv nv[24];
	nghttp2_data_provider dp;
	struct h2s *s;
	size_t n = 0, i;
	int32_t id;

#define NV(k, v)                                                                       \
	(nv[n++] = (nghttp2_nv){ (uint8_t *)(k), (uint8_t *)(v), strlen(k), strlen(v), \
				 NGHTTP2_NV_FLAG_NONE })
	if (c->st != C_UP || c->failed || c->goaway)
		return -ENOTCONN;
	if (nhdrs > 16)
		return -E2BIG;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->c = c;
	s->ops = ops;
	s->ctx = ctx;
	if (gzip_body && ops->read_body) {
		s->zout = malloc(ZOUT_MAX);
		if (!s->zout || deflateInit2(&s->def, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 31, 8,
					     Z_DEFAULT_STRATEGY) != Z_OK) {
			free(s->zout);
			free(s);
			return -ENOMEM;
		}
		s->gzip = true;
	}
	NV(":method", method);
	NV(":scheme", c->tls ? "https" : "http");
	NV(":authority", c->authority);
	NV(":path", path);
	for (i = 0; i < nhdrs; i++)
		NV(hdrs[i].name, hdrs[i].value);
	if (s->gzip)
		NV("content-encoding", "gzip");
	if (c->authz[0])
		NV("authorization", c->authz);
#undef NV
	dp.source.ptr = s;
	dp.read_callback = read_cb;
	id = nghttp2_submit_request(c->h2, NULL, nv, n, ops->read_body ? &dp : NULL, s);
	if (id < 0) {
		stream_free(s);
		return -EIO;
	}
	s->id = id;
	s->next = c->streams;
	c->streams = s;
	kick(c);
	return id;
}

int tw_h2_resume(struct tw_h2conn *c, int32_t id)
{
	int rv;

	if (c->st != C_UP || c->failed)
		return -ENOTCONN;
	rv = nghttp2_session_resume_data(c->h2, id);
	if (rv && rv != NGHTTP2_ERR_INVALID_ARGUMENT)
		return -EIO;
	kick(c);
	return 0;
}

int tw_h2_reset(struct tw_h2conn *c, int32_t id, uint32_t code)
{
	struct h2s *s;

	if (c->st != C_UP || c->failed)
		return -ENOTCONN;
	s = stream_of(c->h2, id);
	if (!s)
		return -ENOENT;
	stream_reset(c, s, code);
	kick(c);
	return 0;
}

const char *tw_h2_describe(const struct tw_h2conn *c)
{
	return c->desc[0] ? c->desc : "connecting";
}
