/*
 * fault_process.c - the decision path of one packet:
 *   release what is already due, classify the packet (fault_match.c),
 *   the first rule that applies (fault_rule.c) or else the random link
 *   impairments (fault_impair.c), the shaper and the delay line
 *   (fault_shape.c), then deliver now or park in a slot (fault_queue.c),
 *   then release again.
 * Every packet ends in exactly one of: delivered now, parked, or dropped
 * with one reason counted, which keeps the books balanced (fault.h).
 */
#include <string.h>

#include "fault_int.h"

/* A rule acts: blackhole and drop end the packet here (false); the other
 * actions shape `plan`. */
static bool apply_rule(struct us_fault *f, int dir, const struct fault_rule *r, uint64_t idx,
                       struct fault_plan *plan) {
  struct fault_dirstate *d = &f->d[dir];
  fault_trace(f, dir, US_FAULT_EV_RULE, idx, r - f->conf.rules);
  if (r->blackhole) {
    d->c.blackholed++;
    d->c.dropped++;
    fault_trace(f, dir, US_FAULT_EV_BLACKHOLE, idx, 0);
    return false;
  }
  d->c.rule_hits++;
  switch (r->action) {
  case FAULT_ACT_DROP:
    d->c.rule_dropped++;
    d->c.dropped++;
    return false;
  case FAULT_ACT_DUP:
    plan->copies = r->arg;
    break;
  case FAULT_ACT_DELAY:
    plan->extra = r->delay;
    plan->rule_delay = true;
    break;
  case FAULT_ACT_CORRUPT:
    plan->bits = r->arg;
    break;
  case FAULT_ACT_TRUNCATE:
    if (r->arg < plan->keep)
      plan->keep = r->arg;
    break;
  default:
    break; /* FAULT_ACT_PASS */
  }
  return true;
}

/* One packet on its way through, as offered. */
struct offer {
  int dir;
  const uint8_t *pkt;
  size_t len;
  us_time_t now;
  uint64_t idx; /* its index in its direction */
  struct fault_pkt pi;
  us_fault_deliver_fn deliver;
  void *ctx;
};

/* A rule, or else the random impairments (a rule that acts exempts the
 * packet from them). False: the packet is dropped. */
static bool decide(struct us_fault *f, const struct offer *o, struct fault_plan *plan) {
  const struct fault_rule *r = fault_rule_find(f, o->dir, &o->pi, o->now);
  if (r) {
    if (!apply_rule(f, o->dir, r, o->idx, plan))
      return false;
  } else {
    if (fault_impair_lose(f, o->dir, o->idx))
      return false;
    fault_impair_plan(f, o->dir, o->len, plan);
  }
  if (plan->bits > 0 && plan->keep == 0)
    plan->bits = 0;
  return true;
}

/* Mark a parked packet as truncated, corrupted, duplicated, held or
 * delayed, now that it will go out: counted only then, the books stay
 * balanced (seen + duplicated == delivered + dropped). */
static void count_changes(struct us_fault *f, const struct offer *o,
                          const struct fault_plan *plan) {
  struct fault_dirstate *d = &f->d[o->dir];
  if (plan->keep < o->len) {
    d->c.truncated++;
    fault_trace(f, o->dir, US_FAULT_EV_TRUNCATE, o->idx, (int64_t)plan->keep);
  }
  if (plan->bits > 0)
    d->c.corrupted++;
  if (plan->copies > 0) {
    d->c.duplicated += plan->copies;
    fault_trace(f, o->dir, US_FAULT_EV_DUP, o->idx, plan->copies);
  }
}

/* Keep a copy of the packet (as modified) in a slot until it is due.
 * False when no slot is free (counted: the packet is dropped). */
static bool park(struct us_fault *f, const struct offer *o, const struct fault_plan *plan,
                 us_time_t depart, us_time_t due) {
  int dir = o->dir;
  struct fault_dirstate *d = &f->d[dir];
  const struct fault_link *L = &f->conf.link[dir];
  struct fault_slot *s = (plan->keep <= f->slot_bytes) ? fault_slot_alloc(f) : NULL;
  if (!s) {
    d->c.queue_full++;
    d->c.dropped++;
    fault_trace(f, dir, US_FAULT_EV_QUEUE_FULL, o->idx, 0);
    return false;
  }
  fault_flow_note(&f->flows, &o->pi, true);
  count_changes(f, o, plan);
  memcpy(s->data, o->pkt, plan->keep);
  s->len = (uint32_t)plan->keep;
  s->dir = (uint8_t)dir;
  s->copies = (uint8_t)plan->copies;
  s->deliver = o->deliver;
  s->ctx = o->ctx;
  s->idx = o->idx;
  s->order = f->order++;
  s->due = due;
  s->shaper_until = depart;
  s->held = plan->held;
  if (plan->bits > 0)
    fault_flip_bits(f, dir, s->data, plan->keep, plan->bits, o->idx);
  if (plan->held) {
    d->c.reordered++;
    s->gap_left = L->gap > 0 ? L->gap : UINT32_MAX;
    s->hold_until = L->hold > 0 ? due + L->hold : US_TIME_NEVER;
    fault_trace(f, dir, US_FAULT_EV_REORDER, o->idx, 0);
  } else {
    d->nqueued++;
  }
  if (due > o->now) {
    d->c.delayed++;
    fault_trace(f, dir, US_FAULT_EV_DELAY, o->idx, due);
  }
  return true;
}

void us_fault_process(struct us_fault *f, enum us_fault_dir dir, const uint8_t *pkt, size_t len,
                      us_time_t now, us_fault_deliver_fn deliver, void *ctx) {
  if (!f || (unsigned)dir >= US_FAULT_NDIRS)
    return;
  fault_set_now(f, now);
  now = f->now;
  fault_release_due(f, now);

  struct fault_dirstate *d = &f->d[dir];
  struct offer o = { .dir = dir,
                     .pkt = pkt,
                     .len = len,
                     .now = now,
                     .idx = d->pkt_index++,
                     .deliver = deliver,
                     .ctx = ctx };
  d->c.seen++;
  fault_classify(pkt, len, &o.pi);

  struct fault_plan plan = { .keep = len };
  us_time_t depart = now;
  if (!decide(f, &o, &plan) || !fault_shape(f, dir, &plan, o.idx, now, &depart)) {
    fault_flow_note(&f->flows, &o.pi, false);
    fault_release_due(f, now);
    return;
  }
  us_time_t due = fault_delay_due(f, dir, &plan, depart);

  bool modify = plan.keep < len || plan.bits > 0 || plan.copies > 0;
  if (!plan.held && !modify && due <= now && d->nqueued == 0 && f->depth == 0) {
    /* The fast path: untouched, on time, nothing queued ahead. */
    fault_flow_note(&f->flows, &o.pi, true);
    fault_emit(f, dir, pkt, len, deliver, ctx, o.idx);
  } else if (!park(f, &o, &plan, depart, due)) {
    fault_flow_note(&f->flows, &o.pi, false);
  }
  fault_release_due(f, now);
}
