/*
 * fuzz_ipv4_parse.c - libFuzzer target for stack/wire/ipv4.c.
 *
 * Each input is parsed twice: as given, and with its header checksum made
 * right (so the option walk and the length checks behind the checksum get
 * explored). On success the invariants the rest of the stack relies on are
 * checked (every pointer and length inside the bytes received; padding
 * excluded), every payload byte is read so ASan sees any over-read, and a
 * header rebuilt from the parsed fields must parse back to the same values.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "wire/ipv4.h"

#define CHECK(c) \
  do {           \
    if (!(c))    \
      abort();   \
  } while (0)

static volatile uint32_t sink;

static void check_ok(const uint8_t *b, size_t len, const struct us_ip4_hdr *h) {
  CHECK(h->hdr_len >= 20 && h->hdr_len <= 60 && h->hdr_len % 4 == 0);
  CHECK(h->total_len >= h->hdr_len && h->total_len <= len);
  CHECK(h->payload == b + h->hdr_len);
  CHECK((size_t)h->hdr_len + h->payload_len == h->total_len);
  CHECK(h->trimmed == (len - h->total_len > 0xffff ? 0xffff : len - h->total_len));
  CHECK(h->opt_len == h->hdr_len - 20);
  CHECK((h->options == NULL) == (h->opt_len == 0));
  CHECK(h->frag_off % 8 == 0);
  uint32_t acc = 0;
  for (size_t i = 0; i < h->payload_len; i++)
    acc += h->payload[i];
  for (size_t i = 0; i < h->opt_len; i++)
    acc += h->options[i];
  sink = acc;

  /* Build a plain header from the fields and parse it back. */
  uint8_t *nb = malloc(20);
  CHECK(nb);
  struct us_ip4_hdr in = *h;
  in.total_len = 20;
  CHECK(us_ip4_build(&in, nb, 20) == 20);
  struct us_ip4_hdr back;
  CHECK(us_ip4_parse(nb, 20, &back) == US_IP4_OK);
  CHECK(back.id == h->id && back.df == h->df && back.mf == h->mf && back.frag_off == h->frag_off &&
        back.ttl == h->ttl && back.proto == h->proto && back.src == h->src && back.dst == h->dst &&
        back.tos == h->tos);
  CHECK(back.payload_len == 0 && back.trimmed == 0);
  free(nb);
}

static void one(const uint8_t *b, size_t len) {
  struct us_ip4_hdr h;
  memset(&h, 0xa5, sizeof h);
  enum us_ip4_parse_result r = us_ip4_parse(b, len, &h);
  CHECK(r >= US_IP4_OK && r <= US_IP4_BAD_OPTIONS);
  if (r == US_IP4_OK)
    check_ok(b, len, &h);
  else
    CHECK(len >= 20 || r == US_IP4_TOO_SHORT);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  one(data, size);
  if (size >= 20) {
    uint8_t *copy = malloc(size);
    CHECK(copy);
    memcpy(copy, data, size);
    fz_fix_ip(copy, size);
    one(copy, size);
    free(copy);
  }
  return 0;
}
