/*
 * fault_counters.c - the injector's counters (US_FAULT_COUNTERS in
 * fault.h): read, reset, names for printing, and the one-line-per-direction
 * summary the daemon prints at exit and on SIGUSR1.
 */
#include <stdio.h>
#include <string.h>

#include "fault_int.h"

void us_fault_counters(const struct us_fault *f, enum us_fault_dir dir,
                       struct us_fault_counters *out) {
  if (!f || (unsigned)dir >= US_FAULT_NDIRS) {
    memset(out, 0, sizeof *out);
    return;
  }
  *out = f->d[dir].c;
}

void us_fault_counters_reset(struct us_fault *f) {
  if (!f)
    return;
  for (int d = 0; d < US_FAULT_NDIRS; d++)
    memset(&f->d[d].c, 0, sizeof f->d[d].c);
}

static const char *const ctr_names[] = {
#define US_FAULT_CTR_NAME_(name, desc) #name,
  US_FAULT_COUNTERS(US_FAULT_CTR_NAME_)
#undef US_FAULT_CTR_NAME_
};
static const char *const ctr_descs[] = {
#define US_FAULT_CTR_DESC_(name, desc) desc,
  US_FAULT_COUNTERS(US_FAULT_CTR_DESC_)
#undef US_FAULT_CTR_DESC_
};
#define FAULT_NCTR (sizeof ctr_names / sizeof ctr_names[0])

size_t us_fault_counter_count(void) { return FAULT_NCTR; }
const char *us_fault_counter_name(size_t i) { return i < FAULT_NCTR ? ctr_names[i] : NULL; }
const char *us_fault_counter_desc(size_t i) { return i < FAULT_NCTR ? ctr_descs[i] : NULL; }

uint64_t us_fault_counter_value(const struct us_fault_counters *c, size_t i) {
  size_t k = 0;
#define US_FAULT_CTR_VAL_(name, desc) \
  if (k++ == i)                       \
    return c->name;
  US_FAULT_COUNTERS(US_FAULT_CTR_VAL_)
#undef US_FAULT_CTR_VAL_
  return 0;
}

int us_fault_format(const struct us_fault *f, char *buf, size_t len) {
  if (!f)
    return 0;
  size_t used = 0;
  int total = 0;
  static const char *const dname[US_FAULT_NDIRS] = { "tx", "rx" };
  for (int d = 0; d < US_FAULT_NDIRS; d++) {
    int n = snprintf(buf && used < len ? buf + used : NULL, buf && used < len ? len - used : 0,
                     "fault seed=%llu %s:", (unsigned long long)f->seed, dname[d]);
    if (n < 0)
      return n;
    total += n;
    used += (size_t)n;
    for (size_t i = 0; i < FAULT_NCTR; i++) {
      uint64_t v = us_fault_counter_value(&f->d[d].c, i);
      if (v == 0 && i != 0)
        continue;
      n = snprintf(buf && used < len ? buf + used : NULL, buf && used < len ? len - used : 0,
                   " %s=%llu", ctr_names[i], (unsigned long long)v);
      if (n < 0)
        return n;
      total += n;
      used += (size_t)n;
    }
    n = snprintf(buf && used < len ? buf + used : NULL, buf && used < len ? len - used : 0, "\n");
    total += n;
    used += (size_t)n;
  }
  return total;
}
