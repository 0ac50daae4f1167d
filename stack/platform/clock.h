/*
 * clock.h - the clocks, read only here (docs/ARCHITECTURE.md section 2: the core is
 * given time, it never reads it).
 */
#ifndef USTACK_PLATFORM_CLOCK_H
#define USTACK_PLATFORM_CLOCK_H

#include "ustack/us_types.h"

/* CLOCK_MONOTONIC in microseconds: the `now` handed to the stack. */
us_time_t us_clock_now(void);

/* Wall clock (CLOCK_REALTIME): seconds since the epoch (X.509 validity). */
int64_t us_clock_wall_seconds(void);

/* Wall clock in microseconds since the epoch (pcap timestamps). */
int64_t us_clock_wall_us(void);

#endif
