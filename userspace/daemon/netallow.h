/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The addresses the daemon must reach besides loopback: the [portal] url's
 * host (every address its name resolves to) and, for a name, the resolver's
 * name servers. systemd's unit sets them as IPAddressAllow= at each start
 * (`tunwardend --portal-addresses`, docs/operations.md).
 */
#ifndef TW_NETALLOW_H
#define TW_NETALLOW_H

#include <stdio.h>

#include "config.h"

/*
 * Print them to @out, space-separated on one line (an empty line without a
 * portal or with a loopback one). 0, or -errno with the reason on stderr
 * (a name that does not resolve).
 */
int tw_netallow_print(const struct tw_config *c, FILE *out);

#endif /* TW_NETALLOW_H */
