// SPDX-License-Identifier: GPL-2.0-only
/*
 * The shared hash table (userspace/lib/hashtab.c) with keys that collide on
 * purpose: the caller passes the hash, so every key here lands in one probe
 * run, some of them wrapping past the end of the slot array. Deleting from
 * the middle of such a run is where backward-shift deletion goes wrong if it
 * does: every survivor must still be found, and nothing deleted must be.
 */
#include <stdlib.h>
#include "test.h"
#include "hashtab.h"

struct item {
	char key[16];
	uint32_t hash;
	bool live;
};

static bool item_eq(const void *item, const void *key)
{
	return !strcmp(((const struct item *)item)->key, key);
}

static bool all_found(const struct tw_htab *t, struct item *v, int n)
{
	for (int i = 0; i < n; i++) {
		void *f = tw_htab_find(t, v[i].hash, v[i].key, item_eq);

		if (f != (v[i].live ? &v[i] : NULL)) {
			fprintf(stderr, "# %s: found %p, want %p\n", v[i].key, f,
				v[i].live ? (void *)&v[i] : NULL);
			return false;
		}
	}
	return true;
}

static void subtest_collisions(void)
{
	enum { N = 7 };
	struct tw_htab t = {};
	struct item v[N];
	size_t it = 0;
	int i, seen = 0;

	/* 16 slots; every hash maps to slot 14 or 15, so the run wraps to 0.. */
	if (!ASSERT_OK(tw_htab_reserve(&t, N), "reserve") || !ASSERT_EQ(t.cap, 16, "cap"))
		return;
	for (i = 0; i < N; i++) {
		snprintf(v[i].key, sizeof(v[i].key), "k%d", i);
		v[i].hash = (i % 3 ? 14 : 15) + 16 * (uint32_t)i; /* same low bits, other high */
		v[i].live = true;
		ASSERT_TRUE(tw_htab_put(&t, v[i].hash, &v[i], v[i].key, item_eq) == NULL, "put");
	}
	ASSERT_EQ(t.n, N, "count");
	ASSERT_TRUE(all_found(&t, v, N), "all found in one wrapped run");
	ASSERT_TRUE(tw_htab_put(&t, v[3].hash, &v[3], v[3].key, item_eq) == &v[3], "replace");
	ASSERT_EQ(t.n, N, "replace keeps the count");

	/* Delete from the head, the middle and past the wrap, checking after each. */
	static const int order[] = { 0, 3, 5, 1, 6, 2, 4 };
	for (i = 0; i < N; i++) {
		struct item *d = &v[order[i]];

		ASSERT_TRUE(tw_htab_del(&t, d->hash, d->key, item_eq) == d, "del");
		d->live = false;
		ASSERT_TRUE(tw_htab_del(&t, d->hash, d->key, item_eq) == NULL, "del twice");
		if (!ASSERT_TRUE(all_found(&t, v, N), d->key))
			break;
	}
	ASSERT_EQ(t.n, 0, "empty");
	for (i = 0; i < (int)t.cap; i++)
		ASSERT_TRUE(t.slots[i].item == NULL, "no slot left behind");

	/* Churn the same colliding keys: no tombstones, so it never fills up. */
	for (int round = 0; round < 1000; round++) {
		struct item *a = &v[round % N];

		a->live = true;
		tw_htab_put(&t, a->hash, a, a->key, item_eq);
		if (round % 2) {
			tw_htab_del(&t, a->hash, a->key, item_eq);
			a->live = false;
		}
	}
	ASSERT_TRUE(all_found(&t, v, N), "after churn");
	while (tw_htab_next(&t, &it))
		seen++;
	ASSERT_EQ(seen, (int)t.n, "next walks every item");

	/* Growing rehashes by the cached hash and keeps every item. */
	ASSERT_OK(tw_htab_reserve(&t, 100), "grow");
	ASSERT_EQ(t.cap, 256, "grown");
	ASSERT_TRUE(all_found(&t, v, N), "after growing");
	tw_htab_release(&t);
	ASSERT_TRUE(tw_htab_find(&t, v[0].hash, v[0].key, item_eq) == NULL, "released is empty");
}

/*
 * Probe runs that wrap with members whose home is past the wrap: after a
 * hole near the end of the array, a member at slot 0 or 1 whose home is 0
 * or 1 must stay, one whose home is before the hole must move back. Each
 * row is one table (home slots in insertion order, 16 slots); every member
 * in turn is deleted from a fresh copy, then all of them in a row.
 */
static void subtest_wrapped_homes(void)
{
	static const struct {
		int n;
		uint32_t home[8];
	} rows[] = {
		{ 6, { 14, 15, 15, 0, 0, 1 } },	    { 6, { 15, 0, 15, 1, 0, 2 } },
		{ 7, { 13, 14, 0, 0, 15, 1, 13 } }, { 5, { 15, 15, 15, 15, 0 } },
		{ 5, { 0, 15, 1, 14, 0 } },
	};
	struct tw_htab t = {};
	struct item v[8];
	char what[64];

	for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		int n = rows[r].n;

		for (int victim = -1; victim < n; victim++) {
			if (!ASSERT_OK(tw_htab_reserve(&t, 8), "reserve") ||
			    !ASSERT_EQ(t.cap, 16, "cap"))
				return;
			for (int i = 0; i < n; i++) {
				snprintf(v[i].key, sizeof(v[i].key), "r%zuk%d", r, i);
				/* same low bits as the home, other high bits */
				v[i].hash = rows[r].home[i] + 16 * (uint32_t)(i + 1);
				v[i].live = true;
				tw_htab_put(&t, v[i].hash, &v[i], v[i].key, item_eq);
			}
			/* victim -1: delete every member, last inserted first */
			for (int i = n - 1; i >= 0; i--) {
				int d = victim < 0 ? i : victim;

				snprintf(what, sizeof(what), "row %zu: %s deleted", r, v[d].key);
				ASSERT_TRUE(tw_htab_del(&t, v[d].hash, v[d].key, item_eq) == &v[d],
					    what);
				v[d].live = false;
				if (!ASSERT_TRUE(all_found(&t, v, n), what) || victim >= 0)
					break;
			}
			tw_htab_release(&t);
		}
	}
}

static void subtest_hash(void)
{
	ASSERT_NEQ(tw_hash_str(0, "alice"), tw_hash_str(1, "alice"), "seed matters");
	ASSERT_NEQ(tw_hash_str(0, "ab"), tw_hash_str(0, "ba"), "order matters");
	ASSERT_EQ(tw_hash_str(0, "alice"), tw_hash_str(0, "alice"), "stable");
}

void test_hashtab(void)
{
	if (test__start_subtest("collisions"))
		subtest_collisions();
	if (test__start_subtest("wrapped_homes"))
		subtest_wrapped_homes();
	if (test__start_subtest("hash"))
		subtest_hash();
}
