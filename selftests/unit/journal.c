// SPDX-License-Identifier: GPL-2.0-only
/*
 * The record journal against a real SQLite file: append/read/ack, group
 * commit, seq continuity across reopen and across a SIGKILL of the writer,
 * the disk cap's gap records, and a really full filesystem (a small tmpfs
 * in a private mount namespace).
 */
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "test.h"
#include "journal.h"

#define MAXROWS 4096

struct tmpjournal {
	char dir[64];
	char path[96];
};

static bool tj_make(struct tmpjournal *t)
{
	snprintf(t->dir, sizeof(t->dir), "/tmp/tw_journal.XXXXXX");
	if (!ASSERT_OK_PTR(mkdtemp(t->dir), "mkdtemp"))
		return false;
	snprintf(t->path, sizeof(t->path), "%s/journal.db", t->dir);
	return true;
}

static void tj_clean(struct tmpjournal *t)
{
	char p[128];

	if (!t->dir[0])
		return;
	unlink(t->path);
	snprintf(p, sizeof(p), "%s-wal", t->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", t->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-reserve", t->path);
	unlink(p);
	rmdir(t->dir);
}

/* A small reserve: the disk-full test's tmpfs is 320 KiB. */
static struct tw_journal *jopen(const char *path, uint64_t cap, uint32_t batch)
{
	struct tw_journal_opts o = { .node_id = "node-test",
				     .cap_bytes = cap,
				     .batch_max = batch,
				     .reserve_bytes = 64 << 10 };
	struct tw_journal *j = tw_journal_open(path, &o);

	if (!j)
		test__diag("open %s: %s", path, tw_journal_errstr(NULL));
	return j;
}

static void mkrec(struct tw_record *r, uint32_t kind, const char *sess)
{
	memset(r, 0, sizeof(*r));
	r->kind = kind;
	if (sess) {
		snprintf(r->session, sizeof(r->session), "%s", sess);
		snprintf(r->subject, sizeof(r->subject), "CN=%s", sess);
	}
	if (kind == TW_REC_INTERIM || kind == TW_REC_DISCONNECT) {
		r->has_counters = true;
		r->ctr.from_bytes = 1000;
		r->ctr.to_bytes = 2000;
	}
	if (kind == TW_REC_DISCONNECT)
		r->term_cause = TW_TERM_USER_REQUEST;
	if (kind == TW_REC_DECISION && !sess)
		strcpy(r->subject, "CN=someone");
	if (kind == TW_REC_BAN)
		strcpy(r->subject, "CN=mallory");
	if (kind == TW_REC_HEALTH)
		strcpy(r->detail, "ok");
}

static int append(struct tw_journal *j, uint32_t kind, const char *sess, bool durable)
{
	struct tw_record r;
	int err;

	mkrec(&r, kind, sess);
	err = tw_journal_append(j, &r, durable);
	if (err)
		test__diag("append: %s", tw_journal_errstr(j));
	return err ? err : (int)r.seq;
}

struct rows {
	int n;
	uint64_t seq[MAXROWS];
	uint32_t kind[MAXROWS];
	struct tw_record gap; /* the last gap record seen */
	int ngap;
	uint64_t gap_seqs[MAXROWS];
	int ngap_seqs;
};

static int collect(const struct tw_record *r, const char *json, size_t len, void *ctx)
{
	struct rows *rows = ctx;
	uint32_t i;
	uint64_t s;

	if (rows->n == MAXROWS || strlen(json) != len)
		return -E2BIG;
	rows->seq[rows->n] = r->seq;
	rows->kind[rows->n++] = r->kind;
	if (r->kind == TW_REC_GAP) {
		rows->gap = *r;
		rows->ngap++;
		for (i = 0; i < r->ngaps; i++)
			for (s = r->gaps[i].first; s <= r->gaps[i].last; s++)
				if (rows->ngap_seqs < MAXROWS)
					rows->gap_seqs[rows->ngap_seqs++] = s;
	}
	return 0;
}

static int read_all(struct tw_journal *j, struct rows *rows)
{
	memset(rows, 0, sizeof(*rows));
	return tw_journal_read_since(j, 0, 0, collect, rows);
}

static void subtest_basic(void)
{
	struct tmpjournal t = {};
	struct tw_journal_stats st;
	struct tw_journal *j = NULL;
	struct rows *rows = calloc(1, sizeof(*rows));
	int i, n;

	if (!ASSERT_OK_PTR(rows, "calloc") || !tj_make(&t))
		goto out;
	j = jopen(t.path, 0, 0);
	if (!ASSERT_OK_PTR(j, "open"))
		goto out;
	ASSERT_EQ(strlen(tw_journal_log_id(j)), 32, "log id length");
	ASSERT_EQ(append(j, TW_REC_CONNECT, "s1", true), 1, "connect seq 1");
	for (i = 0; i < 8; i++)
		ASSERT_EQ(append(j, TW_REC_INTERIM, "s1", false), 2 + i, "interim seq");
	ASSERT_EQ(append(j, TW_REC_DISCONNECT, "s1", true), 10, "disconnect seq 10");
	ASSERT_EQ(tw_journal_last_seq(j), 10, "last seq");

	n = read_all(j, rows);
	ASSERT_EQ(n, 10, "read 10");
	for (i = 0; i < n; i++)
		ASSERT_EQ(rows->seq[i], i + 1, "in order");
	ASSERT_EQ(rows->kind[0], TW_REC_CONNECT, "first is connect");
	ASSERT_EQ(rows->kind[9], TW_REC_DISCONNECT, "last is disconnect");

	memset(rows, 0, sizeof(*rows));
	ASSERT_EQ(tw_journal_read_since(j, 5, 3, collect, rows), 3, "since 5, max 3");
	ASSERT_TRUE(rows->seq[0] == 6 && rows->seq[2] == 8, "6..8");

	ASSERT_OK(tw_journal_ack(j, 4), "ack 4");
	ASSERT_OK(tw_journal_ack(j, 2), "ack below is a no-op");
	ASSERT_EQ(tw_journal_ack(j, 11), -ERANGE, "ack beyond last seq");
	n = read_all(j, rows);
	ASSERT_EQ(n, 6, "6 rows after ack 4");
	ASSERT_EQ(rows->seq[0], 5, "first after ack is 5");
	if (ASSERT_OK(tw_journal_stats(j, &st), "stats")) {
		ASSERT_EQ(st.rows, 6, "stats rows");
		ASSERT_EQ(st.acked_seq, 4, "stats acked");
		ASSERT_EQ(st.synced_seq, 10, "synced");
	}

	/* An invalid record is refused whole and takes no seq. */
	{
		struct tw_record r;

		mkrec(&r, TW_REC_INTERIM, NULL);
		ASSERT_EQ(tw_journal_append(j, &r, false), -EINVAL, "interim without session");
		ASSERT_TRUE(strstr(tw_journal_errstr(j), "\"session\""), "errstr names field");
		ASSERT_EQ(r.seq, 0, "no seq");
		ASSERT_EQ(append(j, TW_REC_HEALTH, NULL, true), 11, "next seq unaffected");
	}
out:
	ASSERT_OK(tw_journal_close(j), "close");
	tj_clean(&t);
	free(rows);
}

static void subtest_group_commit(void)
{
	struct tmpjournal t = {};
	struct tw_journal_stats st;
	struct tw_journal *j = NULL;
	struct rows *rows = calloc(1, sizeof(*rows));
	int i;

	if (!ASSERT_OK_PTR(rows, "calloc") || !tj_make(&t))
		goto out;
	j = jopen(t.path, 0, 100);
	if (!ASSERT_OK_PTR(j, "open"))
		goto out;
	for (i = 0; i < 99; i++)
		append(j, TW_REC_INTERIM, "s", false);
	ASSERT_OK(tw_journal_stats(j, &st), "stats");
	ASSERT_EQ(st.queued, 99, "99 queued");
	ASSERT_EQ(st.rows, 0, "none committed yet");
	ASSERT_EQ(tw_journal_last_seq(j), 0, "last seq 0");
	ASSERT_EQ(read_all(j, rows), 0, "queued records are not readable");

	ASSERT_EQ(append(j, TW_REC_INTERIM, "s", false), 100, "100th");
	ASSERT_OK(tw_journal_stats(j, &st), "stats");
	ASSERT_EQ(st.queued, 0, "batch full: committed");
	ASSERT_EQ(st.rows, 100, "100 rows");

	append(j, TW_REC_INTERIM, "s", false);
	append(j, TW_REC_INTERIM, "s", false);
	ASSERT_EQ(append(j, TW_REC_CONNECT, "t", true), 103, "durable");
	ASSERT_EQ(tw_journal_last_seq(j), 103, "durable commits what was queued before it");
	append(j, TW_REC_INTERIM, "s", false);
	ASSERT_OK(tw_journal_flush(j), "flush");
	ASSERT_OK(tw_journal_stats(j, &st), "stats");
	ASSERT_EQ(st.synced_seq, 103, "a NORMAL flush is committed, not yet synced");
	ASSERT_EQ(st.last_seq, 104, "committed");
	/* Readers only ever see synced rows: read_since syncs first. */
	ASSERT_EQ(read_all(j, rows), 104, "all 104");
	ASSERT_OK(tw_journal_stats(j, &st), "stats");
	ASSERT_EQ(st.synced_seq, 104, "synced by the read");
out:
	ASSERT_OK(tw_journal_close(j), "close");
	tj_clean(&t);
	free(rows);
}

static void subtest_reopen(void)
{
	struct tmpjournal t = {}, t2 = {};
	struct tw_journal *j = NULL, *j2 = NULL;
	struct rows *rows = calloc(1, sizeof(*rows));
	char id[33];
	int i;

	if (!ASSERT_OK_PTR(rows, "calloc") || !tj_make(&t) || !tj_make(&t2))
		goto out;
	j = jopen(t.path, 0, 0);
	if (!ASSERT_OK_PTR(j, "open"))
		goto out;
	snprintf(id, sizeof(id), "%s", tw_journal_log_id(j));
	for (i = 0; i < 5; i++)
		append(j, TW_REC_CONNECT, "s", true);
	/* Everything acked and trimmed: the table is empty, the seq must not restart. */
	ASSERT_OK(tw_journal_ack(j, 5), "ack all");
	append(j, TW_REC_INTERIM, "s", false); /* closed with this queued: close flushes */
	ASSERT_OK(tw_journal_close(j), "close");

	j = jopen(t.path, 0, 0);
	if (!ASSERT_OK_PTR(j, "reopen"))
		goto out;
	ASSERT_STREQ(tw_journal_log_id(j), id, "log id kept");
	ASSERT_EQ(tw_journal_last_seq(j), 6, "last seq kept");
	ASSERT_EQ(read_all(j, rows), 1, "only the unacked row");
	ASSERT_EQ(rows->seq[0], 6, "seq 6");
	ASSERT_EQ(append(j, TW_REC_HEALTH, NULL, true), 7, "continues at 7");

	j2 = jopen(t2.path, 0, 0);
	if (ASSERT_OK_PTR(j2, "second journal"))
		ASSERT_TRUE(strcmp(tw_journal_log_id(j2), id) != 0, "new journal, new log id");
out:
	ASSERT_OK(tw_journal_close(j), "close");
	ASSERT_OK(tw_journal_close(j2), "close 2");
	tj_clean(&t);
	tj_clean(&t2);
	free(rows);
}

static void subtest_not_a_journal(void)
{
	struct tmpjournal t = {};
	struct tw_journal *j;
	int fd;

	if (!tj_make(&t))
		return;
	fd = open(t.path, O_WRONLY | O_CREAT, 0600);
	if (ASSERT_GE(fd, 0, "create")) {
		ASSERT_EQ(write(fd, "hello, not sqlite, really not sqlite at all\n", 44), 44, "w");
		close(fd);
	}
	j = jopen(t.path, 0, 0);
	ASSERT_TRUE(!j && errno == EBADMSG, "garbage file refused");
	ASSERT_TRUE(strstr(tw_journal_errstr(NULL), t.path) != NULL, "error names the file");
	tw_journal_close(j);
	tj_clean(&t);
}

/* The child appends and reports; the parent kills it with SIGKILL mid-life. */
static void child_writer(const char *path, int wfd)
{
	struct tw_journal *j = jopen(path, 0, 0);
	struct tw_record r;
	uint64_t last;
	int i;

	if (!j)
		_exit(2);
	for (i = 0; i < 20; i++) {
		mkrec(&r, TW_REC_INTERIM, "s");
		if (tw_journal_append(j, &r, false))
			_exit(3);
	}
	if (tw_journal_flush(j)) /* committed with NORMAL sync: survives a process kill */
		_exit(4);
	mkrec(&r, TW_REC_CONNECT, "t");
	if (tw_journal_append(j, &r, true)) /* durable: survives a power cut too */
		_exit(5);
	last = r.seq;
	for (i = 0; i < 3; i++) { /* queued only: die with the process */
		mkrec(&r, TW_REC_INTERIM, "t");
		if (tw_journal_append(j, &r, false))
			_exit(6);
	}
	if (write(wfd, &last, sizeof(last)) != sizeof(last))
		_exit(7);
	for (;;)
		pause();
}

static void subtest_kill9(void)
{
	struct tmpjournal t = {};
	struct tw_journal *j = NULL;
	struct rows *rows = calloc(1, sizeof(*rows));
	struct pollfd pfd;
	uint64_t last = 0;
	int pfds[2] = { -1, -1 }, status = 0, i, n;
	pid_t pid = -1;

	if (!ASSERT_OK_PTR(rows, "calloc") || !tj_make(&t))
		goto out;
	if (!ASSERT_OK(pipe(pfds), "pipe"))
		goto out;
	fflush(stdout);
	pid = fork();
	if (!ASSERT_GE(pid, 0, "fork"))
		goto out;
	if (pid == 0) {
		close(pfds[0]);
		child_writer(t.path, pfds[1]);
	}
	close(pfds[1]);
	pfds[1] = -1;
	pfd = (struct pollfd){ .fd = pfds[0], .events = POLLIN };
	/* Bounded wait: a wedged child must fail the test, not hang it. */
	if (!ASSERT_EQ(poll(&pfd, 1, 10000), 1, "child reported") ||
	    !ASSERT_EQ(read(pfds[0], &last, sizeof(last)), sizeof(last), "read seq"))
		goto out_kill;
	ASSERT_EQ(last, 21, "child's durable connect is seq 21");
out_kill:
	kill(pid, SIGKILL);
	ASSERT_EQ(waitpid(pid, &status, 0), pid, "waitpid");
	ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "killed by SIGKILL");
	if (!last)
		goto out;

	j = jopen(t.path, 0, 0);
	if (!ASSERT_OK_PTR(j, "reopen after kill"))
		goto out;
	n = read_all(j, rows);
	ASSERT_EQ(n, 21, "every committed record survived");
	for (i = 0; i < n; i++)
		ASSERT_EQ(rows->seq[i], i + 1, "contiguous");
	ASSERT_EQ(rows->kind[20], TW_REC_CONNECT, "durable connect present");
	ASSERT_EQ(tw_journal_last_seq(j), 21, "last seq");
	ASSERT_GT(append(j, TW_REC_DISCONNECT, "t", true), 21, "seq continues past committed");
out:
	if (pfds[0] >= 0)
		close(pfds[0]);
	if (pfds[1] >= 0)
		close(pfds[1]);
	ASSERT_OK(tw_journal_close(j), "close");
	tj_clean(&t);
	free(rows);
}

/*
 * Sessions a and b: connect, 150 interleaved interims each, decisions among
 * them; e's only interim (never superseded) is among the oldest rows; then
 * c; a disconnects.
 */
static int fill_for_cap(struct tw_journal *j, uint32_t *kinds, char *sess)
{
	static const struct {
		uint32_t kind;
		char s;
	} head[] = { { TW_REC_CONNECT, 'a' }, { TW_REC_DECISION, 0 },  { TW_REC_CONNECT, 'b' },
		     { TW_REC_BAN, 0 },	      { TW_REC_CONNECT, 'e' }, { TW_REC_INTERIM, 'e' } },
	  tail[] = { { TW_REC_DECISION, 'c' }, { TW_REC_CONNECT, 'c' }, { TW_REC_INTERIM, 'c' },
		     { TW_REC_BAN, 0 },	       { TW_REC_INTERIM, 'a' }, { TW_REC_DISCONNECT, 'a' },
		     { TW_REC_INTERIM, 'b' } };
	char name[2] = "";
	int seq = 0, i, k, ret;

#define ADD(kd, c, dur)                                          \
	do {                                                     \
		name[0] = (c);                                   \
		ret = append(j, (kd), (c) ? name : NULL, (dur)); \
		if (ret <= 0)                                    \
			return -1;                               \
		seq = ret;                                       \
		kinds[seq] = (kd);                               \
		sess[seq] = (c);                                 \
	} while (0)
	for (i = 0; i < 6; i++)
		ADD(head[i].kind, head[i].s, head[i].kind != TW_REC_INTERIM);
	for (i = 0; i < 150; i++) {
		for (k = 0; k < 2; k++)
			ADD(TW_REC_INTERIM, "ab"[k], false);
		/* Records that must never go, amid the ones that may. */
		if (i % 50 == 25)
			ADD(TW_REC_DECISION, 0, true);
	}
	for (i = 0; i < 7; i++)
		ADD(tail[i].kind, tail[i].s, tail[i].kind != TW_REC_INTERIM);
#undef ADD
	return tw_journal_flush(j) ? -1 : seq;
}

static bool superseded(const uint32_t *kinds, const char *sess, int s, int last)
{
	int l;

	if (kinds[s] != TW_REC_INTERIM)
		return false;
	for (l = s + 1; l <= last; l++)
		if (sess[l] == sess[s] &&
		    (kinds[l] == TW_REC_INTERIM || kinds[l] == TW_REC_DISCONNECT))
			return true;
	return false;
}

static void subtest_cap(void)
{
	struct tmpjournal t = {};
	struct tw_journal_stats st;
	struct tw_journal *j = NULL;
	struct rows *rows = calloc(1, sizeof(*rows)), *before = calloc(1, sizeof(*before));
	uint32_t kinds[512] = {};
	char sess[512] = {}, present[512] = {}, dropped[512] = {};
	uint64_t cap, full;
	int last, trigger, s, i, ndropped = 0, nsup_kept_before = 0, err;
	struct tw_record r;

	if (!ASSERT_OK_PTR(rows, "calloc") || !ASSERT_OK_PTR(before, "calloc") || !tj_make(&t))
		goto out;
	j = jopen(t.path, 0, 0);
	if (!ASSERT_OK_PTR(j, "open"))
		goto out;
	last = fill_for_cap(j, kinds, sess);
	if (!ASSERT_EQ(last, 316, "filled"))
		goto out;
	ASSERT_OK(tw_journal_stats(j, &st), "stats");
	full = st.used_bytes;
	tw_journal_close(j);

	/* Reopen with two thirds of that as the cap: the next commit must trim. */
	cap = full * 2 / 3;
	test__diag("journal uses %llu bytes; cap %llu", (unsigned long long)full,
		   (unsigned long long)cap);
	j = jopen(t.path, cap, 0);
	if (!ASSERT_OK_PTR(j, "reopen with cap"))
		goto out;
	trigger = append(j, TW_REC_HEALTH, NULL, true);
	if (!ASSERT_EQ(trigger, last + 1, "append under the cap succeeds"))
		goto out;
	kinds[trigger] = TW_REC_HEALTH;

	if (!ASSERT_GT(read_all(j, rows), 0, "read"))
		goto out;
	ASSERT_EQ(rows->ngap, 1, "one gap record");
	ASSERT_EQ(rows->seq[rows->n - 1], trigger + 1, "gap record comes after the trigger");
	ASSERT_EQ(rows->kind[rows->n - 1], TW_REC_GAP, "last row is the gap");
	for (i = 0; i < rows->n; i++)
		if (rows->seq[i] <= (uint64_t)trigger)
			present[rows->seq[i]] = 1;
	for (i = 0; i < rows->ngap_seqs; i++)
		dropped[rows->gap_seqs[i]] = 1;
	ndropped = rows->ngap_seqs;
	ASSERT_EQ(rows->gap.gap_count, ndropped, "gap count");
	ASSERT_GT(ndropped, 0, "something was dropped");
	/*
	 * Exactly: the dropped rows are the oldest superseded interims, as many
	 * as the gap says; every other row is still there.
	 */
	for (s = 1; s <= trigger; s++) {
		bool sup = superseded(kinds, sess, s, trigger);
		bool want_dropped = sup && nsup_kept_before < ndropped;

		if (sup)
			nsup_kept_before++;
		if (!ASSERT_EQ(dropped[s], want_dropped, "dropped exactly the oldest superseded") ||
		    !ASSERT_EQ(present[s], !want_dropped, "row present unless dropped")) {
			test__diag("seq %d kind %u session %c", s, kinds[s],
				   sess[s] ? sess[s] : '-');
			break;
		}
	}
	/* b's last interim, a's disconnect, c's only interim */
	ASSERT_TRUE(present[last] && present[last - 1] && present[last - 4], "latest kept");
	ASSERT_OK(tw_journal_stats(j, &st), "stats");
	ASSERT_LE(st.used_bytes, cap, "under the cap");
	/* the row count is kept, not counted: through inserts, the cap's deletes and the gap */
	ASSERT_EQ(st.rows, (uint64_t)rows->n, "row count after the cap's trim");
	/* Trimmed to the low-water mark, cap - cap/8, so the next batches do
	 * not trim again at once; and no further: superseded interims remain. */
	ASSERT_LE(st.used_bytes, cap - cap / 8, "down to the low-water mark");
	ASSERT_LT(ndropped, nsup_kept_before, "stopped at the low-water mark");
	ASSERT_EQ(st.dropped, ndropped, "dropped counter");
	test__diag("dropped %d of %d superseded interims, now %llu bytes", ndropped,
		   nsup_kept_before, (unsigned long long)st.used_bytes);
	tw_journal_close(j);

	/* A cap that nothing droppable can meet: -ENOSPC, and nothing stored is lost. */
	j = jopen(t.path, 4096, 0);
	if (!ASSERT_OK_PTR(j, "reopen with tiny cap"))
		goto out;
	ASSERT_GT(read_all(j, before), 0, "read before");
	mkrec(&r, TW_REC_CONNECT, "d");
	err = tw_journal_append(j, &r, true);
	ASSERT_EQ(err, -ENOSPC, "durable append over an unmeetable cap");
	ASSERT_EQ(r.seq, 0, "no seq");
	ASSERT_TRUE(strstr(tw_journal_errstr(j), "over its cap") != NULL, "message says why");
	test__diag("%s", tw_journal_errstr(j));
	ASSERT_EQ(read_all(j, rows), before->n, "same rows");
	ASSERT_OK(memcmp(rows->seq, before->seq, sizeof(rows->seq)), "same seqs");
	ASSERT_EQ(append(j, TW_REC_INTERIM, "b", false), trigger + 2, "queued (not yet committed)");
	ASSERT_EQ(tw_journal_flush(j), -ENOSPC, "flush fails the same way");
	ASSERT_OK(tw_journal_stats(j, &st), "stats");
	ASSERT_EQ(st.queued, 1, "still queued, not lost in memory");
	ASSERT_EQ(st.rows, (uint64_t)before->n, "rows unchanged");
	ASSERT_EQ(tw_journal_close(j), -ENOSPC, "close reports the failed flush");

	/* The portal acks: rows go, and without a cap appends work again. */
	j = jopen(t.path, 0, 0);
	if (!ASSERT_OK_PTR(j, "reopen"))
		goto out;
	ASSERT_OK(tw_journal_ack(j, trigger + 1), "ack all");
	ASSERT_EQ(append(j, TW_REC_CONNECT, "d", true), trigger + 2, "seq after the gap");
	ASSERT_OK(tw_journal_stats(j, &st), "stats");
	ASSERT_EQ(st.rows, 1, "row count after the ack's trim and one append");
out:
	ASSERT_OK(tw_journal_close(j), "close");
	tj_clean(&t);
	free(rows);
	free(before);
}

/*
 * The trim target, for caps across the range the fill allows: a commit over
 * the cap drops superseded interims until the journal is at or under the
 * low-water mark cap - cap/8 (so the next batches do not trim again at
 * once), and stops there while superseded interims remain. Page accounting
 * moves in steps of 64 rows, so one cap alone can land on a step that both
 * the cap and the mark accept; a range of caps cannot.
 */
static void subtest_cap_low_water(void)
{
	struct tw_journal_stats st;
	uint32_t kinds[512];
	char sess[512];
	uint64_t full = 0, cap, pages, low;
	int last, nsup, s, ncaps = 0;

	for (pages = 0;; pages++) {
		struct tmpjournal t = {};
		struct tw_journal *j;

		if (!tj_make(&t))
			return;
		memset(kinds, 0, sizeof(kinds));
		memset(sess, 0, sizeof(sess));
		j = jopen(t.path, 0, 0);
		last = j ? fill_for_cap(j, kinds, sess) : -1;
		if (!ASSERT_GT(last, 0, "filled") ||
		    !ASSERT_OK(tw_journal_stats(j, &st), "stats")) {
			tw_journal_close(j);
			tj_clean(&t);
			return;
		}
		tw_journal_close(j);
		if (!full)
			full = st.used_bytes;
		/* from 90% of the filled size down to half of it, a page at a time */
		cap = full * 9 / 10 - pages * 4096;
		if (cap < full / 2) {
			tj_clean(&t);
			break;
		}
		low = cap - cap / 8;
		j = jopen(t.path, cap, 0);
		if (ASSERT_OK_PTR(j, "reopen with cap") &&
		    ASSERT_EQ(append(j, TW_REC_HEALTH, NULL, true), last + 1, "trigger") &&
		    ASSERT_OK(tw_journal_stats(j, &st), "stats")) {
			for (nsup = 0, s = 1; s <= last; s++)
				nsup += superseded(kinds, sess, s, last);
			if (!ASSERT_LE(st.used_bytes, low, "down to cap - cap/8") ||
			    !ASSERT_LT(st.dropped, (uint64_t)nsup, "superseded interims remain"))
				test__diag(
					"cap %llu: %llu bytes used, low-water mark %llu, dropped "
					"%llu of %d",
					(unsigned long long)cap, (unsigned long long)st.used_bytes,
					(unsigned long long)low, (unsigned long long)st.dropped,
					nsup);
			ncaps++;
		}
		tw_journal_close(j);
		tj_clean(&t);
	}
	ASSERT_GE(ncaps, 4, "caps tried");
}

/*
 * A really full filesystem: a 320 KiB tmpfs in a mount namespace of our own,
 * so nothing outside ever sees it; back to the original namespace after.
 */
static void subtest_disk_full(void)
{
	struct tmpjournal t = {};
	struct tw_journal_stats st;
	struct tw_journal *j = NULL;
	struct rows *rows = NULL;
	struct tw_record r;
	int oldns = -1, cwd = -1, err = 0, n_ok = 0, i;
	bool mounted = false, unshared = false;

	if (!test__need_root())
		return;
	rows = calloc(1, sizeof(*rows));
	if (!ASSERT_OK_PTR(rows, "calloc") || !tj_make(&t))
		goto out;
	oldns = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	if (!ASSERT_GE(oldns, 0, "open own mount ns"))
		goto out;
	cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (unshare(CLONE_NEWNS)) {
		test__skip("unshare(CLONE_NEWNS): %s", strerror(errno));
		goto out;
	}
	unshared = true;
	if (!ASSERT_OK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), "make / private") ||
	    !ASSERT_OK(mount("tw-journal-full", t.dir, "tmpfs", MS_NOSUID | MS_NODEV,
			     "size=320k,mode=0700"),
		       "mount tmpfs"))
		goto out;
	mounted = true;

	j = jopen(t.path, 0, 0);
	if (!ASSERT_OK_PTR(j, "open on tmpfs"))
		goto out;
	for (i = 0; i < 5000; i++) {
		mkrec(&r, TW_REC_HEALTH, NULL);
		memset(r.detail, 'x', 900);
		r.detail[900] = '\0';
		err = tw_journal_append(j, &r, i % 2);
		if (err)
			break;
		n_ok++;
	}
	if (!(i % 2)) /* the last good append may still be queued */
		err = err ? err : tw_journal_flush(j);
	ASSERT_EQ(err, -ENOSPC, "disk full is -ENOSPC");
	test__diag("%d appends before the disk was full: %s", n_ok, tw_journal_errstr(j));
	ASSERT_TRUE(strstr(tw_journal_errstr(j), "disk full") != NULL, "message says disk full");
	ASSERT_GT(n_ok, 20, "some records fit");
	/* Earlier rows all committed: the failing batch is the only loss, and never acked. */
	i = read_all(j, rows);
	ASSERT_GE(i, n_ok - 1, "earlier rows survive");
	ASSERT_LE(i, n_ok, "nothing invented");
	for (err = 0; err < i; err++)
		if (!ASSERT_EQ(rows->seq[err], err + 1, "contiguous"))
			break;
	ASSERT_EQ(tw_journal_last_seq(j), (uint64_t)i, "last seq is the last committed");

	/* A record queued before the failing durable one is still queued, not lost. */
	ASSERT_OK(tw_journal_stats(j, &st), "stats");
	ASSERT_EQ(st.queued, n_ok - i, "accepted but uncommitted records stay queued");

	ASSERT_TRUE(st.reserve_held, "reserve untouched by appends");

	/* The portal acks half: trimming works on a full disk and makes room. */
	ASSERT_OK(tw_journal_ack(j, (uint64_t)i / 2), "ack on a full disk");
	ASSERT_OK(tw_journal_stats(j, &st), "stats");
	test__diag("ack %s the reserve", st.reserve_held ? "did not need" : "spent");
	ASSERT_EQ(append(j, TW_REC_CONNECT, "s", true), n_ok + 1, "room again after the ack");
	tw_journal_close(j);
	j = jopen(t.path, 0, 0);
	if (ASSERT_OK_PTR(j, "reopen")) {
		ASSERT_EQ(tw_journal_last_seq(j), (uint64_t)n_ok + 1, "seq survived");
		ASSERT_EQ(read_all(j, rows), n_ok + 1 - i / 2, "rows survived");
	}
out:
	tw_journal_close(j);
	j = NULL;
	if (mounted)
		ASSERT_OK(umount2(t.dir, MNT_DETACH), "umount");
	if (unshared) {
		/* setns() into a mount namespace moves the cwd to its root:
		 * later tests open files relative to the source tree */
		ASSERT_OK(setns(oldns, CLONE_NEWNS), "back to the original mount ns");
		if (cwd >= 0)
			ASSERT_OK(fchdir(cwd), "back to the original cwd");
	}
	if (oldns >= 0)
		close(oldns);
	if (cwd >= 0)
		close(cwd);
	tj_clean(&t);
	free(rows);
}

void test_journal(void)
{
	if (test__start_subtest("append_read_ack"))
		subtest_basic();
	if (test__start_subtest("group_commit"))
		subtest_group_commit();
	if (test__start_subtest("reopen_seq"))
		subtest_reopen();
	if (test__start_subtest("not_a_journal"))
		subtest_not_a_journal();
	if (test__start_subtest("kill9_durable"))
		subtest_kill9();
	if (test__start_subtest("cap_gap"))
		subtest_cap();
	if (test__start_subtest("cap_low_water"))
		subtest_cap_low_water();
	if (test__start_subtest("disk_full"))
		subtest_disk_full();
}
