/* SPDX-License-Identifier: BSD-3-Clause
 *
 * Verification state of peers the relay is bubbling (control lcore only):
 * the FIFO queue of packets waiting for trust (RFC 4380 §5.4.1 "MAY queue",
 * "SHOULD limit"), the bubble schedule, and a deadline-ordered timer list.
 * A separate, smaller budget than the peer table: an unverified peer costs
 * a slot here, a trusted one does not.
 */
#ifndef TERELAY_PENDING_H
#define TERELAY_PENDING_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>

#include "peer_table.h"

#define TR_PEND_QMAX 16          /* hard upper bound of [queue] peer_packets */
#define TR_PEND_NONE UINT32_MAX

struct tr_pend {
	struct tr_peer_ref peer;
	uint64_t deadline_ms;        /* next bubble or give-up */
	uint64_t first_bubble_ms;    /* start of the 4-per-300 s window */
	uint32_t prev, next;         /* timer list links */
	uint32_t q_bytes;
	uint16_t q_head, q_len;
	bool in_use;
	bool reverify;               /* trusted peer whose validity expired (§5.2.4) */
	uint32_t nonce_sent;         /* RFC 6081 Nonce trailer value of this round */
	struct rte_mbuf *q[TR_PEND_QMAX];
	uint16_t q_size[TR_PEND_QMAX];   /* IPv6 bytes each queued packet counts for */
};

struct tr_pend_pool {
	struct tr_pend *slot;
	uint32_t *free_stack;
	uint32_t n_free, cap;
	uint32_t head, tail;         /* timer list, ascending deadline */
	uint32_t q_total;            /* packets queued over all slots */
};

int tr_pend_pool_init(struct tr_pend_pool *p, uint32_t cap, int socket);
void tr_pend_pool_free(struct tr_pend_pool *p);
/* TR_PEND_NONE when the budget is exhausted. */
uint32_t tr_pend_alloc(struct tr_pend_pool *p, struct tr_peer_ref peer);
/* Frees the queued mbufs too (caller counts them first if it must). */
void tr_pend_release(struct tr_pend_pool *p, uint32_t i);

/* Timer list: (re)arm slot i at deadline; earliest first. */
void tr_pend_arm(struct tr_pend_pool *p, uint32_t i, uint64_t deadline_ms);
/* Earliest slot whose deadline is <= now, or TR_PEND_NONE (it stays armed). */
uint32_t tr_pend_due(const struct tr_pend_pool *p, uint64_t now_ms);
/* The earliest armed deadline, or UINT64_MAX when no timer is armed. */
uint64_t tr_pend_next_deadline(const struct tr_pend_pool *p);

/* FIFO queue. Push fails (false) when a cap would be exceeded. */
bool tr_pend_push(struct tr_pend_pool *p, uint32_t i, struct rte_mbuf *m, uint32_t bytes,
		  uint32_t max_pkts, uint32_t max_bytes, uint32_t global_max);
struct rte_mbuf *tr_pend_pop(struct tr_pend_pool *p, uint32_t i);

#endif /* TERELAY_PENDING_H */
