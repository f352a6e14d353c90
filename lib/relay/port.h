/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERELAY_PORT_H
#define TERELAY_PORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <rte_ether.h>
#include <rte_mempool.h>

#include "config.h"
#include "profile.h"

/* Resolve a port given as an index ("0") or an ethdev name. -1 if none. */
int tr_port_resolve(const char *spec, uint16_t *port);

/* What one port should become. */
struct tr_port_req {
	uint16_t n_rxq;                /* one per worker (RSS over them when > 1) */
	uint16_t n_txq;                /* one per worker + one for control */
	uint16_t rx_desc, tx_desc;     /* from the relay config (a profile may replace them) */
	int ctrl_rxq;                  /* rx queue the control lcore polls, -1 = none */
	bool teredo_side, native_side; /* which rules apply to this port */
	uint32_t relay_ipv4;           /* host order, for the flow rules */
	uint16_t relay_port;
	uint8_t relay_ipv6[16];
	struct tr_vlan vlan[2];        /* tags of the sides this port carries (enum tr_side; 0 = none) */
	const struct tr_profile *prof; /* NULL = built-in defaults */
	bool dry_run;                  /* --check-config: validate flows, do not create them */
};

/* What it became (for --check-config). */
struct tr_port_result {
	char driver[64];
	int socket;
	uint16_t max_rxq, max_txq;
	uint16_t rx_desc, tx_desc;
	uint64_t rss_hf, rss_hf_wanted;
	uint64_t rx_offloads, tx_offloads;
	unsigned ptypes_missing;       /* ARP, IPv4, IPv6, UDP the PMD does not report */
	unsigned flows_ok, flows_wanted;
	unsigned fallbacks;            /* log lines written about things it cannot do */
};

/*
 * Configure and start a port as req asks, applying the profile: every
 * requested thing the device cannot do is one "terelay: port N (driver): ..."
 * line on log (stderr when NULL) and a fallback, never an error — except
 * too few queues. Returns 0, or -1 with err filled.
 */
int tr_port_setup(uint16_t port, const struct tr_port_req *req, struct rte_mempool *pool,
		  struct rte_ether_addr *mac, struct tr_port_result *res, FILE *log,
		  char *err, size_t errlen);

/*
 * The relay's profile and identity, set once after the configuration is
 * loaded; tr_port_start uses them (NULL profile = built-in defaults).
 */
void tr_port_set_context(const struct tr_profile *prof, const struct tr_config *cfg);

/*
 * Configure and start one port with n_rxq rx queues (RSS over them when
 * more than one) and n_txq tx queues, with the context's profile. Returns 0,
 * or -1 with err filled.
 */
int tr_port_start(uint16_t port, uint16_t n_rxq, uint16_t n_txq, uint16_t rx_desc,
		  uint16_t tx_desc, struct rte_mempool *pool, struct rte_ether_addr *mac,
		  char *err, size_t errlen);
/* The port was configured with IPv4 and UDP tx checksum offload (both):
 * encapsulation then leaves the checksums to the NIC. */
bool tr_port_tx_cksum_offload(uint16_t port);
void tr_port_stop(uint16_t port);
/* Whether a port configured with these offloads (rte_eth_conf rxmode /
 * txmode) strips / inserts the tags of v itself (D41). */
bool tr_port_vlan_rx_nic(uint64_t rx_offloads, const struct tr_vlan *v);
bool tr_port_vlan_tx_nic(uint64_t tx_offloads, const struct tr_vlan *v);
/* The tx offloads port was configured with (0 when unknown). */
uint64_t tr_port_tx_offloads(uint16_t port);
/* One line per tagged side: its tags, and who strips / inserts them. */
void tr_port_print_vlan(FILE *out, const char *side, const struct tr_vlan *v, bool rx_nic,
			bool tx_nic);
/* Rx queues to configure on a port for n_workers workers and n_txq tx
 * queues: n_workers, or every queue where the device spreads frames over
 * all of them by itself (af_packet, tap); workers poll them round robin. */
uint16_t tr_port_rx_queues(uint16_t port, uint16_t n_workers, uint16_t n_txq);

/* NUMA socket of a port; a port without one (vdevs) gets the caller's. */
int tr_port_socket(uint16_t port);

/*
 * Warn (one line each, to log or stderr) about every worker lcore on another
 * socket than a port it polls. Returns the number of such workers.
 */
unsigned tr_numa_check_workers(const unsigned *lcores, unsigned n, uint16_t port_teredo,
			       uint16_t port_native, FILE *log);

#endif /* TERELAY_PORT_H */
