/*
 * ring.c - byte ring buffer (see ring.h). Every copy is split into at most
 * two memcpy calls at the wrap point; there is no per-byte loop.
 */
#include "ring.h"

#include <string.h>

#include "assert.h"

void us_ring_init(struct us_ring *r, uint8_t *mem, uint32_t cap) {
  r->buf = mem;
  r->cap = cap;
  r->head = 0;
  r->len = 0;
}

/* Copy n bytes into the ring starting at absolute index `pos`. */
static void ring_copy_in(struct us_ring *r, uint32_t pos, const uint8_t *src, uint32_t n) {
  uint32_t first = r->cap - pos;
  if (first > n)
    first = n;
  memcpy(r->buf + pos, src, first);
  if (n > first)
    memcpy(r->buf, src + first, n - first);
}

static uint32_t ring_index(const struct us_ring *r, uint32_t offset) {
  uint32_t i = r->head + offset;
  return i >= r->cap ? i - r->cap : i;
}

uint32_t us_ring_write(struct us_ring *r, const void *src, uint32_t n) {
  uint32_t room = us_ring_free(r);
  if (n > room)
    n = room;
  if (n == 0)
    return 0;
  ring_copy_in(r, ring_index(r, r->len), src, n);
  r->len += n;
  return n;
}

void us_ring_write_at(struct us_ring *r, uint32_t offset, const void *src, uint32_t n) {
  US_ASSERT((uint64_t)offset + n <= us_ring_free(r));
  if (n == 0)
    return;
  ring_copy_in(r, ring_index(r, r->len + offset), src, n);
}

void us_ring_commit(struct us_ring *r, uint32_t n) {
  US_ASSERT(n <= us_ring_free(r));
  r->len += n;
}

uint32_t us_ring_peek(const struct us_ring *r, uint32_t offset, void *dst, uint32_t n) {
  if (offset >= r->len)
    return 0;
  if (n > r->len - offset)
    n = r->len - offset;
  uint32_t pos = ring_index(r, offset);
  uint32_t first = r->cap - pos;
  if (first > n)
    first = n;
  memcpy(dst, r->buf + pos, first);
  if (n > first)
    memcpy((uint8_t *)dst + first, r->buf, n - first);
  return n;
}

void us_ring_discard(struct us_ring *r, uint32_t n) {
  US_ASSERT(n <= r->len);
  r->head = ring_index(r, n);
  r->len -= n;
  if (r->len == 0)
    r->head = 0; /* keep later writes contiguous when possible */
}

uint32_t us_ring_read(struct us_ring *r, void *dst, uint32_t n) {
  n = us_ring_peek(r, 0, dst, n);
  us_ring_discard(r, n);
  return n;
}
