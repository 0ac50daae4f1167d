/*
 * checksum.c - the Internet checksum (RFC 1071).
 *
 * The sum is kept in 64 bits while adding and folded back to 32 bits before
 * it is returned, so chained calls over a whole 64 KiB datagram plus a
 * pseudo-header never overflow. Folding a one's-complement sum by adding
 * the high half to the low half preserves it modulo 0xffff (RFC 1071 2(B)).
 */
#include "checksum.h"

static uint32_t fold32(uint64_t acc) {
  while (acc >> 32)
    acc = (acc & 0xffffffffu) + (acc >> 32);
  return (uint32_t)acc;
}

uint32_t us_csum_add(uint32_t sum, const void *data, size_t len) {
  const uint8_t *p = data;
  uint64_t acc = sum;
  size_t i = 0;
  for (; i + 1 < len; i += 2)
    acc += (uint32_t)p[i] << 8 | p[i + 1];
  /* RFC 1071 4.1: an odd last byte is the high byte of a word padded with
   * zero. Only the last chunk of a chain may be odd (checksum.h). */
  if (i < len)
    acc += (uint32_t)p[i] << 8;
  return fold32(acc);
}

uint16_t us_csum_fold(uint32_t sum) {
  while (sum >> 16)
    sum = (sum & 0xffffu) + (sum >> 16);
  return (uint16_t)~sum;
}

uint16_t us_csum(const void *data, size_t len) { return us_csum_fold(us_csum_add(0, data, len)); }

uint32_t us_csum_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len) {
  uint64_t acc = (src >> 16) + (src & 0xffffu) + (dst >> 16) + (dst & 0xffffu) + proto + len;
  return fold32(acc);
}
