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
#include <stdlib.h>

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

/* ---- seeds and randomness ------------------------------------------------- */

/*
 * One generator for everything a test randomises (splitmix64). Every seed
 * a test names goes through h_seed(), which XORs in $US_TEST_SEED (hex or
 * decimal; unset = 0, so each test runs with the seeds it names): one
 * variable reseeds a whole run, and H_RUN prints it when a test fails.
 */
uint64_t h_seed(uint64_t seed);
uint64_t h_seed_env(void); /* $US_TEST_SEED, or 0 */
/* The next 64 random bits of the stream in *state. */
uint64_t h_rand_next(uint64_t *state);
/* A number in [0, n) (0 when n is 0). */
uint32_t h_rand_below(uint64_t *state, uint32_t n);

/* A stack's random source, seeded with h_seed(seed): same seed, same bytes. */
struct h_rand {
  uint64_t seed; /* after h_seed(): what a failure report prints */
  uint64_t state;
};
struct us_rand_source h_rand_source(struct h_rand *r, uint64_t seed);

/* A seeded content oracle: byte i of stream `seed` (not reseeded by
 * $US_TEST_SEED: both ends of a transfer compute it). */
uint8_t h_oracle_byte(uint64_t seed, uint64_t i);
void h_oracle_fill(uint64_t seed, uint64_t offset, uint8_t *buf, size_t len);
/* Offset of the first byte that differs from the oracle, or -1. */
long long h_oracle_check(uint64_t seed, uint64_t offset, const uint8_t *buf, size_t len);

/* ---- the log switch --------------------------------------------------------- */

/* $US_TEST_LOG shows the stacks' logs on stderr: error (the default),
 * warn, info, debug, trace (any other value: info). h_log_config sets
 * cfg->log and cfg->log_level, each line prefixed with `name`. */
enum us_log_level h_log_level(void);
struct us_log_sink h_log_sink(const char *name);
void h_log_config(struct us_config *cfg, const char *name);

/* ---- running a test program -------------------------------------------------- */

/* Run a cmocka group (main's return value). $US_TEST_FILTER, a glob on
 * test names, selects tests: US_TEST_FILTER='test_synack*' ./test_x. On a
 * failure it prints the seed override and the log switch to rerun with. */
#define H_RUN(name, tests)                                              \
  h_run_report(name, (cmocka_set_test_filter(getenv("US_TEST_FILTER")), \
                      cmocka_run_group_tests_name(name, tests, NULL, NULL)))
int h_run_report(const char *name, int failed);

/* ---- bytes and checksums ------------------------------------------------------ */

/* Big-endian fields. */
uint16_t h_rd16(const uint8_t *p);
uint32_t h_rd32(const uint8_t *p);
void h_wr16(uint8_t *p, uint16_t v);
void h_wr32(uint8_t *p, uint32_t v);
/* The Internet checksum (RFC 1071), the harness's own code so that a bug
 * in stack/wire cannot hide one elsewhere. h_csum_add sums 16-bit words
 * into an accumulator (add even-length pieces, an odd one last);
 * h_csum_fold folds and complements it into the value for the field (0
 * when checking a header whose checksum is right). */
uint32_t h_csum_add(uint32_t sum, const void *p, size_t n);
uint16_t h_csum_fold(uint32_t sum);
uint16_t h_csum(const void *p, size_t n);
/* The IPv4 pseudo-header's sum (RFC 9293 3.1, RFC 768) for `len` bytes of
 * transport header and data. */
uint32_t h_pseudo4(uint32_t src, uint32_t dst, uint8_t proto, uint32_t len);

/* ---- a stack under test ------------------------------------------------- */

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

#endif
