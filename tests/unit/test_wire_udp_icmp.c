/*
 * test_wire_udp_icmp.c - UDP and ICMP headers: round trips, checksums
 * (odd lengths, zero = none, zero sent as ffff), lengths.
 */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "wire/checksum.h"
#include "wire/icmp4.h"
#include "wire/udp.h"

#define SRC US_IP4(10, 0, 0, 1)
#define DST US_IP4(10, 0, 0, 2)

/* The pseudo-header sum without the length, as the IP layer hands it over. */
static uint32_t ps(uint32_t src, uint32_t dst) {
  return us_csum_pseudo(us_addr_v4(src), us_addr_v4(dst), 17);
}

static void test_udp_round_trip(void **st) {
  (void)st;
  for (size_t len = 0; len < 40; len++) {
    uint8_t b[64];
    for (size_t i = 0; i < len; i++)
      b[8 + i] = (uint8_t)(i * 13 + 1);
    assert_int_equal(us_udp_build(5353, 53, b, 8 + len, len, ps(SRC, DST)), 8);
    /* Cross-check with the reference checksum. */
    assert_int_equal(
        h_csum_fold(h_csum_add(h_pseudo4(SRC, DST, 17, (uint16_t)(8 + len)), b, 8 + len)), 0);
    struct us_udp_hdr h;
    assert_int_equal(us_udp_parse(b, 8 + len, ps(SRC, DST), &h), US_UDP_OK);
    assert_int_equal(h.sport, 5353);
    assert_int_equal(h.dport, 53);
    assert_int_equal(h.len, 8 + len);
    assert_int_equal(h.payload_len, len);
    assert_ptr_equal(h.payload, b + 8);
    /* Pseudo-header mismatch. */
    assert_int_equal(us_udp_parse(b, 8 + len, ps(SRC, DST + 1), &h), US_UDP_BAD_CSUM);
  }
}

static void test_udp_zero_checksum(void **st) {
  (void)st;
  uint8_t b[12] = { 0, 1, 0, 2, 0, 12, 0, 0, 'a', 'b', 'c', 'd' };
  struct us_udp_hdr h;
  assert_int_equal(us_udp_parse(b, 12, ps(SRC, DST), &h), US_UDP_OK); /* no checksum */
  assert_int_equal(h.csum, 0);
  /* Find a payload whose checksum computes to zero: it must go out as ffff.
   * Search 2 payload bytes. */
  bool found = false;
  for (uint32_t v = 0; v < 65536 && !found; v++) {
    uint8_t c[10];
    h_wr16(c + 8, (uint16_t)v);
    us_udp_build(1, 2, c, 10, 2, ps(SRC, DST));
    if (h_rd16(c + 6) == 0xffff) {
      found = true;
      struct us_udp_hdr hh;
      assert_int_equal(us_udp_parse(c, 10, ps(SRC, DST), &hh), US_UDP_OK);
    }
    assert_int_not_equal(h_rd16(c + 6), 0);
  }
  assert_true(found);
}

static void test_udp_lengths(void **st) {
  (void)st;
  uint8_t b[16] = { 0 };
  struct us_udp_hdr h;
  assert_int_equal(us_udp_parse(b, 7, ps(SRC, DST), &h), US_UDP_TOO_SHORT);
  h_wr16(b + 4, 7);
  assert_int_equal(us_udp_parse(b, 16, ps(SRC, DST), &h), US_UDP_BAD_LEN);
  h_wr16(b + 4, 17);
  assert_int_equal(us_udp_parse(b, 16, ps(SRC, DST), &h), US_UDP_BAD_LEN);
  /* Length field shorter than the IP payload: the rest is ignored. */
  h_wr16(b + 4, 10);
  assert_int_equal(us_udp_parse(b, 16, ps(SRC, DST), &h), US_UDP_OK);
  assert_int_equal(h.payload_len, 2);
  assert_int_equal(us_udp_build(1, 2, b, 7, 0, ps(SRC, DST)), 0);
}

static void test_icmp_round_trip(void **st) {
  (void)st;
  for (size_t len = 0; len < 33; len++) {
    uint8_t b[64];
    for (size_t i = 0; i < len; i++)
      b[8 + i] = (uint8_t)(0xf0 + i);
    struct us_icmp4_hdr h = { .type = 8, .code = 0, .rest = 0x12345678 };
    assert_int_equal(us_icmp4_build(&h, b, 8 + len, len), 8);
    assert_int_equal(h_csum(b, 8 + len), 0);
    struct us_icmp4_hdr p;
    assert_int_equal(us_icmp4_parse(b, 8 + len, &p), US_ICMP4_OK);
    assert_int_equal(p.type, 8);
    assert_int_equal(p.rest, 0x12345678);
    assert_int_equal(p.payload_len, len);
    assert_ptr_equal(p.payload, b + 8);
    b[3] ^= 0x40;
    assert_int_equal(us_icmp4_parse(b, 8 + len, &p), US_ICMP4_BAD_CSUM);
  }
  uint8_t s[7] = { 8, 0, 0, 0, 0, 0, 0 };
  struct us_icmp4_hdr p;
  assert_int_equal(us_icmp4_parse(s, 7, &p), US_ICMP4_TOO_SHORT);
  struct us_icmp4_hdr h = { 0 };
  assert_int_equal(us_icmp4_build(&h, s, 7, 0), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_udp_round_trip),
    cmocka_unit_test(test_udp_zero_checksum),
    cmocka_unit_test(test_udp_lengths),
    cmocka_unit_test(test_icmp_round_trip),
  };
  return H_RUN("wire_udp_icmp", tests);
}
