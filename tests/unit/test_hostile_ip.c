/*
 * test_hostile_ip.c - the IPv4 header and fragment rows of docs/HOSTILE.md
 * (IP-1..IP-11, FR-1..FR-5), one test per row.
 *
 * Every test checks four things: the datagram was dropped (or handled) for
 * the right reason, as the counter of that reason shows; nothing reached a
 * transport protocol that should not have; S's output (if any) is exactly
 * the reply the row asks for, and nothing else; and every pool is back to
 * full at the end. Malformed datagrams are handed in from heap buffers of
 * exactly their length, so ASan catches any read past what was received.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

#define BCAST US_IP4(10, 0, 0, 255)

/* ---- helpers --------------------------------------------------------------- */

/* Hand in `len` bytes from an exact-size heap copy (ASan sees over-reads). */
static void feed(struct h_stack *h, const uint8_t *b, size_t len, us_time_t now) {
  uint8_t *c = malloc(len ? len : 1);
  assert_non_null(c);
  memcpy(c, b, len);
  h_input(h, c, len, now);
  free(c);
  h_poll(h, now);
}

/* The datagram was dropped silently under `reason`: counted once, nothing
 * delivered to a transport, nothing emitted. */
static void expect_silent_drop(struct h_stack *h, const struct h_snap *sn, enum us_stat reason) {
  if (h_snap_delta(h->s, sn, reason) != 1)
    fail_msg("counter %s moved by %llu, expected 1", us_stat_name(reason),
             (unsigned long long)h_snap_delta(h->s, sn, reason));
  assert_int_equal(h_snap_delta(h->s, sn, US_STAT_ip_in_delivers), 0);
  assert_int_equal(h_snap_delta(h->s, sn, US_STAT_udp_in_datagrams), 0);
  assert_int_equal(h_snap_delta(h->s, sn, US_STAT_tcp_in_segs), 0);
  assert_int_equal(h_capture_pending(&h->cap), 0);
}

/* Run the clock past every timer (reassembly timeout included) and check
 * that every pool is full. */
static int setup(void **st) {
  *st = h_stack_new(0x1905, NULL);
  return 0;
}

/* A valid UDP datagram from the peer to port `dport` with `n` bytes. */
static size_t udp_dgram(uint8_t *out, uint16_t dport, size_t n, const uint8_t *opts,
                        size_t optlen) {
  uint8_t u[8 + 64];
  uint8_t data[64];
  for (size_t i = 0; i < n; i++)
    data[i] = (uint8_t)(0x30 + i);
  size_t ul = h_udp_build(u, H_IP4(H_PEER, H_US, 17), 5555, dport, data, n);
  struct h_ip ih = {
    .src = H_PEER, .dst = H_US, .proto = 17, .id = 7, .opts = opts, .opt_len = optlen
  };
  return h_ip_build(out, &ih, u, ul);
}

static us_sock_t udp_sock(struct h_stack *h, uint16_t port) {
  us_sock_t s;
  assert_int_equal(us_udp_open(h->s, &s), 0);
  assert_int_equal(us_udp_bind(h->s, s, port), 0);
  return s;
}

/* A TCP SYN from `src`:sport to `dst`:dport (no options). */
static size_t tcp_syn(uint8_t *out, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport) {
  uint8_t t[20];
  struct h_tcp syn = {
    .sport = sport, .dport = dport, .seq = 0x01020304, .flags = 0x02, .wnd = 65535
  };
  struct h_ip ih = { .src = src, .dst = dst, .proto = 6, .id = 9 };
  return h_ip_build(out, &ih, t, h_tcp_build(t, &ih, &syn));
}

static us_sock_t tcp_listener(struct h_stack *h, uint16_t port) {
  us_sock_t l;
  assert_int_equal(us_tcp_socket(h->s, &l), 0);
  assert_int_equal(us_tcp_bind(h->s, l, port), 0);
  assert_int_equal(us_tcp_listen(h->s, l, 8), 0);
  return l;
}

static size_t tcb_count(struct h_stack *h) {
  struct us_tcp_info v[16];
  return us_tcp_list(h->s, v, 16);
}

/* ---- IP-1: version != 4 ------------------------------------------------------ */

static void test_IP_1_version(void **st) {
  struct h_stack *h = *st;
  static const int versions[] = { 0, 5, 6, 15 };
  uint8_t b[64];
  size_t n = udp_dgram(b, 7, 8, NULL, 0);
  us_sock_t u = udp_sock(h, 7);
  for (size_t i = 0; i < 4; i++) {
    struct h_snap sn;
    h_snap_take(h->s, &sn);
    b[0] = (uint8_t)(versions[i] << 4 | 5);
    feed(h, b, n, 0);
    if (versions[i] == 6) {
      /* Version 6 goes to IPv6 input, for which 28 bytes are too short. */
      expect_silent_drop(h, &sn, US_STAT_ip6_in_too_short);
      assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_ip6_in_hdr_errors), 1);
      continue;
    }
    expect_silent_drop(h, &sn, US_STAT_ip_in_bad_version);
    assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_ip_in_hdr_errors), 1);
  }
  us_udp_close(h->s, u);
  h_finish(h, 0);
}

/* ---- IP-2: IHL < 5 ------------------------------------------------------------ */

static void test_IP_2_ihl_below_5(void **st) {
  struct h_stack *h = *st;
  uint8_t b[64];
  udp_dgram(b, 7, 8, NULL, 0);
  for (int ihl = 0; ihl < 5; ihl++) {
    struct h_snap sn;
    h_snap_take(h->s, &sn);
    b[0] = (uint8_t)(0x40 | ihl);
    /* Exactly 20 bytes: nothing past byte 20 may be read. */
    feed(h, b, 20, 0);
    expect_silent_drop(h, &sn, US_STAT_ip_in_bad_ihl);
  }
  h_finish(h, 0);
}

/* ---- IP-3: IHL*4 beyond the total length or the bytes received ------------------ */

static void test_IP_3_ihl_beyond(void **st) {
  struct h_stack *h = *st;
  uint8_t b[64];
  /* IHL = 15 in a 20-byte packet. */
  struct h_ip ih = { .src = H_PEER, .dst = H_US, .proto = 17 };
  h_ip_build(b, &ih, NULL, 0);
  b[0] = 0x4f;
  h_wr16(b + 10, 0);
  h_wr16(b + 10, h_csum(b, 20));
  struct h_snap sn;
  h_snap_take(h->s, &sn);
  feed(h, b, 20, 0);
  expect_silent_drop(h, &sn, US_STAT_ip_in_bad_ihl);

  /* IHL = 6 (24 bytes), total length 20, 28 bytes received. */
  memset(b, 0, 28);
  b[0] = 0x46;
  h_wr16(b + 2, 20);
  b[8] = 64;
  b[9] = 17;
  h_wr32(b + 12, H_PEER);
  h_wr32(b + 16, H_US);
  h_wr16(b + 10, h_csum(b, 24));
  h_snap_take(h->s, &sn);
  feed(h, b, 28, 0);
  expect_silent_drop(h, &sn, US_STAT_ip_in_bad_len);
  h_finish(h, 0);
}

/* ---- IP-4: total length 0, or below IHL*4 -------------------------------------- */

static void test_IP_4_total_len_small(void **st) {
  struct h_stack *h = *st;
  static const uint16_t tots[] = { 0, 1, 12, 19 };
  uint8_t b[64];
  for (size_t i = 0; i < 4; i++) {
    size_t n = udp_dgram(b, 7, 8, NULL, 0);
    h_wr16(b + 2, tots[i]);
    h_wr16(b + 10, 0);
    h_wr16(b + 10, h_csum(b, 20));
    struct h_snap sn;
    h_snap_take(h->s, &sn);
    feed(h, b, n, 0);
    expect_silent_drop(h, &sn, US_STAT_ip_in_bad_len);
  }
  h_finish(h, 0);
}

/* ---- IP-5: total length beyond the bytes received ------------------------------- */

static void test_IP_5_total_len_beyond(void **st) {
  struct h_stack *h = *st;
  uint8_t b[64];
  us_sock_t u = udp_sock(h, 7);
  size_t n = udp_dgram(b, 7, 12, NULL, 0); /* 40 bytes */
  assert_int_equal(n, 40);
  h_wr16(b + 2, 1500);
  h_wr16(b + 10, 0);
  h_wr16(b + 10, h_csum(b, 20));
  struct h_snap sn;
  h_snap_take(h->s, &sn);
  feed(h, b, n, 0);
  expect_silent_drop(h, &sn, US_STAT_ip_in_bad_len);
  /* One byte short. */
  n = udp_dgram(b, 7, 12, NULL, 0);
  h_snap_take(h->s, &sn);
  feed(h, b, n - 1, 0);
  expect_silent_drop(h, &sn, US_STAT_ip_in_bad_len);
  us_udp_close(h->s, u);
  h_finish(h, 0);
}

/* ---- IP-6: trailing padding is trimmed, never payload ----------------------------- */

static void test_IP_6_padding_trimmed(void **st) {
  struct h_stack *h = *st;
  uint8_t b[128];
  us_sock_t u = udp_sock(h, 7);
  size_t n = udp_dgram(b, 7, 10, NULL, 0);
  memset(b + n, 0xee, 18); /* Ethernet-style padding */
  struct h_snap sn;
  h_snap_take(h->s, &sn);
  feed(h, b, n + 18, 0);
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_ip_in_trimmed), 1);
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_udp_in_datagrams), 1);
  uint8_t got[64];
  long r = us_udp_recvfrom(h->s, u, got, sizeof got, NULL);
  assert_int_equal(r, 10); /* the padding is not data */
  for (int i = 0; i < 10; i++)
    assert_int_equal(got[i], 0x30 + i);
  us_udp_close(h->s, u);
  h_finish(h, 0);
}

/* ---- IP-7: bad header checksum ------------------------------------------------------ */

static void test_IP_7_bad_checksum(void **st) {
  struct h_stack *h = *st;
  uint8_t b[64];
  us_sock_t u = udp_sock(h, 7);
  size_t n = udp_dgram(b, 7, 8, NULL, 0);
  b[10] ^= 0x01;
  struct h_snap sn;
  h_snap_take(h->s, &sn);
  feed(h, b, n, 0);
  expect_silent_drop(h, &sn, US_STAT_ip_in_bad_csum);
  /* A flipped bit elsewhere in the header, checksum left as it was. */
  n = udp_dgram(b, 7, 8, NULL, 0);
  b[8] ^= 0x10;
  h_snap_take(h->s, &sn);
  feed(h, b, n, 0);
  expect_silent_drop(h, &sn, US_STAT_ip_in_bad_csum);
  us_udp_close(h->s, u);
  h_finish(h, 0);
}

/* ---- IP-8: IP options ----------------------------------------------------------------- */

static void test_IP_8_options(void **st) {
  struct h_stack *h = *st;
  uint8_t b[128];
  us_sock_t u = udp_sock(h, 7);
  struct h_snap sn;
  uint8_t got[64];

  /* Malformed: length 0, length 1, past the header, kind with no length. */
  static const uint8_t bad[][4] = {
    { 0x44, 0, 0, 0 }, { 0x44, 1, 0, 0 }, { 0x44, 5, 0, 0 }, { 0x88, 40, 1, 1 }, { 1, 1, 1, 0x44 }
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    size_t n = udp_dgram(b, 7, 8, bad[i], 4);
    h_snap_take(h->s, &sn);
    feed(h, b, n, 0);
    expect_silent_drop(h, &sn, US_STAT_ip_in_bad_options);
  }

  /* 40 NOPs: a bounded walk, then delivered. */
  uint8_t nops[40];
  memset(nops, 1, sizeof nops);
  size_t n = udp_dgram(b, 7, 8, nops, 40);
  h_snap_take(h->s, &sn);
  feed(h, b, n, 0);
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_udp_in_datagrams), 1);
  assert_int_equal(us_udp_recvfrom(h->s, u, got, sizeof got, NULL), 8);

  /* Unknown option with a valid length: ignored (MUST-50), delivered. */
  static const uint8_t unk[8] = { 0x9e, 6, 1, 2, 3, 4, 0, 0 };
  n = udp_dgram(b, 7, 8, unk, 8);
  h_snap_take(h->s, &sn);
  feed(h, b, n, 0);
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_udp_in_datagrams), 1);
  assert_int_equal(us_udp_recvfrom(h->s, u, got, sizeof got, NULL), 8);

  /* LSRR and SSRR: dropped (RFC 7126 policy, documented in ip4_input.c). */
  static const uint8_t lsrr[8] = { 131, 7, 4, 10, 0, 0, 9, 0 };
  static const uint8_t ssrr[8] = { 137, 7, 4, 10, 0, 0, 9, 0 };
  n = udp_dgram(b, 7, 8, lsrr, 8);
  h_snap_take(h->s, &sn);
  feed(h, b, n, 0);
  expect_silent_drop(h, &sn, US_STAT_ip_in_src_route);
  n = udp_dgram(b, 7, 8, ssrr, 8);
  h_snap_take(h->s, &sn);
  feed(h, b, n, 0);
  expect_silent_drop(h, &sn, US_STAT_ip_in_src_route);
  us_udp_close(h->s, u);
  h_finish(h, 0);
}

/* ---- IP-9: SYN from a martian source, LAND ------------------------------------------------ */

static void test_IP_9_martian_syn(void **st) {
  struct h_stack *h = *st;
  us_sock_t l = tcp_listener(h, 80);
  static const uint32_t srcs[] = { US_IP4(0, 0, 0, 0),
                                   US_IP4(255, 255, 255, 255),
                                   US_IP4(224, 0, 0, 1),
                                   US_IP4(127, 0, 0, 1),
                                   BCAST,
                                   US_IP4(240, 0, 0, 1) };
  uint8_t b[64];
  for (size_t i = 0; i < sizeof srcs / sizeof srcs[0]; i++) {
    size_t n = tcp_syn(b, srcs[i], H_US, 1234, 80);
    struct h_snap sn;
    h_snap_take(h->s, &sn);
    feed(h, b, n, 0);
    /* Dropped before TCP by the IP layer's source check. */
    expect_silent_drop(h, &sn, US_STAT_ip_in_martian);
    assert_int_equal(tcb_count(h), 1); /* the listener only */
  }
  /* LAND: our own address as source, sport == dport. */
  size_t n = tcp_syn(b, H_US, H_US, 80, 80);
  struct h_snap sn;
  h_snap_take(h->s, &sn);
  feed(h, b, n, 0);
  if (h_snap_delta(h->s, &sn, US_STAT_ip_in_martian) +
          h_snap_delta(h->s, &sn, US_STAT_tcp_martian_syn) !=
      1)
    fail_msg("LAND SYN not counted as martian");
  assert_int_equal(h_capture_pending(&h->cap), 0);
  assert_int_equal(tcb_count(h), 1);
  us_tcp_close(h->s, l, 0);
  h_finish(h, 0);
}

/* ---- IP-10: TCP to a broadcast or multicast destination --------------------------------- */

static void test_IP_10_tcp_to_broadcast(void **st) {
  struct h_stack *h = *st;
  us_sock_t l = tcp_listener(h, 80);
  struct {
    uint32_t dst;
    enum us_stat why;
  } cases[] = { { BCAST, US_STAT_ip_in_bcast_proto },
                { US_IP4(255, 255, 255, 255), US_STAT_ip_in_bcast_proto },
                { US_IP4(224, 0, 0, 1), US_STAT_ip_in_multicast },
                { US_IP4(239, 1, 2, 3), US_STAT_ip_in_multicast } };
  uint8_t b[64];
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    size_t n = tcp_syn(b, H_PEER, cases[i].dst, 1234, 80);
    struct h_snap sn;
    h_snap_take(h->s, &sn);
    feed(h, b, n, 0);
    expect_silent_drop(h, &sn, cases[i].why);
    assert_int_equal(tcb_count(h), 1);
  }
  us_tcp_close(h->s, l, 0);
  h_finish(h, 0);
}

/* ---- IP-11: unknown protocol -> protocol unreachable with an exact quote ----------------- */

static void check_proto_unreach(struct h_stack *h, const uint8_t *orig, size_t orig_len) {
  const struct h_pkt *p = h_capture_take(&h->cap);
  assert_non_null(p);
  struct h_out o;
  h_out_check(p, &o);
  assert_int_equal(o.proto, 1);
  assert_int_equal(o.src, H_US);
  assert_int_equal(o.dst, H_PEER);
  size_t want_quote = 20 + (orig_len - 20 < 8 ? orig_len - 20 : 8);
  assert_int_equal(o.payload_len, 8 + want_quote);
  assert_int_equal(o.payload[0], 3); /* destination unreachable */
  assert_int_equal(o.payload[1], 2); /* protocol unreachable */
  assert_int_equal(h_csum(o.payload, o.payload_len), 0);
  assert_memory_equal(o.payload + 8, orig, want_quote);
  assert_null(h_capture_take(&h->cap));
}

static void test_IP_11_unknown_proto(void **st) {
  struct h_stack *h = *st;
  static const size_t lens[] = { 1, 11, 0, 8 };
  uint8_t pay[16], b[64];
  for (size_t i = 0; i < sizeof pay; i++)
    pay[i] = (uint8_t)(0xa0 + i);
  for (size_t i = 0; i < 4; i++) {
    struct h_ip ih = { .src = H_PEER, .dst = H_US, .proto = 0x22, .id = (uint16_t)(100 + i) };
    size_t n = h_ip_build(b, &ih, pay, lens[i]);
    struct h_snap sn;
    h_snap_take(h->s, &sn);
    feed(h, b, n, US_SEC((int)i));
    assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_ip_in_unknown_protos), 1);
    assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_icmp_out_dest_unreachs), 1);
    check_proto_unreach(h, b, n);
  }
  h_finish(h, US_SEC(4));
}

/* ---- fragments ------------------------------------------------------------------------------ */

/* One fragment: `len` bytes of `l4` at byte offset `off`, MF as given. */
static void frag(struct h_stack *h, uint8_t proto, uint16_t id, const uint8_t *l4, uint16_t off,
                 size_t len, bool mf, us_time_t now) {
  uint8_t b[2048];
  struct h_ip ih = {
    .src = H_PEER, .dst = H_US, .proto = proto, .id = id, .frag_off = off, .mf = mf
  };
  size_t n = h_ip_build(b, &ih, l4 + off, len);
  feed(h, b, n, now);
}

/* An echo request of `n` bytes in total (ICMP header included). */
static void echo_req(uint8_t *out, size_t n, uint16_t seq) {
  uint8_t data[2048];
  for (size_t i = 0; i + 8 < n; i++)
    data[i] = (uint8_t)(i * 7);
  h_icmp_build(out, 8, 0, 0x77000000u | seq, data, n - 8);
}

/* FR-1: teardrop. */
static void test_FR_1_overlap(void **st) {
  struct h_stack *h = *st;
  uint8_t m[64];
  echo_req(m, 48, 1);
  struct h_snap sn;
  h_snap_take(h->s, &sn);
  frag(h, 1, 0x100, m, 0, 24, true, 0);
  frag(h, 1, 0x100, m, 16, 32, false, 0); /* starts inside the first */
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_ip_reasm_overlap), 1);
  /* The whole datagram is gone: the missing parts do not complete it. */
  frag(h, 1, 0x100, m, 24, 24, false, 0);
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_ip_reasm_oks), 0);
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_icmp_in_echos), 0);
  assert_int_equal(h_capture_pending(&h->cap), 0);
  /* An exact duplicate is an overlap too. */
  h_snap_take(h->s, &sn);
  frag(h, 1, 0x101, m, 0, 24, true, 0);
  frag(h, 1, 0x101, m, 0, 24, true, 0);
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_ip_reasm_overlap), 1);
  assert_int_equal(h_capture_pending(&h->cap), 0);
  h_finish(h, 0);
}

/* FR-2: ping of death. */
static void test_FR_2_oversize(void **st) {
  struct h_stack *h = *st;
  static uint8_t m[65536 + 64];
  memset(m, 0x55, sizeof m);
  struct h_snap sn;
  h_snap_take(h->s, &sn);
  frag(h, 1, 0x200, m, 0, 64, true, 0);
  frag(h, 1, 0x200, m, 0x1fff * 8, 16, false, 0); /* 65528 + 16 > 65535 */
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_ip_reasm_oversize), 1);
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_ip_reasm_oks), 0);
  assert_int_equal(h_capture_pending(&h->cap), 0);
  /* On its own, with no earlier fragment. */
  h_snap_take(h->s, &sn);
  frag(h, 1, 0x201, m, 0x1fff * 8, 16, false, 0);
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_ip_reasm_oversize), 1);
  assert_int_equal(h_pool_usage(h->s).reass_active, 0);
  h_finish(h, 0);
}

/* FR-3: zero-length fragment; several "last" fragments; MF after the last. */
static void test_FR_3_contradictions(void **st) {
  struct h_stack *h = *st;
  uint8_t m[128];
  echo_req(m, 64, 3);
  struct h_snap sn;

  /* Zero-length fragment (MF set, no payload), alone. */
  h_snap_take(h->s, &sn);
  frag(h, 1, 0x300, m, 16, 0, true, 0);
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_ip_reasm_bad_frag), 1);
  assert_int_equal(h_pool_usage(h->s).reass_active, 0);

  /* Two last fragments ending at different places. */
  h_snap_take(h->s, &sn);
  frag(h, 1, 0x301, m, 0, 16, true, 0);
  frag(h, 1, 0x301, m, 32, 32, false, 0); /* end 64 */
  frag(h, 1, 0x301, m, 16, 8, false, 0);  /* end 24: contradicts */
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_ip_reasm_bad_frag), 1);
  frag(h, 1, 0x301, m, 16, 16, true, 0); /* would have completed the first story */
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_ip_reasm_oks), 0);

  /* MF set on a fragment beyond the known end. */
  h_snap_take(h->s, &sn);
  frag(h, 1, 0x302, m, 0, 16, true, 0);
  frag(h, 1, 0x302, m, 32, 16, false, 0); /* end 48, hole at 16..32 */
  frag(h, 1, 0x302, m, 48, 8, true, 0);   /* MF past the end */
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_ip_reasm_bad_frag), 1);
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_ip_reasm_oks), 0);

  /* MF with a length that is not a multiple of 8. */
  h_snap_take(h->s, &sn);
  frag(h, 1, 0x303, m, 0, 12, true, 0);
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_ip_reasm_bad_frag), 1);
  assert_int_equal(h_capture_pending(&h->cap), 0);
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_icmp_in_echos), 0);
  h_finish(h, 0);
}

/* FR-4: a flood of incomplete datagrams. */
static void tweak_small_reass(struct us_config *c) {
  c->reass_contexts = 8;
  c->reass_bytes_max = 8 * 4096;
  c->reass_timeout = US_SEC(30);
}

static void test_FR_4_flood(void **st) {
  struct h_stack *h = *st;
  h_stack_fini(h);
  h_stack_init(h, 0xf4, tweak_small_reass);
  uint8_t m[2048];
  echo_req(m, 1024, 4);
  struct h_snap sn;
  h_snap_take(h->s, &sn);
  uint64_t rng = h_seed(12345);
  for (uint32_t i = 0; i < 5000; i++) {
    uint16_t off = (uint16_t)(h_rand_below(&rng, 100) * 8);
    frag(h, 1, (uint16_t)(0x4000 + i), m, off, 8, true, US_MSEC(i));
    /* Bounded at every step: contexts, and no packet buffer held. */
    assert_true(h_pool_usage(h->s).reass_active <= 8);
    struct us_pool_usage u;
    us_stack_pool_usage(h->s, &u);
    assert_int_equal(u.pkt_free, u.pkt_total);
  }
  /* Past the caps, the oldest incomplete datagram makes room each time. */
  assert_true(h_snap_delta(h->s, &sn, US_STAT_ip_reasm_evicted) +
                  h_snap_delta(h->s, &sn, US_STAT_ip_reasm_evicted_source) >
              4000);
  assert_int_equal(h_capture_pending(&h->cap), 0);
  /* After the timeout every context is gone... */
  us_time_t t = US_MSEC(5000) + US_SEC(31);
  h_poll(h, t);
  assert_int_equal(h_pool_usage(h->s).reass_active, 0);
  assert_true(h_snap_delta(h->s, &sn, US_STAT_ip_reasm_timeout) >= 8);
  /* ...and a legitimate fragmented ping is answered again. */
  echo_req(m, 1024, 5);
  for (uint16_t off = 0; off < 1024; off += 256)
    frag(h, 1, 0x7777, m, off, 256, off + 256 < 1024, t);
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_ip_reasm_oks), 1);
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_icmp_out_echo_reps), 1);
  assert_true(h_capture_pending(&h->cap) >= 1);
  h_finish(h, t);
}

/* FR-5: a TCP header split across fragments. */
static void test_FR_5_tcp_header_split(void **st) {
  struct h_stack *h = *st;
  us_sock_t l = tcp_listener(h, 80);
  uint8_t b[64];
  tcp_syn(b, H_PEER, H_US, 1234, 80);
  const uint8_t *seg = b + 20;
  struct h_snap sn;

  /* A first fragment too small for the whole TCP header (16 of its 20
   * bytes), then the rest: TCP sees only the reassembled segment and
   * answers it once. */
  h_snap_take(h->s, &sn);
  frag(h, 6, 0x500, seg, 0, 16, true, 0);
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_tcp_in_segs), 0);
  frag(h, 6, 0x500, seg, 16, 4, false, 0);
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_ip_reasm_oks), 1);
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_tcp_in_segs), 1);
  const struct h_pkt *p = h_capture_take(&h->cap);
  assert_non_null(p);
  struct h_out o;
  h_out_check(p, &o);
  assert_int_equal(o.proto, 6);
  assert_int_equal(o.payload[13], 0x12); /* SYN-ACK */
  assert_int_equal(h_rd32(o.payload + 8), 0x01020305u);
  assert_null(h_capture_take(&h->cap));

  /* Offset-1 overwrite (RFC 1858): a fragment at byte 8 rewriting the
   * flags of a header already held. Dropped (the offset-8 rule or the
   * overlap rule); TCP never sees a segment. */
  uint8_t evil[20];
  memcpy(evil, seg, 20);
  evil[13] = 0x04; /* RST */
  tcp_syn(b, H_PEER, H_US, 1235, 80);
  h_snap_take(h->s, &sn);
  frag(h, 6, 0x501, seg, 0, 16, true, 0);
  frag(h, 6, 0x501, evil, 8, 12, false, 0);
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_ip_reasm_fails), 1);
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_ip_reasm_bad_frag) +
                       h_snap_delta(h->s, &sn, US_STAT_ip_reasm_overlap),
                   1);
  /* The legitimate remainder does not resurrect a rewritten header. */
  frag(h, 6, 0x501, seg, 16, 4, false, 0);
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_tcp_in_segs) <= 1, 1);
  /* Only an unmodified SYN may come through (as if the attack fragment
   * never arrived): never a RST-flagged segment to TCP. */
  while ((p = h_capture_take(&h->cap)) != NULL) {
    h_out_check(p, &o);
    assert_int_equal(o.payload[13], 0x12);
  }
  /* The tiny 8-byte first fragment + offset-8 rest: either reassembled
   * (one SYN-ACK) or refused by the offset-8 rule; never half-parsed. */
  tcp_syn(b, H_PEER, H_US, 1236, 80);
  h_snap_take(h->s, &sn);
  frag(h, 6, 0x502, seg, 0, 8, true, 0);
  frag(h, 6, 0x502, seg, 8, 12, false, 0);
  assert_true(h_snap_delta(h->s, &sn, US_STAT_tcp_in_segs) ==
              h_snap_delta(h->s, &sn, US_STAT_ip_reasm_oks));
  assert_true(h_capture_pending(&h->cap) <= 1);
  us_tcp_close(h->s, l, 0);
  h_finish(h, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_IP_1_version, setup, h_teardown),
    cmocka_unit_test_setup_teardown(test_IP_2_ihl_below_5, setup, h_teardown),
    cmocka_unit_test_setup_teardown(test_IP_3_ihl_beyond, setup, h_teardown),
    cmocka_unit_test_setup_teardown(test_IP_4_total_len_small, setup, h_teardown),
    cmocka_unit_test_setup_teardown(test_IP_5_total_len_beyond, setup, h_teardown),
    cmocka_unit_test_setup_teardown(test_IP_6_padding_trimmed, setup, h_teardown),
    cmocka_unit_test_setup_teardown(test_IP_7_bad_checksum, setup, h_teardown),
    cmocka_unit_test_setup_teardown(test_IP_8_options, setup, h_teardown),
    cmocka_unit_test_setup_teardown(test_IP_9_martian_syn, setup, h_teardown),
    cmocka_unit_test_setup_teardown(test_IP_10_tcp_to_broadcast, setup, h_teardown),
    cmocka_unit_test_setup_teardown(test_IP_11_unknown_proto, setup, h_teardown),
    cmocka_unit_test_setup_teardown(test_FR_1_overlap, setup, h_teardown),
    cmocka_unit_test_setup_teardown(test_FR_2_oversize, setup, h_teardown),
    cmocka_unit_test_setup_teardown(test_FR_3_contradictions, setup, h_teardown),
    cmocka_unit_test_setup_teardown(test_FR_4_flood, setup, h_teardown),
    cmocka_unit_test_setup_teardown(test_FR_5_tcp_header_split, setup, h_teardown),
  };
  return H_RUN("hostile_ip", tests);
}
