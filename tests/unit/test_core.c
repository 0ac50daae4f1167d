/*
 * test_core.c - the core's building blocks on their own: ring buffer,
 * SipHash, handles and generations, packet pools, the error table.
 */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

#include "core/handle.h"
#include "tcp/tcp.h"
#include "udp/udp.h"
#include "core/pkt.h"
#include "core/rand.h"
#include "core/ring.h"
#include "core/stack.h"
#include "core/testing.h"

static void test_ring_wraps_and_peeks(void **state) {
  (void)state;
  uint8_t mem[8];
  struct us_ring r;
  us_ring_init(&r, mem, sizeof mem);
  assert_int_equal(us_ring_write(&r, "abcdef", 6), 6);
  uint8_t out[16];
  assert_int_equal(us_ring_read(&r, out, 4), 4);
  assert_memory_equal(out, "abcd", 4);
  /* head is now 4, two bytes held: the next write wraps. */
  assert_int_equal(us_ring_write(&r, "ghijklmn", 8), 6); /* only 6 fit */
  assert_int_equal(r.len, 8);
  assert_int_equal(us_ring_peek(&r, 3, out, 16), 5);
  assert_memory_equal(out, "hijkl", 5);
  assert_int_equal(us_ring_read(&r, out, 16), 8);
  assert_memory_equal(out, "efghijkl", 8);
  assert_int_equal(r.len, 0);
}

static void test_ring_write_at_then_commit(void **state) {
  (void)state;
  uint8_t mem[10];
  struct us_ring r;
  us_ring_init(&r, mem, sizeof mem);
  us_ring_write(&r, "0123456", 7);
  us_ring_discard(&r, 5); /* "56" left, head = 5 */
  /* place "CD" two bytes past the end (a hole of "AB"), then fill it */
  us_ring_write_at(&r, 2, "CD", 2);
  us_ring_write_at(&r, 0, "AB", 2);
  us_ring_commit(&r, 4);
  uint8_t out[8];
  assert_int_equal(us_ring_read(&r, out, 8), 6);
  assert_memory_equal(out, "56ABCD", 6);
}

/* The reference vector from the SipHash paper (appendix A): key 00..0f,
 * message 00..0e, SipHash-2-4 = 0xa129ca6149be45e5. */
static void test_siphash_reference_vector(void **state) {
  (void)state;
  uint8_t key[16], msg[15];
  for (int i = 0; i < 16; i++)
    key[i] = (uint8_t)i;
  for (int i = 0; i < 15; i++)
    msg[i] = (uint8_t)i;
  assert_true(us_siphash24(key, msg, sizeof msg) == 0xa129ca6149be45e5ull);
  /* empty input, from the same reference implementation's table */
  assert_true(us_siphash24(key, msg, 0) == 0x726fdb47dd0e0e31ull);
}

static void test_handles_go_stale(void **state) {
  (void)state;
  struct h_stack h;
  h_stack_init(&h, 1, NULL);
  int obj = 42;
  us_sock_t a = us_handle_alloc(h.s, US_HK_UDP, &obj);
  assert_true(us_sock_valid(a));
  assert_ptr_equal(us_handle_get(h.s, a, US_HK_UDP), &obj);
  assert_null(us_handle_get(h.s, a, US_HK_TCP)); /* wrong kind */
  us_handle_mark(h.s, a);
  us_handle_free(h.s, a);
  assert_null(us_handle_get(h.s, a, US_HK_UDP)); /* stale */
  /* Reusing slots never revives the old handle. */
  for (int i = 0; i < 100; i++) {
    us_sock_t b = us_handle_alloc(h.s, US_HK_UDP, &obj);
    assert_false(us_sock_eq(a, b));
    us_handle_mark(h.s, b);
    us_handle_free(h.s, b);
  }
  struct us_event ev[4];
  assert_int_equal(us_stack_events(h.s, ev, 4), 0); /* all freed */
  assert_int_equal(us_sock_error(h.s, a), US_ERR_BADF);
  h_assert_pools_full(h.s);
  h_stack_fini(&h);
}

static void test_pkt_pool_exhaustion_is_survivable(void **state) {
  (void)state;
  struct h_stack h;
  h_stack_init(&h, 2, NULL);
  struct us_pool_usage u;
  us_stack_pool_usage(h.s, &u);
  struct us_pkt **held = calloc(u.pkt_total, sizeof *held);
  for (uint32_t i = 0; i < u.pkt_total; i++) {
    held[i] = us_pkt_alloc(h.s, 100);
    assert_non_null(held[i]);
  }
  assert_null(us_pkt_alloc(h.s, 100));
  assert_int_equal(us_stack_stat(h.s, US_STAT_pkt_alloc_fail), 1);
  /* headroom lets headers be pushed in place */
  assert_non_null(us_pkt_push(held[0], 60));
  assert_null(us_pkt_push(held[0], US_PKT_HEADROOM));
  for (uint32_t i = 0; i < u.pkt_total; i++)
    us_pkt_free(h.s, held[i]);
  free(held);
  /* a large request comes from the big pool */
  struct us_pkt *big = us_pkt_alloc(h.s, 65535);
  assert_non_null(big);
  assert_non_null(us_pkt_put(big, 65535));
  us_pkt_free(h.s, big);
  /* the failure hook fails exactly the k-th allocation */
  us_stack_fail_alloc_at(h.s, 2);
  struct us_pkt *p1 = us_pkt_alloc(h.s, 10);
  struct us_pkt *p2 = us_pkt_alloc(h.s, 10);
  struct us_pkt *p3 = us_pkt_alloc(h.s, 10);
  assert_non_null(p1);
  assert_null(p2);
  assert_non_null(p3);
  us_pkt_free(h.s, p1);
  us_pkt_free(h.s, p3);
  h_assert_pools_full(h.s);
  h_stack_fini(&h);
}

static void test_errors_have_names(void **state) {
  (void)state;
  assert_string_equal(us_err_name(US_ERR_TIMEDOUT), "US_ERR_TIMEDOUT");
  assert_string_equal(us_strerror(US_ERR_CONNREFUSED), "connection refused");
  assert_string_equal(us_err_name(12345), "US_ERR_UNKNOWN");
  assert_true(US_ERR_NOMEM < 0);
  assert_string_equal(us_stat_name(US_STAT_ip_in_bad_csum), "ip_in_bad_csum");
  assert_null(us_stat_name(US_STAT_COUNT));
}

static void test_config_validation(void **state) {
  (void)state;
  struct us_config c;
  us_config_default(&c);
  c.mtu = 100;
  assert_null(us_stack_create(&c, NULL));
  us_config_default(&c);
  c.tcp_delack = US_MSEC(600); /* MUST-40 */
  assert_null(us_stack_create(&c, NULL));
  us_config_default(&c);
  us_stack *s = us_stack_create(&c, NULL);
  assert_non_null(s);
  us_stack_destroy(s);
}

static void test_two_stacks_share_nothing(void **state) {
  (void)state;
  struct h_stack a, b;
  h_stack_init(&a, 1, NULL);
  h_stack_init(&b, 1, NULL);
  struct us_pkt *p = us_pkt_alloc(a.s, 10);
  struct us_pool_usage ua, ub;
  us_stack_pool_usage(a.s, &ua);
  us_stack_pool_usage(b.s, &ub);
  assert_int_equal(ua.pkt_free + 1, ub.pkt_free);
  us_pkt_free(a.s, p);
  h_stack_fini(&a);
  h_stack_fini(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_ring_wraps_and_peeks),
    cmocka_unit_test(test_ring_write_at_then_commit),
    cmocka_unit_test(test_siphash_reference_vector),
    cmocka_unit_test(test_handles_go_stale),
    cmocka_unit_test(test_pkt_pool_exhaustion_is_survivable),
    cmocka_unit_test(test_errors_have_names),
    cmocka_unit_test(test_config_validation),
    cmocka_unit_test(test_two_stacks_share_nothing),
  };
  return H_RUN("core", tests);
}
