/*
 * tcp_steps.c - RFC 9293 3.10.7.4, a segment in a synchronized state (and
 * SYN-RECEIVED): the eight steps in RFC order, each a function that
 * returns a verdict (tcp_input_int.h). The fifth step, the ACK field, is in
 * tcp_step5_ack.c. RFC 5961 is folded in: only a RST at exactly RCV.NXT
 * resets, any other in-window RST or any SYN draws a challenge ACK.
 */
#include "core/stats.h"
#include "tcp_input_int.h"
#include "tcp_int.h"

/* A listener's child goes back to LISTEN (MUST-11): the child TCB is
 * freed at the end of this input; the listener itself never left LISTEN. */
static void back_to_listen(struct us_stack *s, struct us_tcb *t, const char *why) {
  tcp_timers_clear(t);
  tcb_hash_remove(s, t);
  t->ack_now = false;
  tcp_set_state(s, t, US_TCP_LISTEN, why);
  t->dead = true;
}

/* 3.10.7.4 first: check the sequence number (Table 6), then trim the
 * segment to the window. */

enum tcp_verdict tcp_step1_check_seq(struct us_stack *s, struct us_tcb *t, struct seg_in *in) {
  struct us_tcp_seg *g = &in->seg;
  if (t->state == US_TCP_SYN_RECEIVED && (g->flags & US_TH_SYN) && g->seq == t->irs) {
    /* The peer's SYN again, so its SYN is old: trim it ("only the new
     * parts are processed"). Without ACK it is a retransmitted SYN: our
     * answer is the SYN-ACK again (HOSTILE HS-1). With ACK it is the
     * SYN-ACK of a simultaneous open (RFC 9293 figure 8, line 5). */
    g->flags &= (uint8_t)~US_TH_SYN;
    g->seq++;
    if (!(g->flags & US_TH_ACK))
      return TV_DROP_ACK;
  }
  uint32_t len =
      g->payload_len + ((g->flags & US_TH_SYN) ? 1u : 0u) + ((g->flags & US_TH_FIN) ? 1u : 0u);
  uint32_t wnd = tcp_rcv_wnd(t);
  uint32_t nxt = t->rcv_nxt;
  bool ok;
  bool zero_wnd_trim = false;
  /* Table 6 of 3.10.7.4. */
  if (len == 0)
    ok = wnd == 0 ? g->seq == nxt : us_seq_in_window(g->seq, nxt, wnd);
  else if (wnd == 0) {
    /* "If the RCV.WND is zero, no segments will be acceptable, but special
     * allowance should be made to accept valid ACKs, URGs, and RSTs"
     * (MUST-66): a segment at RCV.NXT keeps its controls, loses its text. */
    ok = g->seq == nxt;
    zero_wnd_trim = ok;
  } else
    ok = us_seq_in_window(g->seq, nxt, wnd) || us_seq_in_window(g->seq + len - 1, nxt, wnd);
  if (!ok) {
    US_STAT_INC(s, tcp_seq_rejected);
    if (g->flags & US_TH_RST) {
      /* RFC 9293 3.10.7.4 first check: an unacceptable RST is dropped
       * without an answer (RFC 5961 3.2, first bullet). */
      US_STAT_INC(s, tcp_rst_ignored);
      return TV_DROP;
    }
    if ((g->flags & US_TH_SYN) && tcp_state_synchronized(t->state)) {
      /* RFC 5961 4.2: a SYN, "irrespective of the sequence number",
       * draws a (rate-limited) challenge ACK. */
      US_STAT_INC(s, tcp_syn_challenge);
      return TV_CHALLENGE_ACK;
    }
    return TV_DROP_ACK;
  }
  if (g->flags & US_TH_SYN)
    return TV_CONTINUE; /* the fourth step drops it */
  if (zero_wnd_trim && g->payload_len > 0) {
    g->payload_len = 0;
    g->flags &= (uint8_t)~US_TH_FIN; /* the FIN was behind the text */
    tcp_ack_needed(s, t);
  }
  /* Trim the front: bytes below RCV.NXT are duplicates. */
  if (us_seq_lt(g->seq, nxt)) {
    uint32_t skip = nxt - g->seq;
    if (skip >= g->payload_len) {
      if ((g->flags & US_TH_FIN) && us_seq_lt(g->seq + g->payload_len, nxt))
        g->flags &= (uint8_t)~US_TH_FIN; /* a FIN we already consumed */
      g->payload += g->payload_len;
      g->payload_len = 0;
    } else {
      g->payload += skip;
      g->payload_len -= skip;
    }
    g->seq = nxt;
    tcp_ack_needed(s, t); /* partly old: tell the peer where we are */
  }
  /* Trim the tail to the window. A FIN exactly at the edge needs no buffer
   * space and is kept (HOSTILE CL-2: FIN on a zero window). */
  uint32_t edge = nxt + wnd;
  if (us_seq_gt(g->seq + g->payload_len, edge)) {
    g->payload_len = edge - g->seq;
    g->flags &= (uint8_t)~US_TH_FIN;
    tcp_ack_needed(s, t);
  }
  return TV_CONTINUE;
}

/* 3.10.7.4 second: check the RST bit (with RFC 5961 3.2). */
static enum tcp_verdict step2_check_rst(struct us_stack *s, struct us_tcb *t, struct seg_in *in) {
  if (!(in->seg.flags & US_TH_RST))
    return TV_CONTINUE;
  if (in->seq0 != t->rcv_nxt) {
    /* In the window (step 1 dropped the rest) but not exact. */
    return TV_CHALLENGE_ACK;
  }
  switch (t->state) {
  case US_TCP_SYN_RECEIVED:
    if (t->passive)
      back_to_listen(s, t, "RST in SYN-RECEIVED (passive open, MUST-11)");
    else
      tcp_drop(s, t, US_ERR_CONNREFUSED, "RST in SYN-RECEIVED (active open)");
    break;
  case US_TCP_ESTABLISHED:
  case US_TCP_CLOSE_WAIT:
    US_STAT_INC(s, tcp_estab_resets);
    tcp_drop(s, t, US_ERR_CONNRESET, "RST");
    break;
  case US_TCP_FIN_WAIT_1:
  case US_TCP_FIN_WAIT_2:
    tcp_drop(s, t, US_ERR_CONNRESET, "RST");
    break;
  case US_TCP_CLOSING:
  case US_TCP_LAST_ACK:
  case US_TCP_TIME_WAIT:
    tcp_drop(s, t, 0, "RST while closing");
    break;
  default:
    break;
  }
  return TV_DROP;
}

/* 3.10.7.4 third: security and compartment. Nothing here uses them. */

/* 3.10.7.4 fourth: check the SYN bit (with RFC 5961 4). */
static enum tcp_verdict step4_check_syn(struct us_stack *s, struct us_tcb *t, struct seg_in *in) {
  if (!(in->seg.flags & US_TH_SYN))
    return TV_CONTINUE;
  if (t->state == US_TCP_SYN_RECEIVED && t->passive) {
    /* "If the connection was initiated with a passive OPEN, then return
     * this connection to the LISTEN state and return." */
    back_to_listen(s, t, "SYN in SYN-RECEIVED (passive open)");
    return TV_DROP;
  }
  US_STAT_INC(s, tcp_syn_challenge);
  return TV_CHALLENGE_ACK;
}

/* 3.10.7.4 sixth: check the URG bit. We keep RCV.UP = max(RCV.UP, SEG.UP) and
 * deliver urgent data inline; the pointer is never used as an offset
 * (HOSTILE URG-1). */
static enum tcp_verdict step6_check_urg(struct us_stack *s, struct us_tcb *t, struct seg_in *in) {
  (void)s;
  const struct us_tcp_seg *g = &in->seg;
  if ((g->flags & US_TH_URG) && (t->state == US_TCP_ESTABLISHED || t->state == US_TCP_FIN_WAIT_1 ||
                                 t->state == US_TCP_FIN_WAIT_2)) {
    uint32_t up = g->seq + g->urp;
    if (us_seq_gt(up, t->rcv_up))
      t->rcv_up = up;
  }
  return TV_CONTINUE;
}

/* 3.10.7.4 seventh: process the segment text. */
static enum tcp_verdict step7_text(struct us_stack *s, struct us_tcb *t, struct seg_in *in) {
  const struct us_tcp_seg *g = &in->seg;
  if (g->payload_len == 0)
    return TV_CONTINUE;
  if (t->state != US_TCP_ESTABLISHED && t->state != US_TCP_FIN_WAIT_1 &&
      t->state != US_TCP_FIN_WAIT_2)
    return TV_CONTINUE; /* after the peer's FIN: "ignore the segment text" */
  if (t->app_closed) {
    /* Nobody will read this: reset rather than acknowledge what will never
     * be delivered (Linux TCPAbortOnData, RFC 2525 2.17). */
    US_STAT_INC(s, tcp_abort_on_data);
    return TV_ABORT_RST;
  }
  if (!tcb_rcv_attach(s, t)) {
    /* The receive pool is empty: the text is not accepted (nor a FIN
     * behind it); the peer retransmits it and the ACK says where we are.
     * Nothing acknowledged is ever lost. */
    tcp_ack_needed(s, t);
    return TV_DROP;
  }
  if (g->seq == t->rcv_nxt) {
    uint32_t n = tcp_rcvq_append(s, t, g->payload, g->payload_len);
    if (n == 0) {
      /* No memory to hold it: not accepted (nor a FIN behind it); the
       * ACK tells the peer where we are and it sends the text again. */
      tcb_rcv_release_if_empty(s, t);
      tcp_ack_needed(s, t);
      return TV_DROP;
    }
    t->rcv_nxt += n;
    t->bytes_in += n;
    bool filled = false;
    if (t->nooo > 0) {
      tcp_reass_pull(s, t);
      filled = true;
    }
    tcb_mark(s, t); /* READABLE */
    /* 3.8.6.3 and RFC 5681 4.2: an ACK for at least every second
     * full-sized segment, at once when a hole is being filled, otherwise
     * within tcp_delack (MUST-40). */
    /* A GSO super-packet counts as the full-sized segments it carries,
     * so it is ACKed at once, like the segments it stands for. */
    if (n >= t->mss)
      t->segs_unacked += n / t->mss;
    if (filled || t->segs_unacked >= 2)
      tcp_ack_needed(s, t);
    else if (t->timer[TT_DELACK] == US_TIME_NEVER)
      t->timer[TT_DELACK] = in->now + s->cfg.tcp_delack;
  } else {
    /* Beyond a hole: hold it, and send a duplicate ACK at once, one per
     * segment, not coalesced: the sender counts them (RFC 5681 4.2, 3.2). */
    tcp_reass_insert(s, t, g->seq, g->payload, g->payload_len);
    tcb_rcv_release_if_empty(s, t); /* refused by a cap: nothing held */
    return TV_DUP_ACK;
  }
  return TV_CONTINUE;
}

static void fin_arrived(struct us_stack *s, struct us_tcb *t, us_time_t now) {
  t->rcv_nxt++;
  t->fin_rcvd = true;
  t->peer_fin_ooo = false;
  tcp_ack_needed(s, t);
  tcb_mark(s, t); /* READABLE: EOF */
  switch (t->state) {
  case US_TCP_SYN_RECEIVED:
  case US_TCP_ESTABLISHED:
    tcp_set_state(s, t, US_TCP_CLOSE_WAIT, "FIN");
    break;
  case US_TCP_FIN_WAIT_1:
    if (t->fin_acked)
      tcp_enter_time_wait(s, t, now);
    else
      tcp_set_state(s, t, US_TCP_CLOSING, "FIN (simultaneous close)");
    break;
  case US_TCP_FIN_WAIT_2:
    tcp_enter_time_wait(s, t, now);
    break;
  default:
    break;
  }
}

/* 3.10.7.4 eighth: check the FIN bit. A FIN beyond a hole waits for the
 * hole (HOSTILE CL-2). */
static enum tcp_verdict step8_check_fin(struct us_stack *s, struct us_tcb *t, struct seg_in *in) {
  const struct us_tcp_seg *g = &in->seg;
  if (t->fin_rcvd)
    return TV_CONTINUE;
  if (g->flags & US_TH_FIN) {
    uint32_t fseq = g->seq + g->payload_len;
    if (us_seq_gt(fseq, t->rcv_nxt) &&
        (t->state == US_TCP_ESTABLISHED || t->state == US_TCP_FIN_WAIT_1 ||
         t->state == US_TCP_FIN_WAIT_2)) {
      t->peer_fin_ooo = true;
      t->peer_fin_seq = fseq;
    }
  }
  bool now_in_order = false;
  if ((g->flags & US_TH_FIN) && g->seq + g->payload_len == t->rcv_nxt)
    now_in_order = true;
  if (t->peer_fin_ooo && t->peer_fin_seq == t->rcv_nxt)
    now_in_order = true;
  if (now_in_order)
    fin_arrived(s, t, in->now);
  return TV_CONTINUE;
}

/* 3.10.7.4 sixth to eighth, for a segment the fifth step kept (and for
 * text and FIN that came with a SYN-ACK, 3.10.7.3). A duplicate ACK owed
 * for text beyond a hole does not stop the FIN step. */
enum tcp_verdict tcp_steps6_to_8(struct us_stack *s, struct us_tcb *t, struct seg_in *in) {
  enum tcp_verdict v;
  if ((v = step6_check_urg(s, t, in)) != TV_CONTINUE)
    return v;
  v = step7_text(s, t, in);
  if (v != TV_CONTINUE && v != TV_DUP_ACK)
    return v;
  enum tcp_verdict fin = step8_check_fin(s, t, in);
  return fin != TV_CONTINUE ? fin : v;
}

enum tcp_verdict tcp_input_other(struct us_stack *s, struct us_tcb *t, struct seg_in *in) {
  enum tcp_verdict v;
  /* RFC 7323 3.2 and 5.3 (R1), ahead of the sequence check (appendix D). */
  switch (tcp_ts_check(s, t, &in->seg, in->now)) {
  case TS_OK:
    break;
  case TS_DROP:
    return TV_DROP;
  case TS_DROP_ACK:
    return TV_DROP_ACK;
  }
  if ((v = tcp_step1_check_seq(s, t, in)) != TV_CONTINUE)
    return v;
  /* RFC 7323 4.3 (2): an acceptable segment may refresh TS.Recent. */
  tcp_ts_update_recent(t, &in->seg, in->seq0, in->now);
  /* RFC 3168 6.1.3: CE to echo, or CWR to stop echoing. */
  tcp_ecn_input(s, t, &in->seg, in->ecn);
  if ((v = step2_check_rst(s, t, in)) != TV_CONTINUE)
    return v;
  if ((v = step4_check_syn(s, t, in)) != TV_CONTINUE)
    return v;
  if ((v = tcp_step5_check_ack(s, t, in)) != TV_CONTINUE)
    return v;
  return tcp_steps6_to_8(s, t, in);
}
