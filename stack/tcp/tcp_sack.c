/*
 * tcp_sack.c - using the peer's SACK blocks (RFC 2018) when we send.
 *
 * The scoreboard tcb->sb[] keeps up to TCP_SB_MAX ranges above SND.UNA
 * that the peer reported holding, sorted and disjoint. Every block is
 * checked before it is believed (HOSTILE OPT-5): left < right, inside
 * [SND.UNA, SND.MAX], no wrap tricks; bogus blocks are ignored.
 *
 * Use, in the spirit of RFC 6675 but simpler (no pipe estimate; cwnd is
 * still NewReno's, see cc_newreno.c):
 *  - an ACK that reports new SACKed bytes counts as a duplicate ACK even
 *    if it carries data or a window change, so recovery also starts when
 *    both sides are sending;
 *  - during recovery each such ACK retransmits the next hole (the first
 *    unSACKed range below the highest SACKed byte, from rexmit_nxt on),
 *    instead of waiting for one partial ACK per hole.
 * A retransmission timeout clears the scoreboard (the receiver may
 * renege, RFC 2018 section 8).
 */
#include "tcp_int.h"

static uint32_t sb_bytes(const struct us_tcb *t) {
  uint32_t n = 0;
  for (unsigned i = 0; i < t->nsb; i++)
    n += t->sb[i].end - t->sb[i].start;
  return n;
}

/* Merge [l, r) into the scoreboard. */
static void sb_add(struct us_tcb *t, uint32_t l, uint32_t r) {
  struct tcp_ooo out[TCP_SB_MAX + 1];
  unsigned n = 0;
  bool placed = false;
  for (unsigned i = 0; i < t->nsb; i++) {
    struct tcp_ooo iv = t->sb[i];
    if (us_seq_lt(iv.end, l)) {
      out[n++] = iv;
    } else if (us_seq_gt(iv.start, r)) {
      if (!placed) {
        out[n++] = (struct tcp_ooo){l, r};
        placed = true;
      }
      out[n++] = iv;
    } else {
      l = us_seq_min(l, iv.start);
      r = us_seq_max(r, iv.end);
    }
    if (n > TCP_SB_MAX)
      break;
  }
  if (!placed && n <= TCP_SB_MAX)
    out[n++] = (struct tcp_ooo){l, r};
  if (n > TCP_SB_MAX)
    n = TCP_SB_MAX; /* forget the highest range: it only delays a hole */
  for (unsigned i = 0; i < n; i++)
    t->sb[i] = out[i];
  t->nsb = (uint8_t)n;
}

bool tcp_sack_update(struct us_tcb *t, const struct us_tcp_seg *g) {
  uint32_t before = sb_bytes(t);
  uint32_t span = t->snd_max - t->snd_una;
  for (unsigned i = 0; i < g->sack_count && i < US_TCP_SACK_MAX_BLOCKS; i++) {
    uint32_t l = g->sack[i].left, r = g->sack[i].right;
    /* Believe only blocks inside what we have sent and not had ACKed. */
    if (!us_seq_lt(l, r) || !us_seq_ge(l, t->snd_una) || !us_seq_le(r, t->snd_max) ||
        r - l > span)
      continue;
    sb_add(t, l, r);
  }
  return sb_bytes(t) > before;
}

void tcp_sack_trim(struct us_tcb *t) {
  unsigned k = 0;
  for (unsigned i = 0; i < t->nsb; i++) {
    struct tcp_ooo iv = t->sb[i];
    if (us_seq_le(iv.end, t->snd_una))
      continue;
    if (us_seq_lt(iv.start, t->snd_una))
      iv.start = t->snd_una;
    t->sb[k++] = iv;
  }
  t->nsb = (uint8_t)k;
  if (us_seq_lt(t->rexmit_nxt, t->snd_una))
    t->rexmit_nxt = t->snd_una;
}

bool tcp_sack_next_hole(const struct us_tcb *t, uint32_t *seq, uint32_t *len) {
  if (t->nsb == 0)
    return false;
  uint32_t h = us_seq_max(t->snd_una, t->rexmit_nxt);
  for (unsigned i = 0; i < t->nsb; i++) {
    const struct tcp_ooo *iv = &t->sb[i];
    if (us_seq_lt(h, iv->start)) {
      uint32_t n = iv->start - h;
      *seq = h;
      *len = n < t->mss ? n : t->mss;
      return true;
    }
    if (us_seq_lt(h, iv->end))
      h = iv->end;
  }
  return false; /* nothing unSACKed below the highest SACKed byte */
}
