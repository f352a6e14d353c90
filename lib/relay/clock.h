/* SPDX-License-Identifier: BSD-3-Clause
 *
 * The relay's one clock, in milliseconds. Production: the TSC. Replay: the
 * capture's timestamps, so that bubble retries, give-up and expiry are
 * reproducible from a capture (the control lcore advances it).
 */
#ifndef TERELAY_CLOCK_H
#define TERELAY_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_cycles.h>

struct tr_clock {
	bool replay;
	uint64_t tsc0;
	uint64_t tsc_per_ms;
	uint64_t base_ms;        /* the clock at tsc0 (replay: at the first frame) */
	uint64_t replay_ms;      /* written by the control lcore only */
};

#define TR_CLOCK_START_MS 1000000ULL

static inline void tr_clock_init(struct tr_clock *c, bool replay)
{
	c->replay = replay;
	c->tsc0 = rte_rdtsc();
	c->tsc_per_ms = rte_get_tsc_hz() / 1000;
	if (c->tsc_per_ms == 0)
		c->tsc_per_ms = 1;
	/* Start well above zero so "30 s before now" (RFC 4380 §5.2.6) stays
	 * a positive time and logs read naturally. */
	c->base_ms = TR_CLOCK_START_MS;
	c->replay_ms = c->base_ms;
}

/* Before any lcore reads the clock: continue a clock of an earlier run (the
 * state file, D96), so that its peer times and nonce epochs stay valid. */
static inline void tr_clock_rebase(struct tr_clock *c, uint64_t base_ms)
{
	c->tsc0 = rte_rdtsc();
	c->base_ms = base_ms;
	c->replay_ms = base_ms;
}

static inline uint64_t tr_clock_ms(const struct tr_clock *c)
{
	if (c->replay)
		return __atomic_load_n(&c->replay_ms, __ATOMIC_ACQUIRE);
	return c->base_ms + (rte_rdtsc() - c->tsc0) / c->tsc_per_ms;
}

/* Replay only: time never goes backwards, even if the capture does. */
static inline void tr_clock_advance(struct tr_clock *c, uint64_t ms)
{
	if (ms > c->replay_ms)
		__atomic_store_n(&c->replay_ms, ms, __ATOMIC_RELEASE);
}

/* Wrap-safe elapsed time between two 32-bit truncated clock values. */
static inline int32_t tr_ms_since(uint32_t now, uint32_t then)
{
	return (int32_t)(now - then);
}

#endif /* TERELAY_CLOCK_H */
