// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer harness for the record parser (userspace/lib/record.c).
 * Properties beyond "no crash, no leak, no UB":
 *  - a refusal always carries a message;
 *  - whatever the parser accepts, the serialiser accepts too, and parsing
 *    that output gives back the same record bytewise (the journal stores
 *    the serialiser's output and the portal parses it).
 *
 *   make build/fuzz/fuzz_record
 *   build/fuzz/fuzz_record -max_total_time=60 -max_len=4096 CORPUS_DIR
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tw_record a, b;
	char err[256];
	size_t len;
	char *json;

	err[0] = '\0';
	if (tw_record_from_json((const char *)data, size, &a, err, sizeof(err))) {
		if (!err[0] || !memchr(err, '\0', sizeof(err)))
			abort();
		return 0;
	}
	json = tw_record_to_json(&a, &len, err, sizeof(err));
	if (!json)
		abort();
	/* The parser zeroes the record first, so padding compares equal too. */
	if (tw_record_from_json(json, len, &b, err, sizeof(err)) ||
	    memcmp(&a, &b, sizeof(a)) != 0) // NOLINT(bugprone-suspicious-memory-comparison)
		abort();
	free(json);
	return 0;
}
