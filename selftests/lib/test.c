// SPDX-License-Identifier: GPL-2.0-only
/* Harness state and TAP output; see test.h. */
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/mount.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include "test.h"
#include "harness_internal.h"

struct tw_harness tw_h;

static void finish_subtest(void)
{
	if (!tw_h.sub_name[0])
		return;
	tw_harness_report(tw_h.sub_name, tw_h.sub_failed, tw_h.sub_skipped, tw_h.skip_reason);
	tw_h.sub_name[0] = '\0';
	tw_h.sub_failed = tw_h.sub_skipped = false;
	tw_h.skip_reason[0] = '\0';
}

void tw_harness_report(const char *name, bool failed, bool skipped, const char *reason)
{
	tw_h.num++;
	if (failed) {
		tw_h.failed++;
		printf("not ok %d - %s/%s\n", tw_h.num, tw_h.test_name, name);
	} else if (skipped) {
		tw_h.skipped++;
		printf("ok %d - %s/%s # SKIP %s\n", tw_h.num, tw_h.test_name, name, reason);
	} else {
		tw_h.passed++;
		printf("ok %d - %s/%s\n", tw_h.num, tw_h.test_name, name);
	}
	fflush(stdout);
}

bool test__start_subtest(const char *name)
{
	finish_subtest();
	if (tw_h.filter_sub && !strstr(name, tw_h.filter_sub))
		return false;
	snprintf(tw_h.sub_name, sizeof(tw_h.sub_name), "%s", name);
	tw_h.had_subtests = true;
	return true;
}

void tw_harness_end_test(void)
{
	finish_subtest();
	if (!tw_h.had_subtests || tw_h.test_failed_outside || tw_h.test_skipped_outside)
		tw_harness_report("main", tw_h.test_failed_outside, tw_h.test_skipped_outside,
				  tw_h.skip_reason);
	tw_h.had_subtests = tw_h.test_failed_outside = tw_h.test_skipped_outside = false;
	tw_h.skip_reason[0] = '\0';
}

void test__fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	printf("# %s:%d: ", file, line);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (tw_h.sub_name[0])
		tw_h.sub_failed = true;
	else
		tw_h.test_failed_outside = true;
}

void test__skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tw_h.skip_reason, sizeof(tw_h.skip_reason), fmt, ap);
	va_end(ap);
	if (tw_h.sub_name[0])
		tw_h.sub_skipped = true;
	else
		tw_h.test_skipped_outside = true;
}

bool test__verbose(void)
{
	return tw_h.verbose;
}

void test__diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

bool test__need_root(void)
{
	if (geteuid() == 0)
		return true;
	test__skip("needs root (CAP_BPF, CAP_NET_ADMIN)");
	return false;
}

bool test__need_bpffs(void)
{
	struct statfs st;

	if (!test__need_root())
		return false;
	if (statfs("/sys/fs/bpf", &st) == 0 && st.f_type == BPF_FS_MAGIC)
		return true;
	if (mount("bpf", "/sys/fs/bpf", "bpf", 0, NULL) == 0)
		return true;
	test__skip("no bpffs at /sys/fs/bpf and mounting one failed: %s", strerror(errno));
	return false;
}
