/*
 * checksum.c - the Internet checksum (RFC 1071).
 *
 * The sum is kept in 64 bits while adding and folded back to 32 bits before
 * it is returned, so chained calls over a whole 64 KiB datagram plus a
 * pseudo-header never overflow. Folding a one's-complement sum by adding
 * the high half to the low half preserves it modulo 0xffff (RFC 1071 2(B)).
 */
#include "checksum.h"

#include <string.h>

static uint32_t fold32(uint64_t acc) {
  while (acc >> 32)
    acc = (acc & 0xffffffffu) + (acc >> 32);
  return (uint32_t)acc;
}

/*
 * The sum of the 16-bit words of `p` (n even) taken in the CPU's byte
 * order, folded to 16 bits. RFC 1071 2(B): the one's-complement sum does
 * not depend on byte order, so summing native words and swapping the
 * folded result gives the big-endian sum; and 2(C): it may be done 32 bits
 * at a time (two 32-bit halves of each 64-bit load here) and folded once at
 * the end. This loop is most of the receive path's work (docs/PERFORMANCE.md):
 * a word per instruction instead of a byte.
 */
static uint32_t sum_native(const uint8_t *p, size_t n) {
  uint64_t a = 0, b = 0;
  for (; n >= 16; p += 16, n -= 16) {
    uint64_t w0, w1;
    memcpy(&w0, p, 8);
    memcpy(&w1, p + 8, 8);
    a += (w0 & 0xffffffffu) + (w0 >> 32); /* at most 2^33 per step: no overflow */
    b += (w1 & 0xffffffffu) + (w1 >> 32); /* below 64 KiB * 2^15 steps */
  }
  for (; n >= 2; p += 2, n -= 2) {
    uint16_t h;
    memcpy(&h, p, 2);
    a += h;
  }
  uint64_t acc = fold32(a) + (uint64_t)fold32(b);
  while (acc >> 16)
    acc = (acc & 0xffffu) + (acc >> 16);
  return (uint32_t)acc;
}

static uint32_t to_big_endian16(uint32_t v) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  return v;
#else
  return ((v & 0xffu) << 8) | (v >> 8);
#endif
}

uint32_t us_csum_add(uint32_t sum, const void *data, size_t len) {
  const uint8_t *p = data;
  size_t even = len & ~(size_t)1;
  uint64_t acc = (uint64_t)sum + to_big_endian16(sum_native(p, even));
  /* RFC 1071 4.1: an odd last byte is the high byte of a word padded with
   * zero. Only the last chunk of a chain may be odd (checksum.h). */
  if (even < len)
    acc += (uint32_t)p[even] << 8;
  return fold32(acc);
}

uint16_t us_csum_fold(uint32_t sum) {
  while (sum >> 16)
    sum = (sum & 0xffffu) + (sum >> 16);
  return (uint16_t)~sum;
}

uint16_t us_csum(const void *data, size_t len) { return us_csum_fold(us_csum_add(0, data, len)); }

static uint64_t sum_words(const uint8_t *b, size_t n) {
  uint64_t acc = 0;
  for (size_t i = 0; i < n; i += 2)
    acc += (uint32_t)b[i] << 8 | b[i + 1];
  return acc;
}

uint32_t us_csum_pseudo(us_addr_t src, us_addr_t dst, uint8_t proto) {
  if (src.family != dst.family)
    return 0;
  if (src.family == US_AF_INET) /* the last 4 bytes: IPv4-mapped (us_types.h) */
    return fold32(sum_words(src.b + 12, 4) + sum_words(dst.b + 12, 4) + proto);
  if (src.family == US_AF_INET6)
    return fold32(sum_words(src.b, 16) + sum_words(dst.b, 16) + proto);
  return 0;
}

uint32_t us_csum_pseudo_len(uint32_t base, uint32_t len) {
  return fold32((uint64_t)base + (len >> 16) + (len & 0xffffu));
}
