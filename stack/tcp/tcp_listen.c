/*
 * tcp_listen.c - a segment at a listener, RFC 9293 3.10.7.2 (LISTEN):
 * RST ignored, an ACK answered with a RST unless it returns one of our SYN
 * cookies (RFC 4987 3.6; tcp_syncookie.c), in which case the handshake is
 * rebuilt in SYN-RECEIVED; a SYN makes a child TCB on the SYN queue, or,
 * with the queue full, a cookie SYN-ACK (a verdict), within the
 * listener's connection limits (tcp_limit.c).
 */
#include "core/stats.h"
#include "tcp_input_int.h"
#include "tcp_int.h"

/* A listener's child: a TCB (no buffers until data comes), a copy of the
 * listener's options, on the listener's SYN queue and counted against its
 * connection limits, in state LISTEN until the caller moves it to
 * SYN-RECEIVED. NULL when a pool is empty. */
static struct us_tcb *child_new(struct us_stack *s, struct us_tcb *l, const struct seg_in *in) {
  struct us_tcb *t = tcb_alloc(s);
  if (!t)
    return NULL;
  t->state = US_TCP_LISTEN; /* a copy of the listener, which moves on */
  t->laddr = in->dst;
  t->raddr = in->src;
  t->lport = in->seg.dport;
  t->rport = in->seg.sport;
  t->bound = true;
  t->passive = true;
  t->nodelay = l->nodelay;
  t->keepalive = l->keepalive;
  t->keep_idle = l->keep_idle;
  t->keep_intvl = l->keep_intvl;
  t->keep_cnt = l->keep_cnt;
  t->user_timeout = l->user_timeout;
  t->listener = l;
  t->in_synq = true;
  tcb_q_push(&l->synq_head, &l->synq_tail, t);
  l->synq_len++;
  tcp_limit_charge(s, l, t);
  t->last_rx = in->now;
  return t;
}

/* Would a new connection from this segment's source pass the listener's
 * connection limits (tcp_limit.c)? Counts the refusal when not. */
static bool limit_refuses(struct us_stack *s, const struct us_tcb *l, const struct seg_in *in) {
  switch (tcp_limit_check(s, l, in->src)) {
  case TL_OK:
    return false;
  case TL_LISTENER:
    US_STAT_INC(s, tcp_conn_limit_listener);
    break;
  case TL_SOURCE:
    US_STAT_INC(s, tcp_conn_limit_source);
    break;
  }
  return true;
}

/* The options a valid cookie brought back (tcp_syncookie.c), applied as
 * tcp_apply_syn_options() applies a SYN's: what the SYN-ACK offered is what
 * the connection uses. Our shift comes from the configuration, as in the
 * SYN-ACK. TS.Recent starts from this ACK's TSval, the SYN's being gone
 * (RFC 7323 4.3: it is the latest in-window TSval, and not older). */
static void apply_cookie_options(struct us_stack *s, struct us_tcb *t, const struct us_tcp_seg *g,
                                 const struct tcp_cookie_opts *o, us_time_t now) {
  t->ts_ok = o->ts;
  t->ws_ok = o->ts && o->ws_ok;
  t->snd_wscale = t->ws_ok ? o->ws : 0;
  t->rcv_wscale = t->ws_ok ? tcp_our_wscale(s) : 0;
  t->sack_ok = o->ts && o->sack;
  t->ecn_ok = o->ts && o->ecn;
  t->ecn_ece = t->ecn_cwr = t->ecn_reduced = false;
  if (!o->ts)
    return;
  tcp_ts_init(s, t);
  t->ts_recent = g->tsval;
  t->ts_recent_sec = (uint32_t)((uint64_t)now / 1000000u);
  US_STAT_INC(s, tcp_ts_negotiated);
  US_STAT_INC(s, tcp_syncookies_opts);
  if (t->ecn_ok)
    US_STAT_INC(s, tcp_ecn_negotiated);
}

/* An ACK at a listener (no TCB has its 4-tuple). If it returns one of our
 * SYN cookies, the handshake the peer completed is rebuilt in SYN-RECEIVED
 * and returned, and the normal steps take it to ESTABLISHED. Otherwise it
 * matches nothing we sent: RFC 9293 3.10.7.2, "any acknowledgment is bad
 * if it arrives on a connection still in the LISTEN state", gets
 * <SEQ=SEG.ACK><CTL=RST>. TV_CONTINUE with *child set when the cookie
 * made a TCB; any other verdict is the segment's end. */
static enum tcp_verdict cookie_ack(struct us_stack *s, struct us_tcb *l, const struct seg_in *in,
                                   struct us_tcb **child) {
  const struct us_tcp_seg *g = &in->seg;
  uint16_t mss;
  struct tcp_cookie_opts o;
  uint32_t irs = g->seq - 1, iss = g->ack - 1;
  if (!s->cfg.tcp_syncookies || !tcp_syncookie_recent(s, in->now))
    return TV_DROP_RST; /* no cookie out that it could return */
  if (!tcp_syncookie_check(s, in->dst, g->dport, in->src, g->sport, g, in->now, &mss, &o)) {
    if (g->payload_len > 0 || (g->flags & US_TH_FIN)) {
      /* The MAC covers the peer's ISN, read as SEG.SEQ - 1: only the
       * first segment after the handshake can carry it. During a flood
       * the queue in front of us drops packets, so a client's ACK and
       * first data can be lost while its later data arrives: a RST would
       * reset a connection its own retransmission of the first bytes
       * completes. Text we cannot place is dropped unanswered instead
       * (docs/LIMITS.md); a bare ACK still gets the RST below. */
      US_STAT_INC(s, tcp_syncookies_unverified);
      return TV_DROP;
    }
    US_STAT_INC(s, tcp_syncookies_failed);
    return TV_DROP_RST;
  }
  US_STAT_INC(s, tcp_syncookies_recv);
  /* The limits were checked at the SYN, but cookies in flight hold
   * nothing, so a burst can pass that check many times over: check again.
   * The peer's handshake is complete here, so a RST would reach its
   * application as a reset of a connection it has; a FIN closes it
   * cleanly instead (end of file; its close then meets our RST, unseen). */
  if (limit_refuses(s, l, in))
    return TV_REFUSE_FIN;
  if (l->acq_len >= l->backlog) {
    /* Accept queue full. With room on the SYN queue the connection is
     * rebuilt and the fifth step keeps it in SYN-RECEIVED, where the
     * SYN-ACK retransmission asks the peer to ACK again later; without,
     * the ACK is dropped and the peer's own retransmission brings the
     * cookie back (Linux does the same). Never a RST: the peer did
     * nothing wrong. */
    US_STAT_INC(s, tcp_cookie_acq_full);
    if (l->synq_len >= l->backlog) {
      US_STAT_INC(s, tcp_listen_overflows);
      return TV_DROP;
    }
  }
  struct us_tcb *t = child_new(s, l, in);
  if (!t) {
    US_STAT_INC(s, tcp_listen_drops);
    return TV_DROP;
  }
  t->irs = irs;
  t->rcv_nxt = irs + 1;
  t->rcv_up = t->rcv_nxt;
  t->rcv_adv = t->rcv_nxt + tcp_cookie_window(s);
  t->rcv_mss = (uint16_t)tcp_mss_for(s->cfg.mtu, t->laddr.family);
  /* The MSS from the cookie; timestamps, window scaling, SACK and ECN
   * from its TSval, echoed in TSecr, or none when the SYN had no TSopt
   * (docs/TCP.md). The peer's window comes from this ACK (step five),
   * scaled by its shift. */
  t->peer_mss = mss;
  apply_cookie_options(s, t, g, &o, in->now);
  tcp_mss_update(s, t);
  t->iss = iss;
  t->snd_una = t->snd_sml = iss;
  t->snd_nxt = t->snd_max = iss + 1;
  t->snd_wl1 = irs;
  t->snd_wl2 = iss;
  t->last_ack_sent = t->rcv_nxt; /* RFC 7323 4.3: the SYN-ACK acknowledged the SYN */
  tcp_set_state(s, t, US_TCP_SYN_RECEIVED, "ACK with a valid SYN cookie");
  tcb_hash_insert(s, t);
  t->timer[TT_RTO] = in->now + tcp_rto_current(s, t);
  *child = t;
  return TV_CONTINUE;
}

/* TV_CONTINUE with *child set when the segment completed a SYN-cookie
 * handshake (the caller processes it with that TCB); any other verdict is
 * the segment's end, applied without a TCB. */
enum tcp_verdict tcp_input_listen(struct us_stack *s, struct us_tcb *l, const struct seg_in *in,
                                  bool iss_floor_set, uint32_t iss_floor, struct us_tcb **child) {
  const struct us_tcp_seg *g = &in->seg;
  /* First, check for a RST: ignore it. */
  if (g->flags & US_TH_RST)
    return TV_DROP;
  /* Second, check for an ACK: <SEQ=SEG.ACK><CTL=RST>, unless it returns
   * one of our SYN cookies. */
  if (g->flags & US_TH_ACK) {
    if (g->flags & US_TH_SYN)
      return TV_DROP_RST;
    return cookie_ack(s, l, in, child);
  }
  /* Third, check for a SYN (the security check does not apply: no
   * compartments here). Anything else is dropped (fourth). */
  if (!(g->flags & US_TH_SYN)) {
    US_STAT_INC(s, tcp_listen_drops);
    return TV_DROP;
  }
  /* Accept queue full: nobody is taking connections, so do not start
   * another (Linux does the same; the peer retries its SYN). */
  if (l->acq_len >= l->backlog) {
    US_STAT_INC(s, tcp_listen_overflows);
    US_STAT_INC(s, tcp_listen_drops);
    return TV_DROP;
  }
  /* Connection limits: refuse at once, <SEQ=0><ACK=SEG.SEQ+1><CTL=RST,ACK>,
   * so the client's connect fails with "refused" instead of timing out. */
  if (limit_refuses(s, l, in))
    return TV_DROP_RST;
  /* SYN queue full (a flood, or a burst of connects; HOSTILE RES-1). A
   * reopened TIME-WAIT pair needs an ISS above its old sequence space,
   * which a cookie cannot promise: that SYN waits for the peer's retry. */
  if (l->synq_len >= l->backlog) {
    US_STAT_INC(s, tcp_synq_full);
    if (!s->cfg.tcp_syncookies || iss_floor_set) {
      US_STAT_INC(s, tcp_listen_drops);
      return TV_DROP;
    }
    return TV_COOKIE_SYNACK;
  }
  struct us_tcb *t = child_new(s, l, in);
  if (!t) {
    US_STAT_INC(s, tcp_listen_drops);
    return TV_DROP;
  }
  /* "Set RCV.NXT to SEG.SEQ+1, IRS is set to SEG.SEQ ... ISS should be
   * selected". Data in the SYN is not acknowledged: the peer sends it again
   * once the connection is established. */
  t->irs = g->seq;
  t->rcv_nxt = g->seq + 1;
  t->rcv_adv = t->rcv_nxt;
  t->rcv_up = t->rcv_nxt;
  tcp_apply_syn_options(s, t, g, true, in->now);
  t->iss = tcp_isn(s, t->laddr, t->lport, t->raddr, t->rport, in->now);
  if (iss_floor_set && !us_seq_gt(t->iss, iss_floor))
    t->iss = iss_floor; /* reopened TIME-WAIT: stay above the old space */
  t->snd_una = t->snd_nxt = t->snd_max = t->snd_sml = t->iss;
  t->snd_wnd = g->wnd; /* never scaled in a SYN (RFC 7323 2.2) */
  t->max_snd_wnd = t->snd_wnd;
  t->snd_wl1 = g->seq;
  t->snd_wl2 = t->iss;
  tcp_set_state(s, t, US_TCP_SYN_RECEIVED, "SYN on listener");
  tcb_hash_insert(s, t);
  /* <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>, at the next flush. */
  tcp_ack_needed(s, t);
  return TV_DROP;
}
