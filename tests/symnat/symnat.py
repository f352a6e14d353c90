#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Symmetric-NAT suite (issue 10, docs/symmetric-nat.md): Teredo client
emulators (teredo_client.py) behind nftables symmetric NATs (masquerade
fully-random: a new outside port per destination), the real miredo-server,
a native IPv6 host, an attacker on the IPv4 Internet, and terelay (or Miredo,
--relay miredo) as the relay, in namespaces built by tests/interop/testbed.sh
(called, not edited) plus this script's own additions (symmetric NAT rules,
the attacker namespace, terelay's [peers] validity / [bubbles] nonce_epoch).

    symnat.py [--relay terelay|miredo] [--server miredo|terelay] [--terelay PATH] [--keep]

--server terelay: terelay's [server] role (198.18.0.40/.41, in the relay's
process) qualifies the emulators, second solicitation to the secondary address
included, and no miredo-server runs (asserted).

terelay: every case is asserted. Miredo: the symmetric-NAT check and the
Miredo-style reply (ping, transfer) are asserted; the RFC 6081 style and the
hijack cases are run the same way and their outcome recorded, not asserted.
Prints a table; exits 1 if an asserted case fails. Root; namespaces and
processes are removed on exit, failure, SIGINT and SIGTERM.
"""
import argparse
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TESTBED = os.path.join(HERE, '..', 'interop', 'testbed.sh')
EMU = os.path.join(HERE, 'teredo_client.py')
PY = '/usr/bin/python3'
SRV1, SRV2, RLY = '198.18.0.10', '198.18.0.11', '198.18.0.20'
TSRV1, TSRV2 = '198.18.0.40', '198.18.0.41'    # terelay's [server] role (--server terelay)
NAT_WAN = {1: '198.18.0.30', 2: '198.18.0.31'}
ATK_IP, ATK_PORT = '198.18.0.50', 40000   # not .40/.41: terelay's server role (--server terelay)
VALIDITY_S = 3        # terelay [peers] validity: re-verification after 3 s without a packet
EPOCH_S = 4           # terelay [bubbles] nonce_epoch: current + previous epoch accepted
REPLY_DELAY = 1.0     # emulators answer a bubble after 1 s: the window an attacker races
XFER_BYTES = 10 * 1024 * 1024


class CaseFailed(AssertionError):
    pass


def check(cond, msg):
    if not cond:
        raise CaseFailed(msg)


def log(msg):
    print(f'[symnat {time.strftime("%H:%M:%S")}] {msg}', flush=True)


class Proc:
    """A long-running helper in a namespace: JSON events from stdout, commands to stdin."""

    def __init__(self, ns, args, name, logdir):
        self.name = name
        self.p = subprocess.Popen(['ip', 'netns', 'exec', ns, *args], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=open(os.path.join(logdir, name + '.err'), 'w'),
                                  text=True, bufsize=1, start_new_session=True)
        self.events = []
        self.q = queue.Queue()
        self.log = open(os.path.join(logdir, name + '.events'), 'w')
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            self.log.write(line)
            self.log.flush()
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            self.events.append(ev)
            self.q.put(ev)

    def send(self, cmd):
        self.p.stdin.write(cmd + '\n')
        self.p.stdin.flush()

    def wait(self, ev, timeout, since=0):
        """First event named ev at index >= since."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            for e in self.events[since:]:
                if e['ev'] == ev:
                    return e
            time.sleep(0.02)
        raise CaseFailed(f'{self.name}: no "{ev}" event in {timeout} s')

    def last(self, ev):
        for e in reversed(self.events):
            if e['ev'] == ev:
                return e
        return None

    def stop(self):
        if self.p.poll() is None:
            try:
                os.killpg(self.p.pid, signal.SIGTERM)
                self.p.wait(5)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


class Bed:
    def __init__(self, relay, terelay, tb_dir, prefix, server='miredo'):
        self.relay, self.dir, self.prefix, self.server = relay, tb_dir, prefix, server
        self.env = dict(os.environ, RELAY=relay, TB_DIR=tb_dir, NS_PREFIX=prefix, SERVER=server,
                        TERELAY=terelay or '', FILE_PREFIX=prefix + 'terelay')
        self.procs = []
        self.sock = f'/var/run/dpdk/{prefix}terelay/dpdk_telemetry.v2'

    def ns(self, n):
        return self.prefix + n

    def tb(self, *args, timeout=90):
        r = subprocess.run([TESTBED, *args], env=self.env, capture_output=True, text=True, timeout=timeout)
        sys.stderr.write(r.stderr)
        if r.returncode != 0:
            raise CaseFailed(f'testbed.sh {" ".join(args)} failed: {r.stderr.strip()[-400:]}')
        return r.stdout.strip()

    def run(self, ns, cmd, timeout=60, check_rc=True):
        r = subprocess.run(['ip', 'netns', 'exec', self.ns(ns), *cmd], capture_output=True, text=True,
                           timeout=timeout)
        if check_rc and r.returncode != 0:
            raise CaseFailed(f'{ns}: {" ".join(cmd)}: {(r.stderr or r.stdout).strip()[-300:]}')
        return r

    def spawn(self, ns, args, name):
        p = Proc(self.ns(ns), args, name, self.dir)
        self.procs.append(p)
        return p

    # ------------------------------------------------------------------ set-up additions
    def symmetric_nat(self, n):
        rules = ('table ip tbnat\ndelete table ip tbnat\ntable ip tbnat {\n chain post {\n'
                 '  type nat hook postrouting priority srcnat;\n'
                 '  oifname "wan" masquerade fully-random\n }\n}\n')
        r = subprocess.run(['ip', 'netns', 'exec', self.ns(f'nat{n}'), 'nft', '-f', '-'], input=rules,
                           text=True, capture_output=True)
        check(r.returncode == 0, f'nat{n}: nft masquerade fully-random: {r.stderr.strip()}')
        subprocess.run(['ip', 'netns', 'exec', self.ns(f'nat{n}'), 'conntrack', '-F'], capture_output=True)

    def add_attacker_ns(self):
        atk, sw = self.ns('atk'), self.ns('sw')
        for cmd in (['ip', 'netns', 'add', atk],
                    ['ip', 'link', 'add', 'eth0', 'netns', atk, 'type', 'veth', 'peer', 'name', 'a4', 'netns', sw],
                    ['ip', '-n', sw, 'link', 'set', 'a4', 'master', 'br4'],
                    ['ip', '-n', sw, 'link', 'set', 'a4', 'up'],
                    ['ip', '-n', atk, 'link', 'set', 'lo', 'up'],
                    ['ip', '-n', atk, 'link', 'set', 'eth0', 'up'],
                    ['ip', '-n', atk, 'addr', 'add', ATK_IP + '/24', 'dev', 'eth0'],
                    ['ip', 'netns', 'exec', atk, 'ethtool', '-K', 'eth0', 'tx', 'off'],
                    ['ip', 'netns', 'exec', sw, 'ethtool', '-K', 'a4', 'tx', 'off']):
            r = subprocess.run(cmd, capture_output=True, text=True)
            check(r.returncode == 0, f'attacker namespace: {" ".join(cmd)}: {r.stderr.strip()}')

    def tune_terelay_ini(self):
        path = os.path.join(self.dir, 'terelay.ini')
        lines = open(path).read().splitlines()
        out = []
        for ln in lines:
            out.append(ln)
            if ln.strip() == '[peers]':
                out.append(f'validity = {VALIDITY_S}')
        out += ['[bubbles]', f'nonce_epoch = {EPOCH_S}', 'nonce_trailer = true']
        open(path, 'w').write('\n'.join(out) + '\n')

    def start_terelay(self, terelay, wait_s=45):
        """testbed.sh start-relay's terelay launch (same command line, pid and stats files, so
        its stop-relay and teardown still apply) with a longer start-up wait: on 2 shared vCPUs
        EAL start-up has taken > 10 s while other suites' relays were busy-polling."""
        open(os.path.join(self.dir, 'relay.starts'), 'w').write('1\n')
        logf = open(os.path.join(self.dir, 'relay.log'), 'a')
        p = subprocess.Popen(['ip', 'netns', 'exec', self.ns('rly'), terelay, '--no-huge', '-m', '512', '--no-pci',
                              '--no-shconf', '-l', '0,1', '--file-prefix', self.prefix + 'terelay',
                              '--log-level=lib.eal:error',
                              '--vdev', 'net_pcap0,rx_iface_in=eth0,tx_iface=eth0,tx_iface=eth0',
                              '--vdev', 'net_pcap1,rx_iface_in=eth1,tx_iface=eth1,tx_iface=eth1',
                              '--', '-c', os.path.join(self.dir, 'terelay.ini'),
                              '--stats-json', os.path.join(self.dir, 'stats.1.json')],
                             stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
        open(os.path.join(self.dir, 'relay.pid'), 'w').write(f'{p.pid}\n')
        t0 = time.time()
        while time.time() - t0 < wait_s:
            check(p.poll() is None, f'terelay exited at start: {open(logf.name).read()[-400:]}')
            if re.search(r'^terelay: rx ', open(logf.name).read(), re.M):
                return time.time() - t0
            time.sleep(0.2)
        raise CaseFailed(f'terelay did not report within {wait_s} s: {open(logf.name).read()[-400:]}')

    # --------------------------------------------------------------------- terelay state
    def tel(self, cmd):
        if self.relay != 'terelay':
            return None
        for _ in range(3):
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                s.settimeout(2)
                s.connect(self.sock)
                s.recv(16384)
                s.send(cmd.encode())
                d = json.loads(s.recv(1 << 20).decode())
                s.close()
                return d[cmd.split(',')[0]]
            except (OSError, ValueError, KeyError):
                time.sleep(0.2)
        raise CaseFailed(f'telemetry {cmd} did not answer ({self.sock})')

    def counters(self):
        """terelay counters + drops by reason (None for Miredo)."""
        if self.relay != 'terelay':
            return None
        time.sleep(0.3)                      # let control drain its ring
        c = dict(self.tel('/terelay/stats'))
        c.update(self.tel('/terelay/drops'))
        return c

    def peer(self, addr):
        return self.tel('/terelay/peer,' + addr) if self.relay == 'terelay' else None

    def conntrack_port(self, n, dst):
        """natN's outside port for the flow to dst:3544 (from its conntrack table)."""
        r = self.run(f'nat{n}', ['conntrack', '-L', '-p', 'udp', '--orig-dst', dst, '--orig-port-dst', '3544'],
                     check_rc=False)
        ports = re.findall(r'src=' + re.escape(dst) + r' dst=\S+ sport=3544 dport=(\d+)', r.stdout)
        return [int(p) for p in ports]

    def ping(self, dst, count=10, interval=0.2, wait=3):
        r = self.run('v6h', ['ping', '-6', '-n', '-c', str(count), '-i', str(interval), '-W', str(wait), dst],
                     timeout=count * interval + wait + 30, check_rc=False)
        m = re.search(r'(\d+) packets transmitted, (\d+) received', r.stdout)
        return (int(m.group(1)), int(m.group(2))) if m else (count, 0)

    def ping_bg(self, dst, count=10, interval=0.2, wait=3):
        return subprocess.Popen(['ip', 'netns', 'exec', self.ns('v6h'), 'ping', '-6', '-n', '-c', str(count),
                                 '-i', str(interval), '-W', str(wait), dst],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    @staticmethod
    def ping_result(p):
        out = p.communicate(timeout=60)[0]
        m = re.search(r'(\d+) packets transmitted, (\d+) received', out)
        return (int(m.group(1)), int(m.group(2))) if m else (0, 0)

    def cleanup(self):
        for p in self.procs:
            p.stop()
        if self.relay == 'terelay':
            try:
                self.tb('stop-relay', timeout=30)
            except Exception:               # noqa: BLE001 (teardown must go on)
                pass
        subprocess.run(['ip', 'netns', 'del', self.ns('atk')], capture_output=True)
        subprocess.run([TESTBED, 'teardown'], env=self.env, capture_output=True, timeout=120)


def d(a, b, k):
    return (b or {}).get(k, 0) - (a or {}).get(k, 0)


# ------------------------------------------------------------------------------- cases

class Suite:
    def __init__(self, bed, terelay_bin=None):
        self.b = bed
        self.terelay_bin = terelay_bin
        self.results = []           # (case, verdict, detail)
        self.emu = {}
        self.atk = None
        self.embedded = {}          # style -> (ip, port) in the Teredo address
        self.observed = {}          # style -> NAT outside port towards the relay

    def case(self, name, fn, asserted=True):
        log(f'--- {name}')
        t0 = time.time()
        try:
            detail = fn() or ''
            verdict = 'PASS' if asserted else 'RECORDED'
        except CaseFailed as e:
            detail = str(e)
            verdict = 'FAIL' if asserted else 'RECORDED'
        except Exception as e:       # noqa: BLE001 (a crashed case is a failed case)
            detail = f'{type(e).__name__}: {e}'
            verdict = 'FAIL'
        log(f'    {verdict} ({time.time() - t0:.1f} s) {detail}')
        self.results.append((name, verdict, detail))

    @property
    def terelay(self):
        return self.b.relay == 'terelay'

    # -- 1. symmetric NAT, proven at both NATs: two destinations, two outside ports
    def symmetric(self):
        out = []
        for n, style in ((1, 'miredo'), (2, 'rfc6081')):
            capf = os.path.join(self.b.dir, f'nat{n}-wan.txt')
            cap = subprocess.Popen(['ip', 'netns', 'exec', self.b.ns(f'nat{n}'), 'tcpdump', '-l', '-n', '-i', 'wan',
                                    'udp and dst port 3544'], stdout=open(capf, 'w'),
                                   stderr=subprocess.PIPE, text=True, start_new_session=True)
            cap.stderr.readline()                # "listening on wan ..."
            time.sleep(0.2)
            e = self.b.spawn(f'cli{n}', [PY, EMU, 'client', '--server', SRV1, '--server2', SRV2,
                                         '--style', style, '--reply-delay', str(REPLY_DELAY)], f'emu-{style}')
            q = e.wait('qualified', 15)
            time.sleep(0.3)
            os.killpg(cap.pid, signal.SIGINT)
            cap.wait(5)
            self.emu[style] = e
            self.embedded[style] = tuple(q['mapped'])
            wire = {}
            for ln in open(capf):
                m = re.search(r'IP (\d+\.\d+\.\d+\.\d+)\.(\d+) > (\d+\.\d+\.\d+\.\d+)\.3544:', ln)
                if m and m.group(1) == NAT_WAN[n]:
                    wire.setdefault(m.group(3), set()).add(int(m.group(2)))
            check(wire.get(SRV1) and wire.get(SRV2),
                  f'nat{n}: capture shows no packets to both {SRV1} and {SRV2}: {wire}')
            check(len(wire[SRV1]) == 1 and len(wire[SRV2]) == 1, f'nat{n}: several outside ports per destination: {wire}')
            p1, p2 = next(iter(wire[SRV1])), next(iter(wire[SRV2]))
            check(p1 != p2, f'nat{n} is not symmetric: same outside port {p1} for {SRV1} and {SRV2}')
            check(q['mapped'] == [NAT_WAN[n], p1] and q['mapped2'] == [NAT_WAN[n], p2],
                  f'nat{n}: the server saw {q["mapped"]} / {q["mapped2"]}, the wire {p1} / {p2}')
            out.append(f'nat{n}: {SRV1} via :{p1}, {SRV2} via :{p2} ({style} emulator {q["addr"]})')
        return '; '.join(out)

    # -- 2/4. a native host pings the emulator through the relay
    def ping(self, style):
        e = self.emu[style]
        addr = e.events[0]['addr']
        n = 1 if style == 'miredo' else 2
        before = self.b.counters()
        since = len(e.events)
        sent, got = self.b.ping(addr, count=10)
        after = self.b.counters()
        db = e.last('direct_bubble')
        check(db is not None and e.events.index(db) >= since, f'{style}: the emulator got no indirect bubble '
              f'through the server (events: {[x["ev"] for x in e.events[since:]]})')
        obs = self.b.conntrack_port(n, RLY)
        self.observed[style] = obs[0] if obs else None
        emb = self.embedded[style][1]
        det = (f'{got}/{sent} replies; direct bubble dst {db["dst"]} nonce {db["nonce"]}; '
               f'embedded :{emb}, NAT port towards the relay {obs}')
        if self.terelay:
            pr = self.b.peer(addr)
            det += (f'; terelay peer {pr.get("state")} {pr.get("mapping")}, nonce_accepted '
                    f'+{d(before, after, "nonce_accepted")}, rx_bad_nonce +{d(before, after, "rx_bad_nonce")}')
            check(got >= 9, f'ping {style}: {got}/{sent} replies, need >= 9 ({det})')
            check(d(before, after, 'nonce_accepted') >= 1, f'no nonce_accepted ({det})')
            check(obs and obs[0] != emb, f'NAT port towards the relay {obs} is the embedded one :{emb} ({det})')
            check(pr.get('state') == 'trusted' and pr.get('mapping') == f'{NAT_WAN[n]}:{obs[0]}',
                  f'terelay peer mapping is not the observed NAT port ({det})')
        else:
            check(got >= 9, f'{det}: the relay dropped the direct bubble' if got == 0 else
                  f'ping {style}: {got}/{sent} replies, need >= 9 ({det})')
        return det

    # -- data (not a bubble) from the verified, non-embedded mapping while the relay re-verifies
    def data_during_reverify(self):
        e = self.emu['miredo']
        addr = e.events[0]['addr']
        self.b.ping(addr, count=1, wait=3)
        self.quiet_until_stale(addr)
        before = self.b.counters()
        lst = subprocess.Popen(['ip', 'netns', 'exec', self.b.ns('v6h'), PY, '-c',
                                'import socket;s=socket.socket(socket.AF_INET6,socket.SOCK_DGRAM);'
                                's.bind(("::",9999));s.settimeout(4);print("ready",flush=True)\n'
                                'try:\n print(s.recvfrom(2000)[0].decode(),flush=True)\nexcept OSError:\n print("none")'],
                               stdout=subprocess.PIPE, text=True)
        lst.stdout.readline()
        since = len(e.events)
        p = self.b.ping_bg(addr, count=5)
        if self.terelay:
            e.wait('bubble', 4, since=since)          # the relay is re-verifying now
        else:
            time.sleep(0.3)
        e.send('send6 2001:db8:6::100 9999 hello-from-the-verified-mapping')
        got_data = lst.communicate(timeout=10)[0].strip().splitlines()[-1]
        sent, got = self.b.ping_result(p)
        after = self.b.counters()
        det = f'native host received: {got_data!r}; ping {got}/{sent}'
        if self.terelay:
            det += (f'; rx_mapping_mismatch +{d(before, after, "rx_mapping_mismatch")}, '
                    f'decapsulated +{d(before, after, "decapsulated")}')
        check(got_data.startswith('hello'), f'datagram lost ({det})')
        return det

    # -- 3/5. 10 MiB UDP native -> emulator, SHA-256 checked at both ends
    def xfer(self, style):
        addr = self.emu[style].events[0]['addr']
        self.b.ping(addr, count=1, wait=2)      # a valid entry before the burst
        before = self.b.counters()
        r = self.b.run('v6h', [PY, EMU, 'send', '--dst', addr, '--bytes', str(XFER_BYTES), '--timeout', '40'],
                       timeout=120, check_rc=False)
        after = self.b.counters()
        try:
            res = json.loads(r.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise CaseFailed(f'sender printed no result: {r.stdout[-200:]} {r.stderr[-300:]}')
        done = self.emu[style].last('xfer_done')
        det = (f'{res["bytes"]} B in {res["seconds"]} s, {res["resent"]} datagrams resent, '
               f'sha256 {res.get("sha256", "-")[:16]}…')
        if self.terelay:
            det += (f'; terelay encapsulated +{d(before, after, "encapsulated")}, imissed '
                    f'{after.get("nic_rx_missed", "?")} in all')
        check(res['ok'], f'transfer {style} failed: {res}')
        check(done and done['sha256'] == res['sha256_sent'] and done['bytes'] == XFER_BYTES,
              f'receiver hash {done} != sent {res["sha256_sent"]}')
        return det

    # -- hijack helpers
    def quiet_until_stale(self, addr):
        """terelay: wait until the peer's validity has run out (the next packet re-verifies)."""
        if not self.terelay:
            time.sleep(VALIDITY_S + 0.5)
            return
        deadline = time.time() + 20
        while time.time() < deadline:
            pr = self.b.peer(addr)
            if pr.get('last_rx_age_ms', 0) > VALIDITY_S * 1000 + 300:
                return
            time.sleep(0.3)
        raise CaseFailed(f'peer {addr} never went quiet: {self.b.peer(addr)}')

    def atk_stats(self):
        n = len(self.atk.events)
        self.atk.send('stats')
        return self.atk.wait('stats', 5, since=n)

    def recover(self, e, addr):
        """Miredo only: a hijacked peer is re-mapped by the client's own nonce bubble."""
        if self.terelay:
            return ''
        e.send('rebubble')
        time.sleep(0.5)
        s, g = self.b.ping(addr, count=5)
        return f'; after the client re-sent its bubble: {g}/{s}'

    def hijack_round(self, kind):
        """kind 'replay' (a nonce >= 2 epochs old) or 'guess' (random nonces), raced against the
        client's own (1 s late) answer to a re-verification bubble."""
        e = self.emu['miredo']
        addr = e.events[0]['addr']
        first = e.events[[x['ev'] for x in e.events].index('bubble')]
        self.b.ping(addr, count=1, wait=3)       # the peer is known and trusted
        self.quiet_until_stale(addr)
        pr0 = self.b.peer(addr)
        a0 = self.atk_stats()
        before = self.b.counters()
        since = len(e.events)
        n0 = len(self.atk.events)
        if kind == 'replay':
            age = time.time() - first['t']
            check(age >= 2 * EPOCH_S, f'the nonce to replay is only {age:.1f} s old')
            cmd = f'flood 3 20 {RLY}:3544 {addr} {first["src"]} {first["nonce"] or ""}'
        else:
            cmd = f'guess 3 20 {RLY}:3544 {addr}'
        self.atk.send(cmd.strip())
        time.sleep(0.1)
        p = self.b.ping_bg(addr, count=10)
        sent, got = self.b.ping_result(p)
        self.atk.wait('done', 10, since=n0)
        after = self.b.counters()
        a1 = self.atk_stats()
        pr1 = self.b.peer(addr)
        stolen = a1['received'] - a0['received']
        rebubbled = [x for x in e.events[since:] if x['ev'] == 'bubble']
        det = f'attacker sent {a1["sent"] - a0["sent"]}, received {stolen}; ping {got}/{sent}'
        if kind == 'replay':
            det += f' (replayed nonce from {time.time() - first["t"]:.0f} s ago: dst {first["src"]}, trailer {first["nonce"]})'
        if self.terelay:
            det += (f'; re-verification bubbles {len(rebubbled)}; rx_bad_nonce +{d(before, after, "rx_bad_nonce")}, '
                    f'rx_mapping_mismatch +{d(before, after, "rx_mapping_mismatch")}, nonce_accepted '
                    f'+{d(before, after, "nonce_accepted")}; mapping {pr0.get("mapping")} -> {pr1.get("mapping")}')
            check(len(rebubbled) >= 1, f'the relay did not re-verify the peer ({det})')
            check(d(before, after, 'rx_bad_nonce') >= 1, f'no rx_bad_nonce: the race was not run ({det})')
            check(d(before, after, 'nonce_accepted') == 0, f'an attacker bubble was accepted ({det})')
            check(pr1.get('mapping') == pr0.get('mapping'), f'mapping changed ({det})')
            check(stolen == 0 and got >= 9, f'traffic redirected or lost ({det})')
        else:
            det += self.recover(e, addr)
        return det

    def hijack_trusted(self):
        """A bubble carrying the nonce the client has just received (valid, both forms) from a third
        party, while the peer is trusted: must not re-map it."""
        e = self.emu['miredo']
        addr = e.events[0]['addr']
        self.b.ping(addr, count=1, wait=3)
        self.quiet_until_stale(addr)
        since = len(e.events)
        p = self.b.ping_bg(addr, count=10)               # re-verification: a fresh nonce
        if self.terelay:
            e.wait('direct_bubble', 4, since=since)
        bub = e.last('bubble')       # Miredo (30 s validity, no re-verification yet): the last one
        time.sleep(0.3)
        pr0 = self.b.peer(addr)
        before = self.b.counters()
        a0 = self.atk_stats()
        n0 = len(self.atk.events)
        age = time.time() - bub['t']
        self.atk.send(f'flood 0.5 20 {RLY}:3544 {addr} {bub["src"]} {bub["nonce"] or ""}'.strip())
        self.atk.wait('done', 10, since=n0)
        sent, got = self.b.ping_result(p)
        after = self.b.counters()
        a1 = self.atk_stats()
        pr1 = self.b.peer(addr)
        stolen = a1['received'] - a0['received']
        s2, g2 = self.b.ping(addr, count=5)
        det = ((f'nonce {age:.1f} s old (epoch {EPOCH_S} s: still valid)' if self.terelay else
                f'Miredo\'s per-process nonce (seen {age:.0f} s ago)') +
               f', attacker sent {a1["sent"] - a0["sent"]}, received {stolen}; ping during {got}/{sent}, after {g2}/{s2}')
        if self.terelay:
            det += (f'; rx_mapping_mismatch +{d(before, after, "rx_mapping_mismatch")}, rx_bad_nonce '
                    f'+{d(before, after, "rx_bad_nonce")}, nonce_accepted +{d(before, after, "nonce_accepted")}; '
                    f'mapping {pr0.get("mapping")} -> {pr1.get("mapping")} (verifying {pr0.get("verifying")})')
            check(pr0.get('verifying') == 0 and pr0.get('state') == 'trusted', f'peer not trusted ({det})')
            check(d(before, after, 'rx_mapping_mismatch') >= 10, f'not all counted as rx_mapping_mismatch ({det})')
            check(d(before, after, 'nonce_accepted') == 0 and pr1.get('mapping') == pr0.get('mapping'),
                  f'mapping changed ({det})')
            check(stolen == 0 and got >= 9 and g2 >= 5, f'traffic redirected or lost ({det})')
        else:
            det += self.recover(e, addr)
        return det

    def run(self):
        b = self.b
        t0 = time.time()
        b.tb('setup')
        b.symmetric_nat(1)
        b.symmetric_nat(2)
        b.add_attacker_ns()
        if self.terelay:
            b.tune_terelay_ini()
        b.tb('start-server')
        if self.terelay:
            log(f'terelay up after {b.start_terelay(self.terelay_bin):.1f} s')
        if b.server == 'terelay':
            # The server role is terelay's own: no miredo-server anywhere in this run.
            pids = subprocess.run(['ip', 'netns', 'pids', b.ns('srv')], capture_output=True,
                                  text=True).stdout.split()
            comms = [open(f'/proc/{p}/comm').read().strip() for p in pids if os.path.exists(f'/proc/{p}')]
            check('miredo-server' not in comms, f'miredo-server runs in {b.ns("srv")}: {comms}')
        else:
            b.tb('start-relay')
        time.sleep(0.5)
        self.atk = b.spawn('atk', [PY, EMU, 'attacker', '--port', str(ATK_PORT)], 'attacker')
        log(f'testbed up in {time.time() - t0:.1f} s ({b.relay})')
        mir = not self.terelay
        self.case('symmetric_nat', self.symmetric)
        if len(self.emu) < 2:
            return
        self.case('ping_miredo_style', lambda: self.ping('miredo'))
        self.case('xfer_miredo_style', lambda: self.xfer('miredo'))
        self.case('ping_rfc6081_style', lambda: self.ping('rfc6081'), asserted=not mir)
        if self.results[-1][1] == 'PASS' or not mir:
            self.case('xfer_rfc6081_style', lambda: self.xfer('rfc6081'), asserted=not mir)
        else:
            self.results.append(('xfer_rfc6081_style', 'RECORDED', 'not run: no path (ping failed)'))
        self.case('data_during_reverify', self.data_during_reverify, asserted=not mir)
        self.case('hijack_replay_old_nonce', lambda: self.hijack_round('replay'), asserted=not mir)
        self.case('hijack_trusted_valid_nonce', self.hijack_trusted, asserted=not mir)
        self.case('hijack_guess_nonce', lambda: self.hijack_round('guess'), asserted=not mir)
        if self.terelay:
            self.case('stats_json', self.stats_json)

    def stats_json(self):
        self.b.tb('stop-relay', timeout=30)
        path = os.path.join(self.b.dir, 'stats.last.json')
        check(os.path.exists(path), 'terelay wrote no --stats-json at SIGTERM')
        j = json.load(open(path))
        dr = j.get('drops', {})
        det = (f'accounting_ok {j.get("accounting_ok")}, nonce_accepted {j.get("nonce_accepted")}, '
               f'rx_bad_nonce {dr.get("rx_bad_nonce")}, rx_mapping_mismatch {dr.get("rx_mapping_mismatch")}, '
               f'peers_trusted {j.get("peers_trusted")}')
        check(j.get('accounting_ok') in (1, True), f'accounting not balanced ({det})')
        check(j.get('nonce_accepted', 0) >= 2 and dr.get('rx_bad_nonce', 0) >= 2, det)
        return det


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--relay', choices=('terelay', 'miredo'), default='terelay')
    ap.add_argument('--terelay', help='terelay binary (required with --relay terelay)')
    ap.add_argument('--server', choices=('miredo', 'terelay'), default='miredo',
                    help="the Teredo server: miredo-server, or terelay's [server] role in the relay's "
                         'process (198.18.0.40/.41, no miredo-server; needs --relay terelay)')
    ap.add_argument('--keep', action='store_true', help='keep the state directory (logs, captures)')
    a = ap.parse_args()
    if os.geteuid() != 0:
        print('symnat: must run as root (network namespaces)', file=sys.stderr)
        return 1
    if a.relay == 'terelay' and not (a.terelay and os.access(a.terelay, os.X_OK)):
        print(f'symnat: terelay binary not found: {a.terelay}', file=sys.stderr)
        return 1
    if a.server == 'terelay' and a.relay != 'terelay':
        print('symnat: --server terelay needs --relay terelay (the server role lives in its process)',
              file=sys.stderr)
        return 1
    global SRV1, SRV2
    if a.server == 'terelay':
        SRV1, SRV2 = TSRV1, TSRV2
    t0 = time.time()
    tb_dir = tempfile.mkdtemp(prefix=f'symnat-{a.relay}-')
    bed = Bed(a.relay, os.path.abspath(a.terelay) if a.terelay else None, tb_dir,
              f'sn{os.getpid() % 100000}{a.relay[0]}{a.server[0]}-', a.server)

    def on_signal(sig, _):
        raise KeyboardInterrupt(f'signal {sig}')
    signal.signal(signal.SIGTERM, on_signal)
    suite = Suite(bed, bed.env['TERELAY'])
    try:
        suite.run()
    except (CaseFailed, KeyboardInterrupt) as e:
        suite.results.append(('testbed', 'FAIL', str(e)))
    finally:
        bed.cleanup()
    print(f'\nsymmetric NAT, relay = {a.relay}, server = {a.server}  ({time.time() - t0:.0f} s; state in {tb_dir})')
    w = max(len(r[0]) for r in suite.results) if suite.results else 10
    for name, verdict, detail in suite.results:
        print(f'  {name:<{w}}  {verdict:<8}  {detail}')
    failed = [r for r in suite.results if r[1] == 'FAIL']
    if not failed and not a.keep:
        shutil.rmtree(tb_dir, ignore_errors=True)
    return 1 if failed or not suite.results else 0


if __name__ == '__main__':
    sys.exit(main())
