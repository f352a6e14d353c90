/* SPDX-License-Identifier: BSD-3-Clause
 *
 * Prometheus /metrics endpoint: libmicrohttpd serves it from its own thread
 * (never an lcore), built from counter snapshots on each scrape. Metric
 * names and labels: docs/telemetry.md.
 */
#ifndef TERELAY_PROMETHEUS_H
#define TERELAY_PROMETHEUS_H

#include <stddef.h>
#include <stdio.h>

#include "relay.h"

/*
 * Start the endpoint on r->cfg.prometheus ("ipv4:port" or "[ipv6]:port");
 * does nothing when that is empty. Returns 0, or -1 with err filled (e.g.
 * the address is in use).
 */
int tr_prom_start(struct tr_relay *r, char *err, size_t errlen);

/* Stop serving and join the HTTP thread. Safe when not started. */
void tr_prom_stop(void);

/* Write the exposition text for r to out (also used by tests and tools). */
void tr_prom_write(const struct tr_relay *r, FILE *out);

#endif /* TERELAY_PROMETHEUS_H */
