// SPDX-License-Identifier: GPL-2.0-only
/* Open-addressing hash table; see hashtab.h. */
#include <errno.h>
#include <stdlib.h>
#include "hashtab.h"

uint32_t tw_hash_str(uint32_t seed, const char *s)
{
	uint32_t h = 2166136261u ^ seed;

	h *= 16777619u;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

/* The empty slot where an item of @hash goes while rehashing (no equal keys). */
static uint32_t free_slot(const struct tw_htab *t, uint32_t hash)
{
	uint32_t mask = t->cap - 1, i = hash & mask;

	while (t->slots[i].item)
		i = (i + 1) & mask;
	return i;
}

int tw_htab_reserve(struct tw_htab *t, uint32_t n)
{
	struct tw_htab_slot *old = t->slots;
	uint32_t cap = 16, oldcap = t->cap, i;

	while (cap / 2 < n)
		cap <<= 1;
	if (cap <= t->cap)
		return 0;
	t->slots = calloc(cap, sizeof(*t->slots));
	if (!t->slots) {
		t->slots = old;
		return -ENOMEM;
	}
	t->cap = cap;
	for (i = 0; i < oldcap; i++)
		if (old[i].item)
			t->slots[free_slot(t, old[i].hash)] = old[i];
	free(old);
	return 0;
}

void *tw_htab_put(struct tw_htab *t, uint32_t hash, void *item, const void *key, tw_htab_eq_fn eq)
{
	struct tw_htab_slot *s = &t->slots[tw_htab_slot_of(t, hash, key, eq)];
	void *old = s->item;

	s->hash = hash;
	s->item = item;
	if (!old)
		t->n++;
	return old;
}

void *tw_htab_del(struct tw_htab *t, uint32_t hash, const void *key, tw_htab_eq_fn eq)
{
	uint32_t mask, i, j, k;
	void *old;

	if (!t->cap)
		return NULL;
	mask = t->cap - 1;
	i = tw_htab_slot_of(t, hash, key, eq);
	old = t->slots[i].item;
	if (!old)
		return NULL;
	t->slots[i].item = NULL;
	t->n--;
	/* Pull later members of the probe run back so that no lookup stops
	 * early at the hole: a member at j whose home k lies cyclically in
	 * (i, j] is still reachable and stays. */
	for (j = i;;) {
		j = (j + 1) & mask;
		if (!t->slots[j].item)
			break;
		k = t->slots[j].hash & mask;
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		t->slots[i] = t->slots[j];
		t->slots[j].item = NULL;
		i = j;
	}
	return old;
}

void *tw_htab_next(const struct tw_htab *t, size_t *iter)
{
	while (*iter < t->cap) {
		void *item = t->slots[(*iter)++].item;

		if (item)
			return item;
	}
	return NULL;
}

void tw_htab_release(struct tw_htab *t)
{
	free(t->slots);
	t->slots = NULL;
	t->cap = t->n = 0;
}
