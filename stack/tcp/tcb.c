/*
 * tcb.c - the TCB pool, the connection hash table, listeners and buffer
 * units. The layer around them is created in tcp_layer.c.
 *
 * Everything is allocated in tcb_pool_init(): max_tcp_sockets TCBs, a hash
 * table with a power-of-two bucket count of at least that, and the two
 * buffer pools (send and receive, sized by tcp_buf_mem). Each send buffer
 * has a block of transmit records beside it (tcp_sack.c: the send times and
 * SACK/loss marks of what is in flight), attached and detached with it.
 * Buffers are attached only while data is queued (see "buffer pools"), so
 * listeners, idle connections and TIME-WAIT hold none. Every block is
 * reserved with malloc/calloc and never written until used, so untouched
 * TCBs and buffers cost address space, not memory (docs/MEMORY.md).
 *
 * Every take from a pool first asks us_stack_alloc_should_fail() (the
 * allocation-failure test hook of core/testing.h).
 *
 * The bucket of a 4-tuple is a keyed mix (salts from the random source), so
 * a remote host cannot aim all its connections at one chain.
 */
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/handle.h"
#include "core/log.h"
#include "core/rand.h"
#include "core/stats.h"
#include "tcp.h"
#include "tcp_int.h"
#include "wire/ipv4.h"

/* ---- hash ------------------------------------------------------------- */

static uint32_t tuple_hash(const struct us_tcp_layer *ts, us_addr_t raddr, uint16_t rport,
                           uint16_t lport) {
  uint32_t h = tcp_addr_mix(raddr, ts->hsalt1);
  h ^= (((uint32_t)rport << 16 | lport) ^ ts->hsalt2) * 0x85ebca77u;
  h ^= h >> 15;
  h *= 0xc2b2ae3du;
  h ^= h >> 13;
  return h & ts->hmask;
}

void tcb_hash_insert(struct us_stack *s, struct us_tcb *t) {
  struct us_tcp_layer *ts = tcp_layer(s);
  if (t->in_hash)
    return;
  uint32_t b = tuple_hash(ts, t->raddr, t->rport, t->lport);
  t->hnext = ts->hash[b];
  ts->hash[b] = t;
  t->in_hash = true;
}

void tcb_hash_remove(struct us_stack *s, struct us_tcb *t) {
  struct us_tcp_layer *ts = tcp_layer(s);
  if (!t->in_hash)
    return;
  struct us_tcb **pp = &ts->hash[tuple_hash(ts, t->raddr, t->rport, t->lport)];
  while (*pp && *pp != t)
    pp = &(*pp)->hnext;
  if (*pp)
    *pp = t->hnext;
  t->hnext = NULL;
  t->in_hash = false;
}

struct us_tcb *tcb_lookup(struct us_stack *s, us_addr_t laddr, uint16_t lport, us_addr_t raddr,
                          uint16_t rport) {
  struct us_tcp_layer *ts = tcp_layer(s);
  for (struct us_tcb *t = ts->hash[tuple_hash(ts, raddr, rport, lport)]; t; t = t->hnext)
    if (t->rport == rport && t->lport == lport && us_addr_eq(t->raddr, raddr) &&
        us_addr_eq(t->laddr, laddr))
      return t;
  return NULL;
}

/* ---- listeners (few: a list) ----------------------------------------- */

void tcb_listener_add(struct us_stack *s, struct us_tcb *t) {
  t->hnext = tcp_layer(s)->listeners;
  tcp_layer(s)->listeners = t;
  t->is_listener = true;
}

void tcb_listener_remove(struct us_stack *s, struct us_tcb *t) {
  if (!t->is_listener)
    return;
  struct us_tcb **pp = &tcp_layer(s)->listeners;
  while (*pp && *pp != t)
    pp = &(*pp)->hnext;
  if (*pp)
    *pp = t->hnext;
  t->hnext = NULL;
  t->is_listener = false;
}

/* A listener's unset laddr takes every local address of both families. */
struct us_tcb *tcb_listener_lookup(struct us_stack *s, us_addr_t laddr, uint16_t lport) {
  for (struct us_tcb *t = tcp_layer(s)->listeners; t; t = t->hnext)
    if (t->lport == lport && (t->laddr.family == US_AF_NONE || us_addr_eq(t->laddr, laddr)))
      return t;
  return NULL;
}

/* A port is taken by a listener or a bound, unconnected socket; with
 * `any_use`, also by any connection (for ephemeral choice). */
bool tcb_port_used(struct us_stack *s, uint16_t port, bool any_use) {
  for (struct us_tcb *t = tcp_layer(s)->active; t; t = t->anext) {
    if (!t->bound || t->lport != port)
      continue;
    if (any_use || t->state == US_TCP_LISTEN || (t->state == US_TCP_CLOSED && !t->in_hash))
      return true;
  }
  return false;
}

/* ---- queues ------------------------------------------------------------ */

void tcb_q_push(struct us_tcb **head, struct us_tcb **tail, struct us_tcb *t) {
  t->qnext = NULL;
  t->qprev = *tail;
  if (*tail)
    (*tail)->qnext = t;
  else
    *head = t;
  *tail = t;
}

void tcb_q_remove(struct us_tcb **head, struct us_tcb **tail, struct us_tcb *t) {
  if (t->qprev)
    t->qprev->qnext = t->qnext;
  else
    *head = t->qnext;
  if (t->qnext)
    t->qnext->qprev = t->qprev;
  else
    *tail = t->qprev;
  t->qnext = t->qprev = NULL;
}

/* Take `t` off its listener's SYN queue or accept queue. */
void tcb_unlink_listener(struct us_stack *s, struct us_tcb *t) {
  struct us_tcb *l = t->listener;
  if (!l)
    return;
  if (t->in_synq) {
    tcb_q_remove(&l->synq_head, &l->synq_tail, t);
    l->synq_len--;
    t->in_synq = false;
  }
  if (t->in_acceptq) {
    tcb_q_remove(&l->acq_head, &l->acq_tail, t);
    l->acq_len--;
    t->in_acceptq = false;
    tcb_mark(s, l);
  }
  t->listener = NULL;
}

void tcb_pending_add(struct us_stack *s, struct us_tcb *t) {
  if (t->on_pending)
    return;
  struct us_tcp_layer *ts = tcp_layer(s);
  t->pprev = NULL;
  t->pnext = ts->pending;
  if (ts->pending)
    ts->pending->pprev = t;
  ts->pending = t;
  t->on_pending = true;
}

void tcb_pending_remove(struct us_stack *s, struct us_tcb *t) {
  if (!t->on_pending)
    return;
  if (t->pprev)
    t->pprev->pnext = t->pnext;
  else
    tcp_layer(s)->pending = t->pnext;
  if (t->pnext)
    t->pnext->pprev = t->pprev;
  t->pnext = t->pprev = NULL;
  t->on_pending = false;
}

void tcb_mark(struct us_stack *s, struct us_tcb *t) {
  if (us_sock_valid(t->h))
    us_handle_mark(s, t->h);
}

/* ---- buffer pools -------------------------------------------------------
 *
 * Two pools of fixed-size buffers, one of tcp_sndbuf bytes per buffer and
 * one of tcp_rcvbuf, each tcp_buf_mem / (sndbuf + rcvbuf) buffers long. A
 * ring is attached when data needs it (us_tcp_send, or a segment's text)
 * and detached as soon as it is empty again, so an idle connection holds
 * none (docs/ARCHITECTURE.md 8). Free buffers are a LIFO stack, so the buffers in use
 * are the recently touched ones and the rest of the block stays untouched
 * address space. A detached ring has buf == NULL and len == cap == 0, so
 * code that only reads ring lengths need not know about attachment.
 */

static int ring_pool_init(struct tcp_ring_pool *p, uint32_t count, uint32_t size, uint32_t hdr) {
  p->size = size;
  p->hdr = hdr;
  p->count = count;
  p->nfree = 0;
  p->stride = (hdr + size + 7u) & ~7u; /* the ranges in front stay aligned */
  p->mem = malloc((size_t)count * p->stride);
  p->free = calloc(count, sizeof *p->free);
  if (!p->mem || !p->free)
    return -1;
  for (uint32_t i = count; i-- > 0;)
    p->free[p->nfree++] = i;
  return 0;
}

static void ring_pool_fini(struct tcp_ring_pool *p) {
  free(p->mem);
  free(p->free);
  p->mem = NULL;
  p->free = NULL;
}

static bool ring_take(struct us_stack *s, struct tcp_ring_pool *p, struct us_ring *r) {
  if (r->buf)
    return true;
  if (p->nfree == 0 || us_stack_alloc_should_fail(s))
    return false;
  uint32_t i = p->free[--p->nfree];
  us_ring_init(r, p->mem + (size_t)i * p->stride + p->hdr, p->size);
  return true;
}

static void ring_give(struct tcp_ring_pool *p, struct us_ring *r) {
  if (!r->buf)
    return;
  US_ASSERT(p->nfree < p->count);
  p->free[p->nfree++] = (uint32_t)((size_t)(r->buf - p->hdr - p->mem) / p->stride);
  us_ring_init(r, NULL, 0);
}

bool tcb_snd_attach(struct us_stack *s, struct us_tcb *t) {
  struct us_tcp_layer *ts = tcp_layer(s);
  if (t->snd.buf)
    return true;
  if (ring_take(s, &ts->sndp, &t->snd)) {
    /* The transmit records live in front of the ring whose bytes they
     * describe: data is in flight only while the send ring holds it (a
     * FIN alone needs none; tcp_rack.c copes). */
    tcp_xr_init(t, (struct tcp_flight *)(void *)(t->snd.buf - ts->sndp.hdr), ts->xr_cap);
    return true;
  }
  US_STAT_INC(s, tcp_snd_no_buffer);
  t->snd_wait = true; /* made WRITABLE when a send buffer comes back */
  return false;
}

/* The receive side's block holds the out-of-order ranges; the data itself
 * stays in packet buffers (tcp_rcvq.c). Taking one is what bounds how many
 * connections hold received data at once. */
bool tcb_rcv_attach(struct us_stack *s, struct us_tcb *t) {
  struct tcp_ring_pool *p = &tcp_layer(s)->rcvp;
  if (t->ooo)
    return true;
  if (p->nfree == 0 || us_stack_alloc_should_fail(s)) {
    US_STAT_INC(s, tcp_no_buffer);
    return false;
  }
  uint32_t i = p->free[--p->nfree];
  t->ooo = (struct tcp_ooo *)(void *)(p->mem + (size_t)i * p->stride);
  return true;
}

/* A send buffer came back to an empty pool: the connections whose send
 * found none are told they may write again. Only under exhaustion. */
static void snd_waiters_wake(struct us_stack *s) {
  for (struct us_tcb *t = tcp_layer(s)->active; t; t = t->anext)
    if (t->snd_wait) {
      t->snd_wait = false;
      tcb_mark(s, t);
    }
}

void tcb_snd_release_if_empty(struct us_stack *s, struct us_tcb *t) {
  if (!t->snd.buf || t->snd.len > 0)
    return;
  struct tcp_ring_pool *p = &tcp_layer(s)->sndp;
  ring_give(p, &t->snd);
  tcp_xr_init(t, NULL, 0);
  if (p->nfree == 1)
    snd_waiters_wake(s);
}

void tcb_rcv_release_if_empty(struct us_stack *s, struct us_tcb *t) {
  struct tcp_ring_pool *p = &tcp_layer(s)->rcvp;
  if (t->ooo && t->rq_len == 0 && !t->oq_head && t->nooo == 0) {
    US_ASSERT(p->nfree < p->count && t->rq_held == 0);
    p->free[p->nfree++] = (uint32_t)((size_t)((uint8_t *)t->ooo - p->mem) / p->stride);
    t->ooo = NULL;
  }
}

/* The most a connection advertises: its budget, less an eighth for what
 * the buffers hold beyond the payload (a full-sized segment fills about
 * 0.9 of the buffer it arrives in). */
uint32_t tcb_rcv_space_max(const struct us_stack *s) {
  return s->cfg.tcp_rcvbuf - s->cfg.tcp_rcvbuf / 8;
}

/* Receive space for the window (RFC 9293 3.8.6.2.2), from the buffers the
 * queue holds (their truesize, not just the data: a 1-byte segment costs a
 * whole buffer), as Linux does. Nothing new is offered when no receive
 * block can be had or the packet pool is low: the edge already advertised
 * stays (it never moves left), but does not grow. */
uint32_t tcb_rcv_space(const struct us_stack *s, const struct us_tcb *t) {
  if (!t->ooo && tcp_layer(s)->rcvp.nfree == 0)
    return 0;
  if (us_pkt_pool_low(&s->pkts))
    return 0;
  uint32_t held = t->rq_held;
  if (held >= s->cfg.tcp_rcvbuf)
    return 0;
  uint32_t free = s->cfg.tcp_rcvbuf - held;
  /* Payload the free buffer bytes can take: as well as the last buffer
   * kept whole was filled (a 64 KB super-packet fills almost all of its
   * buffer, a full-sized segment about 0.9 of an MTU buffer), else 7/8. */
  uint32_t ratio = t->rcv_ratio ? t->rcv_ratio : 224;
  return (uint32_t)((uint64_t)free * ratio / 256);
}

/* Flush both queues ("flush all segment queues", RFC 9293 3.10.7.4). */
void tcb_buf_put(struct us_stack *s, struct us_tcb *t) {
  tcp_reass_clear(s, t);
  tcp_rcvq_flush(s, t);
  t->snd.len = 0;
  tcb_rcv_release_if_empty(s, t);
  tcb_snd_release_if_empty(s, t);
  t->snd_wait = false;
}

/* Closed or TIME-WAIT connections give their buffers back once nobody can
 * read from them any more. */
void tcb_maybe_release_buf(struct us_stack *s, struct us_tcb *t) {
  if (t->state != US_TCP_CLOSED && t->state != US_TCP_TIME_WAIT)
    return;
  if (t->rq_len == 0 || !us_sock_valid(t->h))
    tcb_buf_put(s, t);
}

/* ---- TCB pool ---------------------------------------------------------- */

struct us_tcb *tcb_alloc(struct us_stack *s) {
  struct us_tcp_layer *ts = tcp_layer(s);
  /* Freed TCBs first, then ones never used: the array is not written
   * at creation, so TCBs never used cost no memory (docs/MEMORY.md). */
  if (us_stack_alloc_should_fail(s)) {
    US_STAT_INC(s, tcp_no_tcb);
    return NULL;
  }
  /* A full pool takes the slot of the oldest TIME-WAIT (tcp_timewait.c). */
  if (!ts->free_list && ts->nfresh == ts->ntcb && !tcp_tw_reclaim(s)) {
    US_STAT_INC(s, tcp_no_tcb);
    return NULL;
  }
  struct us_tcb *t = ts->free_list;
  if (t) {
    ts->free_list = t->hnext;
  } else {
    t = &ts->tcbs[ts->nfresh];
    t->idx = ts->nfresh++;
  }
  uint32_t idx = t->idx;
  memset(t, 0, sizeof *t);
  t->idx = idx;
  t->in_use = true;
  t->state = US_TCP_CLOSED;
  t->h = US_SOCK_INVALID;
  for (int i = 0; i < TT_N; i++)
    t->timer[i] = US_TIME_NEVER;
  t->keep_idle = s->cfg.tcp_keepalive_idle;
  t->keep_intvl = s->cfg.tcp_keepalive_interval;
  t->keep_cnt = s->cfg.tcp_keepalive_probes;
  t->mss = TCP_MSS_DEFAULT;
  t->pmtu = s->cfg.mtu; /* RFC 1191: start from the link MTU */
  tcp_rtt_init(s, t);
  t->anext = ts->active;
  t->aprev = NULL;
  if (ts->active)
    ts->active->aprev = t;
  ts->active = t;
  ts->nused++;
  return t;
}

void tcb_release(struct us_stack *s, struct us_tcb *t) {
  struct us_tcp_layer *ts = tcp_layer(s);
  if (!t->in_use)
    return;
  if (t->is_listener) {
    /* Children that were never accepted go with their listener. */
    while (t->synq_head) {
      struct us_tcb *c = t->synq_head;
      tcb_unlink_listener(s, c);
      tcb_release(s, c);
    }
    while (t->acq_head) {
      struct us_tcb *c = t->acq_head;
      tcb_unlink_listener(s, c);
      tcb_release(s, c);
    }
    tcb_listener_remove(s, t);
    tcp_limit_listener_gone(s, t);
  }
  tcp_limit_uncharge(s, t);
  tcb_unlink_listener(s, t);
  tcp_tw_untrack(s, t);
  tcb_hash_remove(s, t);
  tcb_pending_remove(s, t);
  tcp_timerq_remove(&ts->tq, t);
  tcb_buf_put(s, t);
  if (t->state == US_TCP_ESTABLISHED || t->state == US_TCP_CLOSE_WAIT)
    US_STAT_DEC(s, tcp_curr_estab);
  if (t->aprev)
    t->aprev->anext = t->anext;
  else
    ts->active = t->anext;
  if (t->anext)
    t->anext->aprev = t->aprev;
  t->in_use = false;
  t->hnext = ts->free_list;
  ts->free_list = t;
  ts->nused--;
}

/* The end of every operation on a TCB: free it if nothing holds it any
 * more, else re-key it in the timer queue. */
void tcp_gc(struct us_stack *s, struct us_tcb *t) {
  if (!t->in_use)
    return;
  if (!us_sock_valid(t->h) && (t->state == US_TCP_CLOSED || t->dead)) {
    tcb_release(s, t);
    return;
  }
  tcp_timer_sync(s, t);
}

/* ---- the pools (tcp_layer.c creates the layer around them) ------------- */

int tcb_pool_init(struct us_stack *s) {
  const struct us_config *c = &s->cfg;
  struct us_tcp_layer *ts = tcp_layer(s);
  uint32_t n = c->max_tcp_sockets;
  uint32_t nb = 1;
  while (nb < n && nb < (1u << 20))
    nb <<= 1;
  ts->ntcb = n;
  ts->tcbs = n ? calloc(n, sizeof *ts->tcbs) : NULL;
  ts->hash = calloc(nb, sizeof *ts->hash);
  ts->hmask = nb - 1;
  uint64_t nbuf = c->tcp_buf_mem / ((uint64_t)c->tcp_sndbuf + c->tcp_rcvbuf);
  if (nbuf > n)
    nbuf = n; /* more than one per connection would never be used */
  ts->xr_cap = tcp_xr_cap(c);
  uint32_t fl_size = (uint32_t)(sizeof(struct tcp_flight) + ts->xr_cap * sizeof(struct tcp_xmit));
  if ((n && (!ts->tcbs || !ts->hash)) ||
      ring_pool_init(&ts->sndp, (uint32_t)nbuf, c->tcp_sndbuf, fl_size) ||
      ring_pool_init(&ts->rcvp, (uint32_t)nbuf, 0, TCP_OOO_HDR))
    return US_ERR_NOMEM;
  ts->hsalt1 = us_rand_u32(s);
  ts->hsalt2 = us_rand_u32(s);
  return 0;
}

void tcb_pool_fini(struct us_stack *s) {
  struct us_tcp_layer *ts = tcp_layer(s);
  free(ts->tcbs);
  free(ts->hash);
  ts->tcbs = NULL;
  ts->hash = NULL;
  ring_pool_fini(&ts->sndp);
  ring_pool_fini(&ts->rcvp);
}

void us_tcp_pool_usage(const struct us_stack *s, uint32_t *used, uint32_t *total,
                       uint32_t *ooo_bytes) {
  const struct us_tcp_layer *ts = tcp_layer(s);
  *used = ts ? ts->nused : 0;
  *total = ts ? ts->ntcb : 0;
  *ooo_bytes = ts ? ts->ooo_total : 0;
}

void us_tcp_buf_usage(const struct us_stack *s, uint32_t *snd_free, uint32_t *rcv_free,
                      uint32_t *total) {
  const struct us_tcp_layer *ts = tcp_layer(s);
  *snd_free = ts ? ts->sndp.nfree : 0;
  *rcv_free = ts ? ts->rcvp.nfree : 0;
  *total = ts ? ts->sndp.count : 0;
}

void us_tcp_test_force_iss(struct us_stack *s, bool on, uint32_t iss) {
  tcp_layer(s)->iss_forced = on;
  tcp_layer(s)->iss_value = iss;
}
