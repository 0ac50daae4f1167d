/*
 * test_tcp_recovery.c - loss detection and recovery (RFC 8985 RACK-TLP,
 * RFC 6675 SACK recovery, RFC 3042 limited transmit), appropriate byte
 * counting (RFC 3465) and the congestion-control algorithms (RFC 9438
 * CUBIC, NewReno), on the virtual clock.
 *
 * The scripted peer P offers SACK in its SYN; S sends. Segment numbers
 * in the comments are 0-based: segment i carries bytes 1 + i*SMSS of S's
 * stream (relative sequence numbers, as the harness prints them). SRTT is
 * 10 ms from the handshake and the first data ACK.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tcp/cc.h"
#include "wire/seq.h"
#include "tcp_harness.h"

#define SMSS  1460u
#define MS(x) US_MSEC(x)

/* Relative sequence number of the start of segment i. */
static uint32_t seg(uint32_t i) { return 1 + i * SMSS; }

/* Options of an ACK with SACK blocks [seg(a), seg(b)) (pairs in `v`). */
struct sack_opt {
  uint8_t b[40];
  uint8_t len;
};

static struct sack_opt sacks(struct th *h, int n, const uint32_t *v) {
  struct sack_opt o = { { 1, 1, 5, (uint8_t)(2 + 8 * n) }, (uint8_t)(4 + 8 * n) };
  for (int i = 0; i < n; i++) {
    h_wr32(o.b + 4 + 8 * i, h->c->s_isn + seg(v[2 * i]));
    h_wr32(o.b + 8 + 8 * i, h->c->s_isn + seg(v[2 * i + 1]));
  }
  return o;
}

/* P acknowledges up to segment `ack_seg` and SACKs the given ranges. */
static void ack_sack(struct th *h, us_time_t at, uint32_t ack_seg, int n, const uint32_t *v) {
  struct sack_opt o = sacks(h, n, v);
  th_inject(h, at, TSEG(.flags = TH_ACK, .seq = 1, .ack = seg(ack_seg), OPTS(o.b, o.len)));
}

#define ACK_SACK(h, at, ack_seg, ...)                                            \
  ack_sack((h), (at), (ack_seg), (int)(sizeof((uint32_t[]){ __VA_ARGS__ }) / 8), \
           (const uint32_t[]){ __VA_ARGS__ })

static void rto_1s(struct us_config *c) {
  c->tcp_rto_min = US_SEC(1);
  c->tcp_rto_max = US_SEC(60);
}

static void newreno(struct us_config *c) { c->tcp_cc = US_TCP_CC_NEWRENO; }

/* ESTABLISHED (passive) with SACK permitted both ways; returns the time. */
static us_time_t sack_established(struct th *h, us_time_t t) {
  static const uint8_t syn_opts[] = { 2, 4, 5, 0xb4, 1, 1, 4, 2 }; /* MSS 1460, SACK-perm */
  th_fx_listen(h, t);
  th_inject(h, t, TSEG(.flags = TH_SYN, .seq = 0, OPTS(syn_opts, sizeof syn_opts)));
  th_expect(h, t, TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1));
  t += MS(10);
  th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  th_assert_state(h, US_TCP_ESTABLISHED);
  th_accept(h);
  return t;
}

/* S sends n full segments at t (all within IW10 when n <= 10). */
static void send_segs(struct th *h, us_time_t t, uint32_t first, uint32_t n) {
  for (uint32_t i = first; i < first + n; i++)
    th_expect(h, t, TSEG(.flags = TH_ACK, .seq = seg(i), .ack = 1, .len = SMSS));
}

/* Everything S emits up to `until`: data segments are counted per segment
 * index in sent[] (0..63); returns how many data segments. */
static int collect(struct th *h, us_time_t until, int *sent, us_time_t *last_at) {
  int n = 0;
  struct th_pkt p;
  th_advance(h, until);
  while (th_pop(h, &p)) {
    if (p.plen == 0)
      continue;
    uint32_t rel = th_rel_seq(h, &p);
    uint32_t i = (rel - 1) / SMSS;
    if ((rel - 1) % SMSS != 0 || i >= 64) {
      char b[200];
      th_fail(h, __FILE__, __LINE__, "unexpected segment %s", th_fmt(h, &p, b, sizeof b));
    }
    sent[i]++;
    if (last_at)
      *last_at = p.at;
    n++;
  }
  return n;
}

/* ---- RFC 6675: two holes, one recovery, no go-back-N ------------------------------------ */

static void test_two_holes_one_recovery(void **state) {
  struct th *h = th_new_state(state, rto_1s);
  us_time_t t = sack_established(h, 0) + MS(10);
  assert_int_equal(th_send(h, t, 10 * SMSS), 10 * SMSS);
  send_segs(h, t, 0, 10);
  /* Segments 1 and 4 are lost; P ACKs 0 and SACKs the rest as it comes. */
  ACK_SACK(h, t + MS(10), 1, 2, 3);
  ACK_SACK(h, t + MS(10) + 200, 1, 2, 4);
  ACK_SACK(h, t + MS(10) + 400, 1, 2, 4, 5, 6);
  ACK_SACK(h, t + MS(10) + 600, 1, 2, 4, 5, 7);
  ACK_SACK(h, t + MS(10) + 800, 1, 2, 4, 5, 8);
  ACK_SACK(h, t + MS(11), 1, 2, 4, 5, 9);
  ACK_SACK(h, t + MS(11) + 200, 1, 2, 4, 5, 10);
  int sent[64] = { 0 };
  us_time_t last = 0;
  int n = collect(h, t + MS(20), sent, &last);
  /* Both holes, each exactly once, in one recovery, nothing else. */
  assert_int_equal(n, 2);
  assert_int_equal(sent[1], 1);
  assert_int_equal(sent[4], 1);
  assert_true(last <= t + MS(11) + 200);
  assert_int_equal(th_stat(h, US_STAT_tcp_fast_retrans), 1);
  struct us_tcp_info in;
  assert_true(th_info(h, &in));
  assert_string_equal(in.recovery, "fast");
  assert_int_equal(in.sacked, 7 * SMSS);
  /* The repairs arrive: everything is acknowledged, recovery ends. */
  th_inject(h, t + MS(21), TSEG(.flags = TH_ACK, .seq = 1, .ack = seg(10)));
  assert_true(th_info(h, &in));
  assert_string_equal(in.recovery, "");
  assert_int_equal(th_stat(h, US_STAT_tcp_timeouts), 0);
  assert_int_equal(th_stat(h, US_STAT_tcp_retrans_segs), 2);
  th_expect_nothing_until(h, t + US_SEC(5));
  th_finish(h);
}

/* ---- RFC 8985: a lost retransmission is found by RACK, not the RTO -------------------- */

static void test_lost_retransmission(void **state) {
  struct th *h = th_new_state(state, rto_1s);
  us_time_t t = sack_established(h, 0) + MS(10);
  assert_int_equal(th_send(h, t, 20 * SMSS), 20 * SMSS);
  send_segs(h, t, 0, 10);
  /* Segment 1 is lost. Segment 0 is ACKed (slow start: two more go out),
   * 2..4 SACKed: RACK marks 1 lost (three SACKed, no reordering seen). */
  th_inject(h, t + MS(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = seg(1)));
  send_segs(h, t + MS(10), 10, 2);
  ACK_SACK(h, t + MS(10) + 100, 1, 2, 3);
  ACK_SACK(h, t + MS(10) + 200, 1, 2, 4);
  ACK_SACK(h, t + MS(10) + 300, 1, 2, 5);
  int sent[64] = { 0 };
  collect(h, t + MS(10) + 300, sent, NULL);
  assert_int_equal(sent[1], 1); /* the fast retransmission */
  assert_int_equal(th_stat(h, US_STAT_tcp_fast_retrans), 1);
  /* That retransmission is lost too. Segments 5..11 arrive and are SACKed;
   * the ones sent after the retransmission (10, 11 were sent before it;
   * those sent in recovery after it) expose it. */
  us_time_t at = t + MS(20);
  ACK_SACK(h, at, 1, 2, 10);
  collect(h, at, sent, NULL);
  ACK_SACK(h, at + 100, 1, 2, 12);
  collect(h, at + 100, sent, NULL);
  /* Whatever went out after the retransmission is SACKed 10 ms later. */
  uint32_t hi = 12;
  while (hi < 20 && sent[hi])
    hi++;
  ACK_SACK(h, at + MS(10) + 300, 1, 2, hi);
  collect(h, at + MS(20), sent, NULL);
  assert_int_equal(sent[1], 2); /* sent again, found lost by RACK */
  assert_int_equal(th_stat(h, US_STAT_tcp_timeouts), 0);
  assert_int_equal(th_stat(h, US_STAT_tcp_fast_retrans), 1); /* the same recovery */
  th_inject(h, at + MS(30), TSEG(.flags = TH_ACK, .seq = 1, .ack = seg(hi)));
  th_drain(h);
  th_inject(h, at + MS(60), TSEG(.flags = TH_ACK, .seq = 1, .ack = seg(20)));
  th_drain(h);
  assert_int_equal(us_tcp_send_queued(h->s, h->c->sock), 0);
  th_finish(h);
}

/* ---- RFC 8985 7: the tail-loss probe ------------------------------------------------------- */

/* The last segment is lost: the probe (2*SRTT after the last ACK, two
 * segments out) resends it, P's ACK completes the transfer, and the probe
 * counts as a repaired loss (cwnd reduced). The RTO never fires. */
static void test_tlp_single_tail(void **state) {
  struct th *h = th_new_state(state, NULL);
  us_time_t t = sack_established(h, 0) + MS(10);
  assert_int_equal(th_send(h, t, 10 * SMSS), 10 * SMSS);
  send_segs(h, t, 0, 10);
  th_inject(h, t + MS(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = seg(8)));
  struct us_tcp_info in;
  assert_true(th_info(h, &in));
  assert_string_equal(in.timer, "tlp");
  us_time_t pto = t + MS(10) + 2 * in.srtt;
  assert_int_equal(in.timer_at, pto);
  uint32_t cwnd = in.cwnd;
  /* Segment 8 arrives; 9, the tail, is lost. */
  th_inject(h, t + MS(10) + 100, TSEG(.flags = TH_ACK, .seq = 1, .ack = seg(9)));
  assert_true(th_info(h, &in));
  cwnd = in.cwnd;
  /* One segment out now: the probe waits for a delayed ACK too
   * (WCDelAckT), but never past the RTO. */
  us_time_t rto_at = t + MS(10) + 100 + in.rto;
  pto = t + MS(10) + 100 + 2 * in.srtt + MS(200);
  if (pto > rto_at)
    pto = rto_at;
  assert_int_equal(in.timer_at, pto);
  assert_string_equal(in.timer, "tlp");
  th_expect_nothing_until(h, pto - 1);
  th_expect(h, pto, TSEG(.flags = TH_ACK, .seq = seg(9), .ack = 1, .len = SMSS));
  assert_int_equal(th_stat(h, US_STAT_tcp_tlp_probes), 1);
  assert_int_equal(th_stat(h, US_STAT_tcp_timeouts), 0);
  us_time_t at = pto + MS(10);
  th_inject(h, at, TSEG(.flags = TH_ACK, .seq = 1, .ack = seg(10)));
  assert_int_equal(th_stat(h, US_STAT_tcp_tlp_recoveries), 1);
  assert_int_equal(th_stat(h, US_STAT_tcp_timeouts), 0);
  assert_true(th_info(h, &in));
  assert_int_equal(in.cwnd, cwnd * 7 / 10); /* CUBIC beta */
  assert_int_equal(in.backoff, 0);          /* no RTO backoff either */
  th_expect_nothing_until(h, at + US_SEC(5));
  th_finish(h);
}

/* The last two segments are lost: the probe resends the last one, its
 * SACK lets RACK find the other, and both are repaired within a few RTTs,
 * long before the RTO. */
static void test_tlp_two_tail(void **state) {
  struct th *h = th_new_state(state, NULL);
  us_time_t t = sack_established(h, 0) + MS(10);
  assert_int_equal(th_send(h, t, 10 * SMSS), 10 * SMSS);
  send_segs(h, t, 0, 10);
  th_inject(h, t + MS(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = seg(8)));
  struct us_tcp_info in;
  assert_true(th_info(h, &in));
  us_time_t pto = t + MS(10) + 2 * in.srtt; /* two segments out: no ack-delay term */
  assert_int_equal(in.timer_at, pto);
  us_time_t rto_at = t + MS(10) + in.rto;
  th_expect_nothing_until(h, pto - 1);
  th_expect(h, pto, TSEG(.flags = TH_ACK, .seq = seg(9), .ack = 1, .len = SMSS));
  ACK_SACK(h, pto + MS(10), 8, 9, 10);
  th_expect(h, pto + MS(10), TSEG(.flags = TH_ACK, .seq = seg(8), .ack = 1, .len = SMSS));
  th_inject(h, pto + MS(20), TSEG(.flags = TH_ACK, .seq = 1, .ack = seg(10)));
  assert_true(pto + MS(20) < rto_at);
  assert_int_equal(th_stat(h, US_STAT_tcp_timeouts), 0);
  assert_int_equal(th_stat(h, US_STAT_tcp_tlp_probes), 1);
  assert_int_equal(us_tcp_send_queued(h->s, h->c->sock), 0);
  th_expect_nothing_until(h, pto + US_SEC(5));
  th_finish(h);
}

/* ---- RFC 8985 6: reordering inside the window is not loss ------------------------------- */

/* Ten segments in flight from t; segment 1 is late: 2 and 3 are SACKed
 * first (two SACKed segments, fewer than DupThresh). Returns t. */
static us_time_t send_ten_sack_two(struct th *h) {
  us_time_t t = sack_established(h, 0) + MS(10);
  assert_int_equal(th_send(h, t, 10 * SMSS), 10 * SMSS);
  send_segs(h, t, 0, 10);
  th_inject(h, t + MS(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = seg(1)));
  ACK_SACK(h, t + MS(10) + 500, 1, 2, 3);
  ACK_SACK(h, t + MS(11), 1, 2, 4);
  return t;
}

static void test_reordering_no_recovery(void **state) {
  struct th *h = th_new_state(state, NULL);
  /* Segment 1 then arrives 1 ms later: within min_RTT / 4 = 2.5 ms. */
  us_time_t t = send_ten_sack_two(h);
  struct us_tcp_info in;
  assert_true(th_info(h, &in));
  assert_string_equal(in.timer, "rack"); /* waiting out the reordering window */
  assert_string_equal(in.recovery, "");
  th_inject(h, t + MS(12), TSEG(.flags = TH_ACK, .seq = 1, .ack = seg(4)));
  th_inject(h, t + MS(13), TSEG(.flags = TH_ACK, .seq = 1, .ack = seg(10)));
  th_drain(h);
  assert_int_equal(th_stat(h, US_STAT_tcp_retrans_segs), 0);
  assert_int_equal(th_stat(h, US_STAT_tcp_fast_retrans), 0);
  assert_int_equal(th_stat(h, US_STAT_tcp_marked_lost), 0);
  th_expect_nothing_until(h, t + US_SEC(5));
  th_finish(h);
}

/* The same reordering, but the segment is later than the window: RACK's
 * timer marks it lost and recovery starts when the timer fires. */
static void test_reordering_too_late(void **state) {
  struct th *h = th_new_state(state, NULL);
  us_time_t t = send_ten_sack_two(h);
  struct us_tcp_info in;
  assert_true(th_info(h, &in));
  us_time_t fire = in.timer_at;
  /* RACK.rtt 11 ms + reo_wnd 2.5 ms after segment 1 was sent. */
  assert_int_equal(fire, t + MS(11) + MS(10) / 4);
  th_expect_nothing_until(h, fire - 1);
  th_expect(h, fire, TSEG(.flags = TH_ACK, .seq = seg(1), .ack = 1, .len = SMSS));
  assert_int_equal(th_stat(h, US_STAT_tcp_rack_reo_timeouts), 1);
  th_inject(h, fire + MS(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = seg(10)));
  th_drain(h);
  th_finish(h);
}

/* ---- RTO with a scoreboard: only the holes, and reneging --------------------------------- */

static void test_rto_keeps_sack(void **state) {
  struct th *h = th_new_state(state, NULL);
  us_time_t t = sack_established(h, 0) + MS(10);
  assert_int_equal(th_send(h, t, 10 * SMSS), 10 * SMSS);
  send_segs(h, t, 0, 10);
  /* 0..4 are lost; 5..9 SACKed. RACK resends 0..4 at once... */
  ACK_SACK(h, t + MS(10), 0, 5, 10);
  int sent[64] = { 0 };
  collect(h, t + MS(10), sent, NULL);
  for (int i = 0; i < 5; i++)
    assert_int_equal(sent[i], 1);
  /* ...and those are lost too, with nothing after them to show it: the
   * RTO. It resends only what the scoreboard says is missing. */
  struct us_tcp_info in;
  assert_true(th_info(h, &in));
  us_time_t rto_at = t + in.rto;
  memset(sent, 0, sizeof sent);
  assert_int_equal(collect(h, rto_at, sent, NULL), 1);
  assert_int_equal(sent[0], 1);
  assert_int_equal(th_stat(h, US_STAT_tcp_timeouts), 1);
  /* Slow start from the loss window over the holes, never over 5..9. */
  us_time_t at = rto_at + MS(10);
  for (uint32_t a = 1; a <= 4; a++) {
    ACK_SACK(h, at, a, 5, 10);
    at += MS(1);
  }
  collect(h, at + MS(50), sent, NULL);
  for (int i = 5; i < 10; i++)
    if (sent[i])
      fail_msg("segment %d was SACKed but resent after the RTO", i);
  for (int i = 1; i < 5; i++)
    assert_int_equal(sent[i], 1);
  assert_int_equal(th_stat(h, US_STAT_tcp_timeouts), 1);
  /* Now P reneges (RFC 2018 8): segment 4 arrives, it ACKs up to 5 and no
   * further, SACKing nothing. The SACK marks are dropped and 5.. is
   * resent after a short timeout. */
  th_inject(h, at + MS(60), TSEG(.flags = TH_ACK, .seq = 1, .ack = seg(5)));
  assert_int_equal(th_stat(h, US_STAT_tcp_sack_reneges), 1);
  assert_true(th_run_until_packet(h, at + MS(60) + MS(100)));
  th_expect_within(h, at + MS(60), at + MS(160),
                   TSEG(.flags = TH_ACK, .seq = seg(5), .ack = 1, .len = SMSS));
  th_inject(h, h->now + MS(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = seg(10)));
  th_drain(h);
  assert_int_equal(us_tcp_send_queued(h->s, h->c->sock), 0);
  th_finish(h);
}

/* ---- RFC 3465: byte counting with L = 2*SMSS -------------------------------------------- */

static void test_abc_slow_start(void **state) {
  struct th *h = th_new_state(state, NULL);
  us_time_t t = sack_established(h, 0) + MS(10);
  struct us_tcp_info in;
  assert_true(th_info(h, &in));
  assert_int_equal(in.cwnd, 10 * SMSS);
  assert_int_equal(th_send(h, t, 40 * SMSS), 40 * SMSS);
  send_segs(h, t, 0, 10);
  /* A stretch ACK for 5 segments: cwnd grows by L = 2 SMSS, not 5. */
  th_inject(h, t + MS(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = seg(5)));
  assert_true(th_info(h, &in));
  assert_int_equal(in.cwnd, 12 * SMSS);
  /* An ACK for 100 bytes grows it by 100 bytes. */
  th_inject(h, t + MS(11), TSEG(.flags = TH_ACK, .seq = 1, .ack = seg(5) + 100));
  assert_true(th_info(h, &in));
  assert_int_equal(in.cwnd, 12 * SMSS + 100);
  th_drain(h);
  th_finish(h);
}

/* Congestion avoidance, NewReno (RFC 5681 3.1 with RFC 3465 2.1): one
 * SMSS per cwnd of bytes acknowledged, whatever the ACKs' sizes. */
static void test_newreno_avoidance(void **state) {
  (void)state;
  struct tcp_cc cc = { .ops = tcp_cc_ops_for(US_TCP_CC_NEWRENO) };
  struct tcp_cc_rtt rtt = { .srtt = MS(100), .min_rtt = MS(100) };
  struct tcp_cc_event ev = { .now = US_SEC(1), .rtt = &rtt, .mss = 1000, .flight = 20000 };
  assert_string_equal(cc.ops->name, "newreno");
  cc.ops->init(&cc, &ev, 10000);
  cc.ops->on_congestion(&cc, &ev); /* ssthresh = cwnd = FlightSize / 2 */
  assert_int_equal(cc.ops->ssthresh(&cc), 10000);
  assert_int_equal(cc.ops->window(&cc), 10000);
  cc.ops->on_recovery_exit(&cc, &ev);
  uint32_t w0 = cc.ops->window(&cc);
  /* 10000 bytes in 100-byte ACKs: one SMSS. */
  ev.acked = 100;
  for (int i = 0; i < 100; i++)
    cc.ops->on_ack(&cc, &ev);
  assert_int_equal(cc.ops->window(&cc), w0 + 1000);
  /* ACK division gains nothing: 99 more bytes, no growth. */
  ev.acked = 1;
  for (int i = 0; i < 99; i++)
    cc.ops->on_ack(&cc, &ev);
  assert_int_equal(cc.ops->window(&cc), w0 + 1000);
  /* The RTO: cwnd is the loss window. */
  cc.ops->on_rto(&cc, &ev);
  assert_int_equal(cc.ops->window(&cc), 1000);
  assert_int_equal(cc.ops->ssthresh(&cc), 10000);
}

/* ---- RFC 9438: CUBIC's window against its formula ----------------------------------------- */

/* W_cubic(t) = C (t - K)^3 + W_max, in segments (RFC 9438 eq. 1). */
static double w_cubic(double t, double k, double w_max) {
  double d = t - k;
  return 0.4 * d * d * d + w_max;
}

/* Drive the algorithm with an ACK clock: every 10 ms an ACK for a tenth
 * of the window (one window per 100 ms RTT), from `from` to `to` seconds
 * after `t0`, checking cwnd at the given times. */
static void cubic_run(struct tcp_cc *cc, struct tcp_cc_event *ev, us_time_t t0, double to) {
  for (us_time_t now = ev->now; now <= t0 + (us_time_t)(to * 1e6); now += MS(10)) {
    ev->now = now;
    ev->acked = cc->ops->window(cc) / 10;
    cc->ops->on_ack(cc, ev);
  }
}

static void test_cubic_formula(void **state) {
  (void)state;
  const uint32_t mss = 1000;
  struct tcp_cc cc = { .ops = tcp_cc_ops_for(US_TCP_CC_CUBIC) };
  struct tcp_cc_rtt rtt = { .srtt = MS(100), .min_rtt = MS(100) };
  us_time_t t0 = US_SEC(10);
  struct tcp_cc_event ev = { .now = t0, .rtt = &rtt, .mss = mss, .flight = 100 * mss };
  assert_string_equal(cc.ops->name, "cubic");
  cc.ops->init(&cc, &ev, 100 * mss);
  /* A congestion event at 100 segments: ssthresh = cwnd = 70 (beta 0.7),
   * W_max = 100, K = cbrt((100 - 70) / 0.4) = cbrt(75) s. */
  cc.ops->on_congestion(&cc, &ev);
  assert_int_equal(cc.ops->window(&cc), 70 * mss);
  assert_int_equal(cc.ops->ssthresh(&cc), 70 * mss);
  cc.ops->on_recovery_exit(&cc, &ev);
  const double k = 4.2171633265087; /* cbrt(75) */
  /* The window follows W_cubic: concave up to K, flat at W_max around it,
   * convex after. The target is W_cubic(t + RTT), so cwnd sits between
   * W_cubic(t) and W_cubic(t + RTT). Beside it, W_est (4.3) grows by
   * alpha = 3 (1 - beta) / (1 + beta) segments per RTT from 70 until it
   * reaches the old maximum (100, at 5.667 s), then one per RTT; where
   * it is above W_cubic, cwnd = W_est (the Reno-friendly region). */
  const double alpha = 3 * (1 - 0.7) / (1 + 0.7);
  const double t_reach = 30 / alpha * 0.1;
  static const double at[] = { 0.5, 1.0, 2.0, 3.0, 4.0, 4.5, 5.0, 5.5, 6.0, 7.0 };
  int friendly = 0;
  for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
    cubic_run(&cc, &ev, t0, at[i]);
    double w = (double)cc.ops->window(&cc) / mss;
    double t = (double)(ev.now - t0) / 1e6;
    double lo = w_cubic(t, k, 100), hi = w_cubic(t + 0.1, k, 100);
    double est = t < t_reach ? 70 + alpha * t / 0.1 : 100 + (t - t_reach) / 0.1;
    if (est > lo) {
      friendly++;
      if (w < est - 1 || w > est + 1)
        fail_msg("t=%.2f s: cwnd %.2f segments, W_est %.2f (W_cubic %.2f)", t, w, est, lo);
    } else if (w < lo - 1 || w > hi + 1) {
      fail_msg("t=%.2f s: cwnd %.2f segments, W_cubic(t) %.2f, W_cubic(t+RTT) %.2f", t, w, lo, hi);
    }
  }
  assert_true(friendly >= 1 && friendly <= 3); /* the last points only */
  /* Fast convergence (4.7): a new event below the old W_max remembers
   * less: W_max = cwnd (1 + beta) / 2. */
  uint32_t w = cc.ops->window(&cc);
  cc.u.cubic.w_max = w + 10 * mss; /* as if the last maximum were higher */
  cc.ops->on_congestion(&cc, &ev);
  assert_int_equal(cc.u.cubic.w_max, (uint32_t)(w * 1.7 / 2));
  assert_int_equal(cc.ops->window(&cc), (uint32_t)(w * 0.7));
}

/* The Reno-friendly region (4.3): with a short RTT and a small window,
 * W_est = cwnd_epoch + alpha * (t / RTT) grows faster than W_cubic, and
 * cwnd follows W_est, alpha = 3 (1 - beta) / (1 + beta). */
static void test_cubic_reno_friendly(void **state) {
  (void)state;
  const uint32_t mss = 1000;
  struct tcp_cc cc = { .ops = tcp_cc_ops_for(US_TCP_CC_CUBIC) };
  struct tcp_cc_rtt rtt = { .srtt = MS(10), .min_rtt = MS(10) };
  us_time_t t0 = US_SEC(10);
  struct tcp_cc_event ev = { .now = t0, .rtt = &rtt, .mss = mss, .flight = 10 * mss };
  cc.ops->init(&cc, &ev, 10 * mss);
  cc.ops->on_congestion(&cc, &ev); /* cwnd 7, W_max 10, K = cbrt(7.5) = 1.957 s */
  cc.ops->on_recovery_exit(&cc, &ev);
  /* One window per 10 ms RTT, one ACK per segment. */
  const double alpha = 3 * (1 - 0.7) / (1 + 0.7);
  for (us_time_t now = t0; now <= t0 + MS(50); now += MS(1)) {
    ev.now = now;
    ev.acked = cc.ops->window(&cc) / 10;
    cc.ops->on_ack(&cc, &ev);
  }
  double w = (double)cc.ops->window(&cc) / mss;
  double est = 7 + alpha * 5.1; /* 51 ACKs of a tenth of the window each */
  double wc = w_cubic(0.05, 1.9574338205844, 10);
  assert_true(est > wc); /* the case is the Reno-friendly one */
  if (w < est - 0.3 || w > est + 0.3)
    fail_msg("cwnd %.2f segments, W_est %.2f (W_cubic %.2f)", w, est, wc);
}

/* NewReno is still there: us_config selects it, ustack-ss shows it, and a
 * peer without SACK gets RFC 6582 partial-ACK recovery (test_tcp_timers
 * has the packet-level NewReno tests). */
static void test_newreno_selectable(void **state) {
  struct th *h = th_new_state(state, newreno);
  th_fx_established(h, 0);
  struct us_tcp_info in;
  assert_true(th_info(h, &in));
  assert_string_equal(in.cc, "newreno");
  assert_int_equal(in.ssthresh, TCP_CC_CWND_MAX);
  th_finish(h);
}

/* ---- The transmit records under pressure (HOSTILE OPT-5) -------------------------------- */

static void small_sndbuf(struct us_config *c) {
  c->tcp_sndbuf = 4096; /* 4096 / 536 + 32 = 39 transmit records */
}

/* A peer with the smallest MSS we accept SACKs every other segment, one block per ACK, so
 * the scoreboard wants more records than the block holds: neighbours
 * merge, nothing crashes, every byte resent is the right byte, and the
 * transfer completes with the pools back to full. */
static void test_records_full(void **state) {
  struct th *h = th_new_state(state, small_sndbuf);
  static const uint8_t syn_opts[] = { 2, 4, 0, 64, 1, 1, 4, 2 }; /* MSS 64, SACK-perm */
  us_time_t t = 0;
  th_fx_listen(h, t);
  th_inject(h, t, TSEG(.flags = TH_SYN, .seq = 0, OPTS(syn_opts, sizeof syn_opts)));
  th_expect(h, t, TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1, LEN_ANY));
  t += MS(10);
  th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  th_accept(h);
  const uint32_t mss = 64, total = 200000;
  uint32_t queued = 0, una = 1, hi = 1, sacks = 0;
  for (int round = 0; round < 1000 && us_seq_lt(una, 1 + total); round++) {
    t += MS(1);
    if (queued < total) {
      long n = th_send(h, t, total - queued);
      if (n > 0)
        queued += (uint32_t)n;
    }
    th_advance(h, t);
    struct th_pkt p;
    while (th_pop(h, &p)) {
      if (p.plen == 0)
        continue;
      uint32_t rel = th_rel_seq(h, &p);
      for (uint32_t i = 0; i < p.plen; i++)
        if (p.payload[i] != th_pat(h->c->s_salt, (uint64_t)rel - 1 + i))
          fail_msg("byte %u of the segment at %u is not the app's", i, rel);
      if (us_seq_gt(rel + p.plen, hi))
        hi = rel + p.plen;
    }
    /* Rounds 30..69 (cwnd has grown to the send buffer): no cumulative
     * progress, SACK every other segment above SND.UNA, one block per
     * ACK; otherwise ACK what was sent. */
    if (round >= 30 && round < 70) {
      uint32_t k = 2 * (uint32_t)(round - 30) + 1;
      uint32_t l = una + k * mss;
      if (us_seq_lt(l + mss, hi + 1)) {
        uint8_t o[12] = { 1, 1, 5, 10 };
        h_wr32(o + 4, h->c->s_isn + l);
        h_wr32(o + 8, h->c->s_isn + l + mss);
        th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = una, OPTS(o, sizeof o)));
        sacks++;
      }
    } else if (us_seq_gt(hi, una)) {
      una = hi;
      th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = una));
    }
  }
  /* 4096 / 64 = 64 segments out, every other one SACKed: more than 50
   * ranges with different marks, for 39 records. */
  if (sacks < 25)
    fail_msg("only %u SACK blocks (una %u, hi %u)", sacks, una, hi);
  assert_int_equal(una, 1 + total);
  assert_int_equal(us_tcp_send_queued(h->s, h->c->sock), 0);
  th_drain(h);
  th_finish(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_teardown(test_two_holes_one_recovery, th_teardown),
    cmocka_unit_test_teardown(test_lost_retransmission, th_teardown),
    cmocka_unit_test_teardown(test_tlp_single_tail, th_teardown),
    cmocka_unit_test_teardown(test_tlp_two_tail, th_teardown),
    cmocka_unit_test_teardown(test_reordering_no_recovery, th_teardown),
    cmocka_unit_test_teardown(test_reordering_too_late, th_teardown),
    cmocka_unit_test_teardown(test_rto_keeps_sack, th_teardown),
    cmocka_unit_test_teardown(test_abc_slow_start, th_teardown),
    cmocka_unit_test(test_newreno_avoidance),
    cmocka_unit_test(test_cubic_formula),
    cmocka_unit_test(test_cubic_reno_friendly),
    cmocka_unit_test_teardown(test_newreno_selectable, th_teardown),
    cmocka_unit_test_teardown(test_records_full, th_teardown),
  };
  return H_RUN("tcp_recovery", tests);
}
