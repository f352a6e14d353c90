/* SPDX-License-Identifier: BSD-3-Clause
 *
 * The peer table across restarts (issue 18, D96): `[state] file`. At start,
 * before the ports come up, the last snapshot is loaded (lib/teredo/
 * statefile.c checks it whole first); while running, the control lcore
 * takes a snapshot every `[state] interval` seconds in small steps and a
 * writer thread puts it on disk; at exit one last snapshot is written.
 * Everything here runs on the control lcore (the table's only writer).
 */
#ifndef TERELAY_STATE_H
#define TERELAY_STATE_H

#include <stdint.h>

struct tr_relay;

/* Wall clock now, ms since the epoch (replay: the capture's clock). */
uint64_t tr_state_wall_ms(const struct tr_relay *r);

/* After tr_relay_init, before the ports start and the workers launch.
 * wall_ms: now (live), or the capture's first frame (replay). Continues
 * the earlier run's clock, loads its peers, negative cache and bubble
 * secret, and prints one line saying what was loaded or why nothing was.
 * A bad file is never fatal: returns 0 whenever the relay may run. */
int tr_state_restore(struct tr_relay *r, uint64_t wall_ms);

/* Live control loop: start a periodic snapshot when due, walk a bounded
 * step of it, hand it to the writer thread, collect the thread's result. */
void tr_state_poll(struct tr_relay *r);

/* At exit, workers stopped: the whole table now, written synchronously.
 * Returns 0, or -1 (one line printed). No-op without [state] file. */
int tr_state_save(struct tr_relay *r);

/* Frees what tr_state_restore/poll allocated (waits for the writer). */
void tr_state_fini(struct tr_relay *r);

#endif /* TERELAY_STATE_H */
