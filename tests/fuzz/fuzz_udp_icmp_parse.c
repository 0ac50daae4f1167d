/*
 * fuzz_udp_icmp_parse.c - libFuzzer target for stack/wire/udp.c and
 * stack/wire/icmp4.c.
 *
 * Input: 1 selector byte, 8 bytes of addresses, then the message. Bit 0 of
 * the selector fixes the checksum first (so the code past it is reached).
 * On success the payload must lie inside the message (UDP: inside the
 * length field, which is inside what was received), and building the
 * header again must give a message that parses back the same.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "wire/checksum.h"
#include "wire/icmp4.h"
#include "wire/udp.h"

#define CHECK(c) \
  do {           \
    if (!(c))    \
      abort();   \
  } while (0)

static volatile uint32_t sink;

static void udp_one(uint8_t *b, size_t len, uint32_t src, uint32_t dst, bool fix) {
  if (fix && len >= 8 && len <= 0xffff) {
    fz_put16(b + 4, (uint16_t)len);
    fz_fix_l4(b, len, 6, src, dst, 17);
  }
  uint32_t ps = us_csum_pseudo(us_addr_v4(src), us_addr_v4(dst), 17);
  struct us_udp_hdr h;
  enum us_udp_parse_result r = us_udp_parse(b, len, ps, &h);
  CHECK(r >= US_UDP_OK && r <= US_UDP_BAD_CSUM);
  if (r != US_UDP_OK)
    return;
  CHECK(h.len >= 8 && h.len <= len);
  CHECK(h.payload == b + 8 && h.payload_len == h.len - 8);
  uint32_t acc = 0;
  for (size_t i = 0; i < h.payload_len; i++)
    acc += h.payload[i];
  sink = acc;
  /* Rebuild over a copy of the datagram's own bytes and parse back. */
  uint8_t *out = malloc(h.len);
  CHECK(out);
  memcpy(out + 8, h.payload, h.payload_len);
  CHECK(us_udp_build(h.sport, h.dport, out, h.len, h.payload_len, ps) == 8);
  struct us_udp_hdr back;
  CHECK(us_udp_parse(out, h.len, ps, &back) == US_UDP_OK);
  CHECK(back.sport == h.sport && back.dport == h.dport && back.len == h.len && back.csum != 0);
  free(out);
}

static void icmp_one(uint8_t *b, size_t len, bool fix) {
  if (fix && len >= 8)
    fz_fix_l4(b, len, 2, 0, 0, 1);
  struct us_icmp4_hdr h;
  enum us_icmp4_parse_result r = us_icmp4_parse(b, len, &h);
  CHECK(r >= US_ICMP4_OK && r <= US_ICMP4_BAD_CSUM);
  if (r != US_ICMP4_OK)
    return;
  CHECK(h.payload == b + 8 && h.payload_len == len - 8);
  uint32_t acc = 0;
  for (size_t i = 0; i < h.payload_len; i++)
    acc += h.payload[i];
  sink = acc;
  uint8_t *out = malloc(len);
  CHECK(out);
  memcpy(out + 8, h.payload, h.payload_len);
  CHECK(us_icmp4_build(&h, out, len, h.payload_len) == 8);
  struct us_icmp4_hdr back;
  CHECK(us_icmp4_parse(out, len, &back) == US_ICMP4_OK);
  CHECK(back.type == h.type && back.code == h.code && back.rest == h.rest);
  free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 9)
    return 0;
  bool fix = data[0] & 1;
  uint32_t src = fz_get32(data + 1), dst = fz_get32(data + 5);
  size_t len = size - 9;
  uint8_t *a = malloc(len ? len : 1);
  uint8_t *b = malloc(len ? len : 1);
  CHECK(a && b);
  memcpy(a, data + 9, len);
  memcpy(b, data + 9, len);
  udp_one(a, len, src, dst, fix);
  icmp_one(b, len, fix);
  free(a);
  free(b);
  return 0;
}
