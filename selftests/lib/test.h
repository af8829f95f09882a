/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The test harness: bool-returning ASSERT_* macros in the manner of the
 * kernel's test_progs, TAP output, and a closing line
 * "N passed, N failed, N skipped".
 *
 *	if (!ASSERT_OK(err, "load"))
 *		goto out;
 *
 * A test is a function void test_NAME(void) in one file NAME.c under
 * selftests/prog_tests/ or selftests/unit/; the Makefile generates the
 * runner's table. Subtests: if (test__start_subtest("name")) { ... }.
 * A test that cannot run calls test__skip("reason").
 */
#ifndef TW_SELFTEST_TEST_H
#define TW_SELFTEST_TEST_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>

void test__fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void test__skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
bool test__start_subtest(const char *name);
bool test__verbose(void);
void test__diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define ASSERT_TRUE(cond, name)                                                         \
	({                                                                              \
		bool ___ok = !!(cond);                                                  \
		if (!___ok)                                                             \
			test__fail(__FILE__, __LINE__, "%s: unexpected false", (name)); \
		___ok;                                                                  \
	})
#define ASSERT_FALSE(cond, name) ASSERT_TRUE(!(cond), name)

#define ASSERT_OK(res, name)                                                                     \
	({                                                                                       \
		long long ___res = (res);                                                        \
		bool ___ok = ___res == 0;                                                        \
		if (!___ok)                                                                      \
			test__fail(__FILE__, __LINE__, "%s: unexpected error %lld (%s)", (name), \
				   ___res, strerror(___res < 0 ? (int)-___res : errno));         \
		___ok;                                                                           \
	})

#define ASSERT_ERR(res, name)                                                                  \
	({                                                                                     \
		long long ___res = (res);                                                      \
		bool ___ok = ___res < 0;                                                       \
		if (!___ok)                                                                    \
			test__fail(__FILE__, __LINE__, "%s: expected error, got %lld", (name), \
				   ___res);                                                    \
		___ok;                                                                         \
	})

#define ASSERT_CMP(a, op, b, name)                                                               \
	({                                                                                       \
		long long ___a = (long long)(a), ___b = (long long)(b);                          \
		bool ___ok = ___a op ___b;                                                       \
		if (!___ok)                                                                      \
			test__fail(__FILE__, __LINE__, "%s: expected %lld " #op " %lld", (name), \
				   ___a, ___b);                                                  \
		___ok;                                                                           \
	})
#define ASSERT_EQ(a, b, name)  ASSERT_CMP(a, ==, b, name)
#define ASSERT_NEQ(a, b, name) ASSERT_CMP(a, !=, b, name)
#define ASSERT_LT(a, b, name)  ASSERT_CMP(a, <, b, name)
#define ASSERT_LE(a, b, name)  ASSERT_CMP(a, <=, b, name)
#define ASSERT_GT(a, b, name)  ASSERT_CMP(a, >, b, name)
#define ASSERT_GE(a, b, name)  ASSERT_CMP(a, >=, b, name)

#define ASSERT_OK_PTR(p, name)                                                                    \
	({                                                                                        \
		const void *___p = (p);                                                           \
		bool ___ok = ___p != NULL;                                                        \
		if (!___ok)                                                                       \
			test__fail(__FILE__, __LINE__, "%s: NULL (%s)", (name), strerror(errno)); \
		___ok;                                                                            \
	})

#define ASSERT_STREQ(a, b, name)                                                       \
	({                                                                             \
		const char *___a = (a), *___b = (b);                                   \
		bool ___ok = ___a && ___b && strcmp(___a, ___b) == 0;                  \
		if (!___ok)                                                            \
			test__fail(__FILE__, __LINE__, "%s: \"%s\" != \"%s\"", (name), \
				   ___a ? ___a : "(null)", ___b ? ___b : "(null)");    \
		___ok;                                                                 \
	})

/* Environment checks shared by suites: each returns true when the test
 * can go on, and otherwise records a SKIP with the reason. */
bool test__need_root(void);
bool test__need_bpffs(void);

#endif /* TW_SELFTEST_TEST_H */
