/* SPDX-License-Identifier: BSD-3-Clause
 *
 * Ethernet device set-up: queues per lcore, RSS when several workers share
 * a port (IPv4 side on addresses + UDP ports, IPv6 side on addresses), and
 * what the device cannot do is logged, not silently assumed.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_ethdev.h>

#include "port.h"

int tr_port_resolve(const char *spec, uint16_t *port)
{
	char *end;
	unsigned long v = strtoul(spec, &end, 10);

	if (*spec != '\0' && *end == '\0') {
		if (v >= RTE_MAX_ETHPORTS || !rte_eth_dev_is_valid_port((uint16_t)v))
			return -1;
		*port = (uint16_t)v;
		return 0;
	}
	return rte_eth_dev_get_port_by_name(spec, port) == 0 ? 0 : -1;
}

int tr_port_start(uint16_t port, uint16_t n_rxq, uint16_t n_txq, uint16_t rx_desc,
		  uint16_t tx_desc, struct rte_mempool *pool, struct rte_ether_addr *mac,
		  char *err, size_t errlen)
{
	struct rte_eth_dev_info info;
	struct rte_eth_conf conf;
	int rc;

	memset(&conf, 0, sizeof(conf));
	if ((rc = rte_eth_dev_info_get(port, &info)) != 0) {
		snprintf(err, errlen, "port %u: cannot get device info: %s", port, strerror(-rc));
		return -1;
	}
	if (n_rxq > info.max_rx_queues || n_txq > info.max_tx_queues) {
		snprintf(err, errlen, "port %u (%s): needs %u rx / %u tx queues, device has %u / %u",
			 port, info.driver_name, n_rxq, n_txq, info.max_rx_queues, info.max_tx_queues);
		return -1;
	}
	if (n_rxq > 1) {
		uint64_t want = RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP;

		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf = want & info.flow_type_rss_offloads;
		if (conf.rx_adv_conf.rss_conf.rss_hf != want)
			fprintf(stderr, "terelay: port %u (%s): RSS limited to 0x%" PRIx64 " of 0x%" PRIx64 "\n",
				port, info.driver_name, conf.rx_adv_conf.rss_conf.rss_hf, want);
	}
	if ((rc = rte_eth_dev_configure(port, n_rxq, n_txq, &conf)) != 0) {
		snprintf(err, errlen, "port %u: configure: %s", port, strerror(-rc));
		return -1;
	}
	if (rte_eth_dev_adjust_nb_rx_tx_desc(port, &rx_desc, &tx_desc) != 0) {
		snprintf(err, errlen, "port %u: cannot adjust descriptor counts", port);
		return -1;
	}
	int socket = rte_eth_dev_socket_id(port);

	for (uint16_t q = 0; q < n_rxq; q++) {
		if ((rc = rte_eth_rx_queue_setup(port, q, rx_desc, (unsigned)socket, NULL, pool)) != 0) {
			snprintf(err, errlen, "port %u: rx queue %u: %s", port, q, strerror(-rc));
			return -1;
		}
	}
	for (uint16_t q = 0; q < n_txq; q++) {
		if ((rc = rte_eth_tx_queue_setup(port, q, tx_desc, (unsigned)socket, NULL)) != 0) {
			snprintf(err, errlen, "port %u: tx queue %u: %s", port, q, strerror(-rc));
			return -1;
		}
	}
	if ((rc = rte_eth_dev_start(port)) != 0) {
		snprintf(err, errlen, "port %u: start: %s", port, strerror(-rc));
		return -1;
	}
	/* ND uses multicast; the relay owns its addresses on this link. */
	rte_eth_allmulticast_enable(port);
	rte_eth_macaddr_get(port, mac);
	return 0;
}

void tr_port_stop(uint16_t port)
{
	rte_eth_dev_stop(port);
	rte_eth_dev_close(port);
}
