/*
 * tcp_conn.c - one connection of ustackd's TCP services and client (see
 * tcp_conn.h): read, write, generate, hash, and the line logged at its end.
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
#include "tcp_conn.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream.h"

static const char *const kind_name[] = { "tcp-echo",   "tcp-discard", "tcp-chargen",
                                         "tcp-source", "tcp-sink",    "client" };

const char *tcp_kind_name(enum tcp_kind k) { return kind_name[k]; }

#define TCP_PENDING_MAX 16384

/* RFC 864's stream: lines of 72 printable characters and CR LF, each line
 * starting one character further along the 95-character cycle, so the
 * stream repeats every 95 lines. It is built once, one period plus one
 * pending buffer long, and a connection copies from its offset in it. */
#define CHARGEN_LINE   74
#define CHARGEN_PERIOD (95 * CHARGEN_LINE)
static uint8_t chargen_pattern[CHARGEN_PERIOD + TCP_PENDING_MAX];

void tcp_chargen_init(void) {
  static bool built;
  if (built)
    return;
  built = true;
  for (size_t n = 0; n < sizeof chargen_pattern; n++) {
    size_t line = n / CHARGEN_LINE, col = n % CHARGEN_LINE;
    if (col < 72)
      chargen_pattern[n] = (uint8_t)(' ' + (line + col) % 95);
    else
      chargen_pattern[n] = col == 72 ? '\r' : '\n';
  }
}

static void log_addr(char buf[US_ENDPOINT_STRLEN], us_addr_t a, uint16_t p) {
  us_endpoint_format(us_endpoint(a, p), buf, US_ENDPOINT_STRLEN);
}

struct tcp_conn *tcp_conn_new(us_stack *s, enum tcp_kind k, us_sock_t sock,
                              const struct tcp_svc_settings *set, struct tcp_conn_list *list) {
  struct tcp_conn *c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  c->h.on_event = tcp_conn_on_event;
  c->kind = k;
  c->set = set;
  c->list = list;
  c->sock = sock;
  c->hashed = k == TK_SINK || k == TK_SOURCE || k == TK_CLIENT;
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
  us_endpoint_t peer = { 0 };
  us_tcp_addrs(s, sock, NULL, &peer);
  c->peer = peer.addr;
  c->pport = peer.port;
  us_sock_set_user(s, sock, c);
  c->next = list->head;
  c->prev = NULL;
  if (list->head)
    list->head->prev = c;
  list->head = c;
  return c;
}

static void conn_free(struct tcp_conn *c) {
  if (c->prev)
    c->prev->next = c->next;
  else
    c->list->head = c->next;
  if (c->next)
    c->next->prev = c->prev;
  free(c->sha);
  free(c->pending);
  free(c);
}

/* The pending buffer, allocated on first use; NULL when out of memory. */
static uint8_t *pending_buf(struct tcp_conn *c) {
  if (!c->pending)
    c->pending = malloc(TCP_PENDING_MAX);
  return c->pending;
}

static void digest_hex(struct us_sha256 *sh, char hex[65]) {
  uint8_t d[32];
  us_sha256_final(sh, d);
  us_sha256_hex(d, hex);
}

void tcp_conn_finish(us_stack *s, struct tcp_conn *c, int err, us_time_t now) {
  char peer[US_ENDPOINT_STRLEN], in_hex[65], out_hex[65];
  log_addr(peer, c->peer, c->pport);
  in_hex[0] = out_hex[0] = '\0';
  if (c->hashed) {
    digest_hex(&c->sha[0], in_hex);
    digest_hex(&c->sha[1], out_hex);
  }
  if (err)
    fprintf(stderr, "ustackd: %s: %s: error %s after %" PRIu64 " bytes in, %" PRIu64 " out\n",
            kind_name[c->kind], peer, us_strerror(err), c->bytes_in, c->bytes_out);
  if (c->kind == TK_SINK)
    fprintf(stderr, "ustackd: tcp-sink: %s: %" PRIu64 " bytes sha256 %s\n", peer, c->bytes_in,
            in_hex);
  if (c->kind == TK_SOURCE)
    fprintf(stderr, "ustackd: tcp-source: %s: %" PRIu64 " bytes sha256 %s\n", peer, c->bytes_out,
            out_hex);
  if (c->kind == TK_CLIENT) {
    fprintf(stderr,
            "ustackd: client: %s: sent %" PRIu64 " bytes sha256 %s, received %" PRIu64
            " bytes sha256 %s%s\n",
            peer, c->bytes_out, out_hex, c->bytes_in, in_hex, err ? " (failed)" : "");
    c->list->finished = true;
    c->list->status = err ? 1 : 0;
  }
  if (err)
    us_tcp_abort(s, c->sock, now);
  else
    us_tcp_close(s, c->sock, now);
  conn_free(c);
}

/* Send from the pending buffer; true when it is empty. */
static bool flush_pending(us_stack *s, struct tcp_conn *c, us_time_t now, int *err) {
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
static int generate(struct tcp_conn *c) {
  if (c->pend_len > 0)
    return 0;
  if (!pending_buf(c))
    return US_ERR_NOMEM;
  if (c->kind == TK_CHARGEN) {
    memcpy(c->pending, chargen_pattern + c->chargen_pos, TCP_PENDING_MAX);
    c->chargen_pos = (uint32_t)((c->chargen_pos + TCP_PENDING_MAX) % CHARGEN_PERIOD);
    c->pend_len = TCP_PENDING_MAX;
    return 0;
  }
  uint64_t left = c->out_target - c->bytes_out;
  size_t n = left < TCP_PENDING_MAX ? (size_t)left : TCP_PENDING_MAX;
  us_stream_fill(c->set->seed, c->bytes_out, c->pending, n);
  c->pend_len = n;
  return 0;
}

static bool wants_output(const struct tcp_conn *c) {
  switch (c->kind) {
  case TK_CHARGEN:
    return !c->shut;
  case TK_SOURCE:
  case TK_CLIENT:
    return c->bytes_out < c->out_target;
  default:
    return false;
  }
}

/* Read everything available; echo keeps it pending for sending. */
static int read_input(us_stack *s, struct tcp_conn *c, us_time_t now) {
  uint8_t buf[16384];
  for (;;) {
    if (c->kind == TK_ECHO && c->pend_len > 0)
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
    if (c->kind == TK_ECHO) {
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

void tcp_conn_on_event(struct svc_handler *self, us_stack *s, us_sock_t sock, uint32_t ev,
                       us_time_t now) {
  struct tcp_conn *c = (struct tcp_conn *)self;
  int err = us_sock_error(s, sock);
  if (err) {
    tcp_conn_finish(s, c, err, now);
    return;
  }
  if (!(ev & US_EV_CONNECTED) && c->kind == TK_CLIENT && c->bytes_out == 0 &&
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
  if (!err && c->kind == TK_ECHO && c->pend_len == 0 && !c->eof_seen)
    err = read_input(s, c, now); /* pending drained: read what waited */
  if (err) {
    tcp_conn_finish(s, c, err, now);
    return;
  }
  bool out_done = c->pend_len == 0 && !wants_output(c);
  /* The source and the client close first once everything is queued. */
  if ((c->kind == TK_SOURCE || c->kind == TK_CLIENT) && out_done && !c->shut) {
    us_tcp_shutdown(s, c->sock, now);
    c->shut = true;
  }
  bool peer_done = c->eof_seen;
  if (c->kind == TK_CHARGEN && peer_done) {
    tcp_conn_finish(s, c, 0, now);
    return;
  }
  if (peer_done && out_done)
    tcp_conn_finish(s, c, 0, now);
}

void tcp_conn_close_all(us_stack *s, struct tcp_conn_list *list, us_time_t now) {
  while (list->head) {
    struct tcp_conn *c = list->head;
    us_tcp_close(s, c->sock, now);
    conn_free(c);
  }
}
