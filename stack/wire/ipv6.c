/*
 * ipv6.c - IPv6 header parse and build (RFC 8200 section 3).
 *
 * The fixed header has no checksum and no options: the parser checks that
 * 40 bytes are there, the version, and that the payload length fits in
 * what was received. A payload length of 0 is a jumbogram (RFC 2675 says
 * it is only legal with a Jumbo Payload hop-by-hop option) or a datagram
 * that carries nothing; only the empty "No Next Header" datagram (RFC 8200
 * 4.7) is let through, the rest is refused here.
 */
#include "ipv6.h"

#include <string.h>

#include "bytes.h"
#include "checksum.h"

enum us_ip6_parse_result us_ip6_parse(const uint8_t *b, size_t len, struct us_ip6_hdr *out) {
  if (b == NULL || len < US_IP6_HDR_LEN)
    return US_IP6_TOO_SHORT;
  if ((b[0] >> 4) != 6)
    return US_IP6_BAD_VERSION;
  size_t plen = us_get16(b + 4);
  uint8_t nh = b[6];
  if (plen == 0 && nh == US_IP6_NH_HOPOPTS)
    return US_IP6_JUMBO;
  if (plen == 0 && nh != US_IP6_NH_NONE)
    return US_IP6_ZERO_LEN;
  if (plen > len - US_IP6_HDR_LEN)
    return US_IP6_BAD_LEN;

  uint32_t w0 = us_get32(b);
  out->tclass = (uint8_t)(w0 >> 20);
  out->flow = w0 & 0xfffffu;
  out->payload_len = (uint16_t)plen;
  out->next_hdr = nh;
  out->hop_limit = b[7];
  memcpy(out->src, b + 8, US_IP6_ADDR_LEN);
  memcpy(out->dst, b + 24, US_IP6_ADDR_LEN);
  out->raw = b;
  out->payload = b + US_IP6_HDR_LEN;
  size_t extra = len - US_IP6_HDR_LEN - plen;
  out->trimmed = extra > 0xffff ? 0xffff : (uint16_t)extra;
  return US_IP6_OK;
}

size_t us_ip6_build(const struct us_ip6_hdr *h, uint8_t *out, size_t cap) {
  if (out == NULL || cap < US_IP6_HDR_LEN)
    return 0;
  us_put32(out, 6u << 28 | (uint32_t)h->tclass << 20 | (h->flow & 0xfffffu));
  us_put16(out + 4, h->payload_len);
  out[6] = h->next_hdr;
  out[7] = h->hop_limit;
  memcpy(out + 8, h->src, US_IP6_ADDR_LEN);
  memcpy(out + 24, h->dst, US_IP6_ADDR_LEN);
  return US_IP6_HDR_LEN;
}

uint32_t us_ip6_pseudo_sum(const uint8_t src[US_IP6_ADDR_LEN], const uint8_t dst[US_IP6_ADDR_LEN],
                           uint32_t len, uint8_t next_hdr) {
  /* One implementation of the pseudo-header for every protocol and family
   * (checksum.c); this is its IPv6 spelling for ICMPv6. */
  return us_csum_pseudo_len(us_csum_pseudo(us_addr_v6(src), us_addr_v6(dst), next_hdr), len);
}

static bool all_zero(const uint8_t *a, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (a[i] != 0)
      return false;
  return true;
}

bool us_ip6_addr_is_unspecified(const uint8_t a[US_IP6_ADDR_LEN]) {
  return all_zero(a, US_IP6_ADDR_LEN);
}

bool us_ip6_addr_is_loopback(const uint8_t a[US_IP6_ADDR_LEN]) {
  return all_zero(a, 15) && a[15] == 1;
}

bool us_ip6_addr_is_multicast(const uint8_t a[US_IP6_ADDR_LEN]) { return a[0] == 0xff; }

bool us_ip6_addr_is_v4mapped(const uint8_t a[US_IP6_ADDR_LEN]) {
  return all_zero(a, 10) && a[10] == 0xff && a[11] == 0xff;
}

bool us_ip6_addr_is_linklocal(const uint8_t a[US_IP6_ADDR_LEN]) {
  return a[0] == 0xfe && (a[1] & 0xc0) == 0x80;
}
