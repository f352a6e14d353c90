#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Deployment tests (issue 8): drivers-cfg profiles, --check-config on every
profile a virtual device can stand in for, profile errors, multi-queue RSS.

  test_deploy.py --terelay T --profile-check P --profiles DIR [--feeder F] --case NAME

(--feeder: tests/deploy/mq_feeder, for the case multiqueue only.)
"""
import argparse
import collections
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile

EAL = ["--no-huge", "--no-shconf", "-m", "512", "--no-pci", "--log-level=lib.eal:error"]
# Two vCPUs: three lcores, the two workers share cpu 1 (the EAL allows it).
LCORES_2W = ["--lcores", "0@0,1@1,2@1"]
LCORES_1W = ["--lcores", "0@0,1@1"]
NS = "trdep%d" % os.getpid()

A = None   # parsed arguments


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def ini(teredo="0", native=None, profile="", extra=""):
    return ("[relay]\nipv4 = 198.51.100.1\nipv6 = 2001:db8:ffff::1\nserved = 2001:db8::/32\n"
            "[ports]\nteredo = %s\nnative = %s\nmbufs = 4096\nprofile = \"%s\"\n%s"
            % (teredo, native or teredo, profile, extra))


def terelay(args, cfg_text, tmp, netns=None, prefix="dep", timeout=60):
    cfg = os.path.join(tmp, "relay.ini")
    with open(cfg, "w") as f:
        f.write(cfg_text)
    cmd = [A.terelay] + EAL + ["--file-prefix", "%s%d" % (prefix, os.getpid())] + args + \
          ["--", "-c", cfg, "--check-config"]
    if netns:
        cmd = ["ip", "netns", "exec", netns] + cmd
    env = dict(os.environ, TERELAY_PROFILE_DIR=A.profiles)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout, env=env)
    out, err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
    print("$ " + " ".join(cmd))
    print(out + err)
    return p.returncode, out, err


def expect_ok(rc, out, err, profile):
    check(rc == 0, "exit %d, expected 0" % rc)
    check("check-config: ok" in out, "no 'check-config: ok'")
    if profile:
        check(re.search(r"^profile: %s \(" % re.escape(profile), out, re.M), "profile not reported")
    check(re.search(r"^  lcore \d+: worker 1, rx queue 1, cpu \d+, socket 0, node 0$", out, re.M),
          "second worker / its NUMA node not reported")
    check(", 0 worker(s) off their port's socket" in out, "NUMA placement not reported")


# ------------------------------------------------------------------ schema

def case_schema():
    """Every profile parses; each names every key the loader knows (no key left to a default);
    each has the source comment line."""
    keys = subprocess.run([A.profile_check, "--keys"], stdout=subprocess.PIPE, check=True)
    schema = [l.split()[0] for l in keys.stdout.decode().splitlines()]
    check(len(schema) >= 15, "schema too small: %r" % schema)
    want = ["mlx5", "ice", "i40e", "ixgbe", "virtio", "vmxnet3", "af_xdp", "af_packet", "tap", "pcap", "null",
            "memif", "bonding"]
    files = sorted(f for f in os.listdir(A.profiles) if f.endswith(".ini"))
    check(sorted(w + ".ini" for w in want) == files, "profiles %r, expected %r" % (files, want))
    for f in files:
        path = os.path.join(A.profiles, f)
        p = subprocess.run([A.profile_check, path], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        check(p.returncode == 0, "%s: %s" % (f, p.stderr.decode()))
        text = open(path).read()
        check(text.startswith("; SPDX-License-Identifier: BSD-3-Clause"), "%s: no SPDX line" % f)
        check(re.search(r"^; Source: DPDK 22\.11 ", text, re.M), "%s: no '; Source: DPDK 22.11' line" % f)
        sec, seen = None, set()
        for line in text.splitlines():
            line = re.split(r"[;#]", line)[0].strip()
            if line.startswith("["):
                sec = line.strip("[]").strip()
            elif "=" in line:
                seen.add("%s.%s" % (sec, line.split("=")[0].strip()))
        missing = [k for k in schema if k not in seen]
        check(not missing, "%s does not set %s" % (f, ", ".join(missing)))
        print("%s: ok (%s)" % (f, p.stdout.decode().splitlines()[0]))


# ------------------------------------------------------------------ bad profiles

BAD = [
    # (text, line, message part)
    ("[profile]\ndriver = x\nsource = y\n[rss]\nenabled = true\nipv4 = addresses\nhash = toeplitz\n",
     7, "unknown key 'hash' in [rss]"),
    ("[profile]\ndriver = x\nsource = y\n[queue]\n", 4, "unknown section [queue]"),
    ("[profile]\ndriver = x\nsource = y\n[offloads]\nrx_ptype = maybe\n", 5,
     "[offloads] rx_ptype = maybe: must be true/false"),
    ("[profile]\ndriver = x\nsource = y\n[queues]\nrx_desc = 8\n", 5,
     "[queues] rx_desc = 8: must be a decimal integer between 16 and 32768"),
    ("[profile]\ndriver = x\nsource = y\n[rss]\nenabled = true\nipv6 = addresses, udp_ports\n", 6,
     "udp_ports is for the IPv4 side only"),
    ("[profile]\nsource = y\n", 0, "[profile] driver is required"),
    ("[profile]\ndriver = x\nsource = y\ndriver = z\n", 4, "duplicate key 'driver'"),
    ("driver = x\n", 1, "key 'driver' outside any section"),
    ("[profile]\ndriver = x\nsource = y\n[rss]\nenabled = true\n", 5, "neither ipv4 nor ipv6"),
]


def case_bad_profiles():
    """Each broken profile stops terelay before the EAL with exit 2 and one 'file:line: problem'."""
    tmp = tempfile.mkdtemp(prefix="trdep-bad-")
    try:
        for i, (text, line, msg) in enumerate(BAD):
            pdir = os.path.join(tmp, "p%d" % i)
            os.mkdir(pdir)
            with open(os.path.join(pdir, "bad.ini"), "w") as f:
                f.write(text)
            rc, out, err = terelay(["-l", "0"], ini(profile=pdir + "/bad.ini"), tmp)
            check(rc == 2, "case %d: exit %d, expected 2" % (i, rc))
            want = "%s/bad.ini:%d: " % (pdir, line)
            first = err.strip().splitlines()[0] if err.strip() else ""
            check(first.startswith(want) and msg in first,
                  "case %d: stderr %r, expected '%s...%s'" % (i, first, want, msg))
        # unknown profile name: the config file is named, line 0
        rc, out, err = terelay(["-l", "0"], ini(profile="nosuchnic"), tmp)
        check(rc == 2 and re.match(r"^%s/relay.ini:0: \[ports\] profile = nosuchnic: no nosuchnic.ini" %
                                   re.escape(tmp), err), "unknown profile: %d %r" % (rc, err))
    finally:
        shutil.rmtree(tmp)


# ------------------------------------------------------------------ virtual devices

def empty_pcap(path):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))


def case_check_null():
    tmp = tempfile.mkdtemp(prefix="trdep-null-")
    try:
        rc, out, err = terelay(LCORES_2W + ["--vdev", "net_null0"], ini("net_null0", profile="null"), tmp)
        expect_ok(rc, out, err, "null")
        check("rss: 0x124 applied of 0x124 wanted" in out, "null: RSS on addresses + UDP ports not applied")
        # without a profile: the built-in defaults, as before profiles existed
        rc, out, err = terelay(LCORES_2W + ["--vdev", "net_null0"], ini("net_null0"), tmp)
        expect_ok(rc, out, err, None)
        check("profile: none (built-in defaults" in out, "no-profile run not reported")
    finally:
        shutil.rmtree(tmp)


def case_check_pcap():
    tmp = tempfile.mkdtemp(prefix="trdep-pcap-")
    try:
        e = os.path.join(tmp, "e.pcap")
        empty_pcap(e)
        vdev = "net_pcap0,rx_pcap=%s,rx_pcap=%s,tx_pcap=%s/o0.pcap,tx_pcap=%s/o1.pcap,tx_pcap=%s/o2.pcap" % (
            e, e, tmp, tmp, tmp)
        rc, out, err = terelay(LCORES_2W + ["--vdev", vdev], ini("net_pcap0", profile="pcap"), tmp)
        expect_ok(rc, out, err, "pcap")
        check("2 rx queues without RSS (profile pcap)" in out, "pcap: missing no-RSS fallback line")
        # one worker too many for the device: a clear message, exit 2
        vdev1 = "net_pcap0,rx_pcap=%s,tx_pcap=%s/o0.pcap,tx_pcap=%s/o1.pcap" % (e, tmp, tmp)
        rc, out, err = terelay(LCORES_2W + ["--vdev", vdev1], ini("net_pcap0", profile="pcap"), tmp)
        check(rc == 2 and "needs 2 rx / 3 tx queues" in err and "device has 1 / 2" in err,
              "too few queues: %d %r" % (rc, err))
    finally:
        shutil.rmtree(tmp)


def sh(cmd):
    subprocess.run(cmd, shell=True, check=True)


def netns_up():
    sh("ip netns add %s" % NS)
    sh("ip -n %s link set lo up" % NS)


def netns_down():
    subprocess.run("ip netns del %s" % NS, shell=True)


def case_check_af_packet():
    """af_packet on a veth pair inside a namespace, qpairs=2 (kernel fanout, no RSS)."""
    tmp = tempfile.mkdtemp(prefix="trdep-afp-")
    netns_up()
    try:
        sh("ip -n %s link add dv0 type veth peer name dv1" % NS)
        sh("ip -n %s link set dv0 up && ip -n %s link set dv1 up" % (NS, NS))
        rc, out, err = terelay(LCORES_2W + ["--vdev", "net_af_packet0,iface=dv0,qpairs=3"],
                               ini("net_af_packet0", profile="af_packet"), tmp, netns=NS)
        expect_ok(rc, out, err, "af_packet")
        check("driver net_af_packet" in out, "not the af_packet driver")
        check("3 rx queues without RSS (profile af_packet)" in out, "af_packet: no-RSS fallback not logged")
    finally:
        netns_down()
        shutil.rmtree(tmp)


def case_check_bonding():
    """net_bonding (mode 4) over two af_packet veths (qpairs=3), profile bonding: the bond's rx
    queues follow its members (3, as af_packet's fanout fills every qpair), the bond line names
    mode, members and the LACPDU keep-alive; a member refusing all-multicast makes it promiscuous."""
    tmp = tempfile.mkdtemp(prefix="trdep-bond-")
    netns_up()
    try:
        for i in (0, 1):
            sh("ip -n %s link add db%d type veth peer name dc%d" % (NS, i, i))
            sh("ip -n %s link set db%d up && ip -n %s link set dc%d up" % (NS, i, NS, i))
        rc, out, err = terelay(LCORES_2W + ["--vdev", "net_af_packet0,iface=db0,qpairs=3",
                                            "--vdev", "net_af_packet1,iface=db1,qpairs=3",
                                            "--vdev", "net_bonding0,mode=4,slave=net_af_packet0,"
                                                      "slave=net_af_packet1"],
                               ini("net_bonding0", profile="bonding"), tmp, netns=NS)
        expect_ok(rc, out, err, "bonding")
        check("port 2 (net_bonding0, driver net_bonding): teredo + native" in out, "bond port not reported")
        check(re.search(r"^  queues: 3 rx \(device max \d+\), 3 tx", out, re.M),
              "bond over qpairs=3 members: expected 3 rx queues:\n%s" % out)
        check("  bond: mode 4 (802.3ad), members net_af_packet0,net_af_packet1, active " in out and
              "LACPDUs kept flowing by the control lcore (an empty tx burst every 10 ms)" in out,
              "bond line missing:\n%s" % out)
        check("all-multicast refused by a member: promiscuous instead" in err + out,
              "no promiscuous fallback line")
    finally:
        netns_down()
        shutil.rmtree(tmp)


def case_check_tap():
    """tap inside a namespace. net_tap wants as many rx as tx queues, and terelay needs one tx queue
    per worker plus one for control: it configures as many rx queues as tx queues and the workers
    poll all of them round robin, so no queue goes unread."""
    tmp = tempfile.mkdtemp(prefix="trdep-tap-")
    netns_up()
    try:
        rc, out, err = terelay(LCORES_2W + ["--vdev", "net_tap0,iface=dtap0"],
                               ini("net_tap0", profile="tap"), tmp, netns=NS)
        expect_ok(rc, out, err, "tap")
        check("queues: 3 rx (device max 16), 3 tx" in out,
              "tap, 2 workers: expected 3 rx queues (= tx queues):\n%s%s" % (out, err))
        check("driver tap; source: DPDK 22.11" in out, "tap profile not loaded")
        # checksum offloads both ways: the tap PMD computes them (tests/unit tx_offload and
        # test_classify hw_verified_cksums check what terelay does with them)
        m = re.search(r"offloads: rx 0x[0-9a-f]+ \(([^)]*)\), tx 0x[0-9a-f]+ \(([^)]*)\)", out)
        check(m is not None, "tap: no offloads line:\n%s" % out)
        check({"IPV4_CKSUM", "UDP_CKSUM"} <= set(m.group(1).split()), "tap: rx offloads %r" % m.group(1))
        check({"IPV4_CKSUM", "UDP_CKSUM"} <= set(m.group(2).split()), "tap: tx offloads %r" % m.group(2))
    finally:
        netns_down()
        shutil.rmtree(tmp)


def case_check_errors():
    """Layout and port errors exit 2 with a clear message."""
    tmp = tempfile.mkdtemp(prefix="trdep-err-")
    try:
        rc, out, err = terelay(["-l", "0", "--vdev", "net_null0"], ini("net_null0", profile="null"), tmp)
        check(rc == 2 and "needs at least one worker lcore" in err, "no worker: %d %r" % (rc, err))
        rc, out, err = terelay(LCORES_1W + ["--vdev", "net_null0"], ini("net_null9", profile="null"), tmp)
        check(rc == 2 and re.search(r"relay.ini:0: \[ports\] teredo = net_null9: no such port", err),
              "no such port: %d %r" % (rc, err))
        # a profile written for another driver: works, with the fallback named
        rc, out, err = terelay(LCORES_1W + ["--vdev", "net_null0"], ini("net_null0", profile="mlx5"), tmp)
        check(rc == 0 and "profile mlx5 is written for driver 'mlx5'" in out, "foreign profile: %d" % rc)
        check("flow rule teredo_to_workers/0 not supported" in out, "mlx5 on null: flow fallback not logged")
    finally:
        shutil.rmtree(tmp)


# ------------------------------------------------------------------ multi-queue

RELAY_MAC = "02:70:63:61:70:00"   # given to terelay's net_memif port (mac=)


def teredo_addr(server, port, nat):
    import ipaddress
    a = (b"\x20\x01\x00\x00" + ipaddress.IPv4Address(server).packed + struct.pack("!HH", 0, port ^ 0xffff)
         + bytes(b ^ 0xff for b in ipaddress.IPv4Address(nat).packed))
    return str(ipaddress.IPv6Address(a))


def story(n_clients):
    """Three phases, one list of frames each. 1: a native host writes to every client (peer
    created, packet queued, indirect bubble). 2: every client answers (mapping proven: trusted,
    queue flushed). 3: data both ways, which the workers forward on their own."""
    from scapy.all import Ether, IP, UDP, IPv6, ICMPv6EchoRequest, ICMPv6EchoReply, Raw
    ph = [[], [], []]
    for c in range(n_clients):
        nat, port = "203.0.113.%d" % (c % 200 + 1), 40000 + c
        cli, host = teredo_addr("192.0.2.1", port, nat), "2001:db8:1::%x" % (c % 16 + 1)

        def v6(src, dst, k, req=True):
            icmp = ICMPv6EchoRequest(id=c, seq=k) if req else ICMPv6EchoReply(id=c, seq=k)
            return IPv6(src=src, dst=dst, hlim=64) / icmp / Raw(b"p" * 16)

        def from_client(k):
            return bytes(Ether(dst=RELAY_MAC, src="02:00:00:00:00:04") /
                         IP(src=nat, dst="198.51.100.1", id=k + 1) / UDP(sport=port, dport=3544) /
                         v6(cli, host, k))

        def from_host(k):
            return bytes(Ether(dst=RELAY_MAC, src="02:00:00:00:00:06") / v6(host, cli, k, req=False))
        ph[0].append(from_host(0))
        ph[1].append(from_client(1))
        for k in range(2, 4):
            ph[2].append(from_client(k))
            ph[2].append(from_host(k))
    return ph


# Toeplitz with the well-known 40-byte default key: what a NIC's RSS does with the
# RSS profiles' fields (IPv4: addresses + UDP ports, IPv6: addresses), to split the input.
# mq_feeder.c spreads the frames with rte_softrss() and the same key: the case checks both.
RSS_KEY = bytes([0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f,
                 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30,
                 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa])


def toeplitz(data):
    key = int.from_bytes(RSS_KEY, "big")
    klen = len(RSS_KEY) * 8
    h = 0
    for i, byte in enumerate(data):
        for b in range(8):
            if byte & (0x80 >> b):
                h ^= (key >> (klen - 32 - (i * 8 + b))) & 0xffffffff
    return h


def rss_queue(fr, n):
    """The queue of n a NIC with RSS on those fields picks (hash modulo n: the default
    redirection table); the ports only for unfragmented UDP; not IP: queue 0."""
    if fr[12:14] == b"\x86\xdd":
        return toeplitz(fr[22:54]) % n
    if fr[12:14] != b"\x08\x00":
        return 0
    ip = fr[14:]
    ihl = (ip[0] & 0xf) * 4
    frag = struct.unpack("!H", ip[6:8])[0] & 0x3fff
    ports = ip[ihl:ihl + 4] if ip[9] == 17 and not frag else b""
    return toeplitz(ip[12:20] + ports) % n


def read_until(proc, word, log):
    """Lines of proc's stdout up to the one starting with word (kept in log); '' at EOF."""
    while True:
        line = proc.stdout.readline().decode(errors="replace")
        if not line:
            return ""
        log.append(line)
        if line.startswith(word):
            return line


def run_live(phase_files, tmp, label, n_workers):
    """terelay, memif client with one rx queue per worker and one tx queue per lcore, against
    mq_feeder, the memif server: it sends each phase split by RSS over terelay's rx queues,
    1 s apart, and writes what terelay's tx queue q sent to <label>-outq.pcap."""
    from scapy.all import rdpcap
    sock = os.path.join(tmp, "%s.sock" % label)
    outp = os.path.join(tmp, "%s-out" % label)
    fcmd = [A.feeder] + EAL + ["--file-prefix", "depmqf%s%d" % (label, os.getpid()),
                               "--lcores", "0@(0,1)", "--vdev", "net_memif0,role=server,id=0,socket=" + sock,
                               "--", "--rxq", str(n_workers + 1), "--txq", str(n_workers), "--out", outp,
                               "--start-ms", "500", "--pause-ms", "1000", "--max-ms", "30000"] + phase_files
    cfg = os.path.join(tmp, "%s.ini" % label)
    with open(cfg, "w") as f:
        f.write(ini("net_memif0", profile="memif", extra=(
            "[nexthop]\nipv4_gateway_mac = 02:00:00:00:00:04\nipv6_gateway_mac = 02:00:00:00:00:06\n"
            "[bubbles]\nnonce_trailer = false\n[telemetry]\nsummary_interval = 0\n")))
    stats = os.path.join(tmp, "%s.json" % label)
    lcores = "0@0," + ",".join("%d@1" % (w + 1) for w in range(n_workers))
    cmd = [A.terelay] + EAL + [
        "--file-prefix", "depmq%s%d" % (label, os.getpid()), "--lcores", lcores,
        "--vdev", "net_memif0,role=client,id=0,socket=%s,mac=%s" % (sock, RELAY_MAC),
        "--", "-c", cfg, "--stats-json", stats]
    env = dict(os.environ, TERELAY_PROFILE_DIR=A.profiles)
    flog, p = [], None
    print("$ " + " ".join(fcmd))
    fd = subprocess.Popen(fcmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        check(read_until(fd, "listening", flog), "%s: feeder did not start" % label)
        print("$ " + " ".join(cmd))
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
        check(read_until(fd, "done", flog), "%s: feeder stopped before the end" % label)
    finally:
        if p is not None:
            p.send_signal(signal.SIGINT)
            out, _ = p.communicate(timeout=30)
            print(out.decode(errors="replace"))
        try:                                   # the feeder ends when terelay disconnects
            rest, _ = fd.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            fd.send_signal(signal.SIGINT)
            rest, _ = fd.communicate(timeout=10)
        flog.append(rest.decode(errors="replace"))
        print("".join(flog))
    check(p.returncode == 0, "%s: terelay exited %d" % (label, p.returncode))
    check(fd.returncode == 0, "%s: feeder exited %d" % (label, fd.returncode))
    text = "".join(flog)
    key = re.search(r"^key ([0-9a-f]+)$", text, re.M)
    check(key and key.group(1) == RSS_KEY.hex(), "%s: feeder's RSS key %s is not RSS_KEY"
          % (label, key.group(1) if key else None))
    queued = [[int(x) for x in m.split()] for m in re.findall(r"^phase \d+: queued ([\d ]+)$", text, re.M)]
    received = [int(x) for x in re.search(r"^received ([\d ]+)$", text, re.M).group(1).split()]
    import json
    st = json.load(open(stats))
    per_q = [[bytes(x) for x in rdpcap("%s%d.pcap" % (outp, q))] for q in range(n_workers + 1)]
    check([len(x) for x in per_q] == received, "%s: captures hold %r frames, feeder counted %r"
          % (label, [len(x) for x in per_q], received))
    return st, per_q, queued


def normalize(fr):
    """IPv4 ID and header checksum zeroed (per-lcore ID counters); the keyed bubble source IID too."""
    fr = bytearray(fr)
    if fr[12:14] == b"\x08\x00":
        fr[18:20] = b"\0\0"
        fr[24:26] = b"\0\0"
        if len(fr) == 14 + 28 + 40 and fr[14 + 28 + 6] == 59:     # bubble: IPv6, no next header
            fr[14 + 28 + 16:14 + 28 + 24] = b"\0" * 8
            fr[14 + 26:14 + 28] = b"\0\0"                          # its UDP checksum
    return bytes(fr)


def case_multiqueue():
    """2 workers on 2 rx queues (input split by Toeplitz RSS on the RSS profiles' fields) forward the
    same frames as 1 worker on 1 queue, and each worker forwards what its own queue brought.
    The device is a multi-queue net_memif port whose peer, mq_feeder, plays the NIC: lossless
    (memif rings, retried bursts), so every frame must arrive; a loss is a failure."""
    from scapy.all import wrpcap, Ether
    check(A.feeder, "multiqueue needs --feeder (mq_feeder)")
    ph = story(48)
    tmp = tempfile.mkdtemp(prefix="trdep-mq-")
    try:
        files = []
        for i, frames in enumerate(ph):
            files.append(os.path.join(tmp, "ph%d.pcap" % i))
            wrpcap(files[-1], [Ether(x) for x in frames])
        split = [[[rss_queue(f, n) for f in frames].count(q) for q in range(n)] for n in (1, 2)
                 for frames in ph]
        split3 = [rss_queue(f, 2) for f in ph[2]]
        check(split3.count(0) > 20 and split3.count(1) > 20, "harness: RSS split %d/%d"
              % (split3.count(0), split3.count(1)))
        n_in = sum(len(p) for p in ph)
        st1, q1, queued1 = run_live(files, tmp, "w1", 1)
        st2, q2, queued2 = run_live(files, tmp, "w2", 2)
        # the feeder's rte_softrss split is the one computed here
        check(queued1 + queued2 == split, "feeder split %r, expected %r" % (queued1 + queued2, split))
        for st, label in ((st1, "1 worker"), (st2, "2 workers")):
            check(st["rx_packets"] == n_in, "%s: rx %d of %d" % (label, st["rx_packets"], n_in))
            check(st.get("accounting_ok") is True, "%s: accounting not ok" % label)
            check(st.get("drops_total") == 0, "%s: %s drops" % (label, st.get("drops_total")))
        for k in ("rx_packets", "tx_packets", "decapsulated", "encapsulated", "peers_trusted",
                  "bubbles_sent", "drops_total"):
            check(st1.get(k) == st2.get(k), "%s: %s with 1 worker, %s with 2" % (k, st1.get(k), st2.get(k)))
        for q, st, label in ((q1, st1, "1 worker"), (q2, st2, "2 workers")):
            check(sum(len(x) for x in q) == st["tx_packets"], "%s: %d frames captured, tx_packets %d"
                  % (label, sum(len(x) for x in q), st["tx_packets"]))
        all1 = collections.Counter(normalize(f) for q in q1 for f in q)
        all2 = collections.Counter(normalize(f) for q in q2 for f in q)
        check(sum(all1.values()) >= 3 * 48, "1 worker sent only %d frames" % sum(all1.values()))
        check(all1 == all2, "output differs: %d frames only with 1 worker, %d only with 2"
              % (sum((all1 - all2).values()), sum((all2 - all1).values())))
        # phase 3 is the workers' own: worker w sends on tx queue w what rx queue w brought
        check(len(q1[0]) == len(split3), "1 worker forwarded %d of %d phase-3 frames" % (len(q1[0]), len(split3)))
        for w in range(2):
            check(len(q2[w]) == split3.count(w), "worker %d forwarded %d, its queue had %d phase-3 frames"
                  % (w, len(q2[w]), split3.count(w)))
        print("multiqueue: %d frames in (phases %s); phase 3 split %d/%d by RSS and forwarded %d/%d by "
              "the two workers; control sent %d (1 worker: %d); output identical to 1 worker"
              % (n_in, "/".join(str(len(p)) for p in ph), split3.count(0), split3.count(1),
                 len(q2[0]), len(q2[1]), len(q2[2]), len(q1[1])))
    finally:
        shutil.rmtree(tmp)


# ------------------------------------------------------------------ install

def case_install():
    """meson install --destdir puts binary, man page, systemd unit (with the installed paths),
    sample configuration, every NIC profile and the operator documents in place; the man page
    is clean roff and documents every option the binary's --help lists; the installed binary
    runs --check-config with the installed sample configuration and profile."""
    tmp = tempfile.mkdtemp(prefix="trdep-inst-")
    try:
        dest = os.path.join(tmp, "root")
        r = subprocess.run(["meson", "install", "-C", A.build_root, "--no-rebuild", "--quiet",
                            "--destdir", dest], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True)
        check(r.returncode == 0, "meson install failed:\n%s" % r.stdout[-2000:])
        opts = {o["name"]: o["value"] for o in json.load(open(os.path.join(
            A.build_root, "meson-info", "intro-buildoptions.json")))}
        root = dest + opts["prefix"]
        etc = os.path.join(root, opts["sysconfdir"]) if not opts["sysconfdir"].startswith("/") \
            else dest + opts["sysconfdir"]
        share = os.path.join(root, opts["datadir"])
        want = {
            "binary": os.path.join(root, opts["bindir"], "terelay"),
            "man page": os.path.join(root, opts["mandir"], "man8", "terelay.8"),
            "systemd unit": os.path.join(root, "lib", "systemd", "system", "terelay.service"),
            "sample configuration": os.path.join(etc, "terelay", "terelay.ini.sample"),
            "deploy.md": os.path.join(share, "doc", "terelay", "deploy.md"),
        }
        for what, path in want.items():
            check(os.path.isfile(path), "%s not installed at %s" % (what, path))
        check(os.access(want["binary"], os.X_OK), "installed binary not executable")
        profiles = sorted(f for f in os.listdir(A.profiles) if f.endswith(".ini"))
        inst_prof = os.path.join(share, "terelay", "drivers-cfg")
        check(sorted(os.listdir(inst_prof)) == profiles, "installed profiles %s != %s"
              % (sorted(os.listdir(inst_prof)), profiles))
        unit = open(want["systemd unit"]).read()
        check("@" not in unit.replace("terelay@", ""), "unit keeps a template placeholder")
        bindir = os.path.join(opts["prefix"], opts["bindir"])
        check(re.search(r"^ExecStart=%s/terelay .* -c \S+/terelay/terelay.ini$" % re.escape(bindir),
                        unit, re.M), "unit ExecStart does not run the installed binary:\n%s" % unit)
        check("--check-config" in unit and "RestartPreventExitStatus=2" in unit, "unit pre-check")
        # man page: no roff warnings, every long option of --help documented
        g = subprocess.run(["groff", "-man", "-ww", "-z", want["man page"]],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        check(g.returncode == 0 and g.stdout.strip() == "", "groff warnings:\n%s" % g.stdout)
        man = subprocess.run(["groff", "-man", "-Tascii", "-P-cbou", want["man page"]],
                             stdout=subprocess.PIPE, text=True).stdout
        h = subprocess.run([want["binary"], "--", "--help"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        long_opts = sorted(set(re.findall(r"(--[a-z][a-z-]+)", h.stdout)))
        check(len(long_opts) >= 5, "--help lists only %s" % long_opts)
        missing = [o for o in long_opts if o not in man]
        check(not missing, "options in --help but not in terelay.8: %s" % missing)
        # the installed binary, the installed sample configuration and profile
        cfg = open(want["sample configuration"]).read().replace('profile = ""', 'profile = "null"')
        cfgp = os.path.join(tmp, "relay.ini")
        with open(cfgp, "w") as f:
            f.write(cfg)
        env = dict(os.environ, TERELAY_PROFILE_DIR=inst_prof)
        c = subprocess.run([want["binary"]] + EAL + ["--file-prefix", "depinst%d" % os.getpid()] +
                           LCORES_1W + ["--vdev", "net_null0", "--", "-c", cfgp, "--check-config"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                           timeout=60)
        check(c.returncode == 0 and "check-config: ok" in c.stdout,
              "installed binary + sample config: exit %d\n%s" % (c.returncode, c.stdout[-2000:]))
        check("profile: null (%s/null.ini)" % inst_prof in c.stdout, "installed profile not used")
        print("install: %d files under %s; %d profiles; %d options documented"
              % (sum(len(f) for _, _, f in os.walk(dest)), opts["prefix"], len(profiles), len(long_opts)))
    finally:
        shutil.rmtree(tmp)


CASES = collections.OrderedDict((n[5:], f) for n, f in sorted(globals().items()) if n.startswith("case_"))


def main():
    global A
    ap = argparse.ArgumentParser()
    ap.add_argument("--terelay", required=True)
    ap.add_argument("--profile-check", required=True)
    ap.add_argument("--profiles", required=True)
    ap.add_argument("--feeder", help="mq_feeder (case multiqueue)")
    ap.add_argument("--build-root", help="meson build directory (case install)")
    ap.add_argument("--case", required=True, choices=list(CASES))
    A = ap.parse_args()
    try:
        CASES[A.case]()
    except Fail as e:
        print("FAIL %s: %s" % (A.case, e))
        return 1
    print("PASS %s" % A.case)
    return 0


if __name__ == "__main__":
    sys.exit(main())
