/*
 * test_fault_timing.c - the fault injector's impairments that move a packet in time:
 * reordering (by gap and by hold time), delay with jitter (order kept) and
 * the rate limiter (token-bucket envelope, queue limit).
 *
 * On a virtual clock; statistical tolerances are a few standard deviations
 * wide and the seeds are fixed, so the runs are exact replays and cannot
 * flake. Helpers are in fault_test.h.
 */
#include "fault_test.h"

/* ---- 5. Reordering ------------------------------------------------------ */

struct reolog {
  size_t at_hold[SINK_MAX];   /* deliveries so far when packet i was held */
  size_t at_hold_h[SINK_MAX]; /* ... of which releases of held packets */
  us_time_t hold_t[SINK_MAX];
  uint8_t held[SINK_MAX];
  size_t deliveries, held_releases;
  size_t gaps_checked, exact;
  uint32_t want_gap;
  us_time_t valve;
  bool bad;
};

static void trace_reorder(void *ctx, const struct us_fault_event *ev) {
  struct reolog *r = ctx;
  if (ev->pkt_index >= SINK_MAX)
    return;
  if (ev->kind == US_FAULT_EV_REORDER) {
    r->held[ev->pkt_index] = 1;
    r->at_hold[ev->pkt_index] = r->deliveries;
    r->at_hold_h[ev->pkt_index] = r->held_releases;
    r->hold_t[ev->pkt_index] = ev->now;
  } else if (ev->kind == US_FAULT_EV_DELIVER) {
    if (r->held[ev->pkt_index]) {
      if (ev->now - r->hold_t[ev->pkt_index] < r->valve) {
        /* Released by the gap: `gap` deliveries went by, plus perhaps
         * other held packets whose gap ran out at the same moment. */
        size_t d = r->deliveries - r->at_hold[ev->pkt_index];
        size_t h = r->held_releases - r->at_hold_h[ev->pkt_index];
        if (d < r->want_gap || d - h > r->want_gap)
          r->bad = true;
        if (d == r->want_gap)
          r->exact++;
        r->gaps_checked++;
      }
      r->held_releases++;
    }
    r->deliveries++;
  }
}

static void test_reorder_gap(void **state) {
  (void)state;
  struct us_fault *f = mk("rx:reorder=5%,gap=3,hold=10s", 11);
  struct sink *s = sink_new(f);
  struct reolog *r = calloc(1, sizeof *r);
  assert_non_null(r);
  r->want_gap = 3;
  r->valve = 10000000;
  us_fault_set_trace(f, trace_reorder, r);
  uint8_t b[MAXPKT];
  const uint32_t n = 20000;
  us_time_t now = 0;
  for (uint32_t i = 0; i < n; i++, now += 1000) {
    size_t len = mk_udp(b, 1, 2, 8, i);
    us_fault_process(f, US_FAULT_RX, b, len, now, sink_deliver, s);
  }
  /* The last held packets have no followers: the 10 s hold frees them. */
  drain(f, now, now + 20000000);
  struct us_fault_counters c;
  us_fault_counters(f, US_FAULT_RX, &c);
  assert_int_equal(c.delivered, n);
  assert_int_equal(us_fault_held(f), 0);
  double p = (double)c.reordered / n;
  assert_true(p > 0.044 && p < 0.056);
  assert_false(r->bad);
  /* All but possibly the last few were released by the gap, nearly all
   * after exactly 3 others. */
  assert_true(r->gaps_checked + 3 >= c.reordered);
  assert_true(r->exact * 10 >= r->gaps_checked * 9);
  /* A permutation: every id once. */
  uint8_t *seen = calloc(n, 1);
  assert_non_null(seen);
  size_t out_of_order = 0;
  for (size_t i = 0; i < s->n; i++) {
    assert_true(s->id[i] < n);
    assert_int_equal(seen[s->id[i]], 0);
    seen[s->id[i]] = 1;
    if (i > 0 && s->id[i] < s->id[i - 1])
      out_of_order++;
  }
  assert_true(out_of_order > 0 && out_of_order <= c.reordered);
  free(seen);
  free(r);
  free(s);
  us_fault_destroy(f);
}

static void test_reorder_hold_time(void **state) {
  (void)state;
  /* Time only: every packet comes out exactly 50 ms after it went in. */
  struct us_fault *f = mk("tx:reorder=100%,hold=50ms", 1);
  struct sink *s = sink_new(f);
  uint8_t b[MAXPKT];
  us_time_t now = 0;
  for (uint32_t i = 0; i < 100; i++, now += 7000) {
    size_t len = mk_udp(b, 1, 2, 8, i);
    us_fault_process(f, US_FAULT_TX, b, len, now, sink_deliver, s);
    assert_true(us_fault_next_deadline(f) <= now + 50000);
    drain(f, now, now + 6999);
  }
  drain(f, now, now + 1000000);
  assert_int_equal(s->n, 100);
  for (size_t i = 0; i < s->n; i++) {
    assert_int_equal(s->id[i], i);
    assert_int_equal(s->t[i], (us_time_t)i * 7000 + 50000);
  }
  us_fault_destroy(f);
  free(s);

  /* gap alone on an idle link: the 100 ms safety valve. */
  f = mk("tx:reorder=100%,gap=1", 1);
  s = sink_new(f);
  size_t len = mk_udp(b, 1, 2, 8, 9);
  us_fault_process(f, US_FAULT_TX, b, len, 1000, sink_deliver, s);
  assert_int_equal(s->n, 0);
  assert_int_equal(us_fault_next_deadline(f), 101000);
  assert_int_equal(us_fault_poll(f, 100999), 101000);
  assert_int_equal(s->n, 0);
  assert_int_equal(us_fault_poll(f, 101000), US_TIME_NEVER);
  assert_int_equal(s->n, 1);
  us_fault_destroy(f);
  free(s);
}

/* ---- 8. Delay and jitter ------------------------------------------------ */

static void test_delay_jitter(void **state) {
  (void)state;
  struct us_fault *f = mk("tx:delay=20ms,jitter=5ms", 21);
  struct sink *s = sink_new(f);
  uint8_t b[MAXPKT];
  const uint32_t n = 4000;
  us_time_t now = 0, step = 10000;
  us_time_t in[4000];
  for (uint32_t i = 0; i < n; i++, now += step) {
    size_t len = mk_udp(b, 1, 2, 8, i);
    in[i] = now;
    us_fault_process(f, US_FAULT_TX, b, len, now, sink_deliver, s);
    drain(f, now, now + step - 1);
  }
  drain(f, now, now + 1000000);
  assert_int_equal(s->n, n);
  double sum = 0, lo = 1e18, hi = 0;
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(s->id[i], i); /* order kept */
    us_time_t d = s->t[i] - in[i];
    assert_true(d >= 15000 && d <= 25000);
    sum += (double)d;
    if (d < lo)
      lo = (double)d;
    if (d > hi)
      hi = (double)d;
  }
  double mean = sum / n;
  assert_true(mean > 19800 && mean < 20200);
  assert_true(lo < 15300 && hi > 24700); /* the whole range is used */
  struct us_fault_counters c;
  us_fault_counters(f, US_FAULT_TX, &c);
  assert_int_equal(c.delayed, n);
  us_fault_destroy(f);
  free(s);

  /* Dense traffic: jitter larger than the spacing never reorders. */
  f = mk("rx:delay=10ms,jitter=10ms", 22);
  s = sink_new(f);
  now = 0;
  for (uint32_t i = 0; i < 2000; i++, now += 100) {
    size_t len = mk_udp(b, 1, 2, 8, i);
    us_fault_process(f, US_FAULT_RX, b, len, now, sink_deliver, s);
    drain(f, now, now + 99);
  }
  drain(f, now, now + 1000000);
  assert_int_equal(s->n, 2000);
  for (size_t i = 1; i < s->n; i++) {
    assert_int_equal(s->id[i], i);
    assert_true(s->t[i] >= s->t[i - 1]);
  }
  us_fault_destroy(f);
  free(s);
}

/* ---- 9. Rate limit ------------------------------------------------------ */

static void test_rate_limit(void **state) {
  (void)state;
  /* 1 Mbit/s = 125000 B/s, bucket 3000 B; offer 1000-byte packets at
   * 1 MB/s for 0.5 s. */
  struct us_fault *f = mk("tx:rate=1mbit,bucket=3000B,qlen=1000", 1);
  struct sink *s = sink_new(f);
  uint8_t b[MAXPKT];
  us_time_t now = 0;
  const uint32_t n = 500;
  for (uint32_t i = 0; i < n; i++, now += 1000) {
    size_t len = mk_udp(b, 1, 2, 1000 - 28, i);
    assert_int_equal(len, 1000);
    us_fault_process(f, US_FAULT_TX, b, len, now, sink_deliver, s);
    drain(f, now, now + 999);
  }
  drain(f, now, now + 100000000);
  assert_int_equal(s->n, n);
  /* Token bucket envelope: by time t at most bucket + rate*t + one packet. */
  uint64_t bytes = 0;
  for (size_t i = 0; i < s->n; i++) {
    assert_int_equal(s->id[i], i);
    bytes += s->len[i];
    double allowed = 3000 + 125000.0 * (double)s->t[i] / 1e6 + 1000;
    assert_true((double)bytes <= allowed);
  }
  /* Long-run rate: 500 kB at 125 kB/s -> about 3.98 s for the last. */
  double last = (double)s->t[n - 1] / 1e6;
  assert_true(last > 3.9 && last < 4.05);
  struct us_fault_counters c;
  us_fault_counters(f, US_FAULT_TX, &c);
  assert_true(c.rate_queued > 450);
  assert_int_equal(c.rate_dropped, 0);
  us_fault_destroy(f);
  free(s);

  /* A short queue overflows: drops are counted, the rest still arrives. */
  f = mk("tx:rate=1mbit,bucket=3000B,qlen=10", 1);
  s = sink_new(f);
  now = 0;
  for (uint32_t i = 0; i < n; i++, now += 1000) {
    size_t len = mk_udp(b, 1, 2, 1000 - 28, i);
    us_fault_process(f, US_FAULT_TX, b, len, now, sink_deliver, s);
    drain(f, now, now + 999);
  }
  drain(f, now, now + 100000000);
  us_fault_counters(f, US_FAULT_TX, &c);
  assert_true(c.rate_dropped > 300);
  assert_int_equal(c.delivered + c.rate_dropped, n);
  assert_int_equal(c.dropped, c.rate_dropped);
  assert_int_equal(s->n, c.delivered);
  /* What got through was sent at the rate: about 0.5 s * 125 kB/s. */
  assert_true(s->n > 65 && s->n < 85);
  us_fault_destroy(f);
  free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_reorder_gap),
    cmocka_unit_test(test_reorder_hold_time),
    cmocka_unit_test(test_delay_jitter),
    cmocka_unit_test(test_rate_limit),
  };
  return H_RUN("fault_timing", tests);
}
