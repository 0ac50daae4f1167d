/*
 * test_tcp_timers.c - retransmission (RFC 6298: backoff, Karn, bounds),
 * the R2 abort (RFC 9293 3.8.3), fast retransmit and the loss response of
 * RFC 5681, and keepalive (RFC 9293 3.8.4, MUST-24..28).
 *
 * rto_min is 1 s here (RFC 6298 2.4), so after the handshake's 10 ms RTT
 * sample RTO = max(1 s, SRTT + 4 RTTVAR) = 1 s exactly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tcp_harness.h"

#define SMSS 1460

static void rto_1s(struct us_config *c) {
  c->tcp_rto_min = US_SEC(1);
  c->tcp_rto_max = US_SEC(60);
}

/* The tests with NewReno's numbers (ssthresh = FlightSize / 2) select it. */
static void rto_1s_newreno(struct us_config *c) {
  rto_1s(c);
  c->tcp_cc = US_TCP_CC_NEWRENO;
}

static void rto_1s_r2_5(struct us_config *c) {
  rto_1s(c);
  c->tcp_r2 = 5;
}

/* RTO doubles on each expiry (RFC 6298 5.5) and is capped at rto_max. */
static void test_rto_backoff(void **state) {
  struct th *h = th_new_state(state, rto_1s);
  us_time_t t = th_fx_established(h, 0) + US_MSEC(10);
  assert_int_equal(th_send(h, t, 100), 100);
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 100));
  us_time_t at = t, rto = US_SEC(1);
  for (int i = 0; i < 8; i++) {
    at += rto;
    th_expect_nothing_until(h, at - 1);
    th_expect(h, at, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 100));
    rto = rto * 2 > US_SEC(60) ? US_SEC(60) : rto * 2;
  }
  struct us_tcp_info in;
  assert_true(th_info(h, &in));
  assert_int_equal(in.retransmits, 8);
  assert_int_equal(in.backoff, 8);
  assert_true(th_stat(h, US_STAT_tcp_timeouts) >= 8);
  assert_true(th_stat(h, US_STAT_tcp_retrans_segs) >= 8);
  /* The ACK ends it: nothing more is sent. */
  th_inject(h, at + US_MSEC(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 101));
  th_expect_nothing_until(h, at + US_SEC(300));
  th_finish(h);
}

/* Karn (RFC 6298 3): an ACK for retransmitted data gives no RTT sample,
 * so SRTT stays near the handshake's 10 ms and the next RTO is not
 * inflated by the 1 s that passed. */
static void test_karn(void **state) {
  struct th *h = th_new_state(state, rto_1s);
  us_time_t t = th_fx_established(h, 0) + US_MSEC(10);
  struct us_tcp_info in;
  assert_true(th_info(h, &in));
  us_time_t srtt0 = in.srtt; /* 0 if the handshake gave no sample */
  assert_true(srtt0 <= US_MSEC(20));
  assert_int_equal(th_send(h, t, 100), 100);
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 100));
  th_expect(h, t + US_SEC(1), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 100));
  th_inject(h, t + US_SEC(1) + US_MSEC(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 101));
  assert_true(th_info(h, &in));
  assert_true(in.srtt == srtt0);
  /* New data: its RTO is 1 s (fresh) or 2 s (the backed-off value kept
   * until a valid sample); a Karn violation would give about 1.15 s. */
  t = h->now + US_MSEC(100);
  assert_int_equal(th_send(h, t, 50), 50);
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 101, .ack = 1, .len = 50));
  us_time_t at = th_expect_within(h, t + US_SEC(1), t + US_SEC(2),
                                  TSEG(.flags = TH_ACK, .seq = 101, .ack = 1, .len = 50));
  assert_true(at == t + US_SEC(1) || at == t + US_SEC(2));
  th_inject(h, at + US_MSEC(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 151));
  /* A clean sample now: 10 ms. SRTT moves toward it and stays small. */
  t = h->now + US_MSEC(100);
  assert_int_equal(th_send(h, t, 10), 10);
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 151, .ack = 1, .len = 10));
  th_inject(h, t + US_MSEC(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 161));
  assert_true(th_info(h, &in));
  assert_true(in.srtt <= US_MSEC(20));
  assert_int_equal(in.rto, US_SEC(1));
  th_finish(h);
}

/* The RFC 6298 estimator on known samples (2.2, 2.3), whether or not the
 * handshake gave a first sample (srtt 0 in us_tcp_info means none). */
static void test_rtt_estimator(void **state) {
  struct th *h = th_new_state(state, rto_1s);
  us_time_t t = th_fx_established(h, 0);
  struct us_tcp_info in;
  assert_true(th_info(h, &in));
  double srtt = (double)in.srtt, rttvar = (double)in.rttvar;
  if (srtt > 0) {
    /* The handshake sample was 10 ms: SRTT = R, RTTVAR = R/2. */
    assert_int_equal(in.srtt, US_MSEC(10));
    assert_int_equal(in.rttvar, US_MSEC(5));
  }
  const us_time_t samples[] = { US_MSEC(100), US_MSEC(20), US_MSEC(300), US_MSEC(40) };
  uint32_t seq = 1;
  for (int i = 0; i < 4; i++) {
    double r = (double)samples[i];
    t = h->now + US_MSEC(100);
    assert_int_equal(th_send(h, t, 10), 10);
    th_expect(h, t, TSEG(.flags = TH_ACK, .seq = seq, .ack = 1, .len = 10));
    seq += 10;
    th_inject(h, t + samples[i], TSEG(.flags = TH_ACK, .seq = 1, .ack = seq));
    if (srtt == 0) {
      srtt = r;
      rttvar = r / 2;
    } else {
      double d = srtt > r ? srtt - r : r - srtt;
      rttvar = 0.75 * rttvar + 0.25 * d;
      srtt = 0.875 * srtt + 0.125 * r;
    }
    assert_true(th_info(h, &in));
    if ((double)in.srtt < srtt - 1000 || (double)in.srtt > srtt + 1000 ||
        (double)in.rttvar < rttvar - 1000 || (double)in.rttvar > rttvar + 1000)
      th_fail(h, __FILE__, __LINE__, "sample %d: srtt %lld rttvar %lld, expected %.0f %.0f us", i,
              (long long)in.srtt, (long long)in.rttvar, srtt, rttvar);
    double rto = srtt + 4 * rttvar;
    if (rto < 1e6)
      rto = 1e6;
    assert_true((double)in.rto >= rto - 4000 && (double)in.rto <= rto + 4000);
  }
  th_finish(h);
}

/* R2 (RFC 9293 3.8.3, MUST-20): after tcp_r2 retransmissions the next
 * expiry aborts: sticky TIMEDOUT, the TCB is gone. */
static void test_r2_abort(void **state) {
  struct th *h = th_new_state(state, rto_1s_r2_5);
  us_time_t t = th_fx_established(h, 0) + US_MSEC(10);
  assert_int_equal(th_send(h, t, 100), 100);
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 100));
  us_time_t at = t, rto = US_SEC(1);
  for (int i = 0; i < 5; i++) {
    at += rto;
    th_expect(h, at, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 100));
    rto *= 2;
  }
  th_expect_nothing_until(h, at + rto - 1);
  th_assert_state(h, US_TCP_ESTABLISHED);
  assert_int_equal(us_sock_error(h->s, h->c->sock), 0);
  th_advance(h, at + rto);
  /* An abort may send a RST <SEQ=SND.NXT>; nothing else. */
  if (th_queued(h))
    th_expect(h, at + rto, TSEG(.flags = TH_RST, .seq = 101, .ack = 1, .ack_opt = true));
  th_assert_state(h, -1);
  assert_int_equal(us_sock_error(h->s, h->c->sock), US_ERR_TIMEDOUT);
  assert_true(us_sock_events(h->s, h->c->sock) & (US_EV_ERROR | US_EV_CLOSED));
  assert_int_equal(th_send(h, h->now, 1), US_ERR_TIMEDOUT);
  assert_int_equal(th_stat(h, US_STAT_tcp_abort_on_timeout), 1);
  th_expect_nothing_until(h, h->now + US_SEC(600));
  th_finish(h);
}

/* Fast retransmit (RFC 5681 3.2): the third duplicate ACK retransmits the
 * missing segment at once; the first two do not. The peer has no SACK, so
 * DupThresh decides (RACK needs SACK). NewReno is selected in us_config. */
static void test_fast_retransmit(void **state) {
  struct th *h = th_new_state(state, rto_1s_newreno);
  us_time_t t = th_fx_established(h, 0) + US_MSEC(10);
  assert_int_equal(th_send(h, t, 10 * SMSS), 10 * SMSS);
  for (uint32_t i = 0; i < 10; i++)
    th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1 + i * SMSS, .ack = 1, .len = SMSS));
  /* Segment 2 is lost; P acknowledges 1, then duplicates for 3, 4, 5. */
  t += US_MSEC(10);
  th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1 + SMSS));
  th_inject(h, t + US_MSEC(1), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1 + SMSS));
  th_inject(h, t + US_MSEC(2), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1 + SMSS));
  th_expect_nothing_until(h, t + US_MSEC(3) - 1);
  th_inject(h, t + US_MSEC(3), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1 + SMSS));
  th_expect(h, t + US_MSEC(3), TSEG(.flags = TH_ACK, .seq = 1 + SMSS, .ack = 1, .len = SMSS));
  assert_int_equal(th_stat(h, US_STAT_tcp_fast_retrans), 1);
  assert_true(th_stat(h, US_STAT_tcp_dup_acks) >= 3);
  struct us_tcp_info in;
  assert_true(th_info(h, &in));
  assert_string_equal(in.cc, "newreno");
  assert_string_equal(in.recovery, "fast");
  /* RFC 5681 (3.2 step 2): ssthresh = max(FlightSize / 2, 2 SMSS), and
   * RFC 6675 5 step 4.2: cwnd = ssthresh (pipe replaces the inflation). */
  assert_int_equal(in.ssthresh, 9 * SMSS / 2);
  assert_int_equal(in.cwnd, 9 * SMSS / 2);
  /* The repair is acknowledged: everything. */
  th_inject(h, t + US_MSEC(20), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1 + 10 * SMSS));
  th_drain(h);
  th_expect_nothing_until(h, t + US_SEC(10));
  assert_int_equal(us_tcp_send_queued(h->s, h->c->sock), 0);
  th_finish(h);
}

/* RTO loss response (RFC 5681 3.1): cwnd = 1 SMSS (LW), ssthresh =
 * max(FlightSize / 2, 2 SMSS) with NewReno; only one segment is
 * retransmitted. */
static void test_rto_collapses_cwnd(void **state) {
  struct th *h = th_new_state(state, rto_1s_newreno);
  us_time_t t = th_fx_established(h, 0) + US_MSEC(10);
  assert_int_equal(th_send(h, t, 20 * SMSS), 20 * SMSS);
  for (uint32_t i = 0; i < 10; i++)
    th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1 + i * SMSS, .ack = 1, .len = SMSS));
  th_expect(h, t + US_SEC(1), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = SMSS));
  th_expect_nothing_until(h, t + US_SEC(1) + US_MSEC(5));
  struct us_tcp_info in;
  assert_true(th_info(h, &in));
  assert_int_equal(in.cwnd, SMSS);
  assert_int_equal(in.ssthresh, 5 * SMSS);
  /* The retransmission is ACKed (with everything sent): slow start sends
   * two segments (cwnd + min(N, SMSS); at most three with ABC L=2). */
  th_inject(h, t + US_SEC(1) + US_MSEC(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1 + 10 * SMSS));
  int n = 0;
  struct th_pkt p;
  while (th_pop(h, &p)) {
    char b[200];
    if (th_rel_seq(h, &p) != 1 + (10 + (uint32_t)n) * SMSS || p.plen != SMSS)
      th_fail(h, __FILE__, __LINE__, "after the ACK, segment %d is %s", n,
              th_fmt(h, &p, b, sizeof b));
    n++;
  }
  if (n < 2 || n > 3)
    th_fail(h, __FILE__, __LINE__,
            "%d new segments after the first ACK past an RTO; "
            "slow start from cwnd = 1 SMSS allows 2 (3 with ABC L=2)",
            n);
  th_finish(h);
}

/* NewReno partial ACK (RFC 6582 3.2 step 5): two segments lost; after the
 * fast retransmit of the first, the partial ACK retransmits the second at
 * once, without waiting for the RTO. */
static void test_newreno_partial_ack(void **state) {
  struct th *h = th_new_state(state, rto_1s);
  us_time_t t = th_fx_established(h, 0) + US_MSEC(10);
  assert_int_equal(th_send(h, t, 10 * SMSS), 10 * SMSS);
  for (uint32_t i = 0; i < 10; i++)
    th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1 + i * SMSS, .ack = 1, .len = SMSS));
  /* Segments 2 and 5 (index 1 and 4) are lost. */
  t += US_MSEC(10);
  th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1 + SMSS));
  for (int i = 1; i <= 3; i++)
    th_inject(h, t + US_MSEC(i), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1 + SMSS));
  th_expect(h, t + US_MSEC(3), TSEG(.flags = TH_ACK, .seq = 1 + SMSS, .ack = 1, .len = SMSS));
  /* More duplicates for segments 6..10 may release nothing new (no data
   * queued). The repair arrives: partial ACK up to segment 5. */
  th_inject(h, t + US_MSEC(15), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1 + 4 * SMSS));
  th_expect(h, t + US_MSEC(15), TSEG(.flags = TH_ACK, .seq = 1 + 4 * SMSS, .ack = 1, .len = SMSS));
  th_inject(h, t + US_MSEC(30), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1 + 10 * SMSS));
  th_drain(h);
  assert_int_equal(us_tcp_send_queued(h->s, h->c->sock), 0);
  assert_true(th_stat(h, US_STAT_tcp_timeouts) == 0);
  th_finish(h);
}

/* The same two events with CUBIC, the default: ssthresh = cwnd * 0.7
 * (RFC 9438 4.6) on fast retransmit, and on an RTO too, with cwnd the
 * loss window (4.8). */
static void test_cubic_reductions(void **state) {
  struct th *h = th_new_state(state, rto_1s);
  us_time_t t = th_fx_established(h, 0) + US_MSEC(10);
  struct us_tcp_info in;
  assert_true(th_info(h, &in));
  assert_string_equal(in.cc, "cubic");
  assert_int_equal(in.cwnd, 10 * SMSS); /* IW10, RFC 6928 */
  assert_int_equal(th_send(h, t, 20 * SMSS), 20 * SMSS);
  for (uint32_t i = 0; i < 10; i++)
    th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1 + i * SMSS, .ack = 1, .len = SMSS));
  /* Segment 1 is ACKed (slow start: cwnd 11 SMSS, one more segment), then
   * segment 2 is missing: three duplicates. */
  t += US_MSEC(10);
  th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1 + SMSS));
  assert_true(th_info(h, &in));
  assert_int_equal(in.cwnd, 11 * SMSS);
  th_drain(h);
  /* RFC 3042 limited transmit: the first and second duplicates each let
   * one new segment out; the third retransmits. */
  for (int i = 1; i <= 3; i++)
    th_inject(h, t + US_MSEC(i), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1 + SMSS));
  th_expect(h, t + US_MSEC(1), TSEG(.flags = TH_ACK, .seq = 1 + 12 * SMSS, .ack = 1, .len = SMSS));
  th_expect(h, t + US_MSEC(2), TSEG(.flags = TH_ACK, .seq = 1 + 13 * SMSS, .ack = 1, .len = SMSS));
  th_expect(h, t + US_MSEC(3), TSEG(.flags = TH_ACK, .seq = 1 + SMSS, .ack = 1, .len = SMSS));
  assert_true(th_info(h, &in));
  assert_int_equal(in.ssthresh, 11 * SMSS * 7 / 10);
  assert_int_equal(in.cwnd, 11 * SMSS * 7 / 10);
  /* Nothing more comes back: the RTO. cwnd = 1 SMSS, ssthresh = 0.7 of
   * the window at the time. */
  th_drain(h);
  uint32_t w = in.cwnd;
  th_advance(h, t + US_MSEC(3) + US_SEC(1));
  assert_true(th_stat(h, US_STAT_tcp_timeouts) >= 1);
  assert_true(th_info(h, &in));
  assert_int_equal(in.cwnd, SMSS);
  assert_int_equal(in.ssthresh, w * 7 / 10);
  th_drain(h);
  th_finish(h);
}

/* ACK division (HOSTILE RES-4, RFC 3465 / RFC 5681 3.1): 146 ACKs of 100
 * bytes each acknowledge 14600 bytes; cwnd grows by at most the bytes
 * acknowledged, not by one SMSS per ACK. */
static void test_ack_division(void **state) {
  struct th *h = th_new_state(state, rto_1s);
  us_time_t t = th_fx_established(h, 0) + US_MSEC(10);
  struct us_tcp_info in;
  assert_true(th_info(h, &in));
  uint32_t cwnd0 = in.cwnd;
  assert_int_equal(th_send(h, t, 10 * SMSS), 10 * SMSS);
  th_advance(h, t);
  th_drain(h);
  for (uint32_t a = 100; a <= 10 * SMSS; a += 100) {
    th_inject(h, t + US_MSEC(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1 + a));
    th_drain(h);
  }
  assert_true(th_info(h, &in));
  assert_true(in.cwnd <= cwnd0 + 10 * SMSS);
  th_finish(h);
}

/* Keepalive is off by default (MUST-24): 3 idle hours, nothing sent. */
static void test_keepalive_off_by_default(void **state) {
  struct th *h = th_new_state(state, NULL);
  us_time_t t = th_fx_established(h, 0);
  long v = -1;
  assert_int_equal(us_tcp_getopt(h->s, h->c->sock, US_TCP_KEEPALIVE, &v), 0);
  assert_int_equal(v, 0);
  th_expect_nothing_until(h, t + US_SEC(3 * 3600));
  th_assert_state(h, US_TCP_ESTABLISHED);
  th_finish(h);
}

/* Keepalive when enabled: a probe <SEQ=SND.NXT-1> after the idle time;
 * an answer restarts the idle period; KEEPCNT unanswered probes abort with
 * TIMEDOUT. */
static void test_keepalive(void **state) {
  struct th *h = th_new_state(state, NULL);
  us_time_t t = th_fx_established(h, 0);
  us_sock_t sock = h->c->sock;
  assert_int_equal(us_tcp_setopt(h->s, sock, US_TCP_KEEPALIVE, 1), 0);
  assert_int_equal(us_tcp_setopt(h->s, sock, US_TCP_KEEPIDLE, 10), 0);
  assert_int_equal(us_tcp_setopt(h->s, sock, US_TCP_KEEPINTVL, 2), 0);
  assert_int_equal(us_tcp_setopt(h->s, sock, US_TCP_KEEPCNT, 3), 0);
  /* Idle is counted from the last segment received (t). */
  th_expect_nothing_until(h, t + US_SEC(10) - 1);
  th_expect(h, t + US_SEC(10),
            TSEG(.flags = TH_ACK, .seq = 0, .ack = 1, LEN_ANY, .no_pat_check = true));
  assert_true(th_last(h)->plen <= 1);
  th_inject(h, t + US_SEC(10) + US_MSEC(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  t = t + US_SEC(10) + US_MSEC(10);
  th_expect_nothing_until(h, t + US_SEC(10) - 1);
  th_expect(h, t + US_SEC(10),
            TSEG(.flags = TH_ACK, .seq = 0, .ack = 1, LEN_ANY, .no_pat_check = true));
  th_expect(h, t + US_SEC(12),
            TSEG(.flags = TH_ACK, .seq = 0, .ack = 1, LEN_ANY, .no_pat_check = true));
  th_expect(h, t + US_SEC(14),
            TSEG(.flags = TH_ACK, .seq = 0, .ack = 1, LEN_ANY, .no_pat_check = true));
  /* Third probe unanswered for KEEPINTVL: abort (a RST may go out). */
  th_advance(h, t + US_SEC(16));
  if (th_queued(h))
    th_expect(h, t + US_SEC(16), TSEG(.flags = TH_RST, .seq = 1, .ack = 1, .ack_opt = true));
  th_assert_state(h, -1);
  assert_int_equal(us_sock_error(h->s, sock), US_ERR_TIMEDOUT);
  assert_true(th_stat(h, US_STAT_tcp_keepalive_probes) >= 4);
  th_finish(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_teardown(test_rto_backoff, th_teardown),
    cmocka_unit_test_teardown(test_karn, th_teardown),
    cmocka_unit_test_teardown(test_rtt_estimator, th_teardown),
    cmocka_unit_test_teardown(test_r2_abort, th_teardown),
    cmocka_unit_test_teardown(test_fast_retransmit, th_teardown),
    cmocka_unit_test_teardown(test_rto_collapses_cwnd, th_teardown),
    cmocka_unit_test_teardown(test_newreno_partial_ack, th_teardown),
    cmocka_unit_test_teardown(test_cubic_reductions, th_teardown),
    cmocka_unit_test_teardown(test_ack_division, th_teardown),
    cmocka_unit_test_teardown(test_keepalive_off_by_default, th_teardown),
    cmocka_unit_test_teardown(test_keepalive, th_teardown),
  };
  return H_RUN("tcp_timers", tests);
}
