// SPDX-License-Identifier: GPL-2.0-only
/*
 * tw_utf8: the subject-name validator over a table of well-formed and
 * ill-formed sequences (the classes of Markus Kuhn's UTF-8 stress test),
 * the escaper that keeps a log line one line, and a UTF-8 CN carried
 * through a record's JSON and the journal unchanged.
 */
#include <stdlib.h>
#include <unistd.h>
#include "test.h"
#include "journal.h"
#include "record.h"
#include "tw_utf8.h"

struct utf8case {
	const char *name;
	const char *s;
	size_t n; /* 0: strlen(s) */
	enum tw_utf8_err want;
	size_t off; /* where the problem is */
};

/* clang-format off */
static const struct utf8case cases[] = {
	{ "ascii",		"alice@example.org",		0, TW_UTF8_OK, 17 },
	{ "latin-1 supplement",	"Zo\xc3\xab M\xc3\xbcller",	0, TW_UTF8_OK, 12 },
	{ "cjk",		"\xe6\x9d\x8e\xe5\xb0\x8f\xe9\xbe\x99", 0, TW_UTF8_OK, 9 },
	{ "astral (emoji)",	"key \xf0\x9f\x94\x91",		0, TW_UTF8_OK, 8 },
	{ "U+10FFFF",		"\xf4\x8f\xbf\xbf",		0, TW_UTF8_OK, 4 },
	{ "U+A0 nbsp",		"a\xc2\xa0" "b",		0, TW_UTF8_OK, 4 },
	{ "U+FFFD",		"\xef\xbf\xbd",			0, TW_UTF8_OK, 3 },
	{ "empty",		"",				0, TW_UTF8_OK, 0 },
	/* control characters */
	{ "newline",		"ali\nce",			0, TW_UTF8_CONTROL, 3 },
	{ "carriage return",	"alice\r",			0, TW_UTF8_CONTROL, 5 },
	{ "tab",		"\talice",			0, TW_UTF8_CONTROL, 0 },
	{ "escape",		"\x1b[31m",			0, TW_UTF8_CONTROL, 0 },
	{ "DEL",		"alice\x7f",			0, TW_UTF8_CONTROL, 5 },
	{ "C1 U+80",		"a\xc2\x80",			0, TW_UTF8_CONTROL, 1 },
	{ "C1 NEL U+85",	"a\xc2\x85" "b",		0, TW_UTF8_CONTROL, 1 },
	{ "C1 CSI U+9B",	"\xc2\x9b" "31m",		0, TW_UTF8_CONTROL, 0 },
	{ "C1 U+9F",		"\xc2\x9f",			0, TW_UTF8_CONTROL, 0 },
	{ "NUL inside",		"ab\0cd",			5, TW_UTF8_NUL, 2 },
	/* overlong forms */
	{ "overlong '/' 2",	"\xc0\xaf",			0, TW_UTF8_OVERLONG, 0 },
	{ "overlong NUL 2",	"\xc0\x80",			0, TW_UTF8_OVERLONG, 0 },
	{ "overlong c1",	"\xc1\xbf",			0, TW_UTF8_OVERLONG, 0 },
	{ "overlong '/' 3",	"\xe0\x80\xaf",			0, TW_UTF8_OVERLONG, 0 },
	{ "overlong U+7FF 3",	"\xe0\x9f\xbf",			0, TW_UTF8_OVERLONG, 0 },
	{ "overlong '/' 4",	"\xf0\x80\x80\xaf",		0, TW_UTF8_OVERLONG, 0 },
	{ "overlong U+FFFF 4",	"\xf0\x8f\xbf\xbf",		0, TW_UTF8_OVERLONG, 0 },
	/* surrogates */
	{ "surrogate D800",	"x\xed\xa0\x80",		0, TW_UTF8_SURROGATE, 1 },
	{ "surrogate DFFF",	"\xed\xbf\xbf",			0, TW_UTF8_SURROGATE, 0 },
	{ "surrogate pair",	"\xed\xa0\xbd\xed\xb2\xa9",	0, TW_UTF8_SURROGATE, 0 },
	/* beyond U+10FFFF */
	{ "U+110000",		"\xf4\x90\x80\x80",		0, TW_UTF8_RANGE, 0 },
	{ "lead f5",		"\xf5\x80\x80\x80",		0, TW_UTF8_RANGE, 0 },
	{ "5-byte form",	"\xf8\x88\x80\x80\x80",		0, TW_UTF8_RANGE, 0 },
	{ "lead ff",		"a\xff",			0, TW_UTF8_RANGE, 1 },
	/* truncated and stray bytes */
	{ "lone continuation",	"a\x80" "b",			0, TW_UTF8_INVALID, 1 },
	{ "truncated 2 at end",	"ab\xc3",			0, TW_UTF8_INVALID, 2 },
	{ "truncated 3",	"\xe6\x9d" "a",			0, TW_UTF8_INVALID, 0 },
	{ "truncated 4 at end",	"\xf0\x9f\x94",			0, TW_UTF8_INVALID, 0 },
	{ "latin-1 byte",	"jos\xe9",			0, TW_UTF8_INVALID, 3 },
	{ "cut by the length",	"\xc3\xab",			1, TW_UTF8_INVALID, 0 },
};

static const struct {
	const char *in, *out;
	size_t max;
} escapes[] = {
	{ "alice",			"alice",			64 },
	{ "Zo\xc3\xab",			"Zo\xc3\xab",			64 },
	{ "ali\nce",			"ali\\x0ace",			64 },
	{ "a\\b",			"a\\x5cb",			64 },
	{ "a\xc2\x85" "b",		"a\\xc2\\x85b",			64 },
	{ "jos\xe9",			"jos\\xe9",			64 },
	{ "\xed\xa0\x80",		"\\xed\\xa0\\x80",		64 },
	{ "abcdef",			"abc...",			3 },
	{ "ab\xc3\xab",			"ab\\xc3...",			3 },
};
/* clang-format on */

static void test_table(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct utf8case *c = &cases[i];
		size_t off = 999;
		enum tw_utf8_err e = tw_utf8_check(c->s, c->n ? c->n : strlen(c->s), &off);

		if (!ASSERT_EQ(e, c->want, c->name))
			test__diag("%s: got %s, want %s", c->name, tw_utf8_strerror(e),
				   tw_utf8_strerror(c->want));
		ASSERT_EQ(off, c->off, c->name);
	}
	ASSERT_STREQ(tw_utf8_strerror(TW_UTF8_SURROGATE), "UTF-16 surrogate in UTF-8", "strerror");
}

static void test_escape(void)
{
	char buf[64];

	for (size_t i = 0; i < sizeof(escapes) / sizeof(escapes[0]); i++) {
		tw_utf8_escape(buf, sizeof(buf), escapes[i].in, strlen(escapes[i].in),
			       escapes[i].max);
		ASSERT_STREQ(buf, escapes[i].out, escapes[i].in);
	}
	/* a 10,000-byte name with newlines: one bounded line */
	{
		char big[10000], out[4 * 64 + 4];

		memset(big, '\n', sizeof(big));
		tw_utf8_escape(out, sizeof(out), big, sizeof(big), 64);
		ASSERT_EQ(strlen(out), 4 * 64 + 3, "bounded");
		ASSERT_TRUE(!strchr(out, '\n'), "no newline");
	}
	/* a buffer too small ends cleanly */
	tw_utf8_escape(buf, 6, "\n\n\n", 3, 64);
	ASSERT_STREQ(buf, "\\x0a", "small buffer");
}

#define CN_UTF8 "Zo\xc3\xab M\xc3\xbcller \xe6\x9d\x8e \xf0\x9f\x94\x91"

static int read_cb(const struct tw_record *rec, const char *json, size_t len, void *ctx)
{
	struct tw_record *out = ctx;

	*out = *rec;
	return 0;
}

/* A record's JSON (what the journal stores and the portal reads) carries the CN unchanged. */
static void test_record_roundtrip(void)
{
	struct tw_record r = {}, back = {};
	struct tw_journal_opts o = { .node_id = "node-1" };
	struct tw_journal *j;
	char err[256], dir[] = "/tmp/tw_utf8.XXXXXX", path[64];
	char *json;
	size_t len;

	strcpy(r.node, "node-1");
	strcpy(r.log_id, "0123456789abcdef0123456789abcdef");
	r.seq = 1;
	r.time_ns = 1763784000123456789ull;
	r.kind = TW_REC_CONNECT;
	strcpy(r.session, "s-1");
	strcpy(r.subject, CN_UTF8);
	json = tw_record_to_json(&r, &len, err, sizeof(err));
	if (!ASSERT_OK_PTR(json, "to_json")) {
		test__diag("%s", err);
		return;
	}
	ASSERT_TRUE(strstr(json, "\"subject\":\"" CN_UTF8 "\"") != NULL, "UTF-8 as is in JSON");
	ASSERT_OK(tw_record_from_json(json, len, &back, err, sizeof(err)), "from_json");
	ASSERT_STREQ(back.subject, CN_UTF8, "subject back");
	free(json);

	if (!ASSERT_OK_PTR(mkdtemp(dir), "mkdtemp"))
		return;
	snprintf(path, sizeof(path), "%s/journal.db", dir);
	j = tw_journal_open(path, &o);
	if (!ASSERT_OK_PTR(j, "journal open"))
		goto out;
	memset(&back, 0, sizeof(back));
	r.seq = 0;
	if (ASSERT_OK(tw_journal_append(j, &r, true), "append"))
		ASSERT_EQ(tw_journal_read_since(j, 0, 10, read_cb, &back), 1, "read");
	ASSERT_STREQ(back.subject, CN_UTF8, "subject from the journal");
	tw_journal_close(j);
	tw_journal_remove(path);
out:
	rmdir(dir);
}

void test_utf8(void)
{
	if (test__start_subtest("table"))
		test_table();
	if (test__start_subtest("escape"))
		test_escape();
	if (test__start_subtest("record_roundtrip"))
		test_record_roundtrip();
}
