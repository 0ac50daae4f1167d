/*
 * test_tcp_listen.c - a listener under pressure (issue 10, docs/LIMITS.md):
 *  - a full SYN queue answers with SYN cookies and evicts nothing, so every
 *    peer that got a SYN-ACK completes its handshake and no RST is sent
 *    (RFC 4987 3.6);
 *  - a full accept queue drops the final ACK (never a RST) and the
 *    handshake completes once the application accepts, for half-open
 *    connections held in the SYN queue and for SYN-cookie ones;
 *  - connection limits per listener and per source address at a listener
 *    refuse a SYN with <SEQ=0><ACK=SEG.SEQ+1><CTL=RST,ACK>, count it, and
 *    leave other listeners and other sources alone;
 *  - RSTs for segments without a connection are rate-limited, RSTs of a
 *    connection are not.
 * Many clients at once, so the segments are built with explicit source
 * ports and absolute sequence numbers; S's answers are filed per client.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"
#include "tcp_harness.h"

#define MS(x) US_MSEC(x)
#define SRC_B US_IP4(10, 0, 0, 3)

/* One of P's clients, and what S sent it. */
struct cl {
  uint32_t src;
  uint16_t port;
  uint32_t isn;
  uint32_t iss;     /* S's ISS, from its (last) SYN-ACK */
  unsigned synacks; /* SYN-ACKs S sent it */
  bool ws;          /* the last SYN-ACK offered window scaling */
  unsigned rsts;
  uint32_t rst_seq, rst_ack;
  uint8_t rst_flags;
  unsigned fins; /* FINs S sent it */
  uint32_t fin_seq, fin_ack;
  us_sock_t sock; /* S's accepted socket */
};

static void cl_init(struct cl *v, size_t n, uint32_t src, uint16_t port0) {
  memset(v, 0, n * sizeof *v);
  for (size_t i = 0; i < n; i++) {
    v[i].src = src;
    v[i].port = (uint16_t)(port0 + i);
    v[i].isn = 0x10000000u + 7919u * (uint32_t)i;
    v[i].sock = US_SOCK_INVALID;
  }
}

static void cl_syn(struct th *h, us_time_t t, const struct cl *c, uint16_t dport) {
  th_inject(h, t,
            TSEG(.flags = TH_SYN, .src = c->src, .sport = c->port, .dport = dport, .seq = c->isn,
                 .seq_abs = true, MSS(1460), WSCALE(7)));
}

/* The handshake's final ACK (with `len` bytes of data when len > 0). */
static void cl_ack(struct th *h, us_time_t t, const struct cl *c, uint16_t dport, uint32_t len) {
  static const uint8_t hello[16] = "hello, listener";
  th_inject(h, t,
            TSEG(.flags = TH_ACK, .src = c->src, .sport = c->port, .dport = dport,
                 .seq = c->isn + 1, .seq_abs = true, .ack = c->iss + 1, .ack_abs = true,
                 .data = len ? hello : NULL, .len = len));
}

/* File everything S emitted under its client; returns the RSTs among it. */
static unsigned collect(struct th *h, struct cl *v, size_t n) {
  struct th_pkt p;
  unsigned rsts = 0;
  while (th_pop(h, &p)) {
    assert_true(p.ok);
    if (p.flags & TH_RST)
      rsts++;
    for (size_t i = 0; i < n; i++) {
      if (v[i].src != p.dst || v[i].port != p.dport)
        continue;
      if (p.flags == (TH_SYN | TH_ACK)) {
        v[i].iss = p.seq;
        v[i].synacks++;
        v[i].ws = p.has_ws;
        assert_int_equal(p.ack, v[i].isn + 1);
      }
      if (p.flags & TH_FIN) {
        v[i].fins++;
        v[i].fin_seq = p.seq;
        v[i].fin_ack = p.ack;
      }
      if (p.flags & TH_RST) {
        v[i].rsts++;
        v[i].rst_seq = p.seq;
        v[i].rst_ack = p.ack;
        v[i].rst_flags = p.flags;
      }
    }
  }
  return rsts;
}

/* Accept everything queued on `l`, filing each socket under its client. */
static unsigned accept_all(struct th *h, us_sock_t l, struct cl *v, size_t n) {
  unsigned got = 0;
  us_sock_t k;
  us_endpoint_t peer;
  while (us_tcp_accept(h->s, l, &k, &peer) == 0) {
    th_track(h, k);
    got++;
    for (size_t i = 0; i < n; i++)
      if (v[i].src == us_addr_ip4(peer.addr) && v[i].port == peer.port)
        v[i].sock = k;
  }
  return got;
}

/* The listener's own line of us_tcp_list. */
static struct us_tcp_info listener_info(struct th *h, uint16_t port) {
  struct us_tcp_info v[64];
  size_t n = us_tcp_list(h->s, v, 64);
  for (size_t i = 0; i < n; i++)
    if (v[i].state == US_TCP_LISTEN && v[i].lport == port)
      return v[i];
  fail_msg("no listener on port %u", port);
  return v[0];
}

/* ---- SYN queue full: cookies, no eviction, no RST ------------------------ */

/* 48 connects at the same instant on a backlog of 16 (the burst of issue
 * 10): 16 half-open connections are kept, the other 32 SYNs get stateless
 * SYN-cookie SYN-ACKs (no window scale: a cookie cannot carry it). Every
 * final ACK completes a connection, and S sends no RST at all. */
static void test_synq_full_cookies_all_complete(void **state) {
  struct th *h = th_new_state(state, NULL);
  us_sock_t l = th_listen(h, TH_S_PORT, 16);
  struct cl v[48];
  cl_init(v, 48, TH_P_ADDR, 30000);
  struct h_snap sn;
  h_snap_take(h->s, &sn);
  for (size_t i = 0; i < 48; i++)
    cl_syn(h, 0, &v[i], TH_S_PORT);
  assert_int_equal(collect(h, v, 48), 0);
  unsigned with_ws = 0;
  for (size_t i = 0; i < 48; i++) {
    assert_int_equal(v[i].synacks, 1);
    with_ws += v[i].ws;
  }
  assert_int_equal(with_ws, 16);
  assert_int_equal(th_tcb_count(h), 1 + 16); /* cookies hold no TCB */
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_tcp_synq_full), 32);
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_tcp_syncookies_sent), 32);
  /* The ACKs come back in reverse order (cookies first); the application
   * accepts after every eight. */
  unsigned accepted = 0;
  for (size_t k = 0; k < 48; k++) {
    cl_ack(h, MS(10), &v[47 - k], TH_S_PORT, 0);
    if (k % 8 == 7)
      accepted += accept_all(h, l, v, 48);
  }
  assert_int_equal(accepted, 48);
  assert_int_equal(collect(h, v, 48), 0);
  /* Every connection carries data. */
  for (size_t i = 0; i < 48; i++) {
    assert_true(us_sock_valid(v[i].sock));
    th_inject(h, MS(20),
              TSEG(.flags = TH_ACK, .src = v[i].src, .sport = v[i].port, .dport = TH_S_PORT,
                   .seq = v[i].isn + 1, .seq_abs = true, .ack = v[i].iss + 1, .ack_abs = true,
                   .data = (const uint8_t *)"abcd", .len = 4));
    char b[8];
    assert_int_equal(us_tcp_recv(h->s, v[i].sock, b, sizeof b, MS(20)), 4);
    assert_memory_equal(b, "abcd", 4);
  }
  th_drain(h);
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_tcp_out_rsts), 0);
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_tcp_syncookies_recv), 32);
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_tcp_syncookies_failed), 0);
  assert_int_equal(h_snap_delta(h->s, &sn, US_STAT_tcp_listen_overflows), 0);
  th_finish(h);
}

/* Without cookies a full SYN queue drops the new SYN (the peer retries);
 * still nothing is evicted and nobody gets a RST. */
static void no_cookies(struct us_config *c) { c->tcp_syncookies = false; }

static void test_synq_full_no_cookies_drops(void **state) {
  struct th *h = th_new_state(state, no_cookies);
  us_sock_t l = th_listen(h, TH_S_PORT, 4);
  struct cl v[6];
  cl_init(v, 6, TH_P_ADDR, 30100);
  for (size_t i = 0; i < 6; i++)
    cl_syn(h, 0, &v[i], TH_S_PORT);
  assert_int_equal(collect(h, v, 6), 0);
  for (size_t i = 0; i < 6; i++)
    assert_int_equal(v[i].synacks, i < 4 ? 1 : 0);
  assert_int_equal(th_stat(h, US_STAT_tcp_synq_full), 2);
  for (size_t i = 0; i < 4; i++)
    cl_ack(h, MS(10), &v[i], TH_S_PORT, 0);
  assert_int_equal(accept_all(h, l, v, 6), 4);
  /* The two retry their SYN and get in. */
  for (size_t i = 4; i < 6; i++)
    cl_syn(h, US_SEC(1), &v[i], TH_S_PORT);
  assert_int_equal(collect(h, v, 6), 0);
  for (size_t i = 4; i < 6; i++)
    cl_ack(h, US_SEC(1) + MS(10), &v[i], TH_S_PORT, 0);
  assert_int_equal(accept_all(h, l, v, 6), 2);
  assert_int_equal(th_stat(h, US_STAT_tcp_out_rsts), 0);
  th_finish(h);
}

/* ---- accept queue full: the final ACK is dropped, never reset ------------ */

/* A half-open connection whose ACK finds the accept queue full stays in
 * SYN-RECEIVED; its SYN-ACK retransmission makes the peer ACK again, and
 * once the application has accepted, that ACK completes it. */
static void test_acceptq_full_synq_entry(void **state) {
  struct th *h = th_new_state(state, NULL);
  us_sock_t l = th_listen(h, TH_S_PORT, 2);
  struct cl v[3];
  cl_init(v, 3, TH_P_ADDR, 30200);
  cl_syn(h, 0, &v[0], TH_S_PORT);
  cl_syn(h, 0, &v[1], TH_S_PORT);
  assert_int_equal(collect(h, v, 3), 0);
  cl_ack(h, MS(10), &v[0], TH_S_PORT, 0);
  cl_syn(h, MS(10), &v[2], TH_S_PORT); /* room on both queues: half-open */
  cl_ack(h, MS(10), &v[1], TH_S_PORT, 0);
  assert_int_equal(collect(h, v, 3), 0);
  assert_int_equal(v[2].synacks, 1);
  assert_true(v[2].ws); /* a real half-open connection, not a cookie */
  /* Its ACK: the accept queue (2) is full. */
  cl_ack(h, MS(20), &v[2], TH_S_PORT, 0);
  assert_int_equal(th_queued(h), 0); /* no RST, nothing */
  assert_int_equal(th_stat(h, US_STAT_tcp_listen_overflows), 1);
  assert_int_equal(accept_all(h, l, v, 3), 2);
  /* The SYN-ACK comes again after the RTO; the peer ACKs again. */
  th_advance(h, MS(10) + US_SEC(1) + MS(5));
  assert_int_equal(collect(h, v, 3), 0);
  assert_int_equal(v[2].synacks, 2);
  cl_ack(h, US_SEC(1) + MS(20), &v[2], TH_S_PORT, 0);
  assert_int_equal(accept_all(h, l, v, 3), 1);
  assert_int_equal(th_stat(h, US_STAT_tcp_out_rsts), 0);
  th_finish(h);
}

/* The same with SYN-cookie connections: a valid cookie ACK that finds the
 * accept queue full is rebuilt into the SYN queue when there is room (and
 * then behaves as above), else dropped, and the peer's retransmission
 * (here: its first data) brings the cookie back later. No RST. */
static void test_acceptq_full_cookie(void **state) {
  struct th *h = th_new_state(state, NULL);
  us_sock_t l = th_listen(h, TH_S_PORT, 1);
  struct cl v[3];
  cl_init(v, 3, TH_P_ADDR, 30300);
  for (size_t i = 0; i < 3; i++)
    cl_syn(h, 0, &v[i], TH_S_PORT); /* a: half-open; b, c: cookies */
  assert_int_equal(collect(h, v, 3), 0);
  assert_int_equal(th_stat(h, US_STAT_tcp_syncookies_sent), 2);
  cl_ack(h, MS(10), &v[0], TH_S_PORT, 0); /* accept queue now full */
  cl_ack(h, MS(10), &v[1], TH_S_PORT, 0); /* rebuilt, kept in SYN-RECEIVED */
  cl_ack(h, MS(10), &v[2], TH_S_PORT, 0); /* both queues full: dropped */
  assert_int_equal(th_queued(h), 0);
  assert_int_equal(th_stat(h, US_STAT_tcp_cookie_acq_full), 2);
  assert_int_equal(th_tcb_count(h), 3); /* listener, a, b */
  assert_int_equal(accept_all(h, l, v, 3), 1);
  /* b: the SYN-ACK again (same ISS: the cookie), then its ACK. */
  th_advance(h, MS(10) + US_SEC(1) + MS(5));
  assert_int_equal(collect(h, v, 3), 0);
  assert_int_equal(v[1].synacks, 2);
  cl_ack(h, US_SEC(1) + MS(20), &v[1], TH_S_PORT, 0);
  assert_int_equal(accept_all(h, l, v, 3), 1);
  /* c: its data, sent with the same ACK, completes it. */
  cl_ack(h, US_SEC(2), &v[2], TH_S_PORT, 5);
  assert_int_equal(accept_all(h, l, v, 3), 1);
  char b[16];
  assert_int_equal(us_tcp_recv(h->s, v[2].sock, b, sizeof b, US_SEC(2)), 5);
  assert_memory_equal(b, "hello", 5);
  th_drain(h);
  assert_int_equal(th_stat(h, US_STAT_tcp_out_rsts), 0);
  assert_int_equal(th_stat(h, US_STAT_tcp_syncookies_failed), 0);
  th_finish(h);
}

/* ---- connection limits ----------------------------------------------------- */

static void limit_listener_3(struct us_config *c) { c->tcp_listener_conn_max = 3; }

/* Three connections per listener: the fourth SYN gets <SEQ=0>
 * <ACK=SEG.SEQ+1><CTL=RST,ACK> and is counted; another listener is not
 * affected; a connection that ends frees its place; half-open ones count. */
static void test_limit_per_listener(void **state) {
  struct th *h = th_new_state(state, limit_listener_3);
  us_sock_t l80 = th_listen(h, 80, 16);
  us_sock_t l81 = th_listen(h, 81, 16);
  struct cl v[6];
  cl_init(v, 6, TH_P_ADDR, 30400);
  for (size_t i = 0; i < 3; i++) {
    cl_syn(h, MS(i), &v[i], 80);
    collect(h, v, 6);
    cl_ack(h, MS(i), &v[i], 80, 0);
  }
  assert_int_equal(accept_all(h, l80, v, 6), 3);
  assert_int_equal(listener_info(h, 80).conns, 3);
  cl_syn(h, MS(2), &v[3], 80);
  assert_int_equal(collect(h, v, 6), 1);
  assert_int_equal(v[3].synacks, 0);
  assert_int_equal(v[3].rst_flags, TH_RST | TH_ACK);
  assert_int_equal(v[3].rst_seq, 0);
  assert_int_equal(v[3].rst_ack, v[3].isn + 1);
  assert_int_equal(th_stat(h, US_STAT_tcp_conn_limit_listener), 1);
  /* Another service still connects. */
  cl_syn(h, MS(3), &v[4], 81);
  collect(h, v, 6);
  assert_int_equal(v[4].synacks, 1);
  cl_ack(h, MS(4), &v[4], 81, 0);
  assert_int_equal(accept_all(h, l81, v, 6), 1);
  /* A connection of port 80 is reset by its peer: its place is free. */
  th_inject(h, MS(5),
            TSEG(.flags = TH_RST, .src = v[0].src, .sport = v[0].port, .dport = 80,
                 .seq = v[0].isn + 1, .seq_abs = true));
  assert_int_equal(listener_info(h, 80).conns, 2);
  v[3].isn += 100000;
  cl_syn(h, MS(6), &v[3], 80);
  collect(h, v, 6);
  assert_int_equal(v[3].synacks, 1); /* half-open: it counts */
  assert_int_equal(listener_info(h, 80).conns, 3);
  cl_syn(h, MS(7), &v[5], 80);
  collect(h, v, 6);
  assert_int_equal(v[5].synacks, 0);
  assert_int_equal(v[5].rsts, 1);
  assert_int_equal(th_stat(h, US_STAT_tcp_conn_limit_listener), 2);
  assert_int_equal(th_stat(h, US_STAT_tcp_conn_limit_source), 0);
  th_finish(h);
}

static void limit_source_2(struct us_config *c) { c->tcp_source_conn_max = 2; }

/* Two connections per source address at each listener: A's third is
 * refused and counted; B, and A at another listener, still connect; when
 * one of A's connections reaches TIME-WAIT, A gets a place back. */
static void test_limit_per_source(void **state) {
  struct th *h = th_new_state(state, limit_source_2);
  us_sock_t l80 = th_listen(h, 80, 16);
  us_sock_t l81 = th_listen(h, 81, 16);
  struct cl a[4], b[2];
  cl_init(a, 4, TH_P_ADDR, 30500);
  cl_init(b, 2, SRC_B, 30500);
  for (size_t i = 0; i < 2; i++) {
    cl_syn(h, MS(i), &a[i], 80);
    collect(h, a, 4);
    cl_ack(h, MS(i), &a[i], 80, 0);
  }
  assert_int_equal(accept_all(h, l80, a, 4), 2);
  cl_syn(h, MS(2), &a[2], 80);
  assert_int_equal(collect(h, a, 4), 1);
  assert_int_equal(a[2].rst_ack, a[2].isn + 1);
  assert_int_equal(th_stat(h, US_STAT_tcp_conn_limit_source), 1);
  /* Another address at the same service. */
  for (size_t i = 0; i < 2; i++) {
    cl_syn(h, MS(3), &b[i], 80);
    collect(h, b, 2);
    assert_int_equal(b[i].synacks, 1);
    cl_ack(h, MS(3), &b[i], 80, 0);
  }
  assert_int_equal(accept_all(h, l80, b, 2), 2);
  /* The same address at another service. */
  cl_syn(h, MS(5), &a[3], 81);
  collect(h, a, 4);
  assert_int_equal(a[3].synacks, 1);
  cl_ack(h, MS(6), &a[3], 81, 0);
  assert_int_equal(accept_all(h, l81, a, 4), 1);
  assert_int_equal(listener_info(h, 80).conns, 4);
  /* S closes a[0]; the peer ACKs the FIN and sends its own: TIME-WAIT. */
  assert_int_equal(us_tcp_close(h->s, a[0].sock, MS(10)), 0);
  th_drain(h);
  th_inject(h, MS(11),
            TSEG(.flags = TH_ACK | TH_FIN, .src = a[0].src, .sport = a[0].port, .dport = 80,
                 .seq = a[0].isn + 1, .seq_abs = true, .ack = a[0].iss + 2, .ack_abs = true));
  th_drain(h);
  assert_int_equal(listener_info(h, 80).conns, 3);
  a[2].isn += 100000;
  cl_syn(h, MS(12), &a[2], 80);
  collect(h, a, 4);
  assert_int_equal(a[2].synacks, 1);
  assert_int_equal(th_stat(h, US_STAT_tcp_conn_limit_source), 1);
  assert_int_equal(th_stat(h, US_STAT_tcp_conn_limit_listener), 0);
  th_finish(h);
}

static void limit_listener_2(struct us_config *c) {
  c->tcp_listener_conn_max = 2;
  c->tcp_source_conn_max = 2;
}

/* Connections outlive a listener that closes: they stop counting, and a
 * new listener on the same port starts from zero; when the old ones end
 * nothing is taken off the new one's count. */
static void test_limit_listener_closed_and_reopened(void **state) {
  struct th *h = th_new_state(state, limit_listener_2);
  us_sock_t l = th_listen(h, 80, 16);
  struct cl v[5];
  cl_init(v, 5, TH_P_ADDR, 30900);
  for (size_t i = 0; i < 2; i++) {
    cl_syn(h, MS(i), &v[i], 80);
    collect(h, v, 5);
    cl_ack(h, MS(i), &v[i], 80, 0);
  }
  assert_int_equal(accept_all(h, l, v, 5), 2);
  assert_int_equal(listener_info(h, 80).conns, 2);
  assert_int_equal(us_tcp_close(h->s, l, MS(5)), 0);
  us_sock_t l2 = th_listen(h, 80, 16);
  assert_int_equal(listener_info(h, 80).conns, 0);
  for (size_t i = 2; i < 4; i++) {
    cl_syn(h, MS(10 + i), &v[i], 80);
    collect(h, v, 5);
    assert_int_equal(v[i].synacks, 1);
    cl_ack(h, MS(10 + i), &v[i], 80, 0);
  }
  assert_int_equal(accept_all(h, l2, v, 5), 2);
  assert_int_equal(listener_info(h, 80).conns, 2);
  /* The old connections end (their peer resets them): no change. */
  for (size_t i = 0; i < 2; i++)
    th_inject(h, MS(20),
              TSEG(.flags = TH_RST, .src = v[i].src, .sport = v[i].port, .dport = 80,
                   .seq = v[i].isn + 1, .seq_abs = true));
  assert_int_equal(listener_info(h, 80).conns, 2);
  cl_syn(h, MS(21), &v[4], 80);
  assert_int_equal(collect(h, v, 5), 1); /* still at the limit of 2 */
  assert_int_equal(v[4].rst_ack, v[4].isn + 1);
  th_finish(h);
}

static void limit_listener_2_backlog_1(struct us_config *c) { c->tcp_listener_conn_max = 2; }

/* SYN cookies hold no state, so the limit is checked again when a cookie
 * ACK would make a connection. Past the limit the peer, whose handshake is
 * complete, is closed cleanly with <SEQ=SEG.ACK><ACK=SEG.SEQ><CTL=FIN,ACK>
 * (no TCB, no RST), and the refusal is counted; its retransmission gets the
 * FIN again. */
static void test_limit_rechecked_at_cookie_ack(void **state) {
  struct th *h = th_new_state(state, limit_listener_2_backlog_1);
  us_sock_t l = th_listen(h, TH_S_PORT, 1);
  struct cl v[3];
  cl_init(v, 3, TH_P_ADDR, 30600);
  for (size_t i = 0; i < 3; i++)
    cl_syn(h, 0, &v[i], TH_S_PORT); /* one half-open (1 of 2), two cookies */
  assert_int_equal(collect(h, v, 3), 0);
  cl_ack(h, MS(10), &v[1], TH_S_PORT, 0);
  assert_int_equal(accept_all(h, l, v, 3), 1);
  size_t tcbs = th_tcb_count(h);
  cl_ack(h, MS(10), &v[2], TH_S_PORT, 0);
  assert_int_equal(collect(h, v, 3), 0);
  assert_int_equal(v[2].fins, 1);
  assert_int_equal(v[2].fin_seq, v[2].iss + 1);
  assert_int_equal(v[2].fin_ack, v[2].isn + 1);
  assert_int_equal(th_tcb_count(h), tcbs);
  assert_int_equal(th_stat(h, US_STAT_tcp_conn_limit_listener), 1);
  assert_int_equal(th_stat(h, US_STAT_tcp_syncookies_recv), 2);
  /* Its data, retransmitted: the FIN again, nothing accepted. */
  cl_ack(h, MS(300), &v[2], TH_S_PORT, 5);
  assert_int_equal(collect(h, v, 3), 0);
  assert_int_equal(v[2].fins, 2);
  assert_int_equal(v[2].fin_ack, v[2].isn + 1);
  assert_int_equal(accept_all(h, l, v, 3), 0);
  assert_int_equal(th_stat(h, US_STAT_tcp_conn_limit_listener), 2);
  th_finish(h);
}

/* ---- RST rate limit ---------------------------------------------------------- */

static void rst_10_per_s(struct us_config *c) {
  c->tcp_rst_rate = 10;
  c->tcp_rst_burst = 5;
}

/* A burst to a closed port draws the burst (5) of RSTs, then 10 per
 * second; ACKs at a listener that match nothing share the bucket; the
 * suppressed ones are counted. A connection's own RST is never held back. */
static void test_rst_rate_limit(void **state) {
  struct th *h = th_new_state(state, rst_10_per_s);
  struct cl v[1];
  cl_init(v, 1, TH_P_ADDR, 30700);
  for (int i = 0; i < 100; i++)
    th_inject(h, 0,
              TSEG(.flags = TH_SYN, .sport = (uint16_t)(20000 + i), .dport = 9, .seq = 1,
                   .seq_abs = true));
  assert_int_equal(collect(h, v, 1), 5);
  assert_int_equal(th_stat(h, US_STAT_tcp_out_rsts_limited), 95);
  /* One segment every 10 ms for a second: a token every 100 ms. */
  unsigned rsts = 0;
  for (int k = 1; k <= 100; k++) {
    th_inject(h, MS(10 * k),
              TSEG(.flags = TH_ACK, .sport = 20000, .dport = 9, .seq = 1, .seq_abs = true, .ack = 5,
                   .ack_abs = true));
    rsts += collect(h, v, 1);
  }
  assert_int_equal(rsts, 10);
  /* The bucket is empty again: a listener's unmatched ACKs are limited too. */
  th_listen(h, TH_S_PORT, 16);
  for (int i = 0; i < 20; i++)
    th_inject(h, MS(1000),
              TSEG(.flags = TH_ACK, .sport = (uint16_t)(21000 + i), .dport = TH_S_PORT, .seq = 1,
                   .seq_abs = true, .ack = 5, .ack_abs = true));
  assert_int_equal(collect(h, v, 1), 0);
  assert_int_equal(th_stat(h, US_STAT_tcp_out_rsts_limited), 95 + 90 + 20);
  /* A connection whose application closes with unread data resets it
   * (RFC 2525 2.17) even with the bucket empty. */
  th_use(h, 0);
  us_time_t t = th_fx_established(h, MS(1001));
  th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 10));
  th_drain(h);
  assert_int_equal(us_tcp_close(h->s, h->c->sock, t), 0);
  h->c->sock = US_SOCK_INVALID;
  th_expect(h, t, TSEG(.flags = TH_RST | TH_ACK, .seq = 1, .ack = 11));
  th_finish(h);
}

static void rst_unlimited(struct us_config *c) { c->tcp_rst_rate = 0; }

static void test_rst_rate_zero_is_unlimited(void **state) {
  struct th *h = th_new_state(state, rst_unlimited);
  struct cl v[1];
  cl_init(v, 1, TH_P_ADDR, 30800);
  for (int i = 0; i < 2000; i++)
    th_inject(h, 0,
              TSEG(.flags = TH_SYN, .sport = (uint16_t)(20000 + i), .dport = 9, .seq = 1,
                   .seq_abs = true));
  assert_int_equal(collect(h, v, 1), 2000);
  assert_int_equal(th_stat(h, US_STAT_tcp_out_rsts_limited), 0);
  th_finish(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_teardown(test_synq_full_cookies_all_complete, th_teardown),
    cmocka_unit_test_teardown(test_synq_full_no_cookies_drops, th_teardown),
    cmocka_unit_test_teardown(test_acceptq_full_synq_entry, th_teardown),
    cmocka_unit_test_teardown(test_acceptq_full_cookie, th_teardown),
    cmocka_unit_test_teardown(test_limit_per_listener, th_teardown),
    cmocka_unit_test_teardown(test_limit_per_source, th_teardown),
    cmocka_unit_test_teardown(test_limit_listener_closed_and_reopened, th_teardown),
    cmocka_unit_test_teardown(test_limit_rechecked_at_cookie_ack, th_teardown),
    cmocka_unit_test_teardown(test_rst_rate_limit, th_teardown),
    cmocka_unit_test_teardown(test_rst_rate_zero_is_unlimited, th_teardown),
  };
  return H_RUN("tcp_listen", tests);
}
