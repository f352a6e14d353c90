#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Seed corpus for fuzz_classify: one Ethernet frame per file.

Built with scapy (independent of the C builders) from the notes §6 fixture:
relay 198.51.100.1:3545, R6 2001:db8:ffff::1, served 2001:db8::/32, server
203.0.113.120, client A 2001:0:cb00:7178:0:efff:3fff:fdfe at 192.0.2.1:4096,
native host H 2001:db8::1. One seed per kind tr_classify returns and one per
drop reason it can decide, so the fuzzer starts from every branch.

File name = expected verdict: the drop reason name (drop or post_reason),
or the kind in lower case, then optionally "-detail".

Run with /usr/bin/python3 (has scapy); output is deterministic and committed:
    /usr/bin/python3 tests/fuzz/make_corpus.py
"""
import os
import struct
import sys

from scapy.all import ARP, IP, UDP, Dot1Q, Ether, IPv6, Raw  # noqa: E402
from scapy.layers.inet6 import (ICMPv6DestUnreach, ICMPv6EchoRequest, ICMPv6ND_NA,
                                ICMPv6ND_NS, ICMPv6NDOptDstLLAddr, ICMPv6NDOptSrcLLAddr)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "classify")

R4, RP = "198.51.100.1", 3545
R6 = "2001:db8:ffff::1"
H6 = "2001:db8::1"
A4, AP = "192.0.2.1", 4096
A6 = "2001:0:cb00:7178:0:efff:3fff:fdfe"
B6 = "2001:0:c633:6476:0:dfff:3fff:fdf5"
BSRC6 = "fe80::a0b2:c3d4:e5f6:718"          # relay bubble source, notes §2.8
NGC6 = "2001:0:cb00:7178:0:efff:f5ff:fffe"  # client 10.0.0.1 (T06)
NGS6 = "2001:0:a01:101:0:efff:3fff:fdfe"    # server 10.1.1.1 (T07)
LOOP6 = "2001:0:cb00:7178:0:f226:39cc:9bfe" # embeds 198.51.100.1:3545 (T19)
NBR6 = "fe80::2"
MAC_R = "02:00:00:00:00:01"
MAC_N = "02:00:00:00:00:02"


def eth(type_=None):
    e = Ether(dst=MAC_R, src=MAC_N)
    if type_ is not None:
        e.type = type_
    return e


def echo6(src, dst, hlim=64, data=b"abcdefgh"):
    """ICMPv6 echo request, id 0x1234 seq 1 (the §2.8 native packet)."""
    return IPv6(src=src, dst=dst, hlim=hlim) / ICMPv6EchoRequest(id=0x1234, seq=1, data=data)


def bubble(src=A6, dst=BSRC6):
    return IPv6(src=src, dst=dst, hlim=0, nh=59, plen=0)


def origin(ip, port):
    """RFC 4380 §5.1.1 origin indication: 00 00 ~port ~ipv4."""
    a = struct.unpack("!I", bytes(int(x) for x in ip.split(".")))[0]
    return struct.pack("!HHI", 0, port ^ 0xFFFF, a ^ 0xFFFFFFFF)


def teredo(payload, src=A4, sport=AP, dst=R4, dport=RP, **ipkw):
    """Ethernet / IPv4 (TTL 64, ID 0, DF 0) / UDP / raw Teredo payload."""
    ipkw.setdefault("id", 0)
    ipkw.setdefault("flags", 0)
    ipkw.setdefault("ttl", 64)
    return eth() / IP(src=src, dst=dst, **ipkw) / UDP(sport=sport, dport=dport) / Raw(bytes(payload))


def native(pkt):
    return eth() / pkt


def raw(pkt):
    return bytes(pkt)


def patch(b, off, new):
    b = bytearray(b)
    b[off:off + len(new)] = new
    return bytes(b)


def fix_ip_csum(b):
    """Recompute the IPv4 header checksum after patching the header."""
    ip = b[14:]
    ihl = (ip[0] & 0xF) * 4
    hdr = bytearray(ip[:ihl])
    hdr[10:12] = b"\0\0"
    s = sum(struct.unpack("!%dH" % (ihl // 2), bytes(hdr)))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return patch(b, 14 + 10, struct.pack("!H", ~s & 0xFFFF))


def frames():
    data = echo6(A6, H6)
    f = {}

    # ---- kinds
    f["teredo-data"] = raw(teredo(data))
    f["teredo-bubble"] = raw(teredo(bubble()))
    f["teredo-bubble_nonce_81"] = raw(teredo(raw(bubble()) + bytes.fromhex("0104deadbeef8102aabb")))
    f["teredo-origin"] = raw(teredo(origin("1.2.3.4", 337) + raw(data)))
    p = teredo(data)
    p[UDP].chksum = 0
    f["teredo-udp_csum0"] = raw(p)
    f["teredo-ipv4_options"] = raw(teredo(data, options=b"\x01\x01\x01\x01"))
    f["teredo-trailer_48"] = raw(teredo(raw(echo6(A6, H6, data=b"")) + bytes.fromhex("0104deadbeef")))
    f["native-echo"] = raw(native(echo6(H6, A6)))
    f["arp-request"] = raw(eth() / ARP(op=1, hwsrc=MAC_N, psrc="198.51.100.254", pdst=R4))
    f["nd-ns"] = raw(native(IPv6(src=NBR6, dst="ff02::1:ff00:1", hlim=255) /
                            ICMPv6ND_NS(tgt=R6) / ICMPv6NDOptSrcLLAddr(lladdr=MAC_N)))
    f["nd-na"] = raw(native(IPv6(src=NBR6, dst="ff02::1", hlim=255) /
                            ICMPv6ND_NA(tgt=NBR6, R=0, S=0, O=1) / ICMPv6NDOptDstLLAddr(lladdr=MAC_N)))
    f["local6-echo"] = raw(native(echo6(H6, R6)))
    f["v4_frag-first"] = raw(teredo(data, flags="MF"))

    # ---- layer 2
    f["eth_truncated"] = raw(eth())[:10]
    f["vlan_unexpected-vlan"] = raw(Ether(dst=MAC_R, src=MAC_N) / Dot1Q(vlan=7) / IP(src=A4, dst=R4))
    f["arp_malformed"] = raw(eth() / ARP(op=1, pdst=R4, hwtype=6, hwsrc=MAC_N, psrc="198.51.100.254"))
    f["arp_not_for_us"] = raw(eth() / ARP(op=1, hwsrc=MAC_N, psrc="198.51.100.254", pdst="198.51.100.2"))

    # ---- Teredo side, notes §3(b) order
    good = raw(teredo(data))
    f["rx_v4_truncated"] = good[:-1]
    f["rx_v4_bad_header"] = fix_ip_csum(patch(good, 14, b"\x55"))
    f["rx_v4_bad_csum"] = patch(good, 14 + 8, b"\x3f")
    f["rx_v4_not_for_relay"] = raw(teredo(data, dst="198.51.100.2"))
    f["rx_loop"] = raw(teredo(data, src=R4, sport=RP))
    f["rx_v4_not_udp"] = raw(eth() / IP(src=A4, dst=R4, id=0, flags=0, ttl=64, proto=6) / Raw(b"\0" * 20))
    f["rx_src_v4_not_global"] = raw(teredo(echo6(NGC6, H6), src="10.0.0.1"))
    f["rx_bad_udp_len"] = patch(good, 14 + 20 + 4, b"\x00\x07")
    f["rx_wrong_port"] = raw(teredo(data, dport=3544))
    f["rx_bad_udp_csum"] = patch(good, len(good) - 1, bytes([good[-1] ^ 0x40]))
    f["rx_bad_encap"] = raw(teredo(b"\x00\x02" + raw(data)))
    f["rx_auth_unexpected"] = raw(teredo(b"\x00\x01\x00\x00" + b"\x01" * 8 + b"\x00" + raw(data)))
    f["rx_bad_origin"] = raw(teredo(origin(R4, RP)[:5]))
    f["rx_bad_ipv6"] = raw(teredo(raw(data)[:39]))
    f["rx_trailer_discard"] = raw(teredo(raw(bubble()) + bytes.fromhex("41020102")))
    f["rx_src_not_teredo"] = raw(teredo(echo6("2001:db8::99", H6)))
    f["rx_dst_multicast"] = raw(teredo(echo6(A6, "ff0e::1")))
    f["rx_dst_not_global"] = raw(teredo(echo6(A6, "fe80::1")))
    f["rx_dst_teredo"] = raw(teredo(echo6(A6, B6)))
    f["rx_dst_not_served"] = raw(teredo(echo6(A6, "2001:db9::1")))
    f["rx_hop_limit"] = raw(teredo(echo6(A6, H6, hlim=1)))

    # ---- native side, notes §3(a) order
    nat = raw(native(echo6(H6, A6)))
    f["tx_bad_ipv6"] = nat[:-1]
    f["tx_dst_multicast"] = raw(native(echo6(H6, "ff0e::1")))
    f["tx_src_invalid"] = raw(native(echo6("::", A6, hlim=1)))
    f["tx_not_teredo"] = raw(native(echo6(H6, "2001:db8::99")))
    f["tx_client_not_global"] = raw(native(echo6(H6, NGC6)))
    f["tx_server_not_global"] = raw(native(echo6(H6, NGS6)))
    f["tx_loop"] = raw(native(echo6(H6, LOOP6)))
    f["tx_hop_limit"] = raw(native(echo6(H6, A6, hlim=1)))
    f["tx_hop_limit-icmp_error"] = raw(native(IPv6(src=H6, dst=A6, hlim=1) / ICMPv6DestUnreach() /
                                              raw(echo6(A6, H6))))
    f["tx_too_big"] = raw(native(echo6(H6, A6, data=b"x" * (1400 - 48))))
    f["nd_malformed"] = raw(native(IPv6(src=NBR6, dst="ff02::1:ff00:1", hlim=64) /
                                   ICMPv6ND_NS(tgt=R6) / ICMPv6NDOptSrcLLAddr(lladdr=MAC_N)))
    return f


def main():
    os.makedirs(OUT, exist_ok=True)
    f = frames()
    for name in os.listdir(OUT):
        if name not in f:
            os.unlink(os.path.join(OUT, name))
    for name, b in sorted(f.items()):
        assert isinstance(b, bytes) and b is not None, name
        with open(os.path.join(OUT, name), "wb") as fh:
            fh.write(b)
    print(f"{len(f)} seeds in {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
