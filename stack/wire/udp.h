/*
 * udp.h - the UDP header (RFC 768) with the pseudo-header checksum.
 */
#ifndef USTACK_WIRE_UDP_H
#define USTACK_WIRE_UDP_H

#include <stddef.h>
#include <stdint.h>

#define US_UDP_HDR_LEN 8

struct us_udp_hdr {
  uint16_t sport, dport;
  uint16_t len;  /* header + payload, as in the field */
  uint16_t csum; /* 0: sender computed none */
  const uint8_t *payload;
  uint16_t payload_len;
};

enum us_udp_parse_result {
  US_UDP_OK = 0,
  US_UDP_TOO_SHORT, /* fewer than 8 bytes */
  US_UDP_BAD_LEN,   /* length field < 8 or beyond the bytes received */
  US_UDP_BAD_CSUM,
};

/* Parse the UDP datagram `b` (len bytes, the IP payload). `pseudo` is the
 * pseudo-header sum without the length (us_csum_pseudo() of the
 * datagram's addresses and UDP); the parser adds the length field. Bytes
 * beyond the length field are ignored. A zero checksum field passes (RFC
 * 768: none computed); IPv6 forbids it, which the caller checks (RFC 8200
 * 8.1). */
enum us_udp_parse_result us_udp_parse(const uint8_t *b, size_t len, uint32_t pseudo,
                                      struct us_udp_hdr *out);

/* The same without the checksum check (us_ipinfo.l4_csum_trusted). */
enum us_udp_parse_result us_udp_parse_trusted(const uint8_t *b, size_t len, struct us_udp_hdr *out);

/* Write the header at `out` for `payload_len` bytes that already follow it,
 * with the checksum (0 is sent as 0xffff). Returns 8 or 0. */
size_t us_udp_build(uint16_t sport, uint16_t dport, uint8_t *out, size_t cap, size_t payload_len,
                    uint32_t pseudo);

#endif
