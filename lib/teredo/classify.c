/* SPDX-License-Identifier: BSD-3-Clause
 *
 * tr_classify(): the stateless half of the relay pipeline. One Ethernet frame
 * in, one verdict out: what kind of packet it is, or exactly one drop reason.
 *
 * Order of checks (first failing step decides the reason):
 *  - Teredo side: RFC 4380 §5.4.2, notes §3(b): IPv4 sanity, relay address,
 *    loop guard, fragments, UDP, port, source scope, UDP checksum, payload
 *    demultiplexing (§5.1.1), IPv6 validity, RFC 6081 §4 trailers, Teredo
 *    source. The destination filter (§5.4.2 "served range", router duties)
 *    is reported separately in post_reason because the caller applies it only
 *    after the stateful peer checks (mapping, trust, nonce).
 *  - Native side: RFC 4380 §5.4.1, notes §3(a): IPv6 validity, ND and
 *    packets for the relay itself, destination/source filters, embedded
 *    address checks (§5.4.1 MUST, §5.2.4), loop guard, router duties.
 *
 * Every read is bounds-checked against the frame length; nothing is
 * allocated; the frame is never written.
 */
#include <string.h>

#include "policy.h"
#include "teredo.h"

#define IPV4_MF          0x2000u
#define IPV4_OFF_MASK    0x1fffu
#define ICMP6_NS         135
#define ICMP6_NA         136
#define ICMP6_PKT_TOO_BIG 2
#define ICMP6_TIME_EXCEEDED 3
#define TRAILER_NONCE    0x01    /* RFC 6081 §4.2 */
#define TRAILER_NONCE_LEN 4

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static inline uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Fields documented as "TR_K_TEREDO only" are cleared on every drop, so a
 * dropped frame never carries half-collected Teredo state. */
static inline void drop(struct tr_classified *out, enum tr_drop_reason why)
{
	out->kind = TR_K_DROP;
	out->reason = why;
	out->origin_seen = false;
	out->has_nonce = false;
	out->nonce = 0;
}

/* ip6_len is 16 bits; a native frame could in theory carry 40 + 65535 bytes.
 * Saturate rather than wrap: such a packet is dropped as too big anyway, and
 * the ICMPv6 quote is cut to 1280 bytes by the builder. */
static inline uint16_t sat16(size_t v)
{
	return v > UINT16_MAX ? UINT16_MAX : (uint16_t)v;
}

static void set_icmp(struct tr_classified *out, const uint8_t *ip6, size_t ip6_len,
		     uint8_t type, uint8_t code, uint32_t param)
{
	if (!tr_icmp6_error_allowed(ip6, ip6_len))   /* RFC 4443 §2.4(e), policy.c */
		return;
	out->icmp_type = type;
	out->icmp_code = code;
	out->icmp_param = param;
}

/* ff02::1:ffXX:XXXX (RFC 4291 §2.7.1) of the relay's own address. */
static bool is_solicited_node_of(const uint8_t dst[16], const uint8_t self[16])
{
	static const uint8_t pfx[13] = { 0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff };

	return memcmp(dst, pfx, sizeof(pfx)) == 0 && memcmp(dst + 13, self + 13, 3) == 0;
}

static bool is_all_nodes(const uint8_t dst[16])
{
	static const uint8_t all_nodes[16] = { 0xff, 0x02, [15] = 0x01 };

	return memcmp(dst, all_nodes, 16) == 0;
}

/* ------------------------------------------------------------ native side */

static void classify_native(const struct tr_relay_id *r, const uint8_t *frame, size_t len,
			    struct tr_classified *out)
{
	const size_t off = TR_ETH_HLEN;
	const uint8_t *ip6 = frame + off;
	size_t rem = len - off;

	out->l3_off = (uint16_t)off;
	out->ip6_off = (uint16_t)off;

	/* RFC 8200 §3: fixed header, version 6, payload inside the frame.
	 * Bytes beyond 40 + plen are Ethernet padding and are ignored. */
	if (rem < TR_IPV6_HLEN || (ip6[0] >> 4) != 6) {
		drop(out, TR_DROP_TX_BAD_IPV6);
		return;
	}
	size_t ip6_len = TR_IPV6_HLEN + (size_t)rd16(ip6 + 4);
	if (ip6_len > rem) {
		drop(out, TR_DROP_TX_BAD_IPV6);
		return;
	}
	out->ip6_len = sat16(ip6_len);

	const uint8_t *src = ip6 + 8;
	const uint8_t *dst = ip6 + 24;

	/* Neighbour discovery for the relay's native address (RFC 4861 §7.2):
	 * NS to us or to our solicited-node group, NA to us or to all-nodes
	 * (unsolicited advertisements, §7.2.6). Validation is tr_nd_parse's. */
	if (ip6[6] == TR_NH_ICMPV6 && ip6_len > TR_IPV6_HLEN &&
	    (ip6[TR_IPV6_HLEN] == ICMP6_NS || ip6[TR_IPV6_HLEN] == ICMP6_NA)) {
		uint8_t type = ip6[TR_IPV6_HLEN];
		bool for_us = memcmp(dst, r->ipv6, 16) == 0 || is_solicited_node_of(dst, r->ipv6) ||
			      (type == ICMP6_NA && is_all_nodes(dst));
		if (for_us) {
			struct tr_nd nd;
			if (tr_nd_parse(ip6, ip6_len, &nd) != 0 ||
			    (type == ICMP6_NS && memcmp(nd.target, r->ipv6, 16) != 0)) {
				drop(out, TR_DROP_ND_MALFORMED);
				return;
			}
			out->kind = TR_K_ND;
			return;
		}
	}

	if (memcmp(dst, r->ipv6, 16) == 0) {
		out->kind = TR_K_LOCAL6;
		return;
	}

	/* Miredo relay.c:351: never encapsulate to multicast. */
	if (tr_ipv6_is_multicast(dst)) {
		drop(out, TR_DROP_TX_DST_MULTICAST);
		return;
	}
	/* Notes §3(a) step 5, §4: a multicast or unspecified source cannot be
	 * answered, no legitimate path brings a Teredo source to the native
	 * side (spoofing / Teredo-to-Teredo laundering), and a link-local,
	 * loopback or IPv4-mapped source must not be forwarded off its link
	 * (RFC 4291 §2.5.3, §2.5.5.2, §2.5.6). */
	if (!tr_ipv6_is_global_unicast(src) || tr_is_teredo(src)) {
		drop(out, TR_DROP_TX_SRC_INVALID);
		return;
	}
	/* RFC 4380 §5.4.1: only valid Teredo destinations go over UDP. Silent:
	 * a misrouted packet gets no ICMPv6 (docs/decisions.md D1). */
	if (!tr_is_teredo(dst)) {
		drop(out, TR_DROP_TX_NOT_TEREDO);
		return;
	}

	struct tr_addr_info ai;
	if (tr_addr_decode(dst, &ai) != 0) {        /* cannot happen after tr_is_teredo */
		drop(out, TR_DROP_TX_NOT_TEREDO);
		return;
	}
	/* RFC 4380 §5.4.1 MUST: embedded client IPv4 global, else silently
	 * discard, before any state is created. */
	if (!tr_ipv4_is_global(ai.client)) {
		drop(out, TR_DROP_TX_CLIENT_NOT_GLOBAL);
		return;
	}
	/* RFC 4380 §5.2.4 (via §5.4): the indirect bubble goes to the server. */
	if (!tr_ipv4_is_global(ai.server)) {
		drop(out, TR_DROP_TX_SERVER_NOT_GLOBAL);
		return;
	}
	/* Notes §3(h): never send to ourselves; port 0 is not a real mapping. */
	if (ai.client == r->ipv4 || ai.server == r->ipv4 || ai.port == 0) {
		drop(out, TR_DROP_TX_LOOP);
		return;
	}

	/* Router duties (RFC 8200 §3, RFC 4443 §3.3): the relay forwards
	 * between two links and decrements the hop limit. */
	if (ip6[7] <= 1) {
		drop(out, TR_DROP_TX_HOP_LIMIT);
		set_icmp(out, ip6, ip6_len, ICMP6_TIME_EXCEEDED, 0, 0);
		return;
	}
	/* RFC 4443 §3.2 / RFC 4380 §5.1.2: the Teredo link MTU (default 1280)
	 * bounds what is encapsulated; no reliance on IPv4 fragmentation. */
	unsigned mtu = r->mtu ? r->mtu : TR_MTU_DEFAULT;
	if (ip6_len > mtu) {
		drop(out, TR_DROP_TX_TOO_BIG);
		set_icmp(out, ip6, ip6_len, ICMP6_PKT_TOO_BIG, 0, mtu);
		return;
	}

	out->kind = TR_K_NATIVE;
}

/* ------------------------------------------------------------ Teredo side */

/* RFC 6081 §4 / §5.1.2: TLV trailers after the IPv6 packet. Returns false
 * when the packet must be discarded (type 01xxxxxx). A malformed trailer
 * ends the walk without a drop ("MUST stop processing the trailers").
 * Only the first Nonce trailer is recorded. */
static bool walk_trailers(const uint8_t *p, size_t rem, struct tr_classified *out)
{
	while (rem >= 2) {
		uint8_t type = p[0];
		size_t tlen = p[1];

		if (rem < 2 + tlen)
			break;
		if ((type & 0xc0) == 0x40)
			return false;
		if (type == TRAILER_NONCE && tlen == TRAILER_NONCE_LEN && !out->has_nonce) {
			out->has_nonce = true;
			out->nonce = rd32(p + 2);
		}
		p += 2 + tlen;
		rem -= 2 + tlen;
	}
	return true;
}

/* Destination filter of RFC 4380 §5.4.2 (steps 9-10 of notes §3(b)),
 * for non-bubbles only: bubbles are consumed, never forwarded (§5.2.3). */
static void teredo_post_filter(const struct tr_relay_id *r, const uint8_t *ip6, size_t ip6_len,
			       struct tr_classified *out)
{
	const uint8_t *dst = ip6 + 24;

	if (tr_ipv6_is_multicast(dst)) {
		out->post_reason = TR_DROP_RX_DST_MULTICAST;
		return;
	}
	/* INFERENCE (notes §3(b) step 9): link-local, loopback, unspecified and
	 * mapped destinations would reach the relay host or nowhere. */
	if (!tr_ipv6_is_global_unicast(dst)) {
		out->post_reason = TR_DROP_RX_DST_NOT_GLOBAL;
		return;
	}
	/* Notes §3(h): no relay hairpin; client to client goes direct. */
	if (tr_is_teredo(dst)) {
		out->post_reason = TR_DROP_RX_DST_TEREDO;
		return;
	}
	/* RFC 4380 §5.4.2 SHOULD: forward only to ranges served by the relay. */
	if (r->n_served > 0) {
		bool served = false;
		for (unsigned i = 0; i < r->n_served && !served; i++)
			served = tr_prefix6_match(&r->served[i], dst);
		if (!served) {
			out->post_reason = TR_DROP_RX_DST_NOT_SERVED;
			return;
		}
	}
	/* Router duty (RFC 4443 §3.3): Time Exceeded back to the client. */
	if (ip6[7] <= 1) {
		out->post_reason = TR_DROP_RX_HOP_LIMIT;
		set_icmp(out, ip6, ip6_len, ICMP6_TIME_EXCEEDED, 0, 0);
	}
}

static void classify_teredo(const struct tr_relay_id *r, const uint8_t *frame, size_t len,
			    unsigned hw, struct tr_classified *out)
{
	const size_t off = TR_ETH_HLEN;
	const uint8_t *ip = frame + off;
	size_t rem = len - off;

	out->l3_off = (uint16_t)off;

	/* RFC 791: the fixed header and the whole datagram must be present.
	 * Frames longer than the total length carry Ethernet padding. */
	if (rem < TR_IPV4_HLEN) {
		drop(out, TR_DROP_RX_V4_TRUNCATED);
		return;
	}
	size_t tot = rd16(ip + 2);
	if (tot > rem) {
		drop(out, TR_DROP_RX_V4_TRUNCATED);
		return;
	}
	size_t ihl = (size_t)(ip[0] & 0x0f) * 4;
	if ((ip[0] >> 4) != 4 || ihl < TR_IPV4_HLEN || tot < ihl) {
		drop(out, TR_DROP_RX_V4_BAD_HEADER);
		return;
	}
	/* ihl <= tot <= rem: the header with its options is inside the frame. */
	if (!(hw & TR_HW_IPV4_CKSUM_GOOD) && tr_ipv4_hdr_cksum(ip, ihl) != 0) {
		drop(out, TR_DROP_RX_V4_BAD_CSUM);
		return;
	}
	uint32_t src4 = rd32(ip + 12);
	uint32_t dst4 = rd32(ip + 16);
	if (dst4 != r->ipv4) {
		drop(out, TR_DROP_RX_V4_NOT_FOR_RELAY);
		return;
	}
	/* Notes §3(h): a datagram from our own address is a loop. */
	if (src4 == r->ipv4) {
		drop(out, TR_DROP_RX_LOOP);
		return;
	}
	uint8_t proto = ip[9];
	uint16_t frag = rd16(ip + 6);
	/* Fragments are reassembled before any Teredo parsing (notes §3(f));
	 * the UDP header is only in the first one, so nothing more is checked. */
	if (proto == TR_NH_UDP && (frag & (IPV4_MF | IPV4_OFF_MASK)) != 0) {
		out->kind = TR_K_V4_FRAG;
		return;
	}
	if (proto != TR_NH_UDP) {
		drop(out, TR_DROP_RX_V4_NOT_UDP);
		return;
	}

	/* RFC 768: UDP length covers header and data, within the datagram.
	 * Bytes between the UDP end and the IPv4 end are ignored. */
	const uint8_t *udp = ip + ihl;
	size_t ip_payload = tot - ihl;
	if (ip_payload < TR_UDP_HLEN) {
		drop(out, TR_DROP_RX_BAD_UDP_LEN);
		return;
	}
	size_t ulen = rd16(udp + 4);
	if (ulen < TR_UDP_HLEN || ulen > ip_payload) {
		drop(out, TR_DROP_RX_BAD_UDP_LEN);
		return;
	}
	uint16_t sport = rd16(udp);
	if (rd16(udp + 2) != r->port) {
		drop(out, TR_DROP_RX_WRONG_PORT);
		return;
	}
	/* Notes §3(b) step 5 (INFERENCE): a reply to a non-global source
	 * would be forbidden by RFC 4380 §5.4.1/§5.2.4 anyway. */
	if (!tr_ipv4_is_global(src4)) {
		drop(out, TR_DROP_RX_SRC_V4_NOT_GLOBAL);
		return;
	}
	/* RFC 768: a zero checksum means "not computed" over IPv4; accept it. */
	if ((udp[6] | udp[7]) != 0 && !(hw & TR_HW_L4_CKSUM_GOOD) &&
	    !tr_udp4_cksum_ok(ip, udp, ulen)) {
		drop(out, TR_DROP_RX_BAD_UDP_CSUM);
		return;
	}

	/* RFC 4380 §5.1.1 demultiplexing (notes §2.2). Only a leading 0x00
	 * introduces a Teredo header; anything else is taken as the IPv6
	 * packet and must pass the IPv6 checks below (RX_BAD_IPV6, conformance
	 * case T25: version nibble 4 is rx_bad_ipv6). */
	const uint8_t *p = udp + TR_UDP_HLEN;
	size_t prem = ulen - TR_UDP_HLEN;
	if (prem >= 1 && p[0] == 0x00) {
		if (prem >= 2 && p[1] == 0x01) {
			/* Authentication encapsulation: only for RS/RA between
			 * client and server (§5.2.2); a relay never expects one. */
			drop(out, TR_DROP_RX_AUTH_UNEXPECTED);
			return;
		}
		if (prem < 2 || p[1] != 0x00) {
			drop(out, TR_DROP_RX_BAD_ENCAP);
			return;
		}
		/* Origin indication: only servers insert it; strip it and never
		 * use its content for any decision (notes §2.4). */
		uint32_t oip;
		uint16_t oport;
		if (prem < TR_ORIGIN_LEN || tr_origin_parse(p, prem, &oip, &oport) != 0) {
			drop(out, TR_DROP_RX_BAD_ORIGIN);
			return;
		}
		out->origin_seen = true;
		p += TR_ORIGIN_LEN;
		prem -= TR_ORIGIN_LEN;
	}

	/* RFC 4380 §5.4.2: "a valid IPv6 packet as specified in [RFC2460]";
	 * RFC 6081 §4: 40 + plen <= remaining, trailers may follow. */
	const uint8_t *ip6 = p;
	out->ip6_off = (uint16_t)(ip6 - frame);
	if (prem < TR_IPV6_HLEN || (ip6[0] >> 4) != 6) {
		drop(out, TR_DROP_RX_BAD_IPV6);
		return;
	}
	size_t ip6_len = TR_IPV6_HLEN + (size_t)rd16(ip6 + 4);
	if (ip6_len > prem) {
		drop(out, TR_DROP_RX_BAD_IPV6);
		return;
	}
	out->ip6_len = (uint16_t)ip6_len;   /* <= prem < 65536 */

	/* RFC 6081 §5.1.2 is written for clients; applying it here keeps a
	 * relay from forwarding what a client would have to discard. */
	if (!walk_trailers(ip6 + ip6_len, prem - ip6_len, out)) {
		drop(out, TR_DROP_RX_TRAILER_DISCARD);
		return;
	}

	/* RFC 4380 §5.4.2: relays only accept packets from Teredo clients. */
	if (!tr_is_teredo(ip6 + 8)) {
		drop(out, TR_DROP_RX_SRC_NOT_TEREDO);
		return;
	}

	out->kind = TR_K_TEREDO;
	out->src_ip = src4;
	out->src_port = sport;
	out->bubble = tr_is_bubble(ip6, ip6_len);

	/* RFC 4380 §5.4.2: mapped IPv4 and port must match the outer source.
	 * Whether a mismatch is fatal (trusted mapping, nonce) is stateful. */
	struct tr_addr_info ai;
	out->mapping_ok = tr_addr_decode(ip6 + 8, &ai) == 0 && ai.client == src4 && ai.port == sport;

	if (!out->bubble)
		teredo_post_filter(r, ip6, ip6_len, out);
}

/* -------------------------------------------------------------- Ethernet */

void tr_classify(const struct tr_relay_id *r, const uint8_t *frame, size_t len,
		 struct tr_classified *out)
{
	tr_classify_hw(r, frame, len, 0, out);
}

void tr_classify_hw(const struct tr_relay_id *r, const uint8_t *frame, size_t len, unsigned hw,
		    struct tr_classified *out)
{
	memset(out, 0, sizeof(*out));
	out->kind = TR_K_DROP;
	out->reason = TR_DROP_NONE;
	out->post_reason = TR_DROP_NONE;

	if (len < TR_ETH_HLEN) {
		drop(out, TR_DROP_ETH_TRUNCATED);
		return;
	}

	switch (rd16(frame + 12)) {
	case TR_ETHERTYPE_IPV4:
		classify_teredo(r, frame, len, hw, out);
		return;
	case TR_ETHERTYPE_IPV6:
		classify_native(r, frame, len, out);
		return;
	case TR_ETHERTYPE_ARP: {
		struct tr_arp arp;
		out->l3_off = TR_ETH_HLEN;
		if (tr_arp_parse(frame + TR_ETH_HLEN, len - TR_ETH_HLEN, &arp) != 0) {
			drop(out, TR_DROP_ARP_MALFORMED);
			return;
		}
		if (arp.tpa != r->ipv4 &&
		    (arp.tpa == 0 || (arp.tpa != r->arp_extra[0] && arp.tpa != r->arp_extra[1]))) {
			drop(out, TR_DROP_ARP_NOT_FOR_US);
			return;
		}
		out->kind = TR_K_ARP;
		return;
	}
	default:
		/* Tags are checked and removed before (tr_l2_check): one left here
		 * reached a relay whose sides are untagged. The worker still
		 * accepts a priority tag (VLAN 0) after tr_l2_check. */
		if (rd16(frame + 12) == TR_TPID_8021Q || rd16(frame + 12) == TR_TPID_8021AD)
			drop(out, TR_DROP_VLAN_UNEXPECTED);
		else
			drop(out, TR_DROP_ETH_UNKNOWN_TYPE);
		return;
	}
}
