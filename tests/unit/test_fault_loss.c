/*
 * test_fault_loss.c - the fault injector's random impairments that change or remove a packet,
 * each measured on many packets: loss (independent and in bursts),
 * duplication, corruption (exact bit positions) and truncation.
 *
 * On a virtual clock; statistical tolerances are a few standard deviations
 * wide and the seeds are fixed, so the runs are exact replays and cannot
 * flake. Helpers are in fault_test.h.
 */
#include "fault_test.h"

/* ---- 3. Loss ------------------------------------------------------------ */

struct losslog {
  uint8_t lost[SINK_MAX];
};

static void trace_loss(void *ctx, const struct us_fault_event *ev) {
  struct losslog *l = ctx;
  if (ev->kind == US_FAULT_EV_LOSS && ev->pkt_index < SINK_MAX)
    l->lost[ev->pkt_index] = 1;
}

/* Loss rate and mean length of runs of consecutive losses. */
static void measure_loss(const char *spec, size_t n, double *rate, double *mean_run) {
  struct us_fault *f = mk(spec, 7);
  struct sink *s = sink_new(f);
  struct losslog *l = calloc(1, sizeof *l);
  assert_non_null(l);
  us_fault_set_trace(f, trace_loss, l);
  uint8_t b[MAXPKT];
  for (uint32_t i = 0; i < n; i++) {
    size_t len = mk_udp(b, 1, 2, 8, i);
    us_fault_process(f, US_FAULT_RX, b, len, i, sink_deliver, s);
  }
  struct us_fault_counters c;
  us_fault_counters(f, US_FAULT_RX, &c);
  assert_int_equal(c.seen, n);
  assert_int_equal(c.delivered + c.lost, n);
  assert_int_equal(c.dropped, c.lost);
  assert_int_equal(s->n, c.delivered);
  size_t runs = 0, lost = 0;
  for (size_t i = 0; i < n; i++) {
    if (l->lost[i]) {
      lost++;
      if (i == 0 || !l->lost[i - 1])
        runs++;
    }
  }
  assert_int_equal(lost, c.lost);
  /* Every delivered packet is one that was not lost, in order. */
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (!l->lost[i])
      assert_int_equal(s->id[k++], i);
  *rate = (double)lost / (double)n;
  *mean_run = runs ? (double)lost / (double)runs : 0;
  free(l);
  free(s);
  us_fault_destroy(f);
}

static void test_loss_rate(void **state) {
  (void)state;
  double rate, run;
  measure_loss("rx:loss=10%", 50000, &rate, &run);
  /* sd of the rate = sqrt(p(1-p)/n) = 0.13%: allow 0.7%. */
  assert_true(rate > 0.093 && rate < 0.107);
  /* Independent losses: mean run 1/(1-p) = 1.11. */
  assert_true(run > 1.05 && run < 1.18);

  measure_loss("rx:loss=0%", 1000, &rate, &run);
  assert_true(rate == 0);
  measure_loss("rx:loss=100%", 1000, &rate, &run);
  assert_true(rate == 1);
  measure_loss("tx:loss=50%", 1000, &rate, &run); /* other direction */
  assert_true(rate == 0);
}

static void test_loss_burst(void **state) {
  (void)state;
  double rate, run;
  measure_loss("rx:loss=10%,burst=4", 50000, &rate, &run);
  /* Bursts widen the spread (sd ~ 0.5% here): allow 2%. */
  assert_true(rate > 0.08 && rate < 0.12);
  /* Mean Bad sojourn = 4 packets. */
  assert_true(run > 3.6 && run < 4.4);
}

/* ---- 4. Duplication ----------------------------------------------------- */

static void test_dup(void **state) {
  (void)state;
  struct us_fault *f = mk("tx:dup=5%,copies=2", 3);
  struct sink *s = sink_new(f);
  uint8_t b[MAXPKT];
  const uint32_t n = 20000;
  for (uint32_t i = 0; i < n; i++) {
    size_t len = mk_tcp(b, IP_A, IP_B, 5, 6, 0x18, 10, i);
    us_fault_process(f, US_FAULT_TX, b, len, (us_time_t)i * 10, sink_deliver, s);
  }
  struct us_fault_counters c;
  us_fault_counters(f, US_FAULT_TX, &c);
  assert_int_equal(c.delivered, n + c.duplicated);
  assert_int_equal(s->n, c.delivered);
  assert_int_equal(c.duplicated % 2, 0);
  double dups = (double)c.duplicated / 2 / n; /* packets duplicated */
  assert_true(dups > 0.044 && dups < 0.056);
  /* Copies arrive right after their original; ids never go backwards. */
  size_t extra = 0;
  for (size_t i = 1; i < s->n; i++) {
    assert_true(s->id[i] >= s->id[i - 1]);
    if (s->id[i] == s->id[i - 1])
      extra++;
  }
  assert_int_equal(extra, c.duplicated);
  us_fault_destroy(f);
  free(s);
}

/* ---- 6. Corruption ------------------------------------------------------ */

struct flips {
  int64_t pos[64];
  size_t n;
};

static void trace_flips(void *ctx, const struct us_fault_event *ev) {
  struct flips *fl = ctx;
  if (ev->kind == US_FAULT_EV_CORRUPT && fl->n < 64)
    fl->pos[fl->n++] = ev->arg;
}

static void test_corrupt_exact_bits(void **state) {
  (void)state;
  for (uint32_t bits = 1; bits <= 16; bits *= 2) {
    char spec[64];
    snprintf(spec, sizeof spec, "tx:corrupt=100%%,bits=%u", bits);
    struct us_fault *f = mk(spec, bits);
    struct sink *s = sink_new(f);
    struct flips fl;
    us_fault_set_trace(f, trace_flips, &fl);
    uint8_t b[MAXPKT];
    for (uint32_t i = 0; i < 500; i++) {
      fl.n = 0;
      size_t len = mk_tcp(b, IP_A, IP_B, 1, 2, 0x10, i % 100, i);
      us_fault_process(f, US_FAULT_TX, b, len, i, sink_deliver, s);
      assert_int_equal(s->n, i + 1);
      assert_int_equal(s->last_len, len);
      /* The delivered packet differs from the original in exactly the
       * reported bits, and they are distinct. */
      assert_int_equal(fl.n, bits);
      uint8_t want[MAXPKT];
      memcpy(want, b, len);
      for (size_t k = 0; k < fl.n; k++) {
        assert_true(fl.pos[k] >= 0 && (size_t)fl.pos[k] < len * 8);
        want[fl.pos[k] / 8] ^= (uint8_t)(0x80u >> (fl.pos[k] % 8));
      }
      assert_memory_equal(want, s->last, len);
      size_t diff = 0;
      for (size_t k = 0; k < len; k++)
        diff += (size_t)__builtin_popcount(b[k] ^ s->last[k]);
      assert_int_equal(diff, bits);
    }
    struct us_fault_counters c;
    us_fault_counters(f, US_FAULT_TX, &c);
    assert_int_equal(c.corrupted, 500);
    us_fault_destroy(f);
    free(s);
  }

  /* A rate: 3% corrupted, the rest byte-identical. */
  struct us_fault *f = mk("rx:corrupt=3%", 5);
  struct sink *s = sink_new(f);
  uint8_t b[MAXPKT];
  size_t changed = 0;
  for (uint32_t i = 0; i < 20000; i++) {
    size_t len = mk_udp(b, 1, 2, 64, i);
    us_fault_process(f, US_FAULT_RX, b, len, i, sink_deliver, s);
    if (memcmp(b, s->last, len) != 0)
      changed++;
  }
  struct us_fault_counters c;
  us_fault_counters(f, US_FAULT_RX, &c);
  assert_int_equal(changed, c.corrupted);
  assert_true(changed > 500 && changed < 700);
  us_fault_destroy(f);
  free(s);
}

/* ---- 7. Truncation ------------------------------------------------------ */

static void test_truncate(void **state) {
  (void)state;
  struct us_fault *f = mk("tx:truncate=100%,keep=40", 1);
  struct sink *s = sink_new(f);
  uint8_t b[MAXPKT];
  size_t len = mk_tcp(b, IP_A, IP_B, 1, 2, 0x18, 500, 77);
  us_fault_process(f, US_FAULT_TX, b, len, 0, sink_deliver, s);
  assert_int_equal(s->last_len, 40);
  assert_memory_equal(s->last, b, 40);
  /* A packet already shorter than keep is left alone and not counted. */
  len = mk_udp(b, 1, 2, 4, 78);
  us_fault_process(f, US_FAULT_TX, b, len, 0, sink_deliver, s);
  assert_int_equal(s->last_len, len);
  struct us_fault_counters c;
  us_fault_counters(f, US_FAULT_TX, &c);
  assert_int_equal(c.truncated, 1);
  us_fault_destroy(f);
  free(s);

  /* Random length: 1..len-1, a prefix of the original. */
  f = mk("rx:truncate=30%", 9);
  s = sink_new(f);
  size_t cut = 0;
  for (uint32_t i = 0; i < 10000; i++) {
    len = mk_tcp(b, IP_A, IP_B, 1, 2, 0x18, 100, i);
    us_fault_process(f, US_FAULT_RX, b, len, i, sink_deliver, s);
    assert_true(s->last_len >= 1 && s->last_len <= len);
    assert_memory_equal(s->last, b, s->last_len);
    if (s->last_len < len)
      cut++;
  }
  us_fault_counters(f, US_FAULT_RX, &c);
  assert_int_equal(c.truncated, cut);
  assert_true(cut > 2800 && cut < 3200);
  us_fault_destroy(f);
  free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_loss_rate), cmocka_unit_test(test_loss_burst),
    cmocka_unit_test(test_dup),       cmocka_unit_test(test_corrupt_exact_bits),
    cmocka_unit_test(test_truncate),
  };
  return H_RUN("fault_loss", tests);
}
