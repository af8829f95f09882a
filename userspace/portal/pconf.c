// SPDX-License-Identifier: GPL-2.0-only
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "pconf.h"

enum key_type { K_STR, K_U32, K_DURATION_MS };

struct key {
	const char *section, *name;
	enum key_type type;
	size_t off, size;
};

#define STR(sec, k, field)                                       \
	{                                                        \
		sec, k, K_STR, offsetof(struct tw_pconf, field), \
			sizeof(((struct tw_pconf *)0)->field)    \
	}
#define NUM(sec, k, t, field)                                  \
	{                                                      \
		sec, k, t, offsetof(struct tw_pconf, field), 0 \
	}

static const struct key keys[] = {
	STR("server", "listen", listen),
	STR("server", "listen_h2c", listen_h2c),
	STR("server", "cert", cert),
	STR("server", "key", key),
	STR("server", "client_ca", client_ca),
	NUM("server", "max_connections", K_U32, max_connections),
	NUM("server", "handshake_timeout", K_DURATION_MS, handshake_timeout_ms),
	NUM("server", "idle_timeout", K_DURATION_MS, idle_timeout_ms),
	STR("server", "log_level", log_level),
	STR("store", "database", database),
	STR("store", "policy_database", policy_database),
	STR("policy", "signing_key", signing_key),
};

void tw_pconf_defaults(struct tw_pconf *c)
{
	memset(c, 0, sizeof(*c));
	c->max_connections = 1024;
	c->handshake_timeout_ms = 10000;
	c->idle_timeout_ms = 300000;
	snprintf(c->database, sizeof(c->database), "/var/lib/tunwarden-portal/records.db");
	snprintf(c->policy_database, sizeof(c->policy_database),
		 "/var/lib/tunwarden-portal/policy.db");
	snprintf(c->log_level, sizeof(c->log_level), "info");
}

/* A token for an error message: escaped, so a hostile file cannot forge log lines. */
static const char *q(char *buf, size_t n, const char *s)
{
	tw_quote_token(buf, n, s, strlen(s));
	return buf;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int set_key(struct tw_pconf *c, const struct key *k, const char *v, char *why, size_t n)
{
	char *p = (char *)c + k->off;
	char qb[96];
	uint64_t u;
	char *end;

	switch (k->type) {
	case K_STR:
		if (strlen(v) >= k->size) {
			snprintf(why, n, "value longer than %zu bytes", k->size - 1);
			return -EINVAL;
		}
		memcpy(p, v, strlen(v) + 1);
		return 0;
	case K_U32:
		errno = 0;
		u = strtoull(v, &end, 10);
		if (!*v || *end || errno || u == 0 || u > 1000000) {
			snprintf(why, n, "want an integer 1..1000000, got \"%s\"",
				 q(qb, sizeof(qb), v));
			return -EINVAL;
		}
		*(uint32_t *)(void *)p = (uint32_t)u;
		return 0;
	case K_DURATION_MS:
		if (tw_parse_duration(v, &u) || u == 0) {
			snprintf(why, n, "want a duration (30s, 5m), got \"%s\"",
				 q(qb, sizeof(qb), v));
			return -EINVAL;
		}
		*(uint64_t *)(void *)p = u * 1000;
		return 0;
	}
	return -EINVAL;
}

int tw_pconf_parse(const char *buf, size_t len, const char *fname, struct tw_pconf *c, char *err,
		   size_t errlen)
{
	char section[32] = "", line[8192], why[256], qb[96];
	unsigned int lineno = 0;
	size_t pos = 0;

	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (buf + pos)) : len - pos;
		char *s, *eq, *hash;
		const struct key *k = NULL;

		lineno++;
		if (n >= sizeof(line)) {
			snprintf(err, errlen, "%s:%u: line longer than %zu bytes", fname, lineno,
				 sizeof(line) - 1);
			return -EINVAL;
		}
		memcpy(line, buf + pos, n);
		line[n] = '\0';
		pos += n + 1;
		hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		s = trim(line);
		if (!*s)
			continue;
		if (*s == '[') {
			char *e = strchr(s, ']');

			if (!e || e[1] || (size_t)(e - s - 1) >= sizeof(section)) {
				snprintf(err, errlen, "%s:%u: bad section header \"%s\"", fname,
					 lineno, q(qb, sizeof(qb), s));
				return -EINVAL;
			}
			*e = '\0';
			snprintf(section, sizeof(section), "%s", trim(s + 1));
			if (strcmp(section, "server") && strcmp(section, "store") &&
			    strcmp(section, "policy")) {
				snprintf(err, errlen,
					 "%s:%u: unknown section [%s] (server, store, policy)",
					 fname, lineno, q(qb, sizeof(qb), section));
				return -EINVAL;
			}
			continue;
		}
		eq = strchr(s, '=');
		if (!eq) {
			snprintf(err, errlen, "%s:%u: want key = value, got \"%s\"", fname, lineno,
				 q(qb, sizeof(qb), s));
			return -EINVAL;
		}
		*eq = '\0';
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (!strcmp(keys[i].section, section) && !strcmp(keys[i].name, trim(s)))
				k = &keys[i];
		if (!k) {
			snprintf(err, errlen, "%s:%u: unknown key \"%s\" in [%s]", fname, lineno,
				 q(qb, sizeof(qb), trim(s)), section);
			return -EINVAL;
		}
		if (set_key(c, k, trim(eq + 1), why, sizeof(why))) {
			snprintf(err, errlen, "%s:%u: %s: %s", fname, lineno, k->name, why);
			return -EINVAL;
		}
	}
	if (c->listen[0] && (!c->cert[0] || !c->key[0])) {
		snprintf(err, errlen, "%s: [server] listen needs cert and key", fname);
		return -EINVAL;
	}
	return 0;
}

int tw_pconf_load(const char *path, struct tw_pconf *c, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;
	int ret;

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || n > (1 << 20) || fseek(f, 0, SEEK_SET)) {
		snprintf(err, errlen, "%s: unreadable or over 1 MiB", path);
		fclose(f);
		return -EINVAL;
	}
	buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		snprintf(err, errlen, "%s: read failed", path);
		free(buf);
		fclose(f);
		return -EIO;
	}
	fclose(f);
	ret = tw_pconf_parse(buf, (size_t)n, path, c, err, errlen);
	free(buf);
	return ret;
}
