/* SPDX-License-Identifier: BSD-3-Clause */
/* Checksums: notes §2.8 worked frames, odd lengths, RFC 1624 updates. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "teredo.h"

/* Notes §2.8: indirect bubble relay 198.51.100.1:3545 -> server 203.0.113.120:3544. */
static const uint8_t indirect_bubble[68] = {
	0x45, 0x00, 0x00, 0x44, 0x00, 0x00, 0x00, 0x00, 0x40, 0x11, 0x13, 0xfc,
	0xc6, 0x33, 0x64, 0x01, 0xcb, 0x00, 0x71, 0x78,
	0x0d, 0xd9, 0x0d, 0xd8, 0x00, 0x30, 0x07, 0x9f,
	0x60, 0x00, 0x00, 0x00, 0x00, 0x00, 0x3b, 0x00,
	0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xa0, 0xb2, 0xc3, 0xd4, 0xe5, 0xf6, 0x07, 0x18,
	0x20, 0x01, 0x00, 0x00, 0xcb, 0x00, 0x71, 0x78, 0x00, 0x00, 0xef, 0xff, 0x3f, 0xff, 0xfd, 0xfe,
};

/* Notes §2.8: direct bubble client 192.0.2.1:4096 -> relay. */
static const uint8_t direct_bubble[68] = {
	0x45, 0x00, 0x00, 0x44, 0x00, 0x00, 0x00, 0x00, 0x40, 0x11, 0x8e, 0x73,
	0xc0, 0x00, 0x02, 0x01, 0xc6, 0x33, 0x64, 0x01,
	0x10, 0x00, 0x0d, 0xd9, 0x00, 0x30, 0x7f, 0xee,
	0x60, 0x00, 0x00, 0x00, 0x00, 0x00, 0x3b, 0x00,
	0x20, 0x01, 0x00, 0x00, 0xcb, 0x00, 0x71, 0x78, 0x00, 0x00, 0xef, 0xff, 0x3f, 0xff, 0xfd, 0xfe,
	0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xa0, 0xb2, 0xc3, 0xd4, 0xe5, 0xf6, 0x07, 0x18,
};

/* Notes §2.8: native ICMPv6 echo request 2001:db8::1 -> client A. */
static const uint8_t native_echo[56] = {
	0x60, 0x00, 0x00, 0x00, 0x00, 0x10, 0x3a, 0x40,
	0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x20, 0x01, 0x00, 0x00, 0xcb, 0x00, 0x71, 0x78, 0x00, 0x00, 0xef, 0xff, 0x3f, 0xff, 0xfd, 0xfe,
	0x80, 0x00, 0x23, 0xb8, 0x12, 0x34, 0x00, 0x01, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68,
};

/* Notes §2.8: the same echo encapsulated by the relay (84 bytes, hop limit 63). */
static void make_encap_echo(uint8_t out[84])
{
	static const uint8_t hdr[28] = {
		0x45, 0x00, 0x00, 0x54, 0x00, 0x00, 0x00, 0x00, 0x40, 0x11, 0x8e, 0x63,
		0xc6, 0x33, 0x64, 0x01, 0xc0, 0x00, 0x02, 0x01,
		0x0d, 0xd9, 0x10, 0x00, 0x00, 0x40, 0x5b, 0x59,
	};

	memcpy(out, hdr, 28);
	memcpy(out + 28, native_echo, 56);
	out[28 + 7] = 63;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Check an IPv4/UDP frame: in-place verify gives 0, recompute gives the wire bytes. */
static void check_v4_udp(const uint8_t *frame, size_t len, uint8_t ip_hi, uint8_t ip_lo,
			 uint8_t udp_hi, uint8_t udp_lo)
{
	uint8_t b[128];
	uint16_t c;

	assert_true(len <= sizeof(b));
	memcpy(b, frame, len);
	uint32_t src = be32(b + 12), dst = be32(b + 16);

	assert_int_equal(tr_ipv4_hdr_cksum(b, 20), 0);
	assert_int_equal(tr_udp4_cksum(src, dst, b + 20, len - 20), 0);

	b[10] = b[11] = 0;
	c = tr_ipv4_hdr_cksum(b, 20);
	memcpy(b + 10, &c, 2);
	assert_int_equal(b[10], ip_hi);
	assert_int_equal(b[11], ip_lo);

	b[26] = b[27] = 0;
	c = tr_udp4_cksum(src, dst, b + 20, len - 20);
	memcpy(b + 26, &c, 2);
	assert_int_equal(b[26], udp_hi);
	assert_int_equal(b[27], udp_lo);
	assert_memory_equal(b, frame, len);
}

static void test_indirect_bubble(void **state)
{
	(void)state;
	check_v4_udp(indirect_bubble, sizeof(indirect_bubble), 0x13, 0xfc, 0x07, 0x9f);
}

static void test_direct_bubble(void **state)
{
	(void)state;
	check_v4_udp(direct_bubble, sizeof(direct_bubble), 0x8e, 0x73, 0x7f, 0xee);
}

static void test_encap_echo(void **state)
{
	(void)state;
	uint8_t f[84];

	make_encap_echo(f);
	check_v4_udp(f, sizeof(f), 0x8e, 0x63, 0x5b, 0x59);
}

static void test_icmpv6_echo(void **state)
{
	(void)state;
	uint8_t b[56];
	uint16_t c;

	memcpy(b, native_echo, sizeof(b));
	assert_int_equal(tr_ipv6_l4_cksum(b + 8, b + 24, TR_NH_ICMPV6, b + 40, 16), 0);
	b[42] = b[43] = 0;
	c = tr_ipv6_l4_cksum(b + 8, b + 24, TR_NH_ICMPV6, b + 40, 16);
	memcpy(b + 42, &c, 2);
	assert_int_equal(b[42], 0x23);
	assert_int_equal(b[43], 0xb8);
	/* The hop limit is not in the pseudo-header: unchanged after decrement. */
	b[7] = 63;
	assert_int_equal(tr_ipv6_l4_cksum(b + 8, b + 24, TR_NH_ICMPV6, b + 40, 16), 0);
}

/* Straightforward big-endian RFC 1071 sum: the oracle for odd lengths. */
static uint16_t ref_cksum(const uint8_t *p, size_t len)
{
	uint64_t s = 0;

	for (size_t i = 0; i < len; i += 2)
		s += (uint32_t)p[i] << 8 | (i + 1 < len ? p[i + 1] : 0);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static void test_odd_lengths(void **state)
{
	(void)state;
	uint8_t buf[301];

	srand(1071);
	for (int round = 0; round < 200; round++) {
		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = (uint8_t)rand();
		for (size_t len = 0; len <= sizeof(buf); len++) {
			/* Exactly sized heap copy: ASan flags any over-read of the odd byte. */
			uint8_t *p = malloc(len ? len : 1);

			assert_non_null(p);
			memcpy(p, buf, len);
			uint16_t want = ref_cksum(p, len);
			uint16_t got = tr_cksum_finish(tr_cksum_add(0, p, len));
			uint8_t wire[2];

			memcpy(wire, &got, 2);
			if (wire[0] != (uint8_t)(want >> 8) || wire[1] != (uint8_t)want)
				fail_msg("len %zu: got %02x%02x want %04x", len, wire[0], wire[1], want);
			free(p);
		}
	}
	/* Known small cases: one byte 0xab is the word 0xab00. */
	static const uint8_t one = 0xab;
	uint16_t c = tr_cksum_finish(tr_cksum_add(0, &one, 1));
	uint8_t w[2];

	memcpy(w, &c, 2);
	assert_int_equal(w[0], 0x54);
	assert_int_equal(w[1], 0xff);
	/* Empty: sum 0 -> 0xffff. */
	assert_int_equal(tr_cksum_finish(tr_cksum_add(0, NULL, 0)), 0xffff);
}

/* Chaining over even-length chunks equals one pass. */
static void test_chaining(void **state)
{
	(void)state;
	uint8_t buf[1000];

	srand(8200);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)rand();
	uint32_t whole = tr_cksum_add(0, buf, sizeof(buf));

	for (size_t cut = 0; cut <= sizeof(buf); cut += 2) {
		uint32_t s = tr_cksum_add(0, buf, cut);

		s = tr_cksum_add(s, buf + cut, sizeof(buf) - cut);
		assert_int_equal(tr_cksum_finish(s), tr_cksum_finish(whole));
	}
	/* Accumulator does not overflow on the largest datagram of all-ones. */
	static uint8_t big[65535];

	memset(big, 0xff, sizeof(big));
	uint16_t got = tr_cksum_finish(tr_cksum_add(0, big, sizeof(big)));
	uint16_t want = ref_cksum(big, sizeof(big));
	uint8_t wire[2];

	memcpy(wire, &got, 2);
	assert_int_equal(wire[0], want >> 8);
	assert_int_equal(wire[1], want & 0xff);
	/* A saturated incoming accumulator plus 32767 all-ones words is still -0. */
	assert_int_equal(tr_cksum_finish(tr_cksum_add(0xffffffffu, big, sizeof(big) - 1)), 0);
}

/* RFC 1624 §4 worked example: eqn 3 gives 0x0000, never -0 (0xffff). */
static void test_rfc1624_example(void **state)
{
	(void)state;
	assert_int_equal(tr_cksum_update16(0xdd2f, 0x5555, 0x3285), 0x0000);
	/* Byte order does not matter to one's-complement arithmetic. */
	assert_int_equal(tr_cksum_update16(0x2fdd, 0x5555, 0x8532), 0x0000);
	/* No change, no effect. */
	assert_int_equal(tr_cksum_update16(0x1234, 0xabcd, 0xabcd), 0x1234);
}

/* Incremental update equals a full recompute (RFC 1624 eqn 3). */
static void test_incremental_random(void **state)
{
	(void)state;
	uint8_t h[60];

	srand(1624);
	for (int i = 0; i < 100000; i++) {
		size_t n = 20 + 4 * (size_t)(rand() % 11);   /* IPv4 header sizes 20..60 */

		for (size_t j = 0; j < n; j++)
			h[j] = (uint8_t)rand();
		h[10] = h[11] = 0;
		uint16_t c = tr_ipv4_hdr_cksum(h, n);

		memcpy(h + 10, &c, 2);

		size_t off;

		do
			off = 2 * (size_t)(rand() % (int)(n / 2));
		while (off == 10);
		uint16_t old_w, new_w = (uint16_t)rand();

		/* Exercise the extremes too. */
		if (i % 7 == 0)
			new_w = 0;
		else if (i % 7 == 1)
			new_w = 0xffff;
		memcpy(&old_w, h + off, 2);
		memcpy(h + off, &new_w, 2);

		uint16_t inc = tr_cksum_update16(c, old_w, new_w);

		h[10] = h[11] = 0;
		uint16_t full = tr_ipv4_hdr_cksum(h, n);

		if (inc != full)
			fail_msg("case %d off %zu: incremental %04x full %04x", i, off, inc, full);
		memcpy(h + 10, &inc, 2);
		assert_int_equal(tr_ipv4_hdr_cksum(h, n), 0);
	}
}

/* TTL decrement case as a router does it (RFC 1624 §2 motivation). */
static void test_incremental_ttl(void **state)
{
	(void)state;
	uint8_t h[20];
	uint16_t old_w, new_w, c;

	memcpy(h, indirect_bubble, 20);
	memcpy(&old_w, h + 8, 2);
	h[8]--;
	memcpy(&new_w, h + 8, 2);
	memcpy(&c, h + 10, 2);
	c = tr_cksum_update16(c, old_w, new_w);
	memcpy(h + 10, &c, 2);
	assert_int_equal(tr_ipv4_hdr_cksum(h, 20), 0);
	assert_int_equal(h[10], 0x14);
	assert_int_equal(h[11], 0xfc);
}

/* Build a UDP datagram whose computed checksum is 0, then check it is sent as 0xffff. */
static void test_udp_zero_maps_to_ffff(void **state)
{
	(void)state;
	uint8_t u[8 + 10] = { 0x0d, 0xd9, 0x0d, 0xd8, 0x00, 18, 0x00, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0 };
	const uint32_t src = 0xc6336401, dst = 0xcb007178;
	uint16_t c = tr_udp4_cksum(src, dst, u, sizeof(u));

	/* Put the complement of the sum into the payload: total becomes -0. */
	memcpy(u + 16, &c, 2);
	u[6] = u[7] = 0;
	c = tr_udp4_cksum(src, dst, u, sizeof(u));
	assert_int_equal(c, 0xffff);
	memcpy(u + 6, &c, 2);
	assert_int_equal(tr_udp4_cksum(src, dst, u, sizeof(u)), 0);

	/* Same rule for UDP over IPv6 (RFC 8200 §8.1). */
	uint8_t s6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	uint8_t d6[16] = { 0x20, 0x01, 0x00, 0x00, 0xcb, 0x00, 0x71, 0x78, [15] = 2 };

	memset(u + 6, 0, 2);
	memset(u + 16, 0, 2);
	c = tr_ipv6_l4_cksum(s6, d6, TR_NH_UDP, u, sizeof(u));
	memcpy(u + 16, &c, 2);
	c = tr_ipv6_l4_cksum(s6, d6, TR_NH_UDP, u, sizeof(u));
	assert_int_equal(c, 0xffff);
	memcpy(u + 6, &c, 2);
	assert_int_equal(tr_ipv6_l4_cksum(s6, d6, TR_NH_UDP, u, sizeof(u)), 0);
}

/* A corrupted frame must not verify. */
static void test_corruption_detected(void **state)
{
	(void)state;
	uint8_t b[68];

	memcpy(b, indirect_bubble, sizeof(b));
	b[40] ^= 0x01;
	assert_int_not_equal(tr_udp4_cksum(0xc6336401, 0xcb007178, b + 20, 48), 0);
	/* Wrong pseudo-header (spoofed source) must not verify either. */
	assert_int_not_equal(tr_udp4_cksum(0xc6336402, 0xcb007178, indirect_bubble + 20, 48), 0);
	memcpy(b, indirect_bubble, sizeof(b));
	b[8] = 0x3f;
	assert_int_not_equal(tr_ipv4_hdr_cksum(b, 20), 0);
}


/* An IPv6 packet of len bytes in p: next header nh, random addresses and
 * payload, a valid transport checksum when the protocol has one. */
static void make_ip6(uint8_t *p, size_t len, uint8_t nh, unsigned seed)
{
	srand(seed);
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)rand();
	p[0] = 0x60;
	p[4] = (uint8_t)((len - 40) >> 8);
	p[5] = (uint8_t)(len - 40);
	p[6] = nh;
	size_t off = nh == 6 ? 16 : nh == TR_NH_UDP ? 6 : nh == TR_NH_ICMPV6 ? 2 : 0;

	if (off == 0 || len < 40 + off + 2)
		return;
	memset(p + 40 + off, 0, 2);
	uint16_t c = tr_ipv6_l4_cksum(p + 8, p + 24, nh, p + 40, len - 40);

	memcpy(p + 40 + off, &c, 2);
	assert_int_equal(tr_ipv6_l4_cksum(p + 8, p + 24, nh, p + 40, len - 40), 0);
}

/* The outer UDP checksum of encapsulation, derived from the inner header,
 * equals the one summed over every byte, for TCP, UDP and ICMPv6 of all
 * sizes up to the Teredo MTU, and for everything that falls back. */
static void test_teredo_cksum_derived(void **state)
{
	(void)state;
	static const uint8_t nhs[] = { 6, TR_NH_UDP, TR_NH_ICMPV6, TR_NH_NONE, 0, 44, 43 };
	static uint8_t f[28 + 1300];          /* IPv4 + UDP + the IPv6 packet */
	const uint32_t src = 0xc6336401, dst = 0xc0000201;
	uint8_t *ip6 = f + 28;
	unsigned checked = 0;

	for (size_t k = 0; k < sizeof(nhs); k++) {
		for (size_t len = 40; len <= 1280; len += (len < 120 ? 1 : 37)) {
			make_ip6(ip6, len, nhs[k], (unsigned)(len * 7 + k));
			assert_int_equal(tr_cksum_finish(tr_ipv6_packet_sum(ip6, len)),
					 tr_cksum_finish(tr_cksum_add(0, ip6, len)));
			assert_int_equal(tr_build_encap(f, src, 3545, dst, 4096, 0, 64, len), 28);
			uint16_t got;

			memcpy(&got, f + 26, 2);
			memset(f + 26, 0, 2);
			uint16_t full = tr_udp4_cksum(src, dst, f + 20, len + 8);

			assert_int_equal(got, full);
			checked++;
		}
	}
	assert_true(checked > 7 * 100);

	/* Falls back when the header says otherwise: a UDP checksum of 0,
	 * trailing bytes (RFC 6081 trailer after a bubble), not version 6. */
	make_ip6(ip6, 100, TR_NH_UDP, 1);
	ip6[46] = ip6[47] = 0;
	assert_int_equal(tr_cksum_finish(tr_ipv6_packet_sum(ip6, 100)),
			 tr_cksum_finish(tr_cksum_add(0, ip6, 100)));
	make_ip6(ip6, 100, 6, 2);
	ip6[5] = (uint8_t)(ip6[5] - 6);        /* 6 bytes more than the IPv6 length */
	assert_int_equal(tr_cksum_finish(tr_ipv6_packet_sum(ip6, 100)),
			 tr_cksum_finish(tr_cksum_add(0, ip6, 100)));
	make_ip6(ip6, 100, 6, 3);
	ip6[0] = 0x45;
	assert_int_equal(tr_cksum_finish(tr_ipv6_packet_sum(ip6, 100)),
			 tr_cksum_finish(tr_cksum_add(0, ip6, 100)));
	make_ip6(ip6, 44, 6, 4);               /* shorter than a TCP header */
	assert_int_equal(tr_cksum_finish(tr_ipv6_packet_sum(ip6, 44)),
			 tr_cksum_finish(tr_cksum_add(0, ip6, 44)));
	assert_int_equal(tr_cksum_finish(tr_ipv6_packet_sum(ip6, 20)),
			 tr_cksum_finish(tr_cksum_add(0, ip6, 20)));
}

/* A packet whose inner checksum is wrong gets an outer checksum that does
 * not verify: the client drops it at UDP instead of at TCP. */
static void test_teredo_cksum_bad_inner(void **state)
{
	(void)state;
	uint8_t f[28 + 120];
	const uint32_t src = 0xc6336401, dst = 0xc0000201;

	for (unsigned seed = 0; seed < 200; seed++) {
		make_ip6(f + 28, 120, 6, seed);
		f[28 + 40 + 20 + seed % 60] ^= (uint8_t)(1u << (seed % 8));   /* corrupt the payload */
		assert_int_equal(tr_build_encap(f, src, 3545, dst, 4096, 0, 64, 120), 28);
		assert_int_not_equal(tr_udp4_cksum(src, dst, f + 20, 128), 0);
	}
}

/* The receive-side verdict (pseudo-header words read from the IPv4 header)
 * agrees with recomputing the checksum, for valid and corrupted datagrams
 * of every length, odd ones included. */
static void test_udp4_verify(void **state)
{
	(void)state;
	static uint8_t f[20 + 8 + 1300];
	unsigned ok = 0, bad = 0;

	for (unsigned it = 0; it < 4000; it++) {
		size_t ulen = 8 + (size_t)(it * 7) % 1300;

		srand(it);
		for (size_t i = 0; i < 20 + ulen; i++)
			f[i] = (uint8_t)rand();
		uint8_t *udp = f + 20;

		f[9] = TR_NH_UDP;
		udp[4] = (uint8_t)(ulen >> 8);
		udp[5] = (uint8_t)ulen;
		udp[6] = udp[7] = 0;
		uint16_t c = tr_udp4_cksum(be32(f + 12), be32(f + 16), udp, ulen);

		memcpy(udp + 6, &c, 2);
		if (it % 3 == 0)                          /* corrupt one byte */
			udp[8 + (it % (ulen - 7)) - 1] ^= (uint8_t)(1u << (it % 8));
		if (it % 11 == 0)                         /* or an address */
			f[12 + it % 8] ^= 0x40;
		bool want = tr_udp4_cksum(be32(f + 12), be32(f + 16), udp, ulen) == 0;

		assert_int_equal(tr_udp4_cksum_ok(f, udp, ulen), want);
		if (want)
			ok++;
		else
			bad++;
	}
	assert_true(ok > 2000 && bad > 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_indirect_bubble),
		cmocka_unit_test(test_direct_bubble),
		cmocka_unit_test(test_encap_echo),
		cmocka_unit_test(test_icmpv6_echo),
		cmocka_unit_test(test_odd_lengths),
		cmocka_unit_test(test_chaining),
		cmocka_unit_test(test_rfc1624_example),
		cmocka_unit_test(test_incremental_random),
		cmocka_unit_test(test_incremental_ttl),
		cmocka_unit_test(test_udp_zero_maps_to_ffff),
		cmocka_unit_test(test_corruption_detected),
		cmocka_unit_test(test_teredo_cksum_derived),
		cmocka_unit_test(test_teredo_cksum_bad_inner),
		cmocka_unit_test(test_udp4_verify),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
