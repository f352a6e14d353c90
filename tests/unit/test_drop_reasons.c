/* SPDX-License-Identifier: BSD-3-Clause */
/* Drop reasons: names become metric labels, so they must be unique snake_case. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "teredo.h"

/* [a-z][a-z0-9]*(_[a-z0-9]+)*: a valid Prometheus label value and C-ish id. */
static bool is_snake(const char *s)
{
	if (s[0] < 'a' || s[0] > 'z')
		return false;
	for (const char *p = s; *p; p++) {
		bool lower = *p >= 'a' && *p <= 'z', digit = *p >= '0' && *p <= '9';

		if (*p == '_') {
			if (p[1] == '\0' || p[1] == '_')
				return false;
		} else if (!lower && !digit) {
			return false;
		}
	}
	return true;
}

static void test_snake_helper(void **state)
{
	(void)state;
	assert_true(is_snake("rx_v4_bad_csum"));
	assert_false(is_snake("Rx_bad"));
	assert_false(is_snake("rx__bad"));
	assert_false(is_snake("rx_bad_"));
	assert_false(is_snake("_rx"));
	assert_false(is_snake("rx-bad"));
	assert_false(is_snake("rx bad"));
	assert_false(is_snake(""));
}

static void test_every_reason_named(void **state)
{
	(void)state;
	assert_true(TR_DROP_MAX > 1);
	for (int r = 1; r < TR_DROP_MAX; r++) {
		const char *n = tr_drop_name((enum tr_drop_reason)r);
		const char *h = tr_drop_help((enum tr_drop_reason)r);

		if (n == NULL || n[0] == '\0')
			fail_msg("reason %d has no name", r);
		if (!is_snake(n))
			fail_msg("reason %d name \"%s\" is not lower_snake_case", r, n);
		if (h == NULL || h[0] == '\0')
			fail_msg("reason %d (%s) has no help", r, n);
		/* Reserved words of the API must not be reused. */
		if (strcmp(n, "none") == 0 || strcmp(n, "unknown") == 0)
			fail_msg("reason %d uses reserved name \"%s\"", r, n);
	}
}

static void test_names_unique(void **state)
{
	(void)state;
	for (int a = 0; a < TR_DROP_MAX; a++)
		for (int b = a + 1; b < TR_DROP_MAX; b++)
			if (strcmp(tr_drop_name((enum tr_drop_reason)a),
				   tr_drop_name((enum tr_drop_reason)b)) == 0)
				fail_msg("reasons %d and %d share name \"%s\"", a, b,
					 tr_drop_name((enum tr_drop_reason)a));
}

static void test_none_and_out_of_range(void **state)
{
	(void)state;
	assert_string_equal(tr_drop_name(TR_DROP_NONE), "none");
	assert_non_null(tr_drop_help(TR_DROP_NONE));
	assert_string_equal(tr_drop_name(TR_DROP_MAX), "unknown");
	assert_string_equal(tr_drop_name((enum tr_drop_reason)(TR_DROP_MAX + 1)), "unknown");
	assert_string_equal(tr_drop_name((enum tr_drop_reason)1000000), "unknown");
	/* A negative value from a corrupt int must not index before the table. */
	assert_string_equal(tr_drop_name((enum tr_drop_reason)-1), "unknown");
	assert_non_null(tr_drop_help(TR_DROP_MAX));
	assert_non_null(tr_drop_help((enum tr_drop_reason)-1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_snake_helper),
		cmocka_unit_test(test_every_reason_named),
		cmocka_unit_test(test_names_unique),
		cmocka_unit_test(test_none_and_out_of_range),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
