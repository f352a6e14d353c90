/* SPDX-License-Identifier: BSD-3-Clause
 *
 * net_bonding ports (D47): recognise them, keep 802.3ad's LACPDUs flowing
 * when no traffic does, and show the bond's state (members, LACP) in
 * --check-config and telemetry. Bonding itself is DPDK's: terelay adds no
 * state machine of its own.
 */
#include <stdio.h>
#include <string.h>

#include <rte_dev.h>
#include <rte_devargs.h>
#include <rte_kvargs.h>

#include <rte_eth_bond.h>
#include <rte_eth_bond_8023ad.h>
#include <rte_ethdev.h>
#include <rte_telemetry.h>

#include "bond.h"

bool tr_bond_is(uint16_t port)
{
	struct rte_eth_dev_info info;

	return rte_eth_dev_info_get(port, &info) == 0 && info.driver_name != NULL &&
	       strcmp(info.driver_name, "net_bonding") == 0;
}

static int first_member_arg(const char *key, const char *value, void *opaque)
{
	char *out = opaque;

	(void)key;
	if (out[0] == '\0')
		snprintf(out, RTE_ETH_NAME_MAX_LEN, "%s", value);
	return 0;
}

int tr_bond_first_member(uint16_t port)
{
	uint16_t m[RTE_MAX_ETHPORTS], id;
	struct rte_eth_dev_info info;
	const struct rte_devargs *da;
	struct rte_kvargs *kv;
	char name[RTE_ETH_NAME_MAX_LEN] = "";

	if (!tr_bond_is(port))
		return -1;
	if (rte_eth_bond_slaves_get(port, m, RTE_MAX_ETHPORTS) >= 1)
		return m[0];
	/* Members named in the devargs join only when the bond is configured:
	 * before that, the first "slave=" (22.11; "member=" later) names it. */
	if (rte_eth_dev_info_get(port, &info) != 0 || info.device == NULL ||
	    (da = rte_dev_devargs(info.device)) == NULL || da->args == NULL ||
	    (kv = rte_kvargs_parse(da->args, NULL)) == NULL)
		return -1;
	rte_kvargs_process(kv, "slave", first_member_arg, name);
	rte_kvargs_process(kv, "member", first_member_arg, name);
	rte_kvargs_free(kv);
	return name[0] != '\0' && rte_eth_dev_get_port_by_name(name, &id) == 0 ? id : -1;
}

int tr_bond_mode(uint16_t port)
{
	return tr_bond_is(port) ? rte_eth_bond_mode_get(port) : -1;
}

const char *tr_bond_mode_name(int mode)
{
	switch (mode) {
	case BONDING_MODE_ROUND_ROBIN: return "round-robin";
	case BONDING_MODE_ACTIVE_BACKUP: return "active-backup";
	case BONDING_MODE_BALANCE: return "balance";
	case BONDING_MODE_BROADCAST: return "broadcast";
	case BONDING_MODE_8023AD: return "802.3ad";
	case BONDING_MODE_TLB: return "tlb";
	case BONDING_MODE_ALB: return "alb";
	default: return "?";
	}
}

unsigned tr_bond_ports_of_mode(const uint16_t *ports, unsigned n, int mode, uint16_t *out,
			       unsigned max)
{
	unsigned k = 0;

	for (unsigned i = 0; i < n && k < max; i++) {
		bool seen = false;

		for (unsigned j = 0; j < k; j++)
			seen = seen || out[j] == ports[i];
		if (!seen && tr_bond_mode(ports[i]) == mode)
			out[k++] = ports[i];
	}
	return k;
}

void tr_bond_keepalive_init(struct tr_bond_keepalive *k, const uint16_t *ports, unsigned n,
			    uint16_t txq, uint64_t tsc_hz, uint64_t now_tsc)
{
	memset(k, 0, sizeof(*k));
	k->txq = txq;
	k->period_tsc = tsc_hz * TR_BOND_KEEPALIVE_MS / 1000;
	k->next_tsc = now_tsc;
	k->n = tr_bond_ports_of_mode(ports, n, BONDING_MODE_8023AD, k->port, RTE_DIM(k->port));
}

static void port_name(uint16_t port, char *buf)
{
	if (rte_eth_dev_get_name_by_port(port, buf) != 0)
		strcpy(buf, "?");
}

/* "a,b" of the names of ports[0..n-1]. */
static void names(const uint16_t *ports, int n, char *out, size_t len)
{
	out[0] = '\0';
	for (int i = 0; i < n; i++) {
		char nm[RTE_ETH_NAME_MAX_LEN];
		size_t used = strlen(out);

		port_name(ports[i], nm);
		snprintf(out + used, len - used, "%s%s", i ? "," : "", nm);
	}
}

void tr_bond_print(FILE *out, uint16_t port)
{
	uint16_t m[RTE_MAX_ETHPORTS], a[RTE_MAX_ETHPORTS];
	char ms[512], as[512], prim[RTE_ETH_NAME_MAX_LEN] = "none";
	int mode = tr_bond_mode(port);

	if (mode < 0)
		return;
	int nm = rte_eth_bond_slaves_get(port, m, RTE_MAX_ETHPORTS);
	int na = rte_eth_bond_active_slaves_get(port, a, RTE_MAX_ETHPORTS);
	int p = rte_eth_bond_primary_get(port);

	names(m, nm < 0 ? 0 : nm, ms, sizeof(ms));
	names(a, na < 0 ? 0 : na, as, sizeof(as));
	if (p >= 0)
		port_name((uint16_t)p, prim);
	fprintf(out, "  bond: mode %d (%s), members %s, active %s, primary %s%s\n", mode,
		tr_bond_mode_name(mode), nm > 0 ? ms : "none", na > 0 ? as : "none", prim,
		mode == BONDING_MODE_8023AD ? "; LACPDUs kept flowing by the control lcore "
					      "(an empty tx burst every 10 ms)" : "");
}

/* LACP state bits (IEEE 802.1AX actor/partner state) as words. */
static void lacp_state(uint8_t s, char *out, size_t len)
{
	static const struct { uint8_t bit; const char *name; } b[] = {
		{ STATE_LACP_ACTIVE, "active" }, { STATE_LACP_SHORT_TIMEOUT, "short_timeout" },
		{ STATE_AGGREGATION, "aggregation" }, { STATE_SYNCHRONIZATION, "sync" },
		{ STATE_COLLECTING, "collecting" }, { STATE_DISTRIBUTING, "distributing" },
		{ STATE_DEFAULTED, "defaulted" }, { STATE_EXPIRED, "expired" },
	};

	out[0] = '\0';
	for (size_t i = 0; i < RTE_DIM(b); i++)
		if (s & b[i].bit) {
			size_t used = strlen(out);

			snprintf(out + used, len - used, "%s%s", used ? "," : "", b[i].name);
		}
}

/* A member selected, in sync, collecting and distributing on both ends. */
static bool lacp_up(const struct rte_eth_bond_8023ad_slave_info *si)
{
	const uint8_t up = STATE_SYNCHRONIZATION | STATE_COLLECTING | STATE_DISTRIBUTING;

	return si->selected == SELECTED && (si->actor_state & up) == up && (si->partner_state & up) == up;
}


int tr_bond_describe(uint16_t port, struct rte_tel_data *d)
{
	uint16_t m[RTE_MAX_ETHPORTS], a[RTE_MAX_ETHPORTS];
	char buf[512];
	int mode = tr_bond_mode(port);

	if (mode < 0)
		return -1;
	int nm = rte_eth_bond_slaves_get(port, m, RTE_MAX_ETHPORTS);
	int na = rte_eth_bond_active_slaves_get(port, a, RTE_MAX_ETHPORTS);
	int p = rte_eth_bond_primary_get(port);

	nm = nm < 0 ? 0 : nm;
	na = na < 0 ? 0 : na;
	struct rte_ether_addr mac;

	if (rte_eth_macaddr_get(port, &mac) == 0) {
		snprintf(buf, sizeof(buf), RTE_ETHER_ADDR_PRT_FMT, RTE_ETHER_ADDR_BYTES(&mac));
		rte_tel_data_add_dict_string(d, "mac", buf);
	}
	rte_tel_data_add_dict_int(d, "mode", mode);
	rte_tel_data_add_dict_string(d, "mode_name", tr_bond_mode_name(mode));
	names(m, nm, buf, sizeof(buf));
	rte_tel_data_add_dict_string(d, "members", buf);
	names(a, na, buf, sizeof(buf));
	rte_tel_data_add_dict_string(d, "active", buf);
	rte_tel_data_add_dict_int(d, "n_members", nm);
	rte_tel_data_add_dict_int(d, "n_active", na);
	if (p >= 0) {
		port_name((uint16_t)p, buf);
		rte_tel_data_add_dict_string(d, "primary", buf);
	}
	if (mode != BONDING_MODE_8023AD)
		return 0;
	int up = 0;

	for (int i = 0; i < nm; i++) {
		struct rte_eth_bond_8023ad_slave_info si;
		char nmb[RTE_ETH_NAME_MAX_LEN], key[RTE_ETH_NAME_MAX_LEN + 32];

		if (rte_eth_bond_8023ad_slave_info(port, m[i], &si) != 0)
			continue;
		port_name(m[i], nmb);
		lacp_state(si.actor_state, buf, sizeof(buf));
		/* telemetry names: letters, digits, "_" and "/" only */
		snprintf(key, sizeof(key), "%s_actor_state", nmb);
		rte_tel_data_add_dict_string(d, key, buf);
		lacp_state(si.partner_state, buf, sizeof(buf));
		snprintf(key, sizeof(key), "%s_partner_state", nmb);
		rte_tel_data_add_dict_string(d, key, buf);
		snprintf(key, sizeof(key), "%s_selected", nmb);
		rte_tel_data_add_dict_string(d, key, si.selected == SELECTED ? "selected" :
					     si.selected == STANDBY ? "standby" : "unselected");
		snprintf(buf, sizeof(buf), RTE_ETHER_ADDR_PRT_FMT,
			 RTE_ETHER_ADDR_BYTES(&si.partner.system));
		snprintf(key, sizeof(key), "%s_partner_system", nmb);
		rte_tel_data_add_dict_string(d, key, buf);
		up += lacp_up(&si);
	}
	rte_tel_data_add_dict_int(d, "n_lacp_up", up);
	return 0;
}
