/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The control socket between tunwardend and its clients (tunwarden-hook,
 * the tunwarden CLI): newline-delimited JSON over a SOCK_STREAM Unix socket,
 * one request object per line, one response object per line. The protocol
 * is written down in docs/ctl-protocol.md; change the two together.
 *
 * Framing (struct tw_ctl_frame) is shared by both ends and is pure: bytes
 * go in with tw_ctl_frame_push() or tw_ctl_frame_read(), complete lines come
 * out of tw_ctl_frame_next(). The client calls bound every wait by one
 * absolute deadline on CLOCK_MONOTONIC so a hook can promise OpenVPN an
 * answer within its budget whatever the daemon does.
 */
#ifndef TW_CTL_H
#define TW_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>

#define TW_CTL_SOCK_DEFAULT "/run/tunwarden/tunwardend.sock"
#define TW_CTL_SOCK_ENV	    "TUNWARDEN_SOCKET"

/*
 * Longest request line, the terminating '\n' included: what the daemon
 * buffers per client. Responses may be longer (a "clients" listing of a busy
 * node, a "log" page): up to TW_CTL_RESP_MAX.
 */
#define TW_CTL_LINE_MAX 65536 /* 64 KiB */
#define TW_CTL_RESP_MAX 16777216 /* 16 MiB */

struct tw_ctl_frame {
	size_t len; /* bytes held */
	size_t consumed; /* bytes of the line last returned, dropped on the next call */
	bool discarding; /* inside an over-long line: drop bytes up to its '\n' */
	size_t max; /* longest line accepted, '\n' included */
	char *heap; /* max > TW_CTL_LINE_MAX: growable buffer used instead of buf */
	size_t heap_cap;
	char buf[TW_CTL_LINE_MAX + 1]; /* +1: room for the NUL that ends a returned line */
};

/* Lines up to TW_CTL_LINE_MAX, in the embedded buffer: needs no tw_ctl_frame_fini(). */
void tw_ctl_frame_init(struct tw_ctl_frame *f);

/*
 * Lines up to @max bytes (e.g. TW_CTL_RESP_MAX); beyond TW_CTL_LINE_MAX the
 * buffer is allocated as lines grow, so release it with tw_ctl_frame_fini().
 */
void tw_ctl_frame_init_max(struct tw_ctl_frame *f, size_t max);
void tw_ctl_frame_fini(struct tw_ctl_frame *f);

/*
 * Append up to @n bytes; returns how many were taken. Fewer than @n means
 * the buffer is full: call tw_ctl_frame_next() and push the rest.
 */
size_t tw_ctl_frame_push(struct tw_ctl_frame *f, const void *data, size_t n);

/*
 * One read(2) from @fd into @f. Returns the byte count, 0 at end of file,
 * -EAGAIN on a non-blocking fd with nothing to read, -ENOBUFS when the
 * buffer is full (call tw_ctl_frame_next() first), -ENOMEM, or -errno.
 */
ssize_t tw_ctl_frame_read(struct tw_ctl_frame *f, int fd);

/*
 * The next complete line, without its "\n" (or "\r\n"), NUL-terminated in
 * place; valid until the next call on @f. Returns 1 with *line and *len set, 0
 * when more bytes are needed, or -EMSGSIZE once per line longer than the
 * frame's limit (its bytes are skipped up to and including its '\n', so a
 * server can answer with an error and carry on with the next line).
 */
int tw_ctl_frame_next(struct tw_ctl_frame *f, char **line, size_t *len);

/* True when bytes of an unfinished line are held (EOF now means truncation). */
bool tw_ctl_frame_pending(const struct tw_ctl_frame *f);

/*
 * Parse one line into a JSON object. -EBADMSG for invalid JSON (or a
 * duplicated key), -EPROTO when valid JSON is not an object; @err then says
 * which and where, e.g. "invalid JSON at column 7: unexpected token".
 */
int tw_ctl_parse(const char *line, size_t len, json_t **out, char *err, size_t errlen);

/*
 * Encode @msg as one compact line with its '\n' into a malloc'd buffer.
 * -EMSGSIZE when it would exceed TW_CTL_RESP_MAX; -ENOMEM; -EINVAL when
 * jansson refuses it. (A request over TW_CTL_LINE_MAX is the daemon's to
 * refuse, with a message the client can show.)
 */
int tw_ctl_encode(const json_t *msg, char **out, size_t *len);

/* {"ok":false,"error":"..."} for servers; NULL only when out of memory. */
json_t *tw_ctl_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* CLOCK_MONOTONIC in milliseconds, the clock of every deadline below. */
int64_t tw_ctl_now_ms(void);

/* @opt if set, else $TUNWARDEN_SOCKET if set and non-empty, else the default. */
const char *tw_ctl_socket_path(const char *opt);

/*
 * Connect to the daemon's socket before @deadline_ms. Returns a
 * non-blocking, close-on-exec fd, or -EINVAL (empty path), -ENAMETOOLONG
 * (beyond sun_path), -ENOENT (no socket),
 * -ECONNREFUSED (no daemon), -EACCES, -ETIMEDOUT (backlog full throughout).
 */
int tw_ctl_connect(const char *path, int64_t deadline_ms);

/*
 * Write @msg as one line to the non-blocking @fd before @deadline_ms,
 * however many writes that takes: for requests and for responses alike.
 */
int tw_ctl_send(int fd, const json_t *msg, int64_t deadline_ms);

/*
 * Read the next message from @fd into *@msg (a new reference), buffering in
 * @f (whose limit bounds the message). -ETIMEDOUT, -ECONNRESET when the peer
 * closed first, -EMSGSIZE, -ENOMEM, -EBADMSG, -EPROTO as for
 * tw_ctl_parse(); @err says which.
 */
int tw_ctl_recv(int fd, struct tw_ctl_frame *f, json_t **msg, int64_t deadline_ms, char *err,
		size_t errlen);

/*
 * Check a response: 0 for {"ok":true}, -EREMOTEIO for {"ok":false} with
 * *@errmsg pointing at its "error" text (owned by @resp), -EPROTO when it
 * is neither.
 */
int tw_ctl_response_check(const json_t *resp, const char **errmsg);

/*
 * One request-response exchange on a fresh connection to @path, all of it
 * within @timeout_ms; the response may be up to TW_CTL_RESP_MAX. Returns 0 (ok:true), -EREMOTEIO (ok:false; *@resp
 * holds the response), or a transport error from the functions above. On
 * any failure @err holds a message fit for a log line. *@resp is set only
 * when a response object was received.
 */
int tw_ctl_call(const char *path, const json_t *req, json_t **resp, int timeout_ms, char *err,
		size_t errlen);

/*
 * The operations of the protocol, one table for both ends: tunwardend looks a
 * request's "op" up here to learn who may call it and dispatches on the id;
 * the tunwarden CLI takes its subcommands and its usage text from the same
 * rows (as wg(8) and bpftool do). Ops without a synopsis are not CLI
 * subcommands (the hook sends them).
 */
enum tw_ctl_op_id {
	TW_OP_CONNECT,
	TW_OP_DISCONNECT,
	TW_OP_STATUS,
	TW_OP_CLIENTS,
	TW_OP_CLIENT,
	TW_OP_COUNTERS,
	TW_OP_LOG,
	TW_OP_KILL,
	TW_OP_BAN,
	TW_OP_UNBAN,
	TW_OP_CONFIRM,
	TW_OP_POLICY,
	TW_OP_RELOAD,
	TW_OP_DETACH,
	TW_OP_ATTACH,
	TW_OP__MAX
};

/* Who may call an op: the daemon checks the peer's SO_PEERCRED against this. */
enum tw_ctl_who {
	TW_CTL_ADMIN, /* uid 0 */
	TW_CTL_HOOK, /* uid 0, or the configured hook_user / hook_group */
};

struct tw_ctl_op {
	const char *name;
	enum tw_ctl_who who;
	const char *args; /* CLI arguments after the name; NULL: not a CLI subcommand */
	const char *help; /* one line */
};

extern const struct tw_ctl_op tw_ctl_ops[TW_OP__MAX];

/* The op named @name, or -ENOENT. */
int tw_ctl_op_find(const char *name, enum tw_ctl_op_id *id);

#endif /* TW_CTL_H */
