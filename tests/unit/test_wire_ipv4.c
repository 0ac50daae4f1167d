/*
 * test_wire_ipv4.c - us_ip4_parse / us_ip4_build: round trips, and a table
 * of malformed headers, each with the exact parse result it must give.
 * Every input is copied into a buffer of exactly its length, so ASan
 * catches any read past what was "received".
 */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "wire/ipv4.h"

static void test_round_trip(void **st) {
  (void)st;
  struct us_ip4_hdr h = { .total_len = 48,
                          .id = 0xbeef,
                          .df = true,
                          .mf = false,
                          .frag_off = 0,
                          .ttl = 17,
                          .proto = 6,
                          .tos = 0x10,
                          .src = US_IP4(1, 2, 3, 4),
                          .dst = US_IP4(5, 6, 7, 8) };
  uint8_t b[48] = { 0 };
  assert_int_equal(us_ip4_build(&h, b, 10), 0); /* cap too small */
  assert_int_equal(us_ip4_build(&h, b, sizeof b), 20);
  assert_int_equal(h_csum(b, 20), 0);
  struct us_ip4_hdr p;
  assert_int_equal(us_ip4_parse(b, sizeof b, &p), US_IP4_OK);
  assert_int_equal(p.hdr_len, 20);
  assert_int_equal(p.total_len, 48);
  assert_int_equal(p.id, 0xbeef);
  assert_true(p.df);
  assert_false(p.mf);
  assert_int_equal(p.ttl, 17);
  assert_int_equal(p.proto, 6);
  assert_int_equal(p.tos, 0x10);
  assert_int_equal(p.src, US_IP4(1, 2, 3, 4));
  assert_int_equal(p.dst, US_IP4(5, 6, 7, 8));
  assert_ptr_equal(p.payload, b + 20);
  assert_int_equal(p.payload_len, 28);
  assert_null(p.options);
  assert_int_equal(p.opt_len, 0);
  assert_int_equal(p.trimmed, 0);
  assert_false(p.src_route);

  /* Fragment fields. */
  h.df = false;
  h.mf = true;
  h.frag_off = 8 * 0x1fff;
  us_ip4_build(&h, b, sizeof b);
  assert_int_equal(us_ip4_parse(b, sizeof b, &p), US_IP4_OK);
  assert_true(p.mf);
  assert_false(p.df);
  assert_int_equal(p.frag_off, 8 * 0x1fff);
  assert_int_equal(h_rd16(b + 6), 0x3fff);
}

static void test_options_and_trim(void **st) {
  (void)st;
  uint8_t opts[8] = { 1, 1, 7, 3, 4, 0, 0, 0 }; /* NOP NOP RR(len 3) EOL pad */
  struct h_ip ih = { .src = 1, .dst = 2, .proto = 17, .opts = opts, .opt_len = 8 };
  uint8_t pay[10] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
  uint8_t b[64];
  size_t n = h_ip_build(b, &ih, pay, sizeof pay);
  /* Six bytes of link padding after the datagram. */
  memset(b + n, 0xee, 6);
  struct us_ip4_hdr p;
  assert_int_equal(us_ip4_parse(b, n + 6, &p), US_IP4_OK);
  assert_int_equal(p.hdr_len, 28);
  assert_int_equal(p.opt_len, 8);
  assert_ptr_equal(p.options, b + 20);
  assert_int_equal(p.payload_len, 10);
  assert_int_equal(p.trimmed, 6);
  assert_memory_equal(p.payload, pay, 10);
}

struct bad {
  const char *name;
  uint8_t b[64];
  size_t len;    /* bytes "received" */
  bool fix_csum; /* recompute the header checksum over IHL*4 first */
  enum us_ip4_parse_result want;
  bool src_route;
};

#define H(vihl, tl) \
  (vihl), 0, (uint8_t)((tl) >> 8), (uint8_t)(tl), 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2

static const struct bad bads[] = {
  { "19 bytes", { H(0x45, 19) }, 19, false, US_IP4_TOO_SHORT, false },
  { "empty", { 0 }, 0, false, US_IP4_TOO_SHORT, false },
  { "version 0", { H(0x05, 20) }, 20, true, US_IP4_BAD_VERSION, false },
  { "version 5", { H(0x55, 20) }, 20, true, US_IP4_BAD_VERSION, false },
  { "version 6", { H(0x65, 20) }, 20, true, US_IP4_BAD_VERSION, false },
  { "version 15", { H(0xf5, 20) }, 20, true, US_IP4_BAD_VERSION, false },
  { "IHL 0", { H(0x40, 20) }, 20, false, US_IP4_BAD_IHL, false },
  { "IHL 4", { H(0x44, 20) }, 20, false, US_IP4_BAD_IHL, false },
  { "IHL 15 in 20 bytes", { H(0x4f, 20) }, 20, false, US_IP4_BAD_IHL, false },
  { "IHL 6 in 23 bytes", { H(0x46, 23) }, 23, false, US_IP4_BAD_IHL, false },
  { "total length 0", { H(0x45, 0) }, 20, true, US_IP4_BAD_LEN, false },
  { "total length 19", { H(0x45, 19) }, 20, true, US_IP4_BAD_LEN, false },
  { "total length < IHL*4", { H(0x46, 22), 1, 1, 1, 1 }, 24, true, US_IP4_BAD_LEN, false },
  { "total length 1500, 40 received", { H(0x45, 1500) }, 40, true, US_IP4_BAD_LEN, false },
  { "total length 21, 20 received", { H(0x45, 21) }, 20, true, US_IP4_BAD_LEN, false },
  { "bad checksum", { H(0x45, 20) }, 20, false, US_IP4_BAD_CSUM, false },
  { "option length 0", { H(0x46, 24), 0x44, 0, 0, 0 }, 24, true, US_IP4_BAD_OPTIONS, false },
  { "option length 1", { H(0x46, 24), 0x44, 1, 0, 0 }, 24, true, US_IP4_BAD_OPTIONS, false },
  { "option past the end", { H(0x46, 24), 0x44, 8, 0, 0 }, 24, true, US_IP4_BAD_OPTIONS, false },
  { "lone kind byte at the end",
    { H(0x46, 24), 1, 1, 1, 0x44 },
    24,
    true,
    US_IP4_BAD_OPTIONS,
    false },
  { "NOP then bad length", { H(0x46, 24), 1, 0x07, 0xff, 0 }, 24, true, US_IP4_BAD_OPTIONS, false },
  { "EOL then garbage", { H(0x46, 24), 0, 0x44, 0, 0 }, 24, true, US_IP4_OK, false },
  { "unknown option ok", { H(0x46, 24), 0x99, 4, 0, 0 }, 24, true, US_IP4_OK, false },
  { "LSRR", { H(0x47, 28), 1, 131, 7, 4, 10, 0, 0, 3 }, 28, true, US_IP4_OK, true },
  { "SSRR", { H(0x47, 28), 1, 137, 7, 4, 10, 0, 0, 3 }, 28, true, US_IP4_OK, true },
};

static void test_malformed_table(void **st) {
  (void)st;
  for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++) {
    const struct bad *t = &bads[i];
    uint8_t *b = malloc(t->len ? t->len : 1); /* exact size: ASan sees over-reads */
    assert_non_null(b);
    memcpy(b, t->b, t->len);
    if (t->fix_csum) {
      size_t hl = (size_t)(b[0] & 15) * 4;
      b[10] = b[11] = 0;
      h_wr16(b + 10, h_csum(b, hl <= t->len ? hl : t->len));
    }
    struct us_ip4_hdr p;
    enum us_ip4_parse_result r = us_ip4_parse(b, t->len, &p);
    if (r != t->want)
      fail_msg("%s: got %d want %d", t->name, r, t->want);
    if (r == US_IP4_OK && p.src_route != t->src_route)
      fail_msg("%s: src_route %d", t->name, p.src_route);
    free(b);
  }
}

static void test_forty_nops(void **st) {
  (void)st;
  uint8_t opts[40];
  memset(opts, 1, sizeof opts);
  struct h_ip ih = { .src = 1, .dst = 2, .proto = 17, .opts = opts, .opt_len = 40 };
  uint8_t b[60];
  size_t n = h_ip_build(b, &ih, NULL, 0);
  struct us_ip4_hdr p;
  assert_int_equal(us_ip4_parse(b, n, &p), US_IP4_OK);
  assert_int_equal(p.hdr_len, 60);
  assert_int_equal(p.payload_len, 0);
}

/* Every truncation of a valid header with options is refused, never read
 * past. */
static void test_every_truncation(void **st) {
  (void)st;
  uint8_t opts[8] = { 1, 1, 7, 3, 4, 0, 0, 0 };
  struct h_ip ih = { .src = 1, .dst = 2, .proto = 17, .opts = opts, .opt_len = 8 };
  uint8_t full[40];
  size_t n = h_ip_build(full, &ih, "0123456789ab", 12);
  for (size_t len = 0; len < n; len++) {
    uint8_t *b = malloc(len ? len : 1);
    memcpy(b, full, len);
    struct us_ip4_hdr p;
    assert_int_not_equal(us_ip4_parse(b, len, &p), US_IP4_OK);
    free(b);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_round_trip),       cmocka_unit_test(test_options_and_trim),
    cmocka_unit_test(test_malformed_table),  cmocka_unit_test(test_forty_nops),
    cmocka_unit_test(test_every_truncation),
  };
  return H_RUN("wire_ipv4", tests);
}
