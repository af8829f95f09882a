// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer harness for the portal's config parser (userspace/portal/pconf.c),
 * built by `make fuzz` (mk/fuzz.mk). Beyond "no crash": an error names the
 * file and holds only printable bytes; a success leaves every string
 * terminated and the numbers in range.
 */
#include <stdint.h>
#include <string.h>
#include "pconf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                       \
	do {                              \
		if (!(cond))              \
			__builtin_trap(); \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tw_pconf c;
	char err[512];

	tw_pconf_defaults(&c);
	err[0] = '\0';
	if (tw_pconf_parse((const char *)data, size, "f.conf", &c, err, sizeof(err))) {
		CHECK(!strncmp(err, "f.conf", 6));
		for (const char *p = err; *p; p++)
			CHECK(*p >= 0x20 && *p < 0x7f);
		return 0;
	}
	CHECK(strnlen(c.listen, sizeof(c.listen)) < sizeof(c.listen));
	CHECK(strnlen(c.database, sizeof(c.database)) < sizeof(c.database));
	CHECK(strnlen(c.signing_key, sizeof(c.signing_key)) < sizeof(c.signing_key));
	CHECK(c.max_connections >= 1 && c.max_connections <= 1000000);
	CHECK(c.idle_timeout_ms >= 1000 && c.handshake_timeout_ms >= 1000);
	CHECK(!c.listen[0] || (c.cert[0] && c.key[0]));
	return 0;
}
