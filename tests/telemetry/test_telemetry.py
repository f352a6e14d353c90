#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""
terelay telemetry end to end (issue 5): a relay in normal mode on net_pcap
virtual devices with traffic from a capture, then

  1. every /terelay/ telemetry command through the v2 socket, checked exactly
     against the traffic sent;
  2. the Prometheus /metrics endpoint: values, # HELP/# TYPE, 404 elsewhere,
     and `promtool check metrics`;
  3. a real Prometheus server (Debian's) scraping the relay every second,
     queried through its HTTP API;
  4. SIGTERM: exit 0, final summary and --stats-json with the same counters;
  5. dpdk-dumpcap attached to a second relay (shared config, hugepages:
     a secondary cannot attach to a --no-huge primary) capturing its
     indirect bubbles, checked with scapy.

Run: test_telemetry.py --terelay PATH [--keep]   (only /usr/bin/python3 has scapy)
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

import logging
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import (Ether, ICMPv6EchoReply, ICMPv6EchoRequest, IP, IPv6,  # noqa: E402
                       Raw, UDP, rdpcap, wrpcap)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))
import hugepages  # noqa: E402  (the project's one reserve-and-mount helper)
DROPS_DEF = os.path.join(HERE, "..", "..", "lib", "teredo", "drop_reasons.def")
COUNTERS_H = os.path.join(HERE, "..", "..", "lib", "relay", "counters.h")

# Fixture of tests/conformance (notes §6).
R4, RP, R6 = "198.51.100.1", 3545, "2001:db8:ffff::1"
H = "2001:db8::1"                                # native host
S = "203.0.113.120"                              # A's Teredo server
A = "2001:0:cb00:7178:0:efff:3fff:fdfe"          # client A, mapping 192.0.2.1:4096
A_V4, A_PORT = "192.0.2.1", 4096
GW4_MAC, GW6_MAC = "02:00:00:00:00:04", "02:00:00:00:00:06"
RELAY_MAC = "02:00:00:00:00:01"
NONCE_SRC = "fe80::a0b2:c3d4:e5f6:718"

CONFIG = """\
; terelay telemetry test
[relay]
ipv4 = 198.51.100.1
port = 3545
ipv6 = 2001:db8:ffff::1
served = 2001:db8::/32

[ports]
teredo = 0
native = 0
mbufs = 4096

[nexthop]
ipv4_gateway_mac = 02:00:00:00:00:04
ipv6_gateway_mac = 02:00:00:00:00:06

[peers]
capacity = 4096
pending_capacity = 64
negative_cache = 1024
idle_timeout = 3600
; The whole capture arrives in one rx burst: the worker looks every packet up
; before control has created A's entry, so A's bubble and data reach control
; (in order) only if unknown peers are handed over rather than dropped.
accept_unknown = true

[bubbles]
; indirect bubbles carry the RFC 6081 nonce trailer (6 bytes)
nonce_trailer = true
interval = {interval}
max = {bubble_max}

[telemetry]
summary_interval = 0
prometheus = 127.0.0.1:{port}
"""


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def eq(what, got, want):
    check(got == want, f"{what}: got {got!r}, want {want!r}")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def drop_names():
    names = []
    for line in open(DROPS_DEF):
        m = re.match(r'\s*TR_DROP\(\s*\w+\s*,\s*"([a-z0-9_]+)"', line)
        if m:
            names.append(m.group(1))
    return names


def counter_names():
    return re.findall(r'^\s*C\((\w+),', open(COUNTERS_H).read(), re.M)


# ------------------------------------------------------------------ traffic

def udp_csum_wrong(frame):
    """The same frame with a non-zero, wrong UDP checksum."""
    good = Ether(bytes(frame))[UDP].chksum
    f = Ether(bytes(frame))
    f[UDP].chksum = 1 if good != 1 else 2
    return f


def build_traffic():
    """Returns (frames, expected): what the relay receives and must count."""
    l2_native = Ether(src=GW6_MAC, dst=RELAY_MAC)
    l2_v4 = Ether(src=GW4_MAC, dst=RELAY_MAC)
    echo = IPv6(src=H, dst=A, hlim=64) / ICMPv6EchoRequest(id=0x1234, seq=1, data=b"abcdefgh")
    # Direct bubble from A's own mapping: IPv6 header only, next header 59.
    bubble6 = IPv6(src=A, dst=NONCE_SRC, nh=59, plen=0, hlim=64)
    reply = IPv6(src=A, dst=H, hlim=64) / ICMPv6EchoReply(id=0x1234, seq=1, data=b"abcdefgh")
    not_teredo = IPv6(src="2001:db8:5::1", dst=H, hlim=64) / ICMPv6EchoReply(data=b"x")

    def from_a(payload, sport=A_PORT, src=A_V4):
        return l2_v4 / IP(src=src, dst=R4, ttl=60) / UDP(sport=sport, dport=RP) / payload

    frames = [
        Ether(bytes(l2_native / echo)),                   # 1 queued, bubble sent
        Ether(bytes(from_a(Raw(bytes(bubble6))))),        # 2 trusts A, flushes 1
        Ether(bytes(from_a(reply))),                      # 3 decapsulated
        Ether(bytes(from_a(not_teredo, sport=5000, src="192.0.2.99"))),  # rx_src_not_teredo
        udp_csum_wrong(from_a(reply)),                    # rx_bad_udp_csum
        Ether(src=GW4_MAC, dst=RELAY_MAC, type=0x88b5) / Raw(b"\0" * 46),  # eth_unknown_type
    ]
    frames = [Ether(bytes(f)) for f in frames]
    bubble_out = 14 + 20 + 8 + 40 + 6          # + RFC 6081 nonce trailer
    encap_out = 14 + 20 + 8 + len(bytes(echo))
    decap_out = 14 + len(bytes(reply))
    exp = {
        "rx_packets": len(frames),
        "rx_bytes": sum(len(bytes(f)) for f in frames),
        "tx_packets": 3,
        "tx_bytes": bubble_out + encap_out + decap_out,
        "fwd_native": 1, "fwd_teredo": 1, "consumed": 1,
        "encapsulated": 1, "decapsulated": 1, "to_control": 3,
        "bubbles_sent": 1, "bubbles_received": 1,
        "peers_created": 1, "peers_trusted": 1,
        "queued": 1, "flushed": 1,
    }
    drops = {"rx_src_not_teredo": 1, "rx_bad_udp_csum": 1, "eth_unknown_type": 1}
    return frames, exp, drops


# ------------------------------------------------------------------ relay

class Relay:
    def __init__(self, exe, work, tag, frames, huge, interval=2000, bubble_max=4, stats_json=True):
        self.work = work
        self.prefix = f"tltest{os.getpid()}{tag}"
        self.port = free_port()
        self.conf = os.path.join(work, f"{tag}.ini")
        with open(self.conf, "w") as f:
            f.write(CONFIG.format(port=self.port, interval=interval, bubble_max=bubble_max))
        self.inp = os.path.join(work, f"{tag}-in.pcap")
        wrpcap(self.inp, frames)
        self.stats_json = os.path.join(work, f"{tag}-stats.json") if stats_json else None
        # One rx queue, two tx queues (worker, control): one file each.
        vdev = (f"net_pcap0,rx_pcap={self.inp},tx_pcap={work}/{tag}-out0.pcap,"
                f"tx_pcap={work}/{tag}-out1.pcap")
        eal = ["--no-pci", "-l", "0,1", "--file-prefix", self.prefix, "--vdev", vdev,
               "--log-level=lib.eal:error"]
        if not huge:
            eal = ["--no-huge", "-m", "512"] + eal
        args = [exe] + eal + ["--", "-c", self.conf]
        if self.stats_json:
            args += ["--stats-json", self.stats_json]
        self.log = open(os.path.join(work, f"{tag}.log"), "w+")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        self.sock_path = f"/var/run/dpdk/{self.prefix}/dpdk_telemetry.v2"

    def output(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def alive(self):
        if self.proc.poll() is not None:
            raise Fail(f"terelay exited with {self.proc.returncode}:\n{self.output()}")

    def tel(self, cmd):
        """One telemetry command over the v2 socket; returns the JSON value."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            s.connect(self.sock_path)
            hello = json.loads(s.recv(16384).decode())
            check("max_output_len" in hello, f"telemetry hello: {hello}")
            s.send(cmd.encode())
            reply = json.loads(s.recv(int(hello["max_output_len"])).decode())
        finally:
            s.close()
        key = cmd.split(",", 1)[0]
        check(key in reply, f"{cmd}: reply {reply}")
        return reply[key]

    def wait_socket(self, timeout=20):
        end = time.time() + timeout
        while time.time() < end:
            self.alive()
            if os.path.exists(self.sock_path):
                try:
                    # null until setup() has registered the commands
                    if isinstance(self.tel("/terelay/stats"), dict):
                        return
                except (OSError, ValueError, Fail):
                    pass
            time.sleep(0.1)
        raise Fail(f"no telemetry socket at {self.sock_path}:\n{self.output()}")

    def metrics(self, path="/metrics"):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def cleanup(self):
        self.stop()
        self.log.close()
        shutil.rmtree(f"/var/run/dpdk/{self.prefix}", ignore_errors=True)


# ------------------------------------------------------------------ checks

def check_stats(st, exp, drops, dnames):
    for k in counter_names():
        if k.startswith("polls_") or k.startswith("cycles_"):
            check(k in st, f"/terelay/stats lacks {k}")
            continue
        eq(f"/terelay/stats {k}", st.get(k), exp.get(k, 0))
    eq("/terelay/stats drops_total", st["drops_total"], sum(drops.values()))
    eq("/terelay/stats peers_current", st["peers_current"], 1)
    eq("/terelay/stats peers_pending", st["peers_pending"], 0)
    eq("/terelay/stats queued_now", st["queued_now"], 0)
    eq("/terelay/stats in_flight", st["in_flight"], 0)
    eq("/terelay/stats accounting_ok", st["accounting_ok"], 1)
    check(st["polls_busy"] >= 1 and st["polls_idle"] >= 1, f"polls: {st}")


def check_telemetry(relay, exp, drops, dnames):
    st = relay.tel("/terelay/stats")
    check_stats(st, exp, drops, dnames)

    d = relay.tel("/terelay/drops")
    eq("/terelay/drops keys", sorted(d), sorted(dnames))
    for n in dnames:
        eq(f"/terelay/drops {n}", d[n], drops.get(n, 0))

    lc = relay.tel("/terelay/lcores")
    eq("/terelay/lcores keys", sorted(lc), ["0", "1", "tsc_hz"])
    check(lc["tsc_hz"] > 0, "tsc_hz")
    ctl, wrk = lc["0"], lc["1"]
    eq("lcore 0 role", ctl["role"], "control")
    eq("lcore 1 role", wrk["role"], "worker")
    eq("worker rx_packets", wrk["rx_packets"], exp["rx_packets"])
    eq("worker rx_bytes", wrk["rx_bytes"], exp["rx_bytes"])
    eq("worker to_control", wrk["to_control"], 3)
    eq("worker drops_total", wrk["drops_total"], sum(drops.values()))
    eq("control rx_packets", ctl["rx_packets"], 0)
    eq("tx_packets over lcores", ctl["tx_packets"] + wrk["tx_packets"], exp["tx_packets"])
    eq("tx_bytes over lcores", ctl["tx_bytes"] + wrk["tx_bytes"], exp["tx_bytes"])
    for name, e in (("control", ctl), ("worker", wrk)):
        for k in ("polls_busy", "polls_idle", "cycles_busy", "cycles_idle", "busy_percent",
                  "heartbeat"):
            check(isinstance(e.get(k), int), f"lcore {name} {k}: {e}")
        check(e["polls_busy"] >= 1, f"{name} polls_busy {e}")
        check(0 <= e["busy_percent"] <= 100, f"{name} busy_percent {e}")
        check(e["heartbeat"] > 0, f"{name} heartbeat {e}")
    # The worker's heartbeat moves while it runs.
    time.sleep(0.2)
    check(relay.tel("/terelay/lcores")["1"]["heartbeat"] > wrk["heartbeat"], "heartbeat stalled")

    p = relay.tel("/terelay/peers")
    want = {"current": 1, "pending": 0, "trusted": 1, "capacity": 4096, "pending_capacity": 64,
            "queued": 0, "queue_capacity": 65536}
    for k, v in want.items():
        eq(f"/terelay/peers {k}", p[k], v)

    pa = relay.tel(f"/terelay/peer,{A}")
    eq("peer A found", pa["found"], 1)
    eq("peer A state", pa["state"], "trusted")
    eq("peer A mapping", pa["mapping"], f"{A_V4}:{A_PORT}")
    eq("peer A bubbles", pa["bubbles"], 0)
    eq("peer A verifying", pa["verifying"], 0)
    check("queue_packets" not in pa, f"trusted peer has no queue: {pa}")
    check(0 <= pa["last_rx_age_ms"] < 60000, f"last_rx_age_ms {pa}")
    check(0 <= pa["last_tx_age_ms"] < 60000, f"last_tx_age_ms {pa}")
    check(pa["created_age_ms"] >= pa["last_rx_age_ms"], f"created_age_ms {pa}")
    other = "2001:0:c633:6476:0:dfff:3fff:fdf5"
    eq("unknown peer", relay.tel(f"/terelay/peer,{other}"), {"addr": other, "found": 0})
    eq("bad peer address", relay.tel("/terelay/peer,2001:db8::1"), None)
    eq("peer without address", relay.tel("/terelay/peer"), None)

    c = relay.tel("/terelay/config")
    eq("config relay.ipv4", c["relay"]["ipv4"], R4)
    eq("config relay.port", c["relay"]["port"], RP)
    eq("config relay.ipv6", c["relay"]["ipv6"], R6)
    eq("config peers.capacity", c["peers"]["capacity"], 4096)
    eq("config telemetry.prometheus", c["telemetry"]["prometheus"], f"127.0.0.1:{relay.port}")
    for sec in ("relay", "ports", "nexthop", "peers", "queue", "bubbles", "icmp6", "control",
                "telemetry"):
        check(sec in c, f"/terelay/config lacks [{sec}]")

    # Every command answers /help with its text (registered, not stubs).
    for cmd in ("stats", "drops", "lcores", "peers", "peer", "config"):
        h = relay.tel(f"/help,/terelay/{cmd}")
        check(isinstance(h, dict) and h.get(f"/terelay/{cmd}"), f"/help of /terelay/{cmd}: {h}")
    return st


SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


def parse_metrics(text):
    samples, types, helps = {}, {}, {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            helps[line.split()[2]] = line
        elif line.startswith("# TYPE "):
            _, _, name, typ = line.split()
            types[name] = typ
        elif line and not line.startswith("#"):
            m = SAMPLE_RE.match(line)
            check(m is not None, f"bad sample line: {line!r}")
            samples[m.group(1) + (m.group(2) or "")] = float(m.group(3))
            fam = m.group(1)
            check(fam in types and fam in helps, f"{fam} without # HELP/# TYPE")
    return samples, types


def check_metrics(relay, exp, drops, dnames, promtool):
    status, ctype, text = relay.metrics()
    eq("/metrics status", status, 200)
    check(ctype.startswith("text/plain; version=0.0.4"), f"content type {ctype}")
    s, types = parse_metrics(text)
    for k in counter_names():
        if k.startswith("polls_") or k.startswith("cycles_"):
            continue
        fam = f"terelay_{k}_total"
        eq(f"TYPE {fam}", types.get(fam), "counter")
        got = s[f'{fam}{{lcore="0"}}'] + s[f'{fam}{{lcore="1"}}']
        eq(f"{fam} (sum over lcores)", got, exp.get(k, 0))
    eq("worker rx", s['terelay_rx_packets_total{lcore="1"}'], exp["rx_packets"])
    for n in dnames:
        eq(f"drops {n}", s[f'terelay_drops_total{{reason="{n}"}}'], drops.get(n, 0))
    eq("peers pending", s['terelay_peers{state="pending"}'], 0)
    eq("peers trusted", s['terelay_peers{state="trusted"}'], 1)
    eq("peers capacity", s["terelay_peers_capacity"], 4096)
    eq("pending capacity", s["terelay_pending_capacity"], 64)
    eq("queued packets", s["terelay_queued_packets"], 0)
    eq("accounting", s["terelay_accounting_ok"], 1)
    eq("TYPE peers", types["terelay_peers"], "gauge")
    for role_l in ('lcore="0",role="control"', 'lcore="1",role="worker"'):
        for fam in ("terelay_lcore_busy_cycles_total", "terelay_lcore_idle_cycles_total",
                    "terelay_lcore_busy_polls_total", "terelay_lcore_idle_polls_total",
                    "terelay_lcore_heartbeat_total"):
            check(f"{fam}{{{role_l}}}" in s, f"missing {fam}{{{role_l}}}")
    eq("port rx packets", s['terelay_port_rx_packets_total{port="0",role="both"}'], exp["rx_packets"])
    eq("port tx packets", s['terelay_port_tx_packets_total{port="0",role="both"}'], exp["tx_packets"])
    try:
        relay.metrics("/nope")
        raise Fail("/nope did not give 404")
    except urllib.error.HTTPError as e:
        eq("/nope status", e.code, 404)

    r = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True)
    check(r.returncode == 0, f"promtool check metrics failed:\n{r.stdout}{r.stderr}")
    return text


def prom_query(base, q):
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": q})
    with urllib.request.urlopen(url, timeout=5) as r:
        j = json.loads(r.read().decode())
    check(j["status"] == "success", f"query {q}: {j}")
    return j["data"]["result"]


def check_prometheus(relay, work, exp, drops, prom_exe):
    port = free_port()
    cfg = os.path.join(work, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write(f"""global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: terelay
    static_configs:
      - targets: ['127.0.0.1:{relay.port}']
""")
    log = open(os.path.join(work, "prometheus.log"), "w")
    proc = subprocess.Popen([prom_exe, f"--config.file={cfg}",
                             f"--storage.tsdb.path={work}/prom-data",
                             f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        end = time.time() + 60
        want = {
            'sum(terelay_rx_packets_total{job="terelay"})': exp["rx_packets"],
            'sum(terelay_bubbles_sent_total{job="terelay"})': exp["bubbles_sent"],
            'terelay_drops_total{job="terelay",reason="rx_bad_udp_csum"}': 1,
            'terelay_drops_total{job="terelay",reason="rx_src_not_teredo"}': 1,
            'terelay_peers{job="terelay",state="trusted"}': 1,
            'sum(terelay_tx_packets_total{job="terelay"})': exp["tx_packets"],
        }
        last = None
        while time.time() < end:
            check(proc.poll() is None, "prometheus exited: see prometheus.log")
            try:
                up = prom_query(base, 'up{job="terelay"}')
                if up and up[0]["value"][1] == "1":
                    got = {}
                    for q in want:
                        res = prom_query(base, q)
                        got[q] = float(res[0]["value"][1]) if res else None
                    if all(got[q] == v for q, v in want.items()):
                        return got
                    last = got
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.5)
        raise Fail(f"Prometheus never saw the expected values: {last}")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def check_final(relay, exp, drops):
    rc = relay.stop()
    out = relay.output()
    eq("exit status on SIGTERM", rc, 0)
    check(re.search(r"accounting\s+ok", out), f"no 'accounting ok' in summary:\n{out}")
    with open(relay.stats_json) as f:
        j = json.load(f)
    for k, v in exp.items():
        eq(f"final {k}", j[k], v)
    for n, v in j["drops"].items():
        eq(f"final drop {n}", v, drops.get(n, 0))
    eq("final accounting_ok", j["accounting_ok"], True)


def check_dumpcap(exe, work, dumpcap):
    # Only A's unanswered native packet: the relay bubbles its server every
    # 100 ms, giving a steady trickle to capture.
    frames, _, _ = build_traffic()
    # A secondary process cannot attach to a --no-huge primary: the test sets
    # up its own hugepages, whatever ran before it (a fresh machine has none).
    try:
        hugepages.ensure(256)
    except (hugepages.HugepageError, OSError) as e:
        raise Fail(f"cannot run dpdk-dumpcap: {e}")
    relay = Relay(exe, work, "dump", frames[:1], huge=True, interval=100, bubble_max=1000,
                  stats_json=False)
    try:
        relay.wait_socket()
        end = time.time() + 10
        while relay.tel("/terelay/stats")["bubbles_sent"] < 1:
            check(time.time() < end, "no bubble sent")
            time.sleep(0.1)
        out = os.path.join(work, "dump.pcapng")
        r = subprocess.run([dumpcap, f"--file-prefix={relay.prefix}", "-i", "0", "-c", "3",
                            "-w", out, "-q"], capture_output=True, text=True, timeout=60)
        check(r.returncode == 0, f"dpdk-dumpcap failed ({r.returncode}):\n{r.stdout}{r.stderr}")
        pkts = rdpcap(out)
        eq("captured packets", len(pkts), 3)
        for p in pkts:
            check(IP in p and UDP in p, f"not IPv4/UDP: {p.summary()}")
            eq("bubble dst MAC", p[Ether].dst, GW4_MAC)
            eq("bubble IPv4 src", p[IP].src, R4)
            eq("bubble IPv4 dst", p[IP].dst, S)
            eq("bubble UDP ports", (p[UDP].sport, p[UDP].dport), (RP, 3544))
            raw = bytes(p[UDP].payload)
            eq("bubble length", len(raw), 46)
            eq("nonce trailer type/length", raw[40:42], b"\x01\x04")
            b = IPv6(raw[:40])
            eq("bubble next header", b.nh, 59)
            eq("bubble payload length", b.plen, 0)
            eq("bubble destination", b.dst, A)
            check(b.src.startswith("fe80::"), f"bubble source {b.src}")
            # Checksums as sent: recompute and compare.
            q = Ether(bytes(p))
            del q[IP].chksum
            del q[UDP].chksum
            q = Ether(bytes(q))
            eq("IPv4 checksum", p[IP].chksum, q[IP].chksum)
            eq("UDP checksum", p[UDP].chksum, q[UDP].chksum)
        eq("dumpcap: relay exit", relay.stop(), 0)
    finally:
        relay.cleanup()


def check_doc(dnames):
    """docs/telemetry.md names every counter and every drop reason."""
    doc = open(os.path.join(HERE, "..", "..", "docs", "telemetry.md")).read()
    for k in counter_names():
        if not (k.startswith("polls_") or k.startswith("cycles_")):
            check(f"terelay_{k}_total" in doc, f"docs/telemetry.md lacks terelay_{k}_total")
    for n in dnames:
        check(f"`{n}`" in doc, f"docs/telemetry.md lacks drop reason {n}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--terelay", required=True)
    ap.add_argument("--promtool", default=shutil.which("promtool") or "/usr/bin/promtool")
    ap.add_argument("--prometheus", default=shutil.which("prometheus") or "/usr/bin/prometheus")
    ap.add_argument("--dumpcap", default=shutil.which("dpdk-dumpcap") or "/usr/bin/dpdk-dumpcap")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    a = ap.parse_args()
    for tool in (a.terelay, a.promtool, a.prometheus, a.dumpcap):
        if not os.access(tool, os.X_OK):
            print(f"FAIL: {tool} missing (scripts/setup-deps.sh installs it)")
            return 1

    work = tempfile.mkdtemp(prefix="tltest")
    frames, exp, drops = build_traffic()
    dnames = drop_names()
    relay = Relay(a.terelay, work, "main", frames, huge=False)
    step = "start"
    try:
        step = "docs/telemetry.md"
        check_doc(dnames)
        step = "telemetry socket"
        relay.wait_socket()
        end = time.time() + 20
        while True:     # the capture is consumed when every frame is accounted for
            st = relay.tel("/terelay/stats")
            if (st["rx_packets"] == exp["rx_packets"] and st["tx_packets"] == exp["tx_packets"]
                    and st["in_flight"] == 0):
                break
            check(time.time() < end, f"capture not consumed: {st}")
            time.sleep(0.1)
        step = "telemetry commands"
        check_telemetry(relay, exp, drops, dnames)
        print("ok: telemetry commands")
        step = "/metrics"
        check_metrics(relay, exp, drops, dnames, a.promtool)
        print("ok: /metrics, promtool check metrics")
        step = "prometheus server"
        got = check_prometheus(relay, work, exp, drops, a.prometheus)
        print(f"ok: Prometheus server query: {got}")
        step = "SIGTERM"
        check_final(relay, exp, drops)
        print("ok: SIGTERM, exit 0, final counters")
        step = "dpdk-dumpcap"
        check_dumpcap(a.terelay, work, a.dumpcap)
        print("ok: dpdk-dumpcap capture")
    except (Fail, subprocess.TimeoutExpired, OSError, KeyError, ValueError) as e:
        print(f"FAIL at {step}: {type(e).__name__}: {e}")
        print("--- relay output ---")
        print(relay.output())
        print(f"(work directory {work} kept)")
        relay.cleanup()
        return 1
    relay.cleanup()
    if a.keep:
        print(f"work directory: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
