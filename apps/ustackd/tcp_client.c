/*
 * tcp_client.c - ustackd's active open as svc_desc rows (tcp_services.h):
 * --connect ADDR:PORT makes the stack connect to a server, send
 * --client-send bytes of the seeded stream (--seed), close first and read
 * until the server's FIN, logging what moved and its SHA-256 (tcp_conn.c).
 * --client-delay MS starts it later; with --client-exit the daemon exits
 * with the client's status once it is done.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcp_conn.h"
#include "tcp_services.h"

struct tcp_client {
  const struct tcp_svc_settings *set;
  us_endpoint_t dst;
  us_time_t at; /* when to connect */
  bool started;
  struct tcp_conn_list conns; /* its one connection; finished/status */
};

/* "10.0.0.1:PORT" or "[fd00::1]:PORT" (RFC 5952 6), a real port. */
static int parse_dst(const char *arg, us_endpoint_t *dst, char *err, size_t errlen) {
  if (!arg || !us_endpoint_parse(arg, dst) || dst->port == 0 || us_addr_is_any(dst->addr)) {
    snprintf(err, errlen, "'%s' is not ADDR:PORT or [IPV6]:PORT", arg ? arg : "");
    return -1;
  }
  return 0;
}

static int connect_parse(const char *arg, void *shared, void **state, char *err, size_t errlen) {
  struct tcp_svc_settings *set = shared;
  struct tcp_client *cl = calloc(1, sizeof *cl);
  if (!cl) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  if (parse_dst(arg, &cl->dst, err, errlen) != 0) {
    free(cl);
    return -1;
  }
  cl->set = set;
  cl->at = US_TIME_NEVER;
  set->clients++;
  *state = cl;
  return 0;
}

static void client_failed(struct tcp_client *cl) {
  cl->conns.finished = true;
  cl->conns.status = 1;
}

static void client_begin(struct tcp_client *cl, us_stack *s, us_time_t now) {
  cl->started = true;
  us_sock_t sock;
  int rc = us_tcp_socket(s, &sock);
  if (rc) {
    fprintf(stderr, "ustackd: client: cannot create socket: %s\n", us_strerror(rc));
    client_failed(cl);
    return;
  }
  struct tcp_conn *c = tcp_conn_new(s, TK_CLIENT, sock, cl->set, &cl->conns);
  if (!c) {
    us_tcp_abort(s, sock, now);
    client_failed(cl);
    return;
  }
  c->peer = cl->dst.addr;
  c->pport = cl->dst.port;
  c->out_target = cl->set->client_send;
  rc = us_tcp_connect(s, sock, us_endpoint(c->peer, c->pport), now);
  if (rc != 0 && rc != US_ERR_INPROGRESS) {
    tcp_conn_finish(s, c, rc, now);
    return;
  }
  char to[US_ENDPOINT_STRLEN];
  us_endpoint_format(cl->dst, to, sizeof to);
  fprintf(stderr, "ustackd: client: connecting to %s, sending %" PRIu64 " bytes\n", to,
          c->out_target);
}

/* A svc_poll_fn: the client's start, --client-delay after start-up. */
static us_time_t client_poll(void *ctx, us_stack *s, us_time_t now) {
  struct tcp_client *cl = ctx;
  if (cl->started)
    return US_TIME_NEVER;
  if (now < cl->at)
    return cl->at;
  client_begin(cl, s, now);
  return US_TIME_NEVER;
}

static int connect_start(void *state, void *shared, us_stack *s, us_time_t now, char *err,
                         size_t errlen) {
  struct tcp_client *cl = state;
  cl->at = now + cl->set->client_delay;
  if (svc_add_poll(client_poll, cl) != 0) {
    snprintf(err, errlen, "too many services with timers");
    return -1;
  }
  return 0;
}

static void connect_stop(void *state, void *shared, us_stack *s, us_time_t now) {
  struct tcp_client *cl = state;
  if (!cl)
    return;
  svc_remove_poll(client_poll, cl);
  if (s)
    tcp_conn_close_all(s, &cl->conns, now);
  free(cl);
}

/* With --client-exit the daemon exits with the client's status. */
static bool connect_finished(void *state, void *shared, int *status) {
  const struct tcp_client *cl = state;
  if (!cl->set->client_exit || !cl->conns.finished)
    return false;
  if (status)
    *status = cl->conns.status;
  return true;
}

static int client_send_parse(const char *arg, void *shared, void **state, char *err,
                             size_t errlen) {
  struct tcp_svc_settings *set = shared;
  return svc_parse_u64(arg, &set->client_send, err, errlen);
}

static int client_delay_parse(const char *arg, void *shared, void **state, char *err,
                              size_t errlen) {
  struct tcp_svc_settings *set = shared;
  uint64_t ms;
  if (svc_parse_u64(arg, &ms, err, errlen) != 0)
    return -1;
  if (ms > 3600u * 1000u) {
    snprintf(err, errlen, "at most 3600000 ms");
    return -1;
  }
  set->client_delay = US_MSEC(ms);
  return 0;
}

static int client_exit_parse(const char *arg, void *shared, void **state, char *err,
                             size_t errlen) {
  struct tcp_svc_settings *set = shared;
  set->client_exit = true;
  return 0;
}

const struct svc_desc svc_connect = { .option = "--connect",
                                      .metavar = "ADDR:PORT",
                                      .help =
                                          "active open: the stack connects to a server "
                                          "(IPv6: [ADDR]:PORT)",
                                      .group = &tcp_svc_group,
                                      .parse = connect_parse,
                                      .start = connect_start,
                                      .stop = connect_stop,
                                      .finished = connect_finished };
const struct svc_desc svc_client_send = { .option = "--client-send",
                                          .metavar = "N",
                                          .help = "bytes the --connect client sends before closing",
                                          .group = &tcp_svc_group,
                                          .parse = client_send_parse };
const struct svc_desc svc_client_delay = {
  .option = "--client-delay",
  .metavar = "MS",
  .help = "start the --connect client MS milliseconds after start-up",
  .group = &tcp_svc_group,
  .parse = client_delay_parse
};
const struct svc_desc svc_client_exit = { .option = "--client-exit",
                                          .metavar = NULL,
                                          .help =
                                              "exit when the --connect client is done (its status)",
                                          .group = &tcp_svc_group,
                                          .parse = client_exit_parse };
