/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SipHash-2-4 with 64-bit output (Aumasson & Bernstein, "SipHash: a fast
 * short-input PRF", 2012). Keys the relay's bubble nonce (notes §3(c)) so a
 * peer cannot forge it. Key and message words are little-endian by spec.
 */
#include "teredo.h"

static uint64_t rotl64(uint64_t x, unsigned b)
{
	return (x << b) | (x >> (64 - b));
}

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* One SipRound (paper §2, Fig. 2). */
#define SIPROUND(v0, v1, v2, v3) \
	do { \
		v0 += v1; v1 = rotl64(v1, 13); v1 ^= v0; v0 = rotl64(v0, 32); \
		v2 += v3; v3 = rotl64(v3, 16); v3 ^= v2; \
		v0 += v3; v3 = rotl64(v3, 21); v3 ^= v0; \
		v2 += v1; v1 = rotl64(v1, 17); v1 ^= v2; v2 = rotl64(v2, 32); \
	} while (0)

uint64_t tr_siphash24(const uint8_t key[16], const void *data, size_t len)
{
	const uint8_t *m = data;
	const uint64_t k0 = get_le64(key), k1 = get_le64(key + 8);
	/* "somepseudorandomlygeneratedbytes" initialisation constants. */
	uint64_t v0 = 0x736f6d6570736575ULL ^ k0;
	uint64_t v1 = 0x646f72616e646f6dULL ^ k1;
	uint64_t v2 = 0x6c7967656e657261ULL ^ k0;
	uint64_t v3 = 0x7465646279746573ULL ^ k1;
	size_t left = len;

	/* Compression: c = 2 rounds per 8-byte block. */
	for (; left >= 8; left -= 8, m += 8) {
		uint64_t mi = get_le64(m);

		v3 ^= mi;
		SIPROUND(v0, v1, v2, v3);
		SIPROUND(v0, v1, v2, v3);
		v0 ^= mi;
	}

	/* Last block: remaining bytes, zero padded, length mod 256 in the top byte. */
	uint64_t b = (uint64_t)(len & 0xff) << 56;

	for (size_t i = 0; i < left; i++)
		b |= (uint64_t)m[i] << (8 * i);
	v3 ^= b;
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	v0 ^= b;

	/* Finalisation: d = 4 rounds. */
	v2 ^= 0xff;
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}
