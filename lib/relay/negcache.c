/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>
#include <string.h>

#include <rte_hash_crc.h>
#include <rte_malloc.h>

#include "control_priv.h"

int tr_negcache_init(struct tr_negcache *n, uint32_t cap)
{
	static unsigned seq;
	char name[RTE_HASH_NAMESIZE];

	memset(n, 0, sizeof(*n));
	if (cap < 8)
		cap = 8;
	snprintf(name, sizeof(name), "tr_neg_%u", seq++);
	struct rte_hash_parameters hp = {
		.name = name,
		.entries = cap,
		.key_len = 16,
		.hash_func = rte_hash_crc,
		.socket_id = (int)rte_socket_id(),
	};
	n->hash = rte_hash_create(&hp);
	n->addr = rte_zmalloc("tr_neg_addr", (size_t)cap * 16, 0);
	n->until_ms = rte_zmalloc("tr_neg_until", (size_t)cap * sizeof(uint64_t), 0);
	if (n->hash == NULL || n->addr == NULL || n->until_ms == NULL) {
		tr_negcache_free(n);
		return -1;
	}
	n->cap = cap;
	return 0;
}

void tr_negcache_free(struct tr_negcache *n)
{
	rte_hash_free(n->hash);
	rte_free(n->addr);
	rte_free(n->until_ms);
	memset(n, 0, sizeof(*n));
}

void tr_negcache_add(struct tr_negcache *n, const uint8_t in_addr[16], uint64_t until_ms)
{
	struct tr_aligned_key k;
	const uint8_t *addr = k.b;
	void *data;

	memcpy(k.b, in_addr, 16);
	if (rte_hash_lookup_data(n->hash, addr, &data) >= 0) {
		n->until_ms[(uintptr_t)data] = until_ms;
		return;
	}
	/* Ring of records: reuse the oldest slot once full. */
	uint32_t slot = n->next;

	n->next = (n->next + 1) % n->cap;
	if (n->until_ms[slot] != 0)
		rte_hash_del_key(n->hash, n->addr[slot]);
	memcpy(n->addr[slot], addr, 16);
	n->until_ms[slot] = until_ms;
	rte_hash_add_key_data(n->hash, addr, (void *)(uintptr_t)slot);
}

bool tr_negcache_active(struct tr_negcache *n, const uint8_t in_addr[16], uint64_t now_ms)
{
	struct tr_aligned_key k;
	void *data;

	memcpy(k.b, in_addr, 16);
	const uint8_t *addr = k.b;
	if (rte_hash_lookup_data(n->hash, addr, &data) < 0)
		return false;
	return now_ms < n->until_ms[(uintptr_t)data];
}
