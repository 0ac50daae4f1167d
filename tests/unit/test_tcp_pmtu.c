/*
 * test_tcp_pmtu.c - path MTU discovery (RFC 1191) on the virtual clock:
 * DF on every TCP segment, ICMP "fragmentation needed" built from the very
 * segment S sent (as a router quotes it) shrinking the segments in flight,
 * a forged error quoting a sequence number outside SND.UNA..SND.NXT
 * ignored and counted (RFC 5927 4), a tiny MTU clamped to the floor with
 * DF turned off, a router without a next-hop MTU (the RFC 1191 plateau),
 * and an MTU not below the estimate ignored; and UDP without DF.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"
#include "tcp_harness.h"

#define MS(x)  US_MSEC(x)
#define ROUTER US_IP4(10, 0, 0, 254)

/* A router's ICMP type 3 code 4 about the datagram `p` S emitted, quoting
 * its IP header and the first 8 bytes of TCP (RFC 792), with next-hop MTU
 * `mtu` (RFC 1191 4). `seq_override` (if non-zero) replaces the quoted
 * sequence number, as a forger would. */
static void frag_needed(struct th *h, const struct th_pkt *p, uint16_t mtu, uint32_t seq_override) {
  uint8_t q[28], m[64], b[128];
  memcpy(q, p->buf, 28);
  if (seq_override)
    h_wr32(q + 24, seq_override);
  size_t ml = h_icmp_build(m, 3, 4, mtu, q, sizeof q);
  struct h_ip ih = { .src = ROUTER, .dst = TH_S_ADDR, .proto = 1, .id = 0x77 };
  size_t n = h_ip_build(b, &ih, m, ml);
  us_stack_input(h->s, b, n, h->now);
  us_stack_poll(h->s, h->now);
}

/* A connection with 4000 bytes in flight as 1460, 1460, 1080; the copy of
 * the first segment is kept in *first (its buffer in `buf`). */
static us_time_t in_flight(struct th *h, struct th_pkt *first, uint8_t *buf) {
  us_time_t t = th_fx_established(h, 0) + MS(10);
  assert_int_equal(us_tcp_setopt(h->s, h->c->sock, US_TCP_NODELAY, 1), 0);
  assert_int_equal(th_send(h, t, 4000), 4000);
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 1460));
  *first = *th_last(h);
  memcpy(buf, first->buf, first->len);
  first->buf = buf;
  assert_true(first->df);
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1461, .ack = 1, .len = 1460));
  th_expect(h, t, TSEG(.flags = TH_ACK | TH_PSH, .seq = 2921, .ack = 1, .len = 1080));
  return t;
}

/* Every segment S sends has DF, whatever its kind. */
static void test_df_on_tcp(void **state) {
  struct th *h = th_new_state(state, NULL);
  us_time_t t = th_fx_syn_received(h, 0);
  assert_true(th_last(h)->df); /* the SYN-ACK */
  th_inject(h, t + MS(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  th_accept(h);
  th_inject(h, t + MS(20), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 10));
  th_expect_within(h, t + MS(20), t + MS(300), TSEG(.flags = TH_ACK, .seq = 1, .ack = 11));
  assert_true(th_last(h)->df); /* a pure ACK */
  th_recv_expect(h, t + MS(300), 10);
  th_drain(h);
  th_finish(h);
}

static void no_pmtud(struct us_config *c) { c->tcp_pmtud = false; }

static void test_df_off_without_pmtud(void **state) {
  struct th *h = th_new_state(state, no_pmtud);
  th_fx_syn_received(h, 0);
  assert_false(th_last(h)->df);
  th_finish(h);
}

/* MTU 1000: everything in flight goes again at once in 960-byte segments
 * (RFC 1191 6.5), the window and the congestion state untouched. */
static void test_frag_needed_shrinks(void **state) {
  struct th *h = th_new_state(state, NULL);
  struct th_pkt first;
  uint8_t buf[1600];
  us_time_t t = in_flight(h, &first, buf);
  struct us_tcp_info a, b;
  assert_true(th_info(h, &a));
  frag_needed(h, &first, 1000, 0);
  assert_true(th_info(h, &b));
  assert_int_equal(b.pmtu, 1000);
  assert_int_equal(b.mss, 960);
  assert_int_equal(b.cwnd, a.cwnd);
  assert_int_equal(b.ssthresh, a.ssthresh);
  for (uint32_t seq = 1; seq < 4001; seq += 960) {
    uint32_t n = 4001 - seq < 960 ? 4001 - seq : 960;
    th_expect(h, t, TSEG(.flags = TH_ACK, .seq = seq, .ack = 1, .len = n));
    assert_true(th_last(h)->df);
    assert_true(th_last(h)->len <= 1000);
  }
  assert_int_equal(th_stat(h, US_STAT_tcp_pmtu_reduced), 1);
  assert_int_equal(th_stat(h, US_STAT_tcp_pmtu_rexmit), 5);
  assert_int_equal(th_stat(h, US_STAT_icmp_in_frag_needed), 1);
  th_inject(h, t + MS(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 4001));
  /* New data uses the new size. */
  assert_int_equal(th_send(h, t + MS(20), 1000), 1000);
  th_expect(h, t + MS(20), TSEG(.flags = TH_ACK, .seq = 4001, .ack = 1, .len = 960));
  th_expect(h, t + MS(20), TSEG(.flags = TH_ACK | TH_PSH, .seq = 4961, .ack = 1, .len = 40));
  th_inject(h, t + MS(30), TSEG(.flags = TH_ACK, .seq = 1, .ack = 5001));
  th_finish(h);
}

/* With timestamps, TSopt comes out of the new MSS too: 1000 - 40 - 12. */
static void test_frag_needed_with_ts(void **state) {
  struct th *h = th_new_state(state, NULL);
  th_fx_listen(h, 0);
  h->c->s_port = TH_S_PORT;
  th_inject(h, 0, TSEG(.flags = TH_SYN, .seq = 0, MSS(1460), TS(1, 0)));
  th_expect(h, 0, TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1));
  uint32_t v = th_last(h)->tsval;
  th_inject(h, MS(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, TS(2, v)));
  th_accept(h);
  us_time_t t = MS(20);
  assert_int_equal(us_tcp_setopt(h->s, h->c->sock, US_TCP_NODELAY, 1), 0);
  assert_int_equal(th_send(h, t, 2000), 2000);
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 1448));
  struct th_pkt first = *th_last(h);
  uint8_t buf[1600];
  memcpy(buf, first.buf, first.len);
  first.buf = buf;
  th_expect(h, t, TSEG(.flags = TH_ACK | TH_PSH, .seq = 1449, .ack = 1, .len = 552));
  frag_needed(h, &first, 1000, 0);
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 948));
  assert_true(th_last(h)->has_ts);
  assert_int_equal(th_last(h)->len, 1000);
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 949, .ack = 1, .len = 948));
  th_expect(h, t, TSEG(.flags = TH_ACK | TH_PSH, .seq = 1897, .ack = 1, .len = 104));
  th_inject(h, t + MS(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 2001, TS(3, v)));
  th_finish(h);
}

/* RFC 5927 4.1: a quoted sequence number outside SND.UNA..SND.NXT is not
 * about anything in flight: ignored, counted, nothing sent. */
static void test_frag_needed_forged_seq(void **state) {
  struct th *h = th_new_state(state, NULL);
  struct th_pkt first;
  uint8_t buf[1600];
  us_time_t t = in_flight(h, &first, buf);
  uint32_t una = first.seq;
  static const uint32_t off[] = { 4000, 4001, 100000, 0x80000000u };
  for (size_t i = 0; i < 4; i++)
    frag_needed(h, &first, 600, una + off[i]);
  frag_needed(h, &first, 600, una - 1);
  struct us_tcp_info in;
  assert_true(th_info(h, &in));
  assert_int_equal(in.pmtu, 1500);
  assert_int_equal(in.mss, 1460);
  assert_int_equal(th_stat(h, US_STAT_tcp_icmp_ignored), 5);
  assert_int_equal(th_stat(h, US_STAT_tcp_pmtu_reduced), 0);
  th_expect_nothing_until(h, t + MS(100));
  th_inject(h, t + MS(100), TSEG(.flags = TH_ACK, .seq = 1, .ack = 4001));
  th_finish(h);
}

/* A tiny MTU is clamped to the 552-byte floor (RFC 5927 7), and from then
 * on S sends without DF, so a really tiny link may fragment. */
static void test_frag_needed_tiny_clamped(void **state) {
  struct th *h = th_new_state(state, NULL);
  struct th_pkt first;
  uint8_t buf[1600];
  us_time_t t = in_flight(h, &first, buf);
  frag_needed(h, &first, 200, 0);
  struct us_tcp_info in;
  assert_true(th_info(h, &in));
  assert_int_equal(in.pmtu, 552);
  assert_int_equal(in.mss, 512);
  assert_int_equal(th_stat(h, US_STAT_tcp_pmtu_floor), 1);
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 512));
  assert_false(th_last(h)->df);
  th_drain(h);
  /* Below 68 is impossible (RFC 791): ignored. */
  frag_needed(h, &first, 67, 0);
  assert_int_equal(th_stat(h, US_STAT_tcp_pmtu_ignored), 1);
  assert_int_equal(th_queued(h), 0);
  th_inject(h, t + MS(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 4001));
  th_finish(h);
}

/* A router that predates RFC 1191 reports 0: the largest plateau below the
 * quoted 1500-byte datagram is 1492 (RFC 1191 7). */
static void test_frag_needed_plateau(void **state) {
  struct th *h = th_new_state(state, NULL);
  struct th_pkt first;
  uint8_t buf[1600];
  us_time_t t = in_flight(h, &first, buf);
  frag_needed(h, &first, 0, 0);
  struct us_tcp_info in;
  assert_true(th_info(h, &in));
  assert_int_equal(in.pmtu, 1492);
  assert_int_equal(in.mss, 1452);
  assert_int_equal(th_stat(h, US_STAT_icmp_in_frag_needed_plateau), 1);
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 1452));
  th_drain(h);
  /* Not below the estimate: ignored (RFC 1191 6.3: never raised here). */
  frag_needed(h, &first, 1492, 0);
  frag_needed(h, &first, 9000, 0);
  assert_true(th_info(h, &in));
  assert_int_equal(in.pmtu, 1492);
  assert_int_equal(th_stat(h, US_STAT_tcp_pmtu_ignored), 2);
  assert_int_equal(th_queued(h), 0);
  th_inject(h, t + MS(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 4001));
  th_finish(h);
}

static void blackhole_on(struct us_config *c) { c->tcp_pmtu_blackhole = true; }

/* A black hole: full-sized segments vanish and no ICMP comes. With the
 * switch on, the second timeout halves the MSS (1460 -> 730) and the
 * resend uses it; the fourth halves it again, down to the 552 floor with
 * DF off. Off (the default), the segments keep their size. */
static void test_blackhole_detection(void **state) {
  struct th *h = th_new_state(state, blackhole_on);
  struct th_pkt first;
  uint8_t buf[1600];
  in_flight(h, &first, buf);
  th_expect_within(h, 0, US_SEC(5), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 1460));
  th_expect_within(h, 0, US_SEC(5), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 730));
  assert_true(th_last(h)->df);
  assert_int_equal(th_stat(h, US_STAT_tcp_pmtu_blackhole), 1);
  struct us_tcp_info in;
  assert_true(th_info(h, &in));
  assert_int_equal(in.pmtu, 770);
  th_expect_within(h, 0, US_SEC(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 730));
  us_time_t at =
      th_expect_within(h, 0, US_SEC(20), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 512));
  assert_false(th_last(h)->df);
  assert_int_equal(th_stat(h, US_STAT_tcp_pmtu_blackhole), 2);
  th_inject(h, at + US_MSEC(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 4001));
  th_drain(h);
  th_finish(h);
}

static void test_blackhole_off_by_default(void **state) {
  struct th *h = th_new_state(state, NULL);
  struct th_pkt first;
  uint8_t buf[1600];
  in_flight(h, &first, buf);
  for (int i = 0; i < 3; i++)
    th_expect_within(h, 0, US_SEC(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 1460));
  assert_int_equal(th_stat(h, US_STAT_tcp_pmtu_blackhole), 0);
  th_inject(h, h->now, TSEG(.flags = TH_ACK, .seq = 1, .ack = 4001));
  th_drain(h);
  th_finish(h);
}

/* UDP keeps DF off (docs/TCP.md): it cannot resend smaller, so a router
 * had better fragment. A 3000-byte datagram leaves as fragments. */
static void test_udp_without_df(void **state) {
  struct th *h = th_new_state(state, NULL);
  us_sock_t u;
  assert_int_equal(us_udp_open(h->s, &u), 0);
  assert_int_equal(us_udp_bind(h->s, u, 5353), 0);
  static uint8_t buf[3000];
  for (size_t n = 100; n <= sizeof buf; n += sizeof buf - 100) {
    assert_int_equal(us_udp_sendto(h->s, u, us_endpoint(us_addr_v4(TH_P_ADDR), 53), buf, n, h->now),
                     (long)n);
    th_advance(h, h->now);
    struct th_pkt p;
    int seen = 0;
    while (th_pop(h, &p)) {
      assert_true(p.len >= 20);
      assert_int_equal(p.buf[9], 17);       /* UDP */
      assert_int_equal(p.buf[6] & 0x40, 0); /* DF clear */
      seen++;
    }
    assert_int_equal(seen, n > 1480 ? 3 : 1);
  }
  us_udp_close(h->s, u);
  th_finish(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_teardown(test_df_on_tcp, th_teardown),
    cmocka_unit_test_teardown(test_df_off_without_pmtud, th_teardown),
    cmocka_unit_test_teardown(test_frag_needed_shrinks, th_teardown),
    cmocka_unit_test_teardown(test_frag_needed_with_ts, th_teardown),
    cmocka_unit_test_teardown(test_frag_needed_forged_seq, th_teardown),
    cmocka_unit_test_teardown(test_frag_needed_tiny_clamped, th_teardown),
    cmocka_unit_test_teardown(test_frag_needed_plateau, th_teardown),
    cmocka_unit_test_teardown(test_blackhole_detection, th_teardown),
    cmocka_unit_test_teardown(test_blackhole_off_by_default, th_teardown),
    cmocka_unit_test_teardown(test_udp_without_df, th_teardown),
  };
  return H_RUN("tcp_pmtu", tests);
}
