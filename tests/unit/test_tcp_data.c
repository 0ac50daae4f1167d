/*
 * test_tcp_data.c - moving data: in-order and out-of-order delivery, a FIN
 * beyond a hole, duplicates, the 2^32 sequence wrap, zero and shrinking
 * windows with persist probes, Nagle, delayed ACKs, and data beyond the
 * receive window (RFC 9293 3.8.6, 3.10.7.4; RFC 5681 4.2; RFC 1122 4.2.3.4).
 *
 * P offers MSS 1460 and S's MSS is 1460 (MTU 1500), so a full-sized
 * segment is 1460 bytes both ways.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tcp_harness.h"

#define SMSS 1460

/* P -> S in order; S -> P in full-sized segments; all bytes intact. */
static void test_in_order_transfer(void **state) {
  struct th *h = th_new_state(state, NULL);
  us_time_t t = th_fx_established(h, 0);
  for (uint32_t i = 0; i < 10; i++)
    th_inject(h, t + US_MSEC(i), TSEG(.flags = TH_ACK, .seq = 1 + 1000 * i, .ack = 1, .len = 1000));
  uint32_t ack = 0;
  th_expect_acks_until(h, t + US_SEC(1), 1, &ack);
  assert_int_equal(ack, 10001);
  th_recv_expect(h, h->now, 10000);
  assert_int_equal(th_recv(h, h->now, 10), US_ERR_AGAIN);

  t = h->now;
  assert_int_equal(th_send(h, t, 5000), 5000);
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 10001, .len = SMSS));
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1 + SMSS, .ack = 10001, .len = SMSS));
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1 + 2 * SMSS, .ack = 10001, .len = SMSS));
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1 + 3 * SMSS, .ack = 10001, .len = 5000 - 3 * SMSS));
  th_inject(h, t + US_MSEC(10), TSEG(.flags = TH_ACK, .seq = 10001, .ack = 5001));
  assert_int_equal(us_tcp_send_queued(h->s, h->c->sock), 0);
  th_expect_nothing_until(h, t + US_SEC(10));
  struct us_tcp_info in;
  assert_true(th_info(h, &in));
  assert_true(in.bytes_in == 10000);
  assert_true(in.bytes_out == 5000);
  th_finish(h);
}

/* Out of order: each out-of-order segment gets an immediate duplicate ACK
 * (RFC 5681 4.2), nothing is readable across the hole, and filling it gets
 * an immediate ACK of everything. */
static void test_out_of_order(void **state) {
  struct th *h = th_new_state(state, NULL);
  us_time_t t = th_fx_established(h, 0) + US_MSEC(10);
  th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 1001, .ack = 1, .len = 1000));
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  th_inject(h, t + US_MSEC(1), TSEG(.flags = TH_ACK, .seq = 3001, .ack = 1, .len = 1000));
  th_expect(h, t + US_MSEC(1), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  assert_int_equal(th_recv(h, t + US_MSEC(1), 5000), US_ERR_AGAIN);
  assert_true(th_stat(h, US_STAT_tcp_ofo_queue) >= 2);
  /* The first hole: everything up to the second hole is now in order. */
  th_inject(h, t + US_MSEC(2), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 1000));
  th_expect(h, t + US_MSEC(2), TSEG(.flags = TH_ACK, .seq = 1, .ack = 2001));
  th_recv_expect(h, t + US_MSEC(2), 2000);
  assert_int_equal(th_recv(h, t + US_MSEC(2), 5000), US_ERR_AGAIN);
  th_inject(h, t + US_MSEC(3), TSEG(.flags = TH_ACK, .seq = 2001, .ack = 1, .len = 1000));
  th_expect(h, t + US_MSEC(3), TSEG(.flags = TH_ACK, .seq = 1, .ack = 4001));
  th_recv_expect(h, t + US_MSEC(3), 2000);
  struct us_pool_usage u;
  us_stack_pool_usage(h->s, &u);
  assert_int_equal(u.ooo_bytes, 0);
  th_finish(h);
}

/* Overlapping out-of-order pieces are merged without double delivery. */
static void test_out_of_order_overlap(void **state) {
  struct th *h = th_new_state(state, NULL);
  us_time_t t = th_fx_established(h, 0) + US_MSEC(10);
  th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 501, .ack = 1, .len = 500));
  th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 801, .ack = 1, .len = 500));
  th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 601, .ack = 1, .len = 100));
  th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 700));
  uint32_t ack = 0;
  th_expect_acks_until(h, t + US_MSEC(500), 1, &ack);
  assert_int_equal(ack, 1301);
  th_recv_expect(h, h->now, 1300);
  assert_int_equal(th_recv(h, h->now, 10), US_ERR_AGAIN);
  th_finish(h);
}

/* A FIN beyond a hole waits for the hole (HOSTILE CL-2). */
static void test_fin_beyond_hole(void **state) {
  struct th *h = th_new_state(state, NULL);
  us_time_t t = th_fx_established(h, 0) + US_MSEC(10);
  th_inject(h, t, TSEG(.flags = TH_ACK | TH_FIN, .seq = 1001, .ack = 1, .len = 1000));
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  th_assert_state(h, US_TCP_ESTABLISHED);
  assert_int_equal(th_recv(h, t, 5000), US_ERR_AGAIN);
  th_inject(h, t + US_MSEC(5), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 1000));
  th_expect(h, t + US_MSEC(5), TSEG(.flags = TH_ACK, .seq = 1, .ack = 2002));
  th_assert_state(h, US_TCP_CLOSE_WAIT);
  th_recv_expect(h, t + US_MSEC(5), 2000);
  assert_int_equal(th_recv(h, t + US_MSEC(5), 10), 0);
  th_finish(h);
}

/* Duplicates: a repeated segment is ACKed at once and delivered once; a
 * partly new segment delivers only its new part. */
static void test_duplicate_segments(void **state) {
  struct th *h = th_new_state(state, NULL);
  us_time_t t = th_fx_established(h, 0) + US_MSEC(10);
  th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 1000));
  uint32_t ack = 0;
  th_expect_acks_until(h, t + US_MSEC(500), 1, &ack);
  assert_int_equal(ack, 1001);
  t = h->now + US_MSEC(10);
  th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 1000));
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1001));
  th_inject(h, t + US_MSEC(1), TSEG(.flags = TH_ACK, .seq = 501, .ack = 1, .len = 1000));
  th_expect_acks_until(h, t + US_MSEC(600), 1, &ack);
  assert_int_equal(ack, 1501);
  th_recv_expect(h, h->now, 1500);
  assert_int_equal(th_recv(h, h->now, 10), US_ERR_AGAIN);
  th_finish(h);
}

/* The peer's ISN just below 2^32: 100 kB cross the wrap both ways. */
static void test_sequence_wrap(void **state) {
  struct th *h = th_new_state(state, NULL);
  h->c->p_isn = 0xFFFFFF00u;
  us_time_t t = th_fx_established(h, 0) + US_MSEC(10);
  uint32_t seq = 1;
  for (int round = 0; round < 10; round++) {
    for (int i = 0; i < 10; i++) {
      th_inject(h, t, TSEG(.flags = TH_ACK, .seq = seq, .ack = 1, .len = 1000));
      seq += 1000;
      t += US_MSEC(1);
    }
    uint32_t ack = 0;
    th_expect_acks_until(h, t + US_MSEC(500), 1, &ack);
    assert_int_equal(ack, seq);
    th_recv_expect(h, h->now, 10000);
    t = h->now + US_MSEC(1);
  }
  struct us_tcp_info in;
  assert_true(th_info(h, &in));
  assert_int_equal(in.rcv_nxt, (uint32_t)(0xFFFFFF00u + 100001u));
  /* A RST from before the wrap is outside the window. */
  th_inject(h, t, TSEG(.flags = TH_RST, .seq = 0xFFFFFFF0u, .seq_abs = true));
  th_expect_nothing_until(h, t + US_MSEC(100));
  th_assert_state(h, US_TCP_ESTABLISHED);
  /* Our ACKs crossed the wrap; FIN after the wrap closes cleanly. */
  t = h->now;
  th_inject(h, t, TSEG(.flags = TH_ACK | TH_FIN, .seq = seq, .ack = 1));
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = seq + 1));
  th_assert_state(h, US_TCP_CLOSE_WAIT);
  assert_int_equal(th_recv(h, t, 10), 0);
  th_finish(h);
}

/* The same wrap on an active open, with S sending across P's ack wrap. */
static void test_sequence_wrap_peer_isn_ffffffff(void **state) {
  struct th *h = th_new_state(state, NULL);
  h->c->p_isn = 0xFFFFFFFFu;
  us_time_t t = th_fx_established_active(h, 0) + US_MSEC(10);
  th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 500));
  uint32_t ack = 0;
  th_expect_acks_until(h, t + US_MSEC(500), 1, &ack);
  assert_int_equal(ack, 501);
  th_recv_expect(h, h->now, 500);
  th_finish(h);
}

/* Collect S's segments until tmax; returns the number popped. Checks each
 * is from the current conn and carries at most `maxlen` bytes. */
static int pop_all(struct th *h, us_time_t tmax, struct th_pkt *out, int cap) {
  th_advance(h, tmax);
  int n = 0;
  struct th_pkt p;
  while (n < cap && th_pop(h, &p)) {
    assert_true(p.ok);
    out[n++] = p;
  }
  return n;
}

/* Zero window held for 5 minutes (HOSTILE WIN-1): S stops sending, probes
 * with exponential backoff (MUST-36, SHLD-29), keeps the connection while
 * the probes are answered (MUST-37), then sends when the window opens. */
static void test_zero_window_persist(void **state) {
  struct th *h = th_new_state(state, NULL);
  us_time_t t = th_fx_established(h, 0) + US_MSEC(10);
  assert_int_equal(th_send(h, t, 1000), 1000);
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 1000));
  t += US_MSEC(10);
  th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1001, WND(0)));
  assert_int_equal(th_send(h, t, 500), 500);
  us_time_t end = t + US_SEC(300);
  us_time_t prev_at = t, prev_gap = 0;
  int probes = 0;
  while (h->now < end) {
    if (!th_run_until_packet(h, end)) break;
    struct th_pkt p;
    assert_true(th_pop(h, &p));
    char b[200];
    if (!p.ok || !(p.flags & TH_ACK) || (p.flags & (TH_SYN | TH_FIN | TH_RST)) || p.plen > 1)
      th_fail(h, __FILE__, __LINE__, "not a window probe: %s", th_fmt(h, &p, b, sizeof b));
    uint32_t rs = th_rel_seq(h, &p);
    /* A probe is 1 byte of new data at SND.NXT, or an ACK at SND.UNA - 1. */
    if (!((p.plen == 1 && rs == 1001) || (p.plen == 0 && (rs == 1000 || rs == 1001))))
      th_fail(h, __FILE__, __LINE__, "bad probe: %s", th_fmt(h, &p, b, sizeof b));
    us_time_t gap = p.at - prev_at;
    if (probes > 0 && gap + US_MSEC(2) < prev_gap)
      th_fail(h, __FILE__, __LINE__, "probe interval shrank: %.3f s after %.3f s",
              (double)gap / 1e6, (double)prev_gap / 1e6);
    if (gap > h->cfg.tcp_rto_max + US_MSEC(2))
      th_fail(h, __FILE__, __LINE__, "probe interval %.3f s > RTO max", (double)gap / 1e6);
    prev_gap = gap;
    prev_at = p.at;
    probes++;
    /* P answers: still zero (it does not take the probe byte). */
    th_inject(h, p.at + US_MSEC(1), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1001, WND(0)));
    prev_at = p.at + US_MSEC(1);
  }
  /* Backoff: far fewer probes than one per RTO-min over 5 minutes. */
  assert_true(probes >= 3);
  assert_true(probes <= 20);
  assert_true(th_stat(h, US_STAT_tcp_zero_window_probes) >= 3);
  th_assert_state(h, US_TCP_ESTABLISHED);
  assert_int_equal(us_sock_error(h->s, h->c->sock), 0);
  /* The window opens: the 500 bytes go out at once. */
  t = h->now + US_MSEC(1);
  th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1001, WND(65535)));
  struct th_pkt v[8];
  int n = pop_all(h, t, v, 8);
  assert_true(n >= 1);
  uint32_t rs = th_rel_seq(h, &v[0]);
  assert_true(rs == 1001 || rs == 1002);
  assert_int_equal(rs + v[0].plen, 1501);
  th_inject(h, t + US_MSEC(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1501));
  th_expect_nothing_until(h, t + US_SEC(10));
  th_finish(h);
}

static void small_rcvbuf(struct us_config *c) { c->tcp_rcvbuf = 8192; }

/* S's own receive window: it closes as the app does not read, data on a
 * zero window is not accepted (ACK with the same ack), and reading opens
 * it again with a window update. */
static void test_receive_window_closes_and_opens(void **state) {
  struct th *h = th_new_state(state, small_rcvbuf);
  us_time_t t = th_fx_listen(h, 0);
  th_inject(h, t, TSEG(.flags = TH_SYN, .seq = 0, MSS(1460)));
  th_expect(h, t, TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1, .wnd_nonzero = true));
  uint32_t right = 1 + th_last(h)->wnd;
  assert_true(th_last(h)->wnd <= 8192);
  th_inject(h, t + US_MSEC(1), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  th_accept(h);
  t += US_MSEC(2);
  uint32_t seq = 1, last_ack = 0;
  uint16_t last_wnd = 1;
  /* Send into whatever room S advertises until it advertises none. */
  for (int i = 0; i < 100 && (int32_t)(right - seq) > 0; i++) {
    uint32_t n = right - seq < 1000 ? right - seq : 1000;
    th_inject(h, t, TSEG(.flags = TH_ACK, .seq = seq, .ack = 1, .len = n));
    seq += n;
    th_advance(h, t + US_MSEC(500));
    struct th_pkt p;
    while (th_pop(h, &p)) {
      assert_true(p.ok && (p.flags & TH_ACK) && p.plen == 0);
      last_ack = th_rel_ack(h, &p);
      last_wnd = p.wnd;
      /* The right edge never moves left (RFC 9293 3.8.6.2.2). */
      assert_true((int32_t)(last_ack + last_wnd - right) >= 0);
      right = last_ack + last_wnd;
    }
    t = h->now + US_MSEC(1);
  }
  assert_int_equal(last_ack, seq);
  assert_int_equal(last_wnd, 0);
  right = seq;
  /* Data on a zero window: ACK, nothing accepted (HOSTILE SEQ-5). */
  t = h->now + US_MSEC(10);
  th_inject(h, t, TSEG(.flags = TH_ACK, .seq = right, .ack = 1, .len = 100));
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = right, .wnd_zero = true));
  /* A zero-window probe from P gets the same answer. */
  th_inject(h, t + US_MSEC(1), TSEG(.flags = TH_ACK, .seq = right - 1, .ack = 1));
  th_expect(h, t + US_MSEC(1), TSEG(.flags = TH_ACK, .seq = 1, .ack = right, .wnd_zero = true));
  /* Reading everything opens the window, and S says so by itself. */
  th_recv_expect(h, t + US_MSEC(2), right - 1);
  assert_int_equal(th_recv(h, h->now, 10), US_ERR_AGAIN);
  th_expect_within(h, t + US_MSEC(2), t + US_MSEC(502),
                   TSEG(.flags = TH_ACK, .seq = 1, .ack = right, .wnd_nonzero = true));
  assert_true(th_last(h)->wnd >= 1460);
  /* And data flows again. */
  t = h->now + US_MSEC(10);
  th_inject(h, t, TSEG(.flags = TH_ACK, .seq = right, .ack = 1, .len = 100));
  th_expect_acks_until(h, t + US_MSEC(500), 1, &last_ack);
  assert_int_equal(last_ack, right + 100);
  th_recv_expect(h, h->now, 100);
  th_finish(h);
}

/* P shrinks its window (HOSTILE WIN-2): no new data beyond the new right
 * edge, no underflow, and the data flows when the window reopens. */
static void test_shrinking_window(void **state) {
  struct th *h = th_new_state(state, NULL);
  us_time_t t = th_fx_established(h, 0) + US_MSEC(10);
  assert_int_equal(th_send(h, t, 8000), 8000);
  uint32_t sent = 0;
  struct th_pkt p;
  th_advance(h, t);
  while (th_pop(h, &p)) {
    assert_int_equal(th_rel_seq(h, &p), 1 + sent);
    sent += p.plen;
  }
  assert_int_equal(sent, 8000); /* IW10 covers it */
  /* ACK 2000 bytes and shrink: right edge 2001 + 500 < 8001. */
  th_inject(h, t + US_MSEC(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 2001, WND(500)));
  assert_int_equal(th_send(h, t + US_MSEC(10), 3000), 3000);
  /* Until the retransmission timer, nothing; then only old data, and only
   * from SND.UNA, never beyond 8001. */
  us_time_t end = t + US_SEC(5);
  while (th_run_until_packet(h, end)) {
    assert_true(th_pop(h, &p));
    char b[200];
    if (!p.ok || p.plen == 0) continue;
    uint32_t rs = th_rel_seq(h, &p);
    if (rs < 2001 || rs + p.plen > 8001)
      th_fail(h, __FILE__, __LINE__, "sent beyond the shrunk window: %s",
              th_fmt(h, &p, b, sizeof b));
    if (rs == 2001) break;
  }
  /* The window opens again: everything is sent and acknowledged. */
  t = h->now + US_MSEC(10);
  th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 8001, WND(65535)));
  uint32_t hi = 8001;
  th_advance(h, t + US_MSEC(100));
  while (th_pop(h, &p)) {
    uint32_t rs = th_rel_seq(h, &p);
    if (p.plen && rs + p.plen > hi) hi = rs + p.plen;
  }
  assert_int_equal(hi, 11001);
  th_inject(h, h->now + US_MSEC(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 11001));
  th_drain(h);
  assert_int_equal(us_tcp_send_queued(h->s, h->c->sock), 0);
  th_finish(h);
}

/* Nagle (RFC 1122 4.2.3.4, MUST-17 for the switch): a small segment waits
 * while data is unacknowledged; with NODELAY it goes at once. */
static void test_nagle(void **state) {
  struct th *h = th_new_state(state, NULL);
  us_time_t t = th_fx_established(h, 0) + US_MSEC(10);
  long v = -1;
  assert_int_equal(us_tcp_getopt(h->s, h->c->sock, US_TCP_NODELAY, &v), 0);
  assert_int_equal(v, 0);
  assert_int_equal(th_send(h, t, 10), 10);
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 10));
  assert_int_equal(th_send(h, t + US_MSEC(1), 10), 10);
  assert_int_equal(th_send(h, t + US_MSEC(2), 10), 10);
  th_expect_nothing_until(h, t + US_MSEC(50));
  th_inject(h, t + US_MSEC(50), TSEG(.flags = TH_ACK, .seq = 1, .ack = 11));
  th_expect(h, t + US_MSEC(50), TSEG(.flags = TH_ACK, .seq = 11, .ack = 1, .len = 20));
  th_inject(h, t + US_MSEC(60), TSEG(.flags = TH_ACK, .seq = 1, .ack = 31));
  /* NODELAY: each small write goes out at once. */
  assert_int_equal(us_tcp_setopt(h->s, h->c->sock, US_TCP_NODELAY, 1), 0);
  t += US_MSEC(100);
  assert_int_equal(th_send(h, t, 10), 10);
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 31, .ack = 1, .len = 10));
  assert_int_equal(th_send(h, t + US_MSEC(1), 10), 10);
  th_expect(h, t + US_MSEC(1), TSEG(.flags = TH_ACK, .seq = 41, .ack = 1, .len = 10));
  th_inject(h, t + US_MSEC(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 51));
  th_finish(h);
}

/* Delayed ACK: one segment is ACKed within 500 ms (MUST-40), and at least
 * every second full-sized segment is ACKed at once (SHLD-19, RFC 5681). */
static void test_delayed_ack(void **state) {
  struct th *h = th_new_state(state, NULL);
  us_time_t t = th_fx_established(h, 0) + US_MSEC(10);
  th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 100));
  th_expect_within(h, t, t + US_MSEC(500) - 1, TSEG(.flags = TH_ACK, .seq = 1, .ack = 101));
  th_recv_expect(h, h->now, 100);
  t = h->now + US_SEC(1);
  th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 101, .ack = 1, .len = SMSS));
  th_inject(h, t + US_MSEC(1), TSEG(.flags = TH_ACK, .seq = 101 + SMSS, .ack = 1, .len = SMSS));
  uint32_t ack = 0;
  th_expect_acks_until(h, t + US_MSEC(1), 1, &ack);
  assert_int_equal(ack, 101 + 2 * SMSS);
  /* Data from S piggybacks a pending ACK. */
  t += US_SEC(1);
  th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 101 + 2 * SMSS, .ack = 1, .len = 10));
  assert_int_equal(th_send(h, t, 20), 20);
  /* (A pure ACK first is allowed too: delaying is a MAY.) */
  th_advance(h, t);
  if (th_queued(h) > 1) th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 111 + 2 * SMSS));
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 111 + 2 * SMSS, .len = 20));
  th_inject(h, t + US_MSEC(10), TSEG(.flags = TH_ACK, .seq = 111 + 2 * SMSS, .ack = 21));
  th_expect_nothing_until(h, t + US_SEC(2));
  th_finish(h);
}

/* Data beyond the window: a segment straddling the right edge gives only
 * its in-window part; one entirely beyond is dropped with an ACK
 * (HOSTILE SEQ-5, RFC 9293 3.10.7.4 first check). */
static void test_data_beyond_window(void **state) {
  struct th *h = th_new_state(state, small_rcvbuf);
  us_time_t t = th_fx_listen(h, 0);
  th_inject(h, t, TSEG(.flags = TH_SYN, .seq = 0, MSS(1460)));
  th_expect(h, t, TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1));
  uint32_t right = 1 + th_last(h)->wnd;
  th_inject(h, t + US_MSEC(1), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  th_accept(h);
  t += US_MSEC(2);
  uint32_t seq = 1;
  /* Fill until less than 1000 bytes of window are left. */
  for (int i = 0; i < 50 && right - seq >= 1000; i++) {
    th_inject(h, t, TSEG(.flags = TH_ACK, .seq = seq, .ack = 1, .len = 1000));
    seq += 1000;
    t += US_MSEC(1);
    struct th_pkt p;
    th_advance(h, t + US_MSEC(500));
    while (th_pop(h, &p)) {
      uint32_t r = th_rel_ack(h, &p) + p.wnd;
      if ((int32_t)(r - right) > 0) right = r;
    }
    t = h->now;
  }
  uint32_t room = right - seq;
  assert_true(room < 1000);
  /* Straddling: room + 300 bytes, only `room` of them fit. */
  th_inject(h, t, TSEG(.flags = TH_ACK, .seq = seq, .ack = 1, .len = room + 300));
  uint32_t ack = 0;
  th_expect_acks_until(h, t + US_MSEC(500), 1, &ack);
  assert_int_equal(ack, right);
  /* Entirely beyond: dropped, ACK at once. */
  t = h->now + US_MSEC(1);
  th_inject(h, t, TSEG(.flags = TH_ACK, .seq = right + 2000, .ack = 1, .len = 100));
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = right));
  th_recv_expect(h, t, right - 1);
  assert_int_equal(th_recv(h, t, 10), US_ERR_AGAIN);
  th_finish(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_in_order_transfer, th_teardown),
      cmocka_unit_test_teardown(test_out_of_order, th_teardown),
      cmocka_unit_test_teardown(test_out_of_order_overlap, th_teardown),
      cmocka_unit_test_teardown(test_fin_beyond_hole, th_teardown),
      cmocka_unit_test_teardown(test_duplicate_segments, th_teardown),
      cmocka_unit_test_teardown(test_sequence_wrap, th_teardown),
      cmocka_unit_test_teardown(test_sequence_wrap_peer_isn_ffffffff, th_teardown),
      cmocka_unit_test_teardown(test_zero_window_persist, th_teardown),
      cmocka_unit_test_teardown(test_receive_window_closes_and_opens, th_teardown),
      cmocka_unit_test_teardown(test_shrinking_window, th_teardown),
      cmocka_unit_test_teardown(test_nagle, th_teardown),
      cmocka_unit_test_teardown(test_delayed_ack, th_teardown),
      cmocka_unit_test_teardown(test_data_beyond_window, th_teardown),
  };
  return cmocka_run_group_tests_name("tcp_data", tests, NULL, NULL);
}
