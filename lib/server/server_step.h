/* SPDX-License-Identifier: BSD-3-Clause
 *
 * The Teredo server role on the worker lcores (step.c). The worker hands a
 * frame here when tr_server_owns() says it is addressed to P:3544 or S:3544.
 */
#ifndef TERELAY_SERVER_STEP_H
#define TERELAY_SERVER_STEP_H

#include <rte_mbuf.h>

struct tr_lcore;

/* Consumes m: answered, forwarded or dropped with a counted reason.
 * hw: the TR_HW_* checks the NIC has done; now: the clock in ms. */
void tr_server_step(struct tr_lcore *lc, struct rte_mbuf *m, unsigned hw, uint64_t now);

#endif /* TERELAY_SERVER_STEP_H */
