/*
 * tls_pump.c - BearSSL's engine pumped over a ustack TCP socket (or any
 * us_tls_transport). See us_tls.h for the contract.
 *
 * BearSSL's engine is sans-IO: it exposes four windows into one buffer.
 *   SENDREC  ciphertext ready to go out  -> transport.send -> sendrec_ack
 *   RECVREC  room for ciphertext         <- transport.recv -> recvrec_ack
 *   SENDAPP  room for plaintext          <- us_tls_write   -> sendapp_ack
 *   RECVAPP  plaintext ready             -> us_tls_read    -> recvapp_ack
 * tls_pump() loops over br_ssl_engine_current_state(), moving ciphertext
 * both ways until neither direction makes progress (the transport says
 * US_ERR_AGAIN, or the engine waits for the application). It runs on every
 * socket event and inside us_tls_read/us_tls_write/us_tls_close, so the
 * application never calls it directly. We never use br_sslio_*: it blocks.
 *
 * Flights. BearSSL hands out one record at a time (it builds the next
 * record only once the previous one is acknowledged), so a flight such as
 * ChangeCipherSpec + Finished, or ServerHello .. ServerHelloDone, is
 * several SENDREC windows in a row. Sending each window to TCP as it comes
 * would make the last, short record wait behind Nagle (RFC 9293 3.7.4)
 * for the peer's delayed ACK: about 40 ms on Linux, per flight. So the
 * pump first copies every record the engine has ready into `flight`, and
 * only when the engine has nothing more (or `flight` is full) hands the
 * whole set to the transport in one send. What the transport does not take
 * stays in `flight` and goes first next time.
 *
 * Invariants:
 *  - A connection belongs to exactly one context slot while in_use.
 *  - hs_active is true from accept/connect until the handshake ends (done,
 *    failed, or the slot is freed); while true the connection is counted in
 *    the context's hs_active and the stack's tls_handshakes_active gauge.
 *  - err, once non-zero, never changes (sticky).
 *  - `closed_seen` makes the end-of-session accounting run exactly once.
 *
 * Nothing here reads a clock or the OS random generator: entropy comes from
 * the caller (or the stack's injected source), certificate time from the
 * caller. BearSSL would try the OS generator once per engine
 * (br_prng_seeder_system); we mark that attempt as done before injecting, so
 * that the engine's randomness is exactly what it was given.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bearssl.h>

#include "core/log.h"
#include "core/rand.h"
#include "core/stack.h"
#include "core/stats.h"
#include "ustack/us_tls.h"

#include "tls_pem.h"

/* TLS 1.2, ECDHE (forward secrecy), AEAD only; our preference order:
 * AES-128-GCM is fast everywhere with AES-NI, ChaCha20 where it is not. */
static const uint16_t tls_suites[] = {
  BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,       /* RFC 5289 */
  BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,         /* RFC 5289 */
  BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, /* RFC 7905 */
  BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,   /* RFC 7905 */
  BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,       /* RFC 5289 */
  BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,         /* RFC 5289 */
};
#define TLS_NSUITES (sizeof tls_suites / sizeof tls_suites[0])

static const char *tls_alpn[] = { "http/1.1" }; /* RFC 7301 */

/* Bound on pump iterations per call; each moves at least one chunk, so this
 * only guards against a transport that lies about progress. */
#define TLS_PUMP_MAX 4096

/* Outgoing ciphertext gathered before one transport send: room for one
 * maximum-size record (BearSSL's whole output buffer). */
#define TLS_FLIGHT_MAX BR_SSL_BUFSIZE_OUTPUT

/* Days from 0000-01-01 (proleptic Gregorian, BearSSL's origin) to
 * 1970-01-01 (the Unix epoch). */
#define TLS_DAYS_TO_EPOCH 719528

enum tls_role { TLS_SERVER = 1, TLS_CLIENT = 2 };

/*
 * The LRU cache, wrapped so that a successful lookup marks the connection
 * as resumed (BearSSL has no "was this resumed?" query on the server).
 */
struct tls_cache {
  const br_ssl_session_cache_class *vtable; /* first: BearSSL's convention */
  br_ssl_session_cache_lru lru;
};

struct us_tls_conn {
  union {
    br_ssl_server_context sc;
    br_ssl_client_context cc;
  } u;                        /* first: tls_conn_of_server() relies on it */
  br_x509_minimal_context xc; /* client only */
  br_ssl_engine_context *eng;
  enum tls_role role;
  bool in_use;
  bool hs_active; /* counted in the handshake gauges */
  bool hs_done;
  bool closing;       /* us_tls_close() was called */
  bool transport_eof; /* the transport returned 0 */
  bool truncated;     /* ... after the handshake, without close_notify */
  bool closed_seen;   /* end-of-session accounting done */
  bool resumed;
  bool offered_resume;
  int err;     /* sticky us_err */
  int eng_err; /* BR_ERR_* when err == US_ERR_TLS */
  us_stack *s; /* may be NULL (transport without a stack) */
  us_sock_t sock;
  struct us_tls_transport tr;
  void *owner; /* us_tls_server_ctx or us_tls_client_ctx */
  unsigned char offered_id[32];
  size_t flight_len; /* ciphertext in `flight` not yet taken by the transport */
  /* Last: not cleared when a slot is reused (BearSSL sets up iobuf;
   * flight_len says how much of flight is meaningful). */
  unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
  unsigned char flight[TLS_FLIGHT_MAX];
};

struct us_tls_server_ctx {
  struct tls_cred cred;
  struct us_tls_conn *conns;
  uint32_t nconns;
  uint32_t max_hs, hs_active;
  struct tls_cache cache;
  unsigned char *cache_store;
};

struct us_tls_client_ctx {
  br_x509_trust_anchor *tas;
  size_t ntas;
  struct us_tls_conn *conns;
  uint32_t nconns;
  br_ssl_session_parameters saved; /* last completed session */
  bool have_saved;
};

#define TLS_LOG(c, level, ...)            \
  do {                                    \
    if ((c)->s)                           \
      US_LOG((c)->s, level, __VA_ARGS__); \
  } while (0)
#define TLS_STAT_INC(c, name)    \
  do {                           \
    if ((c)->s)                  \
      US_STAT_INC((c)->s, name); \
  } while (0)
#define TLS_STAT_DEC(c, name)                        \
  do {                                               \
    if ((c)->s && (c)->s->stats[US_STAT_##name] > 0) \
      US_STAT_DEC((c)->s, name);                     \
  } while (0)

/* ---- Names -------------------------------------------------------------- */

/* RFC 5246 7.2 and RFC 7301/6066 alert descriptions. */
static const char *tls_alert_name(unsigned a) {
  switch (a) {
  case 0:
    return "close_notify";
  case 10:
    return "unexpected_message";
  case 20:
    return "bad_record_mac";
  case 22:
    return "record_overflow";
  case 40:
    return "handshake_failure";
  case 42:
    return "bad_certificate";
  case 43:
    return "unsupported_certificate";
  case 44:
    return "certificate_revoked";
  case 45:
    return "certificate_expired";
  case 46:
    return "certificate_unknown";
  case 47:
    return "illegal_parameter";
  case 48:
    return "unknown_ca";
  case 49:
    return "access_denied";
  case 50:
    return "decode_error";
  case 51:
    return "decrypt_error";
  case 70:
    return "protocol_version";
  case 71:
    return "insufficient_security";
  case 80:
    return "internal_error";
  case 90:
    return "user_canceled";
  case 100:
    return "no_renegotiation";
  case 110:
    return "unsupported_extension";
  case 112:
    return "unrecognized_name";
  case 120:
    return "no_application_protocol";
  default:
    return "unknown alert";
  }
}

const char *us_tls_strerror(int e) {
  if (e >= BR_ERR_SEND_FATAL_ALERT)
    return "fatal alert sent to the peer";
  if (e >= BR_ERR_RECV_FATAL_ALERT)
    return "fatal alert received from the peer";
  switch (e) {
  case BR_ERR_OK:
    return "no error";
  case BR_ERR_BAD_PARAM:
    return "bad parameter";
  case BR_ERR_BAD_STATE:
    return "bad state";
  case BR_ERR_UNSUPPORTED_VERSION:
    return "unsupported protocol version (TLS 1.2 only)";
  case BR_ERR_BAD_VERSION:
    return "bad protocol version in a record";
  case BR_ERR_BAD_LENGTH:
    return "bad record length";
  case BR_ERR_TOO_LARGE:
    return "record too large";
  case BR_ERR_BAD_MAC:
    return "bad record MAC (corrupted or forged data)";
  case BR_ERR_NO_RANDOM:
    return "no entropy";
  case BR_ERR_UNKNOWN_TYPE:
    return "unknown record type (not TLS?)";
  case BR_ERR_UNEXPECTED:
    return "unexpected message";
  case BR_ERR_BAD_CCS:
    return "bad ChangeCipherSpec";
  case BR_ERR_BAD_ALERT:
    return "bad alert";
  case BR_ERR_BAD_HANDSHAKE:
    return "malformed handshake message";
  case BR_ERR_OVERSIZED_ID:
    return "oversized session id";
  case BR_ERR_BAD_CIPHER_SUITE:
    return "no common cipher suite";
  case BR_ERR_BAD_COMPRESSION:
    return "no common compression";
  case BR_ERR_BAD_FRAGLEN:
    return "bad max fragment length";
  case BR_ERR_BAD_SECRENEG:
    return "bad secure renegotiation";
  case BR_ERR_EXTRA_EXTENSION:
    return "unexpected extension";
  case BR_ERR_BAD_SNI:
    return "bad server name";
  case BR_ERR_BAD_HELLO_DONE:
    return "bad ServerHelloDone";
  case BR_ERR_LIMIT_EXCEEDED:
    return "limit exceeded";
  case BR_ERR_BAD_FINISHED:
    return "bad Finished";
  case BR_ERR_RESUME_MISMATCH:
    return "session resumption mismatch";
  case BR_ERR_INVALID_ALGORITHM:
    return "invalid algorithm";
  case BR_ERR_BAD_SIGNATURE:
    return "bad signature";
  case BR_ERR_WRONG_KEY_USAGE:
    return "wrong key usage";
  case BR_ERR_NO_CLIENT_AUTH:
    return "no client certificate";
  case BR_ERR_IO:
    return "I/O error";
  case BR_ERR_X509_EXPIRED:
    return "certificate expired or not yet valid";
  case BR_ERR_X509_BAD_SERVER_NAME:
    return "certificate does not match the server name";
  case BR_ERR_X509_NOT_TRUSTED:
    return "certificate chain not trusted";
  case BR_ERR_X509_EMPTY_CHAIN:
    return "empty certificate chain";
  case BR_ERR_X509_BAD_SIGNATURE:
    return "bad certificate signature";
  case BR_ERR_X509_NOT_CA:
    return "issuer is not a CA";
  case BR_ERR_X509_TIME_UNKNOWN:
    return "no time for certificate checks";
  case BR_ERR_X509_UNSUPPORTED:
    return "unsupported certificate feature";
  case BR_ERR_X509_WEAK_PUBLIC_KEY:
    return "weak public key";
  case BR_ERR_X509_FORBIDDEN_KEY_USAGE:
    return "certificate key usage forbids this";
  case BR_ERR_X509_CRITICAL_EXTENSION:
    return "unknown critical certificate extension";
  default:
    if (e >= BR_ERR_X509_OK && e < 64)
      return "certificate error";
    return "TLS error";
  }
}

const char *us_tls_suite_name(const us_tls_conn *c) {
  if (!c || !c->hs_done)
    return "";
  switch (c->eng->session.cipher_suite) {
  case BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256:
    return "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256";
  case BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256:
    return "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256";
  case BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384:
    return "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384";
  case BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384:
    return "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384";
  case BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256:
    return "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256";
  case BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256:
    return "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256";
  default:
    return "unknown";
  }
}

/* ---- Session cache wrapper ---------------------------------------------- */

static us_tls_conn *tls_conn_of_server(br_ssl_server_context *sc) {
  return (us_tls_conn *)(void *)((char *)sc - offsetof(us_tls_conn, u.sc));
}

static void tls_cache_save(const br_ssl_session_cache_class **ctx, br_ssl_server_context *sc,
                           const br_ssl_session_parameters *params) {
  struct tls_cache *tc = (struct tls_cache *)(void *)ctx;
  tc->lru.vtable->save(&tc->lru.vtable, sc, params);
}

static int tls_cache_load(const br_ssl_session_cache_class **ctx, br_ssl_server_context *sc,
                          br_ssl_session_parameters *params) {
  struct tls_cache *tc = (struct tls_cache *)(void *)ctx;
  int found = tc->lru.vtable->load(&tc->lru.vtable, sc, params);
  if (found)
    tls_conn_of_server(sc)->resumed = true;
  return found;
}

static const br_ssl_session_cache_class tls_cache_class = { sizeof(struct tls_cache),
                                                            tls_cache_save, tls_cache_load };

/* ---- Contexts ----------------------------------------------------------- */

static void err_line(char *err, size_t errlen, const char *msg) {
  if (err && errlen)
    snprintf(err, errlen, "%s", msg);
}

int us_tls_server_ctx_create(us_tls_server_ctx **out, const struct us_tls_server_opts *o, char *err,
                             size_t errlen) {
  if (!out || !o) {
    err_line(err, errlen, "tls: no options");
    return US_ERR_INVAL;
  }
  *out = NULL;
  us_tls_server_ctx *c = calloc(1, sizeof *c);
  if (!c) {
    err_line(err, errlen, "tls: out of memory");
    return US_ERR_NOMEM;
  }
  if (tls_cred_load(&c->cred, o->cert_pem, o->cert_pem_len, o->key_pem, o->key_pem_len,
                    o->cert_name, o->key_name, err, errlen) != 0) {
    free(c);
    return US_ERR_INVAL;
  }
  c->nconns = o->max_conns ? o->max_conns : 16;
  c->max_hs = o->max_handshakes && o->max_handshakes < c->nconns ? o->max_handshakes : c->nconns;
  uint32_t entries = o->session_cache_entries ? o->session_cache_entries : 256;
  c->cache_store = malloc((size_t)entries * 100); /* 100 bytes per entry */
  c->conns = calloc(c->nconns, sizeof *c->conns);
  if (!c->cache_store || !c->conns) {
    err_line(err, errlen, "tls: out of memory for connection slots");
    us_tls_server_ctx_destroy(c);
    return US_ERR_NOMEM;
  }
  br_ssl_session_cache_lru_init(&c->cache.lru, c->cache_store, (size_t)entries * 100);
  c->cache.vtable = &tls_cache_class;
  *out = c;
  return 0;
}

void us_tls_server_ctx_destroy(us_tls_server_ctx *c) {
  if (!c)
    return;
  tls_cred_free(&c->cred);
  free(c->cache_store);
  free(c->conns);
  free(c);
}

int us_tls_client_ctx_create(us_tls_client_ctx **out, const struct us_tls_client_opts *o, char *err,
                             size_t errlen) {
  if (!out || !o) {
    err_line(err, errlen, "tls: no options");
    return US_ERR_INVAL;
  }
  *out = NULL;
  us_tls_client_ctx *c = calloc(1, sizeof *c);
  if (!c) {
    err_line(err, errlen, "tls: out of memory");
    return US_ERR_NOMEM;
  }
  if (tls_anchors_load(&c->tas, &c->ntas, o->ca_pem, o->ca_pem_len, o->ca_name, err, errlen) != 0) {
    free(c);
    return US_ERR_INVAL;
  }
  c->nconns = o->max_conns ? o->max_conns : 4;
  c->conns = calloc(c->nconns, sizeof *c->conns);
  if (!c->conns) {
    err_line(err, errlen, "tls: out of memory for connection slots");
    us_tls_client_ctx_destroy(c);
    return US_ERR_NOMEM;
  }
  *out = c;
  return 0;
}

void us_tls_client_ctx_destroy(us_tls_client_ctx *c) {
  if (!c)
    return;
  tls_anchors_free(c->tas, c->ntas);
  free(c->conns);
  free(c);
}

/* ---- Transport over a ustack TCP socket --------------------------------- */

static long tls_sock_send(void *ctx, const void *buf, size_t len, us_time_t now) {
  us_tls_conn *c = ctx;
  long n = us_tcp_send(c->s, c->sock, buf, len, now);
  /* Before the TCP handshake completes (client side) the bytes just wait. */
  if (n == US_ERR_NOTCONN || n == 0)
    return US_ERR_AGAIN;
  return n;
}

static long tls_sock_recv(void *ctx, void *buf, size_t cap, us_time_t now) {
  us_tls_conn *c = ctx;
  long n = us_tcp_recv(c->s, c->sock, buf, cap, now);
  return n == US_ERR_NOTCONN ? US_ERR_AGAIN : n;
}

/* ---- Connection setup --------------------------------------------------- */

static us_tls_conn *tls_slot(us_tls_conn *v, uint32_t n) {
  for (uint32_t i = 0; i < n; i++)
    if (!v[i].in_use) {
      /* Clear everything but the I/O buffer, which BearSSL manages. */
      memset(&v[i], 0, offsetof(us_tls_conn, iobuf));
      v[i].in_use = true;
      return &v[i];
    }
  return NULL;
}

/* Settings common to both roles; then seed the engine's generator. */
static int tls_engine_setup(us_tls_conn *c, const void *entropy, size_t entropy_len) {
  br_ssl_engine_context *e = c->eng;
  unsigned char seed[US_TLS_ENTROPY_MIN];
  br_ssl_engine_set_versions(e, BR_TLS12, BR_TLS12);
  br_ssl_engine_set_suites(e, tls_suites, TLS_NSUITES);
  /* RFC 5746 secure renegotiation is still signalled, but we never
   * renegotiate: it only adds attack surface for an HTTP server. */
  br_ssl_engine_add_flags(e, BR_OPT_NO_RENEGOTIATION | BR_OPT_ENFORCE_SERVER_PREFERENCES);
  br_ssl_engine_set_protocol_names(e, tls_alpn, 1);
  br_ssl_engine_set_buffer(e, c->iobuf, sizeof c->iobuf, 1);
  if (!entropy) {
    if (!c->s)
      return US_ERR_INVAL;
    us_rand_bytes(c->s, seed, sizeof seed);
    entropy = seed;
    entropy_len = sizeof seed;
  } else if (entropy_len < US_TLS_ENTROPY_MIN) {
    return US_ERR_INVAL;
  }
  /* See the file comment: no OS randomness inside the protocol core. */
  e->rng_os_rand_done = 1;
  br_ssl_engine_inject_entropy(e, entropy, entropy_len);
  memset(seed, 0, sizeof seed);
  return 0;
}

static void tls_hs_begin(us_tls_conn *c) {
  c->hs_active = true;
  TLS_STAT_INC(c, tls_handshakes_active);
  if (c->role == TLS_SERVER)
    ((us_tls_server_ctx *)c->owner)->hs_active++;
}

/* The handshake is over (done or failed, or the slot is freed). */
static void tls_hs_end(us_tls_conn *c, bool ok) {
  if (!c->hs_active)
    return;
  c->hs_active = false;
  TLS_STAT_DEC(c, tls_handshakes_active);
  if (c->role == TLS_SERVER)
    ((us_tls_server_ctx *)c->owner)->hs_active--;
  if (!ok)
    TLS_STAT_INC(c, tls_handshake_fails);
}

int us_tls_accept_transport(us_tls_server_ctx *ctx, us_stack *s, const struct us_tls_transport *tr,
                            const void *entropy, size_t entropy_len, us_tls_conn **out) {
  if (!ctx || !tr || !out || !tr->send || !tr->recv)
    return US_ERR_INVAL;
  *out = NULL;
  us_tls_conn *c = NULL;
  if (ctx->hs_active < ctx->max_hs)
    c = tls_slot(ctx->conns, ctx->nconns);
  if (!c) {
    /* Refusing here keeps a flood of ClientHellos from costing a
     * signature each (handshakes are the expensive part). */
    if (s) {
      US_STAT_INC(s, tls_handshake_limited);
      US_LOGW(s, "tls: connection refused: %s",
              ctx->hs_active >= ctx->max_hs ? "too many handshakes in progress"
                                            : "no free TLS connection slot");
    }
    return US_ERR_NOMEM;
  }
  c->role = TLS_SERVER;
  c->owner = ctx;
  c->s = s;
  c->sock = US_SOCK_INVALID;
  c->tr = *tr;
  const struct tls_cred *cr = &ctx->cred;
  if (cr->key_type == BR_KEYTYPE_RSA)
    br_ssl_server_init_full_rsa(&c->u.sc, cr->chain, cr->chain_len, &cr->rsa);
  else
    br_ssl_server_init_full_ec(&c->u.sc, cr->chain, cr->chain_len,
                               cr->issuer_key_type ? (unsigned)cr->issuer_key_type : BR_KEYTYPE_EC,
                               &cr->ec);
  c->eng = &c->u.sc.eng;
  int rc = tls_engine_setup(c, entropy, entropy_len);
  if (rc != 0) {
    c->in_use = false;
    return rc;
  }
  br_ssl_server_set_cache(&c->u.sc, &ctx->cache.vtable);
  if (!br_ssl_server_reset(&c->u.sc)) {
    c->in_use = false;
    return US_ERR_INVAL;
  }
  tls_hs_begin(c);
  *out = c;
  return 0;
}

int us_tls_accept(us_tls_server_ctx *ctx, us_stack *s, us_sock_t sock, const void *entropy,
                  size_t entropy_len, us_tls_conn **out) {
  struct us_tls_transport tr = { tls_sock_send, tls_sock_recv, NULL };
  if (!s)
    return US_ERR_INVAL;
  int rc = us_tls_accept_transport(ctx, s, &tr, entropy, entropy_len, out);
  if (rc == 0) {
    (*out)->sock = sock;
    (*out)->tr.ctx = *out;
  }
  return rc;
}

int us_tls_connect_transport(us_tls_client_ctx *ctx, us_stack *s, const struct us_tls_transport *tr,
                             const char *server_name, int64_t unix_time, bool resume,
                             const void *entropy, size_t entropy_len, us_tls_conn **out) {
  if (!ctx || !tr || !out || !tr->send || !tr->recv || unix_time < 0)
    return US_ERR_INVAL;
  if (server_name && strlen(server_name) > 255) /* RFC 6066 3: HostName <1..2^16-1>; BearSSL 255 */
    return US_ERR_INVAL;
  *out = NULL;
  us_tls_conn *c = tls_slot(ctx->conns, ctx->nconns);
  if (!c)
    return US_ERR_NOMEM;
  c->role = TLS_CLIENT;
  c->owner = ctx;
  c->s = s;
  c->sock = US_SOCK_INVALID;
  c->tr = *tr;
  br_ssl_client_init_full(&c->u.cc, &c->xc, ctx->tas, ctx->ntas);
  c->eng = &c->u.cc.eng;
  int rc = tls_engine_setup(c, entropy, entropy_len);
  if (rc != 0) {
    c->in_use = false;
    return rc;
  }
  br_x509_minimal_set_time(&c->xc, (uint32_t)(unix_time / 86400 + TLS_DAYS_TO_EPOCH),
                           (uint32_t)(unix_time % 86400));
  if (resume && ctx->have_saved) {
    br_ssl_engine_set_session_parameters(c->eng, &ctx->saved);
    memcpy(c->offered_id, ctx->saved.session_id, sizeof c->offered_id);
    c->offered_resume = true;
  }
  if (!br_ssl_client_reset(&c->u.cc, server_name && *server_name ? server_name : NULL,
                           c->offered_resume)) {
    c->in_use = false;
    return US_ERR_INVAL;
  }
  tls_hs_begin(c);
  *out = c;
  return 0;
}

int us_tls_connect(us_tls_client_ctx *ctx, us_stack *s, us_sock_t sock, const char *server_name,
                   int64_t unix_time, bool resume, const void *entropy, size_t entropy_len,
                   us_tls_conn **out) {
  struct us_tls_transport tr = { tls_sock_send, tls_sock_recv, NULL };
  if (!s)
    return US_ERR_INVAL;
  int rc = us_tls_connect_transport(ctx, s, &tr, server_name, unix_time, resume, entropy,
                                    entropy_len, out);
  if (rc == 0) {
    (*out)->sock = sock;
    (*out)->tr.ctx = *out;
  }
  return rc;
}

void us_tls_conn_free(us_tls_conn *c) {
  if (!c || !c->in_use)
    return;
  tls_hs_end(c, false); /* a handshake cut short (timeout, reset) failed */
  c->in_use = false;
}

/* ---- The pump ----------------------------------------------------------- */

static void tls_set_err(us_tls_conn *c, int err) {
  if (c->err == 0)
    c->err = err;
}

static void tls_handshake_done(us_tls_conn *c) {
  c->hs_done = true;
  if (c->role == TLS_CLIENT) {
    us_tls_client_ctx *ctx = c->owner;
    br_ssl_engine_get_session_parameters(c->eng, &ctx->saved);
    ctx->have_saved = true;
    c->resumed = c->offered_resume &&
                 memcmp(c->offered_id, ctx->saved.session_id, sizeof c->offered_id) == 0;
  }
  tls_hs_end(c, true);
  TLS_STAT_INC(c, tls_handshakes);
  if (c->resumed)
    TLS_STAT_INC(c, tls_resumed);
  const char *alpn = br_ssl_engine_get_selected_protocol(c->eng);
  TLS_LOG(c, US_LOG_DEBUG, "tls: %s handshake done: %s%s, sni \"%s\", alpn %s",
          c->role == TLS_SERVER ? "server" : "client", us_tls_suite_name(c),
          c->resumed ? " (resumed)" : "", br_ssl_engine_get_server_name(c->eng), alpn ? alpn : "-");
}

/* The engine reported CLOSED: account for how the session ended, once. */
static void tls_engine_closed(us_tls_conn *c) {
  if (c->closed_seen)
    return;
  c->closed_seen = true;
  int e = br_ssl_engine_last_error(c->eng);
  if (e == BR_ERR_OK) {
    /* A clean closure means both close_notify alerts were exchanged
     * (BearSSL answers the peer's with its own, RFC 5246 7.2.1). */
    TLS_STAT_INC(c, tls_close_notify);
    if (!c->hs_done) {
      tls_hs_end(c, false);
      tls_set_err(c, US_ERR_CONNRESET);
    }
    return;
  }
  c->eng_err = e;
  tls_set_err(c, US_ERR_TLS);
  if (e >= BR_ERR_RECV_FATAL_ALERT && e < BR_ERR_SEND_FATAL_ALERT) {
    TLS_STAT_INC(c, tls_alerts_recv);
    TLS_LOG(c, US_LOG_INFO, "tls: fatal alert received: %s (%d)",
            tls_alert_name((unsigned)(e - BR_ERR_RECV_FATAL_ALERT)), e - BR_ERR_RECV_FATAL_ALERT);
  } else {
    /* Our side ended the session with an error: counted as "alert sent"
     * (BearSSL sends a fatal alert when it can; for some failures it just
     * stops, and the peer then sees the transport close). */
    TLS_STAT_INC(c, tls_alerts_sent);
    if (e >= BR_ERR_SEND_FATAL_ALERT)
      TLS_LOG(c, US_LOG_INFO, "tls: fatal alert sent: %s",
              tls_alert_name((unsigned)(e - BR_ERR_SEND_FATAL_ALERT)));
    else
      TLS_LOG(c, US_LOG_INFO, "tls: %s failed: %s (BearSSL error %d)",
              c->hs_done ? "session" : "handshake", us_tls_strerror(e), e);
  }
  tls_hs_end(c, false);
}

/* The transport ended (TCP FIN) before the engine closed. */
static void tls_transport_eof(us_tls_conn *c) {
  c->transport_eof = true;
  if (!c->hs_done) {
    TLS_LOG(c, US_LOG_DEBUG, "tls: peer closed the connection during the handshake");
    tls_hs_end(c, false);
    tls_set_err(c, US_ERR_CONNRESET);
  } else if (!c->closing) {
    /* RFC 5246 7.2.1: the stream ended without close_notify, so the data
     * may have been truncated: reads say so (US_ERR_CONNRESET) once the
     * data already decrypted is drained. Not a sticky error: the peer may
     * only have half-closed TCP after its request, and we may still
     * answer (docs/HOSTILE.md APP-1). */
    TLS_LOG(c, US_LOG_DEBUG, "tls: peer closed without close_notify");
    TLS_STAT_INC(c, tls_truncated);
    c->truncated = true;
  }
  /* After our own close_notify a bare FIN is the usual answer: clean. */
}

/* Copy what the engine has ready into `flight` and acknowledge it, so the
 * engine can build its next record. true if anything moved. */
static bool tls_flight_collect(us_tls_conn *c) {
  size_t len;
  unsigned char *buf = br_ssl_engine_sendrec_buf(c->eng, &len);
  size_t room = sizeof c->flight - c->flight_len;
  size_t n = len < room ? len : room;
  if (!buf || n == 0)
    return false;
  memcpy(c->flight + c->flight_len, buf, n);
  c->flight_len += n;
  br_ssl_engine_sendrec_ack(c->eng, n);
  return true;
}

/* Hand `flight` to the transport in one send. 1 if bytes left, 0 if the
 * transport took nothing (or there was nothing), -1 on a transport error
 * (set as the sticky error). */
static int tls_flight_push(us_tls_conn *c, us_time_t now) {
  if (c->flight_len == 0)
    return 0;
  long n = c->tr.send(c->tr.ctx, c->flight, c->flight_len, now);
  if (n == US_ERR_AGAIN)
    return 0;
  if (n <= 0) {
    tls_hs_end(c, false);
    tls_set_err(c, n < 0 ? (int)n : US_ERR_IO);
    return -1;
  }
  size_t took = (size_t)n > c->flight_len ? c->flight_len : (size_t)n;
  memmove(c->flight, c->flight + took, c->flight_len - took);
  c->flight_len -= took;
  return 1;
}

static void tls_pump(us_tls_conn *c, us_time_t now) {
  for (int i = 0; i < TLS_PUMP_MAX; i++) {
    unsigned st = br_ssl_engine_current_state(c->eng);
    if (st & BR_SSL_CLOSED) {
      /* The last records (close_notify, an alert) may still be here. */
      if (c->err == 0)
        (void)tls_flight_push(c, now);
      tls_engine_closed(c);
      return;
    }
    if (!c->hs_done && (st & (BR_SSL_SENDAPP | BR_SSL_RECVAPP)))
      tls_handshake_done(c);
    if (c->err != 0)
      return; /* the transport failed: nothing more can move */
    /* Gather the whole flight first; send once the engine has no more. */
    if ((st & BR_SSL_SENDREC) && tls_flight_collect(c))
      continue;
    bool progress = false;
    int pushed = tls_flight_push(c, now);
    if (pushed < 0)
      return;
    progress = pushed > 0;
    if ((st & BR_SSL_RECVREC) && !c->transport_eof) {
      size_t len;
      unsigned char *buf = br_ssl_engine_recvrec_buf(c->eng, &len);
      long n = c->tr.recv(c->tr.ctx, buf, len, now);
      if (n > 0) {
        br_ssl_engine_recvrec_ack(c->eng, (size_t)n > len ? len : (size_t)n);
        progress = true;
      } else if (n == 0) {
        tls_transport_eof(c);
      } else if (n != US_ERR_AGAIN) {
        tls_hs_end(c, false);
        tls_set_err(c, (int)n);
        return;
      }
    }
    if (!progress)
      return;
  }
}

/* ---- Application calls -------------------------------------------------- */

uint32_t us_tls_events(const us_tls_conn *c) {
  if (!c || !c->in_use)
    return 0;
  uint32_t ev = 0;
  unsigned st = br_ssl_engine_current_state(c->eng);
  if (c->hs_done)
    ev |= US_EV_CONNECTED;
  if (st & BR_SSL_RECVAPP)
    ev |= US_EV_READABLE;
  if ((st & BR_SSL_SENDAPP) && !c->closing && c->err == 0)
    ev |= US_EV_WRITABLE;
  if ((st & BR_SSL_CLOSED) || c->transport_eof || c->err)
    ev |= US_EV_READABLE | US_EV_CLOSED;
  if (c->err)
    ev |= US_EV_ERROR;
  return ev;
}

uint32_t us_tls_on_event(us_tls_conn *c, uint32_t sock_events, us_time_t now) {
  if (!c || !c->in_use)
    return 0;
  (void)sock_events; /* both directions are always tried: cheap when idle */
  tls_pump(c, now);
  return us_tls_events(c);
}

bool us_tls_handshake_done(const us_tls_conn *c) { return c && c->in_use && c->hs_done; }

long us_tls_read(us_tls_conn *c, void *buf, size_t cap, us_time_t now) {
  if (!c || !c->in_use || (!buf && cap))
    return US_ERR_INVAL;
  for (int pass = 0; pass < 2; pass++) {
    size_t len;
    unsigned char *p = br_ssl_engine_recvapp_buf(c->eng, &len);
    if (p) {
      if (cap == 0)
        return 0;
      size_t n = len < cap ? len : cap;
      memcpy(buf, p, n);
      br_ssl_engine_recvapp_ack(c->eng, n);
      tls_pump(c, now); /* room again: pull the next record */
      return (long)n;
    }
    if (pass == 0)
      tls_pump(c, now);
  }
  if (c->err)
    return c->err;
  if (br_ssl_engine_current_state(c->eng) & BR_SSL_CLOSED)
    return 0;
  if (c->transport_eof)
    return c->truncated ? US_ERR_CONNRESET : 0;
  return US_ERR_AGAIN;
}

long us_tls_write(us_tls_conn *c, const void *buf, size_t len, us_time_t now) {
  if (!c || !c->in_use || (!buf && len))
    return US_ERR_INVAL;
  if (c->err)
    return c->err;
  if (c->closing)
    return US_ERR_PIPE;
  for (int pass = 0; pass < 2; pass++) {
    size_t room;
    unsigned char *p = br_ssl_engine_sendapp_buf(c->eng, &room);
    if (p) {
      size_t n = len < room ? len : room;
      memcpy(p, buf, n);
      br_ssl_engine_sendapp_ack(c->eng, n);
      /* Like a socket write: what was taken goes out now, as a record. */
      br_ssl_engine_flush(c->eng, 0);
      tls_pump(c, now);
      return (long)n;
    }
    if (pass == 0)
      tls_pump(c, now);
  }
  if (c->err)
    return c->err;
  if (br_ssl_engine_current_state(c->eng) & BR_SSL_CLOSED)
    return US_ERR_PIPE;
  return US_ERR_AGAIN;
}

int us_tls_close(us_tls_conn *c, us_time_t now) {
  if (!c || !c->in_use)
    return US_ERR_INVAL;
  if (!c->closing) {
    c->closing = true;
    if (!(br_ssl_engine_current_state(c->eng) & BR_SSL_CLOSED) && c->err == 0) {
      br_ssl_engine_flush(c->eng, 0);
      br_ssl_engine_close(c->eng); /* queues close_notify (RFC 5246 7.2.1) */
    }
  }
  tls_pump(c, now);
  unsigned st = br_ssl_engine_current_state(c->eng);
  if (c->err)
    return 0;
  /* Out once nothing is left in the engine or in `flight`; the peer's own
   * close_notify is not waited for (most clients just close TCP). */
  if (c->flight_len > 0)
    return US_ERR_AGAIN;
  if (st & BR_SSL_CLOSED)
    return 0;
  return (st & BR_SSL_SENDREC) ? US_ERR_AGAIN : 0;
}

int us_tls_error(const us_tls_conn *c) { return c ? c->err : US_ERR_INVAL; }
int us_tls_engine_error(const us_tls_conn *c) { return c ? c->eng_err : 0; }

const char *us_tls_server_name(const us_tls_conn *c) {
  return c && c->in_use ? br_ssl_engine_get_server_name(c->eng) : "";
}

const char *us_tls_alpn(const us_tls_conn *c) {
  return c && c->in_use && c->hs_done ? br_ssl_engine_get_selected_protocol(c->eng) : NULL;
}

bool us_tls_resumed(const us_tls_conn *c) { return c && c->resumed; }

unsigned us_tls_version(const us_tls_conn *c) {
  return c && c->in_use && c->hs_done ? br_ssl_engine_get_version(c->eng) : 0;
}

us_sock_t us_tls_sock(const us_tls_conn *c) { return c ? c->sock : US_SOCK_INVALID; }
