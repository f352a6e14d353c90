/* SPDX-License-Identifier: BSD-3-Clause
 *
 * terelay configuration: an INI file parsed with DPDK's rte_cfgfile into a
 * plain struct. Every key, its default and its unit are documented in
 * docs/configuration.md. Defaults follow RFC 4380 where it gives one.
 */
#ifndef TERELAY_CONFIG_H
#define TERELAY_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "teredo.h"

#define TR_CFG_MAX_SERVED   16
#define TR_CFG_NAME_LEN     64
#define TR_CFG_ERR_LEN      512
#define TR_CFG_PATH_LEN     256

struct tr_config {
	/* [relay] */
	bool relay_enabled;                    /* enabled = true (false: server-only box) */
	uint32_t ipv4;                         /* ipv4 = 198.51.100.1 (required) */
	uint16_t port;                         /* port = 3544 */
	uint8_t ipv6[16];                      /* ipv6 = 2001:db8:ffff::1 (required) */
	uint16_t mtu;                          /* mtu = 1280 (1280..65507) */
	uint8_t ttl;                           /* ttl = 64: outer IPv4 TTL */
	struct tr_prefix6 served[TR_CFG_MAX_SERVED]; /* served = 2001:db8::/32, 2001:db9::/48 */
	unsigned n_served;                     /* 0 = any global unicast destination */

	/* [ports] */
	char teredo_port[TR_CFG_NAME_LEN];     /* teredo = 0 | ethdev name: carries IPv4/UDP */
	char native_port[TR_CFG_NAME_LEN];     /* native = 0 | ethdev name: carries native IPv6 */
	uint16_t rx_desc;                      /* rx_desc = 1024 */
	uint16_t tx_desc;                      /* tx_desc = 1024 */
	uint32_t mbufs;                        /* mbufs = 16384 (per socket) */
	uint16_t burst;                        /* burst = 32 (1..64) */
	char profile[TR_CFG_NAME_LEN];         /* profile = "" : drivers-cfg profile name */
	/* VLAN of each side (D40): none (0), one 802.1Q tag, or with an inner
	 * VLAN an 802.1ad pair (teredo_vlan the outer tag). */
	uint16_t teredo_vlan;                  /* teredo_vlan = 100 (1..4094; 0 = untagged) */
	uint16_t teredo_inner_vlan;            /* teredo_inner_vlan = 200 (QinQ: needs teredo_vlan) */
	uint16_t teredo_outer_tpid;            /* teredo_outer_tpid = 0x88a8 | 0x8100 (0 = 0x8100 single, 0x88a8 QinQ) */
	uint16_t native_vlan;                  /* native_vlan, native_inner_vlan, native_outer_tpid: the same */
	uint16_t native_inner_vlan;
	uint16_t native_outer_tpid;

	/* [nexthop] */
	uint32_t ipv4_gateway;                 /* ipv4_gateway = a.b.c.d (0 = destinations on link) */
	bool ipv4_gateway_mac_set;
	uint8_t ipv4_gateway_mac[6];           /* ipv4_gateway_mac = 02:00:00:00:00:01 (static, no ARP) */
	uint8_t ipv6_gateway[16];              /* ipv6_gateway = 2001:db8::fffe (:: = on link) */
	bool ipv6_gateway_mac_set;
	uint8_t ipv6_gateway_mac[6];           /* ipv6_gateway_mac = 02:00:00:00:00:02 (static, no NS) */
	uint32_t neigh_timeout_s;              /* neigh_timeout = 300: resolved entries re-validated after */

	/* [peers] */
	uint32_t peers_max;                    /* capacity = 1048576 */
	uint32_t pending_max;                  /* pending_capacity = 65536 (unverified peers) */
	uint32_t shards;                       /* shards = 4 (power of two, 1..64) */
	uint32_t idle_timeout_s;               /* idle_timeout = 60: peer removed after no traffic */
	uint32_t validity_s;                   /* validity = 30 (RFC 4380 §5.2.4) */
	uint32_t negative_cache;               /* negative_cache = 65536 entries (4-per-300 s across removal) */
	bool accept_unknown;                   /* accept_unknown = false (RFC 4380 §5.4.2 MAY) */

	/* [queue] */
	uint32_t peer_queue_bytes;             /* peer_bytes = 1280 (Miredo) */
	uint32_t peer_queue_pkts;              /* peer_packets = 8 */
	uint32_t global_queue_pkts;            /* global_packets = 65536 */

	/* [bubbles] */
	uint32_t bubble_interval_ms;           /* interval = 2000 (RFC 4380 §5.2.6, §5.4.1) */
	uint32_t bubble_max;                   /* max = 4 per window (RFC 4380 §5.2.6) */
	uint32_t bubble_window_s;              /* window = 300 (RFC 4380 §5.2.6) */
	uint32_t bubble_rate;                  /* rate = 10000: bubbles per second, whole relay */
	uint32_t bubble_server_rate;           /* server_rate = 1000: per Teredo server IPv4 per second */
	bool nonce_trailer;                    /* nonce_trailer = true: RFC 6081 Nonce trailer on indirect bubbles */
	uint32_t nonce_epoch_s;                /* nonce_epoch = 30: bubble nonce key epoch (current + previous accepted) */
	bool bubble_secret_set;
	uint8_t bubble_secret[16];             /* secret = 32 hex digits (default: random at start) */

	/* [icmp6] */
	uint32_t icmp6_rate;                   /* rate = 100: errors per second */
	uint32_t icmp6_burst;                  /* burst = 10 */

	/* [control] */
	uint32_t ring_size;                    /* ring = 4096 (power of two): worker -> control */

	/* [telemetry] */
	uint32_t summary_interval_s;           /* summary_interval = 10 (0 = off; off in replay unless set) */
	bool summary_interval_set;
	char prometheus[TR_CFG_NAME_LEN];      /* prometheus = "" | 127.0.0.1:9100 */

	/* [server] (the Teredo server role, RFC 4380 §5.3; docs/server.md) */
	bool server_enabled;                   /* enabled = false */
	uint32_t server_primary;               /* primary = 203.0.113.120 (required when enabled, global) */
	bool server_secondary_set;
	uint32_t server_secondary;             /* secondary = primary + 1 (global) */
	uint16_t server_port;                  /* port = 3544 (fixed) */
	uint16_t server_mtu;                   /* mtu = 1280: advertised in the RA (1280..65507) */
	uint32_t server_rs_rate;               /* rs_rate = 10: RAs per second per source IPv4 (per worker) */
	uint32_t server_rs_burst;              /* rs_burst = 20 */
	uint32_t server_fwd_rate;              /* fwd_rate = 100: forwards per second per destination IPv4 */
	uint32_t server_fwd_burst;             /* fwd_burst = 200 */

	/* [state] (peer table across restarts, D96; docs/configuration.md) */
	char state_file[TR_CFG_PATH_LEN];      /* file = "" (off) | /var/lib/terelay/state */
	uint32_t state_interval_s;             /* interval = 60: periodic snapshot (0 = at exit only) */
};

/* Defaults only (no required keys set). */
void tr_config_defaults(struct tr_config *c);

/*
 * Load and validate path into c (starting from defaults). On error returns
 * -1 and writes one line "path:line: what is wrong" (line 0 when the file
 * cannot be opened or the problem is a missing required key) into err.
 * Unknown sections and keys are errors: a typo must not silently fall back
 * to a default.
 */
int tr_config_load(const char *path, struct tr_config *c, char err[TR_CFG_ERR_LEN]);

/* The tags of a side (enum tr_side) as the configuration names them. */
void tr_config_vlan(const struct tr_config *c, enum tr_side side, struct tr_vlan *out);

/* Human-readable dump (one "section.key = value" per line), for --check-config. */
void tr_config_print(const struct tr_config *c, FILE *out);

#endif /* TERELAY_CONFIG_H */
