/* sha256.h - SHA-256 (FIPS 180-4) for checking that every byte arrived. */
#ifndef USTACK_APP_SHA256_H
#define USTACK_APP_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct us_sha256 {
  uint32_t h[8];
  uint64_t total;
  uint8_t block[64];
  size_t fill;
};

void us_sha256_init(struct us_sha256 *c);
void us_sha256_update(struct us_sha256 *c, const void *data, size_t len);
void us_sha256_final(struct us_sha256 *c, uint8_t out[32]);
/* Lowercase hex of a digest into `hex` (65 bytes with the NUL). */
void us_sha256_hex(const uint8_t digest[32], char hex[65]);

#endif
