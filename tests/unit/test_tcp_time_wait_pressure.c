/*
 * test_tcp_time_wait_pressure.c - TIME-WAIT when the TCB pool is full or
 * tcp_max_time_wait is reached (docs/TCP.md, "TIME-WAIT under pressure"),
 * and the orphaned FIN-WAIT-2 timeout (tcp_fin_timeout).
 *
 * A new connection, passive or active, that finds the pool full takes the
 * slot of the OLDEST TIME-WAIT without a handle (tcp_time_wait_reclaimed);
 * entering TIME-WAIT beyond tcp_max_time_wait ends the oldest one
 * (tcp_time_wait_overflow). Every TIME-WAIT not ended so keeps its 2*MSL.
 * Nothing else is ever reclaimed: a pool full of ESTABLISHED connections
 * still drops the SYN (tcp_no_tcb).
 *
 * MSL is 30 s here (2*MSL = 60 s, the default), so every TIME-WAIT below
 * would outlive the test's few virtual seconds on its own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tcp_harness.h"

#define MSL US_SEC(30)

/* Pool: a listener and three connections; TIME-WAIT may take all of it. */
static void pool4(struct us_config *c) {
  c->tcp_msl = MSL;
  c->max_tcp_sockets = 4;
  c->tcp_max_time_wait = 4;
}

/* Conns first..last-1 in TIME-WAIT, one second apart, each one's time of
 * entry in entered[i] (when not NULL); returns the time after. */
static us_time_t time_waits_at(struct th *h, int first, int last, us_time_t t, us_time_t *entered) {
  for (int i = first; i < last; i++) {
    th_use(h, i);
    t = th_fx_time_wait(h, t);
    if (entered)
      entered[i] = t;
    t += US_SEC(1);
  }
  return t;
}

static us_time_t time_waits(struct th *h, int first, int last, us_time_t t) {
  return time_waits_at(h, first, last, t, NULL);
}

/* TIME-WAIT TCBs without a handle, and the cap, as ustack-ss --pools shows. */
static void assert_time_wait_usage(struct th *h, uint32_t count, uint32_t max) {
  struct us_pool_usage u;
  us_stack_pool_usage(h->s, &u);
  assert_int_equal(u.tcp_time_wait, count);
  assert_int_equal(u.tcp_time_wait_max, max);
}

static void assert_conn_state(struct th *h, int i, int st) {
  th_use(h, i);
  th_assert_state(h, st);
}

/* The pool is full of TIME-WAIT: a new SYN gets its SYN-ACK, and the
 * oldest TIME-WAIT (conn 0) is the one that gave its slot. A late segment
 * of that pair now meets no connection (the deviation: RST); the others
 * keep their full 2*MSL. */
static void test_syn_reclaims_oldest_time_wait(void **state) {
  struct th *h = th_new_state(state, pool4);
  us_time_t entered[3];
  us_time_t t = time_waits_at(h, 0, 3, 0, entered);
  us_time_t tw1 = entered[1];
  assert_int_equal(th_tcb_count(h), 4);
  assert_time_wait_usage(h, 3, 4);
  th_use(h, 3);
  t = th_fx_established(h, t); /* its SYN is answered with a SYN-ACK */
  assert_int_equal(th_stat(h, US_STAT_tcp_time_wait_reclaimed), 1);
  assert_int_equal(th_stat(h, US_STAT_tcp_no_tcb), 0);
  assert_int_equal(th_stat(h, US_STAT_tcp_listen_drops), 0);
  assert_conn_state(h, 0, -1);
  assert_conn_state(h, 1, US_TCP_TIME_WAIT);
  assert_conn_state(h, 2, US_TCP_TIME_WAIT);
  assert_int_equal(th_tcb_count(h), 4);

  /* Conn 0's pair is forgotten: P's retransmitted FIN draws a RST. */
  th_use(h, 0);
  t += US_MSEC(10);
  th_inject(h, t, TSEG(.flags = TH_FIN | TH_ACK, .seq = 1, .ack = 2));
  th_expect(h, t, TSEG(.flags = TH_RST, .seq = 2, ACK_ANY));

  /* Conn 1 was not reclaimed: it ends exactly 2*MSL after it began. */
  th_use(h, 1);
  struct us_tcp_info in;
  assert_true(th_info(h, &in));
  assert_true(in.timer_at == tw1 + 2 * MSL);
  th_advance(h, tw1 + 2 * MSL - 1);
  th_assert_state(h, US_TCP_TIME_WAIT);
  th_advance(h, tw1 + 2 * MSL);
  th_assert_state(h, -1);
  assert_int_equal(th_stat(h, US_STAT_tcp_time_wait_expired), 1);
  th_use(h, 3);
  th_finish(h);
}

/* Only TIME-WAIT is reclaimed: a pool full of ESTABLISHED connections
 * drops the SYN as before, and nothing is ended. */
static void test_full_of_established_drops_syn(void **state) {
  struct th *h = th_new_state(state, pool4);
  us_time_t t = 0;
  for (int i = 0; i < 3; i++) {
    th_use(h, i);
    t = th_fx_established(h, t) + US_MSEC(10);
  }
  th_use(h, 3);
  th_inject(h, t, TSEG(.flags = TH_SYN, .seq = 0, MSS(1460)));
  th_expect_nothing_until(h, t + US_SEC(1));
  assert_int_equal(th_stat(h, US_STAT_tcp_no_tcb), 1);
  assert_int_equal(th_stat(h, US_STAT_tcp_time_wait_reclaimed), 0);
  for (int i = 0; i < 3; i++)
    assert_conn_state(h, i, US_TCP_ESTABLISHED);
  th_use(h, 0);
  th_finish(h);
}

/* A TIME-WAIT whose handle the application still holds cannot give its
 * slot (the TCB would outlive the handle's view of it): the orphan one
 * goes instead, even though it is younger. */
static void test_held_time_wait_is_kept(void **state) {
  struct th *h = th_new_state(state, pool4);
  /* Conn 0: half-closed by the application, then P's FIN: TIME-WAIT with
   * the handle still open. */
  th_use(h, 0);
  us_time_t t = th_fx_established(h, 0);
  assert_int_equal(us_tcp_shutdown(h->s, h->c->sock, t), 0);
  th_expect(h, t, TSEG(.flags = TH_FIN | TH_ACK, .seq = 1, .ack = 1));
  t += US_MSEC(10);
  th_inject(h, t, TSEG(.flags = TH_FIN | TH_ACK, .seq = 1, .ack = 2));
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 2, .ack = 2));
  th_assert_state(h, US_TCP_TIME_WAIT);
  t = time_waits(h, 1, 3, t + US_SEC(1));
  th_use(h, 3);
  t = th_fx_syn_received(h, t);
  assert_int_equal(th_stat(h, US_STAT_tcp_time_wait_reclaimed), 1);
  assert_conn_state(h, 0, US_TCP_TIME_WAIT);
  assert_conn_state(h, 1, -1);
  assert_conn_state(h, 2, US_TCP_TIME_WAIT);
  assert_time_wait_usage(h, 1, 4); /* the held one is not on the list */
  th_use(h, 0);
  th_finish(h);
}

/* The peer's FIN again restarts 2*MSL (RFC 9293 3.10.7.4) and makes that
 * TIME-WAIT the youngest: the next reclaim takes the other one. */
static void test_restarted_time_wait_is_youngest(void **state) {
  struct th *h = th_new_state(state, pool4);
  us_time_t t = time_waits(h, 0, 3, 0);
  th_use(h, 0);
  th_inject(h, t, TSEG(.flags = TH_FIN | TH_ACK, .seq = 1, .ack = 2));
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 2, .ack = 2));
  th_use(h, 3);
  t = th_fx_syn_received(h, t + US_MSEC(10));
  assert_conn_state(h, 0, US_TCP_TIME_WAIT);
  assert_conn_state(h, 1, -1);
  assert_conn_state(h, 2, US_TCP_TIME_WAIT);
  assert_int_equal(th_stat(h, US_STAT_tcp_time_wait_reclaimed), 1);
  th_finish(h);
}

/* Active open: us_tcp_socket on a pool full of TIME-WAIT takes the oldest
 * one's slot, and the connection opens. */
static void pool2(struct us_config *c) {
  c->tcp_msl = MSL;
  c->max_tcp_sockets = 2;
  c->tcp_max_time_wait = 2;
}

static void test_connect_reclaims_oldest_time_wait(void **state) {
  struct th *h = th_new_state(state, pool2);
  us_time_t t = 0;
  for (int i = 0; i < 2; i++) {
    th_use(h, i);
    t = th_fx_established_active(h, t) + US_MSEC(10);
    t = th_fx_time_wait(h, t) + US_SEC(1);
  }
  assert_int_equal(th_tcb_count(h), 2);
  th_use(h, 2);
  t = th_fx_established_active(h, t);
  assert_int_equal(th_stat(h, US_STAT_tcp_time_wait_reclaimed), 1);
  assert_int_equal(th_stat(h, US_STAT_tcp_no_tcb), 0);
  assert_conn_state(h, 0, -1);
  assert_conn_state(h, 1, US_TCP_TIME_WAIT);
  th_use(h, 2);
  th_finish(h);
}

/* tcp_max_time_wait: entering TIME-WAIT beyond it ends the oldest, even
 * with room in the pool (Linux's tcp_max_tw_buckets, TCPTimeWaitOverflow,
 * except that Linux ends the new one). */
static void cap2(struct us_config *c) {
  c->tcp_msl = MSL;
  c->max_tcp_sockets = 16;
  c->tcp_max_time_wait = 2;
}

static void test_cap_ends_oldest(void **state) {
  struct th *h = th_new_state(state, cap2);
  us_time_t t = time_waits(h, 0, 2, 0);
  assert_int_equal(th_stat(h, US_STAT_tcp_time_wait_overflow), 0);
  t = time_waits(h, 2, 4, t);
  assert_int_equal(th_stat(h, US_STAT_tcp_time_wait_overflow), 2);
  assert_int_equal(th_stat(h, US_STAT_tcp_time_wait_reclaimed), 0);
  assert_conn_state(h, 0, -1);
  assert_conn_state(h, 1, -1);
  assert_conn_state(h, 2, US_TCP_TIME_WAIT);
  assert_conn_state(h, 3, US_TCP_TIME_WAIT);
  assert_int_equal(th_tcb_count(h), 3); /* the listener and two */
  assert_time_wait_usage(h, 2, 2);
  (void)t;
  th_finish(h);
}

/* The default cap is half the pool. */
static void pool8(struct us_config *c) {
  c->tcp_msl = MSL;
  c->max_tcp_sockets = 8;
}

static void test_default_cap_is_half_the_pool(void **state) {
  struct th *h = th_new_state(state, pool8);
  time_waits(h, 0, 5, 0);
  assert_int_equal(th_stat(h, US_STAT_tcp_time_wait_overflow), 1);
  assert_conn_state(h, 0, -1);
  for (int i = 1; i < 5; i++)
    assert_conn_state(h, i, US_TCP_TIME_WAIT);
  assert_time_wait_usage(h, 4, 4);
  th_finish(h);
}

/* FIN-WAIT-2 after the application closed ends after tcp_fin_timeout
 * (Linux's tcp_fin_timeout), counted; one the application still holds
 * (after a shutdown) waits for the peer as long as it takes. */
static void fin10(struct us_config *c) {
  c->tcp_msl = MSL;
  c->tcp_fin_timeout = US_SEC(10);
}

static void test_orphan_fin_wait_2_times_out(void **state) {
  struct th *h = th_new_state(state, fin10);
  th_use(h, 1);
  us_time_t t = th_fx_established(h, 0);
  assert_int_equal(us_tcp_shutdown(h->s, h->c->sock, t), 0);
  th_expect(h, t, TSEG(.flags = TH_FIN | TH_ACK, .seq = 1, .ack = 1));
  th_inject(h, t + US_MSEC(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 2));
  th_assert_state(h, US_TCP_FIN_WAIT_2);

  th_use(h, 0);
  t = th_fx_fin_wait_2(h, t + US_MSEC(20));
  th_expect_nothing_until(h, t + US_SEC(10) - 1);
  th_assert_state(h, US_TCP_FIN_WAIT_2);
  th_advance(h, t + US_SEC(10));
  th_assert_state(h, -1);
  assert_int_equal(th_stat(h, US_STAT_tcp_fin_wait2_timeout), 1);

  th_use(h, 1); /* held by the application: still there much later */
  th_advance(h, t + US_SEC(600));
  th_assert_state(h, US_TCP_FIN_WAIT_2);
  assert_int_equal(th_stat(h, US_STAT_tcp_fin_wait2_timeout), 1);
  th_finish(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_teardown(test_syn_reclaims_oldest_time_wait, th_teardown),
    cmocka_unit_test_teardown(test_full_of_established_drops_syn, th_teardown),
    cmocka_unit_test_teardown(test_held_time_wait_is_kept, th_teardown),
    cmocka_unit_test_teardown(test_restarted_time_wait_is_youngest, th_teardown),
    cmocka_unit_test_teardown(test_connect_reclaims_oldest_time_wait, th_teardown),
    cmocka_unit_test_teardown(test_cap_ends_oldest, th_teardown),
    cmocka_unit_test_teardown(test_default_cap_is_half_the_pool, th_teardown),
    cmocka_unit_test_teardown(test_orphan_fin_wait_2_times_out, th_teardown),
  };
  return H_RUN("tcp_time_wait_pressure", tests);
}
