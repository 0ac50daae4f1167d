/*
 * pkt.c - fixed pools of packet buffers.
 *
 * Each pool is one allocation of `count` buffers plus their descriptors,
 * made at stack creation. Allocation and release pop and push a free list:
 * O(1), no malloc on the packet path. Running dry is counted and survivable
 * (the caller drops the packet).
 */
#include "pkt.h"

#include <stdlib.h>

#include "assert.h"
#include "log.h"
#include "stack.h"
#include "stats.h"

enum { POOL_SMALL = 1, POOL_BIG = 2 };

int us_pkt_pool_init(struct us_pkt_pool *p, uint32_t count, uint32_t buf_size, uint8_t id) {
  p->free_list = NULL;
  p->count = count;
  p->nfree = 0;
  p->buf_size = buf_size;
  p->descs = count ? calloc(count, sizeof *p->descs) : NULL;
  p->mem = count ? malloc((size_t)count * buf_size) : NULL;
  if (count && (!p->descs || !p->mem)) {
    free(p->descs);
    free(p->mem);
    p->descs = NULL;
    p->mem = NULL;
    return -1;
  }
  /* Nothing is written per buffer here: never-used buffers are handed
   * out in index order (nfresh), so a pool sized for the receive memory
   * of every connection costs memory only as it is used. */
  p->nfresh = 0;
  p->id = id;
  p->nfree = count;
  return 0;
}

void us_pkt_pool_fini(struct us_pkt_pool *p) {
  free(p->descs);
  free(p->mem);
  p->descs = NULL;
  p->mem = NULL;
  p->free_list = NULL;
  p->count = p->nfree = p->nfresh = 0;
}

static struct us_pkt *pool_take(struct us_pkt_pool *p) {
  struct us_pkt *d = p->free_list;
  if (d) {
    p->free_list = d->next;
  } else if (p->nfresh < p->count) {
    uint32_t i = p->nfresh++;
    d = &p->descs[i];
    d->base = p->mem + (size_t)i * p->buf_size;
    d->cap = p->buf_size;
    d->pool = p->id;
  } else {
    return NULL;
  }
  p->nfree--;
  d->next = NULL;
  d->off = US_PKT_HEADROOM;
  d->len = 0;
  return d;
}

struct us_pkt *us_pkt_alloc(struct us_stack *s, size_t len) {
  if (us_stack_alloc_should_fail(s)) {
    US_STAT_INC(s, pkt_alloc_fail);
    return NULL;
  }
  struct us_pkt *d = NULL;
  if (len + US_PKT_HEADROOM <= s->pkts.buf_size) {
    d = pool_take(&s->pkts);
    if (!d) {
      US_STAT_INC(s, pkt_alloc_fail);
      US_LOGD(s, "packet pool empty (%u buffers)", s->pkts.count);
    }
  } else if (len + US_PKT_HEADROOM <= s->big.buf_size) {
    d = pool_take(&s->big);
    if (!d) {
      US_STAT_INC(s, big_alloc_fail);
      US_LOGD(s, "large buffer pool empty (%u buffers)", s->big.count);
    }
  }
  return d;
}

void us_pkt_free(struct us_stack *s, struct us_pkt *p) {
  if (!p)
    return;
  struct us_pkt_pool *pool = p->pool == POOL_BIG ? &s->big : &s->pkts;
  US_ASSERT(pool->nfree < pool->count);
  p->next = pool->free_list;
  pool->free_list = p;
  pool->nfree++;
}

struct us_pkt *us_pkt_take_rx(struct us_stack *s, const uint8_t *data, size_t len) {
  struct us_pkt *p = s->rx_pkt;
  if (!p || data < us_pkt_data(p) || data + len > us_pkt_data(p) + p->len)
    return NULL;
  s->rx_pkt = NULL;
  p->off = (uint32_t)(data - p->base);
  p->len = (uint32_t)len;
  return p;
}

uint8_t *us_pkt_push(struct us_pkt *p, size_t n) {
  if (n > p->off)
    return NULL;
  p->off -= (uint32_t)n;
  p->len += (uint32_t)n;
  return p->base + p->off;
}

void us_pkt_pull(struct us_pkt *p, size_t n) {
  US_ASSERT(n <= p->len);
  p->off += (uint32_t)n;
  p->len -= (uint32_t)n;
}

uint8_t *us_pkt_put(struct us_pkt *p, size_t n) {
  if (n > us_pkt_tailroom(p))
    return NULL;
  uint8_t *tail = p->base + p->off + p->len;
  p->len += (uint32_t)n;
  return tail;
}
