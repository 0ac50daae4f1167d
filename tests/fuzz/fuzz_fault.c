/*
 * fuzz_fault.c - libFuzzer target for the fault injector (stack/fault):
 * its spec parser (text from --fault and the control socket's "fault
 * set") and its packet classification and decision path (every packet
 * that crosses a link under `ustackd --fault`, hostile bytes included).
 *
 * Input: 1 selector byte. Bit 0 set: the rest is a spec; us_fault_check,
 * us_fault_create and us_fault_set must agree on it, and an injector made
 * from it must take a few packets and report. Bit 0 clear: the rest is
 * records, each [u16 be: bit 15 = RX, bits 0..10 = length][u8 ms since
 * the last one][the packet], offered to an injector whose spec uses every
 * atom, rule kind and impairment. Once the clock has run past every due
 * time nothing may be held, and each direction's books must balance:
 * seen + duplicated == delivered + dropped (fault.h).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fault/fault.h"
#include "fuzz_common.h"

#define CHECK(c) \
  do {           \
    if (!(c))    \
      abort();   \
  } while (0)

#define SPEC_MAX 1200

static const char *const kSpec =
    "tx:match=ip6&tcp.syn,count=3,action=drop;rx:match=icmp&ip4,action=dup:2;"
    "match=udp&dport:53,action=corrupt:3;rx:match=tcp.ack,when=handshake,action=delay:2ms;"
    "match=data&port:80,skip=1,action=truncate:30;match=tcp.pureack&!ip4,action=pass;"
    "tx:blackhole=50ms-60ms;both:loss=5%,burst=2;both:reorder=10%,gap=2;both:dup=5%;"
    "both:corrupt=5%,bits=3;both:truncate=2%;tx:rate=1mbit,bucket=3000B,qlen=4;"
    "rx:delay=1ms,jitter=1ms";

static size_t delivered_bytes;
static void deliver(void *ctx, const uint8_t *pkt, size_t len) {
  (void)ctx;
  if (len > 0)
    delivered_bytes += pkt[0] + pkt[len - 1]; /* touch both ends */
}

static void check_books(const struct us_fault *f) {
  for (int d = 0; d < US_FAULT_NDIRS; d++) {
    struct us_fault_counters c;
    us_fault_counters(f, (enum us_fault_dir)d, &c);
    CHECK(c.seen + c.duplicated == c.delivered + c.dropped);
  }
}

static void one_spec(const uint8_t *data, size_t size) {
  char spec[SPEC_MAX + 1];
  size_t n = size < SPEC_MAX ? size : SPEC_MAX;
  memcpy(spec, data, n);
  spec[n] = '\0';
  char err[256];
  int ok = us_fault_check(spec, err, sizeof err) == 0;
  struct us_fault_limits lim = { 16, 256 };
  struct us_fault *f = us_fault_create_ex(spec, 7, &lim, err, sizeof err);
  CHECK((f != NULL) == ok);
  struct us_fault *g = us_fault_create_ex("", 7, &lim, err, sizeof err);
  CHECK(g);
  CHECK((us_fault_set(g, spec, err, sizeof err) == 0) == ok);
  us_fault_destroy(g);
  if (!f)
    return;
  uint8_t pkt[60] = { 0x45, 0, 0, 60, 0, 0, 0, 0, 64, 6 };
  pkt[32] = 5 << 4;
  pkt[33] = 0x12;
  for (int i = 0; i < 8; i++)
    us_fault_process(f, (enum us_fault_dir)(i & 1), pkt, sizeof pkt, i * 1000, deliver, NULL);
  us_fault_poll(f, (us_time_t)90000 * 1000000);
  char out[4096];
  CHECK(us_fault_ctl_command(f, "fault show", out, sizeof out) == 1);
  us_fault_destroy(f);
}

static void one_trace(const uint8_t *data, size_t size) {
  char err[256];
  struct us_fault_limits lim = { 64, 2048 };
  struct us_fault *f = us_fault_create_ex(kSpec, 7, &lim, err, sizeof err);
  CHECK(f);
  us_time_t now = 0;
  size_t i = 0;
  while (size - i >= 3) {
    uint16_t w = fz_get16(data + i);
    now += (us_time_t)data[i + 2] * 1000;
    i += 3;
    size_t len = w & 0x7ffu;
    if (len > size - i)
      len = size - i;
    enum us_fault_dir dir = (w & 0x8000u) ? US_FAULT_RX : US_FAULT_TX;
    us_fault_process(f, dir, data + i, len, now, deliver, NULL);
    i += len;
  }
  /* Every hold and delay here is bounded (reorder's hold defaults to
   * 100 ms, the shaper's queue to qlen packets), so a day later nothing
   * may be left. */
  CHECK(us_fault_poll(f, now + (us_time_t)86400 * 1000000) == US_TIME_NEVER);
  CHECK(us_fault_held(f) == 0);
  check_books(f);
  us_fault_destroy(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  if (data[0] & 1)
    one_spec(data + 1, size - 1);
  else
    one_trace(data + 1, size - 1);
  return 0;
}
