/*
 * harness.c - see harness.h.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/testing.h"
#include "wire/checksum.h"
#include "wire/bytes.h"

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

/* ---- rand and log ----------------------------------------------------------- */

static uint64_t splitmix(uint64_t *st) {
  uint64_t z = (*st += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static void rand_fill(void *ctx, void *buf, size_t len) {
  struct h_rand *r = ctx;
  uint8_t *p = buf;
  while (len) {
    uint64_t v = splitmix(&r->state);
    size_t n = len < 8 ? len : 8;
    memcpy(p, &v, n);
    p += n;
    len -= n;
  }
}

struct us_rand_source h_rand_source(struct h_rand *r, uint64_t seed) {
  r->state = seed;
  return (struct us_rand_source){ .fill = rand_fill, .ctx = r };
}

static void log_line(void *ctx, enum us_log_level level, const char *line) {
  static const char *names[] = { "ERROR", "WARN", "INFO", "DEBUG", "TRACE" };
  fprintf(stderr, "%s %s %s\n", ctx ? (const char *)ctx : "stack",
          (unsigned)level < 5 ? names[level] : "?", line);
}

enum us_log_level h_log_level(void) {
  const char *v = getenv("US_TEST_LOG");
  if (!v)
    return US_LOG_ERROR;
  if (!strcmp(v, "trace"))
    return US_LOG_TRACE;
  if (!strcmp(v, "debug"))
    return US_LOG_DEBUG;
  return US_LOG_INFO;
}

struct us_log_sink h_log_sink(const char *name) {
  return (struct us_log_sink){ .fn = log_line, .ctx = (void *)name };
}

/* ---- one stack ----------------------------------------------------------------- */

void h_stack_init(struct h_stack *h, uint64_t seed, void (*tweak)(struct us_config *)) {
  memset(h, 0, sizeof *h);
  us_config_default(&h->cfg);
  h->cfg.log = h_log_sink("S");
  h->cfg.log_level = h_log_level();
  h->cfg.rand = h_rand_source(&h->rand, seed);
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

void h_input(struct h_stack *h, const uint8_t *pkt, size_t len, us_time_t now) {
  h->cap.now = now;
  us_stack_input(h->s, pkt, len, now);
}

us_time_t h_poll(struct h_stack *h, us_time_t now) {
  h->cap.now = now;
  return us_stack_poll(h->s, now);
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

/* ---- packets ------------------------------------------------------------------- */

size_t h_ip4_wrap(uint8_t *out, uint32_t src, uint32_t dst, uint8_t proto, const void *payload,
                  size_t len) {
  memset(out, 0, 20);
  out[0] = 0x45;
  us_put16(out + 2, (uint16_t)(20 + len));
  us_put16(out + 4, 0x1234);
  out[8] = 64;
  out[9] = proto;
  us_put32(out + 12, src);
  us_put32(out + 16, dst);
  us_put16(out + 10, us_csum(out, 20));
  if (len)
    memcpy(out + 20, payload, len);
  return 20 + len;
}

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
  if (!a.log.fn) {
    a.log = h_log_sink("A");
    a.log_level = h_log_level();
  }
  if (!b.log.fn) {
    b.log = h_log_sink("B");
    b.log_level = h_log_level();
  }
  a.rand = h_rand_source(&l->rand_a, seed);
  b.rand = h_rand_source(&l->rand_b, seed ^ 0xabcdef);
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

/* ---- oracle ------------------------------------------------------------------- */

uint8_t h_oracle_byte(uint64_t seed, uint64_t i) {
  uint64_t st = seed ^ (i / 8) * 0x9e3779b97f4a7c15ull;
  uint64_t v = splitmix(&st);
  return (uint8_t)(v >> (8 * (i % 8)));
}

void h_oracle_fill(uint64_t seed, uint64_t offset, uint8_t *buf, size_t len) {
  for (size_t k = 0; k < len; k++)
    buf[k] = h_oracle_byte(seed, offset + k);
}

long long h_oracle_check(uint64_t seed, uint64_t offset, const uint8_t *buf, size_t len) {
  for (size_t k = 0; k < len; k++)
    if (buf[k] != h_oracle_byte(seed, offset + k))
      return (long long)(offset + k);
  return -1;
}
