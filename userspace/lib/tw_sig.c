// SPDX-License-Identifier: GPL-2.0-only
/*
 * Ed25519 over OpenSSL 3's EVP interface. Ed25519 is one-shot only
 * (EVP_DigestSign/Verify with no digest), so the context, node id and line
 * are put into one buffer first: a copy of the line, at most the 64 MiB
 * bundle limit, once per bundle.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include "tw_sig.h"

#define SIG_RAW_LEN 64

struct tw_sig_key {
	EVP_PKEY *pkey;
	bool priv;
};

static void ssl_reason(char *buf, size_t len)
{
	unsigned long e = ERR_get_error();

	if (e)
		ERR_error_string_n(e, buf, len);
	else
		snprintf(buf, len, "no PEM key found");
	ERR_clear_error();
}

struct tw_sig_key *tw_sig_key_from_pem(const char *pem, size_t len, bool priv, const char *what,
				       char *err, size_t errlen)
{
	struct tw_sig_key *k;
	char why[256];
	EVP_PKEY *pkey;
	BIO *bio;

	if (len > INT32_MAX) {
		snprintf(err, errlen, "%s: too large for a key", what);
		errno = EINVAL;
		return NULL;
	}
	bio = BIO_new_mem_buf(pem, (int)len);
	if (!bio) {
		snprintf(err, errlen, "%s: out of memory", what);
		errno = ENOMEM;
		return NULL;
	}
	pkey = priv ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) :
		      PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (!pkey) {
		ssl_reason(why, sizeof(why));
		snprintf(err, errlen, "%s: not a PEM %s key (%s)", what,
			 priv ? "PRIVATE" : "PUBLIC", why);
		errno = EINVAL;
		return NULL;
	}
	if (EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519) {
		snprintf(err, errlen, "%s: an %s key, not Ed25519", what,
			 OBJ_nid2sn(EVP_PKEY_get_id(pkey)));
		EVP_PKEY_free(pkey);
		errno = EINVAL;
		return NULL;
	}
	k = calloc(1, sizeof(*k));
	if (!k) {
		EVP_PKEY_free(pkey);
		snprintf(err, errlen, "%s: out of memory", what);
		errno = ENOMEM;
		return NULL;
	}
	k->pkey = pkey;
	k->priv = priv;
	return k;
}

struct tw_sig_key *tw_sig_key_load(const char *path, bool priv, char *err, size_t errlen)
{
	struct tw_sig_key *k;
	char buf[8192];
	size_t n;
	FILE *f;
	int e;

	f = fopen(path, "re");
	if (!f) {
		e = errno;
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		errno = e;
		return NULL;
	}
	n = fread(buf, 1, sizeof(buf), f);
	e = ferror(f) ? errno : 0;
	if (!e && n == sizeof(buf))
		e = EFBIG; /* a key file is a few hundred bytes */
	fclose(f);
	if (e) {
		snprintf(err, errlen, "%s: %s", path,
			 e == EFBIG ? "larger than 8 KiB, not a key" : strerror(e));
		errno = e;
		return NULL;
	}
	k = tw_sig_key_from_pem(buf, n, priv, path, err, errlen);
	explicit_bzero(buf, sizeof(buf)); /* a private key */
	return k;
}

void tw_sig_key_free(struct tw_sig_key *k)
{
	if (!k)
		return;
	EVP_PKEY_free(k->pkey);
	free(k);
}

/* The signed message: context, node, LF, line. NULL on a bad node or no memory. */
static uint8_t *message(const char *node, const void *line, size_t len, size_t *mlen, int *err)
{
	size_t clen = strlen(TW_SIG_CONTEXT), nlen = strlen(node);
	uint8_t *m;

	if (memchr(node, '\n', nlen)) {
		*err = -EINVAL;
		return NULL;
	}
	*mlen = clen + nlen + 1 + len;
	m = malloc(*mlen ? *mlen : 1);
	if (!m) {
		*err = -ENOMEM;
		return NULL;
	}
	memcpy(m, TW_SIG_CONTEXT, clen);
	memcpy(m + clen, node, nlen);
	m[clen + nlen] = '\n';
	if (len)
		memcpy(m + clen + nlen + 1, line, len);
	return m;
}

int tw_sig_sign(const struct tw_sig_key *k, const char *node, const void *line, size_t len,
		char out[TW_SIG_B64_LEN + 1])
{
	uint8_t raw[SIG_RAW_LEN];
	size_t mlen, slen = sizeof(raw);
	EVP_MD_CTX *ctx = NULL;
	int err = 0;
	uint8_t *m;

	if (!k || !k->priv)
		return -EINVAL;
	m = message(node, line, len, &mlen, &err);
	if (!m)
		return err;
	ctx = EVP_MD_CTX_new();
	if (!ctx || EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->pkey) != 1 ||
	    EVP_DigestSign(ctx, raw, &slen, m, mlen) != 1 || slen != SIG_RAW_LEN) {
		ERR_clear_error();
		err = -EIO;
		goto out;
	}
	EVP_EncodeBlock((unsigned char *)out, raw, SIG_RAW_LEN);
	out[TW_SIG_B64_LEN] = '\0';
out:
	EVP_MD_CTX_free(ctx);
	free(m);
	return err;
}

static bool b64char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

/* Strict: exactly 88 characters, "==" at the end, no bits in the padding. */
static int b64_decode_sig(const char *s, uint8_t raw[SIG_RAW_LEN])
{
	static const char alpha[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint8_t buf[SIG_RAW_LEN + 2];
	const char *last;
	size_t i;

	if (strnlen(s, TW_SIG_B64_LEN + 1) != TW_SIG_B64_LEN)
		return -EINVAL;
	for (i = 0; i < TW_SIG_B64_LEN - 2; i++)
		if (!b64char(s[i]))
			return -EINVAL;
	if (s[TW_SIG_B64_LEN - 2] != '=' || s[TW_SIG_B64_LEN - 1] != '=')
		return -EINVAL;
	/* The last data character carries 2 bits of the last byte, 4 of padding. */
	last = strchr(alpha, s[TW_SIG_B64_LEN - 3]);
	if (!last || ((last - alpha) & 0xf))
		return -EINVAL;
	if (EVP_DecodeBlock(buf, (const unsigned char *)s, TW_SIG_B64_LEN) != SIG_RAW_LEN + 2)
		return -EINVAL;
	memcpy(raw, buf, SIG_RAW_LEN);
	return 0;
}

int tw_sig_verify(const struct tw_sig_key *k, const char *node, const void *line, size_t len,
		  const char *sig_b64)
{
	uint8_t raw[SIG_RAW_LEN];
	EVP_MD_CTX *ctx = NULL;
	size_t mlen;
	uint8_t *m;
	int err;

	if (!k)
		return -EINVAL;
	err = b64_decode_sig(sig_b64, raw);
	if (err)
		return err;
	m = message(node, line, len, &mlen, &err);
	if (!m)
		return err;
	ctx = EVP_MD_CTX_new();
	if (!ctx || EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k->pkey) != 1) {
		err = -ENOMEM;
		goto out;
	}
	err = EVP_DigestVerify(ctx, raw, SIG_RAW_LEN, m, mlen) == 1 ? 0 : -EBADMSG;
out:
	ERR_clear_error();
	EVP_MD_CTX_free(ctx);
	free(m);
	return err;
}

int tw_sig_verify_any(struct tw_sig_key *const *keys, size_t n, const char *node, const void *line,
		      size_t len, const char *sig_b64)
{
	size_t i;
	int err;

	for (i = 0; i < n; i++) {
		err = tw_sig_verify(keys[i], node, line, len, sig_b64);
		if (err != -EBADMSG)
			return err;
	}
	return -EBADMSG;
}
