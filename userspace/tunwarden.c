// SPDX-License-Identifier: GPL-2.0-only
/*
 * tunwarden: the operator's command line to tunwardend over its control
 * socket (docs/ctl-protocol.md). Human tables by default, the daemon's own
 * JSON with --json. Exit codes are part of the interface (scripts test
 * them): 0 ok, 1 the daemon refused, 2 usage, 3 daemon unreachable or not
 * speaking the protocol.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include "config.h"
#include "ctl.h"
#include "tw_addr.h"

enum { EX_OK = 0, EX_REFUSED = 1, EX_USAGE = 2, EX_UNREACHABLE = 3 };

/* The subcommands and their one-line help come from the protocol's op table (lib/ctl.c). */
static void usage(FILE *f)
{
	char head[64];

	fprintf(f, "usage: tunwarden [-s SOCKET] [--json] [-t SECONDS] COMMAND [ARGS]\n"
		   "\n"
		   "commands:\n");
	for (int i = 0; i < TW_OP__MAX; i++) {
		const struct tw_ctl_op *op = &tw_ctl_ops[i];

		if (!op->args)
			continue;
		snprintf(head, sizeof(head), "%s%s%s", op->name, op->args[0] ? " " : "", op->args);
		fprintf(f, "  %-27s %s\n", head, op->help);
	}
	fprintf(f,
		"\n"
		"options:\n"
		"  -s, --socket PATH   control socket (default $TUNWARDEN_SOCKET, else " TW_CTL_SOCK_DEFAULT
		")\n"
		"  -j, --json          print the daemon's JSON response instead of tables\n"
		"  -t, --timeout SEC   give up on the daemon after SEC seconds (default 30)\n"
		"  -h, --help          this text\n"
		"\n"
		"exit status: 0 ok, 1 the daemon refused, 2 usage error, 3 daemon unreachable\n");
}

static int usage_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_err(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "tunwarden: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'tunwarden --help'.\n");
	return EX_USAGE;
}

/* ---- value formatting ---------------------------------------------------------------- */

enum fmt {
	F_STR, /* strings as is, numbers in decimal, arrays joined with ',' */
	F_BYTES, /* byte count, IEC units */
	F_AGE, /* unix seconds -> time elapsed since then */
	F_TIME, /* unix seconds -> local date and time */
	F_TIME_NS, /* unix nanoseconds -> local date and time */
	F_DUR, /* seconds -> 1d2h, 5m03s */
};

static void fmt_bytes(char *buf, size_t len, uint64_t v)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double d = (double)v;
	unsigned int u = 0;

	if (v < 1024) {
		snprintf(buf, len, "%" PRIu64 " B", v);
		return;
	}
	while (d >= 1024 && u < sizeof(units) / sizeof(units[0]) - 1) {
		d /= 1024;
		u++;
	}
	snprintf(buf, len, d < 10 ? "%.2f %s" : d < 100 ? "%.1f %s" : "%.0f %s", d, units[u]);
}

static void fmt_dur(char *buf, size_t len, int64_t s)
{
	if (s < 0) {
		snprintf(buf, len, "-");
	} else if (s < 60) {
		snprintf(buf, len, "%" PRId64 "s", s);
	} else if (s < 3600) {
		snprintf(buf, len, "%" PRId64 "m%02" PRId64 "s", s / 60, s % 60);
	} else if (s < 86400) {
		snprintf(buf, len, "%" PRId64 "h%02" PRId64 "m", s / 3600, s % 3600 / 60);
	} else {
		snprintf(buf, len, "%" PRId64 "d%02" PRId64 "h", s / 86400, s % 86400 / 3600);
	}
}

static void fmt_time(char *buf, size_t len, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0 || !localtime_r(&tt, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(buf, len, "-");
}

static void fmt_value(char *buf, size_t len, const json_t *v, enum fmt f);

static void fmt_join(char *buf, size_t len, const json_t *arr)
{
	size_t i, off = 0;
	const json_t *e;
	char one[256];

	buf[0] = '\0';
	json_array_foreach(arr, i, e) {
		fmt_value(one, sizeof(one), e, F_STR);
		off += snprintf(buf + off, off < len ? len - off : 0, "%s%s", i ? "," : "", one);
		if (off >= len)
			break;
	}
	if (!i)
		snprintf(buf, len, "-");
}

static void fmt_value(char *buf, size_t len, const json_t *v, enum fmt f)
{
	json_int_t n;
	char *s;

	if (!v || json_is_null(v)) {
		snprintf(buf, len, "-");
		return;
	}
	if (json_is_string(v)) {
		snprintf(buf, len, "%s", *json_string_value(v) ? json_string_value(v) : "-");
		return;
	}
	if (json_is_boolean(v)) {
		snprintf(buf, len, "%s", json_is_true(v) ? "yes" : "no");
		return;
	}
	if (json_is_array(v)) {
		fmt_join(buf, len, v);
		return;
	}
	if (json_is_real(v)) {
		snprintf(buf, len, "%g", json_real_value(v));
		return;
	}
	if (!json_is_integer(v)) {
		s = json_dumps(v, JSON_COMPACT);
		snprintf(buf, len, "%s", s ? s : "?");
		free(s);
		return;
	}
	n = json_integer_value(v);
	switch (f) {
	case F_BYTES:
		if (n >= 0) {
			fmt_bytes(buf, len, (uint64_t)n);
			return;
		}
		break;
	case F_AGE:
		if (n > 0) {
			fmt_dur(buf, len, (int64_t)time(NULL) - n);
			return;
		}
		snprintf(buf, len, "-");
		return;
	case F_TIME:
		fmt_time(buf, len, n);
		return;
	case F_TIME_NS:
		fmt_time(buf, len, n / 1000000000);
		return;
	case F_DUR:
		fmt_dur(buf, len, n);
		return;
	case F_STR:
		break;
	}
	snprintf(buf, len, "%" JSON_INTEGER_FORMAT, n);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && !strcmp(s + a - b, suffix);
}

/* Guess a field's format from its name, for the shapes this CLI has no table for. */
static enum fmt fmt_for_key(const char *k)
{
	if (ends_with(k, "bytes"))
		return F_BYTES;
	if (!strcmp(k, "time_ns"))
		return F_TIME_NS;
	if (!strcmp(k, "since") || !strcmp(k, "until") || !strcmp(k, "started") ||
	    !strcmp(k, "fetched") || ends_with(k, "_at") || ends_with(k, "_until") ||
	    ends_with(k, "deadline"))
		return F_TIME;
	if (!strcmp(k, "age") || ends_with(k, "_age") || !strcmp(k, "uptime") ||
	    ends_with(k, "timeout") || ends_with(k, "_s") || ends_with(k, "duration"))
		return F_DUR;
	return F_STR;
}

/* ---- tables --------------------------------------------------------------------------- */

struct col {
	const char *head;
	const char *key; /* member of each row object */
	const char *alt; /* fallback member name, or NULL */
	enum fmt fmt;
	bool right; /* numbers align right */
};

#define CELL_MAX 512

/* Print @rows (an array of objects) as aligned columns under their headers. */
static int print_table(const json_t *rows, const struct col *cols, size_t ncols)
{
	size_t nrows = json_array_size(rows), r, c, w[32] = { 0 };
	char *cells;
	const json_t *row, *v;

	if (ncols > 32)
		return -EINVAL;
	cells = calloc((nrows + 1) * ncols, CELL_MAX);
	if (!cells)
		return -ENOMEM;
#define CELL(r_, c_) (cells + ((r_)*ncols + (c_)) * CELL_MAX)
	for (c = 0; c < ncols; c++)
		snprintf(CELL(0, c), CELL_MAX, "%s", cols[c].head);
	for (r = 0; r < nrows; r++) {
		row = json_array_get(rows, r);
		for (c = 0; c < ncols; c++) {
			v = json_object_get(row, cols[c].key);
			if (!v && cols[c].alt)
				v = json_object_get(row, cols[c].alt);
			fmt_value(CELL(r + 1, c), CELL_MAX, v, cols[c].fmt);
		}
	}
	for (r = 0; r <= nrows; r++)
		for (c = 0; c < ncols; c++)
			if (strlen(CELL(r, c)) > w[c])
				w[c] = strlen(CELL(r, c));
	for (r = 0; r <= nrows; r++) {
		for (c = 0; c < ncols; c++) {
			bool last = c == ncols - 1;

			if (cols[c].right)
				printf("%*s", (int)w[c], CELL(r, c));
			else
				printf("%-*s", last ? 0 : (int)w[c], CELL(r, c));
			printf("%s", last ? "\n" : "  ");
		}
	}
#undef CELL
	free(cells);
	return 0;
}

/* A table over whatever members the rows carry, in order of first appearance. */
static int print_generic_table(const json_t *rows)
{
	struct col cols[32];
	const char *k;
	size_t i, c, n = 0;
	const json_t *row, *v;
	char *heads[32];
	int err;

	json_array_foreach(rows, i, row) {
		json_object_foreach((json_t *)row, k, v) {
			for (c = 0; c < n && strcmp(cols[c].key, k) != 0; c++)
				;
			if (c < n || n == 32)
				continue;
			cols[n] = (struct col){ .key = k,
						.fmt = fmt_for_key(k),
						.right = json_is_integer(v) };
			n++;
		}
	}
	if (!n)
		return 0;
	for (c = 0; c < n; c++) {
		heads[c] = strdup(cols[c].key);
		if (!heads[c]) {
			while (c--)
				free(heads[c]);
			return -ENOMEM;
		}
		for (char *p = heads[c]; *p; p++)
			*p = *p == '_' ? ' ' : (char)toupper((unsigned char)*p);
		cols[c].head = heads[c];
	}
	err = print_table(rows, cols, n);
	for (c = 0; c < n; c++)
		free(heads[c]);
	return err;
}

/* {"a":{"x":1,"y":2},"b":{"x":3}}: rows of scalars under names, printed as a table. */
static bool is_named_rows(const json_t *obj)
{
	const json_t *row, *v;
	const char *k, *k2;

	if (!json_is_object(obj) || json_object_size(obj) < 2)
		return false;
	json_object_foreach((json_t *)obj, k, row) {
		if (!json_is_object(row) || !json_object_size(row))
			return false;
		json_object_foreach((json_t *)row, k2, v) {
			if (json_is_object(v) || json_is_array(v))
				return false;
		}
	}
	return true;
}

/* A named-rows object as a table: the names in a first column headed @head. */
static void print_named_rows(const json_t *obj, const char *head)
{
	json_t *rows = json_array(), *row;
	const json_t *v;
	const char *k;

	if (!rows)
		return;
	json_object_foreach((json_t *)obj, k, v) {
		row = json_pack("{s:s}", head, k);
		if (!row || json_object_update(row, (json_t *)v) ||
		    json_array_append_new(rows, row))
			break;
	}
	print_generic_table(rows);
	json_decref(rows);
}

/*
 * Key: value lines for an object, nested objects flattened to "a.b" and
 * arrays of objects printed as tables after the scalars, so a response shape
 * this CLI does not know in detail is still readable.
 */
/* Whether anything went to stdout yet: a blank line separates sections, never leads. */
static bool printed;

static void print_kv(const json_t *obj, const char *prefix, int width)
{
	char key[128], val[CELL_MAX];
	const json_t *v, *first;
	const char *k;

	json_object_foreach((json_t *)obj, k, v) {
		if (!*prefix && !strcmp(k, "ok"))
			continue;
		snprintf(key, sizeof(key), "%s%s", prefix, k);
		if (is_named_rows(v))
			continue;
		if (json_is_object(v)) {
			char sub[sizeof(key) + 1];

			snprintf(sub, sizeof(sub), "%s.", key);
			print_kv(v, sub, width);
			continue;
		}
		first = json_array_get(v, 0);
		if (json_is_array(v) && json_is_object(first))
			continue;
		fmt_value(val, sizeof(val), v, fmt_for_key(k));
		printf("%-*s  %s\n", width, key, val);
		printed = true;
	}
}

/* The arrays of objects print_kv() skipped, each as a table under its key path. */
static void print_tables(const json_t *obj, const char *prefix)
{
	const json_t *v;
	const char *k;
	char sub[128];

	json_object_foreach((json_t *)obj, k, v) {
		snprintf(sub, sizeof(sub), "%s%s", prefix, k);
		if (is_named_rows(v)) {
			printf("%s%s:\n", printed ? "\n" : "", sub);
			printed = true;
			print_named_rows(v, "name");
		} else if (json_is_object(v)) {
			strncat(sub, ".", sizeof(sub) - strlen(sub) - 1);
			print_tables(v, sub);
		} else if (json_is_array(v) && json_is_object(json_array_get(v, 0))) {
			printf("%s%s:\n", printed ? "\n" : "", sub);
			printed = true;
			print_generic_table(v);
		}
	}
}

/* ---- per-command output --------------------------------------------------------------- */

static const struct col client_cols[] = {
	{ "CN", "cn", NULL, F_STR, false },
	{ "STATE", "state", NULL, F_STR, false },
	{ "TENANT", "tenant", NULL, F_STR, false },
	{ "PROFILE", "profile", NULL, F_STR, false },
	{ "IFACE", "ifname", NULL, F_STR, false },
	{ "ADDRS", "addrs", NULL, F_STR, false },
	{ "REAL", "real", NULL, F_STR, false },
	{ "UP", "since", NULL, F_AGE, true },
	{ "FROM", "from_bytes", NULL, F_BYTES, true },
	{ "TO", "to_bytes", NULL, F_BYTES, true },
	{ "PKTS IN", "from_pkts", "from_packets", F_STR, true },
	{ "PKTS OUT", "to_pkts", "to_packets", F_STR, true },
	{ "DROPS", "drops", NULL, F_STR, true },
};

static const struct col log_cols[] = {
	{ "SEQ", "seq", NULL, F_STR, true },
	{ "TIME", "time_ns", NULL, F_TIME_NS, false },
	{ "KIND", "kind", NULL, F_STR, false },
	{ "SUBJECT", "subject", NULL, F_STR, false },
	{ "SESSION", "session", NULL, F_STR, false },
	{ "DETAIL", "detail", "terminate_cause", F_STR, false },
};

#define NCOLS(a) (sizeof(a) / sizeof((a)[0]))

static int kv_width(const json_t *obj, const char *prefix)
{
	const json_t *v;
	const char *k;
	int w = 0, n;

	json_object_foreach((json_t *)obj, k, v) {
		n = (int)(strlen(prefix) + strlen(k));
		if (json_is_object(v)) {
			char sub[128];

			snprintf(sub, sizeof(sub), "%s%s.", prefix, k);
			n = kv_width(v, sub);
		}
		if (n > w)
			w = n;
	}
	return w;
}

static void print_object(const json_t *obj)
{
	print_kv(obj, "", kv_width(obj, ""));
	print_tables(obj, "");
}

/* "real" as ip:port ([ip6]:port) when a daemon sends the port apart, as "real_port". */
static void join_real_port(json_t *row)
{
	const char *ip = json_string_value(json_object_get(row, "real"));
	json_t *port = json_object_get(row, "real_port");
	char buf[INET6_ADDRSTRLEN + 16];

	if (!ip || !*ip || !json_is_integer(port) || strchr(ip, ']') ||
	    (strchr(ip, '.') && strchr(ip, ':')))
		return;
	if (strchr(ip, ':'))
		snprintf(buf, sizeof(buf), "[%s]:%" JSON_INTEGER_FORMAT, ip,
			 json_integer_value(port));
	else
		snprintf(buf, sizeof(buf), "%s:%" JSON_INTEGER_FORMAT, ip,
			 json_integer_value(port));
	json_object_set_new(row, "real", json_string(buf));
	json_object_del(row, "real_port");
}

/* The header of clients and counters: sessions on a detached tunnel are unprotected. */
static void warn_detached(const json_t *resp)
{
	const json_t *names = json_object_get(resp, "detached_tunnels"), *n;
	size_t i;

	json_array_foreach(names, i, n) {
		printf("WARNING: %s detached by operator: its traffic is neither enforced nor "
		       "counted (tunwarden attach %s)\n",
		       json_string_value(n), json_string_value(n));
	}
}

static void print_clients(const json_t *resp, const char *target)
{
	json_t *rows = json_deep_copy(json_object_get(resp, "clients")), *row;
	size_t i;

	warn_detached(resp);
	if (!json_array_size(rows)) {
		printf("no clients\n");
		json_decref(rows);
		return;
	}
	json_array_foreach(rows, i, row) {
		join_real_port(row);
	}
	print_table(rows, client_cols, NCOLS(client_cols));
	json_decref(rows);
}

static void print_client(const json_t *resp, const char *target)
{
	const json_t *sess = json_object_get(resp, "session");

	/* A daemon may answer "client" like "clients", filtered to the one CN. */
	if (!sess && json_array_size(json_object_get(resp, "clients")) == 1)
		sess = json_array_get(json_object_get(resp, "clients"), 0);
	const json_t *subj = json_object_get(resp, "subject");
	json_t *rows, *rest;

	if (json_is_object(subj)) {
		printf("policy:\n");
		print_object(subj);
	}
	if (!json_is_object(sess)) {
		printf("%sno live session\n", json_is_object(subj) ? "\n" : "");
		return;
	}
	printf("%ssession:\n", json_is_object(subj) ? "\n" : "");
	rest = json_deep_copy(sess);
	if (rest)
		join_real_port(rest);
	rows = json_array();
	if (rows && rest && !json_array_append(rows, rest))
		print_table(rows, client_cols, NCOLS(client_cols));
	json_decref(rows);
	/* Whatever the table has no column for (confirm deadline, policy version, ...). */
	if (rest) {
		size_t c;

		for (c = 0; c < NCOLS(client_cols); c++) {
			json_object_del(rest, client_cols[c].key);
			if (client_cols[c].alt)
				json_object_del(rest, client_cols[c].alt);
		}
		json_object_del(rest, "drop_reasons");
		if (json_object_size(rest)) {
			printf("\n");
			print_object(rest);
		}
		json_decref(rest);
	}
	if (json_is_object(json_object_get(sess, "drop_reasons"))) {
		printf("\ndrops by reason:\n");
		print_object(json_object_get(sess, "drop_reasons"));
	}
}

static void print_log(const json_t *resp, const char *target)
{
	const json_t *rows = json_object_get(resp, "records");

	if (!json_array_size(rows))
		printf("no records\n");
	else
		print_table(rows, log_cols, NCOLS(log_cols));
	if (json_is_integer(json_object_get(resp, "last_seq")))
		printf("# last seq %" JSON_INTEGER_FORMAT "\n",
		       json_integer_value(json_object_get(resp, "last_seq")));
}

/* One line for each action; fields it does not know are not shown. */
static void print_banned(const json_t *resp, const char *target)
{
	const json_t *until = json_object_get(resp, "until");
	char buf[CELL_MAX];

	if (json_integer_value(until) > 0) {
		fmt_time(buf, sizeof(buf), json_integer_value(until));
		printf("banned %s until %s\n", target, buf);
	} else if (json_is_integer(until)) {
		printf("banned %s until unbanned\n", target);
	} else {
		printf("banned %s\n", target);
	}
}

static void print_killed(const json_t *resp, const char *target)
{
	printf("killed %s\n", target);
}

static void print_unbanned(const json_t *resp, const char *target)
{
	printf("unbanned %s\n", target);
}

static void print_confirmed(const json_t *resp, const char *target)
{
	const json_t *v = json_object_get(resp, "state");
	char buf[CELL_MAX];

	fmt_value(buf, sizeof(buf), v, F_STR);
	printf("confirmed %s%s%s\n", target, v ? ": state " : "", v ? buf : "");
}

static void print_reloaded(const json_t *resp, const char *target)
{
	const json_t *v = json_object_get(resp, "policy_version");
	char buf[CELL_MAX];

	fmt_value(buf, sizeof(buf), v, F_STR);
	printf("reloaded%s%s\n", v ? ": policy version " : "", v ? buf : "");
}

/* "detached"/"attached": a list of names (a count from older daemons). */
static void print_iface_list(const json_t *resp, const char *what)
{
	const json_t *v = json_object_get(resp, what);
	char buf[CELL_MAX];

	fmt_value(buf, sizeof(buf), v, F_STR);
	if (json_is_integer(v))
		printf("%s %s interface(s)\n", what, buf);
	else if (json_array_size(v))
		printf("%s: %s\n", what, buf);
	else
		printf("%s: no interface present (remembered for when it appears)\n", what);
}

static void print_detached(const json_t *resp, const char *target)
{
	print_iface_list(resp, "detached");
	printf("the dataplane stays off until `tunwarden attach`, across link events and "
	       "restarts\n");
}

static void print_attached(const json_t *resp, const char *target)
{
	print_iface_list(resp, "attached");
}

static void print_view(const json_t *resp, const char *target)
{
	print_object(resp);
}

static void print_counters(const json_t *resp, const char *target)
{
	warn_detached(resp);
	print_object(resp);
}

/* One line per tunnel, after the rest: "detached by operator since T" must stand out. */
static void print_status(const json_t *resp, const char *target)
{
	json_t *rest = json_deep_copy(resp);
	const json_t *tuns = json_object_get(resp, "tunnels"), *t;
	char since[CELL_MAX];
	size_t i;

	if (!rest || !json_is_array(tuns)) {
		print_object(resp);
		json_decref(rest);
		return;
	}
	json_object_del(rest, "tunnels");
	print_object(rest);
	json_decref(rest);
	printf("\ntunnels:%s\n", json_array_size(tuns) ? "" : " none seen");
	json_array_foreach(tuns, i, t) {
		const char *name = json_string_value(json_object_get(t, "ifname"));
		const char *st = json_string_value(json_object_get(t, "state"));
		const char *mode = json_string_value(json_object_get(t, "mode"));
		const char *err = json_string_value(json_object_get(t, "error"));

		if (!name || !st)
			continue;
		if (!strcmp(st, "detached")) {
			fmt_time(since, sizeof(since),
				 json_integer_value(json_object_get(t, "since")));
			printf("  %-15s detached by operator since %s: NOT enforced, NOT counted"
			       "%s\n",
			       name, since,
			       json_is_false(json_object_get(t, "present")) ? " (absent)" : "");
		} else if (err) {
			printf("  %-15s %s: %s\n", name, st, err);
		} else {
			printf("  %-15s %s%s%s%s\n", name, st, mode ? " (" : "", mode ? mode : "",
			       mode ? ")" : "");
		}
	}
}

/* ---- argument parsing ----------------------------------------------------------------- */

/* An address, optionally with a prefix length: what `ban ADDR` sends as "addr".
 * Host bits past the length are the daemon's to refuse, with a message. */
static bool looks_like_addr(const char *s)
{
	struct tw_addr a;
	uint8_t plen;
	int err = tw_prefix_scan(s, &a, &plen);

	return !err || err == -TW_PREFIX_EHOST;
}

struct opts {
	const char *sock;
	bool json;
	int timeout_ms;
};

/* What a subcommand takes on its command line. */
enum cmd_arg {
	ARG_NONE,
	ARG_CN, /* a certificate CN */
	ARG_CN_OR_ADDR, /* a CN, or an address or prefix (--cn / --addr decide when both fit) */
	ARG_IFACE, /* an interface name, or --all */
};

enum cmd_opt {
	OPT_FOR = 1 << 0,
	OPT_SINCE = 1 << 1,
	OPT_ALL = 1 << 2,
	OPT_CN_ADDR = 1 << 3,
};

/* The CLI's half of a row of tw_ctl_ops: how to ask, how to show the answer. */
struct cmd {
	enum cmd_arg arg;
	unsigned int opts; /* enum cmd_opt */
	void (*print)(const json_t *resp, const char *target);
};

static const struct cmd cmds[TW_OP__MAX] = {
	[TW_OP_STATUS] = { ARG_NONE, 0, print_status },
	[TW_OP_CLIENTS] = { ARG_NONE, 0, print_clients },
	[TW_OP_CLIENT] = { ARG_CN, 0, print_client },
	[TW_OP_COUNTERS] = { ARG_NONE, 0, print_counters },
	[TW_OP_LOG] = { ARG_NONE, OPT_SINCE, print_log },
	[TW_OP_KILL] = { ARG_CN, 0, print_killed },
	[TW_OP_BAN] = { ARG_CN_OR_ADDR, OPT_FOR | OPT_CN_ADDR, print_banned },
	[TW_OP_UNBAN] = { ARG_CN_OR_ADDR, OPT_CN_ADDR, print_unbanned },
	[TW_OP_CONFIRM] = { ARG_CN, 0, print_confirmed },
	[TW_OP_POLICY] = { ARG_NONE, 0, print_view },
	[TW_OP_RELOAD] = { ARG_NONE, 0, print_reloaded },
	[TW_OP_DETACH] = { ARG_IFACE, OPT_ALL, print_detached },
	[TW_OP_ATTACH] = { ARG_IFACE, OPT_ALL, print_attached },
};

/* The subcommand @name, or NULL (unknown, or an op the CLI does not send). */
static const struct cmd *cmd_find(const char *name)
{
	enum tw_ctl_op_id id;

	if (tw_ctl_op_find(name, &id) || !tw_ctl_ops[id].args || !cmds[id].print)
		return NULL;
	return &cmds[id];
}

/* What the command line said after the subcommand's name. */
struct cmd_line {
	const char *arg, *dur, *since;
	bool all, force_cn, force_addr;
};

/* Sub-options may come before or after the positional argument. */
static int parse_cmd_line(int argc, char **argv, struct cmd_line *cl)
{
	const char *cmd = argv[0];
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--for") || !strcmp(a, "--since")) {
			if (i + 1 >= argc)
				return usage_err("%s: %s needs a value", cmd, a);
			if (!strcmp(a, "--for"))
				cl->dur = argv[++i];
			else
				cl->since = argv[++i];
		} else if (!strncmp(a, "--for=", 6)) {
			cl->dur = a + 6;
		} else if (!strncmp(a, "--since=", 8)) {
			cl->since = a + 8;
		} else if (!strcmp(a, "--all")) {
			cl->all = true;
		} else if (!strcmp(a, "--cn")) {
			cl->force_cn = true;
		} else if (!strcmp(a, "--addr")) {
			cl->force_addr = true;
		} else if (!strcmp(a, "--")) {
			if (i + 1 < argc && !cl->arg)
				cl->arg = argv[++i];
			if (i + 1 < argc)
				return usage_err("%s: unexpected argument '%s'", cmd, argv[i + 1]);
			break;
		} else if (a[0] == '-' && a[1]) {
			return usage_err("%s: unknown option '%s'", cmd, a);
		} else if (!cl->arg) {
			cl->arg = a;
		} else {
			return usage_err("%s: unexpected argument '%s'", cmd, a);
		}
	}
	return 0;
}

/* Each sub-option is refused, by name, on the subcommands it does not apply to. */
static int check_cmd_opts(const char *cmd, const struct cmd *c, const struct cmd_line *cl)
{
	unsigned int opts = c ? c->opts : 0;

	if (cl->dur && !(opts & OPT_FOR))
		return usage_err("%s: --for only applies to ban", cmd);
	if (cl->since && !(opts & OPT_SINCE))
		return usage_err("%s: --since only applies to log", cmd);
	if (cl->all && !(opts & OPT_ALL))
		return usage_err("%s: --all only applies to detach and attach", cmd);
	if ((cl->force_cn || cl->force_addr) && !(opts & OPT_CN_ADDR))
		return usage_err("%s: --cn/--addr only apply to ban and unban", cmd);
	if (cl->force_cn && cl->force_addr)
		return usage_err("%s: --cn and --addr exclude each other", cmd);
	return 0;
}

static int req_none(const char *cmd, const struct cmd_line *cl, json_t **req)
{
	uint64_t v = 0;
	char *end;

	if (cl->arg)
		return usage_err("%s takes no argument (got '%s')", cmd, cl->arg);
	if (cl->since) {
		errno = 0;
		v = strtoull(cl->since, &end, 10);
		if (errno || end == cl->since || *end || *cl->since == '-' ||
		    v > ((uint64_t)1 << 53))
			return usage_err("log: --since expects a sequence number, got '%s'",
					 cl->since);
		*req = json_pack("{s:s, s:I}", "op", cmd, "since", (json_int_t)v);
	} else if (!strcmp(cmd, "log")) {
		*req = json_pack("{s:s, s:I}", "op", cmd, "since", (json_int_t)0);
	} else {
		*req = json_pack("{s:s}", "op", cmd);
	}
	return 0;
}

static int req_cn(const char *cmd, const struct cmd_line *cl, json_t **req)
{
	if (!cl->arg || !*cl->arg)
		return usage_err("%s needs a CN", cmd);
	*req = json_pack("{s:s, s:s}", "op", cmd, "cn", cl->arg);
	if (!*req)
		return usage_err("%s: CN '%s' is not valid UTF-8", cmd, cl->arg);
	return 0;
}

static int req_cn_or_addr(const char *cmd, const struct cmd_line *cl, json_t **req)
{
	uint64_t v = 0;
	bool is_addr;

	if (!cl->arg || !*cl->arg)
		return usage_err("%s needs a CN or an address", cmd);
	is_addr = cl->force_addr || (!cl->force_cn && looks_like_addr(cl->arg));
	if (cl->force_addr && !looks_like_addr(cl->arg))
		return usage_err("%s: '%s' is not an IPv4/IPv6 address or prefix", cmd, cl->arg);
	if (cl->dur && (tw_parse_duration(cl->dur, &v) || !v))
		return usage_err("ban: bad duration '%s' (examples: 90s, 10m, 2h, 1d, 1h30m; "
				 "at most 3650d)",
				 cl->dur);
	*req = json_pack("{s:s, s:s}", "op", cmd, is_addr ? "addr" : "cn", cl->arg);
	if (!*req)
		return usage_err("%s: '%s' is not valid UTF-8", cmd, cl->arg);
	if (cl->dur && json_object_set_new(*req, "duration", json_integer((json_int_t)v))) {
		json_decref(*req);
		*req = NULL;
	}
	return 0;
}

static int req_iface(const char *cmd, const struct cmd_line *cl, json_t **req)
{
	if (cl->all == !!cl->arg)
		return usage_err("%s needs an interface name or --all (not both)", cmd);
	if (cl->all)
		*req = json_pack("{s:s, s:b}", "op", cmd, "all", 1);
	else
		*req = json_pack("{s:s, s:s}", "op", cmd, "ifname", cl->arg);
	return 0;
}

/*
 * Build the request for argv[0..argc) (command first). Returns 0, or an exit
 * status after a message: EX_USAGE, EX_UNREACHABLE when out of memory.
 */
static int build_request(int argc, char **argv, const struct cmd **c, json_t **out,
			 const char **target)
{
	static int (*const build[])(const char *, const struct cmd_line *, json_t **) = {
		[ARG_NONE] = req_none,
		[ARG_CN] = req_cn,
		[ARG_CN_OR_ADDR] = req_cn_or_addr,
		[ARG_IFACE] = req_iface,
	};
	const char *cmd = argv[0];
	struct cmd_line cl = {};
	json_t *req = NULL;
	int rc;

	*c = cmd_find(cmd);
	rc = parse_cmd_line(argc, argv, &cl);
	if (!rc)
		rc = check_cmd_opts(cmd, *c, &cl);
	if (rc)
		return rc;
	if (!*c)
		return usage_err("unknown command '%s'", cmd);
	rc = build[(*c)->arg](cmd, &cl, &req);
	if (rc)
		return rc;
	if (!req) {
		fprintf(stderr, "tunwarden: out of memory\n");
		return EX_UNREACHABLE;
	}
	*target = cl.all ? "all interfaces" : cl.arg;
	*out = req;
	return 0;
}

/*
 * The options before the subcommand. Returns 0, or -1 after printing the
 * help (*@rc EX_OK) or a usage error (*@rc EX_USAGE).
 */
static int parse_opts(int argc, char **argv, struct opts *o, int *rc)
{
	static const struct option longopts[] = { { "socket", required_argument, NULL, 's' },
						  { "json", no_argument, NULL, 'j' },
						  { "timeout", required_argument, NULL, 't' },
						  { "help", no_argument, NULL, 'h' },
						  {} };
	char *end;
	int opt;
	long t;

	/* '+': stop at the command, whose own options are parsed by build_request(). */
	while ((opt = getopt_long(argc, argv, "+s:jt:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			o->sock = optarg;
			break;
		case 'j':
			o->json = true;
			break;
		case 't':
			errno = 0;
			t = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || t <= 0 || t > 3600) {
				*rc = usage_err("--timeout expects 1..3600 seconds, got '%s'",
						optarg);
				return -1;
			}
			o->timeout_ms = (int)t * 1000;
			break;
		case 'h':
			usage(stdout);
			*rc = EX_OK;
			return -1;
		default:
			usage(stderr);
			*rc = EX_USAGE;
			return -1;
		}
	}
	return 0;
}

/* Send @req, show the answer as the subcommand @c does (or as JSON); an exit status. */
static int call(const struct opts *o, const char *cmd, const struct cmd *c, json_t *req,
		const char *target)
{
	json_t *resp = NULL;
	char err[512];
	int ret = tw_ctl_call(tw_ctl_socket_path(o->sock), req, &resp, o->timeout_ms, err,
			      sizeof(err));

	if (ret && ret != -EREMOTEIO) {
		fprintf(stderr, "tunwarden: %s\n", err);
		return EX_UNREACHABLE;
	}
	if (o->json) {
		char *s = json_dumps(resp, JSON_COMPACT);

		if (s)
			printf("%s\n", s);
		free(s);
	}
	if (ret == -EREMOTEIO) {
		fprintf(stderr, "tunwarden: %s: %s\n", cmd, err);
		json_decref(resp);
		return EX_REFUSED;
	}
	if (!o->json)
		c->print(resp, target);
	json_decref(resp);
	if (fflush(stdout) == EOF) {
		fprintf(stderr, "tunwarden: writing output: %s\n", strerror(errno));
		return EX_REFUSED;
	}
	return EX_OK;
}

int main(int argc, char **argv)
{
	struct opts o = { .timeout_ms = 30000 };
	const char *cmd, *target = NULL;
	const struct cmd *c;
	json_t *req = NULL;
	int rc;

	if (parse_opts(argc, argv, &o, &rc))
		return rc;
	if (optind >= argc)
		return usage_err("no command given");
	cmd = argv[optind];
	if (!strcmp(cmd, "help")) {
		usage(stdout);
		return EX_OK;
	}
	rc = build_request(argc - optind, argv + optind, &c, &req, &target);
	if (rc)
		return rc;
	rc = call(&o, cmd, c, req, target);
	json_decref(req);
	return rc;
}
