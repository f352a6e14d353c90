/* SPDX-License-Identifier: BSD-3-Clause
 *
 * Buffered transmit and the two header rewrites shared by the workers and
 * the control lcore (queued packets are encapsulated the same way).
 */
#include <string.h>

#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include "relay.h"

void tr_tx_flush(struct tr_lcore *lc, struct tr_txq *q)
{
	if (q->n == 0)
		return;
	uint16_t sent;

	if (q->ring != NULL)
		sent = (uint16_t)rte_ring_enqueue_burst(q->ring, (void **)q->buf, q->n, NULL);
	else
		sent = rte_eth_tx_burst(q->port, q->queue, q->buf, q->n);
	for (uint16_t i = sent; i < q->n; i++) {
		TR_DROP_INC(&lc->cnt, TR_DROP_NIC_TX_FULL);
		rte_pktmbuf_free(q->buf[i]);
	}
	q->n = 0;
}

void tr_tx(struct tr_lcore *lc, struct tr_txq *q, struct rte_mbuf *m)
{
	TR_INC(&lc->cnt, tx_packets);
	TR_ADD(&lc->cnt, tx_bytes, m->pkt_len);
	q->buf[q->n++] = m;
	if (q->n == TR_BURST_MAX || q->n >= lc->relay->cfg.burst)
		tr_tx_flush(lc, q);
}

void tr_tx_flush_all(struct tr_lcore *lc)
{
	tr_tx_flush(lc, lc->tx_teredo);
	if (lc->tx_native != lc->tx_teredo)
		tr_tx_flush(lc, lc->tx_native);
}

/* The rewrites for a side's Ethernet header of l2 bytes: called with the
 * constant 14 on untagged sides, so that path compiles as before tags
 * existed, and with the side's length on tagged ones (D40). */
static inline __attribute__((always_inline)) int
encap_l2(struct tr_lcore *lc, struct rte_mbuf *m, uint16_t ip6_off, uint16_t ip6_len, uint32_t ip,
	 uint16_t port, uint64_t dst_mac, const unsigned l2, const bool tagged)
{
	const struct tr_relay *r = lc->relay;
	/* New frame: Ethernet (+ tags) + IPv4 + UDP in front of the IPv6 packet. */
	int delta = (int)(l2 + TR_ENCAP_HLEN) - (int)ip6_off;

	if (delta > 0) {
		if (rte_pktmbuf_prepend(m, (uint16_t)delta) == NULL)
			return -1;
	} else if (delta < 0) {
		rte_pktmbuf_adj(m, (uint16_t)-delta);
	}
	/* Drop link-layer padding and RFC 6081 trailers: forward 40 + plen. */
	uint32_t want = l2 + TR_ENCAP_HLEN + ip6_len;
	if (m->pkt_len > want)
		rte_pktmbuf_trim(m, (uint16_t)(m->pkt_len - want));

	/* The identity, MAC and tags are fixed once the ports are up: the
	 * template is filled on this lcore's first encapsulation. */
	if (unlikely(!lc->encap_ready)) {
		tr_encap_tmpl_init_vlan(&lc->encap, r->mac_teredo.addr_bytes,
					&r->tx_vlan[TR_SIDE_TEREDO], r->id.ipv4, r->id.port,
					r->cfg.ttl);
		lc->encap_ready = true;
	}
	if (tagged && r->tx_vlan_ol[TR_SIDE_TEREDO] != 0) {
		m->ol_flags |= r->tx_vlan_ol[TR_SIDE_TEREDO];
		m->vlan_tci = r->tx_tci[TR_SIDE_TEREDO];
		m->vlan_tci_outer = r->tx_tci_outer[TR_SIDE_TEREDO];
	}
	struct rte_ether_addr dst;
	uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);

	tr_u64_to_mac(dst_mac, &dst);
	if (r->tx_cksum_offload) {
		if (tagged)
			tr_encap_tmpl_write_offload(&lc->encap, f, dst.addr_bytes, ip, port,
						    lc->ip_id++, ip6_len);
		else
			tr_encap_tmpl_write_offload_untagged(&lc->encap, f, dst.addr_bytes, ip,
							     port, lc->ip_id++, ip6_len);
		m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_UDP_CKSUM;
	} else if (tagged) {
		tr_encap_tmpl_write(&lc->encap, f, dst.addr_bytes, ip, port, lc->ip_id++, ip6_len);
	} else {
		tr_encap_tmpl_write_untagged(&lc->encap, f, dst.addr_bytes, ip, port, lc->ip_id++,
					     ip6_len);
	}
	m->l2_len = l2;
	m->l3_len = TR_IPV4_HLEN;
	m->port = r->port_teredo;
	return 0;
}

/* Tagged sides out of line: the untagged rewrite stays as small as it was. */
static int __attribute__((noinline))
encap_tagged(struct tr_lcore *lc, struct rte_mbuf *m, uint16_t ip6_off, uint16_t ip6_len,
	     uint32_t ip, uint16_t port, uint64_t dst_mac)
{
	return encap_l2(lc, m, ip6_off, ip6_len, ip, port, dst_mac,
			lc->relay->tx_l2_len[TR_SIDE_TEREDO], true);
}

int tr_encap_mbuf(struct tr_lcore *lc, struct rte_mbuf *m, uint16_t ip6_off, uint16_t ip6_len,
		  uint32_t ip, uint16_t port, uint64_t dst_mac)
{
	if (unlikely(lc->relay->tx_l2_tagged[TR_SIDE_TEREDO]))
		return encap_tagged(lc, m, ip6_off, ip6_len, ip, port, dst_mac);
	return encap_l2(lc, m, ip6_off, ip6_len, ip, port, dst_mac, TR_ETH_HLEN, false);
}

static inline __attribute__((always_inline)) void
decap_l2(struct tr_lcore *lc, struct rte_mbuf *m, uint16_t ip6_off, uint16_t ip6_len,
	 const unsigned l2, const bool tagged)
{
	const struct tr_relay *r = lc->relay;

	/* Keep the native side's Ethernet header length (14 untagged) in front
	 * of the inner IPv6 for the new header: the outer IPv4/UDP is longer. */
	rte_pktmbuf_adj(m, (uint16_t)(ip6_off - l2));
	uint32_t want = l2 + ip6_len;
	if (m->pkt_len > want)
		rte_pktmbuf_trim(m, (uint16_t)(m->pkt_len - want));

	uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);
	struct rte_ether_addr dst;

	tr_u64_to_mac(__atomic_load_n(&r->gw6_mac, __ATOMIC_RELAXED), &dst);
	if (tagged)
		tr_l2_put(r, TR_SIDE_NATIVE, m, f, dst.addr_bytes, TR_ETHERTYPE_IPV6);
	else
		tr_build_eth(f, dst.addr_bytes, r->mac_native.addr_bytes, TR_ETHERTYPE_IPV6);
	m->l2_len = l2;
	m->port = r->port_native;
}

static void __attribute__((noinline))
decap_tagged(struct tr_lcore *lc, struct rte_mbuf *m, uint16_t ip6_off, uint16_t ip6_len)
{
	decap_l2(lc, m, ip6_off, ip6_len, lc->relay->tx_l2_len[TR_SIDE_NATIVE], true);
}

void tr_decap_mbuf(struct tr_lcore *lc, struct rte_mbuf *m, uint16_t ip6_off, uint16_t ip6_len)
{
	if (unlikely(lc->relay->tx_l2_tagged[TR_SIDE_NATIVE])) {
		decap_tagged(lc, m, ip6_off, ip6_len);
		return;
	}
	decap_l2(lc, m, ip6_off, ip6_len, TR_ETH_HLEN, false);
}
