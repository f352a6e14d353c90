/* SPDX-License-Identifier: BSD-3-Clause
 *
 * tr_bench: the relay's real fast path (tr_worker_main / tr_worker_burst)
 * on a virtual device, one worker lcore, the control lcore idle-polling.
 *
 *   tr_bench [EAL options] -- --pcap FILE --peers N [options]   (tr_gen captures)
 *   tr_bench [EAL options] -- --pcap FILE [--relay A.B.C.D:P]   (any capture)
 *
 * Port 0 is net_pcap0,rx_pcap=FILE,infinite_rx=1 with no tx side: net_pcap
 * then installs its drop tx (eth_tx_drop frees what is sent), so the
 * capture is replayed from memory forever into a sink. The one port is both
 * the Teredo and the native port, as in replay. N trusted peers (the seeded
 * address function of perf/common/tr_perf_addr.h, or --peers-file) are put
 * in the table directly before the worker starts, with last_rx/last_tx far
 * ahead of the relay clock so that they stay valid and are never expired.
 *
 * Without --peers/--seed/--servers/--peers-file (or with --learn) the peers
 * are learned from the capture itself (D94): every frame is classified with
 * tr_classify; a native packet to a Teredo destination gives that
 * destination with its embedded mapping, a client packet (IPv4/UDP to the
 * relay, inner Teredo source) gives the inner source with the outer IPv4
 * source and port as its mapping. The relay address and port are the most
 * frequent destination of client packets in the capture, or --relay. One
 * untimed pass over the capture through tr_worker_burst then counts every
 * frame's outcome exactly (pass_outcomes), before the timed run.
 *
 * Output: a human summary on stderr and one line "RESULT {json}" on stdout.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include "port.h"
#include "relay.h"
#include "tr_perf_addr.h"

#define FAR_AHEAD_MS 1000000000u   /* ~11.6 days ahead of the relay clock */

struct bopts {
	const char *pcap;
	const char *peers_file;
	const char *label;
	uint32_t peers;
	uint32_t servers;
	uint64_t seed;
	uint32_t shards;
	uint32_t capacity;
	unsigned burst;
	double duration;
	double warmup;
	bool stages;
	double stage_seconds;
	bool gen_given;              /* --peers, --seed or --servers given */
	bool learn;                  /* peers from the capture (D94) */
	bool pass;                   /* untimed accounting pass before the run */
	bool relay_set, relay6_set;
	uint32_t relay_ip;
	uint16_t relay_port;
	uint8_t relay6[16];
	const char *peers_out;
	uint16_t vlan[2], inner_vlan[2];   /* [ports] teredo_/native_(inner_)vlan; 0 = untagged */
	uint32_t server_ip;                /* --server P: the server role on (S = P + 1); 0 = off */
	bool server_limits;                /* --server-limits: the [server] default rate limits */
};

static void usage(FILE *f)
{
	fprintf(f,
"usage: tr_bench [EAL options] -- --pcap FILE [options]\n"
"  --pcap FILE        capture to replay (net_pcap infinite_rx, drop tx; added as a --vdev)\n"
"  --peers N          trusted peers preloaded from the seeded address function (default 1000)\n"
"  --seed N --servers S   parameters of that function (as given to tr_gen; default 1, 16)\n"
"  --peers-file FILE  preload the peers listed by tr_gen --peers-out instead\n"
"  --learn            learn the peers from the capture (the default without --peers, --seed,\n"
"                     --servers and --peers-file): native packets to Teredo destinations give the\n"
"                     embedded mapping, client packets the outer IPv4 source and port\n"
"  --relay A.B.C.D:P  relay IPv4 service address and UDP port (default: the most frequent\n"
"                     destination of client packets in the capture, else 198.51.100.1:3545)\n"
"  --relay6 ADDR      relay native IPv6 address (default 2001:db8:ffff::1)\n"
"  --peers-out FILE   write the learned peers (tr_gen --peers-out format)\n"
"  --pass             count one untimed pass over the capture (always on with --learn)\n"
"  --capacity N       peer-table capacity (default peers + peers/8 + 1024: shards fill unevenly)\n"
"  --shards N         peer-table shards (default 1, the configuration default)\n"
"  --burst N          rx burst (default 32, the configuration default)\n"
"  --duration S       measured seconds (default 3)\n"
"  --warmup S         seconds before measuring (default 0.5)\n"
"  --stages           afterwards, time rx / classify / lookup / entry / rewrite / tx per burst\n"
"  --stage-seconds S  seconds per stage variant (default 1)\n"
"  --label TEXT       copied into the JSON result\n"
"  --teredo-vlan N[:M] --native-vlan N[:M]   the sides' VLAN (M: inner VLAN, QinQ 0x88a8);\n"
"                     the capture must carry those tags (callgrind.py --vlan tags it)\n"
"  --server P         the Teredo server role on as well ([server] enabled, primary P, secondary\n"
"                     P + 1; docs/server.md): frames to P:3544 or S:3544 go to the server step\n"
"  --server-limits    keep the [server] default rate limits (rs_rate 10, fwd_rate 100 per address\n"
"                     and second); default with --server: the largest accepted (10000000/s), so\n"
"                     that every RS is answered and the answer's cost is what is measured\n");
}

static int parse(int argc, char **argv, struct bopts *o)
{
	static const struct option lo[] = {
		{ "pcap", required_argument, NULL, 'p' }, { "peers", required_argument, NULL, 'n' },
		{ "seed", required_argument, NULL, 'e' }, { "servers", required_argument, NULL, 'S' },
		{ "peers-file", required_argument, NULL, 'f' }, { "capacity", required_argument, NULL, 'c' },
		{ "shards", required_argument, NULL, 's' }, { "burst", required_argument, NULL, 'b' },
		{ "duration", required_argument, NULL, 'd' }, { "warmup", required_argument, NULL, 'w' },
		{ "stages", no_argument, NULL, 'g' }, { "stage-seconds", required_argument, NULL, 'G' },
		{ "label", required_argument, NULL, 'l' }, { "help", no_argument, NULL, 'h' },
		{ "learn", no_argument, NULL, 'L' }, { "relay", required_argument, NULL, 'r' },
		{ "relay6", required_argument, NULL, '6' }, { "peers-out", required_argument, NULL, 'o' },
		{ "pass", no_argument, NULL, 'P' },
		{ "teredo-vlan", required_argument, NULL, 'T' }, { "native-vlan", required_argument, NULL, 'N' },
		{ "server", required_argument, NULL, 'V' }, { "server-limits", no_argument, NULL, 'Z' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct bopts){ .peers = 1000, .servers = 16, .seed = 1, .shards = 1, .burst = 32,
			     .duration = 3.0, .warmup = 0.5, .stage_seconds = 1.0, .label = "",
			     .relay_ip = 0xC6336401u, .relay_port = 3545 };   /* tr_gen --relay default */
	inet_pton(AF_INET6, "2001:db8:ffff::1", o->relay6);
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'p': o->pcap = optarg; break;
		case 'n': o->peers = (uint32_t)strtoul(optarg, NULL, 0); o->gen_given = true; break;
		case 'e': o->seed = strtoull(optarg, NULL, 0); o->gen_given = true; break;
		case 'S': o->servers = (uint32_t)strtoul(optarg, NULL, 0); o->gen_given = true; break;
		case 'L': o->learn = true; break;
		case 'P': o->pass = true; break;
		case 'o': o->peers_out = optarg; break;
		case 'r': {
			char ip[64];
			const char *colon = strrchr(optarg, ':');
			struct in_addr a;
			unsigned long pt;
			char *end;

			if (colon == NULL || (size_t)(colon - optarg) >= sizeof(ip)) {
				fprintf(stderr, "tr_bench: --relay A.B.C.D:PORT, not '%s'\n", optarg);
				return -1;
			}
			memcpy(ip, optarg, (size_t)(colon - optarg));
			ip[colon - optarg] = '\0';
			pt = strtoul(colon + 1, &end, 10);
			if (inet_pton(AF_INET, ip, &a) != 1 || *end != '\0' || pt == 0 || pt > 65535) {
				fprintf(stderr, "tr_bench: --relay A.B.C.D:PORT, not '%s'\n", optarg);
				return -1;
			}
			o->relay_ip = ntohl(a.s_addr);
			o->relay_port = (uint16_t)pt;
			o->relay_set = true;
			break;
		}
		case '6':
			if (inet_pton(AF_INET6, optarg, o->relay6) != 1) {
				fprintf(stderr, "tr_bench: --relay6: bad address '%s'\n", optarg);
				return -1;
			}
			o->relay6_set = true;
			break;
		case 'f': o->peers_file = optarg; break;
		case 'c': o->capacity = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 's': o->shards = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'b': o->burst = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'd': o->duration = strtod(optarg, NULL); break;
		case 'w': o->warmup = strtod(optarg, NULL); break;
		case 'g': o->stages = true; break;
		case 'G': o->stage_seconds = strtod(optarg, NULL); break;
		case 'l': o->label = optarg; break;
		case 'T':
		case 'N': {
			int side = c == 'T' ? TR_SIDE_TEREDO : TR_SIDE_NATIVE;
			char *end;

			o->vlan[side] = (uint16_t)strtoul(optarg, &end, 10);
			if (*end == ':')
				o->inner_vlan[side] = (uint16_t)strtoul(end + 1, NULL, 10);
			break;
		}
		case 'V': {
			struct in_addr a;

			if (inet_pton(AF_INET, optarg, &a) != 1) {
				fprintf(stderr, "tr_bench: --server A.B.C.D, not '%s'\n", optarg);
				return -1;
			}
			o->server_ip = ntohl(a.s_addr);
			break;
		}
		case 'Z': o->server_limits = true; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -1;
		}
	}
	if (o->pcap == NULL || o->burst == 0 || o->burst > TR_BURST_MAX || o->duration <= 0 ||
	    o->servers == 0 || o->peers > TR_PERF_MAX_CLIENTS) {
		usage(stderr);
		return -1;
	}
	if (o->learn && (o->gen_given || o->peers_file != NULL)) {
		fprintf(stderr, "tr_bench: --learn excludes --peers, --seed, --servers and --peers-file\n");
		return -1;
	}
	if (!o->gen_given && o->peers_file == NULL)
		o->learn = true;
	if (o->learn)
		o->pass = true;
	if (o->peers_out != NULL && !o->learn) {
		fprintf(stderr, "tr_bench: --peers-out writes learned peers: only with --learn\n");
		return -1;
	}
	return 0;
}

/* Frames and the largest frame in the capture (sizes the mbuf pool). */
static int scan_pcap(const char *path, uint64_t *n, uint32_t *maxlen)
{
	char err[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline(path, err);
	struct pcap_pkthdr *h;
	const u_char *d;

	if (p == NULL) {
		fprintf(stderr, "tr_bench: %s: %s\n", path, err);
		return -1;
	}
	if (pcap_datalink(p) != DLT_EN10MB) {
		/* tcpdump -i any writes Linux cooked headers: the relay reads Ethernet. */
		fprintf(stderr, "tr_bench: %s: link type %s, not Ethernet (record one interface, not 'any')\n",
			path, pcap_datalink_val_to_name(pcap_datalink(p)));
		pcap_close(p);
		return -1;
	}
	*n = 0;
	*maxlen = 0;
	while (pcap_next_ex(p, &h, &d) == 1) {
		(*n)++;
		if (h->caplen > *maxlen)
			*maxlen = h->caplen;
	}
	pcap_close(p);
	return *n > 0 ? 0 : -1;
}

/* ----------------------------------------------------- relay address
 * The relay's IPv4 service address and port, when --relay is not given:
 * the most frequent (destination, destination port) of IPv4/UDP frames
 * whose payload is an IPv6 packet with a Teredo source, after an optional
 * origin indication (RFC 4380 §5.1.1). Only these header fields are read:
 * tr_classify needs the relay's address to say what a frame is, so it
 * cannot find the address itself; it classifies every frame afterwards. */

struct relay_guess {
	uint32_t ip;
	uint16_t port;
	uint64_t hits;
};

#define RELAY_GUESS_MAX 64

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static bool client_frame_dst(const uint8_t *f, size_t len, uint32_t *ip, uint16_t *port)
{
	if (len < TR_ETH_HLEN + TR_IPV4_HLEN || rd16(f + 12) != TR_ETHERTYPE_IPV4)
		return false;
	const uint8_t *ip4 = f + TR_ETH_HLEN;
	size_t ihl = (size_t)(ip4[0] & 0x0f) * 4;
	if ((ip4[0] >> 4) != 4 || ihl < TR_IPV4_HLEN || ip4[9] != TR_NH_UDP ||
	    (rd16(ip4 + 6) & 0x3fff) != 0 || len < TR_ETH_HLEN + ihl + TR_UDP_HLEN)
		return false;
	const uint8_t *udp = ip4 + ihl;
	const uint8_t *p = udp + TR_UDP_HLEN;
	size_t rem = len - TR_ETH_HLEN - ihl - TR_UDP_HLEN;
	uint32_t oip;
	uint16_t oport;

	if (rem >= TR_ORIGIN_LEN && tr_origin_parse(p, rem, &oip, &oport) == 0) {
		p += TR_ORIGIN_LEN;
		rem -= TR_ORIGIN_LEN;
	}
	if (rem < TR_IPV6_HLEN || (p[0] >> 4) != 6 || !tr_is_teredo(p + 8))
		return false;
	*ip = rd32(ip4 + 16);
	*port = rd16(udp + 2);
	return true;
}

/* 1 and the winner in *best when a client frame was seen, 0 when none. */
static int guess_relay(const char *path, uint32_t server_ip, struct relay_guess *best,
		       uint64_t *client_frames)
{
	static struct relay_guess g[RELAY_GUESS_MAX];
	unsigned ng = 0;
	char err[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline(path, err);
	struct pcap_pkthdr *h;
	const u_char *d;

	*client_frames = 0;
	if (p == NULL)
		return 0;
	while (pcap_next_ex(p, &h, &d) == 1) {
		uint32_t ip;
		uint16_t port;
		unsigned i;

		if (!client_frame_dst(d, h->caplen, &ip, &port))
			continue;
		/* frames to the server role (P or S, port 3544) are not the relay's */
		if (server_ip != 0 && port == 3544 && (ip == server_ip || ip == server_ip + 1))
			continue;
		(*client_frames)++;
		for (i = 0; i < ng && (g[i].ip != ip || g[i].port != port); i++)
			;
		if (i == ng && ng < RELAY_GUESS_MAX)
			g[ng++] = (struct relay_guess){ .ip = ip, .port = port };
		if (i < ng)
			g[i].hits++;
	}
	pcap_close(p);
	if (ng == 0)
		return 0;
	*best = g[0];
	for (unsigned i = 1; i < ng; i++)     /* ties: the first seen */
		if (g[i].hits > best->hits)
			*best = g[i];
	return 1;
}

/* ------------------------------------------------------- learned peers
 * What each frame says about a peer, by tr_classify's verdict (D94):
 *   TR_K_TEREDO with the outer source equal to the embedded mapping  prio 3
 *   TR_K_TEREDO from another outer source (a symmetric NAT)          prio 2
 *   TR_K_NATIVE: the destination, at its embedded mapping            prio 1
 * A peer seen several ways keeps the highest priority; among other outer
 * sources, the one most of its frames came from, then the first seen. Client frames with an origin indication come from a server
 * (its address is the outer source) and teach nothing. Frames that
 * tr_classify drops never reach the peer table, so they teach nothing. */

struct cand {
	uint8_t key[16];
	uint32_t ip;
	uint16_t port;
	uint8_t prio;
	uint64_t idx;
};

struct learned {
	struct cand *peer;            /* unique, sorted by key */
	uint64_t n;
	uint64_t at_embedded, at_other, native_only, conflicts;
	uint64_t frames_client, frames_native, frames_origin;
};

static int cand_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	int c = memcmp(x->key, y->key, 16);

	if (c != 0)
		return c;
	if (x->prio != y->prio)
		return x->prio > y->prio ? -1 : 1;
	if (x->ip != y->ip)
		return x->ip < y->ip ? -1 : 1;
	if (x->port != y->port)
		return x->port < y->port ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx ? 1 : 0;
}

static int learn_peers(const struct tr_relay_id *id, const char *path, struct learned *L)
{
	char err[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline(path, err);
	struct pcap_pkthdr *h;
	const u_char *d;
	uint64_t cap = 0, n = 0, idx = 0;
	struct cand *c = NULL;

	memset(L, 0, sizeof(*L));
	if (p == NULL) {
		fprintf(stderr, "tr_bench: %s: %s\n", path, err);
		return -1;
	}
	while (pcap_next_ex(p, &h, &d) == 1) {
		struct tr_classified cl;
		struct tr_addr_info ai;
		struct cand k;

		tr_classify(id, d, h->caplen, &cl);
		idx++;
		if (cl.kind == TR_K_NATIVE) {
			memcpy(k.key, d + cl.ip6_off + 24, 16);
			if (tr_addr_decode(k.key, &ai) != 0)
				continue;
			k.ip = ai.client;
			k.port = ai.port;
			k.prio = 1;
			L->frames_native++;
		} else if (cl.kind == TR_K_TEREDO) {
			if (cl.origin_seen) {
				L->frames_origin++;
				continue;
			}
			memcpy(k.key, d + cl.ip6_off + 8, 16);
			k.ip = cl.src_ip;
			k.port = cl.src_port;
			k.prio = cl.mapping_ok ? 3 : 2;
			L->frames_client++;
		} else {
			continue;
		}
		k.idx = idx;
		if (n == cap) {
			cap = cap ? 2 * cap : 4096;
			struct cand *nc = realloc(c, cap * sizeof(*c));
			if (nc == NULL) {
				free(c);
				pcap_close(p);
				return -1;
			}
			c = nc;
		}
		c[n++] = k;
	}
	pcap_close(p);
	if (n > 0)
		qsort(c, n, sizeof(*c), cand_cmp);
	uint64_t u = 0;
	for (uint64_t i = 0; i < n;) {
		uint64_t j = i + 1;
		bool conflict = false;

		for (; j < n && memcmp(c[j].key, c[i].key, 16) == 0; j++)
			if (c[j].ip != c[i].ip || c[j].port != c[i].port)
				conflict = true;
		/* Among other outer sources (prio 2): the one most frames came
		 * from, then the earliest; runs of one mapping are adjacent. */
		uint64_t best = i;
		if (c[i].prio == 2) {
			uint64_t best_n = 0;
			for (uint64_t a = i; a < j && c[a].prio == 2;) {
				uint64_t b = a + 1, first = a;
				for (; b < j && c[b].prio == 2 && c[b].ip == c[a].ip && c[b].port == c[a].port; b++)
					if (c[b].idx < c[first].idx)
						first = b;
				if (b - a > best_n || (b - a == best_n && c[first].idx < c[best].idx)) {
					best_n = b - a;
					best = first;
				}
				a = b;
			}
		}
		L->conflicts += conflict;
		L->at_embedded += c[best].prio == 3;
		L->at_other += c[best].prio == 2;
		L->native_only += c[best].prio == 1;
		c[u++] = c[best];
		i = j;
	}
	L->peer = c;
	L->n = u;
	return 0;
}

static int write_learned(const char *path, const struct learned *L)
{
	FILE *f = fopen(path, "w");

	if (f == NULL) {
		fprintf(stderr, "tr_bench: %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (uint64_t i = 0; i < L->n; i++) {
		const struct cand *k = &L->peer[i];
		struct tr_addr_info ai = { 0 };
		char a6[INET6_ADDRSTRLEN];

		tr_addr_decode(k->key, &ai);
		inet_ntop(AF_INET6, k->key, a6, sizeof(a6));
		fprintf(f, "%s %u.%u.%u.%u:%u %u.%u.%u.%u\n", a6, k->ip >> 24, (k->ip >> 16) & 255,
			(k->ip >> 8) & 255, k->ip & 255, k->port, ai.server >> 24,
			(ai.server >> 16) & 255, (ai.server >> 8) & 255, ai.server & 255);
	}
	return fclose(f) == 0 ? 0 : -1;
}

/* ---------------------------------------------------------- relay set-up
 * Mirrors app/terelay/main.c (setup, setup_lcores) for one port, one
 * worker, no replay. */

static struct tr_relay relay;
static struct rte_ring *ctl_sink;   /* control's tx when the port has one tx queue */

static void txq_init(struct tr_txq *q, uint16_t port, uint16_t queue, struct rte_ring *ring)
{
	q->port = port;
	q->queue = queue;
	q->ring = ring;
	q->n = 0;
}

static int setup_relay(struct tr_relay *r, const struct bopts *o, uint64_t frames, uint32_t maxlen)
{
	struct tr_config *c = &r->cfg;
	int socket = (int)rte_socket_id();
	char err[256];
	unsigned id, k = 0;

	tr_config_defaults(c);
	c->ipv4 = o->relay_ip;                  /* default 198.51.100.1:3545, as tr_gen --relay */
	c->port = o->relay_port;
	memcpy(c->ipv6, o->relay6, 16);
	c->ipv4_gateway = 0xC63364FEu;
	c->ipv4_gateway_mac_set = true;
	memcpy(c->ipv4_gateway_mac, (uint8_t[6]){ 0x02, 0, 0, 0, 0, 0x11 }, 6);
	inet_pton(AF_INET6, "2001:db8:ffff::fffe", c->ipv6_gateway);
	c->ipv6_gateway_mac_set = true;
	memcpy(c->ipv6_gateway_mac, (uint8_t[6]){ 0x02, 0, 0, 0, 0, 0x12 }, 6);
	c->burst = (uint16_t)o->burst;
	c->shards = o->shards;
	c->peers_max = o->capacity;
	c->summary_interval_s = 0;
	c->teredo_vlan = o->vlan[TR_SIDE_TEREDO];
	c->teredo_inner_vlan = o->inner_vlan[TR_SIDE_TEREDO];
	c->native_vlan = o->vlan[TR_SIDE_NATIVE];
	c->native_inner_vlan = o->inner_vlan[TR_SIDE_NATIVE];
	if (o->server_ip != 0) {
		c->server_enabled = true;
		c->server_primary = o->server_ip;
		c->server_secondary = o->server_ip + 1;
		if (!o->server_limits) {
			c->server_rs_rate = c->server_rs_burst = 10000000;   /* the largest accepted */
			c->server_fwd_rate = c->server_fwd_burst = 10000000;
		}
	}

	tr_clock_init(&r->clock, false);
	tr_relay_fill_id(r);          /* as tr_relay_init: identity, roles, gateway MACs */

	uint16_t port;
	if (rte_eth_dev_get_port_by_name("net_pcap0", &port) != 0) {
		fprintf(stderr, "tr_bench: net_pcap0 did not come up\n");
		return -1;
	}
	r->port_teredo = r->port_native = port;
	r->nrxq_teredo = r->nrxq_native = 1;     /* the worker polls rx queue 0 */

	/* The capture lives in the pool (infinite_rx keeps a copy of every
	 * frame), plus what is in flight. Data room fits the largest frame. */
	uint32_t room = RTE_PKTMBUF_HEADROOM + RTE_ALIGN_CEIL(RTE_MAX(maxlen, 256u), 64u);
	uint64_t nmb = frames + 16384;
	r->pool = rte_pktmbuf_pool_create("tr_mbufs", (unsigned)nmb, 256, 0, (uint16_t)room, socket);
	r->to_ctrl = rte_ring_create("tr_to_ctrl", c->ring_size, socket, RING_F_SC_DEQ);
	if (r->pool == NULL || r->to_ctrl == NULL) {
		fprintf(stderr, "tr_bench: mbufs/rings (%" PRIu64 " x %u B): %s\n", nmb, room,
			rte_strerror(rte_errno));
		return -1;
	}

	r->control_lcore = rte_get_main_lcore();
	RTE_LCORE_FOREACH_WORKER(id)
		r->worker_lcore[k++] = id;
	r->n_workers = k;
	if (k != 1) {
		fprintf(stderr, "tr_bench: needs exactly one worker lcore (-l 0,1), got %u\n", k);
		return -1;
	}
	for (unsigned i = 0; i < RTE_MAX_LCORE; i++) {
		struct tr_lcore *lc = &r->lc[i];

		lc->relay = r;
		lc->lcore_id = i;
		lc->tx_teredo = &lc->txq[0];
		lc->tx_native = &lc->txq[0];        /* one port carries both sides */
	}
	struct rte_eth_dev_info info;
	if (rte_eth_dev_info_get(port, &info) != 0)
		return -1;
	uint16_t ntx = info.max_tx_queues >= 2 ? 2 : 1;
	if (ntx == 1) {
		ctl_sink = rte_ring_create("bench_ctl_sink", 8192, socket, RING_F_SC_DEQ);
		if (ctl_sink == NULL)
			return -1;
	}
	struct tr_lcore *w = &r->lc[r->worker_lcore[0]];
	w->is_worker = true;
	w->worker_idx = 0;
	w->rxq = 0;
	txq_init(w->tx_teredo, port, 0, NULL);
	struct tr_lcore *ctl = &r->lc[r->control_lcore];
	txq_init(ctl->tx_teredo, port, 1, ctl_sink);
	if (r->srv_on) {
		/* as tr_relay_init: the server's rate-limit buckets of the lcores
		 * that run worker bursts (the worker; the main lcore for the pass) */
		size_t bsz = TR_SRV_BUCKETS * sizeof(struct tr_bucket);

		for (struct tr_lcore *l = w;; l = ctl) {
			l->srv_rs_bkt = rte_zmalloc_socket("tr_srv_rs", bsz, RTE_CACHE_LINE_SIZE, socket);
			l->srv_fwd_bkt = rte_zmalloc_socket("tr_srv_fwd", bsz, RTE_CACHE_LINE_SIZE, socket);
			if (l->srv_rs_bkt == NULL || l->srv_fwd_bkt == NULL) {
				fprintf(stderr, "tr_bench: server rate-limit buckets\n");
				return -1;
			}
			if (l == ctl)
				break;
		}
	}

	size_t sz = rte_rcu_qsbr_get_memsize(1);
	r->qsbr = rte_zmalloc("tr_qsbr", sz, RTE_CACHE_LINE_SIZE);
	if (r->qsbr == NULL || rte_rcu_qsbr_init(r->qsbr, 1) != 0)
		return -1;
	/* The table is created (and measured) by the caller. */
	if (tr_port_start(port, 1, ntx, c->rx_desc, c->tx_desc, r->pool, &r->mac_teredo, err,
			  sizeof(err)) != 0) {
		fprintf(stderr, "tr_bench: %s\n", err);
		return -1;
	}
	r->mac_native = r->mac_teredo;
	return 0;
}

/* ------------------------------------------------------------ preload */

static int add_trusted(struct tr_peer_table *t, const uint8_t key[16], uint32_t ip, uint16_t port,
		       uint32_t now)
{
	struct tr_peer_ref ref = tr_peer_add(t, key, ip, port, now);

	if (ref.pos < 0)
		return -1;
	struct tr_peer *p = tr_peer_at(t, ref);
	p->last_rx = now + FAR_AHEAD_MS;
	p->last_tx = now + FAR_AHEAD_MS;
	tr_peer_set_mapping(p, ip, port, TR_PEER_TRUSTED);
	return 0;
}

static int64_t preload(struct tr_relay *r, const struct bopts *o, const struct learned *L)
{
	uint32_t now = (uint32_t)tr_clock_ms(&r->clock);
	int64_t n = 0, failed = 0;

	if (o->learn) {
		for (uint64_t i = 0; i < L->n; i++) {
			if (add_trusted(r->peers, L->peer[i].key, L->peer[i].ip, L->peer[i].port, now) != 0)
				failed++;
			n++;
		}
	} else if (o->peers_file != NULL) {
		FILE *f = fopen(o->peers_file, "r");
		char line[256], a6[128];
		unsigned b[4], pt;

		if (f == NULL) {
			fprintf(stderr, "tr_bench: %s: %s\n", o->peers_file, strerror(errno));
			return -1;
		}
		while (fgets(line, sizeof(line), f) != NULL) {
			uint8_t key[16];

			if (sscanf(line, "%127s %u.%u.%u.%u:%u", a6, &b[0], &b[1], &b[2], &b[3], &pt) != 6 ||
			    inet_pton(AF_INET6, a6, key) != 1) {
				fprintf(stderr, "tr_bench: %s: bad line: %s", o->peers_file, line);
				fclose(f);
				return -1;
			}
			uint32_t ip = b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3];
			if (add_trusted(r->peers, key, ip, (uint16_t)pt, now) != 0)
				failed++;
			n++;
		}
		fclose(f);
	} else {
		for (uint32_t i = 0; i < o->peers; i++) {
			struct tr_perf_client cl;

			tr_perf_client(o->seed, o->servers, i, &cl);
			if (add_trusted(r->peers, cl.addr, cl.ip, cl.port, now) != 0)
				failed++;
			n++;
		}
	}
	if (failed) {
		fprintf(stderr, "tr_bench: %" PRId64 " of %" PRId64 " peers did not fit (capacity %u)\n",
			failed, n, r->peers->capacity);
		return -1;
	}
	return n;
}

/* -------------------------------------------------------------- pass
 * One untimed pass over the capture through the real tr_worker_burst, on
 * the main lcore before the worker starts, in bursts of cfg.burst frames in
 * capture order; after each burst the worker's tx is flushed and the
 * control lcore's code drains the hand-off ring. Every frame's outcome is
 * then in the counters exactly once: deterministic, unlike a timed window. */

static void drain_ctl_sink(void);

static int one_pass(struct tr_relay *r, struct tr_lcore *wl, const char *path, uint64_t *fed)
{
	char err[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline(path, err);
	struct pcap_pkthdr *h;
	const u_char *d;
	struct rte_mbuf *pkts[TR_BURST_MAX];
	uint16_t n = 0;

	*fed = 0;
	if (p == NULL) {
		fprintf(stderr, "tr_bench: %s: %s\n", path, err);
		return -1;
	}
	for (;;) {
		int more = pcap_next_ex(p, &h, &d) == 1;

		if (more) {
			struct rte_mbuf *m = rte_pktmbuf_alloc(r->pool);
			char *dst = m ? rte_pktmbuf_append(m, (uint16_t)h->caplen) : NULL;

			if (dst == NULL) {
				fprintf(stderr, "tr_bench: pass: no mbuf for frame %" PRIu64 "\n", *fed + 1);
				rte_pktmbuf_free(m);
				rte_pktmbuf_free_bulk(pkts, n);
				pcap_close(p);
				return -1;
			}
			memcpy(dst, d, h->caplen);
			m->port = r->port_teredo;
			pkts[n++] = m;
			(*fed)++;
		}
		if (n == r->cfg.burst || (!more && n > 0)) {
			tr_worker_burst(wl, pkts, n);
			tr_tx_flush_all(wl);
			n = 0;
			while (rte_ring_count(r->to_ctrl) > 0)
				tr_control_poll(r->ctrl);
			tr_tx_flush_all(&r->lc[r->control_lcore]);
			drain_ctl_sink();
		}
		if (!more)
			break;
	}
	pcap_close(p);
	return 0;
}

/* Counter differences b - a as JSON: the worker's outcomes (every frame it
 * received ends in exactly one of them) or, with all, every non-zero
 * counter but bytes, polls and cycles; drops by name from the one list. */
static void print_counts(const struct tr_counters *a, const struct tr_counters *b, bool all)
{
	const char *sep = "";

	printf("{");
#define TR_C_PRINT(f, help)                                                                   \
	if ((all || strcmp(#f, "fwd_teredo") == 0 || strcmp(#f, "fwd_native") == 0 ||         \
	     strcmp(#f, "consumed") == 0 || strcmp(#f, "to_control") == 0 ||                  \
	     strcmp(#f, "rx_packets") == 0 || strncmp(#f, "srv_", 4) == 0) &&                 \
	    strstr(#f, "bytes") == NULL && strncmp(#f, "polls_", 6) != 0 &&                   \
	    strncmp(#f, "cycles_", 7) != 0 && (!all || b->f != a->f)) {                       \
		printf("%s\"%s\": %" PRIu64, sep, #f, b->f - a->f);                           \
		sep = ", ";                                                                   \
	}
	TR_COUNTERS(TR_C_PRINT)
#undef TR_C_PRINT
	printf("%s\"drops\": {", sep);
	sep = "";
	for (int i = 1; i < TR_DROP_MAX; i++) {
		if (b->drops[i] != a->drops[i]) {
			printf("%s\"%s\": %" PRIu64, sep, tr_drop_name((enum tr_drop_reason)i),
			       b->drops[i] - a->drops[i]);
			sep = ", ";
		}
	}
	printf("}}");
}

/* The same outcomes as shares of rx, one line on stderr. */
static void print_shares(const char *what, const struct tr_counters *a, const struct tr_counters *b,
			 double rx)
{
	fprintf(stderr, "tr_bench: %s: fwd_teredo %.2f%% fwd_native %.2f%% consumed %.2f%% "
		"to_control %.2f%%", what, 100 * (double)(b->fwd_teredo - a->fwd_teredo) / rx,
		100 * (double)(b->fwd_native - a->fwd_native) / rx,
		100 * (double)(b->consumed - a->consumed) / rx,
		100 * (double)(b->to_control - a->to_control) / rx);
	for (int i = 1; i < TR_DROP_MAX; i++)
		if (b->drops[i] != a->drops[i])
			fprintf(stderr, " %s %.2f%%", tr_drop_name((enum tr_drop_reason)i),
				100 * (double)(b->drops[i] - a->drops[i]) / rx);
	fprintf(stderr, "\n");
}

/* ------------------------------------------------------------- stages */

static uint64_t oncpu_ns(long tid);
static long worker_tid;

enum stage { ST_RX, ST_FREE, ST_CLASSIFY, ST_LOOKUP, ST_ENTRY, ST_WORKER, ST_TX, ST_MAX };
static const char *const stage_name[ST_MAX] = {
	"rx", "free", "classify", "lookup", "entry", "worker_burst", "tx" };

enum variant { V_RX_FREE, V_PARSE_LOOKUP, V_FULL, V_RX_TX, V_MAX };
static const char *const variant_name[V_MAX] = { "rx_free", "parse_lookup", "full", "rx_tx" };

struct stage_run {
	struct tr_lcore *lc;
	enum variant v;
	uint64_t pkts;
	uint64_t bursts;
	uint64_t cyc[ST_MAX];
	uint64_t total_cycles;
	double cpu_share;        /* on-CPU time / wall time of the worker thread */
};

static int stage_main(void *arg)
{
	struct stage_run *s = arg;
	struct tr_lcore *lc = s->lc;
	struct tr_relay *r = lc->relay;
	struct rte_mbuf *pkts[TR_BURST_MAX];
	struct tr_classified cl[TR_BURST_MAX];
	const uint8_t *keys[TR_BURST_MAX];
	struct tr_peer_ref refs[TR_BURST_MAX];
	uint16_t burst = r->cfg.burst;
	volatile uint64_t sink = 0;
	uint64_t start = rte_rdtsc();
	uint64_t cpu0 = oncpu_ns(worker_tid);

	rte_rcu_qsbr_thread_register(r->qsbr, 0);
	rte_rcu_qsbr_thread_online(r->qsbr, 0);
	while (!r->stop) {
		uint64_t t0 = rte_rdtsc();
		uint16_t n = rte_eth_rx_burst(r->port_teredo, 0, pkts, burst);
		uint64_t t1 = rte_rdtsc();

		if (n == 0)
			continue;
		s->cyc[ST_RX] += t1 - t0;
		s->pkts += n;
		s->bursts++;
		switch (s->v) {
		case V_RX_FREE:
			rte_pktmbuf_free_bulk(pkts, n);
			s->cyc[ST_FREE] += rte_rdtsc() - t1;
			break;
		case V_PARSE_LOOKUP: {
			unsigned nk = 0;
			/* As tr_worker_burst: prefetch the next frame, classify. */
			for (uint16_t i = 0; i < n; i++) {
				if (i + 1 < n)
					rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
				const uint8_t *f = rte_pktmbuf_mtod(pkts[i], const uint8_t *);
				tr_classify(&r->id, f, pkts[i]->data_len, &cl[i]);
				if (cl[i].kind == TR_K_TEREDO)
					keys[nk++] = f + cl[i].ip6_off + 8;
				else if (cl[i].kind == TR_K_NATIVE)
					keys[nk++] = f + cl[i].ip6_off + 24;
			}
			uint64_t t2 = rte_rdtsc();
			if (nk > 0)
				tr_peer_lookup_bulk(r->peers, keys, nk, refs);
			uint64_t t3 = rte_rdtsc();
			/* The peer's line: mapping word and last_rx, as the worker reads them. */
			for (unsigned k = 0; k < nk; k++) {
				if (refs[k].pos >= 0) {
					const struct tr_peer *p = tr_peer_at(r->peers, refs[k]);
					sink += tr_peer_load_mapping(p) + p->last_rx;
				}
			}
			uint64_t t4 = rte_rdtsc();
			rte_pktmbuf_free_bulk(pkts, n);
			uint64_t t5 = rte_rdtsc();
			s->cyc[ST_CLASSIFY] += t2 - t1;
			s->cyc[ST_LOOKUP] += t3 - t2;
			s->cyc[ST_ENTRY] += t4 - t3;
			s->cyc[ST_FREE] += t5 - t4;
			break;
		}
		case V_FULL:
			tr_worker_burst(lc, pkts, n);
			s->cyc[ST_WORKER] += rte_rdtsc() - t1;
			break;
		case V_RX_TX: {
			uint16_t sent = rte_eth_tx_burst(r->port_teredo, 0, pkts, n);
			if (sent < n)
				rte_pktmbuf_free_bulk(pkts + sent, (unsigned)(n - sent));
			s->cyc[ST_TX] += rte_rdtsc() - t1;
			break;
		}
		default:
			break;
		}
		rte_rcu_qsbr_quiescent(r->qsbr, 0);
	}
	tr_tx_flush_all(lc);
	s->total_cycles = rte_rdtsc() - start;
	s->cpu_share = (double)(oncpu_ns(worker_tid) - cpu0) / 1e9 /
		       ((double)s->total_cycles / (double)rte_get_tsc_hz());
	if (!(s->cpu_share > 0) || s->cpu_share > 1.0)
		s->cpu_share = 1.0;
	rte_rcu_qsbr_thread_offline(r->qsbr, 0);
	rte_rcu_qsbr_thread_unregister(r->qsbr, 0);
	(void)sink;
	return 0;
}

/* --------------------------------------------------------------- run */

static void drain_ctl_sink(void)
{
	struct rte_mbuf *m[64];
	unsigned n;

	if (ctl_sink == NULL)
		return;
	while ((n = rte_ring_dequeue_burst(ctl_sink, (void **)m, 64, NULL)) > 0)
		rte_pktmbuf_free_bulk(m, n);
}

/* Control lcore: poll until tsc reaches 'until'; sleeps when idle. */
static void control_until(struct tr_relay *r, uint64_t until)
{
	while (rte_rdtsc() < until) {
		unsigned n = tr_control_poll(r->ctrl);
		drain_ctl_sink();
		if (n == 0)
			usleep(100);
	}
}

/* The worker thread's on-CPU time (ns, /proc/self/task/TID/schedstat):
 * on a shared 2-vCPU machine the worker is sometimes preempted, and rdtsc
 * counts those cycles too, so results also report rates per on-CPU second. */
static int record_tid(void *arg)
{
	(void)arg;
	worker_tid = (long)syscall(SYS_gettid);
	return 0;
}

static uint64_t oncpu_ns(long tid)
{
	char path[64];
	unsigned long long ns = 0;

	snprintf(path, sizeof(path), "/proc/self/task/%ld/schedstat", tid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return 0;
	if (fscanf(f, "%llu", &ns) != 1)
		ns = 0;
	fclose(f);
	return ns;
}

struct snap {
	uint64_t tsc;
	uint64_t cpu_ns;
	uint64_t port_rx;        /* device count: the rate even with counters compiled out */
	struct tr_counters w;
	struct tr_counters c;
};

static void take(struct tr_relay *r, struct snap *s)
{
	s->tsc = rte_rdtsc();
	s->cpu_ns = oncpu_ns(worker_tid);
	struct rte_eth_stats es;
	s->port_rx = rte_eth_stats_get(r->port_teredo, &es) == 0 ? es.ipackets : 0;
	memcpy(&s->w, &r->lc[r->worker_lcore[0]].cnt, sizeof(s->w));
	memcpy(&s->c, &r->lc[r->control_lcore].cnt, sizeof(s->c));
}

#define D(f) ((double)(b->w.f - a->w.f))

int main(int argc, char **argv)
{
	struct bopts o;
	int sep = argc;

	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0) {
			sep = i;
			break;
		}
	if (parse(argc - sep, argv + sep, &o) != 0)
		return 2;
	if (o.capacity == 0 && !o.learn)
		o.capacity = o.peers + o.peers / 8 + 1024;

	uint64_t frames;
	uint32_t maxlen;
	if (scan_pcap(o.pcap, &frames, &maxlen) != 0) {
		fprintf(stderr, "tr_bench: %s: no Ethernet frames\n", o.pcap);
		return 1;
	}
	const char *relay_source = o.relay_set ? "option" : "default";
	uint64_t client_frames = 0, relay_hits = 0;
	if (o.learn && !o.relay_set) {
		struct relay_guess g;

		if (guess_relay(o.pcap, o.server_ip, &g, &client_frames) == 1) {
			o.relay_ip = g.ip;
			o.relay_port = g.port;
			relay_hits = g.hits;
			relay_source = "capture";
		}
	}

	char vdev[4200];
	snprintf(vdev, sizeof(vdev), "--vdev=net_pcap0,rx_pcap=%s,infinite_rx=1", o.pcap);
	char **eal_argv = calloc((size_t)sep + 2, sizeof(char *));
	int eal_argc = 0;
	for (int i = 0; i < sep; i++)
		eal_argv[eal_argc++] = argv[i];
	eal_argv[eal_argc++] = vdev;
	if (rte_eal_init(eal_argc, eal_argv) < 0) {
		fprintf(stderr, "tr_bench: EAL: %s\n", rte_strerror(rte_errno));
		return 1;
	}

	struct tr_relay *r = &relay;
	if (setup_relay(r, &o, frames, maxlen) != 0)
		return 1;

	/* Peers from the capture: classified with the relay's identity. */
	struct learned L = { 0 };
	if (o.learn) {
		if (learn_peers(&r->id, o.pcap, &L) != 0)
			return 1;
		if (o.capacity == 0)
			o.capacity = (uint32_t)(L.n + L.n / 8 + 1024);
		fprintf(stderr, "tr_bench: relay %u.%u.%u.%u:%u (%s%s", o.relay_ip >> 24,
			(o.relay_ip >> 16) & 255, (o.relay_ip >> 8) & 255, o.relay_ip & 255, o.relay_port,
			relay_source, strcmp(relay_source, "capture") == 0 ? ": " : ")");
		if (strcmp(relay_source, "capture") == 0)
			fprintf(stderr, "%" PRIu64 " of %" PRIu64 " client frames go to it)", relay_hits,
				client_frames);
		fprintf(stderr, "; learned %" PRIu64 " peers from the capture: %" PRIu64
			" from client packets at their embedded mapping, %" PRIu64 " at another mapping, %"
			PRIu64 " only as native destinations; %" PRIu64 " seen with more than one mapping; %"
			PRIu64 " client and %" PRIu64 " native frames, %" PRIu64
			" with an origin indication not used\n", L.n, L.at_embedded, L.at_other,
			L.native_only, L.conflicts, L.frames_client, L.frames_native, L.frames_origin);
		if (o.peers_out != NULL && write_learned(o.peers_out, &L) != 0)
			return 1;
	}

	/* Peer table: allocator bytes before/after creating and filling it. */
	int socket = (int)rte_socket_id();
	struct rte_malloc_socket_stats ms0, ms1, ms2;
	rte_malloc_get_socket_stats(socket, &ms0);
	r->peers = tr_peer_table_create("tr_peers", o.capacity, o.shards, socket, r->qsbr);
	if (r->peers == NULL) {
		fprintf(stderr, "tr_bench: peer table (%u): %s\n", o.capacity, rte_strerror(rte_errno));
		return 1;
	}
	rte_malloc_get_socket_stats(socket, &ms1);
	uint64_t p0 = rte_rdtsc();
	int64_t loaded = preload(r, &o, &L);
	uint64_t p1 = rte_rdtsc();
	if (loaded < 0)
		return 1;
	rte_malloc_get_socket_stats(socket, &ms2);
	r->ctrl = tr_control_create(r);
	if (r->ctrl == NULL) {
		fprintf(stderr, "tr_bench: control state\n");
		return 1;
	}
	double hz = (double)rte_get_tsc_hz();
	uint64_t table_bytes = ms2.heap_allocsz_bytes - ms0.heap_allocsz_bytes;
	fprintf(stderr, "tr_bench: %" PRIu64 " frames (max %u B), %" PRId64 " trusted peers in %.2f s "
		"(%.0f cycles/insert), table %.1f MiB = %.1f B/peer (capacity %u, %u shards)\n",
		frames, maxlen, loaded, (double)(p1 - p0) / hz,
		loaded ? (double)(p1 - p0) / (double)loaded : 0.0, (double)table_bytes / 1048576.0,
		loaded ? (double)table_bytes / (double)loaded : 0.0, r->peers->capacity, o.shards);

	struct tr_lcore *wl = &r->lc[r->worker_lcore[0]];
	struct tr_lcore *cl = &r->lc[r->control_lcore];
	static struct tr_counters pw0, pw1, pc0, pc1;
	uint64_t pass_frames = 0;
	if (o.pass) {
		memcpy(&pw0, &wl->cnt, sizeof(pw0));
		memcpy(&pc0, &cl->cnt, sizeof(pc0));
		if (one_pass(r, wl, o.pcap, &pass_frames) != 0)
			return 1;
		memcpy(&pw1, &wl->cnt, sizeof(pw1));
		memcpy(&pc1, &cl->cnt, sizeof(pc1));
		print_shares("one pass (exact)", &pw0, &pw1, (double)pass_frames);
	}

	/* Measure the real worker loop. */
	rte_eal_remote_launch(record_tid, NULL, r->worker_lcore[0]);
	rte_eal_wait_lcore(r->worker_lcore[0]);
	r->stop = false;
	rte_eal_remote_launch(tr_worker_main, wl, r->worker_lcore[0]);
	struct snap sa, sb, *a = &sa, *b = &sb;
	control_until(r, rte_rdtsc() + (uint64_t)(o.warmup * hz));
	take(r, a);
	control_until(r, a->tsc + (uint64_t)(o.duration * hz));
	take(r, b);
	r->stop = true;
	rte_eal_wait_lcore(r->worker_lcore[0]);
	/* Every frame the measured loop ever took (warm-up included): the
	 * divisor for instruction counts of the whole run (perf/bench/callgrind.py). */
	struct rte_eth_stats total;
	uint64_t worker_rx_total = rte_eth_stats_get(r->port_teredo, &total) == 0 ? total.ipackets : 0;

	double secs = (double)(b->tsc - a->tsc) / hz;
	/* The rate comes from the device's count, so that a build with
	 * -Dcounters=false (TR_INC compiled out) is measured the same way. */
	double rx = (double)(b->port_rx - a->port_rx);
	double mpps = rx / secs / 1e6;
	double cpu_share = (double)(b->cpu_ns - a->cpu_ns) / 1e9 / secs;
	if (cpu_share <= 0 || cpu_share > 1.05)
		cpu_share = 1.0;     /* schedstat unavailable */
	double drops = 0;
	for (int i = 0; i < TR_DROP_MAX; i++)
		drops += (double)(b->w.drops[i] - a->w.drops[i]);
	double busy = D(cycles_busy), idle = D(cycles_idle);

	/* Per-stage cycles, each variant on the worker lcore in turn. */
	struct stage_run sr[V_MAX];
	memset(sr, 0, sizeof(sr));
	if (o.stages) {
		for (int v = 0; v < V_MAX; v++) {
			sr[v].lc = wl;
			sr[v].v = (enum variant)v;
			r->stop = false;
			rte_eal_remote_launch(stage_main, &sr[v], r->worker_lcore[0]);
			control_until(r, rte_rdtsc() + (uint64_t)(o.stage_seconds * hz));
			r->stop = true;
			rte_eal_wait_lcore(r->worker_lcore[0]);
		}
	}

	fprintf(stderr, "tr_bench: %s: %.3f Mpps over %.2f s, %.1f ns/pkt, %.1f cycles/pkt "
		"(busy %.1f; %.1f on-CPU), worker on CPU %.0f%%; fwd_teredo %.0f%% fwd_native %.0f%% consumed %.0f%% to_control %.0f%% drops %.0f%%\n",
		o.label, mpps, secs, 1e3 / mpps, (double)(b->tsc - a->tsc) / rx, busy / rx, (double)(b->tsc - a->tsc) / rx * cpu_share,
		100 * cpu_share, 100 * D(fwd_teredo) / rx, 100 * D(fwd_native) / rx, 100 * D(consumed) / rx,
		100 * D(to_control) / rx, 100 * drops / rx);
	print_shares("timed window", &a->w, &b->w, rx);

	printf("RESULT {\"label\": \"%s\", \"pcap\": \"%s\", \"frames_in_capture\": %" PRIu64
	       ", \"peers\": %" PRId64 ", \"capacity\": %u, \"shards\": %u, \"burst\": %u"
	       ", \"tsc_hz\": %.0f, \"seconds\": %.4f, \"rx_packets\": %.0f, \"mpps\": %.4f"
	       ", \"ns_per_pkt\": %.3f, \"cycles_per_pkt\": %.2f, \"busy_cycles_per_pkt\": %.2f"
	       ", \"oncpu_cycles_per_pkt\": %.2f, \"cpu_share\": %.4f, \"mpps_per_cpu\": %.4f, \"idle_share\": %.4f, \"tx_packets\": %.0f, \"fwd_teredo\": %.0f, \"fwd_native\": %.0f"
	       ", \"consumed\": %.0f, \"to_control\": %.0f, \"drops\": %.0f"
	       ", \"table_bytes\": %" PRIu64 ", \"table_bytes_empty\": %" PRIu64
	       ", \"bytes_per_peer\": %.2f, \"preload_seconds\": %.3f, \"insert_cycles\": %.1f"
	       ", \"worker_rx_total\": %" PRIu64,
	       o.label, o.pcap, frames, loaded, r->peers->capacity, o.shards, o.burst, hz, secs, rx,
	       mpps, 1e3 / mpps, (double)(b->tsc - a->tsc) / rx, busy / rx, (double)(b->tsc - a->tsc) / rx * cpu_share, cpu_share, mpps / cpu_share,
	       busy + idle > 0 ? idle / (busy + idle) : 0.0, D(tx_packets), D(fwd_teredo),
	       D(fwd_native), D(consumed), D(to_control), drops, table_bytes,
	       (uint64_t)(ms1.heap_allocsz_bytes - ms0.heap_allocsz_bytes),
	       loaded ? (double)table_bytes / (double)loaded : 0.0, (double)(p1 - p0) / hz,
	       loaded ? (double)(p1 - p0) / (double)loaded : 0.0, worker_rx_total);
	printf(", \"peers_source\": \"%s\", \"relay\": \"%u.%u.%u.%u:%u\", \"relay_source\": \"%s\"",
	       o.learn ? "capture" : o.peers_file ? "file" : "function", o.relay_ip >> 24,
	       (o.relay_ip >> 16) & 255, (o.relay_ip >> 8) & 255, o.relay_ip & 255, o.relay_port,
	       o.learn ? relay_source : "default");
	if (o.learn)
		printf(", \"learned\": {\"peers\": %" PRIu64 ", \"at_embedded\": %" PRIu64
		       ", \"at_other_mapping\": %" PRIu64 ", \"native_only\": %" PRIu64
		       ", \"conflicts\": %" PRIu64 ", \"client_frames\": %" PRIu64
		       ", \"native_frames\": %" PRIu64 ", \"origin_frames\": %" PRIu64
		       ", \"relay_client_frames\": %" PRIu64 "}",
		       L.n, L.at_embedded, L.at_other, L.native_only, L.conflicts, L.frames_client,
		       L.frames_native, L.frames_origin, relay_hits);
	printf(", \"window_outcomes\": ");
	print_counts(&a->w, &b->w, false);
	if (o.pass) {
		printf(", \"pass_frames\": %" PRIu64 ", \"pass_outcomes\": ", pass_frames);
		print_counts(&pw0, &pw1, false);
		printf(", \"pass_control\": ");
		print_counts(&pc0, &pc1, true);
	}
	if (o.stages) {
		/* Per packet; rewrite = worker_burst - classify - lookup - entry - tx. */
		/* Cycles counted while the thread was preempted are removed by
		 * scaling with the variant's on-CPU share (rdtsc is wall time). */
		double per[ST_MAX] = { 0 };
#define PER(v, st) ((double)sr[v].cyc[st] * sr[v].cpu_share / (double)sr[v].pkts)
		per[ST_RX] = PER(V_RX_FREE, ST_RX);
		per[ST_FREE] = PER(V_RX_FREE, ST_FREE);
		per[ST_CLASSIFY] = PER(V_PARSE_LOOKUP, ST_CLASSIFY);
		per[ST_LOOKUP] = PER(V_PARSE_LOOKUP, ST_LOOKUP);
		per[ST_ENTRY] = PER(V_PARSE_LOOKUP, ST_ENTRY);
		per[ST_WORKER] = PER(V_FULL, ST_WORKER);
		per[ST_TX] = PER(V_RX_TX, ST_TX);
#undef PER
		double rewrite = per[ST_WORKER] - per[ST_CLASSIFY] - per[ST_LOOKUP] - per[ST_ENTRY] - per[ST_TX];
		printf(", \"stages_cycles_per_pkt\": {");
		for (int i = 0; i < ST_MAX; i++)
			printf("%s\"%s\": %.2f", i ? ", " : "", stage_name[i], per[i]);
		printf(", \"rewrite_derived\": %.2f, \"full_rx_plus_worker\": %.2f}",
		       rewrite, (double)(sr[V_FULL].cyc[ST_RX] + sr[V_FULL].cyc[ST_WORKER]) *
				sr[V_FULL].cpu_share / (double)sr[V_FULL].pkts);
		printf(", \"stage_variants\": {");
		for (int v = 0; v < V_MAX; v++)
			printf("%s\"%s\": {\"pkts\": %" PRIu64 ", \"cycles_per_pkt\": %.2f, \"cpu_share\": %.3f}",
			       v ? ", " : "", variant_name[v], sr[v].pkts,
			       sr[v].pkts ? (double)sr[v].total_cycles / (double)sr[v].pkts : 0.0,
			       sr[v].cpu_share);
		printf("}");
		fprintf(stderr, "tr_bench: stages (cycles/pkt): rx %.1f, classify %.1f, lookup %.1f, "
			"entry %.1f, rewrite+decide %.1f (derived), tx %.1f; worker_burst %.1f, free %.1f\n",
			per[ST_RX], per[ST_CLASSIFY], per[ST_LOOKUP], per[ST_ENTRY], rewrite, per[ST_TX],
			per[ST_WORKER], per[ST_FREE]);
	}
	printf("}\n");
	fflush(stdout);

	tr_control_free(r->ctrl);
	tr_peer_table_free(r->peers);
	tr_port_stop(r->port_teredo);
	rte_ring_free(r->to_ctrl);
	rte_ring_free(ctl_sink);
	rte_free(r->qsbr);
	rte_mempool_free(r->pool);
	rte_eal_cleanup();
	free(eal_argv);
	free(L.peer);
	return 0;
}
