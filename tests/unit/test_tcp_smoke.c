/*
 * test_tcp_smoke.c - two stacks back to back on a virtual clock move a few
 * megabytes both ways at once, then both sides close: the basics of the
 * TCP layer end to end (handshake, data, windows, ACK clocking, FIN
 * exchange, TIME-WAIT, pools back to full). A second run drops packets
 * to exercise retransmission and reassembly; a third checks a refused
 * connection.
 */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "core/testing.h"
#include "tcp/tcp.h"

#define PORT 5000

struct xfer {
  struct h_link *l;
  us_sock_t lsock;
  struct h_bulk a, b; /* A connects, B accepts */
  int a_err;
};

/* One application step for one side: send what fits, read what is there,
 * shut down once everything is queued; nothing may fail. */
static void pump(struct h_bulk *sd, us_time_t now) {
  h_bulk_pump(sd, now);
  assert_int_equal(sd->err, 0);
  assert_int_equal(sd->bad_at, -1);
}

static bool step(void *ctx) {
  struct xfer *x = ctx;
  us_time_t now = x->l->now;
  h_bulk_accept(&x->b, x->lsock);
  int err = us_sock_error(x->l->a, x->a.sock);
  if (err) {
    x->a_err = err;
    return true;
  }
  pump(&x->a, now);
  pump(&x->b, now);
  return x->a.eof && x->b.eof && x->a.shut && x->b.shut;
}

/* The two ends: A sends total_a bytes of stream 1, B total_b of stream 2. */
static void xfer_init(struct xfer *x, struct h_link *l, uint64_t total_a, uint64_t total_b) {
  *x = (struct xfer){ .l = l };
  h_bulk_init(&x->a, l->a, US_SOCK_INVALID, total_a, 1, 2);
  h_bulk_init(&x->b, l->b, US_SOCK_INVALID, total_b, 2, 1);
  x->a.chunk = x->b.chunk = 65536;
}

static void small_cfg(struct us_config *c, us_ip4_t addr) {
  us_config_default(c);
  c->addr = addr;
  c->max_tcp_sockets = 8;
  c->tcp_msl = US_SEC(2);
}

/* Packets seen per direction by the lossy filter below. */
static uint64_t lossy_count[2];

static void run_transfer(uint64_t total_a, uint64_t total_b,
                         bool (*filter)(void *, int, uint8_t *, size_t *, us_time_t)) {
  struct us_config ca, cb;
  small_cfg(&ca, US_IP4(10, 0, 0, 1));
  small_cfg(&cb, US_IP4(10, 0, 0, 2));
  struct h_link l;
  h_link_init(&l, &ca, &cb, 42, US_MSEC(1));
  lossy_count[0] = lossy_count[1] = 0; /* each run drops the same packets */
  l.filter = filter;
  l.filter_ctx = &l;

  struct xfer x;
  xfer_init(&x, &l, total_a, total_b);
  assert_int_equal(us_tcp_socket(l.b, &x.lsock), 0);
  assert_int_equal(us_tcp_bind(l.b, x.lsock, PORT), 0);
  assert_int_equal(us_tcp_listen(l.b, x.lsock, 8), 0);
  assert_int_equal(us_tcp_socket(l.a, &x.a.sock), 0);
  assert_int_equal(
      us_tcp_connect(l.a, x.a.sock, us_endpoint(us_addr_v4(US_IP4(10, 0, 0, 2)), PORT), l.now),
      US_ERR_INPROGRESS);

  bool ok = h_link_run(&l, US_SEC(600), step, &x);
  assert_int_equal(x.a_err, 0);
  assert_true(ok);
  assert_int_equal(x.a.rcvd, total_b);
  assert_int_equal(x.b.rcvd, total_a);
  print_message(
      "  %llu+%llu bytes in %lld us virtual; segs out A %llu B %llu, "
      "retrans A %llu B %llu, dupacks A %llu B %llu, ofo B %llu, A timeouts %llu fastrx %llu\n",
      (unsigned long long)total_a, (unsigned long long)total_b, (long long)l.now,
      (unsigned long long)us_stack_stat(l.a, US_STAT_tcp_out_segs),
      (unsigned long long)us_stack_stat(l.b, US_STAT_tcp_out_segs),
      (unsigned long long)us_stack_stat(l.a, US_STAT_tcp_retrans_segs),
      (unsigned long long)us_stack_stat(l.b, US_STAT_tcp_retrans_segs),
      (unsigned long long)us_stack_stat(l.a, US_STAT_tcp_dup_acks),
      (unsigned long long)us_stack_stat(l.b, US_STAT_tcp_dup_acks),
      (unsigned long long)us_stack_stat(l.b, US_STAT_tcp_ofo_queue),
      (unsigned long long)us_stack_stat(l.a, US_STAT_tcp_timeouts),
      (unsigned long long)us_stack_stat(l.a, US_STAT_tcp_fast_retrans));
  assert_true(us_stack_stat(l.a, US_STAT_tcp_active_opens) == 1);
  assert_true(us_stack_stat(l.b, US_STAT_tcp_passive_opens) == 1);

  /* Both sides shut down and read EOF, so the FIN exchange is under way or
   * done: closing now is an orderly release, never a reset. */
  assert_int_equal(us_tcp_close(l.a, x.a.sock, l.now), 0);
  assert_int_equal(us_tcp_close(l.b, x.b.sock, l.now), 0);
  assert_int_equal(us_tcp_close(l.b, x.lsock, l.now), 0);
  /* Stale handles fail cleanly. */
  assert_int_equal(us_tcp_send(l.a, x.a.sock, "x", 1, l.now), US_ERR_BADF);

  h_link_run(&l, l.now + US_SEC(10), NULL, NULL);
  struct us_tcp_info info[8];
  assert_int_equal(us_tcp_list(l.a, info, 8), 0);
  assert_int_equal(us_tcp_list(l.b, info, 8), 0);
  assert_int_equal(us_stack_stat(l.a, US_STAT_tcp_illegal_transitions), 0);
  assert_int_equal(us_stack_stat(l.b, US_STAT_tcp_illegal_transitions), 0);
  /* Nobody was reset. */
  assert_int_equal(us_stack_stat(l.a, US_STAT_tcp_out_rsts), 0);
  assert_int_equal(us_stack_stat(l.b, US_STAT_tcp_out_rsts), 0);
  h_assert_pools_full(l.a);
  h_assert_pools_full(l.b);
  h_link_fini(&l);
}

static void test_transfer_both_ways(void **state) {
  (void)state;
  run_transfer(4u * 1024 * 1024, 4u * 1024 * 1024, NULL);
}

/* Drop a deterministic 2% of packets each way (never the same one twice in
 * a row, so the test stays fast). */
static bool lossy(void *ctx, int dir, uint8_t *pkt, size_t *len, us_time_t now) {
  (void)ctx;
  (void)pkt;
  (void)len;
  (void)now;
  uint64_t n = ++lossy_count[dir];
  uint64_t h = (n * 0x9e3779b97f4a7c15ull) >> 57; /* 0..127 */
  return h >= 3;
}

static void test_transfer_with_loss(void **state) {
  (void)state;
  run_transfer(1u * 1024 * 1024, 1u * 1024 * 1024, lossy);
}

/* One way only: losses are repaired by fast retransmit on duplicate ACKs. */
static void test_one_way_with_loss(void **state) {
  (void)state;
  run_transfer(2u * 1024 * 1024, 0, lossy);
}

static bool a_has_error(void *ctx) {
  struct xfer *x = ctx;
  x->a_err = us_sock_error(x->l->a, x->a.sock);
  return x->a_err != 0;
}

static void test_connect_refused(void **state) {
  (void)state;
  struct us_config ca, cb;
  small_cfg(&ca, US_IP4(10, 0, 0, 1));
  small_cfg(&cb, US_IP4(10, 0, 0, 2));
  struct h_link l;
  h_link_init(&l, &ca, &cb, 7, US_MSEC(1));
  struct xfer x;
  xfer_init(&x, &l, 0, 0);
  assert_int_equal(us_tcp_socket(l.a, &x.a.sock), 0);
  assert_int_equal(
      us_tcp_connect(l.a, x.a.sock, us_endpoint(us_addr_v4(US_IP4(10, 0, 0, 2)), 81), l.now),
      US_ERR_INPROGRESS);
  assert_true(h_link_run(&l, US_SEC(5), a_has_error, &x));
  assert_int_equal(x.a_err, US_ERR_CONNREFUSED);
  char b[4];
  assert_int_equal(us_tcp_recv(l.a, x.a.sock, b, sizeof b, l.now), US_ERR_CONNREFUSED);
  assert_true(us_sock_events(l.a, x.a.sock) & US_EV_ERROR);
  assert_int_equal(us_stack_stat(l.b, US_STAT_tcp_no_socket), 1);
  assert_int_equal(us_tcp_edge_count(l.a, US_TCP_SYN_SENT, US_TCP_CLOSED), 1);
  assert_int_equal(us_tcp_close(l.a, x.a.sock, l.now), 0);
  h_link_run(&l, l.now + US_SEC(1), NULL, NULL);
  h_assert_pools_full(l.a);
  h_assert_pools_full(l.b);
  h_link_fini(&l);
}

/* Allocation failures (docs/ARCHITECTURE.md 3): make the k-th pool allocation of one
 * stack fail, for every k the scenario reaches; whatever happens (a lost
 * segment, US_ERR_NOMEM, a reset), nothing may leak. */
static bool pump_only(void *ctx) {
  struct xfer *x = ctx;
  h_bulk_accept(&x->b, x->lsock);
  if (us_sock_error(x->l->a, x->a.sock) ||
      (us_sock_valid(x->b.sock) && us_sock_error(x->l->b, x->b.sock)))
    return true;
  pump(&x->a, x->l->now);
  pump(&x->b, x->l->now);
  return x->a.eof && x->b.eof;
}

static void test_alloc_failures(void **state) {
  (void)state;
  uint64_t completed = 0;
  for (uint64_t k = 1; k < 400; k++) {
    for (int side = 0; side < 2; side++) {
      struct us_config ca, cb;
      small_cfg(&ca, US_IP4(10, 0, 0, 1));
      small_cfg(&cb, US_IP4(10, 0, 0, 2));
      struct h_link l;
      h_link_init(&l, &ca, &cb, 99, US_MSEC(1));
      struct xfer x;
      xfer_init(&x, &l, 50000, 30000);
      us_stack *victim = side ? l.b : l.a;
      us_stack_fail_alloc_at(victim, k);
      bool ok = us_tcp_socket(l.b, &x.lsock) == 0 && us_tcp_bind(l.b, x.lsock, PORT) == 0 &&
                us_tcp_listen(l.b, x.lsock, 8) == 0;
      ok = ok && us_tcp_socket(l.a, &x.a.sock) == 0 &&
           us_tcp_connect(l.a, x.a.sock, us_endpoint(us_addr_v4(US_IP4(10, 0, 0, 2)), PORT),
                          l.now) == US_ERR_INPROGRESS;
      if (ok && h_link_run(&l, US_SEC(300), pump_only, &x) && x.a.rcvd == x.b.total &&
          x.b.rcvd == x.a.total)
        completed++;
      if (us_sock_valid(x.a.sock))
        us_tcp_close(l.a, x.a.sock, l.now);
      if (us_sock_valid(x.b.sock))
        us_tcp_close(l.b, x.b.sock, l.now);
      if (us_sock_valid(x.lsock))
        us_tcp_close(l.b, x.lsock, l.now);
      us_stack_fail_alloc_at(victim, 0);
      h_link_run(&l, l.now + US_SEC(3600), NULL, NULL);
      h_assert_pools_full(l.a);
      h_assert_pools_full(l.b);
      assert_int_equal(us_stack_stat(l.a, US_STAT_tcp_illegal_transitions), 0);
      assert_int_equal(us_stack_stat(l.b, US_STAT_tcp_illegal_transitions), 0);
      h_link_fini(&l);
    }
  }
  /* Most runs get through: a failed allocation costs a retransmission. */
  assert_true(completed > 400);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_transfer_both_ways), cmocka_unit_test(test_transfer_with_loss),
    cmocka_unit_test(test_one_way_with_loss),  cmocka_unit_test(test_connect_refused),
    cmocka_unit_test(test_alloc_failures),
  };
  return H_RUN("tcp_smoke", tests);
}
