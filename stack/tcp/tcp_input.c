/*
 * tcp_input.c - segment arrival, RFC 9293 section 3.10.7, step by step.
 *
 * tcp_input() validates (checksum, header, options, addresses, flags),
 * finds the TCB and hands the segment to one of:
 *   tcp_input_closed()    3.10.7.1  no connection and no listener
 *   tcp_input_listen()    3.10.7.2  a listener: SYN makes a child TCB
 *   tcp_input_syn_sent()  3.10.7.3
 *   tcp_input_time_wait() TIME-WAIT specifics (RFC 1337, FIN re-ACK,
 *                         reopening by a new SYN), then the steps below
 *   tcp_input_other()     3.10.7.4  the eight steps, in RFC order
 * Each returns a verdict (docs/ARCHITECTURE.md 4) saying what becomes of
 * the segment and what answers it, applied in one place (apply_verdict):
 * continue, drop, drop and ACK, challenge ACK, RST from the segment, abort
 * with a RST, duplicate ACK at once, a listener's stateless SYN-ACK or FIN.
 *
 * No step sends anything itself. The ACKs the state machine owes are
 * marked on the TCB (ack_now, or the delayed-ACK timer) and us_stack_poll()
 * flushes every marked TCB once per batch (MUST-58/59). What must go out
 * during this input is a verdict: a RST, the stateless answers of a
 * listener, and the duplicate ACK for text beyond a hole (one per segment,
 * RFC 5681 4.2: the sender counts them).
 *
 * RFC 5961 is applied as RFC 9293 folds it in: an RST must carry exactly
 * RCV.NXT to reset, an in-window RST or any SYN on a synchronized
 * connection draws a challenge ACK, rate-limited per connection (never
 * globally: CVE-2016-5696), and an ACK outside
 * [SND.UNA - MAX.SND.WND, SND.NXT] is dropped with an ACK.
 */
#include "core/log.h"
#include "core/assert.h"
#include "core/stats.h"
#include "ip/ip.h"
#include "tcp_int.h"
#include "wire/bytes.h"
#include "wire/icmp4.h"
#include "wire/icmp6.h"
#include "wire/ipv4.h"

enum tcp_verdict {
  TV_CONTINUE,      /* go on with the next step */
  TV_DROP,          /* discard the segment (any ACK owed is already marked) */
  TV_DROP_ACK,      /* discard, and send <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> */
  TV_CHALLENGE_ACK, /* discard, and send that ACK within the connection's
                       challenge-ACK budget (RFC 5961 7) */
  TV_DROP_RST,      /* discard, and answer with a RST built from the segment;
                       rate-limited when no TCB has its 4-tuple */
  TV_ABORT_RST,     /* discard, send <SEQ=SND.NXT><CTL=RST>, abort the TCB */
  TV_DUP_ACK,       /* text held beyond a hole: the later steps still run,
                       then an ACK goes out at once (RFC 5681 4.2) */
  TV_COOKIE_SYNACK, /* LISTEN, SYN queue full: a SYN-ACK with a cookie */
  TV_REFUSE_FIN,    /* LISTEN: a cookie handshake a limit refuses: FIN */
  TV_REOPEN,        /* TIME-WAIT only: a new SYN may reuse the 4-tuple */
};

/* One segment being processed. `seg` may be trimmed by the first step;
 * seq0/len0/flags0 keep what arrived, for RST replies and the RST check. */
struct seg_in {
  struct us_tcp_seg seg;
  uint32_t seq0, len0;
  uint8_t flags0;
  us_addr_t src, dst;
  uint8_t ecn; /* the IP header's ECN field (RFC 3168 5) */
  us_time_t now;
};

static uint32_t min32(uint32_t a, uint32_t b) { return a < b ? a : b; }

/* Our window-scale shift: the smallest that lets the whole receive buffer
 * be advertised (RFC 7323 2.3), at most 14. */
/* MSS policy (MUST-14..16, HOSTILE OPT-3): none or zero -> 536, tiny ->
 * a floor of 64, and never more than what the path MTU can carry, less
 * TSopt when timestamps are on (tcp_pmtu.c). */
static void apply_syn_options(struct us_stack *s, struct us_tcb *t, const struct us_tcp_seg *g,
                              bool we_offered_ws, us_time_t now) {
  uint32_t peer = TCP_MSS_DEFAULT;
  if (g->has_mss && g->mss != 0)
    peer = g->mss < TCP_MSS_FLOOR ? TCP_MSS_FLOOR : g->mss;
  t->rcv_mss = (uint16_t)tcp_mss_for(s->cfg.mtu, t->laddr.family);
  t->peer_mss = (uint16_t)peer;
  /* RFC 7323 3.2: we offer TSopt in every SYN we send (cfg permitting). */
  tcp_ts_syn(s, t, g, true, now);
  tcp_ecn_syn(s, t, g);
  tcp_mss_update(s, t);
  /* RFC 2018: we always offer SACK-permitted, so the peer's decides. */
  t->sack_ok = g->sack_perm;
  /* RFC 7323 2.2: scaling only if both SYNs carry WS. */
  if (g->has_ws && we_offered_ws) {
    if (g->ws_clamped)
      US_LOGD(s, "tcp: peer window scale above 14, using 14 (RFC 7323 2.3)");
    t->ws_ok = true;
    t->snd_wscale = g->ws;
    t->rcv_wscale = tcp_our_wscale(s);
  } else {
    t->ws_ok = false;
    t->snd_wscale = 0;
    t->rcv_wscale = 0;
  }
}

/* RFC 5961 section 7: challenge ACKs are rate-limited, per connection. */
static void challenge_ack(struct us_stack *s, struct us_tcb *t, us_time_t now) {
  if (t->chal_count == 0 || now - t->chal_start >= US_SEC(1)) {
    t->chal_start = now;
    t->chal_count = 0;
  }
  if (t->chal_count >= s->cfg.tcp_challenge_ack_per_sec) {
    US_STAT_INC(s, tcp_challenge_ack_limited);
    return;
  }
  t->chal_count++;
  US_STAT_INC(s, tcp_challenge_ack);
  tcp_ack_needed(s, t);
}

/* A listener's child goes back to LISTEN (MUST-11): the child TCB is
 * freed at the end of this input; the listener itself never left LISTEN. */
static void back_to_listen(struct us_stack *s, struct us_tcb *t, const char *why) {
  tcp_timers_clear(t);
  tcb_hash_remove(s, t);
  t->ack_now = false;
  tcp_set_state(s, t, US_TCP_LISTEN, why);
  t->dead = true;
}

/* The reply to a segment that has no place here (3.10.7.1 and the
 * <SEQ=SEG.ACK><CTL=RST> cases): never to a RST. */
static void reply_rst(struct us_stack *s, const struct seg_in *in) {
  if (in->flags0 & US_TH_RST)
    return;
  if (in->flags0 & US_TH_ACK)
    tcp_send_rst(s, in->dst, in->seg.dport, in->src, in->seg.sport, in->seg.ack, 0, false, in->now);
  else
    tcp_send_rst(s, in->dst, in->seg.dport, in->src, in->seg.sport, 0, in->seq0 + in->len0, true,
                 in->now);
}

/* RSTs to segments that have no connection (a closed port, an ACK at a
 * listener that matches nothing, a SYN refused by a limit) cost the sender
 * one segment each and us one each: during a flood we would reflect them
 * at whatever source the flood forged. They share one token bucket
 * (cfg.tcp_rst_rate), as ICMP errors do (RFC 1812 4.3.2.8); FreeBSD
 * limits them the same way. A suppressed RST is counted. */
static void reply_rst_limited(struct us_stack *s, const struct seg_in *in) {
  if (in->flags0 & US_TH_RST)
    return;
  if (!us_tbucket_take(&tcp_layer(s)->rst_tb, s->cfg.tcp_rst_rate, s->cfg.tcp_rst_burst, in->now)) {
    US_STAT_INC(s, tcp_out_rsts_limited);
    return;
  }
  reply_rst(s, in);
}

/* RFC 4987 3.6: the SYN queue is full, so the SYN gets a SYN-ACK whose ISS
 * is a SYN cookie and no state at all. Nothing is evicted: every half-open
 * connection we already answered keeps its place, so its ACK completes it. */
static void syn_cookie_reply(struct us_stack *s, const struct seg_in *in) {
  const struct us_tcp_seg *g = &in->seg;
  uint16_t pm = g->has_mss && g->mss != 0 ? g->mss : TCP_MSS_DEFAULT;
  struct tcp_cookie_opts o;
  tcp_syncookie_opts(s, g, &o);
  uint32_t cookie =
      tcp_syncookie_make(s, in->dst, g->dport, in->src, g->sport, g->seq, pm, &o, in->now);
  US_STAT_INC(s, tcp_syncookies_sent);
  tcp_send_cookie_synack(s, in->dst, g->dport, in->src, g->sport, cookie, g->seq + 1, &o, in->now);
}

/* The one place a verdict takes effect. `t` is NULL when no TCB has the
 * segment's 4-tuple (CLOSED, LISTEN). */
static void apply_verdict(struct us_stack *s, struct us_tcb *t, const struct seg_in *in,
                          enum tcp_verdict v) {
  const struct us_tcp_seg *g = &in->seg;
  switch (v) {
  case TV_CONTINUE:
  case TV_DROP:
  case TV_REOPEN:
    break;
  case TV_DROP_ACK:
    if (t && t->in_use && t->state != US_TCP_CLOSED && !(in->flags0 & US_TH_RST))
      tcp_ack_needed(s, t);
    break;
  case TV_CHALLENGE_ACK:
    challenge_ack(s, t, in->now);
    break;
  case TV_DROP_RST:
    if (t)
      reply_rst(s, in);
    else
      reply_rst_limited(s, in);
    break;
  case TV_ABORT_RST:
    tcp_send_rst_tcb(s, t, in->now);
    tcp_drop(s, t, US_ERR_CONNABORTED, "data after close");
    break;
  case TV_DUP_ACK:
    tcp_send_ack(s, t, in->now);
    break;
  case TV_COOKIE_SYNACK:
    syn_cookie_reply(s, in);
    break;
  case TV_REFUSE_FIN:
    tcp_send_stateless(s, in->dst, g->dport, in->src, g->sport, g->ack, g->seq,
                       US_TH_FIN | US_TH_ACK, g, in->now);
    break;
  }
}

/* ---- 3.10.7.1 CLOSED -------------------------------------------------- */

static enum tcp_verdict tcp_input_closed(struct us_stack *s) {
  US_STAT_INC(s, tcp_no_socket);
  /* "An incoming segment containing a RST is discarded. An incoming
   * segment not containing a RST causes a RST to be sent": with ACK off,
   * <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>; with ACK on,
   * <SEQ=SEG.ACK><CTL=RST>. reply_rst() does both. */
  return TV_DROP_RST;
}

/* ---- 3.10.7.2 LISTEN -------------------------------------------------- */

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
 * apply_syn_options() applies a SYN's: what the SYN-ACK offered is what
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
static enum tcp_verdict tcp_input_listen(struct us_stack *s, struct us_tcb *l,
                                         const struct seg_in *in, bool iss_floor_set,
                                         uint32_t iss_floor, struct us_tcb **child) {
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
  apply_syn_options(s, t, g, true, in->now);
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

/* No TCB has the segment's 4-tuple: a listener's (3.10.7.2), else CLOSED
 * (3.10.7.1). */
static enum tcp_verdict tcp_input_no_tcb(struct us_stack *s, const struct seg_in *in,
                                         bool iss_floor_set, uint32_t iss_floor,
                                         struct us_tcb **child) {
  struct us_tcb *l = tcb_listener_lookup(s, in->dst, in->seg.dport);
  if (!l)
    return tcp_input_closed(s);
  return tcp_input_listen(s, l, in, iss_floor_set, iss_floor, child);
}

/* ---- 3.10.7.3 SYN-SENT ------------------------------------------------ */

static enum tcp_verdict step1_check_seq(struct us_stack *s, struct us_tcb *t, struct seg_in *in);
static enum tcp_verdict steps6_to_8(struct us_stack *s, struct us_tcb *t, struct seg_in *in);

static enum tcp_verdict tcp_input_syn_sent(struct us_stack *s, struct us_tcb *t,
                                           struct seg_in *in) {
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
  apply_syn_options(s, t, g, true, in->now);
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
      enum tcp_verdict v = step1_check_seq(s, t, in);
      return v != TV_CONTINUE ? v : steps6_to_8(s, t, in);
    }
    return TV_DROP;
  }
  /* Simultaneous open (MUST-10): <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>. */
  t->passive = false;
  tcp_set_state(s, t, US_TCP_SYN_RECEIVED, "SYN in SYN-SENT (simultaneous open)");
  tcp_ack_needed(s, t);
  return TV_DROP;
}

/* ---- RFC 9293 3.10.7.4 other states ------------------------------------ */

/* 3.10.7.4 first: check the sequence number (Table 6), then trim the
 * segment to the window. */

static enum tcp_verdict step1_check_seq(struct us_stack *s, struct us_tcb *t, struct seg_in *in) {
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
static enum tcp_verdict step5_check_ack(struct us_stack *s, struct us_tcb *t, struct seg_in *in) {
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
static enum tcp_verdict steps6_to_8(struct us_stack *s, struct us_tcb *t, struct seg_in *in) {
  enum tcp_verdict v;
  if ((v = step6_check_urg(s, t, in)) != TV_CONTINUE)
    return v;
  v = step7_text(s, t, in);
  if (v != TV_CONTINUE && v != TV_DUP_ACK)
    return v;
  enum tcp_verdict fin = step8_check_fin(s, t, in);
  return fin != TV_CONTINUE ? fin : v;
}

static enum tcp_verdict tcp_input_other(struct us_stack *s, struct us_tcb *t, struct seg_in *in) {
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
  if ((v = step1_check_seq(s, t, in)) != TV_CONTINUE)
    return v;
  /* RFC 7323 4.3 (2): an acceptable segment may refresh TS.Recent. */
  tcp_ts_update_recent(t, &in->seg, in->seq0, in->now);
  /* RFC 3168 6.1.3: CE to echo, or CWR to stop echoing. */
  tcp_ecn_input(s, t, &in->seg, in->ecn);
  if ((v = step2_check_rst(s, t, in)) != TV_CONTINUE)
    return v;
  if ((v = step4_check_syn(s, t, in)) != TV_CONTINUE)
    return v;
  if ((v = step5_check_ack(s, t, in)) != TV_CONTINUE)
    return v;
  return steps6_to_8(s, t, in);
}

/* ---- TIME-WAIT ---------------------------------------------------------- */

static enum tcp_verdict tcp_input_time_wait(struct us_stack *s, struct us_tcb *t,
                                            struct seg_in *in) {
  const struct us_tcp_seg *g = &in->seg;
  if (g->flags & US_TH_RST) {
    US_STAT_INC(s, tcp_time_wait_rst);
    /* Our choice, cfg.tcp_time_wait_rst_closes (default false): RFC 1337
     * section 3 ("TIME-WAIT assassination"): ignore RST in TIME-WAIT, so
     * an old duplicate or forged RST cannot end the 2*MSL quarantine
     * early. With the switch on, RFC 9293's second step applies (exact
     * sequence number only). */
    if (!s->cfg.tcp_time_wait_rst_closes)
      return TV_DROP;
    if (in->seq0 == t->rcv_nxt)
      tcp_drop(s, t, 0, "RST in TIME-WAIT");
    return TV_DROP;
  }
  if ((g->flags & US_TH_SYN) && !(g->flags & US_TH_ACK)) {
    /* A new SYN may reopen the pair (RFC 9293 3.6.1 allows it, as Linux
     * does): RFC 6191 2, when the old connection used timestamps and the
     * SYN has one, if its TSval is above TS.Recent, whatever its sequence
     * number; otherwise if its sequence number is above the old space. */
    int newer = tcp_ts_syn_newer(t, g);
    bool ok = newer >= 0 ? newer == 1 : us_seq_gt(g->seq, t->rcv_nxt);
    if (ok && !us_sock_valid(t->h))
      return TV_REOPEN;
    if (newer == 0)
      US_STAT_INC(s, tcp_paws_dropped);
    return TV_DROP_ACK;
  }
  /* PAWS holds in TIME-WAIT too (RFC 7323 5.3, as Linux): an old
   * duplicate is answered with an ACK, not taken for the peer's FIN. */
  switch (tcp_ts_check(s, t, g, in->now)) {
  case TS_OK:
    break;
  case TS_DROP:
    return TV_DROP;
  case TS_DROP_ACK:
    return TV_DROP_ACK;
  }
  if ((g->flags & US_TH_FIN) && g->seq + g->payload_len + 1 == t->rcv_nxt) {
    /* The peer's FIN again: our ACK was lost. ACK it and restart the
     * 2*MSL timeout (RFC 9293 3.10.7.4, eighth step, TIME-WAIT). */
    t->timer[TT_2MSL] = in->now + 2 * s->cfg.tcp_msl;
    tcp_tw_track(s, t); /* the youngest again */
    return TV_DROP_ACK;
  }
  if (in->len0 > 0 || in->seq0 != t->rcv_nxt)
    return TV_DROP_ACK;
  return TV_DROP;
}

/* ---- entry ---------------------------------------------------------------- */

void tcp_input(struct us_stack *s, const struct us_ipinfo *ii, us_time_t now) {
  US_STAT_INC(s, tcp_in_segs);
  struct seg_in in;
  /* A segment from the local kernel with a partial or verified checksum
   * (docs/OFFLOAD.md) is not summed again; it may also be a GSO
   * super-packet, far larger than the MSS, which is fine on input. */
  enum us_tcp_parse_result pr =
      ii->l4_csum_trusted ? us_tcp_parse_trusted(ii->payload, ii->payload_len, &in.seg)
                          : us_tcp_parse(ii->payload, ii->payload_len, ii->pseudo, &in.seg);
  switch (pr) {
  case US_TCP_PARSE_OK:
    break;
  case US_TCP_PARSE_BAD_CSUM:
    US_STAT_INC(s, tcp_in_csum_errors);
    US_STAT_INC(s, tcp_in_errs);
    return;
  case US_TCP_PARSE_BAD_OPTIONS:
    /* MUST-7 suggests reset-and-log; we drop and count (no RST for what
     * may be a forged segment). */
    US_STAT_INC(s, tcp_bad_options);
    US_STAT_INC(s, tcp_in_errs);
    return;
  default:
    US_STAT_INC(s, tcp_bad_offset);
    US_STAT_INC(s, tcp_in_errs);
    return;
  }
  in.src = ii->src;
  in.dst = ii->dst;
  in.ecn = ii->ecn & TCP_ECN_MASK;
  in.now = now;
  in.seq0 = in.seg.seq;
  in.flags0 = in.seg.flags;
  in.len0 = in.seg.payload_len + ((in.seg.flags & US_TH_SYN) ? 1u : 0u) +
            ((in.seg.flags & US_TH_FIN) ? 1u : 0u);

  /* MUST-57/MUST-63: nothing to or from broadcast, multicast or martian
   * addresses (this includes LAND: our own address as the source). Only
   * our unicast address is local, so that one test refuses every
   * broadcast and multicast destination. */
  if (!us_ip_is_local(s, ii->dst) || us_ip_is_martian(s, ii->src) || in.seg.sport == 0 ||
      in.seg.dport == 0) {
    US_STAT_INC(s, tcp_bad_addr);
    if (in.seg.flags & US_TH_SYN)
      US_STAT_INC(s, tcp_martian_syn);
    return;
  }
  /* SYN+FIN is never legitimate: drop it everywhere (as Linux and
   * FreeBSD do). */
  if ((in.seg.flags & (US_TH_SYN | US_TH_FIN)) == (US_TH_SYN | US_TH_FIN)) {
    US_STAT_INC(s, tcp_bad_flags);
    return;
  }

  enum tcp_verdict v;
  struct us_tcb *t = tcb_lookup(s, ii->dst, in.seg.dport, ii->src, in.seg.sport);
  if (!t) {
    v = tcp_input_no_tcb(s, &in, false, 0, &t);
    if (v != TV_CONTINUE) {
      apply_verdict(s, NULL, &in, v);
      return;
    }
    /* A SYN cookie came back: the new TCB takes the segment from here. */
  }
  switch (t->state) {
  case US_TCP_SYN_SENT:
    v = tcp_input_syn_sent(s, t, &in);
    break;
  case US_TCP_TIME_WAIT:
    v = tcp_input_time_wait(s, t, &in);
    break;
  default:
    v = tcp_input_other(s, t, &in);
    break;
  }
  if (v == TV_REOPEN) {
    uint32_t floor = t->snd_max + 65535u + 2u; /* as Linux: above the old ISS space */
    US_STAT_INC(s, tcp_time_wait_recycled);
    tcp_drop(s, t, 0, "TIME-WAIT reopened by a new SYN");
    tcp_gc(s, t);
    struct us_tcb *child = NULL; /* a SYN: never a cookie ACK, so none */
    apply_verdict(s, NULL, &in, tcp_input_no_tcb(s, &in, true, floor, &child));
    return;
  }
  if (t->in_use && t->state != US_TCP_CLOSED && v != TV_DROP_RST && v != TV_ABORT_RST && !t->dead) {
    /* Any acceptable segment shows the peer is alive (keep-alive idle). */
    t->last_rx = now;
    t->keep_sent = 0;
    if (t->keepalive && t->timer[TT_KEEP] != US_TIME_NEVER)
      t->timer[TT_KEEP] = now + t->keep_idle;
  }
  apply_verdict(s, t, &in, v);
  if (t->in_use && !t->dead && t->state != US_TCP_CLOSED)
    tcb_pending_add(s, t); /* ACKs may have opened room for new data */
  tcp_gc(s, t);
}

/* ---- ICMP errors (RFC 5927, RFC 9293 3.9.2.2) ------------------------- */

void tcp_icmp_error(struct us_stack *s, uint8_t type, uint8_t code, uint32_t info, us_addr_t qsrc,
                    us_addr_t qdst, const uint8_t *quote, size_t quote_len, us_time_t now) {
  if (quote_len < 8)
    return;
  uint16_t sport = us_get16(quote), dport = us_get16(quote + 2);
  uint32_t seq = us_get32(quote + 4);
  struct us_tcb *t = tcb_lookup(s, qsrc, sport, qdst, dport);
  if (!t || t->state == US_TCP_LISTEN || t->state == US_TCP_TIME_WAIT) {
    US_STAT_INC(s, tcp_icmp_ignored);
    return;
  }
  /* RFC 5927 4.1: the quoted sequence number must be one we sent and have
   * not seen acknowledged, else the error is stale or forged. */
  if (!(us_seq_ge(seq, t->snd_una) && us_seq_lt(seq, t->snd_max))) {
    US_STAT_INC(s, tcp_icmp_ignored);
    return;
  }
  if (us_addr_is_v4(qsrc) && type == US_ICMP_DEST_UNREACH && code == US_ICMP_UNREACH_NEEDFRAG) {
    /* RFC 1191: the next-hop MTU, checked by icmp.c, in the low 16 bits. */
    tcp_pmtu_frag_needed(s, t, info & 0xffffu, now);
    tcp_gc(s, t);
    return;
  }
  if (us_addr_is_v6(qsrc) && type == US_ICMP6_PKT_TOO_BIG) {
    /* RFC 8201 4: the MTU field, at least 1280 (icmp6.c raised it). */
    tcp_pmtu_frag_needed(s, t, info, now);
    tcp_gc(s, t);
    return;
  }
  /* MUST-54..56 and RFC 5461: treat every other ICMP error as soft. The
   * connection goes on; if it later times out, the timeout is reported. */
  US_STAT_INC(s, tcp_icmp_soft);
  US_LOGD(s, "tcp: ICMP type %u code %u for port %u: soft error", type, code, sport);
}
