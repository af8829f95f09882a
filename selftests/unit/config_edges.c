// SPDX-License-Identifier: GPL-2.0-only
/*
 * Every list in the config file at its limit and one past it: profiles of
 * an interface, vpn_port entries, management sockets, [interface]
 * sections, and the lengths of a profile name and a socket path. At the
 * limit the file parses and every entry is kept; one more is refused with
 * the limit named (the arrays have no room for it). Found by make mutate:
 * `>=` turned into `>` in these checks survived every suite.
 */
#include <stdlib.h>
#include "test.h"
#include "config.h"

enum list { L_PROFILES, L_VPORTS, L_MGMT, L_IFACES, L_NAME_LEN, L_PATH_LEN };

/* A config with @n entries of @l, in a malloc'd string. */
static char *gen(enum list l, int n)
{
	size_t cap = 64 * 1024, o = 0;
	char *s = malloc(cap);
	int i;

	if (!s)
		return NULL;
#define OUT(...) (o += (size_t)snprintf(s + o, cap - o, __VA_ARGS__))
	OUT("[node]\nid = edges\n");
	switch (l) {
	case L_PROFILES:
		OUT("[interface tun0]\nprofiles = p0");
		for (i = 1; i < n; i++)
			OUT(", p%d", i);
		OUT("\n");
		break;
	case L_VPORTS:
		OUT("[uplink]\ninterface = eth0\n");
		for (i = 0; i < n; i++)
			OUT("vpn_port = udp/%d/openvpn\n", 1000 + i);
		break;
	case L_MGMT:
		OUT("[openvpn]\n");
		for (i = 0; i < n; i++)
			OUT("management = /run/openvpn/m%d.sock\n", i);
		break;
	case L_IFACES:
		for (i = 0; i < n; i++)
			OUT("[interface tun%d]\nprofiles = p\n", i);
		break;
	case L_NAME_LEN:
		OUT("[interface tun0]\nprofiles = %.*s\n", n,
		    "pppppppppppppppppppppppppppppppppppppppp"
		    "pppppppppppppppppppppppppppppppppppppppp");
		break;
	case L_PATH_LEN:
		OUT("[openvpn]\nmanagement = /%.*s\n", n - 1,
		    "ssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssss"
		    "ssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssss");
		break;
	}
#undef OUT
	return s;
}

static uint32_t count(enum list l, const struct tw_config *c)
{
	switch (l) {
	case L_PROFILES:
	case L_NAME_LEN:
		return c->nifaces ? c->ifaces[0].nprofiles : 0;
	case L_VPORTS:
		return c->nvports;
	case L_MGMT:
	case L_PATH_LEN:
		return c->novpn_mgmt;
	case L_IFACES:
		return c->nifaces;
	}
	return 0;
}

static void subtest_limits(void)
{
	static const struct {
		const char *name;
		enum list l;
		int max; /* entries (or bytes) accepted */
		uint32_t kept; /* count() at the limit */
		const char *err; /* substring of the error one past it */
	} cases[] = {
		{ "profiles", L_PROFILES, TW_CFG_MAX_IFACE_PROFILES, TW_CFG_MAX_IFACE_PROFILES,
		  "too many profiles in [interface tun0] (at most 16)" },
		{ "vpn_port", L_VPORTS, TW_CFG_MAX_VPORTS, TW_CFG_MAX_VPORTS,
		  "too many vpn_port entries (at most 64)" },
		{ "management", L_MGMT, TW_CFG_MAX_MGMT, TW_CFG_MAX_MGMT,
		  "too many management sockets (at most 16)" },
		{ "interfaces", L_IFACES, TW_CFG_MAX_IFACES, TW_CFG_MAX_IFACES,
		  "too many [interface] sections (at most 64)" },
		{ "profile name length", L_NAME_LEN, TW_CFG_NAME_MAX - 1, 1, "profile name" },
		{ "socket path length", L_PATH_LEN, TW_CFG_SUN_PATH_MAX - 1, 1,
		  "longer than a unix socket path may be" },
	};
	static struct tw_config c;
	char err[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *at = gen(cases[i].l, cases[i].max), *past = gen(cases[i].l, cases[i].max + 1);

		if (ASSERT_OK_PTR(at, "gen") && ASSERT_OK_PTR(past, "gen")) {
			if (!ASSERT_OK(tw_config_parse(at, strlen(at), "edges.conf", &c, err,
						       sizeof(err)),
				       cases[i].name))
				test__diag("%s at the limit: %s", cases[i].name, err);
			else
				ASSERT_EQ(count(cases[i].l, &c), cases[i].kept, "all kept");
			err[0] = '\0';
			ASSERT_EQ(tw_config_parse(past, strlen(past), "edges.conf", &c, err,
						  sizeof(err)),
				  -EINVAL, cases[i].name);
			if (!ASSERT_TRUE(strstr(err, cases[i].err) != NULL,
					 "error names the limit"))
				test__diag("%s: got '%s'", cases[i].name, err);
		}
		free(at);
		free(past);
	}
}

static void subtest_vpn_port_range(void)
{
	static const struct {
		const char *val;
		int port; /* 0: refused */
	} cases[] = {
		{ "udp/1/openvpn", 1 },	    { "udp/65535/openvpn", 65535 },
		{ "udp/0/openvpn", 0 },	    { "udp/65536/openvpn", 0 },
		{ "udp/-1/openvpn", 0 },    { "udp/99999999999999999999/openvpn", 0 },
		{ "udp/1194x/openvpn", 0 },
	};
	static struct tw_config c;
	char buf[256], err[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int ret;

		snprintf(buf, sizeof(buf), "[uplink]\ninterface = eth0\nvpn_port = %s\n",
			 cases[i].val);
		err[0] = '\0';
		ret = tw_config_parse(buf, strlen(buf), "edges.conf", &c, err, sizeof(err));
		if (!cases[i].port) {
			if (ASSERT_EQ(ret, -EINVAL, cases[i].val))
				ASSERT_TRUE(strstr(err, "port must be 1-65535") != NULL, "message");
			continue;
		}
		if (ASSERT_OK(ret, cases[i].val) && ASSERT_EQ(c.nvports, 1, "one port"))
			ASSERT_EQ(c.vports[0].port, cases[i].port, "port");
		else
			test__diag("%s", err);
	}
}

void test_config_edges(void)
{
	if (test__start_subtest("vpn_port_range"))
		subtest_vpn_port_range();
	if (test__start_subtest("limits"))
		subtest_limits();
}
