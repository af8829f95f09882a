// SPDX-License-Identifier: GPL-2.0-only
/*
 * Config file parser: a pure function over a buffer (no I/O), errors that
 * name file, line and offending token. See config.h and docs/config.md.
 */
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include "config.h"

#define TOKEN_QUOTE_MAX 64

void tw_quote_token(char *dst, size_t dstlen, const char *s, size_t n)
{
	size_t o = 0, i;
	bool cut = n > TOKEN_QUOTE_MAX;

	if (!dstlen)
		return;
	if (cut)
		n = TOKEN_QUOTE_MAX;
	for (i = 0; i < n; i++) {
		unsigned char ch = s[i];
		int w;

		if (ch >= 0x20 && ch < 0x7f && ch != '\\')
			w = snprintf(dst + o, dstlen - o, "%c", ch);
		else
			w = snprintf(dst + o, dstlen - o, "\\x%02x", ch);
		if (w < 0 || (size_t)w >= dstlen - o) {
			dst[o] = '\0';
			return;
		}
		o += w;
	}
	if (cut)
		snprintf(dst + o, dstlen - o, "...");
	else
		dst[o] = '\0';
}

const char *tw_log_level_name(enum tw_log_level l)
{
	static const char *const names[] = { "err", "warn", "info", "debug" };

	return (unsigned int)l < 4 ? names[l] : "?";
}

int tw_parse_duration(const char *s, uint64_t *secs)
{
	uint64_t total = 0;
	bool any = false, bare = false;

	if (!*s)
		return -EINVAL;
	while (*s) {
		uint64_t v = 0, mult;

		if (*s < '0' || *s > '9')
			return -EINVAL;
		while (*s >= '0' && *s <= '9') {
			if (v > (UINT64_MAX - 9) / 10)
				return -ERANGE;
			v = v * 10 + (*s++ - '0');
		}
		switch (*s) {
		case 's':
			mult = 1;
			break;
		case 'm':
			mult = 60;
			break;
		case 'h':
			mult = 3600;
			break;
		case 'd':
			mult = 86400;
			break;
		case 'w':
			mult = 7 * 86400;
			break;
		case '\0':
			/* A bare number means seconds, but only on its own: "1h30" is
			 * more likely a typo than 1h and 30 s. */
			if (any)
				return -EINVAL;
			mult = 1;
			bare = true;
			break;
		default:
			return -EINVAL;
		}
		if (!bare)
			s++;
		if (v > UINT64_MAX / mult || total > UINT64_MAX - v * mult)
			return -ERANGE;
		total += v * mult;
		any = true;
	}
	if (total > TW_DURATION_MAX_S)
		return -ERANGE;
	*secs = total;
	return 0;
}

int tw_parse_size(const char *s, uint64_t *bytes)
{
	uint64_t v = 0;
	unsigned int shift = 0;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	while (*s >= '0' && *s <= '9') {
		if (v > (UINT64_MAX - 9) / 10)
			return -ERANGE;
		v = v * 10 + (*s++ - '0');
	}
	switch (*s) {
	case '\0':
		break;
	case 'k':
	case 'K':
		shift = 10;
		break;
	case 'M':
		shift = 20;
		break;
	case 'G':
		shift = 30;
		break;
	case 'T':
		shift = 40;
		break;
	default:
		return -EINVAL;
	}
	if (*s) {
		s++;
		if (!strcmp(s, "B") || !strcmp(s, "iB"))
			s += strlen(s);
		if (*s)
			return -EINVAL;
	}
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*bytes = v << shift;
	return 0;
}

/* ---- parser state ---- */

enum section {
	SEC_NONE,
	SEC_NODE,
	SEC_INTERFACE,
	SEC_UPLINK,
	SEC_ACCOUNTING,
	SEC_POLICY,
	SEC_CONFIRMATION,
	SEC_OPENVPN,
	SEC_METRICS,
	SEC_PORTAL,
};

static const char *const section_names[] = {
	[SEC_NONE] = "",
	[SEC_NODE] = "node",
	[SEC_INTERFACE] = "interface",
	[SEC_UPLINK] = "uplink",
	[SEC_ACCOUNTING] = "accounting",
	[SEC_POLICY] = "policy",
	[SEC_CONFIRMATION] = "confirmation",
	[SEC_OPENVPN] = "openvpn",
	[SEC_METRICS] = "metrics",
	[SEC_PORTAL] = "portal",
};

struct pstate {
	const char *fname;
	unsigned int line;
	char *err;
	size_t errlen;
	enum section sec;
	char sec_label[IFNAMSIZ + 16]; /* "accounting" or "interface tun*" */
	struct tw_cfg_iface *iface; /* current [interface] section */
	bool ifaces_from_file; /* the default interfaces were dropped */
	unsigned int *seen; /* line each scalar key was set on, by key index */
	unsigned int state_dir_line, run_dir_line;
};

/* perr() always yields -EINVAL; a macro so static analysers see it (see policy.c). */
static void perr_(struct pstate *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void perr_(struct pstate *st, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!st->errlen)
		return;
	/* Line 0: a check across keys, after the whole file was read. */
	if (st->line)
		n = snprintf(st->err, st->errlen, "%s:%u: ", st->fname, st->line);
	else
		n = snprintf(st->err, st->errlen, "%s: ", st->fname);
	if (n < 0 || (size_t)n >= st->errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(st->err + n, st->errlen - n, fmt, ap);
	va_end(ap);
}
#define perr(...) (perr_(__VA_ARGS__), -EINVAL)

/* ---- key table ---- */

enum ktype {
	K_STR, /* plain name, no whitespace */
	K_PATH, /* absolute path */
	K_DURATION, /* seconds */
	K_SIZE,
	K_U32,
	K_ENUM,
	K_DURATION_MS, /* written in seconds (30s, 5m), kept in milliseconds */
	K_SPECIAL, /* handled by a function */
};

struct kdesc;
typedef int (*khandler)(struct pstate *st, const struct kdesc *k, struct tw_config *c,
			const char *val);

struct kdesc {
	const char *key;
	size_t off;
	size_t size; /* K_STR / K_PATH: buffer size */
	uint64_t min, max; /* numbers */
	const char *const *names; /* K_ENUM: NULL-terminated, value = index */
	khandler fn; /* K_SPECIAL */
	enum section sec;
	enum ktype type;
	bool list; /* may repeat: values append */
};

#define OFF(m) offsetof(struct tw_config, m)
#define SZ(m)  sizeof(((struct tw_config *)0)->m)

static const char *const log_names[] = { "err", "warn", "info", "debug", NULL };
static const char *const attach_names[] = { "auto", "tcx", "tc", NULL };
static const char *const offline_names[] = { "known-only", "sandbox", NULL };

static int k_profiles(struct pstate *st, const struct kdesc *k, struct tw_config *c,
		      const char *val);
static int k_vport(struct pstate *st, const struct kdesc *k, struct tw_config *c, const char *val);
static int k_mgmt(struct pstate *st, const struct kdesc *k, struct tw_config *c, const char *val);
static int k_metrics(struct pstate *st, const struct kdesc *k, struct tw_config *c,
		     const char *val);
static int k_l3off(struct pstate *st, const struct kdesc *k, struct tw_config *c, const char *val);
static int k_ifname(struct pstate *st, const struct kdesc *k, struct tw_config *c, const char *val);
static int k_purl(struct pstate *st, const struct kdesc *k, struct tw_config *c, const char *val);
static int k_pgzip(struct pstate *st, const struct kdesc *k, struct tw_config *c, const char *val);
static int k_pmode(struct pstate *st, const struct kdesc *k, struct tw_config *c, const char *val);
static int k_pubkey(struct pstate *st, const struct kdesc *k, struct tw_config *c, const char *val);

#define DAY 86400ULL
#define KS(s, k, t, m)                                                            \
	{                                                                         \
		.sec = (s), .key = (k), .type = (t), .off = OFF(m), .size = SZ(m) \
	}
#define KN(s, k, t, m, lo, hi)                                                               \
	{                                                                                    \
		.sec = (s), .key = (k), .type = (t), .off = OFF(m), .min = (lo), .max = (hi) \
	}
#define KE(s, k, m, n)                                                              \
	{                                                                           \
		.sec = (s), .key = (k), .type = K_ENUM, .off = OFF(m), .names = (n) \
	}
#define KF(s, k, f, l)                                                            \
	{                                                                         \
		.sec = (s), .key = (k), .type = K_SPECIAL, .fn = (f), .list = (l) \
	}
static const struct kdesc keys[] = {
	KS(SEC_NODE, "id", K_STR, node_id),
	KS(SEC_NODE, "state_dir", K_PATH, state_dir),
	KS(SEC_NODE, "run_dir", K_PATH, run_dir),
	KS(SEC_NODE, "pin_root", K_PATH, pin_root),
	KS(SEC_NODE, "journal", K_PATH, journal_path),
	KS(SEC_NODE, "policy_cache", K_PATH, policy_cache_path),
	KS(SEC_NODE, "status_file", K_PATH, status_path),
	KS(SEC_NODE, "socket", K_PATH, socket_path),
	KE(SEC_NODE, "log_level", log_level, log_names),
	KE(SEC_NODE, "attach_mode", attach_mode, attach_names),

	KF(SEC_INTERFACE, "l3_offset", k_l3off, false),
	KF(SEC_INTERFACE, "profiles", k_profiles, true),

	KF(SEC_UPLINK, "interface", k_ifname, false),
	KF(SEC_UPLINK, "vpn_port", k_vport, true),
	KN(SEC_UPLINK, "handshake_rate", K_U32, ucfg.hs_rate, 0, 1000000),
	KN(SEC_UPLINK, "handshake_burst", K_U32, ucfg.hs_burst, 1, 1000000),
	KN(SEC_UPLINK, "rate_v4_prefix", K_U32, ucfg.v4_prefix, 8, 32),
	KN(SEC_UPLINK, "rate_v6_prefix", K_U32, ucfg.v6_prefix, 16, 128),

	KN(SEC_ACCOUNTING, "interim_interval", K_DURATION, interim_interval_s, 10, DAY),
	KN(SEC_ACCOUNTING, "journal_max_size", K_SIZE, journal_max_bytes, 1ULL << 20, 1ULL << 40),

	KS(SEC_POLICY, "file", K_PATH, policy_file),
	KN(SEC_POLICY, "offline_grace", K_DURATION, offline_grace_s, 0, 365 * DAY),
	KE(SEC_POLICY, "offline_mode", offline_mode, offline_names),

	KN(SEC_CONFIRMATION, "timeout", K_DURATION, confirm_timeout_s, 10, 7 * DAY),
	KN(SEC_CONFIRMATION, "ban_threshold", K_U32, ban_threshold, 0, 1000),
	KN(SEC_CONFIRMATION, "ban_window", K_DURATION, ban_window_s, 1, 30 * DAY),
	KN(SEC_CONFIRMATION, "ban_duration", K_DURATION, ban_duration_s, 0, 365 * DAY),

	KF(SEC_OPENVPN, "management", k_mgmt, true),
	KS(SEC_OPENVPN, "hook_user", K_STR, hook_user),
	KS(SEC_OPENVPN, "hook_group", K_STR, hook_group),

	KF(SEC_METRICS, "listen", k_metrics, false),

	KF(SEC_PORTAL, "url", k_purl, false),
	KS(SEC_PORTAL, "server_name", K_STR, portal.server_name),
	KS(SEC_PORTAL, "ca", K_PATH, portal.ca),
	KS(SEC_PORTAL, "cert", K_PATH, portal.cert),
	KS(SEC_PORTAL, "key", K_PATH, portal.key),
	KS(SEC_PORTAL, "token_file", K_PATH, portal.token_file),
	KF(SEC_PORTAL, "policy_pubkey", k_pubkey, true),
	KF(SEC_PORTAL, "gzip", k_pgzip, false),
	KF(SEC_PORTAL, "record_mode", k_pmode, false),
	KN(SEC_PORTAL, "window", K_U32, portal.window, 1, 1048576),
	KN(SEC_PORTAL, "window_bytes", K_SIZE, portal.window_bytes, 64ULL << 10, 1ULL << 30),
	KN(SEC_PORTAL, "connect_timeout", K_DURATION_MS, portal.connect_timeout_ms, 1, 300),
	KN(SEC_PORTAL, "keepalive", K_DURATION_MS, portal.keepalive_ms, 1, 3600),
	KN(SEC_PORTAL, "keepalive_timeout", K_DURATION_MS, portal.keepalive_timeout_ms, 1, 300),
	KN(SEC_PORTAL, "ack_timeout", K_DURATION_MS, portal.ack_timeout_ms, 5, 3600),
	KN(SEC_PORTAL, "policy_idle_timeout", K_DURATION_MS, portal.policy_idle_timeout_ms, 5,
	   3600),
	KN(SEC_PORTAL, "health_interval", K_DURATION_MS, portal.health_interval_ms, 10, DAY),
	KN(SEC_PORTAL, "backoff_initial", K_DURATION_MS, portal.backoff_initial_ms, 1, 3600),
	KN(SEC_PORTAL, "backoff_max", K_DURATION_MS, portal.backoff_max_ms, 1, DAY),
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static bool is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\v' || ch == '\f';
}

/* Split a list value at commas and/or whitespace; calls @fn once per item. */
static int for_each_item(struct pstate *st, const struct kdesc *k, struct tw_config *c, char *val,
			 int (*fn)(struct pstate *, const struct kdesc *, struct tw_config *,
				   const char *))
{
	char *save = NULL, *tok;
	int err, n = 0;

	for (tok = strtok_r(val, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
		err = fn(st, k, c, tok);
		if (err)
			return err;
		n++;
	}
	if (!n)
		return perr(st, "empty value for '%s' in [%s]", k->key, st->sec_label);
	return 0;
}

static int bad_value(struct pstate *st, const struct kdesc *k, const char *what, const char *val,
		     const char *hint)
{
	char q[TOKEN_QUOTE_MAX * 4 + 4];

	tw_quote_token(q, sizeof(q), val, strlen(val));
	return perr(st, "bad %s '%s' for %s in [%s]%s%s", what, q, k->key, st->sec_label,
		    hint ? ": " : "", hint ? hint : "");
}

static int out_of_range(struct pstate *st, const struct kdesc *k, const char *val, const char *lo,
			const char *hi)
{
	char q[TOKEN_QUOTE_MAX * 4 + 4];

	tw_quote_token(q, sizeof(q), val, strlen(val));
	return perr(st, "%s '%s' out of range [%s, %s] in [%s]", k->key, q, lo, hi, st->sec_label);
}

static bool valid_name(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

/* Interface names as the kernel takes them (dev_valid_name()), plus glob characters. */
static bool valid_ifname(const char *s, bool glob)
{
	size_t n = strlen(s);

	if (!n || n >= IFNAMSIZ || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (; *s; s++) {
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f || *s == '/' ||
		    *s == ':')
			return false;
		if (!glob && (*s == '*' || *s == '?' || *s == '['))
			return false;
	}
	return true;
}

static void fmt_duration(char *buf, size_t n, uint64_t s)
{
	if (s && s % DAY == 0)
		snprintf(buf, n, "%llud", (unsigned long long)(s / DAY));
	else if (s && s % 3600 == 0)
		snprintf(buf, n, "%lluh", (unsigned long long)(s / 3600));
	else if (s && s % 60 == 0)
		snprintf(buf, n, "%llum", (unsigned long long)(s / 60));
	else
		snprintf(buf, n, "%llus", (unsigned long long)s);
}

static void fmt_size(char *buf, size_t n, uint64_t b)
{
	static const char units[] = "KMGT";
	int i;

	for (i = 3; i >= 0; i--) {
		uint64_t u = 1ULL << (10 * (i + 1));

		if (b && b % u == 0) {
			snprintf(buf, n, "%llu%c", (unsigned long long)(b / u), units[i]);
			return;
		}
	}
	snprintf(buf, n, "%llu", (unsigned long long)b);
}

static int set_generic(struct pstate *st, const struct kdesc *k, struct tw_config *c,
		       const char *val)
{
	char *field = (char *)c + k->off;
	char lo[32], hi[32];
	uint64_t v;
	int i, err;

	switch (k->type) {
	case K_STR:
		if (!*val || !valid_name(val))
			return bad_value(st, k, "value", val, "expected a name without spaces");
		if (strlen(val) >= k->size)
			return bad_value(st, k, "value", val, "too long");
		strcpy(field, val);
		return 0;
	case K_PATH:
		if (val[0] != '/' || !valid_name(val))
			return bad_value(st, k, "path", val, "expected an absolute path");
		if (strlen(val) >= k->size)
			return bad_value(st, k, "path", val, "too long");
		strcpy(field, val);
		return 0;
	case K_DURATION:
		err = tw_parse_duration(val, &v);
		if (err == -EINVAL)
			return bad_value(st, k, "duration", val, "expected e.g. 30s, 5m, 2h, 1d");
		if (err || v < k->min || v > k->max) {
			fmt_duration(lo, sizeof(lo), k->min);
			fmt_duration(hi, sizeof(hi), k->max);
			return out_of_range(st, k, val, lo, hi);
		}
		*(uint64_t *)field = v;
		return 0;
	case K_DURATION_MS:
		err = tw_parse_duration(val, &v);
		if (err == -EINVAL)
			return bad_value(st, k, "duration", val, "expected e.g. 30s, 5m, 2h, 1d");
		if (err || v < k->min || v > k->max) {
			fmt_duration(lo, sizeof(lo), k->min);
			fmt_duration(hi, sizeof(hi), k->max);
			return out_of_range(st, k, val, lo, hi);
		}
		*(uint64_t *)field = v * 1000;
		return 0;
	case K_SIZE:
		err = tw_parse_size(val, &v);
		if (err == -EINVAL)
			return bad_value(st, k, "size", val, "expected e.g. 512K, 64M, 2G");
		if (err || v < k->min || v > k->max) {
			fmt_size(lo, sizeof(lo), k->min);
			fmt_size(hi, sizeof(hi), k->max);
			return out_of_range(st, k, val, lo, hi);
		}
		*(uint64_t *)field = v;
		return 0;
	case K_U32: {
		const char *p = val;

		v = 0;
		if (!*p)
			return bad_value(st, k, "number", val, NULL);
		for (; *p; p++) {
			if (*p < '0' || *p > '9')
				return bad_value(st, k, "number", val, NULL);
			v = v * 10 + (*p - '0');
			if (v > k->max)
				break;
		}
		if (v < k->min || v > k->max) {
			snprintf(lo, sizeof(lo), "%llu", (unsigned long long)k->min);
			snprintf(hi, sizeof(hi), "%llu", (unsigned long long)k->max);
			return out_of_range(st, k, val, lo, hi);
		}
		*(uint32_t *)field = (uint32_t)v;
		return 0;
	}
	case K_ENUM: {
		char want[128];
		size_t o = 0;

		for (i = 0; k->names[i]; i++) {
			if (!strcmp(val, k->names[i])) {
				*(int *)field = i;
				return 0;
			}
		}
		for (i = 0; k->names[i] && o < sizeof(want); i++)
			o += snprintf(want + o, sizeof(want) - o, "%s%s", i ? "|" : "expected ",
				      k->names[i]);
		return bad_value(st, k, "value", val, want);
	}
	case K_SPECIAL:
		return k->fn(st, k, c, val);
	}
	return -EINVAL;
}

static int k_l3off(struct pstate *st, const struct kdesc *k, struct tw_config *c, const char *val)
{
	const char *p;
	uint32_t v = 0;

	if (!*val)
		return bad_value(st, k, "number", val, NULL);
	for (p = val; *p; p++) {
		if (*p < '0' || *p > '9')
			return bad_value(st, k, "number", val, NULL);
		v = v * 10 + (*p - '0');
		if (v > 128)
			break;
	}
	/* The BPF side reads the IP header at this constant offset: anything
	 * beyond an Ethernet header plus a couple of VLAN tags is a mistake. */
	if (v > 64)
		return out_of_range(st, k, val, "0", "64");
	st->iface->l3_off = v;
	return 0;
}

static int profile_item(struct pstate *st, const struct kdesc *k, struct tw_config *c,
			const char *val)
{
	struct tw_cfg_iface *ifc = st->iface;
	uint32_t i;

	if (!valid_name(val) || strlen(val) >= TW_CFG_NAME_MAX)
		return bad_value(st, k, "profile name", val, NULL);
	for (i = 0; i < ifc->nprofiles; i++)
		if (!strcmp(ifc->profiles[i], val))
			return bad_value(st, k, "profile", val, "listed twice");
	if (ifc->nprofiles >= TW_CFG_MAX_IFACE_PROFILES)
		return perr(st, "too many profiles in [%s] (at most %d)", st->sec_label,
			    TW_CFG_MAX_IFACE_PROFILES);
	strcpy(ifc->profiles[ifc->nprofiles++], val);
	return 0;
}

static int k_profiles(struct pstate *st, const struct kdesc *k, struct tw_config *c,
		      const char *val)
{
	char tmp[1024];

	if (strlen(val) >= sizeof(tmp))
		return bad_value(st, k, "value", val, "too long");
	strcpy(tmp, val);
	return for_each_item(st, k, c, tmp, profile_item);
}

static int k_ifname(struct pstate *st, const struct kdesc *k, struct tw_config *c, const char *val)
{
	if (!valid_ifname(val, false))
		return bad_value(st, k, "interface name", val, NULL);
	strcpy(c->uplink, val);
	return 0;
}

/* "udp/1194/openvpn" */
static int vport_item(struct pstate *st, const struct kdesc *k, struct tw_config *c,
		      const char *val)
{
	static const char *const kinds[] = {
		[TW_VPN_OPENVPN] = "openvpn", [TW_VPN_WIREGUARD] = "wireguard", [TW_VPN_IKE] = "ike"
	};
	const char *hint = "expected PROTO/PORT/KIND, e.g. udp/1194/openvpn";
	char tmp[64], *proto, *port, *kind, *end;
	struct tw_cfg_vport vp = {};
	unsigned long n;
	uint32_t i;

	if (strlen(val) >= sizeof(tmp))
		return bad_value(st, k, "VPN port", val, hint);
	strcpy(tmp, val);
	proto = tmp;
	port = strchr(proto, '/');
	if (!port)
		return bad_value(st, k, "VPN port", val, hint);
	*port++ = '\0';
	kind = strchr(port, '/');
	if (!kind)
		return bad_value(st, k, "VPN port", val, hint);
	*kind++ = '\0';

	if (!strcmp(proto, "udp"))
		vp.proto = IPPROTO_UDP;
	else if (!strcmp(proto, "tcp"))
		vp.proto = IPPROTO_TCP;
	else
		return bad_value(st, k, "VPN port", val, "protocol must be udp or tcp");
	if (*port < '0' || *port > '9')
		return bad_value(st, k, "VPN port", val, "port must be 1-65535");
	errno = 0;
	n = strtoul(port, &end, 10);
	if (*end || errno || n < 1 || n > 65535)
		return bad_value(st, k, "VPN port", val, "port must be 1-65535");
	vp.port = (uint16_t)n;
	for (i = 1; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strcmp(kind, kinds[i]))
			vp.kind = i;
	if (!vp.kind)
		return bad_value(st, k, "VPN port", val, "kind must be openvpn|wireguard|ike");
	if (vp.proto == IPPROTO_TCP && vp.kind != TW_VPN_OPENVPN)
		return bad_value(st, k, "VPN port", val, "only openvpn runs over tcp");
	for (i = 0; i < c->nvports; i++)
		if (c->vports[i].proto == vp.proto && c->vports[i].port == vp.port)
			return bad_value(st, k, "VPN port", val, "listed twice");
	if (c->nvports >= TW_CFG_MAX_VPORTS)
		return perr(st, "too many vpn_port entries (at most %d)", TW_CFG_MAX_VPORTS);
	c->vports[c->nvports++] = vp;
	return 0;
}

static int k_vport(struct pstate *st, const struct kdesc *k, struct tw_config *c, const char *val)
{
	char tmp[1024];

	if (strlen(val) >= sizeof(tmp))
		return bad_value(st, k, "value", val, "too long");
	strcpy(tmp, val);
	return for_each_item(st, k, c, tmp, vport_item);
}

static int k_mgmt(struct pstate *st, const struct kdesc *k, struct tw_config *c, const char *val)
{
	uint32_t i;

	if (val[0] != '/' || !valid_name(val))
		return bad_value(st, k, "path", val, "expected an absolute path");
	if (strlen(val) >= TW_CFG_SUN_PATH_MAX)
		return bad_value(st, k, "path", val, "longer than a unix socket path may be");
	for (i = 0; i < c->novpn_mgmt; i++)
		if (!strcmp(c->ovpn_mgmt[i], val))
			return bad_value(st, k, "path", val, "listed twice");
	if (c->novpn_mgmt >= TW_CFG_MAX_MGMT)
		return perr(st, "too many management sockets (at most %d)", TW_CFG_MAX_MGMT);
	strcpy(c->ovpn_mgmt[c->novpn_mgmt++], val);
	return 0;
}

/* "127.0.0.1:9310", "[::1]:9310", "localhost:9310", or "off". */
static int k_metrics(struct pstate *st, const struct kdesc *k, struct tw_config *c, const char *val)
{
	const char *hint = "expected 127.0.0.1:PORT, [::1]:PORT, localhost:PORT or off";
	char host[64], *end;
	const char *colon;
	uint8_t a[16] = {}; /* an IPv4 address fills 4: the rest of metrics_addr is zero */
	unsigned long port;
	int fam;

	if (!strcmp(val, "off")) {
		c->metrics_enabled = false;
		c->metrics_listen[0] = '\0';
		return 0;
	}
	if (strlen(val) >= sizeof(c->metrics_listen))
		return bad_value(st, k, "address", val, hint);
	colon = strrchr(val, ':');
	if (!colon || colon == val || (size_t)(colon - val) >= sizeof(host))
		return bad_value(st, k, "address", val, hint);
	memcpy(host, val, colon - val);
	host[colon - val] = '\0';
	if (colon[1] < '0' || colon[1] > '9')
		return bad_value(st, k, "address", val, hint);
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (*end || errno || port < 1 || port > 65535)
		return bad_value(st, k, "address", val, "port must be 1-65535");

	if (!strcmp(host, "localhost")) {
		fam = AF_INET;
		inet_pton(AF_INET, "127.0.0.1", a);
	} else if (host[0] == '[') {
		size_t n = strlen(host);

		if (n < 3 || host[n - 1] != ']')
			return bad_value(st, k, "address", val, hint);
		host[n - 1] = '\0';
		fam = AF_INET6;
		if (inet_pton(AF_INET6, host + 1, a) != 1)
			return bad_value(st, k, "address", val, hint);
	} else {
		fam = AF_INET;
		if (inet_pton(AF_INET, host, a) != 1)
			return bad_value(st, k, "address", val, hint);
	}
	/* Metrics carry subject names and per-tenant figures: they are for a
	 * local scraper or an SSH tunnel, never for the network. */
	if ((fam == AF_INET && a[0] != 127) ||
	    (fam == AF_INET6 && memcmp(a, in6addr_loopback.s6_addr, 16) != 0)) {
		char q[TOKEN_QUOTE_MAX * 4 + 4];

		tw_quote_token(q, sizeof(q), val, strlen(val));
		return perr(st, "metrics listen address '%s' is not a loopback address", q);
	}
	c->metrics_enabled = true;
	strcpy(c->metrics_listen, val);
	c->metrics_family = fam;
	memcpy(c->metrics_addr, a, sizeof(a));
	c->metrics_port = (uint16_t)port;
	return 0;
}

/* ---- [portal] ---- */

/* The host of an http:// URL must be a loopback one: h2c carries records and
 * policy in clear text (docs/protocol.md 2.1). @host as in the URL. */
static bool loopback_host(const char *host, size_t n)
{
	char h[64];
	uint8_t a[16];

	if (n == 9 && !strncmp(host, "localhost", 9))
		return true;
	if (n >= sizeof(h))
		return false;
	if (n > 2 && host[0] == '[' && host[n - 1] == ']') {
		memcpy(h, host + 1, n - 2);
		h[n - 2] = '\0';
		return inet_pton(AF_INET6, h, a) == 1 && !memcmp(a, in6addr_loopback.s6_addr, 16);
	}
	memcpy(h, host, n);
	h[n] = '\0';
	return inet_pton(AF_INET, h, a) == 1 && a[0] == 127;
}

static int k_purl(struct pstate *st, const struct kdesc *k, struct tw_config *c, const char *val)
{
	const char *host, *end, *p;
	bool tls = !strncmp(val, "https://", 8);
	size_t hn;

	if (!tls && strncmp(val, "http://", 7))
		return bad_value(st, k, "URL", val, "expected https://host[:port]/[path/]");
	if (strlen(val) >= sizeof(c->portal.url))
		return bad_value(st, k, "URL", val, "too long");
	for (p = val; *p; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f || *p == '?' ||
		    *p == '#' || *p == '@')
			return bad_value(st, k, "URL", val,
					 "no spaces, user info, query or fragment");
	host = val + (tls ? 8 : 7);
	end = strchr(host, '/');
	if (!end)
		end = host + strlen(host);
	/* the host ends at the port's colon (after the ']' of an IPv6 literal) */
	p = host[0] == '[' ? memchr(host, ']', (size_t)(end - host)) : host;
	if (!p)
		return bad_value(st, k, "URL", val, "unterminated IPv6 literal");
	p = memchr(p, ':', (size_t)(end - p));
	hn = (size_t)((p ? p : end) - host);
	if (!hn)
		return bad_value(st, k, "URL", val, "no host");
	if (p) {
		char *pe;
		unsigned long port = strtoul(p + 1, &pe, 10);

		if (pe != end || p + 1 == end || !port || port > 65535)
			return bad_value(st, k, "URL", val, "bad port");
	}
	if (*end && end[strlen(end) - 1] != '/')
		return bad_value(st, k, "URL", val, "the base path must end with '/'");
	if (!tls && !loopback_host(host, hn))
		return bad_value(st, k, "URL", val,
				 "http:// (h2c, clear text) only to 127.0.0.0/8, ::1 or localhost");
	strcpy(c->portal.url, val);
	return 0;
}

static int k_pgzip(struct pstate *st, const struct kdesc *k, struct tw_config *c, const char *val)
{
	if (strcmp(val, "yes") && strcmp(val, "no"))
		return bad_value(st, k, "value", val, "expected yes|no");
	c->portal.gzip = !strcmp(val, "yes");
	return 0;
}

/* Batch mode (protocol.md 4.8) is not implemented: say so rather than ignore it. */
static int k_pmode(struct pstate *st, const struct kdesc *k, struct tw_config *c, const char *val)
{
	(void)c;
	if (!strcmp(val, "stream"))
		return 0;
	return bad_value(st, k, "value", val,
			 strcmp(val, "batch") ? "expected stream" :
						"batch mode is not implemented");
}

static int k_pubkey(struct pstate *st, const struct kdesc *k, struct tw_config *c, const char *val)
{
	struct tw_portal_cfg *p = &c->portal;

	if (val[0] != '/' || !valid_name(val))
		return bad_value(st, k, "path", val, "expected an absolute path");
	if (strlen(val) >= sizeof(p->policy_pubkey[0]))
		return bad_value(st, k, "path", val, "too long");
	if (p->npolicy_pubkeys >= TW_CFG_MAX_PUBKEYS)
		return perr(st, "too many policy_pubkey entries in [portal] (at most %d)",
			    TW_CFG_MAX_PUBKEYS);
	strcpy(p->policy_pubkey[p->npolicy_pubkeys++], val);
	return 0;
}

bool tw_node_id_valid(const char *s)
{
	size_t i;

	if (!isalnum((unsigned char)s[0]))
		return false;
	for (i = 1; s[i]; i++)
		if (i > 62 || !(isalnum((unsigned char)s[i]) || strchr("._-", s[i])))
			return false;
	return true;
}

/* The token is a secret: a file others can read or replace is refused. */
static int check_token_file(struct pstate *st, const char *path)
{
	struct stat sb;

	if (stat(path, &sb))
		return perr(st, "[portal] token_file %s: %s", path, strerror(errno));
	if (!S_ISREG(sb.st_mode))
		return perr(st, "[portal] token_file %s: not a regular file", path);
	if (sb.st_uid != 0 || (sb.st_mode & 077))
		return perr(st,
			    "[portal] token_file %s: must be owned by root with mode 0600 or "
			    "stricter (is uid %u, mode %04o)",
			    path, (unsigned int)sb.st_uid, (unsigned int)(sb.st_mode & 07777));
	return 0;
}

static int finish_portal(struct pstate *st, struct tw_config *c)
{
	const struct tw_portal_cfg *p = &c->portal;

	if (!p->url[0])
		return 0;
	if (c->node_id[0] && !tw_node_id_valid(c->node_id))
		return perr(st,
			    "[node] id '%s' cannot be used with a portal: it must match "
			    "[A-Za-z0-9][A-Za-z0-9._-]{0,62}",
			    c->node_id);
	if (!p->cert[0] != !p->key[0])
		return perr(st, "[portal] cert and key go together: set both or neither");
	if (!strncmp(p->url, "https://", 8) && !p->cert[0] && !p->token_file[0])
		return perr(st, "[portal] url is set but there is no identity: set cert and key, "
				"or token_file");
	if (p->backoff_max_ms < p->backoff_initial_ms)
		return perr(st, "[portal] backoff_max is below backoff_initial");
	return p->token_file[0] ? check_token_file(st, p->token_file) : 0;
}

void tw_config_defaults(struct tw_config *c)
{
	memset(c, 0, sizeof(*c));
	strcpy(c->state_dir, "/var/lib/tunwarden");
	strcpy(c->run_dir, "/run/tunwarden");
	strcpy(c->pin_root, TW_PIN_ROOT);
	c->log_level = TW_LOG_INFO;
	c->attach_mode = TW_ATTACH_AUTO;

	/* Without [interface] sections: every OpenVPN and WireGuard device,
	 * the names those daemons give by default. */
	strcpy(c->ifaces[0].pattern, "tun*");
	strcpy(c->ifaces[1].pattern, "wg*");
	c->nifaces = 2;

	c->ucfg.hs_rate = 20;
	c->ucfg.hs_burst = 40;
	c->ucfg.v4_prefix = 32;
	c->ucfg.v6_prefix = 64;

	c->interim_interval_s = 300;
	c->journal_max_bytes = 256ULL << 20;

	strcpy(c->policy_file, "/etc/tunwarden/policy.json");
	c->offline_grace_s = DAY;
	c->offline_mode = TW_OFFLINE_KNOWN_ONLY;

	c->confirm_timeout_s = 300;
	c->ban_threshold = 5;
	c->ban_window_s = 900;
	c->ban_duration_s = 3600;

	c->portal.window = 65536;
	c->portal.window_bytes = 32ULL << 20;
	c->portal.connect_timeout_ms = 10000;
	c->portal.keepalive_ms = 15000;
	c->portal.keepalive_timeout_ms = 10000;
	c->portal.ack_timeout_ms = 30000;
	c->portal.policy_idle_timeout_ms = 45000;
	c->portal.health_interval_ms = 60000;
	c->portal.backoff_initial_ms = 1000;
	c->portal.backoff_max_ms = 60000;
}

void tw_config_free(struct tw_config *c)
{
	(void)c; /* fixed-size members only; see config.h */
}

const struct tw_cfg_iface *tw_config_iface_match(const struct tw_config *c, const char *ifname)
{
	uint32_t i;

	for (i = 0; i < c->nifaces; i++)
		if (!fnmatch(c->ifaces[i].pattern, ifname, 0))
			return &c->ifaces[i];
	return NULL;
}

/* "[name]" or "[interface PATTERN]" / "[interface \"PATTERN\"]"; @s is trimmed. */
static int parse_section(struct pstate *st, struct tw_config *c, char *s)
{
	char q[TOKEN_QUOTE_MAX * 4 + 4];
	size_t n = strlen(s);
	char *name, *arg, *e;
	unsigned int i;

	if (s[n - 1] != ']') {
		tw_quote_token(q, sizeof(q), s, n);
		return perr(st, "unterminated section header '%s'", q);
	}
	s[n - 1] = '\0';
	name = s + 1;
	while (is_space(*name))
		name++;
	for (e = name + strlen(name); e > name && is_space(e[-1]); e--)
		;
	*e = '\0';
	arg = name;
	while (*arg && !is_space(*arg))
		arg++;
	if (*arg) {
		*arg++ = '\0';
		while (is_space(*arg))
			arg++;
	}

	for (i = SEC_NODE; i < sizeof(section_names) / sizeof(section_names[0]); i++)
		if (!strcmp(name, section_names[i]))
			break;
	if (i == sizeof(section_names) / sizeof(section_names[0])) {
		tw_quote_token(q, sizeof(q), name, strlen(name));
		return perr(st, "unknown section [%s]", q);
	}
	st->sec = i;
	st->iface = NULL;
	memset(st->seen, 0, NKEYS * sizeof(*st->seen));

	if (st->sec != SEC_INTERFACE) {
		if (*arg) {
			tw_quote_token(q, sizeof(q), arg, strlen(arg));
			return perr(st, "section [%s] takes no name, got '%s'", name, q);
		}
		snprintf(st->sec_label, sizeof(st->sec_label), "%s", name);
		return 0;
	}

	n = strlen(arg);
	if (n >= 2 && arg[0] == '"' && arg[n - 1] == '"') {
		arg[n - 1] = '\0';
		arg++;
	}
	if (!valid_ifname(arg, true)) {
		tw_quote_token(q, sizeof(q), arg, strlen(arg));
		return perr(st, "bad interface name or pattern '%s' in section header", q);
	}
	if (!st->ifaces_from_file) {
		c->nifaces = 0;
		memset(c->ifaces, 0, sizeof(c->ifaces));
		st->ifaces_from_file = true;
	}
	for (i = 0; i < c->nifaces; i++) {
		if (!strcmp(c->ifaces[i].pattern, arg))
			return perr(st, "duplicate section [interface %s]", arg);
	}
	if (c->nifaces >= TW_CFG_MAX_IFACES)
		return perr(st, "too many [interface] sections (at most %d)", TW_CFG_MAX_IFACES);
	st->iface = &c->ifaces[c->nifaces++];
	strcpy(st->iface->pattern, arg);
	snprintf(st->sec_label, sizeof(st->sec_label), "interface %s", arg);
	return 0;
}

static int parse_kv(struct pstate *st, struct tw_config *c, char *s)
{
	char q[TOKEN_QUOTE_MAX * 4 + 4];
	char *eq, *key, *val, *e;
	const struct kdesc *k = NULL;
	size_t i, n;

	eq = strchr(s, '=');
	if (!eq) {
		tw_quote_token(q, sizeof(q), s, strlen(s));
		return perr(st, "expected 'key = value', got '%s'", q);
	}
	*eq = '\0';
	key = s;
	for (e = eq; e > key && is_space(e[-1]); e--)
		;
	*e = '\0';
	val = eq + 1;
	while (is_space(*val))
		val++;
	n = strlen(val);
	if (n >= 2 && val[0] == '"' && val[n - 1] == '"') {
		val[n - 1] = '\0';
		val++;
	}

	if (!*key)
		return perr(st, "missing key before '='");
	if (st->sec == SEC_NONE) {
		tw_quote_token(q, sizeof(q), key, strlen(key));
		return perr(st, "key '%s' outside of any section", q);
	}
	for (i = 0; i < NKEYS; i++) {
		if (keys[i].sec == st->sec && !strcmp(keys[i].key, key)) {
			k = &keys[i];
			break;
		}
	}
	if (!k) {
		tw_quote_token(q, sizeof(q), key, strlen(key));
		return perr(st, "unknown key '%s' in [%s]", q, st->sec_label);
	}
	if (!k->list && st->seen[i])
		return perr(st, "duplicate key '%s' in [%s] (first set on line %u)", k->key,
			    st->sec_label, st->seen[i]);
	if (!*val)
		return perr(st, "empty value for '%s' in [%s]", k->key, st->sec_label);
	st->seen[i] = st->line;
	if (!strcmp(k->key, "state_dir"))
		st->state_dir_line = st->line;
	if (!strcmp(k->key, "run_dir"))
		st->run_dir_line = st->line;
	return set_generic(st, k, c, val);
}

/* Derive the file paths that were not set explicitly from the directories. */
static int derive(struct pstate *st, char *dst, size_t n, const char *dir, const char *leaf,
		  unsigned int dir_line, const char *dirkey)
{
	int w;

	if (dst[0])
		return 0;
	w = snprintf(dst, n, "%s/%s", dir, leaf);
	if (w < 0 || (size_t)w >= n) {
		st->line = dir_line;
		return perr(st, "%s too long to hold '%s'", dirkey, leaf);
	}
	return 0;
}

static int finish(struct pstate *st, struct tw_config *c)
{
	int err;

	err = derive(st, c->journal_path, sizeof(c->journal_path), c->state_dir, "journal.db",
		     st->state_dir_line, "state_dir");
	err = err   ?:
		      derive(st, c->policy_cache_path, sizeof(c->policy_cache_path), c->state_dir,
			     "policy.json", st->state_dir_line, "state_dir");
	err = err   ?:
		      derive(st, c->status_path, sizeof(c->status_path), c->state_dir,
			     "status.json", st->state_dir_line, "state_dir");
	err = err   ?:
		      derive(st, c->socket_path, sizeof(c->socket_path), c->run_dir,
			     "tunwardend.sock", st->run_dir_line, "run_dir");
	if (err)
		return err;
	st->line = 0;
	if (c->uplink[0] && !c->nvports) {
		return perr(st, "[uplink] interface '%s' is set but no vpn_port is listed",
			    c->uplink);
	}
	if (c->ucfg.hs_rate && c->ucfg.hs_burst < c->ucfg.hs_rate / 10) {
		/* A bucket shallower than a tenth of a second's refill drops
		 * the retransmits of a single client behind NAT. */
		return perr(st, "[uplink] handshake_burst %u is below handshake_rate/10 (%u)",
			    c->ucfg.hs_burst, c->ucfg.hs_rate / 10);
	}
	return finish_portal(st, c);
}

int tw_config_parse(const char *buf, size_t len, const char *fname, struct tw_config *out,
		    char *err, size_t errlen)
{
	unsigned int seen[NKEYS] = {};
	struct pstate st = {
		.fname = fname ? fname : "tunwarden.conf",
		.err = err,
		.errlen = errlen,
		.seen = seen,
	};
	struct tw_config *c;
	char line[4096];
	size_t pos = 0;
	int ret = 0;

	if (errlen)
		err[0] = '\0';
	if (len > TW_CFG_MAX_BYTES) {
		snprintf(err, errlen, "%s: %zu bytes is larger than the %d byte limit", st.fname,
			 len, TW_CFG_MAX_BYTES);
		return -E2BIG;
	}
	/* Parse into a scratch copy so @out is untouched on error. */
	c = malloc(sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "%s: out of memory", st.fname);
		return -ENOMEM;
	}
	tw_config_defaults(c);

	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (buf + pos)) : len - pos;
		char *s, *e, *hash;

		st.line++;
		if (n >= sizeof(line)) {
			ret = perr(&st, "line longer than %zu bytes", sizeof(line) - 1);
			goto out;
		}
		if (memchr(buf + pos, '\0', n)) {
			ret = perr(&st, "NUL byte in line");
			goto out;
		}
		memcpy(line, buf + pos, n);
		line[n] = '\0';
		pos += n + 1;

		/* '#' starts a comment at the line start or after whitespace;
		 * elsewhere it is part of the value. */
		for (hash = line; (hash = strchr(hash, '#')); hash++) {
			if (hash == line || is_space(hash[-1])) {
				*hash = '\0';
				break;
			}
		}
		s = line;
		while (is_space(*s))
			s++;
		for (e = s + strlen(s); e > s && is_space(e[-1]); e--)
			;
		*e = '\0';
		if (!*s || *s == ';')
			continue;
		ret = *s == '[' ? parse_section(&st, c, s) : parse_kv(&st, c, s);
		if (ret)
			goto out;
	}
	ret = finish(&st, c);
	if (!ret)
		*out = *c;
out:
	free(c);
	return ret;
}
