/*
 * cc_cubic.c - CUBIC congestion control, RFC 9438.
 *
 * The window in congestion avoidance follows the cubic function of the
 * time t since the epoch (the start of the current avoidance stage):
 *
 *   W_cubic(t) = C * (t - K)^3 + W_max                 (RFC 9438 eq. 1)
 *   K = cbrt((W_max - cwnd_epoch) / C)                  (eq. 2)
 *
 * with W in segments and t in seconds, C = 0.4 and beta = 0.7. On every
 * ACK the target is W_cubic(t + RTT), clamped to [cwnd, 1.5 * cwnd], and
 * cwnd moves toward it by (target - cwnd) / cwnd per segment acknowledged
 * (4.4, 4.5). Beside it runs W_est, the window Reno with the same beta
 * would have (4.3); when W_cubic is below W_est the connection is in the
 * Reno-friendly region and cwnd = W_est.
 *
 * A congestion event (4.6) sets W_max = cwnd (or less, fast convergence,
 * 4.7, when the window is shrinking from one event to the next), ssthresh
 * = cwnd * beta. After a timeout (4.8) cwnd is the loss window, and the
 * first avoidance stage after it uses K = 0 and W_max = cwnd_epoch.
 *
 * Slow start is RFC 5681 with RFC 3465 byte counting (L = 2*SMSS), as
 * NewReno; HyStart (the optional 4.10) is not implemented.
 *
 * Windows are kept in bytes; the formula is evaluated in segments of the
 * connection's SMSS and converted back. Doubles are plain arithmetic here
 * (no libm): the cube root is a short Newton iteration.
 */
#include "cc.h"

#define CUBIC_C    0.4 /* RFC 9438 5: C = 0.4 */
#define CUBIC_BETA 0.7 /* RFC 9438 4.6: beta_cubic = 0.7 */

static uint32_t min32(uint32_t a, uint32_t b) { return a < b ? a : b; }

/* Cube root of x >= 0 to double precision (Newton from a power-of-two
 * first guess; at most a few dozen steps for any window we can hold). */
static double cube_root(double x) {
  if (x <= 0)
    return 0;
  double g = 1;
  while (g * g * g < x)
    g *= 2;
  for (int i = 0; i < 100; i++) {
    double n = (2 * g + x / (g * g)) / 3;
    if (n >= g)
      break; /* Newton from above decreases monotonically to the root */
    g = n;
  }
  return g;
}

static uint32_t clamp_window(double w, uint32_t mss) {
  if (w < 2.0 * mss)
    w = 2.0 * mss;
  if (w > TCP_CC_CWND_MAX)
    w = TCP_CC_CWND_MAX;
  return (uint32_t)w;
}

static void cubic_init(struct tcp_cc *cc, const struct tcp_cc_event *ev, uint32_t iw) {
  (void)ev;
  struct tcp_cc_cubic *c = &cc->u.cubic;
  *c = (struct tcp_cc_cubic){ 0 };
  c->cwnd = iw;
  c->ssthresh = TCP_CC_CWND_MAX;
}

/* RFC 9438 4.2: a new avoidance stage starts at the first ACK after slow
 * start or recovery. K from W_max and the window we start from. */
static void epoch_start(struct tcp_cc_cubic *c, const struct tcp_cc_event *ev) {
  c->t_epoch = ev->now > 0 ? ev->now : 1;
  c->cwnd_epoch = c->cwnd;
  c->w_est = c->cwnd;
  c->cnt = 0;
  if (c->w_max <= c->cwnd) {
    /* After a timeout (4.8), or a window already past the old maximum:
     * K = 0 and the plateau is where we are. */
    c->k = 0;
    c->w_max = c->cwnd;
  } else {
    c->k = cube_root((double)(c->w_max - c->cwnd) / ev->mss / CUBIC_C);
  }
}

/* W_cubic(t) in bytes, t in seconds since the epoch (RFC 9438 eq. 1). */
static double w_cubic(const struct tcp_cc_cubic *c, double t, uint32_t mss) {
  double d = t - c->k;
  return CUBIC_C * d * d * d * mss + c->w_max;
}

static void cubic_avoid(struct tcp_cc_cubic *c, const struct tcp_cc_event *ev) {
  if (c->t_epoch == 0)
    epoch_start(c, ev);
  double mss = ev->mss;
  double cwnd = c->cwnd;
  double t = (double)(ev->now - c->t_epoch) / 1e6;
  double rtt = ev->rtt && ev->rtt->srtt > 0 ? (double)ev->rtt->srtt / 1e6 : 0;

  /* 4.3: W_est grows by alpha_cubic segments per window acknowledged;
   * alpha = 3(1 - beta)/(1 + beta) until W_est reaches the window before
   * the last reduction, then 1 (Reno's own rate). */
  double alpha = c->w_est >= c->w_max ? 1.0 : 3.0 * (1 - CUBIC_BETA) / (1 + CUBIC_BETA);
  c->w_est += alpha * mss * (double)ev->acked / cwnd;

  double wc = w_cubic(c, t, ev->mss);
  if (wc < c->w_est) {
    c->cwnd = clamp_window(c->w_est, ev->mss); /* Reno-friendly region */
    c->cnt = 0;
    return;
  }
  /* 4.4 and 4.5: concave and convex regions alike. */
  double target = w_cubic(c, t + rtt, ev->mss);
  if (target < cwnd)
    target = cwnd;
  if (target > 1.5 * cwnd)
    target = 1.5 * cwnd;
  c->cnt += (target - cwnd) * (double)ev->acked / cwnd;
  if (c->cnt >= 1) {
    double whole = (double)(uint64_t)c->cnt;
    c->cwnd = clamp_window(cwnd + whole, ev->mss);
    c->cnt -= whole;
  }
}

static void cubic_on_ack(struct tcp_cc *cc, const struct tcp_cc_event *ev) {
  struct tcp_cc_cubic *c = &cc->u.cubic;
  if (ev->in_recovery && !ev->after_rto)
    return; /* the window stays at ssthresh while fast recovery runs */
  if (c->cwnd < c->ssthresh) {
    /* Slow start (RFC 9438 4.10 keeps RFC 5681's), RFC 3465 byte
     * counting with L = 2*SMSS. */
    uint32_t inc = min32(ev->acked, TCP_ABC_L_SEGS * ev->mss);
    c->cwnd += min32(inc, c->ssthresh - c->cwnd);
    c->t_epoch = 0;
    return;
  }
  cubic_avoid(c, ev);
}

/* RFC 9438 4.6 and 4.7: remember W_max, reduce by beta. */
static void reduce(struct tcp_cc_cubic *c, const struct tcp_cc_event *ev) {
  uint32_t cwnd = c->cwnd;
  if (cwnd < c->w_max)
    c->w_max = (uint32_t)(cwnd * (1 + CUBIC_BETA) / 2); /* fast convergence */
  else
    c->w_max = cwnd;
  c->ssthresh = clamp_window(cwnd * CUBIC_BETA, ev->mss);
  c->t_epoch = 0;
}

static void cubic_on_congestion(struct tcp_cc *cc, const struct tcp_cc_event *ev) {
  struct tcp_cc_cubic *c = &cc->u.cubic;
  reduce(c, ev);
  c->cwnd = c->ssthresh;
}

static void cubic_on_recovery_exit(struct tcp_cc *cc, const struct tcp_cc_event *ev) {
  (void)ev;
  struct tcp_cc_cubic *c = &cc->u.cubic;
  c->cwnd = c->ssthresh; /* RFC 6675 and RFC 9438 4.6: continue from ssthresh */
  c->t_epoch = 0;
}

static void cubic_on_rto(struct tcp_cc *cc, const struct tcp_cc_event *ev) {
  struct tcp_cc_cubic *c = &cc->u.cubic;
  reduce(c, ev);
  c->cwnd = ev->mss; /* the loss window (RFC 5681 3.1, RFC 9438 4.8) */
  /* 4.8: the first avoidance stage after a timeout starts with K = 0 and
   * W_max = the window at its start; epoch_start does that when W_max is
   * not above cwnd, so forget the old maximum. */
  c->w_max = 0;
}

static void cubic_on_idle_restart(struct tcp_cc *cc, const struct tcp_cc_event *ev, uint32_t rw) {
  (void)ev;
  struct tcp_cc_cubic *c = &cc->u.cubic;
  c->cwnd = min32(c->cwnd, rw); /* RFC 5681 4.1 */
  c->t_epoch = 0;               /* no growth credited for the idle time */
}

static uint32_t cubic_window(const struct tcp_cc *cc) { return cc->u.cubic.cwnd; }
static uint32_t cubic_ssthresh(const struct tcp_cc *cc) { return cc->u.cubic.ssthresh; }

const struct tcp_cc_ops tcp_cc_cubic = {
  .name = "cubic",
  .init = cubic_init,
  .on_ack = cubic_on_ack,
  .on_congestion = cubic_on_congestion,
  .on_recovery_exit = cubic_on_recovery_exit,
  .on_rto = cubic_on_rto,
  .on_idle_restart = cubic_on_idle_restart,
  .window = cubic_window,
  .ssthresh = cubic_ssthresh,
};
