// SPDX-License-Identifier: GPL-2.0-only
/*
 * Reading policy bundle JSON: typed members with bounds, JSON paths for
 * messages, the top-level object and the bundle header. Every error names
 * the path and quotes the offending token (policy_int.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include "policy_int.h"
#include "tw_utf8.h"

void perr_(struct pctx *x, const char *path, const char *fmt, ...)
{
	va_list ap;
	int n = 0;

	if (!x->errlen)
		return;
	if (path && *path)
		n = snprintf(x->err, x->errlen, "%s: ", path);
	if (n < 0 || (size_t)n >= x->errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(x->err + n, x->errlen - n, fmt, ap);
	va_end(ap);
}
int pj_nomem(struct pctx *x)
{
	perr_(x, NULL, "out of memory");
	return -ENOMEM;
}

static const char *jtype(const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "?";
}

int pj_want(struct pctx *x, const char *path, const json_t *j, json_type t, const char *what)
{
	if (json_typeof(j) == t)
		return 0;
	return perr(x, path, "expected %s, got %s", what, jtype(j));
}

int pj_check_keys(struct pctx *x, const char *path, json_t *obj, const char *const *allowed)
{
	const char *key;
	json_t *v;
	int i;

	json_object_foreach(obj, key, v) {
		for (i = 0; allowed[i]; i++)
			if (!strcmp(key, allowed[i]))
				break;
		if (!allowed[i]) {
			char q[QMAX];

			quote(q, key);
			return perr(x, path, "unknown key '%s'", q);
		}
	}
	return 0;
}

/*
 * JSON paths for messages, built on every level of every subject of a
 * 100k-subject bundle: plain copies, no printf. A path cut at PATH_LEN is
 * only ever cosmetic.
 */
static size_t path_put(char *dst, size_t o, const char *s, size_t n)
{
	if (o + n >= PATH_LEN)
		n = PATH_LEN - 1 - o;
	memcpy(dst + o, s, n);
	dst[o + n] = '\0';
	return o + n;
}

void pj_subpath(char *dst, const char *path, const char *member)
{
	size_t o = path_put(dst, 0, path, strlen(path));

	if (o)
		o = path_put(dst, o, ".", 1);
	path_put(dst, o, member, strlen(member));
}

void pj_idxpath(char *dst, const char *path, size_t i)
{
	char num[24];
	size_t o, n = sizeof(num);

	num[--n] = ']';
	do {
		num[--n] = '0' + i % 10;
		i /= 10;
	} while (i);
	num[--n] = '[';
	o = path_put(dst, 0, path, strlen(path));
	path_put(dst, o, num + n, sizeof(num) - n);
}

int pj_get_str(struct pctx *x, const char *path, json_t *obj, const char *key, bool required,
	       const char **out)
{
	char p[PATH_LEN], q[QMAX];
	json_t *j = json_object_get(obj, key);
	enum tw_utf8_err e;
	const char *s;
	size_t n;

	*out = NULL;
	pj_subpath(p, path, key);
	if (!j) {
		if (required)
			return perr(x, path, "missing '%s'", key);
		return 0;
	}
	if (pj_want(x, p, j, JSON_STRING, "a string"))
		return -EINVAL;
	s = json_string_value(j);
	n = json_string_length(j);
	if (!n)
		return perr(x, p, "must not be empty");
	if (n > TW_POLICY_ID_MAX) {
		tw_quote_token(q, sizeof(q), s, n);
		return perr(x, p, "'%s' is longer than %d bytes", q, TW_POLICY_ID_MAX);
	}
	/* Also catches an embedded NUL (JSON "\u0000") and C1 controls, which jansson
	 * lets through: ids end up in C strings, logs and management commands. */
	e = tw_utf8_check(s, n, NULL);
	if (e) {
		tw_utf8_escape(q, sizeof(q), s, n, 64);
		if (e == TW_UTF8_CONTROL || e == TW_UTF8_NUL)
			return perr(x, p, "'%s' contains a control character", q);
		return perr(x, p, "'%s' is not valid UTF-8 (%s)", q, tw_utf8_strerror(e));
	}
	*out = s;
	return 0;
}

int pj_get_duration(struct pctx *x, const char *path, json_t *j, uint64_t lo, uint64_t hi,
		    uint64_t *out)
{
	char q[QMAX];
	uint64_t v;

	if (json_is_integer(j)) {
		json_int_t i = json_integer_value(j);

		if (i < (json_int_t)lo || (uint64_t)i > hi)
			return perr(x, path, "%lld seconds is out of range [%llu, %llu]",
				    (long long)i, (unsigned long long)lo, (unsigned long long)hi);
		*out = (uint64_t)i;
		return 0;
	}
	if (pj_want(x, path, j, JSON_STRING, "a duration (\"5m\" or seconds)"))
		return -EINVAL;
	quote(q, json_string_value(j));
	if (strlen(json_string_value(j)) != json_string_length(j) ||
	    tw_parse_duration(json_string_value(j), &v) == -EINVAL)
		return perr(x, path, "bad duration '%s'", q);
	if (tw_parse_duration(json_string_value(j), &v) || v < lo || v > hi)
		return perr(x, path, "duration '%s' is out of range [%llus, %llus]", q,
			    (unsigned long long)lo, (unsigned long long)hi);
	*out = v;
	return 0;
}

/* RFC 3339: 2026-11-22T04:00:00Z, optional fraction, Z or +hh:mm. */
static int parse_rfc3339(const char *s, time_t *out)
{
	int Y, M, D, h, m, sec, n = 0, oh = 0, om = 0, sign = 0;
	struct tm tm = {};
	time_t t;

	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &Y, &M, &D, &h, &m, &sec, &n) != 6 || n != 19)
		return -EINVAL;
	s += n;
	if (*s == '.') {
		s++;
		if (*s < '0' || *s > '9')
			return -EINVAL;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	if (*s == 'Z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		sign = *s == '+' ? 1 : -1;
		if (sscanf(s + 1, "%2d:%2d%n", &oh, &om, &n) != 2 || n != 5)
			return -EINVAL;
		s += 6;
	} else {
		return -EINVAL;
	}
	if (*s || Y < 1970 || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60 ||
	    oh > 23 || om > 59 || h < 0 || m < 0 || sec < 0 || oh < 0 || om < 0)
		return -EINVAL;
	tm.tm_year = Y - 1900;
	tm.tm_mon = M - 1;
	tm.tm_mday = D;
	tm.tm_hour = h;
	tm.tm_min = m;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -EINVAL;
	*out = t - (time_t)sign * (oh * 3600 + om * 60);
	return 0;
}

int pj_get_u64(struct pctx *x, const char *path, json_t *obj, const char *key, bool required,
	       uint64_t lo, uint64_t hi, uint64_t *out)
{
	char p[PATH_LEN];
	json_t *j = json_object_get(obj, key);
	json_int_t v;

	pj_subpath(p, path, key);
	if (!j) {
		if (required)
			return perr(x, path, "missing '%s'", key);
		return 0;
	}
	if (!json_is_integer(j))
		return perr(x, p, "expected an integer, got %s", jtype(j));
	v = json_integer_value(j);
	if (v < 0 || (uint64_t)v < lo || (uint64_t)v > hi)
		return perr(x, p, "%lld is out of range [%llu, %llu]", (long long)v,
			    (unsigned long long)lo, (unsigned long long)hi);
	*out = (uint64_t)v;
	return 0;
}

int pj_get_array(struct pctx *x, const char *path, json_t *obj, const char *key, size_t max,
		 json_t **out)
{
	char p[PATH_LEN];
	json_t *j = json_object_get(obj, key);

	*out = NULL;
	if (!j)
		return 0;
	pj_subpath(p, path, key);
	if (pj_want(x, p, j, JSON_ARRAY, "an array"))
		return -EINVAL;
	if (json_array_size(j) > max)
		return perr(x, p, "%zu entries, more than the limit of %zu", json_array_size(j),
			    max);
	*out = j;
	return 0;
}

json_t *pj_load_bundle(struct pctx *x, const char *buf, size_t len)
{
	json_error_t je;
	json_t *root;

	if (len > TW_POLICY_MAX_BYTES) {
		perr_(x, NULL, "bundle is %zu bytes, more than the limit of %u", len,
		      TW_POLICY_MAX_BYTES);
		errno = E2BIG;
		return NULL;
	}
	/* Duplicate members would let two readers of one bundle disagree. */
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		/* jansson's "near '...'" holds raw input bytes: escape them. */
		char text[sizeof(je.text) * 4];
		size_t i, o = 0;

		for (i = 0; je.text[i] && o + 5 < sizeof(text); i++) {
			unsigned char ch = je.text[i];

			if (ch >= 0x20 && ch < 0x7f)
				text[o++] = ch;
			else
				o += snprintf(text + o, sizeof(text) - o, "\\x%02x", ch);
		}
		text[o] = '\0';
		perr_(x, NULL, "invalid JSON at line %d column %d: %s", je.line, je.column, text);
		errno = EINVAL;
		return NULL;
	}
	if (!json_is_object(root)) {
		perr_(x, NULL, "expected a JSON object at the top, got %s", jtype(root));
		json_decref(root);
		errno = EINVAL;
		return NULL;
	}
	return root;
}

int pj_parse_header(struct pctx *x, json_t *root, const char *type, uint64_t *version, time_t *gen)
{
	const char *t, *ga;
	char q[QMAX];
	int err;

	err = pj_get_str(x, "", root, "type", false, &t);
	if (err)
		return err;
	if (t && strcmp(t, "snapshot") != 0 && strcmp(t, "delta") != 0) {
		quote(q, t);
		return perr(x, "type", "unknown bundle type '%s' (snapshot or delta)", q);
	}
	if (strcmp(t ? t : "snapshot", type) != 0)
		return perr(x, "type", "expected a %s, got a %s", type, t ? t : "snapshot");
	err = pj_get_u64(x, "", root, "version", true, 1, INT64_MAX, version);
	err = err ?: pj_get_str(x, "", root, "generated_at", false, &ga);
	if (err)
		return err;
	*gen = 0;
	if (ga && parse_rfc3339(ga, gen)) {
		quote(q, ga);
		return perr(x, "generated_at",
			    "bad timestamp '%s' (RFC 3339, e.g. "
			    "2026-11-22T04:00:00Z)",
			    q);
	}
	return 0;
}
