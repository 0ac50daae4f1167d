/*
 * fuzz_ipv6_parse.c - libFuzzer target for stack/wire/ipv6.c, ipv6_ext.c
 * and icmp6.c.
 *
 * Each input is taken as an IPv6 datagram twice: as given, and with its
 * payload length and (for ICMPv6, UDP, TCP right after the fixed header)
 * checksum made right, so the code behind those checks is reached. On a
 * parsed header the invariants the stack relies on are checked (payload
 * inside what was received, padding excluded) and the header is rebuilt
 * and parsed back. The extension-header walk runs with and without
 * fragments allowed: every offset it reports must lie inside the
 * datagram, a parameter problem pointer inside it too, and
 * us_ip6_find_upper must agree with a successful walk. ICMPv6 is parsed
 * where the walk found it, and every byte the parsers hand out is read so
 * ASan sees an over-read.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "wire/icmp6.h"
#include "wire/ipv6.h"
#include "wire/ipv6_ext.h"

#define CHECK(c) \
  do {           \
    if (!(c))    \
      abort();   \
  } while (0)

static volatile uint32_t sink;

static void touch(const uint8_t *p, size_t n) {
  uint32_t acc = 0;
  for (size_t i = 0; i < n; i++)
    acc += p[i];
  sink = acc;
}

static void walk(const uint8_t *d, size_t len, bool allow_frag) {
  struct us_ip6_chain c;
  memset(&c, 0xa5, sizeof c);
  enum us_ip6_ext_verdict v = us_ip6_walk(d, len, allow_frag, &c);
  CHECK(v >= US_IP6_EXT_OK && v <= US_IP6_EXT_INCOMPLETE);
  CHECK(c.nhdrs <= US_IP6_EXT_MAX);
  if (c.icmp) {
    CHECK(v != US_IP6_EXT_OK);
    CHECK(c.icmp_ptr < len);
    CHECK(c.icmp_code <= US_ICMP6_PARAM_INCOMPLETE);
  }
  if (v != US_IP6_EXT_OK)
    return;
  CHECK(c.l4_off >= US_IP6_HDR_LEN && c.l4_off <= len);
  CHECK(c.proto_ptr < c.l4_off);
  CHECK(d[c.proto_ptr] == c.proto || (c.frag && c.frag_off != 0));
  touch(d + c.l4_off, len - c.l4_off);
  if (c.frag) {
    CHECK(allow_frag);
    CHECK(c.frag_hdr_off >= US_IP6_HDR_LEN && c.frag_data_off == c.frag_hdr_off + 8);
    CHECK(c.frag_data_off <= len);
    CHECK(d[c.frag_nh_ptr] == US_IP6_NH_FRAGMENT);
    CHECK(c.frag_off % 8 == 0);
    CHECK(c.frag_hdr_off - US_IP6_HDR_LEN + c.frag_off + (len - c.frag_data_off) <= 65535);
    if (c.frag_mf)
      CHECK((len - c.frag_data_off) % 8 == 0);
    if (c.frag_off != 0)
      return; /* nothing behind a later fragment's header */
    /* RFC 7112: a first fragment holds the whole chain. */
    CHECK(len - c.l4_off >= us_ip6_l4_min(c.proto, d + c.l4_off, len - c.l4_off));
  }
  uint8_t proto;
  size_t off;
  CHECK(us_ip6_find_upper(d, len, &proto, &off));
  CHECK(proto == c.proto && off == c.l4_off);
  if (c.proto == US_IP6_NH_ICMPV6) {
    struct us_icmp6_hdr h;
    enum us_icmp6_parse_result r = us_icmp6_parse(d + 8, d + 24, d + c.l4_off, len - c.l4_off, &h);
    CHECK(r >= US_ICMP6_OK && r <= US_ICMP6_BAD_CSUM);
    if (r == US_ICMP6_OK) {
      CHECK(h.payload == d + c.l4_off + 8 && h.payload_len == len - c.l4_off - 8);
      touch(h.payload, h.payload_len);
    }
  }
}

static void one(const uint8_t *b, size_t len) {
  struct us_ip6_hdr h;
  memset(&h, 0xa5, sizeof h);
  enum us_ip6_parse_result r = us_ip6_parse(b, len, &h);
  CHECK(r >= US_IP6_OK && r <= US_IP6_JUMBO);
  if (r != US_IP6_OK) {
    CHECK(len >= 40 || r == US_IP6_TOO_SHORT);
    uint8_t proto;
    size_t off;
    (void)us_ip6_find_upper(b, len, &proto, &off); /* must not over-read either */
    return;
  }
  size_t dl = 40 + (size_t)h.payload_len;
  CHECK(dl <= len && h.raw == b && h.payload == b + 40);
  CHECK(h.trimmed == (len - dl > 0xffff ? 0xffff : len - dl));
  CHECK(h.payload_len != 0 || h.next_hdr == US_IP6_NH_NONE);
  touch(h.payload, h.payload_len);

  uint8_t nb[40];
  CHECK(us_ip6_build(&h, nb, sizeof nb) == 40);
  CHECK(memcmp(nb, b, 40) == 0); /* every header bit survives a round trip */

  /* The walk sees exactly the datagram, never the padding. */
  uint8_t *d = malloc(dl);
  CHECK(d);
  memcpy(d, b, dl);
  walk(d, dl, true);
  walk(d, dl, false);
  free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  one(data, size);
  if (size >= 40 && size - 40 <= 0xffff) {
    uint8_t *copy = malloc(size);
    CHECK(copy);
    memcpy(copy, data, size);
    copy[0] = (uint8_t)(0x60 | (copy[0] & 0x0f));
    fz_fix_ip6(copy, size);
    one(copy, size);
    free(copy);
  }
  return 0;
}
