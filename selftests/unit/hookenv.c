// SPDX-License-Identifier: GPL-2.0-only
/*
 * hookenv: the OpenVPN script-hook environment parser, over environments
 * captured from a real OpenVPN 2.6.14 server (selftests/e2e/openvpn_smoke.sh
 * records them) and a table of malformed ones derived from those, each with
 * the exact error message it must produce.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include "test.h"
#include "hookenv.h"

#define MAX_ENV 96

/* Tables read better one entry per line. */
/* clang-format off */
/* client-connect, as OpenVPN 2.6.14 ran the hook for CN alice (OU tenantA). */
static const char *const connect_env[] = {
	"daemon_log_redirect=1",
	"script_type=client-connect",
	"ifconfig_pool_netmask=255.255.255.0",
	"proto_1=udp4",
	"ifconfig_ipv6_remote=fd74:7700::2",
	"IV_COMP_STUBv2=1",
	"daemon=0",
	"dev_type=tun",
	"dev=tun0",
	"X509_0_CN=alice",
	"remote_port_1=1194",
	"client_connect_config_file=/tmp/openvpn_cc_befaf0156063a152f2ad608632dedc3.tmp",
	"X509_1_CN=tunwarden test CA",
	"IV_PLAT=linux",
	"ifconfig_netmask=255.255.255.0",
	"redirect_gateway=0",
	"daemon_start_time=1795320975",
	"common_name=alice",
	"ifconfig_local=10.8.0.1",
	"script_context=init",
	"local_1=198.18.0.1",
	"time_ascii=2026-11-22 04:16:15",
	"client_connect_deferred_file=/tmp/openvpn_ccr_5901a9cba59cb0a11cbb84446fc290e1.tmp",
	"ifconfig_pool_remote_ip=10.8.0.2",
	"local_port_1=1194",
	"verb=3",
	"ifconfig_pool_local_ip6=fd74:7700::1",
	"IV_VER=2.6.14",
	"X509_0_O=tunwarden test",
	"trusted_ip=198.18.0.11",
	"tls_serial_hex_0=73:25:7c:bf:eb:02:4e:95:3e:49:b6:7b:fc:aa:63:b4",
	"tun_mtu=1500",
	"trusted_port=60674",
	"ifconfig_pool_ip6_netbits=64",
	"tls_id_0=O=tunwarden test, OU=tenantA, CN=alice",
	"time_unix=1795320975",
	"daemon_pid=8282",
	"X509_0_OU=tenantA",
	"IV_MTU=1600",
	"config=/tmp/tw-e2e-openvpn_smoke.7sT7Ix/server.conf",
	"untrusted_ip=198.18.0.11",
	"ifconfig_ipv6_local=fd74:7700::1",
	"IV_PROTO=990",
	"ifconfig_pool_remote_ip6=fd74:7700::1000",
	"untrusted_port=60674",
	"ifconfig_ipv6_netbits=64",
	"IV_CIPHERS=AES-256-GCM",
	NULL,
};

/* client-disconnect for the same session, trimmed of what the parser ignores. */
static const char *const disconnect_env[] = {
	"script_type=client-disconnect",
	"bytes_sent=2865",
	"dev=tun0",
	"X509_0_CN=alice",
	"bytes_received=2739",
	"time_duration=5",
	"common_name=alice",
	"ifconfig_pool_remote_ip=10.8.0.2",
	"trusted_ip=198.18.0.11",
	"trusted_port=60674",
	"time_unix=1795320975",
	"X509_0_OU=tenantA",
	"untrusted_ip=198.18.0.11",
	"ifconfig_pool_remote_ip6=fd74:7700::1000",
	"untrusted_port=60674",
	NULL,
};

/* learn-address runs in the client's context for add/update. */
static const char *const learn_env[] = {
	"script_type=learn-address",
	"dev=tun0",
	"common_name=alice",
	"trusted_ip=198.18.0.11",
	"trusted_port=60674",
	NULL,
};

#define CC_FILE "/tmp/openvpn_cc_befaf0156063a152f2ad608632dedc3.tmp"
#define CN64 "c123456789012345678901234567890123456789012345678901234567890123"
#define CN250 CN64 CN64 CN64 "c123456789012345678901234567890123456789012345678901234567"
#define CN1000 CN250 CN250 CN250 CN250

/*
 * An environment derived from a base by edits: "KEY=VAL" replaces KEY (or
 * adds it), "-KEY" removes it, "+KEY=VAL" appends a second KEY.
 */
struct envcase {
	const char *name;
	const char *const *base;
	const char *edit[4];
	const char *argv[5]; /* argv[0] is implied; NULL-terminated */
	const char *err; /* NULL: must parse */
};

/* clang-format on */

static size_t keylen(const char *kv)
{
	const char *eq = strchr(kv, '=');

	return eq ? (size_t)(eq - kv) : strlen(kv);
}

static void build_env(const struct envcase *c, char **out)
{
	size_t n = 0, i, j;

	for (i = 0; c->base[i] && n < MAX_ENV - 1; i++)
		out[n++] = (char *)c->base[i];
	for (j = 0; j < 4 && c->edit[j]; j++) {
		const char *ed = c->edit[j];
		bool del = ed[0] == '-', dup = ed[0] == '+', done = false;

		if (del || dup)
			ed++;
		for (i = 0; i < n && !dup; i++) {
			if (keylen(out[i]) != keylen(ed) || strncmp(out[i], ed, keylen(ed)) != 0)
				continue;
			if (del)
				memmove(&out[i], &out[i + 1], (n-- - i - 1) * sizeof(out[0]));
			else
				out[i] = (char *)ed;
			done = true;
			break;
		}
		if (!done && !del && n < MAX_ENV - 1)
			out[n++] = (char *)ed;
	}
	out[n] = NULL;
}

static int run_case(const struct envcase *c, struct tw_hook_env *e, char *err, size_t errlen)
{
	char *envp[MAX_ENV];
	char *argv[6] = { "tunwarden-hook" };
	int argc = 1;

	build_env(c, envp);
	while (argc < 5 && c->argv[argc - 1]) {
		argv[argc] = (char *)c->argv[argc - 1];
		argc++;
	}
	return tw_hook_env_parse(envp, argc, argv, e, err, errlen);
}

/* clang-format off */
static const struct envcase bad_cases[] = {
	/* numbers */
	{ "port letters", connect_env, { "trusted_port=12a" }, { CC_FILE },
	  "trusted_port: not a number: '12a'" },
	{ "port empty", connect_env, { "trusted_port=" }, { CC_FILE },
	  "trusted_port: not a number: ''" },
	{ "port sign", connect_env, { "trusted_port=+443" }, { CC_FILE },
	  "trusted_port: not a number: '+443'" },
	{ "port negative", connect_env, { "trusted_port=-1" }, { CC_FILE },
	  "trusted_port: not a number: '-1'" },
	{ "port space", connect_env, { "trusted_port= 443" }, { CC_FILE },
	  "trusted_port: not a number: ' 443'" },
	{ "port hex", connect_env, { "trusted_port=0x1bb" }, { CC_FILE },
	  "trusted_port: not a number: '0x1bb'" },
	{ "port zero", connect_env, { "trusted_port=0" }, { CC_FILE },
	  "trusted_port: out of range: '0'" },
	{ "port 65536", connect_env, { "trusted_port=65536" }, { CC_FILE },
	  "trusted_port: out of range: '65536'" },
	{ "port missing", connect_env, { "-trusted_port", "-untrusted_port" }, { CC_FILE },
	  "trusted_port: missing" },
	{ "bytes overflow", disconnect_env, { "bytes_received=18446744073709551616" }, {},
	  "bytes_received: out of range: '18446744073709551616'" },
	{ "bytes huge", disconnect_env, { "bytes_sent=99999999999999999999999" }, {},
	  "bytes_sent: out of range: '99999999999999999999999'" },
	{ "bytes float", disconnect_env, { "bytes_sent=1.5" }, {},
	  "bytes_sent: not a number: '1.5'" },
	{ "bytes_sent missing", disconnect_env, { "-bytes_sent" }, {}, "bytes_sent: missing" },
	{ "bytes_received missing", disconnect_env, { "-bytes_received" }, {},
	  "bytes_received: missing" },
	{ "duration missing", disconnect_env, { "-time_duration" }, {},
	  "time_duration: missing" },
	{ "duration letters", disconnect_env, { "time_duration=5s" }, {},
	  "time_duration: not a number: '5s'" },
	{ "time_unix beyond time_t", connect_env, { "time_unix=9223372036854775808" }, { CC_FILE },
	  "time_unix: out of range: '9223372036854775808'" },
	/* addresses */
	{ "ip short", connect_env, { "trusted_ip=198.18.0" }, { CC_FILE },
	  "trusted_ip: not an IPv4 address: '198.18.0'" },
	{ "ip octet", connect_env, { "trusted_ip=198.18.0.256" }, { CC_FILE },
	  "trusted_ip: not an IPv4 address: '198.18.0.256'" },
	{ "ip is v6", connect_env, { "trusted_ip=fd74::1" }, { CC_FILE },
	  "trusted_ip: not an IPv4 address: 'fd74::1'" },
	{ "ip trailing", connect_env, { "trusted_ip=198.18.0.11 " }, { CC_FILE },
	  "trusted_ip: not an IPv4 address: '198.18.0.11 '" },
	{ "ip6 is v4", connect_env, { "trusted_ip6=198.18.0.11" }, { CC_FILE },
	  "trusted_ip6: not an IPv6 address: '198.18.0.11'" },
	{ "no address", connect_env, { "-trusted_ip", "-untrusted_ip" }, { CC_FILE },
	  "trusted_ip: missing (neither trusted_ip nor trusted_ip6 is set)" },
	{ "untrusted bad", connect_env,
	  { "-trusted_ip", "-trusted_port", "untrusted_ip=198.18.0.x" }, { CC_FILE },
	  "untrusted_ip: not an IPv4 address: '198.18.0.x'" },
	{ "pool ip", connect_env, { "ifconfig_pool_remote_ip=10.8.0.999" }, { CC_FILE },
	  "ifconfig_pool_remote_ip: not an IPv4 address: '10.8.0.999'" },
	{ "pool ip6", connect_env, { "ifconfig_pool_remote_ip6=fd74:7700::g" }, { CC_FILE },
	  "ifconfig_pool_remote_ip6: not an IPv6 address: 'fd74:7700::g'" },
	/* names */
	{ "cn missing", connect_env, { "-common_name" }, { CC_FILE }, "common_name: missing" },
	{ "cn empty", connect_env, { "common_name=" }, { CC_FILE }, "common_name: empty: ''" },
	{ "cn 65 chars", connect_env, { "common_name=" CN64 "x" }, { CC_FILE },
	  "common_name: longer than 64 characters (65)" },
	{ "cn 65 chars utf-8", connect_env, { "common_name=" CN64 "\xc3\xa9" }, { CC_FILE },
	  "common_name: longer than 64 characters (65)" },
	{ "cn 1000 bytes", connect_env, { "common_name=" CN1000 }, { CC_FILE },
	  "common_name: longer than 255 bytes (1000)" },
	{ "cn newline", connect_env, { "common_name=ali\nce" }, { CC_FILE },
	  "common_name: control character in 'ali\\x0ace'" },
	{ "cn escape", connect_env, { "common_name=\x1b[31malice" }, { CC_FILE },
	  "common_name: control character in '\\x1b[31malice'" },
	{ "cn del", connect_env, { "common_name=alice\x7f" }, { CC_FILE },
	  "common_name: control character in 'alice\\x7f'" },
	{ "cn latin-1", connect_env, { "common_name=jos\xe9" }, { CC_FILE },
	  "common_name: invalid UTF-8 in 'jos\\xe9'" },
	{ "cn overlong slash", connect_env, { "common_name=a\xc0\xaf" "b" }, { CC_FILE },
	  "common_name: overlong UTF-8 sequence in 'a\\xc0\\xafb'" },
	{ "cn C1 control", connect_env, { "common_name=Zo\xc3\xab\xc2\x85x" }, { CC_FILE },
	  "common_name: control character in 'Zo\xc3\xab\\xc2\\x85x'" },
	{ "learn cn surrogate", learn_env, { "-common_name" },
	  { "add", "10.8.0.2", "a\xed\xa0\x80" },
	  "argv[3]: UTF-16 surrogate in UTF-8 in 'a\\xed\\xa0\\x80'" },
	{ "cn twice", connect_env, { "+common_name=mallory" }, { CC_FILE },
	  "common_name: set twice, second value: 'mallory'" },
	{ "ou control", connect_env, { "X509_0_OU=ten\tantA" }, { CC_FILE },
	  "X509_0_OU: control character in 'ten\\x09antA'" },
	{ "ou too long", connect_env, { "X509_0_OU=" CN64 "x" }, { CC_FILE },
	  "X509_0_OU: longer than 64 characters (65)" },
	/* script type, device, config file */
	{ "no script_type", connect_env, { "-script_type" }, { CC_FILE }, "script_type: missing" },
	{ "script_type up", connect_env, { "script_type=up" }, { CC_FILE },
	  "script_type: not a supported hook: 'up'" },
	{ "script_type case", connect_env, { "script_type=Client-Connect" }, { CC_FILE },
	  "script_type: not a supported hook: 'Client-Connect'" },
	{ "dev missing", connect_env, { "-dev" }, { CC_FILE }, "dev: missing" },
	{ "dev slash", connect_env, { "dev=tun/0" }, { CC_FILE },
	  "dev: not an interface name: 'tun/0'" },
	{ "dev dotdot", connect_env, { "dev=.." }, { CC_FILE }, "dev: not an interface name: '..'" },
	/* each byte the kernel's dev_valid_name() refuses: ':' names an alias */
	{ "dev colon", connect_env, { "dev=tun:0" }, { CC_FILE },
	  "dev: not an interface name: 'tun:0'" },
	{ "dev space", connect_env, { "dev=tun 0" }, { CC_FILE },
	  "dev: not an interface name: 'tun 0'" },
	{ "dev dot", connect_env, { "dev=." }, { CC_FILE }, "dev: not an interface name: '.'" },
	{ "dev del", connect_env, { "dev=tun\x7f" }, { CC_FILE },
	  "dev: not an interface name: 'tun\\x7f'" },
	{ "dev high byte", connect_env, { "dev=tun\xc3\xa9" }, { CC_FILE },
	  "dev: not an interface name: 'tun\\xc3\\xa9'" },
	{ "dev 16 bytes", connect_env, { "dev=tun0123456789abc" }, { CC_FILE },
	  "dev: longer than 15 bytes: 'tun0123456789abc'" },
	{ "no config file", connect_env, { "-client_connect_config_file" }, {},
	  "argv[1]: missing (client-connect config file)" },
	{ "config file relative", connect_env, {}, { "openvpn_cc.tmp" },
	  "argv[1]: not an absolute path: 'openvpn_cc.tmp'" },
	{ "config file env relative", connect_env, { "client_connect_config_file=x" }, {},
	  "client_connect_config_file: not an absolute path: 'x'" },
	/* learn-address */
	{ "learn no args", learn_env, {}, {},
	  "learn-address: expected arguments OPERATION ADDRESS [CN], got 0" },
	{ "learn op", learn_env, {}, { "remove", "10.8.0.2", "alice" },
	  "argv[1]: not add, update or delete: 'remove'" },
	{ "learn mac", learn_env, {}, { "add", "52:54:00:12:34:56", "alice" },
	  "argv[2]: not an IPv4 or IPv6 address: '52:54:00:12:34:56'" },
	{ "learn prefix", learn_env, {}, { "add", "10.8.1.0/33", "alice" },
	  "argv[2] prefix length: out of range: '33'" },
	{ "learn prefix empty", learn_env, {}, { "add", "10.8.1.0/", "alice" },
	  "argv[2] prefix length: not a number: ''" },
	{ "learn add without cn", learn_env, {}, { "add", "10.8.0.2" },
	  "learn-address: add without a common name (argv[3])" },
	{ "learn cn mismatch", learn_env, {}, { "update", "10.8.0.2", "bob" },
	  "common_name: differs from argv[3]: 'alice'" },
};

/* clang-format on */

static void test_bad(void)
{
	struct tw_hook_env e, sentinel;
	char err[256];
	size_t i;
	int ret;

	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct envcase *c = &bad_cases[i];

		memset(&e, 0xa5, sizeof(e));
		memset(&sentinel, 0xa5, sizeof(sentinel));
		err[0] = '\0';
		ret = run_case(c, &e, err, sizeof(err));
		if (!ASSERT_EQ(ret, -EINVAL, c->name))
			continue;
		ASSERT_STREQ(err, c->err, c->name);
		/* Bytes, padding included: the parser must not have written at all. */
		ASSERT_TRUE(!memcmp((const unsigned char *)&e, (const unsigned char *)&sentinel,
				    sizeof(e)),
			    "output untouched on error");
	}
}

static void test_connect(void)
{
	static const struct envcase c = { .name = "connect",
					  .base = connect_env,
					  .argv = { CC_FILE } };
	struct tw_hook_env e = {};
	char err[256] = "";
	char a[INET6_ADDRSTRLEN];

	if (!ASSERT_OK(run_case(&c, &e, err, sizeof(err)), "parse") || err[0])
		test__diag("error: %s", err);
	ASSERT_EQ(e.script_type, TW_HOOK_CLIENT_CONNECT, "script_type");
	ASSERT_STREQ(tw_hook_script_name(e.script_type), "client-connect", "script name");
	ASSERT_STREQ(e.dev, "tun0", "dev");
	ASSERT_STREQ(e.common_name, "alice", "common_name");
	ASSERT_STREQ(e.ou, "tenantA", "X509_0_OU");
	ASSERT_TRUE(e.has_trusted_ip && !e.has_trusted_ip6 && !e.addr_untrusted, "trusted v4");
	ASSERT_STREQ(inet_ntop(AF_INET, &e.trusted_ip, a, sizeof(a)), "198.18.0.11", "trusted_ip");
	ASSERT_EQ(e.trusted_port, 60674, "trusted_port");
	ASSERT_TRUE(e.has_pool_ip && e.has_pool_ip6, "pool addresses");
	ASSERT_STREQ(inet_ntop(AF_INET, &e.pool_ip, a, sizeof(a)), "10.8.0.2", "pool ip");
	ASSERT_STREQ(inet_ntop(AF_INET6, &e.pool_ip6, a, sizeof(a)), "fd74:7700::1000", "pool ip6");
	ASSERT_FALSE(e.has_bytes, "no bytes on connect");
	ASSERT_TRUE(e.has_time_unix && e.time_unix == 1795320975ULL, "time_unix");
	ASSERT_FALSE(e.has_time_duration, "no duration on connect");
	ASSERT_STREQ(e.config_file, CC_FILE, "config file from argv[1]");
}

static void test_disconnect(void)
{
	static const struct envcase c = { .name = "disconnect", .base = disconnect_env };
	struct tw_hook_env e = {};
	char err[256] = "";

	if (!ASSERT_OK(run_case(&c, &e, err, sizeof(err)), "parse"))
		test__diag("error: %s", err);
	ASSERT_EQ(e.script_type, TW_HOOK_CLIENT_DISCONNECT, "script_type");
	ASSERT_TRUE(e.has_bytes, "has bytes");
	ASSERT_EQ(e.bytes_received, 2739, "bytes_received");
	ASSERT_EQ(e.bytes_sent, 2865, "bytes_sent");
	ASSERT_TRUE(e.has_time_duration && e.time_duration == 5, "time_duration");
	ASSERT_STREQ(e.config_file, "", "no config file on disconnect");
}

/* clang-format off */
static const struct envcase good_cases[] = {
	{ "cn 64 bytes", connect_env, { "common_name=" CN64 }, { CC_FILE }, NULL },
	{ "cn utf-8", connect_env, { "common_name=Zo\xc3\xab M\xc3\xbcller \xe6\x9d\x8e \xf0\x9f\x94\x91" },
	  { CC_FILE }, NULL },
	{ "cn punctuation", connect_env, { "common_name=Jane Doe <jd@example.org> #1" },
	  { CC_FILE }, NULL },
	{ "port 65535", connect_env, { "trusted_port=65535" }, { CC_FILE }, NULL },
	{ "port leading zero", connect_env, { "trusted_port=0443" }, { CC_FILE }, NULL },
	{ "bytes u64 max", disconnect_env, { "bytes_received=18446744073709551615" }, {}, NULL },
	{ "no OU", connect_env, { "-X509_0_OU" }, { CC_FILE }, NULL },
	{ "no pool", connect_env, { "-ifconfig_pool_remote_ip", "-ifconfig_pool_remote_ip6" },
	  { CC_FILE }, NULL },
	{ "config file from env", connect_env, {}, {}, NULL },
	{ "unrelated noise", connect_env, { "+IV_GUI_VER=x\x01y", "+X509_0_CN=\x02" }, { CC_FILE },
	  NULL },
};

/* clang-format on */

static void test_good_variants(void)
{
	struct tw_hook_env e = {};
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(good_cases) / sizeof(good_cases[0]); i++) {
		err[0] = '\0';
		if (!ASSERT_OK(run_case(&good_cases[i], &e, err, sizeof(err)), good_cases[i].name))
			test__diag("%s: %s", good_cases[i].name, err);
	}
	/* Spot-check what the variants are about. */
	run_case(&good_cases[0], &e, err, sizeof(err));
	ASSERT_STREQ(e.common_name, CN64, "64-byte CN kept whole");
	run_case(&good_cases[1], &e, err, sizeof(err));
	ASSERT_STREQ(e.common_name, "Zo\xc3\xab M\xc3\xbcller \xe6\x9d\x8e \xf0\x9f\x94\x91",
		     "UTF-8 CN kept intact");
	run_case(&good_cases[4], &e, err, sizeof(err));
	ASSERT_EQ(e.trusted_port, 443, "leading zero");
	run_case(&good_cases[5], &e, err, sizeof(err));
	ASSERT_TRUE(e.bytes_received == UINT64_MAX, "u64 max");
	run_case(&good_cases[6], &e, err, sizeof(err));
	ASSERT_STREQ(e.ou, "", "absent OU is empty");
	run_case(&good_cases[7], &e, err, sizeof(err));
	ASSERT_FALSE(e.has_pool_ip || e.has_pool_ip6, "absent pool");
	run_case(&good_cases[8], &e, err, sizeof(err));
	ASSERT_STREQ(e.config_file, CC_FILE, "config file from client_connect_config_file");
}

static void test_ipv6_peer(void)
{
	static const struct envcase c6 = { "v6 peer",
					   connect_env,
					   { "-trusted_ip", "-untrusted_ip",
					     "trusted_ip6=2001:db8::7" },
					   { CC_FILE },
					   NULL };
	static const struct envcase cu = {
		"untrusted only", connect_env, { "-trusted_ip", "-trusted_port" }, { CC_FILE }, NULL
	};
	struct tw_hook_env e = {};
	char err[256] = "", a[INET6_ADDRSTRLEN];

	if (ASSERT_OK(run_case(&c6, &e, err, sizeof(err)), "v6 peer")) {
		ASSERT_TRUE(e.has_trusted_ip6 && !e.has_trusted_ip, "v6 only");
		ASSERT_STREQ(inet_ntop(AF_INET6, &e.trusted_ip6, a, sizeof(a)), "2001:db8::7",
			     "trusted_ip6");
	}
	if (ASSERT_OK(run_case(&cu, &e, err, sizeof(err)), "untrusted fallback")) {
		ASSERT_TRUE(e.addr_untrusted, "marked untrusted");
		ASSERT_STREQ(inet_ntop(AF_INET, &e.trusted_ip, a, sizeof(a)), "198.18.0.11",
			     "untrusted_ip");
		ASSERT_EQ(e.trusted_port, 60674, "untrusted_port");
	}
}

static void test_learn(void)
{
	static const struct envcase add = {
		"add", learn_env, {}, { "add", "10.8.0.2", "alice" }, NULL
	};
	static const struct envcase net = {
		"iroute", learn_env, {}, { "update", "fd74:7700:1::/48", "alice" }, NULL
	};
	static const struct envcase del = {
		"delete", learn_env, { "-common_name" }, { "delete", "10.8.0.2" }, NULL
	};
	struct tw_hook_env e = {};
	char err[256] = "", a[INET6_ADDRSTRLEN];

	if (ASSERT_OK(run_case(&add, &e, err, sizeof(err)), "learn add")) {
		ASSERT_EQ(e.script_type, TW_HOOK_LEARN_ADDRESS, "script_type");
		ASSERT_EQ(e.learn_op, TW_HOOK_LEARN_ADD, "op");
		ASSERT_EQ(e.learn_family, AF_INET, "family");
		ASSERT_EQ(e.learn_prefix, 32, "host prefix");
		ASSERT_STREQ(inet_ntop(AF_INET, &e.learn_addr, a, sizeof(a)), "10.8.0.2", "addr");
		ASSERT_STREQ(e.common_name, "alice", "cn");
	}
	if (ASSERT_OK(run_case(&net, &e, err, sizeof(err)), "learn update net")) {
		ASSERT_EQ(e.learn_op, TW_HOOK_LEARN_UPDATE, "op");
		ASSERT_EQ(e.learn_family, AF_INET6, "family");
		ASSERT_EQ(e.learn_prefix, 48, "prefix");
	}
	if (ASSERT_OK(run_case(&del, &e, err, sizeof(err)), "learn delete"))
		ASSERT_STREQ(e.common_name, "", "no cn on delete");
	if (err[0])
		test__diag("error: %s", err);
}

static void test_edges(void)
{
	char *argv[] = { "hook", NULL };
	struct tw_hook_env e = {};
	char small[12], err[128];
	char *env[] = { "script_type", "=x", "dev=tun0", "script_type=up", NULL };

	ASSERT_EQ(tw_hook_env_parse(NULL, 0, NULL, &e, small, sizeof(small)), -EINVAL, "NULL envp");
	ASSERT_STREQ(small, "script_type", "message truncated, terminated");
	ASSERT_EQ(tw_hook_env_parse(NULL, 0, NULL, &e, NULL, 0), -EINVAL, "no error buffer");
	/* Entries without '=' are skipped, not taken as a first script_type. */
	ASSERT_EQ(tw_hook_env_parse(env, 1, argv, &e, err, sizeof(err)), -EINVAL, "no '='");
	ASSERT_STREQ(err, "script_type: not a supported hook: 'up'", "reaches script_type=up");
}

static void test_recheck(void);

void test_hookenv(void)
{
	if (test__start_subtest("recheck"))
		test_recheck();
	if (test__start_subtest("real_connect"))
		test_connect();
	if (test__start_subtest("real_disconnect"))
		test_disconnect();
	if (test__start_subtest("good_variants"))
		test_good_variants();
	if (test__start_subtest("ipv6_and_untrusted"))
		test_ipv6_peer();
	if (test__start_subtest("learn_address"))
		test_learn();
	if (test__start_subtest("malformed"))
		test_bad();
	if (test__start_subtest("edges"))
		test_edges();
}

/* The daemon's re-check of a hook request: names and tunnel addresses (admission.c). */
static void test_recheck(void)
{
	static const struct {
		const char *addr, *err; /* err: NULL when accepted */
	} pool_cases[] = {
		{ "10.8.0.2", NULL },
		{ "10.8.0.254", NULL },
		{ "fd74:7700::1000", NULL },
		{ "10.8.0.1", "pool_ip: 10.8.0.1 is the interface's own address" },
		{ "10.8.0.0", "pool_ip: 10.8.0.0 is the subnet's network or broadcast address" },
		{ "10.8.0.255",
		  "pool_ip: 10.8.0.255 is the subnet's network or broadcast address" },
		{ "10.8.1.2", "pool_ip: 10.8.1.2 is outside the interface's subnets" },
		{ "192.0.2.80", "pool_ip: 192.0.2.80 is outside the interface's subnets" },
		{ "fd74:7701::2", "pool_ip: fd74:7701::2 is outside the interface's subnets" },
		{ "fe80::2", "pool_ip: fe80::2 is outside the interface's subnets" },
		{ "fd74:7700::1", "pool_ip: fd74:7700::1 is the interface's own address" },
	};
	static const char *const ifaddrs[][2] = {
		{ "10.8.0.1", "24" },
		{ "fd74:7700::1", "64" },
		{ "fe80::1", "64" },
	};
	struct tw_hook_ifaddr ifa[3];
	char err[256], big[1001];
	size_t i;

	for (i = 0; i < 3; i++) {
		tw_addr_parse(ifaddrs[i][0], &ifa[i].addr);
		ifa[i].plen = (uint8_t)atoi(ifaddrs[i][1]);
	}
	for (i = 0; i < sizeof(pool_cases) / sizeof(pool_cases[0]); i++) {
		struct tw_addr a;
		int ret;

		err[0] = '\0';
		if (!ASSERT_OK(tw_addr_parse(pool_cases[i].addr, &a), pool_cases[i].addr))
			continue;
		ret = tw_hook_check_pool("pool_ip", &a, ifa, 3, err, sizeof(err));
		if (!pool_cases[i].err) {
			ASSERT_OK(ret, pool_cases[i].addr);
			continue;
		}
		ASSERT_EQ(ret, -EINVAL, pool_cases[i].addr);
		ASSERT_STREQ(err, pool_cases[i].err, pool_cases[i].addr);
	}
	/* a /31 and /32 subnet has no network or broadcast address */
	tw_addr_parse("10.9.0.0", &ifa[0].addr);
	ifa[0].plen = 31;
	{
		struct tw_addr a;

		tw_addr_parse("10.9.0.1", &a);
		ASSERT_OK(tw_hook_check_pool("pool_ip", &a, ifa, 1, err, sizeof(err)), "/31 peer");
	}

	ASSERT_OK(tw_hook_check_name("common_name", "Zo\xc3\xab", 4, err, sizeof(err)), "utf-8");
	memset(big, 'x', 1000);
	big[1000] = '\0';
	ASSERT_EQ(tw_hook_check_name("common_name", big, 1000, err, sizeof(err)), -EINVAL, "long");
	ASSERT_STREQ(err, "common_name: longer than 255 bytes (1000)", "long message");
	ASSERT_EQ(tw_hook_check_name("common_name", "ali\nce", 6, err, sizeof(err)), -EINVAL, "nl");
	ASSERT_STREQ(err, "common_name: control character in 'ali\\x0ace'", "nl message");
	ASSERT_EQ(tw_hook_check_name("common_name", "", 0, err, sizeof(err)), -EINVAL, "empty");
}
