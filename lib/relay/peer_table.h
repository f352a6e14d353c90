/* SPDX-License-Identifier: BSD-3-Clause
 *
 * The peer/mapping table (RFC 4380 §5.2 "list of peers"), sharded.
 *
 * Key: the client's full 128-bit Teredo address (RFC 5991 random flag bits
 * make two addresses with one mapping two peers). Each shard is an rte_hash
 * with lock-free readers (RW_CONCURRENCY_LF) plus an entry array indexed by
 * the key position the hash returns. Workers only read (and refresh the
 * coarse last_rx/last_tx times with plain stores); the control lcore is the
 * only writer. Deleted positions are reused only after every worker has
 * passed a quiescent state (rte_rcu_qsbr, the hash's own defer queue).
 */
#ifndef TERELAY_PEER_TABLE_H
#define TERELAY_PEER_TABLE_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <rte_common.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_rcu_qsbr.h>

enum tr_peer_state {
	TR_PEER_FREE = 0,       /* position not in use (or being torn down) */
	TR_PEER_PENDING = 1,    /* unverified: only bubbles are sent to it */
	TR_PEER_TRUSTED = 2,    /* verified mapping: data is encapsulated to it */
};

#define TR_PEER_NO_SLOT UINT32_MAX

/*
 * One peer, half a cache line. The mapping word packs mapped IPv4, port and
 * state so that a worker reads a consistent triple with one 64-bit load.
 * The peer's address is the hash key, stored once by rte_hash
 * (tr_peer_key): a copy here would cost 16 bytes per peer, 160 MB at 10 M.
 */
struct tr_peer {
	uint64_t mapping;        /* ipv4 << 32 | port << 16 | state */
	uint32_t last_rx;        /* clock ms, truncated to 32 bits (wrap-safe compare) */
	uint32_t last_tx;
	uint32_t created;
	uint32_t pend;           /* pending slot index (control only), TR_PEER_NO_SLOT */
	uint8_t bubbles;         /* bubbles sent without a direct response */
	uint8_t pad[7];
} __rte_aligned(32);

static inline uint64_t tr_peer_mapping(uint32_t ip, uint16_t port, enum tr_peer_state st)
{
	return (uint64_t)ip << 32 | (uint64_t)port << 16 | (uint64_t)st;
}
static inline uint32_t tr_map_ip(uint64_t m) { return (uint32_t)(m >> 32); }
static inline uint16_t tr_map_port(uint64_t m) { return (uint16_t)(m >> 16); }
static inline enum tr_peer_state tr_map_state(uint64_t m) { return (enum tr_peer_state)(m & 0xff); }

struct tr_peer_shard {
	struct rte_hash *hash;
	struct tr_peer *peers;   /* indexed by hash key position */
	uint32_t capacity;
	uint32_t count;          /* control only */
	uint32_t sweep_cursor;   /* control only: idle-expiry sweep position */
};

struct tr_peer_table {
	uint32_t n_shards;       /* power of two */
	uint32_t shard_shift;    /* shard = hash >> shift: 32 - log2(n_shards) */
	uint32_t capacity;       /* total */
	uint32_t count;          /* control only */
	bool deferred_free;      /* QSBR attached: the hash frees positions after a grace period */
	struct tr_peer_shard shard[];
};

/* A reference to one peer: shard and position. */
struct tr_peer_ref {
	uint32_t shard;
	int32_t pos;             /* < 0: not found */
};

struct tr_peer_table *tr_peer_table_create(const char *name, uint32_t capacity, uint32_t n_shards,
					   int socket, struct rte_rcu_qsbr *qsbr);
void tr_peer_table_free(struct tr_peer_table *t);

/* Keys point into packets at any alignment, and rte_hash_crc reads 8-byte
 * words: hash and compare aligned copies (16 bytes each, cheap). */
struct tr_aligned_key {
	uint8_t b[16];
} __rte_aligned(16);

/* Every shard's rte_hash uses this function and seed, so the one CRC a key
 * costs picks its shard (top bits) and, handed to rte_hash, its bucket and
 * signature (rte_hash uses the low bits for the bucket). */
#define TR_PEER_HASH_SEED 0u

static inline hash_sig_t tr_peer_hash(const struct tr_aligned_key *k)
{
	return rte_hash_crc(k->b, 16, TR_PEER_HASH_SEED);
}

static inline uint32_t tr_peer_shard_of_sig(const struct tr_peer_table *t, hash_sig_t sig)
{
	return (uint32_t)((uint64_t)sig >> t->shard_shift);
}

static inline uint32_t tr_peer_shard_of(const struct tr_peer_table *t, const uint8_t key[16])
{
	struct tr_aligned_key k;

	memcpy(k.b, key, 16);
	return tr_peer_shard_of_sig(t, tr_peer_hash(&k));
}

static inline struct tr_peer *tr_peer_at(const struct tr_peer_table *t, struct tr_peer_ref r)
{
	return &t->shard[r.shard].peers[r.pos];
}

/* The peer's Teredo address (its key), or NULL for a free position. Writer
 * side and diagnostics: a reader racing a delete may see the next key. */
const uint8_t *tr_peer_key(const struct tr_peer_table *t, struct tr_peer_ref r);

/* Reader side (any lcore). keys[i] -> refs[i] (pos < 0 on miss). n <= 64. */
void tr_peer_lookup_bulk(const struct tr_peer_table *t, const uint8_t *const *keys, unsigned n,
			 struct tr_peer_ref *refs);
struct tr_peer_ref tr_peer_lookup(const struct tr_peer_table *t, const uint8_t key[16]);

/* Writer side (control lcore only). Add returns pos < 0 when the shard is
 * full. The new entry is PENDING with mapping (ip, port), last_rx/last_tx
 * 30 s in the past (RFC 4380 §5.2.6), no bubbles. */
struct tr_peer_ref tr_peer_add(struct tr_peer_table *t, const uint8_t key[16], uint32_t ip,
			       uint16_t port, uint32_t now_ms);
void tr_peer_del(struct tr_peer_table *t, struct tr_peer_ref r);
/* Publish a new mapping/state (release store: readers see the fields written before). */
static inline void tr_peer_set_mapping(struct tr_peer *p, uint32_t ip, uint16_t port,
				       enum tr_peer_state st)
{
	__atomic_store_n(&p->mapping, tr_peer_mapping(ip, port, st), __ATOMIC_RELEASE);
}
static inline uint64_t tr_peer_load_mapping(const struct tr_peer *p)
{
	return __atomic_load_n(&p->mapping, __ATOMIC_ACQUIRE);
}

/* Bytes of memory the table holds (from the allocator's view: rte_malloc
 * heap stats before/after are measured by the benchmark; this sums the
 * shards' known parts for the log). */
size_t tr_peer_table_memory(const struct tr_peer_table *t);

#endif /* TERELAY_PEER_TABLE_H */
