// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer harness for the policy stream's line handling (polstream.c):
 * the bytes a portal sends, split into two chunks at a point the first
 * byte picks, over a policy at version 1. `make fuzz` builds and runs it
 * (mk/fuzz.mk). Beyond "no crash": the version never goes down, a refused
 * line leaves a refusal that names the kept version, and the stream stays
 * failed once it failed.
 *
 * TEST DOUBLE: the sink swaps the policy in memory in place of the
 * daemon's install path (dataplane, sessions, cache).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "daemon.h"
#include "log.h"
#include "policy.h"
#include "polstream_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                       \
	do {                              \
		if (!(cond))              \
			__builtin_trap(); \
	} while (0)

static const char base_json[] =
	"{\"version\": 1, \"tenants\": [{\"id\": \"acme\"}], \"profiles\": [{\"id\": \"emp\"}],"
	" \"subjects\": [{\"kind\": \"cn\", \"id\": \"alice\", \"tenant\": \"acme\","
	" \"profiles\": [\"emp\"], \"state\": \"enabled\"}]}";

static void sink_snapshot(struct tw_daemon *d, struct tw_policy *np, const char *line, size_t len)
{
	tw_policy_free(d->pol);
	d->pol = np;
}

static void sink_delta(struct tw_daemon *d, const char *line, size_t len, bool profiles)
{
}

static const struct tw_polstream_sink sink = { .snapshot = sink_snapshot, .delta = sink_delta };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tw_daemon d;
	struct tw_polstream *ps;
	char err[256];
	uint64_t before;
	uint32_t rc;
	size_t cut;

	tw_log_set_level(TW_LOG_ERR);
	memset(&d, 0, sizeof(d));
	snprintf(d.node, sizeof(d.node), "node-fuzz");
	d.pol = tw_policy_parse(base_json, sizeof(base_json) - 1, err, sizeof(err));
	CHECK(d.pol);
	ps = tw_polstream_new_sink(&d, &sink);
	CHECK(ps);
	cut = size ? data[0] % (size + 1) : 0;
	before = tw_policy_version(d.pol);
	rc = tw_polstream_feed(ps, data, cut);
	if (!rc)
		rc = tw_polstream_feed(ps, data + cut, size - cut);
	CHECK(d.pol && tw_policy_version(d.pol) >= before);
	if (rc) {
		CHECK(tw_polstream_feed(ps, (const uint8_t *)"\n", 1) == rc);
		if (ps->last_error[0]) {
			char kept[48];

			snprintf(kept, sizeof(kept), "; keeping version %llu",
				 (unsigned long long)tw_policy_version(d.pol));
			CHECK(strstr(ps->last_error, kept));
		}
	}
	tw_polstream_release(ps);
	tw_policy_free(d.pol);
	return 0;
}
