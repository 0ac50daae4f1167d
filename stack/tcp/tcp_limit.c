/*
 * tcp_limit.c - connection limits per listener and per source address at
 * a listener (cfg.tcp_listener_conn_max, cfg.tcp_source_conn_max;
 * docs/LIMITS.md), so that one client, or one busy service, cannot take
 * every TCB of the pool that all services share (HOSTILE RES-3, RFC 4987
 * section 3).
 *
 * What counts: a listener's child from the moment it is made (SYN-RECEIVED,
 * or a SYN cookie's ACK) until it reaches TIME-WAIT or CLOSED or is freed,
 * whether the application accepted it or not. Stateless SYN-ACKs (SYN
 * cookies) hold nothing, so they count only once their ACK makes a
 * connection.
 *
 * The counts live outside the TCBs, in one table: (listener, source)
 * -> connections, and (listener, the unset address) -> the listener's
 * total (never a source). A source is an IPv4 address, or an IPv6 /64:
 * one host or site usually holds a whole /64 (RFC 7421 2) and can pick
 * any address in it, so counting single IPv6 addresses would limit
 * nothing. A
 * counted child has lim_counted set, and its listener is the one on its
 * local port (one listener per port). The table is open addressing with
 * linear probing over a power of two of at least twice the TCB pool, so it
 * is never more than half full: every key with a non-zero count is held by
 * a distinct TCB (a child for its source key, its listener for the total).
 * Slots are freed by shifting the rest of the probe run back (no
 * tombstones), and the hash is keyed with a secret from the random source,
 * so a remote host choosing its addresses cannot build long probe runs. No
 * table (and nothing counted) when neither limit is set.
 */
#include <stdlib.h>

#include "core/assert.h"
#include "core/rand.h"
#include "tcp_int.h"

#define TOTAL ((us_addr_t){ 0 }) /* the source of a listener's total */

struct tcp_src_count {
  uint32_t lidx;  /* the listener's TCB index */
  uint32_t count; /* 0: the slot is free */
  us_addr_t addr; /* the source (source_key), or TOTAL */
};

/* What a source is counted as: an IPv4 address, an IPv6 /64. */
static us_addr_t source_key(us_addr_t a) {
  if (us_addr_is_v6(a))
    for (int i = 8; i < 16; i++)
      a.b[i] = 0;
  return a;
}

static uint32_t slot_of(const struct us_tcp_layer *ts, uint32_t lidx, us_addr_t addr) {
  uint32_t h = tcp_addr_mix(addr, ts->lim_salt1);
  h ^= (lidx ^ ts->lim_salt2) * 0x85ebca77u;
  h ^= h >> 16;
  h *= 0x7feb352du;
  h ^= h >> 15;
  return h & ts->lim_mask;
}

int tcp_limit_init(struct us_stack *s) {
  struct us_tcp_layer *ts = tcp_layer(s);
  ts->lim_salt1 = us_rand_u32(s);
  ts->lim_salt2 = us_rand_u32(s);
  if (s->cfg.tcp_listener_conn_max == 0 && s->cfg.tcp_source_conn_max == 0)
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
  free(tcp_layer(s)->lim_src);
  tcp_layer(s)->lim_src = NULL;
}

/* The slot holding (lidx, addr), or the free slot where it would go. */
static struct tcp_src_count *find(const struct us_tcp_layer *ts, uint32_t lidx, us_addr_t addr) {
  uint32_t i = slot_of(ts, lidx, addr);
  for (;;) {
    struct tcp_src_count *e = &ts->lim_src[i];
    if (e->count == 0 || (e->lidx == lidx && us_addr_eq(e->addr, addr)))
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

static void add(struct us_tcp_layer *ts, uint32_t lidx, us_addr_t addr) {
  struct tcp_src_count *e = find(ts, lidx, addr);
  if (e->count == 0) {
    e->lidx = lidx;
    e->addr = addr;
  }
  e->count++;
}

static void sub(struct us_tcp_layer *ts, uint32_t lidx, us_addr_t addr) {
  struct tcp_src_count *e = find(ts, lidx, addr);
  if (US_NEVER(e->count == 0))
    return;
  if (--e->count == 0)
    slot_free(ts, (uint32_t)(e - ts->lim_src));
}

uint32_t tcp_limit_conns(const struct us_stack *s, const struct us_tcb *l) {
  const struct us_tcp_layer *ts = tcp_layer(s);
  return ts->lim_src ? find(ts, l->idx, TOTAL)->count : 0;
}

enum tcp_limit_verdict tcp_limit_check(const struct us_stack *s, const struct us_tcb *l,
                                       us_addr_t src) {
  const struct us_tcp_layer *ts = tcp_layer(s);
  uint32_t lmax = s->cfg.tcp_listener_conn_max, smax = s->cfg.tcp_source_conn_max;
  if (!ts->lim_src)
    return TL_OK;
  if (lmax && find(ts, l->idx, TOTAL)->count >= lmax)
    return TL_LISTENER;
  if (smax && find(ts, l->idx, source_key(src))->count >= smax)
    return TL_SOURCE;
  return TL_OK;
}

void tcp_limit_charge(struct us_stack *s, struct us_tcb *l, struct us_tcb *t) {
  struct us_tcp_layer *ts = tcp_layer(s);
  if (t->lim_counted || !ts->lim_src)
    return;
  t->lim_counted = true;
  add(ts, l->idx, TOTAL);
  add(ts, l->idx, source_key(t->raddr));
}

static void uncharge_from(struct us_tcp_layer *ts, const struct us_tcb *l, struct us_tcb *t) {
  t->lim_counted = false;
  sub(ts, l->idx, TOTAL);
  sub(ts, l->idx, source_key(t->raddr));
}

void tcp_limit_uncharge(struct us_stack *s, struct us_tcb *t) {
  if (!t->lim_counted)
    return;
  /* The listener on its port is the one it was counted on: a listener
   * that goes first uncounts its connections (tcp_limit_listener_gone). */
  struct us_tcb *l = tcb_listener_lookup(s, t->laddr, t->lport);
  if (US_NEVER(!l)) {
    t->lim_counted = false;
    return;
  }
  uncharge_from(tcp_layer(s), l, t);
}

/* A listener is being freed: the connections counted on it stop counting
 * (they go on, unlimited, like any accepted connection of a closed
 * listener). Walks every TCB once; listeners close rarely. */
void tcp_limit_listener_gone(struct us_stack *s, struct us_tcb *l) {
  for (struct us_tcb *t = tcp_layer(s)->active; t; t = t->anext)
    if (t->lim_counted && t != l && t->lport == l->lport)
      uncharge_from(tcp_layer(s), l, t);
}
