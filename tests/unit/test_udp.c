/*
 * test_udp.c - UDP (RFC 768) and its sockets: demultiplexing by port,
 * port unreachable for a closed port, recvfrom truncation, the receive
 * queue cap, ephemeral ports (RFC 6056), sendto with fragmentation,
 * readiness events, stale handles, and allocation failures. Every test
 * ends with every pool full.
 */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "core/testing.h"

static void tweak(struct us_config *c) {
  c->udp_rx_queue = 4;
  c->max_udp_sockets = 8;
}

static int setup(void **st) {
  *st = h_stack_new(11, tweak);
  return 0;
}

static void send_udp(struct h_stack *h, uint32_t dst, uint16_t sport, uint16_t dport,
                     const void *data, size_t len) {
  uint8_t *u = malloc(8 + len);
  size_t n = h_udp_build(u, H_IP4(H_PEER, dst, 17), sport, dport, data, len);
  h_send(h, H_PEER, dst, 17, u, n, US_SEC(1));
  free(u);
}

static us_sock_t bound(struct h_stack *h, uint16_t port) {
  us_sock_t k;
  assert_int_equal(us_udp_open(h->s, &k), 0);
  assert_int_equal(us_udp_bind(h->s, k, port), 0);
  assert_int_equal(us_udp_local_port(h->s, k), port);
  return k;
}

static void test_demux(void **st) {
  struct h_stack *h = *st;
  us_sock_t a = bound(h, 53), b = bound(h, 117), c = bound(h, 53 + 128); /* same hash bucket */
  send_udp(h, H_US, 1000, 53, "to-a", 4);
  send_udp(h, H_US, 1001, 117, "to-b", 4);
  send_udp(h, H_US, 1002, 117, "to-b2", 5);
  send_udp(h, H_US, 1003, 53 + 128, "to-c", 4);
  char buf[16];
  us_endpoint_t src;
  assert_int_equal(us_udp_recvfrom(h->s, a, buf, sizeof buf, &src), 4);
  assert_memory_equal(buf, "to-a", 4);
  assert_true(us_addr_is_v4(src.addr));
  assert_int_equal(us_addr_ip4(src.addr), H_PEER);
  assert_int_equal(src.port, 1000);
  assert_int_equal(us_udp_recvfrom(h->s, a, buf, sizeof buf, &src), US_ERR_AGAIN);
  assert_int_equal(us_udp_recvfrom(h->s, b, buf, sizeof buf, &src), 4);
  assert_int_equal(src.port, 1001);
  assert_int_equal(us_udp_recvfrom(h->s, b, buf, sizeof buf, NULL), 5);
  assert_memory_equal(buf, "to-b2", 5);
  assert_int_equal(us_udp_recvfrom(h->s, c, buf, sizeof buf, &src), 4);
  assert_int_equal(src.port, 1003);
  assert_int_equal(h_stat(h, US_STAT_udp_in_datagrams), 4);
  assert_int_equal(h_capture_pending(&h->cap), 0);
  /* Empty datagram. */
  send_udp(h, H_US, 1, 53, NULL, 0);
  assert_int_equal(us_udp_recvfrom(h->s, a, buf, sizeof buf, NULL), 0);
  us_udp_close(h->s, a);
  us_udp_close(h->s, b);
  us_udp_close(h->s, c);
}

static void test_port_unreachable(void **st) {
  struct h_stack *h = *st;
  uint8_t u[16];
  size_t n = h_udp_build(u, H_IP4(H_PEER, H_US, 17), 5555, 9, "abcdefgh", 8);
  uint8_t b[64];
  struct h_ip ih = { .src = H_PEER, .dst = H_US, .proto = 17, .id = 77 };
  size_t tot = h_ip_build(b, &ih, u, n);
  h_input(h, b, tot, US_SEC(1));
  assert_int_equal(h_stat(h, US_STAT_udp_no_ports), 1);
  struct h_out o;
  h_out_check(h_capture_take(&h->cap), &o);
  assert_int_equal(o.proto, 1);
  assert_int_equal(o.dst, H_PEER);
  assert_int_equal(o.payload[0], 3);
  assert_int_equal(o.payload[1], 3);
  assert_int_equal(o.payload_len, 8 + 20 + 8);
  assert_memory_equal(o.payload + 8, b, 28); /* header + UDP header */
  assert_int_equal(h_csum(o.payload, o.payload_len), 0);
  /* After close the port is closed again. */
  us_sock_t k = bound(h, 9);
  h_input(h, b, tot, US_SEC(1));
  assert_int_equal(h_capture_pending(&h->cap), 0);
  us_udp_close(h->s, k);
  h_input(h, b, tot, US_SEC(1));
  assert_int_equal(h_capture_pending(&h->cap), 1);
  h_capture_reset(&h->cap);
}

static void test_bad_datagrams(void **st) {
  struct h_stack *h = *st;
  us_sock_t k = bound(h, 7);
  uint8_t u[32];
  size_t n = h_udp_build(u, H_IP4(H_PEER, H_US, 17), 1, 7, "data", 4);
  u[9] ^= 0xff; /* checksum */
  h_send(h, H_PEER, H_US, 17, u, n, US_SEC(1));
  assert_int_equal(h_stat(h, US_STAT_udp_in_bad_csum), 1);
  n = h_udp_build(u, H_IP4(H_PEER, H_US, 17), 1, 7, "data", 4);
  h_wr16(u + 4, 13); /* length beyond the IP payload */
  h_send(h, H_PEER, H_US, 17, u, n, US_SEC(1));
  h_send(h, H_PEER, H_US, 17, u, 7, US_SEC(1)); /* shorter than a header */
  assert_int_equal(h_stat(h, US_STAT_udp_in_bad_len), 2);
  assert_int_equal(h_stat(h, US_STAT_udp_in_errors), 3);
  /* Checksum 0 = none: accepted. */
  n = h_udp_build(u, H_IP4(H_PEER, H_US, 17), 1, 7, "data", 4);
  h_wr16(u + 6, 0);
  h_send(h, H_PEER, H_US, 17, u, n, US_SEC(1));
  char buf[8];
  assert_int_equal(us_udp_recvfrom(h->s, k, buf, sizeof buf, NULL), 4);
  assert_int_equal(h_capture_pending(&h->cap), 0);
  us_udp_close(h->s, k);
}

static void test_truncation(void **st) {
  struct h_stack *h = *st;
  us_sock_t k = bound(h, 7);
  send_udp(h, H_US, 1, 7, "0123456789", 10);
  char buf[16];
  memset(buf, 'z', sizeof buf);
  /* Full length returned; only cap bytes written; the rest discarded. */
  assert_int_equal(us_udp_recvfrom(h->s, k, buf, 4, NULL), 10);
  assert_memory_equal(buf, "0123", 4);
  assert_int_equal(buf[4], 'z');
  assert_int_equal(us_udp_recvfrom(h->s, k, buf, sizeof buf, NULL), US_ERR_AGAIN);
  /* cap 0 with a NULL buffer: drops the datagram, reports its length. */
  send_udp(h, H_US, 1, 7, "abc", 3);
  assert_int_equal(us_udp_recvfrom(h->s, k, NULL, 0, NULL), 3);
  us_udp_close(h->s, k);
}

static void test_queue_cap(void **st) {
  struct h_stack *h = *st;
  us_sock_t k = bound(h, 7);
  for (int i = 0; i < 10; i++) {
    char d = (char)('0' + i);
    send_udp(h, H_US, 1, 7, &d, 1);
  }
  assert_int_equal(h_stat(h, US_STAT_udp_in_datagrams), 4);
  assert_int_equal(h_stat(h, US_STAT_udp_rcvbuf_errors), 6);
  char c;
  for (int i = 0; i < 4; i++) {
    assert_int_equal(us_udp_recvfrom(h->s, k, &c, 1, NULL), 1);
    assert_int_equal(c, '0' + i); /* FIFO */
  }
  assert_int_equal(us_udp_recvfrom(h->s, k, &c, 1, NULL), US_ERR_AGAIN);
  /* Close with datagrams queued frees them (teardown checks the pools). */
  send_udp(h, H_US, 1, 7, "x", 1);
  send_udp(h, H_US, 1, 7, "y", 1);
  us_udp_close(h->s, k);
}

static void test_bind_rules(void **st) {
  struct h_stack *h = *st;
  us_sock_t a = bound(h, 80), b;
  assert_int_equal(us_udp_open(h->s, &b), 0);
  assert_int_equal(us_udp_bind(h->s, b, 80), US_ERR_ADDRINUSE);
  assert_int_equal(us_udp_bind(h->s, a, 81), US_ERR_INVAL); /* already bound */
  /* Ephemeral ports: in 49152..65535, distinct, not sequential. */
  us_sock_t e[6];
  uint16_t ports[6];
  int sequential = 0;
  assert_int_equal(us_udp_bind(h->s, b, 0), 0);
  ports[0] = us_udp_local_port(h->s, b);
  e[0] = b;
  for (int i = 1; i < 6; i++) {
    assert_int_equal(us_udp_open(h->s, &e[i]), 0);
    assert_int_equal(us_udp_bind(h->s, e[i], 0), 0);
    ports[i] = us_udp_local_port(h->s, e[i]);
    assert_true(ports[i] >= 49152);
    for (int j = 0; j < i; j++)
      assert_int_not_equal(ports[i], ports[j]);
    if (ports[i] == ports[i - 1] + 1)
      sequential++;
  }
  assert_true(sequential < 5);
  /* Pool exhausted: 8 sockets. */
  us_sock_t x, y;
  assert_int_equal(us_udp_open(h->s, &x), 0);
  assert_int_equal(us_udp_open(h->s, &y), US_ERR_NOMEM);
  us_udp_close(h->s, x);
  for (int i = 0; i < 6; i++)
    assert_int_equal(us_udp_close(h->s, e[i]), 0);
  assert_int_equal(us_udp_close(h->s, a), 0);
  /* Stale handles. */
  assert_int_equal(us_udp_close(h->s, a), US_ERR_BADF);
  assert_int_equal(us_udp_bind(h->s, a, 1), US_ERR_BADF);
  assert_int_equal(us_udp_sendto(h->s, a, us_endpoint(us_addr_v4(H_PEER), 1), "x", 1, US_SEC(1)),
                   US_ERR_BADF);
  char c;
  assert_int_equal(us_udp_recvfrom(h->s, a, &c, 1, NULL), US_ERR_BADF);
  assert_int_equal(us_udp_local_port(h->s, a), 0);
  assert_int_equal(us_udp_close(h->s, US_SOCK_INVALID), US_ERR_BADF);
}

static void test_sendto(void **st) {
  struct h_stack *h = *st;
  us_sock_t k;
  assert_int_equal(us_udp_open(h->s, &k), 0);
  /* Unbound: bound to an ephemeral port first. */
  assert_int_equal(
      us_udp_sendto(h->s, k, us_endpoint(us_addr_v4(H_PEER), 9999), "hello", 5, US_SEC(1)), 5);
  uint16_t lport = us_udp_local_port(h->s, k);
  assert_true(lport >= 49152);
  struct h_out o;
  h_out_check(h_capture_take(&h->cap), &o);
  assert_int_equal(o.proto, 17);
  assert_int_equal(o.payload_len, 13);
  assert_int_equal(h_rd16(o.payload), lport);
  assert_int_equal(h_rd16(o.payload + 2), 9999);
  assert_int_equal(h_rd16(o.payload + 4), 13);
  assert_int_equal(h_csum_fold(h_csum_add(h_pseudo4(H_US, H_PEER, 17, 13), o.payload, 13)), 0);
  assert_memory_equal(o.payload + 8, "hello", 5);
  /* Sizes around the MTU and the maximum, fragmented on the way out. */
  const size_t sizes[] = { 0, 1472, 1473, 3000, 65507 };
  uint8_t *big = malloc(65508);
  for (size_t i = 0; i < 65508; i++)
    big[i] = (uint8_t)(i ^ (i >> 8));
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    assert_int_equal(
        us_udp_sendto(h->s, k, us_endpoint(us_addr_v4(H_PEER), 7), big, sizes[i], US_SEC(1)),
        (long)sizes[i]);
    size_t len, nfr;
    struct h_out first;
    uint8_t *d = h_collect(&h->cap, 1500, &len, &first, &nfr);
    assert_int_equal(len, 8 + sizes[i]);
    assert_int_equal(h_rd16(d + 4), 8 + sizes[i]);
    assert_int_equal(h_csum_fold(h_csum_add(h_pseudo4(H_US, H_PEER, 17, (uint16_t)len), d, len)),
                     0);
    assert_memory_equal(d + 8, big, sizes[i]);
    assert_int_equal(nfr, (len + 1479) / 1480);
    free(d);
  }
  assert_int_equal(
      us_udp_sendto(h->s, k, us_endpoint(us_addr_v4(H_PEER), 7), big, 65508, US_SEC(1)),
      US_ERR_MSGSIZE);
  assert_int_equal(us_udp_sendto(h->s, k, us_endpoint(us_addr_v4(H_PEER), 0), big, 1, US_SEC(1)),
                   US_ERR_INVAL);
  assert_int_equal(h_capture_pending(&h->cap), 0);
  free(big);
  us_udp_close(h->s, k);
}

static void test_events(void **st) {
  struct h_stack *h = *st;
  us_sock_t k = bound(h, 7);
  struct us_event ev[8];
  us_stack_events(h->s, ev, 8); /* drain */
  assert_int_equal(us_sock_events(h->s, k), US_EV_WRITABLE);
  send_udp(h, H_US, 1, 7, "x", 1);
  assert_int_equal(us_sock_events(h->s, k), US_EV_WRITABLE | US_EV_READABLE);
  size_t n = us_stack_events(h->s, ev, 8);
  assert_int_equal(n, 1);
  assert_true(us_sock_eq(ev[0].sock, k));
  assert_true(ev[0].events & US_EV_READABLE);
  char c;
  assert_int_equal(us_udp_recvfrom(h->s, k, &c, 1, NULL), 1);
  assert_int_equal(us_sock_events(h->s, k), US_EV_WRITABLE);
  us_udp_close(h->s, k);
}

static void test_alloc_failures(void **st) {
  struct h_stack *h = *st;
  us_sock_t k;
  /* Opening fails cleanly at each of its allocations. */
  for (uint64_t i = 1; i <= 3; i++) {
    us_stack_fail_alloc_at(h->s, i);
    int r = us_udp_open(h->s, &k);
    if (r == 0)
      us_udp_close(h->s, k);
    else
      assert_int_equal(r, US_ERR_NOMEM);
  }
  us_stack_fail_alloc_at(h->s, 0);
  k = bound(h, 7);
  /* Receive with no buffer: counted drop. */
  us_stack_fail_alloc_at(h->s, 1);
  send_udp(h, H_US, 1, 7, "x", 1);
  assert_int_equal(h_stat(h, US_STAT_udp_in_no_buffer), 1);
  /* Send with no buffer. */
  us_stack_fail_alloc_at(h->s, 1);
  assert_int_equal(us_udp_sendto(h->s, k, us_endpoint(us_addr_v4(H_PEER), 7), "x", 1, US_SEC(1)),
                   US_ERR_NOMEM);
  assert_int_equal(h_capture_pending(&h->cap), 0);
  us_udp_close(h->s, k);
}

/* A datagram to the subnet broadcast reaches a bound socket. */
static void test_broadcast_delivery(void **st) {
  struct h_stack *h = *st;
  us_sock_t k = bound(h, 67);
  send_udp(h, US_IP4(255, 255, 255, 255), 68, 67, "bc", 2);
  send_udp(h, US_IP4(10, 0, 0, 255), 68, 67, "sb", 2);
  char buf[4];
  assert_int_equal(us_udp_recvfrom(h->s, k, buf, sizeof buf, NULL), 2);
  assert_int_equal(us_udp_recvfrom(h->s, k, buf, sizeof buf, NULL), 2);
  us_udp_close(h->s, k);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_demux, setup, h_teardown_full),
    cmocka_unit_test_setup_teardown(test_port_unreachable, setup, h_teardown_full),
    cmocka_unit_test_setup_teardown(test_bad_datagrams, setup, h_teardown_full),
    cmocka_unit_test_setup_teardown(test_truncation, setup, h_teardown_full),
    cmocka_unit_test_setup_teardown(test_queue_cap, setup, h_teardown_full),
    cmocka_unit_test_setup_teardown(test_bind_rules, setup, h_teardown_full),
    cmocka_unit_test_setup_teardown(test_sendto, setup, h_teardown_full),
    cmocka_unit_test_setup_teardown(test_events, setup, h_teardown_full),
    cmocka_unit_test_setup_teardown(test_alloc_failures, setup, h_teardown_full),
    cmocka_unit_test_setup_teardown(test_broadcast_delivery, setup, h_teardown_full),
  };
  return H_RUN("udp", tests);
}
