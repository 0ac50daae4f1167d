/*
 * tcp_sack.c - transmit records and the SACK scoreboard.
 *
 * Every byte of sequence space in [SND.UNA, SND.MAX) belongs to exactly
 * one transmit record (struct tcp_xmit): a range sent at one instant, with
 * the time of its latest transmission (RFC 8985's per-segment xmit_ts)
 * and three marks: SACKED (the peer reported holding it, RFC 2018), LOST
 * (loss detection says it must be sent again and it has not been since)
 * and RETRANS (it was sent more than once). The records are sorted and
 * contiguous; segments sent in one burst (one `now`) share a record, and
 * records split where a SACK block, a retransmission or a loss mark ends
 * inside one. They live in a block attached with the send buffer (tcb.c,
 * struct tcp_flight), so an idle TCB pays nothing for them.
 *
 * The number of records is bounded (xr_cap, from the send buffer and the
 * smallest MSS we expect); when the array is full, new data joins the
 * last record (its time becomes the later one, which can only delay a
 * RACK loss decision, never hasten one) and a SACK block that would need
 * a split is applied only to the records it covers whole. A peer that
 * sends odd SACK blocks therefore costs bounded work per ACK (HOSTILE
 * OPT-5), and every block is checked before it is believed: left < right,
 * inside [SND.UNA, SND.MAX].
 *
 * From the records: pipe (RFC 6675 4, the bytes neither SACKed nor deemed
 * lost; a resent range counts again once resent), NextSeg rule 1 (the
 * first LOST range), and the "delivered" reports that drive RACK
 * (tcp_rack.c).
 */
#include <string.h>

#include "core/stats.h"
#include "tcp_int.h"

/* Records per send buffer: one per segment of the smallest MSS a peer
 * normally offers (RFC 9293 default 536), plus room for splits. */
uint32_t tcp_xr_cap(const struct us_config *cfg) { return cfg->tcp_sndbuf / TCP_MSS_DEFAULT + 32; }

void tcp_xr_init(struct us_tcb *t, struct tcp_flight *mem, uint32_t cap) {
  t->fl = mem;
  t->timer[TT_LOSS] = US_TIME_NEVER; /* nothing in flight to watch */
  if (!mem)
    return;
  *mem = (struct tcp_flight){
    .cap = cap,
    .rack_end = t->snd_una,
    .rack_fack = t->snd_una,
    .pto_at = US_TIME_NEVER,
  };
}

static uint32_t xr_len(const struct tcp_xmit *r) { return r->end - r->start; }

static void recount_sacked(struct us_tcb *t) {
  uint32_t n = 0;
  for (uint32_t i = 0; i < t->fl->n; i++)
    if (t->fl->r[i].flags & TCP_XR_SACKED)
      n += xr_len(&t->fl->r[i]);
  t->fl->sacked = n;
}

/* Merge neighbours whose flags agree outside `ignore`. A merged record is
 * SACKED only if both halves were (claiming a hole is held would lose
 * data; the reverse only resends some); LOST and RETRANS are or-ed; the
 * time is the later one. */
static void xr_merge_pass(struct us_tcb *t, uint8_t ignore) {
  if (t->fl->n == 0)
    return;
  uint32_t k = 0;
  for (uint32_t i = 1; i < t->fl->n; i++) {
    struct tcp_xmit *a = &t->fl->r[k], *b = &t->fl->r[i];
    if ((a->flags & ~ignore) == (b->flags & ~ignore)) {
      uint8_t sacked = a->flags & b->flags & TCP_XR_SACKED;
      a->flags = (uint8_t)(((a->flags | b->flags) & ~TCP_XR_SACKED) | sacked);
      a->end = b->end;
      if (b->sent > a->sent)
        a->sent = b->sent;
    } else {
      t->fl->r[++k] = *b;
    }
  }
  t->fl->n = k + 1;
}

/* Make room for `need` more records: merge alike neighbours first, then
 * ever coarser, down to one record if it must be. */
static void xr_make_room(struct us_tcb *t, uint32_t need) {
  static const uint8_t passes[] = { 0, TCP_XR_RETRANS, TCP_XR_RETRANS | TCP_XR_LOST,
                                    TCP_XR_RETRANS | TCP_XR_LOST | TCP_XR_SACKED };
  for (unsigned p = 0; p < sizeof passes && t->fl->n + need > t->fl->cap; p++)
    xr_merge_pass(t, passes[p]);
  recount_sacked(t);
}

/* Split record i at `seq` (strictly inside it); false if there is no room. */
static bool xr_split(struct us_tcb *t, uint32_t i, uint32_t seq) {
  if (t->fl->n >= t->fl->cap)
    return false;
  memmove(&t->fl->r[i + 1], &t->fl->r[i], (t->fl->n - i) * sizeof t->fl->r[0]);
  t->fl->n++;
  t->fl->r[i].end = seq;
  t->fl->r[i + 1].start = seq;
  return true;
}

/* The first record that ends after `seq` (binary search: sorted, contiguous). */
static uint32_t xr_find(const struct us_tcb *t, uint32_t seq) {
  uint32_t lo = 0, hi = t->fl->n;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (us_seq_le(t->fl->r[mid].end, seq))
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

/* Put record boundaries at l and r where there is room; returns the index
 * of the first record that starts at or after l. */
static uint32_t xr_isolate(struct us_tcb *t, uint32_t l, uint32_t r) {
  if (t->fl->n + 2 > t->fl->cap)
    xr_make_room(t, 2);
  uint32_t i = xr_find(t, l);
  if (i < t->fl->n && us_seq_lt(t->fl->r[i].start, l) && xr_split(t, i, l))
    i++;
  uint32_t j = xr_find(t, r);
  if (j < t->fl->n && us_seq_lt(t->fl->r[j].start, r))
    xr_split(t, j, r);
  return i;
}

/* New data [l, r) went out for the first time. */
static void xr_append(struct us_tcb *t, uint32_t l, uint32_t r, us_time_t now) {
  if (t->fl->n > 0) {
    struct tcp_xmit *last = &t->fl->r[t->fl->n - 1];
    if (last->end == l && last->sent == now && last->flags == 0) {
      last->end = r; /* same burst */
      return;
    }
  }
  if (t->fl->n >= t->fl->cap)
    xr_make_room(t, 1);
  if (t->fl->n > 0 && t->fl->r[t->fl->n - 1].end != l) {
    /* The records lost track of SND.MAX (cannot happen while every send
     * goes through here); start over rather than mislabel anything. */
    t->fl->n = 0;
    t->fl->sacked = 0;
  }
  t->fl->r[t->fl->n++] = (struct tcp_xmit){ .start = l, .end = r, .sent = now, .flags = 0 };
}

void tcp_xr_sent(struct us_tcb *t, uint32_t seq, uint32_t len, us_time_t now) {
  if (!t->fl || len == 0)
    return;
  uint32_t end = seq + len;
  if (us_seq_lt(seq, t->snd_max)) {
    /* A retransmission (of what lies below SND.MAX). */
    uint32_t r = us_seq_lt(end, t->snd_max) ? end : t->snd_max;
    uint32_t l = us_seq_lt(seq, t->snd_una) ? t->snd_una : seq;
    if (us_seq_lt(l, r)) {
      for (uint32_t i = xr_isolate(t, l, r); i < t->fl->n && us_seq_lt(t->fl->r[i].start, r); i++) {
        t->fl->r[i].sent = now;
        t->fl->r[i].flags = (uint8_t)((t->fl->r[i].flags | TCP_XR_RETRANS) & ~TCP_XR_LOST);
      }
    }
  }
  if (us_seq_gt(end, t->snd_max)) {
    uint32_t l = us_seq_gt(seq, t->snd_max) ? seq : t->snd_max;
    xr_append(t, l, end, now);
  }
}

/* RFC 2018 4 / RFC 2883: a block at or below the cumulative ACK, or the
 * first block inside the second, reports a duplicate (D-SACK). */
static bool is_dsack(const struct us_tcp_seg *g) {
  if (g->sack_count == 0)
    return false;
  if (us_seq_le(g->sack[0].right, g->ack))
    return true;
  return g->sack_count > 1 && us_seq_ge(g->sack[0].left, g->sack[1].left) &&
         us_seq_le(g->sack[0].right, g->sack[1].right);
}

uint32_t tcp_sack_update(struct us_stack *s, struct us_tcb *t, const struct us_tcp_seg *g,
                         us_time_t now, bool *dsack) {
  *dsack = is_dsack(g);
  if (!t->fl || t->fl->n == 0)
    return 0;
  uint32_t before = t->fl->sacked;
  /* Blocks count from the ACK this segment carries, if it is acceptable;
   * SND.UNA otherwise. */
  uint32_t una =
      us_seq_gt(g->ack, t->snd_una) && us_seq_le(g->ack, t->snd_max) ? g->ack : t->snd_una;
  for (unsigned b = 0; b < g->sack_count && b < US_TCP_SACK_MAX_BLOCKS; b++) {
    uint32_t l = g->sack[b].left, r = g->sack[b].right;
    /* Believe only blocks inside what we have sent and not had ACKed
     * (HOSTILE OPT-5); D-SACK blocks below it carry no new holding. */
    if (!us_seq_lt(l, r) || !us_seq_le(r, t->snd_max) || us_seq_le(r, una) ||
        r - l > t->snd_max - t->snd_una) {
      if (!(b == 0 && *dsack))
        US_STAT_INC(s, tcp_sack_bogus);
      continue;
    }
    if (us_seq_lt(l, una))
      l = una;
    for (uint32_t i = xr_isolate(t, l, r); i < t->fl->n && us_seq_lt(t->fl->r[i].start, r); i++) {
      struct tcp_xmit *x = &t->fl->r[i];
      /* Only whole records inside the block (a split may have failed). */
      if (us_seq_lt(x->start, l) || us_seq_gt(x->end, r) || (x->flags & TCP_XR_SACKED))
        continue;
      x->flags = (uint8_t)((x->flags | TCP_XR_SACKED) & ~TCP_XR_LOST);
      t->fl->sacked += xr_len(x);
      tcp_rack_delivered(t, x, now);
    }
  }
  return t->fl->sacked - before;
}

void tcp_xr_acked(struct us_stack *s, struct us_tcb *t, uint32_t ack, us_time_t now) {
  (void)s;
  if (!t->fl)
    return;
  uint32_t k = 0;
  while (k < t->fl->n && us_seq_lt(t->fl->r[k].start, ack)) {
    struct tcp_xmit *x = &t->fl->r[k];
    if (!(x->flags & TCP_XR_SACKED)) {
      /* Delivered: the part below the ACK (RACK keys on its end). */
      struct tcp_xmit d = *x;
      if (us_seq_gt(d.end, ack))
        d.end = ack;
      tcp_rack_delivered(t, &d, now);
    }
    if (us_seq_le(x->end, ack)) {
      if (x->flags & TCP_XR_SACKED)
        t->fl->sacked -= xr_len(x);
      k++;
      continue;
    }
    if (x->flags & TCP_XR_SACKED)
      t->fl->sacked -= ack - x->start;
    x->start = ack; /* part of it remains */
    break;
  }
  if (k > 0) {
    memmove(&t->fl->r[0], &t->fl->r[k], (t->fl->n - k) * sizeof t->fl->r[0]);
    t->fl->n -= k;
  }
}

uint32_t tcp_pipe(const struct us_tcb *t) {
  if (!t->fl)
    return t->snd_max - t->snd_una;
  uint32_t pipe = 0;
  for (uint32_t i = 0; i < t->fl->n; i++)
    if (!(t->fl->r[i].flags & (TCP_XR_SACKED | TCP_XR_LOST)))
      pipe += xr_len(&t->fl->r[i]);
  return pipe;
}

bool tcp_xr_next_lost(const struct us_tcb *t, uint32_t *seq, uint32_t *len) {
  for (uint32_t i = 0; t->fl && i < t->fl->n; i++) {
    const struct tcp_xmit *x = &t->fl->r[i];
    if ((x->flags & (TCP_XR_LOST | TCP_XR_SACKED)) == TCP_XR_LOST) {
      *seq = x->start;
      *len = xr_len(x) < t->mss ? xr_len(x) : t->mss;
      return true;
    }
  }
  return false;
}

void tcp_xr_mark_lost(struct us_stack *s, struct us_tcb *t, struct tcp_xmit *r) {
  (void)t;
  if (r->flags & (TCP_XR_LOST | TCP_XR_SACKED))
    return;
  r->flags |= TCP_XR_LOST;
  US_STAT_INC(s, tcp_marked_lost);
}

bool tcp_xr_mark_lost_range(struct us_stack *s, struct us_tcb *t, uint32_t l, uint32_t r) {
  if (!t->fl || t->fl->n == 0)
    return false;
  if (us_seq_gt(r, t->snd_max))
    r = t->snd_max;
  bool any = false;
  for (uint32_t i = xr_isolate(t, l, r); i < t->fl->n && us_seq_lt(t->fl->r[i].start, r); i++) {
    if (!(t->fl->r[i].flags & (TCP_XR_LOST | TCP_XR_SACKED))) {
      tcp_xr_mark_lost(s, t, &t->fl->r[i]);
      any = true;
    }
  }
  return any;
}

bool tcp_xr_sacked_at_una(const struct us_tcb *t) {
  return t->fl && t->fl->n > 0 && (t->fl->r[0].flags & TCP_XR_SACKED);
}

void tcp_xr_forget_sacks(struct us_tcb *t) {
  for (uint32_t i = 0; t->fl && i < t->fl->n; i++)
    t->fl->r[i].flags &= (uint8_t)~TCP_XR_SACKED;
  t->fl->sacked = 0;
}
