/* SPDX-License-Identifier: BSD-3-Clause
 *
 * The relay's shared context and the two lcore roles.
 *
 *  worker.c   the fast path: classify, look up, encapsulate/decapsulate,
 *             hand the rare cases to control. Lock-free, no RMW atomics.
 *  control.c  the only writer of the peer table: trust, queues, bubbles,
 *             timers, ARP/ND, ICMPv6 errors.
 */
#ifndef TERELAY_RELAY_H
#define TERELAY_RELAY_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_hash.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "bond.h"
#include "bond_watch.h"
#include "clock.h"
#include "config.h"
#include "counters.h"
#include "peer_table.h"
#include "policy.h"
#include "server.h"
#include "teredo.h"

#define TR_BURST_MAX 64
#define TR_SRV_BUCKETS 4096       /* per lcore, power of two */

/* A transmit target: a NIC queue, or (replay) a ring to the single writer. */
struct tr_txq {
	uint16_t port;
	uint16_t queue;
	struct rte_ring *ring;
	uint16_t n;
	struct rte_mbuf *buf[TR_BURST_MAX];
};

struct tr_relay;

/* Per-lcore state; each lcore writes only its own. */
struct tr_lcore {
	struct tr_counters cnt;
	struct tr_relay *relay;
	unsigned lcore_id;
	unsigned worker_idx;            /* QSBR thread id and queue index */
	bool is_worker;
	uint16_t rxq;                   /* normal mode: rx queue on each port */
	struct rte_ring *rx_ring;       /* replay mode: packets to process */
	struct tr_txq txq[2];
	struct tr_txq *tx_teredo;       /* &txq[0] */
	struct tr_txq *tx_native;       /* &txq[1], or &txq[0] when one port carries both */
	uint16_t ip_id;                 /* RFC 6864: per-lcore IPv4 ID (DF clear) */
	bool encap_ready;               /* encap set from the relay's identity at first use */
	struct tr_encap_tmpl encap;
	uint64_t processed;             /* replay lockstep: packets handled */
	uint64_t heartbeat;             /* incremented every loop, read by control */
	uint64_t last_flush_tsc;
	uint32_t want_arp;              /* worker -> control: an unresolved IPv4 next hop */
	/* Server role abuse limits, this lcore's own (TR_SRV_BUCKETS each). */
	struct tr_bucket *srv_rs_bkt;
	struct tr_bucket *srv_fwd_bkt;
	/* Written by control only: the worker's liveness as control sees it. */
	bool stalled;
	uint64_t hb_seen;
	uint64_t hb_seen_ms;
} __rte_cache_aligned;

struct tr_control;
struct tr_state;

struct tr_relay {
	struct tr_config cfg;
	struct tr_relay_id id;
	/* The server role (cfg.server_enabled): its identity and RA template,
	 * read-only after init. */
	bool srv_on;
	bool relay_on;                  /* cfg.relay_enabled: false = server-only box */
	struct tr_server_id srv;
	struct tr_ra_tmpl ra_tmpl;
	uint16_t port_teredo, port_native;
	uint16_t nrxq_teredo, nrxq_native;       /* rx queues configured (>= n_workers) */
	struct rte_ether_addr mac_teredo, mac_native;
	bool tx_cksum_offload;          /* the Teredo port computes IPv4/UDP checksums */
	/* VLAN tags of each side (enum tr_side), read-only after init (D40).
	 * Untagged sides (the default) keep the untagged code: the worker runs
	 * tr_l2_check only when l2_tagged, or on a frame the classifier found
	 * tagged; every frame sent gets its side's header from tr_l2_put. */
	struct tr_vlan vlan[2];
	bool l2_tagged;                 /* a side is tagged */
	struct tr_vlan tx_vlan[2];      /* tags software writes (none where the NIC inserts them) */
	uint8_t tx_l2_len[2];           /* Ethernet header software writes: 14, 18 or 22 */
	uint64_t tx_vlan_ol[2];         /* RTE_MBUF_F_TX_VLAN (| _QINQ) where the NIC inserts */
	bool tx_l2_tagged[2];           /* either of the two: the rewrites take the tagged path */
	uint16_t tx_tci[2], tx_tci_outer[2];
	bool replay_nic_vlan;           /* replay: the port behaves as the profile's NIC (strip, insert) */
	bool replay_rx_strip[2];        /* ... stripping one (802.1Q) / two (QinQ) tags on receipt */
	struct rte_mempool *pool;
	struct rte_ring *to_ctrl;                /* workers -> control, MP/SC */
	struct rte_ring *replay_tx;              /* replay: everything sent, MP/SC */
	struct tr_peer_table *peers;
	struct rte_rcu_qsbr *qsbr;
	struct tr_clock clock;
	/* Next-hop MACs as 48-bit integers (0 = unresolved); control writes,
	 * workers read with one load. */
	uint64_t gw4_mac, gw6_mac;
	/* IPv4 on-link mode (no ipv4_gateway): per-destination MACs learned by
	 * control (ARP, and the source of every packet that proves a mapping);
	 * workers read them lock-free. */
	bool v4_on_link;
	struct rte_hash *neigh4;
	bool replay;
	uint32_t replay_drain_ms;               /* replay: clock runs on after the capture */
	unsigned n_workers;
	unsigned control_lcore;
	unsigned worker_lcore[RTE_MAX_LCORE];
	struct tr_lcore lc[RTE_MAX_LCORE];
	struct tr_control *ctrl;
	struct tr_state *state;                 /* [state] file: state.c, NULL when off */
	struct tr_bond_keepalive bond_ka;       /* 802.3ad bonds: control's empty tx bursts */
	struct tr_bond_watch bond_watch;        /* active-backup bonds: primary failover (D46) */
	uint64_t wall_base_ms;                  /* wall clock at the clock's base (replay: first frame) */
	volatile bool stop;
};

static inline uint64_t tr_mac_to_u64(const struct rte_ether_addr *a)
{
	uint64_t v = 0;

	for (int i = 0; i < 6; i++)
		v = v << 8 | a->addr_bytes[i];
	return v;
}

static inline void tr_u64_to_mac(uint64_t v, struct rte_ether_addr *a)
{
	uint64_t be = rte_cpu_to_be_64(v << 16);   /* the 6 bytes first, wire order */

	memcpy(a->addr_bytes, &be, 6);
}

/* MAC of the IPv4 next hop toward ip (host order); 0 = unresolved. */
static inline uint64_t tr_nh4_mac(const struct tr_relay *r, uint32_t ip)
{
	void *data;

	if (!r->v4_on_link)
		return __atomic_load_n(&r->gw4_mac, __ATOMIC_RELAXED);
	if (rte_hash_lookup_data(r->neigh4, &ip, &data) < 0)
		return 0;
	return (uint64_t)(uintptr_t)data;
}

/* relay.c: the identity the workers read (addresses, roles, gateway MACs)
 * from r->cfg; part of tr_relay_init, and what tr_bench needs without it. */
void tr_relay_fill_id(struct tr_relay *r);

/* relay.c: the tags of each side on transmit, nic_insert[side] when the
 * NIC inserts them (VLAN/QinQ insert offload), software otherwise. Part of
 * tr_relay_fill_id with software everywhere. */
void tr_relay_set_tx_vlan(struct tr_relay *r, const bool nic_insert[2]);

/* The Ethernet header of side s at f, for a frame in m: the side's MAC, its
 * tags written here or left to the NIC (mbuf fields). Returns the header
 * length, r->tx_l2_len[s]. */
static inline size_t tr_l2_put(const struct tr_relay *r, enum tr_side s, struct rte_mbuf *m,
			       uint8_t *f, const uint8_t dst[6], uint16_t ethertype)
{
	const uint8_t *src = s == TR_SIDE_TEREDO ? r->mac_teredo.addr_bytes : r->mac_native.addr_bytes;

	if (unlikely(r->tx_vlan_ol[s] != 0)) {
		m->ol_flags |= r->tx_vlan_ol[s];
		m->vlan_tci = r->tx_tci[s];
		m->vlan_tci_outer = r->tx_tci_outer[s];
	}
	if (likely(r->tx_vlan[s].ntags == 0))
		return tr_build_eth(f, dst, src, ethertype);
	return tr_build_eth_vlan(f, &r->tx_vlan[s], dst, src, ethertype);
}

/* relay.c: everything but the ports. Before the call: cfg, replay, and the
 * port ids (any value when there are no ports: replay rings carry all tx).
 * Returns 0, or -1 with a message on stderr; tr_relay_fini undoes it. */
int tr_relay_init(struct tr_relay *r);
void tr_relay_fini(struct tr_relay *r);

/* tx.c: buffered transmit; counts what leaves and what the NIC refuses. */
void tr_tx(struct tr_lcore *lc, struct tr_txq *q, struct rte_mbuf *m);
void tr_tx_flush(struct tr_lcore *lc, struct tr_txq *q);
void tr_tx_flush_all(struct tr_lcore *lc);

/* Shared encapsulation: turns an mbuf holding Ethernet + native IPv6
 * (ip6_off, ip6_len) into Ethernet + IPv4/UDP from the relay's service
 * address to (ip, port). Returns 0, or -1 (headroom) with m untouched. */
int tr_encap_mbuf(struct tr_lcore *lc, struct rte_mbuf *m, uint16_t ip6_off, uint16_t ip6_len,
		  uint32_t ip, uint16_t port, uint64_t dst_mac);
/* Turn an mbuf holding a Teredo frame into Ethernet + the inner IPv6. */
void tr_decap_mbuf(struct tr_lcore *lc, struct rte_mbuf *m, uint16_t ip6_off, uint16_t ip6_len);

/* worker.c */
void tr_worker_burst(struct tr_lcore *lc, struct rte_mbuf **pkts, uint16_t n);
int tr_worker_main(void *arg);

/* control.c */
struct tr_control *tr_control_create(struct tr_relay *r);
void tr_control_free(struct tr_control *c);
/* Handle packets handed over (workers' ring or inline). */
void tr_control_handle(struct tr_control *c, struct rte_mbuf **pkts, unsigned n);
/* Timers, expiry sweep, neighbour resolution due at the current clock. */
void tr_control_tick(struct tr_control *c, bool full_sweep);
/* Replay: the earliest time after the last tick at which a tick has work —
 * the next peer timer (bubble retry, give-up), or the housekeeping period
 * (sweep, reassembly and neighbour time-outs). *peer_timer tells which. */
#define TR_CONTROL_PERIOD_MS 100u
uint64_t tr_control_next_due(const struct tr_control *c, bool *peer_timer);
/* Drain the workers' ring once; returns packets handled. */
unsigned tr_control_poll_ring(struct tr_control *c);
/* One control iteration (ring, timers, tx); returns packets handled. */
unsigned tr_control_poll(struct tr_control *c);
struct tr_lcore *tr_control_lcore(struct tr_control *c);
uint32_t tr_control_pending_count(const struct tr_control *c);
uint32_t tr_control_queued_count(const struct tr_control *c);
uint32_t tr_control_reasm_held(const struct tr_control *c);
/* Workers whose heartbeat has not moved for TR_WORKER_STALL_MS. */
unsigned tr_control_stalled_workers(const struct tr_control *c);

#endif /* TERELAY_RELAY_H */
