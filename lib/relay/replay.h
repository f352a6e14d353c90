/* SPDX-License-Identifier: BSD-3-Clause
 *
 * Replay mode: a capture goes through the relay packet by packet group,
 * with the clock following the capture's timestamps, and everything the
 * relay sends goes, in order, to one output. Deterministic: with workers,
 * each group is spread over them (a software RSS) and the control lcore
 * waits for them before the next group.
 */
#ifndef TERELAY_REPLAY_H
#define TERELAY_REPLAY_H

#include "relay.h"

/* Runs on the main (control) lcore until the input is exhausted or stop.
 * Returns 0, -1 on error. */
int tr_replay_run(struct tr_relay *r, uint16_t port);

#endif /* TERELAY_REPLAY_H */
