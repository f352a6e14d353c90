/* SPDX-License-Identifier: BSD-3-Clause
 *
 * terelay: a Teredo relay (RFC 4380 §5.4) on DPDK.
 *
 *   terelay [EAL options] -- -c FILE [--replay IN.pcap --out OUT.pcap]
 *           [--stats-json FILE] [--check-config]
 *
 * Wiring only: options, configuration, EAL, ports, lcores, signals. The main
 * lcore is the control lcore; every other EAL lcore is a worker.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_hash.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "check.h"
#include "config.h"
#include "port.h"
#include "profile.h"
#include "prometheus.h"
#include "relay.h"
#include "replay.h"
#include "report.h"
#include "state.h"
#include "telemetry.h"

#define EXIT_CONFIG 2

struct options {
	const char *config;
	const char *replay_in;
	const char *replay_out;
	const char *stats_json;
	unsigned long drain_s;
	bool check_config;
};

static struct tr_relay *the_relay;
static struct tr_profile the_profile;   /* [ports] profile, or the built-in defaults */

static void usage(FILE *out, const char *prog)
{
	fprintf(out,
		"usage: %s [EAL options] -- -c FILE [options]\n"
		"  -c, --config FILE      relay configuration (INI, see docs/configuration.md)\n"
		"      --replay IN.pcap   replay a capture through the relay (adds a net_pcap port)\n"
		"      --out OUT.pcap     with --replay: where everything the relay sends goes\n"
		"      --drain SECONDS    with --replay: after the last packet the clock runs on while\n"
		"                         peer timers are armed, at most SECONDS (default 30)\n"
		"      --stats-json FILE  write the final counters as JSON at exit\n"
		"      --check-config     parse and validate the configuration, print it, exit\n"
		"  -h, --help             this text\n", prog);
}

/* Parses terelay's own options (after "--"). Returns 0, 1 for help, -1 on error. */
static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "replay", required_argument, NULL, 'r' },
		{ "out", required_argument, NULL, 'o' },
		{ "stats-json", required_argument, NULL, 's' },
		{ "drain", required_argument, NULL, 'd' },
		{ "check-config", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': o->config = optarg; break;
		case 'r': o->replay_in = optarg; break;
		case 'o': o->replay_out = optarg; break;
		case 's': o->stats_json = optarg; break;
		case 'd': {
			char *end;

			errno = 0;
			o->drain_s = strtoul(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' || optarg[0] == '-' ||
			    o->drain_s > 86400) {
				fprintf(stderr, "terelay: --drain %s: expected whole seconds, 0 to 86400\n",
					optarg);
				return -1;
			}
			break;
		}
		case 'k': o->check_config = true; break;
		case 'h': return 1;
		default: return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "terelay: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (o->config == NULL) {
		fprintf(stderr, "terelay: -c FILE is required\n");
		return -1;
	}
	if ((o->replay_in == NULL) != (o->replay_out == NULL)) {
		fprintf(stderr, "terelay: --replay and --out go together\n");
		return -1;
	}
	if (o->replay_in != NULL && access(o->replay_in, R_OK) != 0) {
		fprintf(stderr, "terelay: %s: %s\n", o->replay_in, strerror(errno));
		return -1;
	}
	return 0;
}

static void on_signal(int sig)
{
	(void)sig;
	if (the_relay != NULL)
		the_relay->stop = true;
}

static int setup(struct tr_relay *r, const struct options *o)
{
	char err[256];

	r->replay = o->replay_in != NULL;
	r->replay_drain_ms = (uint32_t)(o->drain_s * 1000);

	if (r->replay) {
		uint16_t p;

		if (rte_eth_dev_get_port_by_name("net_pcap_replay", &p) != 0) {
			fprintf(stderr, "terelay: replay port did not come up\n");
			return -1;
		}
		r->port_teredo = r->port_native = p;
	} else {
		if (tr_port_resolve(r->cfg.teredo_port, &r->port_teredo) != 0) {
			fprintf(stderr, "%s:0: [ports] teredo = %s: no such port\n", o->config, r->cfg.teredo_port);
			return -1;
		}
		if (tr_port_resolve(r->cfg.native_port, &r->port_native) != 0) {
			fprintf(stderr, "%s:0: [ports] native = %s: no such port\n", o->config, r->cfg.native_port);
			return -1;
		}
	}
	if (tr_relay_init(r) != 0)
		return -1;
	/* The last run's peers, before anything reads the clock or a port
	 * delivers (docs/deploy.md "Restarts"). */
	if (tr_state_restore(r, r->replay ? tr_replay_first_ms(o->replay_in) : tr_state_wall_ms(r)) != 0)
		return -1;
	/* Observability: telemetry commands, rte_pdump, Prometheus (docs/telemetry.md). */
	if (tr_telemetry_init(r, err, sizeof(err)) != 0 || tr_prom_start(r, err, sizeof(err)) != 0) {
		fprintf(stderr, "terelay: %s\n", err);
		return -1;
	}

	uint16_t ntx = r->replay ? 1 : (uint16_t)(r->n_workers + 1);
	r->nrxq_teredo = r->replay ? 1 : tr_port_rx_queues(r->port_teredo, (uint16_t)r->n_workers, ntx);
	r->nrxq_native = r->replay ? 1 : tr_port_rx_queues(r->port_native, (uint16_t)r->n_workers, ntx);
	if (tr_port_start(r->port_teredo, r->nrxq_teredo, ntx, r->cfg.rx_desc, r->cfg.tx_desc, r->pool,
			  &r->mac_teredo, err, sizeof(err)) != 0) {
		fprintf(stderr, "terelay: %s\n", err);
		return -1;
	}
	if (r->port_native != r->port_teredo) {
		if (tr_port_start(r->port_native, r->nrxq_native, ntx, r->cfg.rx_desc, r->cfg.tx_desc, r->pool,
				  &r->mac_native, err, sizeof(err)) != 0) {
			fprintf(stderr, "terelay: %s\n", err);
			return -1;
		}
	} else {
		r->mac_native = r->mac_teredo;
	}
	r->tx_cksum_offload = tr_port_tx_cksum_offload(r->port_teredo);
	/* VLAN tags on transmit (D41): by the NIC where its port inserts them;
	 * in replay, the port acts as the profile's NIC would (replay.c). */
	bool nic_insert[2];

	for (int s = 0; s < 2; s++) {
		uint16_t port = s == TR_SIDE_TEREDO ? r->port_teredo : r->port_native;
		const struct tr_vlan *v = &r->vlan[s];

		if (r->replay) {
			uint64_t tx = (the_profile.vlan_insert ? RTE_ETH_TX_OFFLOAD_VLAN_INSERT : 0) |
				      (the_profile.qinq_insert ? RTE_ETH_TX_OFFLOAD_QINQ_INSERT : 0);
			uint64_t rx = (the_profile.vlan_strip ? RTE_ETH_RX_OFFLOAD_VLAN_STRIP : 0) |
				      (the_profile.qinq_strip ? RTE_ETH_RX_OFFLOAD_QINQ_STRIP : 0);

			nic_insert[s] = tr_port_vlan_tx_nic(tx, v);
			r->replay_rx_strip[s] = tr_port_vlan_rx_nic(rx, v);
			r->replay_nic_vlan = r->replay_nic_vlan || nic_insert[s] || r->replay_rx_strip[s];
		} else {
			nic_insert[s] = tr_port_vlan_tx_nic(tr_port_tx_offloads(port), v);
		}
	}
	tr_relay_set_tx_vlan(r, nic_insert);
	/* 802.3ad bonds: LACPDUs leave with tx bursts; control makes empty ones
	 * on its own queue so LACP holds when no traffic flows (bond.h). */
	if (!r->replay) {
		uint16_t ports[2] = { r->port_teredo, r->port_native };

		tr_bond_keepalive_init(&r->bond_ka, ports, 2, (uint16_t)r->n_workers,
				       rte_get_tsc_hz(), rte_rdtsc());
		tr_bond_watch_init(&r->bond_watch, ports, 2, rte_get_tsc_hz(), rte_rdtsc(), stdout);
	}
	return 0;
}

/* Returns 0, or -1 when the replay could not run (message printed). */
static int run(struct tr_relay *r, const char *replay_out)
{
	unsigned id;
	int ret = 0;

	for (unsigned w = 0; w < r->n_workers; w++) {
		id = r->worker_lcore[w];
		rte_eal_remote_launch(tr_worker_main, &r->lc[id], id);
	}
	if (r->replay) {
		ret = tr_replay_run(r, r->port_teredo, replay_out);
	} else {
		uint64_t interval = r->cfg.summary_interval_s * rte_get_tsc_hz();
		uint64_t next = rte_rdtsc() + interval;

		while (!r->stop) {
			if (tr_control_poll(r->ctrl) == 0)
				usleep(100);    /* two vCPUs: the idle control lcore must not spin */
			tr_state_poll(r);
			tr_bond_keepalive_poll(&r->bond_ka, rte_rdtsc());
			tr_bond_watch_poll(&r->bond_watch, rte_rdtsc());
			if (interval != 0 && rte_rdtsc() >= next) {
				struct tr_snapshot s;

				tr_snapshot_take(r, &s);
				tr_report_line(&s, stdout);
				fflush(stdout);
				next += interval;
			}
		}
	}
	r->stop = true;
	rte_eal_mp_wait_lcore();
	if (tr_state_save(r) != 0)
		ret = -1;
	return ret;
}

static void teardown(struct tr_relay *r)
{
	tr_prom_stop();         /* before the state the scrapers read is freed */
	tr_telemetry_fini();
	if (rte_eth_dev_is_valid_port(r->port_teredo))
		tr_port_stop(r->port_teredo);
	if (r->port_native != r->port_teredo && rte_eth_dev_is_valid_port(r->port_native))
		tr_port_stop(r->port_native);
	tr_state_fini(r);
	tr_relay_fini(r);
}

int main(int argc, char **argv)
{
	struct options o = { .drain_s = 30 };
	int sep = argc;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			sep = i;
			break;
		}
	}
	/* terelay's own options come after "--"; argv[sep] becomes their argv[0].
	 * Without "--" there is nothing to parse: `terelay --help` (or -h) asks for
	 * the usage, anything else gets it on stderr. */
	int rc;

	if (sep == argc) {
		rc = -1;
		for (int i = 1; i < argc; i++)
			if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
				rc = 1;
	} else {
		rc = parse_options(argc - sep, argv + sep, &o);
	}
	if (sep == argc || rc != 0) {
		usage(rc == 1 ? stdout : stderr, argv[0]);
		return rc == 1 ? 0 : EXIT_CONFIG;
	}

	static struct tr_relay relay;
	struct tr_relay *r = &relay;
	char err[TR_CFG_ERR_LEN];

	if (tr_config_load(o.config, &r->cfg, err) != 0) {
		fprintf(stderr, "%s\n", err);
		return EXIT_CONFIG;
	}
	if (tr_profile_find_load(r->cfg.profile, o.config, &the_profile, err) != 0) {
		fprintf(stderr, "%s\n", err);
		return EXIT_CONFIG;
	}
	tr_port_set_context(&the_profile, &r->cfg);
	if (o.replay_in != NULL && !r->cfg.summary_interval_set)
		r->cfg.summary_interval_s = 0;   /* off in replay unless asked */

	/* EAL arguments, plus the replay port. */
	char vdev[4096];
	char **eal_argv = calloc((size_t)sep + 2, sizeof(char *));
	int eal_argc = 0;

	if (eal_argv == NULL)
		return EXIT_CONFIG;

	for (int i = 0; i < sep; i++)
		eal_argv[eal_argc++] = argv[i];
	if (o.replay_in != NULL) {
		/* The port only receives: replay.c writes the output itself, with
		 * relay-time stamps (net_pcap's tx would stamp the wall clock). */
		snprintf(vdev, sizeof(vdev), "--vdev=net_pcap_replay,rx_pcap=%s,tx_pcap=/dev/null",
			 o.replay_in);
		eal_argv[eal_argc++] = vdev;
	}
	eal_argv[eal_argc] = NULL;
	/* rte_eal_init may permute eal_argv; it stays allocated until exit. */
	if (rte_eal_init(eal_argc, eal_argv) < 0) {
		fprintf(stderr, "terelay: EAL initialisation failed: %s\n", rte_strerror(rte_errno));
		free(eal_argv);
		return EXIT_CONFIG;
	}
	if (o.check_config) {
		int crc = tr_check_config(&r->cfg, o.config, &the_profile, stdout);

		rte_eal_cleanup();
		free(eal_argv);
		return crc;
	}

	the_relay = r;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	int status = 0;
	if (setup(r, &o) != 0) {
		status = EXIT_CONFIG;
	} else {
		if (run(r, o.replay_out) != 0)
			status = 1;
		struct tr_snapshot s;

		tr_snapshot_take(r, &s);
		tr_report_summary(&s, stdout);
		if (o.stats_json != NULL && tr_report_json(&s, o.stats_json) != 0) {
			fprintf(stderr, "terelay: cannot write %s\n", o.stats_json);
			status = 1;
		}
	}
	teardown(r);
	rte_eal_cleanup();
	free(eal_argv);
	return status;
}
