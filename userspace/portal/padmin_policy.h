/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The admin command line's policy commands (`tunwarden-portal ...`): add,
 * disable, enable, revoke and confirm subjects; add, edit and remove
 * profiles, their allowlists and tenants; show and export the policy. Each
 * command is one transaction in the policy store (polstore.h) and pokes the
 * running server, so nodes have the change within milliseconds.
 */
#ifndef TW_PADMIN_POLICY_H
#define TW_PADMIN_POLICY_H

#include <stdbool.h>
#include <stdio.h>

struct tw_polstore;

/* Whether @cmd (argv[0] of the subcommand) is one of these commands. */
bool tw_padmin_policy_has(const char *cmd);
/* Run it: 0, or 1 with a message on @err naming what was wrong (usage: 2). */
int tw_padmin_policy_run(struct tw_polstore *ps, int argc, char **argv, FILE *out, FILE *err);
/* One line a command, for `tunwarden-portal help`. */
void tw_padmin_policy_usage(FILE *out);

#endif /* TW_PADMIN_POLICY_H */
