/* SPDX-License-Identifier: BSD-3-Clause
 *
 * DPDK telemetry commands (/terelay/...) and packet capture (rte_pdump) for
 * a running relay. Commands run on the EAL telemetry thread, outside the
 * lcores; see docs/telemetry.md for every command and key.
 */
#ifndef TERELAY_TELEMETRY_H
#define TERELAY_TELEMETRY_H

#include <stddef.h>

#include "relay.h"

/*
 * Register the /terelay/ commands for relay r and initialise rte_pdump so
 * that dpdk-dumpcap can attach (needs shared config; without it capture is
 * simply unavailable and a notice is printed). Call after the peer table
 * and the control state exist. Returns 0, or -1 with err filled.
 */
int tr_telemetry_init(struct tr_relay *r, char *err, size_t errlen);

/* Detach the commands from r (they answer "not running" afterwards: DPDK
 * 22.11 cannot unregister them) and stop rte_pdump. Call before r's
 * peer table and control state are freed. Safe when init was not called. */
void tr_telemetry_fini(void);

#endif /* TERELAY_TELEMETRY_H */
