// SPDX-License-Identifier: GPL-2.0-only
/*
 * The policy stream's lines (docs/protocol.md 5.2 to 5.6), fed through
 * tw_polstream_feed() as the HTTP/2 transport would: the exchange of
 * protocol.md 11.3 and 11.4 split at every chunk size, CR LF, empty lines,
 * oversized lines, and each refusal of 5.6 with the last good policy kept
 * and the exact log line.
 *
 * TEST DOUBLE: the sink below stands in for the daemon's install path
 * (policysrc.c: dataplane, sessions, cache). It only swaps the policy and
 * counts; selftests/prog_tests cover the install path with real maps.
 */
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <nghttp2/nghttp2.h>
#include "test.h"
#include "daemon.h"
#include "policy.h"
#include "polstream_int.h"
#include "tw_sig.h"

static int n_snapshots, n_deltas, n_progress;

static void sink_snapshot(struct tw_daemon *d, struct tw_policy *np, const char *line, size_t len)
{
	tw_policy_free(d->pol);
	d->pol = np;
	n_snapshots++;
}

static void sink_delta(struct tw_daemon *d, const char *line, size_t len, bool profiles)
{
	n_deltas++;
}

static void sink_progress(struct tw_daemon *d)
{
	n_progress++;
}

static const struct tw_polstream_sink test_sink = {
	.snapshot = sink_snapshot,
	.delta = sink_delta,
	.progress = sink_progress,
};

/* protocol.md 11.3, byte for byte */
static const char snap1042[] =
	"{\"type\":\"snapshot\",\"version\":1042,\"generated_at\":\"2026-12-03T13:00:00Z\",\"tenants\":"
	"[{\"id\":\"acme\",\"name\":\"ACME Corp\"}],\"profiles\":[{\"id\":\"employees\",\"interfaces\":"
	"[\"tun*\"],\"from_client\":[{\"prefix\":\"10.20.0.0/16\"},{\"prefix\":\"0.0.0.0/0\",\"proto\":"
	"\"tcp\",\"ports\":\"443\"}],\"sandbox\":[{\"prefix\":\"192.0.2.53\",\"proto\":\"udp\",\"ports\":"
	"53}]}],\"subjects\":[{\"kind\":\"cn\",\"id\":\"alice@laptop\",\"user\":\"alice\",\"tenant\":"
	"\"acme\",\"profiles\":[\"employees\"],\"state\":\"enabled\"},{\"kind\":\"cn\",\"id\":"
	"\"bob@laptop\",\"user\":\"bob\",\"tenant\":\"acme\",\"profiles\":[\"employees\"],\"state\":"
	"\"needs-confirmation\"}]}";
static const char delta1043[] =
	"{\"type\":\"delta\",\"base\":1042,\"version\":1043,\"generated_at\":\"2026-12-03T13:04:10Z\","
	"\"subjects\":{\"upsert\":[{\"kind\":\"cn\",\"id\":\"bob@laptop\",\"user\":\"bob\",\"tenant\":"
	"\"acme\",\"profiles\":[\"employees\"],\"state\":\"enabled\"}]}}";
static const char delta1044[] =
	"{\"type\":\"delta\",\"base\":1043,\"version\":1044,\"generated_at\":\"2026-12-03T13:07:46Z\","
	"\"subjects\":{\"upsert\":[{\"kind\":\"cn\",\"id\":\"alice@laptop\",\"user\":\"alice\","
	"\"tenant\":\"acme\",\"profiles\":[\"employees\"],\"state\":\"revoked\"}]}}";
/* protocol.md 11.4 */
static const char delta1045[] =
	"{\"type\":\"delta\",\"base\":1044,\"version\":1045,\"generated_at\":\"2026-12-03T14:00:00Z\","
	"\"subjects\":{\"upsert\":[{\"kind\":\"cn\",\"id\":\"carol@phone\",\"user\":\"carol\","
	"\"tenant\":\"acme\",\"profiles\":[\"employees\"],\"state\":\"enabled\"}]}}";
static const char sig1045[] =
	"{\"type\":\"signature\",\"alg\":\"ed25519\",\"sig\":\"mn8PXlpgldjaFBBsYwl0E0fKGtme1XcLJ+o3QyCkGE+"
	"NP5Idtch0cshch5ip+gngiWmsJAQ8Z0md+sHY8MCcBA==\"}";
static const char priv_pem[] = "-----BEGIN PRIVATE KEY-----\n"
			       "MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n"
			       "-----END PRIVATE KEY-----\n";
static const char pub_pem[] = "-----BEGIN PUBLIC KEY-----\n"
			      "MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n"
			      "-----END PUBLIC KEY-----\n";

static struct tw_daemon *dm;
static char keypath[64];

static struct tw_polstream *setup(bool keys)
{
	struct tw_polstream *ps;

	tw_policy_free(dm->pol);
	memset(dm, 0, sizeof(*dm));
	snprintf(dm->node, sizeof(dm->node), "node-fra-2");
	snprintf(dm->cfg.node_id, sizeof(dm->cfg.node_id), "node-fra-2");
	if (keys) {
		snprintf(dm->cfg.portal.policy_pubkey[0], sizeof(dm->cfg.portal.policy_pubkey[0]),
			 "%s", keypath);
		dm->cfg.portal.npolicy_pubkeys = 1;
	}
	n_snapshots = n_deltas = n_progress = 0;
	ps = tw_polstream_new_sink(dm, &test_sink);
	ASSERT_OK_PTR(ps, "polstream");
	return ps;
}

static uint32_t feed_str(struct tw_polstream *ps, const char *s)
{
	return tw_polstream_feed(ps, (const uint8_t *)s, strlen(s));
}

/* @lines joined by @eol, fed in chunks of @chunk bytes. */
static uint32_t feed_chunked(struct tw_polstream *ps, const char *const *lines, size_t n,
			     const char *eol, size_t chunk)
{
	size_t total = 0, off;
	uint32_t rc = 0;
	char *all;

	for (size_t i = 0; i < n; i++)
		total += strlen(lines[i]) + strlen(eol);
	all = malloc(total + 1);
	if (!all)
		return ~0u;
	all[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		strcat(all, lines[i]);
		strcat(all, eol);
	}
	for (off = 0; off < total && !rc; off += chunk)
		rc = tw_polstream_feed(ps, (const uint8_t *)all + off,
				       total - off < chunk ? total - off : chunk);
	free(all);
	return rc;
}

static uint64_t version(void)
{
	return dm->pol ? tw_policy_version(dm->pol) : 0;
}

static int state_of(const char *cn)
{
	const struct tw_subject *s = dm->pol ? tw_policy_subject(dm->pol, TW_SUBJ_CN, cn) : NULL;

	return s ? (int)s->state : -1;
}

/* A stream at version 1044 (snapshot, two deltas). */
static struct tw_polstream *at_1044(bool keys)
{
	struct tw_polstream *ps = setup(keys);
	const char *const lines[] = { snap1042, delta1043, delta1044 };

	if (ps && !keys)
		ASSERT_OK(feed_chunked(ps, lines, 3, "\n", 1 << 20), "to 1044");
	return ps;
}

static void sign_line(const char *line, const char *node, char *out, size_t outlen)
{
	char err[256], sig[TW_SIG_B64_LEN + 1] = "";
	struct tw_sig_key *k =
		tw_sig_key_from_pem(priv_pem, strlen(priv_pem), true, "priv", err, sizeof(err));

	if (k)
		tw_sig_sign(k, node, line, strlen(line), sig);
	tw_sig_key_free(k);
	snprintf(out, outlen, "{\"type\":\"signature\",\"alg\":\"ed25519\",\"sig\":\"%s\"}", sig);
}

static void test_chunks(void)
{
	const char *const lines[] = {
		snap1042,  "{\"type\":\"heartbeat\",\"version\":1042}", "",
		delta1043, "{\"type\":\"heartbeat\",\"version\":1043}", delta1044
	};
	static const size_t chunks[] = { 1, 2, 3, 5, 7, 64, 100, 333, 4095, 4096, 4097, 1 << 20 };
	static const char *const eols[] = { "\n", "\r\n" };

	for (size_t e = 0; e < 2; e++)
		for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
			struct tw_polstream *ps = setup(false);
			char name[64];

			if (!ps)
				return;
			snprintf(name, sizeof(name), "%s chunk %zu", e ? "CRLF" : "LF", chunks[c]);
			ASSERT_OK(feed_chunked(ps, lines, 6, eols[e], chunks[c]), name);
			ASSERT_EQ(version(), 1044, name);
			ASSERT_EQ(state_of("alice@laptop"), TW_SUBJ_REVOKED, name);
			ASSERT_EQ(state_of("bob@laptop"), TW_SUBJ_ENABLED, name);
			ASSERT_EQ(n_snapshots, 1, name);
			ASSERT_EQ(n_deltas, 2, name);
			ASSERT_EQ(n_progress, 1, "progress once per stream");
			ASSERT_EQ(dm->pol_source, TW_POLSRC_PORTAL, "source");
			tw_polstream_release(ps);
		}
}

/* The refused line leaves the policy as it was: same object, version, content. */
static void expect_refused(struct tw_polstream *ps, const char *feed, uint32_t code,
			   enum tw_link_retry retry, const char *logline)
{
	const struct tw_policy *before = dm->pol;
	uint64_t v = version();
	int alice = state_of("alice@laptop");

	ASSERT_EQ(feed_str(ps, feed), code, logline);
	ASSERT_EQ(ps->retry, retry, "retry schedule");
	ASSERT_TRUE(dm->pol == before, "same policy object");
	ASSERT_EQ(version(), v, "version kept");
	ASSERT_EQ(state_of("alice@laptop"), alice, "content kept");
	if (logline)
		ASSERT_STREQ(tw_polstream_last_error(ps), logline, "log line");
	if (ps->last_error[0])
		ASSERT_STREQ(dm->pol_refused, ps->last_error, "status shows the refusal");
	/* the stream is done: later bytes change nothing */
	ASSERT_EQ(feed_str(ps, "{\"type\":\"heartbeat\",\"version\":1044}\n"), code,
		  "stays failed");
}

static void test_refusals(void)
{
	struct tw_polstream *ps;
	char line[8192], sig[256];

	if (test__start_subtest("older_snapshot")) {
		ps = at_1044(false);
		snprintf(line, sizeof(line), "%s\n", snap1042);
		/* 1042 < 1044: not a confirmation */
		expect_refused(
			ps, line, NGHTTP2_PROTOCOL_ERROR, TW_RETRY_SLOW,
			"portal policy version 1042: not newer than 1044; keeping version 1044");
		tw_polstream_release(ps);
	}
	if (test__start_subtest("delta_other_base")) {
		ps = at_1044(false);
		snprintf(line, sizeof(line), "%s\n", delta1043);
		expect_refused(ps, line, NGHTTP2_PROTOCOL_ERROR, TW_RETRY_NORMAL,
			       "portal policy version 1043: delta for base 1042, not 1044; keeping "
			       "version 1044");
		ASSERT_EQ(tw_polstream_since(ps), 1044, "first mismatch: since = ours");
		tw_polstream_reset_lines(ps);
		expect_refused(ps, line, NGHTTP2_PROTOCOL_ERROR, TW_RETRY_NORMAL, NULL);
		ASSERT_EQ(tw_polstream_since(ps), 0, "second mismatch: since=0");
		tw_polstream_release(ps);
	}
	if (test__start_subtest("corrupt_bundle")) {
		ps = at_1044(false);
		snprintf(
			line, sizeof(line),
			"{\"type\":\"delta\",\"base\":1044,\"version\":1045,\"subjects\":{\"upsert\":"
			"[{\"kind\":\"cn\",\"id\":\"eve\",\"state\":\"enabeld\"}]}}\n");
		expect_refused(ps, line, NGHTTP2_PROTOCOL_ERROR, TW_RETRY_SLOW, NULL);
		ASSERT_TRUE(strstr(tw_polstream_last_error(ps), "portal policy version 1045: ") &&
				    strstr(tw_polstream_last_error(ps), "enabeld") &&
				    strstr(tw_polstream_last_error(ps), "; keeping version 1044"),
			    "names the version, the parser's error and the kept version");
		ASSERT_EQ(state_of("eve"), -1, "eve not added");
		tw_polstream_release(ps);
	}
	if (test__start_subtest("corrupt_snapshot")) {
		ps = at_1044(false);
		expect_refused(ps, "{\"type\":\"snapshot\",\"version\":2000,\"subjects\":[{]}\n",
			       NGHTTP2_PROTOCOL_ERROR, TW_RETRY_SLOW, NULL);
		tw_polstream_release(ps);
	}
	if (test__start_subtest("unsigned")) {
		ps = setup(true);
		expect_refused(ps, "{\"type\":\"snapshot\",\"version\":1}\n",
			       NGHTTP2_PROTOCOL_ERROR, TW_RETRY_SLOW,
			       "portal policy version 1: unsigned (policy_pubkey is set); keeping "
			       "version 0");
		tw_polstream_release(ps);
	}
	if (test__start_subtest("signed_exchange")) {
		/* 11.3 signed line by line, then the exact 11.4 signature and delta */
		const char *const plain[] = { snap1042, delta1043, delta1044 };

		ps = setup(true);
		for (size_t i = 0; ps && i < 3; i++) {
			sign_line(plain[i], "node-fra-2", sig, sizeof(sig));
			snprintf(line, sizeof(line), "%s\n%s\n", sig, plain[i]);
			ASSERT_OK(feed_str(ps, line), "signed bundle");
		}
		ASSERT_EQ(version(), 1044, "at 1044");
		snprintf(line, sizeof(line), "%s\n%s\n", sig1045, delta1045);
		dm->pol_refused[0] = 'x';
		ASSERT_OK(feed_str(ps, line), "protocol.md 11.4");
		ASSERT_STREQ(dm->pol_refused, "", "an accepted bundle clears the refusal");
		ASSERT_EQ(version(), 1045, "at 1045");
		ASSERT_EQ(state_of("carol@phone"), TW_SUBJ_ENABLED, "carol");
		tw_polstream_release(ps);
	}
	if (test__start_subtest("bad_signature_other_node")) {
		const char *const plain[] = { snap1042, delta1043, delta1044 };

		ps = setup(true);
		for (size_t i = 0; ps && i < 3; i++) {
			sign_line(plain[i], "node-fra-2", sig, sizeof(sig));
			snprintf(line, sizeof(line), "%s\n%s\n", sig, plain[i]);
			feed_str(ps, line);
		}
		/* the same delta, signed for another node */
		sign_line(delta1045, "node-ams-1", sig, sizeof(sig));
		snprintf(line, sizeof(line), "%s\n%s\n", sig, delta1045);
		snprintf(sig, sizeof(sig),
			 "portal policy version 1045: bad signature (policy_pubkey %s); keeping "
			 "version 1044",
			 keypath);
		expect_refused(ps, line, NGHTTP2_PROTOCOL_ERROR, TW_RETRY_SLOW, sig);
		ASSERT_EQ(state_of("carol@phone"), -1, "carol not added");
		tw_polstream_release(ps);
	}
	if (test__start_subtest("bad_alg")) {
		ps = setup(true);
		snprintf(line, sizeof(line),
			 "{\"type\":\"signature\",\"alg\":\"rsa\",\"sig\":\"x\"}\n%s\n", snap1042);
		expect_refused(ps, line, NGHTTP2_PROTOCOL_ERROR, TW_RETRY_SLOW,
			       "portal policy version 1042: signature alg 'rsa' is not ed25519; "
			       "keeping version 0");
		ASSERT_TRUE(!dm->pol, "no policy");
		tw_polstream_release(ps);
		/* the portal's bytes reach the log escaped */
		ps = setup(true);
		snprintf(line, sizeof(line),
			 "{\"type\":\"signature\",\"alg\":\"x\\u001b[31m\",\"sig\":\"x\"}\n%s\n",
			 snap1042);
		expect_refused(ps, line, NGHTTP2_PROTOCOL_ERROR, TW_RETRY_SLOW,
			       "portal policy version 1042: signature alg 'x\\x1b[31m' is not "
			       "ed25519; keeping version 0");
		tw_polstream_release(ps);
	}
	if (test__start_subtest("signature_then_heartbeat")) {
		ps = setup(true);
		snprintf(line, sizeof(line), "%s\n{\"type\":\"heartbeat\",\"version\":0}\n",
			 sig1045);
		expect_refused(ps, line, NGHTTP2_PROTOCOL_ERROR, TW_RETRY_SLOW, NULL);
		tw_polstream_release(ps);
	}
	if (test__start_subtest("oversized_heartbeat")) {
		ps = at_1044(false);
		memset(line, ' ', sizeof(line));
		memcpy(line, "{\"type\":\"heartbeat\",\"version\":1044", 34);
		line[5000] = '}';
		line[5001] = '\n';
		line[5002] = '\0';
		expect_refused(ps, line, NGHTTP2_PROTOCOL_ERROR, TW_RETRY_SLOW, NULL);
		ASSERT_TRUE(strstr(ps->why, "limit 4096") != NULL, "says the limit");
		tw_polstream_release(ps);
	}
	if (test__start_subtest("bundle_over_64MiB")) {
		size_t n = TW_PS_BUNDLE_MAX + 16, off = 0;
		char *big = malloc(n);
		uint32_t rc = 0;

		ps = at_1044(false);
		if (ASSERT_OK_PTR(big, "malloc")) {
			memset(big, ' ', n);
			memcpy(big, "{\"type\":\"snapshot\",\"version\":9999,", 35);
			/* fed in 1 MiB chunks, no LF: refused once past the limit */
			while (off < n && !rc) {
				size_t c = n - off < (1u << 20) ? n - off : (1u << 20);

				rc = tw_polstream_feed(ps, (const uint8_t *)big + off, c);
				off += c;
			}
			ASSERT_EQ(rc, NGHTTP2_PROTOCOL_ERROR, "refused");
			ASSERT_STREQ(
				tw_polstream_last_error(ps),
				"portal policy version 9999: line over 67108864 bytes; keeping "
				"version 1044",
				"log line");
			ASSERT_EQ(version(), 1044, "kept");
		}
		free(big);
		tw_polstream_release(ps);
	}
}

static void test_confirmations(void)
{
	struct tw_polstream *ps = at_1044(false);
	char line[8192];

	if (!ps)
		return;
	dm->pol_loaded = 0;
	dm->pol_source = TW_POLSRC_CACHE;
	ASSERT_OK(feed_str(ps, "{\"type\":\"heartbeat\",\"version\":1044}\n"), "heartbeat");
	ASSERT_GE(dm->pol_loaded, time(NULL) - 1, "confirmed now");
	ASSERT_EQ(dm->pol_source, TW_POLSRC_PORTAL, "confirmed by the portal");

	/* a same-version snapshot confirms and is not read again */
	dm->pol_loaded = 0;
	snprintf(line, sizeof(line), "{\"type\":\"snapshot\",\"version\":1044,\"subjects\":[]}\n");
	ASSERT_OK(feed_str(ps, line), "same-version snapshot");
	ASSERT_EQ(n_snapshots, 1, "not applied");
	ASSERT_EQ(state_of("bob@laptop"), TW_SUBJ_ENABLED, "content kept");
	ASSERT_GE(dm->pol_loaded, time(NULL) - 1, "confirmed now");

	/* unknown types are ignored */
	ASSERT_OK(feed_str(ps, "{\"type\":\"notice\",\"text\":\"hi\"}\n{\"type\":\"notice\"}\n"),
		  "unknown type");

	/* a heartbeat naming another version: out of step, normal schedule */
	ASSERT_EQ(feed_str(ps, "{\"type\":\"heartbeat\",\"version\":1043}\n"),
		  NGHTTP2_PROTOCOL_ERROR, "out of step");
	ASSERT_EQ(ps->retry, TW_RETRY_NORMAL, "normal schedule");
	ASSERT_EQ(version(), 1044, "kept");

	/* garbage */
	tw_polstream_reset_lines(ps);
	ASSERT_EQ(feed_str(ps, "<html>\n"), NGHTTP2_PROTOCOL_ERROR, "not JSON");
	tw_polstream_release(ps);
}

void test_polstream(void)
{
	int fd;

	dm = calloc(1, sizeof(*dm));
	if (!ASSERT_OK_PTR(dm, "calloc"))
		return;
	snprintf(keypath, sizeof(keypath), "/tmp/tw_polstream_XXXXXX");
	fd = mkstemp(keypath);
	if (!ASSERT_GE(fd, 0, "mkstemp"))
		goto out;
	ASSERT_EQ(write(fd, pub_pem, strlen(pub_pem)), (ssize_t)strlen(pub_pem), "key file");
	close(fd);

	if (test__start_subtest("chunks"))
		test_chunks();
	test_refusals();
	if (test__start_subtest("confirmations"))
		test_confirmations();
	if (test__start_subtest("portal_without_policy")) {
		struct tw_polstream *ps = setup(false);

		if (ps) {
			ASSERT_OK(feed_str(ps, "{\"type\":\"heartbeat\",\"version\":0}\n"),
				  "heartbeat 0 without a policy");
			ASSERT_TRUE(!dm->pol && dm->pol_source == TW_POLSRC_NONE, "still none");
			ASSERT_EQ(n_progress, 1, "the stream made progress");
			ASSERT_EQ(feed_str(ps, "{\"type\":\"heartbeat\",\"version\":3}\n"),
				  NGHTTP2_PROTOCOL_ERROR, "a version we do not have: out of step");
		}
		tw_polstream_release(ps);
	}
	if (test__start_subtest("bad_key_file")) {
		struct tw_polstream *ps;

		snprintf(dm->cfg.portal.policy_pubkey[0], sizeof(dm->cfg.portal.policy_pubkey[0]),
			 "/nonexistent/policy.pub");
		dm->cfg.portal.npolicy_pubkeys = 1;
		ps = tw_polstream_new_sink(dm, &test_sink);
		ASSERT_TRUE(!ps && errno == ENOENT, "a missing key file is an error");
		tw_polstream_release(ps);
	}
	unlink(keypath);
out:
	tw_policy_free(dm->pol);
	free(dm);
}
