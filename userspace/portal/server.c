// SPDX-License-Identifier: GPL-2.0-only
/*
 * Connections: accept, TLS handshake (non-blocking), nghttp2 server session,
 * bounded output (one chunk from nghttp2 at a time), deadlines swept by a 1 s
 * timer. Requests are authenticated here (protocol.md 3.3) and handed to an
 * endpoint. Nothing here blocks but the record store's commits.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "polstore.h"
#include "server.h"
#include "tw_sig.h"

struct tw_conn {
	struct tw_server *srv;
	struct tw_conn *next, **pprev;
	struct tw_watch w;
	char peer[64];
	SSL *ssl; /* NULL: h2c */
	bool handshaking;
	bool dead;
	bool want_flush; /* something queued since the last flush */
	bool got_frame; /* TLS and the HTTP/2 preface done: idle_timeout from now on */
	nghttp2_session *h2;
	char cn[TW_NODE_ID_MAX]; /* the node id of a verified client certificate */
	const uint8_t *out; /* pending output from nghttp2_session_mem_send */
	size_t outlen;
	uint64_t last_read_ms;
	unsigned int nstreams;
	struct tw_stream *streams; /* nghttp2_session_del() does not close them for us */
};

uint64_t tw_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool node_id_ok(const char *s, size_t n)
{
	if (n == 0 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		bool alnum = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
			     (ch >= 'A' && ch <= 'Z');

		if (!alnum && (i == 0 || (ch != '.' && ch != '_' && ch != '-')))
			return false;
	}
	return true;
}

/* ---- output ---- */

static void conn_update_events(struct tw_conn *c)
{
	bool out = c->outlen > 0 || (c->h2 && nghttp2_session_want_write(c->h2));

	if (c->ssl && c->handshaking)
		return;
	tw_loop_mod(c->srv->loop, &c->w, true, out);
}

static ssize_t conn_write(struct tw_conn *c, const uint8_t *p, size_t n)
{
	ssize_t w;

	if (!c->ssl) {
		w = send(c->w.fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		return w;
	}
	ERR_clear_error();
	w = SSL_write(c->ssl, p, (int)n);
	if (w > 0)
		return w;
	switch (SSL_get_error(c->ssl, (int)w)) {
	case SSL_ERROR_WANT_WRITE:
	case SSL_ERROR_WANT_READ:
		return 0;
	default:
		return -1;
	}
}

/* Write until the socket is full or nghttp2 has nothing more; never buffers more than one chunk. */
static void conn_flush(struct tw_conn *c)
{
	if (c->dead || c->handshaking || !c->h2)
		return;
	for (;;) {
		ssize_t w;

		if (!c->outlen) {
			ssize_t n = nghttp2_session_mem_send(c->h2, &c->out);

			if (n < 0) {
				c->dead = true;
				return;
			}
			c->outlen = (size_t)n;
			if (!n)
				break;
		}
		w = conn_write(c, c->out, c->outlen);
		if (w < 0) {
			c->dead = true;
			return;
		}
		if (w == 0)
			break;
		c->out += w;
		c->outlen -= (size_t)w;
	}
	if (!c->outlen && !nghttp2_session_want_read(c->h2) && !nghttp2_session_want_write(c->h2))
		c->dead = true;
	conn_update_events(c);
}

/*
 * Endpoints only queue: sending may close streams (and free their state)
 * while an endpoint walks its list, so connections are flushed by
 * flush_all() once the event is handled.
 */
int tw_stream_resume(struct tw_stream *st)
{
	st->c->want_flush = true;
	return nghttp2_session_resume_data(st->c->h2, st->id);
}

void tw_stream_reset(struct tw_stream *st, uint32_t code)
{
	nghttp2_submit_rst_stream(st->c->h2, NGHTTP2_FLAG_NONE, st->id, code);
	st->c->want_flush = true;
}

/* ---- responses ---- */

static ssize_t data_read(nghttp2_session *h2, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
			 nghttp2_data_source *src, void *user)
{
	struct tw_stream *st = src->ptr;
	size_t n;

	(void)h2, (void)id, (void)user;
	switch (st->ep) {
	case TW_EP_RECORDS:
		return tw_records_read(st, buf, len, flags);
	case TW_EP_POLICY:
		return tw_policy_read(st, buf, len, flags);
	default:
		n = st->body_len - st->body_off;
		if (n > len)
			n = len;
		memcpy(buf, st->body + st->body_off, n);
		st->body_off += n;
		if (st->body_off == st->body_len)
			*flags |= NGHTTP2_DATA_FLAG_EOF;
		return (ssize_t)n;
	}
}

#define NV(n, v)                                                            \
	{                                                                   \
		(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), 0 \
	}

int tw_stream_error(struct tw_stream *st, int status, const char *code, const char *msg)
{
	char sts[8] = "500";
	nghttp2_nv nv[3] = { NV(":status", sts), NV("content-type", "application/json") };
	size_t nnv = 2;
	nghttp2_data_provider dp = { .source.ptr = st, .read_callback = data_read };
	int n;

	snprintf(sts, sizeof(sts), "%d", status % 1000);
	nv[0].valuelen = strlen(sts);
	if (status == 401)
		nv[nnv++] = (nghttp2_nv)NV("www-authenticate", "Bearer");
	if (status == 415)
		nv[nnv++] = (nghttp2_nv)NV("accept-encoding", "identity");
	st->ep = TW_EP_STATIC;
	free(st->body);
	st->body = malloc(1400);
	if (!st->body)
		return nghttp2_submit_rst_stream(st->c->h2, NGHTTP2_FLAG_NONE, st->id,
						 NGHTTP2_INTERNAL_ERROR);
	/* msg is ours, never the peer's bytes unescaped */
	n = snprintf(st->body, 1400, "{\"error\":\"%s\",\"message\":\"%s\"}\n", code, msg);
	st->body_len = n < 1400 ? (size_t)n : 1399;
	st->body_off = 0;
	if (status >= 400)
		tw_log(TW_LOG_INFO, "%s: %s %s: %d %s", st->c->peer, st->method, st->path, status,
		       msg);
	return nghttp2_submit_response(st->c->h2, st->id, nv, nnv, &dp);
}

int tw_stream_respond(struct tw_stream *st, const nghttp2_nv *nv, size_t nnv)
{
	nghttp2_data_provider dp = { .source.ptr = st, .read_callback = data_read };

	return nghttp2_submit_response(st->c->h2, st->id, nv, nnv, &dp);
}

/* ---- requests ---- */

/*
 * Who the request comes from: the certificate's CN and/or a bearer token;
 * both must agree when both are there (protocol.md 3.2, 3.3). 0 with the
 * answer queued on failure, 1 when the request may go on.
 */
static int authenticate(struct tw_stream *st)
{
	struct tw_server *s = st->c->srv;
	char who[TW_NODE_ID_MAX] = "";
	struct tw_node_info ni;
	char msg[256];
	int err;

	if (st->auth[0]) {
		uint8_t h[TW_TOKEN_HASH_LEN];
		const char *tok = st->auth + 7;

		if (strncasecmp(st->auth, "Bearer ", 7) || !*tok) {
			tw_stream_error(st, 401, "unauthorized", "authorization: want Bearer");
			return 0;
		}
		tw_token_hash(tok, strlen(tok), h);
		err = s->rs->ops->node_by_token(s->rs, h, who, sizeof(who));
		if (err == -ENOENT) {
			tw_stream_error(st, 401, "unauthorized", "unknown token");
			return 0;
		}
		if (err) {
			tw_stream_error(st, 503, "unavailable", "store unavailable");
			return 0;
		}
		if (st->c->cn[0] && strcmp(who, st->c->cn)) {
			snprintf(msg, sizeof(msg), "certificate is node %s, token is node %s",
				 st->c->cn, who);
			tw_stream_error(st, 403, "forbidden", msg);
			return 0;
		}
	} else if (st->c->cn[0]) {
		snprintf(who, sizeof(who), "%s", st->c->cn);
	} else {
		tw_stream_error(st, 401, "unauthorized", "no client certificate and no token");
		return 0;
	}
	if (strcmp(who, st->node)) {
		snprintf(msg, sizeof(msg), "identity is node %s, path names node %s", who,
			 st->node);
		tw_stream_error(st, 403, "forbidden", msg);
		return 0;
	}
	err = s->rs->ops->node_get(s->rs, who, &ni);
	if (err == -ENOENT) {
		snprintf(msg, sizeof(msg), "node %s is not enrolled", who);
		tw_stream_error(st, 404, "unknown_node", msg);
		return 0;
	}
	if (err) {
		tw_stream_error(st, 503, "unavailable", "store unavailable");
		return 0;
	}
	if (!ni.enabled) {
		snprintf(msg, sizeof(msg), "node %s is disabled", who);
		tw_stream_error(st, 403, "forbidden", msg);
		return 0;
	}
	return 1;
}

/* /v1/nodes/{node}/records or .../policy[?query] */
static void dispatch(struct tw_stream *st)
{
	static const char pre[] = "/v1/nodes/";
	const char *p = st->path, *slash, *q, *what;
	size_t n;

	if (st->bad_header) {
		tw_stream_error(st, 431, "bad_request", "a request header is too long");
		return;
	}
	if (strncmp(p, pre, sizeof(pre) - 1)) {
		tw_stream_error(st, 404, "not_found", "no such endpoint");
		return;
	}
	p += sizeof(pre) - 1;
	slash = strchr(p, '/');
	if (!slash || !node_id_ok(p, (size_t)(slash - p))) {
		tw_stream_error(st, 404, "not_found", "no such endpoint (bad node id)");
		return;
	}
	n = (size_t)(slash - p);
	memcpy(st->node, p, n);
	st->node[n] = '\0';
	what = slash + 1;
	q = strchr(what, '?');
	n = q ? (size_t)(q - what) : strlen(what);
	if (n == 7 && !strncmp(what, "records", 7)) {
		if (strcmp(st->method, "POST")) {
			tw_stream_error(st, 405, "bad_method", "records: want POST");
			return;
		}
		if (authenticate(st))
			tw_records_start(st);
	} else if (n == 6 && !strncmp(what, "policy", 6)) {
		if (strcmp(st->method, "GET")) {
			tw_stream_error(st, 405, "bad_method", "policy: want GET");
			return;
		}
		if (authenticate(st))
			tw_policy_start(st, q ? q + 1 : "");
	} else {
		tw_stream_error(st, 404, "not_found", "no such endpoint");
	}
}

static int on_begin_headers(nghttp2_session *h2, const nghttp2_frame *f, void *user)
{
	struct tw_conn *c = user;
	struct tw_stream *st;

	if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	st = calloc(1, sizeof(*st));
	if (!st)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	st->c = c;
	st->srv = c->srv;
	st->next = c->streams;
	if (st->next)
		st->next->pprev = &st->next;
	st->pprev = &c->streams;
	c->streams = st;
	st->id = f->hd.stream_id;
	c->nstreams++;
	nghttp2_session_set_stream_user_data(h2, st->id, st);
	return 0;
}

struct hdr {
	const char *name;
	size_t off, size;
};

#define H(n, field)                                                                          \
	{                                                                                    \
		n, offsetof(struct tw_stream, field), sizeof(((struct tw_stream *)0)->field) \
	}
static const struct hdr hdrs[] = {
	H(":method", method),
	H(":path", path),
	H("content-type", content_type),
	H("content-encoding", content_encoding),
	H("accept-encoding", accept_encoding),
	H("tunwarden-log-id", log_id),
	H("content-length", content_length),
	H("tunwarden-acked-seq", acked_seq),
	H("user-agent", user_agent),
	H("authorization", auth),
};

static int on_header(nghttp2_session *h2, const nghttp2_frame *f, const uint8_t *name,
		     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
		     void *user)
{
	struct tw_stream *st = nghttp2_session_get_stream_user_data(h2, f->hd.stream_id);

	(void)flags, (void)user;
	if (!st || f->hd.type != NGHTTP2_HEADERS)
		return 0;
	for (size_t i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
		if (strlen(hdrs[i].name) != namelen || memcmp(hdrs[i].name, name, namelen))
			continue;
		if (valuelen >= hdrs[i].size) {
			st->bad_header = true;
			return 0;
		}
		memcpy((char *)st + hdrs[i].off, value, valuelen);
		((char *)st + hdrs[i].off)[valuelen] = '\0';
	}
	return 0;
}

static int on_frame_recv(nghttp2_session *h2, const nghttp2_frame *f, void *user)
{
	struct tw_stream *st = nghttp2_session_get_stream_user_data(h2, f->hd.stream_id);
	struct tw_conn *c = user;

	c->got_frame = true;
	if (!st)
		return 0;
	if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST)
		dispatch(st);
	if ((f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA) &&
	    (f->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
		st->ended = true;
		if (st->ep == TW_EP_RECORDS)
			tw_records_end(st);
	}
	return 0;
}

static int on_data_chunk(nghttp2_session *h2, uint8_t flags, int32_t id, const uint8_t *data,
			 size_t len, void *user)
{
	struct tw_stream *st = nghttp2_session_get_stream_user_data(h2, id);

	(void)flags, (void)user;
	if (st && st->ep == TW_EP_RECORDS)
		tw_records_data(st, data, len);
	return 0;
}

static void stream_free(struct tw_stream *st)
{
	if (st->rec)
		tw_records_close(st);
	if (st->pol)
		tw_policy_close(st);
	*st->pprev = st->next;
	if (st->next)
		st->next->pprev = st->pprev;
	st->c->nstreams--;
	free(st->body);
	free(st);
}

static int on_stream_close(nghttp2_session *h2, int32_t id, uint32_t code, void *user)
{
	struct tw_stream *st = nghttp2_session_get_stream_user_data(h2, id);

	(void)code, (void)user;
	if (st) {
		nghttp2_session_set_stream_user_data(h2, id, NULL);
		stream_free(st);
	}
	return 0;
}

/* ---- connections ---- */

static void conn_free(struct tw_conn *c)
{
	struct tw_server *s = c->srv;

	tw_loop_del(s->loop, &c->w);
	while (c->streams)
		stream_free(c->streams);
	if (c->h2)
		nghttp2_session_del(c->h2);
	if (c->ssl)
		SSL_free(c->ssl);
	close(c->w.fd);
	*c->pprev = c->next;
	if (c->next)
		c->next->pprev = c->pprev;
	s->nconns--;
	free(c);
}

static int h2_start(struct tw_conn *c)
{
	nghttp2_session_callbacks *cb;
	nghttp2_option *opt;
	nghttp2_settings_entry iv[] = {
		{ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 16 },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20 },
		{ NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, 16384 },
		{ NGHTTP2_SETTINGS_ENABLE_PUSH, 0 },
	};
	int err;

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
	/* headers beyond this are refused by nghttp2 before they reach us */
	nghttp2_option_set_max_send_header_block_length(opt, 16384);
	err = nghttp2_session_server_new2(&c->h2, cb, c, opt);
	nghttp2_option_del(opt);
	nghttp2_session_callbacks_del(cb);
	if (err)
		return -ENOMEM;
	if (nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, sizeof(iv) / sizeof(iv[0])) ||
	    nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0, 16 << 20))
		return -EIO;
	return 0;
}

static void conn_read(struct tw_conn *c);

static void conn_handshake(struct tw_conn *c)
{
	const unsigned char *alpn = NULL;
	unsigned int alpnlen = 0;
	X509 *cert;
	int r;

	ERR_clear_error();
	r = SSL_do_handshake(c->ssl);
	if (r != 1) {
		int e = SSL_get_error(c->ssl, r);

		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			tw_loop_mod(c->srv->loop, &c->w, true, e == SSL_ERROR_WANT_WRITE);
			return;
		}
		tw_log(TW_LOG_INFO, "%s: TLS handshake failed: %s", c->peer,
		       ERR_reason_error_string(ERR_peek_last_error()) ?
			       ERR_reason_error_string(ERR_peek_last_error()) :
			       "connection closed");
		c->dead = true;
		return;
	}
	c->handshaking = false;
	SSL_get0_alpn_selected(c->ssl, &alpn, &alpnlen);
	if (alpnlen != 2 || memcmp(alpn, "h2", 2)) {
		tw_log(TW_LOG_INFO, "%s: client did not negotiate h2", c->peer);
		c->dead = true;
		return;
	}
	cert = SSL_get1_peer_certificate(c->ssl);
	if (cert && SSL_get_verify_result(c->ssl) == X509_V_OK) {
		X509_NAME *nm = X509_get_subject_name(cert);
		int i = X509_NAME_get_index_by_NID(nm, NID_commonName, -1);
		unsigned char *u8 = NULL;
		int n;

		if (i < 0 || X509_NAME_get_index_by_NID(nm, NID_commonName, i) >= 0) {
			tw_log(TW_LOG_INFO, "%s: client certificate needs exactly one CN", c->peer);
		} else if ((n = ASN1_STRING_to_UTF8(
				    &u8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(nm, i)))) <
				   0 ||
			   !node_id_ok((const char *)u8, (size_t)n)) {
			tw_log(TW_LOG_INFO, "%s: client certificate CN is not a node id", c->peer);
		} else {
			memcpy(c->cn, u8, (size_t)n);
			c->cn[n] = '\0';
		}
		OPENSSL_free(u8);
	}
	X509_free(cert);
	if (h2_start(c)) {
		c->dead = true;
		return;
	}
	conn_update_events(c);
	conn_read(c); /* the preface may have come with the handshake's last flight */
}

static void conn_read(struct tw_conn *c)
{
	uint8_t buf[16384];

	for (int rounds = 0; rounds < 64 && !c->dead; rounds++) {
		ssize_t n;

		if (c->ssl) {
			ERR_clear_error();
			n = SSL_read(c->ssl, buf, sizeof(buf));
			if (n <= 0) {
				int e = SSL_get_error(c->ssl, (int)n);

				if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
					return;
				c->dead = true;
				return;
			}
		} else {
			n = recv(c->w.fd, buf, sizeof(buf), 0);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return;
			if (n <= 0) {
				c->dead = true;
				return;
			}
		}
		c->last_read_ms = tw_now_ms();
		n = nghttp2_session_mem_recv(c->h2, buf, (size_t)n);
		if (n < 0) {
			tw_log(TW_LOG_INFO, "%s: HTTP/2 protocol error; closing", c->peer);
			c->dead = true;
			return;
		}
		conn_flush(c);
	}
}

/* Flush what events queued on any connection; free the dead ones. */
static void flush_all(struct tw_server *s)
{
	struct tw_conn *c, *next;

	for (c = s->conns; c; c = c->next)
		if (c->want_flush) {
			c->want_flush = false;
			conn_flush(c);
		}
	for (c = s->conns; c; c = next) {
		next = c->next;
		if (c->dead)
			conn_free(c);
	}
}

static void conn_event(void *ctx)
{
	struct tw_conn *c = ctx;

	if (c->handshaking)
		conn_handshake(c);
	else if (c->w.revents & (EPOLLIN | EPOLLHUP | EPOLLERR))
		conn_read(c);
	c->want_flush = true;
	flush_all(c->srv);
}

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		       const unsigned char *in, unsigned int inlen, void *arg)
{
	(void)ssl, (void)arg;
	for (unsigned int i = 0; i < inlen; i += 1u + in[i])
		if (in[i] == 2 && i + 3 <= inlen && !memcmp(in + i + 1, "h2", 2)) {
			*out = in + i + 1;
			*outlen = 2;
			return SSL_TLSEXT_ERR_OK;
		}
	return SSL_TLSEXT_ERR_ALERT_FATAL; /* h2 only (protocol.md 2.1) */
}

static void accept_one(struct tw_server *s, int lfd, bool tls)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t sl = sizeof(ss);
	int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
	struct tw_conn *c;
	int one = 1;
	char host[INET6_ADDRSTRLEN] = "?";

	if (fd < 0)
		return;
	if (s->nconns >= s->cfg->max_connections) {
		tw_log(TW_LOG_WARN, "connection limit (%u) reached; refusing one",
		       s->cfg->max_connections);
		close(fd);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->srv = s;
	c->w = (struct tw_watch){
		.name = "portal connection", .fd = fd, .fn = conn_event, .ctx = c
	};
	c->last_read_ms = tw_now_ms();
	if (ss.ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof(host));
	else if (ss.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host, sizeof(host));
	snprintf(c->peer, sizeof(c->peer), "%s%s", tls ? "" : "h2c ", host);
	c->next = s->conns;
	if (c->next)
		c->next->pprev = &c->next;
	c->pprev = &s->conns;
	s->conns = c;
	s->nconns++;
	if (tw_loop_add(s->loop, &c->w)) {
		c->dead = true;
	} else if (tls) {
		c->ssl = SSL_new(s->ssl);
		if (!c->ssl || !SSL_set_fd(c->ssl, fd))
			c->dead = true;
		else {
			SSL_set_accept_state(c->ssl);
			c->handshaking = true;
		}
	} else if (h2_start(c)) {
		c->dead = true;
	} else {
		conn_flush(c);
	}
	if (c->dead)
		conn_free(c);
}

static void accept_tls(void *ctx)
{
	struct tw_server *s = ctx;

	for (int i = 0; i < 16; i++)
		accept_one(s, s->lis_tls.fd, true);
}

static void accept_h2c(void *ctx)
{
	struct tw_server *s = ctx;

	for (int i = 0; i < 16; i++)
		accept_one(s, s->lis_h2c.fd, false);
}

static int parse_addr(const char *spec, struct sockaddr_storage *ss, socklen_t *sl)
{
	char host[128];
	const char *colon = strrchr(spec, ':');
	char *end;
	unsigned long port;
	size_t n;

	if (!colon)
		return -EINVAL;
	port = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || port > 65535)
		return -EINVAL;
	n = (size_t)(colon - spec);
	if (n >= sizeof(host))
		return -EINVAL;
	memcpy(host, spec, n);
	host[n] = '\0';
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
		memmove(host, host + 1, n - 2);
		host[n - 2] = '\0';
	}
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		ss->ss_family = AF_INET;
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
		*sl = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		ss->ss_family = AF_INET6;
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
		*sl = sizeof(struct sockaddr_in6);
	} else {
		return -EINVAL;
	}
	return 0;
}

static bool is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
	return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

static int listen_on(struct tw_server *s, struct tw_watch *w, const char *spec, bool tls, char *err,
		     size_t errlen)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t sl;
	int fd, one = 1;

	if (parse_addr(spec, &ss, &sl)) {
		snprintf(err, errlen, "listen address \"%s\": want ADDR:PORT", spec);
		return -EINVAL;
	}
	if (!tls && !is_loopback(&ss)) {
		snprintf(err, errlen, "listen_h2c %s: h2c only on a loopback address", spec);
		return -EINVAL;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&ss, sl) || listen(fd, 128)) {
		snprintf(err, errlen, "listen %s: %s", spec, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	*w = (struct tw_watch){ .name = tls ? "portal TLS listener" : "portal h2c listener",
				.fd = fd,
				.fn = tls ? accept_tls : accept_h2c,
				.ctx = s };
	return tw_loop_add(s->loop, w);
}

static int tls_init(struct tw_server *s, char *err, size_t errlen)
{
	const struct tw_pconf *c = s->cfg;
	unsigned long e;

	s->ssl = SSL_CTX_new(TLS_server_method());
	if (!s->ssl)
		goto fail;
	SSL_CTX_set_min_proto_version(s->ssl, TLS1_2_VERSION);
	SSL_CTX_set_options(s->ssl, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
					    SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* TLS 1.2: ECDHE with an AEAD only (protocol.md 2.1) */
	if (!SSL_CTX_set_cipher_list(s->ssl, "ECDHE+AESGCM:ECDHE+CHACHA20"))
		goto fail;
	SSL_CTX_set_mode(s->ssl,
			 SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (SSL_CTX_use_certificate_chain_file(s->ssl, c->cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(s->ssl, c->key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(s->ssl) != 1)
		goto fail;
	if (c->client_ca[0]) {
		STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(c->client_ca);

		if (!names || SSL_CTX_load_verify_locations(s->ssl, c->client_ca, NULL) != 1) {
			sk_X509_NAME_pop_free(names, X509_NAME_free);
			goto fail;
		}
		SSL_CTX_set_client_CA_list(s->ssl, names); /* which CA to pick a certificate for */
		/* a certificate is optional (tokens), but one that is sent must verify */
		SSL_CTX_set_verify(s->ssl, SSL_VERIFY_PEER, NULL);
	}
	SSL_CTX_set_alpn_select_cb(s->ssl, alpn_select, NULL);
	return 0;
fail:
	e = ERR_peek_last_error();
	snprintf(err, errlen, "TLS setup (cert %s, key %s, client_ca %s): %s", c->cert, c->key,
		 c->client_ca[0] ? c->client_ca : "none", e ? ERR_reason_error_string(e) : "?");
	return -EINVAL;
}

/* ---- batching ---- */

int tw_server_txn_begin(struct tw_server *s)
{
	int err;

	if (s->in_txn)
		return 0;
	err = s->rs->ops->begin(s->rs);
	if (err)
		return err;
	s->in_txn = true;
	s->txn_lines = 0;
	tw_timer_arm_ms(&s->commit_timer, TW_COMMIT_MS);
	return 0;
}

int tw_server_commit(struct tw_server *s)
{
	int err;

	if (!s->in_txn)
		return 0;
	tw_timer_arm_ms(&s->commit_timer, 0);
	err = s->rs->ops->commit(s->rs);
	if (err)
		s->rs->ops->rollback(s->rs);
	s->in_txn = false;
	tw_records_committed(s, err);
	return err;
}

static void commit_due(void *ctx)
{
	tw_server_commit(ctx);
	flush_all(ctx);
}

/* The 1 s sweep: deadlines of connections, keepalive lines, the policy re-check. */
static void tick(void *ctx)
{
	struct tw_server *s = ctx;
	uint64_t now = tw_now_ms();
	struct tw_conn *c, *next;

	tw_records_tick(s, now);
	tw_policy_tick(s, now);
	flush_all(s);
	for (c = s->conns; c; c = next) {
		uint64_t limit = c->got_frame ? s->cfg->idle_timeout_ms :
						s->cfg->handshake_timeout_ms;

		next = c->next;
		if (now - c->last_read_ms > limit) {
			tw_log(TW_LOG_INFO, "%s: nothing received for %llu ms; closing", c->peer,
			       (unsigned long long)(now - c->last_read_ms));
			c->dead = true;
		}
		conn_flush(c);
		if (c->dead)
			conn_free(c);
	}
}

static void notified(void *ctx)
{
	struct tw_server *s = ctx;

	tw_polstore_notify_drain(s->ps);
	tw_policy_changed(s);
	flush_all(s);
}

int tw_server_init(struct tw_server *s, struct tw_loop *l, const struct tw_pconf *cfg,
		   struct tw_recstore *rs, struct tw_polstore *ps, char *err, size_t errlen)
{
	memset(s, 0, sizeof(*s));
	s->loop = l;
	s->cfg = cfg;
	s->rs = rs;
	s->ps = ps;
	s->lis_tls.fd = s->lis_h2c.fd = s->notify.fd = s->commit_timer.w.fd = -1;
	if (!cfg->listen[0] && !cfg->listen_h2c[0]) {
		snprintf(err, errlen, "no listen address: set [server] listen or listen_h2c");
		return -EINVAL;
	}
	if (cfg->listen[0] &&
	    (tls_init(s, err, errlen) || listen_on(s, &s->lis_tls, cfg->listen, true, err, errlen)))
		return -EINVAL;
	if (cfg->listen_h2c[0] && listen_on(s, &s->lis_h2c, cfg->listen_h2c, false, err, errlen))
		return -EINVAL;
	if (tw_timer_init(l, &s->commit_timer, "record commit", commit_due, s) ||
	    tw_loop_timer(l, "portal sweep", 1, tick, s)) {
		snprintf(err, errlen, "timers: %s", strerror(errno));
		return -EINVAL;
	}
	if (ps) {
		int fd = tw_polstore_notify_fd(ps);

		s->policy_version = tw_polstore_version(ps);
		if (fd >= 0) {
			s->notify = (struct tw_watch){ .name = "policy change notifications",
						       .fd = fd,
						       .fn = notified,
						       .ctx = s };
			tw_loop_add(l, &s->notify);
		} else {
			tw_log(TW_LOG_WARN,
			       "policy change notifications: %s; re-checking every 1 s",
			       strerror(-fd));
		}
	}
	rs->ops->nodes_reset(rs);
	return 0;
}

void tw_server_fini(struct tw_server *s)
{
	/* what is batched is committed and acked, then GOAWAY NO_ERROR: nodes reconnect at once */
	tw_server_commit(s);
	for (struct tw_conn *c = s->conns; c; c = c->next)
		if (c->h2 && !c->handshaking) {
			nghttp2_submit_goaway(c->h2, NGHTTP2_FLAG_NONE,
					      nghttp2_session_get_last_proc_stream_id(c->h2),
					      NGHTTP2_NO_ERROR, NULL, 0);
			conn_flush(c); /* best effort: the socket is non-blocking */
		}
	while (s->conns)
		conn_free(s->conns);
	tw_timer_close(&s->commit_timer);
	if (s->lis_tls.fd >= 0) {
		tw_loop_del(s->loop, &s->lis_tls);
		close(s->lis_tls.fd);
	}
	if (s->lis_h2c.fd >= 0) {
		tw_loop_del(s->loop, &s->lis_h2c);
		close(s->lis_h2c.fd);
	}
	if (s->notify.fd >= 0)
		tw_loop_del(s->loop, &s->notify);
	SSL_CTX_free(s->ssl);
	tw_sig_key_free(s->sign_key);
}
