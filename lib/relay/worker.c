/* SPDX-License-Identifier: BSD-3-Clause
 *
 * The fast path. Per burst: classify every frame with the protocol library,
 * one bulk lookup per shard for the peers, then forward what a trusted peer
 * allows and hand everything else to the control lcore. Touches only its
 * own queues and counters, read-only config, and peer entries through
 * lock-free lookups (plus coarse idempotent time stores).
 */
#include <rte_ethdev.h>
#include <rte_prefetch.h>

#include "ecn.h"
#include "relay.h"
#include "server_step.h"

/* last_rx/last_tx are refreshed only when they are this stale: a plain
 * store, not per packet, so trusted peers' lines stay mostly shared. */
#define TIME_REFRESH_MS 64

struct handoff {
	unsigned n;
	struct rte_mbuf *m[TR_BURST_MAX];
};

static inline void drop(struct tr_lcore *lc, struct rte_mbuf *m, enum tr_drop_reason why)
{
	TR_DROP_INC(&lc->cnt, why);
	rte_pktmbuf_free(m);
}

static void handoff_flush(struct tr_lcore *lc, struct handoff *h)
{
	if (h->n == 0)
		return;
	unsigned done = rte_ring_enqueue_burst(lc->relay->to_ctrl, (void **)h->m, h->n, NULL);

	TR_ADD(&lc->cnt, to_control, done);
	/* Never block on control: a full ring is a counted drop. */
	for (unsigned i = done; i < h->n; i++)
		drop(lc, h->m[i], TR_DROP_CTRL_RING_FULL);
	h->n = 0;
}

/* Checks the NIC has done (rx checksum offload). GOOD, and NONE ("not
 * correct in the data but the integrity is verified", e.g. virtio with
 * a partial checksum from the host) spare the software sum. */
static inline unsigned rx_cksum_verified(const struct rte_mbuf *m)
{
	uint64_t ip = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
	uint64_t l4 = m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;
	unsigned hw = 0;

	if (ip == RTE_MBUF_F_RX_IP_CKSUM_GOOD || ip == RTE_MBUF_F_RX_IP_CKSUM_NONE)
		hw |= TR_HW_IPV4_CKSUM_GOOD;
	if (l4 == RTE_MBUF_F_RX_L4_CKSUM_GOOD || l4 == RTE_MBUF_F_RX_L4_CKSUM_NONE)
		hw |= TR_HW_L4_CKSUM_GOOD;
	return hw;
}

/* The frame's VLAN tags against its side's (D40): TR_DROP_NONE with the
 * frame left untagged — tags the NIC stripped (mbuf flags) and tags still
 * in the frame give the same verdict, and the in-frame ones are removed the
 * way a stripping NIC would — or the reason to drop it. */
static enum tr_drop_reason l2_rx(const struct tr_relay *r, struct rte_mbuf *m)
{
	struct tr_rx_tags hw = { .n = 0 };
	uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);
	unsigned strip;

	/* DPDK: QINQ_STRIPPED alone is the outer tag (vlan_tci_outer), with
	 * VLAN_STRIPPED both; VLAN_STRIPPED alone is one tag (vlan_tci). */
	if (m->ol_flags & RTE_MBUF_F_RX_QINQ_STRIPPED) {
		hw.tci[hw.n++] = m->vlan_tci_outer;
		if (m->ol_flags & RTE_MBUF_F_RX_VLAN_STRIPPED)
			hw.tci[hw.n++] = m->vlan_tci;
	} else if (m->ol_flags & RTE_MBUF_F_RX_VLAN_STRIPPED) {
		hw.tci[hw.n++] = m->vlan_tci;
	}
	enum tr_drop_reason why = tr_l2_check(r->vlan, f, m->data_len, &hw, &strip);

	if (why == TR_DROP_NONE && strip != 0) {
		/* The MAC addresses forward over the tags: loads before stores. */
		uint64_t a;
		uint32_t b;

		memcpy(&a, f, 8);
		memcpy(&b, f + 8, 4);
		memcpy(f + strip, &a, 8);
		memcpy(f + strip + 8, &b, 4);
		rte_pktmbuf_adj(m, (uint16_t)strip);
	}
	return why;
}

static inline void refresh(uint32_t *t, uint32_t now)
{
	if (tr_ms_since(now, *t) >= TIME_REFRESH_MS)
		*t = now;
}

/* Client -> native, peer already trusted at this exact outer source. */
static void teredo_from_trusted(struct tr_lcore *lc, struct rte_mbuf *m,
				const struct tr_classified *c, struct tr_peer *p, uint32_t now,
				struct handoff *h)
{
	refresh(&p->last_rx, now);
	if (c->bubble) {
		/* RFC 4380 §5.2.3: a bubble refreshes the entry and is discarded. */
		TR_INC(&lc->cnt, bubbles_received);
		TR_INC(&lc->cnt, consumed);
		rte_pktmbuf_free(m);
		return;
	}
	if (c->post_reason != TR_DROP_NONE) {
		if (c->icmp_type != 0)
			h->m[h->n++] = m;       /* control sends the rate-limited error */
		else
			drop(lc, m, c->post_reason);
		return;
	}
	if (__atomic_load_n(&lc->relay->gw6_mac, __ATOMIC_RELAXED) == 0) {
		drop(lc, m, TR_DROP_NO_NEXTHOP);
		return;
	}
	if (unlikely(!tr_ecn_decap_frame(rte_pktmbuf_mtod(m, uint8_t *), c->l3_off, c->ip6_off))) {
		drop(lc, m, TR_DROP_RX_ECN_CE_NOT_ECT);
		return;
	}
	if (c->origin_seen)
		TR_INC(&lc->cnt, origin_ignored);
	tr_ipv6_dec_hop(rte_pktmbuf_mtod_offset(m, uint8_t *, c->ip6_off));
	tr_decap_mbuf(lc, m, c->ip6_off, c->ip6_len);
	TR_INC(&lc->cnt, decapsulated);
	TR_INC(&lc->cnt, fwd_native);
	tr_tx(lc, lc->tx_native, m);
}

static void teredo_packet(struct tr_lcore *lc, struct rte_mbuf *m, const struct tr_classified *c,
			  struct tr_peer_ref ref, uint32_t now, struct handoff *h)
{
	const struct tr_relay *r = lc->relay;

	if (ref.pos < 0) {
		/* RFC 4380 §5.4.2: mapping check first, then the peer list. */
		if (!c->mapping_ok)
			drop(lc, m, TR_DROP_RX_MAPPING_MISMATCH);
		else if (r->cfg.accept_unknown)
			h->m[h->n++] = m;
		else
			drop(lc, m, TR_DROP_RX_UNKNOWN_PEER);
		return;
	}
	struct tr_peer *p = tr_peer_at(r->peers, ref);
	uint64_t mp = tr_peer_load_mapping(p);

	/* A trusted peer being re-verified (validity expired, packets queued)
	 * goes through control, which ends the verification and flushes the
	 * queue (pend is control's field: a stale read costs one hand-off). */
	bool stored_ok = tr_map_state(mp) == TR_PEER_TRUSTED && tr_map_ip(mp) == c->src_ip &&
			 tr_map_port(mp) == c->src_port;

	if (stored_ok && p->pend == TR_PEER_NO_SLOT) {
		teredo_from_trusted(lc, m, c, p, now, h);
		return;
	}
	/* Pending peer, a trusted one under re-verification (from its verified
	 * mapping, which may differ from the embedded one behind a symmetric
	 * NAT), a trusted peer seen at its embedded mapping again
	 * (re-validation, §5.4.2), or a bubble whose nonce control checks. */
	if (stored_ok || c->mapping_ok || c->bubble)
		h->m[h->n++] = m;
	else
		drop(lc, m, TR_DROP_RX_MAPPING_MISMATCH);
}

static void native_packet(struct tr_lcore *lc, struct rte_mbuf *m, const struct tr_classified *c,
			  struct tr_peer_ref ref, uint32_t now, struct handoff *h)
{
	const struct tr_relay *r = lc->relay;

	if (ref.pos >= 0) {
		struct tr_peer *p = tr_peer_at(r->peers, ref);
		uint64_t mp = tr_peer_load_mapping(p);

		/* RFC 4380 §5.4.1 case 1: trusted and valid (< 30 s since the last
		 * reception, §5.2.4) -> encapsulate to the verified mapping. */
		/* ... unless packets wait in its queue: they go first (FIFO). */
		if (tr_map_state(mp) == TR_PEER_TRUSTED && p->pend == TR_PEER_NO_SLOT &&
		    tr_ms_since(now, p->last_rx) < (int32_t)(r->cfg.validity_s * 1000)) {
			uint64_t mac = tr_nh4_mac(r, tr_map_ip(mp));

			if (mac == 0) {
				lc->want_arp = tr_map_ip(mp);   /* control resolves it */
				drop(lc, m, TR_DROP_NO_NEXTHOP);
				return;
			}
			tr_ipv6_dec_hop(rte_pktmbuf_mtod_offset(m, uint8_t *, c->ip6_off));
			if (tr_encap_mbuf(lc, m, c->ip6_off, c->ip6_len, tr_map_ip(mp),
					  tr_map_port(mp), mac) != 0) {
				drop(lc, m, TR_DROP_NO_MBUF);
				return;
			}
			refresh(&p->last_tx, now);
			TR_INC(&lc->cnt, encapsulated);
			TR_INC(&lc->cnt, fwd_teredo);
			tr_tx(lc, lc->tx_teredo, m);
			return;
		}
	}
	/* Unknown, pending or no longer valid: control queues and bubbles. */
	h->m[h->n++] = m;
}

/* Where a side is tagged: every frame of the burst checked and untagged
 * before the burst is handled (drops counted as received here, the tag
 * bytes removed too: rx_bytes is what arrived). Returns the frames left,
 * compacted at the front of pkts. */
static uint16_t __attribute__((noinline))
l2_rx_burst(struct tr_lcore *lc, struct rte_mbuf **pkts, uint16_t n)
{
	const struct tr_relay *r = lc->relay;
	uint16_t k = 0;

	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		uint32_t len = m->pkt_len;
		enum tr_drop_reason why = l2_rx(r, m);

		if (why != TR_DROP_NONE) {
			TR_INC(&lc->cnt, rx_packets);
			TR_ADD(&lc->cnt, rx_bytes, len);
			drop(lc, m, why);
			continue;
		}
		TR_ADD(&lc->cnt, rx_bytes, len - m->pkt_len);
		pkts[k++] = m;
	}
	return k;
}

static void burst_retry(struct tr_lcore *lc, struct rte_mbuf **pkts, uint16_t n);

void tr_worker_burst(struct tr_lcore *lc, struct rte_mbuf **pkts, uint16_t n_rx)
{
	const struct tr_relay *r = lc->relay;
	uint64_t now64 = tr_clock_ms(&r->clock);       /* the server's buckets: no wrap */
	uint32_t now = (uint32_t)now64;
	struct tr_classified cl[TR_BURST_MAX];
	const uint8_t *keys[TR_BURST_MAX];
	struct tr_peer_ref refs[TR_BURST_MAX];
	uint16_t kidx[TR_BURST_MAX];
	unsigned nk = 0;
	struct handoff h = { .n = 0 };
	struct rte_mbuf *retry[TR_BURST_MAX];
	uint16_t nretry = 0;
	/* Tags are checked and removed first where a side has them (D40). */
	uint16_t n = unlikely(r->l2_tagged) ? l2_rx_burst(lc, pkts, n_rx) : n_rx;

	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];

		if (i + 1 < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
		TR_INC(&lc->cnt, rx_packets);
		TR_ADD(&lc->cnt, rx_bytes, m->pkt_len);
		if (m->nb_segs > 1 && rte_pktmbuf_linearize(m) != 0) {
			drop(lc, m, TR_DROP_NO_MBUF);
			pkts[i] = NULL;
			continue;
		}
		const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
		struct tr_classified *c = &cl[i];

		/* Dispatch by destination address and port: P:3544 and S:3544
		 * belong to the server role, everything else to the relay. */
		if (r->srv_on && tr_server_owns(&r->srv, f, m->data_len) != TR_SRV_NOT_OURS) {
			tr_server_step(lc, m, rx_cksum_verified(m), now64);
			pkts[i] = NULL;
			continue;
		}
		tr_classify_hw(&r->id, f, m->data_len, rx_cksum_verified(m), c);
		/* Server-only box: the relay's neighbour duties stay (ARP, ND),
		 * its forwarding does not. */
		if (!r->relay_on && (c->kind == TR_K_TEREDO || c->kind == TR_K_NATIVE ||
				     c->kind == TR_K_LOCAL6 || c->kind == TR_K_V4_FRAG)) {
			drop(lc, m, TR_DROP_SRV_RELAY_OFF);
			pkts[i] = NULL;
			continue;
		}
		switch (c->kind) {
		case TR_K_DROP:
			/* Untagged sides: a priority tag (VLAN 0) is accepted,
			 * the frame handled without it after this burst. */
			if (unlikely(c->reason == TR_DROP_VLAN_UNEXPECTED) && !r->l2_tagged) {
				enum tr_drop_reason why = l2_rx(r, m);

				if (why == TR_DROP_NONE) {
					retry[nretry++] = m;
					pkts[i] = NULL;
					break;
				}
				c->reason = why;
			}
			if (c->icmp_type != 0)
				h.m[h.n++] = m;
			else
				drop(lc, m, c->reason);
			pkts[i] = NULL;
			break;
		case TR_K_TEREDO:
			keys[nk] = f + c->ip6_off + 8;          /* inner source */
			kidx[nk++] = i;
			break;
		case TR_K_NATIVE:
			keys[nk] = f + c->ip6_off + 24;         /* destination */
			kidx[nk++] = i;
			break;
		default:                                        /* ARP, ND, local, fragments */
			h.m[h.n++] = m;
			pkts[i] = NULL;
			break;
		}
	}

	if (nk > 0)
		tr_peer_lookup_bulk(r->peers, keys, nk, refs);
	/* With large tables the 32-byte entries miss the caches: start all the
	 * loads now, use them below. */
	for (unsigned k = 0; k < nk; k++)
		if (refs[k].pos >= 0)
			rte_prefetch0(tr_peer_at(r->peers, refs[k]));
	for (unsigned k = 0; k < nk; k++) {
		/* cppcheck-suppress uninitvar ; kidx[0..nk) written above */
		uint16_t i = kidx[k];

		if (cl[i].kind == TR_K_TEREDO)
			teredo_packet(lc, pkts[i], &cl[i], refs[k], now, &h);
		else
			native_packet(lc, pkts[i], &cl[i], refs[k], now, &h);
	}
	handoff_flush(lc, &h);
	if (unlikely(nretry != 0))
		burst_retry(lc, retry, nretry);
	if (lc->rx_ring != NULL)
		tr_tx_flush_all(lc);    /* replay lockstep: nothing stays buffered */
	__atomic_store_n(&lc->processed, lc->processed + n_rx, __ATOMIC_RELEASE);
}

/* Frames of this burst without their priority tag, as a burst of their own:
 * what that burst counts as received and processed was counted already. */
static void __attribute__((noinline))
burst_retry(struct tr_lcore *lc, struct rte_mbuf **pkts, uint16_t n)
{
	for (uint16_t i = 0; i < n; i++) {
		TR_ADD(&lc->cnt, rx_packets, (uint64_t)-1);
		TR_ADD(&lc->cnt, rx_bytes, (uint64_t)0 - pkts[i]->pkt_len);
	}
	__atomic_store_n(&lc->processed, lc->processed - n, __ATOMIC_RELAXED);
	tr_worker_burst(lc, pkts, n);
}

/* A worker polls rx queues rxq, rxq + n_workers, ... of a port: more queues
 * than workers exist where the device spreads frames over all its queues by
 * itself (af_packet fanout, tap), and none of them may go unread. */
static uint16_t poll_port(struct tr_lcore *lc, uint16_t port, uint16_t nrxq,
			  struct rte_mbuf **pkts, uint16_t burst)
{
	const struct tr_relay *r = lc->relay;
	uint16_t total = 0;

	for (uint16_t q = lc->rxq; q < nrxq; q = (uint16_t)(q + r->n_workers)) {
		uint16_t n = rte_eth_rx_burst(port, q, pkts, burst);

		if (n > 0)
			tr_worker_burst(lc, pkts, n);
		total = (uint16_t)(total + n);
	}
	return total;
}

int tr_worker_main(void *arg)
{
	struct tr_lcore *lc = arg;
	struct tr_relay *r = lc->relay;
	struct rte_mbuf *pkts[TR_BURST_MAX];
	const uint64_t drain_tsc = rte_get_tsc_hz() / 10000;   /* ~100 us */
	uint16_t burst = r->cfg.burst;

	if (r->qsbr != NULL) {
		rte_rcu_qsbr_thread_register(r->qsbr, lc->worker_idx);
		rte_rcu_qsbr_thread_online(r->qsbr, lc->worker_idx);
	}
	while (!r->stop) {
		uint64_t t0 = rte_rdtsc();
		uint16_t n = 0;

		if (lc->rx_ring != NULL) {
			n = (uint16_t)rte_ring_dequeue_burst(lc->rx_ring, (void **)pkts, burst, NULL);
			if (n > 0)
				tr_worker_burst(lc, pkts, n);
		} else {
			n = poll_port(lc, r->port_teredo, r->nrxq_teredo, pkts, burst);
			if (r->port_native != r->port_teredo)
				n = (uint16_t)(n + poll_port(lc, r->port_native, r->nrxq_native, pkts, burst));
		}
		uint64_t t1 = rte_rdtsc();
		/* tx buffers leave at a full burst or after ~100 us */
		if (n == 0 || t1 - lc->last_flush_tsc > drain_tsc) {
			tr_tx_flush_all(lc);
			lc->last_flush_tsc = t1;
		}
		if (n > 0) {
			TR_INC(&lc->cnt, polls_busy);
			TR_ADD(&lc->cnt, cycles_busy, t1 - t0);
		} else {
			TR_INC(&lc->cnt, polls_idle);
			TR_ADD(&lc->cnt, cycles_idle, t1 - t0);
		}
		if (r->qsbr != NULL)
			rte_rcu_qsbr_quiescent(r->qsbr, lc->worker_idx);
		__atomic_store_n(&lc->heartbeat, lc->heartbeat + 1, __ATOMIC_RELAXED);
	}
	tr_tx_flush_all(lc);
	if (r->qsbr != NULL) {
		rte_rcu_qsbr_thread_offline(r->qsbr, lc->worker_idx);
		rte_rcu_qsbr_thread_unregister(r->qsbr, lc->worker_idx);
	}
	return 0;
}
