/*
 * test_reass.c - fragment reassembly (RFC 791 3.2, RFC 815) and its
 * attacks (docs/HOSTILE.md FR-1..FR-4): in order, out of order, overlapping
 * (teardrop), oversized (ping of death), zero-length, contradictory last
 * fragments, MF after the last, a flood of incomplete datagrams held to
 * the configured bounds (the oldest evicted, per source and overall, so
 * real datagrams still complete), and timeouts on the virtual clock.
 *
 * Fragments carry UDP to a bound socket, so a completed datagram is
 * observable byte for byte through us_udp_recvfrom.
 */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "core/testing.h"

#define PORT 4000

struct fx {
  struct h_stack h;
  us_sock_t sock;
};

static void tweak(struct us_config *c) {
  c->reass_contexts = 4;
  c->reass_bytes_max = 3 * 4096;
  c->reass_timeout = US_SEC(30);
}

static int setup(void **st) {
  struct fx *f = calloc(1, sizeof *f);
  h_stack_init(&f->h, 3, tweak);
  assert_int_equal(us_udp_open(f->h.s, &f->sock), 0);
  assert_int_equal(us_udp_bind(f->h.s, f->sock, PORT), 0);
  *st = f;
  return 0;
}

static int teardown(void **st) {
  struct fx *f = *st;
  assert_int_equal(us_udp_close(f->h.s, f->sock), 0);
  /* Whatever a test left half-assembled times out. */
  h_poll(&f->h, US_SEC(100000));
  h_assert_pools_full(f->h.s);
  h_stack_fini(&f->h);
  free(f);
  return 0;
}

/* A UDP datagram of `n` payload bytes (pattern from `seed`) to PORT. */
static uint8_t *make_udp(size_t n, uint8_t seed, size_t *len) {
  uint8_t *pay = malloc(n + 1);
  for (size_t i = 0; i < n; i++)
    pay[i] = (uint8_t)(seed + i * 31);
  uint8_t *u = malloc(8 + n);
  *len = h_udp_build(u, H_IP4(H_PEER, H_US, 17), 999, PORT, pay, n);
  free(pay);
  return u;
}

/* One fragment: bytes [off, off+n) of `l4`. */
static void frag(struct fx *f, uint16_t id, const uint8_t *l4, size_t off, size_t n, bool mf,
                 us_time_t now) {
  uint8_t *b = malloc(20 + n + 1);
  struct h_ip ih = {
    .src = H_PEER, .dst = H_US, .proto = 17, .id = id, .frag_off = (uint16_t)off, .mf = mf
  };
  size_t tot = h_ip_build(b, &ih, l4 + off, n);
  h_input(&f->h, b, tot, now);
  free(b);
}

static void expect_datagram(struct fx *f, const uint8_t *l4, size_t len) {
  size_t cap = 65536;
  uint8_t *buf = malloc(cap);
  us_endpoint_t src;
  long n = us_udp_recvfrom(f->h.s, f->sock, buf, cap, &src);
  assert_int_equal(n, (long)(len - 8));
  assert_memory_equal(buf, l4 + 8, len - 8);
  assert_int_equal(us_addr_ip4(src.addr), H_PEER);
  assert_int_equal(src.port, 999);
  free(buf);
}

static void expect_nothing(struct fx *f) {
  uint8_t b[8];
  assert_int_equal(us_udp_recvfrom(f->h.s, f->sock, b, sizeof b, NULL), US_ERR_AGAIN);
}

static void test_in_order(void **st) {
  struct fx *f = *st;
  size_t len;
  uint8_t *u = make_udp(3000, 1, &len);
  for (size_t off = 0; off < len; off += 1480)
    frag(f, 1, u, off, len - off < 1480 ? len - off : 1480, off + 1480 < len, US_SEC(1));
  expect_datagram(f, u, len);
  assert_int_equal(h_stat(&f->h, US_STAT_ip_reasm_oks), 1);
  assert_int_equal(h_stat(&f->h, US_STAT_ip_reasm_reqds), 3);
  assert_int_equal(h_pool_usage(f->h.s).reass_active, 0);
  free(u);
}

static void test_out_of_order(void **st) {
  struct fx *f = *st;
  size_t len;
  uint8_t *u = make_udp(5000, 2, &len); /* 5008 bytes: 7 fragments of 800 + 208 */
  size_t order[] = { 6, 2, 0, 5, 3, 1, 4 };
  for (size_t i = 0; i < 7; i++) {
    size_t off = order[i] * 800;
    size_t n = len - off < 800 ? len - off : 800;
    assert_int_equal(us_udp_recvfrom(f->h.s, f->sock, NULL, 0, NULL), US_ERR_AGAIN);
    frag(f, 2, u, off, n, off + n < len, US_SEC(1));
  }
  expect_datagram(f, u, len);
  /* Last fragment first, then the rest in reverse. */
  for (size_t i = 7; i-- > 0;) {
    size_t off = i * 800;
    size_t n = len - off < 800 ? len - off : 800;
    frag(f, 3, u, off, n, off + n < len, US_SEC(2));
  }
  expect_datagram(f, u, len);
  free(u);
}

/* Two datagrams with the same ID from different sources, and one with
 * the same ID and source but a different protocol, are kept apart. */
static void test_keys_distinct(void **st) {
  struct fx *f = *st;
  size_t len;
  uint8_t *u = make_udp(100, 3, &len);
  frag(f, 9, u, 0, 64, true, US_SEC(1));
  /* Same id, other protocol (0x22): its own context. */
  uint8_t b[128];
  struct h_ip ih = { .src = H_PEER, .dst = H_US, .proto = 0x22, .id = 9, .frag_off = 64 };
  size_t n = h_ip_build(b, &ih, u + 64, len - 64);
  h_input(&f->h, b, n, US_SEC(1));
  expect_nothing(f);
  assert_int_equal(h_pool_usage(f->h.s).reass_active, 2);
  frag(f, 9, u, 64, len - 64, false, US_SEC(1));
  expect_datagram(f, u, len);
  free(u);
}

/* Teardrop (RFC 1858): the second fragment starts inside the first. The
 * whole datagram is dropped; the completing fragment finds nothing. */
static void test_overlap(void **st) {
  struct fx *f = *st;
  size_t len;
  uint8_t *u = make_udp(200, 4, &len);
  frag(f, 5, u, 0, 64, true, US_SEC(1));
  frag(f, 5, u, 56, 64, true, US_SEC(1)); /* overlaps [56, 64) */
  assert_int_equal(h_stat(&f->h, US_STAT_ip_reasm_overlap), 1);
  assert_int_equal(h_pool_usage(f->h.s).reass_active, 0);
  frag(f, 5, u, 64, len - 64, false, US_SEC(1));
  expect_nothing(f);
  /* Exact duplicate: also an overlap (policy: drop the datagram). */
  frag(f, 6, u, 0, 64, true, US_SEC(1));
  frag(f, 6, u, 0, 64, true, US_SEC(1));
  assert_int_equal(h_stat(&f->h, US_STAT_ip_reasm_overlap), 2);
  /* Contained in an earlier one. */
  frag(f, 7, u, 0, 128, true, US_SEC(1));
  frag(f, 7, u, 64, 8, true, US_SEC(1));
  assert_int_equal(h_stat(&f->h, US_STAT_ip_reasm_overlap), 3);
  /* Straddling the end of a later one, arriving first. */
  frag(f, 8, u, 64, len - 64, false, US_SEC(1));
  frag(f, 8, u, 0, 72, true, US_SEC(1));
  assert_int_equal(h_stat(&f->h, US_STAT_ip_reasm_overlap), 4);
  /* Only the fresh context the late fragment of id 5 opened is left. */
  assert_int_equal(h_pool_usage(f->h.s).reass_active, 1);
  free(u);
}

/* Ping of death: offset 0x1fff*8 + 16 bytes > 65535 (FR-2). */
static void test_oversize(void **st) {
  struct fx *f = *st;
  uint8_t data[64] = { 0 };
  uint8_t b[128];
  struct h_ip ih = { .src = H_PEER, .dst = H_US, .proto = 17, .id = 11, .frag_off = 0x1fff * 8 };
  size_t n = h_ip_build(b, &ih, data, 16);
  h_input(&f->h, b, n, US_SEC(1));
  assert_int_equal(h_stat(&f->h, US_STAT_ip_reasm_oversize), 1);
  assert_int_equal(h_pool_usage(f->h.s).reass_active, 0);
  /* A context in progress is dropped when an oversize piece arrives. */
  size_t len;
  uint8_t *u = make_udp(100, 5, &len);
  frag(f, 12, u, 0, 64, true, US_SEC(1));
  ih.id = 12;
  ih.frag_off = 65528;
  ih.mf = false;
  n = h_ip_build(b, &ih, data, 8);
  h_input(&f->h, b, n, US_SEC(1));
  assert_int_equal(h_stat(&f->h, US_STAT_ip_reasm_oversize), 2);
  assert_int_equal(h_pool_usage(f->h.s).reass_active, 0);
  /* Exactly 65535: 20 + 65515 is legal (the largest UDP datagram). */
  free(u);
  u = make_udp(65507, 6, &len);
  assert_int_equal(len, 65515);
  /* Bytes cap is 12 KiB in this fixture: raise nothing, just check the
   * cap refuses it without harm. */
  for (size_t off = 0; off < len; off += 1480)
    frag(f, 13, u, off, len - off < 1480 ? len - off : 1480, off + 1480 < len, US_SEC(1));
  assert_true(h_stat(&f->h, US_STAT_ip_reasm_no_bytes) > 0);
  expect_nothing(f);
  free(u);
}

static void test_zero_length_and_misaligned(void **st) {
  struct fx *f = *st;
  size_t len;
  uint8_t *u = make_udp(100, 7, &len);
  frag(f, 20, u, 0, 0, true, US_SEC(1));   /* zero length, MF */
  frag(f, 20, u, 64, 0, false, US_SEC(1)); /* zero length, last */
  assert_int_equal(h_stat(&f->h, US_STAT_ip_reasm_bad_frag), 2);
  frag(f, 21, u, 0, 60, true, US_SEC(1)); /* MF with a length not a multiple of 8 */
  assert_int_equal(h_stat(&f->h, US_STAT_ip_reasm_bad_frag), 3);
  assert_int_equal(h_pool_usage(f->h.s).reass_active, 0);
  /* The datagram still completes with good fragments. */
  frag(f, 20, u, 0, 64, true, US_SEC(1));
  frag(f, 20, u, 64, len - 64, false, US_SEC(1));
  expect_datagram(f, u, len);
  free(u);
}

/* Two last fragments with different ends; MF set beyond the last (FR-3). */
static void test_contradictory_last(void **st) {
  struct fx *f = *st;
  size_t len;
  uint8_t *u = make_udp(200, 8, &len);              /* 208 bytes */
  frag(f, 30, u, 64, 64, false, US_SEC(1));         /* claims the end is 128 */
  frag(f, 30, u, 128, len - 128, false, US_SEC(1)); /* claims 208 */
  assert_int_equal(h_stat(&f->h, US_STAT_ip_reasm_bad_frag), 1);
  assert_int_equal(h_pool_usage(f->h.s).reass_active, 0);
  frag(f, 30, u, 0, 64, true, US_SEC(1));
  expect_nothing(f);
  /* MF set on a fragment that reaches past the known end. */
  frag(f, 31, u, 128, len - 128, false, US_SEC(1));
  frag(f, 31, u, 200, 8, true, US_SEC(1));
  assert_int_equal(h_stat(&f->h, US_STAT_ip_reasm_bad_frag), 2);
  /* A last fragment that ends before data already held. */
  frag(f, 32, u, 128, 64, true, US_SEC(1));
  frag(f, 32, u, 64, 8, false, US_SEC(1));
  assert_int_equal(h_stat(&f->h, US_STAT_ip_reasm_bad_frag), 3);
  /* Only the fresh context the late first fragment of id 30 opened. */
  assert_int_equal(h_pool_usage(f->h.s).reass_active, 1);
  /* A second last fragment with a smaller end, not overlapping anything. */
  frag(f, 33, u, 128, len - 128, false, US_SEC(1));
  frag(f, 33, u, 64, 8, false, US_SEC(1));
  assert_int_equal(h_stat(&f->h, US_STAT_ip_reasm_bad_frag), 4);
  assert_int_equal(h_pool_usage(f->h.s).reass_active, 1);
  frag(f, 33, u, 0, 64, true, US_SEC(1));
  frag(f, 33, u, 64, 64, true, US_SEC(1));
  expect_nothing(f);
  free(u);
}

/* FR-4: thousands of incomplete datagrams with distinct IDs. Contexts and
 * bytes stay within the configuration, the rest is counted, everything
 * times out on the virtual clock, and reassembly works again after. */
static void test_flood_bounded_and_timeout(void **st) {
  struct fx *f = *st;
  uint8_t data[1024];
  memset(data, 0xcc, sizeof data);
  uint64_t x = h_seed(42);
  for (int i = 0; i < 5000; i++) {
    size_t off = (size_t)h_rand_below(&x, 8000) * 8;
    frag(f, (uint16_t)(1000 + i), data, 8, 0, true, US_SEC(1)); /* zero-length noise */
    uint8_t b[1100];
    struct h_ip ih = { .src = H_PEER,
                       .dst = H_US,
                       .proto = 17,
                       .id = (uint16_t)(1000 + i),
                       .frag_off = (uint16_t)off,
                       .mf = true };
    size_t n = h_ip_build(b, &ih, data, 1024);
    h_input(&f->h, b, n, US_SEC(1) + i);
    struct us_pool_usage pu;
    us_stack_pool_usage(f->h.s, &pu);
    assert_true(pu.reass_active <= 4);
  }
  assert_int_equal(h_pool_usage(f->h.s).reass_active, 4);
  /* Each new datagram past the cap pushed the oldest one out. */
  assert_true(h_stat(&f->h, US_STAT_ip_reasm_evicted) +
                  h_stat(&f->h, US_STAT_ip_reasm_evicted_source) >
              4000);
  assert_int_equal(h_stat(&f->h, US_STAT_ip_reasm_no_context), 0);
  /* Not yet: the four left are the flood's last four (the others were
   * pushed out), the oldest of them from t = 1 s + 4996 us. */
  us_time_t next = h_poll(&f->h, US_SEC(30));
  assert_int_equal(next, US_SEC(31) + 4996);
  assert_int_equal(h_pool_usage(f->h.s).reass_active, 4);
  next = h_poll(&f->h, US_SEC(31) + 5000);
  assert_int_equal(next, US_TIME_NEVER);
  assert_int_equal(h_pool_usage(f->h.s).reass_active, 0);
  assert_int_equal(h_stat(&f->h, US_STAT_ip_reasm_timeout), 4);
  struct us_pool_usage pu;
  us_stack_pool_usage(f->h.s, &pu);
  assert_int_equal(pu.big_free, pu.big_total);
  /* Works again. */
  size_t len;
  uint8_t *u = make_udp(2000, 9, &len);
  for (size_t off = 0; off < len; off += 1480)
    frag(f, 7777, u, off, len - off < 1480 ? len - off : 1480, off + 1480 < len, US_SEC(40));
  expect_datagram(f, u, len);
  free(u);
}

/* A datagram whose last fragment never comes is abandoned at the timeout
 * and the late fragment then starts a fresh, harmless context. */
static void test_timeout_single(void **st) {
  struct fx *f = *st;
  size_t len;
  uint8_t *u = make_udp(100, 10, &len);
  frag(f, 40, u, 0, 64, true, US_SEC(10));
  assert_int_equal(h_poll(&f->h, US_SEC(10)), US_SEC(40));
  h_poll(&f->h, US_SEC(40));
  assert_int_equal(h_stat(&f->h, US_STAT_ip_reasm_timeout), 1);
  frag(f, 40, u, 64, len - 64, false, US_SEC(41));
  expect_nothing(f);
  free(u);
}

/* RFC 1858: a tiny first fragment (8 bytes of a TCP header) is
 * reassembled normally, and an offset-8 fragment rewriting bytes already
 * held is an overlap that drops the datagram. */
static void test_tcp_tiny_and_offset_one(void **st) {
  struct fx *f = *st;
  uint8_t data[64];
  memset(data, 0x11, sizeof data);
  uint8_t b[128];
  struct h_ip ih = { .src = H_PEER, .dst = H_US, .proto = 6, .id = 70, .frag_off = 0, .mf = true };
  size_t n = h_ip_build(b, &ih, data, 8);
  h_input(&f->h, b, n, US_SEC(1));
  ih.frag_off = 8;
  ih.mf = false;
  n = h_ip_build(b, &ih, data, 12);
  h_input(&f->h, b, n, US_SEC(1));
  assert_int_equal(h_stat(&f->h, US_STAT_ip_reasm_oks), 1);
  ih.id = 71;
  ih.frag_off = 0;
  ih.mf = true;
  n = h_ip_build(b, &ih, data, 16);
  h_input(&f->h, b, n, US_SEC(1));
  ih.frag_off = 8;
  ih.mf = false;
  n = h_ip_build(b, &ih, data, 12);
  h_input(&f->h, b, n, US_SEC(1));
  assert_int_equal(h_stat(&f->h, US_STAT_ip_reasm_overlap), 1);
  assert_int_equal(h_stat(&f->h, US_STAT_ip_reasm_oks), 1);
  assert_int_equal(h_pool_usage(f->h.s).reass_active, 0);
  h_capture_reset(&f->h.cap);
}

static void tweak_big(struct us_config *c) {
  c->reass_contexts = 2;
  c->reass_bytes_max = 2 * 65536;
}

/* The largest datagram (65535 bytes) reassembles, from 1480-byte
 * fragments sent in reverse. */
static void test_max_datagram(void **st) {
  (void)st;
  struct fx f;
  h_stack_init(&f.h, 5, tweak_big);
  assert_int_equal(us_udp_open(f.h.s, &f.sock), 0);
  assert_int_equal(us_udp_bind(f.h.s, f.sock, PORT), 0);
  size_t len;
  uint8_t *u = make_udp(65507, 11, &len);
  size_t nfr = (len + 1479) / 1480;
  for (size_t i = nfr; i-- > 0;) {
    size_t off = i * 1480;
    frag(&f, 50, u, off, len - off < 1480 ? len - off : 1480, off + 1480 < len, US_SEC(1));
  }
  expect_datagram(&f, u, len);
  free(u);
  assert_int_equal(us_udp_close(f.h.s, f.sock), 0);
  h_assert_pools_full(f.h.s);
  h_stack_fini(&f.h);
}

static void tweak_none(struct us_config *c) { c->reass_contexts = 0; }

/* With reassembly disabled every fragment is dropped and counted. */
static void test_disabled(void **st) {
  (void)st;
  struct fx f;
  h_stack_init(&f.h, 6, tweak_none);
  uint8_t data[64] = { 0 };
  uint8_t b[128];
  struct h_ip ih = { .src = H_PEER, .dst = H_US, .proto = 17, .id = 1, .mf = true };
  size_t n = h_ip_build(b, &ih, data, 64);
  h_input(&f.h, b, n, US_SEC(1));
  assert_int_equal(h_stat(&f.h, US_STAT_ip_reasm_no_context), 1);
  h_assert_pools_full(f.h.s);
  h_stack_fini(&f.h);
}

/* The allocation-failure hook refuses a new context cleanly. */
static void test_alloc_failure(void **st) {
  struct fx *f = *st;
  size_t len;
  uint8_t *u = make_udp(100, 12, &len);
  us_stack_fail_alloc_at(f->h.s, 1);
  frag(f, 60, u, 0, 64, true, US_SEC(1));
  assert_int_equal(h_pool_usage(f->h.s).reass_active, 0);
  frag(f, 61, u, 0, 64, true, US_SEC(1));
  frag(f, 61, u, 64, len - 64, false, US_SEC(1));
  expect_datagram(f, u, len);
  free(u);
}

/* ---- Eviction under pressure (docs/LIMITS.md) ------------------------------- */

/* A lone first fragment (MF set, 1024 bytes) from `src`: a datagram that
 * will never complete. */
static void lone(struct fx *f, uint32_t src, uint16_t id, us_time_t now) {
  uint8_t data[1024];
  memset(data, 0x5a, sizeof data);
  uint8_t b[1100];
  struct h_ip ih = { .src = src, .dst = H_US, .proto = 17, .id = id, .mf = true };
  size_t n = h_ip_build(b, &ih, data, sizeof data);
  h_input(&f->h, b, n, now);
}

static uint32_t flood_src(int i) { return US_IP4(192, 0, 2, 0) + 1u + (uint32_t)(i % 200); }

/* A flood of lone fragments from many sources fills the table at once;
 * every new one pushes the oldest out, so a real datagram whose fragments
 * arrive a few flood packets apart still completes (before: it was refused
 * for the whole 30 s timeout). */
static void test_flood_evicts_oldest_real_completes(void **st) {
  struct fx *f = *st;
  us_time_t now = US_SEC(1);
  int k = 0;
  for (int i = 0; i < 100; i++, k++)
    lone(f, flood_src(k), (uint16_t)k, now + k);
  assert_int_equal(h_pool_usage(f->h.s).reass_active, 4);
  size_t len;
  uint8_t *u = make_udp(3000, 21, &len); /* 1480 + 1480 + 48 */
  frag(f, 7, u, 0, 1480, true, now + k);
  lone(f, flood_src(k), (uint16_t)k, now + k), k++;
  lone(f, flood_src(k), (uint16_t)k, now + k), k++;
  frag(f, 7, u, 1480, 1480, true, now + k);
  lone(f, flood_src(k), (uint16_t)k, now + k), k++;
  frag(f, 7, u, 2960, len - 2960, false, now + k);
  expect_datagram(f, u, len);
  for (int i = 0; i < 100; i++, k++) {
    lone(f, flood_src(k), (uint16_t)k, now + k);
    assert_true(h_pool_usage(f->h.s).reass_active <= 4);
  }
  assert_int_equal(h_stat(&f->h, US_STAT_ip_reasm_oks), 1);
  /* 203 flood datagrams, 4 left in the table: the rest were evicted. */
  assert_int_equal(h_stat(&f->h, US_STAT_ip_reasm_evicted), 203 - 4);
  assert_int_equal(h_stat(&f->h, US_STAT_ip_reasm_no_context), 0);
  free(u);
}

static void tweak_per_source(struct us_config *c) {
  c->reass_contexts = 8;
  c->reass_per_source = 2;
  c->reass_bytes_max = 8 * 65536;
}

/* One source holding cfg.reass_per_source contexts loses its oldest when
 * it starts another: it never holds more, the table never fills, and
 * another source's datagram, spread over the flood, completes. */
static void test_per_source_cap(void **st) {
  (void)st;
  struct fx f;
  h_stack_init(&f.h, 7, tweak_per_source);
  assert_int_equal(us_udp_open(f.h.s, &f.sock), 0);
  assert_int_equal(us_udp_bind(f.h.s, f.sock, PORT), 0);
  const uint32_t x = US_IP4(192, 0, 2, 77);
  for (int i = 0; i < 20; i++) {
    lone(&f, x, (uint16_t)i, US_SEC(1) + i);
    assert_true(h_pool_usage(f.h.s).reass_active <= 2);
  }
  assert_int_equal(h_stat(&f.h, US_STAT_ip_reasm_evicted_source), 18);
  size_t len;
  uint8_t *u = make_udp(3000, 22, &len);
  frag(&f, 9, u, 0, 1480, true, US_SEC(2));
  for (int i = 20; i < 70; i++)
    lone(&f, x, (uint16_t)i, US_SEC(2) + i);
  frag(&f, 9, u, 1480, 1480, true, US_SEC(3));
  frag(&f, 9, u, 2960, len - 2960, false, US_SEC(3));
  expect_datagram(&f, u, len);
  assert_int_equal(h_stat(&f.h, US_STAT_ip_reasm_evicted_source), 68);
  assert_int_equal(h_stat(&f.h, US_STAT_ip_reasm_evicted), 0);
  free(u);
  assert_int_equal(us_udp_close(f.h.s, f.sock), 0);
  h_poll(&f.h, US_SEC(100));
  h_assert_pools_full(f.h.s);
  h_stack_fini(&f.h);
}

/* The byte cap (3 * 4096 here) makes room the same way: the oldest
 * incomplete datagram goes, and the new one is reassembled. */
static void test_byte_cap_evicts_oldest(void **st) {
  struct fx *f = *st;
  uint8_t big[4096];
  memset(big, 0x11, sizeof big);
  uint8_t b[4200];
  for (uint16_t id = 1; id <= 3; id++) {
    struct h_ip ih = { .src = H_PEER, .dst = H_US, .proto = 17, .id = id, .mf = true };
    size_t n = h_ip_build(b, &ih, big, sizeof big);
    h_input(&f->h, b, n, US_SEC(1) + id);
  }
  assert_int_equal(h_pool_usage(f->h.s).reass_active, 3);
  size_t len;
  uint8_t *u = make_udp(2000, 23, &len);
  frag(f, 40, u, 0, 1480, true, US_SEC(2));
  assert_int_equal(h_stat(&f->h, US_STAT_ip_reasm_evicted), 1);
  assert_int_equal(h_pool_usage(f->h.s).reass_active, 3);
  frag(f, 40, u, 1480, len - 1480, false, US_SEC(2));
  expect_datagram(f, u, len);
  assert_int_equal(h_stat(&f->h, US_STAT_ip_reasm_no_bytes), 0);
  /* The one that went was the oldest: a fragment overlapping id 3's data
   * is an overlap (id 3 is still held), one overlapping id 1's is not. */
  struct h_ip ih = { .src = H_PEER, .dst = H_US, .proto = 17, .id = 3, .mf = true };
  size_t n = h_ip_build(b, &ih, big, 8);
  h_input(&f->h, b, n, US_SEC(3));
  assert_int_equal(h_stat(&f->h, US_STAT_ip_reasm_overlap), 1);
  ih.id = 1;
  n = h_ip_build(b, &ih, big, 8);
  h_input(&f->h, b, n, US_SEC(3));
  assert_int_equal(h_stat(&f->h, US_STAT_ip_reasm_overlap), 1);
  free(u);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_in_order, setup, teardown),
    cmocka_unit_test_setup_teardown(test_out_of_order, setup, teardown),
    cmocka_unit_test_setup_teardown(test_keys_distinct, setup, teardown),
    cmocka_unit_test_setup_teardown(test_overlap, setup, teardown),
    cmocka_unit_test_setup_teardown(test_oversize, setup, teardown),
    cmocka_unit_test_setup_teardown(test_zero_length_and_misaligned, setup, teardown),
    cmocka_unit_test_setup_teardown(test_contradictory_last, setup, teardown),
    cmocka_unit_test_setup_teardown(test_flood_bounded_and_timeout, setup, teardown),
    cmocka_unit_test_setup_teardown(test_timeout_single, setup, teardown),
    cmocka_unit_test_setup_teardown(test_tcp_tiny_and_offset_one, setup, teardown),
    cmocka_unit_test(test_max_datagram),
    cmocka_unit_test(test_disabled),
    cmocka_unit_test_setup_teardown(test_alloc_failure, setup, teardown),
    cmocka_unit_test_setup_teardown(test_flood_evicts_oldest_real_completes, setup, teardown),
    cmocka_unit_test(test_per_source_cap),
    cmocka_unit_test_setup_teardown(test_byte_cap_evicts_oldest, setup, teardown),
  };
  return H_RUN("reass", tests);
}
