/*
 * test_rx_fallback.c - the large-buffer pool's fallback is counted: when
 * the pool is down to its reserve (kept for output and reassembly),
 * us_stack_rx_buffer() lends no 64 KiB buffer, the platform reads into its
 * own and TCP copies (rx_buffer_fallback; docs/OFFLOAD.md).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/pkt.h"
#include "core/stack.h"
#include "tcp_harness.h"

/* The smallest big pool: one reassembly context + 4, and buffer memory too
 * small to add any (5 buffers; the reserve is 5 / 8 + 4 = 4). */
static void tiny_big_pool(struct us_config *c) {
  c->reass_contexts = 1;
  c->tcp_sndbuf = c->tcp_rcvbuf = 4096;
  c->tcp_buf_mem = 8192;
}

static void test_rx_buffer_fallback_counted(void **state) {
  struct th *h = th_new_state(state, tiny_big_pool);
  struct us_pool_usage u;
  us_stack_pool_usage(h->s, &u);
  assert_int_equal(u.big_total, 5);
  /* One buffer out (as reassembly or a TSO segment would take it): the
   * pool is at its reserve and lends none for reading. */
  struct us_pkt *held = us_pkt_alloc(h->s, 60000);
  assert_non_null(held);
  size_t cap = 0;
  assert_null(us_stack_rx_buffer(h->s, 65536, &cap));
  assert_int_equal(th_stat(h, US_STAT_rx_buffer_fallback), 1);
  /* MTU-sized reads come from the other pool, unaffected. */
  assert_non_null(us_stack_rx_buffer(h->s, 0, &cap));
  assert_int_equal(th_stat(h, US_STAT_rx_buffer_fallback), 1);
  /* Back above the reserve: a big buffer is lent again, not counted. */
  us_pkt_free(h->s, held);
  assert_non_null(us_stack_rx_buffer(h->s, 65536, &cap));
  assert_true(cap >= 65536);
  assert_int_equal(th_stat(h, US_STAT_rx_buffer_fallback), 1);
  th_finish(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_teardown(test_rx_buffer_fallback_counted, th_teardown),
  };
  return H_RUN("rx_fallback", tests);
}
