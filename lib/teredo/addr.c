/* SPDX-License-Identifier: BSD-3-Clause */
/* Teredo address format and IPv4/IPv6 address classes (RFC 4380 §4, §5.2.4). */
#include <string.h>

#include "teredo.h"

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* All 32 bits: 2001:db8::/32 and the pre-RFC 3ffe:831f::/32 are not Teredo (RFC 4380 §2.6). */
bool tr_is_teredo(const uint8_t a[16])
{
	static const uint8_t prefix[4] = { 0x20, 0x01, 0x00, 0x00 };

	return memcmp(a, prefix, 4) == 0;       /* one 32-bit compare */
}

/* RFC 4380 §4: server plain, port and client XOR all-ones. */
int tr_addr_decode(const uint8_t a[16], struct tr_addr_info *out)
{
	if (!tr_is_teredo(a))
		return -1;
	out->server = get_be32(a + 4);
	out->flags = get_be16(a + 8);
	out->port = (uint16_t)~get_be16(a + 10);
	out->client = ~get_be32(a + 12);
	return 0;
}

void tr_addr_encode(const struct tr_addr_info *in, uint8_t out[16])
{
	out[0] = 0x20;
	out[1] = 0x01;
	out[2] = 0x00;
	out[3] = 0x00;
	put_be32(out + 4, in->server);
	put_be16(out + 8, in->flags);
	put_be16(out + 10, (uint16_t)~in->port);
	put_be32(out + 12, ~in->client);
}

/*
 * Exactly the RFC 4380 §5.2.4 list (as Miredo v4global.c). Directed
 * broadcasts of attached subnets are not knowable here. 100.64/10, 240/4,
 * TEST-NETs and 198.18/15 stay global on purpose (notes §1.2). One switch
 * on the first octet: this runs for every packet in both directions.
 */
bool tr_ipv4_is_global(uint32_t ip)
{
	/* First octets with a non-global block (0, 10, 127, 169, 172, 192,
	 * 224-255): one bit test answers every other address. */
	static const uint64_t special[4] = {
		1ull << 0 | 1ull << 10,                 /* 0-63 */
		1ull << (127 - 64),                     /* 64-127 */
		1ull << (169 - 128) | 1ull << (172 - 128), /* 128-191 */
		1ull << 0 | 0xffffffff00000000ull,      /* 192, 224-255 */
	};
	unsigned o = ip >> 24;

	if (!(special[o >> 6] >> (o & 63) & 1))
		return true;
	switch (o) {
	case 0:                                        /* 0.0.0.0/8 */
	case 10:                                       /* 10.0.0.0/8 */
	case 127:                                      /* 127.0.0.0/8 */
		return false;
	case 169:
		return (ip >> 16) != 0xa9fe;            /* 169.254.0.0/16 */
	case 172:
		return (ip >> 20) != 0xac1;             /* 172.16.0.0/12 */
	case 192:
		return (ip >> 16) != 0xc0a8 &&          /* 192.168.0.0/16 */
		       (ip >> 8) != 0xc05863;           /* 192.88.99.0/24, 6to4 anycast */
	default:
		/* 224.0.0.0/4 multicast; 255.255.255.255 limited broadcast */
		return (ip >> 28) != 0xe && ip != 0xffffffffu;
	}
}

bool tr_ipv6_is_multicast(const uint8_t a[16])
{
	return a[0] == 0xff;   /* ff00::/8, RFC 4291 §2.7 */
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

bool tr_ipv6_is_unspecified(const uint8_t a[16])
{
	return all_zero(a, 16);
}

bool tr_ipv6_is_global_unicast(const uint8_t a[16])
{
	uint64_t hi;

	if (tr_ipv6_is_multicast(a))
		return false;
	/* fe80::/10 link-local */
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
		return false;
	/* Both /96 blocks below start with 64 zero bits: any other address
	 * is decided here, with one load. */
	memcpy(&hi, a, 8);
	if (hi != 0)
		return true;
	/* ::/96 covers unspecified, loopback and IPv4-compatible (RFC 4291 §2.5.5.1). */
	if (all_zero(a, 12))
		return false;
	/* ::ffff:0:0/96 IPv4-mapped (RFC 4291 §2.5.5.2) */
	if (all_zero(a, 10) && a[10] == 0xff && a[11] == 0xff)
		return false;
	return true;
}

bool tr_prefix6_match(const struct tr_prefix6 *p, const uint8_t a[16])
{
	unsigned len = p->len;

	if (len > 128)
		return false;   /* malformed prefix matches nothing */

	unsigned bytes = len / 8, bits = len % 8;

	if (memcmp(p->addr, a, bytes) != 0)
		return false;
	if (bits) {
		uint8_t mask = (uint8_t)(0xff << (8 - bits));

		if ((p->addr[bytes] & mask) != (a[bytes] & mask))
			return false;
	}
	return true;
}

/* RFC 4380 §5.1.1: 0x0000, ~port, ~IPv4 (the same obfuscation as in the address). */
void tr_origin_build(uint8_t out[TR_ORIGIN_LEN], uint32_t ip, uint16_t port)
{
	out[0] = 0;
	out[1] = 0;
	put_be16(out + 2, (uint16_t)~port);
	put_be32(out + 4, ~ip);
}

int tr_origin_parse(const uint8_t *p, size_t len, uint32_t *ip, uint16_t *port)
{
	/* Indicator type is the 16-bit zero (RFC 4380 §5.1.1). */
	if (p == NULL || len < TR_ORIGIN_LEN || p[0] != 0 || p[1] != 0)
		return -1;
	*port = (uint16_t)~get_be16(p + 2);
	*ip = ~get_be32(p + 4);
	return 0;
}
