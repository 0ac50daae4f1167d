/*
 * test_ip6_input.c - IPv6 input and output through a whole stack (RFC
 * 8200): echo answered byte for byte, IPv6 off without an address, the
 * destination and source checks, neighbor discovery and MLD counted and
 * never answered, an echo to all-nodes answered from our address, the parameter problem for an unknown next header with
 * the right pointer, No Next Header, link padding, device metadata,
 * fragmentation on output at the link MTU (1500 and 1280), and the
 * configuration checks (MTU >= 1280 with IPv6, a unicast address).
 */
#include "harness.h"
#include "vectors/ip6_test_util.h"
#include "core/stack.h"
#include "ip/ip6.h"

static int setup(void **st) {
  *st = h_stack_new(11, t6_tweak);
  return 0;
}

#define st_ h_stat

/* The input was dropped under `reason` and nothing went out. */
static void expect_drop(struct h_stack *h, const struct h_snap *sn, enum us_stat reason) {
  if (h_snap_delta(h->s, sn, reason) != 1)
    fail_msg("counter %s moved by %llu, expected 1", us_stat_name(reason),
             (unsigned long long)h_snap_delta(h->s, sn, reason));
  assert_int_equal(h_snap_delta(h->s, sn, US_STAT_ip6_in_delivers), 0);
  assert_int_equal(h_capture_pending(&h->cap), 0);
}

static void test_echo(void **st) {
  struct h_stack *h = *st;
  assert_int_equal(t6_echo(h, 0, 1, 1, 1232, 1500, US_SEC(1)), 1);
  assert_int_equal(t6_echo(h, 56, 0xbeef, 2, 1232, 1500, US_SEC(1)), 1);
  assert_int_equal(t6_echo(h, 1452, 3, 3, 1232, 1500, US_SEC(1)), 1); /* exactly 1500 */
  assert_int_equal(st_(h, US_STAT_icmp6_in_echos), 3);
  assert_int_equal(st_(h, US_STAT_icmp6_out_echo_reps), 3);
  assert_int_equal(st_(h, US_STAT_ip6_out_requests), 3);

  /* The reply's header: version 6, our address, hop limit from cfg.ttl. */
  uint8_t icmp[16];
  size_t n = t6_icmp(icmp, T6_PEER, T6_US, 128, 0, 0x00010002, "abcdefgh", 8);
  t6_send(h, T6_PEER, T6_US, 58, icmp, n, US_SEC(2));
  const struct h_pkt *p = h_capture_take(&h->cap);
  struct t6_out o;
  t6_out_check(p, &o);
  assert_int_equal(o.hop, 64);
  assert_int_equal(p->data[1] & 0xf0, 0); /* traffic class 0 */
  assert_memory_equal(o.dst, T6_PEER, 16);
  /* Hop limit 0 or 1 is still for us (a host does not forward). */
  n = t6_icmp(icmp, T6_PEER, T6_US, 128, 0, 7, NULL, 0);
  uint8_t b[64];
  t6_hdr(b, T6_PEER, T6_US, 58, (uint16_t)n, 0);
  memcpy(b + 40, icmp, n);
  h_input(h, b, 40 + n, US_SEC(3));
  assert_int_equal(h_capture_pending(&h->cap), 1);
  h_capture_reset(&h->cap);
}

static void test_off_without_address(void **st) {
  (void)st;
  struct h_stack h2 = { 0 };
  h_stack_init(&h2, 12, NULL); /* no addr6 */
  uint8_t icmp[16];
  size_t n = t6_icmp(icmp, T6_PEER, T6_US, 128, 0, 1, NULL, 0);
  struct h_snap sn;
  h_snap_take(h2.s, &sn);
  t6_send(&h2, T6_PEER, T6_US, 58, icmp, n, US_SEC(1));
  expect_drop(&h2, &sn, US_STAT_ip6_in_off);
  assert_int_equal(h_snap_delta(h2.s, &sn, US_STAT_ip6_in_receives), 1);
  /* Output refuses too. */
  struct us_pkt *p = us_pkt_alloc(h2.s, 8);
  us_pkt_put(p, 8);
  assert_int_equal(us_ip6_output(h2.s, p, T6_PEER, 58, 0, US_SEC(1)), US_ERR_ADDRNOTAVAIL);
  assert_int_equal(h_snap_delta(h2.s, &sn, US_STAT_ip6_out_off), 1);
  assert_int_equal(h_capture_pending(&h2.cap), 0);
  h_stack_fini(&h2);
}

static void test_destination_and_source(void **st) {
  struct h_stack *h = *st;
  uint8_t icmp[16];
  struct h_snap sn;
  /* Not our address. */
  size_t n = t6_icmp(icmp, T6_PEER, T6_OTHER, 128, 0, 1, NULL, 0);
  h_snap_take(h->s, &sn);
  t6_send(h, T6_PEER, T6_OTHER, 58, icmp, n, US_SEC(1));
  expect_drop(h, &sn, US_STAT_ip6_in_addr_errors);

  /* Sources no real peer has. */
  uint8_t mapped[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1 };
  uint8_t unspec[16] = { 0 }, loop[16] = { 0 };
  loop[15] = 1;
  const uint8_t *bad[] = { unspec, loop, T6_ALL_NODES, mapped, T6_US };
  for (size_t i = 0; i < 5; i++) {
    n = t6_icmp(icmp, bad[i], T6_US, 128, 0, 1, NULL, 0);
    h_snap_take(h->s, &sn);
    t6_send(h, bad[i], T6_US, 58, icmp, n, US_SEC(1));
    expect_drop(h, &sn, US_STAT_ip6_in_martian);
  }
}

/* What the kernel sends on a fresh TUN with IPv6: router solicitations,
 * MLDv2 reports (behind a hop-by-hop Router Alert), neighbor
 * solicitations. Counted, never answered. */
static void test_nd_and_mld_ignored(void **st) {
  struct h_stack *h = *st;
  uint8_t ll[16] = { 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
  uint8_t all_routers[16] = { 0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2 };
  uint8_t solicited[16] = { 0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 2 };
  uint8_t body[24] = { 0 };
  uint8_t icmp[64], b[128];
  struct h_snap sn;

  size_t n = t6_icmp(icmp, ll, all_routers, 133, 0, 0, NULL, 0);
  h_snap_take(h->s, &sn);
  t6_send(h, ll, all_routers, 58, icmp, n, US_SEC(1));
  expect_drop(h, &sn, US_STAT_icmp6_in_nd);

  n = t6_icmp(icmp, ll, solicited, 135, 0, 0, body, 16);
  h_snap_take(h->s, &sn);
  t6_send(h, ll, solicited, 58, icmp, n, US_SEC(1));
  expect_drop(h, &sn, US_STAT_icmp6_in_nd);

  /* MLDv2 report to ff02::16 behind hop-by-hop with Router Alert. */
  uint8_t ra[4] = { 5, 2, 0, 0 };
  size_t hl = t6_opts(b + 40, 58, 1, ra, sizeof ra);
  n = t6_icmp(b + 40 + hl, ll, T6_MLD2_ROUTERS, 143, 0, 1, body, 20);
  t6_hdr(b, ll, T6_MLD2_ROUTERS, 0, (uint16_t)(hl + n), 1);
  h_snap_take(h->s, &sn);
  h_input(h, b, 40 + hl + n, US_SEC(1));
  expect_drop(h, &sn, US_STAT_icmp6_in_mld);

  /* An echo request to all-nodes is answered from our address (RFC 4443
   * 4.2); to all-routers, or from a martian source, it is not. */
  n = t6_icmp(icmp, T6_PEER, T6_ALL_NODES, 128, 0, 0x00090001, "ab", 2);
  t6_send(h, T6_PEER, T6_ALL_NODES, 58, icmp, n, US_SEC(1));
  size_t rn;
  const uint8_t *r = t6_take_icmp(h, &rn); /* from fd00::2 to fd00::1 */
  assert_int_equal(r[0], 129);
  assert_int_equal(h_rd32(r + 4), 0x00090001);
  n = t6_icmp(icmp, T6_PEER, all_routers, 128, 0, 1, NULL, 0);
  h_snap_take(h->s, &sn);
  t6_send(h, T6_PEER, all_routers, 58, icmp, n, US_SEC(1));
  expect_drop(h, &sn, US_STAT_ip6_in_multicast);
  n = t6_icmp(icmp, T6_US, T6_ALL_NODES, 128, 0, 1, NULL, 0);
  h_snap_take(h->s, &sn);
  t6_send(h, T6_US, T6_ALL_NODES, 58, icmp, n, US_SEC(1));
  expect_drop(h, &sn, US_STAT_ip6_in_martian);

  /* Other multicast: counted as such. */
  n = t6_udp(icmp, T6_PEER, T6_ALL_NODES, 1, 2, NULL, 0);
  h_snap_take(h->s, &sn);
  t6_send(h, T6_PEER, T6_ALL_NODES, 17, icmp, n, US_SEC(1));
  expect_drop(h, &sn, US_STAT_ip6_in_multicast);

  /* A neighbor solicitation to our unicast address (unreachability
   * detection): ICMPv6 takes it and counts it, nothing is sent. */
  n = t6_icmp(icmp, T6_PEER, T6_US, 135, 0, 0, body, 16);
  h_snap_take(h->s, &sn);
  t6_send(h, T6_PEER, T6_US, 58, icmp, n, US_SEC(1));
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_icmp6_in_nd), 1);
  assert_int_equal(h_capture_pending(&h->cap), 0);
}

static void test_unknown_next_header(void **st) {
  struct h_stack *h = *st;
  uint8_t b[128], data[16] = { 1, 2, 3 };
  struct h_snap sn;
  /* Next header 253 (experimental) right after the fixed header. */
  h_snap_take(h->s, &sn);
  t6_send(h, T6_PEER, T6_US, 253, data, sizeof data, US_SEC(1));
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_ip6_in_unknown_protos), 1);
  size_t n;
  const uint8_t *m = t6_take_icmp(h, &n);
  assert_int_equal(m[0], 4); /* parameter problem */
  assert_int_equal(m[1], 1); /* unrecognised next header */
  assert_int_equal(h_rd32(m + 4), 6);
  assert_int_equal(n, 8 + 40 + 16); /* the whole datagram quoted */
  assert_int_equal(m[8], 0x60);
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_icmp6_out_parm_probs), 1);

  /* Behind a destination options header: the pointer is its Next Header. */
  size_t hl = t6_opts(b + 40, 253, 1, NULL, 0);
  t6_hdr(b, T6_PEER, T6_US, 60, (uint16_t)(hl + 8), 64);
  memset(b + 40 + hl, 0, 8);
  h_input(h, b, 48 + hl, US_SEC(2));
  m = t6_take_icmp(h, &n);
  assert_int_equal(m[1], 1);
  assert_int_equal(h_rd32(m + 4), 40);

  /* No Next Header: ignored, nothing sent (RFC 8200 4.7). */
  h_snap_take(h->s, &sn);
  t6_send(h, T6_PEER, T6_US, 59, data, sizeof data, US_SEC(3));
  expect_drop(h, &sn, US_STAT_ip6_in_no_next);
  /* ... also with no payload at all. */
  h_snap_take(h->s, &sn);
  t6_send(h, T6_PEER, T6_US, 59, NULL, 0, US_SEC(3));
  expect_drop(h, &sn, US_STAT_ip6_in_no_next);
}

/* UDP and TCP take IPv6 (docs/IPV6.md): a datagram to a UDP port with no
 * socket reaches UDP, which answers port unreachable (RFC 4443 3.1). */
static void test_transport_delivery(void **st) {
  struct h_stack *h = *st;
  uint8_t u[32];
  size_t n = t6_udp(u, T6_PEER, T6_US, 1000, 7, "hi", 2);
  struct h_snap sn;
  h_snap_take(h->s, &sn);
  t6_send(h, T6_PEER, T6_US, 17, u, n, US_SEC(1));
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_ip6_in_delivers), 1);
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_udp_no_ports), 1);
  size_t len;
  const uint8_t *m = t6_take_icmp(h, &len);
  assert_int_equal(m[0], 1);
  assert_int_equal(m[1], 4);
  assert_int_equal(len, 8 + 40 + n);
}

static void test_padding_and_meta(void **st) {
  struct h_stack *h = *st;
  uint8_t icmp[16], b[128];
  size_t n = t6_icmp(icmp, T6_PEER, T6_US, 128, 0, 5, "xy", 2);
  t6_hdr(b, T6_PEER, T6_US, 58, (uint16_t)n, 64);
  memcpy(b + 40, icmp, n);
  memset(b + 40 + n, 0xee, 6); /* link padding */
  struct h_snap sn;
  h_snap_take(h->s, &sn);
  h_input(h, b, 40 + n + 6, US_SEC(1));
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_ip6_in_trimmed), 1);
  size_t rn;
  const uint8_t *m = t6_take_icmp(h, &rn);
  assert_int_equal(rn, n); /* the padding is not echoed */
  assert_int_equal(m[0], 129);

  /* Offload metadata that does not fit (ICMPv6 has no checksum offload,
   * and the device never gets IPv6 GSO): dropped. */
  struct us_rx_meta meta = { .flags = US_RX_CSUM_PARTIAL, .csum_start = 40, .csum_offset = 2 };
  h_snap_take(h->s, &sn);
  us_stack_input_meta(h->s, b, 40 + n, &meta, US_SEC(2));
  expect_drop(h, &sn, US_STAT_ip_in_bad_offload);
  struct us_rx_meta gso = { .gso_size = 1000 };
  h_snap_take(h->s, &sn);
  us_stack_input_meta(h->s, b, 40 + n, &gso, US_SEC(2));
  expect_drop(h, &sn, US_STAT_ip_in_bad_offload);
  /* A partial UDP checksum in the right place is believed. */
  uint8_t u[32];
  size_t un = t6_udp(u, T6_PEER, T6_US, 1000, 7, "hi", 2);
  t6_hdr(b, T6_PEER, T6_US, 17, (uint16_t)un, 64);
  memcpy(b + 40, u, un);
  struct us_rx_meta part = { .flags = US_RX_CSUM_PARTIAL, .csum_start = 40, .csum_offset = 6 };
  h_snap_take(h->s, &sn);
  us_stack_input_meta(h->s, b, 40 + un, &part, US_SEC(2));
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_ip_in_csum_offload), 1);
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_ip_in_bad_offload), 0);
}

/* Fragmentation on output: a reply too big for the link is cut at
 * (MTU - 48) & ~7 and every fragment fits the MTU. */
static void test_output_fragments(void **st) {
  struct h_stack *h = *st;
  /* 3000 data bytes: in as 1232-byte fragments, out as 1448-byte ones. */
  assert_int_equal(t6_echo(h, 3000, 9, 1, 1232, 1500, US_SEC(1)), 3);
  assert_int_equal(t6_echo(h, 1453, 9, 2, 1232, 1500, US_SEC(1)), 2); /* one byte too many */
  assert_int_equal(st_(h, US_STAT_ip6_frag_oks), 2);
  assert_int_equal(st_(h, US_STAT_ip6_frag_creates), 5);
  /* The largest echo: 65535 - 8 bytes of data. */
  assert_int_equal(t6_echo(h, 65527, 9, 3, 1448, 1500, US_SEC(2)), 46);
}

static void tweak_1280(struct us_config *c) {
  t6_tweak(c);
  c->mtu = 1280;
}

static void test_output_min_mtu(void **st) {
  (void)st;
  struct h_stack h2 = { 0 };
  h_stack_init(&h2, 13, tweak_1280);
  assert_int_equal(t6_echo(&h2, 1232, 1, 1, 1232, 1280, US_SEC(1)), 1); /* 1280 exactly */
  assert_int_equal(t6_echo(&h2, 5000, 1, 2, 1232, 1280, US_SEC(1)), 5);
  h_finish(&h2, US_SEC(2));
  h_stack_fini(&h2);
}

static void cfg_mtu_low(struct us_config *c) {
  t6_tweak(c);
  c->mtu = 1279;
}
static void cfg_mcast(struct us_config *c) { memcpy(c->addr6, T6_ALL_NODES, 16); }

static void test_config_checks(void **st) {
  (void)st;
  struct us_config c;
  struct h_capture cap = { 0 };
  struct us_device dev = h_capture_device(&cap);
  us_config_default(&c);
  cfg_mtu_low(&c);
  assert_null(us_stack_create(&c, &dev)); /* RFC 8200 5 */
  us_config_default(&c);
  cfg_mcast(&c);
  assert_null(us_stack_create(&c, &dev));
  us_config_default(&c);
  c.addr6[15] = 1; /* ::1 */
  assert_null(us_stack_create(&c, &dev));
  /* Without IPv6 the IPv4 minimum still holds. */
  us_config_default(&c);
  c.mtu = 576;
  us_stack *s = us_stack_create(&c, &dev);
  assert_non_null(s);
  us_stack_destroy(s);
  us_config_default(&c);
  cfg_mtu_low(&c);
  c.mtu = 1280;
  s = us_stack_create(&c, &dev);
  assert_non_null(s);
  us_stack_destroy(s);
  h_capture_reset(&cap);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_echo, setup, h_teardown_drained),
    cmocka_unit_test(test_off_without_address),
    cmocka_unit_test_setup_teardown(test_destination_and_source, setup, h_teardown_drained),
    cmocka_unit_test_setup_teardown(test_nd_and_mld_ignored, setup, h_teardown_drained),
    cmocka_unit_test_setup_teardown(test_unknown_next_header, setup, h_teardown_drained),
    cmocka_unit_test_setup_teardown(test_transport_delivery, setup, h_teardown_drained),
    cmocka_unit_test_setup_teardown(test_padding_and_meta, setup, h_teardown_drained),
    cmocka_unit_test_setup_teardown(test_output_fragments, setup, h_teardown_drained),
    cmocka_unit_test(test_output_min_mtu),
    cmocka_unit_test(test_config_checks),
  };
  return H_RUN("ip6_input", tests);
}
