/*
 * tcp_rack.c - loss detection and recovery: RFC 8985 RACK-TLP, RFC 6675
 * SACK-based recovery, RFC 6582 NewReno for peers without SACK, and the
 * calls into the congestion-control algorithm (cc.h).
 *
 * Detection.
 *  - With SACK (and tcp_rack_tlp on), RACK decides: a segment is lost when
 *    one sent after it has been delivered (ACKed or SACKed) and it has
 *    been out for longer than RACK.rtt + RACK.reo_wnd (RFC 8985 6.2). The
 *    transmit records (tcp_sack.c) carry the send times. A retransmission
 *    that is lost again is found the same way: its record carries the
 *    time of the retransmission, and a later delivery exposes it.
 *    When a segment is not yet overdue, the reordering timer (TT_LOSS)
 *    fires when it will be (6.3).
 *  - Without SACK (or with RACK off), DupThresh duplicate ACKs mark the
 *    first unacknowledged segment lost (RFC 5681 3.2; RFC 5827 lowers the
 *    threshold when fewer segments are out and nothing new can be sent),
 *    and with SACK, RFC 6675 IsLost marks every range with more than
 *    (DupThresh - 1) * SMSS SACKed bytes above it.
 *  - The tail-loss probe (RFC 8985 7): while not in recovery, PTO = 2*SRTT
 *    (+ WCDelAckT when one segment is out; 1 s with no RTT sample; never
 *    later than the RTO) after new data is sent or new data is ACKed. It
 *    sends one new segment if the receive window allows, else the last
 *    segment again, so a lost tail draws a SACK that lets RACK act instead
 *    of waiting for the RTO.
 *
 * Recovery. The first loss found outside recovery is a congestion event:
 * the algorithm reduces (on_congestion), RecoveryPoint = SND.MAX, and the
 * first lost range goes out at once (RFC 6675 5 step 4.3). From then on
 * tcp_output() sends while cwnd - pipe >= the segment (RFC 6675 5 step
 * 4.4): lost ranges first (NextSeg rule 1), each once per loss mark, then
 * new data. Without SACK, pipe counts each duplicate ACK as one segment
 * that left the network, and every partial ACK resends the first
 * unacknowledged segment (RFC 6582 3.2 step 5). An ACK at or above
 * RecoveryPoint ends recovery (on_recovery_exit). Limited transmit (RFC
 * 3042) needs no code of its own: the first duplicate ACKs lower pipe
 * (SACKed bytes, or one segment per duplicate without SACK), which lets
 * one new segment out each.
 *
 * RTO. Everything not SACKed is marked lost, the algorithm takes the loss
 * window (on_rto), and recovery continues in slow start from the
 * scoreboard: SACKed data is not resent (RFC 6675 5.1 lets SACK
 * information outlive a timeout when reneging is detected). Reneging: an
 * ACK that stops exactly at, or inside, a range the peer had SACKed means
 * the peer threw that data away (RFC 2018 8); the marks are forgotten and
 * a short RTO resends from SND.UNA (as Linux, tcp_check_sack_reneging).
 */
#include "cc.h"
#include "core/log.h"
#include "core/stats.h"
#include "tcp_int.h"

#define DUPTHRESH      3            /* RFC 5681 3.2, RFC 6675 2 */
#define TLP_WCDELACKT  US_MSEC(200) /* RFC 8985 7.2: worst-case delayed ACK */
#define TLP_PTO_MIN    US_MSEC(10)  /* as Linux: a floor under 2*SRTT */
#define TLP_PTO_NO_RTT US_SEC(1)    /* RFC 8985 7.2, no RTT sample yet */
#define RENEGE_RTO_MIN US_MSEC(10)

static bool use_rack(const struct us_stack *s, const struct us_tcb *t) {
  return s->cfg.tcp_rack_tlp && t->sack_ok;
}

void tcp_cc_event_fill(const struct us_tcb *t, us_time_t now, struct tcp_cc_event *ev,
                       struct tcp_cc_rtt *rtt) {
  rtt->srtt = t->srtt;
  rtt->min_rtt = t->rack_min_rtt;
  rtt->latest = t->fl ? t->fl->rack_rtt : 0;
  *ev = (struct tcp_cc_event){
    .now = now,
    .rtt = rtt,
    .mss = t->mss ? t->mss : TCP_MSS_DEFAULT,
    .flight = t->snd_max - t->snd_una,
    .in_recovery = t->recovery != TCP_REC_NONE,
    .after_rto = t->recovery == TCP_REC_RTO,
  };
}

uint32_t tcp_cc_window(const struct us_tcb *t) {
  if (!t->cc.ops)
    return t->mss; /* not synchronized yet: nothing is sent on it anyway */
  return t->cc.ops->window(&t->cc);
}

void tcp_loss_init(struct us_stack *s, struct us_tcb *t, us_time_t now) {
  /* RFC 5681 3.1 / RFC 6928: IW; one segment if our SYN was lost. */
  uint32_t segs = s->cfg.tcp_init_cwnd_segs ? s->cfg.tcp_init_cwnd_segs : 2;
  uint32_t iw = t->syn_rexmit ? t->mss : segs * (uint32_t)t->mss;
  struct tcp_cc_event ev;
  struct tcp_cc_rtt rtt;
  t->recovery = TCP_REC_NONE;
  t->recover = t->snd_una;
  t->dupacks = 0;
  t->fast_rexmit = false;
  t->rack_min_rtt = 0;
  t->rack_reordering = false;
  t->tlp_out = false;
  t->timer[TT_LOSS] = US_TIME_NEVER;
  t->cc.ops = tcp_layer(s)->cc;
  tcp_cc_event_fill(t, now, &ev, &rtt);
  t->cc.ops->init(&t->cc, &ev, iw);
}

/* RFC 8985 6.2 "sent after": later in time, or the same time and later in
 * sequence. */
static bool sent_after(us_time_t t1, uint32_t seq1, us_time_t t2, uint32_t seq2) {
  return t1 > t2 || (t1 == t2 && us_seq_gt(seq1, seq2));
}

void tcp_rack_delivered(struct us_tcb *t, const struct tcp_xmit *r, us_time_t now) {
  struct tcp_flight *f = t->fl;
  bool retrans = (r->flags & TCP_XR_RETRANS) != 0;
  us_time_t rtt = now - r->sent;
  if (rtt < 1)
    rtt = 1;
  if (rtt > UINT32_MAX)
    rtt = UINT32_MAX;
  if (!retrans && (t->rack_min_rtt == 0 || rtt < t->rack_min_rtt))
    t->rack_min_rtt = (uint32_t)rtt;
  /* 6.2 step 3: a never-resent segment delivered below the highest one
   * delivered so far was reordered, not lost. */
  if (us_seq_gt(r->end, f->rack_fack))
    f->rack_fack = r->end;
  else if (us_seq_lt(r->end, f->rack_fack) && !retrans)
    t->rack_reordering = true;
  /* 6.2 step 2: an ACK for a resent segment that comes back faster than
   * the path allows acknowledges the original; it says nothing about the
   * resend. */
  if (retrans && rtt < t->rack_min_rtt)
    return;
  f->rack_rtt = rtt;
  if (sent_after(r->sent, r->end, f->rack_xmit, f->rack_end)) {
    f->rack_xmit = r->sent;
    f->rack_end = r->end;
  }
}

/* 6.2 step 4, without the D-SACK multiplier (a D-SACK only marks the
 * path as reordering): no window while recovering or once DupThresh
 * segments are SACKed, unless reordering was seen; else min_RTT / 4,
 * never more than SRTT. */
static us_time_t reo_wnd(const struct us_tcb *t) {
  if (!t->rack_reordering) {
    if (t->recovery != TCP_REC_NONE)
      return 0;
    if (t->fl->sacked >= DUPTHRESH * (uint32_t)t->mss)
      return 0;
  }
  us_time_t w = t->rack_min_rtt / 4;
  if (t->srtt > 0 && w > t->srtt)
    w = t->srtt;
  return w;
}

/* 6.2 step 5: mark what is overdue; returns how long until the next
 * record becomes overdue (0: none waiting). */
static us_time_t rack_detect_loss(struct us_stack *s, struct us_tcb *t, us_time_t now,
                                  uint32_t *newly) {
  struct tcp_flight *f = t->fl;
  if (f->rack_xmit == 0)
    return 0;
  us_time_t wnd = reo_wnd(t), wait = 0;
  for (uint32_t i = 0; i < f->n; i++) {
    struct tcp_xmit *x = &f->r[i];
    if (x->flags & (TCP_XR_SACKED | TCP_XR_LOST))
      continue;
    if (!sent_after(f->rack_xmit, f->rack_end, x->sent, x->end))
      continue;
    us_time_t remaining = x->sent + f->rack_rtt + wnd - now;
    if (remaining <= 0) {
      tcp_xr_mark_lost(s, t, x);
      (*newly)++;
    } else if (remaining > wait) {
      wait = remaining;
    }
  }
  return wait;
}

/* RFC 6675 4 IsLost, for SACK peers when RACK is off: more than
 * (DupThresh - 1) * SMSS bytes SACKed above a range. */
static void sack_dupthresh_lost(struct us_stack *s, struct us_tcb *t, uint32_t *newly) {
  uint32_t above = 0;
  for (uint32_t i = t->fl->n; i-- > 0;) {
    struct tcp_xmit *x = &t->fl->r[i];
    if (x->flags & TCP_XR_SACKED) {
      above += x->end - x->start;
    } else if (above > (DUPTHRESH - 1) * (uint32_t)t->mss && !(x->flags & TCP_XR_LOST) &&
               !(x->flags & TCP_XR_RETRANS && t->recovery != TCP_REC_NONE)) {
      tcp_xr_mark_lost(s, t, x);
      (*newly)++;
    }
  }
}

/* The first unacknowledged segment is lost (fast retransmit without
 * SACK, or a partial ACK). */
static void first_lost(struct us_stack *s, struct us_tcb *t, uint32_t *newly) {
  if (t->fl->n == 0)
    return;
  uint32_t l = t->fl->r[0].start;
  if (tcp_xr_mark_lost_range(s, t, l, l + t->mss))
    (*newly)++;
}

/* RFC 5681 3.2 with RFC 5827 early retransmit: the duplicate-ACK count
 * that means loss, given what is in flight and what could still be sent. */
static uint32_t dup_threshold(const struct us_tcb *t) {
  uint32_t fl = t->snd_max - t->snd_una;
  uint32_t segs = t->mss ? (fl + t->mss - 1) / t->mss : DUPTHRESH + 1;
  bool unsent = t->snd.len > fl;
  if (segs < DUPTHRESH + 1 && !unsent)
    return segs > 1 ? segs - 1 : 1;
  return DUPTHRESH;
}

static void enter_recovery(struct us_stack *s, struct us_tcb *t, us_time_t now) {
  struct tcp_cc_event ev;
  struct tcp_cc_rtt rtt;
  tcp_cc_event_fill(t, now, &ev, &rtt);
  t->cc.ops->on_congestion(&t->cc, &ev);
  t->recovery = TCP_REC_FAST;
  t->recover = t->snd_max;
  t->fast_rexmit = true; /* RFC 6675 5 step 4.3: the first one at once */
  t->tlp_out = false;
  t->fl->pto_at = US_TIME_NEVER;
  US_STAT_INC(s, tcp_fast_retrans);
  US_LOGD(s, "tcp port %u: recovery una=%u max=+%u pipe=%u cwnd=%u sacked=%u", t->lport, t->snd_una,
          t->snd_max - t->snd_una, tcp_loss_pipe(t), tcp_cc_window(t), t->fl->sacked);
}

uint32_t tcp_loss_pipe(const struct us_tcb *t) {
  uint32_t pipe = tcp_pipe(t);
  if (!t->sack_ok) {
    /* RFC 6675 is for SACK; without it, each duplicate ACK stands for one
     * segment that left the network (RFC 5681 3.2 step 4's inflation
     * expressed as pipe, and RFC 3042 limited transmit). */
    uint32_t gone = t->dupacks * (uint32_t)t->mss;
    pipe = gone < pipe ? pipe - gone : 0;
  }
  return pipe;
}

/* RFC 8985 7.2: schedule a probe, or none. */
static void tlp_schedule(struct us_stack *s, struct us_tcb *t, us_time_t now) {
  struct tcp_flight *f = t->fl;
  f->pto_at = US_TIME_NEVER;
  if (!use_rack(s, t) || t->recovery != TCP_REC_NONE || t->tlp_out || t->snd_una == t->snd_max ||
      t->timer[TT_PERSIST] != US_TIME_NEVER)
    return;
  us_time_t pto;
  if (t->srtt > 0) {
    pto = 2 * t->srtt;
    if (t->snd_max - t->snd_una <= t->mss)
      pto += TLP_WCDELACKT;
    if (pto < TLP_PTO_MIN)
      pto = TLP_PTO_MIN;
  } else {
    pto = TLP_PTO_NO_RTT;
  }
  us_time_t rto_at =
      t->timer[TT_RTO] != US_TIME_NEVER ? t->timer[TT_RTO] : now + tcp_rto_current(s, t);
  f->pto_at = now + pto < rto_at ? now + pto : rto_at;
}

/* TT_LOSS is a time to look again: the RACK reordering timer (when a
 * segment's window runs out) or the probe timeout, whichever is first. A
 * key that turns out early costs one look (tcp_loss_timer_fire). */
static void loss_timer_set(struct us_tcb *t, us_time_t now, us_time_t reo_wait) {
  us_time_t d = t->fl->pto_at;
  if (reo_wait > 0 && now + reo_wait < d)
    d = now + reo_wait;
  t->timer[TT_LOSS] = d;
}

/* Detection after anything that may have delivered a segment; returns
 * how long until a waiting segment's reordering window runs out. */
static us_time_t detect(struct us_stack *s, struct us_tcb *t, bool dup, us_time_t now) {
  uint32_t newly = 0;
  us_time_t wait = 0;
  if (use_rack(s, t)) {
    wait = rack_detect_loss(s, t, now, &newly);
  } else if (dup && t->recovery == TCP_REC_NONE && t->dupacks >= dup_threshold(t) &&
             us_seq_ge(t->snd_una, t->recover)) {
    /* RFC 6582 3.2 step 2: not again for the same window. */
    first_lost(s, t, &newly);
    if (t->sack_ok)
      sack_dupthresh_lost(s, t, &newly);
  } else if (t->sack_ok && t->recovery == TCP_REC_FAST) {
    sack_dupthresh_lost(s, t, &newly);
  }
  if (newly > 0 && t->recovery == TCP_REC_NONE)
    enter_recovery(s, t, now);
  return wait;
}

void tcp_loss_check_renege(struct us_stack *s, struct us_tcb *t, us_time_t now) {
  if (!tcp_xr_sacked_at_una(t))
    return;
  /* RFC 2018 8, RFC 6675 5.1: the new SND.UNA stops at (or inside) data
   * the peer SACKed: it no longer holds it. Forget every mark and let a
   * short RTO resend from SND.UNA. */
  US_STAT_INC(s, tcp_sack_reneges);
  tcp_xr_forget_sacks(t);
  us_time_t d = t->srtt / 4 > RENEGE_RTO_MIN ? t->srtt / 4 : RENEGE_RTO_MIN;
  t->timer[TT_RTO] = now + d;
}

void tcp_loss_on_ack(struct us_stack *s, struct us_tcb *t, uint32_t acked, bool dup, bool dsack,
                     us_time_t now) {
  if (!t->cc.ops || !t->syn_acked)
    return;
  struct tcp_flight *f = t->fl;
  struct tcp_cc_event ev;
  struct tcp_cc_rtt rtt;
  if (dsack) {
    US_STAT_INC(s, tcp_dsacks);
    t->rack_reordering = true; /* a resend was not needed */
  }
  if (dup && t->dupacks < UINT16_MAX)
    t->dupacks++;
  else if (acked > 0 && t->recovery == TCP_REC_NONE)
    t->dupacks = 0;

  /* RFC 8985 7.4: the end of a probe's episode. A probe that resent data
   * and is answered without a D-SACK repaired a loss: that is congestion
   * too: the window it was lost from is reduced (without recovery:
   * nothing is left to repair), and this ACK does not grow it. */
  if (t->tlp_out && us_seq_ge(t->snd_una, t->tlp_end)) {
    t->tlp_out = false;
    if (t->tlp_retrans && !dsack && t->recovery == TCP_REC_NONE) {
      US_STAT_INC(s, tcp_tlp_recoveries);
      tcp_cc_event_fill(t, now, &ev, &rtt);
      t->cc.ops->on_congestion(&t->cc, &ev);
      acked = 0;
    }
  }

  if (acked > 0) {
    tcp_cc_event_fill(t, now, &ev, &rtt);
    ev.acked = acked;
    t->cc.ops->on_ack(&t->cc, &ev);
  }

  if (t->recovery != TCP_REC_NONE && us_seq_ge(t->snd_una, t->recover)) {
    /* RFC 6675 5 step 2 / RFC 6582 3.2 step 6: the recovery point is
     * acknowledged. */
    if (t->recovery == TCP_REC_FAST) {
      tcp_cc_event_fill(t, now, &ev, &rtt);
      ev.in_recovery = false;
      t->cc.ops->on_recovery_exit(&t->cc, &ev);
    }
    t->recovery = TCP_REC_NONE;
    t->dupacks = 0;
  }
  if (!f)
    return; /* nothing in flight (or a FIN alone): no records to judge */
  if (t->recovery == TCP_REC_FAST && acked > 0 && !t->sack_ok) {
    /* RFC 6582 3.2 step 5: a partial ACK; the next hole goes at once. */
    uint32_t newly = 0;
    t->dupacks = 0;
    first_lost(s, t, &newly);
    t->fast_rexmit = newly > 0;
  }

  us_time_t wait = detect(s, t, dup, now);
  if (acked > 0)
    tlp_schedule(s, t, now);
  else if (t->recovery != TCP_REC_NONE)
    f->pto_at = US_TIME_NEVER;
  loss_timer_set(t, now, wait);
}

void tcp_loss_on_send(struct us_stack *s, struct us_tcb *t, us_time_t now) {
  if (!t->cc.ops || !t->fl)
    return;
  /* RFC 8985 7.2: after new data (not a probe) the PTO restarts. A
   * pending reordering deadline may be earlier: keep the earlier. */
  tlp_schedule(s, t, now);
  if (t->fl->pto_at < t->timer[TT_LOSS])
    t->timer[TT_LOSS] = t->fl->pto_at;
}

/* RFC 5681 4.1: after an idle period longer than the RTO, start again
 * from the restart window min(IW, cwnd). Idle is measured from the last
 * segment received: with nothing in flight, that is the ACK of the last
 * data sent (the TCB keeps no separate send time). */
void tcp_loss_idle_check(struct us_stack *s, struct us_tcb *t, us_time_t now) {
  if (!t->cc.ops || t->snd_una != t->snd_max || now - t->last_rx <= tcp_rto_current(s, t))
    return;
  uint32_t segs = s->cfg.tcp_init_cwnd_segs ? s->cfg.tcp_init_cwnd_segs : 2;
  uint32_t rw = segs * (uint32_t)t->mss;
  if (tcp_cc_window(t) <= rw)
    return;
  struct tcp_cc_event ev;
  struct tcp_cc_rtt rtt;
  tcp_cc_event_fill(t, now, &ev, &rtt);
  t->cc.ops->on_idle_restart(&t->cc, &ev, rw);
  US_STAT_INC(s, tcp_cc_idle_restarts);
}

/* RFC 8985 7.3: the probe itself. */
static void tlp_send(struct us_stack *s, struct us_tcb *t, us_time_t now) {
  struct tcp_flight *f = t->fl;
  if (t->recovery != TCP_REC_NONE || t->snd_una == t->snd_max || f->n == 0)
    return;
  uint32_t out = t->snd_nxt - t->snd_una;
  uint32_t unsent = t->snd.len > out ? t->snd.len - out : 0;
  uint32_t rwnd_room = t->snd_wnd > out ? t->snd_wnd - out : 0;
  uint32_t len = unsent < t->mss ? unsent : t->mss;
  if (len > 0 && rwnd_room >= len) {
    if (tcp_send_range(s, t, t->snd_nxt, len, now) != 0)
      return;
    t->tlp_retrans = false;
  } else {
    /* The last segment sent, again. */
    const struct tcp_xmit *last = &f->r[f->n - 1];
    uint32_t l = last->end - last->start > t->mss ? last->end - t->mss : last->start;
    if (tcp_send_range(s, t, l, last->end - l, now) != 0)
      return;
    t->tlp_retrans = true;
  }
  t->tlp_out = true;
  t->tlp_end = t->snd_max;
  US_STAT_INC(s, tcp_tlp_probes);
  /* After a probe the RTO runs, not another PTO. */
  t->timer[TT_RTO] = now + tcp_rto_current(s, t);
}

void tcp_loss_timer_fire(struct us_stack *s, struct us_tcb *t, us_time_t now) {
  t->timer[TT_LOSS] = US_TIME_NEVER;
  struct tcp_flight *f = t->fl;
  if (!f || !t->cc.ops || !tcp_state_synchronized(t->state) || t->state == US_TCP_TIME_WAIT)
    return;
  /* RFC 8985 6.3: a waiting segment's reordering window may have run
   * out; look again. */
  uint64_t lost_before = s->stats[US_STAT_tcp_marked_lost];
  us_time_t wait = detect(s, t, false, now);
  if (s->stats[US_STAT_tcp_marked_lost] != lost_before) {
    US_STAT_INC(s, tcp_rack_reo_timeouts);
    tcb_pending_add(s, t);
  }
  if (f->pto_at <= now) {
    f->pto_at = US_TIME_NEVER;
    tlp_send(s, t, now);
  }
  loss_timer_set(t, now, wait);
}

void tcp_loss_on_rto(struct us_stack *s, struct us_tcb *t, us_time_t now) {
  if (!t->cc.ops)
    return;
  struct tcp_cc_event ev;
  struct tcp_cc_rtt rtt;
  tcp_cc_event_fill(t, now, &ev, &rtt);
  t->cc.ops->on_rto(&t->cc, &ev);
  t->recovery = TCP_REC_RTO;
  t->recover = t->snd_max;
  t->dupacks = 0;
  t->fast_rexmit = false;
  t->timer[TT_LOSS] = US_TIME_NEVER;
  t->tlp_out = false;
  if (!t->fl)
    return;
  t->fl->pto_at = US_TIME_NEVER;
  /* Everything the peer has not SACKed is lost (RFC 6675 5.1 with the
   * reneging check above); without SACK that is everything: go-back-N,
   * as RFC 5681 3.1 expects. */
  for (uint32_t i = 0; i < t->fl->n; i++)
    tcp_xr_mark_lost(s, t, &t->fl->r[i]);
}
