// SPDX-License-Identifier: GPL-2.0-only
/*
 * portal_bench: the measuring half of scripts/bench/portal.sh (the portal
 * link's figures, docs/performance.md "The portal link"). The script starts
 * the real tunwarden-portal and tunwardend; this tool fills the node's
 * journal, times the baseline, and watches the node through its control
 * socket while it drains the journal or applies policy from the portal
 * (`{"op":"status"}` on one connection: every 10 ms while it drains, every
 * 1 ms while it waits for a policy version).
 *
 *   portal_bench fill JOURNAL NODE_ID N [CLIENTS]
 *	N interim records, round-robin over CLIENTS sessions (10000), as a node
 *	with CLIENTS clients writes them at every interim; prints
 *	"LAST_SEQ BYTES LOG_ID".
 *   portal_bench baseline JOURNAL DB
 *	the journal's rows inserted into a fresh records table of the portal's
 *	schema in one transaction (WAL, synchronous=FULL, as the portal opens it).
 *   portal_bench drain SOCK PORTAL_DB NODE_ID LOG_ID LAST_SEQ NODE_PID PORTAL_PID [TIMEOUT_S]
 *	SIGCONT the (stopped) portal, wait until its store holds LAST_SEQ, then
 *	until the node says it is acked; CPU of both processes until the store
 *	holds it all.
 *   portal_bench polchange SOCK PORTAL_BIN PORTAL_CONF POLICY_DB N CN
 *	N times `PORTAL_BIN -c PORTAL_CONF subject disable|enable cn:CN`, each
 *	timed from the command's start until the node runs the new version.
 *   portal_bench policy SOCK POLICY_DB NODE_PID SUBJECTS DELTA [BASE_RSS]
 *	a SUBJECTS-subject snapshot, then a DELTA-subject change in one version
 *	(twice: disable, enable), written through the policy store and timed
 *	until the node runs them; the node's RSS after the snapshot, and per
 *	subject over BASE_RSS (bytes; default: its RSS before the snapshot).
 *	TW_BENCH_SHORT_SUBJECTS in the environment: the shortest subjects
 *	("u<i>", no tenant), so that 1M fit in one 64 MiB bundle line.
 *   portal_bench waitpolicy SOCK POLICY_DB
 *	wait (up to 60 s) until the node runs the store's current version.
 *
 * Every figure is printed as "name value unit" lines that portal.sh tabulates.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <jansson.h>
#include <sqlite3.h>
#include "journal.h"
#include "polstore_int.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int __attribute__((format(printf, 1, 2))) die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "portal_bench: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return EXIT_FAILURE;
}

/* ---- records: the journal filler and the baseline ---- */

/* One client's interim record @round (0-based) of @clients. */
static void interim(struct tw_record *r, unsigned int client, unsigned int round)
{
	memset(r, 0, sizeof(*r));
	r->kind = TW_REC_INTERIM;
	snprintf(r->session, sizeof(r->session), "s-%08x-%04x", client, client % 7919);
	snprintf(r->subject, sizeof(r->subject), "user%u@laptop-%u.example.org", client,
		 client % 3);
	snprintf(r->tenant, sizeof(r->tenant), "tenant-%u", client % 50);
	snprintf(r->profile, sizeof(r->profile), "employees-%u", client % 20);
	r->has_tun4 = true;
	r->tun4[0] = 10;
	r->tun4[1] = 128 + (uint8_t)(client >> 16);
	r->tun4[2] = (uint8_t)(client >> 8);
	r->tun4[3] = (uint8_t)client;
	r->real_family = TW_FAM_V4;
	r->real_addr[0] = 198;
	r->real_addr[1] = 51;
	r->real_addr[2] = (uint8_t)(client >> 8);
	r->real_addr[3] = (uint8_t)client;
	r->real_port = (uint16_t)(1024 + client % 60000);
	r->policy_version = 1764780000000000ull;
	r->has_counters = true;
	r->ctr.from_bytes = 48000ull * (round + 1) + client;
	r->ctr.from_pkts = 310ull * (round + 1);
	r->ctr.to_bytes = 310000ull * (round + 1) + client;
	r->ctr.to_pkts = 420ull * (round + 1);
	r->ctr.drops[TW_DROP_NOT_ALLOWED] = round / 10;
	r->ctr.drop_pkts = round / 10;
}

static int cmd_fill(int argc, char **argv)
{
	unsigned int n, clients = 10000, i;
	struct tw_journal_opts o = { .batch_max = 1000 };
	struct tw_journal_stats st;
	struct tw_journal *j;
	struct tw_record r;
	double t0;
	int err = 0;

	if (argc < 4)
		return die("usage: fill JOURNAL NODE_ID N [CLIENTS]");
	o.node_id = argv[2];
	n = (unsigned int)strtoul(argv[3], NULL, 0);
	if (argc > 4)
		clients = (unsigned int)strtoul(argv[4], NULL, 0);
	if (!n || !clients)
		return die("fill: N and CLIENTS must be > 0");
	j = tw_journal_open(argv[1], &o);
	if (!j)
		return die("%s: %s", argv[1], tw_journal_errstr(NULL));
	t0 = now_s();
	for (i = 0; i < n && !err; i++) {
		interim(&r, i % clients, i / clients);
		r.time_ns = 1764780000000000000ull + (uint64_t)(i / clients) * 60000000000ull +
			    (uint64_t)(i % clients) * 6000000ull;
		err = tw_journal_append(j, &r, false);
	}
	if (!err)
		err = tw_journal_flush(j);
	if (!err)
		err = tw_journal_sync(j);
	if (!err)
		err = tw_journal_stats(j, &st);
	if (err) {
		fprintf(stderr, "portal_bench: fill %s: %s\n", argv[1], tw_journal_errstr(j));
		tw_journal_close(j);
		return EXIT_FAILURE;
	}
	fprintf(stderr, "portal_bench: %u records (%u clients) in %.2f s, %.0f MB\n", n, clients,
		now_s() - t0, (double)st.used_bytes / 1e6);
	printf("%llu %llu %s\n", (unsigned long long)st.last_seq, (unsigned long long)st.used_bytes,
	       tw_journal_log_id(j));
	return tw_journal_close(j) ? EXIT_FAILURE : EXIT_SUCCESS;
}

struct row {
	char kind[16];
	uint64_t seq, time_ns;
	char *session, *subject, *body;
	size_t body_len;
};

struct rows {
	struct row *v;
	size_t n, cap;
	char node[TW_REC_NODE_MAX], log_id[TW_REC_LOG_ID_LEN + 1];
};

static int collect(const struct tw_record *rec, const char *json, size_t len, void *ctx)
{
	struct rows *rs = ctx;
	struct row *r;

	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? rs->cap * 2 : 65536;
		struct row *v = realloc(rs->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		rs->v = v;
		rs->cap = cap;
	}
	r = &rs->v[rs->n];
	snprintf(r->kind, sizeof(r->kind), "%s", tw_record_kind_name(rec->kind));
	r->seq = rec->seq;
	r->time_ns = rec->time_ns;
	r->session = strdup(rec->session);
	r->subject = strdup(rec->subject);
	r->body = strndup(json, len);
	r->body_len = len;
	if (!r->session || !r->subject || !r->body)
		return -ENOMEM;
	snprintf(rs->node, sizeof(rs->node), "%s", rec->node);
	snprintf(rs->log_id, sizeof(rs->log_id), "%s", rec->log_id);
	rs->n++;
	return 0;
}

/* The records table and indexes exactly as userspace/portal/recstore_sqlite.c creates them. */
static const char baseline_schema[] =
	"PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
	"CREATE TABLE records("
	" node TEXT NOT NULL, log_id TEXT NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL,"
	" time_ns INTEGER NOT NULL, session TEXT NOT NULL, subject TEXT NOT NULL,"
	" body TEXT NOT NULL, received_at INTEGER NOT NULL,"
	" PRIMARY KEY(node, log_id, seq)) WITHOUT ROWID;"
	"CREATE INDEX records_kind ON records(node, kind, time_ns);"
	"CREATE INDEX records_session ON records(session, node, kind);"
	"CREATE INDEX records_subject ON records(subject, kind);";

static double cpu_self_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int cmd_baseline(int argc, char **argv)
{
	struct tw_journal_opts o = { .node_id = "bench" };
	struct rows rs = { 0 };
	struct tw_journal *j;
	sqlite3_stmt *st = NULL;
	sqlite3 *db = NULL;
	double t0, c0, t, c;
	long long got;
	size_t i;
	int rc;

	if (argc < 3)
		return die("usage: baseline JOURNAL DB");
	j = tw_journal_open(argv[1], &o);
	if (!j)
		return die("%s: %s", argv[1], tw_journal_errstr(NULL));
	got = tw_journal_read_since(j, 0, 0, collect, &rs);
	tw_journal_close(j);
	if (got <= 0)
		return die("%s: no records to insert", argv[1]);
	unlink(argv[2]);
	if (sqlite3_open(argv[2], &db) != SQLITE_OK ||
	    sqlite3_exec(db, baseline_schema, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db,
			       "INSERT INTO records(node,log_id,seq,kind,time_ns,session,subject,"
			       "body,received_at) VALUES(?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
			       -1, &st, NULL) != SQLITE_OK)
		return die("%s: %s", argv[2], sqlite3_errmsg(db));
	t0 = now_s();
	c0 = cpu_self_s();
	rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	for (i = 0; i < rs.n && rc == SQLITE_OK; i++) {
		struct row *r = &rs.v[i];

		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, rs.node, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, rs.log_id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, (sqlite3_int64)r->seq);
		sqlite3_bind_text(st, 4, r->kind, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, (sqlite3_int64)r->time_ns);
		sqlite3_bind_text(st, 6, r->session, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 7, r->subject, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 8, r->body, (int)r->body_len, SQLITE_STATIC);
		sqlite3_bind_int64(st, 9, (sqlite3_int64)time(NULL));
		rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
	}
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	t = now_s() - t0;
	c = cpu_self_s() - c0;
	if (rc != SQLITE_OK)
		return die("%s: insert: %s", argv[2], sqlite3_errmsg(db));
	sqlite3_finalize(st);
	sqlite3_close(db);
	printf("baseline_records %zu records\n", rs.n);
	printf("baseline_s %.3f s\n", t);
	printf("baseline_rate %.0f records/s\n", (double)rs.n / t);
	printf("baseline_cpu_us %.2f us/record\n", c * 1e6 / (double)rs.n);
	for (i = 0; i < rs.n; i++) {
		free(rs.v[i].session);
		free(rs.v[i].subject);
		free(rs.v[i].body);
	}
	free(rs.v);
	return EXIT_SUCCESS;
}

/* ---- the node, watched through its control socket ---- */

struct ctl {
	const char *path;
	int fd;
	char buf[1 << 20];
};

struct node_view {
	bool connected;
	uint64_t acked_seq, backlog, policy_version;
	char error[256];
	char policy_error[512]; /* why the node refused the portal's last bundle */
};

static int ctl_connect(struct ctl *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (c->fd >= 0)
		return 0;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", c->path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		if (c->fd >= 0)
			close(c->fd);
		c->fd = -1;
		return -errno;
	}
	return 0;
}

static uint64_t jint(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;
}

/* One status request: 0 with @v filled, or -errno (the connection is dropped and redone). */
static int node_status(struct ctl *c, struct node_view *v)
{
	static const char req[] = "{\"op\":\"status\"}\n";
	size_t got = 0;
	json_t *o, *p, *pol;
	ssize_t n;

	if (ctl_connect(c))
		return -ECONNREFUSED;
	/* the daemon closes a connection idle for 5 s: no SIGPIPE, connect again */
	if (send(c->fd, req, sizeof(req) - 1, MSG_NOSIGNAL) != (ssize_t)sizeof(req) - 1)
		goto fail;
	for (;;) {
		n = read(c->fd, c->buf + got, sizeof(c->buf) - 1 - got);
		if (n <= 0)
			goto fail;
		got += (size_t)n;
		if (c->buf[got - 1] == '\n')
			break;
		if (got == sizeof(c->buf) - 1)
			goto fail;
	}
	c->buf[got] = '\0';
	o = json_loads(c->buf, 0, NULL);
	if (!o)
		goto fail;
	memset(v, 0, sizeof(*v));
	p = json_object_get(o, "portal");
	pol = json_object_get(o, "policy");
	v->connected = json_is_true(json_object_get(p, "connected"));
	v->acked_seq = jint(p, "acked_seq");
	v->backlog = jint(p, "backlog");
	v->policy_version = jint(p, "policy_version");
	if (!v->policy_version)
		v->policy_version = jint(pol, "version");
	snprintf(v->error, sizeof(v->error), "%s",
		 json_string_value(json_object_get(p, "last_error")) ?: "");
	snprintf(v->policy_error, sizeof(v->policy_error), "%s",
		 json_string_value(json_object_get(p, "policy_error")) ?: "");
	json_decref(o);
	return 0;
fail:
	close(c->fd);
	c->fd = -1;
	return -EIO;
}

static void pause_us(long us)
{
	struct timespec ts = { .tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000 };

	nanosleep(&ts, NULL);
}

/* utime + stime of @pid in seconds, from /proc/PID/stat; < 0 if unreadable. */
static double cpu_of(int pid)
{
	unsigned long ut, st;
	char path[64], buf[1024], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* the command name may hold spaces */
	if (!p ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* VmRSS of @pid in bytes, 0 if unreadable. */
static uint64_t rss_of(int pid)
{
	char path[64], line[256];
	unsigned long long kb = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %llu kB", &kb) == 1)
			break;
	fclose(f);
	return kb * 1024;
}

/*
 * The drain is watched at the portal's store (max(seq) of the log: a PK
 * lookup on a read-only connection), not through the node's status: a status
 * counts the journal's rows (SELECT count(*), the whole table read through
 * pread), which costs the node far more than the link itself while the
 * backlog is large. The node's status is asked once before (timed: what a
 * status costs with the backlog) and again after the portal holds all, until
 * the node says it is acked.
 */
static int cmd_drain(int argc, char **argv)
{
	struct ctl c = { .fd = -1 };
	struct node_view v = { 0 };
	double t0, ts, t_first = 0, t_commit = 0, t_ack = 0, nc0, pc0, nc1, pc1, timeout = 600;
	uint64_t last, from, held = 0;
	sqlite3_stmt *st = NULL;
	sqlite3 *db = NULL;
	int npid, ppid;

	if (argc < 8)
		return die(
			"usage: drain SOCK PORTAL_DB NODE_ID LOG_ID LAST_SEQ NODE_PID PORTAL_PID "
			"[TIMEOUT_S]");
	c.path = argv[1];
	last = strtoull(argv[5], NULL, 0);
	npid = atoi(argv[6]);
	ppid = atoi(argv[7]);
	if (argc > 8)
		timeout = atof(argv[8]);
	if (sqlite3_open_v2(argv[2], &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_busy_timeout(db, 1000) != SQLITE_OK ||
	    sqlite3_prepare_v2(db,
			       "SELECT coalesce(max(seq),0) FROM records WHERE node=? AND log_id=?",
			       -1, &st, NULL) != SQLITE_OK)
		return die("%s: %s", argv[2], sqlite3_errmsg(db));
	sqlite3_bind_text(st, 1, argv[3], -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, argv[4], -1, SQLITE_STATIC);
	ts = now_s();
	if (node_status(&c, &v))
		return die("%s: the node does not answer status", argv[1]);
	ts = now_s() - ts;
	close(c.fd); /* idle longer than the daemon keeps it: a new one later */
	c.fd = -1;
	from = v.acked_seq;
	nc0 = cpu_of(npid);
	pc0 = cpu_of(ppid);
	if (nc0 < 0 || pc0 < 0)
		return die("drain: no such process (node %s, portal %s)", argv[6], argv[7]);
	t0 = now_s();
	if (kill(ppid, SIGCONT))
		return die("drain: SIGCONT %s: %s", argv[7], strerror(errno));
	while (!t_commit) {
		double t = now_s();

		sqlite3_reset(st);
		if (sqlite3_step(st) == SQLITE_ROW)
			held = (uint64_t)sqlite3_column_int64(st, 0);
		if (held && !t_first)
			t_first = t;
		if (held >= last)
			t_commit = t;
		else if (t - t0 > timeout)
			break;
		else
			pause_us(5000);
	}
	nc1 = cpu_of(npid);
	pc1 = cpu_of(ppid);
	sqlite3_finalize(st);
	sqlite3_close(db);
	while (t_commit && !t_ack) {
		double t = now_s();

		if (!node_status(&c, &v) && v.acked_seq >= last)
			t_ack = t;
		else if (t - t0 > timeout)
			break;
		else
			pause_us(20000);
	}
	if (!t_ack) {
		fprintf(stderr,
			"portal_bench: drain: the portal holds %llu, the node has acked %llu, of "
			"%llu after %.0f s (node last error '%s')\n",
			(unsigned long long)held, (unsigned long long)v.acked_seq,
			(unsigned long long)last, timeout, v.error);
		return EXIT_FAILURE;
	}
	printf("drain_records %llu records\n", (unsigned long long)(last - from));
	printf("drain_status_ms %.1f ms\n", ts * 1e3);
	printf("drain_first_s %.3f s\n", t_first - t0);
	printf("drain_commit_s %.3f s\n", t_commit - t0);
	printf("drain_s %.3f s\n", t_ack - t0);
	printf("drain_rate %.0f records/s\n", (double)(last - from) / (t_ack - t0));
	printf("drain_node_cpu_us %.2f us/record\n", (nc1 - nc0) * 1e6 / (double)(last - from));
	printf("drain_portal_cpu_us %.2f us/record\n", (pc1 - pc0) * 1e6 / (double)(last - from));
	return EXIT_SUCCESS;
}

/* Poll (every 1 ms) until the node runs policy version >= @want: seconds from @t0, < 0 on timeout. */
static double wait_version(struct ctl *c, uint64_t want, double t0, double timeout)
{
	struct node_view v = { 0 };
	char ver[24];

	for (;;) {
		double t = now_s();

		if (!node_status(c, &v) && v.policy_version >= want)
			return t - t0;
		snprintf(ver, sizeof(ver), "%llu", (unsigned long long)want);
		if (strstr(v.policy_error, ver)) {
			fprintf(stderr, "portal_bench: the node refused version %s: %s\n", ver,
				v.policy_error);
			return -1;
		}
		if (t - t0 > timeout) {
			fprintf(stderr,
				"portal_bench: the node runs policy %llu, not %llu, after %.0f s "
				"(last error '%s')\n",
				(unsigned long long)v.policy_version, (unsigned long long)want,
				timeout, v.error);
			return -1;
		}
		pause_us(1000);
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

#define MAX_CHANGES 10000

/* Start @argv with stdout on /dev/null: its pid, or -errno. */
static pid_t spawn(char *const argv[])
{
	pid_t pid = fork();
	int fd;

	if (pid < 0)
		return -errno;
	if (!pid) {
		fd = open("/dev/null", O_WRONLY);
		if (fd >= 0)
			dup2(fd, STDOUT_FILENO);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* 1: exited with 0, 0: still running (@block false), -EIO: failed. */
static int reaped(pid_t pid, bool block)
{
	int st;
	pid_t r = waitpid(pid, &st, block ? 0 : WNOHANG);

	if (r == 0)
		return 0;
	return r == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 1 : -EIO;
}

/*
 * Each change is timed from the admin command's start (its process start,
 * store open and commit included) until a status of the node names a newer
 * version, polled every 1 ms while the command still runs.
 */
static int cmd_polchange(int argc, char **argv)
{
	struct ctl c = { .fd = -1 };
	char err[256], subj[256];
	struct tw_polstore *ps;
	static double lat[MAX_CHANGES], cmd[MAX_CHANGES];
	double t0, t;
	unsigned int n, i, early = 0;
	struct node_view v;

	if (argc < 7)
		return die("usage: polchange SOCK PORTAL_BIN PORTAL_CONF POLICY_DB N CN");
	c.path = argv[1];
	n = (unsigned int)strtoul(argv[5], NULL, 0);
	snprintf(subj, sizeof(subj), "cn:%s", argv[6]);
	if (!n || n > MAX_CHANGES)
		return die("polchange: N must be 1..%d", MAX_CHANGES);
	ps = tw_polstore_open(argv[4], err, sizeof(err));
	if (!ps)
		return die("polchange: %s", err);
	for (i = 0; i < n; i++) {
		char *av[] = { argv[2], "-c", argv[3], "subject", i % 2 ? "enable" : "disable",
			       subj,	NULL };
		uint64_t v0 = tw_polstore_version(ps);
		int done = 0;
		pid_t pid;

		if (wait_version(&c, v0, now_s(), 10) < 0)
			return EXIT_FAILURE;
		t0 = now_s();
		pid = spawn(av);
		if (pid < 0)
			return die("polchange: %s: %s", argv[2], strerror((int)-pid));
		for (lat[i] = 0; !lat[i];) {
			t = now_s();
			if (!node_status(&c, &v) && v.policy_version > v0) {
				lat[i] = t - t0;
				early += !done;
			}
			if (!done && (done = reaped(pid, false)))
				cmd[i] = now_s() - t0;
			if (done < 0)
				return die("polchange: %s subject %s failed", argv[2], av[4]);
			if (t - t0 > 10)
				return die("polchange: the node did not get version > %llu in 10 s",
					   (unsigned long long)v0);
			pause_us(1000);
		}
		if (!done) {
			if (reaped(pid, true) < 0)
				return die("polchange: %s subject %s failed", argv[2], av[4]);
			cmd[i] = now_s() - t0;
		}
		pause_us(20000);
	}
	qsort(lat, n, sizeof(*lat), cmp_double);
	qsort(cmd, n, sizeof(*cmd), cmp_double);
	printf("change_n %u changes\n", n);
	printf("change_median_ms %.1f ms\n", lat[n / 2] * 1e3);
	printf("change_p90_ms %.1f ms\n", lat[n * 9 / 10] * 1e3);
	printf("change_worst_ms %.1f ms\n", lat[n - 1] * 1e3);
	printf("change_cmd_median_ms %.1f ms\n", cmd[n / 2] * 1e3);
	printf("change_before_exit %u changes\n", early);
	tw_polstore_close(ps);
	return EXIT_SUCCESS;
}

/*
 * TW_BENCH_SHORT_SUBJECTS set: subjects "u<i>" with no tenant, about 63 bytes
 * a line, so that 1M of them fit in the node's 64 MiB bundle limit.
 */
static bool short_subjects;

/* Subject @i as a bundle carries it (compact JSON, docs/policy.md). */
static int put_subject(struct tw_polstore *ps, unsigned int i, const char *state)
{
	char id[64], tenant[32], prof[32], json[512];
	const char *profs[1] = { prof };

	snprintf(prof, sizeof(prof), "p%u", i % 10);
	if (short_subjects) {
		snprintf(id, sizeof(id), "u%u", i);
		snprintf(json, sizeof(json),
			 "{\"kind\":\"cn\",\"id\":\"%s\",\"profiles\":[\"%s\"],\"state\":\"%s\"}",
			 id, prof, state);
		return tw_polstore_put_subject(ps, "cn", id, NULL, NULL, profs, 1, state, json);
	}
	snprintf(id, sizeof(id), "user%u@laptop.example.org", i);
	snprintf(tenant, sizeof(tenant), "t%u", i % 10);
	snprintf(json, sizeof(json),
		 "{\"kind\":\"cn\",\"id\":\"%s\",\"tenant\":\"%s\",\"profiles\":[\"%s\"],"
		 "\"state\":\"%s\"}",
		 id, tenant, prof, state);
	return tw_polstore_put_subject(ps, "cn", id, NULL, tenant, profs, 1, state, json);
}

/* A policy of @n subjects over 10 tenants and 10 profiles, replacing the store's, in one version. */
static int write_snapshot(struct tw_polstore *ps, unsigned int n, char *err, size_t errlen)
{
	char id[32], json[512];
	unsigned int i;
	int ret;

	if ((ret = tw_polstore_begin(ps, err, errlen)) || (ret = tw_polstore_clear(ps)))
		return ret;
	for (i = 0; i < 10 && !ret; i++) {
		snprintf(id, sizeof(id), "t%u", i);
		snprintf(json, sizeof(json), "{\"id\":\"%s\"}", id);
		ret = tw_polstore_put_tenant(ps, id, json);
		if (ret)
			break;
		snprintf(id, sizeof(id), "p%u", i);
		snprintf(json, sizeof(json),
			 "{\"id\":\"%s\",\"from_client\":[{\"prefix\":\"10.%u.0.0/16\","
			 "\"proto\":\"tcp\",\"ports\":\"443\"}]}",
			 id, i);
		ret = tw_polstore_put_profile(ps, id, json);
	}
	for (i = 0; i < n && !ret; i++)
		ret = put_subject(ps, i, "enabled");
	if (ret) {
		tw_polstore_rollback(ps);
		snprintf(err, errlen, "writing the snapshot: %s", strerror(-ret));
	}
	return ret;
}

static int cmd_policy(int argc, char **argv)
{
	struct ctl c = { .fd = -1 };
	unsigned int n, nd, i;
	struct tw_polstore *ps;
	uint64_t ver, rss0, rss1;
	double t0, t;
	char err[256];
	int npid, ret;

	if (argc < 6)
		return die("usage: policy SOCK POLICY_DB NODE_PID SUBJECTS DELTA [BASE_RSS]");
	c.path = argv[1];
	npid = atoi(argv[3]);
	n = (unsigned int)strtoul(argv[4], NULL, 0);
	nd = (unsigned int)strtoul(argv[5], NULL, 0);
	ps = tw_polstore_open(argv[2], err, sizeof(err));
	if (!ps)
		return die("policy: %s", err);
	if (nd > n)
		return die("policy: DELTA %s is more than SUBJECTS %s", argv[5], argv[4]);
	rss0 = argc > 6 ? strtoull(argv[6], NULL, 0) : rss_of(npid);
	short_subjects = getenv("TW_BENCH_SHORT_SUBJECTS") != NULL;
	t0 = now_s();
	ret = write_snapshot(ps, n, err, sizeof(err));
	fprintf(stderr, "portal_bench: %u subjects written to the store in %.1f s\n", n,
		now_s() - t0);
	t0 = now_s();
	if (ret || tw_polstore_commit(ps, &ver, err, sizeof(err)))
		return die("policy: %s", err);
	t = wait_version(&c, ver, t0, 300);
	if (t < 0)
		return EXIT_FAILURE;
	pause_us(500000); /* let the daemon free what the apply left */
	rss1 = rss_of(npid);
	printf("snapshot_subjects %u subjects\n", n);
	printf("snapshot_s %.3f s\n", t);
	printf("snapshot_rss_mb %.1f MB\n", (double)rss1 / 1e6);
	printf("snapshot_rss_per_subject %.0f B/subject\n",
	       ((double)rss1 - (double)rss0) / (double)n);

	for (int round = 0; round < 2 && nd; round++) {
		if (tw_polstore_begin(ps, err, sizeof(err)))
			return die("policy: %s", err);
		for (i = 0, ret = 0; i < nd && !ret; i++)
			ret = put_subject(ps, i * (n / nd), round ? "enabled" : "disabled");
		t0 = now_s();
		if (ret || tw_polstore_commit(ps, &ver, err, sizeof(err)))
			return die("policy: delta: %s", ret ? strerror(-ret) : err);
		t = wait_version(&c, ver, t0, 60);
		if (t < 0)
			return EXIT_FAILURE;
		printf("delta%d_changes %u subjects\n", round + 1, nd);
		printf("delta%d_ms %.1f ms\n", round + 1, t * 1e3);
	}
	tw_polstore_close(ps);
	return EXIT_SUCCESS;
}

static int cmd_waitpolicy(int argc, char **argv)
{
	struct ctl c = { .fd = -1 };
	struct tw_polstore *ps;
	char err[256];
	uint64_t ver;

	if (argc < 3)
		return die("usage: waitpolicy SOCK POLICY_DB");
	c.path = argv[1];
	ps = tw_polstore_open(argv[2], err, sizeof(err));
	if (!ps)
		return die("waitpolicy: %s", err);
	ver = tw_polstore_version(ps);
	tw_polstore_close(ps);
	return wait_version(&c, ver, now_s(), 60) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} cmds[] = {
	{ "fill", cmd_fill },	  { "baseline", cmd_baseline },
	{ "drain", cmd_drain },	  { "polchange", cmd_polchange },
	{ "policy", cmd_policy }, { "waitpolicy", cmd_waitpolicy },
};

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; argc > 1 && i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr,
		"usage: %s fill|baseline|drain|polchange|policy|waitpolicy ARGS (see the source)\n",
		argv[0]);
	return EXIT_FAILURE;
}
