/*
 * pkt.h - packet buffers: flat, from fixed pools, with headroom.
 *
 * A us_pkt owns one contiguous region `base[0..cap)`; the data is
 * `base[off..off+len)`. Output code reserves US_PKT_HEADROOM in front of the
 * payload so each layer prepends its header in place (us_pkt_push) with no
 * copy. Two pools exist: MTU-sized buffers for ordinary packets, and a few
 * 64 KiB buffers for reassembly and for building large datagrams before
 * they are fragmented.
 *
 * Ownership: us_pkt_alloc() gives the caller a buffer it must either free
 * with us_pkt_free() or pass to a function documented as CONSUMING it.
 * A function that BORROWS a packet never frees it.
 */
#ifndef USTACK_CORE_PKT_H
#define USTACK_CORE_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct us_stack;

/* IP (60) + TCP (60) headers, rounded up. */
#define US_PKT_HEADROOM 128
#define US_PKT_BIG_SIZE (65536 + US_PKT_HEADROOM)

struct us_pkt {
  struct us_pkt *next; /* free list, or any queue the owner keeps it on */
  uint8_t *base;
  uint32_t cap;
  uint32_t off;
  uint32_t len;
  uint32_t seq; /* for the owner's use (TCP: sequence number of data[0]) */
  uint8_t pool; /* internal: which pool it returns to */
};

struct us_pkt_pool {
  struct us_pkt *free_list;
  struct us_pkt *descs;
  uint8_t *mem;
  uint32_t count, nfree, buf_size;
  uint32_t nfresh; /* descs[nfresh..count) never handed out */
  uint8_t id;
};

int us_pkt_pool_init(struct us_pkt_pool *p, uint32_t count, uint32_t buf_size, uint8_t id);
void us_pkt_pool_fini(struct us_pkt_pool *p);

/*
 * A buffer able to hold `len` bytes after US_PKT_HEADROOM (the big pool is
 * used when an MTU buffer is too small). data = base + headroom, len = 0.
 * NULL when the pool is empty (counted, and logged at debug level).
 */
struct us_pkt *us_pkt_alloc(struct us_stack *s, size_t len);
/* Return `p` to its pool. NULL is allowed. */
void us_pkt_free(struct us_stack *s, struct us_pkt *p);

static inline uint8_t *us_pkt_data(struct us_pkt *p) { return p->base + p->off; }
/* Make room for n header bytes in front of the data; NULL if no headroom. */
uint8_t *us_pkt_push(struct us_pkt *p, size_t n);
/* Drop n bytes from the front of the data. */
void us_pkt_pull(struct us_pkt *p, size_t n);
/* Extend the data by n bytes at the tail; returns the start of them or NULL. */
uint8_t *us_pkt_put(struct us_pkt *p, size_t n);
/*
 * Zero-copy input (docs/ARCHITECTURE.md 8). While us_stack_input() runs on bytes that
 * were read into the buffer us_stack_rx_buffer() gave out, that buffer is
 * s->rx_pkt. A layer that wants to keep part of the datagram calls
 * us_pkt_take_rx(): when [data, data+len) lies in it, it gets the buffer
 * (data trimmed to exactly that range) and owns it from then on; NULL
 * otherwise (the caller copies). At most one layer can take it.
 */
struct us_pkt *us_pkt_take_rx(struct us_stack *s, const uint8_t *data, size_t len);

/* True when taking another buffer would dip into the last eighth of the
 * pool, which input must leave to output and reassembly. */
static inline bool us_pkt_pool_low(const struct us_pkt_pool *p) {
  return p->nfree <= p->count / 8 + 4;
}

/* Bytes free after the data. */
static inline size_t us_pkt_tailroom(const struct us_pkt *p) { return p->cap - p->off - p->len; }

#endif
