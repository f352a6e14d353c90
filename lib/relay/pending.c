/* SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include <rte_malloc.h>

#include "pending.h"

int tr_pend_pool_init(struct tr_pend_pool *p, uint32_t cap, int socket)
{
	memset(p, 0, sizeof(*p));
	p->slot = rte_zmalloc_socket("tr_pend", (size_t)cap * sizeof(*p->slot), 0, socket);
	p->free_stack = rte_malloc_socket("tr_pend_free", (size_t)cap * sizeof(uint32_t), 0, socket);
	if (p->slot == NULL || p->free_stack == NULL) {
		tr_pend_pool_free(p);
		return -1;
	}
	p->cap = cap;
	for (uint32_t i = 0; i < cap; i++)
		p->free_stack[i] = cap - 1 - i;
	p->n_free = cap;
	p->head = p->tail = TR_PEND_NONE;
	return 0;
}

void tr_pend_pool_free(struct tr_pend_pool *p)
{
	if (p->slot != NULL) {
		for (uint32_t i = 0; i < p->cap; i++)
			if (p->slot[i].in_use)
				tr_pend_release(p, i);
	}
	rte_free(p->slot);
	rte_free(p->free_stack);
	p->slot = NULL;
	p->free_stack = NULL;
}

static void unlink_timer(struct tr_pend_pool *p, uint32_t i)
{
	struct tr_pend *s = &p->slot[i];

	if (s->prev != TR_PEND_NONE)
		p->slot[s->prev].next = s->next;
	else if (p->head == i)
		p->head = s->next;
	if (s->next != TR_PEND_NONE)
		p->slot[s->next].prev = s->prev;
	else if (p->tail == i)
		p->tail = s->prev;
	s->prev = s->next = TR_PEND_NONE;
}

uint32_t tr_pend_alloc(struct tr_pend_pool *p, struct tr_peer_ref peer)
{
	if (p->n_free == 0)
		return TR_PEND_NONE;
	uint32_t i = p->free_stack[--p->n_free];
	struct tr_pend *s = &p->slot[i];

	memset(s, 0, offsetof(struct tr_pend, q));
	s->peer = peer;
	s->prev = s->next = TR_PEND_NONE;
	s->in_use = true;
	return i;
}

void tr_pend_release(struct tr_pend_pool *p, uint32_t i)
{
	struct tr_pend *s = &p->slot[i];
	struct rte_mbuf *m;

	while ((m = tr_pend_pop(p, i)) != NULL)
		rte_pktmbuf_free(m);
	unlink_timer(p, i);
	s->in_use = false;
	p->free_stack[p->n_free++] = i;
}

void tr_pend_arm(struct tr_pend_pool *p, uint32_t i, uint64_t deadline_ms)
{
	struct tr_pend *s = &p->slot[i];

	unlink_timer(p, i);
	s->deadline_ms = deadline_ms;
	/* Deadlines are almost always "now + interval": walking back from the
	 * tail is O(1) in practice and keeps the list sorted. */
	uint32_t at = p->tail;
	while (at != TR_PEND_NONE && p->slot[at].deadline_ms > deadline_ms)
		at = p->slot[at].prev;
	s->prev = at;
	if (at == TR_PEND_NONE) {
		s->next = p->head;
		p->head = i;
	} else {
		s->next = p->slot[at].next;
		p->slot[at].next = i;
	}
	if (s->next != TR_PEND_NONE)
		p->slot[s->next].prev = i;
	else
		p->tail = i;
}

uint32_t tr_pend_due(const struct tr_pend_pool *p, uint64_t now_ms)
{
	if (p->head != TR_PEND_NONE && p->slot[p->head].deadline_ms <= now_ms)
		return p->head;
	return TR_PEND_NONE;
}

uint64_t tr_pend_next_deadline(const struct tr_pend_pool *p)
{
	return p->head != TR_PEND_NONE ? p->slot[p->head].deadline_ms : UINT64_MAX;
}

bool tr_pend_push(struct tr_pend_pool *p, uint32_t i, struct rte_mbuf *m, uint32_t bytes,
		  uint32_t max_pkts, uint32_t max_bytes, uint32_t global_max)
{
	struct tr_pend *s = &p->slot[i];

	if (max_pkts > TR_PEND_QMAX)
		max_pkts = TR_PEND_QMAX;
	if (s->q_len >= max_pkts || s->q_bytes + bytes > max_bytes || p->q_total >= global_max)
		return false;
	uint16_t at = (uint16_t)((s->q_head + s->q_len) % TR_PEND_QMAX);

	s->q[at] = m;
	s->q_size[at] = (uint16_t)bytes;
	s->q_len++;
	s->q_bytes += bytes;
	p->q_total++;
	return true;
}

struct rte_mbuf *tr_pend_pop(struct tr_pend_pool *p, uint32_t i)
{
	struct tr_pend *s = &p->slot[i];

	if (s->q_len == 0)
		return NULL;
	struct rte_mbuf *m = s->q[s->q_head];
	s->q_bytes -= s->q_size[s->q_head];
	s->q_head = (uint16_t)((s->q_head + 1) % TR_PEND_QMAX);
	s->q_len--;
	p->q_total--;
	return m;
}
