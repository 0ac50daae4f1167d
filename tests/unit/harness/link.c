/*
 * link.c - two stacks back to back on one virtual clock (see harness.h).
 */
#include "harness.h"

#include "core/testing.h"

#include <stdlib.h>
#include <string.h>

/* ---- two stacks ------------------------------------------------------------------ */

static void link_tx(struct h_link *l, int dir, const uint8_t *pkt, size_t len) {
  if (l->qlen == l->qcap) {
    l->qcap = l->qcap ? l->qcap * 2 : 256;
    l->q = realloc(l->q, l->qcap * sizeof *l->q);
    assert_non_null(l->q);
  }
  struct h_link_pkt *p = &l->q[l->qlen++];
  p->data = malloc(len ? len : 1);
  assert_non_null(p->data);
  memcpy(p->data, pkt, len);
  p->len = len;
  p->due = l->now + l->delay;
  p->dir = dir;
}

static void link_tx_a(void *ctx, const uint8_t *pkt, size_t len) { link_tx(ctx, 0, pkt, len); }
static void link_tx_b(void *ctx, const uint8_t *pkt, size_t len) { link_tx(ctx, 1, pkt, len); }

void h_link_init(struct h_link *l, const struct us_config *cfg_a, const struct us_config *cfg_b,
                 uint64_t seed, us_time_t delay) {
  memset(l, 0, sizeof *l);
  l->delay = delay;
  struct us_config a, b;
  if (cfg_a) {
    a = *cfg_a;
  } else {
    us_config_default(&a);
    a.addr = US_IP4(10, 0, 0, 1);
  }
  if (cfg_b) {
    b = *cfg_b;
  } else {
    us_config_default(&b);
    b.addr = US_IP4(10, 0, 0, 2);
  }
  if (!a.log.fn)
    h_log_config(&a, "A");
  if (!b.log.fn)
    h_log_config(&b, "B");
  a.rand = h_rand_source(&l->rand_a, h_seed(seed));
  b.rand = h_rand_source(&l->rand_b, h_seed(seed) ^ 0xabcdef);
  struct us_device da = { .tx = link_tx_a, .ctx = l }, db = { .tx = link_tx_b, .ctx = l };
  l->a = us_stack_create(&a, &da);
  l->b = us_stack_create(&b, &db);
  assert_non_null(l->a);
  assert_non_null(l->b);
  us_stack_check_invariants(l->a, true);
  us_stack_check_invariants(l->b, true);
}

void h_link_fini(struct h_link *l) {
  us_stack_destroy(l->a);
  us_stack_destroy(l->b);
  for (size_t i = 0; i < l->qlen; i++)
    free(l->q[i].data);
  free(l->q);
  memset(l, 0, sizeof *l);
}

void h_link_inject(struct h_link *l, int dir, const uint8_t *pkt, size_t len) {
  link_tx(l, dir, pkt, len);
}

/* Deliver every queued packet that is due at l->now, in queue order. */
static bool link_deliver_due(struct h_link *l) {
  bool any = false;
  size_t i = 0;
  while (i < l->qlen) {
    if (l->q[i].due > l->now) {
      i++;
      continue;
    }
    struct h_link_pkt p = l->q[i];
    memmove(&l->q[i], &l->q[i + 1], (l->qlen - i - 1) * sizeof *l->q);
    l->qlen--;
    bool pass = true;
    if (l->filter)
      pass = l->filter(l->filter_ctx, p.dir, p.data, &p.len, l->now);
    if (pass) {
      l->delivered[p.dir]++;
      us_stack_input(p.dir == 0 ? l->b : l->a, p.data, p.len, l->now);
    } else {
      l->dropped[p.dir]++;
    }
    free(p.data);
    any = true;
  }
  return any;
}

bool h_link_run(struct h_link *l, us_time_t until, bool (*done)(void *ctx), void *ctx) {
  for (;;) {
    /* Deliver what is due, then let both stacks flush (coalesced ACKs) and
     * fire their timers at the same instant. */
    link_deliver_due(l);
    us_time_t na = us_stack_poll(l->a, l->now);
    us_time_t nb = us_stack_poll(l->b, l->now);
    if (done && done(ctx))
      return true;
    us_time_t next = na < nb ? na : nb;
    bool queued_now = false;
    for (size_t i = 0; i < l->qlen; i++) {
      if (l->q[i].due < next)
        next = l->q[i].due;
      if (l->q[i].due <= l->now)
        queued_now = true;
    }
    if (queued_now)
      continue; /* zero-delay output: deliver it at this same instant */
    if (next <= l->now)
      next = l->now + 1; /* a deadline that poll did not clear: never spin */
    if (next > until) {
      l->now = until;
      return false;
    }
    l->now = next;
  }
}
