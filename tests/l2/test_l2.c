/* SPDX-License-Identifier: BSD-3-Clause
 *
 * VLAN tags (lib/teredo/l2.c): the receive check against each side's tags,
 * with the tags in the frame or stripped by a NIC (the same verdict), the
 * tagged Ethernet header, tag insertion as a NIC does it, and the tagged
 * encapsulation template (the same bytes as untagged, tags added).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "teredo.h"

static const uint8_t mac_d[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const uint8_t mac_s[6] = { 0x02, 0, 0, 0, 0, 0x02 };

/* Sides: Teredo VLAN 100, native QinQ 0x88a8 10 / 20. */
static const struct tr_vlan sides_tagged[2] = {
	{ .ntags = 1, .outer_tpid = TR_TPID_8021Q, .vid = { 100, 0 } },
	{ .ntags = 2, .outer_tpid = TR_TPID_8021AD, .vid = { 10, 20 } },
};
static const struct tr_vlan sides_untagged[2];

/* A frame of ethertype et behind tags (tpid, tci) pairs; 64 bytes long. */
static size_t frame(uint8_t *f, uint16_t et, unsigned n, const uint16_t *tags)
{
	size_t off = 12;

	memset(f, 0xee, 64);
	memcpy(f, mac_d, 6);
	memcpy(f + 6, mac_s, 6);
	for (unsigned i = 0; i < n; i++) {
		f[off] = (uint8_t)(tags[2 * i] >> 8);
		f[off + 1] = (uint8_t)tags[2 * i];
		f[off + 2] = (uint8_t)(tags[2 * i + 1] >> 8);
		f[off + 3] = (uint8_t)tags[2 * i + 1];
		off += 4;
	}
	f[off] = (uint8_t)(et >> 8);
	f[off + 1] = (uint8_t)et;
	return 64;
}

static enum tr_drop_reason check(const struct tr_vlan *sides, uint16_t et, unsigned n,
				 const uint16_t *tags, unsigned *strip)
{
	uint8_t f[64];
	size_t len = frame(f, et, n, tags);

	return tr_l2_check(sides, f, len, NULL, strip);
}

/* The same frame as a stripping NIC delivers it: the first nhw tags in hw. */
static enum tr_drop_reason check_hw(const struct tr_vlan *sides, uint16_t et, unsigned n,
				    const uint16_t *tags, unsigned nhw, unsigned *strip)
{
	uint8_t f[64];
	struct tr_rx_tags hw = { .n = (uint8_t)nhw };

	for (unsigned i = 0; i < nhw; i++)
		hw.tci[i] = tags[2 * i + 1];
	size_t len = frame(f, et, n - nhw, tags + 2 * nhw);

	return tr_l2_check(sides, f, len, &hw, strip);
}

static void test_l2_tagged_sides(void **state)
{
	unsigned strip;
	const uint16_t t100[] = { 0x8100, 100 };
	const uint16_t t100_pcp[] = { 0x8100, 0xe000 | 100 };   /* priority 7: ignored */
	const uint16_t t101[] = { 0x8100, 101 };
	const uint16_t s100[] = { 0x88a8, 100 };
	const uint16_t q10_20[] = { 0x88a8, 10, 0x8100, 20 };
	const uint16_t q10_21[] = { 0x88a8, 10, 0x8100, 21 };
	const uint16_t q11_20[] = { 0x88a8, 11, 0x8100, 20 };
	const uint16_t q8100_10_20[] = { 0x8100, 10, 0x8100, 20 };
	const uint16_t three[] = { 0x88a8, 10, 0x8100, 20, 0x8100, 30 };
	const uint16_t prio[] = { 0x8100, 0x2000 };

	(void)state;
	/* Teredo side (IPv4, ARP) on VLAN 100. */
	assert_int_equal(check(sides_tagged, TR_ETHERTYPE_IPV4, 1, t100, &strip), TR_DROP_NONE);
	assert_int_equal(strip, 4);
	assert_int_equal(check(sides_tagged, TR_ETHERTYPE_ARP, 1, t100_pcp, &strip), TR_DROP_NONE);
	assert_int_equal(check(sides_tagged, TR_ETHERTYPE_IPV4, 1, t101, &strip), TR_DROP_VLAN_WRONG);
	assert_int_equal(check(sides_tagged, TR_ETHERTYPE_IPV4, 1, s100, &strip), TR_DROP_VLAN_WRONG);
	assert_int_equal(check(sides_tagged, TR_ETHERTYPE_IPV4, 0, NULL, &strip), TR_DROP_VLAN_MISSING);
	assert_int_equal(check(sides_tagged, TR_ETHERTYPE_IPV4, 1, prio, &strip), TR_DROP_VLAN_MISSING);
	assert_int_equal(check(sides_tagged, TR_ETHERTYPE_IPV4, 2, q10_20, &strip), TR_DROP_VLAN_WRONG);
	/* Native side (IPv6) on QinQ 10/20. */
	assert_int_equal(check(sides_tagged, TR_ETHERTYPE_IPV6, 2, q10_20, &strip), TR_DROP_NONE);
	assert_int_equal(strip, 8);
	assert_int_equal(check(sides_tagged, TR_ETHERTYPE_IPV6, 2, q10_21, &strip), TR_DROP_VLAN_WRONG);
	assert_int_equal(check(sides_tagged, TR_ETHERTYPE_IPV6, 2, q11_20, &strip), TR_DROP_VLAN_WRONG);
	assert_int_equal(check(sides_tagged, TR_ETHERTYPE_IPV6, 2, q8100_10_20, &strip),
			 TR_DROP_VLAN_WRONG);
	assert_int_equal(check(sides_tagged, TR_ETHERTYPE_IPV6, 1, t100, &strip), TR_DROP_VLAN_WRONG);
	assert_int_equal(check(sides_tagged, TR_ETHERTYPE_IPV6, 0, NULL, &strip), TR_DROP_VLAN_MISSING);
	assert_int_equal(check(sides_tagged, TR_ETHERTYPE_IPV6, 3, three, &strip), TR_DROP_VLAN_WRONG);
	/* No side: passes with its tags removed, the classifier drops it. */
	assert_int_equal(check(sides_tagged, 0x88cc, 1, t100, &strip), TR_DROP_NONE);
	assert_int_equal(strip, 4);
}

static void test_l2_untagged_sides(void **state)
{
	unsigned strip = 99;
	const uint16_t prio[] = { 0x8100, 0x6000 };         /* VLAN 0, priority 3 */
	const uint16_t prio_ad[] = { 0x88a8, 0 };
	const uint16_t t5[] = { 0x8100, 5 };
	const uint16_t q0_5[] = { 0x8100, 0, 0x8100, 5 };

	(void)state;
	assert_int_equal(check(sides_untagged, TR_ETHERTYPE_IPV4, 0, NULL, &strip), TR_DROP_NONE);
	assert_int_equal(strip, 0);
	assert_int_equal(check(sides_untagged, TR_ETHERTYPE_IPV6, 1, prio, &strip), TR_DROP_NONE);
	assert_int_equal(strip, 4);
	assert_int_equal(check(sides_untagged, TR_ETHERTYPE_ARP, 1, prio_ad, &strip), TR_DROP_NONE);
	assert_int_equal(check(sides_untagged, TR_ETHERTYPE_IPV4, 1, t5, &strip), TR_DROP_VLAN_UNEXPECTED);
	assert_int_equal(check(sides_untagged, TR_ETHERTYPE_IPV6, 2, q0_5, &strip),
			 TR_DROP_VLAN_UNEXPECTED);
}

/* A NIC that stripped the tags gives the same verdict as the tags in the frame. */
static void test_l2_hw_stripped_same_verdict(void **state)
{
	const uint16_t cases[][4] = {
		{ 0x8100, 100, 0, 0 }, { 0x8100, 101, 0, 0 }, { 0x8100, 0, 0, 0 },
		{ 0x88a8, 10, 0x8100, 20 }, { 0x88a8, 10, 0x8100, 21 }, { 0x8100, 100, 0x8100, 5 },
	};
	const uint16_t ets[] = { TR_ETHERTYPE_IPV4, TR_ETHERTYPE_IPV6, TR_ETHERTYPE_ARP };

	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		unsigned n = cases[c][2] != 0 ? 2 : 1;

		for (size_t e = 0; e < 3; e++)
			for (int s = 0; s < 2; s++) {
				const struct tr_vlan *sides = s ? sides_tagged : sides_untagged;
				unsigned strip_sw, strip_hw;
				enum tr_drop_reason sw = check(sides, ets[e], n, cases[c], &strip_sw);

				for (unsigned nhw = 1; nhw <= n; nhw++) {
					enum tr_drop_reason hw = check_hw(sides, ets[e], n, cases[c], nhw,
									  &strip_hw);

					assert_int_equal(hw, sw);
					if (sw == TR_DROP_NONE)
						assert_int_equal(strip_hw + 4 * nhw, strip_sw);
				}
			}
	}
}

static void test_l2_truncated(void **state)
{
	uint8_t f[64];
	unsigned strip;
	const uint16_t q[] = { 0x88a8, 10, 0x8100, 20 };

	(void)state;
	frame(f, TR_ETHERTYPE_IPV6, 2, q);
	assert_int_equal(tr_l2_check(sides_tagged, f, 13, NULL, &strip), TR_DROP_ETH_TRUNCATED);
	assert_int_equal(tr_l2_check(sides_tagged, f, 17, NULL, &strip), TR_DROP_ETH_TRUNCATED);
	assert_int_equal(tr_l2_check(sides_tagged, f, 21, NULL, &strip), TR_DROP_ETH_TRUNCATED);
	assert_int_equal(tr_l2_check(sides_tagged, f, 22, NULL, &strip), TR_DROP_NONE);
}

static void test_l2_build_and_insert(void **state)
{
	uint8_t a[64], b[64 + 8];
	const uint16_t q[] = { 0x88a8, 10, 0x8100, 20 };
	const uint16_t t[] = { 0x8100, 100 };

	(void)state;
	assert_int_equal(tr_build_eth_vlan(a, &sides_tagged[1], mac_d, mac_s, TR_ETHERTYPE_IPV6), 22);
	frame(b, TR_ETHERTYPE_IPV6, 2, q);
	assert_memory_equal(a, b, 22);
	assert_int_equal(tr_build_eth_vlan(a, &sides_tagged[0], mac_d, mac_s, TR_ETHERTYPE_IPV4), 18);
	frame(b, TR_ETHERTYPE_IPV4, 1, t);
	assert_memory_equal(a, b, 18);
	assert_int_equal(tr_build_eth_vlan(a, NULL, mac_d, mac_s, TR_ETHERTYPE_ARP), 14);
	assert_int_equal(tr_build_eth(b, mac_d, mac_s, TR_ETHERTYPE_ARP), 14);
	assert_memory_equal(a, b, 14);

	/* Insertion as a NIC does it: an untagged frame becomes the tagged one. */
	uint8_t *u = b + 8;

	frame(u, TR_ETHERTYPE_IPV6, 0, NULL);
	memset(u + 14, 0x5a, 64 - 14);
	uint8_t *n = tr_l2_insert(u, &sides_tagged[1], 10, 20);

	assert_ptr_equal(n, b);
	tr_build_eth_vlan(a, &sides_tagged[1], mac_d, mac_s, TR_ETHERTYPE_IPV6);
	assert_memory_equal(n, a, 22);
	assert_int_equal(n[22], 0x5a);
}

/* Tagged encapsulation: the untagged template's bytes with the tags added. */
static void test_l2_encap_template(void **state)
{
	struct tr_encap_tmpl plain, tagged;
	uint8_t p[42 + 40], t[50 + 40];
	uint8_t ip6[40] = { 0x60, [6] = TR_NH_NONE };

	(void)state;
	tr_encap_tmpl_init(&plain, mac_s, 0xc6336401u, 3544, 64);
	tr_encap_tmpl_init_vlan(&tagged, mac_s, &sides_tagged[1], 0xc6336401u, 3544, 64);
	assert_int_equal(plain.l2_len, 14);
	assert_int_equal(tagged.l2_len, 22);
	memcpy(p + 42, ip6, 40);
	memcpy(t + 50, ip6, 40);
	assert_int_equal(tr_encap_tmpl_write(&plain, p, mac_d, 0xc0000201u, 4096, 7, 40), 42);
	assert_int_equal(tr_encap_tmpl_write(&tagged, t, mac_d, 0xc0000201u, 4096, 7, 40), 50);
	assert_memory_equal(p, t, 12);
	assert_memory_equal(p + 12, t + 20, 42 - 12);       /* ethertype, IPv4, UDP */
	assert_int_equal(t[12], 0x88);
	assert_int_equal(t[13], 0xa8);
	assert_int_equal(t[15], 10);
	assert_int_equal(t[19], 20);
	assert_int_equal(tr_encap_tmpl_write_offload(&tagged, t, mac_d, 0xc0000201u, 4096, 7, 40), 50);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_l2_tagged_sides),
		cmocka_unit_test(test_l2_untagged_sides),
		cmocka_unit_test(test_l2_hw_stripped_same_verdict),
		cmocka_unit_test(test_l2_truncated),
		cmocka_unit_test(test_l2_build_and_insert),
		cmocka_unit_test(test_l2_encap_template),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
