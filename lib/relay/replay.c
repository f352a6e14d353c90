/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_hash_crc.h>
#include <rte_mbuf_dyn.h>
#include <rte_pause.h>

#include <pcap/pcap.h>

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
	/* The output, written here (not by the vdev) so that each frame carries
	 * the relay time at which it was sent, on the capture's time base. */
	pcap_t *dead;
	pcap_dumper_t *out;
	uint8_t frame[RTE_MBUF_DEFAULT_BUF_SIZE * 8];
	uint8_t tagged[RTE_MBUF_DEFAULT_BUF_SIZE * 8 + 2 * TR_VLAN_HLEN];
	/* One IPv4 ID sequence for the whole relay, handed to whichever lcore
	 * works next: the lockstep runs one lcore at a time, so the output does
	 * not depend on how many workers there are. */
	uint16_t ip_id;
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
	uint64_t ms = us >= rp->t0_us ? rp->r->clock.base_ms + (us - rp->t0_us) / 1000 : rp->last_ms;
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
	uint32_t t = 0;           /* VLAN tags: a NIC's RSS looks past them */

	while (t < 2 * TR_VLAN_HLEN && len >= 18 + t &&
	       ((f[12 + t] == 0x81 && f[13 + t] == 0x00) || (f[12 + t] == 0x88 && f[13 + t] == 0xa8)))
		t += TR_VLAN_HLEN;
	f += t;
	len -= t;
	if (len >= 38 && f[12] == 0x08 && f[13] == 0x00) {
		memcpy(fields, f + 26, 12);
		h = rte_hash_crc(fields, 12, 0);
	} else if (len >= 54 && f[12] == 0x86 && f[13] == 0xdd) {
		memcpy(fields, f + 22, 32);
		h = rte_hash_crc(fields, 32, 0);
	}
	return h % n;
}

/* Capture time (us since the epoch) of relay time ms: the first input
 * frame is the time base (relay clock base_ms: 1000000 ms, or the state
 * file's clock continued, D96). */
static uint64_t capture_us(const struct replay *rp, uint64_t ms)
{
	return rp->t0_us + (ms - rp->r->clock.base_ms) * 1000;
}

/* A packet's own capture time, us (the group's output stamp): never before
 * the relay clock, which does not go backwards. */
static uint64_t packet_us(struct replay *rp, const struct rte_mbuf *m)
{
	uint64_t floor_us = capture_us(rp, rp->last_ms);

	if (rp->ts_off < 0 || (m->ol_flags & rp->ts_flag) == 0)
		return floor_us;
	uint64_t us = *RTE_MBUF_DYNFIELD(m, rp->ts_off, const uint64_t *);

	return us > floor_us ? us : floor_us;
}

/* What a NIC with VLAN / QinQ insert offload puts on the wire for m (the
 * profile's NIC, D41): its tags after the MAC addresses, 0x8100 for one
 * tag, 0x88a8 + 0x8100 for a pair. d holds the frame's first *len bytes. */
static const void *nic_insert(struct replay *rp, const struct rte_mbuf *m, const void *d,
			      uint32_t *len, uint32_t *wire)
{
	bool qinq = (m->ol_flags & RTE_MBUF_F_TX_QINQ) != 0;
	struct tr_vlan v = {
		.ntags = qinq ? 2 : 1,
		.outer_tpid = qinq ? TR_TPID_8021AD : TR_TPID_8021Q,
	};
	uint32_t add = v.ntags * TR_VLAN_HLEN;
	uint8_t *f = rp->tagged + sizeof(rp->tagged) - sizeof(rp->frame);

	if (*len < 12 || *len + add > sizeof(rp->frame))
		return d;
	memmove(f, d, *len);
	f = tr_l2_insert(f, &v, qinq ? m->vlan_tci_outer : m->vlan_tci, m->vlan_tci);
	*len += add;
	*wire += add;
	return f;
}

/* What a NIC with VLAN / QinQ strip offload delivers (the profile's NIC,
 * D41): with QinQ strip two tags (outer 0x88a8 or 0x8100, inner 0x8100) or
 * one, with VLAN strip one 0x8100 tag, their TCIs in the mbuf. */
static void nic_strip(const struct tr_relay *r, struct rte_mbuf *m)
{
	bool qinq = false, one = false;

	for (int s = 0; s < 2; s++) {
		qinq = qinq || (r->replay_rx_strip[s] && r->vlan[s].ntags == 2);
		one = one || (r->replay_rx_strip[s] && r->vlan[s].ntags == 1);
	}
	uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);
	uint16_t t0 = m->data_len >= 18 ? (uint16_t)(f[12] << 8 | f[13]) : 0;
	uint16_t t1 = m->data_len >= 22 ? (uint16_t)(f[16] << 8 | f[17]) : 0;
	uint16_t tci0 = (uint16_t)(f[14] << 8 | f[15]), tci1 = (uint16_t)(f[18] << 8 | f[19]);
	unsigned n = 0;

	if (qinq && (t0 == TR_TPID_8021AD || t0 == TR_TPID_8021Q) && t1 == TR_TPID_8021Q) {
		m->vlan_tci_outer = tci0;
		m->vlan_tci = tci1;
		m->ol_flags |= RTE_MBUF_F_RX_QINQ_STRIPPED | RTE_MBUF_F_RX_QINQ |
			       RTE_MBUF_F_RX_VLAN_STRIPPED | RTE_MBUF_F_RX_VLAN;
		n = 2;
	} else if ((qinq || one) && t0 == TR_TPID_8021Q) {
		m->vlan_tci = tci0;
		m->ol_flags |= RTE_MBUF_F_RX_VLAN_STRIPPED | RTE_MBUF_F_RX_VLAN;
		n = 1;
	}
	if (n != 0) {
		memmove(f + n * TR_VLAN_HLEN, f, 12);
		rte_pktmbuf_adj(m, (uint16_t)(n * TR_VLAN_HLEN));
	}
}

/* Everything the lcores sent, in order, to the output, stamped us. */
static void write_out(struct replay *rp, uint64_t us)
{
	struct rte_mbuf *out[TR_BURST_MAX];
	unsigned n;

	while ((n = rte_ring_sc_dequeue_burst(rp->r->replay_tx, (void **)out, TR_BURST_MAX, NULL)) > 0) {
		for (unsigned i = 0; i < n; i++) {
			struct rte_mbuf *m = out[i];
			uint32_t len = RTE_MIN(m->pkt_len, (uint32_t)sizeof(rp->frame));
			const void *d = rte_pktmbuf_read(m, 0, len, rp->frame);
			uint32_t wire = m->pkt_len;

			if (m->ol_flags & (RTE_MBUF_F_TX_VLAN | RTE_MBUF_F_TX_QINQ))
				d = nic_insert(rp, m, d, &len, &wire);
			struct pcap_pkthdr h = {
				.ts = { .tv_sec = (time_t)(us / 1000000), .tv_usec = (suseconds_t)(us % 1000000) },
				.caplen = len,
				.len = wire,
			};

			pcap_dump((u_char *)rp->out, &h, d);
			rte_pktmbuf_free(m);
		}
	}
}

/* The shared IPv4 ID goes to the lcore that works next, and comes back. */
static void id_lend(struct replay *rp, unsigned lcore)
{
	rp->r->lc[lcore].ip_id = rp->ip_id;
}

static void id_return(struct replay *rp, unsigned lcore)
{
	rp->ip_id = rp->r->lc[lcore].ip_id;
}

/* One control tick at capture time ms, and what it sent. */
static void tick_at(struct replay *rp, uint64_t ms)
{
	struct tr_relay *r = rp->r;
	bool new_second = ms / 1000 != rp->last_ms / 1000;

	rp->last_ms = ms;
	tr_clock_advance(&r->clock, ms);
	id_lend(rp, r->control_lcore);
	tr_control_tick(r->ctrl, new_second);
	tr_tx_flush_all(&r->lc[r->control_lcore]);
	id_return(rp, r->control_lcore);
	write_out(rp, capture_us(rp, ms));
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

/* A group of packets with one capture time (us). Packet by packet, each on
 * its worker (software RSS) or, without workers, on the control lcore, the
 * next only when the last is done and sent (lockstep, D93): the output, the
 * order of what reaches control and the IPv4 IDs are then the same with any
 * number of workers. Control handles the group's hand-offs after it, as a
 * live control lcore would after the workers' burst. */
static void run_group(struct replay *rp, struct rte_mbuf **pkts, uint16_t n, uint64_t us)
{
	struct tr_relay *r = rp->r;
	struct tr_lcore *ctl = &r->lc[r->control_lcore];

	for (uint16_t i = 0; i < n; i++) {
		if (r->n_workers == 0) {
			id_lend(rp, r->control_lcore);
			tr_worker_burst(ctl, pkts + i, 1);
			tr_tx_flush_all(ctl);
			id_return(rp, r->control_lcore);
			continue;
		}
		unsigned w = r->worker_lcore[rss_worker(pkts[i], r->n_workers)];

		id_lend(rp, w);
		while (rte_ring_enqueue(r->lc[w].rx_ring, pkts[i]) != 0)
			rte_pause();
		rp->dispatched[w]++;
		/* The worker flushes its tx before it counts the packet processed. */
		while (__atomic_load_n(&r->lc[w].processed, __ATOMIC_ACQUIRE) < rp->dispatched[w])
			rte_pause();
		id_return(rp, w);
	}
	id_lend(rp, r->control_lcore);
	while (tr_control_poll_ring(r->ctrl) > 0)
		;
	tr_tx_flush_all(ctl);
	id_return(rp, r->control_lcore);
	write_out(rp, us);
}

int tr_replay_run(struct tr_relay *r, uint16_t port, const char *out_path)
{
	static struct replay rp;        /* holds a frame buffer: not on the stack */
	struct rte_mbuf *pkts[TR_BURST_MAX];
	int flag_bit = rte_mbuf_dynflag_lookup(RTE_MBUF_DYNFLAG_RX_TIMESTAMP_NAME, NULL);

	memset(&rp, 0, sizeof(rp));
	rp.r = r;
	rp.port = port;
	rp.last_ms = r->clock.base_ms;
	rp.dead = pcap_open_dead(DLT_EN10MB, (int)sizeof(rp.frame));
	rp.out = rp.dead != NULL ? pcap_dump_open(rp.dead, out_path) : NULL;
	if (rp.out == NULL) {
		fprintf(stderr, "terelay: %s: %s\n", out_path,
			rp.dead != NULL ? pcap_geterr(rp.dead) : "cannot open a pcap writer");
		if (rp.dead != NULL)
			pcap_close(rp.dead);
		return -1;
	}
	rp.ts_off = rte_mbuf_dynfield_lookup(RTE_MBUF_DYNFIELD_TIMESTAMP_NAME, NULL);
	rp.ts_flag = flag_bit >= 0 ? 1ULL << flag_bit : 0;
	if (rp.ts_off < 0)
		fprintf(stderr, "terelay: replay: the device gives no timestamps; timers see no time pass\n");

	while (!r->stop) {
		uint16_t n = rte_eth_rx_burst(port, 0, pkts, r->cfg.burst);

		if (n == 0)
			break;          /* net_pcap: end of the capture */
		if (r->replay_nic_vlan)
			for (uint16_t i = 0; i < n; i++)
				nic_strip(r, pkts[i]);
		for (uint16_t i = 0; i < n;) {
			uint64_t ms = packet_ms(&rp, pkts[i]);
			uint16_t j = (uint16_t)(i + 1);

			uint64_t us = packet_us(&rp, pkts[i]);

			while (j < n && packet_ms(&rp, pkts[j]) == ms && packet_us(&rp, pkts[j]) == us)
				j++;
			/* Timers due up to this group's time fire before it. */
			advance_to(&rp, ms);
			run_group(&rp, pkts + i, (uint16_t)(j - i), us);
			i = j;
		}
	}
	drain(&rp, r->replay_drain_ms);
	tr_tx_flush_all(&r->lc[r->control_lcore]);
	write_out(&rp, capture_us(&rp, rp.last_ms));
	pcap_dump_close(rp.out);
	pcap_close(rp.dead);
	return 0;
}

uint64_t tr_replay_first_ms(const char *path)
{
	char err[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline(path, err);
	struct pcap_pkthdr *h;
	const u_char *d;
	uint64_t ms = 0;

	if (p == NULL)
		return 0;
	if (pcap_next_ex(p, &h, &d) == 1)
		ms = (uint64_t)h->ts.tv_sec * 1000 + (uint64_t)h->ts.tv_usec / 1000;
	pcap_close(p);
	return ms;
}
