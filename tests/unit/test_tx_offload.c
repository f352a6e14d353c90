/* SPDX-License-Identifier: BSD-3-Clause */
/* Encapsulation of an mbuf (tr_encap_mbuf) with and without tx checksum
 * offload, checked against DPDK's own checksum helpers: what terelay leaves
 * for the NIC must be what DPDK says a NIC expects. EAL (--no-huge), no ports. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <rte_eal.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#include "relay.h"

static struct rte_mempool *pool;
static struct tr_relay relay;

/* An Ethernet frame carrying a native IPv6 UDP packet (valid checksum) of
 * plen payload bytes, as the worker receives it. */
static struct rte_mbuf *native_frame(uint16_t plen, unsigned seed)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	uint16_t len = (uint16_t)(TR_ETH_HLEN + TR_IPV6_HLEN + plen);
	uint8_t *f = (uint8_t *)rte_pktmbuf_append(m, len);

	srand(seed);
	for (uint16_t i = 0; i < len; i++)
		f[i] = (uint8_t)rand();
	f[12] = 0x86;
	f[13] = 0xdd;
	uint8_t *ip6 = f + TR_ETH_HLEN;

	ip6[0] = 0x60;
	ip6[4] = (uint8_t)(plen >> 8);
	ip6[5] = (uint8_t)plen;
	ip6[6] = TR_NH_UDP;
	ip6[7] = 64;
	ip6[40 + 4] = (uint8_t)(plen >> 8);
	ip6[40 + 5] = (uint8_t)plen;
	memset(ip6 + 40 + 6, 0, 2);
	uint16_t c = tr_ipv6_l4_cksum(ip6 + 8, ip6 + 24, TR_NH_UDP, ip6 + 40, plen);

	memcpy(ip6 + 40 + 6, &c, 2);
	return m;
}

static void encap(struct rte_mbuf *m, bool offload, uint16_t plen)
{
	struct tr_lcore *lc = &relay.lc[1];

	relay.tx_cksum_offload = offload;
	lc->ip_id = 0x1234;
	assert_int_equal(tr_encap_mbuf(lc, m, TR_ETH_HLEN, (uint16_t)(TR_IPV6_HLEN + plen),
				       0xc0000201u, 4096, 0x020000000004ull), 0);
}

static void offload_leaves_what_dpdk_expects(void **state)
{
	(void)state;
	for (uint16_t plen = 8; plen <= 1240; plen = (uint16_t)(plen + 61)) {
		struct rte_mbuf *sw = native_frame(plen, plen), *hw = native_frame(plen, plen);

		encap(sw, false, plen);
		encap(hw, true, plen);
		assert_int_equal(sw->pkt_len, hw->pkt_len);
		assert_int_equal(sw->ol_flags & RTE_MBUF_F_TX_OFFLOAD_MASK, 0);
		assert_int_equal(hw->ol_flags & RTE_MBUF_F_TX_OFFLOAD_MASK,
				 RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_UDP_CKSUM);
		assert_int_equal(hw->l2_len, TR_ETH_HLEN);
		assert_int_equal(hw->l3_len, TR_IPV4_HLEN);

		struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod_offset(hw, struct rte_ipv4_hdr *, TR_ETH_HLEN);
		struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(ip + 1);

		/* Offload: IPv4 checksum 0, UDP field = DPDK's pseudo-header sum. */
		assert_int_equal(ip->hdr_checksum, 0);
		assert_int_equal(udp->dgram_cksum, rte_ipv4_phdr_cksum(ip, hw->ol_flags));

		/* What the NIC then computes equals the software frame. */
		ip->hdr_checksum = rte_ipv4_cksum(ip);
		udp->dgram_cksum = 0;
		udp->dgram_cksum = rte_ipv4_udptcp_cksum(ip, udp);
		assert_memory_equal(rte_pktmbuf_mtod(sw, void *), rte_pktmbuf_mtod(hw, void *), sw->pkt_len);
		/* And DPDK's sum over the software frame, checksum in place, is
		 * -0 (which rte_ipv4_udptcp_cksum reports as 0xffff). */
		struct rte_ipv4_hdr *sip = rte_pktmbuf_mtod_offset(sw, struct rte_ipv4_hdr *, TR_ETH_HLEN);

		assert_int_equal(rte_ipv4_cksum(sip), 0);
		assert_int_equal(rte_ipv4_udptcp_cksum(sip, sip + 1), 0xffff);
		rte_pktmbuf_free(sw);
		rte_pktmbuf_free(hw);
	}
}

int main(int argc, char **argv)
{
	if (rte_eal_init(argc, argv) < 0)
		return 1;
	pool = rte_pktmbuf_pool_create("test_pool", 256, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
	if (pool == NULL)
		return 1;
	relay.id.ipv4 = 0xc6336401u;
	relay.id.port = 3545;
	relay.cfg.ttl = 64;
	relay.mac_teredo = (struct rte_ether_addr){ { 0x02, 0x70, 0x63, 0x61, 0x70, 0x00 } };
	relay.lc[1].relay = &relay;
	tr_relay_set_tx_vlan(&relay, (const bool[2]){ false, false });   /* untagged sides */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(offload_leaves_what_dpdk_expects),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	rte_eal_cleanup();
	return rc;
}
