/*
 * tcp_ts.c - TCP timestamps (RFC 7323): negotiation, the values we send,
 * TS.Recent, PAWS, and RTT samples from the echo.
 *
 * Our timestamp clock ticks once per millisecond of `now` (RFC 7323 5.4
 * asks for 1 ms to 1 s per tick) and starts at a per-connection offset:
 * SipHash of the 4-tuple under the stack's ISN secret, with its own domain
 * tag (the RFC 6528 construction, which 5.4 suggests). An observer learns
 * neither our uptime nor how clocks of different connections relate, and
 * successive incarnations of one 4-tuple keep a monotonic clock, which is
 * what PAWS across incarnations needs.
 *
 * Invariants, once ts_ok:
 *  - every segment we send carries TSopt (3.2), RSTs from a TCB included;
 *  - TSecr is TS.Recent, which moves only forward (wrap-safe), and only
 *    from a segment with SEG.SEQ <= Last.ACK.sent (4.3 (2)): with delayed
 *    ACKs we echo the earliest unacknowledged segment's TSval, and an
 *    out-of-order segment never moves it, the one filling the hole does;
 *  - a non-RST segment without TSopt is dropped silently (3.2 SHOULD), one
 *    whose TSval is older than TS.Recent is dropped with an ACK (PAWS, 5.3
 *    R1), unless TS.Recent is more than 24 days old (5.5);
 *  - RTT samples come from TSecr on every ACK of new data (4.1), so Karn's
 *    rule is not needed; the gains are divided by the samples expected
 *    per RTT (appendix G) so the estimator keeps its RFC 6298 memory.
 */
#include <string.h>

#include "core/rand.h"
#include "core/stats.h"
#include "tcp_int.h"

/* RFC 7323 5.5: TS.Recent is invalid after 24 days without a refresh
 * (2^31 ms at the fastest allowed clock of 1 ms per tick is 24.8 days).
 * Its age is kept in seconds: a 32-bit field keeps the TCB small. */
#define TS_RECENT_MAX_AGE_SEC (24u * 24u * 3600u)

static uint32_t secs(us_time_t now) { return (uint32_t)((uint64_t)now / 1000000u); }

static bool ts_before(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }

uint32_t tcp_ts_now(const struct us_tcb *t, us_time_t now) {
  return (uint32_t)((uint64_t)now / 1000u) + t->ts_offset;
}

/* The clock's per-4-tuple offset (5.4). */
static uint32_t ts_offset(const struct us_stack *s, us_addr_t laddr, uint16_t lport,
                          us_addr_t raddr, uint16_t rport) {
  uint8_t b[TCP_TUPLE_KEY_LEN + 4];
  tcp_tuple_key(b, laddr, lport, raddr, rport);
  memcpy(b + TCP_TUPLE_KEY_LEN, "stST", 4); /* not an ISN input (those are shorter) */
  return (uint32_t)us_siphash24(tcp_layer(s)->isn_key, b, sizeof b);
}

void tcp_ts_init(struct us_stack *s, struct us_tcb *t) {
  t->ts_offset = ts_offset(s, t->laddr, t->lport, t->raddr, t->rport);
}

uint32_t tcp_ts_clock(const struct us_stack *s, us_addr_t laddr, uint16_t lport, us_addr_t raddr,
                      uint16_t rport, us_time_t now) {
  return (uint32_t)((uint64_t)now / 1000u) + ts_offset(s, laddr, lport, raddr, rport);
}

void tcp_ts_syn(struct us_stack *s, struct us_tcb *t, const struct us_tcp_seg *g, bool we_offer,
                us_time_t now) {
  /* RFC 7323 3.2: in use only if both SYNs carry TSopt. */
  t->ts_ok = s->cfg.tcp_timestamps && we_offer && g->has_ts;
  if (!t->ts_ok)
    return;
  /* 4.3 (1): TS.Recent starts from the SYN's TSval. */
  t->ts_recent = g->tsval;
  t->ts_recent_sec = secs(now);
  US_STAT_INC(s, tcp_ts_negotiated);
}

void tcp_ts_fill(const struct us_tcb *t, struct us_tcp_seg *h, us_time_t now) {
  h->has_ts = true;
  h->tsval = tcp_ts_now(t, now);
  /* 3.2: TSecr is zero (and ignored) unless ACK is set; in an active SYN
   * there is nothing to echo yet. */
  h->tsecr = (h->flags & US_TH_ACK) ? t->ts_recent : 0;
}

static bool recent_stale(const struct us_tcb *t, us_time_t now) {
  return secs(now) - t->ts_recent_sec > TS_RECENT_MAX_AGE_SEC;
}

enum tcp_ts_verdict tcp_ts_check(struct us_stack *s, struct us_tcb *t, const struct us_tcp_seg *g,
                                 us_time_t now) {
  if (!t->ts_ok || (g->flags & US_TH_RST))
    return TS_OK; /* 3.2 and 5.3: an RST is judged by its sequence number */
  if (!g->has_ts) {
    US_STAT_INC(s, tcp_ts_missing);
    return TS_DROP;
  }
  /* 5.3 R1: SEG.TSval < TS.Recent (modulo 2^32) and TS.Recent valid:
   * an old duplicate, not acceptable. */
  if (ts_before(g->tsval, t->ts_recent) && !recent_stale(t, now)) {
    US_STAT_INC(s, tcp_paws_dropped);
    return TS_DROP_ACK;
  }
  return TS_OK;
}

void tcp_ts_update_recent(struct us_tcb *t, const struct us_tcp_seg *g, uint32_t seq0,
                          us_time_t now) {
  if (!t->ts_ok || !g->has_ts)
    return;
  if (!us_seq_le(seq0, t->last_ack_sent))
    return; /* beyond what we acknowledged: a later or out-of-order one */
  if (ts_before(g->tsval, t->ts_recent) && !recent_stale(t, now))
    return;
  t->ts_recent = g->tsval;
  t->ts_recent_sec = secs(now);
}

int tcp_ts_syn_newer(const struct us_tcb *t, const struct us_tcp_seg *g) {
  if (!t->ts_ok || !g->has_ts)
    return -1;
  return ts_before(t->ts_recent, g->tsval) ? 1 : 0;
}

bool tcp_ts_rtt_sample(struct us_stack *s, struct us_tcb *t, const struct us_tcp_seg *g,
                       us_time_t now) {
  if (!t->ts_ok || !g->has_ts)
    return false;
  uint32_t ms = tcp_ts_now(t, now) - g->tsecr;
  /* An echo from the future, or older than any RTO we would wait, is not
   * one of ours (a peer that echoes garbage): no sample. */
  if ((int32_t)ms < 0 || (us_time_t)ms * 1000 > s->cfg.tcp_rto_max)
    return false;
  uint32_t flight = t->snd_max - t->snd_una;
  uint32_t per = 2u * (t->mss ? t->mss : TCP_MSS_DEFAULT);
  uint32_t expected = (flight + per - 1) / per;
  tcp_rtt_sample_n(s, t, (us_time_t)ms * 1000, expected ? expected : 1);
  US_STAT_INC(s, tcp_rtt_ts_samples);
  return true;
}
