/*
 * icmp6.c - the ICMPv6 header (RFC 4443 2.1) and its checksum, which,
 * unlike ICMPv4's, also covers the IPv6 pseudo-header (RFC 4443 2.3).
 */
#include "icmp6.h"

#include "bytes.h"
#include "checksum.h"
#include "ipv6.h"

enum us_icmp6_parse_result us_icmp6_parse(const uint8_t src[16], const uint8_t dst[16],
                                          const uint8_t *b, size_t len, struct us_icmp6_hdr *out) {
  if (b == NULL || len < US_ICMP6_HDR_LEN)
    return US_ICMP6_TOO_SHORT;
  /* A message is never longer than the 65535-byte payload it rides in. */
  uint32_t sum = us_ip6_pseudo_sum(src, dst, (uint32_t)len, US_IP6_NH_ICMPV6);
  if (us_csum_fold(us_csum_add(sum, b, len)) != 0)
    return US_ICMP6_BAD_CSUM;
  out->type = b[0];
  out->code = b[1];
  out->csum = us_get16(b + 2);
  out->rest = us_get32(b + 4);
  out->payload = b + US_ICMP6_HDR_LEN;
  out->payload_len = len - US_ICMP6_HDR_LEN;
  return US_ICMP6_OK;
}

size_t us_icmp6_build(const struct us_icmp6_hdr *h, const uint8_t src[16], const uint8_t dst[16],
                      uint8_t *out, size_t cap, size_t payload_len) {
  if (out == NULL || cap < US_ICMP6_HDR_LEN || cap - US_ICMP6_HDR_LEN < payload_len)
    return 0;
  size_t len = US_ICMP6_HDR_LEN + payload_len;
  out[0] = h->type;
  out[1] = h->code;
  us_put16(out + 2, 0);
  us_put32(out + 4, h->rest);
  uint32_t sum = us_ip6_pseudo_sum(src, dst, (uint32_t)len, US_IP6_NH_ICMPV6);
  us_put16(out + 2, us_csum_fold(us_csum_add(sum, out, len)));
  return US_ICMP6_HDR_LEN;
}
