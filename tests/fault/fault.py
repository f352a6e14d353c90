#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""
terelay fault tests (issue 7, item 4), terelay in normal mode (not replay):

  ring_full   [control] ring = 64 and a burst of unknown-peer native packets:
              ctrl_ring_full counted, no crash, accounting identity at exit
  sigterm     net_pcap infinite_rx with trusted-peer traffic, SIGTERM after 2 s:
              exit 0 within 5 s, summary printed, stats JSON with the identity
  stall       the worker thread is stopped from outside (ptrace SEIZE+INTERRUPT
              on its TID only) for 1.5 s: control logs "worker lcore 1 stalled",
              /terelay/lcores shows stalled=1; after release "polling again", 0
  linkflap    veth pair in a namespace, terelay on net_af_packet, trusted-peer
              traffic from the peer end (scapy): link down then up under traffic:
              no crash, forwarding resumes, exit 0 on SIGTERM
  restart     same setup: stop and start terelay; traffic flows again after
              re-verification (a new indirect bubble, then encapsulation)
  restart_state  same, with [state] file: SIGTERM writes the table, the restarted
              relay loads A as trusted: no bubble, encapsulation at once
  sigkill_state  same, SIGKILL after a periodic snapshot ([state] interval 1 s):
              the restart falls back to that snapshot, A trusted, no bubble

Run as root: fault.py --terelay PATH --case NAME
"""
import argparse
import ctypes
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

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "conformance"))
import conformance as C  # noqa: E402
from scapy.all import wrpcap, Ether  # noqa: E402

R4, RP, A, A_V4, A_PORT, H, S = C.R4, C.RP, C.A, C.A_V4, C.A_PORT, C.H, C.S


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


CONFIG = """\
[relay]
ipv4 = 198.51.100.1
port = 3545
ipv6 = 2001:db8:ffff::1
served = 2001:db8::/32

[ports]
teredo = {port}
native = {port}
mbufs = 8192

[nexthop]
ipv4_gateway_mac = {gw}
ipv6_gateway_mac = {gw}

[peers]
capacity = 65536
pending_capacity = 4096
accept_unknown = {accept}

[control]
ring = {ring}

[telemetry]
summary_interval = 0
"""


def write_config(work, port="0", gw="02:00:00:00:00:04", accept="true", ring=4096, extra=""):
    p = os.path.join(work, "relay.ini")
    with open(p, "w") as f:
        f.write(CONFIG.format(port=port, gw=gw, accept=accept, ring=ring) + extra)
    return p


class Relay:
    def __init__(self, exe, work, tag, vdev, conf, extra_eal=()):
        self.prefix = "fault%d%s" % (os.getpid(), tag)
        self.stats = os.path.join(work, tag + "-stats.json")
        self.logpath = os.path.join(work, tag + ".log")
        self.log = open(self.logpath, "w+")
        args = [exe, "--no-huge", "-m", "1024", "--no-shconf", "--no-pci", "-l", "0,1",
                "--file-prefix", self.prefix, "--vdev", vdev, "--log-level=lib.eal:error"]
        args += list(extra_eal) + ["--", "-c", conf, "--stats-json", self.stats]
        self.args = args
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        self.sock = "/var/run/dpdk/%s/dpdk_telemetry.v2" % self.prefix

    def output(self):
        self.log.flush()
        with open(self.logpath) as f:
            return f.read()

    def alive(self):
        if self.proc.poll() is not None:
            raise Fail("terelay exited %s:\n%s" % (self.proc.returncode, self.output()[-3000:]))

    def tel(self, cmd):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            s.connect(self.sock)
            hello = json.loads(s.recv(16384).decode())
            s.send(cmd.encode())
            reply = json.loads(s.recv(int(hello["max_output_len"])).decode())
        finally:
            s.close()
        return reply[cmd.split(",", 1)[0]]

    def wait_ready(self, timeout=30):
        end = time.time() + timeout
        while time.time() < end:
            self.alive()
            try:
                if isinstance(self.tel("/terelay/stats"), dict):
                    return
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.1)
        raise Fail("no telemetry from terelay:\n" + self.output()[-3000:])

    def sigterm(self, within=5.0):
        t0 = time.time()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=within + 10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise Fail("terelay did not exit after SIGTERM")
        dt = time.time() - t0
        check(rc == 0, "exit status %d after SIGTERM:\n%s" % (rc, self.output()[-3000:]))
        check(dt <= within, "exit took %.1f s after SIGTERM (limit %.0f s)" % (dt, within))
        return dt

    def cleanup(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree("/var/run/dpdk/" + self.prefix, ignore_errors=True)


def final_checks(relay, want_in_flight_ok=True):
    out = relay.output()
    check("terelay summary" in out, "no summary printed:\n" + out[-2000:])
    check("accounting            ok" in out, "summary accounting not ok:\n" + out[-2000:])
    check(os.path.exists(relay.stats), "stats JSON not written")
    with open(relay.stats) as f:
        st = json.load(f)
    # The identity with every term as the relay reports it, in_flight (packets in the rings
    # between lcores at the snapshot) included: not the remainder, so a relay that loses a
    # packet fails here whatever its own accounting_ok says.
    drops = sum(st["drops"].values())
    check(st["drops_total"] == drops, "drops_total %d, the reasons sum to %d" % (st["drops_total"], drops))
    in_flight = st["in_flight"]
    acc = st["fwd_native"] + st["fwd_teredo"] + st["consumed"] + drops + st["queued_now"] + \
        st["reasm_held"] + in_flight
    check(st["accounting_ok"] is True and acc == st["rx_packets"],
          "accounting: rx %d != fwd_native %d + fwd_teredo %d + consumed %d + drops %d + queued %d "
          "+ reasm %d + in_flight %d = %d (accounting_ok %r)" % (
              st["rx_packets"], st["fwd_native"], st["fwd_teredo"], st["consumed"], drops,
              st["queued_now"], st["reasm_held"], in_flight, acc, st["accounting_ok"]))
    for bad in ("PANIC", "Segmentation", "AddressSanitizer", "runtime error"):
        check(bad not in out, "%r in the output:\n%s" % (bad, out[-2000:]))
    return st, in_flight


def trusted_traffic(n_rounds=1):
    """A's trust prelude then data both ways (accept_unknown = true makes order irrelevant)."""
    fr = []
    for i in range(n_rounds):
        fr.append(C.f_native(C.ip6_udp(H, A, b"to A %d" % i)))
        fr.append(C.f_direct_bubble_a())
        fr.append(C.data_from_a(C.ip6_udp(A, H, b"from A %d" % i)))
    return fr


# ------------------------------------------------------------------ cases

def case_ring_full(exe, work):
    """[control] ring = 64; 200000 native packets to distinct unknown peers arrive as fast as
    net_pcap reads them: every one goes to control, the ring overflows."""
    n = 200000
    tmpl = bytearray(C.f_native(C.ip6_udp(H, C.teredo_addr(S, 1, "198.18.0.1"), b"ring")))
    frames = []
    for i in range(n):
        b = tmpl[:]
        b[14 + 36:14 + 40] = (0xc6120000 | i).to_bytes(4, "big")   # no checksum check on this path
        frames.append(bytes(b))
    pin = os.path.join(work, "ring-in.pcap")
    C.write_pcap(pin, [(0.0, f) for f in frames])
    conf = write_config(work, ring=64)
    vdev = "net_pcap0,rx_pcap=%s,tx_pcap=/dev/null,tx_pcap=/dev/null" % pin
    r = Relay(exe, work, "ring", vdev, conf)
    try:
        r.wait_ready()
        end = time.time() + 60
        while time.time() < end:
            st = r.tel("/terelay/stats")
            if st["rx_packets"] >= n:
                break
            time.sleep(0.2)
        check(st["rx_packets"] == n, "rx_packets %d of %d" % (st["rx_packets"], n))
        time.sleep(0.5)
        r.sigterm()
        st, inf = final_checks(r)
        check(st["drops"]["ctrl_ring_full"] > 0, "ctrl_ring_full not counted (drops %s)"
              % {k: v for k, v in st["drops"].items() if v})
        print("   ring_full: %d packets, ctrl_ring_full %d, to_control %d, tx_peer_table_full %d, "
              "in flight at exit %d" % (n, st["drops"]["ctrl_ring_full"], st["to_control"],
                                        st["drops"]["tx_peer_table_full"], inf))
    finally:
        r.cleanup()


def case_sigterm(exe, work):
    """infinite_rx=1 replays A's traffic in a loop; SIGTERM after 2 s."""
    pin = os.path.join(work, "sig-in.pcap")
    C.write_pcap(pin, [(0.0, f) for f in trusted_traffic(16)])
    conf = write_config(work)
    vdev = "net_pcap0,rx_pcap=%s,tx_pcap=/dev/null,tx_pcap=/dev/null,infinite_rx=1" % pin
    r = Relay(exe, work, "sig", vdev, conf)
    try:
        r.wait_ready()
        time.sleep(2.0)
        st0 = r.tel("/terelay/stats")
        check(st0["rx_packets"] > 1000 and st0["encapsulated"] > 0 and st0["decapsulated"] > 0,
              "no load before SIGTERM: %s" % {k: st0[k] for k in ("rx_packets", "encapsulated",
                                                                 "decapsulated")})
        dt = r.sigterm(within=5.0)
        st, inf = final_checks(r)
        check(st["rx_packets"] >= st0["rx_packets"], "final rx_packets below the live value")
        print("   sigterm: exit 0 after %.2f s; %d packets in, %d encapsulated, %d decapsulated, "
              "in flight at exit %d" % (dt, st["rx_packets"], st["encapsulated"],
                                        st["decapsulated"], inf))
    finally:
        r.cleanup()


PTRACE_DETACH, PTRACE_SEIZE, PTRACE_INTERRUPT = 17, 0x4206, 0x4207
WALL = 0x40000000


def worker_tid(pid):
    for t in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, t)) as f:
                if f.read().strip() in ("lcore-worker-1", "rte-worker-1"):   # DPDK 22.11: rte-worker-N
                    return int(t)
        except OSError:
            pass
    return None


def case_stall(exe, work):
    """Stop only the worker thread (ptrace stops one thread; SIGSTOP would stop the whole
    process, control included) for 1.5 s under traffic."""
    pin = os.path.join(work, "stall-in.pcap")
    C.write_pcap(pin, [(0.0, f) for f in trusted_traffic(4)])
    conf = write_config(work)
    vdev = "net_pcap0,rx_pcap=%s,tx_pcap=/dev/null,tx_pcap=/dev/null,infinite_rx=1" % pin
    r = Relay(exe, work, "stall", vdev, conf)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
    try:
        r.wait_ready()
        time.sleep(0.5)
        tid = worker_tid(r.proc.pid)
        check(tid is not None, "no lcore-worker-1 thread in /proc/%d/task: %s" % (r.proc.pid, [open("/proc/%d/task/%s/comm" % (r.proc.pid, t)).read().strip() for t in os.listdir("/proc/%d/task" % r.proc.pid)]))
        check(r.tel("/terelay/lcores")["1"]["stalled"] == 0, "stalled before the stall")
        if libc.ptrace(PTRACE_SEIZE, tid, None, None) != 0:
            raise Fail("ptrace SEIZE %d: %s" % (tid, os.strerror(ctypes.get_errno())))
        try:
            check(libc.ptrace(PTRACE_INTERRUPT, tid, None, None) == 0, "PTRACE_INTERRUPT failed")
            status = ctypes.c_int()
            libc.waitpid(tid, ctypes.byref(status), WALL)
            hb0 = r.tel("/terelay/lcores")["1"]["heartbeat"]
            time.sleep(1.5)
            lc = r.tel("/terelay/lcores")["1"]
            check(lc["heartbeat"] == hb0, "heartbeat moved while the worker was stopped")
            check(lc["stalled"] == 1, "/terelay/lcores worker stalled = %r" % lc["stalled"])
            check(r.tel("/terelay/stats")["workers_stalled"] == 1, "workers_stalled != 1")
            check(re.search(r"worker lcore 1 stalled", r.output()), "no 'worker lcore 1 stalled' "
                  "in the log:\n" + r.output()[-2000:])
        finally:
            libc.ptrace(PTRACE_DETACH, tid, None, None)
        end = time.time() + 5
        while time.time() < end and r.tel("/terelay/lcores")["1"]["stalled"] != 0:
            time.sleep(0.1)
        check(r.tel("/terelay/lcores")["1"]["stalled"] == 0, "still stalled after release")
        check("worker lcore 1 polling again" in r.output(), "no 'polling again' in the log")
        r.sigterm()
        final_checks(r)
        print("   stall: worker TID %d stopped 1.5 s: logged, telemetry stalled=1, recovered" % tid)
    finally:
        r.cleanup()


# ------------------------------------------------------------------ namespace cases

NS = "trfault%d" % os.getpid()
IF_R, IF_P = "trfR%d" % (os.getpid() % 100000), "trfP%d" % (os.getpid() % 100000)


def sh(*a):
    subprocess.run(list(a), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def mac_of(ifn):
    with open("/sys/class/net/%s/address" % ifn) as f:
        return f.read().strip()


class Traffic:
    """Inside the namespace: send A's traffic on IF_P at ~200 pps, sniff what the relay sends."""

    def __init__(self, relay_mac):
        from scapy.all import AsyncSniffer
        self.relay_mac = relay_mac
        self.got = []
        self.sniffer = AsyncSniffer(iface=IF_P, store=False, prn=self.got.append,
                                    lfilter=lambda p: p.src not in (C.GW4_MAC, C.GW6_MAC))
        self.sniffer.start()
        time.sleep(0.5)
        self.stop = False

    def frames(self):
        fr = []
        for f in trusted_traffic(1):
            e = bytearray(f)
            e[0:6] = bytes.fromhex(self.relay_mac.replace(":", ""))
            fr.append(bytes(e))
        return fr

    def send_for(self, seconds):
        from scapy.all import sendp
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        s.bind((IF_P, 0))
        fr = self.frames()
        end = time.time() + seconds
        while time.time() < end:
            for f in fr:
                try:
                    s.send(f)
                except OSError:
                    pass
            time.sleep(0.015)
        s.close()
        del sendp

    def seen(self):
        return list(self.got)

    def finish(self):
        self.sniffer.stop()


def encap_to_a(pkts, after=0.0):
    n = 0
    for p in pkts:
        b = bytes(p)
        if p.time >= after and len(b) > 42 and b[12:14] == b"\x08\x00" and b[14 + 9] == 17 and \
                b[14 + 16:14 + 20] == socket.inet_aton(A_V4) and b[14 + 22:14 + 24] == A_PORT.to_bytes(2, "big"):
            n += 1
    return n


def bubbles_to_s(pkts, after=0.0):
    return sum(1 for p in pkts if p.time >= after and C.is_bubble_frame(bytes(p)))


def ns_cases(exe, work, which):
    """Runs inside the namespace (re-exec'd by main)."""
    sh("ip", "link", "set", "lo", "up")
    sh("ip", "link", "add", IF_R, "type", "veth", "peer", "name", IF_P)
    for i in (IF_R, IF_P):
        sh("sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=1" % i)
        sh("ip", "link", "set", i, "up")
    relay_mac, peer_mac = mac_of(IF_R), mac_of(IF_P)
    extra = "\n[state]\nfile = %s\ninterval = 1\n" % os.path.join(work, "state") if "state" in which else ""
    conf = write_config(work, gw=peer_mac, accept="false", extra=extra)
    vdev = "net_af_packet0,iface=%s,qpairs=2" % IF_R     # one rx per worker, one tx per lcore
    tr = Traffic(relay_mac)
    r = Relay(exe, work, "ns1", vdev, conf)
    try:
        r.wait_ready()
        t0 = time.time()
        tr.send_for(2.0)
        before = encap_to_a(tr.seen())
        stl = r.tel("/terelay/stats")
        check(before > 20, "no forwarding before the link flap (%d frames to A, %d sniffed; relay: "
              "rx %d tx %d encap %d drops %s)" % (before, len(tr.seen()), stl["rx_packets"],
                                                 stl["tx_packets"], stl["encapsulated"],
                                                 r.tel("/terelay/drops")))
        if which == "linkflap":
            sh("ip", "link", "set", IF_R, "down")
            tr.send_for(1.0)
            sh("ip", "link", "set", IF_R, "up")
            t_up = time.time()
            tr.send_for(3.0)
            r.alive()
            after = encap_to_a(tr.seen(), after=t_up + 0.5)
            check(after > 20, "forwarding did not resume after link up (%d frames to A)" % after)
            r.sigterm()
            st, _ = final_checks(r)
            print("   linkflap: %d frames to A before, %d in the 2.5 s after link up; exit 0; "
                  "rx %d, nic rx_missed %d, tx_errors %d" % (before, after, st["rx_packets"],
                                                           st["nic_rx_missed"], st["nic_tx_errors"]))
        elif which == "restart":
            b1 = bubbles_to_s(tr.seen())
            check(b1 >= 1, "no indirect bubble in the first run")
            r.sigterm()
            final_checks(r)
            r.cleanup()
            r = Relay(exe, work, "ns2", vdev, conf)
            r.wait_ready()
            t_re = time.time()
            tr.send_for(3.0)
            seen = tr.seen()
            b2 = bubbles_to_s(seen, after=t_re)
            after = encap_to_a(seen, after=t_re)
            check(b2 >= 1, "the restarted relay sent no indirect bubble (no re-verification)")
            check(after > 20, "no forwarding after restart (%d frames to A)" % after)
            st = r.tel("/terelay/peer,%s" % A)
            check(st["found"] == 1 and st["state"] == "trusted", "A not trusted after restart: %s" % st)
            r.sigterm()
            final_checks(r)
            print("   restart: first run %d frames to A; restarted relay re-verified A (%d bubble(s) "
                  "to %s) and forwarded %d frames" % (before, b2, S, after))
        else:
            r = restart_with_state(exe, work, vdev, conf, r, tr, which, before)
    finally:
        tr.finish()
        r.cleanup()
        subprocess.run(["ip", "link", "del", IF_R], stderr=subprocess.DEVNULL)
    del t0


def restart_with_state(exe, work, vdev, conf, r, tr, which, before):
    """restart_state: SIGTERM (the final snapshot) and start again; sigkill_state: SIGKILL
    after a periodic snapshot (interval 1 s) and start again. Either way A is trusted again
    without a bubble: the first frame after the restart is encapsulated to A, no bubble goes
    to S, state_restored = 1. Returns the relay to clean up."""
    state = os.path.join(work, "state")
    check(bubbles_to_s(tr.seen()) >= 1, "no indirect bubble in the first run")
    if which == "restart_state":
        t_kill = time.time()
        r.sigterm()
        final_checks(r)
        out = r.output()
        check(re.search(r"terelay: state: wrote 1 peers and 0 negative entries to " + re.escape(state), out),
              "no 'wrote 1 peers' line at exit:\n" + out[-2000:])
    else:
        time.sleep(1.5)       # at least one periodic snapshot with A trusted
        st = r.tel("/terelay/stats")
        check(st["state_writes"] >= 1, "no periodic snapshot in 3.5 s (state_writes %d)" % st["state_writes"])
        t_kill = time.time()
        r.proc.kill()
        r.proc.wait()
    check(os.path.exists(state), "no state file")
    r.cleanup()
    r = Relay(exe, work, "ns2" + which, vdev, conf)
    try:
        return second_run(r, tr, which, before, t_kill)
    except BaseException:
        r.cleanup()        # the caller holds the first relay: this one is ours to end
        raise


def second_run(r, tr, which, before, t_kill):
    r.wait_ready()
    t_up = time.time()
    out = r.output()
    check(re.search(r"terelay: state: .*: 1 peers trusted, 0 to re-verify", out),
          "the restarted relay did not load A as trusted:\n" + out[-2000:])
    tr.send_for(3.0)
    seen = tr.seen()
    b2 = bubbles_to_s(seen, after=t_up)
    after = encap_to_a(seen, after=t_up)
    check(b2 == 0, "the restarted relay sent %d indirect bubble(s): A was re-verified" % b2)
    check(after > 20, "no forwarding after the restart (%d frames to A)" % after)
    st = r.tel("/terelay/stats")
    check(st["state_restored"] == 1 and st["bubbles_sent"] == 0 and st["peers_created"] == 0,
          "restarted relay: state_restored %d, bubbles_sent %d, peers_created %d; expected 1, 0, 0"
          % (st["state_restored"], st["bubbles_sent"], st["peers_created"]))
    first = min((p.time for p in seen if p.time >= t_up and encap_to_a([p]) == 1), default=None)
    r.sigterm()
    final_checks(r)
    print("   %s: first run %d frames to A; stop -> ready %.2f s; restarted relay trusted A from the "
          "state file, no bubble, %d frames to A in 3 s, the first %.3f s after it was ready"
          % (which, before, t_up - t_kill, after, first - t_up))
    return r



CASES = {"ring_full": case_ring_full, "sigterm": case_sigterm, "stall": case_stall,
         "linkflap": None, "restart": None, "restart_state": None, "sigkill_state": None}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--terelay", required=True)
    ap.add_argument("--case", required=True, choices=sorted(CASES))
    ap.add_argument("--in-ns", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    exe = os.path.abspath(a.terelay)
    if os.geteuid() != 0:
        print("SKIP: needs root")
        return 77
    if CASES[a.case] is None and not a.in_ns:
        subprocess.run(["ip", "netns", "add", NS], check=True)
        try:
            p = subprocess.run(["ip", "netns", "exec", NS, sys.executable, os.path.abspath(__file__),
                                "--terelay", exe, "--case", a.case, "--in-ns"] +
                               (["--keep"] if a.keep else []))
            return p.returncode
        finally:
            subprocess.run(["ip", "netns", "del", NS])
    work = tempfile.mkdtemp(prefix="terelay-fault-%s-" % a.case)
    try:
        if CASES[a.case] is None:
            ns_cases(exe, work, a.case)
        else:
            CASES[a.case](exe, work)
    except Fail as e:
        print("FAIL %s: %s (dir %s)" % (a.case, e, work))
        return 1
    print("PASS %s" % a.case)
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
