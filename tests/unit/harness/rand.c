/*
 * rand.c - the harness's one seeded generator (splitmix64), the seed
 * override, the stack's random source and the content oracle.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t h_seed_env(void) {
  const char *v = getenv("US_TEST_SEED");
  return v && *v ? strtoull(v, NULL, 0) : 0;
}

uint64_t h_seed(uint64_t seed) { return seed ^ h_seed_env(); }

uint64_t h_rand_next(uint64_t *state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint32_t h_rand_below(uint64_t *state, uint32_t n) {
  return n ? (uint32_t)(h_rand_next(state) % n) : 0;
}

static void rand_fill(void *ctx, void *buf, size_t len) {
  struct h_rand *r = ctx;
  uint8_t *p = buf;
  while (len) {
    uint64_t v = h_rand_next(&r->state);
    size_t n = len < 8 ? len : 8;
    memcpy(p, &v, n);
    p += n;
    len -= n;
  }
}

struct us_rand_source h_rand_source(struct h_rand *r, uint64_t seed) {
  r->seed = seed;
  r->state = seed;
  return (struct us_rand_source){ .fill = rand_fill, .ctx = r };
}

int h_run_report(const char *name, int failed) {
  if (failed)
    fprintf(stderr,
            "%s: %d test(s) failed; run seeded with US_TEST_SEED=%#llx (0: each test's own "
            "seeds); US_TEST_LOG=trace shows the stacks' logs\n",
            name, failed, (unsigned long long)h_seed_env());
  return failed;
}

/* ---- oracle ------------------------------------------------------------------- */

uint8_t h_oracle_byte(uint64_t seed, uint64_t i) {
  uint64_t st = seed ^ (i / 8) * 0x9e3779b97f4a7c15ull;
  uint64_t v = h_rand_next(&st);
  return (uint8_t)(v >> (8 * (i % 8)));
}

void h_oracle_fill(uint64_t seed, uint64_t offset, uint8_t *buf, size_t len) {
  for (size_t k = 0; k < len; k++)
    buf[k] = h_oracle_byte(seed, offset + k);
}

long long h_oracle_check(uint64_t seed, uint64_t offset, const uint8_t *buf, size_t len) {
  for (size_t k = 0; k < len; k++)
    if (buf[k] != h_oracle_byte(seed, offset + k))
      return (long long)(offset + k);
  return -1;
}
