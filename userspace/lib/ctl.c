// SPDX-License-Identifier: GPL-2.0-only
/* Control-socket framing and client calls; see ctl.h and docs/ctl-protocol.md. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include "ctl.h"

void tw_ctl_frame_init(struct tw_ctl_frame *f)
{
	f->len = 0;
	f->consumed = 0;
	f->discarding = false;
	f->max = TW_CTL_LINE_MAX;
	f->heap = NULL;
	f->heap_cap = 0;
}

void tw_ctl_frame_init_max(struct tw_ctl_frame *f, size_t max)
{
	tw_ctl_frame_init(f);
	f->max = max ? max : TW_CTL_LINE_MAX;
}

void tw_ctl_frame_fini(struct tw_ctl_frame *f)
{
	free(f->heap);
	f->heap = NULL;
	f->heap_cap = 0;
	f->len = f->consumed = 0;
}

/*
 * Frames up to TW_CTL_LINE_MAX (the daemon's, one per client) use the
 * embedded buffer and never allocate; larger limits grow a heap buffer
 * only as far as a line actually needs.
 */
static char *frame_buf(struct tw_ctl_frame *f)
{
	return f->max > TW_CTL_LINE_MAX ? f->heap : f->buf;
}

static size_t frame_cap(const struct tw_ctl_frame *f)
{
	return f->max > TW_CTL_LINE_MAX ? f->heap_cap : TW_CTL_LINE_MAX;
}

/* Make room for @want more bytes if the limit allows; 0 or -ENOMEM. */
static int frame_grow(struct tw_ctl_frame *f, size_t want)
{
	size_t cap = f->heap_cap ? f->heap_cap : 16384;
	char *nb;

	if (f->max <= TW_CTL_LINE_MAX || f->len + want <= f->heap_cap || f->heap_cap >= f->max)
		return 0;
	while (cap < f->len + want && cap < f->max)
		cap *= 2;
	if (cap > f->max)
		cap = f->max;
	nb = realloc(f->heap, cap + 1);
	if (!nb)
		return -ENOMEM;
	f->heap = nb;
	f->heap_cap = cap;
	return 0;
}

/* Drop the line handed out last; done lazily so the caller's pointer stays valid until then. */
static void frame_compact(struct tw_ctl_frame *f)
{
	if (!f->consumed)
		return;
	memmove(frame_buf(f), frame_buf(f) + f->consumed, f->len - f->consumed);
	f->len -= f->consumed;
	f->consumed = 0;
}

size_t tw_ctl_frame_push(struct tw_ctl_frame *f, const void *data, size_t n)
{
	size_t room;

	frame_compact(f);
	if (frame_grow(f, n))
		return 0;
	room = frame_cap(f) - f->len;
	if (n > room)
		n = room;
	if (n)
		memcpy(frame_buf(f) + f->len, data, n);
	f->len += n;
	return n;
}

ssize_t tw_ctl_frame_read(struct tw_ctl_frame *f, int fd)
{
	ssize_t n;

	frame_compact(f);
	if (f->len == frame_cap(f)) {
		/* grow by at least a read's worth, or report full at the limit */
		if (frame_grow(f, 16384))
			return -ENOMEM;
		if (f->len == frame_cap(f))
			return -ENOBUFS;
	}
	do {
		n = read(fd, frame_buf(f) + f->len, frame_cap(f) - f->len);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	f->len += n;
	return n;
}

int tw_ctl_frame_next(struct tw_ctl_frame *f, char **line, size_t *len)
{
	char *buf, *nl;
	size_t n;

	frame_compact(f);
	for (;;) {
		buf = frame_buf(f);
		nl = f->len ? memchr(buf, '\n', f->len) : NULL;
		if (!nl) {
			if (f->discarding) {
				f->len = 0;
				return 0;
			}
			if (f->len < f->max)
				return 0;
			/* The limit reached without a newline: too long whatever follows. */
			f->len = 0;
			f->discarding = true;
			return -EMSGSIZE;
		}
		n = nl - buf;
		if (f->discarding) {
			f->consumed = n + 1;
			f->discarding = false;
			frame_compact(f);
			continue;
		}
		f->consumed = n + 1;
		/* a limit below the buffer's size: the whole line may be here, and too long */
		if (n + 1 > f->max)
			return -EMSGSIZE;
		if (n && buf[n - 1] == '\r')
			n--;
		buf[n] = '\0';
		*line = buf;
		*len = n;
		return 1;
	}
}

bool tw_ctl_frame_pending(const struct tw_ctl_frame *f)
{
	return f->len > f->consumed || f->discarding;
}

int tw_ctl_parse(const char *line, size_t len, json_t **out, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *msg;

	msg = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!msg) {
		snprintf(err, errlen, "invalid JSON at column %d: %s", jerr.column, jerr.text);
		return -EBADMSG;
	}
	if (!json_is_object(msg)) {
		snprintf(err, errlen, "message is not a JSON object");
		json_decref(msg);
		return -EPROTO;
	}
	*out = msg;
	return 0;
}

int tw_ctl_encode(const json_t *msg, char **out, size_t *len)
{
	size_t n;
	char *buf;

	/* Measure first: a message over the limit must fail here, not at the peer. */
	n = json_dumpb(msg, NULL, 0, JSON_COMPACT);
	if (!n)
		return -EINVAL;
	if (n + 1 > TW_CTL_RESP_MAX)
		return -EMSGSIZE;
	buf = malloc(n + 1);
	if (!buf)
		return -ENOMEM;
	if (json_dumpb(msg, buf, n, JSON_COMPACT) != n) {
		free(buf);
		return -EINVAL;
	}
	buf[n] = '\n';
	*out = buf;
	*len = n + 1;
	return 0;
}

json_t *tw_ctl_error(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return json_pack("{s:b, s:s}", "ok", 0, "error", msg);
}

int64_t tw_ctl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *tw_ctl_socket_path(const char *opt)
{
	const char *env;

	if (opt && *opt)
		return opt;
	env = getenv(TW_CTL_SOCK_ENV);
	if (env && *env)
		return env;
	return TW_CTL_SOCK_DEFAULT;
}

/* Wait for @events on @fd until @deadline_ms: 0, -ETIMEDOUT or -errno. */
static int wait_fd(int fd, short events, int64_t deadline_ms)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int64_t left;
	int n;

	for (;;) {
		left = deadline_ms - tw_ctl_now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

int tw_ctl_connect(const char *path, int64_t deadline_ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t plen = strlen(path);
	int fd, err;

	if (!plen)
		return -EINVAL;
	if (plen >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, plen);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	for (;;) {
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
		err = -errno;
		if (err == -EINTR)
			continue;
		/*
		 * A non-blocking AF_UNIX connect fails with EAGAIN while the
		 * listener's backlog is full and cannot be polled for: retry
		 * briefly until the deadline.
		 */
		if (err != -EAGAIN)
			break;
		if (tw_ctl_now_ms() >= deadline_ms) {
			err = -ETIMEDOUT;
			break;
		}
		usleep(1000);
	}
	close(fd);
	return err;
}

int tw_ctl_send(int fd, const json_t *msg, int64_t deadline_ms)
{
	size_t len, off = 0;
	char *buf;
	ssize_t n;
	int err;

	err = tw_ctl_encode(msg, &buf, &len);
	if (err)
		return err;
	while (off < len) {
		n = send(fd, buf + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n >= 0) {
			off += n;
			continue;
		}
		err = -errno;
		if (err == -EINTR)
			continue;
		if (err != -EAGAIN)
			break;
		err = wait_fd(fd, POLLOUT, deadline_ms);
		if (err)
			break;
	}
	if (off == len)
		err = 0;
	free(buf);
	return err;
}

int tw_ctl_recv(int fd, struct tw_ctl_frame *f, json_t **msg, int64_t deadline_ms, char *err,
		size_t errlen)
{
	size_t len;
	char *line;
	ssize_t n;
	int ret;

	for (;;) {
		ret = tw_ctl_frame_next(f, &line, &len);
		if (ret == 1)
			return tw_ctl_parse(line, len, msg, err, errlen);
		if (ret < 0) {
			snprintf(err, errlen, "message longer than %zu bytes", f->max);
			return ret;
		}
		n = tw_ctl_frame_read(f, fd);
		if (n > 0)
			continue;
		if (n == 0) {
			snprintf(err, errlen, "connection closed before a complete response");
			return -ECONNRESET;
		}
		if (n != -EAGAIN) {
			snprintf(err, errlen, "read: %s", strerror((int)-n));
			return (int)n;
		}
		ret = wait_fd(fd, POLLIN, deadline_ms);
		if (ret) {
			snprintf(err, errlen,
				 ret == -ETIMEDOUT ? "no response in time" : "poll: %s",
				 strerror(-ret));
			return ret;
		}
	}
}

int tw_ctl_response_check(const json_t *resp, const char **errmsg)
{
	const json_t *ok = json_object_get(resp, "ok");
	const char *e;

	if (json_is_true(ok))
		return 0;
	if (!json_is_false(ok))
		return -EPROTO;
	e = json_string_value(json_object_get(resp, "error"));
	*errmsg = e ? e : "(no error message)";
	return -EREMOTEIO;
}

static const char *connect_hint(int err)
{
	switch (err) {
	case -ENOENT:
		return " (is tunwardend running?)";
	case -ECONNREFUSED:
		return " (socket exists but nobody listens: tunwardend is not running)";
	case -EACCES:
		return " (permission denied: admin commands need root)";
	default:
		return "";
	}
}

int tw_ctl_call(const char *path, const json_t *req, json_t **resp, int timeout_ms, char *err,
		size_t errlen)
{
	int64_t deadline = tw_ctl_now_ms() + timeout_ms;
	struct tw_ctl_frame *f = NULL;
	const char *emsg;
	json_t *msg = NULL;
	int fd, ret;

	*resp = NULL;
	fd = tw_ctl_connect(path, deadline);
	if (fd < 0) {
		snprintf(err, errlen, "cannot connect to %s: %s%s", path,
			 fd == -ETIMEDOUT ? "timed out" : strerror(-fd), connect_hint(fd));
		return fd;
	}
	ret = tw_ctl_send(fd, req, deadline);
	if (ret) {
		snprintf(err, errlen, "sending request to %s: %s", path,
			 ret == -ETIMEDOUT ? "timed out" : strerror(-ret));
		goto out_close;
	}
	f = malloc(sizeof(*f));
	if (!f) {
		ret = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out_close;
	}
	tw_ctl_frame_init_max(f, TW_CTL_RESP_MAX);
	ret = tw_ctl_recv(fd, f, &msg, deadline, err, errlen);
	if (ret)
		goto out_free;
	ret = tw_ctl_response_check(msg, &emsg);
	if (ret == -EPROTO)
		snprintf(err, errlen, "response without \"ok\" true/false");
	else if (ret == -EREMOTEIO)
		snprintf(err, errlen, "%s", emsg);
	if (ret == -EPROTO)
		json_decref(msg);
	else
		*resp = msg;
out_free:
	tw_ctl_frame_fini(f);
	free(f);
out_close:
	close(fd);
	return ret;
}

/* In usage-text order; docs/ctl-protocol.md describes each. */
const struct tw_ctl_op tw_ctl_ops[TW_OP__MAX] = {
	[TW_OP_CONNECT] = { "connect", TW_CTL_HOOK, NULL, "admit a VPN session (tunwarden-hook)" },
	[TW_OP_DISCONNECT] = { "disconnect", TW_CTL_HOOK, NULL,
			       "end a VPN session (tunwarden-hook)" },
	[TW_OP_STATUS] = { "status", TW_CTL_ADMIN, "", "daemon, policy, portal and journal state" },
	[TW_OP_CLIENTS] = { "clients", TW_CTL_ADMIN, "", "live sessions with their counters" },
	[TW_OP_CLIENT] = { "client", TW_CTL_ADMIN, "CN",
			   "one subject: policy entry and live session" },
	[TW_OP_COUNTERS] = { "counters", TW_CTL_ADMIN, "",
			     "node-wide traffic and drops by reason" },
	[TW_OP_LOG] = { "log", TW_CTL_ADMIN, "[--since SEQ]",
			"journal records after sequence number SEQ" },
	[TW_OP_KILL] = { "kill", TW_CTL_ADMIN, "CN", "end CN's live session" },
	[TW_OP_BAN] = { "ban", TW_CTL_ADMIN, "CN|ADDR [--for DUR]",
			"ban a subject or a real source address (DUR: 90s, 10m, 2h, 1d)" },
	[TW_OP_UNBAN] = { "unban", TW_CTL_ADMIN, "CN|ADDR", "lift a ban" },
	[TW_OP_CONFIRM] = { "confirm", TW_CTL_ADMIN, "CN", "move a sandboxed session to permit" },
	[TW_OP_POLICY] = { "policy", TW_CTL_ADMIN, "",
			   "the cached policy bundle: version, age, profiles" },
	[TW_OP_RELOAD] = { "reload", TW_CTL_ADMIN, "",
			   "re-read the configuration and the local policy file" },
	[TW_OP_DETACH] = { "detach", TW_CTL_ADMIN, "IFNAME|--all",
			   "take the dataplane off tunnel interfaces until `attach` (lasts)" },
	[TW_OP_ATTACH] = { "attach", TW_CTL_ADMIN, "IFNAME|--all",
			   "lift a detach: enforce and count on the interfaces again" },
};

int tw_ctl_op_find(const char *name, enum tw_ctl_op_id *id)
{
	for (int i = 0; i < TW_OP__MAX; i++) {
		if (tw_ctl_ops[i].name && !strcmp(tw_ctl_ops[i].name, name)) {
			*id = (enum tw_ctl_op_id)i;
			return 0;
		}
	}
	return -ENOENT;
}
