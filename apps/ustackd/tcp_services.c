/*
 * tcp_services.c - the listening TCP services of ustackd as svc_desc rows
 * (tcp_services.h): --tcp-echo (RFC 862), --tcp-discard (RFC 863),
 * --tcp-chargen (RFC 864), --tcp-source (--source-bytes of the seeded
 * stream, then our FIN), --tcp-sink (read all, log the SHA-256), and the
 * settings rows --source-bytes and --seed. Each PORT is one listener with
 * its own connections (tcp_conn.c).
 */
#include "tcp_services.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcp_conn.h"

#define TCP_BACKLOG 128

struct listener {
  struct svc_handler h; /* first: the socket's user pointer */
  enum tcp_kind kind;
  const struct tcp_svc_settings *set;
  us_sock_t sock;
  uint16_t port;
  struct tcp_conn_list conns;
};

/* --client-exit without a client would wait for nothing: say so before
 * anything is set up. */
static int tcp_check(void *shared, char *err, size_t errlen) {
  const struct tcp_svc_settings *set = shared;
  if (set->client_exit && set->clients == 0) {
    snprintf(err, errlen, "--client-exit needs --connect ADDR:PORT");
    return -1;
  }
  return 0;
}

const struct svc_group tcp_svc_group = { "tcp", sizeof(struct tcp_svc_settings), tcp_check };

static void listener_on_event(struct svc_handler *self, us_stack *s, us_sock_t sock, uint32_t ev,
                              us_time_t now) {
  struct listener *l = (struct listener *)self;
  for (;;) {
    us_sock_t ns;
    if (us_tcp_accept(s, l->sock, &ns, NULL) != 0)
      break;
    struct tcp_conn *c = tcp_conn_new(s, l->kind, ns, l->set, &l->conns);
    if (!c) {
      us_tcp_abort(s, ns, now);
      continue;
    }
    if (l->kind == TK_SOURCE)
      c->out_target = l->set->source_bytes;
    if (l->kind == TK_CHARGEN || l->kind == TK_SOURCE)
      us_tcp_setopt(s, ns, US_TCP_NODELAY, 1);
    tcp_conn_on_event(&c->h, s, ns, us_sock_events(s, ns), now);
  }
}

static int listener_parse(enum tcp_kind k, const char *arg, void *shared, void **state, char *err,
                          size_t errlen) {
  uint16_t port;
  if (svc_parse_port(arg, &port, err, errlen) != 0)
    return -1;
  struct listener *l = calloc(1, sizeof *l);
  if (!l) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  l->h.on_event = listener_on_event;
  l->kind = k;
  l->set = shared;
  l->port = port;
  l->sock = US_SOCK_INVALID;
  *state = l;
  return 0;
}

static int listener_start(void *state, void *shared, us_stack *s, us_time_t now, char *err,
                          size_t errlen) {
  struct listener *l = state;
  if (l->kind == TK_CHARGEN)
    tcp_chargen_init();
  int rc = us_tcp_socket(s, &l->sock);
  if (!rc)
    rc = us_tcp_bind(s, l->sock, l->port);
  if (!rc)
    rc = us_tcp_listen(s, l->sock, TCP_BACKLOG);
  if (rc) {
    snprintf(err, errlen, "%s: cannot listen on port %u: %s", tcp_kind_name(l->kind), l->port,
             us_strerror(rc));
    return -1;
  }
  us_sock_set_user(s, l->sock, l);
  return 0;
}

static void listener_stop(void *state, void *shared, us_stack *s, us_time_t now) {
  struct listener *l = state;
  if (!l)
    return;
  if (s) {
    tcp_conn_close_all(s, &l->conns, now);
    if (us_sock_valid(l->sock))
      us_tcp_close(s, l->sock, now);
  }
  free(l);
}

#define LISTENER(sym, fn, kind, opt, text)                                               \
  static int fn(const char *arg, void *shared, void **state, char *err, size_t errlen) { \
    return listener_parse(kind, arg, shared, state, err, errlen);                        \
  }                                                                                      \
  const struct svc_desc sym = { .option = opt,                                           \
                                .metavar = "PORT",                                       \
                                .help = text,                                            \
                                .group = &tcp_svc_group,                                 \
                                .parse = fn,                                             \
                                .start = listener_start,                                 \
                                .stop = listener_stop }

LISTENER(svc_tcp_echo, echo_parse, TK_ECHO, "--tcp-echo", "TCP echo service (RFC 862)");
LISTENER(svc_tcp_discard, discard_parse, TK_DISCARD, "--tcp-discard",
         "TCP discard service (RFC 863)");
LISTENER(svc_tcp_chargen, chargen_parse, TK_CHARGEN, "--tcp-chargen",
         "TCP character generator (RFC 864)");
LISTENER(svc_tcp_source, source_parse, TK_SOURCE, "--tcp-source",
         "send --source-bytes of the seeded stream, then close first");
LISTENER(svc_tcp_sink, sink_parse, TK_SINK, "--tcp-sink",
         "read everything; log bytes and SHA-256 per connection");

/* ---- settings rows ------------------------------------------------------- */

static int source_bytes_parse(const char *arg, void *shared, void **state, char *err,
                              size_t errlen) {
  struct tcp_svc_settings *set = shared;
  return svc_parse_u64(arg, &set->source_bytes, err, errlen);
}

static int seed_parse(const char *arg, void *shared, void **state, char *err, size_t errlen) {
  struct tcp_svc_settings *set = shared;
  return svc_parse_u64(arg, &set->seed, err, errlen);
}

const struct svc_desc svc_source_bytes = { .option = "--source-bytes",
                                           .metavar = "N",
                                           .help = "bytes --tcp-source sends per connection",
                                           .group = &tcp_svc_group,
                                           .parse = source_bytes_parse };
const struct svc_desc svc_seed = { .option = "--seed",
                                   .metavar = "N",
                                   .help = "seed of the --tcp-source / client stream (default 0)",
                                   .group = &tcp_svc_group,
                                   .parse = seed_parse };
