/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The one's-complement arithmetic shared by cksum.c and the encapsulation
 * template in build.c, inline because both use it per packet. The "raw"
 * convention of cksum.c: words are read with memcpy() in host order.
 * Internal to lib/teredo: not part of teredo.h.
 */
#ifndef TEREDO_CKSUM_IMPL_H
#define TEREDO_CKSUM_IMPL_H

#include <stdint.h>
#include <string.h>

/* Reduce a wide accumulator to at most 16 bits with end-around carry.
 * Adding a word to itself rotated by half its width puts the end-around
 * sum of its two halves in the upper half (the carry out of the lower
 * half is the end-around carry): 64 -> 32 -> 16 bits in two such steps,
 * no data-dependent loop. The same value as repeated folding, 0 only for
 * 0, a non-zero multiple of 0xffff as 0xffff (RFC 1071 §2). */
static inline uint32_t tr_fold64(uint64_t s)
{
	s = (s + (s >> 32 | s << 32)) >> 32;
	uint32_t w = (uint32_t)s;

	return (w + (w >> 16 | w << 16)) >> 16;
}

/* Headers: a known small length, a multiple of 4. Straight-line 32-bit
 * adds once inlined; the general loop of cksum.c costs more than the sum
 * for 8 to 40 bytes (set-up, tail, vector shuffles). */
static inline uint64_t tr_add_words(uint64_t acc, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 4 <= len; i += 4) {
		uint32_t w;

		memcpy(&w, p + i, 4);
		acc += w;
	}
	return acc;
}

/* One 16-bit or 32-bit field as it lies in memory. */
static inline uint64_t tr_raw16(const uint8_t *p)
{
	uint16_t w;

	memcpy(&w, p, 2);
	return w;
}

static inline uint64_t tr_raw32(const uint8_t *p)
{
	uint32_t w;

	memcpy(&w, p, 4);
	return w;
}

#endif /* TEREDO_CKSUM_IMPL_H */
