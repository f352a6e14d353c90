/* SPDX-License-Identifier: BSD-3-Clause
 *
 * Per-lcore counters: each lcore writes only its own cache-aligned block with
 * plain increments (no atomics on the fast path); readers sum the blocks.
 *
 * Accounting identity (checked by tests and reported as accounting_ok): every
 * received packet ends in exactly one of fwd_native, fwd_teredo, consumed,
 * drops[reason], or is still queued (queued - flushed - dropped from queue)
 * or in flight in a ring.
 */
#ifndef TERELAY_COUNTERS_H
#define TERELAY_COUNTERS_H

#include <stdint.h>

#include <rte_common.h>
#include <rte_lcore.h>

#include "teredo.h"

/* X-macro: name, help. Names are the keys of the JSON stats and telemetry. */
#define TR_COUNTERS(C) \
	C(rx_packets,       "frames received from the ports") \
	C(rx_bytes,         "bytes received from the ports") \
	C(tx_packets,       "frames sent to the ports") \
	C(tx_bytes,         "bytes sent to the ports") \
	C(fwd_native,       "received packets decapsulated and sent to the native side") \
	C(fwd_teredo,       "received packets encapsulated and sent to a client (direct or flushed)") \
	C(consumed,         "received packets answered or absorbed: bubbles, ARP, ND, echo") \
	C(encapsulated,     "IPv6 packets encapsulated to a trusted client") \
	C(decapsulated,     "IPv6 packets decapsulated from a client") \
	C(to_control,       "packets handed from a worker to the control lcore") \
	C(bubbles_sent,     "indirect bubbles sent via a Teredo server") \
	C(bubbles_received, "direct bubbles received from clients") \
	C(bubbles_ratelimited, "bubbles postponed by the global or per-server budget") \
	C(nonce_accepted,   "bubbles from a new mapping accepted on a valid nonce (symmetric NAT)") \
	C(peers_created,    "pending peers created") \
	C(peers_trusted,    "peers that became trusted (incl. re-verified)") \
	C(peers_unverified_removed, "peers removed after unanswered bubbles (RFC 4380 §5.4.1)") \
	C(peers_expired,    "idle trusted peers removed") \
	C(peers_evicted,    "peers evicted to make room") \
	C(queued,           "packets queued for an unverified peer") \
	C(flushed,          "queued packets sent when their peer became trusted") \
	C(icmp6_sent,       "ICMPv6 errors sent") \
	C(icmp6_ratelimited,"ICMPv6 errors suppressed by the rate limit") \
	C(arp_replies,      "ARP replies sent for the relay's IPv4") \
	C(arp_requests,     "ARP requests sent to resolve next hops") \
	C(nd_adverts,       "neighbour advertisements sent for the relay's IPv6") \
	C(nd_solicits,      "neighbour solicitations sent to resolve next hops") \
	C(nexthop_misses,   "generated packets not sent: IPv4 next hop unresolved (ARP sent)") \
	C(echo_replies,     "ICMPv6 echo replies sent from the relay's address") \
	C(origin_ignored,   "origin indications stripped and ignored") \
	C(srv_rx,           "frames to the Teredo server's addresses (P:3544, S:3544)") \
	C(srv_ra_sent,      "router advertisements sent by the server role") \
	C(srv_fwd_teredo,   "packets the server role forwarded over UDP from its primary address") \
	C(srv_fwd_native,   "client echo requests the server role sent to native IPv6") \
	C(srv_echo_replies, "echo replies from the server's link-local address") \
	C(state_restored,   "peers loaded from the state file still valid: trusted at once") \
	C(state_lapsed,     "peers loaded from the state file past validity: re-verified before data") \
	C(state_resumed,    "verifications in progress at the last snapshot, resumed after a restart") \
	C(state_writes,     "state file snapshots written") \
	C(state_write_errors, "state file snapshots that could not be written") \
	C(polls_busy,       "polls that received packets") \
	C(polls_idle,       "polls that received nothing") \
	C(cycles_busy,      "TSC cycles spent in busy polls") \
	C(cycles_idle,      "TSC cycles spent in idle polls")

struct tr_counters {
#define TR_C_FIELD(n, h) uint64_t n;
	TR_COUNTERS(TR_C_FIELD)
#undef TR_C_FIELD
	uint64_t drops[TR_DROP_MAX];
} __rte_cache_aligned;

#ifdef TR_NO_COUNTERS
#define TR_INC(c, f)        do { (void)(c); } while (0)
#define TR_ADD(c, f, v)     do { (void)(c); (void)(v); } while (0)
#else
#define TR_INC(c, f)        ((c)->f++)
#define TR_ADD(c, f, v)     ((c)->f += (v))
#endif
/* Drops are always counted: they are the relay's audit trail. */
#define TR_DROP_INC(c, r)   ((c)->drops[(r)]++)

/* out += c, field by field (readers aggregate the per-lcore blocks). */
void tr_counters_add(struct tr_counters *out, const struct tr_counters *c);
uint64_t tr_counters_drops_total(const struct tr_counters *c);

#endif /* TERELAY_COUNTERS_H */
