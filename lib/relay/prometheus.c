/* SPDX-License-Identifier: BSD-3-Clause
 *
 * Prometheus /metrics over HTTP with libmicrohttpd. MHD runs its own polling
 * thread; each scrape takes a fresh snapshot of the per-lcore counters
 * (plain loads, like the telemetry commands) and renders the text
 * exposition format 0.0.4. Nothing here touches the fast path.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include <rte_ethdev.h>
#include <rte_lcore.h>

#include "prometheus.h"
#include "report.h"

static struct MHD_Daemon *prom_daemon;

/* Counters that get their own per-lcore metric family below rather than
 * terelay_<name>_total. */
static bool is_lcore_metric(const char *name)
{
	return strncmp(name, "polls_", 6) == 0 || strncmp(name, "cycles_", 7) == 0;
}

/* HELP text: escape '\' and newline (exposition format 0.0.4). */
static void help_line(FILE *out, const char *metric, const char *help)
{
	fprintf(out, "# HELP %s ", metric);
	for (const char *p = help; *p; p++) {
		if (*p == '\\')
			fputs("\\\\", out);
		else if (*p == '\n')
			fputs("\\n", out);
		else
			fputc(*p, out);
	}
	fputc('\n', out);
}

static void family(FILE *out, const char *metric, const char *type, const char *help)
{
	help_line(out, metric, help);
	fprintf(out, "# TYPE %s %s\n", metric, type);
}

void tr_prom_write(const struct tr_relay *r, FILE *out)
{
	struct tr_snapshot s;
	unsigned ids[RTE_MAX_LCORE];
	unsigned n = 0;

	tr_snapshot_take(r, &s);
	ids[n++] = r->control_lcore;
	for (unsigned w = 0; w < r->n_workers && n < RTE_MAX_LCORE; w++)
		ids[n++] = r->worker_lcore[w];

	/* Every counter, per lcore: sum(...) without (lcore) gives the relay total. */
#define TR_C_PROM(f, h) \
	if (!is_lcore_metric(#f)) { \
		family(out, "terelay_" #f "_total", "counter", h); \
		for (unsigned k = 0; k < n; k++) \
			fprintf(out, "terelay_" #f "_total{lcore=\"%u\"} %" PRIu64 "\n", ids[k], \
				r->lc[ids[k]].cnt.f); \
	}
	TR_COUNTERS(TR_C_PROM)
#undef TR_C_PROM

	family(out, "terelay_drops_total", "counter",
	       "packets dropped, by reason (lib/teredo/drop_reasons.def; every reason listed)");
	for (unsigned d = 1; d < TR_DROP_MAX; d++)
		fprintf(out, "terelay_drops_total{reason=\"%s\"} %" PRIu64 "\n",
			tr_drop_name((enum tr_drop_reason)d), s.sum.drops[d]);

	static const struct {
		const char *metric, *help;
		size_t off;
	} lcm[] = {
		{ "terelay_lcore_busy_polls_total", "polls that received packets",
		  offsetof(struct tr_counters, polls_busy) },
		{ "terelay_lcore_idle_polls_total", "polls that received nothing",
		  offsetof(struct tr_counters, polls_idle) },
		{ "terelay_lcore_busy_cycles_total", "TSC cycles spent in busy polls",
		  offsetof(struct tr_counters, cycles_busy) },
		{ "terelay_lcore_idle_cycles_total", "TSC cycles spent in idle polls",
		  offsetof(struct tr_counters, cycles_idle) },
	};
	for (size_t i = 0; i < RTE_DIM(lcm); i++) {
		family(out, lcm[i].metric, "counter", lcm[i].help);
		for (unsigned k = 0; k < n; k++) {
			const uint8_t *base = (const uint8_t *)&r->lc[ids[k]].cnt;
			uint64_t v;

			memcpy(&v, base + lcm[i].off, sizeof(v));
			fprintf(out, "%s{lcore=\"%u\",role=\"%s\"} %" PRIu64 "\n", lcm[i].metric, ids[k],
				ids[k] == r->control_lcore ? "control" : "worker", v);
		}
	}
	family(out, "terelay_lcore_heartbeat_total", "counter",
	       "main-loop iterations of the lcore (stalls when the lcore hangs)");
	for (unsigned k = 0; k < n; k++) {
		const struct tr_lcore *lc = &r->lc[ids[k]];
		bool worker = ids[k] != r->control_lcore;
		uint64_t hb = worker ? __atomic_load_n(&lc->heartbeat, __ATOMIC_RELAXED) :
				       lc->cnt.polls_busy + lc->cnt.polls_idle;

		fprintf(out, "terelay_lcore_heartbeat_total{lcore=\"%u\",role=\"%s\"} %" PRIu64 "\n",
			ids[k], worker ? "worker" : "control", hb);
	}
	family(out, "terelay_tsc_hz", "gauge", "TSC frequency: divides the cycle counters into seconds");
	fprintf(out, "terelay_tsc_hz %" PRIu64 "\n", rte_get_tsc_hz());

	/* Peers partitioned by state: pending = holding a verification slot. */
	uint64_t pending = s.peers_pending <= s.peers_current ? s.peers_pending : s.peers_current;

	family(out, "terelay_peers", "gauge", "peers in the table, by state");
	fprintf(out, "terelay_peers{state=\"pending\"} %" PRIu64 "\n", pending);
	fprintf(out, "terelay_peers{state=\"trusted\"} %" PRIu64 "\n", s.peers_current - pending);
	family(out, "terelay_peers_capacity", "gauge", "peer table capacity ([peers] capacity)");
	fprintf(out, "terelay_peers_capacity %" PRIu32 "\n", r->cfg.peers_max);
	family(out, "terelay_pending_capacity", "gauge",
	       "unverified peer slots ([peers] pending_capacity)");
	fprintf(out, "terelay_pending_capacity %" PRIu32 "\n", r->cfg.pending_max);
	family(out, "terelay_queued_packets", "gauge", "packets waiting for their peer's verification");
	fprintf(out, "terelay_queued_packets %" PRIu64 "\n", s.queued_now);
	family(out, "terelay_in_flight_packets", "gauge", "packets in rings between lcores");
	fprintf(out, "terelay_in_flight_packets %" PRIu64 "\n", s.in_flight);
	family(out, "terelay_workers_stalled", "gauge",
	       "worker lcores whose heartbeat has not moved for 500 ms");
	fprintf(out, "terelay_workers_stalled %" PRIu64 "\n", s.workers_stalled);
	family(out, "terelay_accounting_ok", "gauge",
	       "1 when received = forwarded + consumed + dropped + queued + in flight");
	fprintf(out, "terelay_accounting_ok %d\n", s.accounting_ok ? 1 : 0);

	/* The NICs' own view, per port (what the relay's lcores may never see). */
	static const struct {
		const char *metric, *help;
	} pm[] = {
		{ "terelay_port_rx_packets_total", "packets received by the port (ethdev ipackets)" },
		{ "terelay_port_rx_bytes_total", "bytes received by the port (ethdev ibytes)" },
		{ "terelay_port_tx_packets_total", "packets sent by the port (ethdev opackets)" },
		{ "terelay_port_tx_bytes_total", "bytes sent by the port (ethdev obytes)" },
		{ "terelay_port_rx_missed_total", "packets the port dropped for lack of rx descriptors (imissed)" },
		{ "terelay_port_rx_errors_total", "erroneous packets received (ierrors)" },
		{ "terelay_port_tx_errors_total", "packets the port failed to send (oerrors)" },
		{ "terelay_port_rx_nombuf_total", "rx mbuf allocation failures (rx_nombuf)" },
	};
	uint16_t ports[2] = { r->port_teredo, r->port_native };
	unsigned np = r->port_teredo == r->port_native ? 1 : 2;
	struct rte_eth_stats st[2];
	bool ok[2];

	for (unsigned i = 0; i < np; i++)
		ok[i] = rte_eth_dev_is_valid_port(ports[i]) && rte_eth_stats_get(ports[i], &st[i]) == 0;
	for (size_t m = 0; m < RTE_DIM(pm); m++) {
		family(out, pm[m].metric, "counter", pm[m].help);
		for (unsigned i = 0; i < np; i++) {
			if (!ok[i])
				continue;
			const uint64_t v[] = { st[i].ipackets, st[i].ibytes, st[i].opackets, st[i].obytes,
					       st[i].imissed, st[i].ierrors, st[i].oerrors, st[i].rx_nombuf };
			const char *role = np == 1 ? "both" : i == 0 ? "teredo" : "native";

			fprintf(out, "%s{port=\"%u\",role=\"%s\"} %" PRIu64 "\n", pm[m].metric, ports[i],
				role, v[m]);
		}
	}
}

static enum MHD_Result queue_text(struct MHD_Connection *conn, unsigned status, char *body,
				  size_t len, const char *type)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);

	if (resp == NULL) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	enum MHD_Result ret = MHD_queue_response(conn, status, resp);

	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
			       const char *method, const char *version, const char *upload_data,
			       size_t *upload_data_size, void **con_cls)
{
	const struct tr_relay *r = cls;

	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)con_cls;
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return queue_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, strdup("method not allowed\n"),
				  19, "text/plain");
	if (strcmp(url, "/metrics") != 0)
		return queue_text(conn, MHD_HTTP_NOT_FOUND, strdup("not found: try /metrics\n"), 24,
				  "text/plain");

	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (f == NULL)
		return MHD_NO;
	tr_prom_write(r, f);
	fclose(f);
	return queue_text(conn, MHD_HTTP_OK, text, len, "text/plain; version=0.0.4; charset=utf-8");
}

struct start_args {
	struct tr_relay *r;
	unsigned flags;
	struct sockaddr_storage sa;
	uint16_t port;
	struct MHD_Daemon *d;
};

/* Runs on an EAL control thread so that MHD's thread inherits the control
 * threads' CPU set instead of the main lcore's. */
static void *start_daemon(void *arg)
{
	struct start_args *a = arg;

	a->d = MHD_start_daemon(a->flags, a->port, NULL, NULL, handler, a->r,
				MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&a->sa,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)16,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
				MHD_OPTION_END);
	return NULL;
}

/* "a.b.c.d:port" or "[v6]:port" (already validated by the config loader). */
static int parse_endpoint(const char *ep, struct start_args *a)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon;
	size_t hl;

	memset(&a->sa, 0, sizeof(a->sa));
	if (ep[0] == '[') {
		const char *close = strchr(ep, ']');

		if (close == NULL || close[1] != ':')
			return -1;
		hl = (size_t)(close - ep - 1);
		colon = close + 1;
		ep++;
	} else {
		colon = strrchr(ep, ':');
		if (colon == NULL)
			return -1;
		hl = (size_t)(colon - ep);
	}
	if (hl >= sizeof(host))
		return -1;
	memcpy(host, ep, hl);
	host[hl] = '\0';
	char *end;
	unsigned long port = strtoul(colon + 1, &end, 10);

	if (*end != '\0' || port == 0 || port > 65535)
		return -1;
	a->port = (uint16_t)port;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&a->sa;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->sa;

	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(a->port);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(a->port);
		a->flags |= MHD_USE_IPv6;
		return 0;
	}
	return -1;
}

int tr_prom_start(struct tr_relay *r, char *err, size_t errlen)
{
	const char *ep = r->cfg.prometheus;

	if (ep[0] == '\0' || prom_daemon != NULL)
		return 0;
	struct start_args a = { .r = r, .flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG };

	if (parse_endpoint(ep, &a) != 0) {
		snprintf(err, errlen, "[telemetry] prometheus = %s: not ipv4:port or [ipv6]:port", ep);
		return -1;
	}
	pthread_t t;

	if (rte_ctrl_thread_create(&t, "tr-prom-start", NULL, start_daemon, &a) == 0)
		pthread_join(t, NULL);
	else
		start_daemon(&a);
	if (a.d == NULL) {
		snprintf(err, errlen, "[telemetry] prometheus = %s: cannot listen (address in use?)", ep);
		return -1;
	}
	prom_daemon = a.d;
	printf("terelay: Prometheus metrics on http://%s/metrics\n", ep);
	return 0;
}

void tr_prom_stop(void)
{
	if (prom_daemon == NULL)
		return;
	MHD_stop_daemon(prom_daemon);
	prom_daemon = NULL;
}
