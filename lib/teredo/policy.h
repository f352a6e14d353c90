/* SPDX-License-Identifier: BSD-3-Clause
 *
 * Pure decisions the control lcore takes: rate limits and whether an ICMPv6
 * error may be sent. Functions of their inputs and the time only, so they
 * are unit-tested without EAL or real time passing.
 */
#ifndef TEREDO_POLICY_H
#define TEREDO_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Token bucket in milli-tokens; rate per second, burst in tokens. */
struct tr_bucket {
	uint64_t mtokens;
	uint64_t last_ms;
	bool primed;
};

/* Refill to now and take one token if there is one. */
bool tr_bucket_take(struct tr_bucket *b, uint64_t now_ms, uint32_t rate, uint32_t burst);
/* Refill to now; true if a token is there (nothing taken). */
bool tr_bucket_peek(struct tr_bucket *b, uint64_t now_ms, uint32_t rate, uint32_t burst);

/* RFC 4443 §2.4(e): no error about an ICMPv6 error message, nor about a
 * packet from a multicast or unspecified source or to a multicast
 * destination. ip6 is the invoking IPv6 packet. Extension headers are not
 * walked (as Miredo's BuildICMPv6Error): an error hidden behind one could
 * draw an error back, which the §2.4(f) rate limit bounds (decision D14).
 * Next header 58 without room for the type byte counts as an error (no
 * reply). Used by the classifier and by the control lcore alike. */
bool tr_icmp6_error_allowed(const uint8_t *ip6, size_t len);

#endif /* TEREDO_POLICY_H */
