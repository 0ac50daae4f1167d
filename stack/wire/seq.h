/*
 * seq.h - sequence-number arithmetic modulo 2^32 (RFC 9293 section 3.4).
 *
 * Sequence numbers are compared only through these helpers: a raw `<` on
 * two sequence numbers is wrong as soon as a connection crosses 2^32.
 * "a < b" means a comes before b, which holds while they are less than
 * 2^31 apart.
 */
#ifndef USTACK_WIRE_SEQ_H
#define USTACK_WIRE_SEQ_H

#include <stdbool.h>
#include <stdint.h>

static inline bool us_seq_lt(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }
static inline bool us_seq_le(uint32_t a, uint32_t b) { return (int32_t)(a - b) <= 0; }
static inline bool us_seq_gt(uint32_t a, uint32_t b) { return (int32_t)(a - b) > 0; }
static inline bool us_seq_ge(uint32_t a, uint32_t b) { return (int32_t)(a - b) >= 0; }

/* lo <= x < lo + len, modulo 2^32. An empty window holds nothing. */
static inline bool us_seq_in_window(uint32_t x, uint32_t lo, uint32_t len) {
  return (uint32_t)(x - lo) < len;
}

static inline uint32_t us_seq_max(uint32_t a, uint32_t b) { return us_seq_gt(a, b) ? a : b; }
static inline uint32_t us_seq_min(uint32_t a, uint32_t b) { return us_seq_lt(a, b) ? a : b; }

#endif
