/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_malloc.h>

#include "peer_table.h"

/* rte_hash needs at least one full bucket per table. */
#define SHARD_MIN_ENTRIES 64

static void shard_free(struct tr_peer_shard *s)
{
	rte_hash_free(s->hash);
	rte_free(s->peers);
}

struct tr_peer_table *tr_peer_table_create(const char *name, uint32_t capacity, uint32_t n_shards,
					   int socket, struct rte_rcu_qsbr *qsbr)
{
	if (n_shards == 0 || (n_shards & (n_shards - 1)) != 0 || capacity == 0)
		return NULL;

	struct tr_peer_table *t = rte_zmalloc_socket(name,
		sizeof(*t) + n_shards * sizeof(t->shard[0]), RTE_CACHE_LINE_SIZE, socket);
	if (t == NULL)
		return NULL;
	t->n_shards = n_shards;
	t->shard_shift = 32 - (uint32_t)__builtin_ctz(n_shards);
	t->deferred_free = qsbr != NULL;

	uint32_t per_shard = RTE_MAX((capacity + n_shards - 1) / n_shards, SHARD_MIN_ENTRIES);
	for (uint32_t i = 0; i < n_shards; i++) {
		struct tr_peer_shard *s = &t->shard[i];
		char hname[RTE_HASH_NAMESIZE];

		snprintf(hname, sizeof(hname), "%s_%u", name, i);
		struct rte_hash_parameters hp = {
			.name = hname,
			.entries = per_shard,
			.key_len = 16,
			.hash_func = rte_hash_crc,
			.hash_func_init_val = TR_PEER_HASH_SEED,
			.socket_id = socket,
			/* Lock-free readers, one writer; the extendable table keeps
			 * inserts from failing on bucket collisions before capacity. */
			.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF |
				      RTE_HASH_EXTRA_FLAGS_EXT_TABLE,
		};
		s->hash = rte_hash_create(&hp);
		if (s->hash == NULL)
			goto fail;
		s->capacity = per_shard;
		s->peers = rte_zmalloc_socket(hname, (size_t)per_shard * sizeof(struct tr_peer),
					      RTE_CACHE_LINE_SIZE, socket);
		if (s->peers == NULL)
			goto fail;
		if (qsbr != NULL) {
			/* Positions come back only after every reader has moved on. */
			struct rte_hash_rcu_config rc = {
				.v = qsbr,
				.mode = RTE_HASH_QSBR_MODE_DQ,
			};
			if (rte_hash_rcu_qsbr_add(s->hash, &rc) != 0)
				goto fail;
		}
		t->capacity += per_shard;
	}
	return t;
fail:
	tr_peer_table_free(t);
	return NULL;
}

void tr_peer_table_free(struct tr_peer_table *t)
{
	if (t == NULL)
		return;
	for (uint32_t i = 0; i < t->n_shards; i++)
		shard_free(&t->shard[i]);
	rte_free(t);
}

void tr_peer_lookup_bulk(const struct tr_peer_table *t, const uint8_t *const *in_keys, unsigned n,
			 struct tr_peer_ref *refs)
{
	struct tr_aligned_key copy[RTE_HASH_LOOKUP_BULK_MAX];
	const void *keys[RTE_HASH_LOOKUP_BULK_MAX];
	hash_sig_t sig[RTE_HASH_LOOKUP_BULK_MAX];
	uint8_t shard_of[RTE_HASH_LOOKUP_BULK_MAX];
	int32_t pos[RTE_HASH_LOOKUP_BULK_MAX];
	uint64_t present = 0;

	if (n == 0)
		return;
	for (unsigned i = 0; i < n; i++) {
		memcpy(copy[i].b, in_keys[i], 16);
		keys[i] = copy[i].b;
		sig[i] = tr_peer_hash(&copy[i]);
		shard_of[i] = (uint8_t)tr_peer_shard_of_sig(t, sig[i]);
		present |= 1ull << shard_of[i];
	}
	if (present == 1ull << shard_of[0]) {
		/* One shard in the burst (always so with one shard): no regrouping. */
		uint32_t s = shard_of[0];

		rte_hash_lookup_with_hash_bulk(t->shard[s].hash, keys, sig, n, pos);
		for (unsigned i = 0; i < n; i++)
			refs[i] = (struct tr_peer_ref){ .shard = s, .pos = pos[i] };
		return;
	}

	/* Group the keys by shard, one bulk lookup per shard present. */
	const void *sk[RTE_HASH_LOOKUP_BULK_MAX];
	hash_sig_t ss[RTE_HASH_LOOKUP_BULK_MAX];
	uint8_t idx[RTE_HASH_LOOKUP_BULK_MAX];

	while (present != 0) {
		uint32_t s = (uint32_t)__builtin_ctzll(present);
		unsigned m = 0;

		present &= present - 1;
		for (unsigned i = 0; i < n; i++) {
			if (shard_of[i] == s) {
				sk[m] = keys[i];
				ss[m] = sig[i];
				idx[m++] = (uint8_t)i;
			}
		}
		rte_hash_lookup_with_hash_bulk(t->shard[s].hash, sk, ss, m, pos);
		for (unsigned j = 0; j < m; j++)
			refs[idx[j]] = (struct tr_peer_ref){ .shard = s, .pos = pos[j] };
	}
}

struct tr_peer_ref tr_peer_lookup(const struct tr_peer_table *t, const uint8_t in_key[16])
{
	struct tr_aligned_key k;

	memcpy(k.b, in_key, 16);
	hash_sig_t sig = tr_peer_hash(&k);
	uint32_t s = tr_peer_shard_of_sig(t, sig);

	return (struct tr_peer_ref){ .shard = s,
				     .pos = rte_hash_lookup_with_hash(t->shard[s].hash, k.b, sig) };
}

struct tr_peer_ref tr_peer_add(struct tr_peer_table *t, const uint8_t in_key[16], uint32_t ip,
			       uint16_t port, uint32_t now_ms)
{
	struct tr_aligned_key k;

	memcpy(k.b, in_key, 16);
	hash_sig_t sig = tr_peer_hash(&k);      /* one CRC: shard, bucket, signature */
	uint32_t s = tr_peer_shard_of_sig(t, sig);
	struct tr_peer_shard *sh = &t->shard[s];
	struct tr_peer_ref r = { .shard = s, .pos = -ENOSPC };

	if (sh->count >= sh->capacity)
		return r;
	r.pos = rte_hash_add_key_with_hash(sh->hash, k.b, sig);
	if (r.pos < 0)
		return r;

	/* The key is visible already; the entry reads FREE until the mapping
	 * store below publishes it, so a racing worker hands the packet to
	 * control instead of using half-written fields. */
	struct tr_peer *p = &sh->peers[r.pos];
	p->last_rx = now_ms - 30000;   /* RFC 4380 §5.2.6: 30 s before now */
	p->last_tx = now_ms - 30000;
	p->created = now_ms;
	p->pend = TR_PEER_NO_SLOT;
	p->bubbles = 0;
	tr_peer_set_mapping(p, ip, port, TR_PEER_PENDING);
	sh->count++;
	t->count++;
	return r;
}

void tr_peer_del(struct tr_peer_table *t, struct tr_peer_ref r)
{
	struct tr_peer_shard *sh = &t->shard[r.shard];
	struct tr_peer *p = &sh->peers[r.pos];

	const uint8_t *stored = tr_peer_key(t, r);
	struct tr_aligned_key k;

	tr_peer_set_mapping(p, 0, 0, TR_PEER_FREE);
	if (stored == NULL)
		return;
	memcpy(k.b, stored, 16);         /* the hash's own copy goes with the entry */
	int32_t pos = rte_hash_del_key(sh->hash, k.b);
	if (pos < 0)
		return;
	/* A lock-free table keeps the position until told: with QSBR the hash
	 * frees it after every reader has moved on; without readers other than
	 * this lcore (replay on one lcore, tests) it is free right away. */
	if (!t->deferred_free)
		rte_hash_free_key_with_position(sh->hash, pos);
	sh->count--;
	t->count--;
}

const uint8_t *tr_peer_key(const struct tr_peer_table *t, struct tr_peer_ref r)
{
	void *key;

	if (r.pos < 0 || rte_hash_get_key_with_position(t->shard[r.shard].hash, r.pos, &key) != 0)
		return NULL;
	return key;
}

size_t tr_peer_table_memory(const struct tr_peer_table *t)
{
	size_t bytes = sizeof(*t) + t->n_shards * sizeof(t->shard[0]);

	for (uint32_t i = 0; i < t->n_shards; i++)
		bytes += (size_t)t->shard[i].capacity * sizeof(struct tr_peer);
	return bytes;
}
