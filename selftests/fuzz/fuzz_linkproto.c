// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer harness for what the portal sends back on the record stream:
 * the ack/error line parser and the retry-after parser (linkproto.c). The
 * input is one line (the parser never sees an LF) and, after a NUL, a
 * retry-after value. Checks what the parser promises: an ack within
 * 0..2^63-1, an error code and message that are printable ASCII and
 * NUL-terminated within their buffers, a retry-after of at most an hour.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "linkproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void printable(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);

	if (n == cap)
		abort();
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t n = nul ? (size_t)(nul - data) : size;
	struct tw_ackline al;
	char why[160], ra[64];

	if (n <= TW_ACKLINE_MAX &&
	    !tw_ackline_parse((const char *)data, n, &al, why, sizeof(why))) {
		if (al.kind == TW_ACKLINE_ACK && al.ack > INT64_MAX)
			abort();
		if (al.kind == TW_ACKLINE_ERROR) {
			printable(al.error, sizeof(al.error));
			printable(al.message, sizeof(al.message));
		}
	}
	if (nul) {
		size_t m = size - n - 1 < sizeof(ra) - 1 ? size - n - 1 : sizeof(ra) - 1;

		memcpy(ra, nul + 1, m);
		ra[m] = '\0';
		if (tw_retry_after_parse(ra, 1700000000) > TW_RETRY_AFTER_MAX_S)
			abort();
	}
	return 0;
}
