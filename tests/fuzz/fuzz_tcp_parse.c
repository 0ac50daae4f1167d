/*
 * fuzz_tcp_parse.c - libFuzzer target for stack/wire/tcp.c (header and
 * options: the CVE-2020-24337 / URGENT/11 option-walk class).
 *
 * Input: 8 bytes of addresses (src, dst) then the TCP segment. The segment
 * is parsed as given, then with its checksum fixed so the option walk is
 * reached; the options area alone is also fed to us_tcp_parse_options. On
 * success: the invariants of struct us_tcp_seg (payload inside the segment,
 * WS <= 14, at most 4 SACK blocks), and us_tcp_build of the parsed struct
 * must parse back to the same fields.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "wire/checksum.h"
#include "wire/tcp.h"

#define CHECK(c) \
  do {           \
    if (!(c))    \
      abort();   \
  } while (0)

static volatile uint32_t sink;

static void check_seg(const uint8_t *b, size_t len, const struct us_tcp_seg *s) {
  CHECK(s->hdr_len >= 20 && s->hdr_len <= 60 && s->hdr_len % 4 == 0 && s->hdr_len <= len);
  CHECK(s->payload == b + s->hdr_len && s->hdr_len + (size_t)s->payload_len == len);
  CHECK(!s->has_ws || s->ws <= US_TCP_WS_MAX);
  CHECK(s->sack_count <= US_TCP_SACK_MAX_BLOCKS);
  uint32_t acc = 0;
  for (uint32_t i = 0; i < s->payload_len; i++)
    acc += s->payload[i];
  sink = acc;
}

static void roundtrip(const struct us_tcp_seg *s, uint32_t src, uint32_t dst) {
  size_t hl = us_tcp_hdr_len(s);
  CHECK(hl >= 20 && hl <= 60 && hl % 4 == 0);
  size_t plen = s->payload_len > 64 ? 64 : s->payload_len;
  uint8_t *out = malloc(hl + plen);
  CHECK(out);
  memcpy(out + hl, s->payload, plen);
  uint32_t ps = us_csum_pseudo(us_addr_v4(src), us_addr_v4(dst), 6);
  CHECK(us_tcp_build(s, out, hl, plen, ps) == hl);
  struct us_tcp_seg back;
  CHECK(us_tcp_parse(out, hl + plen, ps, &back) == US_TCP_PARSE_OK);
  CHECK(back.sport == s->sport && back.dport == s->dport && back.seq == s->seq &&
        back.ack == s->ack && back.flags == s->flags && back.wnd == s->wnd && back.urp == s->urp);
  CHECK(back.has_mss == s->has_mss && (!s->has_mss || back.mss == s->mss));
  CHECK(back.has_ws == s->has_ws && (!s->has_ws || back.ws == s->ws));
  CHECK(back.has_ts == s->has_ts &&
        (!s->has_ts || (back.tsval == s->tsval && back.tsecr == s->tsecr)));
  CHECK(back.sack_perm == s->sack_perm);
  CHECK(back.sack_count <= s->sack_count);
  for (unsigned k = 0; k < back.sack_count; k++)
    CHECK(back.sack[k].left == s->sack[k].left && back.sack[k].right == s->sack[k].right);
  CHECK(back.payload_len == plen);
  free(out);
}

static void one(const uint8_t *b, size_t len, uint32_t src, uint32_t dst) {
  struct us_tcp_seg s;
  memset(&s, 0x5a, sizeof s);
  enum us_tcp_parse_result r =
      us_tcp_parse(b, len, us_csum_pseudo(us_addr_v4(src), us_addr_v4(dst), 6), &s);
  CHECK(r >= US_TCP_PARSE_OK && r <= US_TCP_PARSE_BAD_OPTIONS);
  if (r == US_TCP_PARSE_OK) {
    check_seg(b, len, &s);
    roundtrip(&s, src, dst);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 8)
    return 0;
  uint32_t src = fz_get32(data), dst = fz_get32(data + 4);
  const uint8_t *seg = data + 8;
  size_t len = size - 8;
  /* Exact-size copies: ASan then flags any read past the segment. */
  uint8_t *copy = malloc(len ? len : 1);
  CHECK(copy);
  memcpy(copy, seg, len);
  one(copy, len, src, dst);
  if (len >= 20 && len <= 0xffff) {
    fz_fix_l4(copy, len, 16, src, dst, 6);
    one(copy, len, src, dst);
    /* The options area on its own, cut exactly (MUST-7 walk). */
    size_t hl = (size_t)(copy[12] >> 4) * 4;
    if (hl > 20 && hl <= len) {
      size_t ol = hl - 20;
      uint8_t *opt = malloc(ol);
      CHECK(opt);
      memcpy(opt, copy + 20, ol);
      struct us_tcp_seg s;
      memset(&s, 0, sizeof s);
      enum us_tcp_parse_result r = us_tcp_parse_options(opt, ol, &s);
      CHECK(r == US_TCP_PARSE_OK || r == US_TCP_PARSE_BAD_OPTIONS);
      CHECK(!s.has_ws || s.ws <= US_TCP_WS_MAX);
      CHECK(s.sack_count <= US_TCP_SACK_MAX_BLOCKS);
      free(opt);
    }
  }
  /* Raw option bytes of any length (not just what a header can hold). */
  {
    struct us_tcp_seg s;
    memset(&s, 0, sizeof s);
    enum us_tcp_parse_result r = us_tcp_parse_options(copy, len, &s);
    CHECK(r == US_TCP_PARSE_OK || r == US_TCP_PARSE_BAD_OPTIONS);
    CHECK(s.sack_count <= US_TCP_SACK_MAX_BLOCKS);
  }
  free(copy);
  return 0;
}
