/*
 * test_offload.c - TUN offloads (docs/OFFLOAD.md) seen from the core.
 *
 * Output: a device that advertises US_DEV_CSUM | US_DEV_TSO4 gets TCP
 * super-segments (one IPv4 + TCP header, up to 64 KB of payload,
 * gso_size = MSS) with the checksum field holding only the pseudo-header
 * sum; the harness then plays the kernel (cuts and checksums them) so the
 * wire segments are checked like any others. A device without the
 * capability gets only MSS-sized segments with full checksums.
 *
 * Input: a GSO super-packet (payload far above the MSS) with a partial
 * checksum and its us_rx_meta is accepted; the same bytes without the
 * metadata, or with metadata that does not describe them, are dropped and
 * counted.
 *
 * The virtio header conversions of the TUN driver (stack/platform/tun.c)
 * are checked here too: they are pure functions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "platform/tun.h"
#include "tcp_harness.h"

#define SMSS 1460

static struct th *new_offload(void **state, uint32_t caps) {
  struct th *h = th_new_offload(NULL, caps);
  *state = h;
  return h;
}

/* The first kept tx_meta packet with gso_size > 0, or NULL. */
static const struct th_offl_pkt *first_super(struct th *h) {
  for (size_t i = 0; i < h->offl.kept; i++)
    if (h->offl.v[i].meta.gso_size > 0)
      return &h->offl.v[i];
  return NULL;
}

/* A super-segment exactly as the kernel must get it (TCP header `thl`). */
static void check_super_thl(const struct th_offl_pkt *k, uint32_t payload, uint16_t gso_size,
                            size_t thl) {
  const uint8_t *b = k->buf;
  assert_int_equal(b[0], 0x45);
  assert_int_equal(h_rd16(b + 2), k->len);
  assert_int_equal(k->len, 20 + thl + payload);
  assert_int_equal((size_t)(b[32] >> 4) * 4, thl);
  assert_int_equal(b[9], 6);
  assert_int_equal(h_csum(b, 20), 0); /* the IP header checksum is complete */
  assert_true(k->meta.csum_partial);
  assert_int_equal(k->meta.csum_start, 20);
  assert_int_equal(k->meta.csum_offset, 16);
  assert_int_equal(k->meta.gso_size, gso_size);
  /* The TCP checksum field: the folded pseudo-header sum of the WHOLE
   * super-segment, not complemented (what the kernel's segmentation
   * expects to adjust per segment). */
  uint16_t want =
      (uint16_t)~h_csum_fold(h_pseudo4(h_rd32(b + 12), h_rd32(b + 16), 6, (uint32_t)k->len - 20));
  assert_int_equal(h_rd16(b + 36), want);
  /* Completing it over the segment gives a valid checksum. */
  uint16_t done = h_csum(b + 20, k->len - 20);
  uint8_t copy[60];
  memcpy(copy, b + 20, thl);
  copy[16] = (uint8_t)(done >> 8);
  copy[17] = (uint8_t)done;
  uint32_t s = h_pseudo4(h_rd32(b + 12), h_rd32(b + 16), 6, (uint32_t)k->len - 20);
  s = h_csum_add(s, copy, thl);
  s = h_csum_add(s, b + 20 + thl, k->len - 20 - thl);
  assert_int_equal(h_csum_fold(s), 0); /* sums to 0xffff: valid */
}

static void check_super(const struct th_offl_pkt *k, uint32_t payload, uint16_t gso_size) {
  check_super_thl(k, payload, gso_size, 20);
}

/* With TSO the first flight (the initial window) leaves as ONE
 * super-segment of whole MSS; the kernel's cut gives the same segments a
 * plain device would have carried. */
static void test_tso_first_flight_is_one_super_segment(void **state) {
  struct th *h = new_offload(state, US_DEV_CSUM | US_DEV_TSO4);
  us_time_t t = th_fx_established(h, 0);
  struct us_tcp_info info;
  assert_true(th_info(h, &info));
  uint32_t cwnd = info.cwnd;
  assert_true(cwnd >= 2 * SMSS && cwnd % SMSS == 0);
  assert_int_equal(th_send(h, t, 100000), 100000);
  th_advance(h, t);
  assert_int_equal(h->offl.super, 1);
  const struct th_offl_pkt *k = first_super(h);
  assert_non_null(k);
  check_super(k, cwnd, SMSS);
  assert_int_equal(k->buf[33] & TH_PSH, 0); /* more data queued: no PSH */
  for (uint32_t off = 0; off < cwnd; off += SMSS)
    th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1 + off, .ack = 1, .len = SMSS));
  th_expect_nothing_until(h, t + US_MSEC(1));
  assert_int_equal(th_stat(h, US_STAT_tcp_tso_segs_out), 1);
  assert_int_equal(th_stat(h, US_STAT_ip_out_gso), 1);
  /* Every wire segment counts in tcp_out_segs. */
  assert_true(th_stat(h, US_STAT_tcp_out_segs) >= cwnd / SMSS);

  /* The ACK of it opens the window further: again super-segments of
   * whole MSS (the queue is not emptied, so no short tail). */
  th_inject(h, t + US_MSEC(1), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1 + cwnd));
  assert_true(h->offl.super >= 2);
  for (size_t i = 0; i < h->offl.kept; i++) {
    const struct th_offl_pkt *p = &h->offl.v[i];
    if (p->meta.gso_size == 0)
      continue;
    assert_int_equal((p->len - 40) % SMSS, 0);
  }
  th_drain(h);
  th_finish(h);
}

/* A write shorter than the window but longer than the MSS: one
 * super-segment holding all of it, PSH on it, and after the cut PSH only on
 * the short last segment. */
static void test_tso_tail_and_psh(void **state) {
  struct th *h = new_offload(state, US_DEV_CSUM | US_DEV_TSO4);
  us_time_t t = th_fx_established(h, 0);
  assert_int_equal(th_send(h, t, 5000), 5000);
  th_advance(h, t);
  assert_int_equal(h->offl.super, 1);
  const struct th_offl_pkt *k = first_super(h);
  assert_non_null(k);
  check_super(k, 5000, SMSS);
  assert_int_not_equal(k->buf[33] & TH_PSH, 0);
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1, .len = SMSS, .psh_check = true, ACK_ANY));
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1 + SMSS, .len = SMSS, .psh_check = true, ACK_ANY));
  th_expect(h, t,
            TSEG(.flags = TH_ACK, .seq = 1 + 2 * SMSS, .len = SMSS, .psh_check = true, ACK_ANY));
  th_expect(h, t,
            TSEG(.flags = TH_ACK | TH_PSH, .seq = 1 + 3 * SMSS, .len = 5000 - 3 * SMSS,
                 .psh_check = true, ACK_ANY));
  th_inject(h, t + US_MSEC(1), TSEG(.flags = TH_ACK, .seq = 1, .ack = 5001));
  th_finish(h);
}

/* With RFC 7323 timestamps every segment repeats TSopt, which comes out of
 * the MSS: gso_size is the payload of a full segment (1460 - 12), not the
 * MSS the peer offered, and each piece the kernel cuts carries the option. */
static void test_tso_with_timestamps(void **state) {
  struct th *h = new_offload(state, US_DEV_CSUM | US_DEV_TSO4);
  th_fx_listen(h, 0);
  th_inject(h, 0, TSEG(.flags = TH_SYN, .seq = 0, MSS(1460), TS(100, 0)));
  th_expect(h, 0, TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1, MSS(1460)));
  uint32_t s_ts = th_last(h)->tsval;
  us_time_t t = US_MSEC(10);
  th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, TS(101, s_ts)));
  th_assert_state(h, US_TCP_ESTABLISHED);
  th_accept(h);
  assert_int_equal(th_send(h, t, 5000), 5000);
  th_advance(h, t);
  const struct th_offl_pkt *k = first_super(h);
  assert_non_null(k);
  check_super_thl(k, 5000, 1448, 32);
  for (uint32_t off = 0; off < 3 * 1448; off += 1448) {
    th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1 + off, .len = 1448, ACK_ANY));
    assert_true(th_last(h)->has_ts);
  }
  th_expect(h, t,
            TSEG(.flags = TH_ACK | TH_PSH, .seq = 1 + 3 * 1448, .len = 5000 - 3 * 1448,
                 .psh_check = true, ACK_ANY));
  assert_true(th_last(h)->has_ts);
  s_ts = th_last(h)->tsval;
  th_inject(h, t + US_MSEC(1), TSEG(.flags = TH_ACK, .seq = 1, .ack = 5001, TS(102, s_ts)));
  th_finish(h);
}

/* Without the capability: no tx_meta at all, every segment at most one
 * MSS with a full checksum (the harness's parser checks it). */
static void test_no_super_segment_without_tso(void **state) {
  struct th *h = th_new_state(state, NULL);
  us_time_t t = th_fx_established(h, 0);
  assert_int_equal(th_send(h, t, 100000), 100000);
  th_advance(h, t);
  struct th_pkt p;
  size_t n = 0;
  while (th_pop(h, &p)) {
    assert_true(p.ok);
    assert_true(p.plen <= SMSS);
    assert_true(p.len <= 1500);
    n++;
  }
  assert_true(n >= 2);
  assert_int_equal(th_stat(h, US_STAT_tcp_tso_segs_out), 0);
  assert_int_equal(th_stat(h, US_STAT_tcp_csum_offload_out), 0);
  assert_int_equal(h->offl.total, 0);
  th_finish(h);
}

/* Checksum offload alone: MSS-sized segments, each with the partial sum;
 * TSO alone is not used (a super-segment always needs the checksum). */
static void test_csum_only_and_tso_only(void **state) {
  struct th *h = new_offload(state, US_DEV_CSUM);
  us_time_t t = th_fx_established(h, 0);
  assert_int_equal(th_send(h, t, 10000), 10000);
  th_advance(h, t);
  assert_true(h->offl.total > 0);
  assert_int_equal(h->offl.super, 0);
  size_t data = 0;
  for (size_t i = 0; i < h->offl.kept; i++) {
    const struct th_offl_pkt *k = &h->offl.v[i];
    assert_true(k->len <= 1500);
    uint16_t want = (uint16_t)~h_csum_fold(
        h_pseudo4(h_rd32(k->buf + 12), h_rd32(k->buf + 16), 6, (uint32_t)k->len - 20));
    assert_int_equal(h_rd16(k->buf + 36), want);
    data += k->len > 40;
  }
  assert_true(data >= 2);
  th_drain(h);
  th_finish(h);
  th_free(h);

  h = new_offload(state, US_DEV_TSO4);
  t = th_fx_established(h, 0);
  assert_int_equal(th_send(h, t, 10000), 10000);
  th_advance(h, t);
  assert_int_equal(h->offl.total, 0);
  assert_int_equal(th_stat(h, US_STAT_tcp_tso_segs_out), 0);
  th_drain(h);
  th_finish(h);
}

static const struct us_rx_meta gso_partial = {
  .flags = US_RX_CSUM_PARTIAL, .csum_start = 20, .csum_offset = 16, .gso_size = SMSS
};

/* A 20000-byte GSO super-packet whose checksum the kernel never computed:
 * accepted whole, counted, and ACKed at once (it stands for 14 segments). */
static void test_gso_input_accepted(void **state) {
  struct th *h = th_new_state(state, NULL);
  us_time_t t = th_fx_established(h, 0);
  th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 20000, .meta = &gso_partial));
  assert_int_equal(th_stat(h, US_STAT_ip_gso_in), 1);
  assert_int_equal(th_stat(h, US_STAT_ip_in_csum_offload), 1);
  assert_int_equal(th_stat(h, US_STAT_tcp_in_csum_errors), 0);
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 20001));
  th_recv_expect(h, t, 20000);
  th_finish(h);
}

/* The same bytes from anywhere but the local kernel (no metadata), or a
 * corrupted super-packet whose metadata claims no checksum help: the
 * checksum is verified and the segment dropped. */
static void test_unvouched_super_packet_rejected(void **state) {
  struct th *h = th_new_state(state, NULL);
  us_time_t t = th_fx_established(h, 0);
  th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 20000, .bad_csum = true));
  assert_int_equal(th_stat(h, US_STAT_tcp_in_csum_errors), 1);
  static const struct us_rx_meta gso_only = { .gso_size = SMSS };
  th_inject(
      h, t,
      TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 20000, .bad_csum = true, .meta = &gso_only));
  assert_int_equal(th_stat(h, US_STAT_tcp_in_csum_errors), 2);
  assert_int_equal(th_stat(h, US_STAT_ip_gso_in), 1);
  assert_int_equal(th_recv(h, t, 65536), US_ERR_AGAIN);
  th_expect_nothing_until(h, t + US_MSEC(1));
  /* Good bytes with a good checksum and no metadata: a large segment is
   * fine on input, offloads or not. */
  th_inject(h, t + US_MSEC(2), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 20000));
  th_recv_expect(h, t + US_MSEC(2), 20000);
  th_drain(h);
  th_finish(h);
}

/* Metadata that does not describe the packet: dropped, counted. */
static void test_bad_offload_meta_dropped(void **state) {
  struct th *h = th_new_state(state, NULL);
  us_time_t t = th_fx_established(h, 0);
  static const struct us_rx_meta wrong_field = { .flags = US_RX_CSUM_PARTIAL,
                                                 .csum_start = 20,
                                                 .csum_offset = 6 }; /* UDP's field */
  static const struct us_rx_meta wrong_start = { .flags = US_RX_CSUM_PARTIAL,
                                                 .csum_start = 24,
                                                 .csum_offset = 16 };
  static const struct us_rx_meta unknown_flag = { .flags = 0x80 };
  th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 100, .meta = &wrong_field));
  th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 100, .meta = &wrong_start));
  th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 100, .meta = &unknown_flag));
  assert_int_equal(th_stat(h, US_STAT_ip_in_bad_offload), 3);
  assert_int_equal(th_stat(h, US_STAT_ip_in_csum_offload), 0);
  assert_int_equal(th_recv(h, t, 65536), US_ERR_AGAIN);
  /* DATA_VALID: the kernel checked it; the core does not sum it again. */
  static const struct us_rx_meta valid = { .flags = US_RX_CSUM_VALID };
  th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 100, .meta = &valid));
  assert_int_equal(th_stat(h, US_STAT_ip_in_csum_offload), 1);
  th_recv_expect(h, t, 100);
  th_drain(h);
  th_finish(h);
}

/* ---- the TUN's virtio header (stack/platform/tun.c) ----------------------- */

static void test_vnet_header_to_meta(void **state) {
  (void)state;
  struct us_rx_meta m;
  /* NEEDS_CSUM, GSO_TCPV4, hdr_len 52, gso_size 1448, start 20, offset 16:
   * little-endian fields. */
  const uint8_t gso[10] = { 1, 1, 52, 0, 0xa8, 0x05, 20, 0, 16, 0 };
  assert_true(us_tun_vnet_to_meta(gso, 30000, &m));
  assert_int_equal(m.flags, US_RX_CSUM_PARTIAL);
  assert_int_equal(m.gso_size, 1448);
  assert_int_equal(m.csum_start, 20);
  assert_int_equal(m.csum_offset, 16);
  const uint8_t ecn[10] = { 1, 0x81, 52, 0, 0xa8, 0x05, 20, 0, 16, 0 };
  assert_true(us_tun_vnet_to_meta(ecn, 30000, &m));
  assert_int_equal(m.gso_size, 1448);
  const uint8_t valid[10] = { 2, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
  assert_true(us_tun_vnet_to_meta(valid, 60, &m));
  assert_int_equal(m.flags, US_RX_CSUM_VALID);
  assert_int_equal(m.gso_size, 0);
  const uint8_t none[10] = { 0 };
  assert_true(us_tun_vnet_to_meta(none, 60, &m));
  assert_int_equal(m.flags, 0);
  /* TCPv6 GSO (TUN_F_TSO6): the same, behind a 40-byte header. */
  const uint8_t v6[10] = { 1, 4, 72, 0, 0xa8, 0x05, 40, 0, 16, 0 };
  assert_true(us_tun_vnet_to_meta(v6, 30000, &m));
  assert_int_equal(m.gso_size, 1448);
  assert_int_equal(m.csum_start, 40);
  /* Refused: UDP GSO (never enabled), gso_size 0, a checksum field beyond
   * the packet. */
  const uint8_t udp[10] = { 1, 3, 28, 0, 0xa8, 0x05, 20, 0, 6, 0 };
  assert_false(us_tun_vnet_to_meta(udp, 30000, &m));
  const uint8_t zero[10] = { 1, 1, 52, 0, 0, 0, 20, 0, 16, 0 };
  assert_false(us_tun_vnet_to_meta(zero, 30000, &m));
  assert_false(us_tun_vnet_to_meta(gso, 37, &m)); /* 20 + 16 + 2 > 37 */
}

static void test_meta_to_vnet_header(void **state) {
  (void)state;
  uint8_t h[10];
  uint8_t pkt[60] = { 0x45 };
  pkt[32] = 0x80; /* TCP data offset 8: 32-byte header */
  struct us_tx_meta tso = {
    .csum_partial = true, .csum_start = 20, .csum_offset = 16, .gso_size = 1448
  };
  us_tun_meta_to_vnet(&tso, pkt, sizeof pkt, h);
  const uint8_t want[10] = { 1, 1, 52, 0, 0xa8, 0x05, 20, 0, 16, 0 };
  assert_memory_equal(h, want, 10);
  struct us_tx_meta csum = { .csum_partial = true, .csum_start = 20, .csum_offset = 16 };
  us_tun_meta_to_vnet(&csum, pkt, sizeof pkt, h);
  const uint8_t want_csum[10] = { 1, 0, 38, 0, 0, 0, 20, 0, 16, 0 };
  assert_memory_equal(h, want_csum, 10);
  us_tun_meta_to_vnet(NULL, pkt, sizeof pkt, h);
  const uint8_t zero[10] = { 0 };
  assert_memory_equal(h, zero, 10);
  /* An IPv6 super-segment: GSO_TCPV6, hdr_len 40 + 32. */
  uint8_t pkt6[80] = { 0x60 };
  pkt6[52] = 0x80;
  struct us_tx_meta tso6 = {
    .csum_partial = true, .csum_start = 40, .csum_offset = 16, .gso_size = 1428
  };
  us_tun_meta_to_vnet(&tso6, pkt6, sizeof pkt6, h);
  const uint8_t want6[10] = { 1, 4, 72, 0, 0x94, 0x05, 40, 0, 16, 0 };
  assert_memory_equal(h, want6, 10);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_teardown(test_tso_first_flight_is_one_super_segment, th_teardown),
    cmocka_unit_test_teardown(test_tso_tail_and_psh, th_teardown),
    cmocka_unit_test_teardown(test_tso_with_timestamps, th_teardown),
    cmocka_unit_test_teardown(test_no_super_segment_without_tso, th_teardown),
    cmocka_unit_test_teardown(test_csum_only_and_tso_only, th_teardown),
    cmocka_unit_test_teardown(test_gso_input_accepted, th_teardown),
    cmocka_unit_test_teardown(test_unvouched_super_packet_rejected, th_teardown),
    cmocka_unit_test_teardown(test_bad_offload_meta_dropped, th_teardown),
    cmocka_unit_test(test_vnet_header_to_meta),
    cmocka_unit_test(test_meta_to_vnet_header),
  };
  return H_RUN("offload", tests);
}
