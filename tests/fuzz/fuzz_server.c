/* SPDX-License-Identifier: BSD-3-Clause
 *
 * libFuzzer target for the Teredo server's rules (lib/teredo/server.c): the
 * input is one Ethernet frame. Classified as received on P and, with the
 * destination rewritten, on S; every verdict is then turned into the bytes
 * the worker would send (RA, echo reply), which must carry valid checksums.
 * Besides ASan/UBSan, any violation of the server.h contract aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "teredo.h"
/* Compiled in for the target's coverage instrumentation (see fuzz_classify.c). */
#include "server.c"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static void one(const struct tr_server_id *s, const uint8_t *d, size_t n, unsigned hw)
{
	struct tr_srv_verdict v;
	uint16_t pl_off;

	if (tr_server_owns(s, d, n) == TR_SRV_NOT_OURS)
		return;
	tr_server_classify(s, d, n, hw, &v, &pl_off);
	if (v.action == TR_SRV_DROP) {
		if (v.reason <= TR_DROP_NONE || v.reason >= TR_DROP_MAX)
			abort();
		return;
	}
	if (v.reason != TR_DROP_NONE || v.action > TR_SRV_ECHO_REPLY)
		abort();
	/* The IPv6 packet lies inside the frame and is exactly 40 + plen. */
	const uint8_t *ip6 = d + v.ip6_off;
	if ((size_t)v.ip6_off + v.ip6_len > n || v.ip6_len < TR_IPV6_HLEN || v.fwd_len < v.ip6_len ||
	    (size_t)v.ip6_off + v.fwd_len > n || (ip6[0] >> 4) != 6 ||
	    v.ip6_len != TR_IPV6_HLEN + (ip6[4] << 8 | ip6[5]))
		abort();
	if (!tr_ipv4_is_global(v.dst_ip) && v.action != TR_SRV_FWD_NATIVE)
		abort();                            /* RFC 4380 §5.3.1 / §5.3.2 MUST */
	if (v.action == TR_SRV_FWD_TEREDO &&
	    (v.dst_ip == s->primary || v.dst_ip == s->secondary || v.dst_port == 0))
		abort();                            /* loop guard on transmit */
	if (v.action == TR_SRV_RA) {
		struct tr_ra_tmpl t;
		uint8_t out[TR_ENCAP_HLEN + TR_SRV_RA_AUTH_LEN];

		tr_ra_tmpl_init(&t, s);
		size_t k = tr_ra_write(&t, out + TR_ENCAP_HLEN, v.has_auth ? v.nonce : NULL, v.dst_ip,
				       v.dst_port, ip6 + 8);
		if (k != (v.has_auth ? TR_SRV_RA_AUTH_LEN : TR_SRV_RA_LEN))
			abort();
		tr_server_write_udp4(out, v.from_secondary ? s->secondary : s->primary, v.dst_ip,
				     v.dst_port, 1, 64, k);
		const uint8_t *r6 = out + TR_ENCAP_HLEN + k - 96;
		if (tr_ipv4_hdr_cksum(out, TR_IPV4_HLEN) != 0 ||
		    !tr_udp4_cksum_ok(out, out + TR_IPV4_HLEN, TR_UDP_HLEN + k) ||
		    tr_ipv6_l4_cksum(r6 + 8, r6 + 24, TR_NH_ICMPV6, r6 + 40, 56) != 0)
			abort();
	}
	if (v.action == TR_SRV_ECHO_REPLY && v.ip6_len <= TR_MTU_DEFAULT) {
		uint8_t out[TR_MTU_DEFAULT];

		tr_server_echo_reply(s, out, ip6, v.ip6_len);
		if (tr_ipv6_l4_cksum(out + 8, out + 24, TR_NH_ICMPV6, out + 40, v.ip6_len - 40) != 0)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static struct tr_server_id s;
	static int init;

	if (!init) {
		tr_server_id_init(&s, 0xcb007178u, 0xcb007179u, 1280);   /* notes §8 */
		init = 1;
	}
	one(&s, d, n, 0);
	one(&s, d, n, TR_HW_IPV4_CKSUM_GOOD | TR_HW_L4_CKSUM_GOOD);
	/* The same frame received on S. */
	if (n >= TR_ETH_HLEN + TR_IPV4_HLEN && n <= 4096) {
		uint8_t b[4096];

		memcpy(b, d, n);
		b[TR_ETH_HLEN + 19] ^= 0x01;            /* .120 <-> .121 */
		one(&s, b, n, TR_HW_IPV4_CKSUM_GOOD | TR_HW_L4_CKSUM_GOOD);
	}
	return 0;
}
