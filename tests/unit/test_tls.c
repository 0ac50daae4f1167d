/*
 * test_tls.c - the TLS pump between a server and a client engine joined by
 * an in-memory pipe (the us_tls_transport seam), on a virtual clock with
 * injected time and entropy. No stack, no TCP: these tests pin down the TLS
 * layer alone (test_tls_stack.c runs the same over two ustack stacks).
 *
 * Certificates come from tests/unit/vectors/tls (see the README there).
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

/* BearSSL codes the tests expect (kept numeric: the test sees only the
 * public API, which exposes them as plain ints). */
#define BR_ERR_RECV_FATAL_ALERT_     256
#define BR_ERR_X509_EXPIRED_         54
#define BR_ERR_X509_BAD_SERVER_NAME_ 56
#define BR_ERR_X509_NOT_TRUSTED_     62

/* 2027-01-01T00:00:00Z: inside the vectors' validity (2026-11-23 + 100 y). */
#define T_2027 INT64_C(1798761600)

/* ---- test data ---------------------------------------------------------- */

struct blob {
  char *p;
  size_t len;
};

/* Read tests/unit/vectors/tls/<rel>, located next to this source file. */
static struct blob load(const char *rel) {
  char path[1024];
  const char *src = __FILE__;
  const char *slash = strrchr(src, '/');
  int dirlen = slash ? (int)(slash - src) : 1;
  snprintf(path, sizeof path, "%.*s/vectors/tls/%s", dirlen, slash ? src : ".", rel);
  FILE *f = fopen(path, "rb");
  if (!f)
    fail_msg("cannot open %s", path);
  struct blob b = { malloc(65536), 0 };
  assert_non_null(b.p);
  b.len = fread(b.p, 1, 65536, f);
  fclose(f);
  assert_true(b.len > 0 && b.len < 65536);
  return b;
}

static us_tls_server_ctx *server_ctx(const char *cert, const char *key, uint32_t max_conns) {
  struct blob c = load(cert), k = load(key);
  struct us_tls_server_opts o = { c.p, c.len, k.p, k.len, cert, key, max_conns, 0, 0 };
  us_tls_server_ctx *ctx = NULL;
  char err[256] = "";
  int rc = us_tls_server_ctx_create(&ctx, &o, err, sizeof err);
  if (rc != 0)
    fail_msg("server ctx: %s", err);
  free(c.p);
  free(k.p);
  return ctx;
}

static us_tls_client_ctx *client_ctx(const char *ca) {
  struct blob c = load(ca);
  struct us_tls_client_opts o = { c.p, c.len, ca, 2 };
  us_tls_client_ctx *ctx = NULL;
  char err[256] = "";
  if (us_tls_client_ctx_create(&ctx, &o, err, sizeof err) != 0)
    fail_msg("client ctx: %s", err);
  free(c.p);
  return ctx;
}

/* ---- the in-memory pipe ------------------------------------------------- */

struct q {
  uint8_t buf[1 << 17];
  size_t head, len;
  bool eof;
  uint64_t moved;
  unsigned sends; /* transport send calls that moved bytes */
};

struct end {
  struct q *tx, *rx;
  size_t chunk; /* most bytes per call: 1 splits every record into bytes */
};

static long p_send(void *ctx, const void *b, size_t len, us_time_t now) {
  struct end *e = ctx;
  (void)now;
  if (e->tx->head > 0) { /* compact */
    memmove(e->tx->buf, e->tx->buf + e->tx->head, e->tx->len);
    e->tx->head = 0;
  }
  size_t room = sizeof e->tx->buf - e->tx->len;
  size_t n = len < room ? len : room;
  if (n > e->chunk)
    n = e->chunk;
  if (n == 0)
    return US_ERR_AGAIN;
  memcpy(e->tx->buf + e->tx->len, b, n);
  e->tx->len += n;
  e->tx->moved += n;
  e->tx->sends++;
  return (long)n;
}

static long p_recv(void *ctx, void *b, size_t cap, us_time_t now) {
  struct end *e = ctx;
  (void)now;
  if (e->rx->len == 0)
    return e->rx->eof ? 0 : US_ERR_AGAIN;
  size_t n = cap < e->rx->len ? cap : e->rx->len;
  if (n > e->chunk)
    n = e->chunk;
  memcpy(b, e->rx->buf + e->rx->head, n);
  e->rx->head += n;
  e->rx->len -= n;
  return (long)n;
}

struct pair {
  struct q c2s, s2c;
  struct end cend, send;
  us_tls_server_ctx *sctx;
  us_tls_client_ctx *cctx;
  us_tls_conn *srv, *cli;
  us_time_t now;
};

static uint8_t entropy_srv[32], entropy_cli[32];

static void seed_entropy(unsigned seed) {
  for (unsigned i = 0; i < 32; i++) {
    entropy_srv[i] = (uint8_t)(seed * 31 + i * 7 + 1);
    entropy_cli[i] = (uint8_t)(seed * 17 + i * 13 + 5);
  }
}

static struct pair *pair_new(size_t chunk) {
  struct pair *p = calloc(1, sizeof *p);
  assert_non_null(p);
  p->cend = (struct end){ &p->c2s, &p->s2c, chunk };
  p->send = (struct end){ &p->s2c, &p->c2s, chunk };
  return p;
}

/* Start both ends: server from `sctx`, client with `name` at `t`. */
static void pair_start(struct pair *p, const char *name, int64_t t, bool resume) {
  struct us_tls_transport st = { p_send, p_recv, &p->send };
  struct us_tls_transport ct = { p_send, p_recv, &p->cend };
  assert_int_equal(us_tls_accept_transport(p->sctx, NULL, &st, entropy_srv, 32, &p->srv), 0);
  assert_int_equal(
      us_tls_connect_transport(p->cctx, NULL, &ct, name, t, resume, entropy_cli, 32, &p->cli), 0);
}

/* Pump both ends until nothing moves (bounded). */
static void pair_run(struct pair *p) {
  for (int i = 0; i < 2000000; i++) {
    uint64_t before = p->c2s.moved + p->s2c.moved;
    p->now += 1000;
    us_tls_on_event(p->cli, US_EV_READABLE | US_EV_WRITABLE, p->now);
    us_tls_on_event(p->srv, US_EV_READABLE | US_EV_WRITABLE, p->now);
    if (p->c2s.moved + p->s2c.moved == before)
      return;
  }
  fail_msg("pump did not settle");
}

static void pair_free(struct pair *p) {
  us_tls_conn_free(p->srv);
  us_tls_conn_free(p->cli);
  p->srv = p->cli = NULL;
}

/* Send `len` bytes from `w` to `r` through the pipe, checking every byte. */
static void transfer(struct pair *p, us_tls_conn *w, us_tls_conn *r, size_t len) {
  uint8_t *out = malloc(len), *in = malloc(len);
  assert_non_null(out);
  assert_non_null(in);
  for (size_t i = 0; i < len; i++)
    out[i] = (uint8_t)(i * 131 + (i >> 8));
  size_t sent = 0, got = 0;
  for (int iter = 0; got < len && iter < 10000000; iter++) {
    if (sent < len) {
      long n = us_tls_write(w, out + sent, len - sent, p->now);
      if (n > 0)
        sent += (size_t)n;
      else
        assert_int_equal(n, US_ERR_AGAIN);
    }
    pair_run(p);
    for (;;) {
      long n = us_tls_read(r, in + got, len - got, p->now);
      if (n == US_ERR_AGAIN)
        break;
      assert_true(n > 0);
      got += (size_t)n;
      if (got == len)
        break;
    }
  }
  assert_int_equal(got, len);
  assert_memory_equal(in, out, len);
  free(out);
  free(in);
}

/* ---- tests -------------------------------------------------------------- */

static void handshake_and_data(const char *dir, size_t chunk, size_t bytes, const char *suite) {
  char cert[64], key[64], ca[64];
  snprintf(cert, sizeof cert, "%s/server.pem", dir);
  snprintf(key, sizeof key, "%s/server-key.pem", dir);
  snprintf(ca, sizeof ca, "%s/ca.pem", dir);
  seed_entropy(1);
  struct pair *p = pair_new(chunk);
  p->sctx = server_ctx(cert, key, 2);
  p->cctx = client_ctx(ca);
  pair_start(p, "ustack.test", T_2027, false);
  /* Application data must wait for the handshake. */
  assert_int_equal(us_tls_write(p->cli, "x", 1, p->now), US_ERR_AGAIN);
  assert_int_equal(us_tls_read(p->srv, (char[4]){ 0 }, 4, p->now), US_ERR_AGAIN);
  pair_run(p);
  assert_true(us_tls_handshake_done(p->srv));
  assert_true(us_tls_handshake_done(p->cli));
  assert_true(us_tls_events(p->cli) & US_EV_CONNECTED);
  assert_true(us_tls_events(p->cli) & US_EV_WRITABLE);
  assert_int_equal(us_tls_version(p->srv), 0x0303);
  assert_string_equal(us_tls_suite_name(p->srv), suite);
  assert_string_equal(us_tls_suite_name(p->cli), suite);
  assert_string_equal(us_tls_server_name(p->srv), "ustack.test");
  assert_non_null(us_tls_alpn(p->srv));
  assert_string_equal(us_tls_alpn(p->srv), "http/1.1");
  assert_string_equal(us_tls_alpn(p->cli), "http/1.1");
  assert_false(us_tls_resumed(p->cli));
  assert_int_equal(us_tls_error(p->cli), 0);

  transfer(p, p->cli, p->srv, 5);
  transfer(p, p->srv, p->cli, bytes);
  transfer(p, p->cli, p->srv, bytes / 3);
  assert_int_equal(us_tls_error(p->srv), 0);
  assert_int_equal(us_tls_error(p->cli), 0);
  pair_free(p);
  us_tls_server_ctx_destroy(p->sctx);
  us_tls_client_ctx_destroy(p->cctx);
  free(p);
}

static void test_ec_handshake_and_data(void **st) {
  (void)st;
  handshake_and_data("ec", SIZE_MAX, 200000, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256");
}

static void test_rsa_handshake_and_data(void **st) {
  (void)st;
  handshake_and_data("rsa", SIZE_MAX, 70000, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
}

/* Every record (handshake and data) crosses the pipe one byte at a time. */
static void test_one_byte_chunks(void **st) {
  (void)st;
  handshake_and_data("ec", 1, 40000, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256");
}

/* Odd chunk sizes straddle record headers and bodies. */
static void test_odd_chunks(void **st) {
  (void)st;
  handshake_and_data("rsa", 7, 33000, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
}

static struct pair *connected_pair(void) {
  seed_entropy(2);
  struct pair *p = pair_new(SIZE_MAX);
  p->sctx = server_ctx("ec/server.pem", "ec/server-key-sec1.pem", 2);
  p->cctx = client_ctx("ec/ca.pem");
  pair_start(p, "ustack.test", T_2027, false);
  pair_run(p);
  assert_true(us_tls_handshake_done(p->srv));
  assert_true(us_tls_handshake_done(p->cli));
  return p;
}

static void pair_destroy(struct pair *p) {
  pair_free(p);
  us_tls_server_ctx_destroy(p->sctx);
  us_tls_client_ctx_destroy(p->cctx);
  free(p);
}

/* close_notify: data sent before it is delivered, then EOF; both ends end
 * cleanly (RFC 5246 7.2.1), and nothing can be written afterwards. */
static void test_close_notify(void **st) {
  (void)st;
  struct pair *p = connected_pair();
  assert_int_equal(us_tls_write(p->cli, "bye", 3, p->now), 3);
  assert_int_equal(us_tls_close(p->cli, p->now), 0); /* alert handed to the pipe */
  assert_int_equal(us_tls_write(p->cli, "x", 1, p->now), US_ERR_PIPE);
  pair_run(p);
  char buf[16];
  assert_int_equal(us_tls_read(p->srv, buf, sizeof buf, p->now), 3);
  assert_memory_equal(buf, "bye", 3);
  assert_int_equal(us_tls_read(p->srv, buf, sizeof buf, p->now), 0); /* EOF */
  assert_true(us_tls_events(p->srv) & US_EV_CLOSED);
  assert_int_equal(us_tls_error(p->srv), 0);
  /* The server answered with its own close_notify: the client is closed. */
  pair_run(p);
  assert_true(us_tls_events(p->cli) & US_EV_CLOSED);
  assert_int_equal(us_tls_read(p->cli, buf, sizeof buf, p->now), 0);
  assert_int_equal(us_tls_error(p->cli), 0);
  assert_int_equal(us_tls_close(p->srv, p->now), 0);
  pair_destroy(p);
}

/* The transport ends without close_notify: a possible truncation, reported
 * by reads; the other direction still works (TCP half-close). */
static void test_eof_without_close_notify(void **st) {
  (void)st;
  struct pair *p = connected_pair();
  assert_int_equal(us_tls_write(p->cli, "abc", 3, p->now), 3);
  pair_run(p);
  p->c2s.eof = true;
  char buf[8];
  assert_int_equal(us_tls_read(p->srv, buf, sizeof buf, p->now), 3); /* data first */
  assert_int_equal(us_tls_read(p->srv, buf, sizeof buf, p->now), US_ERR_CONNRESET);
  assert_int_equal(us_tls_read(p->srv, buf, sizeof buf, p->now), US_ERR_CONNRESET);
  assert_true(us_tls_events(p->srv) & US_EV_CLOSED);
  assert_false(us_tls_events(p->srv) & US_EV_ERROR);
  /* A half-closed peer still gets its answer, then our close_notify. */
  assert_int_equal(us_tls_error(p->srv), 0);
  assert_int_equal(us_tls_write(p->srv, "answer", 6, p->now), 6);
  assert_int_equal(us_tls_close(p->srv, p->now), 0);
  pair_run(p);
  assert_int_equal(us_tls_read(p->cli, buf, sizeof buf, p->now), 6);
  assert_memory_equal(buf, "answer", 6);
  assert_int_equal(us_tls_read(p->cli, buf, sizeof buf, p->now), 0); /* close_notify */
  pair_destroy(p);
}

static int make_server(const char *cert, const char *key, char *err, size_t errlen) {
  struct blob c = load(cert), k = load(key);
  struct us_tls_server_opts o = { c.p, c.len, k.p, k.len, cert, key, 1, 0, 0 };
  us_tls_server_ctx *ctx = NULL;
  int rc = us_tls_server_ctx_create(&ctx, &o, err, errlen);
  us_tls_server_ctx_destroy(ctx);
  free(c.p);
  free(k.p);
  return rc;
}

static void test_mismatched_key_rejected(void **st) {
  (void)st;
  char err[256];
  assert_int_equal(make_server("ec/server.pem", "other-ec-key.pem", err, sizeof err), US_ERR_INVAL);
  assert_non_null(strstr(err, "does not match"));
  assert_null(strchr(err, '\n')); /* one line */
  assert_int_equal(make_server("ec/server.pem", "rsa/server-key.pem", err, sizeof err),
                   US_ERR_INVAL);
  assert_non_null(strstr(err, "RSA key but the certificate holds an EC key"));
  assert_int_equal(make_server("rsa/server.pem", "ec/server-key.pem", err, sizeof err),
                   US_ERR_INVAL);
  /* A certificate given as the key, and a key given as the certificate. */
  assert_int_equal(make_server("ec/server.pem", "ec/ca.pem", err, sizeof err), US_ERR_INVAL);
  assert_non_null(strstr(err, "no PRIVATE KEY"));
  assert_int_equal(make_server("ec/server-key.pem", "ec/server-key.pem", err, sizeof err),
                   US_ERR_INVAL);
  assert_non_null(strstr(err, "no CERTIFICATE"));
  /* The good pairs, in every key encoding. */
  assert_int_equal(make_server("ec/server.pem", "ec/server-key.pem", err, sizeof err), 0);
  assert_int_equal(make_server("ec/server.pem", "ec/server-key-sec1.pem", err, sizeof err), 0);
  assert_int_equal(make_server("rsa/server.pem", "rsa/server-key.pem", err, sizeof err), 0);
  assert_int_equal(make_server("rsa/server.pem", "rsa/server-key-pkcs1.pem", err, sizeof err), 0);
}

/* Malformed PEM text: one clear line each, never a crash. */
static void test_malformed_pem(void **st) {
  (void)st;
  struct blob k = load("ec/server-key.pem"), c = load("ec/server.pem");
  static const struct {
    const char *text, *want;
  } cases[] = {
    { "", "empty" },
    { "hello world\n", "no PEM object" },
    { "-----BEGIN CERTIFICATE-----\nMIIB\n", "truncated PEM" },
    { "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n", "malformed PEM" },
    { "-----BEGIN CERTIFICATE-----\nMIIBAAAA\n-----END CERTIFICATE-----\n", "malformed" },
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char err[256] = "";
    us_tls_server_ctx *ctx = NULL;
    struct us_tls_server_opts o = {
      cases[i].text, strlen(cases[i].text), k.p, k.len, "cert.pem", "key.pem", 1, 0, 0
    };
    assert_int_equal(us_tls_server_ctx_create(&ctx, &o, err, sizeof err), US_ERR_INVAL);
    assert_null(ctx);
    if (!strstr(err, cases[i].want))
      fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].want);
    assert_non_null(strstr(err, "cert.pem"));
    /* The same text as the key. */
    struct us_tls_server_opts o2 = {
      c.p, c.len, cases[i].text, strlen(cases[i].text), "cert.pem", "key.pem", 1, 0, 0
    };
    assert_int_equal(us_tls_server_ctx_create(&ctx, &o2, err, sizeof err), US_ERR_INVAL);
    assert_non_null(strstr(err, "key.pem"));
  }
  /* A certificate with its body truncated in the middle. */
  char *half = malloc(c.len);
  assert_non_null(half);
  const char *end = strstr(c.p, "-----END");
  assert_non_null(end);
  size_t cut = (size_t)(end - c.p) / 2;
  memcpy(half, c.p, cut);
  static const char trailer[] = "\n-----END CERTIFICATE-----\n";
  size_t hl = cut;
  while (hl > 0 && half[hl - 1] != '\n') /* end on a whole base64 line */
    hl--;
  memcpy(half + hl, trailer, sizeof trailer - 1);
  hl += sizeof trailer - 1;
  char err[256];
  us_tls_server_ctx *ctx = NULL;
  struct us_tls_server_opts o = { half, hl, k.p, k.len, "half.pem", "key.pem", 1, 0, 0 };
  assert_int_equal(us_tls_server_ctx_create(&ctx, &o, err, sizeof err), US_ERR_INVAL);
  assert_non_null(strstr(err, "half.pem"));
  free(half);
  free(k.p);
  free(c.p);
}

/* The client checks the name it asked for against the certificate. */
static void test_wrong_server_name_rejected(void **st) {
  (void)st;
  seed_entropy(3);
  struct pair *p = pair_new(SIZE_MAX);
  p->sctx = server_ctx("ec/server.pem", "ec/server-key.pem", 2);
  p->cctx = client_ctx("ec/ca.pem");
  pair_start(p, "wrong.test", T_2027, false);
  pair_run(p);
  assert_false(us_tls_handshake_done(p->cli));
  assert_int_equal(us_tls_error(p->cli), US_ERR_TLS);
  assert_int_equal(us_tls_engine_error(p->cli), BR_ERR_X509_BAD_SERVER_NAME_);
  assert_true(us_tls_events(p->cli) & US_EV_CLOSED);
  /* BearSSL stops without an alert here; the client application then
   * closes TCP, and the server's handshake ends with that. */
  p->c2s.eof = true;
  pair_run(p);
  us_tls_on_event(p->srv, US_EV_READABLE, p->now);
  assert_false(us_tls_handshake_done(p->srv));
  assert_int_equal(us_tls_error(p->srv), US_ERR_CONNRESET);
  assert_true(us_tls_events(p->srv) & US_EV_CLOSED);
  long n = us_tls_write(p->cli, "x", 1, p->now);
  assert_int_equal(n, US_ERR_TLS);
  pair_destroy(p);
}

static void expect_client_failure(const char *ca, int64_t t, int want) {
  struct pair *p = pair_new(SIZE_MAX);
  p->sctx = server_ctx("ec/server.pem", "ec/server-key.pem", 2);
  p->cctx = client_ctx(ca);
  pair_start(p, "ustack.test", t, false);
  pair_run(p);
  assert_false(us_tls_handshake_done(p->cli));
  assert_int_equal(us_tls_error(p->cli), US_ERR_TLS);
  assert_int_equal(us_tls_engine_error(p->cli), want);
  pair_destroy(p);
}

static void test_untrusted_and_expired(void **st) {
  (void)st;
  seed_entropy(4);
  expect_client_failure("rsa/ca.pem", T_2027, BR_ERR_X509_NOT_TRUSTED_);
  /* 2200: after notAfter; 2020: before notBefore. */
  expect_client_failure("ec/ca.pem", INT64_C(7258118400), BR_ERR_X509_EXPIRED_);
  expect_client_failure("ec/ca.pem", INT64_C(1577836800), BR_ERR_X509_EXPIRED_);
}

/* Feed raw bytes to a fresh server and let it fail; it must end with an
 * error, never hang or crash. Returns the server's sticky error. */
static int server_fed(const uint8_t *bytes, size_t len, bool eof) {
  seed_entropy(5);
  struct pair *p = pair_new(SIZE_MAX);
  p->sctx = server_ctx("ec/server.pem", "ec/server-key.pem", 1);
  struct us_tls_transport stt = { p_send, p_recv, &p->send };
  assert_int_equal(us_tls_accept_transport(p->sctx, NULL, &stt, entropy_srv, 32, &p->srv), 0);
  memcpy(p->c2s.buf, bytes, len);
  p->c2s.len = len;
  p->c2s.eof = eof;
  for (int i = 0; i < 10; i++)
    us_tls_on_event(p->srv, US_EV_READABLE, p->now);
  int err = us_tls_error(p->srv);
  print_message("fed %zu bytes%s: error %d, engine %d\n", len, eof ? " + EOF" : "", err,
                us_tls_engine_error(p->srv));
  assert_false(us_tls_handshake_done(p->srv));
  assert_true(us_tls_events(p->srv) & US_EV_CLOSED);
  char buf[8];
  assert_int_equal(us_tls_read(p->srv, buf, sizeof buf, p->now), err);
  us_tls_conn_free(p->srv);
  us_tls_server_ctx_destroy(p->sctx);
  free(p);
  return err;
}

static void test_garbage_client_hello(void **st) {
  (void)st;
  /* A plain HTTP request on the TLS port: not a TLS record at all. */
  static const char http[] = "GET / HTTP/1.1\r\nHost: 10.0.0.2\r\n\r\n";
  assert_int_equal(server_fed((const uint8_t *)http, sizeof http - 1, false), US_ERR_TLS);

  /* Pseudo-random bytes. */
  uint8_t junk[600];
  uint32_t x = 12345;
  for (size_t i = 0; i < sizeof junk; i++) {
    x = x * 1103515245u + 12345u;
    junk[i] = (uint8_t)(x >> 16);
  }
  assert_int_equal(server_fed(junk, sizeof junk, false), US_ERR_TLS);

  /* A handshake record whose ClientHello is cut short, then EOF. */
  seed_entropy(6);
  struct pair *p = pair_new(SIZE_MAX);
  p->sctx = server_ctx("ec/server.pem", "ec/server-key.pem", 1);
  p->cctx = client_ctx("ec/ca.pem");
  pair_start(p, "ustack.test", T_2027, false);
  us_tls_on_event(p->cli, US_EV_WRITABLE, p->now); /* ClientHello into c2s */
  assert_true(p->c2s.len > 60);
  uint8_t hello[2048];
  size_t hl = p->c2s.len;
  memcpy(hello, p->c2s.buf + p->c2s.head, hl);
  pair_destroy(p);
  assert_int_equal(server_fed(hello, 50, true), US_ERR_CONNRESET);
  /* A record whose handshake message claims more than the record holds:
   * BearSSL waits for the next record (messages may span records), and
   * the stream then ends: a clean failure, not a read past the record. */
  uint8_t bad[2048];
  memcpy(bad, hello, hl);
  bad[3] = 0;
  bad[4] = 40;
  assert_int_equal(server_fed(bad, 45, true), US_ERR_CONNRESET);
  /* A ServerHello sent to a server: an unexpected message. */
  memcpy(bad, hello, hl);
  bad[5] = 2;
  assert_int_equal(server_fed(bad, hl, false), US_ERR_TLS);
  /* A record header announcing more than 16 KB + 2048 (RFC 5246 6.2.3). */
  memcpy(bad, hello, 5);
  bad[3] = 0xff;
  bad[4] = 0xff;
  assert_int_equal(server_fed(bad, 5, false), US_ERR_TLS);
}

/* Session resumption: a second connection with the saved session resumes
 * it (abbreviated handshake, RFC 5246 7.3), and both ends say so. */
static void test_session_resumption(void **st) {
  (void)st;
  seed_entropy(7);
  struct pair *p = pair_new(SIZE_MAX);
  p->sctx = server_ctx("ec/server.pem", "ec/server-key.pem", 2);
  p->cctx = client_ctx("ec/ca.pem");
  pair_start(p, "ustack.test", T_2027, false);
  pair_run(p);
  assert_true(us_tls_handshake_done(p->cli));
  assert_false(us_tls_resumed(p->srv));
  assert_int_equal(us_tls_close(p->cli, p->now), 0);
  pair_run(p);
  pair_free(p);
  memset(&p->c2s, 0, sizeof p->c2s);
  memset(&p->s2c, 0, sizeof p->s2c);

  seed_entropy(8);
  pair_start(p, "ustack.test", T_2027, true);
  pair_run(p);
  assert_true(us_tls_handshake_done(p->cli));
  assert_true(us_tls_resumed(p->cli));
  assert_true(us_tls_resumed(p->srv));
  transfer(p, p->srv, p->cli, 1000);
  pair_destroy(p);
}

/* Connection slots are fixed at creation: the next accept is refused. */
static void test_slots_exhausted(void **st) {
  (void)st;
  seed_entropy(9);
  struct pair *p = pair_new(SIZE_MAX);
  p->sctx = server_ctx("ec/server.pem", "ec/server-key.pem", 1);
  struct us_tls_transport t = { p_send, p_recv, &p->send };
  us_tls_conn *a = NULL, *b = NULL;
  assert_int_equal(us_tls_accept_transport(p->sctx, NULL, &t, entropy_srv, 32, &a), 0);
  assert_int_equal(us_tls_accept_transport(p->sctx, NULL, &t, entropy_srv, 32, &b), US_ERR_NOMEM);
  assert_null(b);
  /* Too little entropy is refused. */
  us_tls_conn_free(a);
  assert_int_equal(us_tls_accept_transport(p->sctx, NULL, &t, entropy_srv, 8, &b), US_ERR_INVAL);
  assert_int_equal(us_tls_accept_transport(p->sctx, NULL, &t, NULL, 0, &b), US_ERR_INVAL);
  assert_int_equal(us_tls_accept_transport(p->sctx, NULL, &t, entropy_srv, 32, &b), 0);
  us_tls_conn_free(b);
  us_tls_server_ctx_destroy(p->sctx);
  free(p);
}

/* Same entropy and same inputs give the same bytes on the wire: the TLS
 * layer reads no clock and no OS randomness. */
static void test_deterministic(void **st) {
  (void)st;
  uint8_t first[4096];
  size_t first_len = 0;
  for (int round = 0; round < 2; round++) {
    seed_entropy(10);
    struct pair *p = pair_new(SIZE_MAX);
    p->sctx = server_ctx("ec/server.pem", "ec/server-key.pem", 1);
    p->cctx = client_ctx("ec/ca.pem");
    pair_start(p, "ustack.test", T_2027, false);
    us_tls_on_event(p->cli, US_EV_WRITABLE, p->now);
    us_tls_on_event(p->srv, US_EV_READABLE, p->now); /* ServerHello..Done */
    assert_true(p->s2c.len > 0 && p->s2c.len <= sizeof first);
    if (round == 0) {
      first_len = p->s2c.len;
      memcpy(first, p->s2c.buf + p->s2c.head, first_len);
    } else {
      assert_int_equal(p->s2c.len, first_len);
      assert_memory_equal(p->s2c.buf + p->s2c.head, first, first_len);
    }
    pair_destroy(p);
  }
}

/* Record content types in the bytes queued in `q` (RFC 5246 6.2.1: type,
 * version, 16-bit length), in order; returns how many. */
static size_t record_types(const struct q *q, uint8_t *types, size_t max) {
  size_t n = 0;
  for (size_t off = 0; off + 5 <= q->len && n < max;) {
    const uint8_t *h = q->buf + q->head + off;
    types[n++] = h[0];
    off += 5 + ((size_t)h[3] << 8 | h[4]);
  }
  return n;
}

/*
 * Each flight leaves in ONE transport send, however many records it holds:
 * ServerHello..ServerHelloDone, and ChangeCipherSpec + Finished (two
 * records). Sent record by record, TCP's Nagle would hold the last short
 * record until the peer's delayed ACK (about 40 ms) on every handshake.
 */
static void test_flight_in_one_send(void **st) {
  (void)st;
  seed_entropy(11);
  struct pair *p = pair_new(SIZE_MAX);
  p->sctx = server_ctx("rsa/server.pem", "rsa/server-key.pem", 1);
  p->cctx = client_ctx("rsa/ca.pem");
  pair_start(p, "ustack.test", T_2027, false);
  uint8_t types[16];

  us_tls_on_event(p->cli, US_EV_WRITABLE, p->now); /* ClientHello */
  assert_int_equal(p->c2s.sends, 1);
  us_tls_on_event(p->srv, US_EV_READABLE, p->now); /* ServerHello..Done */
  assert_int_equal(p->s2c.sends, 1);
  assert_true(p->s2c.len > 1000); /* the certificate chain is in it */

  us_tls_on_event(p->cli, US_EV_READABLE, p->now); /* CKE, CCS, Finished */
  assert_int_equal(p->c2s.sends, 2);
  p->s2c.head += p->s2c.len; /* drop what the client already consumed */
  p->s2c.len = 0;
  us_tls_on_event(p->srv, US_EV_READABLE, p->now); /* CCS, Finished */
  assert_int_equal(p->s2c.sends, 2);
  size_t nrec = record_types(&p->s2c, types, sizeof types);
  assert_int_equal(nrec, 2);
  assert_int_equal(types[0], 20); /* change_cipher_spec */
  assert_int_equal(types[1], 22); /* handshake (Finished) */
  us_tls_on_event(p->cli, US_EV_READABLE, p->now);
  assert_true(us_tls_handshake_done(p->srv));
  assert_true(us_tls_handshake_done(p->cli));

  /* Application data still leaves at once, in one send per write. */
  unsigned before = p->s2c.sends;
  assert_int_equal(us_tls_write(p->srv, "HTTP/1.1 200 OK\r\n\r\n", 19, p->now), 19);
  assert_int_equal(p->s2c.sends, before + 1);
  pair_run(p);
  char got[32];
  assert_int_equal(us_tls_read(p->cli, got, sizeof got, p->now), 19);
  pair_destroy(p);
}

/* While the transport takes nothing, what was written waits in the pump's
 * staging area: us_tls_close() says US_ERR_AGAIN until the data and the
 * close_notify have left (closing the socket earlier would lose them). */
static void test_close_waits_for_staged_records(void **st) {
  (void)st;
  struct pair *p = connected_pair();
  p->send.chunk = 0; /* the server's transport is full */
  assert_int_equal(us_tls_write(p->srv, "last words", 10, p->now), 10);
  assert_int_equal(us_tls_close(p->srv, p->now), US_ERR_AGAIN);
  assert_int_equal(us_tls_close(p->srv, p->now), US_ERR_AGAIN);
  assert_int_equal(p->s2c.len, 0);
  p->send.chunk = 3; /* it drains, a few bytes per call */
  int rc = US_ERR_AGAIN;
  for (int i = 0; i < 1000 && rc == US_ERR_AGAIN; i++)
    rc = us_tls_close(p->srv, p->now);
  assert_int_equal(rc, 0);
  pair_run(p);
  char buf[16];
  assert_int_equal(us_tls_read(p->cli, buf, sizeof buf, p->now), 10);
  assert_memory_equal(buf, "last words", 10);
  assert_int_equal(us_tls_read(p->cli, buf, sizeof buf, p->now), 0); /* close_notify */
  assert_int_equal(us_tls_error(p->cli), 0);
  pair_destroy(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_ec_handshake_and_data),
    cmocka_unit_test(test_rsa_handshake_and_data),
    cmocka_unit_test(test_one_byte_chunks),
    cmocka_unit_test(test_odd_chunks),
    cmocka_unit_test(test_close_notify),
    cmocka_unit_test(test_eof_without_close_notify),
    cmocka_unit_test(test_mismatched_key_rejected),
    cmocka_unit_test(test_malformed_pem),
    cmocka_unit_test(test_wrong_server_name_rejected),
    cmocka_unit_test(test_untrusted_and_expired),
    cmocka_unit_test(test_garbage_client_hello),
    cmocka_unit_test(test_session_resumption),
    cmocka_unit_test(test_slots_exhausted),
    cmocka_unit_test(test_deterministic),
    cmocka_unit_test(test_flight_in_one_send),
    cmocka_unit_test(test_close_waits_for_staged_records),
  };
  return H_RUN("tls", tests);
}
