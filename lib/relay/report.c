/* SPDX-License-Identifier: BSD-3-Clause */
#include <inttypes.h>
#include <string.h>

#include <rte_ethdev.h>

#include "report.h"

/* This process's resident high-water mark. Not getrusage(): ru_maxrss
 * survives execve, so a relay started by a big parent would report the
 * parent's peak. */
static uint64_t rss_peak_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[128];
	uint64_t kb = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmHWM: %" SCNu64 " kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

void tr_snapshot_take(const struct tr_relay *r, struct tr_snapshot *s)
{
	memset(&s->sum, 0, sizeof(s->sum));
	for (unsigned i = 0; i < RTE_MAX_LCORE; i++)
		tr_counters_add(&s->sum, &r->lc[i].cnt);
	s->sum.drops[TR_DROP_NONE] = 0;
	s->peers_current = r->peers ? r->peers->count : 0;
	s->peers_pending = r->ctrl ? tr_control_pending_count(r->ctrl) : 0;
	s->queued_now = r->ctrl ? tr_control_queued_count(r->ctrl) : 0;
	s->reasm_held = r->ctrl ? tr_control_reasm_held(r->ctrl) : 0;
	s->workers_stalled = r->ctrl ? tr_control_stalled_workers(r->ctrl) : 0;
	s->nic_rx_missed = s->nic_rx_errors = s->nic_tx_errors = 0;
	for (int k = 0; k < 2; k++) {
		uint16_t port = k == 0 ? r->port_teredo : r->port_native;
		struct rte_eth_stats es;

		if ((k == 1 && port == r->port_teredo) || !rte_eth_dev_is_valid_port(port) ||
		    rte_eth_stats_get(port, &es) != 0)
			continue;
		s->nic_rx_missed += es.imissed;
		s->nic_rx_errors += es.ierrors + es.rx_nombuf;
		s->nic_tx_errors += es.oerrors;
	}
	s->rss_peak_kb = rss_peak_kb();
	s->n_workers = r->n_workers;
	for (unsigned w = 0; w < r->n_workers; w++)
		s->worker_rx[w] = r->lc[r->worker_lcore[w]].cnt.rx_packets;
	s->in_flight = r->to_ctrl ? rte_ring_count(r->to_ctrl) : 0;
	for (unsigned i = 0; i < RTE_MAX_LCORE; i++)
		if (r->lc[i].rx_ring != NULL)
			s->in_flight += rte_ring_count(r->lc[i].rx_ring);
	const struct tr_counters *c = &s->sum;
	s->accounting_ok = c->rx_packets == c->fwd_native + c->fwd_teredo + c->consumed +
					    tr_counters_drops_total(c) + s->queued_now + s->reasm_held +
					    s->in_flight;
}

void tr_report_summary(const struct tr_snapshot *s, FILE *out)
{
	const struct tr_counters *c = &s->sum;

	fprintf(out, "terelay summary\n");
	fprintf(out, "  packets in            %" PRIu64 " (%" PRIu64 " bytes)\n", c->rx_packets, c->rx_bytes);
	fprintf(out, "  packets out           %" PRIu64 " (%" PRIu64 " bytes)\n", c->tx_packets, c->tx_bytes);
	fprintf(out, "  decapsulated          %" PRIu64 " (client -> native)\n", c->decapsulated);
	fprintf(out, "  encapsulated          %" PRIu64 " (native -> client, %" PRIu64 " flushed from queues)\n",
		c->encapsulated, c->flushed);
	fprintf(out, "  bubbles               %" PRIu64 " indirect sent, %" PRIu64 " direct received, %" PRIu64 " rate-limited\n",
		c->bubbles_sent, c->bubbles_received, c->bubbles_ratelimited);
	fprintf(out, "  peers                 %" PRIu64 " created, %" PRIu64 " trusted, %" PRIu64 " failed verification, "
		"%" PRIu64 " expired, %" PRIu64 " evicted; %" PRIu64 " now (%" PRIu64 " pending)\n",
		c->peers_created, c->peers_trusted, c->peers_unverified_removed, c->peers_expired,
		c->peers_evicted, s->peers_current, s->peers_pending);
	fprintf(out, "  queued                %" PRIu64 " (%" PRIu64 " still waiting)\n", c->queued, s->queued_now);
	fprintf(out, "  answered              %" PRIu64 " ARP, %" PRIu64 " ND, %" PRIu64 " echo; %" PRIu64 " ICMPv6 errors sent (%" PRIu64 " rate-limited)\n",
		c->arp_replies, c->nd_adverts, c->echo_replies, c->icmp6_sent, c->icmp6_ratelimited);
	fprintf(out, "  lost in the devices   %" PRIu64 " rx missed, %" PRIu64 " rx errors, %" PRIu64 " tx errors\n",
		s->nic_rx_missed, s->nic_rx_errors, s->nic_tx_errors);
	fprintf(out, "  dropped               %" PRIu64 "\n", tr_counters_drops_total(c));
	for (unsigned d = 1; d < TR_DROP_MAX; d++)
		if (c->drops[d] != 0)
			fprintf(out, "    %-22s %" PRIu64 "  (%s)\n", tr_drop_name(d), c->drops[d], tr_drop_help(d));
	fprintf(out, "  accounting            %s: in = native + teredo + consumed + dropped + queued + in flight\n",
		s->accounting_ok ? "ok" : "MISMATCH");
}

void tr_report_line(const struct tr_snapshot *s, FILE *out)
{
	const struct tr_counters *c = &s->sum;

	fprintf(out, "terelay: rx %" PRIu64 " tx %" PRIu64 " encap %" PRIu64 " decap %" PRIu64
		" bubbles %" PRIu64 "/%" PRIu64 " peers %" PRIu64 " (%" PRIu64 " pending) queued %" PRIu64
		" drops %" PRIu64 "\n",
		c->rx_packets, c->tx_packets, c->encapsulated, c->decapsulated, c->bubbles_sent,
		c->bubbles_received, s->peers_current, s->peers_pending, s->queued_now,
		tr_counters_drops_total(c));
}

int tr_report_json(const struct tr_snapshot *s, const char *path)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -1;
	const struct tr_counters *c = &s->sum;

	fprintf(f, "{\n");
#define TR_C_JSON(n, h) fprintf(f, "  \"%s\": %" PRIu64 ",\n", #n, c->n);
	TR_COUNTERS(TR_C_JSON)
#undef TR_C_JSON
	fprintf(f, "  \"peers_current\": %" PRIu64 ",\n", s->peers_current);
	fprintf(f, "  \"peers_pending\": %" PRIu64 ",\n", s->peers_pending);
	fprintf(f, "  \"queued_now\": %" PRIu64 ",\n", s->queued_now);
	fprintf(f, "  \"reasm_held\": %" PRIu64 ",\n", s->reasm_held);
	fprintf(f, "  \"in_flight\": %" PRIu64 ",\n", s->in_flight);
	fprintf(f, "  \"workers_stalled\": %" PRIu64 ",\n", s->workers_stalled);
	fprintf(f, "  \"nic_rx_missed\": %" PRIu64 ",\n", s->nic_rx_missed);
	fprintf(f, "  \"nic_rx_errors\": %" PRIu64 ",\n", s->nic_rx_errors);
	fprintf(f, "  \"nic_tx_errors\": %" PRIu64 ",\n", s->nic_tx_errors);
	fprintf(f, "  \"rss_peak_kb\": %" PRIu64 ",\n", s->rss_peak_kb);
	fprintf(f, "  \"drops_total\": %" PRIu64 ",\n", tr_counters_drops_total(c));
	fprintf(f, "  \"worker_rx_packets\": [");
	for (unsigned w = 0; w < s->n_workers; w++)
		fprintf(f, "%s%" PRIu64, w ? ", " : "", s->worker_rx[w]);
	fprintf(f, "],\n");
	fprintf(f, "  \"drops\": {\n");
	for (unsigned d = 1; d < TR_DROP_MAX; d++)
		fprintf(f, "    \"%s\": %" PRIu64 "%s\n", tr_drop_name(d), c->drops[d],
			d + 1 < TR_DROP_MAX ? "," : "");
	fprintf(f, "  },\n");
	fprintf(f, "  \"accounting_ok\": %s\n}\n", s->accounting_ok ? "true" : "false");
	return fclose(f) == 0 ? 0 : -1;
}
