// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "ctl.h"
#include "ctlsrv.h"
#include "daemon.h"
#include "log.h"
#include "loop.h"

#define MAX_CONNS 64

struct conn {
	struct tw_watch w; /* w.fd < 0: free */
	struct tw_ctlsrv *srv;
	struct tw_ctl_peer peer;
	struct tw_ctl_frame *fr;
};

struct tw_ctlsrv {
	struct tw_daemon *d;
	struct tw_watch listen;
	struct conn conns[MAX_CONNS];
};

static void conn_close(struct tw_ctlsrv *srv, struct conn *c)
{
	tw_loop_del(srv->d->loop, &c->w);
	close(c->w.fd);
	free(c->fr);
	c->w.fd = -1;
	c->fr = NULL;
}

static void conn_reply(struct conn *c, json_t *resp)
{
	/* a large answer (clients, log) outgrows the socket buffer: bounded
	 * partial writes, never an unbounded stall of the loop */
	if (!resp)
		resp = tw_ctl_error("internal error: out of memory");
	if (resp && tw_ctl_send(c->w.fd, resp, tw_ctl_now_ms() + 2000))
		tw_warn("control client: reply not delivered in 2 s");
	json_decref(resp);
}

static void conn_readable(void *ctx)
{
	struct conn *c = ctx;
	char err[256], *line;
	size_t len;
	ssize_t n;
	int rc;

	if (c->w.fd < 0)
		return;
	n = tw_ctl_frame_read(c->fr, c->w.fd);
	if (n <= 0 && n != -EAGAIN) {
		conn_close(c->srv, c);
		return;
	}
	while ((rc = tw_ctl_frame_next(c->fr, &line, &len)) != 0) {
		json_t *req = NULL;

		if (rc < 0) {
			conn_reply(c,
				   tw_ctl_error("request longer than %d bytes", TW_CTL_LINE_MAX));
			continue;
		}
		if (tw_ctl_parse(line, len, &req, err, sizeof(err))) {
			conn_reply(c, tw_ctl_error("%s", err));
			continue;
		}
		conn_reply(c, tw_ops_dispatch(c->srv->d, &c->peer, req));
		json_decref(req);
	}
}

static void conn_accept(void *ctx)
{
	struct tw_ctlsrv *srv = ctx;
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	int fd = accept4(srv->listen.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	struct conn *c = NULL;

	if (fd < 0)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl)) {
		close(fd);
		return;
	}
	for (int i = 0; i < MAX_CONNS && !c; i++)
		if (srv->conns[i].w.fd < 0)
			c = &srv->conns[i];
	if (!c) {
		tw_warn("control socket: too many clients, refusing one");
		close(fd);
		return;
	}
	c->fr = malloc(sizeof(*c->fr));
	if (!c->fr) {
		close(fd);
		return;
	}
	tw_ctl_frame_init(c->fr);
	c->peer = (struct tw_ctl_peer){ .uid = cred.uid, .gid = cred.gid };
	c->w.fd = fd;
	if (tw_loop_add(srv->d->loop, &c->w))
		conn_close(srv, c);
}

static int ctl_listen(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[TW_CFG_SUN_PATH_MAX], *slash;
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
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 64)) {
		err = -errno;
		close(fd);
		return err;
	}
	/* the hook runs as OpenVPN's user: any local user may connect, the
	 * ops are checked against the peer's credentials */
	chmod(sa.sun_path, 0666);
	return fd;
}

int tw_ctlsrv_open(struct tw_daemon *d)
{
	struct tw_ctlsrv *srv = calloc(1, sizeof(*srv));
	int fd, err;

	if (!srv)
		return -ENOMEM;
	srv->d = d;
	for (int i = 0; i < MAX_CONNS; i++)
		srv->conns[i] = (struct conn){
			.w = { .name = "control client",
			       .fd = -1,
			       .fn = conn_readable,
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
	if (err) {
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
	for (int i = 0; i < MAX_CONNS; i++)
		if (srv->conns[i].w.fd >= 0)
			conn_close(srv, &srv->conns[i]);
	tw_loop_del(d->loop, &srv->listen);
	close(srv->listen.fd);
	free(srv);
	d->ctl = NULL;
}
