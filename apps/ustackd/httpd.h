/*
 * httpd.h - ustackd's HTTP/1.1 file server, shared by --http (plain TCP)
 * and --https (TLS). The transport is the only difference: a struct
 * httpd_transport of function pointers (https.c: us_tls over the socket;
 * http_plain.c: the socket itself).
 *
 * Serves GET and HEAD of the files under a root directory (Content-Type by
 * extension, Content-Length, Last-Modified, ETag, conditional requests,
 * single byte ranges, keep-alive; files streamed from disk 16 KB at a time)
 * plus /status and /status.json. docs/HTTPS.md describes the behaviour.
 *
 * The pieces, each in its own file:
 *   httpd_service.c  listener, connection slots, per-source limit,
 *                    deadlines that shrink as slots fill, eviction
 *   httpd_conn.c     one connection's life: read, parse, answer, close
 *   httpd_request.c  libhttp-parser callbacks: the request head kept
 *   httpd_route.c    which answer a request gets (status pages, files)
 *   httpd_files.c    URL path -> file under the root, validators, types
 *   httpd_respond.c  status line, header lines, error pages, sbuf
 *   httpd_status.c   /status and /status.json
 *   httpd_opts.c     the command-line options both transports share
 *   http_decide.c    the pure decision rules (unit-tested)
 */
#ifndef USTACKD_HTTPD_H
#define USTACKD_HTTPD_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include <http_parser.h>

#include "http_decide.h"
#include "svc.h"

#define HTTPD_CHUNK       16384     /* file bytes per write: one TLS record */
#define HTTPD_RBUF        4096      /* request bytes read per call */
#define HTTPD_URL_MAX     8192      /* request-target bytes; more is 414 */
#define HTTPD_FIELD_MAX   32        /* header names we look for are shorter */
#define HTTPD_MAX_CONNS   4096      /* --http-max-conns: ~30 KB a slot, +62 KB with TLS */
#define HTTPD_CLOSE_GRACE US_SEC(5) /* for our end (close_notify, FIN) to leave */
#define HTTPD_LINGER      US_SEC(2) /* for the client to close its end */

enum httpd_ctr {
#define X(name, desc) HTTPD_##name,
#include "httpd_counters.def"
#undef X
  HTTPD_NCTR
};
const char *httpd_ctr_name(enum httpd_ctr c);
const char *httpd_ctr_desc(enum httpd_ctr c);

struct httpd_opts {
  uint16_t port;
  const char *root_dir;
  uint32_t max_conns;          /* connection slots; 0 = 128 */
  uint32_t per_source;         /* open connections per source address;
                                  0 = max_conns / 2, UINT32_MAX = no limit */
  uint32_t max_header_bytes;   /* request head; 0 = 8192 */
  us_time_t handshake_timeout; /* TLS handshake; 0 = 10 s */
  us_time_t header_timeout;    /* head complete after its first byte; 0 = 10 s */
  us_time_t request_timeout;   /* whole request after its first byte; 0 = 30 s */
  us_time_t idle_timeout;      /* keep-alive wait, and response without progress; 0 = 30 s */
  bool status_clients;         /* /status shows client addresses */
};

struct sbuf {
  char *p;
  size_t len, cap;
  bool oom;
};

enum hc_state {
  HC_FREE = 0,
  HC_HANDSHAKE, /* transport not ready (TLS handshake) */
  HC_REQUEST,   /* reading a request (or idle between requests) */
  HC_RESPONSE,  /* writing a response */
  HC_CLOSING,   /* our side's end is being sent (close_notify, FIN) */
  HC_LINGER     /* reading and discarding until the client closes */
};

struct httpd;
struct hconn;

/*
 * A transport. Every function gets the connection; c->tconn is the
 * transport's own per-connection object. read and write follow the socket
 * API: a count, 0 at end of stream (read), US_ERR_AGAIN, or an error.
 */
struct httpd_transport {
  const char *name; /* "http" or "https": messages and /status */
  void *ctx;
  /* Take the accepted socket c->sock. 0, or an error (the connection is
   * refused and counted). */
  int (*open)(void *ctx, struct hconn *c, us_time_t now);
  void (*on_event)(struct hconn *c, uint32_t events, us_time_t now);
  bool (*ready)(const struct hconn *c); /* request bytes can flow */
  bool (*dead)(const struct hconn *c);  /* failed or closed before ready */
  long (*read)(struct hconn *c, void *buf, size_t cap, us_time_t now);
  long (*write)(struct hconn *c, const void *buf, size_t len, us_time_t now);
  int (*shutdown)(struct hconn *c, us_time_t now); /* 0 once our end is queued */
  void (*release)(struct hconn *c);
  const char *(*describe)(const struct hconn *c); /* e.g. the TLS suite */
  void (*ctx_free)(void *ctx);
};

struct hconn {
  struct svc_handler h; /* first: found through the socket's user pointer */
  struct httpd *svc;
  enum hc_state st;
  us_sock_t sock;
  void *tconn;
  us_addr_t peer;
  uint16_t pport;
  uint32_t act_idx; /* index in svc->act */
  us_time_t accepted_at;
  us_time_t phase_at; /* start of what the current deadline measures */
  us_time_t req_at;   /* first byte of the current request */
  bool req_started;   /* bytes of a request have arrived */
  bool heard;         /* the client has sent bytes (its ClientHello) */

  /* Request (httpd_request.c). */
  http_parser parser;
  struct http_req req;
  char url[HTTPD_URL_MAX];
  size_t url_len;
  char field[HTTPD_FIELD_MAX];
  size_t field_len;
  bool field_long, in_value;
  struct http_val *cur; /* value being collected, or NULL */
  bool cur_is_host;
  size_t hdr_bytes;
  bool url_too_long, hdr_too_large, head_complete, msg_complete, keep_alive;
  int early; /* status decided when the head completed, or 0 */
  uint8_t rbuf[HTTPD_RBUF];
  size_t rlen, roff;
  uint64_t requests;

  /* Response: `out` (head, small bodies), then the file from fd. */
  struct sbuf out;
  size_t out_off;
  int fd;
  uint64_t file_off, file_left;
  uint8_t chunk[HTTPD_CHUNK];
  size_t chunk_len, chunk_off;
  bool close_after;
};

struct httpd {
  struct svc_handler h; /* the listener's handler */
  us_stack *s;
  us_sock_t lsock;
  struct httpd_transport tr;
  struct httpd_opts o;
  uint32_t max_handshakes;
  char root[PATH_MAX];
  size_t root_len;
  struct hconn *conns;
  uint32_t nconns, active;
  struct hconn **act; /* the `active` connections in use, in no order */
  us_time_t started;
  uint64_t ctr[HTTPD_NCTR];
  int64_t date_s;   /* the second `date` was formatted for */
  char date[32];    /* IMF-fixdate of date_s, for the Date header */
  bool want_accept; /* a slot was freed: look at the accept queue again */
  bool accepting;   /* httpd_accept_some is running (no re-entry) */
};

#define HTTPD_INC(svc, name) ((svc)->ctr[HTTPD_##name]++)

/* httpd_service.c */
int httpd_start(us_stack *s, const struct httpd_opts *o, const struct httpd_transport *tr,
                us_time_t now, struct httpd **out, char *err, size_t errlen);
us_time_t httpd_poll(void *ctx, us_stack *s, us_time_t now); /* a svc_poll_fn */
void httpd_stop(struct httpd *svc, us_stack *s, us_time_t now);
void httpd_accept_some(struct httpd *svc, us_time_t now);
void httpd_print_counters(const struct httpd *svc);

/*
 * The settings every --http and --https port shares (the svc_group
 * httpd_group; httpd_opts.c): the options of httpd_opts.c, the TLS files
 * of https.c, and how many ports of each kind were given.
 */
struct httpd_settings {
  struct httpd_opts o; /* port unset */
  unsigned services;   /* --http and --https given */
  unsigned https;      /* --https given */
  const char *cert_file, *key_file;
};
extern const struct svc_group httpd_group;

/* One --http or --https PORT service (the svc_desc state of both). */
struct httpd_instance {
  uint16_t port;
  struct httpd *svc;
};
/* svc_desc parse: the port, counted in the shared httpd_settings. */
int httpd_instance_parse(const char *arg, void *shared, void **state, char *err, size_t errlen);
/* Start the server with transport `tr` and register its timers. On
 * failure the transport context is freed (tr->ctx_free). 0 or -1. */
int httpd_instance_start(struct httpd_instance *inst, us_stack *s, const struct httpd_opts *o,
                         const struct httpd_transport *tr, us_time_t now, char *err, size_t errlen);
/* svc_desc stop: counters printed, server stopped, state freed. */
void httpd_instance_stop(void *state, void *shared, us_stack *s, us_time_t now);

/* httpd_conn.c */
void hconn_init(struct hconn *c, struct httpd *svc, us_sock_t sock, us_addr_t peer, uint16_t pport,
                us_time_t now);
void hconn_run(struct hconn *c, us_time_t now);
void hconn_on_event(struct svc_handler *self, us_stack *s, us_sock_t sock, uint32_t events,
                    us_time_t now);
void hconn_free(struct hconn *c, us_time_t now, bool abort);
void hconn_begin_close(struct hconn *c, us_time_t now);
bool hconn_idle(const struct hconn *c); /* between requests, nothing pending */

/* httpd_request.c */
void httpd_request_reset(struct hconn *c);
/* Feed rbuf to the parser. Returns 1 when a response is ready in c->out,
 * 0 when more bytes are needed. */
int httpd_request_parse(struct hconn *c, us_time_t now);

/* httpd_route.c: build the answer to the parsed request into c->out/fd. */
void httpd_route(struct hconn *c, us_time_t now);

/* httpd_files.c */
int httpd_resolve(const struct httpd *svc, const char *path, size_t plen, int *fd,
                  struct http_file *meta, char *real, char *loc, size_t loclen);
const char *httpd_content_type(const char *path);
void httpd_serve_file(struct hconn *c, int fd, const struct http_file *meta, const char *real);

/* httpd_respond.c */
void sb_grow(struct sbuf *b, size_t need);
void sb_add(struct sbuf *b, const char *s, size_t n);
void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_str(struct sbuf *b, const char *s);
void sb_u64(struct sbuf *b, uint64_t v);
void sb_free(struct sbuf *b);
void sb_html(struct sbuf *b, const char *s);
void sb_json(struct sbuf *b, const char *s);
/* "10.0.0.2:443", "[fd00::2]:443" (RFC 5952 6), "*:443" for a listener. */
const char *endpoint_str(us_addr_t a, uint16_t port, char buf[US_ENDPOINT_STRLEN]);
const char *httpd_reason(int code);
void httpd_head(struct hconn *c, int code, const char *type, uint64_t length, const char *extra);
void httpd_error(struct hconn *c, int code, bool close);
void httpd_body(struct hconn *c, const char *type, const struct sbuf *body, const char *extra);

/* httpd_status.c */
void httpd_status_build(struct httpd *svc, us_time_t now, bool json, struct sbuf *b);

/* httpd_opts.c: the shared options, as the command line set them. */
void httpd_opts_fill(struct httpd_opts *o, const struct httpd_settings *hs, uint16_t port);
/* Zero fields become the documented defaults. */
void httpd_opts_defaults(struct httpd_opts *o);
extern const struct svc_desc svc_http_max_conns, svc_http_per_source, svc_http_header_timeout,
    svc_http_request_timeout, svc_http_idle_timeout, svc_http_status_clients;
/* --root DIR is shared too. */
extern const struct svc_desc svc_http_root;

#endif
