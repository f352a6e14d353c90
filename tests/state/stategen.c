/* SPDX-License-Identifier: BSD-3-Clause
 *
 * Writes a state file of N trusted peers (and M negative-cache entries) for
 * relay IPV4:PORT, as a relay would have written it AGE_MS ago (relay clock
 * 2000000 ms at writing), so that a restart with a large table can be
 * measured (docs/deploy.md "Restarts"). Peer i: client 10.<i>, port 1024 +
 * i % 60000, server 203.0.113.120; last received 1 s before writing.
 *
 *   stategen PATH IPV4 PORT N [M] [AGE_MS]
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "statefile.h"

static void teredo_addr(uint8_t a[16], uint32_t server, uint32_t client, uint16_t port)
{
	memset(a, 0, 16);
	a[0] = 0x20;
	a[1] = 0x01;
	for (int k = 0; k < 4; k++)
		a[4 + k] = (uint8_t)(server >> (24 - 8 * k));
	a[10] = (uint8_t)(~port >> 8);
	a[11] = (uint8_t)~port;
	for (int k = 0; k < 4; k++)
		a[12 + k] = (uint8_t)~(client >> (24 - 8 * k));
}

int main(int argc, char **argv)
{
	struct in_addr ip;

	if (argc < 5 || inet_pton(AF_INET, argv[2], &ip) != 1) {
		fprintf(stderr, "usage: stategen PATH IPV4 PORT N [M] [AGE_MS]\n");
		return 2;
	}
	unsigned long n = strtoul(argv[4], NULL, 10);
	unsigned long m = argc > 5 ? strtoul(argv[5], NULL, 10) : 0;
	unsigned long age = argc > 6 ? strtoul(argv[6], NULL, 10) : 0;
	struct timeval tv;
	const uint64_t clock = 2000000;
	const uint32_t server = 0xcb007178;      /* 203.0.113.120 */

	gettimeofday(&tv, NULL);
	struct tr_state_hdr h = {
		.relay_ip = ntohl(ip.s_addr),
		.relay_port = (uint16_t)strtoul(argv[3], NULL, 10),
		.written_wall_ms = (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000 - age,
		.written_clock_ms = clock,
		.nonce_epoch_s = 30,
	};
	struct tr_state_writer w;
	int rc = tr_state_write_begin(&w, argv[1], &h);

	for (unsigned long i = 0; rc == 0 && i < n; i++) {
		struct tr_state_peer p = {
			.ip = 0x0a000000u | (uint32_t)i,
			.port = (uint16_t)(1024 + i % 60000),
			.state = TR_STATE_TRUSTED,
			.last_rx_ms = clock - 1000,
			.last_tx_ms = clock - 1000,
			.created_ms = clock - 20000,
		};
		teredo_addr(p.addr, server, p.ip, p.port);
		rc = tr_state_write_peer(&w, &p);
	}
	for (unsigned long i = 0; rc == 0 && i < m; i++) {
		struct tr_state_neg g = { .until_ms = clock + 200000 };

		teredo_addr(g.addr, server, 0x0b000000u | (uint32_t)i, 4096);
		rc = tr_state_write_neg(&w, &g);
	}
	if (rc == 0)
		rc = tr_state_write_commit(&w);
	tr_state_write_abort(&w);
	if (rc != 0) {
		fprintf(stderr, "stategen: %s: %s\n", argv[1], strerror(-rc));
		return 1;
	}
	return 0;
}
