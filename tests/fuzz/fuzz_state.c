/* SPDX-License-Identifier: BSD-3-Clause
 *
 * libFuzzer target for the state file reader (tr_state_parse): the input is
 * a file's bytes. Parsed as it is, and once more with its last 8 bytes
 * replaced by the checksum of what precedes them, so that mutations get past
 * the checksum and reach the record walk. Besides ASan/UBSan, the reader's
 * contract is checked: callbacks only on TR_STATE_OK (never a partial load),
 * only valid peer states, and as many records as the file's size allows.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "statefile.h"
/* Compiled in for the target's coverage instrumentation (see fuzz_classify.c). */
#include "statefile.c"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

#define IP   0xc6336401u	/* 198.51.100.1, as in the seeds */
#define PORT 3545

struct count {
	size_t peers, negs;
	uint64_t sum;	/* reads every field, for ASan */
};

static void on_peer(void *arg, const struct tr_state_peer *p)
{
	struct count *c = arg;

	if (p->state != TR_STATE_PENDING && p->state != TR_STATE_TRUSTED)
		abort();
	for (int i = 0; i < 16; i++)
		c->sum += p->addr[i];
	c->sum += p->ip + p->port + p->bubbles + p->last_rx_ms + p->last_tx_ms + p->created_ms;
	c->peers++;
}

static void on_neg(void *arg, const struct tr_state_neg *g)
{
	struct count *c = arg;

	for (int i = 0; i < 16; i++)
		c->sum += g->addr[i];
	c->sum += g->until_ms;
	c->negs++;
}

static void one(const uint8_t *d, size_t n)
{
	struct count c = { 0 };
	struct tr_state_hdr h;
	enum tr_state_err e = tr_state_parse(d, n, IP, PORT, &h, on_peer, on_neg, &c);

	if ((unsigned)e > TR_STATE_BAD_RECORD || e == TR_STATE_MISSING || e == TR_STATE_IO ||
	    e == TR_STATE_TOO_BIG)
		abort();
	if (e != TR_STATE_OK && (c.peers || c.negs))
		abort();
	if (e == TR_STATE_OK &&
	    n != TR_STATE_HDR_LEN + c.peers * TR_STATE_PEER_LEN + c.negs * TR_STATE_NEG_LEN +
		 TR_STATE_END_LEN)
		abort();
	if ((e == TR_STATE_OK || e == TR_STATE_FOREIGN) &&
	    (h.relay_ip == IP && h.relay_port == PORT) != (e == TR_STATE_OK))
		abort();
	if (tr_state_strerror(e)[0] == '\0')
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	one(d, n);
	if (n < 8)
		return 0;
	uint8_t *c = malloc(n);

	if (!c)
		return 0;
	memcpy(c, d, n);
	uint64_t sum = tr_state_checksum(c, n - 8);

	for (int i = 0; i < 8; i++)
		c[n - 8 + i] = (uint8_t)(sum >> (8 * i));
	one(c, n);
	free(c);
	return 0;
}
