#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""deploy/bgp/terelay-health against a fake terelay telemetry socket and a fake
BIRD control socket: every health rule, the hysteresis, fail-closed behaviour
and the withdrawal at exit, in a few seconds and without namespaces.

    test_health.py
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
HEALTH = os.path.join(os.path.dirname(os.path.dirname(HERE)), 'deploy', 'bgp', 'terelay-health')
INTERVAL = 0.1


class FakeTerelay:
    """DPDK telemetry v2 protocol: hello JSON on connect, then one JSON reply per command."""

    def __init__(self, path):
        self.path = path
        self.hb = {'0': 0, '1': 0}
        self.frozen = set()
        self.stats = {'workers_stalled': 0, 'nic_rx_missed': 0, 'encapsulated': 0}
        self.drops = {'ctrl_ring_full': 0}
        self.link = 'UP'
        self.hang = False
        self.lock = threading.Lock()
        self.conns = []
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.srv.bind(path)
        self.srv.listen(16)
        threading.Thread(target=self.serve, daemon=True).start()

    def reply(self, cmd):
        with self.lock:
            for k in self.hb:
                if k not in self.frozen:
                    self.hb[k] += 1000
            if cmd == '/terelay/stats':
                return dict(self.stats)
            if cmd == '/terelay/lcores':
                return {'0': {'role': 'control', 'heartbeat': self.hb['0']},
                        '1': {'role': 'worker', 'heartbeat': self.hb['1']}, 'tsc_hz': 1}
            if cmd == '/terelay/drops':
                return dict(self.drops)
            if cmd == '/ethdev/list':
                return [0, 1]
            if cmd.startswith('/ethdev/link_status,'):
                return {'status': self.link if cmd.endswith(',1') else 'UP', 'speed': 10000}
            return None

    def serve(self):
        while True:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            self.conns.append(c)
            threading.Thread(target=self.client, args=(c,), daemon=True).start()

    def client(self, c):
        try:
            c.send(json.dumps({'version': 'fake', 'pid': 1, 'max_output_len': 16384}).encode())
            while True:
                cmd = c.recv(1024).decode()
                if not cmd:
                    break
                while self.hang:
                    time.sleep(0.05)
                c.send(json.dumps({cmd.split(',')[0]: self.reply(cmd)}).encode())
        except OSError:
            pass
        finally:
            c.close()

    def close(self):
        """As the process going away would: the listening socket and every open
        connection (a checker holding one must not be answered any more)."""
        self.srv.close()
        for c in self.conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        os.unlink(self.path)


class FakeBird:
    def __init__(self, path):
        self.state = {}
        self.cmds = []
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(path)
        self.srv.listen(16)
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            f = c.makefile('rwb')
            f.write(b'0001 BIRD fake ready.\n')
            f.flush()
            line = f.readline().decode().strip()
            verb, proto = line.split()
            self.cmds.append(line)
            self.state[proto] = verb == 'enable'
            f.write(f'0011-{proto}: {verb}d\n0000 \n'.encode())
            f.flush()
            c.close()

    def announced(self):
        v = set(self.state.get(p) for p in ('t4', 't6'))
        return True if v == {True} else False if v == {False} else None


class Fail(AssertionError):
    pass


def wait(cond, timeout, msg):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return time.time()
        time.sleep(0.02)
    raise Fail(msg)


def main():
    work = tempfile.mkdtemp(prefix='terelay-health-test-')
    tel = FakeTerelay(os.path.join(work, 'tel.sock'))
    bird = FakeBird(os.path.join(work, 'bird.ctl'))
    log = open(os.path.join(work, 'health.log'), 'w+')
    p = subprocess.Popen(['/usr/bin/python3', HEALTH, '--telemetry', tel.path, '--bird-socket',
                          os.path.join(work, 'bird.ctl'), '--protocol', 't4', '--protocol', 't6',
                          '--interval', str(INTERVAL), '--timeout', '0.15', '--up-after', '3',
                          '--shed-polls', '3', '--max-missed-rate', '1000', '--status', os.path.join(work, 's.json')],
                         stdout=log, stderr=subprocess.STDOUT)
    results = []

    def case(name, fn):
        t = time.time()
        try:
            fn()
            results.append((name, 'PASS', time.time() - t, ''))
        except Fail as e:
            results.append((name, 'FAIL', time.time() - t, str(e)))
        print(f'  {name:28s} {results[-1][1]}  {results[-1][3]}', flush=True)

    def healthy_again():
        wait(lambda: bird.announced() is True, 3, 'not announced again once healthy')

    def withdrawn(what, bound=1.0):
        t = time.time()
        wait(lambda: bird.announced() is False, bound, f'{what}: not withdrawn within {bound} s')
        return time.time() - t

    def c_start():
        t0 = time.time()
        wait(lambda: bird.announced() is True, 3, 'healthy relay never announced')
        # hysteresis: 3 healthy polls (plus the first, which has no heartbeat history)
        if time.time() - t0 < 2 * INTERVAL:
            raise Fail(f'announced after {time.time() - t0:.2f} s, before --up-after 3 polls')

    def c_stalled():
        tel.stats['workers_stalled'] = 1
        withdrawn('workers_stalled = 1')
        tel.stats['workers_stalled'] = 0
        healthy_again()

    def c_heartbeat():
        tel.frozen.add('1')
        withdrawn('worker heartbeat stuck')
        tel.frozen.discard('1')
        healthy_again()
        tel.frozen.add('0')          # the control lcore, which runs the watchdog
        withdrawn('control heartbeat stuck')
        tel.frozen.discard('0')
        healthy_again()

    def c_link():
        tel.link = 'DOWN'
        withdrawn('port 1 link DOWN')
        tel.link = 'UP'
        healthy_again()

    stop_shed = threading.Event()

    def shed(rate_per_poll, key, where):
        while not stop_shed.is_set():
            where[key] += rate_per_poll
            time.sleep(INTERVAL)

    def c_shed_spike():
        tel.stats['nic_rx_missed'] += 5000          # one burst: not shedding
        time.sleep(8 * INTERVAL)
        if bird.announced() is not True:
            raise Fail('a single nic_rx_missed burst withdrew the relay')

    def c_shed():
        for key, where in (('nic_rx_missed', tel.stats), ('ctrl_ring_full', tel.drops)):
            stop_shed.clear()
            th = threading.Thread(target=shed, args=(1000, key, where), daemon=True)
            th.start()
            try:
                withdrawn(f'{key} rising 10000/s', bound=2.0)
            finally:
                stop_shed.set()
                th.join()
            healthy_again()

    def c_hang():
        tel.hang = True
        try:
            withdrawn('telemetry not answering', bound=1.5)
        finally:
            tel.hang = False
        healthy_again()

    def c_gone():
        tel.close()
        withdrawn('telemetry socket gone', bound=0.5)
        st = json.load(open(os.path.join(work, 's.json')))
        if st['announced'] or not any('telemetry' in r for r in st['reasons']):
            raise Fail(f'status file does not say why: {st}')

    def c_exit():
        tel2 = FakeTerelay(tel.path)     # healthy again, then SIGTERM: withdraw on exit
        healthy_again()
        p.send_signal(signal.SIGTERM)
        p.wait(5)
        if bird.announced() is not False:
            raise Fail('prefixes still announced after SIGTERM')
        tel2.close()

    try:
        for name, fn in [('announce_after_hysteresis', c_start), ('workers_stalled', c_stalled),
                         ('heartbeat_stuck', c_heartbeat), ('link_down', c_link),
                         ('shedding_spike_ignored', c_shed_spike), ('shedding', c_shed),
                         ('telemetry_hung', c_hang), ('process_gone', c_gone), ('withdraw_on_exit', c_exit)]:
            case(name, fn)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    failed = [r for r in results if r[1] != 'PASS']
    log.seek(0)
    if failed:
        print(log.read()[-3000:])
    print(f'terelay-health: {len(results) - len(failed)}/{len(results)} cases passed'
          + (f' (log {log.name})' if failed else ''))
    if not failed:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
