/* SPDX-License-Identifier: BSD-3-Clause */
#include "policy.h"
#include "teredo.h"

static void refill(struct tr_bucket *b, uint64_t now_ms, uint32_t rate, uint32_t burst)
{
	const uint64_t cap = (uint64_t)burst * 1000;

	if (!b->primed) {
		b->mtokens = cap;
		b->last_ms = now_ms;
		b->primed = true;
		return;
	}
	if (now_ms > b->last_ms) {
		/* rate tokens per 1000 ms = rate milli-tokens per ms */
		uint64_t add = (now_ms - b->last_ms) * rate;

		b->mtokens = b->mtokens + add > cap ? cap : b->mtokens + add;
		b->last_ms = now_ms;
	}
}

bool tr_bucket_peek(struct tr_bucket *b, uint64_t now_ms, uint32_t rate, uint32_t burst)
{
	refill(b, now_ms, rate, burst);
	return b->mtokens >= 1000;
}

bool tr_bucket_take(struct tr_bucket *b, uint64_t now_ms, uint32_t rate, uint32_t burst)
{
	if (!tr_bucket_peek(b, now_ms, rate, burst))
		return false;
	b->mtokens -= 1000;
	return true;
}

bool tr_icmp6_error_allowed(const uint8_t *ip6, size_t len)
{
	if (len < TR_IPV6_HLEN)
		return false;
	if (tr_ipv6_is_multicast(ip6 + 8) || tr_ipv6_is_unspecified(ip6 + 8) ||
	    tr_ipv6_is_multicast(ip6 + 24))
		return false;
	/* ICMPv6 error messages are types 0..127 (RFC 4443 §2.1). */
	if (ip6[6] == TR_NH_ICMPV6 && (len < TR_IPV6_HLEN + 1 || ip6[TR_IPV6_HLEN] < 128))
		return false;
	return true;
}
