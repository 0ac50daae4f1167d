/*
 * test_reass6.c - IPv6 fragment reassembly (RFC 8200 4.5) on the engine
 * IPv4 uses too: in order, out of order, an unfragmentable part kept from
 * the first fragment, atomic fragments handled as whole datagrams (RFC
 * 6946), the timeout with its time exceeded (code 1) quoting the first
 * fragment (and none without it), the families kept apart in one table
 * and under one byte cap, and reassembly returning the datagram to its
 * caller (nothing is held after delivery). Fragmented echo requests are
 * the observable: the reply carries the reassembled data back.
 */
#include "harness.h"
#include "vectors/ip6_test_util.h"

static void tweak(struct us_config *c) {
  t6_tweak(c);
  c->reass_contexts = 4;
  c->reass_bytes_max = 3 * 4096;
  c->reass_timeout = US_SEC(30);
  c->reass_per_source = 0;
}

static int setup(void **st) {
  *st = h_stack_new(31, tweak);
  return 0;
}

/* An echo request of `n` data bytes (pattern from seq). */
static uint8_t *echo_req(size_t n, uint16_t seq, size_t *len) {
  uint8_t *pay = malloc(n + 1);
  for (size_t i = 0; i < n; i++)
    pay[i] = (uint8_t)(i * 5 + seq);
  uint8_t *m = malloc(8 + n);
  *len = t6_icmp(m, T6_PEER, T6_US, 128, 0, seq, pay, n);
  free(pay);
  return m;
}

/* One fragment of `m` [off, off+n) with identification id; `pre` bytes of
 * unfragmentable extension headers (a destination options header) when
 * set. */
static void send_frag(struct h_stack *h, const uint8_t *m, size_t mlen, size_t off, size_t n,
                      uint32_t id, bool pre, us_time_t now) {
  uint8_t *b = malloc(64 + n);
  size_t hl = 40;
  if (pre)
    hl += t6_opts(b + 40, 44, 1, NULL, 0);
  t6_hdr(b, T6_PEER, T6_US, pre ? 60 : 44, (uint16_t)(hl - 40 + 8 + n), 64);
  t6_frag(b + hl, 58, (uint16_t)off, off + n < mlen, id);
  memcpy(b + hl + 8, m + off, n);
  h_input(h, b, hl + 8 + n, now);
  free(b);
}

/* Collect the echo reply and check it carries `m`'s data. */
static void expect_reply(struct h_stack *h, const uint8_t *m, size_t mlen) {
  size_t rlen, nfr;
  uint8_t nh;
  uint8_t *r = t6_collect(&h->cap, 1500, &rlen, &nh, &nfr);
  assert_int_equal(rlen, mlen);
  assert_int_equal(r[0], 129);
  assert_memory_equal(r + 4, m + 4, mlen - 4);
  free(r);
}

static void test_in_order_and_reversed(void **st) {
  struct h_stack *h = *st;
  size_t mlen;
  uint8_t *m = echo_req(3000, 1, &mlen);
  for (size_t off = 0; off < mlen; off += 1232)
    send_frag(h, m, mlen, off, mlen - off < 1232 ? mlen - off : 1232, 77, false, US_SEC(1));
  expect_reply(h, m, mlen);
  assert_int_equal(h_pool_usage(h->s).reass_active, 0);
  /* Reversed, and with a destination options header before the fragment
   * header: the unfragmentable part comes from the first fragment. */
  send_frag(h, m, mlen, 2464, mlen - 2464, 78, true, US_SEC(2));
  send_frag(h, m, mlen, 1232, 1232, 78, true, US_SEC(2));
  assert_int_equal(h_pool_usage(h->s).reass_active, 1);
  assert_int_equal(h_capture_pending(&h->cap), 0);
  send_frag(h, m, mlen, 0, 1232, 78, true, US_SEC(2));
  expect_reply(h, m, mlen);
  assert_int_equal(h_stat(h, US_STAT_ip6_reasm_oks), 2);
  assert_int_equal(h_stat(h, US_STAT_ip6_reasm_reqds), 6);
  assert_int_equal(h_stat(h, US_STAT_ip_reasm_reqds), 0); /* IPv4's untouched */
  assert_int_equal(h_pool_usage(h->s).reass_active, 0);
  free(m);
}

/* A fragment of 8 bytes at a time, the smallest legal. */
static void test_tiny_pieces(void **st) {
  struct h_stack *h = *st;
  size_t mlen;
  uint8_t *m = echo_req(200, 2, &mlen);
  for (size_t off = 0; off < mlen; off += 8)
    send_frag(h, m, mlen, off, mlen - off < 8 ? mlen - off : 8, 90, false, US_SEC(1));
  expect_reply(h, m, mlen);
  free(m);
}

/* RFC 6946: offset 0 and M clear is a whole datagram; no context. */
static void test_atomic_fragment(void **st) {
  struct h_stack *h = *st;
  size_t mlen;
  uint8_t *m = echo_req(40, 3, &mlen);
  send_frag(h, m, mlen, 0, mlen, 5, false, US_SEC(1));
  expect_reply(h, m, mlen);
  assert_int_equal(h_stat(h, US_STAT_ip6_in_atomic_frags), 1);
  assert_int_equal(h_stat(h, US_STAT_ip6_reasm_reqds), 0);
  free(m);
}

/* RFC 8200 4.5: time exceeded, fragment reassembly time exceeded, to the
 * source of the first fragment, quoting it. */
static void test_timeout(void **st) {
  struct h_stack *h = *st;
  size_t mlen;
  uint8_t *m = echo_req(3000, 4, &mlen);
  send_frag(h, m, mlen, 0, 1232, 0xabcd, true, US_SEC(1));
  assert_int_equal(h_pool_usage(h->s).reass_active, 1);
  h_poll(h, US_SEC(1) + US_SEC(30) - 1);
  assert_int_equal(h_pool_usage(h->s).reass_active, 1);
  assert_int_equal(h_capture_pending(&h->cap), 0);
  h_poll(h, US_SEC(31));
  assert_int_equal(h_pool_usage(h->s).reass_active, 0);
  assert_int_equal(h_stat(h, US_STAT_ip6_reasm_timeout), 1);
  size_t n;
  const uint8_t *e = t6_take_icmp(h, &n);
  assert_int_equal(e[0], 3);
  assert_int_equal(e[1], 1);
  assert_int_equal(n, 8 + 1232); /* 1280 in all */
  const uint8_t *q = e + 8;
  assert_int_equal(q[0], 0x60);
  assert_int_equal(q[6], 60);                    /* as received: options first */
  assert_int_equal(h_rd16(q + 4), 8 + 8 + 1232); /* its own payload length */
  assert_memory_equal(q + 8, T6_PEER, 16);
  assert_int_equal(q[40], 44);         /* the options' next header */
  assert_int_equal(q[48], 58);         /* fragment header: next */
  assert_int_equal(h_rd16(q + 50), 1); /* offset 0, M */
  assert_int_equal(h_rd32(q + 52), 0xabcd);
  assert_memory_equal(q + 56, m, 1232 - 56); /* the first data bytes that fit */
  assert_int_equal(h_stat(h, US_STAT_icmp6_out_time_excds), 1);

  /* Without the first fragment: nothing is sent. */
  send_frag(h, m, mlen, 1232, 1232, 0xabce, false, US_SEC(100));
  h_poll(h, US_SEC(200));
  assert_int_equal(h_stat(h, US_STAT_ip6_reasm_timeout), 2);
  assert_int_equal(h_capture_pending(&h->cap), 0);
  free(m);
}

/* Families share the table and caps but never a datagram: an IPv4
 * fragment with the same numbers does not join an IPv6 datagram. */
static void test_families_apart(void **st) {
  struct h_stack *h = *st;
  size_t mlen;
  uint8_t *m = echo_req(2000, 5, &mlen);
  send_frag(h, m, mlen, 0, 1232, 1, false, US_SEC(1));
  uint8_t v4[1300];
  struct h_ip ih = { .src = H_PEER, .dst = H_US, .proto = 1, .id = 1, .frag_off = 1232 };
  size_t n = h_ip_build(v4, &ih, m + 1232, mlen - 1232);
  h_input(h, v4, n, US_SEC(1));
  assert_int_equal(h_pool_usage(h->s).reass_active, 2);
  assert_int_equal(h_capture_pending(&h->cap), 0);
  send_frag(h, m, mlen, 1232, mlen - 1232, 1, false, US_SEC(1));
  expect_reply(h, m, mlen);
  assert_int_equal(h_pool_usage(h->s).reass_active, 1); /* the IPv4 one waits for its timeout */
  /* The table (4 contexts) is shared: a fourth IPv6 datagram evicts the
   * IPv4 one, the oldest. */
  uint8_t *big = echo_req(20000, 6, &mlen);
  for (uint32_t id = 10; id < 14; id++)
    send_frag(h, big, mlen, 0, 3000, id, false, US_SEC(2));
  assert_int_equal(h_stat(h, US_STAT_ip_reasm_evicted), 1);
  assert_int_equal(h_stat(h, US_STAT_ip6_reasm_evicted), 0);
  assert_int_equal(h_pool_usage(h->s).reass_active, 4);
  /* And the byte cap (3 * 4096): the next one evicts the oldest IPv6. */
  send_frag(h, big, mlen, 0, 3000, 14, false, US_SEC(3));
  assert_int_equal(h_stat(h, US_STAT_ip6_reasm_evicted), 1);
  assert_int_equal(h_pool_usage(h->s).reass_active, 4);
  free(big);
  free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_in_order_and_reversed, setup, h_teardown_drained),
    cmocka_unit_test_setup_teardown(test_tiny_pieces, setup, h_teardown_drained),
    cmocka_unit_test_setup_teardown(test_atomic_fragment, setup, h_teardown_drained),
    cmocka_unit_test_setup_teardown(test_timeout, setup, h_teardown_drained),
    cmocka_unit_test_setup_teardown(test_families_apart, setup, h_teardown_drained),
  };
  return H_RUN("reass6", tests);
}
