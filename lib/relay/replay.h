/* SPDX-License-Identifier: BSD-3-Clause
 *
 * Replay mode: a capture goes through the relay packet by packet group,
 * with the clock following the capture's timestamps, and everything the
 * relay sends goes, in order, to one output. Deterministic: packet by
 * packet in lockstep (on its worker by a software RSS, or on the control
 * lcore without workers), so the output is byte-identical with any number
 * of workers (D93).
 */
#ifndef TERELAY_REPLAY_H
#define TERELAY_REPLAY_H

#include "relay.h"

/* Runs on the main (control) lcore until the input is exhausted or stop,
 * writing everything the relay sends to out_path (pcap), each frame stamped
 * with the relay time it was sent at on the capture's time base. The port
 * only receives. Returns 0, -1 on error (message printed). */
int tr_replay_run(struct tr_relay *r, uint16_t port, const char *out_path);

/* The capture time of path's first frame, ms since the epoch (the replay's
 * "now" at start, for the state file); 0 when it has none. */
uint64_t tr_replay_first_ms(const char *path);

#endif /* TERELAY_REPLAY_H */
