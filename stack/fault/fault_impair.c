/*
 * fault_impair.c - the random link impairments of one direction, applied
 * to a packet no rule acted on: loss (independent or Gilbert-Elliott
 * bursts), truncation, corruption, duplication and reordering. Each draws
 * from the direction's PRNG only when enabled, so enabling one impairment
 * does not shift the random choices of a direction that lacks it.
 */
#include "fault_int.h"

/* One Gilbert-Elliott step: in the Bad state every packet is lost. */
static bool burst_lost(struct fault_dirstate *d, const struct fault_link *L) {
  if (d->ge_bad)
    d->ge_bad = !fault_rng_chance(&d->rng, L->p_bg);
  else
    d->ge_bad = fault_rng_chance(&d->rng, L->p_gb);
  return d->ge_bad;
}

bool fault_impair_lose(struct us_fault *f, int dir, uint64_t idx) {
  struct fault_dirstate *d = &f->d[dir];
  const struct fault_link *L = &f->conf.link[dir];
  if (L->loss <= 0)
    return false;
  bool lost;
  if (L->loss >= 1) {
    lost = true;
    (void)fault_rng_next(&d->rng); /* the stream advances as for any loss draw */
  } else if (L->burst > 1) {
    lost = burst_lost(d, L);
  } else {
    lost = fault_rng_chance(&d->rng, L->loss);
  }
  if (!lost)
    return false;
  d->c.lost++;
  d->c.dropped++;
  fault_trace(f, dir, US_FAULT_EV_LOSS, idx, d->ge_bad);
  return true;
}

void fault_impair_plan(struct us_fault *f, int dir, size_t len, struct fault_plan *plan) {
  struct fault_dirstate *d = &f->d[dir];
  const struct fault_link *L = &f->conf.link[dir];
  if (L->truncate > 0 && fault_rng_chance(&d->rng, L->truncate) && len >= 2) {
    if (L->keep_set)
      plan->keep = L->keep < len ? L->keep : len;
    else
      plan->keep = 1 + (size_t)fault_rng_below(&d->rng, len - 1);
  }
  if (L->corrupt > 0 && fault_rng_chance(&d->rng, L->corrupt))
    plan->bits = L->bits;
  if (L->dup > 0 && fault_rng_chance(&d->rng, L->dup))
    plan->copies = L->copies;
  if (L->reorder > 0 && fault_rng_chance(&d->rng, L->reorder))
    plan->held = true;
}

void fault_flip_bits(struct us_fault *f, int dir, uint8_t *b, size_t len, uint32_t bits,
                     uint64_t idx) {
  uint64_t nbits = (uint64_t)len * 8;
  if (bits > nbits)
    bits = (uint32_t)nbits;
  uint64_t done[FAULT_MAX_BITS];
  uint32_t n = 0;
  while (n < bits) {
    uint64_t pos = fault_rng_below(&f->d[dir].rng, nbits);
    bool dupl = false;
    for (uint32_t i = 0; i < n; i++)
      dupl |= done[i] == pos;
    if (dupl)
      continue; /* terminates: bits <= nbits */
    done[n++] = pos;
    b[pos / 8] ^= (uint8_t)(0x80u >> (pos % 8));
    fault_trace(f, dir, US_FAULT_EV_CORRUPT, idx, (int64_t)pos);
  }
}
