/* SPDX-License-Identifier: BSD-3-Clause
 *
 * tr_peerbench: the peer table (lib/relay/peer_table.c) on its own.
 *
 *   tr_peerbench [EAL options, -l 0,1] -- --peers N [options]
 *
 *  - bytes per peer from the allocator: rte_malloc heap_allocsz_bytes
 *    before and after creating and filling the table;
 *  - insert cycles (control-side tr_peer_add + trusted mapping);
 *  - bulk lookup cycles per key on the worker lcore (tr_peer_lookup_bulk,
 *    bursts of --burst random keys, then the peer's mapping word is read
 *    as the worker does), and single-key lookups;
 *  - the same bulk lookups for --seconds while the control lcore evicts
 *    the oldest peer and inserts a new one as fast as it can (readers are
 *    QSBR-registered and report a quiescent state after every burst),
 *    compared with the same seconds without a writer.
 * Output: a human summary on stderr and "RESULT {json}" on stdout.
 */
#include <inttypes.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include "peer_table.h"
#include "tr_perf_addr.h"

#define NKEYS_MAX (1u << 20)

struct popts {
	uint32_t peers, capacity, shards, burst, servers;
	uint64_t seed;
	double seconds;
};

static struct tr_peer_table *table;
static struct rte_rcu_qsbr *qsbr;
static uint8_t (*keys)[16];          /* random sample of present keys, lookup order */
static uint32_t nkeys;
static volatile int stop;

struct reader {
	unsigned burst;
	bool timed;                      /* run until stop, else one pass over keys */
	uint64_t keys, hits, cycles;
};

static int reader_main(void *arg)
{
	struct reader *rd = arg;
	const uint8_t *kp[64];
	struct tr_peer_ref refs[64];
	uint64_t sink = 0, idx = 0;

	rte_rcu_qsbr_thread_register(qsbr, 0);
	rte_rcu_qsbr_thread_online(qsbr, 0);
	uint64_t t0 = rte_rdtsc();
	for (;;) {
		if (rd->timed ? stop : idx + rd->burst > nkeys)
			break;
		for (unsigned i = 0; i < rd->burst; i++)
			kp[i] = keys[(idx + i) % nkeys];
		idx += rd->burst;
		tr_peer_lookup_bulk(table, kp, rd->burst, refs);
		for (unsigned i = 0; i < rd->burst; i++) {
			if (refs[i].pos >= 0) {
				sink += tr_peer_load_mapping(tr_peer_at(table, refs[i]));
				rd->hits++;
			}
		}
		rd->keys += rd->burst;
		rte_rcu_qsbr_quiescent(qsbr, 0);
	}
	rd->cycles = rte_rdtsc() - t0;
	rte_rcu_qsbr_thread_offline(qsbr, 0);
	rte_rcu_qsbr_thread_unregister(qsbr, 0);
	if (sink == 42)
		fprintf(stderr, " ");
	return 0;
}

static int add_trusted(const struct popts *o, uint32_t i)
{
	struct tr_perf_client c;

	tr_perf_client(o->seed, o->servers, i, &c);
	struct tr_peer_ref ref = tr_peer_add(table, c.addr, c.ip, c.port, 1000000);
	if (ref.pos < 0) {
		static int reported;
		if (!reported++)
			fprintf(stderr, "tr_peerbench: first insert failure: key %u, shard %u, error %d "
				"(shard count %u of %u)\n", i, ref.shard, ref.pos,
				table->shard[ref.shard].count, table->shard[ref.shard].capacity);
		return -1;
	}
	tr_peer_set_mapping(tr_peer_at(table, ref), c.ip, c.port, TR_PEER_TRUSTED);
	return 0;
}

static int del_peer(const struct popts *o, uint32_t i)
{
	struct tr_perf_client c;

	tr_perf_client(o->seed, o->servers, i, &c);
	struct tr_peer_ref ref = tr_peer_lookup(table, c.addr);
	if (ref.pos < 0)
		return -1;
	tr_peer_del(table, ref);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "peers", required_argument, NULL, 'n' }, { "capacity", required_argument, NULL, 'c' },
		{ "shards", required_argument, NULL, 's' }, { "burst", required_argument, NULL, 'b' },
		{ "seed", required_argument, NULL, 'e' }, { "servers", required_argument, NULL, 'S' },
		{ "seconds", required_argument, NULL, 't' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct popts o = { .peers = 1000, .shards = 1, .burst = 32, .servers = 16, .seed = 1,
			   .seconds = 2.0 };
	int ret = rte_eal_init(argc, argv);
	int c;

	if (ret < 0) {
		fprintf(stderr, "tr_peerbench: EAL: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	argc -= ret;
	argv += ret;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'n': o.peers = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'c': o.capacity = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 's': o.shards = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'b': o.burst = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'e': o.seed = strtoull(optarg, NULL, 0); break;
		case 'S': o.servers = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 't': o.seconds = strtod(optarg, NULL); break;
		case 'h':
			printf("usage: tr_peerbench [EAL -l 0,1] -- --peers N [--capacity N] [--shards N]\n"
			       "       [--burst 1..64] [--seed N] [--servers S] [--seconds T]\n");
			return 0;
		default: return 2;
		}
	}
	if (o.peers == 0 || o.burst == 0 || o.burst > 64 || rte_lcore_count() < 2) {
		fprintf(stderr, "tr_peerbench: needs --peers > 0, --burst 1..64 and two lcores (-l 0,1)\n");
		return 2;
	}
	if (o.capacity == 0)
		o.capacity = o.peers + o.peers / 8 + 1024;
	unsigned worker = rte_get_next_lcore(rte_get_main_lcore(), 1, 0);
	int socket = (int)rte_socket_id();
	double hz = (double)rte_get_tsc_hz();

	qsbr = rte_zmalloc("pb_qsbr", rte_rcu_qsbr_get_memsize(1), RTE_CACHE_LINE_SIZE);
	if (qsbr == NULL || rte_rcu_qsbr_init(qsbr, 1) != 0)
		return 1;

	/* Memory: allocator view before/after create and fill. */
	struct rte_malloc_socket_stats m0, m1, m2;
	rte_malloc_get_socket_stats(socket, &m0);
	table = tr_peer_table_create("pb_peers", o.capacity, o.shards, socket, qsbr);
	if (table == NULL) {
		fprintf(stderr, "tr_peerbench: table of %u: %s\n", o.capacity, rte_strerror(rte_errno));
		return 1;
	}
	rte_malloc_get_socket_stats(socket, &m1);
	uint64_t t0 = rte_rdtsc();
	for (uint32_t i = 0; i < o.peers; i++) {
		if (add_trusted(&o, i) != 0) {
			fprintf(stderr, "tr_peerbench: insert %u of %u failed (capacity %u)\n", i, o.peers,
				table->capacity);
			return 1;
		}
	}
	uint64_t t1 = rte_rdtsc();
	rte_malloc_get_socket_stats(socket, &m2);
	double insert_cyc = (double)(t1 - t0) / o.peers;
	uint64_t bytes = m2.heap_allocsz_bytes - m0.heap_allocsz_bytes;
	uint64_t bytes_empty = m1.heap_allocsz_bytes - m0.heap_allocsz_bytes;

	/* Lookup keys: a random sample (with repetition) of the present peers. */
	nkeys = o.peers < NKEYS_MAX ? RTE_MAX(o.peers, 4096u) : NKEYS_MAX;
	keys = malloc((size_t)nkeys * 16);
	if (keys == NULL)
		return 1;
	struct tr_perf_rng rng = { .s = o.seed * 7919 + 1 };
	for (uint32_t k = 0; k < nkeys; k++) {
		struct tr_perf_client cl;
		tr_perf_client(o.seed, o.servers, (uint32_t)(tr_perf_rand(&rng) % o.peers), &cl);
		memcpy(keys[k], cl.addr, 16);
	}

	/* Single pass of bulk lookups (cycles per key, cold-ish). */
	struct reader pass = { .burst = o.burst };
	rte_eal_remote_launch(reader_main, &pass, worker);
	rte_eal_wait_lcore(worker);

	/* Single-key lookups on the main lcore, for comparison. */
	uint64_t s0 = rte_rdtsc(), shits = 0;
	uint32_t nsingle = RTE_MIN(nkeys, 262144u);
	for (uint32_t k = 0; k < nsingle; k++)
		shits += tr_peer_lookup(table, keys[k]).pos >= 0;
	double single_cyc = (double)(rte_rdtsc() - s0) / nsingle;

	/* Timed readers, without then with a concurrent writer. */
	struct reader alone = { .burst = o.burst, .timed = true };
	stop = 0;
	rte_eal_remote_launch(reader_main, &alone, worker);
	rte_delay_us_block((unsigned)(o.seconds * 1e6));
	stop = 1;
	rte_eal_wait_lcore(worker);

	struct reader busy = { .burst = o.burst, .timed = true };
	uint64_t w_ops = 0, w_fail = 0, del_fail = 0;
	uint32_t oldest = 0, next = o.peers;
	stop = 0;
	rte_eal_remote_launch(reader_main, &busy, worker);
	uint64_t w0 = rte_rdtsc(), wend = w0 + (uint64_t)(o.seconds * hz);
	while (rte_rdtsc() < wend) {
		/* Evict the oldest peer, insert a new one: the table stays full. */
		if (del_peer(&o, oldest++) != 0)
			del_fail++;
		if (next >= TR_PERF_MAX_CLIENTS || add_trusted(&o, next++) != 0)
			w_fail++;
		w_ops++;
	}
	if (del_fail || w_fail)
		fprintf(stderr, "tr_peerbench: writer: %" PRIu64 " deletes found no key, %" PRIu64 " inserts failed\n",
			del_fail, w_fail);
	w_fail += del_fail;
	double wsecs = (double)(rte_rdtsc() - w0) / hz;
	stop = 1;
	rte_eal_wait_lcore(worker);

	double alone_mkps = (double)alone.keys / ((double)alone.cycles / hz) / 1e6;
	double busy_mkps = (double)busy.keys / ((double)busy.cycles / hz) / 1e6;
	fprintf(stderr,
		"tr_peerbench: %u peers (capacity %u, %u shards): %.1f MiB = %.1f B/peer (empty table %.1f MiB); "
		"insert %.0f cycles; bulk(%u) lookup %.1f cycles/key (hits %.1f%%); single %.1f cycles/key; "
		"reader alone %.2f Mkeys/s, with writer %.2f Mkeys/s (%.1f%%) while writer did %.0f evict+insert/s (%" PRIu64 " failed)\n",
		o.peers, table->capacity, o.shards, (double)bytes / 1048576.0, (double)bytes / o.peers,
		(double)bytes_empty / 1048576.0, insert_cyc, o.burst,
		(double)pass.cycles / (double)pass.keys, 100.0 * (double)pass.hits / (double)pass.keys,
		single_cyc, alone_mkps, busy_mkps, 100.0 * busy_mkps / alone_mkps, (double)w_ops / wsecs,
		w_fail);
	printf("RESULT {\"peers\": %u, \"capacity\": %u, \"shards\": %u, \"burst\": %u, \"tsc_hz\": %.0f"
	       ", \"table_bytes\": %" PRIu64 ", \"table_bytes_empty\": %" PRIu64 ", \"bytes_per_peer\": %.2f"
	       ", \"insert_cycles\": %.1f, \"inserts_per_s\": %.0f, \"bulk_lookup_cycles_per_key\": %.2f"
	       ", \"bulk_lookup_mkeys_per_s\": %.3f, \"bulk_hit_ratio\": %.4f"
	       ", \"single_lookup_cycles_per_key\": %.2f, \"reader_alone_mkeys_per_s\": %.3f"
	       ", \"reader_with_writer_mkeys_per_s\": %.3f, \"reader_with_writer_ratio\": %.4f"
	       ", \"writer_evict_insert_per_s\": %.0f, \"writer_failures\": %" PRIu64 "}\n",
	       o.peers, table->capacity, o.shards, o.burst, hz, bytes, bytes_empty,
	       (double)bytes / o.peers, insert_cyc, hz / insert_cyc,
	       (double)pass.cycles / (double)pass.keys, hz / ((double)pass.cycles / (double)pass.keys) / 1e6,
	       (double)pass.hits / (double)pass.keys, single_cyc, alone_mkps, busy_mkps,
	       busy_mkps / alone_mkps, (double)w_ops / wsecs, w_fail);
	(void)shits;
	tr_peer_table_free(table);
	rte_free(qsbr);
	free(keys);
	rte_eal_cleanup();
	return 0;
}
