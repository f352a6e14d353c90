#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Scale-out suite: two terelay relays behind a BIRD 2 router with ECMP, each
announcing 2001::/32 (anycast) and its own IPv4 service /32 by eBGP through
its own BIRD, toggled by deploy/bgp/terelay-health. Real Miredo clients behind
NATs and a native IPv6 host send traffic through both; one relay is restarted
in place with its state file (its clients stay pinned), then stopped (SIGTERM)
and started again, then the other's worker lcore is frozen (stalled) and
released; failover/recovery times and lost pings are measured and asserted.
Last, route-only checks of two more health rules: SIGSTOP of the whole process
(telemetry silent) and a link down under net_af_packet.

    scaleout.py --terelay PATH [--keep] [--json FILE]

Topology (namespaces so<pid>-*; docs/scale-out.md):

  cli1 -- nat1 --+                       +-- r1a/r1b == rly1 (terelay 198.18.100.1, BIRD AS 65100)
  cli2 -- nat2 --+- br4  rtr (BIRD,  --+
  srv (miredo-server) -+ br6  AS 65000) +-- r2a/r2b == rly2 (terelay 198.18.100.2, BIRD AS 65100)
  v6h (native host) ---+

Root only; every process it starts is ended by pid and the namespaces are
removed on exit, on failure and on SIGTERM/SIGINT.
"""
import argparse
import importlib.machinery
import ipaddress
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BGP = os.path.join(ROOT, 'deploy', 'bgp')
HEALTH = os.path.join(BGP, 'terelay-health')
health = importlib.machinery.SourceFileLoader('terelay_health', HEALTH).load_module()

SRV4, SRV4B = '198.18.0.10', '198.18.0.11'
RTR4, RTR6 = '198.18.0.1', '2001:db8:6::1'
NAT_WAN = {1: '198.18.0.30', 2: '198.18.0.31'}
SRV6, V6H6 = '2001:db8:6::10', '2001:db8:6::100'
ROUTER_AS, RELAY_AS = 65000, 65100
PING_INTERVAL = 0.1
# Bounds asserted (measured values are printed and go to --json):
WITHDRAW_BOUND_S = 3.0        # event -> the router's kernel route no longer uses the relay
ANNOUNCE_BOUND_S = 10.0       # relay started/released -> back in the router's ECMP set
NATIVE_FAILOVER_BOUND_S = 10.0  # native-initiated ping stream answered again
# Client-initiated streams wait for the Miredo client to give up its pinned
# relay: its peer entry expires 30 s after the last packet from the peer
# (RFC 4380 §5.2.5/§5.2.9), then a direct connectivity test through the server.
CLIENT_FAILOVER_BOUND_S = 30 + 15
# A relay restarted in place with its state file ([state], docs/deploy.md
# "Restarts") trusts its clients again at once: a client pinned to it is
# answered again once the relay is back in the ECMP set (exit + start +
# re-announcement, ~4-6 s here), long before its own 30 s timer would re-pin it.
RESTART_CLIENT_BOUND_S = 12.0
SETTLE_TIMEOUT_S = 50


class Fail(AssertionError):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


T0 = time.time()


def log(msg):
    print(f'[scaleout {time.time() - T0:6.1f}s] {msg}', flush=True)


def relay_v4(n):
    return f'198.18.100.{n}'


def relay_ll4(n):      # the relay host's kernel address on its Teredo-side link (BGP, next hop)
    return f'198.18.{n}.2'


def relay_ll6(n):      # the relay host's kernel address on its native-side link
    return f'2001:db8:6{n}::2'


class Bed:
    def __init__(self, terelay, work, prefix):
        self.terelay = terelay
        self.work = work
        self.p = prefix
        self.procs = {}          # name -> Popen
        self.ns_all = ['rtr', 'rly1', 'rly2', 'v6h', 'srv', 'nat1', 'cli1', 'nat2', 'cli2']
        self.created = []
        self.starts = {1: 0, 2: 0}
        self.no_state = False

    # ------------------------------------------------------------------ plumbing
    def ns(self, name):
        return self.p + name

    def sh(self, *cmd, ns=None, check_rc=True, timeout=30, input=None):
        full = (['ip', 'netns', 'exec', self.ns(ns)] if ns else []) + list(cmd)
        r = subprocess.run(full, capture_output=True, text=True, timeout=timeout, input=input)
        if check_rc and r.returncode != 0:
            raise Fail(f'{ns or "host"}: {" ".join(cmd)}: exit {r.returncode}: {(r.stderr or r.stdout).strip()[-300:]}')
        return r.stdout

    def spawn(self, name, ns, cmd, out=None):
        f = open(out or os.path.join(self.work, name + '.log'), 'a')
        # ip netns exec execs the command: the pid is the daemon's own
        p = subprocess.Popen(['ip', 'netns', 'exec', self.ns(ns), *cmd], stdout=f, stderr=subprocess.STDOUT,
                             start_new_session=True)
        self.procs[name] = p
        return p

    def stop(self, name, sig=signal.SIGTERM, wait=10):
        p = self.procs.pop(name, None)
        if p is None or p.poll() is not None:
            return
        p.send_signal(sig)
        try:
            p.wait(wait)
        except subprocess.TimeoutExpired:
            log(f'{name} (pid {p.pid}) ignored signal {sig} for {wait} s: SIGKILL')
            p.kill()
            p.wait()

    def cleanup(self):
        for name in list(self.procs):
            p = self.procs[name]
            if p.poll() is None:
                try:
                    os.kill(p.pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass
            self.stop(name, wait=5)
        # anything still in our namespaces was started by us (miredo helpers): end it by pid
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for n in self.created:
                r = subprocess.run(['ip', 'netns', 'pids', self.ns(n)], capture_output=True, text=True)
                for pid in r.stdout.split():
                    try:
                        os.kill(int(pid), sig)
                    except (ProcessLookupError, ValueError):
                        pass
            time.sleep(0.3)
        for n in self.created:
            subprocess.run(['ip', 'netns', 'del', self.ns(n)], capture_output=True)
        for n in (1, 2):
            shutil.rmtree(f'/var/run/dpdk/{self.p}rly{n}', ignore_errors=True)

    # ------------------------------------------------------------------ set-up
    def need(self):
        miss = [t for t in ('ip', 'bird', 'birdc', 'miredo', 'miredo-server', 'nft', 'ethtool', 'ping')
                if shutil.which(t) is None]
        check(not miss, f'missing tools: {" ".join(miss)} (run scripts/setup-deps.sh)')
        check(os.access(self.terelay, os.X_OK), f'terelay binary not executable: {self.terelay!r}')
        check(os.path.exists('/dev/net/tun'), 'kernel feature missing: TUN (/dev/net/tun) for Miredo')

    def link(self, ns1, if1, ns2, if2, master=None):
        self.sh('ip', 'link', 'add', if1, 'netns', self.ns(ns1), 'type', 'veth', 'peer', 'name', if2,
                'netns', self.ns(ns2))
        for ns, i in ((ns1, if1), (ns2, if2)):
            # veths hand local packets over with CHECKSUM_PARTIAL: a packet socket
            # (terelay's af_packet port) would read bad UDP checksums (docs/interop.md)
            self.sh('ethtool', '-K', i, 'tx', 'off', ns=ns)
        if master:
            self.sh('ip', 'link', 'set', if2, 'master', master, ns=ns2)
        self.sh('ip', 'link', 'set', if1, 'up', ns=ns1)
        self.sh('ip', 'link', 'set', if2, 'up', ns=ns2)

    def setup(self):
        self.need()
        for n in self.ns_all:
            self.sh('ip', 'netns', 'add', self.ns(n))
            self.created.append(n)
            self.sh('ip', 'link', 'set', 'lo', 'up', ns=n)
            self.sh('sysctl', '-qw', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0',
                    'net.ipv6.conf.default.router_solicitations=0', 'net.ipv6.conf.default.accept_ra=0', ns=n)
        r = 'rtr'
        self.sh('sysctl', '-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1',
                'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0',
                # ECMP hash on source and destination address only (docs/scale-out.md)
                'net.ipv6.fib_multipath_hash_policy=3', 'net.ipv6.fib_multipath_hash_fields=0x0003',
                # the link-down check sets r1b down: keep its address (and BGP neighbour)
                'net.ipv6.conf.default.keep_addr_on_down=1', ns=r)
        for br in ('br4', 'br6'):
            self.sh('ip', 'link', 'add', br, 'type', 'bridge', ns=r)
            self.sh('ip', 'link', 'set', br, 'up', ns=r)
        self.sh('ip', 'addr', 'add', f'{RTR4}/24', 'dev', 'br4', ns=r)
        self.sh('ip', '-6', 'addr', 'add', f'{RTR6}/64', 'dev', 'br6', 'nodad', ns=r)
        self.link('srv', 'eth0', r, 's4', 'br4')
        self.link('srv', 'eth1', r, 's6', 'br6')
        self.link('v6h', 'eth0', r, 'h6', 'br6')
        for n in (1, 2):
            self.link(f'nat{n}', 'wan', r, f'n{n}4', 'br4')
            self.link(f'cli{n}', 'eth0', f'nat{n}', 'lan')
            rl = f'rly{n}'
            # the relay's kernel must stay out of IPv6 on the Teredo side
            self.sh('sysctl', '-qw', 'net.ipv6.conf.default.disable_ipv6=1', ns=rl)
            self.link(rl, 'eth0', r, f'r{n}a')
            self.sh('sysctl', '-qw', 'net.ipv6.conf.default.disable_ipv6=0', ns=rl)
            self.link(rl, 'eth1', r, f'r{n}b')
            self.sh('ip', 'addr', 'add', f'198.18.{n}.1/24', 'dev', f'r{n}a', ns=r)
            self.sh('ip', '-6', 'addr', 'add', f'2001:db8:6{n}::1/64', 'dev', f'r{n}b', 'nodad', ns=r)
            # relay host: kernel addresses for BGP (and next hops: ARP/ND answered by
            # the kernel with the MAC terelay's net_af_packet ports receive on)
            self.sh('ip', 'addr', 'add', f'{relay_ll4(n)}/24', 'dev', 'eth0', ns=rl)
            self.sh('ip', '-6', 'addr', 'add', f'{relay_ll6(n)}/64', 'dev', 'eth1', 'nodad', ns=rl)
            # packets for the clients reach this kernel too (same MAC): drop them
            # silently (no forwarding, and no ICMPv6 unreachable for 2001::/32)
            self.sh('ip', '-6', 'route', 'add', 'blackhole', '2001::/32', ns=rl)
        # Teredo server: two IPv4 addresses, native side on br6
        self.sh('ip', 'addr', 'add', f'{SRV4}/24', 'dev', 'eth0', ns='srv')
        self.sh('ip', 'addr', 'add', f'{SRV4B}/24', 'dev', 'eth0', ns='srv')
        self.sh('ip', 'route', 'add', 'default', 'via', RTR4, ns='srv')
        self.sh('ip', '-6', 'addr', 'add', f'{SRV6}/64', 'dev', 'eth1', 'nodad', ns='srv')
        self.sh('ip', '-6', 'route', 'add', 'default', 'via', RTR6, ns='srv')
        # native host: many addresses, so that its (address, client) pairs spread over both relays
        self.sh('ip', '-6', 'addr', 'add', f'{V6H6}/64', 'dev', 'eth0', 'nodad', ns='v6h')
        for i in range(0x110, 0x130):
            self.sh('ip', '-6', 'addr', 'add', f'2001:db8:6::{i:x}/64', 'dev', 'eth0', 'nodad', ns='v6h')
        self.sh('ip', '-6', 'route', 'add', 'default', 'via', RTR6, ns='v6h')
        for n in (1, 2):
            nat, cli, lan = f'nat{n}', f'cli{n}', f'192.168.{76 + n}'
            self.sh('ip', 'addr', 'add', f'{NAT_WAN[n]}/24', 'dev', 'wan', ns=nat)
            self.sh('ip', 'addr', 'add', f'{lan}.1/24', 'dev', 'lan', ns=nat)
            self.sh('ip', 'route', 'add', 'default', 'via', RTR4, ns=nat)
            self.sh('sysctl', '-qw', 'net.ipv4.ip_forward=1', ns=nat)
            self.sh('nft', '-f', '-', ns=nat, input='table ip sonat {\n chain post {\n  type nat hook postrouting priority srcnat;\n'
                    '  oifname "wan" masquerade\n }\n}\n')
            self.sh('ip', 'addr', 'add', f'{lan}.2/24', 'dev', 'eth0', ns=cli)
            self.sh('ip', 'route', 'add', 'default', 'via', f'{lan}.1', ns=cli)
        log(f'namespaces {self.p}*: {" ".join(self.ns_all)}')

    def subst(self, template, out, tokens):
        text = open(os.path.join(BGP, template)).read()
        for k, v in tokens.items():
            text = text.replace(f'@{k}@', str(v))
        left = [t for line in text.splitlines() if not line.lstrip().startswith('#')
                for t in re.findall(r'@[A-Z0-9_]+@', line)]
        check(not left, f'{template}: tokens left unfilled: {left}')
        path = os.path.join(self.work, out)
        with open(path, 'w') as f:
            f.write(text)
        return path

    def bird_sock(self, name):
        return os.path.join(self.work, f'bird-{name}.ctl')

    def start_bird(self):
        conf = self.subst('bird-router.conf', 'bird-rtr.conf', {
            'ROUTER_ID': RTR4, 'LOCAL_AS': ROUTER_AS, 'RELAY_AS': RELAY_AS,
            'LOG': os.path.join(self.work, 'bird-rtr.log'), 'SERVICE_V4_NET': '198.18.100.0/24',
            'RELAY1_V4': relay_ll4(1), 'RELAY1_V6': relay_ll6(1),
            'RELAY2_V4': relay_ll4(2), 'RELAY2_V6': relay_ll6(2)})
        confs = {'rtr': conf}
        for n in (1, 2):
            confs[f'rly{n}'] = self.subst('bird-relay.conf', f'bird-rly{n}.conf', {
                'ROUTER_ID': relay_ll4(n), 'SERVICE_V4': relay_v4(n), 'LOCAL_AS': RELAY_AS,
                'PEER_AS': ROUTER_AS, 'LOCAL_V4': relay_ll4(n), 'PEER_V4': f'198.18.{n}.1',
                'LOCAL_V6': relay_ll6(n), 'PEER_V6': f'2001:db8:6{n}::1',
                'LOG': os.path.join(self.work, f'bird-rly{n}.log')})
        for name, c in confs.items():
            self.sh('bird', '-p', '-c', c)
            self.spawn(f'bird-{name}', name, ['bird', '-f', '-c', c, '-s', self.bird_sock(name)])
        for name in confs:
            wait_for(lambda: os.path.exists(self.bird_sock(name)), 10, f'BIRD in {name} did not open its socket')

    def birdc(self, name, cmd):
        return self.sh('birdc', '-s', self.bird_sock(name), *cmd.split(), check_rc=False)

    def relay_conf(self, n):
        path = os.path.join(self.work, f'terelay-rly{n}.ini')
        with open(path, 'w') as f:
            f.write(f"""; written by tests/scaleout/scaleout.py
[relay]
ipv4 = {relay_v4(n)}
port = 3544
ipv6 = 2001:db8:6{n}::20
[ports]
teredo = net_af_packet0
native = net_af_packet1
[nexthop]
ipv4_gateway = 198.18.{n}.1
ipv6_gateway = 2001:db8:6{n}::1
[peers]
capacity = 65536
pending_capacity = 4096
[telemetry]
summary_interval = 1
""" + ('' if self.no_state else f"""[state]
file = {self.work}/state-rly{n}
interval = 5
"""))
        return path

    def prefix(self, n):
        return f'{self.p}rly{n}'

    def start_relay(self, n):
        self.starts[n] += 1
        # two vCPUs: the two relays' busy-polling workers on different CPUs
        lcores = '0@0,1@1' if n == 1 else '0@1,1@0'
        cmd = [self.terelay, '--no-huge', '-m', '512', '--no-pci', '--no-shconf', '--lcores', lcores,
               '--file-prefix', self.prefix(n), '--log-level=lib.eal:error',
               '--vdev', 'net_af_packet0,iface=eth0,qpairs=2', '--vdev', 'net_af_packet1,iface=eth1,qpairs=2',
               '--', '-c', self.relay_conf(n),
               '--stats-json', os.path.join(self.work, f'stats-rly{n}-{self.starts[n]}.json')]
        p = self.spawn(f'terelay{n}', f'rly{n}', cmd, out=os.path.join(self.work, f'terelay-rly{n}.log'))
        tel = self.tel(n)

        def up():
            check(p.poll() is None, f'terelay {n} exited at start ({p.returncode}): '
                                    f'{open(os.path.join(self.work, f"terelay-rly{n}.log")).read()[-400:]}')
            try:
                return isinstance(tel.query(['/terelay/stats'])['/terelay/stats'], dict)
            except health.TelemetryError:
                return False
        wait_for(up, 30, f'terelay {n}: no telemetry within 30 s')
        return p

    def tel(self, n):
        return health.Telemetry(f'/var/run/dpdk/{self.prefix(n)}/dpdk_telemetry.v2', 2.0)

    def stats(self, n):
        return self.tel(n).query(['/terelay/stats'])['/terelay/stats']

    def peer(self, n, addr):
        return self.tel(n).query([f'/terelay/peer,{addr}'])[f'/terelay/peer,{addr}']

    def start_health(self, n):
        self.spawn(f'health{n}', f'rly{n}', [
            '/usr/bin/python3', HEALTH, '--file-prefix', self.prefix(n), '--bird-socket', self.bird_sock(f'rly{n}'),
            '--protocol', 'terelay_v4', '--protocol', 'terelay_v6', '--iface', 'eth0', '--iface', 'eth1',
            '--status', os.path.join(self.work, f'health{n}.json')])

    def start_teredo(self):
        w = self.work
        with open(f'{w}/server.conf', 'w') as f:
            f.write(f'ServerBindAddress {SRV4}\n')
        with open(f'{w}/client.conf', 'w') as f:
            f.write(f'RelayType client\nInterfaceName teredo\nServerAddress {SRV4}\n')
        self.spawn('server', 'srv', ['miredo-server', '-f', '-c', f'{w}/server.conf', '-p', f'{w}/server.pid'])
        time.sleep(0.3)
        for n in (1, 2):
            self.spawn(f'client{n}', f'cli{n}', ['miredo', '-f', '-c', f'{w}/client.conf', '-p', f'{w}/client{n}.pid'])

    def client_addr(self, n):
        out = self.sh('ip', '-6', '-o', 'addr', 'show', 'dev', 'teredo', 'scope', 'global', ns=f'cli{n}', check_rc=False)
        m = re.search(r'inet6 (\S+)/', out)
        return m.group(1) if m else None

    # ------------------------------------------------------------------ the router's view
    def route_devs(self, dst, v6=True):
        """Interfaces of the router's kernel route for exactly dst ([] when absent)."""
        out = self.sh('ip', '-6' if v6 else '-4', 'route', 'show', 'exact', dst, ns='rtr', check_rc=False)
        return sorted(set(re.findall(r'dev (r[12][ab])', out)))

    def routes(self):
        """{'v6': relays in the 2001::/32 ECMP set, 'v4': relays whose service /32 is routed}."""
        v6 = {int(d[1]) for d in self.route_devs('2001::/32')}
        v4 = {n for n in (1, 2) if self.route_devs(f'{relay_v4(n)}/32', v6=False)}
        return v6, v4


def wait_for(fn, timeout, msg, step=0.1):
    end = time.time() + timeout
    while time.time() < end:
        if fn():
            return time.time()
        time.sleep(step)
    raise Fail(msg)


# ------------------------------------------------------------------ ping streams

class Stream:
    """ping -D -O -i 0.1: every sequence number ends as a reply line or as
    'no answer yet'; both carry a timestamp, so each one's send time is known."""
    RE_REPLY = re.compile(r'^\[(\d+\.\d+)\] \d+ bytes from .*icmp_seq=(\d+) .*time=([\d.]+) ms')
    RE_NOANS = re.compile(r'^\[(\d+\.\d+)\] no answer yet for icmp_seq=(\d+)')

    def __init__(self, bed, name, ns, cmd, kind, relay, client):
        self.name, self.kind, self.relay, self.client = name, kind, relay, client
        self.out = os.path.join(bed.work, f'ping-{name}.log')
        self.p = bed.spawn(f'ping-{name}', ns, ['ping', '-6', '-n', '-D', '-O', '-i', str(PING_INTERVAL), *cmd],
                           out=self.out)

    def parse(self):
        sent, answered = {}, set()
        for line in open(self.out, errors='replace'):
            m = self.RE_REPLY.match(line)
            if m:
                s = int(m.group(2))
                answered.add(s)
                sent.setdefault(s, float(m.group(1)) - float(m.group(3)) / 1000)
                continue
            m = self.RE_NOANS.match(line)
            if m:
                sent[int(m.group(2))] = float(m.group(1)) - PING_INTERVAL
        return sent, answered

    def window(self, t0, t1):
        """Lost pings sent in [t0, t1) and the outage: from t0 to the send time of
        the first answered ping after the last lost one (0 when none was lost)."""
        sent, ans = self.parse()
        seqs = sorted(s for s, t in sent.items() if t0 <= t < t1)
        # ping -i 0.1 sends ~10 a second: a window without them is a dead stream, not "0 lost".
        want = int((t1 - t0) / PING_INTERVAL * 0.5)
        check(len(seqs) >= want, f'stream {self.name}: {len(seqs)} pings sent in a {t1 - t0:.1f} s '
              f'window, expected at least {want}: the ping process stalled or died')
        lost = [s for s in seqs if s not in ans]
        if not lost:
            return 0, 0.0, None
        after = [s for s in seqs if s > lost[-1] and s in ans]
        rec = sent[after[0]] - t0 if after else None
        return len(lost), rec, (sent[lost[0]] - t0, sent[lost[-1]] - t0)

    def answered_since(self, t, n=10):
        """True when the last n pings sent after t were all answered."""
        sent, ans = self.parse()
        seqs = sorted(s for s, ts in sent.items() if ts >= t)
        # the newest few may still be in flight
        seqs = [s for s in seqs if sent[s] < time.time() - 1.0]
        return len(seqs) >= n and all(s in ans for s in seqs[-n:])


# ------------------------------------------------------------------ the scenario

class Run:
    def __init__(self, bed):
        self.bed = bed
        self.streams = []
        self.results = {'events': []}

    def wait_routes(self, v6, v4, timeout, what):
        t = wait_for(lambda: self.bed.routes() == (set(v6), set(v4)), timeout,
                     f'{what}: the router\'s routes did not become 2001::/32 via {sorted(v6)}, '
                     f'service /32 of {sorted(v4)} within {timeout} s (now {self.bed.routes()})', step=0.05)
        return t

    def bring_up(self):
        b = self.bed
        b.setup()
        b.start_bird()
        for n in (1, 2):
            b.start_relay(n)
            b.start_health(n)
        b.start_teredo()
        t = time.time()
        self.wait_routes({1, 2}, {1, 2}, 20, 'bring-up')
        log(f'both relays announced ({time.time() - t:.1f} s after the health checkers started polling)')
        log('router: ' + ' | '.join(b.sh('ip', '-6', 'route', 'show', 'exact', '2001::/32', ns='rtr').split('\n')))
        self.results['router_bird_route'] = b.birdc('rtr', 'show route 2001::/32')
        log('birdc show route 2001::/32 (router):\n' + self.results['router_bird_route'])
        self.addr = {}
        for n in (1, 2):
            wait_for(lambda: b.client_addr(n), 20, f'Miredo client {n} did not qualify in 20 s')
            self.addr[n] = b.client_addr(n)
            log(f'client {n} qualified: {self.addr[n]}')

    def capture(self, tag):
        """Starts tcpdump (ICMPv6) on the router's links to both relays' native sides."""
        b = self.bed
        caps = {}
        for n in (1, 2):
            out = os.path.join(b.work, f'cap-{tag}-r{n}b.txt')
            b.spawn(f'tcpdump{n}', 'rtr', ['tcpdump', '-l', '-n', '-i', f'r{n}b', 'icmp6'], out=out)
            caps[n] = out
        wait_for(lambda: all('listening on' in open(c).read() for c in caps.values()), 10,
                 'tcpdump did not start on the router')
        return caps

    def captured(self, caps):
        """{relay: set of (src, dst) of the echo requests/replies it was sent or sent}."""
        seen = {}
        for n, path in caps.items():
            self.bed.stop(f'tcpdump{n}', signal.SIGINT)
            seen[n] = set()
            for line in open(path, errors='replace'):
                m = re.search(r' IP6 (\S+) > (\S+?): ICMP6, echo', line)
                if m:
                    seen[n].add((m.group(1), m.group(2)))
        return seen

    def pick_pairs(self):
        """Per client, per relay, per direction: a native-host address whose
        (address, client) pair the router's ECMP hashes to that relay, learnt by
        sending one ping from every candidate address to every client and
        looking at which relay link each request crossed."""
        b = self.bed
        cands = [f'2001:db8:6::{i:x}' for i in range(0x110, 0x130)]
        caps = self.capture('probe')
        script = ' '.join(f'ping -6 -n -c 1 -W 1 -I {src} {self.addr[c]} >/dev/null 2>&1 &'
                          for c in (1, 2) for src in cands) + ' wait'
        b.sh('sh', '-c', script, ns='v6h', check_rc=False, timeout=20)
        time.sleep(0.3)
        seen = self.captured(caps)
        hashed = {}
        for c in (1, 2):
            for src in cands:
                via = [n for n in (1, 2) if (src, self.addr[c]) in seen[n]]
                if len(via) == 1:
                    hashed[(src, c)] = via[0]
        log(f'probe: {sum(1 for v in hashed.values() if v == 1)} (address, client) pairs hashed to relay 1, '
            f'{sum(1 for v in hashed.values() if v == 2)} to relay 2, {2 * len(cands) - len(hashed)} not seen')
        used, pairs = set(), []
        for c in (1, 2):
            for r in (1, 2):
                for kind in ('native', 'client'):
                    src = next((x for x in cands if x not in used and hashed.get((x, c)) == r), None)
                    check(src, f'no native-host address hashes to relay {r} for client {c} (ECMP not in effect?)')
                    used.add(src)
                    pairs.append((c, r, kind, src))
        return pairs

    def start_streams(self, pairs):
        b = self.bed
        for c, r, kind, src in pairs:
            name = f'{kind}-c{c}-r{r}'
            if kind == 'native':
                s = Stream(b, name, 'v6h', ['-I', src, self.addr[c]], kind, r, c)
            else:
                s = Stream(b, name, f'cli{c}', [src], kind, r, c)
            s.src = src
            self.streams.append(s)
        t = time.time()
        wait_for(lambda: all(s.answered_since(t, 10) for s in self.streams), 40,
                 'not every ping stream got 10 replies in a row within 40 s: ' + ', '.join(
                     f'{s.name} {len(s.parse()[1])} replies' for s in self.streams))
        log(f'all {len(self.streams)} ping streams answered ({time.time() - t:.1f} s)')

    def attribute(self, strict, seconds=3.0):
        """Which relay carries each stream, per direction, from captures on the
        router's native-side links: down = native host -> client (the router's
        ECMP choice), up = client -> native host (the relay the client pinned)."""
        caps = self.capture('attr')
        time.sleep(seconds)
        seen = self.captured(caps)
        for st in self.streams:
            a = self.addr[st.client]
            st.down = {n for n in (1, 2) if (st.src, a) in seen[n]}
            st.up = {n for n in (1, 2) if (a, st.src) in seen[n]}
            log(f'  {st.name:16s} native {st.src} <-> client {st.client}: down via relay {sorted(st.down)}, '
                f'up via relay {sorted(st.up)}')
            if strict:
                check(len(st.down) == 1 and len(st.up) == 1,
                      f'stream {st.name}: not exactly one relay per direction: down {st.down}, up {st.up}')
        return {s.name: {'down': sorted(s.down), 'up': sorted(s.up)} for s in self.streams}

    def baseline(self):
        b = self.bed
        before = {n: b.stats(n) for n in (1, 2)}
        t = time.time()
        self.attribute(strict=True)
        time.sleep(max(0.0, 4 - (time.time() - t)))
        after = {n: b.stats(n) for n in (1, 2)}
        dt = time.time() - t
        base = {}
        for n in (1, 2):
            d = {k: after[n][k] - before[n][k] for k in ('encapsulated', 'decapsulated', 'rx_packets', 'tx_packets')}
            base[n] = d
            log(f'relay {n} over {dt:.1f} s: ' + ', '.join(f'{k} +{v}' for k, v in d.items()))
            check(d['encapsulated'] >= 40 and d['decapsulated'] >= 40,
                  f'relay {n} carried too little: encapsulated +{d["encapsulated"]}, '
                  f'decapsulated +{d["decapsulated"]} in {dt:.1f} s (ECMP not spreading?)')
        self.results['baseline'] = {
            'relay_counters': base,
            'streams': {s.name: {'native': s.src, 'client': s.client, 'probed': s.relay,
                                 'down': sorted(s.down), 'up': sorted(s.up)} for s in self.streams}}
        for n in (1, 2):
            check(any(n in s.down for s in self.streams) and any(n in s.up for s in self.streams),
                  f'relay {n} carries no stream in one direction')

    def measure(self, name, t_ev, t_route, relay, unaffected_max_lost=3, observe=6.0,
                client_bound=CLIENT_FAILOVER_BOUND_S):
        """Waits until every stream is answered again (at least observe s after the
        routing change); returns per-stream results. A stream is affected when
        the relay carried it in either direction at the baseline."""
        def settled():
            return time.time() >= t_route + observe and all(s.answered_since(t_route, 10) for s in self.streams)
        # A stream that never comes back is a failure, not a result to average in.
        wait_for(settled, SETTLE_TIMEOUT_S,
                 f'{name}: not every stream answered 10 pings again within {SETTLE_TIMEOUT_S} s '
                 f'of the routing change: ' + ', '.join(s.name for s in self.streams
                                                        if not s.answered_since(t_route, 10)),
                 step=0.5)
        t_end = time.time() - 1.5
        res = {}
        for s in self.streams:
            lost, rec, span = s.window(t_ev - 0.5, t_end)
            aff = relay in s.down or relay in s.up
            res[s.name] = {'lost': lost, 'outage_s': None if rec is None else round(rec, 2),
                           'down': sorted(s.down), 'up': sorted(s.up), 'kind': s.kind, 'affected': aff}
            log(f'  {name}: {s.name:16s} (down {sorted(s.down)}, up {sorted(s.up)}) lost {lost:3d}, '
                + ('answered throughout' if lost == 0 else
                   f'answered again {rec:.1f} s after the event' if rec is not None else 'NOT answered again'))
        for s in self.streams:
            r = res[s.name]
            if r['affected']:
                # a client that pinned the lost relay for a peer it sends to waits for
                # its peer entry to expire; everything else follows the routing change
                bound = client_bound if (s.kind == 'client' and relay in s.up) else NATIVE_FAILOVER_BOUND_S
                check(r['lost'] == 0 or (r['outage_s'] is not None and r['outage_s'] <= bound),
                      f'{name}: stream {s.name} not answered again within {bound} s: {r}')
            else:
                check(r['lost'] <= unaffected_max_lost,
                      f'{name}: stream {s.name} (not through relay {relay}) lost {r["lost"]} pings')
        return res

    def event(self, name, t_ev, extra, res):
        agg = {}
        for kind in ('native', 'client'):
            aff = [r for r in res.values() if r['kind'] == kind and r['lost'] and r['outage_s'] is not None]
            agg[kind] = {'lost_total': sum(r['lost'] for r in res.values() if r['kind'] == kind),
                         'max_outage_s': max((r['outage_s'] or 0 for r in aff), default=0.0)}
        ev = {'event': name, **extra, **agg, 'streams': res}
        self.results['events'].append(ev)
        log(f'{name}: ' + ', '.join(f'{k} {v}' for k, v in extra.items()) +
            f'; native-initiated: {agg["native"]["lost_total"]} lost, outage <= {agg["native"]["max_outage_s"]} s; '
            f'client-initiated: {agg["client"]["lost_total"]} lost, outage <= {agg["client"]["max_outage_s"]} s')

    def health_log(self, n, since):
        out = []
        for line in open(os.path.join(self.bed.work, f'health{n}.log')):
            m = re.match(r'^(\d+\.\d+) terelay-health: (ANNOUNCE|WITHDRAW)(.*)', line)
            if m and float(m.group(1)) >= since:
                out.append((float(m.group(1)) - since, m.group(2) + m.group(3)))
        return out

    # ---------------------------------------------------------------- events
    def restart_in_place_relay1(self):
        """An upgrade: relay 1 stopped (SIGTERM: it writes its state file) and
        started again at once. Its clients stay pinned to it (the same relay per
        stream and direction as at the baseline) and their streams come back
        with the re-announcement, not after the clients' 30 s timer."""
        b = self.bed
        log('event: restart relay 1 in place (state file)')
        pinned = {s.name: (sorted(s.down), sorted(s.up)) for s in self.streams}
        t = time.time()
        b.stop('terelay1')
        t_exit = time.time() - t
        tw = self.wait_routes({2}, {2}, WITHDRAW_BOUND_S + 5, 'relay 1 stopped for a restart') - t
        b.start_relay(1)
        t_up = time.time() - t
        st = b.stats(1)
        # every client it carried at the stop comes back trusted from the file
        trusted = {c: (b.peer(1, self.addr[c]) or {}).get('state') for c in (1, 2)}
        ta = self.wait_routes({1, 2}, {1, 2}, ANNOUNCE_BOUND_S + 5, 'relay 1 restarted in place') - t
        log(f'relay 1 exited in {t_exit:.2f} s, withdrawn at {tw:.2f} s, telemetry up at {t_up:.2f} s, '
            f'back in the ECMP set at {ta:.2f} s; state_restored {st["state_restored"]}, '
            f'state_lapsed {st["state_lapsed"]}; clients at start: {trusted}')
        res = self.measure('restart in place (relay 1, state file)', t, t + ta, 1,
                           client_bound=RESTART_CLIENT_BOUND_S)
        bubbles = b.stats(1)['bubbles_sent']
        log(f'restarted relay 1 sent {bubbles} bubbles')
        # checked after the streams are measured, so that a run without the
        # state file (--no-state) still shows what the restart costs then
        check(st['state_restored'] >= 2 and st['state_lapsed'] == 0,
              f'restart in place: state_restored {st["state_restored"]}, state_lapsed {st["state_lapsed"]}: '
              f'expected both clients (at least 2 peers) restored trusted, none lapsed')
        check(all(v == 'trusted' for v in trusted.values()),
              f'restart in place: clients not trusted when the restarted relay came up: {trusted}')
        check(bubbles == 0, f'restart in place: the restarted relay sent {bubbles} bubbles: its clients '
                            f'should have been trusted from the state file')
        self.event('restart_in_place', t, {'exit_s': round(t_exit, 2), 'withdraw_s': round(tw, 2),
                                           'startup_s': round(t_up, 2), 'announce_s': round(ta, 2),
                                           'state_restored': st['state_restored']}, res)
        after = self.attribute(strict=True)
        self.results['events'][-1]['streams_after'] = after
        moved = {n: (pinned[n], (v['down'], v['up'])) for n, v in after.items() if (v['down'], v['up']) != pinned[n]}
        check(not moved, f'restart in place: streams changed relay (before, after as (down, up)): {moved}')

    def sigterm_relay1(self):
        b = self.bed
        log('event: SIGTERM relay 1')
        t = time.time()
        b.stop('terelay1')
        t_exit = time.time() - t
        tw = self.wait_routes({2}, {2}, WITHDRAW_BOUND_S + 5, 'relay 1 stopped') - t
        h = self.health_log(1, t)
        log(f'relay 1 exited in {t_exit:.2f} s; health: {h[:1]}; router withdrew it after {tw:.2f} s')
        self.results['router_after_withdraw'] = b.birdc('rtr', 'show route 2001::/32')
        log('birdc show route 2001::/32 (router):\n' + self.results['router_after_withdraw'])
        check(tw <= WITHDRAW_BOUND_S, f'withdrawal took {tw:.2f} s (> {WITHDRAW_BOUND_S} s)')
        res = self.measure('failover (SIGTERM relay 1)', t, t + tw, 1)
        self.event('failover_sigterm', t, {'withdraw_s': round(tw, 2), 'exit_s': round(t_exit, 2)}, res)

    def restart_relay1(self):
        b = self.bed
        log('event: start relay 1 again')
        t = time.time()
        b.start_relay(1)
        t_up = time.time() - t
        ta = self.wait_routes({1, 2}, {1, 2}, ANNOUNCE_BOUND_S + 5, 'relay 1 restarted') - t
        log(f'relay 1 answered telemetry {t_up:.2f} s after start; back in the ECMP set after {ta:.2f} s')
        check(ta <= ANNOUNCE_BOUND_S, f're-announcement took {ta:.2f} s (> {ANNOUNCE_BOUND_S} s)')
        res = self.measure('recovery (relay 1 restarted)', t, t + ta, 1)
        self.event('recovery_restart', t, {'announce_s': round(ta, 2), 'startup_s': round(t_up, 2)}, res)
        self.back_in_set(1, 'recovery_restart')

    def back_in_set(self, n, ev):
        """After a recovery: relay n carries streams again (the router hashes pairs back to it)."""
        att = self.attribute(strict=False)
        self.results['events'][-1]['streams_after'] = att
        check(any(n in s.down for s in self.streams), f'{ev}: relay {n} is announced but carries no stream')

    def worker_tid(self, n):
        pid = self.bed.procs[f'terelay{n}'].pid
        comms = {}
        for tid in os.listdir(f'/proc/{pid}/task'):
            try:
                comms[int(tid)] = open(f'/proc/{pid}/task/{tid}/comm').read().strip()
            except OSError:
                continue
        for tid, comm in comms.items():
            if comm.startswith(('rte-worker', 'lcore-worker')):
                return tid, comm
        raise Fail(f'terelay {n} (pid {pid}): no worker lcore thread among {comms}')

    def stall_relay2(self):
        """Freeze only relay 2's worker thread (ptrace group of one thread: the
        control lcore and the telemetry thread go on) -> workers_stalled."""
        b = self.bed
        tid, comm = self.worker_tid(2)
        log(f'event: freeze relay 2\'s worker thread {tid} ({comm})')
        t = time.time()
        self.freezer = b.spawn('freeze', 'rtr', ['/usr/bin/python3', os.path.join(HERE, 'freeze_thread.py'), str(tid)])
        tw = self.wait_routes({1}, {1}, WITHDRAW_BOUND_S + 5, 'relay 2 worker stalled') - t
        h = self.health_log(2, t)
        log(f'health: {h[:1]}; router withdrew relay 2 after {tw:.2f} s')
        check(any('workers_stalled' in x[1] or 'heartbeat' in x[1] for x in h),
              f'relay 2 was withdrawn for another reason than a stalled worker: {h}')
        check(tw <= WITHDRAW_BOUND_S, f'withdrawal took {tw:.2f} s (> {WITHDRAW_BOUND_S} s)')
        res = self.measure('failover (relay 2 worker stalled)', t, t + tw, 2)
        self.event('failover_stall', t, {'withdraw_s': round(tw, 2)}, res)

    def release_relay2(self):
        b = self.bed
        log('event: release relay 2\'s worker')
        t = time.time()
        b.stop('freeze')
        ta = self.wait_routes({1, 2}, {1, 2}, ANNOUNCE_BOUND_S + 5, 'relay 2 worker released') - t
        log(f'relay 2 back in the ECMP set after {ta:.2f} s')
        check(ta <= ANNOUNCE_BOUND_S, f're-announcement took {ta:.2f} s (> {ANNOUNCE_BOUND_S} s)')
        res = self.measure('recovery (relay 2 worker released)', t, t + ta, 2)
        self.event('recovery_stall', t, {'announce_s': round(ta, 2)}, res)
        self.back_in_set(2, 'recovery_stall')

    def route_only_checks(self):
        """Two more health rules, routes only (streams stopped)."""
        b = self.bed
        for s in self.streams:
            b.stop(f'ping-{s.name}', signal.SIGINT)
        checks = {}
        # the whole process stopped: telemetry accepts but never answers
        pid = b.procs['terelay2'].pid
        log('check: SIGSTOP relay 2 (whole process)')
        t = time.time()
        os.kill(pid, signal.SIGSTOP)
        try:
            tw = self.wait_routes({1}, {1}, WITHDRAW_BOUND_S + 5, 'relay 2 SIGSTOPped') - t
        finally:
            os.kill(pid, signal.SIGCONT)
        t2 = time.time()
        ta = self.wait_routes({1, 2}, {1, 2}, ANNOUNCE_BOUND_S + 5, 'relay 2 SIGCONTinued') - t2
        log(f'SIGSTOP: withdrawn after {tw:.2f} s ({self.health_log(2, t)[:1]}); SIGCONT: back after {ta:.2f} s')
        check(tw <= WITHDRAW_BOUND_S, f'SIGSTOP: withdrawal took {tw:.2f} s')
        checks['sigstop'] = {'withdraw_s': round(tw, 2), 'announce_s': round(ta, 2)}
        # the native-side link of relay 1 down: its IPv6 BGP session drops with it, but
        # the IPv4 service /32 (other link, session up) must go too: terelay-health's rule
        log('check: relay 1\'s native link down (router side)')
        t = time.time()
        b.sh('ip', 'link', 'set', 'r1b', 'down', ns='rtr')
        tw = self.wait_routes({2}, {2}, WITHDRAW_BOUND_S + 5, 'relay 1 native link down') - t
        h = self.health_log(1, t)
        log(f'link down: relay 1 withdrawn after {tw:.2f} s (health: {h[:1]})')
        check(any('eth1' in x[1] for x in h), f'terelay-health did not withdraw relay 1 for its link: {h}')
        t2 = time.time()
        b.sh('ip', 'link', 'set', 'r1b', 'up', ns='rtr')
        ta = self.wait_routes({1, 2}, {1, 2}, ANNOUNCE_BOUND_S + 10, 'relay 1 native link up') - t2
        log(f'link up: relay 1 back after {ta:.2f} s')
        check(tw <= WITHDRAW_BOUND_S, f'link down: withdrawal took {tw:.2f} s')
        checks['link_down'] = {'withdraw_s': round(tw, 2), 'announce_s': round(ta, 2)}
        self.results['route_checks'] = checks

    def final_stats(self):
        b = self.bed
        for n in (1, 2):
            b.stop(f'terelay{n}')
        for n in (1, 2):
            for k in range(1, b.starts[n] + 1):
                path = os.path.join(b.work, f'stats-rly{n}-{k}.json')
                check(os.path.exists(path), f'terelay {n} run {k} wrote no --stats-json')
                s = json.load(open(path))
                log(f'relay {n} run {k}: encapsulated {s["encapsulated"]}, decapsulated {s["decapsulated"]}, '
                    f'bubbles {s["bubbles_sent"]}/{s["bubbles_received"]}, peers_trusted {s["peers_trusted"]}, '
                    f'drops {s["drops_total"] if "drops_total" in s else sum(s["drops"].values())}, '
                    f'accounting_ok {s["accounting_ok"]}')
                self.results.setdefault('relay_runs', []).append(
                    {'relay': n, 'run': k, **{x: s[x] for x in ('encapsulated', 'decapsulated', 'bubbles_sent',
                                                              'bubbles_received', 'peers_trusted', 'accounting_ok')}})
                check(s['encapsulated'] > 0 and s['decapsulated'] > 0, f'relay {n} run {k} carried no traffic')
                check(s['accounting_ok'] is True, f'relay {n} run {k}: accounting_ok is {s["accounting_ok"]}')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--terelay', default=os.environ.get('TERELAY', ''))
    ap.add_argument('--keep', action='store_true', help='keep the log directory')
    ap.add_argument('--json', default='', help='write the measurements here')
    ap.add_argument('--hold', type=float, default=0, help=argparse.SUPPRESS)   # debugging: pause after the baseline
    ap.add_argument('--no-state', action='store_true',
                    help='relays without [state] (the comparison of docs/scale-out.md; the restart checks then fail)')
    a = ap.parse_args()
    if os.geteuid() != 0:
        print('scaleout: FAIL: must run as root (network namespaces)', file=sys.stderr)
        return 1
    work = tempfile.mkdtemp(prefix='terelay-scaleout-')
    os.chmod(work, 0o755)
    bed = Bed(os.path.abspath(a.terelay) if a.terelay else '', work, f'so{os.getpid() % 100000}-')
    bed.no_state = a.no_state

    def on_signal(sig, frame):
        raise SystemExit(128 + sig)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    run = Run(bed)
    failed = None
    try:
        log(f'logs in {work}')
        run.bring_up()
        pairs = run.pick_pairs()
        for c, r, kind, src in pairs:
            log(f'  {kind}-initiated stream client {c} <-> {src}: router hashes it to relay {r}')
        run.start_streams(pairs)
        run.baseline()
        if a.hold:
            log(f'holding {a.hold} s (--hold)')
            time.sleep(a.hold)
        run.restart_in_place_relay1()
        run.sigterm_relay1()
        run.restart_relay1()
        run.stall_relay2()
        run.release_relay2()
        run.route_only_checks()
        run.final_stats()
    except Fail as e:
        failed = str(e)
    except subprocess.TimeoutExpired as e:
        failed = f'timed out: {e}'
    finally:
        bed.cleanup()
    total = time.time() - T0
    run.results.update(seconds=round(total, 1), result='FAIL' if failed else 'PASS', message=failed or '')
    if a.json:
        with open(a.json, 'w') as f:
            json.dump(run.results, f, indent=1)
    print(f'\nscaleout: {"FAIL: " + failed if failed else "PASS"} ({total:.0f} s)')
    for ev in run.results['events']:
        print(f'  {ev["event"]:18s} ' + ', '.join(f'{k} {v}' for k, v in ev.items() if k not in ('event', 'streams')))
    if 'route_checks' in run.results:
        print(f'  route checks       {run.results["route_checks"]}')
    if a.keep or failed:
        print(f'logs kept in {work}')
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
