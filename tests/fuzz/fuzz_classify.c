/* SPDX-License-Identifier: BSD-3-Clause
 *
 * libFuzzer target for tr_classify(): the input is one Ethernet frame, as
 * the NIC would hand it over. Classified twice, with and without a served
 * prefix (RFC 4380 §5.4.2 filter on and off), against the notes §6 relay
 * identity so that seeds from the conformance frames reach deep paths.
 *
 * Besides ASan/UBSan (no read outside the frame, no UB), the verdict must
 * satisfy the contract of teredo.h; any violation aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "teredo.h"

/* The classifier is compiled into this translation unit so that it gets the
 * -fsanitize=fuzzer coverage instrumentation of the target: libteredo.a is
 * built without it, which would leave libFuzzer blind to every branch of
 * tr_classify. The archive's classify.o is then never pulled in (its only
 * external symbol is already defined here). The helpers it calls (addr.c,
 * cksum.c, neigh.c, build.c) still come from the library. */
#include "classify.c"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static const struct tr_prefix6 served = { { 0x20, 0x01, 0x0d, 0xb8 }, 32 };

static void check(const struct tr_relay_id *r, const uint8_t *d, size_t n,
		  const struct tr_classified *c)
{
	if ((unsigned)c->kind > TR_K_V4_FRAG)
		abort();
	if (c->kind == TR_K_DROP) {
		if (c->reason <= TR_DROP_NONE || c->reason >= TR_DROP_MAX)
			abort();
	} else if (c->reason != TR_DROP_NONE) {
		abort();
	}
	if ((unsigned)c->post_reason >= TR_DROP_MAX)
		abort();
	if (c->kind != TR_K_TEREDO && c->post_reason != TR_DROP_NONE)
		abort();
	if (c->kind == TR_K_TEREDO && c->bubble && c->post_reason != TR_DROP_NONE)
		abort();

	if (c->kind == TR_K_TEREDO || c->kind == TR_K_NATIVE) {
		if ((size_t)c->ip6_off + c->ip6_len > n || c->ip6_len < TR_IPV6_HLEN)
			abort();
		/* What the caller forwards is an IPv6 packet of exactly that size. */
		const uint8_t *ip6 = d + c->ip6_off;
		if ((ip6[0] >> 4) != 6 || c->ip6_len != TR_IPV6_HLEN + (ip6[4] << 8 | ip6[5]))
			abort();
	}
	if (c->kind == TR_K_NATIVE && c->ip6_len > (r->mtu ? r->mtu : TR_MTU_DEFAULT))
		abort();

	if (c->icmp_type > 3)
		abort();
	if (c->icmp_type != 0) {
		/* An ICMPv6 error quotes the invoking packet: it must be there. */
		if ((size_t)c->ip6_off + c->ip6_len > n || c->ip6_len < TR_IPV6_HLEN)
			abort();
		/* RFC 4443 §2.4(e): never to multicast/unspecified, never about
		 * a multicast destination. */
		const uint8_t *ip6 = d + c->ip6_off;
		if (tr_ipv6_is_multicast(ip6 + 8) || tr_ipv6_is_unspecified(ip6 + 8) ||
		    tr_ipv6_is_multicast(ip6 + 24))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct tr_relay_id r = {
		.ipv4 = 0xc6336401u,            /* 198.51.100.1 */
		.port = 3545,
		.ipv6 = { 0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, [15] = 0x01 },
		.mtu = TR_MTU_DEFAULT,
		.served = NULL,
		.n_served = 0,
	};
	struct tr_classified c0, c1;

	/* Fresh heap copy of exactly n bytes: libFuzzer's buffer is already
	 * exact, this also guards against the classifier writing to it. */
	uint8_t *frame = malloc(n ? n : 1);
	if (frame == NULL)
		return 0;
	if (n)
		memcpy(frame, d, n);

	tr_classify(&r, frame, n, &c0);
	check(&r, frame, n, &c0);

	r.served = &served;
	r.n_served = 1;
	tr_classify(&r, frame, n, &c1);
	check(&r, frame, n, &c1);

	/* The served-prefix filter only ever changes post_reason. */
	if (c0.kind != c1.kind || c0.reason != c1.reason || c0.ip6_off != c1.ip6_off ||
	    c0.ip6_len != c1.ip6_len)
		abort();
	if (c1.post_reason != c0.post_reason &&
	    !(c0.post_reason == TR_DROP_NONE && c1.post_reason == TR_DROP_RX_DST_NOT_SERVED) &&
	    !(c0.post_reason == TR_DROP_RX_HOP_LIMIT && c1.post_reason == TR_DROP_RX_DST_NOT_SERVED))
		abort();

	if (n && memcmp(frame, d, n) != 0)
		abort();
	free(frame);
	return 0;
}
