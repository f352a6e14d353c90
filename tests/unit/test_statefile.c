/* SPDX-License-Identifier: BSD-3-Clause */
/* The state file (statefile.h, D92): round trips through the writer and the
 * loader, the writer's file handling (mode, temporary, abort), and every
 * refusal of the reader — each with no callback called, since a load is all
 * or nothing. Files with a valid checksum but bad content are forged by
 * patching bytes and recomputing the checksum with tr_state_checksum, which
 * is itself checked against a bit-by-bit CRC-64/XZ written here. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "statefile.h"

#define IP   0xc6336401u	/* 198.51.100.1 */
#define PORT 3545

static char dir[64];
static char path[128];
static char tmp_path[160];

/* What the callbacks saw, in order. */
struct seen {
	int n;
	char kind[16];
	struct tr_state_peer peer[16];
	struct tr_state_neg neg[16];
};

static void on_peer(void *arg, const struct tr_state_peer *p)
{
	struct seen *s = arg;

	assert_true(s->n < 16);
	s->kind[s->n] = 'p';
	s->peer[s->n++] = *p;
}

static void on_neg(void *arg, const struct tr_state_neg *n)
{
	struct seen *s = arg;

	assert_true(s->n < 16);
	s->kind[s->n] = 'n';
	s->neg[s->n++] = *n;
}

static uint64_t crc64_xz_bitwise(const uint8_t *p, size_t n)
{
	uint64_t c = ~0ULL;

	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0xc96c5795d7870f42ULL : c >> 1;
	}
	return ~c;
}

static void hdr_init(struct tr_state_hdr *h)
{
	memset(h, 0, sizeof(*h));
	h->relay_ip = IP;
	h->relay_port = PORT;
	h->written_wall_ms = 1733580000123ULL;
	h->written_clock_ms = 0x8000000000000001ULL;	/* top bit: all 8 bytes matter */
	for (int i = 0; i < 16; i++)
		h->secret[i] = (uint8_t)(0xa0 + i);
	h->nonce_epoch_s = 0xfedcba98u;
}

static void peer_init(struct tr_state_peer *p, unsigned i)
{
	memset(p, 0, sizeof(*p));
	p->addr[0] = 0x20;
	p->addr[1] = 0x01;
	p->addr[15] = (uint8_t)i;
	p->ip = 0xc0000200u + i;
	p->port = (uint16_t)(0xf000 + i);
	p->state = (i & 1) ? TR_STATE_TRUSTED : TR_STATE_PENDING;
	p->bubbles = (uint8_t)(i * 3);
	p->last_rx_ms = 0x0102030405060708ULL + i;
	p->last_tx_ms = 0xf1f2f3f4f5f6f7f8ULL - i;
	p->created_ms = 1000u * i;
}

static void neg_init(struct tr_state_neg *n, unsigned i)
{
	memset(n, 0, sizeof(*n));
	n->addr[0] = 0x20;
	n->addr[1] = 0x01;
	n->addr[14] = 0xee;
	n->addr[15] = (uint8_t)i;
	n->until_ms = 0x1122334455667788ULL * (i + 1);
}

/* Writes PATH with np peers and nn negative entries, interleaved p,n,p,n,... */
static void write_file(unsigned np, unsigned nn)
{
	struct tr_state_writer w;
	struct tr_state_hdr h;

	hdr_init(&h);
	assert_int_equal(tr_state_write_begin(&w, path, &h), 0);
	for (unsigned i = 0; i < np || i < nn; i++) {
		struct tr_state_peer p;
		struct tr_state_neg n;

		peer_init(&p, i);
		neg_init(&n, i);
		if (i < np)
			assert_int_equal(tr_state_write_peer(&w, &p), 0);
		if (i < nn)
			assert_int_equal(tr_state_write_neg(&w, &n), 0);
	}
	assert_int_equal(tr_state_write_commit(&w), 0);
	tr_state_write_abort(&w);	/* harmless after a commit */
}

static uint8_t *slurp(const char *p, size_t *len)
{
	FILE *f = fopen(p, "rb");
	uint8_t *b = malloc(1 << 16);

	assert_non_null(f);
	assert_non_null(b);
	*len = fread(b, 1, 1 << 16, f);
	fclose(f);
	return b;
}

static void spit(const char *p, const uint8_t *b, size_t len)
{
	FILE *f = fopen(p, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(b, 1, len, f), len);
	fclose(f);
}

/* The last 8 bytes are the checksum of everything before them. */
static void fix_checksum(uint8_t *b, size_t len)
{
	uint64_t c = tr_state_checksum(b, len - 8);

	for (int i = 0; i < 8; i++)
		b[len - 8 + i] = (uint8_t)(c >> (8 * i));
}

static enum tr_state_err parse(const uint8_t *b, size_t len, struct seen *s)
{
	struct tr_state_hdr h;

	memset(s, 0, sizeof(*s));
	return tr_state_parse(b, len, IP, PORT, &h, on_peer, on_neg, s);
}

/* Parse must refuse with want and call nothing. */
static void refuse(const uint8_t *b, size_t len, enum tr_state_err want)
{
	struct seen s;

	assert_int_equal(parse(b, len, &s), want);
	assert_int_equal(s.n, 0);
}

static void test_checksum(void **state)
{
	(void)state;
	uint8_t b[300];

	assert_true(tr_state_checksum((const uint8_t *)"123456789", 9) == 0x995dc9bbdf1939faULL);
	assert_true(tr_state_checksum(b, 0) == 0);
	for (size_t i = 0; i < sizeof(b); i++)
		b[i] = (uint8_t)(i * 7 + 3);
	for (size_t n = 0; n <= sizeof(b); n += 13)
		assert_true(tr_state_checksum(b, n) == crc64_xz_bitwise(b, n));
	assert_string_equal(tr_state_strerror(TR_STATE_OK), "ok");
	for (int e = TR_STATE_MISSING; e <= TR_STATE_BAD_RECORD; e++)
		assert_string_not_equal(tr_state_strerror((enum tr_state_err)e), "unknown error");
}

static void test_round_trip_empty(void **state)
{
	(void)state;
	struct tr_state_hdr h, want;
	struct seen s = { 0 };
	size_t len;

	write_file(0, 0);
	free(slurp(path, &len));
	assert_int_equal(len, TR_STATE_HDR_LEN + TR_STATE_END_LEN);
	memset(&h, 0x55, sizeof(h));
	assert_int_equal(tr_state_load(path, 1 << 20, IP, PORT, &h, on_peer, on_neg, &s),
			 TR_STATE_OK);
	assert_int_equal(s.n, 0);
	hdr_init(&want);
	assert_int_equal(h.relay_ip, want.relay_ip);
	assert_int_equal(h.relay_port, want.relay_port);
	assert_true(h.written_wall_ms == want.written_wall_ms);
	assert_true(h.written_clock_ms == want.written_clock_ms);
	assert_memory_equal(h.secret, want.secret, 16);
	assert_int_equal(h.nonce_epoch_s, want.nonce_epoch_s);
	/* Callbacks and the header are optional. */
	assert_int_equal(tr_state_load(path, 1 << 20, IP, PORT, NULL, NULL, NULL, NULL),
			 TR_STATE_OK);
}

static void test_round_trip_records(void **state)
{
	(void)state;
	struct seen s = { 0 };
	size_t len;

	write_file(5, 3);
	free(slurp(path, &len));
	assert_int_equal(len, TR_STATE_HDR_LEN + 5 * TR_STATE_PEER_LEN + 3 * TR_STATE_NEG_LEN +
			 TR_STATE_END_LEN);
	assert_int_equal(tr_state_load(path, 1 << 20, IP, PORT, NULL, on_peer, on_neg, &s),
			 TR_STATE_OK);
	/* Write order was p0 n0 p1 n1 p2 n2 p3 p4. */
	assert_int_equal(s.n, 8);
	assert_memory_equal(s.kind, "pnpnpnpp", 8);
	for (int k = 0, ip = 0, in = 0; k < s.n; k++) {
		if (s.kind[k] == 'p') {
			struct tr_state_peer w;
			const struct tr_state_peer *g = &s.peer[k];

			peer_init(&w, (unsigned)ip++);
			assert_memory_equal(g->addr, w.addr, 16);
			assert_int_equal(g->ip, w.ip);
			assert_int_equal(g->port, w.port);
			assert_int_equal(g->state, w.state);
			assert_int_equal(g->bubbles, w.bubbles);
			assert_true(g->last_rx_ms == w.last_rx_ms);
			assert_true(g->last_tx_ms == w.last_tx_ms);
			assert_true(g->created_ms == w.created_ms);
		} else {
			struct tr_state_neg w;

			neg_init(&w, (unsigned)in++);
			assert_memory_equal(s.neg[k].addr, w.addr, 16);
			assert_true(s.neg[k].until_ms == w.until_ms);
		}
	}
	/* Only negative entries is fine too. */
	write_file(0, 2);
	memset(&s, 0, sizeof(s));
	assert_int_equal(tr_state_load(path, 1 << 20, IP, PORT, NULL, on_peer, on_neg, &s),
			 TR_STATE_OK);
	assert_int_equal(s.n, 2);
	assert_memory_equal(s.kind, "nn", 2);
}

static void test_file_handling(void **state)
{
	(void)state;
	struct stat st;
	mode_t old = umask(0);

	/* A temporary left by a crash, with a wider mode: replaced, 0600. */
	spit(tmp_path, (const uint8_t *)"junk", 4);
	assert_int_equal(chmod(tmp_path, 0644), 0);
	write_file(2, 1);
	umask(old);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(stat(tmp_path, &st), -1);
	assert_int_equal(errno, ENOENT);

	/* An abort leaves the committed file as it was and no temporary. */
	size_t len0, len1;
	uint8_t *before = slurp(path, &len0);
	struct tr_state_writer w;
	struct tr_state_hdr h;
	struct tr_state_peer p;

	hdr_init(&h);
	peer_init(&p, 9);
	assert_int_equal(tr_state_write_begin(&w, path, &h), 0);
	assert_int_equal(tr_state_write_peer(&w, &p), 0);
	assert_int_equal(stat(tmp_path, &st), 0);
	tr_state_write_abort(&w);
	tr_state_write_abort(&w);
	assert_int_equal(stat(tmp_path, &st), -1);
	uint8_t *after = slurp(path, &len1);

	assert_int_equal(len0, len1);
	assert_memory_equal(before, after, len0);
	free(before);
	free(after);

	/* An abort before any commit leaves no file at all. */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(tr_state_write_begin(&w, path, &h), 0);
	tr_state_write_abort(&w);
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(stat(tmp_path, &st), -1);

	/* Errors are -errno. */
	char bad[200];

	snprintf(bad, sizeof(bad), "%s/no/such/dir/state", dir);
	assert_int_equal(tr_state_write_begin(&w, bad, &h), -ENOENT);
	tr_state_write_abort(&w);
}

static void test_load_refusals(void **state)
{
	(void)state;
	struct seen s = { 0 };
	size_t len;

	unlink(path);
	assert_int_equal(tr_state_load(path, 1 << 20, IP, PORT, NULL, on_peer, on_neg, &s),
			 TR_STATE_MISSING);
	write_file(1, 1);
	free(slurp(path, &len));
	assert_int_equal(tr_state_load(path, len - 1, IP, PORT, NULL, on_peer, on_neg, &s),
			 TR_STATE_TOO_BIG);
	assert_int_equal(s.n, 0);
	assert_int_equal(tr_state_load(path, len, IP, PORT, NULL, on_peer, on_neg, &s),
			 TR_STATE_OK);
	spit(path, (const uint8_t *)"", 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(tr_state_load(path, 1 << 20, IP, PORT, NULL, on_peer, on_neg, &s),
			 TR_STATE_TRUNCATED);
	assert_int_equal(s.n, 0);
	/* A directory cannot be read. */
	assert_int_equal(tr_state_load(dir, 1 << 20, IP, PORT, NULL, on_peer, on_neg, &s),
			 TR_STATE_IO);
}

static void test_truncated_everywhere(void **state)
{
	(void)state;
	size_t len;

	write_file(2, 2);
	uint8_t *b = slurp(path, &len);

	for (size_t n = 0; n < len; n++) {
		struct seen s;
		enum tr_state_err e = parse(b, n, &s);

		assert_int_not_equal(e, TR_STATE_OK);
		assert_int_equal(s.n, 0);
		/* No end-shaped tail: nothing but the walk can refuse it. */
		if (n < TR_STATE_HDR_LEN + TR_STATE_END_LEN || b[n - TR_STATE_END_LEN] != 0xff)
			assert_int_equal(e, TR_STATE_TRUNCATED);
	}
	refuse(b, TR_STATE_HDR_LEN, TR_STATE_TRUNCATED);	/* header, no end record */
	free(b);
}

static void test_flip_every_byte(void **state)
{
	(void)state;
	static const uint8_t masks[] = { 0x01, 0x80, 0xff, 0x5a };
	size_t len;

	write_file(2, 2);
	uint8_t *b = slurp(path, &len);

	for (size_t i = 0; i < len; i++)
		for (size_t m = 0; m < sizeof(masks); m++) {
			struct seen s;

			b[i] ^= masks[m];
			enum tr_state_err e = parse(b, len, &s);

			assert_int_not_equal(e, TR_STATE_OK);
			assert_int_equal(s.n, 0);
			/* Past the fields that say what the file is, and not the
			 * end record's type byte: the checksum catches it. */
			if (i >= 16 && i != len - TR_STATE_END_LEN)
				assert_int_equal(e, TR_STATE_BAD_CHECKSUM);
			b[i] ^= masks[m];
		}
	free(b);
}

static void test_header_refusals(void **state)
{
	(void)state;
	size_t len;

	write_file(1, 0);
	uint8_t *b = slurp(path, &len);

	b[0] = 't';
	fix_checksum(b, len);
	refuse(b, len, TR_STATE_BAD_MAGIC);
	b[0] = 'T';
	b[8] = 2;	/* version 2, checksum valid */
	fix_checksum(b, len);
	refuse(b, len, TR_STATE_FUTURE_VERSION);
	b[8] = 0;
	b[11] = 1;	/* version 1 << 24 */
	fix_checksum(b, len);
	refuse(b, len, TR_STATE_FUTURE_VERSION);
	b[11] = 0;	/* version 0 */
	fix_checksum(b, len);
	refuse(b, len, TR_STATE_BAD_HEADER);
	b[8] = 1;
	b[12] = TR_STATE_HDR_LEN + 4;
	fix_checksum(b, len);
	refuse(b, len, TR_STATE_BAD_HEADER);
	b[12] = TR_STATE_HDR_LEN;
	fix_checksum(b, len);
	struct seen s;

	assert_int_equal(parse(b, len, &s), TR_STATE_OK);
	assert_int_equal(s.n, 1);
	free(b);
}

static void test_record_refusals(void **state)
{
	(void)state;
	size_t len;

	write_file(2, 1);	/* p0 n0 p1 end */
	uint8_t *b = slurp(path, &len);
	uint8_t *c = malloc(len + 64);
	const size_t p0 = TR_STATE_HDR_LEN, n0 = p0 + TR_STATE_PEER_LEN;
	const size_t end = len - TR_STATE_END_LEN;

	assert_non_null(c);
#define FORGE(patch, want) do { memcpy(c, b, len); patch; fix_checksum(c, len); \
		refuse(c, len, want); } while (0)
	FORGE(c[n0] = 3, TR_STATE_BAD_RECORD);		/* unknown type */
	FORGE(c[n0] = 0, TR_STATE_BAD_RECORD);
	FORGE(c[p0 + 23] = 0, TR_STATE_BAD_RECORD);	/* peer state */
	FORGE(c[p0 + 23] = 3, TR_STATE_BAD_RECORD);
	FORGE(c[end + 1] = 3, TR_STATE_BAD_RECORD);	/* n_peers 2 -> 3 */
	FORGE(c[end + 1] = 1, TR_STATE_BAD_RECORD);
	FORGE(c[end + 5] = 0, TR_STATE_BAD_RECORD);	/* n_neg 1 -> 0 */
	FORGE(c[end + 4] = 1, TR_STATE_BAD_RECORD);	/* high byte of n_peers */
	/* An end record in the middle: the rest is trailing bytes. */
	FORGE(c[n0] = 0xff; c[n0 + 1] = 1; c[n0 + 5] = 0, TR_STATE_BAD_RECORD);
#undef FORGE
	/* Trailing garbage after the end record. */
	memcpy(c, b, len);
	c[len] = 0;
	refuse(c, len + 1, TR_STATE_BAD_RECORD);
	memset(c + len, 0, 20);
	refuse(c, len + 20, TR_STATE_BAD_RECORD);
	/* Garbage that happens to end like an end record fails its checksum. */
	memset(c + len, 0xff, 20);
	refuse(c, len + 20, TR_STATE_BAD_CHECKSUM);
	/* A second end record with a valid checksum of its own. */
	memcpy(c + len, b + end, TR_STATE_END_LEN);
	fix_checksum(c, len + TR_STATE_END_LEN);
	refuse(c, len + TR_STATE_END_LEN, TR_STATE_BAD_RECORD);
	/* The peer's bubbles byte has no invalid value. */
	memcpy(c, b, len);
	c[p0 + 24] = 0xff;
	fix_checksum(c, len);
	struct seen s;

	assert_int_equal(parse(c, len, &s), TR_STATE_OK);
	assert_int_equal(s.peer[0].bubbles, 0xff);
	free(b);
	free(c);
}

static void test_foreign(void **state)
{
	(void)state;
	struct tr_state_hdr h;
	struct seen s = { 0 };

	write_file(2, 2);
	memset(&h, 0, sizeof(h));
	assert_int_equal(tr_state_load(path, 1 << 20, IP + 1, PORT, &h, on_peer, on_neg, &s),
			 TR_STATE_FOREIGN);
	assert_int_equal(s.n, 0);
	assert_int_equal(h.relay_ip, IP);	/* whose file it is, for the log */
	assert_int_equal(h.relay_port, PORT);
	assert_int_equal(tr_state_load(path, 1 << 20, IP, PORT + 1, &h, on_peer, on_neg, &s),
			 TR_STATE_FOREIGN);
	assert_int_equal(s.n, 0);
	/* Identity is checked after the checksum: a damaged foreign file is damaged. */
	size_t len;
	uint8_t *b = slurp(path, &len);

	b[30] ^= 1;
	memset(&s, 0, sizeof(s));
	assert_int_equal(tr_state_parse(b, len, IP + 1, PORT, NULL, on_peer, on_neg, &s),
			 TR_STATE_BAD_CHECKSUM);
	assert_int_equal(s.n, 0);
	free(b);
}

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/test_statefile.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/state", dir);
	snprintf(tmp_path, sizeof(tmp_path), "%s/state.tmp", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	unlink(tmp_path);
	return rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_checksum),
		cmocka_unit_test(test_round_trip_empty),
		cmocka_unit_test(test_round_trip_records),
		cmocka_unit_test(test_file_handling),
		cmocka_unit_test(test_load_refusals),
		cmocka_unit_test(test_truncated_everywhere),
		cmocka_unit_test(test_flip_every_byte),
		cmocka_unit_test(test_header_refusals),
		cmocka_unit_test(test_record_refusals),
		cmocka_unit_test(test_foreign),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
