/*
 * test_fault_runtime.c - the fault injector at run time: replacing and clearing the spec, the
 * bounded slot pool, re-entrant delivery and the control-socket commands.
 *
 * On a virtual clock; statistical tolerances are a few standard deviations
 * wide and the seeds are fixed, so the runs are exact replays and cannot
 * flake. Helpers are in fault_test.h.
 */
#include "fault_test.h"

/* ---- 12. Run-time changes, memory bounds, re-entrancy, the wrapper ------ */

static void test_set_and_clear(void **state) {
  (void)state;
  struct us_fault *f = mk("loss=100%", 1);
  struct sink *s = sink_new(f);
  uint8_t b[MAXPKT];
  size_t len = mk_udp(b, 1, 2, 8, 1);
  us_fault_process(f, US_FAULT_RX, b, len, 0, sink_deliver, s);
  assert_int_equal(s->n, 0);
  char err[256] = "";
  assert_int_equal(us_fault_set(f, "loss=7", err, sizeof err), -1);
  assert_non_null(strstr(err, "not a percentage"));
  assert_string_equal(us_fault_spec(f), "loss=100%"); /* old spec kept */
  us_fault_process(f, US_FAULT_RX, b, len, 1, sink_deliver, s);
  assert_int_equal(s->n, 0);
  us_fault_clear(f);
  assert_string_equal(us_fault_spec(f), "");
  us_fault_process(f, US_FAULT_RX, b, len, 2, sink_deliver, s);
  assert_int_equal(s->n, 1);
  struct us_fault_counters c;
  us_fault_counters(f, US_FAULT_RX, &c);
  assert_int_equal(c.lost, 2); /* counters survive a set */

  char line[512];
  int n = us_fault_format(f, line, sizeof line);
  assert_true(n > 0 && (size_t)n < sizeof line);
  assert_non_null(strstr(line, "fault seed=1 rx: seen=3 delivered=1 dropped=2 lost=2"));
  assert_non_null(strstr(line, "tx: seen=0\n"));
  assert_int_equal(us_fault_format(f, NULL, 0), n);
  /* Truncated output is still terminated. */
  char tiny[8];
  assert_int_equal(us_fault_format(f, tiny, sizeof tiny), n);
  assert_int_equal(strlen(tiny), 7);
  us_fault_counters_reset(f);
  us_fault_counters(f, US_FAULT_RX, &c);
  assert_int_equal(c.seen, 0);
  assert_int_equal(us_fault_counter_count(), 15);
  assert_string_equal(us_fault_counter_name(0), "seen");
  assert_null(us_fault_counter_name(15));
  assert_non_null(us_fault_counter_desc(3));
  c.lost = 9;
  assert_int_equal(us_fault_counter_value(&c, 3), 9);
  us_fault_destroy(f);
  free(s);
}

static void test_queue_full(void **state) {
  (void)state;
  struct us_fault_limits lim = { 4, 256 };
  char err[128];
  struct us_fault *f = us_fault_create_ex("tx:delay=10ms", 1, &lim, err, sizeof err);
  assert_non_null(f);
  struct sink *s = sink_new(f);
  uint8_t b[MAXPKT];
  for (uint32_t i = 0; i < 10; i++) {
    size_t len = mk_udp(b, 1, 2, 8, i);
    us_fault_process(f, US_FAULT_TX, b, len, 0, sink_deliver, s);
  }
  /* Too big for a slot. */
  size_t len = mk_udp(b, 1, 2, 500, 99);
  us_fault_process(f, US_FAULT_TX, b, len, 0, sink_deliver, s);
  assert_int_equal(us_fault_held(f), 4);
  drain(f, 0, 1000000);
  assert_int_equal(s->n, 4);
  struct us_fault_counters c;
  us_fault_counters(f, US_FAULT_TX, &c);
  assert_int_equal(c.queue_full, 7);
  assert_int_equal(c.dropped, 7);
  /* Slots come back. */
  for (uint32_t i = 0; i < 4; i++) {
    len = mk_udp(b, 1, 2, 8, 100 + i);
    us_fault_process(f, US_FAULT_TX, b, len, 2000000, sink_deliver, s);
  }
  drain(f, 2000000, 3000000);
  assert_int_equal(s->n, 8);
  us_fault_destroy(f);
  free(s);
  assert_null(us_fault_create_ex("", 1, &(struct us_fault_limits){ 1u << 21, 0 }, err, sizeof err));

  /* The books balance whatever drops what: dup + truncate + corrupt in
   * front of a short shaper queue and a small slot pool. */
  struct us_fault_limits lim2 = { 16, 2048 };
  f = us_fault_create_ex(
      "tx:dup=30%,copies=2;tx:truncate=20%;tx:corrupt=20%;"
      "tx:rate=1mbit,qlen=8;tx:reorder=10%;tx:loss=5%",
      3, &lim2, err, sizeof err);
  assert_non_null(f);
  s = sink_new(f);
  us_time_t now = 0;
  for (uint32_t i = 0; i < 3000; i++, now += 300) {
    len = mk_udp(b, 1, 2, 200 + i % 700, i);
    us_fault_process(f, US_FAULT_TX, b, len, now, sink_deliver, s);
  }
  drain(f, now, now + 100000000);
  assert_int_equal(us_fault_held(f), 0);
  us_fault_counters(f, US_FAULT_TX, &c);
  assert_int_equal(c.seen + c.duplicated, c.delivered + c.dropped);
  assert_int_equal(c.dropped, c.lost + c.rate_dropped + c.queue_full);
  assert_true(c.rate_dropped > 0 && c.duplicated > 0 && c.lost > 0);
  assert_int_equal(s->n, c.delivered);
  us_fault_destroy(f);
  free(s);
  assert_non_null(strstr(err, "limits"));
}

/* A sink that answers every packet at once, through the other direction,
 * for a while: the nested calls must not recurse without bound. */
struct echo {
  struct us_fault *f;
  int depth, max_depth;
  uint32_t left;
  size_t got;
};

static void echo_deliver(void *ctx, const uint8_t *pkt, size_t len) {
  struct echo *e = ctx;
  e->got++;
  e->depth++;
  if (e->depth > e->max_depth)
    e->max_depth = e->depth;
  if (e->left > 0) {
    e->left--;
    int dir = pkt[0] == 0x45 && pkt[1] == 1 ? US_FAULT_RX : US_FAULT_TX;
    uint8_t b[64];
    memcpy(b, pkt, len < sizeof b ? len : sizeof b);
    b[1] = dir == US_FAULT_RX ? 0 : 1;
    us_fault_process(e->f, (enum us_fault_dir)dir, b, len < sizeof b ? len : sizeof b,
                     us_fault_now(e->f), echo_deliver, e);
  }
  e->depth--;
}

static void test_reentrancy(void **state) {
  (void)state;
  struct us_fault *f = mk("both:dup=20%", 1);
  struct echo e = { f, 0, 0, 5000, 0 };
  uint8_t b[64];
  size_t len = mk_udp(b, 1, 2, 8, 1);
  us_fault_process(f, US_FAULT_TX, b, len, 0, echo_deliver, &e);
  drain(f, 0, 0);
  assert_int_equal(us_fault_held(f), 0);
  assert_true(e.got > 5000);
  assert_true(e.max_depth <= 2);
  us_fault_destroy(f);
}

static void test_ctl_commands(void **state) {
  (void)state;
  char out[1024];
  assert_int_equal(us_fault_ctl_command(NULL, "ss", out, sizeof out), 0);
  assert_int_equal(us_fault_ctl_command(NULL, "faulty", out, sizeof out), 0);
  assert_int_equal(us_fault_ctl_command(NULL, "fault show", out, sizeof out), 1);
  assert_non_null(strstr(out, "error: no fault injector"));
  struct us_fault *f = mk("rx:loss=100%", 9);
  assert_int_equal(us_fault_ctl_command(f, "fault show", out, sizeof out), 1);
  assert_non_null(strstr(out, "spec: 'rx:loss=100%'\nseed: 9\n"));
  assert_non_null(strstr(out, "fault seed=9 rx: seen=0"));
  assert_int_equal(us_fault_ctl_command(f, "fault set tx:loss=5", out, sizeof out), 1);
  assert_non_null(
      strstr(out, "error: fault spec clause 1 'tx:loss=5': loss: '5' is not a percentage"));
  assert_string_equal(us_fault_spec(f), "rx:loss=100%");
  assert_int_equal(us_fault_ctl_command(f, "fault set tx:dup=1%", out, sizeof out), 1);
  assert_string_equal(out, "ok: fault spec set: 'tx:dup=1%' (seed 9)\n");
  assert_string_equal(us_fault_spec(f), "tx:dup=1%");
  assert_int_equal(us_fault_ctl_command(f, "fault clear", out, sizeof out), 1);
  assert_string_equal(us_fault_spec(f), "");
  assert_int_equal(us_fault_ctl_command(f, "fault reset", out, sizeof out), 1);
  assert_string_equal(out, "ok: fault counters reset\n");
  assert_int_equal(us_fault_ctl_command(f, "fault explode", out, sizeof out), 1);
  assert_non_null(strstr(out, "unknown fault command 'explode'"));
  char tiny[4];
  assert_int_equal(us_fault_ctl_command(f, "fault show", tiny, sizeof tiny), 1);
  assert_int_equal(strlen(tiny), 3);
  us_fault_destroy(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_set_and_clear),
    cmocka_unit_test(test_queue_full),
    cmocka_unit_test(test_reentrancy),
    cmocka_unit_test(test_ctl_commands),
  };
  return H_RUN("fault_runtime", tests);
}
