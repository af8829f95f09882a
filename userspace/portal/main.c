// SPDX-License-Identifier: GPL-2.0-only
/*
 * tunwarden-portal: the reference portal (docs/portal.md). `serve` runs the
 * HTTP/2 server; the other subcommands are the admin command line, which
 * opens the stores directly (the server sees their changes at once: records
 * and nodes through SQLite, policy through the store's notification).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "padmin_policy.h"
#include "pconf.h"
#include "polstore.h"
#include "recstore.h"
#include "server.h"
#include "tw_sig.h"

#define DEFAULT_CONF "/etc/tunwarden/portal.conf"

struct ctx {
	struct tw_pconf cfg;
	int argc;
	char **argv;
};

static struct tw_recstore *open_records(const struct tw_pconf *c)
{
	char err[512];
	struct tw_recstore *rs = tw_recstore_sqlite_open(c->database, err, sizeof(err));

	if (!rs)
		fprintf(stderr, "tunwarden-portal: record store %s\n", err);
	return rs;
}

static struct tw_polstore *open_policy(const struct tw_pconf *c)
{
	char err[512];
	struct tw_polstore *ps = tw_polstore_open(c->policy_database, err, sizeof(err));

	if (!ps)
		fprintf(stderr, "tunwarden-portal: policy store %s\n", err);
	return ps;
}

static enum tw_log_level level_of(const char *s)
{
	static const char *const names[] = { "err", "warn", "info", "debug" };
	static const enum tw_log_level lv[] = { TW_LOG_ERR, TW_LOG_WARN, TW_LOG_INFO,
						TW_LOG_DEBUG };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(s, names[i]))
			return lv[i];
	return TW_LOG_INFO;
}

static int cmd_serve(struct ctx *x)
{
	struct tw_recstore *rs = NULL;
	struct tw_polstore *ps = NULL;
	struct tw_loop *l = NULL;
	struct tw_sig_key *key = NULL;
	struct tw_server srv;
	char err[1024];
	int ret = EXIT_FAILURE;

	tw_log_init("tunwarden-portal", level_of(x->cfg.log_level));
	rs = open_records(&x->cfg);
	ps = open_policy(&x->cfg);
	l = tw_loop_new();
	if (!rs || !ps || !l)
		goto out;
	if (x->cfg.signing_key[0]) {
		key = tw_sig_key_load(x->cfg.signing_key, true, err, sizeof(err));
		if (!key) {
			tw_err("[policy] signing_key: %s", err);
			goto out;
		}
	}
	if (tw_server_init(&srv, l, &x->cfg, rs, ps, err, sizeof(err))) {
		tw_err("%s", err);
		goto out_srv;
	}
	srv.sign_key = key;
	key = NULL;
	tw_loop_signals(l, NULL, NULL);
	tw_info("serving: TLS %s, h2c %s, records %s, policy %s%s",
		x->cfg.listen[0] ? x->cfg.listen : "off",
		x->cfg.listen_h2c[0] ? x->cfg.listen_h2c : "off", x->cfg.database,
		x->cfg.policy_database, srv.sign_key ? " (signed)" : "");
	ret = tw_loop_run(l) ? EXIT_FAILURE : EXIT_SUCCESS;
	tw_info("stopping");
out_srv:
	tw_server_fini(&srv);
out:
	tw_sig_key_free(key);
	tw_loop_free(l);
	if (ps)
		tw_polstore_close(ps);
	if (rs)
		rs->ops->close(rs);
	return ret;
}

/* A token file: its content less one trailing LF or CRLF; 1..4096 b64token characters. */
static int read_token(const char *path, char *tok, size_t toklen)
{
	static const char b64token[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				       "0123456789-._~+/=";
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f) {
		fprintf(stderr, "tunwarden-portal: token file %s: %s\n", path, strerror(errno));
		return -1;
	}
	n = fread(tok, 1, toklen - 1, f);
	fclose(f);
	tok[n] = '\0';
	if (n && tok[n - 1] == '\n')
		tok[--n] = '\0';
	if (n && tok[n - 1] == '\r')
		tok[--n] = '\0';
	if (!n || n > 4096 || strspn(tok, b64token) != n) {
		fprintf(stderr,
			"tunwarden-portal: token file %s: want 1..4096 characters of"
			" A-Z a-z 0-9 -._~+/=\n",
			path);
		return -1;
	}
	return 0;
}

static int cmd_node(struct ctx *x)
{
	struct tw_recstore *rs;
	int ret = EXIT_FAILURE;

	if (x->argc >= 2 && !strcmp(x->argv[1], "list")) {
		rs = open_records(&x->cfg);
		if (!rs)
			return EXIT_FAILURE;
		ret = rs->ops->list_nodes(rs, stdout) ? EXIT_FAILURE : EXIT_SUCCESS;
		rs->ops->close(rs);
		return ret;
	}
	if (x->argc >= 3 && !strcmp(x->argv[1], "add")) {
		const char *id = x->argv[2], *tf = NULL;
		uint8_t h[TW_TOKEN_HASH_LEN];
		char tok[4100];
		int err;

		if (x->argc == 5 && !strcmp(x->argv[3], "--token-file"))
			tf = x->argv[4];
		else if (x->argc != 3)
			goto usage;
		if (strlen(id) > 63 ||
		    strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			       "0123456789._-") != strlen(id) ||
		    !id[0] || strchr("._-", id[0])) {
			fprintf(stderr,
				"tunwarden-portal: node id \"%s\": want [A-Za-z0-9][A-Za-z0-9._-]{0,62}\n",
				id);
			return EXIT_FAILURE;
		}
		if (tf) {
			if (read_token(tf, tok, sizeof(tok)))
				return EXIT_FAILURE;
			tw_token_hash(tok, strlen(tok), h);
		}
		rs = open_records(&x->cfg);
		if (!rs)
			return EXIT_FAILURE;
		err = rs->ops->node_add(rs, id, tf ? h : NULL);
		rs->ops->close(rs);
		if (err == -EEXIST) {
			fprintf(stderr, "tunwarden-portal: node %s is enrolled already\n", id);
			return EXIT_FAILURE;
		}
		if (!err)
			printf("node %s enrolled (%s)\n", id,
			       tf ? "token or certificate" : "certificate");
		return err ? EXIT_FAILURE : EXIT_SUCCESS;
	}
usage:
	fprintf(stderr, "usage: tunwarden-portal node add ID [--token-file F] | node list\n");
	return 2;
}

static int cmd_sessions(struct ctx *x)
{
	const char *node = NULL;
	struct tw_recstore *rs;
	int ret;

	if (x->argc == 3 && !strcmp(x->argv[1], "--node"))
		node = x->argv[2];
	else if (x->argc != 1) {
		fprintf(stderr, "usage: tunwarden-portal sessions [--node N]\n");
		return 2;
	}
	rs = open_records(&x->cfg);
	if (!rs)
		return EXIT_FAILURE;
	ret = rs->ops->list_sessions(rs, node, stdout) ? EXIT_FAILURE : EXIT_SUCCESS;
	rs->ops->close(rs);
	return ret;
}

static int cmd_accounting(struct ctx *x)
{
	const char *user = NULL, *session = NULL;
	struct tw_recstore *rs;
	int ret;

	if (x->argc == 3 && !strcmp(x->argv[1], "--user"))
		user = x->argv[2];
	else if (x->argc == 3 && !strcmp(x->argv[1], "--session"))
		session = x->argv[2];
	else if (x->argc != 1) {
		fprintf(stderr, "usage: tunwarden-portal accounting [--user U | --session S]\n");
		return 2;
	}
	rs = open_records(&x->cfg);
	if (!rs)
		return EXIT_FAILURE;
	ret = rs->ops->accounting(rs, user, session, stdout) ? EXIT_FAILURE : EXIT_SUCCESS;
	rs->ops->close(rs);
	return ret;
}

static int cmd_holes(struct ctx *x)
{
	const char *node = NULL;
	struct tw_recstore *rs;
	int n;

	if (x->argc == 3 && !strcmp(x->argv[1], "--node"))
		node = x->argv[2];
	else if (x->argc != 1) {
		fprintf(stderr, "usage: tunwarden-portal holes [--node N]\n");
		return 2;
	}
	rs = open_records(&x->cfg);
	if (!rs)
		return EXIT_FAILURE;
	n = rs->ops->list_holes(rs, node, stdout);
	rs->ops->close(rs);
	return n == 0 ? EXIT_SUCCESS : EXIT_FAILURE; /* 1: there are unexplained holes */
}

static int cmd_help(struct ctx *x);

static const struct cmd {
	const char *name;
	int (*fn)(struct ctx *x);
	const char *help;
} cmds[] = {
	{ "serve", cmd_serve, "serve                          run the portal server" },
	{ "node", cmd_node,
	  "node add ID [--token-file F]   enrol a node (certificate CN = ID, or a token)\n"
	  "  node list                      nodes with health: connected, backlog, policy" },
	{ "sessions", cmd_sessions, "sessions [--node N]            live sessions" },
	{ "accounting", cmd_accounting,
	  "accounting [--user U | --session S]  bytes per user, or per session" },
	{ "holes", cmd_holes,
	  "holes [--node N]               seqs missing and named by no gap record (exit 1 if any)" },
	{ "help", cmd_help, "help                           this text" },
};

static int cmd_help(struct ctx *x)
{
	(void)x;
	printf("usage: tunwarden-portal [-c FILE] COMMAND [ARGS]   (default -c %s)\n",
	       DEFAULT_CONF);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		printf("  %s\n", cmds[i].help);
	tw_padmin_policy_usage(stdout);
	return EXIT_SUCCESS;
}

static int run_policy_cmd(struct ctx *x)
{
	struct tw_polstore *ps = open_policy(&x->cfg);
	int ret;

	if (!ps)
		return EXIT_FAILURE;
	ret = tw_padmin_policy_run(ps, x->argc, x->argv, stdout, stderr);
	tw_polstore_close(ps);
	return ret;
}

int main(int argc, char **argv)
{
	const char *conf = NULL;
	struct ctx x;
	char err[1024];
	int o, n = 0;

	/* -c FILE anywhere: `serve -c FILE` and `-c FILE serve` both work */
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-c") && i + 1 < argc) {
			conf = argv[++i];
			continue;
		}
		argv[++n] = argv[i];
	}
	argc = n + 1;
	tw_pconf_defaults(&x.cfg);
	if (conf || access(DEFAULT_CONF, F_OK) == 0) {
		if (tw_pconf_load(conf ? conf : DEFAULT_CONF, &x.cfg, err, sizeof(err))) {
			fprintf(stderr, "tunwarden-portal: %s\n", err);
			return EXIT_FAILURE;
		}
	}
	if (argc < 2) {
		cmd_help(&x);
		return 2;
	}
	x.argc = argc - 1;
	x.argv = argv + 1;
	for (o = 0; o < (int)(sizeof(cmds) / sizeof(cmds[0])); o++)
		if (!strcmp(argv[1], cmds[o].name))
			return cmds[o].fn(&x);
	if (tw_padmin_policy_has(argv[1]))
		return run_policy_cmd(&x);
	fprintf(stderr, "tunwarden-portal: unknown command \"%s\" (try: tunwarden-portal help)\n",
		argv[1]);
	return 2;
}
