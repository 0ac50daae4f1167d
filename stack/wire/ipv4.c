/*
 * ipv4.c - IPv4 header parse and build (RFC 791, RFC 1122 3.2.1).
 *
 * The parser checks, in this order, each length before the bytes it guards
 * are read: 20 bytes present, version, IHL (>= 5 and inside what was
 * received), total length (>= IHL*4 and inside what was received), header
 * checksum, then a bounded walk of the options. Bytes beyond the total
 * length (link padding) are excluded and reported in `trimmed`.
 */
#include "ipv4.h"

#include "bytes.h"
#include "checksum.h"

/* Walk the options: every option but EOL and NOP has a length byte that
 * counts itself and the kind, so a length < 2 would not advance the walk
 * (URGENT/11 CVE-2019-12256 class) and is refused, as is one running past
 * the header. */
static enum us_ip4_parse_result walk_options(const uint8_t *o, size_t n, bool *src_route) {
  size_t i = 0;
  while (i < n) {
    uint8_t kind = o[i];
    if (kind == US_IPOPT_EOL)
      break;
    if (kind == US_IPOPT_NOP) {
      i++;
      continue;
    }
    if (i + 1 >= n)
      return US_IP4_BAD_OPTIONS; /* kind byte with no room for a length */
    uint8_t olen = o[i + 1];
    if (olen < 2 || olen > n - i)
      return US_IP4_BAD_OPTIONS;
    if (kind == US_IPOPT_LSRR || kind == US_IPOPT_SSRR)
      *src_route = true;
    i += olen;
  }
  return US_IP4_OK;
}

enum us_ip4_parse_result us_ip4_parse(const uint8_t *b, size_t len, struct us_ip4_hdr *out) {
  if (b == NULL || len < US_IP4_HDR_MIN)
    return US_IP4_TOO_SHORT;
  if ((b[0] >> 4) != 4)
    return US_IP4_BAD_VERSION;
  size_t hl = (size_t)(b[0] & 0x0f) * 4;
  if (hl < US_IP4_HDR_MIN || hl > len)
    return US_IP4_BAD_IHL;
  size_t tot = us_get16(b + 2);
  if (tot < hl || tot > len)
    return US_IP4_BAD_LEN;
  if (us_csum(b, hl) != 0)
    return US_IP4_BAD_CSUM;

  bool src_route = false;
  enum us_ip4_parse_result r = walk_options(b + US_IP4_HDR_MIN, hl - US_IP4_HDR_MIN, &src_route);
  if (r != US_IP4_OK)
    return r;

  uint16_t frag = us_get16(b + 6);
  out->hdr_len = (uint8_t)hl;
  out->tos = b[1];
  out->total_len = (uint16_t)tot;
  out->id = us_get16(b + 4);
  out->df = (frag & 0x4000) != 0;
  out->mf = (frag & 0x2000) != 0;
  out->frag_off = (uint16_t)((frag & 0x1fff) << 3);
  out->ttl = b[8];
  out->proto = b[9];
  out->csum = us_get16(b + 10);
  out->src = us_get32(b + 12);
  out->dst = us_get32(b + 16);
  out->options = hl > US_IP4_HDR_MIN ? b + US_IP4_HDR_MIN : NULL;
  out->opt_len = (uint8_t)(hl - US_IP4_HDR_MIN);
  out->src_route = src_route;
  out->payload = b + hl;
  out->payload_len = (uint16_t)(tot - hl);
  /* The received length may exceed 65535 only if the caller passed more;
   * report what lies beyond the datagram, saturated. */
  size_t extra = len - tot;
  out->trimmed = extra > 0xffff ? 0xffff : (uint16_t)extra;
  out->l4_csum_trusted = false; /* only IP input sets it, from device metadata */
  return US_IP4_OK;
}

size_t us_ip4_build(const struct us_ip4_hdr *h, uint8_t *out, size_t cap) {
  if (cap < US_IP4_HDR_MIN)
    return 0;
  uint16_t frag = (uint16_t)((h->frag_off >> 3) & 0x1fff);
  if (h->df)
    frag |= 0x4000;
  if (h->mf)
    frag |= 0x2000;
  out[0] = 0x45;
  out[1] = h->tos;
  us_put16(out + 2, h->total_len);
  us_put16(out + 4, h->id);
  us_put16(out + 6, frag);
  out[8] = h->ttl;
  out[9] = h->proto;
  us_put16(out + 10, 0);
  us_put32(out + 12, h->src);
  us_put32(out + 16, h->dst);
  us_put16(out + 10, us_csum(out, US_IP4_HDR_MIN));
  return US_IP4_HDR_MIN;
}
