/*
 * test_tcp_cookie_recent.c - an ACK at a listener is checked as a SYN
 * cookie only while a cookie could still be valid: within two cookie
 * periods (2 x 64 s) of the last cookie SYN-ACK (tcp_syncookie.c; Linux
 * likewise checks cookies only after a recent SYN queue overflow).
 *
 * Otherwise a flood of ACKs with made-up cookies (hping3 -A --rand-source)
 * costs a SipHash each, and each has one chance in 2^25 of passing the
 * MAC and opening an ESTABLISHED connection to a forged source, although
 * no SYN queue ever overflowed. The "lucky guess" is made here by asking
 * the stack for the cookie and forgetting that it was made.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "harness.h"
#include "tcp/tcp_int.h"
#include "tcp_harness.h"

#define MS(x) US_MSEC(x)

/* The cookie S would send in answer to P's SYN (MSS 1460, no TSopt) at
 * `now`, as if an attacker had guessed it: no cookie SYN-ACK went out. */
static uint32_t guessed_cookie(struct th *h, us_time_t now) {
  struct tcp_cookie_opts o = { 0 };
  uint32_t c = tcp_syncookie_make(h->s, us_addr_v4(TH_S_ADDR), TH_S_PORT, us_addr_v4(TH_P_ADDR),
                                  h->c->p_port, h->c->p_isn, 1460, &o, now);
  tcp_layer(h->s)->cookie_sent = false;
  return c;
}

/* A listener with a SYN queue of one, filled by connection 0's SYN at
 * 1 ms; connection 1's SYN at 2 ms gets a cookie SYN-ACK (MSS only, no
 * TSopt) and is the current connection afterwards. */
static void cookie_out(struct th *h) {
  th_listen(h, TH_S_PORT, 1);
  h->c->s_port = TH_S_PORT;
  th_inject(h, MS(1), TSEG(.flags = TH_SYN, .seq = 0, MSS(1460)));
  th_expect(h, MS(1), TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1));
  th_use(h, 1);
  h->c->s_port = TH_S_PORT;
  th_inject(h, MS(2), TSEG(.flags = TH_SYN, .seq = 0, MSS(1460)));
  th_expect(h, MS(2), TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1, MSS(1460)));
}

/* No cookie out: the ACK is answered <SEQ=SEG.ACK><CTL=RST> (RFC 9293
 * 3.10.7.2) without a look at its cookie, and makes no connection. */
static void test_guessed_cookie_without_flood_refused(void **state) {
  struct th *h = th_new_state(state, NULL);
  th_listen(h, TH_S_PORT, 8);
  h->c->s_port = TH_S_PORT;
  uint32_t ck = guessed_cookie(h, MS(1));
  th_inject(h, MS(1), TSEG(.flags = TH_ACK, .seq = 1, .ack = ck + 1, .ack_abs = true));
  assert_int_equal(th_state(h), -1);
  assert_int_equal(th_stat(h, US_STAT_tcp_syncookies_recv), 0);
  assert_int_equal(th_stat(h, US_STAT_tcp_syncookies_failed), 0);
  th_expect(h, MS(1), TSEG(.flags = TH_RST, .seq = ck + 1, .seq_abs = true, .ack_opt = true));
  th_finish(h);
}

/* While cookies are out (a full SYN queue made one), the same kind of ACK
 * is checked and completes the handshake; two periods after the last
 * cookie, checking stops again. */
static void test_cookie_window_follows_last_cookie(void **state) {
  struct th *h = th_new_state(state, NULL);
  cookie_out(h);
  assert_int_equal(th_stat(h, US_STAT_tcp_syncookies_sent), 1);
  th_inject(h, MS(3), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  th_assert_state(h, US_TCP_ESTABLISHED);
  assert_int_equal(th_stat(h, US_STAT_tcp_syncookies_recv), 1);
  th_accept(h);
  th_drain(h);

  /* 129 s after that cookie: a cookie made now would be fresh, but none
   * went out for two periods, so none is looked at. */
  th_use(h, 2);
  h->c->s_port = TH_S_PORT;
  us_time_t late = MS(2) + US_SEC(129);
  th_advance(h, late);
  th_drain(h);
  uint32_t ck = guessed_cookie(h, late);
  tcp_layer(h->s)->cookie_sent = true; /* the cookie at 2 ms is the last one out */
  tcp_layer(h->s)->cookie_sent_at = MS(2);
  th_inject(h, late, TSEG(.flags = TH_ACK, .seq = 1, .ack = ck + 1, .ack_abs = true));
  assert_int_equal(th_state(h), -1);
  assert_int_equal(th_stat(h, US_STAT_tcp_syncookies_recv), 1);
  th_expect(h, late, TSEG(.flags = TH_RST, .seq = ck + 1, .seq_abs = true, .ack_opt = true));
  th_finish(h);
}

/* A cookie client whose handshake ACK and first 1000 bytes were lost (the
 * queue in front of the stack overflowed during a flood) sends its next
 * segment: SEG.SEQ - 1 is not the ISN the MAC covers, so the cookie
 * cannot be checked. That segment is dropped without a RST (a RST would
 * reset a client that did nothing wrong); the retransmission of the first
 * bytes carries the cookie and opens the connection with nothing lost. */
static void test_cookie_data_after_lost_first_segment(void **state) {
  struct th *h = th_new_state(state, NULL);
  cookie_out(h);
  assert_int_equal(th_stat(h, US_STAT_tcp_syncookies_sent), 1);

  th_inject(h, MS(3), TSEG(.flags = TH_ACK, .seq = 1001, .ack = 1, .len = 500));
  th_expect_nothing_until(h, MS(500));
  assert_int_equal(th_state(h), -1);
  assert_int_equal(th_stat(h, US_STAT_tcp_syncookies_unverified), 1);
  assert_int_equal(th_stat(h, US_STAT_tcp_syncookies_failed), 0);

  th_inject(h, MS(1003), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 1000));
  th_assert_state(h, US_TCP_ESTABLISHED);
  assert_int_equal(th_stat(h, US_STAT_tcp_syncookies_recv), 1);
  th_inject(h, MS(1004), TSEG(.flags = TH_ACK, .seq = 1001, .ack = 1, .len = 500));
  th_accept(h);
  th_recv_expect(h, MS(1005), 1500);
  th_finish(h);
}

/* A bare ACK that fails the check is still answered with a RST
 * (RFC 9293 3.10.7.2): only text we cannot place is dropped unanswered. */
static void test_cookie_bare_ack_mismatch_reset(void **state) {
  struct th *h = th_new_state(state, NULL);
  cookie_out(h);
  th_inject(h, MS(3), TSEG(.flags = TH_ACK, .seq = 1001, .ack = 1));
  assert_int_equal(th_state(h), -1);
  assert_int_equal(th_stat(h, US_STAT_tcp_syncookies_failed), 1);
  th_expect(h, MS(3), TSEG(.flags = TH_RST, .seq = 1, .ack_opt = true));
  th_finish(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_teardown(test_guessed_cookie_without_flood_refused, th_teardown),
    cmocka_unit_test_teardown(test_cookie_window_follows_last_cookie, th_teardown),
    cmocka_unit_test_teardown(test_cookie_data_after_lost_first_segment, th_teardown),
    cmocka_unit_test_teardown(test_cookie_bare_ack_mismatch_reset, th_teardown),
  };
  return H_RUN("tcp_cookie_recent", tests);
}
