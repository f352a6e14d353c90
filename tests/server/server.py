#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""
terelay Teredo server conformance: cases S01-S42 of teredo-server-notes.md §8,
replayed through the real terelay binary with the server role on
(P = 203.0.113.120, S = .121, C = 192.0.2.1, nonce N = 0123456789abcdef).

Each case writes an input capture, runs

  terelay <EAL args> -- -c CONFIG --replay IN.pcap --out OUT.pcap --stats-json STATS.json

(the harness of tests/conformance/conformance.py), then checks every output
frame byte for byte against an expected frame built here independently of
the C code (only the IPv4 identification and so the IPv4 header checksum
are taken from the output), and STATS.json: the expected drop reason or
server counter, every other drop reason zero, accounting_ok.

Run:  server.py --terelay PATH --case S01 | --all | --list
"""
import argparse
import os
import shutil
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "conformance"))

import conformance as C  # noqa: E402
from conformance import Fail, check, hx, ip4b, ip6b, ip6s, fold, sum16  # noqa: E402
from scapy.all import Ether, IPv6, ICMPv6EchoRequest, ICMPv6EchoReply, UDP, Raw  # noqa: E402

# The relay's generic output checks assume every IPv4 frame is the relay's own.
C.generic_checks = lambda res: None

P, S = "203.0.113.120", "203.0.113.121"
CL = "192.0.2.1"
OTHER_SRV = "198.51.100.118"
N = hx("0123456789abcdef")
L = "fe80::8000:f227:34ff:8e87"
R = "fe80::ffff:ffff:ffff"
K = "fe80::8000:5445:5245:444f"
X = "fe80::5445:5245:444f"
NATIVE = "2001:db8:1::2"

SERVER_INI = C.fixture_ini(extra="""
[server]
enabled = on
primary = 203.0.113.120
""")

# notes §2.5: the captured RS (IPv4, 89 bytes) and Miredo's RA (145 bytes)
RS_CAP = hx("""
45 00 00 59 b0 9d 00 00 3f 11 cc 7c c0 00 02 01 cb 00 71 78
10 00 0d d8 00 45 e3 47
00 01 00 00 5d ab 01 30 55 5f 85 f3 00
60 00 00 00 00 08 3a ff
fe 80 00 00 00 00 00 00 00 00 ff ff ff ff ff ff
ff 02 00 00 00 00 00 00 00 00 00 00 00 00 00 02
85 00 7d 37 00 00 00 00""")
RA_CAP = hx("""
45 00 00 91 05 e0 00 00 40 11 76 02 cb 00 71 78 c0 00 02 01
0d d8 10 00 00 7d e4 a9
00 01 00 00 5d ab 01 30 55 5f 85 f3 00
00 00 ef ff 3f ff fd fe
60 00 00 00 00 38 3a ff
fe 80 00 00 00 00 00 00 80 00 f2 27 34 ff 8e 87
fe 80 00 00 00 00 00 00 00 00 ff ff ff ff ff ff
86 00 95 4c 00 00 00 00 00 00 00 00 00 00 07 d0
03 04 40 40 ff ff ff ff ff ff ff ff 00 00 00 00
20 01 00 00 cb 00 71 78 00 00 00 00 00 00 00 00
05 01 00 00 00 00 05 00""")


def T(port, client=CL, server=P, flags=0):
    return C.teredo_addr(server, port, client, flags)


TC = T(4096)


def icmp6_sum(src, dst, msg):
    ph = ip6b(src) + ip6b(dst) + struct.pack("!IxxxB", len(msg), 58)
    return (~fold(sum16(ph + msg))) & 0xffff


def auth(nonce=N, idlen=0, aulen=0, conf=0):
    return b"\x00\x01" + bytes([idlen, aulen]) + b"\xaa" * (idlen + aulen) + nonce + bytes([conf])


def rs_ip6(src, dst="ff02::2", hlim=255, code=0, opts=b"", bad_csum=False):
    msg = bytes([133, code]) + b"\0\0" + b"\0\0\0\0" + opts
    ck = icmp6_sum(src, dst, msg) ^ (0x0100 if bad_csum else 0)
    msg = msg[:2] + struct.pack("!H", ck) + msg[4:]
    return struct.pack("!IHBB", 0x60000000, len(msg), 58, hlim) + ip6b(src) + ip6b(dst) + msg


def ra_payload(dst6, client, cport, nonce=N):
    """Expected RA UDP payload (notes §2.4), built from the table, not from the C template."""
    msg = bytearray(bytes([134, 0, 0, 0, 0, 0, 0, 0]) + b"\0\0\0\0" + struct.pack("!I", 2000))
    msg += bytes([3, 4, 64, 0x40]) + b"\xff" * 8 + b"\0" * 4 + ip6b("2001:0:cb00:7178::")
    msg += bytes([5, 1, 0, 0]) + struct.pack("!I", 1280)
    msg[2:4] = struct.pack("!H", icmp6_sum(L, dst6, bytes(msg)))
    ip6 = struct.pack("!IHBB", 0x60000000, len(msg), 58, 255) + ip6b(L) + ip6b(dst6) + bytes(msg)
    return (auth(nonce) if nonce is not None else b"") + C.origin_indication(client, cport) + ip6


def to_server(src_ip, sport, payload, dst_ip=P, dport=3544):
    return C.f_teredo(src_ip, sport, payload, dst_ip=dst_ip, dport=dport)


def exp_udp(frame_out, src, dst, dport, payload):
    """The frame terelay should send, with the output's IPv4 ID (any ID is right)."""
    ident = struct.unpack("!H", frame_out[18:20])[0] if len(frame_out) >= 20 else 0
    ulen = 8 + len(payload)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + ulen, ident, 0, 64, 17, 0, ip4b(src), ip4b(dst))
    ip = ip[:10] + struct.pack("!H", (~fold(sum16(ip))) & 0xffff) + ip[12:]
    udp = struct.pack("!HHHH", 3544, dport, ulen, 0) + payload
    ph = ip4b(src) + ip4b(dst) + struct.pack("!BBH", 0, 17, ulen)
    ck = (~fold(sum16(ph + udp))) & 0xffff or 0xffff
    udp = udp[:6] + struct.pack("!H", ck) + udp[8:]
    return bytes(Ether(dst=C.GW4_MAC, src=C.RELAY_MAC, type=0x0800)) + ip + udp


def exp_native(ip6):
    return bytes(Ether(dst=C.GW6_MAC, src=C.RELAY_MAC, type=0x86dd)) + ip6


def diff(a, b):
    for i in range(min(len(a), len(b))):
        if a[i] != b[i]:
            return "first difference at byte %d: got %02x, want %02x" % (i, a[i], b[i])
    return "lengths %d and %d" % (len(a), len(b))


def run(frames, want, drops=None, counters=None, label="server"):
    """frames: input frames; want: list of functions output_frame -> expected bytes
    (in order); drops: {reason: n}; counters: {name: n} of the srv_ ones."""
    res = C.run_relay([(0.001 * i, f) for i, f in enumerate(frames)], ini=SERVER_INI, label=label)
    out = res.frames
    check(len(out) == len(want), "%d output frames, want %d: %s" %
          (len(out), len(want), "; ".join(C.describe(f) for f in out)))
    for i, (fr, w) in enumerate(zip(out, want)):
        e = w(fr)
        check(fr == e, "output frame %d differs (%s)\n got  %s\n want %s" %
              (i, diff(fr, e), fr.hex(), e.hex()))
    st = res.stats
    drops = drops or {}
    for n in C.Env.drop_names:
        check(st["drops"].get(n, 0) == drops.get(n, 0),
              "drop %s = %s, want %d" % (n, st["drops"].get(n), drops.get(n, 0)))
    base = {"srv_rx": 0, "srv_ra_sent": 0, "srv_fwd_teredo": 0, "srv_fwd_native": 0, "srv_echo_replies": 0}
    base.update(counters or {})
    for k, v in base.items():
        check(st.get(k) == v, "%s = %s, want %d" % (k, st.get(k), v))
    check(st["rx_packets"] == len(frames), "rx_packets %s" % st["rx_packets"])
    check(st["tx_packets"] == len(out), "tx_packets %s" % st["tx_packets"])
    check(st["accounting_ok"] is True, "accounting_ok %r" % st["accounting_ok"])
    return res


def ra_case(payload, src_ip=CL, sport=4096, on=P, rs_src=R, from_=P, nonce=N, label="ra"):
    frames = [to_server(src_ip, sport, payload, dst_ip=on)]
    run(frames, [lambda fr: exp_udp(fr, from_, src_ip, sport, ra_payload(rs_src, src_ip, sport, nonce))],
        counters={"srv_rx": 1, "srv_ra_sent": 1}, label=label)


def drop_case(frame, reason, label="drop"):
    run([frame], [], drops={reason: 1}, counters={"srv_rx": 1}, label=label)


def fwd_case(frame, dst_ip, dport, payload, label="fwd"):
    run([frame], [lambda fr: exp_udp(fr, P, dst_ip, dport, payload)],
        counters={"srv_rx": 1, "srv_fwd_teredo": 1}, label=label)


def native_case(frame, ip6, label="native"):
    run([frame], [lambda fr: exp_native(ip6)], counters={"srv_rx": 1, "srv_fwd_native": 1}, label=label)


def echo(src, dst, plen=16, hlim=64):
    data = bytes((i * 5 + 1) & 0xff for i in range(plen - 8))
    return bytes(IPv6(src=src, dst=dst, hlim=hlim) / ICMPv6EchoRequest(id=0x4242, seq=7, data=data))


def bubble(src, dst, hlim=0):
    return C.ip6_bubble(src, dst, hlim)


TRAILER = hx("01 04 aa bb cc dd")
CASES = {}


def case(name):
    def deco(f):
        CASES[name] = f
        return f
    return deco


@case("S00_worked_pair")
def s00():
    """notes §2.5: the captured RS gives Miredo's RA byte for byte (IPv4 ID aside)"""
    frame = bytes(Ether(dst=C.RELAY_MAC, src=C.GW4_MAC, type=0x0800)) + RS_CAP

    def want(fr):
        ra = bytearray(RA_CAP)
        ra[4:6] = fr[18:20]
        ra[10:12] = b"\0\0"
        ra[10:12] = struct.pack("!H", (~fold(sum16(bytes(ra[:20])))) & 0xffff)
        return bytes(Ether(dst=C.GW4_MAC, src=C.RELAY_MAC, type=0x0800)) + bytes(ra)
    run([frame], [want], counters={"srv_rx": 1, "srv_ra_sent": 1}, label="S00")


@case("S01")
def s01():
    """RS from R with auth to P: RA from P"""
    ra_case(auth() + rs_ip6(R), label="S01")


@case("S02")
def s02():
    """RS from K (cone) to P: RA from S"""
    ra_case(auth() + rs_ip6(K), rs_src=K, from_=S, label="S02")


@case("S03")
def s03():
    """RS from R to S: RA from S, prefix still P"""
    ra_case(auth() + rs_ip6(R), on=S, from_=S, label="S03")


@case("S04")
def s04():
    """RS from K to S: RA from P"""
    ra_case(auth() + rs_ip6(K), on=S, rs_src=K, from_=P, label="S04")


@case("S05")
def s05():
    """RS from X (XP restricted) to P: RA from P, ICMPv6 checksum 0xaa72"""
    check(ra_payload(X, CL, 4096)[13 + 8 + 42:13 + 8 + 44] == hx("aa72"), "harness: csum")
    ra_case(auth() + rs_ip6(X), rs_src=X, label="S05")


@case("S06")
def s06():
    """RS with XP's 16-byte SLLA option (plen 24): options ignored"""
    ra_case(auth() + rs_ip6(X, opts=bytes([1, 2]) + b"\0" * 14), rs_src=X, label="S06")


@case("S07")
def s07():
    """RS without auth header: RA without one (104 bytes), never a stale nonce"""
    # An RS with a nonce first, then one without: the second RA carries none.
    frames = [to_server(CL, 4096, auth() + rs_ip6(R)), to_server(CL, 4097, rs_ip6(R))]
    run(frames, [lambda fr: exp_udp(fr, P, CL, 4096, ra_payload(R, CL, 4096)),
                 lambda fr: exp_udp(fr, P, CL, 4097, ra_payload(R, CL, 4097, nonce=None))],
        counters={"srv_rx": 2, "srv_ra_sent": 2}, label="S07")


@case("S08")
def s08():
    """RS with ID-len 4, AU-len 20: RA with ID 0, AU 0 and the nonce"""
    ra_case(auth(idlen=4, aulen=20) + rs_ip6(R), label="S08")


@case("S09")
def s09():
    """RS with confirmation byte 1: RA with conf 0"""
    ra_case(auth(conf=1) + rs_ip6(R), label="S09")


@case("S10")
def s10():
    """RS hop limit 64: dropped (RFC 4861 §6.1.1)"""
    drop_case(to_server(CL, 4096, auth() + rs_ip6(R, hlim=64)), "srv_rs_hop_limit", "S10")


@case("S11")
def s11():
    """RS with a bad ICMPv6 checksum: dropped"""
    drop_case(to_server(CL, 4096, auth() + rs_ip6(R, bad_csum=True)), "srv_rs_csum", "S11")


@case("S12")
def s12():
    """RS with ICMPv6 code 1: dropped"""
    drop_case(to_server(CL, 4096, auth() + rs_ip6(R, code=1)), "srv_rs_code", "S12")


@case("S13")
def s13():
    """RS with plen 4: dropped"""
    ip6 = bytearray(rs_ip6(R))[:44]
    ip6[5] = 4
    drop_case(to_server(CL, 4096, auth() + bytes(ip6)), "srv_rs_short", "S13")


@case("S14")
def s14():
    """RS from the global non-Teredo source 2001:db8::1: dropped (case 7)"""
    drop_case(to_server(CL, 4096, auth() + rs_ip6("2001:db8::1")), "srv_not_served", "S14")


@case("S15")
def s15():
    """RS unicast to the server link-local: dropped (case 7)"""
    drop_case(to_server(CL, 4096, auth() + rs_ip6(R, dst=L)), "srv_not_served", "S15")


@case("S16")
def s16():
    """RS with an RFC 6081 Nonce trailer: answered"""
    ra_case(auth() + rs_ip6(R) + TRAILER, label="S16")


@case("S17")
def s17():
    """RS from outer source 10.0.0.1: dropped (case 3)"""
    drop_case(to_server("10.0.0.1", 4096, auth() + rs_ip6(R)), "srv_src_not_global", "S17")


@case("S18")
def s18():
    """RS from S:3544 (spoofed self): dropped (loop)"""
    drop_case(to_server(S, 3544, auth() + rs_ip6(R)), "srv_loop", "S18")


@case("S19")
def s19():
    """30-byte payload (truncated IPv6): dropped (case 1)"""
    drop_case(to_server(CL, 4096, rs_ip6(R)[:30]), "srv_bad_ipv6", "S19")


@case("S20")
def s20():
    """IPv6 version 4: dropped"""
    ip6 = bytearray(rs_ip6(R))
    ip6[0] = 0x40
    drop_case(to_server(CL, 4096, auth() + bytes(ip6)), "srv_bad_ipv6", "S20")


@case("S21")
def s21():
    """plen larger than the bytes present: dropped"""
    ip6 = bytearray(rs_ip6(R))
    ip6[5] = 16
    drop_case(to_server(CL, 4096, auth() + bytes(ip6)), "srv_bad_ipv6", "S21")


@case("S22")
def s22():
    """RS from a Teredo source with the cone flag matching its mapping: RA to it, from S"""
    src = T(5071, flags=0x8000)
    ra_case(auth() + rs_ip6(src), sport=5071, rs_src=src, from_=S, label="S22")


@case("S23")
def s23():
    """bubble between two clients of P: to C:5021 from P:3544 with origin C:5020"""
    b = bubble(T(5020), T(5021))
    check(C.origin_indication(CL, 5020) == hx("0000 ec63 3ffffdfe"), "harness: origin")
    fwd_case(to_server(CL, 5020, b), CL, 5021, C.origin_indication(CL, 5020) + b, "S23")


@case("S24")
def s24():
    """bubble to a client of another server: forwarded, no origin"""
    b = bubble(T(5022), T(5023, server=OTHER_SRV))
    fwd_case(to_server(CL, 5022, b), CL, 5023, b, "S24")


@case("S25")
def s25():
    """bubble whose Teredo source does not match the outer source: dropped"""
    drop_case(to_server(CL, 5024, bubble(T(6000), T(5025))), "srv_mapping_mismatch", "S25")


@case("S26")
def s26():
    """Teredo source of another server, matching mapping: forwarded with origin"""
    b = bubble(T(5026, server=OTHER_SRV), T(5027))
    fwd_case(to_server(CL, 5026, b), CL, 5027, C.origin_indication(CL, 5026) + b, "S26")


@case("S27")
def s27():
    """bubble with a Nonce trailer: forwarded with the trailer (54 bytes)"""
    b = bubble(T(5028), T(5029))
    p = C.origin_indication(CL, 5028) + b + TRAILER
    check(len(p) == 54, "harness: 54")
    fwd_case(to_server(CL, 5028, b + TRAILER), CL, 5029, p, "S27")


@case("S28")
def s28():
    """bubble to a Teredo address embedding 10.0.0.5: dropped"""
    drop_case(to_server(CL, 5030, bubble(T(5030), T(5031, client="10.0.0.5"))),
              "srv_dst_v4_not_global", "S28")


@case("S29")
def s29():
    """relay-style link-local bubble (hop limit 0) to a client: origin = outer source"""
    b = bubble("fe80::1234:5678:9abc:def0", T(5033))
    fwd_case(to_server("198.51.100.7", 3544, b), CL, 5033,
             C.origin_indication("198.51.100.7", 3544) + b, "S29")


@case("S30")
def s30():
    """native source echo request to a client of P: forwarded with origin"""
    e = echo("2001:db8:1::2", T(5035))
    fwd_case(to_server("198.51.100.7", 3544, e), CL, 5035,
             C.origin_indication("198.51.100.7", 3544) + e, "S30")


@case("S31")
def s31():
    """native source to a client of another server: dropped (case 7)"""
    drop_case(to_server("198.51.100.7", 3544, echo(NATIVE, T(5037, server=OTHER_SRV))),
              "srv_not_served", "S31")


@case("S32")
def s32():
    """client echo request to native, plen 26: sent natively, unchanged"""
    e = echo(TC, NATIVE, plen=26, hlim=128)
    native_case(to_server(CL, 4096, e + TRAILER), e, "S32")


@case("S33")
def s33():
    """client echo request to native, plen 89: forwarded (no 88-byte cap)"""
    e = echo(TC, NATIVE, plen=89)
    native_case(to_server(CL, 4096, e), e, "S33")


@case("S34")
def s34():
    """client echo request to another client, plen 108: over UDP with origin"""
    e = echo(TC, T(5047), plen=108)
    fwd_case(to_server(CL, 4096, e), CL, 5047, C.origin_indication(CL, 4096) + e, "S34")


@case("S35")
def s35():
    """UDP from a client to native: dropped (case 2)"""
    drop_case(to_server(CL, 4096, C.ip6_udp(TC, NATIVE)), "srv_not_icmp6", "S35")


@case("S36")
def s36():
    """echo request to ff0e::1: dropped"""
    drop_case(to_server(CL, 4096, echo(TC, "ff0e::1")), "srv_dst_not_global", "S36")


@case("S37")
def s37():
    """echo request to the server link-local: echo reply from L over UDP from P"""
    req = echo(TC, L)
    data = bytes((i * 5 + 1) & 0xff for i in range(8))
    rep = bytes(IPv6(src=L, dst=TC, hlim=64) / ICMPv6EchoReply(id=0x4242, seq=7, data=data))
    run([to_server(CL, 4096, req)], [lambda fr: exp_udp(fr, P, CL, 4096, rep)],
        counters={"srv_rx": 1, "srv_echo_replies": 1}, label="S37")


@case("S38")
def s38():
    """a router advertisement from R to ff02::2: dropped"""
    ip6 = bytearray(rs_ip6(R))
    ip6[40] = 134
    drop_case(to_server(CL, 4096, auth() + bytes(ip6)), "srv_not_served", "S38")


@case("S39")
def s39():
    """client echo request to native received on S: forwarded natively"""
    e = echo(TC, NATIVE, plen=26)
    native_case(to_server(CL, 4096, e, dst_ip=S), e, "S39")


@case("S40")
def s40():
    """bubble received on S: forwarded from P with origin"""
    b = bubble(T(5052), T(5053))
    fwd_case(to_server(CL, 5052, b, dst_ip=S), CL, 5053, C.origin_indication(CL, 5052) + b, "S40")


@case("S41")
def s41():
    """case-6 packet to T(P:3544): dropped before sending (loop)"""
    drop_case(to_server(CL, 5054, bubble("fe80::1", T(3544, client=P))), "srv_tx_loop", "S41")


@case("S42")
def s42():
    """RFC 6081 echo test: RS(N1) from C:7000 to P, RS(N2) from C:7002 to S, answered separately"""
    n1, n2 = hx("1111111111111111"), hx("2222222222222222")
    frames = [to_server(CL, 7000, auth(n1) + rs_ip6(R)), to_server(CL, 7002, auth(n2) + rs_ip6(R), dst_ip=S)]
    run(frames, [lambda fr: exp_udp(fr, P, CL, 7000, ra_payload(R, CL, 7000, n1)),
                 lambda fr: exp_udp(fr, S, CL, 7002, ra_payload(R, CL, 7002, n2))],
        counters={"srv_rx": 2, "srv_ra_sent": 2}, label="S42")


@case("server_dispatch")
def dispatch():
    """dispatch by address and port: P:3545 and R4:3544 stay the relay's, S:3544 is the server's"""
    frames = [to_server(CL, 4096, auth() + rs_ip6(R), dst_ip=P, dport=3545),
              to_server(CL, 4096, auth() + rs_ip6(R), dst_ip=C.R4, dport=3544),
              to_server(CL, 4096, auth() + rs_ip6(R), dst_ip=S)]
    run(frames, [lambda fr: exp_udp(fr, S, CL, 4096, ra_payload(R, CL, 4096))],
        drops={"rx_v4_not_for_relay": 1, "rx_wrong_port": 1},
        counters={"srv_rx": 1, "srv_ra_sent": 1}, label="dispatch")


@case("server_fragment")
def fragment():
    """an IPv4 fragment to P: dropped as srv_fragment; bad UDP checksum as srv_bad_udp"""
    f = bytearray(to_server(CL, 4096, auth() + rs_ip6(R)))
    f[14 + 6] = 0x20
    f[14 + 10:14 + 12] = b"\0\0"
    f[14 + 10:14 + 12] = struct.pack("!H", (~fold(sum16(bytes(f[14:34])))) & 0xffff)
    g = bytearray(to_server(CL, 4096, auth() + rs_ip6(R)))
    g[14 + 26] ^= 0x55
    run([bytes(f), bytes(g)], [], drops={"srv_fragment": 1, "srv_bad_udp": 1},
        counters={"srv_rx": 2}, label="fragment")


@case("server_arp")
def arp():
    """ARP for P and S is answered with the port's MAC (the relay's own address as before)"""
    from scapy.all import ARP

    def req(ip):
        return bytes(Ether(dst="ff:ff:ff:ff:ff:ff", src=C.GW4_MAC) /
                     ARP(op=1, hwsrc=C.GW4_MAC, psrc=CL, pdst=ip))

    def rep(ip):
        return lambda fr: bytes(Ether(dst=C.GW4_MAC, src=C.RELAY_MAC) /
                                ARP(op=2, hwsrc=C.RELAY_MAC, psrc=ip, hwdst=C.GW4_MAC, pdst=CL))
    res = run([req(P), req(S), req(C.R4), req("203.0.113.122")], [rep(P), rep(S), rep(C.R4)],
              drops={"arp_not_for_us": 1}, label="arp")
    check(res.stats["arp_replies"] == 3, "arp_replies %s" % res.stats["arp_replies"])


@case("server_only")
def server_only():
    """[relay] enabled = false: the server answers; relay traffic is dropped as srv_relay_off"""
    ini = C.fixture_ini(extra="\n[server]\nenabled = on\nprimary = 203.0.113.120\n").replace(
        "[relay]\n", "[relay]\nenabled = false\n")
    frames = [to_server(CL, 4096, auth() + rs_ip6(R)),
              C.f_ipv4(C.DIRECT_BUBBLE_28),                     # Teredo to the relay's address
              C.f_native(C.ECHO_28)]                            # native to a Teredo address
    res = C.run_relay([(0.001 * i, f) for i, f in enumerate(frames)], ini=ini, label="srvonly")
    check(len(res.frames) == 1, "%d output frames, want 1" % len(res.frames))
    e = exp_udp(res.frames[0], P, CL, 4096, ra_payload(R, CL, 4096))
    check(res.frames[0] == e, "RA differs (%s)" % diff(res.frames[0], e))
    for n in C.Env.drop_names:
        want = 2 if n == "srv_relay_off" else 0
        check(res.stats["drops"][n] == want, "drop %s = %s, want %d" % (n, res.stats["drops"][n], want))
    check(res.stats["srv_ra_sent"] == 1 and res.stats["peers_created"] == 0, "counters")
    check(res.stats["accounting_ok"] is True, "accounting")


@case("server_multiworker")
def multiworker():
    """a worker beside control (-l 0,1): 16 RSes on P and S, every RA right, counters summed over lcores"""
    frames, want = [], set()
    for i in range(16):
        port, on = 7000 + i, (P if i % 2 == 0 else S)
        nonce = bytes([i]) * 8
        frames.append((0.001 * i, to_server(CL, port, auth(nonce) + rs_ip6(R), dst_ip=on)))
        want.add((on, port, ra_payload(R, CL, port, nonce)))
    res = C.run_relay(frames, ini=SERVER_INI, lcores="0,1", label="srvmw")
    got = set()
    for fr in res.frames:
        port = struct.unpack("!H", fr[14 + 22:14 + 24])[0]
        src = C.ip4s(fr[14 + 12:14 + 16])
        e = exp_udp(fr, src, CL, port, bytes(fr[14 + 28:]))
        check(fr == e, "RA to port %d: headers differ (%s)" % (port, diff(fr, e)))
        got.add((src, port, bytes(fr[14 + 28:])))
    check(got == want, "RAs differ: missing %d, unexpected %d" % (len(want - got), len(got - want)))
    check(res.stats["srv_ra_sent"] == 16 and res.stats["srv_rx"] == 16, "srv counters")
    check(sum(res.stats["drops"].values()) == 0, "drops %s" % {k: v for k, v in res.stats["drops"].items() if v})
    check(res.stats["accounting_ok"] is True, "accounting")


@case("server_ratelimit")
def ratelimit():
    """rs_rate/rs_burst per source IPv4 and fwd_rate/fwd_burst per destination IPv4"""
    ini = SERVER_INI + "rs_rate = 1\nrs_burst = 3\nfwd_rate = 1\nfwd_burst = 2\n"
    frames = [(0.01 * i, to_server(CL, 4000 + i, auth() + rs_ip6(R))) for i in range(6)]
    frames.append((0.2, to_server("198.51.100.9", 4000, auth() + rs_ip6(R))))   # other source
    frames.append((1.5, to_server(CL, 4010, auth() + rs_ip6(R))))             # one token back
    b = bubble(T(5020), T(5021))
    frames += [(2.0 + 0.01 * i, to_server(CL, 5020, b)) for i in range(4)]
    res = C.run_relay(frames, ini=ini, label="ratelimit")
    ports = [struct.unpack("!H", fr[14 + 22:14 + 24])[0] for fr in res.frames]
    check(ports == [4000, 4001, 4002, 4000, 4010, 5021, 5021], "RA/forward ports %s" % ports)
    d = {k: v for k, v in res.stats["drops"].items() if v}
    check(d == {"srv_rs_ratelimited": 3, "srv_fwd_ratelimited": 2}, "drops %s" % d)
    check(res.stats["srv_ra_sent"] == 5 and res.stats["srv_fwd_teredo"] == 2, "srv counters")
    check(res.stats["accounting_ok"] is True, "accounting")


@case("server_combined_bubble")
def combined_bubble():
    """combined box: the relay's indirect bubble to a client of P goes out as P would forward it"""
    # Native H -> A (a client of P = 203.0.113.120): the relay queues and bubbles. Without the
    # server role the bubble goes to P:3544; with it, to A's mapping from P:3544 with an origin
    # indication of the relay (198.51.100.1:3545).
    res = C.run_relay([(0.0, C.f_native(C.ECHO_28))], ini=SERVER_INI, label="combined")
    check(len(res.frames) == 1, "%d output frames, want 1" % len(res.frames))
    fr = res.frames[0]
    ip = fr[14:]
    check(C.ip4s(ip[12:16]) == P and C.ip4s(ip[16:20]) == CL, "addresses %s -> %s" % (C.ip4s(ip[12:16]), C.ip4s(ip[16:20])))
    check(struct.unpack("!HH", ip[20:24]) == (3544, 4096), "ports %s" % (struct.unpack("!HH", ip[20:24]),))
    check(C.ipv4_hdr_ok(ip) and C.udp4_ok(ip), "checksums")
    pl = ip[28:]
    check(pl[:8] == C.origin_indication(C.R4, C.RP), "origin %s" % pl[:8].hex())
    b = pl[8:]
    check(len(b) == 46 and b[:8] == hx("60000000 00003b00") and ip6s(b[24:40]) == C.A and
          b[8:16] == hx("fe80000000000000") and b[40:42] == hx("0104"),
          "bubble %s" % b.hex())
    check(res.stats["bubbles_sent"] == 1 and res.stats["queued"] == 1, "relay counters")


# Amplification (docs/security.md): reply bytes / request bytes of every request type the
# server answers or forwards, from the frames a replay really sent. AMP_MAX_IP and AMP_MAX_ETH
# are the documented worst case (the smallest RS, without auth header, and its 104-byte-payload
# RA): 132 / 76 IPv4 bytes, 146 / 90 Ethernet bytes (frame without FCS).
AMP_MAX_IP = 132 / 76
AMP_MAX_ETH = 146 / 90


def amp_requests():
    """(name, request frame, expected reply frame function, reply IP bytes, reply is IPv4)."""
    T5 = T(5020)
    b = bubble(T5, T(5021))
    b_other = bubble(T(5022), T(5023, server=OTHER_SRV))
    e_fwd = echo("2001:db8:1::2", T(5035))
    e_nat = echo(TC, NATIVE, plen=26, hlim=128)
    e_ll = echo(TC, L)
    data = bytes((i * 5 + 1) & 0xff for i in range(8))
    rep_ll = bytes(IPv6(src=L, dst=TC, hlim=64) / ICMPv6EchoReply(id=0x4242, seq=7, data=data))
    oi = C.origin_indication(CL, 4200)
    return [
        ("RS, no auth header (48-byte payload) -> RA (104)", to_server(CL, 4100, rs_ip6(R)),
         lambda fr: exp_udp(fr, P, CL, 4100, ra_payload(R, CL, 4100, nonce=None))),
        ("RS with auth header (61) -> RA with auth (117)", to_server(CL, 4101, auth() + rs_ip6(R)),
         lambda fr: exp_udp(fr, P, CL, 4101, ra_payload(R, CL, 4101))),
        ("cone RS with auth to P -> RA from S", to_server(CL, 4102, auth() + rs_ip6(K)),
         lambda fr: exp_udp(fr, S, CL, 4102, ra_payload(K, CL, 4102))),
        ("RS with auth ID-len 4 AU-len 20 (85) -> RA (117)",
         to_server(CL, 4103, auth(idlen=4, aulen=20) + rs_ip6(R)),
         lambda fr: exp_udp(fr, P, CL, 4103, ra_payload(R, CL, 4103))),
        ("RS with auth + origin indication (69) -> RA (117)",
         to_server(CL, 4200, auth() + oi + rs_ip6(R)),
         lambda fr: exp_udp(fr, P, CL, 4200, ra_payload(R, CL, 4200))),
        ("RS without auth + XP SLLA option (64) -> RA (104)",
         to_server(CL, 4104, rs_ip6(X, opts=bytes([1, 2]) + b"\0" * 14)),
         lambda fr: exp_udp(fr, P, CL, 4104, ra_payload(X, CL, 4104, nonce=None))),
        ("bubble to a client of P (40) -> with origin (48)", to_server(CL, 5020, b),
         lambda fr: exp_udp(fr, P, CL, 5021, C.origin_indication(CL, 5020) + b)),
        ("bubble to a client of another server (40) -> no origin (40)", to_server(CL, 5022, b_other),
         lambda fr: exp_udp(fr, P, CL, 5023, b_other)),
        ("bubble + nonce trailer (46) -> with origin (54)", to_server(CL, 5020, b + TRAILER),
         lambda fr: exp_udp(fr, P, CL, 5021, C.origin_indication(CL, 5020) + b + TRAILER)),
        ("echo request native -> client of P (56) -> with origin (64)",
         to_server("198.51.100.7", 3544, e_fwd),
         lambda fr: exp_udp(fr, P, CL, 5035, C.origin_indication("198.51.100.7", 3544) + e_fwd)),
        ("client echo request -> native (66 + trailer) -> native IPv6 (66)",
         to_server(CL, 4096, e_nat + TRAILER), lambda fr: exp_native(e_nat)),
        ("echo request to the server link-local (56) -> echo reply (56)", to_server(CL, 4096, e_ll),
         lambda fr: exp_udp(fr, P, CL, 4096, rep_ll)),
    ]


# Expected (request, reply) Ethernet frame bytes of amp_requests(), in order.
AMP_BYTES = [(90, 146), (103, 159), (103, 159), (127, 159), (111, 159), (106, 146),
             (82, 90), (82, 82), (88, 96), (98, 106), (114, 80), (98, 98)]


@case("server_amplification")
def amplification():
    """reply/request bytes of every answered or forwarded type stay <= the documented figure"""
    reqs = amp_requests()
    frames = [r[1] for r in reqs]
    res = run(frames, [r[2] for r in reqs],
              counters={"srv_rx": len(reqs), "srv_ra_sent": 6, "srv_fwd_teredo": 4, "srv_fwd_native": 1,
                        "srv_echo_replies": 1}, label="amplification")
    rows = []
    for (name, req, _), rep in zip(reqs, res.frames):
        ip_req, ip_rep = len(req) - 14, len(rep) - 14
        rows.append((name, len(req), len(rep), ip_req, ip_rep))
    got = [(r[1], r[2]) for r in rows]
    check(got == AMP_BYTES, "frame bytes (request, reply) %s, want %s" % (got, AMP_BYTES))
    worst_ip = max(r[4] / r[3] for r in rows)
    worst_eth = max(r[2] / r[1] for r in rows)
    check(worst_ip <= AMP_MAX_IP + 1e-9, "IP amplification %.4f > documented %.4f" % (worst_ip, AMP_MAX_IP))
    check(worst_eth <= AMP_MAX_ETH + 1e-9,
          "Ethernet amplification %.4f > documented %.4f" % (worst_eth, AMP_MAX_ETH))
    lines = ["| request -> reply | request frame B | reply frame B | factor (frame) | "
             "request IP B | reply IP B | factor (IP) | factor on the wire (+24 B: preamble, FCS, gap) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, eq, er, iq, ir in rows:
        lines.append("| %s | %d | %d | %.3f | %d | %d | %.3f | %.3f |" % (
            name, eq, er, er / eq, iq, ir, ir / iq, (er + 24) / (eq + 24)))
    print("\n".join(lines))
    out = os.environ.get("TR_AMP_OUT")
    if out:
        with open(out, "w") as f:
            f.write("\n".join(lines) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--terelay")
    ap.add_argument("--case", action="append")
    ap.add_argument("--all", action="store_true")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    if a.list:
        for k, f in CASES.items():
            print("%-18s %s" % (k, (f.__doc__ or "").strip().splitlines()[0]))
        return 0
    names = list(CASES) if a.all else (a.case or [])
    if not names:
        ap.error("give --case NAME or --all")
    C.Env.terelay = os.path.abspath(a.terelay) if a.terelay else None
    C.Env.verbose = a.verbose
    C.Env.drop_names = C.load_drop_names()
    failed = []
    for n in names:
        if n not in CASES:
            ap.error("unknown case %s" % n)
        del C._dirs[:]
        try:
            CASES[n]()
        except Fail as e:
            print("FAIL %s: %s" % (n, e))
            failed.append(n)
            continue
        print("PASS %s" % n)
        if not a.keep:
            for d in C._dirs:
                shutil.rmtree(d, ignore_errors=True)
    if len(names) > 1:
        print("%d passed, %d failed%s" % (len(names) - len(failed), len(failed),
                                          (": " + " ".join(failed)) if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
