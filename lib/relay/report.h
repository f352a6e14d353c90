/* SPDX-License-Identifier: BSD-3-Clause
 *
 * What the relay says about itself: the exit summary, the periodic log line
 * and the JSON stats file (the same names as telemetry).
 */
#ifndef TERELAY_REPORT_H
#define TERELAY_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "relay.h"

/* Sum of every lcore's counters plus the control lcore's gauges. */
struct tr_snapshot {
	struct tr_counters sum;
	uint64_t peers_current;
	uint64_t peers_pending;
	uint64_t queued_now;
	uint64_t reasm_held;     /* IPv4 fragments waiting for the rest */
	uint64_t in_flight;      /* in rings between lcores */
	uint64_t workers_stalled;
	/* Lost in the device before terelay saw them (not in rx_packets). */
	uint64_t nic_rx_missed;      /* imissed: rx ring full */
	uint64_t nic_rx_errors;      /* ierrors + rx_nombuf */
	uint64_t nic_tx_errors;      /* oerrors */
	uint64_t rss_peak_kb;    /* resident memory high-water mark of the process */
	/* Packets each worker lcore received, in worker order: shows that a
	 * multi-worker run spread its load (tests read it from STATS.json). */
	unsigned n_workers;
	uint64_t worker_rx[RTE_MAX_LCORE];
	bool accounting_ok;
};

void tr_snapshot_take(const struct tr_relay *r, struct tr_snapshot *s);
void tr_report_summary(const struct tr_snapshot *s, FILE *out);
void tr_report_line(const struct tr_snapshot *s, FILE *out);
int tr_report_json(const struct tr_snapshot *s, const char *path);

#endif /* TERELAY_REPORT_H */
