/* SPDX-License-Identifier: BSD-3-Clause
 *
 * The peer table across restarts (D96). The file format and its checks are
 * lib/teredo/statefile.c's; this file decides what a snapshot holds and what
 * a restarted relay makes of it.
 *
 * Snapshot: the control lcore is the table's only writer, so it reads each
 * entry (key and mapping) consistently; a periodic snapshot walks
 * TR_STATE_STEP positions per control poll into a memory buffer, so the
 * packet work pauses for microseconds, not for the whole table, and a
 * thread of its own writes the buffer (fsync can take a while). What
 * changes during the walk is caught by the next snapshot: the file is a
 * recent view, each record exact.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <rte_cycles.h>

#include "control_priv.h"
#include "counters.h"
#include "peer_table.h"
#include "relay.h"
#include "state.h"
#include "statefile.h"

/* A snapshot step ends after this much time (checked every
 * TR_STATE_CHECK positions): reading one entry's key costs a hash lookup
 * (rte_hash_get_key_with_position verifies the position), up to 500 ns on
 * a 1M table with 4 KB pages, so a count of positions would not bound the
 * pause (measured: docs/deploy.md "Restarts"). */
#define TR_STATE_STEP_US 50u
#define TR_STATE_CHECK 32u

enum snap_phase { SNAP_IDLE, SNAP_PEERS, SNAP_NEG, SNAP_WRITING };

struct tr_state {
	struct tr_relay *r;
	enum snap_phase phase;
	uint64_t next_ms;            /* next periodic snapshot (relay clock) */
	uint32_t shard, pos;         /* walk cursor */
	uint32_t neg_i;
	/* The snapshot being built, then written by the thread. */
	struct tr_state_hdr hdr;
	struct tr_state_peer *peers;
	struct tr_state_neg *neg;
	size_t n_peers, cap_peers, n_neg, cap_neg;
	pthread_t thread;
	int result;                  /* the thread's: 0 or -errno */
	bool done;                   /* the thread's, release store */
	bool last_failed;            /* log a failure once, not every interval */
	uint64_t longest_step_cyc;   /* longest control pause of a snapshot step */
	uint64_t steps, step_cyc;    /* all steps: count and time, for the mean */
	uint64_t write_cyc;          /* the last write's duration (thread or exit) */
};

static struct tr_state *state_of(struct tr_relay *r)
{
	return r->state;
}

uint64_t tr_state_wall_ms(const struct tr_relay *r)
{
	if (r->replay)
		return r->wall_base_ms + (tr_clock_ms(&r->clock) - r->clock.base_ms);
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

/* A 32-bit truncated clock value, widened against now (wrap-safe). */
static uint64_t widen(uint64_t now, uint32_t v)
{
	int32_t since = tr_ms_since((uint32_t)now, v);

	return since > 0 ? now - (uint64_t)since : now;
}

/* ------------------------------------------------------------ restore */

struct restore {
	struct tr_relay *r;
	const struct tr_state_hdr *h;   /* filled by the parser before any record */
	uint64_t wall_ms;
	bool begun;
	uint64_t now;
	uint32_t trusted, lapsed, resumed, expired, full, neg;
};

static uint64_t restore_gap(const struct restore *rs)
{
	return rs->wall_ms > rs->h->written_wall_ms ? rs->wall_ms - rs->h->written_wall_ms : 0;
}

/* Once the whole file is known good, before its first record: the clock
 * goes on from the snapshot's by the wall time between, so peer times, the
 * negative cache and nonce epochs keep their meaning (a clock set back
 * counts as no time passed); the old bubble secret comes back unless the
 * operator pins one, so bubbles sent before the restart are still
 * answered. */
static void restore_begin(struct restore *rs)
{
	struct tr_relay *r = rs->r;
	const struct tr_state_hdr *h = rs->h;

	if (rs->begun)
		return;
	rs->begun = true;
	tr_clock_rebase(&r->clock, h->written_clock_ms + restore_gap(rs));
	rs->now = r->ctrl->now = tr_clock_ms(&r->clock);
	if (!r->cfg.bubble_secret_set)
		memcpy(r->ctrl->bubble_key, h->secret, sizeof(h->secret));
}

static void on_peer(void *arg, const struct tr_state_peer *sp)
{
	struct restore *rs = arg;
	struct tr_relay *r = rs->r;
	struct tr_control *c = r->ctrl;
	const struct tr_config *cfg = &r->cfg;
	const uint64_t idle = (uint64_t)cfg->idle_timeout_s * 1000;
	const bool pending = sp->state != TR_STATE_TRUSTED;

	restore_begin(rs);

	/* What a live relay would be done with by now: an idle trusted peer
	 * expired (control.c sweep), a verification given up (§5.4.1). */
	if (pending ? rs->now - sp->created_ms >= (uint64_t)cfg->bubble_max * cfg->bubble_interval_ms ||
		      sp->bubbles >= cfg->bubble_max :
		      rs->now >= sp->last_rx_ms + idle && rs->now >= sp->last_tx_ms + idle) {
		/* A given-up verification is remembered as give_up() does, so
		 * the 4-per-300 s rule holds across the restart (§5.2.6). */
		uint64_t until = sp->created_ms + (uint64_t)cfg->bubble_window_s * 1000;

		if (pending && sp->bubbles > 0 && until > rs->now)
			tr_negcache_add(&c->neg, sp->addr, until);
		rs->expired++;
		return;
	}
	struct tr_peer_ref ref = tr_peer_add(r->peers, sp->addr, sp->ip, sp->port, (uint32_t)rs->now);

	if (ref.pos < 0) {
		rs->full++;
		return;
	}
	struct tr_peer *p = tr_peer_at(r->peers, ref);

	p->last_rx = (uint32_t)sp->last_rx_ms;
	p->last_tx = (uint32_t)sp->last_tx_ms;
	p->created = (uint32_t)sp->created_ms;
	p->bubbles = sp->bubbles;
	if (pending) {
		/* Its queued packets died with the process; its bubbles did not. */
		if (!tr_control_resume_verify(c, ref, sp->created_ms)) {
			tr_peer_del(r->peers, ref);
			rs->full++;
			return;
		}
		tr_peer_set_mapping(p, sp->ip, sp->port, TR_PEER_PENDING);
		rs->resumed++;
		TR_INC(&c->lc->cnt, state_resumed);
		return;
	}
	p->bubbles = 0;
	tr_peer_set_mapping(p, sp->ip, sp->port, TR_PEER_TRUSTED);
	/* RFC 4380 §5.2.4: valid while a packet came in the last 30 s. A
	 * lapsed entry keeps its mapping as a live relay's quiet peer does:
	 * nothing is encapsulated to it until the peer is heard again (the
	 * first native packet queues and bubbles, control.c native_slow). */
	if (rs->now - sp->last_rx_ms < (uint64_t)cfg->validity_s * 1000) {
		rs->trusted++;
		TR_INC(&c->lc->cnt, state_restored);
	} else {
		rs->lapsed++;
		TR_INC(&c->lc->cnt, state_lapsed);
	}
}

static void on_neg(void *arg, const struct tr_state_neg *n)
{
	struct restore *rs = arg;

	restore_begin(rs);

	if (n->until_ms > rs->now) {     /* the 300 s window still runs (§5.2.6) */
		tr_negcache_add(&rs->r->ctrl->neg, n->addr, n->until_ms);
		rs->neg++;
	}
}

/* The largest file a table of this configuration can have written, with
 * room for a relay restarted with a smaller table. */
static size_t max_file_bytes(const struct tr_config *cfg)
{
	uint64_t n = 4ULL * ((uint64_t)cfg->peers_max + cfg->negative_cache);
	uint64_t b = TR_STATE_HDR_LEN + TR_STATE_END_LEN + n * TR_STATE_PEER_LEN;

	return b > SIZE_MAX ? SIZE_MAX : (size_t)b;
}

static int state_alloc(struct tr_relay *r)
{
	struct tr_state *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return -1;
	s->r = r;
	r->state = s;
	return 0;
}

int tr_state_restore(struct tr_relay *r, uint64_t wall_ms)
{
	const char *path = r->cfg.state_file;
	struct tr_state_hdr h;
	struct restore rs = { .r = r };

	r->wall_base_ms = wall_ms;
	if (path[0] == '\0')
		return 0;
	if (state_alloc(r) != 0) {
		fprintf(stderr, "terelay: state: out of memory\n");
		return -1;
	}
	uint64_t t0 = rte_rdtsc();

	rs.h = &h;
	rs.wall_ms = wall_ms;
	enum tr_state_err e = tr_state_load(path, max_file_bytes(&r->cfg), r->cfg.ipv4, r->cfg.port,
					    &h, on_peer, on_neg, &rs);
	if (e == TR_STATE_MISSING) {
		printf("terelay: state: %s: no snapshot yet, starting empty\n", path);
		fflush(stdout);
		return 0;
	}
	if (e != TR_STATE_OK) {
		const char *why = tr_state_strerror(e);

		if (e == TR_STATE_IO)
			fprintf(stderr, "terelay: state: %s: %s: %s; starting empty\n", path, why,
				strerror(errno));
		else if (e == TR_STATE_FOREIGN)
			fprintf(stderr, "terelay: state: %s: %s (%u.%u.%u.%u:%u); starting empty\n",
				path, why, h.relay_ip >> 24, h.relay_ip >> 16 & 255, h.relay_ip >> 8 & 255,
				h.relay_ip & 255, h.relay_port);
		else
			fprintf(stderr, "terelay: state: %s: %s; starting empty\n", path, why);
		return 0;
	}
	restore_begin(&rs);             /* a file without records */
	uint64_t gap = restore_gap(&rs);

	printf("terelay: state: %s: %u peers trusted, %u to re-verify (validity lapsed), "
	       "%u verifications resumed, %u negative entries, in %" PRIu64 " ms; snapshot %"
	       PRIu64 " ms old; %u expired and %u beyond the table's capacity not loaded\n",
	       path, rs.trusted, rs.lapsed, rs.resumed, rs.neg,
	       (rte_rdtsc() - t0) * 1000 / rte_get_tsc_hz(), gap, rs.expired, rs.full);
	fflush(stdout);
	return 0;
}

/* ------------------------------------------------------------ snapshot */

static int grow(void **buf, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap * 2 : 1024;

	while (n < need)
		n *= 2;
	void *p = realloc(*buf, n * elem);

	if (p == NULL)
		return -1;
	*buf = p;
	*cap = n;
	return 0;
}

static void snap_begin(struct tr_state *s)
{
	struct tr_relay *r = s->r;
	struct tr_control *c = r->ctrl;

	s->hdr = (struct tr_state_hdr){
		.relay_ip = r->cfg.ipv4,
		.relay_port = r->cfg.port,
		.written_wall_ms = tr_state_wall_ms(r),
		.written_clock_ms = tr_clock_ms(&r->clock),
		.nonce_epoch_s = r->cfg.nonce_epoch_s,
	};
	memcpy(s->hdr.secret, c->bubble_key, sizeof(s->hdr.secret));
	s->n_peers = s->n_neg = 0;
	s->shard = s->pos = s->neg_i = 0;
	s->phase = SNAP_PEERS;
	/* Room for the table as it is now and some growth, in one go: a
	 * doubling realloc in the middle of a walk would copy tens of MB in
	 * one step (measured: an 8 ms pause at 1M peers). Failure is fine
	 * here; the walk grows what it needs. */
	(void)grow((void **)&s->peers, &s->cap_peers, r->peers->count + r->peers->count / 8 + 1024,
		   sizeof(*s->peers));
}

/* The walk until it is done or the TSC passes until (0: no limit); false
 * when out of memory. */
static bool snap_step(struct tr_state *s, uint64_t until)
{
	struct tr_relay *r = s->r;
	struct tr_peer_table *t = r->peers;
	struct tr_control *c = r->ctrl;
	uint64_t now = tr_clock_ms(&r->clock);
	uint32_t budget = TR_STATE_CHECK;

	while (budget > 0 && s->phase == SNAP_PEERS) {
		if (s->shard == t->n_shards) {
			s->phase = SNAP_NEG;
			break;
		}
		struct tr_peer_shard *sh = &t->shard[s->shard];

		for (; s->pos < sh->capacity && budget > 0; s->pos++) {
			if (until != 0 && --budget == 0) {
				if (rte_rdtsc() >= until)
					break;
				budget = TR_STATE_CHECK;
			}
			struct tr_peer_ref ref = { .shard = s->shard, .pos = (int32_t)s->pos };
			struct tr_peer *p = &sh->peers[s->pos];
			uint64_t mp = tr_peer_load_mapping(p);
			enum tr_peer_state st = tr_map_state(mp);

			if (st == TR_PEER_FREE)
				continue;
			const uint8_t *key = tr_peer_key(t, ref);

			if (key == NULL)
				continue;
			if (grow((void **)&s->peers, &s->cap_peers, s->n_peers + 1, sizeof(*s->peers)) != 0)
				return false;
			struct tr_state_peer *sp = &s->peers[s->n_peers++];

			memcpy(sp->addr, key, 16);
			sp->ip = tr_map_ip(mp);
			sp->port = tr_map_port(mp);
			sp->state = st == TR_PEER_TRUSTED ? TR_STATE_TRUSTED : TR_STATE_PENDING;
			sp->bubbles = p->bubbles;
			sp->last_rx_ms = widen(now, p->last_rx);
			sp->last_tx_ms = widen(now, p->last_tx);
			sp->created_ms = widen(now, p->created);
		}
		if (s->pos == sh->capacity) {
			s->shard++;
			s->pos = 0;
		}
	}
	/* Negative cache, oldest record first, so a reload keeps its order. */
	struct tr_negcache *n = &c->neg;

	for (; s->phase == SNAP_NEG && budget > 0 && s->neg_i < n->cap; s->neg_i++) {
		if (until != 0 && --budget == 0) {
			if (rte_rdtsc() >= until)
				break;
			budget = TR_STATE_CHECK;
		}
		uint32_t slot = (n->next + s->neg_i) % n->cap;

		if (n->until_ms[slot] <= now)
			continue;
		if (grow((void **)&s->neg, &s->cap_neg, s->n_neg + 1, sizeof(*s->neg)) != 0)
			return false;
		memcpy(s->neg[s->n_neg].addr, n->addr[slot], 16);
		s->neg[s->n_neg++].until_ms = n->until_ms[slot];
	}
	if (s->phase == SNAP_NEG && s->neg_i == n->cap)
		s->phase = SNAP_WRITING;
	return true;
}

static int write_file(struct tr_state *s)
{
	uint64_t t0 = rte_rdtsc();
	struct tr_state_writer w;
	int rc = tr_state_write_begin(&w, s->r->cfg.state_file, &s->hdr);

	for (size_t i = 0; rc == 0 && i < s->n_peers; i++)
		rc = tr_state_write_peer(&w, &s->peers[i]);
	for (size_t i = 0; rc == 0 && i < s->n_neg; i++)
		rc = tr_state_write_neg(&w, &s->neg[i]);
	if (rc == 0)
		rc = tr_state_write_commit(&w);
	tr_state_write_abort(&w);
	s->write_cyc = rte_rdtsc() - t0;
	return rc;
}

static void *writer_main(void *arg)
{
	struct tr_state *s = arg;

	s->result = write_file(s);
	__atomic_store_n(&s->done, true, __ATOMIC_RELEASE);
	return NULL;
}

static void report(struct tr_state *s, int rc, bool at_exit)
{
	struct tr_lcore *lc = tr_control_lcore(s->r->ctrl);

	if (rc == 0) {
		TR_INC(&lc->cnt, state_writes);
		if (at_exit || s->last_failed)
			printf("terelay: state: wrote %zu peers and %zu negative entries to %s in %"
			       PRIu64 " ms (periodic snapshot steps: %" PRIu64 ", mean %" PRIu64
			       " us, longest %" PRIu64 " us)\n",
			       s->n_peers, s->n_neg, s->r->cfg.state_file,
			       s->write_cyc * 1000 / rte_get_tsc_hz(), s->steps,
			       s->steps ? s->step_cyc * 1000000 / rte_get_tsc_hz() / s->steps : 0,
			       s->longest_step_cyc * 1000000 / rte_get_tsc_hz());
		fflush(stdout);
		s->last_failed = false;
		return;
	}
	TR_INC(&lc->cnt, state_write_errors);
	if (at_exit || !s->last_failed)
		fprintf(stderr, "terelay: state: cannot write %s: %s\n", s->r->cfg.state_file,
			strerror(-rc));
	s->last_failed = true;
}

static void join_writer(struct tr_state *s)
{
	pthread_join(s->thread, NULL);
	s->phase = SNAP_IDLE;
}

void tr_state_poll(struct tr_relay *r)
{
	struct tr_state *s = state_of(r);

	if (s == NULL || r->cfg.state_interval_s == 0)
		return;
	uint64_t t0 = rte_rdtsc();
	uint64_t now = tr_clock_ms(&r->clock);

	switch (s->phase) {
	case SNAP_IDLE:
		if (s->next_ms == 0)
			s->next_ms = now + (uint64_t)r->cfg.state_interval_s * 1000;
		if (now < s->next_ms)
			return;
		s->next_ms = now + (uint64_t)r->cfg.state_interval_s * 1000;
		snap_begin(s);
		break;
	case SNAP_PEERS:
	case SNAP_NEG:
		if (!snap_step(s, t0 + rte_get_tsc_hz() / 1000000 * TR_STATE_STEP_US)) {
			s->phase = SNAP_IDLE;
			report(s, -ENOMEM, false);
			return;
		}
		if (s->phase == SNAP_WRITING) {
			s->done = false;
			int e = pthread_create(&s->thread, NULL, writer_main, s);

			if (e != 0) {
				s->phase = SNAP_IDLE;
				report(s, -e, false);
				return;
			}
		}
		break;
	case SNAP_WRITING:
		if (!__atomic_load_n(&s->done, __ATOMIC_ACQUIRE))
			return;
		join_writer(s);
		report(s, s->result, false);
		return;
	}
	uint64_t dt = rte_rdtsc() - t0;

	if (dt > s->longest_step_cyc)
		s->longest_step_cyc = dt;
	s->steps++;
	s->step_cyc += dt;

}

int tr_state_save(struct tr_relay *r)
{
	struct tr_state *s = state_of(r);

	if (r->cfg.state_file[0] == '\0')
		return 0;
	if (s == NULL) {
		if (state_alloc(r) != 0) {
			fprintf(stderr, "terelay: state: out of memory\n");
			return -1;
		}
		s = r->state;
	}
	if (s->phase == SNAP_WRITING)
		join_writer(s);
	/* Workers are stopped: one walk of the whole table is exact. */
	snap_begin(s);
	if (!snap_step(s, 0)) {
		report(s, -ENOMEM, true);
		return -1;
	}
	int rc = write_file(s);

	s->phase = SNAP_IDLE;
	report(s, rc, true);
	return rc == 0 ? 0 : -1;
}

void tr_state_fini(struct tr_relay *r)
{
	struct tr_state *s = state_of(r);

	if (s == NULL)
		return;
	if (s->phase == SNAP_WRITING)
		join_writer(s);
	free(s->peers);
	free(s->neg);
	free(s);
	r->state = NULL;
}
