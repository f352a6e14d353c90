#!/bin/sh
# Replay the bundled sample capture through the relay (no NIC, no hugepages)
# and show what happened: the relay's summary and the packets it sent.
set -eu
build=${1:-build}
demo=app/terelay/demo
out=${TMPDIR:-/tmp}/terelay-demo-out.pcap

echo "== terelay: replaying $demo/sample.pcap (config $demo/replay.ini)"
# A replay serves no telemetry clients: --no-telemetry also spares the reader
# DPDK 22.11's legacy-socket warning. rte_ip_frag logs its table size at info
# level under USER1.
"$build/app/terelay" --no-huge --no-shconf -m 512 --no-pci -l 0 --no-telemetry \
	--log-level=lib.eal:error --log-level=user1:warning \
	-- -c "$demo/replay.ini" --replay "$demo/sample.pcap" --out "$out"
echo
echo "== what the relay sent ($out)"
tcpdump -nn -r "$out" 2>/dev/null | sed 's/^/  /'
