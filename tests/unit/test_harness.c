/*
 * test_harness.c - the harness checks itself: its builders against the
 * layouts the RFCs give (so the stack's tests do not rest on a wrong
 * reference), its seed override, its oracle, and a bulk transfer that
 * must notice a wrong stream.
 */
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static const uint8_t SRC6[16] = { 0xfd, 0, 0x12, 0x34, [8] = 0xde, 0xad, [15] = 1 };
static const uint8_t DST6[16] = { 0xfd, [14] = 0xab, [15] = 2 };

/* RFC 8200 3 and 8.1: the fixed header's fields where they belong, and a
 * TCP segment whose checksum, summed with the pseudo-header laid out as
 * bytes, verifies. */
static void test_ipv6_tcp_segment(void **st) {
  (void)st;
  uint8_t data[33], seg[64], pkt[128];
  for (size_t i = 0; i < sizeof data; i++)
    data[i] = (uint8_t)(i * 5 + 1);
  const struct h_ip *ip = H_IP6(SRC6, DST6, 6);
  struct h_tcp t = { .sport = 40000,
                     .dport = 80,
                     .seq = 7,
                     .ack = 9,
                     .flags = 0x18,
                     .wnd = 1000,
                     .data = data,
                     .len = sizeof data };
  size_t tl = h_tcp_build(seg, ip, &t);
  assert_int_equal(tl, 20 + sizeof data);
  size_t n = h_ip_build(pkt, ip, seg, tl);
  assert_int_equal(n, 40 + tl);
  assert_int_equal(pkt[0] >> 4, 6);
  assert_int_equal(h_rd16(pkt + 4), tl);
  assert_int_equal(pkt[6], 6);
  assert_int_equal(pkt[7], 64);
  assert_memory_equal(pkt + 8, SRC6, 16);
  assert_memory_equal(pkt + 24, DST6, 16);
  uint8_t ph[40] = { 0 };
  memcpy(ph, SRC6, 16);
  memcpy(ph + 16, DST6, 16);
  h_wr16(ph + 34, (uint16_t)tl);
  ph[39] = 6;
  assert_int_equal(h_csum_fold(h_csum_add(h_csum_add(0, ph, sizeof ph), pkt + 40, tl)), 0);
  assert_int_equal(h_csum_fold(h_ip_pseudo(ip, tl)), h_csum(ph, sizeof ph));
}

/* The same segment over IPv4 verifies with the IPv4 pseudo-header (RFC 9293
 * 3.1), and the IPv4 header checksum is right. */
static void test_ipv4_tcp_segment(void **st) {
  (void)st;
  uint8_t seg[64], pkt[128];
  const struct h_ip *ip = H_IP4(H_PEER, H_US, 6);
  struct h_tcp t = { .sport = 1, .dport = 2, .flags = 0x02, .wnd = 65535 };
  size_t tl = h_tcp_build(seg, ip, &t);
  size_t n = h_ip_build(pkt, ip, seg, tl);
  assert_int_equal(n, 40);
  assert_int_equal(h_csum(pkt, 20), 0);
  uint8_t ph[12] = { 10, 0, 0, 1, 10, 0, 0, 2, 0, 6, 0, 20 };
  assert_int_equal(h_csum_fold(h_csum_add(h_csum_add(0, ph, sizeof ph), pkt + 20, 20)), 0);
  char fl[H_TCP_FLAGS_LEN];
  assert_string_equal(h_tcp_flags(pkt[33], fl), "S");
  assert_string_equal(h_tcp_flags(0xff, fl), "SFRPU.EW");
}

/* ICMPv6 (RFC 4443 2.3) covers the pseudo-header; ICMPv4 does not. */
static void test_icmp_checksums(void **st) {
  (void)st;
  uint8_t m[16], m6[16];
  h_icmp_build(m, 8, 0, 0x00010002, "abcd", 4);
  h_icmp6_build(m6, H_IP6(SRC6, DST6, 58), 128, 0, 0x00010002, "abcd", 4);
  assert_int_equal(h_csum(m, 12), 0);
  assert_int_not_equal(h_csum(m6, 12), 0);
  assert_int_equal(h_csum_fold(h_csum_add(h_ip_pseudo(H_IP6(SRC6, DST6, 58), 12), m6, 12)), 0);
}

/* US_TEST_SEED is XORed in, whatever it is set to for this run. */
static void test_seed_override(void **st) {
  (void)st;
  assert_true((h_seed(0x1234) ^ 0x1234) == h_seed_env());
  uint64_t a = 5, b = 5;
  assert_true(h_rand_next(&a) == h_rand_next(&b));
  assert_true(h_rand_next(&a) != h_rand_next(&a));
  for (int i = 0; i < 1000; i++)
    assert_true(h_rand_below(&a, 7) < 7);
}

/* The oracle points at the first wrong byte. */
static void test_oracle(void **st) {
  (void)st;
  uint8_t b[100];
  h_oracle_fill(9, 1000, b, sizeof b);
  assert_int_equal(h_oracle_check(9, 1000, b, sizeof b), -1);
  b[37] ^= 1;
  assert_int_equal(h_oracle_check(9, 1000, b, sizeof b), 1037);
  assert_true(h_oracle_check(10, 1000, b, sizeof b) >= 1000);
}

struct pair {
  struct h_link *l;
  us_sock_t lsock;
  struct h_bulk a, b;
};

static bool pair_pump(void *ctx) {
  struct pair *p = ctx;
  h_bulk_accept(&p->b, p->lsock);
  h_bulk_pump(&p->a, p->l->now);
  h_bulk_pump(&p->b, p->l->now);
  return (h_bulk_done(&p->a, p->b.total) && h_bulk_done(&p->b, p->a.total)) ||
         h_bulk_failed(&p->a) || h_bulk_failed(&p->b);
}

/* Two ends of a transfer: they finish when the streams agree, and the
 * receiver reports the first byte when they do not. */
static void run_pair(uint64_t b_expects, bool *done, long long *bad_at) {
  struct h_link l;
  h_link_init(&l, NULL, NULL, 3, US_MSEC(1));
  struct pair p = { .l = &l };
  assert_int_equal(us_tcp_socket(l.b, &p.lsock), 0);
  assert_int_equal(us_tcp_bind(l.b, p.lsock, 7), 0);
  assert_int_equal(us_tcp_listen(l.b, p.lsock, 4), 0);
  us_sock_t c;
  assert_int_equal(us_tcp_socket(l.a, &c), 0);
  int r = us_tcp_connect(l.a, c, us_endpoint(us_addr_v4(US_IP4(10, 0, 0, 2)), 7), l.now);
  assert_true(r == 0 || r == US_ERR_INPROGRESS);
  h_bulk_init(&p.a, l.a, c, 100000, 1, 2);
  h_bulk_init(&p.b, l.b, US_SOCK_INVALID, 50000, 2, b_expects);
  p.a.end = p.b.end = H_BULK_SHUT_CLOSE;
  *done = h_link_run(&l, US_SEC(60), pair_pump, &p) && !h_bulk_failed(&p.a) && !h_bulk_failed(&p.b);
  *bad_at = p.b.bad_at;
  if (*done) {
    assert_int_equal(p.a.rcvd, 50000);
    assert_int_equal(p.b.rcvd, 100000);
  }
  h_link_fini(&l);
}

static void test_bulk_pair(void **st) {
  (void)st;
  bool done;
  long long bad;
  run_pair(1, &done, &bad);
  assert_true(done);
  assert_int_equal(bad, -1);
  run_pair(99, &done, &bad);
  assert_false(done);
  assert_int_equal(bad, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_ipv6_tcp_segment), cmocka_unit_test(test_ipv4_tcp_segment),
    cmocka_unit_test(test_icmp_checksums),   cmocka_unit_test(test_seed_override),
    cmocka_unit_test(test_oracle),           cmocka_unit_test(test_bulk_pair),
  };
  return H_RUN("harness", tests);
}
