#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Instructions per packet of terelay's worker, from callgrind (this machine
has no PMU counters, so `perf stat` cannot count instructions).

tr_bench runs under valgrind --tool=callgrind with collection switched on
only inside tr_worker_main (the real poll loop: rx burst, classification,
lookup, rewrite, tx), on the same generated captures as run.py. The
instruction total is divided by every frame the loop took; the split by
stage comes from callgrind's inclusive costs of the functions that make up
each stage.

  /usr/bin/python3 perf/bench/callgrind.py [--build-dir build] [--peers 1000]
  /usr/bin/python3 perf/bench/callgrind.py --pcap YOURS.pcap [--pcap ...]
  /usr/bin/python3 perf/bench/callgrind.py --server     # RS -> RA and bubble forwarding
      # (tr_bench --server 203.0.113.120, perf/gen/server_capture.py captures;
      # writes callgrind-server.json and .md)

Writes perf/results/callgrind.json and callgrind.md. Deterministic, unlike
cycles: two runs of the same build agree to a fraction of a percent, which
makes it the measure to compare two builds with on a noisy machine.
"""
import argparse
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
MODES = {'encap': '1:0:0:0', 'decap': '0:1:0:0'}
PMD_PREFIX = 'librte_net_'

# Stage -> functions whose inclusive cost it is (a function counted once).
STAGES = [
    ('classify', ['tr_classify', 'tr_classify_hw']),
    ('lookup', ['tr_peer_lookup_bulk']),
    ('rewrite', ['tr_encap_mbuf', 'tr_decap_mbuf', 'tr_ipv6_dec_hop']),
    ('tx', ['tr_tx_flush', 'tr_tx_flush_all']),
]


def sh(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def inclusive_costs(out_file):
    r = sh(['callgrind_annotate', '--inclusive=yes', '--threshold=100', out_file])
    costs = {}
    for line in r.stdout.splitlines():
        m = re.match(r'\s*([\d,]+)\s+\([^)]*\)\s+(\S+?):(\S+)', line)
        if m:
            fn = m.group(3)
            # a function appears once per source file its code came from
            # (inlined headers, relative and absolute paths): the largest
            # inclusive figure is the whole function
            costs[fn] = max(costs.get(fn, 0), int(m.group(1).replace(",", "")))
    return costs


def exclusive_by_file(out_file):
    """Instructions by source file (inlined code counts where it was written:
    with LTO, classify.c's code inlined into the worker still counts as
    classify.c), or by shared object for code without line info (the PMDs,
    librte_hash); and by function (file:function, exclusive). The object
    of each entry tells terelay's own code from the PMD's."""
    r = sh(['callgrind_annotate', '--inclusive=no', '--threshold=100', out_file])
    by, by_fn, pmd = {}, {}, 0
    for line in r.stdout.splitlines():
        m = re.match(r'\s*([\d,]+)\s+\([^)]*\)\s+(\S+?):(\S+)(?:\s+\[(\S+)\])?\s*$', line)
        if not m or m.group(2) == 'PROGRAM' or '=>' in line:
            continue
        f, n = m.group(2), int(m.group(1).replace(',', ''))
        key = os.path.basename(m.group(4)) if f == '???' and m.group(4) else os.path.basename(f)
        by[key] = by.get(key, 0) + n
        fk = '%s:%s' % (key, m.group(3))
        by_fn[fk] = by_fn.get(fk, 0) + n
        # the poll-mode driver: rx copy and tx free, what testpmd io does too
        if m.group(4) and os.path.basename(m.group(4)).startswith(PMD_PREFIX):
            pmd += n
    return by, by_fn, pmd


def pmd_helper_cost(out_file):
    """Instructions of the C library and the dynamic linker (memcpy, __tls_get_addr, ...)
    spent on behalf of the PMD: from the call tree, the cost each such function got from
    callers in a PMD object. Without this, 22.11's net_pcap reading rte_lcore_id() through
    __tls_get_addr (11 per packet) counts as terelay's."""
    r = sh(['callgrind_annotate', '--tree=caller', '--inclusive=no', '--threshold=100', out_file])
    total, from_pmd = 0, 0
    for line in r.stdout.splitlines():
        m = re.match(r'\s*([\d,]+)\s+\([^)]*\)\s+([<*])\s+\S+?:\S+(?:\s+\(([\d,]+)x\))?\s+\[(\S+)\]', line)
        if not m:
            continue
        n, kind, obj = int(m.group(1).replace(',', '')), m.group(2), os.path.basename(m.group(4))
        if kind == '<':
            from_pmd += n if obj.startswith(PMD_PREFIX) else 0
        else:
            if obj.startswith(('ld-linux', 'libc.so')):
                total += min(from_pmd, n)
            from_pmd = 0
    return total


def tag_pcap(path, vlan):
    """Insert each side's tags (IPv4/ARP: vlan[0], IPv6: vlan[1]; 'V' or 'O:I') after the
    MAC addresses of every frame of a little-endian microsecond pcap, in place."""
    def tags(spec):
        ids = [int(x) for x in spec.split(':')]
        if len(ids) == 1:
            return struct.pack('!HH', 0x8100, ids[0])
        return struct.pack('!HHHH', 0x88a8, ids[0], 0x8100, ids[1])
    side = {b'\x08\x00': tags(vlan[0]), b'\x08\x06': tags(vlan[0]), b'\x86\xdd': tags(vlan[1])}
    with open(path, 'rb') as f:
        data = f.read()
    out, off = [data[:24]], 24
    while off + 16 <= len(data):
        ts, us, incl, orig = struct.unpack('<IIII', data[off:off + 16])
        fr = data[off + 16:off + 16 + incl]
        t = side.get(fr[12:14], b'')
        fr = fr[:12] + t + fr[12:]
        out.append(struct.pack('<IIII', ts, us, len(fr), orig + len(t)) + fr)
        off += 16 + incl
    with open(path, 'wb') as f:
        f.write(b''.join(out))


def measure(args, mode, cap, workdir, learn=False, extra=()):
    """learn: a --pcap capture, tr_bench learns its peers (its pass runs outside tr_worker_main)."""
    out = os.path.join(workdir, 'cg-%s.out' % mode)
    # One profile per thread: the worker lcore's thread is the one whose
    # profile holds tr_worker_main (collection is global across threads, so
    # a --toggle-collect would also count the control lcore's spinning).
    cmd = ['valgrind', '--tool=callgrind', '--callgrind-out-file=' + out,
           '--separate-threads=yes',
           os.path.join(args.build_dir, 'perf', 'tr_bench'), '-l', '0,1', '--no-pci',
           '--no-huge', '-m', '512', '--no-shconf', '--log-level=lib.*:warning',
           '--', '--pcap', cap] + (['--peers', str(args.peers), '--seed', '1', '--servers', '16']
                                   if not learn else []) + [
           '--duration', str(args.duration), '--warmup', '0.2', '--label', mode] + list(extra)
    if args.vlan:
        cmd += ['--teredo-vlan', args.vlan[0], '--native-vlan', args.vlan[1]]
    r = sh(cmd, timeout=900)
    res = None
    for line in r.stdout.splitlines():
        if line.startswith('RESULT '):
            # under valgrind a rate can print as inf/nan: not JSON, not needed here
            res = json.loads(re.sub(r'(-?nan|-?inf)\b', 'null', line[7:]))
    if res is None or not res.get('worker_rx_total'):
        sys.exit('callgrind.py: tr_bench under valgrind failed:\n' + r.stderr[-3000:])
    pkts = res['worker_rx_total']
    costs, worker_file = {}, None
    for fn in sorted(os.listdir(workdir)):
        if fn.startswith(os.path.basename(out) + '-'):
            c = inclusive_costs(os.path.join(workdir, fn))
            if c.get('tr_worker_main', 0) > costs.get('tr_worker_main', 0):
                costs, worker_file = c, os.path.join(workdir, fn)
    total = costs.get('tr_worker_main', 0)
    rec = {'mode': mode, 'peers': res.get('peers', args.peers), 'packets': pkts,
           'instructions_per_pkt': round(total / pkts, 1), 'stages': {}}
    known = 0
    for name, fns in STAGES:
        v = sum(costs.get(f, 0) for f in fns)
        rec['stages'][name] = round(v / pkts, 1)
        known += v
    burst = costs.get('tr_worker_burst', 0)
    # rx = the loop minus the burst handling and the flushes outside it.
    rec['stages']['rx_and_loop'] = round((total - burst - costs.get('tr_tx_flush_all', 0)) / pkts, 1)
    rec['stages']['decide_and_counters'] = round(
        (burst - sum(costs.get(f, 0) for f in ['tr_classify', 'tr_classify_hw', 'tr_peer_lookup_bulk',
                                                'tr_encap_mbuf', 'tr_decap_mbuf', 'tr_ipv6_dec_hop',
                                                'tr_tx_flush'])) / pkts, 1)
    # the server role's step (lib/server/step.c) and its parts, when it ran
    for name, fns in (('server_step', ['tr_server_step']), ('server_classify', ['tr_server_classify']),
                      ('ra_write', ['tr_ra_write']), ('server_udp4', ['tr_server_write_udp4'])):
        v = sum(costs.get(f, 0) for f in fns)
        if v:
            rec['stages'][name] = round(v / pkts, 1)
    if args.keep:
        # for callgrind_annotate --auto=yes: the worker thread's profile
        os.makedirs(args.out_dir, exist_ok=True)
        shutil.copy(worker_file, os.path.join(args.out_dir, 'callgrind-%s.out' % mode))
    files, fns, pmd = exclusive_by_file(worker_file)
    # libc / ld.so work the PMD called (its TLS reads) is the PMD's too
    helper = pmd_helper_cost(worker_file)
    pmd += helper
    rec['pmd_helpers_per_pkt'] = round(helper / pkts, 1)
    rec['pmd_per_pkt'] = round(pmd / pkts, 1)
    rec['terelay_per_pkt'] = round((total - pmd) / pkts, 1)
    rec['by_source_file'] = {f: round(c / pkts, 1) for f, c in
                             sorted(files.items(), key=lambda kv: -kv[1]) if c / pkts >= 1.0}
    rec['by_function'] = {f: round(c / pkts, 1) for f, c in
                          sorted(fns.items(), key=lambda kv: -kv[1]) if c / pkts >= 1.0}
    top = sorted(((c, f) for f, c in costs.items() if c < total), reverse=True)[:12]
    rec['top_inclusive'] = [{'function': f, 'instructions_per_pkt': round(c / pkts, 1)} for c, f in top]
    return rec


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--build-dir', default=os.path.join(REPO, 'build'))
    ap.add_argument('--peers', type=int, default=1000)
    ap.add_argument('--duration', type=float, default=2.0, help='seconds under valgrind (~50x slower)')
    ap.add_argument('--out-dir', default=None)
    ap.add_argument('--gen', default=None, help='tr_gen to use (default: the build directory\'s)')
    ap.add_argument('--pcap', action='append', default=None, metavar='FILE',
                    help='measure these captures instead (peers learned by tr_bench); '
                         'default --out-dir perf/results/pcap')
    ap.add_argument('--vlan', default=None, metavar='T,N',
                    help='tagged sides, e.g. 100,200 (802.1Q) or 10:11,20:21 (QinQ 0x88a8 '
                         'outer:inner): the captures are tagged to match')
    ap.add_argument('--keep', action='store_true',
                    help='keep the worker thread\'s profile per mode in --out-dir (callgrind-MODE.out)')
    ap.add_argument('--server', nargs='?', const='203.0.113.120', default=None, metavar='P',
                    help='the server role: RS -> RA and bubble forwarding captures (server_capture.py)')
    args = ap.parse_args()
    args.out_dir = args.out_dir or os.path.join(REPO, 'perf', 'results', *(['pcap'] if args.pcap else []))
    if args.vlan:
        args.vlan = args.vlan.split(',')
    args.gen = args.gen or os.path.join(args.build_dir, 'perf', 'tr_gen')
    for tool in ('valgrind', 'callgrind_annotate'):
        if sh(['which', tool]).returncode != 0:
            sys.exit('callgrind.py: %s not found (apt-get install valgrind)' % tool)
    recs = []
    with tempfile.TemporaryDirectory(prefix='trcg-') as wd:
        for cap in args.pcap or []:
            rec = measure(args, os.path.basename(cap), os.path.abspath(cap), wd, learn=True)
            print('%s (%d peers learned): %.1f instructions/packet  %s' % (
                rec['mode'], rec['peers'], rec['instructions_per_pkt'],
                ' '.join('%s %.1f' % kv for kv in rec['stages'].items())), flush=True)
            recs.append(rec)
        for kind in (('rs', 'bubble') if args.server else ()):
            cap = os.path.join(wd, 'srv-%s.pcap' % kind)
            g = sh([sys.executable, os.path.join(REPO, 'perf', 'gen', 'server_capture.py'), '--kind', kind,
                    '--server', args.server, '--clients', '4096', '--packets', '16384', '--out', cap])
            if g.returncode != 0:
                sys.exit('callgrind.py: server_capture.py failed: ' + g.stderr)
            rec = measure(args, 'server-' + kind, cap, wd, learn=True, extra=['--server', args.server])
            print('%s: %.1f instructions/packet  %s' % (
                rec['mode'], rec['instructions_per_pkt'],
                ' '.join('%s %.1f' % kv for kv in rec['stages'].items())), flush=True)
            recs.append(rec)
        for mode, mix in (MODES.items() if not args.pcap and not args.server else ()):
            cap = os.path.join(wd, 'cap-%s.pcap' % mode)
            g = sh([args.gen, '--out', cap, '--clients',
                    str(args.peers), '--servers', '16', '--hosts', '256', '--packets', '16384',
                    '--seed', '1', '--mix', mix, '--size', '104'])
            if g.returncode != 0:
                sys.exit('callgrind.py: tr_gen failed: ' + g.stderr)
            if args.vlan:
                tag_pcap(cap, args.vlan)
            rec = measure(args, mode, cap, wd)
            print('%s %d peers: %.1f instructions/packet (terelay %.1f, PMD %.1f)  %s' % (
                mode, args.peers, rec['instructions_per_pkt'], rec['terelay_per_pkt'],
                rec['pmd_per_pkt'], ' '.join('%s %.1f' % kv for kv in rec['stages'].items())),
                flush=True)
            recs.append(rec)
    os.makedirs(args.out_dir, exist_ok=True)
    base = 'callgrind-server' if args.server else 'callgrind'
    with open(os.path.join(args.out_dir, base + '.json'), 'w') as f:
        json.dump(recs, f, indent=1)
    with open(os.path.join(args.out_dir, base + '.md'), 'w') as f:
        f.write('Instructions per packet of the worker loop (tr_worker_main), by source file '
                '(inlined code counted where it was written) or shared object:\n\n')
        names = []
        for r in recs:
            for n in r['by_source_file']:
                if n not in names:
                    names.append(n)
        f.write('| source | ' + ' | '.join(r['mode'] if args.server else '%s %d peers' % (r['mode'], r['peers'])
                                          for r in recs) + ' |\n')
        f.write('|---|' + '---:|' * len(recs) + '\n')
        f.write('| **total** | ' + ' | '.join('**%.0f**' % r['instructions_per_pkt'] for r in recs) + ' |\n')
        f.write('| terelay (all but the PMD) | ' + ' | '.join('%.0f' % r['terelay_per_pkt'] for r in recs) + ' |\n')
        f.write('| PMD (%s*) | ' % PMD_PREFIX + ' | '.join('%.0f' % r['pmd_per_pkt'] for r in recs) + ' |\n')
        for n in names:
            f.write('| %s | ' % n + ' | '.join('%.0f' % r['by_source_file'].get(n, 0) for r in recs) + ' |\n')
        f.write('\nBy function (exclusive, file:function), at least 2 per packet:\n\n')
        fnames = []
        for r in recs:
            for n, v in r['by_function'].items():
                if v >= 2.0 and n not in fnames:
                    fnames.append(n)
        f.write('| function | ' + ' | '.join('%s %d peers' % (r['mode'], r['peers']) for r in recs) + ' |\n')
        f.write('|---|' + '---:|' * len(recs) + '\n')
        for n in fnames:
            f.write('| `%s` | ' % n + ' | '.join('%.0f' % r['by_function'].get(n, 0) for r in recs) + ' |\n')
        if args.server:
            f.write('\nInclusive instructions per packet of the named functions (stages):\n\n')
            for r in recs:
                f.write('- %s (%d frames): %s\n' % (r['mode'], r['packets'], ', '.join(
                    '%s %.1f' % kv for kv in r['stages'].items())))
    return 0


if __name__ == '__main__':
    sys.exit(main())
