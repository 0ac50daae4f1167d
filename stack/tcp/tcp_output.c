/*
 * tcp_output.c - everything TCP sends.
 *
 * Segments are built in one place, emit(): a packet from the pool, the
 * payload copied once from the send ring into it, the header written in
 * front by us_tcp_build() (the only code that writes TCP headers), and the
 * packet handed to us_ip_output(), which consumes it.
 *
 * tcp_output() decides what a connection may send now: SYN-ACK while our
 * SYN is unacknowledged; otherwise, while the congestion window allows
 * more than pipe (RFC 6675 4, tcp_rack.c), first the ranges loss
 * detection marked lost (NextSeg rule 1), then new data within SND.WND,
 * with sender silly-window avoidance and Nagle (RFC 9293 3.7.4 and
 * 3.8.6.2.1), the FIN after the last byte, and a pure ACK if one is owed
 * and nothing else carried it. Every data or FIN segment is noted in the
 * transmit records (tcp_sack.c) with its time.
 *
 * ACK coalescing (MUST-58, MUST-59; docs/ARCHITECTURE.md 2): the ACKs input
 * owes are not sent by input. It sets ack_now (or arms the delayed-ACK
 * timer) and puts the TCB on the pending list; us_stack_poll() flushes the
 * list once per batch, so a burst of in-order segments is answered by one
 * ACK, and a window update rides on it. The one ACK input sends at once is
 * the duplicate ACK for text beyond a hole (RFC 5681 4.2: one per segment,
 * the sender counts them), through tcp_input.c's TV_DUP_ACK verdict.
 *
 * The receive window (RFC 9293 3.8.6.2.2, receiver SWS avoidance): the
 * right edge we advertise (rcv_adv) moves right only when it can move by at
 * least min(RCV.BUFF/2, MSS), and never moves left.
 */
#include "cc.h"
#include "core/log.h"
#include "core/pkt.h"
#include "core/stats.h"
#include "ip/ip.h"
#include "tcp_int.h"
#include "wire/checksum.h"

static uint32_t min32(uint32_t a, uint32_t b) { return a < b ? a : b; }

uint32_t tcp_rcv_wnd(const struct us_tcb *t) {
  return us_seq_gt(t->rcv_adv, t->rcv_nxt) ? t->rcv_adv - t->rcv_nxt : 0;
}

static uint32_t sws_threshold(const struct us_stack *s, const struct us_tcb *t) {
  return min32(s->cfg.tcp_rcvbuf / 2, t->rcv_mss ? t->rcv_mss : TCP_MSS_DEFAULT);
}

/* The window field for a non-SYN segment; advances rcv_adv. The space is
 * what a receive buffer can take (tcb_rcv_space: none when the pool is
 * empty and no ring is attached). */
static uint16_t window_field(const struct us_stack *s, struct us_tcb *t) {
  uint32_t free = tcb_rcv_space(s, t);
  uint32_t cur = tcp_rcv_wnd(t);
  uint32_t w = cur;
  if (free > cur && free - cur >= sws_threshold(s, t))
    w = free;
  uint32_t max = (uint32_t)0xffff << t->rcv_wscale;
  if (w > max)
    w = max;
  uint32_t field = w >> t->rcv_wscale;
  uint32_t edge = t->rcv_nxt + (field << t->rcv_wscale);
  if (us_seq_gt(edge, t->rcv_adv))
    t->rcv_adv = edge;
  return (uint16_t)field;
}

/* True when the application made enough room that the peer, whose window
 * was more than half closed, should hear about it now. */
bool tcp_window_update_due(const struct us_stack *s, const struct us_tcb *t) {
  if (!tcp_state_synchronized(t->state) || t->fin_rcvd)
    return false;
  uint32_t max = (uint32_t)0xffff << t->rcv_wscale;
  uint32_t free = tcb_rcv_space(s, t);
  if (free > max)
    free = max;
  uint32_t cur = tcp_rcv_wnd(t);
  uint32_t full = min32(tcb_rcv_space_max(s), max);
  return free > cur && free - cur >= sws_threshold(s, t) && cur < full / 2;
}

void tcp_ack_needed(struct us_stack *s, struct us_tcb *t) {
  t->ack_now = true;
  tcb_pending_add(s, t);
}

/* RFC 2018 section 4: report what we hold out of order, the block with
 * the latest segment first, then the others from the highest down (the
 * builder keeps as many as fit in the option space). */
static void fill_sack(const struct us_tcb *t, struct us_tcp_seg *h) {
  unsigned n = 0, first = t->nooo;
  for (unsigned i = 0; i < t->nooo; i++)
    if (us_seq_ge(t->ooo_recent, t->ooo[i].start) && us_seq_lt(t->ooo_recent, t->ooo[i].end))
      first = i;
  if (first < t->nooo) {
    h->sack[n].left = t->ooo[first].start;
    h->sack[n].right = t->ooo[first].end;
    n++;
  }
  for (unsigned i = t->nooo; i-- > 0 && n < US_TCP_SACK_MAX_BLOCKS;) {
    if (i == first)
      continue;
    h->sack[n].left = t->ooo[i].start;
    h->sack[n].right = t->ooo[i].end;
    n++;
  }
  h->sack_count = (uint8_t)n;
}

/* Build and send one segment: `len` bytes of the send ring from `off`.
 * Returns 0 or a us_err (no packet buffer: the caller's timer retries). */
static int emit(struct us_stack *s, struct us_tcb *t, uint32_t seq, uint8_t flags, uint32_t off,
                uint32_t len, us_time_t now) {
  struct us_tcp_seg h = { 0 };
  h.sport = t->lport;
  h.dport = t->rport;
  h.seq = seq;
  h.flags = flags;
  if (flags & US_TH_ACK)
    h.ack = t->rcv_nxt;
  if (flags & US_TH_SYN) {
    /* MUST-14/MUST-65: MSS only in SYNs. RFC 7323 2.2: the window of a
     * SYN is never scaled; WS is offered in our SYN, and in a SYN-ACK
     * only if the peer offered it. */
    h.has_mss = true;
    h.mss = t->rcv_mss;
    if (!(flags & US_TH_ACK) || t->ws_ok) {
      h.has_ws = true;
      h.ws = t->rcv_wscale;
    }
    h.sack_perm = !(flags & US_TH_ACK) || t->sack_ok;
    /* RFC 7323 3.2: TSopt offered in our SYN, in a SYN-ACK only if the
     * peer's SYN had it. MSS, SACK-permitted+TS and WS take 20 of the 40
     * option bytes. */
    if (!(flags & US_TH_ACK) ? s->cfg.tcp_timestamps : t->ts_ok)
      tcp_ts_fill(t, &h, now);
    uint32_t w = min32(tcb_rcv_space(s, t), 0xffff);
    t->syn_wnd = w;
    h.wnd = (uint16_t)w;
    if ((flags & US_TH_ACK) && us_seq_gt(t->rcv_nxt + w, t->rcv_adv))
      t->rcv_adv = t->rcv_nxt + w;
  } else if (!(flags & US_TH_RST)) {
    h.wnd = window_field(s, t);
    if (t->sack_ok && t->nooo > 0)
      fill_sack(t, &h);
  }
  /* RFC 7323 3.2: once negotiated, on every segment (an RST from a TCB
   * too: a SHOULD). The builder keeps 3 SACK blocks beside it. */
  if (t->ts_ok && !(flags & US_TH_SYN))
    tcp_ts_fill(t, &h, now);
  /* RFC 3168: ECE/CWR, and ECT(0) on new data (tcp_ecn.c). */
  uint8_t tos = tcp_ecn_out(s, t, &h, len, now);
  size_t hl = us_tcp_hdr_len(&h);
  /* MUST-16 / RFC 6691: options come out of the MSS (t->mss already
   * leaves room for TSopt). A full-sized data segment drops SACK blocks
   * rather than exceed the path MTU (the pure ACKs carry them); so does a
   * TSO super-segment, whose header every segment cut from it repeats. */
  while (h.sack_count > 0 && hl - US_TCP_HDR_MIN + len > t->mss + tcp_ts_optlen(t)) {
    h.sack_count--;
    hl = us_tcp_hdr_len(&h);
  }
  /* Longer than one segment: only tcp_output asks for that, and only when
   * the device segments for us (seg_max); each segment carries one MSS of
   * payload (t->mss already leaves room for TSopt, the only option left). */
  uint32_t gso_size = 0;
  if (len > t->mss) {
    if (!tcp_tso_ok(s, t) || hl - US_TCP_HDR_MIN > tcp_ts_optlen(t))
      return US_ERR_INVAL;
    gso_size = t->mss;
  }
  bool partial = (s->dev.caps & US_DEV_CSUM) != 0;
  struct us_pkt *p = us_pkt_alloc(s, hl + len);
  if (!p)
    return US_ERR_NOMEM;
  uint8_t *d = us_pkt_put(p, hl + len);
  if (!d) {
    us_pkt_free(s, p);
    return US_ERR_NOMEM;
  }
  if (len)
    us_ring_peek(&t->snd, off, d + hl, len);
  uint32_t pseudo = us_csum_pseudo(t->laddr, t->raddr, US_IPPROTO_TCP);
  if (partial)
    us_tcp_build_partial(&h, d, hl, len, pseudo);
  else
    us_tcp_build(&h, d, hl, len, pseudo);
  if (flags & US_TH_ACK) {
    t->last_ack_sent = h.ack; /* RFC 7323 4.3: Last.ACK.sent */
    t->ack_now = false;
    t->timer[TT_DELACK] = US_TIME_NEVER;
    t->segs_unacked = 0;
  }
  uint32_t segs = gso_size ? (len + gso_size - 1) / gso_size : 1;
  US_STAT_ADD(s, tcp_out_segs, segs);
  if (gso_size)
    US_STAT_INC(s, tcp_tso_segs_out);
  if (flags & US_TH_RST)
    US_STAT_INC(s, tcp_out_rsts);
  /* RFC 1191: DF on, so a router too small for the segment says so
   * (tcp_pmtu.c), unless path MTU discovery is off or hit its floor. */
  struct us_ip_tx tx = {
    .src = t->laddr,
    .dst = t->raddr,
    .proto = US_IPPROTO_TCP,
    .tos = tos,
    .df = s->cfg.tcp_pmtud && !t->pmtu_no_df,
  };
  if (partial) {
    US_STAT_INC(s, tcp_csum_offload_out);
    tx.offload = true;
    tx.csum_offset = 16;
    tx.gso_size = (uint16_t)gso_size;
  }
  us_ip_output(s, p, &tx, now);
  return 0;
}

/* The device segments for this connection: US_DEV_TSO4 over IPv4,
 * US_DEV_TSO6 over IPv6 (docs/OFFLOAD.md). */
bool tcp_tso_ok(const struct us_stack *s, const struct us_tcb *t) {
  return (s->dev.caps & (us_addr_is_v6(t->raddr) ? US_DEV_TSO6 : US_DEV_TSO4)) != 0;
}

/* The most payload one emit() may carry: one MSS, or with a device that
 * segments (US_DEV_TSO4) as many whole MSS as fit in one IPv4 datagram with
 * the largest headers (65535 - 20 - 60 bytes), so a super-segment never
 * needs fragmenting and every segment cut from it but the last is full. */
static uint32_t seg_max(struct us_stack *s, const struct us_tcb *t) {
  if (!tcp_tso_ok(s, t) || t->mss == 0) {
    if ((s->dev.caps & US_DEV_TSO4) && us_addr_is_v6(t->raddr))
      US_STAT_INC(s, tcp_tso_v6_off); /* a device that segments IPv4 only */
    return t->mss;
  }
  uint32_t room = US_IP4_MAX_DATAGRAM - US_IP4_HDR_MIN - US_TCP_HDR_MAX;
  uint32_t n = room / t->mss;
  return n > 1 ? n * t->mss : t->mss;
}

int tcp_send_syn(struct us_stack *s, struct us_tcb *t, us_time_t now) {
  uint8_t fl = US_TH_SYN;
  if (t->state != US_TCP_SYN_SENT)
    fl |= US_TH_ACK;
  if (t->snd_max == t->iss)
    tcp_ts_init(s, t); /* the first SYN: the 4-tuple is known by now */
  int rc = emit(s, t, t->iss, fl, 0, 0, now);
  /* Time the first SYN only (Karn). */
  t->rtt_timing = t->snd_max == t->iss && rc == 0;
  t->rtt_seq = t->iss;
  t->rtt_start = now;
  if (t->snd_nxt == t->iss) {
    t->snd_nxt = t->iss + 1;
    t->snd_max = t->iss + 1;
  }
  if (t->timer[TT_RTO] == US_TIME_NEVER)
    t->timer[TT_RTO] = now + tcp_rto_current(s, t);
  return rc;
}

/* Segments without data carry SND.MAX, the RFC's SND.NXT (snd_nxt lags
 * only while a zero-window probe is outstanding): an ACK below the peer's
 * RCV.NXT would fail its sequence check and be dropped unread. */
void tcp_send_ack(struct us_stack *s, struct us_tcb *t, us_time_t now) {
  emit(s, t, t->snd_max, US_TH_ACK, 0, 0, now);
}

/* RFC 9293 3.8.4: a keep-alive probe is an ACK with SEG.SEQ = SND.NXT-1,
 * which the peer must answer with an ACK. */
void tcp_send_keepalive(struct us_stack *s, struct us_tcb *t, us_time_t now) {
  emit(s, t, t->snd_max - 1, US_TH_ACK, 0, 0, now);
  US_STAT_INC(s, tcp_keepalive_probes);
}

void tcp_send_rst_tcb(struct us_stack *s, struct us_tcb *t, us_time_t now) {
  emit(s, t, t->snd_max, US_TH_RST | US_TH_ACK, 0, 0, now);
}

/* A segment with no TCB behind it (RST, cookie SYN-ACK, the FIN of a
 * refused cookie): DF set for RFC 1191 as every TCP segment. CONSUMES p. */
static void send_tuple(struct us_stack *s, struct us_pkt *p, us_addr_t laddr, us_addr_t raddr,
                       us_time_t now) {
  struct us_ip_tx tx = {
    .src = laddr, .dst = raddr, .proto = US_IPPROTO_TCP, .df = s->cfg.tcp_pmtud
  };
  us_ip_output(s, p, &tx, now);
}

void tcp_send_rst(struct us_stack *s, us_addr_t laddr, uint16_t lport, us_addr_t raddr,
                  uint16_t rport, uint32_t seq, uint32_t ack, bool with_ack, us_time_t now) {
  struct us_tcp_seg h = { 0 };
  h.sport = lport;
  h.dport = rport;
  h.seq = seq;
  h.ack = with_ack ? ack : 0;
  h.flags = US_TH_RST | (with_ack ? US_TH_ACK : 0);
  size_t hl = us_tcp_hdr_len(&h);
  struct us_pkt *p = us_pkt_alloc(s, hl);
  if (!p)
    return;
  uint8_t *d = us_pkt_put(p, hl);
  if (!d) {
    us_pkt_free(s, p);
    return;
  }
  us_tcp_build(&h, d, hl, 0, us_csum_pseudo(laddr, raddr, US_IPPROTO_TCP));
  US_STAT_INC(s, tcp_out_segs);
  US_STAT_INC(s, tcp_out_rsts);
  send_tuple(s, p, laddr, raddr, now);
}

/* The window a SYN-ACK carried when a SYN cookie was its ISS: unscaled
 * (RFC 7323 2.2: a SYN's window never is), at most 64 KB; emit() computes
 * the same for a child with an empty ring, so a connection rebuilt from
 * the cookie agrees. */
uint16_t tcp_cookie_window(const struct us_stack *s) {
  return (uint16_t)min32(tcb_rcv_space_max(s), 0xffff);
}

/* The smallest shift that lets the window reach cfg.tcp_rcvbuf (RFC 7323
 * 2.3, at most 14). It depends on the configuration only, so a SYN cookie
 * need not remember what its SYN-ACK offered. */
uint8_t tcp_our_wscale(const struct us_stack *s) {
  uint8_t ws = 0;
  while (ws < US_TCP_WS_MAX && (s->cfg.tcp_rcvbuf >> ws) > 0xffff)
    ws++;
  return ws;
}

static void send_stateless(struct us_stack *s, us_addr_t laddr, us_addr_t raddr,
                           const struct us_tcp_seg *h, us_time_t now) {
  size_t hl = us_tcp_hdr_len(h);
  struct us_pkt *p = us_pkt_alloc(s, hl);
  if (!p)
    return;
  uint8_t *d = us_pkt_put(p, hl);
  if (!d) {
    us_pkt_free(s, p);
    return;
  }
  us_tcp_build(h, d, hl, 0, us_csum_pseudo(laddr, raddr, US_IPPROTO_TCP));
  US_STAT_INC(s, tcp_out_segs);
  send_tuple(s, p, laddr, raddr, now);
}

/* The SYN-ACK of a full SYN queue (RFC 4987 3.6), sent with no TCB behind
 * it: <SEQ=cookie><ACK=SEG.SEQ+1><CTL=SYN,ACK>, with our MSS and the
 * cookie window. When the SYN had TSopt (o->ts), also what the cookie
 * keeps in the TSval (tcp_syncookie.c): TSopt, WS with our shift if the
 * SYN had WS, SACK-permitted if it had it, ECE if ECN was agreed (RFC 3168
 * 6.1.1), as the SYN-ACK of a queued SYN would. The connection rebuilt
 * from the ACK agrees with what the peer was told. If it is lost, the
 * peer's retransmitted SYN gets another. */
void tcp_send_cookie_synack(struct us_stack *s, us_addr_t laddr, uint16_t lport, us_addr_t raddr,
                            uint16_t rport, uint32_t cookie, uint32_t ack,
                            const struct tcp_cookie_opts *o, us_time_t now) {
  struct us_tcp_seg h = { 0 };
  h.sport = lport;
  h.dport = rport;
  h.seq = cookie;
  h.ack = ack;
  h.flags = US_TH_SYN | US_TH_ACK;
  h.has_mss = true;
  h.mss = (uint16_t)tcp_mss_for(s->cfg.mtu, laddr.family);
  h.wnd = tcp_cookie_window(s);
  if (o->ts) {
    h.has_ts = true;
    h.tsval = tcp_syncookie_tsval(s, laddr, lport, raddr, rport, o, now);
    h.tsecr = o->tsecr;
    if (o->ws_ok) {
      h.has_ws = true;
      h.ws = tcp_our_wscale(s);
    }
    h.sack_perm = o->sack;
    if (o->ecn)
      h.flags |= US_TH_ECE;
  }
  send_stateless(s, laddr, raddr, &h, now);
}

/* The FIN that closes at once a SYN-cookie handshake a connection limit
 * refuses (tcp_listen.c), <SEQ=SEG.ACK><ACK=SEG.SEQ><CTL=FIN,ACK>, with no
 * TCB behind it; with TSopt if the ACK (`seg`) had it, since the cookie
 * then agreed to timestamps (RFC 7323 3.2: on every segment). If it is
 * lost, the peer's retransmission gets it again. */
void tcp_send_stateless(struct us_stack *s, us_addr_t laddr, uint16_t lport, us_addr_t raddr,
                        uint16_t rport, uint32_t seq, uint32_t ack, uint8_t flags,
                        const struct us_tcp_seg *seg, us_time_t now) {
  struct us_tcp_seg h = { 0 };
  h.sport = lport;
  h.dport = rport;
  h.seq = seq;
  h.ack = ack;
  h.flags = flags;
  h.wnd = tcp_cookie_window(s);
  if (seg->has_ts && s->cfg.tcp_timestamps) {
    h.has_ts = true;
    h.tsval = tcp_ts_clock(s, laddr, lport, raddr, rport, now);
    h.tsecr = seg->tsval;
  }
  send_stateless(s, laddr, raddr, &h, now);
}

/* Bookkeeping shared by every data/FIN segment we send. */
static void sent_range(struct us_stack *s, struct us_tcb *t, uint32_t seq, uint32_t len, bool fin,
                       us_time_t now) {
  bool rexmit = us_seq_lt(seq, t->snd_max);
  if (rexmit) {
    /* Karn (RFC 6298 3): no sample from a retransmitted range. */
    t->rtt_timing = false;
    t->retransmits++;
    US_STAT_INC(s, tcp_retrans_segs);
  } else if (!t->rtt_timing && !t->ts_ok && (len > 0 || fin)) {
    /* With timestamps every ACK of new data is a sample (tcp_ts.c). */
    t->rtt_timing = true;
    t->rtt_seq = seq;
    t->rtt_start = now;
  }
  if (!rexmit)
    t->bytes_out += len;
  if (fin)
    t->fin_sent = true;
  uint32_t end = seq + len + (fin ? 1 : 0);
  tcp_xr_sent(t, seq, end - seq, now);
  if (us_seq_gt(end, t->snd_max))
    t->snd_max = end;
}

static us_time_t persist_interval(const struct us_stack *s, const struct us_tcb *t) {
  us_time_t iv = t->rto;
  for (uint32_t i = 0; i < t->persist_backoff && iv < s->cfg.tcp_rto_max; i++)
    iv *= 2;
  if (iv > s->cfg.tcp_rto_max)
    iv = s->cfg.tcp_rto_max;
  if (iv < s->cfg.tcp_rto_min)
    iv = s->cfg.tcp_rto_min;
  return iv;
}

static void arm_send_timers(struct us_stack *s, struct us_tcb *t, us_time_t now) {
  if (t->snd_nxt != t->snd_una) {
    if (t->timer[TT_RTO] == US_TIME_NEVER && t->timer[TT_PERSIST] == US_TIME_NEVER)
      t->timer[TT_RTO] = now + tcp_rto_current(s, t); /* RFC 6298 5.1 */
  } else {
    /* Unsent data (or a FIN whose packet could not be had) with nothing
     * in flight: no ACK will come to clock it out, so the persist timer
     * must (zero window, SWS override, or a retry after no buffer). */
    uint32_t off = t->snd_nxt - t->snd_una;
    bool unsent = off < t->snd.len || (t->fin_queued && !t->fin_sent);
    if (unsent && t->timer[TT_PERSIST] == US_TIME_NEVER)
      t->timer[TT_PERSIST] = now + persist_interval(s, t);
  }
}

void tcp_output(struct us_stack *s, struct us_tcb *t, us_time_t now) {
  switch (t->state) {
  case US_TCP_CLOSED:
  case US_TCP_LISTEN:
  case US_TCP_SYN_SENT: /* the SYN goes out from connect() and the RTO */
    t->ack_now = false;
    return;
  case US_TCP_TIME_WAIT:
    if (t->ack_now)
      tcp_send_ack(s, t, now);
    return;
  default:
    break;
  }
  if (!t->syn_acked) {
    /* SYN-RECEIVED: every ACK we owe is a (re)sent SYN-ACK. */
    if (t->ack_now)
      tcp_send_syn(s, t, now);
    t->ack_now = false;
    return;
  }
  bool sent = false, sent_new = false, tso_off = false;
  tcp_loss_idle_check(s, t, now);
  for (;;) {
    uint32_t cwnd = tcp_cc_window(t);
    uint32_t pipe = tcp_loss_pipe(t);
    uint32_t room = cwnd > pipe ? cwnd - pipe : 0;
    uint32_t lseq, llen;
    if (tcp_xr_next_lost(t, &lseq, &llen)) {
      /* RFC 6675 5 step 4.4 and NextSeg rule 1: a lost range first, when
       * cwnd - pipe allows a segment (the first of a recovery at once,
       * step 4.3). */
      if (!t->fast_rexmit && room < llen)
        break;
      if (tcp_send_range(s, t, lseq, llen, now) != 0)
        break;
      t->fast_rexmit = false;
      sent = true;
      continue;
    }
    t->fast_rexmit = false;
    uint32_t off = t->snd_nxt - t->snd_una;
    uint32_t qlen = t->snd.len;
    uint32_t avail = off < qlen ? qlen - off : 0;
    bool fin_pending = t->fin_queued && us_seq_le(t->snd_nxt, t->snd_fin_seq);
    uint32_t inflight = t->snd_nxt - t->snd_una;
    uint32_t rwnd = t->snd_wnd > inflight ? t->snd_wnd - inflight : 0;
    uint32_t usable = min32(rwnd, room);
    uint32_t len = min32(min32(avail, usable), tso_off ? t->mss : seg_max(s, t));
    if (len > t->mss && len < avail)
      len -= len % t->mss; /* sender SWS: a short tail only when it empties the queue */
    bool fin = fin_pending && len == avail;
    if (len == 0 && !fin)
      break;
    if (len > 0 && len < t->mss && !fin) {
      /* RFC 9293 3.8.6.2.1 (sender SWS) with Nagle (3.7.4) in Minshall's
       * variant (as Linux): a short segment only if it empties the queue
       * and no other short segment is unacknowledged (or Nagle is off), or
       * it is at least half the largest window seen. The tail of a large
       * write therefore goes at once; a stream of small writes coalesces. */
      bool all = len == avail;
      bool small_out = us_seq_gt(t->snd_sml, t->snd_una);
      bool ok = (all && (t->nodelay || inflight == 0 || !small_out)) ||
                (t->max_snd_wnd > 0 && len >= t->max_snd_wnd / 2);
      if (!ok)
        break;
    }
    uint8_t fl = US_TH_ACK;
    if (len > 0 && off + len == qlen)
      fl |= US_TH_PSH; /* MUST-61: PSH on the last queued segment */
    if (fin)
      fl |= US_TH_FIN;
    if (emit(s, t, t->snd_nxt, fl, off, len, now) != 0) {
      if (len <= t->mss || tso_off)
        break;
      tso_off = true; /* no 64 KiB buffer free: go on one MSS at a time */
      US_STAT_INC(s, tcp_tso_fallback);
      continue;
    }
    sent_range(s, t, t->snd_nxt, len, fin, now);
    t->snd_nxt += len + (fin ? 1 : 0);
    if (len < t->mss)
      t->snd_sml = t->snd_nxt; /* Minshall's Nagle: one small segment out */
    sent = sent_new = true;
    if (fin)
      break;
  }
  if (sent_new)
    tcp_loss_on_send(s, t, now);
  if (!sent && t->ack_now)
    tcp_send_ack(s, t, now);
  arm_send_timers(s, t, now);
}

/* Send [seq, seq + len): the ring's bytes there, and the FIN if it sits
 * at the end of the range. Used for every resend (loss recovery, the
 * tail-loss probe) and for a probe of new data. */
int tcp_send_range(struct us_stack *s, struct us_tcb *t, uint32_t seq, uint32_t len,
                   us_time_t now) {
  if (!t->syn_acked || us_seq_lt(seq, t->snd_una))
    return US_ERR_INVAL;
  uint32_t data_end = t->snd_una + t->snd.len;
  uint32_t dlen = 0;
  if (us_seq_lt(seq, data_end))
    dlen = min32(len, data_end - seq);
  bool fin = t->fin_queued && seq + dlen == t->snd_fin_seq && len > dlen &&
             us_seq_le(seq + dlen, t->snd_max);
  if (dlen == 0 && !fin)
    return US_ERR_INVAL;
  uint8_t fl =
      US_TH_ACK | (fin ? US_TH_FIN : 0) | (dlen > 0 && seq + dlen == data_end ? US_TH_PSH : 0);
  int rc = emit(s, t, seq, fl, seq - t->snd_una, dlen, now);
  if (rc != 0)
    return rc;
  sent_range(s, t, seq, dlen, fin, now);
  uint32_t end = seq + dlen + (fin ? 1 : 0);
  if (us_seq_gt(end, t->snd_nxt))
    t->snd_nxt = end;
  return 0;
}

/* Resend the first unacknowledged segment (an RTO with nothing in the
 * transmit records; the SYN or SYN-ACK before the handshake is done). */
void tcp_retransmit_first(struct us_stack *s, struct us_tcb *t, us_time_t now) {
  if (!t->syn_acked) {
    tcp_send_syn(s, t, now);
    return;
  }
  tcp_send_range(s, t, t->snd_una, t->mss, now);
}

/* The persist timer fired (RFC 9293 3.8.6.1, MUST-36): with a zero window
 * send one byte of new data (or resend the byte already probing); with a
 * small window that SWS avoidance refused, send what fits (the "override
 * timeout" of 3.8.6.2.1). */
void tcp_persist_probe(struct us_stack *s, struct us_tcb *t, us_time_t now) {
  t->timer[TT_PERSIST] = US_TIME_NEVER;
  if (!t->syn_acked)
    return;
  uint32_t off = t->snd_nxt - t->snd_una;
  uint32_t qlen = t->snd.len;
  if (t->snd_wnd == 0) {
    /* MUST-37 lets a window stay shut forever, but not at any cost: the
     * user timeout bounds it, and so does R2 once nobody can read the
     * socket any more (an orphan; Linux's tcp_orphan_retries). */
    if (t->persist_backoff == 0)
      t->first_rexmit_at = now;
    if ((t->user_timeout > 0 && now - t->first_rexmit_at >= t->user_timeout) ||
        (t->app_closed && t->persist_backoff >= s->cfg.tcp_r2)) {
      US_STAT_INC(s, tcp_abort_on_timeout);
      tcp_drop(s, t, US_ERR_TIMEDOUT, "zero window: user timeout or orphan");
      return;
    }
    if (off > 0) {
      /* Our probe byte (or data the shrunken window cut off) is still
       * unacknowledged: resend the first byte. */
      if (qlen > 0 && emit(s, t, t->snd_una, US_TH_ACK, 0, 1, now) == 0)
        sent_range(s, t, t->snd_una, 1, false, now);
    } else if (off < qlen) {
      if (emit(s, t, t->snd_nxt, US_TH_ACK, off, 1, now) == 0) {
        sent_range(s, t, t->snd_nxt, 1, false, now);
        t->snd_nxt += 1;
      }
    } else if (t->fin_queued && !t->fin_sent) {
      tcp_output(s, t, now);
      return;
    } else {
      return;
    }
    US_STAT_INC(s, tcp_zero_window_probes);
    t->timer[TT_RTO] = US_TIME_NEVER;
    if (t->persist_backoff < 30)
      t->persist_backoff++;
    t->timer[TT_PERSIST] = now + persist_interval(s, t);
    return;
  }
  if (off < qlen) {
    uint32_t inflight = off;
    uint32_t cwnd = tcp_cc_window(t), pipe = tcp_loss_pipe(t);
    uint32_t room = cwnd > pipe ? cwnd - pipe : 0;
    uint32_t usable = min32(t->snd_wnd > inflight ? t->snd_wnd - inflight : 0, room);
    uint32_t len = min32(min32(qlen - off, usable), t->mss);
    if (len > 0) {
      uint8_t fl = US_TH_ACK | (off + len == qlen ? US_TH_PSH : 0);
      if (emit(s, t, t->snd_nxt, fl, off, len, now) == 0) {
        sent_range(s, t, t->snd_nxt, len, false, now);
        t->snd_nxt += len;
      }
    }
  }
  tcp_output(s, t, now);
}

void tcp_flush_pending(struct us_stack *s, us_time_t now) {
  while (tcp_layer(s)->pending) {
    struct us_tcb *t = tcp_layer(s)->pending;
    tcb_pending_remove(s, t);
    tcp_output(s, t, now);
    tcp_gc(s, t);
  }
}
