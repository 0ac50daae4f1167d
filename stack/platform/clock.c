/* clock.c - CLOCK_MONOTONIC for the stack, CLOCK_REALTIME for certificates. */
#include "clock.h"

#include <time.h>

static int64_t ts_to_us(const struct timespec *ts) {
  return (int64_t)ts->tv_sec * 1000000 + (int64_t)(ts->tv_nsec / 1000);
}

us_time_t us_clock_now(void) {
  struct timespec ts;
  /* Cannot fail for CLOCK_MONOTONIC with a valid pointer (clock_gettime(2)). */
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (us_time_t)ts_to_us(&ts);
}

int64_t us_clock_wall_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec;
}

int64_t us_clock_wall_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts_to_us(&ts);
}
