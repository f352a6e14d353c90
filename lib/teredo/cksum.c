/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Internet checksum (RFC 1071) in the "raw" convention: 16-bit words are read
 * with memcpy() in host order and the result is stored back the same way.
 * One's-complement addition is byte-order independent (RFC 1071 §2(B)), so
 * this gives the right wire bytes on either endianness without swapping.
 */
#include <string.h>

#include "cksum_impl.h"
#include "teredo.h"

/* 32-byte blocks as four 64-bit words in one add-with-carry chain (the
 * carry out of each add is the end-around carry of the next): 5
 * instructions per 32 bytes where the 32-bit words below take 16. In C
 * the carry chain cannot be written (gcc 12 has no __builtin_addcll), so
 * x86-64 only; elsewhere the 32-bit loop takes everything. Returns the sum
 * reduced below 2^33, so the 32-bit adds that follow cannot overflow. */
static inline uint64_t sum_blocks32(uint64_t sum, const uint8_t **pp, size_t *lenp)
{
#if defined(__x86_64__)
	struct blk {
		uint8_t b[32];
	};
	const uint8_t *p = *pp;
	size_t len = *lenp;

	if (len < 32)
		return sum;
	do {
		__asm__("addq 0(%[p]), %[a]\n\t"
			"adcq 8(%[p]), %[a]\n\t"
			"adcq 16(%[p]), %[a]\n\t"
			"adcq 24(%[p]), %[a]\n\t"
			"adcq $0, %[a]"
			: [a] "+r"(sum)
			: [p] "r"(p), "m"(*(const struct blk *)(const void *)p)
			: "cc");
		p += 32;
		len -= 32;
	} while (len >= 32);
	*pp = p;
	*lenp = len;
	return (sum & 0xffffffffu) + (sum >> 32);
#else
	(void)pp;
	(void)lenp;
	return sum;
#endif
}

/* The unfolded sum of any buffer; inlined where the length is a packet's. */
static inline uint64_t sum_bytes(uint64_t sum, const uint8_t *p, size_t len)
{
	/* 32-bit words into 64-bit accumulators: the same one's-complement sum
	 * as 16-bit words once folded (RFC 1071 §2(C)), four times fewer adds,
	 * and four independent chains the CPU can run in parallel. This is the
	 * per-packet cost of UDP checksum verification (decapsulation). */
	sum = sum_blocks32(sum, &p, &len);

	uint64_t a0 = sum, a1 = 0, a2 = 0, a3 = 0;
	uint32_t w0, w1, w2, w3;

	while (len >= 16) {
		memcpy(&w0, p, 4);
		memcpy(&w1, p + 4, 4);
		memcpy(&w2, p + 8, 4);
		memcpy(&w3, p + 12, 4);
		a0 += w0;
		a1 += w1;
		a2 += w2;
		a3 += w3;
		p += 16;
		len -= 16;
	}
	uint64_t acc = a0 + a1 + a2 + a3;   /* no overflow below 2^34 bytes */

	while (len >= 4) {
		memcpy(&w0, p, 4);
		acc += w0;
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		uint16_t h;

		memcpy(&h, p, 2);
		acc += h;
		p += 2;
		len -= 2;
	}
	if (len) {
		/* Odd byte is the high-order byte of a zero-padded word (RFC 1071 §4.1). */
		const uint8_t pad[2] = { p[0], 0 };
		uint16_t h;

		memcpy(&h, pad, 2);
		acc += h;
	}
	return acc;
}

uint32_t tr_cksum_add(uint32_t sum, const void *buf, size_t len)
{
	/* Folding keeps the one's-complement value and fits the 32-bit result. */
	return tr_fold64(sum_bytes(sum, buf, len));
}

uint16_t tr_cksum_finish(uint32_t sum)
{
	return (uint16_t)~tr_fold64(sum);
}

/* RFC 1624 §3 eqn 3: HC' = ~(~HC + ~m + m'). Avoids the -0 pitfall of eqn 2. */
uint16_t tr_cksum_update16(uint16_t cksum, uint16_t old_w, uint16_t new_w)
{
	uint64_t s = (uint16_t)~cksum;

	s += (uint16_t)~old_w;
	s += new_w;
	return (uint16_t)~tr_fold64(s);
}

uint16_t tr_ipv4_hdr_cksum(const uint8_t *ip, size_t ihl_bytes)
{
	if (ihl_bytes == TR_IPV4_HLEN)          /* no options: every Teredo packet */
		return (uint16_t)~tr_fold64(tr_add_words(0, ip, TR_IPV4_HLEN));
	return tr_cksum_finish(tr_cksum_add(0, ip, ihl_bytes));
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/*
 * A computed 0 means "store 0xffff" only when the field was zeroed for the
 * computation (RFC 768; RFC 8200 §8.1 for UDP/IPv6). With a valid non-zero
 * field in place the caller is verifying and must see 0.
 */
static uint16_t map_zero(uint16_t c, const uint8_t *l4, size_t l4_len, size_t field_off)
{
	if (c != 0 || field_off + 2 > l4_len)
		return c;
	if (l4[field_off] == 0 && l4[field_off + 1] == 0)
		return 0xffff;
	return c;
}

/*
 * Sum of a whole IPv6 packet, as tr_cksum_add(0, ip6, len) would give it
 * modulo 0xffff, without reading the payload when the payload carries a
 * checksum of its own: a valid TCP, UDP or ICMPv6 checksum makes the
 * payload sum the complement of the pseudo-header sum (RFC 1071 §1,
 * RFC 8200 §8.1), and the pseudo-header is made of header fields.
 * Encapsulation uses it for the outer UDP checksum, which then reads 8
 * header bytes instead of the packet. If the inner checksum is wrong the outer
 * one comes out wrong too, so the receiver still drops the packet (at UDP
 * instead of TCP). Anything else (extension headers, fragments, a UDP
 * checksum of 0, a length that disagrees) is summed in full.
 */
uint32_t tr_ipv6_packet_sum(const uint8_t *ip6, size_t len)
{
	if (len < TR_IPV6_HLEN || (ip6[0] >> 4) != 6)
		return tr_cksum_add(0, ip6, len);

	size_t plen = (size_t)ip6[4] << 8 | ip6[5];
	uint8_t nh = ip6[6];
	size_t need;

	switch (nh) {
	case 6:
		need = 20;                      /* TCP header, checksum at 16 */
		break;
	case TR_NH_UDP:
		need = 8;
		break;
	case TR_NH_ICMPV6:
		need = 4;
		break;
	default:
		need = SIZE_MAX;
		break;
	}
	if (plen != len - TR_IPV6_HLEN || plen < need ||
	    (nh == TR_NH_UDP && ip6[TR_IPV6_HLEN + 6] == 0 && ip6[TR_IPV6_HLEN + 7] == 0))
		return tr_cksum_add(0, ip6, len);

	/* The packet sum is header + payload, and the payload sums to minus
	 * its pseudo-header (addresses, length, next header). The addresses
	 * and the length are in the header too and cancel: what is left is
	 * the first 8 bytes without the length word, minus the next-header
	 * word of the pseudo-header (0, nh). Congruent modulo 0xffff to the
	 * full sum, and non-zero (the version nibble). */
	const uint8_t nh_w[2] = { 0, nh };

	return tr_fold64(tr_raw32(ip6) + tr_raw16(ip6 + 6) + (0xffffu ^ tr_raw16(nh_w)));
}

static uint32_t udp4_pseudo_sum(uint32_t src, uint32_t dst, size_t udp_len)
{
	uint8_t ph[12];   /* RFC 768 pseudo-header */

	put_be32(ph, src);
	put_be32(ph + 4, dst);
	ph[8] = 0;
	ph[9] = TR_NH_UDP;
	ph[10] = (uint8_t)(udp_len >> 8);
	ph[11] = (uint8_t)udp_len;
	return tr_fold64(tr_add_words(0, ph, sizeof(ph)));
}

uint16_t tr_udp4_cksum(uint32_t src, uint32_t dst, const uint8_t *udp, size_t udp_len)
{
	uint32_t s = udp4_pseudo_sum(src, dst, udp_len);

	s = tr_cksum_add(s, udp, udp_len);
	return map_zero(tr_cksum_finish(s), udp, udp_len, 6);
}

bool tr_udp4_cksum_ok(const uint8_t *ip, const uint8_t *udp, size_t udp_len)
{
	/* Pseudo-header words taken where they lie: both addresses from the
	 * IPv4 header, the protocol, and the UDP length, which is the UDP
	 * header's own length word. Valid when everything sums to -0. */
	static const uint8_t proto[2] = { 0, TR_NH_UDP };
	uint64_t s = tr_add_words(tr_raw16(proto) + tr_raw16(udp + 4), ip + 12, 8);

	return tr_fold64(sum_bytes(s, udp, udp_len)) == 0xffff;
}

uint16_t tr_ipv6_l4_cksum(const uint8_t src[16], const uint8_t dst[16], uint8_t next_header,
			  const uint8_t *l4, size_t l4_len)
{
	uint8_t ph[40];   /* RFC 8200 §8.1 pseudo-header */

	memcpy(ph, src, 16);
	memcpy(ph + 16, dst, 16);
	put_be32(ph + 32, (uint32_t)l4_len);
	ph[36] = ph[37] = ph[38] = 0;
	ph[39] = next_header;

	uint32_t s = tr_cksum_add(0, ph, sizeof(ph));

	s = tr_cksum_add(s, l4, l4_len);

	uint16_t c = tr_cksum_finish(s);

	/* Checksum field offset: UDP 6, ICMPv6 2 (RFC 4443 §2.1), TCP 16. */
	switch (next_header) {
	case TR_NH_UDP:
		return map_zero(c, l4, l4_len, 6);
	case TR_NH_ICMPV6:
		return map_zero(c, l4, l4_len, 2);
	case 6:
		return map_zero(c, l4, l4_len, 16);
	default:
		return c;
	}
}
