/* SPDX-License-Identifier: BSD-3-Clause
 *
 * Whole-path fuzzer: the real worker burst and control functions, fed with
 * synthesised mbufs and a clock that advances between packets, so that peer
 * creation, bubbles, trust, queues, expiry, eviction and reassembly all run.
 * No device: everything the relay sends lands in the replay ring and is
 * freed. State persists across inputs, as in a relay that never restarts.
 *
 * Input: a sequence of records
 *   byte 0  bits 0-3: clock advance in 250 ms steps; bit 4: fix the IPv4
 *           header and UDP checksums (so the fuzzer gets past them);
 *           bit 5: run the full idle sweep after advancing
 *   byte 1-2 frame length (big-endian, clipped to what is left)
 *   then the Ethernet frame.
 *
 * Invariants, checked after every input (abort on violation): the
 * accounting identity holds, and every mbuf is either free in the pool or
 * held by the relay (queued for a peer, or a fragment awaiting reassembly).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "relay.h"
#include "report.h"

static struct tr_relay relay;
static unsigned n_mbufs;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fix_checksums(uint8_t *f, size_t len)
{
	if (len < TR_ETH_HLEN + TR_IPV4_HLEN || f[12] != 0x08 || f[13] != 0x00)
		return;
	uint8_t *ip = f + TR_ETH_HLEN;
	size_t ihl = (size_t)(ip[0] & 0x0f) * 4;

	if (ihl < TR_IPV4_HLEN || TR_ETH_HLEN + ihl > len)
		return;
	ip[10] = ip[11] = 0;
	uint16_t ck = tr_ipv4_hdr_cksum(ip, ihl);
	memcpy(ip + 10, &ck, 2);
	size_t tot = (size_t)ip[2] << 8 | ip[3];
	if (ip[9] != TR_NH_UDP || (ip[6] & 0x3f) != 0 || ip[7] != 0 || tot > len - TR_ETH_HLEN ||
	    tot < ihl + TR_UDP_HLEN)
		return;
	uint8_t *udp = ip + ihl;
	size_t ulen = (size_t)udp[4] << 8 | udp[5];
	if (ulen < TR_UDP_HLEN || ulen > tot - ihl)
		return;
	uint32_t src, dst;
	memcpy(&src, ip + 12, 4);
	memcpy(&dst, ip + 16, 4);
	udp[6] = udp[7] = 0;
	ck = tr_udp4_cksum(__builtin_bswap32(src), __builtin_bswap32(dst), udp, ulen);
	memcpy(udp + 6, &ck, 2);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static char *eal[] = { "fuzz_relay", "--no-huge", "--no-shconf", "-m", "512", "--no-pci",
			       "-l", "0", "--no-telemetry", "--log-level=*:error", NULL };
	struct tr_config *c = &relay.cfg;

	(void)argc;
	(void)argv;
	if (rte_eal_init(RTE_DIM(eal) - 1, eal) < 0)
		abort();
	/* The conformance fixture (notes §6), with small tables so that the
	 * fuzzer reaches the limits: eviction, pending budget, queue caps. */
	tr_config_defaults(c);
	c->ipv4 = 0xC6336401;                           /* 198.51.100.1 */
	c->port = 3545;
	memcpy(c->ipv6, (const uint8_t[16]){ 0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, [15] = 1 }, 16);
	c->served[0] = (struct tr_prefix6){ .addr = { 0x20, 0x01, 0x0d, 0xb8 }, .len = 32 };
	c->n_served = 1;
	c->ipv4_gateway_mac_set = c->ipv6_gateway_mac_set = true;
	memcpy(c->ipv4_gateway_mac, (const uint8_t[6]){ 2, 0, 0, 0, 0, 4 }, 6);
	memcpy(c->ipv6_gateway_mac, (const uint8_t[6]){ 2, 0, 0, 0, 0, 6 }, 6);
	c->peers_max = 1024;
	c->pending_max = 64;
	c->negative_cache = 64;
	c->global_queue_pkts = 256;
	c->mbufs = 4096;
	c->bubble_secret_set = true;                    /* reproducible crashes */
	/* The server role beside the relay (notes §8 addresses): frames to
	 * P:3544 and S:3544 take the server step, the rest the relay's. */
	c->server_enabled = true;
	c->server_primary = 0xcb007178;                 /* 203.0.113.120 */
	c->server_secondary = 0xcb007179;
	relay.replay = true;
	relay.port_teredo = relay.port_native = RTE_MAX_ETHPORTS;   /* no device */
	if (tr_relay_init(&relay) != 0)
		abort();
	n_mbufs = rte_mempool_avail_count(relay.pool);
	return 0;
}

static void drain_output(void)
{
	struct rte_mbuf *out[64];
	unsigned n;

	tr_tx_flush_all(&relay.lc[relay.control_lcore]);
	while ((n = rte_ring_dequeue_burst(relay.replay_tx, (void **)out, 64, NULL)) > 0)
		rte_pktmbuf_free_bulk(out, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tr_lcore *ctl = &relay.lc[relay.control_lcore];

	while (size >= 3) {
		uint8_t op = data[0];
		size_t len = (size_t)data[1] << 8 | data[2];

		data += 3;
		size -= 3;
		if (len > size)
			len = size;
		if (len > 2048)
			len = 2048;

		tr_clock_advance(&relay.clock, tr_clock_ms(&relay.clock) + (op & 0x0f) * 250u);
		tr_control_tick(relay.ctrl, (op & 0x20) != 0);

		struct rte_mbuf *m = rte_pktmbuf_alloc(relay.pool);
		if (m == NULL)
			abort();        /* the pool never runs dry: that would be a leak */
		uint8_t *f = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)len);
		if (f == NULL && len > 0)
			abort();
		if (len > 0)
			memcpy(f, data, len);
		if (op & 0x10)
			fix_checksums(f, len);
		tr_worker_burst(ctl, &m, 1);
		while (tr_control_poll_ring(relay.ctrl) > 0)
			;
		drain_output();
		data += len;
		size -= len;
	}

	struct tr_snapshot s;
	tr_snapshot_take(&relay, &s);
	if (!s.accounting_ok)
		abort();
	if (rte_mempool_avail_count(relay.pool) + s.queued_now + s.reasm_held != n_mbufs)
		abort();
	return 0;
}
