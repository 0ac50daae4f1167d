/*
 * tcp_timer.c - per-TCB deadlines and the layer's poll.
 *
 * Every timer is an absolute deadline in the TCB (docs/ARCHITECTURE.md 4); nothing
 * ticks. tcp_poll() flushes the output the last input batch queued, runs
 * the due timers of the TCBs at the front of the timer queue (tcp_timerq.c:
 * O(due + log n), never a walk over every TCB), flushes again, and returns
 * the queue's first deadline, which us_stack_poll() hands to the event
 * loop.
 *
 *   TT_RTO      SYN (tcp_syn_retries), SYN-ACK (tcp_synack_retries, then
 *               RST if tcp_synack_timeout_rst, and the half-open TCB is
 *               freed), data and FIN (RFC 6298 with R1/R2, MUST-20..23).
 *   TT_PERSIST  zero-window probes with backoff (MUST-36/37).
 *   TT_DELACK   the delayed ACK (MUST-40).
 *   TT_KEEP     keep-alive probes (MUST-24..29), off unless asked for.
 *   TT_2MSL     TIME-WAIT (MUST-13), and an orphaned FIN-WAIT-2
 *               (cfg.tcp_fin_timeout, as Linux).
 *   TT_LOSS     RFC 8985: the RACK reordering timer and the tail-loss
 *               probe timeout (tcp_rack.c); runs before TT_RTO, so a
 *               probe clamped to the RTO deadline goes out instead of it.
 */
#include "core/assert.h"
#include "core/log.h"
#include "core/stats.h"
#include "tcp_int.h"

void tcp_keepalive_arm(struct us_stack *s, struct us_tcb *t, us_time_t now) {
  (void)s;
  bool live = t->state == US_TCP_ESTABLISHED || t->state == US_TCP_CLOSE_WAIT ||
              t->state == US_TCP_FIN_WAIT_1 || t->state == US_TCP_FIN_WAIT_2;
  t->timer[TT_KEEP] = t->keepalive && live ? now + t->keep_idle : US_TIME_NEVER;
  t->keep_sent = 0;
}

us_time_t tcb_next_deadline(const struct us_tcb *t, const char **name) {
  static const char *const names[TT_N] = { "rto",       "persist",   "delack",
                                           "keepalive", "time-wait", "tlp" };
  us_time_t best = US_TIME_NEVER;
  int which = -1;
  for (int i = 0; i < TT_N; i++)
    if (t->timer[i] < best || (i == TT_LOSS && t->timer[i] == best && best != US_TIME_NEVER)) {
      /* TT_LOSS wins a tie: it runs first (a probe instead of the RTO). */
      best = t->timer[i];
      which = i;
    }
  if (name) {
    if (which < 0)
      *name = "";
    else if (which == TT_RTO && !t->syn_acked && t->state != US_TCP_SYN_SENT)
      *name = "synack";
    else if (which == TT_2MSL && t->state == US_TCP_FIN_WAIT_2)
      *name = "fin-wait-2";
    else if (which == TT_LOSS && t->fl && t->timer[TT_LOSS] < t->fl->pto_at)
      *name = "rack";
    else
      *name = names[which];
  }
  return best;
}

static void rto_fire(struct us_stack *s, struct us_tcb *t, us_time_t now) {
  const struct us_config *c = &s->cfg;
  t->timer[TT_RTO] = US_TIME_NEVER;
  if (t->state == US_TCP_SYN_SENT) {
    US_STAT_INC(s, tcp_timeouts);
    if (t->nrexmit >= c->tcp_syn_retries) {
      tcp_drop(s, t, US_ERR_TIMEDOUT, "SYN retries exhausted");
      return;
    }
    t->nrexmit++;
    t->syn_rexmit = true;
    tcp_rto_backoff(t);
    US_STAT_INC(s, tcp_syn_retrans);
    t->retransmits++;
    tcp_send_syn(s, t, now);
    return;
  }
  if (t->state == US_TCP_CLOSED || t->state == US_TCP_LISTEN || t->state == US_TCP_TIME_WAIT)
    return;
  if (!t->syn_acked) {
    /* SYN-RECEIVED: the SYN-ACK got no ACK. */
    US_STAT_INC(s, tcp_timeouts);
    if (t->nrexmit >= c->tcp_synack_retries) {
      US_STAT_INC(s, tcp_synack_timeout);
      if (c->tcp_synack_timeout_rst)
        tcp_send_rst_tcb(s, t, now); /* Linux drops silently instead */
      tcp_drop(s, t, US_ERR_TIMEDOUT, "SYN-ACK retries exhausted");
      return;
    }
    t->nrexmit++;
    tcp_rto_backoff(t);
    US_STAT_INC(s, tcp_synack_retrans);
    t->retransmits++;
    tcp_send_syn(s, t, now);
    return;
  }
  if (t->snd_una == t->snd_max) {
    /* Nothing outstanding: a send failed for want of a packet buffer. */
    tcp_output(s, t, now);
    return;
  }
  if (t->snd_wnd == 0 && t->snd.len > 0) {
    /* The window closed with data in flight: probe instead (MUST-37). */
    tcp_persist_probe(s, t, now);
    return;
  }
  US_STAT_INC(s, tcp_timeouts);
  US_LOGD(s, "tcp port %u: RTO una=%u max=+%u cwnd=%u rec=%d sacked=%u dup=%u n=%u", t->lport,
          t->snd_una, t->snd_max - t->snd_una, tcp_cc_window(t), (int)t->recovery,
          t->fl ? t->fl->sacked : 0, t->dupacks, t->nrexmit);
  if (t->nrexmit == 0)
    t->first_rexmit_at = now;
  bool give_up =
      t->user_timeout > 0 ? now - t->first_rexmit_at >= t->user_timeout : t->nrexmit >= c->tcp_r2;
  if (give_up) {
    US_STAT_INC(s, tcp_abort_on_timeout);
    tcp_drop(s, t, US_ERR_TIMEDOUT, "retransmission timeout (R2)");
    return;
  }
  t->nrexmit++;
  if (t->nrexmit == c->tcp_r1)
    US_LOGD(s, "tcp port %u: R1 reached (%u retransmissions)", t->lport, t->nrexmit);
  tcp_pmtu_on_rto(s, t); /* before the resend, which then uses the new MSS */
  /* Everything not SACKed is now lost (tcp_rack.c); the output resends
   * it in order as the loss window grows, SACKed ranges skipped. */
  tcp_loss_on_rto(s, t, now);
  tcp_rto_backoff(t);
  t->rtt_timing = false;
  uint32_t seq, len;
  if (!tcp_xr_next_lost(t, &seq, &len))
    tcp_retransmit_first(s, t, now); /* no records: resend from SND.UNA */
  tcp_output(s, t, now);
  if (t->timer[TT_RTO] == US_TIME_NEVER && t->snd_nxt != t->snd_una &&
      t->timer[TT_PERSIST] == US_TIME_NEVER)
    t->timer[TT_RTO] = now + tcp_rto_current(s, t);
}

static void keep_fire(struct us_stack *s, struct us_tcb *t, us_time_t now) {
  t->timer[TT_KEEP] = US_TIME_NEVER;
  if (!t->keepalive || !tcp_state_synchronized(t->state) || t->state == US_TCP_TIME_WAIT)
    return;
  if (t->snd_max != t->snd_una) {
    /* Not idle: the retransmission timer watches the peer (MUST-26). */
    t->timer[TT_KEEP] = now + t->keep_idle;
    return;
  }
  if (t->keep_sent == 0 && now - t->last_rx < t->keep_idle) {
    t->timer[TT_KEEP] = t->last_rx + t->keep_idle;
    return;
  }
  if (t->keep_sent >= t->keep_cnt) {
    tcp_drop(s, t, US_ERR_TIMEDOUT, "keep-alive: no answer");
    return;
  }
  tcp_send_keepalive(s, t, now);
  t->keep_sent++;
  t->timer[TT_KEEP] = now + t->keep_intvl;
}

static void run_timers(struct us_stack *s, struct us_tcb *t, us_time_t now) {
  if (t->timer[TT_2MSL] <= now) {
    t->timer[TT_2MSL] = US_TIME_NEVER;
    if (t->state == US_TCP_TIME_WAIT) {
      US_STAT_INC(s, tcp_time_wait_expired);
      tcp_drop(s, t, 0, "2*MSL timeout");
    } else if (t->state == US_TCP_FIN_WAIT_2) {
      US_STAT_INC(s, tcp_fin_wait2_timeout);
      tcp_drop(s, t, 0, "FIN-WAIT-2 timeout (orphan)");
    }
    return;
  }
  if (t->timer[TT_LOSS] <= now)
    tcp_loss_timer_fire(s, t, now);
  if (t->timer[TT_RTO] <= now)
    rto_fire(s, t, now);
  if (!t->in_use || t->state == US_TCP_CLOSED)
    return;
  if (t->timer[TT_PERSIST] <= now)
    tcp_persist_probe(s, t, now);
  if (t->timer[TT_DELACK] <= now) {
    t->timer[TT_DELACK] = US_TIME_NEVER;
    US_STAT_INC(s, tcp_delayed_acks);
    t->ack_now = true;
    tcp_output(s, t, now);
  }
  if (t->timer[TT_KEEP] <= now)
    keep_fire(s, t, now);
}

/* us_stack_check_invariants(): every deadline a TCB has is in the queue,
 * under a key no later than it (an earlier key only costs a look). */
static void timerq_check(struct us_stack *s) {
  for (struct us_tcb *t = tcp_layer(s)->active; t; t = t->anext) {
    us_time_t d = tcb_next_deadline(t, NULL);
    if (d != US_TIME_NEVER)
      US_ASSERT(t->tq_pos != 0 && t->tq_key <= d);
  }
}

/* Only the TCBs at the front of the timer queue are looked at: those due
 * are taken off first, so a timer that re-arms itself at `now` runs once
 * per poll, then each runs its timers and is re-keyed by tcp_gc(). */
us_time_t tcp_poll(struct us_stack *s, us_time_t now) {
  struct us_tcp_layer *ts = tcp_layer(s);
  if (s->check_invariants)
    timerq_check(s);
  tcp_flush_pending(s, now);
  struct us_tcb *due = NULL, **tail = &due, *t;
  while ((t = tcp_timerq_first(&ts->tq)) && t->tq_key <= now) {
    tcp_timerq_remove(&ts->tq, t);
    t->tq_next = NULL;
    *tail = t;
    tail = &t->tq_next;
  }
  for (struct us_tcb *nx; due; due = nx) {
    nx = due->tq_next;
    if (!due->in_use)
      continue;
    if (tcb_next_deadline(due, NULL) <= now)
      run_timers(s, due, now);
    tcp_gc(s, due);
  }
  tcp_flush_pending(s, now);
  if (s->check_invariants)
    timerq_check(s);
  return tcp_timerq_next(&ts->tq);
}
