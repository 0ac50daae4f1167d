/*
 * test_fault_replay.c - the fault injector replays from its seed: the same seed gives the same
 * decisions bit for bit, another seed others, and each direction has its
 * own stream, so traffic one way does not move the other way's choices.
 *
 * On a virtual clock; statistical tolerances are a few standard deviations
 * wide and the seeds are fixed, so the runs are exact replays and cannot
 * flake. Helpers are in fault_test.h.
 */
#include "fault_test.h"

/* ---- 2. Determinism ----------------------------------------------------- */

struct tracelog {
  uint64_t hash;
  size_t n;
};

static void trace_hash(void *ctx, const struct us_fault_event *ev) {
  struct tracelog *t = ctx;
  uint64_t v[5] = { (uint64_t)ev->dir, (uint64_t)ev->kind, ev->pkt_index, (uint64_t)ev->now,
                    (uint64_t)ev->arg };
  for (int i = 0; i < 5; i++) {
    t->hash ^= v[i];
    t->hash *= 0x100000001b3ull; /* FNV-1a style mixing */
  }
  t->n++;
}

static uint64_t run_mixed(uint64_t seed, size_t *nevents) {
  struct us_fault *f =
      mk("both:loss=5%,burst=2;both:dup=3%;both:reorder=3%,gap=2;"
         "both:corrupt=2%,bits=2;tx:delay=10ms,jitter=3ms;tx:truncate=1%",
         seed);
  struct sink *s = sink_new(f);
  struct tracelog t = { 0xcbf29ce484222325ull, 0 };
  us_fault_set_trace(f, trace_hash, &t);
  uint8_t b[MAXPKT];
  us_time_t now = 0;
  for (uint32_t i = 0; i < 3000; i++) {
    size_t len = mk_tcp(b, IP_A, IP_B, 1000, 80, 0x10, 100 + i % 900, i);
    us_fault_process(f, (enum us_fault_dir)(i % 2), b, len, now, sink_deliver, s);
    now += 500;
    us_fault_poll(f, now);
  }
  drain(f, now, now + 10000000);
  assert_int_equal(us_fault_held(f), 0);
  assert_int_equal(us_fault_seed(f), seed);
  *nevents = t.n;
  us_fault_destroy(f);
  free(s);
  return t.hash;
}

static void test_determinism(void **state) {
  (void)state;
  size_t n1, n2, n3;
  uint64_t h1 = run_mixed(42, &n1);
  uint64_t h2 = run_mixed(42, &n2);
  uint64_t h3 = run_mixed(43, &n3);
  assert_true(n1 > 3000);
  assert_int_equal(n1, n2);
  assert_true(h1 == h2);
  assert_true(h1 != h3);
}

/* TX decisions do not depend on RX traffic: each direction has its own
 * PRNG stream, so adding or removing traffic one way replays the other. */
struct txlog {
  uint64_t hash;
  size_t n; /* TX fault events seen: an empty trace would hash equal too */
};
static void trace_tx_only(void *ctx, const struct us_fault_event *ev) {
  struct txlog *t = ctx;
  if (ev->dir != US_FAULT_TX || ev->kind == US_FAULT_EV_DELIVER)
    return;
  uint64_t v[3] = { (uint64_t)ev->kind, ev->pkt_index, (uint64_t)ev->arg };
  for (int i = 0; i < 3; i++) {
    t->hash ^= v[i];
    t->hash *= 0x100000001b3ull;
  }
  t->n++;
}

static uint64_t run_tx(bool with_rx, size_t *nevents) {
  struct us_fault *f = mk("both:loss=10%,burst=2;both:dup=5%;both:corrupt=5%,bits=3", 99);
  struct sink *s = sink_new(f);
  struct txlog t = { 0xcbf29ce484222325ull, 0 };
  us_fault_set_trace(f, trace_tx_only, &t);
  uint8_t b[MAXPKT];
  for (uint32_t i = 0; i < 2000; i++) {
    size_t len = mk_udp(b, 1, 2, 50 + i % 50, i);
    us_fault_process(f, US_FAULT_TX, b, len, i, sink_deliver, s);
    if (with_rx && i % 3 == 0)
      for (int k = 0; k < 1 + (int)(i % 4); k++)
        us_fault_process(f, US_FAULT_RX, b, len, i, sink_deliver, s);
  }
  us_fault_destroy(f);
  free(s);
  *nevents = t.n;
  return t.hash;
}

static void test_direction_independence(void **state) {
  (void)state;
  size_t n_alone, n_mixed;
  uint64_t alone = run_tx(false, &n_alone);
  uint64_t mixed = run_tx(true, &n_mixed);
  /* 2000 packets at 10% loss, 5% dup, 5% corrupt: hundreds of TX events.
   * Two empty traces would also hash equal, so require that there were some. */
  assert_true(n_alone > 100);
  assert_int_equal(n_alone, n_mixed);
  assert_true(alone == mixed);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_determinism),
    cmocka_unit_test(test_direction_independence),
  };
  return H_RUN("fault_replay", tests);
}
