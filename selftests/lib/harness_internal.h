/* SPDX-License-Identifier: GPL-2.0-only */
/* Harness state shared by test.c and runner.c; tests never include this. */
#ifndef TW_SELFTEST_HARNESS_INTERNAL_H
#define TW_SELFTEST_HARNESS_INTERNAL_H

#include <stdbool.h>

struct tw_harness {
	const char *test_name;
	const char *filter_sub;
	char sub_name[128];
	char skip_reason[256];
	bool sub_failed, sub_skipped, had_subtests;
	bool test_failed_outside, test_skipped_outside;
	bool verbose;
	int num, passed, failed, skipped;
};

extern struct tw_harness tw_h;
void tw_harness_report(const char *name, bool failed, bool skipped, const char *reason);
void tw_harness_end_test(void);

#endif
