/* SPDX-License-Identifier: BSD-3-Clause */
/* Teredo address helpers: notes §1.3 vectors, RFC 4380 §5.2.4, §5.1.1. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "teredo.h"

static void a6(const char *s, uint8_t out[16])
{
	if (inet_pton(AF_INET6, s, out) != 1)
		fail_msg("bad IPv6 literal in test: %s", s);
}

static uint32_t a4(const char *s)
{
	struct in_addr in;

	if (inet_pton(AF_INET, s, &in) != 1)
		fail_msg("bad IPv4 literal in test: %s", s);
	return ntohl(in.s_addr);
}

struct vec {
	const char *what;
	const char *server;
	uint16_t flags;
	uint16_t port;
	const char *client;
	const char *addr;
};

/* Notes §1.3 (RFC 6081 figures, derived rows, Wikipedia example). */
static const struct vec vectors[] = {
	{ "6081 fig2 A", "203.0.113.120", 0x0000, 4096, "192.0.2.1", "2001:0:cb00:7178:0:efff:3fff:fdfe" },
	{ "6081 fig2 B", "198.51.100.118", 0x0000, 8192, "192.0.2.10", "2001:0:c633:6476:0:dfff:3fff:fdf5" },
	{ "6081 fig3 A", "203.0.113.120", 0x0000, 4095, "198.51.100.118", "2001:0:cb00:7178:0:f000:39cc:9b89" },
	{ "6081 fig3 B", "203.0.113.120", 0x0000, 4096, "198.51.100.118", "2001:0:cb00:7178:0:efff:39cc:9b89" },
	{ "5991 random bits", "203.0.113.120", 0x14a5, 4096, "192.0.2.1", "2001:0:cb00:7178:14a5:efff:3fff:fdfe" },
	{ "cone bit", "203.0.113.120", 0x8000, 4096, "192.0.2.1", "2001:0:cb00:7178:8000:efff:3fff:fdfe" },
	{ "non-global client", "203.0.113.120", 0x0000, 4096, "10.0.0.1", "2001:0:cb00:7178:0:efff:f5ff:fffe" },
	{ "non-global server", "10.1.1.1", 0x0000, 4096, "192.0.2.1", "2001:0:a01:101:0:efff:3fff:fdfe" },
	{ "wikipedia", "65.54.227.120", 0x8000, 40000, "192.0.2.45", "2001:0:4136:e378:8000:63bf:3fff:fdd2" },
};

static void test_vectors_decode(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		const struct vec *v = &vectors[i];
		uint8_t a[16];
		struct tr_addr_info d;

		a6(v->addr, a);
		assert_true(tr_is_teredo(a));
		assert_int_equal(tr_addr_decode(a, &d), 0);
		if (d.server != a4(v->server) || d.client != a4(v->client) || d.port != v->port ||
		    d.flags != v->flags)
			fail_msg("%s: decoded %08x %08x %u %04x", v->what, d.server, d.client, d.port,
				 d.flags);
	}
}

static void test_vectors_encode(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		const struct vec *v = &vectors[i];
		uint8_t want[16], got[16];
		struct tr_addr_info in = {
			.server = a4(v->server), .flags = v->flags, .port = v->port, .client = a4(v->client),
		};

		a6(v->addr, want);
		memset(got, 0xaa, sizeof(got));
		tr_addr_encode(&in, got);
		if (memcmp(got, want, 16) != 0)
			fail_msg("%s: encode mismatch", v->what);
	}
}

/* The 16-byte hex column of §1.3, independent of inet_pton. */
static void test_vector_bytes(void **state)
{
	(void)state;
	static const uint8_t a_bytes[16] = {
		0x20, 0x01, 0x00, 0x00, 0xcb, 0x00, 0x71, 0x78, 0x14, 0xa5, 0xef, 0xff, 0x3f, 0xff, 0xfd, 0xfe,
	};
	struct tr_addr_info d;
	uint8_t out[16];

	assert_int_equal(tr_addr_decode(a_bytes, &d), 0);
	assert_int_equal(d.server, 0xcb007178);
	assert_int_equal(d.flags, 0x14a5);
	assert_int_equal(d.port, 4096);
	assert_int_equal(d.client, 0xc0000201);
	/* Random bits sit inside TR_FLAG_RANDOM_MASK; cone clear. */
	assert_int_equal(d.flags & ~TR_FLAG_RANDOM_MASK, 0);
	assert_int_equal(d.flags & TR_FLAG_CONE, 0);
	tr_addr_encode(&d, out);
	assert_memory_equal(out, a_bytes, 16);
}

/* All 32 prefix bits count: near misses are not Teredo (RFC 4380 §2.6). */
static void test_lookalikes(void **state)
{
	(void)state;
	static const char *const not_teredo[] = {
		"2001:db8::1", "2001:db8:cb00:7178:0:efff:3fff:fdfe", "3ffe:831f::1",
		"3ffe:831f:cb00:7178:0:efff:3fff:fdfe", "2001:1::1", "2001:100::1", "2000::1",
		"2002:c000:201::1", "2101::1", "::", "::ffff:192.0.2.1", "fe80::8000:f227:34ff:8e87",
		"ff02::1",
	};
	for (size_t i = 0; i < sizeof(not_teredo) / sizeof(not_teredo[0]); i++) {
		uint8_t a[16];
		struct tr_addr_info d = { .server = 0x11111111, .flags = 0x2222, .port = 0x3333,
					  .client = 0x44444444 };

		a6(not_teredo[i], a);
		if (tr_is_teredo(a))
			fail_msg("%s taken for Teredo", not_teredo[i]);
		assert_int_equal(tr_addr_decode(a, &d), -1);
		/* out untouched on failure */
		assert_int_equal(d.server, 0x11111111);
		assert_int_equal(d.flags, 0x2222);
		assert_int_equal(d.port, 0x3333);
		assert_int_equal(d.client, 0x44444444);
	}
	uint8_t a[16];

	a6("2001::", a);
	assert_true(tr_is_teredo(a));
	a6("2001:0:ffff:ffff:ffff:ffff:ffff:ffff", a);
	assert_true(tr_is_teredo(a));
}

/* Random round trips, all flag bits included. */
static void test_roundtrip_random(void **state)
{
	(void)state;
	srand(4380);
	for (int i = 0; i < 10000; i++) {
		struct tr_addr_info in = {
			.server = (uint32_t)rand() << 16 ^ (uint32_t)rand(),
			.flags = (uint16_t)rand(),
			.port = (uint16_t)rand(),
			.client = (uint32_t)rand() << 16 ^ (uint32_t)rand(),
		}, out;
		uint8_t a[16];

		tr_addr_encode(&in, a);
		assert_true(tr_is_teredo(a));
		assert_int_equal(tr_addr_decode(a, &out), 0);
		assert_memory_equal(&in, &out, sizeof(in));
	}
}

struct v4case {
	const char *ip;
	bool global;
};

/* RFC 4380 §5.2.4: each excluded range checked on both sides of both edges. */
static const struct v4case v4cases[] = {
	{ "0.0.0.0", false },         { "0.255.255.255", false },   { "1.0.0.0", true },
	{ "9.255.255.255", true },    { "10.0.0.0", false },        { "10.255.255.255", false },
	{ "11.0.0.0", true },
	{ "126.255.255.255", true },  { "127.0.0.0", false },       { "127.255.255.255", false },
	{ "128.0.0.0", true },
	{ "169.253.255.255", true },  { "169.254.0.0", false },     { "169.254.255.255", false },
	{ "169.255.0.0", true },
	{ "172.15.255.255", true },   { "172.16.0.0", false },      { "172.31.255.255", false },
	{ "172.32.0.0", true },
	{ "192.167.255.255", true },  { "192.168.0.0", false },     { "192.168.255.255", false },
	{ "192.169.0.0", true },
	{ "192.88.98.255", true },    { "192.88.99.0", false },     { "192.88.99.255", false },
	{ "192.88.100.0", true },
	{ "223.255.255.255", true },  { "224.0.0.0", false },       { "239.255.255.255", false },
	{ "240.0.0.0", true },
	{ "255.255.255.254", true },  { "255.255.255.255", false },
	/* Not in the RFC list, hence global (notes §1.2; Miredo test asserts 192.0.2.10). */
	{ "100.64.0.1", true },       { "240.0.0.1", true },        { "198.18.0.1", true },
	{ "192.0.2.10", true },       { "198.51.100.1", true },     { "203.0.113.120", true },
	{ "8.8.8.8", true },
};

static void test_ipv4_global(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(v4cases) / sizeof(v4cases[0]); i++)
		if (tr_ipv4_is_global(a4(v4cases[i].ip)) != v4cases[i].global)
			fail_msg("%s: expected %s", v4cases[i].ip,
				 v4cases[i].global ? "global" : "not global");
}

/* RFC 4380 §5.1.1 example: port 337, IPv4 1.2.3.4. */
static void test_origin_rfc_example(void **state)
{
	(void)state;
	static const uint8_t want[8] = { 0x00, 0x00, 0xfe, 0xae, 0xfe, 0xfd, 0xfc, 0xfb };
	uint8_t out[TR_ORIGIN_LEN];
	uint32_t ip = 0;
	uint16_t port = 0;

	memset(out, 0x55, sizeof(out));
	tr_origin_build(out, a4("1.2.3.4"), 337);
	assert_memory_equal(out, want, 8);
	assert_int_equal(tr_origin_parse(want, sizeof(want), &ip, &port), 0);
	assert_int_equal(ip, 0x01020304);
	assert_int_equal(port, 337);
}

/* Notes §2.8: the server-forwarded bubble, origin 198.51.100.1:3545. */
static void test_origin_worked_frame(void **state)
{
	(void)state;
	static const uint8_t want[8] = { 0x00, 0x00, 0xf2, 0x26, 0x39, 0xcc, 0x9b, 0xfe };
	uint8_t out[TR_ORIGIN_LEN];
	uint32_t ip;
	uint16_t port;

	tr_origin_build(out, a4("198.51.100.1"), 3545);
	assert_memory_equal(out, want, 8);
	/* A longer buffer (IPv6 follows) parses the same. */
	uint8_t longer[48] = { 0 };

	memcpy(longer, want, 8);
	longer[8] = 0x60;
	assert_int_equal(tr_origin_parse(longer, sizeof(longer), &ip, &port), 0);
	assert_int_equal(ip, 0xc6336401);
	assert_int_equal(port, 3545);
}

static void test_origin_parse_failures(void **state)
{
	(void)state;
	uint8_t ok[8] = { 0x00, 0x00, 0xfe, 0xae, 0xfe, 0xfd, 0xfc, 0xfb };
	uint32_t ip = 0x12345678;
	uint16_t port = 0x9abc;

	/* Short input: every length below 8, each from an exactly sized heap
	 * copy so ASan catches any over-read. */
	for (size_t len = 0; len < TR_ORIGIN_LEN; len++) {
		uint8_t *p = malloc(len ? len : 1);

		assert_non_null(p);
		memcpy(p, ok, len);
		assert_int_equal(tr_origin_parse(p, len, &ip, &port), -1);
		free(p);
	}
	assert_int_equal(tr_origin_parse(NULL, 8, &ip, &port), -1);
	/* Non-zero indicator type: an IPv6 header or an auth header (00 01). */
	uint8_t bad[8];

	memcpy(bad, ok, 8);
	bad[0] = 0x60;
	assert_int_equal(tr_origin_parse(bad, 8, &ip, &port), -1);
	memcpy(bad, ok, 8);
	bad[1] = 0x01;
	assert_int_equal(tr_origin_parse(bad, 8, &ip, &port), -1);
	memcpy(bad, ok, 8);
	bad[0] = 0x80;
	assert_int_equal(tr_origin_parse(bad, 8, &ip, &port), -1);
	/* Outputs untouched on failure. */
	assert_int_equal(ip, 0x12345678);
	assert_int_equal(port, 0x9abc);
}

static void test_origin_roundtrip(void **state)
{
	(void)state;
	srand(5911);
	for (int i = 0; i < 1000; i++) {
		uint32_t ip = (uint32_t)rand() << 16 ^ (uint32_t)rand(), ip2;
		uint16_t port = (uint16_t)rand(), port2;
		uint8_t o[TR_ORIGIN_LEN];

		tr_origin_build(o, ip, port);
		assert_int_equal(tr_origin_parse(o, sizeof(o), &ip2, &port2), 0);
		assert_int_equal(ip, ip2);
		assert_int_equal(port, port2);
	}
}

struct v6case {
	const char *ip;
	bool mcast, unspec, global;
};

static const struct v6case v6cases[] = {
	{ "::", false, true, false },
	{ "::1", false, false, false },                 /* loopback */
	{ "::2", false, false, false },                 /* IPv4-compatible ::/96 */
	{ "::192.0.2.1", false, false, false },
	{ "::ffff:192.0.2.1", false, false, false },    /* IPv4-mapped */
	{ "::ffff:0:0", false, false, false },
	{ "::fffe:c000:201", false, false, true },      /* neither /96 */
	{ "0:0:0:0:1::", false, false, true },
	{ "fe80::1", false, false, false },
	{ "febf:ffff::1", false, false, false },        /* last of fe80::/10 */
	{ "fec0::1", false, false, true },              /* just outside fe80::/10 */
	{ "fe7f::1", false, false, true },
	{ "ff02::1", true, false, false },
	{ "ff00::", true, false, false },
	{ "ff0e::1:2", true, false, false },
	{ "feff::1", false, false, true },
	{ "2001:db8::1", false, false, true },
	{ "2001:0:cb00:7178:0:efff:3fff:fdfe", false, false, true },
	{ "2a00:1450::1", false, false, true },
	{ "fc00::1", false, false, true },
};

static void test_ipv6_classes(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(v6cases) / sizeof(v6cases[0]); i++) {
		const struct v6case *c = &v6cases[i];
		uint8_t a[16];

		a6(c->ip, a);
		if (tr_ipv6_is_multicast(a) != c->mcast)
			fail_msg("%s: multicast", c->ip);
		if (tr_ipv6_is_unspecified(a) != c->unspec)
			fail_msg("%s: unspecified", c->ip);
		if (tr_ipv6_is_global_unicast(a) != c->global)
			fail_msg("%s: global unicast", c->ip);
	}
}

static bool match(const char *pfx, uint8_t len, const char *ip)
{
	struct tr_prefix6 p = { .len = len };
	uint8_t a[16];

	a6(pfx, p.addr);
	a6(ip, a);
	return tr_prefix6_match(&p, a);
}

static void test_prefix_match(void **state)
{
	(void)state;
	/* /0 matches everything */
	assert_true(match("::", 0, "::"));
	assert_true(match("::", 0, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
	assert_true(match("2001:db8::", 0, "fe80::1"));
	/* /32 */
	assert_true(match("2001:db8::", 32, "2001:db8::"));
	assert_true(match("2001:db8::", 32, "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"));
	assert_false(match("2001:db8::", 32, "2001:db9::"));
	assert_false(match("2001:db8::", 32, "2001:db7:ffff::"));
	/* /33: the bit after a byte boundary */
	assert_true(match("2001:db8::", 33, "2001:db8:7fff:ffff::"));
	assert_false(match("2001:db8::", 33, "2001:db8:8000::"));
	assert_true(match("2001:db8:8000::", 33, "2001:db8:ffff::1"));
	assert_false(match("2001:db8:8000::", 33, "2001:db8:7fff::1"));
	/* /127 */
	assert_true(match("2001:db8::", 127, "2001:db8::1"));
	assert_false(match("2001:db8::", 127, "2001:db8::2"));
	assert_false(match("2001:db8::", 127, "2001:db8::8000:0:0:0"));
	/* /128 exact */
	assert_true(match("2001:db8::1", 128, "2001:db8::1"));
	assert_false(match("2001:db8::1", 128, "2001:db8::"));
	assert_false(match("2001:db8::1", 128, "2001:db8::3"));
	assert_false(match("2001:db8::1", 128, "3001:db8::1"));
	/* Host bits set in the stored prefix are ignored. */
	assert_true(match("2001:db8::ffff", 32, "2001:db8::1"));
	/* Out-of-range length matches nothing and reads nothing past addr[16]. */
	assert_false(match("2001:db8::1", 129, "2001:db8::1"));
	assert_false(match("::", 255, "::"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors_decode),
		cmocka_unit_test(test_vectors_encode),
		cmocka_unit_test(test_vector_bytes),
		cmocka_unit_test(test_lookalikes),
		cmocka_unit_test(test_roundtrip_random),
		cmocka_unit_test(test_ipv4_global),
		cmocka_unit_test(test_origin_rfc_example),
		cmocka_unit_test(test_origin_worked_frame),
		cmocka_unit_test(test_origin_parse_failures),
		cmocka_unit_test(test_origin_roundtrip),
		cmocka_unit_test(test_ipv6_classes),
		cmocka_unit_test(test_prefix_match),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
