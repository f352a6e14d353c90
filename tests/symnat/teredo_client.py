#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Teredo client emulator for the symmetric-NAT tests (docs/symmetric-nat.md).

Plain UDP sockets, no tunnel: the emulator parses and builds the IPv6 packets
it needs itself (struct + a checksum). Three roles, one per sub-command:

client    qualifies with a Teredo server (RFC 4380 §5.2.1 as Miredo's client
          does it: a router solicitation from fe80::ffff:ffff:ffff, cone flag
          clear, to ff02::2, inside an authentication header with a random
          nonce that the server's RA must echo; the RA's origin indication
          gives the mapped address/port, its prefix option the Teredo prefix),
          builds its address with RFC 5991 random flags, and sends a second RS
          to the server's secondary address (§5.2.1 second test) to report
          whether the NAT is symmetric (two different mapped ports) - it
          carries on either way, as RFC 6081 clients do. It keeps the
          mapping alive with an RS every --keepalive s; answers each indirect
          bubble the server relays (origin indication = the relay) with a
          direct bubble to the relay, after --reply-delay s:
            --style miredo   src = own address, dst = the bubble's source
                             (Miredo's teredo_reply_bubble; no trailer)
            --style rfc6081  src = own address, dst = fe80::1 (proves
                             nothing), RFC 6081 Nonce trailer echoed
                             (01 04 <nonce>); none if the bubble had none
          answers ICMPv6 echo requests (through whoever sent them, i.e. the
          relay), and receives a UDP transfer on --xfer-port (below).
          Events are JSON lines on stdout; stdin takes commands:
          "rebubble" (send the last direct bubble again), "send6 DST PORT TEXT"
          (a UDP datagram to a native host through the last bubble's relay),
          "stats", "quit".
attacker  a third party on the IPv4 Internet: stdin commands
            flood SECS RATE RELAY_IP:PORT SRC6 DST6 [TRAILER_HEX]
            guess SECS RATE RELAY_IP:PORT SRC6        (random IID + nonce)
            stats                                     (what it received)
          send direct bubbles "from" a victim's Teredo address; anything a
          relay sends back (a hijacked peer's traffic) is counted.
send      (on the native host) sends --bytes of pseudo-random data to
          [ADDR]:PORT in 1200-byte UDP datagrams, paced and window-limited
          by the receiver's acks, then repairs losses from the receiver's
          missing-list until it reports the SHA-256 of the whole stream;
          prints {"ok", "sha256", "bytes", "resent", "seconds"}.

Transfer protocol (UDP payload): 'D' seq(4) data | 'F' count(4) bytes(8) |
receiver: 'A' next-seq(4) (highest seen + 1, every 64) | 'M' seq(4)... (missing) | 'K' sha256(32) bytes(8).
"""
import argparse
import hashlib
import ipaddress
import json
import os
import random
import select
import socket
import struct
import sys
import time

TEREDO_PORT = 3544
RS_SRC = ipaddress.IPv6Address('fe80::ffff:ffff:ffff').packed     # cone flag clear
ALL_ROUTERS = ipaddress.IPv6Address('ff02::2').packed
RFC6081_DST = ipaddress.IPv6Address('fe80::1').packed
CHUNK = 1200                     # 40 + 8 + 5 + 1200 < 1280 (Teredo MTU)


class Lines:
    """Commands from stdin, read unbuffered so that select() sees every line."""

    def __init__(self):
        self.buf, self.eof = b'', False

    def fileno(self):
        return 0

    def read(self):
        d = os.read(0, 4096)
        self.eof = not d
        self.buf += d
        *lines, self.buf = self.buf.split(b'\n')
        return [x.decode() for x in lines]


def emit(**ev):
    ev['t'] = round(time.time(), 3)
    sys.stdout.write(json.dumps(ev) + '\n')
    sys.stdout.flush()


def a6(b):
    return str(ipaddress.IPv6Address(bytes(b)))


def csum(data):
    if len(data) % 2:
        data += b'\0'
    s = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff


def ip6(src, dst, nxt, payload, hlim=64):
    return struct.pack('!IHBB', 0x60000000, len(payload), nxt, hlim) + src + dst + payload


def l4(src, dst, nxt, seg):
    """seg with its checksum (ICMPv6 at offset 2, UDP at offset 6) filled in."""
    off = 2 if nxt == 58 else 6
    seg = seg[:off] + b'\0\0' + seg[off + 2:]
    c = csum(src + dst + struct.pack('!IxxxB', len(seg), nxt) + seg)
    if nxt == 17 and c == 0:
        c = 0xffff
    return seg[:off] + struct.pack('!H', c) + seg[off + 2:]


def udp6(src, dst, sport, dport, data):
    seg = struct.pack('!HHHH', sport, dport, 8 + len(data), 0) + data
    return ip6(src, dst, 17, l4(src, dst, 17, seg))


def bubble(src, dst, trailer=b''):
    return ip6(src, dst, 59, b'', hlim=0) + trailer      # plen 0; trailers after (RFC 6081 §4)


def nonce_trailer(nonce):
    return b'\x01\x04' + nonce


def parse_teredo(d):
    """(auth nonce or None, origin (ip, port) or None, ipv6 packet, trailers) or None."""
    auth = origin = None
    if len(d) >= 13 and d[0] == 0 and d[1] == 1:
        idl, aul = d[2], d[3]
        auth = d[4 + idl + aul:12 + idl + aul]
        d = d[13 + idl + aul:]
    if len(d) >= 8 and d[0] == 0 and d[1] == 0:
        port = struct.unpack('!H', d[2:4])[0] ^ 0xffff
        origin = (str(ipaddress.IPv4Address(bytes(x ^ 0xff for x in d[4:8]))), port)
        d = d[8:]
    if len(d) < 40 or d[0] >> 4 != 6:
        return None
    n = 40 + struct.unpack('!H', d[4:6])[0]
    if n > len(d):
        return None
    return auth, origin, d[:n], d[n:]


def trailer_nonce(tr):
    while len(tr) >= 2 and 2 + tr[1] <= len(tr):
        if tr[0] == 1 and tr[1] == 4:
            return tr[2:6]
        tr = tr[2 + tr[1]:]
    return None


# ------------------------------------------------------------------------------- client

class Client:
    def __init__(self, a):
        self.a = a
        self.srv1 = a.server
        self.srv2 = a.server2 or str(ipaddress.IPv4Address(a.server) + 1)
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.s.bind(('0.0.0.0', a.port))
        self.addr = None
        self.mapped = None
        self.pending = []            # (due, datagram, (ip, port), event)
        self.last_reply = None
        self.relay = None            # the relay of the last indirect bubble
        self.stats = {'bubbles': 0, 'direct_bubbles': 0, 'echo_replies': 0, 'rx': 0,
                      'rx_from': {}, 'xfer_packets': 0}
        self.xfer = None

    # RFC 4380 §5.2.1 (Miredo's way): RS in an authentication header with a nonce
    def rs(self, server):
        nonce = os.urandom(8)
        icmp = l4(RS_SRC, ALL_ROUTERS, 58, struct.pack('!BBHI', 133, 0, 0, 0))
        pkt = b'\x00\x01\x00\x00' + nonce + b'\x00' + ip6(RS_SRC, ALL_ROUTERS, 58, icmp, hlim=255)
        self.s.sendto(pkt, (server, TEREDO_PORT))
        return nonce

    def parse_ra(self, p, nonce):
        """(mapped (ip, port), prefix bytes[8]) from a server's RA, or None."""
        r = parse_teredo(p)
        if r is None:
            return None
        auth, origin, pk, _ = r
        if pk[6] != 58 or pk[40] != 134 or origin is None or auth != nonce:
            return None
        opts, prefix = pk[56:], None
        while len(opts) >= 8 and opts[1]:
            if opts[0] == 3 and opts[1] == 4:
                prefix = opts[16:24]
            opts = opts[opts[1] * 8:]
        return (origin, prefix) if prefix else None

    def solicit(self, server, tries=4):
        for _ in range(tries):
            nonce = self.rs(server)
            deadline = time.time() + 1.5
            while time.time() < deadline:
                r, _, _ = select.select([self.s], [], [], max(0, deadline - time.time()))
                if not r:
                    break
                p, src = self.s.recvfrom(65535)
                if src == (server, TEREDO_PORT):
                    ra = self.parse_ra(p, nonce)
                    if ra:
                        return ra
        return None

    def qualify(self):
        ra = self.solicit(self.srv1)
        if ra is None:
            emit(ev='error', msg=f'no RA from {self.srv1}')
            sys.exit(1)
        (mip, mport), prefix = ra
        ra2 = self.solicit(self.srv2)
        mapped2 = list(ra2[0]) if ra2 else None
        r = random.getrandbits(12)                     # RFC 5991 §3: CRAAAAUG AAAAAAAA
        flags = ((r >> 8) & 0xf) << 10 | (r & 0xff)
        ip = ipaddress.IPv4Address(mip).packed
        self.addr = prefix + struct.pack('!HH', flags, mport ^ 0xffff) + bytes(x ^ 0xff for x in ip)
        self.mapped = (mip, mport)
        emit(ev='qualified', addr=a6(self.addr), prefix=a6(prefix + bytes(8)), mapped=[mip, mport],
             mapped2=mapped2, flags=f'0x{flags:04x}', local_port=self.s.getsockname()[1],
             nat='symmetric' if mapped2 and tuple(mapped2) != (mip, mport) else 'same-mapping')

    def keepalive(self):
        nonce = self.rs(self.srv1)
        self.ka_nonce = nonce

    def on_bubble(self, pk, origin, trailers):
        self.stats['bubbles'] += 1
        nonce = trailer_nonce(trailers)
        emit(ev='bubble', src=a6(pk[8:24]), origin=list(origin),
             nonce=nonce.hex() if nonce else None)
        if not origin or origin[1] == 0:
            return
        self.relay = tuple(origin)
        if self.a.style == 'miredo':
            b = bubble(self.addr, pk[8:24])
        else:
            b = bubble(self.addr, RFC6081_DST, nonce_trailer(nonce) if nonce else b'')
        ev = dict(ev='direct_bubble', to=list(origin), dst=a6(b[24:40]),
                  nonce=nonce.hex() if nonce and self.a.style == 'rfc6081' else None,
                  bubble_src=a6(pk[8:24]), bubble_nonce=nonce.hex() if nonce else None)
        self.pending.append((time.time() + self.a.reply_delay, b, tuple(origin), ev))

    def on_echo(self, pk, via):
        src, dst = pk[8:24], pk[24:40]
        icmp = b'\x81\x00\x00\x00' + pk[44:]
        self.s.sendto(ip6(dst, src, 58, l4(dst, src, 58, icmp)), via)
        self.stats['echo_replies'] += 1

    # --- transfer receiver
    def on_xfer(self, pk, via):
        sport, dport = struct.unpack('!HH', pk[40:44])
        d = pk[48:]
        x = self.xfer
        if x is None or x['peer'] != (pk[8:24], sport):
            x = self.xfer = {'peer': (pk[8:24], sport), 'chunks': {}, 'since_ack': 0, 'done': False}
        reply = None
        if d[:1] == b'D' and len(d) >= 5:
            seq = struct.unpack('!I', d[1:5])[0]
            x['chunks'][seq] = d[5:]
            x['top'] = max(x.get('top', 0), seq + 1)
            self.stats['xfer_packets'] += 1
            x['since_ack'] += 1
            if x['since_ack'] >= 64:
                x['since_ack'] = 0
                reply = b'A' + struct.pack('!I', x['top'])
        elif d[:1] == b'F' and len(d) >= 13:
            count, total = struct.unpack('!IQ', d[1:13])
            missing = [i for i in range(count) if i not in x['chunks']]
            if missing:
                reply = b'M' + b''.join(struct.pack('!I', i) for i in missing[:256])
            else:
                h = hashlib.sha256()
                for i in range(count):
                    h.update(x['chunks'][i])
                n = sum(len(x['chunks'][i]) for i in range(count))
                reply = b'K' + h.digest() + struct.pack('!Q', n)
                if not x['done']:
                    x['done'] = True
                    emit(ev='xfer_done', bytes=n, sha256=h.hexdigest(), packets=count)
        if reply:
            self.s.sendto(udp6(self.addr, pk[8:24], dport, sport, reply), via)

    def handle(self, p, src):
        self.stats['rx'] += 1
        k = f'{src[0]}:{src[1]}'
        self.stats['rx_from'][k] = self.stats['rx_from'].get(k, 0) + 1
        r = parse_teredo(p)
        if r is None:
            return
        auth, origin, pk, trailers = r
        nxt, plen = pk[6], len(pk) - 40
        if src == (self.srv1, TEREDO_PORT) and nxt == 58 and plen >= 16 and pk[40] == 134:
            if origin and tuple(origin) != self.mapped:
                emit(ev='mapping_changed', old=list(self.mapped), new=list(origin))
            return
        if pk[24:40] != self.addr:
            return
        if nxt == 59 and plen == 0:
            if src[0] in (self.srv1, self.srv2) and origin:
                self.on_bubble(pk, origin, trailers)
            return
        if nxt == 58 and plen >= 8 and pk[40] == 128:
            self.on_echo(pk, src)
        elif nxt == 17 and plen >= 8 and struct.unpack('!H', pk[42:44])[0] == self.a.xfer_port:
            self.on_xfer(pk, src)

    def command(self, line):
        cmd = line.strip()
        if cmd == 'rebubble' and self.last_reply:
            b, to, ev = self.last_reply
            self.s.sendto(b, to)
            emit(**dict(ev, ev='direct_bubble', again=True))
        elif cmd.startswith('send6 ') and self.relay:
            _, dst, port, text = cmd.split(None, 3)
            self.s.sendto(udp6(self.addr, ipaddress.IPv6Address(dst).packed, self.a.xfer_port, int(port),
                               text.encode()), self.relay)
            emit(ev='sent6', dst=dst, port=int(port), via=list(self.relay))
        elif cmd == 'stats':
            emit(ev='stats', **self.stats)
        elif cmd == 'quit':
            emit(ev='stats', **self.stats)
            sys.exit(0)

    def run(self):
        self.qualify()
        next_ka = time.time() + self.a.keepalive
        cmds = Lines()
        inputs = [self.s, cmds]
        while True:
            now = time.time()
            due = [x for x in self.pending if x[0] <= now]
            for x in due:
                self.pending.remove(x)
                _, b, to, ev = x
                self.s.sendto(b, to)
                self.stats['direct_bubbles'] += 1
                self.last_reply = (b, to, ev)
                emit(**ev)
            if now >= next_ka:
                self.keepalive()
                next_ka = now + self.a.keepalive
            timeout = min([next_ka] + [x[0] for x in self.pending]) - time.time()
            r, _, _ = select.select(inputs, [], [], max(0.0, timeout))
            if cmds in r:
                for line in cmds.read():
                    self.command(line)
                if cmds.eof:
                    inputs.remove(cmds)
            if self.s in r:
                for _ in range(256):
                    try:
                        p, src = self.s.recvfrom(65535, socket.MSG_DONTWAIT)
                    except BlockingIOError:
                        break
                    self.handle(p, src)


# ----------------------------------------------------------------------------- attacker

def attacker(a):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(('0.0.0.0', a.port))
    st = {'sent': 0, 'received': 0, 'received_for': {}}
    job = None                       # (end, interval, next, relay, builder)
    cmds = Lines()
    inputs = [s, cmds]
    while True:
        now = time.time()
        if job and now >= job['next']:
            s.sendto(job['build'](), job['relay'])
            st['sent'] += 1
            job['sent'] += 1
            job['next'] = now + job['interval']
            if now >= job['end']:
                emit(ev='done', sent=job['sent'])
                job = None
        r, _, _ = select.select(inputs, [], [], max(0.0, job['next'] - time.time()) if job else None)
        if s in r:
            p, src = s.recvfrom(65535)
            st['received'] += 1
            t = parse_teredo(p)
            k = a6(t[2][24:40]) if t else 'not-ipv6'
            st['received_for'][k] = st['received_for'].get(k, 0) + 1
        for w in (x.split() for x in (cmds.read() if cmds in r else [])):
            if not w:
                continue
            if w[0] == 'stats':
                emit(ev='stats', **st)
            elif w[0] in ('flood', 'guess'):
                secs, rate = float(w[1]), float(w[2])
                rip, rport = w[3].rsplit(':', 1)
                src = ipaddress.IPv6Address(w[4]).packed
                if w[0] == 'flood':
                    dst = ipaddress.IPv6Address(w[5]).packed
                    tr = nonce_trailer(bytes.fromhex(w[6])) if len(w) > 6 else b''
                    build = (lambda src=src, dst=dst, tr=tr: bubble(src, dst, tr))
                else:
                    build = (lambda src=src: bubble(
                        src, b'\xfe\x80' + bytes(6) + bytes([random.getrandbits(8) & 0xfc]) +
                        os.urandom(7), nonce_trailer(os.urandom(4))))
                job = {'end': time.time() + secs, 'interval': 1.0 / rate, 'next': time.time(),
                       'relay': (rip, int(rport)), 'build': build, 'sent': 0}
            elif w[0] == 'quit':
                return
        if cmds in r and cmds.eof:
            return


# ------------------------------------------------------------------------------- sender

def sender(a):
    rnd = random.Random(a.seed)
    data = rnd.randbytes(a.bytes)
    want = hashlib.sha256(data).hexdigest()
    count = (len(data) + CHUNK - 1) // CHUNK
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    s.connect((a.dst, a.port))
    s.setblocking(False)
    t0 = time.time()
    acked = 0
    resent = 0

    def pkt(i):
        return b'D' + struct.pack('!I', i) + data[i * CHUNK:(i + 1) * CHUNK]

    def drain():
        nonlocal acked
        out = []
        while True:
            try:
                m = s.recv(65535)
            except (BlockingIOError, ConnectionRefusedError):
                return out
            if m[:1] == b'A':
                acked = max(acked, struct.unpack('!I', m[1:5])[0])
            else:
                out.append(m)

    interval = 1.0 / a.rate
    nxt = time.time()
    for i in range(count):
        while i - acked > a.window:
            if time.time() - nxt > 0.5:          # acks lost: carry on, repair later
                acked = i
                break
            select.select([s], [], [], 0.05)
            drain()
        now = time.time()
        if nxt > now:
            time.sleep(nxt - now)
        nxt = max(nxt + interval, time.time() - 0.01)
        try:
            s.send(pkt(i))
        except (ConnectionRefusedError, BlockingIOError):
            pass
        if i % 32 == 0:
            drain()
    deadline = time.time() + a.timeout
    result = {'ok': False, 'bytes': len(data), 'packets': count, 'sha256_sent': want}
    while time.time() < deadline:
        try:
            s.send(b'F' + struct.pack('!IQ', count, len(data)))
        except ConnectionRefusedError:
            pass
        r, _, _ = select.select([s], [], [], 1.0)
        replies = drain() if r else []
        done = False
        for m in replies:
            if m[:1] == b'K':
                result.update(ok=m[1:33].hex() == want and struct.unpack('!Q', m[33:41])[0] == len(data),
                              sha256=m[1:33].hex(), received_bytes=struct.unpack('!Q', m[33:41])[0])
                done = True
            elif m[:1] == b'M':
                for j in range(1, len(m) - 3, 4):
                    seq = struct.unpack('!I', m[j:j + 4])[0]
                    s.send(pkt(seq))
                    resent += 1
                    if resent % 16 == 0:
                        time.sleep(0.002)
        if done:
            break
    result.update(resent=resent, seconds=round(time.time() - t0, 2))
    print(json.dumps(result), flush=True)
    sys.exit(0 if result['ok'] else 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest='role', required=True)
    c = sub.add_parser('client')
    c.add_argument('--server', required=True)
    c.add_argument('--server2', help='secondary server address (default: --server + 1)')
    c.add_argument('--style', choices=('miredo', 'rfc6081'), default='miredo')
    c.add_argument('--port', type=int, default=0, help='local UDP port (default: any)')
    c.add_argument('--reply-delay', type=float, default=0.0, help='seconds before the direct bubble')
    c.add_argument('--keepalive', type=float, default=10.0, help='RS to the server every N s')
    c.add_argument('--xfer-port', type=int, default=9000)
    t = sub.add_parser('attacker')
    t.add_argument('--port', type=int, default=40000)
    s = sub.add_parser('send')
    s.add_argument('--dst', required=True)
    s.add_argument('--port', type=int, default=9000)
    s.add_argument('--bytes', type=int, default=10 * 1024 * 1024)
    s.add_argument('--rate', type=float, default=2500, help='datagrams per second')
    s.add_argument('--window', type=int, default=512, help='datagrams beyond the last ack')
    s.add_argument('--seed', type=int, default=1)
    s.add_argument('--timeout', type=float, default=60)
    a = ap.parse_args()
    if a.role == 'client':
        Client(a).run()
    elif a.role == 'attacker':
        attacker(a)
    else:
        sender(a)


if __name__ == '__main__':
    main()
