/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Packet builders: bubbles, RFC 6081 trailers, IPv4/UDP encapsulation,
 * ICMPv6 errors and Ethernet headers. Plain byte buffers, no DPDK.
 */
#include <string.h>

#include "cksum_impl.h"
#include "ecn.h"
#include "teredo.h"

#define ICMP6_HLEN      8       /* type, code, checksum, 4-byte parameter */
#define ICMP6_ERR_MAX   1280    /* RFC 4443 §2.4(c): error must fit the minimum MTU */

static inline void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Version 6, traffic class 0, flow label 0 (first word of an IPv6 header). */
static inline void put_ip6_vtcfl(uint8_t *p)
{
	put_be32(p, 0x60000000u);
}

size_t tr_build_bubble(uint8_t out[TR_IPV6_HLEN], const uint8_t src[16], const uint8_t dst[16])
{
	/* RFC 4380 §2.8: header only, next header 59; hop limit 0 as Miredo
	 * (packets.c:61), the bubble is never forwarded by a router anyway. */
	put_ip6_vtcfl(out);
	put_be16(out + 4, 0);
	out[6] = TR_NH_NONE;
	out[7] = 0;
	memcpy(out + 8, src, 16);
	memcpy(out + 24, dst, 16);
	return TR_IPV6_HLEN;
}

bool tr_is_bubble(const uint8_t *ip6, size_t len)
{
	/* Miredo IsBubble: plen 0 and No Next Header; bytes after the header
	 * are RFC 6081 §4 trailers, so len may exceed 40. */
	if (ip6 == NULL || len < TR_IPV6_HLEN)
		return false;
	return (ip6[0] >> 4) == 6 && ip6[4] == 0 && ip6[5] == 0 && ip6[6] == TR_NH_NONE;
}

size_t tr_build_nonce_trailer(uint8_t out[6], uint32_t nonce)
{
	/* RFC 6081 §4.2: type 0x01, length 4, nonce. */
	out[0] = 0x01;
	out[1] = 4;
	put_be32(out + 2, nonce);
	return 6;
}

void tr_encap_tmpl_init(struct tr_encap_tmpl *t, const uint8_t src_mac[6], uint32_t src,
			uint16_t sport, uint8_t ttl)
{
	tr_encap_tmpl_init_vlan(t, src_mac, NULL, src, sport, ttl);
}

void tr_encap_tmpl_init_vlan(struct tr_encap_tmpl *t, const uint8_t src_mac[6],
			     const struct tr_vlan *vlan, uint32_t src, uint16_t sport, uint8_t ttl)
{
	static const uint8_t zero_mac[6];
	uint8_t ph[12] = { 0 };

	/* Variable fields zero: destination MAC, length, ID, checksums,
	 * destination address and port. The side's tags are part of its
	 * Ethernet header (eth_vlan): a tagged side copies a longer header,
	 * nothing more. */
	memset(t, 0, sizeof(*t));
	tr_build_eth(t->hdr, zero_mac, src_mac, TR_ETHERTYPE_IPV4);
	t->l2_len = (uint8_t)tr_build_eth_vlan(t->eth_vlan, vlan, zero_mac, src_mac, TR_ETHERTYPE_IPV4);

	uint8_t *ip = t->hdr + TR_ETH_HLEN;

	ip[0] = 0x45;                   /* version 4, IHL 5: never options */
	/* TOS 0 here: each packet's ECN field is copied in by write_ip_udp
	 * (RFC 6040 §4.1), DSCP stays 0. Flags and offset 0: DF clear,
	 * RFC 4380 §5.1.2, never a fragment. */
	ip[8] = ttl;
	ip[9] = TR_NH_UDP;
	put_be32(ip + 12, src);
	put_be16(ip + TR_IPV4_HLEN, sport);
	t->ip_sum = tr_fold64(tr_add_words(0, ip, TR_IPV4_HLEN));
	put_be32(ph, src);
	ph[9] = TR_NH_UDP;
	t->phdr_sum = tr_fold64(tr_add_words(0, ph, sizeof(ph)));
	t->udp_sum = tr_fold64(tr_add_words(t->phdr_sum, ip + TR_IPV4_HLEN, TR_UDP_HLEN));
}

/* The IPv4 + UDP headers at ip, for payload_len bytes already at ip + 28:
 * the template's constant part, the fields of this packet, and either both
 * checksums or, for a NIC that computes them, the pseudo-header sum. */
static void write_ip_udp(const struct tr_encap_tmpl *t, uint8_t *ip, uint32_t dst, uint16_t dport,
			 uint16_t ip_id, size_t payload_len, bool offload)
{
	uint8_t *udp = ip + TR_IPV4_HLEN;
	uint16_t ck;

	memcpy(ip, t->hdr + TR_ETH_HLEN, TR_ENCAP_HLEN);
	/* RFC 6040 §4.1 normal mode (Teredo: RFC 9601): the outer ECN field is a
	 * copy of the inner one, CE included. */
	ip[1] = (uint8_t)tr_ipv6_ecn(ip + TR_ENCAP_HLEN);
	put_be16(ip + 2, (uint16_t)(TR_ENCAP_HLEN + payload_len));
	put_be16(ip + 4, ip_id);
	put_be32(ip + 16, dst);
	put_be16(udp + 2, dport);
	put_be16(udp + 4, (uint16_t)(TR_UDP_HLEN + payload_len));

	uint64_t dst_w = tr_raw32(ip + 16);

	if (offload) {
		/* Pseudo-header only (RFC 768): source and protocol, destination,
		 * UDP length. The IPv4 checksum stays 0. */
		ck = (uint16_t)tr_fold64(t->phdr_sum + dst_w + tr_raw16(udp + 4));
		memcpy(udp + 6, &ck, 2);
		return;
	}
	/* IPv4: constant words (TOS 0) + the ECN byte + length and ID (bytes
	 * 2..5) + destination. */
	const uint8_t tos_w[2] = { 0, ip[1] };

	ck = (uint16_t)~tr_fold64(t->ip_sum + tr_raw16(tos_w) + tr_raw32(ip + 2) + dst_w);
	memcpy(ip + 10, &ck, 2);
	/* UDP: constants + destination + port, the UDP length twice (header
	 * and pseudo-header), and the IPv6 packet's sum (RFC 768). */
	ck = (uint16_t)~tr_fold64(t->udp_sum + dst_w + tr_raw16(udp + 2) + 2 * tr_raw16(udp + 4) +
				  tr_ipv6_packet_sum(udp + TR_UDP_HLEN, payload_len));
	if (ck == 0)
		ck = 0xffff;            /* RFC 768: a computed 0 is sent as all ones */
	memcpy(udp + 6, &ck, 2);
}

/* Lengths must fit the 16-bit IPv4 total length; refuse rather than emit a
 * header that lies about the datagram size. */
static size_t write_frame(const struct tr_encap_tmpl *t, uint8_t *out, const uint8_t dst_mac[6],
			  uint32_t dst, uint16_t dport, uint16_t ip_id, size_t payload_len,
			  bool offload)
{
	if (payload_len > TR_MAX_UDP_PAYLOAD)
		return 0;
	memcpy(out, t->hdr, TR_ETH_HLEN);
	memcpy(out, dst_mac, 6);
	write_ip_udp(t, out + TR_ETH_HLEN, dst, dport, ip_id, payload_len, offload);
	return TR_ETH_HLEN + TR_ENCAP_HLEN;
}

/* A tagged side: the longer Ethernet header, the same IPv4/UDP. Out of the
 * untagged path, which stays constant-size copies (D40). */
static size_t __attribute__((noinline))
write_frame_tagged(const struct tr_encap_tmpl *t, uint8_t *out, const uint8_t dst_mac[6],
		   uint32_t dst, uint16_t dport, uint16_t ip_id, size_t payload_len, bool offload)
{
	if (payload_len > TR_MAX_UDP_PAYLOAD)
		return 0;
	/* A constant 22-byte copy: with one tag its last 4 bytes land where
	 * the IPv4 header is written next. */
	memcpy(out, t->eth_vlan, TR_L2_MAX_HLEN);
	memcpy(out, dst_mac, 6);
	write_ip_udp(t, out + t->l2_len, dst, dport, ip_id, payload_len, offload);
	return (size_t)t->l2_len + TR_ENCAP_HLEN;
}

size_t tr_encap_tmpl_write_untagged(const struct tr_encap_tmpl *t, uint8_t *out,
				    const uint8_t dst_mac[6], uint32_t dst, uint16_t dport,
				    uint16_t ip_id, size_t payload_len)
{
	return write_frame(t, out, dst_mac, dst, dport, ip_id, payload_len, false);
}

size_t tr_encap_tmpl_write_offload_untagged(const struct tr_encap_tmpl *t, uint8_t *out,
					    const uint8_t dst_mac[6], uint32_t dst, uint16_t dport,
					    uint16_t ip_id, size_t payload_len)
{
	return write_frame(t, out, dst_mac, dst, dport, ip_id, payload_len, true);
}

size_t tr_encap_tmpl_write(const struct tr_encap_tmpl *t, uint8_t *out, const uint8_t dst_mac[6],
			   uint32_t dst, uint16_t dport, uint16_t ip_id, size_t payload_len)
{
	if (__builtin_expect(t->l2_len != TR_ETH_HLEN, 0))
		return write_frame_tagged(t, out, dst_mac, dst, dport, ip_id, payload_len, false);
	return write_frame(t, out, dst_mac, dst, dport, ip_id, payload_len, false);
}

size_t tr_encap_tmpl_write_offload(const struct tr_encap_tmpl *t, uint8_t *out,
				   const uint8_t dst_mac[6], uint32_t dst, uint16_t dport,
				   uint16_t ip_id, size_t payload_len)
{
	if (__builtin_expect(t->l2_len != TR_ETH_HLEN, 0))
		return write_frame_tagged(t, out, dst_mac, dst, dport, ip_id, payload_len, true);
	return write_frame(t, out, dst_mac, dst, dport, ip_id, payload_len, true);
}

size_t tr_build_encap(uint8_t *out, uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport,
		      uint16_t ip_id, uint8_t ttl, size_t payload_len)
{
	static const uint8_t no_mac[6];
	struct tr_encap_tmpl t;

	if (payload_len > TR_MAX_UDP_PAYLOAD)
		return 0;
	/* One template for one packet: the same code as the fast path. */
	tr_encap_tmpl_init(&t, no_mac, src, sport, ttl);
	write_ip_udp(&t, out, dst, dport, ip_id, payload_len, false);
	return TR_ENCAP_HLEN;
}

uint8_t tr_ipv6_dec_hop(uint8_t *ip6)
{
	/* Callers test hop limit <= 1 first (Time Exceeded); never wrap 0 to 255. */
	if (ip6[7] > 0)
		ip6[7]--;
	return ip6[7];
}

size_t tr_build_icmp6_error(uint8_t *out, size_t cap, uint8_t type, uint8_t code, uint32_t param,
			    const uint8_t src[16], const uint8_t *inv, size_t inv_len)
{
	static const uint8_t zero[16];
	uint8_t inv_src[16];
	size_t quote, total;
	uint8_t *icmp;
	uint16_t ck;

	if (out == NULL || src == NULL || inv == NULL || inv_len < TR_IPV6_HLEN)
		return 0;
	/* Saved before anything is written: inv may overlap out. */
	memcpy(inv_src, inv + 8, 16);
	/* RFC 4443 §2.4(e): never to an unspecified or multicast source;
	 * such a packet would not even be routable. */
	if (inv_src[0] == 0xff || memcmp(inv_src, zero, 16) == 0)
		return 0;

	/* RFC 4443 §2.4(c): as much of the invoking packet as fits in the
	 * minimum IPv6 MTU. The size does not depend on cap: a short buffer is
	 * refused instead of silently producing a shorter quote. */
	quote = inv_len;
	if (quote > ICMP6_ERR_MAX - TR_IPV6_HLEN - ICMP6_HLEN)
		quote = ICMP6_ERR_MAX - TR_IPV6_HLEN - ICMP6_HLEN;
	total = TR_IPV6_HLEN + ICMP6_HLEN + quote;
	if (cap < total)
		return 0;

	/* Copy the quote first: memmove so inv may live inside out's tail. */
	icmp = out + TR_IPV6_HLEN;
	memmove(icmp + ICMP6_HLEN, inv, quote);

	put_ip6_vtcfl(out);
	put_be16(out + 4, (uint16_t)(ICMP6_HLEN + quote));
	out[6] = TR_NH_ICMPV6;
	out[7] = 64;
	memcpy(out + 8, src, 16);
	memcpy(out + 24, inv_src, 16);

	icmp[0] = type;
	icmp[1] = code;
	put_be16(icmp + 2, 0);
	/* RFC 4443 §3.2 MTU (type 2), §3.4 pointer (type 4); §3.1/§3.3 unused = 0. */
	put_be32(icmp + 4, (type == 2 || type == 4) ? param : 0);
	ck = tr_ipv6_l4_cksum(out + 8, out + 24, TR_NH_ICMPV6, icmp, ICMP6_HLEN + quote);
	memcpy(icmp + 2, &ck, 2);
	return total;
}

size_t tr_build_eth(uint8_t out[TR_ETH_HLEN], const uint8_t dst[6], const uint8_t src[6],
		    uint16_t ethertype)
{
	memcpy(out, dst, 6);
	memcpy(out + 6, src, 6);
	put_be16(out + 12, ethertype);
	return TR_ETH_HLEN;
}
