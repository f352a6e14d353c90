/* SPDX-License-Identifier: BSD-3-Clause
 *
 * RFC 6040 ECN combination at the tunnel egress (Teredo: RFC 9601).
 */
#include "ecn.h"

unsigned tr_ecn_decap(unsigned outer, unsigned inner)
{
	outer &= 3u;
	inner &= 3u;
	/* §4.2: an inner Not-ECT never leaves as anything else; under an outer
	 * CE the congestion signal cannot be carried, so the packet is dropped. */
	if (inner == TR_ECN_NOT_ECT)
		return outer == TR_ECN_CE ? TR_ECN_DROP : TR_ECN_NOT_ECT;
	/* Outer CE marks the packet; outer ECT(1) over ECT(0) is kept as ECT(1)
	 * (Figure 4, for L4S-style ECT(1) marking by tunnel-internal routers).
	 * Every other cell forwards the inner field unchanged. */
	if (outer == TR_ECN_CE)
		return TR_ECN_CE;
	if (outer == TR_ECN_ECT1 && inner == TR_ECN_ECT0)
		return TR_ECN_ECT1;
	return inner;
}

bool tr_ecn_decap_frame_marked(uint8_t *frame, uint16_t l3_off, uint16_t ip6_off)
{
	uint8_t *ip6 = frame + ip6_off;
	unsigned inner = tr_ipv6_ecn(ip6);
	unsigned out = tr_ecn_decap(frame[l3_off + 1], inner);

	if (out == TR_ECN_DROP)
		return false;
	if (out != inner)
		ip6[1] = (uint8_t)((ip6[1] & 0xcfu) | (out << 4));
	return true;
}
