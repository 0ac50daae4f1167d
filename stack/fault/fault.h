/*
 * fault.h - a seeded network impairment layer (the "fault injector").
 *
 * It sits on the link between a stack and its peer and, per direction,
 * drops, duplicates, reorders, corrupts, truncates, delays and rate-limits
 * packets, blackholes a time window, and applies rules that pick packets by
 * protocol, TCP flags, ports and count ("drop the first 2 SYN-ACKs").
 *
 * Directions: US_FAULT_TX is stack -> link (what the stack sends),
 * US_FAULT_RX is link -> stack (what the stack receives). In the two-stack
 * unit simulation TX means "A -> B" and RX means "B -> A".
 *
 * Purity: nothing in here reads a clock, sleeps or calls a random function
 * of the OS. Time is always passed in (`now`, the us_time_t of
 * us_types.h), randomness comes from a PRNG seeded at creation, so the same
 * spec + the same seed + the same traffic at the same times gives the same
 * decisions, bit for bit: a failing run is replayed from its seed. The
 * daemon's side (a seed from the OS, the us_device and rx-sink wrappers,
 * the loop tick) is stack/platform/fault_wrap.h and fault_seed.h.
 *
 * Books: per direction, once nothing is held,
 *   seen + duplicated == delivered + dropped
 * (a packet is counted as duplicated/corrupted/truncated only when it is
 * actually let out).
 *
 * Memory: every packet the injector keeps (delayed, held for reordering,
 * rate-limited, or modified) lives in a slot of a pool allocated by
 * us_fault_create(); nothing is allocated afterwards. When no slot is free
 * the packet is dropped and counted under `queue_full`.
 *
 * Threading: one thread at a time per object. Callbacks (deliver, trace) may
 * call back into the same object (e.g. a deliver that feeds a stack whose
 * answer goes out through the TX direction): the injector is re-entrant.
 *
 * The spec grammar is in fault_spec.h (and scripts/fault/README.md).
 *
 * Inside: fault_spec*.c parse a spec, fault_match.c classifies a packet
 * for the rules, fault_flow.c tracks handshakes, fault_process.c makes the
 * decisions (fault_rule.c, fault_impair.c, fault_shape.c), fault_queue.c
 * holds and releases packets, fault.c is the object's life cycle,
 * fault_counters.c and fault_ctl.c report.
 */
#ifndef USTACK_FAULT_FAULT_H
#define USTACK_FAULT_FAULT_H

#include <stddef.h>
#include <stdint.h>

#include "ustack/us_types.h"

enum us_fault_dir {
  US_FAULT_TX = 0, /* stack -> link */
  US_FAULT_RX = 1, /* link -> stack */
  US_FAULT_NDIRS
};

/* Where a packet goes once the injector lets it out. Same shape as
 * us_device.tx: the bytes are BORROWED for the duration of the call. The
 * time of the release is us_fault_now(). */
typedef void (*us_fault_deliver_fn)(void *ctx, const uint8_t *pkt, size_t len);

/* Counters, per direction. X(name, description). */
#define US_FAULT_COUNTERS(X)                                \
  X(seen, "packets offered to the injector")                \
  X(delivered, "packets (and copies) handed on")            \
  X(dropped, "packets dropped, all reasons")                \
  X(lost, "dropped by random loss")                         \
  X(blackholed, "dropped inside a blackhole window")        \
  X(rule_dropped, "dropped by a rule")                      \
  X(rule_hits, "packets a rule acted on (any action)")      \
  X(duplicated, "extra copies made")                        \
  X(reordered, "packets held back for reordering")          \
  X(delayed, "packets released later than they arrived")    \
  X(corrupted, "packets with flipped bits")                 \
  X(truncated, "packets cut short")                         \
  X(rate_queued, "packets that waited in the rate limiter") \
  X(rate_dropped, "dropped: rate-limiter queue full")       \
  X(queue_full, "dropped: no free slot in the injector")

struct us_fault_counters {
#define US_FAULT_CTR_FIELD_(name, desc) uint64_t name;
  US_FAULT_COUNTERS(US_FAULT_CTR_FIELD_)
#undef US_FAULT_CTR_FIELD_
};

/* Pool sizes. Zero fields take the defaults. */
struct us_fault_limits {
  uint32_t slots;      /* packets held at once (default 1024) */
  uint32_t slot_bytes; /* largest packet that can be held (default 2048) */
};

struct us_fault;

/*
 * Parse `spec` (grammar above; NULL or "" = no impairment) and create an
 * injector seeded with `seed` (any value, 0 included). On a bad spec or no
 * memory returns NULL and writes a one-line reason naming the clause and
 * the offending token into `err` (if err && errlen).
 */
struct us_fault *us_fault_create(const char *spec, uint64_t seed, char *err, size_t errlen);
struct us_fault *us_fault_create_ex(const char *spec, uint64_t seed,
                                    const struct us_fault_limits *lim, char *err, size_t errlen);
/* Free everything; packets still held are discarded (not delivered). */
void us_fault_destroy(struct us_fault *f);

/* Check a spec without creating anything: 0, or -1 with `err` filled. */
int us_fault_check(const char *spec, char *err, size_t errlen);

/*
 * Replace the active spec at run time (control socket: "fault set SPEC").
 * On a bad spec returns -1, fills `err`, and keeps the old spec. Counters
 * keep counting, the PRNG stream goes on, held packets are released on
 * their old schedule; rule counts and the time origin start afresh.
 */
int us_fault_set(struct us_fault *f, const char *spec, char *err, size_t errlen);
/* Same as us_fault_set(f, "", ...): no impairment from now on. */
void us_fault_clear(struct us_fault *f);
/* The active spec text as given ("" when none). */
const char *us_fault_spec(const struct us_fault *f);

/* The seed the object was created with (print it: it replays the run). */
uint64_t us_fault_seed(const struct us_fault *f);

/*
 * Offer one packet travelling in direction `dir` at time `now`. `pkt` is
 * BORROWED. The packet is delivered now (before this returns), later (by a
 * us_fault_process or us_fault_poll call at or after its due time), more
 * than once, or never; `deliver(ctx, ...)` is remembered with a held packet.
 * Packets already due are released too. `now` must not go backwards.
 */
void us_fault_process(struct us_fault *f, enum us_fault_dir dir, const uint8_t *pkt, size_t len,
                      us_time_t now, us_fault_deliver_fn deliver, void *ctx);

/*
 * Release every held packet due at or before `now`, in due order (ties in
 * arrival order). Returns the next due time, or US_TIME_NEVER when nothing
 * is held: the event loop arms its timer at min(stack deadline, this).
 */
us_time_t us_fault_poll(struct us_fault *f, us_time_t now);
/* The next due time without releasing anything. */
us_time_t us_fault_next_deadline(const struct us_fault *f);
/* Packets held now (all directions). */
uint32_t us_fault_held(const struct us_fault *f);
/* The time of the call in progress (process/poll), or the last one. A
 * deliver callback that feeds a stack passes this as `now`. */
us_time_t us_fault_now(const struct us_fault *f);

/* Counters of one direction. */
void us_fault_counters(const struct us_fault *f, enum us_fault_dir dir,
                       struct us_fault_counters *out);
/* Zero the counters of both directions. */
void us_fault_counters_reset(struct us_fault *f);
/* Names/descriptions for printing: index i in 0..us_fault_counter_count()-1
 * in the order of US_FAULT_COUNTERS; NULL past the end. */
size_t us_fault_counter_count(void);
const char *us_fault_counter_name(size_t i);
const char *us_fault_counter_desc(size_t i);
uint64_t us_fault_counter_value(const struct us_fault_counters *c, size_t i);
/*
 * One line per direction, non-zero counters only, e.g.
 *   "fault seed=42 tx: seen=100 delivered=95 dropped=5 lost=5\n
 *    fault seed=42 rx: seen=90 delivered=90\n"
 * Returns what snprintf returns (the length that was needed).
 */
int us_fault_format(const struct us_fault *f, char *buf, size_t len);

/* ---- Tracing: every decision, for tests and debug logs ------------------ */

enum us_fault_event_kind {
  US_FAULT_EV_DELIVER = 0, /* arg = delivered length */
  US_FAULT_EV_LOSS,        /* arg = 1 when in the Bad (burst) state */
  US_FAULT_EV_BLACKHOLE,
  US_FAULT_EV_RULE,     /* arg = rule index (0-based, spec order) */
  US_FAULT_EV_DUP,      /* arg = extra copies */
  US_FAULT_EV_REORDER,  /* packet held back */
  US_FAULT_EV_DELAY,    /* arg = due time */
  US_FAULT_EV_CORRUPT,  /* arg = bit index flipped (one event per bit;
                              byte = arg / 8, mask = 0x80 >> (arg % 8)) */
  US_FAULT_EV_TRUNCATE, /* arg = new length */
  US_FAULT_EV_RATE_DROP,
  US_FAULT_EV_QUEUE_FULL,
};

struct us_fault_event {
  enum us_fault_dir dir;
  enum us_fault_event_kind kind;
  uint64_t pkt_index; /* 0-based index of the packet among those offered in
                         this direction (copies share the original's) */
  us_time_t now;
  int64_t arg;
};

typedef void (*us_fault_trace_fn)(void *ctx, const struct us_fault_event *ev);
void us_fault_set_trace(struct us_fault *f, us_fault_trace_fn fn, void *ctx);

/* ---- The control socket ------------------------------------------------ */

/*
 * The control-socket commands, ready to plug into ustackd's control-socket
 * extension hook. Handles a line starting with "fault":
 *   fault show          spec, seed and counters (us_fault_format lines)
 *   fault set SPEC      replace the spec ("ok: ..." or "error: <reason>")
 *   fault clear         no impairment from now on
 *   fault reset         zero the counters
 * Writes the answer (newline-terminated, truncated to outlen) to `out` and
 * returns 1; returns 0 (writing nothing) when `cmd` is not a fault command.
 * With f == NULL every fault command answers "error: no fault injector
 * (start ustackd with --fault SPEC)".
 */
int us_fault_ctl_command(struct us_fault *f, const char *cmd, char *out, size_t outlen);

#endif
