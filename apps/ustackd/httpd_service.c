/*
 * httpd_service.c - the listener, the connection slots and the deadlines
 * of the HTTP service (see httpd.h).
 *
 * Slots. A fixed array of max_conns connections. A connection waits in the
 * TCP accept queue while every slot is busy; it is not refused. Each
 * source address may hold at most per_source slots: one more is reset at
 * once and counted (http_refused_per_source).
 *
 * Deadlines (RFC 9112 9.5 lets a server close a connection it no longer
 * wants to keep). Each connection has one deadline, from what it is doing:
 *   TLS handshake            handshake_timeout from the accept
 *   waiting for a first request  header_timeout from the end of the handshake
 *   idle between requests    idle_timeout from the end of the last response
 *   reading a request head   header_timeout from the request's first byte
 *   reading a request body   request_timeout from the request's first byte
 *   writing a response       idle_timeout from the last write that moved bytes
 * A client trickling a header line every few seconds (slowloris) still
 * runs out of header_timeout, because the clock starts at the first byte
 * and no later byte moves it.
 *
 * Pressure. While at most half of the slots are in use, these are the
 * configured values. Above that, every wait shrinks linearly with the
 * slots in use, down to an eighth of its value (but not below one second)
 * when all are taken, so slow clients are let go sooner exactly when
 * slots are scarce. And when a connection is waiting in the accept queue
 * and no slot is free, one connection is closed to make room: the one idle
 * longest between requests (after at least one response), else the one
 * that has spent longest on an unfinished handshake, a first request not
 * yet begun, or a request head (but at least HTTPD_EVICT_MIN_AGE, or
 * HTTPD_EVICT_HS_MAX_AGE for a handshake whose client has sent bytes).
 * A connection that is sending a response is never evicted.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "httpd.h"

#define HTTPD_EVICT_MIN_AGE    US_MSEC(250)
#define HTTPD_EVICT_HS_MAX_AGE US_SEC(2) /* a handshake that has heard from its client */
/* While connections wait in the accept queue and none can be taken yet,
 * look again this often (a connection may become old enough to evict). */
#define HTTPD_ACCEPT_RETRY     US_MSEC(50)
#define HTTPD_MIN_WAIT         US_SEC(1)

static const char *const ctr_names[] = {
#define X(name, desc) #name,
#include "httpd_counters.def"
#undef X
};
static const char *const ctr_descs[] = {
#define X(name, desc) desc,
#include "httpd_counters.def"
#undef X
};
const char *httpd_ctr_name(enum httpd_ctr c) { return c < HTTPD_NCTR ? ctr_names[c] : "?"; }
const char *httpd_ctr_desc(enum httpd_ctr c) { return c < HTTPD_NCTR ? ctr_descs[c] : "?"; }

void httpd_print_counters(const struct httpd *svc) {
  for (int i = 0; i < HTTPD_NCTR; i++)
    if (svc->ctr[i])
      fprintf(stderr, "ustackd: counter %s = %llu (%s, %s port %u)\n", ctr_names[i],
              (unsigned long long)svc->ctr[i], ctr_descs[i], svc->tr.name, (unsigned)svc->o.port);
}

/* ---- deadlines ------------------------------------------------------------- */

/* `base`, shrunk as the slots fill (file comment). */
static us_time_t scaled(const struct httpd *svc, us_time_t base) {
  uint32_t n = svc->nconns, half = n / 2;
  if (svc->active <= half || n == half)
    return base;
  us_time_t floor = base / 8 > HTTPD_MIN_WAIT ? base / 8 : HTTPD_MIN_WAIT;
  if (floor >= base)
    return base;
  uint32_t over = svc->active > n ? n - half : svc->active - half;
  return base - (base - floor) * (us_time_t)over / (us_time_t)(n - half);
}

/* The connection's deadline and the counter a timeout goes under. */
static us_time_t conn_deadline(const struct httpd *svc, const struct hconn *c,
                               enum httpd_ctr *why) {
  *why = HTTPD_NCTR;
  switch (c->st) {
  case HC_HANDSHAKE:
    *why = HTTPD_http_handshake_timeouts;
    return c->phase_at + scaled(svc, svc->o.handshake_timeout);
  case HC_REQUEST:
    if (!c->req_started && c->requests == 0) {
      /* A new connection owes its first request head: no keep-alive
       * grace before it (as if its first byte came at the accept). */
      *why = HTTPD_http_header_timeouts;
      return c->phase_at + scaled(svc, svc->o.header_timeout);
    }
    if (!c->req_started) {
      *why = HTTPD_http_idle_timeouts;
      return c->phase_at + scaled(svc, svc->o.idle_timeout);
    }
    if (!c->head_complete) {
      *why = HTTPD_http_header_timeouts;
      return c->req_at + scaled(svc, svc->o.header_timeout);
    }
    *why = HTTPD_http_request_timeouts;
    return c->req_at + scaled(svc, svc->o.request_timeout);
  case HC_RESPONSE:
    *why = HTTPD_http_send_timeouts;
    return c->phase_at + scaled(svc, svc->o.idle_timeout);
  case HC_CLOSING:
    return c->phase_at + HTTPD_CLOSE_GRACE;
  case HC_LINGER:
    return c->phase_at + HTTPD_LINGER;
  case HC_FREE:
    break;
  }
  return US_TIME_NEVER;
}

static void conn_expire(struct httpd *svc, struct hconn *c, enum httpd_ctr why, us_time_t now) {
  if (why < HTTPD_NCTR)
    svc->ctr[why]++;
  switch (c->st) {
  case HC_REQUEST: /* idle or slow request: our end closes cleanly */
    hconn_begin_close(c, now);
    hconn_run(c, now);
    break;
  case HC_LINGER:
    hconn_free(c, now, false);
    break;
  default: /* handshake, a client not reading, a close that never left */
    hconn_free(c, now, true);
    break;
  }
}

us_time_t httpd_poll(void *ctx, us_stack *s, us_time_t now) {
  struct httpd *svc = ctx;
  us_time_t next = US_TIME_NEVER;
  /* Only the connections in use (backwards: an expiry that frees one
   * moves the last entry, already checked, into its place). */
  for (uint32_t i = svc->active; i-- > 0;) {
    struct hconn *c = svc->act[i];
    enum httpd_ctr why;
    us_time_t dl = conn_deadline(svc, c, &why);
    if (now >= dl) {
      conn_expire(svc, c, why, now);
      dl = c->st == HC_FREE ? US_TIME_NEVER : conn_deadline(svc, c, &why);
    }
    if (dl < next)
      next = dl;
  }
  bool waiting = us_sock_valid(svc->lsock) && (us_sock_events(s, svc->lsock) & US_EV_ACCEPT);
  if (svc->want_accept || waiting) {
    httpd_accept_some(svc, now);
    waiting = us_sock_events(s, svc->lsock) & US_EV_ACCEPT;
  }
  if (waiting && next > now + HTTPD_ACCEPT_RETRY)
    next = now + HTTPD_ACCEPT_RETRY;
  return next;
}

/* ---- slots ----------------------------------------------------------------- */

static uint32_t handshaking(const struct httpd *svc) {
  uint32_t n = 0;
  for (uint32_t k = 0; k < svc->active; k++)
    n += svc->act[k]->st == HC_HANDSHAKE;
  return n;
}

static uint32_t from_source(const struct httpd *svc, us_addr_t peer) {
  uint32_t n = 0;
  for (uint32_t k = 0; k < svc->active; k++)
    n += us_addr_eq(svc->act[k]->peer, peer);
  return n;
}

/* The connection to close for a waiting one (file comment), or NULL.
 * `handshakes_only`: the slot is there, the handshake cap is not. */
static struct hconn *evict_candidate(struct httpd *svc, us_time_t now, bool handshakes_only) {
  struct hconn *best = NULL;
  int best_class = 3;
  us_time_t best_since = US_TIME_NEVER;
  for (uint32_t k = 0; k < svc->active; k++) {
    struct hconn *c = svc->act[k];
    int cls;
    us_time_t since;
    if (handshakes_only && c->st != HC_HANDSHAKE)
      continue;
    if (c->st == HC_CLOSING || c->st == HC_LINGER) {
      cls = 0; /* ending anyway */
      since = c->phase_at;
    } else if (hconn_idle(c) && c->requests > 0) {
      cls = 1; /* kept alive after a response */
      since = c->phase_at;
    } else if (c->st == HC_HANDSHAKE) {
      /* A client that has sent nothing gets HTTPD_EVICT_MIN_AGE. One
       * whose ClientHello came is waited for longer: our flight (and its
       * signature) is on its way, and under a burst above the handshake
       * cap the loop's own crypto can take longer than MIN_AGE, so
       * handshakes about to finish were reset for newer ones. */
      cls = 2;
      since = c->phase_at;
      if (now - since < (c->heard ? HTTPD_EVICT_HS_MAX_AGE : HTTPD_EVICT_MIN_AGE))
        continue;
    } else if (c->st == HC_REQUEST && !c->head_complete) {
      /* Not yet a first request, or a head still arriving: a new client
       * gets HTTPD_EVICT_MIN_AGE to send its request. */
      cls = 2;
      since = !c->req_started ? c->phase_at : c->req_at;
      if (now - since < HTTPD_EVICT_MIN_AGE)
        continue;
    } else {
      continue; /* answering: never evicted */
    }
    if (cls < best_class || (cls == best_class && since < best_since)) {
      best = c;
      best_class = cls;
      best_since = since;
    }
  }
  return best;
}

static struct hconn *free_slot(struct httpd *svc) {
  for (uint32_t k = 0; k < svc->nconns; k++)
    if (svc->conns[k].st == HC_FREE)
      return &svc->conns[k];
  return NULL;
}

/*
 * Take connections from the listener's accept queue while a slot (and, for
 * TLS, a handshake slot) is free, evicting one when none is (file
 * comment). Handshakes are the expensive part (one signature each), so
 * their cap bounds the CPU a flood of ClientHellos can take.
 */
void httpd_accept_some(struct httpd *svc, us_time_t now) {
  us_stack *s = svc->s;
  if (svc->accepting || !us_sock_valid(svc->lsock))
    return;
  svc->accepting = true;
  for (int i = 0; i < 1024; i++) {
    svc->want_accept = false;
    if (!(us_sock_events(s, svc->lsock) & US_EV_ACCEPT))
      break;
    struct hconn *c = free_slot(svc);
    bool hs_full = handshaking(svc) >= svc->max_handshakes;
    if (!c || hs_full) {
      struct hconn *v = evict_candidate(svc, now, c != NULL);
      if (!v)
        break;
      HTTPD_INC(svc, http_evicted);
      if (v->st == HC_REQUEST && v->tconn)
        (void)svc->tr.shutdown(v, now); /* best effort: close_notify */
      hconn_free(v, now, v->st == HC_HANDSHAKE);
      continue;
    }
    us_sock_t cs;
    us_endpoint_t peer;
    if (us_tcp_accept(s, svc->lsock, &cs, &peer) != 0)
      break;
    if (from_source(svc, peer.addr) >= svc->o.per_source) {
      HTTPD_INC(svc, http_refused_per_source);
      us_tcp_abort(s, cs, now);
      continue;
    }
    hconn_init(c, svc, cs, peer.addr, peer.port, now);
    c->act_idx = svc->active;
    svc->act[svc->active++] = c;
    us_sock_set_user(s, cs, &c->h);
    /* Request/response: each response is complete when written, so
     * nothing is gained by Nagle holding its tail (RFC 9293 3.7.4 lets an
     * application turn it off, MUST-17). */
    us_tcp_setopt(s, cs, US_TCP_NODELAY, 1);
    if (svc->tr.open(svc->tr.ctx, c, now) != 0) {
      HTTPD_INC(svc, http_refused_transport);
      hconn_free(c, now, true);
      continue;
    }
    HTTPD_INC(svc, http_accepted);
    if (us_sock_events(s, cs) & US_EV_READABLE)
      c->heard = true;                        /* the ClientHello came before the accept */
    svc->tr.on_event(c, US_EV_READABLE, now); /* the first bytes may be here */
    hconn_run(c, now);
  }
  svc->accepting = false;
}

static void listener_on_event(struct svc_handler *self, us_stack *s, us_sock_t sock,
                              uint32_t events, us_time_t now) {
  (void)s;
  (void)sock;
  if (events & US_EV_ACCEPT)
    httpd_accept_some((struct httpd *)self, now);
}

/* ---- start and stop ---------------------------------------------------------- */

int httpd_start(us_stack *s, const struct httpd_opts *o, const struct httpd_transport *tr,
                us_time_t now, struct httpd **out, char *err, size_t errlen) {
  *out = NULL;
  struct httpd *svc = calloc(1, sizeof *svc);
  if (!svc) {
    snprintf(err, errlen, "out of memory");
    return US_ERR_NOMEM;
  }
  svc->o = *o;
  httpd_opts_defaults(&svc->o);
  svc->tr = *tr;
  svc->max_handshakes = svc->o.max_conns / 2 ? svc->o.max_conns / 2 : 1;
  svc->s = s;
  svc->started = now;
  svc->h.on_event = listener_on_event;
  svc->lsock = US_SOCK_INVALID;

  struct stat st;
  errno = 0;
  if (!o->root_dir || !realpath(o->root_dir, svc->root) || stat(svc->root, &st) != 0 ||
      !S_ISDIR(st.st_mode)) {
    snprintf(err, errlen, "--root %s: %s", o->root_dir ? o->root_dir : "(none)",
             errno ? strerror(errno) : "not a directory");
    free(svc);
    return US_ERR_INVAL;
  }
  svc->root_len = strlen(svc->root);
  if (svc->root_len == 1) /* "/" : keep the prefix check meaningful */
    svc->root_len = 0;
  svc->nconns = svc->o.max_conns;
  svc->conns = calloc(svc->nconns, sizeof *svc->conns);
  svc->act = calloc(svc->nconns, sizeof *svc->act);
  if (!svc->conns || !svc->act) {
    free(svc->conns);
    free(svc->act);
    snprintf(err, errlen, "out of memory for %u connection slots", svc->nconns);
    free(svc);
    return US_ERR_NOMEM;
  }
  for (uint32_t i = 0; i < svc->nconns; i++) {
    svc->conns[i].fd = -1;
    svc->conns[i].svc = svc;
    svc->conns[i].sock = US_SOCK_INVALID;
  }
  int rc = us_tcp_socket(s, &svc->lsock);
  if (rc == 0)
    rc = us_tcp_bind(s, svc->lsock, o->port);
  if (rc == 0)
    rc = us_tcp_listen(s, svc->lsock, 128);
  if (rc == 0)
    rc = us_sock_set_user(s, svc->lsock, &svc->h);
  if (rc != 0) {
    snprintf(err, errlen, "listen on port %u: %s", (unsigned)o->port, us_strerror(rc));
    svc->tr.ctx_free = NULL; /* the caller still owns the transport context */
    httpd_stop(svc, s, now);
    return rc;
  }
  *out = svc;
  return 0;
}

void httpd_stop(struct httpd *svc, us_stack *s, us_time_t now) {
  if (!svc)
    return;
  for (uint32_t i = 0; i < svc->nconns; i++) {
    struct hconn *c = &svc->conns[i];
    if (c->st == HC_FREE)
      continue;
    if (c->st != HC_HANDSHAKE && c->tconn)
      (void)svc->tr.shutdown(c, now); /* best effort close_notify */
    hconn_free(c, now, false);
  }
  if (us_sock_valid(svc->lsock)) {
    us_sock_set_user(s, svc->lsock, NULL);
    us_tcp_close(s, svc->lsock, now);
  }
  if (svc->tr.ctx_free)
    svc->tr.ctx_free(svc->tr.ctx);
  free(svc->conns);
  free(svc->act);
  free(svc);
}

/* ---- the --http/--https service instance (http_plain.c, https.c) ---- */

int httpd_instance_parse(const char *arg, void *shared, void **state, char *err, size_t errlen) {
  struct httpd_settings *hs = shared;
  struct httpd_instance *inst = calloc(1, sizeof *inst);
  if (!inst) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  if (svc_parse_port(arg, &inst->port, err, errlen) != 0) {
    free(inst);
    return -1;
  }
  hs->services++;
  *state = inst;
  return 0;
}

int httpd_instance_start(struct httpd_instance *inst, us_stack *s, const struct httpd_opts *o,
                         const struct httpd_transport *tr, us_time_t now, char *err,
                         size_t errlen) {
  if (httpd_start(s, o, tr, now, &inst->svc, err, errlen) != 0) {
    if (tr->ctx_free) /* httpd_start left the context to us */
      tr->ctx_free(tr->ctx);
    return -1;
  }
  if (svc_add_poll(httpd_poll, inst->svc) != 0) {
    httpd_stop(inst->svc, s, now); /* frees the transport context */
    inst->svc = NULL;
    snprintf(err, errlen, "too many services with timers");
    return -1;
  }
  return 0;
}

void httpd_instance_stop(void *state, void *shared, us_stack *s, us_time_t now) {
  struct httpd_instance *inst = state;
  if (!inst)
    return;
  if (inst->svc) {
    svc_remove_poll(httpd_poll, inst->svc);
    httpd_print_counters(inst->svc);
    httpd_stop(inst->svc, s, now);
  }
  free(inst);
}
