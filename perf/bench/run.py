#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""terelay benchmark runner (docs/performance.md).

One command: generates the captures (tr_gen), then for every
(mode, peers, distribution) runs the dpdk-testpmd io-forwarding baseline and
terelay's real worker (tr_bench) alternately, on the same virtual device
(net_pcap infinite_rx, drop tx) and the same capture; runs the peer-table
micro-benchmark (tr_peerbench); writes results/latest.json, latest.md,
peerbench.json and mpps_vs_peers.png.

  /usr/bin/python3 perf/bench/run.py --full      # the documented full run
  /usr/bin/python3 perf/bench/run.py --quick     # seconds: 1k peers, 1 repetition
  /usr/bin/python3 perf/bench/run.py --pcap YOURS.pcap [--pcap OTHER.pcap]
      # any capture (pcap or pcapng): tr_bench learns the peers and the relay
      # address from it; results in perf/results/pcap/
"""
import argparse
import json
import math
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, 'scripts'))
import hugepages  # noqa: E402  (the project's one reserve-and-mount helper)
MODES = {'encap': '1:0:0:0', 'decap': '0:1:0:0', 'mix': '45:45:5:5'}
SEED, SERVERS, HOSTS = 1, 16, 256


def log(*a):
    print('[run.py]', *a, file=sys.stderr, flush=True)


# ----------------------------------------------------------------- memory

def ensure_hugepages(need_bytes, allow_reserve):
    """Returns EAL memory arguments: hugepages with --in-memory when enough 2 MB
    pages can be had (scripts/hugepages.py reserves and mounts them as root
    when allowed), else --no-huge."""
    try:
        if allow_reserve:
            hugepages.ensure(need_bytes >> 20)
        else:
            st = hugepages.status()
            if st['free'] * hugepages.PAGE < need_bytes or not st['mounts']:
                raise hugepages.HugepageError('hugepages: %d free 2 MB pages, --no-reserve given'
                                              % st['free'])
        return ['--in-memory'], True
    except (hugepages.HugepageError, OSError) as e:
        log('%s: --no-huge, numbers are lower' % e)
    return ['--no-huge', '--no-shconf', '-m', '1024'], False


# -------------------------------------------------------------- processes

def thread_oncpu_ns(pid, name):
    try:
        for tid in os.listdir('/proc/%d/task' % pid):
            with open('/proc/%d/task/%s/comm' % (pid, tid)) as f:
                if f.read().strip() == name:
                    with open('/proc/%d/task/%s/schedstat' % (pid, tid)) as g:
                        return int(g.read().split()[0])
    except OSError:
        pass
    return None


def frame_max(size, imix):
    return 14 + 20 + 8 + (1280 if imix else size)


def mbuf_size(maxlen):
    # same as tr_bench: headroom + largest frame rounded up to 64, at least 256
    return 128 + ((max(maxlen, 256) + 63) // 64) * 64


def pcap_scan(path):
    """(frames, largest captured frame) of a pcap or pcapng file."""
    import struct
    with open(path, 'rb') as f:
        data = f.read()
    if len(data) < 24:
        raise ValueError('%s: not a capture' % path)
    magic = data[:4]
    n = maxlen = 0
    if magic in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1', b'\xa1\xb2\xc3\xd4', b'\xa1\xb2\x3c\x4d'):
        e = '<' if magic[0] in (0xd4, 0x4d) else '>'
        off = 24
        while off + 16 <= len(data):
            caplen = struct.unpack_from(e + 'I', data, off + 8)[0]
            n += 1
            maxlen = max(maxlen, caplen)
            off += 16 + caplen
        return n, maxlen
    if magic == b'\x0a\x0d\x0d\x0a':
        off, e = 0, '<'
        while off + 12 <= len(data):
            btype = struct.unpack_from('<I', data, off)[0]
            if btype == 0x0a0d0d0a:             # section header: byte order
                e = '<' if data[off + 8:off + 12] == b'\x4d\x3c\x2b\x1a' else '>'
            blen = struct.unpack_from(e + 'I', data, off + 4)[0]
            if btype == 6:                      # enhanced packet block
                caplen = struct.unpack_from(e + 'I', data, off + 20)[0]
            elif btype == 3:                    # simple packet block (no snap length seen)
                caplen = struct.unpack_from(e + 'I', data, off + 8)[0]
            elif btype == 2:                    # obsolete packet block
                caplen = struct.unpack_from(e + 'I', data, off + 20)[0]
            else:
                caplen = None
            if caplen is not None:
                n += 1
                maxlen = max(maxlen, caplen)
            if blen < 12:
                break
            off += blen
        return n, maxlen
    raise ValueError('%s: neither pcap nor pcapng' % path)


def run_testpmd(args, eal_mem, cap, frames, maxlen):
    """io forwarding on net_pcap infinite_rx (drop tx); returns dict or None."""
    cmd = ['dpdk-testpmd', '-l', '0,1', '--no-pci', '--log-level=lib.*:warning'] + eal_mem + [
        '--vdev', 'net_pcap0,rx_pcap=%s,infinite_rx=1' % cap, '--',
        '--forward-mode=io', '--port-topology=loop', '--nb-cores=1', '--rxq=1', '--txq=1',
        '--burst=32', '--total-num-mbufs=%d' % (frames + 16384),
        '--mbuf-size=%d' % mbuf_size(maxlen), '--stats-period', '1']
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         bufsize=1)
    samples, out = [], []
    t_start = None
    cpu0 = cpu1 = None
    t_cpu0 = t_cpu1 = None
    deadline = time.time() + args.warmup + args.duration + 60
    try:
        for line in p.stdout:
            out.append(line)
            if t_start is None and 'Rx-pps' in line:
                t_start = time.time()
            m = re.search(r'Rx-pps:\s+(\d+)', line)
            if m and t_start is not None:
                now = time.time()
                if now - t_start >= args.warmup:
                    if cpu0 is None:
                        cpu0, t_cpu0 = thread_oncpu_ns(p.pid, 'rte-worker-1'), now
                    else:
                        samples.append(int(m.group(1)))
                        cpu1, t_cpu1 = thread_oncpu_ns(p.pid, 'rte-worker-1'), now
                if now - t_start >= args.warmup + args.duration and len(samples) >= 1:
                    break
            if time.time() > deadline:
                break
    finally:
        p.send_signal(signal.SIGINT)
        try:
            p.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
    if not samples:
        log('testpmd gave no rate; last output:\n' + ''.join(out[-20:]))
        return None
    mpps = statistics.mean(samples) / 1e6
    share = 1.0
    if cpu0 is not None and cpu1 is not None and t_cpu1 > t_cpu0:
        share = min(1.0, max(1e-3, (cpu1 - cpu0) / 1e9 / (t_cpu1 - t_cpu0)))
    return {'mpps': mpps, 'cpu_share': share, 'mpps_per_cpu': mpps / share, 'samples': samples}


def run_bench(args, eal_mem, cap, peers, label, stages=False, extra=()):
    """peers None: tr_bench learns the peers (and the relay) from the capture.
    extra: more tr_bench options (--server P)."""
    peer_args = (['--peers', str(peers), '--seed', str(SEED), '--servers', str(SERVERS)]
                 if peers is not None else
                 (['--relay', args.relay] if args.relay else []) +
                 (['--relay6', args.relay6] if args.relay6 else []))
    cmd = [os.path.join(args.build_dir, 'perf', 'tr_bench'), '-l', '0,1', '--no-pci',
           '--log-level=lib.*:warning', '--log-level=user1:warning'] + eal_mem + [
        '--', '--pcap', cap] + peer_args + [
        '--duration', str(args.duration), '--warmup', str(args.warmup), '--label', label] + list(extra)
    if stages:
        cmd += ['--stages', '--stage-seconds', str(args.stage_seconds)]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=600)
    for line in r.stdout.splitlines():
        if line.startswith('RESULT '):
            res = parse_result(line[7:])
            for l in r.stderr.splitlines():
                if l.startswith('tr_bench:'):
                    log(l)
            if res is None or not res.get('mpps', 0) > 0 or not math.isfinite(res['mpps']):
                log('tr_bench: no packets in the window (worker starved?): run ignored')
                return None
            return res
    log('tr_bench failed (rc %d):\n%s' % (r.returncode, r.stderr[-3000:]))
    return None


def parse_result(text):
    # C printf writes nan/inf, which JSON does not have
    text = re.sub(r'(?<![A-Za-z])-?nan(?![A-Za-z])', 'NaN', text)
    text = re.sub(r'(?<![A-Za-z])-?inf(?![A-Za-z])', 'Infinity', text)
    try:
        return json.loads(text)
    except ValueError as e:
        log('unparsable result (%s): %s' % (e, text[:300]))
        return None


def run_peerbench(args, eal_mem, peers):
    cmd = [os.path.join(args.build_dir, 'perf', 'tr_peerbench'), '-l', '0,1', '--no-pci',
           '--log-level=lib.*:warning'] + eal_mem + [
        '--', '--peers', str(peers), '--seed', str(SEED), '--servers', str(SERVERS),
        '--seconds', str(args.peer_seconds)]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=1200)
    for line in r.stdout.splitlines():
        if line.startswith('RESULT '):
            for l in r.stderr.splitlines():
                if l.startswith('tr_peerbench:'):
                    log(l)
            return parse_result(line[7:])
    log('tr_peerbench failed (rc %d):\n%s' % (r.returncode, r.stderr[-3000:]))
    return None


# ---------------------------------------------------------------- output

def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, d=2):
    return '—' if x is None else ('%.*f' % (d, x))


def machine_info():
    model = ''
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    model = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    dpdk = subprocess.run(['pkg-config', '--modversion', 'libdpdk'], stdout=subprocess.PIPE,
                          text=True).stdout.strip()
    try:
        load = open('/proc/loadavg').read().split()[:3]
    except OSError:
        load = []
    return {'nproc': os.cpu_count(), 'cpu_model': model, 'dpdk': dpdk,
            'kernel': os.uname().release, 'loadavg_at_end': load}


def write_markdown(path, records, peerb, meta):
    L = []
    L.append('# terelay benchmark results\n')
    L.append('Machine: %d vCPU, %s, DPDK %s, kernel %s; hugepages: %s; load average at the end: %s.\n'
             % (meta['machine']['nproc'], meta['machine']['cpu_model'], meta['machine']['dpdk'],
                meta['machine']['kernel'], 'yes' if meta['hugepages'] else 'no (--no-huge)',
                ' '.join(meta['machine']['loadavg_at_end'])))
    if meta.get('pcap'):
        L.append('Captures given with --pcap (peers and relay address learned from each); %d '
                 'repetitions, %.1f s each after %.1f s warm-up; medians.\n'
                 % (meta['reps'], meta['duration'], meta['warmup']))
    else:
        L.append('Capture: %d frames per configuration, IPv6 packets of %s bytes; %d repetitions, '
                 '%.1f s each after %.1f s warm-up; medians.\n'
                 % (meta['packets'], 'IMIX' if meta['imix'] else meta['size'], meta['reps'],
                    meta['duration'], meta['warmup']))
    if meta.get('pcap'):
        write_pcap_markdown(L, records)
        with open(path, 'w') as f:
            f.write('\n'.join(L) + '\n')
        return
    L.append('| mode | peers | dist | terelay Mpps | testpmd Mpps | ratio | ns/pkt | cycles/pkt | '
             'on-CPU cycles/pkt | worker on-CPU | terelay Mpps/CPU | testpmd Mpps/CPU | ratio/CPU |')
    L.append('|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
    for r in records:
        L.append('| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |' % (
            r['mode'], human(r['peers']), r['distribution'], fmt(r['mpps_median']),
            fmt(r['baseline_mpps_median']), fmt(r['ratio_median'], 3), fmt(r['ns_per_pkt_median'], 1),
            fmt(r['cycles_per_pkt_median'], 0), fmt(r['oncpu_cycles_per_pkt_median'], 0), fmt(r['cpu_share_median'] and 100 * r['cpu_share_median'], 0) + '%',
            fmt(r['mpps_per_cpu_median']), fmt(r['baseline_mpps_per_cpu_median']),
            fmt(r['ratio_per_cpu_median'], 3)))
    st = [r for r in records if r.get('stages_cycles_per_pkt')]
    if st:
        L.append('\nPer-stage cycles per packet (one --stages run per configuration; rdtsc per burst, '
                 'scaled by the worker thread\'s on-CPU share; '
                 'rewrite = worker_burst − classify − lookup − entry − tx):\n')
        L.append('| mode | peers | dist | rx | classify | lookup | entry | rewrite+decide | tx | '
                 'worker_burst | rx+worker |')
        L.append('|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|')
        for r in st:
            s = r['stages_cycles_per_pkt']
            L.append('| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |' % (
                r['mode'], human(r['peers']), r['distribution'], fmt(s['rx'], 0),
                fmt(s['classify'], 0), fmt(s['lookup'], 0), fmt(s['entry'], 0),
                fmt(s['rewrite_derived'], 0), fmt(s['tx'], 0), fmt(s['worker_burst'], 0),
                fmt(s['full_rx_plus_worker'], 0)))
    if peerb:
        L.append('\nPeer table (tr_peerbench; bytes from rte_malloc heap stats, 1 shard, capacity '
                 '= peers + 1/8 + 1024):\n')
        L.append('| peers | MiB | bytes/peer | insert cycles | bulk lookup cycles/key | '
                 'single lookup cycles/key | reader Mkeys/s alone | with writer | ratio | writer ops/s |')
        L.append('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
        for p in peerb:
            L.append('| %s | %.1f | %.1f | %.0f | %.1f | %.1f | %.2f | %.2f | %.3f | %.0f |' % (
                human(p['peers']), p['table_bytes'] / 1048576, p['bytes_per_peer'],
                p['insert_cycles'], p['bulk_lookup_cycles_per_key'],
                p['single_lookup_cycles_per_key'], p['reader_alone_mkeys_per_s'],
                p['reader_with_writer_mkeys_per_s'], p['reader_with_writer_ratio'],
                p['writer_evict_insert_per_s']))
    with open(path, 'w') as f:
        f.write('\n'.join(L) + '\n')


def outcome_shares(o, rx):
    """{'fwd_teredo': share, ..., 'drop:reason': share} of a tr_bench outcome object."""
    if not o or not rx:
        return None
    d = {k: o.get(k, 0) / rx for k in ('fwd_teredo', 'fwd_native', 'consumed', 'to_control')}
    d.update({'drop:' + k: v / rx for k, v in sorted(o.get('drops', {}).items())})
    return d


def write_pcap_markdown(L, records):
    L.append('| capture | frames | relay | peers learned (embedded / other mapping / native only) | '
             'terelay Mpps | testpmd Mpps | ratio | ns/pkt | cycles/pkt | on-CPU cycles/pkt | '
             'worker on-CPU | ratio/CPU |')
    L.append('|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|')
    for r in records:
        ln = r.get('learned') or {}
        L.append('| %s | %d | %s (%s) | %s (%s / %s / %s) | %s | %s | %s | %s | %s | %s | %s | %s |' % (
            r['capture_name'], r['frames'], r.get('relay'), r.get('relay_source'),
            ln.get('peers', '—'), ln.get('at_embedded', '—'), ln.get('at_other_mapping', '—'),
            ln.get('native_only', '—'), fmt(r['mpps_median']), fmt(r['baseline_mpps_median']),
            fmt(r['ratio_median'], 3), fmt(r['ns_per_pkt_median'], 1),
            fmt(r['cycles_per_pkt_median'], 0), fmt(r['oncpu_cycles_per_pkt_median'], 0),
            fmt(r['cpu_share_median'] and 100 * r['cpu_share_median'], 0) + '%',
            fmt(r['ratio_per_cpu_median'], 3)))
    st = [r for r in records if r.get('stages_cycles_per_pkt')]
    if st:
        L.append('\nPer-stage cycles per packet (last run of each capture, --stages; scaled by the worker '
                 'thread\'s on-CPU share; rewrite = worker_burst − classify − lookup − entry − tx):\n')
        L.append('| capture | rx | classify | lookup | entry | rewrite+decide | tx | worker_burst | rx+worker |')
        L.append('|---|---:|---:|---:|---:|---:|---:|---:|---:|')
        for r in st:
            x = r['stages_cycles_per_pkt']
            L.append('| %s | %s | %s | %s | %s | %s | %s | %s | %s |' % (
                r['capture_name'], fmt(x['rx'], 0), fmt(x['classify'], 0), fmt(x['lookup'], 0),
                fmt(x['entry'], 0), fmt(x['rewrite_derived'], 0), fmt(x['tx'], 0),
                fmt(x['worker_burst'], 0), fmt(x['full_rx_plus_worker'], 0)))
    L.append('\nOutcome of every frame, one untimed pass over the capture (exact counts from the '
             'worker\'s counters; to_control is handed to the control lcore), and shares in the last '
             'timed window:\n')
    L.append('| capture | outcome | frames in one pass | share of the pass | share in the timed window |')
    L.append('|---|---|---:|---:|---:|')
    for r in records:
        po, ps, ws = r.get('pass_outcomes') or {}, r.get('pass_shares') or {}, r.get('outcome_shares') or {}
        for k in sorted(set(ps) | set(ws), key=lambda k: (k.startswith('drop:'), k)):
            cnt = po.get('drops', {}).get(k[5:]) if k.startswith('drop:') else po.get(k)
            L.append('| %s | %s | %s | %s | %s |' % (
                r['capture_name'], k, cnt if cnt is not None else '—',
                fmt(ps.get(k) and 100 * ps[k], 2) + ' %', fmt(ws.get(k) is not None and 100 * ws[k], 2) + ' %'))
        pc = r.get('pass_control') or {}
        items = ['%s %d' % (k, v) for k, v in pc.items() if k != 'drops'] + \
            ['dropped %s %d' % (k, v) for k, v in pc.get('drops', {}).items()]
        if items:
            L.append('\n%s: what the control lcore counted for the frames handed to it in the pass: %s\n'
                     % (r['capture_name'], ', '.join(items)))


def human(n):
    for div, suf in ((1000000, 'M'), (1000, 'k')):
        if n >= div and n % div == 0:
            return '%d%s' % (n // div, suf)
    return str(n)


def plot(path, records):
    try:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
    except ImportError:
        log('matplotlib missing (apt-get install python3-matplotlib): no plot')
        return False
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for ax, dist in zip(axes, ('uniform', 'zipf')):
        for mode, color in (('encap', 'tab:blue'), ('decap', 'tab:orange'), ('mix', 'tab:green')):
            rs = sorted([r for r in records if r['mode'] == mode and r['distribution'] == dist],
                        key=lambda r: r['peers'])
            if not rs:
                continue
            xs = [r['peers'] for r in rs]
            ax.plot(xs, [r['mpps_median'] for r in rs], 'o-', color=color, label='terelay %s' % mode)
            ax.plot(xs, [r['baseline_mpps_median'] for r in rs], 's--', color=color, alpha=0.5,
                    label='testpmd io (%s capture)' % mode)
        ax.set_xscale('log')
        ax.set_xlabel('trusted peers in the table')
        ax.set_title('%s destinations' % dist)
        ax.grid(True, which='both', alpha=0.3)
    axes[0].set_ylabel('Mpps, one worker lcore (median)')
    axes[0].legend(fontsize=7)
    fig.suptitle('terelay vs dpdk-testpmd io, net_pcap infinite_rx into drop tx')
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return True


# ------------------------------------------------------------ --pcap

def run_pcaps(args, eal_mem, caps):
    """testpmd io and tr_bench (peers learned) alternately on each given capture."""
    records = []
    for cap, frames, maxlen in caps:
        name = os.path.basename(cap)
        base, mine = [], []
        for rep in range(args.reps):
            order = ('b', 't') if rep % 2 == 0 else ('t', 'b')
            pair = {}
            for who in order:
                if who == 'b':
                    pair['b'] = run_testpmd(args, eal_mem, cap, frames, maxlen)
                else:
                    last = rep == args.reps - 1
                    pair['t'] = run_bench(args, eal_mem, cap, None, name,
                                          stages=last and not args.no_stages)
            base.append(pair['b'])
            mine.append(pair['t'])
            log('%s rep %d: terelay %s Mpps, testpmd %s Mpps' % (
                name, rep + 1, fmt(pair['t'] and pair['t']['mpps']), fmt(pair['b'] and pair['b']['mpps'])))
        ratios = [t['mpps'] / b['mpps'] for t, b in zip(mine, base) if t and b and b['mpps'] > 0]
        ratios_cpu = [t['mpps_per_cpu'] / b['mpps_per_cpu'] for t, b in zip(mine, base)
                      if t and b and b['mpps_per_cpu'] > 0]
        ok_t = [t for t in mine if t]
        ok_b = [b for b in base if b]
        last = ok_t[-1] if ok_t else {}
        wo = last.get('window_outcomes')
        records.append({
            'mode': 'pcap', 'capture': cap, 'capture_name': name, 'frames': frames,
            'peers': last.get('peers'), 'distribution': 'capture',
            'relay': last.get('relay'), 'relay_source': last.get('relay_source'),
            'learned': last.get('learned'),
            'mpps_median': med([t['mpps'] for t in ok_t]),
            'baseline_mpps_median': med([b['mpps'] for b in ok_b]),
            'ratio_median': med(ratios),
            'ns_per_pkt_median': med([t['ns_per_pkt'] for t in ok_t]),
            'cycles_per_pkt_median': med([t['cycles_per_pkt'] for t in ok_t]),
            'oncpu_cycles_per_pkt_median': med([t.get('oncpu_cycles_per_pkt') for t in ok_t]),
            'cpu_share_median': med([t['cpu_share'] for t in ok_t]),
            'baseline_cpu_share_median': med([b['cpu_share'] for b in ok_b]),
            'mpps_per_cpu_median': med([t['mpps_per_cpu'] for t in ok_t]),
            'baseline_mpps_per_cpu_median': med([b['mpps_per_cpu'] for b in ok_b]),
            'ratio_per_cpu_median': med(ratios_cpu),
            'runs': len(ok_t), 'baseline_runs': len(ok_b),
            'mpps_runs': [t['mpps'] for t in ok_t],
            'baseline_mpps_runs': [b['mpps'] for b in ok_b],
            'ratio_runs': ratios,
            'outcome_shares': outcome_shares(wo, wo and wo.get('rx_packets')),
            'pass_outcomes': last.get('pass_outcomes'),
            'pass_shares': outcome_shares(last.get('pass_outcomes'), last.get('pass_frames')),
            'pass_control': last.get('pass_control'),
            'stages_cycles_per_pkt': next((t.get('stages_cycles_per_pkt') for t in reversed(ok_t)
                                           if t.get('stages_cycles_per_pkt')), None),
        })
    return records


# ------------------------------------------------------------ --server

SERVER_P = '203.0.113.120'
SERVER_GEN = os.path.join(REPO, 'perf', 'gen', 'server_capture.py')


def paired(args, eal_mem, cap, frames, maxlen, label, peers, extra):
    """reps x (testpmd io, tr_bench) alternately on one capture."""
    base, mine = [], []
    for rep in range(args.reps):
        order = ('b', 't') if rep % 2 == 0 else ('t', 'b')
        pair = {}
        for who in order:
            if who == 'b':
                pair['b'] = run_testpmd(args, eal_mem, cap, frames, maxlen)
            else:
                pair['t'] = run_bench(args, eal_mem, cap, peers, label, extra=extra)
        base.append(pair['b'])
        mine.append(pair['t'])
        log('%s rep %d: terelay %s Mpps, testpmd %s Mpps, load %s' % (
            label, rep + 1, fmt(pair['t'] and pair['t']['mpps']), fmt(pair['b'] and pair['b']['mpps']),
            open('/proc/loadavg').read().split()[0]))
    return base, mine


def server_record(kind, label, cap, frames, base, mine):
    def per_s(t, *keys):
        w = t.get('window_outcomes') or {}
        return sum(w.get(k, 0) for k in keys) / t['seconds'] / 1e6
    ok = [(t, b) for t, b in zip(mine, base) if t and b and b['mpps'] > 0]
    ok_t = [t for t in mine if t]
    ok_b = [b for b in base if b]
    last = ok_t[-1] if ok_t else {}
    return {
        'kind': kind, 'label': label, 'frames': frames,
        'mpps_median': med([t['mpps'] for t in ok_t]),
        'ra_mps_median': med([per_s(t, 'srv_ra_sent') for t in ok_t]),
        'bubble_mps_median': med([per_s(t, 'srv_fwd_teredo') for t in ok_t]),
        'relay_fwd_mpps_median': med([per_s(t, 'fwd_teredo', 'fwd_native') - per_s(t, 'srv_fwd_teredo', 'srv_fwd_native')
                                      for t in ok_t]),
        'baseline_mpps_median': med([b['mpps'] for b in ok_b]),
        'ratio_median': med([t['mpps'] / b['mpps'] for t, b in ok]),
        'ratio_runs': [t['mpps'] / b['mpps'] for t, b in ok],
        'mpps_runs': [t['mpps'] for t in ok_t], 'baseline_mpps_runs': [b['mpps'] for b in ok_b],
        'cpu_share_median': med([t['cpu_share'] for t in ok_t]),
        'baseline_cpu_share_median': med([b['cpu_share'] for b in ok_b]),
        'ratio_per_cpu_median': med([t['mpps_per_cpu'] / b['mpps_per_cpu'] for t, b in ok
                                     if b['mpps_per_cpu'] > 0]),
        'oncpu_cycles_per_pkt_median': med([t.get('oncpu_cycles_per_pkt') for t in ok_t]),
        'runs': len(ok_t), 'baseline_runs': len(ok_b),
        'window_outcomes': last.get('window_outcomes'), 'pass_outcomes': last.get('pass_outcomes'),
    }


def server_main(args, eal_mem, huge, gen, work, t_begin):
    """--server: RS -> RA and bubble forwarding on one worker, and the relay with an
    RS load beside it, each against testpmd io on the same capture in the same run."""
    P = args.server
    loads = []
    caps = []
    n = args.packets
    rs = os.path.join(work, 'srv-rs.pcap')
    bub = os.path.join(work, 'srv-bubble.pcap')
    subprocess.run([sys.executable, SERVER_GEN, '--kind', 'rs', '--server', P, '--clients', '4096',
                    '--packets', str(n), '--out', rs], check=True)
    subprocess.run([sys.executable, SERVER_GEN, '--kind', 'bubble', '--server', P, '--clients', '4096',
                    '--packets', str(n), '--out', bub], check=True)
    caps.append(('rs', 'RS -> RA (4096 sources; 1/4 without auth, 1/4 cone, 1/4 to S)', rs, None))
    caps.append(('bubble', 'bubble forwarding (4096 served clients, with origin)', bub, None))
    for mode in ('encap', 'decap'):
        rc = os.path.join(work, 'srv-relay-%s.pcap' % mode)
        subprocess.run([gen, '--clients', '1000', '--servers', str(SERVERS), '--hosts', str(HOSTS),
                        '--packets', str(n), '--mix', MODES[mode], '--dist', 'uniform', '--seed', str(SEED),
                        '--size', str(args.size), '--out', rc], check=True, stderr=subprocess.DEVNULL)
        mx = os.path.join(work, 'srv-mixed-%s.pcap' % mode)
        subprocess.run([sys.executable, SERVER_GEN, '--kind', 'mixed', '--server', P, '--clients', '4096',
                        '--relay-pcap', rc, '--every', str(args.server_every), '--out', mx], check=True)
        caps.append(('relay-' + mode, 'relay %s alone (1000 peers, server role off)' % mode, rc, 'off'))
        caps.append(('relay-srvon-' + mode, 'relay %s alone, server role on (no RS)' % mode, rc, 'on'))
        caps.append(('mixed-' + mode, 'relay %s + 1 RS per %d relay frames (server role on)'
                     % (mode, args.server_every), mx, 'on'))
    records = []
    for kind, label, cap, relay in caps:
        frames, maxlen = pcap_scan(cap)
        peers = 1000 if relay else None
        extra = [] if relay == 'off' else ['--server', P]
        base, mine = paired(args, eal_mem, cap, frames, maxlen, kind, peers, extra)
        loads.append(open('/proc/loadavg').read().split()[:3])
        rec = server_record(kind, label, cap, frames, base, mine)
        records.append(rec)
    meta = {'machine': machine_info(), 'hugepages': huge, 'reps': args.reps, 'duration': args.duration,
            'warmup': args.warmup, 'packets': n, 'size': args.size, 'server': P,
            'eal_memory': eal_mem, 'loadavg_per_capture': loads, 'every': args.server_every,
            'elapsed_s': round(time.time() - t_begin, 1), 'date': time.strftime('%Y-%m-%d %H:%M:%S %z'),
            'command': '/usr/bin/python3 perf/bench/run.py ' + ' '.join(sys.argv[1:])}
    with open(os.path.join(args.out_dir, 'server.json'), 'w') as f:
        json.dump({'meta': meta, 'records': records}, f, indent=1)
    write_server_md(os.path.join(args.out_dir, 'server.md'), records, meta)
    if not args.keep_captures and not args.work_dir:
        shutil.rmtree(work, ignore_errors=True)
    with open(os.path.join(args.out_dir, 'server.md')) as f:
        print(f.read())
    if args.smoke:
        bad = []
        for r in records:
            if not (r['mpps_median'] or 0) > 0 or not (r['baseline_mpps_median'] or 0) > 0:
                bad.append('%s: no rate' % r['kind'])
            po = r['pass_outcomes'] or {}
            if r['kind'] == 'rs' and po.get('srv_ra_sent') != r['frames']:
                bad.append('rs: %s RAs in one pass of %d RS' % (po.get('srv_ra_sent'), r['frames']))
            if r['kind'] == 'bubble' and po.get('srv_fwd_teredo') != r['frames']:
                bad.append('bubble: %s forwarded in one pass of %d' % (po.get('srv_fwd_teredo'), r['frames']))
        if bad:
            print('perf-smoke FAILED:\n  ' + '\n  '.join(bad), file=sys.stderr)
            return 1
        print('perf-smoke: ok (%d server records)' % len(records))
    return 0


def write_server_md(path, records, meta):
    m = meta['machine']
    L = ['# terelay server role: one worker against testpmd io\n',
         'Machine: %d vCPU, %s, DPDK %s; hugepages: %s; %d repetitions of %.1f s after %.1f s warm-up, '
         'terelay and testpmd alternating on the same capture (net_pcap infinite_rx into drop tx); '
         'medians. Load average after each capture: %s. Command: `%s`.\n'
         % (m['nproc'], m['cpu_model'], m['dpdk'], 'yes' if meta['hugepages'] else 'no (--no-huge)',
            meta['reps'], meta['duration'], meta['warmup'],
            '; '.join(' '.join(x) for x in meta['loadavg_per_capture']), meta['command']),
         '| capture | frames | terelay Mpps | RA/s (M) | bubbles/s (M) | relay fwd Mpps | testpmd io Mpps | '
         'ratio | worker on-CPU | ratio/CPU | on-CPU cycles/pkt |',
         '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|']
    for r in records:
        L.append('| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |' % (
            r['label'], r['frames'], fmt(r['mpps_median']), fmt(r['ra_mps_median']),
            fmt(r['bubble_mps_median']), fmt(r['relay_fwd_mpps_median']), fmt(r['baseline_mpps_median']),
            fmt(r['ratio_median'], 3), fmt(r['cpu_share_median'] and 100 * r['cpu_share_median'], 0) + '%',
            fmt(r['ratio_per_cpu_median'], 3), fmt(r['oncpu_cycles_per_pkt_median'], 0)))
    L.append('\nEvery frame\'s outcome in one untimed pass (exact, the worker\'s counters):\n')
    for r in records:
        po = r.get('pass_outcomes') or {}
        items = ['%s %d' % (k, v) for k, v in po.items() if k != 'drops' and v] + \
            ['drop %s %d' % kv for kv in (po.get('drops') or {}).items()]
        L.append('- %s: %s' % (r['kind'], ', '.join(items)))
    with open(path, 'w') as f:
        f.write('\n'.join(L) + '\n')


# ------------------------------------------------------------------ main

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = ap.add_mutually_exclusive_group()
    g.add_argument('--quick', action='store_true', help='seconds: 1k peers, uniform, 1 repetition')
    g.add_argument('--full', action='store_true', help='everything (default)')
    ap.add_argument('--smoke', action='store_true', help='assert sane results (the perf-smoke test)')
    ap.add_argument('--build-dir', default=None, help='meson build directory (default: newest build*/ with perf/tr_bench)')
    ap.add_argument('--out-dir', default=None, help='default perf/results (perf/results/pcap with --pcap)')
    ap.add_argument('--work-dir', default=None, help='captures (default: OUT_DIR/captures, removed at the end)')
    ap.add_argument('--keep-captures', action='store_true')
    ap.add_argument('--modes', default=None, help='comma list of encap,decap,mix')
    ap.add_argument('--peers', default=None, help='comma list, e.g. 1000,100000')
    ap.add_argument('--dists', default=None, help='comma list of uniform,zipf')
    ap.add_argument('--reps', type=int, default=None)
    ap.add_argument('--duration', type=float, default=None, help='measured seconds per run')
    ap.add_argument('--warmup', type=float, default=None)
    ap.add_argument('--packets', type=int, default=None, help='frames per capture')
    ap.add_argument('--size', type=int, default=104, help='IPv6 packet bytes (tr_gen --size)')
    ap.add_argument('--imix', action='store_true')
    ap.add_argument('--no-stages', action='store_true')
    ap.add_argument('--stage-seconds', type=float, default=1.0)
    ap.add_argument('--no-peerbench', action='store_true')
    ap.add_argument('--peer-seconds', type=float, default=None)
    ap.add_argument('--no-reserve', action='store_true', help='never write nr_hugepages')
    ap.add_argument('--pcap', action='append', default=None, metavar='FILE',
                    help='benchmark this capture (repeatable) instead of generated ones: tr_bench '
                         'learns its peers and relay address; default --out-dir perf/results/pcap')
    ap.add_argument('--relay', default=None, metavar='A.B.C.D:PORT',
                    help='with --pcap: the relay address and port (default: learned from the capture)')
    ap.add_argument('--relay6', default=None, help='with --pcap: the relay native IPv6 address')
    ap.add_argument('--server', nargs='?', const=SERVER_P, default=None, metavar='P',
                    help='the Teredo server role (default P %s): RA/s and bubbles/s of one worker '
                         'against testpmd io on the same captures, and relay throughput with an RS '
                         'load beside it; writes server.json and server.md' % SERVER_P)
    ap.add_argument('--server-every', type=int, default=4,
                    help='--server: one RS after every N relay frames in the mixed captures')
    ap.add_argument('--render', action='store_true',
                    help='only re-render latest.md and the plot from the JSON in --out-dir')
    args = ap.parse_args()

    if args.out_dir is None:
        args.out_dir = os.path.join(REPO, 'perf', 'results', 'pcap' if args.pcap else '')
        args.out_dir = args.out_dir.rstrip('/')
    if args.render:
        d = args.out_dir
        with open(os.path.join(d, 'latest.json')) as f:
            records = json.load(f)
        with open(os.path.join(d, 'peerbench.json')) as f:
            peerb = json.load(f)
        with open(os.path.join(d, 'meta.json')) as f:
            meta = json.load(f)
        write_markdown(os.path.join(d, 'latest.md'), records, peerb, meta)
        if not meta.get('pcap'):
            plot(os.path.join(d, 'mpps_vs_peers.png'), records)
        return 0

    quick = args.quick
    modes = (args.modes or 'encap,decap,mix').split(',')
    peers = [int(x) for x in (args.peers or ('1000' if quick else '1000,100000,1000000,10000000')).split(',')]
    dists = (args.dists or ('uniform' if quick else 'uniform,zipf')).split(',')
    args.reps = args.reps or (1 if quick else 5)
    args.duration = args.duration or (1.0 if quick else 1.5)
    args.warmup = args.warmup if args.warmup is not None else 0.5
    args.packets = args.packets or (16384 if quick else 262144)
    args.peer_seconds = args.peer_seconds or (0.5 if quick else 2.0)
    if quick:
        args.stage_seconds = min(args.stage_seconds, 0.3)
    if args.build_dir is None:
        # never a sanitizer or debug build (build-san has perf/ too): they
        # measure the instrumentation, not the relay
        def optimised(d):
            try:
                with open(os.path.join(d, 'meson-info', 'intro-buildoptions.json')) as f:
                    opts = {o['name']: o['value'] for o in json.load(f)}
            except (OSError, ValueError, KeyError):
                return False
            return opts.get('b_sanitize') in ('none', None) and opts.get('optimization') in ('2', '3')
        cands = [os.path.join(REPO, d) for d in os.listdir(REPO)
                 if os.path.exists(os.path.join(REPO, d, 'perf', 'tr_bench'))
                 and optimised(os.path.join(REPO, d))]
        if not cands:
            sys.exit('run.py: no optimised build directory with perf/tr_bench; meson setup build && ninja -C build')
        args.build_dir = max(cands, key=lambda d: os.path.getmtime(os.path.join(d, 'perf', 'tr_bench')))
    if shutil.which('dpdk-testpmd') is None:
        sys.exit('run.py: dpdk-testpmd not found (Debian package dpdk-dev)')
    os.makedirs(args.out_dir, exist_ok=True)
    work = args.work_dir or os.path.join(args.out_dir, 'captures')
    os.makedirs(work, exist_ok=True)

    caps = []
    if args.pcap:
        for cap in args.pcap:
            try:
                n, ml = pcap_scan(cap)
            except (OSError, ValueError) as e:
                sys.exit('run.py: %s' % e)
            if n == 0:
                sys.exit('run.py: %s: no frames' % cap)
            caps.append((os.path.abspath(cap), n, ml))
        args.no_peerbench = True
        args.packets = max(c[1] for c in caps)
        maxlen = max(c[2] for c in caps)
        peers = [args.packets]          # at most one learned peer per frame
    else:
        maxlen = frame_max(args.size, args.imix)
    mb = mbuf_size(maxlen) + 128 + 64
    need = (args.packets + 16384) * mb * 11 // 10 + (max(peers) * 160 if max(peers) > 1000 else 0) + (256 << 20)
    eal_mem, huge = ensure_hugepages(need, not args.no_reserve)
    if not huge and max(peers) > 100000:
        log('without hugepages only up to 100k peers fit in -m 1024: dropping larger tables')
        peers = [p for p in peers if p <= 100000]

    gen = os.path.join(args.build_dir, 'perf', 'tr_gen')
    t_begin = time.time()
    if args.server:
        return server_main(args, eal_mem, huge, gen, work, t_begin)
    records = []
    if caps:
        records = run_pcaps(args, eal_mem, caps)
        modes = []
    for mode in modes:
        for npeers in peers:
            for dist in dists:
                cap = os.path.join(work, 'cap-%s-%d-%s.pcap' % (mode, npeers, dist))
                cmd = [gen, '--clients', str(npeers), '--servers', str(SERVERS), '--hosts', str(HOSTS),
                       '--packets', str(args.packets), '--mix', MODES[mode], '--dist', dist,
                       '--seed', str(SEED), '--out', cap]
                cmd += ['--imix'] if args.imix else ['--size', str(args.size)]
                subprocess.run(cmd, check=True, stderr=subprocess.DEVNULL)
                label = '%s-%d-%s' % (mode, npeers, dist)
                base, mine = [], []
                for rep in range(args.reps):
                    # alternate which runs first, pair by pair
                    order = ('b', 't') if rep % 2 == 0 else ('t', 'b')
                    pair = {}
                    for who in order:
                        if who == 'b':
                            pair['b'] = run_testpmd(args, eal_mem, cap, args.packets, maxlen)
                        else:
                            last = rep == args.reps - 1
                            pair['t'] = run_bench(args, eal_mem, cap, npeers, label,
                                                  stages=last and not args.no_stages)
                    base.append(pair['b'])
                    mine.append(pair['t'])
                    log('%s rep %d: terelay %s Mpps, testpmd %s Mpps' % (
                        label, rep + 1, fmt(pair['t'] and pair['t']['mpps']),
                        fmt(pair['b'] and pair['b']['mpps'])))
                ratios = [t['mpps'] / b['mpps'] for t, b in zip(mine, base) if t and b and b['mpps'] > 0]
                ratios_cpu = [t['mpps_per_cpu'] / b['mpps_per_cpu'] for t, b in zip(mine, base)
                              if t and b and b['mpps_per_cpu'] > 0]
                ok_t = [t for t in mine if t]
                ok_b = [b for b in base if b]
                rec = {
                    'mode': mode, 'peers': npeers, 'distribution': dist,
                    'mpps_median': med([t['mpps'] for t in ok_t]),
                    'baseline_mpps_median': med([b['mpps'] for b in ok_b]),
                    'ratio_median': med(ratios),
                    'ns_per_pkt_median': med([t['ns_per_pkt'] for t in ok_t]),
                    'cycles_per_pkt_median': med([t['cycles_per_pkt'] for t in ok_t]),
                    'oncpu_cycles_per_pkt_median': med([t.get('oncpu_cycles_per_pkt') for t in ok_t]),
                    'cpu_share_median': med([t['cpu_share'] for t in ok_t]),
                    'baseline_cpu_share_median': med([b['cpu_share'] for b in ok_b]),
                    'mpps_per_cpu_median': med([t['mpps_per_cpu'] for t in ok_t]),
                    'baseline_mpps_per_cpu_median': med([b['mpps_per_cpu'] for b in ok_b]),
                    'ratio_per_cpu_median': med(ratios_cpu),
                    'bytes_per_peer': ok_t[-1]['bytes_per_peer'] if ok_t else None,
                    'table_bytes': ok_t[-1]['table_bytes'] if ok_t else None,
                    'runs': len(ok_t), 'baseline_runs': len(ok_b),
                    'mpps_runs': [t['mpps'] for t in ok_t],
                    'baseline_mpps_runs': [b['mpps'] for b in ok_b],
                    'outcome_shares': ({k: ok_t[-1][k] / ok_t[-1]['rx_packets'] for k in
                                        ('fwd_teredo', 'fwd_native', 'consumed', 'to_control', 'drops')}
                                       if ok_t else None),
                    'stages_cycles_per_pkt': next((t.get('stages_cycles_per_pkt') for t in reversed(ok_t)
                                                   if t.get('stages_cycles_per_pkt')), None),
                    'capture': {'packets': args.packets, 'size': 'imix' if args.imix else args.size,
                                'seed': SEED, 'servers': SERVERS, 'hosts': HOSTS, 'mix': MODES[mode]},
                }
                records.append(rec)
                if not args.keep_captures:
                    os.unlink(cap)

    peerb = []
    if not args.no_peerbench:
        for npeers in peers:
            p = run_peerbench(args, eal_mem, npeers)
            if p:
                peerb.append(p)

    meta = {'machine': machine_info(), 'hugepages': huge, 'reps': args.reps, 'pcap': bool(caps),
            'duration': args.duration, 'warmup': args.warmup, 'packets': args.packets,
            'size': args.size, 'imix': args.imix, 'eal_memory': eal_mem,
            'elapsed_s': round(time.time() - t_begin, 1),
            'date': time.strftime('%Y-%m-%d %H:%M:%S %z')}
    with open(os.path.join(args.out_dir, 'latest.json'), 'w') as f:
        json.dump(records, f, indent=1)
    with open(os.path.join(args.out_dir, 'peerbench.json'), 'w') as f:
        json.dump(peerb, f, indent=1)
    with open(os.path.join(args.out_dir, 'meta.json'), 'w') as f:
        json.dump(meta, f, indent=1)
    write_markdown(os.path.join(args.out_dir, 'latest.md'), records, peerb, meta)
    plotted = plot(os.path.join(args.out_dir, 'mpps_vs_peers.png'), records) if not caps else True
    if not args.keep_captures and not args.work_dir:
        shutil.rmtree(work, ignore_errors=True)   # generated captures only; --pcap files stay
    with open(os.path.join(args.out_dir, 'latest.md')) as f:
        print(f.read())
    log('done in %.0f s; results in %s' % (time.time() - t_begin, args.out_dir))

    if args.smoke:
        bad = []
        with open(os.path.join(args.out_dir, 'latest.json')) as f:
            recs = json.load(f)
        if not recs:
            bad.append('no records')
        for r in recs:
            for k in ('mpps_median', 'baseline_mpps_median', 'ratio_median', 'ns_per_pkt_median'):
                if not isinstance(r.get(k), (int, float)) or not r[k] > 0:
                    bad.append('%s/%s/%s: %s = %r' % (r['mode'], r['peers'], r['distribution'], k, r.get(k)))
            if r['runs'] < 1 or r['baseline_runs'] < 1:
                bad.append('%s: terelay ran %d times, testpmd %d times' % (r['mode'], r['runs'], r['baseline_runs']))
            sh = r.get('outcome_shares') or {}
            fwd = sh.get('fwd_teredo', 0) + sh.get('fwd_native', 0)
            if r['mode'] in ('encap', 'decap') and fwd < 0.99:
                bad.append('%s: only %.1f%% forwarded' % (r['mode'], 100 * fwd))
        if not args.no_peerbench and (not peerb or not all(p['bytes_per_peer'] > 0 and p['bulk_lookup_cycles_per_key'] > 0 for p in peerb)):
            bad.append('peer-table benchmark missing or not positive')
        if not plotted and shutil.which('gnuplot') is None:
            log('note: no plot (matplotlib missing)')
        if bad:
            print('perf-smoke FAILED:\n  ' + '\n  '.join(bad), file=sys.stderr)
            return 1
        print('perf-smoke: ok (%d records)' % len(recs))
    return 0


if __name__ == '__main__':
    sys.exit(main())
