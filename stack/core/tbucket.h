/*
 * tbucket.h - a token bucket for rate limits on what the stack sends
 * (ICMP replies and errors, RFC 1812 4.3.2.8; RSTs for segments that have
 * no connection).
 *
 * Counted in micro-tokens, so a refill at any rate is exact integer
 * arithmetic on the microsecond clock. The bucket starts full. No clock is
 * read here: `now` is handed in like everywhere in the core.
 *
 * The same bucket can shape instead of police: us_tshaper says WHEN a
 * packet may leave rather than whether it may leave now (the fault
 * injector's rate= queues packets this way).
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

/*
 * A shaper: a token bucket of `bucket` bytes filled at `rate` bytes per
 * second, kept as the Generic Cell Rate Algorithm's theoretical arrival
 * time (TAT), which is the same bucket counted in time. A packet may leave
 * once TAT - bucket/rate has passed; leaving advances TAT by the packet's
 * serialisation time. Nanoseconds, so rates up to 10^12 B/s stay exact.
 * Starts with a full bucket (TAT 0).
 */
struct us_tshaper {
  int64_t tat_ns;
};

/* The earliest time (ns) a packet may leave. `rate` > 0. */
int64_t us_tshaper_ready_ns(const struct us_tshaper *sh, uint64_t rate, uint64_t bucket);
/* A packet of `bytes` leaves at `at_ns` (not before the ready time). */
void us_tshaper_sent(struct us_tshaper *sh, int64_t at_ns, uint64_t bytes, uint64_t rate);

#endif
