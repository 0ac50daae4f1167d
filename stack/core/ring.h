/*
 * ring.h - a byte ring buffer over memory the caller provides.
 *
 * Invariants: 0 <= len <= cap; the bytes are buf[head], buf[head+1 mod cap],
 * ... for len bytes. Used for TCP send buffers: the send ring holds
 * exactly the bytes from SND.UNA up (sent and not yet acknowledged, then
 * not yet sent). Received data is not kept in a ring but in the packets it
 * arrived in (stack/tcp/tcp_rcvq.c).
 */
#ifndef USTACK_CORE_RING_H
#define USTACK_CORE_RING_H

#include <stddef.h>
#include <stdint.h>

struct us_ring {
  uint8_t *buf;
  uint32_t cap;
  uint32_t head;
  uint32_t len;
};

void us_ring_init(struct us_ring *r, uint8_t *mem, uint32_t cap);
static inline uint32_t us_ring_free(const struct us_ring *r) { return r->cap - r->len; }
/* Append up to n bytes; returns how many were taken. */
uint32_t us_ring_write(struct us_ring *r, const void *src, uint32_t n);
/* Write n bytes at `offset` past the end of the data (for out-of-order
 * placement) without changing len; offset + n must fit in the free space. */
void us_ring_write_at(struct us_ring *r, uint32_t offset, const void *src, uint32_t n);
/* Grow len by n (bytes placed by us_ring_write_at become data). */
void us_ring_commit(struct us_ring *r, uint32_t n);
/* Copy up to n bytes starting `offset` bytes into the data; returns count. */
uint32_t us_ring_peek(const struct us_ring *r, uint32_t offset, void *dst, uint32_t n);
/* Remove n bytes from the front (n <= len). */
void us_ring_discard(struct us_ring *r, uint32_t n);
/* Copy out and remove up to n bytes; returns count. */
uint32_t us_ring_read(struct us_ring *r, void *dst, uint32_t n);

#endif
