/*
 * test_checksum.c - RFC 1071 checksum: published vectors, odd lengths,
 * chaining, the pseudo-header, and agreement with a byte-by-byte
 * reference over every length 0..600 at every alignment.
 */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "wire/checksum.h"

/* RFC 1071 section 3 example: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2. */
static void test_rfc1071_example(void **st) {
  (void)st;
  const uint8_t b[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
  assert_int_equal(us_csum_add(0, b, sizeof b) % 0xffff, 0x2ddf0 % 0xffff);
  assert_int_equal(us_csum_fold(us_csum_add(0, b, sizeof b)), (uint16_t)~0xddf2);
  assert_int_equal(us_csum(b, sizeof b), 0x220d);
}

struct vec {
  const char *name;
  uint8_t bytes[24];
  size_t len;
  uint16_t csum;
};

/* Hand-computed vectors, odd lengths included. */
static const struct vec vecs[] = {
  { "empty", { 0 }, 0, 0xffff },
  { "one byte", { 0x01 }, 1, 0xfeff },    /* 0x0100 -> ~ = 0xfeff */
  { "one byte ff", { 0xff }, 1, 0x00ff }, /* 0xff00 -> ~ = 0x00ff */
  { "two bytes", { 0x12, 0x34 }, 2, 0xedcb },
  { "three bytes", { 0x12, 0x34, 0x56 }, 3, 0x97cb }, /* 0x1234+0x5600=0x6834 */
  { "carry", { 0xff, 0xff, 0x00, 0x01 }, 4, 0xfffe }, /* 0xffff+1 = 0x10000 -> 0x0001 */
  { "all ones", { 0xff, 0xff, 0xff, 0xff }, 4, 0x0000 },
  /* A real IPv4 header (Wikipedia's example) with its checksum b861. */
  { "ipv4 header",
    { 0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
      0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7 },
    20,
    0x0000 },
};

static void test_vectors(void **st) {
  (void)st;
  for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++) {
    uint16_t got = us_csum(vecs[i].bytes, vecs[i].len);
    if (got != vecs[i].csum)
      fail_msg("%s: got %04x want %04x", vecs[i].name, got, vecs[i].csum);
  }
}

static void test_against_reference(void **st) {
  (void)st;
  uint8_t buf[640];
  uint64_t x = h_seed(0x1234567);
  for (size_t i = 0; i < sizeof buf; i++)
    buf[i] = (uint8_t)h_rand_next(&x);
  for (size_t align = 0; align < 4; align++)
    for (size_t len = 0; len <= 600; len++)
      assert_int_equal(us_csum(buf + align, len), h_csum(buf + align, len));
  /* All 0xff: the largest sums, many carries. */
  memset(buf, 0xff, sizeof buf);
  for (size_t len = 0; len <= 600; len++)
    assert_int_equal(us_csum(buf, len), h_csum(buf, len));
}

static void test_big_buffer_no_overflow(void **st) {
  (void)st;
  size_t n = 65535;
  uint8_t *b = malloc(n);
  assert_non_null(b);
  memset(b, 0xff, n);
  us_addr_t ones = us_addr_v4(0xffffffff);
  uint32_t s = us_csum_pseudo_len(us_csum_pseudo(ones, ones, 255), 0xffff);
  s = us_csum_add(s, b, n);
  uint32_t ref = h_csum_add(h_pseudo4(0xffffffff, 0xffffffff, 255, 0xffff), b, n);
  assert_int_equal(us_csum_fold(s), h_csum_fold(ref));
  free(b);
}

static void test_chaining(void **st) {
  (void)st;
  uint8_t b[101];
  for (size_t i = 0; i < sizeof b; i++)
    b[i] = (uint8_t)(i * 7 + 3);
  /* Even first chunks, odd last one. */
  for (size_t cut = 0; cut <= 100; cut += 2) {
    uint32_t s = us_csum_add(0, b, cut);
    s = us_csum_add(s, b + cut, sizeof b - cut);
    assert_int_equal(us_csum_fold(s), us_csum(b, sizeof b));
  }
}

static void test_pseudo(void **st) {
  (void)st;
  uint32_t src = US_IP4(192, 168, 0, 1), dst = US_IP4(10, 0, 0, 2);
  uint32_t s = us_csum_pseudo_len(us_csum_pseudo(us_addr_v4(src), us_addr_v4(dst), 17), 12);
  assert_int_equal(us_csum_fold(s), h_csum_fold(h_pseudo4(src, dst, 17, 12)));
  /* The length is added once, wherever it is added. */
  assert_int_equal(
      us_csum_fold(us_csum_pseudo_len(us_csum_pseudo(us_addr_v4(src), us_addr_v4(dst), 17), 0)),
      h_csum_fold(h_pseudo4(src, dst, 17, 0)));
  /* A zero pseudo-header adds nothing. */
  assert_int_equal(us_csum_pseudo(us_addr_v4(0), us_addr_v4(0), 0), 0);
  /* Mixed or unset families have no pseudo-header. */
  us_addr_t none = { 0 };
  assert_int_equal(us_csum_pseudo(none, none, 6), 0);
  static const uint8_t v6[16] = { 0xfd, 0, [15] = 2 };
  assert_int_equal(us_csum_pseudo(us_addr_v4(src), us_addr_v6(v6), 6), 0);
}

/* RFC 8200 8.1: the IPv6 pseudo-header is src (16), dst (16), the 32-bit
 * upper-layer length, three zero bytes and the next header. Laid out as
 * bytes and summed with the plain checksum, it must give the same sum. */
static void test_pseudo_v6(void **st) {
  (void)st;
  static const uint8_t src[16] = { 0xfd, 0x00, 0x12, 0x34, 0,    0,    0,    0,
                                   0xde, 0xad, 0xbe, 0xef, 0xff, 0xff, 0x00, 0x01 };
  static const uint8_t dst[16] = { 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xab, 0xcd, 0, 2 };
  for (uint32_t len = 0; len < 70000; len += 997) {
    uint8_t ph[40] = { 0 };
    memcpy(ph, src, 16);
    memcpy(ph + 16, dst, 16);
    h_wr16(ph + 32, (uint16_t)(len >> 16));
    h_wr16(ph + 34, (uint16_t)len);
    ph[39] = 6;
    uint32_t s = us_csum_pseudo_len(us_csum_pseudo(us_addr_v6(src), us_addr_v6(dst), 6), len);
    assert_int_equal(us_csum_fold(s), h_csum(ph, sizeof ph));
  }
  /* Any changed address byte changes the sum. */
  uint32_t base = us_csum_pseudo(us_addr_v6(src), us_addr_v6(dst), 17);
  for (int i = 0; i < 16; i++) {
    uint8_t d2[16];
    memcpy(d2, dst, 16);
    d2[i] ^= 0x10;
    assert_int_not_equal(us_csum_pseudo(us_addr_v6(src), us_addr_v6(d2), 17), base);
  }
}

/* Verifying: a buffer holding its own correct checksum sums to zero, also
 * for odd lengths (the checksum field placed at an even offset). */
static void test_verify_odd(void **st) {
  (void)st;
  uint8_t b[9] = { 0xde, 0xad, 0, 0, 0xbe, 0xef, 0x01, 0x02, 0x03 };
  uint16_t c = us_csum(b, sizeof b);
  h_wr16(b + 2, c);
  assert_int_equal(us_csum(b, sizeof b), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_rfc1071_example),   cmocka_unit_test(test_vectors),
    cmocka_unit_test(test_against_reference), cmocka_unit_test(test_big_buffer_no_overflow),
    cmocka_unit_test(test_chaining),          cmocka_unit_test(test_pseudo),
    cmocka_unit_test(test_pseudo_v6),         cmocka_unit_test(test_verify_odd),
  };
  return H_RUN("checksum", tests);
}
