// SPDX-License-Identifier: GPL-2.0-only
/*
 * The portal's bundles as the node reads them: the reference portal's
 * policy store (userspace/portal/polstore.c) and its admin commands make
 * the lines, signed with tw_sig as the server signs them, and the node's
 * policy stream (polstream.c) takes them. After each change the node's
 * policy equals a fresh snapshot of the store.
 *
 * TEST DOUBLE: the sink swaps the policy in memory in place of the
 * daemon's install path (selftests/prog_tests/polstream_maps.c runs that).
 */
#include <stdarg.h>
#include <stdlib.h>
#include "test.h"
#include "daemon.h"
#include "padmin_policy.h"
#include "policy.h"
#include "polstore.h"
#include "polstream_int.h"
#include "portal_test.h"
#include "tw_sig.h"

static const char priv_pem[] = "-----BEGIN PRIVATE KEY-----\n"
			       "MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n"
			       "-----END PRIVATE KEY-----\n";
static const char pub_pem[] = "-----BEGIN PUBLIC KEY-----\n"
			      "MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n"
			      "-----END PUBLIC KEY-----\n";

static void sink_snapshot(struct tw_daemon *d, struct tw_policy *np, const char *line, size_t len)
{
	tw_policy_free(d->pol);
	d->pol = np;
}

static void sink_delta(struct tw_daemon *d, const char *line, size_t len, bool profiles)
{
}

static const struct tw_polstream_sink sink = { .snapshot = sink_snapshot, .delta = sink_delta };

static int admin(struct tw_polstore *st, ...)
{
	char *argv[16];
	int argc = 0, rc;
	FILE *devnull = fopen("/dev/null", "w");
	va_list ap;

	va_start(ap, st);
	while (argc < 15 && (argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	argv[argc] = NULL;
	rc = tw_padmin_policy_run(st, argc, argv, devnull, stderr);
	if (devnull)
		fclose(devnull);
	return rc;
}

/* What the server writes for a node at @since: signature line, bundle line. 0 or the kind. */
static int serve(struct tw_polstore *st, struct tw_sig_key *k, uint64_t since, char **out,
		 size_t *outlen)
{
	char sig[TW_SIG_B64_LEN + 1];
	uint64_t version;
	char *line = NULL;
	size_t len = 0;
	int kind = tw_polstore_bundle(st, "node-fra-2", since, &line, &len, &version);

	if (kind <= TW_BUNDLE_NONE) {
		free(line);
		return kind;
	}
	if (tw_sig_sign(k, "node-fra-2", line, len, sig)) {
		free(line);
		return -EIO;
	}
	*out = malloc(len + 200);
	if (!*out) {
		free(line);
		return -ENOMEM;
	}
	*outlen = (size_t)sprintf(
		*out, "{\"type\":\"signature\",\"alg\":\"ed25519\",\"sig\":\"%s\"}\n", sig);
	memcpy(*out + *outlen, line, len);
	*outlen += len;
	(*out)[(*outlen)++] = '\n';
	free(line);
	return kind;
}

/* The node's policy equals a snapshot of the store at its version. */
static void same_as_store(struct tw_polstore *st, struct tw_daemon *d, const char *name)
{
	char *line = NULL, err[256];
	uint64_t version;
	size_t len;
	struct tw_policy *want;

	if (!ASSERT_EQ(tw_polstore_bundle(st, "node-fra-2", 0, &line, &len, &version),
		       TW_BUNDLE_SNAPSHOT, name))
		return;
	want = tw_policy_parse(line, len, err, sizeof(err));
	ASSERT_OK_PTR(want, err);
	ASSERT_TRUE(d->pol && want && tw_pt_policy_eq(d->pol, want), name);
	ASSERT_EQ(d->pol ? tw_policy_version(d->pol) : 0, version, name);
	tw_policy_free(want);
	free(line);
}

void test_polstream_portal(void)
{
	char dir[64], keypath[128], err[256], *path, *buf = NULL;
	struct tw_daemon *d = calloc(1, sizeof(*d));
	struct tw_polstore *st = NULL;
	struct tw_polstream *ps = NULL;
	struct tw_sig_key *k = NULL;
	const struct tw_subject *s;
	size_t len = 0;
	FILE *f;

	path = tw_pt_tmpdb(dir, sizeof(dir));
	if (!ASSERT_OK_PTR(d, "calloc") || !ASSERT_OK_PTR(path, "tmpdb"))
		goto out;
	st = tw_polstore_open(path, err, sizeof(err));
	k = tw_sig_key_from_pem(priv_pem, strlen(priv_pem), true, "priv", err, sizeof(err));
	if (!ASSERT_OK_PTR(st, err) || !ASSERT_OK_PTR(k, err))
		goto out;
	snprintf(keypath, sizeof(keypath), "%s/policy.pub", dir);
	f = fopen(keypath, "w");
	if (!ASSERT_OK_PTR(f, "key file"))
		goto out;
	fputs(pub_pem, f);
	fclose(f);
	snprintf(d->node, sizeof(d->node), "node-fra-2");
	snprintf(d->cfg.portal.policy_pubkey[0], sizeof(d->cfg.portal.policy_pubkey[0]), "%s",
		 keypath);
	d->cfg.portal.npolicy_pubkeys = 1;
	ps = tw_polstream_new_sink(d, &sink);
	if (!ASSERT_OK_PTR(ps, "polstream") ||
	    !ASSERT_EQ(admin(st, "policy", "import", "examples/policy.json", NULL), 0, "import"))
		goto out;

	/* since=0: a snapshot */
	ASSERT_EQ(serve(st, k, 0, &buf, &len), TW_BUNDLE_SNAPSHOT, "snapshot");
	ASSERT_OK(tw_polstream_feed(ps, (const uint8_t *)buf, len), "node takes the snapshot");
	free(buf);
	buf = NULL;
	same_as_store(st, d, "after the snapshot");

	/* a confirmation and a revocation at the portal: deltas */
	ASSERT_EQ(admin(st, "subject", "confirm", "cn:bob@phone", NULL), 0, "confirm");
	ASSERT_EQ(serve(st, k, tw_policy_version(d->pol), &buf, &len), TW_BUNDLE_DELTA, "delta 1");
	ASSERT_OK(tw_polstream_feed(ps, (const uint8_t *)buf, len), "node takes the delta");
	free(buf);
	buf = NULL;
	ASSERT_EQ(admin(st, "subject", "revoke", "cn:alice@laptop", NULL), 0, "revoke");
	ASSERT_EQ(serve(st, k, tw_policy_version(d->pol), &buf, &len), TW_BUNDLE_DELTA, "delta 2");
	/* one byte at a time, as the worst framing would bring it */
	for (size_t i = 0; i < len; i++)
		if (!ASSERT_OK(tw_polstream_feed(ps, (const uint8_t *)buf + i, 1), "byte"))
			break;
	free(buf);
	buf = NULL;
	same_as_store(st, d, "after two deltas");
	s = tw_policy_subject(d->pol, TW_SUBJ_CN, "alice@laptop");
	ASSERT_TRUE(s && s->state == TW_SUBJ_REVOKED, "alice revoked on the node");
	s = tw_policy_subject(d->pol, TW_SUBJ_CN, "bob@phone");
	ASSERT_TRUE(s && s->state == TW_SUBJ_ENABLED, "bob confirmed on the node");

	/* nothing new: the store has nothing to send, a heartbeat confirms */
	ASSERT_EQ(serve(st, k, tw_policy_version(d->pol), &buf, &len), TW_BUNDLE_NONE, "current");
	snprintf(err, sizeof(err), "{\"type\":\"heartbeat\",\"version\":%llu}\n",
		 (unsigned long long)tw_polstore_version(st));
	ASSERT_OK(tw_polstream_feed(ps, (const uint8_t *)err, strlen(err)), "heartbeat");
out:
	free(buf);
	tw_polstream_release(ps);
	tw_sig_key_free(k);
	tw_polstore_close(st);
	if (path) {
		tw_pt_rmdb(dir);
		free(path);
	}
	if (d)
		tw_policy_free(d->pol);
	free(d);
}
