// SPDX-License-Identifier: GPL-2.0-only
/*
 * Policy bundles: snapshots parsed and looked up, one case per error class
 * with its exact message, deltas applied and refused (with the policy left
 * as it was), stable profile/tenant numbers, and 100k subjects.
 */
#include <stdlib.h>
#include <time.h>
#include <arpa/inet.h>
#include "test.h"
#include "policy.h"

/* Test JSON is written with ' for " to stay readable; no case needs a real '. */
static char *jq(const char *s)
{
	char *d = strdup(s), *p;

	for (p = d; p && *p; p++)
		if (*p == '\'')
			*p = '"';
	return d;
}

static struct tw_policy *parse_q(const char *s, char *err, size_t errlen)
{
	char *j = jq(s);
	struct tw_policy *p = tw_policy_parse(j, strlen(j), err, errlen);
	int e = errno;

	free(j);
	errno = e;
	return p;
}

static int delta_q(struct tw_policy *p, const char *s, char *err, size_t errlen)
{
	char *j = jq(s);
	int ret = tw_policy_apply_delta(p, j, strlen(j), err, errlen);

	free(j);
	return ret;
}

#define WGKEY "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="

static const char snapshot[] =
	"{'type': 'snapshot', 'version': 10, 'generated_at': '2026-11-22T04:00:00Z',"
	" 'tenants': [{'id': 'acme', 'name': 'ACME'}, {'id': 'globex'}],"
	" 'profiles': ["
	"  {'id': 'employees', 'name': 'Employees', 'interfaces': ['tun0', 'wg*'],"
	"   'from_client': [{'prefix': '10.20.0.0/16'},"
	"                   {'prefix': '0.0.0.0/0', 'proto': 'tcp', 'ports': '443'},"
	"                   {'prefix': '192.0.2.53', 'proto': 'udp', 'ports': 53}],"
	"   'to_client': [{'prefix': 'fd00:1::/64', 'proto': 'tcp', 'ports': '1000-2000'}],"
	"   'sandbox': [{'prefix': '192.0.2.10/32', 'proto': 47}]},"
	"  {'id': 'contractors', 'confirmation_timeout': '10m',"
	"   'from_client': [{'prefix': '::/0', 'proto': 'icmpv6'}]}"
	" ],"
	" 'subjects': ["
	"  {'kind': 'cn', 'id': 'alice', 'user': 'alice', 'tenant': 'acme',"
	"   'profiles': ['employees'], 'state': 'enabled'},"
	"  {'kind': 'cn', 'id': 'bob', 'tenant': 'acme', 'profiles': ['employees', 'contractors'],"
	"   'state': 'needs-confirmation'},"
	"  {'kind': 'ipsec_id', 'id': 'alice', 'tenant': 'globex', 'state': 'disabled'},"
	"  {'kind': 'wg_key', 'id': '" WGKEY "', 'profiles': ['contractors'],"
	"   'state': 'revoked'}"
	" ]}";

static void check_snapshot(void)
{
	const struct tw_profile *emp, *con;
	const struct tw_subject *s;
	const struct tw_rule *r;
	struct tw_policy *p;
	uint8_t a4[4];
	char err[512] = "";
	size_t it = 0, n = 0;

	p = parse_q(snapshot, err, sizeof(err));
	if (!ASSERT_OK_PTR(p, err))
		return;
	ASSERT_EQ(tw_policy_version(p), 10, "version");
	ASSERT_EQ(tw_policy_generated_at(p), 1795320000, "generated_at");
	ASSERT_EQ(tw_policy_nsubjects(p), 4, "nsubjects");
	ASSERT_EQ(tw_policy_nprofiles(p), 2, "nprofiles");
	ASSERT_EQ(tw_policy_ntenants(p), 2, "ntenants");

	emp = tw_policy_profile(p, "employees");
	con = tw_policy_profile(p, "contractors");
	if (!ASSERT_OK_PTR(emp, "employees") || !ASSERT_OK_PTR(con, "contractors"))
		goto out;
	ASSERT_EQ(emp->num, 1, "employees num: bundle order");
	ASSERT_EQ(con->num, 2, "contractors num");
	ASSERT_TRUE(tw_policy_profile_by_num(p, 2) == con, "by num");
	ASSERT_TRUE(tw_policy_profile_by_num(p, 3) == NULL, "by num: none");
	ASSERT_TRUE(tw_policy_profile_by_num(p, 99999) == NULL, "by num: out of range");
	ASSERT_STREQ(emp->name, "Employees", "name");
	ASSERT_STREQ(con->name, "", "no name");
	ASSERT_EQ(emp->confirm_timeout_s, 0, "no override");
	ASSERT_EQ(con->confirm_timeout_s, 600, "override 10m");
	ASSERT_TRUE(tw_profile_bound_to(emp, "tun0"), "bound tun0");
	ASSERT_TRUE(tw_profile_bound_to(emp, "wg3"), "bound wg* glob");
	ASSERT_FALSE(tw_profile_bound_to(emp, "tun1"), "not bound tun1");
	ASSERT_FALSE(tw_profile_bound_to(con, "tun0"), "no interfaces: none bound");

	if (ASSERT_EQ(emp->nrules, 5, "employees rules")) {
		r = &emp->rules[0];
		inet_pton(AF_INET, "10.20.0.0", a4);
		ASSERT_EQ(r->list, TW_LIST_FROM_CLIENT, "r0 list");
		ASSERT_EQ(r->prefix.family, TW_FAM_V4, "r0 family");
		ASSERT_TRUE(!memcmp(r->prefix.addr, a4, 4), "r0 addr");
		ASSERT_EQ(r->plen, 16, "r0 plen");
		ASSERT_EQ(r->proto, TW_PROTO_ANY, "r0 proto any");
		ASSERT_EQ(r->port_lo, 0, "r0 lo");
		ASSERT_EQ(r->port_hi, 65535, "r0 hi");
		r = &emp->rules[1];
		ASSERT_EQ(r->plen, 0, "r1 default route");
		ASSERT_EQ(r->proto, 6, "r1 tcp");
		ASSERT_EQ(r->port_lo, 443, "r1 lo");
		ASSERT_EQ(r->port_hi, 443, "r1 hi");
		r = &emp->rules[2];
		ASSERT_EQ(r->plen, 32, "r2 bare address is a host");
		ASSERT_EQ(r->proto, 17, "r2 udp");
		ASSERT_EQ(r->port_lo, 53, "r2 integer port");
		r = &emp->rules[3];
		ASSERT_EQ(r->list, TW_LIST_TO_CLIENT, "r3 list");
		ASSERT_EQ(r->prefix.family, TW_FAM_V6, "r3 v6");
		ASSERT_EQ(r->prefix.addr[1], 0x00, "r3 addr[1]");
		ASSERT_EQ(r->prefix.addr[0], 0xfd, "r3 addr[0]");
		ASSERT_EQ(r->prefix.addr[3], 0x01, "r3 addr[3]");
		ASSERT_EQ(r->plen, 64, "r3 plen");
		ASSERT_EQ(r->port_lo, 1000, "r3 lo");
		ASSERT_EQ(r->port_hi, 2000, "r3 hi");
		r = &emp->rules[4];
		ASSERT_EQ(r->list, TW_LIST_SANDBOX, "r4 list");
		ASSERT_EQ(r->proto, 47, "r4 numeric proto");
	}

	s = tw_policy_subject(p, TW_SUBJ_CN, "alice");
	if (ASSERT_OK_PTR(s, "cn alice")) {
		ASSERT_EQ(s->state, TW_SUBJ_ENABLED, "alice state");
		ASSERT_STREQ(s->user, "alice", "alice user");
		ASSERT_EQ(s->tenant, tw_policy_tenant(p, "acme")->num, "alice tenant");
		ASSERT_EQ(s->nprofiles, 1, "alice nprofiles");
		ASSERT_EQ(s->profiles[0], emp->num, "alice profile");
		ASSERT_TRUE(tw_subject_has_profile(s, emp->num), "has employees");
		ASSERT_FALSE(tw_subject_has_profile(s, con->num), "not contractors");
	}
	s = tw_policy_subject(p, TW_SUBJ_IPSEC_ID, "alice");
	if (ASSERT_OK_PTR(s, "ipsec alice: same id, other kind")) {
		ASSERT_EQ(s->state, TW_SUBJ_DISABLED, "ipsec alice state");
		ASSERT_STREQ(tw_policy_tenant_by_num(p, s->tenant)->node.id, "globex", "tenant");
		ASSERT_EQ(s->nprofiles, 0, "no profiles");
		ASSERT_STREQ(s->user, "", "no user");
	}
	s = tw_policy_subject(p, TW_SUBJ_CN, "bob");
	if (ASSERT_OK_PTR(s, "bob"))
		ASSERT_EQ(s->state, TW_SUBJ_NEEDS_CONFIRMATION, "bob state");
	s = tw_policy_subject(p, TW_SUBJ_WG_KEY, WGKEY);
	if (ASSERT_OK_PTR(s, "wg key"))
		ASSERT_EQ(s->state, TW_SUBJ_REVOKED, "wg state");
	ASSERT_TRUE(tw_policy_subject(p, TW_SUBJ_WG_KEY, "alice") == NULL, "wrong kind");
	ASSERT_TRUE(tw_policy_subject(p, TW_SUBJ_CN, "alic") == NULL, "prefix of id");
	ASSERT_TRUE(tw_policy_subject(p, TW_SUBJ_CN, "") == NULL, "empty id");
	while (tw_policy_subject_next(p, &it))
		n++;
	ASSERT_EQ(n, 4, "iteration");
out:
	tw_policy_free(p);
}

static const struct {
	const char *in;
	const char *msg;
} bad[] = {
	{ "{'version': 1, 'subjects': [{'kind': 'cn', 'id': 'a', 'state': 'enabled'},"
	  "{'kind': 'cn', 'id': 'b', 'state': 'enabled'},"
	  "{'kind': 'cn', 'id': 'c', 'state': 'disabled'},"
	  "{'kind': 'cn', 'id': 'd', 'state': 'enabeld'}]}",
	  "subjects[3].state: unknown state 'enabeld'" },
	{ "{'version': 1, 'subjects': [{'kind': 'cn', 'id': 'a', 'state': 'enabled'},"
	  "{'kind': 'cn', 'id': 'a', 'state': 'revoked'}]}",
	  "subjects[1]: duplicate subject cn 'a'" },
	{ "{'version': 1, 'subjects': [{'kind': 'cn', 'id': 'a', 'state': 'enabled',"
	  "'profiles': ['nope']}]}",
	  "subjects[0].profiles[0]: unknown profile 'nope'" },
	{ "{'version': 1, 'profiles': [{'id': 'p'}], 'subjects': [{'kind': 'cn', 'id': 'a',"
	  "'state': 'enabled', 'profiles': ['p', 'p']}]}",
	  "subjects[0].profiles[1]: profile 'p' listed twice" },
	{ "{'version': 1, 'subjects': [{'kind': 'cn', 'id': 'a', 'state': 'enabled',"
	  "'profiles': ['1','2','3','4','5','6','7','8','9','10','11','12','13','14','15','16',"
	  "'17']}]}",
	  "subjects[0].profiles: 17 entries, more than the limit of 16" },
	{ "{'version': 1, 'subjects': [{'kind': 'cn', 'id': 'a', 'state': 'enabled',"
	  "'tenant': 'initech'}]}",
	  "subjects[0].tenant: unknown tenant 'initech'" },
	{ "{'version': 1, 'subjects': [{'kind': 'x509', 'id': 'a', 'state': 'enabled'}]}",
	  "subjects[0].kind: unknown kind 'x509' (cn, wg_key or ipsec_id)" },
	{ "{'version': 1, 'subjects': [{'kind': 'wg_key', 'id': 'abc', 'state': 'enabled'}]}",
	  "subjects[0].id: 'abc' is not a WireGuard public key (44 characters of base64)" },
	{ "{'version': 1, 'subjects': [{'kind': 'wg_key', 'id': "
	  "'xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dh=', 'state': 'enabled'}]}",
	  "subjects[0].id: 'xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dh=' is not a WireGuard "
	  "public key (44 characters of base64)" },
	{ "{'version': 1, 'subjects': [{'kind': 'cn', 'id': '', 'state': 'enabled'}]}",
	  "subjects[0].id: must not be empty" },
	{ "{'version': 1, 'subjects': [{'kind': 'cn', 'id': 'a\\u001bb', 'state': 'enabled'}]}",
	  "subjects[0].id: 'a\\x1bb' contains a control character" },
	{ "{'version': 1, 'subjects': [{'kind': 'cn', 'id': 'a\\u0085b', 'state': 'enabled'}]}",
	  "subjects[0].id: 'a\\xc2\\x85b' contains a control character" },
	{ "{'version': 1, 'subjects': [{'kind': 'cn', 'id': 'a\\ud800b', 'state': 'enabled'}]}",
	  "invalid JSON at line 1 column 59: invalid Unicode '\\uD800' near '\"a\\ud800b\"'" },
	{ "{'version': 1, 'subjects': [{'kind': 'cn', 'id': 'a', 'stat': 'enabled'}]}",
	  "subjects[0]: unknown key 'stat'" },
	{ "{'version': 1, 'subjects': [{'kind': 'cn', 'id': 'a'}]}",
	  "subjects[0]: missing 'state'" },
	{ "{'version': 1, 'subjects': [{'kind': 'cn', 'id': 7, 'state': 'enabled'}]}",
	  "subjects[0].id: expected a string, got an integer" },
	{ "{'version': 1, 'subjects': {}}", "subjects: expected an array, got an object" },
	{ "{'version': 1, 'subjects': ['alice']}",
	  "subjects[0]: expected a subject object, got a string" },
	{ "{'version': 1, 'tenants': [{'id': 't'}, {'id': 't'}]}",
	  "tenants[1]: duplicate tenant 't'" },
	{ "{'version': 1, 'profiles': [{'id': 'p'}, {'id': 'p'}]}",
	  "profiles[1]: duplicate profile 'p'" },
	{ "{'version': 1, 'profiles': [{'name': 'p'}]}", "profiles[0]: missing 'id'" },
	{ "{'version': 1, 'profiles': [{'id': 'p', 'from_client': [{'prefix': '10.0.0.1/8'}]}]}",
	  "profiles[0].from_client[0].prefix: '10.0.0.1/8' has host bits set (the network is "
	  "10.0.0.0/8)" },
	{ "{'version': 1, 'profiles': [{'id': 'p', 'to_client': [{'prefix': 'fd00::1/64'}]}]}",
	  "profiles[0].to_client[0].prefix: 'fd00::1/64' has host bits set (the network is "
	  "fd00::/64)" },
	{ "{'version': 1, 'profiles': [{'id': 'p', 'sandbox': [{'prefix': '10.0.0.256/8'}]}]}",
	  "profiles[0].sandbox[0].prefix: bad prefix '10.0.0.256/8'" },
	{ "{'version': 1, 'profiles': [{'id': 'p', 'sandbox': [{'prefix': '10.0.0.0/33'}]}]}",
	  "profiles[0].sandbox[0].prefix: bad prefix length in '10.0.0.0/33' (0-32)" },
	{ "{'version': 1, 'profiles': [{'id': 'p', 'sandbox': [{'prefix': '10.0.0.0/'}]}]}",
	  "profiles[0].sandbox[0].prefix: bad prefix length in '10.0.0.0/'" },
	{ "{'version': 1, 'profiles': [{'id': 'p', 'sandbox': [{'proto': 'tcp'}]}]}",
	  "profiles[0].sandbox[0]: missing 'prefix'" },
	{ "{'version': 1, 'profiles': [{'id': 'p', 'from_client': [{'prefix': '10.0.0.0/8',"
	  "'proto': 'tcp', 'ports': '2000-1000'}]}]}",
	  "profiles[0].from_client[0].ports: port range '2000-1000' has lo > hi" },
	{ "{'version': 1, 'profiles': [{'id': 'p', 'from_client': [{'prefix': '10.0.0.0/8',"
	  "'proto': 'tcp', 'ports': '1000-70000'}]}]}",
	  "profiles[0].from_client[0].ports: port in '1000-70000' is out of range [0, 65535]" },
	{ "{'version': 1, 'profiles': [{'id': 'p', 'from_client': [{'prefix': '10.0.0.0/8',"
	  "'proto': 'tcp', 'ports': 65536}]}]}",
	  "profiles[0].from_client[0].ports: port 65536 is out of range [0, 65535]" },
	{ "{'version': 1, 'profiles': [{'id': 'p', 'from_client': [{'prefix': '10.0.0.0/8',"
	  "'proto': 'tcp', 'ports': '22,80'}]}]}",
	  "profiles[0].from_client[0].ports: bad port range '22,80' (expected \"22\" or "
	  "\"1000-2000\")" },
	{ "{'version': 1, 'profiles': [{'id': 'p', 'from_client': [{'prefix': '10.0.0.0/8',"
	  "'proto': 'icmp', 'ports': '22'}]}]}",
	  "profiles[0].from_client[0].ports: protocol 1 has no ports; drop 'ports' or use "
	  "tcp/udp/sctp" },
	{ "{'version': 1, 'profiles': [{'id': 'p', 'from_client': [{'prefix': '10.0.0.0/8',"
	  "'proto': 'icmpv6'}]}]}",
	  "profiles[0].from_client[0].proto: 'icmpv6' never matches IPv4 prefix '10.0.0.0/8'" },
	{ "{'version': 1, 'profiles': [{'id': 'p', 'from_client': [{'prefix': '10.0.0.0/8',"
	  "'proto': 'tcpp'}]}]}",
	  "profiles[0].from_client[0].proto: unknown protocol 'tcpp' (tcp, udp, icmp, icmpv6, "
	  "sctp, udplite, any or a number)" },
	{ "{'version': 1, 'profiles': [{'id': 'p', 'from_client': [{'prefix': '10.0.0.0/8',"
	  "'proto': 256}]}]}",
	  "profiles[0].from_client[0].proto: protocol number 256 is out of range [0, 255]" },
	{ "{'version': 1, 'profiles': [{'id': 'p', 'from_client': [{'prefix': '10.0.0.0/8',"
	  "'port': '22'}]}]}",
	  "profiles[0].from_client[0]: unknown key 'port'" },
	{ "{'version': 1, 'profiles': [{'id': 'p', 'confirmation_timeout': '1s'}]}",
	  "profiles[0].confirmation_timeout: duration '1s' is out of range [10s, 604800s]" },
	{ "{'version': 1, 'profiles': [{'id': 'p', 'confirmation_timeout': '5 min'}]}",
	  "profiles[0].confirmation_timeout: bad duration '5 min'" },
	{ "{'version': 1, 'profiles': [{'id': 'p', 'confirmation_timeout': 9999999}]}",
	  "profiles[0].confirmation_timeout: 9999999 seconds is out of range [10, 604800]" },
	{ "{'version': 1, 'profiles': [{'id': 'p', 'interfaces': ['eth/0']}]}",
	  "profiles[0].interfaces[0]: bad interface name or pattern 'eth/0'" },
	{ "{'version': 1, 'profiles': [{'id': 'p', 'interfaces': ['tun0', 'tun0']}]}",
	  "profiles[0].interfaces[1]: interface 'tun0' listed twice" },
	{ "{'version': 0}", "version: 0 is out of range [1, 9223372036854775807]" },
	{ "{'version': -3}", "version: -3 is out of range [1, 9223372036854775807]" },
	{ "{'version': '7'}", "version: expected an integer, got a string" },
	{ "{'version': 1.5}", "version: expected an integer, got a number" },
	{ "{'subjects': []}", "missing 'version'" },
	{ "{'version': 1, 'subject': []}", "unknown key 'subject'" },
	{ "{'version': 1, 'type': 'delta'}", "type: expected a snapshot, got a delta" },
	{ "{'version': 1, 'type': 'full'}",
	  "type: unknown bundle type 'full' (snapshot or delta)" },
	{ "{'version': 1, 'generated_at': 'yesterday'}",
	  "generated_at: bad timestamp 'yesterday' (RFC 3339, e.g. 2026-11-22T04:00:00Z)" },
	{ "[1, 2]", "expected a JSON object at the top, got an array" },
	{ "{'version': 1, 'version': 2}",
	  "invalid JSON at line 1 column 24: duplicate object key near '\"version\"'" },
	{ "{'version': 1,",
	  "invalid JSON at line 1 column 14: string or '}' expected near end of file" },
	{ "{\x03}", "invalid JSON at line 1 column 2: string or '}' expected near '\\x03'" },
	{ "{'version': 99999999999999999999}",
	  "invalid JSON at line 1 column 32: too big integer near '99999999999999999999'" },
	{ "{'version': 1, 'subjects': [{'kind': 'cn', 'id': 'a\\u0000b', 'state': 'enabled'}]}",
	  "invalid JSON at line 1 column 59: \\u0000 is not allowed without JSON_ALLOW_NUL near "
	  "'\"a\\u0000b\"'" },
};

static void check_errors(void)
{
	char err[512] = "", name[64];
	struct tw_policy *p;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(name, sizeof(name), "bad[%zu] rejected", i);
		errno = 0;
		p = parse_q(bad[i].in, err, sizeof(err));
		if (!ASSERT_TRUE(p == NULL, name)) {
			tw_policy_free(p);
			continue;
		}
		snprintf(name, sizeof(name), "bad[%zu] errno", i);
		ASSERT_EQ(errno, EINVAL, name);
		snprintf(name, sizeof(name), "bad[%zu] message", i);
		ASSERT_STREQ(err, bad[i].msg, name);
	}
}

static void check_limits(void)
{
	static const char ok[] = "{\"version\": 1}";
	size_t n = TW_POLICY_MAX_BYTES + 1;
	struct tw_policy *p;
	char err[256] = "", *big;

	big = malloc(n);
	if (!big) {
		ASSERT_OK_PTR(big, "malloc");
		return;
	}
	memset(big, ' ', n);
	memcpy(big, ok, sizeof(ok) - 1);
	errno = 0;
	p = tw_policy_parse(big, n, err, sizeof(err));
	ASSERT_TRUE(p == NULL, "too large rejected");
	ASSERT_EQ(errno, E2BIG, "too large errno");
	ASSERT_STREQ(err, "bundle is 67108865 bytes, more than the limit of 67108864",
		     "too large message");
	tw_policy_free(p);
	free(big);

	/* Not NUL-terminated: only @len bytes are read. */
	p = tw_policy_parse("{\"version\": 5}garbage", 14, err, sizeof(err));
	if (ASSERT_OK_PTR(p, err))
		ASSERT_EQ(tw_policy_version(p), 5, "bounded read");
	tw_policy_free(p);
	/* No error buffer, tiny error buffer. */
	ASSERT_TRUE(tw_policy_parse("{", 1, NULL, 0) == NULL, "no errbuf");
	ASSERT_TRUE(tw_policy_parse("{}", 2, err, 10) == NULL, "tiny errbuf");
	ASSERT_EQ(strlen(err), 9, "tiny errbuf cut");
	/* Offsets in generated_at. */
	p = parse_q("{'version': 1, 'generated_at': '2026-11-22T04:00:00.123+01:30'}", err,
		    sizeof(err));
	if (ASSERT_OK_PTR(p, err))
		ASSERT_EQ(tw_policy_generated_at(p), 1795314600, "offset applied");
	tw_policy_free(p);
}

static void check_deltas(void)
{
	const struct tw_profile *emp, *con, *np;
	const struct tw_subject *s;
	struct tw_policy *p;
	uint32_t emp_num, con_num;
	char err[512] = "";
	int ret;

	p = parse_q(snapshot, err, sizeof(err));
	if (!ASSERT_OK_PTR(p, err))
		return;
	emp_num = tw_policy_profile(p, "employees")->num;
	con_num = tw_policy_profile(p, "contractors")->num;

	/* A good delta: a confirmation, a removal, a new profile and tenant,
	 * a new subject using both, a changed profile. */
	ret = delta_q(p,
		      "{'type': 'delta', 'base': 10, 'version': 11,"
		      " 'tenants': {'upsert': [{'id': 'initech'}]},"
		      " 'profiles': {'upsert': [{'id': 'lab', 'from_client': [{'prefix': "
		      "'10.99.0.0/16'}]}, {'id': 'employees', 'name': 'Staff'}]},"
		      " 'subjects': {'upsert': [{'kind': 'cn', 'id': 'bob', 'tenant': 'acme',"
		      "  'profiles': ['employees'], 'state': 'enabled'},"
		      "  {'kind': 'cn', 'id': 'carol', 'tenant': 'initech', 'profiles': ['lab'],"
		      "  'state': 'needs-confirmation'}],"
		      "  'remove': [{'kind': 'ipsec_id', 'id': 'alice'}]}}",
		      err, sizeof(err));
	if (!ASSERT_OK(ret, err))
		goto out;
	ASSERT_EQ(tw_policy_version(p), 11, "version 11");
	ASSERT_EQ(tw_policy_nsubjects(p), 4, "4 subjects");
	s = tw_policy_subject(p, TW_SUBJ_CN, "bob");
	if (ASSERT_OK_PTR(s, "bob")) {
		ASSERT_EQ(s->state, TW_SUBJ_ENABLED, "bob confirmed");
		ASSERT_EQ(s->nprofiles, 1, "bob profiles");
	}
	ASSERT_TRUE(tw_policy_subject(p, TW_SUBJ_IPSEC_ID, "alice") == NULL, "ipsec alice gone");
	ASSERT_OK_PTR(tw_policy_subject(p, TW_SUBJ_CN, "alice"), "cn alice kept");
	emp = tw_policy_profile(p, "employees");
	np = tw_policy_profile(p, "lab");
	if (ASSERT_OK_PTR(emp, "employees") && ASSERT_OK_PTR(np, "lab")) {
		ASSERT_EQ(emp->num, emp_num, "upserted profile keeps its num");
		ASSERT_STREQ(emp->name, "Staff", "upserted profile replaced");
		ASSERT_EQ(emp->nrules, 0, "upserted profile rules replaced");
		ASSERT_EQ(np->num, 3, "new profile: next free num");
		ASSERT_TRUE(tw_policy_profile_by_num(p, np->num) == np, "lab by num");
	}
	s = tw_policy_subject(p, TW_SUBJ_CN, "carol");
	if (ASSERT_OK_PTR(s, "carol") && np)
		ASSERT_EQ(s->profiles[0], np->num, "carol -> lab");
	ASSERT_OK_PTR(tw_policy_tenant(p, "initech"), "initech");

	/* Refused: wrong base, not newer, wrong type. */
	ret = delta_q(p, "{'type': 'delta', 'base': 9, 'version': 12}", err, sizeof(err));
	ASSERT_EQ(ret, -ESTALE, "base mismatch");
	ASSERT_STREQ(err, "base: delta is for version 9, policy is at version 11", "base msg");
	ret = delta_q(p, "{'type': 'delta', 'base': 11, 'version': 11}", err, sizeof(err));
	ASSERT_EQ(ret, -ESTALE, "not newer");
	ASSERT_STREQ(err, "version: 11 is not newer than base 11", "not newer msg");
	ret = delta_q(p, "{'base': 11, 'version': 12}", err, sizeof(err));
	ASSERT_EQ(ret, -EINVAL, "snapshot as delta");
	ASSERT_STREQ(err, "type: expected a delta, got a snapshot", "type msg");

	/* All or nothing: the last change is bad, the first ones must not stick. */
	ret = delta_q(p,
		      "{'type': 'delta', 'base': 11, 'version': 12,"
		      " 'profiles': {'upsert': [{'id': 'p2'}], 'remove': ['lab']},"
		      " 'subjects': {'upsert': [{'kind': 'cn', 'id': 'alice', 'profiles': ['p2'],"
		      "  'state': 'revoked'}, {'kind': 'cn', 'id': 'dave', 'profiles': ['gone'],"
		      "  'state': 'enabled'}], 'remove': [{'kind': 'cn', 'id': 'carol'}]}}",
		      err, sizeof(err));
	ASSERT_EQ(ret, -EINVAL, "bad delta refused");
	ASSERT_STREQ(err, "subjects.upsert[1].profiles[0]: unknown profile 'gone'", "bad msg");
	ASSERT_EQ(tw_policy_version(p), 11, "version untouched");
	s = tw_policy_subject(p, TW_SUBJ_CN, "alice");
	if (ASSERT_OK_PTR(s, "alice still there"))
		ASSERT_EQ(s->state, TW_SUBJ_ENABLED, "alice untouched");
	ASSERT_OK_PTR(tw_policy_subject(p, TW_SUBJ_CN, "carol"), "carol not removed");
	ASSERT_OK_PTR(tw_policy_profile(p, "lab"), "lab not removed");
	ASSERT_TRUE(tw_policy_profile(p, "p2") == NULL, "p2 not added");
	ASSERT_EQ(tw_policy_nsubjects(p), 4, "subject count untouched");

	/* A profile still named by a subject cannot go ... */
	ret = delta_q(p,
		      "{'type': 'delta', 'base': 11, 'version': 12, 'profiles': {'remove':"
		      " ['employees']}}",
		      err, sizeof(err));
	ASSERT_EQ(ret, -EINVAL, "referenced profile");
	ASSERT_STREQ(err, "profiles.remove: profile 'employees' is still used by 2 subject(s)",
		     "referenced profile msg");
	ret = delta_q(p,
		      "{'type': 'delta', 'base': 11, 'version': 12, 'tenants': {'remove':"
		      " ['acme']}}",
		      err, sizeof(err));
	ASSERT_EQ(ret, -EINVAL, "refused");
	ASSERT_STREQ(err, "tenants.remove: tenant 'acme' is still used by 2 subject(s)",
		     "referenced tenant msg");
	/* ... nor be referenced by an upsert in the same delta. */
	ret = delta_q(p,
		      "{'type': 'delta', 'base': 11, 'version': 12, 'profiles': {'remove': "
		      "['lab']}, 'subjects': {'upsert': [{'kind': 'cn', 'id': 'carol',"
		      " 'profiles': ['lab'], 'state': 'enabled'}]}}",
		      err, sizeof(err));
	ASSERT_EQ(ret, -EINVAL, "refused");
	ASSERT_STREQ(err, "subjects.upsert[0].profiles[0]: unknown profile 'lab'",
		     "removed profile msg");
	ret = delta_q(p,
		      "{'type': 'delta', 'base': 11, 'version': 12, 'subjects': {'remove':"
		      " [{'kind': 'cn', 'id': 'zed'}]}}",
		      err, sizeof(err));
	ASSERT_EQ(ret, -EINVAL, "refused");
	ASSERT_STREQ(err, "subjects.remove[0]: no subject cn 'zed' to remove", "unknown remove");
	ret = delta_q(p,
		      "{'type': 'delta', 'base': 11, 'version': 12, 'subjects': {'remove':"
		      " [{'kind': 'cn', 'id': 'bob'}], 'upsert': [{'kind': 'cn', 'id': 'bob',"
		      " 'state': 'enabled'}]}}",
		      err, sizeof(err));
	ASSERT_EQ(ret, -EINVAL, "refused");
	ASSERT_STREQ(err, "subjects.upsert[0]: subject cn 'bob' is both upserted and removed",
		     "upsert+remove");
	ret = delta_q(p,
		      "{'type': 'delta', 'base': 11, 'version': 12, 'profiles': {'remove':"
		      " ['lab', 'lab']}}",
		      err, sizeof(err));
	ASSERT_EQ(ret, -EINVAL, "refused");
	ASSERT_STREQ(err, "profiles.remove[1]: 'lab' removed twice", "removed twice");
	ret = delta_q(p,
		      "{'type': 'delta', 'base': 11, 'version': 12, 'profiles': {'drop':"
		      " ['lab']}}",
		      err, sizeof(err));
	ASSERT_EQ(ret, -EINVAL, "refused");
	ASSERT_STREQ(err, "profiles: unknown key 'drop'", "change keys");
	ASSERT_EQ(tw_policy_version(p), 11, "still 11 after refusals");

	/* Removing a profile together with its last user works, and the
	 * number it leaves is not handed to a profile created in the same
	 * delta (a live slot may still carry it). */
	ret = delta_q(p,
		      "{'type': 'delta', 'base': 11, 'version': 13, 'generated_at':"
		      " '2026-11-22T05:00:00Z', 'profiles': {'remove': ['lab'], 'upsert':"
		      " [{'id': 'lab2'}]}, 'subjects': {'remove': [{'kind': 'cn', 'id': 'carol'}]},"
		      " 'tenants': {'remove': ['initech']}}",
		      err, sizeof(err));
	if (ASSERT_OK(ret, err)) {
		ASSERT_EQ(tw_policy_version(p), 13, "version 13");
		ASSERT_EQ(tw_policy_generated_at(p), 1795320000 + 3600, "generated_at moved");
		ASSERT_TRUE(tw_policy_profile(p, "lab") == NULL, "lab gone");
		ASSERT_TRUE(tw_policy_profile_by_num(p, 3) == NULL, "num 3 free");
		np = tw_policy_profile(p, "lab2");
		if (ASSERT_OK_PTR(np, "lab2"))
			ASSERT_EQ(np->num, 4, "lab2 does not reuse 3");
		ASSERT_TRUE(tw_policy_tenant(p, "initech") == NULL, "initech gone");
		ASSERT_EQ(tw_policy_ntenants(p), 2, "2 tenants");
	}
	/* Now that num 3 was free for a whole version, it is reused. */
	ret = delta_q(p,
		      "{'type': 'delta', 'base': 13, 'version': 14, 'profiles': {'upsert':"
		      " [{'id': 'lab3'}]}}",
		      err, sizeof(err));
	if (ASSERT_OK(ret, err) && ASSERT_OK_PTR(tw_policy_profile(p, "lab3"), "lab3"))
		ASSERT_EQ(tw_policy_profile(p, "lab3")->num, 3, "lab3 reuses 3");
	con = tw_policy_profile(p, "contractors");
	if (ASSERT_OK_PTR(con, "contractors"))
		ASSERT_EQ(con->num, con_num, "contractors num stable");
out:
	tw_policy_free(p);
}

static void check_next(void)
{
	struct tw_policy *a, *b = NULL;
	char err[512] = "";

	a = parse_q("{'version': 5, 'tenants': [{'id': 't1'}, {'id': 't2'}], 'profiles':"
		    " [{'id': 'a'}, {'id': 'b'}]}",
		    err, sizeof(err));
	if (!ASSERT_OK_PTR(a, err))
		return;
	errno = 0;
	b = tw_policy_parse_next(a, "{\"version\": 5}", 14, err, sizeof(err));
	ASSERT_TRUE(b == NULL, "same version refused");
	ASSERT_EQ(errno, ESTALE, "ESTALE");
	ASSERT_STREQ(err, "version: 5 is not newer than the current 5", "stale msg");

	{
		char *j = jq("{'version': 6, 'tenants': [{'id': 't3'}, {'id': 't2'}], 'profiles':"
			     " [{'id': 'c'}, {'id': 'b'}]}");

		b = tw_policy_parse_next(a, j, strlen(j), err, sizeof(err));
		free(j);
	}
	if (!ASSERT_OK_PTR(b, err))
		goto out;
	ASSERT_EQ(tw_policy_profile(b, "b")->num, tw_policy_profile(a, "b")->num, "b kept");
	ASSERT_EQ(tw_policy_profile(b, "c")->num, 3, "c takes a number a did not use");
	ASSERT_EQ(tw_policy_tenant(b, "t2")->num, tw_policy_tenant(a, "t2")->num, "t2 kept");
	ASSERT_EQ(tw_policy_tenant(b, "t3")->num, 3, "t3 new number");
	ASSERT_EQ(tw_policy_version(a), 5, "prev untouched");
out:
	tw_policy_free(a);
	tw_policy_free(b);
}

/*
 * Deltas that grow every table well past its first size (rehash with live
 * entries, by-num arrays grown) and then empty most of it again (backward
 * shift deletion in a dense table): every survivor must still be found.
 */
static void check_delta_growth(void)
{
	size_t cap = 1 << 16, o = 0;
	char err[512] = "", id[32], *d = NULL;
	struct tw_policy *p;
	int i, found = 0, ret;

	p = parse_q("{'version': 1, 'tenants': [{'id': 't0'}], 'profiles': [{'id': 'p0'}],"
		    " 'subjects': [{'kind': 'cn', 'id': 's0', 'state': 'enabled'}]}",
		    err, sizeof(err));
	if (!ASSERT_OK_PTR(p, err))
		return;
	d = malloc(cap);
	if (!d) {
		ASSERT_OK_PTR(d, "malloc");
		goto out;
	}
	o += snprintf(d + o, cap - o,
		      "{\"type\":\"delta\",\"base\":1,\"version\":2,"
		      "\"tenants\":{\"upsert\":[");
	for (i = 1; i <= 40; i++)
		o += snprintf(d + o, cap - o, "%s{\"id\":\"t%d\"}", i > 1 ? "," : "", i);
	o += snprintf(d + o, cap - o, "]},\"profiles\":{\"upsert\":[");
	for (i = 1; i <= 20; i++)
		o += snprintf(d + o, cap - o, "%s{\"id\":\"p%d\"}", i > 1 ? "," : "", i);
	o += snprintf(d + o, cap - o, "]},\"subjects\":{\"upsert\":[");
	for (i = 1; i <= 300; i++)
		o += snprintf(d + o, cap - o,
			      "%s{\"kind\":\"cn\",\"id\":\"s%d\",\"tenant\":\"t%d\","
			      "\"profiles\":[\"p%d\"],\"state\":\"enabled\"}",
			      i > 1 ? "," : "", i, i % 41, i % 21);
	o += snprintf(d + o, cap - o, "]}}");
	ret = tw_policy_apply_delta(p, d, o, err, sizeof(err));
	if (!ASSERT_OK(ret, err))
		goto out;
	ASSERT_EQ(tw_policy_nsubjects(p), 301, "grown subjects");
	ASSERT_EQ(tw_policy_ntenants(p), 41, "grown tenants");
	ASSERT_EQ(tw_policy_nprofiles(p), 21, "grown profiles");
	ASSERT_EQ(tw_policy_tenant(p, "t40")->num, 41, "tenant 41 by id");
	ASSERT_TRUE(tw_policy_tenant_by_num(p, 41) == tw_policy_tenant(p, "t40"), "by num");
	for (i = 0; i <= 300; i++) {
		snprintf(id, sizeof(id), "s%d", i);
		found += tw_policy_subject(p, TW_SUBJ_CN, id) != NULL;
	}
	ASSERT_EQ(found, 301, "all found after rehash");

	/* Remove all but every tenth, in an order unrelated to the hash. */
	o = 0;
	o += snprintf(d + o, cap - o,
		      "{\"type\":\"delta\",\"base\":2,\"version\":3,"
		      "\"subjects\":{\"remove\":[");
	for (i = 300; i >= 1; i--)
		if (i % 10)
			o += snprintf(d + o, cap - o, "%s{\"kind\":\"cn\",\"id\":\"s%d\"}",
				      i < 299 ? "," : "", i);
	o += snprintf(d + o, cap - o, "]}}");
	ret = tw_policy_apply_delta(p, d, o, err, sizeof(err));
	if (!ASSERT_OK(ret, err))
		goto out;
	ASSERT_EQ(tw_policy_nsubjects(p), 31, "shrunk");
	for (found = 0, i = 0; i <= 300; i++) {
		const struct tw_subject *s;

		snprintf(id, sizeof(id), "s%d", i);
		s = tw_policy_subject(p, TW_SUBJ_CN, id);
		if (i % 10 == 0 ? s != NULL : s == NULL)
			found++;
	}
	ASSERT_EQ(found, 301, "survivors found, removed ones gone");
out:
	free(d);
	tw_policy_free(p);
}

#define NSUBJ 100000

static double now_s(void)
{
	struct timespec ts;

	/* CPU time: the figures must not depend on what else the machine runs. */
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* {"version":1,"tenants":[...8],"profiles":[...4],"subjects":[... NSUBJ]} */
static char *big_bundle(size_t *len)
{
	size_t cap = 64 + NSUBJ * 128, o = 0;
	char *b = malloc(cap);
	int i;

	if (!b)
		return NULL;
	o += snprintf(b + o, cap - o, "{\"version\":1,\"tenants\":[");
	for (i = 0; i < 8; i++)
		o += snprintf(b + o, cap - o, "%s{\"id\":\"t%d\"}", i ? "," : "", i);
	o += snprintf(b + o, cap - o, "],\"profiles\":[");
	for (i = 0; i < 4; i++)
		o += snprintf(b + o, cap - o,
			      "%s{\"id\":\"p%d\",\"from_client\":[{\"prefix\":\"10.%d.0.0/16\"}]}",
			      i ? "," : "", i, i);
	o += snprintf(b + o, cap - o, "],\"subjects\":[");
	for (i = 0; i < NSUBJ; i++)
		o += snprintf(b + o, cap - o,
			      "%s{\"kind\":\"cn\",\"id\":\"user-%06d@example.org\",\"tenant\":"
			      "\"t%d\",\"profiles\":[\"p%d\"],\"state\":\"%s\"}",
			      i ? "," : "", i, i % 8, i % 4, i % 10 ? "enabled" : "revoked");
	o += snprintf(b + o, cap - o, "]}");
	*len = o;
	return b;
}

static void check_100k(void)
{
	const struct tw_subject *s;
	struct tw_policy *p;
	double t0, t_parse, t_lookup;
	char id[64], err[512], *buf, *ids = NULL;
	size_t len, it = 0, n = 0;
	uint32_t t0_num;
	int i, found = 0, right = 0, ret;

	buf = big_bundle(&len);
	if (!ASSERT_OK_PTR(buf, "bundle"))
		return;
	t0 = now_s();
	p = tw_policy_parse(buf, len, err, sizeof(err));
	t_parse = now_s() - t0;
	free(buf);
	if (!ASSERT_OK_PTR(p, err))
		return;
	ASSERT_EQ(tw_policy_nsubjects(p), NSUBJ, "100k subjects");

	ids = malloc((size_t)NSUBJ * 32);
	if (!ASSERT_OK_PTR(ids, "ids"))
		goto out;
	for (i = 0; i < NSUBJ; i++)
		snprintf(ids + (size_t)i * 32, 32, "user-%06d@example.org", i);
	t0_num = tw_policy_tenant(p, "t0")->num;
	t0 = now_s();
	for (i = 0; i < NSUBJ; i++) {
		s = tw_policy_subject(p, TW_SUBJ_CN, ids + (size_t)i * 32);
		if (!s)
			continue;
		found++;
		if (s->tenant == t0_num + (uint32_t)(i % 8) &&
		    s->profiles[0] == (uint32_t)(i % 4) + 1 &&
		    s->state == (i % 10 ? TW_SUBJ_ENABLED : TW_SUBJ_REVOKED))
			right++;
	}
	t_lookup = now_s() - t0;
	ASSERT_EQ(found, NSUBJ, "all found");
	ASSERT_EQ(right, NSUBJ, "all with the right tenant, profile and state");
	for (i = 0; i < 1000; i++) {
		snprintf(id, sizeof(id), "user-%06d@example.org", NSUBJ + i);
		if (tw_policy_subject(p, TW_SUBJ_CN, id) ||
		    tw_policy_subject(p, TW_SUBJ_WG_KEY, id + 5))
			break;
	}
	ASSERT_EQ(i, 1000, "misses miss");
	while (tw_policy_subject_next(p, &it))
		n++;
	ASSERT_EQ(n, NSUBJ, "iteration sees all");
	test__diag("100k subjects: parse %.0f ms, lookup %.0f ns each", t_parse * 1e3,
		   t_lookup * 1e9 / NSUBJ);
	/* O(1) means well below a microsecond even under ASan; a linear
	 * scan of 100k would be milliseconds. */
	ASSERT_LT(t_lookup * 1e9 / NSUBJ, 2000, "lookup cost");

	/* A delta on the big policy: remove 1000, add 1000, revoke one. */
	{
		size_t cap = (size_t)256 * 2001, o = 0;
		char *d = malloc(cap);

		if (!ASSERT_OK_PTR(d, "delta buf"))
			goto out;
		o += snprintf(d + o, cap - o,
			      "{\"type\":\"delta\",\"base\":1,\"version\":2,\"subjects\":{"
			      "\"remove\":[");
		for (i = 0; i < 1000; i++)
			o += snprintf(d + o, cap - o,
				      "%s{\"kind\":\"cn\",\"id\":\"user-%06d"
				      "@example.org\"}",
				      i ? "," : "", i * 7);
		o += snprintf(d + o, cap - o, "],\"upsert\":[");
		for (i = 0; i < 1000; i++)
			o += snprintf(d + o, cap - o,
				      "{\"kind\":\"cn\",\"id\":\"new-%d\","
				      "\"profiles\":[\"p1\"],\"state\":\"enabled\"},",
				      i);
		o += snprintf(d + o, cap - o,
			      "{\"kind\":\"cn\",\"id\":\"user-000001@example.org\","
			      "\"state\":\"revoked\"}]}}");
		t0 = now_s();
		ret = tw_policy_apply_delta(p, d, o, err, sizeof(err));
		test__diag("delta of 2001 changes on 100k: %.1f ms", (now_s() - t0) * 1e3);
		free(d);
		if (!ASSERT_OK(ret, err))
			goto out;
		ASSERT_EQ(tw_policy_nsubjects(p), NSUBJ, "count after delta");
		ASSERT_TRUE(tw_policy_subject(p, TW_SUBJ_CN, "user-000007@example.org") == NULL,
			    "removed");
		ASSERT_OK_PTR(tw_policy_subject(p, TW_SUBJ_CN, "user-000008@example.org"), "kept");
		ASSERT_OK_PTR(tw_policy_subject(p, TW_SUBJ_CN, "new-999"), "added");
		s = tw_policy_subject(p, TW_SUBJ_CN, "user-000001@example.org");
		if (ASSERT_OK_PTR(s, "revoked one"))
			ASSERT_EQ(s->state, TW_SUBJ_REVOKED, "revoked");
		/* every survivor is still reachable after backward-shift deletes */
		for (found = 0, i = 0; i < NSUBJ; i++) {
			snprintf(id, sizeof(id), "user-%06d@example.org", i);
			if (tw_policy_subject(p, TW_SUBJ_CN, id))
				found++;
		}
		ASSERT_EQ(found, NSUBJ - 1000, "survivors found");
	}
out:
	free(ids);
	tw_policy_free(p);
}

static void check_example(void)
{
	static char buf[1 << 20];
	struct tw_policy *p;
	char err[512] = "";
	size_t n;
	FILE *f;

	f = fopen("examples/policy.json", "r");
	if (!f) {
		test__skip("examples/policy.json: %s (run from the source tree)", strerror(errno));
		return;
	}
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	p = tw_policy_parse(buf, n, err, sizeof(err));
	if (!ASSERT_OK_PTR(p, err))
		return;
	ASSERT_GE(tw_policy_nsubjects(p), 1, "example subjects");
	ASSERT_GE(tw_policy_nprofiles(p), 1, "example profiles");
	tw_policy_free(p);
}

void test_policy_parse(void); /* called by the generated runner table */
void test_policy_parse(void)
{
	if (test__start_subtest("snapshot"))
		check_snapshot();
	if (test__start_subtest("errors"))
		check_errors();
	if (test__start_subtest("limits"))
		check_limits();
	if (test__start_subtest("deltas"))
		check_deltas();
	if (test__start_subtest("delta_growth"))
		check_delta_growth();
	if (test__start_subtest("parse_next"))
		check_next();
	if (test__start_subtest("100k_subjects"))
		check_100k();
	if (test__start_subtest("example"))
		check_example();
}
