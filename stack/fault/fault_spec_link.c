/*
 * fault_spec_link.c - a link clause of the spec language: the impairment
 * groups (loss+burst, truncate+keep, corrupt+bits, dup+copies,
 * reorder+gap+hold, rate+bucket+qlen, delay+jitter) and blackhole windows
 * (fault_spec.h). A clause sets only the groups it names, for its
 * directions, so clauses for different groups add up.
 */
#include <string.h>

#include "fault_spec_int.h"

enum {
  K_LOSS,
  K_BURST,
  K_TRUNCATE,
  K_KEEP,
  K_CORRUPT,
  K_BITS,
  K_DUP,
  K_COPIES,
  K_REORDER,
  K_GAP,
  K_HOLD,
  K_RATE,
  K_BUCKET,
  K_QLEN,
  K_DELAY,
  K_JITTER,
  K_BLACKHOLE,
  K_COUNT_
};
static const char *const link_keys[K_COUNT_] = {
  "loss", "burst", "truncate", "keep",   "corrupt", "bits",  "dup",    "copies",    "reorder",
  "gap",  "hold",  "rate",     "bucket", "qlen",    "delay", "jitter", "blackhole",
};
/* The main key each modifier needs beside it in the same clause. */
static const int link_needs[K_COUNT_] = {
  -1,        K_LOSS,    -1, K_TRUNCATE, -1,     K_CORRUPT, -1,      K_DUP, -1,
  K_REORDER, K_REORDER, -1, K_RATE,     K_RATE, -1,        K_DELAY, -1,
};

static int link_key(const char *k) {
  for (int j = 0; j < K_COUNT_; j++)
    if (strcmp(k, link_keys[j]) == 0)
      return j;
  return -1;
}

static int unknown_key(struct fault_pctx *p, const char *k) {
  if (strcmp(k, "action") == 0 || strcmp(k, "count") == 0 || strcmp(k, "skip") == 0 ||
      strcmp(k, "when") == 0)
    return fault_perr(p, "key '%s' belongs to a rule, and this clause has no match=", k);
  return fault_perr(p,
                    "unknown key '%s' (loss, burst, truncate, keep, corrupt, bits, dup, "
                    "copies, reorder, gap, hold, rate, bucket, qlen, delay, jitter, "
                    "blackhole, or match= for a rule)",
                    k);
}

/* A blackhole is a rule "match everything in the window, drop". */
static int add_blackhole(struct fault_pctx *p, struct fault_conf *c, uint8_t dirmask, const char *k,
                         const char *v) {
  if (c->nrules == FAULT_MAX_RULES)
    return fault_perr(p, "more than %d rules", FAULT_MAX_RULES);
  struct fault_rule r;
  memset(&r, 0, sizeof r);
  r.dirmask = dirmask;
  r.blackhole = true;
  r.natoms = 1;
  r.atoms[0].kind = FAULT_AT_IP;
  r.action = FAULT_ACT_DROP;
  r.count = UINT64_MAX;
  r.win = true;
  if (fault_parse_window(p, k, v, &r.win_from, &r.win_to) < 0)
    return -1;
  c->rules[c->nrules++] = r;
  return 0;
}

/* A whole number in 1..max, or the message `zero` for 0. */
static int parse_count(struct fault_pctx *p, const char *k, const char *v, uint64_t max,
                       const char *zero, uint32_t *out) {
  uint64_t x = 0;
  if (fault_parse_uint(p, k, v, max, &x) < 0)
    return -1;
  if (x == 0)
    return fault_perr(p, "%s", zero);
  *out = (uint32_t)x;
  return 0;
}

/* The value of one key into this clause's `l`. */
static int link_value(struct fault_pctx *p, int key, const char *k, const char *v,
                      struct fault_link *l) {
  uint64_t x = 0;
  switch (key) {
  case K_LOSS:
    return fault_parse_pct(p, k, v, &l->loss);
  case K_BURST:
    return parse_count(p, k, v, 1000000, "burst: mean burst length must be at least 1", &l->burst);
  case K_TRUNCATE:
    return fault_parse_pct(p, k, v, &l->truncate);
  case K_KEEP:
    if (fault_parse_uint(p, k, v, 65535, &x) < 0)
      return -1;
    l->keep = (uint32_t)x;
    l->keep_set = true;
    return 0;
  case K_CORRUPT:
    return fault_parse_pct(p, k, v, &l->corrupt);
  case K_BITS:
    if (fault_parse_uint(p, k, v, FAULT_MAX_BITS, &x) < 0)
      return -1;
    if (x == 0)
      return fault_perr(p, "bits: must be 1..%d", FAULT_MAX_BITS);
    l->bits = (uint32_t)x;
    return 0;
  case K_DUP:
    return fault_parse_pct(p, k, v, &l->dup);
  case K_COPIES:
    if (fault_parse_uint(p, k, v, FAULT_MAX_COPIES, &x) < 0)
      return -1;
    if (x == 0)
      return fault_perr(p, "copies: must be 1..%d", FAULT_MAX_COPIES);
    l->copies = (uint32_t)x;
    return 0;
  case K_REORDER:
    return fault_parse_pct(p, k, v, &l->reorder);
  case K_GAP:
    return parse_count(p, k, v, 100000,
                       "gap: must be at least 1 (leave it out for time-only holding)", &l->gap);
  case K_HOLD:
    if (fault_parse_time(p, k, v, &l->hold) < 0)
      return -1;
    if (l->hold == 0)
      return fault_perr(p, "hold: must be more than 0");
    return 0;
  case K_RATE:
    return fault_parse_rate(p, k, v, &l->rate);
  case K_BUCKET:
    return fault_parse_size(p, k, v, &l->bucket);
  case K_QLEN:
    return parse_count(p, k, v, 1000000, "qlen: must be at least 1", &l->qlen);
  case K_DELAY:
    return fault_parse_time(p, k, v, &l->delay);
  case K_JITTER:
    return fault_parse_time(p, k, v, &l->jitter);
  default:
    return 0;
  }
}

static bool named(uint32_t seen, int key) { return (seen & (1u << key)) != 0; }

/* Defaults and cross-checks of the groups this clause names. */
static int link_defaults(struct fault_pctx *p, uint32_t seen, struct fault_link *l) {
  for (int j = 0; j < K_COUNT_; j++) {
    if (named(seen, j) && link_needs[j] >= 0 && !named(seen, link_needs[j]))
      return fault_perr(p, "'%s' needs '%s' in the same clause", link_keys[j],
                        link_keys[link_needs[j]]);
  }
  if (named(seen, K_LOSS)) {
    if (l->burst == 0)
      l->burst = 1;
    if (l->burst > 1 && l->loss > 0 && l->loss < 1) {
      /* Gilbert-Elliott with a lossless Good state and an all-lost Bad
       * state: mean Bad sojourn = 1/p_bg = burst; stationary loss =
       * p_gb / (p_gb + p_bg), solved for p_gb. */
      l->p_bg = 1.0 / l->burst;
      l->p_gb = l->loss * l->p_bg / (1.0 - l->loss);
      if (l->p_gb > 1.0)
        return fault_perr(p,
                          "loss %.4g%% with burst=%u is impossible (at most %.4g%% for that "
                          "burst)",
                          l->loss * 100, l->burst, 100.0 * l->burst / (l->burst + 1.0));
    }
  }
  if (named(seen, K_CORRUPT) && l->bits == 0)
    l->bits = 1;
  if (named(seen, K_DUP) && l->copies == 0)
    l->copies = 1;
  if (named(seen, K_REORDER)) {
    if (l->gap == 0 && l->hold == 0)
      l->gap = 1;
    if (l->gap > 0 && l->hold == 0)
      l->hold = 100000; /* the 100ms safety valve */
  }
  if (named(seen, K_RATE)) {
    if (l->bucket == 0)
      l->bucket = 3000;
    if (l->qlen == 0)
      l->qlen = 100;
  }
  if (named(seen, K_DELAY) && l->jitter > l->delay)
    return fault_perr(p, "jitter (%lldus) must not exceed delay (%lldus)", (long long)l->jitter,
                      (long long)l->delay);
  return 0;
}

/* Copy the groups this clause names into one direction's link; the
 * others keep what earlier clauses set. */
static void link_apply(struct fault_link *t, const struct fault_link *l, uint32_t seen) {
  if (named(seen, K_LOSS)) {
    t->loss = l->loss;
    t->burst = l->burst;
    t->p_gb = l->p_gb;
    t->p_bg = l->p_bg;
  }
  if (named(seen, K_TRUNCATE)) {
    t->truncate = l->truncate;
    t->keep = l->keep;
    t->keep_set = l->keep_set;
  }
  if (named(seen, K_CORRUPT)) {
    t->corrupt = l->corrupt;
    t->bits = l->bits;
  }
  if (named(seen, K_DUP)) {
    t->dup = l->dup;
    t->copies = l->copies;
  }
  if (named(seen, K_REORDER)) {
    t->reorder = l->reorder;
    t->gap = l->gap;
    t->hold = l->hold;
  }
  if (named(seen, K_RATE)) {
    t->rate = l->rate;
    t->bucket = l->bucket;
    t->qlen = l->qlen;
  }
  if (named(seen, K_DELAY)) {
    t->delay = l->delay;
    t->jitter = l->jitter;
  }
}

int fault_parse_link(struct fault_pctx *p, struct fault_conf *c, uint8_t dirmask,
                     struct fault_item *it, int nit) {
  struct fault_link l; /* this clause's values; only the groups it names are copied */
  memset(&l, 0, sizeof l);
  uint32_t seen = 0;
  for (int i = 0; i < nit; i++) {
    const char *k = it[i].key, *v = it[i].val;
    int key = link_key(k);
    if (key < 0)
      return unknown_key(p, k);
    if (key == K_BLACKHOLE) {
      if (add_blackhole(p, c, dirmask, k, v) < 0)
        return -1;
      continue;
    }
    if (named(seen, key))
      return fault_perr(p, "key '%s' given twice", k);
    seen |= 1u << key;
    if (link_value(p, key, k, v, &l) < 0)
      return -1;
  }
  if (link_defaults(p, seen, &l) < 0)
    return -1;
  for (int d = 0; d < US_FAULT_NDIRS; d++)
    if (dirmask & (1u << d))
      link_apply(&c->link[d], &l, seen);
  return 0;
}
