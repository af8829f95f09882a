// SPDX-License-Identifier: GPL-2.0-only
/*
 * Test runner: runs every test_NAME() of its suite, or those named with -t
 * NAME[/SUBTEST], and prints TAP with a closing summary line.
 * Exit status: 0 when nothing failed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "test.h"
#include "harness_internal.h"

#define TW_TEST(n) void test_##n(void);
#include TW_TESTS_INC
#undef TW_TEST

struct tw_test_def {
	const char *name;
	void (*fn)(void);
};

static const struct tw_test_def tests[] = {
#define TW_TEST(n) { #n, test_##n },
#include TW_TESTS_INC
#undef TW_TEST
};

int main(int argc, char **argv)
{
	const char *filter = NULL;
	char *slash;
	size_t i;
	int opt;

	while ((opt = getopt(argc, argv, "t:vl")) != -1) {
		switch (opt) {
		case 't':
			filter = optarg;
			break;
		case 'v':
			tw_h.verbose = true;
			break;
		case 'l':
			for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
				printf("%s\n", tests[i].name);
			return EXIT_SUCCESS;
		default:
			fprintf(stderr, "usage: %s [-v] [-l] [-t TEST[/SUBTEST]]\n", argv[0]);
			return EXIT_FAILURE;
		}
	}
	if (filter && (slash = strchr(filter, '/'))) {
		*slash = '\0';
		tw_h.filter_sub = slash + 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("TAP version 13\n# suite %s\n", TW_SUITE);
	for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		if (filter && strcmp(filter, tests[i].name))
			continue;
		tw_h.test_name = tests[i].name;
		tests[i].fn();
		tw_harness_end_test();
	}
	printf("1..%d\n", tw_h.num);
	printf("%d passed, %d failed, %d skipped\n", tw_h.passed, tw_h.failed, tw_h.skipped);
	return tw_h.failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
