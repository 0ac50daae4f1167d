/*
 * test_udp_ipv6.c - UDP over IPv6 through the same sockets (RFC 768, RFC
 * 8200 8.1), and one TCP listener for both IP versions: the source comes
 * back as an IPv6 endpoint, replies leave as IPv6 with the IPv6
 * pseudo-header checksum, a zero checksum is dropped, a closed port draws
 * ICMPv6 port unreachable (RFC 4443 3.1), and a stack without an IPv6
 * address refuses IPv6 destinations; the per-source connection limit counts
 * an IPv6 /64 as one source. Every test ends with every pool full.
 */
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static void with_v6(struct us_config *c) { memcpy(c->addr6, h_us6, 16); }

static int setup(void **st) {
  *st = h_stack_new(21, with_v6);
  return 0;
}

static int setup_v4_only(void **st) {
  *st = h_stack_new(22, NULL);
  return 0;
}

/* P (fd00::1) sends `len` bytes from sport to dport; `zero_csum` sends the
 * checksum field as 0 ("none" over IPv4, forbidden over IPv6). */
static void send6(struct h_stack *h, uint16_t sport, uint16_t dport, const void *data, size_t len,
                  bool zero_csum) {
  uint8_t *b = malloc(40 + 8 + len);
  assert_non_null(b);
  struct h_ip ip = h_ip6_to_us(17);
  h_udp_build(b + 40, &ip, sport, dport, data, len);
  if (zero_csum)
    h_wr16(b + 40 + 6, 0);
  size_t n = h_ip_build(b, &ip, b + 40, 8 + len);
  h_input(h, b, n, US_SEC(1));
  free(b);
}

static us_sock_t bound(struct h_stack *h, uint16_t port) {
  us_sock_t k;
  assert_int_equal(us_udp_open(h->s, &k), 0);
  assert_int_equal(us_udp_bind(h->s, k, port), 0);
  return k;
}

/* The next captured packet, which must be IPv6 from fd00::2 to fd00::1
 * carrying `nh`; returns its upper-layer bytes and length. */
static const uint8_t *take6(struct h_stack *h, uint8_t nh, size_t *len) {
  const struct h_pkt *p = h_capture_take(&h->cap);
  assert_non_null(p);
  assert_true(p->len >= 40);
  assert_int_equal(p->data[0] >> 4, 6);
  assert_int_equal(p->data[6], nh);
  assert_int_equal(h_rd16(p->data + 4), p->len - 40);
  assert_memory_equal(p->data + 8, h_us6, 16);
  assert_memory_equal(p->data + 24, h_peer6, 16);
  *len = p->len - 40;
  /* The upper-layer checksum over the IPv6 pseudo-header verifies. */
  uint32_t ps = h_pseudo6(h_us6, h_peer6, nh, (uint32_t)*len);
  assert_int_equal(h_csum_fold(h_csum_add(ps, p->data + 40, *len)), 0);
  return p->data + 40;
}

static void test_echo(void **st) {
  struct h_stack *h = *st;
  us_sock_t k = bound(h, 53);
  send6(h, 1000, 53, "hello", 5, false);
  char buf[16];
  us_endpoint_t from;
  assert_int_equal(us_udp_recvfrom(h->s, k, buf, sizeof buf, &from), 5);
  assert_memory_equal(buf, "hello", 5);
  assert_true(us_addr_is_v6(from.addr));
  assert_true(us_addr_eq(from.addr, us_addr_v6(h_peer6)));
  assert_int_equal(from.port, 1000);
  char text[US_ENDPOINT_STRLEN];
  us_endpoint_format(from, text, sizeof text);
  assert_string_equal(text, "[fd00::1]:1000");

  assert_int_equal(us_udp_sendto(h->s, k, from, buf, 5, US_SEC(1)), 5);
  size_t n;
  const uint8_t *u = take6(h, 17, &n);
  assert_int_equal(n, 13);
  assert_int_equal(h_rd16(u), 53);
  assert_int_equal(h_rd16(u + 2), 1000);
  assert_int_equal(h_rd16(u + 4), 13);
  assert_int_not_equal(h_rd16(u + 6), 0); /* never "none" over IPv6 */
  assert_memory_equal(u + 8, "hello", 5);
  assert_int_equal(h_stat(h, US_STAT_udp_in_datagrams), 1);
  assert_int_equal(h_stat(h, US_STAT_udp_out_datagrams), 1);
  us_udp_close(h->s, k);
}

static void test_zero_checksum_dropped(void **st) {
  struct h_stack *h = *st;
  us_sock_t k = bound(h, 53);
  send6(h, 1000, 53, "abcd", 4, true);
  assert_int_equal(h_stat(h, US_STAT_udp_in_zero_csum6), 1);
  assert_int_equal(h_stat(h, US_STAT_udp_in_datagrams), 0);
  char buf[8];
  assert_int_equal(us_udp_recvfrom(h->s, k, buf, sizeof buf, NULL), US_ERR_AGAIN);
  /* The same datagram with its checksum is taken. */
  send6(h, 1000, 53, "abcd", 4, false);
  assert_int_equal(us_udp_recvfrom(h->s, k, buf, sizeof buf, NULL), 4);
  assert_int_equal(h_capture_pending(&h->cap), 0); /* no ICMPv6 for either */
  us_udp_close(h->s, k);
}

/* RFC 4443 3.1: type 1 code 4, quoting the datagram from its header on. */
static void test_port_unreachable(void **st) {
  struct h_stack *h = *st;
  send6(h, 1000, 9999, "x", 1, false);
  assert_int_equal(h_stat(h, US_STAT_udp_no_ports), 1);
  size_t n;
  const uint8_t *m = take6(h, 58, &n);
  assert_int_equal(m[0], 1);
  assert_int_equal(m[1], 4);
  assert_int_equal(n, 8 + 40 + 9);
  assert_int_equal(m[8] >> 4, 6);                 /* the quoted IPv6 header */
  assert_memory_equal(m + 8 + 8, h_peer6, 16);    /* its source: P */
  assert_int_equal(h_rd16(m + 8 + 40 + 2), 9999); /* its UDP destination port */
}

/* Sizes: IPv6's payload length leaves 65527 bytes for UDP data. */
static void test_sendto_sizes(void **st) {
  struct h_stack *h = *st;
  us_sock_t k = bound(h, 0);
  us_endpoint_t to = us_endpoint(us_addr_v6(h_peer6), 7);
  uint8_t *big = calloc(1, 65528);
  assert_non_null(big);
  assert_int_equal(us_udp_sendto(h->s, k, to, big, 65528, US_SEC(1)), US_ERR_MSGSIZE);
  assert_int_equal(us_udp_sendto(h->s, k, to, big, 2000, US_SEC(1)), 2000);
  free(big);
  assert_true(h_capture_pending(&h->cap) >= 2); /* fragmented at the 1500 MTU */
  us_endpoint_t any6 = us_endpoint(us_addr_v6((const uint8_t[16]){ 0 }), 7);
  assert_int_equal(us_udp_sendto(h->s, k, any6, "x", 1, US_SEC(1)), US_ERR_INVAL);
  us_udp_close(h->s, k);
}

/* Without cfg.addr6 there is no IPv6 source: sendto and connect say so. */
static void test_no_ipv6_address(void **st) {
  struct h_stack *h = *st;
  us_sock_t k = bound(h, 0);
  us_endpoint_t to = us_endpoint(us_addr_v6(h_peer6), 7);
  assert_int_equal(us_udp_sendto(h->s, k, to, "x", 1, US_SEC(1)), US_ERR_ADDRNOTAVAIL);
  us_udp_close(h->s, k);
  us_sock_t t;
  assert_int_equal(us_tcp_socket(h->s, &t), 0);
  assert_int_equal(us_tcp_connect(h->s, t, to, US_SEC(1)), US_ERR_ADDRNOTAVAIL);
  us_tcp_close(h->s, t, US_SEC(1));
  assert_int_equal(h_capture_pending(&h->cap), 0);
}

/* One listener, bound to a port only, answers a SYN of either version,
 * from the right address, with the MSS of that version. */
static void test_tcp_listener_both_families(void **st) {
  struct h_stack *h = *st;
  us_sock_t l;
  assert_int_equal(us_tcp_socket(h->s, &l), 0);
  assert_int_equal(us_tcp_bind(h->s, l, 80), 0);
  assert_int_equal(us_tcp_listen(h->s, l, 8), 0);
  us_endpoint_t local;
  assert_int_equal(us_tcp_addrs(h->s, l, &local, NULL), 0);
  char text[US_ENDPOINT_STRLEN];
  us_endpoint_format(local, text, sizeof text);
  assert_string_equal(text, "*:80");

  static const uint8_t mss_opt[4] = { 2, 4, 0x05, 0xb4 }; /* 1460 */
  struct h_tcp syn = {
    .sport = 4000, .dport = 80, .seq = 1, .flags = 0x02, .wnd = 65535, .opts = mss_opt, .opt_len = 4
  };
  uint8_t b[128];
  struct h_ip ip4 = { .src = H_PEER, .dst = H_US, .proto = 6 };
  size_t n = h_tcp_build(b + 20, &ip4, &syn);
  h_input(h, b, h_ip_build(b, &ip4, b + 20, n), US_SEC(1));
  struct h_ip ip6 = h_ip6_to_us(6);
  n = h_tcp_build(b + 40, &ip6, &syn);
  h_input(h, b, h_ip_build(b, &ip6, b + 40, n), US_SEC(1));
  h_poll(h, US_SEC(1)); /* the SYN-ACKs leave at the poll */

  /* Two SYN-ACKs, one per version, in either order. */
  bool seen4 = false, seen6 = false;
  for (int i = 0; i < 2; i++) {
    const struct h_pkt *p = h_capture_take(&h->cap);
    assert_non_null(p);
    if (p->data[0] >> 4 == 4) {
      assert_false(seen4);
      seen4 = true;
      assert_int_equal(h_rd32(p->data + 12), H_US);
      assert_int_equal(p->data[20 + 13], 0x12); /* SYN-ACK */
      assert_int_equal(h_rd16(p->data + 20 + 22), 1460);
      continue;
    }
    assert_false(seen6);
    seen6 = true;
    assert_int_equal(p->data[0] >> 4, 6);
    assert_int_equal(p->data[6], 6);
    assert_memory_equal(p->data + 8, h_us6, 16);
    const uint8_t *t = p->data + 40;
    size_t tl = p->len - 40;
    assert_int_equal(h_csum_fold(h_csum_add(h_pseudo6(h_us6, h_peer6, 6, (uint32_t)tl), t, tl)), 0);
    assert_int_equal(t[13], 0x12);
    assert_int_equal(h_rd16(t + 22), 1440); /* 1500 - 60 */
  }
  assert_true(seen4 && seen6);
  assert_int_equal(h_stat(h, US_STAT_tcp_passive_opens), 2);
  us_tcp_close(h->s, l, US_SEC(1));
  for (int sec = 2; sec < 200; sec++)
    h_poll(h, US_SEC(sec)); /* the half-open children give up and are freed */
}

static void limit_2(struct us_config *c) {
  memcpy(c->addr6, h_us6, 16);
  c->tcp_source_conn_max = 2;
}

static int setup_limit(void **st) {
  *st = h_stack_new(23, limit_2);
  return 0;
}

/* A SYN to port 80 from fd00::/16 with its last byte and its 8th byte
 * (the end of the /64 prefix) set as given. */
static void syn_from(struct h_stack *h, uint8_t prefix_byte, uint8_t host_byte, uint16_t sport) {
  struct h_ip ip = h_ip6_to_us(6);
  ip.src6[7] = prefix_byte;
  ip.src6[15] = host_byte;
  struct h_tcp syn = { .sport = sport, .dport = 80, .seq = 1, .flags = 0x02, .wnd = 65535 };
  uint8_t b[128];
  size_t n = h_tcp_build(b + 40, &ip, &syn);
  h_input(h, b, h_ip_build(b, &ip, b + 40, n), US_SEC(1));
  h_poll(h, US_SEC(1));
}

/* tcp_source_conn_max counts an IPv6 source by its /64 (docs/IPV6.md): two
 * hosts of one /64 fill it, a third address in it is refused, a host of
 * another /64 is not. */
static void test_source_limit_per_64(void **st) {
  struct h_stack *h = *st;
  us_sock_t l;
  assert_int_equal(us_tcp_socket(h->s, &l), 0);
  assert_int_equal(us_tcp_bind(h->s, l, 80), 0);
  assert_int_equal(us_tcp_listen(h->s, l, 8), 0);
  syn_from(h, 0, 0x11, 4001);
  syn_from(h, 0, 0x12, 4002);
  assert_int_equal(h_stat(h, US_STAT_tcp_conn_limit_source), 0);
  syn_from(h, 0, 0x13, 4003); /* the same /64: refused */
  assert_int_equal(h_stat(h, US_STAT_tcp_conn_limit_source), 1);
  syn_from(h, 1, 0x13, 4004); /* fd00:0:0:1::13, another /64 */
  assert_int_equal(h_stat(h, US_STAT_tcp_conn_limit_source), 1);
  assert_int_equal(h_stat(h, US_STAT_tcp_passive_opens), 3);
  h_capture_reset(&h->cap);
  us_tcp_close(h->s, l, US_SEC(1));
  for (int sec = 2; sec < 200; sec++)
    h_poll(h, US_SEC(sec));
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_echo, setup, h_teardown_full),
    cmocka_unit_test_setup_teardown(test_zero_checksum_dropped, setup, h_teardown_full),
    cmocka_unit_test_setup_teardown(test_port_unreachable, setup, h_teardown_full),
    cmocka_unit_test_setup_teardown(test_sendto_sizes, setup, h_teardown_full),
    cmocka_unit_test_setup_teardown(test_no_ipv6_address, setup_v4_only, h_teardown_full),
    cmocka_unit_test_setup_teardown(test_tcp_listener_both_families, setup, h_teardown_full),
    cmocka_unit_test_setup_teardown(test_source_limit_per_64, setup_limit, h_teardown_full),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
