#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Seed corpus of fuzz_relay from the conformance captures: every case's input
capture (conformance.py --dump-inputs) becomes one record stream (see
fuzz_relay.c: op byte with the clock advance in 250 ms steps, length, frame).
Run from the repository root; writes tests/fuzz/corpus/relay/."""
import glob
import os
import struct
import subprocess
import sys
import tempfile

from scapy.all import rdpcap

here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, "corpus", "relay")
os.makedirs(out, exist_ok=True)
with tempfile.TemporaryDirectory() as tmp:
    subprocess.run([sys.executable, os.path.join(here, "..", "conformance", "conformance.py"),
                    "--all", "--dump-inputs", tmp], check=False, stdout=subprocess.DEVNULL)
    # (cases that run no relay, T01/T02, have nothing to dump and may report failure here)
    for path in sorted(glob.glob(os.path.join(tmp, "*.pcap"))):
        recs = b""
        last = None
        for p in rdpcap(path)[:200]:        # big flood cases: their start is enough
            t = float(p.time)
            steps = 0 if last is None else min(15, int(round((t - last) / 0.25)))
            last = t if last is None else last + steps * 0.25
            fr = bytes(p)[:2048]
            recs += struct.pack("!BH", steps, len(fr)) + fr
        name = os.path.splitext(os.path.basename(path))[0]
        with open(os.path.join(out, name), "wb") as f:
            f.write(recs)
print("corpus: %d files in %s" % (len(os.listdir(out)), out))
