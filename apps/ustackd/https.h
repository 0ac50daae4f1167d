/*
 * https.h - ustackd's HTTPS service: HTTP/1.1 over us_tls over ustack TCP.
 *
 * Serves GET and HEAD of the files under a root directory (Content-Type by
 * extension, Content-Length, keep-alive; large files streamed from disk in
 * 16 KB pieces, never loaded whole), plus two live pages:
 *   /status       the stack on one HTML page (connections, counters, uptime)
 *   /status.json  the same data as JSON
 * Requests are parsed by Debian's libhttp-parser (http_parser.h).
 *
 * Limits: request header bytes, handshake timeout, idle timeout, connection
 * count, handshakes in progress. Connections beyond the two caps wait in
 * the TCP accept queue until a slot frees (they are not refused). A request
 * that cannot be parsed gets 400 and the connection is closed; a path that
 * leaves the root gets 403.
 *
 * Plugging in (svc.h): either call https_service_start() yourself and
 * register https_service_poll() with svc_add_poll(), or add the four
 * svc_desc rows below to ustackd's services table; they give the options
 *   --https PORT --cert FILE --key FILE --root DIR
 * (--cert, --key and --root are required with --https).
 */
#ifndef USTACKD_HTTPS_H
#define USTACKD_HTTPS_H

#include <stdint.h>

#include "svc.h"

struct https_opts {
  uint16_t port;              /* listening port (443) */
  const char *cert_file;      /* PEM chain, leaf first */
  const char *key_file;       /* PEM private key (RSA or EC) */
  const char *root_dir;       /* files are served from here */
  uint32_t max_conns;         /* 0 = 128 (about 64 KB each) */
  uint32_t max_handshakes;    /* 0 = max_conns / 2 */
  uint32_t max_header_bytes;  /* request line + headers; 0 = 8192 */
  us_time_t handshake_timeout;/* 0 = 10 s */
  us_time_t idle_timeout;     /* between requests; 0 = 30 s */
};

struct https_service;

/*
 * Read the certificate and key files, open the listener on o->port and
 * start serving. Returns 0 and *out, or a negative us_err with ONE line in
 * `err` (a missing/unreadable/malformed/mismatched file, a root that is not
 * a directory, the port in use, a TCP receive buffer too small for a TLS
 * record). The caller registers https_service_poll(*out) with svc_add_poll.
 */
int https_service_start(us_stack *s, const struct https_opts *o, us_time_t now,
                        struct https_service **out, char *err, size_t errlen);

/* Timeouts (handshake, idle, closing); returns the next deadline.
 * Signature of svc_poll_fn; ctx is the struct https_service. */
us_time_t https_service_poll(void *ctx, us_stack *s, us_time_t now);

/* Close the listener and every connection; free the service. */
void https_service_stop(struct https_service *svc, us_stack *s, us_time_t now);

/* The daemon's options: --https PORT, --cert FILE, --key FILE, --root DIR. */
extern const struct svc_desc svc_https;
extern const struct svc_desc svc_https_cert;
extern const struct svc_desc svc_https_key;
extern const struct svc_desc svc_https_root;

#endif
