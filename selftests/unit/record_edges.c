// SPDX-License-Identifier: GPL-2.0-only
/*
 * tw_record_validate() at its edges, on records built in C (the parser
 * refuses most of these before validation sees them, so the record test's
 * JSON cases never reach these checks): each field one past its limit is
 * refused with the field named, and the limit itself is accepted. Found by
 * make mutate: removing any one of these checks passed every suite.
 */
#include <stdlib.h>
#include "test.h"
#include "record.h"

#define INT_MAX_U64 ((uint64_t)INT64_MAX)

/* A valid interim record; each case changes one thing. */
static void interim(struct tw_record *r)
{
	memset(r, 0, sizeof(*r));
	strcpy(r->node, "n1");
	strcpy(r->log_id, "0123456789abcdef0123456789abcdef");
	r->seq = 7;
	r->time_ns = 1;
	r->kind = TW_REC_INTERIM;
	strcpy(r->session, "s");
	strcpy(r->subject, "alice");
	r->has_counters = true;
	r->ctr.from_bytes = 1;
}

static void gap(struct tw_record *r)
{
	interim(r);
	r->kind = TW_REC_GAP;
	r->session[0] = r->subject[0] = '\0';
	r->has_counters = false;
	memset(&r->ctr, 0, sizeof(r->ctr));
	r->ngaps = 1;
	r->gaps[0] = (struct tw_seq_range){ 2, 3 };
	r->gap_count = 2;
}

static void kind_zero(struct tw_record *r)
{
	r->kind = 0;
}
static void kind_past_last(struct tw_record *r)
{
	r->kind = TW_REC_GAP + 1;
}
static void node_empty(struct tw_record *r)
{
	r->node[0] = '\0';
}
static void node_unterminated(struct tw_record *r)
{
	memset(r->node, 'a', sizeof(r->node));
}
static void node_longest(struct tw_record *r)
{
	memset(r->node, 'a', sizeof(r->node) - 1);
	r->node[sizeof(r->node) - 1] = '\0';
}
static void detail_unterminated(struct tw_record *r)
{
	memset(r->detail, 'd', sizeof(r->detail));
}
static void log_id_upper(struct tw_record *r)
{
	r->log_id[0] = 'A';
}
static void log_id_short(struct tw_record *r)
{
	r->log_id[31] = '\0';
}
static void seq_int_max(struct tw_record *r)
{
	r->seq = INT_MAX_U64;
}
static void seq_past_int(struct tw_record *r)
{
	r->seq = INT_MAX_U64 + 1;
}
static void time_zero(struct tw_record *r)
{
	r->time_ns = 0;
}
static void time_past_int(struct tw_record *r)
{
	r->time_ns = INT_MAX_U64 + 1;
}
static void time_int_max(struct tw_record *r)
{
	r->time_ns = INT_MAX_U64;
}
static void family_v6(struct tw_record *r)
{
	r->real_family = TW_FAM_V6;
}
static void family_bad(struct tw_record *r)
{
	r->real_family = 3;
}
static void port_alone(struct tw_record *r)
{
	r->real_port = 1194;
}
static void pv_int_max(struct tw_record *r)
{
	r->policy_version = INT_MAX_U64;
}
static void pv_past_int(struct tw_record *r)
{
	r->policy_version = INT_MAX_U64 + 1;
}
static void no_counters(struct tw_record *r)
{
	r->has_counters = false;
}
static void drop_reason_zero(struct tw_record *r)
{
	r->ctr.drops[TW_DROP_NONE] = 1;
}
static void drop_past_int(struct tw_record *r)
{
	r->ctr.drops[TW_DROP__MAX - 1] = INT_MAX_U64 + 1;
}
static void drop_int_max(struct tw_record *r)
{
	r->ctr.drops[TW_DROP__MAX - 1] = INT_MAX_U64;
}
static void cause_on_interim(struct tw_record *r)
{
	r->term_cause = TW_TERM_USER_REQUEST;
}
static void ranges_on_interim(struct tw_record *r)
{
	r->ngaps = 1;
}
static void count_on_interim(struct tw_record *r)
{
	r->gap_count = 1;
}
static void decision_no_subject(struct tw_record *r)
{
	r->kind = TW_REC_DECISION;
	r->subject[0] = '\0';
}
static void health_no_session(struct tw_record *r)
{
	r->kind = TW_REC_HEALTH;
	r->session[0] = r->subject[0] = '\0';
	r->has_counters = false;
}
static void ban_by_addr(struct tw_record *r)
{
	health_no_session(r);
	r->kind = TW_REC_BAN;
	r->real_family = TW_FAM_V4;
}
static void gap_no_ranges(struct tw_record *r)
{
	gap(r);
	r->ngaps = 0;
	r->gap_count = 0;
}
static void gap_too_many(struct tw_record *r)
{
	gap(r);
	r->ngaps = TW_REC_GAP_RANGES + 1;
}
static void gap_all_ranges(struct tw_record *r)
{
	gap(r);
	r->seq = 1000;
	r->ngaps = TW_REC_GAP_RANGES;
	for (uint32_t i = 0; i < r->ngaps; i++)
		r->gaps[i] = (struct tw_seq_range){ 10 * i + 1, 10 * i + 2 };
	r->gap_count = 2 * TW_REC_GAP_RANGES;
}
static void gap_first_zero(struct tw_record *r)
{
	gap(r);
	r->gaps[0].first = 0;
}
static void gap_reversed(struct tw_record *r)
{
	gap(r);
	r->gaps[0] = (struct tw_seq_range){ 3, 2 };
}
static void gap_single(struct tw_record *r)
{
	gap(r);
	r->gaps[0] = (struct tw_seq_range){ 6, 6 };
	r->gap_count = 1;
}
static void gap_reaches_seq(struct tw_record *r)
{
	gap(r);
	r->gaps[0] = (struct tw_seq_range){ 6, 7 };
}
static void gap_count_short(struct tw_record *r)
{
	gap(r);
	r->gap_count = 1;
}

static void subtest_validate(void)
{
	static const struct {
		const char *name;
		void (*base)(struct tw_record *r);
		void (*change)(struct tw_record *r);
		const char *want; /* substring of the error; NULL: valid */
	} cases[] = {
		{ "kind 0", interim, kind_zero, "\"kind\": unknown kind 0" },
		{ "kind past the last", interim, kind_past_last, "\"kind\": unknown kind" },
		{ "node empty", interim, node_empty, "\"node\": missing" },
		{ "node fills its array", interim, node_unterminated, "\"node\": longer than 63" },
		{ "node longest", interim, node_longest, NULL },
		{ "detail fills its array", interim, detail_unterminated,
		  "\"detail\": longer than 1023" },
		{ "log_id uppercase", interim, log_id_upper, "\"log_id\": expected 32" },
		{ "log_id short", interim, log_id_short, "\"log_id\": expected 32" },
		{ "seq 2^63-1", interim, seq_int_max, NULL },
		{ "seq 2^63", interim, seq_past_int, "\"seq\": out of range" },
		{ "time 0", interim, time_zero, "\"time_ns\": out of range" },
		{ "time 2^63", interim, time_past_int, "\"time_ns\": out of range" },
		{ "time 2^63-1", interim, time_int_max, NULL },
		{ "real family v6", interim, family_v6, NULL },
		{ "real family 3", interim, family_bad, "\"real_addr\": bad family 3" },
		{ "real port alone", interim, port_alone, "\"real_port\": given without" },
		{ "policy version 2^63-1", interim, pv_int_max, NULL },
		{ "policy version 2^63", interim, pv_past_int, "\"policy_version\": out of range" },
		{ "interim without counters", interim, no_counters, "counters missing" },
		{ "drop reason 0", interim, drop_reason_zero, "\"drops\": reason 0" },
		{ "last drop reason 2^63", interim, drop_past_int, "\"counters\": value out" },
		{ "last drop reason 2^63-1", interim, drop_int_max, NULL },
		{ "cause on interim", interim, cause_on_interim, "only valid on disconnect" },
		{ "ranges on interim", interim, ranges_on_interim,
		  "only valid on gap, not interim" },
		{ "count on interim", interim, count_on_interim, "only valid on gap, not interim" },
		{ "decision without subject", interim, decision_no_subject,
		  "\"subject\": missing" },
		{ "health needs no session", interim, health_no_session, NULL },
		{ "ban by address", interim, ban_by_addr, NULL },
		{ "gap without ranges", gap, gap_no_ranges, "expected 1..32 ranges, got 0" },
		{ "gap with 33 ranges", gap, gap_too_many, "expected 1..32 ranges, got 33" },
		{ "gap with 32 ranges", gap, gap_all_ranges, NULL },
		{ "gap range from 0", gap, gap_first_zero, "range 0 [0,3]" },
		{ "gap range reversed", gap, gap_reversed, "range 0 [3,2]" },
		{ "gap of one seq", gap, gap_single, NULL },
		{ "gap range reaching its own seq", gap, gap_reaches_seq, "range 0 [6,7]" },
		{ "gap count short", gap, gap_count_short, "\"dropped_count\": 1 but" },
	};
	static struct tw_record r;
	char err[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int ret;

		cases[i].base(&r);
		if (!ASSERT_OK(tw_record_validate(&r, err, sizeof(err)), "base record valid"))
			test__diag("%s: base: %s", cases[i].name, err);
		cases[i].change(&r);
		err[0] = '\0';
		ret = tw_record_validate(&r, err, sizeof(err));
		if (!ASSERT_EQ(ret, cases[i].want ? -EINVAL : 0, cases[i].name) ||
		    (cases[i].want &&
		     !ASSERT_TRUE(strstr(err, cases[i].want) != NULL, "error names the field")))
			test__diag("%s: got '%s', wanted '%s'", cases[i].name, err,
				   cases[i].want ? cases[i].want : "");
	}
}

static void subtest_serialise_refused(void)
{
	/* the serialiser says no with the validator's message, and sets errno */
	static struct tw_record r;
	char err[256] = "";
	char *json;

	interim(&r);
	r.real_family = 9;
	errno = 0;
	json = tw_record_to_json(&r, NULL, err, sizeof(err));
	ASSERT_TRUE(json == NULL, "refused");
	ASSERT_EQ(errno, EINVAL, "errno");
	ASSERT_TRUE(strstr(err, "bad family 9") != NULL, "message");
	free(json);
}

void test_record_edges(void)
{
	if (test__start_subtest("validate"))
		subtest_validate();
	if (test__start_subtest("serialise_refused"))
		subtest_serialise_refused();
}
