/*
 * tcp_step5_ack.c - RFC 9293 3.10.7.4, fifth step: check the ACK field
 * (with RFC 5961 5), in its parts: SYN-RECEIVED to ESTABLISHED, an
 * acceptable ACK, SND.UNA and what it frees, duplicate ACKs and loss
 * recovery (tcp_rack.c), the send window, and our FIN acknowledged.
 */
#include "core/stats.h"
#include "tcp_input_int.h"
#include "tcp_int.h"

static uint32_t min32(uint32_t a, uint32_t b) { return a < b ? a : b; }

/* The mechanics of SND.UNA <- SEG.ACK: what the ACK covers leaves the
 * send ring, the SYN's and the FIN's sequence numbers are noted, an RTT
 * sample is taken (Karn) and the retransmission timer is restarted or
 * stopped. Returns the bytes acknowledged, with the FIN. */
static uint32_t ack_new(struct us_stack *s, struct us_tcb *t, uint32_t ack, us_time_t now) {
  uint32_t acked = ack - t->snd_una;
  if (!t->syn_acked) {
    t->syn_acked = true; /* our SYN took one sequence number */
    acked--;
    if (t->rtt_timing && us_seq_gt(ack, t->rtt_seq)) {
      tcp_rtt_sample(s, t, now - t->rtt_start);
      t->rtt_timing = false;
    }
    tcp_rtt_syn_done(s, t, t->nrexmit > 0);
    tcp_loss_init(s, t, now);
  }
  tcp_xr_acked(s, t, ack, now);
  uint32_t data = min32(acked, t->snd.len);
  if (data)
    us_ring_discard(&t->snd, data);
  tcb_snd_release_if_empty(s, t); /* all acknowledged: the buffer goes back */
  acked -= data;
  if (acked > 0 && t->fin_sent)
    t->fin_acked = true;
  t->snd_una = ack;
  if (us_seq_lt(t->snd_nxt, t->snd_una))
    t->snd_nxt = t->snd_una;
  /* RFC 6298: sample only a range never retransmitted (Karn). */
  if (t->rtt_timing && us_seq_gt(ack, t->rtt_seq)) {
    tcp_rtt_sample(s, t, now - t->rtt_start);
    t->rtt_timing = false;
  }
  t->backoff = 0;
  t->nrexmit = 0;
  /* RFC 6298 5.2 and 5.3. */
  if (t->snd_una == t->snd_max)
    t->timer[TT_RTO] = US_TIME_NEVER;
  else if (t->timer[TT_PERSIST] == US_TIME_NEVER)
    t->timer[TT_RTO] = now + tcp_rto_current(s, t);
  if (data)
    tcb_mark(s, t);    /* room in the send buffer: WRITABLE */
  return data + acked; /* and the FIN, if this ACK covers it */
}

/* 3.10.7.4 fifth, SYN-RECEIVED: "If SND.UNA < SEG.ACK =< SND.NXT, then
 * enter ESTABLISHED state and continue processing"; if the ACK is not
 * acceptable, <SEQ=SEG.ACK><CTL=RST>. */
static enum tcp_verdict step5_syn_received(struct us_stack *s, struct us_tcb *t,
                                           const struct seg_in *in) {
  const struct us_tcp_seg *g = &in->seg;
  if (t->state != US_TCP_SYN_RECEIVED)
    return TV_CONTINUE;
  if (!(us_seq_gt(g->ack, t->snd_una) && us_seq_le(g->ack, t->snd_max))) {
    US_STAT_INC(s, tcp_bad_syn_rcvd_ack);
    return TV_DROP_RST; /* <SEQ=SEG.ACK><CTL=RST> */
  }
  struct us_tcb *l = t->listener;
  if (t->passive && l && l->acq_len >= l->backlog) {
    /* Accept queue full: drop the ACK and stay in SYN-RECEIVED; the
     * SYN-ACK retransmission tries again later (Linux does the same). */
    US_STAT_INC(s, tcp_listen_overflows);
    return TV_DROP;
  }
  tcp_set_state(s, t, US_TCP_ESTABLISHED, "ACK of SYN");
  if (t->passive && l) {
    tcb_q_remove(&l->synq_head, &l->synq_tail, t);
    l->synq_len--;
    t->in_synq = false;
    tcb_q_push(&l->acq_head, &l->acq_tail, t);
    l->acq_len++;
    t->in_acceptq = true;
    tcb_mark(s, l); /* ACCEPT */
  }
  t->snd_wnd = (uint32_t)g->wnd << t->snd_wscale;
  t->max_snd_wnd = t->snd_wnd;
  t->snd_wl1 = g->seq;
  t->snd_wl2 = g->ack;
  tcp_keepalive_arm(s, t, in->now);
  return TV_CONTINUE;
}

/* 3.10.7.4 fifth, ESTABLISHED, with RFC 5961 5.2: an ACK is acceptable
 * only in [SND.UNA - MAX.SND.WND, SND.NXT]. "If the ACK acks something not
 * yet sent (SEG.ACK > SND.NXT), then send an ACK, drop the segment"; one
 * too old to be ours is dropped with an ACK too. */
static enum tcp_verdict step5_ack_acceptable(struct us_stack *s, const struct us_tcb *t,
                                             const struct seg_in *in) {
  const struct us_tcp_seg *g = &in->seg;
  if (us_seq_gt(g->ack, t->snd_max)) {
    US_STAT_INC(s, tcp_ack_unsent);
    return TV_DROP_ACK;
  }
  if (us_seq_lt(g->ack, t->snd_una - t->max_snd_wnd)) {
    US_STAT_INC(s, tcp_old_ack);
    return TV_DROP_ACK;
  }
  return TV_CONTINUE;
}

/* 3.10.7.4 fifth, ESTABLISHED: "If SND.UNA < SEG.ACK =< SND.NXT, then set
 * SND.UNA <- SEG.ACK". Returns the bytes (and the FIN) newly acknowledged. */
static uint32_t step5_advance_una(struct us_stack *s, struct us_tcb *t, const struct seg_in *in) {
  /* RFC 7323 4.1: with timestamps, every ACK of new data is an RTT
   * sample (the SYN's is timed: ack_new). */
  if (t->syn_acked && tcp_ts_rtt_sample(s, t, &in->seg, in->now))
    t->rtt_timing = false;
  uint32_t acked = ack_new(s, t, in->seg.ack, in->now);
  tcp_loss_check_renege(s, t, in->now);
  return acked;
}

/* 3.10.7.4 fifth, ESTABLISHED: "If the ACK is a duplicate (SEG.ACK =<
 * SND.UNA), it can be ignored" by the state machine, but loss recovery
 * counts it (RFC 5681 2), and every acceptable ACK goes to loss detection,
 * recovery and the congestion window (tcp_rack.c) and to ECN (RFC 3168
 * 6.1.2). Before the window update: a duplicate ACK is one that carries
 * the window the previous ACK did. `advanced`: SND.UNA moved, by `acked`. */
static void step5_dup_ack_and_recovery(struct us_stack *s, struct us_tcb *t,
                                       const struct seg_in *in, bool advanced, uint32_t acked) {
  const struct us_tcp_seg *g = &in->seg;
  uint32_t wnd = (uint32_t)g->wnd << t->snd_wscale;
  bool classic_dup =
      g->payload_len == 0 && !(g->flags & (US_TH_SYN | US_TH_FIN)) && wnd == t->snd_wnd;
  /* The SACK blocks after the cumulative ACK: RACK wants deliveries in
   * sequence order (RFC 8985 6.2 step 3). */
  bool dsack = false;
  bool sack_new = t->sack_ok && g->sack_count > 0 && t->syn_acked &&
                  tcp_sack_update(s, t, g, in->now, &dsack) > 0;
  bool dup = false;
  if (advanced) {
    /* new data acknowledged: neither a duplicate nor a pure ACK */
  } else if (g->ack == t->snd_una && t->snd_max != t->snd_una && t->snd_wnd != 0 &&
             (classic_dup || sack_new)) {
    /* RFC 5681 2: a duplicate ACK; with SACK, any ACK reporting newly
     * SACKed data counts too (RFC 6675 2). With a zero window the answers
     * to our probes look the same and say nothing about loss. */
    US_STAT_INC(s, tcp_dup_acks);
    dup = true;
  } else if (g->payload_len == 0) {
    US_STAT_INC(s, tcp_pure_acks);
  }
  if (tcp_state_synchronized(t->state))
    tcp_loss_on_ack(s, t, acked, dup, dsack, in->now);
  tcp_ecn_echo(s, t, g, in->now); /* RFC 3168 6.1.2, once SND.UNA has moved */
}

/* 3.10.7.4 fifth, ESTABLISHED: "If SND.UNA =< SEG.ACK =< SND.NXT, the
 * send window should be updated. If (SND.WL1 < SEG.SEQ or (SND.WL1 =
 * SEG.SEQ and SND.WL2 =< SEG.ACK)), set SND.WND <- SEG.WND, set SND.WL1 <-
 * SEG.SEQ, and set SND.WL2 <- SEG.ACK." A window that opens ends the
 * zero-window probes (3.8.6.1). */
static void step5_update_window(struct us_tcb *t, const struct seg_in *in) {
  const struct us_tcp_seg *g = &in->seg;
  if (!(us_seq_lt(t->snd_wl1, g->seq) || (t->snd_wl1 == g->seq && us_seq_le(t->snd_wl2, g->ack))))
    return;
  uint32_t wnd = (uint32_t)g->wnd << t->snd_wscale;
  t->snd_wnd = wnd;
  t->snd_wl1 = g->seq;
  t->snd_wl2 = g->ack;
  if (wnd > t->max_snd_wnd)
    t->max_snd_wnd = wnd;
  if (wnd > 0 && t->timer[TT_PERSIST] != US_TIME_NEVER) {
    t->timer[TT_PERSIST] = US_TIME_NEVER;
    t->persist_backoff = 0;
  }
}

/* 3.10.7.4 fifth, the closing states, once our FIN is acknowledged:
 * FIN-WAIT-1 enters FIN-WAIT-2, CLOSING enters TIME-WAIT, LAST-ACK
 * deletes the TCB ("enter the CLOSED state, and return"). */
static enum tcp_verdict step5_fin_acked(struct us_stack *s, struct us_tcb *t,
                                        const struct seg_in *in) {
  if (!t->fin_acked)
    return TV_CONTINUE;
  switch (t->state) {
  case US_TCP_FIN_WAIT_1:
    tcp_set_state(s, t, US_TCP_FIN_WAIT_2, "ACK of FIN");
    /* An orphan cannot be told about the peer's FIN, and a peer that
     * never sends one would hold its TCB for ever: like Linux
     * (tcp_fin_timeout), it gets cfg.tcp_fin_timeout at most. */
    if (t->app_closed)
      t->timer[TT_2MSL] = in->now + s->cfg.tcp_fin_timeout;
    break;
  case US_TCP_CLOSING:
    tcp_enter_time_wait(s, t, in->now);
    break;
  case US_TCP_LAST_ACK:
    tcp_drop(s, t, 0, "ACK of FIN in LAST-ACK");
    return TV_DROP;
  default:
    break;
  }
  return TV_CONTINUE;
}

/* 3.10.7.4 fifth: check the ACK field (with RFC 5961 5), in its parts. */
enum tcp_verdict tcp_step5_check_ack(struct us_stack *s, struct us_tcb *t, struct seg_in *in) {
  enum tcp_verdict v;
  if (!(in->seg.flags & US_TH_ACK))
    return TV_DROP; /* "if the ACK bit is off, drop the segment" */
  if ((v = step5_syn_received(s, t, in)) != TV_CONTINUE)
    return v;
  if ((v = step5_ack_acceptable(s, t, in)) != TV_CONTINUE)
    return v;
  bool advanced = us_seq_gt(in->seg.ack, t->snd_una);
  uint32_t acked = advanced ? step5_advance_una(s, t, in) : 0;
  step5_dup_ack_and_recovery(s, t, in, advanced, acked);
  step5_update_window(t, in);
  return step5_fin_acked(s, t, in);
}
