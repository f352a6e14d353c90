/* SPDX-License-Identifier: BSD-3-Clause
 *
 * The seeded client-address function shared by the capture generator
 * (perf/gen/tr_gen.c) and the benchmarks (perf/bench/): client i of a
 * given (seed, servers) is the same Teredo address and mapping in every
 * tool, so a benchmark can preload exactly the peers a capture addresses
 * without reading a peers file.
 *
 * Client i (0 <= i < 2^28):
 *   server IPv4  198.18.0.1 + (i mod S)           (198.18.0.0/15: global, RFC 4380 §5.2.4)
 *   mapped IPv4  (11 + i / 2^24).(i mod 2^24)     (11/8 .. 26/8: global, distinct per i)
 *   mapped port  1024 + h mod 64512               (h: seeded mix of i)
 *   flags        (h >> 16) & 0x3cff               (RFC 5991 §3.1 random bits, C = z = U = G = 0)
 */
#ifndef TR_PERF_ADDR_H
#define TR_PERF_ADDR_H

#include <stdint.h>
#include <string.h>

#define TR_PERF_MAX_CLIENTS (1u << 28)

struct tr_perf_client {
	uint8_t addr[16];   /* Teredo address, wire order */
	uint32_t server;    /* host order */
	uint32_t ip;        /* mapped IPv4, host order */
	uint16_t port;      /* mapped port */
	uint16_t flags;
};

static inline uint64_t tr_perf_mix64(uint64_t x)
{
	/* splitmix64 finaliser */
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* Small seeded PRNG (splitmix64 stream). */
struct tr_perf_rng {
	uint64_t s;
};

static inline uint64_t tr_perf_rand(struct tr_perf_rng *r)
{
	r->s += 0x9e3779b97f4a7c15ull;
	uint64_t x = r->s;

	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* Uniform double in [0, 1). */
static inline double tr_perf_rand01(struct tr_perf_rng *r)
{
	return (double)(tr_perf_rand(r) >> 11) * (1.0 / 9007199254740992.0);
}

static inline uint32_t tr_perf_server_ip(uint32_t k)
{
	return 0xC6120001u + k;          /* 198.18.0.1 + k, k < 131070 */
}

static inline void tr_perf_client(uint64_t seed, uint32_t n_servers, uint32_t i,
				  struct tr_perf_client *c)
{
	uint64_t h = tr_perf_mix64(seed ^ ((uint64_t)i * 0xd6e8feb86659fd93ull));
	uint8_t *a = c->addr;

	c->server = tr_perf_server_ip(i % (n_servers ? n_servers : 1));
	c->ip = (uint32_t)(11u + (i >> 24)) << 24 | (i & 0xffffffu);
	c->port = (uint16_t)(1024u + (uint32_t)(h % 64512u));
	c->flags = (uint16_t)((h >> 16) & 0x3cffu);

	a[0] = 0x20; a[1] = 0x01; a[2] = 0; a[3] = 0;
	a[4] = (uint8_t)(c->server >> 24); a[5] = (uint8_t)(c->server >> 16);
	a[6] = (uint8_t)(c->server >> 8);  a[7] = (uint8_t)c->server;
	a[8] = (uint8_t)(c->flags >> 8);   a[9] = (uint8_t)c->flags;
	uint16_t xp = (uint16_t)~c->port;
	uint32_t xi = ~c->ip;
	a[10] = (uint8_t)(xp >> 8); a[11] = (uint8_t)xp;
	a[12] = (uint8_t)(xi >> 24); a[13] = (uint8_t)(xi >> 16);
	a[14] = (uint8_t)(xi >> 8);  a[15] = (uint8_t)xi;
}

/* Native host j: 2001:db8:<j hi 16>:<j lo 16>::1 (inside 2001:db8::/32). */
static inline void tr_perf_host(uint32_t j, uint8_t a[16])
{
	memset(a, 0, 16);
	a[0] = 0x20; a[1] = 0x01; a[2] = 0x0d; a[3] = 0xb8;
	a[4] = (uint8_t)(j >> 24); a[5] = (uint8_t)(j >> 16);
	a[6] = (uint8_t)(j >> 8);  a[7] = (uint8_t)j;
	a[15] = 1;
}

#endif /* TR_PERF_ADDR_H */
