/*
 * test_tcp_options.c - TCP options from the peer (RFC 9293 3.1, 3.7.1;
 * RFC 7323 2; RFC 6691) and malformed headers (docs/HOSTILE.md OPT-1..3, TH-2).
 *
 * The MSS P offers decides the size of S's segments, so each case is
 * checked by what S sends: 2000 bytes written at once must leave as
 * segments no larger than the effective send MSS.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tcp/tcp_int.h" /* TCP_MSS_FLOOR: the test follows the code's floor */
#include "tcp_harness.h"

/* Handshake with a SYN carrying the raw options `opt`; returns the time. */
static us_time_t handshake_opts(struct th *h, const uint8_t *opt, uint8_t olen) {
  th_fx_listen(h, 0);
  if (olen)
    th_inject(h, 0, TSEG(.flags = TH_SYN, .seq = 0, OPTS(opt, olen)));
  else
    th_inject(h, 0, TSEG(.flags = TH_SYN, .seq = 0));
  th_expect(h, 0, TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1, MSS(1460)));
  th_inject(h, US_MSEC(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  th_assert_state(h, US_TCP_ESTABLISHED);
  th_accept(h);
  return US_MSEC(10);
}

/* Send `total` bytes; S's segments must be exactly `mss` long but the last
 * (Nagle is off so that the last, short one goes at once too). */
static void expect_segments_of(struct th *h, us_time_t t, uint32_t total, uint32_t mss) {
  assert_int_equal(us_tcp_setopt(h->s, h->c->sock, US_TCP_NODELAY, 1), 0);
  assert_int_equal(th_send(h, t, total), total);
  uint32_t seq = 1;
  while (seq < 1 + total) {
    uint32_t n = 1 + total - seq < mss ? 1 + total - seq : mss;
    th_expect(h, t, TSEG(.flags = TH_ACK, .seq = seq, .ack = 1, .len = n));
    seq += n;
  }
  th_inject(h, t + US_MSEC(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1 + total));
}

/* No MSS option: the default send MSS is 536 (RFC 9293 3.7.1, MUST-15). */
static void test_mss_absent_536(void **state) {
  struct th *h = th_new_state(state, NULL);
  us_time_t t = handshake_opts(h, NULL, 0);
  expect_segments_of(h, t, 2000, 536);
  th_finish(h);
}

/* MSS 0 is ignored: 536 again (HOSTILE OPT-3). */
static void test_mss_zero_ignored(void **state) {
  struct th *h = th_new_state(state, NULL);
  static const uint8_t opt[] = { 2, 4, 0, 0 };
  us_time_t t = handshake_opts(h, opt, sizeof opt);
  expect_segments_of(h, t, 2000, 536);
  th_finish(h);
}

/* A tiny MSS is clamped to a floor (TCP_MSS_FLOOR; Linux uses 48): never 1-byte
 * segments (CVE-2019-11479 class). */
static void test_mss_tiny_clamped(void **state) {
  struct th *h = th_new_state(state, NULL);
  static const uint8_t opt[] = { 2, 4, 0, 1 };
  us_time_t t = handshake_opts(h, opt, sizeof opt);
  assert_int_equal(us_tcp_setopt(h->s, h->c->sock, US_TCP_NODELAY, 1), 0);
  assert_int_equal(th_send(h, t, 1000), 1000);
  th_advance(h, t);
  struct th_pkt p;
  uint32_t seq = 1;
  int n = 0;
  while (th_pop(h, &p)) {
    assert_int_equal(th_rel_seq(h, &p), seq);
    seq += p.plen;
    if (seq < 1001)
      assert_true(p.plen >= TCP_MSS_FLOOR);
    n++;
  }
  assert_true(n >= 1 && n <= (1000 + TCP_MSS_FLOOR - 1) / TCP_MSS_FLOOR);
  th_finish(h);
}

/* An MSS larger than our path allows: segments stay within our MTU. */
static void test_mss_huge_limited_by_mtu(void **state) {
  struct th *h = th_new_state(state, NULL);
  static const uint8_t opt[] = { 2, 4, 0xff, 0xff };
  us_time_t t = handshake_opts(h, opt, sizeof opt);
  expect_segments_of(h, t, 4000, 1460);
  th_finish(h);
}

/* An MSS option of the wrong length is ignored (536), not fatal. */
static void test_mss_wrong_length_ignored(void **state) {
  struct th *h = th_new_state(state, NULL);
  static const uint8_t opt[] = { 2, 6, 0x04, 0x00, 0, 0, 1, 0 }; /* len 6, then NOP, EOL */
  us_time_t t = handshake_opts(h, opt, sizeof opt);
  expect_segments_of(h, t, 2000, 536);
  th_finish(h);
}

/* Unaligned options are parsed (NOP, MSS at offset 1, WS at offset 5). */
static void test_unaligned_options(void **state) {
  struct th *h = th_new_state(state, NULL);
  static const uint8_t opt[] = { 1, 2, 4, 0x05, 0x00, 3, 3, 2, 1, 0, 0, 0 }; /* MSS 1280 */
  us_time_t t = handshake_opts(h, opt, sizeof opt);
  expect_segments_of(h, t, 3000, 1280);
  th_finish(h);
}

/* Options after EOL are not options: the MSS there is ignored. */
static void test_options_after_eol_ignored(void **state) {
  struct th *h = th_new_state(state, NULL);
  static const uint8_t opt[] = { 0, 2, 4, 0x04, 0x00, 0, 0, 0 };
  us_time_t t = handshake_opts(h, opt, sizeof opt);
  expect_segments_of(h, t, 2000, 536);
  th_finish(h);
}

/* Malformed options (length 0, length 1, length past the header): the
 * segment is dropped and counted (MUST-7 allows a reset instead; either
 * way no connection is made, no loop, no read past the end). */
static void test_malformed_options_dropped(void **state) {
  struct th *h = th_new_state(state, NULL);
  th_fx_listen(h, 0);
  static const uint8_t len0[] = { 99, 0, 0, 0 };
  static const uint8_t len1[] = { 1, 1, 99, 1 };
  static const uint8_t past_end[] = { 1, 1, 2, 10 }; /* MSS claims 10 bytes, 2 left */
  static const uint8_t past_end2[] = { 2, 4, 5, 0xb4, 8, 40, 0, 0 }; /* TS claims 40 */
  const uint8_t *v[] = { len0, len1, past_end, past_end2 };
  const uint8_t n[] = { sizeof len0, sizeof len1, sizeof past_end, sizeof past_end2 };
  uint64_t before = th_stat(h, US_STAT_tcp_bad_options);
  for (int i = 0; i < 4; i++) {
    th_use(h, i);
    th_inject(h, US_MSEC(i), TSEG(.flags = TH_SYN, .seq = 0, OPTS(v[i], n[i])));
    th_advance(h, US_MSEC(i));
    struct th_pkt p;
    while (th_pop(h, &p)) {
      char b[200];
      if (!p.ok || (p.flags & TH_SYN) || !(p.flags & TH_RST))
        th_fail(h, __FILE__, __LINE__, "malformed options (case %d) answered with %s", i,
                th_fmt(h, &p, b, sizeof b));
    }
    th_assert_state(h, -1);
  }
  assert_int_equal(th_stat(h, US_STAT_tcp_bad_options) - before, 4);
  assert_int_equal(th_tcb_count(h), 1);
  /* The listener is fine. */
  th_use(h, 5);
  th_fx_established(h, US_MSEC(10));
  th_finish(h);
}

/* The same on an established connection: the data is not taken. */
static void test_malformed_options_on_data(void **state) {
  struct th *h = th_new_state(state, NULL);
  us_time_t t = th_fx_established(h, 0) + US_MSEC(10);
  static const uint8_t len0[] = { 99, 0, 0, 0 };
  th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 100, OPTS(len0, 4)));
  th_advance(h, t + US_SEC(1));
  th_drain(h);
  assert_int_equal(th_recv(h, h->now, 200), US_ERR_AGAIN);
  th_assert_state(h, US_TCP_ESTABLISHED);
  /* The same bytes with clean options are taken. */
  th_inject(h, h->now, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 100));
  th_recv_expect(h, h->now, 100);
  th_finish(h);
}

/* Bad data offset (HOSTILE TH-2): < 5, or beyond the segment: dropped. */
static void test_bad_data_offset(void **state) {
  struct th *h = th_new_state(state, NULL);
  th_fx_listen(h, 0);
  th_inject(h, 0, TSEG(.flags = TH_SYN, .seq = 0, .raw_doff = true, .doff = 4));
  th_inject(h, 0, TSEG(.flags = TH_SYN, .seq = 0, .raw_doff = true, .doff = 15));
  th_inject(h, 0, TSEG(.flags = TH_SYN, .seq = 0, .raw_doff = true, .doff = 0));
  th_expect_nothing_until(h, US_SEC(1));
  assert_int_equal(th_tcb_count(h), 1);
  assert_true(th_stat(h, US_STAT_tcp_bad_offset) >= 3);
  th_finish(h);
}

/* Window scale 15 or 255 is treated as 14 (RFC 7323 2.3). If S does not
 * scale at all (no WS in its SYN-ACK), P's window is taken as is. */
static void check_ws(void **state, uint8_t shift) {
  struct th *h = th_new_state(state, NULL);
  th_fx_listen(h, 0);
  th_inject(h, 0, TSEG(.flags = TH_SYN, .seq = 0, MSS(1460), WSCALE(shift), WND(1000)));
  th_expect(h, 0, TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1));
  bool scaled = th_last(h)->has_ws;
  if (scaled)
    assert_true(th_last(h)->ws <= 14);
  th_inject(h, US_MSEC(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, WND(3)));
  th_accept(h);
  struct us_tcp_info in;
  assert_true(th_info(h, &in));
  assert_int_equal(in.snd_wnd, scaled ? 3u << 14 : 3u);
  /* S fills that window and no more (cwnd IW10 = 14600 < 49152). */
  assert_int_equal(us_tcp_setopt(h->s, h->c->sock, US_TCP_NODELAY, 1), 0);
  assert_int_equal(th_send(h, US_MSEC(20), 2000), 2000);
  th_advance(h, US_MSEC(20));
  uint32_t sent = 0;
  struct th_pkt p;
  while (th_pop(h, &p))
    sent += p.plen;
  /* Unscaled, 3 bytes may wait for sender SWS avoidance (RFC 9293 3.8.6.2.1). */
  if (scaled)
    assert_int_equal(sent, 2000);
  else
    assert_true(sent <= 3);
  th_finish(h);
}

static void test_ws_15_clamped(void **state) { check_ws(state, 15); }
static void test_ws_255_clamped(void **state) { check_ws(state, 255); }

/* No WS from P: S must not send WS either (RFC 7323 2.2), and S's
 * window fields are then unscaled (at most 65535). */
static void test_no_ws_without_peer_ws(void **state) {
  struct th *h = th_new_state(state, NULL);
  th_fx_listen(h, 0);
  th_inject(h, 0, TSEG(.flags = TH_SYN, .seq = 0, MSS(1460)));
  th_expect(h, 0, TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1));
  assert_false(th_last(h)->has_ws);
  th_finish(h);
}

/* Duplicate MSS options (HOSTILE OPT-7): one of them wins,
 * deterministically; never something else. */
static void test_duplicate_mss(void **state) {
  struct th *h = th_new_state(state, NULL);
  static const uint8_t opt[] = { 2, 4, 0x03, 0xe8, 2, 4, 0x04, 0xb0 }; /* 1000, then 1200 */
  us_time_t t = handshake_opts(h, opt, sizeof opt);
  assert_int_equal(us_tcp_setopt(h->s, h->c->sock, US_TCP_NODELAY, 1), 0);
  assert_int_equal(th_send(h, t, 3000), 3000);
  th_advance(h, t);
  struct th_pkt p;
  assert_true(th_pop(h, &p));
  assert_true(p.plen == 1000 || p.plen == 1200);
  th_finish(h);
}

/* A lone option kind as the last header byte (HOSTILE OPT-2): malformed,
 * dropped, no read past the header. */
static void test_lone_kind_at_header_end(void **state) {
  struct th *h = th_new_state(state, NULL);
  th_fx_listen(h, 0);
  static const uint8_t opt[] = { 1, 1, 1, 2 };
  th_inject(h, 0, TSEG(.flags = TH_SYN, .seq = 0, OPTS(opt, 4)));
  th_advance(h, US_MSEC(1));
  struct th_pkt p;
  while (th_pop(h, &p))
    assert_true(p.ok && !(p.flags & TH_SYN));
  th_assert_state(h, -1);
  assert_true(th_stat(h, US_STAT_tcp_bad_options) >= 1);
  th_finish(h);
}

/* WS outside a SYN is ignored (RFC 7323 2.2, HOSTILE OPT-4): without WS
 * in the handshake, windows stay unscaled whatever later segments say. */
static void test_ws_in_non_syn_ignored(void **state) {
  struct th *h = th_new_state(state, NULL);
  us_time_t t = th_fx_established(h, 0) + US_MSEC(10);
  th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, WSCALE(7), WND(1000)));
  struct us_tcp_info in;
  assert_true(th_info(h, &in));
  assert_int_equal(in.snd_wnd, 1000);
  th_finish(h);
}

/* A timestamp option of the wrong length (HOSTILE OPT-6) is ignored: the
 * handshake proceeds and S does not echo timestamps. */
static void test_ts_wrong_length_ignored(void **state) {
  struct th *h = th_new_state(state, NULL);
  static const uint8_t opt[] = { 2, 4, 0x05, 0xb4, 8, 9, 1, 2, 3, 4, 5, 6, 7, 0, 0, 0 };
  th_fx_listen(h, 0);
  th_inject(h, 0, TSEG(.flags = TH_SYN, .seq = 0, OPTS(opt, sizeof opt)));
  th_expect(h, 0, TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1, MSS(1460)));
  assert_false(th_last(h)->has_ts);
  th_finish(h);
}

static void mtu_1000(struct us_config *c) { c->mtu = 1000; }

/* Our MSS comes from the MTU (RFC 9293 3.7.1, RFC 6691: MTU - 40), and
 * our segments respect it even when P offers more. */
static void test_our_mss_from_mtu(void **state) {
  struct th *h = th_new_state(state, mtu_1000);
  th_fx_listen(h, 0);
  th_inject(h, 0, TSEG(.flags = TH_SYN, .seq = 0, MSS(1460)));
  th_expect(h, 0, TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1, MSS(960)));
  th_inject(h, US_MSEC(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  th_accept(h);
  expect_segments_of(h, US_MSEC(10), 2000, 960);
  th_finish(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_teardown(test_mss_absent_536, th_teardown),
    cmocka_unit_test_teardown(test_mss_zero_ignored, th_teardown),
    cmocka_unit_test_teardown(test_mss_tiny_clamped, th_teardown),
    cmocka_unit_test_teardown(test_mss_huge_limited_by_mtu, th_teardown),
    cmocka_unit_test_teardown(test_mss_wrong_length_ignored, th_teardown),
    cmocka_unit_test_teardown(test_unaligned_options, th_teardown),
    cmocka_unit_test_teardown(test_options_after_eol_ignored, th_teardown),
    cmocka_unit_test_teardown(test_malformed_options_dropped, th_teardown),
    cmocka_unit_test_teardown(test_malformed_options_on_data, th_teardown),
    cmocka_unit_test_teardown(test_bad_data_offset, th_teardown),
    cmocka_unit_test_teardown(test_ws_15_clamped, th_teardown),
    cmocka_unit_test_teardown(test_ws_255_clamped, th_teardown),
    cmocka_unit_test_teardown(test_no_ws_without_peer_ws, th_teardown),
    cmocka_unit_test_teardown(test_duplicate_mss, th_teardown),
    cmocka_unit_test_teardown(test_lone_kind_at_header_end, th_teardown),
    cmocka_unit_test_teardown(test_ws_in_non_syn_ignored, th_teardown),
    cmocka_unit_test_teardown(test_our_mss_from_mtu, th_teardown),
    cmocka_unit_test_teardown(test_ts_wrong_length_ignored, th_teardown),
  };
  return H_RUN("tcp_options", tests);
}
