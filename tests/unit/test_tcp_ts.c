/*
 * test_tcp_ts.c - RFC 7323 timestamps: negotiation both ways, the values
 * S sends (TSval clock and offset, TSecr per section 4.3), RTT samples
 * from TSecr (4.1, appendix G), PAWS (5.3) with the wrap and the 24-day
 * rule (5.5), RSTs exempt, segments without TSopt (3.2), SYN cookies, and
 * option space (TS beside MSS/WS/SACK-permitted on a SYN, 3 SACK blocks
 * beside TS).
 *
 * P plays the peer with its own TSval clock; S's TSval is read from what
 * it emits, since its offset is a keyed hash (RFC 7323 5.4).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "harness.h"
#include "tcp_harness.h"

#define MS(x) US_MSEC(x)
#define DAY   US_SEC(24LL * 3600)

static uint32_t s_tsval; /* S's TSval in the segment last matched */

static const struct th_pkt *last_ts(struct th *h) {
  const struct th_pkt *p = th_last(h);
  assert_true(p->has_ts);
  s_tsval = p->tsval;
  return p;
}

/* Passive open with TS at t0: P's SYN carries TSval `p_ts`; returns the
 * time it ends at. */
static us_time_t ts_established_at(struct th *h, us_time_t t0, uint32_t p_ts) {
  th_fx_listen(h, t0);
  h->c->s_port = TH_S_PORT;
  th_inject(h, t0, TSEG(.flags = TH_SYN, .seq = 0, MSS(1460), TS(p_ts, 0)));
  th_expect(h, t0, TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1, MSS(1460)));
  const struct th_pkt *p = last_ts(h);
  assert_int_equal(p->tsecr, p_ts); /* 4.3 (1): TS.Recent from the SYN */
  th_inject(h, t0 + MS(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, TS(p_ts + 1, s_tsval)));
  th_assert_state(h, US_TCP_ESTABLISHED);
  th_accept(h);
  struct us_tcp_info in;
  assert_true(th_info(h, &in));
  assert_true(in.ts_ok);
  return t0 + MS(10);
}

static us_time_t ts_established(struct th *h, uint32_t p_ts) {
  return ts_established_at(h, 0, p_ts);
}

/* ---- negotiation ------------------------------------------------------- */

static void test_ts_passive_negotiated(void **state) {
  struct th *h = th_new_state(state, NULL);
  us_time_t t = ts_established(h, 100);
  assert_int_equal(th_stat(h, US_STAT_tcp_ts_negotiated), 1);
  /* Data carries TSopt, echoes TS.Recent (101, from the ACK), and full
   * segments are 1460 - 12 bytes: TSopt comes out of the MSS (RFC 6691). */
  assert_int_equal(us_tcp_setopt(h->s, h->c->sock, US_TCP_NODELAY, 1), 0);
  assert_int_equal(th_send(h, t, 3000), 3000);
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 1448));
  assert_int_equal(last_ts(h)->tsecr, 101);
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1449, .ack = 1, .len = 1448));
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 2897, .ack = 1, .len = 104));
  assert_int_equal(last_ts(h)->tsecr, 101);
  struct us_tcp_info in;
  assert_true(th_info(h, &in));
  assert_int_equal(in.mss, 1448);
  th_inject(h, t + MS(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 3001, TS(102, s_tsval)));
  th_finish(h);
}

static void test_ts_passive_not_offered(void **state) {
  struct th *h = th_new_state(state, NULL);
  us_time_t t = th_fx_established(h, 0);
  assert_false(th_last(h)->has_ts);
  struct us_tcp_info in;
  assert_true(th_info(h, &in));
  assert_false(in.ts_ok);
  assert_int_equal(in.mss, 1460);
  assert_int_equal(th_send(h, t, 100), 100);
  th_expect(h, t, TSEG(.flags = TH_ACK | TH_PSH, .seq = 1, .ack = 1, .len = 100));
  assert_false(th_last(h)->has_ts);
  th_inject(h, t + MS(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 101));
  th_finish(h);
}

/* Our SYN: MSS, SACK-permitted, TS and WS in 20 of the 40 option bytes. */
static void test_ts_active_negotiated(void **state) {
  struct th *h = th_new_state(state, NULL);
  th_connect(h, 0);
  th_expect(h, 0, TSEG(.flags = TH_SYN, .seq = 0));
  const struct th_pkt *p = last_ts(h);
  assert_true(p->has_mss && p->has_ws && p->sack_perm);
  assert_int_equal(p->len, 20 + 20 + 20);
  assert_int_equal(p->tsecr, 0); /* 3.2: nothing to echo yet */
  h->c->p_nxt = 0;
  th_inject(h, MS(10),
            TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1, MSS(1460), TS(7000, s_tsval)));
  th_expect(h, MS(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  p = last_ts(h);
  assert_int_equal(p->tsecr, 7000);
  struct us_tcp_info in;
  assert_true(th_info(h, &in));
  assert_true(in.ts_ok);
  assert_int_equal(in.mss, 1448);
  th_finish(h);
}

static void test_ts_active_peer_declines(void **state) {
  struct th *h = th_new_state(state, NULL);
  th_fx_established_active(h, 0);
  assert_false(th_last(h)->has_ts); /* the ACK of a SYN-ACK without TS */
  struct us_tcp_info in;
  assert_true(th_info(h, &in));
  assert_false(in.ts_ok);
  assert_int_equal(in.mss, 1460);
  th_finish(h);
}

static void no_ts(struct us_config *c) { c->tcp_timestamps = false; }

static void test_ts_switched_off(void **state) {
  struct th *h = th_new_state(state, no_ts);
  th_connect(h, 0);
  th_expect(h, 0, TSEG(.flags = TH_SYN, .seq = 0));
  assert_false(th_last(h)->has_ts);
  th_drain(h);
  /* A peer's TS offer is declined too. */
  th_use(h, 1);
  th_fx_listen(h, 0);
  h->c->s_port = TH_S_PORT;
  th_inject(h, 0, TSEG(.flags = TH_SYN, .seq = 0, MSS(1460), TS(5, 0)));
  th_expect(h, 0, TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1));
  assert_false(th_last(h)->has_ts);
  assert_int_equal(th_stat(h, US_STAT_tcp_ts_negotiated), 0);
  th_finish(h);
}

/* ---- the values S sends -------------------------------------------------- */

/* TSval ticks once per ms of `now`; two connections have unrelated
 * offsets (RFC 7323 5.4). */
static void test_tsval_clock_and_offset(void **state) {
  struct th *h = th_new_state(state, NULL);
  us_time_t t = ts_established(h, 100);
  assert_int_equal(th_send(h, t, 10), 10);
  th_expect(h, t, TSEG(.flags = TH_ACK | TH_PSH, .seq = 1, .ack = 1, .len = 10));
  uint32_t v0 = last_ts(h)->tsval;
  th_inject(h, t + MS(5), TSEG(.flags = TH_ACK, .seq = 1, .ack = 11, TS(102, v0)));
  assert_int_equal(th_send(h, t + MS(250), 10), 10);
  th_expect(h, t + MS(250), TSEG(.flags = TH_ACK | TH_PSH, .seq = 11, .ack = 1, .len = 10));
  assert_int_equal(last_ts(h)->tsval - v0, 250);
  th_inject(h, t + MS(260), TSEG(.flags = TH_ACK, .seq = 1, .ack = 21, TS(103, s_tsval)));
  /* Another connection from another port, at the same instant. */
  th_use(h, 1);
  h->c->s_port = TH_S_PORT;
  th_inject(h, t + MS(260), TSEG(.flags = TH_SYN, .seq = 0, MSS(1460), TS(1, 0)));
  th_expect(h, t + MS(260), TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1));
  uint32_t other = last_ts(h)->tsval;
  assert_int_not_equal(other - (v0 + 260), 0);
  th_finish(h);
}

/* 4.3: with a delayed ACK, TSecr is the TSval of the earliest segment the
 * ACK covers. */
static void test_tsecr_delayed_ack(void **state) {
  struct th *h = th_new_state(state, NULL);
  us_time_t t = ts_established(h, 100) + MS(10);
  th_inject(h, t, TSEG(.flags = TH_ACK | TH_PSH, .seq = 1, .ack = 1, .len = 100, TS(200, 0)));
  th_inject(h, t + MS(5),
            TSEG(.flags = TH_ACK | TH_PSH, .seq = 101, .ack = 1, .len = 100, TS(205, 0)));
  th_expect_within(h, t, t + MS(200), TSEG(.flags = TH_ACK, .seq = 1, .ack = 201));
  assert_int_equal(last_ts(h)->tsecr, 200);
  th_recv_expect(h, t + MS(100), 200);
  th_drain(h);
  th_finish(h);
}

/* 4.3: an out-of-order segment does not move TS.Recent; the one that
 * fills the hole does. */
static void test_tsecr_out_of_order(void **state) {
  struct th *h = th_new_state(state, NULL);
  us_time_t t = ts_established(h, 100) + MS(10);
  th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 1001, .ack = 1, .len = 500, TS(300, 0)));
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  assert_int_equal(last_ts(h)->tsecr, 101);
  th_inject(h, t + MS(1), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 1000, TS(301, 0)));
  th_expect(h, t + MS(1), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1501));
  assert_int_equal(last_ts(h)->tsecr, 301);
  th_recv_expect(h, t + MS(2), 1500);
  th_drain(h);
  th_finish(h);
}

/* ---- RTT from TSecr -------------------------------------------------------- */

static void test_rtt_from_tsecr(void **state) {
  struct th *h = th_new_state(state, NULL);
  us_time_t t = ts_established(h, 100);
  struct us_tcp_info a, b;
  assert_true(th_info(h, &a));
  assert_int_equal(a.rtt_samples, 1); /* the SYN-ACK, timed */
  assert_int_equal(a.srtt, MS(10));
  /* A segment acknowledged 50 ms later, echoing its TSval: one sample. */
  assert_int_equal(th_send(h, t, 100), 100);
  th_expect(h, t, TSEG(.flags = TH_ACK | TH_PSH, .seq = 1, .ack = 1, .len = 100));
  uint32_t v = last_ts(h)->tsval;
  th_inject(h, t + MS(50), TSEG(.flags = TH_ACK, .seq = 1, .ack = 101, TS(150, v)));
  assert_true(th_info(h, &b));
  assert_int_equal(b.rtt_samples, 2);
  /* RFC 6298 2.3 with one sample expected per RTT: 7/8 * 10 + 1/8 * 50. */
  assert_int_equal(b.srtt, MS(15));
  assert_int_equal(th_stat(h, US_STAT_tcp_rtt_ts_samples), 1);
  /* An echo from the future (not a TSval we sent): no sample. */
  t += MS(100);
  assert_int_equal(th_send(h, t, 100), 100);
  th_expect(h, t, TSEG(.flags = TH_ACK | TH_PSH, .seq = 101, .ack = 1, .len = 100));
  th_inject(h, t + MS(5),
            TSEG(.flags = TH_ACK, .seq = 1, .ack = 201, TS(151, last_ts(h)->tsval + 100000)));
  assert_true(th_info(h, &a));
  assert_int_equal(a.rtt_samples, 2);
  th_finish(h);
}

/* Karn is not needed: the ACK of a retransmission echoes the TSval of the
 * retransmission, so the sample is the retransmission's RTT. */
static void test_rtt_after_retransmission(void **state) {
  struct th *h = th_new_state(state, NULL);
  us_time_t t = ts_established(h, 100);
  assert_int_equal(th_send(h, t, 100), 100);
  th_expect(h, t, TSEG(.flags = TH_ACK | TH_PSH, .seq = 1, .ack = 1, .len = 100));
  us_time_t r = th_expect_within(h, t, t + US_SEC(3),
                                 TSEG(.flags = TH_ACK | TH_PSH, .seq = 1, .ack = 1, .len = 100));
  uint32_t v = last_ts(h)->tsval;
  struct us_tcp_info a, b;
  assert_true(th_info(h, &a));
  th_inject(h, r + MS(20), TSEG(.flags = TH_ACK, .seq = 1, .ack = 101, TS(500, v)));
  assert_true(th_info(h, &b));
  assert_int_equal(b.rtt_samples, a.rtt_samples + 1);
  assert_int_equal(b.srtt, (7 * a.srtt + MS(20)) / 8);
  th_finish(h);
}

/* Samples per RTT over a bulk transfer, with and without timestamps: P
 * acknowledges every second segment one RTT after S sent it. */
static uint32_t bulk_samples(struct th *h, bool ts, uint32_t *rtts) {
  us_time_t t;
  if (ts) {
    t = ts_established(h, 100);
  } else {
    t = th_fx_established(h, 0);
  }
  struct us_tcp_info a;
  assert_true(th_info(h, &a));
  uint32_t s0 = a.rtt_samples;
  const uint32_t total = 200000;
  assert_int_equal(th_send(h, t, total), total);
  uint32_t acked = 1, n = 0, pts = 200;
  us_time_t now = t;
  while (acked < 1 + total && n < 2000) {
    /* One RTT: everything S emitted by now is acknowledged 20 ms later,
     * every second segment (the last one too). */
    th_advance(h, now);
    struct th_pkt p;
    uint32_t ends[256], tsv[256];
    size_t k = 0;
    while (th_pop(h, &p) && k < 256) {
      if (p.plen == 0)
        continue;
      ends[k] = th_rel_seq(h, &p) + p.plen;
      tsv[k] = p.tsval;
      k++;
    }
    now += MS(20);
    if (k == 0)
      break;
    (*rtts)++;
    /* An ACK per pair of segments, echoing the first of the pair (4.3). */
    for (size_t i = 0; i < k; i += 2) {
      size_t j = i + 1 < k ? i + 1 : i;
      if (ts)
        th_inject(h, now, TSEG(.flags = TH_ACK, .seq = 1, .ack = ends[j], TS(pts++, tsv[i])));
      else
        th_inject(h, now, TSEG(.flags = TH_ACK, .seq = 1, .ack = ends[j]));
      acked = ends[j];
      n++;
    }
  }
  assert_int_equal(acked, 1 + total);
  assert_true(th_info(h, &a));
  return a.rtt_samples - s0;
}

static void test_rtt_samples_per_rtt(void **state) {
  (void)state;
  uint32_t r1 = 0, r2 = 0;
  struct th *h = th_new(NULL);
  uint32_t with = bulk_samples(h, true, &r1);
  th_finish(h);
  th_free(h);
  h = th_new(NULL);
  uint32_t without = bulk_samples(h, false, &r2);
  th_finish(h);
  th_free(h);
  printf(
      "RTT samples over 200000 bytes: with TS %u in %u RTTs (%.1f per RTT), "
      "without %u in %u RTTs (%.1f per RTT)\n",
      with, r1, (double)with / r1, without, r2, (double)without / r2);
  assert_true(without <= r2);  /* one timed segment at a time */
  assert_true(with >= 4 * r1); /* every ACK of new data */
}

/* ---- PAWS ------------------------------------------------------------------ */

static void test_paws_drop_and_ack(void **state) {
  struct th *h = th_new_state(state, NULL);
  us_time_t t = ts_established(h, 2000) + MS(10);
  th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 10, TS(2100, 0)));
  th_recv_expect(h, t, 10);
  th_drain(h);
  struct h_snap sn;
  h_snap_take(h->s, &sn);
  /* An old duplicate of new data: dropped, answered with an ACK. */
  th_inject(h, t + MS(10), TSEG(.flags = TH_ACK, .seq = 11, .ack = 1, .len = 10, TS(2050, 0)));
  th_expect(h, t + MS(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 11));
  assert_int_equal(last_ts(h)->tsecr, 2100);
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_tcp_paws_dropped), 1);
  assert_int_equal(us_tcp_recv_queued(h->s, h->c->sock), 0);
  /* The same bytes with a current TSval are data. */
  th_inject(h, t + MS(20), TSEG(.flags = TH_ACK, .seq = 11, .ack = 1, .len = 10, TS(2101, 0)));
  th_recv_expect(h, t + MS(20), 10);
  th_drain(h);
  th_finish(h);
}

/* Wrap-safe: 0xffffff00 -> 0x10 is forward; then 0xfffffff0 is old. */
static void test_paws_across_wrap(void **state) {
  struct th *h = th_new_state(state, NULL);
  us_time_t t = ts_established(h, 0xffffff00u) + MS(10);
  th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 10, TS(0x10u, 0)));
  th_recv_expect(h, t, 10);
  th_drain(h);
  uint64_t d0 = th_stat(h, US_STAT_tcp_paws_dropped);
  th_inject(h, t + MS(10),
            TSEG(.flags = TH_ACK, .seq = 11, .ack = 1, .len = 10, TS(0xfffffff0u, 0)));
  th_expect(h, t + MS(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 11));
  assert_int_equal(last_ts(h)->tsecr, 0x10u);
  assert_int_equal(th_stat(h, US_STAT_tcp_paws_dropped), d0 + 1);
  th_finish(h);
}

/* 5.5: after 24 days without a refresh TS.Recent is no longer trusted. */
static void test_paws_24_days(void **state) {
  struct th *h = th_new_state(state, NULL);
  us_time_t t = ts_established(h, 50000);
  /* 23 days idle: still valid, the old TSval is dropped. */
  us_time_t t1 = t + 23 * DAY;
  th_inject(h, t1, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 10, TS(40000, 0)));
  th_expect(h, t1, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  assert_int_equal(th_stat(h, US_STAT_tcp_paws_dropped), 1);
  /* 25 days after the last refresh: accepted, and TS.Recent restarts. */
  us_time_t t2 = t + 25 * DAY;
  th_inject(h, t2, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 10, TS(40000, 0)));
  th_recv_expect(h, t2, 10);
  assert_int_equal(th_stat(h, US_STAT_tcp_paws_dropped), 1);
  th_expect_within(h, t2, t2 + MS(200), TSEG(.flags = TH_ACK, .seq = 1, .ack = 11));
  assert_int_equal(last_ts(h)->tsecr, 40000);
  th_finish(h);
}

/* 5.3: RSTs are exempt from PAWS (and need no TSopt, 3.2). */
static void test_paws_rst_exempt(void **state) {
  struct th *h = th_new_state(state, NULL);
  us_time_t t = ts_established(h, 9000) + MS(10);
  th_inject(h, t, TSEG(.flags = TH_RST, .seq = 1, TS(1, 0)));
  assert_int_equal(th_state(h), -1);
  assert_int_equal(th_stat(h, US_STAT_tcp_paws_dropped), 0);
  th_drain(h);
  th_use(h, 1);
  t = ts_established_at(h, t, 9000) + MS(10);
  th_inject(h, t, TSEG(.flags = TH_RST, .seq = 1));
  assert_int_equal(th_state(h), -1);
  assert_int_equal(th_stat(h, US_STAT_tcp_ts_missing), 0);
  th_drain(h);
  th_finish(h);
}

/* 3.2: a non-RST segment without TSopt is dropped silently. */
static void test_ts_missing_dropped(void **state) {
  struct th *h = th_new_state(state, NULL);
  us_time_t t = ts_established(h, 100) + MS(10);
  th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 10));
  th_expect_nothing_until(h, t + MS(500));
  assert_int_equal(us_tcp_recv_queued(h->s, h->c->sock), 0);
  assert_int_equal(th_stat(h, US_STAT_tcp_ts_missing), 1);
  th_assert_state(h, US_TCP_ESTABLISHED);
  /* With TSopt the same segment is data. */
  th_inject(h, t + MS(600), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 10, TS(101, 0)));
  th_recv_expect(h, t + MS(600), 10);
  th_drain(h);
  th_finish(h);
}

/* ---- TIME-WAIT (RFC 6191, PAWS) -------------------------------------------- */

/* S closes first; P's FIN carries TSval 1003. Returns the time. */
static us_time_t ts_time_wait(struct th *h) {
  us_time_t t = ts_established(h, 1000) + MS(10);
  th_advance(h, t);
  assert_int_equal(us_tcp_close(h->s, h->c->sock, t), 0);
  h->c->sock = US_SOCK_INVALID;
  th_expect(h, t, TSEG(.flags = TH_FIN | TH_ACK, .seq = 1, .ack = 1));
  uint32_t v = last_ts(h)->tsval;
  th_inject(h, t + MS(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 2, TS(1002, v)));
  th_inject(h, t + MS(20), TSEG(.flags = TH_FIN | TH_ACK, .seq = 1, .ack = 2, TS(1003, v)));
  th_expect(h, t + MS(20), TSEG(.flags = TH_ACK, .seq = 2, .ack = 2));
  th_assert_state(h, US_TCP_TIME_WAIT);
  return t + MS(30);
}

/* RFC 6191 2: with timestamps, a SYN with a newer TSval reopens the pair
 * even from a lower sequence number; one with an older TSval does not,
 * even from a higher one (it is answered with an ACK). */
static void test_time_wait_reopen_by_tsval(void **state) {
  struct th *h = th_new_state(state, NULL);
  us_time_t t = ts_time_wait(h);
  uint32_t old_isn = h->c->p_isn;
  h->c->s_isn_known = false;
  h->c->p_isn = old_isn + 100000;
  th_inject(h, t, TSEG(.flags = TH_SYN, .seq = 0, MSS(1460), TS(500, 0)));
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq_any = true, .ack_any = true));
  assert_int_equal(th_stat(h, US_STAT_tcp_time_wait_recycled), 0);
  assert_int_equal(th_stat(h, US_STAT_tcp_paws_dropped), 1);
  h->c->p_isn = old_isn - 100000;
  th_inject(h, t + MS(1), TSEG(.flags = TH_SYN, .seq = 0, MSS(1460), TS(2000, 0)));
  th_expect(h, t + MS(1), TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1));
  assert_int_equal(last_ts(h)->tsecr, 2000);
  assert_int_equal(th_stat(h, US_STAT_tcp_time_wait_recycled), 1);
  th_assert_state(h, US_TCP_SYN_RECEIVED);
  th_finish(h);
}

/* PAWS in TIME-WAIT: an old duplicate of the FIN gets an ACK and does not
 * restart 2*MSL. */
static void test_time_wait_paws(void **state) {
  struct th *h = th_new_state(state, NULL);
  us_time_t t = ts_time_wait(h);
  struct us_tcp_info a, b;
  assert_true(th_info(h, &a));
  th_inject(h, t + MS(100), TSEG(.flags = TH_FIN | TH_ACK, .seq = 1, .ack = 2, TS(900, 0)));
  th_expect(h, t + MS(100), TSEG(.flags = TH_ACK, .seq = 2, .ack = 2));
  assert_true(th_info(h, &b));
  assert_int_equal(b.timer_at, a.timer_at);
  assert_int_equal(th_stat(h, US_STAT_tcp_paws_dropped), 1);
  /* The same FIN with a current TSval restarts it (our ACK was lost). */
  th_inject(h, t + MS(200), TSEG(.flags = TH_FIN | TH_ACK, .seq = 1, .ack = 2, TS(1004, 0)));
  th_expect(h, t + MS(200), TSEG(.flags = TH_ACK, .seq = 2, .ack = 2));
  assert_true(th_info(h, &b));
  assert_int_equal(b.timer_at, t + MS(200) + 2 * h->cfg.tcp_msl);
  th_finish(h);
}

/* ---- option space and SYN cookies ------------------------------------------ */

/* TS beside SACK: at most 3 blocks fit (RFC 2018 3). */
static void test_ts_with_sack_blocks(void **state) {
  struct th *h = th_new_state(state, NULL);
  th_fx_listen(h, 0);
  h->c->s_port = TH_S_PORT;
  th_inject(h, 0, TSEG(.flags = TH_SYN, .seq = 0, MSS(1460), .sack_perm = true, TS(10, 0)));
  th_expect(h, 0, TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1));
  assert_true(last_ts(h)->sack_perm);
  th_inject(h, MS(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, TS(11, s_tsval)));
  th_accept(h);
  us_time_t t = MS(20);
  for (uint32_t i = 0; i < 4; i++) {
    th_inject(h, t,
              TSEG(.flags = TH_ACK, .seq = 101 + 200 * i, .ack = 1, .len = 100, TS(12 + i, 0)));
    th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
    const struct th_pkt *p = last_ts(h);
    assert_int_equal(p->nsack, i + 1 < 3 ? i + 1 : 3);
  }
  th_drain(h);
  th_finish(h);
}

/* A SYN cookie keeps timestamps when the SYN had TSopt: its SYN-ACK
 * offers TSopt echoing the SYN's TSval, and the connection its ACK
 * completes runs with them, TS.Recent from that ACK (the rest of what the
 * cookie keeps: test_tcp_cookie_opts.c). */
static void test_ts_syn_cookie(void **state) {
  struct th *h = th_new_state(state, NULL);
  th_listen(h, TH_S_PORT, 1);
  h->c->s_port = TH_S_PORT;
  th_inject(h, 0, TSEG(.flags = TH_SYN, .seq = 0, MSS(1460), TS(10, 0)));
  th_expect(h, 0, TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1));
  assert_true(th_last(h)->has_ts);
  th_use(h, 1);
  h->c->s_port = TH_S_PORT;
  th_inject(h, MS(1), TSEG(.flags = TH_SYN, .seq = 0, MSS(1460), TS(20, 0)));
  th_expect(h, MS(1), TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1));
  assert_int_equal(last_ts(h)->tsecr, 20);
  assert_int_equal(th_stat(h, US_STAT_tcp_syncookies_sent), 1);
  th_inject(h, MS(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, TS(21, s_tsval)));
  th_assert_state(h, US_TCP_ESTABLISHED);
  th_accept(h);
  struct us_tcp_info in;
  assert_true(th_info(h, &in));
  assert_true(in.ts_ok);
  assert_int_equal(in.mss, 1460 - 12);
  /* PAWS from TS.Recent = 21: an older TSval is dropped with an ACK. */
  th_inject(h, MS(20), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 10, TS(15, s_tsval)));
  th_expect(h, MS(20), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  assert_int_equal(last_ts(h)->tsecr, 21);
  assert_int_equal(th_stat(h, US_STAT_tcp_paws_dropped), 1);
  th_drain(h);
  th_finish(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_teardown(test_ts_passive_negotiated, th_teardown),
    cmocka_unit_test_teardown(test_ts_passive_not_offered, th_teardown),
    cmocka_unit_test_teardown(test_ts_active_negotiated, th_teardown),
    cmocka_unit_test_teardown(test_ts_active_peer_declines, th_teardown),
    cmocka_unit_test_teardown(test_ts_switched_off, th_teardown),
    cmocka_unit_test_teardown(test_tsval_clock_and_offset, th_teardown),
    cmocka_unit_test_teardown(test_tsecr_delayed_ack, th_teardown),
    cmocka_unit_test_teardown(test_tsecr_out_of_order, th_teardown),
    cmocka_unit_test_teardown(test_rtt_from_tsecr, th_teardown),
    cmocka_unit_test_teardown(test_rtt_after_retransmission, th_teardown),
    cmocka_unit_test(test_rtt_samples_per_rtt),
    cmocka_unit_test_teardown(test_paws_drop_and_ack, th_teardown),
    cmocka_unit_test_teardown(test_paws_across_wrap, th_teardown),
    cmocka_unit_test_teardown(test_paws_24_days, th_teardown),
    cmocka_unit_test_teardown(test_paws_rst_exempt, th_teardown),
    cmocka_unit_test_teardown(test_ts_missing_dropped, th_teardown),
    cmocka_unit_test_teardown(test_time_wait_reopen_by_tsval, th_teardown),
    cmocka_unit_test_teardown(test_time_wait_paws, th_teardown),
    cmocka_unit_test_teardown(test_ts_with_sack_blocks, th_teardown),
    cmocka_unit_test_teardown(test_ts_syn_cookie, th_teardown),
  };
  return H_RUN("tcp_ts", tests);
}
