/*
 * test_tls_stack.c - TLS over two in-process ustack stacks joined back to
 * back (harness h_link), both ends ustack, on a virtual clock: the handshake
 * and data in both directions, close_notify, records split into 1-byte TCP
 * segments (both directions), a handshake under packet loss, a wrong server name, and pools
 * back to full afterwards.
 *
 * A = 10.0.0.1 is the client, B = 10.0.0.2 the server (port 443). The
 * application side of each test runs in the h_link_run "done" callback,
 * which the harness calls after every step: it drains both stacks' events,
 * pumps TLS and moves application bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"
#include "ustack/us_tls.h"

#define T_2027 INT64_C(1798761600)
#define PORT   443

static char *load(const char *rel, size_t *len) {
  char path[1024];
  const char *src = __FILE__;
  const char *slash = strrchr(src, '/');
  int dirlen = slash ? (int)(slash - src) : 1;
  snprintf(path, sizeof path, "%.*s/vectors/tls/%s", dirlen, slash ? src : ".", rel);
  FILE *f = fopen(path, "rb");
  if (!f)
    fail_msg("cannot open %s", path);
  char *p = malloc(65536);
  assert_non_null(p);
  *len = fread(p, 1, 65536, f);
  fclose(f);
  return p;
}

/* ---- one client/server pair over a link ---------------------------------- */

struct one_end { /* see one_send() */
  us_stack *s;
  us_sock_t sock;
};

struct t {
  struct h_link l;
  us_tls_server_ctx *sctx;
  us_tls_client_ctx *cctx;
  us_sock_t lsock, csock, ssock;
  us_tls_conn *cli, *srv;
  const char *name;
  bool one_byte; /* both transports move one byte per TCP segment */
  struct one_end one_c, one_s;
  /* Application bytes: client -> server and server -> client. */
  size_t c_total, c_sent, s_got;
  size_t s_total, s_sent, c_got;
  uint8_t buf[20000];
  int goal; /* what done() waits for */
};

enum { GOAL_HANDSHAKE = 1, GOAL_TRANSFER, GOAL_CLIENT_FAILED, GOAL_CLOSED };

/* A transport over TCP that hands TCP one byte at a time, and only when
 * everything before it is acknowledged: every TLS record crosses the link
 * as 1-byte segments. Receiving takes one byte per call too. */
static long one_send(void *ctx, const void *buf, size_t len, us_time_t now) {
  struct one_end *e = ctx;
  if (us_tcp_send_queued(e->s, e->sock) > 0)
    return US_ERR_AGAIN;
  long n = us_tcp_send(e->s, e->sock, buf, len ? 1 : 0, now);
  return n == US_ERR_NOTCONN || n == 0 ? US_ERR_AGAIN : n;
}

static long one_recv(void *ctx, void *buf, size_t cap, us_time_t now) {
  struct one_end *e = ctx;
  long n = us_tcp_recv(e->s, e->sock, buf, cap ? 1 : 0, now);
  return n == US_ERR_NOTCONN ? US_ERR_AGAIN : n;
}

static void tune(struct us_config *c) {
  c->tcp_msl = US_SEC(1); /* short TIME_WAIT: pools are checked at the end */
  c->tcp_rcvbuf = 64 * 1024;
  c->tcp_sndbuf = 64 * 1024;
}

static void t_init(struct t *t, uint64_t seed, const char *name) {
  memset(t, 0, sizeof *t);
  struct us_config a, b;
  us_config_default(&a);
  us_config_default(&b);
  a.addr = US_IP4(10, 0, 0, 1);
  b.addr = US_IP4(10, 0, 0, 2);
  tune(&a);
  tune(&b);
  assert_true(b.tcp_rcvbuf >= US_TLS_MIN_TCP_RCVBUF);
  h_link_init(&t->l, &a, &b, seed, US_MSEC(1));
  t->name = name;

  size_t cl, kl, al;
  char *cert = load("ec/server.pem", &cl), *key = load("ec/server-key.pem", &kl);
  char *ca = load("ec/ca.pem", &al);
  struct us_tls_server_opts so = { cert, cl, key, kl, NULL, NULL, 4, 0, 0 };
  struct us_tls_client_opts co = { ca, al, NULL, 2 };
  char err[256];
  assert_int_equal(us_tls_server_ctx_create(&t->sctx, &so, err, sizeof err), 0);
  assert_int_equal(us_tls_client_ctx_create(&t->cctx, &co, err, sizeof err), 0);
  free(cert);
  free(key);
  free(ca);

  assert_int_equal(us_tcp_socket(t->l.b, &t->lsock), 0);
  assert_int_equal(us_tcp_bind(t->l.b, t->lsock, PORT), 0);
  assert_int_equal(us_tcp_listen(t->l.b, t->lsock, 8), 0);
}

/* Active open plus TLS on top, before the TCP handshake completes. */
static void t_connect(struct t *t, bool resume) {
  assert_int_equal(us_tcp_socket(t->l.a, &t->csock), 0);
  if (t->one_byte)
    assert_int_equal(us_tcp_setopt(t->l.a, t->csock, US_TCP_NODELAY, 1), 0);
  int rc = us_tcp_connect(t->l.a, t->csock, us_endpoint(us_addr_v4(US_IP4(10, 0, 0, 2)), PORT),
                          t->l.now);
  assert_true(rc == US_ERR_INPROGRESS || rc == 0);
  if (t->one_byte) {
    t->one_c = (struct one_end){ t->l.a, t->csock };
    struct us_tls_transport tr = { one_send, one_recv, &t->one_c };
    assert_int_equal(
        us_tls_connect_transport(t->cctx, t->l.a, &tr, t->name, T_2027, resume, NULL, 0, &t->cli),
        0);
  } else {
    assert_int_equal(
        us_tls_connect(t->cctx, t->l.a, t->csock, t->name, T_2027, resume, NULL, 0, &t->cli), 0);
  }
}

static void drain_events(us_stack *s) {
  struct us_event ev[32];
  while (us_stack_events(s, ev, 32) == 32) {
  }
}

/* The applications on both stacks: called by h_link_run after each step. */
static bool t_step(void *ctx) {
  struct t *t = ctx;
  us_time_t now = t->l.now;
  drain_events(t->l.a);
  drain_events(t->l.b);
  if (!t->srv) {
    us_sock_t s;
    if (us_tcp_accept(t->l.b, t->lsock, &s, NULL) == 0) {
      t->ssock = s;
      if (t->one_byte) {
        assert_int_equal(us_tcp_setopt(t->l.b, s, US_TCP_NODELAY, 1), 0);
        t->one_s = (struct one_end){ t->l.b, s };
        struct us_tls_transport tr = { one_send, one_recv, &t->one_s };
        assert_int_equal(us_tls_accept_transport(t->sctx, t->l.b, &tr, NULL, 0, &t->srv), 0);
      } else {
        assert_int_equal(us_tls_accept(t->sctx, t->l.b, s, NULL, 0, &t->srv), 0);
      }
    }
  }
  if (t->cli)
    us_tls_on_event(t->cli, US_EV_READABLE | US_EV_WRITABLE, now);
  if (t->srv)
    us_tls_on_event(t->srv, US_EV_READABLE | US_EV_WRITABLE, now);

  if (t->goal == GOAL_TRANSFER && t->cli && t->srv && us_tls_handshake_done(t->cli)) {
    for (int i = 0; i < 64 && t->c_sent < t->c_total; i++) {
      size_t n = t->c_total - t->c_sent < sizeof t->buf ? t->c_total - t->c_sent : sizeof t->buf;
      h_oracle_fill(1, t->c_sent, t->buf, n);
      long w = us_tls_write(t->cli, t->buf, n, now);
      if (w == US_ERR_AGAIN)
        break;
      assert_true(w > 0);
      t->c_sent += (size_t)w;
    }
    for (int i = 0; i < 64 && t->s_sent < t->s_total; i++) {
      size_t n = t->s_total - t->s_sent < sizeof t->buf ? t->s_total - t->s_sent : sizeof t->buf;
      h_oracle_fill(2, t->s_sent, t->buf, n);
      long w = us_tls_write(t->srv, t->buf, n, now);
      if (w == US_ERR_AGAIN)
        break;
      assert_true(w > 0);
      t->s_sent += (size_t)w;
    }
    for (int i = 0; i < 64; i++) {
      long r = us_tls_read(t->srv, t->buf, sizeof t->buf, now);
      if (r == US_ERR_AGAIN)
        break;
      assert_true(r > 0);
      assert_int_equal(h_oracle_check(1, t->s_got, t->buf, (size_t)r), -1);
      t->s_got += (size_t)r;
    }
    for (int i = 0; i < 64; i++) {
      long r = us_tls_read(t->cli, t->buf, sizeof t->buf, now);
      if (r == US_ERR_AGAIN)
        break;
      assert_true(r > 0);
      assert_int_equal(h_oracle_check(2, t->c_got, t->buf, (size_t)r), -1);
      t->c_got += (size_t)r;
    }
  }

  switch (t->goal) {
  case GOAL_HANDSHAKE:
    return t->cli && t->srv && us_tls_handshake_done(t->cli) && us_tls_handshake_done(t->srv);
  case GOAL_TRANSFER:
    return t->s_got == t->c_total && t->c_got == t->s_total;
  case GOAL_CLIENT_FAILED:
    return t->cli && (us_tls_events(t->cli) & US_EV_ERROR);
  case GOAL_CLOSED:
    return t->srv && t->cli && (us_tls_events(t->srv) & US_EV_CLOSED) &&
           (us_tls_events(t->cli) & US_EV_CLOSED);
  default:
    return true;
  }
}

static void t_run(struct t *t, int goal, us_time_t budget) {
  t->goal = goal;
  if (!h_link_run(&t->l, t->l.now + budget, t_step, t))
    fail_msg("goal %d not reached by t=%lld us", goal, (long long)t->l.now);
}

/* Orderly end: close_notify both ways, then TCP close on both sides. */
static void t_close(struct t *t) {
  int rc = us_tls_close(t->cli, t->l.now);
  assert_true(rc == 0 || rc == US_ERR_AGAIN); /* the pump finishes the job */
  t_run(t, GOAL_CLOSED, US_SEC(30));
  char b[8];
  assert_int_equal(us_tls_read(t->srv, b, sizeof b, t->l.now), 0);
  assert_int_equal(us_tls_error(t->srv), 0);
  assert_int_equal(us_tls_error(t->cli), 0);
}

static void t_fini(struct t *t) {
  if (t->cli)
    us_tls_conn_free(t->cli);
  if (t->srv)
    us_tls_conn_free(t->srv);
  if (us_sock_valid(t->csock))
    us_tcp_close(t->l.a, t->csock, t->l.now);
  if (us_sock_valid(t->ssock))
    us_tcp_close(t->l.b, t->ssock, t->l.now);
  us_tcp_close(t->l.b, t->lsock, t->l.now);
  t->cli = t->srv = NULL;
  t->goal = 0;
  h_link_run(&t->l, t->l.now + US_SEC(20), NULL, NULL); /* FINs, TIME_WAIT */
  h_assert_pools_full(t->l.a);
  h_assert_pools_full(t->l.b);
  us_tls_server_ctx_destroy(t->sctx);
  us_tls_client_ctx_destroy(t->cctx);
  h_link_fini(&t->l);
}

/* ---- tests ----------------------------------------------------------------- */

static void test_stack_handshake_data_close(void **st) {
  (void)st;
  struct t *t = calloc(1, sizeof *t);
  assert_non_null(t);
  t_init(t, 1, "ustack.test");
  t_connect(t, false);
  t_run(t, GOAL_HANDSHAKE, US_SEC(10));
  assert_string_equal(us_tls_server_name(t->srv), "ustack.test");
  assert_string_equal(us_tls_alpn(t->cli), "http/1.1");
  assert_int_equal(us_tls_version(t->cli), 0x0303);
  assert_int_equal(us_stack_stat(t->l.a, US_STAT_tls_handshakes), 1);
  assert_int_equal(us_stack_stat(t->l.b, US_STAT_tls_handshakes), 1);
  assert_int_equal(us_stack_stat(t->l.b, US_STAT_tls_handshakes_active), 0);
  /* More than the TCP windows in both directions, full-size records. */
  t->c_total = 300000;
  t->s_total = 500000;
  t_run(t, GOAL_TRANSFER, US_SEC(60));
  t_close(t);
  assert_true(us_stack_stat(t->l.b, US_STAT_tls_close_notify) >= 1);
  t_fini(t);
  free(t);
}

/* Every byte of every TLS record is its own TCP segment. */
static void test_stack_one_byte_segments(void **st) {
  (void)st;
  struct t *t = calloc(1, sizeof *t);
  assert_non_null(t);
  t_init(t, 2, "ustack.test");
  t->one_byte = true;
  t_connect(t, false);
  t_run(t, GOAL_HANDSHAKE, US_SEC(600));
  t->c_total = 1500;
  t->s_total = 3000;
  t_run(t, GOAL_TRANSFER, US_SEC(600));
  /* Handshake flight + 1500 data bytes + record overhead, one per segment. */
  print_message("one-byte: client sent %llu segments, server %llu\n",
                (unsigned long long)us_stack_stat(t->l.a, US_STAT_tcp_out_segs),
                (unsigned long long)us_stack_stat(t->l.b, US_STAT_tcp_out_segs));
  assert_true(us_stack_stat(t->l.a, US_STAT_tcp_out_segs) > 1500 + 200);
  assert_true(us_stack_stat(t->l.b, US_STAT_tcp_out_segs) > 3000 + 500);
  t_fini(t);
  free(t);
}

/* Seeded loss in both directions during the handshake and the transfer. */
struct loss {
  uint64_t state;
  unsigned pct;
};

static bool lossy(void *ctx, int dir, uint8_t *pkt, size_t *len, us_time_t now) {
  struct loss *l = ctx;
  (void)dir;
  (void)pkt;
  (void)len;
  (void)now;
  return h_rand_below(&l->state, 100) >= l->pct;
}

static void test_stack_handshake_under_loss(void **st) {
  (void)st;
  for (uint64_t seed = 1; seed <= 4; seed++) {
    struct t *t = calloc(1, sizeof *t);
    assert_non_null(t);
    t_init(t, 10 + seed, "ustack.test");
    struct loss loss = { h_seed(seed), 20 };
    t->l.filter = lossy;
    t->l.filter_ctx = &loss;
    t_connect(t, false);
    t_run(t, GOAL_HANDSHAKE, US_SEC(300));
    t->c_total = 50000;
    t->s_total = 80000;
    t_run(t, GOAL_TRANSFER, US_SEC(600));
    if (t->l.dropped[0] + t->l.dropped[1] == 0)
      fail_msg("seed %llu: nothing was dropped", (unsigned long long)seed);
    print_message("seed %llu: dropped %llu+%llu packets, %llu retransmissions, t=%.1f s\n",
                  (unsigned long long)seed, (unsigned long long)t->l.dropped[0],
                  (unsigned long long)t->l.dropped[1],
                  (unsigned long long)(us_stack_stat(t->l.a, US_STAT_tcp_retrans_segs) +
                                       us_stack_stat(t->l.b, US_STAT_tcp_retrans_segs)),
                  (double)t->l.now / 1e6);
    t->l.filter = NULL;
    t_close(t);
    t_fini(t);
    free(t);
  }
}

/* The client refuses the certificate; the server sees the connection end
 * during its handshake and counts a failed handshake. */
static void test_stack_wrong_name(void **st) {
  (void)st;
  struct t *t = calloc(1, sizeof *t);
  assert_non_null(t);
  t_init(t, 3, "wrong.test");
  t_connect(t, false);
  t_run(t, GOAL_CLIENT_FAILED, US_SEC(10));
  assert_int_equal(us_tls_error(t->cli), US_ERR_TLS);
  assert_int_equal(us_stack_stat(t->l.a, US_STAT_tls_handshake_fails), 1);
  /* The client application closes its socket; the server notices. */
  us_tls_conn_free(t->cli);
  t->cli = NULL;
  us_tcp_close(t->l.a, t->csock, t->l.now);
  t->csock = US_SOCK_INVALID;
  t->goal = 0;
  h_link_run(&t->l, t->l.now + US_SEC(2), NULL, NULL);
  us_tls_on_event(t->srv, US_EV_READABLE, t->l.now);
  assert_true(us_tls_events(t->srv) & US_EV_CLOSED);
  assert_false(us_tls_handshake_done(t->srv));
  assert_int_equal(us_stack_stat(t->l.b, US_STAT_tls_handshake_fails), 1);
  assert_int_equal(us_stack_stat(t->l.b, US_STAT_tls_handshakes_active), 0);
  t_fini(t);
  free(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_stack_handshake_data_close),
    cmocka_unit_test(test_stack_one_byte_segments),
    cmocka_unit_test(test_stack_handshake_under_loss),
    cmocka_unit_test(test_stack_wrong_name),
  };
  return H_RUN("tls_stack", tests);
}
