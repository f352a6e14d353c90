/* SPDX-License-Identifier: BSD-3-Clause
 *
 * tr_gen: seeded, reproducible Teredo capture generator (libpcap).
 *
 * Writes Ethernet frames as a relay sees them (notes §2.8):
 *   encap   native host -> Teredo client: Ethernet + IPv6 (+ UDP payload)
 *   decap   Teredo client -> native host: Ethernet + IPv4/UDP to the relay
 *           + IPv6 (+ UDP payload), IPv4 and UDP checksums correct
 *   bubble  direct bubble from a client to the relay (plen 0, next header 59)
 *   bad     one of several malformed or refused packets, in turn
 * Clients come from the seeded address function of perf/common/tr_perf_addr.h,
 * so benchmarks can preload the same peers. Frames are built from byte
 * templates; a few million frames per second on one core.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pcap/pcap.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tr_perf_addr.h"

#define ETH_HLEN 14
#define IP4_HLEN 20
#define UDP_HLEN 8
#define IP6_HLEN 40
#define MAX_FRAME (ETH_HLEN + IP4_HLEN + UDP_HLEN + 1280 + 64)

enum kind { K_ENCAP, K_DECAP, K_BUBBLE, K_BAD, K_MAX };
static const char *const kind_name[K_MAX] = { "encap", "decap", "bubble", "bad" };

enum bad_kind {
	BAD_UDP_CSUM,        /* rx_bad_udp_csum */
	BAD_NOT_FOR_RELAY,   /* rx_v4_not_for_relay */
	BAD_NOT_TEREDO_DST,  /* tx_not_teredo */
	BAD_INNER_VERSION,   /* rx_bad_ipv6 */
	BAD_MAPPING,         /* rx_mapping_mismatch (outer port differs from the address) */
	BAD_CLIENT_PRIVATE,  /* tx_client_not_global (embedded 10.x client) */
	BAD_V4_TRUNCATED,    /* rx_v4_truncated */
	BAD_MAX
};
static const char *const bad_name[BAD_MAX] = {
	"udp_csum", "not_for_relay", "not_teredo_dst", "inner_version", "mapping_mismatch",
	"client_private", "v4_truncated",
};

struct opts {
	uint32_t clients, servers, hosts;
	uint64_t packets;
	unsigned size;               /* IPv6 packet length, header included */
	bool imix;
	unsigned mix[K_MAX];
	bool zipf;
	double zipf_s;
	uint64_t seed;
	uint32_t relay_ip;
	uint16_t relay_port;
	uint8_t relay6[16];
	const char *out;
	const char *peers_out;
};

static void usage(FILE *f)
{
	fprintf(f,
"usage: tr_gen --out FILE.pcap [options]\n"
"Seeded, reproducible Teredo capture (Ethernet frames as the relay receives them).\n"
"  --clients N        distinct Teredo clients (default 1000); client i is the seeded\n"
"                     address function of perf/common/tr_perf_addr.h: server 198.18.0.1+(i mod S),\n"
"                     mapped IPv4 (11+i/2^24).(i mod 2^24), seeded port and RFC 5991 random flags\n"
"  --servers S        Teredo servers the clients use (default 16)\n"
"  --hosts M          native hosts 2001:db8:<j>::1 in 2001:db8::/32 (default 256)\n"
"  --packets P        frames to write (default 100000)\n"
"  --size N           IPv6 packet length in bytes, 40-byte header included, 64..1280\n"
"                     (default 104 = 64-byte IPv6 payload; 1280 = the Teredo MTU)\n"
"  --imix             sizes 104:576:1280 in proportion 7:4:1 instead of --size\n"
"  --mix E:D:B:X      shares of encap (native->client), decap (client->native), direct\n"
"                     bubbles (client->relay) and bad frames (default 45:45:5:5)\n"
"                     bad frames cycle through: bad UDP checksum, IPv4 not for the relay,\n"
"                     non-Teredo native destination, inner version not 6, outer mapping\n"
"                     mismatch, private embedded client IPv4, truncated IPv4\n"
"  --dist uniform|zipf[:s]  client popularity (default uniform; zipf exponent s default 1.0)\n"
"  --seed N           PRNG seed (default 1); same options + seed = same bytes\n"
"  --relay A.B.C.D:P  relay IPv4 service address and UDP port (default 198.51.100.1:3545)\n"
"  --relay6 ADDR      relay native IPv6 address, never generated as a host (default 2001:db8:ffff::1)\n"
"  --out FILE         pcap file to write (Ethernet, microsecond timestamps 1 us apart)\n"
"  --peers-out FILE   write clients 0..N-1, one per line: teredo-address mapped-ip:port server-ip\n"
"  -h, --help         this text\n");
}

/* ------------------------------------------------------------ checksums */

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	while (len > 1) {
		sum += (uint32_t)p[0] << 8 | p[1];
		p += 2;
		len -= 2;
	}
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

/* UDP over IPv6 checksum, field at udp+6 must be zero on entry. */
static uint16_t udp6_csum(const uint8_t *ip6, const uint8_t *udp, size_t len)
{
	uint32_t s = csum_add(0, ip6 + 8, 32);

	s += (uint32_t)(len >> 16) + (uint32_t)(len & 0xffff) + 17;
	s = csum_add(s, udp, len);
	uint16_t c = csum_fold(s);
	return c ? c : 0xffff;
}

static uint16_t udp4_csum(uint32_t src, uint32_t dst, const uint8_t *udp, size_t len)
{
	uint32_t s = (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + 17 + (uint32_t)len;

	s = csum_add(s, udp, len);
	uint16_t c = csum_fold(s);
	return c ? c : 0xffff;
}

/* ------------------------------------------------------------- builders */

static const uint8_t mac_relay[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
static const uint8_t mac_peer[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 };
static const uint8_t bubble_dst[16] = {
	0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0xa0, 0xb2, 0xc3, 0xd4, 0xe5, 0xf6, 0x07, 0x18 };

static size_t build_eth(uint8_t *f, uint16_t type)
{
	memcpy(f, mac_relay, 6);
	memcpy(f + 6, mac_peer, 6);
	put16(f + 12, type);
	return ETH_HLEN;
}

/* IPv6 packet of total length len (>= 40) at p: UDP payload unless bubble. */
static void build_ip6(uint8_t *p, size_t len, const uint8_t src[16], const uint8_t dst[16],
		      bool bubble, uint16_t sport, uint16_t dport, uint64_t tag)
{
	size_t plen = len - IP6_HLEN;

	p[0] = 0x60; p[1] = 0; p[2] = 0; p[3] = 0;
	put16(p + 4, (uint16_t)plen);
	p[6] = bubble ? 59 : 17;
	p[7] = 64;
	memcpy(p + 8, src, 16);
	memcpy(p + 24, dst, 16);
	if (bubble || plen < UDP_HLEN)
		return;
	uint8_t *u = p + IP6_HLEN;
	put16(u, sport);
	put16(u + 2, dport);
	put16(u + 4, (uint16_t)plen);
	u[6] = u[7] = 0;
	for (size_t i = UDP_HLEN; i < plen; i++)
		u[i] = (uint8_t)(i + tag);
	if (plen >= UDP_HLEN + 8)
		memcpy(u + UDP_HLEN, &tag, 8);        /* sequence number in the payload */
	put16(u + 6, udp6_csum(p, u, plen));
}

/* Ethernet + IPv4/UDP(src -> relay) + payload already placed at f+42. */
static size_t wrap_udp4(uint8_t *f, size_t payload, uint32_t src, uint16_t sport, uint32_t dst,
			uint16_t dport)
{
	uint8_t *ip = f + ETH_HLEN;
	uint8_t *u = ip + IP4_HLEN;
	size_t tot = IP4_HLEN + UDP_HLEN + payload;

	build_eth(f, 0x0800);
	ip[0] = 0x45; ip[1] = 0;
	put16(ip + 2, (uint16_t)tot);
	put16(ip + 4, 0); put16(ip + 6, 0);
	ip[8] = 64; ip[9] = 17;
	put16(ip + 10, 0);
	put32(ip + 12, src);
	put32(ip + 16, dst);
	put16(ip + 10, csum_fold(csum_add(0, ip, IP4_HLEN)));
	put16(u, sport);
	put16(u + 2, dport);
	put16(u + 4, (uint16_t)(UDP_HLEN + payload));
	u[6] = u[7] = 0;
	put16(u + 6, udp4_csum(src, dst, u, UDP_HLEN + payload));
	return ETH_HLEN + tot;
}

/* ---------------------------------------------------------- distribution */

struct picker {
	uint32_t n;
	double *cdf;                 /* zipf only */
};

static int picker_init(struct picker *pk, uint32_t n, bool zipf, double s)
{
	pk->n = n;
	pk->cdf = NULL;
	if (!zipf)
		return 0;
	pk->cdf = malloc((size_t)n * sizeof(double));
	if (pk->cdf == NULL)
		return -1;
	double acc = 0;
	for (uint32_t k = 0; k < n; k++) {
		acc += pow((double)k + 1.0, -s);
		pk->cdf[k] = acc;
	}
	for (uint32_t k = 0; k < n; k++)
		pk->cdf[k] /= acc;
	return 0;
}

static uint32_t pick(const struct picker *pk, struct tr_perf_rng *rng)
{
	if (pk->cdf == NULL)
		return (uint32_t)(tr_perf_rand(rng) % pk->n);
	double u = tr_perf_rand01(rng);
	uint32_t lo = 0, hi = pk->n - 1;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (pk->cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* ------------------------------------------------------------- options */

static int parse_u64(const char *s, uint64_t *v, uint64_t lo, uint64_t hi)
{
	char *end;
	errno = 0;
	unsigned long long x = strtoull(s, &end, 0);

	if (errno || *s == '\0' || *end != '\0' || x < lo || x > hi)
		return -1;
	*v = x;
	return 0;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "clients", required_argument, NULL, 'c' }, { "servers", required_argument, NULL, 'S' },
		{ "hosts", required_argument, NULL, 'm' }, { "packets", required_argument, NULL, 'p' },
		{ "size", required_argument, NULL, 's' }, { "imix", no_argument, NULL, 'i' },
		{ "mix", required_argument, NULL, 'x' }, { "dist", required_argument, NULL, 'd' },
		{ "seed", required_argument, NULL, 'e' }, { "relay", required_argument, NULL, 'r' },
		{ "relay6", required_argument, NULL, '6' }, { "out", required_argument, NULL, 'o' },
		{ "peers-out", required_argument, NULL, 'P' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int c;

	*o = (struct opts){ .clients = 1000, .servers = 16, .hosts = 256, .packets = 100000,
			    .size = 104, .mix = { 45, 45, 5, 5 }, .zipf_s = 1.0, .seed = 1,
			    .relay_ip = 0xC6336401u, .relay_port = 3545 };
	inet_pton(AF_INET6, "2001:db8:ffff::1", o->relay6);
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (parse_u64(optarg, &v, 1, TR_PERF_MAX_CLIENTS)) goto bad;
			o->clients = (uint32_t)v; break;
		case 'S':
			if (parse_u64(optarg, &v, 1, 65536)) goto bad;
			o->servers = (uint32_t)v; break;
		case 'm':
			if (parse_u64(optarg, &v, 1, 1u << 30)) goto bad;
			o->hosts = (uint32_t)v; break;
		case 'p':
			if (parse_u64(optarg, &v, 1, 1ull << 32)) goto bad;
			o->packets = v; break;
		case 's':
			if (parse_u64(optarg, &v, 64, 1280)) goto bad;
			o->size = (unsigned)v; break;
		case 'i': o->imix = true; break;
		case 'x': {
			unsigned a[K_MAX];
			char tail;
			if (sscanf(optarg, "%u:%u:%u:%u%c", &a[0], &a[1], &a[2], &a[3], &tail) != 4 ||
			    a[0] + a[1] + a[2] + a[3] == 0)
				goto bad;
			memcpy(o->mix, a, sizeof(a));
			break;
		}
		case 'd':
			if (strcmp(optarg, "uniform") == 0) {
				o->zipf = false;
			} else if (strncmp(optarg, "zipf", 4) == 0 &&
				   (optarg[4] == '\0' || optarg[4] == ':')) {
				o->zipf = true;
				if (optarg[4] == ':') {
					char *end;
					o->zipf_s = strtod(optarg + 5, &end);
					if (*end != '\0' || !(o->zipf_s > 0.0) || o->zipf_s > 5.0)
						goto bad;
				}
			} else {
				goto bad;
			}
			break;
		case 'e':
			if (parse_u64(optarg, &v, 0, UINT64_MAX)) goto bad;
			o->seed = v; break;
		case 'r': {
			char ip[64];
			const char *colon = strrchr(optarg, ':');
			struct in_addr a;
			if (colon == NULL || (size_t)(colon - optarg) >= sizeof(ip)) goto bad;
			memcpy(ip, optarg, (size_t)(colon - optarg));
			ip[colon - optarg] = '\0';
			if (inet_pton(AF_INET, ip, &a) != 1 || parse_u64(colon + 1, &v, 1, 65535)) goto bad;
			o->relay_ip = ntohl(a.s_addr);
			o->relay_port = (uint16_t)v;
			break;
		}
		case '6':
			if (inet_pton(AF_INET6, optarg, o->relay6) != 1) goto bad;
			break;
		case 'o': o->out = optarg; break;
		case 'P': o->peers_out = optarg; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -1;
		}
		continue;
bad:
		for (const struct option *p = lo; p->name; p++)
			if (p->val == c)
				fprintf(stderr, "tr_gen: bad value for --%s: '%s'\n", p->name, optarg);
		return -1;
	}
	if (optind < argc) {
		fprintf(stderr, "tr_gen: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (o->out == NULL && o->peers_out == NULL) {
		fprintf(stderr, "tr_gen: --out FILE (or --peers-out FILE) is required\n");
		usage(stderr);
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------- main */

static int write_peers(const struct opts *o)
{
	FILE *f = fopen(o->peers_out, "w");
	if (f == NULL) {
		fprintf(stderr, "tr_gen: %s: %s\n", o->peers_out, strerror(errno));
		return -1;
	}
	static char buf[1 << 20];
	setvbuf(f, buf, _IOFBF, sizeof(buf));
	for (uint32_t i = 0; i < o->clients; i++) {
		struct tr_perf_client c;
		char a6[INET6_ADDRSTRLEN];

		tr_perf_client(o->seed, o->servers, i, &c);
		inet_ntop(AF_INET6, c.addr, a6, sizeof(a6));
		fprintf(f, "%s %u.%u.%u.%u:%u %u.%u.%u.%u\n", a6,
			c.ip >> 24, (c.ip >> 16) & 255, (c.ip >> 8) & 255, c.ip & 255, c.port,
			c.server >> 24, (c.server >> 16) & 255, (c.server >> 8) & 255, c.server & 255);
	}
	if (fclose(f) != 0) {
		fprintf(stderr, "tr_gen: %s: write error\n", o->peers_out);
		return -1;
	}
	return 0;
}

static unsigned pick_size(const struct opts *o, struct tr_perf_rng *rng)
{
	static const unsigned imix_size[3] = { 104, 576, 1280 };

	if (!o->imix)
		return o->size;
	unsigned r = (unsigned)(tr_perf_rand(rng) % 12);
	return imix_size[r < 7 ? 0 : r < 11 ? 1 : 2];
}

int main(int argc, char **argv)
{
	struct opts o;

	if (parse_opts(argc, argv, &o) != 0)
		return 2;
	if (o.peers_out != NULL && write_peers(&o) != 0)
		return 1;
	if (o.out == NULL)
		return 0;

	struct picker pk;
	if (picker_init(&pk, o.clients, o.zipf, o.zipf_s) != 0) {
		fprintf(stderr, "tr_gen: out of memory for the zipf table\n");
		return 1;
	}
	pcap_t *dead = pcap_open_dead(DLT_EN10MB, 65535);
	pcap_dumper_t *d = dead ? pcap_dump_open(dead, o.out) : NULL;
	if (d == NULL) {
		fprintf(stderr, "tr_gen: %s: %s\n", o.out, dead ? pcap_geterr(dead) : "pcap_open_dead");
		return 1;
	}

	struct tr_perf_rng rng = { .s = tr_perf_mix64(o.seed ^ 0x7465726564ull) };
	unsigned total = o.mix[0] + o.mix[1] + o.mix[2] + o.mix[3];
	uint64_t count[K_MAX] = { 0 }, bad_count[BAD_MAX] = { 0 };
	unsigned bad_next = 0;
	static uint8_t f[MAX_FRAME];

	for (uint64_t n = 0; n < o.packets; n++) {
		unsigned r = (unsigned)(tr_perf_rand(&rng) % total);
		enum kind k = r < o.mix[0] ? K_ENCAP : r < o.mix[0] + o.mix[1] ? K_DECAP :
			      r < o.mix[0] + o.mix[1] + o.mix[2] ? K_BUBBLE : K_BAD;
		struct tr_perf_client c;
		uint8_t host[16];
		uint32_t ci = pick(&pk, &rng);
		uint32_t hj = (uint32_t)(tr_perf_rand(&rng) % o.hosts);
		unsigned size = pick_size(&o, &rng);
		size_t len = 0;
		int bk = -1;

		tr_perf_client(o.seed, o.servers, ci, &c);
		tr_perf_host(hj, host);
		if (memcmp(host, o.relay6, 16) == 0)
			host[15] ^= 2;
		if (k == K_BAD) {
			bk = (int)(bad_next++ % BAD_MAX);
			bad_count[bk]++;
		}

		if (k == K_ENCAP || bk == BAD_NOT_TEREDO_DST || bk == BAD_CLIENT_PRIVATE) {
			uint8_t dst[16];

			memcpy(dst, c.addr, 16);
			if (bk == BAD_NOT_TEREDO_DST)
				tr_perf_host(hj + 1, dst);
			else if (bk == BAD_CLIENT_PRIVATE)
				dst[12] = (uint8_t)~10u;      /* embedded client 10.x.y.z */
			build_eth(f, 0x86dd);
			build_ip6(f + ETH_HLEN, size, host, dst, false, 443, c.port, n);
			len = ETH_HLEN + size;
		} else {
			/* Client -> relay over IPv4/UDP. */
			uint8_t *ip6 = f + ETH_HLEN + IP4_HLEN + UDP_HLEN;
			bool bubble = k == K_BUBBLE;
			size_t l6 = bubble ? IP6_HLEN : size;

			build_ip6(ip6, l6, c.addr, bubble ? bubble_dst : host, bubble, c.port, 443, n);
			uint32_t dst4 = bk == BAD_NOT_FOR_RELAY ? o.relay_ip + 1 : o.relay_ip;
			uint16_t sport = bk == BAD_MAPPING ? (uint16_t)(c.port ^ 0x8000u) : c.port;
			len = wrap_udp4(f, l6, c.ip, sport, dst4, o.relay_port);
			if (bk == BAD_UDP_CSUM)
				f[ETH_HLEN + IP4_HLEN + 6] ^= 0x55;
			if (bk == BAD_INNER_VERSION) {
				/* Fix the UDP checksum after the change so only the version is wrong. */
				uint8_t *u = f + ETH_HLEN + IP4_HLEN;
				ip6[0] = 0x40;
				u[6] = u[7] = 0;
				put16(u + 6, udp4_csum(c.ip, dst4, u, UDP_HLEN + l6));
			}
			if (bk == BAD_V4_TRUNCATED)
				len -= 8;                     /* total length now exceeds the frame */
		}
		struct pcap_pkthdr h = {
			.ts = { .tv_sec = 1700000000 + (time_t)(n / 1000000), .tv_usec = (suseconds_t)(n % 1000000) },
			.caplen = (bpf_u_int32)len, .len = (bpf_u_int32)len,
		};
		pcap_dump((u_char *)d, &h, f);
		count[k]++;
	}
	pcap_dump_close(d);
	pcap_close(dead);
	free(pk.cdf);

	fprintf(stderr, "tr_gen: %s: %llu frames", o.out, (unsigned long long)o.packets);
	for (int k = 0; k < K_MAX; k++)
		fprintf(stderr, " %s=%llu", kind_name[k], (unsigned long long)count[k]);
	if (count[K_BAD]) {
		fprintf(stderr, " (");
		for (int b = 0; b < BAD_MAX; b++)
			fprintf(stderr, "%s%s=%llu", b ? " " : "", bad_name[b], (unsigned long long)bad_count[b]);
		fprintf(stderr, ")");
	}
	fprintf(stderr, "; %u clients, %s\n", o.clients, o.zipf ? "zipf" : "uniform");
	return 0;
}
