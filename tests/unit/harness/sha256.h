/*
 * sha256.h - SHA-256 (FIPS 180-4) for the unit tests: the two-stack
 * simulation hashes what was sent and what arrived and compares.
 *
 * Names carry the harness prefix h_ so they never clash with the apps'
 * own copy (apps/common/sha256.h) should both end up in one binary.
 */
#ifndef USTACK_TEST_SHA256_H
#define USTACK_TEST_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct h_sha256 {
  uint32_t h[8];
  uint64_t total; /* bytes hashed so far */
  uint8_t block[64];
  size_t fill;    /* bytes waiting in block */
};

void h_sha256_init(struct h_sha256 *c);
void h_sha256_update(struct h_sha256 *c, const void *data, size_t len);
void h_sha256_final(struct h_sha256 *c, uint8_t out[32]);
/* Lowercase hex of a digest into `hex` (65 bytes with the NUL). */
void h_sha256_hex(const uint8_t digest[32], char hex[65]);

#endif
