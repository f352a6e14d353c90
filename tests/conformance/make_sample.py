#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""
Write the bundled demo capture app/terelay/demo/sample.pcap and its config
app/terelay/demo/replay.ini (the conformance fixture, notes §6).

The capture is deterministic (fixed epoch, seeded random payloads) and tells
the whole relay story in order, with realistic timestamps:

  - the IPv4 gateway ARPs for the relay, the IPv6 gateway solicits its address;
  - native hosts send to three Teredo clients (A and C behind server
    203.0.113.120, B behind 198.51.100.118): each packet is queued and an
    indirect bubble goes to the client's server;
  - A and C answer with direct bubbles (queues flushed), B answers with data;
  - traffic both ways: ICMPv6 echo, small UDP, a TCP handshake and data;
  - spoofs: a mapping mismatch, a non-Teredo inner source, a non-global
    outer IPv4, a native packet to a Teredo address embedding 10.0.0.1;
  - a datagram with a bad UDP checksum;
  - client D never answers: bubbles at +2, +4, +6 s and a give-up at +8 s
    (ICMPv6 Destination Unreachable to the native host), driven by clock
    "tick" frames (ethertype 0x88b5, counted as eth_unknown_type).

Usage: make_sample.py [--out-dir app/terelay/demo]   (default: next to the repo)
"""
import argparse
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import conformance as C  # noqa: E402
from scapy.all import ARP, Ether, ICMPv6ND_NS, ICMPv6NDOptSrcLLAddr, IPv6, Raw, TCP  # noqa: E402

SEED = 4380

# Native hosts
H1 = "2001:db8::1"
H2 = "2001:db8:1::20"
H3 = "2001:db8:2::30"
# Teredo clients: A and C behind S, B behind S2; D (behind S) never answers.
S2 = "198.51.100.118"
A, A_V4, A_PORT = C.A, C.A_V4, C.A_PORT
CL_C_V4, CL_C_PORT = "198.18.5.6", 50000
CL_C = C.teredo_addr(C.S, CL_C_PORT, CL_C_V4, flags=0x1402)
B, B_V4, B_PORT = C.B, "192.0.2.10", 8192
D_V4, D_PORT = "198.18.9.9", 6000
D = C.teredo_addr(C.S, D_PORT, D_V4, flags=0x0c31)


def tcp6(src, dst, sport, dport, flags, seq, ack=0, payload=b"", hlim=64):
    return bytes(IPv6(src=src, dst=dst, hlim=hlim) /
                 TCP(sport=sport, dport=dport, flags=flags, seq=seq, ack=ack, window=65000) /
                 Raw(payload))


def story():
    """The demo capture as a list of (seconds since start, frame bytes)."""
    rnd = random.Random(SEED)
    cap = C.Cap()
    rb = lambda n: bytes(rnd.getrandbits(8) for _ in range(n))  # noqa: E731

    # Neighbour resolution of the relay by both gateways.
    cap.add(0.000, bytes(Ether(dst="ff:ff:ff:ff:ff:ff", src=C.GW4_MAC) /
                         ARP(op=1, hwsrc=C.GW4_MAC, psrc="198.51.100.254", pdst=C.R4)))
    cap.add(0.012, bytes(Ether(dst="33:33:ff:00:00:01", src=C.GW6_MAC) /
                         IPv6(src="fe80::6", dst="ff02::1:ff00:1", hlim=255) /
                         ICMPv6ND_NS(tgt=C.R6) / ICMPv6NDOptSrcLLAddr(lladdr=C.GW6_MAC)))

    # First contact from the native side: queued, indirect bubbles.
    cap.add(1.000, C.f_native(C.ip6_echo(H1, A, seq=1, data=rb(32))))
    cap.add(1.041, C.f_native(C.ip6_udp(H2, CL_C, rb(24), sport=5001, dport=40001)))
    cap.add(1.087, C.f_native(tcp6(H3, B, 443, 50123, "S", 1000)))
    cap.add(1.130, C.f_native(C.ip6_echo(H1, D, seq=1, ident=0x4444, data=rb(16))))

    # Clients A and C answer with direct bubbles (their server forwarded ours).
    cap.add(1.212, C.f_teredo(A_V4, A_PORT, C.ip6_bubble(A, "fe80::a0b2:c3d4:e5f6:718")))
    cap.add(1.230, C.data_from_a(C.ip6_echo_reply(A, H1, seq=1, data=b"pong")))
    cap.add(1.266, C.f_teredo(CL_C_V4, CL_C_PORT, C.ip6_bubble(CL_C, "fe80::1234:5678:9abc:def0")))
    cap.add(1.301, C.f_teredo(CL_C_V4, CL_C_PORT, C.ip6_udp(CL_C, H2, rb(40), sport=40001, dport=5001)))
    # B answers with data straight away (SYN-ACK): accepted, trusted, queue flushed.
    cap.add(1.352, C.f_teredo(B_V4, B_PORT, tcp6(B, H3, 50123, 443, "SA", 7000, 1001)))
    cap.add(1.380, C.f_native(tcp6(H3, B, 443, 50123, "A", 1001, 7001)))
    cap.add(1.395, C.f_native(tcp6(H3, B, 443, 50123, "PA", 1001, 7001, rb(120))))
    cap.add(1.460, C.f_teredo(B_V4, B_PORT, tcp6(B, H3, 50123, 443, "A", 7001, 1121)))

    # Spoofs and junk.
    cap.add(1.500, C.f_teredo("192.0.2.99", A_PORT, C.ip6_udp(A, H1, b"spoof mapping")))
    cap.add(1.520, C.f_teredo(A_V4, A_PORT, C.ip6_udp("2001:db8:bad::1", H1, b"not teredo")))
    cap.add(1.540, C.f_teredo("10.0.0.1", 4096,
                              C.ip6_udp("2001:0:cb00:7178:0:efff:f5ff:fffe", H1, b"private")))
    cap.add(1.560, C.f_native(C.ip6_echo(H2, "2001:0:cb00:7178:0:efff:f5ff:fffe")))
    cap.add(1.580, C.data_from_a(C.ip6_udp(A, H1, b"bad checksum"), udp_csum=0x1234))

    # Ongoing traffic with trusted peers.
    for i in range(5):
        t = 2.0 + 0.5 * i
        cap.add(t, C.data_from_a(C.ip6_echo(A, H1, seq=10 + i, ident=0x7777, data=rb(24))))
        cap.add(t + 0.020, C.f_native(C.ip6_echo_reply(H1, A, seq=10 + i, ident=0x7777, data=rb(24))))
        cap.add(t + 0.140, C.f_native(C.ip6_udp(H2, CL_C, rb(rnd.randint(10, 200)),
                                                sport=5001, dport=40001)))

    # Clock: D never answers; bubbles at 3.13, 5.13, 7.13, give-up at 9.13.
    cap.ticks(4.75, 10.0, 0.25)
    return sorted(cap.frames, key=lambda x: x[0])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out-dir", default=os.path.join(HERE, "..", "..", "app", "terelay", "demo"))
    a = ap.parse_args()
    os.makedirs(a.out_dir, exist_ok=True)
    frames = story()
    C.write_pcap(os.path.join(a.out_dir, "sample.pcap"), frames)
    with open(os.path.join(a.out_dir, "replay.ini"), "w") as f:
        f.write(C.fixture_ini())
    print("wrote %d frames to %s" % (len(frames), os.path.join(a.out_dir, "sample.pcap")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
