/*
 * us_tls.h - TLS 1.2 over a ustack TCP socket (BearSSL underneath, hidden).
 *
 * Shaped like the TCP API in us_socket.h: nothing blocks, calls that may
 * emit bytes take `now`, reads and writes return a count or US_ERR_AGAIN,
 * readiness is a bit mask (the US_EV_* bits of us_socket.h), and the first
 * error is sticky.
 *
 * How an application drives a connection:
 *   1. Accept (or connect) a TCP socket, then us_tls_accept() (or
 *      us_tls_connect()) to put a TLS connection on top of it.
 *   2. Each time the stack reports events for that socket, call
 *      us_tls_on_event(conn, events, now). It moves ciphertext between the
 *      socket and the TLS engine (the "pump") and returns the TLS readiness:
 *      US_EV_CONNECTED once the handshake is done, US_EV_READABLE when
 *      us_tls_read() has plaintext (or EOF, or an error), US_EV_WRITABLE when
 *      us_tls_write() would take bytes, US_EV_CLOSED when the TLS session is
 *      over, US_EV_ERROR when a sticky error is set.
 *   3. us_tls_read()/us_tls_write() pump too, so no extra call is needed
 *      after them.
 *   4. us_tls_close() sends close_notify (RFC 5246 7.2.1); when it returns 0
 *      the alert is queued on the TCP socket and the application may
 *      us_tcp_close() the socket and us_tls_conn_free() the connection.
 *      The TLS layer never closes or frees the TCP socket itself.
 *
 * Protocol choices (fixed, not configurable): TLS 1.2 only; forward-secret
 * AEAD suites only (ECDHE_ECDSA / ECDHE_RSA with AES-128/256-GCM or
 * ChaCha20-Poly1305, RFC 5289 and RFC 7905), server preference order; ALPN
 * "http/1.1" (RFC 7301) offered and accepted; SNI (RFC 6066 3) sent by
 * clients and readable on servers; server-side session resumption through an
 * LRU session cache (RFC 5246 7.3), client-side through us_tls_connect's
 * `resume` flag.
 *
 * Sans-IO inputs. The TLS code reads no clock and no OS randomness:
 *  - entropy: every connection is seeded with bytes the caller gives (at
 *    least 32, from getrandom() in the daemon, from a seeded generator in
 *    tests), or, when `entropy` is NULL, with 32 bytes from the stack's
 *    injected random source (us_config.rand);
 *  - time: a client checks certificate validity at `unix_time` (seconds
 *    since 1970, UTC) given to us_tls_connect(). Servers do not check
 *    certificates (no client authentication), so they need no time.
 *
 * Buffers and windows. Each connection owns one BearSSL bidirectional
 * buffer (BR_SSL_BUFSIZE_BIDI, about 33 KB). BearSSL only decrypts a record
 * when the whole record (up to 16384 + 325 bytes) is in its input buffer, and
 * it only asks TCP for more when its buffer has room, so the stack's TCP
 * receive buffer (us_config.tcp_rcvbuf) MUST be at least
 * US_TLS_MIN_TCP_RCVBUF bytes: with a smaller window the peer can never send
 * the rest of a full-size record and the connection stalls.
 *
 * Memory. A context allocates all its connection slots at creation
 * (max_conns of them, about 62 KB each: the engine, its 33 KB buffer, and a
 * 16 KB staging area that gathers a whole flight of records into one TCP
 * send); us_tls_accept/connect take a slot
 * and fail with US_ERR_NOMEM when none is free. Nothing is allocated later.
 *
 * Threading: like the stack, one thread at a time.
 */
#ifndef USTACK_US_TLS_H
#define USTACK_US_TLS_H

#include "us_socket.h"

typedef struct us_tls_server_ctx us_tls_server_ctx;
typedef struct us_tls_client_ctx us_tls_client_ctx;
typedef struct us_tls_conn us_tls_conn;

/* One full TLS record plus header, MAC/tag and padding (RFC 5246 6.2.3). */
#define US_TLS_MAX_RECORD     (16384 + 325)
/* The smallest us_config.tcp_rcvbuf with which TLS cannot stall. */
#define US_TLS_MIN_TCP_RCVBUF (US_TLS_MAX_RECORD + 1024)
/* Entropy bytes a connection needs at least (128 bits are the minimum
 * BearSSL asks for; we ask for 256). */
#define US_TLS_ENTROPY_MIN    32

/* ---- Contexts ----------------------------------------------------------- */

struct us_tls_server_opts {
  /* The certificate chain as PEM text: the server's certificate first,
   * then the intermediates (the root may follow; it is sent as is). */
  const char *cert_pem;
  size_t cert_pem_len;
  /* The private key as PEM text: "PRIVATE KEY" (PKCS#8), "RSA PRIVATE
   * KEY" (PKCS#1) or "EC PRIVATE KEY" (SEC 1). It must match the public key
   * of the first certificate. */
  const char *key_pem;
  size_t key_pem_len;
  /* Names used in error messages only (e.g. the file names); may be NULL. */
  const char *cert_name;
  const char *key_name;
  uint32_t max_conns;             /* connection slots; 0 = 16 */
  uint32_t max_handshakes;        /* handshakes in progress at once; 0 = max_conns */
  uint32_t session_cache_entries; /* LRU resumption cache; 0 = 256, 100 B each */
};

/*
 * Create a server context. Returns 0, or US_ERR_INVAL with ONE line in
 * `err` saying what is wrong (no certificate in the PEM, a malformed
 * certificate or key, an unsupported key type, a key that does not match
 * the certificate), or US_ERR_NOMEM.
 */
int us_tls_server_ctx_create(us_tls_server_ctx **out, const struct us_tls_server_opts *o, char *err,
                             size_t errlen);
/* Free a context. Every connection from it must have been freed first. */
void us_tls_server_ctx_destroy(us_tls_server_ctx *c);

struct us_tls_client_opts {
  /* Trust anchors: one or more CA certificates as PEM text. */
  const char *ca_pem;
  size_t ca_pem_len;
  const char *ca_name; /* for error messages; may be NULL */
  uint32_t max_conns;  /* 0 = 4 */
};
int us_tls_client_ctx_create(us_tls_client_ctx **out, const struct us_tls_client_opts *o, char *err,
                             size_t errlen);
void us_tls_client_ctx_destroy(us_tls_client_ctx *c);

/* ---- Connections -------------------------------------------------------- */

/*
 * Where ciphertext goes: the seam between the TLS pump and TCP. Over a
 * socket (us_tls_accept/us_tls_connect) these are us_tcp_send/us_tcp_recv;
 * unit tests plug in an in-memory pipe.
 *   send: take up to `len` bytes; return the count (> 0), US_ERR_AGAIN when
 *         nothing fits now, or another negative us_err (fatal).
 *   recv: give up to `cap` bytes; return the count (> 0), 0 at end of
 *         stream, US_ERR_AGAIN when nothing is there, or a negative us_err.
 */
struct us_tls_transport {
  long (*send)(void *ctx, const void *buf, size_t len, us_time_t now);
  long (*recv)(void *ctx, void *buf, size_t cap, us_time_t now);
  void *ctx;
};

/*
 * Start the server side of TLS on an accepted TCP socket `sock` of stack
 * `s`. `entropy` (>= US_TLS_ENTROPY_MIN bytes) or NULL (drawn from the
 * stack's random source). Returns 0 and *out, or US_ERR_NOMEM (no free slot
 * or the handshake cap is reached: counted in tls_handshake_limited),
 * US_ERR_INVAL. Nothing is sent yet: the client speaks first.
 */
int us_tls_accept(us_tls_server_ctx *c, us_stack *s, us_sock_t sock, const void *entropy,
                  size_t entropy_len, us_tls_conn **out);

/*
 * Start the client side of TLS on a TCP socket (connected or still
 * connecting). `server_name` is sent as SNI and checked against the
 * server's certificate (a DNS name; NULL or "" = no name check, which is
 * only safe when the anchors are dedicated to one server). `unix_time` is
 * the time for certificate validity checks. `resume`: offer the session
 * saved from this context's last completed handshake.
 */
int us_tls_connect(us_tls_client_ctx *c, us_stack *s, us_sock_t sock, const char *server_name,
                   int64_t unix_time, bool resume, const void *entropy, size_t entropy_len,
                   us_tls_conn **out);

/*
 * The same two over any transport (`tr` is copied). `s` may be NULL: then
 * nothing is counted or logged and `entropy` is mandatory.
 */
int us_tls_accept_transport(us_tls_server_ctx *c, us_stack *s, const struct us_tls_transport *tr,
                            const void *entropy, size_t entropy_len, us_tls_conn **out);
int us_tls_connect_transport(us_tls_client_ctx *c, us_stack *s, const struct us_tls_transport *tr,
                             const char *server_name, int64_t unix_time, bool resume,
                             const void *entropy, size_t entropy_len, us_tls_conn **out);

/* Give the slot back. Does not touch the TCP socket. NULL is a no-op. */
void us_tls_conn_free(us_tls_conn *conn);

/*
 * The socket had events (`sock_events`, informational: the pump always
 * tries both directions). Pumps and returns us_tls_events().
 */
uint32_t us_tls_on_event(us_tls_conn *conn, uint32_t sock_events, us_time_t now);

/* Current TLS readiness: US_EV_CONNECTED/READABLE/WRITABLE/CLOSED/ERROR. */
uint32_t us_tls_events(const us_tls_conn *conn);

bool us_tls_handshake_done(const us_tls_conn *conn);

/*
 * Copy up to `cap` bytes of plaintext. Returns the count, 0 after the
 * peer's close_notify (all data read), US_ERR_AGAIN when nothing is there
 * yet (also during the handshake), or the sticky error. When the transport
 * ended without close_notify (RFC 5246 7.2.1: possible truncation), the
 * data already received is returned first, then US_ERR_CONNRESET; this is
 * not a sticky error, writing still works (the peer may have half-closed
 * TCP after its request and still read the answer).
 */
long us_tls_read(us_tls_conn *conn, void *buf, size_t cap, us_time_t now);

/*
 * Encrypt up to `len` bytes. Returns the count taken (maybe less than
 * `len`; at most one record's worth), US_ERR_AGAIN during the handshake or
 * while the engine's output buffer is full, US_ERR_PIPE after us_tls_close,
 * or the sticky error. What was taken is flushed as a record at once.
 */
long us_tls_write(us_tls_conn *conn, const void *buf, size_t len, us_time_t now);

/*
 * Send close_notify (once) and push it to the transport. Returns 0 when the
 * alert is out (or the session is already over), US_ERR_AGAIN while it is
 * still in the engine (call again on the next event). After this, reads
 * still deliver what the peer sent before its own close_notify.
 */
int us_tls_close(us_tls_conn *conn, us_time_t now);

/*
 * Sticky error: 0, or the us_err that ended the connection: US_ERR_TLS (a
 * TLS failure: see us_tls_engine_error), US_ERR_CONNRESET (the transport
 * ended during the handshake), or the transport's own error.
 */
int us_tls_error(const us_tls_conn *conn);
/* BearSSL's error code (BR_ERR_*; 256+alert received, 512+alert sent). */
int us_tls_engine_error(const us_tls_conn *conn);
/* A short text for a BR_ERR_* code: "bad_certificate alert received", ... */
const char *us_tls_strerror(int engine_err);

/* Details of the session; valid after the handshake. */
const char *us_tls_server_name(const us_tls_conn *conn); /* SNI; "" if none */
const char *us_tls_alpn(const us_tls_conn *conn);        /* NULL if none */
bool us_tls_resumed(const us_tls_conn *conn);
unsigned us_tls_version(const us_tls_conn *conn);       /* 0x0303 = TLS 1.2 */
const char *us_tls_suite_name(const us_tls_conn *conn); /* IANA name */
us_sock_t us_tls_sock(const us_tls_conn *conn);         /* INVALID for transports */

#endif
