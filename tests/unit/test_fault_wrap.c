/*
 * test_fault_wrap.c - the fault injector on the daemon's link (stack/platform/fault_wrap.h):
 * the us_device and rx-sink wrappers, the loop tick, the clocks, and the
 * seed from the OS.
 *
 * On a virtual clock; statistical tolerances are a few standard deviations
 * wide and the seeds are fixed, so the runs are exact replays and cannot
 * flake. Helpers are in fault_test.h.
 */
#include "fault_test.h"
#include "platform/fault_wrap.h"

struct vclock {
  us_time_t now;
};
static us_time_t vclock_now(void *ctx) { return ((struct vclock *)ctx)->now; }

struct rxrec {
  size_t n;
  us_time_t at;
};
static void rx_record(void *ctx, const uint8_t *pkt, size_t len, const struct us_rx_meta *meta,
                      us_time_t now) {
  struct rxrec *r = ctx;
  (void)pkt;
  (void)len;
  assert_null(meta); /* the injector never passes offload metadata on */
  r->n++;
  r->at = now;
}

static void test_device_wrapper(void **state) {
  (void)state;
  struct us_fault *f = mk("tx:delay=5ms;tx:match=tcp.syn,action=drop", 1);
  struct sink *s = sink_new(f);
  struct vclock vc = { 1000 };
  struct us_device inner = { sink_deliver, s };
  struct us_fault_wrap w;
  us_fault_wrap_init(&w, f);
  struct us_device dev = us_fault_wrap_tx(&w, &inner, vclock_now, &vc);
  uint8_t b[MAXPKT];
  size_t len = mk_tcp(b, IP_A, IP_B, 1, 2, 0x02, 0, 1);
  dev.tx(dev.ctx, b, len);
  len = mk_tcp(b, IP_A, IP_B, 1, 2, 0x10, 0, 2);
  dev.tx(dev.ctx, b, len);
  assert_int_equal(s->n, 0);
  assert_int_equal(us_fault_next_deadline(f), 6000);
  vc.now = 6000;
  assert_int_equal(us_fault_poll(f, vc.now), US_TIME_NEVER);
  assert_int_equal(s->n, 1);
  assert_int_equal(s->id[0], 2);
  assert_int_equal(s->t[0], 6000);
  us_fault_destroy(f);
  free(s);

  /* The RX sink wrapper hands on the release time; the tick releases. */
  f = mk("rx:delay=3ms", 1);
  struct rxrec r = { 0, 0 };
  struct us_rx_sink in = { rx_record, &r };
  us_fault_wrap_init(&w, f);
  struct us_rx_sink rx = us_fault_wrap_rx(&w, &in);
  len = mk_udp(b, 1, 2, 8, 5);
  rx.rx(rx.ctx, b, len, NULL, 100);
  assert_int_equal(r.n, 0);
  assert_int_equal(us_fault_tick(f, 3099), 3100);
  assert_int_equal(us_fault_tick(f, 3150), US_TIME_NEVER);
  assert_int_equal(r.n, 1);
  assert_int_equal(r.at, 3150);
  us_time_t t = 77;
  assert_int_equal(us_fault_clock_ref(&t), 77);
  /* A clock set later drives the TX wrapper. */
  struct sink *s2 = sink_new(f);
  struct us_device inner2 = { sink_deliver, s2 };
  struct us_device dev2 = us_fault_wrap_tx(&w, &inner2, NULL, NULL);
  t = 5000;
  us_fault_wrap_set_clock(&w, us_fault_clock_ref, &t);
  dev2.tx(dev2.ctx, b, len);
  assert_int_equal(s2->n, 1);
  assert_int_equal(s2->t[0], 5000);
  free(s2);
  us_fault_destroy(f);
  us_fault_destroy(NULL);
  assert_true(us_fault_seed_from_os() != us_fault_seed_from_os());
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_device_wrapper),
  };
  return H_RUN("fault_wrap", tests);
}
