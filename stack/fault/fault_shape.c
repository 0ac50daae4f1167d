/*
 * fault_shape.c - when a packet leaves: the rate shaper (a token bucket,
 * core/tbucket.h, FIFO with a bounded queue) and then the delay line
 * (fixed delay plus uniform jitter, order kept as netem does without
 * reordering).
 */
#include "fault_int.h"

bool fault_shape(struct us_fault *f, int dir, const struct fault_plan *plan, uint64_t idx,
                 us_time_t now, us_time_t *depart) {
  struct fault_dirstate *d = &f->d[dir];
  const struct fault_link *L = &f->conf.link[dir];
  *depart = now;
  if (L->rate == 0)
    return true;
  int64_t now_ns = now * 1000;
  int64_t ok_ns = us_tshaper_ready_ns(&d->shaper, L->rate, L->bucket);
  if (ok_ns > now_ns) {
    if (fault_shaper_backlog(f, dir, now) >= L->qlen) {
      d->c.rate_dropped++;
      d->c.dropped++;
      fault_trace(f, dir, US_FAULT_EV_RATE_DROP, idx, 0);
      return false;
    }
    d->c.rate_queued++;
    *depart = (ok_ns + 999) / 1000;
  } else {
    ok_ns = now_ns;
  }
  /* Copies go through the shaper with the original. */
  uint64_t bytes = (uint64_t)plan->keep * (1 + plan->copies);
  us_tshaper_sent(&d->shaper, ok_ns, bytes, L->rate);
  return true;
}

us_time_t fault_delay_due(struct us_fault *f, int dir, const struct fault_plan *plan,
                          us_time_t depart) {
  struct fault_dirstate *d = &f->d[dir];
  const struct fault_link *L = &f->conf.link[dir];
  us_time_t due = depart;
  if (L->delay > 0) {
    us_time_t dl = L->delay;
    if (L->jitter > 0)
      dl += (us_time_t)fault_rng_below(&d->rng, (uint64_t)(2 * L->jitter + 1)) - L->jitter;
    due += dl;
  }
  if (!plan->held && !plan->rule_delay) {
    /* The delay line keeps order: never leave before the one ahead. */
    if (due < d->last_due)
      due = d->last_due;
    d->last_due = due;
  }
  return due + plan->extra;
}
