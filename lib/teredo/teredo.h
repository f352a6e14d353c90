/* SPDX-License-Identifier: BSD-3-Clause
 *
 * terelay protocol core: Teredo (RFC 4380, 5991, 6081) on plain byte buffers.
 * No DPDK here, so everything is unit-testable and fuzzable without EAL.
 *
 * Conventions
 *  - IPv4 addresses and UDP ports passed as integers are in HOST byte order
 *    (198.51.100.1 is 0xC6336401). IPv6 addresses are 16-byte arrays as on
 *    the wire.
 *  - Checksum helpers return the 16-bit value in the form that, stored with
 *    memcpy() into the packet, yields the correct wire bytes (the "raw"
 *    convention DPDK uses too).
 *  - Parsers never read outside [buf, buf + len).
 */
#ifndef TEREDO_TEREDO_H
#define TEREDO_TEREDO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TR_SERVER_PORT      3544    /* RFC 4380 §2.7 */
#define TR_MTU_DEFAULT      1280    /* RFC 4380 §5.1.2 */
#define TR_ETH_HLEN         14
#define TR_IPV4_HLEN        20
#define TR_UDP_HLEN         8
#define TR_ENCAP_HLEN       (TR_IPV4_HLEN + TR_UDP_HLEN)
#define TR_IPV6_HLEN        40
#define TR_ORIGIN_LEN       8       /* origin indication, RFC 4380 §5.1.1 */
#define TR_AUTH_MIN_LEN     13      /* auth encapsulation without ID/AU */
#define TR_MAX_UDP_PAYLOAD  65507

#define TR_FLAG_CONE        0x8000  /* deprecated, RFC 5991 §3.2: ignored */
#define TR_FLAG_RANDOM_MASK 0x3cff  /* RFC 5991 §3.1 */

#define TR_ETHERTYPE_IPV4   0x0800
#define TR_ETHERTYPE_ARP    0x0806
#define TR_ETHERTYPE_IPV6   0x86dd
#define TR_NH_ICMPV6        58
#define TR_NH_NONE          59      /* bubbles carry "No Next Header" */
#define TR_NH_UDP           17

/* ---------------------------------------------------------------- drops */

enum tr_drop_reason {
	TR_DROP_NONE = 0,
#define TR_DROP(id, name, help) TR_DROP_##id,
#include "drop_reasons.def"
#undef TR_DROP
	TR_DROP_MAX
};

/* "rx_bad_ipv6" etc.; "none" for TR_DROP_NONE, "unknown" out of range. */
const char *tr_drop_name(enum tr_drop_reason r);
const char *tr_drop_help(enum tr_drop_reason r);

/* ------------------------------------------------------------ addresses */

/* Decoded Teredo address, RFC 4380 §4 with RFC 5991 §3.1 flags. */
struct tr_addr_info {
	uint32_t server;   /* Teredo server IPv4 (plain in the address) */
	uint16_t flags;    /* all 16 bits, opaque except for display */
	uint16_t port;     /* mapped port, de-obfuscated */
	uint32_t client;   /* mapped IPv4, de-obfuscated */
};

/* First 32 bits exactly 2001:0000. 2001:db8::/32 and 3ffe:831f::/32 are not. */
bool tr_is_teredo(const uint8_t a[16]);
/* 0 on success, -1 when a is not a Teredo address (out untouched). */
int tr_addr_decode(const uint8_t a[16], struct tr_addr_info *out);
void tr_addr_encode(const struct tr_addr_info *in, uint8_t out[16]);

/* Global unicast per RFC 4380 §5.2.4: not 0/8, 10/8, 127/8, 169.254/16,
 * 172.16/12, 192.168/16, 192.88.99/24, 224/4, 255.255.255.255. */
bool tr_ipv4_is_global(uint32_t ip);

/* IPv6 destination classes the relay refuses to forward to. */
bool tr_ipv6_is_multicast(const uint8_t a[16]);
bool tr_ipv6_is_unspecified(const uint8_t a[16]);
/* Not multicast, unspecified, loopback, link-local (fe80::/10),
 * IPv4-mapped (::ffff:0:0/96) or IPv4-compatible (::/96). */
bool tr_ipv6_is_global_unicast(const uint8_t a[16]);

struct tr_prefix6 {
	uint8_t addr[16];
	uint8_t len;       /* 0..128 */
};
bool tr_prefix6_match(const struct tr_prefix6 *p, const uint8_t a[16]);

/* Origin indication (RFC 4380 §5.1.1): 00 00 ~port ~ipv4. */
void tr_origin_build(uint8_t out[TR_ORIGIN_LEN], uint32_t ip, uint16_t port);
/* 0 and fills ip/port if p holds a well-formed origin indication, else -1. */
int tr_origin_parse(const uint8_t *p, size_t len, uint32_t *ip, uint16_t *port);

/* ------------------------------------------------------------ checksums */

/* One's-complement sum of len bytes added to sum (32-bit accumulator, not
 * folded, not complemented). Odd lengths are padded with a zero byte. */
uint32_t tr_cksum_add(uint32_t sum, const void *buf, size_t len);
/* Fold to 16 bits and complement: the value to store. */
uint16_t tr_cksum_finish(uint32_t sum);
/* RFC 1624 incremental update of a stored checksum when a 16-bit word
 * changes from old_w to new_w (all three as read with memcpy). */
uint16_t tr_cksum_update16(uint16_t cksum, uint16_t old_w, uint16_t new_w);

/* IPv4 header checksum over ihl_bytes; with the field in place a valid
 * header gives 0. */
uint16_t tr_ipv4_hdr_cksum(const uint8_t *ip, size_t ihl_bytes);
/* UDP over IPv4 checksum of udp[0..udp_len) with its pseudo-header.
 * With the checksum field zeroed it returns the value to store (0 mapped
 * to 0xffff); with a valid non-zero field in place it returns 0. */
uint16_t tr_udp4_cksum(uint32_t src, uint32_t dst, const uint8_t *udp, size_t udp_len);
/* One's-complement sum of a whole IPv6 packet (header + payload), equal
 * modulo 0xffff to tr_cksum_add(0, ip6, len); derived from the header when
 * a TCP/UDP/ICMPv6 checksum right after it vouches for the payload. */
uint32_t tr_ipv6_packet_sum(const uint8_t *ip6, size_t len);
/* Verification on receipt: true when the UDP datagram at udp (udp_len
 * bytes, its length field equal to udp_len) inside the IPv4 header ip
 * carries a correct non-zero checksum; the same verdict as
 * tr_udp4_cksum(...) == 0, without building the pseudo-header. */
bool tr_udp4_cksum_ok(const uint8_t *ip, const uint8_t *udp, size_t udp_len);
/* Upper-layer checksum over IPv6 (RFC 8200 §8.1), same conventions. */
uint16_t tr_ipv6_l4_cksum(const uint8_t src[16], const uint8_t dst[16], uint8_t next_header,
			  const uint8_t *l4, size_t l4_len);

/* ------------------------------------------------------- VLAN (l2.c) */

#define TR_TPID_8021Q       0x8100  /* IEEE 802.1Q C-tag */
#define TR_TPID_8021AD      0x88a8  /* IEEE 802.1ad S-tag (QinQ outer) */
#define TR_VLAN_HLEN        4
#define TR_VLAN_VID_MAX     4094
#define TR_L2_MAX_HLEN      (TR_ETH_HLEN + 2 * TR_VLAN_HLEN)

/* The tags of one side: none, one 802.1Q tag, or an outer/inner pair
 * (802.1ad QinQ; the outer TPID 0x88a8, or 0x8100 where switches use it).
 * Fixed at configuration time. */
struct tr_vlan {
	uint8_t ntags;          /* 0, 1 or 2 */
	uint16_t outer_tpid;    /* tag 0: 0x8100 when ntags = 1 */
	uint16_t vid[2];        /* outer (or only) VLAN, inner VLAN; 1..4094 */
};

enum tr_side { TR_SIDE_TEREDO = 0, TR_SIDE_NATIVE = 1 };

/* Tags a NIC removed on receipt (VLAN/QinQ strip offload), outermost first:
 * their TPID is not known, only their TCI. */
struct tr_rx_tags {
	uint8_t n;
	uint16_t tci[2];
};

/* The side a frame belongs to by its (inner) ethertype: IPv4 and ARP the
 * Teredo side, IPv6 the native side; -1 for anything else. */
int tr_l2_side_of(uint16_t ethertype);

/*
 * Receive check of a frame's tags against its side's (side[] indexed by
 * enum tr_side): the tags the NIC stripped (hw, may be NULL) followed by
 * the ones still in the frame. Returns TR_DROP_NONE and in *strip the bytes
 * of tags between the MAC addresses and the ethertype (0, 4 or 8: moving
 * the MACs forward by that much leaves the frame a stripping NIC would have
 * delivered), or the drop reason. A priority tag (VLAN 0) counts as no tag.
 * Frames of no side (unknown ethertype) pass with their tags removed, for
 * the classifier to drop by ethertype.
 */
enum tr_drop_reason tr_l2_check(const struct tr_vlan side[2], const uint8_t *frame, size_t len,
				const struct tr_rx_tags *hw, unsigned *strip);

/* Ethernet header with v's tags (priority 0): 14, 18 or 22 bytes. */
size_t tr_build_eth_vlan(uint8_t *out, const struct tr_vlan *v, const uint8_t dst[6],
			 const uint8_t src[6], uint16_t ethertype);
/* Insert v's tags after the MAC addresses of the frame at f (len bytes),
 * which must have 4 * v->ntags bytes of room in front of it: the frame
 * then starts at the returned pointer (what a NIC's VLAN insert does). */
uint8_t *tr_l2_insert(uint8_t *f, const struct tr_vlan *v, uint16_t tci_outer, uint16_t tci_inner);

/* ------------------------------------------------------- classification */

/* Who the relay is: read-only configuration the classifier needs. */
struct tr_relay_id {
	uint32_t ipv4;                  /* Teredo-side service address */
	uint16_t port;                  /* UDP service port (every packet to clients leaves from it) */
	uint8_t ipv6[16];               /* native address: ICMPv6 source, ND target */
	uint16_t mtu;                   /* Teredo link MTU, default 1280 */
	const struct tr_prefix6 *served;/* native prefixes clients may reach (RFC 4380 §5.4.2) */
	unsigned n_served;              /* 0 = every global unicast destination */
	uint32_t arp_extra[2];          /* more IPv4 addresses answered by ARP (the server's P, S); 0 = none */
};

enum tr_kind {
	TR_K_DROP = 0,   /* reason says why; icmp_type may ask for an error */
	TR_K_TEREDO,     /* IPv6 from a client over UDP (data or bubble), stateless checks passed */
	TR_K_NATIVE,     /* native IPv6 to a Teredo destination, stateless checks passed */
	TR_K_ARP,        /* ARP request or reply whose target is the relay's IPv4 */
	TR_K_ND,         /* ICMPv6 NS/NA for the relay's IPv6 (or its solicited-node group) */
	TR_K_LOCAL6,     /* other IPv6 to the relay's own address (echo request, ...) */
	TR_K_V4_FRAG,    /* IPv4 fragment for the relay: reassemble, then classify again */
};

struct tr_classified {
	enum tr_kind kind;
	enum tr_drop_reason reason;     /* TR_K_DROP only */
	uint16_t l3_off;                /* outer IPv4 (Teredo side) or the IPv6 header */
	uint16_t ip6_off;               /* IPv6 packet (the inner one for TR_K_TEREDO) */
	uint16_t ip6_len;               /* 40 + payload length: bytes to forward, trailers excluded */

	/* TR_K_TEREDO only */
	uint32_t src_ip;                /* outer IPv4 source */
	uint16_t src_port;              /* outer UDP source port */
	bool bubble;                    /* plen 0, next header 59 (RFC 4380 §2.8) */
	bool mapping_ok;                /* outer source == mapping embedded in inner source (§5.4.2) */
	bool origin_seen;               /* an origin indication was stripped and ignored */
	bool has_nonce;                 /* RFC 6081 Nonce trailer (type 0x01, 4 bytes) seen */
	uint32_t nonce;                 /* its value, as on the wire read big-endian */
	/* Destination filter verdict (§5.4.2 step 9-10), applied only after the
	 * peer checks pass: TR_DROP_NONE = forward. */
	enum tr_drop_reason post_reason;

	/* ICMPv6 error owed to the packet's IPv6 source (0 = none). Set only
	 * where RFC 4443 §2.4(e) allows one (source not multicast/unspecified,
	 * destination not multicast, packet not itself an ICMPv6 error). */
	uint8_t icmp_type;
	uint8_t icmp_code;
	uint32_t icmp_param;            /* MTU for Packet Too Big */
};

/*
 * Classify one Ethernet frame, untagged: its tags were checked and removed
 * before (tr_l2_check); a frame still tagged is TR_DROP_VLAN_UNEXPECTED.
 * Order of checks and the reason for each rejection follow RFC 4380 §5.4.1
 * (native side) and §5.4.2 (Teredo side); see docs/decisions.md. Stateful checks (peer exists, trusted
 * mapping, nonce) are left to the caller: see mapping_ok and post_reason.
 */
void tr_classify(const struct tr_relay_id *r, const uint8_t *frame, size_t len,
		 struct tr_classified *out);

/* What the NIC already verified (its rx checksum offload said "good"): those
 * checks are skipped, everything else is done as by tr_classify. A NIC's
 * "bad" or "unknown" means 0 here: software decides, so the drop reason is
 * the same with and without offload. */
#define TR_HW_IPV4_CKSUM_GOOD  0x1u
#define TR_HW_L4_CKSUM_GOOD    0x2u
void tr_classify_hw(const struct tr_relay_id *r, const uint8_t *frame, size_t len, unsigned hw,
		    struct tr_classified *out);

/* ------------------------------------------------------------- builders */

/* A 40-byte bubble: version 6, class/flow 0, plen 0, next header 59,
 * hop limit 0 (as Miredo). Returns 40. */
size_t tr_build_bubble(uint8_t out[TR_IPV6_HLEN], const uint8_t src[16], const uint8_t dst[16]);
bool tr_is_bubble(const uint8_t *ip6, size_t len);
/* RFC 6081 §4.2 Nonce trailer: 01 04 <nonce big-endian>. Returns 6. */
size_t tr_build_nonce_trailer(uint8_t out[6], uint32_t nonce);

/* IPv4 + UDP header (28 bytes) written at out, for payload_len bytes that
 * follow it contiguously at out + 28. DF clear (RFC 4380 §5.1.2), protocol
 * 17, both checksums computed (the outer UDP one derived from an IPv6
 * payload's own checksum, D29). Returns 28, 0 when payload_len does not
 * fit. Built by a one-packet tr_encap_tmpl: the fast path's code. */
size_t tr_build_encap(uint8_t *out, uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport,
		      uint16_t ip_id, uint8_t ttl, size_t payload_len);

/* Ethernet + IPv4 + UDP headers for the fast path: the fields every packet
 * of a relay shares are written once, with their checksum sums, and each
 * packet patches the rest (tr_build_encap without the per-call set-up). */
struct tr_encap_tmpl {
	uint8_t hdr[TR_ETH_HLEN + TR_ENCAP_HLEN];      /* untagged Ethernet, then IPv4/UDP */
	uint32_t ip_sum;        /* constant IPv4 header words */
	uint32_t udp_sum;       /* constant pseudo-header and UDP header words */
	uint32_t phdr_sum;      /* constant pseudo-header words (source, protocol) */
	uint8_t l2_len;         /* Ethernet header written: 14, or 18 / 22 with tags */
	uint8_t eth_vlan[TR_L2_MAX_HLEN];               /* that header (tags included) */
};
void tr_encap_tmpl_init(struct tr_encap_tmpl *t, const uint8_t src_mac[6], uint32_t src,
			uint16_t sport, uint8_t ttl);
/* The same with the side's VLAN tags in the Ethernet header (NULL: none). */
void tr_encap_tmpl_init_vlan(struct tr_encap_tmpl *t, const uint8_t src_mac[6],
			     const struct tr_vlan *vlan, uint32_t src, uint16_t sport, uint8_t ttl);
/* l2_len + 28 bytes at out for payload_len bytes that follow them (an IPv6
 * packet: the outer UDP checksum takes its sum from tr_ipv6_packet_sum).
 * Returns l2_len + 28 (42 untagged), or 0 when payload_len does not fit
 * (as tr_build_encap). */
size_t tr_encap_tmpl_write(const struct tr_encap_tmpl *t, uint8_t *out, const uint8_t dst_mac[6],
			   uint32_t dst, uint16_t dport, uint16_t ip_id, size_t payload_len);
/* The same for a NIC that computes both checksums (tx checksum offload):
 * IPv4 checksum 0, UDP checksum field = the folded pseudo-header sum, not
 * complemented (what DPDK's rte_ipv4_phdr_cksum gives and NICs expect). */
size_t tr_encap_tmpl_write_offload(const struct tr_encap_tmpl *t, uint8_t *out,
				   const uint8_t dst_mac[6], uint32_t dst, uint16_t dport,
				   uint16_t ip_id, size_t payload_len);

/* Either of the two for a template without tags (l2_len 14), with no test
 * of l2_len: the untagged fast path's. */
size_t tr_encap_tmpl_write_untagged(const struct tr_encap_tmpl *t, uint8_t *out,
				    const uint8_t dst_mac[6], uint32_t dst, uint16_t dport,
				    uint16_t ip_id, size_t payload_len);
size_t tr_encap_tmpl_write_offload_untagged(const struct tr_encap_tmpl *t, uint8_t *out,
					    const uint8_t dst_mac[6], uint32_t dst, uint16_t dport,
					    uint16_t ip_id, size_t payload_len);

/* Decrement the IPv6 hop limit in place. Returns the new value. */
uint8_t tr_ipv6_dec_hop(uint8_t *ip6);

/* ICMPv6 error (RFC 4443) from src about the invoking IPv6 packet, written
 * at out (cap bytes): IPv6 header + ICMPv6 type/code/param + as much of the
 * invoking packet as fits in 1280 bytes total. Hop limit 64. Returns the
 * total IPv6 length, or 0 when cap is too small or inv_len < 40. */
size_t tr_build_icmp6_error(uint8_t *out, size_t cap, uint8_t type, uint8_t code, uint32_t param,
			    const uint8_t src[16], const uint8_t *inv, size_t inv_len);

/* Ethernet header. Returns 14. */
size_t tr_build_eth(uint8_t out[TR_ETH_HLEN], const uint8_t dst[6], const uint8_t src[6],
		    uint16_t ethertype);

/* ---------------------------------------------------- neighbour helpers */

struct tr_arp {
	uint16_t op;        /* 1 request, 2 reply */
	uint8_t sha[6];
	uint32_t spa;
	uint8_t tha[6];
	uint32_t tpa;
};
/* Parse Ethernet/IPv4 ARP at p (after the Ethernet header). 0 or -1. */
int tr_arp_parse(const uint8_t *p, size_t len, struct tr_arp *out);
/* Complete Ethernet frame (42 bytes) for an ARP request or reply. */
size_t tr_build_arp(uint8_t out[42], uint16_t op, const uint8_t eth_dst[6], const uint8_t sha[6],
		    uint32_t spa, const uint8_t tha[6], uint32_t tpa);

struct tr_nd {
	uint8_t type;       /* 135 NS, 136 NA */
	uint8_t target[16];
	bool has_lladdr;    /* source (NS) or target (NA) link-layer address option */
	uint8_t lladdr[6];
	uint32_t flags;     /* NA: R/S/O bits in the first word, host order */
};
/* Parse NS/NA at the IPv6 header ip6 (hop limit 255, checksum, length, code 0,
 * options well-formed per RFC 4861 §7.1.1/§7.1.2). 0 or -1. */
int tr_nd_parse(const uint8_t *ip6, size_t len, struct tr_nd *out);
/* IPv6 NS (with source link-layer option) or NA (solicited+override, with
 * target link-layer option), IPv6 header included, checksummed, hop 255.
 * Returns the IPv6 length (72 for NS, 72 for NA). */
size_t tr_build_ns(uint8_t *out, const uint8_t src[16], const uint8_t target[16], const uint8_t src_mac[6]);
size_t tr_build_na(uint8_t *out, const uint8_t src[16], const uint8_t dst[16], const uint8_t target[16],
		   const uint8_t mac[6], bool solicited);
/* ff02::1:ffXX:XXXX for target. */
void tr_solicited_node(uint8_t out[16], const uint8_t target[16]);

/* ----------------------------------------------------------- bubble nonce */

/* SipHash-2-4 (64-bit output) of data with a 16-byte key: the keyed hash
 * behind the relay's bubble source address (notes §3(c)). */
uint64_t tr_siphash24(const uint8_t key[16], const void *data, size_t len);

#endif /* TEREDO_TEREDO_H */
