/*
 * services_tcp.c - TCP services over the public socket API.
 *
 * Each connection is a struct conn whose first member is the svc_handler
 * (svc.h), set as the socket's user pointer. Handlers are level-driven:
 * on any event a connection does as much as it can (read until AGAIN,
 * write until AGAIN) and keeps at most one buffer of pending output, so a
 * slow reader on the other side never makes the service read more than it
 * can send (back-pressure instead of unbounded memory).
 *
 * The source service and the client close first, so ustack's side walks
 * FIN-WAIT-1, FIN-WAIT-2 and TIME-WAIT; the sink waits for the peer's FIN.
 *
 * Only the sink, the source and the client hash what they move (SHA-256,
 * logged at the end, to prove every byte arrived). Echo, discard and
 * chargen are what users and scripts/bench.sh measure the stack with, so
 * they do no per-byte work beyond the copy the socket API needs. The
 * pending buffer is allocated on a connection's first output, so an idle
 * connection costs only its small struct (docs/PERFORMANCE.md).
 */
#include "services_tcp.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sha256.h"
#include "stream.h"
#include "svc.h"

enum kind { K_ECHO, K_DISCARD, K_CHARGEN, K_SOURCE, K_SINK, K_CLIENT };
static const char *const kind_name[] = { "tcp-echo",   "tcp-discard", "tcp-chargen",
                                         "tcp-source", "tcp-sink",    "client" };

#define PENDING_MAX 16384

/* RFC 864's stream: lines of 72 printable characters and CR LF, each line
 * starting one character further along the 95-character cycle, so the
 * stream repeats every 95 lines. It is built once, one period plus one
 * pending buffer long, and a connection copies from its offset in it. */
#define CHARGEN_LINE   74
#define CHARGEN_PERIOD (95 * CHARGEN_LINE)
static uint8_t chargen_pattern[CHARGEN_PERIOD + PENDING_MAX];

static void chargen_init(void) {
  for (size_t n = 0; n < sizeof chargen_pattern; n++) {
    size_t line = n / CHARGEN_LINE, col = n % CHARGEN_LINE;
    if (col < 72)
      chargen_pattern[n] = (uint8_t)(' ' + (line + col) % 95);
    else
      chargen_pattern[n] = col == 72 ? '\r' : '\n';
  }
}

struct conn {
  struct svc_handler h; /* first: svc_dispatch_events finds us through it */
  enum kind kind;
  us_sock_t sock;
  us_ip4_t peer;
  uint16_t pport;
  uint64_t bytes_in, bytes_out;
  uint64_t out_target;   /* source/client: bytes to send */
  bool eof_seen;         /* the peer's FIN arrived */
  bool shut;             /* we sent our FIN (shutdown/close) */
  bool hashed;           /* sink, source, client: SHA-256 of what moves */
  struct us_sha256 *sha; /* hashed only: [0] what came in, [1] what went out */
  uint8_t *pending;      /* PENDING_MAX bytes once needed, else NULL */
  size_t pend_off, pend_len;
  uint32_t chargen_pos;     /* offset in the RFC 864 period */
  struct conn *next, *prev; /* g.conns: O(1) removal with many connections */
};

struct listener {
  struct svc_handler h;
  enum kind kind;
  us_sock_t sock;
  uint16_t port;
};

static struct {
  struct svc_tcp_opts o;
  struct listener lis[5];
  int nlis;
  struct conn *conns;
  bool client_started, client_done;
  int client_status;
  us_time_t client_at;
} g;

static void conn_on_event(struct svc_handler *self, us_stack *s, us_sock_t sock, uint32_t ev,
                          us_time_t now);

static void log_addr(char buf[24], us_ip4_t a, uint16_t p) {
  snprintf(buf, 24, "%u.%u.%u.%u:%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255, p);
}

static struct conn *conn_new(us_stack *s, enum kind k, us_sock_t sock) {
  struct conn *c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  c->h.on_event = conn_on_event;
  c->kind = k;
  c->sock = sock;
  c->hashed = k == K_SINK || k == K_SOURCE || k == K_CLIENT;
  if (c->hashed) {
    /* Only these kinds hash, so only they carry the state (an idle
     * connection of the others costs this struct alone). */
    c->sha = calloc(2, sizeof *c->sha);
    if (!c->sha) {
      free(c);
      return NULL;
    }
    us_sha256_init(&c->sha[0]);
    us_sha256_init(&c->sha[1]);
  }
  us_tcp_addrs(s, sock, NULL, NULL, &c->peer, &c->pport);
  us_sock_set_user(s, sock, c);
  c->next = g.conns;
  c->prev = NULL;
  if (g.conns)
    g.conns->prev = c;
  g.conns = c;
  return c;
}

static void conn_free(struct conn *c) {
  if (c->prev)
    c->prev->next = c->next;
  else
    g.conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  free(c->sha);
  free(c->pending);
  free(c);
}

/* The pending buffer, allocated on first use; NULL when out of memory. */
static uint8_t *pending_buf(struct conn *c) {
  if (!c->pending)
    c->pending = malloc(PENDING_MAX);
  return c->pending;
}

static void digest_hex(struct us_sha256 *sh, char hex[65]) {
  uint8_t d[32];
  us_sha256_final(sh, d);
  us_sha256_hex(d, hex);
}

/* The connection is over for us: report, close the handle, forget it. */
static void conn_finish(us_stack *s, struct conn *c, int err, us_time_t now) {
  char peer[24], in_hex[65], out_hex[65];
  log_addr(peer, c->peer, c->pport);
  in_hex[0] = out_hex[0] = '\0';
  if (c->hashed) {
    digest_hex(&c->sha[0], in_hex);
    digest_hex(&c->sha[1], out_hex);
  }
  if (err)
    fprintf(stderr, "ustackd: %s: %s: error %s after %" PRIu64 " bytes in, %" PRIu64 " out\n",
            kind_name[c->kind], peer, us_strerror(err), c->bytes_in, c->bytes_out);
  if (c->kind == K_SINK)
    fprintf(stderr, "ustackd: tcp-sink: %s: %" PRIu64 " bytes sha256 %s\n", peer, c->bytes_in,
            in_hex);
  if (c->kind == K_SOURCE)
    fprintf(stderr, "ustackd: tcp-source: %s: %" PRIu64 " bytes sha256 %s\n", peer, c->bytes_out,
            out_hex);
  if (c->kind == K_CLIENT) {
    fprintf(stderr,
            "ustackd: client: %s: sent %" PRIu64 " bytes sha256 %s, received %" PRIu64
            " bytes sha256 %s%s\n",
            peer, c->bytes_out, out_hex, c->bytes_in, in_hex, err ? " (failed)" : "");
    g.client_done = true;
    g.client_status = err ? 1 : 0;
  }
  if (err)
    us_tcp_abort(s, c->sock, now);
  else
    us_tcp_close(s, c->sock, now);
  conn_free(c);
}

/* Send from the pending buffer; true when it is empty. */
static bool flush_pending(us_stack *s, struct conn *c, us_time_t now, int *err) {
  while (c->pend_len > 0) {
    long n = us_tcp_send(s, c->sock, c->pending + c->pend_off, c->pend_len, now);
    if (n == US_ERR_AGAIN)
      return false;
    if (n < 0) {
      *err = (int)n;
      return false;
    }
    if (c->hashed)
      us_sha256_update(&c->sha[1], c->pending + c->pend_off, (size_t)n);
    c->bytes_out += (uint64_t)n;
    c->pend_off += (size_t)n;
    c->pend_len -= (size_t)n;
  }
  c->pend_off = 0;
  return true;
}

/* Fill `pending` from the service's generator (chargen, source, client). */
static int generate(struct conn *c) {
  if (c->pend_len > 0)
    return 0;
  if (!pending_buf(c))
    return US_ERR_NOMEM;
  if (c->kind == K_CHARGEN) {
    memcpy(c->pending, chargen_pattern + c->chargen_pos, PENDING_MAX);
    c->chargen_pos = (uint32_t)((c->chargen_pos + PENDING_MAX) % CHARGEN_PERIOD);
    c->pend_len = PENDING_MAX;
    return 0;
  }
  uint64_t left = c->out_target - c->bytes_out;
  size_t n = left < PENDING_MAX ? (size_t)left : PENDING_MAX;
  us_stream_fill(g.o.seed, c->bytes_out, c->pending, n);
  c->pend_len = n;
  return 0;
}

static bool wants_output(const struct conn *c) {
  switch (c->kind) {
  case K_CHARGEN:
    return !c->shut;
  case K_SOURCE:
  case K_CLIENT:
    return c->bytes_out < c->out_target;
  default:
    return false;
  }
}

/* Read everything available; echo keeps it pending for sending. */
static int read_input(us_stack *s, struct conn *c, us_time_t now) {
  uint8_t buf[16384];
  for (;;) {
    if (c->kind == K_ECHO && c->pend_len > 0)
      return 0; /* back-pressure: send what we have first */
    long n = us_tcp_recv(s, c->sock, buf, sizeof buf, now);
    if (n == US_ERR_AGAIN)
      return 0;
    if (n < 0)
      return (int)n;
    if (n == 0) {
      c->eof_seen = true;
      return 0;
    }
    c->bytes_in += (uint64_t)n;
    if (c->hashed)
      us_sha256_update(&c->sha[0], buf, (size_t)n);
    if (c->kind == K_ECHO) {
      if (!pending_buf(c))
        return US_ERR_NOMEM;
      memcpy(c->pending, buf, (size_t)n);
      c->pend_off = 0;
      c->pend_len = (size_t)n;
      int err = 0;
      flush_pending(s, c, now, &err);
      if (err)
        return err;
    }
  }
}

static void conn_on_event(struct svc_handler *self, us_stack *s, us_sock_t sock, uint32_t ev,
                          us_time_t now) {
  struct conn *c = (struct conn *)self;
  int err = us_sock_error(s, sock);
  if (err) {
    conn_finish(s, c, err, now);
    return;
  }
  if (!(ev & US_EV_CONNECTED) && c->kind == K_CLIENT && c->bytes_out == 0 &&
      !(us_sock_events(s, sock) & US_EV_CONNECTED))
    return; /* still in SYN-SENT */
  err = read_input(s, c, now);
  while (!err) {
    if (!flush_pending(s, c, now, &err))
      break;
    if (!wants_output(c))
      break;
    err = generate(c);
  }
  if (!err && c->kind == K_ECHO && c->pend_len == 0 && !c->eof_seen)
    err = read_input(s, c, now); /* pending drained: read what waited */
  if (err) {
    conn_finish(s, c, err, now);
    return;
  }
  bool out_done = c->pend_len == 0 && !wants_output(c);
  /* The source and the client close first once everything is queued. */
  if ((c->kind == K_SOURCE || c->kind == K_CLIENT) && out_done && !c->shut) {
    us_tcp_shutdown(s, c->sock, now);
    c->shut = true;
  }
  bool peer_done = c->eof_seen;
  if (c->kind == K_CHARGEN && peer_done) {
    conn_finish(s, c, 0, now);
    return;
  }
  if (peer_done && out_done)
    conn_finish(s, c, 0, now);
}

static void listener_on_event(struct svc_handler *self, us_stack *s, us_sock_t sock, uint32_t ev,
                              us_time_t now) {
  struct listener *l = (struct listener *)self;
  for (;;) {
    us_sock_t ns;
    if (us_tcp_accept(s, l->sock, &ns, NULL, NULL) != 0)
      break;
    struct conn *c = conn_new(s, l->kind, ns);
    if (!c) {
      us_tcp_abort(s, ns, now);
      continue;
    }
    if (l->kind == K_SOURCE)
      c->out_target = g.o.source_bytes;
    if (l->kind == K_CHARGEN || l->kind == K_SOURCE)
      us_tcp_setopt(s, ns, US_TCP_NODELAY, 1);
    conn_on_event(&c->h, s, ns, us_sock_events(s, ns), now);
  }
}

static int open_listener(us_stack *s, enum kind k, uint16_t port, char *err, size_t errlen) {
  struct listener *l = &g.lis[g.nlis];
  l->h.on_event = listener_on_event;
  l->kind = k;
  l->port = port;
  int rc = us_tcp_socket(s, &l->sock);
  if (!rc)
    rc = us_tcp_bind(s, l->sock, port);
  if (!rc)
    rc = us_tcp_listen(s, l->sock, 128);
  if (rc) {
    snprintf(err, errlen, "%s: cannot listen on port %u: %s", kind_name[k], port, us_strerror(rc));
    return rc;
  }
  us_sock_set_user(s, l->sock, l);
  g.nlis++;
  return 0;
}

int svc_tcp_start(us_stack *s, const struct svc_tcp_opts *o, us_time_t now, char *err,
                  size_t errlen) {
  memset(&g, 0, sizeof g);
  g.o = *o;
  chargen_init();
  const struct {
    enum kind k;
    uint16_t port;
  } want[] = { { K_ECHO, o->echo },
               { K_DISCARD, o->discard },
               { K_CHARGEN, o->chargen },
               { K_SOURCE, o->source },
               { K_SINK, o->sink } };
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    if (!want[i].port)
      continue;
    int rc = open_listener(s, want[i].k, want[i].port, err, errlen);
    if (rc)
      return rc;
  }
  g.client_at = o->connect_port ? now + o->client_delay : US_TIME_NEVER;
  return 0;
}

static void client_start(us_stack *s, us_time_t now) {
  g.client_started = true;
  us_sock_t sock;
  int rc = us_tcp_socket(s, &sock);
  if (rc) {
    fprintf(stderr, "ustackd: client: cannot create socket: %s\n", us_strerror(rc));
    g.client_done = true;
    g.client_status = 1;
    return;
  }
  struct conn *c = conn_new(s, K_CLIENT, sock);
  if (!c) {
    us_tcp_abort(s, sock, now);
    g.client_done = true;
    g.client_status = 1;
    return;
  }
  c->peer = g.o.connect_addr;
  c->pport = g.o.connect_port;
  c->out_target = g.o.client_send;
  rc = us_tcp_connect(s, sock, g.o.connect_addr, g.o.connect_port, now);
  if (rc != 0 && rc != US_ERR_INPROGRESS) {
    conn_finish(s, c, rc, now);
    return;
  }
  char peer[24];
  log_addr(peer, c->peer, c->pport);
  fprintf(stderr, "ustackd: client: connecting to %s, sending %" PRIu64 " bytes\n", peer,
          c->out_target);
}

us_time_t svc_tcp_poll(us_stack *s, us_time_t now) {
  if (!g.client_started && g.client_at != US_TIME_NEVER) {
    if (now >= g.client_at)
      client_start(s, now);
    else
      return g.client_at;
  }
  return US_TIME_NEVER;
}

bool svc_tcp_client_finished(int *status) {
  if (g.client_done && status)
    *status = g.client_status;
  return g.client_done;
}

void svc_tcp_stop(us_stack *s, us_time_t now) {
  while (g.conns) {
    struct conn *c = g.conns;
    us_tcp_close(s, c->sock, now);
    conn_free(c);
  }
  for (int i = 0; i < g.nlis; i++)
    us_tcp_close(s, g.lis[i].sock, now);
  g.nlis = 0;
}
