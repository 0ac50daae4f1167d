/*
 * test_tcp_timerq.c - the TCP timer queue (stack/tcp/tcp_timerq.c) against
 * a brute-force model on a virtual clock.
 *
 * A seeded random script arms, re-arms (earlier and later) and cancels
 * deadlines of a few hundred TCBs and moves the clock forward. After every
 * step the queue's first entry must be the model's earliest deadline, and
 * the heap must be well formed; at each clock step the entries taken off
 * the front (key <= now) must be exactly the model's due set, earliest
 * first. Many seeds run, so a rare ordering bug has many chances to show.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"
#include "tcp/tcp_int.h"

#define N 300

static void check_heap(const struct tcp_timerq *q, const us_time_t *model, struct us_tcb *tcbs) {
  us_time_t min = US_TIME_NEVER;
  uint32_t queued = 0;
  for (int i = 0; i < N; i++) {
    if (model[i] != US_TIME_NEVER) {
      queued++;
      assert_int_not_equal(tcbs[i].tq_pos, 0);
      assert_true(q->v[tcbs[i].tq_pos] == &tcbs[i]);
      assert_true(tcbs[i].tq_key == model[i]);
      if (model[i] < min)
        min = model[i];
    } else {
      assert_int_equal(tcbs[i].tq_pos, 0);
    }
  }
  assert_int_equal(q->n, queued);
  for (uint32_t i = 2; i <= q->n; i++)
    assert_true(q->v[i / 2]->tq_key <= q->v[i]->tq_key);
  assert_true(tcp_timerq_next(q) == min);
}

static void run_seed(uint64_t seed) {
  struct tcp_timerq q;
  assert_int_equal(tcp_timerq_init(&q, N), 0);
  struct us_tcb *tcbs = calloc(N, sizeof *tcbs);
  us_time_t model[N];
  assert_non_null(tcbs);
  for (int i = 0; i < N; i++)
    model[i] = US_TIME_NEVER;
  uint64_t r = h_seed(seed);
  us_time_t now = 0;
  for (int step = 0; step < 4000; step++) {
    uint64_t x = h_rand_next(&r);
    int i = (int)((x >> 8) % N);
    switch (x % 8) {
    case 0:
    case 1:
    case 2: { /* arm or re-arm: anything from now to 10 s ahead */
      us_time_t key = now + (us_time_t)((x >> 20) % US_SEC(10));
      tcp_timerq_set(&q, &tcbs[i], key);
      model[i] = key;
      break;
    }
    case 3: /* cancel (also of what is not queued) */
      if (x & 0x100)
        tcp_timerq_remove(&q, &tcbs[i]);
      else
        tcp_timerq_set(&q, &tcbs[i], US_TIME_NEVER);
      model[i] = US_TIME_NEVER;
      break;
    case 4: { /* same key again: a no-op */
      if (model[i] != US_TIME_NEVER)
        tcp_timerq_set(&q, &tcbs[i], model[i]);
      break;
    }
    default: { /* the clock moves; everything due comes off, in order */
      now += (us_time_t)((x >> 24) % US_MSEC(500));
      us_time_t last = INT64_MIN;
      int taken = 0;
      struct us_tcb *t;
      while ((t = tcp_timerq_first(&q)) && t->tq_key <= now) {
        assert_true(t->tq_key >= last);
        last = t->tq_key;
        int k = (int)(t - tcbs);
        assert_true(model[k] == t->tq_key);
        tcp_timerq_remove(&q, t);
        model[k] = US_TIME_NEVER;
        taken++;
      }
      for (int k = 0; k < N; k++)
        assert_true(model[k] == US_TIME_NEVER || model[k] > now);
      (void)taken;
      break;
    }
    }
    check_heap(&q, model, tcbs);
  }
  free(tcbs);
  tcp_timerq_fini(&q);
}

static void test_timerq_against_model(void **state) {
  (void)state;
  for (uint64_t seed = 1; seed <= 40; seed++)
    run_seed(seed);
}

/* Equal keys: all of them come off at their time, none is lost. */
static void test_timerq_equal_keys(void **state) {
  (void)state;
  struct tcp_timerq q;
  assert_int_equal(tcp_timerq_init(&q, N), 0);
  struct us_tcb *tcbs = calloc(N, sizeof *tcbs);
  assert_non_null(tcbs);
  for (int i = 0; i < N; i++)
    tcp_timerq_set(&q, &tcbs[i], US_SEC(1));
  assert_true(tcp_timerq_next(&q) == US_SEC(1));
  int n = 0;
  struct us_tcb *t;
  while ((t = tcp_timerq_first(&q)) && t->tq_key <= US_SEC(1)) {
    tcp_timerq_remove(&q, t);
    n++;
  }
  assert_int_equal(n, N);
  assert_true(tcp_timerq_next(&q) == US_TIME_NEVER);
  free(tcbs);
  tcp_timerq_fini(&q);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_timerq_against_model),
    cmocka_unit_test(test_timerq_equal_keys),
  };
  return H_RUN("tcp_timerq", tests);
}
