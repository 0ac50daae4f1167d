/* fault_rng.c - see fault_rng.h. */
#include "fault_rng.h"

uint64_t fault_splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static uint64_t rotl64(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t fault_rng_next(struct fault_rng *r) {
  uint64_t *s = r->s;
  uint64_t out = rotl64(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl64(s[3], 45);
  return out;
}

double fault_rng_unit(struct fault_rng *r) { return (double)(fault_rng_next(r) >> 11) * 0x1.0p-53; }

/* The top 32 bits scaled (Lemire's multiply; the bias is below 2^-32 per
 * value for the small n used here). */
uint64_t fault_rng_below(struct fault_rng *r, uint64_t n) {
  uint64_t x = fault_rng_next(r);
  if (n <= UINT32_MAX)
    return ((x >> 32) * n) >> 32;
  return x % n;
}

bool fault_rng_chance(struct fault_rng *r, double p) { return fault_rng_unit(r) < p; }

void fault_rng_seed(struct fault_rng *r, uint64_t seed, int stream) {
  uint64_t x = seed ^ (0x5851f42d4c957f2dull * (uint64_t)(stream + 1));
  for (int i = 0; i < 4; i++)
    r->s[i] = fault_splitmix64(&x);
}
