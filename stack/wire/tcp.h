/*
 * tcp.h - the TCP header and its options (RFC 9293 section 3.1, RFC 7323,
 * RFC 2018): parse once into a validated struct, build from one.
 *
 * After us_tcp_parse() returns US_TCP_PARSE_OK, every field is in range and
 * `payload` points inside the segment. Option policy (what an MSS of 0
 * means, clamping a window scale) belongs to stack/tcp; the parser reports
 * what was on the wire, with two exceptions that are pure syntax: an option
 * of a known kind but the wrong length is ignored, and a window-scale shift
 * above 14 is reported as 14 with ws_clamped set (RFC 7323 section 2.3).
 */
#ifndef USTACK_WIRE_TCP_H
#define USTACK_WIRE_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define US_TCP_HDR_MIN 20
#define US_TCP_HDR_MAX 60

/* Header flags (the low byte of the flags field). */
#define US_TH_FIN 0x01
#define US_TH_SYN 0x02
#define US_TH_RST 0x04
#define US_TH_PSH 0x08
#define US_TH_ACK 0x10
#define US_TH_URG 0x20
#define US_TH_ECE 0x40
#define US_TH_CWR 0x80

/* Option kinds. */
#define US_TCPOPT_EOL       0
#define US_TCPOPT_NOP       1
#define US_TCPOPT_MSS       2
#define US_TCPOPT_WS        3
#define US_TCPOPT_SACK_PERM 4
#define US_TCPOPT_SACK      5
#define US_TCPOPT_TS        8

#define US_TCP_WS_MAX          14
#define US_TCP_SACK_MAX_BLOCKS 4

struct us_tcp_sack_block {
  uint32_t left, right;
};

struct us_tcp_seg {
  uint16_t sport, dport;
  uint32_t seq, ack;
  uint8_t hdr_len; /* data offset * 4 */
  uint8_t flags;   /* US_TH_* */
  uint16_t wnd;    /* as on the wire (unscaled) */
  uint16_t csum;
  uint16_t urp;

  /* Options. */
  bool has_mss, has_ws, sack_perm, has_ts;
  bool ws_clamped; /* the peer sent a shift > 14 */
  uint16_t mss;
  uint8_t ws;
  uint32_t tsval, tsecr;
  uint8_t sack_count;
  struct us_tcp_sack_block sack[US_TCP_SACK_MAX_BLOCKS];

  const uint8_t *payload;
  uint32_t payload_len;
};

enum us_tcp_parse_result {
  US_TCP_PARSE_OK = 0,
  US_TCP_PARSE_TOO_SHORT,  /* fewer than 20 bytes */
  US_TCP_PARSE_BAD_OFFSET, /* data offset < 5 or beyond the segment */
  US_TCP_PARSE_BAD_CSUM,
  US_TCP_PARSE_BAD_OPTIONS, /* option length 0 or 1, or past the header (MUST-7) */
};

/* Parse the segment `b` (len bytes: the IP payload). The checksum covers
 * the pseudo-header (MUST-2/MUST-3), whose sum without the length is
 * `pseudo` (us_csum_pseudo() of the datagram's addresses and TCP). */
enum us_tcp_parse_result us_tcp_parse(const uint8_t *b, size_t len, uint32_t pseudo,
                                      struct us_tcp_seg *out);

/* The same without the checksum check, for a segment whose checksum the
 * local kernel vouched for (us_ipinfo.l4_csum_trusted). */
enum us_tcp_parse_result us_tcp_parse_trusted(const uint8_t *b, size_t len, struct us_tcp_seg *out);

/* Parse only the options area (used by the parser; exposed for tests). */
enum us_tcp_parse_result us_tcp_parse_options(const uint8_t *opt, size_t len,
                                              struct us_tcp_seg *out);

/* Header length us_tcp_build() will write for `seg` (20 + options, padded
 * to a multiple of 4). Options written: MSS if has_mss, WS if has_ws,
 * SACK-permitted if sack_perm, TS if has_ts, sack_count SACK blocks. */
size_t us_tcp_hdr_len(const struct us_tcp_seg *seg);

/*
 * Write the header for `seg` at `out` (cap bytes available for it), with
 * `payload_len` payload bytes already placed right after the header, and
 * the checksum over pseudo-header + header + payload (`pseudo` as for
 * us_tcp_parse). seg->hdr_len and seg->payload are ignored. Returns the
 * header length or 0 if cap is short.
 */
size_t us_tcp_build(const struct us_tcp_seg *seg, uint8_t *out, size_t cap, size_t payload_len,
                    uint32_t pseudo);

/* The same, but the checksum field gets only the pseudo-header sum (folded,
 * not complemented) and the payload is not read: for a device that
 * completes the checksum (US_DEV_CSUM, docs/OFFLOAD.md). */
size_t us_tcp_build_partial(const struct us_tcp_seg *seg, uint8_t *out, size_t cap,
                            size_t payload_len, uint32_t pseudo);

#endif
