// SPDX-License-Identifier: GPL-2.0-only
/*
 * The health fields of docs/protocol.md section 7: the exact lines of
 * protocol.md 11.1 parse and serialise back byte for byte, a health record
 * goes through a real journal unchanged, and bad values are refused with
 * the field named.
 */
#include <stdlib.h>
#include <unistd.h>
#include "test.h"
#include "journal.h"
#include "record.h"

/* protocol.md 11.1, byte for byte */
static const char link_line[] =
	"{\"v\":1,\"kind\":\"health\",\"seq\":1,\"time_ns\":1796302802000000000,\"node\":\"node-fra-2\","
	"\"log_id\":\"10452f8e2dc97d6aaf50409941eaf5d2\",\"event\":\"link\",\"software_version\":"
	"\"0.5.0\",\"uptime_s\":14,\"load1_milli\":80,\"cpus\":4,\"sessions\":0,\"backlog_records\":0,"
	"\"policy_source\":\"none\"}";
static const char periodic_line[] =
	"{\"v\":1,\"kind\":\"health\",\"seq\":3,\"time_ns\":1796302862000000000,\"node\":\"node-fra-2\","
	"\"log_id\":\"10452f8e2dc97d6aaf50409941eaf5d2\",\"policy_version\":1042,\"event\":\"periodic\","
	"\"software_version\":\"0.5.0\",\"uptime_s\":74,\"load1_milli\":120,\"cpus\":4,\"sessions\":1,"
	"\"backlog_records\":0,\"policy_age_s\":3,\"policy_source\":\"portal\"}";

struct got {
	char json[4096];
	struct tw_record rec;
	int n;
};

static int collect(const struct tw_record *rec, const char *json, size_t len, void *ctx)
{
	struct got *g = ctx;

	if (len < sizeof(g->json)) {
		memcpy(g->json, json, len);
		g->json[len] = '\0';
	}
	g->rec = *rec;
	g->n++;
	return 0;
}

static void roundtrip(const char *line)
{
	struct tw_record r;
	char err[256];
	char *out;

	if (!ASSERT_OK(tw_record_from_json(line, strlen(line), &r, err, sizeof(err)), err))
		return;
	out = tw_record_to_json(&r, NULL, err, sizeof(err));
	if (ASSERT_OK_PTR(out, err))
		ASSERT_STREQ(out, line, "serialised back byte for byte");
	free(out);
}

static void refused(const char *line, const char *want)
{
	struct tw_record r;
	char err[256] = "";

	ASSERT_EQ(tw_record_from_json(line, strlen(line), &r, err, sizeof(err)), -EINVAL, want);
	if (!strstr(err, want))
		test__fail(__FILE__, __LINE__, "error \"%s\" does not name %s", err, want);
}

void test_health_record(void)
{
	if (test__start_subtest("protocol_examples")) {
		struct tw_record r;
		char err[256];

		roundtrip(link_line);
		roundtrip(periodic_line);
		if (ASSERT_OK(tw_record_from_json(periodic_line, strlen(periodic_line), &r, err,
						  sizeof(err)),
			      err)) {
			ASSERT_STREQ(r.health.event, "periodic", "event");
			ASSERT_EQ(r.health.v[TW_HI_POLICY_AGE_S], 3, "policy_age_s");
			ASSERT_TRUE(r.health.has & (1u << TW_HI_SESSIONS), "sessions present");
			ASSERT_EQ(r.policy_version, 1042, "policy_version");
		}
	}
	if (test__start_subtest("bad_values")) {
		refused("{\"v\":1,\"kind\":\"health\",\"seq\":1,\"time_ns\":1,\"node\":\"n\","
			"\"log_id\":\"10452f8e2dc97d6aaf50409941eaf5d2\",\"event\":\"reboot\"}",
			"\"event\"");
		refused("{\"v\":1,\"kind\":\"health\",\"seq\":1,\"time_ns\":1,\"node\":\"n\","
			"\"log_id\":\"10452f8e2dc97d6aaf50409941eaf5d2\",\"uptime_s\":-1}",
			"\"uptime_s\"");
		refused("{\"v\":1,\"kind\":\"health\",\"seq\":1,\"time_ns\":1,\"node\":\"n\","
			"\"log_id\":\"10452f8e2dc97d6aaf50409941eaf5d2\",\"policy_source\":\"disk\"}",
			"\"policy_source\"");
		refused("{\"v\":1,\"kind\":\"health\",\"seq\":1,\"time_ns\":1,\"node\":\"n\","
			"\"log_id\":\"10452f8e2dc97d6aaf50409941eaf5d2\",\"cpus\":\"4\"}",
			"\"cpus\"");
	}
	if (test__start_subtest("ignored_on_other_kinds")) {
		static const char ban[] =
			"{\"v\":1,\"kind\":\"ban\",\"seq\":1,\"time_ns\":1,\"node\":\"n\","
			"\"log_id\":\"10452f8e2dc97d6aaf50409941eaf5d2\",\"subject\":\"x\","
			"\"event\":\"reboot\",\"cpus\":\"many\"}";
		struct tw_record r;
		char err[256];

		ASSERT_OK(tw_record_from_json(ban, strlen(ban), &r, err, sizeof(err)), err);
		ASSERT_EQ(r.health.has, 0, "no health fields on a ban");
		/* and the serialiser does not put them on one */
		snprintf(r.health.event, sizeof(r.health.event), "link");
		ASSERT_TRUE(!tw_record_to_json(&r, NULL, err, sizeof(err)), "refused");
	}
	if (test__start_subtest("journal_roundtrip")) {
		struct tw_journal_opts o = { .node_id = "node-fra-2", .reserve_bytes = 64 << 10 };
		char dir[] = "/tmp/tw_health.XXXXXX", path[64], p[96];
		struct tw_journal *j = NULL;
		struct tw_record r, want;
		struct got *g = calloc(1, sizeof(*g));
		char err[256];

		if (!ASSERT_OK_PTR(g, "calloc") || !ASSERT_OK_PTR(mkdtemp(dir), "mkdtemp"))
			goto out;
		snprintf(path, sizeof(path), "%s/journal.db", dir);
		j = tw_journal_open(path, &o);
		if (!ASSERT_OK_PTR(j, "journal open"))
			goto clean;
		ASSERT_OK(tw_record_from_json(periodic_line, strlen(periodic_line), &r, err,
					      sizeof(err)),
			  err);
		r.seq = 0;
		r.log_id[0] = '\0';
		want = r;
		ASSERT_OK(tw_journal_append(j, &r, true), "append");
		ASSERT_EQ(tw_journal_read_since(j, 0, 0, collect, g), 1, "read back");
		ASSERT_TRUE(!memcmp(&g->rec.health, &want.health, sizeof(want.health)),
			    "health fields unchanged");
		ASSERT_TRUE(strstr(g->json, "\"policy_age_s\":3,\"policy_source\":\"portal\"") !=
				    NULL,
			    "stored line");
		tw_journal_close(j);
clean:
		tw_journal_remove(path);
		snprintf(p, sizeof(p), "%s", dir);
		rmdir(p);
out:
		free(g);
	}
}
