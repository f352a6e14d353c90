/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Builders: byte-exact against the worked frames of the protocol digest §2.8
 * (verified there with tshark) and against scapy output for ICMPv6 errors.
 * Checksums are also recomputed here with an independent reference routine.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "teredo.h"

#define R4      0xC6336401u     /* 198.51.100.1, relay */
#define RPORT   3545
#define S4      0xCB007178u     /* 203.0.113.120, server */
#define A4      0xC0000201u     /* 192.0.2.1, client A mapping */
#define APORT   4096

static const uint8_t bubble_src[16] = {         /* fe80::a0b2:c3d4:e5f6:718 */
	0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0xa0, 0xb2, 0xc3, 0xd4, 0xe5, 0xf6, 0x07, 0x18 };
static const uint8_t addr_a[16] = {             /* 2001:0:cb00:7178:0:efff:3fff:fdfe */
	0x20, 0x01, 0, 0, 0xcb, 0x00, 0x71, 0x78, 0, 0, 0xef, 0xff, 0x3f, 0xff, 0xfd, 0xfe };
static const uint8_t addr_r6[16] = {            /* 2001:db8:ffff::1, relay native */
	0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };

/* §2.8 indirect bubble, relay -> server, 68 bytes. */
static const uint8_t frame_indirect[68] = {
	0x45, 0x00, 0x00, 0x44, 0x00, 0x00, 0x00, 0x00, 0x40, 0x11, 0x13, 0xfc, 0xc6, 0x33,
	0x64, 0x01, 0xcb, 0x00, 0x71, 0x78, 0x0d, 0xd9, 0x0d, 0xd8, 0x00, 0x30, 0x07, 0x9f,
	0x60, 0x00, 0x00, 0x00, 0x00, 0x00, 0x3b, 0x00, 0xfe, 0x80, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0xa0, 0xb2, 0xc3, 0xd4, 0xe5, 0xf6, 0x07, 0x18,
	0x20, 0x01, 0x00, 0x00, 0xcb, 0x00, 0x71, 0x78, 0x00, 0x00, 0xef, 0xff, 0x3f, 0xff,
	0xfd, 0xfe };

/* §2.8 direct bubble, client A -> relay, 68 bytes. */
static const uint8_t frame_direct[68] = {
	0x45, 0x00, 0x00, 0x44, 0x00, 0x00, 0x00, 0x00, 0x40, 0x11, 0x8e, 0x73, 0xc0, 0x00,
	0x02, 0x01, 0xc6, 0x33, 0x64, 0x01, 0x10, 0x00, 0x0d, 0xd9, 0x00, 0x30, 0x7f, 0xee,
	0x60, 0x00, 0x00, 0x00, 0x00, 0x00, 0x3b, 0x00, 0x20, 0x01, 0x00, 0x00, 0xcb, 0x00,
	0x71, 0x78, 0x00, 0x00, 0xef, 0xff, 0x3f, 0xff, 0xfd, 0xfe,
	0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xa0, 0xb2, 0xc3, 0xd4, 0xe5, 0xf6,
	0x07, 0x18 };

/* §2.8 native echo request 2001:db8::1 -> A, hop limit 64, 56 bytes. */
static const uint8_t echo_req[56] = {
	0x60, 0x00, 0x00, 0x00, 0x00, 0x10, 0x3a, 0x40, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x20, 0x01, 0x00, 0x00, 0xcb, 0x00, 0x71, 0x78, 0x00, 0x00, 0xef, 0xff, 0x3f, 0xff,
	0xfd, 0xfe, 0x80, 0x00, 0x23, 0xb8, 0x12, 0x34, 0x00, 0x01,
	0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68 };

/* §2.8 encapsulated echo: outer header (28 bytes); inner = echo_req with hop 63. */
static const uint8_t encap_echo_hdr[28] = {
	0x45, 0x00, 0x00, 0x54, 0x00, 0x00, 0x00, 0x00, 0x40, 0x11, 0x8e, 0x63, 0xc6, 0x33,
	0x64, 0x01, 0xc0, 0x00, 0x02, 0x01, 0x0d, 0xd9, 0x10, 0x00, 0x00, 0x40, 0x5b, 0x59 };

/* scapy: IP(198.51.100.1 -> 203.0.113.120, id 0, ttl 64)/UDP(3545 -> 3544)/
 * (bubble + 01 04 de ad be ef), first 28 bytes. */
static const uint8_t encap_bubble_nonce_hdr[28] = {
	0x45, 0x00, 0x00, 0x4a, 0x00, 0x00, 0x00, 0x00, 0x40, 0x11, 0x13, 0xf6,
	0xc6, 0x33, 0x64, 0x01, 0xcb, 0x00, 0x71, 0x78, 0x0d, 0xd9, 0x0d, 0xd8,
	0x00, 0x36, 0x68, 0xf1 };

/* scapy: IPv6(src=2001:db8:ffff::1, dst=2001:db8::1, hlim=64)/
 * ICMPv6PacketTooBig(mtu=1280)/first 1232 bytes of the 1400-byte packet. */
static const uint8_t ptb_hdr[48] = {
	0x60, 0x00, 0x00, 0x00, 0x04, 0xd8, 0x3a, 0x40, 0x20, 0x01, 0x0d, 0xb8,
	0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0xa2, 0xa1, 0x00, 0x00, 0x05, 0x00 };

/* scapy: same addresses, ICMPv6TimeExceeded(code=0)/echo_req with hop limit 1. */
static const uint8_t te_hdr[48] = {
	0x60, 0x00, 0x00, 0x00, 0x00, 0x40, 0x3a, 0x40, 0x20, 0x01, 0x0d, 0xb8,
	0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x01, 0x03, 0x00, 0x07, 0x4a, 0x00, 0x00, 0x00, 0x00 };

/* scapy: ICMPv6ParamProblem(code=0, ptr=6)/echo_req with hop limit 1. */
static const uint8_t pp_hdr[48] = {
	0x60, 0x00, 0x00, 0x00, 0x00, 0x40, 0x3a, 0x40, 0x20, 0x01, 0x0d, 0xb8,
	0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x01, 0x04, 0x00, 0x06, 0x44, 0x00, 0x00, 0x00, 0x06 };

/* ------------------------------------------------- reference checksums */

/* Plain RFC 1071 sum of big-endian 16-bit words, independent of cksum.c. */
static uint32_t ref_sum(uint32_t sum, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t ref_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* 0 when the upper-layer checksum of an IPv6 packet (no ext headers) is valid. */
static uint16_t ref_ip6_l4(const uint8_t *ip6)
{
	size_t plen = (size_t)(ip6[4] << 8 | ip6[5]);
	uint32_t sum = ref_sum(0, ip6 + 8, 32);

	sum += (uint32_t)plen + ip6[6];
	return ref_fold(ref_sum(sum, ip6 + 40, plen));
}

/* 0 when the UDP checksum of an IPv4 (IHL 5) datagram is valid. */
static uint16_t ref_udp4(const uint8_t *ip)
{
	size_t ulen = (size_t)(ip[24] << 8 | ip[25]);
	uint32_t sum = ref_sum(0, ip + 12, 8);

	sum += 17 + (uint32_t)ulen;
	return ref_fold(ref_sum(sum, ip + 20, ulen));
}

/* --------------------------------------------------------------- bubbles */

static void test_bubble_bytes(void **state)
{
	uint8_t out[TR_IPV6_HLEN + 4];

	(void)state;
	memset(out, 0xa5, sizeof(out));
	assert_int_equal(tr_build_bubble(out, bubble_src, addr_a), 40);
	assert_memory_equal(out, frame_indirect + 28, 40);
	/* Nothing written past the 40 bytes. */
	assert_int_equal(out[40], 0xa5);
	assert_int_equal(out[43], 0xa5);
}

static void test_is_bubble(void **state)
{
	uint8_t b[46];

	(void)state;
	tr_build_bubble(b, bubble_src, addr_a);
	tr_build_nonce_trailer(b + 40, 0xdeadbeef);
	assert_true(tr_is_bubble(b, 40));
	assert_true(tr_is_bubble(b, 46));       /* RFC 6081 §4: trailers follow */
	assert_true(tr_is_bubble(frame_direct + 28, 40));
	assert_false(tr_is_bubble(b, 39));
	assert_false(tr_is_bubble(NULL, 40));
	assert_false(tr_is_bubble(echo_req, sizeof(echo_req)));

	b[0] = 0x40;                            /* version 4 */
	assert_false(tr_is_bubble(b, 40));
	b[0] = 0x60;
	b[5] = 1;                               /* plen 1 */
	assert_false(tr_is_bubble(b, 46));
	b[5] = 0;
	b[4] = 1;                               /* plen 256 */
	assert_false(tr_is_bubble(b, 46));
	b[4] = 0;
	b[6] = TR_NH_ICMPV6;
	assert_false(tr_is_bubble(b, 40));
	b[6] = TR_NH_NONE;
	b[7] = 255;                             /* any hop limit is fine */
	assert_true(tr_is_bubble(b, 40));
}

static void test_nonce_trailer(void **state)
{
	static const uint8_t want[6] = { 0x01, 0x04, 0xde, 0xad, 0xbe, 0xef };
	uint8_t out[8];

	(void)state;
	memset(out, 0xa5, sizeof(out));
	assert_int_equal(tr_build_nonce_trailer(out, 0xdeadbeef), 6);
	assert_memory_equal(out, want, 6);
	assert_int_equal(out[6], 0xa5);
}

static void test_indirect_bubble_frame(void **state)
{
	uint8_t out[68];

	(void)state;
	memset(out, 0, sizeof(out));
	tr_build_bubble(out + 28, bubble_src, addr_a);
	assert_int_equal(tr_build_encap(out, R4, RPORT, S4, TR_SERVER_PORT, 0, 64, 40), 28);
	assert_memory_equal(out, frame_indirect, sizeof(frame_indirect));
}

static void test_direct_bubble_frame(void **state)
{
	uint8_t out[68];

	(void)state;
	memset(out, 0xff, sizeof(out));         /* header fields must all be written */
	tr_build_bubble(out + 28, addr_a, bubble_src);
	assert_int_equal(tr_build_encap(out, A4, APORT, R4, RPORT, 0, 64, 40), 28);
	assert_memory_equal(out, frame_direct, sizeof(frame_direct));
}

static void test_bubble_with_nonce_frame(void **state)
{
	uint8_t out[74];

	(void)state;
	tr_build_bubble(out + 28, bubble_src, addr_a);
	tr_build_nonce_trailer(out + 68, 0xdeadbeef);
	assert_int_equal(tr_build_encap(out, R4, RPORT, S4, TR_SERVER_PORT, 0, 64, 46), 28);
	assert_memory_equal(out, encap_bubble_nonce_hdr, 28);
	assert_int_equal(ref_fold(ref_sum(0, out, 20)), 0);
	assert_int_equal(ref_udp4(out), 0);
}

/* ----------------------------------------------------------------- encap */

static void test_encap_echo(void **state)
{
	uint8_t out[84], want[84];

	(void)state;
	memcpy(want, encap_echo_hdr, 28);
	memcpy(want + 28, echo_req, 56);
	want[28 + 7] = 63;

	memcpy(out + 28, echo_req, 56);
	assert_int_equal(tr_ipv6_dec_hop(out + 28), 63);
	assert_int_equal(tr_build_encap(out, R4, RPORT, A4, APORT, 0, 64, 56), 28);
	assert_memory_equal(out, want, sizeof(want));
}

static void test_encap_fields(void **state)
{
	uint8_t out[28 + 1001];
	size_t i;

	(void)state;
	for (i = 0; i < 1001; i++)              /* odd length: UDP pad byte */
		out[28 + i] = (uint8_t)(i * 13 + 1);
	assert_int_equal(tr_build_encap(out, R4, RPORT, A4, APORT, 0xbeef, 17, 1001), 28);
	assert_int_equal(out[0], 0x45);
	assert_int_equal(out[1], 0);
	assert_int_equal(out[2] << 8 | out[3], 28 + 1001);
	assert_int_equal(out[4] << 8 | out[5], 0xbeef);
	assert_int_equal(out[6] & 0x40, 0);     /* DF clear, RFC 4380 §5.1.2 */
	assert_int_equal(out[6] << 8 | out[7], 0);
	assert_int_equal(out[8], 17);
	assert_int_equal(out[9], 17);
	assert_int_equal(out[24] << 8 | out[25], 8 + 1001);
	assert_int_equal(ref_fold(ref_sum(0, out, 20)), 0);
	assert_int_equal(ref_udp4(out), 0);
	assert_int_not_equal(out[26] << 8 | out[27], 0);
	/* Our own checksum helpers agree. */
	assert_int_equal(tr_ipv4_hdr_cksum(out, 20), 0);
	assert_int_equal(tr_udp4_cksum(R4, A4, out + 20, 8 + 1001), 0);
}

static void test_encap_too_big(void **state)
{
	uint8_t out[28];

	(void)state;
	memset(out, 0xa5, sizeof(out));
	/* Refused without touching the payload (it is not read at all). */
	assert_int_equal(tr_build_encap(out, R4, RPORT, A4, APORT, 0, 64, TR_MAX_UDP_PAYLOAD + 1), 0);
	assert_int_equal(out[0], 0xa5);
}

static void test_dec_hop(void **state)
{
	uint8_t p[40];

	(void)state;
	memcpy(p, echo_req, 40);
	assert_int_equal(tr_ipv6_dec_hop(p), 63);
	assert_int_equal(p[7], 63);
	p[7] = 1;
	assert_int_equal(tr_ipv6_dec_hop(p), 0);
	assert_int_equal(tr_ipv6_dec_hop(p), 0);        /* never wraps to 255 */
	assert_int_equal(p[7], 0);
	p[7] = 255;
	assert_int_equal(tr_ipv6_dec_hop(p), 254);
	assert_memory_equal(p, echo_req, 7);            /* nothing else touched */
}

/* ---------------------------------------------------------- ICMPv6 errors */

static void make_big_packet(uint8_t *p)
{
	size_t i;

	memcpy(p, echo_req, 40);
	p[4] = 1360 >> 8;
	p[5] = 1360 & 0xff;
	p[6] = TR_NH_UDP;
	for (i = 0; i < 1360; i++)
		p[40 + i] = (uint8_t)(i * 7 + 3);
}

static void test_ptb_truncated(void **state)
{
	static uint8_t inv[1400], out[1300];

	(void)state;
	make_big_packet(inv);
	memset(out, 0xa5, sizeof(out));
	assert_int_equal(tr_build_icmp6_error(out, sizeof(out), 2, 0, TR_MTU_DEFAULT, addr_r6, inv,
					      sizeof(inv)), 1280);
	assert_memory_equal(out, ptb_hdr, 48);                  /* incl. checksum a2 a1 */
	assert_memory_equal(out + 48, inv, 1232);               /* quote truncated */
	assert_int_equal(out[4] << 8 | out[5], 1240);
	assert_int_equal(ref_ip6_l4(out), 0);
	assert_int_equal(out[1280], 0xa5);                      /* no write past 1280 */
	assert_int_equal(out[1299], 0xa5);

	/* cap exactly 1280 is enough. */
	memset(out, 0, sizeof(out));
	assert_int_equal(tr_build_icmp6_error(out, 1280, 2, 0, TR_MTU_DEFAULT, addr_r6, inv,
					      sizeof(inv)), 1280);
	assert_memory_equal(out, ptb_hdr, 48);
}

static void test_time_exceeded_small(void **state)
{
	uint8_t inv[56], out[200];

	(void)state;
	memcpy(inv, echo_req, sizeof(inv));
	inv[7] = 1;
	memset(out, 0xa5, sizeof(out));
	/* Param is "unused" for type 3 (RFC 4443 §3.3): must come out as 0. */
	assert_int_equal(tr_build_icmp6_error(out, sizeof(out), 3, 0, 0x12345678, addr_r6, inv,
					      sizeof(inv)), 104);
	assert_memory_equal(out, te_hdr, 48);
	assert_memory_equal(out + 48, inv, 56);                 /* full quote */
	assert_int_equal(ref_ip6_l4(out), 0);
	assert_int_equal(out[104], 0xa5);
	/* The library's own helper agrees with the reference. */
	assert_int_equal(tr_ipv6_l4_cksum(out + 8, out + 24, TR_NH_ICMPV6, out + 40, 64), 0);
}

static void test_param_problem_pointer(void **state)
{
	uint8_t inv[56], out[104];

	(void)state;
	memcpy(inv, echo_req, sizeof(inv));
	inv[7] = 1;
	assert_int_equal(tr_build_icmp6_error(out, sizeof(out), 4, 0, 6, addr_r6, inv, sizeof(inv)),
			 104);
	assert_memory_equal(out, pp_hdr, 48);
	assert_int_equal(ref_ip6_l4(out), 0);
}

static void test_icmp6_error_in_place(void **state)
{
	static uint8_t buf[1400 + 48], ref[1280], inv[1400];

	(void)state;
	/* Invoking packet already sitting after 48 bytes of headroom. */
	make_big_packet(inv);
	memcpy(buf + 48, inv, sizeof(inv));
	assert_int_equal(tr_build_icmp6_error(ref, sizeof(ref), 2, 0, 1280, addr_r6, inv,
					      sizeof(inv)), 1280);
	assert_int_equal(tr_build_icmp6_error(buf, sizeof(buf), 2, 0, 1280, addr_r6, buf + 48,
					      sizeof(inv)), 1280);
	assert_memory_equal(buf, ref, 1280);

	/* Fully overlapping: the error replaces the packet at the same address. */
	memcpy(buf, inv, sizeof(inv));
	assert_int_equal(tr_build_icmp6_error(buf, sizeof(buf), 2, 0, 1280, addr_r6, buf,
					      sizeof(inv)), 1280);
	assert_memory_equal(buf, ref, 1280);
}

static void test_icmp6_error_refusals(void **state)
{
	static uint8_t inv[1400], out[1300];
	uint8_t small[56];

	(void)state;
	make_big_packet(inv);
	memcpy(small, echo_req, sizeof(small));
	memset(out, 0xa5, sizeof(out));

	/* cap one byte short of the message. */
	assert_int_equal(tr_build_icmp6_error(out, 1279, 2, 0, 1280, addr_r6, inv, sizeof(inv)), 0);
	assert_int_equal(tr_build_icmp6_error(out, 103, 3, 0, 0, addr_r6, small, sizeof(small)), 0);
	assert_int_equal(tr_build_icmp6_error(out, 0, 3, 0, 0, addr_r6, small, sizeof(small)), 0);
	/* Invoking packet shorter than an IPv6 header. */
	assert_int_equal(tr_build_icmp6_error(out, sizeof(out), 3, 0, 0, addr_r6, small, 39), 0);
	assert_int_equal(tr_build_icmp6_error(out, sizeof(out), 3, 0, 0, addr_r6, small, 0), 0);
	assert_int_equal(tr_build_icmp6_error(out, sizeof(out), 3, 0, 0, addr_r6, NULL, 56), 0);
	/* RFC 4443 §2.4(e): no error toward :: or a multicast source. */
	memset(small + 8, 0, 16);
	assert_int_equal(tr_build_icmp6_error(out, sizeof(out), 3, 0, 0, addr_r6, small, 56), 0);
	small[8] = 0xff;
	small[9] = 0x02;
	small[23] = 1;
	assert_int_equal(tr_build_icmp6_error(out, sizeof(out), 3, 0, 0, addr_r6, small, 56), 0);
	/* Nothing written by any refusal. */
	assert_int_equal(out[0], 0xa5);
	assert_int_equal(out[47], 0xa5);
	assert_int_equal(out[48], 0xa5);

	/* Exactly 40 bytes is accepted (header-only quote). */
	memcpy(small, echo_req, sizeof(small));
	assert_int_equal(tr_build_icmp6_error(out, 88, 1, 3, 7, addr_r6, small, 40), 88);
	assert_int_equal(out[4] << 8 | out[5], 48);
	assert_int_equal(out[40], 1);
	assert_int_equal(out[41], 3);
	assert_int_equal(out[44] | out[45] | out[46] | out[47], 0);  /* unused for type 1 */
	assert_int_equal(ref_ip6_l4(out), 0);
}

/* ------------------------------------------------------------- Ethernet */

static void test_eth(void **state)
{
	static const uint8_t dst[6] = { 0x02, 0, 0, 0, 0, 0xfe };
	static const uint8_t src[6] = { 0x02, 0, 0, 0, 0, 0x01 };
	static const uint8_t want[14] = { 0x02, 0, 0, 0, 0, 0xfe, 0x02, 0, 0, 0, 0, 0x01, 0x86, 0xdd };
	uint8_t out[16];

	(void)state;
	memset(out, 0xa5, sizeof(out));
	assert_int_equal(tr_build_eth(out, dst, src, TR_ETHERTYPE_IPV6), 14);
	assert_memory_equal(out, want, 14);
	assert_int_equal(out[14], 0xa5);
	tr_build_eth(out, dst, src, TR_ETHERTYPE_ARP);
	assert_int_equal(out[12], 0x08);
	assert_int_equal(out[13], 0x06);
}


/* The fast path's template writes the same 42 bytes as tr_build_eth +
 * tr_build_encap: random addresses, ports, IDs, TTLs and payloads (valid
 * TCP/UDP/ICMPv6, anything else, bubbles with trailers), every length. */
static unsigned lcg(unsigned *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return *seed >> 8;
}
#define RND() lcg(&seed)

/* An independent reference for the encapsulation header: written here field
 * by field from RFC 791 / RFC 768 with its own byte-wise RFC 1071 sum, sharing
 * no code with build.c (whose writers share write_ip_udp); ref_sum/ref_fold
 * are the test's own RFC 1071 sum above. */
static void ref_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void ref_be32(uint8_t *p, uint32_t v)
{
	ref_be16(p, (uint16_t)(v >> 16));
	ref_be16(p + 2, (uint16_t)v);
}

/* Ethernet + IPv4 + UDP in front of the len bytes of IPv6 at f + 42. */
static void ref_encap(uint8_t *f, const uint8_t dmac[6], const uint8_t smac[6], uint32_t src,
		      uint16_t sport, uint32_t dst, uint16_t dport, uint16_t id, uint8_t ttl,
		      size_t len)
{
	uint8_t *ip = f + 14, *udp = f + 34, ph[12];

	memcpy(f, dmac, 6);
	memcpy(f + 6, smac, 6);
	f[12] = 0x08;
	f[13] = 0x00;
	ip[0] = 0x45;
	ip[1] = (uint8_t)((((f[42] & 0x0f) << 4) | (f[43] >> 4)) & 3);  /* inner ECN, DSCP 0 */
	ref_be16(ip + 2, (uint16_t)(28 + len));
	ref_be16(ip + 4, id);
	ref_be16(ip + 6, 0);                    /* DF clear, no fragment */
	ip[8] = ttl;
	ip[9] = 17;
	ref_be16(ip + 10, 0);
	ref_be32(ip + 12, src);
	ref_be32(ip + 16, dst);
	ref_be16(ip + 10, ref_fold(ref_sum(0, ip, 20)));
	ref_be16(udp, sport);
	ref_be16(udp + 2, dport);
	ref_be16(udp + 4, (uint16_t)(8 + len));
	ref_be16(udp + 6, 0);
	ref_be32(ph, src);
	ref_be32(ph + 4, dst);
	ph[8] = 0;
	ph[9] = 17;
	ref_be16(ph + 10, (uint16_t)(8 + len));
	uint16_t c = ref_fold(ref_sum(ref_sum(0, ph, 12), udp, 8 + len));

	ref_be16(udp + 6, c == 0 ? 0xffff : c);
}

static void test_encap_template(void **state)
{
	(void)state;
	static uint8_t a[42 + 1300], b[42 + 1300];
	static const uint8_t nhs[] = { 6, TR_NH_UDP, TR_NH_ICMPV6, TR_NH_NONE, 44 };
	unsigned seed = 12345;

	for (unsigned it = 0; it < 3000; it++) {
		uint8_t smac[6], dmac[6];
		uint32_t src = RND() << 8, dst = RND() << 8;

		src ^= RND();
		dst ^= RND();
		uint16_t sport = (uint16_t)RND(), dport = (uint16_t)RND(), id = (uint16_t)RND();
		uint8_t ttl = (uint8_t)RND();
		size_t len = 40 + RND() % 1241;
		uint8_t nh = nhs[it % sizeof(nhs)];
		struct tr_encap_tmpl t;

		for (int i = 0; i < 6; i++) {
			smac[i] = (uint8_t)RND();
			dmac[i] = (uint8_t)RND();
		}
		for (size_t i = 0; i < len; i++)
			a[42 + i] = (uint8_t)RND();
		a[42] = 0x60;
		a[42 + 6] = nh;
		/* Mostly consistent lengths; every 7th has trailing bytes (RFC 6081 trailer). */
		size_t plen = it % 7 == 0 && len > 46 ? len - 46 : len - 40;
		a[42 + 4] = (uint8_t)(plen >> 8);
		a[42 + 5] = (uint8_t)plen;
		size_t off = nh == 6 ? 16 : nh == TR_NH_UDP ? 6 : nh == TR_NH_ICMPV6 ? 2 : 0;
		if (off != 0 && plen >= off + 2 && it % 5 != 0) {   /* every 5th: a wrong checksum */
			memset(a + 42 + 40 + off, 0, 2);
			uint16_t c = tr_ipv6_l4_cksum(a + 42 + 8, a + 42 + 24, nh, a + 42 + 40, plen);
			memcpy(a + 42 + 40 + off, &c, 2);
		}
		memcpy(b + 42, a + 42, len);
		static uint8_t r[42 + 1300];

		memcpy(r + 42, a + 42, len);
		ref_encap(r, dmac, smac, src, sport, dst, dport, id, ttl, len);

		tr_build_eth(a, dmac, smac, TR_ETHERTYPE_IPV4);
		assert_int_equal(tr_build_encap(a + 14, src, sport, dst, dport, id, ttl, len), 28);
		tr_encap_tmpl_init(&t, smac, src, sport, ttl);
		assert_int_equal(tr_encap_tmpl_write(&t, b, dmac, dst, dport, id, len), 42);
		assert_memory_equal(a, b, 42);
		/* Against the reference: every byte, the UDP checksum too, except
		 * where the inner checksum was made wrong on purpose and D29's
		 * derivation (from the inner header) then differs from a full sum. */
		bool inner_bad = off != 0 && plen >= off + 2 && it % 5 == 0 && plen == len - 40;

		assert_memory_equal(a, r, inner_bad ? 40 : 42);

		/* Offload variant + what a NIC then does (Intel/DPDK semantics:
		 * IPv4 checksum over the header, UDP checksum = complement of the
		 * sum over UDP header and data with the pseudo-header sum in the
		 * field, 0 sent as 0xffff) gives the frame summed in full: the
		 * same as above, except that a wrong inner checksum no longer
		 * spoils the outer one. */
		assert_int_equal(tr_encap_tmpl_write_offload(&t, b, dmac, dst, dport, id, len), 42);
		assert_int_equal(b[24] | b[25], 0);
		uint16_t nic = tr_ipv4_hdr_cksum(b + 14, 20);
		memcpy(b + 24, &nic, 2);
		nic = tr_cksum_finish(tr_cksum_add(0, b + 34, 8 + len));
		if (nic == 0)
			nic = 0xffff;
		memcpy(b + 40, &nic, 2);
		memset(a + 40, 0, 2);
		uint16_t full = tr_udp4_cksum(src, dst, a + 34, 8 + len);
		memcpy(a + 40, &full, 2);
		assert_memory_equal(a, b, 42);
	}
	struct tr_encap_tmpl t;

	tr_encap_tmpl_init(&t, addr_r6, R4, RPORT, 64);
	assert_int_equal(tr_encap_tmpl_write(&t, b, addr_r6, A4, APORT, 0, TR_MAX_UDP_PAYLOAD + 1), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bubble_bytes),
		cmocka_unit_test(test_is_bubble),
		cmocka_unit_test(test_nonce_trailer),
		cmocka_unit_test(test_indirect_bubble_frame),
		cmocka_unit_test(test_direct_bubble_frame),
		cmocka_unit_test(test_bubble_with_nonce_frame),
		cmocka_unit_test(test_encap_echo),
		cmocka_unit_test(test_encap_fields),
		cmocka_unit_test(test_encap_too_big),
		cmocka_unit_test(test_dec_hop),
		cmocka_unit_test(test_ptb_truncated),
		cmocka_unit_test(test_time_exceeded_small),
		cmocka_unit_test(test_param_problem_pointer),
		cmocka_unit_test(test_icmp6_error_in_place),
		cmocka_unit_test(test_icmp6_error_refusals),
		cmocka_unit_test(test_eth),
		cmocka_unit_test(test_encap_template),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
