/*
 * test_wire_tcp.c - TCP header and option parsing/building: round trips,
 * and the malformed option cases of docs/HOSTILE.md (OPT-1..7, TH-1/TH-2).
 */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "wire/checksum.h"
#include "wire/tcp.h"

#define SRC US_IP4(10, 0, 0, 1)
#define DST US_IP4(10, 0, 0, 2)

/* The pseudo-header sum without the length, as the IP layer hands it over. */
static uint32_t ps(uint32_t src, uint32_t dst) {
  return us_csum_pseudo(us_addr_v4(src), us_addr_v4(dst), 6);
}

static enum us_tcp_parse_result opts(const uint8_t *o, size_t n, struct us_tcp_seg *seg) {
  memset(seg, 0, sizeof *seg);
  uint8_t *b = malloc(n ? n : 1); /* exact size for ASan */
  memcpy(b, o, n);
  enum us_tcp_parse_result r = us_tcp_parse_options(b, n, seg);
  free(b);
  return r;
}

static void test_options_valid(void **st) {
  (void)st;
  struct us_tcp_seg s;
  /* MSS, NOP, WS 7, SACK-permitted, TS. */
  const uint8_t a[] = { 2, 4, 0x05, 0xb4, 1, 3, 3, 7, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2 };
  assert_int_equal(opts(a, sizeof a, &s), US_TCP_PARSE_OK);
  assert_true(s.has_mss);
  assert_int_equal(s.mss, 1460);
  assert_true(s.has_ws);
  assert_int_equal(s.ws, 7);
  assert_false(s.ws_clamped);
  assert_true(s.sack_perm);
  assert_true(s.has_ts);
  assert_int_equal(s.tsval, 1);
  assert_int_equal(s.tsecr, 2);

  /* Unaligned MSS after a single NOP (MUST-64). */
  const uint8_t u[] = { 1, 2, 4, 0x02, 0x18, 0, 0, 0 };
  assert_int_equal(opts(u, sizeof u, &s), US_TCP_PARSE_OK);
  assert_true(s.has_mss);
  assert_int_equal(s.mss, 536);

  /* EOL stops the walk: garbage after it is never parsed. */
  const uint8_t e[] = { 0, 2, 0, 0x44, 0 };
  assert_int_equal(opts(e, sizeof e, &s), US_TCP_PARSE_OK);
  assert_false(s.has_mss);

  /* Unknown kind with a valid length is skipped. */
  const uint8_t k[] = { 99, 4, 0xaa, 0xbb, 2, 4, 0x01, 0x00 };
  assert_int_equal(opts(k, sizeof k, &s), US_TCP_PARSE_OK);
  assert_int_equal(s.mss, 256);

  /* Duplicate MSS: deterministic, the last one wins. */
  const uint8_t d[] = { 2, 4, 0x01, 0x00, 2, 4, 0x02, 0x00 };
  assert_int_equal(opts(d, sizeof d, &s), US_TCP_PARSE_OK);
  assert_int_equal(s.mss, 512);

  /* 40 NOPs. */
  uint8_t nops[40];
  memset(nops, 1, sizeof nops);
  assert_int_equal(opts(nops, sizeof nops, &s), US_TCP_PARSE_OK);
}

static void test_options_bad(void **st) {
  (void)st;
  struct us_tcp_seg s;
  const uint8_t len0[] = { 99, 0, 0, 0 };
  const uint8_t len1[] = { 99, 1, 0, 0 };
  const uint8_t past[] = { 2, 8, 0, 0 };
  const uint8_t lone[] = { 1, 1, 1, 2 };
  const uint8_t mss_len0[] = { 2, 0, 0, 0 };
  assert_int_equal(opts(len0, sizeof len0, &s), US_TCP_PARSE_BAD_OPTIONS);
  assert_int_equal(opts(len1, sizeof len1, &s), US_TCP_PARSE_BAD_OPTIONS);
  assert_int_equal(opts(past, sizeof past, &s), US_TCP_PARSE_BAD_OPTIONS);
  assert_int_equal(opts(lone, sizeof lone, &s), US_TCP_PARSE_BAD_OPTIONS);
  assert_int_equal(opts(mss_len0, sizeof mss_len0, &s), US_TCP_PARSE_BAD_OPTIONS);
}

static void test_options_wrong_length_ignored(void **st) {
  (void)st;
  struct us_tcp_seg s;
  const uint8_t mss3[] = { 2, 3, 5, 1, 1, 1, 1, 1 }; /* MSS len 3 */
  const uint8_t mss5[] = { 2, 5, 5, 0, 0, 1, 1, 1 }; /* MSS len 5 */
  const uint8_t ws4[] = { 3, 4, 7, 0 };              /* WS len 4 */
  const uint8_t sp3[] = { 4, 3, 0, 1 };              /* SACK-perm len 3 */
  const uint8_t ts9[] = { 8, 9, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1 };
  const uint8_t ts11[] = { 8, 11, 0, 0, 0, 1, 0, 0, 0, 1, 0, 1 };
  assert_int_equal(opts(mss3, sizeof mss3, &s), US_TCP_PARSE_OK);
  assert_false(s.has_mss);
  assert_int_equal(opts(mss5, sizeof mss5, &s), US_TCP_PARSE_OK);
  assert_false(s.has_mss);
  assert_int_equal(opts(ws4, sizeof ws4, &s), US_TCP_PARSE_OK);
  assert_false(s.has_ws);
  assert_int_equal(opts(sp3, sizeof sp3, &s), US_TCP_PARSE_OK);
  assert_false(s.sack_perm);
  assert_int_equal(opts(ts9, sizeof ts9, &s), US_TCP_PARSE_OK);
  assert_false(s.has_ts);
  assert_int_equal(opts(ts11, sizeof ts11, &s), US_TCP_PARSE_OK);
  assert_false(s.has_ts);
}

static void test_ws_clamp(void **st) {
  (void)st;
  struct us_tcp_seg s;
  const uint8_t shifts[] = { 14, 15, 200, 255 };
  for (size_t i = 0; i < sizeof shifts; i++) {
    const uint8_t o[] = { 3, 3, shifts[i], 0 };
    assert_int_equal(opts(o, sizeof o, &s), US_TCP_PARSE_OK);
    assert_true(s.has_ws);
    assert_int_equal(s.ws, 14);
    assert_int_equal(s.ws_clamped, shifts[i] > 14);
  }
}

static void test_sack(void **st) {
  (void)st;
  struct us_tcp_seg s;
  uint8_t o[40] = { 1, 1, 5, 34 };
  for (int k = 0; k < 8; k++)
    h_wr32(o + 4 + 4 * k, (uint32_t)(1000 * (k + 1)));
  assert_int_equal(opts(o, 36, &s), US_TCP_PARSE_OK);
  assert_int_equal(s.sack_count, 4);
  assert_int_equal(s.sack[0].left, 1000);
  assert_int_equal(s.sack[3].right, 8000);
  /* 2 + 8n + 1: ignored. */
  uint8_t o2[12] = { 5, 11 };
  assert_int_equal(opts(o2, 11, &s), US_TCP_PARSE_OK);
  assert_int_equal(s.sack_count, 0);
  /* Length 2 (n = 0): ignored. */
  uint8_t o3[4] = { 5, 2, 1, 1 };
  assert_int_equal(opts(o3, 4, &s), US_TCP_PARSE_OK);
  assert_int_equal(s.sack_count, 0);
}

static size_t mk_seg(uint8_t *b, const struct us_tcp_seg *seg, const char *payload) {
  size_t pl = strlen(payload);
  size_t hl = us_tcp_hdr_len(seg);
  memcpy(b + hl, payload, pl);
  assert_int_equal(us_tcp_build(seg, b, 60, pl, ps(SRC, DST)), hl);
  return hl + pl;
}

static void test_round_trip(void **st) {
  (void)st;
  struct us_tcp_seg cases[6];
  memset(cases, 0, sizeof cases);
  for (int i = 0; i < 6; i++) {
    cases[i].sport = 12345;
    cases[i].dport = 443;
    cases[i].seq = 0xfffffff0u + (uint32_t)i;
    cases[i].ack = 0x01020304;
    cases[i].flags = US_TH_ACK | US_TH_PSH;
    cases[i].wnd = 65535;
    cases[i].urp = 7;
  }
  cases[1].flags = US_TH_SYN;
  cases[1].has_mss = true;
  cases[1].mss = 1460;
  cases[1].has_ws = true;
  cases[1].ws = 7;
  cases[1].sack_perm = true;
  cases[1].has_ts = true;
  cases[1].tsval = 111;
  cases[1].tsecr = 0;
  cases[2].has_ts = true;
  cases[2].tsval = 5;
  cases[2].tsecr = 6;
  cases[2].sack_count = 4; /* only 3 fit beside TS */
  for (int k = 0; k < 4; k++) {
    cases[2].sack[k].left = (uint32_t)(100 * k);
    cases[2].sack[k].right = (uint32_t)(100 * k + 50);
  }
  cases[3].sack_count = 4;
  for (int k = 0; k < 4; k++) {
    cases[3].sack[k].left = (uint32_t)(10 * k);
    cases[3].sack[k].right = (uint32_t)(10 * k + 5);
  }
  cases[4].sack_perm = true;
  cases[5].has_ws = true;
  cases[5].ws = 3;
  for (int i = 0; i < 6; i++) {
    uint8_t b[128];
    const char *pl = i % 2 ? "odd" : "even";
    size_t n = mk_seg(b, &cases[i], pl);
    assert_int_equal(us_tcp_hdr_len(&cases[i]) % 4, 0);
    assert_true(us_tcp_hdr_len(&cases[i]) <= 60);
    struct us_tcp_seg p;
    assert_int_equal(us_tcp_parse(b, n, ps(SRC, DST), &p), US_TCP_PARSE_OK);
    assert_int_equal(p.sport, cases[i].sport);
    assert_int_equal(p.dport, cases[i].dport);
    assert_int_equal(p.seq, cases[i].seq);
    assert_int_equal(p.ack, cases[i].ack);
    assert_int_equal(p.flags, cases[i].flags);
    assert_int_equal(p.wnd, cases[i].wnd);
    assert_int_equal(p.urp, cases[i].urp);
    assert_int_equal(p.has_mss, cases[i].has_mss);
    assert_int_equal(p.mss, cases[i].mss);
    assert_int_equal(p.has_ws, cases[i].has_ws);
    assert_int_equal(p.ws, cases[i].ws);
    assert_int_equal(p.sack_perm, cases[i].sack_perm);
    assert_int_equal(p.has_ts, cases[i].has_ts);
    assert_int_equal(p.tsval, cases[i].tsval);
    assert_int_equal(p.tsecr, cases[i].tsecr);
    size_t want_sack = i == 2 ? 3 : cases[i].sack_count;
    assert_int_equal(p.sack_count, want_sack);
    for (size_t k = 0; k < want_sack; k++) {
      assert_int_equal(p.sack[k].left, cases[i].sack[k].left);
      assert_int_equal(p.sack[k].right, cases[i].sack[k].right);
    }
    assert_int_equal(p.payload_len, strlen(pl));
    assert_memory_equal(p.payload, pl, strlen(pl));
    assert_int_equal(p.hdr_len, us_tcp_hdr_len(&cases[i]));
  }
}

static void test_header_errors(void **st) {
  (void)st;
  struct us_tcp_seg seg = {
    .sport = 1, .dport = 2, .flags = US_TH_SYN, .has_mss = true, .mss = 1000
  };
  uint8_t b[64];
  size_t n = mk_seg(b, &seg, "x");
  struct us_tcp_seg p;
  /* Checksum: flipped bit, and the right bytes from the wrong address
   * (pseudo-header mismatch, TH-1). */
  assert_int_equal(us_tcp_parse(b, n, ps(SRC, DST + 1), &p), US_TCP_PARSE_BAD_CSUM);
  b[n - 1] ^= 1;
  assert_int_equal(us_tcp_parse(b, n, ps(SRC, DST), &p), US_TCP_PARSE_BAD_CSUM);
  b[n - 1] ^= 1;
  assert_int_equal(us_tcp_parse(b, n, ps(SRC, DST), &p), US_TCP_PARSE_OK);
  /* Too short. */
  assert_int_equal(us_tcp_parse(b, 19, ps(SRC, DST), &p), US_TCP_PARSE_TOO_SHORT);
  /* Data offset < 5 and beyond the segment (DO=15 on 24 bytes). */
  uint8_t c[24];
  memcpy(c, b, 24);
  c[12] = 4 << 4;
  assert_int_equal(us_tcp_parse(c, 24, ps(SRC, DST), &p), US_TCP_PARSE_BAD_OFFSET);
  c[12] = 15 << 4;
  assert_int_equal(us_tcp_parse(c, 24, ps(SRC, DST), &p), US_TCP_PARSE_BAD_OFFSET);
  /* Bad option length with a valid checksum. */
  uint8_t d[28] = { 0 };
  h_wr16(d, 1);
  h_wr16(d + 2, 2);
  d[12] = 7 << 4;
  d[13] = US_TH_ACK;
  d[20] = 99;
  d[21] = 0;
  h_wr16(d + 16, h_csum_fold(h_csum_add(h_pseudo4(SRC, DST, 6, 28), d, 28)));
  assert_int_equal(us_tcp_parse(d, 28, ps(SRC, DST), &p), US_TCP_PARSE_BAD_OPTIONS);
}

static void test_build_cap(void **st) {
  (void)st;
  struct us_tcp_seg seg = { .has_mss = true, .mss = 1 };
  uint8_t b[64];
  assert_int_equal(us_tcp_hdr_len(&seg), 24);
  assert_int_equal(us_tcp_build(&seg, b, 23, 0, ps(SRC, DST)), 0);
  assert_int_equal(us_tcp_build(&seg, b, 24, 0, ps(SRC, DST)), 24);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_options_valid),
    cmocka_unit_test(test_options_bad),
    cmocka_unit_test(test_options_wrong_length_ignored),
    cmocka_unit_test(test_ws_clamp),
    cmocka_unit_test(test_sack),
    cmocka_unit_test(test_round_trip),
    cmocka_unit_test(test_header_errors),
    cmocka_unit_test(test_build_cap),
  };
  return H_RUN("wire_tcp", tests);
}
