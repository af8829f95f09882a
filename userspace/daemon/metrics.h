/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Prometheus text exposition on a loopback address ([metrics] listen): one
 * short HTTP/1.0 answer per connection, whatever was asked. Node-wide
 * figures only: a per-client series for 100k clients belongs in the record
 * stream.
 */
#ifndef TW_METRICS_H
#define TW_METRICS_H

struct tw_daemon;

/* Listen and register with the loop; 0 also when metrics are off. -errno. */
int tw_metrics_open(struct tw_daemon *d);
void tw_metrics_close(struct tw_daemon *d);

#endif /* TW_METRICS_H */
