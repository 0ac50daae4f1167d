/*
 * tcp_state.c - the one place that changes tcb->state (docs/ARCHITECTURE.md 4).
 *
 * tcp_set_state() checks the edge against a table of legal transitions
 * (the RFC 9293 figure 5 diagram, plus "any state -> CLOSED" for aborts,
 * resets and timeouts, and LISTEN -> SYN-RECEIVED for a listener's child,
 * which starts life as a copy of its listener), logs old -> new (reason),
 * counts the edge, keeps the nstat-style gauges, and marks the socket so
 * the application sees the readiness change.
 *
 * The two ways out of a connection that input, output, timers and the API
 * all take live here too, so none of those files needs another of them
 * for it: tcp_drop() (to CLOSED) and tcp_enter_time_wait().
 */
#include "core/assert.h"
#include "core/log.h"
#include "core/stats.h"
#include "tcp_int.h"

#define B(st) (1u << (st))

static const uint16_t legal_next[US_TCP_NSTATES] = {
  [US_TCP_CLOSED] = B(US_TCP_LISTEN) | B(US_TCP_SYN_SENT),
  [US_TCP_LISTEN] = B(US_TCP_SYN_RECEIVED) | B(US_TCP_SYN_SENT) | B(US_TCP_CLOSED),
  [US_TCP_SYN_SENT] = B(US_TCP_SYN_RECEIVED) | B(US_TCP_ESTABLISHED) | B(US_TCP_CLOSED),
  [US_TCP_SYN_RECEIVED] = B(US_TCP_ESTABLISHED) | B(US_TCP_FIN_WAIT_1) | B(US_TCP_LISTEN) |
                          B(US_TCP_CLOSE_WAIT) | B(US_TCP_CLOSED),
  [US_TCP_ESTABLISHED] = B(US_TCP_FIN_WAIT_1) | B(US_TCP_CLOSE_WAIT) | B(US_TCP_CLOSED),
  [US_TCP_FIN_WAIT_1] =
      B(US_TCP_FIN_WAIT_2) | B(US_TCP_CLOSING) | B(US_TCP_TIME_WAIT) | B(US_TCP_CLOSED),
  [US_TCP_FIN_WAIT_2] = B(US_TCP_TIME_WAIT) | B(US_TCP_CLOSED),
  [US_TCP_CLOSE_WAIT] = B(US_TCP_LAST_ACK) | B(US_TCP_CLOSED),
  [US_TCP_CLOSING] = B(US_TCP_TIME_WAIT) | B(US_TCP_CLOSED),
  [US_TCP_LAST_ACK] = B(US_TCP_CLOSED),
  [US_TCP_TIME_WAIT] = B(US_TCP_CLOSED),
};

static const char *const state_names[US_TCP_NSTATES] = {
  [US_TCP_CLOSED] = "CLOSED",           [US_TCP_LISTEN] = "LISTEN",
  [US_TCP_SYN_SENT] = "SYN-SENT",       [US_TCP_SYN_RECEIVED] = "SYN-RECEIVED",
  [US_TCP_ESTABLISHED] = "ESTABLISHED", [US_TCP_FIN_WAIT_1] = "FIN-WAIT-1",
  [US_TCP_FIN_WAIT_2] = "FIN-WAIT-2",   [US_TCP_CLOSE_WAIT] = "CLOSE-WAIT",
  [US_TCP_CLOSING] = "CLOSING",         [US_TCP_LAST_ACK] = "LAST-ACK",
  [US_TCP_TIME_WAIT] = "TIME-WAIT",
};

const char *us_tcp_state_name(enum us_tcp_state st) {
  return (unsigned)st < US_TCP_NSTATES ? state_names[st] : "?";
}

bool tcp_state_synchronized(enum us_tcp_state st) {
  return st >= US_TCP_ESTABLISHED && st <= US_TCP_TIME_WAIT;
}

static bool counts_as_estab(enum us_tcp_state st) {
  return st == US_TCP_ESTABLISHED || st == US_TCP_CLOSE_WAIT;
}

void tcp_set_state(struct us_stack *s, struct us_tcb *t, enum us_tcp_state st, const char *why) {
  enum us_tcp_state old = t->state;
  if (old == st)
    return;
  if (!(legal_next[old] & B(st))) {
    US_STAT_INC(s, tcp_illegal_transitions);
    US_LOGE(s, "tcp: illegal transition %s -> %s (%s)", state_names[old], state_names[st], why);
    US_BUG("illegal TCP state transition"); /* debug builds stop; release survives */
    return;
  }
  char la[US_ENDPOINT_STRLEN], ra[US_ENDPOINT_STRLEN];
  US_LOGD(s, "tcp %s %s %s -> %s (%s)", us_ep_str(t->laddr, t->lport, la),
          us_ep_str(t->raddr, t->rport, ra), state_names[old], state_names[st], why);
  t->state = st;
  tcp_layer(s)->edges[old][st]++;
  if (old == US_TCP_TIME_WAIT)
    tcp_tw_untrack(s, t);
  US_STAT_INC(s, tcp_state_changes);

  if (old == US_TCP_CLOSED && st == US_TCP_SYN_SENT)
    US_STAT_INC(s, tcp_active_opens);
  if (old == US_TCP_LISTEN && st == US_TCP_SYN_RECEIVED)
    US_STAT_INC(s, tcp_passive_opens);
  if ((old == US_TCP_SYN_SENT || old == US_TCP_SYN_RECEIVED) &&
      (st == US_TCP_CLOSED || st == US_TCP_LISTEN))
    US_STAT_INC(s, tcp_attempt_fails);
  if (!counts_as_estab(old) && counts_as_estab(st))
    US_STAT_INC(s, tcp_curr_estab);
  if (counts_as_estab(old) && !counts_as_estab(st))
    US_STAT_DEC(s, tcp_curr_estab);
  if (st == US_TCP_ESTABLISHED)
    t->was_connected = true;
  /* A connection stops counting against its listener's limits when it
   * reaches TIME-WAIT or CLOSED, or a half-open one goes back to LISTEN. */
  if (st == US_TCP_TIME_WAIT || st == US_TCP_CLOSED || st == US_TCP_LISTEN)
    tcp_limit_uncharge(s, t);
  tcb_mark(s, t);
}

/* End the connection: timers off, out of the hash, the sticky error
 * set, and with an error "flush all segment queues" (RFC 9293 3.10.7.4,
 * the RST cases); then CLOSED. tcp_gc() frees the TCB once no handle
 * holds it. */
void tcp_drop(struct us_stack *s, struct us_tcb *t, int err, const char *why) {
  if (err && !t->err)
    t->err = err;
  tcp_timers_clear(t);
  tcb_hash_remove(s, t);
  t->ack_now = false;
  if (err)
    tcb_buf_put(s, t); /* RFC 9293 3.10.7.4: "flush all segment queues" */
  tcp_set_state(s, t, US_TCP_CLOSED, why);
  tcb_maybe_release_buf(s, t);
  tcb_mark(s, t);
}

/* Our FIN is acknowledged and the peer's consumed: TIME-WAIT for 2*MSL
 * (RFC 9293 3.10.7.4, MUST-13), with every other timer off. */
void tcp_enter_time_wait(struct us_stack *s, struct us_tcb *t, us_time_t now) {
  tcp_timers_clear(t);
  tcp_set_state(s, t, US_TCP_TIME_WAIT, "FIN exchange complete");
  t->timer[TT_2MSL] = now + 2 * s->cfg.tcp_msl; /* MUST-13 */
  tcb_maybe_release_buf(s, t);
  tcp_tw_track(s, t); /* an orphan joins the TIME-WAIT list */
}

uint64_t us_tcp_edge_count(const struct us_stack *s, enum us_tcp_state from, enum us_tcp_state to) {
  if ((unsigned)from >= US_TCP_NSTATES || (unsigned)to >= US_TCP_NSTATES || !tcp_layer(s))
    return 0;
  return tcp_layer(s)->edges[from][to];
}
