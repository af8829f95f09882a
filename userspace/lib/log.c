// SPDX-License-Identifier: GPL-2.0-only
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include "log.h"

static enum tw_log_level cur_level = TW_LOG_INFO;
static const char *cur_ident = "tunwarden";
static int journal = -1;

void tw_log_init(const char *ident, enum tw_log_level level)
{
	cur_ident = ident;
	cur_level = level;
	journal = getenv("JOURNAL_STREAM") != NULL;
}

void tw_log_set_level(enum tw_log_level level)
{
	cur_level = level;
}

void tw_log(enum tw_log_level level, const char *fmt, ...)
{
	/* syslog priorities: err 3, warning 4, info 6, debug 7 */
	static const int prio[] = { 3, 4, 6, 7 };
	static const char *const name[] = { "error", "warning", "info", "debug" };
	va_list ap;

	if (level > cur_level)
		return;
	if (journal > 0)
		fprintf(stderr, "<%d>", prio[level]);
	else
		fprintf(stderr, "%s: %s: ", cur_ident, name[level]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
