#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""
The peer table across a restart (issue 18, D96), through the real terelay in
replay mode: run 1 replays a capture and writes [state] file at exit; run 2
replays a capture that starts some seconds after run 1's last frame, loading
that file. Replay's clock is the capture's, so "restarted 10 s later" is a
timestamp and every outcome is exact (frames byte-compared, every counter).

  state_restore   A verified in run 1; run 2 10 s later: H's echo to A is
                  encapsulated at once, no bubble (state_restored 1), A's data
                  decapsulated; the file is 0600 and begins TRLYSTAT.
  state_lapsed    run 2 40 s later (validity 30 s, idle 60 s): A comes back
                  known but lapsed: the echo is queued and re-verified with one
                  bubble, flushed when A answers (state_lapsed 1).
  state_expired   run 2 70 s later: A would have been swept (idle 60 s): not
                  loaded, a first contact like T04 (peers_created 1).
  state_negcache  run 1: A never answers, 4 bubbles, give-up at 8 s; run 2 at
                  20 s: H's echo to A gets Destination Unreachable, no bubble
                  (tx_bubble_limit): RFC 4380 §5.2.6's 4 per 300 s holds across
                  the restart.
  state_resume    run 1 ends 1 s after A's first bubble (A pending); run 2: A,
                  now behind another mapping (symmetric NAT), answers with a
                  bubble to the bubble source of run 1 (key and epoch from the
                  file): nonce_accepted, A trusted, the retry timer goes on
                  (bubbles 2..4 at 2, 4, 6 s if unanswered: the second run
                  without the answer shows them). Without the file (control):
                  rx_unknown_peer.
  state_bad_files truncated, one flipped byte, foreign relay, future version,
                  garbage, empty, too big: each logs exactly one line naming
                  the reason and "starting empty", and the run is a first start
                  (one bubble for the echo), exit 0.
  state_write_error the file's directory does not exist: one line "cannot write",
                  state_write_errors 1, exit status 1.

Run: state.py --terelay PATH --addr-tool PATH --case NAME
"""
import argparse
import atexit
import os
import re
import shutil
import stat
import struct
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "conformance"))
import conformance as C  # noqa: E402
from conformance import Fail, check, Exp  # noqa: E402

A, H, S = C.A, C.H, C.S


def ini(path, extra=""):
    return C.fixture_ini(extra="[state]\nfile = %s\n%s" % (path, extra))


def state_path():
    d = tempfile.mkdtemp(prefix="terelay-state-")
    atexit.register(shutil.rmtree, d, True)
    return os.path.join(d, "state")


def log_of(res):
    with open(os.path.join(res.workdir, "terelay.log")) as f:
        return f.read()


def state_lines(res):
    return [ln for ln in log_of(res).splitlines() if ln.startswith("terelay: state:")]


def run1_trust(path):
    """Run 1: the T06-like trust of A (echo queued, bubble, direct bubble, flush)."""
    cap = C.Cap()
    cap.add(0.0, C.f_native(C.ECHO_28))
    cap.add(0.5, C.f_direct_bubble_a())
    res = C.run_relay(cap.frames, ini=ini(path), label="state-run1")
    C.check_stats(res, Exp().trust_prelude().set(peers_trusted=1).add(state_writes=1))
    lines = state_lines(res)
    check(any("no snapshot yet, starting empty" in ln for ln in lines),
          "run 1: no 'no snapshot yet' line: %r" % lines)
    check(any(re.search(r"wrote 1 peers and 0 negative entries to " + re.escape(path), ln)
              for ln in lines), "run 1: no 'wrote 1 peers' line: %r" % lines)
    return res


def case_restore():
    path = state_path()
    run1_trust(path)
    st = os.stat(path)
    check(stat.S_IMODE(st.st_mode) == 0o600, "state file mode %o, expected 600" % stat.S_IMODE(st.st_mode))
    with open(path, "rb") as f:
        head = f.read(8)
    check(head == b"TRLYSTAT", "state file begins %r, expected TRLYSTAT" % head)
    cap = C.Cap()
    cap.add(10.5, C.f_native(C.ECHO_28))
    cap.add(10.6, C.data_from_a(C.ip6_udp(A, H, b"from A")))
    res = C.run_relay(cap.frames, ini=ini(path), label="state-run2")
    C.expect_count(res, 2, "the echo encapsulated, A's datagram decapsulated")
    C.check_encap(res.frames[0], C.dec_hop(C.ECHO_28), what="echo to A after the restart")
    C.check_native(res.frames[1], C.dec_hop(C.ip6_udp(A, H, b"from A")), what="A's datagram")
    C.check_stats(res, Exp().native_encap(1).teredo_decap(1).add(
        state_restored=1, state_writes=1, peers_current=1))
    lines = state_lines(res)
    check(any("1 peers trusted, 0 to re-verify" in ln for ln in lines),
          "run 2: no '1 peers trusted' line: %r" % lines)


def case_lapsed():
    path = state_path()
    run1_trust(path)
    cap = C.Cap()
    cap.add(40.5, C.f_native(C.ECHO_28))
    cap.add(41.0, C.f_direct_bubble_a())
    res = C.run_relay(cap.frames, ini=ini(path), label="state-lapsed")
    C.expect_count(res, 2, "a re-verification bubble, then the flushed echo")
    C.check_bubble(res.frames[0], A, what="re-verification bubble")
    C.check_encap(res.frames[1], C.dec_hop(C.ECHO_28), what="flushed echo")
    C.check_stats(res, Exp().native_queued_then_flushed(1).direct_bubble(1).add(
        bubbles_sent=1, peers_trusted=1, state_lapsed=1, state_writes=1, peers_current=1))


def case_expired():
    path = state_path()
    run1_trust(path)
    res = C.run_relay([(70.5, C.f_native(C.ECHO_28))], ini=ini(path), label="state-expired")
    C.expect_count(res, 1, "a first-contact bubble")
    C.check_bubble(res.frames[0], A)
    C.check_stats(res, Exp().native_queued().add(bubbles_sent=1, peers_created=1, peers_current=1,
                                                 peers_pending=1, state_writes=1))
    lines = state_lines(res)
    check(any("1 expired" in ln for ln in lines), "no '1 expired' line: %r" % lines)


def case_negcache():
    path = state_path()
    res = C.run_relay([(0.0, C.f_native(C.ECHO_28))], ini=ini(path), label="state-neg1", drain=30)
    check(len(C.bubbles_in(res)) == 4, "run 1: %d bubbles, expected 4" % len(C.bubbles_in(res)))
    C.check_stats(res, Exp().add(bubbles_sent=4, peers_created=1, peers_unverified_removed=1,
                                 queued=1, to_control=1, icmp6_sent=1, state_writes=1)
                  .drop("tx_verify_failed"))
    res = C.run_relay([(20.0, C.f_native(C.ECHO_28))], ini=ini(path), label="state-neg2")
    C.expect_count(res, 1, "one Destination Unreachable, no bubble")
    C.check_icmp6_native(res.frames[0], 1, 3, 0, C.dec_hop(C.ECHO_28, 0), what="error for the echo")
    C.check_stats(res, Exp().add(to_control=1, icmp6_sent=1, state_writes=1)
                  .drop("tx_bubble_limit"))
    check(any("1 negative entries" in ln for ln in state_lines(res)),
          "run 2: no '1 negative entries' line: %r" % state_lines(res))


def answer_from_new_mapping(bubble_src, t):
    """A behind a symmetric NAT: its direct bubble arrives from 192.0.2.1:5000, not the
    embedded 4096, addressed to the relay's bubble source (RFC 6081 §5.2.4.4 proof)."""
    ip6 = C.ip6_bubble(A, C.ip6s(bubble_src))
    return (t, C.f_teredo(C.A_V4, 5000, ip6))


def case_resume():
    path = state_path()
    res = C.run_relay([(0.0, C.f_native(C.ECHO_28))], ini=ini(path), label="state-resume1")
    C.expect_count(res, 1, "run 1: one bubble")
    src = C.check_bubble(res.frames[0], A)
    C.check_stats(res, Exp().native_queued().add(bubbles_sent=1, peers_created=1, peers_current=1,
                                                 peers_pending=1, state_writes=1))
    saved = open(path, "rb").read()
    # The answer 1 s later, after the restart: the nonce is proven with the old key and epoch.
    res = C.run_relay([answer_from_new_mapping(src, 1.0)], ini=ini(path), label="state-resume2")
    C.expect_count(res, 0, "the bubble is consumed")
    C.check_stats(res, Exp().direct_bubble(1).add(nonce_accepted=1, peers_trusted=1, peers_current=1,
                                                  state_resumed=1, state_writes=1))
    # Unanswered, the resumed verification goes on: bubbles 2, 3, 4 at 2, 4, 6 s, give-up at 8 s.
    with open(path, "wb") as f:
        f.write(saved)
    res = C.run_relay([(1.0, C.f_tick())], ini=ini(path), label="state-resume3", drain=30)
    got = len(C.bubbles_in(res))
    check(got == 3, "resumed verification: %d more bubbles, expected 3 (4 in all)" % got)
    C.check_stats(res, Exp().ticks(1).add(bubbles_sent=3, peers_unverified_removed=1, state_resumed=1,
                                          state_writes=1))
    # Control: without the file the same answer is an unknown peer from a mapping that is not
    # the embedded one: the worker drops it (rx_mapping_mismatch).
    res = C.run_relay([answer_from_new_mapping(src, 1.0)], label="state-resume-nofile")
    C.check_stats(res, Exp().drop("rx_mapping_mismatch"))


def corrupt_variants(good):
    """(name, bytes, reason text in the log line) of files the relay must refuse whole."""
    flip = bytearray(good)
    flip[70] ^= 0x01
    future = bytearray(good)
    future[8:12] = struct.pack("<I", 99)
    foreign = bytearray(good)
    foreign[16:20] = struct.pack("<I", 0xC6336402)       # 198.51.100.2
    body = bytes(foreign[:-8])
    foreign = body + struct.pack("<Q", crc64_xz(body))
    return [("truncated", good[:len(good) - 5], "truncated"),
            ("flipped byte", bytes(flip), "checksum"),
            ("future version", bytes(future), "version"),
            ("foreign relay", foreign, "198.51.100.2:3545"),
            ("garbage", b"not a terelay state file at all" * 4, "not a state file"),
            ("empty", b"", "truncated"),
            ("too big", b"\0" * (4 * (1024 + 16) * 49 + 100), "too big")]


def crc64_xz(data):
    """CRC-64/XZ (ECMA-182 reflected), as lib/teredo/statefile.c, to forge a well-summed file."""
    poly = 0xC96C5795D7870F42
    crc = 0xFFFFFFFFFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (poly if crc & 1 else 0)
    return crc ^ 0xFFFFFFFFFFFFFFFF


def case_bad_files():
    path = state_path()
    run1_trust(path)
    good = open(path, "rb").read()
    small = "[peers]\ncapacity = 1024\npending_capacity = 64\nnegative_cache = 16\n"
    for name, data, reason in corrupt_variants(good):
        bad = state_path()
        with open(bad, "wb") as f:
            f.write(data)
        res = C.run_relay([(10.5, C.f_native(C.ECHO_28))], ini=ini(bad, small),
                          label="state-bad-" + name.replace(" ", "-"))
        lines = [ln for ln in state_lines(res) if "wrote" not in ln]
        check(len(lines) == 1, "%s: %d state lines at start, expected one: %r" % (name, len(lines), lines))
        check("starting empty" in lines[0] and reason in lines[0].lower(),
              "%s: line %r does not name %r and 'starting empty'" % (name, lines[0], reason))
        C.expect_count(res, 1, "%s: a first-contact bubble" % name)
        C.check_bubble(res.frames[0], A, what="%s: first contact" % name)
        C.check_stats(res, Exp().native_queued().add(bubbles_sent=1, peers_created=1, peers_current=1,
                                                     peers_pending=1, state_writes=1))
        print("   %-15s -> %s" % (name, lines[0]))


def case_write_error():
    path = "/nonexistent-terelay-dir-%d/state" % os.getpid()
    try:
        C.run_relay([(0.0, C.f_tick())], ini=ini(path), label="state-write-error")
    except Fail as e:
        msg = str(e)
        check("terelay exited 1" in msg, "expected exit status 1: %s" % msg[:400])
        check(re.search(r"terelay: state: cannot write %s: No such file or directory" % re.escape(path), msg),
              "no 'cannot write' line: %s" % msg[-800:])
        return
    raise Fail("terelay exited 0 although it could not write its state file")


CASES = {"state_restore": case_restore, "state_lapsed": case_lapsed, "state_expired": case_expired,
         "state_negcache": case_negcache, "state_resume": case_resume,
         "state_bad_files": case_bad_files, "state_write_error": case_write_error}


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
