/*
 * tcp_int.h - state shared by the files of stack/tcp. Nothing outside
 * stack/tcp includes this (the rest of the stack sees tcp.h and the public
 * us_socket.h).
 *
 * The TCB keeps RFC 9293 vocabulary (section 3.3.1): snd_una, snd_nxt,
 * snd_wnd, snd_wl1, snd_wl2, iss, rcv_nxt, rcv_wnd (here derived from
 * rcv_adv), irs. Two additions:
 *  - snd_max, the highest sequence number ever sent. Retransmissions never
 *    move snd_nxt back (loss recovery resends what the transmit records
 *    say is lost, tcp_sack.c); snd_max is the right edge of what the peer
 *    may legitimately acknowledge.
 *  - rcv_adv, the right edge of the window we advertised. RCV.WND is
 *    rcv_adv - rcv_nxt; the edge never moves left (RFC 9293 3.8.6).
 *
 * Invariants:
 *  - snd_una <= snd_nxt <= snd_max (modulo 2^32).
 *  - The send ring holds exactly the data bytes from snd_base() up: sent
 *    but unacknowledged, then not yet sent. SYN and FIN take sequence
 *    numbers but no ring bytes.
 *  - The receive queue (tcp_rcvq.c) holds the in-order bytes the
 *    application has not read, in the packets they arrived in, and the
 *    out-of-order packets, whose ranges tcb->ooo[] records (tcp_reass.c).
 *  - The window is advertised from what the queue's buffers may still
 *    hold (tcb_rcv_space); the queue may hold up to twice that, so text
 *    inside the window is refused only when the packet pools run low.
 *  - Buffers are held only while there is data: the send ring from
 *    us_tcp_send until everything is acknowledged, the receive block (the
 *    out-of-order ranges) and packets from the first byte of text (in
 *    order or not) until the application has read everything and no
 *    out-of-order range is held.
 *  - A TCB lives while it has an application handle or its state is not
 *    CLOSED; tcp_gc() frees it at the end of each input, timer run or API
 *    call, never in the middle of one.
 */
#ifndef USTACK_TCP_TCP_INT_H
#define USTACK_TCP_TCP_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "cc.h"
#include "core/ring.h"
#include "core/stack.h"
#include "core/tbucket.h"
#include "ip/ip.h"
#include "tcp.h"
#include "ustack/us_socket.h"
#include "wire/seq.h"
#include "wire/tcp.h"

/* Timers: absolute deadlines, US_TIME_NEVER when off (deadlines, not ticks). */
enum tcp_timer {
  TT_RTO,     /* retransmission: SYN, SYN-ACK, data, FIN (RFC 6298) */
  TT_PERSIST, /* zero-window probe, and the sender-SWS override (3.8.6.2.1) */
  TT_DELACK,  /* delayed ACK (3.8.6.3, MUST-40) */
  TT_KEEP,    /* keep-alive (3.8.4) */
  TT_2MSL,    /* TIME-WAIT (MUST-13); orphaned FIN-WAIT-2 */
  TT_LOSS,    /* RFC 8985: RACK reordering timer or TLP probe timeout */
  TT_N
};

/* Out-of-order intervals per connection: bounds the per-segment work of an
 * out-of-order flood (HOSTILE RES-2) besides the byte caps. */
#define TCP_OOO_MAX 16

struct tcp_ooo {
  uint32_t start, end; /* [start, end) sequence numbers */
};
/* Bytes in front of each receive buffer for its out-of-order ranges
 * (a multiple of 8, so the ring stays aligned). */
#define TCP_OOO_HDR ((uint32_t)(sizeof(struct tcp_ooo) * TCP_OOO_MAX))

/* One transmit record (tcp_sack.c): a range of sequence space sent at
 * one time. The records cover [snd_una, snd_max) in order, without gaps. */
struct tcp_xmit {
  uint32_t start, end; /* [start, end); a FIN counts as one */
  us_time_t sent;      /* time of the latest (re)transmission */
  uint8_t flags;       /* TCP_XR_* */
};
#define TCP_XR_SACKED  0x01 /* the peer reported holding it (RFC 2018) */
#define TCP_XR_LOST    0x02 /* deemed lost and not resent since */
#define TCP_XR_RETRANS 0x04 /* sent more than once */

/* What loss detection knows about the data in flight (tcp_sack.c,
 * tcp_rack.c): a block attached with the send buffer, so an idle TCB
 * carries none of it. RFC 8985 names in the comments. */
struct tcp_flight {
  uint32_t n, cap;     /* records in use, room */
  uint32_t sacked;     /* bytes of records marked SACKED */
  uint32_t rack_end;   /* RACK.end_seq */
  uint32_t rack_fack;  /* RACK.fack: highest end delivered */
  us_time_t rack_xmit; /* RACK.xmit_ts: send time of the latest delivered */
  us_time_t rack_rtt;  /* RACK.rtt */
  us_time_t pto_at;    /* the probe timeout, or NEVER */
  struct tcp_xmit r[]; /* cap records */
};

/* Loss recovery in progress (RFC 6675, RFC 8985). */
enum tcp_recovery { TCP_REC_NONE, TCP_REC_FAST, TCP_REC_RTO };

struct us_tcb {
  /* Links. */
  struct us_tcb *hnext;         /* hash chain, listener list, free list */
  struct us_tcb *anext, *aprev; /* all TCBs in use */
  struct us_tcb *pnext, *pprev; /* pending output (flushed by poll) */
  struct us_tcb *qnext, *qprev; /* listener's SYN queue or accept queue;
                                    the TIME-WAIT list (tcp_timewait.c) */
  struct us_tcb *listener;      /* while on one of its queues */
  uint32_t idx;

  enum us_tcp_state state;
  us_sock_t h; /* application handle, or invalid */
  int err;     /* sticky error (0 or us_err) */

  bool in_use, in_hash, on_pending, in_acceptq, in_synq, is_listener;
  bool passive;    /* SYN-RECEIVED came from LISTEN (MUST-11) */
  bool dead;       /* a passive child that went back to LISTEN: free it */
  bool app_closed; /* us_tcp_close() was called: nobody reads any more */
  bool syn_acked;  /* our SYN is acknowledged */
  bool syn_rexmit; /* our SYN was retransmitted (RFC 5681 3.1: IW = 1) */
  bool fin_queued; /* shutdown/close: FIN after the queued data */
  bool fin_sent, fin_acked;
  bool fin_rcvd;     /* the peer's FIN is consumed: EOF after the ring */
  bool peer_fin_ooo; /* the peer's FIN arrived beyond a hole */
  bool ack_now;      /* send an ACK at the next flush */
  bool was_connected;
  bool nodelay, keepalive;
  bool ws_ok;       /* window scaling agreed (RFC 7323 2.2) */
  bool sack_ok;     /* SACK-permitted both ways (RFC 2018): we send blocks */
  bool ts_ok;       /* timestamps in both SYNs (RFC 7323 3.2): TSopt on all */
  bool pmtu_no_df;  /* the path MTU hit the floor: send without DF */
  bool ecn_ok;      /* ECN agreed in the handshake (RFC 3168 6.1.1) */
  bool ecn_ece;     /* we saw CE: set ECE on our ACKs until CWR (6.1.3) */
  bool ecn_cwr;     /* we reduced for an ECE: CWR on the next new data (6.1.2) */
  bool ecn_reduced; /* ecn_high is set */
  bool bound;       /* lport chosen by bind/connect/listen */
  bool snd_wait;    /* a send found the send-buffer pool empty */
  bool lim_counted; /* counted on its listener's limits (tcp_limit.c) */
  bool on_tw;       /* on the TIME-WAIT list (tcp_timewait.c) */

  /* Addresses: both of one family once connected; a listener's laddr is
   * unset (US_AF_NONE: every local address of either family). */
  us_addr_t laddr, raddr;
  uint16_t lport, rport;

  /* Send sequence space (RFC 9293 3.3.1). */
  uint32_t iss, snd_una, snd_nxt, snd_max, snd_wnd, snd_wl1, snd_wl2, snd_up;
  uint32_t max_snd_wnd;
  uint32_t snd_fin_seq; /* valid when fin_queued */
  uint32_t snd_sml;     /* end of the last short segment sent (Nagle) */
  uint8_t snd_wscale, rcv_wscale;
  uint16_t mss;      /* effective send MSS (MUST-16) */
  uint16_t rcv_mss;  /* what we advertised */
  uint16_t peer_mss; /* what the peer's SYN allowed (after our policy) */
  uint16_t pmtu;     /* path MTU estimate (RFC 1191), starts at the link MTU */

  /* Receive sequence space. */
  uint32_t irs, rcv_nxt, rcv_adv, rcv_up;
  uint32_t syn_wnd;       /* window we put in our SYN (unscaled) */
  uint32_t peer_fin_seq;  /* when peer_fin_ooo */
  uint32_t segs_unacked;  /* full-sized segments since our last ACK */
  uint32_t last_ack_sent; /* RFC 7323 4.3: ACK field of our last segment */

  /* Timestamps (RFC 7323). Our clock is ms from `now` plus ts_offset. */
  uint32_t ts_offset;     /* per-connection keyed offset (RFC 7323 5.4) */
  uint32_t ts_recent;     /* TS.Recent: the TSval we echo */
  uint32_t ts_recent_sec; /* when TS.Recent was set, in s (the 24-day rule, 5.5) */

  /* Buffers: rings from the layer's pools, attached only while they hold
   * data (buf == NULL, len == 0 otherwise; tcb.c "buffer pools"). */
  struct us_ring snd;
  struct tcp_ooo *ooo; /* TCP_OOO_MAX ranges, a block from the receive
                            pool: NULL while no data is held */
  /* Receive queue (tcp_rcvq.c): packets in order and out of order. */
  struct us_pkt *rq_head, *rq_tail, *oq_head;
  uint32_t rq_len;   /* bytes in order, not yet read */
  uint32_t rq_held;  /* buffer bytes both lists hold (truesize) */
  uint8_t rcv_ratio; /* payload per buffer byte, /256, of the last
                            buffer kept whole; 0 until one was (7/8) */
  uint8_t nooo;
  uint32_t ooo_bytes;
  uint32_t ooo_recent; /* start of the latest out-of-order segment */

  /* Transmit records, SACK scoreboard and RACK-TLP state of what is in
   * flight (tcp_sack.c), beside the send buffer; NULL without one. */
  struct tcp_flight *fl;

  /* RTT (RFC 6298), in microseconds. srtt == 0 until the first sample. */
  us_time_t srtt, rttvar, rto;
  uint32_t backoff;
  bool rtt_timing;
  uint32_t rtt_seq;
  uint32_t rtt_samples; /* RTT measurements taken (timed or TSecr) */
  us_time_t rtt_start;
  uint32_t nrexmit;          /* consecutive timeouts of the same data (R1/R2) */
  uint32_t ecn_high;         /* RFC 3168: snd_max at the last ECE response */
  us_time_t first_rexmit_at; /* for US_TCP_USER_TIMEOUT */
  uint32_t retransmits;      /* total, for ustack-ss */

  /* Congestion control (cc.h): the algorithm's own state. */
  struct tcp_cc cc;

  /* Loss recovery (tcp_rack.c): RFC 6675 / RFC 6582 and RFC 8985. */
  uint32_t recover;          /* the recovery point (RFC 6675 "RecoveryPoint") */
  uint32_t rack_min_rtt;     /* RACK.min_RTT, microseconds (0: none yet) */
  uint16_t dupacks;          /* duplicate ACKs in a row (RFC 5681) */
  uint8_t recovery;          /* enum tcp_recovery */
  bool fast_rexmit;          /* resend the first lost range now, whatever pipe */
  bool rack_reordering;      /* RACK.reordering_seen */
  bool tlp_out, tlp_retrans; /* a probe is out; it resent data */
  uint32_t tlp_end;          /* TLP.end_seq (when tlp_out; outlives the flight
                                block, whose end the probe's ACK may be) */

  /* Timers: the deadlines, and this TCB's entry in the timer queue
   * (tcp_timerq.c), keyed by the earliest of them. */
  us_time_t timer[TT_N];
  us_time_t tq_key;
  uint32_t tq_pos;        /* index in the queue's heap, 0 = not queued */
  struct us_tcb *tq_next; /* tcp_poll's list of TCBs due now */
  uint32_t persist_backoff;

  /* Keep-alive (MUST-24..29). */
  us_time_t keep_idle, keep_intvl, user_timeout;
  uint32_t keep_cnt, keep_sent;
  us_time_t last_rx;

  /* RFC 5961 challenge-ACK budget, per connection (CVE-2016-5696). */
  us_time_t chal_start;
  uint32_t chal_count;

  /* Listener. */
  uint32_t backlog, synq_len, acq_len;
  struct us_tcb *synq_head, *synq_tail, *acq_head, *acq_tail;

  uint64_t bytes_in, bytes_out;
};

struct tcp_cc_ops;
struct tcp_src_count;

/* The timer queue (tcp_timerq.c): a min-heap of TCBs, v[1..n]. */
struct tcp_timerq {
  struct us_tcb **v;
  uint32_t n, cap;
};

/* A pool of equal-sized ring buffers; free indices on a LIFO stack. */
struct tcp_ring_pool {
  uint8_t *mem; /* count * stride bytes: hdr bytes, then the ring */
  uint32_t *free;
  uint32_t size, hdr, stride, count, nfree;
};

struct us_tcp_layer {
  struct us_tcb *tcbs;
  uint32_t ntcb, nused;
  uint32_t nfresh; /* tcbs[nfresh..ntcb) were never used */
  struct us_tcb *free_list;
  struct us_tcb *active;    /* every TCB in use */
  struct us_tcb *pending;   /* TCBs with output to flush */
  struct us_tcb *listeners; /* via hnext */
  struct tcp_timerq tq;     /* TCBs with a deadline, earliest first */
  /* TIME-WAIT TCBs without a handle, oldest first (tcp_timewait.c). */
  struct us_tcb *tw_head, *tw_tail;
  uint32_t tw_count, tw_max;
  struct us_tcb **hash;
  uint32_t hmask;
  uint32_t hsalt1, hsalt2;

  /* Send and receive buffers (tcb.c "buffer pools"). */
  struct tcp_ring_pool sndp, rcvp;

  uint8_t isn_key[16];    /* RFC 6528 secret */
  uint8_t port_key[16];   /* RFC 6056 secret */
  uint8_t cookie_key[16]; /* SYN cookie secret */
  bool cookie_sent;       /* a cookie went out at cookie_sent_at */
  us_time_t cookie_sent_at;
  uint32_t port_next; /* RFC 6056 algorithm 3 counter */
  bool iss_forced;
  uint32_t iss_value;

  uint32_t ooo_total;
  const struct tcp_cc_ops *cc; /* algorithm of new connections */
  uint32_t xr_cap;             /* transmit records in front of each send buffer */

  /* Connection limits (tcp_limit.c): (listener, source) -> count, and
   * (listener, 0) -> the listener's total. */
  struct tcp_src_count *lim_src;
  uint32_t lim_mask, lim_salt1, lim_salt2;
  /* RSTs for segments without a connection (cfg.tcp_rst_rate). */
  struct us_tbucket rst_tb;
  uint64_t edges[US_TCP_NSTATES][US_TCP_NSTATES];
};

/* The layer's state (core/stack.h, "one slot per layer"). */
static inline struct us_tcp_layer *tcp_layer(const struct us_stack *s) {
  return s->layer[US_LAYER_TCP];
}

/* ---- tcp_state.c ---- */
void tcp_set_state(struct us_stack *s, struct us_tcb *t, enum us_tcp_state st, const char *why);
bool tcp_state_synchronized(enum us_tcp_state st);
/* End the connection: flush queues, set the sticky error, go to CLOSED. */
void tcp_drop(struct us_stack *s, struct us_tcb *t, int err, const char *why);
/* Both FINs are done: TIME-WAIT, the 2*MSL timer, the TIME-WAIT list. */
void tcp_enter_time_wait(struct us_stack *s, struct us_tcb *t, us_time_t now);

/* A 32-bit hash of an address of either family under a secret salt, for
 * the TCB hash and the limit table: each 32-bit word is mixed in turn, so
 * for an IPv4 address (one varying word) distinct addresses never collide
 * before the bucket mask. */
static inline uint32_t tcp_addr_mix(us_addr_t a, uint32_t salt) {
  uint32_t h = salt ^ a.family;
  for (int i = 0; i < 16; i += 4) {
    uint32_t w; /* any fixed byte order will do: one load, not four */
    memcpy(&w, a.b + i, sizeof w);
    h = (h ^ w) * 0x9e3779b1u;
    h ^= h >> 16;
  }
  return h;
}

/* ---- tcb.c ---- */
int tcb_pool_init(struct us_stack *s);
void tcb_pool_fini(struct us_stack *s);
struct us_tcb *tcb_alloc(struct us_stack *s);
void tcb_release(struct us_stack *s, struct us_tcb *t);
void tcp_gc(struct us_stack *s, struct us_tcb *t);
void tcb_hash_insert(struct us_stack *s, struct us_tcb *t);
void tcb_hash_remove(struct us_stack *s, struct us_tcb *t);
struct us_tcb *tcb_lookup(struct us_stack *s, us_addr_t laddr, uint16_t lport, us_addr_t raddr,
                          uint16_t rport);
struct us_tcb *tcb_listener_lookup(struct us_stack *s, us_addr_t laddr, uint16_t lport);
void tcb_listener_add(struct us_stack *s, struct us_tcb *t);
void tcb_listener_remove(struct us_stack *s, struct us_tcb *t);
bool tcb_port_used(struct us_stack *s, uint16_t port, bool any_use);
bool tcb_snd_attach(struct us_stack *s, struct us_tcb *t);
bool tcb_rcv_attach(struct us_stack *s, struct us_tcb *t);
void tcb_snd_release_if_empty(struct us_stack *s, struct us_tcb *t);
void tcb_rcv_release_if_empty(struct us_stack *s, struct us_tcb *t);
uint32_t tcb_rcv_space(const struct us_stack *s, const struct us_tcb *t);
uint32_t tcb_rcv_space_max(const struct us_stack *s);
void tcb_buf_put(struct us_stack *s, struct us_tcb *t);
void tcb_maybe_release_buf(struct us_stack *s, struct us_tcb *t);
void tcb_pending_add(struct us_stack *s, struct us_tcb *t);
void tcb_pending_remove(struct us_stack *s, struct us_tcb *t);
void tcb_q_push(struct us_tcb **head, struct us_tcb **tail, struct us_tcb *t);
void tcb_q_remove(struct us_tcb **head, struct us_tcb **tail, struct us_tcb *t);
void tcb_unlink_listener(struct us_stack *s, struct us_tcb *t);
void tcb_mark(struct us_stack *s, struct us_tcb *t);
static inline uint32_t tcb_snd_base(const struct us_tcb *t) {
  return t->syn_acked ? t->snd_una : t->iss + 1;
}

/* ---- tcp_input.c ---- */
void tcp_input(struct us_stack *s, const struct us_ipinfo *ii, us_time_t now);
void tcp_icmp_error(struct us_stack *s, uint8_t type, uint8_t code, uint32_t info, us_addr_t qsrc,
                    us_addr_t qdst, const uint8_t *quote, size_t quote_len, us_time_t now);

/* ---- tcp_output.c ---- */
bool tcp_tso_ok(const struct us_stack *s, const struct us_tcb *t);
void tcp_output(struct us_stack *s, struct us_tcb *t, us_time_t now);
void tcp_flush_pending(struct us_stack *s, us_time_t now);
int tcp_send_syn(struct us_stack *s, struct us_tcb *t, us_time_t now);
void tcp_send_rst_tcb(struct us_stack *s, struct us_tcb *t, us_time_t now);
void tcp_send_rst(struct us_stack *s, us_addr_t laddr, uint16_t lport, us_addr_t raddr,
                  uint16_t rport, uint32_t seq, uint32_t ack, bool with_ack, us_time_t now);
uint16_t tcp_cookie_window(const struct us_stack *s);
/* Our window-scale shift, from cfg.tcp_rcvbuf (the same for every SYN). */
uint8_t tcp_our_wscale(const struct us_stack *s);
struct tcp_cookie_opts;
void tcp_send_cookie_synack(struct us_stack *s, us_addr_t laddr, uint16_t lport, us_addr_t raddr,
                            uint16_t rport, uint32_t cookie, uint32_t ack,
                            const struct tcp_cookie_opts *o, us_time_t now);
void tcp_send_stateless(struct us_stack *s, us_addr_t laddr, uint16_t lport, us_addr_t raddr,
                        uint16_t rport, uint32_t seq, uint32_t ack, uint8_t flags,
                        const struct us_tcp_seg *seg, us_time_t now);
void tcp_send_ack(struct us_stack *s, struct us_tcb *t, us_time_t now);
void tcp_send_keepalive(struct us_stack *s, struct us_tcb *t, us_time_t now);
void tcp_retransmit_first(struct us_stack *s, struct us_tcb *t, us_time_t now);
/* Send [seq, seq+len) of the stream (data, and the FIN if it lies there). */
int tcp_send_range(struct us_stack *s, struct us_tcb *t, uint32_t seq, uint32_t len, us_time_t now);
void tcp_persist_probe(struct us_stack *s, struct us_tcb *t, us_time_t now);
uint32_t tcp_rcv_wnd(const struct us_tcb *t);
bool tcp_window_update_due(const struct us_stack *s, const struct us_tcb *t);
void tcp_ack_needed(struct us_stack *s, struct us_tcb *t);

/* ---- tcp_timer.c ---- */
us_time_t tcp_poll(struct us_stack *s, us_time_t now);
us_time_t tcb_next_deadline(const struct us_tcb *t, const char **name);
/* Every deadline off (the timer queue follows at the next re-key). Inline,
 * so tcp_state.c's tcp_drop needs nothing from tcp_timer.c, which calls it. */
static inline void tcp_timers_clear(struct us_tcb *t) {
  for (int i = 0; i < TT_N; i++)
    t->timer[i] = US_TIME_NEVER;
}
void tcp_keepalive_arm(struct us_stack *s, struct us_tcb *t, us_time_t now);

/* ---- tcp_timerq.c ---- */
int tcp_timerq_init(struct tcp_timerq *q, uint32_t cap);
void tcp_timerq_fini(struct tcp_timerq *q);
/* Queue `t` with `key`, re-key it, or (US_TIME_NEVER) take it out. */
void tcp_timerq_set(struct tcp_timerq *q, struct us_tcb *t, us_time_t key);
void tcp_timerq_remove(struct tcp_timerq *q, struct us_tcb *t);
struct us_tcb *tcp_timerq_first(const struct tcp_timerq *q);
us_time_t tcp_timerq_next(const struct tcp_timerq *q);
/* Re-key `t` from its deadlines: call after changing t->timer[] outside
 * input, output flush and timer runs (they end in tcp_gc, which does it). */
void tcp_timer_sync(struct us_stack *s, struct us_tcb *t);

/* ---- tcp_rtt.c (RFC 6298) ---- */
void tcp_rtt_init(struct us_stack *s, struct us_tcb *t);
void tcp_rtt_sample(struct us_stack *s, struct us_tcb *t, us_time_t r);
/* The same with the gains divided by `n` samples expected per RTT
 * (RFC 7323 appendix G); n == 1 is RFC 6298. */
void tcp_rtt_sample_n(struct us_stack *s, struct us_tcb *t, us_time_t r, uint32_t n);
us_time_t tcp_rto_current(const struct us_stack *s, const struct us_tcb *t);
void tcp_rto_backoff(struct us_tcb *t);
void tcp_rtt_syn_done(struct us_stack *s, struct us_tcb *t, bool syn_timed_out);

/* ---- tcp_ts.c (RFC 7323 timestamps and PAWS) ---- */
#define TCP_TS_OPTLEN 12 /* NOP NOP TS(10), as emitted beside the other options */
uint32_t tcp_ts_now(const struct us_tcb *t, us_time_t now);
void tcp_ts_init(struct us_stack *s, struct us_tcb *t);
/* The TSval clock a TCB on this 4-tuple would have (for SYN cookies). */
uint32_t tcp_ts_clock(const struct us_stack *s, us_addr_t laddr, uint16_t lport, us_addr_t raddr,
                      uint16_t rport, us_time_t now);
/* Negotiation from the peer's SYN (or SYN-ACK): sets ts_ok, TS.Recent. */
void tcp_ts_syn(struct us_stack *s, struct us_tcb *t, const struct us_tcp_seg *g, bool we_offer,
                us_time_t now);
/* Fill the TS option of a segment we are about to send. */
void tcp_ts_fill(const struct us_tcb *t, struct us_tcp_seg *h, us_time_t now);
/* Option bytes a TSopt costs on a data segment of this connection. */
static inline uint32_t tcp_ts_optlen(const struct us_tcb *t) {
  return t->ts_ok ? TCP_TS_OPTLEN : 0;
}
enum tcp_ts_verdict { TS_OK, TS_DROP, TS_DROP_ACK };
/* Before the sequence check: missing TSopt (3.2) and PAWS (5.3 R1). */
enum tcp_ts_verdict tcp_ts_check(struct us_stack *s, struct us_tcb *t, const struct us_tcp_seg *g,
                                 us_time_t now);
/* After the sequence check accepted the segment: 4.3 (2), TS.Recent. */
void tcp_ts_update_recent(struct us_tcb *t, const struct us_tcp_seg *g, uint32_t seq0,
                          us_time_t now);
/* RFC 6191 2: is a SYN arriving in TIME-WAIT newer than the old
 * incarnation by its TSval? 1 yes, 0 no, -1 no timestamps to judge by. */
int tcp_ts_syn_newer(const struct us_tcb *t, const struct us_tcp_seg *g);
/* An ACK of new data: an RTT sample from TSecr (4.1, appendix G). */
bool tcp_ts_rtt_sample(struct us_stack *s, struct us_tcb *t, const struct us_tcp_seg *g,
                       us_time_t now);

/* ---- tcp_pmtu.c (RFC 1191 path MTU discovery) ---- */
/* The send MSS from the peer's MSS, the path MTU and the TS option. */
void tcp_mss_update(struct us_stack *s, struct us_tcb *t);
void tcp_pmtu_frag_needed(struct us_stack *s, struct us_tcb *t, uint32_t mtu, us_time_t now);
/* The retransmission timer fired again (nrexmit already counts it): maybe
 * a black hole that drops our full-sized DF segments without an ICMP. */
void tcp_pmtu_on_rto(struct us_stack *s, struct us_tcb *t);

/* ---- tcp_ecn.c (RFC 3168) ---- */
#define TCP_ECN_MASK 0x03
#define TCP_ECN_ECT0 0x02
#define TCP_ECN_CE   0x03
/* Negotiation from the peer's SYN or SYN-ACK (sets ecn_ok). */
void tcp_ecn_syn(struct us_stack *s, struct us_tcb *t, const struct us_tcp_seg *g);
/* ECE/CWR flags and the IP TOS byte for a segment we are about to send. */
uint8_t tcp_ecn_out(struct us_stack *s, struct us_tcb *t, struct us_tcp_seg *h, uint32_t len,
                    us_time_t now);
/* An acceptable segment arrived with this ECN field (CE: echo it; CWR:
 * stop echoing). */
void tcp_ecn_input(struct us_stack *s, struct us_tcb *t, const struct us_tcp_seg *g, uint8_t ecn);
/* An ACK with ECE: reduce once per window (6.1.2). */
void tcp_ecn_echo(struct us_stack *s, struct us_tcb *t, const struct us_tcp_seg *g, us_time_t now);

/* ---- tcp_reass.c ---- */
/* Store an out-of-order segment; returns false if a cap refused it. */
bool tcp_reass_insert(struct us_stack *s, struct us_tcb *t, uint32_t seq, const uint8_t *data,
                      uint32_t len);
/* After rcv_nxt advanced: commit the intervals now in order; returns bytes. */
uint32_t tcp_reass_pull(struct us_stack *s, struct us_tcb *t);
void tcp_reass_clear(struct us_stack *s, struct us_tcb *t);

/* ---- tcp_sack.c (transmit records and scoreboard) ---- */
void tcp_xr_init(struct us_tcb *t, struct tcp_flight *mem, uint32_t cap);
/* [seq, seq+len) was sent at `now` (first time or again). */
void tcp_xr_sent(struct us_tcb *t, uint32_t seq, uint32_t len, us_time_t now);
/* Apply the peer's SACK blocks; returns the bytes newly SACKed. */
uint32_t tcp_sack_update(struct us_stack *s, struct us_tcb *t, const struct us_tcp_seg *g,
                         us_time_t now, bool *dsack);
/* SND.UNA moved to `ack`: report what it delivers, drop the records. */
void tcp_xr_acked(struct us_stack *s, struct us_tcb *t, uint32_t ack, us_time_t now);
/* RFC 6675 4: the bytes still in the network. */
uint32_t tcp_pipe(const struct us_tcb *t);
/* RFC 6675 NextSeg rule 1: the first lost range not resent since. */
bool tcp_xr_next_lost(const struct us_tcb *t, uint32_t *seq, uint32_t *len);
void tcp_xr_mark_lost(struct us_stack *s, struct us_tcb *t, struct tcp_xmit *r);
/* Mark [l, r) lost (split at the edges); true if anything was newly marked. */
bool tcp_xr_mark_lost_range(struct us_stack *s, struct us_tcb *t, uint32_t l, uint32_t r);
bool tcp_xr_sacked_at_una(const struct us_tcb *t);
void tcp_xr_forget_sacks(struct us_tcb *t);
uint32_t tcp_xr_cap(const struct us_config *cfg);

/* ---- tcp_rack.c (loss detection and recovery) ---- */
void tcp_loss_init(struct us_stack *s, struct us_tcb *t, us_time_t now);
/* One record newly delivered (cumulatively or selectively). */
void tcp_rack_delivered(struct us_tcb *t, const struct tcp_xmit *r, us_time_t now);
/* After an acceptable ACK: `acked` bytes newly cumulatively acknowledged,
 * `dup` a duplicate ACK, `dsack` it reported a duplicate. */
void tcp_loss_on_ack(struct us_stack *s, struct us_tcb *t, uint32_t acked, bool dup, bool dsack,
                     us_time_t now);
/* Right after SND.UNA advanced: did the peer renege on SACKed data? */
void tcp_loss_check_renege(struct us_stack *s, struct us_tcb *t, us_time_t now);
void tcp_loss_timer_fire(struct us_stack *s, struct us_tcb *t, us_time_t now);
void tcp_loss_on_rto(struct us_stack *s, struct us_tcb *t, us_time_t now);
void tcp_loss_on_send(struct us_stack *s, struct us_tcb *t, us_time_t now);
/* The cc event for this moment; the window cc allows. */
void tcp_cc_event_fill(const struct us_tcb *t, us_time_t now, struct tcp_cc_event *ev,
                       struct tcp_cc_rtt *rtt);
uint32_t tcp_cc_window(const struct us_tcb *t);
/* pipe as recovery counts it (RFC 6675; duplicate ACKs without SACK). */
uint32_t tcp_loss_pipe(const struct us_tcb *t);
void tcp_loss_idle_check(struct us_stack *s, struct us_tcb *t, us_time_t now);

/* ---- tcp_rcvq.c ---- */
/* Queue in-order text at RCV.NXT; returns len, or 0 if memory is short. */
uint32_t tcp_rcvq_append(struct us_stack *s, struct us_tcb *t, const uint8_t *data, uint32_t len);
/* Keep out-of-order text; false if memory is short. */
bool tcp_rcvq_hold_ooo(struct us_stack *s, struct us_tcb *t, uint32_t seq, const uint8_t *data,
                       uint32_t len);
/* [from, to) became in order: move its packets to the in-order queue. */
void tcp_rcvq_pull_ooo(struct us_stack *s, struct us_tcb *t, uint32_t from, uint32_t to);
/* Copy up to cap in-order bytes out (the one copy); returns the count. */
uint32_t tcp_rcvq_read(struct us_stack *s, struct us_tcb *t, uint8_t *buf, uint32_t cap);
void tcp_rcvq_flush(struct us_stack *s, struct us_tcb *t);

/* ---- tcp_syncookie.c ---- */
/* What a SYN cookie remembers beyond the MSS, in the low bits of the
 * SYN-ACK's TSval (only when ts: the SYN had TSopt and timestamps are on). */
#define TCP_COOKIE_OPT_BITS 6
struct tcp_cookie_opts {
  bool ts;        /* TSopt agreed: the rest is valid */
  bool ws_ok;     /* the SYN had WS; we answer with tcp_our_wscale() */
  uint8_t ws;     /* the peer's shift, at most 14 */
  bool sack;      /* SACK-permitted both ways */
  bool ecn;       /* ECN-setup SYN accepted: ECE in the SYN-ACK */
  uint32_t tsecr; /* the SYN's TSval, echoed in the SYN-ACK */
};
/* The options a cookie SYN-ACK agrees to for this SYN. */
void tcp_syncookie_opts(const struct us_stack *s, const struct us_tcp_seg *syn,
                        struct tcp_cookie_opts *o);
/* The cookie SYN-ACK's TSval: the 4-tuple's TS clock carrying o's bits. */
uint32_t tcp_syncookie_tsval(const struct us_stack *s, us_addr_t laddr, uint16_t lport,
                             us_addr_t raddr, uint16_t rport, const struct tcp_cookie_opts *o,
                             us_time_t now);
uint32_t tcp_syncookie_make(struct us_stack *s, us_addr_t laddr, uint16_t lport, us_addr_t raddr,
                            uint16_t rport, uint32_t irs, uint16_t peer_mss,
                            const struct tcp_cookie_opts *o, us_time_t now);
/* Has a cookie gone out recently enough that one could still be valid? */
bool tcp_syncookie_recent(const struct us_stack *s, us_time_t now);
/* Does this ACK (SEG.ACK-1 the cookie, SEG.SEQ-1 the peer's ISN, TSecr the
 * options) complete one of our cookies? Fills the MSS and the options. */
bool tcp_syncookie_check(struct us_stack *s, us_addr_t laddr, uint16_t lport, us_addr_t raddr,
                         uint16_t rport, const struct us_tcp_seg *ack, us_time_t now, uint16_t *mss,
                         struct tcp_cookie_opts *o);

/* ---- tcp_limit.c ---- */
enum tcp_limit_verdict { TL_OK, TL_LISTENER, TL_SOURCE };
int tcp_limit_init(struct us_stack *s);
void tcp_limit_fini(struct us_stack *s);
/* Would one more connection from `src` at listener `l` pass both limits? */
enum tcp_limit_verdict tcp_limit_check(const struct us_stack *s, const struct us_tcb *l,
                                       us_addr_t src);
/* Count child `t` (addresses and ports set) on listener `l`; uncharge is
 * idempotent. */
void tcp_limit_charge(struct us_stack *s, struct us_tcb *l, struct us_tcb *t);
void tcp_limit_uncharge(struct us_stack *s, struct us_tcb *t);
void tcp_limit_listener_gone(struct us_stack *s, struct us_tcb *l);
/* Connections counted on listener `l` (0 when no limit is set). */
uint32_t tcp_limit_conns(const struct us_stack *s, const struct us_tcb *l);

/* ---- tcp_timewait.c ---- */
/* `t` may have become a TIME-WAIT without a handle, or its 2*MSL timer
 * restarted: put it at the tail of the list (ending the oldest beyond
 * cfg.tcp_max_time_wait). A no-op for any other TCB. */
void tcp_tw_track(struct us_stack *s, struct us_tcb *t);
void tcp_tw_untrack(struct us_stack *s, struct us_tcb *t);
/* The TCB pool is empty: end the oldest TIME-WAIT and free its TCB.
 * False when there is none. */
bool tcp_tw_reclaim(struct us_stack *s);

/* ---- tcp_isn.c ---- */
void tcp_isn_init(struct us_stack *s);
uint32_t tcp_isn(struct us_stack *s, us_addr_t laddr, uint16_t lport, us_addr_t raddr,
                 uint16_t rport, us_time_t now);
/* From `laddr` to raddr:rport. */
int tcp_pick_ephemeral(struct us_stack *s, us_addr_t laddr, us_addr_t raddr, uint16_t rport,
                       uint16_t *port);
/* The 4-tuple as the keyed hashes take it (ISN, the TS clock's offset,
 * SYN cookies, ephemeral ports): the family, both addresses' 16 bytes
 * (IPv4 as mapped, us_types.h) and both ports. */
#define TCP_TUPLE_KEY_LEN 37
void tcp_tuple_key(uint8_t out[TCP_TUPLE_KEY_LEN], us_addr_t laddr, uint16_t lport, us_addr_t raddr,
                   uint16_t rport);
int tcp_pick_bind_port(struct us_stack *s, uint16_t *port);

/* ---- tcp_api.c ---- */
uint32_t tcp_events(struct us_stack *s, void *obj);
int tcp_error(struct us_stack *s, void *obj);

#define TCP_MSS_DEFAULT 536 /* RFC 9293 3.7.1, MUST-15 */

/* IP and TCP header bytes without options in front of a segment's data:
 * 40 over IPv4, 60 over IPv6 (RFC 8200 8.3). */
static inline uint32_t tcp_hdrs_for(uint8_t family) { return family == US_AF_INET6 ? 60u : 40u; }
/* The MSS of a path with this MTU, before TCP options (RFC 9293 3.7.1:
 * MTU minus the fixed headers; RFC 6691: options come out of it): what
 * we advertise in our SYN, and where the send MSS starts. */
static inline uint32_t tcp_mss_for(uint32_t mtu, uint8_t family) {
  uint32_t h = tcp_hdrs_for(family);
  return mtu > h ? mtu - h : TCP_MSS_DEFAULT;
}
#define TCP_MSS_FLOOR   64   /* HOSTILE OPT-3; Linux uses 48 */
#define TCP_PMTU_FLOOR  552  /* Linux's min_pmtu: below it, DF goes off instead */
#define TCP_PMTU_FLOOR6 1280 /* IPv6's minimum MTU (RFC 8200 5, RFC 8201 4) */

#endif
