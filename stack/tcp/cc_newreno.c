/*
 * cc_newreno.c - RFC 5681 slow start and congestion avoidance with RFC
 * 3465 appropriate byte counting, and the window side of fast recovery.
 *
 * Which segments are resent during recovery, and when recovery ends, is
 * loss recovery's business (tcp_rack.c: RFC 6675 pipe for SACK peers, the
 * RFC 6582 partial-ACK rule for the others). Here only the numbers move:
 * on a congestion event ssthresh = max(FlightSize / 2, 2*SMSS) and cwnd =
 * ssthresh (RFC 6675 5 step 4.2; the pipe estimate replaces RFC 5681's
 * cwnd inflation), and no growth happens until recovery is over.
 */
#include "cc.h"

static uint32_t min32(uint32_t a, uint32_t b) { return a < b ? a : b; }

/* RFC 5681 eq. (4): ssthresh = max(FlightSize / 2, 2*SMSS). */
static uint32_t half_flight(const struct tcp_cc_event *ev) {
  uint32_t h = ev->flight / 2;
  uint32_t floor = 2u * ev->mss;
  return h > floor ? h : floor;
}

static void nr_init(struct tcp_cc *cc, const struct tcp_cc_event *ev, uint32_t iw) {
  (void)ev;
  struct tcp_cc_newreno *r = &cc->u.nr;
  r->cwnd = iw;
  r->ssthresh = TCP_CC_CWND_MAX; /* "arbitrarily high" (RFC 5681 3.1) */
  r->bytes_acked = 0;
}

static void nr_on_ack(struct tcp_cc *cc, const struct tcp_cc_event *ev) {
  struct tcp_cc_newreno *r = &cc->u.nr;
  if (ev->in_recovery && !ev->after_rto)
    return; /* RFC 6675 5: cwnd stays at ssthresh until recovery ends */
  if (r->cwnd < r->ssthresh) {
    /* Slow start by bytes acknowledged, at most L = 2*SMSS per ACK (RFC
     * 3465 2.2), and never past ssthresh in one step. Byte counting
     * gives an ACK-division attacker nothing (HOSTILE RES-4). */
    uint32_t inc = min32(ev->acked, TCP_ABC_L_SEGS * ev->mss);
    r->cwnd += min32(inc, r->ssthresh - r->cwnd);
  } else {
    /* Congestion avoidance: one SMSS per cwnd of bytes acknowledged
     * (RFC 5681 3.1, RFC 3465 2.1). */
    r->bytes_acked += ev->acked;
    if (r->bytes_acked >= r->cwnd) {
      r->bytes_acked -= r->cwnd;
      r->cwnd += ev->mss;
    }
  }
  if (r->cwnd > TCP_CC_CWND_MAX)
    r->cwnd = TCP_CC_CWND_MAX;
}

static void nr_on_congestion(struct tcp_cc *cc, const struct tcp_cc_event *ev) {
  struct tcp_cc_newreno *r = &cc->u.nr;
  r->ssthresh = half_flight(ev);
  r->cwnd = r->ssthresh;
  r->bytes_acked = 0;
}

static void nr_on_recovery_exit(struct tcp_cc *cc, const struct tcp_cc_event *ev) {
  /* RFC 6582 3.2 step 6, first option: cwnd = min(ssthresh, FlightSize +
   * SMSS), so the exit releases no burst. */
  struct tcp_cc_newreno *r = &cc->u.nr;
  r->cwnd = min32(r->ssthresh, ev->flight + ev->mss);
  r->bytes_acked = 0;
}

static void nr_on_rto(struct tcp_cc *cc, const struct tcp_cc_event *ev) {
  struct tcp_cc_newreno *r = &cc->u.nr;
  r->ssthresh = half_flight(ev);
  r->cwnd = ev->mss; /* the loss window, RFC 5681 3.1 */
  r->bytes_acked = 0;
}

static void nr_on_idle_restart(struct tcp_cc *cc, const struct tcp_cc_event *ev, uint32_t rw) {
  (void)ev;
  struct tcp_cc_newreno *r = &cc->u.nr;
  r->cwnd = min32(r->cwnd, rw); /* RFC 5681 4.1 */
}

static uint32_t nr_window(const struct tcp_cc *cc) { return cc->u.nr.cwnd; }
static uint32_t nr_ssthresh(const struct tcp_cc *cc) { return cc->u.nr.ssthresh; }

const struct tcp_cc_ops tcp_cc_newreno = {
  .name = "newreno",
  .init = nr_init,
  .on_ack = nr_on_ack,
  .on_congestion = nr_on_congestion,
  .on_recovery_exit = nr_on_recovery_exit,
  .on_rto = nr_on_rto,
  .on_idle_restart = nr_on_idle_restart,
  .window = nr_window,
  .ssthresh = nr_ssthresh,
};

const struct tcp_cc_ops *tcp_cc_ops_for(enum us_tcp_cc which) {
  return which == US_TCP_CC_NEWRENO ? &tcp_cc_newreno : &tcp_cc_cubic;
}
