/*
 * test_exhaustion.c - the pool-exhaustion loop (docs/ARCHITECTURE.md 3, issue 6):
 * SQLite-style fault simulation on two stacks joined back to back.
 *
 * For each scenario and each side (A = 10.0.0.1, B = 10.0.0.2), a first run
 * without faults counts the pool allocations the scenario makes on that
 * side. Then for k = 1, 2, ... the scenario runs again on fresh stacks with
 * the k-th allocation of that side made to fail (us_stack_fail_alloc_at),
 * and must either complete (every byte right) or degrade cleanly: a drop
 * that retransmission repairs, an RST, or an error handed to the
 * application (US_ERR_NOMEM, a sticky socket error). What it must never do:
 * crash, corrupt data, hang on the virtual clock (every run has a bounded
 * virtual time), or leak: after the application closes everything and the
 * clock runs out the timers, every pool of both stacks is full. The loop
 * stops at the first k where no failure was injected.
 *
 * Scenarios: TCP (handshake, 100 KB A -> B, close), UDP (small datagrams
 * and one fragmented 3000-byte datagram, echoed back), and a fragmented
 * ping (A's echo request of 3000 bytes; B reassembles, answers in
 * fragments, A reassembles the reply).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/testing.h"
#include "harness.h"

#define A_ADDR      US_IP4(10, 0, 0, 1)
#define B_ADDR      US_IP4(10, 0, 0, 2)
#define TCP_BYTES   (100u * 1024u)
#define ORACLE_SEED 0xe4a05ull
#define MAX_K       5000

enum side { SIDE_A = 0, SIDE_B = 1 };

struct run {
  struct h_link l;
  us_stack *victim; /* the side whose k-th allocation fails */
  bool degraded;    /* an error reached the application */
  bool done;
  const char *why; /* first error seen, for the log */
  /* TCP: A sends and closes, B reads to the EOF and closes */
  us_sock_t lb;
  struct h_bulk ta, tb;
  /* UDP */
  us_sock_t ua, ub;
  uint32_t udp_sent, udp_back;
  us_time_t deadline;
};

static uint8_t buf[65536];

static void cfg_for(struct us_config *c, us_ip4_t addr) {
  us_config_default(c);
  c->addr = addr;
  c->tcp_msl = US_SEC(1);
  /* Small pools: creating ~1000 stack pairs must stay cheap. */
  c->pkt_count = 256;
  c->max_tcp_sockets = 8;
  c->max_udp_sockets = 8;
  c->tcp_sndbuf = 64u * 1024u;
  c->tcp_rcvbuf = 64u * 1024u;
  c->reass_contexts = 4;
  c->reass_bytes_max = 4u * 65536u;
}

static void run_init(struct run *r, enum side side, uint64_t k) {
  memset(r, 0, sizeof *r);
  struct us_config a, b;
  cfg_for(&a, A_ADDR);
  cfg_for(&b, B_ADDR);
  h_link_init(&r->l, &a, &b, 0xe4, US_MSEC(1));
  r->victim = side == SIDE_A ? r->l.a : r->l.b;
  if (k)
    us_stack_fail_alloc_at(r->victim, k);
}

static void degrade(struct run *r, const char *why) {
  if (!r->degraded)
    r->why = why;
  r->degraded = true;
}

static bool pools_full(void *ctx) {
  struct run *r = ctx;
  return us_stack_pools_full(r->l.a) && us_stack_pools_full(r->l.b);
}

/* Close what the application holds, let the timers run out (bounded), and
 * check every pool of both stacks. */
static void teardown_and_check(struct run *r, uint64_t k, const char *scenario, enum side side) {
  us_time_t now = r->l.now;
  if (us_sock_valid(r->ta.sock) && !r->ta.closed)
    us_tcp_abort(r->l.a, r->ta.sock, now);
  if (us_sock_valid(r->tb.sock) && !r->tb.closed)
    us_tcp_close(r->l.b, r->tb.sock, now);
  if (us_sock_valid(r->lb))
    us_tcp_close(r->l.b, r->lb, now);
  if (us_sock_valid(r->ua))
    us_udp_close(r->l.a, r->ua);
  if (us_sock_valid(r->ub))
    us_udp_close(r->l.b, r->ub);
  h_link_run(&r->l, now + US_SEC(3600), pools_full, r);
  if (!pools_full(r)) {
    struct us_pool_usage u;
    us_stack_pool_usage(r->l.a, &u);
    fprintf(
        stderr,
        "%s, fail at k=%llu on %c (replay: US_EXH_ONLY=%llu:%c): A pkt %u/%u big %u/%u tcb %u/%u udp %u/%u reass %u\n",
        scenario, (unsigned long long)k, side == SIDE_A ? 'A' : 'B', (unsigned long long)k,
        side == SIDE_A ? 'A' : 'B', u.pkt_free, u.pkt_total, u.big_free, u.big_total, u.tcb_free,
        u.tcb_total, u.udp_free, u.udp_total, u.reass_active);
    us_stack_pool_usage(r->l.b, &u);
    fprintf(stderr, "  B pkt %u/%u big %u/%u tcb %u/%u udp %u/%u reass %u\n", u.pkt_free,
            u.pkt_total, u.big_free, u.big_total, u.tcb_free, u.tcb_total, u.udp_free, u.udp_total,
            u.reass_active);
    struct us_tcp_info ti[8];
    size_t n = us_tcp_list(r->l.a, ti, 8);
    for (size_t i = 0; i < n && i < 8; i++)
      fprintf(stderr, "  A TCB %s timer %s\n", us_tcp_state_name(ti[i].state), ti[i].timer);
    n = us_tcp_list(r->l.b, ti, 8);
    for (size_t i = 0; i < n && i < 8; i++)
      fprintf(stderr, "  B TCB %s timer %s\n", us_tcp_state_name(ti[i].state), ti[i].timer);
  }
  assert_true(us_stack_pools_full(r->l.a));
  assert_true(us_stack_pools_full(r->l.b));
}

/* ---- TCP: handshake, 100 KB, close ------------------------------------------------ */

static bool tcp_app(void *ctx) {
  struct run *r = ctx;
  us_time_t now = r->l.now;
  if (!us_sock_valid(r->tb.sock)) {
    int e = us_tcp_accept(r->l.b, r->lb, &r->tb.sock, NULL);
    if (e != 0 && e != US_ERR_AGAIN)
      degrade(r, "accept");
  }
  h_bulk_pump(&r->ta, now);
  h_bulk_pump(&r->tb, now);
  if (r->ta.err)
    degrade(r, "A: socket error or failed call");
  if (r->tb.err)
    degrade(r, "B: socket error or failed call");
  if (r->tb.bad_at >= 0)
    fail_msg("TCP byte %lld corrupted", r->tb.bad_at);
  if (r->tb.eof) {
    /* EOF only after every byte. */
    assert_int_equal(r->tb.rcvd, TCP_BYTES);
    return true;
  }
  return r->degraded;
}

/* Returns the allocations the victim made during the run. */
static uint64_t scenario_tcp(enum side side, uint64_t k) {
  struct run r;
  run_init(&r, side, k);
  uint64_t c0 = us_stack_alloc_count(r.victim);
  us_stack *a = r.l.a, *b = r.l.b;
  h_bulk_init(&r.ta, a, US_SOCK_INVALID, TCP_BYTES, ORACLE_SEED, 0);
  h_bulk_init(&r.tb, b, US_SOCK_INVALID, 0, 0, ORACLE_SEED);
  r.ta.chunk = 8192;
  r.ta.end = r.tb.end = H_BULK_CLOSE;
  int e = us_tcp_socket(b, &r.lb);
  if (e == 0)
    e = us_tcp_bind(b, r.lb, 80);
  if (e == 0)
    e = us_tcp_listen(b, r.lb, 8);
  if (e != 0) {
    assert_int_equal(e, US_ERR_NOMEM);
    degrade(&r, "listen");
  }
  if (!r.degraded) {
    e = us_tcp_socket(a, &r.ta.sock);
    if (e == 0)
      e = us_tcp_connect(a, r.ta.sock, us_endpoint(us_addr_v4(B_ADDR), 80), 0);
    if (e != 0 && e != US_ERR_INPROGRESS) {
      assert_int_equal(e, US_ERR_NOMEM);
      degrade(&r, "connect");
    }
  }
  if (!r.degraded) {
    bool ok = h_link_run(&r.l, US_SEC(1800), tcp_app, &r);
    if (!ok)
      fail_msg(
          "TCP, fail at k=%llu on %c: no completion and no error after 30 min (sent %zu, "
          "received %zu)",
          (unsigned long long)k, side == SIDE_A ? 'A' : 'B', (size_t)r.ta.sent, (size_t)r.tb.rcvd);
  }
  if (k == 0) {
    assert_false(r.degraded);
    assert_int_equal(r.tb.rcvd, TCP_BYTES);
  }
  uint64_t used = us_stack_alloc_count(r.victim) - c0;
  teardown_and_check(&r, k, "TCP", side);
  h_link_fini(&r.l);
  return used;
}

/* ---- UDP: small datagrams and a fragmented one, echoed --------------------------------- */

static size_t udp_len(uint32_t i) { return i == 10 ? 3000 : 100 + i; }

static bool udp_app(void *ctx) {
  struct run *r = ctx;
  us_stack *a = r->l.a, *b = r->l.b;
  us_time_t now = r->l.now;
  for (int n = 0; n < 32; n++) {
    us_endpoint_t src;
    long got = us_udp_recvfrom(b, r->ub, buf, sizeof buf, &src);
    if (got < 0)
      break;
    long w = us_udp_sendto(b, r->ub, src, buf, (size_t)got, now);
    if (w < 0)
      degrade(r, "B sendto");
  }
  for (int n = 0; n < 32; n++) {
    long got = us_udp_recvfrom(a, r->ua, buf, sizeof buf, NULL);
    if (got < 0)
      break;
    uint32_t id = buf[0];
    assert_true(id <= 10);
    assert_int_equal((size_t)got, udp_len(id));
    for (long j = 1; j < got; j++)
      assert_int_equal(buf[j], (uint8_t)(id * 31 + (uint32_t)j));
    r->udp_back++;
  }
  return r->udp_back == 11 || now >= r->deadline;
}

static uint64_t scenario_udp(enum side side, uint64_t k) {
  struct run r;
  run_init(&r, side, k);
  uint64_t c0 = us_stack_alloc_count(r.victim);
  us_stack *a = r.l.a, *b = r.l.b;
  int e = us_udp_open(b, &r.ub);
  if (e == 0)
    e = us_udp_bind(b, r.ub, 7);
  if (e == 0)
    e = us_udp_open(a, &r.ua);
  if (e != 0) {
    assert_int_equal(e, US_ERR_NOMEM);
    degrade(&r, "udp open");
  } else {
    for (uint32_t i = 0; i <= 10; i++) {
      size_t n = udp_len(i);
      buf[0] = (uint8_t)i;
      for (size_t j = 1; j < n; j++)
        buf[j] = (uint8_t)(i * 31 + (uint32_t)j);
      long w = us_udp_sendto(a, r.ua, us_endpoint(us_addr_v4(B_ADDR), 7), buf, n, 0);
      if (w < 0) {
        assert_true(w == US_ERR_NOMEM || w == US_ERR_NOBUFS);
        degrade(&r, "A sendto");
      } else {
        assert_int_equal(w, n);
        r.udp_sent++;
      }
    }
    r.deadline = US_SEC(5);
    h_link_run(&r.l, US_SEC(10), udp_app, &r);
    assert_true(r.udp_back <= r.udp_sent);
    if (k == 0)
      assert_int_equal(r.udp_back, 11);
  }
  uint64_t used = us_stack_alloc_count(r.victim) - c0;
  teardown_and_check(&r, k, "UDP", side);
  h_link_fini(&r.l);
  return used;
}

/* ---- fragmented ping ----------------------------------------------------------------------- */

/* A 3000-byte echo request from A to B, as A would have fragmented it. */
static void inject_ping(struct run *r) {
  static uint8_t data[3000], icmp[3008];
  for (size_t i = 0; i < sizeof data; i++)
    data[i] = (uint8_t)((i + 8) * 7);
  h_icmp_build(icmp, 8, 0, 0x12340001u, data, sizeof data);
  for (size_t off = 0; off < sizeof icmp; off += 1480) {
    size_t n = sizeof icmp - off < 1480 ? sizeof icmp - off : 1480;
    uint8_t pkt[1500];
    struct h_ip ih = { .src = US_IP4(10, 0, 0, 1),
                       .dst = US_IP4(10, 0, 0, 2),
                       .proto = 1,
                       .id = 0x7777,
                       .frag_off = (uint16_t)off,
                       .mf = off + n < sizeof icmp };
    h_link_inject(&r->l, 0, pkt, h_ip_build(pkt, &ih, icmp + off, n));
  }
}

static bool ping_app(void *ctx) {
  struct run *r = ctx;
  return us_stack_stat(r->l.a, US_STAT_icmp_in_echo_reps) > 0 || r->l.now >= r->deadline;
}

static uint64_t scenario_ping(enum side side, uint64_t k) {
  struct run r;
  run_init(&r, side, k);
  uint64_t c0 = us_stack_alloc_count(r.victim);
  inject_ping(&r);
  r.deadline = US_SEC(5);
  h_link_run(&r.l, US_SEC(10), ping_app, &r);
  uint64_t reps = us_stack_stat(r.l.a, US_STAT_icmp_in_echo_reps);
  assert_true(reps <= 1);
  if (k == 0) {
    assert_int_equal(reps, 1);
    assert_int_equal(us_stack_stat(r.l.a, US_STAT_ip_reasm_oks), 1);
  }
  uint64_t used = us_stack_alloc_count(r.victim) - c0;
  teardown_and_check(&r, k, "ping", side);
  h_link_fini(&r.l);
  return used;
}

/* ---- the loop ------------------------------------------------------------------------------ */

/* US_EXH_ONLY=<k>:<A|B> replays one run (with US_TEST_LOG=debug for the
 * stacks' logs) instead of the whole loop. */
static bool only(int *side, uint64_t *k) {
  const char *e = getenv("US_EXH_ONLY");
  char c = 0;
  unsigned long long v = 0;
  if (!e || sscanf(e, "%llu:%c", &v, &c) != 2 || (c != 'A' && c != 'B'))
    return false;
  *k = v;
  *side = c == 'A' ? SIDE_A : SIDE_B;
  return true;
}

static void exhaust(uint64_t (*scenario)(enum side, uint64_t), const char *name) {
  int one_side;
  uint64_t one_k;
  if (only(&one_side, &one_k)) {
    scenario((enum side)one_side, one_k);
    return;
  }
  for (int sd = SIDE_A; sd <= SIDE_B; sd++) {
    uint64_t base = scenario((enum side)sd, 0);
    assert_true(base > 0);
    uint64_t k = 1;
    for (; k <= MAX_K; k++) {
      uint64_t used = scenario((enum side)sd, k);
      if (used < k)
        break; /* the k-th allocation never happened: no failure injected */
    }
    assert_true(k <= MAX_K);
    fprintf(stderr, "  %s on %c: %llu allocations without faults; every one failed in turn\n", name,
            sd == SIDE_A ? 'A' : 'B', (unsigned long long)base);
  }
}

static void test_exhaustion_tcp(void **st) {
  (void)st;
  exhaust(scenario_tcp, "TCP handshake + 100 KB + close");
}

static void test_exhaustion_udp(void **st) {
  (void)st;
  exhaust(scenario_udp, "UDP exchange");
}

static void test_exhaustion_ping(void **st) {
  (void)st;
  exhaust(scenario_ping, "fragmented ping");
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_exhaustion_udp),
    cmocka_unit_test(test_exhaustion_ping),
    cmocka_unit_test(test_exhaustion_tcp),
  };
  return H_RUN("exhaustion", tests);
}
