/* SPDX-License-Identifier: BSD-3-Clause
 *
 * The Teredo server role's worker step: one frame addressed to P:3544 or
 * S:3544, run to completion on the worker that received it. Stateless
 * (RFC 4380 §5.3): the verdict is tr_server_classify's (lib/teredo/server.c),
 * this file only turns it into a frame. Touches the lcore's own counters,
 * tx queues and IPv4 ID, and read-only configuration; no lock, no atomic
 * read-modify-write, no allocation (the received mbuf is reused).
 */
#include <string.h>

#include <rte_jhash.h>
#include <rte_mbuf.h>

#include "relay.h"
#include "server.h"
#include "server_step.h"

/* A 32-bit big-endian field wherever it lies in the frame (an IPv4 header
 * after a 14-byte Ethernet header is only 2-byte aligned). */
static inline uint32_t load_be32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return rte_be_to_cpu_32(v);
}

static inline void drop(struct tr_lcore *lc, struct rte_mbuf *m, enum tr_drop_reason why)
{
	TR_DROP_INC(&lc->cnt, why);
	rte_pktmbuf_free(m);
}

/* Ethernet (with the Teredo side's tags) + IPv4/UDP from src:3544 to
 * dst:dport in front of the pl_len bytes already at f + l2 + 28 (l2 =
 * tx_l2_len[TR_SIDE_TEREDO], 14 untagged). */
static void write_headers(struct tr_lcore *lc, struct rte_mbuf *m, uint8_t *f, uint64_t mac,
			  uint32_t src, uint32_t dst, uint16_t dport, size_t pl_len)
{
	const struct tr_relay *r = lc->relay;
	struct rte_ether_addr d;

	tr_u64_to_mac(mac, &d);
	size_t l2 = tr_l2_put(r, TR_SIDE_TEREDO, m, f, d.addr_bytes, TR_ETHERTYPE_IPV4);
	/* Software checksums: RAs and forwarded bubbles/echo are small, and
	 * the payload does not start with IPv6 (auth, origin), so the relay's
	 * derived-checksum template does not apply (docs/server.md). */
	tr_server_write_udp4(f + l2, src, dst, dport, lc->ip_id++, r->cfg.ttl, pl_len);
}

/* A new frame from bytes built on the stack, in the received mbuf. */
static void send_built(struct tr_lcore *lc, struct rte_mbuf *m, uint64_t mac, uint32_t src,
		       uint32_t dst, uint16_t dport, const uint8_t *pl, size_t pl_len)
{
	const struct tr_relay *r = lc->relay;

	const uint16_t l2 = r->tx_l2_len[TR_SIDE_TEREDO];

	rte_pktmbuf_reset(m);
	uint8_t *f = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(l2 + TR_ENCAP_HLEN + pl_len));

	if (f == NULL) {
		drop(lc, m, TR_DROP_NO_MBUF);
		return;
	}
	memcpy(f + l2 + TR_ENCAP_HLEN, pl, pl_len);
	write_headers(lc, m, f, mac, src, dst, dport, pl_len);
	m->port = r->port_teredo;
	tr_tx(lc, lc->tx_teredo, m);
}

static uint64_t next_hop(struct tr_lcore *lc, uint32_t ip)
{
	uint64_t mac = tr_nh4_mac(lc->relay, ip);

	if (mac == 0)
		lc->want_arp = ip;      /* control resolves it, as for the relay */
	return mac;
}

/* Per-IPv4 token bucket of this lcore (hashed; colliding addresses share). */
static bool budget(struct tr_bucket *t, uint32_t ip, uint64_t now, uint32_t rate, uint32_t burst)
{
	return tr_bucket_take(&t[rte_jhash_1word(ip, 0x7e3ed0) & (TR_SRV_BUCKETS - 1)], now, rate, burst);
}

void tr_server_step(struct tr_lcore *lc, struct rte_mbuf *m, unsigned hw, uint64_t now)
{
	const struct tr_relay *r = lc->relay;
	const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
	struct tr_srv_verdict v;
	uint16_t pl_off;

	TR_INC(&lc->cnt, srv_rx);
	tr_server_classify(&r->srv, f, m->data_len, hw, &v, &pl_off);
	/* Abuse limits (notes §5): RAs per source, forwards per destination. */
	if ((v.action == TR_SRV_RA || v.action == TR_SRV_ECHO_REPLY) &&
	    !budget(lc->srv_rs_bkt, v.dst_ip, now, r->cfg.server_rs_rate, r->cfg.server_rs_burst)) {
		drop(lc, m, TR_DROP_SRV_RS_RATELIMITED);
		return;
	}
	if (v.action == TR_SRV_FWD_TEREDO || v.action == TR_SRV_FWD_NATIVE) {
		/* natively: the IPv6 destination's last 32 bits stand for it */
		uint32_t key = v.action == TR_SRV_FWD_TEREDO ? v.dst_ip :
			       load_be32(f + v.ip6_off + 36);

		if (!budget(lc->srv_fwd_bkt, key, now, r->cfg.server_fwd_rate, r->cfg.server_fwd_burst)) {
			drop(lc, m, TR_DROP_SRV_FWD_RATELIMITED);
			return;
		}
	}
	switch (v.action) {
	case TR_SRV_DROP:
		drop(lc, m, v.reason);
		return;
	case TR_SRV_RA: {
		uint8_t pl[TR_SRV_RA_AUTH_LEN];
		uint64_t mac = next_hop(lc, v.dst_ip);

		if (mac == 0) {
			drop(lc, m, TR_DROP_NO_NEXTHOP);
			return;
		}
		/* RA destination = the RS's IPv6 source (RFC 4380 §5.3.2). */
		size_t n = tr_ra_write(&r->ra_tmpl, pl, v.has_auth ? v.nonce : NULL, v.dst_ip,
				       v.dst_port, f + v.ip6_off + 8);
		send_built(lc, m, mac, v.from_secondary ? r->srv.secondary : r->srv.primary, v.dst_ip,
			   v.dst_port, pl, n);
		TR_INC(&lc->cnt, srv_ra_sent);
		TR_INC(&lc->cnt, consumed);
		return;
	}
	case TR_SRV_ECHO_REPLY: {
		uint8_t pl[TR_MTU_DEFAULT];
		uint64_t mac = next_hop(lc, v.dst_ip);

		/* A reply no larger than the minimum MTU; larger echo requests
		 * to the link-local are not answered (D76). */
		if (v.ip6_len > sizeof(pl)) {
			drop(lc, m, TR_DROP_SRV_LOCAL_UNHANDLED);
			return;
		}
		if (mac == 0) {
			drop(lc, m, TR_DROP_NO_NEXTHOP);
			return;
		}
		size_t n = tr_server_echo_reply(&r->srv, pl, f + v.ip6_off, v.ip6_len);
		send_built(lc, m, mac, r->srv.primary, v.dst_ip, v.dst_port, pl, n);
		TR_INC(&lc->cnt, srv_echo_replies);
		TR_INC(&lc->cnt, consumed);
		return;
	}
	case TR_SRV_FWD_NATIVE:
		if (__atomic_load_n(&r->gw6_mac, __ATOMIC_RELAXED) == 0) {
			drop(lc, m, TR_DROP_SRV_NO_NATIVE);
			return;
		}
		/* Hop limit unchanged, trailers stripped (Miredo; D77). */
		m->ol_flags = 0;
		tr_decap_mbuf(lc, m, v.ip6_off, v.ip6_len);
		TR_INC(&lc->cnt, srv_fwd_native);
		TR_INC(&lc->cnt, fwd_native);
		tr_tx(lc, lc->tx_native, m);
		return;
	case TR_SRV_FWD_TEREDO: {
		uint64_t mac = next_hop(lc, v.dst_ip);

		if (mac == 0) {
			drop(lc, m, TR_DROP_NO_NEXTHOP);
			return;
		}
		/* [origin] + the IPv6 packet with its trailers (RFC 6081 §4), from
		 * P:3544 whichever address received it (RFC 4380 §5.3.1). */
		uint32_t src_ip = load_be32(f + TR_ETH_HLEN + 12);
		uint16_t src_port = (uint16_t)(f[pl_off - 8] << 8 | f[pl_off - 7]);
		const uint16_t l2 = r->tx_l2_len[TR_SIDE_TEREDO];
		size_t head = l2 + TR_ENCAP_HLEN + (v.add_origin ? TR_ORIGIN_LEN : 0);

		rte_pktmbuf_adj(m, v.ip6_off);
		if (m->pkt_len > v.fwd_len)
			rte_pktmbuf_trim(m, (uint16_t)(m->pkt_len - v.fwd_len));
		uint8_t *o = (uint8_t *)rte_pktmbuf_prepend(m, (uint16_t)head);

		if (o == NULL) {
			drop(lc, m, TR_DROP_NO_MBUF);
			return;
		}
		if (v.add_origin)
			tr_origin_build(o + l2 + TR_ENCAP_HLEN, src_ip, src_port);
		m->ol_flags = 0;
		write_headers(lc, m, o, mac, r->srv.primary, v.dst_ip, v.dst_port,
			      m->pkt_len - l2 - TR_ENCAP_HLEN);
		m->port = r->port_teredo;
		TR_INC(&lc->cnt, srv_fwd_teredo);
		TR_INC(&lc->cnt, fwd_teredo);
		tr_tx(lc, lc->tx_teredo, m);
		return;
	}
	}
	drop(lc, m, TR_DROP_SRV_NOT_SERVED);     /* not reached */
}
