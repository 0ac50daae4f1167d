/*
 * harness.c - see harness.h.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/testing.h"

/* ---- capture -------------------------------------------------------------- */

static void capture_tx(void *ctx, const uint8_t *pkt, size_t len) {
  struct h_capture *c = ctx;
  if (c->count == c->cap) {
    c->cap = c->cap ? c->cap * 2 : 64;
    c->pkts = realloc(c->pkts, c->cap * sizeof *c->pkts);
    assert_non_null(c->pkts);
  }
  struct h_pkt *p = &c->pkts[c->count++];
  p->data = malloc(len ? len : 1);
  assert_non_null(p->data);
  memcpy(p->data, pkt, len);
  p->len = len;
  p->at = c->now;
}

struct us_device h_capture_device(struct h_capture *c) {
  return (struct us_device){ .tx = capture_tx, .ctx = c };
}

const struct h_pkt *h_capture_take(struct h_capture *c) {
  return c->next < c->count ? &c->pkts[c->next++] : NULL;
}

size_t h_capture_pending(const struct h_capture *c) { return c->count - c->next; }

void h_capture_reset(struct h_capture *c) {
  for (size_t i = 0; i < c->count; i++)
    free(c->pkts[i].data);
  free(c->pkts);
  c->pkts = NULL;
  c->count = c->cap = c->next = 0;
}

/* ---- one stack ----------------------------------------------------------------- */

void h_stack_init(struct h_stack *h, uint64_t seed, void (*tweak)(struct us_config *)) {
  memset(h, 0, sizeof *h);
  us_config_default(&h->cfg);
  h_log_config(&h->cfg, "S");
  h->cfg.rand = h_rand_source(&h->rand, h_seed(seed));
  if (tweak)
    tweak(&h->cfg);
  struct us_device dev = h_capture_device(&h->cap);
  h->s = us_stack_create(&h->cfg, &dev);
  assert_non_null(h->s);
  us_stack_check_invariants(h->s, true);
}

void h_stack_fini(struct h_stack *h) {
  us_stack_destroy(h->s);
  h->s = NULL;
  h_capture_reset(&h->cap);
}

struct h_stack *h_stack_new(uint64_t seed, void (*tweak)(struct us_config *)) {
  struct h_stack *h = calloc(1, sizeof *h);
  assert_non_null(h);
  h_stack_init(h, seed, tweak);
  return h;
}

void h_stack_free(struct h_stack *h) {
  if (!h)
    return;
  h_stack_fini(h);
  free(h);
}

int h_teardown(void **state) {
  h_stack_free(*state);
  *state = NULL;
  return 0;
}

int h_teardown_full(void **state) {
  struct h_stack *h = *state;
  h_assert_pools_full(h->s);
  return h_teardown(state);
}

int h_teardown_drained(void **state) {
  struct h_stack *h = *state;
  h_poll(h, US_SEC(100000));
  h_capture_reset(&h->cap);
  h_assert_pools_full(h->s);
  return h_teardown(state);
}

void h_input(struct h_stack *h, const uint8_t *pkt, size_t len, us_time_t now) {
  h->cap.now = now;
  us_stack_input(h->s, pkt, len, now);
}

us_time_t h_poll(struct h_stack *h, us_time_t now) {
  h->cap.now = now;
  return us_stack_poll(h->s, now);
}

struct us_pool_usage h_pool_usage(us_stack *s) {
  struct us_pool_usage u;
  us_stack_pool_usage(s, &u);
  return u;
}

void h_assert_pools_full(us_stack *s) {
  struct us_pool_usage u;
  us_stack_pool_usage(s, &u);
  if (!us_stack_pools_full(s)) {
    fprintf(stderr, "pools not full: pkt %u/%u big %u/%u tcb %u/%u udp %u/%u reass %u ooo %u\n",
            u.pkt_free, u.pkt_total, u.big_free, u.big_total, u.tcb_free, u.tcb_total, u.udp_free,
            u.udp_total, u.reass_active, u.ooo_bytes);
  }
  assert_true(us_stack_pools_full(s));
}

void h_snap_take(us_stack *s, struct h_snap *sn) {
  for (int i = 0; i < US_STAT_COUNT; i++)
    sn->v[i] = us_stack_stat(s, (enum us_stat)i);
}

uint64_t h_snap_delta(us_stack *s, const struct h_snap *sn, enum us_stat id) {
  return us_stack_stat(s, id) - sn->v[id];
}

void h_finish(struct h_stack *h, us_time_t now) {
  us_time_t end = now + h->cfg.reass_timeout + US_SEC(300);
  for (int i = 0; i < 100000; i++) {
    us_time_t d = h_poll(h, now);
    if (d == US_TIME_NEVER || d > end)
      break;
    now = d > now ? d : now + 1; /* a deadline poll did not clear: never spin */
  }
  h_poll(h, end);
  h_capture_reset(&h->cap);
  h_assert_pools_full(h->s);
}

uint64_t h_stat(struct h_stack *h, enum us_stat id) { return us_stack_stat(h->s, id); }
