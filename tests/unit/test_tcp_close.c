/*
 * test_tcp_close.c - closing a connection: every edge of the RFC 9293
 * state diagram (section 3.3.2, figure 5) after ESTABLISHED, the TIME-WAIT
 * rules (MUST-13, RFC 1337 vs RFC 9293 for RST, reopening by a new SYN),
 * half-close, abort, and the RST for a close with unread data (RFC 2525
 * section 2.17).
 *
 * MSL is 3 s in these tests, so 2*MSL = 6 s of virtual time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tcp_harness.h"

#define MSL US_SEC(3)

static void msl3(struct us_config *c) {
  c->tcp_msl = MSL;
  c->tcp_rto_min = US_SEC(1);
}

static void msl3_rst_closes(struct us_config *c) {
  msl3(c);
  c->tcp_time_wait_rst_closes = true;
}

static void msl3_rst_ignored(struct us_config *c) {
  msl3(c);
  c->tcp_time_wait_rst_closes = false;
}

/* TIME-WAIT lasts exactly 2*MSL from entering it, then the TCB is gone. */
static void assert_time_wait_ends(struct th *h, us_time_t entered) {
  struct us_tcp_info in;
  assert_true(th_info(h, &in));
  assert_int_equal(in.state, US_TCP_TIME_WAIT);
  assert_true(in.timer_at == entered + 2 * MSL);
  assert_int_equal(th_deadline(h), entered + 2 * MSL);
  th_expect_nothing_until(h, entered + 2 * MSL - 1);
  th_assert_state(h, US_TCP_TIME_WAIT);
  th_advance(h, entered + 2 * MSL);
  th_assert_state(h, -1);
  th_expect_nothing_until(h, entered + 4 * MSL);
}

/* ESTABLISHED -> FIN-WAIT-1 -> FIN-WAIT-2 -> TIME-WAIT -> CLOSED. */
static void test_active_close(void **state) {
  struct th *h = th_new_state(state, msl3);
  us_time_t t = th_fx_time_wait(h, 0);
  assert_time_wait_ends(h, t);
  assert_int_equal(th_stat(h, US_STAT_tcp_time_wait_expired), 1);
  assert_int_equal(th_tcb_count(h), 1); /* the listener */
  th_finish(h);
}

/* The same from an active open. */
static void test_active_close_after_active_open(void **state) {
  struct th *h = th_new_state(state, msl3);
  us_time_t t = th_fx_established_active(h, 0);
  t = th_fx_time_wait(h, t + US_MSEC(10));
  assert_time_wait_ends(h, t);
  assert_int_equal(th_tcb_count(h), 0);
  th_finish(h);
}

/* FIN-WAIT-2 lasts while P keeps sending: S keeps receiving. */
static void test_fin_wait_2_receives_data(void **state) {
  struct th *h = th_new_state(state, msl3);
  us_time_t t = th_fx_established(h, 0);
  int r = us_tcp_shutdown(h->s, h->c->sock, t);
  assert_int_equal(r, 0);
  th_expect(h, t, TSEG(.flags = TH_FIN | TH_ACK, .seq = 1, .ack = 1));
  th_assert_state(h, US_TCP_FIN_WAIT_1);
  assert_int_equal(th_send(h, t, 10), US_ERR_PIPE);
  t += US_MSEC(10);
  th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 2));
  th_assert_state(h, US_TCP_FIN_WAIT_2);
  for (int i = 0; i < 4; i++) {
    t += US_MSEC(10);
    th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 1 + 1000u * (uint32_t)i, .ack = 2, .len = 1000));
  }
  uint32_t ack = 0;
  assert_true(th_expect_acks_until(h, t + US_MSEC(500), 2, &ack) > 0);
  assert_int_equal(ack, 4001);
  th_recv_expect(h, h->now, 4000);
  th_assert_state(h, US_TCP_FIN_WAIT_2);
  t = h->now + US_MSEC(10);
  th_inject(h, t, TSEG(.flags = TH_FIN | TH_ACK, .seq = 4001, .ack = 2));
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 2, .ack = 4002));
  th_assert_state(h, US_TCP_TIME_WAIT);
  assert_int_equal(th_recv(h, t, 100), 0);
  assert_int_equal(us_tcp_close(h->s, h->c->sock, t), 0);
  h->c->sock = US_SOCK_INVALID;
  assert_time_wait_ends(h, t);
  th_finish(h);
}

/* Simultaneous close: FIN-WAIT-1 -> CLOSING -> TIME-WAIT. */
static void test_simultaneous_close(void **state) {
  struct th *h = th_new_state(state, msl3);
  us_time_t t = th_fx_closing(h, 0) + US_MSEC(10);
  th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 2, .ack = 2));
  th_assert_state(h, US_TCP_TIME_WAIT);
  assert_time_wait_ends(h, t);
  th_finish(h);
}

/* CLOSING retransmits its FIN until it is acknowledged. */
static void test_closing_retransmits_fin(void **state) {
  struct th *h = th_new_state(state, msl3);
  us_time_t t = th_fx_closing(h, 0);
  us_time_t at =
      th_expect_within(h, t, t + US_SEC(3), TSEG(.flags = TH_FIN | TH_ACK, .seq = 1, .ack = 2));
  th_inject(h, at + US_MSEC(10), TSEG(.flags = TH_ACK, .seq = 2, .ack = 2));
  th_assert_state(h, US_TCP_TIME_WAIT);
  assert_time_wait_ends(h, at + US_MSEC(10));
  th_finish(h);
}

/* FIN-WAIT-1 -> TIME-WAIT when P's FIN also acknowledges ours. */
static void test_fin_wait_1_fin_ack(void **state) {
  struct th *h = th_new_state(state, msl3);
  us_time_t t = th_fx_fin_wait_1(h, 0) + US_MSEC(10);
  th_inject(h, t, TSEG(.flags = TH_FIN | TH_ACK, .seq = 1, .ack = 2));
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 2, .ack = 2));
  th_assert_state(h, US_TCP_TIME_WAIT);
  assert_time_wait_ends(h, t);
  th_finish(h);
}

/* FIN-WAIT-1 retransmits the FIN (RFC 6298 timer) while unacknowledged. */
static void test_fin_wait_1_retransmits_fin(void **state) {
  struct th *h = th_new_state(state, msl3);
  us_time_t t = th_fx_fin_wait_1(h, 0);
  /* RTO = max(rto_min = 1 s, SRTT + 4 RTTVAR) after a 10 ms sample. */
  th_expect(h, t + US_SEC(1), TSEG(.flags = TH_FIN | TH_ACK, .seq = 1, .ack = 1));
  th_expect(h, t + US_SEC(3), TSEG(.flags = TH_FIN | TH_ACK, .seq = 1, .ack = 1));
  t += US_SEC(3) + US_MSEC(10);
  th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 2));
  th_assert_state(h, US_TCP_FIN_WAIT_2);
  th_expect_nothing_until(h, t + US_SEC(1));
  th_inject(h, t + US_SEC(1), TSEG(.flags = TH_FIN | TH_ACK, .seq = 1, .ack = 2));
  th_expect(h, t + US_SEC(1), TSEG(.flags = TH_ACK, .seq = 2, .ack = 2));
  th_assert_state(h, US_TCP_TIME_WAIT);
  th_finish(h);
}

/* Passive close: ESTABLISHED -> CLOSE-WAIT -> LAST-ACK -> CLOSED. */
static void test_passive_close(void **state) {
  struct th *h = th_new_state(state, msl3);
  us_time_t t = th_fx_last_ack(h, 0) + US_MSEC(10);
  th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 2, .ack = 2));
  th_assert_state(h, -1);
  th_expect_nothing_until(h, t + US_SEC(60));
  assert_int_equal(th_tcb_count(h), 1);
  th_finish(h);
}

/* CLOSE-WAIT: S can still send; a duplicate FIN is re-ACKed and consumed
 * once (HOSTILE CL-2). */
static void test_close_wait_send_and_dup_fin(void **state) {
  struct th *h = th_new_state(state, msl3);
  us_time_t t = th_fx_close_wait(h, 0) + US_MSEC(10);
  assert_int_equal(th_send(h, t, 100), 100);
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 2, .len = 100));
  t += US_MSEC(10);
  th_inject(h, t, TSEG(.flags = TH_FIN | TH_ACK, .seq = 1, .ack = 101));
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 101, .ack = 2));
  th_assert_state(h, US_TCP_CLOSE_WAIT);
  assert_int_equal(th_recv(h, t, 10), 0);
  th_finish(h);
}

/* Text after P's FIN is ignored (RFC 9293 3.10.7.4 seventh step,
 * CLOSE-WAIT: "ignore the segment text"); the stream stays at EOF. */
static void test_close_wait_ignores_data_after_fin(void **state) {
  struct th *h = th_new_state(state, msl3);
  us_time_t t = th_fx_close_wait(h, 0) + US_MSEC(10);
  th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 2, .ack = 1, .len = 10));
  th_advance(h, t + US_MSEC(500));
  struct th_pkt p;
  while (th_pop(h, &p)) {
    assert_true(p.ok && !(p.flags & TH_RST));
    assert_int_equal(th_rel_ack(h, &p), 2);
  }
  assert_int_equal(th_recv(h, h->now, 100), 0);
  th_assert_state(h, US_TCP_CLOSE_WAIT);
  th_finish(h);
}

/* LAST-ACK retransmits the FIN, and a duplicate FIN there is re-ACKed. */
static void test_last_ack_retransmit(void **state) {
  struct th *h = th_new_state(state, msl3);
  us_time_t t = th_fx_last_ack(h, 0);
  us_time_t at = th_expect_within(h, t + US_MSEC(200), t + US_SEC(3),
                                  TSEG(.flags = TH_FIN | TH_ACK, .seq = 1, .ack = 2));
  th_inject(h, at + US_MSEC(1), TSEG(.flags = TH_FIN | TH_ACK, .seq = 1, .ack = 1));
  th_expect(h, at + US_MSEC(1), TSEG(.flags = TH_ACK, .seq = 2, .ack = 2));
  th_assert_state(h, US_TCP_LAST_ACK);
  th_inject(h, at + US_MSEC(2), TSEG(.flags = TH_ACK, .seq = 2, .ack = 2));
  th_assert_state(h, -1);
  th_finish(h);
}

/* Half-close: shutdown sends FIN after the queued data; receiving goes on
 * until P's FIN; then EOF. */
static void test_half_close(void **state) {
  struct th *h = th_new_state(state, msl3);
  us_time_t t = th_fx_established(h, 0);
  assert_int_equal(th_send(h, t, 300), 300);
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 300));
  assert_int_equal(us_tcp_shutdown(h->s, h->c->sock, t), 0);
  th_expect(h, t, TSEG(.flags = TH_FIN | TH_ACK, .seq = 301, .ack = 1));
  th_assert_state(h, US_TCP_FIN_WAIT_1);
  t += US_MSEC(10);
  th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 302, .len = 50));
  th_assert_state(h, US_TCP_FIN_WAIT_2);
  th_expect_within(h, t, t + US_MSEC(500), TSEG(.flags = TH_ACK, .seq = 302, .ack = 51));
  th_recv_expect(h, h->now, 50);
  t = h->now + US_MSEC(10);
  th_inject(h, t, TSEG(.flags = TH_FIN | TH_ACK, .seq = 51, .ack = 302, .len = 20));
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 302, .ack = 72));
  th_assert_state(h, US_TCP_TIME_WAIT);
  th_recv_expect(h, t, 20);
  assert_int_equal(th_recv(h, t, 10), 0);
  assert_int_equal(us_tcp_close(h->s, h->c->sock, t), 0);
  h->c->sock = US_SOCK_INVALID;
  assert_time_wait_ends(h, t);
  th_finish(h);
}

/* Closing a listener frees the connections still waiting in its accept
 * queue; their peers meet no connection afterwards (RST <SEQ=SEG.ACK>). */
static void test_listener_close_frees_queue(void **state) {
  struct th *h = th_new_state(state, msl3);
  th_fx_syn_received(h, 0);
  th_inject(h, US_MSEC(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  th_assert_state(h, US_TCP_ESTABLISHED);
  th_advance(h, US_MSEC(20));
  assert_int_equal(us_tcp_close(h->s, h->lsock, US_MSEC(20)), 0);
  h->lsock = US_SOCK_INVALID;
  /* A RST (or FIN) to the queued peer is allowed; afterwards nothing is
   * left once any orderly release has run. */
  th_advance(h, US_MSEC(30));
  th_drain(h);
  th_inject(h, US_SEC(1), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 5));
  th_advance(h, US_SEC(1));
  struct th_pkt p;
  assert_true(th_pop(h, &p));
  assert_true(p.ok && (p.flags & TH_RST));
  th_advance(h, US_SEC(30));
  th_drain(h);
  assert_int_equal(th_tcb_count(h), 0);
  th_finish(h);
}

/* Close with data still queued (RFC 9293 3.10.4: the FIN follows the
 * data): the data drains through a 2-segment window, then FIN. */
static void test_close_flushes_queued_data(void **state) {
  struct th *h = th_new_state(state, msl3);
  us_time_t t = th_fx_established(h, 0) + US_MSEC(10);
  const uint32_t mss = 1460;
  th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, WND(2 * mss)));
  assert_int_equal(th_send(h, t, 4 * mss), 4 * mss);
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = mss));
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1 + mss, .ack = 1, .len = mss));
  assert_int_equal(us_tcp_close(h->s, h->c->sock, t), 0);
  h->c->sock = US_SOCK_INVALID;
  th_expect_nothing_until(h, t + US_MSEC(10));
  th_inject(h, t + US_MSEC(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1 + 2 * mss, WND(2 * mss)));
  th_expect(h, t + US_MSEC(10), TSEG(.flags = TH_ACK, .seq = 1 + 2 * mss, .ack = 1, .len = mss));
  /* The last segment and the FIN (together or apart). */
  th_advance(h, t + US_MSEC(10));
  struct th_pkt p;
  assert_true(th_pop(h, &p));
  assert_int_equal(th_rel_seq(h, &p), 1 + 3 * mss);
  assert_int_equal(p.plen, mss);
  assert_true(p.flags & TH_ACK);
  if (!(p.flags & TH_FIN))
    th_expect(h, t + US_MSEC(10), TSEG(.flags = TH_FIN | TH_ACK, .seq = 1 + 4 * mss, .ack = 1));
  th_assert_state(h, US_TCP_FIN_WAIT_1);
  th_inject(h, t + US_MSEC(30), TSEG(.flags = TH_FIN | TH_ACK, .seq = 1, .ack = 2 + 4 * mss));
  th_expect(h, t + US_MSEC(30), TSEG(.flags = TH_ACK, .seq = 2 + 4 * mss, .ack = 2));
  th_assert_state(h, US_TCP_TIME_WAIT);
  th_finish(h);
}

/* Abort: RST <SEQ=SND.NXT>, everything freed at once, handle stale. */
static void test_abort_sends_rst(void **state) {
  struct th *h = th_new_state(state, msl3);
  us_time_t t = th_fx_established(h, 0);
  assert_int_equal(th_send(h, t, 100), 100);
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 100));
  us_sock_t sock = h->c->sock;
  t += US_MSEC(10);
  th_advance(h, t);
  assert_int_equal(us_tcp_abort(h->s, sock, t), 0);
  th_expect(h, t, TSEG(.flags = TH_RST, .seq = 101, .ack = 1, .ack_opt = true));
  th_assert_state(h, -1);
  assert_int_equal(us_tcp_send(h->s, sock, "x", 1, t), US_ERR_BADF);
  h->c->sock = US_SOCK_INVALID;
  th_expect_nothing_until(h, t + US_SEC(30));
  /* P's next segment meets no connection: RST <SEQ=SEG.ACK>. */
  th_inject(h, t + US_SEC(30), TSEG(.flags = TH_ACK, .seq = 1, .ack = 101));
  th_expect(h, t + US_SEC(30), TSEG(.flags = TH_RST, .seq = 101));
  th_finish(h);
}

/* A retransmitted FIN in TIME-WAIT is ACKed again and restarts 2*MSL. */
static void test_time_wait_fin_reacked(void **state) {
  struct th *h = th_new_state(state, msl3);
  us_time_t t = th_fx_time_wait(h, 0);
  us_time_t t2 = t + US_SEC(2);
  th_expect_nothing_until(h, t2);
  th_inject(h, t2, TSEG(.flags = TH_FIN | TH_ACK, .seq = 1, .ack = 2));
  th_expect(h, t2, TSEG(.flags = TH_ACK, .seq = 2, .ack = 2));
  th_assert_state(h, US_TCP_TIME_WAIT);
  /* Still there after the original 2*MSL, gone 2*MSL after the FIN. */
  th_advance(h, t + 2 * MSL + US_MSEC(1));
  th_assert_state(h, US_TCP_TIME_WAIT);
  assert_time_wait_ends(h, t2);
  th_finish(h);
}

/* RST in TIME-WAIT with tcp_time_wait_rst_closes = false: RFC 1337, the RST
 * is ignored and TIME-WAIT runs its full 2*MSL. */
static void test_time_wait_rst_ignored(void **state) {
  struct th *h = th_new_state(state, msl3_rst_ignored);
  us_time_t t = th_fx_time_wait(h, 0);
  th_inject(h, t + US_SEC(1), TSEG(.flags = TH_RST, .seq = 2));
  th_assert_state(h, US_TCP_TIME_WAIT);
  assert_int_equal(th_stat(h, US_STAT_tcp_time_wait_rst), 1);
  assert_time_wait_ends(h, t);
  th_finish(h);
}

/* ... and with tcp_time_wait_rst_closes = true: RFC 9293, the RST closes. */
static void test_time_wait_rst_closes(void **state) {
  struct th *h = th_new_state(state, msl3_rst_closes);
  us_time_t t = th_fx_time_wait(h, 0);
  th_inject(h, t + US_SEC(1), TSEG(.flags = TH_RST, .seq = 2));
  th_assert_state(h, -1);
  th_expect_nothing_until(h, t + US_SEC(20));
  th_finish(h);
}

/* A new SYN with a higher sequence number reopens a TIME-WAIT pair (as
 * Linux does; RFC 9293 MAY-2 / RFC 6191); an old SYN does not. */
static void test_time_wait_new_syn_reopens(void **state) {
  struct th *h = th_new_state(state, msl3);
  us_time_t t = th_fx_time_wait(h, 0) + US_MSEC(100);
  /* An old SYN (below RCV.NXT): never a new connection. */
  th_inject(h, t, TSEG(.flags = TH_SYN, .seq = 0, MSS(1460)));
  if (th_run_until_packet(h, t))
    th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 2, .ack = 2));
  th_assert_state(h, US_TCP_TIME_WAIT);
  /* A new incarnation, well above the old RCV.NXT. */
  t += US_MSEC(100);
  struct th_conn *c = h->c;
  c->p_isn = c->p_isn + 100000u;
  c->p_nxt = 0;
  c->s_isn_known = false;
  c->s_sent = 0;
  th_inject(h, t, TSEG(.flags = TH_SYN, .seq = 0, MSS(1460)));
  th_expect(h, t, TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1));
  th_assert_state(h, US_TCP_SYN_RECEIVED);
  th_inject(h, t + US_MSEC(1), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  th_assert_state(h, US_TCP_ESTABLISHED);
  th_accept(h);
  assert_int_equal(th_stat(h, US_STAT_tcp_time_wait_recycled), 1);
  th_finish(h);
}

/* Close with unread data: RST instead of FIN (RFC 2525 2.17, SHLD-3). */
static void test_close_with_unread_data_rsts(void **state) {
  struct th *h = th_new_state(state, msl3);
  us_time_t t = th_fx_established(h, 0) + US_MSEC(10);
  th_inject(h, t, TSEG(.flags = TH_ACK | TH_PSH, .seq = 1, .ack = 1, .len = 100));
  th_expect_within(h, t, t + US_MSEC(500), TSEG(.flags = TH_ACK, .seq = 1, .ack = 101));
  t = h->now + US_MSEC(10);
  th_advance(h, t);
  assert_int_equal(us_tcp_close(h->s, h->c->sock, t), 0);
  h->c->sock = US_SOCK_INVALID;
  th_expect(h, t, TSEG(.flags = TH_RST, .seq = 1, .ack = 101, .ack_opt = true));
  th_assert_state(h, -1);
  assert_int_equal(th_stat(h, US_STAT_tcp_abort_on_close), 1);
  th_finish(h);
}

/* Text after the application closed: nobody will read it, so exactly one
 * RST <SEQ=SND.NXT> answers it and the connection is gone (RFC 2525 2.17,
 * tcp_input.c's abort verdict); P's retransmission meets no connection. */
static void test_data_after_close_aborts(void **state) {
  struct th *h = th_new_state(state, msl3);
  us_time_t t = th_fx_fin_wait_2(h, 0) + US_MSEC(10);
  uint64_t rsts = th_stat(h, US_STAT_tcp_out_rsts);
  th_inject(h, t, TSEG(.flags = TH_ACK | TH_PSH, .seq = 1, .ack = 2, .len = 100));
  th_expect(h, t, TSEG(.flags = TH_RST, .seq = 2, .ack = 1, .ack_opt = true));
  th_assert_state(h, -1);
  th_expect_nothing_until(h, t + US_SEC(5));
  assert_int_equal(th_stat(h, US_STAT_tcp_abort_on_data), 1);
  assert_int_equal(th_stat(h, US_STAT_tcp_out_rsts) - rsts, 1);
  t += US_SEC(5);
  th_inject(h, t, TSEG(.flags = TH_ACK | TH_PSH, .seq = 1, .ack = 2, .len = 100));
  th_expect(h, t, TSEG(.flags = TH_RST, .seq = 2));
  assert_int_equal(th_stat(h, US_STAT_tcp_abort_on_data), 1);
  th_finish(h);
}

/* Close in SYN-SENT: the TCB is deleted, no FIN; the late SYN-ACK meets
 * no connection and gets a RST <SEQ=SEG.ACK>. */
static void test_close_in_syn_sent(void **state) {
  struct th *h = th_new_state(state, msl3);
  th_connect(h, 0);
  th_expect(h, 0, TSEG(.flags = TH_SYN, .seq = 0));
  th_advance(h, US_MSEC(5));
  assert_int_equal(us_tcp_close(h->s, h->c->sock, US_MSEC(5)), 0);
  h->c->sock = US_SOCK_INVALID;
  th_expect_nothing_until(h, US_MSEC(10));
  th_assert_state(h, -1);
  th_inject(h, US_MSEC(20), TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1));
  th_expect(h, US_MSEC(20), TSEG(.flags = TH_RST, .seq = 1));
  th_finish(h);
}

/* Close in SYN-RECEIVED (from a simultaneous open): FIN, FIN-WAIT-1
 * (RFC 9293 3.10.4, CLOSE call in SYN-RECEIVED). */
static void test_close_in_syn_received(void **state) {
  struct th *h = th_new_state(state, msl3);
  th_connect(h, 0);
  th_expect(h, 0, TSEG(.flags = TH_SYN, .seq = 0));
  th_inject(h, US_MSEC(10), TSEG(.flags = TH_SYN, .seq = 0, MSS(1460)));
  th_expect(h, US_MSEC(10), TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1));
  th_assert_state(h, US_TCP_SYN_RECEIVED);
  th_advance(h, US_MSEC(20));
  assert_int_equal(us_tcp_close(h->s, h->c->sock, US_MSEC(20)), 0);
  h->c->sock = US_SOCK_INVALID;
  /* The FIN may wait for the handshake to finish; after P's ACK it must
   * be there, and the state is FIN-WAIT-1. */
  th_inject(h, US_MSEC(30), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  th_expect_within(h, US_MSEC(20), US_MSEC(30), TSEG(.flags = TH_FIN | TH_ACK, .seq = 1, .ack = 1));
  th_assert_state(h, US_TCP_FIN_WAIT_1);
  th_inject(h, US_MSEC(40), TSEG(.flags = TH_FIN | TH_ACK, .seq = 1, .ack = 2));
  th_expect(h, US_MSEC(40), TSEG(.flags = TH_ACK, .seq = 2, .ack = 2));
  th_assert_state(h, US_TCP_TIME_WAIT);
  th_finish(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_teardown(test_active_close, th_teardown),
    cmocka_unit_test_teardown(test_active_close_after_active_open, th_teardown),
    cmocka_unit_test_teardown(test_fin_wait_2_receives_data, th_teardown),
    cmocka_unit_test_teardown(test_simultaneous_close, th_teardown),
    cmocka_unit_test_teardown(test_closing_retransmits_fin, th_teardown),
    cmocka_unit_test_teardown(test_fin_wait_1_fin_ack, th_teardown),
    cmocka_unit_test_teardown(test_fin_wait_1_retransmits_fin, th_teardown),
    cmocka_unit_test_teardown(test_passive_close, th_teardown),
    cmocka_unit_test_teardown(test_close_wait_send_and_dup_fin, th_teardown),
    cmocka_unit_test_teardown(test_close_wait_ignores_data_after_fin, th_teardown),
    cmocka_unit_test_teardown(test_last_ack_retransmit, th_teardown),
    cmocka_unit_test_teardown(test_half_close, th_teardown),
    cmocka_unit_test_teardown(test_close_flushes_queued_data, th_teardown),
    cmocka_unit_test_teardown(test_listener_close_frees_queue, th_teardown),
    cmocka_unit_test_teardown(test_abort_sends_rst, th_teardown),
    cmocka_unit_test_teardown(test_time_wait_fin_reacked, th_teardown),
    cmocka_unit_test_teardown(test_time_wait_rst_ignored, th_teardown),
    cmocka_unit_test_teardown(test_time_wait_rst_closes, th_teardown),
    cmocka_unit_test_teardown(test_time_wait_new_syn_reopens, th_teardown),
    cmocka_unit_test_teardown(test_close_with_unread_data_rsts, th_teardown),
    cmocka_unit_test_teardown(test_data_after_close_aborts, th_teardown),
    cmocka_unit_test_teardown(test_close_in_syn_sent, th_teardown),
    cmocka_unit_test_teardown(test_close_in_syn_received, th_teardown),
  };
  return H_RUN("tcp_close", tests);
}
