/*
 * test_fault_rules.c - the fault injector's blackholes and rules: count and skip, every match
 * atom (stack/fault/fault_match.c), when=handshake, a rule that delays a
 * FIN, time windows and each action.
 *
 * On a virtual clock; statistical tolerances are a few standard deviations
 * wide and the seeds are fixed, so the runs are exact replays and cannot
 * flake. Helpers are in fault_test.h.
 */
#include "fault_test.h"

/* ---- 10. Blackhole ------------------------------------------------------ */

static void test_blackhole(void **state) {
  (void)state;
  struct us_fault *f = mk("tx:blackhole=5s-25s", 1);
  struct sink *s = sink_new(f);
  struct sink *stx = sink_new(f);
  uint8_t b[MAXPKT];
  const us_time_t t0 = 1000000000; /* the origin is the first `now` seen */
  for (uint32_t i = 0; i < 300; i++) {
    us_time_t now = t0 + (us_time_t)i * 100000;
    size_t len = mk_udp(b, 1, 2, 8, i);
    us_fault_process(f, US_FAULT_TX, b, len, now, sink_deliver, stx);
    us_fault_process(f, US_FAULT_RX, b, len, now, sink_deliver, s);
  }
  struct us_fault_counters tx, rx;
  us_fault_counters(f, US_FAULT_TX, &tx);
  us_fault_counters(f, US_FAULT_RX, &rx);
  assert_int_equal(tx.blackholed, 200); /* packets 50..249 */
  assert_int_equal(tx.delivered, 100);
  assert_int_equal(rx.delivered, 300);
  assert_int_equal(rx.blackholed, 0);
  assert_int_equal(stx->n, 100);
  for (size_t i = 0; i < stx->n; i++)
    assert_true(stx->id[i] < 50 || stx->id[i] >= 250);
  free(stx);

  /* us_fault_set restarts the clock origin: a new window counts from the
   * next packet. Open-ended windows last until cleared. */
  char err[256];
  assert_int_equal(us_fault_set(f, "rx:blackhole=1s-", err, sizeof err), 0);
  us_time_t t1 = t0 + 100000000;
  size_t len = mk_udp(b, 1, 2, 8, 1);
  us_fault_process(f, US_FAULT_RX, b, len, t1, sink_deliver, s);
  us_fault_process(f, US_FAULT_RX, b, len, t1 + 999999, sink_deliver, s);
  us_fault_process(f, US_FAULT_RX, b, len, t1 + 1000000, sink_deliver, s);
  us_fault_process(f, US_FAULT_RX, b, len, t1 + 3600000000ll, sink_deliver, s);
  us_fault_counters(f, US_FAULT_RX, &rx);
  assert_int_equal(rx.blackholed, 2);
  us_fault_clear(f);
  us_fault_process(f, US_FAULT_RX, b, len, t1 + 3600000001ll, sink_deliver, s);
  us_fault_counters(f, US_FAULT_RX, &rx);
  assert_int_equal(rx.blackholed, 2);
  assert_int_equal(rx.delivered, 303);
  us_fault_destroy(f);
  free(s);
}

/* ---- 11. Rules ---------------------------------------------------------- */

static void test_rule_count_and_skip(void **state) {
  (void)state;
  /* "drop the first 2 SYN-ACKs" */
  struct us_fault *f = mk("tx:match=tcp.synack,count=2,action=drop", 1);
  struct sink *s = sink_new(f);
  uint8_t b[MAXPKT];
  uint32_t id = 0;
  for (int round = 0; round < 4; round++) {
    size_t len = mk_tcp(b, IP_B, IP_A, 80, 5000, 0x12, 0, id++); /* SYN-ACK */
    us_fault_process(f, US_FAULT_TX, b, len, round, sink_deliver, s);
    len = mk_tcp(b, IP_B, IP_A, 80, 5000, 0x02, 0, id++); /* SYN */
    us_fault_process(f, US_FAULT_TX, b, len, round, sink_deliver, s);
    len = mk_tcp(b, IP_B, IP_A, 80, 5000, 0x12, 0, id++); /* SYN-ACK on RX */
    us_fault_process(f, US_FAULT_RX, b, len, round, sink_deliver, s);
  }
  struct us_fault_counters c;
  us_fault_counters(f, US_FAULT_TX, &c);
  assert_int_equal(c.rule_dropped, 2);
  assert_int_equal(c.delivered, 6);
  /* Ids 0 and 3 (the first two TX SYN-ACKs) never came out. */
  for (size_t i = 0; i < s->n; i++)
    assert_true(s->id[i] != 0 && s->id[i] != 3);
  assert_int_equal(s->n, 10);
  us_fault_destroy(f);
  free(s);

  /* skip=1,count=1: only the second SYN is dropped. */
  f = mk("match=tcp.syn,skip=1,count=1,action=drop", 1);
  s = sink_new(f);
  for (uint32_t i = 0; i < 4; i++) {
    size_t len = mk_tcp(b, IP_A, IP_B, 5000, 80, 0x02, 0, i);
    us_fault_process(f, US_FAULT_RX, b, len, i, sink_deliver, s);
  }
  assert_int_equal(s->n, 3);
  assert_int_equal(s->id[0], 0);
  assert_int_equal(s->id[1], 2);
  assert_int_equal(s->id[2], 3);
  us_fault_destroy(f);
  free(s);
}

static void test_rule_match_atoms(void **state) {
  (void)state;
  struct {
    const char *match;
    uint8_t proto; /* 6 tcp, 17 udp */
    uint8_t flags;
    size_t payload;
    uint16_t sport, dport;
    bool want;
  } cases[] = {
    { "tcp", 6, 0x10, 0, 1, 2, true },
    { "tcp", 17, 0, 0, 1, 2, false },
    { "udp", 17, 0, 0, 1, 2, true },
    { "ip", 17, 0, 0, 1, 2, true },
    { "icmp", 6, 0, 0, 1, 2, false },
    { "tcp.syn", 6, 0x02, 0, 1, 2, true },
    { "tcp.syn", 6, 0x12, 0, 1, 2, false },
    { "tcp.synack", 6, 0x12, 0, 1, 2, true },
    { "tcp.ack", 6, 0x12, 0, 1, 2, true },
    { "tcp.ack", 6, 0x02, 0, 1, 2, false },
    { "tcp.pureack", 6, 0x10, 0, 1, 2, true },
    { "tcp.pureack", 6, 0x10, 5, 1, 2, false },
    { "tcp.pureack", 6, 0x11, 0, 1, 2, false },
    { "tcp.fin", 6, 0x11, 0, 1, 2, true },
    { "tcp.rst", 6, 0x04, 0, 1, 2, true },
    { "tcp.psh", 6, 0x18, 3, 1, 2, true },
    { "tcp.urg", 6, 0x30, 3, 1, 2, true },
    { "data", 6, 0x18, 3, 1, 2, true },
    { "data", 6, 0x10, 0, 1, 2, false },
    { "data", 17, 0, 1, 1, 2, true },
    { "tcp.ack&!data", 6, 0x10, 0, 1, 2, true },
    { "tcp.ack&!data", 6, 0x10, 9, 1, 2, false },
    { "sport:80", 6, 0x10, 0, 80, 2, true },
    { "sport:80", 6, 0x10, 0, 2, 80, false },
    { "dport:80", 6, 0x10, 0, 2, 80, true },
    { "port:80", 17, 0, 0, 2, 80, true },
    { "port:80", 17, 0, 0, 80, 2, true },
    { "port:80", 17, 0, 0, 81, 2, false },
    { "udp&dport:53", 17, 0, 0, 9, 53, true },
    { "udp&dport:53", 6, 0, 0, 9, 53, false },
    { "tcp&!dport:80", 6, 0x10, 0, 1, 80, false },
    { "tcp&!dport:80", 6, 0x10, 0, 1, 81, true },
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char spec[128];
    snprintf(spec, sizeof spec, "rx:match=%s,action=drop", cases[i].match);
    struct us_fault *f = mk(spec, 1);
    struct sink *s = sink_new(f);
    uint8_t b[MAXPKT];
    size_t len = cases[i].proto == 6
                     ? mk_tcp(b, IP_A, IP_B, cases[i].sport, cases[i].dport, cases[i].flags,
                              cases[i].payload, 1)
                     : mk_udp(b, cases[i].sport, cases[i].dport, cases[i].payload, 1);
    us_fault_process(f, US_FAULT_RX, b, len, 0, sink_deliver, s);
    if ((s->n == 0) != cases[i].want)
      fail_msg("case %zu: match=%s: want %s", i, cases[i].match,
               cases[i].want ? "match" : "no match");
    us_fault_destroy(f);
    free(s);
  }

  /* Packets the injector cannot parse match only `ip` (and negations). */
  uint8_t junk[10] = { 0x45, 1, 2, 3 };
  struct us_fault *f = mk("match=tcp,action=drop;match=!tcp,count=1,action=dup", 1);
  struct sink *s = sink_new(f);
  us_fault_process(f, US_FAULT_RX, junk, sizeof junk, 0, sink_deliver, s);
  assert_int_equal(s->n, 2);
  /* A TCP header claiming a data offset past the packet is not TCP. */
  uint8_t b[MAXPKT];
  size_t len = mk_tcp(b, IP_A, IP_B, 1, 2, 0x10, 0, 5);
  b[32] = 15 << 4;
  us_fault_process(f, US_FAULT_RX, b, len, 0, sink_deliver, s);
  assert_int_equal(s->n, 3);
  /* A non-first fragment is not TCP either. */
  len = mk_tcp(b, IP_A, IP_B, 1, 2, 0x10, 0, 5);
  b[7] = 10;
  us_fault_process(f, US_FAULT_RX, b, len, 0, sink_deliver, s);
  assert_int_equal(s->n, 4);
  us_fault_destroy(f);
  free(s);
}

static void test_rule_handshake(void **state) {
  (void)state;
  /* Server = the stack. "drop the peer's ACKs during the handshake". */
  struct us_fault *f = mk("rx:match=tcp.ack,when=handshake,action=drop", 1);
  struct sink *s = sink_new(f);
  uint8_t b[MAXPKT];
  size_t len;
  /* RX SYN, TX SYN-ACK, RX ACK (dropped), TX SYN-ACK again, RX ACK
   * (dropped), RX data (carries ACK: dropped too). */
  len = mk_tcp(b, IP_A, IP_B, 5000, 80, 0x02, 0, 1);
  us_fault_process(f, US_FAULT_RX, b, len, 0, sink_deliver, s);
  len = mk_tcp(b, IP_B, IP_A, 80, 5000, 0x12, 0, 2);
  us_fault_process(f, US_FAULT_TX, b, len, 1, sink_deliver, s);
  len = mk_tcp(b, IP_A, IP_B, 5000, 80, 0x10, 0, 3);
  us_fault_process(f, US_FAULT_RX, b, len, 2, sink_deliver, s);
  len = mk_tcp(b, IP_B, IP_A, 80, 5000, 0x12, 0, 4);
  us_fault_process(f, US_FAULT_TX, b, len, 3, sink_deliver, s);
  len = mk_tcp(b, IP_A, IP_B, 5000, 80, 0x10, 0, 5);
  us_fault_process(f, US_FAULT_RX, b, len, 4, sink_deliver, s);
  len = mk_tcp(b, IP_A, IP_B, 5000, 80, 0x18, 10, 6);
  us_fault_process(f, US_FAULT_RX, b, len, 5, sink_deliver, s);
  /* Another connection that is not in its handshake: its ACKs pass. */
  len = mk_tcp(b, IP_A, IP_B, 5001, 80, 0x10, 0, 7);
  us_fault_process(f, US_FAULT_RX, b, len, 6, sink_deliver, s);
  assert_int_equal(s->n, 4);
  assert_int_equal(s->id[0], 1);
  assert_int_equal(s->id[1], 2);
  assert_int_equal(s->id[2], 4);
  assert_int_equal(s->id[3], 7);
  struct us_fault_counters c;
  us_fault_counters(f, US_FAULT_RX, &c);
  assert_int_equal(c.rule_dropped, 3);
  us_fault_destroy(f);
  free(s);

  /* Only pure ACKs: the data segment completes the handshake, and once
   * the server's answer went out, later pure ACKs are no longer dropped. */
  f = mk("rx:match=tcp.pureack,when=handshake,action=drop", 1);
  s = sink_new(f);
  len = mk_tcp(b, IP_A, IP_B, 5000, 80, 0x02, 0, 1);
  us_fault_process(f, US_FAULT_RX, b, len, 0, sink_deliver, s);
  len = mk_tcp(b, IP_B, IP_A, 80, 5000, 0x12, 0, 2);
  us_fault_process(f, US_FAULT_TX, b, len, 1, sink_deliver, s);
  len = mk_tcp(b, IP_A, IP_B, 5000, 80, 0x10, 0, 3); /* dropped */
  us_fault_process(f, US_FAULT_RX, b, len, 2, sink_deliver, s);
  len = mk_tcp(b, IP_A, IP_B, 5000, 80, 0x18, 10, 4); /* data: passes */
  us_fault_process(f, US_FAULT_RX, b, len, 3, sink_deliver, s);
  len = mk_tcp(b, IP_B, IP_A, 80, 5000, 0x10, 0, 5); /* server ACK */
  us_fault_process(f, US_FAULT_TX, b, len, 4, sink_deliver, s);
  len = mk_tcp(b, IP_A, IP_B, 5000, 80, 0x10, 0, 6); /* established now */
  us_fault_process(f, US_FAULT_RX, b, len, 5, sink_deliver, s);
  assert_int_equal(s->n, 5);
  assert_int_equal(s->id[2], 4);
  assert_int_equal(s->id[4], 6);
  /* A new SYN on the same 4-tuple starts a new handshake. */
  len = mk_tcp(b, IP_A, IP_B, 5000, 80, 0x02, 0, 7);
  us_fault_process(f, US_FAULT_RX, b, len, 6, sink_deliver, s);
  len = mk_tcp(b, IP_A, IP_B, 5000, 80, 0x10, 0, 8); /* dropped again */
  us_fault_process(f, US_FAULT_RX, b, len, 7, sink_deliver, s);
  assert_int_equal(s->n, 6);
  us_fault_destroy(f);
  free(s);
}

static void test_rule_delay_fin(void **state) {
  (void)state;
  /* "delay every FIN by 3 s": the FIN is late, what follows is not. */
  struct us_fault *f = mk("both:match=tcp.fin,action=delay:3s", 1);
  struct sink *s = sink_new(f);
  uint8_t b[MAXPKT];
  size_t len = mk_tcp(b, IP_A, IP_B, 1, 2, 0x18, 10, 1);
  us_fault_process(f, US_FAULT_TX, b, len, 1000, sink_deliver, s);
  len = mk_tcp(b, IP_A, IP_B, 1, 2, 0x11, 0, 2);
  us_fault_process(f, US_FAULT_TX, b, len, 2000, sink_deliver, s);
  len = mk_tcp(b, IP_A, IP_B, 1, 2, 0x10, 0, 3);
  us_fault_process(f, US_FAULT_TX, b, len, 3000, sink_deliver, s);
  assert_int_equal(s->n, 2);
  assert_int_equal(s->id[1], 3);
  assert_int_equal(us_fault_next_deadline(f), 3002000);
  drain(f, 3000, 10000000);
  assert_int_equal(s->n, 3);
  assert_int_equal(s->id[2], 2);
  assert_int_equal(s->t[2], 3002000);
  struct us_fault_counters c;
  us_fault_counters(f, US_FAULT_TX, &c);
  assert_int_equal(c.delayed, 1);
  assert_int_equal(c.rule_hits, 1);
  us_fault_destroy(f);
  free(s);
}

static void test_rule_window_and_actions(void **state) {
  (void)state;
  /* "drop all from t=5s to t=25s", as a rule. */
  struct us_fault *f = mk("match=ip,when=5s-25s,action=drop", 1);
  struct sink *s = sink_new(f);
  uint8_t b[MAXPKT];
  for (uint32_t i = 0; i < 30; i++) {
    size_t len = mk_udp(b, 1, 2, 8, i);
    us_fault_process(f, US_FAULT_RX, b, len, (us_time_t)i * 1000000, sink_deliver, s);
  }
  assert_int_equal(s->n, 10);
  struct us_fault_counters c;
  us_fault_counters(f, US_FAULT_RX, &c);
  assert_int_equal(c.rule_dropped, 20);
  us_fault_destroy(f);
  free(s);

  /* pass exempts from link impairments; dup, corrupt, truncate act. */
  f =
      mk("match=tcp.syn,action=pass;match=tcp.fin,action=dup:2;"
         "match=tcp.rst,action=corrupt:5;match=udp,action=truncate:20;loss=100%",
         1);
  s = sink_new(f);
  size_t len = mk_tcp(b, IP_A, IP_B, 1, 2, 0x02, 0, 1);
  us_fault_process(f, US_FAULT_TX, b, len, 0, sink_deliver, s);
  assert_int_equal(s->n, 1);
  len = mk_tcp(b, IP_A, IP_B, 1, 2, 0x10, 0, 2); /* plain ACK: lost */
  us_fault_process(f, US_FAULT_TX, b, len, 0, sink_deliver, s);
  assert_int_equal(s->n, 1);
  len = mk_tcp(b, IP_A, IP_B, 1, 2, 0x11, 0, 3);
  us_fault_process(f, US_FAULT_TX, b, len, 0, sink_deliver, s);
  assert_int_equal(s->n, 4);
  assert_int_equal(s->id[3], 3);
  len = mk_tcp(b, IP_A, IP_B, 1, 2, 0x04, 0, 4);
  us_fault_process(f, US_FAULT_TX, b, len, 0, sink_deliver, s);
  assert_int_equal(s->n, 5);
  size_t diff = 0;
  for (size_t k = 0; k < len; k++)
    diff += (size_t)__builtin_popcount(b[k] ^ s->last[k]);
  assert_int_equal(diff, 5);
  len = mk_udp(b, 1, 2, 100, 5);
  us_fault_process(f, US_FAULT_TX, b, len, 0, sink_deliver, s);
  assert_int_equal(s->n, 6);
  assert_int_equal(s->last_len, 20);
  us_fault_counters(f, US_FAULT_TX, &c);
  assert_int_equal(c.rule_hits, 4);
  assert_int_equal(c.lost, 1);
  assert_int_equal(c.duplicated, 2);
  assert_int_equal(c.corrupted, 1);
  assert_int_equal(c.truncated, 1);
  us_fault_destroy(f);
  free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_blackhole),        cmocka_unit_test(test_rule_count_and_skip),
    cmocka_unit_test(test_rule_match_atoms), cmocka_unit_test(test_rule_handshake),
    cmocka_unit_test(test_rule_delay_fin),   cmocka_unit_test(test_rule_window_and_actions),
  };
  return H_RUN("fault_rules", tests);
}
