/* SPDX-License-Identifier: BSD-3-Clause
 *
 * terelay --check-config: everything start-up would do to the devices and the
 * lcores, without forwarding a packet. Problems that would stop the relay
 * exit 2; things it would work around are printed as the same one-line
 * fallbacks the relay logs at start.
 */
#define _GNU_SOURCE     /* CPU_ISSET, rte_cpuset_t */
#include <inttypes.h>
#include <numa.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "bond.h"
#include "check.h"
#include "port.h"

#define EXIT_CONFIG 2

/* NUMA node of an lcore's first CPU, from the kernel (libnuma); -1 if unknown. */
static int lcore_node(unsigned lcore, int *cpu_out)
{
	rte_cpuset_t set = rte_lcore_cpuset(lcore);

	*cpu_out = -1;
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (CPU_ISSET(cpu, &set)) {
			*cpu_out = cpu;
			return numa_available() < 0 ? -1 : numa_node_of_cpu(cpu);
		}
	}
	return -1;
}

static void print_lcores(const unsigned *workers, unsigned n, FILE *out)
{
	unsigned main_lc = rte_get_main_lcore();
	int cpu, node = lcore_node(main_lc, &cpu);
	int cpu_of[RTE_MAX_LCORE];

	fprintf(out, "lcores: libnuma %s, %d node(s); EAL sees %u socket(s)\n",
		numa_available() < 0 ? "unavailable" : "available",
		numa_available() < 0 ? 0 : numa_num_configured_nodes(), rte_socket_count());
	fprintf(out, "  lcore %u: control (main), cpu %d, socket %u, node %d\n", main_lc, cpu,
		rte_lcore_to_socket_id(main_lc), node);
	for (unsigned i = 0; i < n; i++) {
		node = lcore_node(workers[i], &cpu);
		cpu_of[i] = cpu;
		fprintf(out, "  lcore %u: worker %u, rx queue %u, cpu %d, socket %u, node %d\n",
			workers[i], i, i, cpu, rte_lcore_to_socket_id(workers[i]), node);
	}
	/* --lcores 1@1,2@1 is legal (and how tests run 2 workers on 2 vCPUs); in production it halves both. */
	for (unsigned i = 0; i < n; i++)
		for (unsigned j = i + 1; j < n; j++)
			if (cpu_of[i] >= 0 && cpu_of[i] == cpu_of[j])
				fprintf(out, "  warning: workers on lcores %u and %u share cpu %d: they take "
					"turns, no faster than one worker\n", workers[i], workers[j], cpu_of[i]);
}

/* "0x... ( NAME NAME )": the mask and the name DPDK gives each bit. */
static void print_offloads(FILE *out, uint64_t bits, const char *(*name)(uint64_t))
{
	fprintf(out, "0x%" PRIx64 " (", bits);
	for (unsigned b = 0; b < 64; b++)
		if (bits & (1ull << b))
			fprintf(out, " %s", name(1ull << b));
	fprintf(out, " )");
}

static void print_port(uint16_t port, const char *role, const struct tr_port_result *res,
		       const struct tr_port_req *req, FILE *out)
{
	char name[RTE_ETH_NAME_MAX_LEN] = "?";

	rte_eth_dev_get_name_by_port(port, name);
	fprintf(out, "port %u (%s, driver %s): %s, socket %d\n", port, name, res->driver, role,
		res->socket);
	fprintf(out, "  queues: %u rx (device max %u), %u tx (device max %u); descriptors %u rx, %u tx\n",
		req->n_rxq, res->max_rxq, req->n_txq, res->max_txq, res->rx_desc, res->tx_desc);
	fprintf(out, "  rss: 0x%" PRIx64 " applied of 0x%" PRIx64 " wanted%s\n", res->rss_hf,
		res->rss_hf_wanted, req->n_rxq > 1 ? "" : " (one rx queue: not needed)");
	fprintf(out, "  offloads: rx ");
	print_offloads(out, res->rx_offloads, rte_eth_dev_rx_offload_name);
	fprintf(out, ", tx ");
	print_offloads(out, res->tx_offloads, rte_eth_dev_tx_offload_name);
	fprintf(out, "\n");
	fprintf(out, "  flow rules: %u of %u usable\n", res->flows_ok, res->flows_wanted);
	tr_bond_print(out, port);
	fprintf(out, "  fallbacks: %u\n", res->fallbacks);
}

int tr_check_config(const struct tr_config *cfg, const char *config_path,
		    const struct tr_profile *prof, FILE *out)
{
	unsigned workers[RTE_MAX_LCORE], n = 0, id;
	uint16_t pt, pn;
	struct rte_mempool *pool;
	struct rte_ether_addr mac;
	char err[512];
	int rc = EXIT_CONFIG;

	fprintf(out, "config: %s\n", config_path);
	tr_config_print(cfg, out);
	tr_profile_print(prof, out);

	RTE_LCORE_FOREACH_WORKER(id)
		workers[n++] = id;
	print_lcores(workers, n, out);
	if (n == 0) {
		fprintf(stderr, "terelay: needs at least one worker lcore besides the main lcore (e.g. -l 0,1)\n");
		return EXIT_CONFIG;
	}
	if (tr_port_resolve(cfg->teredo_port, &pt) != 0) {
		fprintf(stderr, "%s:0: [ports] teredo = %s: no such port (%u ports probed)\n", config_path,
			cfg->teredo_port, rte_eth_dev_count_avail());
		return EXIT_CONFIG;
	}
	if (tr_port_resolve(cfg->native_port, &pn) != 0) {
		fprintf(stderr, "%s:0: [ports] native = %s: no such port (%u ports probed)\n", config_path,
			cfg->native_port, rte_eth_dev_count_avail());
		return EXIT_CONFIG;
	}

	/* The pool the relay would create, on the socket of the Teredo port. */
	int socket = tr_port_socket(pt);

	pool = rte_pktmbuf_pool_create("tr_check_mbufs", cfg->mbufs, 256, 0,
				       RTE_MBUF_DEFAULT_BUF_SIZE, socket);
	if (pool == NULL) {
		fprintf(stderr, "terelay: cannot allocate %u mbufs on socket %d: %s (hugepages?)\n",
			cfg->mbufs, socket, rte_strerror(rte_errno));
		return EXIT_CONFIG;
	}

	struct tr_port_req req = {
		.n_rxq = (uint16_t)n,
		.n_txq = (uint16_t)(n + 1),
		.rx_desc = cfg->rx_desc,
		.tx_desc = cfg->tx_desc,
		.ctrl_rxq = -1,
		.relay_ipv4 = cfg->ipv4,
		.relay_port = cfg->port,
		.prof = prof,
		.dry_run = true,
	};
	memcpy(req.relay_ipv6, cfg->ipv6, 16);

	uint16_t ports[2] = { pt, pn };
	unsigned nports = pt == pn ? 1 : 2;
	unsigned fallbacks = 0;

	for (unsigned i = 0; i < nports; i++) {
		struct tr_port_result res;

		req.teredo_side = ports[i] == pt;
		req.native_side = ports[i] == pn;
		tr_config_vlan(cfg, TR_SIDE_TEREDO, &req.vlan[TR_SIDE_TEREDO]);
		tr_config_vlan(cfg, TR_SIDE_NATIVE, &req.vlan[TR_SIDE_NATIVE]);
		req.n_rxq = tr_port_rx_queues(ports[i], (uint16_t)n, req.n_txq);
		if (tr_port_setup(ports[i], &req, pool, &mac, &res, out, err, sizeof(err)) != 0) {
			fprintf(stderr, "terelay: %s\n", err);
			goto out;
		}
		print_port(ports[i], req.teredo_side && req.native_side ? "teredo + native" :
			   req.teredo_side ? "teredo" : "native", &res, &req, out);
		/* Which tags the NIC handles and which the relay does (D41). */
		if (req.teredo_side)
			tr_port_print_vlan(out, "teredo", &req.vlan[TR_SIDE_TEREDO],
					   tr_port_vlan_rx_nic(res.rx_offloads, &req.vlan[TR_SIDE_TEREDO]),
					   tr_port_vlan_tx_nic(res.tx_offloads, &req.vlan[TR_SIDE_TEREDO]));
		if (req.native_side)
			tr_port_print_vlan(out, "native", &req.vlan[TR_SIDE_NATIVE],
					   tr_port_vlan_rx_nic(res.rx_offloads, &req.vlan[TR_SIDE_NATIVE]),
					   tr_port_vlan_tx_nic(res.tx_offloads, &req.vlan[TR_SIDE_NATIVE]));
		fallbacks += res.fallbacks;
	}
	unsigned remote = tr_numa_check_workers(workers, n, pt, pn, out);
	char also[32] = "";

	if (pn != pt)
		snprintf(also, sizeof(also), " and of port %u", pn);

	fprintf(out, "would run: control on lcore %u; %u worker(s), worker i polls rx queues i, i + %u, ... of port %u%s; "
		"mbufs, peer table (%u entries, %u shards) and worker data on socket %d; "
		"%u fallback(s), %u worker(s) off their port's socket\n",
		rte_get_main_lcore(), n, n, pt, also, cfg->peers_max, cfg->shards,
		socket, fallbacks, remote);
	fprintf(out, "check-config: ok\n");
	rc = 0;
out:
	for (unsigned i = 0; i < nports; i++)
		if (rte_eth_dev_is_valid_port(ports[i])) {
			rte_eth_dev_stop(ports[i]);
			rte_eth_dev_close(ports[i]);
		}
	rte_mempool_free(pool);
	return rc;
}
