/* SPDX-License-Identifier: BSD-3-Clause
 *
 * Control-lcore internals shared by control.c, nexthop.c and negcache.c.
 */
#ifndef TERELAY_CONTROL_PRIV_H
#define TERELAY_CONTROL_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_hash.h>
#include <rte_ip_frag.h>

#include "pending.h"
#include "policy.h"
#include "relay.h"

#define TR_SERVER_BUCKETS 4096
#define TR_WATCHDOG_PERIOD_MS 100
#define TR_NEXTHOP_RETRY_MS 100   /* bubble retry while the server's MAC is being resolved */
#define TR_WORKER_STALL_MS 500    /* a worker polls every few us; 500 ms silent is stuck */
#define TR_REASM_BUCKETS 1024
#define TR_REASM_BUCKET_ENTRIES 8
#define TR_REASM_MAX_FLOWS 4096
#define TR_REASM_TIMEOUT_MS 5000
#define TR_ARP_PROBE_SLOTS 1024   /* on-link ARP requests, one per IP per second */    /* per-server bubble budgets, hashed (collisions share) */

/*
 * Negative cache: peers that failed verification, until the end of their
 * 300 s bubble window (RFC 4380 §5.2.6 "4 bubbles in 300 s" must hold after
 * the entry is removed). Bounded: the oldest record is overwritten.
 */
struct tr_negcache {
	struct rte_hash *hash;       /* addr -> slot */
	uint8_t (*addr)[16];
	uint64_t *until_ms;
	uint32_t cap, next;
};

int tr_negcache_init(struct tr_negcache *n, uint32_t cap);
void tr_negcache_free(struct tr_negcache *n);
void tr_negcache_add(struct tr_negcache *n, const uint8_t addr[16], uint64_t until_ms);
bool tr_negcache_active(struct tr_negcache *n, const uint8_t addr[16], uint64_t now_ms);

struct tr_control {
	struct tr_relay *r;
	struct tr_lcore *lc;
	uint64_t now;
	uint64_t last_sweep_ms;
	struct tr_pend_pool pend;
	struct tr_negcache neg;
	struct tr_bucket bubble_bucket;
	struct tr_bucket icmp_bucket;
	struct tr_bucket server_bucket[TR_SERVER_BUCKETS];
	uint8_t bubble_key[16];
	/* IPv4 reassembly before any Teredo parsing (notes §3(f)); bounded
	 * table, fragments held there are in the accounting as reasm_held. */
	struct rte_ip_frag_tbl *frag_tbl;
	struct rte_ip_frag_death_row death_row;
	uint32_t reasm_held;
	uint32_t reasm_flows;        /* datagrams in reassembly at once, bounded by the mbuf pool */
	uint32_t queue_cap;          /* global queued-packet cap, bounded by the mbuf pool */
	uint64_t last_watchdog_ms;
	uint64_t neigh4_probe_ms, neigh6_probe_ms;
	struct { uint32_t ip; uint64_t ms; } arp_probe[TR_ARP_PROBE_SLOTS];
	uint64_t gw4_learned_ms, gw6_learned_ms;
	uint64_t announced_failovers;   /* bond_watch failovers already announced (D46) */
};

/* nexthop.c: answer ARP/NS for the relay, resolve the gateways. */
void tr_neigh_arp(struct tr_control *c, struct rte_mbuf *m, const struct tr_classified *cl);
void tr_neigh_nd(struct tr_control *c, struct rte_mbuf *m, const struct tr_classified *cl);
void tr_neigh_tick(struct tr_control *c);
/* Next-hop MAC toward ip; on a miss (on-link mode) an ARP request goes out
 * (at most one per IP per second) and 0 is returned. */
uint64_t tr_nh4_resolve(struct tr_control *c, uint32_t ip);
void tr_nh4_learn(struct tr_control *c, uint32_t ip, const uint8_t mac[6]);

/* control.c, for state.c: resume the verification of a restored pending
 * peer (its bubbles and last_tx already set) started at started_ms. */
bool tr_control_resume_verify(struct tr_control *c, struct tr_peer_ref ref, uint64_t started_ms);

#endif /* TERELAY_CONTROL_PRIV_H */
