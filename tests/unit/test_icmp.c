/*
 * test_icmp.c - ICMP (RFC 792, RFC 1122 3.2.2): echo replies byte-exact
 * for every size up to 65507 bytes of payload (request fragmented on the
 * way in, reply fragmented on the way out and reassembled here), the
 * cases that get no reply, the echo rate limit, inbound errors with good
 * and bad quotes, and the RFC 1122 3.2.2 suppression rules of
 * us_icmp_send_unreach.
 */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "core/stack.h"
#include "ip/ip.h"
#include "ip/ip_internal.h"

static int setup(void **st) {
  *st = h_stack_new(7, NULL);
  return 0;
}

/* Send an echo request with `n` payload bytes (fragmented at 1480 when
 * needed), collect the reply and check it byte for byte. */
static void echo_roundtrip(struct h_stack *h, size_t n, uint16_t id, uint16_t seq, us_time_t now) {
  uint8_t *pay = malloc(n + 1);
  for (size_t i = 0; i < n; i++)
    pay[i] = (uint8_t)(i * 7 + seq);
  uint8_t *icmp = malloc(8 + n);
  size_t len = h_icmp_build(icmp, 8, 0, (uint32_t)id << 16 | seq, pay, n);
  if (20 + len <= 1500)
    h_send(h, H_PEER, H_US, 1, icmp, len, now);
  else
    h_send_frags(h, 1, (uint16_t)(id ^ seq), icmp, len, 1480, now);

  size_t rlen, nfr;
  struct h_out first;
  uint8_t *r = h_collect(&h->cap, 1500, &rlen, &first, &nfr);
  assert_int_equal(first.src, H_US);
  assert_int_equal(first.dst, H_PEER);
  assert_int_equal(first.proto, 1);
  assert_int_equal(rlen, 8 + n);
  assert_int_equal(r[0], 0); /* echo reply */
  assert_int_equal(r[1], 0);
  assert_int_equal(h_rd16(r + 4), id);
  assert_int_equal(h_rd16(r + 6), seq);
  assert_memory_equal(r + 8, pay, n);
  assert_int_equal(h_csum(r, rlen), 0); /* checksum over the whole reply */
  assert_int_equal(nfr, (8 + n + 1479) / 1480);
  free(r);
  free(icmp);
  free(pay);
}

static void test_echo_sizes(void **st) {
  struct h_stack *h = *st;
  const size_t sizes[] = { 0, 1, 7, 56, 57, 1471, 1472, 1473, 3000, 8192, 65000, 65507 };
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
    echo_roundtrip(h, sizes[i], 0x1234, (uint16_t)(i + 1), US_SEC(1) + (us_time_t)i);
  assert_int_equal(h_stat(h, US_STAT_icmp_out_echo_reps), 12);
  assert_int_equal(h_stat(h, US_STAT_icmp_in_echos), 12);
}

/* id/seq values that stress byte order and the checksum's carries. */
static void test_echo_id_seq_values(void **st) {
  struct h_stack *h = *st;
  echo_roundtrip(h, 32, 0xffff, 0xffff, US_SEC(1));
  echo_roundtrip(h, 33, 0, 0, US_SEC(1));
  echo_roundtrip(h, 5, 0x8001, 0x00ff, US_SEC(1));
}

static void test_echo_bad(void **st) {
  struct h_stack *h = *st;
  uint8_t icmp[64];
  size_t len = h_icmp_build(icmp, 8, 0, 0x00010001, "abcdefg", 7);
  icmp[9] ^= 1; /* bad checksum (odd length) */
  h_send(h, H_PEER, H_US, 1, icmp, len, US_SEC(1));
  /* IP total length 22: a 2-byte ICMP message (IC-2). */
  h_send(h, H_PEER, H_US, 1, icmp, 2, US_SEC(1));
  h_send(h, H_PEER, H_US, 1, icmp, 0, US_SEC(1));
  assert_int_equal(h_stat(h, US_STAT_icmp_in_errors), 3);
  assert_int_equal(h_capture_pending(&h->cap), 0);
}

static void test_echo_broadcast_not_answered(void **st) {
  struct h_stack *h = *st;
  uint8_t icmp[64];
  size_t len = h_icmp_build(icmp, 8, 0, 0x00010001, "ping", 4);
  h_send(h, H_PEER, US_IP4(255, 255, 255, 255), 1, icmp, len, US_SEC(1));
  h_send(h, H_PEER, US_IP4(10, 0, 0, 255), 1, icmp, len, US_SEC(1));
  assert_int_equal(h_stat(h, US_STAT_icmp_in_echo_bcast), 2);
  assert_int_equal(h_capture_pending(&h->cap), 0);
}

/* Quench (MUST-55/RFC 6633), redirect, timestamp, address mask, echo
 * reply, unknown types: counted, nothing sent. */
static void test_ignored_types(void **st) {
  struct h_stack *h = *st;
  uint8_t quote[28] = { 0x45, 0, 0,  28, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0,
                        0,    2, 10, 0,  0, 1, 0, 1, 0,  2,  0, 8, 0,  0 };
  uint8_t icmp[64];
  struct {
    uint8_t type;
    enum us_stat counter;
  } cases[] = {
    { 4, US_STAT_icmp_in_src_quenchs }, { 5, US_STAT_icmp_in_redirects },
    { 13, US_STAT_icmp_in_timestamps }, { 17, US_STAT_icmp_in_addr_masks },
    { 0, US_STAT_icmp_in_echo_reps },   { 42, US_STAT_icmp_in_other },
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    size_t len = h_icmp_build(icmp, cases[i].type, 0, 0, quote, sizeof quote);
    h_send(h, H_PEER, H_US, 1, icmp, len, US_SEC(1));
    assert_int_equal(h_stat(h, cases[i].counter), 1);
  }
  assert_int_equal(h_capture_pending(&h->cap), 0);
}

static void tweak_echo_rate(struct us_config *c) {
  c->icmp_echo_rate = 5;
  c->icmp_echo_burst = 2;
}

static void test_echo_rate_limit(void **st) {
  (void)st;
  struct h_stack h;
  h_stack_init(&h, 8, tweak_echo_rate);
  uint8_t icmp[16];
  size_t len = h_icmp_build(icmp, 8, 0, 1, "x", 1);
  for (int i = 0; i < 100; i++)
    h_send(&h, H_PEER, H_US, 1, icmp, len, US_SEC(1));
  assert_int_equal(h_capture_pending(&h.cap), 2);
  assert_int_equal(h_stat(&h, US_STAT_icmp_out_echo_rate_limited), 98);
  /* 5 per second: one token per 200 ms. */
  h_send(&h, H_PEER, H_US, 1, icmp, len, US_SEC(1) + US_MSEC(199));
  assert_int_equal(h_capture_pending(&h.cap), 2);
  h_send(&h, H_PEER, H_US, 1, icmp, len, US_SEC(1) + US_MSEC(200));
  assert_int_equal(h_capture_pending(&h.cap), 3);
  h_assert_pools_full(h.s);
  h_stack_fini(&h);
}

static void tweak_unlimited(struct us_config *c) { c->icmp_echo_rate = 0; }

static void test_echo_unlimited(void **st) {
  (void)st;
  struct h_stack h;
  h_stack_init(&h, 9, tweak_unlimited);
  uint8_t icmp[16];
  size_t len = h_icmp_build(icmp, 8, 0, 1, "x", 1);
  for (int i = 0; i < 1000; i++)
    h_send(&h, H_PEER, H_US, 1, icmp, len, US_SEC(1));
  assert_int_equal(h_capture_pending(&h.cap), 1000);
  h_assert_pools_full(h.s);
  h_stack_fini(&h);
}

/* ---- inbound errors ------------------------------------------------------- */

static struct {
  int calls;
  uint8_t type, code;
  uint32_t info, qsrc, qdst;
  uint8_t quote[64];
  size_t quote_len;
} got;

static void on_err(struct us_stack *s, uint8_t type, uint8_t code, uint32_t info, us_addr_t qsrc,
                   us_addr_t qdst, const uint8_t *quote, size_t quote_len, us_time_t now) {
  (void)s;
  (void)now;
  got.calls++;
  got.type = type;
  got.code = code;
  got.info = info;
  assert_true(us_addr_is_v4(qsrc) && us_addr_is_v4(qdst));
  got.qsrc = us_addr_ip4(qsrc);
  got.qdst = us_addr_ip4(qdst);
  got.quote_len = quote_len;
  memcpy(got.quote, quote, quote_len < sizeof got.quote ? quote_len : sizeof got.quote);
}

/* An ICMP error whose quote is `q` (qlen bytes), sent with an exact-size
 * buffer so ASan catches any read past the quote. */
static void send_err(struct h_stack *h, uint8_t type, uint8_t code, uint32_t rest, const uint8_t *q,
                     size_t qlen) {
  uint8_t *icmp = malloc(8 + qlen);
  size_t len = h_icmp_build(icmp, type, code, rest, q, qlen);
  h_send(h, H_PEER, H_US, 1, icmp, len, US_SEC(1));
  free(icmp);
}

static void test_inbound_errors(void **st) {
  struct h_stack *h = *st;
  memset(&got, 0, sizeof got);
  ip_layer(h->s)->l4_icmp_err[17] = on_err;
  /* The quote of a UDP datagram we sent: 20-byte header + 8 bytes. */
  uint8_t q[40] = { 0x45, 0, 0, 36, 0,    7,    0,    0,    64,   17,   0,    0,    10, 0, 0, 2,
                    10,   0, 0, 1,  0xc0, 0x00, 0x00, 0x35, 0x00, 0x10, 0xab, 0xcd, 1,  2, 3, 4 };
  send_err(h, 3, 3, 0, q, 28);
  assert_int_equal(got.calls, 1);
  assert_int_equal(got.type, 3);
  assert_int_equal(got.code, 3);
  assert_int_equal(got.qsrc, H_US);
  assert_int_equal(got.qdst, H_PEER);
  assert_int_equal(got.quote_len, 8);
  assert_memory_equal(got.quote, q + 20, 8);
  /* More than 8 bytes quoted: all of it, bounded by the inner length. */
  send_err(h, 11, 0, 0, q, 32);
  assert_int_equal(got.calls, 2);
  assert_int_equal(got.type, 11);
  assert_int_equal(got.quote_len, 12);
  /* Inner total length smaller than what is quoted: cut to it. */
  q[3] = 30;
  send_err(h, 3, 1, 0, q, 32);
  assert_int_equal(got.calls, 3);
  assert_int_equal(got.quote_len, 10);
  q[3] = 36;
  /* Frag-needed: the next-hop MTU arrives in the low 16 bits of info. */
  send_err(h, 3, 4, 1280, q, 28);
  assert_int_equal(got.calls, 4);
  assert_int_equal(got.info & 0xffff, 1280);

  /* IC-4: truncated quotes and inconsistent inner headers are ignored. */
  uint64_t bad = h_stat(h, US_STAT_icmp_in_bad_quote);
  for (size_t n = 0; n < 28; n++)
    send_err(h, 3, 3, 0, q, n);
  assert_int_equal(h_stat(h, US_STAT_icmp_in_bad_quote), bad + 28);
  uint8_t q2[40];
  memcpy(q2, q, sizeof q);
  q2[0] = 0x44; /* inner IHL 4 */
  send_err(h, 3, 3, 0, q2, 28);
  q2[0] = 0x46; /* inner IHL 6: 24 + 8 > 28 quoted */
  send_err(h, 3, 3, 0, q2, 28);
  q2[0] = 0x65; /* inner version 6 */
  send_err(h, 3, 3, 0, q2, 28);
  memcpy(q2, q, sizeof q);
  q2[15] = 9; /* not from our address */
  send_err(h, 3, 3, 0, q2, 28);
  memcpy(q2, q, sizeof q);
  q2[3] = 27; /* the quoted datagram claims fewer than 28 bytes */
  send_err(h, 12, 0, 0, q2, 28);
  assert_int_equal(h_stat(h, US_STAT_icmp_in_bad_quote), bad + 28 + 5);
  assert_int_equal(got.calls, 4);

  /* Valid quote of a protocol with no handler: counted, ignored. */
  memcpy(q2, q, sizeof q);
  q2[9] = 0x22;
  send_err(h, 3, 2, 0, q2, 28);
  assert_int_equal(h_stat(h, US_STAT_icmp_in_err_no_handler), 1);
  assert_int_equal(got.calls, 4);
  assert_int_equal(h_capture_pending(&h->cap), 0);
  ip_layer(h->s)->l4_icmp_err[17] = NULL;
}

/* ---- us_icmp_send_unreach rules ------------------------------------------ */

static void test_send_unreach_rules(void **st) {
  struct h_stack *h = *st;
  uint8_t pay[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
  struct us_ip4_hdr ip = { .hdr_len = 20,
                           .total_len = 28,
                           .id = 1,
                           .ttl = 64,
                           .proto = 0x22,
                           .src = H_PEER,
                           .dst = H_US,
                           .payload = pay,
                           .payload_len = 8 };
  struct us_ip4_hdr t;
  /* Baseline: sent. */
  us_icmp_send_unreach(h->s, &ip, 2, US_SEC(1));
  assert_int_equal(h_capture_pending(&h->cap), 1);
  h_capture_take(&h->cap);
  /* Non-first fragment. */
  t = ip;
  t.frag_off = 8;
  us_icmp_send_unreach(h->s, &t, 2, US_SEC(1));
  /* Broadcast and multicast destinations. */
  t = ip;
  t.dst = US_IP4(255, 255, 255, 255);
  us_icmp_send_unreach(h->s, &t, 2, US_SEC(1));
  t.dst = US_IP4(10, 0, 0, 255);
  us_icmp_send_unreach(h->s, &t, 2, US_SEC(1));
  t.dst = US_IP4(224, 0, 0, 251);
  us_icmp_send_unreach(h->s, &t, 2, US_SEC(1));
  /* Martian sources. */
  const uint32_t martians[] = { 0,
                                US_IP4(127, 0, 0, 1),
                                US_IP4(224, 0, 0, 1),
                                US_IP4(255, 255, 255, 255),
                                US_IP4(10, 0, 0, 255),
                                H_US,
                                US_IP4(240, 1, 2, 3) };
  for (size_t i = 0; i < sizeof martians / sizeof martians[0]; i++) {
    t = ip;
    t.src = martians[i];
    us_icmp_send_unreach(h->s, &t, 2, US_SEC(1));
  }
  /* ICMP errors (and unknown ICMP types, and an empty ICMP payload). */
  const uint8_t types[] = { 3, 4, 5, 11, 12, 99 };
  for (size_t i = 0; i < sizeof types; i++) {
    uint8_t m[8] = { types[i] };
    t = ip;
    t.proto = 1;
    t.payload = m;
    us_icmp_send_unreach(h->s, &t, 2, US_SEC(1));
  }
  t = ip;
  t.proto = 1;
  t.payload_len = 0;
  us_icmp_send_unreach(h->s, &t, 2, US_SEC(1));
  assert_int_equal(h_capture_pending(&h->cap), 0);
  assert_int_equal(h_stat(h, US_STAT_icmp_out_suppressed), 1 + 3 + 7 + 6 + 1);
  /* An ICMP query (echo request) may be answered with an error. */
  uint8_t echo[8] = { 8 };
  t = ip;
  t.proto = 1;
  t.payload = echo;
  us_icmp_send_unreach(h->s, &t, 2, US_SEC(1));
  assert_int_equal(h_capture_pending(&h->cap), 1);
  h_capture_reset(&h->cap);
}

/* The quote carries the header's options as received. */
static void test_unreach_quotes_options(void **st) {
  struct h_stack *h = *st;
  uint8_t opts[4] = { 0x94, 4, 0, 0 }; /* router alert */
  uint8_t b[64];
  struct h_ip ih = { .src = H_PEER, .dst = H_US, .proto = 0x33, .opts = opts, .opt_len = 4 };
  size_t n = h_ip_build(b, &ih, "0123456789", 10);
  h_input(h, b, n, US_SEC(1));
  struct h_out o;
  h_out_check(h_capture_take(&h->cap), &o);
  assert_int_equal(o.payload_len, 8 + 24 + 8);
  assert_memory_equal(o.payload + 8, b, 24 + 8);
  assert_int_equal(h_csum(o.payload, o.payload_len), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_echo_sizes, setup, h_teardown_drained),
    cmocka_unit_test_setup_teardown(test_echo_id_seq_values, setup, h_teardown_drained),
    cmocka_unit_test_setup_teardown(test_echo_bad, setup, h_teardown_drained),
    cmocka_unit_test_setup_teardown(test_echo_broadcast_not_answered, setup, h_teardown_drained),
    cmocka_unit_test_setup_teardown(test_ignored_types, setup, h_teardown_drained),
    cmocka_unit_test(test_echo_rate_limit),
    cmocka_unit_test(test_echo_unlimited),
    cmocka_unit_test_setup_teardown(test_inbound_errors, setup, h_teardown_drained),
    cmocka_unit_test_setup_teardown(test_send_unreach_rules, setup, h_teardown_drained),
    cmocka_unit_test_setup_teardown(test_unreach_quotes_options, setup, h_teardown_drained),
  };
  return H_RUN("icmp", tests);
}
