/*
 * icmp4.c - the ICMP header (RFC 792): 8 bytes and a checksum over the
 * whole message.
 */
#include "icmp4.h"

#include "bytes.h"
#include "checksum.h"

enum us_icmp4_parse_result us_icmp4_parse(const uint8_t *b, size_t len, struct us_icmp4_hdr *out) {
  if (b == NULL || len < US_ICMP_HDR_LEN)
    return US_ICMP4_TOO_SHORT;
  /* RFC 792: the checksum covers the whole ICMP message; an odd length is
   * padded with a zero byte for the sum only (us_csum does that). */
  if (us_csum(b, len) != 0)
    return US_ICMP4_BAD_CSUM;
  out->type = b[0];
  out->code = b[1];
  out->csum = us_get16(b + 2);
  out->rest = us_get32(b + 4);
  out->payload = b + US_ICMP_HDR_LEN;
  out->payload_len = len - US_ICMP_HDR_LEN;
  return US_ICMP4_OK;
}

size_t us_icmp4_build(const struct us_icmp4_hdr *h, uint8_t *out, size_t cap, size_t payload_len) {
  if (out == NULL || cap < US_ICMP_HDR_LEN)
    return 0;
  out[0] = h->type;
  out[1] = h->code;
  us_put16(out + 2, 0);
  us_put32(out + 4, h->rest);
  us_put16(out + 2, us_csum(out, US_ICMP_HDR_LEN + payload_len));
  return US_ICMP_HDR_LEN;
}
