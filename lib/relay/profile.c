/* SPDX-License-Identifier: BSD-3-Clause
 *
 * drivers-cfg profile loader. Same file format and the same rule as the relay
 * configuration (config.c): every line is accounted for, a typo is an error
 * with "path:line: problem", never a silent default.
 */
#include "profile.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <unistd.h>

#define MAX_LINE 4096

enum pkey_type { P_TEXT, P_NAME, P_UINT, P_BOOL, P_RSS4, P_RSS6 };

struct pkey {
	const char *section;
	const char *name;
	enum pkey_type type;
	size_t off;
	uint32_t min, max;
	bool required;
};

#define PF(f) offsetof(struct tr_profile, f)

static const struct pkey pkeys[] = {
	{ "profile", "driver", P_NAME, PF(driver), 0, 0, true },
	{ "profile", "source", P_TEXT, PF(source), 0, 0, true },
	{ "queues", "max_queues", P_UINT, PF(max_queues), 1, 1024, false },
	{ "queues", "rx_desc", P_UINT, PF(rx_desc), 16, 32768, false },
	{ "queues", "tx_desc", P_UINT, PF(tx_desc), 16, 32768, false },
	{ "rss", "enabled", P_BOOL, PF(rss), 0, 0, false },
	{ "rss", "ipv4", P_RSS4, PF(rss_ipv4), 0, 0, false },
	{ "rss", "ipv6", P_RSS6, PF(rss_ipv6), 0, 0, false },
	{ "offloads", "tx_ipv4_cksum", P_BOOL, PF(tx_ipv4_cksum), 0, 0, false },
	{ "offloads", "tx_udp_cksum", P_BOOL, PF(tx_udp_cksum), 0, 0, false },
	{ "offloads", "rx_ptype", P_BOOL, PF(rx_ptype), 0, 0, false },
	{ "offloads", "rx_cksum", P_BOOL, PF(rx_cksum), 0, 0, false },
	{ "offloads", "multi_seg", P_BOOL, PF(multi_seg), 0, 0, false },
	{ "offloads", "vlan_strip", P_BOOL, PF(vlan_strip), 0, 0, false },
	{ "offloads", "vlan_insert", P_BOOL, PF(vlan_insert), 0, 0, false },
	{ "offloads", "qinq_strip", P_BOOL, PF(qinq_strip), 0, 0, false },
	{ "offloads", "qinq_insert", P_BOOL, PF(qinq_insert), 0, 0, false },
	{ "flow", "teredo_to_workers", P_BOOL, PF(flow[TR_FLOW_TEREDO]), 0, 0, false },
	{ "flow", "arp_to_control", P_BOOL, PF(flow[TR_FLOW_ARP]), 0, 0, false },
	{ "flow", "nd_to_control", P_BOOL, PF(flow[TR_FLOW_ND]), 0, 0, false },
	{ "flow", "local_to_control", P_BOOL, PF(flow[TR_FLOW_LOCAL]), 0, 0, false },
	{ "flow", "isolate", P_BOOL, PF(flow_isolate), 0, 0, false },
};

#define N_PKEYS (sizeof(pkeys) / sizeof(pkeys[0]))

static const char *const psections[] = { "profile", "queues", "rss", "offloads", "flow" };

#define N_PSECTIONS (sizeof(psections) / sizeof(psections[0]))

static const struct { const char *tok; uint32_t bit; } rss_tokens[] = {
	{ "addresses", TR_RSS_ADDR }, { "udp_ports", TR_RSS_UDP }, { "fragments", TR_RSS_FRAG },
};

static size_t pkey_index(const char *sec, const char *name)
{
	for (size_t i = 0; i < N_PKEYS; i++)
		if (strcmp(pkeys[i].section, sec) == 0 && strcmp(pkeys[i].name, name) == 0)
			return i;
	return 0;
}

void tr_profile_defaults(struct tr_profile *p)
{
	memset(p, 0, sizeof(*p));
	/* What port.c did before profiles existed: RSS on addresses + UDP ports. */
	p->rss = true;
	p->rss_ipv4 = TR_RSS_ADDR | TR_RSS_UDP;
	p->rss_ipv6 = TR_RSS_ADDR;
	p->max_queues = 1024;
}

static void __attribute__((format(printf, 4, 5)))
perr(char *err, const char *path, unsigned line, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(err, TR_PROF_ERR_LEN, "%s:%u: ", path, line);

	if (n < 0 || n >= TR_PROF_ERR_LEN)
		return;
	va_start(ap, fmt);
	vsnprintf(err + n, TR_PROF_ERR_LEN - (size_t)n, fmt, ap);
	va_end(ap);
}

static char *trim(char *s)
{
	size_t n;

	while (isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

static int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return *out = true, 0;
		if (strcasecmp(s, no[i]) == 0)
			return *out = false, 0;
	}
	return -1;
}

/* "addresses, udp_ports" -> bits; why says what is wrong. */
static int parse_rss(const char *v, bool v4, uint32_t *out, char *why, size_t wl)
{
	char buf[256];
	char *tok, *save = NULL;

	*out = 0;
	if (strlen(v) >= sizeof(buf)) {
		snprintf(why, wl, "too long");
		return -1;
	}
	strcpy(buf, v);
	if (strcmp(trim(buf), "none") == 0)
		return 0;
	for (tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		char *t = trim(tok);
		size_t i;

		for (i = 0; i < sizeof(rss_tokens) / sizeof(rss_tokens[0]); i++)
			if (strcmp(t, rss_tokens[i].tok) == 0)
				break;
		if (i == sizeof(rss_tokens) / sizeof(rss_tokens[0])) {
			snprintf(why, wl, "unknown field '%.32s' (addresses, udp_ports, fragments or none)", t);
			return -1;
		}
		/* IPv6 arrives from anywhere on the native side: the relay hashes
		 * it on addresses only (issue 8), so ports would be a mistake. */
		if (!v4 && rss_tokens[i].bit == TR_RSS_UDP) {
			snprintf(why, wl, "udp_ports is for the IPv4 side only");
			return -1;
		}
		*out |= rss_tokens[i].bit;
	}
	if (*out != 0 && !(*out & TR_RSS_ADDR)) {
		snprintf(why, wl, "must include addresses");
		return -1;
	}
	return 0;
}

/* Value v for key k into p: NULL or the reason it is refused. */
static const char *pvalue(const struct pkey *k, const char *v, struct tr_profile *p, char *why,
			  size_t wl)
{
	uint8_t *field = (uint8_t *)p + k->off;
	unsigned long u;
	char *end;
	bool b;

	switch (k->type) {
	case P_TEXT:
		if (strlen(v) >= sizeof(p->source))
			return "too long (at most 255 characters)";
		memcpy(field, v, strlen(v) + 1);
		break;
	case P_NAME:
		if (strlen(v) >= TR_PROF_NAME_LEN)
			return "too long (at most 63 characters)";
		for (const char *c = v; *c; c++)
			if (isspace((unsigned char)*c))
				return "must not contain spaces";
		memcpy(field, v, strlen(v) + 1);
		break;
	case P_UINT:
		for (const char *c = v; *c; c++)
			if (!isdigit((unsigned char)*c))
				goto range;
		errno = 0;
		u = strtoul(v, &end, 10);
		if (errno != 0 || *end != '\0' || u < k->min || u > k->max)
			goto range;
		{
			uint16_t x = (uint16_t)u;

			memcpy(field, &x, sizeof(x));
		}
		break;
range:
		snprintf(why, wl, "must be a decimal integer between %u and %u", k->min, k->max);
		return why;
	case P_BOOL:
		if (parse_bool(v, &b) < 0)
			return "must be true/false, yes/no, on/off or 1/0";
		memcpy(field, &b, sizeof(b));
		break;
	case P_RSS4:
	case P_RSS6: {
		uint32_t set;

		if (parse_rss(v, k->type == P_RSS4, &set, why, wl) < 0)
			return why;
		memcpy(field, &set, sizeof(set));
		break;
	}
	}
	return NULL;
}

int tr_profile_load(const char *path, struct tr_profile *out, char err[TR_PROF_ERR_LEN])
{
	struct tr_profile p;
	unsigned key_line[N_PKEYS] = { 0 }, sec_line[N_PSECTIONS] = { 0 };
	char *buf = NULL, why[TR_PROF_ERR_LEN];
	size_t cap = 0;
	ssize_t n;
	unsigned line = 0;
	int sec = -1, rc = -1;
	FILE *f;

	err[0] = '\0';
	f = fopen(path, "r");
	if (f == NULL) {
		perr(err, path, 0, "cannot open: %s", strerror(errno));
		return -1;
	}
	tr_profile_defaults(&p);
	/* A profile states its RSS and flows: absent keys mean "off", not the built-in default. */
	p.rss = false;
	p.rss_ipv4 = p.rss_ipv6 = 0;
	while ((n = getline(&buf, &cap, f)) >= 0) {
		char *t, *eq, *key, *val;
		size_t i;

		line++;
		if ((size_t)n > MAX_LINE || strlen(buf) != (size_t)n) {
			perr(err, path, line, "line too long or NUL byte in line");
			goto out;
		}
		buf[strcspn(buf, ";#")] = '\0';
		t = trim(buf);
		if (*t == '\0')
			continue;
		if (*t == '[') {
			char *close = strchr(t, ']');

			if (close == NULL || close[1] != '\0') {
				perr(err, path, line, "malformed section header");
				goto out;
			}
			*close = '\0';
			t = trim(t + 1);
			for (i = 0; i < N_PSECTIONS; i++)
				if (strcmp(psections[i], t) == 0)
					break;
			if (i == N_PSECTIONS) {
				perr(err, path, line, "unknown section [%s]", t);
				goto out;
			}
			if (sec_line[i] != 0) {
				perr(err, path, line, "duplicate section [%s] (first at line %u)", t, sec_line[i]);
				goto out;
			}
			sec_line[i] = line;
			sec = (int)i;
			continue;
		}
		eq = strchr(t, '=');
		if (eq == NULL) {
			perr(err, path, line, "expected '[section]' or 'key = value'");
			goto out;
		}
		*eq = '\0';
		key = trim(t);
		val = trim(eq + 1);
		if (sec < 0) {
			perr(err, path, line, "key '%s' outside any section", key);
			goto out;
		}
		for (i = 0; i < N_PKEYS; i++)
			if (strcmp(pkeys[i].section, psections[sec]) == 0 && strcmp(pkeys[i].name, key) == 0)
				break;
		if (i == N_PKEYS) {
			perr(err, path, line, "unknown key '%s' in [%s]", key, psections[sec]);
			goto out;
		}
		if (key_line[i] != 0) {
			perr(err, path, line, "duplicate key '%s' in [%s] (first at line %u)", key,
			     psections[sec], key_line[i]);
			goto out;
		}
		key_line[i] = line;
		if (*val == '\0') {
			perr(err, path, line, "[%s] %s: empty value", psections[sec], key);
			goto out;
		}
		const char *r = pvalue(&pkeys[i], val, &p, why, sizeof(why));

		if (r != NULL) {
			perr(err, path, line, "[%s] %s = %.80s: %s", psections[sec], key, val, r);
			goto out;
		}
	}
	if (ferror(f)) {
		perr(err, path, 0, "cannot read: %s", strerror(errno ? errno : EIO));
		goto out;
	}
	for (size_t i = 0; i < N_PKEYS; i++) {
		if (pkeys[i].required && key_line[i] == 0) {
			perr(err, path, 0, "[%s] %s is required", pkeys[i].section, pkeys[i].name);
			goto out;
		}
	}
	if (p.rss && p.rss_ipv4 == 0 && p.rss_ipv6 == 0) {
		perr(err, path, key_line[pkey_index("rss", "enabled")], "[rss] enabled = true but neither ipv4 nor ipv6 names a field");
		goto out;
	}
	if (p.flow[TR_FLOW_TEREDO] && !p.rss && p.max_queues > 1) {
		/* The rule's RSS action reuses the [rss] fields: without them it cannot spread. */
		perr(err, path, key_line[pkey_index("flow", "teredo_to_workers")], "[flow] teredo_to_workers needs [rss] enabled = true");
		goto out;
	}
	{
		const char *base = strrchr(path, '/');
		size_t bl;

		base = base ? base + 1 : path;
		bl = strlen(base);
		if (bl > 4 && strcmp(base + bl - 4, ".ini") == 0)
			bl -= 4;
		if (bl >= sizeof(p.name))
			bl = sizeof(p.name) - 1;
		snprintf(p.name, sizeof(p.name), "%.*s", (int)bl, base);
	}
	snprintf(p.path, sizeof(p.path), "%s", path);
	p.loaded = true;
	*out = p;
	rc = 0;
out:
	free(buf);
	fclose(f);
	return rc;
}

int tr_profile_find_load(const char *name, const char *config_path, struct tr_profile *p,
			 char err[TR_PROF_ERR_LEN])
{
	char dirs[6][TR_PROF_PATH_LEN];
	char path[TR_PROF_PATH_LEN + TR_PROF_NAME_LEN + 8];
	unsigned nd = 0;
	const char *env = getenv("TERELAY_PROFILE_DIR");

	tr_profile_defaults(p);
	err[0] = '\0';
	if (name == NULL || *name == '\0')
		return 0;
	if (strchr(name, '/') != NULL)
		return tr_profile_load(name, p, err);
	if (env != NULL && *env != '\0')
		snprintf(dirs[nd++], TR_PROF_PATH_LEN, "%.420s", env);
	{
		const char *slash = strrchr(config_path, '/');
		int dl = slash ? (int)(slash - config_path) : 1;

		if (dl > 400)
			dl = 400;

		snprintf(dirs[nd++], TR_PROF_PATH_LEN, "%.*s/drivers-cfg", dl,
			 slash ? config_path : ".");
	}
#ifdef TR_INSTALL_SYSCONFDIR
	snprintf(dirs[nd++], TR_PROF_PATH_LEN, "%s", TR_INSTALL_SYSCONFDIR "/terelay/drivers-cfg");
	snprintf(dirs[nd++], TR_PROF_PATH_LEN, "%s", TR_INSTALL_DATADIR "/terelay/drivers-cfg");
#endif
	snprintf(dirs[nd++], TR_PROF_PATH_LEN, "/etc/terelay/drivers-cfg");
	snprintf(dirs[nd++], TR_PROF_PATH_LEN, "/usr/share/terelay/drivers-cfg");
	for (unsigned i = 0; i < nd; i++) {
		snprintf(path, sizeof(path), "%.420s/%.63s.ini", dirs[i], name);
		if (access(path, F_OK) == 0)
			return tr_profile_load(path, p, err);
	}
	snprintf(err, TR_PROF_ERR_LEN,
		 "%.120s:0: [ports] profile = %.63s: no %.63s.ini in $TERELAY_PROFILE_DIR, %.120s, "
		 "the installed drivers-cfg, /etc/terelay/drivers-cfg or /usr/share/terelay/drivers-cfg",
		 config_path, name, name, dirs[env != NULL && *env != '\0' ? 1 : 0]);
	return -1;
}

const char *tr_flow_rule_name(enum tr_flow_rule r)
{
	static const char *const names[TR_FLOW_N] = {
		"teredo_to_workers", "arp_to_control", "nd_to_control", "local_to_control",
	};
	return (unsigned)r < TR_FLOW_N ? names[r] : "?";
}

void tr_profile_rss_str(uint32_t set, char *out, size_t len)
{
	size_t used = 0;

	out[0] = '\0';
	if (set == 0) {
		snprintf(out, len, "none");
		return;
	}
	for (size_t i = 0; i < sizeof(rss_tokens) / sizeof(rss_tokens[0]); i++) {
		if (!(set & rss_tokens[i].bit))
			continue;
		int w = snprintf(out + used, len - used, "%s%s", used ? "," : "", rss_tokens[i].tok);

		if (w < 0 || (size_t)w >= len - used)
			return;
		used += (size_t)w;
	}
}

void tr_profile_print(const struct tr_profile *p, FILE *out)
{
	char v4[64], v6[64];

	tr_profile_rss_str(p->rss_ipv4, v4, sizeof(v4));
	tr_profile_rss_str(p->rss_ipv6, v6, sizeof(v6));
	if (!p->loaded) {
		fprintf(out, "profile: none (built-in defaults: RSS ipv4=%s ipv6=%s, no offloads, no flow rules)\n",
			v4, v6);
		return;
	}
	fprintf(out, "profile: %s (%s)\n", p->name, p->path);
	fprintf(out, "  driver %s; source: %s\n", p->driver, p->source);
	fprintf(out, "  queues: at most %u; rx_desc %u tx_desc %u (0 = config's)\n", p->max_queues,
		p->rx_desc, p->tx_desc);
	fprintf(out, "  rss: %s; ipv4 %s; ipv6 %s\n", p->rss ? "on" : "off", v4, v6);
	fprintf(out, "  offloads: tx_ipv4_cksum %d tx_udp_cksum %d rx_cksum %d rx_ptype %d multi_seg %d "
		"vlan_strip %d vlan_insert %d qinq_strip %d qinq_insert %d\n",
		p->tx_ipv4_cksum, p->tx_udp_cksum, p->rx_cksum, p->rx_ptype, p->multi_seg,
		p->vlan_strip, p->vlan_insert, p->qinq_strip, p->qinq_insert);
	fprintf(out, "  flow:");
	for (int r = 0; r < TR_FLOW_N; r++)
		fprintf(out, " %s=%d", tr_flow_rule_name((enum tr_flow_rule)r), p->flow[r]);
	fprintf(out, " isolate=%d\n", p->flow_isolate);
}

void tr_profile_print_keys(FILE *out)
{
	for (size_t i = 0; i < N_PKEYS; i++)
		fprintf(out, "%s.%s%s\n", pkeys[i].section, pkeys[i].name,
			pkeys[i].required ? " (required)" : "");
}
