/*
 * icmp6.h - ICMPv6 (RFC 4443): the 8-byte header (type, code, checksum and
 * the 32-bit field every message has) and the checksum over the message
 * and the IPv6 pseudo-header (RFC 4443 2.3, RFC 8200 8.1).
 */
#ifndef USTACK_WIRE_ICMP6_H
#define USTACK_WIRE_ICMP6_H

#include <stddef.h>
#include <stdint.h>

#define US_ICMP6_HDR_LEN 8

/* Error messages (RFC 4443 3): types 0..127. */
#define US_ICMP6_DEST_UNREACH  1
#define US_ICMP6_PKT_TOO_BIG   2
#define US_ICMP6_TIME_EXCEEDED 3
#define US_ICMP6_PARAM_PROBLEM 4
/* Informational messages (RFC 4443 4): types 128..255. */
#define US_ICMP6_ECHO_REQUEST  128
#define US_ICMP6_ECHO_REPLY    129
/* Multicast Listener Discovery (RFC 2710, RFC 3810). */
#define US_ICMP6_MLD_QUERY     130
#define US_ICMP6_MLD_REPORT    131
#define US_ICMP6_MLD_DONE      132
#define US_ICMP6_MLD2_REPORT   143
/* Neighbor Discovery (RFC 4861). */
#define US_ICMP6_ND_RS         133
#define US_ICMP6_ND_RA         134
#define US_ICMP6_ND_NS         135
#define US_ICMP6_ND_NA         136
#define US_ICMP6_ND_REDIRECT   137

/* Destination unreachable codes (RFC 4443 3.1). */
#define US_ICMP6_UNREACH_NOROUTE 0
#define US_ICMP6_UNREACH_ADMIN   1
#define US_ICMP6_UNREACH_ADDR    3
#define US_ICMP6_UNREACH_PORT    4
/* Time exceeded codes (RFC 4443 3.3). */
#define US_ICMP6_TIME_HOP_LIMIT  0
#define US_ICMP6_TIME_REASS      1

/* RFC 4443 2.4 (c): an error carries as much of the offending packet as
 * fits without the error exceeding the minimum MTU. */
#define US_ICMP6_ERR_QUOTE_MAX (1280 - 40 - US_ICMP6_HDR_LEN)

struct us_icmp6_hdr {
  uint8_t type, code;
  uint16_t csum;
  uint32_t rest;          /* id/seq for echo, MTU, pointer; 0 otherwise */
  const uint8_t *payload; /* after the 8-byte header */
  size_t payload_len;
};

enum us_icmp6_parse_result {
  US_ICMP6_OK = 0,
  US_ICMP6_TOO_SHORT, /* fewer than 8 bytes */
  US_ICMP6_BAD_CSUM,
};

/* Parse the `len`-byte message `b` carried from `src` to `dst` and verify
 * its checksum, which covers the pseudo-header. Borrows `b`. */
enum us_icmp6_parse_result us_icmp6_parse(const uint8_t src[16], const uint8_t dst[16],
                                          const uint8_t *b, size_t len, struct us_icmp6_hdr *out);

/* Write the 8-byte header at `out` and the checksum over it, the
 * `payload_len` bytes that already follow it and the pseudo-header from
 * `src` to `dst`. Returns 8, or 0 if `cap` is below 8 + payload_len. */
size_t us_icmp6_build(const struct us_icmp6_hdr *h, const uint8_t src[16], const uint8_t dst[16],
                      uint8_t *out, size_t cap, size_t payload_len);

/* RFC 4443 2.1: types below 128 are errors. */
static inline int us_icmp6_is_error(uint8_t type) { return type < 128; }

#endif
