/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERELAY_BOND_H
#define TERELAY_BOND_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct rte_tel_data;

/*
 * Ports that are DPDK bonding devices (net_bonding, docs/deploy.md
 * "Bonding"): what terelay does for them beyond an ordinary port.
 */

/* Whether port is a net_bonding device. */
bool tr_bond_is(uint16_t port);

/* The bond's first member port, or -1 (not a bond, or no members yet). */
int tr_bond_first_member(uint16_t port);

/* The bonding mode (BONDING_MODE_*), -1 when not a bond. */
int tr_bond_mode(uint16_t port);

/* The bonds of bonding mode `mode` among ports[0..n-1], each once, into
 * out[0..max-1]; returns how many. */
unsigned tr_bond_ports_of_mode(const uint16_t *ports, unsigned n, int mode, uint16_t *out,
			       unsigned max);

/* "active-backup", "802.3ad", ...; "?" for unknown modes. */
const char *tr_bond_mode_name(int mode);

/*
 * 802.3ad bonds send their LACPDUs from inside rte_eth_tx_burst and need a
 * burst on every bond at least every 100 ms (DPDK's bonding guide), traffic
 * or not: the control lcore makes an empty burst on its own tx queue every
 * TR_BOND_KEEPALIVE_MS. Other modes need nothing.
 */
#define TR_BOND_KEEPALIVE_MS 10u

struct tr_bond_keepalive {
	uint16_t port[2];
	unsigned n;              /* 802.3ad bonds among the relay's ports */
	uint16_t txq;            /* the control lcore's tx queue */
	uint64_t period_tsc, next_tsc;
	uint64_t bursts;         /* empty bursts made (telemetry) */
};

/* Take the 802.3ad bonds among ports[0..n-1] (duplicates once). */
void tr_bond_keepalive_init(struct tr_bond_keepalive *k, const uint16_t *ports, unsigned n,
			    uint16_t txq, uint64_t tsc_hz, uint64_t now_tsc);

/* On the control lcore, as often as it loops: the empty bursts when due. */
static inline void tr_bond_keepalive_poll(struct tr_bond_keepalive *k, uint64_t now_tsc);

/* One line per bond for --check-config: mode, members, primary. */
void tr_bond_print(FILE *out, uint16_t port);

/* Telemetry: the bond's mode, members, active members and, for 802.3ad,
 * each member's LACP actor and partner state, into the dict d. */
int tr_bond_describe(uint16_t port, struct rte_tel_data *d);

#include <rte_ethdev.h>

static inline void tr_bond_keepalive_poll(struct tr_bond_keepalive *k, uint64_t now_tsc)
{
	if (k->n == 0 || now_tsc < k->next_tsc)
		return;
	for (unsigned i = 0; i < k->n; i++)
		rte_eth_tx_burst(k->port[i], k->txq, NULL, 0);
	k->bursts++;
	k->next_tsc = now_tsc + k->period_tsc;
}

#endif /* TERELAY_BOND_H */
