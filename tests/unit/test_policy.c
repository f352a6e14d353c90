/* SPDX-License-Identifier: BSD-3-Clause
 * Pure decisions: token buckets and the RFC 4443 §2.4(e) ICMPv6 rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "policy.h"
#include "teredo.h"

static void bucket_burst_then_rate(void **state)
{
	struct tr_bucket b = { 0 };

	(void)state;
	/* A full burst at once, then nothing until time passes. */
	for (int i = 0; i < 10; i++)
		assert_true(tr_bucket_take(&b, 1000, 100, 10));
	assert_false(tr_bucket_take(&b, 1000, 100, 10));
	/* 100/s = one token per 10 ms. */
	assert_false(tr_bucket_take(&b, 1009, 100, 10));
	assert_true(tr_bucket_take(&b, 1010, 100, 10));
	assert_false(tr_bucket_take(&b, 1010, 100, 10));
	/* Never more than the burst, however long the pause. */
	int n = 0;
	while (tr_bucket_take(&b, 1000000, 100, 10))
		n++;
	assert_int_equal(n, 10);
}

static void bucket_exact_count_over_a_second(void **state)
{
	struct tr_bucket b = { 0 };
	int n = 0;

	(void)state;
	/* burst 1 and 50/s: one packet per ms for 1 s lets 1 + 50 through. */
	for (uint64_t t = 0; t <= 1000; t++)
		n += tr_bucket_take(&b, 5000 + t, 50, 1);
	assert_int_equal(n, 51);
}

static void bucket_time_never_goes_back(void **state)
{
	struct tr_bucket b = { 0 };

	(void)state;
	assert_true(tr_bucket_take(&b, 2000, 1, 1));
	assert_false(tr_bucket_take(&b, 1000, 1, 1));   /* earlier time adds nothing */
	assert_false(tr_bucket_peek(&b, 2999, 1, 1));
	assert_true(tr_bucket_peek(&b, 3000, 1, 1));
	assert_true(tr_bucket_peek(&b, 3000, 1, 1));    /* peek takes nothing */
	assert_true(tr_bucket_take(&b, 3000, 1, 1));
}

static void ip6(uint8_t *p, const char *src_first, const char *dst_first, uint8_t nh, uint8_t type)
{
	memset(p, 0, 48);
	p[0] = 0x60;
	p[5] = 8;
	p[6] = nh;
	p[7] = 64;
	p[8] = (uint8_t)src_first[0];
	p[9] = (uint8_t)src_first[1];
	p[23] = 1;
	p[24] = (uint8_t)dst_first[0];
	p[25] = (uint8_t)dst_first[1];
	p[39] = 2;
	p[40] = type;
}

static void icmp6_rules(void **state)
{
	uint8_t p[48];

	(void)state;
	ip6(p, "\x20\x01", "\x20\x01", TR_NH_UDP, 0);
	assert_true(tr_icmp6_error_allowed(p, sizeof(p)));
	assert_false(tr_icmp6_error_allowed(p, 39));                 /* not a whole header */
	ip6(p, "\xff\x02", "\x20\x01", TR_NH_UDP, 0);
	assert_false(tr_icmp6_error_allowed(p, sizeof(p)));          /* multicast source */
	ip6(p, "\x20\x01", "\xff\x0e", TR_NH_UDP, 0);
	assert_false(tr_icmp6_error_allowed(p, sizeof(p)));          /* multicast destination */
	ip6(p, "\x00\x00", "\x20\x01", TR_NH_UDP, 0);
	p[23] = 0;
	assert_false(tr_icmp6_error_allowed(p, sizeof(p)));          /* unspecified source */
	for (unsigned t = 0; t < 256; t++) {
		ip6(p, "\x20\x01", "\x20\x01", TR_NH_ICMPV6, (uint8_t)t);
		/* errors (type < 128) never get an error; informational ones may */
		assert_int_equal(tr_icmp6_error_allowed(p, sizeof(p)), t >= 128);
	}
	ip6(p, "\x20\x01", "\x20\x01", TR_NH_ICMPV6, 128);
	assert_false(tr_icmp6_error_allowed(p, 40));                 /* ICMPv6 type missing */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bucket_burst_then_rate),
		cmocka_unit_test(bucket_exact_count_over_a_second),
		cmocka_unit_test(bucket_time_never_goes_back),
		cmocka_unit_test(icmp6_rules),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
