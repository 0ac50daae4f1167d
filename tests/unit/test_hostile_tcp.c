/*
 * test_hostile_tcp.c - the TCP rows of docs/HOSTILE.md, one test per row:
 * TH-1, TH-2, OPT-1..OPT-7, FL-1, URG-1, SEQ-1..SEQ-6, HS-1..HS-4, TS-1,
 * CL-1..CL-3, WIN-1, WIN-2 (and the TCP half of IP-6: padding is never
 * data).
 *
 * Each test drives S through the TCP harness (tcp_harness.h: P is the
 * script, time is virtual), checks the drop reason by its counter, checks
 * what S answered (or that it answered nothing), and ends with
 * th_finish(), which closes everything, runs the clock until no TCB is
 * left and asserts that every pool is full. The suite by "tcptest" covers
 * the ordinary behaviour (handshake, close, data, timers); these tests are
 * about hostile or broken peers.
 *
 * Timestamps (RFC 7323): OPT-6 checks that a malformed TSopt negotiates
 * nothing and that, once negotiated, a segment without TSopt is dropped;
 * TS-1 checks PAWS (test_tcp_ts.c has the rest of RFC 7323).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"
#include "tcp_harness.h"
#include "tcp/tcp.h" /* us_tcp_test_force_iss */

#define MS(x) US_MSEC(x)

/* ---- helpers ------------------------------------------------------------------ */

#define ASSERT_DELTA(t, sn, id, n)                                                        \
  do {                                                                                    \
    uint64_t d_ = h_snap_delta((t)->s, (sn), US_STAT_##id);                               \
    if (d_ != (uint64_t)(n))                                                              \
      fail_msg("%s:%d: counter " #id " moved by %llu, expected %llu", __FILE__, __LINE__, \
               (unsigned long long)d_, (unsigned long long)(n));                          \
  } while (0)

static void finish(struct th *t) {
  th_drain(t);
  th_finish(t);
  th_free(t);
}

/*
 * A segment built byte by byte, for what TSEG() cannot say: reserved bits
 * in byte 12, a checksum over a different pseudo-header destination, IP
 * padding after the segment. seq/ack are relative like TSEG's.
 */
struct raw {
  uint8_t flags;
  uint32_t seq, ack;
  uint8_t reserved;  /* low nibble of byte 12 */
  uint32_t csum_dst; /* 0: S's address */
  uint32_t len;      /* P's oracle bytes at seq */
  uint32_t pad;      /* bytes after the datagram (not counted in total length) */
  uint16_t wnd;
  uint16_t urp;
};

static void raw_inject(struct th *t, us_time_t now, const struct raw *r) {
  th_advance(t, now);
  struct th_conn *c = t->c;
  uint8_t *data = malloc(r->len + 1), *seg = malloc(20 + r->len);
  assert_non_null(data);
  assert_non_null(seg);
  th_pat_fill(c->p_salt, r->seq - 1 + ((r->flags & TH_SYN) ? 1u : 0u), data, r->len);
  struct h_tcp ts = { .sport = c->p_port,
                      .dport = c->s_port,
                      .seq = c->p_isn + r->seq,
                      .ack = (r->flags & TH_ACK) ? c->s_isn + r->ack : 0,
                      .flags = r->flags,
                      .reserved = r->reserved,
                      .wnd = r->wnd ? r->wnd : 65535,
                      .urp = r->urp,
                      .data = data,
                      .len = r->len };
  /* The checksum may cover a pseudo-header with another destination. */
  size_t tl = h_tcp_build(seg, H_IP4(TH_P_ADDR, r->csum_dst ? r->csum_dst : TH_S_ADDR, 6), &ts);
  size_t tot = 20 + tl;
  uint8_t *b = calloc(1, tot + r->pad + 1);
  assert_non_null(b);
  struct h_ip ih = { .src = TH_P_ADDR, .dst = TH_S_ADDR, .proto = 6, .id = 0x5151 };
  h_ip_build(b, &ih, seg, tl);
  free(seg);
  free(data);
  memset(b + tot, 0xee, r->pad);
  us_stack_input(t->s, b, tot + r->pad, now);
  us_stack_poll(t->s, now);
  free(b);
}

/* A passive connection whose handshake used these SYN options (raw). */
static us_time_t established_with_opts(struct th *t, us_time_t now, const uint8_t *opts,
                                       uint8_t olen) {
  th_fx_listen(t, now);
  th_inject(t, now, TSEG(.flags = TH_SYN, .seq = 0, OPTS(opts, olen)));
  th_expect(t, now, TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1));
  now += MS(10);
  th_inject(t, now, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  th_assert_state(t, US_TCP_ESTABLISHED);
  th_accept(t);
  return now;
}

/* Length of S's first data segment after the app sends n bytes. */
static uint32_t first_seg_len(struct th *t, us_time_t now, size_t n) {
  assert_true(th_send(t, now, n) > 0);
  struct th_pkt p;
  assert_true(th_run_until_packet(t, now + MS(500)));
  assert_true(th_pop(t, &p));
  assert_true(p.ok);
  return p.plen;
}

/* ---- TH-1: bad checksum ----------------------------------------------------------- */

static void test_TH_1_bad_checksum(void **st) {
  (void)st;
  struct th *t = th_new(NULL);
  th_fx_listen(t, 0);
  struct h_snap sn;
  /* A SYN with a bad checksum: no SYN-ACK, no RST, no TCB. */
  h_snap_take(t->s, &sn);
  th_inject(t, 0, TSEG(.flags = TH_SYN, .seq = 0, MSS(1460), .bad_csum = true));
  ASSERT_DELTA(t, &sn, tcp_in_csum_errors, 1);
  th_expect_nothing_until(t, MS(100));
  assert_int_equal(th_tcb_count(t), 1);

  us_time_t now = th_fx_established(t, MS(200)) + MS(10);
  /* Data with a corrupted checksum: not delivered, not ACKed. */
  h_snap_take(t->s, &sn);
  th_inject(t, now, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 100, .bad_csum = true));
  ASSERT_DELTA(t, &sn, tcp_in_csum_errors, 1);
  th_expect_nothing_until(t, now + MS(500));
  assert_int_equal(us_tcp_recv_queued(t->s, t->c->sock), 0);

  /* Right bytes, but summed for another destination address (pseudo-header
   * mismatch): same treatment. */
  now += MS(600);
  h_snap_take(t->s, &sn);
  raw_inject(
      t, now,
      &(struct raw){
          .flags = TH_ACK, .seq = 1, .ack = 1, .len = 100, .csum_dst = US_IP4(10, 0, 0, 3) });
  ASSERT_DELTA(t, &sn, tcp_in_csum_errors, 1);
  raw_inject(t, now, &(struct raw){ .flags = TH_RST, .seq = 1, .csum_dst = US_IP4(10, 0, 0, 3) });
  ASSERT_DELTA(t, &sn, tcp_in_csum_errors, 2);
  th_expect_nothing_until(t, now + MS(500));
  th_assert_state(t, US_TCP_ESTABLISHED);
  assert_int_equal(us_tcp_recv_queued(t->s, t->c->sock), 0);
  finish(t);
}

/* ---- TH-2: data offset < 5, or beyond the segment --------------------------------------- */

static void test_TH_2_bad_data_offset(void **st) {
  (void)st;
  struct th *t = th_new(NULL);
  th_fx_listen(t, 0);
  struct h_snap sn;
  h_snap_take(t->s, &sn);
  for (uint8_t doff = 0; doff < 5; doff++)
    th_inject(t, 0, TSEG(.flags = TH_SYN, .seq = 0, .raw_doff = true, .doff = doff));
  /* DO = 15 on a 24-byte segment. */
  th_inject(t, 0, TSEG(.flags = TH_SYN, .seq = 0, .raw_doff = true, .doff = 15, .len = 4));
  /* DO = 6 on exactly 20 bytes. */
  th_inject(t, 0, TSEG(.flags = TH_SYN, .seq = 0, .raw_doff = true, .doff = 6));
  ASSERT_DELTA(t, &sn, tcp_bad_offset, 7);
  th_expect_nothing_until(t, MS(100));
  assert_int_equal(th_tcb_count(t), 1);

  us_time_t now = th_fx_established(t, MS(200)) + MS(10);
  h_snap_take(t->s, &sn);
  th_inject(t, now,
            TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .raw_doff = true, .doff = 15, .len = 4));
  th_inject(t, now, TSEG(.flags = TH_RST, .seq = 1, .raw_doff = true, .doff = 3));
  ASSERT_DELTA(t, &sn, tcp_bad_offset, 2);
  th_expect_nothing_until(t, now + MS(500));
  th_assert_state(t, US_TCP_ESTABLISHED);
  finish(t);
}

/* ---- OPT-1 / OPT-2: illegal option lengths ----------------------------------------------- */

static void test_OPT_1_option_len_0_1(void **st) {
  (void)st;
  struct th *t = th_new(NULL);
  th_fx_listen(t, 0);
  static const uint8_t len0[] = { 0x22, 0, 1, 1 };
  static const uint8_t len1[] = { 0x22, 1, 1, 1 };
  static const uint8_t mss0[] = { 2, 0, 5, 0xb4 }; /* a known kind with length 0 */
  struct h_snap sn;
  h_snap_take(t->s, &sn);
  th_inject(t, 0, TSEG(.flags = TH_SYN, .seq = 0, OPTS(len0, 4)));
  th_inject(t, 0, TSEG(.flags = TH_SYN, .seq = 0, OPTS(len1, 4)));
  th_inject(t, 0, TSEG(.flags = TH_SYN, .seq = 0, OPTS(mss0, 4)));
  ASSERT_DELTA(t, &sn, tcp_bad_options, 3);
  th_expect_nothing_until(t, MS(100)); /* no loop, no SYN-ACK, no RST */
  assert_int_equal(th_tcb_count(t), 1);

  us_time_t now = th_fx_established(t, MS(200)) + MS(10);
  h_snap_take(t->s, &sn);
  th_inject(t, now, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 50, OPTS(len0, 4)));
  th_inject(t, now, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 50, OPTS(len1, 4)));
  ASSERT_DELTA(t, &sn, tcp_bad_options, 2);
  assert_int_equal(us_tcp_recv_queued(t->s, t->c->sock), 0);
  /* MUST-7 allows a reset instead of a drop; either way nothing loops and
   * nothing of the segment is used. */
  int st2 = th_state(t);
  assert_true(st2 == US_TCP_ESTABLISHED || st2 == -1);
  finish(t);
}

static void test_OPT_2_option_past_end(void **st) {
  (void)st;
  struct th *t = th_new(NULL);
  th_fx_listen(t, 0);
  static const uint8_t past[] = { 2, 4, 5, 0xb4, 0x22, 30, 0, 0 };
  static const uint8_t lone[] = { 1, 1, 1, 2 }; /* MSS kind as the last header byte */
  static const uint8_t ts_past[] = { 1, 1, 8, 10, 0, 0, 0, 1 };
  struct h_snap sn;
  h_snap_take(t->s, &sn);
  th_inject(t, 0, TSEG(.flags = TH_SYN, .seq = 0, OPTS(past, 8)));
  th_inject(t, 0, TSEG(.flags = TH_SYN, .seq = 0, OPTS(lone, 4)));
  th_inject(t, 0, TSEG(.flags = TH_SYN, .seq = 0, OPTS(ts_past, 8)));
  ASSERT_DELTA(t, &sn, tcp_bad_options, 3);
  th_expect_nothing_until(t, MS(100));
  assert_int_equal(th_tcb_count(t), 1);

  /* EOL then garbage: the walk stops at EOL; the SYN is fine and the MSS
   * before the EOL counts (536 would mean it was lost). */
  static const uint8_t eol[] = { 2, 4, 4, 0, 0, 0x22, 0, 0xff, 3, 1, 1, 1 };
  th_inject(t, MS(200), TSEG(.flags = TH_SYN, .seq = 0, OPTS(eol, sizeof eol)));
  th_expect(t, MS(200), TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1));
  ASSERT_DELTA(t, &sn, tcp_bad_options, 3);
  th_inject(t, MS(210), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  th_accept(t);
  struct us_tcp_info in;
  assert_true(th_info(t, &in));
  assert_int_equal(in.mss, 1024);
  finish(t);
}

/* ---- OPT-3: MSS option length != 4; MSS 0, 1, 48, 65535 ------------------------------------ */

static void test_OPT_3_mss_values(void **st) {
  (void)st;
  struct {
    uint8_t opts[4];
    uint32_t lo, hi; /* expected effective MSS range */
  } cases[] = {
    { { 2, 3, 5, 0 }, 536, 536 },         /* malformed: ignored, default 536 (MUST-15) */
    { { 2, 4, 0, 0 }, 536, 536 },         /* MSS 0: ignored */
    { { 2, 4, 0, 1 }, 48, 536 },          /* MSS 1: clamped to a floor */
    { { 2, 4, 0, 48 }, 48, 536 },         /* MSS 48 */
    { { 2, 4, 0xff, 0xff }, 1460, 1460 }, /* 65535: our MTU limits it */
    { { 1, 1, 1, 1 }, 536, 536 },         /* no MSS at all */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct th *t = th_new(NULL);
    us_time_t now = established_with_opts(t, 0, cases[i].opts, 4) + MS(10);
    struct us_tcp_info in;
    assert_true(th_info(t, &in));
    if (in.mss < cases[i].lo || in.mss > cases[i].hi)
      fail_msg("case %zu: MSS %u, expected %u..%u", i, in.mss, cases[i].lo, cases[i].hi);
    /* Segments carry exactly that much, never 0 bytes in a loop. */
    uint32_t n = first_seg_len(t, now, 4000);
    assert_int_equal(n, in.mss);
    size_t before = th_queued(t);
    assert_true(before < 100);
    finish(t);
  }
}

/* ---- OPT-4: window scale 15, 200, 255, and WS outside the SYN ------------------------------ */

static void test_OPT_4_window_scale(void **st) {
  (void)st;
  static const uint8_t shifts[] = { 14, 15, 200, 255 };
  for (size_t i = 0; i < sizeof shifts; i++) {
    struct th *t = th_new(NULL);
    us_time_t now = established_with_opts(t, 0, (const uint8_t[]){ 1, 3, 3, shifts[i] }, 4);
    /* Window field 1 means 1 << 14 once the shift is clamped to 14. */
    now += MS(10);
    th_inject(t, now, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, WND(1)));
    struct us_tcp_info in;
    assert_true(th_info(t, &in));
    if (in.snd_wnd != (1u << 14))
      fail_msg("shift %u: SND.WND %u, expected 16384", shifts[i], in.snd_wnd);
    /* A WS option outside the SYN changes nothing. */
    now += MS(10);
    th_inject(t, now, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, WND(2), WSCALE(0)));
    assert_true(th_info(t, &in));
    assert_int_equal(in.snd_wnd, 2u << 14);
    finish(t);
  }
  /* No WS in the SYN: a WS in a later segment must not turn scaling on. */
  struct th *t = th_new(NULL);
  us_time_t now = th_fx_established(t, 0) + MS(10);
  th_inject(t, now, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, WND(1000), WSCALE(7)));
  struct us_tcp_info in;
  assert_true(th_info(t, &in));
  assert_int_equal(in.snd_wnd, 1000);
  finish(t);
}

/* ---- OPT-5: bogus SACK blocks ----------------------------------------------------------------- */

/* Run with SACK not negotiated (blocks must be ignored) and negotiated
 * (P's SYN offers SACK-permitted: the scoreboard must reject them). */
static void opt5_run(bool sack_ok) {
  struct th *t = th_new(NULL);
  static const uint8_t syn_sack[] = { 2, 4, 5, 0xb4, 1, 1, 4, 2 };
  us_time_t now = sack_ok ? established_with_opts(t, 0, syn_sack, sizeof syn_sack) + MS(10)
                          : th_fx_established(t, 0) + MS(10);
  assert_int_equal(th_send(t, now, 3000), 3000);
  th_drain(t);
  struct us_tcp_info in;
  assert_true(th_info(t, &in));
  uint32_t una = in.snd_una, nxt = in.snd_nxt;
  uint32_t iss = t->c->s_isn;
  uint8_t o[40];
  /* SACK option builders: NOP NOP SACK len blocks... */
#define SACK1(l, r)                          \
  do {                                       \
    o[0] = 1, o[1] = 1, o[2] = 5, o[3] = 10; \
    h_wr32(o + 4, (l));                      \
    h_wr32(o + 8, (r));                      \
  } while (0)
  struct {
    uint32_t l, r;
  } blocks[] = {
    { nxt + 100, nxt + 200 },                 /* beyond SND.NXT */
    { una - 5000, una - 4000 },               /* below SND.UNA */
    { una + 2000, una + 1000 },               /* left > right */
    { iss + 0x7fffffffu, iss + 0x80000010u }, /* straddles 2^31 from ISS */
    { 0xfffffff0u, 0x10u },                   /* straddles 2^32 */
    { una, nxt + 0x40000000u },               /* huge */
  };
  for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++) {
    SACK1(blocks[i].l, blocks[i].r);
    th_inject(t, now, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, OPTS(o, 12)));
    assert_true(th_info(t, &in));
    assert_int_equal(in.snd_una, una);
    assert_int_equal(in.snd_nxt, nxt);
  }
  /* Wrong lengths: 11 (not 2 + 8n), and 42 (5 blocks, past the header). */
  uint8_t bad[40] = { 1, 1, 5, 11 };
  th_inject(t, now, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, OPTS(bad, 16)));
  uint8_t five[40] = { 1, 1, 5, 42 };
  struct h_snap sn;
  h_snap_take(t->s, &sn);
  th_inject(t, now, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, OPTS(five, 40)));
  ASSERT_DELTA(t, &sn, tcp_bad_options, 1);
  /* Four valid-looking blocks, all junk. */
  uint8_t four[36] = { 1, 1, 5, 34 };
  for (int k = 0; k < 4; k++) {
    h_wr32(four + 4 + 8 * k, nxt + 1000u * (uint32_t)k);
    h_wr32(four + 8 + 8 * k, una + 7u);
  }
  th_inject(t, now, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, OPTS(four, 36)));
  assert_true(th_info(t, &in));
  assert_int_equal(in.snd_una, una);
  th_assert_state(t, US_TCP_ESTABLISHED);
  /* The scoreboard is still sane: a plain cumulative ACK finishes it. */
  th_drain(t);
  th_inject(t, now + MS(50), TSEG(.flags = TH_ACK, .seq = 1, .ack = 3001));
  assert_true(th_info(t, &in));
  assert_int_equal(in.snd_una, nxt);
  assert_int_equal(us_tcp_send_queued(t->s, t->c->sock), 0);
#undef SACK1
  finish(t);
}

static void test_OPT_5_bogus_sack(void **st) {
  (void)st;
  opt5_run(false);
  opt5_run(true);

  /* With SACK negotiated, bogus blocks mixed with a real one: only the
   * real hole is retransmitted, SACKed data is not resent, and nothing
   * beyond SND.NXT is believed. */
  struct th *t = th_new(NULL);
  static const uint8_t syn_sack[] = { 2, 4, 5, 0xb4, 1, 1, 4, 2 };
  us_time_t now = established_with_opts(t, 0, syn_sack, sizeof syn_sack) + MS(10);
  assert_int_equal(th_send(t, now, 7300), 7300);
  th_advance(t, now + MS(1));
  th_drain(t);
  uint32_t iss = t->c->s_isn;
  uint8_t o[28] = { 1, 1, 5, 26 };
  h_wr32(o + 4, iss + 1461); /* real: segments 2..5 arrived */
  h_wr32(o + 8, iss + 7301);
  h_wr32(o + 12, iss + 7301); /* bogus: beyond SND.NXT */
  h_wr32(o + 16, iss + 90000);
  h_wr32(o + 20, iss + 100); /* bogus: left > right */
  h_wr32(o + 24, iss + 50);
  /* The ACKs come back within 2*SRTT (SRTT 10 ms from the handshake), so
   * before the tail-loss probe would fire (RFC 8985 7.2). */
  us_time_t at = now + MS(15);
  for (int i = 0; i < 3; i++)
    th_inject(t, at, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, OPTS(o, 28)));
  /* Whatever S sends in the next 300 ms (before any RTO) is the hole. */
  struct th_pkt p;
  int rexmit = 0;
  while (th_run_until_packet(t, at + MS(300))) {
    while (th_pop(t, &p)) {
      if (p.plen == 0)
        continue;
      if (th_rel_seq(t, &p) != 1)
        fail_msg("resent seq %u (len %u), which was SACKed", th_rel_seq(t, &p), p.plen);
      rexmit++;
    }
    if (t->now >= at + MS(300))
      break;
  }
  assert_true(rexmit >= 1);
  th_inject(t, at + MS(300), TSEG(.flags = TH_ACK, .seq = 1, .ack = 7301));
  struct us_tcp_info in;
  assert_true(th_info(t, &in));
  assert_int_equal(in.snd_una, in.snd_nxt);
  assert_int_equal(us_tcp_send_queued(t->s, t->c->sock), 0);
  finish(t);
}

/* ---- OPT-6: malformed timestamps; TS missing after negotiation ---------------------------- */

static void test_OPT_6_timestamps(void **st) {
  (void)st;
  /* TS with length 9 and 11: ignored as malformed, the SYN itself is fine. */
  static const uint8_t ts9[] = { 8, 9, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1 };
  static const uint8_t ts11[] = { 8, 11, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1 };
  const uint8_t *opts[] = { ts9, ts11 };
  for (int i = 0; i < 2; i++) {
    struct th *t = th_new(NULL);
    th_fx_listen(t, 0);
    th_inject(t, 0, TSEG(.flags = TH_SYN, .seq = 0, OPTS(opts[i], 12)));
    th_expect(t, 0, TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1));
    assert_false(th_last(t)->has_ts); /* a malformed TS negotiates nothing */
    th_inject(t, MS(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
    th_assert_state(t, US_TCP_ESTABLISHED);
    finish(t);
  }
  /* A good TS in the SYN: S negotiates timestamps, and a data segment
   * without TSopt is dropped silently (RFC 7323 3.2 SHOULD), counted, and
   * the connection lives. */
  struct th *t = th_new(NULL);
  static const uint8_t ts[] = { 1, 1, 8, 10, 0, 0, 1, 0, 0, 0, 0, 0 };
  th_fx_listen(t, 0);
  th_inject(t, 0, TSEG(.flags = TH_SYN, .seq = 0, OPTS(ts, 12)));
  th_expect(t, 0, TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1));
  assert_true(th_last(t)->has_ts);
  th_inject(t, MS(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, OPTS(ts, 12)));
  th_accept(t);
  struct h_snap sn;
  h_snap_take(t->s, &sn);
  th_inject(t, MS(20), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 10));
  th_expect_nothing_until(t, MS(300));
  assert_int_equal(us_tcp_recv_queued(t->s, t->c->sock), 0);
  ASSERT_DELTA(t, &sn, tcp_ts_missing, 1);
  th_assert_state(t, US_TCP_ESTABLISHED);
  finish(t);
}

/* ---- OPT-7: unaligned and duplicate options ------------------------------------------------- */

static void test_OPT_7_unaligned_duplicate(void **st) {
  (void)st;
  /* MSS right after one NOP (offset 1): MUST-64. */
  static const uint8_t unaligned[] = { 1, 2, 4, 0x05, 0x00, 1, 3, 3, 0 };
  struct th *t = th_new(NULL);
  us_time_t now = established_with_opts(t, 0, unaligned, sizeof unaligned) + MS(10);
  struct us_tcp_info in;
  assert_true(th_info(t, &in));
  assert_int_equal(in.mss, 1280);
  assert_int_equal(first_seg_len(t, now, 3000), 1280);
  finish(t);

  /* Two MSS options: one of them wins, the same one every time. */
  static const uint8_t dup[] = { 2, 4, 0x02, 0x00, 2, 4, 0x04, 0x00 };
  uint32_t first = 0;
  for (int run = 0; run < 2; run++) {
    t = th_new(NULL);
    established_with_opts(t, 0, dup, sizeof dup);
    assert_true(th_info(t, &in));
    assert_true(in.mss == 512 || in.mss == 1024);
    if (run == 0)
      first = in.mss;
    else
      assert_int_equal(in.mss, first);
    finish(t);
  }
}

/* ---- FL-1: flag soup ------------------------------------------------------------------------------ */

static void test_FL_1_flag_soup(void **st) {
  (void)st;
  struct th *t = th_new(NULL);
  th_fx_listen(t, 0);
  struct h_snap sn;
  /* To LISTEN. RST: ignored. */
  h_snap_take(t->s, &sn);
  th_inject(t, 0, TSEG(.flags = TH_RST, .seq = 0));
  th_expect_nothing_until(t, MS(10));
  /* SYN+FIN, SYN+RST, XMAS: dropped, no SYN-ACK (as Linux). */
  th_inject(t, MS(10), TSEG(.flags = TH_SYN | TH_FIN, .seq = 0));
  th_inject(t, MS(10), TSEG(.flags = TH_SYN | TH_RST, .seq = 0));
  th_inject(t, MS(10), TSEG(.flags = 0xff, .seq = 0, .ack_abs = true, .ack = 0));
  th_expect_nothing_until(t, MS(20));
  assert_int_equal(th_tcb_count(t), 1);
  /* FIN alone, NULL, PSH alone, URG alone: dropped. */
  th_inject(t, MS(20), TSEG(.flags = TH_FIN, .seq = 0));
  th_inject(t, MS(20), TSEG(.flags = 0, .seq = 0));
  th_inject(t, MS(20), TSEG(.flags = TH_PSH, .seq = 0));
  th_inject(t, MS(20), TSEG(.flags = TH_URG, .seq = 0));
  th_expect_nothing_until(t, MS(30));
  assert_int_equal(th_tcb_count(t), 1);
  /* A bare ACK: <SEQ=SEG.ACK><CTL=RST>. */
  th_inject(t, MS(30), TSEG(.flags = TH_ACK, .seq = 5, .ack_abs = true, .ack = 0x12345678u));
  th_expect(t, MS(30), TSEG(.flags = TH_RST, .seq_abs = true, .seq = 0x12345678u));
  assert_int_equal(th_tcb_count(t), 1);
  /* Reserved bits are ignored; ECE+CWR on a SYN is an ECN-setup SYN,
   * which the default mode accepts (RFC 3168 6.1.1: ECE alone in the
   * SYN-ACK): the handshake works. */
  t->c->s_isn_known = false;
  raw_inject(t, MS(40), &(struct raw){ .flags = TH_SYN | 0x40 | 0x80, .seq = 0, .reserved = 0xf });
  th_expect(t, MS(40), TSEG(.flags = TH_SYN | TH_ACK | TH_ECE, .seq = 0, .ack = 1));
  assert_int_equal(th_last(t)->flags & 0xc0, 0x40);
  raw_inject(t, MS(50), &(struct raw){ .flags = TH_ACK, .seq = 1, .ack = 1, .reserved = 0xf });
  th_assert_state(t, US_TCP_ESTABLISHED);
  th_accept(t);

  /* To ESTABLISHED: without ACK, dropped (no data, no reply). */
  us_time_t now = MS(60);
  h_snap_take(t->s, &sn);
  th_inject(t, now, TSEG(.flags = TH_PSH, .seq = 1, .len = 10));
  th_inject(t, now, TSEG(.flags = TH_FIN, .seq = 1));
  th_inject(t, now, TSEG(.flags = 0, .seq = 1, .len = 10));
  raw_inject(t, now, &(struct raw){ .flags = TH_URG, .seq = 1, .len = 10, .urp = 3 });
  th_expect_nothing_until(t, now + MS(300));
  assert_int_equal(us_tcp_recv_queued(t->s, t->c->sock), 0);
  th_assert_state(t, US_TCP_ESTABLISHED);
  /* Reserved bits on data: ignored, the data is taken. */
  raw_inject(
      t, now + MS(300),
      &(struct raw){ .flags = TH_ACK | TH_PSH, .seq = 1, .ack = 1, .len = 10, .reserved = 0xf });
  th_recv_expect(t, now + MS(300), 10);
  /* SYN+FIN in ESTABLISHED: dropped as an impossible combination, or
   * treated as a SYN (challenge ACK); the connection and stream survive. */
  now += MS(400);
  th_advance(t, now);
  th_drain(t);
  h_snap_take(t->s, &sn);
  th_inject(t, now, TSEG(.flags = TH_SYN | TH_FIN | TH_ACK, .seq = 11, .ack = 1));
  if (h_snap_delta(t->s, &sn, US_STAT_tcp_bad_flags) == 1)
    th_expect_nothing_until(t, now + MS(10)); /* refused as impossible */
  else
    th_expect(t, now, TSEG(.flags = TH_ACK, .seq = 1, .ack = 11)); /* challenge */
  th_assert_state(t, US_TCP_ESTABLISHED);
  /* XMAS with a sequence number outside the window: dropped. */
  th_inject(t, now + MS(20), TSEG(.flags = 0xff, .seq = 900000, .ack = 1));
  int s2 = th_state(t);
  assert_true(s2 == US_TCP_ESTABLISHED);
  finish(t);
}

/* ---- URG-1: urgent pointer never an unchecked offset ------------------------------------------ */

static void test_URG_1_urgent_pointer(void **st) {
  (void)st;
  struct th *t = th_new(NULL);
  /* URG on a SYN: the handshake is not disturbed (or the SYN is dropped). */
  th_fx_listen(t, 0);
  raw_inject(t, 0, &(struct raw){ .flags = TH_SYN | TH_URG, .seq = 0, .urp = 0xffff });
  th_drain(t);
  t->c->s_isn_known = false;
  th_fx_established(t, MS(10)); /* a retransmitted plain SYN completes it */
  us_time_t now = MS(100);
  uint32_t seq = 1;
  static const struct {
    uint16_t len, urp;
  } cases[] = { { 10, 0 }, { 10, 10 },  { 10, 11 }, { 10, 0xffff }, { 0, 0xffff },
                { 0, 5 },  { 100, 50 }, { 100, 1 }, { 1, 0xfffe } };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    raw_inject(t, now,
               &(struct raw){ .flags = TH_ACK | TH_URG,
                              .seq = seq,
                              .ack = 1,
                              .len = cases[i].len,
                              .urp = cases[i].urp });
    seq += cases[i].len;
    now += MS(1);
  }
  /* The stream is intact: every byte in order, urgent bytes in line. */
  th_recv_expect(t, now, seq - 1);
  assert_int_equal(us_tcp_recv_queued(t->s, t->c->sock), 0);
  th_assert_state(t, US_TCP_ESTABLISHED);
  finish(t);
}

/* ---- SEQ-1: RST exact / in window / outside -------------------------------------------------- */

static void test_SEQ_1_rst_checks(void **st) {
  (void)st;
  struct th *t = th_new(NULL);
  us_time_t now = th_fx_established(t, 0) + MS(10);
  struct h_snap sn;
  /* Outside the window: silent. */
  h_snap_take(t->s, &sn);
  th_inject(t, now, TSEG(.flags = TH_RST, .seq = 1u + 70000u));
  th_inject(t, now, TSEG(.flags = TH_RST, .seq = 0u - 100u));
  th_expect_nothing_until(t, now + MS(100));
  th_assert_state(t, US_TCP_ESTABLISHED);
  /* In the window, not exact: a challenge ACK, no reset. */
  now += MS(200);
  th_inject(t, now, TSEG(.flags = TH_RST, .seq = 1000));
  th_expect(t, now, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  ASSERT_DELTA(t, &sn, tcp_challenge_ack, 1);
  th_assert_state(t, US_TCP_ESTABLISHED);
  th_inject(t, now, TSEG(.flags = TH_RST | TH_ACK, .seq = 2, .ack = 1));
  th_expect(t, now, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  th_assert_state(t, US_TCP_ESTABLISHED);
  /* Exactly RCV.NXT: reset; the app sees CONNRESET (MUST-12). */
  th_inject(t, now, TSEG(.flags = TH_RST, .seq = 1));
  th_expect_nothing_until(t, now + MS(100));
  ASSERT_DELTA(t, &sn, tcp_estab_resets, 1);
  assert_int_equal(th_state(t), -1);
  assert_int_equal(us_sock_error(t->s, t->c->sock), US_ERR_CONNRESET);
  uint8_t b[8];
  assert_int_equal(us_tcp_recv(t->s, t->c->sock, b, sizeof b, now), US_ERR_CONNRESET);
  finish(t);
}

/* ---- SEQ-2: SYN on an established connection --------------------------------------------------- */

static void test_SEQ_2_syn_in_established(void **st) {
  (void)st;
  struct th *t = th_new(NULL);
  us_time_t now = th_fx_established(t, 0) + MS(10);
  struct h_snap sn;
  h_snap_take(t->s, &sn);
  static const uint32_t seqs[] = { 1, 500, 0, 0x80000000u };
  for (size_t i = 0; i < 4; i++) {
    th_inject(t, now, TSEG(.flags = TH_SYN, .seq = seqs[i], .len = 20));
    th_expect(t, now, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
    th_assert_state(t, US_TCP_ESTABLISHED);
    now += MS(1);
  }
  ASSERT_DELTA(t, &sn, tcp_syn_challenge, 4);
  assert_int_equal(us_tcp_recv_queued(t->s, t->c->sock), 0); /* SYN data not delivered */
  /* The connection works afterwards. */
  th_inject(t, now, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 5));
  th_recv_expect(t, now, 5);
  finish(t);
}

/* ---- SEQ-3: optimistic ACK, ACK far below SND.UNA ------------------------------------------------- */

static void test_SEQ_3_bad_acks(void **st) {
  (void)st;
  struct th *t = th_new(NULL);
  us_time_t now = th_fx_established(t, 0) + MS(10);
  assert_int_equal(th_send(t, now, 1000), 1000);
  th_expect(t, now, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 1000));
  struct us_tcp_info in0, in;
  assert_true(th_info(t, &in0));
  struct h_snap sn;
  h_snap_take(t->s, &sn);
  /* ACK of data never sent. */
  now += MS(10);
  th_inject(t, now, TSEG(.flags = TH_ACK, .seq = 1, .ack = 5001));
  th_expect(t, now, TSEG(.flags = TH_ACK, .seq = 1001, .ack = 1));
  ASSERT_DELTA(t, &sn, tcp_ack_unsent, 1);
  assert_true(th_info(t, &in));
  assert_int_equal(in.snd_una, in0.snd_una);
  assert_int_equal(in.cwnd, in0.cwnd);
  /* With data: the data is not taken either. */
  th_inject(t, now, TSEG(.flags = TH_ACK, .seq = 1, .ack = 0x40000000u, .len = 10));
  th_expect(t, now, TSEG(.flags = TH_ACK, .seq = 1001, .ack = 1));
  assert_int_equal(us_tcp_recv_queued(t->s, t->c->sock), 0);

  /* Acknowledge for real, then an ACK far below SND.UNA - MAX.SND.WND. */
  th_inject(t, now + MS(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1001));
  th_drain(t);
  now += MS(20);
  th_inject(t, now, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1001u - 70000u, .len = 10));
  th_expect(t, now, TSEG(.flags = TH_ACK, .seq = 1001, .ack = 1));
  assert_int_equal(us_tcp_recv_queued(t->s, t->c->sock), 0);
  assert_true(th_info(t, &in));
  assert_int_equal(in.snd_una, in0.snd_una + 1000);
  th_assert_state(t, US_TCP_ESTABLISHED);
  finish(t);
}

/* ---- SEQ-4: challenge ACKs capped per connection ------------------------------------------------- */

static void test_SEQ_4_challenge_ack_limit(void **st) {
  (void)st;
  struct th *t = th_new(NULL);
  th_use(t, 0);
  us_time_t now = th_fx_established(t, 0) + MS(10);
  th_use(t, 1);
  now = th_fx_established(t, now) + MS(10);
  th_use(t, 0);
  th_inject(t, now, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 100));
  th_recv_expect(t, now, 100);
  th_drain(t);
  struct h_snap sn;
  h_snap_take(t->s, &sn);
  /* 100 in-window RSTs and SYNs on A within one second. */
  for (int i = 0; i < 100; i++) {
    us_time_t at = now + MS(i * 9);
    if (i & 1)
      th_inject(t, at, TSEG(.flags = TH_RST, .seq = 1000u + (uint32_t)i));
    else
      th_inject(t, at, TSEG(.flags = TH_SYN, .seq = 1000u + (uint32_t)i));
  }
  uint64_t chal = h_snap_delta(t->s, &sn, US_STAT_tcp_challenge_ack);
  uint32_t cap = t->cfg.tcp_challenge_ack_per_sec;
  if (chal > cap + 1)
    fail_msg("%llu challenge ACKs in 1 s on one connection (cap %u)", (unsigned long long)chal,
             cap);
  assert_true(chal >= 1);
  assert_true(h_snap_delta(t->s, &sn, US_STAT_tcp_challenge_ack_limited) >= 100 - chal - 1);
  th_assert_state(t, US_TCP_ESTABLISHED);
  size_t sent = th_queued(t);
  assert_true(sent <= cap + 1);
  th_drain(t);
  /* A's retransmitted (duplicate) data is still ACKed: not a challenge. */
  us_time_t at = now + MS(950);
  th_inject(t, at, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 100));
  th_expect(t, at, TSEG(.flags = TH_ACK, .seq = 1, .ack = 101));
  /* B is unaffected: its own challenge ACK goes out in the same second. */
  th_use(t, 1);
  th_inject(t, at, TSEG(.flags = TH_RST, .seq = 500));
  th_expect(t, at, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  th_assert_state(t, US_TCP_ESTABLISHED);
  finish(t);
}

/* ---- SEQ-5: out-of-window data, straddling, duplicates, zero window ----------------------------- */

static void tweak_small_rcvbuf(struct us_config *c) {
  c->tcp_rcvbuf = 4096;
  c->tcp_ooo_bytes_max = 4096;
}

static void test_SEQ_5_window_edges(void **st) {
  (void)st;
  struct us_config cfg;
  th_config(&cfg);
  tweak_small_rcvbuf(&cfg);
  struct th *t = th_new(&cfg);
  us_time_t now = th_fx_established(t, 0) + MS(10);
  struct us_tcp_info in;
  assert_true(th_info(t, &in));
  uint32_t wnd = in.rcv_wnd;
  assert_true(wnd >= 1000 && wnd <= 4096);
  /* Entirely beyond the window: ACK(RCV.NXT), drop. */
  th_inject(t, now, TSEG(.flags = TH_ACK, .seq = 1 + wnd + 10, .ack = 1, .len = 100));
  th_expect(t, now, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  assert_int_equal(us_tcp_recv_queued(t->s, t->c->sock), 0);
  /* Straddling the right edge: only the in-window part is taken. */
  th_inject(t, now, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 1000));
  th_inject(t, now, TSEG(.flags = TH_ACK, .seq = 1001, .ack = 1, .len = wnd)); /* ends wnd+1000 */
  th_drain(t);
  assert_int_equal(us_tcp_recv_queued(t->s, t->c->sock), wnd);
  /* An old duplicate: ACK. */
  th_inject(t, now + MS(1), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 100));
  th_expect(t, now + MS(1), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1 + wnd, ACK_ANY));
  assert_int_equal(th_last(t)->ack - t->c->p_isn, 1 + wnd);
  /* Zero window now: data at RCV.NXT gets an ACK and is not taken, but
   * the ACK field is still used (MUST-66). */
  now += MS(10);
  assert_int_equal(th_send(t, now, 100), 100);
  th_expect(t, now, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1 + wnd, .len = 100));
  th_inject(t, now + MS(5), TSEG(.flags = TH_ACK, .seq = 1 + wnd, .ack = 101, .len = 50));
  th_expect(t, now + MS(5), TSEG(.flags = TH_ACK, .seq = 101, .ack = 1 + wnd, .wnd_zero = true));
  assert_int_equal(us_tcp_recv_queued(t->s, t->c->sock), wnd);
  assert_true(th_info(t, &in));
  assert_int_equal(in.snd_una, in.snd_nxt); /* the ACK was processed */
  /* Everything read is exactly P's stream. */
  th_recv_expect(t, now + MS(10), wnd);
  finish(t);
}

/* ---- SEQ-6: peer ISNs near the wrap; a transfer across 2^32 ---------------------------------------- */

static void test_SEQ_6_wraparound(void **st) {
  (void)st;
  static const uint32_t isns[] = { 0xffffffffu, 0xfffffff0u, 0x7fffffffu, 0xffff0000u };
  for (size_t i = 0; i < 4; i++) {
    struct th *t = th_new(NULL);
    t->c->p_isn = isns[i];
    us_time_t now = th_fx_established(t, 0) + MS(10);
    /* 64 KiB from P, 1460 at a time, read as it comes (the window stays
     * open); crosses 2^32 for all but 0x7fffffff. */
    uint32_t seq = 1;
    while (seq < 65536 + 1) {
      uint32_t n = 65537 - seq < 1460 ? 65537 - seq : 1460;
      th_inject(t, now, TSEG(.flags = TH_ACK, .seq = seq, .ack = 1, .len = n));
      seq += n;
      th_recv_expect(t, now, n);
      now += MS(1);
    }
    th_drain(t);
    /* And S's side: send and have it ACKed. */
    assert_int_equal(th_send(t, now, 5000), 5000);
    th_drain(t);
    th_inject(t, now + MS(10), TSEG(.flags = TH_ACK, .seq = seq, .ack = 5001));
    struct us_tcp_info in;
    assert_true(th_info(t, &in));
    assert_int_equal(in.rcv_nxt, isns[i] + seq);
    assert_int_equal(in.snd_una, in.snd_nxt);
    th_assert_state(t, US_TCP_ESTABLISHED);
    finish(t);
  }

  /* S's ISS forced just below the wrap: 20000 bytes from S cross 2^32;
   * every byte checked against S's oracle, every ACK taken. */
  static const uint32_t iss_near[] = { 0xfffffe00u, 0xffffffffu, 0x7ffffff0u };
  for (size_t i = 0; i < 3; i++) {
    struct th *t = th_new(NULL);
    us_tcp_test_force_iss(t->s, true, iss_near[i]);
    us_time_t now = th_fx_established(t, 0) + MS(10);
    assert_int_equal(t->c->s_isn, iss_near[i]);
    assert_int_equal(th_send(t, now, 20000), 20000);
    uint32_t acked = 1;
    for (int k = 0; k < 200 && acked < 20001; k++) {
      if (!th_run_until_packet(t, now + US_SEC(10)))
        break;
      struct th_pkt p;
      while (th_pop(t, &p)) {
        assert_true(p.ok);
        uint32_t rel = th_rel_seq(t, &p);
        for (uint32_t j = 0; j < p.plen; j++)
          assert_int_equal(p.payload[j], th_pat(t->c->s_salt, (uint64_t)(rel - 1 + j)));
        if (rel <= acked && rel + p.plen > acked)
          acked = rel + p.plen;
        now = p.at;
      }
      th_inject(t, now, TSEG(.flags = TH_ACK, .seq = 1, .ack = acked));
    }
    assert_int_equal(acked, 20001);
    struct us_tcp_info in;
    assert_true(th_info(t, &in));
    assert_int_equal(in.snd_una, iss_near[i] + 20001u);
    assert_int_equal(in.snd_una, in.snd_nxt);
    assert_int_equal(us_tcp_send_queued(t->s, t->c->sock), 0);
    finish(t);
  }
}

/* ---- HS-1: SYN-RECEIVED ------------------------------------------------------------------------ */

static void test_HS_1_syn_received(void **st) {
  (void)st;
  struct th *t = th_new(NULL);
  th_fx_syn_received(t, 0);
  struct h_snap sn;
  h_snap_take(t->s, &sn);
  /* ACK one too low and one too high: <SEQ=SEG.ACK><CTL=RST>, stay. */
  th_inject(t, MS(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 0));
  th_expect(t, MS(10), TSEG(.flags = TH_RST, .seq = 0));
  th_assert_state(t, US_TCP_SYN_RECEIVED);
  th_inject(t, MS(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 2));
  th_expect(t, MS(10), TSEG(.flags = TH_RST, .seq = 2));
  th_assert_state(t, US_TCP_SYN_RECEIVED);
  /* No ACK flag: dropped. */
  th_inject(t, MS(20), TSEG(.flags = TH_PSH, .seq = 1, .len = 10));
  th_expect_nothing_until(t, MS(30));
  th_assert_state(t, US_TCP_SYN_RECEIVED);
  /* The SYN again: the SYN-ACK again (same ISS). */
  th_inject(t, MS(30), TSEG(.flags = TH_SYN, .seq = 0, MSS(1460)));
  th_expect(t, MS(30), TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1));
  /* RST (exact): back to LISTEN, quietly (MUST-11). */
  th_inject(t, MS(40), TSEG(.flags = TH_RST, .seq = 1));
  th_expect_nothing_until(t, MS(50));
  assert_int_equal(th_state(t), -1);
  assert_int_equal(th_tcb_count(t), 1);
  /* The listener still works for the same peer. */
  t->c->s_isn_known = false;
  th_inject(t, MS(60), TSEG(.flags = TH_SYN, .seq = 0, MSS(1460)));
  th_expect(t, MS(60), TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1));
  th_inject(t, MS(70), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  th_assert_state(t, US_TCP_ESTABLISHED);
  th_accept(t);
  finish(t);

  /* SYN-RECEIVED reached from SYN-SENT (simultaneous open): a RST means
   * "connection refused" to the application (MUST-11). */
  t = th_new(NULL);
  th_connect(t, 0);
  th_expect(t, 0, TSEG(.flags = TH_SYN, .seq = 0));
  th_inject(t, MS(10), TSEG(.flags = TH_SYN, .seq = 0));
  th_expect(t, MS(10), TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1));
  th_assert_state(t, US_TCP_SYN_RECEIVED);
  th_inject(t, MS(20), TSEG(.flags = TH_RST, .seq = 1));
  th_expect_nothing_until(t, MS(30));
  assert_int_equal(th_state(t), -1);
  assert_int_equal(us_sock_error(t->s, t->c->sock), US_ERR_CONNREFUSED);
  finish(t);
}

/* ---- HS-2: SYN-SENT ---------------------------------------------------------------------------- */

static void test_HS_2_syn_sent(void **st) {
  (void)st;
  struct th *t = th_new(NULL);
  th_connect(t, 0);
  th_expect(t, 0, TSEG(.flags = TH_SYN, .seq = 0));
  /* SYN-ACK with a wrong ACK: <SEQ=SEG.ACK><CTL=RST>, stay. */
  th_inject(t, MS(10), TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 0));
  th_expect(t, MS(10), TSEG(.flags = TH_RST, .seq = 0));
  th_inject(t, MS(10), TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 5));
  th_expect(t, MS(10), TSEG(.flags = TH_RST, .seq = 5));
  th_assert_state(t, US_TCP_SYN_SENT);
  /* RST without ACK, RST with a wrong ACK: ignored. */
  th_inject(t, MS(20), TSEG(.flags = TH_RST, .seq = 0));
  th_inject(t, MS(20), TSEG(.flags = TH_RST | TH_ACK, .seq = 0, .ack = 7));
  th_expect_nothing_until(t, MS(30));
  th_assert_state(t, US_TCP_SYN_SENT);
  assert_int_equal(us_sock_error(t->s, t->c->sock), 0);
  /* A plain acceptable ACK, and data without SYN: dropped. */
  th_inject(t, MS(30), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  th_inject(t, MS(30), TSEG(.flags = TH_PSH, .seq = 1, .len = 10));
  th_expect_nothing_until(t, MS(40));
  th_assert_state(t, US_TCP_SYN_SENT);
  /* Only now the right SYN-ACK. */
  th_inject(t, MS(50), TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1, MSS(1460)));
  th_expect(t, MS(50), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  th_assert_state(t, US_TCP_ESTABLISHED);
  finish(t);

  /* An acceptable RST: refused. */
  t = th_new(NULL);
  th_connect(t, 0);
  th_expect(t, 0, TSEG(.flags = TH_SYN, .seq = 0));
  th_inject(t, MS(10), TSEG(.flags = TH_RST | TH_ACK, .seq = 0, .ack = 1));
  th_expect_nothing_until(t, MS(20));
  assert_int_equal(th_state(t), -1);
  assert_int_equal(us_sock_error(t->s, t->c->sock), US_ERR_CONNREFUSED);
  finish(t);
}

/* ---- HS-3: simultaneous open; connect to self -------------------------------------------------- */

static void test_HS_3_simultaneous_open(void **st) {
  (void)st;
  struct th *t = th_new(NULL);
  th_connect(t, 0);
  th_expect(t, 0, TSEG(.flags = TH_SYN, .seq = 0));
  /* P's SYN crosses ours. */
  th_inject(t, MS(10), TSEG(.flags = TH_SYN, .seq = 0, MSS(1460)));
  th_expect(t, MS(10), TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1));
  th_assert_state(t, US_TCP_SYN_RECEIVED);
  /* P's SYN-ACK (its answer to our SYN). */
  th_inject(t, MS(20), TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1));
  th_assert_state(t, US_TCP_ESTABLISHED);
  assert_true(us_sock_events(t->s, t->c->sock) & US_EV_CONNECTED);
  /* Data works. */
  th_drain(t);
  th_inject(t, MS(30), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 7));
  th_recv_expect(t, MS(30), 7);
  finish(t);

  /* Connect to ourselves, same port: must end (refused, timed out or
   * connected) without a packet storm. Whatever S emits to itself is fed
   * back, as a loopback would. */
  t = th_new(NULL);
  us_sock_t k;
  assert_int_equal(us_tcp_socket(t->s, &k), 0);
  th_track(t, k);
  assert_int_equal(us_tcp_bind(t->s, k, 6000), 0);
  int r = us_tcp_connect(t->s, k, us_endpoint(us_addr_v4(TH_S_ADDR), 6000), 0);
  if (r == US_ERR_INPROGRESS || r == 0) {
    size_t pkts = 0;
    us_time_t now = 0;
    for (int i = 0; i < 10000; i++) {
      struct th_pkt p;
      while (th_pop(t, &p)) {
        pkts++;
        us_stack_input(t->s, p.buf, p.len, now);
      }
      uint32_t ev = us_sock_events(t->s, k);
      if (ev & (US_EV_CONNECTED | US_EV_CLOSED | US_EV_ERROR))
        break;
      us_time_t d = us_stack_poll(t->s, now);
      if (d == US_TIME_NEVER)
        break;
      assert_true(d > now || pkts < 1000);
      now = d > now ? d : now;
      th_advance(t, now);
    }
    assert_true(pkts < 100);
    uint32_t ev = us_sock_events(t->s, k);
    assert_true(ev & (US_EV_CONNECTED | US_EV_CLOSED | US_EV_ERROR));
  }
  finish(t);
}

/* ---- HS-4: RST/ACK to a listener, SYN with data, SYN to a closed port --------------------------- */

static void test_HS_4_listener_and_closed(void **st) {
  (void)st;
  struct th *t = th_new(NULL);
  th_fx_listen(t, 0);
  struct h_snap sn;
  h_snap_take(t->s, &sn);
  th_inject(t, 0, TSEG(.flags = TH_RST | TH_ACK, .seq = 0, .ack_abs = true, .ack = 99));
  th_expect_nothing_until(t, MS(10));
  th_inject(t, MS(10), TSEG(.flags = TH_ACK, .seq = 0, .ack_abs = true, .ack = 4242));
  th_expect(t, MS(10), TSEG(.flags = TH_RST, .seq_abs = true, .seq = 4242));
  assert_int_equal(th_tcb_count(t), 1);
  /* A SYN with 100 bytes: the SYN-ACK acknowledges the SYN only; the data
   * is not delivered before the handshake (and not at all unless sent
   * again). */
  th_inject(t, MS(20), TSEG(.flags = TH_SYN, .seq = 0, .len = 100, MSS(1460)));
  th_expect(t, MS(20), TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1));
  th_inject(t, MS(30), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  th_accept(t);
  assert_int_equal(us_tcp_recv_queued(t->s, t->c->sock), 0);
  th_inject(t, MS(40), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 100));
  th_recv_expect(t, MS(40), 100);
  /* A SYN to a closed port: <SEQ=0><ACK=SEG.SEQ+1><CTL=RST,ACK>. */
  th_use(t, 2);
  t->c->s_port = 81;
  h_snap_take(t->s, &sn);
  th_inject(t, MS(50), TSEG(.flags = TH_SYN, .seq = 0, .dport = 81, .sport = 40002));
  th_expect(t, MS(50), TSEG(.flags = TH_RST | TH_ACK, .seq_abs = true, .seq = 0, .ack = 1));
  ASSERT_DELTA(t, &sn, tcp_no_socket, 1);
  /* ... with 10 bytes of data: ACK = SEG.SEQ + 1 + 10. */
  th_inject(t, MS(60), TSEG(.flags = TH_SYN, .seq = 0, .len = 10, .dport = 81, .sport = 40002));
  th_expect(t, MS(60), TSEG(.flags = TH_RST | TH_ACK, .seq_abs = true, .seq = 0, .ack = 11));
  th_use(t, 0);
  finish(t);
}

/* ---- TS-1: PAWS ------------------------------------------------------------------------------------ */

static void ts_opts(uint8_t *o, uint32_t tsval, uint32_t tsecr) {
  o[0] = 1;
  o[1] = 1;
  o[2] = 8;
  o[3] = 10;
  h_wr32(o + 4, tsval);
  h_wr32(o + 8, tsecr);
}

static void test_TS_1_paws(void **st) {
  (void)st;
  struct th *t = th_new(NULL);
  uint8_t o[12];
  th_fx_listen(t, 0);
  ts_opts(o, 1000, 0);
  th_inject(t, 0, TSEG(.flags = TH_SYN, .seq = 0, MSS(1460), OPTS(o, 12)));
  th_expect(t, 0, TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1));
  assert_true(th_last(t)->has_ts);
  ts_opts(o, 1001, 0);
  th_inject(t, MS(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, OPTS(o, 12)));
  th_accept(t);
  th_assert_state(t, US_TCP_ESTABLISHED);
  ts_opts(o, 2000, 0);
  th_inject(t, MS(20), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 10, OPTS(o, 12)));
  th_recv_expect(t, MS(20), 10);
  th_drain(t);
  struct h_snap sn;
  h_snap_take(t->s, &sn);
  /* TSval = last - 100, new data. */
  ts_opts(o, 1900, 0);
  th_inject(t, MS(30), TSEG(.flags = TH_ACK, .seq = 11, .ack = 1, .len = 10, OPTS(o, 12)));
  /* RFC 7323 5.3: drop, ACK with the current ACK number and TS.Recent
   * (2000) as TSecr, survive. */
  th_expect(t, MS(30), TSEG(.flags = TH_ACK, .seq = 1, .ack = 11));
  assert_true(th_last(t)->has_ts);
  assert_int_equal(th_last(t)->tsecr, 2000);
  ASSERT_DELTA(t, &sn, tcp_paws_dropped, 1);
  assert_int_equal(us_tcp_recv_queued(t->s, t->c->sock), 0);
  th_assert_state(t, US_TCP_ESTABLISHED);
  finish(t);
}

/* ---- CL-1: TIME-WAIT ------------------------------------------------------------------------------ */

static void test_CL_1_time_wait(void **st) {
  (void)st;
  struct th *t = th_new(NULL);
  us_time_t now = th_fx_time_wait(t, 0) + MS(10);
  struct h_snap sn;
  h_snap_take(t->s, &sn);
  /* RST: RFC 1337 by default (tcp_time_wait_rst_closes = false): ignored. */
  uint32_t p = t->c->p_nxt; /* RCV.NXT, after P's FIN */
  th_inject(t, now, TSEG(.flags = TH_RST, .seq = p));
  th_expect_nothing_until(t, now + MS(10));
  th_assert_state(t, US_TCP_TIME_WAIT);
  ASSERT_DELTA(t, &sn, tcp_time_wait_rst, 1);
  /* A retransmitted FIN: ACK it and restart 2*MSL. */
  now += MS(500);
  th_inject(t, now, TSEG(.flags = TH_FIN | TH_ACK, .seq = p - 1, .ack = 2));
  th_expect(t, now, TSEG(.flags = TH_ACK, .seq = 2, .ack = p));
  struct us_tcp_info in;
  assert_true(th_info(t, &in));
  assert_int_equal(in.timer_at, now + 2 * t->cfg.tcp_msl);
  th_assert_state(t, US_TCP_TIME_WAIT);
  /* A new SYN with a lower sequence number: not a reopening. */
  th_inject(t, now + MS(1), TSEG(.flags = TH_SYN, .seq = p - 1000));
  th_assert_state(t, US_TCP_TIME_WAIT);
  th_drain(t);
  /* A new SYN with a higher one: the 4-tuple may be reused. */
  h_snap_take(t->s, &sn);
  t->c->s_isn_known = false;
  uint32_t old_isn = t->c->p_isn;
  t->c->p_isn = old_isn + p + 100000;
  th_inject(t, now + MS(2), TSEG(.flags = TH_SYN, .seq = 0, MSS(1460)));
  th_expect(t, now + MS(2), TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1));
  ASSERT_DELTA(t, &sn, tcp_time_wait_recycled, 1);
  th_assert_state(t, US_TCP_SYN_RECEIVED);
  finish(t);

  /* With the RFC 9293 choice, a RST closes TIME-WAIT. */
  struct us_config cfg;
  th_config(&cfg);
  cfg.tcp_time_wait_rst_closes = true;
  t = th_new(&cfg);
  now = th_fx_time_wait(t, 0) + MS(10);
  th_inject(t, now, TSEG(.flags = TH_RST, .seq = t->c->p_nxt));
  th_expect_nothing_until(t, now + MS(10));
  assert_int_equal(th_state(t), -1);
  finish(t);
}

/* ---- CL-2: FIN edge cases --------------------------------------------------------------------------- */

static void test_CL_2_fin_cases(void **st) {
  (void)st;
  /* FIN with data; FIN beyond a hole. */
  struct th *t = th_new(NULL);
  us_time_t now = th_fx_established(t, 0) + MS(10);
  th_inject(t, now, TSEG(.flags = TH_ACK | TH_FIN, .seq = 101, .ack = 1, .len = 100));
  assert_true(th_state(t) == US_TCP_ESTABLISHED); /* FIN held behind the hole */
  th_inject(t, now, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 100));
  th_assert_state(t, US_TCP_CLOSE_WAIT);
  th_recv_expect(t, now, 200);
  assert_int_equal(th_recv(t, now, 10), 0); /* EOF, once all bytes are read */
  assert_int_equal(th_recv(t, now, 10), 0);
  /* A duplicate FIN in CLOSE-WAIT: ACKed, consumed once. */
  th_drain(t);
  th_inject(t, now + MS(10), TSEG(.flags = TH_ACK | TH_FIN, .seq = 101, .ack = 1, .len = 100));
  th_expect(t, now + MS(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 202));
  th_assert_state(t, US_TCP_CLOSE_WAIT);
  assert_int_equal(us_tcp_recv_queued(t->s, t->c->sock), 0);
  /* Data after the FIN is never data: no extra bytes after EOF. */
  th_inject(t, now + MS(15), TSEG(.flags = TH_ACK, .seq = 202, .ack = 1, .len = 50));
  assert_int_equal(us_tcp_recv_queued(t->s, t->c->sock), 0);
  assert_int_equal(th_recv(t, now + MS(15), 10), 0);
  th_assert_state(t, US_TCP_CLOSE_WAIT);
  th_advance(t, now + MS(16));
  th_drain(t);
  /* ... and in LAST-ACK. */
  th_advance(t, now + MS(20));
  assert_int_equal(us_tcp_close(t->s, t->c->sock, now + MS(20)), 0);
  t->c->sock = US_SOCK_INVALID;
  th_expect(t, now + MS(20), TSEG(.flags = TH_FIN | TH_ACK, .seq = 1, .ack = 202));
  th_assert_state(t, US_TCP_LAST_ACK);
  th_inject(t, now + MS(30), TSEG(.flags = TH_ACK | TH_FIN, .seq = 201, .ack = 1));
  th_expect(t, now + MS(30), TSEG(.flags = TH_ACK, .seq = 2, .ack = 202));
  th_assert_state(t, US_TCP_LAST_ACK);
  finish(t);

  /* FIN partly outside the window, and FIN on a zero window. */
  struct us_config cfg;
  th_config(&cfg);
  tweak_small_rcvbuf(&cfg);
  t = th_new(&cfg);
  now = th_fx_established(t, 0) + MS(10);
  struct us_tcp_info in;
  assert_true(th_info(t, &in));
  uint32_t wnd = in.rcv_wnd;
  th_inject(t, now, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = wnd - 100));
  /* 200 bytes + FIN where only 100 fit: the FIN must not be taken. */
  th_inject(t, now, TSEG(.flags = TH_ACK | TH_FIN, .seq = wnd - 99, .ack = 1, .len = 200));
  th_assert_state(t, US_TCP_ESTABLISHED);
  assert_int_equal(us_tcp_recv_queued(t->s, t->c->sock), wnd);
  /* Zero window now. A bare FIN at RCV.NXT+... it is not in order yet. */
  th_drain(t);
  th_recv_expect(t, now + MS(10), wnd);
  /* The rest, then the FIN alone while the window is open again. */
  th_inject(t, now + MS(20), TSEG(.flags = TH_ACK, .seq = 1 + wnd, .ack = 1, .len = 100));
  th_inject(t, now + MS(20), TSEG(.flags = TH_ACK | TH_FIN, .seq = 101 + wnd, .ack = 1));
  th_assert_state(t, US_TCP_CLOSE_WAIT);
  th_recv_expect(t, now + MS(30), 100);
  assert_int_equal(th_recv(t, now + MS(30), 10), 0);
  finish(t);

  /* A FIN exactly at RCV.NXT on a zero window: the FIN takes no buffer. */
  t = th_new(&cfg);
  now = th_fx_established(t, 0) + MS(10);
  assert_true(th_info(t, &in));
  wnd = in.rcv_wnd;
  th_inject(t, now, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = wnd));
  th_drain(t);
  th_inject(t, now + MS(10), TSEG(.flags = TH_ACK | TH_FIN, .seq = 1 + wnd, .ack = 1));
  int s = th_state(t);
  assert_true(s == US_TCP_CLOSE_WAIT || s == US_TCP_ESTABLISHED);
  th_recv_expect(t, now + MS(20), wnd);
  if (s == US_TCP_ESTABLISHED)
    th_inject(t, now + MS(30), TSEG(.flags = TH_ACK | TH_FIN, .seq = 1 + wnd, .ack = 1));
  th_assert_state(t, US_TCP_CLOSE_WAIT);
  assert_int_equal(th_recv(t, now + MS(30), 10), 0);
  finish(t);
}

/* ---- CL-3: close with unread data, without, duplicate ACK in LAST-ACK ------------------------- */

static void test_CL_3_close_cases(void **st) {
  (void)st;
  struct th *t = th_new(NULL);
  us_time_t now = th_fx_established(t, 0) + MS(10);
  th_inject(t, now, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 50));
  th_drain(t);
  struct h_snap sn;
  h_snap_take(t->s, &sn);
  th_advance(t, now + MS(10));
  assert_int_equal(us_tcp_close(t->s, t->c->sock, now + MS(10)), 0);
  t->c->sock = US_SOCK_INVALID;
  th_expect(t, now + MS(10), TSEG(.flags = TH_RST | TH_ACK, .seq = 1, .ack = 51, .ack_opt = true));
  ASSERT_DELTA(t, &sn, tcp_abort_on_close, 1);
  assert_int_equal(th_state(t), -1);
  finish(t);

  t = th_new(NULL);
  now = th_fx_last_ack(t, 0) + MS(10);
  /* A duplicate (old) ACK in LAST-ACK: no state change. */
  th_inject(t, now, TSEG(.flags = TH_ACK, .seq = t->c->p_nxt, .ack = 1));
  th_assert_state(t, US_TCP_LAST_ACK);
  th_drain(t);
  /* The real ACK of our FIN closes it. */
  th_inject(t, now + MS(10), TSEG(.flags = TH_ACK, .seq = t->c->p_nxt, .ack = 2));
  assert_int_equal(th_state(t), -1);
  finish(t);
}

/* ---- WIN-1: a zero window held for minutes ---------------------------------------------------------- */

static void test_WIN_1_zero_window_forever(void **st) {
  (void)st;
  struct th *t = th_new(NULL);
  us_time_t now = th_fx_established(t, 0) + MS(10);
  th_inject(t, now, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, WND(0)));
  assert_int_equal(th_send(t, now, 1000), 1000);
  struct h_snap sn;
  h_snap_take(t->s, &sn);
  /* P answers every probe with a zero window, for 10 minutes. */
  us_time_t last = now, prev_gap = 0;
  int probes = 0;
  us_time_t end = now + US_SEC(600);
  while (th_run_until_packet(t, end)) {
    struct th_pkt p;
    while (th_pop(t, &p)) {
      assert_true(p.ok);
      assert_true(p.plen <= 1);
      us_time_t gap = p.at - last;
      /* Exponential backoff: never faster than the previous gap. */
      assert_true(gap + MS(1) >= prev_gap);
      prev_gap = gap;
      last = p.at;
      probes++;
      th_inject(t, p.at, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, WND(0)));
      th_drain(t);
    }
    assert_true(probes < 200);
  }
  assert_true(probes >= 3);
  assert_true(probes <= 40);
  assert_true(h_snap_delta(t->s, &sn, US_STAT_tcp_zero_window_probes) >= (uint64_t)probes - 1);
  /* MUST-37: the connection is still there. */
  th_assert_state(t, US_TCP_ESTABLISHED);
  /* The window opens: the data goes and is acknowledged. */
  th_advance(t, end);
  th_inject(t, end, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, WND(65535)));
  struct th_pkt p;
  uint32_t got = 0;
  for (int i = 0; i < 10 && got < 1000 && th_run_until_packet(t, end + US_SEC(5)); i++)
    while (th_pop(t, &p))
      got = th_rel_seq(t, &p) + p.plen - 1;
  assert_true(got >= 1000);
  th_inject(t, end + US_SEC(5), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1001));
  assert_int_equal(us_tcp_send_queued(t->s, t->c->sock), 0);
  finish(t);

  /* The resources are bounded anyway: (a) a user timeout ends it with
   * TIMEDOUT even though P answers every probe; (b) once the application
   * has closed (an orphan), the probes are bounded too. */
  for (int orphan = 0; orphan < 2; orphan++) {
    t = th_new(NULL);
    now = th_fx_established(t, 0) + MS(10);
    if (!orphan)
      assert_int_equal(us_tcp_setopt(t->s, t->c->sock, US_TCP_USER_TIMEOUT, 60000), 0);
    th_inject(t, now, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, WND(0)));
    assert_int_equal(th_send(t, now, 1000), 1000);
    us_sock_t k = t->c->sock;
    if (orphan) {
      th_advance(t, now + MS(1));
      assert_int_equal(us_tcp_close(t->s, k, now + MS(1)), 0);
      t->c->sock = US_SOCK_INVALID;
    }
    end = now + US_SEC(4 * 3600);
    int n = 0;
    while (th_state(t) == US_TCP_ESTABLISHED || th_state(t) == US_TCP_FIN_WAIT_1) {
      us_time_t d = th_deadline(t);
      if (d == US_TIME_NEVER || d > end)
        break;
      th_advance_to_deadline(t);
      struct th_pkt q;
      while (th_pop(t, &q)) {
        n++;
        if (!(q.flags & TH_RST))
          th_inject(t, q.at, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, WND(0)));
        th_drain(t);
      }
      assert_true(n < 500);
    }
    if (th_state(t) != -1)
      fail_msg("%s: zero window held the connection for 4 hours (%d probes)",
               orphan ? "orphan" : "user timeout", n);
    if (!orphan) {
      assert_int_equal(us_sock_error(t->s, k), US_ERR_TIMEDOUT);
      if (t->now > now + US_SEC(60) + t->cfg.tcp_rto_max + US_SEC(1))
        fail_msg("user timeout 60 s: aborted only after %.1f s", (double)(t->now - now) / 1e6);
    }
    finish(t);
  }
}

/* ---- WIN-2: the peer shrinks its window with data in flight -------------------------------------- */

static void test_WIN_2_window_shrink(void **st) {
  (void)st;
  struct th *t = th_new(NULL);
  us_time_t now = th_fx_established(t, 0) + MS(10);
  th_inject(t, now, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, WND(10000)));
  assert_int_equal(th_send(t, now, 20000), 20000);
  /* Collect the first flight: at most 10000 bytes. */
  uint32_t max_end = 1;
  struct th_pkt p;
  th_advance(t, now + MS(1));
  while (th_pop(t, &p))
    if (th_rel_seq(t, &p) + p.plen > max_end)
      max_end = th_rel_seq(t, &p) + p.plen;
  assert_true(max_end - 1 <= 10000);
  assert_true(max_end > 2001);
  /* ACK 2000 bytes and shrink: right edge 3001 < max_end. */
  now += MS(20);
  th_inject(t, now, TSEG(.flags = TH_ACK, .seq = 1, .ack = 2001, WND(1000)));
  struct us_tcp_info in;
  assert_true(th_info(t, &in));
  assert_int_equal(in.snd_wnd, 1000);
  /* Nothing new beyond the old maximum, no giant segment (no underflow);
   * retransmissions of old data within [2001, max_end) are fine. */
  us_time_t until = now + US_SEC(5);
  while (th_run_until_packet(t, until)) {
    while (th_pop(t, &p)) {
      assert_true(p.ok);
      uint32_t s = th_rel_seq(t, &p);
      assert_true(p.plen <= 1460);
      assert_true(s + p.plen <= max_end || p.plen <= 1);
      assert_true(s >= 2001 || p.plen == 0);
    }
    if (t->now >= until)
      break;
  }
  assert_true(th_info(t, &in));
  assert_true(in.snd_nxt - in.snd_una <= 20000);
  th_assert_state(t, US_TCP_ESTABLISHED);
  /* Open up: everything arrives in the end. */
  us_time_t at = t->now;
  uint32_t acked = 2001;
  for (int i = 0; i < 400 && acked < 20001; i++) {
    th_inject(t, at, TSEG(.flags = TH_ACK, .seq = 1, .ack = acked, WND(65535)));
    if (!th_run_until_packet(t, at + US_SEC(130)))
      break;
    while (th_pop(t, &p)) {
      uint32_t e = th_rel_seq(t, &p) + p.plen;
      if (th_rel_seq(t, &p) <= acked && e > acked)
        acked = e;
      at = p.at;
    }
  }
  assert_int_equal(acked, 20001);
  th_inject(t, at, TSEG(.flags = TH_ACK, .seq = 1, .ack = acked));
  assert_int_equal(us_tcp_send_queued(t->s, t->c->sock), 0);
  finish(t);
}

/* ---- IP-6 (TCP half): padding after the segment is never data ------------------------------------ */

static void test_IP_6_tcp_padding(void **st) {
  (void)st;
  struct th *t = th_new(NULL);
  us_time_t now = th_fx_established(t, 0) + MS(10);
  raw_inject(t, now,
             &(struct raw){ .flags = TH_ACK | TH_PSH, .seq = 1, .ack = 1, .len = 6, .pad = 40 });
  assert_int_equal(us_tcp_recv_queued(t->s, t->c->sock), 6);
  th_recv_expect(t, now, 6);
  /* A pure ACK with padding carries no data either. */
  raw_inject(t, now + MS(1), &(struct raw){ .flags = TH_ACK, .seq = 7, .ack = 1, .pad = 6 });
  assert_int_equal(us_tcp_recv_queued(t->s, t->c->sock), 0);
  finish(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_TH_1_bad_checksum),
    cmocka_unit_test(test_TH_2_bad_data_offset),
    cmocka_unit_test(test_OPT_1_option_len_0_1),
    cmocka_unit_test(test_OPT_2_option_past_end),
    cmocka_unit_test(test_OPT_3_mss_values),
    cmocka_unit_test(test_OPT_4_window_scale),
    cmocka_unit_test(test_OPT_5_bogus_sack),
    cmocka_unit_test(test_OPT_6_timestamps),
    cmocka_unit_test(test_OPT_7_unaligned_duplicate),
    cmocka_unit_test(test_FL_1_flag_soup),
    cmocka_unit_test(test_URG_1_urgent_pointer),
    cmocka_unit_test(test_SEQ_1_rst_checks),
    cmocka_unit_test(test_SEQ_2_syn_in_established),
    cmocka_unit_test(test_SEQ_3_bad_acks),
    cmocka_unit_test(test_SEQ_4_challenge_ack_limit),
    cmocka_unit_test(test_SEQ_5_window_edges),
    cmocka_unit_test(test_SEQ_6_wraparound),
    cmocka_unit_test(test_HS_1_syn_received),
    cmocka_unit_test(test_HS_2_syn_sent),
    cmocka_unit_test(test_HS_3_simultaneous_open),
    cmocka_unit_test(test_HS_4_listener_and_closed),
    cmocka_unit_test(test_TS_1_paws),
    cmocka_unit_test(test_CL_1_time_wait),
    cmocka_unit_test(test_CL_2_fin_cases),
    cmocka_unit_test(test_CL_3_close_cases),
    cmocka_unit_test(test_WIN_1_zero_window_forever),
    cmocka_unit_test(test_WIN_2_window_shrink),
    cmocka_unit_test(test_IP_6_tcp_padding),
  };
  return H_RUN("hostile_tcp", tests);
}
