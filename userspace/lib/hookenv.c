// SPDX-License-Identifier: GPL-2.0-only
/*
 * OpenVPN script-hook environment parser: a pure function over envp/argv
 * (no getenv, no I/O). See hookenv.h for what each script type requires.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include "config.h" /* tw_quote_token */
#include "hookenv.h"
#include "tw_utf8.h"

/* The variables the parser reads; everything else in the environment is ignored. */
enum var {
	V_SCRIPT_TYPE,
	V_DEV,
	V_COMMON_NAME,
	V_X509_0_OU,
	V_TRUSTED_IP,
	V_TRUSTED_IP6,
	V_TRUSTED_PORT,
	V_UNTRUSTED_IP,
	V_UNTRUSTED_IP6,
	V_UNTRUSTED_PORT,
	V_POOL_IP,
	V_POOL_IP6,
	V_BYTES_RECEIVED,
	V_BYTES_SENT,
	V_TIME_UNIX,
	V_TIME_DURATION,
	V_CC_CONFIG_FILE,
	NR_VARS,
};

static const char *const var_names[NR_VARS] = {
	[V_SCRIPT_TYPE] = "script_type",
	[V_DEV] = "dev",
	[V_COMMON_NAME] = "common_name",
	[V_X509_0_OU] = "X509_0_OU",
	[V_TRUSTED_IP] = "trusted_ip",
	[V_TRUSTED_IP6] = "trusted_ip6",
	[V_TRUSTED_PORT] = "trusted_port",
	[V_UNTRUSTED_IP] = "untrusted_ip",
	[V_UNTRUSTED_IP6] = "untrusted_ip6",
	[V_UNTRUSTED_PORT] = "untrusted_port",
	[V_POOL_IP] = "ifconfig_pool_remote_ip",
	[V_POOL_IP6] = "ifconfig_pool_remote_ip6",
	[V_BYTES_RECEIVED] = "bytes_received",
	[V_BYTES_SENT] = "bytes_sent",
	[V_TIME_UNIX] = "time_unix",
	[V_TIME_DURATION] = "time_duration",
	[V_CC_CONFIG_FILE] = "client_connect_config_file",
};

/* Quoted values are cut by tw_quote_token(); each byte may become "\xNN". */
#define QUOTE_BUF (64 * 4 + 4)

struct pstate {
	const char *val[NR_VARS];
	char *err;
	size_t errlen;
};

static int perr(struct pstate *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int perr(struct pstate *st, const char *fmt, ...)
{
	va_list ap;

	if (st->errlen) {
		va_start(ap, fmt);
		vsnprintf(st->err, st->errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* "NAME: WHAT: 'VALUE'" with VALUE quoted so that it cannot forge a log line. */
static int bad(struct pstate *st, const char *name, const char *what, const char *val)
{
	char q[QUOTE_BUF];

	tw_quote_token(q, sizeof(q), val, strlen(val));
	return perr(st, "%s: %s: '%s'", name, what, q);
}

/* "NAME: WHAT in 'VALUE'": for a bad byte inside an otherwise plausible value. */
static int bad_in(struct pstate *st, const char *name, const char *what, const char *val)
{
	char q[QUOTE_BUF];

	tw_quote_token(q, sizeof(q), val, strlen(val));
	return perr(st, "%s: %s in '%s'", name, what, q);
}

static int collect(struct pstate *st, char *const envp[])
{
	size_t i, klen;
	int v;

	if (!envp)
		return 0;
	for (i = 0; envp[i]; i++) {
		const char *kv = envp[i], *eq = strchr(kv, '=');

		if (!eq)
			continue;
		klen = eq - kv;
		for (v = 0; v < NR_VARS; v++) {
			if (strlen(var_names[v]) != klen || memcmp(kv, var_names[v], klen) != 0)
				continue;
			/* Refused rather than picking one: getenv() takes the first, a
			 * shell the last, and the hook must see what OpenVPN meant. */
			if (st->val[v])
				return bad(st, var_names[v], "set twice, second value", eq + 1);
			st->val[v] = eq + 1;
			break;
		}
	}
	return 0;
}

static int parse_u64(struct pstate *st, const char *name, const char *s, uint64_t max,
		     uint64_t *out)
{
	uint64_t v = 0;
	const char *p;

	if (!*s)
		return bad(st, name, "not a number", s);
	/* Digits only: strtoull() would take signs, spaces and "0x". */
	for (p = s; *p; p++) {
		unsigned int d = (unsigned char)*p - '0';

		if (d > 9)
			return bad(st, name, "not a number", s);
		if (v > (UINT64_MAX - d) / 10)
			return bad(st, name, "out of range", s);
		v = v * 10 + d;
	}
	if (v > max)
		return bad(st, name, "out of range", s);
	*out = v;
	return 0;
}

/*
 * UTF-8 without control characters: OpenVPN passes a UTF-8 CN intact (and
 * maps control characters to '_'), so anything else did not come from it.
 * Counted in characters, as X.509's upper bounds are.
 */
static int name_rules(struct pstate *st, const char *name, const char *s, size_t n)
{
	enum tw_utf8_err e;
	size_t i, chars = 0;

	if (!n)
		return bad(st, name, "empty", s);
	if (n > TW_HOOK_CN_BYTES)
		return perr(st, "%s: longer than %d bytes (%zu)", name, TW_HOOK_CN_BYTES, n);
	e = tw_utf8_check(s, n, NULL);
	if (e) {
		char q[QUOTE_BUF];

		tw_utf8_escape(q, sizeof(q), s, n, 64);
		return perr(st, "%s: %s in '%s'", name, tw_utf8_strerror(e), q);
	}
	for (i = 0; i < n; i++)
		chars += ((unsigned char)s[i] & 0xc0) != 0x80;
	if (chars > TW_HOOK_CN_MAX)
		return perr(st, "%s: longer than %d characters (%zu)", name, TW_HOOK_CN_MAX, chars);
	return 0;
}

int tw_hook_check_name(const char *what, const char *s, size_t n, char *err, size_t errlen)
{
	struct pstate st = { .err = err, .errlen = errlen };

	return name_rules(&st, what, s, n);
}

/* @a inside @p/@plen */
static bool in_prefix(const struct tw_addr *a, const struct tw_addr *p, unsigned int plen)
{
	unsigned int full = plen / 8, rest = plen % 8;

	if (a->family != p->family || memcmp(a->addr, p->addr, full))
		return false;
	return !rest || !((a->addr[full] ^ p->addr[full]) & (0xff00 >> rest));
}

/* @a's host bits (past @plen) all equal to @bit */
static bool host_bits_all(const struct tw_addr *a, unsigned int plen, int bit)
{
	for (unsigned int i = plen; i < tw_addr_bits(a->family); i++)
		if (((a->addr[i / 8] >> (7 - i % 8)) & 1) != bit)
			return false;
	return true;
}

int tw_hook_check_pool(const char *what, const struct tw_addr *a, const struct tw_hook_ifaddr *ifa,
		       size_t n, char *err, size_t errlen)
{
	struct pstate st = { .err = err, .errlen = errlen };
	char s[INET6_ADDRSTRLEN] = "?";
	int af = a->family == TW_FAM_V4 ? AF_INET : AF_INET6;
	bool v4 = a->family == TW_FAM_V4;

	inet_ntop(af, a->addr, s, sizeof(s));
	for (size_t i = 0; i < n; i++)
		if (!memcmp(a->addr, ifa[i].addr.addr, 16) && a->family == ifa[i].addr.family)
			return perr(&st, "%s: %s is the interface's own address", what, s);
	for (size_t i = 0; i < n; i++) {
		const struct tw_hook_ifaddr *f = &ifa[i];

		if (f->addr.family != a->family || f->plen > tw_addr_bits(a->family))
			continue;
		/* fe80::/10: every tun device may have one; never a pool */
		if (!v4 && f->addr.addr[0] == 0xfe && (f->addr.addr[1] & 0xc0) == 0x80)
			continue;
		if (!in_prefix(a, &f->addr, f->plen))
			continue;
		if (v4 && f->plen < 31 &&
		    (host_bits_all(a, f->plen, 0) || host_bits_all(a, f->plen, 1)))
			return perr(&st, "%s: %s is the subnet's network or broadcast address",
				    what, s);
		return 0;
	}
	return perr(&st, "%s: %s is outside the interface's subnets", what, s);
}

static int check_name(struct pstate *st, const char *name, const char *s, char *dst, size_t dstlen)
{
	size_t n = strlen(s);
	int err = name_rules(st, name, s, n);

	if (err)
		return err;
	if (n >= dstlen)
		return perr(st, "%s: too long", name);
	memcpy(dst, s, n + 1);
	return 0;
}

static int parse_ip4(struct pstate *st, const char *name, const char *s, struct in_addr *out)
{
	if (inet_pton(AF_INET, s, out) != 1)
		return bad(st, name, "not an IPv4 address", s);
	return 0;
}

static int parse_ip6(struct pstate *st, const char *name, const char *s, struct in6_addr *out)
{
	if (inet_pton(AF_INET6, s, out) != 1)
		return bad(st, name, "not an IPv6 address", s);
	return 0;
}

static int parse_dev(struct pstate *st, const char *s, char *dst)
{
	size_t i, n = strlen(s);

	if (!n)
		return bad(st, "dev", "empty", s);
	if (n >= IFNAMSIZ)
		return bad(st, "dev", "longer than 15 bytes", s);
	if (!strcmp(s, ".") || !strcmp(s, ".."))
		return bad(st, "dev", "not an interface name", s);
	/* What the kernel's dev_valid_name() refuses. */
	for (i = 0; i < n; i++) {
		unsigned char c = s[i];

		if (c <= 0x20 || c >= 0x7f || c == '/' || c == ':')
			return bad(st, "dev", "not an interface name", s);
	}
	memcpy(dst, s, n + 1);
	return 0;
}

static int parse_path(struct pstate *st, const char *name, const char *s, char *dst)
{
	size_t i, n = strlen(s);

	if (s[0] != '/')
		return bad(st, name, "not an absolute path", s);
	if (n >= TW_HOOK_PATH_MAX)
		return perr(st, "%s: path longer than %d bytes", name, TW_HOOK_PATH_MAX - 1);
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return bad_in(st, name, "control character", s);
	memcpy(dst, s, n + 1);
	return 0;
}

/* The real address: trusted_* once authenticated, untrusted_* as a fallback. */
static int parse_real_addr(struct pstate *st, struct tw_hook_env *e, bool required)
{
	int i4 = V_TRUSTED_IP, i6 = V_TRUSTED_IP6, ip = V_TRUSTED_PORT;
	uint64_t port = 0;
	int err;

	if (!st->val[V_TRUSTED_IP] && !st->val[V_TRUSTED_IP6] && !st->val[V_TRUSTED_PORT] &&
	    (st->val[V_UNTRUSTED_IP] || st->val[V_UNTRUSTED_IP6])) {
		i4 = V_UNTRUSTED_IP;
		i6 = V_UNTRUSTED_IP6;
		ip = V_UNTRUSTED_PORT;
		e->addr_untrusted = true;
	}
	if (st->val[i4]) {
		err = parse_ip4(st, var_names[i4], st->val[i4], &e->trusted_ip);
		if (err)
			return err;
		e->has_trusted_ip = true;
	}
	if (st->val[i6]) {
		err = parse_ip6(st, var_names[i6], st->val[i6], &e->trusted_ip6);
		if (err)
			return err;
		e->has_trusted_ip6 = true;
	}
	if (st->val[ip]) {
		err = parse_u64(st, var_names[ip], st->val[ip], UINT16_MAX, &port);
		if (err)
			return err;
		if (!port)
			return bad(st, var_names[ip], "out of range", st->val[ip]);
		e->trusted_port = port;
	}
	if (!required)
		return 0;
	if (!e->has_trusted_ip && !e->has_trusted_ip6)
		return perr(st, "trusted_ip: missing (neither trusted_ip nor trusted_ip6 is set)");
	if (!e->trusted_port)
		return perr(st, "trusted_port: missing");
	return 0;
}

static int parse_learn(struct pstate *st, struct tw_hook_env *e, int argc, char *const argv[])
{
	const char *op, *addr, *slash;
	char buf[INET6_ADDRSTRLEN + 1];
	uint64_t bits = 0;
	size_t n;
	int err;

	if (argc < 3 || !argv[1] || !argv[2])
		return perr(st, "learn-address: expected arguments OPERATION ADDRESS [CN], got %d",
			    argc > 0 ? argc - 1 : 0);
	op = argv[1];
	if (!strcmp(op, "add"))
		e->learn_op = TW_HOOK_LEARN_ADD;
	else if (!strcmp(op, "update"))
		e->learn_op = TW_HOOK_LEARN_UPDATE;
	else if (!strcmp(op, "delete"))
		e->learn_op = TW_HOOK_LEARN_DELETE;
	else
		return bad(st, "argv[1]", "not add, update or delete", op);

	addr = argv[2];
	slash = strchr(addr, '/');
	n = slash ? (size_t)(slash - addr) : strlen(addr);
	if (n >= sizeof(buf))
		return bad(st, "argv[2]", "not an IPv4 or IPv6 address", addr);
	memcpy(buf, addr, n);
	buf[n] = '\0';
	memset(&e->learn_addr, 0, sizeof(e->learn_addr));
	if (inet_pton(AF_INET, buf, &e->learn_addr) == 1) {
		e->learn_family = AF_INET;
		e->learn_prefix = 32;
	} else if (inet_pton(AF_INET6, buf, &e->learn_addr) == 1) {
		e->learn_family = AF_INET6;
		e->learn_prefix = 128;
	} else {
		/* tap mode learns MAC addresses; tunwarden's dataplane is layer 3. */
		return bad(st, "argv[2]", "not an IPv4 or IPv6 address", addr);
	}
	if (slash) {
		err = parse_u64(st, "argv[2] prefix length", slash + 1, e->learn_prefix, &bits);
		if (err)
			return err;
		e->learn_prefix = bits;
	}

	if (e->learn_op == TW_HOOK_LEARN_DELETE)
		return 0;
	if (argc < 4 || !argv[3])
		return perr(st, "learn-address: %s without a common name (argv[3])", op);
	err = check_name(st, "argv[3]", argv[3], e->common_name, sizeof(e->common_name));
	if (err)
		return err;
	if (st->val[V_COMMON_NAME] && strcmp(st->val[V_COMMON_NAME], argv[3]) != 0)
		return bad(st, "common_name", "differs from argv[3]", st->val[V_COMMON_NAME]);
	return 0;
}

const char *tw_hook_script_name(enum tw_hook_script t)
{
	switch (t) {
	case TW_HOOK_CLIENT_CONNECT:
		return "client-connect";
	case TW_HOOK_CLIENT_DISCONNECT:
		return "client-disconnect";
	case TW_HOOK_LEARN_ADDRESS:
		return "learn-address";
	}
	return "unknown";
}

int tw_hook_env_parse(char *const envp[], int argc, char *const argv[], struct tw_hook_env *out,
		      char *err, size_t errlen)
{
	struct pstate st = { .err = err, .errlen = errlen };
	struct tw_hook_env env = {}, *e = &env;
	const char *v;
	bool connect, disconnect;
	int ret;

	if (errlen)
		err[0] = '\0';
	ret = collect(&st, envp);
	if (ret)
		goto out;

	v = st.val[V_SCRIPT_TYPE];
	if (!v) {
		ret = perr(&st, "script_type: missing");
		goto out;
	}
	if (!strcmp(v, "client-connect")) {
		e->script_type = TW_HOOK_CLIENT_CONNECT;
	} else if (!strcmp(v, "client-disconnect")) {
		e->script_type = TW_HOOK_CLIENT_DISCONNECT;
	} else if (!strcmp(v, "learn-address")) {
		e->script_type = TW_HOOK_LEARN_ADDRESS;
	} else {
		ret = bad(&st, "script_type", "not a supported hook", v);
		goto out;
	}
	connect = e->script_type == TW_HOOK_CLIENT_CONNECT;
	disconnect = e->script_type == TW_HOOK_CLIENT_DISCONNECT;

	if (!st.val[V_DEV]) {
		ret = perr(&st, "dev: missing");
		goto out;
	}
	ret = parse_dev(&st, st.val[V_DEV], e->dev);
	if (ret)
		goto out;

	if (st.val[V_COMMON_NAME]) {
		ret = check_name(&st, "common_name", st.val[V_COMMON_NAME], e->common_name,
				 sizeof(e->common_name));
		if (ret)
			goto out;
	} else if (connect || disconnect) {
		ret = perr(&st, "common_name: missing");
		goto out;
	}
	if (st.val[V_X509_0_OU]) {
		ret = check_name(&st, "X509_0_OU", st.val[V_X509_0_OU], e->ou, sizeof(e->ou));
		if (ret)
			goto out;
	}

	ret = parse_real_addr(&st, e, connect || disconnect);
	if (ret)
		goto out;

	if ((v = st.val[V_POOL_IP])) {
		ret = parse_ip4(&st, var_names[V_POOL_IP], v, &e->pool_ip);
		if (ret)
			goto out;
		e->has_pool_ip = true;
	}
	if ((v = st.val[V_POOL_IP6])) {
		ret = parse_ip6(&st, var_names[V_POOL_IP6], v, &e->pool_ip6);
		if (ret)
			goto out;
		e->has_pool_ip6 = true;
	}

	if (st.val[V_BYTES_RECEIVED] || st.val[V_BYTES_SENT] || disconnect) {
		if (!st.val[V_BYTES_RECEIVED] || !st.val[V_BYTES_SENT]) {
			ret = perr(&st, "%s: missing",
				   st.val[V_BYTES_RECEIVED] ? "bytes_sent" : "bytes_received");
			goto out;
		}
		ret = parse_u64(&st, "bytes_received", st.val[V_BYTES_RECEIVED], UINT64_MAX,
				&e->bytes_received);
		if (ret)
			goto out;
		ret = parse_u64(&st, "bytes_sent", st.val[V_BYTES_SENT], UINT64_MAX,
				&e->bytes_sent);
		if (ret)
			goto out;
		e->has_bytes = true;
	}
	if ((v = st.val[V_TIME_UNIX])) {
		/* Must fit a time_t. */
		ret = parse_u64(&st, "time_unix", v, INT64_MAX, &e->time_unix);
		if (ret)
			goto out;
		e->has_time_unix = true;
	}
	if ((v = st.val[V_TIME_DURATION])) {
		ret = parse_u64(&st, "time_duration", v, INT64_MAX, &e->time_duration);
		if (ret)
			goto out;
		e->has_time_duration = true;
	} else if (disconnect) {
		ret = perr(&st, "time_duration: missing");
		goto out;
	}

	if (connect) {
		/* OpenVPN 2.6 passes the file as argv[1] and also exports it. */
		if (argc >= 2 && argv && argv[1])
			ret = parse_path(&st, "argv[1]", argv[1], e->config_file);
		else if ((v = st.val[V_CC_CONFIG_FILE]))
			ret = parse_path(&st, var_names[V_CC_CONFIG_FILE], v, e->config_file);
		else
			ret = perr(&st, "argv[1]: missing (client-connect config file)");
		if (ret)
			goto out;
	}

	if (e->script_type == TW_HOOK_LEARN_ADDRESS) {
		ret = parse_learn(&st, e, argv ? argc : 0, argv);
		if (ret)
			goto out;
	}

	/* Built aside and copied out only on success. */
	*out = env;
out:
	return ret;
}
