/* fault_seed.c - see fault_seed.h. */
#include "fault_seed.h"

#include <sys/random.h>
#include <time.h>

#include "fault/fault_rng.h"

uint64_t us_fault_seed_from_os(void) {
  uint64_t s = 0;
  if (getrandom(&s, sizeof s, 0) == (ssize_t)sizeof s)
    return s;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  uint64_t x = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
  return fault_splitmix64(&x);
}
