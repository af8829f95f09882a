// SPDX-License-Identifier: GPL-2.0-only
/*
 * tunwarden-hook: OpenVPN's client-connect and client-disconnect script.
 *
 *	script-security 2
 *	client-connect /usr/sbin/tunwarden-hook
 *	client-disconnect /usr/sbin/tunwarden-hook
 *
 * It turns OpenVPN's environment into one request on tunwardend's control
 * socket (docs/ctl-protocol.md) and turns the verdict into an exit status:
 * 0 admits the client, anything else makes OpenVPN refuse it. OpenVPN waits
 * for this process on every connect, so it does nothing heavy: parse the
 * environment, one round trip, exit. Everything is bounded by one deadline
 * (TUNWARDEN_HOOK_TIMEOUT_MS, default 2000).
 *
 * Fail-closed: if the daemon cannot be asked, the client is refused.
 * client-disconnect always exits 0: OpenVPN ignores its status, and a
 * failure to report must not look like anything else in its log.
 *
 * A sandboxed client gets "session-timeout N" in the dynamic config file
 * OpenVPN passes as argv[1]: OpenVPN itself then ends the session if it is
 * not confirmed in time, even if tunwardend is gone by then.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include "ctl.h"
#include "hookenv.h"

#define HOOK_TIMEOUT_ENV	"TUNWARDEN_HOOK_TIMEOUT_MS"
#define HOOK_TIMEOUT_DEFAULT_MS 2000
#define HOOK_TIMEOUT_MAX_MS	60000

extern char **environ;

static const char *cn_of(const struct tw_hook_env *e)
{
	return e->common_name[0] ? e->common_name : "(no CN)";
}

static int timeout_ms(void)
{
	const char *s = getenv(HOOK_TIMEOUT_ENV);
	char *end;
	long v;

	if (!s || !*s)
		return HOOK_TIMEOUT_DEFAULT_MS;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < 1 || v > HOOK_TIMEOUT_MAX_MS) {
		fprintf(stderr, "tunwarden-hook: ignoring %s='%s' (expected 1..%d), using %d ms\n",
			HOOK_TIMEOUT_ENV, s, HOOK_TIMEOUT_MAX_MS, HOOK_TIMEOUT_DEFAULT_MS);
		return HOOK_TIMEOUT_DEFAULT_MS;
	}
	return (int)v;
}

static int set_str(json_t *o, const char *key, const char *val)
{
	json_t *s = json_string(val);

	/* json_string() refuses invalid UTF-8: a CN we cannot carry is a refusal, not a guess. */
	if (!s || json_object_set_new(o, key, s)) {
		json_decref(s);
		return -EINVAL;
	}
	return 0;
}

static int set_u64(json_t *o, const char *key, uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	return set_str(o, key, buf);
}

static int set_addr(json_t *o, const char *key, int af, const void *addr)
{
	char buf[INET6_ADDRSTRLEN];

	if (!inet_ntop(af, addr, buf, sizeof(buf)))
		return -errno;
	return set_str(o, key, buf);
}

/*
 * The "env" object: every field of the parsed environment that is present,
 * as a string, named as in docs/ctl-protocol.md. With @accounting the
 * disconnect counters are included.
 */
static json_t *env_json(const struct tw_hook_env *e, bool accounting)
{
	json_t *o = json_object();
	int err = 0;

	if (!o)
		return NULL;
	err |= set_str(o, "dev", e->dev);
	if (e->common_name[0])
		err |= set_str(o, "common_name", e->common_name);
	if (e->ou[0])
		err |= set_str(o, "x509_ou", e->ou);
	if (e->has_trusted_ip)
		err |= set_addr(o, "trusted_ip", AF_INET, &e->trusted_ip);
	if (e->has_trusted_ip6)
		err |= set_addr(o, "trusted_ip6", AF_INET6, &e->trusted_ip6);
	if (e->trusted_port)
		err |= set_u64(o, "trusted_port", e->trusted_port);
	if (e->addr_untrusted)
		err |= set_str(o, "addr_untrusted", "1");
	if (e->has_pool_ip)
		err |= set_addr(o, "pool_ip", AF_INET, &e->pool_ip);
	if (e->has_pool_ip6)
		err |= set_addr(o, "pool_ip6", AF_INET6, &e->pool_ip6);
	if (e->has_time_unix)
		err |= set_u64(o, "time_unix", e->time_unix);
	if (accounting) {
		if (e->has_bytes) {
			err |= set_u64(o, "bytes_received", e->bytes_received);
			err |= set_u64(o, "bytes_sent", e->bytes_sent);
		}
		if (e->has_time_duration)
			err |= set_u64(o, "time_duration", e->time_duration);
	}
	if (err) {
		json_decref(o);
		errno = EINVAL;
		return NULL;
	}
	return o;
}

static json_t *build_request(const char *op, const struct tw_hook_env *e, bool accounting)
{
	json_t *env = env_json(e, accounting);

	if (!env)
		return NULL;
	return json_pack("{s:s, s:s, s:o}", "op", op, "vpn", "openvpn", "env", env);
}

/*
 * The latest time the daemon may start on a connect (docs/ctl-protocol.md,
 * "deadline_ms"): ours, less a tenth of the budget (at most 100 ms) for the
 * answer's way back. Later, we have refused the client already, and an
 * admission made then would show a session OpenVPN never started.
 */
static int set_deadline(json_t *req, int64_t deadline, int tmo)
{
	int64_t margin = tmo / 10 < 100 ? tmo / 10 : 100;

	return json_object_set_new(req, "deadline_ms", json_integer(deadline - margin));
}

/* Write the per-client options OpenVPN reads back once we exit 0. */
static int write_session_timeout(const char *path, uint64_t secs)
{
	char buf[64];
	int fd, len, err = 0;
	ssize_t n;

	len = snprintf(buf, sizeof(buf), "session-timeout %" PRIu64 "\n", secs);
	/* OpenVPN made it (O_EXCL, in its tmp-dir): never follow a symlink there */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	n = write(fd, buf, len);
	if (n != len)
		err = n < 0 ? -errno : -EIO;
	if (close(fd) && !err)
		err = -errno;
	return err;
}

/*
 * The daemon admitted a session we then could not set up: tell it the
 * session is over, so it neither lingers in the dataplane nor is counted as
 * live. Best effort within what is left of the budget.
 */
static void undo_connect(const char *path, const struct tw_hook_env *e, int64_t deadline)
{
	int64_t left = deadline - tw_ctl_now_ms();
	json_t *req, *resp = NULL;
	char err[256];
	struct tw_hook_env d = *e;

	d.has_bytes = true;
	d.bytes_received = d.bytes_sent = 0;
	d.has_time_duration = true;
	d.time_duration = 0;
	req = build_request(tw_ctl_ops[TW_OP_DISCONNECT].name, &d, true);
	if (!req)
		return;
	if (left < 100)
		left = 100;
	if (tw_ctl_call(path, req, &resp, (int)left, err, sizeof(err)))
		fprintf(stderr, "tunwarden-hook: %s: could not withdraw the session: %s\n",
			cn_of(e), err);
	json_decref(resp);
	json_decref(req);
}

static int do_connect(const char *path, const struct tw_hook_env *e, int tmo)
{
	int64_t deadline = tw_ctl_now_ms() + tmo;
	const char *verdict, *reason;
	json_t *req, *resp = NULL, *st;
	char err[512];
	int ret, rc = EXIT_FAILURE;

	req = build_request(tw_ctl_ops[TW_OP_CONNECT].name, e, false);
	if (req && set_deadline(req, deadline, tmo)) {
		json_decref(req);
		req = NULL;
	}
	if (!req) {
		fprintf(stderr,
			"tunwarden-hook: %s: refusing: environment not representable "
			"(invalid UTF-8?)\n",
			cn_of(e));
		return EXIT_FAILURE;
	}
	ret = tw_ctl_call(path, req, &resp, tmo, err, sizeof(err));
	if (ret == -EREMOTEIO) {
		fprintf(stderr, "tunwarden-hook: %s: refusing: tunwardend: %s\n", cn_of(e), err);
		goto out;
	}
	if (ret) {
		fprintf(stderr, "tunwarden-hook: %s: refusing (fail-closed): %s\n", cn_of(e), err);
		goto out;
	}
	verdict = json_string_value(json_object_get(resp, "verdict"));
	reason = json_string_value(json_object_get(resp, "reason"));
	if (!reason)
		reason = "no reason given";
	if (!verdict) {
		fprintf(stderr, "tunwarden-hook: %s: refusing: response without a verdict\n",
			cn_of(e));
		goto out;
	}
	if (!strcmp(verdict, "permit")) {
		rc = EXIT_SUCCESS;
	} else if (!strcmp(verdict, "deny")) {
		fprintf(stderr, "tunwarden-hook: %s: denied: %s\n", cn_of(e), reason);
	} else if (!strcmp(verdict, "sandbox")) {
		st = json_object_get(resp, "session_timeout");
		if (!json_is_integer(st) || json_integer_value(st) <= 0) {
			fprintf(stderr,
				"tunwarden-hook: %s: refusing: sandbox verdict without a "
				"positive session_timeout\n",
				cn_of(e));
			undo_connect(path, e, deadline);
			goto out;
		}
		ret = write_session_timeout(e->config_file, (uint64_t)json_integer_value(st));
		if (ret) {
			fprintf(stderr,
				"tunwarden-hook: %s: refusing: cannot write session-timeout "
				"to '%s': %s\n",
				cn_of(e), e->config_file, strerror(-ret));
			undo_connect(path, e, deadline);
			goto out;
		}
		fprintf(stderr,
			"tunwarden-hook: %s: sandboxed for %" JSON_INTEGER_FORMAT
			"s until confirmed: %s\n",
			cn_of(e), json_integer_value(st), reason);
		rc = EXIT_SUCCESS;
	} else {
		fprintf(stderr, "tunwarden-hook: %s: refusing: unknown verdict '%.32s'\n", cn_of(e),
			verdict);
	}
out:
	json_decref(resp);
	json_decref(req);
	return rc;
}

static int do_disconnect(const char *path, const struct tw_hook_env *e, int tmo)
{
	json_t *req, *resp = NULL;
	char err[512];

	req = build_request(tw_ctl_ops[TW_OP_DISCONNECT].name, e, true);
	if (!req) {
		fprintf(stderr,
			"tunwarden-hook: %s: disconnect not reported: environment not "
			"representable\n",
			cn_of(e));
		return EXIT_SUCCESS;
	}
	if (tw_ctl_call(path, req, &resp, tmo, err, sizeof(err)))
		fprintf(stderr, "tunwarden-hook: %s: disconnect not reported: %s\n", cn_of(e), err);
	json_decref(resp);
	json_decref(req);
	return EXIT_SUCCESS;
}

int main(int argc, char **argv)
{
	const char *st = getenv("script_type");
	bool disconnect = st && !strcmp(st, "client-disconnect");
	const char *sock = NULL;
	struct tw_hook_env e;
	char err[512];
	int tmo = timeout_ms();
	int i = 1;

	/*
	 * OpenVPN splits "client-connect '/usr/sbin/tunwarden-hook -s PATH'"
	 * into words and appends its own arguments: take our options off the
	 * front and hand the parser argv as OpenVPN means it.
	 */
	while (i < argc) {
		if (!strcmp(argv[i], "-s") && i + 1 < argc) {
			sock = argv[i + 1];
			i += 2;
		} else if (!strncmp(argv[i], "--socket=", 9)) {
			sock = argv[i] + 9;
			i++;
		} else {
			break;
		}
	}
	argv[i - 1] = argv[0];
	argc -= i - 1;
	argv += i - 1;

	if (tw_hook_env_parse(environ, argc, argv, &e, err, sizeof(err))) {
		fprintf(stderr, "tunwarden-hook: %s: %s\n",
			disconnect ? "disconnect not reported" : "refusing", err);
		return disconnect ? EXIT_SUCCESS : EXIT_FAILURE;
	}
	switch (e.script_type) {
	case TW_HOOK_CLIENT_CONNECT:
		return do_connect(tw_ctl_socket_path(sock), &e, tmo);
	case TW_HOOK_CLIENT_DISCONNECT:
		return do_disconnect(tw_ctl_socket_path(sock), &e, tmo);
	default:
		fprintf(stderr,
			"tunwarden-hook: script_type '%s' is not handled; use it for "
			"client-connect and client-disconnect only\n",
			tw_hook_script_name(e.script_type));
		return EXIT_FAILURE;
	}
}
