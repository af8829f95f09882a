// SPDX-License-Identifier: GPL-2.0-only
/*
 * Bundles from the policy store: a snapshot is the stored JSON of every
 * object joined in insertion order; a delta takes each object the change log
 * names after @since once, with its current JSON (an upsert) or, if it is
 * gone now and existed at @since, a removal. Objects created and removed
 * since @since are left out: the node never had them.
 *
 * A delta is built only for a @since that is a version this store
 * committed (in the log, or the log's base): a node holding a version the
 * store never had (one lost with a restored backup) gets a snapshot.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "polstore_int.h"

struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

static bool sb_room(struct sbuf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->oom)
		return false;
	if (b->len + n + 1 <= b->cap)
		return true;
	cap = b->cap ? b->cap : 4096;
	while (cap < b->len + n + 1)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p) {
		b->oom = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (!sb_room(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

static void sb_cat(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static void __attribute__((format(printf, 2, 3))) sb_fmt(struct sbuf *b, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		sb_add(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* A JSON string: ids are UTF-8 and passed through; quotes, backslashes and controls escaped. */
static void sb_jstr(struct sbuf *b, const char *s)
{
	const char *run = s;

	sb_add(b, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		sb_add(b, run, (size_t)(s - run));
		if (c == '"' || c == '\\')
			sb_fmt(b, "\\%c", c);
		else
			sb_fmt(b, "\\u%04x", c);
		run = s + 1;
	}
	sb_add(b, run, (size_t)(s - run));
	sb_add(b, "\"", 1);
}

static void header(struct sbuf *b, const char *type, uint64_t base, uint64_t version)
{
	time_t now = time(NULL);
	char ts[32];
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	sb_fmt(b, "{\"type\":\"%s\",", type);
	if (base)
		sb_fmt(b, "\"base\":%llu,", (unsigned long long)base);
	sb_fmt(b, "\"version\":%llu,\"generated_at\":\"%s\"", (unsigned long long)version, ts);
}

static const char *const section[] = {
	[TW_PC_TENANT] = "tenants",
	[TW_PC_PROFILE] = "profiles",
	[TW_PC_SUBJECT] = "subjects",
};

static int prep(struct tw_polstore *ps, const char *sql, sqlite3_stmt **s)
{
	return sqlite3_prepare_v2(ps->db, sql, -1, s, NULL) == SQLITE_OK ? 0 : -EIO;
}

static int snapshot(struct tw_polstore *ps, struct sbuf *b)
{
	static const char *const sql[] = {
		[TW_PC_TENANT] = "SELECT json FROM tenants ORDER BY rowid",
		[TW_PC_PROFILE] = "SELECT json FROM profiles ORDER BY rowid",
		[TW_PC_SUBJECT] = "SELECT json FROM subjects ORDER BY rowid",
	};
	sqlite3_stmt *s;
	int c, rc, n;

	for (c = TW_PC_TENANT; c <= TW_PC_SUBJECT; c++) {
		if (prep(ps, sql[c], &s))
			return -EIO;
		for (n = 0; (rc = sqlite3_step(s)) == SQLITE_ROW; n++) {
			if (!n)
				sb_fmt(b, ",\"%s\":[", section[c]);
			else
				sb_add(b, ",", 1);
			sb_add(b, (const char *)sqlite3_column_text(s, 0),
			       (size_t)sqlite3_column_bytes(s, 0));
		}
		sqlite3_finalize(s);
		if (rc != SQLITE_DONE)
			return -EIO;
		if (n)
			sb_add(b, "]", 1);
	}
	sb_add(b, "}", 1);
	return 0;
}

/*
 * One section of a delta. Each object once: "existed" comes from its first
 * log row after @since (SQLite takes bare columns from the min() row).
 */
static int delta_section(struct tw_polstore *ps, struct sbuf *b, enum tw_pclass c, uint64_t since)
{
	static const char *const sql[] = {
		[TW_PC_TENANT] = "SELECT c.kind, c.id, c.existed, min(c.seq), t.json FROM changes c"
				 " LEFT JOIN tenants t ON t.id = c.id"
				 " WHERE c.version > ?1 AND c.class = 1 GROUP BY c.id ORDER BY 4",
		[TW_PC_PROFILE] =
			"SELECT c.kind, c.id, c.existed, min(c.seq), t.json FROM changes c"
			" LEFT JOIN profiles t ON t.id = c.id"
			" WHERE c.version > ?1 AND c.class = 2 GROUP BY c.id ORDER BY 4",
		[TW_PC_SUBJECT] =
			"SELECT c.kind, c.id, c.existed, min(c.seq), t.json FROM changes c"
			" LEFT JOIN subjects t ON t.kind = c.kind AND t.id = c.id"
			" WHERE c.version > ?1 AND c.class = 3"
			" GROUP BY c.kind, c.id ORDER BY 4",
	};
	struct sbuf rm = { 0 };
	sqlite3_stmt *s;
	size_t nup = 0, nrm = 0;
	int rc;

	if (prep(ps, sql[c], &s))
		return -EIO;
	sqlite3_bind_int64(s, 1, (int64_t)since);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *kind = (const char *)sqlite3_column_text(s, 0);
		const char *id = (const char *)sqlite3_column_text(s, 1);

		if (sqlite3_column_type(s, 4) != SQLITE_NULL) {
			sb_fmt(b, nup++ ? "," : ",\"%s\":{\"upsert\":[", section[c]);
			sb_add(b, (const char *)sqlite3_column_text(s, 4),
			       (size_t)sqlite3_column_bytes(s, 4));
			continue;
		}
		if (!sqlite3_column_int(s, 2))
			continue; /* created and removed after @since */
		if (nrm++)
			sb_add(&rm, ",", 1);
		if (c == TW_PC_SUBJECT) {
			sb_cat(&rm, "{\"kind\":");
			sb_jstr(&rm, kind);
			sb_cat(&rm, ",\"id\":");
			sb_jstr(&rm, id);
			sb_cat(&rm, "}");
		} else {
			sb_jstr(&rm, id);
		}
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE || rm.oom) {
		free(rm.p);
		return rm.oom ? -ENOMEM : -EIO;
	}
	if (nup)
		sb_add(b, "]", 1);
	if (nrm) {
		sb_fmt(b, nup ? ",\"remove\":[" : ",\"%s\":{\"remove\":[", section[c]);
		sb_add(b, rm.p, rm.len);
		sb_add(b, "]", 1);
	}
	if (nup || nrm)
		sb_add(b, "}", 1);
	free(rm.p);
	return 0;
}

static bool has_version(struct tw_polstore *ps, uint64_t v)
{
	sqlite3_stmt *s;
	bool yes;

	if (v == tw_polstore_log_base(ps))
		return true;
	s = tw_ps_stmt(ps, ST_HAS_VERSION);
	sqlite3_bind_int64(s, 1, (int64_t)v);
	yes = sqlite3_step(s) == SQLITE_ROW;
	sqlite3_reset(s);
	return yes;
}

/* The bundle's body (all after the header): the snapshot for @since 0, else the delta. */
static int build(struct tw_polstore *ps, uint64_t since, struct sbuf *b)
{
	int c, ret;

	if (!since) {
		ret = snapshot(ps, b);
		return ret ?: TW_BUNDLE_SNAPSHOT;
	}
	for (c = TW_PC_TENANT; c <= TW_PC_SUBJECT; c++) {
		ret = delta_section(ps, b, c, since);
		if (ret)
			return ret;
	}
	sb_add(b, "}", 1);
	return TW_BUNDLE_DELTA;
}

/*
 * Bodies already built at the current version: after a change every node's
 * stream asks for the same delta, and reconnecting nodes for the same
 * snapshot. The header (with generated_at) is made fresh each time.
 */
static struct tw_bcache *cached(struct tw_polstore *ps, uint64_t since, uint64_t cur)
{
	struct tw_bcache *e;
	int i;

	for (i = 0; i < TW_POLSTORE_CACHE; i++) {
		e = &ps->cache[i];
		if (e->body && e->version != cur) {
			free(e->body); /* versions only grow: never asked for again */
			e->body = NULL;
		}
		if (e->body && e->since == since)
			return e;
	}
	return NULL;
}

static int body_for(struct tw_polstore *ps, uint64_t since, uint64_t cur, struct tw_bcache **out)
{
	struct sbuf b = { 0 };
	struct tw_bcache *e;
	int kind;

	/* A snapshot serves every since that gets one: key it as 0. */
	if (since && !has_version(ps, since))
		since = 0;
	e = ps->in_tx ? NULL : cached(ps, since, cur);
	if (e) {
		*out = e;
		return e->kind;
	}
	kind = build(ps, since, &b);
	if (kind >= 0 && b.oom)
		kind = -ENOMEM;
	if (kind < 0) {
		free(b.p);
		return kind;
	}
	/* Inside a write transaction the content is not version @cur's: not for the cache. */
	e = ps->in_tx ? &ps->uncached : &ps->cache[ps->cache_next++ % TW_POLSTORE_CACHE];
	free(e->body);
	*e = (struct tw_bcache){
		.kind = kind, .since = since, .version = cur, .body = b.p, .len = b.len
	};
	*out = e;
	return kind;
}

int tw_polstore_bundle(struct tw_polstore *ps, const char *node, uint64_t since, char **line,
		       size_t *len, uint64_t *version)
{
	bool own_tx = !ps->in_tx;
	struct tw_bcache *e = NULL;
	struct sbuf b = { 0 };
	uint64_t cur;
	int ret;

	(void)node;
	*line = NULL;
	*len = 0;
	/* One read transaction: the version and the content it names agree. */
	if (own_tx && sqlite3_exec(ps->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		return -EIO;
	cur = tw_polstore_version(ps);
	if (since > cur)
		ret = -ESTALE;
	else if (since == cur)
		ret = TW_BUNDLE_NONE;
	else
		ret = body_for(ps, since, cur, &e);
	if (own_tx)
		sqlite3_exec(ps->db, "COMMIT", NULL, NULL, NULL);
	if (version)
		*version = cur;
	if (ret != TW_BUNDLE_SNAPSHOT && ret != TW_BUNDLE_DELTA)
		return ret;
	header(&b, ret == TW_BUNDLE_DELTA ? "delta" : "snapshot",
	       ret == TW_BUNDLE_DELTA ? since : 0, cur);
	sb_add(&b, e->body, e->len);
	if (e == &ps->uncached) {
		free(e->body);
		e->body = NULL;
	}
	if (b.oom || b.len > ps->max_bundle) {
		free(b.p);
		return b.oom ? -ENOMEM : -E2BIG; /* a node refuses it: say so here */
	}
	*line = b.p;
	*len = b.len;
	return ret;
}
