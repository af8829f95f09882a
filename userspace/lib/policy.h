/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Policy bundles: who may connect (subjects), with which allowlists
 * (profiles), for which customer (tenants). A bundle is JSON, read from a
 * file now and from the portal's policy stream later; docs/policy.md is the
 * format. The parsers are pure functions over buffers.
 *
 * In memory, subjects sit in an open-addressing hash table keyed by
 * (kind, id), so the connect path finds one among 100k+ in O(1). Profiles and
 * tenants carry dense numeric ids: a profile's num is its index in tw1_acl
 * and a tenant's num is what tw_slot.tenant holds. Both stay the same across
 * deltas and across tw_policy_parse_next() for the same string id, so the
 * dataplane never has to be renumbered under live clients.
 *
 * Pointers returned by the lookups stay valid until the next successful
 * tw_policy_apply_delta() on the same policy or tw_policy_free().
 */
#ifndef TW_POLICY_H
#define TW_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "tw_dp.h"

#define TW_POLICY_MAX_BYTES	    (64u << 20)
#define TW_POLICY_MAX_SUBJECTS	    (1u << 20)
#define TW_POLICY_MAX_TENANTS	    65535
#define TW_POLICY_MAX_PROFILES	    (TW_MAX_PROFILES - 1) /* num 0 means "no profile" */
#define TW_POLICY_MAX_RULES	    1024 /* per profile, all lists together */
#define TW_POLICY_MAX_IFACES	    32 /* per profile */
#define TW_POLICY_MAX_SUBJ_PROFILES 16
#define TW_POLICY_ID_MAX	    255 /* bytes in any id, name or user string */

enum tw_subject_kind {
	TW_SUBJ_CN = 1, /* OpenVPN certificate common name */
	TW_SUBJ_WG_KEY = 2, /* WireGuard public key, base64 */
	TW_SUBJ_IPSEC_ID = 3, /* IKE peer identity */
};

enum tw_subject_state {
	TW_SUBJ_ENABLED = 0,
	TW_SUBJ_NEEDS_CONFIRMATION = 1,
	TW_SUBJ_DISABLED = 2,
	TW_SUBJ_REVOKED = 3,
};

/* The key of every keyed object, its first member (hashtab.h holds pointers to it). */
struct tw_pnode {
	uint32_t kind; /* enum tw_subject_kind for subjects, 0 for profiles and tenants */
	const char *id;
};

struct tw_tenant {
	struct tw_pnode node;
	uint32_t num; /* 1.., tw_slot.tenant; 0 is "no tenant" */
	const char *name;
};

struct tw_profile {
	struct tw_pnode node;
	uint32_t num; /* 1..TW_POLICY_MAX_PROFILES, index into tw1_acl */
	const char *name;
	uint64_t confirm_timeout_s; /* 0: the node's configured default */
	const char *const *ifaces; /* names or fnmatch(3) globs; none: the config decides */
	uint32_t nifaces;
	/* Compiled rules of all three lists (tw_rule.list), in bundle order,
	 * ready for tw_dp_profile_set(). */
	const struct tw_rule *rules;
	uint32_t nrules;
};

struct tw_subject {
	struct tw_pnode node; /* node.kind, node.id: the subject's key */
	enum tw_subject_state state;
	const char *user; /* "" when the bundle gives none */
	uint32_t tenant; /* tenant num, 0: none */
	uint32_t nprofiles;
	uint32_t profiles[TW_POLICY_MAX_SUBJ_PROFILES]; /* profile nums, bundle order */
};

struct tw_policy;

/*
 * Parse a full snapshot. NULL with errno set (EINVAL, E2BIG, ENOMEM) and
 * @err holding the JSON path and offending token, e.g.
 * "subjects[3].state: unknown state 'enabeld'".
 */
struct tw_policy *tw_policy_parse(const char *buf, size_t len, char *err, size_t errlen);

/*
 * Parse a snapshot that replaces @prev: its version must be newer (else
 * NULL, errno ESTALE), and profiles and tenants keep the numbers they had
 * in @prev. @prev is not modified.
 */
struct tw_policy *tw_policy_parse_next(const struct tw_policy *prev, const char *buf, size_t len,
				       char *err, size_t errlen);

/*
 * Apply a delta bundle to @p, all or nothing: 0, or -errno with @p
 * untouched. -ESTALE when the delta's base is not @p's version or its
 * version is not newer than the base; -EINVAL for bad content.
 */
int tw_policy_apply_delta(struct tw_policy *p, const char *buf, size_t len, char *err,
			  size_t errlen);

void tw_policy_free(struct tw_policy *p);

uint64_t tw_policy_version(const struct tw_policy *p);
/* generated_at as Unix time, 0 when the bundle had none. */
time_t tw_policy_generated_at(const struct tw_policy *p);
size_t tw_policy_nsubjects(const struct tw_policy *p);
size_t tw_policy_nprofiles(const struct tw_policy *p);
size_t tw_policy_ntenants(const struct tw_policy *p);

const struct tw_subject *tw_policy_subject(const struct tw_policy *p, enum tw_subject_kind kind,
					   const char *id);
const struct tw_profile *tw_policy_profile(const struct tw_policy *p, const char *id);
const struct tw_profile *tw_policy_profile_by_num(const struct tw_policy *p, uint32_t num);
const struct tw_tenant *tw_policy_tenant(const struct tw_policy *p, const char *id);
const struct tw_tenant *tw_policy_tenant_by_num(const struct tw_policy *p, uint32_t num);

/* Walk all subjects: start with *iter = 0; NULL at the end. */
const struct tw_subject *tw_policy_subject_next(const struct tw_policy *p, size_t *iter);

/* Does @prof name @ifname among its interfaces (exact or glob)? */
bool tw_profile_bound_to(const struct tw_profile *prof, const char *ifname);
/* May @s use profile @num? */
bool tw_subject_has_profile(const struct tw_subject *s, uint32_t num);

const char *tw_subject_kind_name(enum tw_subject_kind k);
const char *tw_subject_state_name(enum tw_subject_state s);
int tw_subject_kind_parse(const char *s, enum tw_subject_kind *k);

#endif /* TW_POLICY_H */
