#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""
Replay behaves like a live relay (issue 15): between two packets the clock
steps through every timer deadline, and after the last packet it runs on
(--drain) while peer timers are armed. Each case replays captures through the
real terelay binary with the conformance harness's fixture.

  replay_gap      native packets to 100 unverified peers at t = 0..0.099 s,
                  then one unrelated frame at t = 20 s: every peer gets its 4
                  indirect bubbles (0, 2, 4, 6 s), gives up at 8 s, its queued
                  packet dropped (tx_verify_failed) with one Destination
                  Unreachable each, and the table ends empty. Before the fix:
                  200 bubbles, 100 peers still pending, 100 packets queued.
  replay_filler   the same story with filler frames every 10 ms instead of the
                  gap: byte-identical output frames, identical counters.
  replay_drain    the same story without the 20 s frame: --drain 30 shows the
                  same outcome; --drain 0 stops at the last frame (100 bubbles,
                  100 pending).
  replay_schedule the gap story read on the output's own timestamps (capture
                  time base): each peer's first bubble at its packet's time,
                  the retries 2, 4, 6 s later, its error 8 s later, to the us.
                  Before the fix the output carried the host's wall clock.
  replay_identical the bundled demo story with [bubbles] secret pinned: the
                  output file is byte-identical (timestamps included) over two
                  runs with -l 0 and with 2 and 3 workers.

Run: replay.py --terelay PATH --addr-tool PATH --case NAME
"""
import argparse
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "conformance"))
import conformance as C  # noqa: E402
from conformance import Fail, check  # noqa: E402

N = 100
# Pinned bubble key: two runs give the same bubble sources and nonces.
INI = C.fixture_ini(extra="[bubbles]\nsecret = 000102030405060708090a0b0c0d0e0f\n")


def peers():
    """100 Teredo clients of server S at 192.0.2.100+i... mappings (global per the relay)."""
    out = []
    for i in range(N):
        client = "198.18.%d.%d" % (10 + i // 200, 1 + i % 200)
        out.append(C.teredo_addr(C.S, 5000 + i, client))
    return out


def story(filler=False, gap_frame=True):
    cap = C.Cap()
    for i, p in enumerate(peers()):
        cap.add(i * 0.001, C.f_native(C.ip6_udp(C.H, p, b"to peer %d" % i)))
    if filler:
        # A frame the relay drops (eth_unknown_type) every 10 ms: the clock
        # moves with the capture as in today's replay.
        t = 0.1
        while t < 20.0 - 1e-9:
            cap.add(round(t, 3), C.f_tick())
            t += 0.01
    if gap_frame:
        cap.add(20.0, C.f_tick())
    return cap


def bubbles_per_peer(res):
    got = {}
    for fr in res.frames:
        if C.is_bubble_frame(fr):
            ip, pl = C.split_v4(fr, "bubble")
            dst = C.ip6s(pl[24:40])
            got[dst] = got.get(dst, 0) + 1
    return got


def check_outcome(res, nticks, what):
    got = bubbles_per_peer(res)
    want = {C.ip6s(C.ip6b(p)): 4 for p in peers()}
    check(got == want, "%s: bubbles per peer %s, expected 4 each (RFC 4380 §5.4.1: up to three "
          "retries at 2 s intervals)" % (what, sorted(set(got.values()))))
    errs = [fr for fr in res.frames if not C.is_bubble_frame(fr)]
    check(len(errs) == N, "%s: %d non-bubble frames, expected %d Destination Unreachable"
          % (what, len(errs), N))
    for fr in errs:
        ip6 = fr[14:]
        check(fr[12:14] == b"\x86\xdd" and ip6[6] == 58 and ip6[40] == 1 and ip6[41] == 3,
              "%s: not an ICMPv6 Destination Unreachable code 3: %s" % (what, C.describe(fr)))
    C.check_stats(res, C.Exp().ticks(nticks).drop("tx_verify_failed", N).add(
        queued=N, bubbles_sent=4 * N, peers_created=N, peers_unverified_removed=N, icmp6_sent=N,
        to_control=N))


def case_gap():
    cap = story()
    res = C.run_relay(cap.frames, ini=INI, label="replay_gap")
    check_outcome(res, 1, "gap")


def case_filler():
    gap = C.run_relay(story().frames, ini=INI, label="replay_gap")
    fil = story(filler=True)
    nticks = sum(1 for _, f in fil.frames if f == C.f_tick())
    res = C.run_relay(fil.frames, ini=INI, label="replay_filler")
    check_outcome(res, nticks, "filler")
    check(len(gap.frames) == len(res.frames) and all(a == b for a, b in zip(gap.frames, res.frames)),
          "the gap and the filler story give different output frames (%d vs %d)"
          % (len(gap.frames), len(res.frames)))


def case_drain():
    cap = story(gap_frame=False)
    res = C.run_relay(cap.frames, ini=INI, label="replay_drain30", drain=30)
    check_outcome(res, 0, "--drain 30")
    res0 = C.run_relay(cap.frames, ini=INI, label="replay_drain0", drain=0)
    check(len(res0.frames) == N and all(C.is_bubble_frame(f) for f in res0.frames),
          "--drain 0: %d frames, expected the %d first bubbles only" % (len(res0.frames), N))
    C.check_stats(res0, C.Exp().native_queued(N).add(bubbles_sent=N, peers_created=N,
                                                     peers_current=N, peers_pending=N))


def pcap_records(path):
    """(timestamp in us, frame bytes) of every record of a pcap file (us or ns magic)."""
    with open(path, "rb") as f:
        data = f.read()
    check(len(data) >= 24, "%s: not a pcap file" % path)
    magic = struct.unpack("<I", data[:4])[0]
    check(magic in (0xa1b2c3d4, 0xa1b23c4d), "%s: pcap magic %#x" % (path, magic))
    div = 1000 if magic == 0xa1b23c4d else 1
    out, o = [], 24
    while o + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack("<IIII", data[o:o + 16])
        out.append((sec * 1000000 + frac // div, data[o + 16:o + 16 + incl]))
        o += 16 + incl
    return out


def case_schedule():
    res = C.run_relay(story().frames, ini=INI, label="replay_schedule")
    check_outcome(res, 1, "schedule")
    inp = pcap_records(os.path.join(res.workdir, "IN.pcap"))
    out = pcap_records(os.path.join(res.workdir, "OUT.pcap"))
    t0 = inp[0][0]
    errs = []
    for i, p in enumerate(peers()):
        addr = C.ip6b(p)
        in_us = inp[i][0]
        ms = (in_us - t0) // 1000               # the relay clock runs in ms from the first frame
        want = [in_us] + [t0 + (ms + 2000 * k) * 1000 for k in (1, 2, 3)]
        got = [t for t, fr in out if C.is_bubble_frame(fr) and fr[14 + 28 + 24:14 + 28 + 40] == addr]
        if got != want:
            errs.append("peer %d: bubbles at %s us after the capture start, expected %s"
                        % (i, [t - t0 for t in got], [t - t0 for t in want]))
        # its Destination Unreachable quotes its packet: 8 s after creation (RFC 4380 §5.2.6)
        e = [t for t, fr in out if not C.is_bubble_frame(fr) and addr in fr]
        if e != [t0 + (ms + 8000) * 1000]:
            errs.append("peer %d: error at %s us, expected %d" % (i, [t - t0 for t in e],
                                                                 (ms + 8000) * 1000))
    check(not errs, "output timestamps off the capture's timeline:\n   " + "\n   ".join(errs[:10]))


def case_identical():
    sys.path.insert(0, os.path.join(HERE, "..", "conformance"))
    import make_sample
    frames = make_sample.story()
    runs = [("-l 0", "0", 0), ("-l 0 again", "0", 0), ("2 workers", C.MULTI, 2),
            ("3 workers", "0@0,1@1,2@1,3@1", 3)]
    files = []
    for what, lc, nw in runs:
        r = C.run_relay(frames, ini=INI, lcores=lc, label="replay_identical")
        if nw:
            C.check_workers_shared(r, nw)
        with open(os.path.join(r.workdir, "OUT.pcap"), "rb") as f:
            files.append((what, f.read(), r.workdir))
    check(len(files[0][1]) > 24 + 16 * 10, "harness: the demo output is too short")
    for what, data, d in files[1:]:
        check(data == files[0][1], "OUT.pcap with %s (%s) differs from -l 0 (%s): %d vs %d bytes"
              % (what, d, files[0][2], len(data), len(files[0][1])))


CASES = {"replay_gap": case_gap, "replay_filler": case_filler, "replay_drain": case_drain,
         "replay_schedule": case_schedule, "replay_identical": case_identical}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--terelay", required=True)
    ap.add_argument("--addr-tool", required=True)
    ap.add_argument("--case", required=True, choices=sorted(CASES))
    a = ap.parse_args()
    C.Env.terelay = a.terelay
    C.Env.addr_tool = a.addr_tool
    C.Env.drop_names = C.load_drop_names()
    C.Env.lcores = "0"
    try:
        CASES[a.case]()
    except Fail as e:
        print("FAIL %s: %s" % (a.case, e))
        return 1
    print("PASS %s" % a.case)
    return 0


if __name__ == "__main__":
    sys.exit(main())
