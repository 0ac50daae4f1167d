/*
 * tcp_timewait.c - the TIME-WAIT list, and ending the oldest TIME-WAIT
 * early when the TCB pool needs its slot (docs/TCP.md, "TIME-WAIT under
 * pressure"); and a segment's arrival in TIME-WAIT (at the end: RFC 1337,
 * PAWS, the peer's FIN again, reopening by a new SYN per RFC 6191).
 *
 * A server that closes first keeps every finished connection in TIME-WAIT
 * for 2*MSL (RFC 9293 3.3.2, MUST-13): 60 s by default. At a few hundred
 * connections a second that fills any fixed TCB pool, and then every new
 * SYN was dropped for want of a TCB until the first TIME-WAIT expired: a
 * stall of up to a minute. Linux bounds TIME-WAIT sockets with
 * tcp_max_tw_buckets and destroys those beyond it (TCPTimeWaitOverflow);
 * we do the same with two triggers, and always end the OLDEST one, which
 * is the closest to its natural end:
 *  - entering TIME-WAIT with cfg.tcp_max_time_wait already there
 *    (tcp_time_wait_overflow);
 *  - tcb_alloc() finding the pool empty (tcp_time_wait_reclaimed): a new
 *    connection, passive or active, takes the slot.
 * Every TIME-WAIT not ended this way keeps its full 2*MSL and the RFC 1337
 * choice.
 *
 * The list holds the TIME-WAIT TCBs nobody holds a handle to (the only ones
 * whose slot can be freed), in the order they joined it; a TCB moves to the
 * tail when its 2*MSL timer restarts (the peer's FIN again), so the head is
 * the oldest: O(1) to find, insert and remove. The links are the listener
 * queue's (qnext/qprev): a TIME-WAIT TCB is on no listener queue (it has
 * sent a FIN, so it was accepted), which tw_track() asserts.
 */
#include "core/assert.h"
#include "core/stats.h"
#include "tcp.h"
#include "tcp_input_int.h"
#include "tcp_int.h"

static void tw_unlink(struct us_tcp_layer *ts, struct us_tcb *t) {
  tcb_q_remove(&ts->tw_head, &ts->tw_tail, t);
  t->on_tw = false;
  ts->tw_count--;
}

void tcp_tw_untrack(struct us_stack *s, struct us_tcb *t) {
  if (t->on_tw)
    tw_unlink(tcp_layer(s), t);
}

/* End the oldest TIME-WAIT and free its TCB; false when there is none. */
static bool tw_end_oldest(struct us_stack *s, const char *why) {
  struct us_tcb *o = tcp_layer(s)->tw_head;
  if (!o)
    return false;
  US_ASSERT(o->state == US_TCP_TIME_WAIT && !us_sock_valid(o->h));
  tcp_drop(s, o, 0, why); /* leaves TIME-WAIT: tcp_set_state untracks it */
  tcb_release(s, o);
  return true;
}

void tcp_tw_track(struct us_stack *s, struct us_tcb *t) {
  struct us_tcp_layer *ts = tcp_layer(s);
  if (t->state != US_TCP_TIME_WAIT || us_sock_valid(t->h))
    return;
  US_ASSERT(!t->in_synq && !t->in_acceptq);
  if (t->on_tw)
    tw_unlink(ts, t); /* the timer restarted: now the youngest */
  tcb_q_push(&ts->tw_head, &ts->tw_tail, t);
  t->on_tw = true;
  ts->tw_count++;
  while (ts->tw_count > ts->tw_max && ts->tw_head != t) {
    US_STAT_INC(s, tcp_time_wait_overflow);
    tw_end_oldest(s, "TIME-WAIT overflow: tcp_max_time_wait reached");
  }
}

void us_tcp_time_wait_usage(const struct us_stack *s, uint32_t *count, uint32_t *max) {
  const struct us_tcp_layer *ts = tcp_layer(s);
  *count = ts ? ts->tw_count : 0;
  *max = ts ? ts->tw_max : 0;
}

bool tcp_tw_reclaim(struct us_stack *s) {
  if (!tw_end_oldest(s, "TIME-WAIT reclaimed: the TCB pool is full"))
    return false;
  US_STAT_INC(s, tcp_time_wait_reclaimed);
  return true;
}

/* ---- segment arrival in TIME-WAIT ----------------------------------- */

enum tcp_verdict tcp_input_time_wait(struct us_stack *s, struct us_tcb *t, struct seg_in *in) {
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
