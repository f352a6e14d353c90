/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Decode Teredo addresses with the library, one per line on stdin, for the
 * scapy/ipaddress cross-check (addr_scapy_check.py). Output per line:
 *   "<server> <client> <port> 0x<flags>"   e.g. "203.0.113.120 192.0.2.1 4096 0x0000"
 *   "not-teredo"                           valid IPv6, not in 2001:0::/32
 *   "invalid"                              not an IPv6 literal (exit status 2)
 */
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#include "teredo.h"

static void put_ipv4(uint32_t ip, char out[INET_ADDRSTRLEN])
{
	struct in_addr in = { .s_addr = htonl(ip) };

	if (inet_ntop(AF_INET, &in, out, INET_ADDRSTRLEN) == NULL)
		snprintf(out, INET_ADDRSTRLEN, "?");
}

int main(void)
{
	char line[256];
	int status = 0;

	while (fgets(line, sizeof(line), stdin) != NULL) {
		size_t n = strlen(line);
		bool whole = n > 0 && line[n - 1] == '\n';

		if (!whole && !feof(stdin)) {
			/* Overlong line: drop the rest so the output stays one line per input. */
			int c;

			while ((c = getchar()) != EOF && c != '\n')
				;
			puts("invalid");
			status = 2;
			continue;
		}
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' '))
			line[--n] = '\0';

		uint8_t a[16];
		struct tr_addr_info d;
		char srv[INET_ADDRSTRLEN], cli[INET_ADDRSTRLEN];

		if (inet_pton(AF_INET6, line, a) != 1) {
			puts("invalid");
			status = 2;
			continue;
		}
		if (tr_addr_decode(a, &d) != 0) {
			puts("not-teredo");
			continue;
		}
		put_ipv4(d.server, srv);
		put_ipv4(d.client, cli);
		printf("%s %s %u 0x%04x\n", srv, cli, (unsigned)d.port, (unsigned)d.flags);
	}
	return status;
}
