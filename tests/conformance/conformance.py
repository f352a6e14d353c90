#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""
terelay conformance harness: cases T01-T32 and T37-T44 of the Teredo relay
notes (§6), plus 'multiworker_same_set'. T33-T36 (symmetric NAT) come later.

Each case builds an input capture (scapy frames, raw bytes for Teredo
bubbles, origin indications and trailers), replays it through

  terelay <EAL args> -- -c CONFIG --replay IN.pcap --out OUT.pcap --stats-json STATS.json

in a temporary directory, then checks OUT.pcap frame by frame (addresses,
ports, IPv4 flags and TTL, valid checksums, hop limits, exact payload bytes,
order) and STATS.json counter by counter (the expected drop reason, every
other drop reason zero, accounting_ok). The §2.8 worked frames of the notes
are the ground truth for bubbles and encapsulation.

Run:  conformance.py --terelay PATH --addr-tool PATH --case T04
      conformance.py --terelay PATH --addr-tool PATH --all
Exit status 0 = pass, 1 = fail (what differed is printed), 2 = usage.

Only /usr/bin/python3 has scapy on these machines.
"""
import argparse
import collections
import ipaddress
import json
import os
import shutil
import socket
import re
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import logging  # noqa: E402
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import (Ether, ICMPv6EchoReply, ICMPv6EchoRequest,  # noqa: E402
                       ICMPv6DestUnreach, IP, IPv6, Raw, UDP, fragment, rdpcap)

DROPS_DEF = os.path.join(HERE, "..", "..", "lib", "teredo", "drop_reasons.def")

# ------------------------------------------------------------------ fixture (notes §6)

R4 = "198.51.100.1"             # relay IPv4
RP = 3545                       # relay service port
R6 = "2001:db8:ffff::1"         # relay native address (ICMPv6 source)
H = "2001:db8::1"               # native host
S = "203.0.113.120"             # Teredo server of A
A = "2001:0:cb00:7178:0:efff:3fff:fdfe"         # 192.0.2.1:4096
A_V4, A_PORT = "192.0.2.1", 4096
B = "2001:0:c633:6476:0:dfff:3fff:fdf5"         # 192.0.2.10:8192 via 198.51.100.118
A_RAND = "2001:0:cb00:7178:14a5:efff:3fff:fdfe"  # A' (RFC 5991 random bits, same mapping)
A_CONE = "2001:0:cb00:7178:8000:efff:3fff:fdfe"  # cone bit set
GW4_MAC = "02:00:00:00:00:04"   # [nexthop] ipv4_gateway_mac
GW6_MAC = "02:00:00:00:00:06"   # [nexthop] ipv6_gateway_mac
RELAY_MAC = "02:70:63:61:70:00"  # net_pcap's own MAC (02 "pcap" 00): destination of input frames
T0 = 1700000000                 # capture epoch (seconds); case times are relative to it

FIXTURE_INI = """\
; terelay conformance fixture (notes §6)
[relay]
ipv4 = 198.51.100.1
port = 3545
ipv6 = 2001:db8:ffff::1
served = 2001:db8::/32
mtu = 1280

[ports]
teredo = 0
native = 0

[nexthop]
ipv4_gateway_mac = 02:00:00:00:00:04
ipv6_gateway_mac = 02:00:00:00:00:06

[icmp6]
rate = {icmp_rate}
burst = {icmp_burst}
{extra}"""


def fixture_ini(icmp_rate=1000, icmp_burst=1000, extra=""):
    return FIXTURE_INI.format(icmp_rate=icmp_rate, icmp_burst=icmp_burst, extra=extra)


# ------------------------------------------------------------------ §2.8 worked frames

def hx(s):
    return bytes.fromhex("".join(s.split()))


# Indirect bubble relay -> server, bubble source fe80::a0b2:c3d4:e5f6:718, IPv4 ID 0.
BUBBLE_28 = hx("""
45 00 00 44 00 00 00 00 40 11 13 fc c6 33 64 01 cb 00 71 78 0d d9 0d d8 00 30 07 9f
60 00 00 00 00 00 3b 00 fe 80 00 00 00 00 00 00 a0 b2 c3 d4 e5 f6 07 18
20 01 00 00 cb 00 71 78 00 00 ef ff 3f ff fd fe""")
BUBBLE_28_IID = hx("a0 b2 c3 d4 e5 f6 07 18")
# Direct bubble client A -> relay (source 192.0.2.1:4096 = embedded mapping).
DIRECT_BUBBLE_28 = hx("""
45 00 00 44 00 00 00 00 40 11 8e 73 c0 00 02 01 c6 33 64 01 10 00 0d d9 00 30 7f ee
60 00 00 00 00 00 3b 00 20 01 00 00 cb 00 71 78 00 00 ef ff 3f ff fd fe
fe 80 00 00 00 00 00 00 a0 b2 c3 d4 e5 f6 07 18""")
# Native ICMPv6 echo request H -> A, hop limit 64, id 0x1234 seq 1, "abcdefgh".
ECHO_28 = hx("""
60 00 00 00 00 10 3a 40 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01
20 01 00 00 cb 00 71 78 00 00 ef ff 3f ff fd fe 80 00 23 b8 12 34 00 01 61 62 63 64 65 66 67 68""")
# The same, encapsulated by the relay to 192.0.2.1:4096 (hop limit 63), IPv4 ID 0.
ENCAP_28 = hx("""
45 00 00 54 00 00 00 00 40 11 8e 63 c6 33 64 01 c0 00 02 01 0d d9 10 00 00 40 5b 59""") + \
    ECHO_28[:7] + b"\x3f" + ECHO_28[8:]


# ------------------------------------------------------------------ failures

class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def ip4b(a):
    return socket.inet_aton(a)


def ip6b(a):
    return socket.inet_pton(socket.AF_INET6, a)


def ip6s(b):
    return socket.inet_ntop(socket.AF_INET6, bytes(b))


def ip4s(b):
    return socket.inet_ntoa(bytes(b))


# ------------------------------------------------------------------ checksums

def fold(s):
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return s


def sum16(data):
    if len(data) % 2:
        data = data + b"\0"
    return sum(struct.unpack("!%dH" % (len(data) // 2), data))


def cksum(data):
    """Value to store (one's complement of the folded sum)."""
    return (~fold(sum16(data))) & 0xffff


def ipv4_hdr_ok(ip):
    ihl = (ip[0] & 0x0f) * 4
    return fold(sum16(ip[:ihl])) == 0xffff


def udp4_ok(ip):
    """True when the UDP checksum is non-zero and verifies."""
    ihl = (ip[0] & 0x0f) * 4
    udp = ip[ihl:]
    ulen = struct.unpack("!H", udp[4:6])[0]
    if udp[6:8] == b"\0\0":
        return False
    ph = ip[12:16] + ip[16:20] + struct.pack("!BBH", 0, 17, ulen)
    return fold(sum16(ph + udp[:ulen])) == 0xffff


def ipv6_l4_ok(ip6):
    plen = struct.unpack("!H", ip6[4:6])[0]
    ph = ip6[8:40] + struct.pack("!IxxxB", plen, ip6[6])
    return fold(sum16(ph + ip6[40:40 + plen])) == 0xffff


def ipv4_fix(ip):
    """Recompute the IPv4 header checksum of a bytes datagram."""
    ip = bytearray(ip)
    ihl = (ip[0] & 0x0f) * 4
    ip[10:12] = b"\0\0"
    ip[10:12] = struct.pack("!H", cksum(bytes(ip[:ihl])))
    return bytes(ip)


def udp4_fix(ip):
    ip = bytearray(ip)
    ihl = (ip[0] & 0x0f) * 4
    ulen = struct.unpack("!H", ip[ihl + 4:ihl + 6])[0]
    ip[ihl + 6:ihl + 8] = b"\0\0"
    ph = bytes(ip[12:20]) + struct.pack("!BBH", 0, 17, ulen)
    c = cksum(ph + bytes(ip[ihl:ihl + ulen])) or 0xffff
    ip[ihl + 6:ihl + 8] = struct.pack("!H", c)
    return bytes(ip)


# ------------------------------------------------------------------ Teredo addresses

def teredo_addr(server, port, client, flags=0):
    return ip6s(b"\x20\x01\x00\x00" + ip4b(server) + struct.pack("!HH", flags, port ^ 0xffff)
                + bytes(b ^ 0xff for b in ip4b(client)))


def teredo_decode(addr):
    b = ip6b(addr)
    flags, xport = struct.unpack("!HH", b[8:12])
    return ip4s(b[4:8]), ip4s(bytes(x ^ 0xff for x in b[12:16])), xport ^ 0xffff, flags


def origin_indication(ip, port):
    """RFC 4380 §5.1.1: 00 00 ~port ~ipv4 (harness-side builder)."""
    return b"\0\0" + struct.pack("!H", port ^ 0xffff) + bytes(b ^ 0xff for b in ip4b(ip))


# ------------------------------------------------------------------ packet builders

def ip6_echo(src, dst, seq=1, hlim=64, data=b"abcdefgh", ident=0x1234):
    return bytes(IPv6(src=src, dst=dst, hlim=hlim) / ICMPv6EchoRequest(id=ident, seq=seq, data=data))


def ip6_echo_reply(src, dst, seq=1, hlim=64, data=b"abcdefgh", ident=0x1234):
    return bytes(IPv6(src=src, dst=dst, hlim=hlim) / ICMPv6EchoReply(id=ident, seq=seq, data=data))


def ip6_udp(src, dst, payload=b"hello", sport=5000, dport=6000, hlim=64, total=None):
    if total is not None:
        payload = bytes((i * 7 + 3) & 0xff for i in range(total - 48))
    p = bytes(IPv6(src=src, dst=dst, hlim=hlim) / UDP(sport=sport, dport=dport) / Raw(payload))
    if total is not None:
        assert len(p) == total
    return p


def ip6_bubble(src, dst, hlim=0):
    return b"\x60\0\0\0\0\0\x3b" + bytes([hlim]) + ip6b(src) + ip6b(dst)


def dec_hop(ip6, n=1):
    b = bytearray(ip6)
    b[7] -= n
    return bytes(b)


def f_native(ip6, src_mac=GW6_MAC):
    return bytes(Ether(dst=RELAY_MAC, src=src_mac, type=0x86dd) / Raw(ip6))


def f_teredo(src_ip, sport, payload, udp_csum=None, dst_ip=R4, dport=RP, ipid=0):
    """Client -> relay datagram; udp_csum patches the UDP checksum (0 = none)."""
    ip = bytes(IP(src=src_ip, dst=dst_ip, ttl=64, id=ipid, flags=0) /
               UDP(sport=sport, dport=dport) / Raw(payload))
    if udp_csum is not None:
        ip = ip[:26] + struct.pack("!H", udp_csum) + ip[28:]
    return bytes(Ether(dst=RELAY_MAC, src=GW4_MAC, type=0x0800)) + ip


def f_ipv4(datagram):
    return bytes(Ether(dst=RELAY_MAC, src=GW4_MAC, type=0x0800)) + datagram


def f_tick():
    """Clock tick: ethertype 0x88b5 (local experimental), 46 zero bytes -> eth_unknown_type."""
    return bytes(Ether(dst=RELAY_MAC, src=GW6_MAC, type=0x88b5)) + b"\0" * 46


def f_direct_bubble_a():
    return f_ipv4(DIRECT_BUBBLE_28)


# ------------------------------------------------------------------ pcap I/O

def write_pcap(path, frames):
    """frames: list of (t_relative_seconds, bytes). Microsecond pcap, linktype 1."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for t, fr in frames:
            us_total = int(round((T0 + t) * 1e6))
            f.write(struct.pack("<IIII", us_total // 1000000, us_total % 1000000, len(fr), len(fr)))
            f.write(fr)


def read_pcap(path):
    return [bytes(p) for p in rdpcap(path)]


# ------------------------------------------------------------------ running the relay

class DryRun(Exception):
    pass


class Env:
    lcores = "0"
    dump_dir = None
    terelay = None
    addr_tool = None
    keep = False
    verbose = False
    drop_names = []


class Result:
    def __init__(self, frames, stats, workdir, nin):
        self.frames = frames
        self.stats = stats
        self.workdir = workdir
        self.nin = nin


_run_no = [0]


def run_relay(frames, ini=None, lcores=None, label="run", drain=0):
    """Replay frames (list of (t, bytes), sorted by t) and return a Result.
    lcores None = the default (-l 0, or --lcores). drain: --drain seconds; 0 (the
    cases' default) stops at the last frame, so a case states what happens up to it."""
    if lcores is None:
        lcores = Env.lcores
    if Env.dump_dir:
        frames = sorted(frames, key=lambda x: x[0])
        write_pcap(os.path.join(Env.dump_dir, "%s.pcap" % label), frames)
        if ini is not None:
            with open(os.path.join(Env.dump_dir, "%s.ini" % label), "w") as f:
                f.write(ini)
        raise DryRun()
    if not Env.terelay:
        raise Fail("no --terelay given")
    if not os.access(Env.terelay, os.X_OK):
        raise Fail("terelay binary %r missing or not executable" % Env.terelay)
    frames = sorted(frames, key=lambda x: x[0])     # stable: equal times keep order
    _run_no[0] += 1
    d = tempfile.mkdtemp(prefix="terelay-conf-%s-" % label)
    cfg = os.path.join(d, "relay.ini")
    pin = os.path.join(d, "IN.pcap")
    pout = os.path.join(d, "OUT.pcap")
    pst = os.path.join(d, "STATS.json")
    with open(cfg, "w") as f:
        f.write(ini if ini is not None else fixture_ini())
    write_pcap(pin, frames)
    prefix = "conf-%s-%d-%d" % (label, os.getpid(), _run_no[0])
    lc_args = ["--lcores", lcores] if "@" in lcores else ["-l", lcores]
    cmd = [Env.terelay, "--no-huge", "--no-shconf", "-m", "512", "--no-pci"] + lc_args + [
           "--file-prefix", prefix, "--", "-c", cfg, "--replay", pin, "--out", pout,
           "--stats-json", pst, "--drain", str(drain)]
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=100)
    except subprocess.TimeoutExpired:
        raise Fail("terelay did not finish within 100 s: %s (dir %s)" % (" ".join(cmd), d))
    with open(os.path.join(d, "terelay.log"), "wb") as f:
        f.write(p.stdout)
    # EAL leaves its runtime directory behind even with --no-shconf: remove ours.
    rt = os.environ.get("XDG_RUNTIME_DIR") if os.geteuid() != 0 else None
    shutil.rmtree(os.path.join(rt or "/var/run", "dpdk", prefix), ignore_errors=True)
    if p.returncode != 0:
        tail = p.stdout.decode(errors="replace")[-3000:]
        raise Fail("terelay exited %d\ncommand: %s\noutput tail:\n%s\n(dir %s)"
                   % (p.returncode, " ".join(cmd), tail, d))
    check(os.path.exists(pout), "no OUT.pcap written (dir %s)" % d)
    check(os.path.exists(pst), "no STATS.json written (dir %s)" % d)
    out = read_pcap(pout)
    with open(pst) as f:
        try:
            stats = json.load(f)
        except ValueError as e:
            raise Fail("STATS.json is not JSON: %s (dir %s)" % (e, d))
    if Env.verbose:
        print("[%s] %d frames in, %d out (dir %s)" % (label, len(frames), len(out), d))
        for i, fr in enumerate(out):
            print("   out[%d] %s" % (i, describe(fr)))
    r = Result(out, stats, d, len(frames))
    r.nin_bytes = sum(len(x[1]) for x in frames)
    r.span = frames[-1][0] - frames[0][0] if frames else 0.0
    m = re.search(r"^nonce_epoch\s*=\s*(\d+)", ini or "", re.M)
    r.nonce_epoch = int(m.group(1)) if m else NONCE_EPOCH_S
    _dirs.append(d)
    generic_checks(r)
    return r


# Two workers and the control lcore on this machine's two CPUs: lcore 0 (control) on CPU 0,
# workers 1 and 2 both on CPU 1. "-l 0,1" would be one worker, not several.
MULTI = "0@0,1@1,2@1"


def check_workers_shared(res, n):
    """A multi-worker run really spread its packets: n workers, each received some."""
    w = res.stats.get("worker_rx_packets")
    check(isinstance(w, list) and len(w) == n,
          "worker_rx_packets %r: expected %d workers (dir %s)" % (w, n, res.workdir))
    check(all(x > 0 for x in w), "a worker received nothing: worker_rx_packets %r (dir %s)"
          % (w, res.workdir))


NONCE_EPOCH_S = 30      # [bubbles] nonce_epoch default: the bubble source key rotates per epoch


def generic_checks(res):
    """Checked on every run: each IPv4/UDP frame the relay sent is well formed (gateway MAC,
    source 198.51.100.1:3545, TTL 64, DF clear, valid checksums); all bubbles of the run have
    the same form (all plain 40 bytes or all with a Nonce trailer); all bubbles to one peer carry
    the same source address, except that the keyed-hash key may rotate once per nonce epoch
    (commit 4709215): at most 1 + ceil(span / 30 s) distinct sources per peer."""
    by_peer = collections.defaultdict(list)
    forms = set()
    for i, fr in enumerate(res.frames):
        if len(fr) >= 14 + 20 and fr[12:14] == b"\x08\x00" and fr[14 + 9] == 17:
            split_v4(fr, "output frame %d (%s)" % (i, describe(fr)))
            if is_bubble_frame(fr):
                pl = fr[14 + 28:]
                by_peer[bytes(pl[24:40])].append(bytes(pl[8:24]))
                forms.add(len(pl))
    check(len(forms) <= 1, "bubbles of one run differ in form (UDP payload lengths %s)" % sorted(forms))
    allowed = 1 + int(-(-res.span // res.nonce_epoch))
    for peer, srcs in by_peer.items():
        distinct = sorted(set(ip6s(x) for x in srcs))
        check(len(distinct) <= allowed,
              "bubbles to %s carry %d different sources over a %.1f s capture (at most %d: one per "
              "nonce epoch): %s" % (ip6s(peer), len(distinct), res.span, allowed, ", ".join(distinct)))


_dirs = []


# ------------------------------------------------------------------ output parsing

def describe(fr):
    """One line about an output frame, for failure messages."""
    try:
        dst = ":".join("%02x" % b for b in fr[0:6])
        et = struct.unpack("!H", fr[12:14])[0]
        if et == 0x0800:
            ip = fr[14:]
            ihl = (ip[0] & 0xf) * 4
            s = "eth>%s IPv4 %s" % (dst, ip4s(ip[12:16]))
            if ip[9] == 17:
                sp, dp, ul = struct.unpack("!HHH", ip[ihl:ihl + 6])
                s += ":%d -> %s:%d udp_len %d" % (sp, ip4s(ip[16:20]), dp, ul)
                pl = ip[ihl + 8:]
                if len(pl) >= 40 and pl[0] >> 4 == 6:
                    s += " | " + describe6(pl)
                else:
                    s += " | payload %s" % pl[:16].hex()
            else:
                s += " -> %s proto %d" % (ip4s(ip[16:20]), ip[9])
            return s
        if et == 0x86dd:
            return "eth>%s %s" % (dst, describe6(fr[14:]))
        if et == 0x0806:
            return "eth>%s ARP op %d" % (dst, struct.unpack("!H", fr[20:22])[0])
        return "eth>%s ethertype 0x%04x len %d" % (dst, et, len(fr))
    except Exception as e:  # pragma: no cover - diagnostics only
        return "unparsable frame (%s) %s" % (e, fr[:64].hex())


def describe6(ip6):
    plen = struct.unpack("!H", ip6[4:6])[0]
    s = "IPv6 %s -> %s nh %d hl %d plen %d" % (ip6s(ip6[8:24]), ip6s(ip6[24:40]), ip6[6], ip6[7], plen)
    if ip6[6] == 59 and plen == 0:
        s += " (bubble)"
    if ip6[6] == 58 and len(ip6) > 41:
        s += " icmp6 %d/%d" % (ip6[40], ip6[41])
    return s


def frames_summary(frames):
    return "\n".join("   [%d] %s" % (i, describe(f)) for i, f in enumerate(frames)) or "   (none)"


def split_v4(fr, what):
    """Common checks of a frame the relay sent on the IPv4 (Teredo) side.
    Returns (ipv4 datagram, udp payload)."""
    check(len(fr) >= 14 + 28, "%s: frame too short (%d)" % (what, len(fr)))
    check(fr[0:6] == bytes.fromhex(GW4_MAC.replace(":", "")),
          "%s: Ethernet dst %s, expected the IPv4 gateway %s" % (what, fr[0:6].hex(":"), GW4_MAC))
    check(fr[12:14] == b"\x08\x00", "%s: ethertype %s, expected 0800" % (what, fr[12:14].hex()))
    ip = fr[14:]
    check(ip[0] == 0x45, "%s: IPv4 version/IHL byte 0x%02x, expected 0x45" % (what, ip[0]))
    tot = struct.unpack("!H", ip[2:4])[0]
    check(tot <= len(ip), "%s: IPv4 total length %d beyond frame (%d)" % (what, tot, len(ip)))
    check(len(ip) == tot or (len(fr) == 60 and not any(ip[tot:])),
          "%s: %d bytes after the IPv4 datagram (total length %d)" % (what, len(ip) - tot, tot))
    ip = ip[:tot]
    check(ipv4_hdr_ok(ip), "%s: IPv4 header checksum invalid" % what)
    flags = struct.unpack("!H", ip[6:8])[0]
    check(flags & 0x4000 == 0, "%s: DF set (RFC 4380 §5.1.2: SHOULD NOT)" % what)
    check(flags & 0xa000 == 0 and flags & 0x1fff == 0, "%s: fragment bits 0x%04x" % (what, flags))
    check(ip[8] == 64, "%s: TTL %d, expected 64" % (what, ip[8]))
    check(ip[9] == 17, "%s: protocol %d, expected 17" % (what, ip[9]))
    check(ip4s(ip[12:16]) == R4, "%s: IPv4 source %s, expected %s" % (what, ip4s(ip[12:16]), R4))
    ulen = struct.unpack("!H", ip[24:26])[0]
    check(ulen == tot - 20, "%s: UDP length %d, IPv4 payload %d" % (what, ulen, tot - 20))
    check(struct.unpack("!H", ip[20:22])[0] == RP,
          "%s: UDP source port %d, expected %d" % (what, struct.unpack("!H", ip[20:22])[0], RP))
    check(udp4_ok(ip), "%s: UDP checksum zero or invalid (0x%s)" % (what, ip[26:28].hex()))
    return ip, ip[28:]


def check_bubble(fr, peer, server=S, what="bubble"):
    """Indirect bubble to server:3544 for peer. Returns the bubble source address bytes."""
    what = "%s (to %s for %s)" % (what, server, peer)
    ip, pl = split_v4(fr, what)
    check(ip4s(ip[16:20]) == server, "%s: IPv4 dst %s, expected server %s" % (what, ip4s(ip[16:20]), server))
    dport = struct.unpack("!H", ip[22:24])[0]
    check(dport == 3544, "%s: UDP dst port %d, expected 3544" % (what, dport))
    check(len(pl) == 40 or (len(pl) == 46 and pl[40:42] == b"\x01\x04"),
          "%s: UDP payload %d bytes (%s), expected exactly the 40-byte bubble, or the bubble plus an "
          "RFC 6081 Nonce trailer 01 04 <4 bytes> ([bubbles] nonce_trailer)"
          % (what, len(pl), pl[40:].hex(" ")))
    check(pl[0:4] == b"\x60\0\0\0", "%s: version/class/flow %s, expected 60000000" % (what, pl[0:4].hex()))
    check(pl[4:6] == b"\0\0", "%s: payload length %s, expected 0" % (what, pl[4:6].hex()))
    check(pl[6] == 59, "%s: next header %d, expected 59" % (what, pl[6]))
    check(pl[7] == 0, "%s: hop limit %d, expected 0" % (what, pl[7]))
    src = pl[8:24]
    check(src[:8] == b"\xfe\x80" + b"\0" * 6, "%s: source %s not in fe80::/64" % (what, ip6s(src)))
    check(src[8] & 0x03 == 0, "%s: source %s: byte 8 & 0x03 != 0" % (what, ip6s(src)))
    check(pl[24:40] == ip6b(peer), "%s: IPv6 dst %s, expected %s" % (what, ip6s(pl[24:40]), peer))
    return bytes(src)


def check_encap(fr, ip6_expected, dst=A_V4, dport=A_PORT, what="encapsulated"):
    what = "%s (to %s:%d)" % (what, dst, dport)
    ip, pl = split_v4(fr, what)
    check(ip4s(ip[16:20]) == dst, "%s: IPv4 dst %s, expected %s" % (what, ip4s(ip[16:20]), dst))
    dp = struct.unpack("!H", ip[22:24])[0]
    check(dp == dport, "%s: UDP dst port %d, expected %d" % (what, dp, dport))
    # RFC 6040 §4.1 normal mode (D90): the outer ECN field is the inner one, DSCP 0.
    tos = (ip6_expected[1] >> 4) & 3 if len(ip6_expected) > 1 else 0
    check(ip[1] == tos, "%s: IPv4 TOS 0x%02x, expected 0x%02x" % (what, ip[1], tos))
    check(pl == ip6_expected, "%s: UDP payload differs from the expected IPv6 packet\n%s"
          % (what, diff_bytes(pl, ip6_expected)))
    return ip


def check_native(fr, ip6_expected, what="native"):
    check(fr[0:6] == bytes.fromhex(GW6_MAC.replace(":", "")),
          "%s: Ethernet dst %s, expected the IPv6 gateway %s" % (what, fr[0:6].hex(":"), GW6_MAC))
    check(fr[12:14] == b"\x86\xdd", "%s: ethertype %s, expected 86dd" % (what, fr[12:14].hex()))
    ip6 = fr[14:]
    n = len(ip6_expected)
    check(len(ip6) == n or (len(fr) == 60 and len(ip6) > n and not any(ip6[n:])),
          "%s: %d IPv6 bytes in the frame, expected exactly %d" % (what, len(ip6), n))
    check(ip6[:n] == ip6_expected, "%s: IPv6 packet differs\n%s" % (what, diff_bytes(ip6[:n], ip6_expected)))


def check_icmp6_err(ip6, typ, code, param, invoking, dst, what):
    """ICMPv6 error from R6, hop limit 64, quoting invoking (hop limit as received or -1)."""
    check(len(ip6) >= 48, "%s: ICMPv6 error too short (%d)" % (what, len(ip6)))
    check(ip6[0] >> 4 == 6, "%s: not IPv6" % what)
    plen = struct.unpack("!H", ip6[4:6])[0]
    check(len(ip6) >= 40 + plen, "%s: payload length %d beyond packet" % (what, plen))
    ip6 = ip6[:40 + plen]
    check(ip6[6] == 58, "%s: next header %d, expected 58" % (what, ip6[6]))
    check(ip6[7] == 64, "%s: hop limit %d, expected 64" % (what, ip6[7]))
    check(ip6s(ip6[8:24]) == R6, "%s: source %s, expected %s" % (what, ip6s(ip6[8:24]), R6))
    check(ip6s(ip6[24:40]) == ip6s(ip6b(dst)), "%s: destination %s, expected %s" % (what, ip6s(ip6[24:40]), dst))
    check(ip6[40] == typ and ip6[41] == code,
          "%s: ICMPv6 %d/%d, expected %d/%d" % (what, ip6[40], ip6[41], typ, code))
    check(ipv6_l4_ok(ip6), "%s: ICMPv6 checksum invalid" % what)
    p = struct.unpack("!I", ip6[44:48])[0]
    check(p == param, "%s: ICMPv6 parameter/MTU %d, expected %d" % (what, p, param))
    check(len(ip6) <= 1280, "%s: error is %d bytes (> 1280, RFC 4443 §2.4(c))" % (what, len(ip6)))
    quote = ip6[48:]
    want = invoking[:min(len(invoking), 1280 - 48)]
    check(len(quote) == len(want), "%s: quotes %d bytes, expected %d (as much as fits in 1280)"
          % (what, len(quote), len(want)))
    alt = bytearray(want)
    alt[7] = (alt[7] - 1) & 0xff
    check(quote == want or quote == bytes(alt),
          "%s: quoted packet differs (hop limit as received or decremented allowed)\n%s"
          % (what, diff_bytes(quote, want)))


def check_icmp6_native(fr, typ, code, param, invoking, dst=H, what="ICMPv6 error"):
    check(fr[0:6] == bytes.fromhex(GW6_MAC.replace(":", "")),
          "%s: Ethernet dst %s, expected the IPv6 gateway %s" % (what, fr[0:6].hex(":"), GW6_MAC))
    check(fr[12:14] == b"\x86\xdd", "%s: ethertype %s, expected 86dd" % (what, fr[12:14].hex()))
    check_icmp6_err(fr[14:], typ, code, param, invoking, dst, what)


def diff_bytes(got, want):
    got, want = bytes(got), bytes(want)
    for i in range(min(len(got), len(want))):
        if got[i] != want[i]:
            return ("   first difference at byte %d: got %02x expected %02x (lengths %d/%d)\n"
                    "   got  [%d:]: %s\n   want [%d:]: %s"
                    % (i, got[i], want[i], len(got), len(want), i, got[i:i + 24].hex(" "),
                       i, want[i:i + 24].hex(" ")))
    return "   lengths differ: got %d expected %d" % (len(got), len(want))


def expect_count(res, n, what=""):
    check(len(res.frames) == n, "expected %d output frames%s, got %d:\n%s"
          % (n, (" (" + what + ")") if what else "", len(res.frames), frames_summary(res.frames)))


def is_bubble_frame(fr):
    return (len(fr) >= 14 + 28 + 40 and fr[12:14] == b"\x08\x00" and fr[14 + 9] == 17
            and struct.unpack("!H", fr[14 + 22:14 + 24])[0] == 3544)


def bubbles_in(res):
    return [f for f in res.frames if is_bubble_frame(f)]


# ------------------------------------------------------------------ counters

# Every key of STATS.json is a counter whose expected value a case states (0 unless
# it says otherwise), except these: MEASURES vary from run to run (timing, memory)
# and are not asserted; DERIVED are checked against the capture and the output
# themselves. A new key in the relay's report is therefore asserted 0 by every case
# until a case expects it: the harness cannot miss a counter the relay raises.
MEASURES = {"polls_busy", "polls_idle", "cycles_busy", "cycles_idle", "rss_peak_kb"}
DERIVED = {"rx_packets", "tx_packets", "rx_bytes", "tx_bytes", "drops_total", "accounting_ok",
           "drops", "worker_rx_packets"}
# The accounting identity's terms: present in every report.
ACCOUNTING = ["rx_packets", "tx_packets", "fwd_native", "fwd_teredo", "consumed", "queued_now"]


def load_drop_names():
    names = []
    with open(DROPS_DEF) as f:
        for line in f:
            line = line.strip()
            if line.startswith("TR_DROP("):
                names.append(line.split(",")[1].strip().strip('"'))
    return names


class Exp:
    """Expected STATS.json. Counters not set are expected to be 0, except those
    named in 'free' (not asserted). Drops not named are expected to be 0."""

    def __init__(self):
        self.c = collections.Counter()
        self.drops = collections.Counter()
        self.free = set()

    def add(self, **kw):
        for k, v in kw.items():
            check(k not in MEASURES and k not in DERIVED, "harness bug: %s is not a counter" % k)
            self.c[k] += v
        return self

    def set(self, **kw):
        for k, v in kw.items():
            check(k not in MEASURES and k not in DERIVED, "harness bug: %s is not a counter" % k)
            self.c[k] = v
        return self

    def drop(self, name, n=1):
        check(name in Env.drop_names, "harness bug: unknown drop reason %s" % name)
        self.drops[name] += n
        return self

    def ticks(self, n):
        return self.drop("eth_unknown_type", n)

    # --- building blocks (semantics: see the module notes at the end) ----------
    def native_encap(self, n=1):
        """n native packets encapsulated to a trusted peer directly."""
        return self.add(encapsulated=n, fwd_teredo=n)

    def native_queued_then_flushed(self, n=1):
        """n native packets to a not-yet-trusted peer: the worker hands them to control
        (to_control), which queues them and flushes them once the peer is trusted."""
        return self.add(queued=n, flushed=n, encapsulated=n, fwd_teredo=n, to_control=n)

    def native_queued(self, n=1):
        return self.add(queued=n, queued_now=n, to_control=n)

    def teredo_decap(self, n=1):
        return self.add(decapsulated=n, fwd_native=n)

    def direct_bubble(self, n=1):
        """n direct bubbles from a pending peer: control checks and consumes them."""
        return self.add(bubbles_received=n, consumed=n, to_control=n)

    def trusted_bubble(self, n=1):
        """n bubbles from a trusted peer at its mapping: the worker refreshes the entry and
        consumes them (RFC 4380 §5.2.3), control never sees them."""
        return self.add(bubbles_received=n, consumed=n)

    def trust_prelude(self):
        """trust_a(): native packet queued + bubble, direct bubble, flush."""
        self.add(bubbles_sent=1, peers_created=1, peers_trusted=1, peers_current=1)
        self.native_queued_then_flushed(1)
        self.direct_bubble(1)
        return self


def counter_names(st):
    """The counters of a report: every key but the measures and the derived ones."""
    return [k for k in st if k not in MEASURES and k not in DERIVED]


def check_stats(res, exp):
    """Every counter of STATS.json equals what the case expects (0 where it says nothing),
    every drop reason likewise; rx/tx packets and bytes equal the capture's and OUT.pcap's;
    drops_total is the sum of the reasons; the accounting identity holds."""
    st = res.stats
    errs = []
    for k in ACCOUNTING + sorted(DERIVED):
        if k not in st:
            errs.append("STATS.json lacks %r" % k)
    for k in sorted(set(exp.c) | set(x for x in exp.free if not x.startswith("drop:"))):
        if k not in st:
            errs.append("harness bug: the case expects counter %r, STATS.json has no such key" % k)
    if errs:
        raise Fail("\n".join(errs))
    drops = st["drops"]
    if not isinstance(drops, dict):
        raise Fail("STATS.json 'drops' is not an object")
    for n in Env.drop_names:
        if n not in drops:
            errs.append("drops lacks %r (every reason of drop_reasons.def, zeros included)" % n)
    for n in drops:
        if n not in Env.drop_names:
            errs.append("drops has %r, not in drop_reasons.def" % n)
    for k in counter_names(st):
        if not isinstance(st[k], int) or isinstance(st[k], bool):
            errs.append("counter %s = %r is not an integer" % (k, st[k]))
    if errs:
        raise Fail("\n".join(errs))
    # contract invariants
    if st["rx_packets"] != res.nin:
        errs.append("rx_packets %s, the capture has %d frames" % (st["rx_packets"], res.nin))
    if st["tx_packets"] != len(res.frames):
        errs.append("tx_packets %s, OUT.pcap has %d frames" % (st["tx_packets"], len(res.frames)))
    if st["rx_bytes"] != res.nin_bytes:
        errs.append("rx_bytes %s, the capture has %d bytes" % (st["rx_bytes"], res.nin_bytes))
    out_bytes = sum(len(f) for f in res.frames)
    if st["tx_bytes"] != out_bytes:
        errs.append("tx_bytes %s, OUT.pcap has %d bytes" % (st["tx_bytes"], out_bytes))
    total_drops = sum(v for v in drops.values() if isinstance(v, int))
    if st["drops_total"] != total_drops:
        errs.append("drops_total %s, the reasons sum to %d" % (st["drops_total"], total_drops))
    acc = st["fwd_native"] + st["fwd_teredo"] + st["consumed"] + st["queued_now"] + total_drops
    if st["accounting_ok"] is not True:
        errs.append("accounting_ok is %r" % st["accounting_ok"])
    if acc != st["rx_packets"]:
        errs.append("accounting: rx_packets %d != fwd_native %d + fwd_teredo %d + consumed %d + "
                    "queued_now %d + drops %d = %d" % (st["rx_packets"], st["fwd_native"],
                                                       st["fwd_teredo"], st["consumed"],
                                                       st["queued_now"], total_drops, acc))
    for k in counter_names(st):
        if k in exp.free:
            continue
        want = exp.c.get(k, 0)
        if st[k] != want:
            errs.append("counter %s = %s, expected %d" % (k, st[k], want))
    for n in Env.drop_names:
        if ("drop:" + n) in exp.free:
            continue
        want = exp.drops.get(n, 0)
        if drops.get(n) != want:
            errs.append("drop %s = %s, expected %d" % (n, drops.get(n), want))
    if errs:
        raise Fail("STATS.json differs (dir %s):\n   " % res.workdir + "\n   ".join(errs))


# ------------------------------------------------------------------ capture helper

class Cap:
    def __init__(self):
        self.frames = []

    def add(self, t, fr):
        self.frames.append((t, fr))
        return self

    def ticks(self, start, stop, step):
        n = 0
        t = start
        while t <= stop + 1e-9:
            self.add(round(t, 6), f_tick())
            t += step
            n += 1
        return n

    def upto(self, t):
        return [x for x in self.frames if x[0] <= t + 1e-9]


P0 = ip6_udp(H, A, b"prelude", sport=7000, dport=7001)


def trust_a(cap, t=0.0):
    """Notes §6 'trust A': native packet H->A (queued, indirect bubble), then
    the §2.8 direct bubble from 192.0.2.1:4096. Outputs: bubble, flushed P0."""
    cap.add(t, f_native(P0))
    cap.add(t + 0.5, f_direct_bubble_a())


def check_trust_outputs(res):
    check(len(res.frames) >= 2, "trust A: expected at least 2 output frames:\n" + frames_summary(res.frames))
    src = check_bubble(res.frames[0], A, what="trust A: indirect bubble")
    check_encap(res.frames[1], dec_hop(P0), what="trust A: flushed packet")
    return src


def data_from_a(ip6, udp_csum=None):
    return f_teredo(A_V4, A_PORT, ip6, udp_csum=udp_csum)


# ================================================================== cases

def case_T01():
    """Address decoding (RFC 4380 §4, RFC 5991 §3.1, RFC 6081 §3.1/§3.5 vectors of notes §1.3)
    through the library's addr_tool; encode(decode(x)) == x."""
    vectors = [
        ("2001:0:cb00:7178:0:efff:3fff:fdfe", "203.0.113.120", "192.0.2.1", 4096, 0x0000),
        ("2001:0:c633:6476:0:dfff:3fff:fdf5", "198.51.100.118", "192.0.2.10", 8192, 0x0000),
        ("2001:0:cb00:7178:0:f000:39cc:9b89", "203.0.113.120", "198.51.100.118", 4095, 0x0000),
        ("2001:0:cb00:7178:0:efff:39cc:9b89", "203.0.113.120", "198.51.100.118", 4096, 0x0000),
        ("2001:0:cb00:7178:14a5:efff:3fff:fdfe", "203.0.113.120", "192.0.2.1", 4096, 0x14a5),
        ("2001:0:cb00:7178:8000:efff:3fff:fdfe", "203.0.113.120", "192.0.2.1", 4096, 0x8000),
        ("2001:0:cb00:7178:0:efff:f5ff:fffe", "203.0.113.120", "10.0.0.1", 4096, 0x0000),
        ("2001:0:a01:101:0:efff:3fff:fdfe", "10.1.1.1", "192.0.2.1", 4096, 0x0000),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "65.54.227.120", "192.0.2.45", 40000, 0x8000),
    ]
    # Harness self-check of the table against Python's ipaddress oracle.
    for a, srv, cli, port, flags in vectors:
        t = ipaddress.IPv6Address(a).teredo
        check(t == (ipaddress.IPv4Address(srv), ipaddress.IPv4Address(cli)),
              "harness bug: vector %s vs ipaddress %s" % (a, t))
        check(teredo_addr(srv, port, cli, flags) == ipaddress.IPv6Address(a).compressed,
              "harness bug: encoder on %s" % a)
    check(Env.addr_tool and os.access(Env.addr_tool, os.X_OK), "addr_tool %r missing" % Env.addr_tool)
    inp = "".join(v[0] + "\n" for v in vectors)
    p = subprocess.run([Env.addr_tool], input=inp.encode(), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    check(p.returncode == 0, "addr_tool exited %d: %s" % (p.returncode, p.stderr.decode(errors="replace")))
    lines = p.stdout.decode().strip().splitlines()
    check(len(lines) == len(vectors), "addr_tool printed %d lines for %d addresses:\n%s"
          % (len(lines), len(vectors), p.stdout.decode()))
    for (a, srv, cli, port, flags), line in zip(vectors, lines):
        f = line.split()
        check(len(f) == 4, "addr_tool line %r: expected 'server client port flags'" % line)
        want = [srv, cli, str(port), "0x%04x" % flags]
        check(f[:3] == want[:3] and int(f[3], 16) == flags and f[3].lower() == want[3],
              "%s: addr_tool says %r, expected %r" % (a, line, " ".join(want)))
        re = teredo_addr(f[0], int(f[2]), f[1], int(f[3], 16))
        check(ipaddress.IPv6Address(re) == ipaddress.IPv6Address(a),
              "%s: encode(decode(x)) = %s" % (a, re))


def case_T02():
    """Origin indication for 1.2.3.4:337 = 00 00 fe ae fe fd fc fb (RFC 4380 §5.1.1).
    No library tool prints origin indications, so the bytes are built by the harness
    (a fixture self-check); the relay's parser is exercised by a trusted A sending
    exactly those 8 bytes before an IPv6 packet: it must be stripped, ignored, and the
    packet forwarded."""
    oi = origin_indication("1.2.3.4", 337)
    check(oi == hx("00 00 fe ae fe fd fc fb"), "harness origin indication %s" % oi.hex(" "))
    cap = Cap()
    trust_a(cap)
    d = ip6_udp(A, H, b"after origin indication")
    cap.add(1.0, data_from_a(oi + d))
    res = run_relay(cap.frames, label="T02")
    expect_count(res, 3)
    check_trust_outputs(res)
    check_native(res.frames[2], dec_hop(d))
    check_stats(res, Exp().trust_prelude().teredo_decap().add(origin_ignored=1))


def _native_drop(case, dst, drop):
    cap = Cap()
    p = ip6_echo(H, dst)
    cap.add(0.0, f_native(p))
    res = run_relay(cap.frames, label=case)
    expect_count(res, 0, "silent drop")
    check_stats(res, Exp().drop(drop))


def case_T03():
    """Native H -> 2001:db8::99 (not Teredo): silently dropped, tx_not_teredo, no ICMPv6."""
    _native_drop("T03", "2001:db8::99", "tx_not_teredo")


def _first_contact(case, peer):
    cap = Cap()
    p = ECHO_28 if peer == A else ip6_echo(H, peer)
    cap.add(0.0, f_native(p))
    res = run_relay(cap.frames, label=case)
    expect_count(res, 1, "one indirect bubble")
    src = check_bubble(res.frames[0], peer)
    check_stats(res, Exp().native_queued().add(bubbles_sent=1, peers_created=1, peers_current=1,
                                               peers_pending=1))
    return res, src


def case_T04():
    """Native echo H->A, no entry: exactly one indirect bubble R4:3545 -> S:3544 (the §2.8
    frame modulo IPv4 ID and bubble source, plus the Nonce trailer when the relay adds one;
    exactly 40 bytes with [bubbles] nonce_trailer = false), nothing to 192.0.2.1; packet
    queued; PENDING."""
    res, src = _first_contact("T04", A)
    _compare_bubble_28(res.frames[0], "default config")
    # [bubbles] nonce_trailer = false: exactly the 40-byte bubble of §2.8.
    ini = fixture_ini(extra="\n[bubbles]\nnonce_trailer = false\n")
    res = run_relay([(0.0, f_native(ECHO_28))], ini=ini, label="T04-notrailer")
    expect_count(res, 1, "one indirect bubble")
    check_bubble(res.frames[0], A)
    check(len(res.frames[0]) == 14 + 68, "nonce_trailer = false: bubble datagram is %d bytes, expected 68"
          % (len(res.frames[0]) - 14))
    _compare_bubble_28(res.frames[0], "nonce_trailer = false")


def _compare_bubble_28(fr, what):
    """Same bytes as the §2.8 frame once the IPv4 ID and bubble interface identifier are pinned;
    with a Nonce trailer, §2.8's 'indirect bubble with an RFC 6081 Nonce trailer' (plen stays 0)."""
    ip = bytearray(fr[14:])
    tot = struct.unpack("!H", ip[2:4])[0]
    ip = ip[:tot]
    want = bytearray(BUBBLE_28)
    if tot == 74:
        want += ip[68:74]                                 # the relay's nonce, 01 04 xx xx xx xx
        want[2:4] = struct.pack("!H", 74)
        want[24:26] = struct.pack("!H", 54)
    want = udp4_fix(ipv4_fix(bytes(want)))
    ip[4:6] = b"\0\0"
    ip[28 + 16:28 + 24] = BUBBLE_28_IID                   # bubble src bytes 8..15
    ip = udp4_fix(ipv4_fix(bytes(ip)))
    check(ip == want, "T04 (%s): bubble differs from the §2.8 frame (ID and source IID pinned)\n%s"
          % (what, diff_bytes(ip, want)))


def case_T05():
    """Native H->Acone (cone bit set): same as T04, the cone bit is ignored (RFC 5991 §3.2)."""
    _first_contact("T05", A_CONE)


def case_T06():
    """Native H->Teredo address embedding client 10.0.0.1: silent, no entry, tx_client_not_global."""
    _native_drop("T06", "2001:0:cb00:7178:0:efff:f5ff:fffe", "tx_client_not_global")


def case_T07():
    """Native H->Teredo address with server 10.1.1.1: silent, tx_server_not_global."""
    _native_drop("T07", "2001:0:a01:101:0:efff:3fff:fdfe", "tx_server_not_global")


def case_T08():
    """Native H->ff0e::1: dropped, tx_dst_multicast."""
    _native_drop("T08", "ff0e::1", "tx_dst_multicast")


def case_T09():
    """After T04, a second packet H->A at t+1: queued, no second bubble (2 s pacing).
    Then the §2.8 direct bubble at t+1.5 flushes both, in arrival order."""
    cap = Cap()
    p1, p2 = ip6_echo(H, A, seq=1), ip6_echo(H, A, seq=2)
    cap.add(0.0, f_native(p1))
    cap.add(1.0, f_native(p2))
    res = run_relay(cap.frames, label="T09a")
    expect_count(res, 1, "one bubble only")
    check_bubble(res.frames[0], A)
    check_stats(res, Exp().native_queued(2).add(bubbles_sent=1, peers_created=1, peers_current=1,
                                                peers_pending=1))
    cap.add(1.5, f_direct_bubble_a())
    res = run_relay(cap.frames, label="T09b")
    expect_count(res, 3, "bubble then both queued packets")
    check_bubble(res.frames[0], A)
    check_encap(res.frames[1], dec_hop(p1), what="first queued packet")
    check_encap(res.frames[2], dec_hop(p2), what="second queued packet")
    check_stats(res, Exp().native_queued_then_flushed(2).direct_bubble().add(
        bubbles_sent=1, peers_created=1, peers_trusted=1, peers_current=1))


def _giveup_capture(n_queued=2, until=9.0):
    cap = Cap()
    pk = [ip6_echo(H, A, seq=i + 1) for i in range(n_queued)]
    for i, p in enumerate(pk):
        cap.add(float(i), f_native(p))
    nt = cap.ticks(0.25 + (n_queued - 1), until, 0.25)
    return cap, pk, nt


def case_T10():
    """No reply to the bubble: bubbles at t, t+2, t+4, t+6; at t+8 the entry is removed, each
    queued packet dropped tx_verify_failed and answered by ICMPv6 1/3 to its source.
    Checked at the end and by replaying prefixes of the capture around each deadline."""
    cap, pk, _ = _giveup_capture(2, 9.0)
    # (end of capture, bubbles expected, ICMPv6 expected)
    for until, nb, ni in [(1.9, 1, 0), (2.25, 2, 0), (3.75, 2, 0), (4.25, 3, 0), (5.75, 3, 0),
                          (6.25, 4, 0), (7.75, 4, 0), (8.25, 4, 2)]:
        fr = cap.upto(until)
        res = run_relay(fr, label="T10-%s" % until)
        expect_count(res, nb + ni, "capture ending at t+%.2f: %d bubbles, %d ICMPv6" % (until, nb, ni))
        for i, f in enumerate(res.frames[:nb]):
            check_bubble(f, A, what="bubble %d" % (i + 1))
    res = run_relay(cap.frames, label="T10")
    expect_count(res, 6, "4 bubbles then 2 ICMPv6 1/3")
    for i, f in enumerate(res.frames[:4]):
        check_bubble(f, A, what="bubble %d" % (i + 1))
    _check_icmp_set(res.frames[4:], 1, 3, 0, pk)
    nt = len(cap.frames) - 2
    check_stats(res, Exp().ticks(nt).drop("tx_verify_failed", 2).add(to_control=2,  # both via control
        
        queued=2, bubbles_sent=4, peers_created=1, peers_unverified_removed=1, icmp6_sent=2))


def _check_icmp_set(frames, typ, code, param, invoking, dst=H):
    """One ICMPv6 error per invoking packet, in any order."""
    check(len(frames) == len(invoking), "expected %d ICMPv6 errors, got %d" % (len(invoking), len(frames)))
    left = list(invoking)
    for fr in frames:
        errs = []
        for inv in left:
            try:
                check_icmp6_native(fr, typ, code, param, inv, dst=dst)
                left.remove(inv)
                break
            except Fail as e:
                errs.append(str(e))
        else:
            raise Fail("ICMPv6 error matches no invoking packet: %s\n   %s"
                       % (describe(fr), "\n   ".join(errs)))


def case_T11():
    """After T10, a new packet H->A at t+100: no bubble (4 already sent in 300 s),
    dropped tx_bubble_limit, ICMPv6 1/3 to H."""
    cap, pk, nt = _giveup_capture(1, 9.0)
    p2 = ip6_echo(H, A, seq=2)
    cap.add(100.0, f_native(p2))
    res = run_relay(cap.frames, label="T11")
    expect_count(res, 6, "4 bubbles, ICMPv6 for the give-up, ICMPv6 for the t+100 packet")
    for i in range(4):
        check_bubble(res.frames[i], A, what="bubble %d" % (i + 1))
    check_icmp6_native(res.frames[4], 1, 3, 0, pk[0], what="give-up ICMPv6")
    check_icmp6_native(res.frames[5], 1, 3, 0, p2, what="bubble-limit ICMPv6")
    check_stats(res, Exp().ticks(nt).drop("tx_verify_failed").drop("tx_bubble_limit").add(to_control=2,
        
        queued=1, bubbles_sent=4, peers_created=1, peers_unverified_removed=1, icmp6_sent=2))


def _t12_capture():
    cap = Cap()
    pk = [ip6_udp(H, A, sport=8000 + i, total=600) for i in range(3)]
    for i, p in enumerate(pk):
        cap.add(0.1 * i, f_native(p))
    return cap, pk


def case_T12():
    """Untrusted A, three 600-byte packets: two queued (1200 <= 1280), third tx_queue_overflow."""
    cap, pk = _t12_capture()
    res = run_relay(cap.frames, label="T12")
    expect_count(res, 1, "one bubble")
    check_bubble(res.frames[0], A)
    check_stats(res, Exp().native_queued(2).drop("tx_queue_overflow").add(to_control=1,  # the overflowing one
        
        bubbles_sent=1, peers_created=1, peers_current=1, peers_pending=1))


def case_T13():
    """After T12, the §2.8 direct bubble: both queued packets go to 192.0.2.1:4096 from R4:3545
    in arrival order, the bubble is not forwarded, A is TRUSTED (a later packet goes directly)."""
    cap, pk = _t12_capture()
    cap.add(0.5, f_direct_bubble_a())
    p4 = ip6_udp(H, A, b"after trust")
    cap.add(1.0, f_native(p4))
    res = run_relay(cap.frames, label="T13")
    expect_count(res, 4, "bubble, 2 flushed, 1 direct")
    check_bubble(res.frames[0], A)
    check_encap(res.frames[1], dec_hop(pk[0]), what="first queued")
    check_encap(res.frames[2], dec_hop(pk[1]), what="second queued")
    check_encap(res.frames[3], dec_hop(p4), what="sent after trust")
    check_stats(res, Exp().native_queued_then_flushed(2).native_encap(1).direct_bubble()
                .drop("tx_queue_overflow").add(to_control=1,
                bubbles_sent=1, peers_created=1, peers_trusted=1,
                                               peers_current=1))


def case_T14():
    """Trusted A, native echo H->A (§2.8 frame): one datagram equal to the §2.8 encapsulated
    frame modulo IPv4 ID (hop limit 63, DF 0, TTL 64, UDP checksum 5b59)."""
    cap = Cap()
    trust_a(cap)
    cap.add(1.0, f_native(ECHO_28))
    res = run_relay(cap.frames, label="T14")
    expect_count(res, 3)
    check_trust_outputs(res)
    ip = check_encap(res.frames[2], dec_hop(ECHO_28))
    pinned = bytearray(ip)
    pinned[4:6] = b"\0\0"
    pinned = ipv4_fix(bytes(pinned))
    check(pinned == ENCAP_28, "T14: datagram differs from §2.8 (IPv4 ID pinned to 0)\n%s"
          % diff_bytes(pinned, ENCAP_28))
    check_stats(res, Exp().trust_prelude().native_encap())


def case_T15():
    """Trust A at t+0.5, silence until t+31.5, native H->A: validity (30 s) expired ->
    queued + one indirect bubble (re-verification), nothing sent to 192.0.2.1."""
    cap = Cap()
    trust_a(cap)
    p = ip6_udp(H, A, b"late")
    cap.add(31.5, f_native(p))
    res = run_relay(cap.frames, label="T15")
    expect_count(res, 3, "trust outputs + one re-verification bubble")
    check_trust_outputs(res)
    check_bubble(res.frames[2], A, what="re-verification bubble")
    e = Exp().trust_prelude().native_queued().add(bubbles_sent=1)
    e.add(peers_pending=1)          # the re-verifying TRUSTED entry holds a verification slot
    check_stats(res, e)


def case_reverify_completes():
    """After T15 (A trusted, validity expired, one packet queued, re-verification bubble), A's
    direct bubble from its trusted mapping ends the re-verification: the queued packet is flushed
    at once, a later H->A goes directly, and no further bubble or give-up follows (ticks to +12 s)."""
    cap = Cap()
    trust_a(cap)
    p = ip6_udp(H, A, b"late")
    cap.add(31.5, f_native(p))
    cap.add(32.0, f_direct_bubble_a())
    q = ip6_udp(H, A, b"after re-verification")
    cap.add(32.5, f_native(q))
    nt = cap.ticks(33.0, 44.0, 1.0)
    res = run_relay(cap.frames, label="reverify_completes")
    expect_count(res, 5, "trust outputs, re-verification bubble, flushed packet, direct packet")
    check_trust_outputs(res)
    check_bubble(res.frames[2], A, what="re-verification bubble")
    check_encap(res.frames[3], dec_hop(p), what="queued packet flushed on re-verification")
    check_encap(res.frames[4], dec_hop(q), what="sent directly afterwards")
    check_stats(res, Exp().ticks(nt).trust_prelude().native_queued_then_flushed(1).native_encap(1)
                .direct_bubble(1).add(bubbles_sent=1, peers_trusted=1))


def case_T16():
    """Trust A at t+0.5, packet from A at t+25, native H->A at t+50: sent directly
    (validity refreshed by reception)."""
    cap = Cap()
    trust_a(cap)
    d = ip6_udp(A, H, b"from A at 25")
    cap.add(25.0, data_from_a(d))
    p = ip6_udp(H, A, b"to A at 50")
    cap.add(50.0, f_native(p))
    res = run_relay(cap.frames, label="T16")
    expect_count(res, 4)
    check_trust_outputs(res)
    check_native(res.frames[2], dec_hop(d))
    check_encap(res.frames[3], dec_hop(p))
    check_stats(res, Exp().trust_prelude().teredo_decap().native_encap())


def case_T17():
    """Trusted A, native 1400-byte packet: nothing to IPv4; ICMPv6 2/0 MTU 1280 from R6 to H
    quoting as much as fits in 1280 bytes; tx_too_big."""
    cap = Cap()
    trust_a(cap)
    p = ip6_udp(H, A, total=1400)
    cap.add(1.0, f_native(p))
    res = run_relay(cap.frames, label="T17")
    expect_count(res, 3)
    check_trust_outputs(res)
    check_icmp6_native(res.frames[2], 2, 0, 1280, p, what="Packet Too Big")
    check(len(res.frames[2]) == 14 + 1280, "Packet Too Big is %d bytes of IPv6, expected 1280"
          % (len(res.frames[2]) - 14))
    check_stats(res, Exp().trust_prelude().drop("tx_too_big").add(icmp6_sent=1, to_control=1))  # control sends the error
    #)


def case_T18():
    """Hop limit exhausted. (a) trusted A, native packet hop limit 1: ICMPv6 3/0 to H, nothing
    encapsulated (tx_hop_limit). (b) A sends hop limit 1 to H: Time Exceeded from R6 to A,
    encapsulated back to 192.0.2.1:4096 (rx_hop_limit)."""
    cap = Cap()
    trust_a(cap)
    p = ip6_echo(H, A, hlim=1)
    cap.add(1.0, f_native(p))
    d = ip6_udp(A, H, b"hl1", hlim=1)
    cap.add(1.5, data_from_a(d))
    res = run_relay(cap.frames, label="T18")
    expect_count(res, 4)
    check_trust_outputs(res)
    check_icmp6_native(res.frames[2], 3, 0, 0, p, what="Time Exceeded (native side)")
    ip, pl = split_v4(res.frames[3], "Time Exceeded to A")
    check(ip4s(ip[16:20]) == A_V4 and struct.unpack("!H", ip[22:24])[0] == A_PORT,
          "Time Exceeded to A: sent to %s:%d" % (ip4s(ip[16:20]), struct.unpack("!H", ip[22:24])[0]))
    check_icmp6_err(pl, 3, 0, 0, d, A, "Time Exceeded (Teredo side)")
    # Both error candidates go to control, which sends the errors. The Time Exceeded sent back
    # encapsulated counts as icmp6_sent, not as encapsulated (which counts forwarded packets):
    # encapsulated stays the prelude's 1.
    e = Exp().trust_prelude().drop("tx_hop_limit").drop("rx_hop_limit").add(icmp6_sent=2,
                                                                            to_control=2)
    check_stats(res, e)


def case_T19():
    """Native H->Teredo address embedding 198.51.100.1:3545 (the relay): tx_loop."""
    _native_drop("T19", teredo_addr(S, RP, R4), "tx_loop")


def case_T20():
    """From 192.0.2.1:4097 with source A, data to H: rx_mapping_mismatch, no ICMPv6, no bubble.
    Once with no entry, once with A PENDING."""
    cap = Cap()
    d = ip6_udp(A, H, b"wrong port")
    cap.add(0.0, f_teredo(A_V4, A_PORT + 1, d))
    p = ip6_echo(H, A)
    cap.add(1.0, f_native(p))
    cap.add(1.5, f_teredo(A_V4, A_PORT + 1, d))
    res = run_relay(cap.frames, label="T20")
    expect_count(res, 1, "only the bubble for the native packet")
    check_bubble(res.frames[0], A)
    check_stats(res, Exp().drop("rx_mapping_mismatch", 2).native_queued().add(
        bubbles_sent=1, peers_created=1, peers_current=1, peers_pending=1))


def _teredo_drop(case, frames_after_trust, drop, n, trust=True, extra=None):
    cap = Cap()
    if trust:
        trust_a(cap)
    for i, fr in enumerate(frames_after_trust):
        cap.add(1.0 + 0.1 * i, fr)
    res = run_relay(cap.frames, label=case)
    expect_count(res, 2 if trust else 0, "nothing but the trust outputs")
    if trust:
        check_trust_outputs(res)
    e = Exp().trust_prelude() if trust else Exp()
    for name, k in ([(drop, n)] if isinstance(drop, str) else drop):
        e.drop(name, k)
    if extra:
        extra(e)
    check_stats(res, e)


def case_T21():
    """From 192.0.2.1:4096, inner source 2001:db8::99: rx_src_not_teredo."""
    _teredo_drop("T21", [data_from_a(ip6_udp("2001:db8::99", H))], "rx_src_not_teredo", 1, trust=False)


def case_T22():
    """From 192.0.2.1:4096, source A, data to H, no entry: rx_unknown_peer."""
    _teredo_drop("T22", [data_from_a(ip6_udp(A, H))], "rx_unknown_peer", 1, trust=False)


def case_accept_unknown():
    """[peers] accept_unknown = true (RFC 4380 §5.4.2 MAY): data from A at its embedded mapping with
    no entry is forwarded and A becomes TRUSTED (a later H->A goes directly, no bubble); from a
    mismatched mapping it is still dropped (rx_mapping_mismatch)."""
    cap = Cap()
    d = ip6_udp(A, H, b"first contact")
    cap.add(0.0, data_from_a(d))
    cap.add(0.1, f_teredo(A_V4, A_PORT + 1, ip6_udp(A, H, b"spoof")))
    p = ip6_udp(H, A, b"reply")
    cap.add(0.5, f_native(p))
    res = run_relay(cap.frames, ini=fixture_ini(extra="\n[peers]\naccept_unknown = true\n"),
                    label="accept_unknown")
    expect_count(res, 2, "forwarded data, direct reply")
    check_native(res.frames[0], dec_hop(d), what="data from an unknown peer")
    check_encap(res.frames[1], dec_hop(p), what="reply without a bubble")
    check_stats(res, Exp().teredo_decap(1).native_encap(1).drop("rx_mapping_mismatch")
                .add(peers_created=1, peers_trusted=1, peers_current=1,
                     to_control=1))   # the unknown peer's first packet: control admits it


def case_T23():
    """After T04, data A->H from 192.0.2.1:4096: accepted, A TRUSTED, queued packet flushed to
    192.0.2.1:4096, inner packet forwarded natively with hop limit - 1 (the two in either order)."""
    cap = Cap()
    cap.add(0.0, f_native(ECHO_28))
    d = ip6_echo_reply(A, H)
    cap.add(0.5, data_from_a(d))
    p = ip6_udp(H, A, b"after")
    cap.add(1.0, f_native(p))
    res = run_relay(cap.frames, label="T23")
    expect_count(res, 4)
    check_bubble(res.frames[0], A)
    pair = res.frames[1:3]
    if pair[0][12:14] == b"\x86\xdd":
        pair = [pair[1], pair[0]]
    check_encap(pair[0], dec_hop(ECHO_28), what="flushed echo")
    check_native(pair[1], dec_hop(d), what="decapsulated reply")
    check_encap(res.frames[3], dec_hop(p), what="after trust")
    check_stats(res, Exp().native_queued_then_flushed().teredo_decap().native_encap().add(to_control=1,  # A's first data: control trusts
        
        bubbles_sent=1, peers_created=1, peers_trusted=1, peers_current=1))


def case_T24():
    """Trusted A sends another direct bubble: consumed, nothing on the native side."""
    cap = Cap()
    trust_a(cap)
    cap.add(1.0, f_direct_bubble_a())
    res = run_relay(cap.frames, label="T24")
    expect_count(res, 2, "nothing but the trust outputs")
    check_trust_outputs(res)
    check_stats(res, Exp().trust_prelude().trusted_bubble())


def case_T25():
    """Invalid encapsulated IPv6 from trusted A: 39-byte payload; version nibble 4;
    plen 100 with 60 bytes present. Each rx_bad_ipv6."""
    d = ip6_udp(A, H, b"x" * 60)
    v4 = bytearray(d)
    v4[0] = 0x40
    short = bytearray(d[:60])
    short[4:6] = struct.pack("!H", 100)
    _teredo_drop("T25", [data_from_a(d[:39]), data_from_a(bytes(v4)), data_from_a(bytes(short))],
                 "rx_bad_ipv6", 3)


def case_T26():
    """Trusted A sends IPv6 (plen 8) + Nonce trailer 01 04 de ad be ef: accepted, the native
    packet is exactly the 48 IPv6 bytes (trailer stripped, RFC 6081 §4)."""
    cap = Cap()
    trust_a(cap)
    d = ip6_udp(A, H, b"")
    check(len(d) == 48, "harness bug")
    cap.add(1.0, data_from_a(d + hx("01 04 de ad be ef")))
    res = run_relay(cap.frames, label="T26")
    expect_count(res, 3)
    check_trust_outputs(res)
    check_native(res.frames[2], dec_hop(d))
    check_stats(res, Exp().trust_prelude().teredo_decap())


def case_T27():
    """Trailer type 0x41 (top bits 01): rx_trailer_discard. Type 0x81: accepted, stripped."""
    cap = Cap()
    trust_a(cap)
    d1 = ip6_udp(A, H, b"t41")
    d2 = ip6_udp(A, H, b"t81")
    cap.add(1.0, data_from_a(d1 + hx("41 04 de ad be ef")))
    cap.add(1.1, data_from_a(d2 + hx("81 04 de ad be ef")))
    res = run_relay(cap.frames, label="T27")
    expect_count(res, 3)
    check_trust_outputs(res)
    check_native(res.frames[2], dec_hop(d2))
    check_stats(res, Exp().trust_prelude().teredo_decap().drop("rx_trailer_discard"))


def case_T28():
    """UDP payload starting 00 02: rx_bad_encap."""
    _teredo_drop("T28", [data_from_a(b"\x00\x02" + b"\0" * 6 + ip6_udp(A, H))], "rx_bad_encap", 1)


def case_T29():
    """Trusted A sends origin indication (naming another address, 10.0.0.1:1) + valid IPv6:
    accepted, origin ignored (origin_ignored), forwarded."""
    cap = Cap()
    trust_a(cap)
    d = ip6_udp(A, H, b"with origin")
    cap.add(1.0, data_from_a(origin_indication("10.0.0.1", 1) + d))
    res = run_relay(cap.frames, label="T29")
    expect_count(res, 3)
    check_trust_outputs(res)
    check_native(res.frames[2], dec_hop(d))
    check_stats(res, Exp().trust_prelude().teredo_decap().add(origin_ignored=1))


def case_T30():
    """Trusted A sends 00 01 authentication encapsulation + IPv6: rx_auth_unexpected."""
    auth = b"\x00\x01\x00\x00" + hx("11 22 33 44 55 66 77 88") + b"\x00"
    _teredo_drop("T30", [data_from_a(auth + ip6_udp(A, H))], "rx_auth_unexpected", 1)


def case_T31():
    """Trusted A sends data to B (Teredo) and to 2001:db9::1 (not served): rx_dst_teredo,
    rx_dst_not_served, no ICMPv6."""
    _teredo_drop("T31", [data_from_a(ip6_udp(A, B)), data_from_a(ip6_udp(A, "2001:db9::1"))],
                 [("rx_dst_teredo", 1), ("rx_dst_not_served", 1)], None)


def case_T32():
    """Trusted A sends non-bubbles to fe80::1 and ::1: rx_dst_not_global (2)."""
    _teredo_drop("T32", [data_from_a(ip6_udp(A, "fe80::1")), data_from_a(ip6_udp(A, "::1"))],
                 "rx_dst_not_global", 2)


def case_T37():
    """Trust A, then native H->A' (same mapping, flags 0x14a5): a new PENDING peer (indirect
    bubble for A', packet queued), nothing sent to 192.0.2.1."""
    cap = Cap()
    trust_a(cap)
    p = ip6_udp(H, A_RAND, b"to A'")
    cap.add(1.0, f_native(p))
    res = run_relay(cap.frames, label="T37")
    expect_count(res, 3)
    check_trust_outputs(res)
    check_bubble(res.frames[2], A_RAND)
    check_stats(res, Exp().trust_prelude().native_queued().add(
        bubbles_sent=1, peers_created=1, peers_current=1, peers_pending=1))


def case_T38():
    """Datagrams from 10.0.0.1:4096 (not global): with source ...:efff:f5ff:fffe, and with
    source A while A is trusted. Both rx_src_v4_not_global."""
    na = "2001:0:cb00:7178:0:efff:f5ff:fffe"
    _teredo_drop("T38", [f_teredo("10.0.0.1", 4096, ip6_udp(na, H)),
                         f_teredo("10.0.0.1", 4096, ip6_udp(A, H))], "rx_src_v4_not_global", 2)


def case_T39():
    """Trusted A: datagram with a wrong UDP checksum -> rx_bad_udp_csum; with checksum 0
    (none, RFC 768) -> accepted and forwarded."""
    cap = Cap()
    trust_a(cap)
    d1 = ip6_udp(A, H, b"bad csum")
    good = data_from_a(d1)
    c = struct.unpack("!H", good[14 + 26:14 + 28])[0]
    bad = c ^ 0x5a5a
    cap.add(1.0, data_from_a(d1, udp_csum=bad if bad else 1))
    d2 = ip6_udp(A, H, b"no csum")
    cap.add(1.1, data_from_a(d2, udp_csum=0))
    res = run_relay(cap.frames, label="T39")
    expect_count(res, 3)
    check_trust_outputs(res)
    check_native(res.frames[2], dec_hop(d2))
    check_stats(res, Exp().trust_prelude().teredo_decap().drop("rx_bad_udp_csum"))


def case_T40():
    """Trusted A sends a 1308-byte datagram as two IPv4 fragments, last one first: reassembled and
    forwarded (1280-byte IPv6). A lone first fragment of another datagram times out:
    rx_reasm_timeout."""
    cap = Cap()
    trust_a(cap)
    d = ip6_udp(A, H, total=1280)
    pkt = IP(src=A_V4, dst=R4, ttl=64, id=0x1111) / UDP(sport=A_PORT, dport=RP) / Raw(d)
    full = bytes(pkt)
    check(len(full) == 1308, "harness bug: %d" % len(full))
    frags = [bytes(f) for f in fragment(IP(full), fragsize=1184)]
    check(len(frags) == 2, "harness bug: %d fragments" % len(frags))
    cap.add(1.0, f_ipv4(frags[1]))
    cap.add(1.1, f_ipv4(frags[0]))
    d2 = ip6_udp(A, H, total=1280)
    lone = [bytes(f) for f in fragment(IP(bytes(IP(src=A_V4, dst=R4, ttl=64, id=0x2222) /
                                                   UDP(sport=A_PORT, dport=RP) / Raw(d2))),
                                          fragsize=1184)][0]
    cap.add(2.0, f_ipv4(lone))
    # Reassembly time-out is 5 s (docs/decisions.md D23): ticks to t=10 s, well
    # before the trusted peer's 60 s idle expiry.
    nt = cap.ticks(3.0, 10.0, 1.0)
    res = run_relay(cap.frames, label="T40")
    expect_count(res, 3, "trust outputs + the reassembled packet")
    check_trust_outputs(res)
    check_native(res.frames[2], dec_hop(d), what="reassembled datagram")
    e = Exp().trust_prelude().teredo_decap().ticks(nt).drop("rx_reasm_timeout")
    # The three fragments go to control (reassembly); the first of the pair is absorbed into
    # the datagram (consumed), the lone one times out.
    e.add(to_control=3, consumed=1)
    check_stats(res, e)


def case_T41():
    """No ICMPv6 about ICMPv6 errors, multicast destinations or an unspecified source
    (RFC 4443 §2.4(e)): a native Destination Unreachable to A that fails verification;
    a native packet to ff0e::1; a native packet from :: to A."""
    cap = Cap()
    inner = ip6_udp(A, H, b"inner")
    err = bytes(IPv6(src=H, dst=A, hlim=64) / ICMPv6DestUnreach(code=4) / Raw(inner))
    cap.add(0.0, f_native(err))
    cap.add(0.1, f_native(ip6_echo(H, "ff0e::1")))
    cap.add(0.2, f_native(ip6_echo("::", A_CONE)))
    nt = cap.ticks(0.25, 9.0, 0.25)
    res = run_relay(cap.frames, label="T41")
    expect_count(res, 4, "4 bubbles, no ICMPv6")
    for i in range(4):
        check_bubble(res.frames[i], A, what="bubble %d" % (i + 1))
    check_stats(res, Exp().ticks(nt).drop("tx_verify_failed").drop("tx_dst_multicast")
                .drop("tx_src_invalid").add(to_control=1,  # the error to A only
                queued=1, bubbles_sent=4, peers_created=1,
                                            peers_unverified_removed=1))


def case_T42():
    """1000 verification failures within 1 s toward H with [icmp6] rate = 10, burst = 10:
    ICMPv6 errors <= budget, icmp6_ratelimited counts the rest."""
    servers = ["203.0.113.%d" % (100 + k) for k in range(10)]
    cap = Cap()
    peers = []
    for i in range(1000):
        srv = servers[i % 10]
        peer = teredo_addr(srv, 10000 + i, "198.18.%d.%d" % (i // 250, i % 250 + 1))
        peers.append((peer, srv))
        cap.add(i * 0.001, f_native(ip6_echo(H, peer, seq=i)))
    nt = cap.ticks(1.25, 9.5, 0.25)
    ini = fixture_ini(icmp_rate=10, icmp_burst=10)
    res = run_relay(cap.frames, ini=ini, label="T42")
    st = res.stats
    nb = len(bubbles_in(res))
    nicmp = len(res.frames) - nb
    check(nb == 4000, "expected 4000 bubbles (4 per peer), got %d" % nb)
    check(nicmp == st["icmp6_sent"], "%d ICMPv6 frames but icmp6_sent = %d" % (nicmp, st["icmp6_sent"]))
    # Each peer gives up at its own deadline (replay steps through them, D91): failures at
    # t+8.000 .. t+8.999, one per ms. The bucket holds the burst (10) at the first and gains
    # a token every 100 ms (rate 10/s): 9 more by t+8.999, so exactly 19 errors leave.
    want = 10 + int(0.999 * 10)
    check(nicmp == want, "ICMPv6 errors sent: %d, expected exactly %d (burst 10 + 9 refilled)"
          % (nicmp, want))
    for fr in res.frames:
        if not is_bubble_frame(fr):
            check(fr[12:14] == b"\x86\xdd" and fr[14 + 40] == 1 and fr[14 + 41] == 3,
                  "unexpected frame %s" % describe(fr))
    e = Exp().ticks(nt).drop("tx_verify_failed", 1000).add(
        queued=1000, bubbles_sent=4000, peers_created=1000, peers_unverified_removed=1000,
        icmp6_sent=nicmp, icmp6_ratelimited=1000 - nicmp, to_control=1000)
    check_stats(res, e)


def case_T43():
    """Multi-worker run (two workers + control, MULTI): trusted A, 200 native packets from many
    hosts, spread over both workers: every outer datagram leaves from 198.51.100.1:3545."""
    cap = Cap()
    trust_a(cap)
    pk = []
    for i in range(200):
        p = ip6_udp("2001:db8:%x::%x" % (i % 16, i + 2), A, b"n%d" % i, sport=1024 + i)
        pk.append(p)
        cap.add(1.0 + i * 0.001, f_native(p))
    res = run_relay(cap.frames, lcores=MULTI, label="T43")
    check_workers_shared(res, 2)
    expect_count(res, 202)
    for fr in res.frames:
        split_v4(fr, "T43 output")          # checks source 198.51.100.1:3545 and checksums
    check_trust_outputs(res)
    got = collections.Counter(bytes(fr[14 + 28:]) for fr in res.frames[2:])
    want = collections.Counter(dec_hop(p) for p in pk)
    check(got == want, "T43: the 200 encapsulated packets differ from the input (multiset)")
    check_stats(res, Exp().trust_prelude().native_encap(200))


def case_T44():
    """2^16 native packets to distinct Teredo addresses with the same server S within 1 s,
    [bubbles] server_rate = 100, [peers] pending_capacity = 1024: exactly 1024 PENDING entries
    and 64 512 tx_peer_table_full, exactly 102 bubbles to S (923 rate-limited), trusted A
    untouched."""
    n = 1 << 16
    frames = []
    # trust A first (uses one bubble to S at t=0)
    frames.append((0.0, f_native(P0)))
    frames.append((0.5, f_direct_bubble_a()))
    # template H -> Teredo(S, port, client) UDP, patch destination bytes 8..15 and checksum
    tmpl = bytearray(f_native(ip6_udp(H, teredo_addr(S, 1, "198.18.0.1"), b"flood", sport=9, dport=9)))
    ip6o = 14
    udpo = ip6o + 40
    tmpl[udpo + 6:udpo + 8] = b"\0\0"
    base = sum16(bytes(tmpl[ip6o + 8:ip6o + 32]))          # src + dst[0..8) of the pseudo-header
    plen = struct.unpack("!H", tmpl[ip6o + 4:ip6o + 6])[0]
    base += sum16(struct.pack("!IxxxB", plen, 17)) + sum16(bytes(tmpl[udpo:]))
    for i in range(n):
        cl = 0xc6120000 | i                 # 198.18.0.0/16: global (RFC 4380 §5.2.4), distinct
        port = 40000
        tail = struct.pack("!HHI", 0, port ^ 0xffff, cl ^ 0xffffffff)
        s = base + sum16(tail)
        c = (~fold(s)) & 0xffff or 0xffff
        tmpl[ip6o + 32:ip6o + 40] = tail
        tmpl[udpo + 6:udpo + 8] = struct.pack("!H", c)
        frames.append((1.0 + i / n, bytes(tmpl)))
    frames.append((2.1, f_native(ECHO_28)))
    # spot check the patched checksum with scapy on a few packets
    for k in (2, 1000, n + 1):
        pk = Ether(frames[k][1])
        c0 = pk[UDP].chksum
        del pk[UDP].chksum
        check(Ether(bytes(pk))[UDP].chksum == c0, "harness bug: template checksum at %d" % k)
    ini = fixture_ini(extra="\n[bubbles]\nserver_rate = 100\n\n[peers]\npending_capacity = 1024\n")
    res = run_relay(frames, ini=ini, label="T44")
    st = res.stats
    # The run is deterministic, so the numbers are exact. pending_capacity admits the first
    # 1024 flood peers (arriving within 1024/65536 s = 15.6 ms); the other 64 512 are
    # tx_peer_table_full. S's bubble bucket (rate = burst = 100/s) gave A one token at t=0 and
    # is full again at t=1: 100 bubbles plus the 1 token refilled in 15.6 ms, 101 in all; the
    # other 923 new peers' first bubbles are rate-limited. The capture ends at t=2.1, before any
    # retry (2 s after creation).
    flood_admitted = 1024
    refilled = int(100 * flood_admitted / n)          # 1
    to_s = [f for f in res.frames if is_bubble_frame(f) and ip4s(f[14 + 16:14 + 20]) == S]
    check(len(to_s) == 1 + 100 + refilled, "bubbles to %s: %d, expected exactly %d (A's, the "
          "burst of 100, %d refilled)" % (S, len(to_s), 1 + 100 + refilled, refilled))
    check_trust_outputs(res)
    check_encap(res.frames[-1], dec_hop(ECHO_28), what="packet to trusted A after the flood")
    others = [f for f in res.frames[2:-1] if not is_bubble_frame(f)]
    check(not others, "unexpected frames during the flood:\n" + frames_summary(others[:10]))
    e = Exp().trust_prelude().native_queued(flood_admitted).native_encap(1)
    e.add(bubbles_sent=100 + refilled, bubbles_ratelimited=flood_admitted - 100 - refilled,
          peers_created=flood_admitted, peers_current=flood_admitted,
          peers_pending=flood_admitted, to_control=n - flood_admitted)
    e.drop("tx_peer_table_full", n - flood_admitted)
    check_stats(res, e)
    check(st["accounting_ok"] is True, "accounting_ok %r" % st["accounting_ok"])
    check(st["rx_packets"] == len(frames), "rx_packets %d != %d" % (st["rx_packets"], len(frames)))
    check(st["peers_trusted"] == 1 and st["encapsulated"] == 2,
          "trusted A disturbed: peers_trusted %d encapsulated %d" % (st["peers_trusted"], st["encapsulated"]))


# ------------------------------------------------------------------ multiworker_same_set

def normalize(fr):
    """Frame with the IPv4 ID masked (checksum recomputed) and, for indirect bubbles, the
    keyed-hash bubble source IID masked (its UDP checksum recomputed): equal across runs."""
    if fr[12:14] != b"\x08\x00":
        return bytes(fr)
    ip = bytearray(fr[14:])
    ip[4:6] = b"\0\0"
    if is_bubble_frame(fr):
        ip[28 + 16:28 + 24] = b"\0" * 8               # keyed-hash interface identifier
        if len(ip) >= 28 + 46 and ip[28 + 40:28 + 42] == b"\x01\x04":
            ip[28 + 42:28 + 46] = b"\0" * 4           # RFC 6081 nonce
        ip = bytearray(udp4_fix(bytes(ip)))
    return bytes(fr[:14]) + ipv4_fix(bytes(ip))


def case_multiworker_same_set():
    """The bundled demo story (make_sample.py) replayed with -l 0 (no worker: control does it
    all) and with two workers (MULTI): the same multiset of output frames (IPv4 ID and bubble
    IID masked) and the same counters; both workers received packets."""
    import make_sample
    frames = make_sample.story()
    check(len(frames) > 20, "harness bug: story too short")
    r1 = run_relay(frames, lcores="0", label="mw-1")
    r2 = run_relay(frames, lcores=MULTI, label="mw-2")
    check_workers_shared(r2, 2)
    for r in (r1, r2):
        check(r.stats.get("accounting_ok") is True, "accounting_ok false (dir %s)" % r.workdir)
        for fr in r.frames:
            if fr[12:14] == b"\x08\x00" and fr[14 + 9] == 17:
                split_v4(fr, "output of %s" % r.workdir)
    c1 = collections.Counter(normalize(f) for f in r1.frames)
    c2 = collections.Counter(normalize(f) for f in r2.frames)
    if c1 != c2:
        only1 = c1 - c2
        only2 = c2 - c1
        raise Fail("output multisets differ: %d frames only with -l 0, %d only with two workers\n"
                   " only -l 0:\n%s\n only two workers:\n%s"
                   % (sum(only1.values()), sum(only2.values()), frames_summary(list(only1.elements())[:10]),
                      frames_summary(list(only2.elements())[:10])))
    diff = []
    for k in counter_names(r1.stats):
        if r1.stats.get(k) != r2.stats.get(k):
            diff.append("%s: %s vs %s" % (k, r1.stats.get(k), r2.stats.get(k)))
    for k in Env.drop_names:
        if r1.stats["drops"].get(k) != r2.stats["drops"].get(k):
            diff.append("drop %s: %s vs %s" % (k, r1.stats["drops"].get(k), r2.stats["drops"].get(k)))
    check(not diff, "counters differ between -l 0 and two workers:\n   " + "\n   ".join(diff))


# ------------------------------------------------------------------ self-checks and main

def self_check():
    """The fixture's own frames against the §2.8 bytes (a harness bug fails every case)."""
    check(ip6_echo(H, A) == ECHO_28, "harness: scapy echo != §2.8 echo")
    check(ipv4_hdr_ok(BUBBLE_28) and udp4_ok(BUBBLE_28), "harness: §2.8 bubble checksums")
    check(ipv4_hdr_ok(DIRECT_BUBBLE_28) and udp4_ok(DIRECT_BUBBLE_28), "harness: §2.8 direct bubble")
    check(ipv4_hdr_ok(ENCAP_28) and udp4_ok(ENCAP_28), "harness: §2.8 encapsulation checksums")
    check(ENCAP_28[28:] == dec_hop(ECHO_28), "harness: §2.8 encapsulation payload")
    check(ipv6_l4_ok(ECHO_28), "harness: §2.8 echo checksum")
    check(BUBBLE_28[28:] == ip6_bubble("fe80::a0b2:c3d4:e5f6:718", A), "harness: bubble builder")
    check(DIRECT_BUBBLE_28[28:] == ip6_bubble(A, "fe80::a0b2:c3d4:e5f6:718"), "harness: bubble builder")
    check(udp4_fix(ipv4_fix(DIRECT_BUBBLE_28)) == DIRECT_BUBBLE_28, "harness: checksum fixers")
    d = f_direct_bubble_a()
    check(bytes(Ether(d)[IP]) == DIRECT_BUBBLE_28, "harness: direct bubble frame")
    check(teredo_decode(A) == (S, A_V4, A_PORT, 0), "harness: decode A")
    check(teredo_addr(S, A_PORT, A_V4) == A, "harness: encode A")
    check(len(f_tick()) == 60, "harness: tick frame")


# ------------------------------------------------------------------ symmetric NAT (T33-T36)
#
# The relay's bubble nonces (source interface id, RFC 6081 Nonce trailer) are keyed hashes of a
# secret; [bubbles] secret pins it, so the bubble of a run is the same as the bubble of a run over
# any prefix of its capture. Each case first replays the prefix up to the first bubble to learn the
# nonces, then replays the whole capture with the client's answer built from them.

SECRET = "000102030405060708090a0b0c0d0e0f"
NAT_PORT = 5000                   # the symmetric NAT's new mapping for A toward the relay


def sym_ini(trailer=True, epoch=30):
    return fixture_ini(extra="\n[bubbles]\nsecret = %s\nnonce_trailer = %s\nnonce_epoch = %d\n"
                       % (SECRET, "true" if trailer else "false", epoch))


def learn_bubble(prefix, ini, label):
    """Run the capture prefix; return (bubble source bytes, trailer nonce bytes or None)."""
    res = run_relay(prefix, ini=ini, label=label + "-learn")
    bubbles = [f for f in res.frames if is_bubble_frame(f)]
    check(bubbles, "%s: the prefix produced no bubble:\n%s" % (label, frames_summary(res.frames)))
    src = check_bubble(bubbles[0], A, what="%s: learned bubble" % label)
    pl = split_v4(bubbles[0], "learned bubble")[1]
    return src, (pl[42:46] if len(pl) == 46 else None)


def sym_bubble(dst_src16, trailer=None, sport=NAT_PORT):
    """Direct bubble from A's new NAT mapping 192.0.2.1:sport: src A, dst = the given address
    (the relay's bubble source when answering Miredo-style), optional Nonce trailer echoed."""
    payload = ip6_bubble(A, ip6s(dst_src16))
    if trailer is not None:
        payload += b"\x01\x04" + trailer
    return f_teredo(A_V4, sport, payload)


def _sym_prelude(cap):
    cap.add(0.0, f_native(P0))


def _t33_run(use_iid, label):
    ini = sym_ini(trailer=not use_iid)
    pre = Cap()
    _sym_prelude(pre)
    src, nonce = learn_bubble(pre.frames, ini, label)
    cap = Cap()
    _sym_prelude(cap)
    if use_iid:
        cap.add(0.5, sym_bubble(src))                                  # Miredo style: dst = our source
    else:
        check(nonce is not None, "%s: no Nonce trailer on the bubble" % label)
        cap.add(0.5, sym_bubble(ip6b("fe80::1"), trailer=nonce))       # RFC 6081: trailer echoed
    later = ip6_udp(H, A, b"after trust")
    cap.add(1.0, f_native(later))
    res = run_relay(cap.frames, ini=ini, label=label)
    expect_count(res, 3, "bubble, flushed packet, later packet")
    check_bubble(res.frames[0], A)
    check_encap(res.frames[1], dec_hop(P0), dport=NAT_PORT, what="flushed to the observed mapping")
    check_encap(res.frames[2], dec_hop(later), dport=NAT_PORT, what="later packet to the observed mapping")
    check_stats(res, Exp().native_queued_then_flushed(1).native_encap(1).direct_bubble()
                .add(bubbles_sent=1, peers_created=1, peers_trusted=1, peers_current=1,
                     nonce_accepted=1))


def case_T33():
    """Symmetric NAT (RFC 6081 §5.2.4.4): after T04, a direct bubble from 192.0.2.1:5000 that
    proves the nonce - (a) Miredo style, destination = the relay's bubble source; (b) RFC 6081
    Nonce trailer echoed - is accepted: mapping := :5000, queue flushed there, later H->A too."""
    _t33_run(True, "T33-iid")
    _t33_run(False, "T33-trailer")


def case_T34():
    """As T33 but with a wrong nonce (a flipped bit in the destination interface id; a wrong
    trailer value): dropped rx_bad_nonce, the entry stays PENDING, nothing is sent to :5000."""
    for label, use_iid in (("T34-iid", True), ("T34-trailer", False)):
        ini = sym_ini(trailer=not use_iid)
        pre = Cap()
        _sym_prelude(pre)
        src, nonce = learn_bubble(pre.frames, ini, label)
        cap = Cap()
        _sym_prelude(cap)
        if use_iid:
            bad = bytearray(src)
            bad[15] ^= 0x01
            cap.add(0.5, sym_bubble(bytes(bad)))
        else:
            bad = bytes([nonce[0] ^ 0x80]) + nonce[1:]
            cap.add(0.5, sym_bubble(ip6b("fe80::1"), trailer=bad))
        res = run_relay(cap.frames, ini=ini, label=label)
        expect_count(res, 1, "the first bubble only")
        check_bubble(res.frames[0], A)
        check_stats(res, Exp().native_queued(1).drop("rx_bad_nonce")
                    .add(bubbles_sent=1, peers_created=1, peers_current=1, peers_pending=1,
                         to_control=1))   # the bad bubble: control checks nonces


def case_T35():
    """Mismatched bubbles that must not re-map: (a) a nonce from an expired epoch
    ([bubbles] nonce_epoch = 2, no trailer; reply at t=7 names the t=0 bubble source: two epochs
    old) -> rx_bad_nonce, still PENDING; (b) A already TRUSTED at :4096: a valid-nonce bubble from
    :5000 -> rx_mapping_mismatch, later H->A still goes to :4096."""
    ini = sym_ini(trailer=False, epoch=2)
    pre = Cap()
    _sym_prelude(pre)
    src, _ = learn_bubble(pre.frames, ini, "T35-stale")
    cap = Cap()
    _sym_prelude(cap)
    nt = cap.ticks(1.0, 6.0, 1.0)
    cap.add(7.0, sym_bubble(src))
    res = run_relay(cap.frames, ini=ini, label="T35-stale")
    expect_count(res, 4, "bubbles at 0, 2, 4, 6 s")
    srcs = set(check_bubble(f, A, what="bubble") for f in res.frames)
    check(len(srcs) > 1, "T35: bubble sources did not rotate with the 2 s epoch")
    check_stats(res, Exp().ticks(nt).native_queued(1).drop("rx_bad_nonce")
                .add(bubbles_sent=4, peers_created=1, peers_current=1, peers_pending=1, to_control=1))

    ini = sym_ini(trailer=True)
    pre = Cap()
    _sym_prelude(pre)
    src, nonce = learn_bubble(pre.frames, ini, "T35-trusted")
    cap = Cap()
    trust_a(cap)
    cap.add(1.0, sym_bubble(src, trailer=nonce))
    later = ip6_udp(H, A, b"still 4096")
    cap.add(1.5, f_native(later))
    res = run_relay(cap.frames, ini=ini, label="T35-trusted")
    expect_count(res, 3)
    check_trust_outputs(res)
    check_encap(res.frames[2], dec_hop(later), dport=A_PORT, what="mapping unchanged")
    check_stats(res, Exp().trust_prelude().native_encap(1).drop("rx_mapping_mismatch")
                .add(to_control=1))   # a bubble from elsewhere: control checks it


def case_T36():
    """Trusted A learned at :5000 (T33); non-bubble data from :4096 (the embedded mapping) is
    accepted and re-validates: mapping := :4096 (RFC 4380 §5.4.2), later H->A goes to :4096."""
    ini = sym_ini(trailer=True)
    pre = Cap()
    _sym_prelude(pre)
    src, nonce = learn_bubble(pre.frames, ini, "T36")
    cap = Cap()
    _sym_prelude(cap)
    cap.add(0.5, sym_bubble(src, trailer=nonce))
    data = ip6_udp(A, H, b"from the embedded mapping")
    cap.add(1.0, data_from_a(data))
    later = ip6_udp(H, A, b"back to 4096")
    cap.add(1.5, f_native(later))
    res = run_relay(cap.frames, ini=ini, label="T36")
    expect_count(res, 4, "bubble, flush to :5000, decapsulated data, later packet to :4096")
    check_bubble(res.frames[0], A)
    check_encap(res.frames[1], dec_hop(P0), dport=NAT_PORT, what="flushed to :5000")
    check_native(res.frames[2], dec_hop(data), what="data from the embedded mapping")
    check_encap(res.frames[3], dec_hop(later), dport=A_PORT, what="later packet to :4096")
    check_stats(res, Exp().native_queued_then_flushed(1).native_encap(1).direct_bubble()
                .teredo_decap(1).add(to_control=1,  # re-validation via control
                bubbles_sent=1, peers_created=1, peers_trusted=1,
                                     peers_current=1, nonce_accepted=1))


def case_reverify_symmetric():
    """A trusted at the nonce-proven mapping :5000 (T33); its validity ([peers] validity = 3 s)
    expires, H->A is queued and re-verification starts; A's next DATA packet from :5000 (not a
    bubble, and not the embedded mapping) ends it: the queue is flushed to :5000 and the data is
    forwarded natively."""
    ini = sym_ini(trailer=True) + "\n[peers]\nvalidity = 3\n"
    pre = Cap()
    _sym_prelude(pre)
    src, nonce = learn_bubble(pre.frames, ini, "reverify_symmetric")
    cap = Cap()
    _sym_prelude(cap)
    cap.add(0.5, sym_bubble(src, trailer=nonce))
    late = ip6_udp(H, A, b"after validity")
    cap.add(5.0, f_native(late))
    d = ip6_udp(A, H, b"data from :5000")
    cap.add(5.5, f_teredo(A_V4, NAT_PORT, d))
    res = run_relay(cap.frames, ini=ini, label="reverify_symmetric")
    expect_count(res, 5, "bubble, flush, re-verification bubble, flush, decapsulated data")
    check_bubble(res.frames[0], A)
    check_encap(res.frames[1], dec_hop(P0), dport=NAT_PORT, what="first flush to :5000")
    check_bubble(res.frames[2], A, what="re-verification bubble")
    check_encap(res.frames[3], dec_hop(late), dport=NAT_PORT, what="re-verification flush to :5000")
    check_native(res.frames[4], dec_hop(d), what="data from the verified mapping")
    check_stats(res, Exp().native_queued_then_flushed(2).direct_bubble().teredo_decap(1)
                .add(to_control=1,  # the data that ends re-verification
                     bubbles_sent=2, peers_created=1, peers_trusted=2, peers_current=1,
                     nonce_accepted=1))


def with_tc(ip6, tc):
    """The IPv6 packet with traffic class tc (flow label kept)."""
    b = bytearray(ip6)
    b[0] = 0x60 | (tc >> 4)
    b[1] = ((tc & 0x0f) << 4) | (b[1] & 0x0f)
    return bytes(b)


# RFC 6040 §4.2 Figure 4, (arriving inner, arriving outer) -> forwarded; None = drop.
NOT_ECT, ECT1, ECT0, CE = 0, 1, 2, 3
RFC6040_FIG4 = {
    (NOT_ECT, NOT_ECT): NOT_ECT, (NOT_ECT, ECT0): NOT_ECT, (NOT_ECT, ECT1): NOT_ECT, (NOT_ECT, CE): None,
    (ECT0, NOT_ECT): ECT0, (ECT0, ECT0): ECT0, (ECT0, ECT1): ECT1, (ECT0, CE): CE,
    (ECT1, NOT_ECT): ECT1, (ECT1, ECT0): ECT1, (ECT1, ECT1): ECT1, (ECT1, CE): CE,
    (CE, NOT_ECT): CE, (CE, ECT0): CE, (CE, ECT1): CE, (CE, CE): CE,
}


def case_T45():
    """ECN across the tunnel (RFC 6040, applied to Teredo by RFC 9601; D90). Decapsulation:
    a trusted A sends one packet for each of the 16 cells of RFC 6040 §4.2 Figure 4 (inner
    DSCP 10 and outer DSCP 8 must not matter): 15 reach the native side with the table's ECN
    field and nothing else changed but the hop limit, the CE-over-Not-ECT one is dropped
    (rx_ecn_ce_not_ect). Encapsulation: native packets with each inner ECN field leave with
    that field copied into the outer IPv4 TOS (§4.1 normal mode), DSCP 0, IPv4 checksum valid."""
    cap = Cap()
    trust_a(cap)
    t = 1.0
    cells = []
    for inner in (NOT_ECT, ECT1, ECT0, CE):
        for outer in (NOT_ECT, ECT1, ECT0, CE):
            d = with_tc(ip6_udp(A, H, b"ecn inner %d outer %d" % (inner, outer)), (10 << 2) | inner)
            fr = bytearray(data_from_a(d))
            fr[15] = (8 << 2) | outer
            cap.add(t, bytes(fr[:14]) + ipv4_fix(bytes(fr[14:])))
            cells.append((inner, outer, d))
            t += 0.01
    natives = []
    for e in (NOT_ECT, ECT1, ECT0, CE):
        p = with_tc(ip6_echo(H, A, seq=100 + e), (10 << 2) | e)
        cap.add(t, f_native(p))
        natives.append(p)
        t += 0.01
    res = run_relay(cap.frames, label="T45")
    expect_count(res, 2 + 15 + 4)
    check_trust_outputs(res)
    i = 2
    for inner, outer, d in cells:
        want = RFC6040_FIG4[(inner, outer)]
        if want is None:
            continue
        check_native(res.frames[i], with_tc(dec_hop(d), (10 << 2) | want),
                     what="decap inner %d outer %d" % (inner, outer))
        i += 1
    for p in natives:
        ip = check_encap(res.frames[i], dec_hop(p), what="encap ECN %d" % ((p[1] >> 4) & 3))
        check(ipv4_hdr_ok(ip), "encap: IPv4 header checksum wrong")
        i += 1
    check_stats(res, Exp().trust_prelude().teredo_decap(15).native_encap(4).drop("rx_ecn_ce_not_ect"))


CASES = collections.OrderedDict()
for _n in ["T%02d" % i for i in range(1, 46)] + ["accept_unknown", "reverify_completes", "reverify_symmetric", "multiworker_same_set"]:
    CASES[_n] = globals()["case_" + _n]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--terelay", help="path of the terelay executable")
    ap.add_argument("--addr-tool", help="path of tests/unit/addr_tool")
    ap.add_argument("--case", action="append", help="case name (repeatable)")
    ap.add_argument("--all", action="store_true", help="run every case")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directories")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--lcores", default="0",
                    help="EAL -l for the single-lcore runs (default 0; diagnostics: 0,1)")
    ap.add_argument("--dump-inputs", metavar="DIR",
                    help="only write each case's first input capture to DIR (no relay run)")
    a = ap.parse_args()
    if a.list:
        for k, f in CASES.items():
            print("%-22s %s" % (k, (f.__doc__ or "").strip().splitlines()[0]))
        return 0
    names = list(CASES) if a.all else (a.case or [])
    if not names:
        ap.error("give --case NAME or --all")
    for n in names:
        if n not in CASES:
            ap.error("unknown case %s" % n)
    Env.terelay = os.path.abspath(a.terelay) if a.terelay else None
    Env.addr_tool = os.path.abspath(a.addr_tool) if a.addr_tool else None
    Env.keep, Env.verbose = a.keep, a.verbose
    Env.drop_names = load_drop_names()
    Env.dump_dir = a.dump_inputs
    Env.lcores = a.lcores
    if Env.dump_dir:
        os.makedirs(Env.dump_dir, exist_ok=True)
    failed = []
    try:
        self_check()
    except Fail as e:
        print("HARNESS SELF-CHECK FAILED: %s" % e)
        return 1
    for n in names:
        del _dirs[:]
        try:
            CASES[n]()
        except DryRun:
            print("DUMPED %s" % n)
            continue
        except Fail as e:
            print("FAIL %s: %s" % (n, e))
            failed.append(n)
            continue
        print("PASS %s" % n)
        if not a.keep:
            for d in _dirs:
                shutil.rmtree(d, ignore_errors=True)
    if len(names) > 1:
        print("%d passed, %d failed%s" % (len(names) - len(failed), len(failed),
                                          (": " + " ".join(failed)) if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
