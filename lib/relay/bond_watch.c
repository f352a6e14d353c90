/* SPDX-License-Identifier: BSD-3-Clause
 *
 * Active-backup failover where the bond would not do it itself (bond_watch.h, D46).
 */
#include <string.h>

#include <rte_common.h>
#include <rte_eth_bond.h>
#include <rte_ethdev.h>

#include "bond.h"
#include "bond_watch.h"

void tr_bond_watch_init(struct tr_bond_watch *w, const uint16_t *ports, unsigned n,
			uint64_t tsc_hz, uint64_t now_tsc, FILE *log)
{
	memset(w, 0, sizeof(*w));
	w->period_tsc = tsc_hz * TR_BOND_WATCH_MS / 1000;
	w->next_tsc = now_tsc;
	w->log = log;
	w->n = tr_bond_ports_of_mode(ports, n, BONDING_MODE_ACTIVE_BACKUP, w->port, RTE_DIM(w->port));
}

static bool link_up(uint16_t port)
{
	struct rte_eth_link l;

	return rte_eth_link_get_nowait(port, &l) == 0 && l.link_status == RTE_ETH_LINK_UP;
}

static void watch_one(struct tr_bond_watch *w, uint16_t bond)
{
	uint16_t m[RTE_MAX_ETHPORTS];
	int primary = rte_eth_bond_primary_get(bond), n;

	if (primary < 0 || link_up((uint16_t)primary))
		return;
	if ((n = rte_eth_bond_active_slaves_get(bond, m, RTE_MAX_ETHPORTS)) <= 0)
		return;
	for (int i = 0; i < n; i++) {
		if (m[i] == primary || !link_up(m[i]))
			continue;
		if (rte_eth_bond_primary_set(bond, m[i]) == 0) {
			w->failovers++;
			if (w->log != NULL) {
				fprintf(w->log, "terelay: bond port %u: primary port %d link down, "
					"port %u is the primary now\n", bond, primary, m[i]);
				fflush(w->log);
			}
		}
		return;
	}
}

void tr_bond_watch_poll(struct tr_bond_watch *w, uint64_t now_tsc)
{
	if (w->n == 0 || now_tsc < w->next_tsc)
		return;
	for (unsigned i = 0; i < w->n; i++)
		watch_one(w, w->port[i]);
	w->next_tsc = now_tsc + w->period_tsc;
}
