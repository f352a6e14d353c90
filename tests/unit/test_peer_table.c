/* SPDX-License-Identifier: BSD-3-Clause
 * The sharded peer table and the pending pool (queues + bubble timers),
 * with EAL (--no-huge) but no ports. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <rte_eal.h>
#include <rte_mbuf.h>

#include "pending.h"
#include "peer_table.h"

static struct rte_mempool *pool;

static void key_of(uint8_t k[16], uint32_t i)
{
	memset(k, 0, 16);
	k[0] = 0x20;
	k[1] = 0x01;
	memcpy(k + 12, &i, 4);
	k[8] = (uint8_t)(i * 7);
}

static void add_lookup_delete(void **state)
{
	struct tr_peer_table *t = tr_peer_table_create("t1", 4096, 4, 0, NULL);
	uint8_t k[16];

	(void)state;
	assert_non_null(t);
	assert_true(t->capacity >= 4096);
	for (uint32_t i = 0; i < 1000; i++) {
		key_of(k, i);
		struct tr_peer_ref r = tr_peer_add(t, k, 0xC0000201 + i, (uint16_t)(4096 + i), 5000000);
		assert_true(r.pos >= 0);
		struct tr_peer *p = tr_peer_at(t, r);
		uint64_t m = tr_peer_load_mapping(p);
		/* RFC 4380 §5.2.6: a new entry is untrusted, times 30 s in the past. */
		assert_int_equal(tr_map_state(m), TR_PEER_PENDING);
		assert_int_equal(tr_map_ip(m), 0xC0000201 + i);
		assert_int_equal(tr_map_port(m), 4096 + i);
		assert_int_equal(p->last_rx, 5000000 - 30000);
		assert_int_equal(p->bubbles, 0);
		assert_int_equal(p->pend, TR_PEER_NO_SLOT);
	}
	assert_int_equal(t->count, 1000);

	/* Bulk lookup finds each key at the position single lookup gives. */
	const uint8_t *keys[64];
	uint8_t kb[64][16];
	struct tr_peer_ref refs[64];
	for (uint32_t i = 0; i < 64; i++) {
		key_of(kb[i], i * 20);           /* 0..1260: the last ones are misses */
		keys[i] = kb[i];
	}
	tr_peer_lookup_bulk(t, keys, 64, refs);
	for (uint32_t i = 0; i < 64; i++) {
		struct tr_peer_ref one = tr_peer_lookup(t, kb[i]);
		if (i * 20 < 1000) {
			assert_true(refs[i].pos >= 0);
			assert_int_equal(refs[i].pos, one.pos);
			assert_int_equal(refs[i].shard, one.shard);
			assert_memory_equal(tr_peer_key(t, refs[i]), kb[i], 16);
		} else {
			assert_true(refs[i].pos < 0);
		}
	}
	/* Delete: gone, and the entry reads FREE for any racing reader. */
	key_of(k, 7);
	struct tr_peer_ref r = tr_peer_lookup(t, k);
	tr_peer_del(t, r);
	assert_true(tr_peer_lookup(t, k).pos < 0);
	assert_int_equal(tr_map_state(tr_peer_load_mapping(tr_peer_at(t, r))), TR_PEER_FREE);
	assert_int_equal(t->count, 999);
	tr_peer_table_free(t);
}

static void shard_full_is_refused(void **state)
{
	/* 64 per shard minimum; one shard: the 65th add fails, nothing leaks. */
	struct tr_peer_table *t = tr_peer_table_create("t2", 64, 1, 0, NULL);
	uint8_t k[16];

	(void)state;
	assert_non_null(t);
	for (uint32_t i = 0; i < 64; i++) {
		key_of(k, i);
		assert_true(tr_peer_add(t, k, 1, 1, 0).pos >= 0);
	}
	key_of(k, 64);
	assert_true(tr_peer_add(t, k, 1, 1, 0).pos < 0);
	key_of(k, 3);
	tr_peer_del(t, tr_peer_lookup(t, k));
	key_of(k, 64);
	assert_true(tr_peer_add(t, k, 1, 1, 0).pos >= 0);
	tr_peer_table_free(t);
}

static void bad_shard_counts(void **state)
{
	(void)state;
	assert_null(tr_peer_table_create("t3", 1024, 3, 0, NULL));
	assert_null(tr_peer_table_create("t4", 1024, 0, 0, NULL));
	assert_null(tr_peer_table_create("t5", 0, 1, 0, NULL));
}

static void pending_timers_in_deadline_order(void **state)
{
	struct tr_pend_pool p;
	struct tr_peer_ref ref = { 0, 0 };

	(void)state;
	assert_int_equal(tr_pend_pool_init(&p, 8, 0), 0);
	uint32_t a = tr_pend_alloc(&p, ref), b = tr_pend_alloc(&p, ref), c = tr_pend_alloc(&p, ref);
	tr_pend_arm(&p, a, 3000);
	tr_pend_arm(&p, b, 1000);
	tr_pend_arm(&p, c, 2000);
	assert_int_equal(tr_pend_due(&p, 999), TR_PEND_NONE);
	assert_int_equal(tr_pend_due(&p, 1000), b);
	tr_pend_arm(&p, b, 4000);                 /* re-arm moves it to the back */
	assert_int_equal(tr_pend_due(&p, 5000), c);
	tr_pend_release(&p, c);                   /* release unlinks it */
	assert_int_equal(tr_pend_due(&p, 5000), a);
	tr_pend_release(&p, a);
	assert_int_equal(tr_pend_due(&p, 3999), TR_PEND_NONE);
	assert_int_equal(tr_pend_due(&p, 4000), b);
	tr_pend_release(&p, b);
	assert_int_equal(p.n_free, 8);
	/* Budget: the ninth slot is refused. */
	for (int i = 0; i < 8; i++)
		assert_int_not_equal(tr_pend_alloc(&p, ref), TR_PEND_NONE);
	assert_int_equal(tr_pend_alloc(&p, ref), TR_PEND_NONE);
	tr_pend_pool_free(&p);
}

static void pending_queue_fifo_and_caps(void **state)
{
	struct tr_pend_pool p;
	struct tr_peer_ref ref = { 0, 0 };
	struct rte_mbuf *m[6];

	(void)state;
	assert_int_equal(tr_pend_pool_init(&p, 4, 0), 0);
	uint32_t s = tr_pend_alloc(&p, ref);
	for (int i = 0; i < 6; i++)
		assert_non_null(m[i] = rte_pktmbuf_alloc(pool));
	/* Byte cap (RFC 4380 §5.4.1 "SHOULD limit"): 600 + 600 fit in 1280, a third does not. */
	assert_true(tr_pend_push(&p, s, m[0], 600, 8, 1280, 100));
	assert_true(tr_pend_push(&p, s, m[1], 600, 8, 1280, 100));
	assert_false(tr_pend_push(&p, s, m[2], 600, 8, 1280, 100));
	/* Packet cap and global cap. */
	assert_false(tr_pend_push(&p, s, m[2], 10, 2, 1280, 100));
	assert_false(tr_pend_push(&p, s, m[2], 10, 8, 1280, 2));
	assert_int_equal(p.q_total, 2);
	/* FIFO: out in arrival order (Miredo's LIFO is a known bug). */
	assert_ptr_equal(tr_pend_pop(&p, s), m[0]);
	/* A pop gives its bytes back: 600 + 600 fit again. */
	assert_int_equal(p.slot[s].q_bytes, 600);
	assert_true(tr_pend_push(&p, s, m[2], 600, 8, 1280, 100));
	assert_ptr_equal(tr_pend_pop(&p, s), m[1]);
	assert_ptr_equal(tr_pend_pop(&p, s), m[2]);
	assert_int_equal(p.slot[s].q_bytes, 0);
	assert_null(tr_pend_pop(&p, s));
	/* Release frees whatever is still queued. */
	assert_true(tr_pend_push(&p, s, m[0], 100, 8, 1280, 100));
	assert_true(tr_pend_push(&p, s, m[1], 100, 8, 1280, 100));
	unsigned before = rte_mempool_avail_count(pool);
	tr_pend_release(&p, s);
	assert_int_equal(rte_mempool_avail_count(pool), before + 2);
	assert_int_equal(p.q_total, 0);
	for (int i = 2; i < 6; i++)
		rte_pktmbuf_free(m[i]);
	tr_pend_pool_free(&p);
}

int main(int argc, char **argv)
{
	if (rte_eal_init(argc, argv) < 0)
		return 1;
	pool = rte_pktmbuf_pool_create("test_pool", 1024, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
	if (pool == NULL)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(add_lookup_delete),
		cmocka_unit_test(shard_full_is_refused),
		cmocka_unit_test(bad_shard_counts),
		cmocka_unit_test(pending_timers_in_deadline_order),
		cmocka_unit_test(pending_queue_fifo_and_caps),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	rte_mempool_free(pool);
	rte_eal_cleanup();
	return rc;
}
