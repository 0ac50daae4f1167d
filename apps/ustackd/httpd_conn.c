/*
 * httpd_conn.c - one HTTP connection's life (see httpd.h).
 *
 *   HANDSHAKE -> REQUEST <-> RESPONSE -> CLOSING -> LINGER -> (freed)
 *
 * hconn_run() advances a connection as far as it can on every event: it
 * reads from the transport, feeds the parser, builds a response, and
 * writes it until the transport says US_ERR_AGAIN (the next WRITABLE event
 * resumes). Deadlines are not kept here: httpd_service.c checks them,
 * from `phase_at` (when the current wait began) and `req_at` (the first
 * byte of the current request).
 *
 * Closing (RFC 9112 9.6): after the last response our end is closed first
 * (TLS close_notify, then a TCP FIN), and the connection stays a moment
 * in LINGER reading and discarding whatever the client still sends, so
 * that unread request bytes do not turn our close into a reset that
 * destroys the response before the client has read it.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "httpd.h"

void hconn_init(struct hconn *c, struct httpd *svc, us_sock_t sock, us_addr_t peer, uint16_t pport,
                us_time_t now) {
  memset(&c->parser, 0, sizeof c->parser);
  http_parser_init(&c->parser, HTTP_REQUEST);
  c->parser.data = c;
  httpd_request_reset(c);
  c->h.on_event = hconn_on_event;
  c->svc = svc;
  c->st = HC_HANDSHAKE;
  c->sock = sock;
  c->tconn = NULL;
  c->peer = peer;
  c->pport = pport;
  c->fd = -1;
  c->rlen = c->roff = 0;
  c->out.len = 0;
  c->out_off = 0;
  c->requests = 0;
  c->close_after = false;
  c->req_started = false;
  c->heard = false;
  c->accepted_at = c->phase_at = c->req_at = now;
}

void hconn_free(struct hconn *c, us_time_t now, bool abort) {
  struct httpd *svc = c->svc;
  if (c->fd >= 0)
    close(c->fd);
  c->fd = -1;
  if (c->tconn)
    svc->tr.release(c);
  c->tconn = NULL;
  if (us_sock_valid(c->sock)) {
    us_sock_set_user(svc->s, c->sock, NULL);
    if (abort)
      us_tcp_abort(svc->s, c->sock, now);
    else
      us_tcp_close(svc->s, c->sock, now); /* FIN after what is queued */
  }
  sb_free(&c->out);
  c->sock = US_SOCK_INVALID;
  c->st = HC_FREE;
  /* Out of the active list: the last entry takes this one's place. */
  if (svc->active && svc->act[c->act_idx] == c) {
    struct hconn *last = svc->act[--svc->active];
    svc->act[c->act_idx] = last;
    last->act_idx = c->act_idx;
  }
  svc->want_accept = true;
}

void hconn_begin_close(struct hconn *c, us_time_t now) {
  c->st = HC_CLOSING;
  c->phase_at = now;
  if (c->fd >= 0) {
    close(c->fd);
    c->fd = -1;
  }
}

bool hconn_idle(const struct hconn *c) {
  return c->st == HC_REQUEST && !c->req_started && c->roff >= c->rlen;
}

/* Write what is pending. true when the response is complete. */
static bool hconn_write(struct hconn *c, us_time_t now, bool *failed) {
  struct httpd *svc = c->svc;
  while (c->out_off < c->out.len) {
    long n = svc->tr.write(c, c->out.p + c->out_off, c->out.len - c->out_off, now);
    if (n == US_ERR_AGAIN)
      return false;
    if (n <= 0) {
      *failed = true;
      return false;
    }
    c->out_off += (size_t)n;
    svc->ctr[HTTPD_http_bytes_out] += (uint64_t)n;
    c->phase_at = now; /* progress: the send deadline moves on */
  }
  /* Stream the rest of the file: never more than one chunk in memory. */
  for (unsigned i = 0; i < 1u << 20 && (c->file_left > 0 || c->chunk_off < c->chunk_len); i++) {
    if (c->chunk_off == c->chunk_len) {
      size_t want = c->file_left < HTTPD_CHUNK ? (size_t)c->file_left : HTTPD_CHUNK;
      ssize_t r = pread(c->fd, c->chunk, want, (off_t)c->file_off);
      if (r < 0 && errno == EINTR)
        continue;
      if (r <= 0) {
        /* The file shrank under us: Content-Length cannot be kept, so the
         * only honest end is closing the connection. */
        *failed = true;
        return false;
      }
      c->chunk_len = (size_t)r;
      c->chunk_off = 0;
      c->file_off += (uint64_t)r;
      c->file_left -= (uint64_t)r;
    }
    long n = svc->tr.write(c, c->chunk + c->chunk_off, c->chunk_len - c->chunk_off, now);
    if (n == US_ERR_AGAIN)
      return false;
    if (n <= 0) {
      *failed = true;
      return false;
    }
    c->chunk_off += (size_t)n;
    svc->ctr[HTTPD_http_bytes_out] += (uint64_t)n;
    c->phase_at = now;
  }
  if (c->fd >= 0) {
    close(c->fd);
    c->fd = -1;
  }
  return true;
}

/* Read more request bytes. false: wait (AGAIN) or the connection ended. */
static bool hconn_read(struct hconn *c, us_time_t now) {
  long n = c->svc->tr.read(c, c->rbuf, sizeof c->rbuf, now);
  if (n == US_ERR_AGAIN)
    return false;
  if (n <= 0) { /* the client closed (0), or a transport error */
    if (n == 0)
      hconn_begin_close(c, now);
    else
      hconn_free(c, now, false);
    return true;
  }
  if (!c->req_started) {
    c->req_started = true; /* the header deadline starts now */
    c->req_at = now;
  }
  c->rlen = (size_t)n;
  c->roff = 0;
  return true;
}

/* One step of HC_REQUEST. false when nothing more can happen now. */
static bool step_request(struct hconn *c, us_time_t now) {
  if (c->roff < c->rlen) {
    if (!c->req_started) { /* pipelined bytes already here */
      c->req_started = true;
      c->req_at = now;
    }
    if (httpd_request_parse(c, now)) {
      c->st = HC_RESPONSE;
      c->phase_at = now;
    }
    return true;
  }
  return hconn_read(c, now);
}

/* One step of HC_RESPONSE. false when waiting for the transport. */
static bool step_response(struct hconn *c, us_time_t now) {
  bool failed = false;
  if (!hconn_write(c, now, &failed)) {
    if (failed)
      hconn_free(c, now, false);
    return failed;
  }
  if (c->close_after) {
    hconn_begin_close(c, now);
    return true;
  }
  /* Keep-alive: ready for the next request (maybe already in rbuf). */
  c->st = HC_REQUEST;
  c->out.len = 0;
  c->out_off = 0;
  c->req_started = false;
  c->head_complete = false;
  c->phase_at = now;
  return true;
}

/* Read and drop what the client still sends; free on its EOF. */
static bool step_linger(struct hconn *c, us_time_t now) {
  long n = c->svc->tr.read(c, c->rbuf, sizeof c->rbuf, now);
  if (n == US_ERR_AGAIN)
    return false;
  if (n <= 0) {
    hconn_free(c, now, false);
    return false;
  }
  return true; /* discarded */
}

void hconn_run(struct hconn *c, us_time_t now) {
  struct httpd *svc = c->svc;
  for (int step = 0; step < 10000 && c->st != HC_FREE; step++) {
    bool more = false;
    switch (c->st) {
    case HC_HANDSHAKE:
      if (svc->tr.ready(c)) {
        c->st = HC_REQUEST;
        c->phase_at = now;       /* idle until the first request byte */
        svc->want_accept = true; /* a handshake slot is free */
        more = true;
      } else if (svc->tr.dead(c)) {
        hconn_free(c, now, false);
      }
      break;
    case HC_REQUEST:
      more = step_request(c, now);
      break;
    case HC_RESPONSE:
      more = step_response(c, now);
      break;
    case HC_CLOSING:
      if (svc->tr.shutdown(c, now) == US_ERR_AGAIN)
        break;
      c->st = HC_LINGER;
      c->phase_at = now;
      more = true;
      break;
    case HC_LINGER:
      more = step_linger(c, now);
      break;
    case HC_FREE:
      break;
    }
    if (!more)
      return;
  }
}

void hconn_on_event(struct svc_handler *self, us_stack *s, us_sock_t sock, uint32_t events,
                    us_time_t now) {
  struct hconn *c = (struct hconn *)self;
  (void)s;
  (void)sock;
  if (c->st == HC_FREE)
    return;
  if (events & US_EV_READABLE)
    c->heard = true;
  c->svc->tr.on_event(c, events, now);
  hconn_run(c, now);
  if (c->svc->want_accept)
    httpd_accept_some(c->svc, now);
}
