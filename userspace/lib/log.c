// SPDX-License-Identifier: GPL-2.0-only
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "log.h"

static enum tw_log_level cur_level = TW_LOG_INFO;
static const char *cur_ident = "tunwarden";
static int journal = -1;

/* systemd sets JOURNAL_STREAM=DEV:INO of the stream it connects stderr to;
 * a child that inherited the variable but writes elsewhere is not journald. */
static int stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	return js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && !fstat(STDERR_FILENO, &st) &&
	       (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void tw_log_init(const char *ident, enum tw_log_level level)
{
	cur_ident = ident;
	cur_level = level;
	journal = stderr_is_journal();
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
	struct timespec ts;
	struct tm tm;
	va_list ap;

	if (level > cur_level)
		return;
	if (journal > 0) {
		fprintf(stderr, "<%d>", prio[level]); /* journald stamps the line itself */
	} else {
		/* ISO 8601 UTC with milliseconds: sorts, and matches the records' times */
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s: %s: ", tm.tm_year + 1900,
			tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
			ts.tv_nsec / 1000000, cur_ident, name[level]);
	}
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
