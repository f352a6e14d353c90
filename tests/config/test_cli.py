#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""
terelay bad configuration and start-up faults (issue 7, item 5), against the
real binary: every case must exit with status 2 (never a signal, never a DPDK
panic or backtrace) and print exactly one clear line on stderr:
`file:line: problem` for configuration-file problems, a `terelay: ...` line
for command-line and start-up problems.

Run: test_cli.py --terelay PATH [-v]
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

SECTIONS = [
    ("relay", ["ipv4 = 198.51.100.1", "port = 3545", "ipv6 = 2001:db8:ffff::1",
               "served = 2001:db8::/32"]),
    ("ports", ["teredo = 0", "native = 0"]),
    ("nexthop", ["ipv4_gateway_mac = 02:00:00:00:00:04", "ipv6_gateway_mac = 02:00:00:00:00:06"]),
    ("peers", ["capacity = 4096", "pending_capacity = 1024"]),
    ("queue", []), ("bubbles", []), ("icmp6", []), ("control", []), ("telemetry", []),
]

# (section, line added at the end of it or replacing the key, what the message must mention)
BAD_VALUES = [
    ("relay", "mtu = 99", "mtu"), ("relay", "mtu = abc", "mtu"), ("relay", "ttl = 0", "ttl"),
    ("relay", "port = 0", "port"), ("relay", "port = 70000", "port"),
    ("relay", "ipv4 = 224.0.0.1", "ipv4"), ("relay", "ipv4 = 1.2.3", "ipv4"),
    ("relay", "ipv4 = 0.0.0.0", "ipv4"), ("relay", "ipv6 = ff02::1", "ipv6"),
    ("relay", "ipv6 = ::", "ipv6"), ("relay", "served = 2001:db8::1/32", "served"),
    ("relay", "served = 2001:db8::/129", "served"), ("relay", "mtu = -1", "mtu"),
    ("relay", "mtu = 0x500", "mtu"), ("relay", "ipv4 =", "ipv4"),
    ("ports", "burst = 0", "burst"), ("ports", "burst = 65", "burst"),
    ("ports", "rx_desc = 8", "rx_desc"), ("ports", "mbufs = 10", "mbufs"),
    ("ports", "teredo = has space", "teredo"),
    ("nexthop", "ipv4_gateway = 300.1.1.1", "ipv4_gateway"),
    ("nexthop", "ipv6_gateway = zz::1", "ipv6_gateway"),
    ("nexthop", "neigh_timeout = 0", "neigh_timeout"),
    ("peers", "shards = 3", "shards"), ("peers", "capacity = 100", "capacity"),
    ("peers", "pending_capacity = 8", "pending_capacity"),
    ("peers", "accept_unknown = maybe", "accept_unknown"), ("peers", "validity = 0", "validity"),
    ("queue", "peer_bytes = 100", "peer_bytes"), ("queue", "peer_packets = 0", "peer_packets"),
    ("queue", "global_packets = 1k", "global_packets"),
    ("bubbles", "interval = 50", "interval"), ("bubbles", "rate = 0", "rate"),
    ("bubbles", "secret = xyz", "secret"), ("bubbles", "nonce_trailer = 2", "nonce_trailer"),
    ("icmp6", "rate = 0", "rate"), ("icmp6", "burst = 0", "burst"),
    ("control", "ring = 100", "ring"), ("control", "ring = 32", "ring"),
    ("control", "ring = 2097152", "ring"),
    ("telemetry", "prometheus = nope", "prometheus"),
    ("telemetry", "summary_interval = -1", "summary_interval"),
    # structural
    ("relay", "mtux = 1280", "mtux"), ("relay", "port = 3546", "port"),   # duplicate key
    ("relay", "this is not a key value line", ""),
]
MAC_CASES = [("nexthop", "ipv4_gateway_mac = 01:00:5e:00:00:01", "ipv4_gateway_mac"),
             ("nexthop", "ipv6_gateway_mac = 00:00:00:00:00:00", "ipv6_gateway_mac")]


def render(extra=None, drop=None, head=""):
    """Returns (text, line number of the extra line)."""
    lines = [head] if head else []
    at = 0
    for sec, keys in SECTIONS:
        lines.append("[%s]" % sec)
        for k in keys:
            name = k.split("=")[0].strip()
            if drop and (sec, name) == drop:
                continue
            if extra and extra[0] == sec and extra[1].split("=")[0].strip() == name \
                    and "mtux" not in extra[1] and extra[1] != "port = 3546":
                continue   # replaced below
            lines.append(k)
        if extra and extra[0] == sec:
            lines.append(extra[1])
            at = len(lines)
        lines.append("")
    return "\n".join(lines) + "\n", at


class Fail(Exception):
    pass


def run(exe, args, prefix):
    cmd = [exe, "--no-huge", "--no-shconf", "-m", "256", "--no-pci", "-l", "0",
           "--file-prefix", prefix, "--log-level=lib.eal:error"]
    if args and args[0] == "--eal":
        cmd = [exe] + args[1:]
    else:
        cmd += ["--"] + args
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    return p, cmd


def check_common(p, cmd, what):
    err = p.stderr.decode(errors="replace")
    out = p.stdout.decode(errors="replace")
    if p.returncode < 0:
        raise Fail("%s: killed by signal %d\n%s" % (what, -p.returncode, err))
    if p.returncode != 2:
        raise Fail("%s: exit status %d, expected 2\ncommand: %s\nstderr:\n%s\nstdout:\n%s"
                   % (what, p.returncode, " ".join(cmd), err, out[-1000:]))
    for bad in ("PANIC", "Backtrace", "Segmentation", "AddressSanitizer", "runtime error",
                "Aborted", "core dumped"):
        if bad in err or bad in out:
            raise Fail("%s: %r in the output\n%s" % (what, bad, err))
    return err


def file_case(exe, work, n, text, want_line, must_mention, what, verbose, extra_args=()):
    path = os.path.join(work, "c%d.ini" % n)
    with open(path, "w") as f:
        f.write(text)
    p, cmd = run(exe, ["-c", path] + list(extra_args), "cli%d_%d" % (os.getpid(), n))
    err = check_common(p, cmd, what)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    pat = re.compile(r"^%s:(\d+): (.+)$" % re.escape(path))
    hits = [ln for ln in lines if pat.match(ln)]
    if len(lines) != 1 or len(hits) != 1:
        raise Fail("%s: expected exactly one line 'file:line: problem' on stderr, got %d lines:\n%s"
                   % (what, len(lines), err))
    m = pat.match(hits[0])
    if want_line is not None and int(m.group(1)) != want_line:
        raise Fail("%s: line %s, expected %d: %s" % (what, m.group(1), want_line, hits[0]))
    if must_mention and must_mention not in m.group(2):
        raise Fail("%s: message does not name %r: %s" % (what, must_mention, hits[0]))
    if verbose:
        print("   ok  %-45s %s" % (what, hits[0].replace(path, "FILE")))


def other_case(exe, args, pattern, what, verbose, n, max_lines=1):
    """Command-line / start-up problems: the first stderr line is terelay's own clear message
    (a usage text may follow for option errors; EAL's own log lines may precede an EAL failure
    when max_lines is None)."""
    p, cmd = run(exe, args, "cli%d_o%d" % (os.getpid(), n))
    err = check_common(p, cmd, what)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    mine = [ln for ln in lines if re.search(pattern, ln)]
    if len(mine) != 1:
        raise Fail("%s: expected one line matching %r on stderr, got:\n%s" % (what, pattern, err))
    if max_lines is not None:
        nonusage = [ln for ln in lines if not ln.startswith(("usage:", "  ", "terelay: unrecognized",
                                                              "terelay: invalid", "terelay: option"))
                    and ln not in mine]
        # getopt's own complaint (e.g. "unrecognized option") counts as the clear line too
        if nonusage:
            raise Fail("%s: unexpected stderr lines:\n%s" % (what, err))
    if verbose:
        print("   ok  %-45s %s" % (what, mine[0]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--terelay", required=True)
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    exe = os.path.abspath(a.terelay)
    work = tempfile.mkdtemp(prefix="terelay-cli-")
    failed = []
    n = 0

    def attempt(fn, *args):
        nonlocal n
        n += 1
        try:
            fn(*args)
        except (Fail, subprocess.TimeoutExpired) as e:
            failed.append(str(e))
            print("FAIL %s" % e)

    for sec, line, mention in BAD_VALUES + MAC_CASES:
        text, at = render((sec, line))
        attempt(file_case, exe, work, n, text, at, mention, "[%s] %s" % (sec, line), a.verbose)
    text, _ = render()
    attempt(file_case, exe, work, n, text + "[nosuchsection]\nx = 1\n", len(text.splitlines()) + 1,
            "nosuchsection", "unknown section", a.verbose)
    attempt(file_case, exe, work, n, text + "[relay]\n", len(text.splitlines()) + 1, "relay",
            "section given twice", a.verbose)
    attempt(file_case, exe, work, n, "mtu = 1280\n" + text, 1, "", "key before any section", a.verbose)
    text, _ = render(drop=("relay", "ipv4"))
    attempt(file_case, exe, work, n, text, 0, "ipv4", "missing required [relay] ipv4", a.verbose)
    text, _ = render(drop=("relay", "ipv6"))
    attempt(file_case, exe, work, n, text, 0, "ipv6", "missing required [relay] ipv6", a.verbose)
    attempt(file_case, exe, work, n, "", 0, "ipv4", "empty file", a.verbose)
    text, at = render(("peers", "pending_capacity = 8192"))
    attempt(file_case, exe, work, n, text, None, "pending_capacity",
            "pending_capacity above capacity", a.verbose)
    # missing / unreadable file
    nofile = os.path.join(work, "nonexistent.ini")

    def missing_file():
        p, cmd = run(exe, ["-c", nofile], "cli%d_m" % os.getpid())
        err = check_common(p, cmd, "missing file")
        lines = [ln for ln in err.splitlines() if ln.strip()]
        if lines != ["%s:0: cannot open: No such file or directory" % nofile]:
            raise Fail("missing file: stderr %r" % err)
        if a.verbose:
            print("   ok  %-45s %s" % ("missing file", lines[0]))
    attempt(missing_file)
    good, _ = render()
    gpath = os.path.join(work, "good.ini")
    with open(gpath, "w") as f:
        f.write(good)
    # bad port name in [ports]: found only after EAL start-up (no such ethdev)
    text, at = render(("ports", "teredo = nosuchport"))
    bpath = os.path.join(work, "badport.ini")
    with open(bpath, "w") as f:
        f.write(text)
    attempt(other_case, exe, ["-c", bpath], r"^%s:\d+: \[ports\] teredo = nosuchport: "
            % re.escape(bpath), "bad port name in [ports]", a.verbose, n, None)
    text, at = render(("ports", "native = net_nothere0"))
    text = text.replace("teredo = 0", "teredo = net_null0")
    bpath2 = os.path.join(work, "badport2.ini")
    with open(bpath2, "w") as f:
        f.write(text)
    attempt(other_case, exe, ["--eal", "--no-huge", "--no-shconf", "-m", "256", "--no-pci", "-l", "0,1",
                              "--file-prefix", "cli%d_n" % os.getpid(), "--log-level=lib.eal:error",
                              "--vdev", "net_null0", "--", "-c", bpath2],
            r"^%s:\d+: \[ports\] native = net_nothere0: "
            % re.escape(bpath2), "bad native port name", a.verbose, n, None)
    # command line
    attempt(other_case, exe, [], r"^terelay: -c FILE is required$", "missing -c", a.verbose, n)

    def help_text():
        """`terelay --help` (no "--") and `terelay -- --help`: the usage on stdout, exit 0,
        nothing on stderr (it printed "-c FILE is required" first)."""
        for args in (["--help"], ["-h"], ["--", "--help"]):
            p = subprocess.run([exe] + args, capture_output=True, text=True, timeout=30)
            if p.returncode != 0 or p.stderr or not p.stdout.startswith("usage: "):
                raise Fail("help %s: exit %d, stdout %r, stderr %r"
                           % (args, p.returncode, p.stdout[:80], p.stderr))
        p = subprocess.run([exe], capture_output=True, text=True, timeout=30)
        if p.returncode == 0 or not p.stderr.startswith("usage: ") or p.stdout:
            raise Fail("no arguments: exit %d, stdout %r, stderr %r" % (p.returncode, p.stdout, p.stderr[:80]))
        if a.verbose:
            print("   ok  %-45s %s" % ("--help", "usage on stdout, exit 0"))
    attempt(help_text)
    attempt(other_case, exe, ["-c", gpath, "--frobnicate"], r"unrecognized option|invalid option",
            "bad option", a.verbose, n)
    attempt(other_case, exe, ["-c", gpath, "stray"], r"^terelay: unexpected argument 'stray'$",
            "stray argument", a.verbose, n)
    attempt(other_case, exe, ["-c", gpath, "--replay", gpath], r"^terelay: --replay and --out go together$",
            "--replay without --out", a.verbose, n)
    for bad in ("-1", "x", "86401", ""):
        attempt(other_case, exe, ["-c", gpath, "--drain", bad],
                r"^terelay: --drain %s: expected whole seconds, 0 to 86400$" % re.escape(bad),
                "--drain %r" % bad, a.verbose, n)
    attempt(other_case, exe, ["-c", gpath, "--out", "/tmp/x.pcap"],
            r"^terelay: --replay and --out go together$", "--out without --replay", a.verbose, n)
    attempt(other_case, exe, ["-c", gpath, "--replay", "/nonexistent/in.pcap", "--out", "/tmp/o.pcap"],
            r"^terelay: /nonexistent/in\.pcap: No such file or directory$", "unreadable capture",
            a.verbose, n)
    unread = os.path.join(work, "unreadable.pcap")
    open(unread, "w").close()
    os.chmod(unread, 0)
    # root reads any file: as root the case runs terelay as nobody (setpriv), so that it runs
    # on every machine instead of silently not at all. The check is terelay's own, before EAL.
    as_user = exe
    if os.geteuid() == 0:
        as_user = os.path.join(work, "as-nobody.sh")
        with open(as_user, "w") as f:
            f.write('#!/bin/sh\nexec setpriv --reuid=65534 --regid=65534 --clear-groups %s "$@"\n' % exe)
        os.chmod(as_user, 0o755)
        os.chmod(work, 0o755)       # nobody must reach the file to be refused by its mode
    attempt(other_case, as_user, ["-c", gpath, "--replay", unread, "--out", "/tmp/o.pcap"],
            r"^terelay: .*unreadable\.pcap: Permission denied$", "capture without read permission",
            a.verbose, n)
    garbage = os.path.join(work, "garbage.pcap")
    with open(garbage, "wb") as f:
        f.write(b"this is not a pcap file at all\n" * 4)
    attempt(other_case, exe, ["--eal", "--no-huge", "--no-shconf", "-m", "256", "--no-pci", "-l", "0",
                              "--file-prefix", "cli%d_g" % os.getpid(), "--log-level=lib.eal:error",
                              "--", "-c", gpath, "--replay", garbage, "--out",
                              os.path.join(work, "o.pcap")],
            r"^terelay: ", "capture that is not a pcap file", a.verbose, n, None)
    # EAL failures: bad lcore list, unknown EAL option, bad -m
    for args, what in ((["-l", "0-99999"], "bad -l list"), (["-l", "abc"], "bad -l syntax"),
                       (["--no-such-eal-opt"], "unknown EAL option")):
        attempt(other_case, exe, ["--eal", "--no-huge", "--no-shconf", "-m", "256", "--no-pci",
                                  "--file-prefix", "cli%d_e" % os.getpid()] + args + ["--", "-c", gpath],
                r"^terelay: EAL initialisation failed", what, a.verbose, n, None)
    # the good file itself passes --check-config (so the cases above fail for their own reason)

    def good_file():
        p, cmd = run(exe, ["--eal", "--no-huge", "--no-shconf", "-m", "256", "--no-pci", "-l", "0,1",
                           "--file-prefix", "cli%d_ok" % os.getpid(), "--vdev", "net_null0",
                           "--", "-c", gpath, "--check-config"], "")
        if p.returncode != 0:
            raise Fail("the base configuration is rejected: %s" % p.stderr.decode())
    attempt(good_file)
    print("%d cases, %d failed" % (n, len(failed)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
