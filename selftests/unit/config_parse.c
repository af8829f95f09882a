// SPDX-License-Identifier: GPL-2.0-only
/*
 * tw_config_parse(): valid files, defaults, value syntaxes, and one case
 * per error class with the exact message the operator will read.
 */
#include <stdlib.h>
#include <arpa/inet.h>
#include "test.h"
#include "config.h"

static int parse(const char *s, struct tw_config *c, char *err, size_t errlen)
{
	return tw_config_parse(s, strlen(s), "tunwarden.conf", c, err, errlen);
}

/* Leave 0xff in the stack the parser's frames reuse next, so that a value
 * copied from an uninitialised local shows up as 0xff rather than as the
 * zeros a fresh stack happens to hold. */
static __attribute__((noinline)) void dirty_stack(void)
{
	uint8_t junk[32 * 1024];

	memset(junk, 0xff, sizeof(junk));
	__asm__ volatile("" : : "r"(junk) : "memory");
}

static const char full_conf[] = "# a full file\n"
				"[node]\n"
				"id = ams-vpn-1\n"
				"state_dir = /srv/tw\n"
				"run_dir = /run/tw\n"
				"pin_root = /sys/fs/bpf/tw-test\n"
				"log_level = debug\n"
				"attach_mode = tc\n"
				"\n"
				"[interface tun-udp]\n"
				"profiles = employees, contractors\n"
				"[interface \"wg*\"]\n"
				"l3_offset = 14\n"
				"profiles = iot\n"
				"profiles = lab     # repeated list keys append\n"
				"[uplink]\n"
				"interface = eth0\n"
				"vpn_port = udp/1194/openvpn, tcp/443/openvpn\n"
				"vpn_port = udp/51820/wireguard\n"
				"handshake_rate = 50\n"
				"handshake_burst = 100\n"
				"rate_v4_prefix = 24\n"
				"rate_v6_prefix = 56\n"
				"[accounting]\n"
				"interim_interval = 1h30m\n"
				"journal_max_size = 2G\n"
				"[policy]\n"
				"file = /etc/tw/p.json\n"
				"offline_grace = 2h\n"
				"offline_mode = sandbox\n"
				"[confirmation]\n"
				"timeout = 90\n"
				"ban_threshold = 3\n"
				"ban_window = 10m\n"
				"ban_duration = 1d\n"
				"[openvpn]\n"
				"management = /run/openvpn/a.sock\n"
				"management = /run/openvpn/b.sock\n"
				"[metrics]\n"
				"listen = [::1]:9310\n";

static void check_full(void)
{
	struct tw_config c = {};
	char err[256] = "";

	if (!ASSERT_OK(parse(full_conf, &c, err, sizeof(err)), err))
		return;
	ASSERT_STREQ(c.node_id, "ams-vpn-1", "node_id");
	ASSERT_STREQ(c.state_dir, "/srv/tw", "state_dir");
	ASSERT_STREQ(c.journal_path, "/srv/tw/journal.db", "journal derived");
	ASSERT_STREQ(c.policy_cache_path, "/srv/tw/policy.json", "cache derived");
	ASSERT_STREQ(c.status_path, "/srv/tw/status.json", "status derived");
	ASSERT_STREQ(c.socket_path, "/run/tw/tunwardend.sock", "socket derived");
	ASSERT_STREQ(c.pin_root, "/sys/fs/bpf/tw-test", "pin_root");
	ASSERT_EQ(c.log_level, TW_LOG_DEBUG, "log_level");
	ASSERT_EQ(c.attach_mode, TW_ATTACH_TC, "attach_mode");
	if (ASSERT_EQ(c.nifaces, 2, "nifaces")) {
		ASSERT_STREQ(c.ifaces[0].pattern, "tun-udp", "iface0");
		ASSERT_EQ(c.ifaces[0].l3_off, 0, "iface0 l3");
		ASSERT_EQ(c.ifaces[0].nprofiles, 2, "iface0 nprofiles");
		ASSERT_STREQ(c.ifaces[0].profiles[1], "contractors", "iface0 prof1");
		ASSERT_STREQ(c.ifaces[1].pattern, "wg*", "iface1 quoted glob");
		ASSERT_EQ(c.ifaces[1].l3_off, 14, "iface1 l3");
		ASSERT_EQ(c.ifaces[1].nprofiles, 2, "iface1 nprofiles");
		ASSERT_STREQ(c.ifaces[1].profiles[1], "lab", "iface1 appended");
	}
	ASSERT_STREQ(c.uplink, "eth0", "uplink");
	if (ASSERT_EQ(c.nvports, 3, "nvports")) {
		ASSERT_EQ(c.vports[1].proto, IPPROTO_TCP, "vport1 proto");
		ASSERT_EQ(c.vports[1].port, 443, "vport1 port");
		ASSERT_EQ(c.vports[2].kind, TW_VPN_WIREGUARD, "vport2 kind");
	}
	ASSERT_EQ(c.ucfg.hs_rate, 50, "hs_rate");
	ASSERT_EQ(c.ucfg.hs_burst, 100, "hs_burst");
	ASSERT_EQ(c.ucfg.v4_prefix, 24, "v4_prefix");
	ASSERT_EQ(c.ucfg.v6_prefix, 56, "v6_prefix");
	ASSERT_EQ(c.interim_interval_s, 5400, "interim");
	ASSERT_EQ(c.journal_max_bytes, 2ULL << 30, "journal size");
	ASSERT_STREQ(c.policy_file, "/etc/tw/p.json", "policy file");
	ASSERT_EQ(c.offline_grace_s, 7200, "grace");
	ASSERT_EQ(c.offline_mode, TW_OFFLINE_SANDBOX, "offline mode");
	ASSERT_EQ(c.confirm_timeout_s, 90, "confirm timeout");
	ASSERT_EQ(c.ban_threshold, 3, "ban threshold");
	ASSERT_EQ(c.ban_window_s, 600, "ban window");
	ASSERT_EQ(c.ban_duration_s, 86400, "ban duration");
	ASSERT_EQ(c.novpn_mgmt, 2, "mgmt count");
	ASSERT_STREQ(c.ovpn_mgmt[1], "/run/openvpn/b.sock", "mgmt1");
	ASSERT_TRUE(c.metrics_enabled, "metrics on");
	ASSERT_EQ(c.metrics_family, AF_INET6, "metrics family");
	ASSERT_EQ(c.metrics_port, 9310, "metrics port");

	ASSERT_TRUE(tw_config_iface_match(&c, "wg0") == &c.ifaces[1], "glob match");
	ASSERT_TRUE(tw_config_iface_match(&c, "tun-udp") == &c.ifaces[0], "exact match");
	ASSERT_TRUE(tw_config_iface_match(&c, "tun0") == NULL, "no match");
}

static void check_defaults(void)
{
	struct tw_config c = {}, d;
	char err[256] = "";

	tw_config_defaults(&d);
	if (!ASSERT_OK(parse("", &c, err, sizeof(err)), "empty file"))
		return;
	ASSERT_STREQ(c.node_id, "", "node_id empty");
	ASSERT_STREQ(c.journal_path, "/var/lib/tunwarden/journal.db", "journal");
	ASSERT_STREQ(c.socket_path, "/run/tunwarden/tunwardend.sock", "socket");
	ASSERT_STREQ(c.pin_root, TW_PIN_ROOT, "pin_root");
	ASSERT_EQ(c.nifaces, 2, "default ifaces");
	ASSERT_TRUE(tw_config_iface_match(&c, "tun0") != NULL, "tun* by default");
	ASSERT_TRUE(tw_config_iface_match(&c, "wg7") != NULL, "wg* by default");
	ASSERT_TRUE(tw_config_iface_match(&c, "eth0") == NULL, "eth0 not by default");
	ASSERT_EQ(c.interim_interval_s, 300, "interim 5m");
	ASSERT_EQ(c.journal_max_bytes, 256ULL << 20, "journal 256M");
	ASSERT_EQ(c.offline_grace_s, 86400, "grace 1d");
	ASSERT_EQ(c.offline_mode, TW_OFFLINE_KNOWN_ONLY, "known-only");
	ASSERT_EQ(c.confirm_timeout_s, 300, "confirm 5m");
	ASSERT_EQ(c.ban_threshold, 5, "ban 5");
	ASSERT_EQ(c.ban_window_s, 900, "window 15m");
	ASSERT_EQ(c.ban_duration_s, 3600, "ban 1h");
	ASSERT_EQ(c.ucfg.hs_rate, 20, "hs_rate");
	ASSERT_FALSE(c.metrics_enabled, "metrics off");
	ASSERT_EQ(c.log_level, TW_LOG_INFO, "info");
	/* defaults() itself leaves the derived paths empty for the parser */
	ASSERT_STREQ(d.journal_path, "", "defaults: journal not derived");

	/* Comments only, CRLF endings, ';' comments, blank lines with spaces */
	if (ASSERT_OK(parse("# c\r\n; c\r\n   \r\n[node]\r\nid = x # trailing\r\n", &c, err,
			    sizeof(err)),
		      err))
		/* cppcheck misreads the '#' in these literals */
		// cppcheck-suppress AssignmentAddressToInteger
		ASSERT_STREQ(c.node_id, "x", "CRLF + inline comment");
	/* '#' not after whitespace belongs to the value */
	if (ASSERT_OK(parse("[node]\nid=a#b\n", &c, err, sizeof(err)), err))
		// cppcheck-suppress AssignmentAddressToInteger
		ASSERT_STREQ(c.node_id, "a#b", "hash inside value");
	/* The first [interface] section replaces the default tun*, wg* */
	if (ASSERT_OK(parse("[interface tap0]\nl3_offset=14\n", &c, err, sizeof(err)), err)) {
		ASSERT_EQ(c.nifaces, 1, "defaults replaced");
		ASSERT_TRUE(tw_config_iface_match(&c, "tun0") == NULL, "tun0 no longer");
	}
	/* Explicit paths win over derived ones */
	if (ASSERT_OK(parse("[node]\nsocket = /run/x.sock\njournal = /j.db\n", &c, err,
			    sizeof(err)),
		      err)) {
		ASSERT_STREQ(c.socket_path, "/run/x.sock", "explicit socket");
		ASSERT_STREQ(c.journal_path, "/j.db", "explicit journal");
	}
	if (ASSERT_OK(parse("[metrics]\nlisten = localhost:9100\n", &c, err, sizeof(err)), err))
		ASSERT_EQ(c.metrics_port, 9100, "localhost");
	/* An IPv4 listen address fills 4 of the 16 bytes; the rest are zero,
	 * so that two parses of one file compare equal. */
	dirty_stack();
	if (ASSERT_OK(parse("[metrics]\nlisten = 127.0.0.1:9100\n", &c, err, sizeof(err)), err))
		ASSERT_TRUE(!memcmp(c.metrics_addr, (uint8_t[16]){ 127, 0, 0, 1 }, 16),
			    "IPv4 metrics_addr zero after the address");
}

static void check_values(void)
{
	static const struct {
		const char *s;
		int ret;
		uint64_t v;
	} durs[] = {
		{ "30s", 0, 30 },	   { "5m", 0, 300 },	 { "2h", 0, 7200 },
		{ "1d", 0, 86400 },	   { "1h30m", 0, 5400 }, { "90", 0, 90 },
		{ "0", 0, 0 },		   { "", -EINVAL, 0 },	 { "5x", -EINVAL, 0 },
		{ "1w", 0, 604800 },	   { "1w2d", 0, 777600 }, { "1h30", -EINVAL, 0 },
		{ "m", -EINVAL, 0 },	   { "-5s", -EINVAL, 0 },
		{ "5 m", -EINVAL, 0 },	   { "99999999999999999999", -ERANGE, 0 },
		{ "9999999999999999d", -ERANGE, 0 },
	}, sizes[] = {
		{ "4096", 0, 4096 },	 { "512K", 0, 512 << 10 }, { "64M", 0, 64 << 20 },
		{ "64MiB", 0, 64 << 20 }, { "64MB", 0, 64 << 20 },  { "2G", 0, 2ULL << 30 },
		{ "1T", 0, 1ULL << 40 },  { "64X", -EINVAL, 0 },    { "M", -EINVAL, 0 },
		{ "64Mb", -EINVAL, 0 },	  { "", -EINVAL, 0 },	    { "20000000000T", -ERANGE, 0 },
	};
	char name[64];
	uint64_t v;
	size_t i;

	for (i = 0; i < sizeof(durs) / sizeof(durs[0]); i++) {
		v = 0;
		snprintf(name, sizeof(name), "duration '%s'", durs[i].s);
		if (ASSERT_EQ(tw_parse_duration(durs[i].s, &v), durs[i].ret, name) && !durs[i].ret)
			ASSERT_EQ(v, durs[i].v, name);
	}
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		v = 0;
		snprintf(name, sizeof(name), "size '%s'", sizes[i].s);
		if (ASSERT_EQ(tw_parse_size(sizes[i].s, &v), sizes[i].ret, name) && !sizes[i].ret)
			ASSERT_EQ(v, sizes[i].v, name);
	}
}

static const struct {
	const char *in;
	const char *msg;
} bad[] = {
	{ "[accounting]\ninterim_interval = 5m\n\n\n\n\n\n\n\n\n\nintrim_interval = 5m\n",
	  "tunwarden.conf:12: unknown key 'intrim_interval' in [accounting]" },
	{ "[acounting]\n", "tunwarden.conf:1: unknown section [acounting]" },
	{ "id = x\n", "tunwarden.conf:1: key 'id' outside of any section" },
	{ "[node]\njust words\n", "tunwarden.conf:2: expected 'key = value', got 'just words'" },
	{ "[node\n", "tunwarden.conf:1: unterminated section header '[node'" },
	{ "[node extra]\n", "tunwarden.conf:1: section [node] takes no name, got 'extra'" },
	{ "[node]\n = x\n", "tunwarden.conf:2: missing key before '='" },
	{ "[node]\nid =\n", "tunwarden.conf:2: empty value for 'id' in [node]" },
	{ "[node]\nid = a\nid = b\n",
	  "tunwarden.conf:3: duplicate key 'id' in [node] (first set on line 2)" },
	{ "[node]\nlog_level = verbose\n",
	  "tunwarden.conf:2: bad value 'verbose' for log_level in [node]: expected "
	  "err|warn|info|debug" },
	{ "[node]\nattach_mode = xdp\n",
	  "tunwarden.conf:2: bad value 'xdp' for attach_mode in [node]: expected auto|tcx|tc" },
	{ "[node]\nstate_dir = var/lib\n",
	  "tunwarden.conf:2: bad path 'var/lib' for state_dir in [node]: expected an absolute "
	  "path" },
	{ "[node]\nid = two words\n",
	  "tunwarden.conf:2: bad value 'two words' for id in [node]: expected a name without "
	  "spaces" },
	{ "[node]\nrun_dir = /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
	  "tunwarden.conf:2: run_dir too long to hold 'tunwardend.sock'" },
	{ "[accounting]\ninterim_interval = 5 minutes\n",
	  "tunwarden.conf:2: bad duration '5 minutes' for interim_interval in [accounting]: "
	  "expected e.g. 30s, 5m, 2h, 1d" },
	{ "[accounting]\ninterim_interval = 2s\n",
	  "tunwarden.conf:2: interim_interval '2s' out of range [10s, 1d] in [accounting]" },
	{ "[accounting]\njournal_max_size = 64Q\n",
	  "tunwarden.conf:2: bad size '64Q' for journal_max_size in [accounting]: expected e.g. "
	  "512K, 64M, 2G" },
	{ "[accounting]\njournal_max_size = 4K\n",
	  "tunwarden.conf:2: journal_max_size '4K' out of range [1M, 1T] in [accounting]" },
	{ "[uplink]\nhandshake_rate = 12x\n",
	  "tunwarden.conf:2: bad number '12x' for handshake_rate in [uplink]" },
	{ "[uplink]\nrate_v4_prefix = 33\n",
	  "tunwarden.conf:2: rate_v4_prefix '33' out of range [8, 32] in [uplink]" },
	{ "[uplink]\nhandshake_rate = 99999999999999999999999\n",
	  "tunwarden.conf:2: handshake_rate '99999999999999999999999' out of range [0, 1000000] "
	  "in [uplink]" },
	{ "[uplink]\nvpn_port = udp:1194\n",
	  "tunwarden.conf:2: bad VPN port 'udp:1194' for vpn_port in [uplink]: expected "
	  "PROTO/PORT/KIND, e.g. udp/1194/openvpn" },
	{ "[uplink]\nvpn_port = sctp/1194/openvpn\n",
	  "tunwarden.conf:2: bad VPN port 'sctp/1194/openvpn' for vpn_port in [uplink]: protocol "
	  "must be udp or tcp" },
	{ "[uplink]\nvpn_port = udp/70000/openvpn\n",
	  "tunwarden.conf:2: bad VPN port 'udp/70000/openvpn' for vpn_port in [uplink]: port "
	  "must be 1-65535" },
	{ "[uplink]\nvpn_port = udp/500/ipsec\n",
	  "tunwarden.conf:2: bad VPN port 'udp/500/ipsec' for vpn_port in [uplink]: kind must be "
	  "openvpn|wireguard|ike" },
	{ "[uplink]\nvpn_port = tcp/51820/wireguard\n",
	  "tunwarden.conf:2: bad VPN port 'tcp/51820/wireguard' for vpn_port in [uplink]: only "
	  "openvpn runs over tcp" },
	{ "[uplink]\nvpn_port = udp/1194/openvpn\nvpn_port = udp/1194/wireguard\n",
	  "tunwarden.conf:3: bad VPN port 'udp/1194/wireguard' for vpn_port in [uplink]: listed "
	  "twice" },
	{ "[uplink]\ninterface = eth0\n",
	  "tunwarden.conf: [uplink] interface 'eth0' is set but no vpn_port is listed" },
	{ "[uplink]\ninterface = eth*\n",
	  "tunwarden.conf:2: bad interface name 'eth*' for interface in [uplink]" },
	{ "[uplink]\nhandshake_rate = 1000\nhandshake_burst = 5\n",
	  "tunwarden.conf: [uplink] handshake_burst 5 is below handshake_rate/10 (100)" },
	{ "[interface averyveryverylongname]\n",
	  "tunwarden.conf:1: bad interface name or pattern 'averyveryverylongname' in section "
	  "header" },
	{ "[interface]\n", "tunwarden.conf:1: bad interface name or pattern '' in section header" },
	{ "[interface tun0]\n[interface tun0]\n",
	  "tunwarden.conf:2: duplicate section [interface tun0]" },
	{ "[interface tun0]\nl3_offset = 100\n",
	  "tunwarden.conf:2: l3_offset '100' out of range [0, 64] in [interface tun0]" },
	{ "[interface tun0]\nprofiles = a, b, a\n",
	  "tunwarden.conf:2: bad profile 'a' for profiles in [interface tun0]: listed twice" },
	{ "[interface tun0]\nprofiles = ,,\n",
	  "tunwarden.conf:2: empty value for 'profiles' in [interface tun0]" },
	{ "[policy]\noffline_mode = allow-all\n",
	  "tunwarden.conf:2: bad value 'allow-all' for offline_mode in [policy]: expected "
	  "known-only|sandbox" },
	{ "[policy]\nportal_url = https://portal\n",
	  "tunwarden.conf:2: unknown key 'portal_url' in [policy]" },
	{ "[confirmation]\ntimeout = 8d\n",
	  "tunwarden.conf:2: timeout '8d' out of range [10s, 7d] in [confirmation]" },
	{ "[confirmation]\nban_threshold = 1001\n",
	  "tunwarden.conf:2: ban_threshold '1001' out of range [0, 1000] in [confirmation]" },
	{ "[openvpn]\nmanagement = /run/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock\n",
	  "tunwarden.conf:2: bad path '/run/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa..."
	  "' for management in [openvpn]: longer than a unix socket path may be" },
	{ "[metrics]\nlisten = 0.0.0.0:9310\n",
	  "tunwarden.conf:2: metrics listen address '0.0.0.0:9310' is not a loopback address" },
	{ "[metrics]\nlisten = [2001:db8::1]:9310\n",
	  "tunwarden.conf:2: metrics listen address '[2001:db8::1]:9310' is not a loopback "
	  "address" },
	{ "[metrics]\nlisten = 127.0.0.1\n",
	  "tunwarden.conf:2: bad address '127.0.0.1' for listen in [metrics]: expected "
	  "127.0.0.1:PORT, [::1]:PORT, localhost:PORT or off" },
	/* hostile bytes are escaped, never copied into the message raw */
	{ "[node]\nfoo\x1b[2J = 1\n", "tunwarden.conf:2: unknown key 'foo\\x1b[2J' in [node]" },
};

static void check_errors(void)
{
	struct tw_config c = {};
	char err[512] = "", name[64];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&c, 0xa5, sizeof(c));
		snprintf(name, sizeof(name), "bad[%zu] rejected", i);
		if (!ASSERT_EQ(parse(bad[i].in, &c, err, sizeof(err)), -EINVAL, name))
			continue;
		snprintf(name, sizeof(name), "bad[%zu] message", i);
		ASSERT_STREQ(err, bad[i].msg, name);
		snprintf(name, sizeof(name), "bad[%zu] out untouched", i);
		ASSERT_EQ(((unsigned char *)&c)[0], 0xa5, name);
	}
}

static void check_limits(void)
{
	struct tw_config c = {};
	char err[256] = "", *big;
	size_t n = TW_CFG_MAX_BYTES + 1;
	int ret;

	big = malloc(n);
	if (!big) {
		ASSERT_OK_PTR(big, "malloc");
		return;
	}
	memset(big, '#', n);
	ret = tw_config_parse(big, n, "big.conf", &c, err, sizeof(err));
	ASSERT_EQ(ret, -E2BIG, "too large");
	ASSERT_STREQ(err, "big.conf: 1048577 bytes is larger than the 1048576 byte limit",
		     "too large message");
	free(big);

	ret = tw_config_parse("[node]\nid = a\0b\n", 15, "x.conf", &c, err, sizeof(err));
	ASSERT_EQ(ret, -EINVAL, "NUL byte");
	ASSERT_STREQ(err, "x.conf:2: NUL byte in line", "NUL message");

	/* A tiny error buffer is cut, never overrun. */
	ret = parse("[bogus]\n", &c, err, 8);
	ASSERT_EQ(ret, -EINVAL, "small errbuf");
	ASSERT_EQ(strlen(err), 7, "small errbuf cut");
	/* Buffer without a final newline, and no error buffer at all. */
	ASSERT_OK(tw_config_parse("[node]\nid = z", 13, NULL, &c, NULL, 0), "no final newline");
	ASSERT_STREQ(c.node_id, "z", "last line read");
	ASSERT_EQ(tw_config_parse("[x]", 3, NULL, &c, NULL, 0), -EINVAL, "no errbuf");
}

static void check_example(void)
{
	static char buf[TW_CFG_MAX_BYTES];
	struct tw_config c = {};
	char err[256] = "";
	size_t n;
	FILE *f;

	f = fopen("examples/tunwarden.conf", "r");
	if (!f) {
		test__skip("examples/tunwarden.conf: %s (run from the source tree)",
			   strerror(errno));
		return;
	}
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (!ASSERT_OK(tw_config_parse(buf, n, "tunwarden.conf", &c, err, sizeof(err)), err))
		return;
	ASSERT_STREQ(c.node_id, "ams-vpn-1", "example node id");
	ASSERT_GE(c.nifaces, 1, "example interfaces");
	ASSERT_GE(c.nvports, 1, "example vpn ports");
}

/*
 * A VPN port is a protocol and a number: OpenVPN on udp/1194 and tcp/1194
 * at once is a common setup, the same pair twice is a mistake.
 */
static void check_vpn_ports(void)
{
	static const struct {
		const char *in;
		int ret;
		uint32_t nvports;
	} t[] = {
		{ "[uplink]\nvpn_port = udp/1194/openvpn, tcp/1194/openvpn\n", 0, 2 },
		{ "[uplink]\nvpn_port = tcp/1194/openvpn\nvpn_port = udp/1194/openvpn\n", 0, 2 },
		{ "[uplink]\nvpn_port = udp/1194/openvpn, udp/1194/openvpn\n", -EINVAL, 0 },
		{ "[uplink]\nvpn_port = tcp/443/openvpn, udp/443/openvpn, tcp/443/openvpn\n",
		  -EINVAL, 0 },
	};
	struct tw_config c = {};
	char err[512] = "", name[96];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(name, sizeof(name), "vpn_port case %zu", i);
		if (!ASSERT_EQ(parse(t[i].in, &c, err, sizeof(err)), t[i].ret, name)) {
			test__diag("%s: %s", t[i].in, err);
			continue;
		}
		if (t[i].ret)
			ASSERT_TRUE(strstr(err, "listed twice") != NULL, name);
		else
			ASSERT_EQ(c.nvports, t[i].nvports, name);
	}
	if (ASSERT_OK(parse(t[0].in, &c, err, sizeof(err)), "udp and tcp 1194")) {
		ASSERT_EQ(c.vports[0].proto, IPPROTO_UDP, "first udp");
		ASSERT_EQ(c.vports[1].proto, IPPROTO_TCP, "then tcp");
		ASSERT_EQ(c.vports[1].port, 1194, "same port");
	}
}

void test_config_parse(void); /* called by the generated runner table */
void test_config_parse(void)
{
	if (test__start_subtest("full"))
		check_full();
	if (test__start_subtest("defaults"))
		check_defaults();
	if (test__start_subtest("values"))
		check_values();
	if (test__start_subtest("errors"))
		check_errors();
	if (test__start_subtest("limits"))
		check_limits();
	if (test__start_subtest("example"))
		check_example();
	if (test__start_subtest("vpn_ports"))
		check_vpn_ports();
}
