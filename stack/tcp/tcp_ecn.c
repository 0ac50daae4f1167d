/*
 * tcp_ecn.c - Explicit Congestion Notification for TCP (RFC 3168 section 6).
 *
 * Negotiation (6.1.1): an ECN-setup SYN carries ECE and CWR, an ECN-setup
 * SYN-ACK carries ECE only. We send the former when cfg.tcp_ecn is
 * US_TCP_ECN_ON and answer with the latter when the peer asked and
 * cfg.tcp_ecn is not US_TCP_ECN_OFF (US_TCP_ECN_ACCEPT, the default, is
 * Linux's default too). A SYN-cookie SYN-ACK agrees to ECN the same way
 * when the SYN had TSopt, whose echo brings the agreement back
 * (tcp_syncookie.c); without TSopt it never does.
 *
 * Once agreed:
 *  - new data leaves with ECT(0) in the IP header; SYNs, pure ACKs,
 *    retransmissions, window probes and RSTs leave Not-ECT (6.1.1, 6.1.4,
 *    6.1.5, 6.1.6);
 *  - a segment that arrives with CE makes every ACK we send carry ECE,
 *    until a segment with CWR arrives (6.1.3);
 *  - an ACK with ECE reduces the congestion window through the cc's
 *    on_congestion hook, at most once per window of data, and not while loss
 *    recovery has already reduced it; the next new data segment carries
 *    CWR (6.1.2). The window ends with the CWR segment: SND.UNA must pass
 *    both what was in flight at the reduction and the segment carrying
 *    CWR, since the peer echoes ECE until it has seen CWR.
 */
#include "cc.h"
#include "core/stats.h"
#include "tcp_int.h"

void tcp_ecn_syn(struct us_stack *s, struct us_tcb *t, const struct us_tcp_seg *g) {
  uint8_t both = US_TH_ECE | US_TH_CWR;
  if (g->flags & US_TH_ACK)
    /* A SYN-ACK: ECE without CWR, and only if we asked. */
    t->ecn_ok = s->cfg.tcp_ecn == US_TCP_ECN_ON && (g->flags & both) == US_TH_ECE;
  else
    t->ecn_ok = s->cfg.tcp_ecn != US_TCP_ECN_OFF && (g->flags & both) == both;
  t->ecn_ece = t->ecn_cwr = t->ecn_reduced = false;
  if (t->ecn_ok)
    US_STAT_INC(s, tcp_ecn_negotiated);
}

uint8_t tcp_ecn_out(struct us_stack *s, struct us_tcb *t, struct us_tcp_seg *h, uint32_t len,
                    us_time_t now) {
  (void)now;
  if (h->flags & US_TH_SYN) {
    if (!(h->flags & US_TH_ACK)) {
      if (s->cfg.tcp_ecn == US_TCP_ECN_ON)
        h->flags |= US_TH_ECE | US_TH_CWR;
    } else if (t->ecn_ok) {
      h->flags |= US_TH_ECE;
    }
    return 0; /* 6.1.1: a SYN is never ECT */
  }
  if (!t->ecn_ok || (h->flags & US_TH_RST))
    return 0;
  if (t->ecn_ece && (h->flags & US_TH_ACK))
    h->flags |= US_TH_ECE;
  bool fresh = len > 0 && !us_seq_lt(h->seq, t->snd_max) && t->snd_wnd > 0;
  if (!fresh)
    return 0;
  if (t->ecn_cwr) {
    h->flags |= US_TH_CWR;
    t->ecn_cwr = false;
    /* ECEs keep coming until the peer has seen this CWR: the window we
     * ignore them for ends with this segment. */
    if (us_seq_gt(h->seq + len, t->ecn_high))
      t->ecn_high = h->seq + len;
    US_STAT_INC(s, tcp_ecn_cwr_sent);
  }
  return TCP_ECN_ECT0;
}

void tcp_ecn_input(struct us_stack *s, struct us_tcb *t, const struct us_tcp_seg *g, uint8_t ecn) {
  if (!t->ecn_ok)
    return;
  if (g->flags & US_TH_CWR)
    t->ecn_ece = false; /* the sender has reduced: stop echoing */
  if ((ecn & TCP_ECN_MASK) == TCP_ECN_CE) {
    US_STAT_INC(s, tcp_ecn_ce_rcvd);
    if (!t->ecn_ece) {
      t->ecn_ece = true;
      tcp_ack_needed(s, t); /* tell the sender now, not after a delayed ACK */
    }
  }
}

void tcp_ecn_echo(struct us_stack *s, struct us_tcb *t, const struct us_tcp_seg *g, us_time_t now) {
  if (!t->ecn_ok || !(g->flags & US_TH_ECE) || (g->flags & US_TH_SYN))
    return;
  US_STAT_INC(s, tcp_ecn_ece_rcvd);
  /* Already reduced for this window, or the CWR saying so has not even
   * left yet (ACKs of one batch arrive before we send anything). */
  if ((t->ecn_reduced && !us_seq_ge(t->snd_una, t->ecn_high)) || t->ecn_cwr ||
      t->recovery != TCP_REC_NONE || !t->cc.ops)
    return;
  /* The algorithm's congestion response (a multiplicative decrease: NewReno
   * halves, CUBIC multiplies by beta), without entering loss recovery:
   * nothing was lost, nothing is retransmitted. */
  struct tcp_cc_event ev;
  struct tcp_cc_rtt rtt;
  tcp_cc_event_fill(t, now, &ev, &rtt);
  t->cc.ops->on_congestion(&t->cc, &ev);
  t->ecn_reduced = true;
  t->ecn_high = t->snd_max;
  t->ecn_cwr = true;
  US_STAT_INC(s, tcp_ecn_reductions);
}
