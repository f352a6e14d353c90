/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Internet checksum (RFC 1071) in the "raw" convention: 16-bit words are read
 * with memcpy() in host order and the result is stored back the same way.
 * One's-complement addition is byte-order independent (RFC 1071 §2(B)), so
 * this gives the right wire bytes on either endianness without swapping.
 */
#include <string.h>

#include "teredo.h"

/* Reduce a wide accumulator to at most 16 bits with end-around carry. */
static uint32_t fold64(uint64_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint32_t)s;
}

uint32_t tr_cksum_add(uint32_t sum, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	/* 32-bit words into 64-bit accumulators: the same one's-complement sum
	 * as 16-bit words once folded (RFC 1071 §2(C)), four times fewer adds,
	 * and four independent chains the CPU can run in parallel. This is the
	 * per-packet cost of encapsulation and of UDP checksum verification. */
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
	/* Folding keeps the one's-complement value and fits the 32-bit result. */
	return fold64(acc);
}

uint16_t tr_cksum_finish(uint32_t sum)
{
	return (uint16_t)~fold64(sum);
}

/* RFC 1624 §3 eqn 3: HC' = ~(~HC + ~m + m'). Avoids the -0 pitfall of eqn 2. */
uint16_t tr_cksum_update16(uint16_t cksum, uint16_t old_w, uint16_t new_w)
{
	uint64_t s = (uint16_t)~cksum;

	s += (uint16_t)~old_w;
	s += new_w;
	return (uint16_t)~fold64(s);
}

uint16_t tr_ipv4_hdr_cksum(const uint8_t *ip, size_t ihl_bytes)
{
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

uint16_t tr_udp4_cksum(uint32_t src, uint32_t dst, const uint8_t *udp, size_t udp_len)
{
	uint8_t ph[12];   /* RFC 768 pseudo-header */

	put_be32(ph, src);
	put_be32(ph + 4, dst);
	ph[8] = 0;
	ph[9] = TR_NH_UDP;
	ph[10] = (uint8_t)(udp_len >> 8);
	ph[11] = (uint8_t)udp_len;

	uint32_t s = tr_cksum_add(0, ph, sizeof(ph));

	s = tr_cksum_add(s, udp, udp_len);
	return map_zero(tr_cksum_finish(s), udp, udp_len, 6);
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
