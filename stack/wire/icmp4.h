/*
 * icmp4.h - ICMP for IPv4 (RFC 792): the 8-byte header and the checksum
 * over the whole message.
 */
#ifndef USTACK_WIRE_ICMP4_H
#define USTACK_WIRE_ICMP4_H

#include <stddef.h>
#include <stdint.h>

#define US_ICMP_HDR_LEN 8

#define US_ICMP_ECHO_REPLY    0
#define US_ICMP_DEST_UNREACH  3
#define US_ICMP_SOURCE_QUENCH 4
#define US_ICMP_REDIRECT      5
#define US_ICMP_ECHO_REQUEST  8
#define US_ICMP_TIME_EXCEEDED 11
#define US_ICMP_PARAM_PROBLEM 12
#define US_ICMP_TIMESTAMP     13
#define US_ICMP_ADDR_MASK     17

/* Destination-unreachable codes. */
#define US_ICMP_UNREACH_NET      0
#define US_ICMP_UNREACH_HOST     1
#define US_ICMP_UNREACH_PROTO    2
#define US_ICMP_UNREACH_PORT     3
#define US_ICMP_UNREACH_NEEDFRAG 4

struct us_icmp4_hdr {
  uint8_t type, code;
  uint16_t csum;
  uint32_t rest;          /* id/seq for echo; next-hop MTU for NEEDFRAG */
  const uint8_t *payload; /* after the 8-byte header */
  size_t payload_len;
};

enum us_icmp4_parse_result {
  US_ICMP4_OK = 0,
  US_ICMP4_TOO_SHORT,
  US_ICMP4_BAD_CSUM,
};

/* Parse `len` bytes (the whole ICMP message) and verify the checksum. */
enum us_icmp4_parse_result us_icmp4_parse(const uint8_t *b, size_t len, struct us_icmp4_hdr *out);

/* Write the 8-byte header at `out` and compute the checksum over it and
 * the `payload_len` bytes that already follow it. Returns 8 or 0. */
size_t us_icmp4_build(const struct us_icmp4_hdr *h, uint8_t *out, size_t cap, size_t payload_len);

#endif
