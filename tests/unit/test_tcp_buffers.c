/*
 * test_tcp_buffers.c - send and receive buffers come from bounded pools and
 * are attached only while data is queued (docs/MEMORY.md, docs/ARCHITECTURE.md 3).
 *
 *  - an established connection with nothing queued holds no buffer;
 *  - the receive buffer is taken by the first byte of text (in order or
 *    out of order) and given back when the application has read all and
 *    no out-of-order range is held;
 *  - the send buffer is taken by us_tcp_send and given back when the peer
 *    has acknowledged everything;
 *  - with the receive pool empty, text on a connection without a buffer is
 *    not accepted (the ACK repeats RCV.NXT, its window does not grow), it
 *    is counted, and once a buffer comes back the peer's retransmission is
 *    taken: nothing acknowledged is lost;
 *  - with the send pool empty, send says AGAIN, the socket is not WRITABLE,
 *    and it becomes WRITABLE when a send buffer comes back;
 *  - many idle connections cost no buffers, and the control block stays
 *    small (the per-connection memory budget of docs/MEMORY.md).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tcp/tcp_int.h"
#include "tcp_harness.h"

static uint32_t snd_used(struct th *h) {
  struct us_pool_usage u = h_pool_usage(h->s);
  return u.tcp_buf_total - u.tcp_sndbuf_free;
}

static uint32_t rcv_used(struct th *h) {
  struct us_pool_usage u = h_pool_usage(h->s);
  return u.tcp_buf_total - u.tcp_rcvbuf_free;
}

/* Two buffers of each kind, small ones, for the exhaustion tests. */
static void two_buffers(struct us_config *c) {
  c->tcp_sndbuf = 8192;
  c->tcp_rcvbuf = 8192;
  c->tcp_buf_mem = 2u * (8192u + 8192u);
}

static void test_idle_connection_holds_no_buffer(void **state) {
  struct th *h = th_new_state(state, NULL);
  us_time_t t = th_fx_established(h, 0);
  assert_int_equal(snd_used(h), 0);
  assert_int_equal(rcv_used(h), 0);
  /* Text takes a receive buffer; reading it all gives it back. */
  th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 1000));
  assert_int_equal(rcv_used(h), 1);
  th_recv_expect(h, t, 400);
  assert_int_equal(rcv_used(h), 1); /* partly read: still held */
  th_recv_expect(h, t, 600);
  assert_int_equal(rcv_used(h), 0);
  /* The window after the drain is the whole buffer again. */
  th_expect_acks_until(h, t + US_SEC(1), 1, NULL);
  struct us_tcp_info in;
  assert_true(th_info(h, &in));
  assert_true(in.rcv_wnd > 0);
  /* Send takes a send buffer; the ACK of everything gives it back. */
  t = h->now + US_MSEC(10);
  assert_int_equal(th_send(h, t, 3000), 3000);
  assert_int_equal(snd_used(h), 1);
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1001, .len = 1460));
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1461, .ack = 1001, .len = 1460));
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 2921, .ack = 1001, .len = 80));
  th_inject(h, t + US_MSEC(5), TSEG(.flags = TH_ACK, .seq = 1001, .ack = 1461));
  assert_int_equal(snd_used(h), 1); /* partly acknowledged */
  th_inject(h, t + US_MSEC(6), TSEG(.flags = TH_ACK, .seq = 1001, .ack = 3001));
  assert_int_equal(snd_used(h), 0);
  assert_int_equal(us_tcp_send_queued(h->s, h->c->sock), 0);
  th_finish(h);
}

/* Out-of-order text takes the buffer too, and it stays until the hole is
 * filled and everything is read. */
static void test_out_of_order_holds_then_releases(void **state) {
  struct th *h = th_new_state(state, NULL);
  us_time_t t = th_fx_established(h, 0) + US_MSEC(10);
  th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 1001, .ack = 1, .len = 500));
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  assert_int_equal(rcv_used(h), 1);
  assert_int_equal(th_recv(h, t, 100), US_ERR_AGAIN);
  assert_int_equal(rcv_used(h), 1); /* nothing readable, but held */
  th_inject(h, t + US_MSEC(1), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 1000));
  th_expect(h, t + US_MSEC(1), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1501));
  th_recv_expect(h, t + US_MSEC(2), 1500);
  assert_int_equal(rcv_used(h), 0);
  th_finish(h);
}

/* A FIN after data: the EOF is seen after the bytes, and the buffer goes
 * back with the last byte read. */
static void test_fin_after_data_releases(void **state) {
  struct th *h = th_new_state(state, NULL);
  us_time_t t = th_fx_established(h, 0) + US_MSEC(10);
  th_inject(h, t, TSEG(.flags = TH_ACK | TH_FIN, .seq = 1, .ack = 1, .len = 300));
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 302));
  th_assert_state(h, US_TCP_CLOSE_WAIT);
  assert_int_equal(rcv_used(h), 1);
  th_recv_expect(h, t, 300);
  assert_int_equal(th_recv(h, t, 10), 0);
  assert_int_equal(rcv_used(h), 0);
  th_finish(h);
}

/* The receive pool runs dry: the third connection's text is refused and
 * counted, its window does not grow, and the retransmission is taken once
 * a buffer comes back. Every byte read is P's, in order. */
static void test_receive_pool_exhausted(void **state) {
  struct th *h = th_new_state(state, two_buffers);
  us_time_t t = 0;
  for (int i = 0; i < 3; i++) {
    th_use(h, i);
    t = th_fx_established(h, t) + US_MSEC(1);
  }
  for (int i = 0; i < 2; i++) {
    th_use(h, i);
    th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 1000));
  }
  th_drain(h);
  assert_int_equal(rcv_used(h), 2);
  uint64_t refused = th_stat(h, US_STAT_tcp_no_buffer);
  th_use(h, 2);
  struct us_tcp_info before;
  assert_true(th_info(h, &before));
  t += US_MSEC(1);
  th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 700));
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  /* The right edge stays where it was (never left, RFC 9293 3.8.6.2.2),
   * and does not grow while no buffer can back it. */
  assert_int_equal(1 + th_last(h)->wnd, 1 + before.rcv_wnd);
  assert_int_equal(th_stat(h, US_STAT_tcp_no_buffer), refused + 1);
  assert_int_equal(us_tcp_recv_queued(h->s, h->c->sock), 0);
  assert_int_equal(th_recv(h, t, 100), US_ERR_AGAIN);
  /* Connection 0 reads: its buffer goes back; P's retransmission on
   * connection 2 is now accepted. */
  th_use(h, 0);
  th_recv_expect(h, t, 1000);
  assert_int_equal(rcv_used(h), 1);
  t += US_MSEC(200);
  th_advance(h, t);
  th_drain(h);
  th_use(h, 2);
  th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 700));
  uint32_t ack = 0;
  th_expect_acks_until(h, t + US_SEC(1), 1, &ack);
  assert_int_equal(ack, 701);
  th_recv_expect(h, h->now, 700);
  th_use(h, 1);
  th_recv_expect(h, h->now, 1000);
  assert_int_equal(rcv_used(h), 0);
  th_finish(h);
}

/* A connection holding its buffer fills it: its window closes to zero and
 * opens again when the application reads (the window follows the space
 * the buffer really has). */
static void test_window_closes_with_buffer_full(void **state) {
  struct th *h = th_new_state(state, two_buffers);
  us_time_t t = th_fx_established(h, 0) + US_MSEC(10);
  uint32_t seq = 1, right = 1;
  struct us_tcp_info in;
  assert_true(th_info(h, &in));
  right = 1 + in.rcv_wnd;
  for (int i = 0; i < 50 && (int32_t)(right - seq) > 0; i++) {
    uint32_t n = right - seq < 1000 ? right - seq : 1000;
    th_inject(h, t, TSEG(.flags = TH_ACK, .seq = seq, .ack = 1, .len = n));
    seq += n;
    th_advance(h, t + US_MSEC(100));
    struct th_pkt p;
    while (th_pop(h, &p))
      right = th_rel_ack(h, &p) + p.wnd;
    t = h->now + US_MSEC(1);
  }
  assert_int_equal(right, seq);
  /* The window offered 7/8 of the budget (the rest is for what buffers
   * hold beyond the payload) and all of it was taken. */
  assert_int_equal(seq - 1, 8192 - 8192 / 8);
  th_recv_expect(h, t, 8192 - 8192 / 8);
  assert_int_equal(rcv_used(h), 0);
  th_expect_within(h, t, t + US_MSEC(500),
                   TSEG(.flags = TH_ACK, .seq = 1, .ack = seq, .wnd_nonzero = true));
  th_finish(h);
}

/* The send pool runs dry: send says AGAIN and the socket is not WRITABLE;
 * when another connection's data is acknowledged, it becomes WRITABLE and
 * its send goes through. */
static void test_send_pool_exhausted(void **state) {
  struct th *h = th_new_state(state, two_buffers);
  us_time_t t = 0;
  for (int i = 0; i < 3; i++) {
    th_use(h, i);
    t = th_fx_established(h, t) + US_MSEC(1);
  }
  for (int i = 0; i < 2; i++) {
    th_use(h, i);
    assert_int_equal(th_send(h, t, 100), 100);
  }
  th_drain(h);
  assert_int_equal(snd_used(h), 2);
  th_use(h, 2);
  uint64_t refused = th_stat(h, US_STAT_tcp_snd_no_buffer);
  uint8_t b[100] = { 0 };
  assert_int_equal(us_tcp_send(h->s, h->c->sock, b, sizeof b, t), US_ERR_AGAIN);
  assert_int_equal(th_stat(h, US_STAT_tcp_snd_no_buffer), refused + 1);
  assert_false(us_sock_events(h->s, h->c->sock) & US_EV_WRITABLE);
  struct us_event ev[16];
  us_stack_events(h->s, ev, 16); /* forget earlier marks */
  /* Connection 0's data is acknowledged: a buffer comes back. */
  th_use(h, 0);
  th_inject(h, t + US_MSEC(5), TSEG(.flags = TH_ACK, .seq = 1, .ack = 101));
  assert_int_equal(snd_used(h), 1);
  th_use(h, 2);
  size_t n = us_stack_events(h->s, ev, 16);
  bool woken = false;
  for (size_t i = 0; i < n; i++)
    if (us_sock_eq(ev[i].sock, h->c->sock) && (ev[i].events & US_EV_WRITABLE))
      woken = true;
  assert_true(woken);
  assert_int_equal(th_send(h, t + US_MSEC(6), 100), 100);
  th_expect(h, t + US_MSEC(6), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 100));
  th_inject(h, t + US_MSEC(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 101));
  th_use(h, 1);
  th_inject(h, t + US_MSEC(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 101));
  assert_int_equal(snd_used(h), 0);
  th_finish(h);
}

/* Idle connections by the handful hold no buffers at all, and the control
 * block stays inside the per-connection budget of docs/MEMORY.md. */
static void test_many_idle_connections(void **state) {
  struct th *h = th_new_state(state, two_buffers);
  us_time_t t = 0;
  for (int i = 0; i < TH_MAX_CONN; i++) {
    th_use(h, i);
    t = th_fx_established(h, t) + US_MSEC(1);
    th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 10));
    th_recv_expect(h, t, 10);
    assert_int_equal(th_send(h, t, 10), 10);
    th_inject(h, t + US_MSEC(1), TSEG(.flags = TH_ACK, .seq = 11, .ack = 11));
    th_advance(h, t + US_MSEC(100));
    th_drain(h);
    t = h->now + US_MSEC(1);
  }
  assert_int_equal(snd_used(h), 0);
  assert_int_equal(rcv_used(h), 0);
  assert_true(sizeof(struct us_tcb) <= 704); /* 656 today */
  th_finish(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_teardown(test_idle_connection_holds_no_buffer, th_teardown),
    cmocka_unit_test_teardown(test_out_of_order_holds_then_releases, th_teardown),
    cmocka_unit_test_teardown(test_fin_after_data_releases, th_teardown),
    cmocka_unit_test_teardown(test_receive_pool_exhausted, th_teardown),
    cmocka_unit_test_teardown(test_window_closes_with_buffer_full, th_teardown),
    cmocka_unit_test_teardown(test_send_pool_exhausted, th_teardown),
    cmocka_unit_test_teardown(test_many_idle_connections, th_teardown),
  };
  return H_RUN("tcp_buffers", tests);
}
