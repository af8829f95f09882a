// SPDX-License-Identifier: GPL-2.0-only
/*
 * OpenVPN management client: one state machine per server, driven by the
 * loop (socket readiness and a timerfd for deadlines and retries). Nothing
 * here waits on a peer; see mgmt.h for the protocol of a round.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>

#include "log.h"
#include "loop.h"
#include "mgmt.h"

#define MGMT_MAX_JOBS	 1024 /* queued commands per server; beyond, the oldest is dropped */
#define MGMT_CMD_MS	 2000 /* a step (connect + banner, a reply) silent this long: retry */
#define MGMT_BACKOFF_MIN 500
#define MGMT_BACKOFF_MAX 30000
#define MGMT_LINE_MAX	 2048 /* longer lines are cut (CLIENT_LIST lines are far shorter) */
#define MGMT_OUT_MAX	 1024 /* one command at a time is queued */
#define MGMT_READ_BURST	 (256 * 1024) /* bytes read per wakeup, so one server cannot hog the loop */

enum srv_state {
	SRV_IDLE, /* nothing to deliver */
	SRV_WAIT, /* the last round failed: retry at next_ms */
	SRV_CONNECT, /* non-blocking connect in progress */
	SRV_BANNER, /* connected, waiting for >INFO: (a busy slot never sends it) */
	SRV_LIST, /* `status 3` sent, reading up to END */
	SRV_KILL, /* `client-kill` sent, waiting for SUCCESS:/ERROR: */
};

static const char *const state_names[] = {
	[SRV_IDLE] = "idle",	     [SRV_WAIT] = "waiting",   [SRV_CONNECT] = "connecting",
	[SRV_BANNER] = "connecting", [SRV_LIST] = "connected", [SRV_KILL] = "connected",
};

enum job_kind { JOB_KILL, JOB_LIST };

struct job {
	enum job_kind kind;
	char cn[TW_REC_SUBJECT_MAX];
	struct tw_addr real;
	uint16_t port;
	bool halt;
	struct tw_mgmt_list_ops ops; /* JOB_LIST */
	int64_t queued_ms;
	/* this round: */
	bool in_round, sent;
	long cid;
};

struct server {
	struct tw_mgmt *m;
	unsigned int idx;
	char path[TW_CFG_SUN_PATH_MAX];
	enum srv_state state;
	struct tw_watch sock, timer;
	int64_t deadline_ms; /* of the current step, or the retry in SRV_WAIT */
	unsigned int backoff_ms;
	struct job *jobs; /* a queue in arrival order */
	unsigned int njobs;
	char out[MGMT_OUT_MAX];
	size_t out_len;
	char line[MGMT_LINE_MAX];
	size_t line_len;
	bool line_cut;
	int cols[5]; /* CLIENT_LIST columns: cn, real, virt4, virt6, cid (-1: absent) */
	unsigned int gen; /* bumped when the socket is closed: stale events are ignored */
	char last_error[160];
	unsigned int streak; /* failed attempts in a row: the first is logged as a warning */
	uint64_t delivered, failures, dropped;
};

struct tw_mgmt {
	struct tw_loop *loop;
	unsigned int n;
	struct server srv[];
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void arm(struct server *s, int64_t at_ms)
{
	struct itimerspec its = {};

	s->deadline_ms = at_ms;
	if (at_ms) {
		its.it_value.tv_sec = at_ms / 1000;
		its.it_value.tv_nsec = (at_ms % 1000) * 1000000;
	}
	timerfd_settime(s->timer.fd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void sock_close(struct server *s)
{
	if (s->sock.fd < 0)
		return;
	tw_loop_del(s->m->loop, &s->sock);
	close(s->sock.fd);
	s->sock.fd = -1;
	s->gen++;
	s->out_len = s->line_len = 0;
	s->line_cut = false;
}

static void job_drop(struct server *s, unsigned int i)
{
	memmove(&s->jobs[i], &s->jobs[i + 1], (s->njobs - i - 1) * sizeof(s->jobs[0]));
	s->njobs--;
}

static void round_start(struct server *s);

/* The round failed (@why): keep every command, retry later. */
static void round_fail(struct server *s, const char *why)
{
	bool first = !s->streak++;

	sock_close(s);
	for (unsigned int i = 0; i < s->njobs; i++)
		s->jobs[i].in_round = s->jobs[i].sent = false;
	snprintf(s->last_error, sizeof(s->last_error), "%s", why);
	s->failures++;
	if (first || s->backoff_ms >= MGMT_BACKOFF_MAX)
		tw_warn("openvpn management %s: %s; %u command(s) pending, retry in %u ms", s->path,
			why, s->njobs, s->backoff_ms);
	else
		tw_dbg("openvpn management %s: %s; retry in %u ms", s->path, why, s->backoff_ms);
	s->state = SRV_WAIT;
	arm(s, now_ms() + s->backoff_ms);
	s->backoff_ms = s->backoff_ms * 2 > MGMT_BACKOFF_MAX ? MGMT_BACKOFF_MAX : s->backoff_ms * 2;
}

/* Everything of this round answered: close and see what is left. */
static void round_done(struct server *s)
{
	bool fresh = false, failed = false;

	if (s->sock.fd >= 0 && !s->out_len && write(s->sock.fd, "quit\n", 5) < 0)
		tw_dbg("openvpn management %s: quit: %s", s->path, strerror(errno));
	sock_close(s);
	for (unsigned int i = 0; i < s->njobs; i++) {
		if (s->jobs[i].in_round)
			failed = true;
		else
			fresh = true;
		s->jobs[i].in_round = s->jobs[i].sent = false;
	}
	if (s->streak)
		tw_info("openvpn management %s: answering again after %u failed attempt(s)",
			s->path, s->streak);
	s->streak = 0;
	s->last_error[0] = '\0';
	if (fresh) {
		s->backoff_ms = MGMT_BACKOFF_MIN;
		round_start(s);
	} else if (failed) {
		s->state = SRV_WAIT;
		arm(s, now_ms() + s->backoff_ms);
		s->backoff_ms = s->backoff_ms * 2 > MGMT_BACKOFF_MAX ? MGMT_BACKOFF_MAX :
								       s->backoff_ms * 2;
	} else {
		s->backoff_ms = MGMT_BACKOFF_MIN;
		s->state = SRV_IDLE;
		arm(s, 0);
	}
}

static int flush_out(struct server *s)
{
	while (s->out_len) {
		ssize_t n = write(s->sock.fd, s->out, s->out_len);

		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		memmove(s->out, s->out + n, s->out_len - (size_t)n);
		s->out_len -= (size_t)n;
	}
	return 0;
}

static int send_cmd(struct server *s, const char *cmd)
{
	size_t len = strlen(cmd);
	int err;

	if (s->out_len + len > sizeof(s->out))
		return -ENOBUFS;
	memcpy(s->out + s->out_len, cmd, len);
	s->out_len += len;
	err = flush_out(s);
	if (!err)
		err = tw_loop_mod(s->m->loop, &s->sock, true, s->out_len > 0);
	arm(s, now_ms() + MGMT_CMD_MS);
	return err;
}

/* The next client-kill of this round, or the end of the round. */
static void next_kill(struct server *s)
{
	char cmd[64];

	for (unsigned int i = 0; i < s->njobs; i++) {
		struct job *j = &s->jobs[i];

		if (!j->in_round || j->sent || j->kind != JOB_KILL || j->cid < 0)
			continue;
		snprintf(cmd, sizeof(cmd), "client-kill %ld %s\n", j->cid,
			 j->halt ? "HALT" : "RESTART");
		j->sent = true;
		s->state = SRV_KILL;
		if (send_cmd(s, cmd))
			round_fail(s, "cannot send client-kill");
		return;
	}
	round_done(s);
}

/* A job of this round that ended: count it and take it off the queue. */
static void job_done(struct server *s, struct job *j)
{
	s->delivered++;
	job_drop(s, (unsigned int)(j - s->jobs));
}

/* "1.2.3.4:5", "[AF_INET6]2001:db8::1:5" or "2001:db8::1:5" (udp6/tcp6 prefix stripped). */
static void parse_real(const char *v, struct tw_addr *a, uint16_t *port)
{
	char buf[96], *colon;

	memset(a, 0, sizeof(*a));
	*port = 0;
	if (!strncmp(v, "[AF_INET6]", 10))
		v += 10;
	else if (!strncmp(v, "[AF_INET]", 9))
		v += 9;
	if (!strncmp(v, "udp4:", 5) || !strncmp(v, "tcp4:", 5) || !strncmp(v, "udp6:", 5) ||
	    !strncmp(v, "tcp6:", 5))
		v += 5;
	snprintf(buf, sizeof(buf), "%s", v);
	colon = strrchr(buf, ':');
	if (!colon)
		return;
	*colon = '\0';
	*port = (uint16_t)atoi(colon + 1);
	if (buf[0] == '[' && buf[strlen(buf) - 1] == ']') {
		buf[strlen(buf) - 1] = '\0';
		memmove(buf, buf + 1, strlen(buf));
	}
	if (tw_addr_parse(buf, a)) {
		memset(a, 0, sizeof(*a));
	} else if (a->family == TW_FAM_V6 && !memcmp(a->addr, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12)) {
		/* a dual-stack udp6 server lists IPv4 clients as ::ffff:a.b.c.d; the hook
		 * got trusted_ip a.b.c.d */
		memmove(a->addr, a->addr + 12, 4);
		memset(a->addr + 4, 0, 12);
		a->family = TW_FAM_V4;
	}
}

static void parse_addr(const char *v, struct tw_addr *a)
{
	if (tw_addr_parse(v, a))
		memset(a, 0, sizeof(*a));
}

static bool kill_matches(const struct job *j, const struct tw_mgmt_client *c)
{
	if (strcmp(j->cn, c->cn))
		return false;
	if (!j->real.family)
		return true;
	return j->real.family == c->real.family && !memcmp(j->real.addr, c->real.addr, 16) &&
	       j->port == c->real_port;
}

/* A line of the `status 3` reply (tab-separated, "HEADER" lines name the columns). */
static void list_line(struct server *s, char *line)
{
	static const char *const names[5] = { "Common Name", "Real Address", "Virtual Address",
					      "Virtual IPv6 Address", "Client ID" };
	struct tw_mgmt_client c = { .cid = -1 };
	char *f[32], *save = NULL, *tok;
	int nf = 0;

	for (tok = strtok_r(line, "\t", &save); tok && nf < 32; tok = strtok_r(NULL, "\t", &save))
		f[nf++] = tok;
	if (nf > 2 && !strcmp(f[0], "HEADER") && !strcmp(f[1], "CLIENT_LIST")) {
		for (int k = 0; k < 5; k++) {
			s->cols[k] = -1;
			for (int i = 2; i < nf; i++)
				if (!strcmp(f[i], names[k]))
					s->cols[k] = i - 1;
		}
		return;
	}
	if (nf < 2 || strcmp(f[0], "CLIENT_LIST") || s->cols[0] < 0 || s->cols[0] >= nf)
		return;
	snprintf(c.cn, sizeof(c.cn), "%s", f[s->cols[0]]);
	if (s->cols[1] > 0 && s->cols[1] < nf)
		parse_real(f[s->cols[1]], &c.real, &c.real_port);
	if (s->cols[2] > 0 && s->cols[2] < nf)
		parse_addr(f[s->cols[2]], &c.virt4);
	if (s->cols[3] > 0 && s->cols[3] < nf)
		parse_addr(f[s->cols[3]], &c.virt6);
	if (s->cols[4] > 0 && s->cols[4] < nf)
		c.cid = strtol(f[s->cols[4]], NULL, 10);
	for (unsigned int i = 0; i < s->njobs; i++) {
		struct job *j = &s->jobs[i];

		if (!j->in_round)
			continue;
		if (j->kind == JOB_LIST && j->ops.client)
			j->ops.client(j->ops.ctx, s->idx, &c);
		else if (j->kind == JOB_KILL && kill_matches(j, &c) && c.cid >= 0)
			j->cid = c.cid;
	}
}

/* END of the list: lists are answered, kills of clients not listed are done (gone). */
static void list_end(struct server *s)
{
	for (unsigned int i = 0; i < s->njobs;) {
		struct job *j = &s->jobs[i];

		if (j->in_round && j->kind == JOB_LIST) {
			struct tw_mgmt_list_ops ops = j->ops;

			job_done(s, j);
			if (ops.done)
				ops.done(ops.ctx, s->idx);
			continue;
		}
		if (j->in_round && j->kind == JOB_KILL && j->cid < 0) {
			tw_info("openvpn %s: %s is not connected there (nothing to end)", s->path,
				j->cn);
			job_done(s, j);
			continue;
		}
		i++;
	}
	next_kill(s);
}

static void kill_reply(struct server *s, const char *line)
{
	for (unsigned int i = 0; i < s->njobs; i++) {
		struct job *j = &s->jobs[i];

		if (!j->in_round || !j->sent || j->kind != JOB_KILL || j->cid < 0)
			continue;
		if (!strncmp(line, "SUCCESS:", 8)) {
			tw_info("openvpn %s: ended %s's session (client-kill %ld %s)", s->path,
				j->cn, j->cid, j->halt ? "HALT" : "RESTART");
			job_done(s, j);
		} else {
			/* gone between the list and the kill? The next round's list says */
			tw_dbg("openvpn %s: client-kill %ld: %s", s->path, j->cid, line);
			j->cid = -2; /* answered: skipped by next_kill, retried next round */
		}
		break;
	}
	next_kill(s);
}

static void on_line(struct server *s, char *line)
{
	size_t len = strlen(line);

	if (len && line[len - 1] == '\r')
		line[--len] = '\0';
	if (s->state == SRV_BANNER) {
		if (strncmp(line, ">INFO:", 6))
			return;
		for (unsigned int i = 0; i < s->njobs; i++) {
			s->jobs[i].in_round = true;
			s->jobs[i].sent = false;
			s->jobs[i].cid = -1;
		}
		for (int k = 0; k < 5; k++)
			s->cols[k] = -1;
		s->state = SRV_LIST;
		if (send_cmd(s, "status 3\n"))
			round_fail(s, "cannot send status 3");
		return;
	}
	if (line[0] == '>') /* real-time notification, interleaved anywhere */
		return;
	if (s->state == SRV_LIST) {
		if (!strcmp(line, "END"))
			list_end(s);
		else if (!strncmp(line, "ERROR:", 6))
			round_fail(s, line);
		else
			list_line(s, line);
	} else if (s->state == SRV_KILL &&
		   (!strncmp(line, "SUCCESS:", 8) || !strncmp(line, "ERROR:", 6))) {
		kill_reply(s, line);
	}
}

static void on_readable(struct server *s)
{
	char buf[8192];
	size_t total = 0;
	unsigned int gen = s->gen;

	while (total < MGMT_READ_BURST && s->gen == gen && s->state >= SRV_BANNER) {
		ssize_t n = read(s->sock.fd, buf, sizeof(buf));

		if (n == 0) {
			round_fail(s, "closed by the server (another client holds the slot?)");
			return;
		}
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				round_fail(s, strerror(errno));
			return;
		}
		total += (size_t)n;
		if (s->state != SRV_BANNER)
			arm(s, now_ms() + MGMT_CMD_MS); /* progress: the deadline is per step */
		for (ssize_t i = 0; i < n && s->gen == gen; i++) {
			if (buf[i] != '\n') {
				if (s->line_len < sizeof(s->line) - 1)
					s->line[s->line_len++] = buf[i];
				else
					s->line_cut = true;
				continue;
			}
			s->line[s->line_len] = '\0';
			s->line_len = 0;
			if (s->line_cut) {
				s->line_cut = false;
				continue;
			}
			on_line(s, s->line);
		}
	}
}

static void on_sock(void *ctx)
{
	struct server *s = ctx;
	uint32_t ev = s->sock.revents;
	unsigned int gen = s->gen;

	if (s->state == SRV_CONNECT) {
		int err = 0;
		socklen_t len = sizeof(err);

		if (getsockopt(s->sock.fd, SOL_SOCKET, SO_ERROR, &err, &len) || err) {
			round_fail(s, strerror(err ? err : errno));
			return;
		}
		s->state = SRV_BANNER;
		tw_loop_mod(s->m->loop, &s->sock, true, false);
		return;
	}
	if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR))
		on_readable(s);
	if (s->gen == gen && (ev & EPOLLOUT)) {
		int err = flush_out(s);

		if (err)
			round_fail(s, strerror(-err));
		else
			tw_loop_mod(s->m->loop, &s->sock, true, s->out_len > 0);
	}
}

/* Connect (non-blocking) when there is something to deliver. */
static void round_start(struct server *s)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (!s->njobs) {
		s->state = SRV_IDLE;
		arm(s, 0);
		return;
	}
	sock_close(s);
	s->sock.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->sock.fd < 0) {
		round_fail(s, strerror(errno));
		return;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", s->path);
	s->state = SRV_BANNER;
	if (connect(s->sock.fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int err = errno;

		if (err != EINPROGRESS) {
			close(s->sock.fd);
			s->sock.fd = -1;
			/* EAGAIN: a unix socket's listen backlog is full */
			round_fail(s, err == EAGAIN ? "listen backlog full" : strerror(err));
			return;
		}
		s->state = SRV_CONNECT;
	}
	if (tw_loop_add(s->m->loop, &s->sock)) {
		int err = errno;

		close(s->sock.fd);
		s->sock.fd = -1;
		round_fail(s, strerror(err));
		return;
	}
	if (s->state == SRV_CONNECT)
		tw_loop_mod(s->m->loop, &s->sock, false, true);
	arm(s, now_ms() + MGMT_CMD_MS);
}

static void on_timer(void *ctx)
{
	struct server *s = ctx;
	uint64_t n;

	if (read(s->timer.fd, &n, sizeof(n)) != sizeof(n))
		return;
	if (!s->deadline_ms || now_ms() < s->deadline_ms)
		return;
	switch (s->state) {
	case SRV_IDLE:
		arm(s, 0);
		break;
	case SRV_WAIT:
		round_start(s);
		break;
	case SRV_CONNECT:
	case SRV_BANNER:
		round_fail(s, "no greeting in time (another client holds the slot?)");
		break;
	case SRV_LIST:
	case SRV_KILL:
		round_fail(s, "no answer in time");
		break;
	}
}

static struct job *job_add(struct server *s, enum job_kind kind)
{
	struct job *j;

	if (s->njobs == MGMT_MAX_JOBS) {
		tw_err("openvpn management %s: %u commands pending, dropping the oldest (%s)",
		       s->path, s->njobs, s->jobs[0].cn);
		s->dropped++;
		job_drop(s, 0);
	}
	j = &s->jobs[s->njobs++];
	memset(j, 0, sizeof(*j));
	j->kind = kind;
	j->cid = -1;
	j->queued_ms = now_ms();
	return j;
}

/* A new command: start a round now unless one runs or a retry is already scheduled. */
static void kick(struct server *s)
{
	if (s->state == SRV_IDLE)
		round_start(s);
}

void tw_mgmt_kill(struct tw_mgmt *m, const char *cn, const struct tw_addr *real, uint16_t port,
		  bool halt)
{
	for (unsigned int i = 0; m && i < m->n; i++) {
		struct server *s = &m->srv[i];
		struct job *j = NULL;

		for (unsigned int k = 0; k < s->njobs; k++)
			if (s->jobs[k].kind == JOB_KILL && !strcmp(s->jobs[k].cn, cn) &&
			    s->jobs[k].port == port &&
			    !memcmp(&s->jobs[k].real, real, sizeof(*real)))
				j = &s->jobs[k]; /* already queued: once is enough */
		if (!j) {
			j = job_add(s, JOB_KILL);
			snprintf(j->cn, sizeof(j->cn), "%s", cn);
			j->real = *real;
			j->port = port;
		}
		j->halt = j->halt || halt;
		kick(s);
	}
}

void tw_mgmt_list(struct tw_mgmt *m, const struct tw_mgmt_list_ops *ops)
{
	for (unsigned int i = 0; m && i < m->n; i++) {
		struct job *j = job_add(&m->srv[i], JOB_LIST);

		snprintf(j->cn, sizeof(j->cn), "(client list)");
		j->ops = *ops;
		kick(&m->srv[i]);
	}
}

struct tw_mgmt *tw_mgmt_new(struct tw_loop *loop, const char (*paths)[TW_CFG_SUN_PATH_MAX],
			    unsigned int n)
{
	struct tw_mgmt *m = calloc(1, sizeof(*m) + n * sizeof(m->srv[0]));

	if (!m)
		return NULL;
	m->loop = loop;
	for (unsigned int i = 0; i < n; i++) {
		struct server *s = &m->srv[i];

		s->m = m;
		s->idx = i;
		snprintf(s->path, sizeof(s->path), "%s", paths[i]);
		s->backoff_ms = MGMT_BACKOFF_MIN;
		s->sock = (struct tw_watch){
			.name = "openvpn management", .fd = -1, .fn = on_sock, .ctx = s
		};
		s->timer = (struct tw_watch){ .name = "openvpn management timer",
					      .fn = on_timer,
					      .ctx = s };
		s->jobs = calloc(MGMT_MAX_JOBS, sizeof(s->jobs[0]));
		s->timer.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		m->n = i + 1;
		if (!s->jobs || s->timer.fd < 0 || tw_loop_add(loop, &s->timer)) {
			int err = errno;

			tw_mgmt_free(m);
			errno = err;
			return NULL;
		}
	}
	return m;
}

void tw_mgmt_free(struct tw_mgmt *m)
{
	if (!m)
		return;
	for (unsigned int i = 0; i < m->n; i++) {
		struct server *s = &m->srv[i];

		sock_close(s);
		if (s->timer.fd >= 0) {
			tw_loop_del(m->loop, &s->timer);
			close(s->timer.fd);
		}
		if (s->njobs)
			tw_warn("openvpn management %s: %u command(s) never delivered", s->path,
				s->njobs);
		free(s->jobs);
	}
	free(m);
}

unsigned int tw_mgmt_nservers(const struct tw_mgmt *m)
{
	return m ? m->n : 0;
}

static double oldest_s(const struct server *s, int64_t now)
{
	return s->njobs ? (double)(now - s->jobs[0].queued_ms) / 1000.0 : 0;
}

json_t *tw_mgmt_status_json(const struct tw_mgmt *m)
{
	json_t *a = json_array();
	int64_t now = now_ms();

	for (unsigned int i = 0; m && a && i < m->n; i++) {
		const struct server *s = &m->srv[i];
		json_t *cmds = json_array();

		for (unsigned int k = 0; cmds && k < s->njobs && k < 32; k++)
			json_array_append_new(
				cmds, json_pack("{s:s,s:s,s:f}", "command",
						s->jobs[k].kind == JOB_KILL ? "kill" : "list",
						"subject", s->jobs[k].cn, "age",
						(double)(now - s->jobs[k].queued_ms) / 1000.0));
		json_array_append_new(
			a, json_pack("{s:s,s:s,s:i,s:f,s:I,s:s,s:o,s:I,s:I,s:I}", "socket", s->path,
				     "state", state_names[s->state], "pending", (int)s->njobs,
				     "oldest_age", oldest_s(s, now), "retry_in_ms",
				     (json_int_t)(s->state == SRV_WAIT && s->deadline_ms > now ?
							  s->deadline_ms - now :
							  0),
				     "last_error", s->last_error, "commands", cmds, "delivered",
				     (json_int_t)s->delivered, "failed_attempts",
				     (json_int_t)s->failures, "dropped", (json_int_t)s->dropped));
	}
	return a;
}

/* @s as a Prometheus label value: backslash, quote and newline escaped. */
static void label_value(char *out, size_t len, const char *s)
{
	size_t o = 0;

	for (; *s && o + 3 < len; s++) {
		if (*s == '\\' || *s == '"' || *s == '\n')
			out[o++] = '\\';
		out[o++] = *s == '\n' ? 'n' : *s;
	}
	out[o] = '\0';
}

void tw_mgmt_metrics(const struct tw_mgmt *m, FILE *f)
{
	static const struct {
		const char *name, *type, *help;
	} g[] = {
		{ "tunwarden_openvpn_mgmt_pending", "gauge",
		  "Management commands (kills, client lists) not yet delivered." },
		{ "tunwarden_openvpn_mgmt_oldest_pending_seconds", "gauge",
		  "Age of the oldest undelivered management command." },
		{ "tunwarden_openvpn_mgmt_connected", "gauge",
		  "1 while the daemon holds the server's management slot." },
		{ "tunwarden_openvpn_mgmt_delivered_total", "counter",
		  "Management commands done (kills of clients already gone included)." },
		{ "tunwarden_openvpn_mgmt_failed_attempts_total", "counter",
		  "Rounds refused, cut or unanswered in time (retried)." },
	};
	int64_t now = now_ms();

	for (size_t k = 0; m && k < sizeof(g) / sizeof(g[0]); k++) {
		fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", g[k].name, g[k].help, g[k].name,
			g[k].type);
		for (unsigned int i = 0; i < m->n; i++) {
			const struct server *s = &m->srv[i];
			double v[] = { s->njobs, oldest_s(s, now),
				       s->state == SRV_LIST || s->state == SRV_KILL,
				       (double)s->delivered, (double)s->failures };

			char lbl[2 * TW_CFG_SUN_PATH_MAX];

			label_value(lbl, sizeof(lbl), s->path);
			fprintf(f, "%s{socket=\"%s\"} %.15g\n", g[k].name, lbl, v[k]);
		}
	}
}

struct tw_mgmt *tw_mgmt_update(struct tw_mgmt *m, struct tw_loop *loop,
			       const char (*paths)[TW_CFG_SUN_PATH_MAX], unsigned int n)
{
	struct tw_mgmt *nm;
	bool same = m && m->n == n;

	for (unsigned int i = 0; same && i < n; i++)
		same = !strcmp(m->srv[i].path, paths[i]);
	if (same || !(nm = tw_mgmt_new(loop, paths, n)))
		return m;
	for (unsigned int i = 0; m && i < m->n; i++) {
		struct server *os = &m->srv[i];

		for (unsigned int k = 0; k < nm->n; k++) {
			struct server *ns = &nm->srv[k];
			struct job *tmp = ns->jobs;

			if (strcmp(ns->path, os->path))
				continue;
			/* the queue moves over; a round in progress starts again */
			ns->jobs = os->jobs;
			ns->njobs = os->njobs;
			os->jobs = tmp;
			os->njobs = 0;
			for (unsigned int j = 0; j < ns->njobs; j++)
				ns->jobs[j].in_round = ns->jobs[j].sent = false;
			ns->delivered = os->delivered;
			ns->failures = os->failures;
			ns->dropped = os->dropped;
			kick(ns);
		}
	}
	tw_mgmt_free(m); /* logs what a removed server never got */
	return nm;
}
