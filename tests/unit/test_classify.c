/* SPDX-License-Identifier: BSD-3-Clause
 *
 * tr_classify(): one test (at least) per drop reason the classifier can
 * return, positive tests per kind, the post_reason destination filter,
 * RFC 4443 §2.4(e) suppression, truncation sweeps, and a final check that
 * every ID in drop_reasons.def is either produced here or explicitly listed
 * as decided outside the classifier.
 *
 * Fixture: notes §6 / §2.8 — relay 198.51.100.1:3545, R6 2001:db8:ffff::1,
 * served 2001:db8::/32, MTU 1280, server 203.0.113.120, client A
 * 2001:0:cb00:7178:0:efff:3fff:fdfe at 192.0.2.1:4096, host H 2001:db8::1.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "teredo.h"

/* ------------------------------------------------------------- fixture */

#define R4      0xc6336401u     /* 198.51.100.1 */
#define RP      3545
#define A4      0xc0000201u     /* 192.0.2.1 */
#define AP      4096
#define S4      0xcb007178u     /* 203.0.113.120 */

static const uint8_t R6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, [15] = 0x01 };
static const uint8_t H6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x01 };
static const uint8_t A6[16] = { 0x20, 0x01, 0x00, 0x00, 0xcb, 0x00, 0x71, 0x78,
				0x00, 0x00, 0xef, 0xff, 0x3f, 0xff, 0xfd, 0xfe };
/* A' (RFC 5991 random flag bits 0x14a5): same mapping as A. */
static const uint8_t A6R[16] = { 0x20, 0x01, 0x00, 0x00, 0xcb, 0x00, 0x71, 0x78,
				 0x14, 0xa5, 0xef, 0xff, 0x3f, 0xff, 0xfd, 0xfe };
static const uint8_t B6[16] = { 0x20, 0x01, 0x00, 0x00, 0xc6, 0x33, 0x64, 0x76,
				0x00, 0x00, 0xdf, 0xff, 0x3f, 0xff, 0xfd, 0xf5 };
/* T06: client 10.0.0.1; T07: server 10.1.1.1 (notes §1.3). */
static const uint8_t NGC6[16] = { 0x20, 0x01, 0x00, 0x00, 0xcb, 0x00, 0x71, 0x78,
				  0x00, 0x00, 0xef, 0xff, 0xf5, 0xff, 0xff, 0xfe };
static const uint8_t NGS6[16] = { 0x20, 0x01, 0x00, 0x00, 0x0a, 0x01, 0x01, 0x01,
				  0x00, 0x00, 0xef, 0xff, 0x3f, 0xff, 0xfd, 0xfe };
/* T19: embeds the relay itself, 198.51.100.1:3545, server S. */
static const uint8_t LOOPC6[16] = { 0x20, 0x01, 0x00, 0x00, 0xcb, 0x00, 0x71, 0x78,
				    0x00, 0x00, 0xf2, 0x26, 0x39, 0xcc, 0x9b, 0xfe };
/* Server field = relay IPv4, client A's mapping. */
static const uint8_t LOOPS6[16] = { 0x20, 0x01, 0x00, 0x00, 0xc6, 0x33, 0x64, 0x01,
				    0x00, 0x00, 0xef, 0xff, 0x3f, 0xff, 0xfd, 0xfe };
/* Client A's IPv4 with mapped port 0 (~0 = ffff). */
static const uint8_t PORT0_6[16] = { 0x20, 0x01, 0x00, 0x00, 0xcb, 0x00, 0x71, 0x78,
				     0x00, 0x00, 0xff, 0xff, 0x3f, 0xff, 0xfd, 0xfe };
/* Relay bubble source of §2.8. */
static const uint8_t BSRC6[16] = { 0xfe, 0x80, [8] = 0xa0, 0xb2, 0xc3, 0xd4, 0xe5, 0xf6, 0x07, 0x18 };
static const uint8_t LL6[16] = { 0xfe, 0x80, [15] = 0x01 };
static const uint8_t LO6[16] = { [15] = 0x01 };
static const uint8_t UNSPEC6[16] = { 0 };
static const uint8_t MAPPED6[16] = { [10] = 0xff, 0xff, 198, 51, 100, 7 };
static const uint8_t MCAST6[16] = { 0xff, 0x0e, [15] = 0x01 };
static const uint8_t ALLNODES6[16] = { 0xff, 0x02, [15] = 0x01 };
static const uint8_t SNODE_R6[16] = { 0xff, 0x02, [11] = 0x01, 0xff, 0x00, 0x00, 0x01 };
static const uint8_t SNODE_OTHER6[16] = { 0xff, 0x02, [11] = 0x01, 0xff, 0x00, 0x00, 0x02 };
static const uint8_t H99_6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x99 };
static const uint8_t DB9_6[16] = { 0x20, 0x01, 0x0d, 0xb9, [15] = 0x01 };
/* Same solicited-node group as R6 (low 24 bits 00:00:01), other target. */
static const uint8_t R6TWIN[16] = { 0x20, 0x01, 0x0d, 0xb8, 0xaa, 0xaa, [15] = 0x01 };
static const uint8_t NBR6[16] = { 0xfe, 0x80, [15] = 0x02 };

static const struct tr_prefix6 served = { { 0x20, 0x01, 0x0d, 0xb8 }, 32 };

static const struct tr_relay_id relay = {
	.ipv4 = R4, .port = RP, .ipv6 = { 0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, [15] = 0x01 },
	.mtu = 1280, .served = &served, .n_served = 1,
};

static const struct tr_relay_id relay_all = {
	.ipv4 = R4, .port = RP, .ipv6 = { 0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, [15] = 0x01 },
	.mtu = 1280, .served = NULL, .n_served = 0,
};

/* Reasons produced by tr_classify in this file (reason or post_reason). */
static bool seen[TR_DROP_MAX];

/* ------------------------------------------------------------ builders */

static void be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static size_t put_eth(uint8_t *f, uint16_t type)
{
	static const uint8_t macs[12] = { 0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02 };

	memcpy(f, macs, 12);
	be16(f + 12, type);
	return TR_ETH_HLEN;
}

/* IPv6 packet with plen payload bytes. Next header 58 with plen >= 8 makes
 * an ICMPv6 echo request (id 0x1234 seq 1, data "abc...") with a valid
 * checksum, like the §2.8 native frame; otherwise the payload is a pattern. */
static size_t put_ip6(uint8_t *p, const uint8_t src[16], const uint8_t dst[16], uint8_t nh,
		      uint8_t hlim, uint16_t plen)
{
	memset(p, 0, TR_IPV6_HLEN);
	p[0] = 0x60;
	be16(p + 4, plen);
	p[6] = nh;
	p[7] = hlim;
	memcpy(p + 8, src, 16);
	memcpy(p + 24, dst, 16);
	for (size_t i = 0; i < plen; i++)
		p[40 + i] = (uint8_t)('a' + (i + 18) % 26);   /* byte 8 = 'a' */
	if (nh == TR_NH_ICMPV6 && plen >= 8) {
		static const uint8_t echo[8] = { 128, 0, 0, 0, 0x12, 0x34, 0x00, 0x01 };
		uint16_t ck;

		memcpy(p + 40, echo, 8);
		ck = tr_ipv6_l4_cksum(p + 8, p + 24, TR_NH_ICMPV6, p + 40, plen);
		memcpy(p + 42, &ck, 2);
	}
	return TR_IPV6_HLEN + plen;
}

struct v4opt {
	uint32_t src, dst;
	uint16_t sport, dport;
	uint8_t proto;
	uint8_t ihl_words;
	uint16_t frag;
	bool zero_udp_csum;
};

static struct v4opt v4def(void)
{
	return (struct v4opt){ .src = A4, .dst = R4, .sport = AP, .dport = RP, .proto = TR_NH_UDP,
			       .ihl_words = 5, .frag = 0, .zero_udp_csum = false };
}

static void fix_v4_csum(uint8_t *f)
{
	uint8_t *ip = f + TR_ETH_HLEN;
	size_t ihl = (size_t)(ip[0] & 0xf) * 4;
	uint16_t ck;

	ip[10] = ip[11] = 0;
	ck = tr_ipv4_hdr_cksum(ip, ihl);
	memcpy(ip + 10, &ck, 2);
}

/* Ethernet + IPv4 (TTL 64, ID 0, options as NOPs) + UDP + payload, both
 * checksums valid (UDP 0 if asked). Returns the frame length. */
static size_t mk_v4(uint8_t *f, const struct v4opt *o, const uint8_t *pl, size_t pl_len)
{
	size_t off = put_eth(f, TR_ETHERTYPE_IPV4);
	uint8_t *ip = f + off;
	size_t ihl = (size_t)o->ihl_words * 4;
	uint8_t *udp = ip + ihl;
	size_t ulen = TR_UDP_HLEN + pl_len;

	memset(ip, 0x01, ihl);          /* options: NOP (RFC 791) */
	ip[0] = (uint8_t)(0x40 | o->ihl_words);
	ip[1] = 0;
	be16(ip + 2, (uint16_t)(ihl + ulen));
	be16(ip + 4, 0);
	be16(ip + 6, o->frag);
	ip[8] = 64;
	ip[9] = o->proto;
	be32(ip + 12, o->src);
	be32(ip + 16, o->dst);
	be16(udp, o->sport);
	be16(udp + 2, o->dport);
	be16(udp + 4, (uint16_t)ulen);
	be16(udp + 6, 0);
	if (pl_len)
		memcpy(udp + 8, pl, pl_len);
	if (!o->zero_udp_csum) {
		uint16_t ck = tr_udp4_cksum(o->src, o->dst, udp, ulen);
		memcpy(udp + 6, &ck, 2);
	}
	fix_v4_csum(f);
	return off + ihl + ulen;
}

static size_t mk_native(uint8_t *f, const uint8_t src[16], const uint8_t dst[16], uint8_t nh,
			uint8_t hlim, uint16_t plen)
{
	size_t off = put_eth(f, TR_ETHERTYPE_IPV6);

	return off + put_ip6(f + off, src, dst, nh, hlim, plen);
}

/* ND message (RFC 4861 §4.3/§4.4) with one link-layer option, hop limit
 * hlim, valid checksum. */
static size_t mk_nd(uint8_t *f, uint8_t type, uint32_t word, const uint8_t src[16],
		    const uint8_t dst[16], const uint8_t target[16], uint8_t hlim)
{
	size_t off = put_eth(f, TR_ETHERTYPE_IPV6);
	uint8_t *ip6 = f + off;
	uint8_t *icmp = ip6 + TR_IPV6_HLEN;
	static const uint8_t mac[6] = { 0x02, 0, 0, 0, 0, 0x99 };
	uint16_t ck;

	put_ip6(ip6, src, dst, TR_NH_ICMPV6, hlim, 32);
	memset(icmp, 0, 32);
	icmp[0] = type;
	be32(icmp + 4, word);
	memcpy(icmp + 8, target, 16);
	icmp[24] = type == 135 ? 1 : 2;
	icmp[25] = 1;
	memcpy(icmp + 26, mac, 6);
	ck = tr_ipv6_l4_cksum(ip6 + 8, ip6 + 24, TR_NH_ICMPV6, icmp, 32);
	memcpy(icmp + 2, &ck, 2);
	return off + TR_IPV6_HLEN + 32;
}

/* Ethernet/IPv4 ARP (RFC 826), padded to the 60-byte Ethernet minimum. */
static size_t mk_arp(uint8_t *f, uint16_t op, uint32_t tpa)
{
	size_t off = put_eth(f, TR_ETHERTYPE_ARP);
	uint8_t *a = f + off;

	memset(a, 0, 46);
	be16(a, 1);
	be16(a + 2, TR_ETHERTYPE_IPV4);
	a[4] = 6;
	a[5] = 4;
	be16(a + 6, op);
	memcpy(a + 8, "\x02\x00\x00\x00\x00\xfe", 6);
	be32(a + 14, 0xc63364feu);      /* 198.51.100.254, the gateway */
	be32(a + 24, tpa);
	return 60;
}

/* Client A → H data packet (echo request, plen 16), optional prefix bytes
 * (origin indication / garbage) and suffix bytes (trailers). */
static size_t teredo_payload(uint8_t *pl, const uint8_t src[16], const uint8_t dst[16], uint8_t nh,
			     uint8_t hlim, uint16_t plen, const uint8_t *pre, size_t pre_len,
			     const uint8_t *post, size_t post_len)
{
	size_t n = 0;

	if (pre_len)
		memcpy(pl, pre, pre_len);
	n += pre_len;
	n += put_ip6(pl + n, src, dst, nh, hlim, plen);
	if (post_len)
		memcpy(pl + n, post, post_len);
	return n + post_len;
}

/* ------------------------------------------------------------- checking */

static bool is_post_reason(enum tr_drop_reason r)
{
	return r == TR_DROP_NONE || r == TR_DROP_RX_DST_MULTICAST || r == TR_DROP_RX_DST_NOT_GLOBAL ||
	       r == TR_DROP_RX_DST_TEREDO || r == TR_DROP_RX_DST_NOT_SERVED || r == TR_DROP_RX_HOP_LIMIT;
}

/* Invariants every verdict satisfies, whatever the frame. */
static void sane(const struct tr_relay_id *r, const struct tr_classified *c, const uint8_t *f,
		 size_t n)
{
	assert_true(c->kind >= TR_K_DROP && c->kind <= TR_K_V4_FRAG);
	if (c->kind == TR_K_DROP)
		assert_true(c->reason > TR_DROP_NONE && c->reason < TR_DROP_MAX);
	else
		assert_int_equal(c->reason, TR_DROP_NONE);

	if (c->kind != TR_K_TEREDO) {
		assert_int_equal(c->src_ip, 0);
		assert_int_equal(c->src_port, 0);
		assert_false(c->bubble);
		assert_false(c->mapping_ok);
		assert_false(c->origin_seen);
		assert_false(c->has_nonce);
		assert_int_equal(c->nonce, 0);
		assert_int_equal(c->post_reason, TR_DROP_NONE);
	} else {
		assert_true(is_post_reason(c->post_reason));
		if (c->bubble)
			assert_int_equal(c->post_reason, TR_DROP_NONE);
		if (!c->has_nonce)
			assert_int_equal(c->nonce, 0);
	}

	assert_true((size_t)c->ip6_off + c->ip6_len <= n);
	if (c->kind == TR_K_TEREDO || c->kind == TR_K_NATIVE || c->kind == TR_K_ND ||
	    c->kind == TR_K_LOCAL6) {
		assert_true(c->ip6_len >= TR_IPV6_HLEN);
		assert_int_equal(f[c->ip6_off] >> 4, 6);
		assert_int_equal(c->ip6_len, TR_IPV6_HLEN + (f[c->ip6_off + 4] << 8 | f[c->ip6_off + 5]));
	}
	if (c->kind == TR_K_NATIVE || c->kind == TR_K_ND || c->kind == TR_K_LOCAL6) {
		assert_int_equal(c->l3_off, TR_ETH_HLEN);
		assert_int_equal(c->ip6_off, TR_ETH_HLEN);
	}
	if (c->kind == TR_K_TEREDO || c->kind == TR_K_V4_FRAG || c->kind == TR_K_ARP)
		assert_int_equal(c->l3_off, TR_ETH_HLEN);
	if (n < TR_ETH_HLEN)
		assert_int_equal(c->l3_off, 0);

	switch (c->icmp_type) {
	case 0:
		assert_int_equal(c->icmp_code, 0);
		assert_int_equal(c->icmp_param, 0);
		break;
	case 2:
		assert_int_equal(c->kind, TR_K_DROP);
		assert_int_equal(c->reason, TR_DROP_TX_TOO_BIG);
		assert_int_equal(c->icmp_code, 0);
		assert_int_equal(c->icmp_param, r->mtu ? r->mtu : TR_MTU_DEFAULT);
		break;
	case 3:
		assert_true((c->kind == TR_K_DROP && c->reason == TR_DROP_TX_HOP_LIMIT) ||
			    (c->kind == TR_K_TEREDO && c->post_reason == TR_DROP_RX_HOP_LIMIT));
		assert_int_equal(c->icmp_code, 0);
		assert_int_equal(c->icmp_param, 0);
		break;
	default:
		fail_msg("unexpected icmp_type %u", c->icmp_type);
	}
}

/* Classify n bytes copied into an exact-size heap buffer, so the sanitizer
 * build catches any read past the frame. */
static struct tr_classified cls_r(const struct tr_relay_id *r, const uint8_t *f, size_t n)
{
	struct tr_classified c;
	uint8_t *copy = malloc(n ? n : 1);

	assert_non_null(copy);
	if (n)
		memcpy(copy, f, n);
	memset(&c, 0xa5, sizeof(c));    /* every field must be written */
	tr_classify(r, copy, n, &c);
	sane(r, &c, copy, n);
	free(copy);
	if (c.kind == TR_K_DROP)
		seen[c.reason] = true;
	if (c.kind == TR_K_TEREDO)
		seen[c.post_reason] = true;
	return c;
}

static struct tr_classified cls(const uint8_t *f, size_t n)
{
	return cls_r(&relay, f, n);
}

static void expect_drop(const uint8_t *f, size_t n, enum tr_drop_reason why)
{
	struct tr_classified c = cls(f, n);

	if (c.kind != TR_K_DROP || c.reason != why)
		fail_msg("expected drop %s, got kind %d reason %s", tr_drop_name(why), c.kind,
			 tr_drop_name(c.reason));
	assert_int_equal(c.icmp_type, 0);
}

/* A Teredo packet that passes the stateless checks, with its post_reason. */
static struct tr_classified expect_teredo(const uint8_t *f, size_t n, enum tr_drop_reason post)
{
	struct tr_classified c = cls(f, n);

	if (c.kind != TR_K_TEREDO)
		fail_msg("expected TEREDO, got kind %d reason %s", c.kind, tr_drop_name(c.reason));
	if (c.post_reason != post)
		fail_msg("expected post_reason %s, got %s", tr_drop_name(post),
			 tr_drop_name(c.post_reason));
	return c;
}

/* --------------------------------------------------- §2.8 worked frames */

/* Direct bubble, client A → relay (68-byte IPv4 datagram, notes §2.8). */
static const uint8_t direct_bubble_v4[68] = {
	0x45, 0x00, 0x00, 0x44, 0x00, 0x00, 0x00, 0x00, 0x40, 0x11, 0x8e, 0x73, 0xc0, 0x00,
	0x02, 0x01, 0xc6, 0x33, 0x64, 0x01, 0x10, 0x00, 0x0d, 0xd9, 0x00, 0x30, 0x7f, 0xee,
	0x60, 0x00, 0x00, 0x00, 0x00, 0x00, 0x3b, 0x00, 0x20, 0x01, 0x00, 0x00, 0xcb, 0x00,
	0x71, 0x78, 0x00, 0x00, 0xef, 0xff, 0x3f, 0xff, 0xfd, 0xfe, 0xfe, 0x80, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0xa0, 0xb2, 0xc3, 0xd4, 0xe5, 0xf6, 0x07, 0x18,
};

/* Native ICMPv6 echo request H → A (56 bytes, hop limit 64). */
static const uint8_t native_echo[56] = {
	0x60, 0x00, 0x00, 0x00, 0x00, 0x10, 0x3a, 0x40, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x20, 0x01, 0x00, 0x00,
	0xcb, 0x00, 0x71, 0x78, 0x00, 0x00, 0xef, 0xff, 0x3f, 0xff, 0xfd, 0xfe, 0x80, 0x00,
	0x23, 0xb8, 0x12, 0x34, 0x00, 0x01, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68,
};

/* The same, encapsulated by the relay toward 192.0.2.1:4096 (84 bytes). */
static const uint8_t encap_echo_hdr[28] = {
	0x45, 0x00, 0x00, 0x54, 0x00, 0x00, 0x00, 0x00, 0x40, 0x11, 0x8e, 0x63, 0xc6, 0x33,
	0x64, 0x01, 0xc0, 0x00, 0x02, 0x01, 0x0d, 0xd9, 0x10, 0x00, 0x00, 0x40, 0x5b, 0x59,
};

static size_t with_eth(uint8_t *f, uint16_t type, const uint8_t *l3, size_t n)
{
	size_t off = put_eth(f, type);

	memcpy(f + off, l3, n);
	return off + n;
}

/* The builders reproduce the verified §2.8 bytes: the rest of the file
 * can trust them. */
static void test_builders_match_worked_frames(void **state)
{
	uint8_t a[128], b[128];
	size_t n;

	(void)state;
	n = put_ip6(a, H6, A6, TR_NH_ICMPV6, 64, 16);
	assert_int_equal(n, sizeof(native_echo));
	assert_memory_equal(a, native_echo, n);

	uint8_t bub[40];
	put_ip6(bub, A6, BSRC6, TR_NH_NONE, 0, 0);
	n = mk_v4(b, &(struct v4opt){ .src = A4, .dst = R4, .sport = AP, .dport = RP,
				      .proto = TR_NH_UDP, .ihl_words = 5 }, bub, 40);
	assert_int_equal(n, 14 + sizeof(direct_bubble_v4));
	assert_memory_equal(b + 14, direct_bubble_v4, sizeof(direct_bubble_v4));
}

/* ------------------------------------------------------ positive: kinds */

static size_t data_frame(uint8_t *f)
{
	uint8_t pl[128] = { 0 };
	struct v4opt o = v4def();
	size_t n = teredo_payload(pl, A6, H6, TR_NH_ICMPV6, 64, 16, NULL, 0, NULL, 0);

	return mk_v4(f, &o, pl, n);
}

static void test_teredo_data(void **state)
{
	uint8_t f[256];
	size_t n = data_frame(f);
	struct tr_classified c;

	(void)state;
	c = expect_teredo(f, n, TR_DROP_NONE);
	assert_int_equal(c.l3_off, 14);
	assert_int_equal(c.ip6_off, 42);            /* notes §2.1 */
	assert_int_equal(c.ip6_len, 56);
	assert_int_equal(c.src_ip, A4);
	assert_int_equal(c.src_port, AP);
	assert_false(c.bubble);
	assert_true(c.mapping_ok);
	assert_false(c.origin_seen);
	assert_false(c.has_nonce);
	assert_int_equal(c.icmp_type, 0);

	/* n_served = 0: every global unicast destination is fine. */
	c = cls_r(&relay_all, f, n);
	assert_int_equal(c.kind, TR_K_TEREDO);
	assert_int_equal(c.post_reason, TR_DROP_NONE);

	/* Ethernet padding after the IPv4 datagram is ignored. */
	memset(f + n, 0, 8);
	c = expect_teredo(f, n + 8, TR_DROP_NONE);
	assert_int_equal(c.ip6_len, 56);
}

/* T20 (stateless half): wrong outer port → still TEREDO, mapping_ok false;
 * the caller decides rx_mapping_mismatch with its peer table. */
static void test_teredo_mapping_mismatch(void **state)
{
	uint8_t f[256], pl[128] = { 0 };
	struct v4opt o = v4def();
	struct tr_classified c;

	(void)state;
	o.sport = AP + 1;
	size_t n = mk_v4(f, &o, pl, teredo_payload(pl, A6, H6, TR_NH_ICMPV6, 64, 16, NULL, 0, NULL, 0));
	c = expect_teredo(f, n, TR_DROP_NONE);
	assert_false(c.mapping_ok);
	assert_int_equal(c.src_port, AP + 1);

	o = v4def();
	o.src = 0xc000020a;                 /* 192.0.2.10 */
	n = mk_v4(f, &o, pl, teredo_payload(pl, A6, H6, TR_NH_ICMPV6, 64, 16, NULL, 0, NULL, 0));
	c = expect_teredo(f, n, TR_DROP_NONE);
	assert_false(c.mapping_ok);

	/* RFC 5991 random flags: same mapping, address differs only in flags. */
	o = v4def();
	n = mk_v4(f, &o, pl, teredo_payload(pl, A6R, H6, TR_NH_ICMPV6, 64, 16, NULL, 0, NULL, 0));
	c = expect_teredo(f, n, TR_DROP_NONE);
	assert_true(c.mapping_ok);
}

static void test_teredo_ipv4_options(void **state)
{
	uint8_t f[256], pl[128] = { 0 };
	struct v4opt o = v4def();
	struct tr_classified c;

	(void)state;
	o.ihl_words = 7;                    /* 8 bytes of options */
	size_t n = mk_v4(f, &o, pl, teredo_payload(pl, A6, H6, TR_NH_ICMPV6, 64, 16, NULL, 0, NULL, 0));
	c = expect_teredo(f, n, TR_DROP_NONE);
	assert_int_equal(c.ip6_off, 14 + 28 + 8);   /* notes §2.1: from IHL */
	assert_int_equal(c.ip6_len, 56);
}

static void test_teredo_bubble_worked(void **state)
{
	uint8_t f[128];
	size_t n = with_eth(f, TR_ETHERTYPE_IPV4, direct_bubble_v4, sizeof(direct_bubble_v4));
	struct tr_classified c;

	(void)state;
	c = expect_teredo(f, n, TR_DROP_NONE);
	assert_true(c.bubble);
	assert_true(c.mapping_ok);
	assert_int_equal(c.src_ip, A4);
	assert_int_equal(c.src_port, AP);
	assert_int_equal(c.ip6_off, 42);
	assert_int_equal(c.ip6_len, 40);
	assert_false(c.has_nonce);
	assert_int_equal(c.icmp_type, 0);
}

/* RFC 6081 §4: Nonce trailer and a skippable 0x81 trailer after a bubble. */
static void test_teredo_bubble_trailers(void **state)
{
	uint8_t f[256], pl[128] = { 0 };
	struct v4opt o = v4def();
	struct tr_classified c;
	static const uint8_t nonce[6] = { 0x01, 0x04, 0xde, 0xad, 0xbe, 0xef };
	static const uint8_t t81_nonce[10] = { 0x81, 0x02, 0xaa, 0xbb, 0x01, 0x04, 0xde, 0xad,
					       0xbe, 0xef };
	static const uint8_t nonce_t81[10] = { 0x01, 0x04, 0xde, 0xad, 0xbe, 0xef, 0x81, 0x02,
					       0xaa, 0xbb };
	/* Malformed (length beyond the payload): walking stops, not a drop,
	 * and the 0x41 that would follow a well-formed trailer is never seen. */
	static const uint8_t malformed[4] = { 0x01, 0x04, 0xde, 0xad };
	static const uint8_t odd[1] = { 0x41 };
	/* Nonce with the wrong length is skipped, not recorded. */
	static const uint8_t bad_len_nonce[5] = { 0x01, 0x03, 1, 2, 3 };
	size_t n;

	(void)state;
	n = mk_v4(f, &o, pl, teredo_payload(pl, A6, BSRC6, TR_NH_NONE, 0, 0, NULL, 0, nonce, 6));
	c = expect_teredo(f, n, TR_DROP_NONE);
	assert_true(c.bubble);
	assert_true(c.has_nonce);
	assert_int_equal(c.nonce, 0xdeadbeefu);
	assert_int_equal(c.ip6_len, 40);            /* plen stays 0 */

	n = mk_v4(f, &o, pl, teredo_payload(pl, A6, BSRC6, TR_NH_NONE, 0, 0, NULL, 0, t81_nonce, 10));
	c = expect_teredo(f, n, TR_DROP_NONE);
	assert_true(c.bubble);
	assert_true(c.has_nonce);
	assert_int_equal(c.nonce, 0xdeadbeefu);

	n = mk_v4(f, &o, pl, teredo_payload(pl, A6, BSRC6, TR_NH_NONE, 0, 0, NULL, 0, nonce_t81, 10));
	c = expect_teredo(f, n, TR_DROP_NONE);
	assert_true(c.has_nonce);
	assert_int_equal(c.nonce, 0xdeadbeefu);

	n = mk_v4(f, &o, pl, teredo_payload(pl, A6, BSRC6, TR_NH_NONE, 0, 0, NULL, 0, malformed, 4));
	c = expect_teredo(f, n, TR_DROP_NONE);
	assert_false(c.has_nonce);

	n = mk_v4(f, &o, pl, teredo_payload(pl, A6, BSRC6, TR_NH_NONE, 0, 0, NULL, 0, odd, 1));
	c = expect_teredo(f, n, TR_DROP_NONE);      /* 1 byte < 2: stop */
	assert_false(c.has_nonce);

	n = mk_v4(f, &o, pl, teredo_payload(pl, A6, BSRC6, TR_NH_NONE, 0, 0, NULL, 0, bad_len_nonce, 5));
	c = expect_teredo(f, n, TR_DROP_NONE);
	assert_false(c.has_nonce);
}

/* T26: data packet plen 8 + 6-byte Nonce trailer: forward exactly 48 bytes. */
static void test_teredo_trailing_bytes(void **state)
{
	uint8_t f[256], pl[128] = { 0 };
	struct v4opt o = v4def();
	static const uint8_t nonce[6] = { 0x01, 0x04, 0xde, 0xad, 0xbe, 0xef };
	struct tr_classified c;

	(void)state;
	size_t n = mk_v4(f, &o, pl, teredo_payload(pl, A6, H6, TR_NH_ICMPV6, 64, 8, NULL, 0, nonce, 6));
	c = expect_teredo(f, n, TR_DROP_NONE);
	assert_int_equal(c.ip6_len, 48);
	assert_int_equal(c.ip6_off, 42);
	assert_false(c.bubble);
	assert_true(c.has_nonce);
}

/* T29: origin indication stripped and ignored, even naming another address. */
static void test_teredo_origin_stripped(void **state)
{
	uint8_t f[256], pl[128] = { 0 };
	struct v4opt o = v4def();
	uint8_t origin[8];
	struct tr_classified c;

	(void)state;
	tr_origin_build(origin, 0x01020304, 337);   /* 1.2.3.4:337, not the sender */
	size_t n = mk_v4(f, &o, pl, teredo_payload(pl, A6, H6, TR_NH_ICMPV6, 64, 16, origin, 8, NULL, 0));
	c = expect_teredo(f, n, TR_DROP_NONE);
	assert_true(c.origin_seen);
	assert_int_equal(c.ip6_off, 42 + 8);
	assert_int_equal(c.ip6_len, 56);
	assert_true(c.mapping_ok);                  /* from the outer header only */
	assert_int_equal(c.src_ip, A4);

	/* Bubble behind an origin indication (as forwarded by a server). */
	n = mk_v4(f, &o, pl, teredo_payload(pl, A6, BSRC6, TR_NH_NONE, 0, 0, origin, 8, NULL, 0));
	c = expect_teredo(f, n, TR_DROP_NONE);
	assert_true(c.bubble);
	assert_true(c.origin_seen);
}

/* T39: UDP checksum 0 = not computed (RFC 768) is accepted. */
static void test_teredo_udp_csum_zero(void **state)
{
	uint8_t f[256], pl[128] = { 0 };
	struct v4opt o = v4def();

	(void)state;
	o.zero_udp_csum = true;
	size_t n = mk_v4(f, &o, pl, teredo_payload(pl, A6, H6, TR_NH_ICMPV6, 64, 16, NULL, 0, NULL, 0));
	assert_int_equal(f[14 + 20 + 6], 0);
	assert_int_equal(f[14 + 20 + 7], 0);
	expect_teredo(f, n, TR_DROP_NONE);
}

static void test_v4_frag(void **state)
{
	uint8_t f[256], pl[128] = { 0 };
	struct v4opt o = v4def();
	struct tr_classified c;
	size_t plen = teredo_payload(pl, A6, H6, TR_NH_ICMPV6, 64, 16, NULL, 0, NULL, 0);

	(void)state;
	o.frag = 0x2000;                            /* MF, offset 0 */
	size_t n = mk_v4(f, &o, pl, plen);
	c = cls(f, n);
	assert_int_equal(c.kind, TR_K_V4_FRAG);
	assert_int_equal(c.reason, TR_DROP_NONE);
	assert_int_equal(c.l3_off, 14);

	o.frag = 0x0003;                            /* last fragment, offset 24 */
	n = mk_v4(f, &o, pl, plen);
	f[14 + 20 + 4] = 0xff;                      /* "UDP length" is payload here: not checked */
	fix_v4_csum(f);
	c = cls(f, n);
	assert_int_equal(c.kind, TR_K_V4_FRAG);

	o.frag = 0x4000;                            /* DF alone is not a fragment */
	n = mk_v4(f, &o, pl, plen);
	expect_teredo(f, n, TR_DROP_NONE);
}

static void test_native(void **state)
{
	uint8_t f[2048];
	size_t n = with_eth(f, TR_ETHERTYPE_IPV6, native_echo, sizeof(native_echo));
	struct tr_classified c;

	(void)state;
	c = cls(f, n);
	assert_int_equal(c.kind, TR_K_NATIVE);
	assert_int_equal(c.reason, TR_DROP_NONE);
	assert_int_equal(c.l3_off, 14);
	assert_int_equal(c.ip6_off, 14);
	assert_int_equal(c.ip6_len, 56);
	assert_int_equal(c.icmp_type, 0);

	/* Ethernet padding / trailing bytes beyond 40 + plen are ignored. */
	memset(f + n, 0xee, 10);
	c = cls(f, n + 10);
	assert_int_equal(c.kind, TR_K_NATIVE);
	assert_int_equal(c.ip6_len, 56);

	/* Cone bit / random flags: all the same to the classifier. */
	n = mk_native(f, H6, A6R, TR_NH_ICMPV6, 64, 16);
	assert_int_equal(cls(f, n).kind, TR_K_NATIVE);
	/* Hop limit 2 is still forwardable (becomes 1). */
	n = mk_native(f, H6, A6, TR_NH_ICMPV6, 2, 16);
	assert_int_equal(cls(f, n).kind, TR_K_NATIVE);
	/* Exactly the MTU fits. */
	n = mk_native(f, H6, A6, TR_NH_ICMPV6, 64, 1280 - 40);
	c = cls(f, n);
	assert_int_equal(c.kind, TR_K_NATIVE);
	assert_int_equal(c.ip6_len, 1280);
	/* A larger configured MTU lets 1400 bytes through. */
	struct tr_relay_id big = relay;
	big.mtu = 1400;
	n = mk_native(f, H6, A6, TR_NH_ICMPV6, 64, 1400 - 40);
	assert_int_equal(cls_r(&big, f, n).kind, TR_K_NATIVE);
}

static void test_arp(void **state)
{
	uint8_t f[64];
	struct tr_classified c;

	(void)state;
	c = cls(f, mk_arp(f, 1, R4));
	assert_int_equal(c.kind, TR_K_ARP);
	assert_int_equal(c.l3_off, 14);
	c = cls(f, mk_arp(f, 2, R4));
	assert_int_equal(c.kind, TR_K_ARP);
	/* Unpadded 42-byte frame (e.g. from a software switch). */
	c = cls(f, 42);
	assert_int_equal(c.kind, TR_K_ARP);
}

static void test_nd(void **state)
{
	uint8_t f[256];
	struct tr_classified c;

	(void)state;
	/* NS to our solicited-node group (RFC 4861 §7.2.2). */
	c = cls(f, mk_nd(f, 135, 0, NBR6, SNODE_R6, R6, 255));
	assert_int_equal(c.kind, TR_K_ND);
	assert_int_equal(c.ip6_off, 14);
	assert_int_equal(c.ip6_len, 72);
	/* Unicast NS (reachability confirmation, §7.3.1). */
	c = cls(f, mk_nd(f, 135, 0, NBR6, R6, R6, 255));
	assert_int_equal(c.kind, TR_K_ND);
	/* Solicited NA to us, unsolicited NA to all-nodes (§7.2.6). */
	c = cls(f, mk_nd(f, 136, 0x60000000u, NBR6, R6, NBR6, 255));
	assert_int_equal(c.kind, TR_K_ND);
	c = cls(f, mk_nd(f, 136, 0x20000000u, NBR6, ALLNODES6, NBR6, 255));
	assert_int_equal(c.kind, TR_K_ND);
	/* NS for someone else's group is not ours: a multicast for the native
	 * path, dropped there. */
	expect_drop(f, mk_nd(f, 135, 0, NBR6, SNODE_OTHER6, NBR6, 255), TR_DROP_TX_DST_MULTICAST);
	/* NA to all-nodes counts as ND, NS to all-nodes does not. */
	expect_drop(f, mk_nd(f, 135, 0, NBR6, ALLNODES6, R6, 255), TR_DROP_TX_DST_MULTICAST);
}

static void test_local6(void **state)
{
	uint8_t f[256];
	struct tr_classified c;

	(void)state;
	c = cls(f, mk_native(f, H6, R6, TR_NH_ICMPV6, 64, 16));
	assert_int_equal(c.kind, TR_K_LOCAL6);
	assert_int_equal(c.ip6_len, 56);
	/* Hop limit does not matter for packets addressed to us. */
	c = cls(f, mk_native(f, H6, R6, TR_NH_UDP, 1, 20));
	assert_int_equal(c.kind, TR_K_LOCAL6);
	/* Even from a Teredo source: LOCAL6 is decided before source filters. */
	c = cls(f, mk_native(f, A6, R6, TR_NH_ICMPV6, 64, 16));
	assert_int_equal(c.kind, TR_K_LOCAL6);
}

/* ------------------------------------------------------ layer 2 drops */

static void test_drop_eth(void **state)
{
	uint8_t f[64] = { 0 };

	(void)state;
	expect_drop(f, 0, TR_DROP_ETH_TRUNCATED);
	expect_drop(f, 13, TR_DROP_ETH_TRUNCATED);
	put_eth(f, 0x8100);                         /* tags are removed before (tr_l2_check) */
	expect_drop(f, 60, TR_DROP_VLAN_UNEXPECTED);
	put_eth(f, 0x88a8);
	expect_drop(f, 60, TR_DROP_VLAN_UNEXPECTED);
	put_eth(f, 0x88cc);                         /* LLDP */
	expect_drop(f, 60, TR_DROP_ETH_UNKNOWN_TYPE);
	put_eth(f, TR_ETHERTYPE_IPV4);
	expect_drop(f, 14, TR_DROP_RX_V4_TRUNCATED);
}

static void test_drop_arp(void **state)
{
	uint8_t f[64];

	(void)state;
	mk_arp(f, 1, R4);
	expect_drop(f, 41, TR_DROP_ARP_MALFORMED);   /* truncated */
	expect_drop(f, 14, TR_DROP_ARP_MALFORMED);
	mk_arp(f, 1, R4);
	f[14 + 1] = 6;                              /* hardware type 6 (IEEE 802) */
	expect_drop(f, 60, TR_DROP_ARP_MALFORMED);
	mk_arp(f, 3, R4);                           /* RARP opcode */
	expect_drop(f, 60, TR_DROP_ARP_MALFORMED);
	expect_drop(f, mk_arp(f, 1, 0xc63364feu), TR_DROP_ARP_NOT_FOR_US);
	expect_drop(f, mk_arp(f, 2, A4), TR_DROP_ARP_NOT_FOR_US);
}

/* ------------------------------------------------ Teredo side drops */

static void test_drop_rx_v4_truncated(void **state)
{
	uint8_t f[256];
	size_t n = data_frame(f);

	(void)state;
	expect_drop(f, 14 + 19, TR_DROP_RX_V4_TRUNCATED);    /* header cut */
	expect_drop(f, n - 1, TR_DROP_RX_V4_TRUNCATED);      /* datagram cut */
	f[14 + 2] = 0xff;                                    /* total length 65xxx */
	fix_v4_csum(f);
	expect_drop(f, n, TR_DROP_RX_V4_TRUNCATED);
}

static void test_drop_rx_v4_bad_header(void **state)
{
	uint8_t f[256];
	size_t n;

	(void)state;
	n = data_frame(f);
	f[14] = 0x65;                               /* version 6 in an IPv4 ethertype */
	fix_v4_csum(f);
	expect_drop(f, n, TR_DROP_RX_V4_BAD_HEADER);
	n = data_frame(f);
	f[14] = 0x44;                               /* IHL 4 */
	expect_drop(f, n, TR_DROP_RX_V4_BAD_HEADER);
	n = data_frame(f);
	f[14] = 0x46;                               /* IHL 6 with total length 20 */
	be16(f + 14 + 2, 20);
	expect_drop(f, n, TR_DROP_RX_V4_BAD_HEADER);
	n = data_frame(f);
	f[14] = 0x4f;                               /* IHL 15 = 60 > total length 48 */
	be16(f + 14 + 2, 48);
	expect_drop(f, n, TR_DROP_RX_V4_BAD_HEADER);
}

static void test_drop_rx_v4_bad_csum(void **state)
{
	uint8_t f[256];
	size_t n = data_frame(f);

	(void)state;
	f[14 + 8] = 63;                             /* TTL changed, checksum not */
	expect_drop(f, n, TR_DROP_RX_V4_BAD_CSUM);
	n = data_frame(f);
	f[14 + 10] ^= 0x01;
	expect_drop(f, n, TR_DROP_RX_V4_BAD_CSUM);
}

static void test_drop_rx_v4_not_for_relay(void **state)
{
	uint8_t f[256], l3[128];
	struct v4opt o = v4def();

	(void)state;
	/* §2.8: the relay's own encapsulated echo, seen coming back. */
	memcpy(l3, encap_echo_hdr, 28);
	memcpy(l3 + 28, native_echo, 56);
	l3[28 + 7] = 63;
	size_t n = with_eth(f, TR_ETHERTYPE_IPV4, l3, 84);
	expect_drop(f, n, TR_DROP_RX_V4_NOT_FOR_RELAY);

	o.dst = R4 + 1;
	expect_drop(f, mk_v4(f, &o, NULL, 0), TR_DROP_RX_V4_NOT_FOR_RELAY);
	o.dst = 0xffffffffu;                        /* broadcast */
	expect_drop(f, mk_v4(f, &o, NULL, 0), TR_DROP_RX_V4_NOT_FOR_RELAY);
}

static void test_drop_rx_loop(void **state)
{
	uint8_t f[256], pl[128] = { 0 };
	struct v4opt o = v4def();

	(void)state;
	o.src = R4;
	o.sport = RP;
	expect_drop(f, mk_v4(f, &o, pl, teredo_payload(pl, A6, H6, 58, 64, 16, NULL, 0, NULL, 0)),
		    TR_DROP_RX_LOOP);
	/* The loop guard comes before the fragment hand-off. */
	o.frag = 0x2000;
	expect_drop(f, mk_v4(f, &o, pl, 48), TR_DROP_RX_LOOP);
}

static void test_drop_rx_v4_not_udp(void **state)
{
	uint8_t f[256], pl[64] = { 0 };
	struct v4opt o = v4def();

	(void)state;
	o.proto = 6;                                /* TCP */
	expect_drop(f, mk_v4(f, &o, pl, 20), TR_DROP_RX_V4_NOT_UDP);
	o.proto = 1;                                /* ICMP */
	expect_drop(f, mk_v4(f, &o, pl, 20), TR_DROP_RX_V4_NOT_UDP);
	o.proto = 41;                               /* 6in4 is not Teredo */
	expect_drop(f, mk_v4(f, &o, pl, 40), TR_DROP_RX_V4_NOT_UDP);
	o.proto = 6;                                /* a TCP fragment is not ours either */
	o.frag = 0x2000;
	expect_drop(f, mk_v4(f, &o, pl, 20), TR_DROP_RX_V4_NOT_UDP);
}

static void test_drop_rx_bad_udp_len(void **state)
{
	uint8_t f[256];
	struct v4opt o = v4def();
	size_t n;

	(void)state;
	n = data_frame(f);
	be16(f + 14 + 20 + 4, 7);                   /* < 8 */
	expect_drop(f, n, TR_DROP_RX_BAD_UDP_LEN);
	n = data_frame(f);
	be16(f + 14 + 20 + 4, (uint16_t)(n - 14 - 20 + 1));  /* beyond the datagram */
	expect_drop(f, n, TR_DROP_RX_BAD_UDP_LEN);
	/* IPv4 payload shorter than a UDP header. */
	n = mk_v4(f, &o, NULL, 0);
	be16(f + 14 + 2, 20 + 4);
	fix_v4_csum(f);
	expect_drop(f, n, TR_DROP_RX_BAD_UDP_LEN);
	be16(f + 14 + 2, 20);
	fix_v4_csum(f);
	expect_drop(f, n, TR_DROP_RX_BAD_UDP_LEN);
}

static void test_drop_rx_wrong_port(void **state)
{
	uint8_t f[256], pl[128] = { 0 };
	struct v4opt o = v4def();

	(void)state;
	o.dport = TR_SERVER_PORT;                   /* 3544: we are not a server */
	expect_drop(f, mk_v4(f, &o, pl, teredo_payload(pl, A6, H6, 58, 64, 16, NULL, 0, NULL, 0)),
		    TR_DROP_RX_WRONG_PORT);
}

/* T38: from 10.0.0.1:4096 with the matching Teredo source. */
static void test_drop_rx_src_v4_not_global(void **state)
{
	uint8_t f[256], pl[128] = { 0 };
	struct v4opt o = v4def();
	static const uint32_t bad[] = { 0x0a000001u, 0x7f000001u, 0xa9fe0001u, 0xc0a80001u,
					0xac100001u, 0xc0586301u, 0xe0000001u, 0x00000000u,
					0xffffffffu };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o.src = bad[i];
		expect_drop(f, mk_v4(f, &o, pl, teredo_payload(pl, NGC6, H6, 58, 64, 16, NULL, 0, NULL, 0)),
			    TR_DROP_RX_SRC_V4_NOT_GLOBAL);
	}
}

/* T39: non-zero and wrong. */
static void test_drop_rx_bad_udp_csum(void **state)
{
	uint8_t f[256];
	size_t n = data_frame(f);

	(void)state;
	f[n - 1] ^= 0x40;                           /* payload changed after checksumming */
	expect_drop(f, n, TR_DROP_RX_BAD_UDP_CSUM);
	n = data_frame(f);
	f[14 + 20 + 6] ^= 0x01;
	expect_drop(f, n, TR_DROP_RX_BAD_UDP_CSUM);
}

/* A NIC that verified the checksums (rx offload "good") spares the software
 * sums: the same corrupted checksum fields pass, each only with its own
 * flag; without flags (or with the other one) they are still dropped. */
static void test_hw_verified_cksums(void **state)
{
	uint8_t f[256];
	size_t n = data_frame(f);
	struct tr_classified c;

	(void)state;
	f[14 + 20 + 6] ^= 0x01;                     /* UDP checksum field */
	tr_classify_hw(&relay, f, n, TR_HW_L4_CKSUM_GOOD, &c);
	assert_int_equal(c.kind, TR_K_TEREDO);
	assert_true(c.mapping_ok);
	tr_classify_hw(&relay, f, n, TR_HW_IPV4_CKSUM_GOOD, &c);
	assert_int_equal(c.kind, TR_K_DROP);
	assert_int_equal(c.reason, TR_DROP_RX_BAD_UDP_CSUM);

	n = data_frame(f);
	f[14 + 10] ^= 0x01;                         /* IPv4 header checksum */
	tr_classify_hw(&relay, f, n, TR_HW_IPV4_CKSUM_GOOD, &c);
	assert_int_equal(c.kind, TR_K_TEREDO);
	tr_classify_hw(&relay, f, n, TR_HW_L4_CKSUM_GOOD, &c);
	assert_int_equal(c.reason, TR_DROP_RX_V4_BAD_CSUM);
	tr_classify_hw(&relay, f, n, 0, &c);
	assert_int_equal(c.reason, TR_DROP_RX_V4_BAD_CSUM);
}

/* T28: 00 02 ...; also a lone 00. */
static void test_drop_rx_bad_encap(void **state)
{
	uint8_t f[256], pl[128] = { 0 };
	struct v4opt o = v4def();
	static const uint8_t pre02[2] = { 0x00, 0x02 };
	static const uint8_t pre00[1] = { 0x00 };

	(void)state;
	expect_drop(f, mk_v4(f, &o, pl, teredo_payload(pl, A6, H6, 58, 64, 16, pre02, 2, NULL, 0)),
		    TR_DROP_RX_BAD_ENCAP);
	expect_drop(f, mk_v4(f, &o, pre00, 1), TR_DROP_RX_BAD_ENCAP);
	static const uint8_t ff[2] = { 0x00, 0xff };
	expect_drop(f, mk_v4(f, &o, ff, 2), TR_DROP_RX_BAD_ENCAP);
}

/* T30: authentication encapsulation. */
static void test_drop_rx_auth_unexpected(void **state)
{
	uint8_t f[256], pl[128] = { 0 };
	struct v4opt o = v4def();
	/* 00 01 ID-len 0 AU-len 0, nonce 8, confirmation 1 (13 bytes). */
	static const uint8_t auth[13] = { 0x00, 0x01, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0 };

	(void)state;
	expect_drop(f, mk_v4(f, &o, pl, teredo_payload(pl, A6, H6, 58, 64, 16, auth, 13, NULL, 0)),
		    TR_DROP_RX_AUTH_UNEXPECTED);
	expect_drop(f, mk_v4(f, &o, auth, 2), TR_DROP_RX_AUTH_UNEXPECTED);
}

static void test_drop_rx_bad_origin(void **state)
{
	uint8_t f[256];
	struct v4opt o = v4def();
	uint8_t origin[8];

	(void)state;
	tr_origin_build(origin, R4, RP);
	for (size_t k = 2; k < 8; k++)
		expect_drop(f, mk_v4(f, &o, origin, k), TR_DROP_RX_BAD_ORIGIN);
}

/* T25: payload 39 bytes; version nibble 4; plen 100 with 60 bytes present. */
static void test_drop_rx_bad_ipv6(void **state)
{
	uint8_t f[256], pl[200] = { 0 };
	struct v4opt o = v4def();
	size_t n;
	uint8_t origin[8];

	(void)state;
	n = teredo_payload(pl, A6, H6, 58, 64, 16, NULL, 0, NULL, 0);
	expect_drop(f, mk_v4(f, &o, pl, 39), TR_DROP_RX_BAD_IPV6);
	expect_drop(f, mk_v4(f, &o, pl, 0), TR_DROP_RX_BAD_IPV6);    /* empty payload */

	pl[0] = 0x45;                               /* IPv4-in-Teredo is not a thing */
	expect_drop(f, mk_v4(f, &o, pl, n), TR_DROP_RX_BAD_IPV6);
	pl[0] = 0xff;
	expect_drop(f, mk_v4(f, &o, pl, n), TR_DROP_RX_BAD_IPV6);

	n = teredo_payload(pl, A6, H6, 58, 64, 100, NULL, 0, NULL, 0);
	expect_drop(f, mk_v4(f, &o, pl, 100), TR_DROP_RX_BAD_IPV6);  /* 60 of 140 */
	expect_drop(f, mk_v4(f, &o, pl, n - 1), TR_DROP_RX_BAD_IPV6);

	/* After an origin indication, the rest must be a valid IPv6 packet. */
	tr_origin_build(origin, R4, RP);
	n = teredo_payload(pl, A6, H6, 58, 64, 16, origin, 8, NULL, 0);
	expect_drop(f, mk_v4(f, &o, pl, 8 + 39), TR_DROP_RX_BAD_IPV6);
	expect_drop(f, mk_v4(f, &o, pl, 8), TR_DROP_RX_BAD_IPV6);
	pl[8] = 0x00;                               /* auth after origin: wrong order */
	pl[9] = 0x01;
	expect_drop(f, mk_v4(f, &o, pl, n), TR_DROP_RX_BAD_IPV6);
}

/* T27: top bits 01 → discard (RFC 6081 §5.1.2), wherever it appears. */
static void test_drop_rx_trailer_discard(void **state)
{
	uint8_t f[256], pl[128] = { 0 };
	struct v4opt o = v4def();
	static const uint8_t t41[6] = { 0x41, 0x04, 1, 2, 3, 4 };
	static const uint8_t t7f[2] = { 0x7f, 0x00 };
	static const uint8_t nonce_t41[8] = { 0x01, 0x04, 0xde, 0xad, 0xbe, 0xef, 0x41, 0x00 };
	static const uint8_t t81_t40[6] = { 0x81, 0x02, 0xaa, 0xbb, 0x40, 0x00 };

	(void)state;
	expect_drop(f, mk_v4(f, &o, pl, teredo_payload(pl, A6, H6, 58, 64, 8, NULL, 0, t41, 6)),
		    TR_DROP_RX_TRAILER_DISCARD);
	expect_drop(f, mk_v4(f, &o, pl, teredo_payload(pl, A6, BSRC6, 59, 0, 0, NULL, 0, t7f, 2)),
		    TR_DROP_RX_TRAILER_DISCARD);
	expect_drop(f, mk_v4(f, &o, pl, teredo_payload(pl, A6, BSRC6, 59, 0, 0, NULL, 0, nonce_t41, 8)),
		    TR_DROP_RX_TRAILER_DISCARD);
	expect_drop(f, mk_v4(f, &o, pl, teredo_payload(pl, A6, BSRC6, 59, 0, 0, NULL, 0, t81_t40, 6)),
		    TR_DROP_RX_TRAILER_DISCARD);
}

/* T21: from 192.0.2.1:4096 with source 2001:db8::99; also look-alikes. */
static void test_drop_rx_src_not_teredo(void **state)
{
	uint8_t f[256], pl[128] = { 0 };
	struct v4opt o = v4def();
	static const uint8_t old_pfx[16] = { 0x3f, 0xfe, 0x83, 0x1f, 0xcb, 0x00, 0x71, 0x78,
					     0x00, 0x00, 0xef, 0xff, 0x3f, 0xff, 0xfd, 0xfe };

	(void)state;
	expect_drop(f, mk_v4(f, &o, pl, teredo_payload(pl, H99_6, H6, 58, 64, 16, NULL, 0, NULL, 0)),
		    TR_DROP_RX_SRC_NOT_TEREDO);
	expect_drop(f, mk_v4(f, &o, pl, teredo_payload(pl, old_pfx, H6, 58, 64, 16, NULL, 0, NULL, 0)),
		    TR_DROP_RX_SRC_NOT_TEREDO);
	/* Bubbles too: a bubble from a non-Teredo source is not a Teredo peer. */
	expect_drop(f, mk_v4(f, &o, pl, teredo_payload(pl, BSRC6, A6, 59, 0, 0, NULL, 0, NULL, 0)),
		    TR_DROP_RX_SRC_NOT_TEREDO);
}

/* ---------------------------------------------- post_reason (§5.4.2) */

static struct tr_classified post_case(const struct tr_relay_id *r, const uint8_t dst[16],
				      uint8_t nh, uint8_t hlim, uint16_t plen)
{
	uint8_t f[256], pl[128] = { 0 };
	struct v4opt o = v4def();
	size_t n = mk_v4(f, &o, pl, teredo_payload(pl, A6, dst, nh, hlim, plen, NULL, 0, NULL, 0));
	struct tr_classified c = cls_r(r, f, n);

	assert_int_equal(c.kind, TR_K_TEREDO);
	assert_true(c.mapping_ok);
	return c;
}

/* T31: to B (Teredo) and to 2001:db9::1 (not served). */
static void test_post_t31(void **state)
{
	struct tr_classified c;

	(void)state;
	c = post_case(&relay, B6, 58, 64, 16);
	assert_int_equal(c.post_reason, TR_DROP_RX_DST_TEREDO);
	assert_int_equal(c.icmp_type, 0);           /* silently discarded */
	c = post_case(&relay_all, B6, 58, 64, 16);
	assert_int_equal(c.post_reason, TR_DROP_RX_DST_TEREDO);
	c = post_case(&relay, DB9_6, 58, 64, 16);
	assert_int_equal(c.post_reason, TR_DROP_RX_DST_NOT_SERVED);
	assert_int_equal(c.icmp_type, 0);
	c = post_case(&relay_all, DB9_6, 58, 64, 16);
	assert_int_equal(c.post_reason, TR_DROP_NONE);
	/* The relay's own prefix is served. */
	c = post_case(&relay, R6, 58, 64, 16);
	assert_int_equal(c.post_reason, TR_DROP_NONE);

	/* Several served prefixes: any match serves. */
	static const struct tr_prefix6 two[2] = { { { 0x20, 0x01, 0x0d, 0xb9 }, 32 },
						  { { 0x20, 0x01, 0x0d, 0xb8 }, 32 } };
	struct tr_relay_id r2 = relay;
	r2.served = two;
	r2.n_served = 2;
	assert_int_equal(post_case(&r2, DB9_6, 58, 64, 16).post_reason, TR_DROP_NONE);
	assert_int_equal(post_case(&r2, H6, 58, 64, 16).post_reason, TR_DROP_NONE);
}

/* T32: fe80::1, ::1, plus :: and an IPv4-mapped address. */
static void test_post_t32_not_global(void **state)
{
	(void)state;
	assert_int_equal(post_case(&relay, LL6, 58, 64, 16).post_reason, TR_DROP_RX_DST_NOT_GLOBAL);
	assert_int_equal(post_case(&relay, LO6, 58, 64, 16).post_reason, TR_DROP_RX_DST_NOT_GLOBAL);
	assert_int_equal(post_case(&relay, UNSPEC6, 58, 64, 16).post_reason, TR_DROP_RX_DST_NOT_GLOBAL);
	assert_int_equal(post_case(&relay_all, MAPPED6, 58, 64, 16).post_reason,
			 TR_DROP_RX_DST_NOT_GLOBAL);
	/* Non-global wins over "not served" and carries no ICMPv6. */
	assert_int_equal(post_case(&relay, LL6, 58, 1, 16).icmp_type, 0);
}

static void test_post_multicast(void **state)
{
	struct tr_classified c;

	(void)state;
	c = post_case(&relay, MCAST6, 58, 64, 16);
	assert_int_equal(c.post_reason, TR_DROP_RX_DST_MULTICAST);
	c = post_case(&relay, ALLNODES6, 58, 1, 16);
	assert_int_equal(c.post_reason, TR_DROP_RX_DST_MULTICAST);
	assert_int_equal(c.icmp_type, 0);
}

static void test_post_hop_limit(void **state)
{
	struct tr_classified c;

	(void)state;
	c = post_case(&relay, H6, 58, 1, 16);
	assert_int_equal(c.post_reason, TR_DROP_RX_HOP_LIMIT);
	assert_int_equal(c.icmp_type, 3);           /* Time Exceeded */
	assert_int_equal(c.icmp_code, 0);           /* hop limit exceeded in transit */
	c = post_case(&relay, H6, 17, 0, 20);
	assert_int_equal(c.post_reason, TR_DROP_RX_HOP_LIMIT);
	assert_int_equal(c.icmp_type, 3);
	c = post_case(&relay, H6, 58, 2, 16);
	assert_int_equal(c.post_reason, TR_DROP_NONE);

	/* RFC 4443 §2.4(e): an ICMPv6 error (Dest. Unreachable, type 1) with
	 * hop limit 1 is dropped without an error about the error. */
	uint8_t f[256], pl[128] = { 0 };
	struct v4opt o = v4def();
	size_t n = teredo_payload(pl, A6, H6, 58, 1, 16, NULL, 0, NULL, 0);
	pl[40] = 1;
	n = mk_v4(f, &o, pl, n);
	c = expect_teredo(f, n, TR_DROP_RX_HOP_LIMIT);
	assert_int_equal(c.icmp_type, 0);
	/* ICMPv6 informational (type >= 128) still gets one. */
	n = teredo_payload(pl, A6, H6, 58, 1, 16, NULL, 0, NULL, 0);
	pl[40] = 129;                               /* echo reply */
	n = mk_v4(f, &o, pl, n);
	c = expect_teredo(f, n, TR_DROP_RX_HOP_LIMIT);
	assert_int_equal(c.icmp_type, 3);
}

/* Bubbles are consumed, never forwarded: no destination verdict at all. */
static void test_post_bubble_none(void **state)
{
	struct tr_classified c;

	(void)state;
	c = post_case(&relay, BSRC6, 59, 0, 0);
	assert_true(c.bubble);
	assert_int_equal(c.post_reason, TR_DROP_NONE);
	assert_int_equal(c.icmp_type, 0);
	c = post_case(&relay, MCAST6, 59, 0, 0);
	assert_true(c.bubble);
	assert_int_equal(c.post_reason, TR_DROP_NONE);
	/* plen 0 but next header 58 is no bubble. */
	c = post_case(&relay, BSRC6, 58, 64, 0);
	assert_false(c.bubble);
	assert_int_equal(c.post_reason, TR_DROP_RX_DST_NOT_GLOBAL);
}

/* ------------------------------------------------ native side drops */

static void test_drop_tx_bad_ipv6(void **state)
{
	uint8_t f[256];
	size_t n;

	(void)state;
	n = mk_native(f, H6, A6, 58, 64, 16);
	expect_drop(f, 14 + 39, TR_DROP_TX_BAD_IPV6);
	expect_drop(f, n - 1, TR_DROP_TX_BAD_IPV6);      /* plen beyond the frame */
	f[14] = 0x40;
	expect_drop(f, n, TR_DROP_TX_BAD_IPV6);          /* version 4 */
	n = mk_native(f, H6, A6, 58, 64, 16);
	be16(f + 14 + 4, 0xffff);
	expect_drop(f, n, TR_DROP_TX_BAD_IPV6);
	/* A truncated ND message for us is a bad IPv6 packet first. */
	n = mk_nd(f, 135, 0, NBR6, SNODE_R6, R6, 255);
	expect_drop(f, n - 1, TR_DROP_TX_BAD_IPV6);
}

/* T08 */
static void test_drop_tx_dst_multicast(void **state)
{
	uint8_t f[256];

	(void)state;
	expect_drop(f, mk_native(f, H6, MCAST6, 58, 64, 16), TR_DROP_TX_DST_MULTICAST);
	expect_drop(f, mk_native(f, H6, ALLNODES6, 58, 1, 16), TR_DROP_TX_DST_MULTICAST);
}

/* Multicast, unspecified or Teredo source; T41 "source ::" included. */
static void test_drop_tx_src_invalid(void **state)
{
	uint8_t f[2048];
	struct tr_classified c;

	(void)state;
	expect_drop(f, mk_native(f, MCAST6, A6, 58, 64, 16), TR_DROP_TX_SRC_INVALID);
	expect_drop(f, mk_native(f, B6, A6, 58, 64, 16), TR_DROP_TX_SRC_INVALID);
	expect_drop(f, mk_native(f, UNSPEC6, A6, 58, 64, 16), TR_DROP_TX_SRC_INVALID);
	/* Link-local, loopback and IPv4-mapped sources never leave their link
	 * (RFC 4291 §2.5.3, §2.5.6), nor reach a client through the relay. */
	expect_drop(f, mk_native(f, LL6, A6, 58, 64, 16), TR_DROP_TX_SRC_INVALID);
	expect_drop(f, mk_native(f, LO6, A6, 58, 64, 16), TR_DROP_TX_SRC_INVALID);
	expect_drop(f, mk_native(f, MAPPED6, A6, 58, 64, 16), TR_DROP_TX_SRC_INVALID);
	/* T41: from :: with hop limit 1. The source filter comes first in
	 * the §3(a) order, and either way no ICMPv6 may go to :: (RFC 4443
	 * §2.4(e)). */
	c = cls(f, mk_native(f, UNSPEC6, A6, 58, 1, 16));
	assert_int_equal(c.kind, TR_K_DROP);
	assert_int_equal(c.reason, TR_DROP_TX_SRC_INVALID);
	assert_int_equal(c.icmp_type, 0);
	/* Multicast source, too big: no Packet Too Big either. */
	c = cls(f, mk_native(f, MCAST6, A6, 58, 64, 1400));
	assert_int_equal(c.reason, TR_DROP_TX_SRC_INVALID);
	assert_int_equal(c.icmp_type, 0);
}

/* T03: silent by the lead's decision. */
static void test_drop_tx_not_teredo(void **state)
{
	uint8_t f[256];
	static const uint8_t old_pfx[16] = { 0x3f, 0xfe, 0x83, 0x1f, [15] = 1 };

	(void)state;
	expect_drop(f, mk_native(f, H6, H99_6, 58, 64, 16), TR_DROP_TX_NOT_TEREDO);
	expect_drop(f, mk_native(f, H6, old_pfx, 58, 64, 16), TR_DROP_TX_NOT_TEREDO);
	expect_drop(f, mk_native(f, H6, LL6, 58, 64, 16), TR_DROP_TX_NOT_TEREDO);
	expect_drop(f, mk_native(f, H6, H99_6, 58, 1, 16), TR_DROP_TX_NOT_TEREDO);
}

/* T06 */
static void test_drop_tx_client_not_global(void **state)
{
	uint8_t f[256];

	(void)state;
	expect_drop(f, mk_native(f, H6, NGC6, 58, 64, 16), TR_DROP_TX_CLIENT_NOT_GLOBAL);
	/* Checked before the hop limit: silently, no Time Exceeded. */
	expect_drop(f, mk_native(f, H6, NGC6, 58, 1, 16), TR_DROP_TX_CLIENT_NOT_GLOBAL);
}

/* T07 */
static void test_drop_tx_server_not_global(void **state)
{
	uint8_t f[256];

	(void)state;
	expect_drop(f, mk_native(f, H6, NGS6, 58, 64, 16), TR_DROP_TX_SERVER_NOT_GLOBAL);
}

/* T19 and the other loop guards. */
static void test_drop_tx_loop(void **state)
{
	uint8_t f[256];

	(void)state;
	expect_drop(f, mk_native(f, H6, LOOPC6, 58, 64, 16), TR_DROP_TX_LOOP);
	expect_drop(f, mk_native(f, H6, LOOPS6, 58, 64, 16), TR_DROP_TX_LOOP);
	expect_drop(f, mk_native(f, H6, PORT0_6, 58, 64, 16), TR_DROP_TX_LOOP);
}

/* T18 */
static void test_drop_tx_hop_limit(void **state)
{
	uint8_t f[256];
	struct tr_classified c;
	size_t n;

	(void)state;
	c = cls(f, mk_native(f, H6, A6, 58, 1, 16));
	assert_int_equal(c.kind, TR_K_DROP);
	assert_int_equal(c.reason, TR_DROP_TX_HOP_LIMIT);
	assert_int_equal(c.icmp_type, 3);
	assert_int_equal(c.icmp_code, 0);
	assert_int_equal(c.ip6_off, 14);
	assert_int_equal(c.ip6_len, 56);            /* what to quote */
	c = cls(f, mk_native(f, H6, A6, 17, 0, 20));
	assert_int_equal(c.reason, TR_DROP_TX_HOP_LIMIT);
	assert_int_equal(c.icmp_type, 3);

	/* T41 / RFC 4443 §2.4(e): an ICMPv6 error gets no error back. */
	n = mk_native(f, H6, A6, 58, 1, 16);
	f[14 + 40] = 1;                             /* Destination Unreachable */
	c = cls(f, n);
	assert_int_equal(c.reason, TR_DROP_TX_HOP_LIMIT);
	assert_int_equal(c.icmp_type, 0);
	/* Next header 58 with no room for a type: conservatively no error. */
	c = cls(f, mk_native(f, H6, A6, 58, 1, 0));
	assert_int_equal(c.reason, TR_DROP_TX_HOP_LIMIT);
	assert_int_equal(c.icmp_type, 0);
}

/* T17 */
static void test_drop_tx_too_big(void **state)
{
	uint8_t f[2048];
	struct tr_classified c;
	size_t n;

	(void)state;
	c = cls(f, mk_native(f, H6, A6, 58, 64, 1400 - 40));
	assert_int_equal(c.kind, TR_K_DROP);
	assert_int_equal(c.reason, TR_DROP_TX_TOO_BIG);
	assert_int_equal(c.icmp_type, 2);
	assert_int_equal(c.icmp_code, 0);
	assert_int_equal(c.icmp_param, 1280);
	assert_int_equal(c.ip6_len, 1400);
	c = cls(f, mk_native(f, H6, A6, 17, 64, 1281 - 40));
	assert_int_equal(c.reason, TR_DROP_TX_TOO_BIG);
	assert_int_equal(c.icmp_param, 1280);

	/* mtu 0 in the identity means the RFC 4380 §5.1.2 default. */
	struct tr_relay_id z = relay;
	z.mtu = 0;
	c = cls_r(&z, f, mk_native(f, H6, A6, 58, 64, 1281 - 40));
	assert_int_equal(c.reason, TR_DROP_TX_TOO_BIG);
	assert_int_equal(c.icmp_param, 1280);

	/* T41 / RFC 4443 §2.4(e): an oversized Packet Too Big gets none. */
	n = mk_native(f, H6, A6, 58, 64, 1400 - 40);
	f[14 + 40] = 2;
	c = cls(f, n);
	assert_int_equal(c.reason, TR_DROP_TX_TOO_BIG);
	assert_int_equal(c.icmp_type, 0);
	assert_int_equal(c.icmp_param, 0);
}

static void test_drop_nd_malformed(void **state)
{
	uint8_t f[256];
	size_t n;

	(void)state;
	/* RFC 4861 §7.1.1: hop limit must be 255. */
	expect_drop(f, mk_nd(f, 135, 0, NBR6, SNODE_R6, R6, 64), TR_DROP_ND_MALFORMED);
	/* Our group, someone else's target (same low 24 bits). */
	expect_drop(f, mk_nd(f, 135, 0, NBR6, SNODE_R6, R6TWIN, 255), TR_DROP_ND_MALFORMED);
	/* Bad checksum. */
	n = mk_nd(f, 135, 0, NBR6, R6, R6, 255);
	f[n - 1] ^= 1;
	expect_drop(f, n, TR_DROP_ND_MALFORMED);
	/* Too short for an NS (plen 8). */
	n = mk_native(f, NBR6, R6, 58, 255, 8);
	f[14 + 40] = 135;
	expect_drop(f, n, TR_DROP_ND_MALFORMED);
	/* Code != 0. */
	n = mk_nd(f, 136, 0x20000000u, NBR6, ALLNODES6, NBR6, 255);
	f[14 + 41] = 1;
	expect_drop(f, n, TR_DROP_ND_MALFORMED);
}

/* ------------------------------------------------------ truncation sweeps */

static bool is_trunc_reason(enum tr_drop_reason r)
{
	return r == TR_DROP_ETH_TRUNCATED || r == TR_DROP_RX_V4_TRUNCATED ||
	       r == TR_DROP_RX_BAD_UDP_LEN || r == TR_DROP_RX_BAD_IPV6 || r == TR_DROP_RX_BAD_ORIGIN ||
	       r == TR_DROP_TX_BAD_IPV6 || r == TR_DROP_ARP_MALFORMED;
}

static void sweep(const uint8_t *f, size_t n, enum tr_drop_reason l3_reason)
{
	for (size_t k = 0; k < n; k++) {
		struct tr_classified c = cls(f, k);

		assert_int_equal(c.kind, TR_K_DROP);
		assert_true(is_trunc_reason(c.reason));
		assert_int_equal(c.reason, k < TR_ETH_HLEN ? TR_DROP_ETH_TRUNCATED : l3_reason);
	}
}

/* Every prefix of a valid frame is a drop, never a crash. */
static void test_truncation_sweep(void **state)
{
	uint8_t f[256], pl[128] = { 0 };
	struct v4opt o = v4def();
	size_t n;
	static const uint8_t nonce[6] = { 0x01, 0x04, 0xde, 0xad, 0xbe, 0xef };
	uint8_t origin[8];

	(void)state;
	n = data_frame(f);
	assert_int_equal(cls(f, n).kind, TR_K_TEREDO);
	sweep(f, n, TR_DROP_RX_V4_TRUNCATED);

	tr_origin_build(origin, R4, RP);
	n = mk_v4(f, &o, pl, teredo_payload(pl, A6, BSRC6, 59, 0, 0, origin, 8, nonce, 6));
	assert_int_equal(cls(f, n).kind, TR_K_TEREDO);
	sweep(f, n, TR_DROP_RX_V4_TRUNCATED);

	n = mk_native(f, H6, A6, 58, 64, 16);
	assert_int_equal(cls(f, n).kind, TR_K_NATIVE);
	sweep(f, n, TR_DROP_TX_BAD_IPV6);

	n = mk_nd(f, 135, 0, NBR6, SNODE_R6, R6, 255);
	assert_int_equal(cls(f, n).kind, TR_K_ND);
	sweep(f, n, TR_DROP_TX_BAD_IPV6);

	n = mk_arp(f, 1, R4);
	sweep(f, 42, TR_DROP_ARP_MALFORMED);
}

/* Consistent headers around a cut payload: every UDP payload prefix of a
 * valid Teredo packet (IPv4 and UDP lengths and checksums rewritten to match)
 * is one of the payload length reasons, never TEREDO. */
static void test_payload_sweep(void **state)
{
	uint8_t f[256], pl[128] = { 0 };
	struct v4opt o = v4def();
	uint8_t origin[8];
	size_t n;

	(void)state;
	n = teredo_payload(pl, A6, H6, 58, 64, 16, NULL, 0, NULL, 0);
	for (size_t k = 0; k < n; k++)
		expect_drop(f, mk_v4(f, &o, pl, k), TR_DROP_RX_BAD_IPV6);

	tr_origin_build(origin, R4, RP);
	n = teredo_payload(pl, A6, H6, 58, 64, 16, origin, 8, NULL, 0);
	for (size_t k = 0; k < n; k++) {
		enum tr_drop_reason want = k == 0   ? TR_DROP_RX_BAD_IPV6 :
					   k == 1   ? TR_DROP_RX_BAD_ENCAP :
					   k < 8    ? TR_DROP_RX_BAD_ORIGIN :
						      TR_DROP_RX_BAD_IPV6;
		expect_drop(f, mk_v4(f, &o, pl, k), want);
	}
}

/* ------------------------------------------------ drop reason coverage */

/* Reasons that need state (peer table, reassembly, queues, rings, pools)
 * and are therefore decided by the relay, never by tr_classify; and the
 * RFC 6040 drop, decided at decapsulation (tr_ecn_decap_frame, test_ecn.c)
 * once the peer checks have passed. */
static const enum tr_drop_reason stateful_reasons[] = {
	TR_DROP_RX_MAPPING_MISMATCH, TR_DROP_RX_BAD_NONCE,      TR_DROP_RX_UNKNOWN_PEER,
	TR_DROP_RX_REASM_FAILED,     TR_DROP_RX_REASM_TIMEOUT,  TR_DROP_TX_BUBBLE_LIMIT,
	TR_DROP_TX_QUEUE_OVERFLOW,   TR_DROP_TX_VERIFY_FAILED,
	TR_DROP_TX_PEER_TABLE_FULL,  TR_DROP_LOCAL_UNHANDLED,   TR_DROP_NO_NEXTHOP,
	TR_DROP_CTRL_RING_FULL,      TR_DROP_NIC_TX_FULL,       TR_DROP_NO_MBUF,
	TR_DROP_RX_ECN_CE_NOT_ECT,
};

static const struct {
	enum tr_drop_reason id;
	const char *name;
} all_reasons[] = {
#define TR_DROP(id, name, help) { TR_DROP_##id, #id },
#include "drop_reasons.def"
#undef TR_DROP
};

/* Must run last: it reads what the tests above recorded. A new reason in
 * drop_reasons.def fails here until a classifier test returns it or it is
 * listed as stateful. */
static void test_every_reason_covered(void **state)
{
	(void)state;
	assert_int_equal(sizeof(all_reasons) / sizeof(all_reasons[0]), TR_DROP_MAX - 1);
	for (size_t i = 0; i < sizeof(all_reasons) / sizeof(all_reasons[0]); i++) {
		enum tr_drop_reason id = all_reasons[i].id;
		bool stateful = false;

		/* The server role's reasons come from tr_server_process, whose
		 * coverage test is in test_server.c. */
		if (strncmp(all_reasons[i].name, "SRV_", 4) == 0)
			continue;
		/* The receive check of VLAN tags runs before the classifier
		 * (tr_l2_check, test_l2.c). */
		if (id == TR_DROP_VLAN_MISSING || id == TR_DROP_VLAN_WRONG)
			continue;

		for (size_t j = 0; j < sizeof(stateful_reasons) / sizeof(stateful_reasons[0]); j++)
			stateful = stateful || stateful_reasons[j] == id;
		if (stateful && seen[id])
			fail_msg("%s is listed as stateful but tr_classify returned it",
				 all_reasons[i].name);
		if (!stateful && !seen[id])
			fail_msg("%s is neither returned by a classify test nor listed as stateful",
				 all_reasons[i].name);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_builders_match_worked_frames),
		cmocka_unit_test(test_teredo_data),
		cmocka_unit_test(test_teredo_mapping_mismatch),
		cmocka_unit_test(test_teredo_ipv4_options),
		cmocka_unit_test(test_teredo_bubble_worked),
		cmocka_unit_test(test_teredo_bubble_trailers),
		cmocka_unit_test(test_teredo_trailing_bytes),
		cmocka_unit_test(test_teredo_origin_stripped),
		cmocka_unit_test(test_teredo_udp_csum_zero),
		cmocka_unit_test(test_v4_frag),
		cmocka_unit_test(test_native),
		cmocka_unit_test(test_arp),
		cmocka_unit_test(test_nd),
		cmocka_unit_test(test_local6),
		cmocka_unit_test(test_drop_eth),
		cmocka_unit_test(test_drop_arp),
		cmocka_unit_test(test_drop_rx_v4_truncated),
		cmocka_unit_test(test_drop_rx_v4_bad_header),
		cmocka_unit_test(test_drop_rx_v4_bad_csum),
		cmocka_unit_test(test_drop_rx_v4_not_for_relay),
		cmocka_unit_test(test_drop_rx_loop),
		cmocka_unit_test(test_drop_rx_v4_not_udp),
		cmocka_unit_test(test_drop_rx_bad_udp_len),
		cmocka_unit_test(test_drop_rx_wrong_port),
		cmocka_unit_test(test_drop_rx_src_v4_not_global),
		cmocka_unit_test(test_drop_rx_bad_udp_csum),
		cmocka_unit_test(test_hw_verified_cksums),
		cmocka_unit_test(test_drop_rx_bad_encap),
		cmocka_unit_test(test_drop_rx_auth_unexpected),
		cmocka_unit_test(test_drop_rx_bad_origin),
		cmocka_unit_test(test_drop_rx_bad_ipv6),
		cmocka_unit_test(test_drop_rx_trailer_discard),
		cmocka_unit_test(test_drop_rx_src_not_teredo),
		cmocka_unit_test(test_post_t31),
		cmocka_unit_test(test_post_t32_not_global),
		cmocka_unit_test(test_post_multicast),
		cmocka_unit_test(test_post_hop_limit),
		cmocka_unit_test(test_post_bubble_none),
		cmocka_unit_test(test_drop_tx_bad_ipv6),
		cmocka_unit_test(test_drop_tx_dst_multicast),
		cmocka_unit_test(test_drop_tx_src_invalid),
		cmocka_unit_test(test_drop_tx_not_teredo),
		cmocka_unit_test(test_drop_tx_client_not_global),
		cmocka_unit_test(test_drop_tx_server_not_global),
		cmocka_unit_test(test_drop_tx_loop),
		cmocka_unit_test(test_drop_tx_hop_limit),
		cmocka_unit_test(test_drop_tx_too_big),
		cmocka_unit_test(test_drop_nd_malformed),
		cmocka_unit_test(test_truncation_sweep),
		cmocka_unit_test(test_payload_sweep),
		cmocka_unit_test(test_every_reason_covered),   /* last */
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
