// SPDX-License-Identifier: GPL-2.0-only
/* The portal's configuration parser: every error names file:line and what was wrong. */
#include <errno.h>
#include <string.h>
#include "test.h"
#include "pconf.h"

void test_portal_pconf(void)
{
	static const struct {
		const char *text, *err; /* err NULL: parses */
	} cases[] = {
		{ "# nothing\n\n", NULL },
		{ "[server]\nlisten_h2c = 127.0.0.1:9\nmax_connections = 7 # c\n", NULL },
		{ "[server]\nlisten = [::]:8443\ncert = c.pem\nkey = k.pem\n", NULL },
		{ "[server]\nlisten = 0.0.0.0:8443\n",
		  "p.conf: [server] listen needs cert and key" },
		{ "[server]\nbogus = 1\n", "p.conf:2: unknown key \"bogus\" in [server]" },
		{ "listen = x\n", "p.conf:1: unknown key \"listen\" in []" },
		{ "[servr]\n", "p.conf:1: unknown section [servr] (server, store, policy)" },
		{ "[server\n", "p.conf:1: bad section header \"[server\"" },
		{ "[server]\nlisten\n", "p.conf:2: want key = value, got \"listen\"" },
		{ "[server]\nmax_connections = 0\n",
		  "p.conf:2: max_connections: want an integer 1..1000000, got \"0\"" },
		{ "[server]\nmax_connections = 12x\n",
		  "p.conf:2: max_connections: want an integer 1..1000000, got \"12x\"" },
		{ "[server]\nidle_timeout = soon\n",
		  "p.conf:2: idle_timeout: want a duration (30s, 5m), got \"soon\"" },
		{ "[policy]\nsigning_key = /k\n[store]\n\ndatabase = /d.db\n", NULL },
		{ "[server]\n\x1b[2Jevil = 1\n",
		  "p.conf:2: unknown key \"\\x1b[2Jevil\" in [server]" },
	};
	struct tw_pconf c;
	char err[256], name[80];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int ret;

		tw_pconf_defaults(&c);
		err[0] = '\0';
		ret = tw_pconf_parse(cases[i].text, strlen(cases[i].text), "p.conf", &c, err,
				     sizeof(err));
		snprintf(name, sizeof(name), "case %zu", i);
		ASSERT_EQ(ret, cases[i].err ? -EINVAL : 0, name);
		if (cases[i].err)
			ASSERT_STREQ(err, cases[i].err, name);
	}

	/* values land where they belong; defaults stay otherwise */
	static const char ok[] = "[server]\nidle_timeout = 2m\nmax_connections = 9\n"
				 "[store]\ndatabase = /x/r.db\n[policy]\nsigning_key = /k.pem\n";
	tw_pconf_defaults(&c);
	ASSERT_EQ(tw_pconf_parse(ok, sizeof(ok) - 1, "p.conf", &c, err, sizeof(err)), 0, "parses");
	ASSERT_EQ(c.idle_timeout_ms, 120000, "idle_timeout 2m in ms");
	ASSERT_EQ(c.max_connections, 9, "max_connections");
	ASSERT_STREQ(c.database, "/x/r.db", "database");
	ASSERT_STREQ(c.signing_key, "/k.pem", "signing_key");
	ASSERT_EQ(c.handshake_timeout_ms, 10000, "handshake_timeout default");
	ASSERT_STREQ(c.listen_h2c, "", "no h2c unless asked");
}
