/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ARP and Neighbor Discovery helpers. Expected frames were produced with
 * scapy 2.5.0 (/usr/bin/python3) and pasted here; checksums of mutated
 * packets are recomputed with an independent reference routine so that each
 * reject test fails for exactly one reason.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "teredo.h"

#define NA_R 0x80000000u
#define NA_S 0x40000000u
#define NA_O 0x20000000u

#define R4   0xC6336401u        /* 198.51.100.1, relay */
#define GW4  0xC63364FEu        /* 198.51.100.254, gateway */

static const uint8_t relay_mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const uint8_t gw_mac[6] = { 0x02, 0, 0, 0, 0, 0xfe };
static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t r6[16] = {         /* 2001:db8:ffff::1 */
	0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
static const uint8_t gw6[16] = {        /* 2001:db8:ffff::fe */
	0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xfe };
static const uint8_t unspec[16];

/* Ether(dst=bcast, src=relay)/ARP(op=1, 198.51.100.1 asks for 198.51.100.254) */
static const uint8_t arp_req[42] = {
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00,
	0x00, 0x00, 0x00, 0x01, 0xc6, 0x33, 0x64, 0x01, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0xc6, 0x33, 0x64, 0xfe };

/* Ether(dst=gw, src=relay)/ARP(op=2, 198.51.100.1 is-at relay to the gateway) */
static const uint8_t arp_rep[42] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0xfe, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02, 0x02, 0x00,
	0x00, 0x00, 0x00, 0x01, 0xc6, 0x33, 0x64, 0x01, 0x02, 0x00, 0x00, 0x00,
	0x00, 0xfe, 0xc6, 0x33, 0x64, 0xfe };

/* Ether(dst=gw, src=relay)/IPv6(src=2001:db8:ffff::1, dst=2001:db8:ffff::fe,
 * hlim=255)/ICMPv6ND_NA(tgt=2001:db8:ffff::1, R=0, S=1, O=1)/
 * ICMPv6NDOptDstLLAddr(lladdr=02:00:00:00:00:01) */
static const uint8_t na_frame[86] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0xfe, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x86, 0xdd, 0x60, 0x00, 0x00, 0x00, 0x00, 0x20, 0x3a, 0xff, 0x20, 0x01,
	0x0d, 0xb8, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x01, 0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0xfe, 0x88, 0x00, 0x89, 0x77, 0x60, 0x00,
	0x00, 0x00, 0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x01, 0x02, 0x00, 0x00, 0x00,
	0x00, 0x01 };

/* IPv6(src=2001:db8:ffff::1, dst=ff02::1:ff00:fe, hlim=255)/
 * ICMPv6ND_NS(tgt=2001:db8:ffff::fe)/ICMPv6NDOptSrcLLAddr(lladdr=relay) */
static const uint8_t ns_pkt[72] = {
	0x60, 0x00, 0x00, 0x00, 0x00, 0x20, 0x3a, 0xff, 0x20, 0x01, 0x0d, 0xb8,
	0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
	0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
	0xff, 0x00, 0x00, 0xfe, 0x87, 0x00, 0x1a, 0x2f, 0x00, 0x00, 0x00, 0x00,
	0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0xfe, 0x01, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };

/* ------------------------------------------------------------ helpers */

static uint32_t ref_sum(uint32_t sum, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

/* Recompute the ICMPv6 checksum of ip6 (payload length from its header). */
static void fix_cksum(uint8_t *ip6)
{
	size_t plen = (size_t)(ip6[4] << 8 | ip6[5]);
	uint32_t sum;

	ip6[42] = ip6[43] = 0;
	sum = ref_sum(0, ip6 + 8, 32) + (uint32_t)plen + TR_NH_ICMPV6;
	sum = ref_sum(sum, ip6 + 40, plen);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	sum = ~sum & 0xffff;
	ip6[42] = (uint8_t)(sum >> 8);
	ip6[43] = (uint8_t)sum;
}

static int parse(const uint8_t *p, size_t len)
{
	struct tr_nd nd;

	return tr_nd_parse(p, len, &nd);
}

/* ---------------------------------------------------------------- ARP */

static void test_arp_parse_request(void **state)
{
	struct tr_arp a;
	uint8_t padded[60];

	(void)state;
	memset(&a, 0xa5, sizeof(a));
	assert_int_equal(tr_arp_parse(arp_req + 14, 28, &a), 0);
	assert_int_equal(a.op, 1);
	assert_memory_equal(a.sha, relay_mac, 6);
	assert_int_equal(a.spa, R4);
	assert_memory_equal(a.tha, unspec, 6);
	assert_int_equal(a.tpa, GW4);

	/* Minimum Ethernet frame: 18 bytes of padding after the ARP body. */
	memset(padded, 0, sizeof(padded));
	memcpy(padded, arp_req, 42);
	assert_int_equal(tr_arp_parse(padded + 14, 46, &a), 0);
	assert_int_equal(a.tpa, GW4);
}

static void test_arp_parse_reply(void **state)
{
	struct tr_arp a;

	(void)state;
	assert_int_equal(tr_arp_parse(arp_rep + 14, 28, &a), 0);
	assert_int_equal(a.op, 2);
	assert_memory_equal(a.sha, relay_mac, 6);
	assert_int_equal(a.spa, R4);
	assert_memory_equal(a.tha, gw_mac, 6);
	assert_int_equal(a.tpa, GW4);
}

static void test_arp_parse_rejects(void **state)
{
	/* offset, bad value; every other byte as in a valid request */
	static const struct { size_t off; uint8_t v; } bad[] = {
		{ 1, 6 },       /* htype 6 (IEEE 802) */
		{ 0, 1 },       /* htype 0x0101 */
		{ 2, 0x86 },    /* ptype 0x8600 */
		{ 3, 0x01 },    /* ptype 0x0801 */
		{ 4, 8 },       /* hlen */
		{ 5, 16 },      /* plen */
		{ 7, 0 },       /* op 0 */
		{ 7, 3 },       /* op 3 (RARP) */
		{ 6, 1 },       /* op 0x0101 */
	};
	uint8_t p[28];
	struct tr_arp a;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(p, arp_req + 14, 28);
		p[bad[i].off] = bad[i].v;
		assert_int_equal(tr_arp_parse(p, 28, &a), -1);
	}
	memcpy(p, arp_req + 14, 28);
	for (i = 0; i < 28; i++)
		assert_int_equal(tr_arp_parse(p, i, &a), -1);   /* truncated */
	assert_int_equal(tr_arp_parse(NULL, 28, &a), -1);
	assert_int_equal(tr_arp_parse(p, 28, NULL), -1);
	assert_int_equal(tr_arp_parse(p, 28, &a), 0);
}

static void test_arp_build(void **state)
{
	uint8_t out[44];
	struct tr_arp a;

	(void)state;
	memset(out, 0xa5, sizeof(out));
	/* A request's tha is zeroed whatever is passed. */
	assert_int_equal(tr_build_arp(out, 1, bcast, relay_mac, R4, gw_mac, GW4), 42);
	assert_memory_equal(out, arp_req, 42);
	assert_int_equal(out[42], 0xa5);
	assert_int_equal(tr_build_arp(out, 1, bcast, relay_mac, R4, NULL, GW4), 42);
	assert_memory_equal(out, arp_req, 42);

	assert_int_equal(tr_build_arp(out, 2, gw_mac, relay_mac, R4, gw_mac, GW4), 42);
	assert_memory_equal(out, arp_rep, 42);
	assert_int_equal(out[42], 0xa5);

	/* Round trip. */
	assert_int_equal(tr_arp_parse(out + 14, 28, &a), 0);
	assert_int_equal(a.op, 2);
	assert_int_equal(a.spa, R4);
	assert_int_equal(a.tpa, GW4);
}

/* ----------------------------------------------------------------- ND */

static void test_solicited_node(void **state)
{
	static const uint8_t want[16] = {
		0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff, 0x00, 0x00, 0xfe };
	static const uint8_t t2[16] = {
		0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x11, 0x22, 0x33, 0x44, 0x55, 0xab, 0xcd, 0xef };
	static const uint8_t want2[16] = {
		0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff, 0xab, 0xcd, 0xef };
	uint8_t out[16];

	(void)state;
	tr_solicited_node(out, gw6);
	assert_memory_equal(out, want, 16);
	tr_solicited_node(out, t2);
	assert_memory_equal(out, want2, 16);
	memcpy(out, t2, 16);
	tr_solicited_node(out, out);            /* in place */
	assert_memory_equal(out, want2, 16);
}

static void test_ns_build_parse(void **state)
{
	uint8_t out[80];
	struct tr_nd nd;

	(void)state;
	memset(out, 0xa5, sizeof(out));
	assert_int_equal(tr_build_ns(out, r6, gw6, relay_mac), 72);
	assert_memory_equal(out, ns_pkt, 72);
	assert_int_equal(out[72], 0xa5);

	memset(&nd, 0xa5, sizeof(nd));
	assert_int_equal(tr_nd_parse(out, 72, &nd), 0);
	assert_int_equal(nd.type, 135);
	assert_memory_equal(nd.target, gw6, 16);
	assert_true(nd.has_lladdr);
	assert_memory_equal(nd.lladdr, relay_mac, 6);
	assert_int_equal(nd.flags, 0);
}

static void test_ns_from_unspecified(void **state)
{
	uint8_t out[80];
	struct tr_nd nd;

	(void)state;
	/* RFC 4861 §4.3: a DAD probe (source ::) carries no source LL option. */
	assert_int_equal(tr_build_ns(out, unspec, r6, relay_mac), 64);
	assert_int_equal(out[5], 24);
	assert_int_equal(tr_nd_parse(out, 64, &nd), 0);
	assert_int_equal(nd.type, 135);
	assert_false(nd.has_lladdr);
	assert_memory_equal(nd.target, r6, 16);
}

static void test_na_build_exact(void **state)
{
	uint8_t out[86];

	(void)state;
	memset(out, 0xa5, sizeof(out));
	assert_int_equal(tr_build_eth(out, gw_mac, relay_mac, TR_ETHERTYPE_IPV6), 14);
	assert_int_equal(tr_build_na(out + 14, r6, gw6, r6, relay_mac, true), 72);
	assert_memory_equal(out, na_frame, sizeof(na_frame));
}

static void test_na_round_trip(void **state)
{
	static const uint8_t all_nodes[16] = { 0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
	uint8_t out[72 + 6];
	struct tr_nd nd;

	(void)state;
	assert_int_equal(tr_build_na(out, r6, gw6, r6, relay_mac, true), 72);
	memset(&nd, 0, sizeof(nd));
	assert_int_equal(tr_nd_parse(out, 72, &nd), 0);
	assert_int_equal(nd.type, 136);
	assert_memory_equal(nd.target, r6, 16);
	assert_true(nd.has_lladdr);
	assert_memory_equal(nd.lladdr, relay_mac, 6);
	assert_int_equal(nd.flags, NA_S | NA_O);

	/* Ethernet padding after the packet is ignored. */
	memset(out + 72, 0, 6);
	assert_int_equal(tr_nd_parse(out, sizeof(out), &nd), 0);

	assert_int_equal(tr_build_na(out, r6, gw6, r6, relay_mac, false), 72);
	assert_int_equal(tr_nd_parse(out, 72, &nd), 0);
	assert_int_equal(nd.flags, NA_O);

	/* RFC 4861 §7.2.4: S never set toward a multicast destination. */
	assert_int_equal(tr_build_na(out, r6, all_nodes, r6, relay_mac, true), 72);
	assert_int_equal(tr_nd_parse(out, 72, &nd), 0);
	assert_int_equal(nd.flags, NA_O);
	assert_int_equal(nd.flags & NA_R, 0);
}

static void test_nd_rejects(void **state)
{
	uint8_t p[96], *exact;
	struct tr_nd nd;
	size_t i;

	(void)state;
	memcpy(p, na_frame + 14, 72);
	assert_int_equal(parse(p, 72), 0);

	/* Hop limit 254: possibly forwarded from off-link (§7.1.2). */
	p[7] = 254;
	assert_int_equal(parse(p, 72), -1);
	p[7] = 255;

	/* Bad checksum. */
	p[43] ^= 1;
	assert_int_equal(parse(p, 72), -1);
	p[43] ^= 1;
	p[71] ^= 0x10;                          /* payload change, stale checksum */
	assert_int_equal(parse(p, 72), -1);
	p[71] ^= 0x10;
	assert_int_equal(parse(p, 72), 0);

	/* ICMP code 1, checksum fixed so only the code is wrong. */
	p[41] = 1;
	fix_cksum(p);
	assert_int_equal(parse(p, 72), -1);
	p[41] = 0;
	fix_cksum(p);
	assert_int_equal(parse(p, 72), 0);

	/* Zero-length option. */
	p[65] = 0;
	fix_cksum(p);
	assert_int_equal(parse(p, 72), -1);

	/* Option claiming 16 bytes where 8 remain. */
	p[65] = 2;
	fix_cksum(p);
	assert_int_equal(parse(p, 72), -1);

	/* One stray byte after the option: not even an option header. Exact
	 * heap buffer so ASan flags a read of the missing length byte. */
	memcpy(p, na_frame + 14, 72);
	p[5] = 33;
	p[72] = 0;
	fix_cksum(p);
	exact = malloc(73);
	assert_non_null(exact);
	memcpy(exact, p, 73);
	assert_int_equal(parse(exact, 73), -1);
	free(exact);

	/* ICMP length below 24 (plen 20). */
	memcpy(p, na_frame + 14, 72);
	p[5] = 20;
	fix_cksum(p);
	assert_int_equal(parse(p, 72), -1);

	/* Truncated: every length short of 40 + plen. */
	memcpy(p, na_frame + 14, 72);
	for (i = 0; i < 72; i++)
		assert_int_equal(parse(p, i), -1);

	/* Target is a multicast address. */
	p[48] = 0xff;
	fix_cksum(p);
	assert_int_equal(parse(p, 72), -1);

	/* Solicited NA sent to a multicast destination (§7.1.2). */
	memcpy(p, na_frame + 14, 72);
	p[24] = 0xff;
	p[25] = 0x02;
	fix_cksum(p);
	assert_int_equal(parse(p, 72), -1);
	p[44] &= (uint8_t)~0x40;                /* clear S: now valid */
	fix_cksum(p);
	assert_int_equal(parse(p, 72), 0);

	/* Not ICMPv6 / not NS or NA / not IPv6. */
	memcpy(p, na_frame + 14, 72);
	p[6] = 0;                               /* hop-by-hop header: not walked */
	assert_int_equal(parse(p, 72), -1);
	memcpy(p, na_frame + 14, 72);
	p[40] = 134;                            /* Router Advertisement */
	fix_cksum(p);
	assert_int_equal(parse(p, 72), -1);
	memcpy(p, na_frame + 14, 72);
	p[0] = 0x40;
	assert_int_equal(parse(p, 72), -1);

	assert_int_equal(tr_nd_parse(NULL, 72, &nd), -1);
	assert_int_equal(tr_nd_parse(na_frame + 14, 72, NULL), -1);
}

static void test_ns_rejects(void **state)
{
	uint8_t p[80];

	(void)state;
	memcpy(p, ns_pkt, 72);
	assert_int_equal(parse(p, 72), 0);

	p[7] = 254;
	assert_int_equal(parse(p, 72), -1);
	p[7] = 255;

	/* §7.1.1: NS from :: must not carry a source link-layer option. */
	memset(p + 8, 0, 16);
	fix_cksum(p);
	assert_int_equal(parse(p, 72), -1);
	/* ...and is accepted without it. */
	p[5] = 24;
	fix_cksum(p);
	assert_int_equal(parse(p, 64), 0);
	/* §7.1.1: from ::, the destination must be a solicited-node group. */
	memcpy(p + 24, r6, 16);
	fix_cksum(p);
	assert_int_equal(parse(p, 64), -1);

	/* Zero-length option in an NS. */
	memcpy(p, ns_pkt, 72);
	p[65] = 0;
	fix_cksum(p);
	assert_int_equal(parse(p, 72), -1);
}

static void test_nd_unknown_options(void **state)
{
	uint8_t p[96];
	struct tr_nd nd;

	(void)state;
	/* NA with an unknown 8-byte option (type 99) before the TLLA: skipped. */
	memcpy(p, na_frame + 14, 64);
	p[5] = 40;
	memset(p + 64, 0, 8);
	p[64] = 99;
	p[65] = 1;
	memcpy(p + 72, na_frame + 14 + 64, 8);
	fix_cksum(p);
	assert_int_equal(tr_nd_parse(p, 80, &nd), 0);
	assert_true(nd.has_lladdr);
	assert_memory_equal(nd.lladdr, relay_mac, 6);

	/* An NA without any option is valid, no lladdr. */
	memcpy(p, na_frame + 14, 64);
	p[5] = 24;
	fix_cksum(p);
	assert_int_equal(tr_nd_parse(p, 64, &nd), 0);
	assert_false(nd.has_lladdr);

	/* A source LL option in an NA is not the target LL address. */
	memcpy(p, na_frame + 14, 72);
	p[64] = 1;
	fix_cksum(p);
	assert_int_equal(tr_nd_parse(p, 72, &nd), 0);
	assert_false(nd.has_lladdr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_arp_parse_request),
		cmocka_unit_test(test_arp_parse_reply),
		cmocka_unit_test(test_arp_parse_rejects),
		cmocka_unit_test(test_arp_build),
		cmocka_unit_test(test_solicited_node),
		cmocka_unit_test(test_ns_build_parse),
		cmocka_unit_test(test_ns_from_unspecified),
		cmocka_unit_test(test_na_build_exact),
		cmocka_unit_test(test_na_round_trip),
		cmocka_unit_test(test_nd_rejects),
		cmocka_unit_test(test_ns_rejects),
		cmocka_unit_test(test_nd_unknown_options),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
