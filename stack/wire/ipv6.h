/*
 * ipv6.h - the IPv6 header (RFC 8200 section 3): parse into a validated
 * struct, build from one, and the upper-layer pseudo-header sum (RFC 8200
 * 8.1) that ICMPv6, UDP and TCP checksums over IPv6 start from.
 *
 * Addresses are plain 16-byte arrays in network order here: the wire layer
 * knows nothing of the stack's address type. The extension-header chain is
 * walked separately (ipv6_ext.h), because where the walk stops depends on
 * fragmentation and on what the caller is about to do.
 */
#ifndef USTACK_WIRE_IPV6_H
#define USTACK_WIRE_IPV6_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define US_IP6_HDR_LEN     40
#define US_IP6_ADDR_LEN    16
/* RFC 8200 5: every link carries 1280-byte packets. */
#define US_IP6_MIN_MTU     1280
/* The largest payload without a jumbogram (RFC 2675, not supported). */
#define US_IP6_MAX_PAYLOAD 65535

/* Next Header values (IANA "Assigned Internet Protocol Numbers"). */
#define US_IP6_NH_HOPOPTS  0
#define US_IP6_NH_TCP      6
#define US_IP6_NH_UDP      17
#define US_IP6_NH_ROUTING  43
#define US_IP6_NH_FRAGMENT 44
#define US_IP6_NH_ICMPV6   58
#define US_IP6_NH_NONE     59
#define US_IP6_NH_DSTOPTS  60

struct us_ip6_hdr {
  uint8_t tclass;       /* traffic class: DSCP and ECN (RFC 8200 7) */
  uint32_t flow;        /* 20-bit flow label */
  uint16_t payload_len; /* bytes after the 40-byte header, all received */
  uint8_t next_hdr;
  uint8_t hop_limit;
  uint8_t src[US_IP6_ADDR_LEN];
  uint8_t dst[US_IP6_ADDR_LEN];
  const uint8_t *raw;     /* the datagram: header then payload_len bytes */
  const uint8_t *payload; /* raw + 40 */
  uint16_t trimmed;       /* bytes received beyond the payload length */
};

enum us_ip6_parse_result {
  US_IP6_OK = 0,
  US_IP6_TOO_SHORT,   /* fewer than 40 bytes */
  US_IP6_BAD_VERSION, /* version != 6 */
  US_IP6_BAD_LEN,     /* payload length beyond the bytes received */
  US_IP6_ZERO_LEN,    /* payload length 0 with anything but No Next Header */
  US_IP6_JUMBO,       /* payload length 0 before a hop-by-hop header: a
                         jumbogram (RFC 2675), which we do not accept */
};

/* Parse and validate `len` bytes at `b`. Borrows `b`: the pointers in `out`
 * point into it. Bytes past the payload length (link padding) are left
 * out and counted in `trimmed`. */
enum us_ip6_parse_result us_ip6_parse(const uint8_t *b, size_t len, struct us_ip6_hdr *out);

/* Write the 40-byte header from tclass, flow, payload_len, next_hdr,
 * hop_limit, src and dst of `h`. Returns 40, or 0 if `cap` < 40. */
size_t us_ip6_build(const struct us_ip6_hdr *h, uint8_t *out, size_t cap);

/* The sum (not folded) of the upper-layer pseudo-header of RFC 8200 8.1:
 * source, destination, 32-bit upper-layer length, 24 zero bits and the
 * next header value: us_csum_pseudo() and us_csum_pseudo_len() of
 * checksum.h for these addresses. */
uint32_t us_ip6_pseudo_sum(const uint8_t src[US_IP6_ADDR_LEN], const uint8_t dst[US_IP6_ADDR_LEN],
                           uint32_t len, uint8_t next_hdr);

/* Address classes (RFC 4291 2.4). */
bool us_ip6_addr_is_unspecified(const uint8_t a[US_IP6_ADDR_LEN]); /* :: */
bool us_ip6_addr_is_loopback(const uint8_t a[US_IP6_ADDR_LEN]);    /* ::1 */
bool us_ip6_addr_is_multicast(const uint8_t a[US_IP6_ADDR_LEN]);   /* ff00::/8 */
bool us_ip6_addr_is_v4mapped(const uint8_t a[US_IP6_ADDR_LEN]);    /* ::ffff:0:0/96 */
bool us_ip6_addr_is_linklocal(const uint8_t a[US_IP6_ADDR_LEN]);   /* fe80::/10 */

#endif
