// SPDX-License-Identifier: GPL-2.0-only
/*
 * The admin policy commands on a real store: examples/policy.json imported,
 * each command followed by a node that syncs through the bundles (checked
 * against a fresh snapshot by the node's parser), and every refusal named
 * and leaving the store exactly as it was (content, version, change log).
 */
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>
#include "test.h"
#include "policy.h"
#include "padmin_policy.h"
#include "polstore_int.h"
#include "portal_test.h"

#define EXAMPLE "examples/policy.json"

static char out_buf[1 << 16], err_buf[4096];

/* Run one command (argv NULL-terminated); its output in out_buf/err_buf. */
static int run(struct tw_polstore *ps, ...)
{
	char *argv[32];
	FILE *out, *err;
	va_list ap;
	int argc = 0, ret;

	va_start(ap, ps);
	while (argc < 31 && (argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	argv[argc] = NULL;
	memset(out_buf, 0, sizeof(out_buf));
	memset(err_buf, 0, sizeof(err_buf));
	out = fmemopen(out_buf, sizeof(out_buf) - 1, "w");
	err = fmemopen(err_buf, sizeof(err_buf) - 1, "w");
	ret = tw_padmin_policy_run(ps, argc, argv, out, err);
	fclose(out);
	fclose(err);
	return ret;
}

/* Everything the store holds, the change log included. */
static char *digest(struct tw_polstore *ps)
{
	static const char sql[] =
		"SELECT (SELECT version || '/' || log_base FROM state) || '|' ||"
		" (SELECT group_concat(json, ',') FROM tenants) || '|' ||"
		" (SELECT group_concat(json, ',') FROM profiles) || '|' ||"
		" (SELECT group_concat(json, ',') FROM subjects) || '|' ||"
		" (SELECT group_concat(kind || id || profile, ',') FROM subject_profiles) || '|' ||"
		" (SELECT count(*) || '/' || ifnull(max(seq), 0) FROM changes)";
	sqlite3_stmt *s;
	char *d = NULL;

	if (sqlite3_prepare_v2(ps->db, sql, -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
		d = strdup((const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	return d ? d : strdup("(none)");
}

static void refused(struct tw_polstore *ps, int rc_want, const char *msg, const char *name,
		    char *const *argv)
{
	char *before = digest(ps), *after;
	int rc;

	rc = run(ps, argv[0], argv[1], argv[2], argv[3], argv[4], argv[5], argv[6], argv[7],
		 argv[8], NULL);
	after = digest(ps);
	ASSERT_EQ(rc, rc_want, name);
	if (!ASSERT_OK_PTR(strstr(err_buf, msg), name))
		test__diag("%s: stderr '%s', wanted '%s'", name, err_buf, msg);
	ASSERT_STREQ(after, before, name);
	if (test__verbose())
		test__diag("refused: %.*s", (int)strcspn(err_buf, "\n"), err_buf);
	free(before);
	free(after);
}

#define REFUSED(ps, rc, msg, ...)                            \
	do {                                                 \
		char *___argv[10] = { __VA_ARGS__ };         \
		refused(ps, rc, msg, #__VA_ARGS__, ___argv); \
	} while (0)

static const struct tw_subject *subj(struct tw_policy *p, enum tw_subject_kind k, const char *id)
{
	return p ? tw_policy_subject(p, k, id) : NULL;
}

static void check_commands(const char *path)
{
	char err[256];
	struct tw_polstore *ps = tw_polstore_open(path, err, sizeof(err));
	struct tw_policy *node = NULL;
	const struct tw_subject *s;
	const struct tw_profile *pr;
	char since[32];

	if (!ASSERT_OK_PTR(ps, "open"))
		return;
	ASSERT_EQ(run(ps, "policy", "show", NULL), 0, "show empty");
	ASSERT_OK_PTR(strstr(err_buf, "is current (the store is empty)"), "empty said");
	ASSERT_EQ(run(ps, "policy", "import", EXAMPLE, NULL), 0, "import example");
	ASSERT_OK_PTR(strstr(out_buf, "2 tenants, 3 profiles, 5 subjects"), "import counted");
	ASSERT_EQ(tw_pt_sync(ps, &node), TW_BUNDLE_SNAPSHOT, "node: snapshot");
	ASSERT_EQ(node ? tw_policy_nsubjects(node) : 0, 5, "5 subjects");
	s = subj(node, TW_SUBJ_CN, "bob@phone");
	ASSERT_TRUE(s && s->state == TW_SUBJ_NEEDS_CONFIRMATION && s->nprofiles == 2, "bob");
	/* Who waits for a confirmation: bob alone. */
	ASSERT_EQ(run(ps, "subject", "list", "--state", "needs-confirmation", NULL), 0, "pending");
	ASSERT_TRUE(strstr(out_buf, "\"id\":\"bob@phone\"") && !strstr(out_buf, "alice") &&
			    strchr(out_buf, '\n') == strrchr(out_buf, '\n'),
		    "bob alone");
	ASSERT_EQ(run(ps, "subject", "list", "--tenant", "globex", "--user", "sensor-17", NULL), 0,
		  "by tenant and user");
	ASSERT_TRUE(strstr(out_buf, "sensor-17") && !strstr(out_buf, "mallory"), "sensor-17 alone");

	/* The sandboxed session confirmed. */
	ASSERT_EQ(run(ps, "subject", "confirm", "cn:bob@phone", NULL), 0, "confirm");
	ASSERT_EQ(tw_pt_sync(ps, &node), TW_BUNDLE_DELTA, "node: delta");
	s = subj(node, TW_SUBJ_CN, "bob@phone");
	ASSERT_TRUE(s && s->state == TW_SUBJ_ENABLED, "bob enabled");
	ASSERT_EQ(run(ps, "subject", "confirm", "cn:bob@phone", NULL), 0, "confirm again");
	ASSERT_OK_PTR(strstr(out_buf, "enabled already"), "no-op said");
	ASSERT_EQ(tw_pt_sync(ps, &node), TW_BUNDLE_NONE, "no-op: no new version");

	ASSERT_EQ(run(ps, "tenant", "add", "initech", "--name", "Initech", NULL), 0, "tenant");
	ASSERT_EQ(run(ps, "profile", "add", "lab", "--iface", "tun*,wg0", "--allow", "10.99.0.0/16",
		      "--allow", "0.0.0.0/0,tcp,443", "--sandbox", "192.0.2.53,udp,53", "--timeout",
		      "10m", NULL),
		  0, "profile add");
	ASSERT_EQ(run(ps, "subject", "add", "cn:carol", "--user", "carol", "--tenant", "initech",
		      "--profile", "lab,employees", "--state", "needs-confirmation", NULL),
		  0, "subject add");
	ASSERT_EQ(tw_pt_sync(ps, &node), TW_BUNDLE_DELTA, "node: delta over 3 versions");
	pr = node ? tw_policy_profile(node, "lab") : NULL;
	ASSERT_TRUE(pr && pr->nrules == 3 && pr->nifaces == 2 && pr->confirm_timeout_s == 600,
		    "lab as given");
	s = subj(node, TW_SUBJ_CN, "carol");
	ASSERT_TRUE(s && s->nprofiles == 2 && s->state == TW_SUBJ_NEEDS_CONFIRMATION, "carol");

	ASSERT_EQ(run(ps, "profile", "set", "lab", "--allow", "none", "--inbound",
		      "10.1.0.0/24,tcp,22", NULL),
		  0, "profile set");
	ASSERT_EQ(run(ps, "subject", "disable", "cn:carol", NULL), 0, "disable");
	ASSERT_EQ(run(ps, "subject", "enable", "cn:carol", NULL), 0, "enable");
	ASSERT_EQ(run(ps, "subject", "set", "cn:carol", "--tenant", "", "--profile", "lab", NULL),
		  0, "subject set");
	ASSERT_EQ(tw_pt_sync(ps, &node), TW_BUNDLE_DELTA, "node: delta");
	pr = node ? tw_policy_profile(node, "lab") : NULL;
	ASSERT_TRUE(pr && pr->nrules == 2, "lab: sandbox kept, allow replaced by inbound");
	s = subj(node, TW_SUBJ_CN, "carol");
	ASSERT_TRUE(s && s->state == TW_SUBJ_ENABLED && !s->tenant && s->nprofiles == 1,
		    "carol set");

	ASSERT_EQ(run(ps, "subject", "revoke", "cn:carol", NULL), 0, "revoke");
	ASSERT_EQ(tw_pt_sync(ps, &node), TW_BUNDLE_DELTA, "node: delta");
	s = subj(node, TW_SUBJ_CN, "carol");
	ASSERT_TRUE(s && s->state == TW_SUBJ_REVOKED, "carol revoked");

	/* Refusals: a message naming the problem, and nothing changed. */
	REFUSED(ps, 1, "cannot enable it: it is revoked", "subject", "enable", "cn:carol");
	REFUSED(ps, 1, "cannot confirm it: it is disabled", "subject", "confirm",
		"ipsec_id:CN=gw.branch.example");
	REFUSED(ps, 1, "unknown tenant 'nosuch'", "subject", "add", "cn:x", "--tenant", "nosuch");
	REFUSED(ps, 1, "unknown profile 'nosuch'", "subject", "add", "cn:x", "--profile",
		"lab,nosuch");
	REFUSED(ps, 1, "unknown kind 'foo'", "subject", "add", "foo:x");
	REFUSED(ps, 1, "expected KIND:ID", "subject", "add", "x");
	REFUSED(ps, 1, "state: unknown state 'enabeld'", "subject", "add", "cn:x", "--state",
		"enabeld");
	REFUSED(ps, 1, "wg_key", "subject", "add", "wg_key:short");
	REFUSED(ps, 1, "exists already", "subject", "add", "cn:alice@laptop");
	REFUSED(ps, 1, "no such subject", "subject", "del", "cn:nobody");
	REFUSED(ps, 1, "no such subject", "subject", "revoke", "cn:nobody");
	REFUSED(ps, 1, "has host bits set (the network is 10.0.0.0/8)", "profile", "add", "p2",
		"--allow", "10.0.0.1/8");
	REFUSED(ps, 1, "from_client[0]", "profile", "add", "p2", "--allow", "10.0.0.0/8,icmpv6");
	REFUSED(ps, 1, "99999", "profile", "add", "p2", "--sandbox", "10.0.0.0/8,tcp,99999");
	REFUSED(ps, 1, "expected PREFIX[,PROTO[,PORTS]]", "profile", "add", "p2", "--allow",
		"10.0.0.0/8,tcp,22,x");
	REFUSED(ps, 1, "confirmation_timeout", "profile", "add", "p2", "--timeout", "1s");
	REFUSED(ps, 1, "exists already", "profile", "add", "lab");
	REFUSED(ps, 1, "no such profile", "profile", "set", "nosuch", "--name", "x");
	REFUSED(ps, 1, "still named by 2 subjects", "profile", "del", "contractors");
	REFUSED(ps, 1, "still named by", "tenant", "del", "acme");
	REFUSED(ps, 1, "no such tenant", "tenant", "del", "nosuch");
	REFUSED(ps, 1, "exists already", "tenant", "add", "acme");
	REFUSED(ps, 2, "unknown option '--bogus'", "profile", "add", "p2", "--bogus", "1");
	REFUSED(ps, 2, "--name given twice", "tenant", "add", "t2", "--name", "a", "--name", "b");
	REFUSED(ps, 2, "--name needs a value", "tenant", "add", "t2", "--name");
	REFUSED(ps, 2, "usage: subject add", "subject", "add");
	REFUSED(ps, 2, "unexpected argument 'y'", "subject", "del", "cn:x", "y");
	REFUSED(ps, 2, "unknown command 'subject frobnicate'", "subject", "frobnicate");
	REFUSED(ps, 1, "--state 'pending': unknown state", "subject", "list", "--state", "pending");
	REFUSED(ps, 1, "expected a version", "policy", "show", "--since", "12abc");
	REFUSED(ps, 1, "the store is at version", "policy", "show", "--since",
		"9223372036854775807");
	REFUSED(ps, 1, "No such file", "policy", "import", "/nonexistent/policy.json");
	{
		char bad[] = "/tmp/tw-padmin-bad-XXXXXX";
		int fd = mkstemp(bad);
		static const char body[] =
			"{\"version\":5,\"subjects\":[{\"kind\":\"cn\",\"id\":\"z\",\"state\":\"on\"}]}";

		ASSERT_EQ(write(fd, body, sizeof(body) - 1), (ssize_t)sizeof(body) - 1, "write");
		close(fd);
		REFUSED(ps, 1, "subjects[0].state: unknown state 'on'", "policy", "import", bad);
		unlink(bad);
	}
	ASSERT_EQ(tw_pt_sync(ps, &node), TW_BUNDLE_NONE, "refusals: no new version");

	/* Removals reach the node; policy show prints what a node gets. */
	ASSERT_EQ(run(ps, "subject", "del", "cn:carol", NULL), 0, "subject del");
	ASSERT_EQ(run(ps, "profile", "del", "lab", NULL), 0, "profile del");
	ASSERT_EQ(run(ps, "tenant", "del", "initech", NULL), 0, "tenant del");
	snprintf(since, sizeof(since), "%llu",
		 node ? (unsigned long long)tw_policy_version(node) : 0ULL);
	ASSERT_EQ(run(ps, "policy", "show", "--since", since, NULL), 0, "show delta");
	ASSERT_OK_PTR(strstr(out_buf, "\"type\":\"delta\""), "a delta");
	ASSERT_OK_PTR(strstr(out_buf, "\"remove\":[{\"kind\":\"cn\",\"id\":\"carol\"}]"),
		      "carol removed");
	ASSERT_EQ(tw_pt_sync(ps, &node), TW_BUNDLE_DELTA, "node: delta");
	ASSERT_FALSE(node && tw_policy_profile(node, "lab"), "lab gone");
	ASSERT_FALSE(node && tw_policy_tenant(node, "initech"), "initech gone");
	ASSERT_EQ(run(ps, "subject", "list", NULL), 0, "list");
	ASSERT_OK_PTR(strstr(out_buf, "\"id\":\"bob@phone\""), "bob listed");

	/* A second import replaces everything: the node gets a snapshot. */
	ASSERT_EQ(run(ps, "policy", "import", EXAMPLE, NULL), 0, "reimport");
	ASSERT_EQ(tw_pt_sync(ps, &node), TW_BUNDLE_SNAPSHOT, "node: snapshot after import");
	s = subj(node, TW_SUBJ_CN, "bob@phone");
	ASSERT_TRUE(s && s->state == TW_SUBJ_NEEDS_CONFIRMATION, "bob as in the file again");
	tw_policy_free(node);
	tw_polstore_close(ps);
}

void test_portal_padmin(void);
void test_portal_padmin(void)
{
	char dir[64], *path;

	if (access(EXAMPLE, R_OK)) {
		test__skip("%s not found: run from the source tree", EXAMPLE);
		return;
	}
	path = tw_pt_tmpdb(dir, sizeof(dir));
	if (!ASSERT_OK_PTR(path, "temp dir"))
		return;
	check_commands(path);
	free(path);
	tw_pt_rmdb(dir);
}
