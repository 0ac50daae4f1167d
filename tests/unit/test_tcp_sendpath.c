/*
 * test_tcp_sendpath.c - a bulk sender keeps the pipe full (docs/SENDING.md).
 *
 * What a sending application sees when the path is long and the receiver
 * fast: with the default send buffer, the peer's window and the congestion
 * window, not the buffer, bound what is in flight once slow start has grown
 * cwnd, and every segment leaves at the instant an ACK makes room for it
 * (RFC 9293 3.8.6.2.1: the window is used as it opens) with no timer in
 * between. The application refills the buffer as a service does: on each
 * ACK, write until AGAIN.
 *
 * P offers MSS 1460 and a window of 65535 << 7 (8 MiB, RFC 7323 2.2); S's
 * MSS is 1460. P acknowledges every second segment (RFC 5681 4.2) one
 * millisecond after a round of segments left, the whole round at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tcp_harness.h"

#define SMSS   1460
#define ROUNDS 10

/* The application: write until the stack says AGAIN; bytes taken. */
static uint64_t fill(struct th *h, us_time_t t) {
  uint64_t total = 0;
  for (;;) {
    long r = th_send(h, t, 64u * 1024u);
    if (r == US_ERR_AGAIN)
      return total;
    assert_true(r > 0);
    total += (uint64_t)r;
  }
}

static void test_bulk_sender_keeps_pipe_full(void **state) {
  struct th *h = th_new_state(state, NULL); /* the default send buffer */
  th_fx_listen(h, 0);
  th_inject(h, 0, TSEG(.flags = TH_SYN, .seq = 0, MSS(SMSS), WSCALE(7)));
  th_expect(h, 0, TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1));
  us_time_t t = US_MSEC(1);
  th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, WND(65535)));
  th_accept(h);
  uint64_t queued = fill(h, t);
  assert_int_equal(queued, h->cfg.tcp_sndbuf);

  uint32_t acked = 1, sent_hi = 1, max_flight = 0;
  for (int round = 0; round < ROUNDS; round++) {
    /* Everything this round sent left at the round's instant t: on the
     * ACKs (or the first write), never later on a timer. */
    struct th_pkt p;
    uint32_t segs = 0;
    uint32_t ends[8192];
    while (th_pop(h, &p)) {
      if (p.plen == 0)
        continue;
      assert_int_equal(p.at, t);
      assert_true(segs < sizeof ends / sizeof ends[0]);
      uint32_t end = th_rel_seq(h, &p) + (uint32_t)p.plen;
      ends[segs++] = end;
      if (end > sent_hi)
        sent_hi = end;
    }
    assert_true(segs > 0); /* the pipe never ran dry */
    if (sent_hi - acked > max_flight)
      max_flight = sent_hi - acked;
    /* One round trip later, P's ACKs for every second segment arrive;
     * after each one the application writes what it can. */
    t += US_MSEC(1);
    for (uint32_t i = 1; i < segs; i += 2) {
      th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = ends[i], WND(65535)));
      acked = ends[i];
      queued += fill(h, t);
    }
    if (segs % 2) {
      th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = ends[segs - 1], WND(65535)));
      acked = ends[segs - 1];
      queued += fill(h, t);
    }
    th_advance(h, t);
  }
  /* Slow start doubled cwnd each round far beyond 1 MiB, so only the send
   * buffer can bound the flight: the default must leave room for a
   * bandwidth-delay product of a loaded host (docs/SENDING.md), well above
   * the 256 KiB that once kept the sender waiting for ACKs. */
  assert_true(max_flight >= 1024u * 1024u - 2 * SMSS);
  assert_true(max_flight <= h->cfg.tcp_sndbuf);
  assert_true(queued >= (uint64_t)ROUNDS * 256u * 1024u);
  /* Nothing was resent and no probe was needed: the ACKs clocked it all. */
  assert_int_equal(th_stat(h, US_STAT_tcp_retrans_segs), 0);
  assert_int_equal(th_stat(h, US_STAT_tcp_tlp_probes), 0);
  th_finish(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_teardown(test_bulk_sender_keeps_pipe_full, th_teardown),
  };
  return H_RUN("tcp_sendpath", tests);
}
