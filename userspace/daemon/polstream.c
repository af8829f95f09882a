// SPDX-License-Identifier: GPL-2.0-only
/*
 * The policy stream's lines (docs/protocol.md 5.2 to 5.6): split the body
 * into NDJSON lines, check signatures, and act on snapshots, deltas and
 * heartbeats. A refused bundle leaves the policy in force untouched: a
 * snapshot is parsed into a new policy before it replaces the old one, a
 * delta is applied by tw_policy_apply_delta(), which is all or nothing.
 *
 * Bundle lines can be 64 MiB, so their type, version and base are read by
 * a scan of the object's top-level members, not a second JSON parse; the
 * policy parser checks the rest.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include <nghttp2/nghttp2.h>

#include "daemon.h"
#include "log.h"
#include "policy.h"
#include "polstream_int.h"
#include "tw_utf8.h"

enum line_type { LT_SNAPSHOT, LT_DELTA, LT_HEARTBEAT, LT_SIGNATURE, LT_OTHER };

static const struct {
	const char *name;
	enum line_type t;
} line_types[] = {
	{ "snapshot", LT_SNAPSHOT },
	{ "delta", LT_DELTA },
	{ "heartbeat", LT_HEARTBEAT },
	{ "signature", LT_SIGNATURE },
};

/* What the scan of a line's top level found. */
struct top {
	char type[32]; /* "" when absent */
	bool has_type, type_ok; /* type_ok: a short plain string */
	bool has_version, has_base, has_profiles;
	uint64_t version, base;
};

uint64_t tw_polstream_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static size_t skip_ws(const char *s, size_t n, size_t i)
{
	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
		i++;
	return i;
}

/* Past the string starting at s[i] == '"'; n + 1 if unterminated. */
static size_t skip_string(const char *s, size_t n, size_t i)
{
	for (i++; i < n; i++) {
		if (s[i] == '\\')
			i++;
		else if (s[i] == '"')
			return i + 1;
	}
	return n + 1;
}

/* Past one value at s[i]: strings, nested objects and arrays skipped whole. */
static size_t skip_value(const char *s, size_t n, size_t i)
{
	size_t depth = 0;

	if (i < n && s[i] == '"')
		return skip_string(s, n, i);
	while (i < n) {
		char ch = s[i];

		if (ch == '"') {
			i = skip_string(s, n, i);
			continue;
		}
		if (ch == '{' || ch == '[')
			depth++;
		else if (ch == '}' || ch == ']') {
			if (!depth)
				return i;
			if (!--depth)
				return i + 1;
		} else if (ch == ',' && !depth)
			return i;
		i++;
	}
	return depth ? n + 1 : i;
}

static bool read_u64(const char *s, size_t n, size_t i, uint64_t *v)
{
	uint64_t x = 0;
	size_t j = i;

	while (j < n && s[j] >= '0' && s[j] <= '9') {
		if (x > (UINT64_MAX - 9) / 10)
			return false;
		x = x * 10 + (uint64_t)(s[j++] - '0');
	}
	if (j == i)
		return false;
	*v = x;
	return true;
}

/* The top-level "type", "version" and "base" of an object line. -EINVAL: not an object. */
static int scan_top(const char *s, size_t n, struct top *t)
{
	size_t i = skip_ws(s, n, 0), k, klen, v;

	memset(t, 0, sizeof(*t));
	if (i >= n || s[i] != '{')
		return -EINVAL;
	i = skip_ws(s, n, i + 1);
	if (i < n && s[i] == '}')
		return 0;
	while (i < n) {
		if (s[i] != '"')
			return -EINVAL;
		k = i + 1;
		i = skip_string(s, n, i);
		if (i > n)
			return -EINVAL;
		klen = i - 1 - k;
		i = skip_ws(s, n, i);
		if (i >= n || s[i] != ':')
			return -EINVAL;
		v = i = skip_ws(s, n, i + 1);
		i = skip_value(s, n, i);
		if (i > n)
			return -EINVAL;
		if (klen == 4 && !memcmp(s + k, "type", 4)) {
			t->has_type = true;
			if (s[v] == '"' && i - v - 2 < sizeof(t->type) &&
			    !memchr(s + v + 1, '\\', i - v - 2)) {
				memcpy(t->type, s + v + 1, i - v - 2);
				t->type[i - v - 2] = '\0';
				t->type_ok = true;
			}
		} else if (klen == 7 && !memcmp(s + k, "version", 7)) {
			t->has_version = read_u64(s, n, v, &t->version);
		} else if (klen == 4 && !memcmp(s + k, "base", 4)) {
			t->has_base = read_u64(s, n, v, &t->base);
		} else if (klen == 8 && !memcmp(s + k, "profiles", 8)) {
			t->has_profiles = true;
		}
		i = skip_ws(s, n, i);
		if (i < n && s[i] == '}')
			return 0;
		if (i >= n || s[i] != ',')
			return -EINVAL;
		i = skip_ws(s, n, i + 1);
	}
	return -EINVAL;
}

static uint64_t cur_version(const struct tw_polstream *ps)
{
	return ps->d->pol ? tw_policy_version(ps->d->pol) : 0;
}

/* The stream cannot go on: reset it with @code; portal.c retries on @retry. */
static uint32_t fail(struct tw_polstream *ps, uint32_t code, enum tw_link_retry retry,
		     const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static uint32_t fail(struct tw_polstream *ps, uint32_t code, enum tw_link_retry retry,
		     const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ps->why, sizeof(ps->why), fmt, ap);
	va_end(ap);
	ps->failed = code;
	ps->retry = retry;
	return code;
}

/* protocol.md 5.6: one error line, the last good policy kept, the stream reset. */
static uint32_t refuse(struct tw_polstream *ps, const struct top *t, enum tw_link_retry retry,
		       const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static uint32_t refuse(struct tw_polstream *ps, const struct top *t, enum tw_link_retry retry,
		       const char *fmt, ...)
{
	char reason[384], ver[24];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (t && t->has_version)
		snprintf(ver, sizeof(ver), "%llu", (unsigned long long)t->version);
	else
		snprintf(ver, sizeof(ver), "?");
	snprintf(ps->last_error, sizeof(ps->last_error),
		 "portal policy version %s: %s; keeping version %llu", ver, reason,
		 (unsigned long long)cur_version(ps));
	tw_err("%s", ps->last_error);
	snprintf(ps->d->pol_refused, sizeof(ps->d->pol_refused), "%s", ps->last_error);
	return fail(ps, NGHTTP2_PROTOCOL_ERROR, retry, "%s", ps->last_error);
}

static void accepted(struct tw_polstream *ps)
{
	struct tw_daemon *d = ps->d;

	d->pol_loaded = time(NULL); /* confirmed now: staleness (protocol.md 8) */
	d->pol_source = TW_POLSRC_PORTAL;
	ps->base_mismatches = 0;
	ps->want_snapshot = false;
	ps->last_error[0] = '\0';
	d->pol_refused[0] = '\0';
	if (!ps->accepted_any && ps->sink->progress)
		ps->sink->progress(d);
	ps->accepted_any = true;
}

/* The key file names, for the log line of a bad signature. */
static void key_names(const struct tw_polstream *ps, char *out, size_t len)
{
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < ps->nkeys && used < len; i++)
		used += (size_t)snprintf(out + used, len - used, "%s%s", i ? ", " : "",
					 ps->d->cfg.portal.policy_pubkey[i]);
}

/* protocol.md 5.5: with keys, every bundle comes right after its good signature. */
static uint32_t check_signature(struct tw_polstream *ps, const struct top *t, const char *line,
				size_t len)
{
	char names[256];
	int err;

	if (!ps->nkeys)
		return 0;
	if (!ps->sig_pending)
		return refuse(ps, t, TW_RETRY_SLOW, "unsigned (policy_pubkey is set)");
	ps->sig_pending = false;
	if (strcmp(ps->sig_alg, "ed25519"))
		return refuse(ps, t, TW_RETRY_SLOW, "signature alg '%s' is not ed25519",
			      ps->sig_alg);
	err = tw_sig_verify_any(ps->keys, ps->nkeys, ps->d->node, line, len, ps->sig);
	if (err == -EINVAL)
		return refuse(ps, t, TW_RETRY_SLOW,
			      "malformed signature (not 88 characters of base64)");
	if (err) {
		key_names(ps, names, sizeof(names));
		return refuse(ps, t, TW_RETRY_SLOW, "bad signature (policy_pubkey %s)", names);
	}
	return 0;
}

static uint32_t on_snapshot(struct tw_polstream *ps, const struct top *t, const char *line,
			    size_t len)
{
	struct tw_daemon *d = ps->d;
	uint64_t cur = cur_version(ps);
	struct tw_policy *np;
	char err[512] = "";

	if (d->pol && t->has_version && t->version == cur) {
		/* a confirmation: the portal sends one bundle per version, not read again,
		 * unless it was asked for to replace the cache's snapshot and deltas */
		if (ps->compact && ps->sink->recache) {
			np = tw_policy_parse(line, len, err, sizeof(err));
			if (np && tw_policy_version(np) == cur)
				ps->sink->recache(d, line, len);
			else
				tw_warn("portal policy version %llu: not cached: %s",
					(unsigned long long)cur, np ? "version differs" : err);
			tw_policy_free(np);
		}
		ps->compact = false;
		accepted(ps);
		return 0;
	}
	if (d->pol && t->has_version && t->version < cur)
		return refuse(ps, t, TW_RETRY_SLOW, "not newer than %llu", (unsigned long long)cur);
	np = d->pol ? tw_policy_parse_next(d->pol, line, len, err, sizeof(err)) :
		      tw_policy_parse(line, len, err, sizeof(err));
	if (!np)
		return refuse(ps, t, TW_RETRY_SLOW, "%s",
			      err[0]	      ? err :
			      errno == ESTALE ? "not newer" :
						strerror(errno));
	ps->sink->snapshot(d, np, line, len);
	ps->compact = false;
	accepted(ps);
	return 0;
}

static uint32_t on_delta(struct tw_polstream *ps, const struct top *t, const char *line, size_t len)
{
	struct tw_daemon *d = ps->d;
	uint64_t cur = cur_version(ps);
	char err[512] = "";
	int rc;

	if (!d->pol || !t->has_base || t->base != cur) {
		/* out of step: ask again from our version, then for a snapshot */
		if (++ps->base_mismatches >= 2)
			ps->want_snapshot = true;
		if (!t->has_base)
			return refuse(ps, t, TW_RETRY_SLOW, "delta without a base");
		return refuse(ps, t, TW_RETRY_NORMAL, "delta for base %llu, not %llu",
			      (unsigned long long)t->base, (unsigned long long)cur);
	}
	rc = tw_policy_apply_delta(d->pol, line, len, err, sizeof(err));
	if (rc == -ESTALE && !err[0])
		return refuse(ps, t, TW_RETRY_SLOW, "not newer than %llu", (unsigned long long)cur);
	if (rc)
		return refuse(ps, t, TW_RETRY_SLOW, "%s", err[0] ? err : strerror(-rc));
	ps->sink->delta(d, line, len, t->has_profiles);
	accepted(ps);
	if (d->pol_cache_deltas >= TW_PS_CACHE_DELTAS && ps->sink->recache) {
		/* the cache grows by a line a delta: a new stream from since=0 brings a
		 * snapshot of this version to rewrite it with */
		ps->compact = true;
		return fail(ps, NGHTTP2_CANCEL, TW_RETRY_NOW,
			    "policy cache holds %u deltas: asking the portal for a snapshot",
			    d->pol_cache_deltas);
	}
	return 0;
}

static uint32_t on_heartbeat(struct tw_polstream *ps, const char *line, size_t len)
{
	uint64_t cur = cur_version(ps);
	json_t *j = json_loadb(line, len, 0, NULL), *v = json_object_get(j, "version");
	json_int_t ver = json_is_integer(v) ? json_integer_value(v) : -1;

	json_decref(j);
	if (ver < 0)
		return fail(ps, NGHTTP2_PROTOCOL_ERROR, TW_RETRY_SLOW,
			    "portal policy stream: heartbeat without a version");
	if (!ps->d->pol && ver == 0) {
		/* a portal with no policy for us yet: nothing to confirm, the stream is fine */
		if (!ps->accepted_any && ps->sink->progress)
			ps->sink->progress(ps->d);
		ps->accepted_any = true;
		return 0;
	}
	if (!ps->d->pol || (uint64_t)ver != cur)
		return fail(ps, NGHTTP2_PROTOCOL_ERROR, TW_RETRY_NORMAL,
			    "portal policy stream out of step: heartbeat names version %lld, "
			    "ours is %llu",
			    (long long)ver, (unsigned long long)cur);
	accepted(ps);
	return 0;
}

static uint32_t on_signature(struct tw_polstream *ps, const char *line, size_t len)
{
	json_t *j, *alg, *sig;

	if (!ps->nkeys)
		return 0; /* no keys: signatures are not read */
	if (ps->sig_pending)
		return fail(ps, NGHTTP2_PROTOCOL_ERROR, TW_RETRY_SLOW,
			    "portal policy stream: a signature line followed by another");
	j = json_loadb(line, len, 0, NULL);
	alg = json_object_get(j, "alg");
	sig = json_object_get(j, "sig");
	if (!json_is_string(alg) || !json_is_string(sig)) {
		json_decref(j);
		return fail(ps, NGHTTP2_PROTOCOL_ERROR, TW_RETRY_SLOW,
			    "portal policy stream: signature line without alg and sig strings");
	}
	/* from the portal, into a log line: escaped */
	tw_utf8_escape(ps->sig_alg, sizeof(ps->sig_alg), json_string_value(alg),
		       json_string_length(alg), 16);
	snprintf(ps->sig, sizeof(ps->sig), "%s", json_string_value(sig));
	json_decref(j);
	ps->sig_pending = true;
	return 0;
}

static void warn_type(struct tw_polstream *ps, const char *type)
{
	char esc[4 * 32 + 4];
	size_t i;

	for (i = 0; i < TW_PS_TYPES_WARNED && ps->warned[i][0]; i++)
		if (!strcmp(ps->warned[i], type))
			return;
	if (i < TW_PS_TYPES_WARNED)
		snprintf(ps->warned[i], sizeof(ps->warned[i]), "%s", type);
	tw_utf8_escape(esc, sizeof(esc), type, strlen(type), 32);
	tw_warn("portal policy stream: ignoring lines of type '%s'", esc);
}

static uint32_t on_line(struct tw_polstream *ps, const char *line, size_t len)
{
	enum line_type lt = LT_OTHER;
	char tesc[4 * 32 + 4];
	struct top t;
	uint32_t rc;

	if (len && line[len - 1] == '\r')
		len--;
	if (!len)
		return 0;
	if (scan_top(line, len, &t)) {
		if (len > TW_PS_LINE_MAX) /* perhaps a bundle: refused as one */
			return refuse(ps, &t, TW_RETRY_SLOW, "not a JSON object");
		return fail(ps, NGHTTP2_PROTOCOL_ERROR, TW_RETRY_SLOW,
			    "portal policy stream: a line that is not a JSON object");
	}
	if (!t.has_type)
		lt = LT_SNAPSHOT; /* docs/policy.md: a bundle without type is a snapshot */
	else if (!t.type_ok)
		return fail(ps, NGHTTP2_PROTOCOL_ERROR, TW_RETRY_SLOW,
			    "portal policy stream: \"type\" is not a short string");
	tw_utf8_escape(tesc, sizeof(tesc), t.type, strlen(t.type), 32); /* for log lines */
	for (size_t i = 0; t.has_type && i < sizeof(line_types) / sizeof(line_types[0]); i++)
		if (!strcmp(t.type, line_types[i].name))
			lt = line_types[i].t;
	if (lt != LT_SNAPSHOT && lt != LT_DELTA && len > TW_PS_LINE_MAX)
		return fail(ps, NGHTTP2_PROTOCOL_ERROR, TW_RETRY_SLOW,
			    "portal policy stream: a %s line of %zu bytes (limit %u)", tesc, len,
			    TW_PS_LINE_MAX);
	if (lt != LT_SNAPSHOT && lt != LT_DELTA && lt != LT_SIGNATURE && ps->sig_pending)
		return fail(ps, NGHTTP2_PROTOCOL_ERROR, TW_RETRY_SLOW,
			    "portal policy stream: a signature line followed by a %s line", tesc);
	switch (lt) {
	case LT_SNAPSHOT:
	case LT_DELTA:
		rc = check_signature(ps, &t, line, len);
		if (rc)
			return rc;
		return lt == LT_SNAPSHOT ? on_snapshot(ps, &t, line, len) :
					   on_delta(ps, &t, line, len);
	case LT_HEARTBEAT:
		return on_heartbeat(ps, line, len);
	case LT_SIGNATURE:
		return on_signature(ps, line, len);
	case LT_OTHER:
		warn_type(ps, t.type);
		return 0;
	}
	return 0;
}

/* The version a line too long to hold claims, for the log: a scan of its start. */
static void sniff_version(const char *s, size_t n, struct top *t)
{
	const char *p = memmem(s, n < TW_PS_LINE_MAX ? n : TW_PS_LINE_MAX, "\"version\":", 10);

	memset(t, 0, sizeof(*t));
	if (p)
		t->has_version = read_u64(s, n, (size_t)(p - s) + 10, &t->version);
}

static int grow(struct tw_polstream *ps, size_t need)
{
	size_t cap = ps->cap ? ps->cap : 4096;
	char *nb;

	while (cap < need)
		cap *= 2;
	if (cap > TW_PS_BUNDLE_MAX + 1)
		cap = TW_PS_BUNDLE_MAX + 1;
	if (cap == ps->cap)
		return 0;
	nb = realloc(ps->buf, cap);
	if (!nb)
		return -ENOMEM;
	ps->buf = nb;
	ps->cap = cap;
	return 0;
}

uint32_t tw_polstream_feed(struct tw_polstream *ps, const uint8_t *data, size_t len)
{
	const char *p = (const char *)data, *end = p + len, *lf;
	uint32_t rc;
	size_t take;
	struct top t;

	ps->last_data_ms = tw_polstream_now_ms();
	if (ps->failed)
		return ps->failed;
	while (p < end) {
		lf = memchr(p, '\n', (size_t)(end - p));
		take = (size_t)((lf ? lf : end) - p);
		/* the line without its LF (a CR may still end it) may be at most the limit + 1 */
		if (ps->len + take > TW_PS_BUNDLE_MAX + 1) {
			sniff_version(ps->len ? ps->buf : p, ps->len ? ps->len : take, &t);
			return refuse(ps, &t, TW_RETRY_SLOW, "line over %u bytes",
				      TW_PS_BUNDLE_MAX);
		}
		if (!lf || ps->len) {
			if (grow(ps, ps->len + take))
				return fail(ps, NGHTTP2_INTERNAL_ERROR, TW_RETRY_NORMAL,
					    "portal policy stream: out of memory");
			memcpy(ps->buf + ps->len, p, take);
			ps->len += take;
		}
		if (!lf)
			break;
		/* a whole line: from the buffer if it began in an earlier chunk */
		rc = ps->len ? on_line(ps, ps->buf, ps->len) : on_line(ps, p, take);
		ps->len = 0;
		if (rc)
			return rc;
		p = lf + 1;
	}
	if (ps->len > TW_PS_BUNDLE_MAX + 1 ||
	    (ps->len == TW_PS_BUNDLE_MAX + 1 && ps->buf[ps->len - 1] != '\r')) {
		sniff_version(ps->buf, ps->len, &t);
		return refuse(ps, &t, TW_RETRY_SLOW, "line over %u bytes", TW_PS_BUNDLE_MAX);
	}
	return 0;
}

void tw_polstream_reset_lines(struct tw_polstream *ps)
{
	ps->len = 0;
	ps->sig_pending = false;
	ps->accepted_any = false;
	ps->failed = 0;
	ps->why[0] = '\0';
	memset(ps->warned, 0, sizeof(ps->warned));
	ps->last_data_ms = tw_polstream_now_ms();
	/* a bundle line can be 64 MiB: do not keep its buffer between streams */
	if (ps->cap > (1u << 20)) {
		free(ps->buf);
		ps->buf = NULL;
		ps->cap = 0;
	}
}

uint64_t tw_polstream_since(const struct tw_polstream *ps)
{
	return ps->want_snapshot || ps->compact ? 0 : cur_version(ps);
}

const char *tw_polstream_last_error(const struct tw_polstream *ps)
{
	return ps ? ps->last_error : "";
}

struct tw_polstream *tw_polstream_new_sink(struct tw_daemon *d,
					   const struct tw_polstream_sink *sink)
{
	struct tw_polstream *ps = calloc(1, sizeof(*ps));
	char err[512];

	if (!ps)
		return NULL;
	ps->d = d;
	ps->sink = sink;
	for (uint32_t i = 0; i < d->cfg.portal.npolicy_pubkeys && i < TW_CFG_MAX_PUBKEYS; i++) {
		ps->keys[i] =
			tw_sig_key_load(d->cfg.portal.policy_pubkey[i], false, err, sizeof(err));
		if (!ps->keys[i]) {
			int e = errno;

			tw_err("[portal] policy_pubkey %s", err);
			tw_polstream_release(ps);
			errno = e;
			return NULL;
		}
		ps->nkeys++;
	}
	tw_polstream_reset_lines(ps);
	return ps;
}

void tw_polstream_release(struct tw_polstream *ps)
{
	if (!ps)
		return;
	for (size_t i = 0; i < ps->nkeys; i++)
		tw_sig_key_free(ps->keys[i]);
	free(ps->buf);
	free(ps);
}
