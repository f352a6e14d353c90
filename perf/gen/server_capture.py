#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Benchmark captures for the Teredo server role (docs/performance.md, "Server role").

Byte templates, no scapy (scapy manages a few thousand packets per second):

  rs      router solicitations from --clients sources (IPv4 11.0.0.0 + i, port 1024 + ...)
          to P:3544 and S:3544, in the forms teredo-server-notes §2.1/§2.2 give, cycling:
          restricted fe80::ffff:ffff:ffff with auth header (Vista/Miredo), the same without
          auth (48-byte payload), cone fe80::8000:5445:5245:444f with auth, XP restricted
          fe80::5445:5245:444f with auth; one in four sent to S. Every RS is answered.
  bubble  bubbles T(C_i) -> T(C_j), both Teredo addresses of this server (server field P),
          sent from C_i's embedded mapping to P:3544: forwarded over UDP to C_j from P with
          an origin indication (notes §3.2).
  mixed   --relay-pcap (a tr_gen capture for the relay) with one RS (of the rs list) after
          every --every relay frames.

  server_capture.py --kind rs --clients 4096 --packets 65536 --out rs.pcap
  server_capture.py --kind mixed --relay-pcap decap.pcap --every 4 --out mix.pcap

Frames go from 02:00:00:00:00:11 to net_pcap's 02:70:63:61:70:00 (tr_bench's port MAC).
"""
import argparse
import socket
import struct

P_DEFAULT = '203.0.113.120'
DST_MAC = bytes.fromhex('027063617000')
SRC_MAC = bytes.fromhex('020000000011')
R = 'fe80::ffff:ffff:ffff'
K = 'fe80::8000:5445:5245:444f'
X = 'fe80::5445:5245:444f'


def fold(s):
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return s


def sum16(b):
    if len(b) % 2:
        b += b'\0'
    return sum(struct.unpack('!%dH' % (len(b) // 2), b))


def ip4(a):
    return socket.inet_aton(a)


def ip6(a):
    return socket.inet_pton(socket.AF_INET6, a)


def client(i):
    """Client i: mapped IPv4 (11.0.0.0 + i, global), port."""
    return struct.pack('!I', (11 << 24) + i), 1024 + (i * 7919) % 64000


def teredo(server4, c4, port, flags=0):
    return (b'\x20\x01\x00\x00' + server4 + struct.pack('!H', flags) +
            struct.pack('!H', port ^ 0xffff) + bytes(x ^ 0xff for x in c4))


def icmp6(src, dst, msg):
    ph = src + dst + struct.pack('!IxxxB', len(msg), 58)
    ck = (~fold(sum16(ph + msg))) & 0xffff
    return msg[:2] + struct.pack('!H', ck) + msg[4:]


def rs_ip6(src):
    dst = ip6('ff02::2')
    msg = icmp6(src, dst, bytes([133, 0, 0, 0, 0, 0, 0, 0]))
    return struct.pack('!IHBB', 0x60000000, len(msg), 58, 255) + src + dst + msg


def auth(nonce):
    return b'\x00\x01\x00\x00' + nonce + b'\x00'


def udp4_frame(src4, sport, dst4, dport, payload, ttl=64):
    ulen = 8 + len(payload)
    udp = struct.pack('!HHHH', sport, dport, ulen, 0) + payload
    ph = src4 + dst4 + struct.pack('!BBH', 0, 17, ulen)
    ck = (~fold(sum16(ph + udp))) & 0xffff or 0xffff
    udp = udp[:6] + struct.pack('!H', ck) + udp[8:]
    hdr = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + ulen, 0, 0, ttl, 17, 0, src4, dst4)
    hdr = hdr[:10] + struct.pack('!H', (~fold(sum16(hdr))) & 0xffff) + hdr[12:]
    return DST_MAC + SRC_MAC + b'\x08\x00' + hdr + udp


RS_FORMS = [('R+auth', R, True), ('R', R, False), ('K+auth', K, True), ('X+auth', X, True)]


def rs_frames(n, clients, P, S):
    out = []
    for k in range(n):
        i = k % clients
        c4, port = client(i)
        name, src, has_auth = RS_FORMS[k % len(RS_FORMS)]
        nonce = struct.pack('!Q', (k * 0x9e3779b97f4a7c15) & 0xffffffffffffffff)
        pl = (auth(nonce) if has_auth else b'') + rs_ip6(ip6(src))
        dst = S if (k // len(RS_FORMS)) % 4 == 3 else P
        out.append(udp4_frame(c4, port, dst, 3544, pl))
    return out


def bubble_frames(n, clients, P):
    out = []
    for k in range(n):
        i, j = k % clients, (k * 31 + 1) % clients
        if j == i:
            j = (i + 1) % clients
        ci, pi = client(i)
        cj, pj = client(j)
        b = struct.pack('!IHBB', 0x60000000, 0, 59, 0) + teredo(P, ci, pi) + teredo(P, cj, pj)
        out.append(udp4_frame(ci, pi, P, 3544, b))
    return out


def read_pcap(path):
    with open(path, 'rb') as f:
        data = f.read()
    if struct.unpack('<I', data[:4])[0] not in (0xa1b2c3d4, 0xa1b23c4d):
        raise SystemExit('%s: little-endian pcap expected (tr_gen writes one)' % path)
    off, out = 24, []
    while off + 16 <= len(data):
        incl = struct.unpack_from('<IIII', data, off)[2]
        out.append(data[off + 16:off + 16 + incl])
        off += 16 + incl
    return out


def write_pcap(path, frames):
    with open(path, 'wb') as f:
        f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for k, fr in enumerate(frames):
            t = 1700000000 * 1000000 + k
            f.write(struct.pack('<IIII', t // 1000000, t % 1000000, len(fr), len(fr)) + fr)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--kind', choices=['rs', 'bubble', 'mixed'], required=True)
    ap.add_argument('--server', default=P_DEFAULT, help='primary P (S = P + 1)')
    ap.add_argument('--clients', type=int, default=4096)
    ap.add_argument('--packets', type=int, default=65536)
    ap.add_argument('--relay-pcap', help='--kind mixed: the relay capture (tr_gen)')
    ap.add_argument('--every', type=int, default=4, help='--kind mixed: one RS after every N relay frames')
    ap.add_argument('--out', required=True)
    a = ap.parse_args()
    P = ip4(a.server)
    S = struct.pack('!I', struct.unpack('!I', P)[0] + 1)
    if a.kind == 'rs':
        frames = rs_frames(a.packets, a.clients, P, S)
    elif a.kind == 'bubble':
        frames = bubble_frames(a.packets, a.clients, P)
    else:
        if not a.relay_pcap:
            raise SystemExit('--kind mixed needs --relay-pcap')
        relay = read_pcap(a.relay_pcap)
        rs = rs_frames(len(relay) // a.every + 1, a.clients, P, S)
        frames, k = [], 0
        for n, fr in enumerate(relay):
            frames.append(fr)
            if (n + 1) % a.every == 0:
                frames.append(rs[k])
                k += 1
    write_pcap(a.out, frames)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
