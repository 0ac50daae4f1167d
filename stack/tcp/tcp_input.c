/*
 * tcp_input.c - segment arrival, RFC 9293 section 3.10.7: validation, TCB
 * lookup, dispatch by state, and the one place a verdict takes effect;
 * also ICMP errors for a connection (RFC 5927).
 *
 * tcp_input() validates (checksum, header, options, addresses, flags),
 * finds the TCB and hands the segment to one of:
 *   tcp_input_closed()    3.10.7.1  no connection and no listener (here)
 *   tcp_input_listen()    3.10.7.2  a listener: SYN makes a child TCB
 *                                   (tcp_listen.c)
 *   tcp_input_syn_sent()  3.10.7.3  (tcp_synsent.c)
 *   tcp_input_time_wait() TIME-WAIT specifics (RFC 1337, FIN re-ACK,
 *                         reopening by a new SYN), then the steps below
 *                         (tcp_timewait.c)
 *   tcp_input_other()     3.10.7.4  the eight steps, in RFC order
 *                                   (tcp_steps.c, the fifth in
 *                                   tcp_step5_ack.c)
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
#include "tcp_input_int.h"
#include "tcp_int.h"
#include "wire/bytes.h"
#include "wire/icmp4.h"
#include "wire/icmp6.h"
#include "wire/ipv4.h"

/* The options of the peer's SYN (or SYN-ACK), for tcp_listen.c and
 * tcp_synsent.c. MSS policy (MUST-14..16, HOSTILE OPT-3): none or zero ->
 * 536, tiny -> a floor of 64, and never more than what the path MTU can
 * carry, less TSopt when timestamps are on (tcp_pmtu.c). */
void tcp_apply_syn_options(struct us_stack *s, struct us_tcb *t, const struct us_tcp_seg *g,
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

/* ---- no TCB: a listener (tcp_listen.c), else CLOSED ---------------- */

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
