// SPDX-License-Identifier: GPL-2.0-only
/*
 * Records <-> NDJSON. The field names and rules here are the protocol
 * (docs/records.md). The parser is a pure function over a buffer so the
 * portal, `tunwarden log` and the fuzzer share it unchanged.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <jansson.h>
#include "record.h"

static const char *const kind_names[] = {
	[TW_REC_CONNECT] = "connect", [TW_REC_DISCONNECT] = "disconnect",
	[TW_REC_INTERIM] = "interim", [TW_REC_DECISION] = "decision",
	[TW_REC_BAN] = "ban",	      [TW_REC_HEALTH] = "health",
	[TW_REC_GAP] = "gap",
};
#define NKINDS (sizeof(kind_names) / sizeof(kind_names[0]))

static const char *const term_names[TW_TERM__MAX] = {
	[TW_TERM_USER_REQUEST] = "User-Request",
	[TW_TERM_LOST_CARRIER] = "Lost-Carrier",
	[TW_TERM_LOST_SERVICE] = "Lost-Service",
	[TW_TERM_IDLE_TIMEOUT] = "Idle-Timeout",
	[TW_TERM_SESSION_TIMEOUT] = "Session-Timeout",
	[TW_TERM_ADMIN_RESET] = "Admin-Reset",
	[TW_TERM_ADMIN_REBOOT] = "Admin-Reboot",
	[TW_TERM_PORT_ERROR] = "Port-Error",
	[TW_TERM_NAS_ERROR] = "NAS-Error",
	[TW_TERM_NAS_REQUEST] = "NAS-Request",
	[TW_TERM_NAS_REBOOT] = "NAS-Reboot",
	[TW_TERM_PORT_UNNEEDED] = "Port-Unneeded",
	[TW_TERM_PORT_PREEMPTED] = "Port-Preempted",
	[TW_TERM_PORT_SUSPENDED] = "Port-Suspended",
	[TW_TERM_SERVICE_UNAVAILABLE] = "Service-Unavailable",
	[TW_TERM_CALLBACK] = "Callback",
	[TW_TERM_USER_ERROR] = "User-Error",
	[TW_TERM_HOST_REQUEST] = "Host-Request",
	[TW_TERM_VPN_GONE] = "VPN-Gone",
};

static const char *const drop_names[TW_DROP__MAX] = {
	[TW_DROP_UNKNOWN_CLIENT] = "unknown_client",
	[TW_DROP_NOT_ALLOWED] = "not_allowed",
	[TW_DROP_BANNED] = "banned",
	[TW_DROP_SANDBOXED] = "sandboxed",
	[TW_DROP_TENANT] = "tenant",
	[TW_DROP_MALFORMED] = "malformed",
	[TW_DROP_FRAGMENT] = "fragment",
	[TW_DROP_NO_PROFILE] = "no_profile",
};

static const char *const health_int_names[TW_HI__MAX] = {
	[TW_HI_UPTIME_S] = "uptime_s",
	[TW_HI_LOAD1_MILLI] = "load1_milli",
	[TW_HI_CPUS] = "cpus",
	[TW_HI_SESSIONS] = "sessions",
	[TW_HI_BACKLOG_RECORDS] = "backlog_records",
	[TW_HI_POLICY_AGE_S] = "policy_age_s",
};
static const char *const health_events[] = { "link", "periodic", "alert", NULL };
static const char *const health_sources[] = { "portal", "cache", "file", "none", NULL };

/* JSON integers are signed 64-bit in jansson, PHP and Go's default decoding. */
#define REC_INT_MAX ((uint64_t)INT64_MAX)

const char *tw_record_kind_name(uint32_t kind)
{
	return kind < NKINDS ? kind_names[kind] : NULL;
}

int tw_record_kind_parse(const char *s)
{
	size_t i;

	for (i = 0; i < NKINDS; i++)
		if (kind_names[i] && !strcmp(kind_names[i], s))
			return (int)i;
	return -EINVAL;
}

const char *tw_term_cause_name(uint32_t cause)
{
	return cause < TW_TERM__MAX ? term_names[cause] : NULL;
}

int tw_term_cause_parse(const char *s)
{
	int i;

	for (i = 0; i < TW_TERM__MAX; i++)
		if (term_names[i] && !strcmp(term_names[i], s))
			return i;
	return -EINVAL;
}

const char *tw_health_int_name(enum tw_health_int i)
{
	return (unsigned int)i < TW_HI__MAX ? health_int_names[i] : NULL;
}

static bool in_list(const char *const *list, const char *s)
{
	for (; *list; list++)
		if (!strcmp(*list, s))
			return true;
	return false;
}

const char *tw_drop_reason_name(uint32_t reason)
{
	return reason < TW_DROP__MAX ? drop_names[reason] : NULL;
}

static int seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static bool str_ok(const char *s, size_t size)
{
	return strnlen(s, size) < size;
}

static bool needs_session(uint32_t kind)
{
	return kind == TW_REC_CONNECT || kind == TW_REC_DISCONNECT || kind == TW_REC_INTERIM;
}

static bool needs_subject(uint32_t kind)
{
	return needs_session(kind) || kind == TW_REC_DECISION;
}

static bool needs_counters(uint32_t kind)
{
	return kind == TW_REC_DISCONNECT || kind == TW_REC_INTERIM;
}

int tw_record_validate(const struct tw_record *r, char *err, size_t errlen)
{
	static const struct {
		const char *name;
		size_t off, size;
	} strs[] = {
		{ "node", offsetof(struct tw_record, node), TW_REC_NODE_MAX },
		{ "session", offsetof(struct tw_record, session), TW_REC_SESSION_MAX },
		{ "subject", offsetof(struct tw_record, subject), TW_REC_SUBJECT_MAX },
		{ "tenant", offsetof(struct tw_record, tenant), TW_REC_NAME_MAX },
		{ "profile", offsetof(struct tw_record, profile), TW_REC_NAME_MAX },
		{ "detail", offsetof(struct tw_record, detail), TW_REC_DETAIL_MAX },
	};
	const char *kname = tw_record_kind_name(r->kind);
	uint64_t sum, prev;
	size_t i;

	for (i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		if (!str_ok((const char *)r + strs[i].off, strs[i].size))
			return seterr(err, errlen, "\"%s\": longer than %zu bytes", strs[i].name,
				      strs[i].size - 1);
	if (!kname)
		return seterr(err, errlen, "\"kind\": unknown kind %u", r->kind);
	if (!r->node[0])
		return seterr(err, errlen, "\"node\": missing");
	if (strlen(r->log_id) != TW_REC_LOG_ID_LEN ||
	    strspn(r->log_id, "0123456789abcdef") != TW_REC_LOG_ID_LEN)
		return seterr(err, errlen,
			      "\"log_id\": expected %d lowercase hex digits, got \"%.*s\"",
			      TW_REC_LOG_ID_LEN, TW_REC_LOG_ID_LEN + 1, r->log_id);
	if (r->seq == 0 || r->seq > REC_INT_MAX)
		return seterr(err, errlen, "\"seq\": out of range 1..2^63-1: %llu",
			      (unsigned long long)r->seq);
	if (r->time_ns == 0 || r->time_ns > REC_INT_MAX)
		return seterr(err, errlen, "\"time_ns\": out of range 1..2^63-1: %llu",
			      (unsigned long long)r->time_ns);
	if (needs_session(r->kind) && !r->session[0])
		return seterr(err, errlen, "\"session\": missing (required for %s)", kname);
	if (needs_subject(r->kind) && !r->subject[0])
		return seterr(err, errlen, "\"subject\": missing (required for %s)", kname);
	if (r->kind == TW_REC_BAN && !r->subject[0] && !r->real_family)
		return seterr(err, errlen, "\"subject\": ban needs a subject or a real_addr");
	if (r->real_family != 0 && r->real_family != TW_FAM_V4 && r->real_family != TW_FAM_V6)
		return seterr(err, errlen, "\"real_addr\": bad family %u", r->real_family);
	if (!r->real_family && r->real_port)
		return seterr(err, errlen, "\"real_port\": given without real_addr");
	if (r->policy_version > REC_INT_MAX)
		return seterr(err, errlen, "\"policy_version\": out of range");
	if (needs_counters(r->kind) && !r->has_counters)
		return seterr(err, errlen, "\"from_bytes\": counters missing (required for %s)",
			      kname);
	if (r->has_counters) {
		const struct tw_rec_counters *c = &r->ctr;
		uint64_t max = c->from_bytes | c->from_pkts | c->to_bytes | c->to_pkts |
			       c->drop_pkts | c->drop_bytes;

		for (i = 0; i < TW_DROP__MAX; i++)
			max |= c->drops[i];
		/* An OR of values has bit 63 set iff one of them does. */
		if (max > REC_INT_MAX)
			return seterr(err, errlen, "\"counters\": value out of range");
		if (r->ctr.drops[TW_DROP_NONE])
			return seterr(err, errlen, "\"drops\": reason 0 is not a drop reason");
	}
	if (r->kind == TW_REC_DISCONNECT) {
		if (!tw_term_cause_name(r->term_cause))
			return seterr(err, errlen, "\"terminate_cause\": missing or unknown (%u)",
				      r->term_cause);
	} else if (r->term_cause) {
		return seterr(err, errlen, "\"terminate_cause\": only valid on disconnect, not %s",
			      kname);
	}
	if (r->kind == TW_REC_HEALTH) {
		const struct tw_rec_health *h = &r->health;

		if (!str_ok(h->event, sizeof(h->event)) ||
		    !str_ok(h->software_version, sizeof(h->software_version)) ||
		    !str_ok(h->policy_source, sizeof(h->policy_source)))
			return seterr(err, errlen, "health field too long");
		if (h->event[0] && !in_list(health_events, h->event))
			return seterr(err, errlen, "\"event\": expected link, periodic or alert");
		if (h->policy_source[0] && !in_list(health_sources, h->policy_source))
			return seterr(err, errlen,
				      "\"policy_source\": expected portal, cache, file or none");
		if (h->has >> TW_HI__MAX)
			return seterr(err, errlen, "health: unknown field bits");
		for (i = 0; i < TW_HI__MAX; i++)
			if ((h->has & (1u << i)) && h->v[i] > REC_INT_MAX)
				return seterr(err, errlen, "\"%s\": out of range",
					      health_int_names[i]);
	} else if (r->health.event[0] || r->health.software_version[0] ||
		   r->health.policy_source[0] || r->health.has) {
		return seterr(err, errlen, "\"event\": health fields only on health, not %s",
			      kname);
	}
	if (r->kind != TW_REC_GAP) {
		if (r->ngaps || r->gap_count)
			return seterr(err, errlen, "\"dropped\": only valid on gap, not %s", kname);
		return 0;
	}
	if (r->ngaps == 0 || r->ngaps > TW_REC_GAP_RANGES)
		return seterr(err, errlen, "\"dropped\": expected 1..%d ranges, got %u",
			      TW_REC_GAP_RANGES, r->ngaps);
	sum = 0;
	prev = 0;
	for (i = 0; i < r->ngaps; i++) {
		const struct tw_seq_range *g = &r->gaps[i];

		/* Ascending, disjoint and before the gap itself: a gap only reports the past. */
		if (g->first == 0 || g->first > g->last || g->last >= r->seq ||
		    (i && g->first <= prev))
			return seterr(err, errlen,
				      "\"dropped\": range %zu [%llu,%llu] not ascending, disjoint "
				      "and below seq %llu",
				      i, (unsigned long long)g->first, (unsigned long long)g->last,
				      (unsigned long long)r->seq);
		sum += g->last - g->first + 1;
		prev = g->last;
	}
	if (sum != r->gap_count)
		return seterr(err, errlen, "\"dropped_count\": %llu but the ranges hold %llu",
			      (unsigned long long)r->gap_count, (unsigned long long)sum);
	return 0;
}

/* ---- serialiser ---- */

static int put(json_t *o, const char *key, json_t *v)
{
	/* json_object_set_new() consumes v even on failure; NULL v (bad UTF-8) fails it. */
	return v && json_object_set_new(o, key, v) == 0 ? 0 : -1;
}

static int put_u64(json_t *o, const char *key, uint64_t v)
{
	return put(o, key, json_integer((json_int_t)v));
}

static int put_str(json_t *o, const char *key, const char *s, char *err, size_t errlen)
{
	if (!s[0])
		return 0;
	if (put(o, key, json_string(s)))
		return seterr(err, errlen, "\"%s\": not valid UTF-8", key);
	return 0;
}

static int put_addr(json_t *o, const char *key, int af, const void *a)
{
	char buf[INET6_ADDRSTRLEN];

	if (!inet_ntop(af, a, buf, sizeof(buf)))
		return -1;
	return put(o, key, json_string(buf));
}

static int put_counters(json_t *o, const struct tw_rec_counters *c)
{
	json_t *drops;
	int i;

	if (put_u64(o, "from_bytes", c->from_bytes) || put_u64(o, "from_packets", c->from_pkts) ||
	    put_u64(o, "to_bytes", c->to_bytes) || put_u64(o, "to_packets", c->to_pkts) ||
	    put_u64(o, "drop_packets", c->drop_pkts) || put_u64(o, "drop_bytes", c->drop_bytes))
		return -1;
	drops = json_object();
	if (!drops)
		return -1;
	for (i = 1; i < TW_DROP__MAX; i++)
		if (c->drops[i] && put_u64(drops, drop_names[i], c->drops[i])) {
			json_decref(drops);
			return -1;
		}
	if (!json_object_size(drops)) {
		json_decref(drops);
		return 0;
	}
	return put(o, "drops", drops);
}

static int put_health(json_t *o, const struct tw_rec_health *h, char *err, size_t errlen)
{
	if (put_str(o, "event", h->event, err, errlen) ||
	    put_str(o, "software_version", h->software_version, err, errlen))
		return -1;
	for (int i = 0; i < TW_HI__MAX; i++)
		if ((h->has & (1u << i)) && put_u64(o, health_int_names[i], h->v[i]))
			return -1;
	return put_str(o, "policy_source", h->policy_source, err, errlen);
}

static int put_gaps(json_t *o, const struct tw_record *r)
{
	json_t *arr = json_array(), *pair;
	uint32_t i;

	if (!arr)
		return -1;
	for (i = 0; i < r->ngaps; i++) {
		pair = json_pack("[II]", (json_int_t)r->gaps[i].first, (json_int_t)r->gaps[i].last);
		if (!pair || json_array_append_new(arr, pair)) {
			json_decref(arr);
			return -1;
		}
	}
	if (put(o, "dropped", arr))
		return -1;
	return put_u64(o, "dropped_count", r->gap_count);
}

char *tw_record_to_json(const struct tw_record *r, size_t *len, char *err, size_t errlen)
{
	json_t *o;
	char *out = NULL;
	int e = ENOMEM;

	if (tw_record_validate(r, err, errlen)) {
		errno = EINVAL;
		return NULL;
	}
	o = json_object();
	if (!o)
		goto out;
	/* Insertion order is the documented order: easier to read in `tunwarden log`. */
	if (put_u64(o, "v", TW_REC_VERSION) || put(o, "kind", json_string(kind_names[r->kind])) ||
	    put_u64(o, "seq", r->seq) || put_u64(o, "time_ns", r->time_ns))
		goto out;
	e = EINVAL;
	if (put_str(o, "node", r->node, err, errlen) ||
	    put_str(o, "log_id", r->log_id, err, errlen) ||
	    put_str(o, "session", r->session, err, errlen) ||
	    put_str(o, "subject", r->subject, err, errlen) ||
	    put_str(o, "tenant", r->tenant, err, errlen) ||
	    put_str(o, "profile", r->profile, err, errlen))
		goto out;
	e = ENOMEM;
	if (r->has_tun4 && put_addr(o, "tunnel_ipv4", AF_INET, r->tun4))
		goto out;
	if (r->has_tun6 && put_addr(o, "tunnel_ipv6", AF_INET6, r->tun6))
		goto out;
	if (r->real_family &&
	    put_addr(o, "real_addr", r->real_family == TW_FAM_V4 ? AF_INET : AF_INET6,
		     r->real_addr))
		goto out;
	if (r->real_port && put_u64(o, "real_port", r->real_port))
		goto out;
	if (r->policy_version && put_u64(o, "policy_version", r->policy_version))
		goto out;
	if (r->has_counters && put_counters(o, &r->ctr))
		goto out;
	if (r->term_cause && put(o, "terminate_cause", json_string(term_names[r->term_cause])))
		goto out;
	if (r->kind == TW_REC_GAP && put_gaps(o, r))
		goto out;
	e = EINVAL;
	if (r->kind == TW_REC_HEALTH && put_health(o, &r->health, err, errlen))
		goto out;
	if (put_str(o, "detail", r->detail, err, errlen))
		goto out;
	e = ENOMEM;
	out = json_dumps(o, JSON_COMPACT);
	if (out && len)
		*len = strlen(out);
out:
	json_decref(o);
	if (!out)
		errno = e;
	return out;
}

/* ---- parser ---- */

struct pctx {
	json_t *o;
	char *err;
	size_t errlen;
};

/* Quote the offending value, shortened: errors must point at the token, not flood logs. */
static int bad(struct pctx *p, const char *key, const char *what, const json_t *v)
{
	char *s = v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
	int n = s ? (int)strlen(s) : 0;

	if (s)
		seterr(p->err, p->errlen, "\"%s\": %s, got %.*s%s", key, what, n > 48 ? 48 : n, s,
		       n > 48 ? "..." : "");
	else
		seterr(p->err, p->errlen, "\"%s\": %s", key, what);
	free(s);
	return -EINVAL;
}

static int get_str(struct pctx *p, const char *key, char *dst, size_t size, bool required)
{
	json_t *v = json_object_get(p->o, key);
	size_t n;

	if (!v)
		return required ? bad(p, key, "missing", NULL) : 0;
	if (!json_is_string(v))
		return bad(p, key, "expected a string", v);
	n = json_string_length(v);
	if (n >= size) {
		char what[48];

		snprintf(what, sizeof(what), "longer than %zu bytes", size - 1);
		return bad(p, key, what, v);
	}
	if (required && n == 0)
		return bad(p, key, "must not be empty", v);
	memcpy(dst, json_string_value(v), n);
	dst[n] = '\0';
	return 0;
}

static int int_of(struct pctx *p, const char *key, json_t *v, uint64_t min, uint64_t max,
		  uint64_t *out)
{
	json_int_t x;

	if (!json_is_integer(v))
		return bad(p, key, "expected an integer", v);
	x = json_integer_value(v);
	if (x < 0 || (uint64_t)x < min || (uint64_t)x > max) {
		char what[64];

		snprintf(what, sizeof(what), "out of range %llu..%llu", (unsigned long long)min,
			 (unsigned long long)max);
		return bad(p, key, what, v);
	}
	*out = (uint64_t)x;
	return 0;
}

static int get_u64(struct pctx *p, const char *key, uint64_t min, uint64_t max, bool required,
		   uint64_t *out, bool *present)
{
	json_t *v = json_object_get(p->o, key);

	if (present)
		*present = v != NULL;
	if (!v)
		return required ? bad(p, key, "missing", NULL) : 0;
	return int_of(p, key, v, min, max, out);
}

static int get_addr(struct pctx *p, const char *key, int want_af, uint8_t *fam, void *dst,
		    bool *present)
{
	json_t *v = json_object_get(p->o, key);
	const char *s;

	*present = v != NULL;
	if (!v)
		return 0;
	if (!json_is_string(v))
		return bad(p, key, "expected an address string", v);
	s = json_string_value(v);
	if ((want_af == AF_INET || want_af == 0) && inet_pton(AF_INET, s, dst) == 1) {
		if (fam)
			*fam = TW_FAM_V4;
		return 0;
	}
	if ((want_af == AF_INET6 || want_af == 0) && inet_pton(AF_INET6, s, dst) == 1) {
		if (fam)
			*fam = TW_FAM_V6;
		return 0;
	}
	return bad(p, key,
		   want_af == AF_INET  ? "expected an IPv4 address" :
		   want_af == AF_INET6 ? "expected an IPv6 address" :
					 "expected an IPv4 or IPv6 address",
		   v);
}

static int get_counters(struct pctx *p, struct tw_record *r)
{
	static const struct {
		const char *key;
		size_t off;
	} req[] = {
		{ "from_bytes", offsetof(struct tw_rec_counters, from_bytes) },
		{ "from_packets", offsetof(struct tw_rec_counters, from_pkts) },
		{ "to_bytes", offsetof(struct tw_rec_counters, to_bytes) },
		{ "to_packets", offsetof(struct tw_rec_counters, to_pkts) },
	};
	const char *first_present = NULL, *first_missing = NULL;
	json_t *drops, *v;
	const char *key;
	bool present;
	size_t i;
	int err, reason;

	for (i = 0; i < sizeof(req) / sizeof(req[0]); i++) {
		err = get_u64(p, req[i].key, 0, REC_INT_MAX, false,
			      (uint64_t *)((char *)&r->ctr + req[i].off), &present);
		if (err)
			return err;
		if (present && !first_present)
			first_present = req[i].key;
		if (!present && !first_missing)
			first_missing = req[i].key;
	}
	/* All four or none: a half set of cumulative counters would read as zero traffic. */
	if (first_present && first_missing)
		return bad(p, first_missing, "missing (counters come as a set with from_bytes)",
			   NULL);
	r->has_counters = first_present != NULL;
	if (needs_counters(r->kind) && !r->has_counters)
		return bad(p, "from_bytes", "missing (counters are required for this kind)", NULL);
	if (get_u64(p, "drop_packets", 0, REC_INT_MAX, false, &r->ctr.drop_pkts, &present))
		return -EINVAL;
	r->has_counters |= present;
	if (get_u64(p, "drop_bytes", 0, REC_INT_MAX, false, &r->ctr.drop_bytes, &present))
		return -EINVAL;
	r->has_counters |= present;
	drops = json_object_get(p->o, "drops");
	if (!drops)
		return 0;
	if (!json_is_object(drops))
		return bad(p, "drops", "expected an object of reason: packets", drops);
	if (!r->has_counters)
		return bad(p, "drops", "given without from_bytes and the other counters", drops);
	json_object_foreach(drops, key, v) {
		for (reason = 1; reason < TW_DROP__MAX; reason++)
			if (!strcmp(key, drop_names[reason]))
				break;
		if (reason == TW_DROP__MAX)
			return seterr(p->err, p->errlen, "\"drops\": unknown drop reason \"%.48s\"",
				      key);
		if (int_of(p, "drops", v, 0, REC_INT_MAX, &r->ctr.drops[reason]))
			return -EINVAL;
	}
	return 0;
}

static int get_gaps(struct pctx *p, struct tw_record *r)
{
	json_t *arr = json_object_get(p->o, "dropped"), *pair;
	bool present;
	size_t i;

	if (!arr) {
		if (r->kind == TW_REC_GAP)
			return bad(p, "dropped", "missing (required for gap)", NULL);
		return 0;
	}
	if (r->kind != TW_REC_GAP)
		return bad(p, "dropped", "only valid on gap records", arr);
	if (!json_is_array(arr) || json_array_size(arr) == 0 ||
	    json_array_size(arr) > TW_REC_GAP_RANGES)
		return bad(p, "dropped", "expected an array of 1..32 [first,last] pairs", arr);
	json_array_foreach(arr, i, pair) {
		if (!json_is_array(pair) || json_array_size(pair) != 2)
			return bad(p, "dropped", "expected a [first,last] pair", pair);
		if (int_of(p, "dropped", json_array_get(pair, 0), 1, REC_INT_MAX,
			   &r->gaps[i].first) ||
		    int_of(p, "dropped", json_array_get(pair, 1), 1, REC_INT_MAX, &r->gaps[i].last))
			return -EINVAL;
	}
	r->ngaps = (uint32_t)json_array_size(arr);
	return get_u64(p, "dropped_count", 1, REC_INT_MAX, true, &r->gap_count, &present);
}

/* Health fields are read on health records only; elsewhere they are unknown, so ignored. */
static int get_health(struct pctx *p, struct tw_record *r)
{
	struct tw_rec_health *h = &r->health;
	bool present;

	if (r->kind != TW_REC_HEALTH)
		return 0;
	if (get_str(p, "event", h->event, sizeof(h->event), false) ||
	    get_str(p, "software_version", h->software_version, sizeof(h->software_version),
		    false) ||
	    get_str(p, "policy_source", h->policy_source, sizeof(h->policy_source), false))
		return -EINVAL;
	if (h->event[0] && !in_list(health_events, h->event))
		return bad(p, "event", "expected link, periodic or alert",
			   json_object_get(p->o, "event"));
	if (h->policy_source[0] && !in_list(health_sources, h->policy_source))
		return bad(p, "policy_source", "expected portal, cache, file or none",
			   json_object_get(p->o, "policy_source"));
	for (int i = 0; i < TW_HI__MAX; i++) {
		if (get_u64(p, health_int_names[i], 0, REC_INT_MAX, false, &h->v[i], &present))
			return -EINVAL;
		if (present)
			h->has |= 1u << i;
	}
	return 0;
}

static int parse_obj(struct pctx *p, struct tw_record *r)
{
	char kind[16] = "", cause[32] = "";
	uint64_t v = 0, port = 0;
	bool present;
	int k;

	if (get_u64(p, "v", 1, REC_INT_MAX, true, &v, NULL))
		return -EINVAL;
	if (v != TW_REC_VERSION)
		return bad(p, "v", "unsupported record format version", json_object_get(p->o, "v"));
	if (get_str(p, "kind", kind, sizeof(kind), true)) {
		/* A long kind string is still an unknown kind, not a length problem. */
		if (json_is_string(json_object_get(p->o, "kind")))
			return bad(p, "kind", "unknown kind", json_object_get(p->o, "kind"));
		return -EINVAL;
	}
	k = tw_record_kind_parse(kind);
	if (k < 0)
		return bad(p, "kind", "unknown kind", json_object_get(p->o, "kind"));
	r->kind = (uint32_t)k;
	if (get_u64(p, "seq", 1, REC_INT_MAX, true, &r->seq, NULL) ||
	    get_u64(p, "time_ns", 1, REC_INT_MAX, true, &r->time_ns, NULL) ||
	    get_str(p, "node", r->node, sizeof(r->node), true) ||
	    get_str(p, "log_id", r->log_id, sizeof(r->log_id), true) ||
	    get_str(p, "session", r->session, sizeof(r->session), false) ||
	    get_str(p, "subject", r->subject, sizeof(r->subject), false) ||
	    get_str(p, "tenant", r->tenant, sizeof(r->tenant), false) ||
	    get_str(p, "profile", r->profile, sizeof(r->profile), false) ||
	    get_str(p, "detail", r->detail, sizeof(r->detail), false))
		return -EINVAL;
	if (get_addr(p, "tunnel_ipv4", AF_INET, NULL, r->tun4, &r->has_tun4) ||
	    get_addr(p, "tunnel_ipv6", AF_INET6, NULL, r->tun6, &r->has_tun6) ||
	    get_addr(p, "real_addr", 0, &r->real_family, r->real_addr, &present))
		return -EINVAL;
	if (get_u64(p, "real_port", 1, 65535, false, &port, &present))
		return -EINVAL;
	r->real_port = present ? (uint16_t)port : 0;
	if (get_u64(p, "policy_version", 1, REC_INT_MAX, false, &r->policy_version, NULL))
		return -EINVAL;
	if (get_counters(p, r))
		return -EINVAL;
	if (get_str(p, "terminate_cause", cause, sizeof(cause), false)) {
		if (json_is_string(json_object_get(p->o, "terminate_cause")))
			return bad(p, "terminate_cause", "unknown RADIUS Acct-Terminate-Cause",
				   json_object_get(p->o, "terminate_cause"));
		return -EINVAL;
	}
	if (cause[0]) {
		k = tw_term_cause_parse(cause);
		if (k < 0)
			return bad(p, "terminate_cause", "unknown RADIUS Acct-Terminate-Cause",
				   json_object_get(p->o, "terminate_cause"));
		r->term_cause = (uint32_t)k;
	}
	if (get_gaps(p, r) || get_health(p, r))
		return -EINVAL;
	/* Cross-field rules (required per kind, gap ordering) are the serialiser's too. */
	return tw_record_validate(r, p->err, p->errlen);
}

int tw_record_from_json(const char *buf, size_t len, struct tw_record *rec, char *err,
			size_t errlen)
{
	struct pctx p = { .err = err, .errlen = errlen };
	json_error_t jerr;
	int ret;

	memset(rec, 0, sizeof(*rec));
	if (err && errlen)
		err[0] = '\0';
	/* Duplicate keys would let two readers see two different records. */
	p.o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!p.o)
		return seterr(err, errlen, "invalid JSON at line %d column %d: %s", jerr.line,
			      jerr.column, jerr.text);
	if (!json_is_object(p.o))
		ret = bad(&p, "record", "expected a JSON object", p.o);
	else
		ret = parse_obj(&p, rec);
	json_decref(p.o);
	if (ret)
		memset(rec, 0, sizeof(*rec));
	return ret;
}
