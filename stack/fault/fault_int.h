/*
 * fault_int.h - the injector object, shared by the engine's files and by
 * no one else.
 *
 * What the object owns and its invariants:
 *  - A parsed configuration (struct fault_conf, fault_spec.h): per
 *    direction one set of link impairments, plus an ordered list of rules.
 *  - A pool of `nslots` packet slots allocated at creation. A slot is FREE
 *    (on the free stack), QUEUED (listed in used[], waiting for its due
 *    time or its reorder gap) or BUSY (being delivered right now). Every
 *    QUEUED slot is in used[0..nused), every FREE slot in freel[0..nfree):
 *    nused + nfree == nslots at rest.
 *  - Per direction: a PRNG stream seeded from the user's seed, so TX
 *    decisions never depend on how RX traffic interleaves; the
 *    Gilbert-Elliott state; the shaper (core/tbucket.h); the FIFO floor
 *    (`last_due`) that keeps delayed packets in order; the counters.
 *
 * Re-entrancy: a deliver callback may call us_fault_process() again (a
 * stack that answers at once). Nested calls never deliver themselves: they
 * park the packet (due now) and the outermost release loop hands it on, so
 * the call depth stays bounded however long two stacks ping-pong.
 */
#ifndef USTACK_FAULT_INT_H
#define USTACK_FAULT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/tbucket.h"
#include "fault.h"
#include "fault_flow.h"
#include "fault_match.h"
#include "fault_rng.h"
#include "fault_spec.h"

enum fault_slot_state { FAULT_SLOT_FREE = 0, FAULT_SLOT_QUEUED, FAULT_SLOT_BUSY };

struct fault_slot {
  uint8_t *data;
  uint32_t len;
  uint8_t dir, state, copies;
  bool held; /* reordering: waits for gap_left or hold_until */
  uint32_t gap_left;
  us_time_t due; /* release time (when not held) */
  us_time_t hold_until;
  us_time_t shaper_until; /* left the shaper at this time */
  uint64_t order;         /* arrival order, breaks ties */
  uint64_t idx;           /* packet index in its direction */
  us_fault_deliver_fn deliver;
  void *ctx;
};

struct fault_dirstate {
  struct fault_rng rng;
  bool ge_bad;
  struct us_tshaper shaper;
  us_time_t last_due; /* FIFO floor of the delay line */
  uint64_t pkt_index;
  uint32_t nqueued; /* QUEUED, not held (FIFO path) */
  struct us_fault_counters c;
};

struct us_fault {
  struct fault_conf conf;
  uint64_t seed;
  struct fault_dirstate d[US_FAULT_NDIRS];

  bool origin_set;
  us_time_t origin;
  us_time_t now;

  struct fault_slot *slots;
  uint8_t *mem;
  uint32_t nslots, slot_bytes;
  uint32_t *used, nused;
  uint32_t *freel, nfree;
  uint64_t order;
  int depth; /* > 0 while a deliver callback runs */

  struct fault_flows flows;

  us_fault_trace_fn trace;
  void *trace_ctx;
};

/* What the decision path has decided for one packet so far. */
struct fault_plan {
  size_t keep;     /* bytes to let out (truncation) */
  uint32_t copies; /* extra copies */
  uint32_t bits;   /* bits to flip */
  us_time_t extra; /* a rule's delay, on top of the link's */
  bool held;       /* reordering */
  bool rule_delay; /* a rule delays it: it does not hold back others */
};

/* ---- fault_queue.c: slots, delivery, release --------------------------- */

/* A free slot, now QUEUED, or NULL when the pool is empty. */
struct fault_slot *fault_slot_alloc(struct us_fault *f);
/* Move the clock forward (never back); the first call sets the origin. */
void fault_set_now(struct us_fault *f, us_time_t now);
/* Hand one packet (or copy) on, count it, and age the reorder gaps. */
void fault_emit(struct us_fault *f, int dir, const uint8_t *pkt, size_t len,
                us_fault_deliver_fn deliver, void *ctx, uint64_t idx);
/* Release every QUEUED slot due at or before `now`, in due order (no-op
 * inside a deliver callback: the outermost call does it). */
void fault_release_due(struct us_fault *f, us_time_t now);
/* Packets of `dir` still waiting in the shaper at `now`. */
uint32_t fault_shaper_backlog(const struct us_fault *f, int dir, us_time_t now);
/* Report one decision to the trace callback, if any. */
void fault_trace(struct us_fault *f, int dir, enum us_fault_event_kind kind, uint64_t idx,
                 int64_t arg);

/* ---- The decision steps (fault_process.c calls them in this order) ----- */

/* fault_rule.c: the first rule that applies, or NULL; counts its match. */
const struct fault_rule *fault_rule_find(struct us_fault *f, int dir, const struct fault_pkt *pi,
                                         us_time_t now);
/* fault_impair.c: random loss (true: drop it), then truncate, corrupt,
 * dup and reorder into `plan`, each drawing from the PRNG only when
 * enabled. */
bool fault_impair_lose(struct us_fault *f, int dir, uint64_t idx);
void fault_impair_plan(struct us_fault *f, int dir, size_t len, struct fault_plan *plan);
/* fault_shape.c: the rate shaper; false when its queue is full (counted
 * and traced: drop it). Sets *depart, the time the packet leaves it. */
bool fault_shape(struct us_fault *f, int dir, const struct fault_plan *plan, uint64_t idx,
                 us_time_t now, us_time_t *depart);
/* fault_shape.c: the delay line; the time the packet is due out. */
us_time_t fault_delay_due(struct us_fault *f, int dir, const struct fault_plan *plan,
                          us_time_t depart);
/* fault_impair.c: flip `bits` distinct random bits among `len` bytes. */
void fault_flip_bits(struct us_fault *f, int dir, uint8_t *b, size_t len, uint32_t bits,
                     uint64_t idx);

#endif
