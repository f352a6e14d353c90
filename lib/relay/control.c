/* SPDX-License-Identifier: BSD-3-Clause
 *
 * The control lcore: the only writer of the peer table. It receives what the
 * workers cannot finish (unknown or unverified peers, bubbles that change
 * trust, ARP/ND, packets for the relay, ICMPv6 errors owed) and runs the
 * timers: bubble retries and give-up (RFC 4380 §5.4.1), idle expiry, and
 * next-hop resolution.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_hash.h>
#include <rte_ip.h>
#include <rte_jhash.h>
#include <rte_malloc.h>
#include <rte_random.h>

#include "ecn.h"
#include "control_priv.h"

static inline void drop(struct tr_control *c, struct rte_mbuf *m, enum tr_drop_reason why)
{
	TR_DROP_INC(&c->lc->cnt, why);
	rte_pktmbuf_free(m);
}

static inline uint32_t now32(const struct tr_control *c)
{
	return (uint32_t)c->now;
}

/* ------------------------------------------------------------ builders */

static struct rte_mbuf *new_frame(struct tr_control *c, uint16_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(c->r->pool);

	if (m == NULL) {
		TR_DROP_INC(&c->lc->cnt, TR_DROP_NO_MBUF);
		return NULL;
	}
	if (rte_pktmbuf_append(m, len) == NULL) {
		rte_pktmbuf_free(m);
		TR_DROP_INC(&c->lc->cnt, TR_DROP_NO_MBUF);
		return NULL;
	}
	return m;
}

/* Send the IPv6 packet at ip6_off of m to the native next hop, behind the
 * native side's Ethernet header (14 bytes untagged). */
static void send_native(struct tr_control *c, struct rte_mbuf *m, uint16_t ip6_off)
{
	struct tr_relay *r = c->r;
	struct rte_ether_addr dst;
	const uint16_t l2 = r->tx_l2_len[TR_SIDE_NATIVE];

	if (ip6_off < l2 && rte_pktmbuf_prepend(m, (uint16_t)(l2 - ip6_off)) == NULL) {
		drop(c, m, TR_DROP_NO_MBUF);
		return;
	}
	if (ip6_off > l2)
		rte_pktmbuf_adj(m, (uint16_t)(ip6_off - l2));

	tr_u64_to_mac(__atomic_load_n(&r->gw6_mac, __ATOMIC_RELAXED), &dst);
	tr_l2_put(r, TR_SIDE_NATIVE, m, rte_pktmbuf_mtod(m, uint8_t *), dst.addr_bytes,
		  TR_ETHERTYPE_IPV6);
	m->port = r->port_native;
	tr_tx(c->lc, c->lc->tx_native, m);
}

/*
 * ICMPv6 error about the invoking IPv6 packet inv (RFC 4443), rate limited
 * (§2.4(f)). to_client: the invoking packet came from a trusted Teredo
 * client at (ip, port); the error goes back encapsulated.
 */
static void icmp6_error(struct tr_control *c, uint8_t type, uint8_t code, uint32_t param,
			const uint8_t *inv, size_t inv_len, bool to_client, uint32_t ip, uint16_t port)
{
	struct tr_relay *r = c->r;

	if (!tr_icmp6_error_allowed(inv, inv_len))
		return;
	if (!tr_bucket_take(&c->icmp_bucket, c->now, r->cfg.icmp6_rate, r->cfg.icmp6_burst)) {
		TR_INC(&c->lc->cnt, icmp6_ratelimited);
		return;
	}
	uint8_t buf[TR_MTU_DEFAULT];
	size_t len = tr_build_icmp6_error(buf, sizeof(buf), type, code, param, r->id.ipv6, inv, inv_len);
	if (len == 0)
		return;
	uint16_t off = to_client ? TR_ETH_HLEN + TR_ENCAP_HLEN : r->tx_l2_len[TR_SIDE_NATIVE];
	struct rte_mbuf *m = new_frame(c, (uint16_t)(off + len));
	if (m == NULL)
		return;
	memcpy(rte_pktmbuf_mtod_offset(m, uint8_t *, off), buf, len);
	TR_INC(&c->lc->cnt, icmp6_sent);
	if (to_client) {
		uint64_t mac = tr_nh4_resolve(c, ip);

		if (mac == 0 || tr_encap_mbuf(c->lc, m, off, (uint16_t)len, ip, port, mac) != 0) {
			rte_pktmbuf_free(m);
			return;
		}
		tr_tx(c->lc, c->lc->tx_teredo, m);
	} else {
		send_native(c, m, off);
	}
}

/* Convenience: error about the IPv6 packet inside mbuf m at ip6_off. */
static void icmp6_about(struct tr_control *c, struct rte_mbuf *m, uint16_t ip6_off,
			uint16_t ip6_len, uint8_t type, uint8_t code, uint32_t param)
{
	icmp6_error(c, type, code, param, rte_pktmbuf_mtod_offset(m, uint8_t *, ip6_off), ip6_len,
		    false, 0, 0);
}

/* The relay's bubble source: fe80::/64 + a keyed hash of the peer and the
 * key epoch (notes §3(c)); U/G bits clear as Miredo does. A client answers
 * to that address, which proves it saw this bubble: the Miredo-compatible
 * half of symmetric-NAT support. */
static uint64_t bubble_iid(const struct tr_control *c, const uint8_t peer[16], uint64_t epoch)
{
	uint8_t msg[24];

	memcpy(msg, peer, 16);
	memcpy(msg + 16, &epoch, 8);
	return tr_siphash24(c->bubble_key, msg, sizeof(msg)) & ~(0x03ULL << 56);
}

/* The RFC 6081 Nonce trailer value of a verification round: a PRF of the
 * same key, so a pinned [bubbles] secret makes replays reproducible. */
static uint32_t trailer_nonce(const struct tr_control *c, const uint8_t peer[16], uint64_t epoch)
{
	uint8_t msg[25];

	memcpy(msg, peer, 16);
	memcpy(msg + 16, &epoch, 8);
	msg[24] = 1;
	return (uint32_t)tr_siphash24(c->bubble_key, msg, sizeof(msg));
}

static uint64_t nonce_epoch(const struct tr_control *c)
{
	return c->now / ((uint64_t)c->r->cfg.nonce_epoch_s * 1000);
}

/* A direct bubble from a mapping other than the embedded one is accepted
 * only if it proves knowledge of this round's nonce (RFC 6081 §5.2.4.4):
 * the Nonce trailer sent, or a destination naming the bubble source of the
 * current or previous key epoch. */
static bool nonce_proven(const struct tr_control *c, const struct tr_pend *s,
			 const struct tr_classified *cl, const uint8_t *ip6)
{
	static const uint8_t ll_prefix[8] = { 0xfe, 0x80 };

	if (cl->has_nonce && c->r->cfg.nonce_trailer && cl->nonce == s->nonce_sent)
		return true;
	if (memcmp(ip6 + 24, ll_prefix, 8) != 0)
		return false;
	uint64_t iid = 0;
	for (int i = 32; i < 40; i++)
		iid = iid << 8 | ip6[i];
	uint64_t e = nonce_epoch(c);
	return iid == bubble_iid(c, ip6 + 8, e) || (e > 0 && iid == bubble_iid(c, ip6 + 8, e - 1));
}

enum bubble_result {
	BUBBLE_SENT,
	BUBBLE_LIMITED,       /* rate limit or no mbuf: the regular retry tries again */
	BUBBLE_NO_NEXTHOP,    /* ARP is on its way: try again as soon as it can answer */
};

static enum bubble_result send_bubble(struct tr_control *c, struct tr_pend *s, struct tr_peer *p)
{
	struct tr_relay *r = c->r;
	struct tr_addr_info ai;
	const uint8_t *addr = tr_peer_key(r->peers, s->peer);

	if (addr == NULL || tr_addr_decode(addr, &ai) != 0)
		return BUBBLE_LIMITED;
	/* Never a packet cannon against Teredo servers (notes §4). */
	struct tr_bucket *sb = &c->server_bucket[rte_jhash_1word(ai.server, 0) & (TR_SERVER_BUCKETS - 1)];
	if (!tr_bucket_peek(&c->bubble_bucket, c->now, r->cfg.bubble_rate, r->cfg.bubble_rate) ||
	    !tr_bucket_take(sb, c->now, r->cfg.bubble_server_rate, r->cfg.bubble_server_rate)) {
		TR_INC(&c->lc->cnt, bubbles_ratelimited);
		return BUBBLE_LIMITED;
	}
	/* Combined box (RFC 4380 §5.4.3): a client of this process's own server
	 * role gets the bubble as that server would forward it — from P:3544
	 * with an origin indication of the relay — instead of a round trip to
	 * our own address, which the port would not hand back (D84). */
	const bool local = r->srv_on && ai.server == r->srv.primary &&
			   ai.client != r->srv.primary && ai.client != r->srv.secondary;
	uint64_t mac = tr_nh4_resolve(c, local ? ai.client : ai.server);
	if (mac == 0) {
		/* Not sent; the retry timer tries again once ARP has answered. */
		TR_INC(&c->lc->cnt, nexthop_misses);
		return BUBBLE_NO_NEXTHOP;
	}
	tr_bucket_take(&c->bubble_bucket, c->now, r->cfg.bubble_rate, r->cfg.bubble_rate);

	const uint16_t trailer = r->cfg.nonce_trailer ? 6 : 0;
	const uint16_t olen = local ? TR_ORIGIN_LEN : 0;
	struct rte_mbuf *m = new_frame(c, (uint16_t)(TR_ETH_HLEN + TR_ENCAP_HLEN + olen + TR_IPV6_HLEN + trailer));
	if (m == NULL)
		return BUBBLE_LIMITED;
	uint8_t src[16] = { 0xfe, 0x80 };
	uint64_t iid = bubble_iid(c, addr, nonce_epoch(c));

	for (int i = 15; i >= 8; i--, iid >>= 8)
		src[i] = (uint8_t)iid;
	const uint16_t off = (uint16_t)(TR_ETH_HLEN + TR_ENCAP_HLEN + olen);
	uint8_t *b = rte_pktmbuf_mtod_offset(m, uint8_t *, off);
	tr_build_bubble(b, src, addr);
	if (trailer != 0)
		tr_build_nonce_trailer(b + TR_IPV6_HLEN, s->nonce_sent);
	/* RFC 4380 §5.4.1 case 3: the indirect bubble goes to the server (or,
	 * for our own server's clients, straight on as it would forward it). */
	if (local) {
		/* Room for the Teredo side's tags in front (headroom). */
		const uint16_t l2 = r->tx_l2_len[TR_SIDE_TEREDO];
		uint8_t *f = (uint8_t *)rte_pktmbuf_prepend(m, (uint16_t)(l2 - TR_ETH_HLEN));
		struct rte_ether_addr d;

		tr_origin_build(f + l2 + TR_ENCAP_HLEN, r->id.ipv4, r->id.port);
		tr_u64_to_mac(mac, &d);
		tr_l2_put(r, TR_SIDE_TEREDO, m, f, d.addr_bytes, TR_ETHERTYPE_IPV4);
		tr_server_write_udp4(f + l2, r->srv.primary, ai.client, ai.port, c->lc->ip_id++,
				     r->cfg.ttl, (size_t)olen + TR_IPV6_HLEN + trailer);
		m->port = r->port_teredo;
	} else if (tr_encap_mbuf(c->lc, m, off, (uint16_t)(TR_IPV6_HLEN + trailer), ai.server,
			  TR_SERVER_PORT, mac) != 0) {
		rte_pktmbuf_free(m);
		return BUBBLE_LIMITED;
	}
	tr_tx(c->lc, c->lc->tx_teredo, m);
	/* §5.2.6: update the last transmission time, count the bubble. */
	p->last_tx = now32(c);
	if (p->bubbles == 0)
		s->first_bubble_ms = c->now;
	p->bubbles++;
	TR_INC(&c->lc->cnt, bubbles_sent);
	return BUBBLE_SENT;
}

/* Bubble now and arm the next attempt: the regular interval, or soon when
 * only the server's MAC address was missing (an ARP reply is due), so the
 * first contact does not wait a whole interval. */
static void bubble_and_arm(struct tr_control *c, uint32_t i, struct tr_pend *s, struct tr_peer *p)
{
	uint64_t next = c->r->cfg.bubble_interval_ms;

	if (send_bubble(c, s, p) == BUBBLE_NO_NEXTHOP)
		next = TR_NEXTHOP_RETRY_MS;
	tr_pend_arm(&c->pend, i, c->now + next);
}

/* ------------------------------------------------------- peer life cycle */

static void release_pending(struct tr_control *c, struct tr_peer *p)
{
	if (p->pend != TR_PEER_NO_SLOT) {
		tr_pend_release(&c->pend, p->pend);
		p->pend = TR_PEER_NO_SLOT;
	}
}

static void remove_peer(struct tr_control *c, struct tr_peer_ref ref)
{
	struct tr_peer *p = tr_peer_at(c->r->peers, ref);

	release_pending(c, p);
	tr_peer_del(c->r->peers, ref);
}

/* Verification failed (§5.4.1: "the entry is removed"): drop the queue with
 * one rate-limited Destination Unreachable each (Miredo TODO), remember the
 * peer so the 4-per-300 s rule holds across removal (§5.2.6). */
static void give_up(struct tr_control *c, struct tr_pend *s)
{
	struct tr_peer *p = tr_peer_at(c->r->peers, s->peer);
	struct rte_mbuf *m;

	while ((m = tr_pend_pop(&c->pend, p->pend)) != NULL) {
		icmp6_about(c, m, TR_ETH_HLEN, (uint16_t)(m->pkt_len - TR_ETH_HLEN), 1, 3, 0);
		drop(c, m, TR_DROP_TX_VERIFY_FAILED);
	}
	const uint8_t *addr = tr_peer_key(c->r->peers, s->peer);

	if (addr != NULL)
		tr_negcache_add(&c->neg, addr, s->first_bubble_ms + c->r->cfg.bubble_window_s * 1000ULL);
	TR_INC(&c->lc->cnt, peers_unverified_removed);
	remove_peer(c, s->peer);
}

static void pending_timer(struct tr_control *c, uint32_t i)
{
	struct tr_pend *s = &c->pend.slot[i];
	struct tr_peer *p = tr_peer_at(c->r->peers, s->peer);
	const struct tr_config *cfg = &c->r->cfg;

	if (p->bubbles >= cfg->bubble_max) {
		give_up(c, s);
		return;
	}
	/* §5.2.6: never two transmissions within the interval. */
	int32_t since = tr_ms_since(now32(c), p->last_tx);
	if (since < (int32_t)cfg->bubble_interval_ms) {
		tr_pend_arm(&c->pend, i, c->now + (uint64_t)(cfg->bubble_interval_ms - since));
		return;
	}
	bubble_and_arm(c, i, s, p);
}

/* Start (or continue) verification of peer p: give it a slot, bubble now if
 * pacing allows, arm the retry timer. */
static struct tr_pend *start_verify(struct tr_control *c, struct tr_peer_ref ref, bool reverify)
{
	struct tr_peer *p = tr_peer_at(c->r->peers, ref);

	if (p->pend != TR_PEER_NO_SLOT)
		return &c->pend.slot[p->pend];
	uint32_t i = tr_pend_alloc(&c->pend, ref);
	if (i == TR_PEND_NONE)
		return NULL;
	struct tr_pend *s = &c->pend.slot[i];

	p->pend = i;
	p->bubbles = 0;
	s->reverify = reverify;
	s->nonce_sent = trailer_nonce(c, tr_peer_key(c->r->peers, ref), nonce_epoch(c));
	if (tr_ms_since(now32(c), p->last_tx) >= (int32_t)c->r->cfg.bubble_interval_ms)
		bubble_and_arm(c, i, s, p);
	else
		tr_pend_arm(&c->pend, i, c->now + c->r->cfg.bubble_interval_ms);
	return s;
}

/* State file (D96): a verification that was running when the relay stopped
 * goes on where it was — its bubble count, its window, its nonce (the
 * secret and the clock are the earlier run's) — with the next bubble once
 * the interval since the last one is over, so a client's answer to a
 * bubble sent before the restart still proves its mapping. */
bool tr_control_resume_verify(struct tr_control *c, struct tr_peer_ref ref, uint64_t started_ms)
{
	struct tr_peer *p = tr_peer_at(c->r->peers, ref);
	const uint8_t *key = tr_peer_key(c->r->peers, ref);
	uint32_t i = tr_pend_alloc(&c->pend, ref);

	if (i == TR_PEND_NONE || key == NULL)
		return false;
	struct tr_pend *s = &c->pend.slot[i];
	const uint32_t ival = c->r->cfg.bubble_interval_ms;
	int32_t since = tr_ms_since(now32(c), p->last_tx);

	p->pend = i;
	s->reverify = false;
	s->first_bubble_ms = started_ms;
	s->nonce_sent = trailer_nonce(c, key, started_ms / ((uint64_t)c->r->cfg.nonce_epoch_s * 1000));
	tr_pend_arm(&c->pend, i, c->now + (since >= (int32_t)ival ? 0 : (uint64_t)(ival - (uint32_t)since)));
	return true;
}

/* Room for one more peer in the shard of key: evict the stalest trusted
 * peer among a few sampled (pending ones have their own budget and die on
 * their own in 8 s). */
static bool make_room(struct tr_control *c, const uint8_t key[16])
{
	struct tr_peer_table *t = c->r->peers;
	uint32_t s = tr_peer_shard_of(t, key);
	struct tr_peer_shard *sh = &t->shard[s];
	int32_t best = -1;
	int32_t best_age = -1;

	for (unsigned k = 0; k < 64; k++) {
		uint32_t pos = (uint32_t)(rte_rand() % sh->capacity);
		struct tr_peer *p = &sh->peers[pos];
		uint64_t mp = tr_peer_load_mapping(p);

		if (tr_map_state(mp) != TR_PEER_TRUSTED || p->pend != TR_PEER_NO_SLOT)
			continue;
		int32_t age = tr_ms_since(now32(c), p->last_rx);
		if (age > best_age) {
			best_age = age;
			best = (int32_t)pos;
		}
	}
	if (best < 0)
		return false;
	remove_peer(c, (struct tr_peer_ref){ .shard = s, .pos = best });
	TR_INC(&c->lc->cnt, peers_evicted);
	return true;
}

/* Queue a native packet for a peer under verification. */
static void enqueue(struct tr_control *c, struct tr_peer *p, struct rte_mbuf *m,
		    uint16_t ip6_len)
{
	const struct tr_config *cfg = &c->r->cfg;

	if (!tr_pend_push(&c->pend, p->pend, m, ip6_len, cfg->peer_queue_pkts,
			  cfg->peer_queue_bytes, c->queue_cap)) {
		drop(c, m, TR_DROP_TX_QUEUE_OVERFLOW);
		return;
	}
	TR_INC(&c->lc->cnt, queued);
}

/* Encapsulate one native packet (Ethernet + IPv6 at ip6_off) to a trusted peer. */
static void encap_send(struct tr_control *c, struct rte_mbuf *m, uint16_t ip6_off,
		       uint16_t ip6_len, struct tr_peer *p, uint64_t mp)
{
	uint64_t mac = tr_nh4_resolve(c, tr_map_ip(mp));

	if (mac == 0) {
		drop(c, m, TR_DROP_NO_NEXTHOP);
		return;
	}
	tr_ipv6_dec_hop(rte_pktmbuf_mtod_offset(m, uint8_t *, ip6_off));
	if (tr_encap_mbuf(c->lc, m, ip6_off, ip6_len, tr_map_ip(mp), tr_map_port(mp), mac) != 0) {
		drop(c, m, TR_DROP_NO_MBUF);
		return;
	}
	p->last_tx = now32(c);
	TR_INC(&c->lc->cnt, encapsulated);
	TR_INC(&c->lc->cnt, fwd_teredo);
	tr_tx(c->lc, c->lc->tx_teredo, m);
}

/* ---------------------------------------------------- native -> Teredo */

static void native_slow(struct tr_control *c, struct rte_mbuf *m, const struct tr_classified *cl)
{
	struct tr_relay *r = c->r;
	const uint8_t *dst = rte_pktmbuf_mtod_offset(m, const uint8_t *, cl->ip6_off + 24);
	struct tr_peer_ref ref = tr_peer_lookup(r->peers, dst);

	if (ref.pos >= 0) {
		struct tr_peer *p = tr_peer_at(r->peers, ref);
		uint64_t mp = tr_peer_load_mapping(p);
		bool trusted = tr_map_state(mp) == TR_PEER_TRUSTED;

		/* §5.4.1 case 1 (trusted while the packet was in the ring). */
		if (trusted && p->pend == TR_PEER_NO_SLOT &&
		    tr_ms_since(now32(c), p->last_rx) < (int32_t)(r->cfg.validity_s * 1000)) {
			encap_send(c, m, cl->ip6_off, cl->ip6_len, p, mp);
			return;
		}
		/* Pending, or trusted but no longer valid (§5.2.4): queue and
		 * (re-)verify with bubbles; a trusted peer stays trusted. */
		struct tr_pend *s = start_verify(c, ref, trusted);
		if (s == NULL) {
			drop(c, m, TR_DROP_TX_PEER_TABLE_FULL);
			return;
		}
		enqueue(c, p, m, cl->ip6_len);
		return;
	}

	/* No entry: §5.2.6 4-per-300 s survives the entry's removal. */
	if (tr_negcache_active(&c->neg, dst, c->now)) {
		icmp6_about(c, m, cl->ip6_off, cl->ip6_len, 1, 3, 0);
		drop(c, m, TR_DROP_TX_BUBBLE_LIMIT);
		return;
	}
	if (c->pend.n_free == 0) {
		drop(c, m, TR_DROP_TX_PEER_TABLE_FULL);
		return;
	}
	struct tr_addr_info ai;
	tr_addr_decode(dst, &ai);   /* the classifier checked it is Teredo */
	/* §5.4.1 case 3 (the cone bit is ignored, RFC 5991 §3.2): an untrusted
	 * entry whose mapping is the embedded one until a packet proves it. */
	ref = tr_peer_add(r->peers, dst, ai.client, ai.port, now32(c));
	if (ref.pos < 0 && make_room(c, dst))
		ref = tr_peer_add(r->peers, dst, ai.client, ai.port, now32(c));
	if (ref.pos < 0) {
		drop(c, m, TR_DROP_TX_PEER_TABLE_FULL);
		return;
	}
	TR_INC(&c->lc->cnt, peers_created);
	start_verify(c, ref, false);   /* a slot is free: checked above */
	enqueue(c, tr_peer_at(r->peers, ref), m, cl->ip6_len);
}

/* ---------------------------------------------------- Teredo -> native */

/* §5.4.2 step 7: the entry becomes trusted; flush its queue in arrival
 * order to the mapping just proven (§5.4.1 "SHOULD be de-queued"). */
static void trust(struct tr_control *c, struct tr_peer *p, uint32_t ip, uint16_t port)
{
	uint64_t old = tr_peer_load_mapping(p);

	p->last_rx = now32(c);
	p->bubbles = 0;
	tr_peer_set_mapping(p, ip, port, TR_PEER_TRUSTED);
	if (tr_map_state(old) != TR_PEER_TRUSTED || p->pend != TR_PEER_NO_SLOT)
		TR_INC(&c->lc->cnt, peers_trusted);
	if (p->pend == TR_PEER_NO_SLOT)
		return;
	uint64_t mp = tr_peer_load_mapping(p);
	struct rte_mbuf *m;

	while ((m = tr_pend_pop(&c->pend, p->pend)) != NULL) {
		TR_INC(&c->lc->cnt, flushed);
		encap_send(c, m, TR_ETH_HLEN, (uint16_t)(m->pkt_len - TR_ETH_HLEN), p, mp);
	}
	release_pending(c, p);
}

static void teredo_slow(struct tr_control *c, struct rte_mbuf *m, const struct tr_classified *cl)
{
	struct tr_relay *r = c->r;
	const uint8_t *ip6 = rte_pktmbuf_mtod_offset(m, const uint8_t *, cl->ip6_off);
	struct tr_peer_ref ref = tr_peer_lookup(r->peers, ip6 + 8);

	if (ref.pos < 0 && cl->mapping_ok && r->cfg.accept_unknown) {
		/* RFC 4380 §5.4.2 MAY: a packet from the embedded mapping is proof
		 * enough; the entry is created here and trusted just below. */
		ref = tr_peer_add(r->peers, ip6 + 8, cl->src_ip, cl->src_port, now32(c));
		if (ref.pos < 0 && make_room(c, ip6 + 8))
			ref = tr_peer_add(r->peers, ip6 + 8, cl->src_ip, cl->src_port, now32(c));
		if (ref.pos < 0) {
			drop(c, m, TR_DROP_TX_PEER_TABLE_FULL);
			return;
		}
		TR_INC(&c->lc->cnt, peers_created);
	}
	if (ref.pos < 0) {
		drop(c, m, cl->mapping_ok ? TR_DROP_RX_UNKNOWN_PEER : TR_DROP_RX_MAPPING_MISMATCH);
		return;
	}
	struct tr_peer *p = tr_peer_at(r->peers, ref);
	uint64_t mp = tr_peer_load_mapping(p);
	bool stored_ok = tr_map_state(mp) == TR_PEER_TRUSTED && tr_map_ip(mp) == cl->src_ip &&
			 tr_map_port(mp) == cl->src_port;

	/* §5.4.2 step 5: the outer source must be the embedded mapping (or the
	 * one already verified) — or, for a bubble answering our verification
	 * of this peer, prove the nonce (symmetric NAT, RFC 6081 §5.2.4.4). A
	 * trusted peer is never re-mapped by a bubble: that is the hijack
	 * Miredo allows (notes §5.8 item 4). */
	if (!cl->mapping_ok && !stored_ok) {
		if (!cl->bubble || p->pend == TR_PEER_NO_SLOT) {
			drop(c, m, TR_DROP_RX_MAPPING_MISMATCH);
			return;
		}
		if (!nonce_proven(c, &c->pend.slot[p->pend], cl, ip6)) {
			drop(c, m, TR_DROP_RX_BAD_NONCE);
			return;
		}
		TR_INC(&c->lc->cnt, nonce_accepted);
	}
	/* On link, the frame that proves the mapping also tells its MAC. */
	tr_nh4_learn(c, cl->src_ip, rte_pktmbuf_mtod_offset(m, const uint8_t *, 6));
	trust(c, p, cl->src_ip, cl->src_port);

	if (cl->bubble) {
		/* §5.2.3: bubbles are consumed, never forwarded. */
		TR_INC(&c->lc->cnt, bubbles_received);
		TR_INC(&c->lc->cnt, consumed);
		rte_pktmbuf_free(m);
		return;
	}
	if (cl->post_reason != TR_DROP_NONE) {
		if (cl->icmp_type != 0)
			icmp6_error(c, cl->icmp_type, cl->icmp_code, cl->icmp_param, ip6, cl->ip6_len,
				    true, cl->src_ip, cl->src_port);
		drop(c, m, cl->post_reason);
		return;
	}
	if (__atomic_load_n(&r->gw6_mac, __ATOMIC_RELAXED) == 0) {
		drop(c, m, TR_DROP_NO_NEXTHOP);
		return;
	}
	if (!tr_ecn_decap_frame(rte_pktmbuf_mtod(m, uint8_t *), cl->l3_off, cl->ip6_off)) {
		drop(c, m, TR_DROP_RX_ECN_CE_NOT_ECT);
		return;
	}
	if (cl->origin_seen)
		TR_INC(&c->lc->cnt, origin_ignored);
	tr_ipv6_dec_hop(rte_pktmbuf_mtod_offset(m, uint8_t *, cl->ip6_off));
	tr_decap_mbuf(c->lc, m, cl->ip6_off, cl->ip6_len);
	TR_INC(&c->lc->cnt, decapsulated);
	TR_INC(&c->lc->cnt, fwd_native);
	tr_tx(c->lc, c->lc->tx_native, m);
}

/* ------------------------------------------------------ for the relay */

static void local6(struct tr_control *c, struct rte_mbuf *m, const struct tr_classified *cl)
{
	uint8_t *ip6 = rte_pktmbuf_mtod_offset(m, uint8_t *, cl->ip6_off);

	/* Echo requests to the relay's own address are answered (operators
	 * ping their relays); anything else for the relay is dropped. */
	if (cl->ip6_len < TR_IPV6_HLEN + 8 || ip6[6] != TR_NH_ICMPV6 || ip6[40] != 128 ||
	    ip6[41] != 0) {
		drop(c, m, TR_DROP_LOCAL_UNHANDLED);
		return;
	}
	uint8_t tmp[16];

	memcpy(tmp, ip6 + 8, 16);
	memcpy(ip6 + 8, ip6 + 24, 16);
	memcpy(ip6 + 24, tmp, 16);
	ip6[7] = 64;
	ip6[40] = 129;
	ip6[42] = ip6[43] = 0;
	uint16_t ck = tr_ipv6_l4_cksum(ip6 + 8, ip6 + 24, TR_NH_ICMPV6, ip6 + 40,
				       (size_t)cl->ip6_len - TR_IPV6_HLEN);
	memcpy(ip6 + 42, &ck, 2);
	if (m->pkt_len > (uint32_t)cl->ip6_off + cl->ip6_len)
		rte_pktmbuf_trim(m, (uint16_t)(m->pkt_len - cl->ip6_off - cl->ip6_len));
	TR_INC(&c->lc->cnt, echo_replies);
	TR_INC(&c->lc->cnt, consumed);
	send_native(c, m, cl->ip6_off);
}

static void handle_one(struct tr_control *c, struct rte_mbuf *m);

static void free_death_row(struct tr_control *c, enum tr_drop_reason why)
{
	struct rte_ip_frag_death_row *dr = &c->death_row;

	c->lc->cnt.drops[why] += dr->cnt;
	c->reasm_held -= dr->cnt;
	rte_ip_frag_free_death_row(dr, 0);
}

/* A fragment for the relay: hold it until the datagram is whole, then
 * classify the datagram like any other (notes §3(f), T40). */
static void reassemble(struct tr_control *c, struct rte_mbuf *m)
{
	struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, TR_ETH_HLEN);

	m->l2_len = TR_ETH_HLEN;
	m->l3_len = (uint16_t)((ip->version_ihl & 0x0f) * 4);
	c->reasm_held++;
	struct rte_mbuf *whole = rte_ipv4_frag_reassemble_packet(c->frag_tbl, &c->death_row, m,
								 c->now, ip);
	free_death_row(c, TR_DROP_RX_REASM_FAILED);
	if (whole == NULL)
		return;
	/* Every fragment but the one that carries on as the datagram is absorbed. */
	c->reasm_held -= whole->nb_segs;
	TR_ADD(&c->lc->cnt, consumed, (uint64_t)whole->nb_segs - 1);
	if (rte_pktmbuf_linearize(whole) != 0) {
		drop(c, whole, TR_DROP_NO_MBUF);
		return;
	}
	ip = rte_pktmbuf_mtod_offset(whole, struct rte_ipv4_hdr *, TR_ETH_HLEN);
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	handle_one(c, whole);
}

static void handle_one(struct tr_control *c, struct rte_mbuf *m)
{
	struct tr_classified cl;

	tr_classify(&c->r->id, rte_pktmbuf_mtod(m, const uint8_t *), m->data_len, &cl);
	switch (cl.kind) {
	case TR_K_DROP:
		/* Workers hand over only drops that owe an ICMPv6 error. */
		if (cl.icmp_type != 0)
			icmp6_about(c, m, cl.ip6_off, cl.ip6_len, cl.icmp_type, cl.icmp_code,
				    cl.icmp_param);
		drop(c, m, cl.reason);
		break;
	case TR_K_TEREDO:
		teredo_slow(c, m, &cl);
		break;
	case TR_K_NATIVE:
		native_slow(c, m, &cl);
		break;
	case TR_K_ARP:
		tr_neigh_arp(c, m, &cl);
		break;
	case TR_K_ND:
		tr_neigh_nd(c, m, &cl);
		break;
	case TR_K_LOCAL6:
		local6(c, m, &cl);
		break;
	case TR_K_V4_FRAG:
		reassemble(c, m);
		break;
	}
}

void tr_control_handle(struct tr_control *c, struct rte_mbuf **pkts, unsigned n)
{
	c->now = tr_clock_ms(&c->r->clock);
	for (unsigned i = 0; i < n; i++)
		handle_one(c, pkts[i]);
}

unsigned tr_control_poll_ring(struct tr_control *c)
{
	struct rte_mbuf *pkts[TR_BURST_MAX];
	unsigned n = rte_ring_sc_dequeue_burst(c->r->to_ctrl, (void **)pkts, TR_BURST_MAX, NULL);

	if (n > 0)
		tr_control_handle(c, pkts, n);
	return n;
}

/* ------------------------------------------------------------- timers */

/* Idle trusted peers leave after idle_timeout without traffic either way. */
static void sweep(struct tr_control *c, uint32_t budget)
{
	struct tr_peer_table *t = c->r->peers;
	const int32_t idle = (int32_t)(c->r->cfg.idle_timeout_s * 1000);

	for (uint32_t s = 0; s < t->n_shards; s++) {
		struct tr_peer_shard *sh = &t->shard[s];
		uint32_t n = RTE_MIN(budget, sh->capacity);

		for (uint32_t k = 0; k < n; k++) {
			uint32_t pos = sh->sweep_cursor;
			struct tr_peer *p = &sh->peers[pos];

			sh->sweep_cursor = pos + 1 == sh->capacity ? 0 : pos + 1;
			if (tr_map_state(tr_peer_load_mapping(p)) != TR_PEER_TRUSTED ||
			    p->pend != TR_PEER_NO_SLOT)
				continue;
			if (tr_ms_since(now32(c), p->last_rx) >= idle &&
			    tr_ms_since(now32(c), p->last_tx) >= idle) {
				tr_peer_del(t, (struct tr_peer_ref){ .shard = s, .pos = (int32_t)pos });
				TR_INC(&c->lc->cnt, peers_expired);
			}
		}
	}
}

/* A worker that stops polling (stuck, starved of its CPU) shows as a
 * heartbeat that no longer moves: reported once in the log and in
 * telemetry (stalled), and again when it comes back. Normal mode only:
 * replay workers idle legitimately between groups. */
static void watchdog(struct tr_control *c)
{
	struct tr_relay *r = c->r;

	if (r->replay || c->now - c->last_watchdog_ms < TR_WATCHDOG_PERIOD_MS)
		return;
	c->last_watchdog_ms = c->now;
	for (unsigned w = 0; w < r->n_workers; w++) {
		struct tr_lcore *lc = &r->lc[r->worker_lcore[w]];
		uint64_t hb = __atomic_load_n(&lc->heartbeat, __ATOMIC_RELAXED);

		if (lc->hb_seen_ms == 0) {
			/* First look: the stall clock starts now, not at clock 0
			 * (a worker launched late looked stalled for the whole
			 * time before, as tr_bench's preload showed). */
			lc->hb_seen = hb;
			lc->hb_seen_ms = c->now;
		} else if (hb != lc->hb_seen) {
			if (lc->stalled)
				fprintf(stderr, "terelay: worker lcore %u polling again\n", lc->lcore_id);
			lc->hb_seen = hb;
			lc->hb_seen_ms = c->now;
			__atomic_store_n(&lc->stalled, false, __ATOMIC_RELAXED);
		} else if (!lc->stalled && c->now - lc->hb_seen_ms >= TR_WORKER_STALL_MS) {
			fprintf(stderr, "terelay: worker lcore %u stalled: no poll for %" PRIu64 " ms\n",
				lc->lcore_id, c->now - lc->hb_seen_ms);
			__atomic_store_n(&lc->stalled, true, __ATOMIC_RELAXED);
		}
	}
}

unsigned tr_control_stalled_workers(const struct tr_control *c)
{
	unsigned n = 0;

	for (unsigned w = 0; w < c->r->n_workers; w++)
		n += __atomic_load_n(&c->r->lc[c->r->worker_lcore[w]].stalled, __ATOMIC_RELAXED);
	return n;
}

void tr_control_tick(struct tr_control *c, bool full_sweep)
{
	uint32_t i;

	c->now = tr_clock_ms(&c->r->clock);
	while ((i = tr_pend_due(&c->pend, c->now)) != TR_PEND_NONE)
		pending_timer(c, i);
	rte_ip_frag_table_del_expired_entries(c->frag_tbl, &c->death_row, c->now);
	free_death_row(c, TR_DROP_RX_REASM_TIMEOUT);
	if (full_sweep)
		sweep(c, UINT32_MAX);
	else if (c->now - c->last_sweep_ms >= 10) {
		sweep(c, 256);
		c->last_sweep_ms = c->now;
	}
	tr_neigh_tick(c);
	watchdog(c);
}

uint64_t tr_control_next_due(const struct tr_control *c, bool *peer_timer)
{
	uint64_t pend = tr_pend_next_deadline(&c->pend);
	uint64_t house = c->now + TR_CONTROL_PERIOD_MS;

	*peer_timer = pend != UINT64_MAX;
	return pend < house ? (pend > c->now ? pend : c->now + 1) : house;
}

/* --------------------------------------------------------- life cycle */

struct tr_control *tr_control_create(struct tr_relay *r)
{
	struct tr_control *c = rte_zmalloc("tr_control", sizeof(*c), RTE_CACHE_LINE_SIZE);

	if (c == NULL)
		return NULL;
	c->r = r;
	c->lc = &r->lc[r->control_lcore];
	if (tr_pend_pool_init(&c->pend, r->cfg.pending_max, (int)rte_socket_id()) != 0 ||
	    tr_negcache_init(&c->neg, r->cfg.negative_cache) != 0) {
		tr_control_free(c);
		return NULL;
	}
	/* Clock in ms, so max_cycles is the time-out in ms. Fragments wait
	 * in mbufs of the rx pool, up to RTE_LIBRTE_IP_FRAG_MAX_FRAG per
	 * datagram: like the packet queues (below) they may hold at most a
	 * quarter of the pool, or a fragment flood would starve rx. */
	c->reasm_flows = RTE_MAX(16u, RTE_MIN((uint32_t)TR_REASM_MAX_FLOWS,
					      r->cfg.mbufs / 4 / RTE_LIBRTE_IP_FRAG_MAX_FRAG));
	c->frag_tbl = rte_ip_frag_table_create(TR_REASM_BUCKETS, TR_REASM_BUCKET_ENTRIES,
					       c->reasm_flows, TR_REASM_TIMEOUT_MS,
					       (int)rte_socket_id());
	if (c->frag_tbl == NULL) {
		tr_control_free(c);
		return NULL;
	}
	if (r->cfg.bubble_secret_set) {
		memcpy(c->bubble_key, r->cfg.bubble_secret, sizeof(c->bubble_key));
	} else {
		for (unsigned i = 0; i < sizeof(c->bubble_key); i += 8) {
			uint64_t v = rte_rand();
			memcpy(c->bubble_key + i, &v, 8);
		}
	}
	/* Queued packets hold mbufs: if they could take the whole pool, the
	 * rx queues would starve and the relay would stop receiving. A quarter
	 * of the pool is the most the queues may hold. */
	c->queue_cap = RTE_MIN(r->cfg.global_queue_pkts, r->cfg.mbufs / 4);
	c->now = tr_clock_ms(&r->clock);
	return c;
}

void tr_control_free(struct tr_control *c)
{
	if (c == NULL)
		return;
	tr_pend_pool_free(&c->pend);
	tr_negcache_free(&c->neg);
	if (c->frag_tbl != NULL) {
		rte_ip_frag_table_del_expired_entries(c->frag_tbl, &c->death_row, UINT64_MAX);
		rte_ip_frag_free_death_row(&c->death_row, 0);
		rte_ip_frag_table_destroy(c->frag_tbl);
	}
	rte_free(c);
}

struct tr_lcore *tr_control_lcore(struct tr_control *c)
{
	return c->lc;
}

uint32_t tr_control_pending_count(const struct tr_control *c)
{
	return c->pend.cap - c->pend.n_free;
}

uint32_t tr_control_queued_count(const struct tr_control *c)
{
	return c->pend.q_total;
}

uint32_t tr_control_reasm_held(const struct tr_control *c)
{
	return c->reasm_held;
}

unsigned tr_control_poll(struct tr_control *c)
{
	uint64_t t0 = rte_rdtsc();
	unsigned n = tr_control_poll_ring(c);

	tr_control_tick(c, false);
	tr_tx_flush_all(c->lc);
	uint64_t t1 = rte_rdtsc();
	if (n > 0) {
		TR_INC(&c->lc->cnt, polls_busy);
		TR_ADD(&c->lc->cnt, cycles_busy, t1 - t0);
	} else {
		TR_INC(&c->lc->cnt, polls_idle);
		TR_ADD(&c->lc->cnt, cycles_idle, t1 - t0);
	}
	return n;
}
