// SPDX-License-Identifier: GPL-2.0-only
/*
 * The control socket's connections, each non-blocking in the one loop. Any
 * local user may connect (docs/ctl-protocol.md, "Limits"), so nothing a peer
 * does may hold the loop: requests are read as they come, replies wait in a
 * bounded per-connection queue that is written when the socket takes it, and
 * a peer that does not take its replies, or says nothing, is dropped after a
 * few seconds. Slots are counted per uid, and some are kept for root and the
 * hook identity, so no unprivileged user can take the socket away from them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "ctl.h"
#include "ctlsrv.h"
#include "daemon.h"
#include "log.h"
#include "loop.h"

#define CTL_MAX_CONNS	  256 /* all connections */
#define CTL_ROOT_RESERVED 16 /* of them, only root may use these */
#define CTL_HOOK_RESERVED 48 /* and these only root or the hook identity */
#define CTL_UID_MAX	  8 /* connections of one uid that is neither */
#define CTL_OUTQ_LOW	  65536 /* replies waiting: serve no more requests (backpressure) */
#define CTL_OUTQ_MAX	  (1 << 20) /* replies behind a first one: beyond, the peer is dropped */
#define CTL_IDLE_MS	  5000 /* no complete request for this long: dropped */
#define CTL_SEND_MS	  5000 /* replies not taken in full for this long: dropped */
#define CTL_BATCH	  64 /* requests served per wakeup, so one peer cannot hog the loop */
#define CTL_ACCEPT_BURST  32
#define CTL_REFUSE_LOG_MS 5000 /* at most one "refused" line this often */

#define STR_(x) #x
#define STR(x)	STR_(x)

enum peer_class {
	PEER_OTHER,
	PEER_HOOK, /* the configured hook_user / hook_group, not root */
	PEER_ROOT,
};

struct conn {
	struct tw_watch w; /* w.fd < 0: free */
	struct tw_ctlsrv *srv;
	struct tw_ctl_peer peer;
	enum peer_class cls;
	struct tw_ctl_frame *fr;
	char *out; /* replies not yet written: out[off..len) */
	size_t out_off, out_len;
	int64_t deadline_ms; /* idle, or (sending) the queue must be empty by then */
	bool sending;
	bool more; /* complete requests may still be buffered: serve them before reading */
	bool eof; /* the peer shut down its side: answer what it sent, then close */
};

struct tw_ctlsrv {
	struct tw_daemon *d;
	struct tw_watch listen;
	unsigned int nconns, nclass[PEER_ROOT + 1];
	int64_t refuse_log_ms; /* next time a refusal may be logged */
	unsigned int refused; /* since the last one logged */
	struct conn conns[CTL_MAX_CONNS];
};

static void conn_close(struct tw_ctlsrv *srv, struct conn *c)
{
	tw_loop_del(srv->d->loop, &c->w);
	close(c->w.fd);
	free(c->fr);
	free(c->out);
	c->w.fd = -1;
	c->fr = NULL;
	c->out = NULL;
	c->out_off = c->out_len = 0;
	srv->nconns--;
	srv->nclass[c->cls]--;
}

/* The one log line of a forced close, naming the peer. */
static void conn_drop(struct conn *c, const char *why)
{
	tw_warn("control client uid %u pid %d: %s, dropped", (unsigned)c->peer.uid,
		(int)c->peer.pid, why);
	conn_close(c->srv, c);
}

/* Queue @resp (consumed) behind what is pending. -ENOBUFS: the queue would overflow. */
static int conn_queue(struct conn *c, json_t *resp)
{
	size_t len, pending = c->out_len - c->out_off;
	char *buf, *grown;
	int err;

	if (!resp)
		resp = tw_ctl_error("internal error: out of memory");
	if (!resp)
		return -ENOMEM;
	err = tw_ctl_encode(resp, &buf, &len);
	json_decref(resp);
	if (err == -EMSGSIZE)
		return conn_queue(c,
				  tw_ctl_error("response longer than %d bytes", TW_CTL_RESP_MAX));
	if (err)
		return err;
	if (!pending) {
		/* one response of any size up to TW_CTL_RESP_MAX, without a copy */
		free(c->out);
		c->out = buf;
		c->out_off = 0;
		c->out_len = len;
		return 0;
	}
	if (pending + len > CTL_OUTQ_MAX) {
		free(buf);
		return -ENOBUFS;
	}
	memmove(c->out, c->out + c->out_off, pending);
	grown = realloc(c->out, pending + len);
	if (!grown) {
		free(buf);
		return -ENOMEM;
	}
	memcpy(grown + pending, buf, len);
	free(buf);
	c->out = grown;
	c->out_off = 0;
	c->out_len = pending + len;
	return 0;
}

/* Write what the socket takes now. 0, or -errno when the peer is gone. */
static int conn_flush(struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->w.fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		c->out_off += (size_t)n;
	}
	free(c->out);
	c->out = NULL;
	c->out_off = c->out_len = 0;
	return 0;
}

static json_t *conn_answer(struct conn *c, int rc, char *line, size_t len)
{
	char err[256];
	json_t *req, *resp;

	if (rc < 0)
		return tw_ctl_error("request longer than %d bytes", TW_CTL_LINE_MAX);
	if (tw_ctl_parse(line, len, &req, err, sizeof(err)))
		return tw_ctl_error("%s", err);
	resp = tw_ops_dispatch(c->srv->d, &c->peer, req);
	json_decref(req);
	return resp;
}

static void conn_event(void *ctx)
{
	struct conn *c = ctx;
	int64_t now;
	unsigned int served = 0;
	size_t len;
	char *line;
	ssize_t n;
	int rc;

	if (c->w.fd < 0)
		return;
	if (conn_flush(c)) {
		conn_close(c->srv, c);
		return;
	}
	/* backpressure: nothing more is read while replies wait or requests are buffered */
	if ((c->w.revents & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !c->out_len && !c->more &&
	    !c->eof) {
		n = tw_ctl_frame_read(c->fr, c->w.fd);
		if (n == 0)
			c->eof = true;
		else if (n < 0 && n != -EAGAIN && n != -ENOBUFS) {
			conn_close(c->srv, c);
			return;
		}
	}
	c->more = false;
	for (;;) {
		/* the rest when the socket takes these replies, or on the next round */
		if (c->out_len - c->out_off >= CTL_OUTQ_LOW || served == CTL_BATCH) {
			c->more = true;
			break;
		}
		rc = tw_ctl_frame_next(c->fr, &line, &len);
		if (!rc)
			break;
		rc = conn_queue(c, conn_answer(c, rc, line, len));
		if (rc) {
			conn_drop(c, rc == -ENOBUFS ? "replies not read (output queue full)" :
						      "out of memory");
			return;
		}
		served++;
		if (conn_flush(c)) {
			conn_close(c->srv, c);
			return;
		}
	}
	if (c->eof && !c->out_len && !c->more) {
		conn_close(c->srv, c);
		return;
	}
	/* Replies wait in the queue, or in the socket while it is too full to
	 * take more (a Unix socket polls writable again only below a quarter of
	 * its buffer): either way the peer must take them in time. */
	now = tw_ctl_now_ms();
	if ((c->out_len || c->more) && !c->sending) {
		c->sending = true;
		c->deadline_ms = now + CTL_SEND_MS;
	} else if (!c->out_len && !c->more && (c->sending || served)) {
		c->sending = false;
		c->deadline_ms = now + CTL_IDLE_MS;
	}
	if (tw_loop_mod(c->srv->d->loop, &c->w, !c->out_len && !c->more && !c->eof,
			c->out_len || c->more))
		conn_drop(c, "cannot watch its socket");
}

/* The loop's 1 s timer: drop the peers past their deadline. */
static void ctlsrv_sweep(void *ctx)
{
	struct tw_daemon *d = ctx;
	struct tw_ctlsrv *srv = d->ctl;
	int64_t now = tw_ctl_now_ms();

	if (!srv)
		return;
	for (int i = 0; i < CTL_MAX_CONNS; i++) {
		struct conn *c = &srv->conns[i];

		if (c->w.fd < 0 || now < c->deadline_ms)
			continue;
		conn_drop(c, c->sending ? "replies not taken in " STR(CTL_SEND_MS) " ms" :
					  "no request in " STR(CTL_IDLE_MS) " ms");
	}
}

static enum peer_class peer_class(const struct tw_daemon *d, const struct tw_ctl_peer *p)
{
	if (p->uid == 0)
		return PEER_ROOT;
	return tw_ops_hook_identity(d, p) ? PEER_HOOK : PEER_OTHER;
}

/* NULL when @p may not have another connection: why says so. */
static const char *conn_refusal(const struct tw_ctlsrv *srv, const struct tw_ctl_peer *p,
				enum peer_class cls)
{
	unsigned int mine = 0;

	if (srv->nconns == CTL_MAX_CONNS)
		return "all connections in use";
	if (cls == PEER_ROOT)
		return NULL;
	if (srv->nconns >= CTL_MAX_CONNS - CTL_ROOT_RESERVED)
		return "remaining connections are kept for root";
	if (cls == PEER_HOOK)
		return NULL;
	if (srv->nclass[PEER_OTHER] >= CTL_MAX_CONNS - CTL_ROOT_RESERVED - CTL_HOOK_RESERVED)
		return "remaining connections are kept for root and the hook";
	for (int i = 0; i < CTL_MAX_CONNS; i++)
		if (srv->conns[i].w.fd >= 0 && srv->conns[i].peer.uid == p->uid)
			mine++;
	return mine >= CTL_UID_MAX ? "too many connections of this uid" : NULL;
}

static void conn_refuse(struct tw_ctlsrv *srv, int fd, const struct tw_ctl_peer *p, const char *why)
{
	int64_t now = tw_ctl_now_ms();
	json_t *resp = tw_ctl_error("control socket busy: %s (uid %u)", why, (unsigned)p->uid);
	char *buf;
	size_t len;

	/* a fresh socket's buffer is empty: one non-blocking send tells the client why */
	if (resp && !tw_ctl_encode(resp, &buf, &len)) {
		if (send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
			tw_dbg("control socket: refusal not sent: %s", strerror(errno));
		free(buf);
	}
	json_decref(resp);
	close(fd);
	/* refusals come in floods: one line now and then, with the count */
	if (now < srv->refuse_log_ms) {
		srv->refused++;
		return;
	}
	tw_warn("control socket: refused uid %u pid %d: %s (%u more refused before)",
		(unsigned)p->uid, (int)p->pid, why, srv->refused);
	srv->refused = 0;
	srv->refuse_log_ms = now + CTL_REFUSE_LOG_MS;
}

static void conn_accept_one(struct tw_ctlsrv *srv, int fd)
{
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	struct tw_ctl_peer peer;
	enum peer_class cls;
	const char *why;
	struct conn *c = NULL;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl)) {
		close(fd);
		return;
	}
	peer = (struct tw_ctl_peer){ .uid = cred.uid, .gid = cred.gid, .pid = cred.pid };
	cls = peer_class(srv->d, &peer);
	why = conn_refusal(srv, &peer, cls);
	if (why) {
		conn_refuse(srv, fd, &peer, why);
		return;
	}
	for (int i = 0; i < CTL_MAX_CONNS && !c; i++)
		if (srv->conns[i].w.fd < 0)
			c = &srv->conns[i];
	c->fr = malloc(sizeof(*c->fr));
	if (!c->fr) {
		close(fd);
		return;
	}
	tw_ctl_frame_init(c->fr);
	c->peer = peer;
	c->cls = cls;
	c->deadline_ms = tw_ctl_now_ms() + CTL_IDLE_MS;
	c->sending = c->more = c->eof = false;
	c->w.fd = fd;
	srv->nconns++;
	srv->nclass[cls]++;
	if (tw_loop_add(srv->d->loop, &c->w))
		conn_close(srv, c);
}

static void conn_accept(void *ctx)
{
	struct tw_ctlsrv *srv = ctx;

	for (int i = 0; i < CTL_ACCEPT_BURST; i++) {
		int fd = accept4(srv->listen.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return;
		conn_accept_one(srv, fd);
	}
}

static int ctl_listen(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[TW_CFG_SUN_PATH_MAX], *slash;
	mode_t old_umask;
	int fd, err;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash) {
		*slash = '\0';
		mkdir(dir, 0755);
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(sa.sun_path);
	/* The hook runs as OpenVPN's user: any local user may connect, the ops
	 * are checked against the peer's credentials. bind() makes the socket
	 * file 0777 & ~umask, so the mode is right from its first instant; a
	 * chmod() after it would follow whatever the path then names. One
	 * thread: nothing else creates files meanwhile. */
	old_umask = umask(0111);
	err = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ? -errno : 0;
	umask(old_umask);
	if (err || listen(fd, 128)) {
		err = err ? err : -errno;
		close(fd);
		return err;
	}
	return fd;
}

int tw_ctlsrv_open(struct tw_daemon *d)
{
	struct tw_ctlsrv *srv = calloc(1, sizeof(*srv));
	int fd, err;

	if (!srv)
		return -ENOMEM;
	srv->d = d;
	for (int i = 0; i < CTL_MAX_CONNS; i++)
		srv->conns[i] = (struct conn){
			.w = { .name = "control client",
			       .fd = -1,
			       .fn = conn_event,
			       .ctx = &srv->conns[i] },
			.srv = srv,
		};
	fd = ctl_listen(d->cfg.socket_path);
	if (fd < 0) {
		free(srv);
		return fd;
	}
	srv->listen = (struct tw_watch){
		.name = "control socket", .fd = fd, .fn = conn_accept, .ctx = srv
	};
	err = tw_loop_add(d->loop, &srv->listen);
	if (!err)
		err = tw_loop_timer(d->loop, "control deadlines", 1, ctlsrv_sweep, d);
	if (err) {
		tw_loop_del(d->loop, &srv->listen);
		close(fd);
		free(srv);
		return err;
	}
	d->ctl = srv;
	return 0;
}

void tw_ctlsrv_close(struct tw_daemon *d)
{
	struct tw_ctlsrv *srv = d->ctl;

	if (!srv)
		return;
	for (int i = 0; i < CTL_MAX_CONNS; i++)
		if (srv->conns[i].w.fd >= 0)
			conn_close(srv, &srv->conns[i]);
	tw_loop_del(d->loop, &srv->listen);
	close(srv->listen.fd);
	free(srv);
	d->ctl = NULL;
}
