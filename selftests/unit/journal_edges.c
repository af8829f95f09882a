// SPDX-License-Identifier: GPL-2.0-only
/*
 * The journal's reader at its edges: a callback that stops or aborts the
 * read, and rows damaged on disk (not JSON, or a record whose seq is not
 * its row's) refused with -EBADMSG and the row named, never delivered.
 * Found by make coverage / make mutate: none of these paths ran.
 */
#include <stdlib.h>
#include <unistd.h>
#include <sqlite3.h>
#include "test.h"
#include "journal.h"

struct tj {
	char dir[64];
	char path[96];
};

static bool tj_make(struct tj *t)
{
	snprintf(t->dir, sizeof(t->dir), "/tmp/tw_journal_edges.XXXXXX");
	if (!ASSERT_OK_PTR(mkdtemp(t->dir), "mkdtemp"))
		return false;
	snprintf(t->path, sizeof(t->path), "%s/journal.db", t->dir);
	return true;
}

static void tj_clean(struct tj *t)
{
	tw_journal_remove(t->path);
	rmdir(t->dir);
}

static struct tw_journal *jopen(const char *path)
{
	struct tw_journal_opts o = { .node_id = "node-edges", .reserve_bytes = 64 << 10 };
	struct tw_journal *j = tw_journal_open(path, &o);

	if (!j)
		test__diag("open %s: %s", path, tw_journal_errstr(NULL));
	return j;
}

/* @n health records, committed. */
static bool fill(struct tw_journal *j, int n)
{
	struct tw_record r;

	for (int i = 0; i < n; i++) {
		memset(&r, 0, sizeof(r));
		r.kind = TW_REC_HEALTH;
		snprintf(r.detail, sizeof(r.detail), "row %d", i + 1);
		if (!ASSERT_OK(tw_journal_append(j, &r, false), "append"))
			return false;
	}
	return ASSERT_OK(tw_journal_flush(j), "flush");
}

struct stopper {
	int calls;
	int at; /* the call that returns @ret */
	int ret;
	uint64_t last_seq;
};

static int stop_cb(const struct tw_record *r, const char *json, size_t len, void *ctx)
{
	struct stopper *s = ctx;

	s->calls++;
	s->last_seq = r->seq;
	return s->calls == s->at ? s->ret : 0;
}

static void subtest_callback_stops(void)
{
	static const struct {
		const char *name;
		int at, ret;
		int want; /* read_since's result */
		int calls;
	} cases[] = {
		{ "stop at the third", 3, 1, 2, 3 }, /* > 0: stop, count what was taken */
		{ "stop at the first", 1, 7, 0, 1 },
		{ "abort at the second", 2, -EIO, -EIO, 2 },
		{ "never stops", 0, 0, 5, 5 },
	};
	struct tw_journal *j;
	struct tj t = {};

	if (!tj_make(&t))
		return;
	j = jopen(t.path);
	if (!ASSERT_OK_PTR(j, "open") || !fill(j, 5))
		goto out;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct stopper s = { .at = cases[i].at, .ret = cases[i].ret };

		ASSERT_EQ(tw_journal_read_since(j, 0, 0, stop_cb, &s), cases[i].want,
			  cases[i].name);
		ASSERT_EQ(s.calls, cases[i].calls, "callback calls");
	}
	{
		struct stopper s = {};

		ASSERT_EQ(tw_journal_read_since(j, 4, 0, stop_cb, &s), 1, "after 4: one left");
		ASSERT_EQ(s.last_seq, 5, "the fifth");
		ASSERT_EQ(tw_journal_read_since(j, 5, 0, stop_cb, &s), 0, "after the last: none");
	}
out:
	if (j)
		tw_journal_close(j);
	tj_clean(&t);
}

static bool sql(const char *path, const char *stmt)
{
	sqlite3 *db = NULL;
	char *msg = NULL;
	bool ok;

	ok = sqlite3_open(path, &db) == SQLITE_OK &&
	     sqlite3_exec(db, stmt, NULL, NULL, &msg) == SQLITE_OK;
	if (!ok)
		test__diag("%s: %s", stmt, msg ? msg : sqlite3_errmsg(db));
	sqlite3_free(msg);
	sqlite3_close(db);
	return ok;
}

static void subtest_damaged_rows(void)
{
	static const struct {
		const char *name;
		const char *damage; /* SQL run on the closed journal */
	} cases[] = {
		{ "not JSON", "UPDATE records SET body = '{\"v\":1,' WHERE seq = 3" },
		{ "another row's record",
		  "UPDATE records SET body = (SELECT body FROM records WHERE seq = 4) WHERE seq = 3" },
		{ "empty body", "UPDATE records SET body = '' WHERE seq = 3" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct stopper s = {};
		struct tw_journal *j;
		struct tj t = {};

		if (!tj_make(&t))
			return;
		j = jopen(t.path);
		if (!ASSERT_OK_PTR(j, "open") || !fill(j, 5)) {
			if (j)
				tw_journal_close(j);
			tj_clean(&t);
			return;
		}
		tw_journal_close(j);
		j = NULL;
		if (sql(t.path, cases[i].damage))
			j = jopen(t.path);
		if (ASSERT_OK_PTR(j, cases[i].name)) {
			ASSERT_EQ(tw_journal_read_since(j, 0, 0, stop_cb, &s), -EBADMSG,
				  cases[i].name);
			ASSERT_EQ(s.calls, 2, "rows before the damaged one delivered");
			ASSERT_TRUE(strstr(tw_journal_errstr(j),
					   "row seq 3 does not hold a valid record") != NULL,
				    "error names the row");
			s.calls = 0;
			ASSERT_EQ(tw_journal_read_since(j, 3, 0, stop_cb, &s), 2,
				  "rows after it readable");
			tw_journal_close(j);
		}
		tj_clean(&t);
	}
}

void test_journal_edges(void)
{
	if (test__start_subtest("callback_stops"))
		subtest_callback_stops();
	if (test__start_subtest("damaged_rows"))
		subtest_damaged_rows();
}
