/*
 * stream.c - block k of 8 bytes is splitmix64(seed + k * golden), written
 * little-endian. Cheap enough to generate at line rate.
 */
#include "stream.h"

static uint64_t block(uint64_t seed, uint64_t k) {
  uint64_t z = seed + (k + 1) * 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void us_stream_fill(uint64_t seed, uint64_t offset, uint8_t *buf, size_t len) {
  size_t i = 0;
  while (i < len) {
    uint64_t pos = offset + i;
    uint64_t v = block(seed, pos / 8);
    unsigned b = (unsigned)(pos % 8);
    for (; b < 8 && i < len; b++, i++)
      buf[i] = (uint8_t)(v >> (8 * b));
  }
}
