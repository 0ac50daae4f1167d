/*
 * us_types.h - the few value types every layer and every application shares.
 *
 * Time is a number passed in by the caller, never read inside the stack:
 * us_time_t counts microseconds on a monotonic clock whose origin the caller
 * chooses (the platform loop uses CLOCK_MONOTONIC, unit tests start at 0).
 */
#ifndef USTACK_US_TYPES_H
#define USTACK_US_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef int64_t us_time_t;

/* A deadline that never comes: what us_stack_poll() returns when idle. */
#define US_TIME_NEVER INT64_MAX

#define US_USEC(x) ((us_time_t)(x))
#define US_MSEC(x) ((us_time_t)(x)*1000)
#define US_SEC(x)  ((us_time_t)(x)*1000000)

/* An IPv4 address in host byte order: 10.0.0.2 is 0x0a000002. */
typedef uint32_t us_ip4_t;

#define US_IP4(a, b, c, d) \
  ((us_ip4_t)(((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d)))

/*
 * A socket handle: slot index in the low 16 bits, the slot's generation in
 * the high 16 bits. A handle kept after its socket was freed (and the slot
 * reused) no longer matches the slot's generation, so every call with it
 * fails with US_ERR_BADF instead of touching someone else's connection.
 * The value 0 is never a valid handle (generations start at 1).
 */
typedef struct {
  uint32_t v;
} us_sock_t;

#define US_SOCK_INVALID ((us_sock_t){ 0 })

static inline bool us_sock_valid(us_sock_t s) { return s.v != 0; }
static inline bool us_sock_eq(us_sock_t a, us_sock_t b) { return a.v == b.v; }

#endif
