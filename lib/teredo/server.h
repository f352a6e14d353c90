/* SPDX-License-Identifier: BSD-3-Clause
 *
 * The Teredo server's rules (RFC 4380 §5.3, RFC 5991 §3.2, RFC 6081 §4) on
 * plain byte buffers: which packets a server accepts (§5.3.1 cases 1-7),
 * router-solicitation validity (RFC 4861 §6.1.1), the reply address (cone
 * bit), the router advertisement from a template, and the forwarding
 * decision. Stateless: the verdict depends on the packet and the server's
 * two addresses only. No DPDK; see docs/server.md and the notes'
 * S01-S42 for the cases.
 */
#ifndef TEREDO_SERVER_H
#define TEREDO_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "teredo.h"

#define TR_SRV_PORT         3544    /* both addresses (Miredo server.c:531-534) */
#define TR_SRV_RA_LEN       104     /* origin + IPv6 + RA + PIO + MTU */
#define TR_SRV_RA_AUTH_LEN  117     /* with the 13-byte auth header first */

/* Who the server is: read-only, host byte order. */
struct tr_server_id {
	uint32_t primary;               /* P: the prefix 2001:0:<P>::/64, the source of every forward */
	uint32_t secondary;             /* S (default P + 1) */
	uint16_t mtu;                   /* advertised in the RA's MTU option, >= 1280 */
	uint8_t lladdr[16];             /* fe80::8000:f227:<~P> (tr_server_id_init) */
};
void tr_server_id_init(struct tr_server_id *s, uint32_t primary, uint32_t secondary, uint16_t mtu);

enum tr_srv_action {
	TR_SRV_DROP = 0,                /* reason says why */
	TR_SRV_RA,                      /* answer a router solicitation */
	TR_SRV_FWD_TEREDO,              /* forward over UDP from P:3544 */
	TR_SRV_FWD_NATIVE,              /* send the IPv6 packet natively */
	TR_SRV_ECHO_REPLY,              /* echo request to the server link-local: answer it */
};

struct tr_srv_verdict {
	enum tr_srv_action action;
	enum tr_drop_reason reason;     /* TR_SRV_DROP only */
	uint16_t ip6_off;               /* IPv6 packet, from the start of the UDP payload */
	uint16_t ip6_len;               /* 40 + payload length (trailers excluded) */
	uint16_t fwd_len;               /* TR_SRV_FWD_TEREDO: IPv6 + RFC 6081 trailers (kept) */
	/* TR_SRV_RA */
	bool has_auth;                  /* the RS carried an auth header: the RA carries one */
	uint8_t nonce[8];               /* its nonce (only when has_auth) */
	bool from_secondary;            /* RA leaves from S (RFC 4380 §5.3.2 / RFC 5991 §3.2) */
	/* TR_SRV_FWD_TEREDO and TR_SRV_ECHO_REPLY: UDP destination */
	uint32_t dst_ip;
	uint16_t dst_port;
	bool add_origin;                /* destination served here: origin = outer source */
};

/*
 * The §5.3.1 pipeline for one UDP payload (pl, len) received on P or S
 * (rx_on_secondary) from src_ip:src_port. Order: case 1 (encapsulation,
 * IPv6 validity), case 2 (bubble or ICMPv6), case 3 (global source), loop
 * guard, cases 4-7, then by destination: router solicitation (RFC 4861
 * §6.1.1 checks), echo to the link-local, non-global, native, Teredo.
 */
void tr_server_process(const struct tr_server_id *s, bool rx_on_secondary, uint32_t src_ip,
		       uint16_t src_port, const uint8_t *pl, size_t len, struct tr_srv_verdict *out);

/* Frame level: Ethernet + IPv4 + UDP to P or S port 3544. */
enum tr_srv_owner {
	TR_SRV_NOT_OURS = 0,            /* not addressed to the server: the relay decides */
	TR_SRV_ON_PRIMARY,
	TR_SRV_ON_SECONDARY,
};
/* Dispatch test: an IPv4 frame to P or S, protocol UDP, destination port
 * 3544 (fragments to P or S count as ours, so they are dropped as such). */
enum tr_srv_owner tr_server_owns(const struct tr_server_id *s, const uint8_t *frame, size_t len);

/* Validates the IPv4/UDP headers (hw as tr_classify_hw), then
 * tr_server_process; ip6_off is then relative to the frame. *pl_off
 * receives the UDP payload's offset (0 on an IPv4/UDP drop). */
void tr_server_classify(const struct tr_server_id *s, const uint8_t *frame, size_t len, unsigned hw,
			struct tr_srv_verdict *out, uint16_t *pl_off);

/* The RA's UDP payload written at out (TR_SRV_RA_AUTH_LEN bytes room):
 * [auth 00 01 00 00 nonce 00] origin(client) IPv6(L -> dst) RA PIO MTU,
 * the ICMPv6 checksum patched into a precomputed template sum.
 * Returns 117 with nonce, 104 without (nonce NULL). */
struct tr_ra_tmpl {
	uint8_t b[TR_SRV_RA_LEN - TR_ORIGIN_LEN];   /* IPv6 + ICMPv6, destination zero */
	uint32_t sum;                               /* ICMPv6 sum without the destination */
};
void tr_ra_tmpl_init(struct tr_ra_tmpl *t, const struct tr_server_id *s);
size_t tr_ra_write(const struct tr_ra_tmpl *t, uint8_t *out, const uint8_t *nonce,
		   uint32_t client_ip, uint16_t client_port, const uint8_t dst[16]);

/* Echo reply (type 129) from the server link-local to the request's source,
 * same identifier, sequence and data. ip6 holds the request (ip6_len
 * bytes); out needs ip6_len bytes. Returns ip6_len. */
size_t tr_server_echo_reply(const struct tr_server_id *s, uint8_t *out, const uint8_t *ip6,
			    size_t ip6_len);

/* IPv4 + UDP header (28 bytes) at out for payload_len bytes at out + 28,
 * any payload (the full UDP checksum is computed), DF clear. Returns 28. */
size_t tr_server_write_udp4(uint8_t *out, uint32_t src, uint32_t dst, uint16_t dport,
			    uint16_t ip_id, uint8_t ttl, size_t payload_len);

#endif /* TEREDO_SERVER_H */
