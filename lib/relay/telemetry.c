/* SPDX-License-Identifier: BSD-3-Clause
 *
 * DPDK telemetry commands for terelay. They run on the EAL telemetry thread:
 * counters are read with plain loads of aligned 64-bit words written by one
 * lcore each (no tearing on the 64-bit targets DPDK supports), peers through
 * the lock-free lookup like a worker, and the control lcore's private state
 * (pending slots, queue lengths) with relaxed loads, so those values are
 * approximate while traffic flows.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_pdump.h>
#include <rte_telemetry.h>

#include "control_priv.h"
#include "report.h"
#include "telemetry.h"

/* The relay the commands describe; NULL before init and after fini. The
 * mutex keeps fini from freeing the relay under a running command. */
static pthread_mutex_t tel_lock = PTHREAD_MUTEX_INITIALIZER;
static const struct tr_relay *tel_relay;
static bool pdump_on;

static const char *state_name(enum tr_peer_state st)
{
	switch (st) {
	case TR_PEER_PENDING: return "pending";
	case TR_PEER_TRUSTED: return "trusted";
	default: return "free";
	}
}

/* Commands take the lock and get the relay, or fail with -ENODEV. */
static const struct tr_relay *tel_enter(void)
{
	pthread_mutex_lock(&tel_lock);
	if (tel_relay == NULL)
		pthread_mutex_unlock(&tel_lock);
	return tel_relay;
}

static void tel_leave(void)
{
	pthread_mutex_unlock(&tel_lock);
}

/* A consistent snapshot of the running relay; false once it is gone. */
static bool snapshot(struct tr_snapshot *s)
{
	const struct tr_relay *r = tel_enter();

	if (r == NULL)
		return false;
	tr_snapshot_take(r, s);
	tel_leave();
	return true;
}

static int cmd_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	struct tr_snapshot s;

	if (!snapshot(&s))
		return -ENODEV;
	const struct tr_counters *c = &s.sum;

	rte_tel_data_start_dict(d);
#define TR_C_TEL(n, h) rte_tel_data_add_dict_u64(d, #n, c->n);
	TR_COUNTERS(TR_C_TEL)
#undef TR_C_TEL
	rte_tel_data_add_dict_u64(d, "drops_total", tr_counters_drops_total(c));
	rte_tel_data_add_dict_u64(d, "peers_current", s.peers_current);
	rte_tel_data_add_dict_u64(d, "peers_pending", s.peers_pending);
	rte_tel_data_add_dict_u64(d, "queued_now", s.queued_now);
	rte_tel_data_add_dict_u64(d, "in_flight", s.in_flight);
	rte_tel_data_add_dict_u64(d, "reasm_held", s.reasm_held);
	rte_tel_data_add_dict_u64(d, "workers_stalled", s.workers_stalled);
	rte_tel_data_add_dict_u64(d, "nic_rx_missed", s.nic_rx_missed);
	rte_tel_data_add_dict_u64(d, "nic_rx_errors", s.nic_rx_errors);
	rte_tel_data_add_dict_u64(d, "nic_tx_errors", s.nic_tx_errors);
	rte_tel_data_add_dict_u64(d, "accounting_ok", s.accounting_ok ? 1 : 0);
	return 0;
}

static int cmd_drops(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	struct tr_snapshot s;

	if (!snapshot(&s))
		return -ENODEV;
	rte_tel_data_start_dict(d);
	/* Every reason, zeros included: a stable key set is easier to graph. */
	for (unsigned i = 1; i < TR_DROP_MAX; i++)
		rte_tel_data_add_dict_u64(d, tr_drop_name((enum tr_drop_reason)i), s.sum.drops[i]);
	return 0;
}

/* The lcores terelay uses: the control (main) lcore, then the workers. */
static unsigned used_lcores(const struct tr_relay *r, unsigned ids[RTE_MAX_LCORE])
{
	unsigned n = 0;

	ids[n++] = r->control_lcore;
	for (unsigned w = 0; w < r->n_workers && n < RTE_MAX_LCORE; w++)
		ids[n++] = r->worker_lcore[w];
	return n;
}

static int cmd_lcores(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	const struct tr_relay *r = tel_enter();

	if (r == NULL)
		return -ENODEV;
	unsigned ids[RTE_MAX_LCORE];
	unsigned n = used_lcores(r, ids);

	rte_tel_data_start_dict(d);
	for (unsigned k = 0; k < n; k++) {
		const struct tr_lcore *lc = &r->lc[ids[k]];
		struct rte_tel_data *e = rte_tel_data_alloc();
		char key[16];

		if (e == NULL)
			break;
		uint64_t pb = lc->cnt.polls_busy, pi = lc->cnt.polls_idle;
		uint64_t cb = lc->cnt.cycles_busy, ci = lc->cnt.cycles_idle;
		bool worker = ids[k] != r->control_lcore;

		rte_tel_data_start_dict(e);
		rte_tel_data_add_dict_string(e, "role", worker ? "worker" : "control");
		rte_tel_data_add_dict_u64(e, "polls_busy", pb);
		rte_tel_data_add_dict_u64(e, "polls_idle", pi);
		rte_tel_data_add_dict_u64(e, "cycles_busy", cb);
		rte_tel_data_add_dict_u64(e, "cycles_idle", ci);
		/* Integer percent of polling cycles spent on work (0 before any poll). */
		rte_tel_data_add_dict_u64(e, "busy_percent", cb + ci ? cb * 100 / (cb + ci) : 0);
		/* Workers bump heartbeat every loop; control's loop count is its polls. */
		rte_tel_data_add_dict_u64(e, "heartbeat",
					  worker ? __atomic_load_n(&lc->heartbeat, __ATOMIC_RELAXED) : pb + pi);
		/* Control's watchdog: the heartbeat has not moved for 500 ms. */
		rte_tel_data_add_dict_u64(e, "stalled", __atomic_load_n(&lc->stalled, __ATOMIC_RELAXED));
		rte_tel_data_add_dict_u64(e, "rx_packets", lc->cnt.rx_packets);
		rte_tel_data_add_dict_u64(e, "tx_packets", lc->cnt.tx_packets);
		rte_tel_data_add_dict_u64(e, "rx_bytes", lc->cnt.rx_bytes);
		rte_tel_data_add_dict_u64(e, "tx_bytes", lc->cnt.tx_bytes);
		rte_tel_data_add_dict_u64(e, "to_control", lc->cnt.to_control);
		rte_tel_data_add_dict_u64(e, "drops_total", tr_counters_drops_total(&lc->cnt));
		snprintf(key, sizeof(key), "%u", ids[k]);
		rte_tel_data_add_dict_container(d, key, e, 0);
	}
	rte_tel_data_add_dict_u64(d, "tsc_hz", rte_get_tsc_hz());
	tel_leave();
	return 0;
}

static int cmd_peers(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	const struct tr_relay *r = tel_enter();

	if (r == NULL)
		return -ENODEV;
	struct tr_snapshot s;

	tr_snapshot_take(r, &s);
	rte_tel_data_start_dict(d);
	/* "pending" = peers holding a verification slot (new, or trusted and
	 * re-verifying), "trusted" = the rest; the two add up to current. */
	uint64_t pending = s.peers_pending <= s.peers_current ? s.peers_pending : s.peers_current;

	rte_tel_data_add_dict_u64(d, "current", s.peers_current);
	rte_tel_data_add_dict_u64(d, "pending", pending);
	rte_tel_data_add_dict_u64(d, "trusted", s.peers_current - pending);
	rte_tel_data_add_dict_u64(d, "capacity", r->cfg.peers_max);
	rte_tel_data_add_dict_u64(d, "pending_capacity", r->cfg.pending_max);
	rte_tel_data_add_dict_u64(d, "queued", s.queued_now);
	rte_tel_data_add_dict_u64(d, "queue_capacity", r->cfg.global_queue_pkts);
	rte_tel_data_add_dict_u64(d, "shards", r->peers != NULL ? r->peers->n_shards : 0);
	tel_leave();
	return 0;
}

/* Age in ms of a 32-bit truncated clock stamp; 0 if it is (racily) ahead. */
static uint64_t age_ms(uint32_t now, uint32_t then)
{
	int32_t a = tr_ms_since(now, then);

	return a > 0 ? (uint64_t)a : 0;
}

static int cmd_peer(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	uint8_t key[16];

	if (params == NULL || inet_pton(AF_INET6, params, key) != 1 || !tr_is_teredo(key))
		return -EINVAL;
	const struct tr_relay *r = tel_enter();

	if (r == NULL)
		return -ENODEV;
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "addr", params);
	struct tr_peer_ref ref = r->peers != NULL ? tr_peer_lookup(r->peers, key) :
						    (struct tr_peer_ref){ .shard = 0, .pos = -1 };
	if (ref.pos < 0) {
		rte_tel_data_add_dict_u64(d, "found", 0);
		tel_leave();
		return 0;
	}
	/*
	 * This thread is not a QSBR reader, so the slot may be reused between
	 * lookup and reads; the address check below catches most of that, and
	 * the fields are a diagnostic view, not a consistent snapshot.
	 */
	const struct tr_peer *p = tr_peer_at(r->peers, ref);
	uint64_t mp = tr_peer_load_mapping(p);
	uint32_t now = (uint32_t)tr_clock_ms(&r->clock);
	uint32_t last_rx = __atomic_load_n(&p->last_rx, __ATOMIC_RELAXED);
	uint32_t last_tx = __atomic_load_n(&p->last_tx, __ATOMIC_RELAXED);
	uint32_t created = __atomic_load_n(&p->created, __ATOMIC_RELAXED);
	uint32_t pend = __atomic_load_n(&p->pend, __ATOMIC_RELAXED);
	uint8_t bubbles = __atomic_load_n(&p->bubbles, __ATOMIC_RELAXED);
	enum tr_peer_state st = tr_map_state(mp);

	const uint8_t *stored = tr_peer_key(r->peers, ref);

	if (stored == NULL || memcmp(stored, key, 16) != 0 || st == TR_PEER_FREE) {
		rte_tel_data_add_dict_u64(d, "found", 0);
		tel_leave();
		return 0;
	}
	char ip[INET_ADDRSTRLEN], map[INET_ADDRSTRLEN + 8];
	struct in_addr a = { .s_addr = htonl(tr_map_ip(mp)) };

	inet_ntop(AF_INET, &a, ip, sizeof(ip));
	snprintf(map, sizeof(map), "%s:%u", ip, tr_map_port(mp));
	rte_tel_data_add_dict_u64(d, "found", 1);
	rte_tel_data_add_dict_string(d, "state", state_name(st));
	rte_tel_data_add_dict_string(d, "mapping", map);
	rte_tel_data_add_dict_u64(d, "last_rx_age_ms", age_ms(now, last_rx));
	rte_tel_data_add_dict_u64(d, "last_tx_age_ms", age_ms(now, last_tx));
	rte_tel_data_add_dict_u64(d, "created_age_ms", age_ms(now, created));
	rte_tel_data_add_dict_u64(d, "bubbles", bubbles);
	rte_tel_data_add_dict_u64(d, "verifying", pend != TR_PEER_NO_SLOT);
	if (pend != TR_PEER_NO_SLOT && r->ctrl != NULL && pend < r->ctrl->pend.cap) {
		/* Control-lcore state: approximate (relaxed read, may be mid-update). */
		const struct tr_pend *sl = &r->ctrl->pend.slot[pend];

		rte_tel_data_add_dict_u64(d, "queue_packets",
					  __atomic_load_n(&sl->q_len, __ATOMIC_RELAXED));
		rte_tel_data_add_dict_u64(d, "queue_bytes",
					  __atomic_load_n(&sl->q_bytes, __ATOMIC_RELAXED));
	}
	tel_leave();
	return 0;
}

/* True when s is a non-empty run of decimal digits that fits in a u64. */
static bool is_u64(const char *s, uint64_t *v)
{
	char *end;

	if (*s < '0' || *s > '9' || strlen(s) > 19)
		return false;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno == 0 && *end == '\0';
}

/*
 * The configuration as tr_config_print shows it ("section.key = value"),
 * one dict per section: the printer is the one place that knows every key,
 * so this stays complete as keys are added.
 */
static int cmd_config(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	const struct tr_relay *r = tel_enter();

	if (r == NULL)
		return -ENODEV;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (f == NULL) {
		tel_leave();
		return -ENOMEM;
	}
	tr_config_print(&r->cfg, f);
	tel_leave();
	fclose(f);

	rte_tel_data_start_dict(d);
	struct rte_tel_data *sec = NULL;
	char sec_name[32] = "";
	char *save = NULL;

	for (char *line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		char *dot = strchr(line, '.');
		char *eq = strstr(line, " = ");

		if (dot == NULL || eq == NULL || dot > eq)
			continue;
		*dot = '\0';
		*eq = '\0';
		const char *key = dot + 1, *val = eq + 3;

		if (sec == NULL || strcmp(sec_name, line) != 0) {
			if (sec != NULL)
				rte_tel_data_add_dict_container(d, sec_name, sec, 0);
			sec = rte_tel_data_alloc();
			if (sec == NULL)
				break;
			rte_tel_data_start_dict(sec);
			snprintf(sec_name, sizeof(sec_name), "%s", line);
		}
		uint64_t v;

		if (is_u64(val, &v))
			rte_tel_data_add_dict_u64(sec, key, v);
		else
			rte_tel_data_add_dict_string(sec, key, val);  /* truncated past 127 chars */
	}
	if (sec != NULL)
		rte_tel_data_add_dict_container(d, sec_name, sec, 0);
	free(text);
	return 0;
}

/* Bonded ports (net_bonding): one dict per side whose port is a bond. */
static int cmd_bond(const char *cmd, const char *params, struct rte_tel_data *d)
{
	const struct tr_relay *r;

	(void)cmd;
	(void)params;
	if ((r = tel_enter()) == NULL)
		return -ENODEV;
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "keepalive_bursts", r->bond_ka.bursts);
	rte_tel_data_add_dict_u64(d, "ab_failovers", r->bond_watch.failovers);
	for (int s = 0; s < 2; s++) {
		uint16_t port = s == TR_SIDE_TEREDO ? r->port_teredo : r->port_native;
		struct rte_tel_data *b;

		if (s == TR_SIDE_NATIVE && port == r->port_teredo)
			break;          /* one port carries both sides: shown once */
		if (!tr_bond_is(port) || (b = rte_tel_data_alloc()) == NULL)
			continue;
		rte_tel_data_start_dict(b);
		rte_tel_data_add_dict_int(b, "port", port);
		tr_bond_describe(port, b);
		rte_tel_data_add_dict_container(d, s == TR_SIDE_TEREDO ? "teredo" : "native", b, 0);
	}
	tel_leave();
	return 0;
}

static const struct {
	const char *name;
	telemetry_cb fn;
	const char *help;
} tel_cmds[] = {
	{ "/terelay/stats", cmd_stats,
	  "terelay counters summed over lcores, gauges and accounting_ok. No parameters" },
	{ "/terelay/drops", cmd_drops, "terelay drops by reason, every reason. No parameters" },
	{ "/terelay/lcores", cmd_lcores,
	  "terelay per-lcore role, busy/idle polls and cycles, heartbeat, rx/tx. No parameters" },
	{ "/terelay/peers", cmd_peers, "terelay peer counts by state, capacities, queued packets. No parameters" },
	{ "/terelay/peer", cmd_peer, "terelay one peer. Parameter: its Teredo IPv6 address" },
	{ "/terelay/config", cmd_config, "terelay configuration by section. No parameters" },
	{ "/terelay/bond", cmd_bond,
	  "terelay bonded ports: mode, members, active members, LACP states. No parameters" },
};

int tr_telemetry_init(struct tr_relay *r, char *err, size_t errlen)
{
	static bool registered;

	pthread_mutex_lock(&tel_lock);
	tel_relay = r;
	pthread_mutex_unlock(&tel_lock);
	/* 22.11 has no unregister: register once per process, point at r. */
	if (!registered) {
		for (size_t i = 0; i < RTE_DIM(tel_cmds); i++) {
			int rc = rte_telemetry_register_cmd(tel_cmds[i].name, tel_cmds[i].fn,
							    tel_cmds[i].help);
			if (rc != 0) {
				snprintf(err, errlen, "cannot register telemetry command %s: %s",
					 tel_cmds[i].name, strerror(-rc));
				return -1;
			}
		}
		registered = true;
	}
	/* Capture is optional: without shared config (--in-memory, --no-shconf)
	 * there is no multi-process channel for dpdk-dumpcap to use. */
	if (rte_pdump_init() == 0)
		pdump_on = true;
	else
		fprintf(stderr, "terelay: packet capture (rte_pdump) unavailable: %s\n",
			rte_strerror(rte_errno));
	return 0;
}

void tr_telemetry_fini(void)
{
	pthread_mutex_lock(&tel_lock);
	tel_relay = NULL;
	pthread_mutex_unlock(&tel_lock);
	if (pdump_on) {
		rte_pdump_uninit();
		pdump_on = false;
	}
}
