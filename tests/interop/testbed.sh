#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Teredo interop testbed in network namespaces (root, veth pairs and bridges only):
#
#   cli1 (miredo client) --192.168.77.0/24-- nat1 (nft masquerade) --+
#   cli2 (miredo client) --192.168.78.0/24-- nat2 (nft masquerade) --+-- br4 "IPv4 Internet" 198.18.0.0/24
#   srv  (miredo-server 198.18.0.10 + .11)                         --+   (bridges live in namespace sw)
#   rly  (terelay, or miredo RelayType cone) eth0                  --+
#   rly eth1, srv eth1, v6host (2001:db8:6::100)                   ---- br6 "IPv6 Internet" 2001:db8:6::/64
#
# The relay is terelay (default) or Miredo (RELAY=miredo): same topology, same
# addresses (198.18.0.20:3544, 2001:db8:6::20); v6host routes 2001::/32 to it.
# 198.18.0.0/15 passes Miredo's and RFC 4380's global-unicast checks, so the
# relay's and the peers' address checks stay on, as in production.
#
# With terelay the relay's veths carry no kernel address and have IPv6 disabled
# (terelay answers ARP and NS for its addresses itself, the kernel must neither
# answer NS nor send RS/DAD); terelay reads them through net_af_packet.
#
# Usage: testbed.sh COMMAND   (as root)
#   setup | teardown                 namespaces, links, NAT, addresses
#   start | stop                     server, relay, both clients / everything
#   start-server | start-relay | stop-relay | start-client N | stop-client N
#   nat-remap N PORTRANGE            new masquerade port range on natN + conntrack flush
#   addr N                           print client N's Teredo address
#   all                              teardown + setup + start + ping both ways (trap cleans up)
# Env: RELAY (terelay|miredo), TERELAY (binary), NS_PREFIX (unique per run),
#      SERVER (miredo|terelay: terelay's [server] role on 198.18.0.40/.41 in the relay's
#      process replaces miredo-server; the clients' ServerAddress follows),
#      TB_DIR (state, logs, configs), TERELAY_EXTRA (extra [section] lines for terelay.ini)
#      L2 (none|vlan|bond, issue 17; docs/interop.md "VLAN trunk and LACP bond"):
#        vlan: terelay's two sides are VLAN 104 (Teredo) and 106 (native) of ONE veth
#              trunk rly:eth0 (net_af_packet0); the far side of the trunk is an Open
#              vSwitch bridge in userspace (netdev datapath) in namespace sw, with br4
#              and br6 on access ports tag=104 / tag=106 (this kernel has no 8021q and
#              no VLAN-filtering bridges)
#        bond: the same trunk over an LACP bundle: rly:eth0 + rly:eth1 are the members of
#              DPDK's net_bonding0 (TERELAY_BOND_MODE, default 4 = 802.3ad) and OVS's
#              bond0 (OVS_BOND_MODE, default active-backup, lacp=OVS_LACP (active),
#              lacp-time fast) on the far side; OVS_BOND_MODE=none: no bond, two
#              trunk ports (for terelay's active-backup, TERELAY_BOND_MODE=1)
#      TEREDO_VLAN / NATIVE_VLAN (the far side's, 104 / 106), TERELAY_TEREDO_VLAN /
#      TERELAY_NATIVE_VLAN (terelay's, default the same: a wrong one must fail the tests)
#   l2-member N up|down              bond: set the far side's member N (0/1) up or down
#   ovs-vsctl ARGS | ovs-appctl ARGS  the testbed's own Open vSwitch (L2=vlan|bond)
set -u
RELAY=${RELAY:-terelay}
TB_DIR=${TB_DIR:-/tmp/terelay-interop}
P=${NS_PREFIX:-tiop$$-}
TERELAY=${TERELAY:-}
SW=${P}sw SRV=${P}srv RLY=${P}rly V6H=${P}v6h
CLI1=${P}cli1 NAT1=${P}nat1 CLI2=${P}cli2 NAT2=${P}nat2
ALL_NS="$CLI1 $NAT1 $CLI2 $NAT2 $SRV $RLY $V6H $SW"
SRV_IP1=198.18.0.10 SRV_IP2=198.18.0.11 RLY_IP=198.18.0.20
SERVER=${SERVER:-miredo}
TSRV_IP1=198.18.0.40   # terelay's server role (SERVER=terelay); secondary = .41 (primary + 1)
NAT1_WAN=198.18.0.30 NAT2_WAN=198.18.0.31
SRV6=2001:db8:6::10 RLY6=2001:db8:6::20 V6H6=2001:db8:6::100
# DPDK file prefix: telemetry socket /var/run/dpdk/$FILE_PREFIX/dpdk_telemetry.v2
FILE_PREFIX=${FILE_PREFIX:-${P}terelay}
L2=${L2:-none}
TEREDO_VLAN=${TEREDO_VLAN:-104} NATIVE_VLAN=${NATIVE_VLAN:-106}
TERELAY_TEREDO_VLAN=${TERELAY_TEREDO_VLAN:-$TEREDO_VLAN} TERELAY_NATIVE_VLAN=${TERELAY_NATIVE_VLAN:-$NATIVE_VLAN}
TERELAY_BOND_MODE=${TERELAY_BOND_MODE:-4} BOND_MEMBER=${BOND_MEMBER:-af_packet}
OVS_BOND_MODE=${OVS_BOND_MODE:-active-backup} OVS_LACP=${OVS_LACP:-active}
OVS_DIR=$TB_DIR/ovs

log() { echo "[testbed] $*" >&2; }
die() { echo "[testbed] FAIL: $*" >&2; exit 1; }
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
cli_ns() { eval echo "\$CLI$1"; }
nat_ns() { eval echo "\$NAT$1"; }

need_tools() {
	local t missing=()
	for t in ip nft conntrack ethtool miredo miredo-server ping tcpdump socat iperf3; do
		command -v "$t" >/dev/null || missing+=("$t")
	done
	case "$L2" in
	none) ;;
	vlan|bond)
		[ "$RELAY" = terelay ] || die "L2=$L2 needs RELAY=terelay"
		for t in ovsdb-server ovsdb-tool ovs-vswitchd ovs-vsctl ovs-appctl; do
			command -v "$t" >/dev/null || missing+=("$t (openvswitch-switch: the far side's VLANs and LACP)")
		done ;;
	*) die "L2='$L2': expected none, vlan or bond" ;;
	esac
	[ "$RELAY" = miredo ] || [ -x "$TERELAY" ] || die "terelay binary not found: TERELAY='$TERELAY' (build it, or pass TERELAY=path)"
	[ ${#missing[@]} -eq 0 ] || die "missing tools: ${missing[*]} (run scripts/setup-deps.sh)"
	[ "$(id -u)" = 0 ] || die "must run as root (network namespaces)"
}

# A missing kernel feature fails with its name; it is never skipped.
need_kernel() {
	local probe=${P}probe
	ip netns add "$probe" 2>/dev/null || die "kernel feature missing: network namespaces (CONFIG_NET_NS) or no permission"
	nsx "$probe" ip link add name tbva type veth peer name tbvb 2>/dev/null || { ip netns del "$probe"; die "kernel feature missing: veth (CONFIG_VETH)"; }
	nsx "$probe" ip link add name tbbr type bridge 2>/dev/null || { ip netns del "$probe"; die "kernel feature missing: bridge (CONFIG_BRIDGE)"; }
	nsx "$probe" nft -f - 2>/dev/null <<-EOF || { ip netns del "$probe"; die "kernel feature missing: nftables NAT (nf_tables, nft_chain_nat, nft_masq)"; }
	table ip probe {
		chain post { type nat hook postrouting priority srcnat; meta l4proto udp masquerade to :20000-20999; }
	}
	EOF
	ip netns del "$probe"
	[ -c /dev/net/tun ] || die "kernel feature missing: TUN (/dev/net/tun, CONFIG_TUN) for Miredo"
	# net_af_packet needs AF_PACKET with PACKET_MMAP rings (CONFIG_PACKET)
	python3 -c 'import socket; socket.socket(socket.AF_PACKET, socket.SOCK_RAW)' 2>/dev/null ||
		die "kernel feature missing: AF_PACKET sockets (CONFIG_PACKET)"
}

link() { ip link add "$2" netns "$1" type veth peer name "$4" netns "$3" || die "cannot create veth $1:$2 <-> $3:$4"; }

setup() {
	need_tools
	need_kernel
	mkdir -p "$TB_DIR"
	echo "$P" >"$TB_DIR/ns_prefix"
	for ns in $ALL_NS; do ip netns add "$ns" || die "cannot create namespace $ns"; nsx "$ns" ip link set lo up; done
	for ns in $ALL_NS; do nsx "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0; done
	# the relay's kernel must stay out of IPv6 on terelay's ports: no NS answers, no RS, no DAD
	if [ "$RELAY" = terelay ]; then
		nsx $RLY sysctl -qw net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.all.disable_ipv6=1
	fi
	# L2=vlan|bond: the "IPv4 Internet" is IPv4 only. Its kernels' IPv6 link-local
	# chatter (RS, MLD) would cross the trunk as IPv6 on the Teredo VLAN, which terelay
	# rightly drops as vlan_wrong; the tests assert that no frame is a VLAN drop.
	if [ "$L2" != none ]; then
		for ns in $SW $SRV $NAT1 $NAT2; do nsx "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1; done
	fi
	nsx $SW ip link add br4 type bridge; nsx $SW ip link set br4 up
	nsx $SW ip link add br6 type bridge; nsx $SW ip link set br6 up
	[ "$L2" = none ] || nsx $SW sysctl -qw net.ipv6.conf.br6.disable_ipv6=0
	# no multicast snooping: ND to solicited-node groups must reach terelay's af_packet socket
	nsx $SW ip link set br4 type bridge mcast_snooping 0
	nsx $SW ip link set br6 type bridge mcast_snooping 0
	local pair ns ifn br swp
	local pairs="$SRV:eth0:br4:s4 $NAT1:wan:br4:n14 $NAT2:wan:br4:n24 $SRV:eth1:br6:s6 $V6H:eth0:br6:h6"
	# L2=vlan|bond: the relay's links go to Open vSwitch instead (l2_links)
	[ "$L2" = none ] && pairs="$pairs $RLY:eth0:br4:r4 $RLY:eth1:br6:r6"
	for pair in $pairs; do
		IFS=: read -r ns ifn br swp <<<"$pair"
		link "$ns" "$ifn" $SW "$swp"
		# default.disable_ipv6 above covers new links; br6's must keep IPv6
		if [ "$L2" != none ] && [ "$br" = br6 ]; then
			nsx "$ns" sysctl -qw "net.ipv6.conf.$ifn.disable_ipv6=0"
			nsx $SW sysctl -qw "net.ipv6.conf.$swp.disable_ipv6=0"
		fi
		nsx $SW ip link set "$swp" master "$br"
		nsx $SW ip link set "$swp" up
		nsx "$ns" ip link set "$ifn" up
	done
	link $CLI1 eth0 $NAT1 lan; link $CLI2 eth0 $NAT2 lan
	for ns in $CLI1 $CLI2; do nsx "$ns" ip link set eth0 up; done
	for ns in $NAT1 $NAT2; do nsx "$ns" ip link set lan up; done
	[ "$L2" = none ] || l2_links

	# veths hand locally generated packets over with a partial checksum
	# (CHECKSUM_PARTIAL) that nobody completes: a packet socket, hence terelay,
	# would read wrong UDP/TCP checksums (rx_bad_udp_csum). Compute them in software.
	local ifs i
	for ns in $ALL_NS; do
		ifs=$(nsx "$ns" ip -o link show type veth | awk -F': ' '{print $2}' | cut -d@ -f1)
		for i in $ifs; do
			nsx "$ns" ethtool -K "$i" tx off >/dev/null 2>&1 || die "ethtool -K $i tx off failed in $ns (veth checksum offload)"
		done
	done

	nsx $SRV ip addr add $SRV_IP1/24 dev eth0
	nsx $SRV ip addr add $SRV_IP2/24 dev eth0
	nsx $SRV ip -6 addr add $SRV6/64 dev eth1 nodad
	if [ "$RELAY" = miredo ]; then
		nsx $RLY ip addr add $RLY_IP/24 dev eth0
		nsx $RLY ip -6 addr add $RLY6/64 dev eth1 nodad
		nsx $RLY sysctl -qw net.ipv6.conf.all.forwarding=1
	else
		# terelay owns 198.18.0.20 and 2001:db8:6::20: the kernel has no address here
		local rif
		for rif in $(nsx $RLY ip -o link show type veth | awk -F': ' '{print $2}' | cut -d@ -f1); do
			nsx $RLY ip addr flush dev "$rif"
			nsx $RLY sysctl -qw "net.ipv6.conf.$rif.disable_ipv6=1"
		done
	fi
	nsx $V6H ip -6 addr add $V6H6/64 dev eth0 nodad
	nsx $V6H ip -6 route add 2001::/32 via $RLY6 dev eth0
	local n lan wan
	for n in 1 2; do
		wan=$(eval echo "\$NAT${n}_WAN"); lan=192.168.$((76 + n))
		nsx "$(nat_ns $n)" ip addr add "$wan/24" dev wan
		nsx "$(nat_ns $n)" ip addr add "$lan.1/24" dev lan
		nsx "$(nat_ns $n)" sysctl -qw net.ipv4.ip_forward=1
		nat_rule "$n" "" || die "cannot install the masquerade rule on nat$n"
		nsx "$(cli_ns $n)" ip addr add "$lan.2/24" dev eth0
		nsx "$(cli_ns $n)" ip route add default via "$lan.1"
	done

	cat >"$TB_DIR/server.conf" <<-EOF
	ServerBindAddress $SRV_IP1
	EOF
	cat >"$TB_DIR/relay.conf" <<-EOF
	RelayType cone
	InterfaceName teredo
	BindAddress $RLY_IP
	BindPort 3544
	EOF
	cat >"$TB_DIR/client.conf" <<-EOF
	RelayType client
	InterfaceName teredo
	ServerAddress $( [ "$SERVER" = terelay ] && echo $TSRV_IP1 || echo $SRV_IP1 )
	EOF
	cat >"$TB_DIR/terelay.ini" <<-EOF
	; written by tests/interop/testbed.sh
	[relay]
	ipv4 = $RLY_IP
	port = 3544
	ipv6 = $RLY6
	[ports]
	$(ports_ini)
	[nexthop]
	ipv4_gateway = 0.0.0.0
	ipv6_gateway = $V6H6
	[peers]
	capacity = 65536
	pending_capacity = 4096
	[telemetry]
	summary_interval = 1
	$( [ "$SERVER" = terelay ] && printf '[server]\nenabled = true\nprimary = %s\n' $TSRV_IP1 )
	${TERELAY_EXTRA:-}
	EOF
	[ "$L2" = none ] || ovs_start || die "Open vSwitch did not come up: $(tail -3 "$OVS_DIR"/*.log 2>/dev/null)"
	log "namespaces (prefix $P): $ALL_NS${L2:+ (L2 $L2)}"
}

# terelay's [ports] section: two untagged ports, or both sides as VLANs of one
# port (the trunk, or the bond over the two members)
ports_ini() {
	local port
	case "$L2" in
	none)
		if [ "${TERELAY_PMD:-pcap}" = af_packet ]; then
			printf 'teredo = net_af_packet0\nnative = net_af_packet1\n'
		else
			printf 'teredo = net_pcap0\nnative = net_pcap1\n'
		fi
		return ;;
	vlan) port=net_af_packet0 ;;
	bond) port=net_bonding0 ;;
	esac
	printf 'teredo = %s\nnative = %s\nteredo_vlan = %s\nnative_vlan = %s\n' \
		$port $port "$TERELAY_TEREDO_VLAN" "$TERELAY_NATIVE_VLAN"
	[ "$L2" = bond ] && [ -n "${TERELAY_PROFILE:-}" ] && printf 'profile = %s\n' "$TERELAY_PROFILE"
	return 0
}

# L2=vlan|bond: the relay's veth(s) end in namespace sw at Open vSwitch ports
# (tr0 the trunk; bm0, bm1 the bond's members); br4 and br6 reach Open vSwitch
# through the veth pairs b4-o4 and b6-o6 (o4, o6 the access ports). The kernel
# of sw must not speak on these links itself (no IPv6 link-local, RS, MLD): an
# untagged frame on the trunk would reach terelay as vlan_missing.
l2_links() {
	local ifs="o4 b4 o6 b6" i
	if [ "$L2" = vlan ]; then
		link $RLY eth0 $SW tr0; ifs="$ifs tr0"
	else
		link $RLY eth0 $SW bm0; link $RLY eth1 $SW bm1; ifs="$ifs bm0 bm1"
	fi
	nsx $SW ip link add o4 type veth peer name b4 || die "cannot create veth o4-b4 in sw"
	nsx $SW ip link add o6 type veth peer name b6 || die "cannot create veth o6-b6 in sw"
	for i in $ifs; do nsx $SW sysctl -qw "net.ipv6.conf.$i.disable_ipv6=1"; done
	nsx $SW ip link set b4 master br4; nsx $SW ip link set b6 master br6
	for i in $ifs; do nsx $SW ip link set "$i" up; done
	for i in $(nsx $RLY ip -o link show type veth | awk -F': ' '{print $2}' | cut -d@ -f1); do
		nsx $RLY ip link set "$i" up
	done
}

vsctl() { OVS_RUNDIR=$OVS_DIR ovs-vsctl --db="unix:$OVS_DIR/db.sock" --timeout=20 "$@"; }
appctl() { OVS_RUNDIR=$OVS_DIR ovs-appctl -t "$OVS_DIR/ovs-vswitchd.ctl" --timeout=20 "$@"; }

# The testbed's own ovsdb-server and ovs-vswitchd (userspace datapath) in namespace
# sw: own database, sockets, pid and log files under $OVS_DIR; not the system's service.
ovs_start() {
	mkdir -p "$OVS_DIR"
	rm -f "$OVS_DIR/conf.db"
	ovsdb-tool create "$OVS_DIR/conf.db" /usr/share/openvswitch/vswitch.ovsschema || return 1
	local e="OVS_RUNDIR=$OVS_DIR OVS_LOGDIR=$OVS_DIR OVS_DBDIR=$OVS_DIR"
	launch ovsdb $SW env $e ovsdb-server "$OVS_DIR/conf.db" --remote="punix:$OVS_DIR/db.sock" \
		--unixctl="$OVS_DIR/ovsdb-server.ctl" --pidfile="$OVS_DIR/ovsdb-server.pid" \
		--log-file="$OVS_DIR/ovsdb-server.log" --no-chdir
	local i
	for i in $(seq 1 100); do [ -S "$OVS_DIR/db.sock" ] && break; sleep 0.1; done
	[ -S "$OVS_DIR/db.sock" ] || return 1
	vsctl --no-wait init || return 1
	launch ovs-vswitchd $SW env $e ovs-vswitchd "unix:$OVS_DIR/db.sock" \
		--unixctl="$OVS_DIR/ovs-vswitchd.ctl" --pidfile="$OVS_DIR/ovs-vswitchd.pid" \
		--log-file="$OVS_DIR/ovs-vswitchd.log" --no-chdir
	for i in $(seq 1 100); do [ -S "$OVS_DIR/ovs-vswitchd.ctl" ] && break; sleep 0.1; done
	[ -S "$OVS_DIR/ovs-vswitchd.ctl" ] || return 1
	vsctl add-br ovs0 -- set bridge ovs0 datapath_type=netdev || return 1
	vsctl add-port ovs0 o4 tag="$TEREDO_VLAN" -- add-port ovs0 o6 tag="$NATIVE_VLAN" || return 1
	if [ "$L2" = vlan ]; then
		vsctl add-port ovs0 tr0 vlan_mode=trunk trunks="$TEREDO_VLAN,$NATIVE_VLAN" || return 1
	elif [ "$OVS_BOND_MODE" = none ]; then
		# terelay's active-backup (mode 1) wants no bond on the far side: two trunk
		# ports, and MAC learning follows the member terelay transmits on
		vsctl add-port ovs0 bm0 vlan_mode=trunk trunks="$TEREDO_VLAN,$NATIVE_VLAN" -- \
		      add-port ovs0 bm1 vlan_mode=trunk trunks="$TEREDO_VLAN,$NATIVE_VLAN" || return 1
	else
		vsctl add-bond ovs0 bond0 bm0 bm1 vlan_mode=trunk trunks="$TEREDO_VLAN,$NATIVE_VLAN" \
			bond_mode="$OVS_BOND_MODE" lacp="$OVS_LACP" other_config:lacp-time=fast \
			other_config:bond-detect-mode=carrier || return 1
	fi
	# every port attached to the datapath (an ofport assigned) before terelay starts
	local ifn ofp
	for ifn in o4 o6 $( [ "$L2" = vlan ] && echo tr0 || echo bm0 bm1 ); do
		for i in $(seq 1 100); do
			ofp=$(vsctl get interface "$ifn" ofport 2>/dev/null)
			[ -n "$ofp" ] && [ "$ofp" != "[]" ] && [ "$ofp" -gt 0 ] 2>/dev/null && break
			sleep 0.1
		done
		[ "$ofp" -gt 0 ] 2>/dev/null || { log "OVS interface $ifn: ofport '$ofp': $(vsctl get interface "$ifn" error)"; return 1; }
	done
	log "Open vSwitch up in $SW ($L2): $(vsctl --bare --columns=name,ofport list interface | tr -s '\n' ' ')"
}

# BOND_MEMBER=tap: terelay's members are net_tap devices dtap0/dtap1 (created by
# terelay at start), each wired to its veth ethN by two tc mirred redirects (u32
# match-all on ingress, both ways): a Linux bridge would not forward LACP's slow
# protocol frames (01:80:c2:00:00:02 is outside any group_fwd_mask), and unlike
# net_af_packet, whose link status is always up in DPDK 22.11, net_tap reports
# its interface's state, so the bond sees a member go down.
tap_wire() {
	local n
	for n in 0 1; do nsx $RLY ip link show "dtap$n" >/dev/null 2>&1 || return 1; done
	for n in 0 1; do
		nsx $RLY ethtool -K "dtap$n" tx off >/dev/null 2>&1
		nsx $RLY ip link set "dtap$n" up
		nsx $RLY tc qdisc replace dev "eth$n" ingress || die "tc: no ingress qdisc on eth$n (CONFIG_NET_SCH_INGRESS)"
		nsx $RLY tc qdisc replace dev "dtap$n" ingress || die "tc: no ingress qdisc on dtap$n"
		nsx $RLY tc filter add dev "eth$n" parent ffff: protocol all u32 match u32 0 0 \
			action mirred egress redirect dev "dtap$n" ||
			die "tc: u32 + mirred redirect eth$n -> dtap$n failed (CONFIG_NET_CLS_U32, CONFIG_NET_ACT_MIRRED)"
		nsx $RLY tc filter add dev "dtap$n" parent ffff: protocol all u32 match u32 0 0 \
			action mirred egress redirect dev "eth$n" || die "tc: mirred redirect dtap$n -> eth$n failed"
	done
	log "net_tap members wired: dtap0 <-> eth0, dtap1 <-> eth1 (tc mirred)"
}

l2_member() { # N up|down: bond member N's link (the far side's veth end, so both ends lose
	# carrier; with BOND_MEMBER=tap also terelay's tap, whose state DPDK reads)
	nsx $SW ip link set "bm$1" "$2" || die "cannot set bm$1 $2"
	[ "$BOND_MEMBER" = tap ] && { nsx $RLY ip link set "dtap$1" "$2" || die "cannot set dtap$1 $2"; }
	log "member $1 $2"
}

# nat_rule N [PORTRANGE]: (re)install natN's masquerade, optionally "to :PORTRANGE"
nat_rule() {
	local udp="masquerade"
	# Teredo is UDP: the port range applies to UDP (nft needs the protocol for it)
	[ -n "${2:-}" ] && udp="meta l4proto udp masquerade to :$2"
	nsx "$(nat_ns "$1")" nft -f - <<-EOF
	table ip tbnat
	delete table ip tbnat
	table ip tbnat {
		chain post {
			type nat hook postrouting priority srcnat;
			oifname "wan" $udp
			oifname "wan" masquerade
		}
	}
	EOF
}

nat_remap() {
	nat_rule "$1" "$2" || die "nft: cannot change nat$1's masquerade to :$2"
	nsx "$(nat_ns "$1")" conntrack -F >/dev/null 2>&1 || die "conntrack -F failed on nat$1 (nf_conntrack netlink)"
	log "nat$1: masquerade to :$2, conntrack flushed"
}

launch() { # name ns cmd...  (ip netns exec execs: $! is the daemon itself)
	local name=$1 ns=$2; shift 2
	# exec twice (subshell, then ip netns exec): $! is the daemon's own pid
	( exec ip netns exec "$ns" "$@" ) >>"$TB_DIR/$name.log" 2>&1 &
	echo $! >"$TB_DIR/$name.pid"
}

stop_pid() { # name [timeout_s]: SIGTERM the process we started, SIGKILL if it hangs
	local name=$1 t=${2:-10} pid i
	pid=$(cat "$TB_DIR/$name.pid" 2>/dev/null) || return 0
	rm -f "$TB_DIR/$name.pid"
	kill -TERM "$pid" 2>/dev/null || return 0
	for i in $(seq 1 $((t * 10))); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
	log "$name (pid $pid) ignored SIGTERM for ${t}s: SIGKILL"
	kill -KILL "$pid" 2>/dev/null
	return 0
}

start_server() {
	[ "$SERVER" = terelay ] && return 0     # the relay's process is the server
	launch server $SRV miredo-server -f -c "$TB_DIR/server.conf" -p "$TB_DIR/server.mpid"
}

start_relay() {
	if [ "$RELAY" = miredo ]; then
		launch relay $RLY miredo -f -c "$TB_DIR/relay.conf" -p "$TB_DIR/relay.mpid"
		local i
		for i in $(seq 1 50); do nsx $RLY ip link show teredo >/dev/null 2>&1 && break; sleep 0.1; done
		nsx $RLY ip link show teredo >/dev/null 2>&1 || die "miredo relay did not create its tunnel: $(tail -5 "$TB_DIR/relay.log")"
		return 0
	fi
	local n=$(( $(cat "$TB_DIR/relay.starts" 2>/dev/null || echo 0) + 1 ))
	echo $n >"$TB_DIR/relay.starts"
	rm -f "$TB_DIR/stats.$n.json"
	echo "=== start $n $(date +%T.%N)" >>"$TB_DIR/relay.log"
	# terelay wants 1 rx queue (its worker) and 2 tx queues (worker + control lcore)
	# per port. net_pcap gives exactly that (one rx_iface_in, two tx_iface) and its
	# inbound-only capture never shows terelay its own frames. net_af_packet's queues
	# are pairs spread by PACKET_FANOUT hash; terelay polls all of them since the
	# rx-queue fix (docs/decisions.md D26), and it stays opt-in: TERELAY_PMD=af_packet.
	local v0 v1 vdevs
	if [ "$L2" = vlan ]; then
		vdevs=(--vdev "net_af_packet0,iface=eth0,qpairs=2")
	elif [ "$L2" = bond ] && [ "$BOND_MEMBER" = tap ]; then
		vdevs=(--vdev "net_tap0,iface=dtap0" --vdev "net_tap1,iface=dtap1"
		       --vdev "net_bonding0,mode=$TERELAY_BOND_MODE,slave=net_tap0,slave=net_tap1")
	elif [ "$L2" = bond ]; then
		# 22.11 names the bond's members slave=
		vdevs=(--vdev "net_af_packet0,iface=eth0,qpairs=2" --vdev "net_af_packet1,iface=eth1,qpairs=2"
		       --vdev "net_bonding0,mode=$TERELAY_BOND_MODE,slave=net_af_packet0,slave=net_af_packet1")
	elif [ "${TERELAY_PMD:-pcap}" = af_packet ]; then
		v0="net_af_packet0,iface=eth0,qpairs=2" v1="net_af_packet1,iface=eth1,qpairs=2"
	else
		v0="net_pcap0,rx_iface_in=eth0,tx_iface=eth0,tx_iface=eth0"
		v1="net_pcap1,rx_iface_in=eth1,tx_iface=eth1,tx_iface=eth1"
	fi
	[ "$L2" = none ] && vdevs=(--vdev "$v0" --vdev "$v1")
	launch relay $RLY "$TERELAY" --no-huge -m 512 --no-pci --no-shconf -l 0,1 \
		--file-prefix "$FILE_PREFIX" --log-level=lib.eal:error "${vdevs[@]}" ${TERELAY_EAL_EXTRA:-} \
		-- -c "$TB_DIR/terelay.ini" --stats-json "$TB_DIR/stats.$n.json"
	# up when the first periodic summary line appears (ports started, lcores running)
	local i want=$(( $(grep -c '^terelay: rx' "$TB_DIR/relay.log") + 1 ))
	# 45 s: on two vCPUs other busy-polling DPDK processes can slow start-up a lot
	local wired=0
	for i in $(seq 1 450); do
		kill -0 "$(cat "$TB_DIR/relay.pid")" 2>/dev/null || die "terelay exited at start: $(tail -5 "$TB_DIR/relay.log")"
		[ "$L2" = bond ] && [ "$BOND_MEMBER" = tap ] && [ $wired = 0 ] && tap_wire && wired=1
		[ "$(grep -c '^terelay: rx' "$TB_DIR/relay.log")" -ge "$want" ] && return 0
		sleep 0.1
	done
	die "terelay did not report within 45 s: $(tail -5 "$TB_DIR/relay.log")"
}

stop_relay() {
	stop_pid relay 15
	if [ "$RELAY" = terelay ]; then
		local n; n=$(cat "$TB_DIR/relay.starts" 2>/dev/null || echo 0)
		[ -s "$TB_DIR/stats.$n.json" ] && cp "$TB_DIR/stats.$n.json" "$TB_DIR/stats.last.json"
	fi
	return 0
}

start_client() { # N: start miredo client N and wait for its Teredo address
	local n=$1 ns addr i
	ns=$(cli_ns "$n")
	rm -f "$TB_DIR/client$n.addr" "$TB_DIR/client$n.qualify_ms"
	local t0; t0=$(date +%s%N)
	launch "client$n" "$ns" miredo -f -c "$TB_DIR/client.conf" -p "$TB_DIR/client$n.mpid"
	for i in $(seq 1 150); do
		addr=$(nsx "$ns" ip -6 -o addr show dev teredo scope global 2>/dev/null | awk '{print $4}' | cut -d/ -f1)
		[ -n "$addr" ] && break
		sleep 0.1
	done
	[ -n "$addr" ] || { log "client $n did not qualify in 15 s"; tail -5 "$TB_DIR/client$n.log" >&2; return 1; }
	echo "$addr" >"$TB_DIR/client$n.addr"
	# from the client's launch to its address on teredo (polled every 0.1 s)
	echo $(( ($(date +%s%N) - t0) / 1000000 )) >"$TB_DIR/client$n.qualify_ms"
	log "client $n qualified: $addr ($(cat "$TB_DIR/client$n.qualify_ms") ms)"
}

client_addr() { # N: current global address of client N's teredo interface
	nsx "$(cli_ns "$1")" ip -6 -o addr show dev teredo scope global 2>/dev/null | awk '{print $4}' | cut -d/ -f1 | head -1
}

stop_client() { stop_pid "client$1" 5; }

start_all() {
	start_server
	start_relay
	sleep 0.5
	start_client 1 && start_client 2
}

stop_all() {
	stop_client 1; stop_client 2; stop_relay; stop_pid server 5
	stop_pid ovs-vswitchd 5; stop_pid ovsdb 5
	# whatever is still alive in our namespaces was started by us: end it by pid
	local ns pid
	for ns in $ALL_NS; do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -TERM "$pid" 2>/dev/null; done
	done
	sleep 0.3
	for ns in $ALL_NS; do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
	done
}

teardown() {
	stop_all
	local ns
	for ns in $ALL_NS; do ip netns del "$ns" 2>/dev/null; done
	rm -rf "/var/run/dpdk/$FILE_PREFIX"
	log "torn down (prefix $P)"
}

smoke() {
	local a
	a=$(cat "$TB_DIR/client1.addr")
	nsx $CLI1 ping -6 -c 3 -i 0.2 -W 2 $V6H6 && nsx $V6H ping -6 -c 3 -i 0.2 -W 2 "$a"
}

case "${1:-}" in
	setup) setup ;;
	teardown) teardown ;;
	start) start_all ;;
	stop) stop_all ;;
	start-server) start_server ;;
	start-relay) start_relay ;;
	stop-relay) stop_relay ;;
	start-client) start_client "$2" ;;
	stop-client) stop_client "$2" ;;
	nat-remap) nat_remap "$2" "$3" ;;
	addr) client_addr "$2" ;;
	l2-member) l2_member "$2" "$3" ;;
	ovs-vsctl) shift; vsctl "$@" ;;
	ovs-appctl) shift; appctl "$@" ;;
	all)
		trap teardown EXIT
		trap 'exit 130' INT TERM
		setup && start_all && smoke ;;
	*) sed -n '2,/^set -u/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
