/* SPDX-License-Identifier: BSD-3-Clause */
/* ECN across the tunnel (RFC 6040, applied to Teredo by RFC 9601): every
 * cell of the decapsulation table (RFC 6040 §4.2 Figure 4, written out here
 * from the RFC, not from the code), the in-place rewrite of the inner traffic
 * class, and the encapsulator's copy into the outer IPv4 header with a
 * checksum verified by an independent RFC 1071 sum. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ecn.h"
#include "teredo.h"

enum { N = TR_ECN_NOT_ECT, E1 = TR_ECN_ECT1, E0 = TR_ECN_ECT0, CE = TR_ECN_CE, DROP = TR_ECN_DROP };

/* Figure 4: rows arriving inner, columns arriving outer (Not-ECT, ECT(0), ECT(1), CE). */
static const unsigned fig4_inner[4] = { N, E0, E1, CE };
static const unsigned fig4_outer[4] = { N, E0, E1, CE };
static const unsigned fig4[4][4] = {
	/* Not-ECT */ { N,  N,  N,  DROP },
	/* ECT(0)  */ { E0, E0, E1, CE },
	/* ECT(1)  */ { E1, E1, E1, CE },
	/* CE      */ { CE, CE, CE, CE },
};

static void test_figure4_every_cell(void **state)
{
	(void)state;
	for (int i = 0; i < 4; i++)
		for (int o = 0; o < 4; o++) {
			/* DSCP bits in the outer TOS must not matter. */
			assert_int_equal(tr_ecn_decap(fig4_outer[o], fig4_inner[i]), fig4[i][o]);
			assert_int_equal(tr_ecn_decap(0xb8u | fig4_outer[o], fig4_inner[i]), fig4[i][o]);
		}
}

/* Ethernet, IPv4 (TOS tos), UDP, IPv6 with traffic class tc and flow label 0x12345. */
static void frame(uint8_t *f, uint8_t tos, uint8_t tc)
{
	memset(f, 0, 14 + 28 + 40);
	f[14] = 0x45;
	f[15] = tos;
	uint8_t *ip6 = f + 42;

	ip6[0] = (uint8_t)(0x60 | (tc >> 4));
	ip6[1] = (uint8_t)((tc << 4) | 0x1);
	ip6[2] = 0x23;
	ip6[3] = 0x45;
}

static void test_frame_rewrite(void **state)
{
	(void)state;
	uint8_t f[82];

	for (int i = 0; i < 4; i++)
		for (int o = 0; o < 4; o++) {
			/* Inner DSCP 46 (EF) and the flow label must survive. */
			uint8_t tc = (uint8_t)((46 << 2) | fig4_inner[i]);

			frame(f, (uint8_t)(0x20 | fig4_outer[o]), tc);
			bool keep = tr_ecn_decap_frame(f, 14, 42);

			if (fig4[i][o] == DROP) {
				assert_false(keep);
				continue;
			}
			assert_true(keep);
			uint8_t want[82];

			frame(want, (uint8_t)(0x20 | fig4_outer[o]), (uint8_t)((46 << 2) | fig4[i][o]));
			assert_memory_equal(f, want, sizeof(f));
		}
}

static uint16_t rfc1071(const uint8_t *p, size_t n)
{
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static void test_encap_copies_ecn(void **state)
{
	(void)state;
	uint8_t pkt[28 + 40];

	for (unsigned e = 0; e < 4; e++) {
		memset(pkt, 0, sizeof(pkt));
		uint8_t *ip6 = pkt + 28;

		/* Inner DSCP 10: not copied (outer DSCP stays 0), ECN copied (§4.1 normal mode). */
		ip6[0] = 0x60 | (uint8_t)((10 << 2 | e) >> 4);
		ip6[1] = (uint8_t)(((10 << 2 | e) & 0xf) << 4);
		ip6[6] = 59;
		assert_int_equal(tr_build_encap(pkt, 0xc6336401u, 3545, 0xc0000201u, 4096, 7, 64, 40),
				 28);
		assert_int_equal(pkt[1], e);
		assert_int_equal(rfc1071(pkt, 20), 0xffff);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_figure4_every_cell),
		cmocka_unit_test(test_frame_rewrite),
		cmocka_unit_test(test_encap_copies_ecn),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
