/*
 * udp.c - the UDP header (RFC 768).
 */
#include "udp.h"

#include "bytes.h"
#include "checksum.h"

enum us_udp_parse_result us_udp_parse(const uint8_t *b, size_t len, uint32_t pseudo,
                                      struct us_udp_hdr *out) {
  if (b == NULL || len < US_UDP_HDR_LEN)
    return US_UDP_TOO_SHORT;
  uint16_t ulen = us_get16(b + 4);
  if (ulen < US_UDP_HDR_LEN || ulen > len)
    return US_UDP_BAD_LEN;
  uint16_t csum = us_get16(b + 6);
  /* RFC 768: a zero checksum means the sender computed none. Otherwise the
   * sum over pseudo-header and datagram (length field bytes only) is
   * all ones. */
  if (csum != 0) {
    uint32_t sum = us_csum_add(us_csum_pseudo_len(pseudo, ulen), b, ulen);
    if (us_csum_fold(sum) != 0)
      return US_UDP_BAD_CSUM;
  }
  return us_udp_parse_trusted(b, len, out);
}

enum us_udp_parse_result us_udp_parse_trusted(const uint8_t *b, size_t len,
                                              struct us_udp_hdr *out) {
  if (b == NULL || len < US_UDP_HDR_LEN)
    return US_UDP_TOO_SHORT;
  uint16_t ulen = us_get16(b + 4);
  if (ulen < US_UDP_HDR_LEN || ulen > len)
    return US_UDP_BAD_LEN;
  uint16_t csum = us_get16(b + 6);
  out->sport = us_get16(b);
  out->dport = us_get16(b + 2);
  out->len = ulen;
  out->csum = csum;
  out->payload = b + US_UDP_HDR_LEN;
  out->payload_len = (uint16_t)(ulen - US_UDP_HDR_LEN);
  return US_UDP_OK;
}

size_t us_udp_build(uint16_t sport, uint16_t dport, uint8_t *out, size_t cap, size_t payload_len,
                    uint32_t pseudo) {
  if (out == NULL || cap < US_UDP_HDR_LEN || payload_len > 0xffff - US_UDP_HDR_LEN)
    return 0;
  uint16_t ulen = (uint16_t)(US_UDP_HDR_LEN + payload_len);
  us_put16(out, sport);
  us_put16(out + 2, dport);
  us_put16(out + 4, ulen);
  us_put16(out + 6, 0);
  uint16_t c = us_csum_fold(us_csum_add(us_csum_pseudo_len(pseudo, ulen), out, ulen));
  /* RFC 768: a computed zero is sent as all ones (zero means "none"). */
  us_put16(out + 6, c == 0 ? 0xffff : c);
  return US_UDP_HDR_LEN;
}
