#!/bin/sh
# Install every Debian 12 package terelay's build, tests and demo need.
# Idempotent: installs only what is missing. Run as root.
set -eu

PKGS="build-essential clang llvm libclang-rt-14-dev meson ninja-build pkg-config
      dpdk dpdk-dev libdpdk-dev libnuma-dev libpcap-dev
      libcmocka-dev cppcheck python3 python3-scapy python3-matplotlib
      iproute2 iputils-ping tcpdump tshark
      libmicrohttpd-dev prometheus
      miredo miredo-server nftables iperf3 socat conntrack ethtool
      openvswitch-switch
      bird2
      netsniff-ng tcpreplay
      groff-base valgrind"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done

if [ -n "$missing" ]; then
	echo "setup-deps: installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing
else
	echo "setup-deps: all packages present"
fi
