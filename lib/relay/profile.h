/* SPDX-License-Identifier: BSD-3-Clause
 *
 * drivers-cfg profiles: per-driver-family port settings (queues, descriptors,
 * RSS fields, offloads, rte_flow rules) in a small INI file. The profile says
 * what to ask for; port.c asks the device and logs every fallback.
 * Keys and their meaning: docs/deploy.md.
 */
#ifndef TERELAY_PROFILE_H
#define TERELAY_PROFILE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define TR_PROF_NAME_LEN 64
#define TR_PROF_PATH_LEN 512
#define TR_PROF_ERR_LEN  512

/* RSS input sets, one bit per token of [rss] ipv4 / ipv6. */
#define TR_RSS_ADDR  0x1u   /* "addresses" */
#define TR_RSS_UDP   0x2u   /* "udp_ports" (IPv4 side only) */
#define TR_RSS_FRAG  0x4u   /* "fragments": hash fragments on addresses too */

/* rte_flow rules a profile may ask for (bit per [flow] key). */
enum tr_flow_rule {
	TR_FLOW_TEREDO,   /* IPv4/UDP to the relay's port -> RSS over the worker queues */
	TR_FLOW_ARP,      /* ARP -> control queue */
	TR_FLOW_ND,       /* ICMPv6 NS/NA -> control queue */
	TR_FLOW_LOCAL,    /* anything else for the relay's own addresses -> control queue */
	TR_FLOW_N
};

struct tr_profile {
	bool loaded;                      /* false: no profile, built-in defaults */
	char name[TR_PROF_NAME_LEN];      /* file name without .ini */
	char path[TR_PROF_PATH_LEN];
	/* [profile] */
	char driver[TR_PROF_NAME_LEN];    /* expected ethdev driver name, e.g. "mlx5_pci" */
	char source[256];                 /* where the capabilities come from */
	/* [queues] */
	uint16_t max_queues;              /* most rx/tx queue pairs worth configuring */
	uint16_t rx_desc, tx_desc;        /* 0 = keep the relay config's */
	/* [rss] */
	bool rss;
	uint32_t rss_ipv4, rss_ipv6;      /* TR_RSS_* */
	/* [offloads] */
	bool tx_ipv4_cksum, tx_udp_cksum, rx_cksum, rx_ptype, multi_seg;
	/* VLAN tags (D41): strip on receipt, insert on transmit, one 802.1Q
	 * tag (vlan_*) or an 802.1ad pair (qinq_*); used only where the
	 * configuration has tags, software otherwise. */
	bool vlan_strip, vlan_insert, qinq_strip, qinq_insert;
	/* [flow] */
	bool flow[TR_FLOW_N];
	bool flow_isolate;                /* only flow-matched traffic reaches the port */
};

/* Built-in behaviour without a profile: RSS on both sides, no offloads, no flows. */
void tr_profile_defaults(struct tr_profile *p);

/*
 * Parse one profile file. Returns 0, or -1 with one line "path:line: problem"
 * in err (line 0: the file cannot be opened). Unknown sections or keys are
 * errors, as in the relay configuration.
 */
int tr_profile_load(const char *path, struct tr_profile *p, char err[TR_PROF_ERR_LEN]);

/*
 * Find profile `name` ([ports] profile): a value with '/' is a path; otherwise
 * NAME.ini in $TERELAY_PROFILE_DIR, the config file's directory/drivers-cfg,
 * /etc/terelay/drivers-cfg, /usr/share/terelay/drivers-cfg (first found).
 * Empty name: defaults, returns 0. Errors name the config file and line 0.
 */
int tr_profile_find_load(const char *name, const char *config_path, struct tr_profile *p,
			 char err[TR_PROF_ERR_LEN]);

/* Text forms for --check-config. */
const char *tr_flow_rule_name(enum tr_flow_rule r);
void tr_profile_rss_str(uint32_t set, char *out, size_t len);
void tr_profile_print(const struct tr_profile *p, FILE *out);
/* Every key the loader knows, "section.key" one a line (schema tests, docs). */
void tr_profile_print_keys(FILE *out);

#endif /* TERELAY_PROFILE_H */
