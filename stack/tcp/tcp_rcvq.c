/*
 * tcp_rcvq.c - the receive queue: received data kept in the packet buffers
 * it arrived in, copied once, into the application's buffer, at recv
 * (docs/ARCHITECTURE.md 3).
 *
 * Two lists of packets (struct us_pkt), each packet's data being payload
 * bytes and pkt->seq the sequence number of its first byte:
 *  - rq_head..rq_tail: in order, not yet read; rq_len bytes in all;
 *  - oq_head: out of order, sorted by seq; they may overlap (each arrived
 *    whole), and tcp_reass.c's ranges say which sequence numbers are held.
 * rq_held is the memory both lists hold: the whole buffer of each packet
 * (its truesize, as Linux counts it), not just the data, because that is
 * what a 1-byte segment costs.
 *
 * Where the bytes come from: when the datagram was read into one of the
 * stack's own buffers (us_stack_rx_buffer) and the payload fills at least
 * half of it, that buffer is kept as it is (us_pkt_take_rx): no copy until
 * recv. Otherwise the payload is copied, packed into the room after the
 * last packet queued and then into fresh MTU buffers, so a stream of small
 * segments does not take a buffer each (Linux's coalescing). A datagram
 * given as borrowed bytes (us_stack_input on the caller's memory) is
 * always copied, once.
 *
 * Bounds: a connection holds at most twice tcp_rcvbuf of buffers (the
 * window is advertised from tcp_rcvbuf, so this slack absorbs segments
 * smaller than the buffers they came in), and never takes the last eighth
 * of a packet pool, which output and reassembly need. Data refused for
 * memory is not acknowledged: the peer sends it again.
 */
#include <string.h>

#include "core/assert.h"
#include "core/stats.h"
#include "tcp_int.h"

static uint32_t min32(uint32_t a, uint32_t b) { return a < b ? a : b; }

/* Buffers a connection may hold: twice its budget (see above). */
static bool over_limit(const struct us_stack *s, const struct us_tcb *t, uint32_t more) {
  return (uint64_t)t->rq_held + more > 2ull * s->cfg.tcp_rcvbuf;
}

/* The input buffer itself, holding exactly [data, data+len), when the
 * datagram was read into one of ours and the payload fills at least half
 * of it (so the window's 7/8 estimate stays within the 2x limit); else
 * NULL and the caller copies. */
static struct us_pkt *take_input(struct us_stack *s, struct us_tcb *t, const uint8_t *data,
                                 uint32_t len) {
  const struct us_pkt *rx = s->rx_pkt;
  if (!rx || (uint64_t)len * 2 < rx->cap || over_limit(s, t, rx->cap))
    return NULL;
  uint32_t cap = rx->cap;
  struct us_pkt *p = us_pkt_take_rx(s, data, len);
  if (p) {
    US_STAT_INC(s, tcp_rcv_zero_copy);
    /* How well buffers fill, for the window (Linux's scaling_ratio): at
     * least 1/2 by the rule above. */
    uint32_t r = (uint32_t)((uint64_t)len * 256 / cap);
    t->rcv_ratio = (uint8_t)(r > 255 ? 255 : r);
  }
  return p;
}

/* An empty MTU buffer for copies; NULL when memory is short (counted). */
static struct us_pkt *copy_buffer(struct us_stack *s, const struct us_tcb *t) {
  struct us_pkt *p = NULL;
  if (!us_pkt_pool_low(&s->pkts) && !over_limit(s, t, s->pkts.buf_size))
    p = us_pkt_alloc(s, s->pkts.buf_size - US_PKT_HEADROOM);
  if (!p)
    US_STAT_INC(s, tcp_rcv_mem_drop);
  return p;
}

static void rq_link(struct us_tcb *t, struct us_pkt *p) {
  p->next = NULL;
  if (t->rq_tail)
    t->rq_tail->next = p;
  else
    t->rq_head = p;
  t->rq_tail = p;
  t->rq_len += p->len;
}

uint32_t tcp_rcvq_append(struct us_stack *s, struct us_tcb *t, const uint8_t *data, uint32_t len) {
  struct us_pkt *p = take_input(s, t, data, len);
  if (p) {
    p->seq = t->rcv_nxt;
    t->rq_held += p->cap;
    rq_link(t, p);
    return len;
  }
  /* Copy, packed: first into the room after the last packet queued, then
   * into fresh buffers, so small segments do not take a buffer each. */
  uint32_t done = 0;
  struct us_pkt *tail = t->rq_tail;
  if (tail) {
    done = min32(len, (uint32_t)us_pkt_tailroom(tail));
    memcpy(us_pkt_put(tail, done), data, done);
    t->rq_len += done;
  }
  while (done < len) {
    p = copy_buffer(s, t);
    if (!p)
      break; /* the rest is not accepted: the peer sends it again */
    uint32_t k = min32(len - done, (uint32_t)us_pkt_tailroom(p));
    memcpy(us_pkt_put(p, k), data + done, k);
    p->seq = t->rcv_nxt + done;
    t->rq_held += p->cap;
    rq_link(t, p);
    done += k;
  }
  return done;
}

static void oq_insert(struct us_tcb *t, struct us_pkt *p) {
  struct us_pkt **pp = &t->oq_head;
  while (*pp && us_seq_le((*pp)->seq, p->seq))
    pp = &(*pp)->next;
  p->next = *pp;
  *pp = p;
  t->rq_held += p->cap;
}

bool tcp_rcvq_hold_ooo(struct us_stack *s, struct us_tcb *t, uint32_t seq, const uint8_t *data,
                       uint32_t len) {
  struct us_pkt *p = take_input(s, t, data, len);
  if (p) {
    p->seq = seq;
    oq_insert(t, p);
    return true;
  }
  /* Right after a packet held with room for it: packed there, so a flood
   * of small adjacent segments takes a buffer per MTU of data, not one per
   * segment (HOSTILE RES-2). */
  for (struct us_pkt *q = t->oq_head; q && us_seq_le(q->seq, seq); q = q->next) {
    if (q->seq + q->len == seq && us_pkt_tailroom(q) >= len) {
      memcpy(us_pkt_put(q, len), data, len);
      return true;
    }
  }
  /* Copied into MTU buffers (more than one for a super-packet); all or
   * nothing, since the ranges record the segment whole. */
  struct us_pkt *chain = NULL, **tail = &chain;
  uint32_t done = 0;
  while (done < len) {
    p = copy_buffer(s, t);
    if (!p) {
      for (struct us_pkt *q = chain, *nx; q; q = nx) {
        nx = q->next;
        us_pkt_free(s, q);
      }
      return false;
    }
    uint32_t k = min32(len - done, (uint32_t)us_pkt_tailroom(p));
    memcpy(us_pkt_put(p, k), data + done, k);
    p->seq = seq + done;
    p->next = NULL;
    *tail = p;
    tail = &p->next;
    done += k;
  }
  for (struct us_pkt *q = chain, *nx; q; q = nx) {
    nx = q->next;
    oq_insert(t, q);
  }
  return true;
}

void tcp_rcvq_pull_ooo(struct us_stack *s, struct us_tcb *t, uint32_t from, uint32_t to) {
  /* [from, to) is held out of order (tcp_reass.c's ranges say so) and
   * now in order: the packets that hold it join the in-order queue,
   * trimmed of what is already there; those wholly below go. */
  uint32_t pos = from;
  while (t->oq_head && us_seq_lt(t->oq_head->seq, to)) {
    struct us_pkt *p = t->oq_head;
    t->oq_head = p->next;
    uint32_t end = p->seq + p->len;
    if (us_seq_le(end, pos)) {
      t->rq_held -= p->cap;
      us_pkt_free(s, p);
      continue;
    }
    US_ASSERT(us_seq_le(p->seq, pos));
    us_pkt_pull(p, pos - p->seq);
    p->seq = pos;
    rq_link(t, p);
    pos = end;
  }
}

uint32_t tcp_rcvq_read(struct us_stack *s, struct us_tcb *t, uint8_t *buf, uint32_t cap) {
  uint32_t n = 0;
  while (n < cap && t->rq_head) {
    struct us_pkt *p = t->rq_head;
    uint32_t k = min32(p->len, cap - n);
    memcpy(buf + n, us_pkt_data(p), k);
    us_pkt_pull(p, k);
    p->seq += k;
    n += k;
    if (p->len == 0) {
      t->rq_head = p->next;
      if (!t->rq_head)
        t->rq_tail = NULL;
      t->rq_held -= p->cap;
      us_pkt_free(s, p);
    }
  }
  t->rq_len -= n;
  return n;
}

void tcp_rcvq_flush(struct us_stack *s, struct us_tcb *t) {
  struct us_pkt *lists[2] = { t->rq_head, t->oq_head };
  for (int i = 0; i < 2; i++)
    for (struct us_pkt *p = lists[i], *nx; p; p = nx) {
      nx = p->next;
      us_pkt_free(s, p);
    }
  t->rq_head = t->rq_tail = t->oq_head = NULL;
  t->rq_len = t->rq_held = 0;
}
