#!/bin/sh
# Put this machine back into a fresh machine's state for what terelay's tests
# use, so that a set-up step done by hand, or left behind by an earlier run
# (perf/bench/run.py reserving hugepages, a killed relay's runtime directory),
# cannot hide a step the project forgot: no 2 MB hugepage reserved, hugetlbfs
# unmounted, no DPDK runtime directory. .ci/run calls it before `make test`.
# Run as root, with no DPDK process of ours running.
set -eu
cd "$(dirname "$0")/.."
if pgrep -x terelay >/dev/null 2>&1 || pgrep -f dpdk-testpmd >/dev/null 2>&1; then
	echo "fresh-state: a terelay or dpdk-testpmd process is running; stop it first" >&2
	exit 1
fi
/usr/bin/python3 scripts/hugepages.py release
rm -rf /var/run/dpdk/*
echo "fresh-state: $(/usr/bin/python3 scripts/hugepages.py status); /var/run/dpdk empty"
