/*
 * tcp_limit.c - connection limits per listener and per source address at
 * a listener (cfg.tcp_listener_conn_max, cfg.tcp_source_conn_max;
 * docs/LIMITS.md), so that one client, or one busy service, cannot take
 * every TCB of the pool that all services share (HOSTILE RES-3, RFC 4987
 * section 3).
 *
 * What counts: a listener's child from the moment it is made (SYN-RECEIVED,
 * or a SYN cookie's ACK) until it reaches TIME-WAIT or CLOSED or is freed,
 * whether the application accepted it or not. The child remembers the
 * listener it is counted on (lim_listener); the listener holds the total
 * (lim_conns), and a table counts each (listener, source address) pair.
 * Stateless SYN-ACKs (SYN cookies) hold nothing, so they count only once
 * their ACK makes a connection.
 *
 * The table is open addressing with linear probing over a power of two of
 * at least twice the TCB pool, so it is never more than half full: each
 * pair with a non-zero count is held by at least one TCB. Slots are freed
 * by shifting the rest of the probe run back (no tombstones), and the hash
 * is keyed with a secret from the random source, so a remote host choosing
 * its addresses cannot build long probe runs. It is allocated only when a
 * per-source limit is set.
 *
 * Invariants: l->lim_conns is the number of TCBs with lim_listener == l;
 * the table's count for (l, a) is the number of those whose raddr is a.
 */
#include <stdlib.h>

#include "core/assert.h"
#include "core/rand.h"
#include "tcp_int.h"

struct tcp_src_count {
  uint32_t lidx;  /* the listener's TCB index */
  us_ip4_t addr;  /* the source address */
  uint32_t count; /* 0: the slot is free */
};

static uint32_t slot_of(const struct us_tcp_layer *ts, uint32_t lidx, us_ip4_t addr) {
  uint32_t h = (addr ^ ts->lim_salt1) * 0x9e3779b1u;
  h ^= (lidx ^ ts->lim_salt2) * 0x85ebca77u;
  h ^= h >> 16;
  h *= 0x7feb352du;
  h ^= h >> 15;
  return h & ts->lim_mask;
}

int tcp_limit_init(struct us_stack *s) {
  struct us_tcp_layer *ts = s->tcp;
  ts->lim_salt1 = us_rand_u32(s);
  ts->lim_salt2 = us_rand_u32(s);
  if (s->cfg.tcp_source_conn_max == 0)
    return 0;
  uint32_t n = 8;
  while (n < 2u * ts->ntcb && n < (1u << 22))
    n <<= 1;
  ts->lim_src = calloc(n, sizeof *ts->lim_src);
  if (!ts->lim_src)
    return US_ERR_NOMEM;
  ts->lim_mask = n - 1;
  return 0;
}

void tcp_limit_fini(struct us_stack *s) {
  free(s->tcp->lim_src);
  s->tcp->lim_src = NULL;
}

/* The slot holding (lidx, addr), or the free slot where it would go. */
static struct tcp_src_count *find(const struct us_tcp_layer *ts, uint32_t lidx, us_ip4_t addr) {
  uint32_t i = slot_of(ts, lidx, addr);
  for (;;) {
    struct tcp_src_count *e = &ts->lim_src[i];
    if (e->count == 0 || (e->lidx == lidx && e->addr == addr))
      return e;
    i = (i + 1) & ts->lim_mask;
  }
}

/* Free slot i, moving back the entries after it in the same probe run so
 * that every entry stays reachable from its home slot. */
static void slot_free(struct us_tcp_layer *ts, uint32_t i) {
  uint32_t j = i;
  for (;;) {
    ts->lim_src[i].count = 0;
    for (;;) {
      j = (j + 1) & ts->lim_mask;
      if (ts->lim_src[j].count == 0)
        return;
      uint32_t home = slot_of(ts, ts->lim_src[j].lidx, ts->lim_src[j].addr);
      /* Entry j may move to i only if its home is not in (i, j]. */
      bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
      if (!stays)
        break;
    }
    ts->lim_src[i] = ts->lim_src[j];
    i = j;
  }
}

enum tcp_limit_verdict tcp_limit_check(const struct us_stack *s, const struct us_tcb *l,
                                       us_ip4_t src) {
  const struct us_tcp_layer *ts = s->tcp;
  uint32_t lmax = s->cfg.tcp_listener_conn_max, smax = s->cfg.tcp_source_conn_max;
  if (lmax && l->lim_conns >= lmax)
    return TL_LISTENER;
  if (smax && ts->lim_src && find(ts, l->idx, src)->count >= smax)
    return TL_SOURCE;
  return TL_OK;
}

void tcp_limit_charge(struct us_stack *s, struct us_tcb *l, struct us_tcb *t) {
  struct us_tcp_layer *ts = s->tcp;
  if (t->lim_listener)
    return;
  t->lim_listener = l;
  l->lim_conns++;
  if (ts->lim_src) {
    struct tcp_src_count *e = find(ts, l->idx, t->raddr);
    if (e->count == 0) {
      e->lidx = l->idx;
      e->addr = t->raddr;
    }
    e->count++;
  }
}

void tcp_limit_uncharge(struct us_stack *s, struct us_tcb *t) {
  struct us_tcp_layer *ts = s->tcp;
  struct us_tcb *l = t->lim_listener;
  if (!l)
    return;
  t->lim_listener = NULL;
  l->lim_conns--;
  if (ts->lim_src) {
    struct tcp_src_count *e = find(ts, l->idx, t->raddr);
    if (US_NEVER(e->count == 0))
      return;
    if (--e->count == 0)
      slot_free(ts, (uint32_t)(e - ts->lim_src));
  }
}

/* A listener is being freed: the connections counted on it stop counting
 * (they go on, unlimited, like any accepted connection of a closed
 * listener). Walks every TCB once; listeners close rarely. */
void tcp_limit_listener_gone(struct us_stack *s, struct us_tcb *l) {
  for (struct us_tcb *t = s->tcp->active; t && l->lim_conns > 0; t = t->anext)
    if (t->lim_listener == l)
      tcp_limit_uncharge(s, t);
}
