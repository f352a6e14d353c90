#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""2 MB hugepages for whatever in terelay needs them: the one place that
reserves, mounts and releases them.

DPDK secondary processes (dpdk-dumpcap) and the benchmarks need hugepages; a
fresh machine has none reserved and nothing mounted on /dev/hugepages. Every
caller goes through ensure(): the telemetry test, perf/bench/run.py,
perf/sidebyside/run.py. .ci/run calls release() first, so that a set-up step
done by hand (or left behind by an earlier benchmark) cannot hide a missing one.

    hugepages.py ensure MIB   reserve (if short) and mount; prints the mount point
    hugepages.py release      unmount hugetlbfs and return every 2 MB page
    hugepages.py status       free/total pages and mounts

ensure() raises HugepageError with one line saying what is missing; the CLI
prints it and exits 1.
"""
import os
import subprocess
import sys

SYS = "/sys/kernel/mm/hugepages/hugepages-2048kB"
MOUNT = "/dev/hugepages"
PAGE = 2 << 20


class HugepageError(Exception):
    pass


def _read(name):
    with open(os.path.join(SYS, name)) as f:
        return int(f.read())


def _write(name, value):
    with open(os.path.join(SYS, name), "w") as f:
        f.write(str(value))


def mounts():
    """Mount points of hugetlbfs file systems with 2 MB pages."""
    out = []
    with open("/proc/mounts") as f:
        for line in f:
            dev, mnt, fstype, opts = line.split()[:4]
            if fstype == "hugetlbfs" and "pagesize=1024M" not in opts and "pagesize=1G" not in opts:
                out.append(mnt)
    return out


def status():
    if not os.path.isdir(SYS):
        return {"total": 0, "free": 0, "mounts": []}
    return {"total": _read("nr_hugepages"), "free": _read("free_hugepages"), "mounts": mounts()}


def ensure(mib):
    """At least `mib` MiB of free 2 MB hugepages, and hugetlbfs mounted. Returns the mount point."""
    need = (mib * (1 << 20) + PAGE - 1) // PAGE
    if not os.path.isdir(SYS):
        raise HugepageError("hugepages: the kernel has no 2 MB hugepages (%s missing)" % SYS)
    free = _read("free_hugepages")
    if free < need:
        if os.geteuid() != 0:
            raise HugepageError("hugepages: %d free 2 MB pages, %d needed, and only root can reserve more"
                                % (free, need))
        want = _read("nr_hugepages") + need - free
        _write("nr_hugepages", want)
        if _read("free_hugepages") < need:
            # Fragmented memory: give the kernel one chance to make contiguous 2 MB blocks.
            for knob, v in (("/proc/sys/vm/drop_caches", 3), ("/proc/sys/vm/compact_memory", 1)):
                try:
                    with open(knob, "w") as f:
                        f.write(str(v))
                except OSError:
                    pass
            _write("nr_hugepages", want)
        free = _read("free_hugepages")
        if free < need:
            raise HugepageError("hugepages: asked the kernel for %d 2 MB pages, it has only %d free"
                                % (need, free))
    m = mounts()
    if m:
        return m[0]
    if os.geteuid() != 0:
        raise HugepageError("hugepages: hugetlbfs is not mounted and only root can mount it")
    os.makedirs(MOUNT, exist_ok=True)
    r = subprocess.run(["mount", "-t", "hugetlbfs", "-o", "pagesize=2M", "nodev", MOUNT],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise HugepageError("hugepages: mount -t hugetlbfs %s failed: %s" % (MOUNT, r.stderr.strip()))
    return MOUNT


def release():
    """Back to a fresh machine's state: nothing mounted, no 2 MB page reserved."""
    for m in mounts():
        r = subprocess.run(["umount", m], capture_output=True, text=True)
        if r.returncode != 0:
            raise HugepageError("hugepages: umount %s failed (still in use?): %s" % (m, r.stderr.strip()))
    if os.path.isdir(SYS):
        _write("nr_hugepages", 0)
        left = _read("nr_hugepages")
        if left != 0:
            raise HugepageError("hugepages: %d 2 MB pages still reserved (in use by a process?)" % left)


def main(argv):
    try:
        if len(argv) == 3 and argv[1] == "ensure":
            print(ensure(int(argv[2])))
        elif len(argv) == 2 and argv[1] == "release":
            release()
        elif len(argv) == 2 and argv[1] == "status":
            s = status()
            print("2 MB hugepages: %d reserved, %d free; hugetlbfs mounted on: %s"
                  % (s["total"], s["free"], ", ".join(s["mounts"]) or "nothing"))
        else:
            print("usage: hugepages.py ensure MIB | release | status", file=sys.stderr)
            return 2
    except (HugepageError, OSError) as e:
        print(e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
