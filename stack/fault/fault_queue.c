/*
 * fault_queue.c - where held packets wait: the slot pool, delivery, and
 * the release loop that hands on whatever is due, in due order (ties in
 * arrival order). See fault_int.h for the slot states.
 */
#include "fault_int.h"

struct fault_slot *fault_slot_alloc(struct us_fault *f) {
  if (f->nfree == 0)
    return NULL;
  uint32_t i = f->freel[--f->nfree];
  struct fault_slot *s = &f->slots[i];
  f->used[f->nused++] = i;
  s->state = FAULT_SLOT_QUEUED;
  return s;
}

static void slot_free(struct us_fault *f, struct fault_slot *s) {
  uint32_t i = (uint32_t)(s - f->slots);
  for (uint32_t k = 0; k < f->nused; k++) {
    if (f->used[k] == i) {
      f->used[k] = f->used[--f->nused];
      break;
    }
  }
  s->state = FAULT_SLOT_FREE;
  f->freel[f->nfree++] = i;
}

/* When a slot may go: its due time, or for a packet held for reordering
 * its due time once the gap has gone by, else its hold time. */
static us_time_t slot_ready_at(const struct fault_slot *s) {
  if (!s->held)
    return s->due;
  if (s->gap_left == 0)
    return s->due;
  return s->hold_until;
}

void fault_trace(struct us_fault *f, int dir, enum us_fault_event_kind kind, uint64_t idx,
                 int64_t arg) {
  if (!f->trace)
    return;
  struct us_fault_event ev = { (enum us_fault_dir)dir, kind, idx, f->now, arg };
  f->trace(f->trace_ctx, &ev);
}

void fault_emit(struct us_fault *f, int dir, const uint8_t *pkt, size_t len,
                us_fault_deliver_fn deliver, void *ctx, uint64_t idx) {
  f->d[dir].c.delivered++;
  fault_trace(f, dir, US_FAULT_EV_DELIVER, idx, (int64_t)len);
  f->depth++;
  if (deliver)
    deliver(ctx, pkt, len);
  f->depth--;
  /* Reordering: a held packet waits for `gap` later packets to go by. */
  for (uint32_t k = 0; k < f->nused; k++) {
    struct fault_slot *s = &f->slots[f->used[k]];
    if (s->state == FAULT_SLOT_QUEUED && s->held && s->dir == dir && s->gap_left > 0 &&
        s->gap_left != UINT32_MAX)
      s->gap_left--;
  }
}

/* The QUEUED slot that is due first at `now`, or NULL. */
static struct fault_slot *next_due(struct us_fault *f, us_time_t now) {
  struct fault_slot *best = NULL;
  us_time_t best_t = 0;
  for (uint32_t k = 0; k < f->nused; k++) {
    struct fault_slot *s = &f->slots[f->used[k]];
    if (s->state != FAULT_SLOT_QUEUED)
      continue;
    us_time_t t = slot_ready_at(s);
    if (t > now)
      continue;
    if (!best || t < best_t || (t == best_t && s->order < best->order)) {
      best = s;
      best_t = t;
    }
  }
  return best;
}

void fault_release_due(struct us_fault *f, us_time_t now) {
  if (f->depth > 0)
    return; /* the outermost loop does it */
  /* Bounded: each round frees a slot; callbacks may park new packets due
   * now, so cap the rounds and leave the rest for the next poll. */
  uint64_t rounds = (uint64_t)f->nslots * 4 + 16;
  while (rounds-- > 0) {
    struct fault_slot *best = next_due(f, now);
    if (!best)
      return;
    best->state = FAULT_SLOT_BUSY;
    if (!best->held)
      f->d[best->dir].nqueued--;
    for (uint32_t c = 0; c <= best->copies; c++)
      fault_emit(f, best->dir, best->data, best->len, best->deliver, best->ctx, best->idx);
    slot_free(f, best);
  }
}

void fault_set_now(struct us_fault *f, us_time_t now) {
  if (now > f->now || !f->origin_set)
    f->now = now;
  if (!f->origin_set) {
    f->origin_set = true;
    f->origin = now;
  }
}

uint32_t fault_shaper_backlog(const struct us_fault *f, int dir, us_time_t now) {
  uint32_t n = 0;
  for (uint32_t k = 0; k < f->nused; k++) {
    const struct fault_slot *s = &f->slots[f->used[k]];
    if (s->state == FAULT_SLOT_QUEUED && s->dir == dir && s->shaper_until > now)
      n++;
  }
  return n;
}

us_time_t us_fault_poll(struct us_fault *f, us_time_t now) {
  if (!f)
    return US_TIME_NEVER;
  fault_set_now(f, now);
  fault_release_due(f, f->now);
  return us_fault_next_deadline(f);
}

us_time_t us_fault_next_deadline(const struct us_fault *f) {
  us_time_t t = US_TIME_NEVER;
  if (!f)
    return t;
  for (uint32_t k = 0; k < f->nused; k++) {
    const struct fault_slot *s = &f->slots[f->used[k]];
    if (s->state != FAULT_SLOT_QUEUED)
      continue;
    us_time_t r = slot_ready_at(s);
    if (r < t)
      t = r;
  }
  return t;
}

uint32_t us_fault_held(const struct us_fault *f) { return f ? f->nused : 0; }
us_time_t us_fault_now(const struct us_fault *f) { return f ? f->now : 0; }
