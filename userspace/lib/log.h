/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Logging for the daemon and tools: err/warn/info/debug to stderr. Under
 * systemd (JOURNAL_STREAM naming stderr's dev:ino) each line carries a <N>
 * priority prefix so the journal files it at the right level; anywhere else
 * it starts with an ISO 8601 UTC time with milliseconds. Log once, where the
 * decision is made, with the object named.
 */
#ifndef TW_LOG_H
#define TW_LOG_H

#include "config.h"

void tw_log_init(const char *ident, enum tw_log_level level);
void tw_log_set_level(enum tw_log_level level);
void tw_log(enum tw_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define tw_err(...)  tw_log(TW_LOG_ERR, __VA_ARGS__)
#define tw_warn(...) tw_log(TW_LOG_WARN, __VA_ARGS__)
#define tw_info(...) tw_log(TW_LOG_INFO, __VA_ARGS__)
#define tw_dbg(...)  tw_log(TW_LOG_DEBUG, __VA_ARGS__)

#endif
