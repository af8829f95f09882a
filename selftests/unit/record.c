// SPDX-License-Identifier: GPL-2.0-only
/*
 * Records <-> NDJSON: every kind round-trips bytewise, the documented example
 * parses to the documented values, and each malformed line is refused with
 * an error that names the field.
 */
#include <stdlib.h>
#include <arpa/inet.h>
#include "test.h"
#include "record.h"

static const char log_id[] = "0123456789abcdef0123456789abcdef";

static void base(struct tw_record *r, uint32_t kind, uint64_t seq)
{
	memset(r, 0, sizeof(*r));
	strcpy(r->node, "node-ams-1");
	strcpy(r->log_id, log_id);
	r->seq = seq;
	r->time_ns = 1763784000123456789ull;
	r->kind = kind;
}

static void session(struct tw_record *r)
{
	strcpy(r->session, "s-7f3a9c");
	strcpy(r->subject, "CN=alice@example.org");
	strcpy(r->tenant, "acme");
	strcpy(r->profile, "employees");
	r->has_tun4 = true;
	inet_pton(AF_INET, "10.8.0.2", r->tun4);
	r->has_tun6 = true;
	inet_pton(AF_INET6, "fd00:8::2", r->tun6);
	r->real_family = TW_FAM_V6;
	inet_pton(AF_INET6, "2001:db8::77", r->real_addr);
	r->real_port = 51820;
	r->policy_version = 42;
}

static void counters(struct tw_record *r)
{
	r->has_counters = true;
	r->ctr.from_bytes = 123456789012ull;
	r->ctr.from_pkts = 100200;
	r->ctr.to_bytes = 9876543210ull;
	r->ctr.to_pkts = 80000;
	r->ctr.drop_pkts = 12;
	r->ctr.drop_bytes = 3400;
	r->ctr.drops[TW_DROP_NOT_ALLOWED] = 10;
	r->ctr.drops[TW_DROP_MALFORMED] = 2;
}

/* One record of each kind, filled as the daemon would. */
static int samples(struct tw_record *out)
{
	int n = 0;

	base(&out[n], TW_REC_CONNECT, 1);
	session(&out[n++]);

	base(&out[n], TW_REC_INTERIM, 2);
	session(&out[n]);
	counters(&out[n++]);

	base(&out[n], TW_REC_DISCONNECT, 3);
	session(&out[n]);
	counters(&out[n]);
	out[n++].term_cause = TW_TERM_IDLE_TIMEOUT;

	base(&out[n], TW_REC_DECISION, 4);
	strcpy(out[n].subject, "wg:Ys7Vs9+o3rJ0ZmZrbW9ub3BxcnN0dXZ3eHl6MDE=");
	out[n].policy_version = 41;
	strcpy(out[n++].detail, "offline mode admit-known: policy 3601 s old, \"grace\" 3600 s");

	base(&out[n], TW_REC_BAN, 5);
	out[n].real_family = TW_FAM_V4;
	inet_pton(AF_INET, "198.51.100.9", out[n].real_addr);
	strcpy(out[n++].detail, "5 unconfirmed attempts in 600 s: banned for 3600 s");

	base(&out[n], TW_REC_HEALTH, 6);
	strcpy(out[n++].detail, "portal unreachable for 3600 s; 12034 records queued \xc3\xa9");

	base(&out[n], TW_REC_GAP, 20);
	out[n].ngaps = 2;
	out[n].gaps[0] = (struct tw_seq_range){ 7, 9 };
	out[n].gaps[1] = (struct tw_seq_range){ 12, 12 };
	out[n].gap_count = 4;
	strcpy(out[n++].detail, "superseded interim records dropped");
	return n;
}

static void subtest_roundtrip(void)
{
	struct tw_record in[8], outbuf = {}, *out = &outbuf;
	char err[256];
	size_t len;
	char *json;
	int i, n = samples(in);

	for (i = 0; i < n; i++) {
		json = tw_record_to_json(&in[i], &len, err, sizeof(err));
		if (!ASSERT_OK_PTR(json, tw_record_kind_name(in[i].kind))) {
			test__diag("%s", err);
			continue;
		}
		ASSERT_EQ(strlen(json), len, "len");
		ASSERT_TRUE(!strchr(json, '\n'), "one line");
		if (ASSERT_OK(tw_record_from_json(json, len, out, err, sizeof(err)),
			      "parse back")) {
			/* The parser zeroes first, and samples start zeroed: padding is equal. */
			// NOLINTNEXTLINE(bugprone-suspicious-memory-comparison)
			if (!ASSERT_OK(memcmp(&in[i], out, sizeof(*out)), "same record"))
				test__diag("%s", json);
		} else {
			test__diag("%s: %s", json, err);
		}
		free(json);
	}
	/* The names the portal keys on, spelled as docs/records.md says. */
	json = tw_record_to_json(&in[2], &len, err, sizeof(err));
	if (ASSERT_OK_PTR(json, "disconnect")) {
		ASSERT_TRUE(strstr(json, "\"kind\":\"disconnect\""), "kind");
		ASSERT_TRUE(strstr(json, "\"terminate_cause\":\"Idle-Timeout\""), "cause");
		ASSERT_TRUE(strstr(json, "\"tunnel_ipv6\":\"fd00:8::2\""), "tun6");
		ASSERT_TRUE(strstr(json, "\"real_addr\":\"2001:db8::77\",\"real_port\":51820"),
			    "real");
		ASSERT_TRUE(strstr(json, "\"from_bytes\":123456789012"), "from_bytes");
		ASSERT_TRUE(strstr(json, "\"drops\":{\"not_allowed\":10,\"malformed\":2}"),
			    "drops");
		ASSERT_TRUE(!strncmp(json, "{\"v\":1,\"kind\":", 14), "v first");
		free(json);
	}
	json = tw_record_to_json(&in[6], &len, err, sizeof(err));
	if (ASSERT_OK_PTR(json, "gap")) {
		ASSERT_TRUE(strstr(json, "\"dropped\":[[7,9],[12,12]],\"dropped_count\":4"),
			    "dropped");
		free(json);
	}
}

/* The example in docs/records.md, verbatim: if this breaks, the document is wrong. */
static const char doc_example[] =
	"{\"v\":1,\"kind\":\"disconnect\",\"seq\":1043,\"time_ns\":1763784012000000000,"
	"\"node\":\"node-ams-1\",\"log_id\":\"9f2c4e1a7b3d5f60718293a4b5c6d7e8\","
	"\"session\":\"s-7f3a9c\",\"subject\":\"alice@example.org\",\"tenant\":\"acme\","
	"\"profile\":\"employees\",\"tunnel_ipv4\":\"10.8.0.2\",\"tunnel_ipv6\":\"fd00:8::2\","
	"\"real_addr\":\"192.0.2.10\",\"real_port\":40001,\"policy_version\":42,"
	"\"from_bytes\":1048576,\"from_packets\":1024,\"to_bytes\":8388608,"
	"\"to_packets\":6144,\"drop_packets\":3,\"drop_bytes\":180,"
	"\"drops\":{\"not_allowed\":3},\"terminate_cause\":\"User-Request\"}\n";

static void subtest_doc_example(void)
{
	struct tw_record rbuf = {}, *r = &rbuf;
	uint8_t a[4];
	char err[256];

	if (!ASSERT_OK(tw_record_from_json(doc_example, strlen(doc_example), r, err, sizeof(err)),
		       "parse")) {
		test__diag("%s", err);
		return;
	}
	ASSERT_EQ(r->kind, TW_REC_DISCONNECT, "kind");
	ASSERT_EQ(r->seq, 1043, "seq");
	ASSERT_EQ(r->time_ns, 1763784012000000000ull, "time_ns");
	ASSERT_STREQ(r->session, "s-7f3a9c", "session");
	ASSERT_STREQ(r->tenant, "acme", "tenant");
	inet_pton(AF_INET, "10.8.0.2", a);
	ASSERT_TRUE(r->has_tun4 && !memcmp(r->tun4, a, 4), "tun4");
	ASSERT_EQ(r->real_family, TW_FAM_V4, "real family");
	ASSERT_EQ(r->real_port, 40001, "real port");
	ASSERT_EQ(r->ctr.to_bytes, 8388608, "to_bytes");
	ASSERT_EQ(r->ctr.drops[TW_DROP_NOT_ALLOWED], 3, "drops");
	ASSERT_EQ(r->term_cause, TW_TERM_USER_REQUEST, "cause");
}

#define HEAD                                                            \
	"{\"v\":1,\"seq\":5,\"time_ns\":1,\"node\":\"n\",\"log_id\":\"" \
	"0123456789abcdef0123456789abcdef\","
#define SESS "\"session\":\"s\",\"subject\":\"x\","
#define CTRS "\"from_bytes\":1,\"from_packets\":1,\"to_bytes\":1,\"to_packets\":1"

static void subtest_errors(void)
{
	static const struct {
		const char *in;
		const char *want; /* substring of the error */
	} cases[] = {
		{ "", "invalid JSON" },
		{ "{\"v\":1,", "invalid JSON" },
		{ "[1,2]", "\"record\": expected a JSON object" },
		{ HEAD "\"kind\":\"health\"} {}", "invalid JSON" },
		{ HEAD "\"kind\":\"health\",\"kind\":\"ban\"}", "duplicate" },
		{ "{\"kind\":\"health\"}", "\"v\": missing" },
		{ "{\"v\":2,\"kind\":\"health\"}",
		  "\"v\": unsupported record format version, got 2" },
		{ HEAD "\"kind\":\"teleport\"}", "\"kind\": unknown kind, got \"teleport\"" },
		{ HEAD "\"kind\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}", "\"kind\": unknown kind" },
		{ HEAD "\"kind\":7.5}", "\"kind\": expected a string, got 7.5" },
		{ "{\"v\":1,\"kind\":\"health\",\"seq\":\"5\"}",
		  "\"seq\": expected an integer, got \"5\"" },
		{ "{\"v\":1,\"kind\":\"health\",\"seq\":-5}", "\"seq\": out of range" },
		{ "{\"v\":1,\"kind\":\"health\",\"seq\":0}", "\"seq\": out of range" },
		{ "{\"v\":1,\"kind\":\"health\",\"seq\":18446744073709551615}", "invalid JSON" },
		{ "{\"v\":1,\"kind\":\"health\",\"seq\":3,\"time_ns\":1}", "\"node\": missing" },
		{ "{\"v\":1,\"kind\":\"health\",\"seq\":3,\"time_ns\":1,\"node\":\"n\","
		  "\"log_id\":\"XYZ\"}",
		  "\"log_id\": expected 32 lowercase hex" },
		{ HEAD "\"kind\":\"connect\",\"subject\":\"x\"}", "\"session\": missing" },
		{ HEAD "\"kind\":\"connect\",\"session\":\"s\"}", "\"subject\": missing" },
		{ HEAD "\"kind\":\"connect\"," SESS "\"session\":\"s\"}", "duplicate" },
		{ HEAD
		  "\"kind\":\"connect\",\"session\":\"s\",\"subject\":\""
		  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		  "\"}",
		  "\"subject\": longer than 255 bytes, got \"xxxx" },
		{ HEAD "\"kind\":\"connect\"," SESS "\"tenant\":7}",
		  "\"tenant\": expected a string, got 7" },
		{ HEAD "\"kind\":\"connect\"," SESS "\"tunnel_ipv4\":\"10.8.0.256\"}",
		  "\"tunnel_ipv4\": expected an IPv4 address, got \"10.8.0.256\"" },
		{ HEAD "\"kind\":\"connect\"," SESS "\"tunnel_ipv6\":\"10.8.0.2\"}",
		  "\"tunnel_ipv6\": expected an IPv6 address" },
		{ HEAD "\"kind\":\"connect\"," SESS "\"real_addr\":\"host.example\"}",
		  "\"real_addr\": expected an IPv4 or IPv6 address, got \"host.example\"" },
		{ HEAD "\"kind\":\"connect\"," SESS "\"real_port\":1194}",
		  "\"real_port\": given without real_addr" },
		{ HEAD "\"kind\":\"connect\"," SESS
		       "\"real_addr\":\"192.0.2.1\",\"real_port\":70000}",
		  "\"real_port\": out of range 1..65535, got 70000" },
		{ HEAD "\"kind\":\"connect\"," SESS "\"policy_version\":true}",
		  "\"policy_version\": expected an integer, got true" },
		{ HEAD "\"kind\":\"interim\"," SESS "\"x\":1}", "\"from_bytes\": missing" },
		{ HEAD "\"kind\":\"interim\"," SESS "\"from_bytes\":1,\"to_bytes\":1}",
		  "\"from_packets\": missing" },
		{ HEAD "\"kind\":\"interim\"," SESS CTRS ",\"to_bytes\":1}", "duplicate" },
		{ HEAD "\"kind\":\"interim\"," SESS CTRS ",\"drops\":{\"gremlins\":1}}",
		  "\"drops\": unknown drop reason \"gremlins\"" },
		{ HEAD "\"kind\":\"interim\"," SESS CTRS ",\"drops\":[1]}",
		  "\"drops\": expected an object" },
		{ HEAD "\"kind\":\"interim\"," SESS CTRS ",\"drops\":{\"banned\":-1}}",
		  "\"drops\": out of range" },
		{ HEAD "\"kind\":\"interim\"," SESS CTRS ",\"terminate_cause\":\"User-Request\"}",
		  "\"terminate_cause\": only valid on disconnect" },
		{ HEAD "\"kind\":\"disconnect\"," SESS CTRS "}", "\"terminate_cause\": missing" },
		{ HEAD "\"kind\":\"disconnect\"," SESS CTRS
		       ",\"terminate_cause\":\"user-request\"}",
		  "\"terminate_cause\": unknown RADIUS Acct-Terminate-Cause, got \"user-request\"" },
		{ HEAD "\"kind\":\"ban\"}", "ban needs a subject or a real_addr" },
		{ HEAD "\"kind\":\"health\",\"dropped\":[[1,2]],\"dropped_count\":2}",
		  "\"dropped\": only valid on gap" },
		{ HEAD "\"kind\":\"gap\"}", "\"dropped\": missing" },
		{ HEAD "\"kind\":\"gap\",\"dropped\":[]}", "\"dropped\": expected an array" },
		{ HEAD "\"kind\":\"gap\",\"dropped\":[[1]],\"dropped_count\":1}",
		  "\"dropped\": expected a [first,last] pair, got [1]" },
		{ HEAD "\"kind\":\"gap\",\"dropped\":[[3,4],[1,2]],\"dropped_count\":4}",
		  "\"dropped\": range 1 [1,2] not ascending" },
		{ HEAD "\"kind\":\"gap\",\"dropped\":[[3,5]],\"dropped_count\":4}",
		  "\"dropped\": range 0 [3,5] not ascending, disjoint and below seq 5" },
		{ HEAD "\"kind\":\"gap\",\"dropped\":[[1,3],[3,4]],\"dropped_count\":4}",
		  "\"dropped\": range 1 [3,4] not ascending, disjoint" },
		{ HEAD "\"kind\":\"gap\",\"dropped\":[[1,2]]}", "\"dropped_count\": missing" },
		{ HEAD "\"kind\":\"gap\",\"dropped\":[[1,2]],\"dropped_count\":3}",
		  "\"dropped_count\": 3 but the ranges hold 2" },
		{ HEAD "\"kind\":\"health\",\"detail\":\"a\\u0000b\"}", "invalid JSON" },
		{ HEAD "\"kind\":\"health\",\"detail\":\"\xff\xfe\"}", "invalid JSON" },
	};
	struct tw_record rbuf = {}, *r = &rbuf;
	char err[256];
	size_t i;
	int ret;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		ret = tw_record_from_json(cases[i].in, strlen(cases[i].in), r, err, sizeof(err));
		if (!ASSERT_EQ(ret, -EINVAL, "refused") ||
		    !ASSERT_TRUE(strstr(err, cases[i].want) != NULL, "error names the field")) {
			test__diag("case %zu: %s", i, cases[i].in);
			test__diag("  error: %s", err);
			test__diag("  wanted: %s", cases[i].want);
		}
		ASSERT_EQ(r->seq, 0, "zeroed on error");
	}
}

static void subtest_lenient(void)
{
	/* Unknown fields are ignored (newer nodes), a trailing newline is fine. */
	static const char in[] = HEAD "\"kind\":\"health\",\"future_field\":{\"a\":[1]},"
				      "\"detail\":\"ok\"}\r\n";
	struct tw_record rbuf = {}, *r = &rbuf;
	char err[256];

	if (!ASSERT_OK(tw_record_from_json(in, strlen(in), r, err, sizeof(err)), "parse"))
		test__diag("%s", err);
	ASSERT_STREQ(r->detail, "ok", "detail");
	ASSERT_EQ(r->kind, TW_REC_HEALTH, "kind");
}

static void subtest_serialiser_refuses(void)
{
	struct tw_record rbuf = {}, *r = &rbuf;
	char err[256];
	char *json;

	base(r, TW_REC_DISCONNECT, 9);
	session(r);
	counters(r);
	json = tw_record_to_json(r, NULL, err, sizeof(err));
	ASSERT_TRUE(!json && errno == EINVAL, "no cause");
	ASSERT_TRUE(strstr(err, "\"terminate_cause\"") != NULL, "names terminate_cause");
	free(json);

	r->term_cause = TW_TERM_ADMIN_RESET;
	r->seq = 0;
	json = tw_record_to_json(r, NULL, err, sizeof(err));
	ASSERT_TRUE(!json && strstr(err, "\"seq\""), "seq 0");
	free(json);

	r->seq = 9;
	r->ctr.to_bytes = 1ull << 63; /* beyond what JSON integers carry portably */
	json = tw_record_to_json(r, NULL, err, sizeof(err));
	ASSERT_TRUE(!json && strstr(err, "out of range"), "counter range");
	free(json);

	r->ctr.to_bytes = 1;
	strcpy(r->subject, "bad \xc3\x28 utf8");
	json = tw_record_to_json(r, NULL, err, sizeof(err));
	ASSERT_TRUE(!json && strstr(err, "\"subject\": not valid UTF-8"), "utf8");
	free(json);
}

static void subtest_names(void)
{
	uint32_t i;

	for (i = 1; i < TW_TERM__MAX; i++)
		ASSERT_EQ(tw_term_cause_parse(tw_term_cause_name(i)), i, "term cause");
	ASSERT_STREQ(tw_term_cause_name(TW_TERM_NAS_REQUEST), "NAS-Request", "NAS-Request");
	ASSERT_STREQ(tw_term_cause_name(TW_TERM_LOST_CARRIER), "Lost-Carrier", "Lost-Carrier");
	ASSERT_EQ(tw_term_cause_parse("Nope"), -EINVAL, "unknown cause");
	for (i = TW_REC_CONNECT; i <= TW_REC_GAP; i++)
		ASSERT_EQ(tw_record_kind_parse(tw_record_kind_name(i)), i, "kind");
	ASSERT_TRUE(tw_record_kind_name(0) == NULL && tw_record_kind_name(99) == NULL, "bad kind");
	for (i = 1; i < TW_DROP__MAX; i++)
		ASSERT_TRUE(tw_drop_reason_name(i) != NULL, "drop reason named");
}

/*
 * Every drop reason the dataplane counts is serialized under its name and
 * parses back to the same counter: a reason added to the ABI without a
 * name in record.c fails here.
 */
static void subtest_drop_reasons(void)
{
	struct tw_record in, outbuf = {}, *out = &outbuf;
	char err[256], want[96];
	uint32_t reason;
	size_t len;
	char *json;

	for (reason = TW_DROP_NONE + 1; reason < TW_DROP__MAX; reason++) {
		const char *name = tw_drop_reason_name(reason);

		if (!ASSERT_OK_PTR(name, "drop reason has a name")) {
			test__diag("reason %u", reason);
			continue;
		}
		base(&in, TW_REC_INTERIM, 2);
		session(&in);
		counters(&in);
		memset(in.ctr.drops, 0, sizeof(in.ctr.drops));
		in.ctr.drops[reason] = 1000 + reason;
		json = tw_record_to_json(&in, &len, err, sizeof(err));
		if (!ASSERT_OK_PTR(json, name)) {
			test__diag("%s: %s", name, err);
			continue;
		}
		snprintf(want, sizeof(want), "\"drops\":{\"%s\":%u}", name, 1000 + reason);
		if (!ASSERT_TRUE(strstr(json, want) != NULL, name))
			test__diag("wanted %s in %s", want, json);
		if (ASSERT_OK(tw_record_from_json(json, len, out, err, sizeof(err)), name))
			ASSERT_EQ(out->ctr.drops[reason], 1000 + reason, name);
		else
			test__diag("%s: %s", json, err);
		free(json);
	}
	/* ranges that touch are disjoint; ranges that share a seq are not */
	{
		static const char adjacent[] = HEAD "\"kind\":\"gap\",\"dropped\":[[1,2],[3,4]],"
						    "\"dropped_count\":4}";

		ASSERT_OK(tw_record_from_json(adjacent, strlen(adjacent), out, err, sizeof(err)),
			  "adjacent gap ranges accepted");
	}
}

void test_record(void)
{
	if (test__start_subtest("roundtrip"))
		subtest_roundtrip();
	if (test__start_subtest("doc_example"))
		subtest_doc_example();
	if (test__start_subtest("parser_errors"))
		subtest_errors();
	if (test__start_subtest("lenient"))
		subtest_lenient();
	if (test__start_subtest("serialiser_refuses"))
		subtest_serialiser_refuses();
	if (test__start_subtest("names"))
		subtest_names();
	if (test__start_subtest("drop_reasons"))
		subtest_drop_reasons();
}
