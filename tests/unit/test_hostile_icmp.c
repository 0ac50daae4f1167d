/*
 * test_hostile_icmp.c - the ICMP rows of docs/HOSTILE.md (IC-1..IC-8), one test
 * per row.
 *
 * IC-1..IC-4, IC-7 and IC-8 need only the IP layer (harness.h). IC-5 and
 * IC-6 are about what an ICMP error does to a TCP connection, so they run
 * on the TCP harness (tcp_harness.h) with an established connection and
 * inject the ICMP datagrams raw. Every test ends with the pools full.
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

#define BCAST US_IP4(10, 0, 0, 255)

static void feed(struct h_stack *h, const uint8_t *b, size_t len, us_time_t now) {
  uint8_t *c = malloc(len ? len : 1);
  assert_non_null(c);
  memcpy(c, b, len);
  h_input(h, c, len, now);
  free(c);
  h_poll(h, now);
}

/* An ICMP message from `src` to `dst` as one datagram. */
static size_t icmp_dgram(uint8_t *out, uint32_t src, uint32_t dst, uint8_t type, uint8_t code,
                         uint32_t rest, const uint8_t *data, size_t len) {
  uint8_t *m = malloc(8 + len);
  assert_non_null(m);
  size_t ml = h_icmp_build(m, type, code, rest, data, len);
  struct h_ip ih = { .src = src, .dst = dst, .proto = 1, .id = 0x1c };
  size_t n = h_ip_build(out, &ih, m, ml);
  free(m);
  return n;
}

static int setup(void **st) {
  *st = h_stack_new(0x1c, NULL);
  return 0;
}

/* ---- IC-1: echo requests of edge sizes --------------------------------------- */

static void check_echo_reply(struct h_stack *h, const uint8_t *req_icmp, size_t req_len) {
  const struct h_pkt *p = h_capture_take(&h->cap);
  assert_non_null(p);
  struct h_out o;
  h_out_check(p, &o);
  assert_int_equal(o.proto, 1);
  assert_int_equal(o.src, H_US); /* the request's destination */
  assert_int_equal(o.dst, H_PEER);
  assert_false(o.mf);
  assert_int_equal(o.frag_off, 0);
  assert_int_equal(o.payload_len, req_len);
  assert_int_equal(o.payload[0], 0); /* echo reply */
  assert_int_equal(o.payload[1], 0);
  assert_int_equal(h_csum(o.payload, o.payload_len), 0);         /* odd lengths included */
  assert_memory_equal(o.payload + 4, req_icmp + 4, req_len - 4); /* id, seq, data */
  assert_null(h_capture_take(&h->cap));
}

static void test_IC_1_echo_sizes(void **st) {
  struct h_stack *h = *st;
  static const size_t sizes[] = { 0, 1, 9, 55, 1471, 1472 };
  static uint8_t data[1500], b[1600];
  for (size_t i = 0; i < sizeof data; i++)
    data[i] = (uint8_t)(i * 13 + 1);
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    size_t n = icmp_dgram(b, H_PEER, H_US, 8, 0, 0xbeef0000u | (uint32_t)i, data, sizes[i]);
    assert_true(n <= 1500);
    struct h_snap sn;
    h_snap_take(h->s, &sn);
    feed(h, b, n, US_MSEC((int)i));
    assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_icmp_out_echo_reps), 1);
    check_echo_reply(h, b + 20, n - 20);
  }
  h_finish(h, US_SEC(1));
}

/* ---- IC-2: bad checksum, shorter than the ICMP header ---------------------------- */

static void test_IC_2_bad_or_short(void **st) {
  struct h_stack *h = *st;
  uint8_t b[128], data[16] = { 1, 2, 3 };
  size_t n = icmp_dgram(b, H_PEER, H_US, 8, 0, 1, data, 16);
  b[20 + 2] ^= 0x40; /* ICMP checksum */
  struct h_snap sn;
  h_snap_take(h->s, &sn);
  feed(h, b, n, 0);
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_icmp_in_errors), 1);
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_icmp_in_echos), 0);
  assert_int_equal(h_capture_pending(&h->cap), 0);

  /* 2, 0 and 7 bytes of ICMP (total length 22, 20, 27). */
  static const size_t shorts[] = { 2, 0, 7 };
  for (size_t i = 0; i < 3; i++) {
    uint8_t m[8] = { 8, 0, 0xf7, 0xff, 0, 0, 0, 0 };
    struct h_ip ih = { .src = H_PEER, .dst = H_US, .proto = 1 };
    n = h_ip_build(b, &ih, m, shorts[i]);
    h_snap_take(h->s, &sn);
    feed(h, b, n, 0);
    assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_icmp_in_errors), 1);
    assert_int_equal(h_capture_pending(&h->cap), 0);
  }
  h_finish(h, 0);
}

/* ---- IC-3: broadcast echo, timestamp, address mask, redirect, quench ------------- */

static void test_IC_3_no_reply(void **st) {
  struct h_stack *h = *st;
  uint8_t b[128], data[12] = { 0 };
  struct {
    uint32_t dst;
    uint8_t type;
    enum us_stat why;
  } cases[] = {
    { BCAST, 8, US_STAT_icmp_in_echo_bcast },
    { US_IP4(255, 255, 255, 255), 8, US_STAT_icmp_in_echo_bcast },
    { US_IP4(224, 0, 0, 1), 8, US_STAT_ip_in_multicast },
    { H_US, 13, US_STAT_icmp_in_timestamps },
    { H_US, 17, US_STAT_icmp_in_addr_masks },
    { H_US, 5, US_STAT_icmp_in_redirects },
    { H_US, 4, US_STAT_icmp_in_src_quenchs },
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    size_t n = icmp_dgram(b, H_PEER, cases[i].dst, cases[i].type, 0, 0x01000000, data, 12);
    struct h_snap sn;
    h_snap_take(h->s, &sn);
    feed(h, b, n, 0);
    if (h_snap_delta(h->s, &sn, cases[i].why) != 1)
      fail_msg("case %zu: %s did not move", i, us_stat_name(cases[i].why));
    assert_int_equal(h_capture_pending(&h->cap), 0);
    assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_icmp_out_echo_reps), 0);
  }
  h_finish(h, 0);
}

/* ---- IC-4: inbound errors with bad quotes ---------------------------------------- */

static void test_IC_4_bad_quotes(void **st) {
  struct h_stack *h = *st;
  uint8_t q[64], b[128];
  memset(q, 0, sizeof q);
  /* A quoted datagram we could have sent: S -> P, TCP. */
  q[0] = 0x45;
  h_wr16(q + 2, 60);
  q[8] = 64;
  q[9] = 6;
  h_wr32(q + 12, H_US);
  h_wr32(q + 16, H_PEER);
  h_wr16(q + 10, h_csum(q, 20));
  h_wr16(q + 20, 80);
  h_wr16(q + 22, 40000);

  struct {
    size_t qlen;
    uint8_t byte0;
    uint16_t qtot;
    enum us_stat why; /* US_STAT_COUNT: any handling, no output */
  } cases[] = {
    { 0, 0x45, 60, US_STAT_icmp_in_bad_quote },  /* nothing quoted */
    { 19, 0x45, 60, US_STAT_icmp_in_bad_quote }, /* less than an IP header */
    { 27, 0x45, 60, US_STAT_icmp_in_bad_quote }, /* header + 7 */
    { 28, 0x4f, 60, US_STAT_icmp_in_bad_quote }, /* inner IHL 15 in 28 bytes */
    { 28, 0x44, 60, US_STAT_icmp_in_bad_quote }, /* inner IHL 4 */
    { 28, 0x65, 60, US_STAT_icmp_in_bad_quote }, /* inner version 6 */
    { 28, 0x45, 10, US_STAT_icmp_in_bad_quote }, /* inner total length < quote */
    { 28, 0x45, 60, US_STAT_COUNT },             /* well formed, unknown 4-tuple */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    q[0] = cases[i].byte0;
    h_wr16(q + 2, cases[i].qtot);
    for (uint8_t code = 0; code < 5; code++) {
      size_t n = icmp_dgram(b, H_PEER, H_US, 3, code, code == 4 ? 576 : 0, q, cases[i].qlen);
      struct h_snap sn;
      h_snap_take(h->s, &sn);
      feed(h, b, n, 0);
      assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_icmp_in_dest_unreachs), 1);
      if (cases[i].why != US_STAT_COUNT && h_snap_delta(h->s, &sn, cases[i].why) != 1)
        fail_msg("case %zu code %u: not counted as a bad quote", i, code);
      assert_int_equal(h_capture_pending(&h->cap), 0);
    }
  }
  /* Time exceeded and parameter problem with a truncated quote too. */
  for (uint8_t type = 11; type <= 12; type++) {
    size_t n = icmp_dgram(b, H_PEER, H_US, type, 0, 0, q, 12);
    struct h_snap sn;
    h_snap_take(h->s, &sn);
    feed(h, b, n, 0);
    assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_icmp_in_bad_quote), 1);
    assert_int_equal(h_capture_pending(&h->cap), 0);
  }
  h_finish(h, 0);
}

/* ---- IC-5 / IC-6: ICMP errors against an established connection -------------------- */

/* Inject an ICMP error about S's segment `sport`->`dport` carrying `seq`. */
static void th_icmp_error(struct th *t, uint8_t type, uint8_t code, uint32_t rest, uint32_t seq) {
  uint8_t q[28], b[128];
  memset(q, 0, sizeof q);
  q[0] = 0x45;
  h_wr16(q + 2, 40);
  h_wr16(q + 6, 0x4000);
  q[8] = 64;
  q[9] = 6;
  h_wr32(q + 12, TH_S_ADDR);
  h_wr32(q + 16, TH_P_ADDR);
  h_wr16(q + 10, h_csum(q, 20));
  h_wr16(q + 20, t->c->s_port);
  h_wr16(q + 22, t->c->p_port);
  h_wr32(q + 24, seq);
  /* From a router on the path. */
  size_t n = icmp_dgram(b, US_IP4(10, 0, 0, 254), TH_S_ADDR, type, code, rest, q, sizeof q);
  us_stack_input(t->s, b, n, t->now);
  us_stack_poll(t->s, t->now);
}

static void test_IC_5_blind_icmp_reset(void **st) {
  (void)st;
  struct th *t = th_new(NULL);
  us_time_t now = th_fx_established(t, 0) + US_MSEC(10);
  /* Put 1000 bytes in flight so [SND.UNA, SND.NXT) is not empty. */
  assert_int_equal(th_send(t, now, 1000), 1000);
  th_expect(t, now, TSEG(.flags = TH_ACK | TH_PSH, .seq = 1, .ack = 1, .len = 1000));
  struct us_tcp_info in;
  assert_true(th_info(t, &in));
  uint32_t una = in.snd_una, nxt = in.snd_nxt;
  assert_true(nxt - una == 1000);

  /* Out of range: ignored, whatever the code (counted as such). */
  struct h_snap sn;
  h_snap_take(t->s, &sn);
  static const uint32_t outside[] = { 0, 1, 1000, 1001, 0x80000000u };
  for (size_t i = 0; i < 5; i++) {
    for (uint8_t code = 0; code <= 5; code++) {
      th_icmp_error(t, 3, code, 0, nxt + outside[i]);
      th_icmp_error(t, 3, code, 0, una - 1 - outside[i]);
      th_assert_state(t, US_TCP_ESTABLISHED);
      assert_int_equal(us_sock_error(t->s, t->c->sock), 0);
    }
  }
  assert_int_equal(h_snap_delta(t->s, &sn, US_STAT_tcp_icmp_ignored), 5 * 6 * 2);
  assert_int_equal(h_snap_delta(t->s, &sn, US_STAT_tcp_icmp_soft), 0);
  /* In range, codes 0, 1, 5 (net, host, source route failed): soft errors,
   * never an abort (MUST-56, RFC 5927 section 5). */
  static const uint8_t soft[] = { 0, 1, 5 };
  for (size_t i = 0; i < 3; i++) {
    th_icmp_error(t, 3, soft[i], 0, una + 500);
    th_assert_state(t, US_TCP_ESTABLISHED);
  }
  assert_int_equal(h_snap_delta(t->s, &sn, US_STAT_tcp_icmp_soft), 3);
  /* Source quench about the connection: ignored (RFC 6633, MUST-55):
   * the congestion window does not move. */
  struct us_tcp_info q0, q1;
  assert_true(th_info(t, &q0));
  th_icmp_error(t, 4, 0, 0, una);
  assert_true(th_info(t, &q1));
  assert_int_equal(q1.cwnd, q0.cwnd);
  assert_int_equal(q1.ssthresh, q0.ssthresh);
  th_assert_state(t, US_TCP_ESTABLISHED);
  /* Time exceeded and parameter problem are soft too. */
  th_icmp_error(t, 11, 0, 0, una);
  th_icmp_error(t, 12, 0, 0, una);
  th_assert_state(t, US_TCP_ESTABLISHED);
  assert_int_equal(th_queued(t), 0); /* no ICMP answered, no RST */

  /* The connection still works both ways. */
  th_inject(t, now + US_MSEC(20), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1001, .len = 10));
  th_recv_expect(t, now + US_MSEC(20), 10);
  th_drain(t);
  th_finish(t);
  th_free(t);
}

static void test_IC_6_frag_needed_mtu(void **st) {
  (void)st;
  struct th *t = th_new(NULL);
  us_time_t now = th_fx_established(t, 0) + US_MSEC(10);
  assert_int_equal(th_send(t, now, 100), 100);
  th_expect(t, now, TSEG(.flags = TH_ACK | TH_PSH, .seq = 1, .ack = 1, .len = 100));
  struct us_tcp_info in;
  assert_true(th_info(t, &in));
  uint32_t una = in.snd_una, mss0 = in.mss;
  assert_true(mss0 > 0 && mss0 <= 1460);

  /* Absurd next-hop MTUs are ignored (RFC 5927 section 7, RFC 1191):
   * below 68, not below the current estimate, and 0 when no RFC 1191
   * plateau is below the quoted 40-byte datagram. */
  static const uint32_t absurd[] = { 0, 1, 67, 1500, 1501, 9000, 65535 };
  for (size_t i = 0; i < sizeof absurd / sizeof absurd[0]; i++) {
    th_icmp_error(t, 3, 4, absurd[i] & 0xffff, una);
    assert_true(th_info(t, &in));
    if (in.mss != mss0)
      fail_msg("MTU %u changed the MSS from %u to %u", absurd[i], mss0, in.mss);
    th_assert_state(t, US_TCP_ESTABLISHED);
  }
  /* 68 (the IPv4 minimum): clamped to the 552-byte floor, with DF off
   * from now on; the 100 bytes in flight go again at once (they fit). */
  th_icmp_error(t, 3, 4, 68, una);
  assert_true(th_info(t, &in));
  assert_int_equal(in.pmtu, 552);
  assert_int_equal(in.mss, 552 - 40);
  th_expect(t, t->now, TSEG(.flags = TH_ACK | TH_PSH, .seq = 1, .ack = 1, .len = 100));
  th_assert_state(t, US_TCP_ESTABLISHED);
  assert_int_equal(us_sock_error(t->s, t->c->sock), 0);

  /* Data still flows in segments of at least one byte, none over 1500. */
  th_inject(t, now + US_MSEC(20), TSEG(.flags = TH_ACK, .seq = 1, .ack = 101));
  assert_int_equal(th_send(t, now + US_MSEC(30), 3000), 3000);
  uint32_t got = 0;
  struct th_pkt p;
  us_time_t when = now + US_MSEC(30);
  for (int i = 0; i < 200 && got < 3000; i++) {
    if (!th_run_until_packet(t, when + US_SEC(5)))
      break;
    while (th_pop(t, &p)) {
      assert_true(p.ok);
      assert_true(p.len <= 1500);
      got += p.plen;
      when = p.at;
      /* Acknowledge everything so far. */
      uint32_t end = th_rel_seq(t, &p) + p.plen;
      th_inject(t, when, TSEG(.flags = TH_ACK, .seq = 1, .ack = end));
    }
  }
  assert_true(got >= 3000);
  th_drain(t);
  th_finish(t);
  th_free(t);
}

/* ---- IC-7: never an ICMP error about these ---------------------------------------------- */

static void test_IC_7_no_error_about(void **st) {
  struct h_stack *h = *st;
  uint8_t b[128], pay[16] = { 0 };
  struct h_snap sn;

  /* Positive control: unicast unknown protocol does get an answer. */
  struct h_ip ok = { .src = H_PEER, .dst = H_US, .proto = 0x22 };
  size_t n = h_ip_build(b, &ok, pay, 16);
  feed(h, b, n, 0);
  assert_int_equal(h_capture_pending(&h->cap), 1);
  h_capture_take(&h->cap);

  /* An ICMP error (dest unreach about some datagram): no error back. */
  uint8_t q[28] = { 0x45, 0, 0, 28, 0, 0, 0, 0, 64, 0x22 };
  h_wr32(q + 12, H_US);
  h_wr32(q + 16, H_PEER);
  n = icmp_dgram(b, H_PEER, H_US, 3, 2, 0, q, sizeof q);
  h_snap_take(h->s, &sn);
  feed(h, b, n, 0);
  assert_int_equal(h_capture_pending(&h->cap), 0);
  /* An ICMP error of an unknown type (42): not a query, no answer. */
  n = icmp_dgram(b, H_PEER, H_US, 42, 0, 0, q, sizeof q);
  feed(h, b, n, 0);
  assert_int_equal(h_capture_pending(&h->cap), 0);

  /* Unknown protocol to broadcast, multicast; from martians. */
  static const uint32_t dsts[] = { BCAST, US_IP4(255, 255, 255, 255), US_IP4(224, 0, 0, 5) };
  for (size_t i = 0; i < 3; i++) {
    struct h_ip ih = { .src = H_PEER, .dst = dsts[i], .proto = 0x22 };
    n = h_ip_build(b, &ih, pay, 16);
    feed(h, b, n, 0);
    assert_int_equal(h_capture_pending(&h->cap), 0);
  }
  static const uint32_t srcs[] = { 0, US_IP4(127, 0, 0, 1), US_IP4(224, 0, 0, 1), BCAST, H_US };
  for (size_t i = 0; i < 5; i++) {
    struct h_ip ih = { .src = srcs[i], .dst = H_US, .proto = 0x22 };
    n = h_ip_build(b, &ih, pay, 16);
    feed(h, b, n, 0);
    assert_int_equal(h_capture_pending(&h->cap), 0);
  }
  /* UDP to a closed port, broadcast: no port unreachable. */
  uint8_t u[8 + 4];
  size_t ul = h_udp_build(u, H_IP4(H_PEER, BCAST, 17), 1, 9, pay, 4);
  struct h_ip ub = { .src = H_PEER, .dst = BCAST, .proto = 17 };
  n = h_ip_build(b, &ub, u, ul);
  feed(h, b, n, 0);
  assert_int_equal(h_capture_pending(&h->cap), 0);

  /* A non-first fragment on its own, then the reassembly timeout: nothing
   * (no time exceeded either, RFC 1122 3.3.2 MAY, and never for offset != 0). */
  struct h_ip fr = { .src = H_PEER, .dst = H_US, .proto = 0x22, .id = 99, .frag_off = 64 };
  n = h_ip_build(b, &fr, pay, 16);
  h_snap_take(h->s, &sn);
  feed(h, b, n, 0);
  h_poll(h, h->cfg.reass_timeout + US_SEC(1));
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_ip_reasm_timeout), 1);
  assert_int_equal(h_capture_pending(&h->cap), 0);
  h_finish(h, h->cfg.reass_timeout + US_SEC(1));
}

/* ---- IC-8: echo flood ------------------------------------------------------------------- */

static void test_IC_8_echo_flood(void **st) {
  struct h_stack *h = *st;
  uint8_t b[128], data[56];
  memset(data, 0x61, sizeof data);
  struct h_snap sn;
  h_snap_take(h->s, &sn);
  /* 10 000 requests in one second of virtual time. */
  for (int i = 0; i < 10000; i++) {
    size_t n = icmp_dgram(b, H_PEER, H_US, 8, 0, (uint32_t)i, data, sizeof data);
    us_time_t now = US_USEC(i * 100);
    h_input(h, b, n, now);
    h_poll(h, now);
    /* Memory stays flat: replies go out at once, nothing is queued. */
    struct us_pool_usage u;
    us_stack_pool_usage(h->s, &u);
    assert_int_equal(u.pkt_free, u.pkt_total);
    h_capture_reset(&h->cap);
  }
  uint64_t reps = h_snap_delta(h->s, &sn, US_STAT_icmp_out_echo_reps);
  uint64_t limited = h_snap_delta(h->s, &sn, US_STAT_icmp_out_echo_rate_limited);
  /* Token bucket: burst + rate * 1 s. */
  uint64_t cap = h->cfg.icmp_echo_burst + h->cfg.icmp_echo_rate + 1;
  if (reps > cap)
    fail_msg("%llu echo replies in 1 s, limit %llu", (unsigned long long)reps,
             (unsigned long long)cap);
  assert_true(reps >= h->cfg.icmp_echo_rate / 2);
  assert_int_equal(reps + limited, 10000);

  /* ICMP errors have their own, lower limit. */
  h_snap_take(h->s, &sn);
  for (int i = 0; i < 10000; i++) {
    struct h_ip ih = { .src = H_PEER, .dst = H_US, .proto = 0x22, .id = (uint16_t)i };
    size_t n = h_ip_build(b, &ih, data, 8);
    us_time_t now = US_SEC(2) + US_USEC(i * 100);
    h_input(h, b, n, now);
    h_capture_reset(&h->cap);
  }
  uint64_t errs = h_snap_delta(h->s, &sn, US_STAT_icmp_out_dest_unreachs);
  assert_true(errs <= h->cfg.icmp_err_burst + h->cfg.icmp_err_rate + 1);
  assert_true(h_snap_delta(h->s, &sn, US_STAT_icmp_out_rate_limited) >= 10000 - errs);
  h_finish(h, US_SEC(3));
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_IC_1_echo_sizes, setup, h_teardown),
    cmocka_unit_test_setup_teardown(test_IC_2_bad_or_short, setup, h_teardown),
    cmocka_unit_test_setup_teardown(test_IC_3_no_reply, setup, h_teardown),
    cmocka_unit_test_setup_teardown(test_IC_4_bad_quotes, setup, h_teardown),
    cmocka_unit_test(test_IC_5_blind_icmp_reset),
    cmocka_unit_test(test_IC_6_frag_needed_mtu),
    cmocka_unit_test_setup_teardown(test_IC_7_no_error_about, setup, h_teardown),
    cmocka_unit_test_setup_teardown(test_IC_8_echo_flood, setup, h_teardown),
  };
  return H_RUN("hostile_icmp", tests);
}
