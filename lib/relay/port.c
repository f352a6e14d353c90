/* SPDX-License-Identifier: BSD-3-Clause
 *
 * Ethernet device set-up: queues per lcore, RSS when several workers share
 * a port (IPv4 side on addresses + UDP ports, IPv6 side on addresses), the
 * drivers-cfg profile's offloads and rte_flow rules. The device is asked
 * what it supports; what it cannot do is logged, one line each, and the port
 * falls back to what it can — never silently.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_flow.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "bond.h"
#include "port.h"

static const struct tr_profile *ctx_prof;
static struct tr_port_req ctx_req;

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

int tr_port_socket(uint16_t port)
{
	int s = rte_eth_dev_socket_id(port);

	/* vdevs and some VMs report SOCKET_ID_ANY: the creating thread's is as good as any. */
	return s < 0 ? (int)rte_socket_id() : s;
}

unsigned tr_numa_check_workers(const unsigned *lcores, unsigned n, uint16_t port_teredo,
			       uint16_t port_native, FILE *log)
{
	int st = tr_port_socket(port_teredo), sn = tr_port_socket(port_native);
	unsigned bad = 0;

	if (log == NULL)
		log = stderr;
	for (unsigned i = 0; i < n; i++) {
		int ls = (int)rte_lcore_to_socket_id(lcores[i]);

		if (ls != st || ls != sn) {
			fprintf(log, "terelay: warning: worker lcore %u is on socket %d but polls port %u "
				"(socket %d)%s; every packet crosses the interconnect\n", lcores[i], ls,
				(unsigned)(ls != st ? port_teredo : port_native), ls != st ? st : sn,
				port_teredo != port_native ? " and another port" : "");
			bad++;
		}
	}
	return bad;
}

/* The pool rx queues of a port on `socket` should take mbufs from. */
static struct rte_mempool *pool_on_socket(struct rte_mempool *pool, int socket, FILE *log,
					  uint16_t port, const char *drv, unsigned *fallbacks)
{
	char name[RTE_MEMPOOL_NAMESIZE];
	struct rte_mempool *mp;

	if (pool == NULL || pool->socket_id == socket || pool->socket_id == SOCKET_ID_ANY)
		return pool;
	snprintf(name, sizeof(name), "tr_mbufs_s%d", socket);
	mp = rte_mempool_lookup(name);
	if (mp == NULL)
		mp = rte_pktmbuf_pool_create(name, pool->size, 256, 0,
					     rte_pktmbuf_data_room_size(pool), socket);
	if (mp == NULL) {
		fprintf(log, "terelay: port %u (%s): no memory for mbufs on socket %d, its rx queues "
			"use socket %d's\n", port, drv, socket, pool->socket_id);
		(*fallbacks)++;
		return pool;
	}
	return mp;
}

static uint64_t rss_hf_of(const struct tr_profile *p)
{
	uint64_t hf = 0;

	if (p->rss_ipv4 & TR_RSS_ADDR)
		hf |= RTE_ETH_RSS_IPV4;
	if (p->rss_ipv4 & TR_RSS_UDP)
		hf |= RTE_ETH_RSS_NONFRAG_IPV4_UDP;
	if (p->rss_ipv4 & TR_RSS_FRAG)
		hf |= RTE_ETH_RSS_FRAG_IPV4;
	if (p->rss_ipv6 & TR_RSS_ADDR)
		hf |= RTE_ETH_RSS_IPV6;
	if (p->rss_ipv6 & TR_RSS_FRAG)
		hf |= RTE_ETH_RSS_FRAG_IPV6;
	return hf;
}

/* ------------------------------------------------------------ rte_flow */

struct flow_spec {
	struct rte_flow_attr attr;
	struct rte_flow_item pat[5];
	struct rte_flow_action act[2];
	struct rte_flow_item_eth eth, eth_m;
	struct rte_flow_item_ipv4 ip4, ip4_m;
	struct rte_flow_item_ipv6 ip6, ip6_m;
	struct rte_flow_item_udp udp, udp_m;
	struct rte_flow_item_icmp6 icmp6, icmp6_m;
	struct rte_flow_action_queue queue;
	struct rte_flow_action_rss rss;
	uint16_t queues[RTE_MAX_QUEUES_PER_PORT];
};

static void spec_queue(struct flow_spec *f, uint16_t q)
{
	f->queue.index = q;
	f->act[0] = (struct rte_flow_action){ .type = RTE_FLOW_ACTION_TYPE_QUEUE, .conf = &f->queue };
	f->act[1] = (struct rte_flow_action){ .type = RTE_FLOW_ACTION_TYPE_END };
}

/*
 * Build rule `r` (variant v: ND has NS and NA, local has IPv4 and IPv6).
 * Returns false when the variant does not exist or does not apply here.
 */
static bool build_rule(struct flow_spec *f, enum tr_flow_rule r, unsigned v,
		       const struct tr_port_req *req, uint64_t rss_hf, uint16_t ctrl_q)
{
	unsigned k = 0;

	memset(f, 0, sizeof(*f));
	f->attr.ingress = 1;
	f->pat[k++] = (struct rte_flow_item){ .type = RTE_FLOW_ITEM_TYPE_ETH };
	switch (r) {
	case TR_FLOW_TEREDO:
		if (v > 0 || !req->teredo_side)
			return false;
		f->ip4.hdr.dst_addr = rte_cpu_to_be_32(req->relay_ipv4);
		f->ip4_m.hdr.dst_addr = UINT32_MAX;
		f->udp.hdr.dst_port = rte_cpu_to_be_16(req->relay_port);
		f->udp_m.hdr.dst_port = UINT16_MAX;
		f->pat[k++] = (struct rte_flow_item){ .type = RTE_FLOW_ITEM_TYPE_IPV4,
			.spec = &f->ip4, .mask = &f->ip4_m };
		f->pat[k++] = (struct rte_flow_item){ .type = RTE_FLOW_ITEM_TYPE_UDP,
			.spec = &f->udp, .mask = &f->udp_m };
		if (req->n_rxq == 1) {
			spec_queue(f, 0);
		} else {
			for (uint16_t q = 0; q < req->n_rxq; q++)
				f->queues[q] = q;
			f->rss = (struct rte_flow_action_rss){
				.types = rss_hf & (RTE_ETH_RSS_IPV4 | RTE_ETH_RSS_NONFRAG_IPV4_UDP),
				.queue_num = req->n_rxq, .queue = f->queues,
			};
			f->act[0] = (struct rte_flow_action){ .type = RTE_FLOW_ACTION_TYPE_RSS,
				.conf = &f->rss };
			f->act[1] = (struct rte_flow_action){ .type = RTE_FLOW_ACTION_TYPE_END };
		}
		break;
	case TR_FLOW_ARP:
		if (v > 0 || !req->teredo_side)
			return false;
		f->eth.type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
		f->eth_m.type = UINT16_MAX;
		f->pat[0].spec = &f->eth;
		f->pat[0].mask = &f->eth_m;
		spec_queue(f, ctrl_q);
		break;
	case TR_FLOW_ND:
		if (v > 1 || !req->native_side)
			return false;
		f->pat[k++] = (struct rte_flow_item){ .type = RTE_FLOW_ITEM_TYPE_IPV6 };
		f->icmp6.type = v == 0 ? 135 : 136;     /* RFC 4861 NS, NA */
		f->icmp6_m.type = UINT8_MAX;
		f->pat[k++] = (struct rte_flow_item){ .type = RTE_FLOW_ITEM_TYPE_ICMP6,
			.spec = &f->icmp6, .mask = &f->icmp6_m };
		spec_queue(f, ctrl_q);
		break;
	case TR_FLOW_LOCAL:
		/* Below the Teredo rule: what is left for the relay's addresses. */
		f->attr.priority = 1;
		if (v == 0 && req->teredo_side) {
			f->ip4.hdr.dst_addr = rte_cpu_to_be_32(req->relay_ipv4);
			f->ip4_m.hdr.dst_addr = UINT32_MAX;
			f->pat[k++] = (struct rte_flow_item){ .type = RTE_FLOW_ITEM_TYPE_IPV4,
				.spec = &f->ip4, .mask = &f->ip4_m };
		} else if (v == 1 && req->native_side) {
			memcpy(f->ip6.hdr.dst_addr, req->relay_ipv6, 16);
			memset(f->ip6_m.hdr.dst_addr, 0xff, 16);
			f->pat[k++] = (struct rte_flow_item){ .type = RTE_FLOW_ITEM_TYPE_IPV6,
				.spec = &f->ip6, .mask = &f->ip6_m };
		} else {
			return false;
		}
		spec_queue(f, ctrl_q);
		break;
	default:
		return false;
	}
	f->pat[k] = (struct rte_flow_item){ .type = RTE_FLOW_ITEM_TYPE_END };
	return true;
}

static void apply_flows(uint16_t port, const char *drv, const struct tr_port_req *req,
			const struct tr_profile *p, uint64_t rss_hf, struct tr_port_result *res,
			FILE *log)
{
	static struct flow_spec f;     /* large (queue list): not on the stack */

	for (int r = 0; r < TR_FLOW_N; r++) {
		bool to_ctrl = r != TR_FLOW_TEREDO;

		if (!p->flow[r])
			continue;
		for (unsigned v = 0; v < 2; v++) {
			struct rte_flow_error fe;
			int rc;

			/* Control rules are checked against queue 0 when no control
			 * queue exists, so the operator learns whether the NIC could. */
			uint16_t cq = req->ctrl_rxq >= 0 ? (uint16_t)req->ctrl_rxq : 0;

			if (!build_rule(&f, (enum tr_flow_rule)r, v, req, rss_hf, cq))
				continue;
			res->flows_wanted++;
			memset(&fe, 0, sizeof(fe));
			rc = rte_flow_validate(port, &f.attr, f.pat, f.act, &fe);
			if (rc != 0) {
				fprintf(log, "terelay: port %u (%s): flow rule %s/%u not supported (%s%s%s): "
					"%s\n", port, drv, tr_flow_rule_name((enum tr_flow_rule)r), v,
					strerror(-rc), fe.message ? ", " : "", fe.message ? fe.message : "",
					to_ctrl ? "the workers hand these packets to control"
						: "RSS spreads UDP/3544 instead");
				res->fallbacks++;
				continue;
			}
			if (to_ctrl && req->ctrl_rxq < 0) {
				fprintf(log, "terelay: port %u (%s): flow rule %s/%u validated but not installed: "
					"the control lcore polls no rx queue in this version; the workers hand "
					"these packets to control\n", port, drv,
					tr_flow_rule_name((enum tr_flow_rule)r), v);
				res->fallbacks++;
				continue;
			}
			if (req->dry_run) {
				res->flows_ok++;
				continue;
			}
			if (rte_flow_create(port, &f.attr, f.pat, f.act, &fe) == NULL) {
				fprintf(log, "terelay: port %u (%s): flow rule %s/%u validated but creation "
					"failed (%s): falling back to RSS\n", port, drv,
					tr_flow_rule_name((enum tr_flow_rule)r), v,
					fe.message ? fe.message : "no reason given");
				res->fallbacks++;
				continue;
			}
			res->flows_ok++;
		}
	}
}

/* ----------------------------------------------------------- set-up */

static void check_ptypes(uint16_t port, const char *drv, struct tr_port_result *res, FILE *log)
{
	static const struct { uint32_t mask, ptype; const char *what; } want[] = {
		{ RTE_PTYPE_L2_MASK, RTE_PTYPE_L2_ETHER_ARP, "ARP" },
		{ RTE_PTYPE_L3_MASK, RTE_PTYPE_L3_IPV4, "IPv4" },
		{ RTE_PTYPE_L3_MASK, RTE_PTYPE_L3_IPV6, "IPv6" },
		{ RTE_PTYPE_L4_MASK, RTE_PTYPE_L4_UDP, "UDP" },
	};
	uint32_t pt[64];
	int n = rte_eth_dev_get_supported_ptypes(port, RTE_PTYPE_ALL_MASK, pt, RTE_DIM(pt));
	char miss[64] = "";

	if (n < 0)
		n = 0;
	for (size_t i = 0; i < RTE_DIM(want); i++) {
		bool found = false;

		for (int j = 0; j < n && j < (int)RTE_DIM(pt); j++) {
			uint32_t m = want[i].mask;

			/* IPv4/IPv6 "with or without options" count as well. */
			if ((pt[j] & m) == want[i].ptype ||
			    (m == RTE_PTYPE_L3_MASK && want[i].ptype == RTE_PTYPE_L3_IPV4 &&
			     RTE_ETH_IS_IPV4_HDR(pt[j] & m)) ||
			    (m == RTE_PTYPE_L3_MASK && want[i].ptype == RTE_PTYPE_L3_IPV6 &&
			     RTE_ETH_IS_IPV6_HDR(pt[j] & m)))
				found = true;
		}
		if (!found) {
			res->ptypes_missing++;
			snprintf(miss + strlen(miss), sizeof(miss) - strlen(miss), " %s", want[i].what);
		}
	}
	if (res->ptypes_missing > 0) {
		fprintf(log, "terelay: port %u (%s): rx packet types not reported for%s: the workers "
			"classify in software (they always do)\n", port, drv, miss);
		res->fallbacks++;
	}
}

/* VLAN strip / insert (D41), only for the tags of the sides this port
 * carries: the NIC where the profile and the device agree, software (the
 * same bytes) otherwise. QinQ strip is taken only with QINQ_STRIP itself:
 * plain VLAN strip on double-tagged frames differs between NICs in which
 * tag it removes. NICs insert 0x8100 single tags and 0x88a8 outer tags;
 * other TPIDs stay in software. */
static void vlan_offloads(uint16_t port, const char *drv, const struct tr_port_req *req,
			  const struct tr_profile *p, const struct rte_eth_dev_info *info,
			  struct rte_eth_conf *conf, struct tr_port_result *res, FILE *log)
{
	bool one = false, two = false, other_tpid = false;

	for (int s = 0; s < 2; s++) {
		const struct tr_vlan *v = &req->vlan[s];

		if (!(s == TR_SIDE_TEREDO ? req->teredo_side : req->native_side))
			continue;
		one = one || v->ntags == 1;
		two = two || v->ntags == 2;
		other_tpid = other_tpid || (v->ntags == 1 && v->outer_tpid != TR_TPID_8021Q) ||
			     (v->ntags == 2 && v->outer_tpid != TR_TPID_8021AD);
	}
	if (!one && !two)
		return;
	struct { bool want; uint64_t bit; bool tx; const char *what; } off[] = {
		{ p->vlan_strip && one && !two, RTE_ETH_RX_OFFLOAD_VLAN_STRIP, false, "rx VLAN strip" },
		{ p->qinq_strip && two, RTE_ETH_RX_OFFLOAD_QINQ_STRIP, false, "rx QinQ strip" },
		{ p->qinq_strip && two && one, RTE_ETH_RX_OFFLOAD_VLAN_STRIP, false, "rx VLAN strip" },
		{ p->vlan_insert && one, RTE_ETH_TX_OFFLOAD_VLAN_INSERT, true, "tx VLAN insert" },
		{ p->qinq_insert && two, RTE_ETH_TX_OFFLOAD_QINQ_INSERT, true, "tx QinQ insert" },
	};
	for (size_t i = 0; i < RTE_DIM(off); i++) {
		uint64_t capa = off[i].tx ? info->tx_offload_capa : info->rx_offload_capa;

		if (!off[i].want)
			continue;
		if (capa & off[i].bit) {
			if (off[i].tx)
				conf->txmode.offloads |= off[i].bit;
			else
				conf->rxmode.offloads |= off[i].bit;
		} else {
			fprintf(log, "terelay: port %u (%s): %s not offered: tags %s in software\n", port,
				drv, off[i].what, off[i].tx ? "inserted" : "removed");
			res->fallbacks++;
		}
	}
	if (other_tpid && (p->vlan_insert || p->qinq_insert)) {
		fprintf(log, "terelay: port %u (%s): a side's outer TPID is not the one NICs insert "
			"(0x8100 single, 0x88a8 QinQ): its tags in software\n", port, drv);
		res->fallbacks++;
	}
}

int tr_port_setup(uint16_t port, const struct tr_port_req *req, struct rte_mempool *pool,
		  struct rte_ether_addr *mac, struct tr_port_result *res, FILE *log,
		  char *err, size_t errlen)
{
	struct tr_profile defaults;
	const struct tr_profile *p = req->prof;
	struct tr_port_result local;
	struct rte_eth_dev_info info;
	struct rte_eth_conf conf;
	uint16_t rx_desc = req->rx_desc, tx_desc = req->tx_desc;
	const char *drv;
	int rc;

	if (res == NULL)
		res = &local;
	memset(res, 0, sizeof(*res));
	if (log == NULL)
		log = stderr;
	if (p == NULL) {
		tr_profile_defaults(&defaults);
		p = &defaults;
	}
	memset(&conf, 0, sizeof(conf));
	if ((rc = rte_eth_dev_info_get(port, &info)) != 0) {
		snprintf(err, errlen, "port %u: cannot get device info: %s", port, strerror(-rc));
		return -1;
	}
	drv = info.driver_name;
	snprintf(res->driver, sizeof(res->driver), "%s", drv);
	res->socket = tr_port_socket(port);
	res->max_rxq = info.max_rx_queues;
	res->max_txq = info.max_tx_queues;
	if (req->n_rxq > info.max_rx_queues || req->n_txq > info.max_tx_queues) {
		snprintf(err, errlen, "port %u (%s): needs %u rx / %u tx queues (one rx per worker, one tx "
			 "per lcore), device has %u / %u", port, drv, req->n_rxq, req->n_txq,
			 info.max_rx_queues, info.max_tx_queues);
		return -1;
	}
	if (p->loaded) {
		/* A profile for another driver still works, but its numbers were not meant for it. */
		if (strstr(drv, p->driver) == NULL) {
			fprintf(log, "terelay: port %u (%s): profile %s is written for driver '%s'\n",
				port, drv, p->name, p->driver);
			res->fallbacks++;
		}
		if (req->n_rxq > p->max_queues) {
			fprintf(log, "terelay: port %u (%s): %u rx queues, profile %s advises at most %u\n",
				port, drv, req->n_rxq, p->name, p->max_queues);
			res->fallbacks++;
		}
		/* The config's default (1024) gives way to the profile's; a set value wins. */
		if (p->rx_desc != 0 && rx_desc == 1024)
			rx_desc = p->rx_desc;
		if (p->tx_desc != 0 && tx_desc == 1024)
			tx_desc = p->tx_desc;
	}

	/* RSS */
	res->rss_hf_wanted = p->rss ? rss_hf_of(p) : 0;
	if (req->n_rxq > 1) {
		uint64_t want = res->rss_hf_wanted;

		if (want == 0) {
			fprintf(log, "terelay: port %u (%s): %u rx queues without RSS (profile %s): "
				"the device alone decides which queue gets what\n", port, drv,
				req->n_rxq, p->name);
			res->fallbacks++;
		} else if ((want & info.flow_type_rss_offloads) == 0) {
			fprintf(log, "terelay: port %u (%s): no RSS on these fields (device offers 0x%" PRIx64
				"): the device spreads by its own means (af_packet: kernel fanout hash; "
				"pcap/ring: one source per queue)\n", port, drv, info.flow_type_rss_offloads);
			res->fallbacks++;
		} else {
			conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
			conf.rx_adv_conf.rss_conf.rss_hf = want & info.flow_type_rss_offloads;
			res->rss_hf = conf.rx_adv_conf.rss_conf.rss_hf;
			if (res->rss_hf != want) {
				fprintf(log, "terelay: port %u (%s): RSS limited to 0x%" PRIx64 " of 0x%" PRIx64 "\n",
					port, drv, res->rss_hf, want);
				res->fallbacks++;
			}
		}
	}

	/* Offloads: ask for what the profile names and the device has. */
	struct { bool want; uint64_t bit; bool tx; const char *what; } off[] = {
		{ p->tx_ipv4_cksum, RTE_ETH_TX_OFFLOAD_IPV4_CKSUM, true, "tx IPv4 checksum" },
		{ p->tx_udp_cksum, RTE_ETH_TX_OFFLOAD_UDP_CKSUM, true, "tx UDP checksum" },
		{ p->rx_cksum, RTE_ETH_RX_OFFLOAD_IPV4_CKSUM, false, "rx IPv4 checksum" },
		{ p->rx_cksum, RTE_ETH_RX_OFFLOAD_UDP_CKSUM, false, "rx UDP checksum" },
		{ p->multi_seg, RTE_ETH_TX_OFFLOAD_MULTI_SEGS, true, "tx multi-segment" },
		{ p->multi_seg, RTE_ETH_RX_OFFLOAD_SCATTER, false, "rx scatter" },
	};
	for (size_t i = 0; i < RTE_DIM(off); i++) {
		uint64_t capa = off[i].tx ? info.tx_offload_capa : info.rx_offload_capa;

		if (!off[i].want)
			continue;
		if (capa & off[i].bit) {
			if (off[i].tx)
				conf.txmode.offloads |= off[i].bit;
			else
				conf.rxmode.offloads |= off[i].bit;
		} else {
			fprintf(log, "terelay: port %u (%s): %s not offered: %s\n", port, drv, off[i].what,
				off[i].bit == RTE_ETH_TX_OFFLOAD_MULTI_SEGS ?
					"chained mbufs (reassembled packets) rely on the PMD's copy path" :
				off[i].bit == RTE_ETH_RX_OFFLOAD_SCATTER ?
					"frames larger than one mbuf cannot be received" :
				off[i].tx ? "computed in software" : "verified in software");
			res->fallbacks++;
		}
	}
	vlan_offloads(port, drv, req, p, &info, &conf, res, log);
	res->rx_offloads = conf.rxmode.offloads;
	res->tx_offloads = conf.txmode.offloads;

	if (p->flow_isolate) {
		/* Isolation would starve ARP/ND without a polled control queue. */
		fprintf(log, "terelay: port %u (%s): flow isolation not used: control has no rx queue, "
			"ARP/ND must reach the workers\n", port, drv);
		res->fallbacks++;
	}

	if ((rc = rte_eth_dev_configure(port, req->n_rxq, req->n_txq, &conf)) != 0) {
		/* net_tap (and a few others) want equal counts; an extra rx queue nobody
		 * polls would silently lose its share of the traffic, so refuse instead. */
		if (req->n_rxq != req->n_txq)
			snprintf(err, errlen, "port %u (%s): configure with %u rx / %u tx queues refused (%s); "
				 "terelay needs one tx queue per worker plus one for control, and the "
				 "driver may want as many rx as tx queues", port, drv, req->n_rxq,
				 req->n_txq, strerror(-rc));
		else
			snprintf(err, errlen, "port %u (%s): configure: %s", port, drv, strerror(-rc));
		return -1;
	}
	if (rte_eth_dev_adjust_nb_rx_tx_desc(port, &rx_desc, &tx_desc) != 0) {
		snprintf(err, errlen, "port %u (%s): cannot adjust descriptor counts", port, drv);
		return -1;
	}
	res->rx_desc = rx_desc;
	res->tx_desc = tx_desc;
	if (p->loaded && ((p->rx_desc && p->rx_desc != rx_desc) || (p->tx_desc && p->tx_desc != tx_desc)) &&
	    req->rx_desc == 1024 && req->tx_desc == 1024) {
		fprintf(log, "terelay: port %u (%s): descriptors adjusted to %u rx / %u tx by the device\n",
			port, drv, rx_desc, tx_desc);
		res->fallbacks++;
	}
	int socket = res->socket;
	struct rte_mempool *rxpool = pool_on_socket(pool, socket, log, port, drv, &res->fallbacks);

	for (uint16_t q = 0; q < req->n_rxq; q++) {
		struct rte_eth_rxconf rxc = info.default_rxconf;

		rxc.offloads = conf.rxmode.offloads;
		if ((rc = rte_eth_rx_queue_setup(port, q, rx_desc, (unsigned)socket, &rxc, rxpool)) != 0) {
			snprintf(err, errlen, "port %u (%s): rx queue %u: %s", port, drv, q, strerror(-rc));
			return -1;
		}
	}
	for (uint16_t q = 0; q < req->n_txq; q++) {
		struct rte_eth_txconf txc = info.default_txconf;

		txc.offloads = conf.txmode.offloads;
		if ((rc = rte_eth_tx_queue_setup(port, q, tx_desc, (unsigned)socket, &txc)) != 0) {
			snprintf(err, errlen, "port %u (%s): tx queue %u: %s", port, drv, q, strerror(-rc));
			return -1;
		}
	}
	if ((rc = rte_eth_dev_start(port)) != 0) {
		snprintf(err, errlen, "port %u (%s): start: %s", port, drv, strerror(-rc));
		return -1;
	}
	if (p->rx_ptype)
		check_ptypes(port, drv, res, log);
	apply_flows(port, drv, req, p, res->rss_hf ? res->rss_hf : res->rss_hf_wanted, res, log);
	/* ND uses multicast; the relay owns its addresses on this link. */
	if (rte_eth_allmulticast_enable(port) != 0) {
		/* A bond passes all-multicast to its members and fails when one
		 * refuses; promiscuous mode gets ND (and LACP's group) there. */
		if (tr_bond_is(port) && rte_eth_promiscuous_enable(port) == 0) {
			fprintf(log, "terelay: port %u (%s): all-multicast refused by a member: "
				"promiscuous instead (ND to solicited-node groups)\n", port, drv);
		} else {
			fprintf(log, "terelay: port %u (%s): all-multicast refused: ND to solicited-node "
				"groups may not arrive\n", port, drv);
		}
		res->fallbacks++;
	}
	rte_eth_macaddr_get(port, mac);
	return 0;
}

bool tr_port_vlan_rx_nic(uint64_t rx_offloads, const struct tr_vlan *v)
{
	if (v->ntags == 1)
		return (rx_offloads & RTE_ETH_RX_OFFLOAD_VLAN_STRIP) && v->outer_tpid == TR_TPID_8021Q;
	if (v->ntags == 2)
		return (rx_offloads & RTE_ETH_RX_OFFLOAD_QINQ_STRIP) && v->outer_tpid == TR_TPID_8021AD;
	return false;
}

bool tr_port_vlan_tx_nic(uint64_t tx_offloads, const struct tr_vlan *v)
{
	if (v->ntags == 1)
		return (tx_offloads & RTE_ETH_TX_OFFLOAD_VLAN_INSERT) && v->outer_tpid == TR_TPID_8021Q;
	if (v->ntags == 2)
		return (tx_offloads & RTE_ETH_TX_OFFLOAD_QINQ_INSERT) && v->outer_tpid == TR_TPID_8021AD;
	return false;
}

uint64_t tr_port_tx_offloads(uint16_t port)
{
	struct rte_eth_conf conf;

	return rte_eth_dev_conf_get(port, &conf) == 0 ? conf.txmode.offloads : 0;
}

void tr_port_print_vlan(FILE *out, const char *side, const struct tr_vlan *v, bool rx_nic,
			bool tx_nic)
{
	if (v->ntags == 0)
		return;
	if (v->ntags == 1)
		fprintf(out, "  vlan: %s side VLAN %u (TPID 0x%04x)", side, v->vid[0], v->outer_tpid);
	else
		fprintf(out, "  vlan: %s side QinQ outer VLAN %u (TPID 0x%04x), inner VLAN %u", side,
			v->vid[0], v->outer_tpid, v->vid[1]);
	fprintf(out, ": rx strip %s, tx insert %s\n", rx_nic ? "by the NIC" : "in software",
		tx_nic ? "by the NIC" : "in software");
}

void tr_port_set_context(const struct tr_profile *prof, const struct tr_config *cfg)
{
	ctx_prof = prof;
	memset(&ctx_req, 0, sizeof(ctx_req));
	ctx_req.relay_ipv4 = cfg->ipv4;
	ctx_req.relay_port = cfg->port;
	memcpy(ctx_req.relay_ipv6, cfg->ipv6, 16);
	/* Which side a port carries is known from the names; both when shared. */
	ctx_req.teredo_side = true;
	ctx_req.native_side = true;
	tr_config_vlan(cfg, TR_SIDE_TEREDO, &ctx_req.vlan[TR_SIDE_TEREDO]);
	tr_config_vlan(cfg, TR_SIDE_NATIVE, &ctx_req.vlan[TR_SIDE_NATIVE]);
}

/* One rx queue per worker, except on devices that spread received frames
 * over every queue they have by themselves: net_af_packet's kernel fanout
 * covers all its qpairs, net_tap wants as many rx as tx queues. There the
 * workers poll all of them (round robin), so no queue goes unread. A
 * bond (net_bonding) follows its members. */
uint16_t tr_port_rx_queues(uint16_t port, uint16_t n_workers, uint16_t n_txq)
{
	struct rte_eth_dev_info info;
	int member = tr_bond_first_member(port);

	/* A bond's rx queue i reads queue i of every member: as the members. */
	if (member >= 0)
		return tr_port_rx_queues((uint16_t)member, n_workers, n_txq);
	if (rte_eth_dev_info_get(port, &info) != 0)
		return n_workers;
	if (strcmp(info.driver_name, "net_af_packet") == 0)
		return RTE_MAX(n_workers, info.max_rx_queues);
	if (strcmp(info.driver_name, "net_tap") == 0)
		return RTE_MAX(n_workers, n_txq);
	return n_workers;
}

int tr_port_start(uint16_t port, uint16_t n_rxq, uint16_t n_txq, uint16_t rx_desc,
		  uint16_t tx_desc, struct rte_mempool *pool, struct rte_ether_addr *mac,
		  char *err, size_t errlen)
{
	struct tr_port_req req = ctx_req;

	req.n_rxq = n_rxq;
	req.n_txq = n_txq;
	req.rx_desc = rx_desc;
	req.tx_desc = tx_desc;
	req.ctrl_rxq = -1;
	req.prof = ctx_prof;
	return tr_port_setup(port, &req, pool, mac, NULL, NULL, err, errlen);
}

bool tr_port_tx_cksum_offload(uint16_t port)
{
	const uint64_t both = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
	struct rte_eth_conf conf;

	return rte_eth_dev_conf_get(port, &conf) == 0 && (conf.txmode.offloads & both) == both;
}

void tr_port_stop(uint16_t port)
{
	rte_eth_dev_stop(port);
	rte_eth_dev_close(port);
}
