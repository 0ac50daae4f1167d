/*
 * test_tcp_handshake.c - opening a connection, RFC 9293 section 3.5 and
 * 3.10.7.2-3.10.7.4, black-box: P's segments in, S's segments out.
 *
 * Covers passive, active and simultaneous open, a SYN carrying data, what a
 * listener does with RST/ACK, backlog overflow, MUST-11 (RST in a passive
 * SYN-RECEIVED returns to LISTEN), the SYN-SENT and SYN-RECEIVED acceptance
 * rules (docs/HOSTILE.md HS-1, HS-2), and the SYN-ACK retransmission schedule
 * with the final RST (issue 3: 1, 2, 4, 8, 16 s, then RST, then freed).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tcp_harness.h"

static void rto_1s(struct us_config *c) { c->tcp_rto_min = US_SEC(1); }

/* Passive open: SYN -> SYN-ACK with our MSS -> ACK -> ESTABLISHED, accept. */
static void test_passive_open(void **state) {
  struct th *h = th_new_state(state, NULL);
  th_fx_listen(h, 0);
  th_inject(h, 0, TSEG(.flags = TH_SYN, .seq = 0, MSS(1460)));
  /* MSS from the MTU (1500 - 40); the window must be open. */
  th_expect(h, 0,
            TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1, MSS(1460), .wnd_nonzero = true));
  th_assert_state(h, US_TCP_SYN_RECEIVED);
  us_sock_t tmp;
  assert_int_equal(us_tcp_accept(h->s, h->lsock, &tmp, NULL), US_ERR_AGAIN);
  assert_false(us_sock_events(h->s, h->lsock) & US_EV_ACCEPT);

  th_inject(h, US_MSEC(50), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  th_assert_state(h, US_TCP_ESTABLISHED);
  assert_true(us_sock_events(h->s, h->lsock) & US_EV_ACCEPT);
  th_accept(h);
  assert_true(us_sock_events(h->s, h->c->sock) & US_EV_WRITABLE);
  assert_int_equal(th_stat(h, US_STAT_tcp_passive_opens), 1);
  th_expect_nothing_until(h, US_SEC(5));

  /* The connection works: data both ways. */
  th_inject(h, US_SEC(5), TSEG(.flags = TH_ACK | TH_PSH, .seq = 1, .ack = 1, .len = 100));
  th_expect_within(h, US_SEC(5), US_SEC(5) + US_MSEC(500),
                   TSEG(.flags = TH_ACK, .seq = 1, .ack = 101));
  th_recv_expect(h, h->now, 100);
  assert_int_equal(th_send(h, h->now, 200), 200);
  th_expect(h, h->now, TSEG(.flags = TH_ACK, .seq = 1, .ack = 101, .len = 200));
  th_finish(h);
}

/* Active open: SYN with MSS -> SYN-ACK -> ACK, US_EV_CONNECTED. */
static void test_active_open(void **state) {
  struct th *h = th_new_state(state, NULL);
  th_connect(h, 0);
  th_expect(h, 0, TSEG(.flags = TH_SYN, .seq = 0, MSS(1460), .wnd_nonzero = true));
  th_assert_state(h, US_TCP_SYN_SENT);
  assert_false(us_sock_events(h->s, h->c->sock) & US_EV_CONNECTED);
  assert_int_equal(th_send(h, 0, 10), US_ERR_NOTCONN);
  th_inject(h, US_MSEC(20), TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1, MSS(1460)));
  th_expect(h, US_MSEC(20), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  th_assert_state(h, US_TCP_ESTABLISHED);
  assert_true(us_sock_events(h->s, h->c->sock) & US_EV_CONNECTED);
  assert_int_equal(th_stat(h, US_STAT_tcp_active_opens), 1);
  assert_int_equal(th_send(h, US_MSEC(30), 300), 300);
  th_expect(h, US_MSEC(30), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 300));
  th_inject(h, US_MSEC(40), TSEG(.flags = TH_ACK, .seq = 1, .ack = 301));
  th_expect_nothing_until(h, US_SEC(10));
  th_finish(h);
}

/* The third segment of the handshake may carry data: it completes the
 * handshake and the data is delivered. */
static void test_handshake_ack_with_data(void **state) {
  struct th *h = th_new_state(state, NULL);
  th_fx_syn_received(h, 0);
  th_inject(h, US_MSEC(10), TSEG(.flags = TH_ACK | TH_PSH, .seq = 1, .ack = 1, .len = 50));
  th_assert_state(h, US_TCP_ESTABLISHED);
  th_expect_within(h, US_MSEC(10), US_MSEC(510), TSEG(.flags = TH_ACK, .seq = 1, .ack = 51));
  th_accept(h);
  th_recv_expect(h, h->now, 50);
  th_finish(h);
}

/* A SYN-ACK may carry data (RFC 9293 3.10.7.3): it is acknowledged and
 * delivered once the connection is established. */
static void test_synack_with_data(void **state) {
  struct th *h = th_new_state(state, NULL);
  th_connect(h, 0);
  th_expect(h, 0, TSEG(.flags = TH_SYN, .seq = 0));
  th_inject(h, US_MSEC(10),
            TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1, MSS(1460), .len = 10));
  th_expect_within(h, US_MSEC(10), US_MSEC(510), TSEG(.flags = TH_ACK, .seq = 1, .ack = 11));
  th_assert_state(h, US_TCP_ESTABLISHED);
  th_recv_expect(h, h->now, 10);
  th_finish(h);
}

/* Ephemeral ports are randomised (RFC 6056): two connects, two ports, and
 * neither is a small fixed number. */
static void test_active_open_ports_differ(void **state) {
  struct th *h = th_new_state(state, NULL);
  th_use(h, 0);
  th_connect(h, 0);
  th_expect(h, 0, TSEG(.flags = TH_SYN, .seq = 0));
  th_use(h, 1);
  th_connect(h, 0);
  th_expect(h, 0, TSEG(.flags = TH_SYN, .seq = 0));
  assert_int_not_equal(h->conn[0].s_port, h->conn[1].s_port);
  assert_true(h->conn[0].s_port >= 1024 && h->conn[1].s_port >= 1024);
  th_finish(h);
}

/* Simultaneous open, RFC 9293 figure 8: SYN-SENT gets a SYN -> SYN-RECEIVED
 * and SYN-ACK; then P's SYN-ACK -> ESTABLISHED. */
static void test_simultaneous_open(void **state) {
  struct th *h = th_new_state(state, NULL);
  th_connect(h, 0);
  th_expect(h, 0, TSEG(.flags = TH_SYN, .seq = 0));
  th_inject(h, US_MSEC(10), TSEG(.flags = TH_SYN, .seq = 0, MSS(1460)));
  /* <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK> */
  th_expect(h, US_MSEC(10), TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1));
  th_assert_state(h, US_TCP_SYN_RECEIVED);
  assert_false(us_sock_events(h->s, h->c->sock) & US_EV_CONNECTED);
  th_inject(h, US_MSEC(20), TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1, MSS(1460)));
  th_assert_state(h, US_TCP_ESTABLISHED);
  assert_true(us_sock_events(h->s, h->c->sock) & US_EV_CONNECTED);
  /* S may acknowledge P's SYN-ACK again; nothing else. */
  if (th_queued(h) > 0)
    th_expect(h, US_MSEC(20), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  assert_int_equal(th_send(h, US_MSEC(30), 10), 10);
  th_expect(h, US_MSEC(30), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 10));
  th_finish(h);
}

/* Simultaneous open where P's answer to our SYN-ACK is a plain ACK. */
static void test_simultaneous_open_plain_ack(void **state) {
  struct th *h = th_new_state(state, NULL);
  th_connect(h, 0);
  th_expect(h, 0, TSEG(.flags = TH_SYN, .seq = 0));
  th_inject(h, US_MSEC(10), TSEG(.flags = TH_SYN, .seq = 0, MSS(1460)));
  th_expect(h, US_MSEC(10), TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1));
  th_inject(h, US_MSEC(20), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  th_assert_state(h, US_TCP_ESTABLISHED);
  assert_true(us_sock_events(h->s, h->c->sock) & US_EV_CONNECTED);
  th_finish(h);
}

/* A SYN carrying data (HOSTILE HS-4): the data is either kept until the
 * handshake completes or dropped (and then retransmitted by P); it is
 * never delivered before ESTABLISHED and never delivered twice. */
static void test_syn_with_data(void **state) {
  struct th *h = th_new_state(state, NULL);
  th_fx_listen(h, 0);
  th_inject(h, 0, TSEG(.flags = TH_SYN, .seq = 0, MSS(1460), .len = 10));
  th_expect(h, 0, TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, ACK_ANY));
  uint32_t ack = th_rel_ack(h, th_last(h));
  assert_true(ack == 1 || ack == 11);
  th_inject(h, US_MSEC(10), TSEG(.flags = TH_ACK, .seq = ack, .ack = 1));
  th_assert_state(h, US_TCP_ESTABLISHED);
  th_accept(h);
  if (ack == 1) {
    assert_int_equal(th_recv(h, US_MSEC(10), 100), US_ERR_AGAIN);
    th_inject(h, US_MSEC(20), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 10));
    th_expect_within(h, US_MSEC(20), US_MSEC(520), TSEG(.flags = TH_ACK, .seq = 1, .ack = 11));
  }
  th_recv_expect(h, h->now, 10);
  assert_int_equal(th_recv(h, h->now, 100), US_ERR_AGAIN);
  th_finish(h);
}

/* A RST to a listener is ignored; an ACK to a listener gets
 * <SEQ=SEG.ACK><CTL=RST> (RFC 9293 3.10.7.2); the listener still works. */
static void test_rst_and_ack_to_listener(void **state) {
  struct th *h = th_new_state(state, NULL);
  th_fx_listen(h, 0);
  th_inject(h, 0, TSEG(.flags = TH_RST, .seq = 5));
  th_inject(h, 0, TSEG(.flags = TH_RST | TH_ACK, .seq = 5, .ack = 77, .ack_abs = true));
  th_expect_nothing_until(h, US_MSEC(100));
  th_inject(h, US_MSEC(100), TSEG(.flags = TH_ACK, .seq = 9, .ack = 123456, .ack_abs = true));
  th_expect(h, US_MSEC(100), TSEG(.flags = TH_RST, .seq = 123456, .seq_abs = true));
  assert_int_equal(th_tcb_count(h), 1);
  th_fx_established(h, US_MSEC(200));
  th_finish(h);
}

/* A full accept queue: the overflow is counted, the listener never hands
 * out more than its backlog (Linux allows backlog + 1), nothing breaks. */
static void test_backlog_overflow(void **state) {
  struct th *h = th_new_state(state, NULL);
  th_listen(h, TH_S_PORT, 2);
  us_time_t t = 0;
  for (int i = 0; i < 6; i++) {
    th_use(h, i);
    h->c->s_port = TH_S_PORT;
    th_inject(h, t, TSEG(.flags = TH_SYN, .seq = 0, MSS(1460)));
    if (th_run_until_packet(h, t)) {
      th_expect(h, t, TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1));
      th_inject(h, t + US_MSEC(1), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
    }
    t += US_MSEC(10);
  }
  th_advance(h, t);
  th_drain(h);
  uint64_t over = th_stat(h, US_STAT_tcp_listen_overflows) + th_stat(h, US_STAT_tcp_listen_drops);
  assert_true(over > 0);
  int accepted = 0;
  us_sock_t sock;
  while (us_tcp_accept(h->s, h->lsock, &sock, NULL) == 0) {
    th_track(h, sock);
    accepted++;
  }
  assert_true(accepted >= 2 && accepted <= 3);
  th_finish(h);
}

/* MUST-11: a RST in SYN-RECEIVED that came from LISTEN returns to LISTEN:
 * the half-open TCB goes, the listener stays and serves the next SYN. */
static void test_rst_in_syn_received_passive(void **state) {
  struct th *h = th_new_state(state, NULL);
  th_fx_syn_received(h, 0);
  th_inject(h, US_MSEC(10), TSEG(.flags = TH_RST, .seq = 1));
  th_expect_nothing_until(h, US_SEC(10));
  th_assert_state(h, -1);
  assert_int_equal(th_tcb_count(h), 1);
  us_sock_t tmp;
  assert_int_equal(us_tcp_accept(h->s, h->lsock, &tmp, NULL), US_ERR_AGAIN);
  th_use(h, 1);
  th_fx_established(h, US_SEC(10));
  th_finish(h);
}

/* HOSTILE HS-1: in SYN-RECEIVED an unacceptable ACK gets
 * <SEQ=SEG.ACK><CTL=RST> and the state stays; a retransmitted SYN gets the
 * SYN-ACK again; the right ACK then completes the handshake. */
static void test_syn_received_bad_ack(void **state) {
  struct th *h = th_new_state(state, NULL);
  th_fx_syn_received(h, 0);
  uint32_t iss = h->c->s_isn;
  th_inject(h, US_MSEC(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 0));
  th_expect(h, US_MSEC(10), TSEG(.flags = TH_RST, .seq = iss, .seq_abs = true));
  th_assert_state(h, US_TCP_SYN_RECEIVED);
  th_inject(h, US_MSEC(20), TSEG(.flags = TH_ACK, .seq = 1, .ack = 2));
  th_expect(h, US_MSEC(20), TSEG(.flags = TH_RST, .seq = iss + 2, .seq_abs = true));
  th_assert_state(h, US_TCP_SYN_RECEIVED);
  th_inject(h, US_MSEC(30), TSEG(.flags = TH_SYN, .seq = 0, MSS(1460)));
  th_expect(h, US_MSEC(30), TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1));
  th_assert_state(h, US_TCP_SYN_RECEIVED);
  /* Data without the ACK bit: step 5 drops it ("if the ACK bit is off"). */
  th_inject(h, US_MSEC(35), TSEG(.flags = TH_PSH, .seq = 1, .len = 10));
  th_advance(h, US_MSEC(35));
  struct th_pkt p;
  while (th_pop(h, &p))
    assert_true(p.ok && !(p.flags & TH_RST));
  th_assert_state(h, US_TCP_SYN_RECEIVED);
  th_inject(h, US_MSEC(40), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  th_assert_state(h, US_TCP_ESTABLISHED);
  th_accept(h);
  assert_int_equal(th_recv(h, US_MSEC(40), 100), US_ERR_AGAIN);
  th_finish(h);
}

/* HOSTILE HS-2: in SYN-SENT only an acceptable SYN-ACK establishes. A bad
 * ACK gets <SEQ=SEG.ACK><CTL=RST>; a RST with a bad ACK is ignored. */
static void test_syn_sent_bad_segments(void **state) {
  struct th *h = th_new_state(state, NULL);
  th_connect(h, 0);
  th_expect(h, 0, TSEG(.flags = TH_SYN, .seq = 0));
  uint32_t iss = h->c->s_isn;
  /* SYN-ACK acknowledging something we never sent. */
  th_inject(h, US_MSEC(10), TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 5));
  th_expect(h, US_MSEC(10), TSEG(.flags = TH_RST, .seq = iss + 5, .seq_abs = true));
  th_assert_state(h, US_TCP_SYN_SENT);
  /* A plain ACK with a bad ack. */
  th_inject(h, US_MSEC(20), TSEG(.flags = TH_ACK, .seq = 0, .ack = 0));
  th_expect(h, US_MSEC(20), TSEG(.flags = TH_RST, .seq = iss, .seq_abs = true));
  th_assert_state(h, US_TCP_SYN_SENT);
  /* RST with an unacceptable ACK, and RST without ACK: ignored. */
  th_inject(h, US_MSEC(30), TSEG(.flags = TH_RST | TH_ACK, .seq = 0, .ack = 7));
  th_inject(h, US_MSEC(30), TSEG(.flags = TH_RST, .seq = 0));
  th_expect_nothing_until(h, US_MSEC(40));
  th_assert_state(h, US_TCP_SYN_SENT);
  assert_int_equal(us_sock_error(h->s, h->c->sock), 0);
  /* Data without SYN: dropped. */
  th_inject(h, US_MSEC(50), TSEG(.flags = TH_PSH, .seq = 1, .len = 10));
  th_assert_state(h, US_TCP_SYN_SENT);
  th_drain(h);
  /* The real SYN-ACK. */
  th_inject(h, US_MSEC(60), TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1, MSS(1460)));
  th_expect(h, US_MSEC(60), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  th_assert_state(h, US_TCP_ESTABLISHED);
  th_finish(h);
}

/* Connection refused: RST+ACK acknowledging our SYN -> sticky CONNREFUSED. */
static void test_connection_refused(void **state) {
  struct th *h = th_new_state(state, NULL);
  th_connect(h, 0);
  th_expect(h, 0, TSEG(.flags = TH_SYN, .seq = 0));
  th_inject(h, US_MSEC(10), TSEG(.flags = TH_RST | TH_ACK, .seq = 0, .ack = 1));
  th_expect_nothing_until(h, US_SEC(5));
  th_assert_state(h, -1);
  assert_int_equal(us_sock_error(h->s, h->c->sock), US_ERR_CONNREFUSED);
  assert_true(us_sock_events(h->s, h->c->sock) & (US_EV_ERROR | US_EV_CLOSED));
  assert_int_equal(th_send(h, US_SEC(5), 5), US_ERR_CONNREFUSED);
  assert_int_equal(th_recv(h, US_SEC(5), 5), US_ERR_CONNREFUSED);
  th_finish(h);
}

/* SYN retransmission (RFC 6298 2.1 / 5.5): 1 s, then doubling; after
 * tcp_syn_retries the connect fails with TIMEDOUT. */
static void test_syn_retransmit_and_timeout(void **state) {
  struct th *h = th_new_state(state, NULL);
  uint32_t n = h->cfg.tcp_syn_retries;
  th_connect(h, 0);
  th_expect(h, 0, TSEG(.flags = TH_SYN, .seq = 0));
  us_time_t t = 0, rto = US_SEC(1);
  for (uint32_t i = 0; i < n; i++) {
    t += rto;
    th_expect(h, t, TSEG(.flags = TH_SYN, .seq = 0));
    rto *= 2;
    if (rto > h->cfg.tcp_rto_max)
      rto = h->cfg.tcp_rto_max;
  }
  th_expect_nothing_until(h, t + rto - 1);
  th_advance(h, t + rto);
  assert_true(t + rto >= US_SEC(180)); /* MUST-23: at least 3 minutes */
  th_drain(h);                         /* a RST here is allowed, nothing was synchronized */
  th_assert_state(h, -1);
  assert_int_equal(us_sock_error(h->s, h->c->sock), US_ERR_TIMEDOUT);
  assert_int_equal(th_stat(h, US_STAT_tcp_syn_retrans), n);
  th_finish(h);
}

/* The handshake timeout of issue 3: SYN-ACK retransmitted at 1, 2, 4, 8 and
 * 16 s intervals, then at the next expiry (63 s) a RST <SEQ=SND.NXT> and
 * the half-open TCB is freed: only the listener is left. */
static void test_synack_retries_then_rst(void **state) {
  struct th *h = th_new_state(state, rto_1s);
  assert_int_equal(h->cfg.tcp_synack_retries, 5);
  assert_true(h->cfg.tcp_synack_timeout_rst);
  th_fx_syn_received(h, 0);
  us_time_t at[] = { US_SEC(1), US_SEC(3), US_SEC(7), US_SEC(15), US_SEC(31) };
  for (int i = 0; i < 5; i++) {
    /* us_stack_poll reports the retry's deadline exactly (deadlines, not ticks). */
    assert_int_equal(th_deadline(h), at[i]);
    th_expect_nothing_until(h, at[i] - 1);
    assert_int_equal(th_advance_to_deadline(h), at[i]);
    th_expect(h, at[i], TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1));
    th_assert_state(h, US_TCP_SYN_RECEIVED);
  }
  assert_int_equal(th_deadline(h), US_SEC(63));
  th_expect_nothing_until(h, US_SEC(63) - 1);
  th_expect(h, US_SEC(63), TSEG(.flags = TH_RST, .seq = 1, .ack = 1, .ack_opt = true));
  th_assert_state(h, -1);
  assert_int_equal(th_tcb_count(h), 1);
  struct us_tcp_info in;
  assert_int_equal(us_tcp_list(h->s, &in, 1), 1);
  assert_int_equal(in.state, US_TCP_LISTEN);
  assert_int_equal(th_stat(h, US_STAT_tcp_synack_retrans), 5);
  assert_int_equal(th_stat(h, US_STAT_tcp_synack_timeout), 1);
  th_expect_nothing_until(h, US_SEC(200));
  /* The late ACK finds no connection: RST <SEQ=SEG.ACK>. */
  th_inject(h, US_SEC(200), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  th_expect(h, US_SEC(200), TSEG(.flags = TH_RST, .seq = 1));
  th_finish(h);
}

static void no_synack_rst(struct us_config *c) {
  c->tcp_rto_min = US_SEC(1);
  c->tcp_synack_timeout_rst = false;
  c->tcp_synack_retries = 2;
}

/* The same with the RST switch off (Linux behaviour) and 2 retries: the
 * half-open TCB goes silently at 1 + 2 + 4 = 7 s. */
static void test_synack_retries_no_rst(void **state) {
  struct th *h = th_new_state(state, no_synack_rst);
  th_fx_syn_received(h, 0);
  th_expect(h, US_SEC(1), TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1));
  th_expect(h, US_SEC(3), TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1));
  th_expect_nothing_until(h, US_SEC(7) - 1);
  th_assert_state(h, US_TCP_SYN_RECEIVED);
  th_expect_nothing_until(h, US_SEC(60));
  th_assert_state(h, -1);
  assert_int_equal(th_tcb_count(h), 1);
  assert_int_equal(th_stat(h, US_STAT_tcp_synack_timeout), 1);
  th_finish(h);
}

/* A late ACK during the retries still completes the handshake. */
static void test_synack_retry_then_ack(void **state) {
  struct th *h = th_new_state(state, rto_1s);
  th_fx_syn_received(h, 0);
  th_expect(h, US_SEC(1), TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1));
  th_inject(h, US_SEC(2), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  th_assert_state(h, US_TCP_ESTABLISHED);
  th_accept(h);
  th_expect_nothing_until(h, US_SEC(100));
  th_finish(h);
}

/* SYN flood (HOSTILE RES-1): thousands of SYNs from spoofed sources that
 * never complete. Half-open state stays bounded (or SYN cookies answer),
 * a legitimate handshake in the middle of it still completes, and the
 * half-open TCBs all time out afterwards. */
static void test_syn_flood(void **state) {
  struct th *h = th_new_state(state, NULL);
  th_fx_listen(h, 0);
  us_time_t t = 0;
  for (uint32_t i = 0; i < 3000; i++) {
    uint32_t src = US_IP4(10, 0, 0, 100 + (i % 100));
    th_inject(h, t,
              TSEG(.flags = TH_SYN, .seq = i * 7919u, .src = src, .sport = (uint16_t)(1024 + i),
                   MSS(1460)));
    th_drain(h);
    if (i % 10 == 0)
      t += US_MSEC(1);
  }
  struct us_pool_usage u;
  us_stack_pool_usage(h->s, &u);
  assert_true(u.tcb_free > 0);
  assert_true(th_tcb_count(h) <= h->cfg.max_tcp_sockets);
  /* The legitimate client (its SYN-ACK may be a SYN cookie: no state check
   * in between). */
  th_use(h, 1);
  th_inject(h, t, TSEG(.flags = TH_SYN, .seq = 0, MSS(1460)));
  th_expect(h, t, TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1));
  th_inject(h, t + US_MSEC(10), TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  th_assert_state(h, US_TCP_ESTABLISHED);
  th_accept(h);
  t += US_MSEC(10);
  assert_true(th_send(h, t, 100) == 100);
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1, .len = 100));
  th_finish(h);
}

/* ISNs per RFC 6528 (and RFC 9293 3.4.1): ISN = M + F(4-tuple, secret)
 * with M a clock ticking every 4 us. The same 4-tuple 10 s later gets an
 * ISN about 2.5 million higher; another 4-tuple at the same time gets an
 * unrelated one. */
static void test_isn_rfc6528(void **state) {
  struct th *h = th_new_state(state, NULL);
  th_fx_syn_received(h, 0);
  uint32_t isn0 = h->c->s_isn;
  th_inject(h, US_MSEC(1), TSEG(.flags = TH_RST, .seq = 1));
  th_assert_state(h, -1);
  th_use(h, 1);
  th_fx_syn_received(h, US_MSEC(1));
  uint32_t other = h->c->s_isn;
  th_inject(h, US_MSEC(2), TSEG(.flags = TH_RST, .seq = 1));
  th_use(h, 0);
  h->c->s_isn_known = false;
  th_fx_syn_received(h, US_SEC(10));
  uint32_t isn1 = h->c->s_isn;
  uint32_t d = isn1 - isn0;
  if (d < 2400000u || d > 2600000u)
    th_fail(h, __FILE__, __LINE__, "same 4-tuple 10 s later: ISN moved by %u, expected ~2500000",
            d);
  uint32_t dd = other - isn0;
  assert_true(dd > 100000u && dd < 0xFFFE7960u); /* not the same clock reading */
  th_finish(h);
}

/* A stale handle (closed, slot maybe reused) fails with BADF and never
 * touches the new socket. */
static void test_stale_handle(void **state) {
  struct th *h = th_new_state(state, NULL);
  us_time_t t = th_fx_established(h, 0);
  us_sock_t old = h->c->sock;
  th_advance(h, t);
  assert_int_equal(us_tcp_abort(h->s, old, t), 0);
  th_drain(h);
  us_sock_t fresh;
  assert_int_equal(us_tcp_socket(h->s, &fresh), 0);
  th_track(h, fresh);
  assert_false(us_sock_eq(old, fresh));
  assert_int_equal(us_tcp_send(h->s, old, "x", 1, t), US_ERR_BADF);
  assert_int_equal(us_tcp_recv(h->s, old, NULL, 0, t), US_ERR_BADF);
  assert_int_equal(us_tcp_close(h->s, old, t), US_ERR_BADF);
  assert_int_equal(us_tcp_bind(h->s, fresh, 8080), 0);
  th_finish(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_teardown(test_passive_open, th_teardown),
    cmocka_unit_test_teardown(test_active_open, th_teardown),
    cmocka_unit_test_teardown(test_active_open_ports_differ, th_teardown),
    cmocka_unit_test_teardown(test_synack_with_data, th_teardown),
    cmocka_unit_test_teardown(test_handshake_ack_with_data, th_teardown),
    cmocka_unit_test_teardown(test_simultaneous_open, th_teardown),
    cmocka_unit_test_teardown(test_simultaneous_open_plain_ack, th_teardown),
    cmocka_unit_test_teardown(test_syn_with_data, th_teardown),
    cmocka_unit_test_teardown(test_rst_and_ack_to_listener, th_teardown),
    cmocka_unit_test_teardown(test_backlog_overflow, th_teardown),
    cmocka_unit_test_teardown(test_rst_in_syn_received_passive, th_teardown),
    cmocka_unit_test_teardown(test_syn_received_bad_ack, th_teardown),
    cmocka_unit_test_teardown(test_syn_sent_bad_segments, th_teardown),
    cmocka_unit_test_teardown(test_connection_refused, th_teardown),
    cmocka_unit_test_teardown(test_syn_retransmit_and_timeout, th_teardown),
    cmocka_unit_test_teardown(test_synack_retries_then_rst, th_teardown),
    cmocka_unit_test_teardown(test_synack_retries_no_rst, th_teardown),
    cmocka_unit_test_teardown(test_synack_retry_then_ack, th_teardown),
    cmocka_unit_test_teardown(test_syn_flood, th_teardown),
    cmocka_unit_test_teardown(test_stale_handle, th_teardown),
    cmocka_unit_test_teardown(test_isn_rfc6528, th_teardown),
  };
  return H_RUN("tcp_handshake", tests);
}
