/* tbucket.c - see tbucket.h. */
#include "tbucket.h"

bool us_tbucket_take(struct us_tbucket *tb, uint32_t rate, uint32_t burst, us_time_t now) {
  if (rate == 0)
    return true;
  const int64_t one = 1000000; /* micro-tokens per token */
  int64_t cap = (int64_t)(burst ? burst : 1) * one;
  if (!tb->started) {
    tb->started = true;
    tb->credit = cap;
    tb->last = now;
  } else if (now > tb->last) {
    /* Clamp the gap so gap * rate stays far from overflow; after 1000 s
     * any bucket is full anyway. */
    int64_t gap = now - tb->last;
    if (gap > US_SEC(1000))
      gap = US_SEC(1000);
    tb->credit += gap * (int64_t)rate;
    if (tb->credit > cap)
      tb->credit = cap;
    tb->last = now;
  }
  if (tb->credit < one)
    return false;
  tb->credit -= one;
  return true;
}

int64_t us_tshaper_ready_ns(const struct us_tshaper *sh, uint64_t rate, uint64_t bucket) {
  int64_t tau_ns = (int64_t)(bucket * 1000000000ull / rate);
  return sh->tat_ns - tau_ns;
}

void us_tshaper_sent(struct us_tshaper *sh, int64_t at_ns, uint64_t bytes, uint64_t rate) {
  int64_t ser_ns = (int64_t)(bytes * 1000000000ull / rate);
  sh->tat_ns = (sh->tat_ns > at_ns ? sh->tat_ns : at_ns) + ser_ns;
}
