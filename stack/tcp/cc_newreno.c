/*
 * cc_newreno.c - RFC 5681 slow start and congestion avoidance, fast
 * retransmit on the third duplicate ACK, and RFC 6582 NewReno fast
 * recovery. Growth is by bytes acknowledged (RFC 3465 ABC), so
 * an ACK-division attacker gains nothing (HOSTILE RES-4).
 */
#include "cc.h"

#include "tcp_int.h"

#define DUPACK_THRESH 3 /* RFC 5681 3.2 */

static uint32_t flight(const struct us_tcb *t) { return t->snd_max - t->snd_una; }

/* RFC 5681 eq. (4): ssthresh = max(FlightSize / 2, 2*SMSS). */
static uint32_t half_flight(const struct us_tcb *t) {
  uint32_t h = flight(t) / 2;
  uint32_t floor = 2u * t->mss;
  return h > floor ? h : floor;
}

static void nr_init(struct us_tcb *t, const struct us_config *cfg) {
  /* RFC 5681 3.1 / RFC 6928: IW; one segment if our SYN was lost. */
  uint32_t segs = cfg->tcp_init_cwnd_segs ? cfg->tcp_init_cwnd_segs : 2;
  t->cwnd = t->syn_rexmit ? t->mss : segs * (uint32_t)t->mss;
  t->ssthresh = 0x7fffffffu; /* "arbitrarily high" (RFC 5681 3.1) */
  t->bytes_acked = 0;
  t->dupacks = 0;
  t->recover = t->iss; /* RFC 6582 3.2 step 1 */
  t->cc_after_rto = false;
  t->in_recovery = false;
}

static bool nr_on_ack(struct us_tcb *t, uint32_t acked) {
  t->dupacks = 0;
  if (t->in_recovery) {
    if (us_seq_ge(t->snd_una, t->recover)) {
      /* RFC 6582 3.2 step 6: full acknowledgment ends recovery. */
      uint32_t f = flight(t) + t->mss;
      t->cwnd = f < t->ssthresh ? f : t->ssthresh;
      t->in_recovery = false;
      t->bytes_acked = 0;
      return false;
    }
    /* Step 5: partial acknowledgment. Deflate by the amount acked, add
     * back one SMSS, and retransmit the next hole. */
    t->cwnd = t->cwnd > acked ? t->cwnd - acked : 0;
    t->cwnd += t->mss;
    return true;
  }
  if (t->cwnd < t->ssthresh) {
    /* Slow start by bytes acknowledged (RFC 3465). Normally no per-ACK
     * limit L: receivers (ours included) send one ACK per batch of
     * segments, and a limit would turn slow start linear; byte counting
     * alone already gives ACK division nothing (HOSTILE RES-4). Right
     * after a timeout, RFC 3465 2.3 asks for L = 1*SMSS: the first ACK may
     * cover a whole window the receiver held out of order, and must not
     * release a burst. Stop at ssthresh. */
    uint32_t room = t->ssthresh - t->cwnd;
    uint32_t inc = acked < room ? acked : room;
    if (t->cc_after_rto) {
      if (inc > t->mss)
        inc = t->mss;
      if (us_seq_ge(t->snd_una, t->recover))
        t->cc_after_rto = false;
    }
    t->cwnd += inc;
  } else {
    /* Congestion avoidance: one SMSS per cwnd of bytes acknowledged. */
    t->bytes_acked += acked;
    if (t->bytes_acked >= t->cwnd) {
      t->bytes_acked -= t->cwnd;
      t->cwnd += t->mss;
    }
  }
  if (t->cwnd > 0x3fffffffu)
    t->cwnd = 0x3fffffffu;
  return false;
}

static bool nr_on_dupack(struct us_tcb *t) {
  t->dupacks++;
  if (t->in_recovery) {
    /* RFC 6582 3.2 step 4: inflate for each further duplicate. */
    t->cwnd += t->mss;
    return false;
  }
  /* RFC 5827 early retransmit: with fewer than four segments in flight
   * and nothing new to send, three duplicates can never come; the
   * threshold is the number of segments in flight minus one. */
  uint32_t thresh = DUPACK_THRESH;
  uint32_t fl = flight(t);
  uint32_t segs = t->mss ? (fl + t->mss - 1) / t->mss : DUPACK_THRESH + 1;
  bool unsent = t->snd.len > fl;
  if (segs < DUPACK_THRESH + 1 && !unsent)
    thresh = segs > 1 ? segs - 1 : 1;
  /* RFC 6582 3.2 step 2: only if the ACK covers more than `recover` (we
   * keep recover as one past the highest byte sent, so >=), so
   * one loss event does not cause two reductions. */
  return t->dupacks == thresh && us_seq_ge(t->snd_una, t->recover);
}

static void nr_on_loss(struct us_tcb *t) {
  t->ssthresh = half_flight(t);
  t->recover = t->snd_max;
  t->cwnd = t->ssthresh + DUPACK_THRESH * (uint32_t)t->mss;
  t->in_recovery = true;
}

static void nr_on_timeout(struct us_tcb *t) {
  t->ssthresh = half_flight(t);
  t->cwnd = t->mss; /* the loss window, RFC 5681 3.1 */
  t->cc_after_rto = true;
  t->recover = t->snd_max;
  t->in_recovery = false;
  t->dupacks = 0;
  t->bytes_acked = 0;
}

const struct tcp_cc_ops tcp_cc_newreno = {
    .name = "newreno",
    .init = nr_init,
    .on_ack = nr_on_ack,
    .on_dupack = nr_on_dupack,
    .on_loss = nr_on_loss,
    .on_timeout = nr_on_timeout,
};
