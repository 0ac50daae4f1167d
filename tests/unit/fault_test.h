/*
 * fault_test.h - what the fault injector's unit tests (test_fault_*.c)
 * share: real IPv4 packets (checksums are not needed: the injector does not
 * check them) whose payload starts with a 32-bit packet id, a sink that
 * records which packet came out when, and a clock driver.
 */
#ifndef USTACK_TEST_FAULT_TEST_H
#define USTACK_TEST_FAULT_TEST_H

#include <stdio.h>
#include <string.h>

#include "fault/fault.h"
#include "harness.h"

/* ---- Packets ------------------------------------------------------------ */

#define IP_A   0x0a000001u
#define IP_B   0x0a000002u
#define MAXPKT 1600

/* IPv4 + TCP (20-byte header) + `payload` bytes, the first four of which
 * (when there are four) are `id`. Returns the length. */
static inline size_t mk_tcp(uint8_t *b, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
                            uint8_t flags, size_t payload, uint32_t id) {
  size_t len = 40 + payload;
  memset(b, 0, len);
  b[0] = 0x45;
  h_wr16(b + 2, (uint16_t)len);
  b[8] = 64;
  b[9] = 6;
  h_wr32(b + 12, src);
  h_wr32(b + 16, dst);
  h_wr16(b + 20, sport);
  h_wr16(b + 22, dport);
  h_wr32(b + 24, id); /* seq: also carries the id for header-only segments */
  b[32] = 5 << 4;
  b[33] = flags;
  for (size_t i = 0; i < payload; i++)
    b[40 + i] = (uint8_t)(id * 7 + i);
  if (payload >= 4)
    h_wr32(b + 40, id);
  return len;
}

static inline size_t mk_udp(uint8_t *b, uint16_t sport, uint16_t dport, size_t payload,
                            uint32_t id) {
  size_t len = 28 + payload;
  memset(b, 0, len);
  b[0] = 0x45;
  h_wr16(b + 2, (uint16_t)len);
  b[8] = 64;
  b[9] = 17;
  h_wr32(b + 12, IP_A);
  h_wr32(b + 16, IP_B);
  h_wr16(b + 20, sport);
  h_wr16(b + 22, dport);
  h_wr16(b + 24, (uint16_t)(8 + payload));
  if (payload >= 4)
    h_wr32(b + 28, id);
  return len;
}

/* The id: the TCP seq field or the first 4 UDP payload bytes. */
static inline uint32_t pkt_id(const uint8_t *b, size_t len) {
  if (len >= 40 && b[9] == 6)
    return (uint32_t)b[24] << 24 | (uint32_t)b[25] << 16 | (uint32_t)b[26] << 8 | b[27];
  if (len >= 32 && b[9] == 17)
    return (uint32_t)b[28] << 24 | (uint32_t)b[29] << 16 | (uint32_t)b[30] << 8 | b[31];
  return UINT32_MAX;
}

/* ---- A sink that records what came out ---------------------------------- */

#define SINK_MAX 60000

struct sink {
  struct us_fault *f;
  size_t n;
  uint32_t id[SINK_MAX];
  us_time_t t[SINK_MAX];
  uint32_t len[SINK_MAX];
  uint8_t last[MAXPKT];
  size_t last_len;
  uint64_t bytes;
};

static inline void sink_deliver(void *ctx, const uint8_t *pkt, size_t len) {
  struct sink *s = ctx;
  assert_true(s->n < SINK_MAX);
  s->id[s->n] = pkt_id(pkt, len);
  s->t[s->n] = us_fault_now(s->f);
  s->len[s->n] = (uint32_t)len;
  s->n++;
  s->bytes += len;
  s->last_len = len < MAXPKT ? len : MAXPKT;
  memcpy(s->last, pkt, s->last_len);
}

static inline struct sink *sink_new(struct us_fault *f) {
  struct sink *s = calloc(1, sizeof *s);
  assert_non_null(s);
  s->f = f;
  return s;
}

static inline struct us_fault *mk(const char *spec, uint64_t seed) {
  char err[256] = "";
  struct us_fault *f = us_fault_create(spec, seed, err, sizeof err);
  if (!f)
    fail_msg("spec '%s' rejected: %s", spec, err);
  return f;
}

/* Run the clock forward to `until`, releasing everything due on the way. */
static inline void drain(struct us_fault *f, us_time_t now, us_time_t until) {
  for (int guard = 0; guard < 1000000; guard++) {
    us_time_t next = us_fault_poll(f, now);
    if (next == US_TIME_NEVER || next > until)
      return;
    now = next > now ? next : now;
  }
  fail_msg("drain did not finish");
}

#endif
