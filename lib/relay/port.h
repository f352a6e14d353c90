/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERELAY_PORT_H
#define TERELAY_PORT_H

#include <stdint.h>

#include <rte_ether.h>
#include <rte_mempool.h>

/* Resolve a port given as an index ("0") or an ethdev name. -1 if none. */
int tr_port_resolve(const char *spec, uint16_t *port);

/*
 * Configure and start one port with n_rxq rx queues (RSS over them when
 * more than one) and n_txq tx queues. Returns 0, or -1 with err filled.
 */
int tr_port_start(uint16_t port, uint16_t n_rxq, uint16_t n_txq, uint16_t rx_desc,
		  uint16_t tx_desc, struct rte_mempool *pool, struct rte_ether_addr *mac,
		  char *err, size_t errlen);
void tr_port_stop(uint16_t port);

#endif /* TERELAY_PORT_H */
