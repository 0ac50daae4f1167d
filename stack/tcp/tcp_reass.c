/*
 * tcp_reass.c - out-of-order segments (RFC 9293 3.10.7.4 seventh step:
 * "segments with higher beginning sequence numbers ... may be held").
 *
 * The bytes stay in the packets they came in, on the receive queue's
 * out-of-order list (tcp_rcvq.c), and tcb->ooo[] records which ranges are
 * held, sorted and disjoint. When RCV.NXT reaches the first range,
 * tcp_reass_pull() moves those packets to the in-order queue, with no
 * copy.
 *
 * Bounds (HOSTILE RES-2, SegmentSmack): at most TCP_OOO_MAX ranges per
 * connection, cfg.tcp_ooo_bytes_max bytes per connection and
 * cfg.tcp_ooo_bytes_total bytes over all connections. A segment that would
 * exceed a bound is dropped whole (the peer retransmits it) and counted.
 */
#include "core/assert.h"
#include "core/stats.h"
#include "tcp_int.h"

bool tcp_reass_insert(struct us_stack *s, struct us_tcb *t, uint32_t seq, const uint8_t *data,
                      uint32_t len) {
  if (len == 0)
    return true;
  uint32_t lo = seq, hi = seq + len; /* the merged range being built */
  uint32_t dup = 0;                  /* bytes of [seq, seq+len) already held */
  struct tcp_ooo out[TCP_OOO_MAX + 1];
  unsigned n = 0;
  bool placed = false;
  for (unsigned i = 0; i < t->nooo; i++) {
    struct tcp_ooo iv = t->ooo[i];
    if (us_seq_lt(iv.end, lo)) {
      out[n++] = iv;
    } else if (us_seq_gt(iv.start, hi)) {
      if (!placed) {
        out[n++] = (struct tcp_ooo){ lo, hi };
        placed = true;
      }
      out[n++] = iv;
    } else {
      /* Overlapping or adjacent: count the overlap with the new segment. */
      uint32_t a = us_seq_max(iv.start, seq), b = us_seq_min(iv.end, seq + len);
      if (us_seq_lt(a, b))
        dup += b - a;
      lo = us_seq_min(lo, iv.start);
      hi = us_seq_max(hi, iv.end);
    }
    if (n > TCP_OOO_MAX)
      break;
  }
  if (!placed && n <= TCP_OOO_MAX)
    out[n++] = (struct tcp_ooo){ lo, hi };
  uint32_t added = len - dup;
  if (n > TCP_OOO_MAX || t->ooo_bytes + added > s->cfg.tcp_ooo_bytes_max ||
      tcp_layer(s)->ooo_total + added > s->cfg.tcp_ooo_bytes_total) {
    US_STAT_INC(s, tcp_ofo_drop);
    return false;
  }
  if (dup == len)
    goto held; /* all of it is held already: nothing to keep */
  if (!tcp_rcvq_hold_ooo(s, t, seq, data, len)) {
    US_STAT_INC(s, tcp_ofo_drop);
    return false;
  }
held:
  t->ooo_recent = seq;
  for (unsigned i = 0; i < n; i++)
    t->ooo[i] = out[i];
  if (n < t->nooo + 1u)
    US_STAT_INC(s, tcp_ofo_merge);
  t->nooo = (uint8_t)n;
  t->ooo_bytes += added;
  tcp_layer(s)->ooo_total += added;
  US_STAT_INC(s, tcp_ofo_queue);
  return true;
}

uint32_t tcp_reass_pull(struct us_stack *s, struct us_tcb *t) {
  uint32_t total = 0, from = t->rcv_nxt;
  unsigned k = 0;
  while (k < t->nooo && us_seq_le(t->ooo[k].start, t->rcv_nxt)) {
    struct tcp_ooo iv = t->ooo[k++];
    if (us_seq_gt(iv.end, t->rcv_nxt)) {
      uint32_t n = iv.end - t->rcv_nxt;
      t->rcv_nxt += n;
      total += n;
    }
    uint32_t held = iv.end - iv.start;
    t->ooo_bytes -= held;
    tcp_layer(s)->ooo_total -= held;
  }
  if (k > 0) {
    for (unsigned i = k; i < t->nooo; i++)
      t->ooo[i - k] = t->ooo[i];
    t->nooo = (uint8_t)(t->nooo - k);
  }
  tcp_rcvq_pull_ooo(s, t, from, t->rcv_nxt);
  return total;
}

void tcp_reass_clear(struct us_stack *s, struct us_tcb *t) {
  tcp_layer(s)->ooo_total -= t->ooo_bytes;
  t->ooo_bytes = 0;
  t->nooo = 0;
  t->peer_fin_ooo = false;
}
