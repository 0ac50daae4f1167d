/*
 * harness.h - what every unit test needs: a stack on a virtual clock whose
 * output is captured, seeded randomness, pool checks, and a link that joins
 * two stacks back to back.
 *
 * Nothing here sleeps or reads a clock: `now` is a number the test moves.
 */
#ifndef USTACK_TEST_HARNESS_H
#define USTACK_TEST_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ustack/ustack.h"

/* ---- captured output ---------------------------------------------------- */

struct h_pkt {
  uint8_t *data;
  size_t len;
  us_time_t at; /* the capture's clock when it was emitted */
};

struct h_capture {
  struct h_pkt *pkts;
  size_t count, cap;
  size_t next;   /* first packet not yet taken by h_capture_take */
  us_time_t now; /* set by the test; stamped on captured packets */
};

/* A us_device that appends every packet to `c` (copying it). */
struct us_device h_capture_device(struct h_capture *c);
/* The next uncollected packet, or NULL. Valid until h_capture_reset. */
const struct h_pkt *h_capture_take(struct h_capture *c);
/* Packets not yet taken. */
size_t h_capture_pending(const struct h_capture *c);
void h_capture_reset(struct h_capture *c);

/* ---- a stack under test ------------------------------------------------- */

/* A seeded random source (splitmix64): same seed, same bytes. */
struct h_rand {
  uint64_t state;
};
struct us_rand_source h_rand_source(struct h_rand *r, uint64_t seed);

/* Log sink: prints to stderr when US_TEST_LOG is set in the environment
 * (US_TEST_LOG=debug for more). */
struct us_log_sink h_log_sink(const char *name);
enum us_log_level h_log_level(void);

struct h_stack {
  us_stack *s;
  struct h_capture cap;
  struct h_rand rand;
  struct us_config cfg;
};

/* Defaults: us_config_default() with the test log sink and a seeded rand;
 * `tweak` (may be NULL) edits the config before creation. Asserts success. */
void h_stack_init(struct h_stack *h, uint64_t seed, void (*tweak)(struct us_config *));
void h_stack_fini(struct h_stack *h);
/* Move the clock, feed a packet. */
void h_input(struct h_stack *h, const uint8_t *pkt, size_t len, us_time_t now);
us_time_t h_poll(struct h_stack *h, us_time_t now);

/* Counter snapshots: take one before an input, then ask how much a
 * counter moved ("was it dropped for the right reason?"). */
struct h_snap {
  uint64_t v[US_STAT_COUNT];
};
void h_snap_take(us_stack *s, struct h_snap *sn);
uint64_t h_snap_delta(us_stack *s, const struct h_snap *sn, enum us_stat id);

/* End of a test: run the clock past every timer (reassembly timeout
 * included, then 300 s more), drop the captured packets, and assert that
 * every pool is full. */
void h_finish(struct h_stack *h, us_time_t now);

/* Assert every pool of `s` is full (no buffer, TCB, socket or context
 * held), printing what is not. */
void h_assert_pools_full(us_stack *s);

/* ---- packet building ------------------------------------------------------ */

/* Write an IPv4 header (20 bytes, valid checksum) + payload into out.
 * Returns the total length. `out` must hold 20 + len bytes. */
size_t h_ip4_wrap(uint8_t *out, uint32_t src, uint32_t dst, uint8_t proto, const void *payload,
                  size_t len);

/* ---- two stacks back to back ---------------------------------------------- */

/*
 * A link between stack A and stack B on one virtual clock. Each packet
 * emitted by one side is delivered to the other after `delay`. An optional
 * filter sees every packet (dir 0 = A->B, 1 = B->A) and may drop it
 * (return false) or hand it on. h_link_run advances time, delivering
 * packets and firing timers, until `until` or until `done` returns true.
 */
struct h_link_pkt {
  uint8_t *data;
  size_t len;
  us_time_t due;
  int dir;
};

struct h_link {
  us_stack *a, *b;
  struct h_rand rand_a, rand_b;
  us_time_t now;
  us_time_t delay;
  struct h_link_pkt *q;
  size_t qlen, qcap;
  bool (*filter)(void *ctx, int dir, uint8_t *pkt, size_t *len, us_time_t now);
  void *filter_ctx;
  uint64_t delivered[2];
  uint64_t dropped[2];
};

/* Both stacks from `cfg_a`/`cfg_b` (NULL = defaults with 10.0.0.1 and
 * 10.0.0.2). Asserts success. */
void h_link_init(struct h_link *l, const struct us_config *cfg_a, const struct us_config *cfg_b,
                 uint64_t seed, us_time_t delay);
void h_link_fini(struct h_link *l);
/* Queue a raw packet into the link as if `from_dir` emitted it. */
void h_link_inject(struct h_link *l, int dir, const uint8_t *pkt, size_t len);
/* Run until `until`, or until done(ctx) is true (checked after every step).
 * Returns true if `done` was satisfied. */
bool h_link_run(struct h_link *l, us_time_t until, bool (*done)(void *ctx), void *ctx);

/* ---- bytes --------------------------------------------------------------- */

/* A seeded content oracle: byte i of stream `seed`. */
uint8_t h_oracle_byte(uint64_t seed, uint64_t i);
void h_oracle_fill(uint64_t seed, uint64_t offset, uint8_t *buf, size_t len);
/* Offset of the first byte that differs from the oracle, or -1. */
long long h_oracle_check(uint64_t seed, uint64_t offset, const uint8_t *buf, size_t len);

#endif
