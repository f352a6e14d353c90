#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Cross-check terelay's Teredo address decoding against two independent oracles.

Usage: /usr/bin/python3 addr_scapy_check.py <path-to-addr_tool> N [seed]

Generates N seeded random addresses (mostly Teredo with random server, flags
including RFC 5991 random bits and the cone bit, port and client; some
non-Teredo, including the 2001:db8::/32 and 3ffe:831f::/32 look-alikes), runs
addr_tool once over all of them and compares each line with
scapy.utils6.teredoAddrExtractInfo (server, flag as a 16-bit int, mapped
addr, mapped port) and ipaddress.IPv6Address(a).teredo ((server, client) or
None). scapy performs no prefix check, so it is consulted for Teredo
addresses only. Needs /usr/bin/python3 (the interpreter that has scapy).
"""
import ipaddress
import random
import subprocess
import sys

from scapy.utils6 import teredoAddrExtractInfo

CONE = 0x8000
RANDOM_MASK = 0x3CFF  # RFC 5991 §3.1


def rand_flags(rng):
    kind = rng.randrange(5)
    if kind == 0:
        return 0x0000
    if kind == 1:
        return CONE
    if kind == 2:
        return rng.getrandbits(16) & RANDOM_MASK
    if kind == 3:
        return CONE | (rng.getrandbits(16) & RANDOM_MASK)
    return rng.getrandbits(16)  # every bit, z/U/G included: still decodes


def teredo_addr(server, flags, port, client):
    v = (0x20010000 << 96) | (server << 64) | (flags << 48)
    v |= (port ^ 0xFFFF) << 32 | (client ^ 0xFFFFFFFF)
    return ipaddress.IPv6Address(v)


def non_teredo(rng):
    kind = rng.randrange(5)
    low = rng.getrandbits(96)
    if kind == 0:
        return ipaddress.IPv6Address((0x20010DB8 << 96) | low)  # documentation
    if kind == 1:
        return ipaddress.IPv6Address((0x3FFE831F << 96) | low)  # pre-RFC Teredo
    if kind == 2:
        # one bit away from 2001:0000 in the prefix
        return ipaddress.IPv6Address(((0x20010000 ^ (1 << rng.randrange(32))) << 96) | low)
    if kind == 3:
        return ipaddress.IPv6Address(rng.choice([0, 1, 0xFFFF << 32 | rng.getrandbits(32)]))
    return ipaddress.IPv6Address(rng.getrandbits(128))


def spelled(rng, addr):
    # inet_pton must accept every spelling; vary it.
    kind = rng.randrange(3)
    if kind == 0:
        return str(addr)
    if kind == 1:
        return addr.exploded
    return addr.exploded.upper()


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit("usage: addr_scapy_check.py <addr_tool> N [seed]")
    tool, n = sys.argv[1], int(sys.argv[2])
    seed = int(sys.argv[3]) if len(sys.argv) == 4 else 4380
    rng = random.Random(seed)

    cases = []  # (text, addr, truth or None)
    for i in range(n):
        if i % 8 == 7:
            a = non_teredo(rng)
            cases.append((spelled(rng, a), a, None))
            continue
        server, client = rng.getrandbits(32), rng.getrandbits(32)
        flags, port = rand_flags(rng), rng.getrandbits(16)
        a = teredo_addr(server, flags, port, client)
        cases.append((spelled(rng, a), a, (server, flags, port, client)))

    stdin = "".join(text + "\n" for text, _, _ in cases)
    res = subprocess.run([tool], input=stdin, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        sys.exit(f"addr_tool exited with {res.returncode}: {res.stderr.strip()}")
    lines = res.stdout.splitlines()
    if len(lines) != len(cases):
        sys.exit(f"addr_tool printed {len(lines)} lines for {len(cases)} addresses")

    mismatches = 0

    def bad(text, why):
        nonlocal mismatches
        mismatches += 1
        if mismatches <= 20:
            print(f"MISMATCH {text}: {why}", file=sys.stderr)

    for (text, a, truth), got in zip(cases, lines):
        py = a.teredo
        if py is None:
            if got != "not-teredo":
                bad(text, f"ipaddress says not Teredo, addr_tool says {got!r}")
            continue
        if got == "not-teredo":
            bad(text, "ipaddress says Teredo, addr_tool says not-teredo")
            continue
        fields = got.split()
        if len(fields) != 4:
            bad(text, f"malformed addr_tool line {got!r}")
            continue
        t_server, t_client, t_port, t_flags = fields[0], fields[1], int(fields[2]), int(fields[3], 16)

        s_server, s_flag, s_client, s_port = teredoAddrExtractInfo(text)
        if (t_server, t_client, t_port, t_flags) != (s_server, s_client, s_port, s_flag):
            bad(text, f"scapy {(s_server, s_client, s_port, hex(s_flag))} vs addr_tool {got!r}")
            continue
        if (t_server, t_client) != (str(py[0]), str(py[1])):
            bad(text, f"ipaddress {(str(py[0]), str(py[1]))} vs addr_tool {got!r}")
            continue
        if truth is not None:
            server, flags, port, client = truth
            want = (str(ipaddress.IPv4Address(server)), str(ipaddress.IPv4Address(client)), port, flags)
            if (t_server, t_client, t_port, t_flags) != want:
                bad(text, f"generated {want} vs addr_tool {got!r}")

    if mismatches:
        print(f"{len(cases)} addresses checked, {mismatches} mismatches", file=sys.stderr)
        sys.exit(1)
    print(f"{len(cases)} addresses checked, 0 mismatches")


if __name__ == "__main__":
    main()
