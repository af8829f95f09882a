// SPDX-License-Identifier: GPL-2.0-only
/*
 * tw_sig: the signed bundles of docs/protocol.md section 5.5, with the key
 * pair of RFC 8032 section 7.1 test 1 and the exact example of protocol.md
 * section 11.4. Ed25519 is deterministic, so signing the example must give
 * the documented signature byte for byte.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "test.h"
#include "tw_sig.h"

static const char priv_pem[] = "-----BEGIN PRIVATE KEY-----\n"
			       "MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n"
			       "-----END PRIVATE KEY-----\n";
static const char pub_pem[] = "-----BEGIN PUBLIC KEY-----\n"
			      "MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n"
			      "-----END PUBLIC KEY-----\n";
/* Another Ed25519 key (RFC 8032 test 2's public key). */
static const char other_pub_pem[] = "-----BEGIN PUBLIC KEY-----\n"
				    "MCowBQYDK2VwAyEAPUAXw+hDiVqStwqnTRt+vJyYLM8uxJaMwM1V8Sr0Zgw=\n"
				    "-----END PUBLIC KEY-----\n";
/* An X25519 key: the right size, the wrong algorithm. */
static const char x25519_pem[] = "-----BEGIN PUBLIC KEY-----\n"
				 "MCowBQYDK2VuAyEAhSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=\n"
				 "-----END PUBLIC KEY-----\n";

/* protocol.md section 11.4, byte for byte. */
static const char delta_line[] =
	"{\"type\":\"delta\",\"base\":1044,\"version\":1045,\"generated_at\":\"2026-12-03T14:00:00Z\","
	"\"subjects\":{\"upsert\":[{\"kind\":\"cn\",\"id\":\"carol@phone\",\"user\":\"carol\","
	"\"tenant\":\"acme\",\"profiles\":[\"employees\"],\"state\":\"enabled\"}]}}";
static const char doc_sig[] = "mn8PXlpgldjaFBBsYwl0E0fKGtme1XcLJ+o3QyCkGE+NP5Idtch0cshch5ip+gngiW"
			      "msJAQ8Z0md+sHY8MCcBA==";

void test_tw_sig(void)
{
	struct tw_sig_key *priv = NULL, *pub = NULL, *other = NULL, *k;
	char sig[TW_SIG_B64_LEN + 1], bad[TW_SIG_B64_LEN + 1], err[512];
	size_t dlen = strlen(delta_line);

	priv = tw_sig_key_from_pem(priv_pem, strlen(priv_pem), true, "priv", err, sizeof(err));
	pub = tw_sig_key_from_pem(pub_pem, strlen(pub_pem), false, "pub", err, sizeof(err));
	other = tw_sig_key_from_pem(other_pub_pem, strlen(other_pub_pem), false, "other", err,
				    sizeof(err));
	if (!ASSERT_OK_PTR(priv, "load private") || !ASSERT_OK_PTR(pub, "load public") ||
	    !ASSERT_OK_PTR(other, "load other"))
		goto out;

	if (test__start_subtest("doc_example_verifies")) {
		ASSERT_EQ(strlen(TW_SIG_CONTEXT) + strlen("node-fra-2") + 1 + dlen, 243,
			  "signed message is 243 bytes");
		ASSERT_OK(tw_sig_verify(pub, "node-fra-2", delta_line, dlen, doc_sig), "verify");
	}
	if (test__start_subtest("sign_is_doc_example")) {
		ASSERT_OK(tw_sig_sign(priv, "node-fra-2", delta_line, dlen, sig), "sign");
		ASSERT_STREQ(sig, doc_sig, "deterministic signature");
	}
	if (test__start_subtest("wrong_node_refused")) {
		ASSERT_EQ(tw_sig_verify(pub, "node-ams-1", delta_line, dlen, doc_sig), -EBADMSG,
			  "signed for node-fra-2");
	}
	if (test__start_subtest("changed_line_refused")) {
		ASSERT_EQ(tw_sig_verify(pub, "node-fra-2", delta_line, dlen - 1, doc_sig), -EBADMSG,
			  "one byte short");
	}
	if (test__start_subtest("other_key")) {
		struct tw_sig_key *both[2] = { other, pub };

		ASSERT_EQ(tw_sig_verify(other, "node-fra-2", delta_line, dlen, doc_sig), -EBADMSG,
			  "other key");
		ASSERT_OK(tw_sig_verify_any(both, 2, "node-fra-2", delta_line, dlen, doc_sig),
			  "any of two");
		ASSERT_EQ(tw_sig_verify_any(both, 1, "node-fra-2", delta_line, dlen, doc_sig),
			  -EBADMSG, "only the other");
	}
	if (test__start_subtest("malformed_base64")) {
		ASSERT_EQ(tw_sig_verify(pub, "node-fra-2", delta_line, dlen, ""), -EINVAL, "empty");
		ASSERT_EQ(tw_sig_verify(pub, "node-fra-2", delta_line, dlen, "abc="), -EINVAL,
			  "short");
		memcpy(bad, doc_sig, sizeof(bad));
		bad[10] = '-'; /* base64url, not base64 */
		ASSERT_EQ(tw_sig_verify(pub, "node-fra-2", delta_line, dlen, bad), -EINVAL, "url");
		memcpy(bad, doc_sig, sizeof(bad));
		bad[85] = 'B'; /* 'A' + 1: a bit in the padding */
		ASSERT_EQ(tw_sig_verify(pub, "node-fra-2", delta_line, dlen, bad), -EINVAL,
			  "padding bits");
		memcpy(bad, doc_sig, sizeof(bad));
		bad[0] = bad[0] == 'A' ? 'B' : 'A';
		ASSERT_EQ(tw_sig_verify(pub, "node-fra-2", delta_line, dlen, bad), -EBADMSG,
			  "flipped bits");
	}
	if (test__start_subtest("verify_needs_no_private")) {
		ASSERT_EQ(tw_sig_sign(pub, "node-fra-2", delta_line, dlen, sig), -EINVAL,
			  "sign with a public key");
		ASSERT_EQ(tw_sig_sign(priv, "a\nb", delta_line, dlen, sig), -EINVAL,
			  "node id with a LF");
	}
	if (test__start_subtest("bad_keys")) {
		k = tw_sig_key_from_pem(x25519_pem, strlen(x25519_pem), false, "x.pub", err,
					sizeof(err));
		ASSERT_TRUE(!k && strstr(err, "x.pub") && strstr(err, "not Ed25519"), "x25519");
		tw_sig_key_free(k);
		k = tw_sig_key_from_pem("hello\n", 6, false, "junk.pub", err, sizeof(err));
		ASSERT_TRUE(!k && strstr(err, "junk.pub: not a PEM PUBLIC key"), "junk");
		tw_sig_key_free(k);
		k = tw_sig_key_load("/nonexistent/policy.pub", false, err, sizeof(err));
		ASSERT_TRUE(!k && errno == ENOENT && strstr(err, "/nonexistent/policy.pub"),
			    "missing file");
		tw_sig_key_free(k);
	}
	if (test__start_subtest("load_file")) {
		char path[] = "/tmp/tw_sig_XXXXXX";
		int fd = mkstemp(path);

		if (ASSERT_GE(fd, 0, "mkstemp")) {
			ASSERT_EQ(write(fd, pub_pem, strlen(pub_pem)), (ssize_t)strlen(pub_pem),
				  "write");
			close(fd);
			k = tw_sig_key_load(path, false, err, sizeof(err));
			ASSERT_OK_PTR(k, err);
			if (k)
				ASSERT_OK(tw_sig_verify(k, "node-fra-2", delta_line, dlen, doc_sig),
					  "verify with the file's key");
			tw_sig_key_free(k);
			unlink(path);
		}
	}
out:
	tw_sig_key_free(priv);
	tw_sig_key_free(pub);
	tw_sig_key_free(other);
}
