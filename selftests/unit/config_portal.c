// SPDX-License-Identifier: GPL-2.0-only
/*
 * The [portal] section (docs/protocol.md section 10, docs/config.md): the
 * defaults, each key at its limits and one past them, URLs (http:// only to
 * a loopback host), the node id rule, the token file's owner and mode, and
 * that every error names file:line and the key.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "test.h"
#include "config.h"

static int parse(const char *text, struct tw_config *c, char *err, size_t errlen)
{
	return tw_config_parse(text, strlen(text), "p.conf", c, err, errlen);
}

/* "[node]\nid = ID\n[portal]\nurl = URL\n" + @more */
static int parse_portal(const char *id, const char *url, const char *more, struct tw_config *c,
			char *err, size_t errlen)
{
	char buf[4096];

	snprintf(buf, sizeof(buf),
		 "[node]\nid = %s\n[portal]\nurl = %s\ncert = /c.pem\nkey = /k.pem\n%s", id, url,
		 more);
	return parse(buf, c, err, errlen);
}

void test_config_portal(void)
{
	static const struct {
		const char *url;
		int ret;
		const char *msg; /* a substring of the error */
	} urls[] = {
		{ "https://portal.example.net/", 0, NULL },
		{ "https://portal.example.net:8443/tunwarden/", 0, NULL },
		{ "https://[2001:db8::1]:443/", 0, NULL },
		{ "https://portal.example.net", 0, NULL },
		{ "http://127.0.0.1:8080/", 0, NULL },
		{ "http://127.9.9.9/", 0, NULL },
		{ "http://[::1]:8080/", 0, NULL },
		{ "http://localhost:8080/", 0, NULL },
		{ "http://portal.example.net/", -EINVAL, "only to 127.0.0.0/8, ::1 or localhost" },
		{ "http://10.0.0.1/", -EINVAL, "only to 127.0.0.0/8" },
		{ "http://[::2]/", -EINVAL, "only to 127.0.0.0/8" },
		{ "http://localhost.evil.net/", -EINVAL, "only to 127.0.0.0/8" },
		{ "ftp://portal/", -EINVAL, "expected https://" },
		{ "https://portal.example.net/base", -EINVAL, "must end with '/'" },
		{ "https://portal.example.net:0/", -EINVAL, "bad port" },
		{ "https://portal.example.net:65536/", -EINVAL, "bad port" },
		{ "https://portal.example.net:/", -EINVAL, "bad port" },
		{ "https:///", -EINVAL, "no host" },
		{ "https://user@portal/", -EINVAL, "no spaces, user info" },
		{ "https://portal/?x=1", -EINVAL, "no spaces, user info" },
		{ "https://[::1/", -EINVAL, "unterminated IPv6" },
	};
	static const struct {
		const char *id;
		int ret;
	} ids[] = {
		{ "node-ams-1", 0 },
		{ "N", 0 },
		{ "a.b_c-d", 0 },
		{ "_node", -EINVAL },
		{ "-node", -EINVAL },
		{ "node@x", -EINVAL },
		/* 63 characters: the limit */
		{ "n12345678901234567890123456789012345678901234567890123456789012", 0 },
	};
	static const struct {
		const char *line;
		const char *msg; /* exact error, "" for success */
	} keys[] = {
		{ "window = 1", "" },
		{ "window = 1048576", "" },
		{ "window = 0", "p.conf:7: window '0' out of range [1, 1048576] in [portal]" },
		{ "window = 1048577",
		  "p.conf:7: window '1048577' out of range [1, 1048576] in [portal]" },
		{ "window_bytes = 64K", "" },
		{ "window_bytes = 1G", "" },
		{ "window_bytes = 63K",
		  "p.conf:7: window_bytes '63K' out of range [64K, 1G] in [portal]" },
		{ "connect_timeout = 0s",
		  "p.conf:7: connect_timeout '0s' out of range [1s, 5m] in [portal]" },
		{ "ack_timeout = 4s",
		  "p.conf:7: ack_timeout '4s' out of range [5s, 1h] in [portal]" },
		{ "gzip = yes", "" },
		{ "gzip = maybe",
		  "p.conf:7: bad value 'maybe' for gzip in [portal]: expected yes|no" },
		{ "record_mode = stream", "" },
		{ "record_mode = batch",
		  "p.conf:7: bad value 'batch' for record_mode in [portal]: batch mode is not "
		  "implemented" },
		{ "policy_pubkey = relative.pem",
		  "p.conf:7: bad path 'relative.pem' for policy_pubkey in [portal]: expected an "
		  "absolute path" },
		{ "backoff_initial = 10s\nbackoff_max = 5s",
		  "p.conf: [portal] backoff_max is below backoff_initial" },
		{ "bogus = 1", "p.conf:7: unknown key 'bogus' in [portal]" },
	};
	struct tw_config c;
	char err[512], name[160], path[] = "/tmp/tw-token-XXXXXX", more[300];
	int fd;

	/* defaults: protocol.md section 10 */
	ASSERT_EQ(parse("[node]\nid = n\n", &c, err, sizeof(err)), 0, "no [portal]");
	ASSERT_STREQ(c.portal.url, "", "no url: no link");
	ASSERT_EQ(c.portal.window, 65536, "window");
	ASSERT_EQ(c.portal.window_bytes, 32ULL << 20, "window_bytes");
	ASSERT_EQ(c.portal.connect_timeout_ms, 10000, "connect_timeout");
	ASSERT_EQ(c.portal.keepalive_ms, 15000, "keepalive");
	ASSERT_EQ(c.portal.keepalive_timeout_ms, 10000, "keepalive_timeout");
	ASSERT_EQ(c.portal.ack_timeout_ms, 30000, "ack_timeout");
	ASSERT_EQ(c.portal.policy_idle_timeout_ms, 45000, "policy_idle_timeout");
	ASSERT_EQ(c.portal.health_interval_ms, 60000, "health_interval");
	ASSERT_EQ(c.portal.backoff_initial_ms, 1000, "backoff_initial");
	ASSERT_EQ(c.portal.backoff_max_ms, 60000, "backoff_max");
	ASSERT_FALSE(c.portal.gzip, "gzip off");

	for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		snprintf(name, sizeof(name), "url %s", urls[i].url);
		ASSERT_EQ(parse_portal("n", urls[i].url, "", &c, err, sizeof(err)), urls[i].ret,
			  name);
		if (urls[i].ret)
			ASSERT_TRUE(strstr(err, urls[i].msg) && strstr(err, "p.conf:4:") &&
					    strstr(err, "url"),
				    err);
		else
			ASSERT_STREQ(c.portal.url, urls[i].url, name);
	}
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		snprintf(name, sizeof(name), "node id %s", ids[i].id);
		ASSERT_EQ(parse_portal(ids[i].id, "https://p/", "", &c, err, sizeof(err)),
			  ids[i].ret, name);
		ASSERT_EQ(tw_node_id_valid(ids[i].id), ids[i].ret == 0, name);
	}
	ASSERT_FALSE(tw_node_id_valid(
			     "n123456789012345678901234567890123456789012345678901234567890123"),
		     "64 characters: one past the limit");
	/* without a url, any [node] id goes (no portal path to put it in) */
	ASSERT_EQ(parse("[node]\nid = _node\n", &c, err, sizeof(err)), 0, "no url: id unchecked");

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		int r = parse_portal("n", "https://p/", keys[i].line, &c, err, sizeof(err));

		snprintf(name, sizeof(name), "%s", keys[i].line);
		ASSERT_EQ(r, keys[i].msg[0] ? -EINVAL : 0, name);
		if (keys[i].msg[0])
			ASSERT_STREQ(err, keys[i].msg, name);
	}
	ASSERT_EQ(parse_portal("n", "https://p/", "keepalive = 2m\ngzip = yes\n", &c, err,
			       sizeof(err)),
		  0, "ms fields");
	ASSERT_EQ(c.portal.keepalive_ms, 120000, "2m is 120000 ms");
	ASSERT_TRUE(c.portal.gzip, "gzip = yes");
	ASSERT_EQ(parse_portal("n", "https://p/",
			       "policy_pubkey = /a\npolicy_pubkey = /b\npolicy_pubkey = /c\n"
			       "policy_pubkey = /d\n",
			       &c, err, sizeof(err)),
		  0, "4 policy keys");
	ASSERT_EQ(c.portal.npolicy_pubkeys, 4, "all kept");
	ASSERT_STREQ(c.portal.policy_pubkey[3], "/d", "in order");
	ASSERT_EQ(parse_portal("n", "https://p/",
			       "policy_pubkey = /a\npolicy_pubkey = /b\npolicy_pubkey = /c\n"
			       "policy_pubkey = /d\npolicy_pubkey = /e\n",
			       &c, err, sizeof(err)),
		  -EINVAL, "a fifth key");
	ASSERT_STREQ(err, "p.conf:11: too many policy_pubkey entries in [portal] (at most 4)",
		     "names the limit");

	/* identity: cert and key together; https needs one */
	ASSERT_EQ(parse("[portal]\nurl = https://p/\ncert = /c.pem\n", &c, err, sizeof(err)),
		  -EINVAL, "cert without key");
	ASSERT_STREQ(err, "p.conf: [portal] cert and key go together: set both or neither", "msg");
	ASSERT_EQ(parse("[portal]\nurl = https://p/\n", &c, err, sizeof(err)), -EINVAL,
		  "https without identity");
	ASSERT_EQ(parse("[portal]\nurl = http://127.0.0.1:1/\n", &c, err, sizeof(err)), 0,
		  "h2c on loopback without identity (tests)");

	/* the token file: root's, 0600 or stricter (a real file) */
	fd = mkstemp(path);
	if (!ASSERT_TRUE(fd >= 0, "mkstemp"))
		return;
	close(fd);
	snprintf(more, sizeof(more), "[portal]\nurl = https://p/\ntoken_file = %s\n", path);
	chmod(path, 0600);
	ASSERT_EQ(parse(more, &c, err, sizeof(err)), getuid() == 0 ? 0 : -EINVAL, "0600, root");
	chmod(path, 0640);
	ASSERT_EQ(parse(more, &c, err, sizeof(err)), -EINVAL, "0640 refused");
	ASSERT_TRUE(strstr(err, "must be owned by root with mode 0600 or stricter") &&
			    strstr(err, "mode 0640"),
		    err);
	unlink(path);
	ASSERT_EQ(parse(more, &c, err, sizeof(err)), -EINVAL, "missing token file");
	ASSERT_TRUE(strstr(err, "No such file or directory") != NULL, err);
}
