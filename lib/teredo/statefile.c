/* SPDX-License-Identifier: BSD-3-Clause */
/* The relay's state file (layout in statefile.h, D92). Integers are encoded
 * byte by byte: no host dependence, no misaligned word read. */
#define _POSIX_C_SOURCE 200809L
#include "statefile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const uint8_t magic[8] = { 'T', 'R', 'L', 'Y', 'S', 'T', 'A', 'T' };

enum { REC_PEER = 1, REC_NEG = 2, REC_END = 0xff };

/* Length of each record, type byte included; 0: unknown type. */
static const uint8_t rec_len[256] = {
	[REC_PEER] = TR_STATE_PEER_LEN, [REC_NEG] = TR_STATE_NEG_LEN, [REC_END] = TR_STATE_END_LEN,
};

/* CRC-64/XZ (ECMA-182, reflected; "123456789" -> 0x995dc9bbdf1939fa). It
 * guards against corruption, not an adversary (the file is 0600, the relay
 * wrote it), so a keyed hash buys nothing; a CRC streams, and unlike a hash
 * it is certain to catch any error burst up to 64 bits. Nibble-wise, for a
 * 16-entry table: ~5 ns a byte (8 M peers, 400 MB: 2 s), half a 256-entry
 * table's speed. */
static const uint64_t crc_nibble[16] = {
	0x0000000000000000ULL, 0x7d9ba13851336649ULL, 0xfb374270a266cc92ULL,
	0x86ace348f355aadbULL, 0x64b62bcaebc387a1ULL, 0x192d8af2baf0e1e8ULL,
	0x9f8169ba49a54b33ULL, 0xe21ac88218962d7aULL, 0xc96c5795d7870f42ULL,
	0xb4f7f6ad86b4690bULL, 0x325b15e575e1c3d0ULL, 0x4fc0b4dd24d2a599ULL,
	0xadda7c5f3c4488e3ULL, 0xd041dd676d77eeaaULL, 0x56ed3e2f9e224471ULL,
	0x2b769f17cf112238ULL,
};

/* The register before the final inversion: start at ~0, finish with ~. */
static uint64_t crc_update(uint64_t crc, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		crc = (crc >> 4) ^ crc_nibble[(crc ^ p[i]) & 0xf];
		crc = (crc >> 4) ^ crc_nibble[(crc ^ (p[i] >> 4)) & 0xf];
	}
	return crc;
}

uint64_t tr_state_checksum(const uint8_t *buf, size_t len)
{
	return ~crc_update(~0ULL, buf, len);
}

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

const char *tr_state_strerror(enum tr_state_err e)
{
	static const char *const msg[] = {
		[TR_STATE_OK] = "ok", [TR_STATE_MISSING] = "no state file",
		[TR_STATE_IO] = "read error", [TR_STATE_TOO_BIG] = "file too big",
		[TR_STATE_TRUNCATED] = "file truncated", [TR_STATE_BAD_MAGIC] = "not a state file",
		[TR_STATE_FUTURE_VERSION] = "written by a newer version",
		[TR_STATE_BAD_HEADER] = "bad header", [TR_STATE_BAD_CHECKSUM] = "checksum mismatch",
		[TR_STATE_FOREIGN] = "written by another relay address",
		[TR_STATE_BAD_RECORD] = "bad record",
	};

	return (unsigned)e < sizeof(msg) / sizeof(msg[0]) ? msg[e] : "unknown error";
}

/* Appends a record through stdio's buffer and folds it into the CRC. */
static int emit(struct tr_state_writer *w, const uint8_t *p, size_t n)
{
	if (!w->err && fwrite(p, 1, n, w->f) != n)
		w->err = errno ? -errno : -EIO;
	w->crc = crc_update(w->crc, p, n);
	return w->err;
}

/* A record counted in the end record, whose u32 counts must not wrap. */
static int record(struct tr_state_writer *w, const uint8_t *b, size_t n, uint32_t *count)
{
	int r = *count == UINT32_MAX ? -EOVERFLOW : emit(w, b, n);

	*count += !r;
	return r;
}

int tr_state_write_begin(struct tr_state_writer *w, const char *path,
			 const struct tr_state_hdr *h)
{
	size_t len = strlen(path);
	uint8_t b[TR_STATE_HDR_LEN];
	int fd;

	memset(w, 0, sizeof(*w));
	if (!(w->path = malloc(2 * len + 6)))
		return -ENOMEM;
	w->tmp = w->path + len + 1;
	sprintf(w->path, "%s", path);
	sprintf(w->tmp, "%s.tmp", path);
	/* A temporary left by a crash is reused: O_TRUNC empties it, fchmod
	 * fixes the mode that O_CREAT would leave as it was. */
	fd = open(w->tmp, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || fchmod(fd, 0600) < 0 || !(w->f = fdopen(fd, "w"))) {
		int e = -errno;

		if (fd >= 0)
			close(fd);
		tr_state_write_abort(w);
		return e;
	}
	w->crc = ~0ULL;
	memcpy(b, magic, 8);
	put_le(b + 8, TR_STATE_VERSION, 4);
	put_le(b + 12, TR_STATE_HDR_LEN, 4);
	put_le(b + 16, h->relay_ip, 4);
	put_le(b + 20, h->relay_port, 2);
	put_le(b + 22, 0, 2);
	put_le(b + 24, h->written_wall_ms, 8);
	put_le(b + 32, h->written_clock_ms, 8);
	memcpy(b + 40, h->secret, 16);
	put_le(b + 56, h->nonce_epoch_s, 4);
	return emit(w, b, sizeof(b));
}

int tr_state_write_peer(struct tr_state_writer *w, const struct tr_state_peer *p)
{
	uint8_t b[TR_STATE_PEER_LEN];

	b[0] = REC_PEER;
	memcpy(b + 1, p->addr, 16);
	put_le(b + 17, p->ip, 4);
	put_le(b + 21, p->port, 2);
	b[23] = p->state;
	b[24] = p->bubbles;
	put_le(b + 25, p->last_rx_ms, 8);
	put_le(b + 33, p->last_tx_ms, 8);
	put_le(b + 41, p->created_ms, 8);
	return record(w, b, sizeof(b), &w->n_peers);
}

int tr_state_write_neg(struct tr_state_writer *w, const struct tr_state_neg *n)
{
	uint8_t b[TR_STATE_NEG_LEN];

	b[0] = REC_NEG;
	memcpy(b + 1, n->addr, 16);
	put_le(b + 17, n->until_ms, 8);
	return record(w, b, sizeof(b), &w->n_neg);
}

/* The rename is durable once the directory is on disk too. Its name is cut
 * out of the temporary's, which is no longer needed. */
static int fsync_dir(char *tmp)
{
	char *slash = strrchr(tmp, '/');
	int fd, r = 0;

	if (slash)
		slash[slash == tmp] = '\0';	/* "/x" -> "/" */
	fd = open(slash ? tmp : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		r = -errno;
	if (fd >= 0)
		close(fd);
	return r;
}

int tr_state_write_commit(struct tr_state_writer *w)
{
	uint8_t b[TR_STATE_END_LEN];
	int r;

	if (!w->f)
		return w->err ? w->err : -EBADF;
	b[0] = REC_END;
	put_le(b + 1, w->n_peers, 4);
	put_le(b + 5, w->n_neg, 4);
	r = emit(w, b, 9);
	put_le(b + 9, ~w->crc, 8);
	if (!r && !(r = emit(w, b + 9, 8)) && (fflush(w->f) || fsync(fileno(w->f)) < 0))
		r = -errno;
	if (fclose(w->f) && !r)
		r = -errno;
	w->f = NULL;
	if (!r && rename(w->tmp, w->path) < 0)
		r = -errno;
	if (r) {
		tr_state_write_abort(w);
		return r;
	}
	r = fsync_dir(w->tmp);
	free(w->path);		/* renamed: nothing is left to unlink */
	w->path = w->tmp = NULL;
	return r;
}

void tr_state_write_abort(struct tr_state_writer *w)
{
	if (w->f)
		fclose(w->f);
	w->f = NULL;
	if (w->tmp)
		unlink(w->tmp);
	free(w->path);
	w->path = w->tmp = NULL;
}

/* Walks the records after the header, calling back where there is a
 * callback: parse runs it without any (checking only), then with the
 * caller's. The file must end exactly with the end record. */
static enum tr_state_err walk(const uint8_t *buf, size_t len, tr_state_peer_cb on_peer,
			      tr_state_neg_cb on_neg, void *arg)
{
	uint64_t np = 0, nn = 0;

	for (size_t off = TR_STATE_HDR_LEN; off < len;) {
		const uint8_t *b = buf + off;

		if (rec_len[b[0]] == 0)
			return TR_STATE_BAD_RECORD;
		if (len - off < rec_len[b[0]])
			return TR_STATE_TRUNCATED;
		off += rec_len[b[0]];
		if (b[0] == REC_END)
			return get_le(b + 1, 4) == np && get_le(b + 5, 4) == nn && off == len ?
			       TR_STATE_OK : TR_STATE_BAD_RECORD;
		if (b[0] == REC_NEG) {
			struct tr_state_neg n;

			nn++;
			memcpy(n.addr, b + 1, 16);
			n.until_ms = get_le(b + 17, 8);
			if (on_neg)
				on_neg(arg, &n);
			continue;
		}
		struct tr_state_peer p;

		if (b[23] != TR_STATE_PENDING && b[23] != TR_STATE_TRUSTED)
			return TR_STATE_BAD_RECORD;
		np++;
		memcpy(p.addr, b + 1, 16);
		p.ip = (uint32_t)get_le(b + 17, 4);
		p.port = (uint16_t)get_le(b + 21, 2);
		p.state = b[23];
		p.bubbles = b[24];
		p.last_rx_ms = get_le(b + 25, 8);
		p.last_tx_ms = get_le(b + 33, 8);
		p.created_ms = get_le(b + 41, 8);
		if (on_peer)
			on_peer(arg, &p);
	}
	return TR_STATE_TRUNCATED;	/* no end record */
}

/* Order of checks: length, magic, version, header length say what the file
 * is. Then, if the file ends in something shaped like an end record, its
 * checksum, so that damage anywhere else reads as BAD_CHECKSUM; a file that
 * does not (cut short, bytes appended, the end record's type byte hit) is
 * judged by the walk: TRUNCATED or BAD_RECORD. A walk that succeeds found the
 * end record at the very end, so the checksum was verified. The identity
 * comes last: only an intact file can be called another relay's. */
enum tr_state_err tr_state_parse(const uint8_t *buf, size_t len, uint32_t expect_ip,
				 uint16_t expect_port, struct tr_state_hdr *hdr_out,
				 tr_state_peer_cb on_peer, tr_state_neg_cb on_neg, void *arg)
{
	struct tr_state_hdr h;
	enum tr_state_err e;

	if (len < TR_STATE_HDR_LEN)
		return TR_STATE_TRUNCATED;
	if (memcmp(buf, magic, sizeof(magic)) != 0)
		return TR_STATE_BAD_MAGIC;
	if (get_le(buf + 8, 4) > TR_STATE_VERSION)
		return TR_STATE_FUTURE_VERSION;
	if (get_le(buf + 8, 4) == 0 || get_le(buf + 12, 4) != TR_STATE_HDR_LEN)
		return TR_STATE_BAD_HEADER;
	if (len >= TR_STATE_HDR_LEN + TR_STATE_END_LEN && buf[len - TR_STATE_END_LEN] == REC_END &&
	    tr_state_checksum(buf, len - 8) != get_le(buf + len - 8, 8))
		return TR_STATE_BAD_CHECKSUM;
	if ((e = walk(buf, len, NULL, NULL, NULL)) != TR_STATE_OK)
		return e;
	h.relay_ip = (uint32_t)get_le(buf + 16, 4);
	h.relay_port = (uint16_t)get_le(buf + 20, 2);
	h.written_wall_ms = get_le(buf + 24, 8);
	h.written_clock_ms = get_le(buf + 32, 8);
	memcpy(h.secret, buf + 40, 16);
	h.nonce_epoch_s = (uint32_t)get_le(buf + 56, 4);
	if (hdr_out)
		*hdr_out = h;
	/* The peers' mappings and the bubble secret belong to the address the
	 * clients were talking to: another relay's table would be wrong. */
	if (h.relay_ip != expect_ip || h.relay_port != expect_port)
		return TR_STATE_FOREIGN;
	return walk(buf, len, on_peer, on_neg, arg);
}

enum tr_state_err tr_state_load(const char *path, size_t max_bytes, uint32_t expect_ip,
				uint16_t expect_port, struct tr_state_hdr *hdr_out,
				tr_state_peer_cb on_peer, tr_state_neg_cb on_neg, void *arg)
{
	enum tr_state_err e = TR_STATE_IO;
	FILE *f = fopen(path, "rbe");
	uint8_t *buf = NULL;
	struct stat st;
	size_t got;
	int saved;

	if (!f)
		return errno == ENOENT ? TR_STATE_MISSING : TR_STATE_IO;
	if (fstat(fileno(f), &st) < 0)
		goto out;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		goto out;
	}
	if ((uint64_t)st.st_size > max_bytes) {
		e = TR_STATE_TOO_BIG;
		goto out;
	}
	if (!(buf = malloc((size_t)st.st_size + 1)))
		goto out;
	/* What fstat saw: the writer renames whole files, none grows in place. */
	got = fread(buf, 1, (size_t)st.st_size, f);
	if (!ferror(f))
		e = tr_state_parse(buf, got, expect_ip, expect_port, hdr_out, on_peer, on_neg, arg);
out:
	saved = errno;
	free(buf);
	fclose(f);
	errno = saved;
	return e;
}
