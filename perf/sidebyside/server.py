#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Side by side: miredo-server and terelay's server role (net_af_packet) in the veth
testbed of perf/sidebyside/run.py (its namespaces, generators, search), the same
router-solicitation list, the same run.

    /usr/bin/python3 perf/sidebyside/server.py --build build --reps 3 --secs 2

(root). Writes perf/results/sidebyside-server.json and .md.

    gen  g0 198.18.0.254 ===veth=== eth0 [rly]    (eth1 to v6h unused)
         RS from 4096 sources          P 198.18.0.40, S 198.18.0.41 (UDP 3544)
         11.0.0.0/20, counts RAs       miredo-server (kernel addresses, sockets) or
         (nftables netdev ingress)     terelay [server] (net_af_packet, one worker)

  * Requests: perf/gen/server_capture.py --kind rs (four forms: with and without auth
    header, cone, XP source; one in four to S), MACs rewritten for the veths.
  * Answered = RAs counted by a named nftables counter on gen's g0 ingress (UDP source
    port 3544), then dropped; one RS gives exactly one RA (Miredo answers all four forms),
    so lost = sent - RAs.
  * Rate limits: terelay's [server] rs_rate/rs_burst are set to 10000000 (Miredo has none:
    the comparison is of capacity; with the defaults, 10/s per source, most of this load
    would be dropped by design as srv_rs_ratelimited).
  * CPU cost per answered RS: utime + stime of every thread of every process in rly
    (/proc/PID/task/*/stat) over the loss-free trial, divided by the RAs of that trial.
    terelay polls: its worker thread is on CPU all the time whatever the load, so its
    /proc figure is a core-second per second; the worker's busy cycles per packet
    (telemetry) say what the work itself costs.
  * Generator: tcpreplay --pps (paced) and trafgen (top speed) as run.py; its ceiling
    alone into rly eth0 (nothing listening) is measured at the start and the end.
    A loss-free rate at the generator's highest reached rate is generator-bound.
"""
import importlib.util
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
_spec = importlib.util.spec_from_file_location('sbs_run', os.path.join(HERE, 'run.py'))
sbs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sbs)
log, die, sh, MAC, GEN_IP = sbs.log, sbs.die, sbs.sh, sbs.MAC, sbs.GEN_IP
SP, SS = '198.18.0.40', '198.18.0.41'


def proc_cpu_s(pids):
    t = 0
    for pid in pids:
        try:
            for tid in os.listdir(f'/proc/{pid}/task'):
                st = open(f'/proc/{pid}/task/{tid}/stat').read().rsplit(')', 1)[1].split()
                t += int(st[11]) + int(st[12])
        except OSError:
            pass
    return t / os.sysconf('SC_CLK_TCK')


class SrvBed(sbs.Bed):
    def setup(self):
        super().setup()
        self.nsx(self.gen, 'nft', 'delete', 'table', 'netdev', 'sbsgen')
        self.nft(self.gen, 'table netdev sbsgen {\n counter ra { }\n chain in {\n  type filter hook ingress '
                           'device "g0" priority 0;\n  ip protocol udp udp sport 3544 counter name "ra" drop\n'
                           '  ether type ip counter drop\n }\n}\n')

    def counter(self):
        j = json.loads(self.nsx(self.gen, 'nft', '-j', 'list', 'counter', 'netdev', 'sbsgen', 'ra').stdout)
        for o in j['nftables']:
            if 'counter' in o:
                return o['counter']['packets']
        raise RuntimeError('nft counter ra not found')

    def start_miredo_server(self):
        self.bare()
        for a in (SP, SS):
            self.nsx(self.rly, 'ip', 'addr', 'add', a + '/24', 'dev', 'eth0')
        self.nsx(self.rly, 'ip', 'route', 'replace', 'default', 'via', GEN_IP, 'dev', 'eth0')
        conf = os.path.join(self.dir, 'miredo-server.conf')
        with open(conf, 'w') as f:
            f.write(f'ServerBindAddress {SP}\nServerBindAddress2 {SS}\n')
        lf = open(os.path.join(self.dir, 'miredo-server.log'), 'a')
        p = subprocess.Popen(['ip', 'netns', 'exec', self.rly, 'nice', '-n', str(self.a.nice), 'taskset', '-c',
                              str(self.a.relay_cpu), 'miredo-server', '-f', '-c', conf, '-p',
                              os.path.join(self.dir, 'miredo-server.pid'), '-u', 'miredo-server'],
                             stdout=lf, stderr=subprocess.STDOUT, start_new_session=True)
        self.relay = ('miredo-server', p)
        for _ in range(100):
            if ':3544' in self.nsx(self.rly, 'ss', '-uln', check=False).stdout:
                return
            if p.poll() is not None:
                break
            time.sleep(0.1)
        die(f'miredo-server did not bind: {open(lf.name).read()[-400:]}')

    def start_terelay_server(self):
        self.bare()
        ini = os.path.join(self.dir, 'terelay-server.ini')
        with open(ini, 'w') as f:
            f.write(f'[relay]\nipv4 = {sbs.RLY_IP}\nport = {sbs.RLY_PORT}\nipv6 = {sbs.RLY6}\n'
                    '[ports]\nteredo = net_af_packet0\nnative = net_af_packet1\n'
                    f'[nexthop]\nipv4_gateway = {GEN_IP}\nipv6_gateway = {sbs.V6H6}\n'
                    f'[server]\nenabled = true\nprimary = {SP}\nrs_rate = 10000000\nrs_burst = 10000000\n'
                    '[telemetry]\nsummary_interval = 1\n')
        logp = os.path.join(self.dir, 'terelay-server.log')
        lf = open(logp, 'w')
        qp = f',qpairs=2{self.a.afp_args}'
        cmd = ['ip', 'netns', 'exec', self.rly, 'nice', '-n', str(self.a.nice), self.a.terelay,
               '-l', f'{self.a.ctl_cpu},{self.a.relay_cpu}', '--main-lcore', str(self.a.ctl_cpu),
               '--in-memory', '--file-prefix', self.file_prefix, '--log-level=lib.eal:error',
               '--vdev', f'net_af_packet0,iface=eth0{qp}', '--vdev', f'net_af_packet1,iface=eth1{qp}',
               '--', '-c', ini]
        self.terelay_cmd = cmd[7:]
        p = subprocess.Popen(cmd, stdout=lf, stderr=subprocess.STDOUT, start_new_session=True)
        self.relay = ('terelay-server', p)
        for _ in range(600):
            if p.poll() is not None:
                die(f'terelay exited at start: {open(logp).read()[-600:]}')
            if 'terelay: rx' in open(logp).read():
                return
            time.sleep(0.1)
        die(f'terelay did not report within 60 s: {open(logp).read()[-600:]}')

    def relay_snapshot(self):
        name, p = self.relay
        d = {'cpu_s': proc_cpu_s(sbs.ip_netns_pids(self.rly))}
        if name == 'terelay-server':
            try:
                t = self.tel('/terelay/stats', '/terelay/lcores', '/ethdev/stats,0')
                d.update({'stats': t['/terelay/stats'], 'lcores': t['/terelay/lcores'],
                          'eth0_imissed': t['/ethdev/stats,0']['imissed']})
            except (OSError, ValueError) as e:
                d['error'] = str(e)
        else:
            snmp = self.nsx(self.rly, 'cat', '/proc/net/snmp').stdout.splitlines()
            udp = [l.split()[1:] for l in snmp if l.startswith('Udp:')]
            d['udp'] = dict(zip(udp[0], map(int, udp[1])))
        return d


def srv_delta(name, b, a, dur):
    if not b or not a:
        return {'error': 'no snapshot'}
    d = {'cpu_s': round(a['cpu_s'] - b['cpu_s'], 3), 'cpu_pct': round(100 * (a['cpu_s'] - b['cpu_s']) / dur, 1)}
    if name == 'terelay-server' and 'stats' in a and 'stats' in b:
        sa, sb = a['stats'], b['stats']
        for k in ('rx_packets', 'srv_rx', 'srv_ra_sent', 'drops_total'):
            d[k] = sa.get(k, 0) - sb.get(k, 0)
        d['imissed_eth0'] = a['eth0_imissed'] - b['eth0_imissed']
        for lid, lc in a['lcores'].items():
            if not isinstance(lc, dict):
                continue
            lb = b['lcores'].get(lid, {})
            cb = lc['cycles_busy'] - lb.get('cycles_busy', 0)
            ci = lc['cycles_idle'] - lb.get('cycles_idle', 0)
            d[f'{lc["role"]}_busy_pct'] = round(100 * cb / (cb + ci), 1) if cb + ci else None
            if lc['role'] == 'worker':
                d['worker_busy_cycles_per_pkt'] = round(cb / max(1, lc['rx_packets'] - lb.get('rx_packets', 0)))
    elif 'udp' in a and 'udp' in b:
        for k in ('InDatagrams', 'RcvbufErrors', 'OutDatagrams'):
            d['udp_' + k] = a['udp'][k] - b['udp'][k]
    return d


sbs.relay_delta = srv_delta           # Bed.trial reports the relay's counters through it


def make_captures(a, tmp):
    raw = os.path.join(tmp, 'rs-raw.pcap')
    sh([sys.executable, os.path.join(REPO, 'perf', 'gen', 'server_capture.py'), '--kind', 'rs',
        '--server', SP, '--clients', str(a.clients), '--packets', str(a.frames), '--out', raw])
    dst, src = sbs.mac_bytes(MAC['r0']), sbs.mac_bytes(MAC['g0'])
    cfg, vpcap = os.path.join(tmp, 'rs.trafgen'), os.path.join(tmp, 'rs-veth.pcap')
    n, sizes = 0, set()
    with open(raw, 'rb') as f, open(cfg, 'w') as out, open(vpcap, 'wb') as vp:
        vp.write(f.read(24))
        while True:
            h = f.read(16)
            if len(h) < 16:
                break
            incl = struct.unpack('<IIII', h)[2]
            fr = dst + src + f.read(incl)[12:]
            vp.write(h + fr)
            out.write('{ ' + ', '.join(f'0x{b:02x}' for b in fr) + ' }\n')
            n += 1
            sizes.add(len(fr))
    log(f'captures: {n} RS frames ({sorted(sizes)} bytes), {a.clients} sources')
    return vpcap, cfg, sorted(sizes), n


def main():
    import argparse
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--build', default=os.path.join(REPO, 'build'))
    ap.add_argument('--reps', type=int, default=3)
    ap.add_argument('--secs', type=float, default=2.0)
    ap.add_argument('--clients', type=int, default=4096)
    ap.add_argument('--frames', type=int, default=4096)
    ap.add_argument('--loss-tolerance', type=float, default=0.001)
    ap.add_argument('--no-confirm', dest='confirm', action='store_false')
    ap.add_argument('--resolution', type=float, default=0.05)
    ap.add_argument('--start-rate', type=float, default=10000.0)
    ap.add_argument('--gen-cpu', type=int, default=0)
    ap.add_argument('--relay-cpu', type=int, default=1)
    ap.add_argument('--ctl-cpu', type=int, default=0)
    ap.add_argument('--nice', type=int, default=-10)
    ap.add_argument('--afp-args', default=',framecnt=4096')
    ap.add_argument('--only', choices=['miredo-server', 'terelay-server'])
    ap.add_argument('--out', default=os.path.join(REPO, 'perf', 'results', 'sidebyside-server'))
    ap.add_argument('--keep', action='store_true')
    a = ap.parse_args()
    a.terelay = os.path.join(a.build, 'app', 'terelay')
    a.tr_gen = os.path.join(a.build, 'perf', 'tr_gen')
    a.topspeed_guess = 400000
    sbs.need(a)
    if shutil.which('miredo-server') is None:
        die('miredo-server missing (Debian package miredo-server)')
    t0 = time.time()
    tmp = tempfile.mkdtemp(prefix='terelay-sbs-srv-')
    bed = SrvBed(a, tmp)

    def on_signal(sig, frame):
        raise SystemExit(128 + sig)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    servers = [a.only] if a.only else ['miredo-server', 'terelay-server']
    runs = {s: [] for s in servers}
    gens, loads = [], []
    try:
        pcap, cfg, sizes, bed.frames = make_captures(a, tmp)
        bed.pcap = pcap
        bed.setup()
        log(f'namespaces {bed.p}*, logs {tmp}')
        gens.append(sbs.gen_alone(bed, cfg, a))
        ceiling = gens[0]['paced_ceiling_pps']
        for rep in range(a.reps):
            for name in (servers if rep % 2 == 0 else servers[::-1]):
                log(f'rep {rep + 1}/{a.reps}: {name}')
                (bed.start_miredo_server if name == 'miredo-server' else bed.start_terelay_server)()
                warm = bed.trial(cfg, 2000, 1.0)          # ARP for the gateway; not counted
                log(f'  {name}: warm-up {warm["sent"]} RS, {warm["forwarded"]} RA')
                best, trials, genlim = sbs.bisect(bed, cfg, a, name, ceiling)
                bed.stop_relay()
                loads.append(open('/proc/loadavg').read().split()[:3])
                rel = (best or {}).get('relay', {})
                cpu_per_rs = rel.get('cpu_s') / best['forwarded'] if best and best['forwarded'] and \
                    rel.get('cpu_s') is not None else None
                runs[name].append({'rep': rep + 1, 'loss_free_pps': best['sent_pps'] if best else None,
                                   'loss_free_trial': best, 'generator_limited': genlim,
                                   'cpu_us_per_answered_rs': cpu_per_rs and round(cpu_per_rs * 1e6, 2),
                                   'warmup': warm, 'trials': trials})
                log(f'  {name}: loss-free {best["sent_pps"] / 1e3 if best else 0:.1f} kpps'
                    f'{" (generator-bound)" if genlim else ""}, CPU {cpu_per_rs and cpu_per_rs * 1e6} us/RS')
            bed.bare()
        gens.append(sbs.gen_alone(bed, cfg, a))
    finally:
        bed.stop_relay()
        for ns in (bed.gen, bed.rly, bed.v6h):
            for pid in sbs.ip_netns_pids(ns):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            sh(['ip', 'netns', 'del', ns], check=False)
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    med = sbs.median
    summary = {}
    for name in servers:
        rs = runs[name]
        summary[name] = {
            'median_loss_free_pps': med([r['loss_free_pps'] for r in rs]),
            'median_cpu_us_per_answered_rs': med([r['cpu_us_per_answered_rs'] for r in rs]),
            'median_cpu_pct_at_loss_free': med([(r['loss_free_trial'] or {}).get('relay', {}).get('cpu_pct')
                                                for r in rs]),
            'median_worker_busy_cycles_per_pkt': med([(r['loss_free_trial'] or {}).get('relay', {}).get(
                'worker_busy_cycles_per_pkt') for r in rs]),
            'generator_bound_reps': sum(1 for r in rs if r['generator_limited'])}
    g = {'runs': gens, 'topspeed_pps': med([x['topspeed_pps'] for x in gens]),
         'paced_ceiling_pps': med([x['paced_ceiling_pps'] for x in gens])}
    res = {'date': time.strftime('%Y-%m-%d %H:%M:%S %z'), 'elapsed_s': round(time.time() - t0, 1),
           'command': '/usr/bin/python3 perf/sidebyside/server.py ' + ' '.join(sys.argv[1:]),
           'machine': sbs.machine(), 'loadavg_after_each_rep': loads,
           'config': {'frames': a.frames, 'frame_bytes': sizes, 'clients': a.clients, 'reps': a.reps,
                      'secs_per_trial': a.secs, 'loss_tolerance': a.loss_tolerance, 'confirm': a.confirm,
                      'resolution': a.resolution, 'start_rate_pps': a.start_rate, 'gen_cpu': a.gen_cpu,
                      'relay_cpu': a.relay_cpu, 'ctl_cpu': a.ctl_cpu, 'nice': a.nice,
                      'terelay_eal': getattr(bed, 'terelay_cmd', None), 'P': SP, 'S': SS},
           'generator_alone': g, 'summary': summary, 'runs': runs}
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out + '.json', 'w') as f:
        json.dump(res, f, indent=1)
    write_md(a.out + '.md', res)
    log(f'wrote {a.out}.json and .md')
    return 0


def write_md(path, res):
    s, g, c = res['summary'], res['generator_alone'], res['config']
    L = ['# Side by side: miredo-server vs terelay\'s server role (veth testbed)', '',
         f'Router solicitations from {c["clients"]} sources (frames {c["frame_bytes"]} bytes), '
         f'{c["reps"]} repetitions per server, alternating; medians. Run of {res["date"]}, '
         f'{res["elapsed_s"]:.0f} s; load average after each repetition: '
         + '; '.join(' '.join(x) for x in res['loadavg_after_each_rep']) + '.', '',
         '| server | loss-free RS rate, median (kpps) | per repetition (kpps) | CPU per answered RS (µs, /proc user+sys) '
         '| CPU at that rate | worker busy cycles/RS | bound |', '|---|---:|---|---:|---:|---:|---|']
    for name, rs in res['runs'].items():
        per = ', '.join((f'{r["loss_free_pps"] / 1e3:.1f}' + (' (gen-bound)' if r['generator_limited'] else ''))
                        if r['loss_free_pps'] else '–' for r in rs)
        x = s[name]
        bound = ('generator (%d of %d repetitions)' % (x['generator_bound_reps'], len(rs))
                 if x['generator_bound_reps'] else 'the server (loss above the rate)')
        L.append(f'| {name} | {(x["median_loss_free_pps"] or 0) / 1e3:.1f} | {per} | '
                 f'{sbs.fmt_or(x["median_cpu_us_per_answered_rs"])} | {sbs.fmt_or(x["median_cpu_pct_at_loss_free"])} % | '
                 f'{sbs.fmt_or(x["median_worker_busy_cycles_per_pkt"])} | {bound} |')
    L += ['', f'Generator alone into rly eth0 (nothing listening), start and end of the run: trafgen top speed '
              f'{g["topspeed_pps"] / 1e3:.0f} kpps, tcpreplay --pps ceiling {g["paced_ceiling_pps"] / 1e3:.0f} kpps '
              '(medians).', '',
          'terelay polls: its /proc CPU is its worker\'s whole core (plus the control lcore) whatever the load, '
          'so its CPU per RS falls as the rate rises; the worker\'s busy cycles per frame are what the work costs. '
          'miredo-server blocks in recvmsg: its /proc CPU is the work. terelay runs with rs_rate = rs_burst = '
          '10000000 (Miredo has no rate limit).', '',
          f'Command: `{res["command"]}`; raw trials in `{os.path.basename(path)[:-3]}.json`.', '']
    with open(path, 'w') as f:
        f.write('\n'.join(L))


def _fmt_or(x):
    return '—' if x is None else (f'{x:.2f}' if isinstance(x, float) else str(x))


sbs.fmt_or = _fmt_or

if __name__ == '__main__':
    sys.exit(main())
