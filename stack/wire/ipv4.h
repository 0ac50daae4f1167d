/*
 * ipv4.h - the IPv4 header (RFC 791): parse into a validated struct, build
 * from one.
 *
 * us_ip4_parse() checks every length against the bytes actually received
 * before reading them; once it returns US_IP4_OK every field and pointer in
 * the struct is inside the buffer, and trailing link padding is excluded.
 */
#ifndef USTACK_WIRE_IPV4_H
#define USTACK_WIRE_IPV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define US_IP4_HDR_MIN      20
#define US_IP4_HDR_MAX      60
#define US_IP4_MAX_DATAGRAM 65535

#define US_IPPROTO_ICMP 1
#define US_IPPROTO_TCP  6
#define US_IPPROTO_UDP  17

/* IP option types (RFC 791). */
#define US_IPOPT_EOL  0
#define US_IPOPT_NOP  1
#define US_IPOPT_LSRR 131
#define US_IPOPT_SSRR 137

struct us_ip4_hdr {
  uint8_t hdr_len; /* IHL * 4, 20..60 */
  uint8_t tos;
  uint16_t total_len; /* header + payload, after validation <= received */
  uint16_t id;
  bool df, mf;
  uint16_t frag_off; /* in bytes (the field times 8) */
  uint8_t ttl;
  uint8_t proto;
  uint16_t csum;
  uint32_t src, dst;      /* host byte order */
  const uint8_t *options; /* hdr_len - 20 bytes, NULL when none */
  uint8_t opt_len;
  bool src_route;         /* LSRR or SSRR present */
  const uint8_t *payload; /* total_len - hdr_len bytes */
  uint16_t payload_len;
  uint16_t trimmed; /* bytes received beyond total_len */
  /* Never from the wire: IP input sets it when the device's metadata says
   * the local kernel made or verified this datagram (us_rx_meta), and the
   * transport then skips its checksum check. The parser clears it. */
  bool l4_csum_trusted;
};

enum us_ip4_parse_result {
  US_IP4_OK = 0,
  US_IP4_TOO_SHORT,   /* fewer than 20 bytes */
  US_IP4_BAD_VERSION, /* version != 4 */
  US_IP4_BAD_IHL,     /* IHL < 5, or IHL*4 beyond the bytes received */
  US_IP4_BAD_LEN,     /* total length < IHL*4 or beyond the bytes received */
  US_IP4_BAD_CSUM,    /* header checksum wrong */
  US_IP4_BAD_OPTIONS, /* an option length of 0/1 or past the header end */
};

/* Parse and validate `len` bytes at `b`. Borrows `b`: pointers in `out`
 * point into it. */
enum us_ip4_parse_result us_ip4_parse(const uint8_t *b, size_t len, struct us_ip4_hdr *out);

/* Write a 20-byte header (no options) with its checksum. Uses total_len,
 * id, df, mf, frag_off, ttl, proto, tos, src, dst from `h`. Returns 20, or
 * 0 if `cap` < 20. */
size_t us_ip4_build(const struct us_ip4_hdr *h, uint8_t *out, size_t cap);

#endif
