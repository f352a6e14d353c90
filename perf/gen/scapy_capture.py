#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""A Teredo capture made with scapy, not tr_gen (docs/performance.md,
"Benchmarking any capture"): addresses as in the namespace testbed (relay
198.18.0.20:3544 and 2001:db8:6::20, server 198.18.0.10, native hosts in
2001:db8:6::/64), clients behind NATs at 203.0.113.x with RFC 5991 random flag
bits, some behind symmetric NATs (outer mapping != embedded one), ICMPv6
echo, TCP and UDP inside, bubbles with and without origin indication, ARP.
Nothing here comes from perf/common/tr_perf_addr.h, so tr_bench has to learn
the peers from the capture.

  scapy_capture.py --small OUT.pcap [--expect OUT.json]
      45 frames, every kind of outcome a known number of times; --expect
      writes what tr_bench must count (the perf-smoke test, tests nothing
      the relay code computes: the numbers follow from how the frames are built)
  scapy_capture.py --packets N [--clients K] [--seed S] OUT.pcap
      a benchmark capture: N frames over K clients
"""
import argparse
import ipaddress
import json
import random
import sys

from scapy.all import (ARP, ICMPv6EchoReply, ICMPv6EchoRequest, IP, IPv6, Ether, Raw, TCP, UDP,
                       conf, wrpcap)
from scapy.layers.inet6 import ICMPv6ND_RS

conf.verb = 0
RELAY4, RELAY_PORT = '198.18.0.20', 3544
RELAY6 = '2001:db8:6::20'
SERVER = '198.18.0.10'
HOST6 = '2001:db8:6::100'
MAC_RELAY, MAC_GW = '02:00:00:00:00:20', '02:00:00:00:00:fe'
BUBBLE_DST = 'fe80::8000:ffff:ffff:fffe'


def teredo_addr(server, flags, mapped_ip, mapped_port):
    """RFC 4380 §4: 2001:0000:server:flags:~port:~ipv4."""
    s = int(ipaddress.IPv4Address(server))
    c = int(ipaddress.IPv4Address(mapped_ip)) ^ 0xffffffff
    p = mapped_port ^ 0xffff
    v = (0x20010000 << 96) | (s << 64) | (flags << 48) | (p << 32) | c
    return str(ipaddress.IPv6Address(v))


class Client:
    def __init__(self, i, rng, symmetric=False):
        self.nat_ip = '203.0.113.%d' % (1 + i % 250) if i < 250 else '198.19.%d.%d' % (i // 250, 1 + i % 250)
        self.port = 1024 + rng.randrange(60000)
        self.flags = rng.randrange(0x10000) & 0x3cff     # RFC 5991 random bits, cone clear
        self.addr = teredo_addr(SERVER, self.flags, self.nat_ip, self.port)
        # Behind a symmetric NAT the relay sees another port than the server did.
        self.out_port = (self.port + 1 + rng.randrange(1000)) & 0xffff if symmetric else self.port
        self.out_port = self.out_port or 1


def to_relay(src_ip, sport, inner, dst=RELAY4, dport=RELAY_PORT, bad_csum=False):
    pkt = Ether(src=MAC_GW, dst=MAC_RELAY) / IP(src=src_ip, dst=dst, ttl=60) / UDP(sport=sport, dport=dport) / inner
    raw = bytearray(bytes(pkt))
    if bad_csum:
        raw[14 + 20 + 6] ^= 0x5a
    return bytes(raw)


def native(src, dst, l4, hlim=64):
    return bytes(Ether(src=MAC_GW, dst=MAC_RELAY) / IPv6(src=src, dst=dst, hlim=hlim) / l4)


def bubble(src, dst):
    return IPv6(src=src, dst=dst, nh=59, hlim=0, plen=0)


def origin(ip, port):
    """RFC 4380 §5.1.1 origin indication: 00 00 ~port ~ipv4."""
    return bytes([0, 0]) + (port ^ 0xffff).to_bytes(2, 'big') + \
        (int(ipaddress.IPv4Address(ip)) ^ 0xffffffff).to_bytes(4, 'big')


def small():
    """Every frame of a known kind; returns (frames, expected)."""
    rng = random.Random(7)
    cone = [Client(i, rng) for i in range(8)]
    sym = [Client(100 + i, rng, symmetric=True) for i in range(2)]
    only_native = [Client(200 + i, rng) for i in range(3)]
    F = []
    # First frame: sym[0] from a stray port (rx_mapping_mismatch below). It
    # comes first, but sym[0]'s two echo requests from its real NAT mapping
    # outnumber it: tr_bench learns the real mapping (D94).
    F.append(to_relay(sym[0].nat_ip, sym[0].out_port ^ 0x0100,
                      IPv6(src=sym[0].addr, dst=HOST6) / UDP(sport=5000, dport=53) / Raw(b's' * 30)))
    # 20 decapsulated: two echo requests from each client, from its NAT mapping
    for c in cone + sym:
        for seq in (1, 2):
            F.append(to_relay(c.nat_ip, c.out_port,
                              IPv6(src=c.addr, dst=HOST6) / ICMPv6EchoRequest(id=7, seq=seq, data=b'x' * 56)))
    # 13 encapsulated: a reply to each client, a TCP segment to three clients seen only here
    for c in cone + sym:
        F.append(native(HOST6, c.addr, ICMPv6EchoReply(id=7, seq=1, data=b'x' * 56)))
    for c in only_native:
        F.append(native(HOST6, c.addr, TCP(sport=443, dport=40000, flags='A') / Raw(b'y' * 100)))
    # 2 consumed: direct bubbles from two clients
    for c in cone[:2]:
        F.append(to_relay(c.nat_ip, c.port, bubble(c.addr, BUBBLE_DST)))
    # 3 to the control lcore: a bubble relayed by the server with an origin
    # indication, a native packet with hop limit 1 (Time Exceeded), an ARP request
    c = cone[2]
    F.append(to_relay(SERVER, 3544, Raw(origin(c.nat_ip, c.port)) / bubble(c.addr, BUBBLE_DST)))
    F.append(native(HOST6, cone[3].addr, ICMPv6EchoReply(id=7, seq=9), hlim=1))
    F.append(bytes(Ether(src=MAC_GW, dst='ff:ff:ff:ff:ff:ff') /
                   ARP(op=1, hwsrc=MAC_GW, psrc='198.18.0.1', pdst=RELAY4)))
    # 6 dropped, one of each reason
    c = cone[4]
    F.append(to_relay(c.nat_ip, c.port ^ 0x4000,                     # rx_mapping_mismatch
                      IPv6(src=c.addr, dst=HOST6) / UDP(sport=5000, dport=53) / Raw(b'q' * 30)))
    F.append(to_relay(c.nat_ip, c.port,                              # rx_bad_udp_csum
                      IPv6(src=c.addr, dst=HOST6) / UDP(sport=5000, dport=53) / Raw(b'q' * 30), bad_csum=True))
    F.append(native(HOST6, '2001:db8:7::1', ICMPv6EchoRequest()))    # tx_not_teredo
    F.append(to_relay(cone[5].nat_ip, cone[5].port,                  # rx_v4_not_for_relay (an RS to the server)
                      IPv6(src='fe80::8000:f227:bec4:e5a7', dst='ff02::2') / ICMPv6ND_RS(),
                      dst=SERVER, dport=3544))
    F.append(to_relay(cone[6].nat_ip, cone[6].port,                  # rx_dst_teredo (no hairpin)
                      IPv6(src=cone[6].addr, dst=cone[7].addr) / ICMPv6EchoRequest()))
    F.append(native(cone[7].addr, HOST6, ICMPv6EchoRequest()))       # tx_src_invalid (Teredo source on the native side)
    expected = {
        'frames': len(F),
        'relay': '%s:%d' % (RELAY4, RELAY_PORT),
        'learned': {'peers': 13, 'at_embedded': 8, 'at_other_mapping': 2, 'native_only': 3,
                    # seen with two mappings: the two symmetric-NAT clients (outer source
                    # and, as native destinations, the embedded one) and cone[4]
                    'conflicts': 3, 'origin_frames': 1},
        'pass_outcomes': {'rx_packets': len(F), 'fwd_native': 20, 'fwd_teredo': 13, 'consumed': 2,
                          'to_control': 3,
                          'drops': {'rx_mapping_mismatch': 2, 'rx_bad_udp_csum': 1, 'tx_not_teredo': 1,
                                    'rx_v4_not_for_relay': 1, 'rx_dst_teredo': 1, 'tx_src_invalid': 1}},
        # what control does with two of its three: answers the ARP, sends Time Exceeded
        'pass_control_min': {'arp_replies': 1, 'icmp6_sent': 1},
    }
    return F, expected


def bulk(n, nclients, seed):
    """n frames: 42 % decap, 42 % encap, 6 % direct bubbles, 2 % origin
    bubbles via the server, 8 % dropped (mapping mismatch, bad checksum,
    non-Teredo native destination); a tenth of the clients behind symmetric NATs."""
    rng = random.Random(seed)
    cl = [Client(i, rng, symmetric=(i % 10 == 9)) for i in range(nclients)]
    F = []
    for k in range(n):
        c = cl[rng.randrange(nclients)]
        r = rng.randrange(100)
        size = rng.choice((0, 56, 56, 56, 200, 1180))
        if r < 42:
            l4 = rng.choice((ICMPv6EchoRequest(id=k & 0xffff, seq=k & 0xffff, data=b'p' * size),
                             TCP(sport=40000 + k % 1000, dport=443, flags='A') / Raw(b't' * size),
                             UDP(sport=40000 + k % 1000, dport=53) / Raw(b'u' * max(size, 20))))
            F.append(to_relay(c.nat_ip, c.out_port, IPv6(src=c.addr, dst=HOST6) / l4))
        elif r < 84:
            l4 = rng.choice((ICMPv6EchoReply(id=k & 0xffff, seq=k & 0xffff, data=b'p' * size),
                             TCP(sport=443, dport=40000 + k % 1000, flags='PA') / Raw(b't' * size)))
            F.append(native(HOST6, c.addr, l4))
        elif r < 90:
            F.append(to_relay(c.nat_ip, c.out_port, bubble(c.addr, BUBBLE_DST)))
        elif r < 92:
            F.append(to_relay(SERVER, 3544, Raw(origin(c.nat_ip, c.out_port)) / bubble(c.addr, BUBBLE_DST)))
        elif r < 95:
            F.append(to_relay(c.nat_ip, c.out_port ^ 0x2000, IPv6(src=c.addr, dst=HOST6) / UDP(dport=53) / Raw(b'm' * 40)))
        elif r < 98:
            F.append(to_relay(c.nat_ip, c.out_port, IPv6(src=c.addr, dst=HOST6) / UDP(dport=53) / Raw(b'c' * 40),
                              bad_csum=True))
        else:
            F.append(native(HOST6, '2001:db8:%x::1' % (k % 4096), ICMPv6EchoRequest()))
    return F


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('out')
    ap.add_argument('--small', action='store_true')
    ap.add_argument('--expect', help='with --small: write the expected counts (JSON)')
    ap.add_argument('--packets', type=int, default=16384)
    ap.add_argument('--clients', type=int, default=1000)
    ap.add_argument('--seed', type=int, default=1)
    a = ap.parse_args()
    if a.small:
        frames, exp = small()
        if a.expect:
            with open(a.expect, 'w') as f:
                json.dump(exp, f, indent=1)
    else:
        frames = bulk(a.packets, a.clients, a.seed)
    # 1 ms apart from 1700000000 s, like a slow recording
    pkts = [Ether(b) for b in frames]
    for i, p in enumerate(pkts):
        p.time = 1700000000 + i / 1000
    wrpcap(a.out, pkts)
    print('scapy_capture: %s: %d frames' % (a.out, len(frames)), file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
