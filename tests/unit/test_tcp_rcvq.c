/*
 * test_tcp_rcvq.c - the receive queue (stack/tcp/tcp_rcvq.c): received
 * data stays in the packet buffers it came in until recv copies it once
 * into the application's buffer (docs/ARCHITECTURE.md 3).
 *
 * Every case runs twice: with input through us_stack_rx_buffer (as the
 * event loop reads the TUN: the stack keeps the buffer, zero copies before
 * recv) and with borrowed bytes (copied once into the queue). Covered:
 * in-order data, out-of-order data and the hole filled, overlapping
 * segments trimmed (old bytes and duplicates never delivered twice), recv
 * of part of a packet, FIN after data, small segments (in order and out of
 * order) packed instead of taking a buffer each, the window following the buffers held, and every
 * buffer back in its pool at the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tcp_harness.h"

#define SMSS 1460

/* Packet buffers of the MTU pool in use (the one kept for the next read
 * counts as free). */
static uint32_t pkts_held(struct th *h) {
  struct us_pool_usage u = h_pool_usage(h->s);
  return u.pkt_total - u.pkt_free;
}

static struct th *new_th(void **state, bool zero_copy) {
  struct th *h = th_new_state(state, NULL);
  h->rx_zero_copy = zero_copy;
  return h;
}

/* In order: full-sized segments are kept as they came (with zero copy:
 * no copy at all before recv), read back in pieces that cut packets. */
static void in_order(void **state, bool zc) {
  struct th *h = new_th(state, zc);
  us_time_t t = th_fx_established(h, 0) + US_MSEC(10);
  uint64_t zc0 = th_stat(h, US_STAT_tcp_rcv_zero_copy);
  for (uint32_t i = 0; i < 6; i++)
    th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 1 + SMSS * i, .ack = 1, .len = SMSS));
  th_expect_acks_until(h, t + US_SEC(1), 1, NULL);
  assert_int_equal(us_tcp_recv_queued(h->s, h->c->sock), 6 * SMSS);
  if (zc)
    assert_int_equal(th_stat(h, US_STAT_tcp_rcv_zero_copy) - zc0, 6);
  else
    assert_int_equal(th_stat(h, US_STAT_tcp_rcv_zero_copy), zc0);
  assert_true(pkts_held(h) >= 6);
  /* Reads that end inside a packet, then the rest. */
  th_recv_expect(h, h->now, 1000);
  th_recv_expect(h, h->now, 1000);
  th_recv_expect(h, h->now, 3 * SMSS);
  th_recv_expect(h, h->now, 6 * SMSS - 2000 - 3 * SMSS);
  assert_int_equal(th_recv(h, h->now, 10), US_ERR_AGAIN);
  assert_int_equal(pkts_held(h), 0);
  th_finish(h);
}

/* Out of order, with overlaps: the hole filled by a segment that overlaps
 * both neighbours, duplicates of held data, and an old segment; every byte
 * is delivered once, in order (the harness checks each against P's
 * stream). */
static void out_of_order_overlap(void **state, bool zc) {
  struct th *h = new_th(state, zc);
  us_time_t t = th_fx_established(h, 0) + US_MSEC(10);
  th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 3001, .ack = 1, .len = 1000));
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 5001, .ack = 1, .len = 1000));
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  /* A duplicate of part of a held range, and one spanning two ranges. */
  th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 3201, .ack = 1, .len = 300));
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 3501, .ack = 1, .len = 2000));
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  assert_int_equal(th_recv(h, t, 100), US_ERR_AGAIN);
  /* The hole [1, 3001) filled by a segment running 500 bytes into the
   * held data. */
  th_inject(h, t + US_MSEC(1), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 3500));
  th_expect(h, t + US_MSEC(1), TSEG(.flags = TH_ACK, .seq = 1, .ack = 6001));
  /* An old segment: only an ACK. */
  th_inject(h, t + US_MSEC(2), TSEG(.flags = TH_ACK, .seq = 1001, .ack = 1, .len = 1000));
  th_expect(h, t + US_MSEC(2), TSEG(.flags = TH_ACK, .seq = 1, .ack = 6001));
  th_recv_expect(h, t + US_MSEC(3), 6000);
  assert_int_equal(th_recv(h, h->now, 10), US_ERR_AGAIN);
  assert_int_equal(pkts_held(h), 0);
  th_finish(h);
}

/* FIN after data: the data is read first, then EOF; a FIN beyond a hole
 * waits for the hole. */
static void fin_after_data(void **state, bool zc) {
  struct th *h = new_th(state, zc);
  us_time_t t = th_fx_established(h, 0) + US_MSEC(10);
  th_inject(h, t, TSEG(.flags = TH_ACK | TH_FIN, .seq = 1001, .ack = 1, .len = 1000));
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  th_assert_state(h, US_TCP_ESTABLISHED);
  th_inject(h, t + US_MSEC(1), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 1000));
  th_expect(h, t + US_MSEC(1), TSEG(.flags = TH_ACK, .seq = 1, .ack = 2002));
  th_assert_state(h, US_TCP_CLOSE_WAIT);
  th_recv_expect(h, t + US_MSEC(2), 1500);
  th_recv_expect(h, t + US_MSEC(2), 500);
  assert_int_equal(th_recv(h, h->now, 10), 0);
  assert_int_equal(pkts_held(h), 0);
  th_finish(h);
}

/* Small segments are packed: 200 segments of 10 bytes take one or two
 * buffers, not 200, and the window shrinks by the bytes, not by a buffer
 * per segment. */
static void small_segments_packed(void **state, bool zc) {
  struct th *h = new_th(state, zc);
  us_time_t t = th_fx_established(h, 0) + US_MSEC(10);
  struct us_tcp_info in0, in1;
  assert_true(th_info(h, &in0));
  for (uint32_t i = 0; i < 200; i++)
    th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 1 + 10 * i, .ack = 1, .len = 10));
  th_expect_acks_until(h, t + US_SEC(1), 1, NULL);
  assert_true(pkts_held(h) <= 2);
  assert_true(th_info(h, &in1));
  assert_int_equal(in1.rcv_nxt - in0.rcv_nxt, 2000);
  th_recv_expect(h, h->now, 2000);
  assert_int_equal(pkts_held(h), 0);
  th_finish(h);
}

/* Small adjacent segments beyond a hole are packed too (HOSTILE RES-2):
 * 100 of 10 bytes hold one or two buffers until the hole is filled. */
static void ooo_small_packed(void **state, bool zc) {
  struct th *h = new_th(state, zc);
  us_time_t t = th_fx_established(h, 0) + US_MSEC(10);
  for (uint32_t i = 0; i < 100; i++) {
    th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 101 + 10 * i, .ack = 1, .len = 10));
    th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  }
  assert_true(pkts_held(h) <= 2);
  th_inject(h, t + US_MSEC(1), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 100));
  th_expect(h, t + US_MSEC(1), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1101));
  th_recv_expect(h, h->now, 1100);
  assert_int_equal(pkts_held(h), 0);
  th_finish(h);
}

static void test_in_order_zc(void **s) { in_order(s, true); }
static void test_in_order_copy(void **s) { in_order(s, false); }
static void test_ooo_overlap_zc(void **s) { out_of_order_overlap(s, true); }
static void test_ooo_overlap_copy(void **s) { out_of_order_overlap(s, false); }
static void test_fin_after_data_zc(void **s) { fin_after_data(s, true); }
static void test_fin_after_data_copy(void **s) { fin_after_data(s, false); }
static void test_small_packed_zc(void **s) { small_segments_packed(s, true); }
static void test_small_packed_copy(void **s) { small_segments_packed(s, false); }
static void test_ooo_small_packed_zc(void **s) { ooo_small_packed(s, true); }
static void test_ooo_small_packed_copy(void **s) { ooo_small_packed(s, false); }

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_teardown(test_in_order_zc, th_teardown),
    cmocka_unit_test_teardown(test_in_order_copy, th_teardown),
    cmocka_unit_test_teardown(test_ooo_overlap_zc, th_teardown),
    cmocka_unit_test_teardown(test_ooo_overlap_copy, th_teardown),
    cmocka_unit_test_teardown(test_fin_after_data_zc, th_teardown),
    cmocka_unit_test_teardown(test_fin_after_data_copy, th_teardown),
    cmocka_unit_test_teardown(test_small_packed_zc, th_teardown),
    cmocka_unit_test_teardown(test_small_packed_copy, th_teardown),
    cmocka_unit_test_teardown(test_ooo_small_packed_zc, th_teardown),
    cmocka_unit_test_teardown(test_ooo_small_packed_copy, th_teardown),
  };
  return H_RUN("tcp_rcvq", tests);
}
