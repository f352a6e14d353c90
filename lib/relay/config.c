/* SPDX-License-Identifier: BSD-3-Clause
 *
 * terelay configuration loader.
 *
 * The file is tokenised here, line by line. DPDK's rte_cfgfile was the first
 * choice but, in 22.11, rte_cfgfile_load():
 *  - knows one comment character only: "# mtu = 1500" becomes a key named
 *    "# mtu", and such a line before the first section fails the whole load;
 *  - silently skips lines without '=' ("mtu 1400" would be ignored);
 *  - accepts a section twice, truncates names and values, keeps no line numbers;
 * and its entries hold at most 255 characters, too few for 16 served prefixes.
 * A typo must never fall back to a default, so every line is accounted for.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#define MAX_LINE     4096   /* longer lines are certainly not a valid entry */
#define SHOW_MAX     80     /* longer values are elided in messages */
#define NO_SET       SIZE_MAX

enum key_type {
	K_IPV4,       /* unicast IPv4, 0.0.0.0 refused */
	K_IPV4_GW,    /* like K_IPV4 but 0.0.0.0 means "on link" */
	K_IPV6,       /* unicast IPv6, :: refused */
	K_IPV6_GW,    /* like K_IPV6 but :: means "on link" */
	K_PREFIXES,   /* comma-separated addr/len list */
	K_MAC,
	K_UINT,
	K_POW2,
	K_BOOL,
	K_NAME,       /* ethdev / profile name */
	K_ENDPOINT,   /* ipv4:port or [ipv6]:port */
	K_HEX16,      /* 16 bytes as 32 hex digits */
	K_PATH,       /* absolute file path */
	K_TPID,       /* VLAN tag protocol identifier: 0x8100 or 0x88a8 */
};

struct key_desc {
	const char *section;
	const char *name;
	enum key_type type;
	size_t off;        /* offset of the field in struct tr_config */
	size_t width;      /* size of the field (integers) */
	size_t set_off;    /* offset of the matching "_set" flag, or NO_SET */
	uint32_t min, max; /* integers */
	bool required;
	bool empty_ok;     /* "key =" is meaningful (means: none) */
};

#define FLD(f) offsetof(struct tr_config, f), sizeof(((struct tr_config *)0)->f)
#define SETF(f) offsetof(struct tr_config, f)

static const struct key_desc keys[] = {
	{ "relay", "ipv4", K_IPV4, FLD(ipv4), NO_SET, 0, 0, true, false },
	{ "relay", "port", K_UINT, FLD(port), NO_SET, 1, 65535, false, false },
	{ "relay", "ipv6", K_IPV6, FLD(ipv6), NO_SET, 0, 0, true, false },
	{ "relay", "mtu", K_UINT, FLD(mtu), NO_SET, 1280, TR_MAX_UDP_PAYLOAD, false, false },
	{ "relay", "ttl", K_UINT, FLD(ttl), NO_SET, 1, 255, false, false },
	{ "relay", "served", K_PREFIXES, FLD(served), NO_SET, 0, 0, false, true },
	{ "relay", "enabled", K_BOOL, FLD(relay_enabled), NO_SET, 0, 0, false, false },

	{ "ports", "teredo", K_NAME, FLD(teredo_port), NO_SET, 0, 0, false, false },
	{ "ports", "native", K_NAME, FLD(native_port), NO_SET, 0, 0, false, false },
	{ "ports", "rx_desc", K_UINT, FLD(rx_desc), NO_SET, 16, 32768, false, false },
	{ "ports", "tx_desc", K_UINT, FLD(tx_desc), NO_SET, 16, 32768, false, false },
	{ "ports", "mbufs", K_UINT, FLD(mbufs), NO_SET, 1024, 67108864, false, false },
	{ "ports", "burst", K_UINT, FLD(burst), NO_SET, 1, 64, false, false },
	{ "ports", "profile", K_NAME, FLD(profile), NO_SET, 0, 0, false, true },
	{ "ports", "teredo_vlan", K_UINT, FLD(teredo_vlan), NO_SET, 1, TR_VLAN_VID_MAX, false, false },
	{ "ports", "teredo_inner_vlan", K_UINT, FLD(teredo_inner_vlan), NO_SET, 1, TR_VLAN_VID_MAX,
	  false, false },
	{ "ports", "teredo_outer_tpid", K_TPID, FLD(teredo_outer_tpid), NO_SET, 0, 0, false, false },
	{ "ports", "native_vlan", K_UINT, FLD(native_vlan), NO_SET, 1, TR_VLAN_VID_MAX, false, false },
	{ "ports", "native_inner_vlan", K_UINT, FLD(native_inner_vlan), NO_SET, 1, TR_VLAN_VID_MAX,
	  false, false },
	{ "ports", "native_outer_tpid", K_TPID, FLD(native_outer_tpid), NO_SET, 0, 0, false, false },

	{ "nexthop", "ipv4_gateway", K_IPV4_GW, FLD(ipv4_gateway), NO_SET, 0, 0, false, false },
	{ "nexthop", "ipv4_gateway_mac", K_MAC, FLD(ipv4_gateway_mac), SETF(ipv4_gateway_mac_set),
	  0, 0, false, false },
	{ "nexthop", "ipv6_gateway", K_IPV6_GW, FLD(ipv6_gateway), NO_SET, 0, 0, false, false },
	{ "nexthop", "ipv6_gateway_mac", K_MAC, FLD(ipv6_gateway_mac), SETF(ipv6_gateway_mac_set),
	  0, 0, false, false },
	{ "nexthop", "neigh_timeout", K_UINT, FLD(neigh_timeout_s), NO_SET, 1, 86400, false, false },

	{ "peers", "capacity", K_UINT, FLD(peers_max), NO_SET, 1024, 67108864, false, false },
	{ "peers", "pending_capacity", K_UINT, FLD(pending_max), NO_SET, 16, 67108864, false, false },
	{ "peers", "shards", K_POW2, FLD(shards), NO_SET, 1, 64, false, false },
	{ "peers", "idle_timeout", K_UINT, FLD(idle_timeout_s), NO_SET, 1, 86400, false, false },
	{ "peers", "validity", K_UINT, FLD(validity_s), NO_SET, 1, 3600, false, false },
	{ "peers", "negative_cache", K_UINT, FLD(negative_cache), NO_SET, 0, 16777216, false, false },
	{ "peers", "accept_unknown", K_BOOL, FLD(accept_unknown), NO_SET, 0, 0, false, false },

	{ "queue", "peer_bytes", K_UINT, FLD(peer_queue_bytes), NO_SET, 1280, 1048576, false, false },
	{ "queue", "peer_packets", K_UINT, FLD(peer_queue_pkts), NO_SET, 1, 1024, false, false },
	{ "queue", "global_packets", K_UINT, FLD(global_queue_pkts), NO_SET, 1, 16777216, false, false },

	{ "bubbles", "interval", K_UINT, FLD(bubble_interval_ms), NO_SET, 100, 60000, false, false },
	{ "bubbles", "max", K_UINT, FLD(bubble_max), NO_SET, 1, 1000, false, false },
	{ "bubbles", "window", K_UINT, FLD(bubble_window_s), NO_SET, 1, 86400, false, false },
	{ "bubbles", "rate", K_UINT, FLD(bubble_rate), NO_SET, 1, 10000000, false, false },
	{ "bubbles", "server_rate", K_UINT, FLD(bubble_server_rate), NO_SET, 1, 10000000, false, false },
	{ "bubbles", "nonce_trailer", K_BOOL, FLD(nonce_trailer), NO_SET, 0, 0, false, false },
	{ "bubbles", "nonce_epoch", K_UINT, FLD(nonce_epoch_s), NO_SET, 1, 3600, false, false },
	{ "bubbles", "secret", K_HEX16, FLD(bubble_secret), SETF(bubble_secret_set), 0, 0, false, false },

	{ "icmp6", "rate", K_UINT, FLD(icmp6_rate), NO_SET, 1, 1000000, false, false },
	{ "icmp6", "burst", K_UINT, FLD(icmp6_burst), NO_SET, 1, 10000, false, false },

	{ "control", "ring", K_POW2, FLD(ring_size), NO_SET, 64, 1048576, false, false },

	{ "telemetry", "summary_interval", K_UINT, FLD(summary_interval_s), SETF(summary_interval_set),
	  0, 86400, false, false },
	{ "telemetry", "prometheus", K_ENDPOINT, FLD(prometheus), NO_SET, 0, 0, false, true },

	{ "server", "enabled", K_BOOL, FLD(server_enabled), NO_SET, 0, 0, false, false },
	{ "server", "primary", K_IPV4, FLD(server_primary), NO_SET, 0, 0, false, false },
	{ "server", "secondary", K_IPV4, FLD(server_secondary), SETF(server_secondary_set),
	  0, 0, false, false },
	/* RFC 4380 §5.3 and every client: both addresses on 3544. A key so that
	 * a different value is an error, not a silent default (D70). */
	{ "server", "port", K_UINT, FLD(server_port), NO_SET, TR_SERVER_PORT, TR_SERVER_PORT,
	  false, false },
	{ "server", "mtu", K_UINT, FLD(server_mtu), NO_SET, 1280, TR_MAX_UDP_PAYLOAD, false, false },
	{ "server", "rs_rate", K_UINT, FLD(server_rs_rate), NO_SET, 1, 10000000, false, false },
	{ "server", "rs_burst", K_UINT, FLD(server_rs_burst), NO_SET, 1, 10000000, false, false },
	{ "server", "fwd_rate", K_UINT, FLD(server_fwd_rate), NO_SET, 1, 10000000, false, false },
	{ "server", "fwd_burst", K_UINT, FLD(server_fwd_burst), NO_SET, 1, 10000000, false, false },

	{ "state", "file", K_PATH, FLD(state_file), NO_SET, 0, 0, false, true },
	{ "state", "interval", K_UINT, FLD(state_interval_s), NO_SET, 0, 86400, false, false },
};

#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

static const char *const sections[] = {
	"relay", "ports", "nexthop", "peers", "queue", "bubbles", "icmp6", "control", "telemetry",
	"server", "state",
};

#define N_SECTIONS (sizeof(sections) / sizeof(sections[0]))

void
tr_config_defaults(struct tr_config *c)
{
	memset(c, 0, sizeof(*c));
	c->port = TR_SERVER_PORT;
	c->mtu = TR_MTU_DEFAULT;
	c->ttl = 64;
	c->relay_enabled = true;
	c->server_port = TR_SERVER_PORT;
	c->server_mtu = TR_MTU_DEFAULT;
	c->server_rs_rate = 10;
	c->server_rs_burst = 20;
	c->server_fwd_rate = 100;
	c->server_fwd_burst = 200;
	strcpy(c->teredo_port, "0");
	strcpy(c->native_port, "0");
	c->rx_desc = 1024;
	c->tx_desc = 1024;
	c->mbufs = 16384;
	c->burst = 32;
	c->neigh_timeout_s = 300;
	c->peers_max = 1048576;
	c->pending_max = 65536;
	c->shards = 1;     /* docs/decisions.md D31: one bulk lookup per burst */
	c->idle_timeout_s = 60;
	c->validity_s = 30;
	c->negative_cache = 65536;
	c->peer_queue_bytes = 1280;
	c->peer_queue_pkts = 8;
	c->global_queue_pkts = 65536;
	c->bubble_interval_ms = 2000;
	c->bubble_max = 4;
	c->bubble_window_s = 300;
	c->bubble_rate = 10000;
	c->bubble_server_rate = 1000;
	c->nonce_trailer = true;
	c->nonce_epoch_s = 30;
	c->icmp6_rate = 100;
	c->icmp6_burst = 10;
	c->ring_size = 4096;
	c->summary_interval_s = 10;
	c->state_interval_s = 60;
}

/* ------------------------------------------------------------ helpers */

static void __attribute__((format(printf, 4, 5)))
set_err(char *err, const char *path, unsigned line, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(err, TR_CFG_ERR_LEN, "%s:%u: ", path, line);
	if (n < 0 || n >= TR_CFG_ERR_LEN)
		return;
	va_start(ap, fmt);
	vsnprintf(err + n, TR_CFG_ERR_LEN - (size_t)n, fmt, ap);
	va_end(ap);
}

static bool
is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == '\v' || ch == '\f';
}

/* Trim in place; returns the new start. */
static char *
trim(char *s)
{
	size_t n;

	while (is_space(*s))
		s++;
	n = strlen(s);
	while (n > 0 && is_space(s[n - 1]))
		s[--n] = '\0';
	return s;
}

static int
section_index(const char *name)
{
	for (size_t i = 0; i < N_SECTIONS; i++)
		if (strcmp(sections[i], name) == 0)
			return (int)i;
	return -1;
}

static int
key_index(const char *sec, const char *name)
{
	for (size_t i = 0; i < N_KEYS; i++)
		if (strcmp(keys[i].section, sec) == 0 && strcmp(keys[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* Decimal digits only: strtoul alone would accept " +12", "-1" and "0x10". */
static int
parse_u32(const char *s, uint32_t *out, bool *overflow)
{
	unsigned long v;
	char *end;

	*overflow = false;
	if (*s == '\0')
		return -1;
	for (const char *p = s; *p; p++)
		if (*p < '0' || *p > '9')
			return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (*end != '\0')
		return -1;
	if (errno == ERANGE || v > UINT32_MAX) {
		*overflow = true;
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

static int
parse_mac(const char *s, uint8_t mac[6])
{
	if (strlen(s) != 17)
		return -1;
	for (int i = 0; i < 6; i++) {
		const char *p = s + 3 * i;
		unsigned v = 0;

		for (int j = 0; j < 2; j++) {
			int ch = (unsigned char)p[j];

			if (!isxdigit(ch))
				return -1;
			v = v * 16 + (unsigned)(isdigit(ch) ? ch - '0' : tolower(ch) - 'a' + 10);
		}
		if (i < 5 && p[2] != ':')
			return -1;
		mac[i] = (uint8_t)v;
	}
	return 0;
}

static int
parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

static int
parse_ipv6(const char *s, uint8_t out[16])
{
	return inet_pton(AF_INET6, s, out) == 1 ? 0 : -1;
}

static int
parse_ipv4(const char *s, uint32_t *out)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		return -1;
	*out = ntohl(a.s_addr);
	return 0;
}

static bool
ipv4_is_unicast(uint32_t ip)
{
	return (ip & 0xf0000000u) != 0xe0000000u && ip != 0xffffffffu;
}

/* "ipv4:port" or "[ipv6]:port" */
static const char *
check_endpoint(const char *s)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon;
	uint8_t a6[16];
	uint32_t a4, port;
	bool ovf;
	size_t hl;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL || close[1] != ':')
			return "must be ipv4:port or [ipv6]:port";
		hl = (size_t)(close - s - 1);
		if (hl >= sizeof(host))
			return "not a valid IPv6 address";
		memcpy(host, s + 1, hl);
		host[hl] = '\0';
		if (parse_ipv6(host, a6) < 0)
			return "not a valid IPv6 address";
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			return "must be ipv4:port or [ipv6]:port";
		hl = (size_t)(colon - s);
		if (hl >= sizeof(host))
			return "not a valid IPv4 address";
		memcpy(host, s, hl);
		host[hl] = '\0';
		if (parse_ipv4(host, &a4) < 0)
			return "not a valid IPv4 address";
	}
	if (parse_u32(colon + 1, &port, &ovf) < 0 || port < 1 || port > 65535)
		return "port must be between 1 and 65535";
	return NULL;
}

static void
store_uint(struct tr_config *c, const struct key_desc *k, uint32_t v)
{
	uint8_t *p = (uint8_t *)c + k->off;

	switch (k->width) {
	case 1: { uint8_t x = (uint8_t)v; memcpy(p, &x, 1); break; }
	case 2: { uint16_t x = (uint16_t)v; memcpy(p, &x, 2); break; }
	default: memcpy(p, &v, 4); break;
	}
}

static uint32_t
load_uint(const struct tr_config *c, const struct key_desc *k)
{
	const uint8_t *p = (const uint8_t *)c + k->off;

	switch (k->width) {
	case 1: { uint8_t x; memcpy(&x, p, 1); return x; }
	case 2: { uint16_t x; memcpy(&x, p, 2); return x; }
	default: { uint32_t x; memcpy(&x, p, 4); return x; }
	}
}

/*
 * Validate one served prefix "addr/len" (item is NUL-terminated, trimmed).
 * On error writes the reason into why.
 */
static int
parse_prefix(const char *item, struct tr_prefix6 *p, char *why, size_t why_len)
{
	char addr[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(item, '/');
	uint32_t len;
	bool ovf;
	size_t al;

	if (slash == NULL) {
		snprintf(why, why_len, "'%.64s': missing '/length'", item);
		return -1;
	}
	al = (size_t)(slash - item);
	if (al < sizeof(addr)) {
		memcpy(addr, item, al);
		addr[al] = '\0';
	}
	if (al >= sizeof(addr) || parse_ipv6(addr, p->addr) < 0) {
		snprintf(why, why_len, "'%.64s': not a valid IPv6 prefix", item);
		return -1;
	}
	if (parse_u32(slash + 1, &len, &ovf) < 0 || len > 128) {
		snprintf(why, why_len, "'%.64s': prefix length must be between 0 and 128", item);
		return -1;
	}
	p->len = (uint8_t)len;
	/* Host bits set usually means a mistyped length: refuse rather than guess. */
	for (unsigned b = len; b < 128; b++) {
		if (p->addr[b / 8] & (0x80u >> (b % 8))) {
			snprintf(why, why_len, "'%.64s': address has bits set beyond /%u", item, len);
			return -1;
		}
	}
	return 0;
}

static int
parse_prefixes(const char *s, struct tr_config *c, char *why, size_t why_len)
{
	char *buf, *tok;
	unsigned n = 0;
	int rc = -1;

	c->n_served = 0;
	if (*s == '\0')
		return 0;
	buf = strdup(s);
	if (buf == NULL) {
		snprintf(why, why_len, "out of memory");
		return -1;
	}
	/* strtok would merge ",," silently: walk commas by hand. */
	tok = buf;
	for (;;) {
		char *comma = strchr(tok, ',');
		char *item;

		if (comma != NULL)
			*comma = '\0';
		item = trim(tok);
		if (*item == '\0') {
			snprintf(why, why_len, "empty item in prefix list");
			goto out;
		}
		if (n == TR_CFG_MAX_SERVED) {
			snprintf(why, why_len, "at most %d prefixes", TR_CFG_MAX_SERVED);
			goto out;
		}
		if (parse_prefix(item, &c->served[n], why, why_len) < 0)
			goto out;
		n++;
		if (comma == NULL)
			break;
		tok = comma + 1;
	}
	c->n_served = n;
	rc = 0;
out:
	free(buf);
	return rc;
}

/*
 * Parse value v for key k into c. Returns NULL or the reason it is refused;
 * dynamic reasons are written into why.
 */
static const char *
parse_value(const struct key_desc *k, const char *v, struct tr_config *c, char *why,
	    size_t why_len)
{
	uint8_t *field = (uint8_t *)c + k->off;
	uint32_t u;
	uint8_t a6[16];
	bool ovf, b;

	switch (k->type) {
	case K_IPV4:
	case K_IPV4_GW:
		if (parse_ipv4(v, &u) < 0)
			return "not a valid IPv4 address";
		if (u == 0 && k->type == K_IPV4)
			return "must not be 0.0.0.0";
		if (!ipv4_is_unicast(u))
			return "must be a unicast address (not multicast or broadcast)";
		memcpy(field, &u, 4);
		break;
	case K_IPV6:
	case K_IPV6_GW:
		if (parse_ipv6(v, a6) < 0)
			return "not a valid IPv6 address";
		if (k->type == K_IPV6 && memcmp(a6, (const uint8_t[16]){ 0 }, 16) == 0)
			return "must not be ::";
		if (a6[0] == 0xff)
			return "must be a unicast address (not multicast)";
		memcpy(field, a6, 16);
		break;
	case K_PREFIXES:
		return parse_prefixes(v, c, why, why_len) < 0 ? why : NULL;
	case K_HEX16:
		for (int i = 0; i < 16; i++) {
			unsigned byte;

			if (!isxdigit((unsigned char)v[2 * i]) || !isxdigit((unsigned char)v[2 * i + 1]) ||
			    sscanf(v + 2 * i, "%2x", &byte) != 1)
				return "must be exactly 32 hexadecimal digits";
			field[i] = (uint8_t)byte;
		}
		if (v[32] != '\0')
			return "must be exactly 32 hexadecimal digits";
		break;
	case K_TPID: {
		uint16_t t;

		if (strcasecmp(v, "0x8100") == 0)
			t = TR_TPID_8021Q;
		else if (strcasecmp(v, "0x88a8") == 0)
			t = TR_TPID_8021AD;
		else
			return "must be 0x8100 (802.1Q) or 0x88a8 (802.1ad)";
		memcpy(field, &t, sizeof(t));
		break;
	}
	case K_MAC:
		if (parse_mac(v, field) < 0)
			return "not a MAC address (xx:xx:xx:xx:xx:xx)";
		if ((field[0] & 1) || memcmp(field, (const uint8_t[6]){ 0 }, 6) == 0)
			return "must be a unicast MAC address";
		break;
	case K_UINT:
		if (parse_u32(v, &u, &ovf) < 0 && !ovf) {
			snprintf(why, why_len, "must be a decimal integer between %u and %u",
				 k->min, k->max);
			return why;
		}
		if (ovf || u < k->min || u > k->max) {
			snprintf(why, why_len, "must be between %u and %u", k->min, k->max);
			return why;
		}
		store_uint(c, k, u);
		break;
	case K_POW2:
		if (parse_u32(v, &u, &ovf) < 0 || u < k->min || u > k->max || (u & (u - 1)) != 0) {
			snprintf(why, why_len, "must be a power of two between %u and %u",
				 k->min, k->max);
			return why;
		}
		store_uint(c, k, u);
		break;
	case K_BOOL:
		if (parse_bool(v, &b) < 0)
			return "must be true/false, yes/no, on/off or 1/0";
		memcpy(field, &b, sizeof(b));
		break;
	case K_PATH:
		/* Absolute: the unit's working directory is not the operator's. */
		if (*v != '\0' && *v != '/')
			return "must be an absolute path";
		if (strlen(v) >= TR_CFG_PATH_LEN)
			return "too long (at most 255 characters)";
		memcpy(field, v, strlen(v) + 1);
		break;
	case K_ENDPOINT:
		if (*v != '\0') {
			const char *r = check_endpoint(v);

			if (r != NULL)
				return r;
		}
		/* valid endpoints are stored as text, like names */
		__attribute__((fallthrough));
	case K_NAME:
		if (strlen(v) >= TR_CFG_NAME_LEN)
			return "too long (at most 63 characters)";
		for (const char *p = v; *p; p++)
			if (is_space(*p))
				return "must not contain spaces";
		memcpy(field, v, strlen(v) + 1);
		break;
	}
	if (k->set_off != NO_SET)
		*((bool *)((uint8_t *)c + k->set_off)) = true;
	return NULL;
}

/* ------------------------------------------------------------- loader */

struct scan {
	const char *path;
	char *err;
	char *val[N_KEYS];          /* value text, owned */
	unsigned sec_line[N_SECTIONS];
	unsigned key_line[N_KEYS];
	int order[N_KEYS];          /* key indices in file order */
	unsigned n_order;
};

/* One line, already stripped of its comment and trimmed. 0 or -1. */
static int
scan_line(struct scan *s, char *t, unsigned line, int *cur_sec)
{
	char *eq, *key, *val;
	size_t vl;
	int si, ki;

	if (t[0] == '[') {
		size_t n = strlen(t);
		char *close = strchr(t, ']');
		char *name;

		if (close == NULL) {
			set_err(s->err, s->path, line, "missing ']' in section header");
			return -1;
		}
		if (close != t + n - 1) {
			set_err(s->err, s->path, line, "unexpected text after ']'");
			return -1;
		}
		*close = '\0';
		name = trim(t + 1);
		if (*name == '\0') {
			set_err(s->err, s->path, line, "empty section name");
			return -1;
		}
		si = section_index(name);
		if (si < 0) {
			set_err(s->err, s->path, line, "unknown section [%s]", name);
			return -1;
		}
		if (s->sec_line[si] != 0) {
			set_err(s->err, s->path, line, "duplicate section [%s] (first at line %u)",
				name, s->sec_line[si]);
			return -1;
		}
		s->sec_line[si] = line;
		*cur_sec = si;
		return 0;
	}

	eq = strchr(t, '=');
	if (eq == NULL) {
		set_err(s->err, s->path, line, "expected '[section]' or 'key = value'");
		return -1;
	}
	*eq = '\0';
	key = trim(t);
	val = trim(eq + 1);
	if (*key == '\0') {
		set_err(s->err, s->path, line, "missing key name before '='");
		return -1;
	}
	if (*cur_sec < 0) {
		set_err(s->err, s->path, line, "key '%s' outside any section", key);
		return -1;
	}
	ki = key_index(sections[*cur_sec], key);
	if (ki < 0) {
		set_err(s->err, s->path, line, "unknown key '%s' in [%s]", key, sections[*cur_sec]);
		return -1;
	}
	if (s->key_line[ki] != 0) {
		set_err(s->err, s->path, line, "duplicate key '%s' in [%s] (first at line %u)", key,
			sections[*cur_sec], s->key_line[ki]);
		return -1;
	}
	/* Optional double quotes, so that an empty string can be written as "". */
	vl = strlen(val);
	if (vl >= 2 && val[0] == '"' && val[vl - 1] == '"') {
		val[vl - 1] = '\0';
		val++;
		vl -= 2;
	}
	s->val[ki] = strdup(val);
	if (s->val[ki] == NULL) {
		set_err(s->err, s->path, line, "out of memory");
		return -1;
	}
	s->key_line[ki] = line;
	s->order[s->n_order++] = ki;
	return 0;
}

static int
scan_file(struct scan *s, FILE *f)
{
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n;
	unsigned line = 0;
	int cur_sec = -1, rc = 0;

	errno = 0;
	while ((n = getline(&buf, &cap, f)) >= 0) {
		char *t;

		line++;
		if ((size_t)n > MAX_LINE) {
			set_err(s->err, s->path, line, "line too long (more than %d bytes)", MAX_LINE);
			rc = -1;
			break;
		}
		if (strlen(buf) != (size_t)n) {
			set_err(s->err, s->path, line, "NUL byte in line");
			rc = -1;
			break;
		}
		/* No value contains ';' or '#', so both start a comment anywhere. */
		buf[strcspn(buf, ";#")] = '\0';
		t = trim(buf);
		for (const char *p = t; *p; p++) {
			unsigned char ch = (unsigned char)*p;

			if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
				set_err(s->err, s->path, line, "control character 0x%02x in line", ch);
				rc = -1;
				break;
			}
		}
		if (rc < 0)
			break;
		if (*t == '\0')
			continue;
		rc = scan_line(s, t, line, &cur_sec);
		if (rc < 0)
			break;
	}
	if (rc == 0 && ferror(f)) {
		set_err(s->err, s->path, 0, "cannot read: %s", strerror(errno ? errno : EIO));
		rc = -1;
	}
	free(buf);
	return rc;
}

/* [server]: RFC 4380 §2.3 / §5.2.4 global addresses (Miredo server.c:507-513),
 * S = P + 1 by default (Miredo serverd.c:88-96, Windows assumes it), and no
 * address:port shared with the relay, since dispatch is by address and port. */
static int
check_server(struct scan *s, struct tr_config *c)
{
	int ke = key_index("server", "enabled");
	int kp = key_index("server", "primary");
	int ks = key_index("server", "secondary");
	unsigned lp = s->key_line[kp], ls = s->key_line[ks];

	if (!c->relay_enabled && !c->server_enabled) {
		set_err(s->err, s->path, s->key_line[key_index("relay", "enabled")],
			"[relay] enabled = false needs [server] enabled = true (no role left)");
		return -1;
	}
	if (!c->server_enabled)
		return 0;
	if (lp == 0) {
		set_err(s->err, s->path, s->key_line[ke], "[server] primary is required when enabled");
		return -1;
	}
	if (!tr_ipv4_is_global(c->server_primary)) {
		set_err(s->err, s->path, lp, "[server] primary: not a global unicast IPv4 address");
		return -1;
	}
	if (!c->server_secondary_set) {
		c->server_secondary = c->server_primary + 1;
		ls = lp;
	}
	if (!tr_ipv4_is_global(c->server_secondary)) {
		set_err(s->err, s->path, ls, "[server] secondary: not a global unicast IPv4 address%s",
			c->server_secondary_set ? "" : " (primary + 1)");
		return -1;
	}
	if (c->server_secondary == c->server_primary) {
		set_err(s->err, s->path, ls, "[server] secondary must differ from primary");
		return -1;
	}
	if (c->relay_enabled && c->port == TR_SERVER_PORT &&
	    (c->ipv4 == c->server_primary || c->ipv4 == c->server_secondary)) {
		int kr = key_index("relay", "port");
		unsigned lr = s->key_line[kr] ? s->key_line[kr] : s->key_line[key_index("relay", "ipv4")];

		set_err(s->err, s->path, lr,
			"[relay] ipv4:port is a server address on port 3544; give the relay another port or address");
		return -1;
	}
	return 0;
}

/* [ports] VLANs: an inner tag needs the outer one, a TPID a tag to apply to. */
static int
check_vlans(struct scan *s, const struct tr_config *c)
{
	static const char *const side[2] = { "teredo", "native" };
	const uint16_t outer[2] = { c->teredo_vlan, c->native_vlan };
	const uint16_t inner[2] = { c->teredo_inner_vlan, c->native_inner_vlan };
	const uint16_t tpid[2] = { c->teredo_outer_tpid, c->native_outer_tpid };
	char key[32];

	for (int i = 0; i < 2; i++) {
		if (inner[i] != 0 && outer[i] == 0) {
			snprintf(key, sizeof(key), "%s_inner_vlan", side[i]);
			set_err(s->err, s->path, s->key_line[key_index("ports", key)],
				"[ports] %s = %u: needs %s_vlan (the outer tag) as well", key, inner[i],
				side[i]);
			return -1;
		}
		if (tpid[i] != 0 && outer[i] == 0) {
			snprintf(key, sizeof(key), "%s_outer_tpid", side[i]);
			set_err(s->err, s->path, s->key_line[key_index("ports", key)],
				"[ports] %s: needs %s_vlan (the tag it applies to)", key, side[i]);
			return -1;
		}
	}
	return 0;
}

void
tr_config_vlan(const struct tr_config *c, enum tr_side side, struct tr_vlan *out)
{
	uint16_t o = side == TR_SIDE_TEREDO ? c->teredo_vlan : c->native_vlan;
	uint16_t in = side == TR_SIDE_TEREDO ? c->teredo_inner_vlan : c->native_inner_vlan;
	uint16_t t = side == TR_SIDE_TEREDO ? c->teredo_outer_tpid : c->native_outer_tpid;

	memset(out, 0, sizeof(*out));
	if (o == 0)
		return;
	out->ntags = in != 0 ? 2 : 1;
	out->outer_tpid = t != 0 ? t : in != 0 ? TR_TPID_8021AD : TR_TPID_8021Q;
	out->vid[0] = o;
	out->vid[1] = in;
}

static int
check_values(struct scan *s, struct tr_config *c)
{
	char why[TR_CFG_ERR_LEN];

	for (unsigned i = 0; i < s->n_order; i++) {
		const struct key_desc *k = &keys[s->order[i]];
		const char *v = s->val[s->order[i]];
		unsigned line = s->key_line[s->order[i]];
		const char *r;

		if (*v == '\0' && !k->empty_ok) {
			set_err(s->err, s->path, line, "[%s] %s: empty value", k->section, k->name);
			return -1;
		}
		why[0] = '\0';
		r = parse_value(k, v, c, why, sizeof(why));
		if (r != NULL) {
			/* Elide long values so that the reason stays on the line. */
			size_t vl = strlen(v);
			int show = vl > SHOW_MAX ? SHOW_MAX - 3 : (int)vl;

			set_err(s->err, s->path, line, "[%s] %s = %.*s%s: %s", k->section, k->name,
				show, v, vl > SHOW_MAX ? "..." : "", r);
			return -1;
		}
	}
	for (unsigned i = 0; i < N_KEYS; i++) {
		if (keys[i].required && s->key_line[i] == 0) {
			set_err(s->err, s->path, 0, "[%s] %s is required", keys[i].section,
				keys[i].name);
			return -1;
		}
	}
	if (c->pending_max > c->peers_max) {
		int kp = key_index("peers", "pending_capacity");
		int kc = key_index("peers", "capacity");
		unsigned line = s->key_line[kp] ? s->key_line[kp] : s->key_line[kc];

		set_err(s->err, s->path, line,
			"[peers] pending_capacity = %u: must not exceed [peers] capacity = %u",
			c->pending_max, c->peers_max);
		return -1;
	}
	return check_vlans(s, c) < 0 ? -1 : check_server(s, c);
}

int
tr_config_load(const char *path, struct tr_config *c, char err[TR_CFG_ERR_LEN])
{
	struct scan s;
	struct tr_config tmp;
	FILE *f;
	int rc;

	err[0] = '\0';
	memset(&s, 0, sizeof(s));
	s.path = path;
	s.err = err;

	f = fopen(path, "r");
	if (f == NULL) {
		set_err(err, path, 0, "cannot open: %s", strerror(errno));
		return -1;
	}
	/* Parse into a copy: on error the caller's struct stays as it was. */
	tr_config_defaults(&tmp);
	rc = scan_file(&s, f);
	if (rc == 0)
		rc = check_values(&s, &tmp);
	fclose(f);
	for (size_t i = 0; i < N_KEYS; i++)
		free(s.val[i]);
	if (rc == 0)
		*c = tmp;
	return rc;
}

/* -------------------------------------------------------------- print */

static void
format_value(const struct tr_config *c, const struct key_desc *k, char *out, size_t len)
{
	const uint8_t *field = (const uint8_t *)c + k->off;

	out[0] = '\0';
	switch (k->type) {
	case K_IPV4:
	case K_IPV4_GW: {
		uint32_t u;
		struct in_addr a;

		memcpy(&u, field, 4);
		a.s_addr = htonl(u);
		inet_ntop(AF_INET, &a, out, (socklen_t)len);
		break;
	}
	case K_IPV6:
	case K_IPV6_GW:
		inet_ntop(AF_INET6, field, out, (socklen_t)len);
		break;
	case K_PREFIXES: {
		size_t used = 0;

		for (unsigned i = 0; i < c->n_served && i < TR_CFG_MAX_SERVED; i++) {
			char a[INET6_ADDRSTRLEN];
			int w;

			inet_ntop(AF_INET6, c->served[i].addr, a, sizeof(a));
			w = snprintf(out + used, len - used, "%s%s/%u", i ? ", " : "", a,
				     c->served[i].len);
			if (w < 0 || (size_t)w >= len - used)
				break;
			used += (size_t)w;
		}
		break;
	}
	case K_HEX16:
		/* A secret is never printed; only whether one is pinned. */
		if (*((const bool *)((const uint8_t *)c + k->set_off)))
			snprintf(out, len, "(set)");
		break;
	case K_MAC:
		if (*((const bool *)((const uint8_t *)c + k->set_off)))
			snprintf(out, len, "%02x:%02x:%02x:%02x:%02x:%02x", field[0], field[1],
				 field[2], field[3], field[4], field[5]);
		break;
	case K_UINT:
	case K_POW2:
		snprintf(out, len, "%u", load_uint(c, k));
		break;
	case K_TPID: {
		uint16_t t;

		memcpy(&t, field, sizeof(t));
		if (t != 0)
			snprintf(out, len, "0x%04x", t);
		break;
	}
	case K_BOOL: {
		bool b;

		memcpy(&b, field, sizeof(b));
		snprintf(out, len, "%s", b ? "true" : "false");
		break;
	}
	case K_NAME:
	case K_ENDPOINT:
		snprintf(out, len, "%.*s", TR_CFG_NAME_LEN - 1, (const char *)field);
		break;
	case K_PATH:
		snprintf(out, len, "%.*s", TR_CFG_PATH_LEN - 1, (const char *)field);
		break;
	}
}

void
tr_config_print(const struct tr_config *c, FILE *out)
{
	char v[1024];

	for (size_t i = 0; i < N_KEYS; i++) {
		format_value(c, &keys[i], v, sizeof(v));
		fprintf(out, "%s.%s = %s\n", keys[i].section, keys[i].name, v);
	}
}
