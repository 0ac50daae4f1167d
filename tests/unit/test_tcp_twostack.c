/*
 * test_tcp_twostack.c - two ustack instances in one process, joined by the
 * harness link (harness.h) on one virtual clock, moving megabytes both
 * ways at once. Every byte is compared with a seeded oracle (stronger than
 * comparing digests at the end: the first wrong offset is reported), both
 * sides close (A's server socket and B's client each half-close when done
 * sending, then close after the peer's EOF), the TCBs run out (TIME-WAIT
 * with a short MSL), and every pool of both stacks is full again.
 *
 * Lossy variants drop a seeded 2% of packets in each direction (HOSTILE
 * FLT-1), or drop 1% and duplicate 3% (FLT-2), so retransmission, fast
 * retransmit and reassembly all run under the same byte-exact check. The
 * seed is printed with each run so a failure can be replayed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "harness.h"
#include "tcp_harness.h"

#define ADDR_A US_IP4(10, 0, 0, 1)
#define ADDR_B US_IP4(10, 0, 0, 2)
#define PORT   80

struct app {
  struct h_link *l;
  us_sock_t lsock;
  struct h_bulk a, b; /* A accepts, B connects */
  uint64_t loss_rng;
  uint32_t loss_ppm;
  uint32_t dup_ppm; /* duplicates, delivered one link delay later */
};

static bool pump(void *ctx) {
  struct app *app = ctx;
  us_time_t now = app->l->now;
  h_bulk_accept(&app->a, app->lsock);
  h_bulk_pump(&app->a, now);
  h_bulk_pump(&app->b, now);
  return (app->a.closed && app->b.closed) || h_bulk_failed(&app->a) || h_bulk_failed(&app->b);
}

static bool no_tcbs(void *ctx) {
  struct app *app = ctx;
  struct us_tcp_info v[4];
  return us_tcp_list(app->l->a, v, 4) == 0 && us_tcp_list(app->l->b, v, 4) == 0;
}

/* The link filter: drop with loss_ppm; with dup_ppm queue a copy that
 * arrives one link delay later (after packets sent meanwhile: reordered). */
static bool lossy(void *ctx, int dir, uint8_t *pkt, size_t *len, us_time_t now) {
  struct app *app = ctx;
  (void)now;
  if (h_rand_below(&app->loss_rng, 1000000) < app->loss_ppm)
    return false;
  if (app->dup_ppm && h_rand_below(&app->loss_rng, 1000000) < app->dup_ppm)
    h_link_inject(app->l, dir, pkt, *len);
  return true;
}

static void run_transfer(uint64_t total, uint32_t loss_ppm, uint32_t dup_ppm, uint64_t seed,
                         us_time_t limit) {
  struct us_config ca, cb;
  th_config(&ca);
  th_config(&cb);
  ca.addr = ADDR_A;
  cb.addr = ADDR_B;
  struct h_link *l = calloc(1, sizeof *l);
  assert_non_null(l);
  h_link_init(l, &ca, &cb, seed, US_MSEC(1));
  struct app *app = calloc(1, sizeof *app);
  assert_non_null(app);
  app->l = l;
  app->loss_ppm = loss_ppm;
  app->dup_ppm = dup_ppm;
  app->loss_rng = h_seed(seed);
  h_bulk_init(&app->a, l->a, US_SOCK_INVALID, total, seed * 2 + 1, seed * 2 + 2);
  h_bulk_init(&app->b, l->b, US_SOCK_INVALID, total, seed * 2 + 2, seed * 2 + 1);
  app->a.end = app->b.end = H_BULK_SHUT_CLOSE;
  if (loss_ppm || dup_ppm) {
    l->filter = lossy;
    l->filter_ctx = app;
  }

  assert_int_equal(us_tcp_socket(l->a, &app->lsock), 0);
  assert_int_equal(us_tcp_bind(l->a, app->lsock, PORT), 0);
  assert_int_equal(us_tcp_listen(l->a, app->lsock, 8), 0);
  assert_int_equal(us_tcp_socket(l->b, &app->b.sock), 0);
  int r = us_tcp_connect(l->b, app->b.sock, us_endpoint(us_addr_v4(ADDR_A), PORT), l->now);
  assert_true(r == US_ERR_INPROGRESS || r == 0);

  bool done = h_link_run(l, limit, pump, app);
  int err = app->a.err ? app->a.err : app->b.err; /* the first of either side */
  long long bad_offset = app->a.bad_at >= 0 ? app->a.bad_at : app->b.bad_at;
  if (!done || err || bad_offset >= 0 || !app->a.closed || !app->b.closed) {
    fprintf(stderr,
            "seed %llu loss %u ppm: done=%d err=%s bad_offset=%lld at t=%.3f s\n"
            "  A: sent %llu rcvd %llu shut %d eof %d closed %d\n"
            "  B: sent %llu rcvd %llu shut %d eof %d closed %d\n",
            (unsigned long long)seed, loss_ppm, done, us_err_name(err), bad_offset,
            (double)l->now / 1e6, (unsigned long long)app->a.sent, (unsigned long long)app->a.rcvd,
            app->a.shut, app->a.eof, app->a.closed, (unsigned long long)app->b.sent,
            (unsigned long long)app->b.rcvd, app->b.shut, app->b.eof, app->b.closed);
  }
  fprintf(stderr,
          "  seed %llu, loss %u ppm, dup %u ppm: %llu bytes each way in %.3f s of virtual time; "
          "delivered A->B %llu B->A %llu, dropped %llu/%llu\n",
          (unsigned long long)seed, loss_ppm, dup_ppm, (unsigned long long)total,
          (double)l->now / 1e6, (unsigned long long)l->delivered[0],
          (unsigned long long)l->delivered[1], (unsigned long long)l->dropped[0],
          (unsigned long long)l->dropped[1]);
  assert_true(done);
  assert_int_equal(err, 0);
  assert_true(bad_offset == -1);
  assert_true(app->a.rcvd == total && app->b.rcvd == total);
  assert_true(app->a.sent == total && app->b.sent == total);

  /* The listener goes too; then only TIME-WAIT is left, for 2*MSL. */
  assert_int_equal(us_tcp_close(l->a, app->lsock, l->now), 0);
  bool gone = h_link_run(l, l->now + US_SEC(60), no_tcbs, app);
  if (!gone) {
    struct us_tcp_info v[4];
    size_t na = us_tcp_list(l->a, v, 4);
    for (size_t i = 0; i < na && i < 4; i++)
      fprintf(stderr, "  A left: %s\n", us_tcp_state_name(v[i].state));
    size_t nb = us_tcp_list(l->b, v, 4);
    for (size_t i = 0; i < nb && i < 4; i++)
      fprintf(stderr, "  B left: %s\n", us_tcp_state_name(v[i].state));
  }
  assert_true(gone);
  h_assert_pools_full(l->a);
  h_assert_pools_full(l->b);
  h_link_fini(l);
  free(l);
  free(app);
}

/* 4 MiB each way, both ways at once, clean link. */
static void test_megabytes_both_ways(void **state) {
  (void)state;
  run_transfer(4u << 20, 0, 0, 1, US_SEC(120));
}

/* 1 MiB each way with 2% loss each way, three seeds. */
static void test_lossy_both_ways(void **state) {
  (void)state;
  for (uint64_t seed = 11; seed < 14; seed++)
    run_transfer(1u << 20, 20000, 0, seed, US_SEC(1200));
}

/* 1 MiB each way with 1% loss and 3% duplicated (and so reordered)
 * packets (HOSTILE FLT-2). */
static void test_lossy_duplicating_both_ways(void **state) {
  (void)state;
  for (uint64_t seed = 21; seed < 23; seed++)
    run_transfer(1u << 20, 10000, 30000, seed, US_SEC(1200));
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_megabytes_both_ways),
    cmocka_unit_test(test_lossy_both_ways),
    cmocka_unit_test(test_lossy_duplicating_both_ways),
  };
  return H_RUN("tcp_twostack", tests);
}
