/* SPDX-License-Identifier: BSD-3-Clause
 *
 * VLAN tags (IEEE 802.1Q, 802.1ad QinQ) of the two sides: the receive check
 * and the Ethernet headers the relay sends. The classifier and every builder
 * work on untagged frames; tags are checked and removed here on receipt
 * (or by the NIC) and put back on transmit (here, or by the NIC), so the
 * protocol code is the same with and without VLANs (docs/decisions.md D40).
 */
#include <string.h>

#include "teredo.h"

#define VID_MASK 0x0fffu

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static inline void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline bool is_tpid(uint16_t t)
{
	return t == TR_TPID_8021Q || t == TR_TPID_8021AD;
}

int tr_l2_side_of(uint16_t ethertype)
{
	switch (ethertype) {
	case TR_ETHERTYPE_IPV4:
	case TR_ETHERTYPE_ARP:
		return TR_SIDE_TEREDO;
	case TR_ETHERTYPE_IPV6:
		return TR_SIDE_NATIVE;
	default:
		return -1;
	}
}

/* One tag as seen: its TPID (0 = stripped by the NIC, unknown) and TCI. */
struct tag {
	uint16_t tpid;
	uint16_t tci;
};

static bool tpid_ok(uint16_t seen, uint16_t want)
{
	return seen == 0 || seen == want;
}

enum tr_drop_reason tr_l2_check(const struct tr_vlan side[2], const uint8_t *frame, size_t len,
				const struct tr_rx_tags *hw, unsigned *strip)
{
	struct tag t[3];
	unsigned n = 0;
	size_t off = 12;

	*strip = 0;
	if (len < TR_ETH_HLEN)
		return TR_DROP_ETH_TRUNCATED;
	/* The common case first: tags in the frame, exactly its side's (one
	 * 802.1Q tag, or a pair). Anything else takes the walk below. */
	if (hw == NULL || hw->n == 0) {
		uint16_t t0 = rd16(frame + 12);

		if (is_tpid(t0) && len >= 18 + 2) {
			uint16_t e1 = rd16(frame + 16);
			int s1 = tr_l2_side_of(e1);

			if (s1 >= 0 && side[s1].ntags == 1 && side[s1].outer_tpid == t0 &&
			    (rd16(frame + 14) & VID_MASK) == side[s1].vid[0]) {
				*strip = TR_VLAN_HLEN;
				return TR_DROP_NONE;
			}
			if (e1 == TR_TPID_8021Q && len >= 22 + 2) {
				int s2 = tr_l2_side_of(rd16(frame + 20));

				if (s2 >= 0 && side[s2].ntags == 2 && side[s2].outer_tpid == t0 &&
				    (rd16(frame + 14) & VID_MASK) == side[s2].vid[0] &&
				    (rd16(frame + 18) & VID_MASK) == side[s2].vid[1]) {
					*strip = 2 * TR_VLAN_HLEN;
					return TR_DROP_NONE;
				}
			}
		}
	}
	if (hw != NULL)
		for (unsigned i = 0; i < hw->n && i < 2; i++)
			t[n++] = (struct tag){ 0, hw->tci[i] };
	/* Tags still in the frame; a third one is more than any side has. */
	while (is_tpid(rd16(frame + off))) {
		if (len < off + TR_VLAN_HLEN + 2)
			return TR_DROP_ETH_TRUNCATED;
		if (n == 2)
			return TR_DROP_VLAN_WRONG;
		t[n++] = (struct tag){ rd16(frame + off), rd16(frame + off + 2) };
		off += TR_VLAN_HLEN;
	}
	*strip = (unsigned)(off - 12);

	int s = tr_l2_side_of(rd16(frame + off));

	if (s < 0)
		return TR_DROP_NONE;            /* eth_unknown_type, by the classifier */
	const struct tr_vlan *v = &side[s];

	/* IEEE 802.1Q §9.6: VLAN 0 carries a priority only; such a single tag
	 * stands for an untagged frame. */
	if (n == 1 && (t[0].tci & VID_MASK) == 0)
		n = 0;
	if (v->ntags == 0)
		return n == 0 ? TR_DROP_NONE : TR_DROP_VLAN_UNEXPECTED;
	if (n == 0)
		return TR_DROP_VLAN_MISSING;
	if (n != v->ntags)
		return TR_DROP_VLAN_WRONG;
	if (!tpid_ok(t[0].tpid, v->outer_tpid) || (t[0].tci & VID_MASK) != v->vid[0])
		return TR_DROP_VLAN_WRONG;
	if (n == 2 && (!tpid_ok(t[1].tpid, TR_TPID_8021Q) || (t[1].tci & VID_MASK) != v->vid[1]))
		return TR_DROP_VLAN_WRONG;
	return TR_DROP_NONE;
}

size_t tr_build_eth_vlan(uint8_t *out, const struct tr_vlan *v, const uint8_t dst[6],
			 const uint8_t src[6], uint16_t ethertype)
{
	size_t off = 12;

	memcpy(out, dst, 6);
	memcpy(out + 6, src, 6);
	for (unsigned i = 0; v != NULL && i < v->ntags; i++) {
		put_be16(out + off, i == 0 ? v->outer_tpid : TR_TPID_8021Q);
		put_be16(out + off + 2, v->vid[i]);         /* PCP 0, DEI 0 */
		off += TR_VLAN_HLEN;
	}
	put_be16(out + off, ethertype);
	return off + 2;
}

uint8_t *tr_l2_insert(uint8_t *f, const struct tr_vlan *v, uint16_t tci_outer, uint16_t tci_inner)
{
	size_t room = (size_t)v->ntags * TR_VLAN_HLEN;
	uint8_t *n = f - room;

	memmove(n, f, 12);
	if (v->ntags == 1) {
		put_be16(n + 12, v->outer_tpid);
		put_be16(n + 14, tci_outer);
	} else if (v->ntags == 2) {
		put_be16(n + 12, v->outer_tpid);
		put_be16(n + 14, tci_outer);
		put_be16(n + 16, TR_TPID_8021Q);
		put_be16(n + 18, tci_inner);
	}
	return n;
}
