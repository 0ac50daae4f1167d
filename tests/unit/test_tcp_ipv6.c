/*
 * test_tcp_ipv6.c - TCP over IPv6 through the same socket API, black-box
 * on the virtual clock: S is fd00::2, P fd00::1 (tcp_harness.h,
 * th_new_v6). Handshakes both ways with MSS = MTU - 60 (RFC 8200 8.3),
 * data, both closes, RSTs, a SYN cookie, packet too big (RFC 8201), ISNs
 * and cookies keyed on all 128 bits of each address (RFC 6528), and IPv6
 * sent through the device's offloads (TSO6) or without them.
 */
#include <string.h>

#include "harness.h"
#include "tcp/tcp_int.h"
#include "wire/icmp6.h"
#include "tcp_harness.h"

#define MS(x) US_MSEC(x)

static struct th *new6(void **state, void (*tweak)(struct us_config *)) {
  struct us_config c;
  th_config6(&c);
  if (tweak)
    tweak(&c);
  struct th *h = th_new_v6(&c);
  *state = h;
  return h;
}

static us_addr_t p_addr(void) { return us_addr_v6(h_peer6); }
static us_addr_t s_addr(void) { return us_addr_v6(h_us6); }

/* Passive open: our SYN-ACK offers 1500 - 60; the send MSS is the smaller
 * of that and P's 1460; data both ways; the socket shows both IPv6 ends. */
static void test_passive_open(void **state) {
  struct th *h = new6(state, NULL);
  th_fx_listen(h, 0);
  th_inject(h, 0, TSEG(.flags = TH_SYN, .seq = 0, MSS(1460)));
  th_expect(h, 0, TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1, MSS(1440)));
  assert_true(th_last(h)->v6);
  th_inject(h, MS(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  th_assert_state(h, US_TCP_ESTABLISHED);
  th_accept(h); /* checks the peer is fd00::1 and P's port */
  us_endpoint_t local, remote;
  assert_int_equal(us_tcp_addrs(h->s, h->c->sock, &local, &remote), 0);
  assert_true(us_endpoint_eq(local, us_endpoint(s_addr(), TH_S_PORT)));
  assert_true(us_endpoint_eq(remote, us_endpoint(p_addr(), h->c->p_port)));
  struct us_tcp_info in;
  assert_true(th_info(h, &in));
  assert_int_equal(in.mss, 1440);
  assert_true(us_addr_eq(in.raddr, p_addr()));

  th_inject(h, MS(20), TSEG(.flags = TH_ACK | TH_PSH, .seq = 1, .ack = 1, .len = 1000));
  th_expect_within(h, MS(20), MS(520), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1001));
  th_recv_expect(h, h->now, 1000);
  /* 3000 bytes leave as full 1440-byte segments. */
  assert_int_equal(th_send(h, h->now, 3000), 3000);
  th_expect(h, h->now, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1001, .len = 1440));
  th_expect(h, h->now, TSEG(.flags = TH_ACK, .seq = 1441, .ack = 1001, .len = 1440));
  th_expect(h, h->now, TSEG(.flags = TH_ACK, .seq = 2881, .ack = 1001, .len = 120));
  th_inject(h, h->now + MS(10), TSEG(.flags = TH_ACK, .seq = 1001, .ack = 3001));
  assert_int_equal(th_stat(h, US_STAT_tcp_passive_opens), 1);
  th_finish(h);
}

/* Active open to an IPv6 peer: the SYN comes from fd00::2 with MSS 1440. */
static void test_active_open(void **state) {
  struct th *h = new6(state, NULL);
  th_connect(h, 0);
  th_expect(h, 0, TSEG(.flags = TH_SYN, .seq = 0, MSS(1440)));
  th_inject(h, MS(20), TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1, MSS(1440)));
  th_expect(h, MS(20), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  th_assert_state(h, US_TCP_ESTABLISHED);
  assert_true(us_sock_events(h->s, h->c->sock) & US_EV_CONNECTED);
  us_endpoint_t local;
  assert_int_equal(us_tcp_addrs(h->s, h->c->sock, &local, NULL), 0);
  assert_true(us_addr_eq(local.addr, s_addr()));
  assert_true(local.port >= 49152); /* RFC 6056's range */
  assert_int_equal(th_send(h, MS(30), 100), 100);
  th_expect(h, MS(30), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 100));
  th_inject(h, MS(40), TSEG(.flags = TH_ACK, .seq = 1, .ack = 101));
  th_finish(h);
}

/* A smaller link: the MSS follows (1280 - 60), in both SYN directions. */
static void mtu_1280(struct us_config *c) { c->mtu = 1280; }
static void test_mss_from_mtu(void **state) {
  struct th *h = new6(state, mtu_1280);
  th_connect(h, 0);
  th_expect(h, 0, TSEG(.flags = TH_SYN, .seq = 0, MSS(1220)));
  th_drain(h);
  th_use(h, 1);
  th_fx_listen(h, MS(1));
  h->c->s_port = TH_S_PORT;
  th_inject(h, MS(1), TSEG(.flags = TH_SYN, .seq = 0, MSS(1460)));
  th_expect(h, MS(1), TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1, MSS(1220)));
  th_finish(h);
}

/* S closes first: FIN-WAIT-1, FIN-WAIT-2, TIME-WAIT over IPv6, and the
 * TCB goes after 2*MSL; then P closes first on another connection. */
static void test_closes(void **state) {
  struct th *h = new6(state, NULL);
  us_time_t t = th_fx_time_wait(h, 0);
  th_assert_state(h, US_TCP_TIME_WAIT);
  th_advance(h, t + US_SEC(3)); /* 2 * MSL (1 s in th_config) has passed */
  assert_int_equal(th_state(h), -1);
  th_use(h, 1);
  th_fx_last_ack(h, t + US_SEC(4));
  th_assert_state(h, US_TCP_LAST_ACK);
  th_finish(h);
}

/* A SYN to a port nobody listens on gets <SEQ=0><ACK=SEG.SEQ+1><RST,ACK>
 * (RFC 9293 3.10.7.1) back over IPv6; a RST in ESTABLISHED ends the
 * connection with US_ERR_CONNRESET. */
static void test_rst(void **state) {
  struct th *h = new6(state, NULL);
  h->c->s_port = 81;
  th_inject(h, 0, TSEG(.flags = TH_SYN, .seq = 0, .dport = 81));
  th_expect(h, 0, TSEG(.flags = TH_RST | TH_ACK, .seq_abs = true, .seq = 0, .ack = 1));
  assert_true(th_last(h)->v6);
  th_use(h, 1);
  us_time_t t = th_fx_established(h, MS(10));
  th_inject(h, t + MS(10), TSEG(.flags = TH_RST, .seq = 1));
  assert_int_equal(th_state(h), -1);
  assert_int_equal(us_sock_error(h->s, h->c->sock), US_ERR_CONNRESET);
  th_finish(h);
}

/* A full SYN queue answers with a cookie over IPv6 (MSS 1440 offered); the
 * ACK that returns it makes the connection, with the cookie's MSS. */
static void test_syn_cookie(void **state) {
  struct th *h = new6(state, NULL);
  th_listen(h, TH_S_PORT, 1);
  h->c->s_port = TH_S_PORT;
  th_inject(h, 0, TSEG(.flags = TH_SYN, .seq = 0, MSS(1460)));
  th_expect(h, 0, TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1));
  th_use(h, 1);
  h->c->s_port = TH_S_PORT;
  th_inject(h, MS(1), TSEG(.flags = TH_SYN, .seq = 0, MSS(1440)));
  th_expect(h, MS(1), TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1, MSS(1440)));
  assert_int_equal(th_stat(h, US_STAT_tcp_syncookies_sent), 1);
  /* A wrong cookie fails the MAC (bare ACK: answered with a RST). */
  th_inject(h, MS(5), TSEG(.flags = TH_ACK, .seq = 1, .ack = 2));
  assert_int_equal(th_stat(h, US_STAT_tcp_syncookies_failed), 1);
  th_drain(h);
  th_inject(h, MS(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  assert_int_equal(th_stat(h, US_STAT_tcp_syncookies_recv), 1);
  th_assert_state(h, US_TCP_ESTABLISHED);
  struct us_tcp_info in;
  assert_true(th_info(h, &in));
  assert_int_equal(in.mss, 1440);
  assert_true(us_addr_eq(in.raddr, p_addr()));
  th_drain(h);
  th_finish(h);
}

/* An ICMPv6 error (RFC 4443 2.1) from P quoting `quoted` (a segment S
 * sent), with the quoted TCP sequence number replaced by `seq` unless
 * `seq` is SEQ_AS_SENT. */
#define SEQ_AS_SENT 0xffffffffffffull
static void send_icmp6_err(struct th *h, us_time_t t, uint8_t type, uint8_t code, uint32_t info,
                           const struct th_pkt *quoted, uint64_t seq) {
  uint8_t msg[8 + 1232];
  size_t ql = quoted->len < 1232 ? quoted->len : 1232;
  msg[0] = type;
  msg[1] = code;
  h_wr16(msg + 2, 0);
  h_wr32(msg + 4, info);
  memcpy(msg + 8, quoted->buf, ql);
  if (seq != SEQ_AS_SENT)
    h_wr32(msg + 8 + 40 + 4, (uint32_t)seq); /* behind the quoted IPv6 header */
  struct h_ip ip = h_ip6_to_us(58);
  uint32_t sum = h_ip_pseudo(&ip, 8 + ql);
  h_wr16(msg + 2, h_csum_fold(h_csum_add(sum, msg, 8 + ql)));
  uint8_t pkt[40 + sizeof msg];
  size_t n = h_ip_build(pkt, &ip, msg, 8 + ql);
  th_advance(h, t);
  us_stack_input(h->s, pkt, n, t);
  us_stack_poll(h->s, t);
  th_advance(h, t);
}

static void send_ptb(struct th *h, us_time_t t, uint32_t mtu, const struct th_pkt *quoted) {
  send_icmp6_err(h, t, US_ICMP6_PKT_TOO_BIG, 0, mtu, quoted, SEQ_AS_SENT);
}

/* ICMPv6 packet too big (RFC 4443 3.2, RFC 8201) about a segment in
 * flight: the path MTU and MSS drop and the data is resent at the new size
 * at once; a report below 1280 counts as 1280. */
static void test_packet_too_big(void **state) {
  struct th *h = new6(state, NULL);
  us_time_t t = th_fx_established(h, 0);
  assert_int_equal(th_send(h, t, 1440), 1440);
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 1440));
  struct th_pkt big = *th_last(h);
  uint8_t copy[1500];
  memcpy(copy, big.buf, big.len);
  big.buf = copy;
  send_ptb(h, t + MS(5), 1000, &big); /* below 1280: taken as 1280 */
  assert_int_equal(th_stat(h, US_STAT_tcp_pmtu_reduced), 1);
  struct us_tcp_info in;
  assert_true(th_info(h, &in));
  assert_int_equal(in.pmtu, 1280);
  assert_int_equal(in.mss, 1220);
  th_expect(h, t + MS(5), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 1220));
  th_expect(h, t + MS(5), TSEG(.flags = TH_ACK, .seq = 1221, .ack = 1, .len = 220));
  th_inject(h, t + MS(20), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1441));
  th_finish(h);
}

/* Blind ICMPv6 attacks (RFC 5927 4.1, docs/HOSTILE.md IP6-14): an error
 * whose quoted sequence number is not in [SND.UNA, SND.NXT) is ignored,
 * so a forged packet too big lowers no MSS and a forged unreachable does
 * nothing; inside the window, unreachable, time exceeded and parameter
 * problem are soft errors (RFC 9293 MUST-56, RFC 5461): the connection
 * stays and no RST or ICMPv6 goes out. */
static void test_blind_icmp6(void **state) {
  struct th *h = new6(state, NULL);
  us_time_t t = th_fx_established(h, 0) + MS(10);
  assert_int_equal(th_send(h, t, 1000), 1000);
  th_expect(h, t, TSEG(.flags = TH_ACK | TH_PSH, .seq = 1, .ack = 1, .len = 1000));
  struct th_pkt seg = *th_last(h);
  uint8_t copy[1500];
  memcpy(copy, seg.buf, seg.len);
  seg.buf = copy;
  struct us_tcp_info in;
  assert_true(th_info(h, &in));
  uint32_t una = in.snd_una, nxt = in.snd_nxt;
  assert_int_equal(nxt - una, 1000);

  struct h_snap sn;
  h_snap_take(h->s, &sn);
  static const uint32_t outside[] = { 0, 1, 1000, 0x80000000u };
  for (size_t i = 0; i < 4; i++) {
    uint32_t bad[2] = { nxt + outside[i], una - 1 - outside[i] };
    for (size_t j = 0; j < 2; j++) {
      send_icmp6_err(h, t, US_ICMP6_PKT_TOO_BIG, 0, 1280, &seg, bad[j]);
      for (uint8_t code = 0; code <= 6; code++)
        send_icmp6_err(h, t, US_ICMP6_DEST_UNREACH, code, 0, &seg, bad[j]);
      th_assert_state(h, US_TCP_ESTABLISHED);
      assert_int_equal(us_sock_error(h->s, h->c->sock), 0);
    }
  }
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_tcp_icmp_ignored), 4 * 2 * 8);
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_tcp_pmtu_reduced), 0);
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_tcp_icmp_soft), 0);
  assert_true(th_info(h, &in));
  assert_int_equal(in.mss, 1440);
  assert_int_equal(th_queued(h), 0); /* nothing resent, no RST, no ICMPv6 */

  /* Inside the window: soft errors only, whatever the code. */
  for (uint8_t code = 0; code <= 6; code++)
    send_icmp6_err(h, t, US_ICMP6_DEST_UNREACH, code, 0, &seg, una + 500);
  send_icmp6_err(h, t, US_ICMP6_TIME_EXCEEDED, 0, 0, &seg, una);
  send_icmp6_err(h, t, US_ICMP6_PARAM_PROBLEM, 0, 6, &seg, una);
  th_assert_state(h, US_TCP_ESTABLISHED);
  assert_int_equal(us_sock_error(h->s, h->c->sock), 0);
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_tcp_icmp_soft), 9);
  assert_int_equal(th_queued(h), 0);

  /* The connection still moves data both ways. */
  th_inject(h, t + MS(20), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1001, .len = 10));
  th_recv_expect(h, t + MS(20), 10);
  th_drain(h);
  th_finish(h);
}

/* A device that segments IPv6 (US_DEV_TSO6, the TUN with TUN_F_TSO6):
 * 4000 bytes leave as one super-segment with a partial checksum behind a
 * 40-byte header, which the device (the harness playing the kernel) cuts
 * into 1440-byte segments with their own payload length and checksum. */
static void test_tso6(void **state) {
  struct us_config c;
  th_config6(&c);
  struct th *h = th_new_offload(&c, US_DEV_CSUM | US_DEV_TSO4 | US_DEV_TSO6);
  *state = h;
  h->v6 = true;
  us_time_t t = th_fx_established(h, 0);
  uint64_t before = h->offl.total;
  assert_int_equal(th_send(h, t, 4000), 4000);
  us_stack_poll(h->s, t);
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 1440));
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1441, .ack = 1, .len = 1440));
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 2881, .ack = 1, .len = 1120));
  assert_int_equal(h->offl.super, 1);
  const struct th_offl_pkt *sp = &h->offl.v[h->offl.kept - 1];
  assert_int_equal(sp->meta.gso_size, 1440);
  assert_int_equal(sp->meta.csum_start, 40);
  assert_int_equal(sp->meta.csum_offset, 16);
  assert_int_equal(sp->buf[0] >> 4, 6);
  assert_int_equal(h_rd16(sp->buf + 4), sp->len - 40);
  assert_true(h->offl.total > before);
  assert_int_equal(th_stat(h, US_STAT_tcp_tso_segs_out), 1);
  assert_int_equal(th_stat(h, US_STAT_tcp_tso_v6_off), 0);
  th_inject(h, t + MS(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 4001));
  th_finish(h);
}

/* A device that segments IPv4 only: an IPv6 connection still hands it
 * partial checksums, one MSS per segment, and counts each such pass. */
static void test_tso4_only(void **state) {
  struct us_config c;
  th_config6(&c);
  struct th *h = th_new_offload(&c, US_DEV_CSUM | US_DEV_TSO4);
  *state = h;
  h->v6 = true;
  us_time_t t = th_fx_established(h, 0);
  assert_int_equal(th_send(h, t, 4000), 4000);
  us_stack_poll(h->s, t);
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 1440));
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1441, .ack = 1, .len = 1440));
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 2881, .ack = 1, .len = 1120));
  assert_int_equal(h->offl.super, 0);
  assert_true(h->offl.total >= 3); /* checksums still completed by the device */
  assert_true(th_stat(h, US_STAT_tcp_tso_v6_off) >= 3);
  assert_int_equal(th_stat(h, US_STAT_tcp_tso_segs_out), 0);
  th_inject(h, t + MS(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 4001));
  th_finish(h);
}

/* A TCPv6 GSO super-packet from the local kernel (TUN_F_TSO6), its
 * checksum left partial at the TCP field behind the 40-byte header, is
 * taken whole; the same metadata naming the wrong place is refused. */
static void test_gso6_input(void **state) {
  struct th *h = new6(state, NULL);
  us_time_t t = th_fx_established(h, 0);
  static const struct us_rx_meta gso6 = {
    .flags = US_RX_CSUM_PARTIAL, .csum_start = 40, .csum_offset = 16, .gso_size = 1440
  };
  th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 20000, .meta = &gso6));
  assert_int_equal(th_stat(h, US_STAT_ip_gso_in), 1);
  assert_int_equal(th_stat(h, US_STAT_ip_in_csum_offload), 1);
  assert_int_equal(th_stat(h, US_STAT_tcp_in_csum_errors), 0);
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 20001));
  th_recv_expect(h, t, 20000);
  static const struct us_rx_meta wrong = {
    .flags = US_RX_CSUM_PARTIAL, .csum_start = 20, .csum_offset = 16, .gso_size = 1440
  };
  th_inject(h, t + MS(1),
            TSEG(.flags = TH_ACK, .seq = 20001, .ack = 1, .len = 3000, .meta = &wrong));
  assert_int_equal(th_stat(h, US_STAT_ip_in_bad_offload), 1);
  assert_int_equal(th_recv(h, t + MS(1), 65536), US_ERR_AGAIN);
  th_finish(h);
}

/* RFC 6528: the ISN function covers all 128 bits of both addresses, and so
 * does the SYN cookie's MAC: flipping any one bit of either address moves
 * them. An IPv4 address and the IPv6 address with its bytes (::ffff:a.b.c.d)
 * are different inputs too. */
static void test_keys_cover_128_bits(void **state) {
  struct th *h = new6(state, NULL);
  struct us_stack *s = h->s;
  us_addr_t l = s_addr(), r = p_addr();
  struct tcp_cookie_opts o = { 0 };
  uint32_t isn = tcp_isn(s, l, 80, r, 40000, 0);
  uint32_t ck = tcp_syncookie_make(s, l, 80, r, 40000, 7, 1440, &o, 0);
  for (int side = 0; side < 2; side++) {
    for (int bit = 0; bit < 128; bit++) {
      us_addr_t l2 = l, r2 = r;
      us_addr_t *a = side ? &r2 : &l2;
      a->b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
      if (tcp_isn(s, l2, 80, r2, 40000, 0) == isn)
        fail_msg("ISN unchanged by bit %d of the %s address", bit, side ? "remote" : "local");
      /* The cookie's MAC is 25 bits: a collision has a chance of 2^-25. */
      if (tcp_syncookie_make(s, l2, 80, r2, 40000, 7, 1440, &o, 0) == ck)
        fail_msg("cookie unchanged by bit %d of the %s address", bit, side ? "remote" : "local");
    }
  }
  us_addr_t v4 = us_addr_v4(US_IP4(10, 0, 0, 2));
  assert_int_not_equal(tcp_isn(s, v4, 80, r, 40000, 0),
                       tcp_isn(s, us_addr_v6(v4.b), 80, r, 40000, 0));
  th_finish(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_teardown(test_passive_open, th_teardown),
    cmocka_unit_test_teardown(test_active_open, th_teardown),
    cmocka_unit_test_teardown(test_mss_from_mtu, th_teardown),
    cmocka_unit_test_teardown(test_closes, th_teardown),
    cmocka_unit_test_teardown(test_rst, th_teardown),
    cmocka_unit_test_teardown(test_syn_cookie, th_teardown),
    cmocka_unit_test_teardown(test_packet_too_big, th_teardown),
    cmocka_unit_test_teardown(test_blind_icmp6, th_teardown),
    cmocka_unit_test_teardown(test_tso6, th_teardown),
    cmocka_unit_test_teardown(test_tso4_only, th_teardown),
    cmocka_unit_test_teardown(test_gso6_input, th_teardown),
    cmocka_unit_test_teardown(test_keys_cover_128_bits, th_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
