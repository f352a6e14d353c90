/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_hash_crc.h>
#include <rte_mbuf_dyn.h>
#include <rte_pause.h>

#include "replay.h"

struct replay {
	struct tr_relay *r;
	uint16_t port;
	int ts_off;
	uint64_t ts_flag;
	bool have_t0;
	uint64_t t0_us;
	uint64_t last_ms;
	uint64_t dispatched[RTE_MAX_LCORE];
};

/* net_pcap puts each packet's capture time (us since the epoch) in the
 * mbuf timestamp dynamic field. */
static uint64_t packet_ms(struct replay *rp, const struct rte_mbuf *m)
{
	if (rp->ts_off < 0 || (m->ol_flags & rp->ts_flag) == 0)
		return rp->last_ms;
	uint64_t us = *RTE_MBUF_DYNFIELD(m, rp->ts_off, const uint64_t *);

	if (!rp->have_t0) {
		rp->t0_us = us;
		rp->have_t0 = true;
	}
	uint64_t ms = us >= rp->t0_us ? 1000000 + (us - rp->t0_us) / 1000 : rp->last_ms;
	return ms > rp->last_ms ? ms : rp->last_ms;
}

/* Software RSS: outer addresses and ports on the IPv4 side, addresses on
 * the IPv6 side, as a NIC would spread them. */
static unsigned rss_worker(const struct rte_mbuf *m, unsigned n)
{
	const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t len = m->data_len;
	uint64_t fields[4];       /* aligned copy: rte_hash_crc reads 8-byte words */
	uint32_t h = 0;

	if (len >= 38 && f[12] == 0x08 && f[13] == 0x00) {
		memcpy(fields, f + 26, 12);
		h = rte_hash_crc(fields, 12, 0);
	} else if (len >= 54 && f[12] == 0x86 && f[13] == 0xdd) {
		memcpy(fields, f + 22, 32);
		h = rte_hash_crc(fields, 32, 0);
	}
	return h % n;
}

/* Everything the lcores sent, in order, to the output port. */
static void write_out(struct replay *rp)
{
	struct rte_mbuf *out[TR_BURST_MAX];
	unsigned n;

	while ((n = rte_ring_sc_dequeue_burst(rp->r->replay_tx, (void **)out, TR_BURST_MAX, NULL)) > 0) {
		unsigned sent = 0;

		while (sent < n)
			sent += rte_eth_tx_burst(rp->port, 0, out + sent, (uint16_t)(n - sent));
	}
}

/* One control tick at capture time ms, and what it sent. */
static void tick_at(struct replay *rp, uint64_t ms)
{
	struct tr_relay *r = rp->r;
	bool new_second = ms / 1000 != rp->last_ms / 1000;

	rp->last_ms = ms;
	tr_clock_advance(&r->clock, ms);
	tr_control_tick(r->ctrl, new_second);
	tr_tx_flush_all(&r->lc[r->control_lcore]);
	write_out(rp);
}

/* Discrete-event time: a live relay's control lcore ticks continuously, so
 * every tick that has work between the last one and ms happens, in order —
 * each peer timer at its own deadline (bubble retries, give-up), and the
 * housekeeping (sweeps, reassembly and neighbour time-outs) every
 * TR_CONTROL_PERIOD_MS — before the tick at ms itself. */
static void advance_to(struct replay *rp, uint64_t ms)
{
	bool peer_timer;
	uint64_t next;

	while (!rp->r->stop && (next = tr_control_next_due(rp->r->ctrl, &peer_timer)) < ms)
		tick_at(rp, next);
	tick_at(rp, ms);
}

/* After the capture: the clock runs on while peer timers are armed (a
 * capture that ends in a bubble still shows its outcome), at most drain_ms. */
static void drain(struct replay *rp, uint32_t drain_ms)
{
	uint64_t end = rp->last_ms + drain_ms;
	bool peer_timer;
	uint64_t next;

	while (!rp->r->stop && (next = tr_control_next_due(rp->r->ctrl, &peer_timer)) <= end &&
	       peer_timer)
		tick_at(rp, next);
}

static void run_group(struct replay *rp, struct rte_mbuf **pkts, uint16_t n)
{
	struct tr_relay *r = rp->r;
	struct tr_lcore *ctl = &r->lc[r->control_lcore];

	if (r->n_workers == 0) {
		tr_worker_burst(ctl, pkts, n);
	} else {
		for (uint16_t i = 0; i < n; i++) {
			unsigned w = r->worker_lcore[rss_worker(pkts[i], r->n_workers)];

			while (rte_ring_enqueue(r->lc[w].rx_ring, pkts[i]) != 0)
				rte_pause();
			rp->dispatched[w]++;
		}
		/* Lockstep: the group is done before control looks at the ring. */
		for (unsigned k = 0; k < r->n_workers; k++) {
			unsigned w = r->worker_lcore[k];

			while (__atomic_load_n(&r->lc[w].processed, __ATOMIC_ACQUIRE) < rp->dispatched[w])
				rte_pause();
		}
	}
	while (tr_control_poll_ring(r->ctrl) > 0)
		;
	tr_tx_flush_all(ctl);
	write_out(rp);
}

int tr_replay_run(struct tr_relay *r, uint16_t port)
{
	struct replay rp = { .r = r, .port = port, .last_ms = 1000000 };
	struct rte_mbuf *pkts[TR_BURST_MAX];
	int flag_bit = rte_mbuf_dynflag_lookup(RTE_MBUF_DYNFLAG_RX_TIMESTAMP_NAME, NULL);

	rp.ts_off = rte_mbuf_dynfield_lookup(RTE_MBUF_DYNFIELD_TIMESTAMP_NAME, NULL);
	rp.ts_flag = flag_bit >= 0 ? 1ULL << flag_bit : 0;
	if (rp.ts_off < 0)
		fprintf(stderr, "terelay: replay: the device gives no timestamps; timers see no time pass\n");

	while (!r->stop) {
		uint16_t n = rte_eth_rx_burst(port, 0, pkts, r->cfg.burst);

		if (n == 0)
			break;          /* net_pcap: end of the capture */
		for (uint16_t i = 0; i < n;) {
			uint64_t ms = packet_ms(&rp, pkts[i]);
			uint16_t j = (uint16_t)(i + 1);

			while (j < n && packet_ms(&rp, pkts[j]) == ms)
				j++;
			/* Timers due up to this group's time fire before it. */
			advance_to(&rp, ms);
			run_group(&rp, pkts + i, (uint16_t)(j - i));
			i = j;
		}
	}
	drain(&rp, r->replay_drain_ms);
	tr_tx_flush_all(&r->lc[r->control_lcore]);
	write_out(&rp);
	return 0;
}
