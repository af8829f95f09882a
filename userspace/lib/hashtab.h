/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * One small open-addressing hash table for the policy (subjects, profiles,
 * tenants by id) and the session table (sessions by subject).
 *
 * The table holds pointers to the caller's objects; a slot caches the
 * object's hash so that probing and growing never touch the objects. The
 * caller computes hashes (tw_hash_str()) and says what a key is through an
 * equality callback, so one table serves any key type. Linear probing at a
 * load factor of at most 1/2; deletion shifts later members of the probe run
 * back instead of leaving tombstones, so lookups stay short under churn.
 *
 * Not thread-safe; lookups never allocate. A zeroed struct tw_htab is an
 * empty table.
 */
#ifndef TW_HASHTAB_H
#define TW_HASHTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tw_htab_slot {
	uint32_t hash;
	void *item; /* NULL: empty */
};

struct tw_htab {
	struct tw_htab_slot *slots;
	uint32_t cap; /* power of two, or 0 */
	uint32_t n;
};

/* Does @item have key @key? */
typedef bool (*tw_htab_eq_fn)(const void *item, const void *key);

/*
 * FNV-1a over @s seeded with @seed, with a murmur3 finaliser so that the
 * low bits (the slot index) depend on every byte. Keys come from the
 * authenticated portal or the daemon itself; lookups of client-supplied
 * names never insert, so a keyed hash against flooding buys nothing here.
 */
uint32_t tw_hash_str(uint32_t seed, const char *s);

/* Make room for @n items in total; 0 or -ENOMEM (the table unchanged). */
int tw_htab_reserve(struct tw_htab *t, uint32_t n);

/* Index of the slot holding @key, or of the empty slot where it would go.
 * The load factor of at most 1/2 guarantees an empty slot. Inline, with
 * tw_htab_find(), so that a lookup compiles into its caller with @eq
 * inlined: the connect path makes two of them. */
static inline uint32_t tw_htab_slot_of(const struct tw_htab *t, uint32_t hash, const void *key,
				       tw_htab_eq_fn eq)
{
	uint32_t mask = t->cap - 1, i = hash & mask;

	for (;;) {
		const struct tw_htab_slot *s = &t->slots[i];

		if (!s->item || (s->hash == hash && eq(s->item, key)))
			return i;
		i = (i + 1) & mask;
	}
}

static inline void *tw_htab_find(const struct tw_htab *t, uint32_t hash, const void *key,
				 tw_htab_eq_fn eq)
{
	if (!t || !t->cap)
		return NULL;
	return t->slots[tw_htab_slot_of(t, hash, key, eq)].item;
}
/* Insert @item under @key or replace the item with that key, which is
 * returned. The caller has reserved room (tw_htab_reserve()): cannot fail. */
void *tw_htab_put(struct tw_htab *t, uint32_t hash, void *item, const void *key, tw_htab_eq_fn eq);
/* Remove and return the item with @key, NULL when there is none. */
void *tw_htab_del(struct tw_htab *t, uint32_t hash, const void *key, tw_htab_eq_fn eq);
/* Walk the items in slot order: start with *iter = 0; NULL at the end. */
void *tw_htab_next(const struct tw_htab *t, size_t *iter);
/* Free the slots (not the items); the table is empty and reusable. */
void tw_htab_release(struct tw_htab *t);

#endif /* TW_HASHTAB_H */
