/*
 * test_tcp_ecn.c - ECN for TCP (RFC 3168 section 6) on the virtual clock:
 * negotiation both ways and the three modes, ECT(0) on new data only, CE
 * echoed with ECE until CWR, and the sender's once-per-window reduction
 * with CWR on the next new segment.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "harness.h"
#include "tcp_harness.h"

#define MS(x)   US_MSEC(x)
#define ECN(p)  ((p)->tos & 3)
#define NOT_ECT 0
#define ECT0    2
#define CE      3

/* Passive open; P's SYN asks for ECN when `ask`. */
static us_time_t established(struct th *h, bool ask) {
  th_fx_listen(h, 0);
  h->c->s_port = TH_S_PORT;
  uint8_t fl = TH_SYN | (ask ? TH_ECE | TH_CWR : 0);
  th_inject(h, 0, TSEG(.flags = fl, .seq = 0, MSS(1460)));
  th_expect(h, 0, TSEG(.flags = TH_SYN | TH_ACK | (ask ? TH_ECE : 0), .seq = 0, .ack = 1));
  assert_int_equal(ECN(th_last(h)), NOT_ECT); /* 6.1.1: never on a SYN */
  th_inject(h, MS(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  th_accept(h);
  assert_int_equal(us_tcp_setopt(h->s, h->c->sock, US_TCP_NODELAY, 1), 0);
  return MS(10);
}

static void test_ecn_passive_negotiated(void **state) {
  struct th *h = th_new_state(state, NULL);
  us_time_t t = established(h, true);
  assert_int_equal(th_stat(h, US_STAT_tcp_ecn_negotiated), 1);
  /* New data is ECT(0); the pure ACK of P's data is not (6.1.4). */
  assert_int_equal(th_send(h, t, 100), 100);
  th_expect(h, t, TSEG(.flags = TH_ACK | TH_PSH, .seq = 1, .ack = 1, .len = 100));
  assert_int_equal(ECN(th_last(h)), ECT0);
  th_inject(h, t + MS(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 101, .len = 10));
  th_expect_within(h, t + MS(10), t + MS(300), TSEG(.flags = TH_ACK, .seq = 101, .ack = 11));
  assert_int_equal(ECN(th_last(h)), NOT_ECT);
  th_recv_expect(h, t + MS(300), 10);
  th_drain(h);
  th_finish(h);
}

static void test_ecn_not_asked(void **state) {
  struct th *h = th_new_state(state, NULL);
  us_time_t t = established(h, false);
  assert_int_equal(th_send(h, t, 100), 100);
  th_expect(h, t, TSEG(.flags = TH_ACK | TH_PSH, .seq = 1, .ack = 1, .len = 100));
  assert_int_equal(ECN(th_last(h)), NOT_ECT);
  assert_int_equal(th_stat(h, US_STAT_tcp_ecn_negotiated), 0);
  th_inject(h, t + MS(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 101));
  th_finish(h);
}

static void ecn_off(struct us_config *c) { c->tcp_ecn = US_TCP_ECN_OFF; }
static void ecn_on(struct us_config *c) { c->tcp_ecn = US_TCP_ECN_ON; }

static void test_ecn_off_declines(void **state) {
  struct th *h = th_new_state(state, ecn_off);
  th_fx_listen(h, 0);
  h->c->s_port = TH_S_PORT;
  th_inject(h, 0, TSEG(.flags = TH_SYN | TH_ECE | TH_CWR, .seq = 0, MSS(1460)));
  th_expect(h, 0, TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1));
  th_finish(h);
}

/* The default (accept) does not ask; ON asks, and a SYN-ACK with ECE only
 * agrees; one with ECE and CWR is not an ECN-setup SYN-ACK (6.1.1). */
static void test_ecn_active(void **state) {
  struct th *h = th_new_state(state, NULL);
  th_connect(h, 0);
  th_expect(h, 0, TSEG(.flags = TH_SYN, .seq = 0));
  th_free(h);
  *state = NULL;
  h = th_new_state(state, ecn_on);
  th_connect(h, 0);
  th_expect(h, 0, TSEG(.flags = TH_SYN | TH_ECE | TH_CWR, .seq = 0));
  h->c->p_nxt = 0;
  th_inject(h, MS(10), TSEG(.flags = TH_SYN | TH_ACK | TH_ECE, .seq = 0, .ack = 1, MSS(1460)));
  th_expect(h, MS(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  assert_int_equal(th_stat(h, US_STAT_tcp_ecn_negotiated), 1);
  assert_int_equal(th_send(h, MS(20), 10), 10);
  th_expect(h, MS(20), TSEG(.flags = TH_ACK | TH_PSH, .seq = 1, .ack = 1, .len = 10));
  assert_int_equal(ECN(th_last(h)), ECT0);
  th_inject(h, MS(30), TSEG(.flags = TH_ACK, .seq = 1, .ack = 11));
  th_use(h, 1);
  th_connect(h, MS(40));
  th_expect(h, MS(40), TSEG(.flags = TH_SYN | TH_ECE | TH_CWR, .seq = 0));
  h->c->p_nxt = 0;
  th_inject(h, MS(50),
            TSEG(.flags = TH_SYN | TH_ACK | TH_ECE | TH_CWR, .seq = 0, .ack = 1, MSS(1460)));
  th_expect(h, MS(50), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  assert_int_equal(th_stat(h, US_STAT_tcp_ecn_negotiated), 1);
  th_finish(h);
}

/* 6.1.3: CE makes S echo ECE at once and on every ACK until P's CWR. */
static void test_ecn_ce_echoed_until_cwr(void **state) {
  struct th *h = th_new_state(state, NULL);
  us_time_t t = established(h, true) + MS(10);
  th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 100, .tos = CE));
  th_expect(h, t, TSEG(.flags = TH_ACK | TH_ECE, .seq = 1, .ack = 101));
  assert_int_equal(th_stat(h, US_STAT_tcp_ecn_ce_rcvd), 1);
  th_inject(h, t + MS(1), TSEG(.flags = TH_ACK, .seq = 101, .ack = 1, .len = 100, .tos = ECT0));
  th_inject(h, t + MS(2), TSEG(.flags = TH_ACK, .seq = 201, .ack = 1, .len = 100, .tos = ECT0));
  th_expect_within(h, t + MS(1), t + MS(300), TSEG(.flags = TH_ACK | TH_ECE, .seq = 1, .ack = 301));
  th_inject(h, t + MS(400),
            TSEG(.flags = TH_ACK | TH_CWR, .seq = 301, .ack = 1, .len = 100, .tos = ECT0));
  th_inject(h, t + MS(401), TSEG(.flags = TH_ACK, .seq = 401, .ack = 1, .len = 100, .tos = ECT0));
  th_expect_within(h, t + MS(400), t + MS(700), TSEG(.flags = TH_ACK, .seq = 1, .ack = 501));
  th_recv_expect(h, t + MS(700), 500);
  th_drain(h);
  th_finish(h);
}

/* 6.1.2: an ECE reduces cwnd once per window, and the next new data
 * segment (only that one) carries CWR. */
static void test_ecn_ece_reduces_once(void **state) {
  struct th *h = th_new_state(state, NULL);
  us_time_t t = established(h, true);
  assert_int_equal(th_send(h, t, 10 * 1460), 10 * 1460);
  for (uint32_t i = 0; i < 10; i++) {
    th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1 + 1460 * i, .ack = 1, .len = 1460));
    assert_int_equal(ECN(th_last(h)), ECT0);
  }
  struct us_tcp_info a, b, c;
  assert_true(th_info(h, &a));
  th_inject(h, t + MS(10), TSEG(.flags = TH_ACK | TH_ECE, .seq = 1, .ack = 1 + 2 * 1460));
  assert_true(th_info(h, &b));
  assert_true(b.cwnd < a.cwnd);
  assert_true(b.ssthresh <= b.cwnd + 1460 && b.ssthresh < a.ssthresh);
  assert_int_equal(th_stat(h, US_STAT_tcp_ecn_reductions), 1);
  /* Another ECE for the same window: no second reduction. */
  th_inject(h, t + MS(11), TSEG(.flags = TH_ACK | TH_ECE, .seq = 1, .ack = 1 + 4 * 1460));
  assert_true(th_info(h, &c));
  assert_int_equal(th_stat(h, US_STAT_tcp_ecn_reductions), 1);
  assert_true(c.cwnd >= b.cwnd);
  assert_int_equal(th_stat(h, US_STAT_tcp_ecn_ece_rcvd), 2);
  assert_int_equal(th_stat(h, US_STAT_tcp_ecn_cwr_sent), 0);
  /* ECE on the ACK of everything, before the CWR has left: the peer has
   * not heard of the reduction yet, so still the same event. */
  th_inject(h, t + MS(12), TSEG(.flags = TH_ACK | TH_ECE, .seq = 1, .ack = 1 + 10 * 1460));
  assert_int_equal(th_stat(h, US_STAT_tcp_ecn_reductions), 1);
  th_drain(h);
  /* New data: CWR on the first segment only. */
  assert_int_equal(th_send(h, t + MS(20), 2 * 1460), 2 * 1460);
  th_expect(h, t + MS(20),
            TSEG(.flags = TH_ACK | TH_CWR, .seq = 1 + 10 * 1460, .ack = 1, .len = 1460));
  th_expect(h, t + MS(20),
            TSEG(.flags = TH_ACK | TH_PSH, .seq = 1 + 11 * 1460, .ack = 1, .len = 1460,
                 .psh_check = true));
  assert_int_equal(th_stat(h, US_STAT_tcp_ecn_cwr_sent), 1);
  th_inject(h, t + MS(30), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1 + 12 * 1460));
  th_finish(h);
}

/* 6.1.5: a retransmission is never ECT. */
static void test_ecn_retransmission_not_ect(void **state) {
  struct th *h = th_new_state(state, NULL);
  us_time_t t = established(h, true);
  assert_int_equal(th_send(h, t, 100), 100);
  th_expect(h, t, TSEG(.flags = TH_ACK | TH_PSH, .seq = 1, .ack = 1, .len = 100));
  assert_int_equal(ECN(th_last(h)), ECT0);
  us_time_t r = th_expect_within(h, t, t + US_SEC(3),
                                 TSEG(.flags = TH_ACK | TH_PSH, .seq = 1, .ack = 1, .len = 100));
  assert_int_equal(ECN(th_last(h)), NOT_ECT);
  th_inject(h, r + MS(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 101));
  th_finish(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_teardown(test_ecn_passive_negotiated, th_teardown),
    cmocka_unit_test_teardown(test_ecn_not_asked, th_teardown),
    cmocka_unit_test_teardown(test_ecn_off_declines, th_teardown),
    cmocka_unit_test_teardown(test_ecn_active, th_teardown),
    cmocka_unit_test_teardown(test_ecn_ce_echoed_until_cwr, th_teardown),
    cmocka_unit_test_teardown(test_ecn_ece_reduces_once, th_teardown),
    cmocka_unit_test_teardown(test_ecn_retransmission_not_ect, th_teardown),
  };
  return H_RUN("tcp_ecn", tests);
}
