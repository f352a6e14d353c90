#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Side by side: Miredo-as-relay and terelay-as-relay (net_af_packet) in the same
network-namespace testbed, the same generated Teredo captures, the same run.

    /usr/bin/python3 perf/sidebyside/run.py --reps 3 --secs 2 --default-ring-too

(root, /usr/bin/python3; needs `ninja -C build-sbs` first, or --build DIR; installs
nothing: a missing tool fails naming its Debian package, scripts/setup-deps.sh
installs them all). Writes perf/results/sidebyside.json and sidebyside.md.

Testbed (namespaces sbs<pid>-gen, -rly, -v6h; addresses of tests/interop/testbed.sh):

    gen  g0 198.18.0.254 ===veth=== eth0 [rly] eth1 ===veth=== eth0 v6h 2001:db8:6::100
         synthetic Teredo clients       relay 198.18.0.20:3544      native side: nftables
         + their Teredo servers         and 2001:db8:6::20          counter (netdev ingress)

  * The relay is Miredo (RelayType cone; kernel addresses, IPv6 forwarding, tun
    'teredo') or terelay (net_af_packet on eth0/eth1, qpairs=2, one worker lcore;
    the kernel has no address there and IPv6 off), one after the other on the same
    veths; "terelay-ring512" (--default-ring-too) is terelay with the PMD's default
    512-frame rings instead of 4096.
  * Captures: perf/gen/tr_gen decap frames (client -> native: IPv4/UDP to the
    relay carrying IPv6/UDP; --size 112 = 64-byte UDP payload, as iperf3 -l 64 in
    miredo-perf.sh), MACs rewritten to the veths; the same files for every relay.
  * Generator: paced rates with `tcpreplay --pps` (trafgen -b is not a pacer: it
    sends each second's quota back to back); the top-speed trial with trafgen
    (TX_RING), the fastest sender here. Both pinned to --gen-cpu, the relays to
    --relay-cpu, all at the same --nice.
  * Trust: after each relay start, v6h sends UDP packets to every synthetic
    client; the relay queues them and sends an indirect bubble to the client's
    Teredo server (198.18.0.1+k, through gen); a responder on g0 answers each with
    the client's direct bubble from its mapped address:port (IPv6 destination =
    the indirect bubble's source); the client counts as trusted when the relay
    sends a queued packet to that mapping. Load starts only when all are.
  * Counters: sent = the generator's own count (checked against g0 tx_packets);
    forwarded = nftables named counter in a netdev ingress chain on v6h eth0
    (matches and drops the decapsulated packets: IPv6 source in 2001::/32),
    cross-checked with v6h eth0 rx_packets.
  * Loss-free = lost <= --loss-tolerance (default 0.1 %) of sent in a trial of
    --secs seconds; a failing rate is tried again and fails only if that fails
    too (--no-confirm: at once). Per relay and repetition: a trial at
    --start-rate, one at the paced ceiling (then trafgen top speed if it passes),
    then geometric bisection to --resolution; repetitions alternate the relays.
"""
import argparse
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "scripts"))
import hugepages  # noqa: E402  (the project's one reserve-and-mount helper)
RLY_IP, RLY_PORT, GEN_IP = '198.18.0.20', 3544, '198.18.0.254'
RLY6, V6H6 = '2001:db8:6::20', '2001:db8:6::100'
MAC = {'g0': '02:5b:00:00:00:01', 'r0': '02:5b:00:00:00:02',
       'r1': '02:5b:00:00:00:03', 'h0': '02:5b:00:00:00:04'}
TOOLS = {'ip': 'iproute2', 'nft': 'nftables', 'trafgen': 'netsniff-ng', 'miredo': 'miredo',
         'ethtool': 'ethtool', 'taskset': 'util-linux', 'tcpreplay': 'tcpreplay', 'sysctl': 'procps'}


def log(*a):
    print(f'[sbs {time.strftime("%H:%M:%S")}]', *a, file=sys.stderr, flush=True)


def die(msg):
    log('FAIL:', msg)
    raise SystemExit(1)


def sh(cmd, check=True, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if check and r.returncode != 0:
        raise RuntimeError(f'{" ".join(cmd)}: rc {r.returncode}: {(r.stderr or r.stdout).strip()[-400:]}')
    return r


def mac_bytes(m):
    return bytes(int(x, 16) for x in m.split(':'))


# ------------------------------------------------------------ helpers in namespaces

def csum(data):
    if len(data) % 2:
        data += b'\0'
    s = sum(struct.unpack(f'!{len(data) // 2}H', data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff


def teredo_mapping(a6):
    b = ipaddress.IPv6Address(a6).packed
    return bytes(x ^ 0xff for x in b[12:16]), int.from_bytes(b[10:12], 'big') ^ 0xffff


def direct_bubble(client6, dst6, rly_mac, gen_mac):
    """Client's direct bubble from its embedded mapping to the relay (plen 0, nh 59)."""
    ip4, port = teredo_mapping(client6)
    ip6 = struct.pack('!IHBB', 0x60000000, 0, 59, 255) + client6 + dst6
    udp_len = 8 + len(ip6)
    rly = socket.inet_aton(RLY_IP)
    pseudo = ip4 + rly + struct.pack('!BBH', 0, 17, udp_len)
    udp = struct.pack('!HHHH', port, RLY_PORT, udp_len, 0) + ip6
    c = csum(pseudo + udp) or 0xffff
    udp = udp[:6] + struct.pack('!H', c) + udp[8:]
    hdr = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + udp_len, 0, 0, 64, 17, 0, ip4, rly)
    hdr = hdr[:10] + struct.pack('!H', csum(hdr)) + hdr[12:]
    return rly_mac + gen_mac + b'\x08\x00' + hdr + udp


def teredo_ip6(udp_payload):
    d = udp_payload
    while len(d) >= 8 and d[0] == 0:          # origin indication / authentication header
        if d[1] == 0:
            d = d[8:]
        elif d[1] == 1 and len(d) >= 13:
            d = d[13 + d[2] + d[3]:]
        else:
            return None
    return d if len(d) >= 40 and d[0] >> 4 == 6 else None


def helper_responder(ifname, peers_file, out, timeout):
    """In gen: answer every indirect bubble for a known client with its direct bubble;
    a client is trusted when the relay flushes its queued packet to its mapping."""
    clients = {}
    for line in open(peers_file):
        a = line.split()[0]
        clients[ipaddress.IPv6Address(a).packed] = teredo_mapping(a)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
    s.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)     # SO_RCVBUFFORCE: a busy machine
    s.bind((ifname, 0))
    s.settimeout(0.2)
    rly_mac, gen_mac = mac_bytes(MAC['r0']), mac_bytes(MAC['g0'])
    rly4 = socket.inet_aton(RLY_IP)
    bubbled, answered, flushed = set(), 0, set()
    open(out + '.ready', 'w').close()
    t0 = time.time()
    while time.time() - t0 < timeout and len(flushed) < len(clients):
        try:
            f, meta = s.recvfrom(4096)
        except socket.timeout:
            continue
        if meta[2] == socket.PACKET_OUTGOING or len(f) < 42 or f[12:14] != b'\x08\x00':
            continue
        ip = f[14:]
        ihl = (ip[0] & 15) * 4
        if ip[9] != 17 or ip[12:16] != rly4:
            continue
        udp = ip[ihl:]
        sport, dport = struct.unpack('!HH', udp[:4])
        if sport != RLY_PORT:
            continue
        v6 = teredo_ip6(udp[8:])
        if v6 is None:
            continue
        src6, dst6 = v6[8:24], v6[24:40]
        if dst6 not in clients:
            continue
        plen, nh = struct.unpack('!HB', v6[4:7])
        if nh == 59 and plen == 0:
            if dport == 3544 and ip[16:20] != clients[dst6][0]:      # indirect, via the server
                bubbled.add(dst6)
                s.send(direct_bubble(dst6, src6, rly_mac, gen_mac))
                answered += 1
            continue
        if (ip[16:20], dport) == clients[dst6]:
            flushed.add(dst6)
    with open(out, 'w') as fo:
        json.dump({'clients': len(clients), 'bubbled': len(bubbled), 'answered': answered,
                   'trusted': len(flushed), 'seconds': round(time.time() - t0, 2)}, fo)


def helper_trigger(peers_file, rounds, gap):
    """In v6h: one UDP datagram to every client (through the relay), `rounds` times
    (the responder ends it once every client is seen trusted)."""
    addrs = [line.split()[0] for line in open(peers_file)]
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    for r in range(rounds):
        for a in addrs:
            try:
                s.sendto(b'sbs-trust %d' % r, (a, 443))
            except OSError:
                pass
            time.sleep(gap)


# ------------------------------------------------------------------------ testbed

class Bed:
    def __init__(self, a, tmp):
        self.a, self.dir = a, tmp
        self.p = f'sbs{os.getpid() % 100000}-'
        self.gen, self.rly, self.v6h = self.p + 'gen', self.p + 'rly', self.p + 'v6h'
        self.file_prefix = self.p + 'terelay'
        self.relay = None            # ('miredo'|'terelay', Popen)
        self.procs = []

    def nsx(self, ns, *cmd, check=True, **kw):
        return sh(['ip', 'netns', 'exec', ns, *cmd], check=check, **kw)

    def sysfs(self, ns, ifn, stat):
        return int(self.nsx(ns, 'cat', f'/sys/class/net/{ifn}/statistics/{stat}').stdout)

    def setup(self):
        for ns in (self.gen, self.rly, self.v6h):
            sh(['ip', 'netns', 'add', ns])
            self.nsx(ns, 'ip', 'link', 'set', 'lo', 'up')
            self.nsx(ns, 'sysctl', '-qw', 'net.ipv6.conf.all.accept_dad=0',
                     'net.ipv6.conf.default.accept_dad=0')
        self.nsx(self.gen, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1',
                 'net.ipv6.conf.default.disable_ipv6=1')
        sh(['ip', 'link', 'add', 'g0', 'netns', self.gen, 'address', MAC['g0'], 'type', 'veth',
            'peer', 'name', 'eth0', 'netns', self.rly, 'address', MAC['r0']])
        sh(['ip', 'link', 'add', 'eth1', 'netns', self.rly, 'address', MAC['r1'], 'type', 'veth',
            'peer', 'name', 'eth0', 'netns', self.v6h, 'address', MAC['h0']])
        for ns, ifn in ((self.gen, 'g0'), (self.rly, 'eth0'), (self.rly, 'eth1'), (self.v6h, 'eth0')):
            # locally generated packets would carry partial checksums (see tests/interop/testbed.sh)
            self.nsx(ns, 'ethtool', '-K', ifn, 'tx', 'off')
            self.nsx(ns, 'ip', 'link', 'set', ifn, 'up')
        self.nsx(self.gen, 'ip', 'addr', 'add', GEN_IP + '/24', 'dev', 'g0')
        # gen's kernel drops whatever the relay sends (bubbles, flushed packets) before IP
        # (the responder's packet socket sees them first); ARP is answered
        self.nft(self.gen, 'table netdev sbsgen {\n chain in {\n  type filter hook ingress device "g0" '
                           'priority 0;\n  ether type ip counter drop\n }\n}\n')
        self.nsx(self.v6h, 'ip', '-6', 'addr', 'add', V6H6 + '/64', 'dev', 'eth0', 'nodad')
        self.nsx(self.v6h, 'ip', '-6', 'route', 'add', '2001::/32', 'via', RLY6, 'dev', 'eth0')
        # the native-side counter: decapsulated packets (source in the Teredo prefix)
        # are counted and dropped at ingress, nothing is forwarded or answered
        self.nft(self.v6h, 'table netdev sbs {\n counter decap { }\n chain in {\n  type filter hook ingress '
                           'device "eth0" priority 0;\n  ip6 saddr 2001::/32 counter name "decap" drop\n }\n}\n')
        self.bare()

    def nft(self, ns, rules):
        self.nsx(ns, 'nft', '-f', '-', input=rules)

    def counter(self):
        j = json.loads(self.nsx(self.v6h, 'nft', '-j', 'list', 'counter', 'netdev', 'sbs', 'decap').stdout)
        for o in j['nftables']:
            if 'counter' in o:
                return o['counter']['packets']
        raise RuntimeError('nft counter not found')

    def bare(self):
        """rly with nothing forwarding: no kernel address, IPv6 off on both veths."""
        for ifn in ('eth0', 'eth1'):
            self.nsx(self.rly, 'ip', 'addr', 'flush', 'dev', ifn)
        self.nsx(self.rly, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1',
                 'net.ipv6.conf.default.disable_ipv6=1', 'net.ipv6.conf.eth0.disable_ipv6=1',
                 'net.ipv6.conf.eth1.disable_ipv6=1', 'net.ipv4.conf.all.rp_filter=0',
                 'net.ipv4.conf.default.rp_filter=0', 'net.ipv4.conf.eth0.rp_filter=0')
        self.nsx(self.v6h, 'ip', '-6', 'neigh', 'flush', 'dev', 'eth0', check=False)
        self.nsx(self.gen, 'ip', 'neigh', 'flush', 'dev', 'g0', check=False)

    # ------------------------------------------------------------------ relays

    def start_miredo(self):
        self.bare()
        self.nsx(self.rly, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=0',
                 'net.ipv6.conf.default.disable_ipv6=0', 'net.ipv6.conf.eth0.disable_ipv6=0',
                 'net.ipv6.conf.eth1.disable_ipv6=0', 'net.ipv6.conf.all.forwarding=1')
        self.nsx(self.rly, 'ip', 'addr', 'add', RLY_IP + '/24', 'dev', 'eth0')
        self.nsx(self.rly, 'ip', '-6', 'addr', 'add', RLY6 + '/64', 'dev', 'eth1', 'nodad')
        self.nsx(self.rly, 'ip', 'route', 'replace', 'default', 'via', GEN_IP, 'dev', 'eth0')
        self.nsx(self.rly, 'ip', 'route', 'replace', '198.18.0.0/25', 'via', GEN_IP, 'dev', 'eth0')
        self.nsx(self.rly, 'ip', '-6', 'route', 'replace', '2001:db8::/32', 'via', V6H6, 'dev', 'eth1')
        conf = os.path.join(self.dir, 'miredo-relay.conf')
        with open(conf, 'w') as f:
            f.write(f'RelayType cone\nInterfaceName teredo\nBindAddress {RLY_IP}\nBindPort {RLY_PORT}\n')
        lf = open(os.path.join(self.dir, 'miredo.log'), 'a')
        p = subprocess.Popen(['ip', 'netns', 'exec', self.rly, 'nice', '-n', str(self.a.nice),
                              'taskset', '-c', str(self.a.relay_cpu), 'miredo', '-f', '-c', conf, '-p', os.path.join(self.dir, 'miredo.pid')],
                             stdout=lf, stderr=subprocess.STDOUT, start_new_session=True)
        self.relay = ('miredo', p)
        for _ in range(100):
            if self.nsx(self.rly, 'ip', 'link', 'show', 'teredo', check=False).returncode == 0:
                return
            if p.poll() is not None:
                break
            time.sleep(0.1)
        die(f'miredo relay did not create its tunnel: {open(lf.name).read()[-400:]}')

    def start_terelay(self, afp_args=None):
        self.bare()
        ini = os.path.join(self.dir, 'terelay.ini')
        with open(ini, 'w') as f:
            f.write(f'[relay]\nipv4 = {RLY_IP}\nport = {RLY_PORT}\nipv6 = {RLY6}\n'
                    '[ports]\nteredo = net_af_packet0\nnative = net_af_packet1\n'
                    f'[nexthop]\nipv4_gateway = {GEN_IP}\nipv6_gateway = {V6H6}\n'
                    '[peers]\ncapacity = 65536\npending_capacity = 4096\n'
                    '[telemetry]\nsummary_interval = 1\n')
        self.n_starts = getattr(self, 'n_starts', 0) + 1
        self.stats_json = os.path.join(self.dir, f'terelay-stats.{self.n_starts}.json')
        logp = os.path.join(self.dir, f'terelay.{self.n_starts}.log')
        lf = open(logp, 'w')
        qp = f',qpairs=2{self.a.afp_args if afp_args is None else afp_args}'
        cmd = ['ip', 'netns', 'exec', self.rly, 'nice', '-n', str(self.a.nice), self.a.terelay,
               '-l', f'{self.a.ctl_cpu},{self.a.relay_cpu}', '--main-lcore', str(self.a.ctl_cpu),
               '--in-memory', '--file-prefix', self.file_prefix, '--log-level=lib.eal:error',
               '--vdev', f'net_af_packet0,iface=eth0{qp}', '--vdev', f'net_af_packet1,iface=eth1{qp}',
               '--', '-c', ini, '--stats-json', self.stats_json]
        self.terelay_cmd = cmd[7:]
        p = subprocess.Popen(cmd, stdout=lf, stderr=subprocess.STDOUT, start_new_session=True)
        self.relay = ('terelay', p)
        for _ in range(600):
            if p.poll() is not None:
                die(f'terelay exited at start: {open(logp).read()[-600:]}')
            if 'terelay: rx' in open(logp).read():
                return
            time.sleep(0.1)
        die(f'terelay did not report within 60 s: {open(logp).read()[-600:]}')

    def stop_relay(self):
        if self.relay is None:
            return
        name, p = self.relay
        self.relay = None
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        # anything left in rly was started by us (miredo's privileged helper)
        for pid in ip_netns_pids(self.rly):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(f'/var/run/dpdk/{self.file_prefix}', ignore_errors=True)
        time.sleep(0.3)

    # ------------------------------------------------------------- telemetry

    def tel(self, *cmds):
        path = f'/var/run/dpdk/{self.file_prefix}/dpdk_telemetry.v2'
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.settimeout(3)
        s.connect(path)
        s.recv(16384)
        out = {}
        for c in cmds:
            s.send(c.encode())
            out[c] = json.loads(s.recv(1 << 20).decode()).get(c.split(',')[0])
        s.close()
        return out

    def relay_snapshot(self):
        name, p = self.relay
        if name != 'miredo':
            try:
                t = self.tel('/terelay/stats', '/terelay/lcores', '/ethdev/stats,0', '/ethdev/stats,1')
            except (OSError, ValueError) as e:
                return {'error': str(e)}
            return {'stats': t['/terelay/stats'], 'lcores': t['/terelay/lcores'],
                    'eth0_imissed': t['/ethdev/stats,0']['imissed'],
                    'eth1_imissed': t['/ethdev/stats,1']['imissed']}
        snmp = self.nsx(self.rly, 'cat', '/proc/net/snmp').stdout.splitlines()
        udp = [l.split()[1:] for l in snmp if l.startswith('Udp:')]
        u = dict(zip(udp[0], map(int, udp[1])))
        cpu = 0
        for pid in ip_netns_pids(self.rly):
            try:
                for t in os.listdir(f'/proc/{pid}/task'):
                    st = open(f'/proc/{pid}/task/{t}/stat').read().rsplit(')', 1)[1].split()
                    cpu += int(st[11]) + int(st[12])
            except OSError:
                pass
        return {'udp': {k: u[k] for k in ('InDatagrams', 'RcvbufErrors', 'InErrors')},
                'miredo_cpu_s': cpu / os.sysconf('SC_CLK_TCK'),
                'teredo_tx': self.sysfs(self.rly, 'teredo', 'rx_packets')}

    # ----------------------------------------------------------------- trust

    def trust(self, peers):
        out = os.path.join(self.dir, 'trust.json')
        for f in (out, out + '.ready'):
            if os.path.exists(f):
                os.unlink(f)
        me = os.path.abspath(__file__)
        r = subprocess.Popen(['ip', 'netns', 'exec', self.gen, sys.executable, me, '--_responder',
                              'g0', peers, out, '30'], start_new_session=True)
        for _ in range(100):
            if os.path.exists(out + '.ready'):
                break
            time.sleep(0.05)
        t = subprocess.Popen(['ip', 'netns', 'exec', self.v6h, sys.executable, me, '--_trigger',
                              peers, '60', '0.002'], start_new_session=True)
        r.wait(40)
        if t.poll() is None:
            os.killpg(t.pid, signal.SIGTERM)
        t.wait()
        res = json.load(open(out))
        if res['trusted'] < res['clients']:
            die(f'{self.relay[0]}: only {res["trusted"]} of {res["clients"]} synthetic clients became '
                f'trusted (indirect bubbles seen {res["bubbled"]}): {res}')
        return res

    # ----------------------------------------------------------------- trials

    def trial(self, cfg, rate, secs):
        """rate in pps, or None for trafgen's top speed (TX_RING, no pacing)."""
        n = int(min(rate or 1e12, self.a.topspeed_guess) * secs)
        if rate:
            n = max(n, self.frames)
        before = (self.sysfs(self.gen, 'g0', 'tx_packets'), self.counter(),
                  self.sysfs(self.v6h, 'eth0', 'rx_packets'),
                  self.relay_snapshot() if self.relay else None)
        if rate:
            # paced: tcpreplay --pps (one packet per interval; it sleeps when ahead and
            # catches up when late, so only short bursts). trafgen -b is NOT a pacer: it
            # sends each second's quota back to back, then waits for the next second.
            loops = max(1, -(-n // self.frames))
            cmd = ['ip', 'netns', 'exec', self.gen, 'nice', '-n', str(self.a.nice), 'taskset', '-c',
                   str(self.a.gen_cpu), 'tcpreplay', '-i', 'g0', f'--pps={int(rate)}', f'--loop={loops}',
                   '-q', self.pcap]
            r = sh(cmd, timeout=secs * 20 + 60)
            m = re.search(r'Actual: (\d+) packets \(\d+ bytes\) sent in ([\d.]+) seconds', r.stdout + r.stderr)
            if not m:
                raise RuntimeError(f'cannot parse tcpreplay output: {r.stdout[-300:]} {r.stderr[-300:]}')
            sent, dur = int(m.group(1)), float(m.group(2))
        else:
            # top speed: trafgen (TX_RING), the fastest sender here
            cmd = ['ip', 'netns', 'exec', self.gen, 'nice', '-n', str(self.a.nice), 'taskset', '-c',
                   str(self.a.gen_cpu), 'trafgen', '-o', 'g0', '-i', cfg, '-n', str(n), '-P', '1', '-q',
                   '--no-sock-mem', '-Q']
            r = sh(cmd, timeout=secs * 20 + 60)
            m = re.search(r'(\d+) sec, (\d+) usec on CPU\d+ \((\d+) packets\)', r.stdout + r.stderr)
            if not m:
                raise RuntimeError(f'cannot parse trafgen output: {r.stdout[-300:]} {r.stderr[-300:]}')
            sent, dur = int(m.group(3)), int(m.group(1)) + int(m.group(2)) / 1e6
        time.sleep(0.5)              # let queues drain
        after = (self.sysfs(self.gen, 'g0', 'tx_packets'), self.counter(),
                 self.sysfs(self.v6h, 'eth0', 'rx_packets'),
                 self.relay_snapshot() if self.relay else None)
        wire = after[0] - before[0]
        got, rx = after[1] - before[1], after[2] - before[2]
        t = {'requested_pps': int(rate) if rate else 'topspeed',
             'generator': 'tcpreplay --pps' if rate else 'trafgen top speed', 'sent': sent, 'g0_tx': wire,
             'trafgen_s': round(dur, 4), 'sent_pps': round(sent / dur), 'forwarded': got,
             'v6h_rx': rx, 'lost': sent - got}
        if self.relay:
            t['relay'] = relay_delta(self.relay[0], before[3], after[3], dur)
        return t


def ip_netns_pids(ns):
    r = sh(['ip', 'netns', 'pids', ns], check=False)
    return [int(x) for x in r.stdout.split()]


def relay_delta(name, b, a, dur):
    if not b or not a or 'error' in b or 'error' in a:
        return {'error': (a or {}).get('error', 'no snapshot')}
    if name == 'miredo':
        return {'udp_in': a['udp']['InDatagrams'] - b['udp']['InDatagrams'],
                'udp_rcvbuf_errors': a['udp']['RcvbufErrors'] - b['udp']['RcvbufErrors'],
                'miredo_cpu_pct': round(100 * (a['miredo_cpu_s'] - b['miredo_cpu_s']) / dur, 1)}
    sa, sb = a['stats'], b['stats']
    d = {k: sa[k] - sb[k] for k in ('rx_packets', 'decapsulated', 'drops_total', 'to_control')
         if k in sa}
    d['imissed_eth0'] = a['eth0_imissed'] - b['eth0_imissed']
    for lid, lc in a['lcores'].items():
        if not isinstance(lc, dict):
            continue                  # tsc_hz
        lb = b['lcores'].get(lid, {})
        cb = lc['cycles_busy'] - lb.get('cycles_busy', 0)
        ci = lc['cycles_idle'] - lb.get('cycles_idle', 0)
        d[f'{lc["role"]}_busy_pct'] = round(100 * cb / (cb + ci), 1) if cb + ci else None
        if lc['role'] == 'worker':
            d['worker_busy_cycles_per_pkt'] = round(cb / max(1, lc['rx_packets'] - lb.get('rx_packets', 0)))
    return d


# ---------------------------------------------------------------------- search

def loss_ok(t, tol):
    return t['sent'] > 0 and t['lost'] <= tol * t['sent'] and t['forwarded'] <= t['sent']


def bisect(bed, cfg, a, name, ceiling):
    """Highest loss-free paced rate (geometric bisection); top speed if the ceiling passes.
    Returns (best passing trial or None, all trials, generator_limited)."""
    trials, best = [], [None]

    def run(rate):
        t = bed.trial(cfg, rate, a.secs)
        t['ok'] = loss_ok(t, a.loss_tolerance)
        if not t['ok'] and a.confirm:
            # a shared machine: a loss must be reproduced by a second trial at the same rate
            t['first_try'] = {k: t[k] for k in ('sent', 'sent_pps', 'lost', 'relay') if k in t}
            log(f'  {name}: {t["sent_pps"] / 1e3:7.1f} kpps lost {t["lost"]} / {t["sent"]}: again')
            t2 = bed.trial(cfg, rate, a.secs)
            t2['ok'] = loss_ok(t2, a.loss_tolerance)
            t2['first_try'] = t['first_try']
            t = t2
        trials.append(t)
        if t['ok'] and (best[0] is None or t['sent_pps'] > best[0]['sent_pps']):
            best[0] = t
        log(f'  {name}: {"top speed" if rate is None else f"{rate / 1e3:7.1f} kpps"} -> sent '
            f'{t["sent_pps"] / 1e3:7.1f} kpps, lost {t["lost"]} / {t["sent"]} '
            f'{"ok" if t["ok"] else "LOSS"} {json.dumps(t.get("relay", {}))}')
        return t['ok']

    if run(a.start_rate):
        lo, hi = a.start_rate, ceiling
        if run(hi):
            run(None)
            return best[0], trials, True
    else:
        lo, hi = 1000.0, a.start_rate
        if not run(lo):
            return None, trials, False
    while hi / lo > 1 + a.resolution:
        mid = (lo * hi) ** 0.5
        if run(mid):
            lo = mid
        else:
            hi = mid
    return best[0], trials, False


def gen_alone(bed, cfg, a):
    """The generators into rly eth0 with nothing forwarding (no relay, no kernel address)."""
    t = bed.trial(cfg, None, a.secs)
    t2 = bed.trial(cfg, 2_000_000, a.secs)
    res = {'topspeed_pps': t['sent_pps'], 'paced_ceiling_pps': t2['sent_pps']}
    log(f'generator alone: trafgen top speed {t["sent_pps"] / 1e3:.1f} kpps, tcpreplay --pps '
        f'ceiling {t2["sent_pps"] / 1e3:.1f} kpps')
    return res


# ----------------------------------------------------------------------- inputs

def make_captures(a, tmp):
    pcap = os.path.join(tmp, 'decap.pcap')
    peers = os.path.join(tmp, 'peers.txt')
    sh([a.tr_gen, '--out', pcap, '--peers-out', peers, '--mix', '0:1:0:0', '--clients', str(a.clients),
        '--servers', str(a.servers), '--hosts', '16', '--packets', str(a.frames), '--size', str(a.size),
        '--relay', f'{RLY_IP}:{RLY_PORT}', '--seed', str(a.seed)])
    # trafgen packet list, Ethernet addresses rewritten for the veths
    dst, src = mac_bytes(MAC['r0']), mac_bytes(MAC['g0'])
    cfg = os.path.join(tmp, 'decap.trafgen')
    vpcap = os.path.join(tmp, 'decap-veth.pcap')
    n = 0
    with open(pcap, 'rb') as f, open(cfg, 'w') as out, open(vpcap, 'wb') as vp:
        gh = f.read(24)
        vp.write(gh)
        if struct.unpack('<I', gh[:4])[0] not in (0xa1b2c3d4, 0xa1b23c4d):
            die('tr_gen wrote a pcap this script does not read (byte order)')
        while True:
            h = f.read(16)
            if len(h) < 16:
                break
            incl = struct.unpack('<IIII', h)[2]
            fr = dst + src + f.read(incl)[12:]
            vp.write(h + fr)
            out.write('{ ' + ', '.join(f'0x{b:02x}' for b in fr) + ' }\n')
            n += 1
    log(f'captures: {n} decap frames of {len(fr)} bytes (IPv6 {a.size} bytes), {a.clients} clients')
    return vpcap, peers, cfg, len(fr), n


def need(a):
    if os.geteuid() != 0:
        die('must run as root (network namespaces)')
    missing = sorted({pkg for tool, pkg in TOOLS.items() if shutil.which(tool) is None})
    if missing:
        die(f'missing Debian packages: {" ".join(missing)} (run scripts/setup-deps.sh)')
    for b in (a.terelay, a.tr_gen):
        if not os.access(b, os.X_OK):
            die(f'{b} not built: cd {REPO} && meson setup {a.build} && ninja -C {a.build}')
    if not os.path.exists('/dev/net/tun'):
        die('/dev/net/tun missing (Miredo needs TUN)')
    try:
        hugepages.ensure(256)           # terelay runs --in-memory on 128 2 MB pages
    except (hugepages.HugepageError, OSError) as e:
        die(str(e))


def machine():
    cpu = ''
    for line in open('/proc/cpuinfo'):
        if line.startswith('model name'):
            cpu = line.split(':', 1)[1].strip()
            break

    def ver(pkg):
        r = sh(['dpkg-query', '-W', '-f=${Version}', pkg], check=False)
        return r.stdout.strip() or None
    return {'nproc': os.cpu_count(), 'cpu_model': cpu, 'kernel': os.uname().release,
            'debian': open('/etc/debian_version').read().strip(),
            'versions': {p: ver(p) for p in ('miredo', 'netsniff-ng', 'dpdk', 'libdpdk-dev')},
            'terelay_commit': sh(['git', '-C', REPO, 'rev-parse', '--short', 'HEAD'], check=False).stdout.strip()}


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def write_md(path, res):
    s = res['summary']
    g = res['generator_alone']
    m = res['machine']
    L = ['# Side by side: Miredo vs terelay as the Teredo relay (veth testbed)', '',
         f'Decap direction (Teredo client → native IPv6), IPv6 packets of {res["config"]["ipv6_size"]} bytes '
         f'({res["config"]["frame_bytes"]}-byte frames on the Teredo side), {res["config"]["clients"]} '
         f'trusted synthetic clients, {res["config"]["reps"]} repetitions per relay, alternating; '
         f'medians. Run of {res["date"]}, {res["elapsed_s"]:.0f} s.', '',
         '| relay | loss-free rate, median (kpps) | per repetition (kpps) | relay CPU at that rate |',
         '|---|---:|---|---|']
    for name in res['runs']:
        reps = res['runs'][name]
        per = ', '.join(f'{r["loss_free_pps"] / 1e3:.1f}' + (' (gen-limited)' if r['generator_limited'] else '')
                        if r['loss_free_pps'] else '–' for r in reps)
        cpu = s[name].get('cpu_note', '')
        L.append(f'| {name} | {s[name]["median_loss_free_pps"] / 1e3:.1f} | {per} | {cpu} |')
    L += ['', f'**terelay / Miredo = {s["ratio"]:.1f}×** (median of per-repetition ratios '
              f'{s["median_ratio_per_rep"]:.1f}×). Generator alone into the relay veth, nothing '
              f'forwarding: trafgen top speed {g["topspeed_pps"] / 1e3:.0f} kpps (median of '
              f'{len(g["runs"])}), tcpreplay paced ceiling {g["paced_ceiling_pps"] / 1e3:.0f} kpps.', '']
    if s.get('generator_limited'):
        L += [f'terelay was loss-free at the highest rate the generator reached in '
              f'{s["generator_limited"]} of {len(res["runs"]["terelay"])} repetitions: there, the '
              f'generator (and the sending CPU\'s kernel path into af_packet), not terelay, is the limit.', '']
    L += ['## Method', '',
          f'Machine: {m["nproc"]} vCPUs ({m["cpu_model"]}), kernel {m["kernel"]}, Debian {m["debian"]}; '
          f'Miredo {m["versions"]["miredo"]}, netsniff-ng (trafgen) {m["versions"]["netsniff-ng"]}, DPDK '
          f'{m["versions"]["dpdk"]}, terelay {m["terelay_commit"]}. Other jobs shared the machine; '
          'Miredo and terelay repetitions alternate so noise hits both.', '',
          'Testbed: three namespaces, veth pairs, no bridges: generator `gen` (198.18.0.254) — relay '
          '`rly` (198.18.0.20:3544, 2001:db8:6::20) — native host `v6h` (2001:db8:6::100). The relay is '
          'Miredo 1.2.6 (`RelayType cone`, kernel addresses, IPv6 forwarding through its tun) or terelay '
          f'(`net_af_packet` on both veths, `{res["config"]["terelay_af_packet_devargs"]}`, one worker lcore on CPU {res["config"]["relay_cpu"]}, '
          f'control on CPU {res["config"]["ctl_cpu"]}, hugepages `--in-memory`); Miredo is pinned to CPU '
          f'{res["config"]["relay_cpu"]} too, the generators to CPU {res["config"]["gen_cpu"]}; all run at '
          f'nice {res["config"]["nice"]}. `terelay-ring512` is terelay with the PMD\'s default 512-frame '
          'rings per queue (Miredo\'s UDP socket keeps its default 208 KiB receive buffer: Miredo has no '
          'setting for it).', '',
          'Traffic: `perf/gen/tr_gen --mix 0:1:0:0` decap frames (IPv4/UDP from the client\'s mapped '
          'address:port to 198.18.0.20:3544, carrying IPv6/UDP to 2001:db8::/32 hosts), Ethernet '
          'addresses rewritten; paced rates replayed by `tcpreplay --pps=<rate>` (it sleeps when ahead '
          'and catches up when late: short bursts only), the top-speed trial by `trafgen` (TX_RING, no '
          '`-b`). trafgen\'s `-b <rate>pps` is not usable as a pacer: it sends each second\'s quota back '
          'to back (2000 packets at `-b 3000pps` left in 4.4 ms), which overflows any receive buffer. '
          '"64-byte packets" as in `miredo-perf.sh`: 64 bytes of UDP '
          f'payload (iperf3 `-l 64`), i.e. a {res["config"]["ipv6_size"]}-byte IPv6 packet.', '',
          'Trust: the relay must not see packets from unverified peers. After each relay start, v6h '
          'sends one UDP packet to every client; the relay queues it and sends an indirect bubble to the '
          'client\'s Teredo server (198.18.0.1+k, routed to gen); a responder on gen answers each with '
          'the client\'s direct bubble from its mapped address:port; a client counts as trusted when the '
          'relay flushes its queued packet to that mapping. Load starts when all clients are trusted '
          '(synthetic clients, real bubble exchange).', '',
          'Counters: sent = the generator\'s own packet count (tcpreplay\'s or trafgen\'s, checked '
          'against g0 tx_packets); forwarded = nftables named '
          'counter in a netdev ingress chain on v6h eth0 that matches (and drops) IPv6 packets from '
          '2001::/32, cross-checked with v6h eth0 rx_packets. Rates are sent packets / the generator\'s '
          f'own send time. Loss-free: {res["config"]["loss_definition"]}. Search: per relay and repetition, '
          f'a trial at {res["config"]["start_rate_pps"] / 1e3:.0f} kpps, one at the paced ceiling (then '
          f'top speed if that passes), then geometric bisection to {res["config"]["resolution"] * 100:.0f} %; '
          'the loss-free rate is the highest sent rate of a passing trial.', '',
          f'Command: `{res["command"]}`. Raw trials, relay counters per trial (terelay: decapsulated, '
          'drops, ethdev imissed, worker busy %, busy cycles per packet; Miredo: UDP RcvbufErrors, CPU %) '
          'in `perf/results/sidebyside.json`.', '']
    if s.get('notes'):
        L += ['## Observations', ''] + [f'- {n}' for n in s['notes']] + ['']
    with open(path, 'w') as f:
        f.write('\n'.join(L))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--build', default=os.path.join(REPO, 'build-sbs'), help='meson build dir (terelay, tr_gen)')
    ap.add_argument('--reps', type=int, default=3)
    ap.add_argument('--secs', type=float, default=2.0, help='seconds per trial')
    ap.add_argument('--size', type=int, default=112, help='IPv6 packet length (112 = 64-byte UDP payload)')
    ap.add_argument('--clients', type=int, default=256)
    ap.add_argument('--servers', type=int, default=16)
    ap.add_argument('--frames', type=int, default=1024, help='distinct frames in the replayed list')
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--loss-tolerance', type=float, default=0.001, help='lost/sent allowed (0 = none)')
    ap.add_argument('--no-confirm', dest='confirm', action='store_false',
                    help='a failing trial counts at once (default: it must fail twice)')
    ap.add_argument('--resolution', type=float, default=0.05)
    ap.add_argument('--start-rate', type=float, default=10000.0)
    ap.add_argument('--gen-cpu', type=int, default=0)
    ap.add_argument('--relay-cpu', type=int, default=1)
    ap.add_argument('--ctl-cpu', type=int, default=0)
    ap.add_argument('--nice', type=int, default=-10,
                    help='nice value of trafgen and of both relays (shared machine: same for all)')
    ap.add_argument('--afp-args', default=',framecnt=4096',
                    help='extra net_af_packet devargs of "terelay" (default: 4096-frame rings)')
    ap.add_argument('--default-ring-too', action='store_true',
                    help='also run "terelay-ring512": net_af_packet default rings (512 frames/queue)')
    ap.add_argument('--only', choices=['miredo', 'terelay', 'terelay-ring512'], help='one relay (debugging)')
    ap.add_argument('--out', default=os.path.join(REPO, 'perf', 'results', 'sidebyside'))
    ap.add_argument('--keep', action='store_true')
    ap.add_argument('--md-from', help='rewrite the markdown from an existing JSON result, run nothing')
    ap.add_argument('--_responder', nargs=4, help=argparse.SUPPRESS)
    ap.add_argument('--_trigger', nargs=3, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a._responder:
        return helper_responder(a._responder[0], a._responder[1], a._responder[2], float(a._responder[3]))
    if a._trigger:
        return helper_trigger(a._trigger[0], int(a._trigger[1]), float(a._trigger[2]))
    if a.md_from:
        write_md(a.out + '.md', json.load(open(a.md_from)))
        return 0
    a.terelay = os.path.join(a.build, 'app', 'terelay')
    a.tr_gen = os.path.join(a.build, 'perf', 'tr_gen')
    a.topspeed_guess = 400000
    need(a)
    t_start = time.time()
    tmp = tempfile.mkdtemp(prefix='terelay-sbs-')
    bed = Bed(a, tmp)

    def on_signal(sig, frame):
        raise SystemExit(128 + sig)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    relays = [a.only] if a.only else ['miredo', 'terelay'] + (['terelay-ring512'] if a.default_ring_too else [])
    runs = {r: [] for r in relays}
    gens = []
    try:
        pcap, peers, cfg, frame_len, bed.frames = make_captures(a, tmp)
        bed.pcap = pcap
        bed.setup()
        log(f'namespaces {bed.p}*, logs {tmp}')
        gens.append(gen_alone(bed, cfg, a))
        ceiling = gens[0]['paced_ceiling_pps']
        for rep in range(a.reps):
            order = relays if rep % 2 == 0 else relays[::-1]
            for name in order:
                log(f'rep {rep + 1}/{a.reps}: {name}')
                if name == 'miredo':
                    bed.start_miredo()
                else:
                    bed.start_terelay('' if name == 'terelay-ring512' else None)
                tr = bed.trust(peers)
                log(f'  {name}: {tr["trusted"]}/{tr["clients"]} clients trusted by bubble exchange '
                    f'in {tr["seconds"]} s')
                best, trials, genlim = bisect(bed, cfg, a, name, ceiling)
                final = None
                if name != 'miredo':
                    final = bed.relay_snapshot()
                bed.stop_relay()
                if name != 'miredo' and os.path.exists(bed.stats_json):
                    final = {'telemetry': final, 'stats_json': json.load(open(bed.stats_json))}
                runs[name].append({'rep': rep + 1, 'trust': tr,
                                   'loss_free_pps': best['sent_pps'] if best else None,
                                   'loss_free_trial': best, 'generator_limited': genlim,
                                   'trials': trials, 'final': final})
                log(f'  {name}: loss-free {best["sent_pps"] / 1e3 if best else 0:.1f} kpps'
                    f'{" (generator-limited)" if genlim else ""}')
            bed.bare()
        gens.append(gen_alone(bed, cfg, a))
    finally:
        bed.stop_relay()
        for ns in (bed.gen, bed.rly, bed.v6h):
            for pid in ip_netns_pids(ns):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            sh(['ip', 'netns', 'del', ns], check=False)
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    summary = {}
    for name in relays:
        summary[name] = {'median_loss_free_pps': median([r['loss_free_pps'] for r in runs[name]])}
    notes = []
    if 'miredo' in relays and 'terelay' in relays:
        m, t = summary['miredo']['median_loss_free_pps'], summary['terelay']['median_loss_free_pps']
        summary['ratio'] = t / m if m and t else None
        summary['median_ratio_per_rep'] = median(
            [tt['loss_free_pps'] / mm['loss_free_pps'] for mm, tt in zip(runs['miredo'], runs['terelay'])
             if mm['loss_free_pps'] and tt['loss_free_pps']])
        summary['generator_limited'] = sum(1 for r in runs['terelay'] if r['generator_limited'])
        for name in relays:
            rel = [r['loss_free_trial'].get('relay', {}) for r in runs[name] if r['loss_free_trial']]
            if name == 'miredo':
                summary[name]['cpu_note'] = 'Miredo CPU %s %% of a core' % median(
                    [x.get('miredo_cpu_pct') for x in rel])
            else:
                summary[name]['cpu_note'] = 'worker busy %s %%, %s busy cycles/pkt' % (
                    median([x.get('worker_busy_pct') for x in rel]),
                    median([x.get('worker_busy_cycles_per_pkt') for x in rel]))
    summary['notes'] = notes
    g = {'runs': gens, 'topspeed_pps': median([x['topspeed_pps'] for x in gens]),
         'paced_ceiling_pps': median([x['paced_ceiling_pps'] for x in gens])}
    res = {'date': time.strftime('%Y-%m-%d %H:%M:%S %z'), 'elapsed_s': round(time.time() - t_start, 1),
           'command': '/usr/bin/python3 perf/sidebyside/run.py ' + ' '.join(sys.argv[1:]),
           'machine': machine(),
           'config': {'direction': 'decap (Teredo client -> native)', 'ipv6_size': a.size,
                      'frame_bytes': frame_len, 'clients': a.clients, 'servers': a.servers,
                      'frames': a.frames, 'seed': a.seed, 'reps': a.reps, 'secs_per_trial': a.secs,
                      'resolution': a.resolution, 'start_rate_pps': a.start_rate,
                      'loss_tolerance': a.loss_tolerance, 'confirm_failures': a.confirm,
                      'loss_definition': ('0 packets lost in the trial' if a.loss_tolerance == 0 else
                                          f'lost <= {a.loss_tolerance * 100:g} % of sent in the trial')
                      + ('; a failing rate is tried a second time and fails only if that fails too'
                         if a.confirm else ''),
                      'gen_cpu': a.gen_cpu, 'relay_cpu': a.relay_cpu, 'ctl_cpu': a.ctl_cpu,
                      'terelay_eal': getattr(bed, 'terelay_cmd', None), 'nice': a.nice,
                      'terelay_af_packet_devargs': 'qpairs=2' + a.afp_args},
           'generator_alone': g, 'summary': summary, 'runs': runs}
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out + '.json', 'w') as f:
        json.dump(res, f, indent=1)
    if 'miredo' in relays and 'terelay' in relays:
        write_md(a.out + '.md', res)
    log(f'wrote {a.out}.json' + (f' and {a.out}.md' if 'miredo' in relays and 'terelay' in relays else ''))
    for name in relays:
        log(f'{name}: median loss-free {summary[name]["median_loss_free_pps"] or 0:.0f} pps')
    if summary.get('ratio'):
        log(f'terelay/miredo = {summary["ratio"]:.2f}; generator alone top speed {g["topspeed_pps"]} pps')
    return 0


if __name__ == '__main__':
    sys.exit(main())
