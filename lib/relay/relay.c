/* SPDX-License-Identifier: BSD-3-Clause
 *
 * The relay's shared state without its ports: mbufs, rings, lcore roles,
 * QSBR, next-hop and peer tables, control state. The application adds the
 * ports around it; test harnesses (the whole-path fuzzer) feed mbufs to the
 * same worker and control functions with no device at all.
 */
#include <stdio.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_hash.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include "port.h"
#include "relay.h"

void tr_relay_fill_id(struct tr_relay *r)
{
	const struct tr_config *c = &r->cfg;

	r->id.ipv4 = c->ipv4;
	r->id.port = c->port;
	memcpy(r->id.ipv6, c->ipv6, 16);
	r->id.mtu = c->mtu;
	r->id.served = c->served;
	r->id.n_served = c->n_served;
	r->srv_on = c->server_enabled;
	r->relay_on = c->relay_enabled;
	if (r->srv_on) {
		tr_server_id_init(&r->srv, c->server_primary, c->server_secondary, c->server_mtu);
		tr_ra_tmpl_init(&r->ra_tmpl, &r->srv);
		r->id.arp_extra[0] = c->server_primary;
		r->id.arp_extra[1] = c->server_secondary;
	}
	r->l2_tagged = false;
	for (int i = 0; i < 2; i++) {
		tr_config_vlan(c, (enum tr_side)i, &r->vlan[i]);
		r->l2_tagged = r->l2_tagged || r->vlan[i].ntags != 0;
	}
	tr_relay_set_tx_vlan(r, (const bool[2]){ false, false });
	if (c->ipv4_gateway_mac_set) {
		struct rte_ether_addr a;

		memcpy(a.addr_bytes, c->ipv4_gateway_mac, 6);
		r->gw4_mac = tr_mac_to_u64(&a);
	}
	if (c->ipv6_gateway_mac_set) {
		struct rte_ether_addr a;

		memcpy(a.addr_bytes, c->ipv6_gateway_mac, 6);
		r->gw6_mac = tr_mac_to_u64(&a);
	}
}

void tr_relay_set_tx_vlan(struct tr_relay *r, const bool nic_insert[2])
{
	for (int i = 0; i < 2; i++) {
		const struct tr_vlan *v = &r->vlan[i];
		bool nic = nic_insert[i] && v->ntags != 0;

		memset(&r->tx_vlan[i], 0, sizeof(r->tx_vlan[i]));
		r->tx_vlan_ol[i] = 0;
		r->tx_tci[i] = r->tx_tci_outer[i] = 0;
		if (nic && v->ntags == 1) {
			r->tx_vlan_ol[i] = RTE_MBUF_F_TX_VLAN;
			r->tx_tci[i] = v->vid[0];
		} else if (nic) {
			/* DPDK: vlan_tci_outer the outer tag, vlan_tci the inner. */
			r->tx_vlan_ol[i] = RTE_MBUF_F_TX_QINQ | RTE_MBUF_F_TX_VLAN;
			r->tx_tci_outer[i] = v->vid[0];
			r->tx_tci[i] = v->vid[1];
		} else {
			r->tx_vlan[i] = *v;
		}
		r->tx_l2_len[i] = (uint8_t)(TR_ETH_HLEN + TR_VLAN_HLEN * r->tx_vlan[i].ntags);
		r->tx_l2_tagged[i] = v->ntags != 0;
	}
	/* Encapsulation templates are rebuilt from these on next use. */
	for (unsigned i = 0; i < RTE_MAX_LCORE; i++)
		r->lc[i].encap_ready = false;
}

static void txq_init(struct tr_txq *q, uint16_t port, uint16_t queue, struct rte_ring *ring)
{
	q->port = port;
	q->queue = queue;
	q->ring = ring;
	q->n = 0;
}

/* Lcores, rings and queues. Returns 0 or -1 with a message printed. */
static int setup_lcores(struct tr_relay *r)
{
	unsigned id, k = 0;
	char name[RTE_RING_NAMESIZE];

	r->control_lcore = rte_get_main_lcore();
	/* Every enabled lcore but the main one is a worker (RTE_LCORE_FOREACH_WORKER). */
	for (id = rte_get_next_lcore(-1, 1, 0); id < RTE_MAX_LCORE; id = rte_get_next_lcore(id, 1, 0))
		r->worker_lcore[k++] = id;
	r->n_workers = k;
	if (!r->replay && r->n_workers == 0) {
		fprintf(stderr, "terelay: needs at least one worker lcore besides the main lcore (e.g. -l 0,1)\n");
		return -1;
	}
	for (unsigned i = 0; i < RTE_MAX_LCORE; i++) {
		struct tr_lcore *lc = &r->lc[i];

		lc->relay = r;
		lc->lcore_id = i;
		lc->tx_teredo = &lc->txq[0];
		lc->tx_native = r->port_teredo == r->port_native ? &lc->txq[0] : &lc->txq[1];
		lc->encap_ready = false;        /* identity and MAC may differ from a past run */
	}
	for (unsigned w = 0; w < r->n_workers; w++) {
		struct tr_lcore *lc = &r->lc[r->worker_lcore[w]];

		lc->is_worker = true;
		lc->worker_idx = w;
		lc->rxq = (uint16_t)w;
		if (r->replay) {
			snprintf(name, sizeof(name), "tr_rx_%u", w);
			lc->rx_ring = rte_ring_create(name, 1024, (int)rte_lcore_to_socket_id(r->worker_lcore[w]),
						      RING_F_SP_ENQ | RING_F_SC_DEQ);
			if (lc->rx_ring == NULL)
				return -1;
		}
		txq_init(lc->tx_teredo, r->port_teredo, (uint16_t)w, r->replay_tx);
		txq_init(lc->tx_native, r->port_native, (uint16_t)w, r->replay_tx);
	}
	struct tr_lcore *ctl = &r->lc[r->control_lcore];
	/* The control lcore has its own tx queue after the workers'. */
	txq_init(ctl->tx_teredo, r->port_teredo, (uint16_t)r->n_workers, r->replay_tx);
	txq_init(ctl->tx_native, r->port_native, (uint16_t)r->n_workers, r->replay_tx);
	return 0;
}

int tr_relay_init(struct tr_relay *r)
{
	/* What the workers touch lives on their port's socket; control's on the main lcore's. */
	int socket = (int)rte_socket_id();
	int wsock = rte_eth_dev_is_valid_port(r->port_teredo) ? tr_port_socket(r->port_teredo) : socket;

	tr_clock_init(&r->clock, r->replay);
	tr_relay_fill_id(r);

	r->pool = rte_pktmbuf_pool_create("tr_mbufs", r->cfg.mbufs, 256, 0,
					  RTE_MBUF_DEFAULT_BUF_SIZE, wsock);
	r->to_ctrl = rte_ring_create("tr_to_ctrl", r->cfg.ring_size, socket, RING_F_SC_DEQ);
	if (r->replay)
		r->replay_tx = rte_ring_create("tr_replay_tx", 16384, socket, RING_F_SC_DEQ);
	if (r->pool == NULL || r->to_ctrl == NULL || (r->replay && r->replay_tx == NULL)) {
		fprintf(stderr, "terelay: out of memory for mbufs/rings: %s\n", rte_strerror(rte_errno));
		return -1;
	}
	if (setup_lcores(r) != 0)
		return -1;
	if (rte_eth_dev_is_valid_port(r->port_teredo))
		tr_numa_check_workers(r->worker_lcore, r->n_workers, r->port_teredo, r->port_native, NULL);
	if (r->n_workers > 0) {
		size_t sz = rte_rcu_qsbr_get_memsize(r->n_workers);

		r->qsbr = rte_zmalloc_socket("tr_qsbr", sz, RTE_CACHE_LINE_SIZE, wsock);
		if (r->qsbr == NULL || rte_rcu_qsbr_init(r->qsbr, r->n_workers) != 0)
			return -1;
	}
	r->v4_on_link = r->cfg.ipv4_gateway == 0 && !r->cfg.ipv4_gateway_mac_set;
	if (r->v4_on_link) {
		struct rte_hash_parameters hp = {
			.name = "tr_neigh4",
			.entries = 4096,
			.key_len = sizeof(uint32_t),
			.socket_id = wsock,
			.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF,
		};
		r->neigh4 = rte_hash_create(&hp);
		if (r->neigh4 == NULL) {
			fprintf(stderr, "terelay: cannot allocate the neighbour table\n");
			return -1;
		}
	}
	r->peers = tr_peer_table_create("tr_peers", r->cfg.peers_max, r->cfg.shards, wsock, r->qsbr);
	if (r->peers == NULL) {
		fprintf(stderr, "terelay: cannot allocate the peer table (%u peers): %s\n",
			r->cfg.peers_max, rte_strerror(rte_errno));
		return -1;
	}
	if (r->srv_on) {
		/* The lcores that run worker bursts: the workers, and control
		 * (replay without workers runs them inline). */
		for (unsigned w = 0; w <= r->n_workers; w++) {
			struct tr_lcore *lc = &r->lc[w < r->n_workers ? r->worker_lcore[w] : r->control_lcore];
			size_t sz = TR_SRV_BUCKETS * sizeof(struct tr_bucket);

			lc->srv_rs_bkt = rte_zmalloc_socket("tr_srv_rs", sz, RTE_CACHE_LINE_SIZE, wsock);
			lc->srv_fwd_bkt = rte_zmalloc_socket("tr_srv_fwd", sz, RTE_CACHE_LINE_SIZE, wsock);
			if (lc->srv_rs_bkt == NULL || lc->srv_fwd_bkt == NULL) {
				fprintf(stderr, "terelay: cannot allocate the server's rate-limit buckets\n");
				return -1;
			}
		}
	}
	r->ctrl = tr_control_create(r);
	if (r->ctrl == NULL) {
		fprintf(stderr, "terelay: cannot allocate control state\n");
		return -1;
	}
	return 0;
}

void tr_relay_fini(struct tr_relay *r)
{
	tr_control_free(r->ctrl);
	tr_peer_table_free(r->peers);
	rte_hash_free(r->neigh4);
	rte_ring_free(r->to_ctrl);
	rte_ring_free(r->replay_tx);
	for (unsigned i = 0; i < RTE_MAX_LCORE; i++) {
		rte_ring_free(r->lc[i].rx_ring);
		rte_free(r->lc[i].srv_rs_bkt);
		rte_free(r->lc[i].srv_fwd_bkt);
		r->lc[i].srv_rs_bkt = r->lc[i].srv_fwd_bkt = NULL;
	}
	rte_free(r->qsbr);
	rte_mempool_free(r->pool);
	r->ctrl = NULL;
	r->peers = NULL;
	r->neigh4 = NULL;
	r->to_ctrl = r->replay_tx = NULL;
	r->qsbr = NULL;
	r->pool = NULL;
}
