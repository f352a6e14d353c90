/* SPDX-License-Identifier: BSD-3-Clause
 *
 * On-disk snapshot of the relay's peer table, so that a restart keeps its
 * clients (D92). Version 1, every integer little-endian, encoded byte-wise:
 *
 *   header  "TRLYSTAT", u32 version, u32 header length (60), u32 relay_ip,
 *           u16 relay_port, u16 reserved (written 0, ignored),
 *           u64 written_wall_ms, u64 written_clock_ms, u8 secret[16],
 *           u32 nonce_epoch_s
 *   records u8 type, then
 *           1 peer:  addr[16], u32 ip, u16 port, u8 state, u8 bubbles,
 *                    u64 last_rx_ms, u64 last_tx_ms, u64 created_ms
 *           2 neg:   addr[16], u64 until_ms
 *           0xff end: u32 n_peers, u32 n_neg, u64 checksum — the last bytes
 *                    of the file; the checksum (CRC-64/XZ) covers every byte
 *                    before it.
 *
 * Addresses and times are the relay's own values: ip is a host-order IPv4
 * value, *_ms are relay-clock milliseconds except written_wall_ms (unix).
 * No DPDK: unit-tested and fuzzed on plain buffers.
 */
#ifndef TR_STATEFILE_H
#define TR_STATEFILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define TR_STATE_VERSION   1u
#define TR_STATE_HDR_LEN   60u
#define TR_STATE_PEER_LEN  49u	/* type byte included */
#define TR_STATE_NEG_LEN   25u
#define TR_STATE_END_LEN   17u

#define TR_STATE_PENDING   1u
#define TR_STATE_TRUSTED   2u

struct tr_state_hdr {
	uint32_t relay_ip;
	uint16_t relay_port;
	uint64_t written_wall_ms;
	uint64_t written_clock_ms;
	uint8_t secret[16];
	uint32_t nonce_epoch_s;
};

struct tr_state_peer {
	uint8_t addr[16];
	uint32_t ip;
	uint16_t port;
	uint8_t state;		/* TR_STATE_PENDING or TR_STATE_TRUSTED */
	uint8_t bubbles;
	uint64_t last_rx_ms, last_tx_ms, created_ms;
};

struct tr_state_neg {
	uint8_t addr[16];
	uint64_t until_ms;
};

enum tr_state_err {
	TR_STATE_OK = 0,
	TR_STATE_MISSING,	/* no file: a normal first start */
	TR_STATE_IO,		/* errno tells why */
	TR_STATE_TOO_BIG,
	TR_STATE_TRUNCATED,
	TR_STATE_BAD_MAGIC,
	TR_STATE_FUTURE_VERSION,
	TR_STATE_BAD_HEADER,
	TR_STATE_BAD_CHECKSUM,
	TR_STATE_FOREIGN,	/* written by a relay with another address/port */
	TR_STATE_BAD_RECORD,	/* unknown type, bad state, counts, trailing bytes */
};

const char *tr_state_strerror(enum tr_state_err e);

/* CRC-64/XZ of buf (the end record's checksum is that of every byte before
 * it). Exported so that tests can forge files with a valid checksum. */
uint64_t tr_state_checksum(const uint8_t *buf, size_t len);

/* Writer: streams to PATH.tmp (mode 0600, buffered); commit appends the end
 * record, flushes, fsyncs, renames PATH.tmp to PATH and fsyncs the directory,
 * so PATH is always either the old file or the whole new one. Every call
 * returns 0 or -errno. After a failure, or instead of committing, call
 * tr_state_write_abort (it unlinks the temporary); it is harmless after a
 * commit, so one cleanup path serves both. */
struct tr_state_writer {
	FILE *f;		/* on PATH.tmp, buffered by stdio */
	int err;		/* first failure, sticky */
	char *path, *tmp;
	uint64_t crc;
	uint32_t n_peers, n_neg;
};

int tr_state_write_begin(struct tr_state_writer *w, const char *path,
			 const struct tr_state_hdr *h);
int tr_state_write_peer(struct tr_state_writer *w, const struct tr_state_peer *p);
int tr_state_write_neg(struct tr_state_writer *w, const struct tr_state_neg *n);
int tr_state_write_commit(struct tr_state_writer *w);
void tr_state_write_abort(struct tr_state_writer *w);

typedef void (*tr_state_peer_cb)(void *arg, const struct tr_state_peer *p);
typedef void (*tr_state_neg_cb)(void *arg, const struct tr_state_neg *n);

/* Validates the whole buffer first — header, every record, counts,
 * checksum, then the relay identity (expect_ip/expect_port, else
 * TR_STATE_FOREIGN) — and only then calls the callbacks, in file order:
 * never a partial load. Callbacks may be NULL. hdr_out (may be NULL) is
 * filled on TR_STATE_OK and TR_STATE_FOREIGN (to log whose file it is),
 * before the first callback (so a loader can set up from it first). */
enum tr_state_err tr_state_parse(const uint8_t *buf, size_t len, uint32_t expect_ip,
				 uint16_t expect_port, struct tr_state_hdr *hdr_out,
				 tr_state_peer_cb on_peer, tr_state_neg_cb on_neg, void *arg);

/* Reads PATH whole (larger than max_bytes: TR_STATE_TOO_BIG; absent:
 * TR_STATE_MISSING), then tr_state_parse. */
enum tr_state_err tr_state_load(const char *path, size_t max_bytes, uint32_t expect_ip,
				uint16_t expect_port, struct tr_state_hdr *hdr_out,
				tr_state_peer_cb on_peer, tr_state_neg_cb on_neg, void *arg);

#endif
