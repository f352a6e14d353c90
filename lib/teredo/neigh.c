/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Neighbour helpers for the native side: ARP (RFC 826) for the relay's
 * IPv4 next hop and IPv6 Neighbor Discovery (RFC 4861) NS/NA.
 */
#include <string.h>

#include "teredo.h"

#define ARP_LEN         28      /* Ethernet/IPv4 ARP body */
#define ARP_FRAME_LEN   (TR_ETH_HLEN + ARP_LEN)

#define ND_NS           135
#define ND_NA           136
#define ND_MIN_LEN      24      /* RFC 4861 §7.1.1/§7.1.2: ICMP length >= 24 */
#define ND_OPT_SLLA     1       /* RFC 4861 §4.6.1 */
#define ND_OPT_TLLA     2
#define ND_LLA_OPT_LEN  8       /* Ethernet link-layer option, RFC 2464 §6 */
#define ND_HOP_LIMIT    255
#define ND_PLEN         (ND_MIN_LEN + ND_LLA_OPT_LEN)

#define NA_FLAG_R       0x80000000u     /* RFC 4861 §4.4 */
#define NA_FLAG_S       0x40000000u
#define NA_FLAG_O       0x20000000u

static inline uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t get_be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* ------------------------------------------------------------------ ARP */

int tr_arp_parse(const uint8_t *p, size_t len, struct tr_arp *out)
{
	uint16_t op;

	/* Frames are padded to 60 bytes: trailing bytes are fine. */
	if (p == NULL || out == NULL || len < ARP_LEN)
		return -1;
	/* RFC 826: only Ethernet (1) / IPv4 with 6- and 4-byte addresses. */
	if (get_be16(p) != 1 || get_be16(p + 2) != TR_ETHERTYPE_IPV4 || p[4] != 6 || p[5] != 4)
		return -1;
	op = get_be16(p + 6);
	if (op != 1 && op != 2)
		return -1;

	out->op = op;
	memcpy(out->sha, p + 8, 6);
	out->spa = get_be32(p + 14);
	memcpy(out->tha, p + 18, 6);
	out->tpa = get_be32(p + 24);
	return 0;
}

size_t tr_build_arp(uint8_t out[42], uint16_t op, const uint8_t eth_dst[6], const uint8_t sha[6],
		    uint32_t spa, const uint8_t tha[6], uint32_t tpa)
{
	uint8_t *a = out + TR_ETH_HLEN;

	tr_build_eth(out, eth_dst, sha, TR_ETHERTYPE_ARP);
	put_be16(a, 1);
	put_be16(a + 2, TR_ETHERTYPE_IPV4);
	a[4] = 6;
	a[5] = 4;
	put_be16(a + 6, op);
	memcpy(a + 8, sha, 6);
	put_be32(a + 14, spa);
	/* A request does not know the target hardware address: zeros by
	 * convention (RFC 5227 §2.1.1 style), whatever the caller passed. */
	if (op == 1 || tha == NULL)
		memset(a + 18, 0, 6);
	else
		memcpy(a + 18, tha, 6);
	put_be32(a + 24, tpa);
	return ARP_FRAME_LEN;
}

/* ------------------------------------------------------------------- ND */

static bool is_unspecified(const uint8_t a[16])
{
	static const uint8_t zero[16];

	return memcmp(a, zero, 16) == 0;
}

void tr_solicited_node(uint8_t out[16], const uint8_t target[16])
{
	/* RFC 4291 §2.7.1: ff02::1:ff00:0/104 + low 24 bits of the target. */
	static const uint8_t pfx[13] = { 0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff };
	uint8_t low[3];

	memcpy(low, target + 13, 3);    /* out may alias target */
	memcpy(out, pfx, sizeof(pfx));
	memcpy(out + 13, low, 3);
}

static bool is_solicited_node(const uint8_t a[16])
{
	static const uint8_t pfx[13] = { 0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff };

	return memcmp(a, pfx, sizeof(pfx)) == 0;
}

/* Upper-layer checksum over the whole ICMPv6 message with its field in
 * place: valid iff the folded complement is 0 (RFC 4443 §2.3, RFC 8200 §8.1).
 * Computed here with the generic adder so the verdict does not depend on how
 * the store-form helper maps a zero result. */
static bool icmp6_cksum_ok(const uint8_t *ip6, const uint8_t *l4, size_t l4_len)
{
	uint8_t ph[8];
	uint32_t sum;

	put_be32(ph, (uint32_t)l4_len);
	ph[4] = ph[5] = ph[6] = 0;
	ph[7] = TR_NH_ICMPV6;
	sum = tr_cksum_add(0, ip6 + 8, 32);     /* source and destination */
	sum = tr_cksum_add(sum, ph, sizeof(ph));
	sum = tr_cksum_add(sum, l4, l4_len);
	return tr_cksum_finish(sum) == 0;
}

int tr_nd_parse(const uint8_t *ip6, size_t len, struct tr_nd *out)
{
	const uint8_t *icmp, *src, *dst;
	struct tr_nd nd;
	size_t plen, off;
	uint8_t want_opt;

	if (ip6 == NULL || out == NULL || len < TR_IPV6_HLEN || (ip6[0] >> 4) != 6)
		return -1;
	plen = get_be16(ip6 + 4);
	/* Trailing bytes (Ethernet padding) are allowed, a short packet is not. */
	if (plen > len - TR_IPV6_HLEN)
		return -1;
	/* No extension-header walk: ND messages carry none in practice and an
	 * unparsed header could hide anything. */
	if (ip6[6] != TR_NH_ICMPV6)
		return -1;
	/* RFC 4861 §7.1.1/§7.1.2: hop limit 255 proves the sender is on-link. */
	if (ip6[7] != ND_HOP_LIMIT)
		return -1;
	if (plen < ND_MIN_LEN)
		return -1;
	icmp = ip6 + TR_IPV6_HLEN;
	src = ip6 + 8;
	dst = ip6 + 24;
	if (icmp[0] != ND_NS && icmp[0] != ND_NA)
		return -1;
	if (icmp[1] != 0)               /* §7.1.x: ICMP code is 0 */
		return -1;
	if (!icmp6_cksum_ok(ip6, icmp, plen))
		return -1;

	memset(&nd, 0, sizeof(nd));
	nd.type = icmp[0];
	memcpy(nd.target, icmp + 8, 16);
	/* §7.1.x: target address is not a multicast address. */
	if (nd.target[0] == 0xff)
		return -1;

	if (nd.type == ND_NS) {
		/* §7.1.1: DAD probes from :: go to a solicited-node group. */
		if (is_unspecified(src) && !is_solicited_node(dst))
			return -1;
		want_opt = ND_OPT_SLLA;
	} else {
		nd.flags = get_be32(icmp + 4) & (NA_FLAG_R | NA_FLAG_S | NA_FLAG_O);
		/* §7.1.2: a reply to a multicast destination is never solicited. */
		if (dst[0] == 0xff && (nd.flags & NA_FLAG_S))
			return -1;
		want_opt = ND_OPT_TLLA;
	}

	/* §7.1.x: every option has length > 0 and lies inside the message. */
	for (off = ND_MIN_LEN; off < plen;) {
		size_t olen;

		if (plen - off < 2)
			return -1;
		olen = (size_t)icmp[off + 1] * 8;
		if (olen == 0 || olen > plen - off)
			return -1;
		if (icmp[off] == want_opt) {
			/* §7.1.1: no source link-layer option from ::. */
			if (nd.type == ND_NS && is_unspecified(src))
				return -1;
			/* First Ethernet-sized option wins; other link types ignored. */
			if (!nd.has_lladdr && olen == ND_LLA_OPT_LEN) {
				nd.has_lladdr = true;
				memcpy(nd.lladdr, icmp + off + 2, 6);
			}
		}
		off += olen;
	}

	*out = nd;
	return 0;
}

/* IPv6 header + fixed ND part + one Ethernet link-layer option. */
static size_t build_nd(uint8_t *out, uint8_t type, uint32_t word, const uint8_t src[16],
		       const uint8_t dst[16], const uint8_t target[16], uint8_t opt_type,
		       const uint8_t mac[6])
{
	uint8_t *icmp = out + TR_IPV6_HLEN;
	size_t plen = opt_type ? ND_PLEN : ND_MIN_LEN;
	uint8_t s[16], d[16], tgt[16];
	uint16_t ck;

	/* Copies first: the addresses may point into out (e.g. answering in place). */
	memcpy(s, src, 16);
	memcpy(d, dst, 16);
	memcpy(tgt, target, 16);

	put_be32(out, 0x60000000u);
	put_be16(out + 4, (uint16_t)plen);
	out[6] = TR_NH_ICMPV6;
	out[7] = ND_HOP_LIMIT;          /* RFC 4861 §7.1: receivers demand 255 */
	memcpy(out + 8, s, 16);
	memcpy(out + 24, d, 16);

	icmp[0] = type;
	icmp[1] = 0;
	put_be16(icmp + 2, 0);
	put_be32(icmp + 4, word);
	memcpy(icmp + 8, tgt, 16);
	if (opt_type) {
		icmp[24] = opt_type;
		icmp[25] = 1;           /* in units of 8 bytes */
		memcpy(icmp + 26, mac, 6);
	}
	ck = tr_ipv6_l4_cksum(out + 8, out + 24, TR_NH_ICMPV6, icmp, plen);
	memcpy(icmp + 2, &ck, 2);
	return TR_IPV6_HLEN + plen;
}

size_t tr_build_ns(uint8_t *out, const uint8_t src[16], const uint8_t target[16], const uint8_t src_mac[6])
{
	uint8_t dst[16];

	/* RFC 4861 §7.2.2: multicast solicitation to the solicited-node group.
	 * §4.3: no source link-layer option from :: (DAD): 64 bytes then. */
	tr_solicited_node(dst, target);
	return build_nd(out, ND_NS, 0, src, dst, target, is_unspecified(src) ? 0 : ND_OPT_SLLA,
			src_mac);
}

size_t tr_build_na(uint8_t *out, const uint8_t src[16], const uint8_t dst[16], const uint8_t target[16],
		   const uint8_t mac[6], bool solicited)
{
	uint32_t flags = NA_FLAG_O;     /* R = 0: not a default router for native hosts */

	/* RFC 4861 §7.2.4: S is never set toward a multicast destination
	 * (answer to a DAD probe); receivers would drop it (§7.1.2). */
	if (solicited && dst[0] != 0xff)
		flags |= NA_FLAG_S;
	return build_nd(out, ND_NA, flags, src, dst, target, ND_OPT_TLLA, mac);
}
