/*
 * fault.c - the injector object's life cycle: create (parse the spec,
 * allocate the slot pool, seed one PRNG stream per direction), destroy,
 * and replacing the spec at run time. The contract is in fault.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault_int.h"

#define FAULT_DEFAULT_SLOTS      1024
#define FAULT_DEFAULT_SLOT_BYTES 2048

/* The slot pool: `nslots` slots of `sbytes` bytes, all free. */
static int alloc_slots(struct us_fault *f, uint32_t nslots, uint32_t sbytes) {
  f->slots = calloc(nslots, sizeof *f->slots);
  f->mem = malloc((size_t)nslots * sbytes);
  f->used = calloc(nslots, sizeof *f->used);
  f->freel = calloc(nslots, sizeof *f->freel);
  if (!f->slots || !f->mem || !f->used || !f->freel)
    return -1;
  f->nslots = nslots;
  f->slot_bytes = sbytes;
  for (uint32_t i = 0; i < nslots; i++) {
    f->slots[i].data = f->mem + (size_t)i * sbytes;
    f->freel[i] = nslots - 1 - i; /* slot 0 is handed out first */
  }
  f->nfree = nslots;
  return 0;
}

struct us_fault *us_fault_create(const char *spec, uint64_t seed, char *err, size_t errlen) {
  return us_fault_create_ex(spec, seed, NULL, err, errlen);
}

struct us_fault *us_fault_create_ex(const char *spec, uint64_t seed,
                                    const struct us_fault_limits *lim, char *err, size_t errlen) {
  uint32_t nslots = lim && lim->slots ? lim->slots : FAULT_DEFAULT_SLOTS;
  uint32_t sbytes = lim && lim->slot_bytes ? lim->slot_bytes : FAULT_DEFAULT_SLOT_BYTES;
  if (nslots > 1u << 20 || sbytes > 65536) {
    if (err && errlen)
      snprintf(err, errlen, "fault: limits too large (slots <= 1M, slot_bytes <= 64KiB)");
    return NULL;
  }
  struct us_fault *f = calloc(1, sizeof *f);
  if (!f)
    goto nomem;
  if (fault_spec_parse(spec, &f->conf, err, errlen) < 0) {
    free(f);
    return NULL;
  }
  if (alloc_slots(f, nslots, sbytes) < 0) {
    us_fault_destroy(f);
    goto nomem;
  }
  f->seed = seed;
  for (int d = 0; d < US_FAULT_NDIRS; d++)
    fault_rng_seed(&f->d[d].rng, seed, d);
  return f;
nomem:
  if (err && errlen)
    snprintf(err, errlen, "fault: out of memory");
  return NULL;
}

void us_fault_destroy(struct us_fault *f) {
  if (!f)
    return;
  free(f->slots);
  free(f->mem);
  free(f->used);
  free(f->freel);
  free(f);
}

int us_fault_set(struct us_fault *f, const char *spec, char *err, size_t errlen) {
  if (!f)
    return -1;
  struct fault_conf *c = malloc(sizeof *c);
  if (!c) {
    if (err && errlen)
      snprintf(err, errlen, "fault: out of memory");
    return -1;
  }
  if (fault_spec_parse(spec, c, err, errlen) < 0) {
    free(c);
    return -1;
  }
  f->conf = *c;
  free(c);
  f->origin_set = false;
  for (int d = 0; d < US_FAULT_NDIRS; d++)
    f->d[d].ge_bad = false;
  memset(f->flows.flow, 0, sizeof f->flows.flow); /* the round-robin position goes on */
  return 0;
}

void us_fault_clear(struct us_fault *f) { (void)us_fault_set(f, "", NULL, 0); }

const char *us_fault_spec(const struct us_fault *f) { return f ? f->conf.spec : ""; }
uint64_t us_fault_seed(const struct us_fault *f) { return f ? f->seed : 0; }

void us_fault_set_trace(struct us_fault *f, us_fault_trace_fn fn, void *ctx) {
  if (!f)
    return;
  f->trace = fn;
  f->trace_ctx = ctx;
}
