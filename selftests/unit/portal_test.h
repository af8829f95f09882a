/* SPDX-License-Identifier: GPL-2.0-only */
/* Helpers shared by the portal's unit tests (defined in portal_polstore.c). */
#ifndef TW_PORTAL_TEST_H
#define TW_PORTAL_TEST_H

#include <stdbool.h>
#include <stddef.h>

struct tw_polstore;
struct tw_policy;

/* A fresh temp dir in @dir and the path of a database in it (malloc'd). */
char *tw_pt_tmpdb(char *dir, size_t dirlen);
void tw_pt_rmdb(const char *dir);
/* Same content (by id: numbers may differ). */
bool tw_pt_policy_eq(const struct tw_policy *a, const struct tw_policy *b);
/* Bring *@node to the store's version as a node does, checked against a fresh snapshot. */
int tw_pt_sync(struct tw_polstore *ps, struct tw_policy **node);

#endif /* TW_PORTAL_TEST_H */
