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
 * of the OS (except us_fault_seed_from_os(), which the daemon calls once to
 * pick a seed). Time is always passed in (`now`, the us_time_t of
 * us_types.h), randomness comes from a PRNG seeded at creation, so the same
 * spec + the same seed + the same traffic at the same times gives the same
 * decisions, bit for bit: a failing run is replayed from its seed.
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
 * ------------------------------------------------------------------------
 * SPEC GRAMMAR (also in scripts/fault/README.md)
 *
 *   spec    := clause { ';' clause }          (empty spec = no impairment)
 *   clause  := [ dir ':' ] item { ',' item }
 *   dir     := 'tx' | 'rx' | 'both'           (default: both)
 *   item    := key '=' value                  (spaces around tokens ignored)
 *
 * A clause that contains `match=` is a RULE; any other clause sets LINK
 * IMPAIRMENTS of its direction(s). A key may appear only once per clause.
 * Impairments come in groups (loss+burst, truncate+keep, corrupt+bits,
 * dup+copies, reorder+gap+hold, rate+bucket+qlen, delay+jitter): a
 * modifier must sit in the same clause as its main key, and a later clause
 * that names a main key replaces that whole group for its direction(s).
 * Clauses for different groups add up.
 *
 * Values:  PCT  = number followed by '%' (0%..100%, e.g. 5%, 0.5%)
 *          TIME = number with a unit: us, ms, s (e.g. 20ms, 1.5s, 250us)
 *          N    = unsigned integer
 *          SIZE = number with a unit: B, kB (1000), KiB (1024), MB, MiB
 *          RATE = number with a unit per second: bit, kbit, mbit, gbit
 *                 (bits/s) or Bps, kBps, MBps (bytes/s)
 *          WIN  = TIME '-' [TIME]  (from..to, relative to the origin; an
 *                 empty end means "until cleared")
 *
 * Link impairment keys (applied in this order to each packet):
 *   loss=PCT        drop with probability PCT
 *   burst=N         ... correlated: mean loss-burst length N packets
 *                   (Gilbert-Elliott two-state chain: in the Bad state
 *                   every packet is lost, Bad->Good with probability 1/N,
 *                   Good->Bad chosen so the long-run loss rate is PCT;
 *                   needs loss, and loss <= N/(N+1))
 *   truncate=PCT    cut the packet short
 *   keep=N          ... to N bytes (default: a random length 1..len-1)
 *   corrupt=PCT     flip bits
 *   bits=N          ... N distinct random bits of the packet (default 1,
 *                   1..64). With bits=1 every flip is caught by the IP or
 *                   TCP/UDP checksum; with more, the Internet checksum can
 *                   miss some (two opposite flips in the same bit column),
 *                   as on a real link.
 *   dup=PCT         deliver extra copies
 *   copies=N        ... N extra copies (default 1, max 8)
 *   reorder=PCT     hold the packet back so later packets overtake it
 *   gap=N           ... until N later packets of that direction have been
 *                   delivered (default 1 = swap with the next one)
 *   hold=TIME       ... or until TIME has passed, whichever comes first.
 *                   gap alone: hold defaults to 100ms (a safety valve so
 *                   an idle link does not keep a packet forever); hold
 *                   alone: time only, no gap.
 *   rate=RATE       token-bucket shaper (GCRA), FIFO
 *   bucket=SIZE     ... bucket depth (default 3000B)
 *   qlen=N          ... packets waiting in the shaper; beyond: drop
 *                   (counted rate_dropped) (default 100)
 *   delay=TIME      fixed one-way delay (after the shaper)
 *   jitter=TIME     ... plus uniform [-jitter, +jitter]; needs delay and
 *                   jitter <= delay. Order is kept (netem without
 *                   reordering): a packet never leaves before the one
 *                   ahead of it.
 *   blackhole=WIN   drop everything in the window (counted blackholed)
 *
 * Rule keys (one rule per clause; rules are tried in spec order and the
 * first that applies acts on the packet):
 *   match=EXPR      EXPR := atom { '&' atom }, atom := ['!'] name
 *                   names: ip (any packet), tcp, udp, icmp,
 *                   tcp.syn (SYN without ACK), tcp.synack, tcp.ack (ACK
 *                   flag set), tcp.pureack (ACK, no SYN/FIN/RST, no data),
 *                   tcp.fin, tcp.rst, tcp.psh, tcp.urg,
 *                   data (TCP or UDP payload not empty),
 *                   sport:N, dport:N, port:N (either port)
 *                   Non-first IP fragments and unparseable packets match
 *                   only `ip` and negated atoms.
 *   action=ACT      drop | pass | dup[:N] | delay:TIME | corrupt[:BITS]
 *                   | truncate:N  (pass = exempt from link impairments)
 *   count=N         act on at most N packets (default: unlimited)
 *   skip=N          let the first N matching packets through untouched
 *   when=WIN        only inside the window, or
 *   when=handshake  only while the packet's TCP connection is in its
 *                   handshake: from its SYN until a segment without SYN
 *                   has been delivered in each direction (or a RST has).
 *   A rule that acts with anything but `pass` exempts the packet from the
 *   random link impairments (loss, truncate, corrupt, dup, reorder); the
 *   shaper and delay still apply. A packet delayed by a rule does not hold
 *   back those behind it.
 *
 * Time origin: windows (`blackhole`, `when=T1-T2`) count from the first
 * `now` the injector sees after us_fault_create() or us_fault_set().
 *
 * Examples:
 *   rx:loss=5%,burst=3;tx:delay=20ms,jitter=5ms
 *   tx:match=tcp.synack,count=2,action=drop
 *   rx:match=tcp.ack,when=handshake,action=drop
 *   both:match=tcp.fin,action=delay:3s
 *   tx:blackhole=5s-25s
 *   both:reorder=2%,gap=3;both:dup=1%;both:corrupt=1%,bits=1
 *   rx:rate=10mbit,bucket=15kB,qlen=50
 * ------------------------------------------------------------------------
 */
#ifndef USTACK_PLATFORM_FAULT_H
#define USTACK_PLATFORM_FAULT_H

#include <stddef.h>
#include <stdint.h>

#include "rxsink.h"
#include "ustack/us_device.h"
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
/* A fresh seed from getrandom() (falls back to the time): for the daemon
 * when the user gave no --fault-seed. Not used by unit tests. */
uint64_t us_fault_seed_from_os(void);

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

/* ---- Wrappers for the daemon: TX device, RX sink, loop tick ------------- */

/*
 * Returns a us_device whose tx passes each packet through the TX direction
 * and then to `inner` (copied). The time of a tx call is `clock(clock_ctx)`
 * when a clock is given, else the last `now` the injector saw (the loop
 * calls us_fault_tick before us_stack_poll and the RX sink with each
 * wake-up's time, so that is current). One wrapped device per injector.
 */
struct us_device us_fault_wrap_tx(struct us_fault *f, const struct us_device *inner,
                                  us_time_t (*clock)(void *ctx), void *clock_ctx);
/* Set or change the TX wrapper's clock later (the loop, whose time the
 * clock reads, is created after the stack that owns the wrapped device). */
void us_fault_set_clock(struct us_fault *f, us_time_t (*clock)(void *ctx), void *clock_ctx);
/* A clock for us_fault_wrap_tx that reads *(const us_time_t *)ctx, e.g.
 * with ctx = (void *)us_loop_now_ref(loop). */
us_time_t us_fault_clock_ref(void *ctx);

/*
 * Returns an rx sink (rxsink.h) that passes each packet through the RX
 * direction and then to `inner` (copied), with now = the release time
 * (us_fault_now). One wrapped sink per injector.
 */
struct us_rx_sink us_fault_wrap_rx(struct us_fault *f, const struct us_rx_sink *inner);

/* us_fault_poll with the loop's tick signature (loop.h us_loop_tick_fn):
 * us_loop_add_tick(loop, us_fault_tick, f). */
us_time_t us_fault_tick(void *f, us_time_t now);

/*
 * The control-socket commands, ready to plug into ustackd's ctl extension
 * hook (ctl_server.h). Handles a line starting with "fault":
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

/*
 * WIRING IN ustackd (what `--fault SPEC` and `--fault-seed N` do):
 *
 *   option parsing: us_fault_check(spec, err, n) -> one line, exit 2
 *   uint64_t seed = seed_given ? N : us_fault_seed_from_os();
 *   d.fault = us_fault_create(spec, seed, err, sizeof err);   // NULL: fail
 *   fprintf(stderr, "ustackd: fault injector: '%s' seed=%llu\n", spec, seed);
 *   // Output: stack -> [pcap tee] -> injector TX -> TUN, so the capture
 *   // shows what the stack sent and tshark on the TUN what crossed the link.
 *   struct us_device dev = us_tun_device(&d.tun);
 *   if (d.fault) dev = us_fault_wrap_tx(d.fault, &dev, NULL, NULL);
 *   ... pcap tee wraps dev, us_stack_create(&cfg, &dev) ...
 *   // Input: TUN -> injector RX -> [pcap tee] -> stack.
 *   ... rx = stack input, pcap tee wraps rx ...
 *   if (d.fault) rx = us_fault_wrap_rx(d.fault, &rx);
 *   // After us_loop_create:
 *   us_fault_set_clock(d.fault, us_fault_clock_ref, (void *)us_loop_now_ref(d.loop));
 *   us_loop_add_tick(d.loop, us_fault_tick, d.fault); // releases held packets
 *   // Exit and SIGUSR1: char b[2048]; us_fault_format(d.fault, b, sizeof b);
 *   //   fputs(b, stderr);   (lines "fault seed=N tx: seen=... dropped=...")
 *   // Control socket (ctl_ext_fn passed to ctl_serve):
 *   //   char b[4096];
 *   //   if (!us_fault_ctl_command(d->fault, cmd, b, sizeof b)) return 0;
 *   //   fputs(b, out); return 1;
 *   us_fault_destroy(d.fault) after the loop and the stack are gone.
 */

#endif
