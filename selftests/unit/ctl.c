// SPDX-License-Identifier: GPL-2.0-only
/*
 * The control socket's client side: framing, the request/response call,
 * and the real tunwarden-hook and tunwarden binaries run via fork/exec
 * against a listener thread in this process that plays tunwardend. The
 * listener records every request line so the tests can assert the exact
 * JSON the hook sends for a given OpenVPN environment.
 */
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include "test.h"
#include "ctl.h"

/* ---- a listener playing tunwardend -------------------------------------------------- */

enum srv_mode {
	SRV_REPLY, /* answer every request line with .reply */
	SRV_SILENT, /* read, never answer, keep the connection until the peer leaves */
	SRV_CLOSE, /* read one line, close without answering */
};

#define SRV_MAX_REQ 8

struct srv {
	char dir[64];
	char path[108];
	int lfd;
	pthread_t th;
	enum srv_mode mode;
	const char *reply;
	int max_conns; /* the thread exits after this many connections */
	/* Written by the thread, read after pthread_join(). */
	int nconns;
	int nreq;
	char *req[SRV_MAX_REQ];
};

static void srv_conn(struct srv *s, int fd)
{
	struct tw_ctl_frame *f = malloc(sizeof(*f));
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t len;
	char *line;
	ssize_t n;

	if (!f)
		return;
	tw_ctl_frame_init(f);
	for (;;) {
		while (tw_ctl_frame_next(f, &line, &len) == 1) {
			if (s->nreq < SRV_MAX_REQ)
				s->req[s->nreq++] = strndup(line, len);
			if (s->mode == SRV_CLOSE)
				goto out;
			if (s->mode == SRV_REPLY) {
				if (send(fd, s->reply, strlen(s->reply), MSG_NOSIGNAL) < 0 ||
				    send(fd, "\n", 1, MSG_NOSIGNAL) < 0)
					goto out;
			}
		}
		/* Bounded: a client that neither speaks nor leaves ends the test's wait. */
		if (poll(&pfd, 1, 5000) <= 0)
			goto out;
		n = tw_ctl_frame_read(f, fd);
		if (n <= 0 && n != -EAGAIN)
			goto out;
	}
out:
	free(f);
}

static void *srv_thread(void *arg)
{
	struct srv *s = arg;
	struct pollfd pfd = { .fd = s->lfd, .events = POLLIN };
	int fd;

	while (s->nconns < s->max_conns) {
		if (poll(&pfd, 1, 5000) <= 0)
			break;
		fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			break;
		s->nconns++;
		srv_conn(s, fd);
		close(fd);
	}
	return NULL;
}

/* Make the socket path only; the listener is started by srv_run(). */
static bool srv_init(struct srv *s)
{
	memset(s, 0, sizeof(*s));
	s->lfd = -1;
	snprintf(s->dir, sizeof(s->dir), "/tmp/tw-ctl.XXXXXX");
	if (!ASSERT_OK_PTR(mkdtemp(s->dir), "mkdtemp"))
		return false;
	snprintf(s->path, sizeof(s->path), "%s/ctl.sock", s->dir);
	return true;
}

static void srv_clear(struct srv *s)
{
	int i;

	for (i = 0; i < s->nreq; i++)
		free(s->req[i]);
	s->nreq = 0;
	s->nconns = 0;
}

static bool srv_run(struct srv *s, enum srv_mode mode, const char *reply, int max_conns)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	srv_clear(s);
	s->mode = mode;
	s->reply = reply;
	s->max_conns = max_conns;
	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (!ASSERT_GE(s->lfd, 0, "socket"))
		return false;
	strcpy(sa.sun_path, s->path);
	unlink(s->path);
	if (!ASSERT_OK(bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)), "bind") ||
	    !ASSERT_OK(listen(s->lfd, 128), "listen"))
		goto err;
	if (!ASSERT_OK(pthread_create(&s->th, NULL, srv_thread, s), "pthread_create"))
		goto err;
	return true;
err:
	close(s->lfd);
	s->lfd = -1;
	return false;
}

/* Stop accepting, wait for the thread; the recorded requests stay for the asserts. */
static void srv_stop(struct srv *s)
{
	if (s->lfd < 0)
		return;
	/* Wakes the thread's poll on the listener: it leaves once its current peer has. */
	shutdown(s->lfd, SHUT_RDWR);
	pthread_join(s->th, NULL);
	close(s->lfd);
	s->lfd = -1;
	unlink(s->path);
}

static void srv_fini(struct srv *s)
{
	srv_stop(s);
	srv_clear(s);
	rmdir(s->dir);
}

/* True when request @i parses and equals @expect_json exactly (every key, no extras). */
static bool req_is(const struct srv *s, int i, const char *expect_json, const char *name)
{
	json_t *got = NULL, *want = json_loads(expect_json, 0, NULL);
	bool ok = false;

	if (!ASSERT_OK_PTR(want, "expected JSON parses"))
		return false;
	if (!ASSERT_LT(i, s->nreq, name))
		goto out;
	got = json_loads(s->req[i], 0, NULL);
	if (!ASSERT_OK_PTR(got, "request parses"))
		goto out;
	/* A hook's connect carries its deadline (CLOCK_MONOTONIC ms, within its budget of at
	 * most 60 s): checked here, then compared without it. */
	if (!strcmp(json_string_value(json_object_get(want, "op")) ?: "", "connect") &&
	    !json_object_get(want, "deadline_ms")) {
		json_t *dl = json_object_get(got, "deadline_ms");
		int64_t d = json_is_integer(dl) ? json_integer_value(dl) - tw_ctl_now_ms() :
						  INT64_MAX;

		if (!ASSERT_TRUE(d > -60000 && d <= 60000, "connect carries deadline_ms"))
			goto out;
		json_object_del(got, "deadline_ms");
	}
	ok = json_equal(got, want);
	if (!ok)
		test__fail(__FILE__, __LINE__, "%s: request\n#   got  %s\n#   want %s", name,
			   s->req[i], expect_json);
out:
	json_decref(got);
	json_decref(want);
	return ok;
}

/* ---- running the binaries ------------------------------------------------------------- */

static bool bin_path(const char *name, const char *env, char *out, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n;

	const char *override = getenv(env);

	if (override && *override) {
		snprintf(out, len, "%s", override);
	} else {
		/* test_unit lives in $(O)/selftests/; the binaries in $(O)/. */
		n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		if (n < 0)
			return false;
		exe[n] = '\0';
		snprintf(out, len, "%s/%s", dirname(dirname(exe)), name);
	}
	return access(out, X_OK) == 0;
}

/* Find binary @name; when it is missing, a subtest @sub says SKIP with the reason. */
static bool need_bin(const char *name, const char *env, char *out, size_t len, const char *sub)
{
	bool found = bin_path(name, env, out, len);

	/* A subtest of its own, so the SKIP is not pinned on the previous subtest. */
	if (test__start_subtest(sub) && !found)
		test__skip("%s not built (%s): make all", name, out);
	return found;
}

struct run {
	int status; /* exit code, or 128+signal */
	int64_t elapsed_ms;
	char out[8192]; /* stdout */
	char err[8192]; /* stderr */
};

static void slurp(int fd, char *buf, size_t len)
{
	ssize_t n;

	n = pread(fd, buf, len - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	close(fd);
}

/* fork/exec @argv with exactly @envp; bounded by 10 s. */
static bool run(char *const argv[], char *const envp[], struct run *r)
{
	char tmpl_o[] = "/tmp/tw-ctl-out.XXXXXX", tmpl_e[] = "/tmp/tw-ctl-err.XXXXXX";
	int ofd = mkstemp(tmpl_o), efd = mkstemp(tmpl_e), st;
	int64_t t0 = tw_ctl_now_ms();
	pid_t pid;

	if (!ASSERT_GE(ofd, 0, "mkstemp") || !ASSERT_GE(efd, 0, "mkstemp"))
		return false;
	unlink(tmpl_o);
	unlink(tmpl_e);
	pid = fork();
	if (pid == 0) {
		dup2(ofd, 1);
		dup2(efd, 2);
		execve(argv[0], argv, envp);
		_exit(127);
	}
	if (!ASSERT_GT(pid, 0, "fork"))
		return false;
	while (waitpid(pid, &st, WNOHANG) == 0) {
		if (tw_ctl_now_ms() - t0 > 10000) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			test__fail(__FILE__, __LINE__, "%s did not exit within 10 s", argv[0]);
			break;
		}
		usleep(500);
	}
	r->elapsed_ms = tw_ctl_now_ms() - t0;
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	slurp(ofd, r->out, sizeof(r->out));
	slurp(efd, r->err, sizeof(r->err));
	if (test__verbose())
		test__diag("%s: status %d in %lld ms; stderr: %s", argv[0], r->status,
			   (long long)r->elapsed_ms, r->err);
	return true;
}

static const char *const connect_env[] = {
	"script_type=client-connect",
	"dev=tun0",
	"common_name=alice",
	"X509_0_OU=acme",
	"trusted_ip=192.0.2.10",
	"trusted_port=51234",
	"ifconfig_pool_remote_ip=10.8.0.6",
	"ifconfig_pool_remote_ip6=fd00:8::1000",
	"time_unix=1763780000",
	"PATH=/usr/bin:/bin",
};

static const char connect_req[] =
	"{\"op\":\"connect\",\"vpn\":\"openvpn\",\"env\":{\"dev\":\"tun0\",\"common_name\":\"alice\","
	"\"x509_ou\":\"acme\",\"trusted_ip\":\"192.0.2.10\",\"trusted_port\":\"51234\","
	"\"pool_ip\":\"10.8.0.6\",\"pool_ip6\":\"fd00:8::1000\",\"time_unix\":\"1763780000\"}}";

static const char *const disconnect_env[] = {
	"script_type=client-disconnect",
	"dev=tun0",
	"common_name=alice",
	"trusted_ip6=2001:db8::7",
	"trusted_port=1194",
	"ifconfig_pool_remote_ip=10.8.0.6",
	"bytes_received=1234",
	"bytes_sent=5678",
	"time_unix=1763780000",
	"time_duration=60",
};

static const char disconnect_req[] =
	"{\"op\":\"disconnect\",\"vpn\":\"openvpn\",\"env\":{\"dev\":\"tun0\","
	"\"common_name\":\"alice\",\"trusted_ip6\":\"2001:db8::7\",\"trusted_port\":\"1194\","
	"\"pool_ip\":\"10.8.0.6\",\"time_unix\":\"1763780000\",\"bytes_received\":\"1234\","
	"\"bytes_sent\":\"5678\",\"time_duration\":\"60\"}}";

#define ENV_MAX 24

/* @base plus "TUNWARDEN_SOCKET=@sock" (unless NULL) and @extra (unless NULL). */
static void make_env(char **env, char *sockvar, size_t sockvar_len, const char *const *base,
		     size_t nbase, const char *sock, const char *extra)
{
	size_t i, n = 0;

	for (i = 0; i < nbase; i++)
		env[n++] = (char *)base[i];
	if (sock) {
		snprintf(sockvar, sockvar_len, "TUNWARDEN_SOCKET=%s", sock);
		env[n++] = sockvar;
	}
	if (extra)
		env[n++] = (char *)extra;
	env[n] = NULL;
}

static bool read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return false;
	n = read(fd, buf, len - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return n >= 0;
}

static void test_framing(void)
{
	struct tw_ctl_frame *f = malloc(sizeof(*f));
	static char big[TW_CTL_LINE_MAX + 16];
	char *line, errbuf[256];
	json_t *msg = NULL;
	size_t len, i;
	int ret;

	if (!ASSERT_OK_PTR(f, "malloc")) {
		free(f);
		return;
	}

	if (test__start_subtest("frame_partial")) {
		const char *in = "{\"op\":\"status\"}\r\n{\"a\":1}\n{\"b\"";

		tw_ctl_frame_init(f);
		/* One byte at a time: no line until its newline has arrived. */
		for (i = 0; in[i] != '\r'; i++) {
			ASSERT_EQ(tw_ctl_frame_push(f, in + i, 1), 1, "push 1");
			if (!ASSERT_EQ(tw_ctl_frame_next(f, &line, &len), 0, "no line yet"))
				break;
		}
		tw_ctl_frame_push(f, in + i, strlen(in) - i);
		if (ASSERT_EQ(tw_ctl_frame_next(f, &line, &len), 1, "first line")) {
			ASSERT_STREQ(line, "{\"op\":\"status\"}", "first line, CR stripped");
			ASSERT_EQ(len, 15, "first len");
		}
		if (ASSERT_EQ(tw_ctl_frame_next(f, &line, &len), 1, "second line")) {
			ASSERT_STREQ(line, "{\"a\":1}", "second line");
		}
		ASSERT_EQ(tw_ctl_frame_next(f, &line, &len), 0, "partial third");
		ASSERT_TRUE(tw_ctl_frame_pending(f), "partial line pending");
		tw_ctl_frame_push(f, ":2}\n", 4);
		if (ASSERT_EQ(tw_ctl_frame_next(f, &line, &len), 1, "third line"))
			ASSERT_STREQ(line, "{\"b\":2}", "third line");
		ASSERT_FALSE(tw_ctl_frame_pending(f), "nothing pending");
	}

	if (test__start_subtest("frame_limit")) {
		/* Exactly TW_CTL_LINE_MAX bytes with the newline: accepted. */
		tw_ctl_frame_init(f);
		memset(big, 'x', TW_CTL_LINE_MAX - 1);
		big[TW_CTL_LINE_MAX - 1] = '\n';
		ASSERT_EQ(tw_ctl_frame_push(f, big, TW_CTL_LINE_MAX), TW_CTL_LINE_MAX, "push max");
		if (ASSERT_EQ(tw_ctl_frame_next(f, &line, &len), 1, "max line"))
			ASSERT_EQ(len, TW_CTL_LINE_MAX - 1, "max len");

		/* One byte more: rejected once, then skipped up to its newline. */
		tw_ctl_frame_init(f);
		memset(big, 'y', TW_CTL_LINE_MAX + 1);
		big[TW_CTL_LINE_MAX] = '\n';
		ASSERT_EQ(tw_ctl_frame_push(f, big, TW_CTL_LINE_MAX + 1), TW_CTL_LINE_MAX,
			  "buffer full");
		ASSERT_EQ(tw_ctl_frame_next(f, &line, &len), -EMSGSIZE, "over-long rejected");
		ASSERT_EQ(tw_ctl_frame_push(f, big + TW_CTL_LINE_MAX, 1), 1, "rest");
		tw_ctl_frame_push(f, "{\"next\":1}\n", 11);
		if (ASSERT_EQ(tw_ctl_frame_next(f, &line, &len), 1, "line after over-long"))
			ASSERT_STREQ(line, "{\"next\":1}", "resynchronised");
		ASSERT_EQ(tw_ctl_frame_next(f, &line, &len), 0, "no more");
	}

	if (test__start_subtest("parse_errors")) {
		ret = tw_ctl_parse("{\"op\":", 6, &msg, errbuf, sizeof(errbuf));
		ASSERT_EQ(ret, -EBADMSG, "truncated JSON");
		ASSERT_TRUE(strstr(errbuf, "invalid JSON at column") != NULL, "error names column");
		ret = tw_ctl_parse("{\"op\":1,\"op\":2}", 15, &msg, errbuf, sizeof(errbuf));
		ASSERT_EQ(ret, -EBADMSG, "duplicate key");
		ret = tw_ctl_parse("[1,2]", 5, &msg, errbuf, sizeof(errbuf));
		ASSERT_EQ(ret, -EPROTO, "array is not a message");
		ret = tw_ctl_parse("{\"op\":\"x\"} junk", 15, &msg, errbuf, sizeof(errbuf));
		ASSERT_EQ(ret, -EBADMSG, "trailing garbage");
		ret = tw_ctl_parse("{\"op\":\"x\"}", 10, &msg, errbuf, sizeof(errbuf));
		if (ASSERT_OK(ret, "valid"))
			ASSERT_STREQ(json_string_value(json_object_get(msg, "op")), "x", "op");
		json_decref(msg);
	}

	if (test__start_subtest("encode")) {
		json_t *o = json_pack("{s:s, s:s}", "op", "ban", "cn", "line\nbreak");
		json_t *huge;
		char *buf = NULL;

		ret = tw_ctl_encode(o, &buf, &len);
		if (ASSERT_OK(ret, "encode") && buf) {
			ASSERT_EQ(buf[len - 1], '\n', "ends in newline");
			ASSERT_TRUE(memchr(buf, '\n', len - 1) == NULL, "one line only");
		}
		free(buf);
		json_decref(o);
		/* Responses may exceed a request's 64 KiB, up to TW_CTL_RESP_MAX. */
		{
			char *s = malloc(TW_CTL_RESP_MAX + 1);

			if (ASSERT_OK_PTR(s, "malloc")) {
				memset(s, 'z', TW_CTL_RESP_MAX);
				s[2 * (size_t)TW_CTL_LINE_MAX] = '\0';
				huge = json_pack("{s:s}", "cn", s);
				ASSERT_OK(tw_ctl_encode(huge, &buf, &len), "128 KiB response");
				free(buf);
				json_decref(huge);
				s[2 * (size_t)TW_CTL_LINE_MAX] = 'z';
				s[TW_CTL_RESP_MAX] = '\0';
				huge = json_pack("{s:s}", "cn", s);
				ASSERT_EQ(tw_ctl_encode(huge, &buf, &len), -EMSGSIZE,
					  "over TW_CTL_RESP_MAX refused");
				json_decref(huge);
			}
			free(s);
		}
	}

	if (test__start_subtest("frame_grow")) {
		struct tw_ctl_frame *g = malloc(sizeof(*g));
		size_t lim = 3 * (size_t)TW_CTL_LINE_MAX, off = 0, chunk;
		char *blob = malloc(lim + 2);

		if (ASSERT_OK_PTR(g, "malloc") && ASSERT_OK_PTR(blob, "malloc")) {
			/* A line of exactly the limit, fed in odd chunks, grows the buffer. */
			tw_ctl_frame_init_max(g, lim);
			memset(blob, 'g', lim - 1);
			blob[lim - 1] = '\n';
			blob[lim] = 'x';
			blob[lim + 1] = '\n';
			while (off < lim) {
				chunk = lim - off < 7777 ? lim - off : 7777;
				if (tw_ctl_frame_push(g, blob + off, chunk) != chunk)
					break;
				off += chunk;
				if (off < lim)
					ASSERT_EQ(tw_ctl_frame_next(g, &line, &len), 0, "not yet");
			}
			ASSERT_EQ(off, lim, "all pushed");
			/* Full now: the rest waits until the line is taken. */
			ASSERT_EQ(tw_ctl_frame_push(g, blob + lim, 2), 0, "full");
			if (ASSERT_EQ(tw_ctl_frame_next(g, &line, &len), 1, "big line"))
				ASSERT_EQ(len, lim - 1, "big len");
			ASSERT_EQ(tw_ctl_frame_push(g, blob + lim, 2), 2, "room again");
			if (ASSERT_EQ(tw_ctl_frame_next(g, &line, &len), 1, "next line"))
				ASSERT_STREQ(line, "x", "after the big line");
			ASSERT_LE(g->heap_cap, lim, "never beyond the limit");
			/* One byte over the limit. */
			blob[lim - 1] = 'g';
			blob[lim] = '\n';
			off = tw_ctl_frame_push(g, blob, lim + 1);
			ASSERT_EQ(off, lim, "takes up to the limit");
			ASSERT_EQ(tw_ctl_frame_next(g, &line, &len), -EMSGSIZE, "over the limit");
			tw_ctl_frame_push(g, blob + lim, 1);
			tw_ctl_frame_push(g, "{}\n", 3);
			if (ASSERT_EQ(tw_ctl_frame_next(g, &line, &len), 1, "resync"))
				ASSERT_STREQ(line, "{}", "line after");
			tw_ctl_frame_fini(g);
		}
		free(blob);
		free(g);
	}

	/* Found by fuzz_ctl: below the buffer's size, a line that arrived whole
	 * with its '\n' was handed out however long it was. */
	if (test__start_subtest("frame_small_limit")) {
		struct tw_ctl_frame *g = malloc(sizeof(*g));

		if (ASSERT_OK_PTR(g, "malloc")) {
			tw_ctl_frame_init_max(g, 8);
			ASSERT_EQ(tw_ctl_frame_push(g, "0123456789\nabcdefg\nx\n", 21), 21, "push");
			ASSERT_EQ(tw_ctl_frame_next(g, &line, &len), -EMSGSIZE, "10 bytes > 8");
			if (ASSERT_EQ(tw_ctl_frame_next(g, &line, &len), 1, "7 + '\\n' fits"))
				ASSERT_STREQ(line, "abcdefg", "at the limit");
			if (ASSERT_EQ(tw_ctl_frame_next(g, &line, &len), 1, "resync"))
				ASSERT_STREQ(line, "x", "after");
			ASSERT_EQ(tw_ctl_frame_next(g, &line, &len), 0, "drained");
			tw_ctl_frame_fini(g);
		}
		free(g);
	}

	if (test__start_subtest("recv_partial_reads")) {
		int sv[2];

		if (ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv),
			      "socketpair")) {
			tw_ctl_frame_init(f);
			ASSERT_EQ(write(sv[1], "{\"ok\":", 6), 6, "write half");
			ret = tw_ctl_recv(sv[0], f, &msg, tw_ctl_now_ms() + 50, errbuf,
					  sizeof(errbuf));
			ASSERT_EQ(ret, -ETIMEDOUT, "half a line is not a message");
			ASSERT_EQ(write(sv[1], "true}\n{\"ok\":false,\"error\":\"e\"}\n", 31), 31,
				  "write rest");
			ret = tw_ctl_recv(sv[0], f, &msg, tw_ctl_now_ms() + 1000, errbuf,
					  sizeof(errbuf));
			if (ASSERT_OK(ret, "joined line"))
				ASSERT_TRUE(json_is_true(json_object_get(msg, "ok")), "ok true");
			json_decref(msg);
			ret = tw_ctl_recv(sv[0], f, &msg, tw_ctl_now_ms() + 1000, errbuf,
					  sizeof(errbuf));
			if (ASSERT_OK(ret, "second message buffered")) {
				const char *e = NULL;

				ASSERT_EQ(tw_ctl_response_check(msg, &e), -EREMOTEIO, "ok false");
				ASSERT_STREQ(e, "e", "error text");
			}
			json_decref(msg);
			ASSERT_EQ(write(sv[1], "not json\n", 9), 9, "write garbage");
			ret = tw_ctl_recv(sv[0], f, &msg, tw_ctl_now_ms() + 1000, errbuf,
					  sizeof(errbuf));
			ASSERT_EQ(ret, -EBADMSG, "invalid JSON reported");
			ASSERT_EQ(write(sv[1], "{\"ok\"", 5), 5, "write partial");
			close(sv[1]);
			ret = tw_ctl_recv(sv[0], f, &msg, tw_ctl_now_ms() + 1000, errbuf,
					  sizeof(errbuf));
			ASSERT_EQ(ret, -ECONNRESET, "EOF mid-line");
			close(sv[0]);
		}
	}
	free(f);
}

static void test_call(void)
{
	json_t *req = json_pack("{s:s}", "op", "status"), *resp = NULL;
	char errbuf[512];
	struct srv s;
	int64_t t0;
	int ret;

	if (!srv_init(&s))
		goto out;

	if (test__start_subtest("call_ok")) {
		if (srv_run(&s, SRV_REPLY, "{\"ok\":true,\"node\":\"n1\"}", 1)) {
			ret = tw_ctl_call(s.path, req, &resp, 2000, errbuf, sizeof(errbuf));
			if (ASSERT_OK(ret, errbuf))
				ASSERT_STREQ(json_string_value(json_object_get(resp, "node")), "n1",
					     "node");
			json_decref(resp);
			srv_stop(&s);
		}
	}
	if (test__start_subtest("call_big_response")) {
		/* A busy node's "clients": far beyond a request's 64 KiB. */
		size_t n = 1 << 20;
		char *reply = malloc(n + 64);

		if (ASSERT_OK_PTR(reply, "malloc")) {
			int off = snprintf(reply, 64, "{\"ok\":true,\"blob\":\"");

			memset(reply + off, 'b', n);
			strcpy(reply + off + n, "\"}");
			if (srv_run(&s, SRV_REPLY, reply, 1)) {
				ret = tw_ctl_call(s.path, req, &resp, 5000, errbuf, sizeof(errbuf));
				if (ASSERT_OK(ret, errbuf))
					ASSERT_EQ(strlen(json_string_value(
							  json_object_get(resp, "blob"))),
						  n, "all of it");
				json_decref(resp);
				srv_stop(&s);
			}
		}
		free(reply);
	}
	if (test__start_subtest("call_refused")) {
		if (srv_run(&s, SRV_REPLY, "{\"ok\":false,\"error\":\"no such client 'bob'\"}",
			    1)) {
			ret = tw_ctl_call(s.path, req, &resp, 2000, errbuf, sizeof(errbuf));
			ASSERT_EQ(ret, -EREMOTEIO, "ok:false");
			ASSERT_STREQ(errbuf, "no such client 'bob'", "daemon's message");
			ASSERT_OK_PTR(resp, "response kept");
			json_decref(resp);
			srv_stop(&s);
		}
	}
	if (test__start_subtest("call_bad_responses")) {
		static const struct {
			const char *reply;
			int err;
		} cases[] = {
			{ "garbage", -EBADMSG },
			{ "[true]", -EPROTO },
			{ "{\"status\":1}", -EPROTO },
			{ "{\"ok\":\"yes\"}", -EPROTO },
		};
		size_t i;

		for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			if (!srv_run(&s, SRV_REPLY, cases[i].reply, 1))
				break;
			ret = tw_ctl_call(s.path, req, &resp, 2000, errbuf, sizeof(errbuf));
			ASSERT_EQ(ret, cases[i].err, cases[i].reply);
			ASSERT_TRUE(resp == NULL, "no response object");
			srv_stop(&s);
		}
	}
	if (test__start_subtest("call_closed")) {
		if (srv_run(&s, SRV_CLOSE, NULL, 1)) {
			ret = tw_ctl_call(s.path, req, &resp, 2000, errbuf, sizeof(errbuf));
			ASSERT_EQ(ret, -ECONNRESET, "closed without answer");
			srv_stop(&s);
			ASSERT_EQ(s.nreq, 1, "request was read");
		}
	}
	if (test__start_subtest("call_timeout")) {
		if (srv_run(&s, SRV_SILENT, NULL, 1)) {
			t0 = tw_ctl_now_ms();
			ret = tw_ctl_call(s.path, req, &resp, 200, errbuf, sizeof(errbuf));
			t0 = tw_ctl_now_ms() - t0;
			ASSERT_EQ(ret, -ETIMEDOUT, "silent daemon");
			ASSERT_GE(t0, 195, "waited the timeout");
			ASSERT_LT(t0, 1500, "not much longer");
			srv_stop(&s);
		}
	}
	if (test__start_subtest("call_unreachable")) {
		ret = tw_ctl_call(s.path, req, &resp, 2000, errbuf, sizeof(errbuf));
		ASSERT_EQ(ret, -ENOENT, "no socket");
		ASSERT_TRUE(strstr(errbuf, s.path) != NULL, "message names the path");
		/* A socket file nobody listens on: the daemon died without cleaning up. */
		{
			struct sockaddr_un sa = { .sun_family = AF_UNIX };
			int fd = socket(AF_UNIX, SOCK_STREAM, 0);

			strcpy(sa.sun_path, s.path);
			if (ASSERT_OK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), "bind")) {
				ret = tw_ctl_call(s.path, req, &resp, 2000, errbuf, sizeof(errbuf));
				ASSERT_EQ(ret, -ECONNREFUSED, "stale socket");
			}
			close(fd);
			unlink(s.path);
		}
	}
	srv_fini(&s);
out:
	json_decref(req);
}

static double ms(int64_t ns)
{
	return (double)ns / 1e6;
}

static int64_t time_one(char *const argv[], char *const envp[], int *fails)
{
	struct timespec a, b;
	pid_t pid;
	int st;

	clock_gettime(CLOCK_MONOTONIC, &a);
	pid = fork();
	if (pid == 0) {
		int nfd = open("/dev/null", O_WRONLY);

		dup2(nfd, 2);
		execve(argv[0], argv, envp);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		(*fails)++;
	clock_gettime(CLOCK_MONOTONIC, &b);
	return (b.tv_sec - a.tv_sec) * 1000000000LL + b.tv_nsec - a.tv_nsec;
}

static void sort_ns(int64_t *v, int n)
{
	int64_t t;
	int i, j;

	for (i = 1; i < n; i++)
		for (t = v[i], j = i - 1; j >= 0 && v[j] > t; j--)
			v[j + 1] = v[j], v[j] = t;
}

/*
 * fork+exec+wait @argv and the baseline @base_argv alternately @n times
 * each, so both see the same machine load; sorted latencies (ns) into
 * @lat and @base. Returns the number of runs of @argv that failed.
 */
static int time_runs(char *const argv[], char *const base_argv[], char *const envp[], int64_t *lat,
		     int64_t *base, int n)
{
	int i, fails = 0, base_fails = 0;

	for (i = 0; i < n; i++) {
		lat[i] = time_one(argv, envp, &fails);
		base[i] = time_one(base_argv, envp, &base_fails);
	}
	sort_ns(lat, n);
	sort_ns(base, n);
	return fails + base_fails;
}

/* The hook as OpenVPN runs it: @base env + socket + @extra, argv[1] = @cfg (NULL: none). */
static bool run_hook(const char *hook, const char *const *base, size_t nbase, const char *sock,
		     const char *extra, const char *cfg, struct run *r)
{
	char sockvar[160], *env[ENV_MAX];
	char *argv[] = { (char *)hook, (char *)cfg, NULL };

	make_env(env, sockvar, sizeof(sockvar), base, nbase, sock, extra);
	return run(argv, env, r);
}

#define CONNECT_ENV    connect_env, sizeof(connect_env) / sizeof(connect_env[0])
#define DISCONNECT_ENV disconnect_env, sizeof(disconnect_env) / sizeof(disconnect_env[0])

static void test_hook(void)
{
	char hook[PATH_MAX], cfg[128], buf[256];
	struct run *r = calloc(1, sizeof(*r));
	struct srv s;
	int fd;

	if (!ASSERT_OK_PTR(r, "calloc")) {
		free(r);
		return;
	}
	if (!need_bin("tunwarden-hook", "TW_HOOK_BIN", hook, sizeof(hook), "hook_binary"))
		goto out_free;
	if (!srv_init(&s))
		goto out_free;
	snprintf(cfg, sizeof(cfg), "%s/ccd.conf", s.dir);

/* OpenVPN hands the hook an existing, empty file. */
#define FRESH_CFG()                                                             \
	do {                                                                    \
		fd = open(cfg, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600); \
		if (fd >= 0)                                                    \
			close(fd);                                              \
	} while (0)

	if (test__start_subtest("hook_permit")) {
		FRESH_CFG();
		if (srv_run(&s, SRV_REPLY,
			    "{\"ok\":true,\"verdict\":\"permit\",\"reason\":\"enabled\","
			    "\"session\":\"s-1\",\"policy_version\":7}",
			    2)) {
			run_hook(hook, CONNECT_ENV, s.path, NULL, cfg, r);
			srv_stop(&s);
			ASSERT_EQ(r->status, 0, "permit admits");
			ASSERT_EQ(s.nreq, 1, "one request");
			req_is(&s, 0, connect_req, "connect request");
			ASSERT_TRUE(read_file(cfg, buf, sizeof(buf)), "read cfg");
			ASSERT_STREQ(buf, "", "nothing written for permit");
		}
	}
	if (test__start_subtest("hook_sandbox")) {
		FRESH_CFG();
		if (srv_run(&s, SRV_REPLY,
			    "{\"ok\":true,\"verdict\":\"sandbox\",\"reason\":\"needs confirmation\","
			    "\"session\":\"s-2\",\"session_timeout\":300,\"policy_version\":7}",
			    2)) {
			run_hook(hook, CONNECT_ENV, s.path, NULL, cfg, r);
			srv_stop(&s);
			ASSERT_EQ(r->status, 0, "sandbox admits");
			req_is(&s, 0, connect_req, "connect request");
			ASSERT_TRUE(read_file(cfg, buf, sizeof(buf)), "read cfg");
			ASSERT_STREQ(buf, "session-timeout 300\n", "session-timeout written");
		}
	}
	if (test__start_subtest("hook_sandbox_unwritable")) {
		char bad[160];

		/* A config path we cannot write: refuse, and withdraw the admitted session. */
		snprintf(bad, sizeof(bad), "%s/no-such-dir/ccd.conf", s.dir);
		if (srv_run(&s, SRV_REPLY,
			    "{\"ok\":true,\"verdict\":\"sandbox\",\"reason\":\"r\",\"session\":\"s-3\","
			    "\"session_timeout\":300,\"policy_version\":7}",
			    2)) {
			run_hook(hook, CONNECT_ENV, s.path, NULL, bad, r);
			srv_stop(&s);
			ASSERT_EQ(r->status, 1, "refused");
			ASSERT_EQ(s.nreq, 2, "connect then disconnect");
			if (s.nreq == 2)
				ASSERT_TRUE(strstr(s.req[1], "\"op\":\"disconnect\"") != NULL,
					    "withdrawn");
			ASSERT_TRUE(strstr(r->err, "cannot write session-timeout") != NULL,
				    "says why");
		}
	}
	if (test__start_subtest("hook_deny")) {
		FRESH_CFG();
		if (srv_run(&s, SRV_REPLY,
			    "{\"ok\":true,\"verdict\":\"deny\",\"reason\":\"revoked\","
			    "\"session\":\"s-4\",\"policy_version\":7}",
			    2)) {
			run_hook(hook, CONNECT_ENV, s.path, NULL, cfg, r);
			srv_stop(&s);
			ASSERT_EQ(r->status, 1, "deny refuses");
			req_is(&s, 0, connect_req, "connect request");
			ASSERT_TRUE(strstr(r->err, "denied: revoked") != NULL, "reason logged");
		}
	}
	if (test__start_subtest("hook_bad_answers")) {
		static const char *const replies[] = {
			"{\"ok\":false,\"error\":\"journal full\"}",
			"{\"ok\":true}",
			"{\"ok\":true,\"verdict\":\"maybe\"}",
			"{\"ok\":true,\"verdict\":\"sandbox\"}",
			"{\"ok\":true,\"verdict\":\"sandbox\",\"session_timeout\":0}",
			"{\"ok\":true,\"verdict\":\"permit\"",
		};
		size_t i;

		for (i = 0; i < sizeof(replies) / sizeof(replies[0]); i++) {
			FRESH_CFG();
			if (!srv_run(&s, SRV_REPLY, replies[i], 2))
				break;
			run_hook(hook, CONNECT_ENV, s.path, NULL, cfg, r);
			srv_stop(&s);
			ASSERT_EQ(r->status, 1, replies[i]);
		}
	}
	if (test__start_subtest("hook_socket_option")) {
		char *env[ENV_MAX], sockvar[8];
		char *argv[] = { hook, "-s", s.path, cfg, NULL };

		FRESH_CFG();
		make_env(env, sockvar, sizeof(sockvar), CONNECT_ENV, NULL, NULL);
		if (srv_run(&s, SRV_REPLY, "{\"ok\":true,\"verdict\":\"permit\"}", 2)) {
			run(argv, env, r);
			srv_stop(&s);
			ASSERT_EQ(r->status, 0, "-s PATH before OpenVPN's argument");
			req_is(&s, 0, connect_req, "same request");
		}
	}
	if (test__start_subtest("hook_disconnect")) {
		if (srv_run(&s, SRV_REPLY, "{\"ok\":true}", 2)) {
			run_hook(hook, DISCONNECT_ENV, s.path, NULL, NULL, r);
			srv_stop(&s);
			ASSERT_EQ(r->status, 0, "disconnect exit");
			req_is(&s, 0, disconnect_req, "disconnect request");
		}
	}
	if (test__start_subtest("hook_unreachable")) {
		/* No listener at s.path. */
		FRESH_CFG();
		run_hook(hook, CONNECT_ENV, s.path, NULL, cfg, r);
		ASSERT_EQ(r->status, 1, "connect fails closed");
		ASSERT_TRUE(strstr(r->err, "fail-closed") != NULL, "stderr says so");
		ASSERT_TRUE(strstr(r->err, s.path) != NULL, "stderr names the socket");
		ASSERT_LT(r->elapsed_ms, 1500, "no waiting for a missing daemon");
		run_hook(hook, DISCONNECT_ENV, s.path, NULL, NULL, r);
		ASSERT_EQ(r->status, 0, "disconnect always 0");
		ASSERT_TRUE(strstr(r->err, "disconnect not reported") != NULL, "but logged");
	}
	if (test__start_subtest("hook_bad_env")) {
		static const char *const bad_env[] = {
			"script_type=client-connect", "dev=tun0",	   "common_name=alice",
			"trusted_ip=192.0.2.300",     "trusted_port=1194",
		};
		static const char *const bad_denv[] = {
			"script_type=client-disconnect", "dev=tun0",	      "common_name=alice",
			"trusted_ip=192.0.2.1",		 "trusted_port=1194",
		};

		if (srv_run(&s, SRV_REPLY, "{\"ok\":true,\"verdict\":\"permit\"}", 2)) {
			run_hook(hook, bad_env, 5, s.path, NULL, cfg, r);
			ASSERT_EQ(r->status, 1, "mangled environment refused");
			ASSERT_TRUE(strstr(r->err, "192.0.2.300") != NULL, "quotes the value");
			run_hook(hook, bad_denv, 5, s.path, NULL, NULL, r);
			ASSERT_EQ(r->status, 0, "disconnect still 0");
			srv_stop(&s);
			ASSERT_EQ(s.nreq, 0, "nothing sent");
		}
	}
	if (test__start_subtest("hook_timeout")) {
		FRESH_CFG();
		if (srv_run(&s, SRV_SILENT, NULL, 2)) {
			run_hook(hook, CONNECT_ENV, s.path, "TUNWARDEN_HOOK_TIMEOUT_MS=300", cfg,
				 r);
			ASSERT_EQ(r->status, 1, "silent daemon: refused");
			ASSERT_GE(r->elapsed_ms, 290, "waited the configured 300 ms");
			ASSERT_LT(r->elapsed_ms, 1500, "and not much more");
			ASSERT_TRUE(strstr(r->err, "no response in time") != NULL, "says timeout");
			/* Default budget: 2 s. */
			run_hook(hook, CONNECT_ENV, s.path, NULL, cfg, r);
			ASSERT_EQ(r->status, 1, "default timeout: refused");
			ASSERT_GE(r->elapsed_ms, 1990, "waited the default 2 s");
			ASSERT_LT(r->elapsed_ms, 4000, "and not much more");
			srv_stop(&s);
			ASSERT_EQ(s.nreq, 2, "both requests arrived");
		}
		if (srv_run(&s, SRV_SILENT, NULL, 1)) {
			run_hook(hook, DISCONNECT_ENV, s.path, "TUNWARDEN_HOOK_TIMEOUT_MS=200",
				 NULL, r);
			srv_stop(&s);
			ASSERT_EQ(r->status, 0, "disconnect timeout still 0");
			ASSERT_LT(r->elapsed_ms, 1500, "bounded");
		}
	}
	if (test__start_subtest("hook_latency")) {
		enum { RUNS = 1000, P50 = RUNS / 2, P99 = RUNS - RUNS / 100 };
		int64_t *lat = calloc((size_t)2 * RUNS, sizeof(*lat)), *base = lat + RUNS;
		char sockvar[160], *env[ENV_MAX];
		char *argv[] = { hook, cfg, NULL }, *true_argv[] = { "/bin/true", NULL };

		/* A generous budget: this measures latency; the timeout has its own subtest. */
		make_env(env, sockvar, sizeof(sockvar), CONNECT_ENV, s.path,
			 "TUNWARDEN_HOOK_TIMEOUT_MS=30000");
		FRESH_CFG();
		if (lat && srv_run(&s, SRV_REPLY, "{\"ok\":true,\"verdict\":\"permit\"}", RUNS)) {
			/* Baseline in the same run: the cost of fork+exec of a trivial binary. */
			int fails = time_runs(argv, true_argv, env, lat, base, RUNS);

			srv_stop(&s);
			ASSERT_EQ(fails, 0, "every run admitted");
			ASSERT_EQ(s.nconns, RUNS, "every run asked the daemon");
			test__diag("hook: %d runs (fork+exec+connect+round trip), interleaved with "
				   "/bin/true: p50 %.3f ms, p99 %.3f ms, max %.3f ms",
				   RUNS, ms(lat[P50]), ms(lat[P99]), ms(lat[RUNS - 1]));
			test__diag(
				"baseline /bin/true: p50 %.3f ms, p99 %.3f ms; hook/baseline p50 "
				"ratio %.2f",
				ms(base[P50]), ms(base[P99]), ms(lat[P50]) / ms(base[P50]));
#if !defined(__SANITIZE_ADDRESS__)
			/* Not under ASan: its start-up alone costs tens of milliseconds. */
			ASSERT_LT(lat[P50], 20 * 1000000LL, "p50 under 20 ms");
#endif
		}
		free(lat);
	}
#undef FRESH_CFG
	unlink(cfg);
	srv_fini(&s);
out_free:
	free(r);
}

static void test_cli(void)
{
	char cli[PATH_MAX], sockvar[160];
	struct run *r = calloc(1, sizeof(*r));
	char *env[] = { sockvar, "TZ=UTC", NULL };
	struct srv s;

	if (!ASSERT_OK_PTR(r, "calloc")) {
		free(r);
		return;
	}
	if (!need_bin("tunwarden", "TW_CLI_BIN", cli, sizeof(cli), "cli_binary"))
		goto out_free;
	if (!srv_init(&s))
		goto out_free;
	snprintf(sockvar, sizeof(sockvar), "TUNWARDEN_SOCKET=%s", s.path);

	if (test__start_subtest("cli_clients")) {
		char *argv[] = { cli, "clients", NULL };
		char *jargv[] = { cli, "--json", "clients", NULL };
		static const char reply[] =
			"{\"ok\":true,\"clients\":[{\"cn\":\"alice\",\"session\":\"s-1\","
			"\"state\":\"permit\",\"tenant\":\"acme\",\"profile\":\"staff\","
			"\"ifname\":\"tun0\",\"addrs\":[\"10.8.0.6\",\"fd00:8::1000\"],"
			"\"real\":\"192.0.2.10:51234\",\"since\":1,\"from_bytes\":1572864,"
			"\"to_bytes\":512,\"from_pkts\":1200,\"to_pkts\":3,\"drops\":4}]}";

		if (srv_run(&s, SRV_REPLY, reply, 2)) {
			run(argv, env, r);
			ASSERT_EQ(r->status, 0, "clients exit");
			ASSERT_TRUE(strstr(r->out, "CN ") == r->out, "header row first");
			ASSERT_TRUE(strstr(r->out, "alice") != NULL, "cn shown");
			ASSERT_TRUE(strstr(r->out, "1.50 MiB") != NULL, "bytes human-readable");
			ASSERT_TRUE(strstr(r->out, "10.8.0.6,fd00:8::1000") != NULL,
				    "addrs joined");
			run(jargv, env, r);
			ASSERT_EQ(r->status, 0, "--json exit");
			{
				json_t *a = json_loads(r->out, 0, NULL),
				       *b = json_loads(reply, 0, NULL);

				ASSERT_TRUE(a && b && json_equal(a, b),
					    "--json prints the daemon's JSON");
				json_decref(a);
				json_decref(b);
			}
			srv_stop(&s);
			req_is(&s, 0, "{\"op\":\"clients\"}", "clients request");
		}
	}
	if (test__start_subtest("cli_requests")) {
		static const struct {
			const char *args[6];
			const char *req;
		} cases[] = {
			{ { "ban", "192.0.2.0/24", "--for", "1h30m" },
			  "{\"op\":\"ban\",\"addr\":\"192.0.2.0/24\",\"duration\":5400}" },
			{ { "ban", "mallory" }, "{\"op\":\"ban\",\"cn\":\"mallory\"}" },
			{ { "ban", "--cn", "10.0.0.1" }, "{\"op\":\"ban\",\"cn\":\"10.0.0.1\"}" },
			{ { "unban", "2001:db8::1" },
			  "{\"op\":\"unban\",\"addr\":\"2001:db8::1\"}" },
			{ { "log", "--since", "42" }, "{\"op\":\"log\",\"since\":42}" },
			{ { "detach", "--all" }, "{\"op\":\"detach\",\"all\":true}" },
			{ { "detach", "tun3" }, "{\"op\":\"detach\",\"ifname\":\"tun3\"}" },
			{ { "client", "alice" }, "{\"op\":\"client\",\"cn\":\"alice\"}" },
			{ { "confirm", "alice" }, "{\"op\":\"confirm\",\"cn\":\"alice\"}" },
			{ { "kill", "alice" }, "{\"op\":\"kill\",\"cn\":\"alice\"}" },
		};
		size_t i, j;

		for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			char *argv[8] = { cli };

			for (j = 0; cases[i].args[j]; j++)
				argv[j + 1] = (char *)cases[i].args[j];
			if (!srv_run(&s, SRV_REPLY, "{\"ok\":true}", 1))
				break;
			run(argv, env, r);
			srv_stop(&s);
			ASSERT_EQ(r->status, 0, cases[i].req);
			req_is(&s, 0, cases[i].req, cases[i].args[0]);
		}
	}
	if (test__start_subtest("cli_exit_codes")) {
		char *kill_argv[] = { cli, "kill", "bob", NULL };
		char *bad_argv[] = { cli, "frobnicate", NULL };
		char *dur_argv[] = { cli, "ban", "bob", "--for", "soon", NULL };
		char *miss_argv[] = { cli, "kill", NULL };

		if (srv_run(&s, SRV_REPLY, "{\"ok\":false,\"error\":\"no live session for 'bob'\"}",
			    1)) {
			run(kill_argv, env, r);
			srv_stop(&s);
			ASSERT_EQ(r->status, 1, "daemon said no");
			ASSERT_TRUE(strstr(r->err, "no live session for 'bob'") != NULL,
				    "daemon's message shown");
		}
		run(bad_argv, env, r);
		ASSERT_EQ(r->status, 2, "unknown command");
		run(dur_argv, env, r);
		ASSERT_EQ(r->status, 2, "bad duration");
		ASSERT_TRUE(strstr(r->err, "soon") != NULL, "quotes the duration");
		run(miss_argv, env, r);
		ASSERT_EQ(r->status, 2, "missing CN");
		run(kill_argv, env, r);
		ASSERT_EQ(r->status, 3, "daemon unreachable");
		ASSERT_TRUE(strstr(r->err, s.path) != NULL, "names the socket");
	}
	srv_fini(&s);
out_free:
	free(r);
}

/* The op table both ends are driven from: complete, and what the CLI's help lists. */
static void test_ops(void)
{
	enum tw_ctl_op_id id;
	char cli[PATH_MAX];
	int i;

	if (test__start_subtest("op_table")) {
		for (i = 0; i < TW_OP__MAX; i++) {
			const struct tw_ctl_op *op = &tw_ctl_ops[i];

			if (!ASSERT_OK_PTR(op->name, "every op has a name") ||
			    !ASSERT_OK_PTR(op->help, op->name))
				break;
			ASSERT_OK(tw_ctl_op_find(op->name, &id), op->name);
			ASSERT_EQ((int)id, i, op->name);
			/* the hook's ops are not CLI subcommands, and only they admit */
			ASSERT_EQ(op->who == TW_CTL_HOOK, !op->args, op->name);
		}
		ASSERT_ERR(tw_ctl_op_find("stauts", &id), "unknown op");
		ASSERT_OK(tw_ctl_op_find("connect", &id), "connect");
		ASSERT_EQ(tw_ctl_ops[id].who, TW_CTL_HOOK, "connect is the hook's");
	}
	if (!need_bin("tunwarden", "TW_CLI_BIN", cli, sizeof(cli), "cli_usage_binary"))
		return;
	if (test__start_subtest("cli_usage_from_table")) {
		char *argv[] = { cli, "--help", NULL }, *env[] = { NULL };
		struct run *r = calloc(1, sizeof(*r));

		if (ASSERT_OK_PTR(r, "calloc") && ASSERT_TRUE(run(argv, env, r), "run")) {
			ASSERT_EQ(r->status, 0, "--help exit");
			for (i = 0; i < TW_OP__MAX; i++) {
				char line[160];

				snprintf(line, sizeof(line), "\n  %s ", tw_ctl_ops[i].name);
				ASSERT_EQ(strstr(r->out, line) != NULL, tw_ctl_ops[i].args != NULL,
					  tw_ctl_ops[i].name);
			}
		}
		free(r);
	}
}

void test_ctl(void)
{
	test_framing();
	test_call();
	test_hook();
	test_cli();
	test_ops();
}
