/*
 * test_hostile_ip6.c - the IPv6 rows of docs/HOSTILE.md (IP6-1..IP6-13),
 * one test per row: malformed fixed headers, jumbo and zero payload
 * lengths, extension-header chains that are long, truncated, looping or
 * out of order, option action bits, RH0, tiny first fragments that hide
 * the upper-layer header, overlapping and contradictory fragments, nested
 * fragments, fragment floods, bad ICMPv6 checksums, a TCP header split
 * across fragments or rewritten by one.
 *
 * Every test checks that the datagram was dropped for the right reason
 * (the counter of that reason), that nothing was delivered that should not
 * have been, and that S sent exactly the ICMPv6 error the row asks for or
 * nothing. Inputs come from heap buffers of exactly their length, so ASan
 * catches a read past what was received; the teardown checks every pool.
 */
#include "harness.h"
#include "vectors/ip6_test_util.h"

static void tweak(struct us_config *c) {
  t6_tweak(c);
  c->reass_contexts = 8;
  c->reass_bytes_max = 8 * 8192;
  c->reass_per_source = 4;
  c->icmp_err_rate = 0; /* unlimited: every error the rows ask for is seen */
}

static int setup(void **st) {
  *st = h_stack_new(41, tweak);
  return 0;
}

/* A datagram under construction: fixed header from PEER to US, then the
 * bytes added; pk_feed fixes the payload length and hands it in. */
struct pk {
  uint8_t b[70000];
  size_t n;
};

static struct pk *pk_new(uint8_t nh) {
  struct pk *p = calloc(1, sizeof *p);
  t6_hdr(p->b, T6_PEER, T6_US, nh, 0, 64);
  p->n = 40;
  return p;
}
static void pk_add(struct pk *p, const void *b, size_t n) {
  memcpy(p->b + p->n, b, n);
  p->n += n;
}
/* An echo request with `n` data bytes as the upper layer. */
static void pk_echo(struct pk *p, size_t n) {
  uint8_t *m = calloc(1, 8 + n);
  uint8_t *d = calloc(1, n + 1);
  size_t len = t6_icmp(m, T6_PEER, T6_US, 128, 0, 0x10001, d, n);
  pk_add(p, m, len);
  free(d);
  free(m);
}
static void pk_feed(struct h_stack *h, struct pk *p, us_time_t now) {
  h_wr16(p->b + 4, (uint16_t)(p->n - 40));
  uint8_t *c = malloc(p->n);
  memcpy(c, p->b, p->n);
  h_input(h, c, p->n, now);
  free(c);
}

static void expect_count(struct h_stack *h, const struct h_snap *sn, enum us_stat id, uint64_t n) {
  if (h_snap_delta(h->s, sn, id) != n)
    fail_msg("counter %s moved by %llu, expected %llu", us_stat_name(id),
             (unsigned long long)h_snap_delta(h->s, sn, id), (unsigned long long)n);
}

/* Dropped under `reason`, nothing delivered, nothing sent. */
static void expect_silent(struct h_stack *h, const struct h_snap *sn, enum us_stat reason) {
  expect_count(h, sn, reason, 1);
  expect_count(h, sn, US_STAT_ip6_in_delivers, 0);
  assert_int_equal(h_capture_pending(&h->cap), 0);
}

/* Dropped under `reason`, nothing delivered, and exactly one parameter
 * problem with this code and pointer sent back. */
static void expect_param(struct h_stack *h, const struct h_snap *sn, enum us_stat reason,
                         uint8_t code, uint32_t ptr) {
  expect_count(h, sn, reason, 1);
  expect_count(h, sn, US_STAT_ip6_in_delivers, 0);
  size_t n;
  const uint8_t *m = t6_take_icmp(h, &n);
  assert_int_equal(m[0], 4);
  assert_int_equal(m[1], code);
  assert_int_equal(h_rd32(m + 4), ptr);
  assert_int_equal(m[8] >> 4, 6); /* the quote starts at the offending header */
  assert_int_equal(h_capture_pending(&h->cap), 0);
}

/* The datagram was answered (an echo reply went out). */
static void expect_echo_reply(struct h_stack *h) {
  size_t n;
  const uint8_t *m = t6_take_icmp(h, &n);
  assert_int_equal(m[0], 129);
  assert_int_equal(h_capture_pending(&h->cap), 0);
}

/* ---- IP6-1: short, and a payload length beyond the bytes ---------------- */

static void test_IP6_1_lengths(void **st) {
  struct h_stack *h = *st;
  struct h_snap sn;
  struct pk *p = pk_new(58);
  pk_echo(p, 8);
  for (size_t len = 1; len < 40; len += 13) {
    h_snap_take(h->s, &sn);
    uint8_t *c = malloc(len);
    memcpy(c, p->b, len);
    h_input(h, c, len, US_SEC(1));
    free(c);
    expect_silent(h, &sn, US_STAT_ip6_in_too_short);
  }
  h_wr16(p->b + 4, (uint16_t)(p->n - 40 + 1));
  uint8_t *c = malloc(p->n);
  memcpy(c, p->b, p->n);
  h_snap_take(h->s, &sn);
  h_input(h, c, p->n, US_SEC(1));
  free(c);
  expect_silent(h, &sn, US_STAT_ip6_in_bad_len);
  free(p);
}

/* ---- IP6-2: zero payload length, jumbograms ------------------------------ */

static void test_IP6_2_jumbo_and_zero(void **st) {
  struct h_stack *h = *st;
  struct h_snap sn;
  /* Payload length 0 over UDP bytes that are really there. */
  uint8_t b[96];
  t6_hdr(b, T6_PEER, T6_US, 17, 0, 64);
  t6_udp(b + 40, T6_PEER, T6_US, 1, 7, NULL, 0);
  h_snap_take(h->s, &sn);
  h_input(h, b, 48, US_SEC(1));
  expect_silent(h, &sn, US_STAT_ip6_in_zero_len);
  /* A jumbogram (RFC 2675): payload length 0, hop-by-hop with Jumbo
   * Payload claiming 70000 bytes. */
  uint8_t jumbo[6] = { 0xc2, 4, 0, 1, 0x11, 0x70 };
  size_t hl = t6_opts(b + 40, 58, 1, jumbo, sizeof jumbo);
  t6_hdr(b, T6_PEER, T6_US, 0, 0, 64);
  t6_icmp(b + 40 + hl, T6_PEER, T6_US, 128, 0, 1, NULL, 0);
  h_snap_take(h->s, &sn);
  h_input(h, b, 40 + hl + 8, US_SEC(1));
  expect_silent(h, &sn, US_STAT_ip6_in_jumbo);
  /* The Jumbo Payload option in an ordinary datagram is an option we do
   * not know, type 0xc2 (action 11): parameter problem code 2 at it. */
  h_wr16(b + 4, (uint16_t)(hl + 8));
  h_snap_take(h->s, &sn);
  h_input(h, b, 40 + hl + 8, US_SEC(1));
  expect_param(h, &sn, US_STAT_ip6_in_unknown_option, 2, 42);
}

/* ---- IP6-3: chains long, looping, truncated, out of order --------------- */

static void test_IP6_3_chains(void **st) {
  struct h_stack *h = *st;
  struct h_snap sn;
  uint8_t hdr[2048];
  /* Eight destination options headers: answered. */
  struct pk *p = pk_new(60);
  for (int i = 0; i < 8; i++)
    pk_add(p, hdr, t6_opts(hdr, i == 7 ? 58 : 60, 1, NULL, 0));
  pk_echo(p, 8);
  pk_feed(h, p, US_SEC(1));
  expect_echo_reply(h);
  free(p);
  /* A chain that "loops": every header names another of its kind, 8000
   * of them back to back. The walk stops at nine. */
  p = pk_new(60);
  for (int i = 0; i < 8000; i++)
    pk_add(p, hdr, t6_opts(hdr, 60, 1, NULL, 0));
  h_snap_take(h->s, &sn);
  pk_feed(h, p, US_SEC(1));
  expect_silent(h, &sn, US_STAT_ip6_in_ext_too_long);
  free(p);
  /* Headers whose length runs past the datagram: the largest (2048
   * bytes) in 100, and a routing header cut after its first byte. */
  p = pk_new(60);
  t6_opts(hdr, 58, 1, NULL, 0);
  hdr[1] = 255;
  pk_add(p, hdr, 100);
  h_snap_take(h->s, &sn);
  pk_feed(h, p, US_SEC(1));
  expect_silent(h, &sn, US_STAT_ip6_in_ext_truncated);
  free(p);
  p = pk_new(43);
  pk_add(p, hdr, 1);
  h_snap_take(h->s, &sn);
  pk_feed(h, p, US_SEC(1));
  expect_silent(h, &sn, US_STAT_ip6_in_ext_truncated);
  free(p);
  /* Hop-by-hop behind a destination options header: RFC 8200 4.1. */
  p = pk_new(60);
  pk_add(p, hdr, t6_opts(hdr, 0, 1, NULL, 0));
  pk_add(p, hdr, t6_opts(hdr, 58, 1, NULL, 0));
  pk_echo(p, 8);
  h_snap_take(h->s, &sn);
  pk_feed(h, p, US_SEC(1));
  expect_param(h, &sn, US_STAT_ip6_in_hbh_not_first, 1, 40);
  free(p);
}

/* ---- IP6-4: options -------------------------------------------------------- */

static void test_IP6_4_options(void **st) {
  struct h_stack *h = *st;
  struct h_snap sn;
  uint8_t hdr[16];
  struct {
    uint8_t opt[4];
    enum us_stat ctr;
    int icmp; /* 0: silent, 1: parameter problem code 2 at 42, 2: answered */
  } rows[] = {
    { { 0x1e, 2, 0, 0 }, US_STAT_icmp6_in_echos, 2 },        /* 00: skipped */
    { { 0x5e, 2, 0, 0 }, US_STAT_ip6_in_unknown_option, 0 }, /* 01: discard */
    { { 0x9e, 2, 0, 0 }, US_STAT_ip6_in_unknown_option, 1 }, /* 10: + ICMP */
    { { 0xde, 2, 0, 0 }, US_STAT_ip6_in_unknown_option, 1 }, /* 11: + ICMP, unicast */
    { { 0x1e, 9, 0, 0 }, US_STAT_ip6_in_bad_option, 0 },     /* past the header */
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    for (int hbh = 0; hbh < 2; hbh++) {
      struct pk *p = pk_new(hbh ? 0 : 60);
      pk_add(p, hdr, t6_opts(hdr, 58, 1, rows[i].opt, 4));
      pk_echo(p, 8);
      h_snap_take(h->s, &sn);
      pk_feed(h, p, US_SEC(1));
      if (rows[i].icmp == 2) {
        expect_count(h, &sn, rows[i].ctr, 1);
        expect_echo_reply(h);
      } else if (rows[i].icmp == 1) {
        expect_param(h, &sn, rows[i].ctr, 2, 42);
      } else {
        expect_silent(h, &sn, rows[i].ctr);
      }
      free(p);
    }
  }
}

/* ---- IP6-5: RH0 ------------------------------------------------------------ */

static void test_IP6_5_rh0(void **st) {
  struct h_stack *h = *st;
  struct h_snap sn;
  uint8_t hdr[64];
  /* Segments left 1: RFC 5095 3, pointer at the Routing Type. */
  struct pk *p = pk_new(43);
  pk_add(p, hdr, t6_routing(hdr, 58, 0, 1, 2));
  pk_echo(p, 8);
  h_snap_take(h->s, &sn);
  pk_feed(h, p, US_SEC(1));
  expect_param(h, &sn, US_STAT_ip6_in_rh0, 0, 42);
  free(p);
  /* Segments left 0: ignored, the echo answered. */
  p = pk_new(43);
  pk_add(p, hdr, t6_routing(hdr, 58, 0, 0, 2));
  pk_echo(p, 8);
  pk_feed(h, p, US_SEC(1));
  expect_echo_reply(h);
  free(p);
  /* A segment routing header (type 4) with segments left: we route
   * nothing. */
  p = pk_new(43);
  pk_add(p, hdr, t6_routing(hdr, 58, 4, 1, 2));
  pk_echo(p, 8);
  h_snap_take(h->s, &sn);
  pk_feed(h, p, US_SEC(1));
  expect_param(h, &sn, US_STAT_ip6_in_rh_unknown, 0, 42);
  free(p);
  /* RH0 in an ICMPv6 error: no error about an error (RFC 4443 2.4 (e.1)). */
  p = pk_new(43);
  pk_add(p, hdr, t6_routing(hdr, 58, 0, 1, 2));
  uint8_t m[16];
  pk_add(p, m, t6_icmp(m, T6_PEER, T6_US, 1, 4, 0, "12345678", 8));
  h_snap_take(h->s, &sn);
  pk_feed(h, p, US_SEC(1));
  expect_count(h, &sn, US_STAT_icmp6_out_suppressed, 1);
  expect_silent(h, &sn, US_STAT_ip6_in_rh0);
  free(p);
}

/* ---- IP6-6: tiny first fragment (RFC 7112) --------------------------------- */

static void test_IP6_6_tiny_first_fragment(void **st) {
  struct h_stack *h = *st;
  struct h_snap sn;
  uint8_t hdr[64], m[64];
  /* First fragment: fragment header, then a destination options header;
   * the ICMPv6 header is in the second fragment. */
  size_t ml = t6_icmp(m, T6_PEER, T6_US, 128, 0, 1, "abcdefgh", 8);
  struct pk *p = pk_new(44);
  t6_frag(hdr, 60, 0, true, 0x55);
  pk_add(p, hdr, 8);
  pk_add(p, hdr + 8, t6_opts(hdr + 8, 58, 1, NULL, 0));
  h_snap_take(h->s, &sn);
  pk_feed(h, p, US_SEC(1));
  /* Whether the hidden ICMPv6 message is an error cannot be told, so no
   * error is sent about it (RFC 4443 2.4 (e.1), taken the safe way). */
  expect_count(h, &sn, US_STAT_icmp6_out_suppressed, 1);
  expect_silent(h, &sn, US_STAT_ip6_in_frag_incomplete);
  expect_count(h, &sn, US_STAT_ip6_reasm_reqds, 0); /* never held */
  free(p);
  /* The second fragment alone holds nothing that can complete. */
  p = pk_new(44);
  t6_frag(hdr, 60, 8, false, 0x55);
  pk_add(p, hdr, 8);
  pk_add(p, m, ml);
  h_snap_take(h->s, &sn);
  pk_feed(h, p, US_SEC(1));
  h_poll(h, US_SEC(100));
  expect_count(h, &sn, US_STAT_ip6_reasm_timeout, 1);
  expect_count(h, &sn, US_STAT_icmp6_in_echos, 0);
  assert_int_equal(h_capture_pending(&h->cap), 0); /* no first fragment: no time exceeded */
  free(p);
  /* A UDP header hidden the same way: parameter problem, code 3 (RFC
   * 7112 5). */
  p = pk_new(44);
  t6_frag(hdr, 60, 0, true, 0x56);
  pk_add(p, hdr, 8);
  pk_add(p, hdr + 8, t6_opts(hdr + 8, 17, 1, NULL, 0));
  h_snap_take(h->s, &sn);
  pk_feed(h, p, US_SEC(200));
  expect_param(h, &sn, US_STAT_ip6_in_frag_incomplete, 3, 0);
  free(p);
}

/* ---- IP6-7: overlapping fragments (RFC 5722) ------------------------------- */

static void send_piece(struct h_stack *h, const uint8_t *m, size_t off, size_t n, bool mf,
                       uint32_t id, us_time_t now) {
  struct pk *p = pk_new(44);
  uint8_t fh[8];
  t6_frag(fh, 58, (uint16_t)off, mf, id);
  pk_add(p, fh, 8);
  pk_add(p, m + off, n);
  pk_feed(h, p, now);
  free(p);
}

static void test_IP6_7_overlap(void **st) {
  struct h_stack *h = *st;
  struct h_snap sn;
  uint8_t m[4096];
  uint8_t d[2000] = { 0 };
  size_t ml = t6_icmp(m, T6_PEER, T6_US, 128, 0, 1, d, sizeof d);
  /* [0,1000) then [992,2008): overlap by one block. */
  h_snap_take(h->s, &sn);
  send_piece(h, m, 0, 1000, true, 1, US_SEC(1));
  send_piece(h, m, 992, ml - 992, false, 1, US_SEC(1));
  expect_count(h, &sn, US_STAT_ip6_reasm_overlap, 1);
  expect_count(h, &sn, US_STAT_ip6_reasm_fails, 1);
  /* The whole datagram is gone: the exact remaining piece completes
   * nothing, it starts a new datagram that times out. */
  send_piece(h, m, 1000, ml - 1000, false, 1, US_SEC(1));
  assert_int_equal(h_capture_pending(&h->cap), 0);
  expect_count(h, &sn, US_STAT_ip6_reasm_oks, 0);
  /* An exact duplicate is an overlap too. */
  h_snap_take(h->s, &sn);
  send_piece(h, m, 0, 1000, true, 2, US_SEC(1));
  send_piece(h, m, 0, 1000, true, 2, US_SEC(1));
  expect_count(h, &sn, US_STAT_ip6_reasm_overlap, 1);
  /* A last fragment that rewrites bytes of the first (the echo's
   * identifier and data): overlap, never delivered. */
  h_snap_take(h->s, &sn);
  send_piece(h, m, 0, 16, true, 3, US_SEC(1));
  send_piece(h, m, 8, ml - 8, false, 3, US_SEC(1));
  expect_count(h, &sn, US_STAT_ip6_reasm_overlap, 1);
  expect_count(h, &sn, US_STAT_icmp6_in_echos, 0);
  assert_int_equal(h_capture_pending(&h->cap), 0);
  /* Offset 0 with M clear is an atomic fragment (RFC 6946): a datagram
   * of its own, whatever is being reassembled under its identification. */
  send_piece(h, m, 0, 16, true, 4, US_SEC(1));
  ml = t6_icmp(m, T6_PEER, T6_US, 128, 0, 1, d, 100);
  h_snap_take(h->s, &sn);
  send_piece(h, m, 0, ml, false, 4, US_SEC(1));
  expect_count(h, &sn, US_STAT_ip6_reasm_overlap, 0);
  expect_count(h, &sn, US_STAT_ip6_in_atomic_frags, 1);
  expect_echo_reply(h);
}

/* ---- IP6-8: fragment header fields (RFC 8200 4.5) -------------------------- */

static void test_IP6_8_fragment_fields(void **st) {
  struct h_stack *h = *st;
  struct h_snap sn;
  uint8_t m[128] = { 0 };
  t6_icmp(m, T6_PEER, T6_US, 128, 0, 1, NULL, 0); /* an echo: errors about it are allowed */
  /* M set, 12 bytes: pointer at Payload Length. */
  h_snap_take(h->s, &sn);
  send_piece(h, m, 0, 12, true, 9, US_SEC(1));
  expect_param(h, &sn, US_STAT_ip6_in_frag_bad, 0, 4);
  /* Offset 65528 + 16 bytes: pointer at the Fragment Offset. */
  struct pk *p = pk_new(44);
  uint8_t fh[8];
  t6_frag(fh, 58, 65528, false, 9);
  pk_add(p, fh, 8);
  pk_add(p, m, 16);
  h_snap_take(h->s, &sn);
  pk_feed(h, p, US_SEC(1));
  expect_param(h, &sn, US_STAT_ip6_in_frag_bad, 0, 42);
  free(p);
  /* Zero-length fragment and two different last fragments. */
  p = pk_new(44);
  t6_frag(fh, 58, 64, false, 10);
  pk_add(p, fh, 8);
  h_snap_take(h->s, &sn);
  pk_feed(h, p, US_SEC(1));
  expect_count(h, &sn, US_STAT_ip6_reasm_bad_frag, 1);
  free(p);
  h_snap_take(h->s, &sn);
  send_piece(h, m, 16, 16, false, 11, US_SEC(1));
  send_piece(h, m, 40, 16, false, 11, US_SEC(1));
  expect_count(h, &sn, US_STAT_ip6_reasm_bad_frag, 1);
  assert_int_equal(h_capture_pending(&h->cap), 0);
}

/* ---- IP6-9: a fragment inside a fragment ----------------------------------- */

static void test_IP6_9_nested(void **st) {
  struct h_stack *h = *st;
  struct h_snap sn;
  /* The fragmentable part starts with another (non-atomic) fragment
   * header: caught in the first fragment, which must hold the chain. */
  uint8_t inner[64];
  t6_frag(inner, 58, 0, true, 77);
  size_t il = 8 + t6_icmp(inner + 8, T6_PEER, T6_US, 128, 0, 1, "abcdefgh", 8);
  struct pk *p = pk_new(44);
  uint8_t fh[8];
  t6_frag(fh, 44, 0, false, 78); /* outer: atomic, so the inner is the fragment */
  pk_add(p, fh, 8);
  pk_add(p, inner, il);
  h_snap_take(h->s, &sn);
  pk_feed(h, p, US_SEC(1));
  /* An atomic outer fragment is skipped (RFC 6946); the inner one is a
   * first fragment holding its whole chain: it waits for the rest. */
  expect_count(h, &sn, US_STAT_ip6_in_atomic_frags, 1);
  expect_count(h, &sn, US_STAT_ip6_reasm_reqds, 1);
  free(p);
  /* Two real fragment headers back to back. */
  p = pk_new(44);
  t6_frag(fh, 44, 0, true, 79);
  pk_add(p, fh, 8);
  pk_add(p, inner, il);
  h_snap_take(h->s, &sn);
  pk_feed(h, p, US_SEC(1));
  expect_silent(h, &sn, US_STAT_ip6_in_frag_nested);
  free(p);
}

/* ---- IP6-10: bad ICMPv6 checksums ------------------------------------------ */

static void test_IP6_10_icmp_checksum(void **st) {
  struct h_stack *h = *st;
  struct h_snap sn;
  uint8_t m[64];
  size_t ml = t6_icmp(m, T6_PEER, T6_US, 128, 0, 1, "abcdefghi", 9);
  for (size_t bit = 0; bit < ml * 8; bit += 7) {
    m[bit / 8] ^= (uint8_t)(1 << (bit % 8));
    h_snap_take(h->s, &sn);
    t6_send(h, T6_PEER, T6_US, 58, m, ml, US_SEC(1));
    expect_count(h, &sn, US_STAT_icmp6_in_errors, 1);
    expect_count(h, &sn, US_STAT_icmp6_in_echos, 0);
    assert_int_equal(h_capture_pending(&h->cap), 0);
    m[bit / 8] ^= (uint8_t)(1 << (bit % 8));
  }
  /* The same message sent to us from another source fails too: the
   * pseudo-header is covered. */
  h_snap_take(h->s, &sn);
  t6_send(h, T6_OTHER, T6_US, 58, m, ml, US_SEC(1));
  expect_count(h, &sn, US_STAT_icmp6_in_errors, 1);
  assert_int_equal(h_capture_pending(&h->cap), 0);
  /* Intact, it is answered: the drops above were the checksum's. */
  t6_send(h, T6_PEER, T6_US, 58, m, ml, US_SEC(1));
  expect_echo_reply(h);
}

/* ---- IP6-11: a flood of incomplete datagrams ------------------------------- */

static void test_IP6_11_flood(void **st) {
  struct h_stack *h = *st;
  uint8_t m[4096] = { 0 };
  for (uint32_t id = 0; id < 5000; id++)
    send_piece(h, m, 8, 1024, true, id, US_SEC(1) + id);
  struct us_pool_usage pu;
  us_stack_pool_usage(h->s, &pu);
  assert_true(pu.reass_active <= 4); /* reass_per_source */
  assert_true(h_stat(h, US_STAT_ip6_reasm_evicted_source) >= 4990);
  assert_int_equal(h_capture_pending(&h->cap), 0);
  /* A real datagram from the same source still gets through. */
  assert_int_equal(t6_echo(h, 3000, 1, 1, 1232, 1500, US_SEC(2)), 3);
  h_poll(h, US_SEC(1000));
  us_stack_pool_usage(h->s, &pu);
  assert_int_equal(pu.reass_active, 0);
  assert_true(h_stat(h, US_STAT_ip6_reasm_timeout) >= 1);
  /* Timeouts of datagrams whose first fragment never came: no error. */
  assert_int_equal(h_stat(h, US_STAT_icmp6_out_time_excds), 0);
}

/* ---- IP6-12: a huge unfragmentable part ------------------------------------ */

static void test_IP6_12_long_unfragmentable(void **st) {
  struct h_stack *h = *st;
  struct h_snap sn;
  uint8_t hdr[512], m[64] = { 0 };
  struct pk *p = pk_new(60);
  pk_add(p, hdr, t6_opts(hdr, 44, 32, NULL, 0)); /* 256 bytes of options */
  uint8_t fh[8];
  t6_frag(fh, 58, 0, true, 5);
  pk_add(p, fh, 8);
  pk_add(p, m, 16);
  h_snap_take(h->s, &sn);
  pk_feed(h, p, US_SEC(1));
  expect_silent(h, &sn, US_STAT_ip6_reasm_hdr_too_long);
  expect_count(h, &sn, US_STAT_ip6_reasm_reqds, 0);
  free(p);
  /* 216 bytes of options (256 with the fixed header) are kept, and the
   * datagram reassembled around them. */
  size_t ml = t6_icmp(m, T6_PEER, T6_US, 128, 0, 1, "abcdefgh01234567", 16);
  for (int i = 0; i < 2; i++) {
    p = pk_new(60);
    pk_add(p, hdr, t6_opts(hdr, 44, 27, NULL, 0));
    t6_frag(fh, 58, (uint16_t)(i * 16), i == 0, 6);
    pk_add(p, fh, 8);
    pk_add(p, m + i * 16, i == 0 ? 16 : ml - 16);
    pk_feed(h, p, US_SEC(1));
    free(p);
  }
  expect_echo_reply(h);
}

/* ---- IP6-13: a TCP header split across fragments (FR-5 over IPv6) --------- */

/* One fragment of `seg`: bytes [off, off + n) behind a fragment header. */
static void tcp_piece(struct h_stack *h, const uint8_t *seg, size_t off, size_t n, bool mf,
                      uint32_t id, us_time_t now) {
  struct pk *p = pk_new(44);
  uint8_t fh[8];
  t6_frag(fh, 6, (uint16_t)off, mf, id);
  pk_add(p, fh, 8);
  pk_add(p, seg + off, n);
  pk_feed(h, p, now);
  free(p);
}

/* A SYN with 32 data bytes to a listener, in two fragments: cut inside
 * the TCP header it is refused at the first fragment (RFC 7112 5); whole
 * in the first fragment but rewritten by an overlapping second one (the
 * flags made SYN+FIN, RFC 1858 3) the datagram is dropped (RFC 5722), so
 * TCP never sees a segment; the same SYN cut cleanly draws a SYN-ACK. */
static void test_IP6_13_tcp_header_split(void **st) {
  struct h_stack *h = *st;
  us_sock_t l;
  assert_int_equal(us_tcp_socket(h->s, &l), 0);
  assert_int_equal(us_tcp_bind(h->s, l, 80), 0);
  assert_int_equal(us_tcp_listen(h->s, l, 8), 0);
  static const uint8_t mss[4] = { 2, 4, 0x05, 0xa0 };
  uint8_t data[32] = { 0 }, seg[64], bad[64];
  struct h_tcp syn = { .sport = 4000,
                       .dport = 80,
                       .seq = 1,
                       .flags = 0x02,
                       .wnd = 65535,
                       .opts = mss,
                       .opt_len = 4,
                       .data = data,
                       .len = sizeof data };
  struct h_ip ip = h_ip6_to_us(6);
  size_t n = h_tcp_build(seg, &ip, &syn);
  assert_int_equal(n, 56);
  struct h_snap sn;

  /* Ports and sequence number in the first fragment, the rest (flags,
   * window, checksum, MSS) in the second. */
  h_snap_take(h->s, &sn);
  tcp_piece(h, seg, 0, 8, true, 0x61, US_SEC(1));
  expect_param(h, &sn, US_STAT_ip6_in_frag_incomplete, 3, 0);
  expect_count(h, &sn, US_STAT_ip6_reasm_reqds, 0); /* never held */
  tcp_piece(h, seg, 8, n - 8, false, 0x61, US_SEC(1));
  h_poll(h, US_SEC(100));
  expect_count(h, &sn, US_STAT_ip6_reasm_timeout, 1);
  expect_count(h, &sn, US_STAT_tcp_in_segs, 0);
  assert_int_equal(h_capture_pending(&h->cap), 0);

  /* A whole header first, then a fragment at offset 8 whose byte 13
   * makes the flags SYN+FIN. */
  memcpy(bad, seg, n);
  bad[13] = 0x03;
  h_snap_take(h->s, &sn);
  tcp_piece(h, seg, 0, 32, true, 0x62, US_SEC(200));
  tcp_piece(h, bad, 8, n - 8, false, 0x62, US_SEC(200));
  h_poll(h, US_SEC(200));
  expect_count(h, &sn, US_STAT_ip6_reasm_overlap, 1);
  expect_count(h, &sn, US_STAT_ip6_reasm_oks, 0);
  expect_count(h, &sn, US_STAT_tcp_in_segs, 0);
  assert_int_equal(h_capture_pending(&h->cap), 0);

  /* Cut after the header: reassembled, and answered with a SYN-ACK. */
  h_snap_take(h->s, &sn);
  tcp_piece(h, seg, 0, 32, true, 0x63, US_SEC(300));
  tcp_piece(h, seg, 32, n - 32, false, 0x63, US_SEC(300));
  h_poll(h, US_SEC(300));
  expect_count(h, &sn, US_STAT_ip6_reasm_oks, 1);
  expect_count(h, &sn, US_STAT_tcp_in_segs, 1);
  const struct h_pkt *r = h_capture_take(&h->cap);
  assert_non_null(r);
  assert_int_equal(r->data[0] >> 4, 6);
  assert_int_equal(r->data[6], 6);
  assert_int_equal(r->data[40 + 13], 0x12);      /* SYN-ACK */
  assert_int_equal(h_rd32(r->data + 40 + 8), 2); /* it acknowledges the SYN */
  us_tcp_close(h->s, l, US_SEC(300));
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_IP6_1_lengths, setup, h_teardown_drained),
    cmocka_unit_test_setup_teardown(test_IP6_2_jumbo_and_zero, setup, h_teardown_drained),
    cmocka_unit_test_setup_teardown(test_IP6_3_chains, setup, h_teardown_drained),
    cmocka_unit_test_setup_teardown(test_IP6_4_options, setup, h_teardown_drained),
    cmocka_unit_test_setup_teardown(test_IP6_5_rh0, setup, h_teardown_drained),
    cmocka_unit_test_setup_teardown(test_IP6_6_tiny_first_fragment, setup, h_teardown_drained),
    cmocka_unit_test_setup_teardown(test_IP6_7_overlap, setup, h_teardown_drained),
    cmocka_unit_test_setup_teardown(test_IP6_8_fragment_fields, setup, h_teardown_drained),
    cmocka_unit_test_setup_teardown(test_IP6_9_nested, setup, h_teardown_drained),
    cmocka_unit_test_setup_teardown(test_IP6_10_icmp_checksum, setup, h_teardown_drained),
    cmocka_unit_test_setup_teardown(test_IP6_11_flood, setup, h_teardown_drained),
    cmocka_unit_test_setup_teardown(test_IP6_12_long_unfragmentable, setup, h_teardown_drained),
    cmocka_unit_test_setup_teardown(test_IP6_13_tcp_header_split, setup, h_teardown_drained),
  };
  return H_RUN("hostile_ip6", tests);
}
