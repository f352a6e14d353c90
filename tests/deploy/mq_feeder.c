/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mq_feeder: the NIC for the deploy case 'multiqueue'. A second DPDK process,
 * memif role=server on port 0 (--vdev net_memif0,role=server,socket=...), with
 * as many rx queues as terelay (the memif client) has tx queues and as many tx
 * queues as terelay has rx queues: memif pairs the client's tx queue q with the
 * server's rx queue q, the server's tx queue q with the client's rx queue q.
 *
 *   mq_feeder EAL... -- --rxq N --txq M --out PREFIX [--start-ms MS] [--pause-ms MS]
 *                       [--idle-ms MS] [--max-ms MS] phase0.pcap phase1.pcap ...
 *   mq_feeder --key                     print the RSS key (hex) and exit
 *
 * Once terelay is connected: each phase's frames are spread over the M tx queues
 * by Toeplitz RSS (rte_softrss, the 40-byte default key below) on the fields
 * terelay's RSS profiles ask a NIC for (IPv4: addresses + UDP ports, IPv6:
 * addresses), as such a NIC would, and sent in full (a partial rte_eth_tx_burst
 * is retried: memif rings buffer, nothing is dropped); then the feeder listens
 * for --pause-ms, and on until --idle-ms pass without a frame, so the relay has
 * answered (bubbles, flushed queues) before the next phase. Everything terelay
 * sends on its tx queue q is written to PREFIXq.pcap. After the last phase's
 * pause it stops receiving, closes the captures, prints "done" and waits
 * (without polling) for the peer to disconnect, SIGINT/SIGTERM or --max-ms:
 * stop terelay only after "done".
 *
 * stdout, one line each: "key HEX", "listening", "connected",
 * "phase I: queued Q0 Q1 ..." (per tx queue), "received R0 R1 ..." (per rx queue), "done".
 */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_thash.h>

#define MAXQ 16
#define BURST 32

/* The well-known 40-byte Toeplitz key (Microsoft's RSS verification key, the
 * default of many NICs); test_deploy.py's RSS_KEY must be the same bytes. */
static const uint8_t rss_key[40] = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
	0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
	0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

static volatile sig_atomic_t stop;
static uint16_t n_rxq, n_txq;
static pcap_dumper_t *dump[MAXQ];
static uint64_t received[MAXQ];

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "mq_feeder: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(1);
}

static uint32_t be32_at(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The rx queue a NIC with RSS on those fields would choose (hash modulo
 * the queue count: a default redirection table). Non-IP frames: queue 0. */
static uint16_t rss_queue(const uint8_t *fr, uint32_t len, uint16_t n)
{
	uint32_t tuple[8];
	uint32_t words = 0;

	if (len >= 14 + 40 && fr[12] == 0x86 && fr[13] == 0xdd) {
		for (int i = 0; i < 8; i++)
			tuple[words++] = be32_at(fr + 22 + 4 * i);
	} else if (len >= 14 + 20 && fr[12] == 0x08 && fr[13] == 0x00) {
		const uint8_t *ip = fr + 14;
		uint32_t ihl = (ip[0] & 0xfu) * 4;
		bool frag = (be32_at(ip + 4) & 0x3fff) != 0;   /* MF or offset */

		tuple[words++] = be32_at(ip + 12);
		tuple[words++] = be32_at(ip + 16);
		if (ip[9] == 17 && !frag && len >= 14 + ihl + 4)
			tuple[words++] = be32_at(ip + ihl);
	} else {
		return 0;
	}
	return (uint16_t)(rte_softrss(tuple, words, rss_key) % n);
}

static void write_out(uint16_t q, struct rte_mbuf *m)
{
	struct pcap_pkthdr h;
	uint8_t buf[RTE_ETHER_MAX_JUMBO_FRAME_LEN];
	uint32_t len = rte_pktmbuf_pkt_len(m);
	const uint8_t *p;

	gettimeofday(&h.ts, NULL);
	if (len > sizeof(buf))
		len = sizeof(buf);
	p = rte_pktmbuf_read(m, 0, len, buf);
	h.caplen = h.len = len;
	pcap_dump((u_char *)dump[q], &h, p);
	received[q]++;
}

/* Take what terelay sent; true if anything came. */
static bool poll_rx(uint16_t port)
{
	struct rte_mbuf *m[BURST];
	bool any = false;

	for (uint16_t q = 0; q < n_rxq; q++) {
		uint16_t n = rte_eth_rx_burst(port, q, m, BURST);

		for (uint16_t i = 0; i < n; i++) {
			write_out(q, m[i]);
			rte_pktmbuf_free(m[i]);
		}
		any |= n > 0;
	}
	return any;
}

/* Receive for at least ms, and on until nothing came for idle_ms (the relay is done
 * answering), at most max_ms. */
static void listen_for(uint16_t port, uint64_t ms, uint64_t idle_ms, uint64_t max_ms)
{
	uint64_t hz = rte_get_timer_hz(), t0 = rte_get_timer_cycles(), last = t0, now = t0;

	while (!stop && now - t0 < max_ms * hz / 1000 &&
	       (now - t0 < ms * hz / 1000 || now - last < idle_ms * hz / 1000)) {
		if (poll_rx(port))
			last = rte_get_timer_cycles();
		else
			usleep(100);
		now = rte_get_timer_cycles();
	}
}

static bool link_up(uint16_t port)
{
	struct rte_eth_link l;

	return rte_eth_link_get_nowait(port, &l) == 0 && l.link_status == RTE_ETH_LINK_UP;
}

/* Send one phase: every frame, each on its RSS queue, retrying partial bursts. */
static void send_phase(uint16_t port, struct rte_mempool *pool, const char *path, int idx)
{
	char err[PCAP_ERRBUF_SIZE];
	pcap_t *pc = pcap_open_offline(path, err);
	struct rte_mbuf **q_m[MAXQ];
	uint32_t q_n[MAXQ] = { 0 }, cap = 65536;
	struct pcap_pkthdr *h;
	const u_char *data;
	int rc;

	if (pc == NULL)
		die("%s", err);
	for (uint16_t q = 0; q < n_txq; q++)
		if ((q_m[q] = calloc(cap, sizeof(*q_m[q]))) == NULL)
			die("%s", "out of memory");
	while ((rc = pcap_next_ex(pc, &h, &data)) == 1) {
		uint16_t q = rss_queue(data, h->caplen, n_txq);
		struct rte_mbuf *m = rte_pktmbuf_alloc(pool);

		if (m == NULL || q_n[q] == cap)
			die("%s: too many frames for the mbuf pool", path);
		if (rte_pktmbuf_append(m, (uint16_t)h->caplen) == NULL)
			die("%s: frame larger than an mbuf", path);
		memcpy(rte_pktmbuf_mtod(m, void *), data, h->caplen);
		q_m[q][q_n[q]++] = m;
	}
	if (rc != -2)
		die("%s: unreadable capture", path);
	pcap_close(pc);
	printf("phase %d: queued", idx);
	for (uint16_t q = 0; q < n_txq; q++)
		printf(" %" PRIu32, q_n[q]);
	printf("\n");
	fflush(stdout);
	for (uint16_t q = 0; q < n_txq; q++) {
		uint32_t sent = 0;

		while (sent < q_n[q]) {
			uint16_t n = (uint16_t)RTE_MIN(q_n[q] - sent, (uint32_t)BURST);

			n = rte_eth_tx_burst(port, q, q_m[q] + sent, n);
			sent += n;
			if (n == 0) {
				if (stop || !link_up(port))
					die("%s: peer gone while sending", path);
				poll_rx(port);   /* the relay may be waiting on us */
				usleep(50);
			}
		}
		free(q_m[q]);
	}
}

int main(int argc, char **argv)
{
	uint64_t start_ms = 1000, pause_ms = 1000, idle_ms = 300, max_ms = 60000;
	const char *out = NULL;
	struct rte_mempool *pool;
	struct rte_eth_conf conf;
	const uint16_t port = 0;
	int n, opt;

	if (argc == 2 && strcmp(argv[1], "--key") == 0) {
		for (size_t i = 0; i < sizeof(rss_key); i++)
			printf("%02x", rss_key[i]);
		printf("\n");
		return 0;
	}
	if ((n = rte_eal_init(argc, argv)) < 0)
		die("%s", "EAL init failed");
	argc -= n;
	argv += n;
	static const struct option lo[] = {
		{ "rxq", required_argument, NULL, 'r' }, { "txq", required_argument, NULL, 't' },
		{ "out", required_argument, NULL, 'o' }, { "start-ms", required_argument, NULL, 's' },
		{ "pause-ms", required_argument, NULL, 'p' }, { "idle-ms", required_argument, NULL, 'i' },
		{ "max-ms", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};
	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (opt) {
		case 'r': n_rxq = (uint16_t)atoi(optarg); break;
		case 't': n_txq = (uint16_t)atoi(optarg); break;
		case 'o': out = optarg; break;
		case 's': start_ms = strtoull(optarg, NULL, 10); break;
		case 'p': pause_ms = strtoull(optarg, NULL, 10); break;
		case 'i': idle_ms = strtoull(optarg, NULL, 10); break;
		case 'm': max_ms = strtoull(optarg, NULL, 10); break;
		default: die("%s", "usage: see the header of mq_feeder.c");
		}
	}
	if (out == NULL || n_rxq < 1 || n_rxq > MAXQ || n_txq < 1 || n_txq > MAXQ)
		die("%s", "--rxq, --txq (1..16) and --out are required");
	if (rte_eth_dev_count_avail() != 1)
		die("%s", "expected exactly one port (--vdev net_memif0,role=server,...)");
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	printf("key ");
	for (size_t i = 0; i < sizeof(rss_key); i++)
		printf("%02x", rss_key[i]);
	printf("\n");

	pool = rte_pktmbuf_pool_create("feeder", 8191, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				       (int)rte_socket_id());
	if (pool == NULL)
		die("%s", "no mbuf pool");
	memset(&conf, 0, sizeof(conf));
	if (rte_eth_dev_configure(port, n_rxq, n_txq, &conf) != 0)
		die("%s", "configure failed");
	for (uint16_t q = 0; q < n_rxq; q++)
		if (rte_eth_rx_queue_setup(port, q, 1024, (unsigned)rte_socket_id(), NULL, pool) != 0)
			die("%s", "rx queue setup failed");
	for (uint16_t q = 0; q < n_txq; q++)
		if (rte_eth_tx_queue_setup(port, q, 1024, (unsigned)rte_socket_id(), NULL) != 0)
			die("%s", "tx queue setup failed");
	if (rte_eth_dev_start(port) != 0)
		die("%s", "start failed");
	for (uint16_t q = 0; q < n_rxq; q++) {
		char path[4096];

		snprintf(path, sizeof(path), "%s%u.pcap", out, q);
		if ((dump[q] = pcap_dump_open(pcap_open_dead(DLT_EN10MB, 65535), path)) == NULL)
			die("cannot write %s", path);
	}
	printf("listening\n");
	fflush(stdout);

	uint64_t hz = rte_get_timer_hz(), t0 = rte_get_timer_cycles();

	while (!stop && !link_up(port)) {
		if (rte_get_timer_cycles() - t0 > max_ms * hz / 1000)
			die("%s", "no client connected");
		usleep(1000);
	}
	if (stop)
		die("%s", "stopped before a client connected");
	printf("connected\n");
	fflush(stdout);
	listen_for(port, start_ms, idle_ms, max_ms);
	for (int i = optind; i < argc && !stop; i++) {
		send_phase(port, pool, argv[i], i - optind);
		listen_for(port, pause_ms, idle_ms, max_ms);
	}
	/* Stop polling before the relay goes: on the peer's disconnect the interrupt thread
	 * unmaps the rings, and eth_memif_rx() checks "connected" before it reads a ring, not
	 * under a lock. */
	printf("received");
	for (uint16_t q = 0; q < n_rxq; q++) {
		printf(" %" PRIu64, received[q]);
		pcap_dump_close(dump[q]);
	}
	printf("\ndone\n");
	fflush(stdout);
	t0 = rte_get_timer_cycles();
	while (!stop && link_up(port) && rte_get_timer_cycles() - t0 < max_ms * hz / 1000)
		usleep(1000);
	if (!link_up(port)) {
		/* The link goes down at the start of memif_disconnect(), which the interrupt
		 * thread is still running (freeing the regions): a stop or close here would
		 * disconnect a second time, concurrently (SIGSEGV, 1 run in 20). Nothing is
		 * left to save: the captures are closed. */
		_exit(0);
	}
	rte_eth_dev_stop(port);
	rte_eth_dev_close(port);
	rte_eal_cleanup();
	return 0;
}
