/*
 * test_tcp_cookie_opts.c - SYN cookies that keep window scaling, SACK,
 * timestamps and ECN in the low bits of the SYN-ACK's TSval (RFC 4987
 * 3.6, RFC 7323; docs/TCP.md "SYN cookies").
 *
 * S listens with a backlog of 1; connection 0's SYN fills the SYN queue,
 * so connection 1's SYN gets a cookie. P then checks what the cookie
 * SYN-ACK offered, completes the handshake by echoing its TSval, and uses
 * the options: a scaled window both ways, SACK blocks both ways, TSval and
 * TSecr on every segment, ECT(0) on S's data. Forged echoes are refused
 * and counted; a SYN without TSopt still gets MSS only.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "harness.h"
#include "tcp_harness.h"

#define MS(x)    US_MSEC(x)
#define OPT_BITS 0x3fu /* the TSval bits a cookie uses */
#define WS_NONE  0xfu
#define BIT_SACK 0x10u
#define BIT_ECN  0x20u

/* Fill S's SYN queue (backlog 1) with connection 0 and switch to
 * connection 1, whose SYN will find it full. */
static void fill_synq(struct th *h) {
  th_listen(h, TH_S_PORT, 1);
  h->c->s_port = TH_S_PORT;
  th_inject(h, 0, TSEG(.flags = TH_SYN, .seq = 0, MSS(1460)));
  th_expect(h, 0, TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1));
  th_use(h, 1);
  h->c->s_port = TH_S_PORT;
}

/* Connection 1's SYN (WS 7, SACK-permitted, TSval 100, ECN-setup if
 * `ecn`) at 1 ms; returns the cookie SYN-ACK, which must carry ECE if
 * `ece` (the flags are compared exactly). */
static struct th_pkt cookie_synack(struct th *h, bool ecn, bool ece) {
  uint8_t fl = TH_SYN | (ecn ? TH_ECE | TH_CWR : 0);
  th_inject(h, MS(1),
            TSEG(.flags = fl, .seq = 0, MSS(1460), WSCALE(7), .sack_perm = true, TS(100, 0)));
  th_expect(h, MS(1),
            TSEG(.flags = TH_SYN | TH_ACK | (ece ? TH_ECE : 0), .seq = 0, .ack = 1, MSS(1460)));
  assert_int_equal(th_stat(h, US_STAT_tcp_syncookies_sent), 1);
  return *th_last(h);
}

/* NOP NOP TS(tsval, tsecr) NOP NOP SACK(one block, relative to S's ISN). */
static uint8_t *ts_sack_opts(struct th *h, uint8_t *o, uint32_t tsval, uint32_t tsecr,
                             uint32_t left, uint32_t right) {
  o[0] = o[1] = 1;
  o[2] = 8;
  o[3] = 10;
  h_wr32(o + 4, tsval);
  h_wr32(o + 8, tsecr);
  o[12] = o[13] = 1;
  o[14] = 5;
  o[15] = 10;
  h_wr32(o + 16, h->c->s_isn + left);
  h_wr32(o + 20, h->c->s_isn + right);
  return o;
}

/* The cookie SYN-ACK offers what a queued SYN's would; the connection its
 * ACK completes has window scaling, SACK and timestamps, and uses them. */
static void test_cookie_keeps_ws_sack_ts(void **state) {
  struct th *h = th_new_state(state, NULL);
  fill_synq(h);
  struct th_pkt sa = cookie_synack(h, false, false);
  assert_true(sa.has_ts);
  assert_int_equal(sa.tsecr, 100);
  assert_int_equal(sa.tsval & OPT_BITS, 7 | BIT_SACK); /* shift 7, SACK */
  assert_true(sa.has_ws);
  assert_true(sa.ws > 0); /* the default 256 KB buffer needs a shift */
  assert_true(sa.sack_perm);
  uint8_t our_ws = sa.ws;
  uint32_t synack_tsval = sa.tsval;

  /* P's window field 2 with shift 7: 256 bytes. */
  th_inject(h, MS(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, WND(2), TS(101, synack_tsval)));
  th_assert_state(h, US_TCP_ESTABLISHED);
  assert_int_equal(th_stat(h, US_STAT_tcp_syncookies_recv), 1);
  assert_int_equal(th_stat(h, US_STAT_tcp_syncookies_opts), 1);
  assert_int_equal(th_stat(h, US_STAT_tcp_syncookies_failed), 0);
  th_accept(h);
  struct us_tcp_info in;
  assert_true(th_info(h, &in));
  assert_true(in.ts_ok);
  assert_true(in.sack_ok);
  assert_true(in.ws_ok);
  assert_false(in.ecn_ok);
  assert_int_equal(in.snd_wscale, 7);
  assert_int_equal(in.rcv_wscale, our_ws);
  assert_int_equal(in.snd_wnd, 2u << 7);
  assert_int_equal(in.mss, 1460 - 12); /* TSopt comes out of the MSS */

  /* The scaled peer window is honoured: 256 bytes go, not 2 and not 1000.
   * TSval is monotonic from the SYN-ACK's and TSecr echoes P's latest. */
  th_send(h, MS(20), 1000);
  th_expect(h, MS(20), TSEG(.flags = TH_ACK | TH_PSH, .seq = 1, .ack = 1, .len = 256));
  const struct th_pkt *p = th_last(h);
  assert_true(p->has_ts);
  assert_int_equal(p->tsecr, 101);
  assert_true((int32_t)(p->tsval - synack_tsval) >= 0);
  assert_true(p->tsval - synack_tsval < 19 + 64); /* 19 ms later, at most 63 behind */
  assert_int_equal(p->tos & 3, 0);                /* no ECN agreed: Not-ECT */

  /* Our window is scaled too: above 64 KB once shifted. P's data out of
   * order gets an immediate ACK with a SACK block. */
  th_inject(h, MS(30),
            TSEG(.flags = TH_ACK, .seq = 101, .ack = 1, .len = 100, WND(2000), TS(102, p->tsval)));
  th_expect(h, MS(30), TSEG(.flags = TH_ACK, .seq = 257, .ack = 1));
  p = th_last(h);
  assert_int_equal(p->nsack, 1);
  assert_true(p->has_ts);
  assert_true(((uint32_t)p->wnd << our_ws) > 65535);

  /* P SACKs 128..256 of S's data (a hole at 1..128, which S's 256 bytes
   * covered): S's scoreboard takes it. */
  uint8_t o[24];
  th_inject(h, MS(40),
            TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, WND(2000),
                 OPTS(ts_sack_opts(h, o, 103, p->tsval, 129, 257), 24)));
  assert_true(th_info(h, &in));
  assert_int_equal(in.sacked, 128);
  assert_int_equal(in.snd_wnd, 2000u << 7);
  th_drain(h);
  th_finish(h);
}

/* With ECN agreed (cfg.tcp_ecn ACCEPT, the default, and an ECN-setup SYN),
 * the cookie SYN-ACK carries ECE and the connection sends ECT(0) data. */
static void test_cookie_keeps_ecn(void **state) {
  struct th *h = th_new_state(state, NULL);
  fill_synq(h);
  struct th_pkt sa = cookie_synack(h, true, true);
  assert_int_equal(sa.tsval & OPT_BITS, 7 | BIT_SACK | BIT_ECN);
  th_inject(h, MS(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, TS(101, sa.tsval)));
  th_assert_state(h, US_TCP_ESTABLISHED);
  th_accept(h);
  struct us_tcp_info in;
  assert_true(th_info(h, &in));
  assert_true(in.ecn_ok);
  th_send(h, MS(20), 100);
  th_expect(h, MS(20), TSEG(.flags = TH_ACK | TH_PSH, .seq = 1, .ack = 1, .len = 100));
  assert_int_equal(th_last(h)->tos & 3, 2); /* ECT(0), RFC 3168 6.1.1 */
  th_drain(h);
  th_finish(h);
}

static void ecn_off(struct us_config *c) { c->tcp_ecn = US_TCP_ECN_OFF; }

/* ECN off: an ECN-setup SYN gets no ECE and no ECN bit; an echo that
 * claims the bit anyway is refused. */
static void test_cookie_ecn_off(void **state) {
  struct th *h = th_new_state(state, ecn_off);
  fill_synq(h);
  struct th_pkt sa = cookie_synack(h, true, false);
  assert_false(sa.flags & TH_ECE);
  assert_int_equal(sa.tsval & BIT_ECN, 0);
  th_inject(h, MS(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, TS(101, sa.tsval | BIT_ECN)));
  assert_int_equal(th_stat(h, US_STAT_tcp_syncookies_failed), 1);
  assert_int_equal(th_state(h), -1);
  th_drain(h);
  th_inject(h, MS(20), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, TS(102, sa.tsval)));
  th_assert_state(h, US_TCP_ESTABLISHED);
  th_accept(h);
  struct us_tcp_info in;
  assert_true(th_info(h, &in));
  assert_false(in.ecn_ok);
  th_drain(h);
  th_finish(h);
}

/* A forged TSecr: every change to the option bits (another shift, no
 * shift, SACK dropped, ECN added) fails the cookie's MAC, as does an echo
 * from the future, or none at all; each is counted, answered with a RST
 * (RFC 9293 3.10.7.2) and makes no TCB. The genuine echo still works. */
static void test_cookie_forged_tsecr(void **state) {
  struct th *h = th_new_state(state, NULL);
  fill_synq(h);
  struct th_pkt sa = cookie_synack(h, false, false);
  uint32_t v = sa.tsval;
  const uint32_t forged[] = {
    (v & ~0xfu) | 14u,     /* the largest legal shift, not the peer's */
    (v & ~0xfu) | WS_NONE, /* "no window scaling" */
    v & ~BIT_SACK,         /* SACK dropped */
    v | BIT_ECN,           /* ECN never agreed */
    v + 64u * 1000u,       /* same bits, 64 s in the future */
  };
  uint64_t n = 0;
  for (size_t i = 0; i < sizeof forged / sizeof forged[0]; i++) {
    th_inject(h, MS(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, TS(101, forged[i])));
    assert_int_equal(th_stat(h, US_STAT_tcp_syncookies_failed), ++n);
    assert_int_equal(th_state(h), -1);
    th_expect(h, MS(10), TSEG(.flags = TH_RST, .seq = 1, .ack_opt = true));
  }
  /* No TSopt although the SYN-ACK agreed to timestamps. */
  th_inject(h, MS(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  assert_int_equal(th_stat(h, US_STAT_tcp_syncookies_failed), ++n);
  assert_int_equal(th_state(h), -1);
  th_drain(h);
  assert_int_equal(th_stat(h, US_STAT_tcp_syncookies_recv), 0);
  th_inject(h, MS(20), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, TS(101, v)));
  th_assert_state(h, US_TCP_ESTABLISHED);
  assert_int_equal(th_stat(h, US_STAT_tcp_syncookies_recv), 1);
  th_accept(h);
  th_drain(h);
  th_finish(h);
}

/* A SYN without TSopt: the cookie keeps the MSS only, so its SYN-ACK
 * offers no WS, SACK-permitted, TSopt or ECE even if the SYN asked, and
 * the connection runs without. An ACK that brings TSopt back anyway fails. */
static void test_cookie_no_tsopt_mss_only(void **state) {
  struct th *h = th_new_state(state, NULL);
  fill_synq(h);
  th_inject(
      h, MS(1),
      TSEG(.flags = TH_SYN | TH_ECE | TH_CWR, .seq = 0, MSS(1400), WSCALE(7), .sack_perm = true));
  th_expect(h, MS(1), TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1, MSS(1460)));
  const struct th_pkt *sa = th_last(h);
  assert_false(sa->has_ts);
  assert_false(sa->has_ws);
  assert_false(sa->sack_perm);
  assert_int_equal(th_stat(h, US_STAT_tcp_syncookies_sent), 1);
  th_inject(h, MS(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, TS(101, 7 | BIT_SACK)));
  assert_int_equal(th_stat(h, US_STAT_tcp_syncookies_failed), 1);
  th_drain(h);
  th_inject(h, MS(20), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, WND(2)));
  th_assert_state(h, US_TCP_ESTABLISHED);
  assert_int_equal(th_stat(h, US_STAT_tcp_syncookies_opts), 0);
  th_accept(h);
  struct us_tcp_info in;
  assert_true(th_info(h, &in));
  assert_false(in.ts_ok);
  assert_false(in.ws_ok);
  assert_false(in.sack_ok);
  assert_false(in.ecn_ok);
  assert_int_equal(in.snd_wnd, 2); /* unscaled */
  assert_int_equal(in.mss, 1400);
  th_drain(h);
  th_finish(h);
}

static void ts_off(struct us_config *c) { c->tcp_timestamps = false; }

/* Timestamps off: nowhere to keep the options, MSS only. */
static void test_cookie_ts_off_mss_only(void **state) {
  struct th *h = th_new_state(state, ts_off);
  fill_synq(h);
  th_inject(h, MS(1),
            TSEG(.flags = TH_SYN, .seq = 0, MSS(1460), WSCALE(7), .sack_perm = true, TS(100, 0)));
  th_expect(h, MS(1), TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1, MSS(1460)));
  assert_false(th_last(h)->has_ts);
  assert_false(th_last(h)->has_ws);
  th_inject(h, MS(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  th_assert_state(h, US_TCP_ESTABLISHED);
  th_accept(h);
  struct us_tcp_info in;
  assert_true(th_info(h, &in));
  assert_false(in.ts_ok);
  assert_false(in.ws_ok);
  th_drain(h);
  th_finish(h);
}

/* A SYN with TSopt but no WS: the nibble says "none", the SYN-ACK offers
 * no WS, and neither side scales. */
static void test_cookie_ts_without_ws(void **state) {
  struct th *h = th_new_state(state, NULL);
  fill_synq(h);
  th_inject(h, MS(1), TSEG(.flags = TH_SYN, .seq = 0, MSS(1460), TS(100, 0)));
  th_expect(h, MS(1), TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1, MSS(1460)));
  struct th_pkt sa = *th_last(h);
  assert_false(sa.has_ws);
  assert_false(sa.sack_perm);
  assert_int_equal(sa.tsval & OPT_BITS, WS_NONE);
  th_inject(h, MS(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, WND(3000), TS(101, sa.tsval)));
  th_assert_state(h, US_TCP_ESTABLISHED);
  th_accept(h);
  struct us_tcp_info in;
  assert_true(th_info(h, &in));
  assert_true(in.ts_ok);
  assert_false(in.ws_ok);
  assert_false(in.sack_ok);
  assert_int_equal(in.rcv_wscale, 0);
  assert_int_equal(in.snd_wnd, 3000);
  th_drain(h);
  th_finish(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_teardown(test_cookie_keeps_ws_sack_ts, th_teardown),
    cmocka_unit_test_teardown(test_cookie_keeps_ecn, th_teardown),
    cmocka_unit_test_teardown(test_cookie_ecn_off, th_teardown),
    cmocka_unit_test_teardown(test_cookie_forged_tsecr, th_teardown),
    cmocka_unit_test_teardown(test_cookie_no_tsopt_mss_only, th_teardown),
    cmocka_unit_test_teardown(test_cookie_ts_off_mss_only, th_teardown),
    cmocka_unit_test_teardown(test_cookie_ts_without_ws, th_teardown),
  };
  return H_RUN("tcp_cookie_opts", tests);
}
