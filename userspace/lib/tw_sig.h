/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Ed25519 signatures of policy bundles (docs/protocol.md section 5.5): the
 * portal signs each bundle line for one node, the node verifies it under
 * the keys of [portal] policy_pubkey. The signed message binds the line to
 * the node:
 *
 *	"tunwarden-policy-v1\n" + node_id + "\n" + line (without its LF)
 *
 * Signatures travel as standard base64 with padding, 88 characters. Keys
 * are PEM files as openssl writes them: a PRIVATE KEY (PKCS#8) to sign, a
 * PUBLIC KEY (SubjectPublicKeyInfo) to verify. OpenSSL stays behind this
 * header.
 */
#ifndef TW_SIG_H
#define TW_SIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TW_SIG_B64_LEN 88 /* 64 bytes in base64 with padding */
#define TW_SIG_CONTEXT "tunwarden-policy-v1\n"

struct tw_sig_key;

/*
 * Load an Ed25519 key from a PEM file (@priv: a private key to sign,
 * otherwise a public key to verify). NULL with errno set and the reason,
 * naming @path, in @err: unreadable, not PEM, not Ed25519.
 */
struct tw_sig_key *tw_sig_key_load(const char *path, bool priv, char *err, size_t errlen);
/* The same from PEM text in memory; @what names it in @err. */
struct tw_sig_key *tw_sig_key_from_pem(const char *pem, size_t len, bool priv, const char *what,
				       char *err, size_t errlen);
void tw_sig_key_free(struct tw_sig_key *k);

/*
 * Sign @line (@len bytes, no LF) for @node with private key @k into @out
 * (base64, NUL-terminated). 0 or -errno (-EINVAL: not a private key, or a
 * node id with a LF).
 */
int tw_sig_sign(const struct tw_sig_key *k, const char *node, const void *line, size_t len,
		char out[TW_SIG_B64_LEN + 1]);

/*
 * Check @sig_b64 over @line for @node under @k. 0 when it verifies,
 * -EBADMSG when it does not, -EINVAL when @sig_b64 is not 88 characters of
 * canonical padded base64, -ENOMEM.
 */
int tw_sig_verify(const struct tw_sig_key *k, const char *node, const void *line, size_t len,
		  const char *sig_b64);

/* Under any of @keys (@n of them): 0, or the first error other than -EBADMSG, else -EBADMSG. */
int tw_sig_verify_any(struct tw_sig_key *const *keys, size_t n, const char *node, const void *line,
		      size_t len, const char *sig_b64);

#endif /* TW_SIG_H */
