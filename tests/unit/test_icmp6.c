/*
 * test_icmp6.c - ICMPv6 (RFC 4443): the echo rate limit, bad checksums
 * and short messages, inbound errors with good and bad quotes (packet too
 * big with its MTU floor of 1280, RFC 8201 4), unknown types, and the
 * error sender's rules (RFC 4443 2.4): the quote cut at 1232 bytes so the
 * error fits 1280, never an error about an ICMPv6 error, to a multicast
 * destination (but packet too big and parameter problem code 2) or from a
 * source that names no single node, and the error rate limit.
 */
#include "harness.h"
#include "vectors/ip6_test_util.h"
#include "core/stack.h"
#include "ip/ip6.h"
#include "wire/icmp6.h"

static int setup(void **st) {
  *st = h_stack_new(21, t6_tweak);
  return 0;
}

static void tweak_limits(struct us_config *c) {
  t6_tweak(c);
  c->icmp_echo_rate = 10;
  c->icmp_echo_burst = 3;
  c->icmp_err_rate = 10;
  c->icmp_err_burst = 2;
}

static void test_echo_rate_limit(void **st) {
  (void)st;
  struct h_stack h = { 0 };
  h_stack_init(&h, 22, tweak_limits);
  uint8_t icmp[16];
  size_t n = t6_icmp(icmp, T6_PEER, T6_US, 128, 0, 1, NULL, 0);
  for (int i = 0; i < 5; i++)
    t6_send(&h, T6_PEER, T6_US, 58, icmp, n, US_SEC(1));
  assert_int_equal(h_capture_pending(&h.cap), 3); /* the burst */
  assert_int_equal(h_stat(&h, US_STAT_icmp6_out_rate_limited), 2);
  h_capture_reset(&h.cap);
  /* 100 ms later one token is back (10 per second). */
  t6_send(&h, T6_PEER, T6_US, 58, icmp, n, US_SEC(1) + US_MSEC(100));
  t6_send(&h, T6_PEER, T6_US, 58, icmp, n, US_SEC(1) + US_MSEC(100));
  assert_int_equal(h_capture_pending(&h.cap), 1);
  h_finish(&h, US_SEC(2));
  h_stack_fini(&h);
}

static void test_bad_messages(void **st) {
  struct h_stack *h = *st;
  uint8_t icmp[32];
  struct h_snap sn;
  size_t n = t6_icmp(icmp, T6_PEER, T6_US, 128, 0, 1, "abcd", 4);
  icmp[9] ^= 1; /* corrupt a data byte */
  h_snap_take(h->s, &sn);
  t6_send(h, T6_PEER, T6_US, 58, icmp, n, US_SEC(1));
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_icmp6_in_errors), 1);
  assert_int_equal(h_capture_pending(&h->cap), 0);
  /* A checksum made without the pseudo-header (as ICMPv4 would). */
  n = t6_icmp(icmp, T6_PEER, T6_US, 128, 0, 1, "abcd", 4);
  h_wr16(icmp + 2, 0);
  h_wr16(icmp + 2, h_csum(icmp, n));
  h_snap_take(h->s, &sn);
  t6_send(h, T6_PEER, T6_US, 58, icmp, n, US_SEC(1));
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_icmp6_in_errors), 1);
  /* Four bytes: type, code, checksum only. */
  h_snap_take(h->s, &sn);
  t6_send(h, T6_PEER, T6_US, 58, icmp, 4, US_SEC(1));
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_icmp6_in_errors), 1);
  assert_int_equal(h_capture_pending(&h->cap), 0);
  /* Unknown informational and error types, an echo reply: counted only. */
  const uint8_t types[] = { 200, 100, 129 };
  const enum us_stat ctr[] = { US_STAT_icmp6_in_other, US_STAT_icmp6_in_other,
                               US_STAT_icmp6_in_echo_reps };
  for (size_t i = 0; i < 3; i++) {
    n = t6_icmp(icmp, T6_PEER, T6_US, types[i], 0, 1, NULL, 0);
    h_snap_take(h->s, &sn);
    t6_send(h, T6_PEER, T6_US, 58, icmp, n, US_SEC(1));
    assert_int_equal(h_snap_delta(h->s, &sn, ctr[i]), 1);
    assert_int_equal(h_capture_pending(&h->cap), 0);
  }
}

/* An error about a UDP datagram we sent from fd00::2:7 to fd00::1:1000. */
static size_t our_datagram(uint8_t *b, const uint8_t *src) {
  t6_hdr(b, src, T6_PEER, 17, 16, 64);
  t6_udp(b + 40, src, T6_PEER, 7, 1000, "12345678", 8);
  return 56;
}

static void test_inbound_errors(void **st) {
  struct h_stack *h = *st;
  uint8_t q[128], icmp[256];
  struct h_snap sn;
  size_t ql = our_datagram(q, T6_US);

  /* Packet too big: a good quote; the MTU below 1280 is raised. */
  size_t n = t6_icmp(icmp, T6_PEER, T6_US, 2, 0, 1000, q, ql);
  h_snap_take(h->s, &sn);
  t6_send(h, T6_PEER, T6_US, 58, icmp, n, US_SEC(1));
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_icmp6_in_pkt_too_bigs), 1);
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_icmp6_in_pkt_too_big_small), 1);
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_icmp6_in_bad_quote), 0);
  n = t6_icmp(icmp, T6_PEER, T6_US, 2, 0, 1400, q, ql);
  h_snap_take(h->s, &sn);
  t6_send(h, T6_PEER, T6_US, 58, icmp, n, US_SEC(1));
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_icmp6_in_pkt_too_big_small), 0);

  /* Each error type, good quote: counted, not refused. */
  const uint8_t types[] = { 1, 3, 4 };
  const enum us_stat ctr[] = { US_STAT_icmp6_in_dest_unreachs, US_STAT_icmp6_in_time_excds,
                               US_STAT_icmp6_in_parm_probs };
  for (size_t i = 0; i < 3; i++) {
    n = t6_icmp(icmp, T6_PEER, T6_US, types[i], 0, 0, q, ql);
    h_snap_take(h->s, &sn);
    t6_send(h, T6_PEER, T6_US, 58, icmp, n, US_SEC(1));
    assert_int_equal(h_snap_delta(h->s, &sn, ctr[i]), 1);
    assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_icmp6_in_bad_quote), 0);
  }

  /* Bad quotes: not from us, cut inside the fixed header, cut before 8
   * upper-layer bytes, claiming less than the header chain, version 4. */
  uint8_t other[128];
  size_t ol = our_datagram(other, T6_OTHER);
  struct {
    const uint8_t *q;
    size_t len;
  } bad[] = { { other, ol }, { q, 39 }, { q, 47 } };
  for (size_t i = 0; i < 3; i++) {
    n = t6_icmp(icmp, T6_PEER, T6_US, 1, 4, 0, bad[i].q, bad[i].len);
    h_snap_take(h->s, &sn);
    t6_send(h, T6_PEER, T6_US, 58, icmp, n, US_SEC(1));
    assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_icmp6_in_bad_quote), 1);
  }
  uint8_t liar[128];
  memcpy(liar, q, ql);
  h_wr16(liar + 4, 4); /* says 4 bytes of payload */
  n = t6_icmp(icmp, T6_PEER, T6_US, 1, 4, 0, liar, ql);
  h_snap_take(h->s, &sn);
  t6_send(h, T6_PEER, T6_US, 58, icmp, n, US_SEC(1));
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_icmp6_in_bad_quote), 1);
  liar[4] = 0;
  liar[5] = 16;
  liar[0] = 0x45;
  n = t6_icmp(icmp, T6_PEER, T6_US, 1, 4, 0, liar, ql);
  h_snap_take(h->s, &sn);
  t6_send(h, T6_PEER, T6_US, 58, icmp, n, US_SEC(1));
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_icmp6_in_bad_quote), 1);
  assert_int_equal(h_capture_pending(&h->cap), 0); /* errors are never answered */
}

/* The quote: the datagram from its header, at most 1232 bytes, so that
 * the error is at most 1280 (RFC 4443 2.4 (c)). */
static void test_error_quote_cut(void **st) {
  struct h_stack *h = *st;
  size_t len = 40 + 1992;
  uint8_t *b = calloc(1, len);
  t6_hdr(b, T6_PEER, T6_US, 253, (uint16_t)(len - 40), 64);
  for (size_t i = 40; i < len; i++)
    b[i] = (uint8_t)i;
  us_icmp6_send_error(h->s, b, len, 1, 4, 0, US_SEC(1));
  size_t n;
  const uint8_t *m = t6_take_icmp(h, &n);
  assert_int_equal(40 + n, 1280);
  assert_int_equal(m[0], 1);
  assert_int_equal(m[1], 4);
  assert_memory_equal(m + 8, b, 1232);
  assert_int_equal(h_stat(h, US_STAT_icmp6_out_dest_unreachs), 1);
  free(b);
}

static void test_error_rules(void **st) {
  struct h_stack *h = *st;
  uint8_t b[128];
  struct h_snap sn;
  /* About an ICMPv6 error (a destination unreachable): nothing. */
  t6_hdr(b, T6_PEER, T6_US, 58, 16, 64);
  t6_icmp(b + 40, T6_PEER, T6_US, 1, 0, 0, "12345678", 8);
  h_snap_take(h->s, &sn);
  us_icmp6_send_error(h->s, b, 56, 4, 0, 0, US_SEC(1));
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_icmp6_out_suppressed), 1);
  assert_int_equal(h_capture_pending(&h->cap), 0);
  /* Nor about a redirect (RFC 4443 2.4 (e.2)). */
  t6_icmp(b + 40, T6_PEER, T6_US, 137, 0, 0, "12345678", 8);
  us_icmp6_send_error(h->s, b, 56, 4, 0, 0, US_SEC(1));
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_icmp6_out_suppressed), 2);
  assert_int_equal(h_capture_pending(&h->cap), 0);
  /* ... but about an echo request, yes. */
  t6_icmp(b + 40, T6_PEER, T6_US, 128, 0, 0, "12345678", 8);
  us_icmp6_send_error(h->s, b, 56, 4, 0, 0, US_SEC(1));
  assert_int_equal(h_capture_pending(&h->cap), 1);
  h_capture_reset(&h->cap);

  /* To a multicast destination: only packet too big and an unknown
   * option of action 10 (parameter problem code 2). */
  t6_hdr(b, T6_PEER, T6_ALL_NODES, 17, 16, 64);
  memset(b + 40, 0, 16);
  h_snap_take(h->s, &sn);
  us_icmp6_send_error(h->s, b, 56, 1, 4, 0, US_SEC(1));
  us_icmp6_send_error(h->s, b, 56, 4, 0, 0, US_SEC(1));
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_icmp6_out_suppressed), 2);
  assert_int_equal(h_capture_pending(&h->cap), 0);
  us_icmp6_send_error(h->s, b, 56, 4, 2, 40, US_SEC(1));
  us_icmp6_send_error(h->s, b, 56, 2, 0, 1280, US_SEC(1));
  assert_int_equal(h_capture_pending(&h->cap), 2);
  h_capture_reset(&h->cap);

  /* From a source that names no single node, or a martian one. */
  uint8_t unspec[16] = { 0 };
  const uint8_t *srcs[] = { unspec, T6_ALL_NODES, T6_US };
  for (size_t i = 0; i < 3; i++) {
    t6_hdr(b, srcs[i], T6_US, 17, 16, 64);
    h_snap_take(h->s, &sn);
    us_icmp6_send_error(h->s, b, 56, 1, 4, 0, US_SEC(1));
    assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_icmp6_out_suppressed), 1);
  }
  /* Fewer bytes than a header: nothing to quote. */
  us_icmp6_send_error(h->s, b, 39, 1, 4, 0, US_SEC(1));
  assert_int_equal(h_capture_pending(&h->cap), 0);
}

static void test_error_rate_limit(void **st) {
  (void)st;
  struct h_stack h = { 0 };
  h_stack_init(&h, 23, tweak_limits);
  uint8_t data[8] = { 0 };
  for (int i = 0; i < 6; i++)
    t6_send(&h, T6_PEER, T6_US, 253, data, sizeof data, US_SEC(1));
  assert_int_equal(h_capture_pending(&h.cap), 2); /* the burst */
  assert_int_equal(h_stat(&h, US_STAT_icmp6_out_rate_limited), 4);
  assert_int_equal(h_stat(&h, US_STAT_ip6_in_unknown_protos), 6);
  h_finish(&h, US_SEC(2));
  h_stack_fini(&h);
}

/* Packet too big lowers the path MTU our own output fragments at (RFC
 * 8201): never below 1280, never raised, forgotten after 10 minutes. */
static void test_pmtu(void **st) {
  struct h_stack *h = *st;
  uint8_t q[128], icmp[256];
  size_t ql = our_datagram(q, T6_US);
  struct h_snap sn;
  /* 1400 for fd00::1: a 1400-byte echo reply (1448 on the wire) is cut. */
  size_t n = t6_icmp(icmp, T6_PEER, T6_US, 2, 0, 1400, q, ql);
  h_snap_take(h->s, &sn);
  t6_send(h, T6_PEER, T6_US, 58, icmp, n, US_SEC(1));
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_ip6_pmtu_lowered), 1);
  assert_int_equal(us_ip6_pmtu(h->s, T6_PEER, US_SEC(1)), 1400);
  assert_int_equal(us_ip6_pmtu(h->s, T6_OTHER, US_SEC(1)), 1500); /* only that path */
  assert_int_equal(t6_echo(h, 1400, 1, 1, 1232, 1400, US_SEC(2)), 2);
  /* 1300 lowers it, 1450 does not raise it. */
  n = t6_icmp(icmp, T6_PEER, T6_US, 2, 0, 1300, q, ql);
  t6_send(h, T6_PEER, T6_US, 58, icmp, n, US_SEC(3));
  n = t6_icmp(icmp, T6_PEER, T6_US, 2, 0, 1450, q, ql);
  h_snap_take(h->s, &sn);
  t6_send(h, T6_PEER, T6_US, 58, icmp, n, US_SEC(3));
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_icmp6_in_pkt_too_big_ignored), 1);
  assert_int_equal(us_ip6_pmtu(h->s, T6_PEER, US_SEC(3)), 1300);
  /* 600: 1280, the IPv6 minimum. */
  n = t6_icmp(icmp, T6_PEER, T6_US, 2, 0, 600, q, ql);
  t6_send(h, T6_PEER, T6_US, 58, icmp, n, US_SEC(4));
  assert_int_equal(us_ip6_pmtu(h->s, T6_PEER, US_SEC(4)), 1280);
  assert_int_equal(t6_echo(h, 3000, 1, 2, 1232, 1280, US_SEC(5)), 3);
  /* A bad quote teaches nothing. */
  uint8_t other[128];
  size_t ol = our_datagram(other, T6_OTHER);
  n = t6_icmp(icmp, T6_PEER, T6_US, 2, 0, 1280, other, ol);
  t6_send(h, T6_PEER, T6_US, 58, icmp, n, US_SEC(5));
  assert_int_equal(us_ip6_pmtu(h->s, T6_OTHER, US_SEC(5)), 1500);
  /* Ten minutes after the last lowering, the link MTU again. */
  assert_int_equal(us_ip6_pmtu(h->s, T6_PEER, US_SEC(4) + US_SEC(600) - 1), 1280);
  assert_int_equal(us_ip6_pmtu(h->s, T6_PEER, US_SEC(4) + US_SEC(600)), 1500);
  assert_int_equal(t6_echo(h, 1400, 1, 3, 1232, 1500, US_SEC(700)), 1);
}

/* The table is bounded: more destinations than entries replace the
 * estimate that expires first. */
static void test_pmtu_table_full(void **st) {
  struct h_stack *h = *st;
  uint8_t dst[16];
  memcpy(dst, T6_OTHER, 16);
  for (int i = 0; i < 40; i++) {
    dst[14] = (uint8_t)i;
    us_ip6_pmtu_update(h->s, dst, 1300 + (uint32_t)i, US_SEC(1) + i);
  }
  dst[14] = 39;
  assert_int_equal(us_ip6_pmtu(h->s, dst, US_SEC(100)), 1339);
  dst[14] = 0; /* the oldest: replaced */
  assert_int_equal(us_ip6_pmtu(h->s, dst, US_SEC(100)), 1500);
  assert_int_equal(h_stat(h, US_STAT_ip6_pmtu_lowered), 40);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_echo_rate_limit),
    cmocka_unit_test_setup_teardown(test_bad_messages, setup, h_teardown_drained),
    cmocka_unit_test_setup_teardown(test_inbound_errors, setup, h_teardown_drained),
    cmocka_unit_test_setup_teardown(test_error_quote_cut, setup, h_teardown_drained),
    cmocka_unit_test_setup_teardown(test_error_rules, setup, h_teardown_drained),
    cmocka_unit_test(test_error_rate_limit),
    cmocka_unit_test_setup_teardown(test_pmtu, setup, h_teardown_drained),
    cmocka_unit_test_setup_teardown(test_pmtu_table_full, setup, h_teardown_drained),
  };
  return H_RUN("icmp6", tests);
}
