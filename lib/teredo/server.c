/* SPDX-License-Identifier: BSD-3-Clause
 *
 * The Teredo server's rules (RFC 4380 §5.3). Stateless and bounds-checked:
 * every read stays inside [buf, buf + len), nothing is allocated, the input
 * is never written. docs/server.md explains the choices, docs/decisions.md
 * D70-D89 the ones no RFC makes.
 */
#include <string.h>

#include "cksum_impl.h"
#include "server.h"

#define ICMP6_ECHO_REQUEST 128
#define ICMP6_ECHO_REPLY   129
#define ICMP6_RS           133
#define ND_OPT_SLLA        1
#define RA_HOP_LIMIT       255     /* RFC 4861 §6.1.2 */
#define RA_RETRANS_MS      2000    /* Miredo server.c:132 */
#define IPV4_MF            0x2000u
#define IPV4_OFF_MASK      0x1fffu

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static inline uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
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

void tr_server_id_init(struct tr_server_id *s, uint32_t primary, uint32_t secondary, uint16_t mtu)
{
	memset(s, 0, sizeof(*s));
	s->primary = primary;
	s->secondary = secondary;
	s->mtu = mtu ? mtu : TR_MTU_DEFAULT;
	/* RFC 4380 §5.3.2 SHOULD: fe80:: + cone flag + ~port + ~P (Miredo
	 * server.c:525-529, port inverted since 1.1.6). */
	s->lladdr[0] = 0xfe;
	s->lladdr[1] = 0x80;
	s->lladdr[8] = 0x80;
	put_be16(s->lladdr + 10, (uint16_t)~TR_SRV_PORT);
	put_be32(s->lladdr + 12, ~primary);
}

static inline void verdict_drop(struct tr_srv_verdict *out, enum tr_drop_reason why)
{
	out->action = TR_SRV_DROP;
	out->reason = why;
}

static bool is_link_local(const uint8_t a[16])
{
	return a[0] == 0xfe && (a[1] & 0xc0) == 0x80;
}

static bool is_all_routers(const uint8_t a[16])
{
	static const uint8_t ff02_2[16] = { 0xff, 0x02, [15] = 0x02 };

	return memcmp(a, ff02_2, 16) == 0;
}

/* RFC 4861 §6.1.1: the router's validity checks on a solicitation, all
 * MUST silently discard. Unknown options and the Reserved field are
 * ignored, so Windows XP's zero SLLA option passes (notes §2.1 step 5). */
static enum tr_drop_reason rs_check(const uint8_t *ip6, size_t ip6_len)
{
	const uint8_t *icmp = ip6 + TR_IPV6_HLEN;
	size_t ilen = ip6_len - TR_IPV6_HLEN;
	static const uint8_t unspec[16];

	if (ilen < 8)
		return TR_DROP_SRV_RS_SHORT;
	if (ip6[7] != 255)
		return TR_DROP_SRV_RS_HOP_LIMIT;
	if (icmp[1] != 0)
		return TR_DROP_SRV_RS_CODE;
	if (tr_ipv6_l4_cksum(ip6 + 8, ip6 + 24, TR_NH_ICMPV6, icmp, ilen) != 0)
		return TR_DROP_SRV_RS_CSUM;
	bool src_unspec = memcmp(ip6 + 8, unspec, 16) == 0;
	for (size_t o = 8; o < ilen;) {
		if (ilen - o < 2 || icmp[o + 1] == 0 || (size_t)icmp[o + 1] * 8 > ilen - o)
			return TR_DROP_SRV_RS_BAD_OPTION;
		if (icmp[o] == ND_OPT_SLLA && src_unspec)
			return TR_DROP_SRV_RS_BAD_OPTION;
		o += (size_t)icmp[o + 1] * 8;
	}
	return TR_DROP_NONE;
}

void tr_server_process(const struct tr_server_id *s, bool rx_on_secondary, uint32_t src_ip,
		       uint16_t src_port, const uint8_t *pl, size_t len, struct tr_srv_verdict *out)
{
	memset(out, 0, sizeof(*out));

	/* Case 1, RFC 4380 §5.1.1: [auth][origin]IPv6, auth first. */
	size_t off = 0;
	const uint8_t *nonce = NULL;

	if (len >= 2 && pl[0] == 0 && pl[1] == 1) {
		if (len < TR_AUTH_MIN_LEN) {
			verdict_drop(out, TR_DROP_SRV_BAD_ENCAP);
			return;
		}
		size_t alen = TR_AUTH_MIN_LEN + (size_t)pl[2] + pl[3];
		if (len < alen) {
			verdict_drop(out, TR_DROP_SRV_BAD_ENCAP);
			return;
		}
		/* ID and AU are not verified: no shared secrets, the server does
		 * not "require secure qualification" (notes §2.2; D72). */
		nonce = pl + 4 + pl[2] + pl[3];
		off = alen;
	}
	if (len - off >= 2 && pl[off] == 0 && pl[off + 1] == 0) {
		/* A client never sends one; tolerated and ignored like Miredo. */
		if (len - off < TR_ORIGIN_LEN) {
			verdict_drop(out, TR_DROP_SRV_BAD_ENCAP);
			return;
		}
		off += TR_ORIGIN_LEN;
	}
	const uint8_t *ip6 = pl + off;
	size_t rem = len - off;

	if (rem < TR_IPV6_HLEN || (ip6[0] >> 4) != 6) {
		verdict_drop(out, TR_DROP_SRV_BAD_IPV6);
		return;
	}
	size_t ip6_len = TR_IPV6_HLEN + (size_t)rd16(ip6 + 4);
	if (ip6_len > rem) {
		verdict_drop(out, TR_DROP_SRV_BAD_IPV6);
		return;
	}
	/* Bytes after the packet are RFC 6081 §4 trailers: tolerated and kept
	 * for UDP forwarding (Miredo commit 1476458; D74). */
	out->ip6_off = (uint16_t)off;
	out->ip6_len = (uint16_t)ip6_len;
	out->fwd_len = (uint16_t)rem;

	const uint8_t *src = ip6 + 8;
	const uint8_t *dst = ip6 + 24;
	bool bubble = ip6_len == TR_IPV6_HLEN && ip6[6] == TR_NH_NONE;

	/* Case 2 (SHOULD): a pure server handles bubbles and ICMPv6 only. */
	if (!bubble && ip6[6] != TR_NH_ICMPV6) {
		verdict_drop(out, TR_DROP_SRV_NOT_ICMP6);
		return;
	}
	/* Case 3 (MUST): the outer source is global unicast (§5.2.4 list). */
	if (!tr_ipv4_is_global(src_ip)) {
		verdict_drop(out, TR_DROP_SRV_SRC_NOT_GLOBAL);
		return;
	}
	/* Loop guard on receive (Miredo server.c:372-382, MTFL-SA 0603). */
	if ((src_ip == s->primary || src_ip == s->secondary) && src_port == TR_SRV_PORT) {
		verdict_drop(out, TR_DROP_SRV_LOOP);
		return;
	}

	bool icmp = !bubble && ip6_len > TR_IPV6_HLEN;
	uint8_t itype = icmp ? ip6[TR_IPV6_HLEN] : 0;
	bool rs_to_routers = icmp && itype == ICMP6_RS && is_all_routers(dst);
	struct tr_addr_info sa, da;
	bool src_teredo = tr_addr_decode(src, &sa) == 0;
	bool dst_teredo = tr_addr_decode(dst, &da) == 0;

	if (is_link_local(src) && rs_to_routers) {
		/* Case 4: MUST accept (no secure qualification required). */
	} else if (src_teredo) {
		/* Case 5: the embedded mapping is the outer source; the server
		 * field and the flags are not compared (RFC 5991 §3.1). */
		if (sa.client != src_ip || sa.port != src_port) {
			verdict_drop(out, TR_DROP_SRV_MAPPING_MISMATCH);
			return;
		}
	} else if (!(dst_teredo && da.server == s->primary)) {
		/* Case 6 needs a destination allocated through this server
		 * (prefix 2001:0:<P>, S does not count); else case 7. */
		verdict_drop(out, TR_DROP_SRV_NOT_SERVED);
		return;
	}

	/* Destination ff02::2 or the server link-local: processed here. */
	if (is_all_routers(dst) || memcmp(dst, s->lladdr, 16) == 0) {
		if (rs_to_routers) {
			enum tr_drop_reason why = rs_check(ip6, ip6_len);
			if (why != TR_DROP_NONE) {
				verdict_drop(out, why);
				return;
			}
			out->action = TR_SRV_RA;
			out->has_auth = nonce != NULL;
			if (nonce != NULL)
				memcpy(out->nonce, nonce, 8);
			/* RFC 4380 §5.3.2, RFC 5991 §3.2 MUST NOT ignore: the cone bit
			 * of the RS source sends the RA from the other address. */
			out->from_secondary = rx_on_secondary != ((src[8] & 0x80) != 0);
			out->dst_ip = src_ip;
			out->dst_port = src_port;
			out->add_origin = true;
			return;
		}
		/* §5.3.1 "it may have to process ... ICMPv6 Echo Request
		 * messages": answered (Miredo drops it, B4; D76). */
		if (icmp && itype == ICMP6_ECHO_REQUEST && !is_all_routers(dst) &&
		    ip6_len >= TR_IPV6_HLEN + 8 && ip6[TR_IPV6_HLEN + 1] == 0 &&
		    tr_ipv6_l4_cksum(src, dst, TR_NH_ICMPV6, ip6 + TR_IPV6_HLEN,
				     ip6_len - TR_IPV6_HLEN) == 0) {
			out->action = TR_SRV_ECHO_REPLY;
			out->dst_ip = src_ip;
			out->dst_port = src_port;
			return;
		}
		verdict_drop(out, TR_DROP_SRV_LOCAL_UNHANDLED);
		return;
	}
	/* §5.3.1 MUST NOT forward to a non-global destination. */
	if (!tr_ipv6_is_global_unicast(dst)) {
		verdict_drop(out, TR_DROP_SRV_DST_NOT_GLOBAL);
		return;
	}
	/* §5.3: bubbles, echo requests and echo replies; nothing else. */
	if (!bubble && !(icmp && (itype == ICMP6_ECHO_REQUEST || itype == ICMP6_ECHO_REPLY))) {
		verdict_drop(out, TR_DROP_SRV_FWD_TYPE);
		return;
	}
	if (!dst_teredo) {
		/* Regular IPv6 routing; a bubble has no business there (D77). */
		if (bubble) {
			verdict_drop(out, TR_DROP_SRV_FWD_TYPE);
			return;
		}
		out->action = TR_SRV_FWD_NATIVE;
		return;
	}
	/* §5.3.1 MUST: the embedded IPv4 is global, else silently discard. */
	if (!tr_ipv4_is_global(da.client)) {
		verdict_drop(out, TR_DROP_SRV_DST_V4_NOT_GLOBAL);
		return;
	}
	/* Loop guard on transmit (notes §5 Loops; D78): never to P or S. */
	if (da.client == s->primary || da.client == s->secondary || da.port == 0) {
		verdict_drop(out, TR_DROP_SRV_TX_LOOP);
		return;
	}
	out->action = TR_SRV_FWD_TEREDO;
	out->dst_ip = da.client;
	out->dst_port = da.port;
	/* §5.3.1 "should insert an origin indication" when served here. */
	out->add_origin = da.server == s->primary;
}

enum tr_srv_owner tr_server_owns(const struct tr_server_id *s, const uint8_t *frame, size_t len)
{
	if (len < TR_ETH_HLEN + TR_IPV4_HLEN || rd16(frame + 12) != TR_ETHERTYPE_IPV4)
		return TR_SRV_NOT_OURS;
	const uint8_t *ip = frame + TR_ETH_HLEN;
	uint32_t dst = rd32(ip + 16);
	enum tr_srv_owner o;

	if (dst == s->primary)
		o = TR_SRV_ON_PRIMARY;
	else if (dst == s->secondary)
		o = TR_SRV_ON_SECONDARY;
	else
		return TR_SRV_NOT_OURS;
	if (ip[9] != TR_NH_UDP)
		return TR_SRV_NOT_OURS;
	if ((rd16(ip + 6) & (IPV4_MF | IPV4_OFF_MASK)) != 0)
		return o;                       /* fragment to the server: ours, dropped */
	size_t ihl = (size_t)(ip[0] & 0x0f) * 4;
	if (ihl < TR_IPV4_HLEN || len < TR_ETH_HLEN + ihl + TR_UDP_HLEN)
		return o;                       /* malformed: ours, dropped */
	return rd16(ip + ihl + 2) == TR_SRV_PORT ? o : TR_SRV_NOT_OURS;
}

void tr_server_classify(const struct tr_server_id *s, const uint8_t *frame, size_t len, unsigned hw,
			struct tr_srv_verdict *out, uint16_t *pl_off)
{
	enum tr_srv_owner o = tr_server_owns(s, frame, len);

	memset(out, 0, sizeof(*out));
	*pl_off = 0;
	if (o == TR_SRV_NOT_OURS) {
		verdict_drop(out, TR_DROP_SRV_V4_BAD);
		return;
	}
	const uint8_t *ip = frame + TR_ETH_HLEN;
	size_t ihl = (size_t)(ip[0] & 0x0f) * 4;
	size_t tot = rd16(ip + 2);

	if ((ip[0] >> 4) != 4 || ihl < TR_IPV4_HLEN || tot < ihl + TR_UDP_HLEN ||
	    tot > len - TR_ETH_HLEN ||
	    (!(hw & TR_HW_IPV4_CKSUM_GOOD) && tr_ipv4_hdr_cksum(ip, ihl) != 0)) {
		verdict_drop(out, TR_DROP_SRV_V4_BAD);
		return;
	}
	/* Not reassembled: a client's RS and echo are far below any MTU. */
	if ((rd16(ip + 6) & (IPV4_MF | IPV4_OFF_MASK)) != 0) {
		verdict_drop(out, TR_DROP_SRV_FRAGMENT);
		return;
	}
	const uint8_t *udp = ip + ihl;
	size_t ulen = rd16(udp + 4);

	if (ulen < TR_UDP_HLEN || ulen != tot - ihl ||
	    (!(hw & TR_HW_L4_CKSUM_GOOD) && rd16(udp + 6) != 0 && !tr_udp4_cksum_ok(ip, udp, ulen))) {
		verdict_drop(out, TR_DROP_SRV_BAD_UDP);
		return;
	}
	size_t poff = TR_ETH_HLEN + ihl + TR_UDP_HLEN;

	*pl_off = (uint16_t)poff;
	tr_server_process(s, o == TR_SRV_ON_SECONDARY, rd32(ip + 12), rd16(udp), frame + poff,
			  ulen - TR_UDP_HLEN, out);
	out->ip6_off = (uint16_t)(out->ip6_off + poff);
}

/* ------------------------------------------------------------- builders */

void tr_ra_tmpl_init(struct tr_ra_tmpl *t, const struct tr_server_id *s)
{
	uint8_t *b = t->b;

	memset(t, 0, sizeof(*t));
	/* IPv6 (RFC 4861 §6.1.2 hop limit 255), src = server link-local. */
	put_be32(b, 0x60000000u);
	put_be16(b + 4, 56);
	b[6] = TR_NH_ICMPV6;
	b[7] = RA_HOP_LIMIT;
	memcpy(b + 8, s->lladdr, 16);
	/* RA: lifetime 0, M=O=0, reachable 0, retrans 2000 (Miredo; D75). */
	uint8_t *ra = b + TR_IPV6_HLEN;
	ra[0] = 134;
	put_be32(ra + 12, RA_RETRANS_MS);
	/* PIO: /64, A=1 L=0, infinite lifetimes, 2001:0:<P>::, always P. */
	uint8_t *pio = ra + 16;
	pio[0] = 3;
	pio[1] = 4;
	pio[2] = 64;
	pio[3] = 0x40;
	put_be32(pio + 4, 0xffffffffu);
	put_be32(pio + 8, 0xffffffffu);
	put_be32(pio + 16, 0x20010000u);
	put_be32(pio + 20, s->primary);
	/* MTU option (RFC 4380 §5.1.2). */
	uint8_t *mtu = pio + 32;
	mtu[0] = 5;
	mtu[1] = 1;
	put_be32(mtu + 4, s->mtu);

	/* Pseudo-header (src, length, next header) + the message: constant. */
	uint8_t lenw[8] = { 0, 0, 0, 56, 0, 0, 0, TR_NH_ICMPV6 };
	uint64_t acc = tr_add_words(0, s->lladdr, 16);
	acc = tr_add_words(acc, lenw, 8);
	acc = tr_add_words(acc, ra, 56);
	t->sum = tr_fold64(acc);
}

size_t tr_ra_write(const struct tr_ra_tmpl *t, uint8_t *out, const uint8_t *nonce,
		   uint32_t client_ip, uint16_t client_port, const uint8_t dst[16])
{
	size_t o = 0;

	if (nonce != NULL) {
		/* ID-len 0, AU-len 0, the RS's nonce, confirmation 0 (§5.3.2). */
		out[0] = 0;
		out[1] = 1;
		out[2] = 0;
		out[3] = 0;
		memcpy(out + 4, nonce, 8);
		out[12] = 0;
		o = TR_AUTH_MIN_LEN;
	}
	tr_origin_build(out + o, client_ip, client_port);
	o += TR_ORIGIN_LEN;
	uint8_t *ip6 = out + o;

	memcpy(ip6, t->b, sizeof(t->b));
	memcpy(ip6 + 24, dst, 16);
	uint16_t ck = (uint16_t)~tr_fold64(tr_add_words(t->sum, dst, 16));
	memcpy(ip6 + TR_IPV6_HLEN + 2, &ck, 2);
	return o + sizeof(t->b);
}

size_t tr_server_echo_reply(const struct tr_server_id *s, uint8_t *out, const uint8_t *ip6,
			    size_t ip6_len)
{
	memcpy(out, ip6, ip6_len);
	memcpy(out + 8, s->lladdr, 16);
	memcpy(out + 24, ip6 + 8, 16);
	out[7] = 64;
	uint8_t *icmp = out + TR_IPV6_HLEN;
	icmp[0] = ICMP6_ECHO_REPLY;
	icmp[2] = icmp[3] = 0;
	uint16_t ck = tr_ipv6_l4_cksum(out + 8, out + 24, TR_NH_ICMPV6, icmp, ip6_len - TR_IPV6_HLEN);
	memcpy(icmp + 2, &ck, 2);
	return ip6_len;
}

size_t tr_server_write_udp4(uint8_t *out, uint32_t src, uint32_t dst, uint16_t dport,
			    uint16_t ip_id, uint8_t ttl, size_t payload_len)
{
	size_t ulen = TR_UDP_HLEN + payload_len;

	put_be16(out, 0x4500);
	put_be16(out + 2, (uint16_t)(TR_IPV4_HLEN + ulen));
	put_be16(out + 4, ip_id);
	put_be16(out + 6, 0);                   /* DF clear, RFC 4380 §5.1.2 */
	out[8] = ttl;
	out[9] = TR_NH_UDP;
	put_be16(out + 10, 0);
	put_be32(out + 12, src);
	put_be32(out + 16, dst);
	uint16_t ick = tr_ipv4_hdr_cksum(out, TR_IPV4_HLEN);
	memcpy(out + 10, &ick, 2);
	uint8_t *udp = out + TR_IPV4_HLEN;
	put_be16(udp, TR_SRV_PORT);
	put_be16(udp + 2, dport);
	put_be16(udp + 4, (uint16_t)ulen);
	put_be16(udp + 6, 0);
	uint16_t uck = tr_udp4_cksum(src, dst, udp, ulen);
	memcpy(udp + 6, &uck, 2);
	return TR_ENCAP_HLEN;
}
