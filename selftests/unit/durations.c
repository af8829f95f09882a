// SPDX-License-Identifier: GPL-2.0-only
/*
 * Durations have one ceiling, TW_DURATION_MAX_S (10 years): the shared
 * parser answers -ERANGE past it, however the number is written, and a
 * config key whose own range is wider could never take more. Before the
 * ceiling "9223372036854775807s" parsed, and a ban of that many seconds
 * overflowed time_t (issue 13, item 7).
 */
#include <errno.h>
#include "test.h"
#include "config.h"

void test_durations(void)
{
	static const struct {
		const char *s;
		int ret;
		uint64_t v;
	} durs[] = {
		{ "3650d", 0, TW_DURATION_MAX_S },
		{ "315360000", 0, TW_DURATION_MAX_S },
		{ "315360001", -ERANGE, 0 },
		{ "3650d1s", -ERANGE, 0 },
		{ "521w", 0, 521ULL * 7 * 86400 },
		{ "522w", -ERANGE, 0 },
		{ "9223372036854775807", -ERANGE, 0 },
		{ "9223372036854775807s", -ERANGE, 0 },
		{ "18446744073709551615", -ERANGE, 0 },
		{ "3000000000000000w", -ERANGE, 0 }, /* v * mult overflows uint64 */
		{ "1d1d1d", 0, 3 * 86400 },
	};
	struct tw_config c;
	char name[64], err[256];
	uint64_t v;

	ASSERT_EQ(TW_DURATION_MAX_S, 315360000ULL, "the ceiling is 10 years of 365 days");
	for (size_t i = 0; i < sizeof(durs) / sizeof(durs[0]); i++) {
		v = 12345;
		snprintf(name, sizeof(name), "duration '%s'", durs[i].s);
		ASSERT_EQ(tw_parse_duration(durs[i].s, &v), durs[i].ret, name);
		ASSERT_EQ(v, durs[i].ret ? 12345 : durs[i].v, name);
	}

	/* a config duration past the ceiling names the key and its range */
	static const char conf[] = "[confirmation]\nban_duration = 9223372036854775807s\n";
	ASSERT_EQ(tw_config_parse(conf, sizeof(conf) - 1, "t.conf", &c, err, sizeof(err)), -EINVAL,
		  "ban_duration 2^63-1 s refused");
	ASSERT_STREQ(err,
		     "t.conf:2: ban_duration '9223372036854775807s' out of range [0s, 365d] in "
		     "[confirmation]",
		     "its message");
}
