#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""
terelay on VLAN sub-interfaces (issue 17): 802.1Q and 802.1ad (QinQ) tags on
the Teredo and the native side, through the real binary in --replay mode.

Two kinds of cases:

 * Tagged re-runs of conformance and server cases. A variant names the tags of
   each side (and whether the replay port behaves as a NIC that strips and
   inserts them: a drivers-cfg profile with vlan_/qinq_ strip and insert,
   simulated by replay.c with mbuf vlan_tci + RTE_MBUF_F_RX_*_STRIPPED on
   receipt and RTE_MBUF_F_TX_VLAN/QINQ on transmit). run_relay is wrapped:
   every input frame gets the tags of its side (IPv4/ARP Teredo, IPv6 native);
   every output frame must carry exactly the tags of its side, byte for byte;
   the tags are then removed and the case's own checks run unchanged — the
   same bytes frame by frame and every STATS.json counter exactly (rx/tx
   bytes with the tag bytes the relay's mbufs held accounted for).
 * Cases of their own: the drop reasons (vlan_wrong, vlan_missing,
   vlan_unexpected, priority tags accepted), ARP and ND answered and asked on
   the side's VLAN, and --check-config's view of the tags.

Run:  l2.py --terelay PATH --addr-tool PATH --case l2_q1 [-v] [--keep]
Exit status 0 = pass, 1 = fail, 2 = usage.
"""
import argparse
import os
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "conformance"))
sys.path.insert(0, os.path.join(HERE, "..", "server"))

import conformance as C  # noqa: E402
from conformance import Fail, check  # noqa: E402
import server as S  # noqa: E402
from scapy.all import ARP, Ether, ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6NDOptDstLLAddr, IPv6  # noqa: E402
from scapy.all import ICMPv6NDOptSrcLLAddr  # noqa: E402

TPID_Q, TPID_AD = 0x8100, 0x88a8
TEREDO, NATIVE = 0, 1

# ------------------------------------------------------------------ tags


def tag_bytes(tags):
    """tags: list of (tpid, vid), outermost first -> the bytes after the MACs."""
    return b"".join(struct.pack("!HH", t, v) for t, v in tags)


def side_of(ethertype):
    if ethertype in (0x0800, 0x0806):
        return TEREDO
    if ethertype == 0x86dd:
        return NATIVE
    return None


def add_tags(fr, tags):
    return fr[:12] + tag_bytes(tags) + fr[12:]


def inner_type(fr):
    """(ethertype after any tags, number of tags)."""
    off, n = 12, 0
    while len(fr) >= off + 2 and struct.unpack("!H", fr[off:off + 2])[0] in (TPID_Q, TPID_AD) and n < 3:
        off += 4
        n += 1
    return (struct.unpack("!H", fr[off:off + 2])[0] if len(fr) >= off + 2 else None), n


class Variant:
    def __init__(self, name, teredo, native, nic=False, doc=""):
        self.name, self.tags, self.nic, self.doc = name, (teredo, native), nic, doc

    def ini_keys(self):
        keys = []
        for side, tags in zip(("teredo", "native"), self.tags):
            if not tags:
                continue
            keys.append("%s_vlan = %d" % (side, tags[0][1]))
            if len(tags) == 2:
                keys.append("%s_inner_vlan = %d" % (side, tags[1][1]))
            default = TPID_Q if len(tags) == 1 else TPID_AD
            if tags[0][0] != default:
                keys.append("%s_outer_tpid = 0x%04x" % (side, tags[0][0]))
        return keys


VARIANTS = {
    "q1": Variant("q1", [(TPID_Q, 100)], [(TPID_Q, 200)],
                  doc="802.1Q: Teredo side VLAN 100, native side VLAN 200, one port, tags in software"),
    "q2": Variant("q2", [(TPID_AD, 10), (TPID_Q, 11)], [(TPID_Q, 20), (TPID_Q, 21)],
                  doc="QinQ: Teredo 0x88a8 10/11, native with a 0x8100 outer tag 20/21, in software"),
    "mixed": Variant("mixed", [(TPID_AD, 30), (TPID_Q, 31)], [],
                     doc="Teredo side QinQ 30/31, native side untagged on the same port"),
    "mixed_native": Variant("mixed_native", [], [(TPID_Q, 4094)],
                            doc="Teredo side untagged, native side VLAN 4094"),
    "nic1": Variant("nic1", [(TPID_Q, 100)], [(TPID_Q, 200)], nic=True,
                    doc="q1 with a NIC that strips and inserts the tags (profile offloads, simulated)"),
    "nic2": Variant("nic2", [(TPID_AD, 10), (TPID_Q, 11)], [(TPID_AD, 20), (TPID_Q, 21)], nic=True,
                    doc="QinQ 0x88a8 on both sides with a NIC that strips and inserts them (simulated)"),
}

NIC_PROFILE = """\
; SPDX-License-Identifier: BSD-3-Clause
; tests/l2: a NIC with VLAN and QinQ strip / insert, simulated by the replay port
[profile]
driver = pcap
source = tests/l2/l2.py (replay simulation of a stripping / inserting NIC)

[offloads]
vlan_strip = true
vlan_insert = true
qinq_strip = true
qinq_insert = true
"""


def with_ports_keys(ini, keys):
    if not keys:
        return ini
    add = "".join(k + "\n" for k in keys)
    if "\n[ports]\n" in ini:
        return ini.replace("\n[ports]\n", "\n[ports]\n" + add, 1)
    return ini + "\n[ports]\n" + add


# ------------------------------------------------------------------ the wrapper

_orig_run_relay = C.run_relay
_orig_generic = C.generic_checks
_profile_dir = []


def profile_path():
    if not _profile_dir:
        d = tempfile.mkdtemp(prefix="terelay-l2-profile-")
        with open(os.path.join(d, "nicvlan.ini"), "w") as f:
            f.write(NIC_PROFILE)
        _profile_dir.append(d)
    return os.path.join(_profile_dir[0], "nicvlan.ini")


def untag_outputs(frames, v, what):
    """Check every output frame carries its side's tags exactly; return them untagged and
    the tag bytes the relay's mbufs held (software tags: counted in tx_bytes)."""
    out, tx_tag_bytes = [], 0
    for i, fr in enumerate(frames):
        et, n = inner_type(fr)
        side = side_of(et)
        want = v.tags[side] if side is not None else []
        got = fr[12:12 + 4 * n]
        check(n == len(want) and got == tag_bytes(want),
              "%s: output frame %d (%s) carries tags [%s], its side (%s) wants [%s]"
              % (what, i, C.describe(fr[:12] + fr[12 + 4 * n:]), got.hex(" "),
                 {TEREDO: "teredo", NATIVE: "native"}.get(side, "none"), tag_bytes(want).hex(" ")))
        if not v.nic:
            tx_tag_bytes += 4 * n
        out.append(fr[:12] + fr[12 + 4 * n:])
    return out, tx_tag_bytes


def make_run_relay(v):
    def run_relay(frames, ini=None, lcores=None, label="run", drain=0):
        ini = ini if ini is not None else C.fixture_ini()
        keys = v.ini_keys()
        if v.nic:
            keys.append("profile = %s" % profile_path())
        ini = with_ports_keys(ini, keys)
        tagged, rx_tag_bytes = [], 0
        for t, fr in frames:
            side = side_of(struct.unpack("!H", fr[12:14])[0]) if len(fr) >= 14 else None
            tags = v.tags[side] if side is not None else []
            tagged.append((t, add_tags(fr, tags) if tags else fr))
            if not v.nic:
                rx_tag_bytes += 4 * len(tags)
        C.generic_checks = lambda res: None
        try:
            res = _orig_run_relay(tagged, ini=ini, lcores=lcores, label="%s-%s" % (label, v.name),
                                  drain=drain)
        finally:
            C.generic_checks = _orig_generic
        res.frames, tx_tag_bytes = untag_outputs(res.frames, v, label)
        res.nin_bytes = sum(len(x[1]) for x in frames)
        st = res.stats
        st["rx_bytes"] -= rx_tag_bytes
        st["tx_bytes"] -= tx_tag_bytes
        _orig_generic(res)
        return res
    return run_relay


# Conformance and server cases re-run under every variant: encapsulation and
# decapsulation, bubbles (indirect, with the nonce trailer), queued packets
# flushed, ICMPv6 errors both ways (to the native host and back to a client),
# fragments, trailers, and the server role's advertisements and forwards (and
# its ARP).
CONF_CASES = ["T02", "T04", "T10", "T13", "T14", "T17", "T18", "T26", "T40", "T43"]
SERVER_CASES = ["S00_worked_pair", "S03", "S20", "server_arp", "server_combined_bubble"]


def tagged_suite(v):
    C.run_relay = make_run_relay(v)
    try:
        for n in CONF_CASES:
            try:
                C.CASES[n]()
            except Fail as e:
                raise Fail("conformance %s under %s (%s): %s" % (n, v.name, v.doc, e))
        for n in SERVER_CASES:
            try:
                S.CASES[n]()
            except Fail as e:
                raise Fail("server %s under %s (%s): %s" % (n, v.name, v.doc, e))
    finally:
        C.run_relay = _orig_run_relay


# ------------------------------------------------------------------ cases of their own

def q(vid, tpid=TPID_Q):
    return (tpid, vid)


def drops_case():
    """Drop reasons: Teredo side VLAN 100, native side QinQ 0x88a8 10/20 on one port.
    Wrong VLAN / TPID / inner VLAN / number of tags -> vlan_wrong, untagged and priority-
    tagged -> vlan_missing; with untagged sides, VLAN 5 -> vlan_unexpected and priority
    tags (VLAN 0, PCP 5) accepted: the frame is handled as untagged, byte for byte."""
    ini = with_ports_keys(C.fixture_ini(), ["teredo_vlan = 100", "native_vlan = 10",
                                            "native_inner_vlan = 20"])
    d = C.ip6_udp(C.A, C.H, b"vlan")
    tfr = C.data_from_a(d)                     # Teredo side frame (unknown peer)
    nfr = C.f_native(C.ip6_echo(C.H, "2001:db8::99"))  # native frame (tx_not_teredo)
    cap = [
        add_tags(tfr, [q(101)]),                         # vlan_wrong: other VLAN
        add_tags(tfr, [q(100, TPID_AD)]),                # vlan_wrong: other TPID
        add_tags(tfr, [q(100), q(7)]),                   # vlan_wrong: two tags for one
        add_tags(tfr, [q(10, TPID_AD), q(20)]),          # vlan_wrong: the native side's tags
        tfr,                                             # vlan_missing: untagged
        add_tags(tfr, [q(0)]),                           # vlan_missing: priority tag only
        add_tags(nfr, [q(10, TPID_AD), q(21)]),          # vlan_wrong: other inner VLAN
        add_tags(nfr, [q(11, TPID_AD), q(20)]),          # vlan_wrong: other outer VLAN
        add_tags(nfr, [q(10, TPID_Q), q(20)]),           # vlan_wrong: 0x8100 outer for 0x88a8
        add_tags(nfr, [q(10, TPID_AD)]),                 # vlan_wrong: one tag of a pair
        add_tags(nfr, [q(10, TPID_AD), q(20), q(5)]),    # vlan_wrong: a third tag
        nfr,                                             # vlan_missing
        add_tags(tfr, [q(100)]),                         # passes: rx_unknown_peer
        add_tags(nfr, [q(10, TPID_AD), q(20)]),          # passes: tx_not_teredo
        add_tags(C.f_tick(), [q(100)]),                  # no side: eth_unknown_type
    ]
    res = _orig_run_relay([(0.001 * i, f) for i, f in enumerate(cap)], ini=ini, label="l2drops")
    C.expect_count(res, 0)
    C.check_stats(res, C.Exp().drop("vlan_wrong", 9).drop("vlan_missing", 3)
                  .drop("rx_unknown_peer").drop("tx_not_teredo").drop("eth_unknown_type"))

    # Untagged sides: a VLAN is unexpected, a priority tag is no VLAN.
    cap = [add_tags(tfr, [q(5)]), add_tags(nfr, [q(5)]), add_tags(nfr, [q(0), q(5)])]
    res = _orig_run_relay([(0.001 * i, f) for i, f in enumerate(cap)], label="l2unexpected")
    C.expect_count(res, 0)
    C.check_stats(res, C.Exp().drop("vlan_unexpected", 3))

    # Priority-tagged (VLAN 0 with PCP 5, 0x8100 and 0x88a8) where untagged is configured:
    # T14's trusted peer and the §2.8 echo, encapsulated byte for byte as if untagged.
    cap = C.Cap()
    C.trust_a(cap)
    cap.frames = [(t, add_tags(f, [(TPID_Q, 0xa000)])) for t, f in cap.frames]
    cap.add(1.0, add_tags(C.f_native(C.ECHO_28), [(TPID_AD, 0x0000)]))
    res = _orig_run_relay(cap.frames, label="l2priority")
    C.expect_count(res, 3)
    C.check_trust_outputs(res)
    C.check_encap(res.frames[2], C.dec_hop(C.ECHO_28))
    st = res.stats
    check(st["rx_bytes"] == sum(len(f) for _, f in cap.frames),
          "rx_bytes %s (priority tags are in the frames)" % st["rx_bytes"])
    res.nin_bytes = st["rx_bytes"]
    C.check_stats(res, C.Exp().trust_prelude().native_encap(1))


def neigh_case():
    """ARP and ND on tagged sides (Teredo VLAN 100, native QinQ 0x88a8 10/20): requests for the
    relay's addresses answered with the side's tags, requests the relay sends (ARP for an on-link
    IPv4 next hop, NS for the IPv6 gateway) tagged, replies learnt per side."""
    ini = C.fixture_ini().replace("ipv4_gateway_mac = 02:00:00:00:00:04\n", "").replace(
        "ipv6_gateway_mac = 02:00:00:00:00:06\n", "ipv6_gateway = 2001:db8::fffe\n")
    ini = with_ports_keys(ini, ["teredo_vlan = 100", "native_vlan = 10", "native_inner_vlan = 20"])
    tq = [q(100)]
    nq = [q(10, TPID_AD), q(20)]
    relay_mac = C.RELAY_MAC
    arp_req = bytes(Ether(dst="ff:ff:ff:ff:ff:ff", src=C.GW4_MAC) /
                    ARP(op=1, hwsrc=C.GW4_MAC, psrc="198.51.100.254", pdst=C.R4))
    ns = bytes(Ether(dst="33:33:ff:00:00:01", src=C.GW6_MAC) /
               IPv6(src="2001:db8::fffe", dst="ff02::1:ff00:1", hlim=255) /
               ICMPv6ND_NS(tgt=C.R6) / ICMPv6NDOptSrcLLAddr(lladdr=C.GW6_MAC))
    na = bytes(Ether(dst=relay_mac, src=C.GW6_MAC) /
               IPv6(src="2001:db8::fffe", dst=C.R6, hlim=255) /
               ICMPv6ND_NA(tgt="2001:db8::fffe", R=1, S=1, O=1) / ICMPv6NDOptDstLLAddr(lladdr=C.GW6_MAC))
    frames = [(0.0, add_tags(arp_req, tq)), (0.01, add_tags(ns, nq)), (0.02, add_tags(na, nq)),
              (0.2, add_tags(C.f_native(C.ECHO_28), nq))]
    res = _orig_run_relay(frames, ini=ini, label="l2neigh", drain=1)
    out = res.frames
    want_arp = add_tags(bytes(Ether(dst=C.GW4_MAC, src=relay_mac) /
                              ARP(op=2, hwsrc=relay_mac, psrc=C.R4, hwdst=C.GW4_MAC,
                                  pdst="198.51.100.254")), tq)
    want_na = add_tags(bytes(Ether(dst=C.GW6_MAC, src=relay_mac) /
                             IPv6(src=C.R6, dst="2001:db8::fffe", hlim=255) /
                             ICMPv6ND_NA(tgt=C.R6, R=0, S=1, O=1) /
                             ICMPv6NDOptDstLLAddr(lladdr=relay_mac)), nq)
    snm = "ff02::1:ff00:fffe"
    want_ns = add_tags(bytes(Ether(dst="33:33:ff:00:ff:fe", src=relay_mac) /
                             IPv6(src=C.R6, dst=snm, hlim=255) / ICMPv6ND_NS(tgt="2001:db8::fffe") /
                             ICMPv6NDOptSrcLLAddr(lladdr=relay_mac)), nq)
    # The bubble for A needs S's MAC: on link, so an ARP request for 203.0.113.120.
    want_arp_req = add_tags(bytes(Ether(dst="ff:ff:ff:ff:ff:ff", src=relay_mac) /
                                  ARP(op=1, hwsrc=relay_mac, psrc=C.R4, hwdst="00:00:00:00:00:00",
                                      pdst=C.S)), tq)
    for name, w in (("ARP reply", want_arp), ("NA", want_na), ("NS for the gateway", want_ns),
                    ("ARP request for the server", want_arp_req)):
        check(w in out, "%s missing or not byte-exact: want %s\n   got:\n     %s"
              % (name, w.hex(), "\n     ".join(f.hex() for f in out)))
    st = res.stats
    check(st["arp_replies"] == 1 and st["nd_adverts"] == 1, "arp_replies %s nd_adverts %s"
          % (st["arp_replies"], st["nd_adverts"]))
    check(st["nd_solicits"] >= 1 and st["arp_requests"] >= 1, "nd_solicits %s arp_requests %s"
          % (st["nd_solicits"], st["arp_requests"]))
    check(sum(st["drops"].values()) == 0, "drops: %s" % {k: v for k, v in st["drops"].items() if v})
    # The NA from the gateway was learnt: the NS after it went out only before (at start).
    check(st["accounting_ok"] is True, "accounting_ok %r" % st["accounting_ok"])


def check_config_case():
    """--check-config names the tags of each side and who handles them: software on net_null
    (no VLAN offload), and rejects a bad VLAN with one line."""
    d = tempfile.mkdtemp(prefix="terelay-l2-check-")
    try:
        cfg = os.path.join(d, "relay.ini")
        with open(cfg, "w") as f:
            f.write(with_ports_keys(C.fixture_ini(), ["teredo_vlan = 100", "native_vlan = 10",
                                                     "native_inner_vlan = 20"]))
        cmd = [C.Env.terelay, "--no-huge", "--no-shconf", "-m", "512", "--no-pci", "-l", "0,1",
               "--vdev", "net_null0", "--file-prefix", "l2check%d" % os.getpid(), "--",
               "-c", cfg, "--check-config"]
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        out = p.stdout.decode(errors="replace")
        check(p.returncode == 0, "--check-config exited %d:\n%s" % (p.returncode, out[-2000:]))
        for line in ("ports.teredo_vlan = 100", "ports.native_inner_vlan = 20",
                     "  vlan: teredo side VLAN 100 (TPID 0x8100): rx strip in software, tx insert in software",
                     "  vlan: native side QinQ outer VLAN 10 (TPID 0x88a8), inner VLAN 20: rx strip in "
                     "software, tx insert in software"):
            check(line in out.splitlines(), "--check-config lacks %r:\n%s" % (line, out[-3000:]))
        with open(cfg, "w") as f:
            f.write(with_ports_keys(C.fixture_ini(), ["teredo_vlan = 4095"]))
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        err = p.stderr.decode(errors="replace").strip().splitlines()
        check(p.returncode == 2 and len(err) == 1 and
              err[0].endswith("[ports] teredo_vlan = 4095: must be between 1 and 4094"),
              "bad VLAN: exit %d, stderr %r" % (p.returncode, err))
    finally:
        shutil.rmtree(d, ignore_errors=True)


CASES = {"l2_%s" % k: (lambda v=v: tagged_suite(v)) for k, v in VARIANTS.items()}
CASES["l2_drops"] = drops_case
CASES["l2_neigh"] = neigh_case
CASES["l2_check_config"] = check_config_case


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--terelay", required=True)
    ap.add_argument("--addr-tool")
    ap.add_argument("--case", action="append")
    ap.add_argument("--all", action="store_true")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    names = list(CASES) if a.all else (a.case or [])
    if not names:
        ap.error("give --case NAME or --all")
    C.Env.terelay = os.path.abspath(a.terelay)
    C.Env.addr_tool = os.path.abspath(a.addr_tool) if a.addr_tool else None
    C.Env.verbose = a.verbose
    C.Env.keep = a.keep
    C.Env.drop_names = C.load_drop_names()
    failed = []
    for n in names:
        if n not in CASES:
            ap.error("unknown case %s" % n)
        del C._dirs[:]
        try:
            CASES[n]()
        except Fail as e:
            print("FAIL %s: %s" % (n, e))
            failed.append(n)
            continue
        print("PASS %s" % n)
        if not a.keep:
            for d in C._dirs:
                shutil.rmtree(d, ignore_errors=True)
    for d in _profile_dir:
        shutil.rmtree(d, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
