/* SPDX-License-Identifier: BSD-3-Clause
 *
 * Configuration loader tests (cmocka, no EAL: rte_cfgfile does not need it).
 * Every file is written to a temporary path, so expected messages are built
 * with that path. The sample file and the documentation come in through
 * TERELAY_SAMPLE_INI and TERELAY_CONFIG_DOC (set by meson).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

#define REQ "[relay]\nipv4 = 198.51.100.1\nipv6 = 2001:db8:ffff::1\n"

struct loaded {
	char path[64];
	struct tr_config c;
	char err[TR_CFG_ERR_LEN];
	int rc;
};

static void
write_file(char path[64], const char *text, size_t len)
{
	int fd;

	snprintf(path, 64, "/tmp/terelay-cfg-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
}

/* Load text; the temporary file is removed again before returning. */
static void
load_len(struct loaded *l, const char *text, size_t len)
{
	write_file(l->path, text, len);
	memset(&l->c, 0xa5, sizeof(l->c));
	l->err[0] = '\0';
	l->rc = tr_config_load(l->path, &l->c, l->err);
	unlink(l->path);
	/* Whatever happens, an error is exactly one line. */
	if (l->rc != 0) {
		assert_int_equal(l->rc, -1);
		assert_null(strchr(l->err, '\n'));
		assert_true(strncmp(l->err, l->path, strlen(l->path)) == 0);
	}
}

static void
load(struct loaded *l, const char *text)
{
	load_len(l, text, strlen(text));
}

static void __attribute__((format(printf, 3, 4)))
expect_err(const char *text, unsigned line, const char *fmt, ...)
{
	struct loaded l;
	char want[TR_CFG_ERR_LEN + 128], tail[TR_CFG_ERR_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tail, sizeof(tail), fmt, ap);
	va_end(ap);
	load(&l, text);
	snprintf(want, sizeof(want), "%s:%u: %s", l.path, line, tail);
	if (l.rc != -1 || strcmp(l.err, want) != 0)
		print_error("file:\n%s\nwant: %s\ngot (rc %d): %s\n", text, want, l.rc, l.err);
	assert_int_equal(l.rc, -1);
	assert_string_equal(l.err, want);
}

static void
load_ok(struct loaded *l, const char *text)
{
	load(l, text);
	if (l->rc != 0)
		print_error("file:\n%s\nerror: %s\n", text, l->err);
	assert_int_equal(l->rc, 0);
}

static char *
print_to_string(const struct tr_config *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	tr_config_print(c, f);
	fclose(f);
	return buf;
}

static uint32_t
ip4(const char *s)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return ntohl(a.s_addr);
}

static void
assert_ip6(const uint8_t got[16], const char *s)
{
	uint8_t a[16];

	assert_int_equal(inet_pton(AF_INET6, s, a), 1);
	assert_memory_equal(got, a, 16);
}

static char *
read_whole(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* ---------------------------------------------------------------- tests */

static const char full_file[] =
	"; every key, none at its default\n"
	"[relay]\n"
	"ipv4 = 203.0.113.7\n"
	"port = 3545\n"
	"ipv6 = 2001:db8:1::7\n"
	"mtu = 1500\n"
	"ttl = 32\n"
	"served = 2001:db8::/32, 2001:db9:1::/48,2001:dba::/128\n"
	"[ports]\n"
	"teredo = net_pcap0\n"
	"native = 0000:01:00.1\n"
	"rx_desc = 2048\n"
	"tx_desc = 512\n"
	"mbufs = 32768\n"
	"burst = 64\n"
	"profile = lab\n"
	"[nexthop]\n"
	"ipv4_gateway = 203.0.113.1\n"
	"ipv4_gateway_mac = 02:00:00:00:00:01\n"
	"ipv6_gateway = fe80::1\n"
	"ipv6_gateway_mac = 02:AB:cd:EF:00:02\n"
	"neigh_timeout = 120\n"
	"[peers]\n"
	"capacity = 2048\n"
	"pending_capacity = 2048\n"
	"shards = 8\n"
	"idle_timeout = 90\n"
	"validity = 15\n"
	"negative_cache = 0\n"
	"accept_unknown = yes\n"
	"[queue]\n"
	"peer_bytes = 4096\n"
	"peer_packets = 16\n"
	"global_packets = 1000\n"
	"[bubbles]\n"
	"interval = 1000\n"
	"max = 2\n"
	"window = 600\n"
	"rate = 500\n"
	"server_rate = 50\n"
	"nonce_trailer = off\n"
	"nonce_epoch = 60\n"
	"secret = 000102030405060708090a0b0c0d0eFF\n"
	"[icmp6]\n"
	"rate = 7\n"
	"burst = 3\n"
	"[control]\n"
	"ring = 64\n"
	"[telemetry]\n"
	"summary_interval = 0\n"
	"prometheus = [::1]:9100\n";

static void
test_full_file(void **state)
{
	struct loaded l;
	const struct tr_config *c = &l.c;

	(void)state;
	load_ok(&l, full_file);
	assert_int_equal(c->ipv4, ip4("203.0.113.7"));
	assert_int_equal(c->port, 3545);
	assert_ip6(c->ipv6, "2001:db8:1::7");
	assert_int_equal(c->mtu, 1500);
	assert_int_equal(c->ttl, 32);
	assert_int_equal(c->n_served, 3);
	assert_ip6(c->served[0].addr, "2001:db8::");
	assert_int_equal(c->served[0].len, 32);
	assert_ip6(c->served[1].addr, "2001:db9:1::");
	assert_int_equal(c->served[1].len, 48);
	assert_ip6(c->served[2].addr, "2001:dba::");
	assert_int_equal(c->served[2].len, 128);
	assert_string_equal(c->teredo_port, "net_pcap0");
	assert_string_equal(c->native_port, "0000:01:00.1");
	assert_int_equal(c->rx_desc, 2048);
	assert_int_equal(c->tx_desc, 512);
	assert_int_equal(c->mbufs, 32768);
	assert_int_equal(c->burst, 64);
	assert_string_equal(c->profile, "lab");
	assert_int_equal(c->ipv4_gateway, ip4("203.0.113.1"));
	assert_true(c->ipv4_gateway_mac_set);
	assert_memory_equal(c->ipv4_gateway_mac, ((const uint8_t[6]){ 2, 0, 0, 0, 0, 1 }), 6);
	assert_ip6(c->ipv6_gateway, "fe80::1");
	assert_true(c->ipv6_gateway_mac_set);
	assert_memory_equal(c->ipv6_gateway_mac,
			    ((const uint8_t[6]){ 2, 0xab, 0xcd, 0xef, 0, 2 }), 6);
	assert_int_equal(c->neigh_timeout_s, 120);
	assert_int_equal(c->peers_max, 2048);
	assert_int_equal(c->pending_max, 2048);
	assert_int_equal(c->shards, 8);
	assert_int_equal(c->idle_timeout_s, 90);
	assert_int_equal(c->validity_s, 15);
	assert_int_equal(c->negative_cache, 0);
	assert_true(c->accept_unknown);
	assert_int_equal(c->peer_queue_bytes, 4096);
	assert_int_equal(c->peer_queue_pkts, 16);
	assert_int_equal(c->global_queue_pkts, 1000);
	assert_int_equal(c->bubble_interval_ms, 1000);
	assert_int_equal(c->bubble_max, 2);
	assert_int_equal(c->bubble_window_s, 600);
	assert_int_equal(c->bubble_rate, 500);
	assert_int_equal(c->bubble_server_rate, 50);
	assert_false(c->nonce_trailer);
	assert_int_equal(c->nonce_epoch_s, 60);
	assert_true(c->bubble_secret_set);
	assert_memory_equal(c->bubble_secret,
			    ((const uint8_t[16]){ 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0xff }), 16);
	assert_int_equal(c->icmp6_rate, 7);
	assert_int_equal(c->icmp6_burst, 3);
	assert_int_equal(c->ring_size, 64);
	assert_int_equal(c->summary_interval_s, 0);
	assert_true(c->summary_interval_set);
	assert_string_equal(c->prometheus, "[::1]:9100");
}

static void
test_defaults(void **state)
{
	struct loaded l;
	struct tr_config d;
	char *a, *b;

	(void)state;
	load_ok(&l, REQ);
	tr_config_defaults(&d);
	d.ipv4 = ip4("198.51.100.1");
	assert_int_equal(inet_pton(AF_INET6, "2001:db8:ffff::1", d.ipv6), 1);
	a = print_to_string(&l.c);
	b = print_to_string(&d);
	assert_string_equal(a, b);
	free(a);
	free(b);

	/* The documented defaults, spelled out once. */
	assert_int_equal(l.c.port, 3544);
	assert_int_equal(l.c.mtu, 1280);
	assert_int_equal(l.c.ttl, 64);
	assert_int_equal(l.c.n_served, 0);
	assert_string_equal(l.c.teredo_port, "0");
	assert_string_equal(l.c.native_port, "0");
	assert_int_equal(l.c.rx_desc, 1024);
	assert_int_equal(l.c.tx_desc, 1024);
	assert_int_equal(l.c.mbufs, 16384);
	assert_int_equal(l.c.burst, 32);
	assert_string_equal(l.c.profile, "");
	assert_int_equal(l.c.ipv4_gateway, 0);
	assert_false(l.c.ipv4_gateway_mac_set);
	assert_ip6(l.c.ipv6_gateway, "::");
	assert_false(l.c.ipv6_gateway_mac_set);
	assert_int_equal(l.c.neigh_timeout_s, 300);
	assert_int_equal(l.c.peers_max, 1048576);
	assert_int_equal(l.c.pending_max, 65536);
	assert_int_equal(l.c.shards, 1);
	assert_int_equal(l.c.idle_timeout_s, 60);
	assert_int_equal(l.c.validity_s, 30);
	assert_int_equal(l.c.negative_cache, 65536);
	assert_false(l.c.accept_unknown);
	assert_int_equal(l.c.peer_queue_bytes, 1280);
	assert_int_equal(l.c.peer_queue_pkts, 8);
	assert_int_equal(l.c.global_queue_pkts, 65536);
	assert_int_equal(l.c.bubble_interval_ms, 2000);
	assert_int_equal(l.c.bubble_max, 4);
	assert_int_equal(l.c.bubble_window_s, 300);
	assert_int_equal(l.c.bubble_rate, 10000);
	assert_int_equal(l.c.bubble_server_rate, 1000);
	assert_true(l.c.nonce_trailer);
	assert_int_equal(l.c.nonce_epoch_s, 30);
	assert_false(l.c.bubble_secret_set);
	assert_int_equal(l.c.icmp6_rate, 100);
	assert_int_equal(l.c.icmp6_burst, 10);
	assert_int_equal(l.c.ring_size, 4096);
	assert_int_equal(l.c.summary_interval_s, 10);
	assert_false(l.c.summary_interval_set);
	assert_string_equal(l.c.prometheus, "");

	/* Empty sections change nothing either. */
	load_ok(&l, REQ "[ports]\n[peers]\n[telemetry]\n");
	assert_int_equal(l.c.peers_max, 1048576);
}

/* One bad value per row: at least one for every key. */
struct bad {
	const char *sec, *key, *val, *msg;
};

static const struct bad bad_values[] = {
	{ "relay", "ipv4", "198.51.100", "not a valid IPv4 address" },
	{ "relay", "ipv4", "198.51.100.256", "not a valid IPv4 address" },
	{ "relay", "ipv4", "2001:db8::1", "not a valid IPv4 address" },
	{ "relay", "ipv4", "0.0.0.0", "must not be 0.0.0.0" },
	{ "relay", "ipv4", "224.0.0.1", "must be a unicast address (not multicast or broadcast)" },
	{ "relay", "ipv4", "255.255.255.255", "must be a unicast address (not multicast or broadcast)" },
	{ "relay", "port", "0", "must be between 1 and 65535" },
	{ "relay", "port", "65536", "must be between 1 and 65535" },
	{ "relay", "port", "-1", "must be a decimal integer between 1 and 65535" },
	{ "relay", "port", "0x10", "must be a decimal integer between 1 and 65535" },
	{ "relay", "port", "+5", "must be a decimal integer between 1 and 65535" },
	{ "relay", "port", "35 44", "must be a decimal integer between 1 and 65535" },
	{ "relay", "ipv6", "2001:db8::g", "not a valid IPv6 address" },
	{ "relay", "ipv6", "198.51.100.1", "not a valid IPv6 address" },
	{ "relay", "ipv6", "::", "must not be ::" },
	{ "relay", "ipv6", "ff02::1", "must be a unicast address (not multicast)" },
	{ "relay", "mtu", "99", "must be between 1280 and 65507" },
	{ "relay", "mtu", "65508", "must be between 1280 and 65507" },
	{ "relay", "mtu", "99999999999999999999999", "must be between 1280 and 65507" },
	{ "relay", "mtu", "1280b", "must be a decimal integer between 1280 and 65507" },
	{ "relay", "ttl", "0", "must be between 1 and 255" },
	{ "relay", "ttl", "256", "must be between 1 and 255" },
	{ "relay", "served", "2001:db8::", "'2001:db8::': missing '/length'" },
	{ "relay", "served", "2001:db8::/129", "'2001:db8::/129': prefix length must be between 0 and 128" },
	{ "relay", "served", "2001:db8::/-1", "'2001:db8::/-1': prefix length must be between 0 and 128" },
	{ "relay", "served", "2001:db8::/", "'2001:db8::/': prefix length must be between 0 and 128" },
	{ "relay", "served", "2001:zz8::/32", "'2001:zz8::/32': not a valid IPv6 prefix" },
	{ "relay", "served", "2001:db8::1/32", "'2001:db8::1/32': address has bits set beyond /32" },
	{ "relay", "served", "2001:db8::/32,,2001:db9::/32", "empty item in prefix list" },
	{ "relay", "served", "2001:db8::/32,", "empty item in prefix list" },
	{ "ports", "teredo", "0123456789012345678901234567890123456789012345678901234567890123",
	  "too long (at most 63 characters)" },
	{ "ports", "teredo", "net pcap0", "must not contain spaces" },
	{ "ports", "native", "0123456789012345678901234567890123456789012345678901234567890123",
	  "too long (at most 63 characters)" },
	{ "ports", "native", "a b", "must not contain spaces" },
	{ "ports", "rx_desc", "15", "must be between 16 and 32768" },
	{ "ports", "rx_desc", "32769", "must be between 16 and 32768" },
	{ "ports", "tx_desc", "8", "must be between 16 and 32768" },
	{ "ports", "tx_desc", "one", "must be a decimal integer between 16 and 32768" },
	{ "ports", "mbufs", "1023", "must be between 1024 and 67108864" },
	{ "ports", "mbufs", "4294967296", "must be between 1024 and 67108864" },
	{ "ports", "burst", "0", "must be between 1 and 64" },
	{ "ports", "burst", "65", "must be between 1 and 64" },
	{ "ports", "profile", "0123456789012345678901234567890123456789012345678901234567890123",
	  "too long (at most 63 characters)" },
	{ "ports", "profile", "my profile", "must not contain spaces" },
	{ "ports", "teredo_vlan", "0", "must be between 1 and 4094" },
	{ "ports", "teredo_vlan", "4095", "must be between 1 and 4094" },
	{ "ports", "teredo_vlan", "vlan100", "must be a decimal integer between 1 and 4094" },
	{ "ports", "teredo_vlan", "0x64", "must be a decimal integer between 1 and 4094" },
	{ "ports", "teredo_inner_vlan", "0", "must be between 1 and 4094" },
	{ "ports", "teredo_inner_vlan", "4095", "must be between 1 and 4094" },
	{ "ports", "teredo_outer_tpid", "0x9100", "must be 0x8100 (802.1Q) or 0x88a8 (802.1ad)" },
	{ "ports", "teredo_outer_tpid", "33024", "must be 0x8100 (802.1Q) or 0x88a8 (802.1ad)" },
	{ "ports", "native_vlan", "0", "must be between 1 and 4094" },
	{ "ports", "native_vlan", "4095", "must be between 1 and 4094" },
	{ "ports", "native_vlan", "-7", "must be a decimal integer between 1 and 4094" },
	{ "ports", "native_inner_vlan", "4096", "must be between 1 and 4094" },
	{ "ports", "native_inner_vlan", "ten", "must be a decimal integer between 1 and 4094" },
	{ "ports", "native_outer_tpid", "8100", "must be 0x8100 (802.1Q) or 0x88a8 (802.1ad)" },
	{ "nexthop", "ipv4_gateway", "1.2.3", "not a valid IPv4 address" },
	{ "nexthop", "ipv4_gateway", "239.1.1.1", "must be a unicast address (not multicast or broadcast)" },
	{ "nexthop", "ipv4_gateway_mac", "02:00:00:00:00", "not a MAC address (xx:xx:xx:xx:xx:xx)" },
	{ "nexthop", "ipv4_gateway_mac", "02-00-00-00-00-01", "not a MAC address (xx:xx:xx:xx:xx:xx)" },
	{ "nexthop", "ipv4_gateway_mac", "0g:00:00:00:00:01", "not a MAC address (xx:xx:xx:xx:xx:xx)" },
	{ "nexthop", "ipv4_gateway_mac", "01:00:5e:00:00:01", "must be a unicast MAC address" },
	{ "nexthop", "ipv4_gateway_mac", "00:00:00:00:00:00", "must be a unicast MAC address" },
	{ "nexthop", "ipv6_gateway", "fe80::1::2", "not a valid IPv6 address" },
	{ "nexthop", "ipv6_gateway", "ff02::2", "must be a unicast address (not multicast)" },
	{ "nexthop", "ipv6_gateway_mac", "02:00:00:00:00:02:03", "not a MAC address (xx:xx:xx:xx:xx:xx)" },
	{ "nexthop", "ipv6_gateway_mac", "33:33:00:00:00:01", "must be a unicast MAC address" },
	{ "nexthop", "neigh_timeout", "0", "must be between 1 and 86400" },
	{ "nexthop", "neigh_timeout", "86401", "must be between 1 and 86400" },
	{ "peers", "capacity", "1023", "must be between 1024 and 67108864" },
	{ "peers", "capacity", "67108865", "must be between 1024 and 67108864" },
	{ "peers", "pending_capacity", "15", "must be between 16 and 67108864" },
	{ "peers", "pending_capacity", "1e6", "must be a decimal integer between 16 and 67108864" },
	{ "peers", "shards", "3", "must be a power of two between 1 and 64" },
	{ "peers", "shards", "0", "must be a power of two between 1 and 64" },
	{ "peers", "shards", "128", "must be a power of two between 1 and 64" },
	{ "peers", "shards", "four", "must be a power of two between 1 and 64" },
	{ "peers", "idle_timeout", "0", "must be between 1 and 86400" },
	{ "peers", "validity", "0", "must be between 1 and 3600" },
	{ "peers", "validity", "3601", "must be between 1 and 3600" },
	{ "peers", "negative_cache", "16777217", "must be between 0 and 16777216" },
	{ "peers", "accept_unknown", "maybe", "must be true/false, yes/no, on/off or 1/0" },
	{ "peers", "accept_unknown", "2", "must be true/false, yes/no, on/off or 1/0" },
	{ "queue", "peer_bytes", "1279", "must be between 1280 and 1048576" },
	{ "queue", "peer_packets", "0", "must be between 1 and 1024" },
	{ "queue", "peer_packets", "1025", "must be between 1 and 1024" },
	{ "queue", "global_packets", "0", "must be between 1 and 16777216" },
	{ "bubbles", "interval", "99", "must be between 100 and 60000" },
	{ "bubbles", "interval", "2s", "must be a decimal integer between 100 and 60000" },
	{ "bubbles", "max", "0", "must be between 1 and 1000" },
	{ "bubbles", "window", "0", "must be between 1 and 86400" },
	{ "bubbles", "rate", "0", "must be between 1 and 10000000" },
	{ "bubbles", "server_rate", "10000001", "must be between 1 and 10000000" },
	{ "bubbles", "nonce_trailer", "sometimes", "must be true/false, yes/no, on/off or 1/0" },
	{ "bubbles", "nonce_epoch", "0", "must be between 1 and 3600" },
	{ "bubbles", "nonce_epoch", "3601", "must be between 1 and 3600" },
	{ "bubbles", "secret", "0011", "must be exactly 32 hexadecimal digits" },
	{ "bubbles", "secret", "000102030405060708090a0b0c0d0e0f00", "must be exactly 32 hexadecimal digits" },
	{ "bubbles", "secret", "0g0102030405060708090a0b0c0d0e0f", "must be exactly 32 hexadecimal digits" },
	{ "icmp6", "rate", "0", "must be between 1 and 1000000" },
	{ "icmp6", "burst", "0", "must be between 1 and 10000" },
	{ "control", "ring", "4095", "must be a power of two between 64 and 1048576" },
	{ "control", "ring", "32", "must be a power of two between 64 and 1048576" },
	{ "control", "ring", "2097152", "must be a power of two between 64 and 1048576" },
	{ "telemetry", "summary_interval", "86401", "must be between 0 and 86400" },
	{ "telemetry", "summary_interval", "-1", "must be a decimal integer between 0 and 86400" },
	{ "telemetry", "prometheus", "127.0.0.1", "must be ipv4:port or [ipv6]:port" },
	{ "telemetry", "prometheus", "127.0.0.1:0", "port must be between 1 and 65535" },
	{ "telemetry", "prometheus", "127.0.0.1:65536", "port must be between 1 and 65535" },
	{ "telemetry", "prometheus", "localhost:9100", "not a valid IPv4 address" },
	{ "telemetry", "prometheus", "[::1:9100", "must be ipv4:port or [ipv6]:port" },
	{ "telemetry", "prometheus", "[::g]:9100", "not a valid IPv6 address" },
	{ "relay", "enabled", "no way", "must be true/false, yes/no, on/off or 1/0" },
	{ "server", "enabled", "perhaps", "must be true/false, yes/no, on/off or 1/0" },
	{ "server", "primary", "203.0.113", "not a valid IPv4 address" },
	{ "server", "primary", "0.0.0.0", "must not be 0.0.0.0" },
	{ "server", "primary", "224.0.0.1", "must be a unicast address (not multicast or broadcast)" },
	{ "server", "secondary", "203.0.113.256", "not a valid IPv4 address" },
	{ "server", "port", "3545", "must be between 3544 and 3544" },
	{ "server", "port", "0", "must be between 3544 and 3544" },
	{ "server", "mtu", "1279", "must be between 1280 and 65507" },
	{ "server", "mtu", "65508", "must be between 1280 and 65507" },
	{ "server", "rs_rate", "0", "must be between 1 and 10000000" },
	{ "server", "rs_burst", "10000001", "must be between 1 and 10000000" },
	{ "server", "fwd_rate", "0", "must be between 1 and 10000000" },
	{ "server", "fwd_burst", "x", "must be a decimal integer between 1 and 10000000" },
	{ "state", "file", "var/lib/terelay/state", "must be an absolute path" },
	{ "state", "interval", "86401", "must be between 0 and 86400" },
};

/* Builds "[relay] ipv4/ipv6 + [sec] + key = val" and returns the key's line. */
static unsigned
build_one(char *out, size_t len, const char *sec, const char *key, const char *val)
{
	size_t n = 0;
	unsigned line = 0;

#define ADD(...) do { n += (size_t)snprintf(out + n, len - n, __VA_ARGS__); line++; } while (0)
	ADD("; generated\n");
	ADD("[relay]\n");
	if (!(strcmp(sec, "relay") == 0 && strcmp(key, "ipv4") == 0))
		ADD("ipv4 = 198.51.100.1\n");
	if (!(strcmp(sec, "relay") == 0 && strcmp(key, "ipv6") == 0))
		ADD("ipv6 = 2001:db8:ffff::1\n");
	if (strcmp(sec, "relay") != 0)
		ADD("[%s]\n", sec);
	ADD("# the key under test follows\n");
	ADD("  %s\t=  %s  \n", key, val);
	ADD("\n");
#undef ADD
	assert_true(n < len);
	return line - 1;
}

static void
test_bad_values(void **state)
{
	char text[1024];
	struct tr_config ref;
	char *dump, *p;
	unsigned covered = 0, total = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(bad_values) / sizeof(bad_values[0]); i++) {
		const struct bad *b = &bad_values[i];
		unsigned line = build_one(text, sizeof(text), b->sec, b->key, b->val);

		expect_err(text, line, "[%s] %s = %s: %s", b->sec, b->key, b->val, b->msg);
	}

	/* Coverage: every key print() knows has at least one row above. */
	tr_config_defaults(&ref);
	dump = print_to_string(&ref);
	for (p = dump; *p; p = strchr(p, '\n') + 1) {
		char sec[32], key[64];
		bool found = false;

		assert_int_equal(sscanf(p, "%31[^.].%63[^ ]", sec, key), 2);
		total++;
		for (size_t i = 0; i < sizeof(bad_values) / sizeof(bad_values[0]); i++)
			if (strcmp(bad_values[i].sec, sec) == 0 && strcmp(bad_values[i].key, key) == 0)
				found = true;
		if (!found)
			print_error("no invalid-value test for [%s] %s\n", sec, key);
		covered += found;
	}
	free(dump);
	assert_int_equal(covered, total);
	assert_int_equal(total, 59);
}

/* [ports] VLANs (issue 17): what a valid file gives, and the cross-key rules. */
static void
test_l2_vlan_keys(void **state)
{
	struct loaded l;
	struct tr_vlan v;

	(void)state;
	load_ok(&l, REQ "[ports]\nteredo_vlan = 100\nnative_vlan = 7\nnative_inner_vlan = 4094\n");
	tr_config_vlan(&l.c, TR_SIDE_TEREDO, &v);
	assert_int_equal(v.ntags, 1);
	assert_int_equal(v.outer_tpid, 0x8100);
	assert_int_equal(v.vid[0], 100);
	tr_config_vlan(&l.c, TR_SIDE_NATIVE, &v);
	assert_int_equal(v.ntags, 2);
	assert_int_equal(v.outer_tpid, 0x88a8);          /* 802.1ad by default */
	assert_int_equal(v.vid[0], 7);
	assert_int_equal(v.vid[1], 4094);
	load_ok(&l, REQ "[ports]\nnative_vlan = 7\nnative_inner_vlan = 8\nnative_outer_tpid = 0x8100\n"
		"teredo_vlan = 1\nteredo_outer_tpid = 0x88A8\n");
	tr_config_vlan(&l.c, TR_SIDE_NATIVE, &v);
	assert_int_equal(v.outer_tpid, 0x8100);
	tr_config_vlan(&l.c, TR_SIDE_TEREDO, &v);
	assert_int_equal(v.ntags, 1);
	assert_int_equal(v.outer_tpid, 0x88a8);
	/* Untagged by default. */
	load_ok(&l, REQ);
	tr_config_vlan(&l.c, TR_SIDE_TEREDO, &v);
	assert_int_equal(v.ntags, 0);
	/* An inner tag without the outer one, a TPID without a tag. */
	expect_err(REQ "[ports]\nteredo_inner_vlan = 200\n", 5,
		   "[ports] teredo_inner_vlan = 200: needs teredo_vlan (the outer tag) as well");
	expect_err(REQ "[ports]\nteredo_vlan = 5\nnative_inner_vlan = 9\n", 6,
		   "[ports] native_inner_vlan = 9: needs native_vlan (the outer tag) as well");
	expect_err(REQ "[ports]\nnative_outer_tpid = 0x88a8\n", 5,
		   "[ports] native_outer_tpid: needs native_vlan (the tag it applies to)");
}

static void
test_empty_values(void **state)
{
	char text[1024];
	struct loaded l;
	static const char *const not_empty[][2] = {
		{ "relay", "ipv4" }, { "relay", "port" }, { "relay", "mtu" },
		{ "ports", "teredo" }, { "ports", "burst" }, { "nexthop", "ipv4_gateway_mac" },
		{ "peers", "accept_unknown" }, { "control", "ring" },
		{ "telemetry", "summary_interval" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(not_empty) / sizeof(not_empty[0]); i++) {
		unsigned line = build_one(text, sizeof(text), not_empty[i][0], not_empty[i][1], "");

		expect_err(text, line, "[%s] %s: empty value", not_empty[i][0], not_empty[i][1]);
		/* "" is the same as nothing */
		build_one(text, sizeof(text), not_empty[i][0], not_empty[i][1], "\"\"");
		expect_err(text, line, "[%s] %s: empty value", not_empty[i][0], not_empty[i][1]);
	}

	/* Where empty means "none" it is accepted, quoted or not. */
	load_ok(&l, REQ "served =\n[ports]\nprofile =\n[telemetry]\nprometheus = \"\"\n");
	assert_int_equal(l.c.n_served, 0);
	assert_string_equal(l.c.profile, "");
	assert_string_equal(l.c.prometheus, "");
}

static void
test_structure_errors(void **state)
{
	(void)state;
	expect_err(REQ "mtux = 1400\n", 4, "unknown key 'mtux' in [relay]");
	expect_err(REQ "[ports]\nmtu = 1400\n", 5, "unknown key 'mtu' in [ports]");
	expect_err(REQ "MTU = 1400\n", 4, "unknown key 'MTU' in [relay]");
	expect_err(REQ "\n[relays]\n", 5, "unknown section [relays]");
	expect_err(REQ "[Relay]\n", 4, "unknown section [Relay]");
	expect_err("mtu = 1280\n" REQ, 1, "key 'mtu' outside any section");
	expect_err(REQ "mtu 1400\n", 4, "expected '[section]' or 'key = value'");
	expect_err(REQ "[ports\n", 4, "missing ']' in section header");
	expect_err(REQ "[ports] x\n", 4, "unexpected text after ']'");
	expect_err(REQ "[ ]\n", 4, "empty section name");
	expect_err(REQ "= 5\n", 4, "missing key name before '='");
	expect_err(REQ "[ports]\nburst = 8\n[relay]\n", 6,
		   "duplicate section [relay] (first at line 1)");
	expect_err(REQ "mtu = 1400\n\nmtu = 1500\n", 6,
		   "duplicate key 'mtu' in [relay] (first at line 4)");
	expect_err(REQ "ipv4 = 198.51.100.1\n", 4,
		   "duplicate key 'ipv4' in [relay] (first at line 2)");
	expect_err(REQ "mtu = 1280\x01\n", 4, "control character 0x01 in line");
	expect_err(REQ "mtu = 12\r80\n", 4, "control character 0x0d in line");
}

static void
test_long_and_binary(void **state)
{
	char text[8192];
	struct loaded l;
	int n;

	(void)state;
	/* Long values are refused, not truncated, and elided in the message. */
	n = snprintf(text, sizeof(text), REQ "[ports]\nprofile = %0300d\n", 0);
	assert_true(n > 0);
	expect_err(text, 5, "[ports] profile = %077d...: too long (at most 63 characters)", 0);

	memset(text, 'a', sizeof(text));
	memcpy(text, REQ, strlen(REQ));
	text[sizeof(text) - 2] = '\n';
	text[sizeof(text) - 1] = '\0';
	expect_err(text, 4, "line too long (more than 4096 bytes)");

	/* An embedded NUL must not hide the rest of the line. */
	load_len(&l, REQ "mtu = 1400\0garbage\n", sizeof(REQ "mtu = 1400\0garbage\n") - 1);
	assert_int_equal(l.rc, -1);
	{
		char want[TR_CFG_ERR_LEN];

		snprintf(want, sizeof(want), "%s:4: NUL byte in line", l.path);
		assert_string_equal(l.err, want);
	}
}

static void
test_missing_required(void **state)
{
	(void)state;
	expect_err("", 0, "[relay] ipv4 is required");
	expect_err("; only a comment\n", 0, "[relay] ipv4 is required");
	expect_err("[relay]\nipv6 = 2001:db8::1\n", 0, "[relay] ipv4 is required");
	expect_err("[relay]\nipv4 = 198.51.100.1\n", 0, "[relay] ipv6 is required");
	/* ipv4 in the wrong section does not count */
	expect_err("[ports]\nipv4 = 198.51.100.1\n", 2, "unknown key 'ipv4' in [ports]");
}

static void
test_missing_file(void **state)
{
	struct tr_config c;
	char err[TR_CFG_ERR_LEN];
	char dir[] = "/tmp/terelay-cfgdir-XXXXXX";
	char want[TR_CFG_ERR_LEN];

	(void)state;
	assert_int_equal(tr_config_load("/nonexistent/relay.ini", &c, err), -1);
	assert_string_equal(err, "/nonexistent/relay.ini:0: cannot open: No such file or directory");

	assert_non_null(mkdtemp(dir));
	assert_int_equal(tr_config_load(dir, &c, err), -1);
	snprintf(want, sizeof(want), "%s:0: cannot read: Is a directory", dir);
	assert_string_equal(err, want);
	rmdir(dir);
}

static void
test_comments_and_syntax(void **state)
{
	struct loaded l;

	(void)state;
	load_ok(&l,
		"# hash comment\n"
		"; semicolon comment\n"
		"# mtu = 9000   (a commented-out key must not be read)\n"
		"   ; indented comment\n"
		"\n"
		"\t\n"
		"[ relay ]   ; section with comment\n"
		"ipv4=198.51.100.1\n"
		"ipv6 = 2001:db8:ffff::1 # trailing hash comment\n"
		"mtu = \"1400\" ; quoted, with comment\n"
		";ttl = 1\n"
		"#ttl = 1\n"
		"[peers]\r\n"
		"accept_unknown = ON\r\n"
		"[telemetry]\n"
		"summary_interval = 5");          /* no final newline */
	assert_int_equal(l.c.mtu, 1400);
	assert_int_equal(l.c.ttl, 64);
	assert_true(l.c.accept_unknown);
	assert_int_equal(l.c.summary_interval_s, 5);
	assert_true(l.c.summary_interval_set);
}

static void
test_booleans(void **state)
{
	static const char *const t[] = { "true", "yes", "on", "1", "TRUE", "Yes" };
	static const char *const f[] = { "false", "no", "off", "0", "False", "NO" };
	char text[512];
	struct loaded l;

	(void)state;
	for (size_t i = 0; i < 6; i++) {
		build_one(text, sizeof(text), "peers", "accept_unknown", t[i]);
		load_ok(&l, text);
		assert_true(l.c.accept_unknown);
		build_one(text, sizeof(text), "peers", "accept_unknown", f[i]);
		load_ok(&l, text);
		assert_false(l.c.accept_unknown);
	}
}

static void
test_ranges_edges(void **state)
{
	struct loaded l;

	(void)state;
	load_ok(&l, REQ "mtu = 65507\nport = 65535\nttl = 255\n[ports]\nburst = 1\n"
		    "[peers]\nshards = 64\n[control]\nring = 1048576\n"
		    "[telemetry]\nsummary_interval = 0000\nprometheus = 127.0.0.1:9100\n");
	assert_int_equal(l.c.mtu, 65507);
	assert_int_equal(l.c.port, 65535);
	assert_int_equal(l.c.ttl, 255);
	assert_int_equal(l.c.burst, 1);
	assert_int_equal(l.c.shards, 64);
	assert_int_equal(l.c.ring_size, 1048576);
	assert_int_equal(l.c.summary_interval_s, 0);
	assert_true(l.c.summary_interval_set);
	assert_string_equal(l.c.prometheus, "127.0.0.1:9100");

	load_ok(&l, REQ "[peers]\nshards = 1\n[nexthop]\nipv4_gateway = 0.0.0.0\nipv6_gateway = ::\n");
	assert_int_equal(l.c.shards, 1);
	/* Private and documentation ranges are allowed for the relay itself (labs). */
	load_ok(&l, "[relay]\nipv4 = 10.0.0.1\nipv6 = fd00::1\n");
	assert_int_equal(l.c.ipv4, ip4("10.0.0.1"));
}

static void
test_served_list(void **state)
{
	char text[1024], list[512];
	size_t n = 0;
	struct loaded l;
	unsigned line;

	(void)state;
	for (int i = 0; i < TR_CFG_MAX_SERVED; i++)
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s2001:db8:%x::/48", i ? "," : "", i);
	build_one(text, sizeof(text), "relay", "served", list);
	load_ok(&l, text);
	assert_int_equal(l.c.n_served, TR_CFG_MAX_SERVED);
	assert_ip6(l.c.served[15].addr, "2001:db8:f::");
	assert_int_equal(l.c.served[15].len, 48);

	snprintf(list + n, sizeof(list) - n, ",2001:db9::/32");
	line = build_one(text, sizeof(text), "relay", "served", list);
	expect_err(text, line, "[relay] served = %.77s...: at most 16 prefixes", list);

	/* 16 long prefixes (over 255 characters) fit on one line. */
	n = 0;
	for (int i = 0; i < TR_CFG_MAX_SERVED; i++)
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s2001:db8:1234:%x::/64",
				      i ? ", " : "", 0xff00 + i);
	assert_true(n > 255);
	build_one(text, sizeof(text), "relay", "served", list);
	load_ok(&l, text);
	assert_int_equal(l.c.n_served, TR_CFG_MAX_SERVED);
	assert_ip6(l.c.served[15].addr, "2001:db8:1234:ff0f::");

	load_ok(&l, REQ "served = ::/0\n");
	assert_int_equal(l.c.n_served, 1);
	assert_int_equal(l.c.served[0].len, 0);
}

static void
test_cross_field(void **state)
{
	(void)state;
	/* reported on pending_capacity when it is in the file ... */
	expect_err(REQ "[peers]\npending_capacity = 4096\ncapacity = 2048\n", 5,
		   "[peers] pending_capacity = 4096: must not exceed [peers] capacity = 2048");
	/* ... else on capacity, which made the default too big */
	expect_err(REQ "[peers]\ncapacity = 2048\n", 5,
		   "[peers] pending_capacity = 65536: must not exceed [peers] capacity = 2048");
}

/* [server]: global addresses, S = P + 1 by default, no clash with the relay. */
static void
test_server_section(void **state)
{
	struct loaded l;

	(void)state;
	load_ok(&l, REQ "[server]\nenabled = on\nprimary = 203.0.113.120\n");
	assert_true(l.c.server_enabled);
	assert_int_equal(l.c.server_primary, 0xcb007178u);
	assert_int_equal(l.c.server_secondary, 0xcb007179u);
	assert_int_equal(l.c.server_port, 3544);
	assert_int_equal(l.c.server_mtu, 1280);
	load_ok(&l, REQ "[server]\nenabled = on\nprimary = 203.0.113.120\nsecondary = 198.51.100.9\nmtu = 1400\n");
	assert_int_equal(l.c.server_secondary, 0xc6336409u);
	assert_int_equal(l.c.server_mtu, 1400);
	/* off: nothing is checked, nothing derived */
	load_ok(&l, REQ "[server]\nprimary = 10.0.0.1\n");
	assert_false(l.c.server_enabled);
	expect_err(REQ "[server]\nenabled = on\n", 5, "[server] primary is required when enabled");
	expect_err(REQ "[server]\nenabled = on\nprimary = 10.1.2.3\n", 6,
		   "[server] primary: not a global unicast IPv4 address");
	expect_err(REQ "[server]\nenabled = on\nprimary = 203.0.113.120\nsecondary = 192.168.1.1\n", 7,
		   "[server] secondary: not a global unicast IPv4 address");
	/* P + 1 leaves the global range: reported on primary */
	expect_err(REQ "[server]\nenabled = on\nprimary = 9.255.255.255\n", 6,
		   "[server] secondary: not a global unicast IPv4 address (primary + 1)");
	expect_err(REQ "[server]\nenabled = on\nprimary = 203.0.113.120\nsecondary = 203.0.113.120\n", 7,
		   "[server] secondary must differ from primary");
	/* the relay on a server address needs another port */
	expect_err("[relay]\nipv4 = 203.0.113.121\nipv6 = 2001:db8:ffff::1\n[server]\nenabled = on\nprimary = 203.0.113.120\n",
		   2, "[relay] ipv4:port is a server address on port 3544; give the relay another port or address");
	load_ok(&l, "[relay]\nipv4 = 203.0.113.120\nport = 3545\nipv6 = 2001:db8:ffff::1\n[server]\nenabled = on\nprimary = 203.0.113.120\n");
	assert_int_equal(l.c.port, 3545);
	/* server-only: the relay's address may be P, and some role must be on */
	load_ok(&l, "[relay]\nenabled = off\nipv4 = 203.0.113.120\nipv6 = 2001:db8:ffff::1\n[server]\nenabled = on\nprimary = 203.0.113.120\n");
	assert_false(l.c.relay_enabled);
	expect_err("[relay]\nenabled = off\nipv4 = 203.0.113.120\nipv6 = 2001:db8:ffff::1\n", 2,
		   "[relay] enabled = false needs [server] enabled = true (no role left)");
}

static void
test_error_leaves_config(void **state)
{
	struct tr_config c, before;
	char err[TR_CFG_ERR_LEN];
	char path[64];

	(void)state;
	write_file(path, REQ "mtu = 1500\nttl = 0\n", strlen(REQ "mtu = 1500\nttl = 0\n"));
	memset(&c, 0x5a, sizeof(c));
	before = c;
	assert_int_equal(tr_config_load(path, &c, err), -1);
	unlink(path);
	assert_memory_equal(&c, &before, sizeof(c));
}

static void
test_print(void **state)
{
	struct loaded l;
	char *s;

	(void)state;
	load_ok(&l, full_file);
	s = print_to_string(&l.c);
	assert_non_null(strstr(s, "relay.ipv4 = 203.0.113.7\n"));
	assert_non_null(strstr(s, "relay.ipv6 = 2001:db8:1::7\n"));
	assert_non_null(strstr(s, "relay.served = 2001:db8::/32, 2001:db9:1::/48, 2001:dba::/128\n"));
	assert_non_null(strstr(s, "nexthop.ipv6_gateway_mac = 02:ab:cd:ef:00:02\n"));
	assert_non_null(strstr(s, "peers.accept_unknown = true\n"));
	assert_non_null(strstr(s, "telemetry.prometheus = [::1]:9100\n"));
	assert_true(strncmp(s, "relay.ipv4 = ", 13) == 0);
	free(s);

	tr_config_defaults(&l.c);
	s = print_to_string(&l.c);
	assert_non_null(strstr(s, "nexthop.ipv4_gateway_mac = \n"));
	assert_non_null(strstr(s, "nexthop.ipv6_gateway = ::\n"));
	assert_non_null(strstr(s, "relay.served = \n"));
	free(s);
}

/* The shipped sample loads and equals the defaults (but for the two required keys). */
static void
test_sample_file(void **state)
{
	const char *path = getenv("TERELAY_SAMPLE_INI");
	struct tr_config c, d;
	char err[TR_CFG_ERR_LEN];
	char *a, *b;

	(void)state;
	assert_non_null(path);
	if (tr_config_load(path, &c, err) != 0)
		print_error("%s\n", err);
	assert_int_equal(tr_config_load(path, &c, err), 0);
	tr_config_defaults(&d);
	d.ipv4 = c.ipv4;
	memcpy(d.ipv6, c.ipv6, 16);
	a = print_to_string(&c);
	b = print_to_string(&d);
	assert_string_equal(a, b);
	assert_false(c.summary_interval_set);
	free(a);
	free(b);
}

/* Every key printed has a row in docs/configuration.md under its section,
 * and the sample mentions it; the doc row shows the real default. */
static void
test_docs_and_sample_cover_keys(void **state)
{
	const char *doc_path = getenv("TERELAY_CONFIG_DOC");
	const char *ini_path = getenv("TERELAY_SAMPLE_INI");
	struct tr_config d;
	char *doc, *ini, *dump, *p;

	(void)state;
	assert_non_null(doc_path);
	assert_non_null(ini_path);
	doc = read_whole(doc_path);
	ini = read_whole(ini_path);
	tr_config_defaults(&d);
	dump = print_to_string(&d);
	for (p = dump; *p; p = strchr(p, '\n') + 1) {
		char sec[32], key[64], def[256] = "", head[64], row[96], ikey[96];
		const char *s, *next, *r, *eol, *eq = strstr(p, " = ");

		assert_int_equal(sscanf(p, "%31[^.].%63[^ ]", sec, key), 2);
		assert_non_null(eq);
		snprintf(def, sizeof(def), "%.*s", (int)strcspn(eq + 3, "\n"), eq + 3);
		snprintf(head, sizeof(head), "\n## [%s]\n", sec);
		s = strstr(doc, head);
		if (s == NULL)
			print_error("docs: no heading for [%s]\n", sec);
		assert_non_null(s);
		next = strstr(s + 1, "\n## ");
		snprintf(row, sizeof(row), "\n| `%s` |", key);
		r = strstr(s, row);
		if (r == NULL || (next != NULL && r > next))
			print_error("docs: no row for [%s] %s\n", sec, key);
		assert_true(r != NULL && (next == NULL || r < next));
		eol = strchr(r + 1, '\n');
		if (def[0] != '\0' && strcmp(key, "ipv4") != 0 && strcmp(key, "ipv6") != 0) {
			char want[300];
			const char *hit;

			snprintf(want, sizeof(want), "`%s`", def);
			hit = strstr(r, want);
			if (hit == NULL || (eol != NULL && hit > eol))
				print_error("docs: row for [%s] %s lacks default %s\n", sec, key, want);
			assert_true(hit != NULL && (eol == NULL || hit < eol));
		}
		snprintf(ikey, sizeof(ikey), "\n%s =", key);
		if (strstr(ini, ikey) == NULL) {
			snprintf(ikey, sizeof(ikey), "\n;%s =", key);
			if (strstr(ini, ikey) == NULL)
				print_error("sample: no line for [%s] %s\n", sec, key);
			assert_non_null(strstr(ini, ikey));
		}
	}
	free(dump);
	free(doc);
	free(ini);
}

/* Mutated versions of a valid file: any result is fine, but no crash, no
 * sanitizer report, and errors stay one line (checked in load_len). */
static void
test_mutations(void **state)
{
	uint32_t x = 0x12345678;
	size_t base = strlen(full_file);
	static const char alphabet[] = "[]=;#\"\n\t ,/:.0123456789abcdefxyz\r\\\0\xff";
	char *buf = malloc(base + 64);
	struct loaded l;
	unsigned ok = 0;

	(void)state;
	assert_non_null(buf);
	for (int it = 0; it < 3000; it++) {
		size_t len = base;
		int edits = 1 + (int)(x % 4);

		memcpy(buf, full_file, base);
		for (int e = 0; e < edits; e++) {
			size_t pos;
			char ch;

			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			pos = x % len;
			ch = alphabet[(x >> 8) % (sizeof(alphabet) - 1)];
			switch ((x >> 16) % 4) {
			case 0: buf[pos] = ch; break;
			case 1: memmove(buf + pos, buf + pos + 1, len - pos - 1); len--; break;
			case 2:
				if (len < base + 60) {
					memmove(buf + pos + 1, buf + pos, len - pos);
					buf[pos] = ch;
					len++;
				}
				break;
			default: len = pos + 1; break;
			}
		}
		load_len(&l, buf, len);
		ok += l.rc == 0;
	}
	free(buf);
	/* Some mutations (inside comments, digit changes) keep the file valid. */
	assert_true(ok > 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_file),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_l2_vlan_keys),
		cmocka_unit_test(test_empty_values),
		cmocka_unit_test(test_structure_errors),
		cmocka_unit_test(test_long_and_binary),
		cmocka_unit_test(test_missing_required),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_comments_and_syntax),
		cmocka_unit_test(test_booleans),
		cmocka_unit_test(test_ranges_edges),
		cmocka_unit_test(test_served_list),
		cmocka_unit_test(test_cross_field),
		cmocka_unit_test(test_server_section),
		cmocka_unit_test(test_error_leaves_config),
		cmocka_unit_test(test_print),
		cmocka_unit_test(test_sample_file),
		cmocka_unit_test(test_docs_and_sample_cover_keys),
		cmocka_unit_test(test_mutations),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
