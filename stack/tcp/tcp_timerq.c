/*
 * tcp_timerq.c - the timer queue: a binary min-heap of TCBs keyed by each
 * one's earliest deadline, so that tcp_poll() touches only the TCBs whose
 * time has come and the next deadline is the root (docs/ARCHITECTURE.md 4: deadlines,
 * not ticks; section 8: no walk over every connection per poll).
 *
 * A TCB keeps its own deadlines in t->timer[] as before; the queue holds
 * one entry per TCB with any deadline set, keyed by their minimum. Code
 * that changes t->timer[] does not touch the queue: the TCB is re-keyed
 * by tcp_timer_sync() at the end of every operation on it (tcp_gc() after
 * an input, an output flush or a timer run; the API calls that arm or
 * clear timers). Between those points a key may be stale; tcp_poll()
 * tolerates a key that is earlier than the real deadline (the TCB is
 * looked at, nothing is due, it is re-keyed), and the sync points make
 * sure a key is never later than the real deadline when poll runs.
 *
 * Invariants: q->v[1..n] is a heap (v[i]->tq_key >= v[i/2]->tq_key);
 * t->tq_pos is t's index in v, or 0 when t is not queued. Insert, re-key
 * and remove are O(log n); the root is O(1).
 */
#include <stdlib.h>

#include "core/assert.h"
#include "tcp_int.h"

int tcp_timerq_init(struct tcp_timerq *q, uint32_t cap) {
  q->n = 0;
  q->cap = cap;
  q->v = calloc((size_t)cap + 1, sizeof *q->v);
  return q->v ? 0 : -1;
}

void tcp_timerq_fini(struct tcp_timerq *q) {
  free(q->v);
  q->v = NULL;
  q->n = q->cap = 0;
}

static void place(struct tcp_timerq *q, uint32_t i, struct us_tcb *t) {
  q->v[i] = t;
  t->tq_pos = i;
}

static void sift_up(struct tcp_timerq *q, uint32_t i) {
  struct us_tcb *t = q->v[i];
  while (i > 1 && q->v[i / 2]->tq_key > t->tq_key) {
    place(q, i, q->v[i / 2]);
    i /= 2;
  }
  place(q, i, t);
}

static void sift_down(struct tcp_timerq *q, uint32_t i) {
  struct us_tcb *t = q->v[i];
  for (;;) {
    uint32_t c = 2 * i;
    if (c > q->n)
      break;
    if (c + 1 <= q->n && q->v[c + 1]->tq_key < q->v[c]->tq_key)
      c++;
    if (q->v[c]->tq_key >= t->tq_key)
      break;
    place(q, i, q->v[c]);
    i = c;
  }
  place(q, i, t);
}

void tcp_timerq_remove(struct tcp_timerq *q, struct us_tcb *t) {
  uint32_t i = t->tq_pos;
  if (i == 0)
    return;
  US_ASSERT(i <= q->n && q->v[i] == t);
  struct us_tcb *last = q->v[q->n--];
  t->tq_pos = 0;
  if (last == t)
    return;
  place(q, i, last);
  if (i > 1 && q->v[i / 2]->tq_key > last->tq_key)
    sift_up(q, i);
  else
    sift_down(q, i);
}

void tcp_timerq_set(struct tcp_timerq *q, struct us_tcb *t, us_time_t key) {
  if (key == US_TIME_NEVER) {
    tcp_timerq_remove(q, t);
    return;
  }
  if (t->tq_pos == 0) {
    US_ASSERT(q->n < q->cap);
    t->tq_key = key;
    place(q, ++q->n, t);
    sift_up(q, q->n);
    return;
  }
  us_time_t old = t->tq_key;
  t->tq_key = key;
  if (key < old)
    sift_up(q, t->tq_pos);
  else if (key > old)
    sift_down(q, t->tq_pos);
}

struct us_tcb *tcp_timerq_first(const struct tcp_timerq *q) {
  return q->n ? q->v[1] : NULL;
}

us_time_t tcp_timerq_next(const struct tcp_timerq *q) {
  return q->n ? q->v[1]->tq_key : US_TIME_NEVER;
}

void tcp_timer_sync(struct us_stack *s, struct us_tcb *t) {
  if (!t->in_use) {
    tcp_timerq_remove(&tcp_layer(s)->tq, t);
    return;
  }
  tcp_timerq_set(&tcp_layer(s)->tq, t, tcb_next_deadline(t, NULL));
}
