#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""terelay over DPDK's bonding PMD (net_bonding), in a network namespace:
two veth pairs, terelay's bond on one end of each (net_af_packet members),
the other ends captured.

  bond.py --terelay T --case l2_bond_lacpdu | l2_bond_active_backup

l2_bond_lacpdu: mode 4 (802.3ad) with no traffic at all: LACPDUs leave on
both members about once a second (the control lcore's empty tx bursts; without
them 22.11's bonding sends none), from one actor system (the bond's MAC) with
distinct port numbers, and /terelay/bond shows the mode, both members and the
keep-alive bursts. The LACP exchange with an independent partner (Open
vSwitch) and traffic through the bond are in the interop suite
(interop_terelay_bond).

l2_bond_active_backup: mode 1: no LACPDU on either member, no keep-alive
bursts, /terelay/bond shows the primary and both members active.
"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

from scapy.all import rdpcap  # noqa: E402  (python3-scapy, /usr/bin/python3)

NS = "trbond%d" % os.getpid()
PREFIX = "trbond%d" % os.getpid()
SLOW_PROTOCOLS = 0x8809
LACP_GROUP = "01:80:c2:00:00:02"
RUN_S = 4.0

A = None


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def sh(cmd):
    subprocess.run(cmd, shell=True, check=True)


def nsx(cmd):
    return ["ip", "netns", "exec", NS] + cmd


def tel(cmd):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        s.connect("/var/run/dpdk/%s/dpdk_telemetry.v2" % PREFIX)
        hello = json.loads(s.recv(16384).decode())
        s.send(cmd.encode())
        reply = json.loads(s.recv(int(hello["max_output_len"])).decode())
    finally:
        s.close()
    return reply[cmd]


CFG = """[relay]
ipv4 = 198.51.100.1
ipv6 = 2001:db8:ffff::1
served = 2001:db8::/32
[ports]
teredo = net_bonding0
native = net_bonding0
mbufs = 4096
profile = "bonding"
"""


def lacpdus(pcap):
    """(actor system MAC, actor port) of every LACPDU (slow protocols subtype 1) in pcap."""
    out = []
    for p in rdpcap(pcap):
        raw = bytes(p)
        if len(raw) < 14 + 22 or int.from_bytes(raw[12:14], "big") != SLOW_PROTOCOLS:
            continue
        check(raw[0:6] == bytes.fromhex(LACP_GROUP.replace(":", "")),
              "slow-protocols frame to %s, not the LACP group" % raw[0:6].hex(":"))
        if raw[14] != 1:            # subtype 1 = LACP (2 = marker)
            continue
        # IEEE 802.1AX LACPDU: subtype, version, then the actor TLV (type 1, length 20):
        # system priority (2), system (6), key (2), port priority (2), port (2), state (1)
        check(raw[16] == 1 and raw[17] == 20, "LACPDU without the actor TLV first: %s" % raw[14:40].hex())
        out.append((raw[20:26].hex(":"), int.from_bytes(raw[30:32], "big")))
    return out


def run(mode):
    tmp = tempfile.mkdtemp(prefix="trbond-")
    sh("ip netns add %s" % NS)
    caps = []
    relay = None
    try:
        for i in (0, 1):
            sh("ip -n %s link add m%d type veth peer name p%d" % (NS, i, i))
            sh("ip -n %s link set m%d up && ip -n %s link set p%d up" % (NS, i, NS, i))
        for i in (0, 1):
            caps.append(subprocess.Popen(nsx(["tcpdump", "-i", "p%d" % i, "-w", "%s/p%d.pcap" % (tmp, i),
                                              "-U", "ether", "proto", str(SLOW_PROTOCOLS)]),
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        time.sleep(0.5)
        cfg = os.path.join(tmp, "relay.ini")
        with open(cfg, "w") as f:
            f.write(CFG)
        log = open(os.path.join(tmp, "terelay.log"), "w+")
        env = dict(os.environ, TERELAY_PROFILE_DIR=A.profiles)
        relay = subprocess.Popen(nsx([A.terelay, "--no-huge", "--no-shconf", "-m", "512", "--no-pci",
                                      "--log-level=lib.eal:error", "--file-prefix", PREFIX,
                                      "--lcores", "0@0,1@1",
                                      "--vdev", "net_af_packet0,iface=m0,qpairs=2",
                                      "--vdev", "net_af_packet1,iface=m1,qpairs=2",
                                      "--vdev", "net_bonding0,mode=%d,slave=net_af_packet0,"
                                                "slave=net_af_packet1" % mode,
                                      "--", "-c", cfg]), stdout=log, stderr=subprocess.STDOUT, env=env)
        end = time.time() + 20
        bond = None
        while time.time() < end:
            check(relay.poll() is None, "terelay exited %s" % relay.returncode)
            try:
                bond = tel("/terelay/bond")
                if bond is not None:
                    break
            except (OSError, ValueError, KeyError):
                time.sleep(0.2)
        if bond is None:
            log.seek(0)
            raise Fail("no /terelay/bond from terelay within 20 s:\n%s" % log.read()[-2000:])
        t0 = time.time()
        time.sleep(RUN_S)
        bond = tel("/terelay/bond")
        elapsed = time.time() - t0
        print("/terelay/bond after %.1f s: %s" % (elapsed, json.dumps(bond, sort_keys=True)))
        relay.send_signal(2)
        relay.wait(timeout=30)
        check(relay.returncode == 0, "terelay exited %d" % relay.returncode)
        log.seek(0)
        print(log.read()[-1500:])
    finally:
        if relay is not None and relay.poll() is None:
            relay.kill()
        for c in caps:
            c.terminate()
            c.wait()
        subprocess.run("ip netns del %s" % NS, shell=True)
    pd = [lacpdus("%s/p%d.pcap" % (tmp, i)) for i in (0, 1)]
    shutil.rmtree(tmp)
    t = bond.get("teredo")
    check(isinstance(t, dict), "/terelay/bond has no teredo bond: %r" % bond)
    check(t["mode"] == mode, "bond mode %r, expected %d" % (t["mode"], mode))
    check(t["members"] == "net_af_packet0,net_af_packet1", "members %r" % t["members"])
    check("native" not in bond, "one bond carries both sides but native is listed apart: %r" % bond)
    return bond, t, pd


def case_l2_bond_lacpdu():
    bond, t, pd = run(4)
    check(t["mode_name"] == "802.3ad", "mode_name %r" % t["mode_name"])
    for i in (0, 1):
        print("p%d: %d LACPDUs %s" % (i, len(pd[i]), sorted(set(pd[i]))))
        # the periodic machine's fast rate (1 s) before a partner answers: >= RUN_S - 1 each
        check(len(pd[i]) >= RUN_S - 1, "member %d sent %d LACPDUs in %.0f s with no traffic, "
              "expected >= %d" % (i, len(pd[i]), RUN_S, RUN_S - 1))
    systems = {s for d in pd for s, _ in d}
    check(systems == {t["mac"].lower()}, "LACPDUs from actor systems %r, expected the bond's MAC %s only"
          % (systems, t["mac"]))
    ports = [{p for _, p in d} for d in pd]
    check(len(ports[0]) == 1 and len(ports[1]) == 1 and ports[0] != ports[1],
          "actor ports %r: expected one distinct port number per member" % ports)
    for m in ("net_af_packet0", "net_af_packet1"):
        st = t["%s_actor_state" % m]
        check("active" in st.split(","), "%s actor state %r: not LACP active" % (m, st))
        check(t["%s_selected" % m] != "selected" or "defaulted" not in t["%s_partner_state" % m].split(","),
              "%s selected with a defaulted partner: %r" % (m, t))
    # 10 ms period: at least 100 bursts a second, allowing for a busy machine
    check(bond["keepalive_bursts"] >= 100 * (RUN_S - 1),
          "keepalive_bursts %d after %.0f s, expected >= %d" % (bond["keepalive_bursts"], RUN_S,
                                                               100 * (RUN_S - 1)))
    check(t["n_lacp_up"] == 0, "n_lacp_up %d with no partner on the wire" % t["n_lacp_up"])


def case_l2_bond_active_backup():
    bond, t, pd = run(1)
    check(t["mode_name"] == "active-backup", "mode_name %r" % t["mode_name"])
    check(t.get("primary") == "net_af_packet0", "primary %r, expected net_af_packet0" % t.get("primary"))
    check(t["n_active"] == 2, "n_active %d, expected both members (links up)" % t["n_active"])
    check(bond["keepalive_bursts"] == 0, "keepalive_bursts %d in mode 1" % bond["keepalive_bursts"])
    check(pd == [[], []], "LACPDUs in active-backup mode: %r" % pd)
    check("net_af_packet0_actor_state" not in t, "LACP state reported in mode 1: %r" % t)


def main():
    global A
    ap = argparse.ArgumentParser()
    ap.add_argument("--terelay", required=True)
    ap.add_argument("--profiles", required=True)
    ap.add_argument("--case", required=True)
    A = ap.parse_args()
    for tool in ("ip", "tcpdump"):
        if shutil.which(tool) is None:
            print("FAIL: missing tool %s (scripts/setup-deps.sh)" % tool)
            return 1
    try:
        globals()["case_" + A.case]()
    except Fail as e:
        print("FAIL: %s" % e)
        return 1
    print("PASS %s" % A.case)
    return 0


if __name__ == "__main__":
    sys.exit(main())
