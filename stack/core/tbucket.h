/*
 * tbucket.h - a token bucket for rate limits on what the stack sends
 * (ICMP replies and errors, RFC 1812 4.3.2.8; RSTs for segments that have
 * no connection).
 *
 * Counted in micro-tokens, so a refill at any rate is exact integer
 * arithmetic on the microsecond clock. The bucket starts full. No clock is
 * read here: `now` is handed in like everywhere in the core.
 */
#ifndef USTACK_CORE_TBUCKET_H
#define USTACK_CORE_TBUCKET_H

#include <stdbool.h>
#include <stdint.h>

#include "ustack/us_types.h"

struct us_tbucket {
  int64_t credit; /* micro-tokens */
  us_time_t last;
  bool started;
};

/* Take one token: true if there was one. `rate` tokens per second refill
 * a bucket of `burst` tokens (0 is taken as 1); rate 0 means unlimited. */
bool us_tbucket_take(struct us_tbucket *tb, uint32_t rate, uint32_t burst, us_time_t now);

#endif
