/*
 * test_tcp_rst.c - resets and the blind-attack defences of RFC 5961 as
 * folded into RFC 9293 section 3.10.7.4, and the RST for segments that
 * find no connection (RFC 9293 section 3.10.7.1).
 *
 * docs/HOSTILE.md rows SEQ-1 .. SEQ-4, TH-1, HS-4.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tcp_harness.h"

/* RST with SEG.SEQ == RCV.NXT: reset; the error is sticky. */
static void test_rst_exact_resets(void **state) {
  struct th *h = th_new_state(state, NULL);
  us_time_t t = th_fx_established(h, 0) + US_MSEC(10);
  th_inject(h, t, TSEG(.flags = TH_RST, .seq = 1));
  th_expect_nothing_until(h, t + US_SEC(10));
  th_assert_state(h, -1);
  us_sock_t sock = h->c->sock;
  assert_int_equal(us_sock_error(h->s, sock), US_ERR_CONNRESET);
  assert_true(us_sock_events(h->s, sock) & (US_EV_ERROR | US_EV_CLOSED));
  assert_int_equal(th_recv(h, h->now, 10), US_ERR_CONNRESET);
  assert_int_equal(th_send(h, h->now, 10), US_ERR_CONNRESET);
  /* Sticky: still there on the next call. */
  assert_int_equal(us_sock_error(h->s, sock), US_ERR_CONNRESET);
  assert_int_equal(th_recv(h, h->now, 10), US_ERR_CONNRESET);
  assert_int_equal(th_stat(h, US_STAT_tcp_estab_resets), 1);
  /* The connection is gone even though the app still holds its handle:
   * P's next segment gets the CLOSED-state RST <SEQ=SEG.ACK>. */
  th_inject(h, h->now + US_MSEC(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 5));
  th_expect(h, h->now, TSEG(.flags = TH_RST, .seq = 1));
  th_finish(h);
}

/* RST+ACK exact works the same (the ACK bit does not matter). */
static void test_rst_ack_exact_resets(void **state) {
  struct th *h = th_new_state(state, NULL);
  us_time_t t = th_fx_established(h, 0) + US_MSEC(10);
  th_inject(h, t, TSEG(.flags = TH_RST | TH_ACK, .seq = 1, .ack = 1));
  th_assert_state(h, -1);
  assert_int_equal(us_sock_error(h->s, h->c->sock), US_ERR_CONNRESET);
  th_expect_nothing_until(h, t + US_SEC(1));
  th_finish(h);
}

/* RST in the window but not exact: challenge ACK <SEQ=SND.NXT><ACK=RCV.NXT>,
 * the connection survives. */
static void test_rst_in_window_challenge_ack(void **state) {
  struct th *h = th_new_state(state, NULL);
  us_time_t t = th_fx_established(h, 0) + US_MSEC(10);
  th_inject(h, t, TSEG(.flags = TH_RST, .seq = 101));
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  th_assert_state(h, US_TCP_ESTABLISHED);
  assert_int_equal(us_sock_error(h->s, h->c->sock), 0);
  assert_int_equal(th_stat(h, US_STAT_tcp_challenge_ack), 1);
  /* P answers the challenge with the exact RST (a real reset). */
  th_inject(h, t + US_MSEC(10), TSEG(.flags = TH_RST, .seq = 1));
  th_assert_state(h, -1);
  assert_int_equal(us_sock_error(h->s, h->c->sock), US_ERR_CONNRESET);
  th_finish(h);
}

/* RST outside the window (old or far ahead): dropped silently. */
static void test_rst_outside_window_dropped(void **state) {
  struct th *h = th_new_state(state, NULL);
  us_time_t t = th_fx_established(h, 0) + US_MSEC(10);
  th_inject(h, t, TSEG(.flags = TH_RST, .seq = 0));                /* just below */
  th_inject(h, t, TSEG(.flags = TH_RST, .seq = 1u - 100000u));     /* old */
  th_inject(h, t, TSEG(.flags = TH_RST, .seq = 1u + 0x40000000u)); /* far ahead */
  th_inject(h, t, TSEG(.flags = TH_RST | TH_ACK, .seq = 1u + 0x80000000u, .ack = 1));
  th_expect_nothing_until(h, t + US_SEC(5));
  th_assert_state(h, US_TCP_ESTABLISHED);
  assert_int_equal(us_sock_error(h->s, h->c->sock), 0);
  assert_int_equal(th_stat(h, US_STAT_tcp_challenge_ack), 0);
  assert_int_equal(th_stat(h, US_STAT_tcp_rst_ignored), 4);
  th_finish(h);
}

/* SYN on an established connection (any seq, with or without data):
 * challenge ACK, the connection survives, the SYN's data is not delivered. */
static void test_syn_on_established_challenge_ack(void **state) {
  struct th *h = th_new_state(state, NULL);
  us_time_t t = th_fx_established(h, 0) + US_MSEC(10);
  th_inject(h, t, TSEG(.flags = TH_SYN, .seq = 1, MSS(1460)));
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  th_assert_state(h, US_TCP_ESTABLISHED);
  t += US_SEC(2);
  th_inject(h, t, TSEG(.flags = TH_SYN, .seq = 5000, .len = 20));
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  t += US_SEC(2);
  th_inject(h, t, TSEG(.flags = TH_SYN | TH_ACK, .seq = 1, .ack = 1, .len = 20));
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  th_assert_state(h, US_TCP_ESTABLISHED);
  assert_int_equal(th_recv(h, t, 100), US_ERR_AGAIN);
  assert_int_equal(us_sock_error(h->s, h->c->sock), 0);
  assert_true(th_stat(h, US_STAT_tcp_syn_challenge) >= 3);
  /* The stream is intact: the next in-order byte is still offset 0. */
  th_inject(h, t + US_MSEC(10), TSEG(.flags = TH_ACK | TH_PSH, .seq = 1, .ack = 1, .len = 10));
  th_recv_expect(h, t + US_MSEC(10), 10);
  th_finish(h);
}

/* Challenge ACKs are rate-limited per connection (CVE-2016-5696): a flood
 * on A is capped, B still gets its challenge ACK, and A's ordinary ACKs
 * (duplicate data) are not suppressed. */
static void test_challenge_ack_rate_limit_per_conn(void **state) {
  struct th *h = th_new_state(state, NULL);
  uint32_t limit = h->cfg.tcp_challenge_ack_per_sec;
  assert_true(limit > 0);
  th_use(h, 0);
  us_time_t t = th_fx_established(h, 0);
  th_use(h, 1);
  t = th_fx_established(h, t + US_MSEC(10)) + US_MSEC(10);

  th_use(h, 0);
  us_time_t t0 = t;
  for (int i = 0; i < 100; i++)
    th_inject(h, t0 + US_MSEC(i), TSEG(.flags = TH_RST, .seq = 1000 + (uint32_t)i));
  int acks = th_expect_acks_until(h, t0 + US_MSEC(100), 1, NULL);
  assert_true(acks >= 1);
  assert_true((uint32_t)acks <= limit + 1);
  assert_true(th_stat(h, US_STAT_tcp_challenge_ack_limited) > 0);
  th_assert_state(h, US_TCP_ESTABLISHED);

  /* B is unaffected. */
  th_use(h, 1);
  th_inject(h, t0 + US_MSEC(100), TSEG(.flags = TH_RST, .seq = 500));
  th_expect(h, t0 + US_MSEC(100), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));

  /* A's duplicate data is still acknowledged (a plain ACK, not a challenge). */
  th_use(h, 0);
  th_inject(h, t0 + US_MSEC(101), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 10));
  th_expect_within(h, t0 + US_MSEC(101), t0 + US_MSEC(601),
                   TSEG(.flags = TH_ACK, .seq = 1, .ack = 11));
  th_inject(h, t0 + US_MSEC(700), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 10));
  th_expect(h, t0 + US_MSEC(700), TSEG(.flags = TH_ACK, .seq = 1, .ack = 11));

  /* A second later A may be challenged again. */
  th_inject(h, t0 + US_SEC(2), TSEG(.flags = TH_RST, .seq = 50));
  th_expect(h, t0 + US_SEC(2), TSEG(.flags = TH_ACK, .seq = 1, .ack = 11));
  th_recv_expect(h, h->now, 10);
  th_use(h, 1);
  th_assert_state(h, US_TCP_ESTABLISHED);
  th_finish(h);
}

/* SYNs draw challenge ACKs from the same per-connection budget as RSTs,
 * whether the first step (outside the window) or the fourth (inside)
 * challenges them: each is counted, the excess is counted as limited and
 * gets no ACK, and the connection survives (RFC 5961 4.2 and 7). */
static void test_syn_challenge_ack_budget(void **state) {
  struct th *h = th_new_state(state, NULL);
  uint32_t limit = h->cfg.tcp_challenge_ack_per_sec;
  assert_true(limit > 0 && limit < 50);
  us_time_t t = th_fx_established(h, 0) + US_MSEC(10);
  uint64_t syn0 = th_stat(h, US_STAT_tcp_syn_challenge);
  uint64_t chal0 = th_stat(h, US_STAT_tcp_challenge_ack);
  uint64_t lim0 = th_stat(h, US_STAT_tcp_challenge_ack_limited);
  for (uint32_t i = 0; i < 100; i++) {
    uint32_t seq = (i & 1) ? 1u + 0x40000000u + i : 1u + i; /* outside, inside */
    th_inject(h, t + US_MSEC(i), TSEG(.flags = TH_SYN, .seq = seq));
  }
  int acks = th_expect_acks_until(h, t + US_MSEC(100), 1, NULL);
  assert_true(acks >= 1);
  assert_true((uint32_t)acks <= limit + 1);
  assert_int_equal(th_stat(h, US_STAT_tcp_syn_challenge) - syn0, 100);
  assert_int_equal(th_stat(h, US_STAT_tcp_challenge_ack) - chal0, limit);
  assert_int_equal(th_stat(h, US_STAT_tcp_challenge_ack_limited) - lim0, 100 - limit);
  th_assert_state(h, US_TCP_ESTABLISHED);
  assert_int_equal(us_sock_error(h->s, h->c->sock), 0);
  th_finish(h);
}

/* ACK of data never sent: drop and ACK; SND.UNA unchanged (the data in
 * flight is still retransmitted). RFC 9293 ESTABLISHED, RFC 5961 section 5. */
static void test_ack_of_unsent_data(void **state) {
  struct th *h = th_new_state(state, NULL);
  us_time_t t = th_fx_established(h, 0) + US_MSEC(10);
  th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1000));
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  assert_int_equal(th_send(h, t + US_MSEC(10), 100), 100);
  th_expect(h, t + US_MSEC(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 100));
  th_inject(h, t + US_MSEC(20), TSEG(.flags = TH_ACK, .seq = 1, .ack = 500));
  th_expect(h, t + US_MSEC(20), TSEG(.flags = TH_ACK, .seq = 101, .ack = 1));
  assert_true(th_stat(h, US_STAT_tcp_ack_unsent) >= 2);
  struct us_tcp_info in;
  assert_true(th_info(h, &in));
  assert_int_equal(in.snd_una - h->c->s_isn, 1);
  assert_int_equal(us_tcp_send_queued(h->s, h->c->sock), 100);
  /* Still unacknowledged: retransmitted. */
  th_expect_within(h, t + US_MSEC(20), t + US_SEC(3),
                   TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 100));
  th_finish(h);
}

/* Segments for no connection (RFC 9293 3.10.7.1, CLOSED):
 * ACK off: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>; ACK on:
 * <SEQ=SEG.ACK><CTL=RST>; a RST: nothing. */
static void test_rst_for_no_connection(void **state) {
  struct th *h = th_new_state(state, NULL);
  th_fx_listen(h, 0); /* a listener on another port must not matter */
  struct th_conn *c = th_use(h, 0);
  c->s_port = 81;
  /* SYN to a closed port: SEG.LEN counts the SYN. */
  th_inject(h, 0, TSEG(.flags = TH_SYN, .seq = 0, MSS(1460)));
  th_expect(h, 0, TSEG(.flags = TH_RST | TH_ACK, .seq = 0, .seq_abs = true, .ack = 1));
  /* SYN with data. */
  th_inject(h, US_MSEC(1), TSEG(.flags = TH_SYN, .seq = 0, .len = 7));
  th_expect(h, US_MSEC(1), TSEG(.flags = TH_RST | TH_ACK, .seq = 0, .seq_abs = true, .ack = 8));
  /* Data without ACK. */
  th_inject(h, US_MSEC(2), TSEG(.flags = TH_PSH, .seq = 50, .len = 10));
  th_expect(h, US_MSEC(2), TSEG(.flags = TH_RST | TH_ACK, .seq = 0, .seq_abs = true, .ack = 60));
  /* FIN without ACK: the FIN counts. */
  th_inject(h, US_MSEC(3), TSEG(.flags = TH_FIN, .seq = 70));
  th_expect(h, US_MSEC(3), TSEG(.flags = TH_RST | TH_ACK, .seq = 0, .seq_abs = true, .ack = 71));
  /* With ACK: RST <SEQ=SEG.ACK>, no ACK bit. */
  th_inject(h, US_MSEC(4), TSEG(.flags = TH_ACK, .seq = 5, .ack = 0xdeadbeefu, .ack_abs = true));
  th_expect(h, US_MSEC(4), TSEG(.flags = TH_RST, .seq = 0xdeadbeefu, .seq_abs = true));
  th_inject(h, US_MSEC(5),
            TSEG(.flags = TH_ACK | TH_PSH, .seq = 5, .ack = 77, .ack_abs = true, .len = 30));
  th_expect(h, US_MSEC(5), TSEG(.flags = TH_RST, .seq = 77, .seq_abs = true));
  /* A RST never answers a RST. */
  th_inject(h, US_MSEC(6), TSEG(.flags = TH_RST, .seq = 5));
  th_inject(h, US_MSEC(6), TSEG(.flags = TH_RST | TH_ACK, .seq = 5, .ack = 9, .ack_abs = true));
  th_expect_nothing_until(h, US_SEC(1));
  assert_true(th_stat(h, US_STAT_tcp_no_socket) >= 8);
  assert_true(th_stat(h, US_STAT_tcp_out_rsts) >= 6);
  assert_int_equal(th_tcb_count(h), 1);
  th_finish(h);
}

/* SYN to a closed port with no listener at all: RST+ACK (refused). */
static void test_syn_to_closed_port(void **state) {
  struct th *h = th_new_state(state, NULL);
  th_inject(h, 0, TSEG(.flags = TH_SYN, .seq = 0, MSS(1460)));
  th_expect(h, 0, TSEG(.flags = TH_RST | TH_ACK, .seq = 0, .seq_abs = true, .ack = 1));
  th_expect_nothing_until(h, US_SEC(5));
  assert_int_equal(th_tcb_count(h), 0);
  th_finish(h);
}

/* TH-1: a bad checksum is never answered (no RST, no ACK) and changes
 * nothing, on a connection or on a closed port. */
static void test_bad_checksum_ignored(void **state) {
  struct th *h = th_new_state(state, NULL);
  us_time_t t = th_fx_established(h, 0) + US_MSEC(10);
  th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 50, .bad_csum = true));
  th_inject(h, t, TSEG(.flags = TH_RST, .seq = 1, .bad_csum = true));
  th_inject(h, t, TSEG(.flags = TH_SYN, .seq = 0, .dport = 99, .bad_csum = true));
  th_expect_nothing_until(h, t + US_SEC(1));
  th_assert_state(h, US_TCP_ESTABLISHED);
  assert_int_equal(th_recv(h, h->now, 100), US_ERR_AGAIN);
  assert_true(th_stat(h, US_STAT_tcp_in_csum_errors) >= 3);
  th_finish(h);
}

/* Exact RST in CLOSE-WAIT and in FIN-WAIT-2 closes too. */
static void test_rst_in_close_wait_and_fin_wait_2(void **state) {
  struct th *h = th_new_state(state, NULL);
  th_use(h, 0);
  us_time_t t = th_fx_close_wait(h, 0) + US_MSEC(10);
  th_inject(h, t, TSEG(.flags = TH_RST, .seq = 2));
  th_assert_state(h, -1);
  assert_int_equal(us_sock_error(h->s, h->c->sock), US_ERR_CONNRESET);
  th_use(h, 1);
  t = th_fx_fin_wait_2(h, t + US_MSEC(10)) + US_MSEC(10);
  th_inject(h, t, TSEG(.flags = TH_RST, .seq = 1));
  th_assert_state(h, -1);
  th_expect_nothing_until(h, t + US_SEC(5));
  th_finish(h);
}

/* An in-window RST in SYN-RECEIVED that is not exact: no reset (RFC 5961
 * 3.2 applies in every state but SYN-SENT). The letter asks for a challenge
 * ACK <SEQ=SND.NXT><ACK=RCV.NXT>; re-sending the SYN-ACK (which carries the
 * same RCV.NXT) is accepted as its equivalent here. */
static void test_rst_in_window_syn_received(void **state) {
  struct th *h = th_new_state(state, NULL);
  th_fx_syn_received(h, 0);
  th_inject(h, US_MSEC(10), TSEG(.flags = TH_RST, .seq = 100));
  th_advance(h, US_MSEC(10));
  struct th_pkt p;
  assert_true(th_pop(h, &p));
  bool challenge = p.flags == TH_ACK && th_rel_seq(h, &p) == 1;
  bool synack = p.flags == (TH_SYN | TH_ACK) && th_rel_seq(h, &p) == 0;
  assert_true(challenge || synack);
  assert_int_equal(th_rel_ack(h, &p), 1);
  th_assert_state(h, US_TCP_SYN_RECEIVED);
  th_finish(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_teardown(test_rst_exact_resets, th_teardown),
    cmocka_unit_test_teardown(test_rst_ack_exact_resets, th_teardown),
    cmocka_unit_test_teardown(test_rst_in_window_challenge_ack, th_teardown),
    cmocka_unit_test_teardown(test_rst_outside_window_dropped, th_teardown),
    cmocka_unit_test_teardown(test_syn_on_established_challenge_ack, th_teardown),
    cmocka_unit_test_teardown(test_challenge_ack_rate_limit_per_conn, th_teardown),
    cmocka_unit_test_teardown(test_syn_challenge_ack_budget, th_teardown),
    cmocka_unit_test_teardown(test_ack_of_unsent_data, th_teardown),
    cmocka_unit_test_teardown(test_rst_for_no_connection, th_teardown),
    cmocka_unit_test_teardown(test_syn_to_closed_port, th_teardown),
    cmocka_unit_test_teardown(test_bad_checksum_ignored, th_teardown),
    cmocka_unit_test_teardown(test_rst_in_close_wait_and_fin_wait_2, th_teardown),
    cmocka_unit_test_teardown(test_rst_in_window_syn_received, th_teardown),
  };
  return H_RUN("tcp_rst", tests);
}
