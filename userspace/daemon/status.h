/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The node's state in one JSON object: the answer to the "status" op and,
 * replaced atomically each second, the status file ([node] status_file).
 */
#ifndef TW_STATUS_H
#define TW_STATUS_H

#include <jansson.h>

struct tw_daemon;

/* {"ok":true, ...}; NULL only when out of memory. */
json_t *tw_status_json(struct tw_daemon *d);
/* Write the status file, when one is configured. */
void tw_status_write(struct tw_daemon *d);

#endif /* TW_STATUS_H */
