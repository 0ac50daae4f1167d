/*
 * tcp_rtt.c - retransmission timeout per RFC 6298.
 *
 * One segment at a time is timed (rtt_seq/rtt_start); Karn's algorithm
 * (RFC 6298 3, MUST-18) is kept by the sender: any retransmission clears
 * rtt_timing, so an ambiguous ACK never yields a sample. Times are in
 * microseconds; the clock granularity G is 1 us, so the max(G, K*RTTVAR)
 * term is just K*RTTVAR (G is 1 ms once samples come from RFC 7323
 * timestamps, which then replace the timed segment: tcp_ts.c). Bounds come
 * from the config (tcp_rto_min, tcp_rto_max: RFC 6298 2.4 and 2.5).
 */
#include "core/stats.h"
#include "tcp_int.h"

#define RTT_K 4 /* RFC 6298 2.2 */

static us_time_t clamp_rto(const struct us_stack *s, us_time_t rto) {
  if (rto < s->cfg.tcp_rto_min)
    rto = s->cfg.tcp_rto_min;
  if (rto > s->cfg.tcp_rto_max)
    rto = s->cfg.tcp_rto_max;
  return rto;
}

void tcp_rtt_init(struct us_stack *s, struct us_tcb *t) {
  t->srtt = 0;
  t->rttvar = 0;
  t->rto = s->cfg.tcp_rto_initial; /* RFC 6298 2.1 */
  t->backoff = 0;
  t->rtt_timing = false;
}

void tcp_rtt_sample_n(struct us_stack *s, struct us_tcb *t, us_time_t r, uint32_t n) {
  if (r <= 0)
    r = 1;
  if (n == 0)
    n = 1;
  t->rtt_samples++;
  if (t->srtt == 0) {
    /* RFC 6298 2.2: the first measurement. */
    t->srtt = r;
    t->rttvar = r / 2;
  } else {
    /* RFC 6298 2.3, alpha = 1/8, beta = 1/4; with n samples per RTT
     * (RFC 7323 appendix G) alpha/n and beta/n. */
    us_time_t d = t->srtt > r ? t->srtt - r : r - t->srtt;
    us_time_t nn = (us_time_t)n;
    t->rttvar = ((4 * nn - 1) * t->rttvar + d) / (4 * nn);
    t->srtt = ((8 * nn - 1) * t->srtt + r) / (8 * nn);
  }
  /* RFC 6298 2.2: max(G, K*RTTVAR); G is 1 ms when samples come from our
   * millisecond timestamp clock, else 1 us (and K*RTTVAR is used as is). */
  us_time_t k = RTT_K * t->rttvar;
  if (t->ts_ok && k < 1000)
    k = 1000;
  t->rto = clamp_rto(s, t->srtt + k);
}

void tcp_rtt_sample(struct us_stack *s, struct us_tcb *t, us_time_t r) {
  US_STAT_INC(s, tcp_rtt_timed_samples);
  tcp_rtt_sample_n(s, t, r, 1);
}

/* RFC 6298 5.5: the timer doubles with each expiry, up to the maximum. */
us_time_t tcp_rto_current(const struct us_stack *s, const struct us_tcb *t) {
  us_time_t rto = t->rto;
  for (uint32_t i = 0; i < t->backoff && rto < s->cfg.tcp_rto_max; i++)
    rto *= 2;
  return clamp_rto(s, rto);
}

void tcp_rto_backoff(struct us_tcb *t) {
  if (t->backoff < 30)
    t->backoff++;
}

/* RFC 6298 5.7: if the SYN (or SYN-ACK) timed out and no RTT sample was
 * taken, data transmission starts with an RTO of 3 s. */
void tcp_rtt_syn_done(struct us_stack *s, struct us_tcb *t, bool syn_timed_out) {
  if (syn_timed_out && t->srtt == 0 && t->rto < US_SEC(3))
    t->rto = clamp_rto(s, US_SEC(3));
}
