/*
 * tcp_synsent.c - a segment in SYN-SENT, RFC 9293 3.10.7.3: the ACK, RST
 * (RFC 5961 3.2) and SYN checks, ESTABLISHED on a SYN-ACK (then text and
 * FIN from the sixth step on), SYN-RECEIVED on a simultaneous open.
 */
#include "tcp_input_int.h"
#include "tcp_int.h"

enum tcp_verdict tcp_input_syn_sent(struct us_stack *s, struct us_tcb *t, struct seg_in *in) {
  const struct us_tcp_seg *g = &in->seg;
  bool ack_ok = false;
  /* First, check the ACK bit: SEG.ACK =< ISS or SEG.ACK > SND.NXT is
   * unacceptable: <SEQ=SEG.ACK><CTL=RST> unless the segment is a RST. */
  if (g->flags & US_TH_ACK) {
    if (!us_seq_gt(g->ack, t->iss) || us_seq_gt(g->ack, t->snd_max))
      return (g->flags & US_TH_RST) ? TV_DROP : TV_DROP_RST;
    ack_ok = us_seq_gt(g->ack, t->snd_una) && us_seq_le(g->ack, t->snd_max);
  }
  /* Second, the RST bit: only with an acceptable ACK (RFC 5961 3.2). */
  if (g->flags & US_TH_RST) {
    if (ack_ok)
      tcp_drop(s, t, US_ERR_CONNREFUSED, "RST in SYN-SENT: connection refused");
    return TV_DROP;
  }
  /* Third, security: nothing to check. Fourth, the SYN bit. */
  if (!(g->flags & US_TH_SYN))
    return TV_DROP; /* fifth: neither SYN nor RST */
  t->irs = g->seq;
  t->rcv_nxt = g->seq + 1;
  t->rcv_up = t->rcv_nxt;
  tcp_apply_syn_options(s, t, g, true, in->now);
  t->rcv_adv = t->rcv_nxt + t->syn_wnd;
  t->snd_wnd = g->wnd; /* unscaled in a SYN */
  t->max_snd_wnd = t->snd_wnd;
  t->snd_wl1 = g->seq;
  t->snd_wl2 = g->ack;
  t->last_rx = in->now;
  if (ack_ok) {
    /* Our SYN is acknowledged: ESTABLISHED, and <ACK=RCV.NXT>. */
    t->snd_una = g->ack;
    t->syn_acked = true;
    if (t->rtt_timing && !t->syn_rexmit)
      tcp_rtt_sample(s, t, in->now - t->rtt_start);
    t->rtt_timing = false;
    tcp_rtt_syn_done(s, t, t->syn_rexmit);
    t->nrexmit = 0;
    t->backoff = 0;
    t->timer[TT_RTO] = US_TIME_NEVER;
    tcp_loss_init(s, t, in->now);
    tcp_set_state(s, t, US_TCP_ESTABLISHED, "SYN-ACK");
    tcp_keepalive_arm(s, t, in->now);
    tcp_ack_needed(s, t);
    if (g->payload_len > 0 || (g->flags & US_TH_FIN)) {
      /* "Continue processing at the sixth step": text and FIN after the
       * SYN's sequence number, trimmed to the window like any segment. */
      in->seg.seq++;
      in->seg.flags &= (uint8_t)~US_TH_SYN;
      enum tcp_verdict v = tcp_step1_check_seq(s, t, in);
      return v != TV_CONTINUE ? v : tcp_steps6_to_8(s, t, in);
    }
    return TV_DROP;
  }
  /* Simultaneous open (MUST-10): <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>. */
  t->passive = false;
  tcp_set_state(s, t, US_TCP_SYN_RECEIVED, "SYN in SYN-SENT (simultaneous open)");
  tcp_ack_needed(s, t);
  return TV_DROP;
}
