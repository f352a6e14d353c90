/* SPDX-License-Identifier: BSD-3-Clause
 *
 * The relay answers ARP and neighbour solicitations for its own addresses
 * (it owns them: the kernel does not see these ports) and resolves its two
 * next hops, unless the configuration pins their MAC addresses.
 */
#include <string.h>

#include "control_priv.h"

#define PROBE_INTERVAL_MS 1000

static void learn(struct tr_control *c, uint64_t *slot, uint64_t *learned_ms, const uint8_t mac[6])
{
	struct rte_ether_addr a;

	memcpy(a.addr_bytes, mac, 6);
	__atomic_store_n(slot, tr_mac_to_u64(&a), __ATOMIC_RELAXED);
	*learned_ms = c->now;
}

void tr_neigh_arp(struct tr_control *c, struct rte_mbuf *m, const struct tr_classified *cl)
{
	struct tr_relay *r = c->r;
	const struct tr_config *cfg = &r->cfg;
	uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);
	struct tr_arp a;

	(void)cl;
	if (tr_arp_parse(f + TR_ETH_HLEN, m->data_len - TR_ETH_HLEN, &a) != 0) {
		TR_DROP_INC(&c->lc->cnt, TR_DROP_ARP_MALFORMED);
		rte_pktmbuf_free(m);
		return;
	}
	if (!cfg->ipv4_gateway_mac_set && cfg->ipv4_gateway != 0 && a.spa == cfg->ipv4_gateway)
		learn(c, &r->gw4_mac, &c->gw4_learned_ms, a.sha);
	tr_nh4_learn(c, a.spa, a.sha);
	TR_INC(&c->lc->cnt, consumed);
	if (a.op != 1) {
		rte_pktmbuf_free(m);
		return;
	}
	/* Reply in place: the request's frame becomes the answer, for the
	 * address asked (the relay's, or the server role's P or S), behind
	 * the Teredo side's Ethernet header (with its tags). */
	uint8_t arp[42];
	const uint16_t l2 = r->tx_l2_len[TR_SIDE_TEREDO];

	tr_build_arp(arp, 2, a.sha, r->mac_teredo.addr_bytes, a.tpa, a.sha, a.spa);
	rte_pktmbuf_reset(m);
	f = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(l2 + sizeof(arp) - TR_ETH_HLEN));
	if (f == NULL) {
		TR_DROP_INC(&c->lc->cnt, TR_DROP_NO_MBUF);
		rte_pktmbuf_free(m);
		return;
	}
	tr_l2_put(r, TR_SIDE_TEREDO, m, f, a.sha, TR_ETHERTYPE_ARP);
	memcpy(f + l2, arp + TR_ETH_HLEN, sizeof(arp) - TR_ETH_HLEN);
	m->port = r->port_teredo;
	TR_INC(&c->lc->cnt, arp_replies);
	tr_tx(c->lc, c->lc->tx_teredo, m);
}

void tr_neigh_nd(struct tr_control *c, struct rte_mbuf *m, const struct tr_classified *cl)
{
	struct tr_relay *r = c->r;
	const struct tr_config *cfg = &r->cfg;
	uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);
	const uint8_t *ip6 = f + cl->ip6_off;
	static const uint8_t unspec[16];
	struct tr_nd nd;

	if (tr_nd_parse(ip6, cl->ip6_len, &nd) != 0) {
		TR_DROP_INC(&c->lc->cnt, TR_DROP_ND_MALFORMED);
		rte_pktmbuf_free(m);
		return;
	}
	bool gw_dynamic = !cfg->ipv6_gateway_mac_set && memcmp(cfg->ipv6_gateway, unspec, 16) != 0;
	TR_INC(&c->lc->cnt, consumed);
	if (nd.type == 136) {
		if (gw_dynamic && nd.has_lladdr && memcmp(nd.target, cfg->ipv6_gateway, 16) == 0)
			learn(c, &r->gw6_mac, &c->gw6_learned_ms, nd.lladdr);
		rte_pktmbuf_free(m);
		return;
	}
	/* NS for our address (the classifier checked the target). */
	uint8_t src[16];
	uint8_t eth_dst[6];

	memcpy(src, ip6 + 8, 16);
	if (gw_dynamic && nd.has_lladdr && memcmp(src, cfg->ipv6_gateway, 16) == 0)
		learn(c, &r->gw6_mac, &c->gw6_learned_ms, nd.lladdr);
	bool dad = memcmp(src, unspec, 16) == 0;
	if (dad) {
		/* RFC 4861 §7.2.4: answer a DAD probe to all-nodes, unsolicited. */
		static const uint8_t all_nodes[16] = { 0xff, 0x02, [15] = 1 };
		memcpy(src, all_nodes, 16);
		memcpy(eth_dst, (const uint8_t[6]){ 0x33, 0x33, 0, 0, 0, 1 }, 6);
	} else {
		memcpy(eth_dst, nd.has_lladdr ? nd.lladdr : f + 6, 6);
	}
	const uint16_t l2 = r->tx_l2_len[TR_SIDE_NATIVE];

	rte_pktmbuf_reset(m);
	uint8_t *out = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(l2 + 72));
	if (out == NULL) {
		rte_pktmbuf_free(m);
		return;
	}
	size_t len = tr_build_na(out + l2, r->id.ipv6, src, r->id.ipv6,
				 r->mac_native.addr_bytes, !dad);
	rte_pktmbuf_trim(m, (uint16_t)(72 - len));
	tr_l2_put(r, TR_SIDE_NATIVE, m, out, eth_dst, TR_ETHERTYPE_IPV6);
	m->port = r->port_native;
	TR_INC(&c->lc->cnt, nd_adverts);
	tr_tx(c->lc, c->lc->tx_native, m);
}

static void send_arp_request(struct tr_control *c, uint32_t ip)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t zero_mac[6];
	struct tr_relay *r = c->r;
	const uint16_t l2 = r->tx_l2_len[TR_SIDE_TEREDO];
	struct rte_mbuf *m = rte_pktmbuf_alloc(r->pool);
	uint8_t *f = m ? (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(l2 + 42 - TR_ETH_HLEN)) : NULL;
	uint8_t arp[42];

	if (f == NULL) {
		if (m != NULL)
			rte_pktmbuf_free(m);
		TR_DROP_INC(&c->lc->cnt, TR_DROP_NO_MBUF);
		return;
	}
	tr_build_arp(arp, 1, bcast, r->mac_teredo.addr_bytes, r->id.ipv4, zero_mac, ip);
	tr_l2_put(r, TR_SIDE_TEREDO, m, f, bcast, TR_ETHERTYPE_ARP);
	memcpy(f + l2, arp + TR_ETH_HLEN, sizeof(arp) - TR_ETH_HLEN);
	m->port = r->port_teredo;
	TR_INC(&c->lc->cnt, arp_requests);
	tr_tx(c->lc, c->lc->tx_teredo, m);
}

void tr_nh4_learn(struct tr_control *c, uint32_t ip, const uint8_t mac[6])
{
	struct rte_ether_addr a;

	if (!c->r->v4_on_link || ip == 0 || (mac[0] & 1) != 0)
		return;
	memcpy(a.addr_bytes, mac, 6);
	uint64_t v = tr_mac_to_u64(&a);
	void *old;

	if (rte_hash_lookup_data(c->r->neigh4, &ip, &old) >= 0 && (uint64_t)(uintptr_t)old == v)
		return;
	/* Lock-free table: replacing the data of a present key is atomic. */
	rte_hash_add_key_data(c->r->neigh4, &ip, (void *)(uintptr_t)v);
}

uint64_t tr_nh4_resolve(struct tr_control *c, uint32_t ip)
{
	uint64_t mac = tr_nh4_mac(c->r, ip);

	if (mac != 0 || !c->r->v4_on_link)
		return mac;
	unsigned slot = (ip * 2654435761u) >> 22;   /* 10 bits: TR_ARP_PROBE_SLOTS */

	if (c->arp_probe[slot].ip != ip || c->now - c->arp_probe[slot].ms >= PROBE_INTERVAL_MS) {
		c->arp_probe[slot].ip = ip;
		c->arp_probe[slot].ms = c->now;
		send_arp_request(c, ip);
	}
	return 0;
}

static bool due(const struct tr_control *c, uint64_t mac, uint64_t learned, uint64_t *probe_ms)
{
	bool stale = mac == 0 ||
		     c->now - learned >= (uint64_t)c->r->cfg.neigh_timeout_s * 1000;

	if (!stale || c->now - *probe_ms < PROBE_INTERVAL_MS)
		return false;
	*probe_ms = c->now;
	return true;
}

/* After an active-backup bond changed its primary (D46): a gratuitous ARP on the
 * Teredo side and an unsolicited NA to all-nodes on the native side, as Linux
 * bonding sends them, so that switches move the relay's MAC to the new link. */
static void announce(struct tr_control *c)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t all_nodes[16] = { 0xff, 0x02, [15] = 1 };
	static const uint8_t all_nodes_mac[6] = { 0x33, 0x33, 0, 0, 0, 1 };
	struct tr_relay *r = c->r;
	uint16_t l2 = r->tx_l2_len[TR_SIDE_TEREDO];
	struct rte_mbuf *m = rte_pktmbuf_alloc(r->pool);
	uint8_t *f = m ? (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(l2 + 42 - TR_ETH_HLEN)) : NULL;
	uint8_t arp[42];

	if (f != NULL) {
		/* RFC 5227 §3: an ARP announcement, sender and target our address */
		tr_build_arp(arp, 1, bcast, r->mac_teredo.addr_bytes, r->id.ipv4, (const uint8_t[6]){ 0 },
			     r->id.ipv4);
		tr_l2_put(r, TR_SIDE_TEREDO, m, f, bcast, TR_ETHERTYPE_ARP);
		memcpy(f + l2, arp + TR_ETH_HLEN, sizeof(arp) - TR_ETH_HLEN);
		m->port = r->port_teredo;
		TR_INC(&c->lc->cnt, arp_requests);
		tr_tx(c->lc, c->lc->tx_teredo, m);
	} else if (m != NULL) {
		rte_pktmbuf_free(m);
	}
	l2 = r->tx_l2_len[TR_SIDE_NATIVE];
	m = rte_pktmbuf_alloc(r->pool);
	f = m ? (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(l2 + 72)) : NULL;
	if (f != NULL) {
		/* RFC 4861 §7.2.6: unsolicited, override set, to all-nodes */
		size_t len = tr_build_na(f + l2, r->id.ipv6, all_nodes, r->id.ipv6,
					 r->mac_native.addr_bytes, false);

		rte_pktmbuf_trim(m, (uint16_t)(72 - len));
		tr_l2_put(r, TR_SIDE_NATIVE, m, f, all_nodes_mac, TR_ETHERTYPE_IPV6);
		m->port = r->port_native;
		TR_INC(&c->lc->cnt, nd_adverts);
		tr_tx(c->lc, c->lc->tx_native, m);
	} else if (m != NULL) {
		rte_pktmbuf_free(m);
	}
}

void tr_neigh_tick(struct tr_control *c)
{
	struct tr_relay *r = c->r;
	const struct tr_config *cfg = &r->cfg;
	static const uint8_t unspec[16];

	if (r->bond_watch.failovers != c->announced_failovers) {
		c->announced_failovers = r->bond_watch.failovers;
		announce(c);
	}

	if (!cfg->ipv4_gateway_mac_set && cfg->ipv4_gateway != 0 &&
	    due(c, __atomic_load_n(&r->gw4_mac, __ATOMIC_RELAXED), c->gw4_learned_ms,
		&c->neigh4_probe_ms))
		send_arp_request(c, cfg->ipv4_gateway);
	/* Next hops the workers could not resolve (on-link mode). */
	if (r->v4_on_link)
		for (unsigned w = 0; w <= r->n_workers; w++) {
			unsigned id = w < r->n_workers ? r->worker_lcore[w] : r->control_lcore;
			uint32_t ip = __atomic_load_n(&r->lc[id].want_arp, __ATOMIC_RELAXED);

			if (ip != 0)
				tr_nh4_resolve(c, ip);
		}
	if (!cfg->ipv6_gateway_mac_set && memcmp(cfg->ipv6_gateway, unspec, 16) != 0 &&
	    due(c, __atomic_load_n(&r->gw6_mac, __ATOMIC_RELAXED), c->gw6_learned_ms,
		&c->neigh6_probe_ms)) {
		const uint16_t l2 = r->tx_l2_len[TR_SIDE_NATIVE];
		struct rte_mbuf *m = rte_pktmbuf_alloc(r->pool);
		uint8_t *f = m ? (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(l2 + 72)) : NULL;

		if (f != NULL) {
			uint8_t snm[16];
			size_t len = tr_build_ns(f + l2, r->id.ipv6, cfg->ipv6_gateway,
						 r->mac_native.addr_bytes);

			tr_solicited_node(snm, cfg->ipv6_gateway);
			const uint8_t mc[6] = { 0x33, 0x33, snm[12], snm[13], snm[14], snm[15] };
			tr_l2_put(r, TR_SIDE_NATIVE, m, f, mc, TR_ETHERTYPE_IPV6);
			rte_pktmbuf_trim(m, (uint16_t)(72 - len));
			m->port = r->port_native;
			TR_INC(&c->lc->cnt, nd_solicits);
			tr_tx(c->lc, c->lc->tx_native, m);
		} else if (m != NULL) {
			rte_pktmbuf_free(m);
		}
	}
}
