/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERELAY_BOND_WATCH_H
#define TERELAY_BOND_WATCH_H

#include <stdint.h>
#include <stdio.h>

/*
 * Active-backup bonds (net_bonding mode 1) change their primary only on a
 * member's link-state event, or by polling members that have no events. A
 * member that claims link-state interrupts but reports its state only when
 * asked (net_tap in DPDK 22.11) would leave the bond on a dead primary for
 * ever: the control lcore asks every TR_BOND_WATCH_MS and, when the primary's
 * link is down and another member's is up, makes that one the primary (D46).
 */
#define TR_BOND_WATCH_MS 10u

struct tr_bond_watch {
	uint16_t port[2];
	unsigned n;              /* active-backup bonds among the relay's ports */
	uint64_t period_tsc, next_tsc;
	uint64_t failovers;      /* primaries moved (telemetry /terelay/bond) */
	FILE *log;
};

/* Take the active-backup bonds among ports[0..n-1] (duplicates once). */
void tr_bond_watch_init(struct tr_bond_watch *w, const uint16_t *ports, unsigned n,
			uint64_t tsc_hz, uint64_t now_tsc, FILE *log);

/* On the control lcore, as often as it loops: one look per period. */
void tr_bond_watch_poll(struct tr_bond_watch *w, uint64_t now_tsc);

#endif /* TERELAY_BOND_WATCH_H */
