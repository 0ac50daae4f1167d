/*
 * fault_rng.h - the injector's pseudo-random streams: xoshiro256**
 * seeded with splitmix64 (both public-domain algorithms, written here
 * from their published definitions).
 *
 * Each direction of an injector has its own stream, derived from the
 * user's seed, so the same seed replays the same decisions bit for bit.
 */
#ifndef USTACK_FAULT_RNG_H
#define USTACK_FAULT_RNG_H

#include <stdbool.h>
#include <stdint.h>

struct fault_rng {
  uint64_t s[4];
};

/* One splitmix64 step: advances *x and returns the next output. */
uint64_t fault_splitmix64(uint64_t *x);

/* Seed stream number `stream` (a direction) from `seed`. */
void fault_rng_seed(struct fault_rng *r, uint64_t seed, int stream);

uint64_t fault_rng_next(struct fault_rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double fault_rng_unit(struct fault_rng *r);
/* Uniform in [0, n), n >= 1. */
uint64_t fault_rng_below(struct fault_rng *r, uint64_t n);
/* True with probability p. */
bool fault_rng_chance(struct fault_rng *r, double p);

#endif
