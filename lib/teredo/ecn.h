/* SPDX-License-Identifier: BSD-3-Clause
 *
 * ECN across the tunnel. RFC 9601 brings Teredo (RFC 4380) under RFC 6040:
 * the encapsulator copies the inner ECN field into the outer IPv4 header
 * (normal mode, §4.1), the decapsulator combines outer and inner (§4.2).
 * No DPDK: unit-tested on plain buffers.
 */
#ifndef TR_ECN_H
#define TR_ECN_H

#include <stdbool.h>
#include <stdint.h>

#define TR_ECN_NOT_ECT 0u
#define TR_ECN_ECT1    1u
#define TR_ECN_ECT0    2u
#define TR_ECN_CE      3u
#define TR_ECN_DROP    0xffu

/* The ECN field of an IPv6 header: the low two bits of the traffic class. */
static inline unsigned tr_ipv6_ecn(const uint8_t *ip6)
{
	return (ip6[1] >> 4) & 3u;
}

/* RFC 6040 §4.2 Figure 4: the ECN field to forward for an arriving inner and
 * outer field, or TR_ECN_DROP (outer CE over a Not-ECT inner). */
unsigned tr_ecn_decap(unsigned outer, unsigned inner);

/* Decapsulation of one frame, outer IPv4 header at l3_off, inner IPv6 at
 * ip6_off: rewrites the inner ECN field where Figure 4 changes it (the IPv6
 * header has no checksum and the upper-layer pseudo-header does not cover
 * the traffic class). Returns false when the packet must be dropped. */
bool tr_ecn_decap_frame_marked(uint8_t *frame, uint16_t l3_off, uint16_t ip6_off);

static inline bool tr_ecn_decap_frame(uint8_t *frame, uint16_t l3_off, uint16_t ip6_off)
{
	/* Outer Not-ECT (almost every packet) forwards the inner field as it is. */
	if ((frame[l3_off + 1] & 3u) == TR_ECN_NOT_ECT)
		return true;
	return tr_ecn_decap_frame_marked(frame, l3_off, ip6_off);
}

#endif
