/*
 * bytes.c - big-endian fields and the Internet checksum (RFC 1071), the
 * harness's own code: a bug in stack/wire cannot hide a bug elsewhere.
 */
#include "harness.h"

uint16_t h_rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

uint32_t h_rd32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void h_wr16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

void h_wr32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

uint32_t h_csum_add(uint32_t sum, const void *data, size_t n) {
  const uint8_t *p = data;
  for (size_t i = 0; i + 1 < n; i += 2) {
    sum += (uint32_t)p[i] << 8 | p[i + 1];
    if (sum >> 31)
      sum = (sum & 0xffff) + (sum >> 16); /* keep room: never overflow */
  }
  if (n & 1)
    sum += (uint32_t)p[n - 1] << 8;
  return sum;
}

uint16_t h_csum_fold(uint32_t sum) {
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}

uint16_t h_csum(const void *data, size_t n) { return h_csum_fold(h_csum_add(0, data, n)); }

uint32_t h_pseudo6(const uint8_t src[16], const uint8_t dst[16], uint8_t proto, uint32_t len) {
  uint32_t acc = (len >> 16) + (len & 0xffff) + proto;
  for (int i = 0; i < 16; i += 2)
    acc += (uint32_t)h_rd16(src + i) + h_rd16(dst + i);
  return acc;
}

uint32_t h_pseudo4(uint32_t src, uint32_t dst, uint8_t proto, uint32_t len) {
  return (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + proto + (len >> 16) +
         (len & 0xffff);
}
