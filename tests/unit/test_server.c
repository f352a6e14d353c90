/* SPDX-License-Identifier: BSD-3-Clause
 * The Teredo server's rules (lib/teredo/server.c): the notes' worked RS/RA
 * pair byte for byte, RFC 4861 §6.1.1 checks, the cone-bit reply address,
 * §5.3.1 acceptance and forwarding. P = 203.0.113.120, S = .121,
 * C = 192.0.2.1 as in teredo-server-notes.md §8. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "server.h"
#include "teredo.h"

#define P 0xcb007178u
#define S 0xcb007179u
#define C 0xc0000201u

static const uint8_t R[16] = { 0xfe, 0x80, [8] = 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t K[16] = { 0xfe, 0x80, [8] = 0x80, 0, 0x54, 0x45, 0x52, 0x45, 0x44, 0x4f };
static const uint8_t X[16] = { 0xfe, 0x80, [10] = 0x54, 0x45, 0x52, 0x45, 0x44, 0x4f };
static const uint8_t FF02_2[16] = { 0xff, 0x02, [15] = 2 };
static const uint8_t N[8] = { 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef };

/* notes §2.5: the RS as captured (IPv4 packet, 89 bytes) */
static const uint8_t rs_cap[89] = {
	0x45, 0x00, 0x00, 0x59, 0xb0, 0x9d, 0x00, 0x00, 0x3f, 0x11, 0xcc, 0x7c, 0xc0, 0x00, 0x02, 0x01,
	0xcb, 0x00, 0x71, 0x78, 0x10, 0x00, 0x0d, 0xd8, 0x00, 0x45, 0xe3, 0x47,
	0x00, 0x01, 0x00, 0x00, 0x5d, 0xab, 0x01, 0x30, 0x55, 0x5f, 0x85, 0xf3, 0x00,
	0x60, 0x00, 0x00, 0x00, 0x00, 0x08, 0x3a, 0xff,
	0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02,
	0x85, 0x00, 0x7d, 0x37, 0x00, 0x00, 0x00, 0x00,
};

/* ... and the RA Miredo sent back (145 bytes) */
static const uint8_t ra_cap[145] = {
	0x45, 0x00, 0x00, 0x91, 0x05, 0xe0, 0x00, 0x00, 0x40, 0x11, 0x76, 0x02, 0xcb, 0x00, 0x71, 0x78,
	0xc0, 0x00, 0x02, 0x01, 0x0d, 0xd8, 0x10, 0x00, 0x00, 0x7d, 0xe4, 0xa9,
	0x00, 0x01, 0x00, 0x00, 0x5d, 0xab, 0x01, 0x30, 0x55, 0x5f, 0x85, 0xf3, 0x00,
	0x00, 0x00, 0xef, 0xff, 0x3f, 0xff, 0xfd, 0xfe,
	0x60, 0x00, 0x00, 0x00, 0x00, 0x38, 0x3a, 0xff,
	0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x80, 0x00, 0xf2, 0x27, 0x34, 0xff, 0x8e, 0x87,
	0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0x86, 0x00, 0x95, 0x4c, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x07, 0xd0,
	0x03, 0x04, 0x40, 0x40, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0,
	0x20, 0x01, 0x00, 0x00, 0xcb, 0x00, 0x71, 0x78, 0, 0, 0, 0, 0, 0, 0, 0,
	0x05, 0x01, 0x00, 0x00, 0x00, 0x00, 0x05, 0x00,
};

static struct tr_server_id sid;
static bool seen[TR_DROP_MAX];

static int setup(void **state)
{
	(void)state;
	tr_server_id_init(&sid, P, S, 1280);
	return 0;
}

/* An RS payload: [auth N][IPv6 src -> dst, hop][RS code][opts]; csum right
 * unless bad_csum. Returns the UDP payload length. */
static size_t rs(uint8_t *out, bool auth, const uint8_t src[16], const uint8_t dst[16], uint8_t hop,
		 uint8_t code, const uint8_t *opts, size_t olen, bool bad_csum)
{
	size_t o = 0;

	if (auth) {
		static const uint8_t a[4] = { 0, 1, 0, 0 };
		memcpy(out, a, 4);
		memcpy(out + 4, N, 8);
		out[12] = 0;
		o = 13;
	}
	uint8_t *ip6 = out + o;
	size_t ilen = 8 + olen;

	memset(ip6, 0, 48);
	ip6[0] = 0x60;
	ip6[5] = (uint8_t)ilen;
	ip6[6] = 58;
	ip6[7] = hop;
	memcpy(ip6 + 8, src, 16);
	memcpy(ip6 + 24, dst, 16);
	ip6[40] = 133;
	ip6[41] = code;
	if (olen)
		memcpy(ip6 + 48, opts, olen);
	uint16_t ck = tr_ipv6_l4_cksum(src, dst, 58, ip6 + 40, ilen);
	if (bad_csum)
		ck ^= 0x0100;
	memcpy(ip6 + 42, &ck, 2);
	return o + 40 + ilen;
}

static void worked_pair_byte_identical(void **state)
{
	uint8_t frame[14 + 89];
	struct tr_srv_verdict v;
	uint16_t pl_off;

	(void)state;
	memset(frame, 0, 14);
	frame[12] = 0x08;
	memcpy(frame + 14, rs_cap, sizeof(rs_cap));
	tr_server_classify(&sid, frame, sizeof(frame), 0, &v, &pl_off);
	assert_int_equal(v.action, TR_SRV_RA);
	assert_int_equal(pl_off, 14 + 28);
	assert_true(v.has_auth);
	assert_false(v.from_secondary);
	assert_int_equal(v.dst_ip, C);
	assert_int_equal(v.dst_port, 4096);

	struct tr_ra_tmpl t;
	uint8_t out[145];

	tr_ra_tmpl_init(&t, &sid);
	size_t n = tr_ra_write(&t, out + 28, v.nonce, v.dst_ip, v.dst_port, frame + v.ip6_off + 8);
	assert_int_equal(n, 117);
	assert_int_equal(tr_server_write_udp4(out, P, v.dst_ip, v.dst_port, 0x05e0, 64, n), 28);
	assert_memory_equal(out, ra_cap, sizeof(ra_cap));
}

static void lladdr_and_ra_checksums(void **state)
{
	static const uint8_t L[16] = { 0xfe, 0x80, [8] = 0x80, 0, 0xf2, 0x27, 0x34, 0xff, 0x8e, 0x87 };
	struct tr_ra_tmpl t;
	uint8_t out[117];

	(void)state;
	assert_memory_equal(sid.lladdr, L, 16);
	tr_ra_tmpl_init(&t, &sid);
	/* notes §2.4: 0x954c to R, 0x2a72 to K, 0xaa72 to X */
	const uint8_t *dsts[3] = { R, K, X };
	const uint8_t want[3][2] = { { 0x95, 0x4c }, { 0x2a, 0x72 }, { 0xaa, 0x72 } };
	for (int i = 0; i < 3; i++) {
		assert_int_equal(tr_ra_write(&t, out, N, C, 4096, dsts[i]), 117);
		assert_memory_equal(out + 13 + 8 + 42, want[i], 2);
		/* and the sum checks from scratch */
		assert_int_equal(tr_ipv6_l4_cksum(out + 29, out + 45, 58, out + 61, 56), 0);
	}
	/* no nonce: no auth header, 104 bytes, starts with the origin */
	assert_int_equal(tr_ra_write(&t, out, NULL, C, 4096, R), 104);
	static const uint8_t origin[8] = { 0, 0, 0xef, 0xff, 0x3f, 0xff, 0xfd, 0xfe };
	assert_memory_equal(out, origin, 8);
	/* the MTU option follows the configured MTU */
	struct tr_server_id s2;
	tr_server_id_init(&s2, P, S, 1400);
	tr_ra_tmpl_init(&t, &s2);
	assert_int_equal(tr_ra_write(&t, out, NULL, C, 4096, R), 104);
	assert_int_equal(out[104 - 2] << 8 | out[104 - 1], 1400);
	assert_int_equal(tr_ipv6_l4_cksum(out + 16, out + 32, 58, out + 48, 56), 0);
}

static void cone_truth_table(void **state)
{
	uint8_t pl[128];
	struct tr_srv_verdict v;
	size_t n;

	(void)state;
	/* RFC 4380 §5.3.2 / RFC 5991 §3.2: secondary = rx_on_S XOR cone */
	n = rs(pl, true, R, FF02_2, 255, 0, NULL, 0, false);
	tr_server_process(&sid, false, C, 4096, pl, n, &v);
	assert_int_equal(v.action, TR_SRV_RA);
	assert_false(v.from_secondary);                          /* S01 */
	tr_server_process(&sid, true, C, 4096, pl, n, &v);
	assert_true(v.from_secondary);                           /* S03 */
	n = rs(pl, true, K, FF02_2, 255, 0, NULL, 0, false);
	tr_server_process(&sid, false, C, 4096, pl, n, &v);
	assert_int_equal(v.action, TR_SRV_RA);
	assert_true(v.from_secondary);                           /* S02 */
	tr_server_process(&sid, true, C, 4096, pl, n, &v);
	assert_false(v.from_secondary);                          /* S04 */
	n = rs(pl, true, X, FF02_2, 255, 0, NULL, 0, false);
	tr_server_process(&sid, false, C, 4096, pl, n, &v);
	assert_int_equal(v.action, TR_SRV_RA);
	assert_false(v.from_secondary);                          /* S05 */
}

static void rs_variants_accepted(void **state)
{
	uint8_t pl[160];
	struct tr_srv_verdict v;
	size_t n;

	(void)state;
	/* S06: XP's 16-byte SLLA option (plen 24) is ignored */
	static const uint8_t slla[16] = { 1, 2 };
	n = rs(pl, true, X, FF02_2, 255, 0, slla, 16, false);
	tr_server_process(&sid, false, C, 4096, pl, n, &v);
	assert_int_equal(v.action, TR_SRV_RA);
	/* S07: no auth -> no nonce to echo */
	n = rs(pl, false, R, FF02_2, 255, 0, NULL, 0, false);
	tr_server_process(&sid, false, C, 4096, pl, n, &v);
	assert_int_equal(v.action, TR_SRV_RA);
	assert_false(v.has_auth);
	/* S08: ID-len 4, AU-len 20: the nonce after them is echoed */
	uint8_t big[200] = { 0, 1, 4, 20 };
	memcpy(big + 4 + 24, N, 8);
	big[4 + 24 + 8] = 1;                                     /* S09: conf 1 ignored */
	n = rs(big + 37, false, R, FF02_2, 255, 0, NULL, 0, false);
	tr_server_process(&sid, false, C, 4096, big, 37 + n, &v);
	assert_int_equal(v.action, TR_SRV_RA);
	assert_true(v.has_auth);
	assert_memory_equal(v.nonce, N, 8);
	/* S16: RFC 6081 nonce trailer tolerated */
	n = rs(pl, true, R, FF02_2, 255, 0, NULL, 0, false);
	static const uint8_t tr[6] = { 1, 4, 0xaa, 0xbb, 0xcc, 0xdd };
	memcpy(pl + n, tr, 6);
	tr_server_process(&sid, false, C, 4096, pl, n + 6, &v);
	assert_int_equal(v.action, TR_SRV_RA);
	assert_int_equal(v.ip6_len, 48);
	/* S22: global Teredo source matching the mapping, cone flag -> from S */
	uint8_t tsrc[16];
	struct tr_addr_info ai = { .server = P, .flags = 0x8000, .port = 5071, .client = C };
	tr_addr_encode(&ai, tsrc);
	n = rs(pl, true, tsrc, FF02_2, 255, 0, NULL, 0, false);
	tr_server_process(&sid, false, C, 5071, pl, n, &v);
	assert_int_equal(v.action, TR_SRV_RA);
	assert_true(v.from_secondary);
	assert_int_equal(v.dst_port, 5071);
}

static void expect_drop(const uint8_t *pl, size_t n, uint32_t ip, uint16_t port, bool on_s,
			enum tr_drop_reason why)
{
	struct tr_srv_verdict v;

	tr_server_process(&sid, on_s, ip, port, pl, n, &v);
	assert_int_equal(v.action, TR_SRV_DROP);
	seen[v.reason] = true;
	assert_string_equal(tr_drop_name(v.reason), tr_drop_name(why));
}

static void rs_rejected(void **state)
{
	uint8_t pl[160];
	size_t n;
	static const uint8_t L[16] = { 0xfe, 0x80, [8] = 0x80, 0, 0xf2, 0x27, 0x34, 0xff, 0x8e, 0x87 };
	static const uint8_t db8[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };

	(void)state;
	n = rs(pl, true, R, FF02_2, 64, 0, NULL, 0, false);                  /* S10 */
	expect_drop(pl, n, C, 4096, false, TR_DROP_SRV_RS_HOP_LIMIT);
	n = rs(pl, true, R, FF02_2, 255, 0, NULL, 0, true);                  /* S11 */
	expect_drop(pl, n, C, 4096, false, TR_DROP_SRV_RS_CSUM);
	n = rs(pl, true, R, FF02_2, 255, 1, NULL, 0, false);                 /* S12 */
	expect_drop(pl, n, C, 4096, false, TR_DROP_SRV_RS_CODE);
	n = rs(pl, true, R, FF02_2, 255, 0, NULL, 0, false);                 /* S13: plen 4 */
	pl[13 + 5] = 4;
	expect_drop(pl, n - 4, C, 4096, false, TR_DROP_SRV_RS_SHORT);
	static const uint8_t zero_opt[8] = { 1, 0 };
	n = rs(pl, true, R, FF02_2, 255, 0, zero_opt, 8, false);             /* option length 0 */
	expect_drop(pl, n, C, 4096, false, TR_DROP_SRV_RS_BAD_OPTION);
	static const uint8_t long_opt[8] = { 1, 2 };
	n = rs(pl, true, R, FF02_2, 255, 0, long_opt, 8, false);             /* option overruns */
	expect_drop(pl, n, C, 4096, false, TR_DROP_SRV_RS_BAD_OPTION);
	n = rs(pl, true, db8, FF02_2, 255, 0, NULL, 0, false);               /* S14 */
	expect_drop(pl, n, C, 4096, false, TR_DROP_SRV_NOT_SERVED);
	n = rs(pl, true, R, L, 255, 0, NULL, 0, false);                      /* S15 */
	expect_drop(pl, n, C, 4096, false, TR_DROP_SRV_NOT_SERVED);
	n = rs(pl, true, R, FF02_2, 255, 0, NULL, 0, false);
	expect_drop(pl, n, 0x0a000001u, 4096, false, TR_DROP_SRV_SRC_NOT_GLOBAL); /* S17 */
	expect_drop(pl, n, S, 3544, false, TR_DROP_SRV_LOOP);                /* S18 */
	expect_drop(pl, n, P, 3544, true, TR_DROP_SRV_LOOP);
	expect_drop(pl, 30, C, 4096, false, TR_DROP_SRV_BAD_IPV6);           /* S19 */
	pl[13] = 0x40;                                                        /* S20 */
	expect_drop(pl, n, C, 4096, false, TR_DROP_SRV_BAD_IPV6);
	pl[13] = 0x60;
	pl[13 + 5] = 9;                                                       /* S21 */
	expect_drop(pl, n, C, 4096, false, TR_DROP_SRV_BAD_IPV6);
	expect_drop(pl, 10, C, 4096, false, TR_DROP_SRV_BAD_ENCAP);          /* auth cut short */
	n = rs(pl, true, R, FF02_2, 255, 0, NULL, 0, false);                 /* S38: an RA */
	pl[13 + 40] = 134;
	expect_drop(pl, n, C, 4096, false, TR_DROP_SRV_NOT_SERVED);
}

static size_t pkt(uint8_t *out, const uint8_t src[16], const uint8_t dst[16], uint8_t nh,
		  uint8_t icmp_type, size_t plen)
{
	memset(out, 0, 40 + plen);
	out[0] = 0x60;
	out[4] = (uint8_t)(plen >> 8);
	out[5] = (uint8_t)plen;
	out[6] = nh;
	out[7] = 64;
	memcpy(out + 8, src, 16);
	memcpy(out + 24, dst, 16);
	if (plen >= 8) {
		out[40] = icmp_type;
		uint16_t ck = tr_ipv6_l4_cksum(src, dst, nh, out + 40, plen);
		if (nh == 58)
			memcpy(out + 42, &ck, 2);
	}
	return 40 + plen;
}

static void teredo_of(uint8_t a[16], uint32_t server, uint32_t client, uint16_t port)
{
	struct tr_addr_info ai = { .server = server, .port = port, .client = client };
	tr_addr_encode(&ai, a);
}

static void forwarding(void **state)
{
	uint8_t p[256], s[16], d[16];
	struct tr_srv_verdict v;
	size_t n;
	static const uint8_t native[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 1, [15] = 2 };
	static const uint8_t ll[16] = { 0xfe, 0x80, [8] = 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0 };
	static const uint8_t mc[16] = { 0xff, 0x0e, [15] = 1 };

	(void)state;
	/* S23: served bubble -> C:5021 with origin */
	teredo_of(s, P, C, 5020);
	teredo_of(d, P, C, 5021);
	n = pkt(p, s, d, 59, 0, 0);
	tr_server_process(&sid, false, C, 5020, p, n, &v);
	assert_int_equal(v.action, TR_SRV_FWD_TEREDO);
	assert_int_equal(v.dst_ip, C);
	assert_int_equal(v.dst_port, 5021);
	assert_true(v.add_origin);
	/* S40: the same received on S is forwarded the same way (from P) */
	tr_server_process(&sid, true, C, 5020, p, n, &v);
	assert_int_equal(v.action, TR_SRV_FWD_TEREDO);
	/* S27: trailer kept */
	static const uint8_t tr[6] = { 1, 4, 0xaa, 0xbb, 0xcc, 0xdd };
	memcpy(p + n, tr, 6);
	tr_server_process(&sid, false, C, 5020, p, n + 6, &v);
	assert_int_equal(v.action, TR_SRV_FWD_TEREDO);
	assert_int_equal(v.fwd_len, 46);
	/* S24: other server's client: no origin */
	teredo_of(d, 0xc6336476u, C, 5023);
	n = pkt(p, s, d, 59, 0, 0);
	tr_server_process(&sid, false, C, 5020, p, n, &v);
	assert_int_equal(v.action, TR_SRV_FWD_TEREDO);
	assert_false(v.add_origin);
	/* S25: mapping mismatch */
	teredo_of(d, P, C, 5025);
	n = pkt(p, s, d, 59, 0, 0);
	expect_drop(p, n, C, 5024, false, TR_DROP_SRV_MAPPING_MISMATCH);
	/* S28: destination embeds 10.0.0.5 */
	teredo_of(d, P, 0x0a000005u, 5031);
	n = pkt(p, s, d, 59, 0, 0);
	expect_drop(p, n, C, 5020, false, TR_DROP_SRV_DST_V4_NOT_GLOBAL);
	/* S41: destination embeds P:3544 */
	teredo_of(d, P, P, 3544);
	n = pkt(p, ll, d, 59, 0, 0);
	expect_drop(p, n, C, 5020, false, TR_DROP_SRV_TX_LOOP);
	/* S29: link-local source, served destination -> forwarded with origin */
	teredo_of(d, P, C, 5033);
	n = pkt(p, ll, d, 59, 0, 0);
	tr_server_process(&sid, false, C, 5032, p, n, &v);
	assert_int_equal(v.action, TR_SRV_FWD_TEREDO);
	assert_true(v.add_origin);
	/* S30 / S31: native source to served / other server's client */
	n = pkt(p, native, d, 58, 128, 16);
	tr_server_process(&sid, false, C, 5032, p, n, &v);
	assert_int_equal(v.action, TR_SRV_FWD_TEREDO);
	teredo_of(d, 0xc6336476u, C, 5037);
	n = pkt(p, native, d, 58, 128, 16);
	expect_drop(p, n, C, 5032, false, TR_DROP_SRV_NOT_SERVED);
	/* S32 / S33 / S39: client echo to native */
	teredo_of(s, P, C, 4096);
	n = pkt(p, s, native, 58, 128, 26);
	tr_server_process(&sid, false, C, 4096, p, n, &v);
	assert_int_equal(v.action, TR_SRV_FWD_NATIVE);
	n = pkt(p, s, native, 58, 128, 89);
	tr_server_process(&sid, true, C, 4096, p, n, &v);
	assert_int_equal(v.action, TR_SRV_FWD_NATIVE);
	/* S35: UDP to native */
	n = pkt(p, s, native, 17, 0, 16);
	expect_drop(p, n, C, 4096, false, TR_DROP_SRV_NOT_ICMP6);
	/* S36: multicast */
	n = pkt(p, s, mc, 58, 128, 16);
	expect_drop(p, n, C, 4096, false, TR_DROP_SRV_DST_NOT_GLOBAL);
	/* other ICMPv6 (a destination unreachable) is not relayed */
	n = pkt(p, s, native, 58, 1, 16);
	expect_drop(p, n, C, 4096, false, TR_DROP_SRV_FWD_TYPE);
	/* a bubble to native */
	n = pkt(p, s, native, 59, 0, 0);
	expect_drop(p, n, C, 4096, false, TR_DROP_SRV_FWD_TYPE);
	/* S37: echo to the server link-local is answered */
	n = pkt(p, s, sid.lladdr, 58, 128, 16);
	tr_server_process(&sid, false, C, 4096, p, n, &v);
	assert_int_equal(v.action, TR_SRV_ECHO_REPLY);
	uint8_t r[256];
	assert_int_equal(tr_server_echo_reply(&sid, r, p, n), n);
	assert_int_equal(r[40], 129);
	assert_memory_equal(r + 8, sid.lladdr, 16);
	assert_memory_equal(r + 24, s, 16);
	assert_int_equal(tr_ipv6_l4_cksum(r + 8, r + 24, 58, r + 40, n - 40), 0);
	/* other ICMPv6 to the link-local */
	n = pkt(p, s, sid.lladdr, 58, 1, 16);
	expect_drop(p, n, C, 4096, false, TR_DROP_SRV_LOCAL_UNHANDLED);
}

static void owner_dispatch(void **state)
{
	uint8_t f[14 + 89];

	(void)state;
	memset(f, 0, 14);
	f[12] = 0x08;
	memcpy(f + 14, rs_cap, sizeof(rs_cap));
	assert_int_equal(tr_server_owns(&sid, f, sizeof(f)), TR_SRV_ON_PRIMARY);
	f[14 + 19] = 0x79;
	assert_int_equal(tr_server_owns(&sid, f, sizeof(f)), TR_SRV_ON_SECONDARY);
	f[14 + 23] = 0xd9;                                   /* port 3545: not ours */
	assert_int_equal(tr_server_owns(&sid, f, sizeof(f)), TR_SRV_NOT_OURS);
	f[14 + 23] = 0xd8;
	f[14 + 19] = 0x7a;                                   /* .122: not ours */
	assert_int_equal(tr_server_owns(&sid, f, sizeof(f)), TR_SRV_NOT_OURS);
	f[14 + 19] = 0x78;
	f[12] = 0x86;
	f[13] = 0xdd;
	assert_int_equal(tr_server_owns(&sid, f, sizeof(f)), TR_SRV_NOT_OURS);
	assert_int_equal(tr_server_owns(&sid, f, 20), TR_SRV_NOT_OURS);
	/* bad IPv4 checksum and bad UDP checksum */
	struct tr_srv_verdict v;
	uint16_t off;
	f[12] = 0x08;
	f[13] = 0;
	f[14 + 10] ^= 1;
	tr_server_classify(&sid, f, sizeof(f), 0, &v, &off);
	assert_int_equal(v.reason, TR_DROP_SRV_V4_BAD);
	seen[v.reason] = true;
	tr_server_classify(&sid, f, sizeof(f), TR_HW_IPV4_CKSUM_GOOD, &v, &off);
	assert_int_equal(v.action, TR_SRV_RA);
	f[14 + 10] ^= 1;
	f[14 + 27] ^= 1;
	tr_server_classify(&sid, f, sizeof(f), 0, &v, &off);
	assert_int_equal(v.reason, TR_DROP_SRV_BAD_UDP);
	seen[v.reason] = true;
	f[14 + 27] ^= 1;
	f[14 + 6] = 0x20;                                    /* MF */
	tr_server_classify(&sid, f, sizeof(f), TR_HW_IPV4_CKSUM_GOOD, &v, &off);
	assert_int_equal(v.reason, TR_DROP_SRV_FRAGMENT);
	seen[v.reason] = true;
}

/* Must run last: every srv_ reason of drop_reasons.def is returned by a
 * test above, but for the one the worker decides (no native next hop). */
static void every_server_reason_covered(void **state)
{
	static const struct {
		enum tr_drop_reason id;
		const char *name;
	} all[] = {
#define TR_DROP(id, name, help) { TR_DROP_##id, #id },
#include "drop_reasons.def"
#undef TR_DROP
	};
	unsigned n = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (strncmp(all[i].name, "SRV_", 4) != 0)
			continue;
		n++;
		if (all[i].id == TR_DROP_SRV_NO_NATIVE || all[i].id == TR_DROP_SRV_RELAY_OFF ||
		    all[i].id == TR_DROP_SRV_RS_RATELIMITED || all[i].id == TR_DROP_SRV_FWD_RATELIMITED)
			continue;       /* decided by the worker: tests/server */
		if (!seen[all[i].id])
			fail_msg("%s is not returned by any server test", all[i].name);
	}
	assert_int_equal(n, 24);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(worked_pair_byte_identical, setup),
		cmocka_unit_test_setup(lladdr_and_ra_checksums, setup),
		cmocka_unit_test_setup(cone_truth_table, setup),
		cmocka_unit_test_setup(rs_variants_accepted, setup),
		cmocka_unit_test_setup(rs_rejected, setup),
		cmocka_unit_test_setup(forwarding, setup),
		cmocka_unit_test_setup(owner_dispatch, setup),
		cmocka_unit_test_setup(every_server_reason_covered, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
