/*
 * test_hostile_res.c - the flow-control/resource and ISN rows of
 * docs/HOSTILE.md: RES-1 (SYN flood), RES-2 (out-of-order flood), RES-3
 * (connection flood: caps), RES-4 (ACK division, dup-ACK spoofing), ISN-1
 * (ISS and ephemeral port unpredictability).
 *
 * "Memory flat" is checked on the pools: every TCB, buffer and
 * out-of-order byte comes from a pool sized at creation, so a bound on the
 * pool usage during the attack is a bound on memory. Every test ends with
 * th_finish() (all pools full).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"
#include "tcp_harness.h"

#define MS(x) US_MSEC(x)

static void finish(struct th *t) {
  th_drain(t);
  th_finish(t);
  th_free(t);
}

/* A bare TCP segment (no options, no payload) from src:sport to S. */
static size_t raw_seg(uint8_t *b, uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport,
                      uint32_t seq, uint32_t ack, uint8_t flags) {
  const struct h_ip *ip = H_IP4(src, dst, 6);
  struct h_tcp t = {
    .sport = sport, .dport = dport, .seq = seq, .ack = ack, .flags = flags, .wnd = 65535
  };
  uint8_t seg[20];
  return h_ip_build(b, ip, seg, h_tcp_build(seg, ip, &t));
}

/* A random unicast source that no check can call martian. */
static uint32_t spoofed_src(uint64_t *x) {
  uint32_t a;
  do {
    a = (uint32_t)h_rand_next(x);
  } while ((a >> 24) == 0 || (a >> 24) == 10 || (a >> 24) == 127 || (a >> 24) >= 224);
  return a;
}

/* ---- RES-1: SYN flood ------------------------------------------------------------ */

static void test_RES_1_syn_flood(void **st) {
  (void)st;
  struct th *t = th_new(NULL);
  /* An established connection from before the flood. */
  th_use(t, 1);
  us_time_t now = th_fx_established(t, 0) + MS(10);
  uint32_t backlog = 16; /* th_fx_listen's */
  struct us_pool_usage u0 = h_pool_usage(t->s);
  struct h_snap sn;
  h_snap_take(t->s, &sn);
  uint64_t rng = h_seed(0xf100d);
  uint8_t b[64];
  uint32_t min_tcb_free = u0.tcb_free;
  bool legit_done = false;
  /* 10 000 SYNs in one second of virtual time. */
  for (int i = 0; i < 10000; i++) {
    us_time_t planned = MS(100) + US_USEC(i * 100);
    now = planned > t->now ? planned : t->now;
    th_advance(t, now);
    raw_seg(b, spoofed_src(&rng), (uint16_t)h_rand_next(&rng), TH_S_ADDR, TH_S_PORT,
            (uint32_t)h_rand_next(&rng), 0, TH_SYN);
    us_stack_input(t->s, b, 40, now);
    us_stack_poll(t->s, now);
    struct us_pool_usage u = h_pool_usage(t->s);
    if (u.tcb_free < min_tcb_free)
      min_tcb_free = u.tcb_free;
    if (i % 500 == 0)
      th_drain(t);
    if (i == 5000) {
      /* A real client in the middle of the flood is served. */
      th_drain(t);
      th_use(t, 0);
      /* The SYN queue is full of the flood's half-open connections, so
       * its SYN-ACK is a stateless SYN cookie (no SYN-RECEIVED TCB). */
      t->c->s_port = TH_S_PORT;
      th_inject(t, now, TSEG(.flags = TH_SYN, .seq = 0, MSS(1460)));
      th_expect(t, now, TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1));
      us_time_t t2 = now + MS(10);
      th_inject(t, t2, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
      th_assert_state(t, US_TCP_ESTABLISHED);
      th_accept(t);
      th_inject(t, t2, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 100));
      th_recv_expect(t, t2, 100);
      legit_done = true;
      th_drain(t);
    }
    if (i == 7000) {
      /* The connection from before the flood still works. */
      th_use(t, 1);
      th_drain(t);
      th_inject(t, now, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 10));
      th_recv_expect(t, now, 10);
      th_drain(t);
    }
  }
  assert_true(legit_done);
  /* Half-open connections are bounded by the backlog: memory is flat. */
  uint32_t held = u0.tcb_free - min_tcb_free;
  if (held > backlog + 2)
    fail_msg("SYN flood held %u TCBs (backlog %u)", held, backlog);
  /* The SYNs past the SYN queue were answered by cookies (or dropped). */
  uint64_t shed = h_snap_delta(t->s, &sn, US_STAT_tcp_listen_drops) +
                  h_snap_delta(t->s, &sn, US_STAT_tcp_syncookies_sent);
  assert_true(shed >= 10000 - backlog - 10);
  th_drain(t);
  /* Once the flood stops, half-open connections time out; the two real
   * connections stay. */
  th_advance(t, now + US_SEC(300));
  th_drain(t);
  struct us_pool_usage u = h_pool_usage(t->s);
  assert_int_equal(u0.tcb_free - u.tcb_free, 1); /* the new legitimate one */
  th_use(t, 1);
  th_assert_state(t, US_TCP_ESTABLISHED);
  finish(t);
}

/* RES-1, the realistic case (issue 6: "SYN cookies once the queue is
 * full"): at 10 000 SYNs/s a real client's ACK comes one RTT (10 ms, 100
 * flood SYNs) after its SYN. Evicting the oldest half-open connection
 * alone loses it; SYN cookies (or any scheme that keeps it) serve it. */
static void test_RES_1_syn_flood_rtt(void **st) {
  (void)st;
  struct th *t = th_new(NULL);
  th_fx_listen(t, 0);
  uint64_t rng = h_seed(0xc00c1e);
  uint8_t b[64];
  us_time_t now = MS(10);
  struct h_snap sn;
  h_snap_take(t->s, &sn);
  /* The flood is on: the SYN queue is full. */
  for (int i = 0; i < 200; i++, now += US_USEC(100)) {
    th_advance(t, now);
    raw_seg(b, spoofed_src(&rng), (uint16_t)h_rand_next(&rng), TH_S_ADDR, TH_S_PORT,
            (uint32_t)h_rand_next(&rng), 0, TH_SYN);
    us_stack_input(t->s, b, 40, now);
    us_stack_poll(t->s, now);
  }
  th_advance(t, now);
  th_drain(t);
  /* The real client's SYN. */
  th_inject(t, now, TSEG(.flags = TH_SYN, .seq = 0, MSS(1460)));
  th_expect(t, now, TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1));
  /* One RTT of flood. */
  for (int i = 0; i < 100; i++) {
    now += US_USEC(100);
    th_advance(t, now);
    raw_seg(b, spoofed_src(&rng), (uint16_t)h_rand_next(&rng), TH_S_ADDR, TH_S_PORT,
            (uint32_t)h_rand_next(&rng), 0, TH_SYN);
    us_stack_input(t->s, b, 40, now);
    us_stack_poll(t->s, now);
  }
  th_advance(t, now);
  th_drain(t);
  /* Its ACK: the connection must be established. */
  th_inject(t, now, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  int st2 = th_state(t);
  if (st2 != US_TCP_ESTABLISHED) {
    unsigned long long ev = h_snap_delta(t->s, &sn, US_STAT_tcp_listen_drops);
    unsigned long long ck = h_snap_delta(t->s, &sn, US_STAT_tcp_syncookies_sent);
    th_free(t);
    fail_msg(
        "real client lost in a SYN flood (state %d, %llu SYN-queue evictions, %llu cookies "
        "sent): no SYN cookies",
        st2, ev, ck);
  }
  th_accept(t);
  th_inject(t, now, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 100));
  th_recv_expect(t, now, 100);
  if (h_snap_delta(t->s, &sn, US_STAT_tcp_syncookies_sent) > 0)
    assert_true(h_snap_delta(t->s, &sn, US_STAT_tcp_syncookies_recv) >= 1);
  finish(t);
}

/* ---- RES-2: out-of-order flood --------------------------------------------------- */

static void tweak_ooo(struct us_config *c) {
  c->tcp_ooo_bytes_max = 2048;
  c->tcp_ooo_bytes_total = 3000;
}

static void test_RES_2_ooo_flood(void **st) {
  (void)st;
  struct us_config cfg;
  th_config(&cfg);
  tweak_ooo(&cfg);
  struct th *t = th_new(&cfg);
  th_use(t, 0);
  us_time_t now = th_fx_established(t, 0) + MS(10);
  th_use(t, 1);
  now = th_fx_established(t, now) + MS(10);
  struct h_snap sn;
  h_snap_take(t->s, &sn);
  /* 5000 one-byte segments on A, each leaving a hole before it. */
  th_use(t, 0);
  for (uint32_t i = 0; i < 5000; i++) {
    th_inject(t, now, TSEG(.flags = TH_ACK, .seq = 3 + 2 * i, .ack = 1, .len = 1));
    struct us_pool_usage u = h_pool_usage(t->s);
    assert_true(u.ooo_bytes <= cfg.tcp_ooo_bytes_max);
    if (i % 256 == 0)
      th_drain(t);
  }
  th_drain(t);
  assert_true(h_snap_delta(t->s, &sn, US_STAT_tcp_ofo_drop) >= 4000);
  assert_true(h_snap_delta(t->s, &sn, US_STAT_tcp_ofo_queue) >= 1);
  /* Beyond the window: ACK, not queued. */
  size_t ooo_before = h_pool_usage(t->s).ooo_bytes;
  th_inject(t, now, TSEG(.flags = TH_ACK, .seq = 5000000, .ack = 1, .len = 100));
  th_expect(t, now, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  assert_int_equal(h_pool_usage(t->s).ooo_bytes, ooo_before);
  /* B: 200-byte pieces with 200-byte holes, against the byte caps (per
   * connection, and all connections together). */
  th_use(t, 1);
  for (uint32_t i = 0; i < 100; i++) {
    th_inject(t, now, TSEG(.flags = TH_ACK, .seq = 201 + 400 * i, .ack = 1, .len = 200));
    struct us_pool_usage u = h_pool_usage(t->s);
    assert_true(u.ooo_bytes <= cfg.tcp_ooo_bytes_total);
    th_drain(t);
  }
  assert_true(h_pool_usage(t->s).ooo_bytes <= cfg.tcp_ooo_bytes_total);
  /* A fills its stream in order: every byte correct, holes filled by P. */
  th_use(t, 0);
  th_inject(t, now + MS(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 20000));
  th_recv_expect(t, now + MS(10), 20000);
  th_use(t, 1);
  for (uint32_t off = 1; off < 40401; off += 1000)
    th_inject(t, now + MS(10), TSEG(.flags = TH_ACK, .seq = off, .ack = 1, .len = 1000));
  th_recv_expect(t, now + MS(10), 40400);
  th_drain(t);
  assert_int_equal(h_pool_usage(t->s).ooo_bytes, 0);
  finish(t);
}

/* ---- RES-3: connection flood against the caps ------------------------------------- */

static void test_RES_3_connection_caps(void **st) {
  (void)st;
  struct us_config cfg;
  th_config(&cfg);
  cfg.max_tcp_sockets = 12;
  cfg.tcp_backlog_max = 4;
  struct th *t = th_new(&cfg);
  th_listen(t, TH_S_PORT, 100); /* clamped to 4 */
  struct h_snap sn;
  h_snap_take(t->s, &sn);
  uint8_t b[64];
  us_time_t now = MS(10);
  /* 50 clients complete handshakes; the application accepts nothing. */
  for (int i = 0; i < 50; i++) {
    uint32_t src = US_IP4(10, 0, 0, 100);
    uint16_t sport = (uint16_t)(20000 + i);
    th_advance(t, now);
    th_drain(t);
    raw_seg(b, src, sport, TH_S_ADDR, TH_S_PORT, 1000, 0, TH_SYN);
    us_stack_input(t->s, b, 40, now);
    us_stack_poll(t->s, now);
    struct th_pkt p;
    uint32_t iss = 0;
    bool synack = false;
    while (th_pop(t, &p))
      if (p.ok && p.dport == sport && p.flags == (TH_SYN | TH_ACK)) {
        iss = p.seq;
        synack = true;
      }
    if (synack) {
      raw_seg(b, src, sport, TH_S_ADDR, TH_S_PORT, 1001, iss + 1, TH_ACK);
      us_stack_input(t->s, b, 40, now);
      us_stack_poll(t->s, now);
    }
    struct us_pool_usage u = h_pool_usage(t->s);
    assert_true(u.tcb_total - u.tcb_free <= cfg.max_tcp_sockets);
    now += MS(1);
  }
  th_drain(t);
  /* The accept queue never exceeded the backlog; overflows were counted. */
  int accepted = 0;
  us_sock_t k;
  while (us_tcp_accept(t->s, t->lsock, &k, NULL) == 0) {
    th_track(t, k);
    accepted++;
  }
  assert_true(accepted >= 1 && accepted <= 4);
  assert_true(h_snap_delta(t->s, &sn, US_STAT_tcp_listen_overflows) +
                  h_snap_delta(t->s, &sn, US_STAT_tcp_listen_drops) +
                  h_snap_delta(t->s, &sn, US_STAT_tcp_no_tcb) >=
              40);
  /* A well-behaved client is served once there is room. */
  th_use(t, 0);
  th_fx_established(t, now + MS(10));
  th_inject(t, now + MS(20), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 10));
  th_recv_expect(t, now + MS(20), 10);
  /* Slowloris: the accepted connections dribble one byte every 10 s for
   * ten minutes; nothing grows. */
  struct us_pool_usage u0 = h_pool_usage(t->s);
  for (int i = 0; i < 60; i++) {
    us_time_t at = now + MS(100) + US_SEC(10) * i;
    th_inject(t, at, TSEG(.flags = TH_ACK, .seq = 11 + (uint32_t)i, .ack = 1, .len = 1));
    th_drain(t);
    struct us_pool_usage u = h_pool_usage(t->s);
    assert_true(u.tcb_free >= u0.tcb_free);
    /* The unread bytes are packed into one buffer (tcp_rcvq.c), not one
     * per segment. */
    assert_true(u.pkt_free >= u.pkt_total - 1);
  }
  th_recv_expect(t, now + MS(100) + US_SEC(600), 60);
  finish(t);
}

/* ---- RES-4: ACK division, duplicate-ACK spoofing ------------------------------------ */

static void test_RES_4_ack_division(void **st) {
  (void)st;
  struct th *t = th_new(NULL);
  us_time_t now = th_fx_established(t, 0) + MS(10);
  assert_int_equal(th_send(t, now, 60000), 60000);
  th_advance(t, now + MS(1));
  th_drain(t);
  struct us_tcp_info in0, in;
  assert_true(th_info(t, &in0));
  uint32_t mss = in0.mss;
  /* ACK the first segment one byte at a time. */
  now += MS(50);
  for (uint32_t a = 2; a <= 1 + mss; a++)
    th_inject(t, now, TSEG(.flags = TH_ACK, .seq = 1, .ack = a));
  assert_true(th_info(t, &in));
  /* ABC (RFC 3465): growth bounded by the bytes acknowledged (L = 2). */
  if (in.cwnd > in0.cwnd + 2 * mss)
    fail_msg("cwnd grew from %u to %u on %u bytes of ACKs", in0.cwnd, in.cwnd, mss);
  th_drain(t);

  /* 100 duplicate ACKs: at most one fast retransmission per window. */
  struct h_snap sn;
  h_snap_take(t->s, &sn);
  for (int i = 0; i < 100; i++)
    th_inject(t, now + MS(1), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1 + mss));
  assert_true(h_snap_delta(t->s, &sn, US_STAT_tcp_fast_retrans) <= 1);
  assert_true(h_snap_delta(t->s, &sn, US_STAT_tcp_retrans_segs) <= 2);
  assert_true(th_info(t, &in));
  assert_true(in.snd_nxt - in.snd_una <= 60000);
  th_drain(t);
  /* Everything acknowledged at once: the connection is sane. */
  th_inject(t, now + MS(2),
            TSEG(.flags = TH_ACK, .seq = 1, .ack = 1 + (uint32_t)(in.snd_nxt - t->c->s_isn - 1)));
  th_drain(t);
  th_assert_state(t, US_TCP_ESTABLISHED);
  finish(t);
}

/* ---- ISN-1: ISS and ephemeral ports ------------------------------------------------- */

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

/* S's ISS for a SYN from 10.0.0.1:sport to :80 at `now`; the half-open
 * connection is reset again right away. */
static uint32_t iss_for(struct h_stack *h, uint16_t sport, us_time_t now) {
  uint8_t b[64];
  h_capture_reset(&h->cap);
  raw_seg(b, US_IP4(10, 0, 0, 1), sport, US_IP4(10, 0, 0, 2), 80, 777, 0, TH_SYN);
  h_input(h, b, 40, now);
  h_poll(h, now);
  const struct h_pkt *p = h_capture_take(&h->cap);
  assert_non_null(p);
  assert_int_equal(p->data[20 + 13], TH_SYN | TH_ACK);
  uint32_t iss = h_rd32(p->data + 24);
  raw_seg(b, US_IP4(10, 0, 0, 1), sport, US_IP4(10, 0, 0, 2), 80, 778, 0, TH_RST);
  h_input(h, b, 40, now);
  h_poll(h, now);
  h_capture_reset(&h->cap);
  return iss;
}

static us_sock_t listen80(struct h_stack *h) {
  us_sock_t l;
  assert_int_equal(us_tcp_socket(h->s, &l), 0);
  assert_int_equal(us_tcp_bind(h->s, l, 80), 0);
  assert_int_equal(us_tcp_listen(h->s, l, 16), 0);
  return l;
}

static void test_ISN_1_unpredictable(void **st) {
  (void)st;
  enum { N = 1000 };
  struct h_stack h;
  h_stack_init(&h, 0x15a1, NULL);
  us_sock_t l = listen80(&h);
  static uint32_t iss[N], sorted[N];
  for (int i = 0; i < N; i++)
    iss[i] = iss_for(&h, (uint16_t)(30000 + i), MS(i));
  /* All different; consecutive differences not a constant or a few values. */
  memcpy(sorted, iss, sizeof iss);
  qsort(sorted, N, sizeof sorted[0], cmp_u32);
  for (int i = 1; i < N; i++)
    assert_true(sorted[i] != sorted[i - 1]);
  static uint32_t d[N];
  for (int i = 1; i < N; i++)
    d[i - 1] = iss[i] - iss[i - 1];
  qsort(d, N - 1, sizeof d[0], cmp_u32);
  int distinct = 1;
  for (int i = 1; i < N - 1; i++)
    distinct += d[i] != d[i - 1];
  assert_true(distinct > N * 9 / 10);
  /* Bits look uniform: each of the 32 bits set in 35..65 % of ISSs. */
  for (int bit = 0; bit < 32; bit++) {
    int ones = 0;
    for (int i = 0; i < N; i++)
      ones += (iss[i] >> bit) & 1;
    if (ones < N * 35 / 100 || ones > N * 65 / 100)
      fail_msg("ISS bit %d set in %d of %d", bit, ones, N);
  }
  /* The same 4-tuple later: moves forward with the clock (RFC 6528 M). */
  uint32_t a = iss_for(&h, 30000, US_SEC(10));
  uint32_t b2 = iss_for(&h, 30000, US_SEC(20));
  assert_true((int32_t)(b2 - a) > 0);

  /* Ephemeral ports of 300 active opens, each to another destination
   * port: not a sequence (RFC 6056). */
  static uint16_t ports[300];
  for (int i = 0; i < 300; i++) {
    us_sock_t k;
    assert_int_equal(us_tcp_socket(h.s, &k), 0);
    int r = us_tcp_connect(
        h.s, k, us_endpoint(us_addr_v4(US_IP4(10, 0, 0, 1)), (uint16_t)(1000 + i)), US_SEC(30));
    assert_true(r == US_ERR_INPROGRESS || r == 0);
    us_endpoint_t local;
    assert_int_equal(us_tcp_addrs(h.s, k, &local, NULL), 0);
    ports[i] = local.port;
    assert_true(ports[i] >= 1024);
    us_tcp_abort(h.s, k, US_SEC(30));
  }
  int seq_steps = 0;
  for (int i = 1; i < 300; i++)
    seq_steps += (uint16_t)(ports[i] - ports[i - 1]) <= 2;
  if (seq_steps > 30)
    fail_msg("%d of 299 ephemeral ports follow their predecessor", seq_steps);
  h_capture_reset(&h.cap);
  us_tcp_close(h.s, l, US_SEC(30));
  h_poll(&h, US_SEC(400));
  h_capture_reset(&h.cap);
  h_assert_pools_full(h.s);
  h_stack_fini(&h);

  /* Across restarts (a new secret): the same 4-tuple at the same time
   * gets a different ISS. */
  uint32_t first[8];
  uint16_t first_port[8];
  for (int r = 0; r < 8; r++) {
    struct h_stack h2;
    h_stack_init(&h2, 0x1000 + (uint64_t)r * 7919, NULL);
    us_sock_t l2 = listen80(&h2);
    first[r] = iss_for(&h2, 40000, MS(5));
    for (int q = 0; q < r; q++)
      assert_true(first[q] != first[r]);
    us_sock_t k;
    assert_int_equal(us_tcp_socket(h2.s, &k), 0);
    int rc = us_tcp_connect(h2.s, k, us_endpoint(us_addr_v4(US_IP4(10, 0, 0, 1)), 443), MS(6));
    assert_true(rc == US_ERR_INPROGRESS || rc == 0);
    us_endpoint_t local;
    assert_int_equal(us_tcp_addrs(h2.s, k, &local, NULL), 0);
    first_port[r] = local.port;
    us_tcp_abort(h2.s, k, MS(6));
    us_tcp_close(h2.s, l2, MS(6));
    h_poll(&h2, US_SEC(10));
    h_capture_reset(&h2.cap);
    h_assert_pools_full(h2.s);
    h_stack_fini(&h2);
  }
  /* The first ephemeral port to one destination differs across restarts. */
  int same = 0;
  for (int r = 1; r < 8; r++)
    same += first_port[r] == first_port[0];
  assert_true(same <= 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_RES_1_syn_flood),    cmocka_unit_test(test_RES_1_syn_flood_rtt),
    cmocka_unit_test(test_RES_2_ooo_flood),    cmocka_unit_test(test_RES_3_connection_caps),
    cmocka_unit_test(test_RES_4_ack_division), cmocka_unit_test(test_ISN_1_unpredictable),
  };
  return H_RUN("hostile_res", tests);
}
